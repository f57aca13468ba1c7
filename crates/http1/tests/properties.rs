//! Properties of the head parsers and the chunked decoder that must hold for any bytes at all.
//!
//! Shared by two callers: the fuzz targets in `fuzz/` include this file (`#[path]`) and run it
//! on every generated input, and the `corpus` module replays the committed seed corpus through
//! it in every test run, without libFuzzer. Each `check_*` function panics with a message when a
//! property fails; returning means every property held.
//!
//! What is checked, beyond "does not panic":
//! - a head that parses is printed again (start line, `name: value` lines, empty line) and the
//!   printed head parses to the same head, whose print is the same bytes (a fixed point);
//! - every promise of the crate docs holds for an accepted head: CRLF only and one Host in
//!   requests, no bare CR, no obsolete line folding, tokens for names, trimmed values without
//!   control characters, no conflicting Content-Length, Transfer-Encoding only in HTTP/1.1, and a
//!   framing that follows from those fields. Requests: no Content-Length with Transfer-Encoding,
//!   and only `chunked`. Responses: any bare-token codings with `chunked` at most once and last
//!   (others are relayed, never decoded); Transfer-Encoding overrides Content-Length; a final
//!   coding other than `chunked` is read until the close;
//! - the partial-input contract: every prefix of an accepted or incomplete head is
//!   [`Parsed::Partial`], bytes after a head are not looked at, a refused head stays refused
//!   when more bytes arrive, and tighter limits never accept something different;
//! - error messages carry no control characters and codes are snake_case;
//! - the chunked decoder gives the same data and the same verdict however its input is split,
//!   never outputs more bytes than it was given, and its normalised re-encoding decodes to the
//!   same data; `check_chunked_prefix` fails exactly when the decoder fails on the same bytes;
//! - a start line's version is `HTTP/1.0`, or `HTTP/1.1` or a higher minor version of 1, which
//!   the head reports as 1.1 (RFC 9110 §2.5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http1::{
    check_chunked_prefix, encode_chunk_header, parse_request_head, parse_response_head, Chunk,
    ChunkError, ChunkedDecoder, HeadError, Limits, Parsed, RequestFraming, RequestHead,
    ResponseFraming, ResponseHead, Version, CHUNK_TRAILER, LAST_CHUNK,
};

/// The limits every head is parsed with: the defaults, and tight ones that short inputs reach.
fn limits() -> [Limits; 2] {
    [
        Limits::default(),
        Limits {
            max_head_bytes: 200,
            max_headers: 6,
            max_uri_bytes: 32,
        },
    ]
}

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 §5.5: field-vchar / obs-text, SP and HTAB inside.
fn is_value_byte(b: u8) -> bool {
    b == b' ' || b == b'\t' || (b >= 0x21 && b != 0x7f)
}

fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|e| e.trim_ascii())
        .filter(|e| !e.is_empty())
}

/// Cut points worth trying on `bytes`: the first and last few, both sides of every CR and LF,
/// and a spread in between. Bounded, so that a check stays fast on long inputs.
fn cuts(bytes: &[u8]) -> Vec<usize> {
    let n = bytes.len();
    let mut out: Vec<usize> = (0..n.min(6)).chain(n.saturating_sub(6)..n).collect();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            out.extend([i, i + 1]);
        }
        if out.len() > 600 {
            break;
        }
    }
    out.extend((1..16).map(|k| k * n / 16));
    out.retain(|&c| c < n);
    out.sort_unstable();
    out.dedup();
    out
}

/// Error codes are snake_case; messages have no control characters (no forged log lines) and
/// no final period.
fn check_head_error(e: &HeadError) {
    let code = e.code();
    assert!(
        !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "code {code:?}"
    );
    assert!(
        matches!(e.status(), 400 | 414 | 431 | 502 | 505),
        "status {}",
        e.status()
    );
    let msg = e.to_string();
    assert!(!msg.chars().any(char::is_control), "message {msg:?}");
    assert!(!msg.ends_with('.'), "message {msg:?}");
}

