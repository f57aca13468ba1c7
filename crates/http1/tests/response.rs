//! Response-head tests: status lines, lenient line ends, body length rules and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http1::{
    parse_response_head, HeadError, Limits, Parsed, ResponseFraming, ResponseHead, Version,
};

fn parse(input: &[u8]) -> Result<Parsed<ResponseHead>, HeadError> {
    parse_response_head(input, &Limits::default())
}

fn complete(input: &[u8]) -> (ResponseHead, usize) {
    match parse(input) {
        Ok(Parsed::Complete { head, len }) => (head, len),
        other => panic!(
            "expected complete for {:?}, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

fn error(input: &[u8]) -> HeadError {
    match parse(input) {
        Err(e) => e,
        other => panic!(
            "expected error for {:?}, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

#[test]
fn simple_response() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    let (head, len) = complete(input);
    assert_eq!(len, input.len() - 5);
    assert_eq!(head.status(), 200);
    assert_eq!(head.reason(), "OK");
    assert_eq!(head.version(), Version::Http11);
    assert_eq!(head.header("server"), Some(&b"x"[..]));
    assert_eq!(head.header_count("content-length"), 1);
    assert_eq!(head.headers().count(), 2);
    assert_eq!(
        head.framing(false, false),
        ResponseFraming::ContentLength(5)
    );
    assert!(head.keep_alive());
    assert_eq!(head.as_bytes(), &input[..len]);
}

#[test]
fn lenient_line_ends_and_reasons() {
    for input in [
        &b"HTTP/1.1 404 Not Found\nContent-Length: 0\n\n"[..],
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\n\r\n",
        b"HTTP/1.1 404 Not Found\nContent-Length: 0\r\n\n",
    ] {
        let (head, len) = complete(input);
        assert_eq!(len, input.len());
        assert_eq!(head.status(), 404);
        assert_eq!(head.reason(), "Not Found");
        assert_eq!(
            head.framing(false, false),
            ResponseFraming::ContentLength(0)
        );
    }
    for input in [
        &b"HTTP/1.1 204\r\n\r\n"[..],
        b"HTTP/1.1 204 \r\n\r\n",
        b"HTTP/1.1 204\n\n",
    ] {
        let (head, _) = complete(input);
        assert_eq!(head.status(), 204);
        assert_eq!(head.reason(), "");
    }
    let (head, _) = complete(b"HTTP/1.0 200 \xe7a va\tbien \r\n\r\n");
    assert_eq!(head.reason(), "");
    assert_eq!(head.reason_bytes(), b"\xe7a va\tbien ");
    assert_eq!(head.version(), Version::Http10);
    // RFC 9110 §2.5: a higher minor version of HTTP/1 is read as HTTP/1.1.
    let (head, _) = complete(b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(head.version(), Version::Http11);
    assert_eq!(head.status(), 200);
    assert!(head.keep_alive());
}

#[test]
fn framing_rules() {
    let cases: [(&[u8], bool, bool, ResponseFraming); 14] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true, false, ResponseFraming::None),
        (b"HTTP/1.1 100 Continue\r\n\r\n", false, false, ResponseFraming::None),
        (b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false, false, ResponseFraming::None),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", false, false, ResponseFraming::None),
        (b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, ResponseFraming::None),
        (b"HTTP/1.1 200 Connection established\r\n\r\n", false, true, ResponseFraming::None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, true, ResponseFraming::None),
        (b"HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", false, true, ResponseFraming::ContentLength(3)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, ResponseFraming::Chunked),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", false, false, ResponseFraming::Chunked),
        (b"HTTP/1.1 200 OK\r\n\r\n", false, false, ResponseFraming::UntilClose),
        (b"HTTP/1.0 200 OK\r\n\r\n", false, false, ResponseFraming::UntilClose),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", false, false, ResponseFraming::ContentLength(2)),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 2, 2\r\n\r\n", false, false, ResponseFraming::ContentLength(2)),
    ];
    for (input, head_req, connect_req, expected) in cases {
        let (head, _) = complete(input);
        assert_eq!(
            head.framing(head_req, connect_req),
            expected,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn transfer_codings_decide_the_framing() {
    // (Transfer-Encoding and other fields, framing, codings, content length overridden)
    let cases: [(&str, ResponseFraming, &[&str], bool); 8] = [
        (
            "Transfer-Encoding: chunked",
            ResponseFraming::Chunked,
            &["chunked"],
            false,
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            ResponseFraming::Chunked,
            &["gzip", "chunked"],
            false,
        ),
        (
            "Transfer-Encoding: x-custom ,, GZIP ,Chunked",
            ResponseFraming::Chunked,
            &["x-custom", "GZIP", "Chunked"],
            false,
        ),
        // §6.3 item 4: a final coding other than chunked runs until the close.
        (
            "Transfer-Encoding: gzip",
            ResponseFraming::UntilClose,
            &["gzip"],
            false,
        ),
        (
            "Transfer-Encoding: deflate, gzip",
            ResponseFraming::UntilClose,
            &["deflate", "gzip"],
            false,
        ),
        (
            "Transfer-Encoding: identity",
            ResponseFraming::UntilClose,
            &["identity"],
            false,
        ),
        // §6.3 item 3: Transfer-Encoding overrides Content-Length, whatever its value.
        (
            "Content-Length: 1\r\nTransfer-Encoding: chunked",
            ResponseFraming::Chunked,
            &["chunked"],
            true,
        ),
        (
            "Transfer-Encoding: gzip\r\nContent-Length: 1, 2",
            ResponseFraming::UntilClose,
            &["gzip"],
            true,
        ),
    ];
    for (fields, framing, codings, overridden) in cases {
        let input = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
        let (head, _) = complete(input.as_bytes());
        assert_eq!(head.framing(false, false), framing, "{fields}");
        assert_eq!(
            head.transfer_codings().collect::<Vec<_>>(),
            codings,
            "{fields}"
        );
        assert_eq!(head.content_length_overridden(), overridden, "{fields}");
        assert_eq!(
            head.has_coding_besides_chunked(),
            codings.len() > 1 || !codings[0].eq_ignore_ascii_case("chunked"),
            "{fields}"
        );
        // No body to frame: HEAD, 204, 304.
        assert_eq!(head.framing(true, false), ResponseFraming::None);
    }
    let (plain, _) = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(plain.transfer_codings().count(), 0);
    assert!(!plain.has_coding_besides_chunked());
    assert!(!plain.content_length_overridden());
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").to_string(),
        "invalid transfer-encoding `chunked, gzip`: chunked is not the final coding"
    );
}

#[test]
fn connection_and_keep_alive() {
    let (head, _) = complete(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(!head.keep_alive());
    assert!(head.connection().close);
    let (head, _) =
        complete(b"HTTP/1.0 200 OK\r\nConnection: keep-alive, X-Hop\r\nContent-Length: 0\r\n\r\n");
    assert!(head.keep_alive());
    assert_eq!(head.connection().other, vec!["X-Hop"]);
    let (head, _) = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(!head.keep_alive());
    let (head, _) = complete(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert_eq!(head.upgrade(), Some(&b"websocket"[..]));
}

#[test]
fn refusals() {
    let cases: [(&str, &[u8], &str); 39] = [
        ("short status", b"HTTP/1.1 20 OK\r\n\r\n", "bad_status_line"),
        (
            "long status",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            "bad_status_line",
        ),
        (
            "status below 100",
            b"HTTP/1.1 099 X\r\n\r\n",
            "bad_status_line",
        ),
        (
            "status above 599",
            b"HTTP/1.1 600 X\r\n\r\n",
            "bad_status_line",
        ),
        (
            "status not digits",
            b"HTTP/1.1 2x0 X\r\n\r\n",
            "bad_status_line",
        ),
        ("two spaces", b"HTTP/1.1  200 OK\r\n\r\n", "bad_status_line"),
        ("no status", b"HTTP/1.1\r\n\r\n", "bad_status_line"),
        ("garbage", b"FOO\r\n\r\n", "bad_status_line"),
        ("garbage partial", b"XTTP/1.1 2", "bad_status_line"),
        (
            "leading empty line",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            "bad_status_line",
        ),
        (
            "http/2.0",
            b"HTTP/2.0 200 OK\r\n\r\n",
            "unsupported_version",
        ),
        (
            "http/0.9",
            b"HTTP/0.9 200 OK\r\n\r\n",
            "unsupported_version",
        ),
        ("http/2", b"HTTP/2 200 OK\r\n\r\n", "bad_status_line"),
        (
            "lower-case version",
            b"http/1.1 200 OK\r\n\r\n",
            "bad_status_line",
        ),
        (
            "bad version shape",
            b"HTTP/1x1 200 OK\r\n\r\n",
            "bad_version",
        ),
        (
            "nul in reason",
            b"HTTP/1.1 200 O\0K\r\n\r\n",
            "bad_status_line",
        ),
        ("bare cr in reason", b"HTTP/1.1 200 O\rK\r\n\r\n", "bare_cr"),
        (
            "bare cr in field",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            "bare_cr",
        ),
        (
            "nul in value",
            b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
            "bad_header_value",
        ),
        (
            "obs-fold",
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
            "obs_fold",
        ),
        ("obs-fold lf", b"HTTP/1.1 200 OK\nX: a\n\tb\n\n", "obs_fold"),
        (
            "space before colon",
            b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
            "whitespace_before_colon",
        ),
        (
            "bad name",
            b"HTTP/1.1 200 OK\r\nX(: a\r\n\r\n",
            "bad_header_name",
        ),
        (
            "no colon",
            b"HTTP/1.1 200 OK\r\nXa\r\n\r\n",
            "bad_header_name",
        ),
        (
            "conflicting cl lines",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting_content_length",
        ),
        (
            "conflicting cl list",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
            "conflicting_content_length",
        ),
        (
            "bad cl",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
            "bad_content_length",
        ),
        (
            "empty cl",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "bad_content_length",
        ),
        (
            "te chunked twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te chunked not last",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te chunked not last, identity",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te empty",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te only commas",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te parameter",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te quoted",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te space inside",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip chunked\r\n\r\n",
            "bad_transfer_encoding",
        ),
        (
            "te twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "duplicate_transfer_encoding",
        ),
        (
            "te in http/1.0",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "transfer_encoding_http10",
        ),
        (
            "bad connection",
            b"HTTP/1.1 200 OK\r\nConnection: a b\r\n\r\n",
            "bad_connection",
        ),
    ];
    for (name, input, code) in cases {
        let e = error(input);
        assert_eq!(e.code(), code, "{name}: {e}");
    }
}

#[test]
fn every_split_point_is_partial_then_complete() {
    let inputs: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\n",
        b"HTTP/1.1 204\n\n",
        b"HTTP/1.0 302 Found\nLocation: /x\r\n\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    for input in inputs {
        let (full, len) = complete(input);
        assert_eq!(len, input.len());
        for cut in 0..input.len() {
            assert_eq!(parse(&input[..cut]), Ok(Parsed::Partial), "cut {cut}");
        }
        let mut longer = input.to_vec();
        longer.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(complete(&longer), (full, len));
    }
}

#[test]
fn limits() {
    let limits = Limits {
        max_head_bytes: 64,
        max_headers: 2,
        ..Limits::default()
    };
    let ok = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(matches!(
        parse_response_head(ok, &limits),
        Ok(Parsed::Complete { .. })
    ));
    let too_many = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        parse_response_head(too_many, &limits).unwrap_err().code(),
        "too_many_headers"
    );
    let big = format!("HTTP/1.1 200 OK\r\nA: {}\r\n\r\n", "x".repeat(60));
    assert_eq!(
        parse_response_head(big.as_bytes(), &limits)
            .unwrap_err()
            .code(),
        "header_too_large"
    );
}
