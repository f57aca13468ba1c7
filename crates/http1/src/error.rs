//! The error types of the crate: [`HeadError`] for request and response heads and
//! [`ChunkError`] for chunked message bodies.
//!
//! Guarantees: every variant has a stable snake_case `code()` that callers log and count;
//! messages are lower case without a final period; user input is shown in backticks,
//! truncated and with control characters escaped so that an error message can be logged
//! without letting a client forge log lines.

/// Longest piece of user input (in bytes) repeated inside an error message.
const SHOWN_MAX_BYTES: usize = 64;

/// Escapes and truncates user input for inclusion in an error message.
pub(crate) fn shown(input: &[u8]) -> String {
    let cut = input.len().min(SHOWN_MAX_BYTES);
    let mut s = input[..cut].escape_ascii().to_string();
    if cut < input.len() {
        s.push('…');
    }
    s
}

/// Why a request or response head was refused.
///
/// [`HeadError::status`] is the status to answer the client with when the error came from
/// a request head. When it came from a response head (an origin), the gateway answers its
/// client with 502 whatever the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// A line feed not preceded by a carriage return (requests only; responses tolerate it).
    #[error("bare line feed in message head")]
    BareLf,
    /// A carriage return not followed by a line feed.
    #[error("bare carriage return in message head")]
    BareCr,
    /// The request line is malformed.
    #[error("invalid request line: {0}")]
    BadRequestLine(&'static str),
    /// The status line of a response is malformed.
    #[error("invalid status line: {0}")]
    BadStatusLine(&'static str),
    /// The HTTP-version is not of the form `HTTP/DIGIT.DIGIT`.
    #[error("invalid http version `{0}`")]
    BadVersion(String),
    /// A well-formed HTTP-version other than `HTTP/1.0` and `HTTP/1.1`.
    #[error("unsupported http version `{0}`")]
    UnsupportedVersion(String),
    /// The request-target is longer than [`crate::Limits::max_uri_bytes`].
    #[error("request target longer than {0} bytes")]
    UriTooLong(usize),
    /// The head is longer than [`crate::Limits::max_head_bytes`].
    #[error("message head longer than {0} bytes")]
    HeaderTooLarge(usize),
    /// More field lines than [`crate::Limits::max_headers`].
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    /// A field line starting with whitespace (obsolete line folding, or whitespace between
    /// the start line and the first field).
    #[error("obsolete line folding (a header line starting with whitespace) is not allowed")]
    ObsFold,
    /// Whitespace between a field name and its colon.
    #[error("whitespace between header name `{0}` and colon")]
    WhitespaceBeforeColon(String),
    /// A field name that is empty, not a token, or a line without a colon.
    #[error("invalid header name `{0}`")]
    BadHeaderName(String),
    /// A field value holding a control character.
    #[error("invalid byte in value of header `{0}`")]
    BadHeaderValue(String),
    /// A Content-Length value that is not `1*DIGIT` (at most 19 digits).
    #[error("invalid content-length `{0}`")]
    BadContentLength(String),
    /// More than one Content-Length field line in a request (even if identical).
    #[error("more than one content-length header")]
    DuplicateContentLength,
    /// Content-Length values that disagree (responses).
    #[error("conflicting content-length values")]
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding in a request (a response's Content-Length is
    /// ignored instead).
    #[error("both content-length and transfer-encoding")]
    ContentLengthWithTransferEncoding,
    /// A request's Transfer-Encoding other than exactly `chunked`.
    #[error("unsupported transfer-encoding `{0}`: only `chunked` is accepted")]
    BadTransferEncoding(String),
    /// A response's Transfer-Encoding list that could be read two ways (RFC 9112 §6.1): empty,
    /// an element that is not a bare token, `chunked` twice or not last.
    #[error("invalid transfer-encoding `{0}`: {1}")]
    BadTransferCodings(String, &'static str),
    /// More than one Transfer-Encoding field line.
    #[error("more than one transfer-encoding header")]
    DuplicateTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: the framing is faulty).
    #[error("transfer-encoding in an http/1.0 message")]
    TransferEncodingHttp10,
    /// An HTTP/1.1 request without Host.
    #[error("missing host header")]
    MissingHost,
    /// More than one Host field line.
    #[error("more than one host header")]
    DuplicateHost,
    /// A Host value with whitespace inside.
    #[error("invalid host header `{0}`")]
    BadHost(String),
    /// A Connection value whose elements are not tokens.
    #[error("invalid connection header `{0}`")]
    BadConnection(String),
    /// A Max-Forwards value that is not one `1*DIGIT` of at most 19 digits (RFC 9110 §7.6.2),
    /// including a list or a repeated field line.
    #[error("invalid max-forwards `{0}`: expected one decimal number")]
    BadMaxForwards(String),
}

impl HeadError {
    /// The status to answer a client whose request head was refused with this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnsupportedVersion(_) => 505,
            Self::UriTooLong(_) => 414,
            Self::HeaderTooLarge(_) | Self::TooManyHeaders(_) => 431,
            Self::BadStatusLine(_) | Self::ConflictingContentLength => 502,
            _ => 400,
        }
    }

    /// Stable snake_case identifier for audit logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BareLf => "bare_lf",
            Self::BareCr => "bare_cr",
            Self::BadRequestLine(_) => "bad_request_line",
            Self::BadStatusLine(_) => "bad_status_line",
            Self::BadVersion(_) => "bad_version",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UriTooLong(_) => "uri_too_long",
            Self::HeaderTooLarge(_) => "header_too_large",
            Self::TooManyHeaders(_) => "too_many_headers",
            Self::ObsFold => "obs_fold",
            Self::WhitespaceBeforeColon(_) => "whitespace_before_colon",
            Self::BadHeaderName(_) => "bad_header_name",
            Self::BadHeaderValue(_) => "bad_header_value",
            Self::BadContentLength(_) => "bad_content_length",
            Self::DuplicateContentLength => "duplicate_content_length",
            Self::ConflictingContentLength => "conflicting_content_length",
            Self::ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
            Self::BadTransferEncoding(_) | Self::BadTransferCodings(..) => "bad_transfer_encoding",
            Self::DuplicateTransferEncoding => "duplicate_transfer_encoding",
            Self::TransferEncodingHttp10 => "transfer_encoding_http10",
            Self::MissingHost => "missing_host",
            Self::DuplicateHost => "duplicate_host",
            Self::BadHost(_) => "bad_host",
            Self::BadConnection(_) => "bad_connection",
            Self::BadMaxForwards(_) => "bad_max_forwards",
        }
    }
}