/// The version written in a start line is the one the head reports: `HTTP/1.0` is 1.0, and
/// `HTTP/1.1` and every higher minor version of 1 (RFC 9110 §2.5) are 1.1; nothing else is
/// accepted.
fn check_version(written: &[u8], version: Version) {
    let ok = match version {
        Version::Http10 => written == b"HTTP/1.0",
        Version::Http11 => {
            written.len() == 8
                && written.starts_with(b"HTTP/1.")
                && (b'1'..=b'9').contains(&written[7])
        }
    };
    assert!(ok, "version {:?} read as {version:?}", show(written));
}

/// Field lines (names and values) as owned values, for comparisons.
type Fields = Vec<(String, Vec<u8>)>;

/// Checks what every accepted head promises about its field lines; `lines` are the head's
/// lines after the start line, without line ends.
fn check_fields<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>, lines: &[&[u8]]) -> Fields {
    let fields: Fields = fields.map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
    for (name, value) in &fields {
        assert!(
            is_token(name.as_bytes()),
            "field name {name:?} is not a token"
        );
        assert!(
            value.iter().all(|&b| is_value_byte(b)),
            "value of {name} holds a control character: {:?}",
            show(value)
        );
        assert!(
            value.first().is_none_or(|&b| !is_ows(b)) && value.last().is_none_or(|&b| !is_ows(b)),
            "value of {name} not trimmed: {:?}",
            show(value)
        );
    }
    // One field per line, no obs-fold, no whitespace before the colon.
    assert_eq!(lines.len(), fields.len(), "field lines {lines:?}");
    for (line, (name, _)) in lines.iter().zip(&fields) {
        assert!(
            line.first().is_some_and(|&b| !is_ows(b)),
            "obs-fold accepted: {:?}",
            show(line)
        );
        assert!(line.starts_with(name.as_bytes()), "line {:?}", show(line));
        assert_eq!(line.get(name.len()), Some(&b':'), "line {:?}", show(line));
    }
    fields
}

fn count(fields: &Fields, name: &str) -> usize {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .count()
}

fn first<'f>(fields: &'f Fields, name: &str) -> Option<&'f [u8]> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The Connection options (close, keep-alive, upgrade, others) listed by all Connection fields.
fn connection_options(fields: &Fields) -> (bool, bool, bool, Vec<String>) {
    let (mut close, mut keep_alive, mut upgrade, mut other) = (false, false, false, Vec::new());
    for (_, v) in fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        for token in list_elements(v) {
            assert!(is_token(token), "connection option {:?}", show(token));
            match token.to_ascii_lowercase().as_slice() {
                b"close" => close = true,
                b"keep-alive" => keep_alive = true,
                b"upgrade" => upgrade = true,
                _ => other.push(String::from_utf8(token.to_vec()).unwrap()),
            }
        }
    }
    (close, keep_alive, upgrade, other)
}

fn expected_keep_alive(version: Version, close: bool, keep_alive: bool) -> bool {
    match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    }
}

/// Splits a complete head into lines (without line ends), checking its line ends: CRLF only
/// (`strict`) or CRLF and LF, never a CR that is not followed by LF.
fn head_lines(bytes: &[u8], strict: bool) -> Vec<&[u8]> {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(
                bytes.get(i + 1),
                Some(&b'\n'),
                "bare CR in {:?}",
                show(bytes)
            );
        }
        if b == b'\n' && strict {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "bare LF in {:?}",
                show(bytes)
            );
        }
    }
    assert!(bytes.ends_with(b"\n"), "head {:?}", show(bytes));
    let body = &bytes[..bytes.len() - 1];
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// Everything a caller can read from a request head.
#[derive(Debug, PartialEq, Eq)]
struct RequestView {
    method: String,
    target: String,
    version: Version,
    fields: Fields,
    framing: RequestFraming,
    keep_alive: bool,
    connection: (bool, bool, bool, Vec<String>),
    upgrade: Option<Vec<u8>>,
    expect_continue: bool,
    host: Option<Vec<u8>>,
    is_connect: bool,
    is_head: bool,
}

