//! Response heads from origins: [`parse_response_head`], [`ResponseHead`] and the message
//! body length rules of RFC 9112 §6.3.
//!
//! A little more lenient than requests, as RFC 9112 §2.2 allows a recipient to be: a bare LF
//! ends a line, and identical repeated Content-Length values count as one (RFC 9110 §8.6).
//! Transfer codings other than `chunked` are accepted and framed as RFC 9112 §6.3 item 4 says:
//! a body whose final coding is `chunked` is chunked, any other body runs until the origin
//! closes. Content-Length next to Transfer-Encoding is ignored (§6.3 item 3), and
//! [`ResponseHead::content_length_overridden`] says so, for a caller that wants to stop trusting
//! the connection. Still refused: bare CR, NUL and other control characters, obsolete line
//! folding, invalid field names, conflicting Content-Length values, and a Transfer-Encoding that
//! could be read two ways: in HTTP/1.0, on two field lines, empty, with an element that is not
//! a bare token (parameters included), with `chunked` twice or anywhere but last.

use memchr::memchr;

use crate::chars::{is_token, is_value_byte, CR, LF, SP};
use crate::error::{shown, HeadError};
use crate::fields::{
    list_elements, parse_block, parse_content_length, scan_block, Block, ConnectionInfo, Scan,
    Summary,
};
use crate::request::{
    head_limit, http1_version, is_well_formed_version, keep_alive, partial_or_too_large,
};
use crate::{Limits, Parsed, Version};

/// How a response message body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: a response to HEAD, 1xx, 204, 304, or 2xx to CONNECT (a tunnel follows).
    None,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// A chunked body follows; decode it with [`crate::ChunkedDecoder`].
    Chunked,
    /// The body runs until the origin closes the connection.
    UntilClose,
}

/// A validated response head. Owns a copy of the head bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    block: Block,
    version: Version,
    status: u16,
    reason: (u32, u32),
    content_length: Option<u64>,
    /// `Some(final coding is chunked)` when Transfer-Encoding is present.
    transfer_encoding: Option<bool>,
}

impl ResponseHead {
    /// The status code, in `100..=599`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase; empty when absent or not valid UTF-8 (see [`Self::reason_bytes`]).
    pub fn reason(&self) -> &str {
        std::str::from_utf8(self.reason_bytes()).unwrap_or_default()
    }

    /// The reason phrase as sent (may hold obs-text).
    pub fn reason_bytes(&self) -> &[u8] {
        self.block.slice(self.reason.0, self.reason.1)
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The field lines in order: name as sent, value with surrounding OWS removed.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.block.headers()
    }

    /// Value of the first field named `name` (compared case-insensitively).
    pub fn header(&self, name_lower: &str) -> Option<&[u8]> {
        self.block.header(name_lower)
    }

    /// Number of field lines named `name` (compared case-insensitively).
    pub fn header_count(&self, name_lower: &str) -> usize {
        self.block.header_count(name_lower)
    }

