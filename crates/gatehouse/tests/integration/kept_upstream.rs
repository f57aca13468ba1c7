//! Kept origin connections that the origin closes: a request is sent again on a fresh connection
//! only when it is idempotent and has no body (the origin may have acted on the first copy), and a
//! request that may not be retried goes on a kept connection only when that connection shows no
//! sign of closing. Each test asserts what the client got and every request the origin received.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use policy::Tier;
use testkit::{base_config, basic, read_one_or_eof, read_to_close, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the origin treats each connection after answering its first request.
#[derive(Clone, Copy)]
enum Script {
    /// Read the second request whole, then close without answering (the origin saw it).
    DropSecond,
    /// Close right after the first response, although it did not say `Connection: close`.
    CloseAfterFirst,
    /// After the first response, send an unasked `408` and close, as servers do when a kept
    /// connection times out.
    Unsolicited408,
}

/// An origin on `ip` following `script`; returns its address and the request lines (with any
/// body bytes) each connection received, in order.
async fn scripted_origin(ip: &str, script: Script) -> (SocketAddr, Arc<Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let index = {
                let mut r = record.lock().unwrap();
                r.push(Vec::new());
                r.len() - 1
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                let mut answered = 0;
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    // Requests here are heads, optionally followed by a `Content-Length: 5` body.
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                        let body_len = if head.contains("Content-Length: 5") {
                            5
                        } else {
                            0
                        };
                        if pending.len() < end + 4 + body_len {
                            break;
                        }
                        let body = String::from_utf8_lossy(&pending[end + 4..end + 4 + body_len])
                            .into_owned();
                        pending.drain(..end + 4 + body_len);
                        let line = head.lines().next().unwrap_or_default().to_string();
                        record.lock().unwrap()[index]
                            .push(format!("{line} {body}").trim().to_string());
                        answered += 1;
                        match (script, answered) {
                            (_, 1) => {
                                let _ = s
                                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                                    .await;
                                match script {
                                    Script::CloseAfterFirst => return,
                                    Script::Unsolicited408 => {
                                        tokio::time::sleep(Duration::from_millis(50)).await;
                                        let _ = s
                                            .write_all(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                                            .await;
                                        return;
                                    }
                                    Script::DropSecond => {}
                                }
                            }
                            // The second request: seen, never answered.
                            _ => return,
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Send one request on the client connection and read one response, or until the gateway closes.
async fn one(s: &mut TcpStream, req: &str) -> String {
    s.write_all(req.as_bytes()).await.unwrap();
    read_one_or_eof(s).await
}

fn req(method: &str, addr: SocketAddr, path: &str, auth: &str, extra: &str) -> String {
    format!(
        "{method} http://origin.test:{port}{path} HTTP/1.1\r\nHost: origin.test:{port}\r\nProxy-Authorization: {auth}\r\n{extra}\r\n",
        port = addr.port()
    )
}

async fn gateway(addr: SocketAddr) -> Gateway {
    // `base_config` only takes the address of the origin it is given; the scripted origin is on
    // the same allowed address.
    let named = Origin::start(&addr.ip().to_string()).await;
    let gw = Gateway::start(&base_config(&named)).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    gw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_idempotent_requests_without_a_body_are_sent_again_after_a_stale_connection() {
    let (addr, seen) = scripted_origin("127.0.0.3", Script::DropSecond).await;
    let gw = gateway(addr).await;
    let auth = basic("ada", "pw");

    // GET after GET: the kept connection dies under the second; it is sent again, once.
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut c, &req("GET", addr, "/a", &auth, ""))
        .await
        .starts_with("HTTP/1.1 200"));
    let second = one(&mut c, &req("GET", addr, "/b", &auth, "")).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");

    // POST after GET on a new client connection: the origin took the POST and closed. It is not
    // sent again; the client learns that the origin failed.
    let mut c2 = TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut c2, &req("GET", addr, "/c", &auth, ""))
        .await
        .starts_with("HTTP/1.1 200"));
    let post = one(&mut c2, &req("POST", addr, "/d", &auth, "")).await;
    assert!(post.starts_with("HTTP/1.1 502"), "{post}");
    assert!(
        post.contains("X-Gatehouse-Decision: allow\r\nX-Gatehouse-Rule: tier-open\r\nX-Gatehouse-Error: upstream_closed\r\n"),
        "{post}"
    );
    let rest = read_to_close(&mut c2, SAFETY).await;
    assert!(rest.closed);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            vec!["GET /a HTTP/1.1".to_string(), "GET /b HTTP/1.1".into()],
            vec!["GET /b HTTP/1.1".into()],
            vec!["GET /c HTTP/1.1".into(), "POST /d HTTP/1.1".into()],
        ],
        "what each origin connection received"
    );
    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 4, "{events:#?}");
    let post_event = events.iter().find(|e| e.method == "POST").unwrap();
    assert_eq!(
        (post_event.status, post_event.error.as_deref()),
        (502, Some("upstream_closed"))
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_body_never_goes_on_a_kept_connection_the_origin_closed() {
    let (addr, seen) = scripted_origin("127.0.0.3", Script::CloseAfterFirst).await;
    let gw = gateway(addr).await;
    let auth = basic("ada", "pw");
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut c, &req("GET", addr, "/a", &auth, ""))
        .await
        .starts_with("HTTP/1.1 200"));
    // Let the origin's close arrive while the connection sits in the gateway's keep.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let post = format!(
        "{}hello",
        req("POST", addr, "/b", &auth, "Content-Length: 5\r\n")
    );
    let got = one(&mut c, &post).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            vec!["GET /a HTTP/1.1".to_string()],
            vec!["POST /b HTTP/1.1 hello".into()],
        ]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unasked_408_on_a_kept_connection_is_never_taken_for_the_next_response() {
    let (addr, seen) = scripted_origin("127.0.0.3", Script::Unsolicited408).await;
    let gw = gateway(addr).await;
    let auth = basic("ada", "pw");
    let mut c = TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut c, &req("GET", addr, "/a", &auth, ""))
        .await
        .starts_with("HTTP/1.1 200"));
    // The 408 and the close arrive while the connection sits in the gateway's keep.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = one(&mut c, &req("GET", addr, "/b", &auth, "")).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            vec!["GET /a HTTP/1.1".to_string()],
            vec!["GET /b HTTP/1.1".into()],
        ]
    );
    gw.shutdown().await;
}