fn request_view(head: &RequestHead) -> RequestView {
    let c = head.connection();
    RequestView {
        method: head.method().to_owned(),
        target: head.target().to_owned(),
        version: head.version(),
        fields: head
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect(),
        framing: head.framing(),
        keep_alive: head.keep_alive(),
        connection: (
            c.close,
            c.keep_alive,
            c.upgrade,
            c.other.iter().map(|s| s.to_string()).collect(),
        ),
        upgrade: head.upgrade().map(<[u8]>::to_vec),
        expect_continue: head.expect_continue(),
        host: head.host().map(<[u8]>::to_vec),
        is_connect: head.is_connect(),
        is_head: head.is_head(),
    }
}

fn print_fields<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = (&'a str, &'a [u8])>) {
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The head printed in normal form: single spaces, `name: value`, CRLF, no leading empty lines.
pub fn print_request(head: &RequestHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.as_bytes().len() + 16);
    out.extend_from_slice(head.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.version().as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    print_fields(&mut out, head.headers());
    out
}

/// Every promise of an accepted request head, checked against its own bytes.
fn check_request_promises(head: &RequestHead, limits: &Limits) {
    let lines = head_lines(head.as_bytes(), true);
    let leading = lines.iter().take_while(|l| l.is_empty()).count();
    assert!(
        leading <= 4,
        "{leading} empty lines before the request line"
    );
    let request_line = lines[leading];
    let field_lines = &lines[leading + 1..lines.len() - 1];
    assert_eq!(lines.last(), Some(&&b""[..]), "no final empty line");

    let method = head.method().as_bytes();
    let target = head.target().as_bytes();
    assert!(is_token(method), "method {:?}", show(method));
    assert!(
        !target.is_empty() && target.len() <= limits.max_uri_bytes,
        "target length {}",
        target.len()
    );
    assert!(
        target.iter().all(|b| (0x21..=0x7e).contains(b)),
        "target {:?}",
        show(target)
    );
    let mut expected_line = method.to_vec();
    expected_line.push(b' ');
    expected_line.extend_from_slice(target);
    expected_line.push(b' ');
    assert_eq!(
        &request_line[..request_line.len().min(expected_line.len())],
        &expected_line[..],
        "request line"
    );
    check_version(&request_line[expected_line.len()..], head.version());

    let fields = check_fields(head.headers(), field_lines);
    assert!(fields.len() <= limits.max_headers);
    assert_eq!(head.len_headers(), fields.len());

    // One Host (exactly one in HTTP/1.1), without whitespace.
    let hosts = count(&fields, "host");
    assert_eq!(head.header_count("host"), hosts);
    match head.version() {
        Version::Http11 => assert_eq!(hosts, 1, "HTTP/1.1 request with {hosts} Host fields"),
        Version::Http10 => assert!(hosts <= 1, "{hosts} Host fields"),
    }
    assert_eq!(head.host(), first(&fields, "host"));
    if let Some(host) = head.host() {
        assert!(!host.iter().any(|&b| is_ows(b)), "host {:?}", show(host));
    }

    // Framing: one Content-Length or one `Transfer-Encoding: chunked` (HTTP/1.1), never both.
    let cl = count(&fields, "content-length");
    let te = count(&fields, "transfer-encoding");
    assert!(cl <= 1, "{cl} Content-Length fields");
    assert!(te <= 1, "{te} Transfer-Encoding fields");
    assert!(cl == 0 || te == 0, "Content-Length with Transfer-Encoding");
    let expected = if let Some(v) = first(&fields, "transfer-encoding") {
        assert!(v.eq_ignore_ascii_case(b"chunked"), "te {:?}", show(v));
        assert_eq!(head.version(), Version::Http11, "te in HTTP/1.0");
        RequestFraming::Chunked
    } else if let Some(v) = first(&fields, "content-length") {
        assert!(
            !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit),
            "content-length {:?}",
            show(v)
        );
        RequestFraming::ContentLength(std::str::from_utf8(v).unwrap().parse().unwrap())
    } else {
        RequestFraming::None
    };
    assert_eq!(head.framing(), expected);

    let (close, keep_alive, upgrade, other) = connection_options(&fields);
    let c = head.connection();
    assert_eq!(
        (c.close, c.keep_alive, c.upgrade),
        (close, keep_alive, upgrade)
    );
    assert_eq!(c.other, other);
    assert_eq!(
        head.keep_alive(),
        expected_keep_alive(head.version(), close, keep_alive)
    );
    let expected_upgrade = if upgrade {
        first(&fields, "upgrade")
    } else {
        None
    };
    assert_eq!(head.upgrade(), expected_upgrade);
    let expect_continue = fields
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case(b"100-continue"));
    assert_eq!(head.expect_continue(), expect_continue);
    assert_eq!(head.is_connect(), head.method() == "CONNECT");
    assert_eq!(head.is_head(), head.method() == "HEAD");
}

