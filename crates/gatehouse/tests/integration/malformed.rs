//! Malformed and ambiguous requests: every head shape two HTTP implementations could read
//! differently (request smuggling, header injection) is refused with the status and stable code of
//! the strict parser, `Connection: close`, and a closed connection; a chunked body that goes bad
//! after a valid head aborts both connections. Every case carries valid credentials for a
//! destination the user may reach, so the malformation is the only reason for the refusal, and
//! every case checks both sides: what the client got and what the origin saw.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::Tier;
use testkit::Edit;
use testkit::{
    base_config, basic, exchange, read_one_or_eof, read_to_close, Gateway, Origin, SAFETY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

async fn setup() -> (Origin, Gateway, String) {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    (origin, gw, basic("ada", "s3cret-ada"))
}

/// One head-level shape: the request bytes and what the gateway must answer.
struct Shape {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    code: &'static str,
}

/// Send each shape on its own connection and check the refusal, the close, and that the origin
/// saw nothing at all. Finally, the audit trail holds one parse-stage error per shape.
async fn refuse_all(origin: &Origin, gw: &Gateway, shapes: &[Shape]) {
    for shape in shapes {
        let r = exchange(gw.proxy, &shape.request).await;
        let ctx = format!("shape `{}`:\n{}", shape.name, r.text);
        assert_eq!(r.status(), shape.status, "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-rule").as_deref(),
            Some(shape.code),
            "{ctx}"
        );
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("error"),
            "{ctx}"
        );
        assert_eq!(r.header("connection").as_deref(), Some("close"), "{ctx}");
        assert!(r.closed, "the gateway kept the connection open after {ctx}");
        assert_eq!(r.responses(), 1, "{ctx}");
        assert_eq!(
            origin.connections(),
            0,
            "the origin was contacted for {ctx}"
        );
        assert_eq!(
            origin.seen_bytes(),
            0,
            "the origin received bytes for {ctx}"
        );
    }
    gw.flush_audit().await;
    let rows = gw.audit();
    for shape in shapes {
        assert!(
            rows.iter().any(|r| r.rule == shape.code
                && r.decision == "error"
                && r.status == shape.status
                && r.stage == "parse"
                && r.principal.is_none()),
            "no parse-stage audit row for `{}` in {rows:#?}",
            shape.name
        );
    }
}

