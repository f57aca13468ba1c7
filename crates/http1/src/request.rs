//! Request heads: [`parse_request_head`] and the validated [`RequestHead`] it returns.
//!
//! Strict by design (RFC 9112 §2.2, §3, §5, §6): only CRLF line ends, exactly one SP between
//! the parts of the request line, no obsolete line folding, one Host, and a message body
//! length that can be read only one way. Anything ambiguous is refused with a [`HeadError`].

use memchr::memchr;

use crate::chars::{is_ows, is_tchar, CR, LF, SP};
use crate::error::{shown, HeadError};
use crate::fields::{
    parse_block, parse_content_length, scan_block, Block, ConnectionInfo, Scan, Summary,
};
use crate::{Limits, Parsed, Version};

/// Leading empty lines ignored before the request line (RFC 9112 §2.2 says at least one).
const MAX_LEADING_EMPTY_LINES: usize = 4;

/// How the request message body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body.
    None,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// A chunked body follows; decode it with [`crate::ChunkedDecoder`].
    Chunked,
}

/// A validated request head. Owns a copy of the head bytes; names and values are ranges into
/// that copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    block: Block,
    method: (u32, u32),
    target: (u32, u32),
    version: Version,
    framing: RequestFraming,
}

impl RequestHead {
    /// The method token, case-sensitive as sent.
    pub fn method(&self) -> &str {
        std::str::from_utf8(self.block.slice(self.method.0, self.method.1)).unwrap_or_default()
    }

    /// Whether the method is `CONNECT`.
    pub fn is_connect(&self) -> bool {
        self.method() == "CONNECT"
    }

    /// Whether the method is `HEAD`.
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }

    /// The request-target exactly as sent (visible ASCII, no spaces).
    pub fn target(&self) -> &str {
        std::str::from_utf8(self.block.slice(self.target.0, self.target.1)).unwrap_or_default()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The field lines in order: name as sent, value with surrounding OWS removed.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.block.headers()
    }

    /// Number of field lines.
    pub fn len_headers(&self) -> usize {
        self.block.fields.len()
    }

    /// Value of the first field named `name` (compared case-insensitively).
    pub fn header(&self, name_lower: &str) -> Option<&[u8]> {
        self.block.header(name_lower)
    }

    /// Number of field lines named `name` (compared case-insensitively).
    pub fn header_count(&self, name_lower: &str) -> usize {
        self.block.header_count(name_lower)
    }

    /// The value of the single Host field, if any.
    pub fn host(&self) -> Option<&[u8]> {
        self.block.value_at(self.block.summary.host)
    }

    /// How the message body is delimited.
    pub fn framing(&self) -> RequestFraming {
        self.framing
    }

    /// The Connection header's options.
    pub fn connection(&self) -> ConnectionInfo<'_> {
        self.block.connection()
    }

    /// Whether the client wants the connection kept open after this exchange: HTTP/1.1 unless
    /// `close` is listed, HTTP/1.0 only when `keep-alive` is listed (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.block.summary)
    }

    /// Whether an Expect field is `100-continue` (case-insensitive).
    pub fn expect_continue(&self) -> bool {
        self.block.headers().any(|(n, v)| {
            n.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case(b"100-continue")
        })
    }

    /// The Upgrade value, when Connection lists `upgrade`.
    pub fn upgrade(&self) -> Option<&[u8]> {
        self.block.upgrade()
    }

    /// The raw head bytes, including any ignored leading empty lines and the final CRLFCRLF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.block.bytes
    }

    /// The Max-Forwards value (RFC 9110 §7.6.2): `Ok(None)` when the field is absent.
    ///
    /// The grammar is `1*DIGIT`, one value: a second field line (which would combine into a
    /// list) is refused like a list, because two intermediaries could pick different elements.
    /// **Stricter:** at most 19 digits, as for Content-Length, so the value fits `u64`. Not
    /// checked by [`parse_request_head`]: the field means something for OPTIONS and TRACE
    /// only, and the caller decides for which methods it reads it.
    pub fn max_forwards(&self) -> Result<Option<u64>, HeadError> {
        let mut values = self.block.values("max-forwards");
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if let Some(second) = values.next() {
            let mut combined = first.to_vec();
            combined.extend_from_slice(b", ");
            combined.extend_from_slice(second);
            return Err(HeadError::BadMaxForwards(shown(&combined)));
        }
        // The same grammar and bound as Content-Length: `1*DIGIT`, at most 19 digits.
        match parse_content_length(first) {
            Some(n) => Ok(Some(n)),
            None => Err(HeadError::BadMaxForwards(shown(first))),
        }
    }
}

