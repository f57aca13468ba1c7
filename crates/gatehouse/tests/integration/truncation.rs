//! Responses that cannot be completed, clients that stop reading, and when a client connection is
//! kept: a response cut after its head reached the client ends in a reset, never in a clean close
//! that would pass for its end; a client that stops reading is cut after the idle timeout; an
//! origin that goes away while a request body is sent gets the client a 502; an answer that comes
//! before the body was sent says `Connection: close`; HTTP/1.0 keep-alive is honoured for a
//! response with a length; interim responses carry `Via`; a 304 keeps its Content-Length.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, curl, read_one_or_eof, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IP: &str = "127.0.0.3";

/// An origin on [`IP`] that runs `script` on every connection it accepts.
async fn scripted<F, Fut>(script: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((IP, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(script.clone()(s));
        }
    });
    addr
}

/// Read a request head (up to its empty line) from the gateway.
async fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        got.push(byte[0]);
    }
    got
}

/// Reset the connection instead of closing it.
#[expect(
    deprecated,
    reason = "a zero linger does not block; it makes the close a reset"
)]
fn reset(s: TcpStream) {
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

/// Read from a connection that stays open until what arrived ends with `end`.
async fn read_until(s: &mut TcpStream, end: &[u8]) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
            .await
            .expect("the response stalled")
            .unwrap_or(0);
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

async fn setup(config_edit: impl Fn(String) -> String) -> Gateway {
    let named = Origin::start(IP).await;
    let gw = Gateway::start(&config_edit(base_config(&named))).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    gw
}

fn get(addr: SocketAddr, path: &str, version: &str, fields: &str) -> String {
    format!(
        "GET http://origin.test:{p}{path} {version}\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{fields}\r\n",
        p = addr.port(),
        auth = basic("ada", "pw"),
    )
}

/// What a client reading until the end sees: the bytes, and whether the end was a reset
/// (`Some(true)`), a clean close (`Some(false)`), or neither within the safety limit (`None`).
async fn read_until_end(s: &mut TcpStream) -> (Vec<u8>, Option<bool>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(SAFETY, s.read(&mut buf)).await {
            Ok(Ok(0)) => return (got, Some(false)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
                return (got, Some(true));
            }
            Err(_) => return (got, None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_after_its_head_ends_in_a_reset_not_a_clean_close() {
    let gw = setup(|c| c.edit("idle_timeout_secs = 5", "idle_timeout_secs = 1")).await;
    // 1. No length: the body runs until the close, and the origin resets mid-body.
    let reset_mid_body = scripted(|mut s| async move {
        read_head(&mut s).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsixteen bytes..\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        reset(s);
    })
    .await;
    // 2. No length, and the origin stops sending (the idle timeout ends it).
    let stalls = scripted(|mut s| async move {
        read_head(&mut s).await;
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\npart of a body")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    // 3. Chunked, closed cleanly in the middle of a chunk, to an HTTP/1.0 client that gets the
    //    body decoded and delimited by the close.
    let cut_chunk = scripted(|mut s| async move {
        read_head(&mut s).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n")
            .await
            .unwrap();
        s.write_all(&[b'c'; 50]).await.unwrap();
        let _ = s.shutdown().await;
    })
    .await;
    for (name, addr, version, error) in [
        ("reset mid-body", reset_mid_body, "HTTP/1.1", "upstream_io"),
        ("stalled body", stalls, "HTTP/1.1", "upstream_timeout"),
        (
            "cut chunk to HTTP/1.0",
            cut_chunk,
            "HTTP/1.0",
            "upstream_closed",
        ),
    ] {
        let mut c = TcpStream::connect(gw.proxy).await.unwrap();
        c.write_all(get(addr, "/", version, "").as_bytes())
            .await
            .unwrap();
        let (got, end) = read_until_end(&mut c).await;
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {text}");
        assert_eq!(
            end,
            Some(true),
            "{name}: the client saw a clean end: {text}"
        );
        gw.flush_audit().await;
        let events = gw.audit();
        let e = events.last().unwrap();
        assert_eq!(
            (e.status, e.error.as_deref()),
            (200, Some(error)),
            "{name}: {e:?}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_after_the_idle_timeout() {
    let gw = setup(|c| c.edit("idle_timeout_secs = 5", "idle_timeout_secs = 1")).await;
    // The origin sends 256 MiB as fast as it can; the client reads nothing.
    let (origin_done_tx, origin_done) = tokio::sync::watch::channel(false);
    let origin_done_tx = Arc::new(origin_done_tx);
    let big = scripted(move |mut s| {
        let done = origin_done_tx.clone();
        async move {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n")
                .await;
            let chunk = vec![b'b'; 1 << 20];
            for _ in 0..256 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let _ = done.send(true);
        }
    })
    .await;
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    c.write_all(get(big, "/", "HTTP/1.1", "").as_bytes())
        .await
        .unwrap();
    // The gateway gives up on the client, which frees the origin connection too.
    let mut origin_done = origin_done;
    tokio::time::timeout(Duration::from_secs(60), origin_done.wait_for(|d| *d))
        .await
        .expect("the origin connection was never released")
        .unwrap();
    gw.flush_audit().await;
    let e = gw.audit().pop().unwrap();
    assert_eq!(e.error.as_deref(), Some("client_timeout"), "{e:?}");
    assert!(e.bytes_down < 256 << 20, "{e:?}");
    drop(c);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_gone_while_the_body_is_sent_gets_the_client_a_502() {
    let gw = setup(|c| c).await;
    let gone = scripted(|mut s| async move {
        read_head(&mut s).await;
        reset(s);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    std::fs::write(&file, vec![b'u'; 8 << 20]).unwrap();
    let out = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        "ada:pw",
        "-H",
        "Expect:",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("http://origin.test:{}/up", gone.port()),
    ])
    .await;
    assert_eq!(out.status, 502, "{}", out.stderr);
    assert_eq!(out.header("x-gatehouse-rule").as_deref(), Some("tier-open"));
    let error = out.header("x-gatehouse-error").unwrap();
    assert!(error.starts_with("upstream_"), "{error}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_whole_body_says_connection_close() {
    let gw = setup(|c| c).await;
    let early = scripted(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig\n")
            .await;
        let mut sink = [0u8; 4096];
        while s.read(&mut sink).await.unwrap_or(0) > 0 {}
    })
    .await;
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    let head = format!(
        "POST http://origin.test:{p}/up HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nContent-Length: 1000000\r\n\r\n",
        p = early.port(),
        auth = basic("ada", "pw"),
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&[b'x'; 10]).await.unwrap();
    let reply = read_one_or_eof(&mut c).await;
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    assert!(reply.contains("\r\nConnection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nbig\n"), "{reply}");
    let (_, end) = read_until_end(&mut c).await;
    assert!(end.is_some(), "the connection stayed open");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_keep_alive_is_honoured_for_a_response_with_a_length() {
    let origin = Origin::start(IP).await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let addr = origin.addr;
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    c.write_all(get(addr, "/size/10", "HTTP/1.0", "Connection: keep-alive\r\n").as_bytes())
        .await
        .unwrap();
    let first = read_one_or_eof(&mut c).await;
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("\r\nConnection: keep-alive\r\n"), "{first}");
    assert!(!first.contains("Connection: close"), "{first}");
    // A chunked response cannot be delimited for HTTP/1.0 but by the close.
    c.write_all(
        get(
            addr,
            "/chunked/10",
            "HTTP/1.0",
            "Connection: keep-alive\r\n",
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (second, end) = read_until_end(&mut c).await;
    let second = String::from_utf8_lossy(&second);
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{second}");
    assert!(second.contains("\r\nConnection: close\r\n"), "{second}");
    assert_eq!(end, Some(false), "{second}");
    assert_eq!(origin.requests(), 2);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_carry_via_and_a_304_keeps_its_content_length() {
    let gw = setup(|c| c).await;
    let origin = scripted(|mut s| async move {
        loop {
            let head = read_head(&mut s).await;
            if head.is_empty() {
                return;
            }
            let answer: &[u8] = if head.starts_with(b"GET /hints") {
                b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            } else {
                b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n"
            };
            if s.write_all(answer).await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    c.write_all(get(origin, "/hints", "HTTP/1.1", "").as_bytes())
        .await
        .unwrap();
    let text = read_until(&mut c, b"\r\n\r\nok").await;
    assert!(
        text.starts_with(
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nVia: 1.1 gatehouse\r\n\r\n"
        ),
        "{text}"
    );
    c.write_all(get(origin, "/cached", "HTTP/1.1", "If-None-Match: \"v1\"\r\n").as_bytes())
        .await
        .unwrap();
    // A 304 has no body whatever its Content-Length says: its head is the whole response.
    let not_modified = read_until(&mut c, b"\r\n\r\n").await;
    assert!(not_modified.starts_with("HTTP/1.1 304 "), "{not_modified}");
    assert!(
        not_modified.contains("\r\nContent-Length: 1234\r\n"),
        "{not_modified}"
    );
    // The connection is still good for a next request.
    c.write_all(get(origin, "/hints", "HTTP/1.1", "").as_bytes())
        .await
        .unwrap();
    read_until(&mut c, b"\r\n\r\nok").await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_answers_without_reading_the_body_still_delivers_its_whole_response() {
    // The origin answers at once and streams its response for longer than the idle timeout,
    // never reading the upload: the upload stalls, the response must not be cut for it.
    let gw = setup(|c| c.edit("idle_timeout_secs = 5", "idle_timeout_secs = 1")).await;
    let origin = scripted(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
            .await;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if s.write_all(b"0123456789").await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let c = TcpStream::connect(gw.proxy).await.unwrap();
    let (mut r, mut w) = c.into_split();
    let head = format!(
        "POST http://origin.test:{p}/up HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nContent-Length: 268435456\r\n\r\n",
        p = origin.port(),
        auth = basic("ada", "pw"),
    );
    let upload = tokio::spawn(async move {
        let _ = w.write_all(head.as_bytes()).await;
        let chunk = vec![b'u'; 1 << 20];
        for _ in 0..256 {
            if w.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"0123456789".repeat(5).as_slice()) {
        let n = tokio::time::timeout(SAFETY, r.read(&mut buf))
            .await
            .expect("the response stalled")
            .unwrap_or(0);
        assert!(n > 0, "cut short: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    upload.abort();
    gw.flush_audit().await;
    let e = gw.audit().pop().unwrap();
    assert_eq!(
        (e.status, e.bytes_down, e.error.as_deref()),
        (200, 50, None),
        "{e:?}"
    );
    gw.shutdown().await;
}