fn check_request_with(data: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, HeadError> {
    let got = parse_request_head(data, limits);
    match &got {
        Ok(Parsed::Complete { head, len }) => {
            let len = *len;
            assert!(
                len <= data.len() && len <= limits.max_head_bytes,
                "len {len}"
            );
            assert_eq!(head.as_bytes(), &data[..len]);
            assert_eq!(
                parse_request_head(&data[..len], limits),
                got,
                "bytes after the head changed the result"
            );
            for cut in cuts(&data[..len]) {
                assert_eq!(
                    parse_request_head(&data[..cut], limits),
                    Ok(Parsed::Partial),
                    "prefix of {cut} bytes of {:?}",
                    show(&data[..len])
                );
            }
            check_request_promises(head, limits);

            // Print, parse again: the same head, and printing that gives the same bytes.
            let printed = print_request(head);
            let wider = Limits {
                max_head_bytes: limits.max_head_bytes.max(printed.len()),
                ..*limits
            };
            match parse_request_head(&printed, &wider) {
                Ok(Parsed::Complete { head: again, len }) => {
                    assert_eq!(len, printed.len());
                    assert_eq!(
                        request_view(&again),
                        request_view(head),
                        "printed head {:?} reads differently",
                        show(&printed)
                    );
                    assert_eq!(print_request(&again), printed);
                }
                other => panic!(
                    "printed head {:?} of {:?} does not parse: {other:?}",
                    show(&printed),
                    show(head.as_bytes())
                ),
            }
        }
        Ok(Parsed::Partial) => {
            assert!(
                data.len() <= limits.max_head_bytes,
                "partial past the limit"
            );
            for cut in cuts(data) {
                assert_eq!(
                    parse_request_head(&data[..cut], limits),
                    Ok(Parsed::Partial),
                    "prefix of {cut} bytes of partial {:?}",
                    show(data)
                );
            }
        }
        Err(e) => {
            check_head_error(e);
            let mut more = data.to_vec();
            more.extend_from_slice(b"\r\n\r\n");
            let later = parse_request_head(&more, limits);
            assert!(
                later.is_err(),
                "refused with {e:?}, then accepted with more bytes: {later:?}"
            );
        }
    }
    got
}

/// The request-head properties of this module, on `data`.
pub fn check_request_head(data: &[u8]) {
    let [wide, tight] = limits();
    let w = check_request_with(data, &wide);
    let t = check_request_with(data, &tight);
    if t.is_ok() {
        assert_eq!(t, w, "tight limits read the head differently");
    }
}

/// Everything a caller can read from a response head.
#[derive(Debug, PartialEq, Eq)]
struct ResponseView {
    version: Version,
    status: u16,
    reason: Vec<u8>,
    fields: Fields,
    framings: [ResponseFraming; 4],
    keep_alive: bool,
    connection: (bool, bool, bool, Vec<String>),
    upgrade: Option<Vec<u8>>,
}

fn framings(head: &ResponseHead) -> [ResponseFraming; 4] {
    [
        head.framing(false, false),
        head.framing(true, false),
        head.framing(false, true),
        head.framing(true, true),
    ]
}

fn response_view(head: &ResponseHead) -> ResponseView {
    let c = head.connection();
    ResponseView {
        version: head.version(),
        status: head.status(),
        reason: head.reason_bytes().to_vec(),
        fields: head
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect(),
        framings: framings(head),
        keep_alive: head.keep_alive(),
        connection: (
            c.close,
            c.keep_alive,
            c.upgrade,
            c.other.iter().map(|s| s.to_string()).collect(),
        ),
        upgrade: head.upgrade().map(<[u8]>::to_vec),
    }
}

/// The head printed in normal form: `HTTP/1.x nnn reason`, `name: value`, CRLF line ends.
pub fn print_response(head: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.as_bytes().len() + 16);
    out.extend_from_slice(head.version().as_str().as_bytes());
    out.extend_from_slice(format!(" {:03} ", head.status()).as_bytes());
    out.extend_from_slice(head.reason_bytes());
    out.extend_from_slice(b"\r\n");
    print_fields(&mut out, head.headers());
    out
}

