//! Response heads from origins: [`parse_response_head`], [`ResponseHead`] and the message
//! body length rules of RFC 9112 §6.3.
//!
//! A little more lenient than requests, as RFC 9112 §2.2 allows a recipient to be: a bare LF
//! ends a line, and identical repeated Content-Length values count as one (RFC 9110 §8.6).
//! Still refused: bare CR, NUL and other control characters, obsolete line folding, invalid
//! field names, conflicting Content-Length values, Content-Length together with
//! Transfer-Encoding, and any Transfer-Encoding other than exactly `chunked`. RFC 9112 §6.3
//! would read a body whose final coding is not chunked until the connection closes; this
//! crate refuses it instead (`bad_transfer_encoding`), because the gateway re-frames bodies
//! and does not decode transfer codings. The gateway answers such a response with 502.

use memchr::memchr;

use crate::chars::{is_value_byte, CR, LF, SP};
use crate::error::{shown, HeadError};
use crate::fields::{
    list_elements, parse_block, parse_content_length, scan_block, Block, ConnectionInfo, Scan,
    Summary,
};
use crate::request::{head_limit, is_well_formed_version, keep_alive, partial_or_too_large};
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
    chunked: bool,
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
        } else if self.chunked {
            ResponseFraming::Chunked
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
    let (content_length, chunked) = response_semantics(&block, version)?;
    Ok(Parsed::Complete {
        head: ResponseHead {
            block,
            version,
            status,
            reason,
            content_length,
            chunked,
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
    let version = match v {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        _ if is_well_formed_version(v) => return Err(HeadError::UnsupportedVersion(shown(v))),
        _ => return Err(HeadError::BadVersion(shown(v))),
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

/// Content-Length and Transfer-Encoding rules for responses. Returns the body length and
/// whether the body is chunked.
fn response_semantics(block: &Block, version: Version) -> Result<(Option<u64>, bool), HeadError> {
    let summary = &block.summary;
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
        return Ok((None, true));
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
    Ok((length, false))
}