/// Why a chunked message body was refused. The decoder stays failed afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// A chunk-size that is not `1*HEXDIG`.
    #[error("invalid chunk size")]
    BadChunkSize,
    /// A chunk-size with more than 16 hex digits.
    #[error("chunk size longer than 16 hex digits")]
    ChunkSizeTooLong,
    /// A malformed chunk extension.
    #[error("invalid chunk extension")]
    BadChunkExt,
    /// Chunk extensions longer than the per-line bound.
    #[error("chunk extensions longer than {0} bytes")]
    ChunkExtTooLarge(usize),
    /// Chunk data not followed by exactly CRLF.
    #[error("chunk data not followed by crlf")]
    BadChunkTerminator,
    /// A line feed not preceded by a carriage return.
    #[error("bare line feed in chunked body")]
    BareLf,
    /// A carriage return not followed by a line feed.
    #[error("bare carriage return in chunked body")]
    BareCr,
    /// The trailer section is longer than its bound.
    #[error("trailer section longer than {0} bytes")]
    TrailerTooLarge(usize),
    /// A malformed trailer field line.
    #[error("invalid trailer field: {0}")]
    BadTrailer(&'static str),
}

impl ChunkError {
    /// The status to answer a client whose request body was refused with this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::TrailerTooLarge(_) => 431,
            _ => 400,
        }
    }

    /// Stable snake_case identifier for audit logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadChunkSize => "bad_chunk_size",
            Self::ChunkSizeTooLong => "chunk_size_too_long",
            Self::BadChunkExt => "bad_chunk_ext",
            Self::ChunkExtTooLarge(_) => "chunk_ext_too_large",
            Self::BadChunkTerminator => "bad_chunk_terminator",
            Self::BareLf => "bare_lf",
            Self::BareCr => "bare_cr",
            Self::TrailerTooLarge(_) => "trailer_too_large",
            Self::BadTrailer(_) => "bad_trailer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown(b"a\r\nb"), "a\\r\\nb");
        let long = [b'x'; 100];
        let s = shown(&long);
        assert!(s.ends_with('…'));
        assert_eq!(s.chars().count(), SHOWN_MAX_BYTES + 1);
    }

    #[test]
    fn codes_are_snake_case() {
        let errs = [
            HeadError::BareLf,
            HeadError::UnsupportedVersion("HTTP/2.0".into()),
            HeadError::ContentLengthWithTransferEncoding,
        ];
        for e in errs {
            assert!(e
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
            let msg = e.to_string();
            assert!(!msg.ends_with('.'));
        }
        assert_eq!(HeadError::UnsupportedVersion(String::new()).status(), 505);
        assert_eq!(ChunkError::BareLf.code(), "bare_lf");
    }
}
