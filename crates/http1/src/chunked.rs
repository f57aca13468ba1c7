//! A streaming decoder for the chunked transfer coding (RFC 9112 §7.1) with constant memory,
//! and helpers to re-encode forwarded data in normalised form.
//!
//! The decoder is strict: chunk-size is `1*HEXDIG` (at most 16 digits, so it always fits
//! `u64`), chunk extensions must follow `*( BWS ";" BWS token [ BWS "=" BWS ( token /
//! quoted-string ) ] )` and are discarded, every line ends with CRLF, chunk data is followed
//! by exactly CRLF, and trailer fields (RFC 9112 §7.1.2) follow the header field rules and are
//! discarded. The gateway forwards data with fresh chunk headers, no extensions and no
//! trailers, so nothing the client wrote around the data reaches the origin.

use crate::chars::{is_ows, is_qdtext, is_quoted_pair_byte, is_tchar, is_value_byte, CR, LF};
use crate::error::ChunkError;

/// Longest chunk-size accepted, in hex digits.
pub const MAX_CHUNK_SIZE_DIGITS: u8 = 16;
/// Longest chunk-ext section on one chunk line, in bytes.
pub const MAX_CHUNK_EXT_BYTES: usize = 4096;
/// Longest trailer section (including its final CRLF), in bytes.
pub const MAX_TRAILER_BYTES: usize = 16384;