    /// The Connection header's options.
    pub fn connection(&self) -> ConnectionInfo<'_> {
        self.block.connection()
    }

    /// Whether the origin allows reusing the connection: HTTP/1.1 unless `close` is listed,
    /// HTTP/1.0 only when `keep-alive` is listed. A response framed
    /// [`ResponseFraming::UntilClose`] can never be followed by another one, whatever this says.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.block.summary)
    }

    /// The Upgrade value, when Connection lists `upgrade`.
    pub fn upgrade(&self) -> Option<&[u8]> {
        self.block.upgrade()
    }

    /// The raw head bytes, including the final empty line.
    pub fn as_bytes(&self) -> &[u8] {
        &self.block.bytes
    }

    /// The transfer codings applied to the body, in the order they were applied (RFC 9112 §6.1),
    /// `chunked` included (always last when present). Empty without Transfer-Encoding. Each is a
    /// token, as sent.
    pub fn transfer_codings(&self) -> impl Iterator<Item = &str> {
        let value = match self.transfer_encoding {
            Some(_) => self.block.header("transfer-encoding").unwrap_or_default(),
            None => &[],
        };
        // Validated as tokens at parse time, so ASCII.
        list_elements(value).map(|c| std::str::from_utf8(c).unwrap_or_default())
    }

    /// Whether the body carries a transfer coding other than `chunked` (`gzip, chunked`,
    /// `gzip`): bytes a recipient that does not know the coding cannot use.
    pub fn has_coding_besides_chunked(&self) -> bool {
        self.transfer_codings()
            .any(|c| !c.eq_ignore_ascii_case("chunked"))
    }

    /// Whether the response had both Transfer-Encoding and Content-Length. Transfer-Encoding
    /// decides the length and Content-Length is ignored (RFC 9112 §6.3 item 3), but such a
    /// message "ought to be handled as an error": a careful recipient does not reuse the
    /// connection it came on.
    pub fn content_length_overridden(&self) -> bool {
        self.transfer_encoding.is_some() && self.block.summary.content_length_count > 0
    }

    /// The message body length of this response to a request whose method was HEAD
    /// (`request_was_head`) or CONNECT (`request_was_connect`), per RFC 9112 §6.3.
    pub fn framing(&self, request_was_head: bool, request_was_connect: bool) -> ResponseFraming {
        let s = self.status;
        let no_body = request_was_head
            || (100..200).contains(&s)
            || s == 204
            || s == 304
            || (request_was_connect && (200..300).contains(&s));
        if no_body {
            ResponseFraming::None
        } else if let Some(final_chunked) = self.transfer_encoding {
            // §6.3 item 4: chunked when it is the final coding, otherwise until the close.
            if final_chunked {
                ResponseFraming::Chunked
            } else {
                ResponseFraming::UntilClose
            }
        } else if let Some(n) = self.content_length {
            ResponseFraming::ContentLength(n)
        } else {
            ResponseFraming::UntilClose
        }
    }
}

/// Parses a response head from the start of `buf`; see [`crate::parse_request_head`] for the
/// partial-input contract. Errors from this function should be answered with 502.
pub fn parse_response_head(buf: &[u8], limits: &Limits) -> Result<Parsed<ResponseHead>, HeadError> {
    let max = head_limit(limits);
    let window = &buf[..buf.len().min(max)];

    // Refuse a non-HTTP reply at once, even on partial input.
    let prefix = window.len().min(5);
    if window[..prefix] != b"HTTP/"[..prefix] {
        return Err(HeadError::BadStatusLine("does not start with `HTTP/`"));
    }
    let Some(lf) = memchr(LF, window) else {
        return partial_or_too_large(buf, max);
    };
    let end = if lf > 0 && window[lf - 1] == CR {
        lf - 1
    } else {
        lf
    };
    let (version, status, reason) = parse_status_line(window, end)?;

    let fields_start = lf + 1;
    let stop = match scan_block(window, fields_start, true, limits.max_headers)? {
        Scan::Partial => return partial_or_too_large(buf, max),
        Scan::Stop(stop) => stop,
    };
    let mut fields = Vec::with_capacity(8);
    let mut summary = Summary::default();
    let len = parse_block(window, fields_start, stop, true, &mut fields, &mut summary)?;
    let block = Block {
        bytes: window[..len].into(),
        fields,
        summary,
    };
    let (content_length, transfer_encoding) = response_semantics(&block, version)?;
    Ok(Parsed::Complete {
        head: ResponseHead {
            block,
            version,
            status,
            reason,
            content_length,
            transfer_encoding,
        },
        len,
    })
}

