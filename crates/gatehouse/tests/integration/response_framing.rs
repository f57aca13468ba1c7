//! Responses framed by transfer codings other than plain `chunked` (RFC 9112 §6.1, §6.3): a final
//! `chunked` is re-chunked with the codings before it kept, any other final coding runs until the
//! origin closes, Content-Length beside Transfer-Encoding is ignored and the origin connection is
//! not reused, and an HTTP/1.0 client never receives Transfer-Encoding. Origins send exact bytes
//! (`testkit::RawOrigin`); the tests assert what the client received byte for byte, what the origin
//! saw, and the audit event's status and byte count.

use policy::Tier;
use testkit::{base_config, basic, curl, exchange, Gateway, Origin, RawOrigin};

/// The origins listen on this address; `network.allow` in the base configuration lets the gateway
/// reach it as an IP literal.
const IP: &str = "127.0.0.3";

async fn setup() -> (Origin, Gateway) {
    let origin = Origin::start(IP).await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    (origin, gw)
}

/// A GET through the proxy with the given version and extra field lines.
fn get(raw: &RawOrigin, path: &str, version: &str, fields: &str) -> String {
    format!(
        "GET http://{IP}:{port}{path} {version}\r\nHost: {IP}:{port}\r\nProxy-Authorization: {auth}\r\n{fields}\r\n",
        port = raw.port(),
        auth = basic("ada", "pw-ada"),
    )
}

/// `gzip` of "hello through a gzip transfer coding\n" (mtime 0), as Python's `gzip.compress` makes it.
const GZIPPED: [u8; 57] = [
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 87, 40, 201, 40, 202, 47, 77, 207, 80,
    72, 84, 72, 175, 202, 44, 80, 40, 41, 74, 204, 43, 78, 75, 45, 82, 72, 206, 79, 201, 204, 75,
    231, 2, 0, 61, 12, 242, 43, 37, 0, 0, 0,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_whose_final_coding_is_chunked_is_rechunked_with_the_codings_before_it_kept() {
    let (_origin, gw) = setup().await;
    // Chunk extensions and trailers on the way in; both are dropped by the re-chunking.
    let raw = RawOrigin::start(
        IP,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n\
5;ext=1\r\nAAAAA\r\n3\r\nBBB\r\n0\r\nX-Trailer: t\r\n\r\n",
        false,
    )
    .await;
    // Two requests on one client connection: the re-chunked body keeps both connections open.
    let req =
        get(&raw, "/1", "HTTP/1.1", "") + &get(&raw, "/2", "HTTP/1.1", "Connection: close\r\n");
    let reply = exchange(gw.proxy, req.as_bytes()).await;
    assert!(reply.closed);
    let one = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
Transfer-Encoding: gzip, chunked\r\nVia: 1.1 gatehouse\r\n\r\n5\r\nAAAAA\r\n3\r\nBBB\r\n0\r\n\r\n";
    let two = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
Transfer-Encoding: gzip, chunked\r\nVia: 1.1 gatehouse\r\nConnection: close\r\n\r\n5\r\nAAAAA\r\n3\r\nBBB\r\n0\r\n\r\n";
    assert_eq!(reply.text, format!("{one}{two}"));
    // One origin connection carried both requests.
    let conns = raw.connections();
    assert_eq!(conns.len(), 1, "{conns:?}");
    let seen = String::from_utf8_lossy(&conns[0].received).into_owned();
    assert_eq!(seen.matches("GET /").count(), 2, "{seen}");

    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(
            (e.status, e.bytes_down, e.stage.as_str(), e.error.as_deref()),
            (200, 8, "done", None),
            "{e:?}"
        );
    }

    // A real client undoes the codings: curl decodes the chunked framing and then the gzip
    // transfer coding it was told about.
    let gz = RawOrigin::start(
        IP,
        &[
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n14\r\n"[..],
            &GZIPPED[..20],
            b"\r\n25\r\n",
            &GZIPPED[20..],
            b"\r\n0\r\n\r\n",
        ]
        .concat(),
        false,
    )
    .await;
    let url = format!("http://{IP}:{}/gz", gz.port());
    let out = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        "ada:pw-ada",
        "--tr-encoding",
        &url,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.text(), "hello through a gzip transfer coding\n");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_whose_final_coding_is_not_chunked_runs_until_the_origin_closes() {
    let (_origin, gw) = setup().await;
    // Bytes that look like chunked framing are just body here: nothing may be decoded.
    let mut body = b"0\r\n\r\nnot a last chunk\r\n".to_vec();
    body.extend((0..100_000u32).map(|i| (i % 251) as u8));
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Type: application/octet-stream\r\n\r\n";
    let raw = RawOrigin::start(IP, &[&head[..], &body].concat(), true).await;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, get(&raw, "/gz", "HTTP/1.1", "").as_bytes())
        .await
        .unwrap();
    // The client asked for keep-alive; the close ends the body, so the gateway closes after it.
    let got = read_bytes_to_close(&mut s).await;
    let expected_head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
Transfer-Encoding: gzip\r\nVia: 1.1 gatehouse\r\nConnection: close\r\n\r\n";
    assert_eq!(
        String::from_utf8_lossy(&got[..expected_head.len().min(got.len())]),
        expected_head
    );
    assert!(got[expected_head.len()..] == body[..], "the body differs");

    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.status, e.bytes_down, e.stage.as_str(), e.error.as_deref()),
        (200, body.len() as u64, "done", None)
    );
    gw.shutdown().await;
}