/// The terminator to write after each chunk's data.
pub const CHUNK_TRAILER: &[u8] = b"\r\n";
/// The last chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends the chunk header for `len` data bytes (`{hex}\r\n`) to `out`. `len` must not be 0:
/// that would be the last chunk, written with [`LAST_CHUNK`].
pub fn encode_chunk_header(len: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// One step of decoded output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Body data (never empty), borrowed from the input.
    Data(&'a [u8]),
    /// The last chunk and the trailer section were consumed; the body is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the first hex digit of a chunk-size.
    SizeStart,
    /// Inside the chunk-size.
    Size,
    /// BWS seen after the size or an extension; `;` must follow.
    ExtPreSemi,
    /// After `;`: BWS then an extension name.
    ExtPreName,
    ExtName,
    /// BWS after an extension name: `=`, `;` must follow.
    ExtAfterName,
    /// After `=`: BWS then a token or quoted string.
    ExtPreVal,
    ExtTokenVal,
    ExtQuoted,
    ExtQuotedPair,
    ExtAfterQuoted,
    /// CR ending the chunk line seen; LF must follow.
    SizeLf,
    /// Inside chunk data.
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    TrailerEndLf,
    Done,
    Failed(ChunkError),
}

/// Streaming chunked-body decoder. Feed it the bytes following the head with
/// [`ChunkedDecoder::decode`] until it returns [`Chunk::End`]; it never consumes bytes past
/// the end of the body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
    ext_bytes: usize,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        Self {
            state: State::SizeStart,
            size: 0,
            digits: 0,
            ext_bytes: 0,
            trailer_bytes: 0,
        }
    }

    /// Whether the whole body, including the trailer section, has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the start of `input`. Returns how many bytes were consumed and at most
    /// one output: a data slice borrowed from `input`, or [`Chunk::End`]. `None` means every
    /// byte was consumed and more input is needed (or the body is already done). Call again
    /// with the unconsumed rest. After an error the decoder keeps returning that error.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Chunk<'a>>), ChunkError> {
        let mut i = 0;
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Done => return Ok((i, None)),
                State::Data => {
                    let avail = input.len() - i;
                    if avail == 0 {
                        return Ok((i, None));
                    }
                    let n = usize::try_from(self.size).map_or(avail, |s| s.min(avail));
                    // `n <= self.size`, so this cannot underflow.
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Some(Chunk::Data(&input[i..i + n]))));
                }
                _ => {}
            }
            let Some(&b) = input.get(i) else {
                return Ok((i, None));
            };
            i += 1;
            match self.step(b) {
                Ok(true) => return Ok((i, Some(Chunk::End))),
                Ok(false) => {}
                Err(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
    }

    /// Consumes one framing byte. Returns whether the body just ended.
    fn step(&mut self, b: u8) -> Result<bool, ChunkError> {
        use State as S;
        let next = match self.state {
            S::SizeStart => match hex_value(b) {
                Some(v) => {
                    self.size = u64::from(v);
                    self.digits = 1;
                    self.ext_bytes = 0;
                    S::Size
                }
                None if b == LF => return Err(ChunkError::BareLf),
                None => return Err(ChunkError::BadChunkSize),
            },
            S::Size => match hex_value(b) {
                Some(v) => {
                    self.digits += 1;
                    if self.digits > MAX_CHUNK_SIZE_DIGITS {
                        return Err(ChunkError::ChunkSizeTooLong);
                    }
                    self.size = (self.size << 4) | u64::from(v);
                    S::Size
                }
                None => match b {
                    b';' => self.ext(S::ExtPreName)?,
                    _ if is_ows(b) => self.ext(S::ExtPreSemi)?,
                    CR => S::SizeLf,
                    LF => return Err(ChunkError::BareLf),
                    _ => return Err(ChunkError::BadChunkSize),
                },
            },
            S::ExtPreSemi
            | S::ExtPreName
            | S::ExtName
            | S::ExtAfterName
            | S::ExtPreVal
            | S::ExtTokenVal
            | S::ExtQuoted
            | S::ExtQuotedPair
            | S::ExtAfterQuoted => {
                if b == LF {
                    return Err(ChunkError::BareLf);
                }
                let next = ext_transition(self.state, b).ok_or(ChunkError::BadChunkExt)?;
                if next == S::SizeLf {
                    next
                } else {
                    self.ext(next)?
                }
            }
            S::SizeLf => match b {
                LF if self.size == 0 => {
                    self.trailer_bytes = 0;
                    S::TrailerLineStart
                }
                LF => S::Data,
                _ => return Err(ChunkError::BareCr),
            },
            S::DataCr => match b {
                CR => S::DataLf,
                _ => return Err(ChunkError::BadChunkTerminator),
            },
            S::DataLf => match b {
                LF => S::SizeStart,
                _ => return Err(ChunkError::BadChunkTerminator),
            },
            S::TrailerLineStart
            | S::TrailerName
            | S::TrailerValue
            | S::TrailerLf
            | S::TrailerEndLf => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > MAX_TRAILER_BYTES {
                    return Err(ChunkError::TrailerTooLarge(MAX_TRAILER_BYTES));
                }
                match trailer_transition(self.state, b)? {
                    S::Done => {
                        self.state = S::Done;
                        return Ok(true);
                    }
                    next => next,
                }
            }
            // `decode` handles these before calling `step`.
            S::Data | S::Done | S::Failed(_) => self.state,
        };
        self.state = next;
        Ok(false)
    }

    /// Counts one chunk-ext byte and returns `next`, or fails past the bound.
    fn ext(&mut self, next: State) -> Result<State, ChunkError> {
        self.ext_bytes += 1;
        if self.ext_bytes > MAX_CHUNK_EXT_BYTES {
            return Err(ChunkError::ChunkExtTooLarge(MAX_CHUNK_EXT_BYTES));
        }
        Ok(next)
    }
}

