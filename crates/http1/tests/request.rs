//! Request-head tests: happy paths, every refusal, limits, partial input and round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http1::{parse_request_head, HeadError, Limits, Parsed, RequestFraming, RequestHead, Version};

fn parse(input: &[u8]) -> Result<Parsed<RequestHead>, HeadError> {
    parse_request_head(input, &Limits::default())
}

fn complete_with(input: &[u8], limits: &Limits) -> (RequestHead, usize) {
    match parse_request_head(input, limits) {
        Ok(Parsed::Complete { head, len }) => (head, len),
        other => panic!(
            "expected complete for {:?}, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

fn complete(input: &[u8]) -> (RequestHead, usize) {
    complete_with(input, &Limits::default())
}

fn error_with(input: &[u8], limits: &Limits) -> HeadError {
    match parse_request_head(input, limits) {
        Err(e) => e,
        other => panic!(
            "expected error for {:?}, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

fn error(input: &[u8]) -> HeadError {
    error_with(input, &Limits::default())
}

/// A request line and Host around the given extra field lines.
fn with_fields(fields: &str) -> Vec<u8> {
    format!("POST /upload HTTP/1.1\r\nHost: example.com\r\n{fields}\r\n").into_bytes()
}

#[test]
fn absolute_form_get() {
    let input = b"GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n";
    let (head, len) = complete(input);
    assert_eq!(len, input.len());
    assert_eq!(head.method(), "GET");
    assert_eq!(head.target(), "http://example.com/a?b=c");
    assert_eq!(head.version(), Version::Http11);
    assert_eq!(head.framing(), RequestFraming::None);
    assert!(head.keep_alive());
    assert!(!head.is_connect());
    assert!(!head.is_head());
    assert!(!head.expect_continue());
    assert_eq!(head.upgrade(), None);
    assert_eq!(head.host(), Some(&b"example.com"[..]));
    assert_eq!(head.len_headers(), 3);
    let fields: Vec<_> = head.headers().collect();
    assert_eq!(
        fields,
        vec![
            ("Host", &b"example.com"[..]),
            ("User-Agent", &b"t/1"[..]),
            ("Accept", &b"*/*"[..]),
        ]
    );
    assert_eq!(head.header("user-agent"), Some(&b"t/1"[..]));
    assert_eq!(head.header("USER-AGENT"), Some(&b"t/1"[..]));
    assert_eq!(head.header("missing"), None);
    assert_eq!(head.header_count("host"), 1);
    assert_eq!(head.as_bytes(), &input[..]);
}

#[test]
fn connect_authority_form() {
    let (head, _) = complete(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert!(head.is_connect());
    assert_eq!(head.method(), "CONNECT");
    assert_eq!(head.target(), "example.com:443");
    assert_eq!(head.framing(), RequestFraming::None);
    // Method names are case-sensitive.
    let (head, _) = complete(b"connect example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert!(!head.is_connect());
    let (head, _) = complete(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(head.is_head());
    // CONNECT with a body length is parsed normally; the caller rejects it.
    let (head, _) = complete(b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(head.framing(), RequestFraming::ContentLength(3));
}

#[test]
fn post_with_content_length_and_pipelined_body() {
    let head_bytes = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\n";
    let mut input = head_bytes.to_vec();
    input.extend_from_slice(b"hello\nGET / HTTP/1.1\r\n");
    let (head, len) = complete(&input);
    assert_eq!(len, head_bytes.len());
    assert_eq!(head.framing(), RequestFraming::ContentLength(5));
    assert_eq!(head.as_bytes(), &head_bytes[..]);
}

#[test]
fn content_length_values() {
    for (value, expected) in [
        ("0", 0u64),
        ("005", 5),
        ("  42\t", 42),
        ("9999999999999999999", 9_999_999_999_999_999_999),
    ] {
        let (head, _) = complete(&with_fields(&format!("Content-Length: {value}\r\n")));
        assert_eq!(
            head.framing(),
            RequestFraming::ContentLength(expected),
            "{value}"
        );
    }
}

#[test]
fn chunked_request() {
    for te in ["chunked", "Chunked", "CHUNKED", " chunked\t"] {
        let (head, _) = complete(&with_fields(&format!("Transfer-Encoding: {te}\r\n")));
        assert_eq!(head.framing(), RequestFraming::Chunked, "{te}");
    }
}

/// RFC 9110 §2.5: a higher minor version of HTTP/1 is processed as HTTP/1.1, the highest minor
/// version gatehouse conforms to, with HTTP/1.1's rules (Host required, keep-alive by default).
#[test]
fn higher_minor_version_is_http11() {
    for v in ["1.2", "1.9"] {
        let input = format!("GET http://a/ HTTP/{v}\r\nHost: a\r\n\r\n");
        let (head, len) = complete(input.as_bytes());
        assert_eq!(len, input.len());
        assert_eq!(head.version(), Version::Http11, "{v}");
        assert!(head.keep_alive());
        let te =
            format!("POST http://a/ HTTP/{v}\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(complete(te.as_bytes()).0.framing(), RequestFraming::Chunked);
        let no_host = format!("GET http://a/ HTTP/{v}\r\n\r\n");
        assert_eq!(error(no_host.as_bytes()).code(), "missing_host");
    }
}

#[test]
fn http10_without_host() {
    let (head, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(head.version(), Version::Http10);
    assert!(!head.keep_alive());
    assert_eq!(head.host(), None);
    let (head, _) = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(head.keep_alive());
    let (head, _) = complete(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    assert!(!head.keep_alive());
}

#[test]
fn leading_empty_lines_are_ignored() {
    for n in 0..=4 {
        let mut input = b"\r\n".repeat(n);
        input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (head, len) = complete(&input);
        assert_eq!(len, input.len());
        assert_eq!(head.target(), "/");
    }
    let mut input = b"\r\n".repeat(5);
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(error(&input).code(), "bad_request_line");
}

#[test]
fn connection_options() {
    let (head, _) = complete(&with_fields(
        "Connection: close, X-Foo , ,Upgrade\r\nConnection: x-bar\r\nUpgrade: websocket\r\nX-Foo: 1\r\n",
    ));
    let conn = head.connection();
    assert!(conn.close);
    assert!(!conn.keep_alive);
    assert!(conn.upgrade);
    assert_eq!(conn.other, vec!["X-Foo", "x-bar"]);
    assert!(conn.lists("x-foo"));
    assert!(conn.lists("X-BAR"));
    assert!(conn.lists("upgrade"));
    assert!(conn.lists("close"));
    assert!(!conn.lists("keep-alive"));
    assert!(!conn.lists("host"));
    assert!(!head.keep_alive());
    assert_eq!(head.upgrade(), Some(&b"websocket"[..]));

    // Upgrade without Connection: upgrade is not an upgrade request.
    let (head, _) = complete(&with_fields("Upgrade: websocket\r\n"));
    assert_eq!(head.upgrade(), None);
    assert!(head.keep_alive());
}

#[test]
fn expect_continue() {
    let (head, _) = complete(&with_fields(
        "Expect: 100-Continue\r\nContent-Length: 1\r\n",
    ));
    assert!(head.expect_continue());
    let (head, _) = complete(&with_fields("Expect: 100-continue-x\r\n"));
    assert!(!head.expect_continue());
}

#[test]
fn max_forwards_is_one_decimal_number() {
    let value = |fields: &str| complete(&with_fields(fields)).0.max_forwards();
    assert_eq!(value(""), Ok(None));
    assert_eq!(value("Max-Forwards: 0\r\n"), Ok(Some(0)));
    assert_eq!(value("max-forwards: 007\r\n"), Ok(Some(7)));
    assert_eq!(value("Max-Forwards:  12 \r\n"), Ok(Some(12)));
    assert_eq!(
        value("Max-Forwards: 9999999999999999999\r\n"),
        Ok(Some(9_999_999_999_999_999_999))
    );
    for bad in [
        "Max-Forwards:\r\n",
        "Max-Forwards: -1\r\n",
        "Max-Forwards: +1\r\n",
        "Max-Forwards: 1.0\r\n",
        "Max-Forwards: 0x10\r\n",
        "Max-Forwards: 1 2\r\n",
        "Max-Forwards: 1, 2\r\n",
        "Max-Forwards: 3, 3\r\n",
        "Max-Forwards: 10000000000000000000\r\n",
        "Max-Forwards: 1\r\nMax-Forwards: 1\r\n",
    ] {
        let e = value(bad).unwrap_err();
        assert_eq!(e.code(), "bad_max_forwards", "{bad:?}: {e}");
        assert_eq!(e.status(), 400);
    }
    // Two lines are shown as the list they would combine into.
    assert_eq!(
        value("Max-Forwards: 1\r\nMax-Forwards: 2\r\n")
            .unwrap_err()
            .to_string(),
        "invalid max-forwards `1, 2`: expected one decimal number"
    );
}

#[test]
fn lenient_field_shapes_that_are_valid() {
    let (head, _) = complete(&with_fields(
        "X_Under_Score: 1\r\nX-Empty:\r\nX-Spaces:   \r\nX-Obs: caf\u{e9} \t\r\nX-Inner: a \t b\r\nx-unknown-!#$%&'*+.^`|~: v\r\n",
    ));
    assert_eq!(head.header("x_under_score"), Some(&b"1"[..]));
    assert_eq!(head.header("x-empty"), Some(&b""[..]));
    assert_eq!(head.header("x-spaces"), Some(&b""[..]));
    assert_eq!(head.header("x-obs"), Some("caf\u{e9}".as_bytes()));
    assert_eq!(head.header("x-inner"), Some(&b"a \t b"[..]));
    assert_eq!(head.header("X-UNKNOWN-!#$%&'*+.^`|~"), Some(&b"v"[..]));
    let (head, _) = complete(&with_fields("X-A: 1\r\nx-a: 2\r\n"));
    assert_eq!(head.header("x-a"), Some(&b"1"[..]));
    assert_eq!(head.header_count("X-A"), 2);
    // OPTIONS * and origin-form with query.
    let (head, _) = complete(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.target(), "*");
}

#[test]
fn refusals() {
    let te = |v: &str| with_fields(&format!("Transfer-Encoding: {v}\r\n"));
    let cl = |v: &str| with_fields(&format!("Content-Length: {v}\r\n"));
    let field = |f: &str| with_fields(&format!("{f}\r\n"));
    let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        // Line ends.
        (
            "bare lf after request line",
            b"GET / HTTP/1.1\nHost: a\r\n\r\n".to_vec(),
            "bare_lf",
            400,
        ),
        (
            "bare lf after field",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n".to_vec(),
            "bare_lf",
            400,
        ),
        (
            "bare lf final line",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n".to_vec(),
            "bare_lf",
            400,
        ),
        (
            "bare lf everywhere",
            b"GET / HTTP/1.1\nHost: a\n\n".to_vec(),
            "bare_lf",
            400,
        ),
        (
            "leading bare lf",
            b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bare_lf",
            400,
        ),
        (
            "leading crlf then bare lf",
            b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bare_lf",
            400,
        ),
        ("bare cr in value", field("X: a\rb"), "bare_cr", 400),
        ("bare cr in name", field("X\rY: a"), "bare_cr", 400),
        ("bare cr at value end", field("X: a\r"), "bare_cr", 400),
        (
            "bare cr in target",
            b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bare_cr",
            400,
        ),
        (
            "bare cr in method",
            b"G\rT / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bare_cr",
            400,
        ),
        (
            "bare cr after version",
            b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n".to_vec(),
            "bare_cr",
            400,
        ),
        (
            "leading bare cr",
            b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bare_cr",
            400,
        ),
        (
            "cr cr lf final",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n".to_vec(),
            "bare_cr",
            400,
        ),
        // Control characters.
        ("nul in value", field("X: a\0b"), "bad_header_value", 400),
        ("soh in value", field("X: \x01"), "bad_header_value", 400),
        ("del in value", field("X: a\x7fb"), "bad_header_value", 400),
        ("vt in value", field("X: a\x0bb"), "bad_header_value", 400),
        ("nul in name", field("X\0: a"), "bad_header_name", 400),
        (
            "nul in target",
            b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        // Folding and names.
        ("obs-fold sp", field("X: a\r\n b"), "obs_fold", 400),
        ("obs-fold htab", field("X: a\r\n\tb"), "obs_fold", 400),
        (
            "space before first field",
            b"GET / HTTP/1.1\r\n Host: a\r\n\r\n".to_vec(),
            "obs_fold",
            400,
        ),
        (
            "space before colon",
            field("X : a"),
            "whitespace_before_colon",
            400,
        ),
        (
            "tab before colon",
            field("X\t: a"),
            "whitespace_before_colon",
            400,
        ),
        (
            "host space before colon",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n".to_vec(),
            "whitespace_before_colon",
            400,
        ),
        ("empty name", field(": a"), "bad_header_name", 400),
        ("space in name", field("X Y: a"), "bad_header_name", 400),
        ("no colon", field("X-No-Colon"), "bad_header_name", 400),
        (
            "separator in name",
            field("X(y): a"),
            "bad_header_name",
            400,
        ),
        (
            "non-ascii name",
            field("H\u{f3}st: a"),
            "bad_header_name",
            400,
        ),
        ("slash in name", field("X/Y: a"), "bad_header_name", 400),
        // Request line.
        (
            "two spaces before target",
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "two spaces before version",
            b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "trailing space",
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "leading space",
            b" GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "tab separator",
            b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "http/0.9 simple request",
            b"GET /\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "method only",
            b"GET\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "method not token",
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "del in target",
            b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "non-ascii target",
            "GET /\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n"
                .as_bytes()
                .to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "tls handshake",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            "bad_request_line",
            400,
        ),
        (
            "empty request line",
            b"\r\n\r\n\r\n\r\n\r\n\r\n".to_vec(),
            "bad_request_line",
            400,
        ),
        // Versions.
        (
            "http/2.0",
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(),
            "unsupported_version",
            505,
        ),
        (
            "h2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            "unsupported_version",
            505,
        ),
        (
            "http/0.9",
            b"GET / HTTP/0.9\r\nHost: a\r\n\r\n".to_vec(),
            "unsupported_version",
            505,
        ),
        (
            "http/2.1",
            b"GET / HTTP/2.1\r\nHost: a\r\n\r\n".to_vec(),
            "unsupported_version",
            505,
        ),
        (
            "lower-case version",
            b"GET / http/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_version",
            400,
        ),
        (
            "version suffix",
            b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n".to_vec(),
            "bad_version",
            400,
        ),
        (
            "version no dot",
            b"GET / HTTP/11\r\nHost: a\r\n\r\n".to_vec(),
            "bad_version",
            400,
        ),
        (
            "version short",
            b"GET / HTTP/1\r\nHost: a\r\n\r\n".to_vec(),
            "bad_version",
            400,
        ),
        (
            "version two digits",
            b"GET / HTTP/10.0\r\nHost: a\r\n\r\n".to_vec(),
            "bad_version",
            400,
        ),
        // Transfer-Encoding.
        (
            "te gzip chunked",
            te("gzip, chunked"),
            "bad_transfer_encoding",
            400,
        ),
        (
            "te chunked twice",
            te("chunked, chunked"),
            "bad_transfer_encoding",
            400,
        ),
        ("te xchunked", te("xchunked"), "bad_transfer_encoding", 400),
        ("te chunkedx", te("chunkedx"), "bad_transfer_encoding", 400),
        ("te param", te("chunked;q=1"), "bad_transfer_encoding", 400),
        ("te quoted", te("\"chunked\""), "bad_transfer_encoding", 400),
        ("te empty", te(""), "bad_transfer_encoding", 400),
        (
            "te trailing comma",
            te("chunked,"),
            "bad_transfer_encoding",
            400,
        ),
        ("te identity", te("identity"), "bad_transfer_encoding", 400),
        (
            "te inner space",
            te("chun ked"),
            "bad_transfer_encoding",
            400,
        ),
        (
            "te non-ascii",
            te("chunked\u{a0}"),
            "bad_transfer_encoding",
            400,
        ),
        ("te vt", te("chunked\x0b"), "bad_header_value", 400),
        ("te ff", te("\x0cchunked"), "bad_header_value", 400),
        (
            "te two lines",
            with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
            "duplicate_transfer_encoding",
            400,
        ),
        (
            "te http/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            "transfer_encoding_http10",
            400,
        ),
        (
            "cl and te",
            with_fields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
            "content_length_with_transfer_encoding",
            400,
        ),
        (
            "te and cl",
            with_fields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
            "content_length_with_transfer_encoding",
            400,
        ),
        (
            "cl and bad te",
            with_fields("Transfer-Encoding: gzip\r\ncontent-length: 5\r\n"),
            "content_length_with_transfer_encoding",
            400,
        ),
        // Content-Length.
        ("cl list", cl("5, 5"), "bad_content_length", 400),
        ("cl list different", cl("5, 6"), "bad_content_length", 400),
        ("cl negative", cl("-1"), "bad_content_length", 400),
        ("cl plus", cl("+5"), "bad_content_length", 400),
        ("cl hex", cl("0x5"), "bad_content_length", 400),
        ("cl inner space", cl("5 5"), "bad_content_length", 400),
        ("cl empty", cl(""), "bad_content_length", 400),
        ("cl decimal", cl("1.0"), "bad_content_length", 400),
        (
            "cl 20 digits",
            cl("00000000000000000001"),
            "bad_content_length",
            400,
        ),
        (
            "cl overflow",
            cl("18446744073709551616"),
            "bad_content_length",
            400,
        ),
        (
            "cl non-ascii digit",
            cl("\u{663}"),
            "bad_content_length",
            400,
        ),
        (
            "cl twice identical",
            with_fields("Content-Length: 5\r\nContent-Length: 5\r\n"),
            "duplicate_content_length",
            400,
        ),
        (
            "cl twice different case",
            with_fields("Content-Length: 5\r\ncontent-length: 5\r\n"),
            "duplicate_content_length",
            400,
        ),
        // Host.
        (
            "missing host",
            b"GET / HTTP/1.1\r\nX: a\r\n\r\n".to_vec(),
            "missing_host",
            400,
        ),
        (
            "duplicate host",
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n".to_vec(),
            "duplicate_host",
            400,
        ),
        (
            "duplicate host http/1.0",
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            "duplicate_host",
            400,
        ),
        (
            "space in host",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(),
            "bad_host",
            400,
        ),
        (
            "tab in host",
            b"GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n".to_vec(),
            "bad_host",
            400,
        ),
        (
            "nul in host",
            b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n".to_vec(),
            "bad_header_value",
            400,
        ),
        // Connection.
        (
            "connection not token",
            field("Connection: close;x"),
            "bad_connection",
            400,
        ),
        (
            "connection quoted",
            field("Connection: \"close\""),
            "bad_connection",
            400,
        ),
    ];
    for (name, input, code, status) in cases {
        let e = error(&input);
        assert_eq!(e.code(), code, "{name}: {e}");
        assert_eq!(e.status(), status, "{name}: {e}");
        let msg = e.to_string();
        assert!(!msg.ends_with('.'), "{name}: {msg}");
        assert!(
            !msg.contains('\r') && !msg.contains('\n') && !msg.contains('\0'),
            "{name}: {msg}"
        );
    }
}

/// The same refusal whatever the split: refused inputs never turn into Complete, and each
/// prefix is either Partial or refused with the full input's code (or a limit).
#[test]
fn refusals_are_stable_under_splitting() {
    let inputs: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    ];
    for input in inputs {
        let full = error(input).code();
        for cut in 0..input.len() {
            match parse(&input[..cut]) {
                Ok(Parsed::Partial) => {}
                Err(e) => assert_eq!(
                    e.code(),
                    full,
                    "cut {cut} of {:?}",
                    input.escape_ascii().to_string()
                ),
                Ok(Parsed::Complete { .. }) => panic!("complete at cut {cut}"),
            }
        }
    }
}

#[test]
fn every_split_point_is_partial_then_complete() {
    let inputs: [&[u8]; 6] = [
        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        b"\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, x\r\nx: \t v \t\r\n\r\n",
    ];
    for input in inputs {
        let (full, len) = complete(input);
        assert_eq!(len, input.len());
        for cut in 0..input.len() {
            assert_eq!(
                parse(&input[..cut]),
                Ok(Parsed::Partial),
                "cut {cut} of {:?}",
                input.escape_ascii().to_string()
            );
        }
        // With trailing bytes (a body or the next request) the result is identical.
        let mut longer = input.to_vec();
        longer.extend_from_slice(b"\nbody\r\n\r\n");
        let (again, len2) = complete(&longer);
        assert_eq!(len2, len);
        assert_eq!(again, full);
    }
}

#[test]
fn uri_limit() {
    let limits = Limits {
        max_uri_bytes: 32,
        ..Limits::default()
    };
    let request =
        |n: usize| format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(n - 1)).into_bytes();
    let (head, _) = complete_with(&request(32), &limits);
    assert_eq!(head.target().len(), 32);
    let e = error_with(&request(33), &limits);
    assert_eq!((e.code(), e.status()), ("uri_too_long", 414));

    // Detected on partial input: no space within max_uri_bytes of the target start.
    let partial = format!("GET /{}", "a".repeat(31));
    assert_eq!(
        parse_request_head(partial.as_bytes(), &limits),
        Ok(Parsed::Partial)
    );
    let partial = format!("GET /{}", "a".repeat(32));
    let e = error_with(partial.as_bytes(), &limits);
    assert_eq!(e.code(), "uri_too_long");
    // A long target with its space already there but the line unfinished.
    let partial = format!("GET /{} HTTP/1", "a".repeat(32));
    assert_eq!(
        error_with(partial.as_bytes(), &limits).code(),
        "uri_too_long"
    );
}

#[test]
fn head_size_limit() {
    let base = b"GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
    let limits = Limits {
        max_head_bytes: 200,
        ..Limits::default()
    };
    let request = |total: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(total - base)
        )
        .into_bytes()
    };
    let exact = request(200);
    assert_eq!(exact.len(), 200);
    let (_, len) = complete_with(&exact, &limits);
    assert_eq!(len, 200);
    // Trailing body bytes past the limit do not count.
    let mut with_body = exact.clone();
    with_body.extend_from_slice(&[b'x'; 1000]);
    assert_eq!(complete_with(&with_body, &limits).1, 200);

    let over = request(201);
    let e = error_with(&over, &limits);
    assert_eq!((e.code(), e.status()), ("header_too_large", 431));

    // Partial: exactly max bytes without the end is still partial; one more is refused.
    let unfinished = &over[..200];
    assert_eq!(parse_request_head(unfinished, &limits), Ok(Parsed::Partial));
    let e = error_with(&over[..201], &limits);
    assert_eq!(e.code(), "header_too_large");
    // Also while still in the request line.
    let long_line = [b'A'; 201];
    assert_eq!(error_with(&long_line, &limits).code(), "header_too_large");
}

#[test]
fn header_count_limit() {
    let limits = Limits {
        max_headers: 10,
        ..Limits::default()
    };
    let request = |n: usize| {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 1..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    };
    let (head, _) = complete_with(&request(10), &limits);
    assert_eq!(head.len_headers(), 10);
    let e = error_with(&request(11), &limits);
    assert_eq!((e.code(), e.status()), ("too_many_headers", 431));
    // Partial input with too many lines already.
    let input = request(11);
    let e = error_with(&input[..input.len() - 2], &limits);
    assert_eq!(e.code(), "too_many_headers");
}

#[test]
fn round_trip() {
    let input = b"PUT /a/b?c HTTP/1.1\r\nHost: example.com\r\nContent-Length:  12 \r\nX-Obs: \xe9t\xe9\r\nX-Empty:\r\nAccept-Encoding: gzip, br\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n";
    let (first, _) = complete(input);
    let mut out = format!(
        "{} {} {}\r\n",
        first.method(),
        first.target(),
        first.version().as_str()
    )
    .into_bytes();
    for (name, value) in first.headers() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let (second, len) = complete(&out);
    assert_eq!(len, out.len());
    assert_eq!(second.method(), first.method());
    assert_eq!(second.target(), first.target());
    assert_eq!(second.version(), first.version());
    assert_eq!(second.framing(), first.framing());
    assert_eq!(
        second.headers().collect::<Vec<_>>(),
        first.headers().collect::<Vec<_>>()
    );
}