/// A request for the origin with the given header lines (each ending in CRLF) and body.
fn request(
    origin: &Origin,
    method: &str,
    version: &str,
    headers: &str,
    body: &str,
    auth: &str,
) -> Vec<u8> {
    let p = origin.port();
    format!(
        "{method} http://origin.test:{p}/echo {version}\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{headers}\r\n{body}"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_well_formed_control_request_goes_through() {
    // The same request as the malformed shapes below minus the malformation: allowed, so each
    // refusal below is about the shape and nothing else.
    let (origin, gw, auth) = setup().await;
    let r = exchange(
        gw.proxy,
        &request(
            &origin,
            "POST",
            "HTTP/1.1",
            "Content-Length: 5\r\nConnection: close\r\n",
            "hello",
            &auth,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert!(r.text.contains("body-bytes: 5\n"), "{}", r.text);
    assert_eq!(origin.requests(), 1);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_message_framing_is_refused_before_anything_reaches_the_origin() {
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let smuggled = format!("GET http://other.test:{p}/secret HTTP/1.1\r\nHost: other.test:{p}\r\nProxy-Authorization: {auth}\r\n\r\n");
    let r = |headers: &str, body: &str| request(&origin, "POST", "HTTP/1.1", headers, body, &auth);
    let shapes = vec![
        Shape {
            name: "conflicting content-length",
            request: r("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
            status: 400,
            code: "duplicate_content_length",
        },
        Shape {
            name: "duplicate identical content-length",
            request: r("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            status: 400,
            code: "duplicate_content_length",
        },
        Shape {
            name: "content-length list `5, 5`",
            request: r("Content-Length: 5, 5\r\n", "hello"),
            status: 400,
            code: "bad_content_length",
        },
        Shape {
            name: "content-length `+5`",
            request: r("Content-Length: +5\r\n", "hello"),
            status: 400,
            code: "bad_content_length",
        },
        Shape {
            name: "content-length `-1`",
            request: r("Content-Length: -1\r\n", "hello"),
            status: 400,
            code: "bad_content_length",
        },
        Shape {
            name: "content-length `0x5`",
            request: r("Content-Length: 0x5\r\n", "hello"),
            status: 400,
            code: "bad_content_length",
        },
        Shape {
            name: "content-length of 20 digits",
            request: r("Content-Length: 18446744073709551621\r\n", "hello"),
            status: 400,
            code: "bad_content_length",
        },
        Shape {
            name: "transfer-encoding `xchunked`",
            request: r("Transfer-Encoding: xchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"),
            status: 400,
            code: "bad_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding `chunked, chunked`",
            request: r(
                "Transfer-Encoding: chunked, chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "bad_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding `gzip, chunked`",
            request: r(
                "Transfer-Encoding: gzip, chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "bad_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding `chunked;q=1`",
            request: r(
                "Transfer-Encoding: chunked;q=1\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "bad_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding `identity`",
            request: r("Transfer-Encoding: identity\r\n", "hello"),
            status: 400,
            code: "bad_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding ` chunked` by obs-fold continuation",
            request: r(
                "Transfer-Encoding:\r\n chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "obs_fold",
        },
        Shape {
            name: "transfer-encoding `identity` folded onto `chunked`",
            request: r(
                "Transfer-Encoding: identity\r\n\tchunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "obs_fold",
        },
        Shape {
            name: "transfer-encoding with a vertical tab",
            request: r(
                "Transfer-Encoding: \x0bchunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "bad_header_value",
        },
        Shape {
            name: "transfer-encoding chunked twice",
            request: r(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "duplicate_transfer_encoding",
        },
        Shape {
            name: "TE.TE: chunked then an obfuscated second transfer-encoding",
            request: r(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "duplicate_transfer_encoding",
        },
        Shape {
            name: "transfer-encoding in HTTP/1.0",
            request: request(
                &origin,
                "POST",
                "HTTP/1.0",
                "Transfer-Encoding: chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
                &auth,
            ),
            status: 400,
            code: "transfer_encoding_http10",
        },
        Shape {
            name: "CL.TE: content-length then transfer-encoding, smuggled request in the body",
            request: r(
                "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
            status: 400,
            code: "content_length_with_transfer_encoding",
        },
        Shape {
            name: "TE.CL: transfer-encoding then content-length, smuggled request in the chunk",
            request: r(
                "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                &format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len()),
            ),
            status: 400,
            code: "content_length_with_transfer_encoding",
        },
        Shape {
            name: "CL.TE with `Transfer-Encoding : chunked` (space before colon)",
            request: r(
                "Content-Length: 6\r\nTransfer-Encoding : chunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
            status: 400,
            code: "whitespace_before_colon",
        },
        Shape {
            name: "space before colon in content-length",
            request: r("Content-Length : 5\r\n", "hello"),
            status: 400,
            code: "whitespace_before_colon",
        },
        Shape {
            name: "tab before colon in transfer-encoding",
            request: r(
                "Transfer-Encoding\t: chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            status: 400,
            code: "whitespace_before_colon",
        },
    ];
    refuse_all(&origin, &gw, &shapes).await;
    assert!(!origin.seen().contains("secret"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_and_fields_are_refused_before_anything_reaches_the_origin() {
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let close = "Connection: close\r\n";
    let get = |headers: &str| {
        request(
            &origin,
            "GET",
            "HTTP/1.1",
            &format!("{headers}{close}"),
            "",
            &auth,
        )
    };
    let shapes = vec![
        Shape {
            name: "bare LF line ends everywhere",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\nHost: origin.test:{p}\nProxy-Authorization: {auth}\n{}\n",
                close.trim_end()
            )
            .into_bytes(),
            status: 400,
            code: "bare_lf",
        },
        Shape {
            name: "bare LF ending the request line",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "bare_lf",
        },
        Shape {
            name: "bare LF ending one header line",
            request: get("X-A: 1\nX-B: 2\r\n"),
            status: 400,
            code: "bare_lf",
        },
        Shape {
            name: "bare LF as the final empty line",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\n"
            )
            .into_bytes(),
            status: 400,
            code: "bare_lf",
        },
        Shape {
            name: "bare CR inside a header value",
            request: get("X-A: 1\rX-B: 2\r\n"),
            status: 400,
            code: "bare_cr",
        },
        Shape {
            name: "bare CR before CRLF",
            request: get("X-A: 1\r\r\n"),
            status: 400,
            code: "bare_cr",
        },
        Shape {
            name: "obs-fold continuation line",
            request: get("X-A: one\r\n two\r\n"),
            status: 400,
            code: "obs_fold",
        },
        Shape {
            name: "obs-fold with a tab",
            request: get("X-A: one\r\n\ttwo\r\n"),
            status: 400,
            code: "obs_fold",
        },
        Shape {
            name: "space before colon",
            request: get("X-A : 1\r\n"),
            status: 400,
            code: "whitespace_before_colon",
        },
        Shape {
            name: "space before the colon of Host",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\r\nHost : origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "whitespace_before_colon",
        },
        Shape {
            name: "NUL in a header value",
            request: get("X-A: a\0b\r\n"),
            status: 400,
            code: "bad_header_value",
        },
        Shape {
            name: "NUL in a header name",
            request: get("X\0A: b\r\n"),
            status: 400,
            code: "bad_header_name",
        },
        Shape {
            name: "DEL in a header value",
            request: get("X-A: a\x7fb\r\n"),
            status: 400,
            code: "bad_header_value",
        },
        Shape {
            name: "header line without a colon",
            request: get("X-A\r\n"),
            status: 400,
            code: "bad_header_name",
        },
        Shape {
            name: "whitespace between the request line and the first field",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\r\n Host: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "obs_fold",
        },
        Shape {
            name: "NUL in the request target",
            request: format!(
                "GET http://origin.test:{p}/a\0b HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "bad_request_line",
        },
        Shape {
            name: "two spaces in the request line",
            request: format!(
                "GET  http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "bad_request_line",
        },
        Shape {
            name: "missing host",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "missing_host",
        },
        Shape {
            name: "duplicate host",
            request: get(&format!("Host: origin.test:{p}\r\n")),
            status: 400,
            code: "duplicate_host",
        },
        Shape {
            name: "host with whitespace inside",
            request: format!(
                "GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test :{p}\r\nProxy-Authorization: {auth}\r\n{close}\r\n"
            )
            .into_bytes(),
            status: 400,
            code: "bad_host",
        },
        Shape {
            name: "HTTP/2.0",
            request: request(&origin, "GET", "HTTP/2.0", close, "", &auth),
            status: 505,
            code: "unsupported_version",
        },
        Shape {
            name: "HTTP/0.9",
            request: request(&origin, "GET", "HTTP/0.9", close, "", &auth),
            status: 505,
            code: "unsupported_version",
        },
        Shape {
            name: "lower-case version",
            request: request(&origin, "GET", "http/1.1", close, "", &auth),
            status: 400,
            code: "bad_version",
        },
        Shape {
            name: "connection value that is not a token list",
            request: get("Connection: close\"\r\n"),
            status: 400,
            code: "bad_connection",
        },
        Shape {
            name: "five empty lines before the request line",
            request: [b"\r\n\r\n\r\n\r\n\r\n".to_vec(), get("")].concat(),
            status: 400,
            code: "bad_request_line",
        },
        Shape {
            name: "a TLS ClientHello sent to the plain proxy port",
            request: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1f".to_vec(),
            status: 400,
            code: "bad_request_line",
        },
    ];
    refuse_all(&origin, &gw, &shapes).await;
    gw.shutdown().await;
}

/// A request for the origin whose only extra header pads the head to exactly `total` bytes.
fn padded_head(origin: &Origin, auth: &str, total: usize) -> Vec<u8> {
    let p = origin.port();
    let prefix = format!(
        "GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\nX-Pad: "
    );
    let suffix = "\r\n\r\n";
    let pad = total - prefix.len() - suffix.len();
    let mut out = prefix.into_bytes();
    out.extend(std::iter::repeat_n(b'p', pad));
    out.extend_from_slice(suffix.as_bytes());
    assert_eq!(out.len(), total);
    out
}

/// A request whose target is exactly `len` bytes long.
fn target_of_len(origin: &Origin, auth: &str, len: usize) -> Vec<u8> {
    let p = origin.port();
    let base = format!("http://origin.test:{p}/");
    let target = format!("{base}{}", "u".repeat(len - base.len()));
    assert_eq!(target.len(), len);
    format!("GET {target} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// The first `keep` bytes of a request, or all but its final empty line when `keep` is 0.
fn unfinished(mut request: Vec<u8>, keep: usize) -> Vec<u8> {
    let keep = if keep == 0 { request.len() - 2 } else { keep };
    request.truncate(keep);
    assert!(!request.ends_with(b"\r\n\r\n"));
    request
}

/// `n` header lines in all: Host, Proxy-Authorization, Connection and `n - 3` others.
fn with_n_headers(origin: &Origin, auth: &str, n: usize) -> Vec<u8> {
    let mut extra = String::new();
    for i in 0..n - 3 {
        extra.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    request(
        origin,
        "GET",
        "HTTP/1.1",
        &format!("{extra}Connection: close\r\n"),
        "",
        auth,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_with_414_and_431_and_allow_up_to_the_limit() {
    let (origin, gw, auth) = setup().await;

    // At the limits: allowed and forwarded.
    for (name, req) in [
        (
            "target of exactly 8192 bytes",
            target_of_len(&origin, &auth, 8192),
        ),
        (
            "head of exactly 65536 bytes",
            padded_head(&origin, &auth, 65536),
        ),
        (
            "exactly 100 header lines",
            with_n_headers(&origin, &auth, 100),
        ),
    ] {
        let before = origin.requests();
        let r = exchange(gw.proxy, &req).await;
        assert_eq!(r.status(), 200, "{name}: {}", r.text);
        assert_eq!(origin.requests(), before + 1, "{name}");
    }
    let allowed_bytes = origin.seen_bytes();
    let allowed_connections = origin.connections();

    // One past the limits, and a 70 KB header: refused, nothing more reaches the origin.
    let shapes = [
        (
            "target of 8193 bytes",
            target_of_len(&origin, &auth, 8193),
            414,
            "uri_too_long",
        ),
        (
            "target of 9000 bytes",
            target_of_len(&origin, &auth, 9000),
            414,
            "uri_too_long",
        ),
        (
            "head of 65537 bytes",
            padded_head(&origin, &auth, 65537),
            431,
            "header_too_large",
        ),
        (
            "a 70 KB header",
            padded_head(&origin, &auth, 70 * 1024),
            431,
            "header_too_large",
        ),
        (
            "101 header lines",
            with_n_headers(&origin, &auth, 101),
            431,
            "too_many_headers",
        ),
        (
            "500 header lines",
            with_n_headers(&origin, &auth, 500),
            431,
            "too_many_headers",
        ),
        // The limits hold on partial input too: refused as soon as they are passed, not after the
        // header-read timeout (which would answer 408).
        (
            "an unfinished 9000-byte target",
            unfinished(target_of_len(&origin, &auth, 9000), 9000),
            414,
            "uri_too_long",
        ),
        (
            "an unfinished 70 KB head",
            unfinished(padded_head(&origin, &auth, 70 * 1024), 66 * 1024),
            431,
            "header_too_large",
        ),
        (
            "101 header lines without the end of the head",
            unfinished(with_n_headers(&origin, &auth, 101), 0),
            431,
            "too_many_headers",
        ),
    ];
    for (name, req, status, code) in shapes {
        let r = exchange(gw.proxy, &req).await;
        let ctx = format!("{name}: {}", r.text);
        assert_eq!(r.status(), status, "{ctx}");
        assert_eq!(r.header("x-gatehouse-rule").as_deref(), Some(code), "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("error"),
            "{ctx}"
        );
        assert_eq!(r.header("connection").as_deref(), Some("close"), "{ctx}");
        assert!(r.closed, "{ctx}");
        assert_eq!(
            origin.seen_bytes(),
            allowed_bytes,
            "{name} reached the origin"
        );
        assert_eq!(
            origin.connections(),
            allowed_connections,
            "{name} reached the origin"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_does_not_arrive_in_time_gets_408_and_is_closed() {
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let partial_heads = [
        "GE".to_string(),
        format!("GET http://origin.test:{p}/ HTTP/1.1\r\n"),
        format!("GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n"),
        format!("GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n\r"),
    ];
    // Concurrently: each connection waits for the header-read timeout on its own.
    let mut tasks = Vec::new();
    for head in partial_heads {
        let proxy = gw.proxy;
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(proxy).await.unwrap();
            s.write_all(head.as_bytes()).await.unwrap();
            (head, read_to_close(&mut s, Duration::from_secs(10)).await)
        }));
    }
    for t in tasks {
        let (head, r) = t.await.unwrap();
        let ctx = format!("partial head {head:?}: {}", r.text);
        assert!(r.closed, "not closed within the safety wait: {ctx}");
        assert_eq!(r.status(), 408, "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-rule").as_deref(),
            Some("header_read_timeout"),
            "{ctx}"
        );
        assert_eq!(r.header("connection").as_deref(), Some("close"), "{ctx}");
    }
    assert_eq!(origin.connections(), 0);
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_read_timeout_also_applies_to_the_next_request_on_a_kept_connection() {
    // The first request is refused by a rule (a bodiless keep-alive refusal keeps the connection),
    // then the start of a second one never completes.
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let mut s = TcpStream::connect(gw.proxy).await.unwrap();
    let first = format!(
        "GET http://ads.test:{p}/first HTTP/1.1\r\nHost: ads.test:{p}\r\nProxy-Authorization: {auth}\r\n\r\n"
    );
    s.write_all(first.as_bytes()).await.unwrap();
    // Read the whole refusal (it has a Content-Length) before sending the partial head.
    let text = read_one_or_eof(&mut s).await;
    let head = text
        .split_once("\r\n\r\n")
        .map_or(text.as_str(), |(h, _)| h);
    assert!(text.starts_with("HTTP/1.1 403 "), "{text}");
    assert!(!head.contains("Connection: close"), "{text}");
    s.write_all(format!("GET http://origin.test:{p}/second HTTP/1.1\r\nHost: orig").as_bytes())
        .await
        .unwrap();
    let r = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(r.closed, "{}", r.text);
    assert_eq!(r.status(), 408, "{}", r.text);
    assert_eq!(
        r.header("x-gatehouse-rule").as_deref(),
        Some("header_read_timeout")
    );
    assert_eq!(origin.connections(), 0);
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_is_a_body_and_a_pipelined_request_is_decided_on_its_own() {
    // Legal shapes that look like smuggling: a Content-Length body holding a whole request is
    // forwarded as body bytes, and a request pipelined after a body is a new request that goes
    // through the decision again (here: refused by the global deny list although it follows an
    // allowed request on the same connection). Names with `_` are never forwarded, so a
    // `Transfer_Encoding` or `Content_Length` cannot reopen the ambiguity at a CGI-style origin.
    let origin = Origin::start("127.0.0.2").await;
    let ip = origin.addr.ip();
    let config = base_config(&origin).edit(
        "hosts = { ",
        &format!("hosts = {{ \"ads.test\" = [\"{ip}\"], "),
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    let inner =
        format!("GET http://origin.test:{p}/inner HTTP/1.1\r\nHost: origin.test:{p}\r\n\r\n");
    let pipelined = format!(
        "POST http://origin.test:{p}/echo HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nContent-Length: {}\r\nTransfer_Encoding: chunked\r\nContent_Length: 0\r\n\r\n{inner}\
         GET http://ads.test:{p}/secret HTTP/1.1\r\nHost: ads.test:{p}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n",
        inner.len()
    );
    let r = exchange(gw.proxy, pipelined.as_bytes()).await;
    assert!(r.closed);
    assert_eq!(r.responses(), 2, "{}", r.text);
    assert!(r.text.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.text);
    assert!(
        r.text.contains(&format!("body-bytes: {}\n", inner.len())),
        "{}",
        r.text
    );
    let second = &r.text[r.text.rfind("HTTP/1.1 ").unwrap()..];
    assert!(second.starts_with("HTTP/1.1 403 "), "{second}");
    assert!(
        second.contains("X-Gatehouse-Rule: global-deny:ads\r\n"),
        "{second}"
    );
    // The origin saw exactly one request; the inner one only as body bytes, the denied one never.
    assert_eq!(origin.requests(), 1);
    let seen = origin.seen();
    assert!(!seen.contains("/secret"), "{seen}");
    assert!(!seen.contains("ads.test"), "{seen}");
    assert!(!seen.contains("Transfer_Encoding"), "{seen}");
    assert!(!seen.contains("Content_Length"), "{seen}");
    assert!(
        !seen.to_ascii_lowercase().contains("transfer-encoding"),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("Content-Length: {}\r\n", inner.len())),
        "{seen}"
    );
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Chunked bodies that go bad after a valid head.

/// Per-connection record of a raw listener that never answers.
#[derive(Default, Clone)]
pub(crate) struct SinkState {
    pub(crate) conns: Vec<(Vec<u8>, bool)>,
}

/// A listener that records every byte of every connection, and when each one closed.
pub(crate) struct Sink {
    pub(crate) addr: SocketAddr,
    state: watch::Receiver<SinkState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    async fn start(ip: &str) -> Sink {
        Sink::start_with(ip, false).await
    }

    /// With `answer`, each connection gets `200 ok` once a complete chunked body (ending in the
    /// last chunk) arrived.
    pub(crate) async fn start_with(ip: &str, answer: bool) -> Sink {
        let listener = TcpListener::bind((ip.parse::<std::net::IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(SinkState::default());
        let tx = Arc::new(tx);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut index = 0;
                tx.send_modify(|st| {
                    index = st.conns.len();
                    st.conns.push((Vec::new(), false));
                });
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                tx.send_modify(|st| st.conns[index].1 = true);
                                return;
                            }
                            Ok(n) => {
                                let mut done = false;
                                tx.send_modify(|st| {
                                    st.conns[index].0.extend_from_slice(&buf[..n]);
                                    done = st.conns[index].0.ends_with(b"\r\n0\r\n\r\n");
                                });
                                if answer && done {
                                    let _ = s
                                        .write_all(
                                            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
                                        )
                                        .await;
                                }
                            }
                        }
                    }
                });
            }
        });
        Sink {
            addr,
            state: rx,
            task,
        }
    }

    /// Wait (bounded) until `cond` holds for the recorded state.
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        cond: impl FnMut(&SinkState) -> bool,
    ) -> SinkState {
        let got = match tokio::time::timeout(SAFETY, self.state.wait_for(cond)).await {
            Ok(Ok(st)) => Some(st.clone()),
            _ => None,
        };
        got.unwrap_or_else(|| {
            panic!(
                "sink: gave up waiting for {what}: {:?}",
                self.snapshot_text()
            )
        })
    }

    pub(crate) fn snapshot_text(&self) -> Vec<(String, bool)> {
        self.state
            .borrow()
            .conns
            .iter()
            .map(|(b, c)| (String::from_utf8_lossy(b).into_owned(), *c))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_chunk_after_a_valid_head_aborts_both_connections() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");

    // (name, bad chunk line and what follows it, expected error code)
    let cases = [
        ("`0x5` chunk size", "0x5\r\nworld\r\n", "bad_chunk_size"),
        ("`-1` chunk size", "-1\r\nworld\r\n", "bad_chunk_size"),
        (
            "`5 ` chunk size with trailing space",
            "5 \r\nworld\r\n",
            "bad_chunk_ext",
        ),
        (
            "17 hex digits",
            "00000000000000005\r\nworld\r\n",
            "chunk_size_too_long",
        ),
        (
            "huge 17 hex digit size",
            "fffffffffffffffff\r\nworld\r\n",
            "chunk_size_too_long",
        ),
        ("empty chunk size", "\r\nworld\r\n", "bad_chunk_size"),
        ("bare LF after the chunk size", "5\nworld\r\n", "bare_lf"),
        (
            "chunk longer than its size",
            "3\r\nworld\r\n",
            "bad_chunk_terminator",
        ),
        ("`+5` chunk size", "+5\r\nworld\r\n", "bad_chunk_size"),
        ("empty chunk extension", "5;\r\nworld\r\n", "bad_chunk_ext"),
    ];
    for (name, bad, code) in cases {
        let mut sink = Sink::start("127.0.0.2").await;
        let sp = sink.addr.port();
        let head = format!(
            "POST http://origin.test:{sp}/upload HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let mut client = TcpStream::connect(gw.proxy).await.unwrap();
        client.write_all(head.as_bytes()).await.unwrap();
        client.write_all(b"5\r\nhello\r\n").await.unwrap();
        // The valid head and the good chunk (re-encoded) reach the origin before the bad chunk is sent.
        let st = sink
            .wait_for("the head and the good chunk", |st| {
                st.conns
                    .first()
                    .is_some_and(|(b, _)| b.ends_with(b"\r\n\r\n5\r\nhello\r\n"))
            })
            .await;
        let forwarded = String::from_utf8_lossy(&st.conns[0].0).into_owned();
        assert!(
            forwarded.starts_with("POST /upload HTTP/1.1\r\n"),
            "{name}: {forwarded}"
        );
        assert!(
            forwarded.contains("Transfer-Encoding: chunked\r\n"),
            "{name}: {forwarded}"
        );
        // Then the bad chunk, a last chunk, and a request smuggled behind it.
        let smuggled = format!(
            "0\r\n\r\nGET http://origin.test:{sp}/smuggled HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\n\r\n"
        );
        let _ = client
            .write_all(format!("{bad}{smuggled}").as_bytes())
            .await;
        let r = read_to_close(&mut client, SAFETY).await;
        assert!(
            r.closed,
            "{name}: the client connection stayed open: {}",
            r.text
        );
        assert!(!r.text.contains(" 200 "), "{name}: {}", r.text);
        assert!(!r.text.contains("hello from origin"), "{name}: {}", r.text);
        // No response had begun: the client is told what was wrong with its body.
        assert!(r.text.starts_with("HTTP/1.1 400 "), "{name}: {}", r.text);
        // The request had been allowed: the page says so, as its audit event does, and names
        // the error.
        assert_eq!(
            (
                r.decision().as_deref(),
                r.rule().as_deref(),
                r.error().as_deref()
            ),
            (Some("allow"), Some("tier-open"), Some(code)),
            "{name}: {}",
            r.text
        );
        assert_eq!(r.responses(), 1, "{name}: {}", r.text);
        // The origin connection was closed with the truncated request: nothing after the good chunk.
        let st = sink
            .wait_for("the origin connection to close", |st| {
                st.conns.first().is_some_and(|c| c.1)
            })
            .await;
        let all = String::from_utf8_lossy(&st.conns[0].0).into_owned();
        assert_eq!(
            all, forwarded,
            "{name}: the origin got more after the bad chunk"
        );
        assert_eq!(
            st.conns.len(),
            1,
            "{name}: a second origin connection was opened"
        );
        assert!(
            !all.contains("world") && !all.contains("smuggled"),
            "{name}: {all}"
        );
        assert_eq!(all.matches(" HTTP/1.1\r\n").count(), 1, "{name}: {all}");
    }
    gw.flush_audit().await;
    let rows = gw.audit();
    for (name, _, code) in cases {
        assert!(
            rows.iter()
                .any(|r| r.error.as_deref() == Some(code) && r.method == "POST"),
            "no audit row with error {code} for {name}: {rows:#?}"
        );
    }
    assert!(!rows
        .iter()
        .any(|r| r.url.as_deref().is_some_and(|u| u.contains("smuggled"))));
    // The testkit origin was never involved.
    assert_eq!(origin.connections(), 0);
    gw.shutdown().await;
}

/// A bad chunk that arrives with the head is found before anything is forwarded (issue 10, point
/// 7): the client gets `400 bad_chunk_size`, and the origin is not even connected to, so neither
/// the head nor the good chunk before the bad one nor the request smuggled behind it reach it.
/// (Before, the head and the good chunk reached the origin and the body was cut.) More shapes:
/// `strictness.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_chunk_sent_with_the_head_forwards_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let sink = Sink::start("127.0.0.2").await;
    let sp = sink.addr.port();
    // Everything in one write: head, a good chunk, a bad chunk, and a smuggled request.
    let req = format!(
        "POST http://origin.test:{sp}/upload HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n0x5\r\nworld\r\n0\r\n\r\nGET http://origin.test:{sp}/smuggled HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\n\r\n"
    );
    let r = exchange(gw.proxy, req.as_bytes()).await;
    assert!(r.closed, "{}", r.text);
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("bad_chunk_size"), "{}", r.text);
    assert_eq!(
        r.header("connection").as_deref(),
        Some("close"),
        "{}",
        r.text
    );
    assert_eq!(r.responses(), 1, "{}", r.text);
    // The request ended before any connection could be opened: the sink saw none.
    assert!(
        sink.snapshot_text().is_empty(),
        "{:?}",
        sink.snapshot_text()
    );
    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].error.as_deref(), Some("bad_chunk_size"));
    assert!(
        sink.snapshot_text().is_empty(),
        "{:?}",
        sink.snapshot_text()
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_errors_are_refused_before_any_decision_or_connection() {
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    let req = |method: &str, target: &str, host: &str, extra: &str| {
        format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {auth}\r\n{extra}Connection: close\r\n\r\n")
            .into_bytes()
    };
    let o = format!("origin.test:{p}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "userinfo",
            req("GET", &format!("http://user:hunter2@{o}/"), &o, ""),
            "userinfo",
        ),
        (
            "user without password",
            req("GET", &format!("http://user@{o}/"), &o, ""),
            "userinfo",
        ),
        (
            "CONNECT spelt in mixed case",
            req("Connect", &format!("http://{o}/"), &o, ""),
            "ambiguous_method",
        ),
        (
            "connect spelt in lower case, authority form",
            req("connect", &o, &o, ""),
            "ambiguous_method",
        ),
        (
            "bad host",
            req("GET", &format!("http://exa..mple.test:{p}/"), &o, ""),
            "bad_host",
        ),
        (
            "ipv4 out of range",
            req("GET", &format!("http://256.0.0.1:{p}/"), &o, ""),
            "bad_host",
        ),
        (
            "port 0",
            req("GET", "http://origin.test:0/", &o, ""),
            "bad_port",
        ),
        (
            "port 65536",
            req("GET", "http://origin.test:65536/", &o, ""),
            "bad_port",
        ),
        (
            "port with a letter",
            req("GET", "http://origin.test:8o/", &o, ""),
            "bad_port",
        ),
        (
            "empty host",
            req("GET", &format!("http://:{p}/"), &o, ""),
            "empty_host",
        ),
        (
            "https in absolute form",
            req("GET", &format!("https://{o}/"), &o, ""),
            "unsupported_scheme",
        ),
        (
            "ftp in absolute form",
            req("GET", &format!("ftp://{o}/"), &o, ""),
            "unsupported_scheme",
        ),
        (
            "fragment",
            req("GET", &format!("http://{o}/#top"), &o, ""),
            "fragment",
        ),
        (
            "origin-form",
            req("GET", "/", &o, ""),
            "not_a_proxy_request",
        ),
        (
            "asterisk-form",
            req("OPTIONS", "*", &o, ""),
            "not_a_proxy_request",
        ),
        (
            "missing `//`",
            req("GET", &format!("http:{o}/"), &o, ""),
            "bad_target",
        ),
        (
            "host mismatch",
            req(
                "GET",
                &format!("http://{o}/"),
                &format!("other.test:{p}"),
                "",
            ),
            "host_mismatch",
        ),
        (
            "connect with a body",
            req("CONNECT", &o, &o, "Content-Length: 5\r\n"),
            "connect_with_body",
        ),
        (
            "connect without a port",
            req("CONNECT", "origin.test", "origin.test", ""),
            "missing_port",
        ),
        (
            "connect to port 0",
            req("CONNECT", "origin.test:0", "origin.test:0", ""),
            "bad_port",
        ),
        (
            "connect with userinfo",
            req("CONNECT", &format!("u:p@{o}"), &o, ""),
            "userinfo",
        ),
        (
            "connect with an absolute-form target",
            req("CONNECT", &format!("http://{o}/"), &o, ""),
            "bad_authority",
        ),
        (
            "ipv6 zone id",
            req("GET", &format!("http://[fe80::1%25eth0]:{p}/"), &o, ""),
            "bad_host",
        ),
        (
            "unbracketed ipv6",
            req("GET", &format!("http://::1:{p}/"), &o, ""),
            "bad_authority",
        ),
    ];
    for (name, request, code) in &cases {
        let r = exchange(gw.proxy, request).await;
        let ctx = format!("{name}: {}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-rule").as_deref(),
            Some(*code),
            "{ctx}"
        );
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("error"),
            "{ctx}"
        );
        assert!(r.closed, "{ctx}");
        assert!(
            !r.text.contains("hunter2"),
            "the password was echoed: {ctx}"
        );
        assert_eq!(origin.connections(), 0, "{name} reached the origin");
        assert_eq!(origin.seen_bytes(), 0, "{name} reached the origin");
    }
    gw.flush_audit().await;
    let rows = gw.audit();
    for (name, _, code) in &cases {
        assert!(
            rows.iter()
                .any(|r| r.rule == *code && r.stage == "destination" && r.principal.is_none()),
            "no destination-stage audit row for {name}: {rows:#?}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_passwords_are_not_recorded_in_the_audit_trail() {
    // Userinfo is refused and never echoed to the client; the password it carries must not end up in
    // the audit trail or the Squid log either (anyone who may read the trail would read it).
    let (origin, gw, auth) = setup().await;
    let p = origin.port();
    for target in [
        format!("http://user:hunter2@origin.test:{p}/"),
        format!("http://hunter2@origin.test:{p}/"),
    ] {
        let r = exchange(
            gw.proxy,
            format!("GET {target} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(r.status(), 400, "{}", r.text);
        assert_eq!(r.header("x-gatehouse-rule").as_deref(), Some("userinfo"));
        assert!(!r.text.contains("hunter2"), "{}", r.text);
    }
    assert_eq!(origin.seen_bytes(), 0);
    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(
        rows.iter().filter(|r| r.rule == "userinfo").count(),
        2,
        "{rows:#?}"
    );
    let leaked: Vec<_> = rows
        .iter()
        .filter(|r| format!("{r:?}").contains("hunter2"))
        .collect();
    assert!(
        leaked.is_empty(),
        "the password is in the audit trail: {leaked:#?}"
    );
    let squid = std::fs::read_to_string(gw.data_path().join("access.log")).unwrap_or_default();
    assert!(
        !squid.contains("hunter2"),
        "the password is in access.log:\n{squid}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_chunked_body_reaches_the_origin_normalised() {
    // Chunk extensions and trailer fields are what the client wrote around the data; none of it
    // reaches the origin, so a trailer cannot smuggle a framing header.
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let mut sink = Sink::start_with("127.0.0.2", true).await;
    let sp = sink.addr.port();
    let req = format!(
        "POST http://origin.test:{sp}/up HTTP/1.1\r\nHost: origin.test:{sp}\r\nProxy-Authorization: {auth}\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n\
         5;ext=1;name=\"quo\\\"ted\"\r\nhello\r\n6 ;ext\r\n world\r\n000A\r\n0123456789\r\n0;last\r\nContent-Length: 100\r\nTransfer-Encoding: identity\r\nX-Trailer: smuggle\r\n\r\n"
    );
    let r = exchange(gw.proxy, req.as_bytes()).await;
    assert!(r.text.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.text);
    assert!(r.text.ends_with("\r\n\r\nok\n"), "{}", r.text);
    assert!(r.closed);
    let st = sink
        .wait_for("the whole body", |st| {
            st.conns
                .first()
                .is_some_and(|(b, _)| b.ends_with(b"\r\n0\r\n\r\n"))
        })
        .await;
    assert_eq!(st.conns.len(), 1);
    let all = String::from_utf8_lossy(&st.conns[0].0).into_owned();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /up HTTP/1.1\r\n"), "{all}");
    assert_eq!(head.matches("Transfer-Encoding").count(), 1, "{all}");
    assert!(head.contains("\r\nTransfer-Encoding: chunked"), "{all}");
    assert!(!head.contains("Content-Length"), "{all}");
    assert_eq!(
        body, "5\r\nhello\r\n6\r\n world\r\na\r\n0123456789\r\n0\r\n\r\n",
        "{all}"
    );
    assert!(
        !all.contains("ext") && !all.contains("smuggle") && !all.contains("identity"),
        "{all}"
    );
    gw.shutdown().await;
}