pub(crate) fn keep_alive(version: Version, summary: &Summary) -> bool {
    match version {
        Version::Http11 => !summary.close,
        Version::Http10 => summary.keep_alive && !summary.close,
    }
}

/// Effective head limit: offsets are stored as `u32`.
pub(crate) fn head_limit(limits: &Limits) -> usize {
    limits.max_head_bytes.min(u32::MAX as usize)
}

pub(crate) fn partial_or_too_large<T>(buf: &[u8], max: usize) -> Result<Parsed<T>, HeadError> {
    if buf.len() > max {
        Err(HeadError::HeaderTooLarge(max))
    } else {
        Ok(Parsed::Partial)
    }
}

/// Parses a request head from the start of `buf`.
///
/// Returns [`Parsed::Partial`] while the head is incomplete and nothing seen so far is
/// invalid; call again with the same bytes plus more. Limits are enforced on partial input
/// too, so a client cannot make the caller buffer more than `max_head_bytes`. Bytes after the
/// head (a body, a pipelined request) are not looked at.
///
/// The cost of a call on partial input is one `memchr` walk over the buffer.
pub fn parse_request_head(buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, HeadError> {
    let max = head_limit(limits);
    let window = &buf[..buf.len().min(max)];

    // RFC 9112 §2.2: ignore a few empty lines before the request line.
    let mut pos = 0;
    let mut empty = 0;
    loop {
        match window.get(pos) {
            None => return partial_or_too_large(buf, max),
            Some(&CR) => match window.get(pos + 1) {
                None => return partial_or_too_large(buf, max),
                Some(&LF) => {
                    empty += 1;
                    if empty > MAX_LEADING_EMPTY_LINES {
                        return Err(HeadError::BadRequestLine(
                            "too many empty lines before the request line",
                        ));
                    }
                    pos += 2;
                }
                Some(_) => return Err(HeadError::BareCr),
            },
            Some(&LF) => return Err(HeadError::BareLf),
            Some(_) => break,
        }
    }

    let line_start = pos;
    let Some(rel) = memchr(LF, &window[line_start..]) else {
        check_partial_request_line(&window[line_start..], limits)?;
        return partial_or_too_large(buf, max);
    };
    let lf = line_start + rel;
    if lf == line_start || window[lf - 1] != CR {
        // Still report a bad or too long request line first, as for partial input.
        check_partial_request_line(&window[line_start..lf], limits)?;
        return Err(HeadError::BareLf);
    }
    let line = RequestLine::parse(window, line_start, lf - 1, limits)?;

    let fields_start = lf + 1;
    let stop = match scan_block(window, fields_start, false, limits.max_headers)? {
        Scan::Partial => return partial_or_too_large(buf, max),
        Scan::Stop(stop) => stop,
    };
    let mut fields = Vec::with_capacity(8);
    let mut summary = Summary::default();
    let len = parse_block(window, fields_start, stop, false, &mut fields, &mut summary)?;

    let block = Block {
        bytes: window[..len].into(),
        fields,
        summary,
    };
    let framing = request_semantics(&block, line.version)?;
    Ok(Parsed::Complete {
        head: RequestHead {
            block,
            method: line.method,
            target: line.target,
            version: line.version,
            framing,
        },
        len,
    })
}

struct RequestLine {
    method: (u32, u32),
    target: (u32, u32),
    version: Version,
}

impl RequestLine {
    /// Parses `window[start..end]`, the request line without its CRLF.
    fn parse(window: &[u8], start: usize, end: usize, limits: &Limits) -> Result<Self, HeadError> {
        let line = &window[start..end];
        let Some(sp1) = memchr(SP, line) else {
            check_method(line)?;
            return Err(HeadError::BadRequestLine("missing request target"));
        };
        check_method(&line[..sp1])?;
        let rest = &line[sp1 + 1..];
        let Some(sp2) = memchr(SP, rest) else {
            check_target(rest, limits)?;
            return Err(HeadError::BadRequestLine("missing http version"));
        };
        let target = &rest[..sp2];
        check_target(target, limits)?;
        let version = parse_version(&rest[sp2 + 1..])?;
        let ts = start + sp1 + 1;
        Ok(Self {
            method: (start as u32, (start + sp1) as u32),
            target: (ts as u32, (ts + sp2) as u32),
            version,
        })
    }
}

fn check_method(method: &[u8]) -> Result<(), HeadError> {
    if method.is_empty() {
        return Err(HeadError::BadRequestLine("empty method"));
    }
    match method.iter().find(|&&b| !is_tchar(b)) {
        None => Ok(()),
        Some(&CR) => Err(HeadError::BareCr),
        Some(_) => Err(HeadError::BadRequestLine("method is not a token")),
    }
}

fn check_target(target: &[u8], limits: &Limits) -> Result<(), HeadError> {
    if target.is_empty() {
        return Err(HeadError::BadRequestLine("empty request target"));
    }
    if target.len() > limits.max_uri_bytes {
        return Err(HeadError::UriTooLong(limits.max_uri_bytes));
    }
    match target.iter().find(|b| !(0x21..=0x7e).contains(*b)) {
        None => Ok(()),
        Some(&CR) => Err(HeadError::BareCr),
        Some(_) => Err(HeadError::BadRequestLine(
            "request target holds a byte outside visible ascii",
        )),
    }
}

/// Early checks on an incomplete request line (`avail` has no LF), so that garbage (a TLS
/// handshake, a binary protocol) and over-long targets are refused without waiting.
fn check_partial_request_line(avail: &[u8], limits: &Limits) -> Result<(), HeadError> {
    // A trailing CR may be the start of the line's CRLF.
    let avail = avail.strip_suffix(b"\r").unwrap_or(avail);
    let Some(sp1) = memchr(SP, avail) else {
        return if avail.is_empty() {
            Ok(())
        } else {
            check_method(avail)
        };
    };
    check_method(&avail[..sp1])?;
    let rest = &avail[sp1 + 1..];
    let target = match memchr(SP, rest) {
        Some(sp2) => &rest[..sp2],
        None if rest.is_empty() => return Ok(()),
        None => rest,
    };
    check_target(target, limits)
}

/// `HTTP-version = "HTTP/" DIGIT "." DIGIT` (RFC 9112 §2.3); HTTP/1.x is served, as 1.0 or 1.1.
pub(crate) fn parse_version(v: &[u8]) -> Result<Version, HeadError> {
    match http1_version(v) {
        Some(version) => Ok(version),
        None if memchr(SP, v).is_some() => Err(HeadError::BadRequestLine(
            "more than one space between parts",
        )),
        None if memchr(CR, v).is_some() => Err(HeadError::BareCr),
        None if is_well_formed_version(v) => Err(HeadError::UnsupportedVersion(shown(v))),
        None => Err(HeadError::BadVersion(shown(v))),
    }
}

/// The version a message written with `v` is processed as: `HTTP/1.0` as 1.0, `HTTP/1.1` and
/// every higher minor version of major version 1 as 1.1 (RFC 9110 §2.5: a recipient processes a
/// higher minor version as the highest minor version it conforms to); `None` for anything else.
pub(crate) fn http1_version(v: &[u8]) -> Option<Version> {
    match v {
        b"HTTP/1.0" => Some(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'..=b'9'] => Some(Version::Http11),
        _ => None,
    }
}

/// Whether `v` has the shape `HTTP/DIGIT.DIGIT`.
pub(crate) fn is_well_formed_version(v: &[u8]) -> bool {
    v.len() == 8
        && v.starts_with(b"HTTP/")
        && v[5].is_ascii_digit()
        && v[6] == b'.'
        && v[7].is_ascii_digit()
}

/// Framing and Host rules for requests (RFC 9112 §3.2, §6.1, §6.3).
fn request_semantics(block: &Block, version: Version) -> Result<RequestFraming, HeadError> {
    let summary = &block.summary;
    match summary.host_count {
        0 if version == Version::Http11 => return Err(HeadError::MissingHost),
        0 | 1 => {}
        _ => return Err(HeadError::DuplicateHost),
    }
    if let Some(host) = block.value_at(summary.host) {
        if host.iter().any(|&b| is_ows(b)) {
            return Err(HeadError::BadHost(shown(host)));
        }
    }

    if summary.transfer_encoding_count > 0 {
        if summary.content_length_count > 0 {
            return Err(HeadError::ContentLengthWithTransferEncoding);
        }
        if version == Version::Http10 {
            return Err(HeadError::TransferEncodingHttp10);
        }
        if summary.transfer_encoding_count > 1 {
            return Err(HeadError::DuplicateTransferEncoding);
        }
        let te = block
            .value_at(summary.transfer_encoding)
            .unwrap_or_default();
        if !te.eq_ignore_ascii_case(b"chunked") {
            return Err(HeadError::BadTransferEncoding(shown(te)));
        }
        return Ok(RequestFraming::Chunked);
    }
    if summary.content_length_count > 1 {
        return Err(HeadError::DuplicateContentLength);
    }
    if let Some(cl) = block.value_at(summary.content_length) {
        return match parse_content_length(cl) {
            Some(n) => Ok(RequestFraming::ContentLength(n)),
            None => Err(HeadError::BadContentLength(shown(cl))),
        };
    }
    Ok(RequestFraming::None)
}
