//! The outcomes of an allowed request that the origin side ends (issue 14, point 8): a name that
//! does not resolve (`502 dns_failed`), an origin that does not accept in time
//! (`504 upstream_connect_timeout`), one that accepts but sends no response head in time or
//! trickles it byte by byte (`504 upstream_timeout`), a malformed status line
//! (`502 bad_status_line`), a `101` nobody asked for (`502 unexpected_upgrade`), and a client that
//! trickles its own head byte by byte under the whole-head deadline (`408 header_read_timeout`).
//!
//! Each goes through the real gateway to real local origins, and asserts what the client got (the
//! status and `X-Gatehouse-Error`) and the request's one audit event.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use policy::Tier;
use testkit::{
    base_config, basic, exchange, read_to_close, Edit, Gateway, Origin, RawOrigin, SAFETY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The origins of these tests listen here; the base configuration lets the gateway reach it.
const IP: &str = "127.0.0.4";

/// A gateway whose origin-side timeouts are one second, a user `ada` (tier open), and a name,
/// `gone.test`, that the hosts table lists with no address.
async fn setup() -> (Origin, Gateway) {
    let origin = Origin::start("127.0.0.2").await;
    let base = base_config(&origin);
    let config = base
        .edit(
            "[proxy]\n",
            "[proxy]\nupstream_connect_timeout_secs = 1\nupstream_response_timeout_secs = 1\n",
        )
        .edit("hosts = { ", "hosts = { \"gone.test\" = [], ");
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    (origin, gw)
}

fn get(authority: &str) -> String {
    format!(
        "GET http://{authority}/outcome HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\nConnection: close\r\n\r\n",
        basic("ada", "pw-ada")
    )
}

/// The one audit event of the gateway so far, after a flush.
async fn only_event(gw: &Gateway) -> gatehouse::store::AuditRow {
    gw.flush_audit().await;
    let mut events = gw.audit();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

/// What the client got and what was recorded, for one allowed request the origin side ended.
async fn assert_failed(gw: &Gateway, reply: &testkit::Reply, status: u16, code: &str, stage: &str) {
    assert!(reply.closed, "{}", reply.text);
    assert_eq!(reply.status(), status, "{}", reply.text);
    assert_eq!(reply.error().as_deref(), Some(code), "{}", reply.text);
    assert_eq!(reply.decision().as_deref(), Some("allow"), "{}", reply.text);
    let e = only_event(gw).await;
    assert_eq!(
        (
            e.status,
            e.error.as_deref(),
            e.decision.as_str(),
            e.stage.as_str(),
            e.principal.as_deref()
        ),
        (status, Some(code), "allow", stage, Some("ada")),
        "{e:?}"
    );
    assert!(
        e.url.as_deref().unwrap_or("").ends_with("/outcome"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_gets_502_dns_failed_and_nothing_is_connected() {
    let (origin, gw) = setup().await;
    let reply = exchange(
        gw.proxy,
        get(&format!("gone.test:{}", origin.port())).as_bytes(),
    )
    .await;
    assert_failed(&gw, &reply, 502, "dns_failed", "resolve").await;
    assert_eq!(origin.connections(), 0);
    gw.shutdown().await;
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it
/// neither succeeds nor fails until the connecting side gives up. Returns it with the
/// connections that fill it (kept open) and its address.
async fn full_listener() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{IP}:0").parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut filling = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => filling.push(s),
            Ok(Err(e)) => panic!("connect to the listener failed: {e}"),
            // This one was not answered: the queue is full.
            Err(_) => break,
        }
        assert!(filling.len() < 64, "the accept queue never filled");
    }
    (listener, filling, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_does_not_accept_in_time_gets_504_upstream_connect_timeout() {
    let (_origin, gw) = setup().await;
    let (_listener, _filling, addr) = full_listener().await;
    let reply = exchange(gw.proxy, get(&addr.to_string()).as_bytes()).await;
    assert_failed(&gw, &reply, 504, "upstream_connect_timeout", "connect").await;
}

/// An origin that accepts, reads the request and then sends `answer` one byte at a time, `pace`
/// apart (never, for an empty answer). Counts the requests it received whole.
async fn slow_origin(answer: &'static [u8], pace: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(format!("{IP}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                for b in answer {
                    tokio::time::sleep(pace).await;
                    if s.write_all(&[*b]).await.is_err() {
                        return;
                    }
                }
                // Hold the connection until the gateway lets go of it.
                let _ = s.read(&mut buf).await;
            });
        }
    });
    (addr, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_sends_no_response_head_in_time_gets_504_upstream_timeout() {
    let (_origin, gw) = setup().await;
    let (addr, requests) = slow_origin(b"", Duration::ZERO).await;
    let reply = exchange(gw.proxy, get(&addr.to_string()).as_bytes()).await;
    assert_failed(&gw, &reply, 504, "upstream_timeout", "forward").await;
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the origin got the request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_head_trickled_byte_by_byte_is_held_to_the_whole_head_deadline() {
    let (_origin, gw) = setup().await;
    // Each byte comes well within the idle timeout (5 s), the whole head never within 1 s.
    let (addr, requests) = slow_origin(
        b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
        Duration::from_millis(100),
    )
    .await;
    let reply = exchange(gw.proxy, get(&addr.to_string()).as_bytes()).await;
    assert_failed(&gw, &reply, 504, "upstream_timeout", "forward").await;
    assert!(!reply.text.contains("X-Slow"), "{}", reply.text);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_origin_status_line_gets_502_and_reaches_no_client() {
    let (_origin, gw) = setup().await;
    let raw = RawOrigin::start(
        IP,
        b"HTTP/1.1 2OO OK\r\nContent-Length: 5\r\n\r\nhello",
        true,
    )
    .await;
    let reply = exchange(gw.proxy, get(&format!("{IP}:{}", raw.port())).as_bytes()).await;
    assert_failed(&gw, &reply, 502, "bad_status_line", "forward").await;
    assert!(!reply.text.contains("hello"), "{}", reply.text);
    assert_eq!(raw.connections().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_of_protocols_nobody_asked_for_gets_502_unexpected_upgrade() {
    let (_origin, gw) = setup().await;
    let raw = RawOrigin::start(
        IP,
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw bytes",
        false,
    )
    .await;
    let reply = exchange(gw.proxy, get(&format!("{IP}:{}", raw.port())).as_bytes()).await;
    assert_failed(&gw, &reply, 502, "unexpected_upgrade", "forward").await;
    assert!(!reply.text.contains("raw bytes"), "{}", reply.text);
    assert!(!reply.text.contains(" 101 "), "{}", reply.text);
    // The gateway let go of the origin connection it would not relay.
    assert!(raw.wait_closed_by_gateway(0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_trickled_byte_by_byte_is_held_to_the_whole_head_deadline() {
    let (origin, gw) = setup().await;
    let request = get(&format!("origin.test:{}", origin.port()));
    let mut s = TcpStream::connect(gw.proxy).await.unwrap();
    // Each byte well within the idle timeout (5 s); the whole head would take 20 s, far past the
    // header-read timeout (2 s). The gateway answers and closes while bytes are still coming.
    let mut sent = 0;
    let mut answered = false;
    for b in request.as_bytes() {
        if s.write_all(&[*b]).await.is_err() {
            answered = true;
            break;
        }
        sent += 1;
        let mut peek = [0u8; 1];
        // An answer or a close, whichever comes.
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(100), s.peek(&mut peek)).await {
            answered = r.is_ok();
            break;
        }
    }
    assert!(answered, "the whole head went through byte by byte");
    assert!(
        sent < request.len(),
        "the gateway waited for the whole head"
    );
    let reply = read_to_close(&mut s, SAFETY).await;
    assert!(reply.closed, "{}", reply.text);
    assert_eq!(reply.status(), 408, "{}", reply.text);
    assert_eq!(
        reply.error().as_deref(),
        Some("header_read_timeout"),
        "{}",
        reply.text
    );
    let e = only_event(&gw).await;
    assert_eq!(
        (
            e.status,
            e.error.as_deref(),
            e.decision.as_str(),
            e.stage.as_str()
        ),
        (408, Some("header_read_timeout"), "error", "parse"),
        "{e:?}"
    );
    assert_eq!(origin.connections(), 0);
    assert_eq!(origin.seen_bytes(), 0);
}