/// Every promise of an accepted response head, checked against its own bytes.
fn check_response_promises(head: &ResponseHead, limits: &Limits) {
    let lines = head_lines(head.as_bytes(), false);
    assert_eq!(lines.last(), Some(&&b""[..]), "no final empty line");
    let status_line = lines[0];
    let field_lines = &lines[1..lines.len() - 1];
    let status = head.status();
    assert!((100..=599).contains(&status), "status {status}");
    check_version(&status_line[..8], head.version());
    assert!(
        status_line[8..].starts_with(format!(" {status:03}").as_bytes()),
        "status line {:?}",
        show(status_line)
    );
    let reason = head.reason_bytes();
    assert!(
        status_line.len() == 12 || status_line[12..] == [&b" "[..], reason].concat()[..],
        "reason {:?} of {:?}",
        show(reason),
        show(status_line)
    );
    assert!(
        reason.iter().all(|&b| is_value_byte(b)),
        "reason {:?}",
        show(reason)
    );
    if std::str::from_utf8(reason).is_ok() {
        assert_eq!(head.reason().as_bytes(), reason);
    }

    let fields = check_fields(head.headers(), field_lines);
    assert!(fields.len() <= limits.max_headers);

    let te = count(&fields, "transfer-encoding");
    assert!(te <= 1, "{te} Transfer-Encoding fields");
    // A response may carry transfer codings besides `chunked` (they are relayed, never decoded):
    // every coding a bare token, `chunked` at most once and only last, HTTP/1.1 only. Then
    // Content-Length is overridden (RFC 9112 §6.3 item 3) and not even parsed.
    let chunked = if let Some(v) = first(&fields, "transfer-encoding") {
        assert_eq!(head.version(), Version::Http11, "te in HTTP/1.0");
        let codings: Vec<&[u8]> = list_elements(v).collect();
        assert!(!codings.is_empty(), "empty transfer-encoding");
        for (i, c) in codings.iter().enumerate() {
            assert!(is_token(c), "coding {:?}", show(c));
            if c.eq_ignore_ascii_case(b"chunked") {
                assert_eq!(i, codings.len() - 1, "chunked not last: {:?}", show(v));
            }
        }
        let last_chunked = codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        assert_eq!(
            head.has_coding_besides_chunked(),
            codings.iter().any(|c| !c.eq_ignore_ascii_case(b"chunked"))
        );
        Some(last_chunked)
    } else {
        None
    };
    let mut length = None;
    for (_, v) in fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length") && chunked.is_none())
    {
        assert!(list_elements(v).next().is_some(), "empty content-length");
        for e in list_elements(v) {
            assert!(
                !e.is_empty() && e.len() <= 19 && e.iter().all(u8::is_ascii_digit),
                "content-length {:?}",
                show(v)
            );
            let n: u64 = std::str::from_utf8(e).unwrap().parse().unwrap();
            assert!(
                length.is_none_or(|m| m == n),
                "conflicting content-length accepted"
            );
            length = Some(n);
        }
    }
    for (request_was_head, request_was_connect) in
        [(false, false), (true, false), (false, true), (true, true)]
    {
        let no_body = request_was_head
            || (100..200).contains(&status)
            || status == 204
            || status == 304
            || (request_was_connect && (200..300).contains(&status));
        let expected = match (no_body, chunked, length) {
            (true, _, _) => ResponseFraming::None,
            (false, Some(true), _) => ResponseFraming::Chunked,
            // A final coding other than chunked: the body runs until the close (§6.3 item 4).
            (false, Some(false), _) => ResponseFraming::UntilClose,
            (false, None, Some(n)) => ResponseFraming::ContentLength(n),
            (false, None, None) => ResponseFraming::UntilClose,
        };
        assert_eq!(
            head.framing(request_was_head, request_was_connect),
            expected
        );
    }

    let (close, keep_alive, upgrade, other) = connection_options(&fields);
    let c = head.connection();
    assert_eq!(
        (c.close, c.keep_alive, c.upgrade),
        (close, keep_alive, upgrade)
    );
    assert_eq!(c.other, other);
    assert_eq!(
        head.keep_alive(),
        expected_keep_alive(head.version(), close, keep_alive)
    );
    let expected_upgrade = if upgrade {
        first(&fields, "upgrade")
    } else {
        None
    };
    assert_eq!(head.upgrade(), expected_upgrade);
}