/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]` in `window[..end]`; the
/// SP before an empty reason may be missing.
fn parse_status_line(window: &[u8], end: usize) -> Result<(Version, u16, (u32, u32)), HeadError> {
    let line = &window[..end];
    if line.len() < 12 || line[8] != SP {
        return Err(HeadError::BadStatusLine("expected `HTTP/x.y nnn`"));
    }
    let v = &line[..8];
    let version = match http1_version(v) {
        Some(version) => version,
        None if is_well_formed_version(v) => return Err(HeadError::UnsupportedVersion(shown(v))),
        None => return Err(HeadError::BadVersion(shown(v))),
    };
    let code = &line[9..12];
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(HeadError::BadStatusLine("status code is not three digits"));
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(HeadError::BadStatusLine("status code outside 100..=599"));
    }
    let reason_start = match line.get(12) {
        None => 12,
        Some(&SP) => 13,
        Some(_) => return Err(HeadError::BadStatusLine("status code is not three digits")),
    };
    match line[reason_start..].iter().find(|&&b| !is_value_byte(b)) {
        None => {}
        Some(&CR) => return Err(HeadError::BareCr),
        Some(_) => {
            return Err(HeadError::BadStatusLine(
                "control character in reason phrase",
            ))
        }
    }
    Ok((version, status, (reason_start as u32, end as u32)))
}

/// Content-Length and Transfer-Encoding rules for responses. Returns the Content-Length and,
/// when Transfer-Encoding is present, whether its final coding is chunked.
fn response_semantics(
    block: &Block,
    version: Version,
) -> Result<(Option<u64>, Option<bool>), HeadError> {
    let summary = &block.summary;
    if summary.transfer_encoding_count > 0 {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
        if version == Version::Http10 {
            return Err(HeadError::TransferEncodingHttp10);
        }
        // Stricter: one field line. Two would combine into one list, but they are the classic
        // shape two parsers read differently (one sees the first line only).
        if summary.transfer_encoding_count > 1 {
            return Err(HeadError::DuplicateTransferEncoding);
        }
        let te = block
            .value_at(summary.transfer_encoding)
            .unwrap_or_default();
        let final_chunked = final_coding_is_chunked(te)?;
        // §6.3 item 3: Transfer-Encoding overrides Content-Length, which is not even parsed.
        return Ok((None, Some(final_chunked)));
    }
    let mut length = None;
    for value in block.values("content-length") {
        let mut any = false;
        for element in list_elements(value) {
            any = true;
            let n = parse_content_length(element)
                .ok_or_else(|| HeadError::BadContentLength(shown(value)))?;
            match length {
                None => length = Some(n),
                Some(m) if m == n => {}
                Some(_) => return Err(HeadError::ConflictingContentLength),
            }
        }
        if !any {
            return Err(HeadError::BadContentLength(shown(value)));
        }
    }
    Ok((length, None))
}

/// Validate a response's Transfer-Encoding list (RFC 9112 §6.1) and say whether its final coding
/// is chunked. Every element must be a bare token: parameters are refused (no registered coding
/// takes one, and a parser that does not expect them can misread the list). `chunked` may appear
/// once and only last (a sender must not apply it twice, and a coding applied after it would
/// leave parsers disagreeing about where the body ends).
fn final_coding_is_chunked(te: &[u8]) -> Result<bool, HeadError> {
    let mut count = 0usize;
    let mut chunked_at = None;
    for (i, coding) in list_elements(te).enumerate() {
        if !is_token(coding) {
            return Err(HeadError::BadTransferCodings(
                shown(te),
                "each coding must be a token without parameters",
            ));
        }
        if coding.eq_ignore_ascii_case(b"chunked") {
            if chunked_at.is_some() {
                return Err(HeadError::BadTransferCodings(
                    shown(te),
                    "chunked applied more than once",
                ));
            }
            chunked_at = Some(i);
        }
        count = i + 1;
    }
    if count == 0 {
        return Err(HeadError::BadTransferCodings(shown(te), "no coding"));
    }
    match chunked_at {
        Some(i) if i + 1 == count => Ok(true),
        Some(_) => Err(HeadError::BadTransferCodings(
            shown(te),
            "chunked is not the final coding",
        )),
        None => Ok(false),
    }
}
