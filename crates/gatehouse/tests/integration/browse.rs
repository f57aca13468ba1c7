//! Browsing through the gateway with real clients: plain HTTP, CONNECT, keep-alive, streaming
//! bodies both ways, HTTP/1.0, `Expect: 100-continue`, WebSocket upgrades, and 407 challenges.

use std::time::Duration;

use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, curl, raw, within, Gateway, Origin};

async fn setup() -> (Origin, Gateway) {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    (origin, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gets_a_page_through_the_proxy() {
    let (origin, gw) = setup().await;
    let url = format!("http://origin.test:{}/hello", origin.port());
    let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:s3cret-ada", &url]).await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.text(), "hello from origin\n");
    assert!(out.header("via").unwrap().contains("gatehouse"));
    let seen = origin.seen();
    assert!(seen.starts_with("GET /hello HTTP/1.1\r\n"), "{seen}");
    assert!(
        seen.contains(&format!("Host: origin.test:{}\r\n", origin.port())),
        "{seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("proxy-authorization"),
        "{seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("proxy-connection"),
        "{seen}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_get_a_407_challenge_and_reach_nothing() {
    let (origin, gw) = setup().await;
    let url = format!("http://origin.test:{}/", origin.port());
    let out = curl(&["-x", &gw.proxy_url(), &url]).await;
    assert_eq!(out.status, 407);
    assert!(out
        .header("proxy-authenticate")
        .unwrap()
        .starts_with("Basic realm=\"gatehouse\""));
    let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:wrong", &url]).await;
    assert_eq!(out.status, 407);
    assert_eq!(
        out.header("x-gatehouse-rule").as_deref(),
        Some("auth-failed")
    );
    let out = curl(&["-x", &gw.proxy_url(), "-U", "nobody:x", &url]).await;
    assert_eq!(out.status, 407);
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_reuses_both_connections() {
    let (origin, gw) = setup().await;
    let auth = basic("ada", "s3cret-ada");
    let mut req = Vec::new();
    for i in 0..3 {
        req.extend_from_slice(
            format!(
                "GET http://origin.test:{p}/r{i} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n",
                p = origin.port(),
                close = if i == 2 { "Connection: close\r\n" } else { "" }
            )
            .as_bytes(),
        );
    }
    let out = raw(gw.proxy, &req, Duration::from_secs(20)).await;
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    assert_eq!(origin.connections(), 1);
    assert_eq!(origin.requests(), 3);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_connect_with_a_real_tls_origin() {
    let (_origin, gw) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let tls = testkit::TlsOrigin::start("127.0.0.2", dir.path(), "origin.test");
    // The TLS origin's port must be an allowed CONNECT port: use a config that allows it.
    let text = base_config(&_origin).edit(
        "connect_ports = [443, ",
        &format!("connect_ports = [443, {}, ", tls.port),
    );
    let gw2 = Gateway::start(&text).await;
    gw2.add_user("ada", Tier::Open, "s3cret-ada").await;
    let url = format!("https://origin.test:{}/tls", tls.port);
    let out = curl(&[
        "-x",
        &gw2.proxy_url(),
        "-U",
        "ada:s3cret-ada",
        "--cacert",
        tls.cert.to_str().unwrap(),
        &url,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.text(), "hello over tls\n");
    // The tunnel's event is written when the tunnel ends, shortly after curl hangs up.
    let mut ev = None;
    for _ in 0..200 {
        gw2.flush_audit().await;
        ev = gw2.audit().into_iter().find(|e| e.method == "CONNECT");
        if ev.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ev = ev.expect("no audit event for the CONNECT tunnel");
    assert_eq!(ev.destination, format!("origin.test:{}", tls.port));
    assert_eq!(ev.decision, "allow");
    assert!(ev.bytes_up > 100 && ev.bytes_down > 100, "{ev:?}");
    gw2.shutdown().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways_chunked_and_with_length() {
    let (origin, gw) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    std::fs::write(&file, vec![b'u'; 3_000_000]).unwrap();
    let echo = format!("http://origin.test:{}/echo", origin.port());
    let upload = format!("@{}", file.display());
    let p = gw.proxy_url();
    // Content-Length upload.
    let out = curl(&[
        "-x",
        &p,
        "-U",
        "ada:s3cret-ada",
        "--data-binary",
        &upload,
        &echo,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(
        out.text().starts_with("body-bytes: 3000000\n"),
        "{}",
        out.text()
    );
    assert!(out.text().contains("Content-Length: 3000000\r\n"));
    // Chunked upload: re-encoded, still chunked at the origin.
    let out = curl(&[
        "-x",
        &p,
        "-U",
        "ada:s3cret-ada",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &upload,
        &echo,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(
        out.text().starts_with("body-bytes: 3000000\n"),
        "{}",
        out.text()
    );
    assert!(out.text().contains("Transfer-Encoding: chunked\r\n"));
    // Downloads: Content-Length, chunked, and delimited by close.
    for path in ["size", "chunked", "close"] {
        let url = format!("http://origin.test:{}/{path}/5000000", origin.port());
        let out = curl(&["-x", &p, "-U", "ada:s3cret-ada", &url]).await;
        assert_eq!(out.status, 200, "{path}: {out:?}");
        assert_eq!(out.body.len(), 5_000_000, "{path}");
        assert!(out.body.iter().all(|&b| b == b'x'));
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_relayed() {
    let (origin, gw) = setup().await;
    let echo = format!("http://origin.test:{}/echo", origin.port());
    let out = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        "ada:s3cret-ada",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        "0123456789",
        &echo,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(
        out.headers.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{}",
        out.headers
    );
    assert!(out.text().starts_with("body-bytes: 10\n"));
    assert!(out.text().contains("Expect: 100-continue\r\n"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_clients_get_a_body_delimited_by_close() {
    let (origin, gw) = setup().await;
    let req = format!(
        "GET http://origin.test:{}/chunked/1000 HTTP/1.0\r\nProxy-Authorization: {}\r\n\r\n",
        origin.port(),
        basic("ada", "s3cret-ada")
    );
    let out = raw(gw.proxy, req.as_bytes(), Duration::from_secs(20)).await;
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert!(head.contains("Connection: close"), "{head}");
    assert_eq!(body, "x".repeat(1000));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_is_tunnelled() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (origin, gw) = setup().await;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let req = format!(
        "GET http://origin.test:{p}/ws HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "s3cret-ada")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = within("the 101", s.read(&mut buf)).await.unwrap();
        assert!(n > 0, "closed before the 101");
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got).to_string();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("Upgrade: websocket"), "{head}");
    s.write_all(b"ping-through-the-tunnel").await.unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < 23 {
        let n = within("the echo", s.read(&mut buf)).await.unwrap();
        assert!(n > 0);
        echoed.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&echoed, b"ping-through-the-tunnel");
    let seen = origin.seen();
    assert!(seen.contains("Upgrade: websocket\r\n"), "{seen}");
    assert!(
        seen.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
        "{seen}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_client_works_through_the_proxy() {
    let (origin, gw) = setup().await;
    let script = format!(
        r#"
import base64, http.client
c = http.client.HTTPConnection("{host}", {port}, timeout=30)
auth = "Basic " + base64.b64encode(b"ada:s3cret-ada").decode()
for i in range(3):
    c.request("GET", "http://origin.test:{op}/py%d" % i, headers={{"Proxy-Authorization": auth}})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, r.status
    assert body == b"hello from origin\n", body
print("ok")
"#,
        host = gw.proxy.ip(),
        port = gw.proxy.port(),
        op = origin.port()
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    // One client connection, kept alive: one origin connection.
    assert_eq!(origin.connections(), 1);
    gw.shutdown().await;
}

/// Regression: with a fast origin the response could be read before the (empty) request body was
/// marked sent, and the gateway closed the keep-alive connection after a successful response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_origin_never_makes_the_gateway_drop_a_keep_alive_connection() {
    let (origin, gw) = setup().await;
    let script = format!(
        r#"
import base64, http.client
c = http.client.HTTPConnection("{host}", {port}, timeout=30)
auth = "Basic " + base64.b64encode(b"ada:s3cret-ada").decode()
for i in range(3000):
    c.request("GET", "http://origin.test:{op}/k", headers={{"Proxy-Authorization": auth}})
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"hello from origin\n", i
print("ok")
"#,
        host = gw.proxy.ip(),
        port = gw.proxy.port(),
        op = origin.port()
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(origin.connections(), 1);
    assert_eq!(origin.requests(), 3000);
    gw.shutdown().await;
}

/// A bulk transfer through a CONNECT tunnel arrives whole and is counted exactly in the audit
/// event, including bytes the client sent together with the CONNECT head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_relays_bulk_data_whole_and_counts_every_byte() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let p = origin.port();
    let inner = format!(
        "GET /size/20000000 HTTP/1.1\r\nHost: origin.test:{p}\r\nConnection: close\r\n\r\n"
    );
    // The CONNECT head and the first request through the tunnel in one write.
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let req = format!(
        "CONNECT origin.test:{p} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {}\r\n\r\n{inner}",
        basic("ada", "s3cret-ada")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    // Read until the whole body is there (the origin keeps its connection open), then hang up.
    let complete = |got: &[u8]| {
        let heads: Vec<usize> = got
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"\r\n\r\n")
            .map(|(i, _)| i + 4)
            .take(2)
            .collect();
        heads.len() == 2 && got.len() - heads[1] >= 20_000_000
    };
    while !complete(&got) {
        let n = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf))
            .await
            .expect("the tunnel stalled")
            .unwrap();
        assert!(n > 0, "the tunnel closed early after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
    let text_start = String::from_utf8_lossy(&got[..200.min(got.len())]).to_string();
    assert!(
        text_start.starts_with("HTTP/1.1 200 Connection established\r\n"),
        "{text_start}"
    );
    let established = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let inner_resp = &got[established..];
    let body_at = inner_resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    assert_eq!(inner_resp.len() - body_at, 20_000_000);
    assert!(inner_resp[body_at..].iter().all(|&b| b == b'x'));
    let mut ev = None;
    for _ in 0..200 {
        gw.flush_audit().await;
        ev = gw.audit().into_iter().find(|e| e.method == "CONNECT");
        if ev.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ev = ev.expect("no audit event for the tunnel");
    assert_eq!(ev.bytes_up, inner.len() as u64);
    assert_eq!(ev.bytes_down, inner_resp.len() as u64);
    assert_eq!(ev.status, 200);
    // In the Squid log a tunnel has no media type: gatehouse never sees inside it.
    let log = std::fs::read_to_string(gw.data_path().join("access.log")).unwrap();
    let line = log.lines().find(|l| l.contains(" CONNECT ")).unwrap();
    assert!(line.contains(" TCP_TUNNEL/200 "), "{line}");
    assert!(line.ends_with(" -"), "{line}");
    gw.shutdown().await;
}

/// A tunnel direction moving bulk data reads in batches (a raised receive low-water mark, see
/// `proxy::tunnel`). Whatever is left when the sender pauses, less than a batch, must still go on
/// at once: the end of a burst, and a small message after it on a connection that stays open, in
/// both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_follows_a_bulk_burst_is_not_held_back_in_either_direction() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BURST: usize = 8 << 20;
    const TAIL: usize = 1000;
    let (_origin, gw, listener, port) =
        gateway_to_a_far_end("tunnel_idle_timeout_secs = 60\n").await;
    // The origin sends a burst and, once the client has all of it, a short tail; then it takes
    // a burst and a tail from the client and confirms them. It never closes first.
    let far_end = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&vec![b'd'; BURST]).await.unwrap();
        let mut go = [0u8; 1];
        within("the go-ahead", s.read_exact(&mut go)).await.unwrap();
        s.write_all(&[b't'; TAIL]).await.unwrap();
        // Not reading for a while lets the client's burst pile up in the gateway, so that the
        // gateway's reads from the client come back full.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut got = vec![0u8; BURST + TAIL];
        within("the client's burst and tail", s.read_exact(&mut got))
            .await
            .unwrap();
        assert!(got[..BURST].iter().all(|&b| b == b'u'));
        assert!(got[BURST..].iter().all(|&b| b == b'v'));
        s.write_all(b"done").await.unwrap();
        let mut rest = Vec::new();
        let _ = within("the close", s.read_to_end(&mut rest)).await;
        rest.len()
    });
    // The same: the origin's burst piles up while the client does not read.
    let (mut s, head, mut got) = open_tunnel(&gw, port, Duration::from_millis(300)).await;
    assert!(
        head.starts_with(b"HTTP/1.1 200 Connection established\r\n"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    read_to(&mut s, &mut got, BURST, "the burst from the origin").await;
    s.write_all(b"g").await.unwrap();
    let mut tail = vec![0u8; TAIL];
    tokio::time::timeout(WAIT, s.read_exact(&mut tail))
        .await
        .expect("the tail after the origin's burst was held back")
        .unwrap();
    assert!(got.iter().all(|&b| b == b'd'));
    assert!(tail.iter().all(|&b| b == b't'));
    s.write_all(&vec![b'u'; BURST]).await.unwrap();
    s.write_all(&[b'v'; TAIL]).await.unwrap();
    let mut done = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut done))
        .await
        .expect("the tail after the client's burst was held back")
        .unwrap();
    assert_eq!(&done, b"done");
    drop(s);
    assert_eq!(
        far_end.await.unwrap(),
        0,
        "the origin got more than was sent"
    );
    gw.shutdown().await;
}

/// A tunnel that ends while a direction is batching leaves no raised low-water mark behind. Here
/// the origin takes part of an upload, answers, half-closes and stops reading, so the tunnel ends
/// at the half-close timeout with the upload still batching; the client goes on sending small
/// messages and reads the answer only later. The client connection's lingering close must still
/// see those messages: otherwise it closes with them unread, the kernel resets the connection, and
/// the part of the answer not yet delivered is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_that_ends_while_batching_still_closes_cleanly() {
    tunnel_ended_by_the_half_close_timeout(false).await;
}

/// The same with an origin that goes on reading: when the tunnel ends nothing may be queued from
/// the client at that instant, and the close must still wait for what the client is sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_ended_while_the_client_still_sends_closes_cleanly() {
    tunnel_ended_by_the_half_close_timeout(true).await;
}

async fn tunnel_ended_by_the_half_close_timeout(origin_reads_on: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const TAKEN: usize = 4 << 20;
    const ANSWER: usize = 1_000_000;
    // base_config: tunnel_half_close_timeout_secs = 2.
    let (_origin, gw, listener, port) = gateway_to_a_far_end("").await;
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let far_end = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut taken = vec![0u8; TAKEN];
        within("what the client sends", s.read_exact(&mut taken))
            .await
            .unwrap();
        s.write_all(&vec![b'a'; ANSWER]).await.unwrap();
        s.shutdown().await.unwrap();
        // Keeps the connection until the test is over, reading on or not.
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                _ = &mut done_rx => return,
                n = s.read(&mut sink), if origin_reads_on => if n.unwrap_or(0) == 0 { let _ = (&mut done_rx).await; return },
            }
        }
    });
    let (mut s, _head, early) = open_tunnel(&gw, port, Duration::ZERO).await;
    let early = early.len();
    // Upload as fast as the windows allow for 300 ms.
    let chunk = vec![b'u'; 64 * 1024];
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(written) = tokio::time::timeout_at(until, s.write_all(&chunk)).await {
        written.unwrap();
    }
    // Then a small message every 50 ms for 2.6 s: past the end of the tunnel (the half-close
    // timeout, 2 s after the origin's FIN) and into the lingering close, well inside its 2 s.
    let until = tokio::time::Instant::now() + Duration::from_millis(2600);
    let mut i = 0;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sent =
            tokio::time::timeout(Duration::from_millis(50), s.write_all(&[b'm'; 1000])).await;
        if let Ok(Err(e)) = sent {
            panic!("small message {i} failed: {e} (the gateway reset the connection)");
        }
        i += 1;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut answer = Vec::new();
    let end = tokio::time::timeout(WAIT, s.read_to_end(&mut answer))
        .await
        .expect("the answer did not end");
    if let Err(e) = end {
        panic!(
            "{e} after {} of the answer's {ANSWER} bytes",
            early + answer.len()
        );
    }
    assert_eq!(early + answer.len(), ANSWER, "the answer was cut");
    assert!(answer.iter().all(|&b| b == b'a'));
    let _ = done_tx.send(());
    far_end.await.unwrap();
    gw.shutdown().await;
}

/// A request whose body was read whole leaves nothing to wait for at the close: the connection
/// slot is free at once, even when the client keeps its end open and writes after the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_after_a_whole_body_does_not_hold_its_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start("127.0.0.2").await;
    let config = base_config(&origin).edit("[proxy]\n", "[proxy]\nmax_connections = 1\n");
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let p = origin.port();
    let post = format!(
        "POST http://origin.test:{p}/up HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        basic("ada", "s3cret-ada")
    );
    let mut a = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    a.write_all(post.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, a.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The first client keeps its end open and goes on writing; the second must be served now,
    // not once a lingering close on the first gives up (2 s).
    let writer = tokio::spawn(async move {
        for _ in 0..40 {
            if a.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = tokio::time::Instant::now();
    let second = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        "ada:s3cret-ada",
        &format!("http://origin.test:{p}/hello"),
    ])
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the second client waited {:?} for the only slot",
        started.elapsed()
    );
    writer.await.unwrap();
    gw.shutdown().await;
}

/// A gateway (principal `ada`, tier open) whose `CONNECT` may reach a far end of the test's own
/// on 127.0.0.3: its listener and port. `proxy_lines` go into `[proxy]`.
async fn gateway_to_a_far_end(
    proxy_lines: &str,
) -> (Origin, Gateway, tokio::net::TcpListener, u16) {
    let origin = Origin::start("127.0.0.2").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.3:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = base_config(&origin).edit(
        "connect_ports = [443, ",
        &format!("{proxy_lines}connect_ports = [443, {port}, "),
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    (origin, gw, listener, port)
}

/// Open a tunnel to 127.0.0.3:`port` as `ada`, waiting `pause` before reading the answer: the
/// connection, the answer's head, and the tunnel bytes that came after it.
async fn open_tunnel(
    gw: &Gateway,
    port: u16,
    pause: Duration,
) -> (tokio::net::TcpStream, Vec<u8>, Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let req = format!(
        "CONNECT 127.0.0.3:{port} HTTP/1.1\r\nHost: 127.0.0.3:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic("ada", "s3cret-ada")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let mut got = Vec::new();
    loop {
        let at = got.len();
        read_to(&mut s, &mut got, at + 1, "the CONNECT answer").await;
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got.split_off(i + 4);
            return (s, got, rest);
        }
    }
}

/// How long a test waits for bytes a tunnel should relay at once.
const WAIT: Duration = Duration::from_secs(10);

/// Read from `s` into `got` until it holds `want` bytes, failing if the bytes stop coming.
async fn read_to(s: &mut tokio::net::TcpStream, got: &mut Vec<u8>, want: usize, what: &str) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    while got.len() < want {
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{what}: held back at {} of {want} bytes", got.len()))
            .unwrap();
        assert!(
            n > 0,
            "{what}: the tunnel closed at {} of {want} bytes",
            got.len()
        );
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_gets_its_refusal_not_a_reset() {
    // The refusal is sent while the client is still sending its body: the client must still get
    // the refusal, and nothing of the body may reach the origin.
    let (origin, gw) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    std::fs::write(&file, vec![b'u'; 8 << 20]).unwrap();
    let data = format!("@{}", file.display());
    for (url, status, rule) in [
        (
            format!("http://denied.origin.test:{}/up", origin.port()),
            403,
            "global-deny:ads",
        ),
        (
            format!("http://origin.test:{}/up", origin.port()),
            407,
            "auth-failed",
        ),
    ] {
        let user = if status == 407 {
            "ada:wrong"
        } else {
            "ada:s3cret-ada"
        };
        let out = curl(&[
            "-x",
            &gw.proxy_url(),
            "-U",
            user,
            // Without `Expect: 100-continue` the body is on its way when the refusal comes.
            "-H",
            "Expect:",
            "--data-binary",
            &data,
            &url,
        ])
        .await;
        assert_eq!(out.status, status, "{url}: {}", out.stderr);
        assert_eq!(out.header("x-gatehouse-rule").as_deref(), Some(rule));
    }
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

/// A client that sends its whole body before it reads the answer (as curl does without
/// `Expect: 100-continue`) must be able to finish sending after a refusal: gatehouse keeps reading
/// and discarding for a while after it answered (a lingering close). Closing at once with the body
/// unread resets the connection, and the client's next write fails before it looked for the
/// refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_sending_its_body_after_a_refusal_is_not_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (origin, gw) = setup().await;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    // 16 pieces 10 ms apart: well inside the lingering close's 2 s, and no gap near its 200 ms.
    let body = 1usize << 20;
    let head = format!(
        "POST http://denied.origin.test:{p}/up HTTP/1.1\r\nHost: denied.origin.test:{p}\r\nProxy-Authorization: {a}\r\nContent-Length: {body}\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "s3cret-ada")
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The refusal goes out before the body has begun; then the body comes in pieces, a little at
    // a time, as over a slower link, and the client reads nothing until it has sent it all.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let piece = vec![b'u'; 64 * 1024];
    for i in 0..body / piece.len() {
        if let Err(e) = s.write_all(&piece).await {
            panic!("write {i} of the body failed: {e} (the gateway reset the connection)");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(
        answer.contains("X-Gatehouse-Rule: global-deny:ads\r\n"),
        "{answer}"
    );
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}