fn check_response_with(data: &[u8], limits: &Limits) -> Result<Parsed<ResponseHead>, HeadError> {
    let got = parse_response_head(data, limits);
    match &got {
        Ok(Parsed::Complete { head, len }) => {
            let len = *len;
            assert!(
                len <= data.len() && len <= limits.max_head_bytes,
                "len {len}"
            );
            assert_eq!(head.as_bytes(), &data[..len]);
            assert_eq!(
                parse_response_head(&data[..len], limits),
                got,
                "bytes after the head changed the result"
            );
            for cut in cuts(&data[..len]) {
                assert_eq!(
                    parse_response_head(&data[..cut], limits),
                    Ok(Parsed::Partial),
                    "prefix of {cut} bytes of {:?}",
                    show(&data[..len])
                );
            }
            check_response_promises(head, limits);

            let printed = print_response(head);
            let wider = Limits {
                max_head_bytes: limits.max_head_bytes.max(printed.len()),
                ..*limits
            };
            match parse_response_head(&printed, &wider) {
                Ok(Parsed::Complete { head: again, len }) => {
                    assert_eq!(len, printed.len());
                    assert_eq!(
                        response_view(&again),
                        response_view(head),
                        "printed head {:?} reads differently",
                        show(&printed)
                    );
                    assert_eq!(print_response(&again), printed);
                }
                other => panic!(
                    "printed head {:?} of {:?} does not parse: {other:?}",
                    show(&printed),
                    show(head.as_bytes())
                ),
            }
        }
        Ok(Parsed::Partial) => {
            assert!(
                data.len() <= limits.max_head_bytes,
                "partial past the limit"
            );
            for cut in cuts(data) {
                assert_eq!(
                    parse_response_head(&data[..cut], limits),
                    Ok(Parsed::Partial),
                    "prefix of {cut} bytes of partial {:?}",
                    show(data)
                );
            }
        }
        Err(e) => {
            check_head_error(e);
            let mut more = data.to_vec();
            more.extend_from_slice(b"\r\n\r\n");
            let later = parse_response_head(&more, limits);
            assert!(
                later.is_err(),
                "refused with {e:?}, then accepted with more bytes: {later:?}"
            );
        }
    }
    got
}

/// The response-head properties of this module, on `data`.
pub fn check_response_head(data: &[u8]) {
    let [wide, tight] = limits();
    let w = check_response_with(data, &wide);
    let t = check_response_with(data, &tight);
    if t.is_ok() {
        assert_eq!(t, w, "tight limits read the head differently");
    }
}

/// How a chunked body ended, for one way of feeding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The last chunk and trailers were read; the body used this many input bytes.
    End(usize),
    /// Every byte was consumed and the body is not complete yet.
    NeedMore,
    /// Refused.
    Failed(ChunkError),
}

