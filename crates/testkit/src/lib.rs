//! Test helpers: a recording origin on its own loopback address, the real gateway started in-process
//! through `Server::start` (the binary's entry point) on port 0, and real clients (curl, raw sockets).
//!
//! The origin records every byte it receives, so tests can assert what reached it — byte for byte —
//! and that a refused or malformed request reached nothing.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod gate;

use gatehouse::config::Config;
use gatehouse::identity::hash_password;
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{AuditStore, PrincipalStore, Role, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What an origin received.
#[derive(Default)]
pub struct Received {
    /// Every byte received, over all connections, in arrival order per connection.
    pub bytes: Vec<u8>,
    pub connections: usize,
    pub requests: usize,
}

/// A local HTTP/1.1 origin on a loopback address.
///
/// Paths: `/size/N` answers N bytes (Content-Length), `/chunked/N` answers N bytes chunked,
/// `/close/N` answers N bytes delimited by closing the connection, `/echo` answers the request body
/// length and the request head it saw, `/ws` switches protocols and echoes bytes, `/http10` (with any
/// query) answers as an HTTP/1.0 server (`HTTP/1.0 200 OK`, Content-Length, then it closes), anything else
/// answers `hello from origin`. Request bodies are read (Content-Length or chunked) and counted
/// without being kept, except for the head bytes.
pub struct Origin {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub async fn start(ip: &str) -> Origin {
        let ip: IpAddr = ip.parse().unwrap();
        Origin::start_on(SocketAddr::new(ip, 0)).await.unwrap()
    }

    /// An origin on exactly `addr` (e.g. `[::1]` on the port another origin has on 127.0.0.1, so
    /// that a refused spelling of that destination would have somewhere to land and be counted).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Origin> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Received::default()));
        let r = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                r.lock().unwrap().connections += 1;
                tokio::spawn(origin_connection(stream, r.clone()));
            }
        });
        Ok(Origin {
            addr,
            received,
            task,
        })
    }

    /// Everything received so far, as (lossy) text.
    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap().bytes).into_owned()
    }

    pub fn seen_bytes(&self) -> usize {
        self.received.lock().unwrap().bytes.len()
    }

    pub fn connections(&self) -> usize {
        self.received.lock().unwrap().connections
    }

    pub fn requests(&self) -> usize {
        self.received.lock().unwrap().requests
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn read_until_head(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    rec: &Mutex<Received>,
) -> Option<usize> {
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return Some(i + 4);
        }
        let mut chunk = [0u8; 8192];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        rec.lock().unwrap().bytes.extend_from_slice(&chunk[..n]);
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Read more bytes into `buf`; bytes beyond the head are counted only (not kept), so gigabyte
/// uploads stay in constant memory.
async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    let n = s.read(&mut chunk).await.ok()?;
    if n == 0 {
        return None;
    }
    buf.extend_from_slice(&chunk[..n]);
    Some(())
}

async fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, head: &str) -> Option<u64> {
    if let Some(cl) = header(head, "content-length") {
        let mut remaining: u64 = cl.parse().ok()?;
        let total = remaining;
        loop {
            let take = (buf.len() as u64).min(remaining) as usize;
            buf.drain(..take);
            remaining -= take as u64;
            if remaining == 0 {
                return Some(total);
            }
            fill(s, buf).await?;
        }
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut total = 0u64;
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                fill(s, buf).await?;
            };
            let line = String::from_utf8_lossy(&buf[..line_end]).to_string();
            buf.drain(..line_end + 2);
            let size = u64::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailer section: up to the empty line.
                loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        let empty = i == 0;
                        buf.drain(..i + 2);
                        if empty {
                            return Some(total);
                        }
                    } else {
                        fill(s, buf).await?;
                    }
                }
            }
            let mut remaining = size + 2;
            while remaining > 0 {
                if buf.is_empty() {
                    fill(s, buf).await?;
                }
                let take = (buf.len() as u64).min(remaining) as usize;
                buf.drain(..take);
                remaining -= take as u64;
            }
            total += size;
        }
    }
    Some(0)
}