async fn read_bytes_to_close(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(s, &mut out);
    tokio::time::timeout(testkit::SAFETY, read)
        .await
        .expect("the gateway did not close the connection")
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_client_never_receives_transfer_encoding() {
    let (_origin, gw) = setup().await;
    // Only chunked: decoded and sent bare, delimited by the close.
    let chunked = RawOrigin::start(
        IP,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        false,
    )
    .await;
    let reply = exchange(gw.proxy, get(&chunked, "/c", "HTTP/1.0", "").as_bytes()).await;
    assert!(reply.closed);
    assert_eq!(
        reply.text,
        "HTTP/1.1 200 OK\r\nVia: 1.1 gatehouse\r\nConnection: close\r\n\r\nhello"
    );
    // Another coding: the client cannot be told, and gatehouse does not decode it, so 502.
    let shapes: [&[u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    ];
    for answer in shapes {
        let raw = RawOrigin::start(IP, answer, true).await;
        let reply = exchange(gw.proxy, get(&raw, "/x", "HTTP/1.0", "").as_bytes()).await;
        assert_eq!(reply.status(), 502, "{}", reply.text);
        assert_eq!(
            (
                reply.decision().as_deref(),
                reply.rule().as_deref(),
                reply.error().as_deref()
            ),
            (
                Some("allow"),
                Some("tier-open"),
                Some("transfer_coding_for_http10")
            )
        );
        assert!(!reply
            .text
            .to_ascii_lowercase()
            .contains("transfer-encoding"));
        assert!(!reply.text.contains("hello"), "{}", reply.text);
        // The origin did get the request: the refusal is about what came back.
        assert_eq!(raw.connections().len(), 1);
    }

    gw.flush_audit().await;
    let events = gw.audit();
    let recorded: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.decision.as_str(),
                e.status,
                e.bytes_down,
                e.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("allow", 200, 5, None),
            ("allow", 502, 0, Some("transfer_coding_for_http10")),
            ("allow", 502, 0, Some("transfer_coding_for_http10")),
        ]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_encoding_overrides_content_length_and_that_origin_connection_is_not_reused() {
    let (_origin, gw) = setup().await;
    let both = RawOrigin::start(
        IP,
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
        false,
    )
    .await;
    // The control: the same response without Content-Length keeps its origin connection.
    let plain = RawOrigin::start(
        IP,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
        false,
    )
    .await;
    let expected = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nVia: 1.1 gatehouse\r\n\r\nb\r\nhello world\r\n0\r\n\r\n";
    for (raw, origin_connections) in [(&both, 2), (&plain, 1)] {
        let req =
            get(raw, "/1", "HTTP/1.1", "") + &get(raw, "/2", "HTTP/1.1", "Connection: close\r\n");
        let reply = exchange(gw.proxy, req.as_bytes()).await;
        let last = expected.replace("\r\n\r\nb", "\r\nConnection: close\r\n\r\nb");
        assert_eq!(reply.text, format!("{expected}{last}"));
        assert_eq!(raw.connections().len(), origin_connections);
    }
    // The gateway closed the first connection to the origin that sent both headers itself, right
    // after its response (the client connection stayed open for the second request).
    assert!(both.wait_closed_by_gateway(0).await);

    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!(
            (e.status, e.bytes_down, e.error.as_deref()),
            (200, 11, None)
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_encodings_that_could_be_read_two_ways_still_get_502() {
    let (_origin, gw) = setup().await;
    let shapes: [(&[u8], &str); 7] = [
        (
            b"Transfer-Encoding: chunked, gzip\r\n",
            "bad_transfer_encoding",
        ),
        (
            b"Transfer-Encoding: chunked, chunked\r\n",
            "bad_transfer_encoding",
        ),
        (
            b"Transfer-Encoding: gzip;q=1, chunked\r\n",
            "bad_transfer_encoding",
        ),
        (
            b"Transfer-Encoding: \"chunked\"\r\n",
            "bad_transfer_encoding",
        ),
        (b"Transfer-Encoding:\r\n", "bad_transfer_encoding"),
        (
            b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            "duplicate_transfer_encoding",
        ),
        (
            b"X-Version: 1.0\r\nTransfer-Encoding: chunked\r\n",
            "transfer_encoding_http10",
        ),
    ];
    for (fields, code) in shapes {
        let version: &[u8] = if code == "transfer_encoding_http10" {
            b"HTTP/1.0"
        } else {
            b"HTTP/1.1"
        };
        let answer = [
            version,
            b" 200 OK\r\n",
            fields,
            b"\r\n5\r\nhello\r\n0\r\n\r\n",
        ]
        .concat();
        let raw = RawOrigin::start(IP, &answer, true).await;
        let reply = exchange(gw.proxy, get(&raw, "/bad", "HTTP/1.1", "").as_bytes()).await;
        assert_eq!(reply.status(), 502, "{}", String::from_utf8_lossy(fields));
        assert_eq!(
            (
                reply.decision().as_deref(),
                reply.rule().as_deref(),
                reply.error().as_deref()
            ),
            (Some("allow"), Some("tier-open"), Some(code))
        );
        assert!(!reply.text.contains("hello"), "{}", reply.text);
        assert!(reply.closed);
    }
    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), shapes.len());
    for (e, (_, code)) in events.iter().zip(shapes) {
        assert_eq!(
            (e.status, e.bytes_down, e.error.as_deref()),
            (502, 0, Some(code))
        );
    }
    gw.shutdown().await;
}