/// Feeds `body` to a fresh decoder in segments ending at `ends` (ascending; the last segment
/// ends at `body.len()`), as successive socket reads would arrive, keeping the bytes the
/// decoder did not consume. Checks the decoder's per-call contract on the way.
pub fn decode_fed(body: &[u8], ends: &[usize]) -> (Vec<u8>, Verdict) {
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut ends = ends
        .iter()
        .copied()
        .filter(|&e| e <= body.len())
        .chain([body.len()]);
    let mut used = 0;
    loop {
        let (n, out) = match dec.decode(&pending) {
            Ok(step) => step,
            Err(e) => {
                // A failed decoder stays failed.
                assert_eq!(dec.decode(b"0\r\n\r\n"), Err(e));
                assert!(!dec.is_done());
                return (data, Verdict::Failed(e));
            }
        };
        assert!(n <= pending.len(), "consumed {n} of {}", pending.len());
        used += n;
        let need_more = out.is_none();
        match out {
            Some(Chunk::Data(d)) => {
                assert!(!d.is_empty(), "empty data chunk");
                assert_eq!(
                    d,
                    &pending[n - d.len()..n],
                    "data is not the consumed bytes"
                );
                data.extend_from_slice(d);
            }
            Some(Chunk::End) => {
                assert!(dec.is_done());
                // Once done, nothing more is consumed.
                assert_eq!(dec.decode(&pending[n..]), Ok((0, None)));
                assert_eq!(dec.decode(b"5\r\nhello\r\n"), Ok((0, None)));
                return (data, Verdict::End(used));
            }
            None => {
                assert_eq!(n, pending.len(), "`None` must consume everything");
                assert!(!dec.is_done());
            }
        }
        pending.drain(..n);
        if need_more {
            match ends.find(|&e| e > fed) {
                Some(end) => {
                    pending.extend_from_slice(&body[fed..end]);
                    fed = end;
                }
                None => return (data, Verdict::NeedMore),
            }
        }
    }
}

/// The fuzz input of the chunked properties: byte 0 gives the number of extra split points
/// (low 4 bits), the next bytes give their positions (scaled to the body length), and the
/// rest is the chunked body.
pub fn split_input(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = usize::from(n & 0x0f).min(rest.len());
    let (positions, body) = rest.split_at(n);
    let mut ends: Vec<usize> = positions
        .iter()
        .map(|&p| usize::from(p) * body.len() / 255)
        .collect();
    ends.sort_unstable();
    (ends, body)
}

/// The chunked-decoder properties of this module, on `data` (see [`split_input`]).
pub fn check_chunked(data: &[u8]) {
    let (ends, body) = split_input(data);
    let whole = decode_fed(body, &[]);
    let split = decode_fed(body, &ends);
    assert_eq!(split, whole, "split at {ends:?}: {:?}", show(body));
    let bytewise: Vec<usize> = (1..body.len()).collect();
    assert_eq!(
        decode_fed(body, &bytewise),
        whole,
        "byte by byte: {:?}",
        show(body)
    );

    let (decoded, verdict) = whole;
    assert!(decoded.len() <= body.len(), "more output than input");
    // The check made before forwarding fails exactly when the decoder would fail on the same
    // bytes, with the same error; an incomplete body or bytes after its end never fail it.
    let expected = match verdict {
        Verdict::Failed(e) => Err(e),
        Verdict::End(_) | Verdict::NeedMore => Ok(()),
    };
    assert_eq!(
        check_chunked_prefix(body),
        expected,
        "prefix check {:?}",
        show(body)
    );
    match verdict {
        Verdict::End(used) => {
            assert!(used <= body.len());
            // At least `0\r\n\r\n` of framing around the data.
            assert!(decoded.len() + LAST_CHUNK.len() <= used, "used {used}");
            // Nothing past the end of the body is looked at; nothing before it is enough.
            assert_eq!(
                decode_fed(&body[..used], &[]),
                (decoded.clone(), Verdict::End(used))
            );
            assert_eq!(decode_fed(&body[..used - 1], &[]).1, Verdict::NeedMore);

            // The normalised re-encoding (fresh chunk headers, no extensions, no trailers)
            // decodes to the same data, split the same way as the input was.
            let mut encoded = Vec::with_capacity(decoded.len() + 64);
            let mut start = 0;
            for end in ends
                .iter()
                .map(|&e| e.min(decoded.len()))
                .chain([decoded.len()])
            {
                if end > start {
                    encode_chunk_header(end - start, &mut encoded);
                    encoded.extend_from_slice(&decoded[start..end]);
                    encoded.extend_from_slice(CHUNK_TRAILER);
                    start = end;
                }
            }
            encoded.extend_from_slice(LAST_CHUNK);
            assert_eq!(
                decode_fed(&encoded, &[]),
                (decoded, Verdict::End(encoded.len())),
                "re-encoded {:?}",
                show(&encoded)
            );
        }
        Verdict::NeedMore => {}
        Verdict::Failed(e) => {
            assert!(
                e.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "code {}",
                e.code()
            );
            assert!(matches!(e.status(), 400 | 431));
            assert!(!e.to_string().chars().any(char::is_control));
        }
    }
}