/// Checks the start of a chunked body that is already buffered, before anything is forwarded:
/// `Err` only when `prefix` holds a definite framing error. An incomplete body is fine (the rest
/// may still be arriving), and bytes after the end of the body (a pipelined request) are not
/// looked at. It reports the error a [`ChunkedDecoder`] fed the same bytes would report, in
/// constant memory: chunk data is skipped, never copied, and nothing is allocated.
pub fn check_chunked_prefix(prefix: &[u8]) -> Result<(), ChunkError> {
    let mut decoder = ChunkedDecoder::new();
    let mut rest = prefix;
    while !rest.is_empty() {
        let (used, out) = decoder.decode(rest)?;
        // INVARIANT: on non-empty input an unfinished decoder consumes at least one byte, so
        // `used == 0` means the body ended.
        if used == 0 || out == Some(Chunk::End) {
            break;
        }
        rest = rest.get(used..).unwrap_or_default();
    }
    Ok(())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The chunk-ext grammar as a transition table; `None` is a syntax error. `SizeLf` means the
/// line's CR was reached in a state where the extension list may end.
fn ext_transition(state: State, b: u8) -> Option<State> {
    use State as S;
    Some(match state {
        S::ExtPreSemi => match b {
            b';' => S::ExtPreName,
            _ if is_ows(b) => S::ExtPreSemi,
            _ => return None,
        },
        S::ExtPreName => match b {
            _ if is_ows(b) => S::ExtPreName,
            _ if is_tchar(b) => S::ExtName,
            _ => return None,
        },
        S::ExtName => match b {
            _ if is_tchar(b) => S::ExtName,
            _ if is_ows(b) => S::ExtAfterName,
            b'=' => S::ExtPreVal,
            b';' => S::ExtPreName,
            CR => S::SizeLf,
            _ => return None,
        },
        S::ExtAfterName => match b {
            _ if is_ows(b) => S::ExtAfterName,
            b'=' => S::ExtPreVal,
            b';' => S::ExtPreName,
            _ => return None,
        },
        S::ExtPreVal => match b {
            _ if is_ows(b) => S::ExtPreVal,
            b'"' => S::ExtQuoted,
            _ if is_tchar(b) => S::ExtTokenVal,
            _ => return None,
        },
        S::ExtTokenVal => match b {
            _ if is_tchar(b) => S::ExtTokenVal,
            _ if is_ows(b) => S::ExtPreSemi,
            b';' => S::ExtPreName,
            CR => S::SizeLf,
            _ => return None,
        },
        S::ExtQuoted => match b {
            b'"' => S::ExtAfterQuoted,
            b'\\' => S::ExtQuotedPair,
            _ if is_qdtext(b) => S::ExtQuoted,
            _ => return None,
        },
        S::ExtQuotedPair => match b {
            _ if is_quoted_pair_byte(b) => S::ExtQuoted,
            _ => return None,
        },
        S::ExtAfterQuoted => match b {
            _ if is_ows(b) => S::ExtPreSemi,
            b';' => S::ExtPreName,
            CR => S::SizeLf,
            _ => return None,
        },
        _ => return None,
    })
}

/// Trailer field lines (RFC 9112 §7.1.2, same rules as header fields); `Done` after the
/// final empty line.
fn trailer_transition(state: State, b: u8) -> Result<State, ChunkError> {
    use State as S;
    Ok(match state {
        S::TrailerLineStart => match b {
            CR => S::TrailerEndLf,
            LF => return Err(ChunkError::BareLf),
            _ if is_ows(b) => return Err(ChunkError::BadTrailer("obsolete line folding")),
            _ if is_tchar(b) => S::TrailerName,
            _ => return Err(ChunkError::BadTrailer("invalid field name")),
        },
        S::TrailerName => match b {
            b':' => S::TrailerValue,
            _ if is_tchar(b) => S::TrailerName,
            _ if is_ows(b) => return Err(ChunkError::BadTrailer("whitespace before colon")),
            LF => return Err(ChunkError::BareLf),
            CR => return Err(ChunkError::BadTrailer("missing colon")),
            _ => return Err(ChunkError::BadTrailer("invalid field name")),
        },
        S::TrailerValue => match b {
            CR => S::TrailerLf,
            LF => return Err(ChunkError::BareLf),
            _ if is_value_byte(b) => S::TrailerValue,
            _ => return Err(ChunkError::BadTrailer("control character in field value")),
        },
        S::TrailerLf => match b {
            LF => S::TrailerLineStart,
            _ => return Err(ChunkError::BareCr),
        },
        S::TrailerEndLf => match b {
            LF => S::Done,
            _ => return Err(ChunkError::BareCr),
        },
        _ => return Err(ChunkError::BadTrailer("internal state")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape a client can break the framing with at the start of a body, and the error.
    const BROKEN: &[(&str, &[u8], ChunkError)] = &[
        (
            "bad chunk size",
            b"zz\r\nhello\r\n0\r\n\r\n",
            ChunkError::BadChunkSize,
        ),
        (
            "0x prefix",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            ChunkError::BadChunkSize,
        ),
        (
            "negative",
            b"-5\r\nhello\r\n0\r\n\r\n",
            ChunkError::BadChunkSize,
        ),
        ("plus sign", b"+5\r\nhello\r\n", ChunkError::BadChunkSize),
        ("empty size", b"\r\nhello\r\n", ChunkError::BadChunkSize),
        (
            "overflow",
            b"10000000000000000\r\nhello\r\n",
            ChunkError::ChunkSizeTooLong,
        ),
        (
            "control byte in extension",
            b"5;a\x01b\r\nhello\r\n",
            ChunkError::BadChunkExt,
        ),
        (
            "nul in extension value",
            b"5;a=\"\x00\"\r\nhello\r\n",
            ChunkError::BadChunkExt,
        ),
        (
            "bare lf in extension",
            b"5;a=b\nhello\r\n",
            ChunkError::BareLf,
        ),
        ("bare lf after size", b"5\nhello\r\n", ChunkError::BareLf),
        ("bare cr after size", b"5\rhello\r\n", ChunkError::BareCr),
        (
            "data too long",
            b"5\r\nhello world\r\n",
            ChunkError::BadChunkTerminator,
        ),
        (
            "data lf only",
            b"5\r\nhello\n0\r\n\r\n",
            ChunkError::BadChunkTerminator,
        ),
        (
            "second chunk broken",
            b"5\r\nhello\r\n0x1\r\na\r\n",
            ChunkError::BadChunkSize,
        ),
    ];

    #[test]
    fn refuses_each_broken_shape() {
        for (name, body, error) in BROKEN {
            assert_eq!(check_chunked_prefix(body), Err(*error), "{name}");
        }
    }

    #[test]
    fn a_prefix_fails_from_the_byte_that_breaks_it_on() {
        for (name, body, error) in BROKEN {
            let first_bad = (0..=body.len())
                .find(|&n| check_chunked_prefix(&body[..n]).is_err())
                .unwrap_or(body.len() + 1);
            assert!(first_bad <= body.len(), "{name}");
            for n in first_bad..=body.len() {
                assert_eq!(
                    check_chunked_prefix(&body[..n]),
                    Err(*error),
                    "{name} at {n}"
                );
            }
        }
    }

    #[test]
    fn incomplete_bodies_pass() {
        let whole: &[u8] = b"5;name=\"v\"\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";
        for n in 0..=whole.len() {
            assert_eq!(
                check_chunked_prefix(&whole[..n]),
                Ok(()),
                "prefix of {n} bytes"
            );
        }
        // A chunk announced far longer than what arrived so far.
        assert_eq!(check_chunked_prefix(b"ffffffffffffffff\r\nabc"), Ok(()));
    }

    #[test]
    fn bytes_after_the_body_are_not_looked_at() {
        assert_eq!(check_chunked_prefix(b"0\r\n\r\n\x00garbage\n"), Ok(()));
        assert_eq!(
            check_chunked_prefix(b"1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\n"),
            Ok(())
        );
    }

    #[test]
    fn agrees_with_the_decoder_on_many_chunks() {
        // Ten thousand chunks, broken at the very end: found without any state but the decoder's.
        let mut body = b"1\r\na\r\n".repeat(10_000);
        assert_eq!(check_chunked_prefix(&body), Ok(()));
        body.extend_from_slice(b"1\r\nab\r\n");
        assert_eq!(
            check_chunked_prefix(&body),
            Err(ChunkError::BadChunkTerminator)
        );
    }
}
