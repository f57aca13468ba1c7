//! `CONNECT` ports per network and per domain (`[[policy.connect]]`): a port opened to one network
//! reaches that network and nothing else, whatever name or literal leads there; a port opened to a
//! domain reaches that name wherever it resolves, and no other name or literal. Each refusal is
//! checked from both sides: the client's `403 connect-port`, and a listener at the forbidden
//! address that must see no connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use policy::Tier;
use testkit::connect_head as connect;
use testkit::Edit;
use testkit::{base_config, basic, exchange, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A listener that only counts the connections it accepts (and holds them open).
struct Watcher {
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    async fn bind(addr: SocketAddr) -> Option<Watcher> {
        let listener = TcpListener::bind(addr).await.ok()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Some(Watcher { connections, task })
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An origin on 127.0.0.3 and a watcher on 127.0.0.4 with the same port.
async fn origin_and_watcher_on_one_port() -> (Origin, Watcher) {
    for _ in 0..20 {
        let origin = Origin::start("127.0.0.3").await;
        let twin = SocketAddr::from(([127, 0, 0, 4], origin.port()));
        if let Some(w) = Watcher::bind(twin).await {
            return (origin, w);
        }
    }
    panic!("no port free on both 127.0.0.3 and 127.0.0.4");
}

/// CONNECT and send one request through the tunnel; the origin's answer must come back.
async fn tunnel(gw: &Gateway, authority: &str, auth: &str, path: &str) {
    let mut s = TcpStream::connect(gw.proxy).await.unwrap();
    s.write_all(&connect(authority, auth)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"hello from origin\n") {
        let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "CONNECT {authority}: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200 Connection established\r\n"),
        "CONNECT {authority}: {}",
        String::from_utf8_lossy(&got)
    );
}

/// CONNECT is refused with `403` and the rule `connect-port`.
async fn refused(gw: &Gateway, authority: &str, auth: &str) {
    let r = exchange(gw.proxy, &connect(authority, auth)).await;
    assert_eq!(r.status(), 403, "CONNECT {authority}: {}", r.text);
    assert_eq!(
        r.rule().as_deref(),
        Some("connect-port"),
        "CONNECT {authority}: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_opened_to_one_network_reaches_that_network_only() {
    let (origin, watcher) = origin_and_watcher_on_one_port().await;
    let port = origin.port();
    // 127.0.0.3 and 127.0.0.4 are both reachable (`network.allow`); the port is open to 127.0.0.3
    // only, and not in `proxy.connect_ports`.
    let base = base_config(&origin);
    let config = base
        .edit(
            &format!("connect_ports = [443, {port}]"),
            "connect_ports = [443]",
        )
        .edit(
            "hosts = { ",
            "hosts = { \"twin.test\" = [\"127.0.0.4\"], \"both.test\" = [\"127.0.0.3\", \"127.0.0.4\"], ",
        )
        + &format!("\n[[policy.connect]]\nnetworks = [\"127.0.0.3/32\"]\nports = [{port}]\n");
    assert!(!config.contains(&format!("443, {port}")), "{config}");
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");

    // In the network: by literal and by a name that resolves there.
    tunnel(&gw, &format!("127.0.0.3:{port}"), &auth, "/by-literal").await;
    tunnel(&gw, &format!("origin.test:{port}"), &auth, "/by-name").await;
    let seen = origin.seen();
    assert!(
        seen.contains("GET /by-literal HTTP/1.1\r\nHost: x\r\n\r\n"),
        "{seen}"
    );
    assert!(
        seen.contains("GET /by-name HTTP/1.1\r\nHost: x\r\n\r\n"),
        "{seen}"
    );
    assert_eq!(origin.connections(), 2);

    // The same port on another allowed network: by literal, by name, and by a name with one
    // address in each network (any refused address refuses the request).
    for authority in [
        format!("127.0.0.4:{port}"),
        format!("twin.test:{port}"),
        format!("both.test:{port}"),
    ] {
        refused(&gw, &authority, &auth).await;
    }
    assert_eq!(
        watcher.connections(),
        0,
        "the forbidden listener saw a connection"
    );
    // A port no rule opens is refused before any name resolution.
    refused(&gw, "origin.test:8443", &auth).await;
    assert_eq!(origin.connections(), 2);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_opened_to_a_domain_reaches_that_name_only() {
    let origin = Origin::start("127.0.0.3").await;
    let build = Origin::start("127.0.0.4").await;
    let port = build.port();
    let config = base_config(&origin)
        .edit(
            &format!("connect_ports = [443, {}]", origin.port()),
            "connect_ports = [443]",
        )
        .edit(
            "hosts = { ",
            "hosts = { \"build.test\" = [\"127.0.0.4\"], \"ci.build.test\" = [\"127.0.0.4\"], \"notbuild.test\" = [\"127.0.0.4\"], ",
        )
        + &format!("\n[[policy.connect]]\ndomains = [\"build.test\"]\nports = [{port}]\n");
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");

    // The name and its subdomains, resolved by the `[dns] hosts` table.
    tunnel(&gw, &format!("build.test:{port}"), &auth, "/build").await;
    tunnel(&gw, &format!("ci.build.test:{port}"), &auth, "/ci").await;
    let seen = build.seen();
    assert!(
        seen.contains("GET /build HTTP/1.1\r\nHost: x\r\n\r\n"),
        "{seen}"
    );
    assert!(
        seen.contains("GET /ci HTTP/1.1\r\nHost: x\r\n\r\n"),
        "{seen}"
    );
    assert_eq!(build.connections(), 2);

    // The same address under another name or as a literal: refused, nothing reaches it.
    for authority in [
        format!("127.0.0.4:{port}"),
        format!("notbuild.test:{port}"),
        format!("origin.test:{port}"),
    ] {
        refused(&gw, &authority, &auth).await;
    }
    assert_eq!(
        build.connections(),
        2,
        "a refused CONNECT reached the origin"
    );
    assert_eq!(origin.connections(), 0);
    gw.shutdown().await;
}
