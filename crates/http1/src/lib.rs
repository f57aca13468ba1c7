//! Strict HTTP/1.x message-head parser and chunked-body decoder for a security gateway.
//!
//! Every request passes [`parse_request_head`] before anything reaches an origin. The parser
//! refuses every shape that two HTTP implementations could read differently (request
//! smuggling, header injection) instead of guessing: bare LF or CR, obsolete line folding,
//! whitespace before a colon, repeated or malformed Content-Length, any Transfer-Encoding
//! other than exactly `chunked`, both framing headers at once, missing or repeated Host.
//! The caller re-serialises the head it forwards and re-frames the body with the framing
//! decided here ([`RequestFraming`], [`ChunkedDecoder`]). Response heads from origins are
//! parsed by [`parse_response_head`], slightly more leniently.
//!
//! The crate is pure: no I/O, no clock, no environment. Heads are re-parsed from the start of
//! the buffer on each call; on partial input a call costs one `memchr` walk over the buffer.
//! A complete head is copied once into the returned value, and names and values are byte
//! ranges into that copy (no allocation per field).
//!
//! # Standards followed
//!
//! - RFC 9112 §2.1–§2.2 message format: CRLF line ends only for requests (a bare CR or LF is
//!   refused), up to four empty lines before a request line ignored, whitespace between the
//!   start line and the first field refused; responses accept a bare LF as a line end.
//! - RFC 9112 §2.3 HTTP version: `HTTP/1.0` and `HTTP/1.1`; a higher minor version of 1
//!   (`HTTP/1.2`) is processed as `HTTP/1.1` (RFC 9110 §2.5), other well-formed versions
//!   (`HTTP/2.0`, `HTTP/0.9`) are refused with 505.
//! - RFC 9112 §3 request line: `method SP request-target SP HTTP-version`, single spaces,
//!   method a token (§3.1), target visible ASCII (§3.2), 414 past the configured length.
//! - RFC 9112 §3.2 / RFC 9110 §7.2 Host: exactly one in HTTP/1.1 requests.
//! - RFC 9112 §4 status line: `HTTP-version SP 3DIGIT SP reason-phrase`.
//! - RFC 9112 §5 field syntax: no whitespace before the colon (§5.1), no obs-fold (§5.2).
//! - RFC 9110 §5.1, §5.5, §5.6.2 field names are tokens, values are field-vchar / obs-text
//!   with SP and HTAB inside, surrounding OWS removed.
//! - RFC 9112 §6.1 Transfer-Encoding: requests only `chunked`, never with Content-Length, never
//!   in HTTP/1.0; responses any list of bare tokens with `chunked` at most once and last, never
//!   in HTTP/1.0, Content-Length ignored beside it.
//! - RFC 9112 §6.3 message body length, for requests and for responses (HEAD, 1xx, 204,
//!   304, 2xx to CONNECT, chunked, Content-Length, until close).
//! - RFC 9110 §8.6 Content-Length: `1*DIGIT`; requests may carry one field line only,
//!   responses may repeat an identical value.
//! - RFC 9112 §7.1 chunked coding: chunk-size, chunk extensions (§7.1.1, discarded), trailer
//!   section (§7.1.2, discarded).
//! - RFC 9110 §7.6.1 Connection options; RFC 9112 §9.3 persistence defaults.
//! - RFC 9110 §7.6.2 Max-Forwards: `1*DIGIT`, one value ([`RequestHead::max_forwards`]).
//! - RFC 9110 §10.1.1 Expect: `100-continue`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chars;
mod chunked;
mod error;
mod fields;
mod request;
mod response;

pub use chunked::{
    check_chunked_prefix, encode_chunk_header, Chunk, ChunkedDecoder, CHUNK_TRAILER, LAST_CHUNK,
    MAX_CHUNK_EXT_BYTES, MAX_CHUNK_SIZE_DIGITS, MAX_TRAILER_BYTES,
};
pub use error::{ChunkError, HeadError};
pub use fields::ConnectionInfo;
pub use request::{parse_request_head, RequestFraming, RequestHead};
pub use response::{parse_response_head, ResponseFraming, ResponseHead};

/// Bounds enforced while parsing a head, also on partial input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest head in bytes, from the first byte to the final CRLFCRLF inclusive (431).
    /// Values above `u32::MAX` are treated as `u32::MAX`.
    pub max_head_bytes: usize,
    /// Most field lines (431).
    pub max_headers: usize,
    /// Longest request-target in bytes (414).
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 65536,
            max_headers: 100,
            max_uri_bytes: 8192,
        }
    }
}

/// HTTP version of a message, as processed: a message written with a higher minor version of
/// HTTP/1 (`HTTP/1.2`) is [`Version::Http11`] (RFC 9110 §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

impl Version {
    /// The version as gatehouse writes it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

/// Result of parsing a head from a buffer that may not hold all of it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head is complete and valid.
    Complete {
        /// The parsed head.
        head: T,
        /// Bytes consumed from the start of the buffer, including the final empty line.
        len: usize,
    },
    /// More bytes are needed; nothing seen so far is invalid.
    Partial,
}
