//! Strictness closed by issue 10: a chunked request body whose framing is already broken in the
//! bytes that arrived with the head is answered `400` with the chunk error's code before anything
//! is forwarded (no origin connection, no byte); a request written as `HTTP/1.2` is processed as
//! HTTP/1.1 (RFC 9110 §2.5). Each test asserts what the client got and what the origin saw, byte
//! for byte. A bad chunk that arrives after forwarding began still aborts both connections, as
//! `malformed::a_bad_chunk_after_a_valid_head_aborts_both_connections` shows.

use policy::Tier;
use testkit::{base_config, basic, exchange, Gateway, Origin, RawOrigin};

use crate::malformed::Sink;

async fn setup() -> (Origin, Gateway, String) {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    (origin, gw, basic("ada", "s3cret-ada"))
}

/// A chunked POST for the origin's `/echo`, head and body in one write.
fn chunked_post(origin: &Origin, auth: Option<&str>, body: &[u8]) -> Vec<u8> {
    let p = origin.port();
    let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
    let head = format!(
        "POST http://origin.test:{p}/echo HTTP/1.1\r\nHost: origin.test:{p}\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
    );
    [head.as_bytes(), body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_broken_before_forwarding_is_refused_and_reaches_nothing() {
    let (origin, gw, auth) = setup().await;
    // (name, body sent with the head, expected code). A request smuggled behind the body would
    // reach the origin if the gateway read the framing differently.
    let smuggled = format!(
        "GET http://origin.test:{}/smuggled HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        origin.port()
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad chunk size",
            b"zz\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "`0x` prefix",
            b"0x5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "negative size",
            b"-5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "size overflowing 64 bits",
            b"10000000000000005\r\nhello\r\n0\r\n\r\n".to_vec(),
            "chunk_size_too_long",
        ),
        (
            "control byte in an extension",
            b"5;a\x01=b\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "bare LF in an extension",
            b"5;a=b\nhello\r\n0\r\n\r\n".to_vec(),
            "bare_lf",
        ),
        (
            "chunk data not followed by CRLF",
            b"5\r\nhelloXX\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "a good chunk, then a bad one hiding a request",
            [b"5\r\nhello\r\n0x0\r\n\r\n".as_slice(), smuggled.as_bytes()].concat(),
            "bad_chunk_size",
        ),
    ];
    for (name, body, code) in &cases {
        let r = exchange(gw.proxy, &chunked_post(&origin, Some(&auth), body)).await;
        let ctx = format!("{name}:\n{}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some(*code), "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("error"),
            "{ctx}"
        );
        assert_eq!(r.header("connection").as_deref(), Some("close"), "{ctx}");
        assert!(r.closed, "the connection stayed open: {ctx}");
        assert_eq!(r.responses(), 1, "{ctx}");
        assert_eq!(
            origin.connections(),
            0,
            "the origin was connected to: {ctx}"
        );
        assert_eq!(origin.seen_bytes(), 0, "the origin received bytes: {ctx}");
    }

    // Checked before authentication: without credentials the answer is the same 400, not 407.
    let r = exchange(gw.proxy, &chunked_post(&origin, None, &cases[1].1)).await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("bad_chunk_size"), "{}", r.text);
    assert_eq!(origin.connections(), 0);

    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(rows.len(), cases.len() + 1, "{rows:#?}");
    for (name, _, code) in &cases {
        assert!(
            rows.iter().any(|r| r.error.as_deref() == Some(*code)
                && r.rule == *code
                && r.decision == "error"
                && r.status == 400
                && r.method == "POST"
                && r.principal.is_none()
                && r.bytes_up == 0),
            "no audit row for {name} ({code}) in {rows:#?}"
        );
    }
    assert!(rows
        .iter()
        .all(|r| r.url.as_deref().is_some_and(|u| u.ends_with("/echo"))));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_chunked_body_is_forwarded_reframed() {
    let (origin, gw, auth) = setup().await;
    // A listener that keeps every byte (the testkit origin keeps heads only) and answers once the
    // last chunk arrived.
    let mut sink = Sink::start_with("127.0.0.2", true).await;
    let sp = sink.addr.port();
    // Extensions and trailers are valid and dropped; the data is re-framed.
    let req = format!(
        "POST http://origin.test:{sp}/upload HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         5;name=\"v\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    );
    let r = exchange(gw.proxy, req.as_bytes()).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert!(r.text.ends_with("\r\n\r\nok\n"), "{}", r.text);
    let st = sink
        .wait_for("the whole body", |st| {
            st.conns
                .first()
                .is_some_and(|(b, _)| b.ends_with(b"\r\n0\r\n\r\n"))
        })
        .await;
    assert_eq!(st.conns.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&st.conns[0].0),
        format!(
            "POST /upload HTTP/1.1\r\n\
Host: origin.test:{sp}\r\n\
Transfer-Encoding: chunked\r\n\
Via: 1.1 gatehouse\r\n\
\r\n\
5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
    );
    assert_eq!(origin.connections(), 0);
    gw.shutdown().await;
}

/// RFC 9110 §2.5: `HTTP/1.2` is a higher minor version of a major version gatehouse implements, so
/// it is processed as HTTP/1.1: forwarded, not refused with 505. `HTTP/2.0` stays 505
/// (`malformed::head_shapes_are_refused`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_minor_version_is_processed_as_http11() {
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let r = exchange(
        gw.proxy,
        format!(
            "GET http://origin.test:{p}/v HTTP/1.2\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(r.text.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.text);
    assert!(
        r.text.ends_with("\r\n\r\nhello from origin\n"),
        "{}",
        r.text
    );
    assert_eq!(
        origin.seen(),
        format!(
            "GET /v HTTP/1.1\r\n\
Host: origin.test:{p}\r\n\
Accept: */*\r\n\
Via: 1.1 gatehouse\r\n\
\r\n"
        )
    );
    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!((rows[0].decision.as_str(), rows[0].status), ("allow", 200));
    gw.shutdown().await;
}

/// The same for a response: an origin answering `HTTP/1.2` is read as HTTP/1.1, not refused with
/// 502, and the client gets an HTTP/1.1 status line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_with_a_higher_minor_version_is_read_as_http11() {
    let (origin, gw, auth) = setup().await;
    let raw = RawOrigin::start(
        "127.0.0.2",
        b"HTTP/1.2 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
        false,
    )
    .await;
    let rp = raw.port();
    let r = exchange(
        gw.proxy,
        format!(
            "GET http://origin.test:{rp}/ HTTP/1.1\r\nHost: origin.test:{rp}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        r.text,
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nVia: 1.1 gatehouse\r\nConnection: close\r\n\r\nok\n"
    );
    assert_eq!(raw.connections().len(), 1);
    assert_eq!(origin.connections(), 0);
    gw.shutdown().await;
}