async fn origin_connection(mut s: TcpStream, rec: Arc<Mutex<Received>>) {
    let mut buf = Vec::new();
    loop {
        let Some(head_len) = read_until_head(&mut s, &mut buf, &rec).await else {
            return;
        };
        rec.lock().unwrap().requests += 1;
        let head = String::from_utf8_lossy(&buf[..head_len]).to_string();
        buf.drain(..head_len);
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let method = head.split(' ').next().unwrap_or("GET").to_string();
        if header(&head, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        let Some(body_len) = read_body(&mut s, &mut buf, &head).await else {
            return;
        };
        let no_body = method == "HEAD";
        if path == "/ws" {
            let key = header(&head, "sec-websocket-key").unwrap_or("").to_string();
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Key: {key}\r\n\r\n"
            );
            let _ = s.write_all(resp.as_bytes()).await;
            if !buf.is_empty() {
                let _ = s.write_all(&buf).await;
            }
            let (mut r, mut w) = s.into_split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
            return;
        }
        if let Some(n) = path.strip_prefix("/size/") {
            let n: u64 = n.parse().unwrap_or(0);
            let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: application/octet-stream\r\n\r\n");
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
            if !no_body && stream_bytes(&mut s, n, false).await.is_err() {
                return;
            }
            continue;
        }
        if let Some(n) = path.strip_prefix("/chunked/") {
            let n: u64 = n.parse().unwrap_or(0);
            let resp =
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n";
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
            if !no_body && stream_bytes(&mut s, n, true).await.is_err() {
                return;
            }
            continue;
        }
        if let Some(n) = path.strip_prefix("/close/") {
            let n: u64 = n.parse().unwrap_or(0);
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n",
                )
                .await;
            let _ = stream_bytes(&mut s, n, false).await;
            let _ = s.shutdown().await;
            return;
        }
        if path.split('?').next() == Some("/http10") {
            // An HTTP/1.0 server: no persistence without keep-alive, so it closes after answering.
            let body = "hello from an http/1.0 origin\n";
            let resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
                body.len(),
                if no_body { "" } else { body }
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
            return;
        }
        let body = if path == "/echo" {
            format!("body-bytes: {body_len}\n{head}")
        } else {
            "hello from origin\n".to_string()
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Origin: yes\r\n\r\n{}",
            body.len(),
            if no_body { "" } else { &body }
        );
        if s.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn stream_bytes(s: &mut TcpStream, n: u64, chunked: bool) -> std::io::Result<()> {
    let block = vec![b'x'; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = (block.len() as u64).min(left) as usize;
        if chunked {
            s.write_all(format!("{k:x}\r\n").as_bytes()).await?;
            s.write_all(&block[..k]).await?;
            s.write_all(b"\r\n").await?;
        } else {
            s.write_all(&block[..k]).await?;
        }
        left -= k as u64;
    }
    if chunked {
        s.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// An origin that answers every request head with the same exact bytes, for tests of response
/// framing that the recording [`Origin`] cannot produce (transfer codings, both framing headers).
///
/// Request bodies are not expected: each head is answered when its empty line arrives. With
/// `close`, the origin closes the connection after its answer (a body delimited by the close);
/// otherwise it waits for the next head. It records what each connection received and whether
/// the other side (the gateway) closed it.
pub struct RawOrigin {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<RawConn>>>,
    task: tokio::task::JoinHandle<()>,
}

/// One connection to a [`RawOrigin`].
#[derive(Clone, Debug, Default)]
pub struct RawConn {
    pub received: Vec<u8>,
    /// The gateway closed its end (EOF or reset).
    pub closed_by_gateway: bool,
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawOrigin {
    pub async fn start(ip: &str, answer: &[u8], close: bool) -> RawOrigin {
        let ip: IpAddr = ip.parse().unwrap();
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<RawConn>>> = Arc::default();
        let answer: Arc<[u8]> = answer.into();
        let c = conns.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let index = {
                    let mut c = c.lock().unwrap();
                    c.push(RawConn::default());
                    c.len() - 1
                };
                let (c, answer) = (c.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                c.lock().unwrap()[index].closed_by_gateway = true;
                                return;
                            }
                            Ok(n) => n,
                        };
                        c.lock().unwrap()[index]
                            .received
                            .extend_from_slice(&buf[..n]);
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(end) = find(&pending, b"\r\n\r\n") {
                            pending.drain(..end + 4);
                            if s.write_all(&answer).await.is_err() {
                                return;
                            }
                            if close {
                                let _ = s.shutdown().await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        RawOrigin { addr, conns, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<RawConn> {
        self.conns.lock().unwrap().clone()
    }

    /// Wait (up to [`SAFETY`]) until connection `index` exists and the gateway closed it.
    pub async fn wait_closed_by_gateway(&self, index: usize) -> bool {
        let deadline = tokio::time::Instant::now() + SAFETY;
        while tokio::time::Instant::now() < deadline {
            if self
                .connections()
                .get(index)
                .is_some_and(|c| c.closed_by_gateway)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// A gateway running in-process with its own temporary data directory.
pub struct Gateway {
    pub server: Option<Server>,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: tempfile::TempDir,
    pub config_dir: tempfile::TempDir,
    /// Held while the gateway runs: a heavy test waits for it ([`gate`]).
    _light: gate::Light,
}

/// The configuration tests start from: ports 0, origins on 127.0.0.2–127.0.0.9 reachable by rule
/// (loopback itself stays refused), `origin.test` and friends in the static hosts table. The
/// denied name `denied.origin.test` resolves to the origin too, so that its refusal can be proved
/// by the origin having seen nothing.
pub fn base_config(origin: &Origin) -> String {
    format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
connect_ports = [443, {port}]
header_read_timeout_secs = 2
idle_timeout_secs = 5
tunnel_half_close_timeout_secs = 2
shutdown_grace_secs = 5

[admin]
listen = "127.0.0.1:0"

[portal]
listen = "127.0.0.1:0"

[audit]
squid_log = "access.log"

[dns]
hosts = {{ "origin.test" = ["{ip}"], "denied.origin.test" = ["{ip}"], "allowed.test" = ["{ip}"], "other.test" = ["{ip}"], "loop.test" = ["127.0.0.1"], "meta.test" = ["169.254.169.254"], "ten.test" = ["10.0.0.1"], "mixed.test" = ["{ip}", "127.0.0.1"] }}

[network]
allow = ["127.0.0.2/32", "127.0.0.3/32", "127.0.0.4/32"]

[policy]
deny = ["ads"]

[lists.ads]
domains = ["ads.test", "denied.origin.test"]

[lists.research]
domains = ["allowed.test", "origin.test"]

[tiers.filtered]
allow = ["research"]

[tiers.intranet]
zones = ["intranet.test"]
networks = ["127.0.0.5/32"]
"#,
        port = origin.port(),
        ip = origin.addr.ip(),
    )
}

/// `configuration` with names added to its static hosts table (`base_config`'s `[dns] hosts`):
/// each `(name, "ip[,ip…]")`.
pub fn with_hosts(configuration: &str, extra: &[(&str, &str)]) -> String {
    let mut entries = String::new();
    for (name, ips) in extra {
        let list: Vec<String> = ips.split(',').map(|ip| format!("\"{ip}\"")).collect();
        entries.push_str(&format!("\"{name}\" = [{}], ", list.join(", ")));
    }
    let out = configuration.edit("hosts = { ", &format!("hosts = {{ {entries}"));
    assert_ne!(out, configuration, "the base configuration changed shape");
    out
}

/// The bytes of a proxy request `GET target` with `Host: host`, authenticated, closing after it.
pub fn get_head(target: &str, host: &str, auth: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The bytes of `CONNECT authority`, authenticated.
pub fn connect_head(authority: &str, auth: &str) -> Vec<u8> {
    format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {auth}\r\n\r\n"
    )
    .into_bytes()
}

/// Editing configuration and rule text in tests: an edit that finds nothing to replace is a test
/// that runs on a configuration it did not mean to write, so it fails instead.
pub trait Edit {
    /// `self` with every `from` replaced by `to`. Panics when `from` is not there.
    fn edit(&self, from: &str, to: &str) -> String;
}

impl Edit for str {
    #[track_caller]
    fn edit(&self, from: &str, to: &str) -> String {
        assert!(
            self.contains(from),
            "the edit found nothing to replace: {from:?} is not in:\n{self}"
        );
        self.replace(from, to)
    }
}

impl Gateway {
    /// Start a gateway on the given configuration text (written to a file so reload can re-read it).
    pub async fn start(config_text: &str) -> Gateway {
        Gateway::start_with_clock(config_text, Arc::new(gatehouse::clock::SystemClock)).await
    }

    /// Start a gateway whose wall clock is `clock` (a `ManualClock` the test moves).
    pub async fn start_with_clock(
        config_text: &str,
        clock: gatehouse::clock::SharedClock,
    ) -> Gateway {
        let light = gate::light();
        let config_dir = tempfile::tempdir().unwrap();
        let path = config_dir.path().join("gatehouse.toml");
        std::fs::write(&path, config_text).unwrap();
        let config =
            Config::from_file(&path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let data_dir = tempfile::tempdir().unwrap();
        let server = Server::start(ServerOptions {
            config,
            config_path: Some(path),
            data_dir: data_dir.path().to_path_buf(),
            clock,
        })
        .await
        .unwrap();
        Gateway {
            proxy: server.proxy_addr(),
            admin: server.admin_addr(),
            server: Some(server),
            data_dir,
            config_dir,
            _light: light,
        }
    }

    /// The portal's address (the portal listens on port 0 in test configurations).
    pub fn portal_addr(&self) -> SocketAddr {
        self.server
            .as_ref()
            .unwrap()
            .portal_addr()
            .expect("this gateway runs no portal (`[portal] enabled = false`)")
    }

    /// The open sessions the running gateway holds.
    pub fn server_seats_in_use(&self) -> usize {
        self.server.as_ref().unwrap().gateway().seats.list().len()
    }

    /// Re-read the configuration file, as SIGHUP does.
    pub async fn reload(&self) -> Result<(), gatehouse::config::ConfigError> {
        self.server.as_ref().unwrap().reload().await
    }

    pub fn config_path(&self) -> PathBuf {
        self.config_dir.path().join("gatehouse.toml")
    }

    pub fn store(&self) -> Store {
        Store::open(self.data_dir.path()).unwrap()
    }

    /// One value of this gateway's `/metrics` by its full series name (labels included).
    pub async fn metric(&self, series: &str) -> f64 {
        metric_at(&self.admin.to_string(), series)
            .await
            .unwrap_or_else(|| panic!("no `{series}` in the gateway's /metrics"))
    }

    /// Wait (bounded by [`SAFETY`]) until the audit trail holds a row matching `pred`: events of
    /// tunnels are written when the tunnel ends, which the client does not observe.
    pub async fn wait_for_audit(&self, pred: impl Fn(&gatehouse::store::AuditRow) -> bool) {
        let deadline = tokio::time::Instant::now() + SAFETY;
        loop {
            self.flush_audit().await;
            let rows = self.audit();
            if rows.iter().any(&pred) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no matching audit row in {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Add a principal directly in the store and wait until the gateway has loaded it.
    pub async fn add_user(&self, name: &str, tier: policy::Tier, password: &str) {
        self.store()
            .add_principal(name, Role::User, tier, &hash_password(password).unwrap())
            .unwrap();
        self.wait_for_principals().await;
    }

    /// Wait until the gateway's principals snapshot matches the store's change counter.
    pub async fn wait_for_principals(&self) {
        let target = self.store().generation().unwrap();
        let gw = self.server.as_ref().unwrap().gateway().clone();
        for _ in 0..100 {
            if gw.identity.principals().generation >= target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the gateway did not load principals generation {target}");
    }

    /// Wait until the audit writer committed everything queued so far.
    pub async fn flush_audit(&self) {
        self.server.as_ref().unwrap().gateway().audit.flush().await;
    }

    pub fn audit(&self) -> Vec<gatehouse::store::AuditRow> {
        self.store().audit(&Default::default()).unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }
}

/// The result of running curl.
pub struct CurlOutput {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
    pub stderr: String,
    pub exit: i32,
}

impl std::fmt::Debug for CurlOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies can be gigabytes: show their length and a prefix only.
        let prefix = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        f.debug_struct("CurlOutput")
            .field("status", &self.status)
            .field("exit", &self.exit)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body_prefix", &prefix)
            .field("stderr", &self.stderr)
            .finish()
    }
}

impl CurlOutput {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        // The last response's headers (after any 100 Continue or CONNECT 200).
        let last = self
            .headers
            .split("\r\n\r\n")
            .filter(|b| !b.trim().is_empty())
            .last()?;
        header(
            &format!("X\r\n{}", last.split_once("\r\n").map_or("", |x| x.1)),
            name,
        )
        .map(str::to_string)
    }
}

/// One value of a gateway's `/metrics` by its full series name (labels included), read from its
/// admin address (`127.0.0.1:PORT` or `http://127.0.0.1:PORT`); `None` when the series is absent.
pub async fn metric_at(admin: &str, series: &str) -> Option<f64> {
    let base = match admin.starts_with("http://") {
        true => admin.to_string(),
        false => format!("http://{admin}"),
    };
    let text = curl(&[&format!("{base}/metrics")]).await.text();
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Run curl with the given arguments (blocking, on a helper thread). `-s -S`, a 30 s limit, headers
/// written to a file and the body to stdout are added.
pub async fn curl(args: &[&str]) -> CurlOutput {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let headers = dir.path().join("headers");
        let out = std::process::Command::new("curl")
            .args(["-s", "-S", "--max-time", "60", "-D"])
            .arg(&headers)
            .args(["-w", "%{http_code}", "-o"])
            .arg(dir.path().join("body"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("curl must be installed");
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        CurlOutput {
            status,
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: std::fs::read(dir.path().join("body")).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit: out.status.code().unwrap_or(-1),
        }
    })
    .await
    .unwrap()
}

/// `Proxy-Authorization` value for Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    use std::fmt::Write;
    let raw = format!("{user}:{password}");
    // Minimal base64 (standard alphabet, padded) to keep the testkit free of extra dependencies.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = raw.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let mut v = String::new();
    let _ = write!(v, "Basic {out}");
    v
}

/// Send raw bytes to the proxy and read until the connection closes or `wait` passes with no data.
pub async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_all(&mut s, wait).await
}

pub async fn read_all(s: &mut TcpStream, wait: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed the connection (a read returns EOF or reset within `wait`).
pub async fn closed(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// An HTTPS origin (Python's http.server behind TLS) with a certificate for `name` made by the
/// openssl command. The child process is killed when this is dropped.
pub struct TlsOrigin {
    pub port: u16,
    pub cert: PathBuf,
    child: std::process::Child,
}

impl Drop for TlsOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsOrigin {
    pub fn start(ip: &str, dir: &Path, name: &str) -> TlsOrigin {
        use std::io::BufRead;
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            ])
            .arg(format!("/CN={name}"))
            .arg("-addext")
            .arg(format!("subjectAltName=DNS:{name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed");
        assert!(status.success(), "openssl could not make a certificate");
        let script = format!(
            r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"hello over tls\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("{ip}", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("{cert}", "{key}")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#,
            cert = cert.display(),
            key = key.display()
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the TLS origin did not start");
        TlsOrigin { port, cert, child }
    }
}

// --- Raw exchanges: one request on a fresh connection, read to the close. ----------------------

/// Safety net for reads that are expected to end by the server closing the connection.
pub const SAFETY: Duration = Duration::from_secs(20);

/// `fut`'s output, or a panic that says `what` did not happen within [`SAFETY`]: a test waits on
/// no read that might never end.
#[track_caller]
pub fn within<F: std::future::Future>(
    what: &'static str,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(SAFETY, fut).await {
            Ok(out) => out,
            Err(_) => panic!("{what}: nothing within {SAFETY:?} ({caller})"),
        }
    }
}

/// What the client got on one connection.
pub struct Reply {
    pub text: String,
    /// The server closed the connection (EOF or reset) before the safety timeout.
    pub closed: bool,
}

impl Reply {
    pub fn status(&self) -> u16 {
        if !self.text.starts_with("HTTP/1.1 ") {
            return 0;
        }
        self.text
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn head(&self) -> &str {
        self.text.split("\r\n\r\n").next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head().split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// The `X-Gatehouse-Rule` of the (first) response.
    pub fn rule(&self) -> Option<String> {
        self.header("x-gatehouse-rule")
    }

    /// The `X-Gatehouse-Error` of the (first) response: the code of a failure.
    pub fn error(&self) -> Option<String> {
        self.header("x-gatehouse-error")
    }

    /// The `X-Gatehouse-Decision` of the (first) response.
    pub fn decision(&self) -> Option<String> {
        self.header("x-gatehouse-decision")
    }

    /// How many responses the connection carried.
    pub fn responses(&self) -> usize {
        self.text.matches("HTTP/1.1 ").count()
    }
}

pub async fn read_to_close(s: &mut TcpStream, wait: Duration) -> Reply {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let closed = loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    Reply {
        text: String::from_utf8_lossy(&out).into_owned(),
        closed,
    }
}

/// Read one response (framed by its `Content-Length`, none meaning an empty body) from a
/// connection that may stay open, or return what arrived before the connection closed.
pub async fn read_one_or_eof(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        match tokio::time::timeout(SAFETY, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return text,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response and no close: {text}"),
        }
    }
}

/// Send `request` on a fresh connection and read until the gateway closes it.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The gateway may refuse and close before it read everything; what it answered still counts.
    let _ = s.write_all(request).await;
    read_to_close(&mut s, SAFETY).await
}

/// A connection to `addr` from the local address `source` (a terminal in the tests: 127.0.0.11,
/// …), bound before connecting.
pub async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let source: IpAddr = source.parse().unwrap();
    let socket = match source {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4().unwrap(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6().unwrap(),
    };
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// One `GET url` through the proxy at `proxy` from the source address `source`, authenticated as
/// `user`, on a fresh connection that asks to close: what the client got.
pub async fn get_from(source: &str, proxy: SocketAddr, user: (&str, &str), url: &str) -> Reply {
    let mut s = connect_from(source, proxy).await;
    let host = url
        .split("//")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    let request = format!(
        "GET {url} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {}\r\nConnection: close\r\n\r\n",
        basic(user.0, user.1)
    );
    let _ = s.write_all(request.as_bytes()).await;
    read_to_close(&mut s, SAFETY).await
}
