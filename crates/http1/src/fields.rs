//! The header section shared by requests and responses: finding its end, validating every
//! field line (RFC 9112 §5, RFC 9110 §5.1–§5.6) and remembering the fields that decide
//! framing and connection handling.
//!
//! Parsing is two passes over the bytes after the start line. [`scan_block`] only walks line
//! feeds with `memchr` to find where the section ends (or where a bare LF makes it invalid),
//! so that a head arriving in many small reads costs little until it is complete.
//! [`parse_block`] then validates each field line with table lookups and records its name
//! and value as byte ranges into the head; nothing is allocated per field.

use memchr::{memchr, memchr_iter};

use crate::chars::{is_ows, is_tchar, is_token, is_value_byte, trim_ows, trim_ows_range, CR, LF};
use crate::error::{shown, HeadError};

/// One field line as byte ranges into the owned head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

/// Fields that matter for framing and connection management.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    ContentLength,
    TransferEncoding,
    Host,
    Connection,
    Other,
}

fn classify(name: &[u8]) -> Known {
    let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        4 if eq("host") => Known::Host,
        10 if eq("connection") => Known::Connection,
        14 if eq("content-length") => Known::ContentLength,
        17 if eq("transfer-encoding") => Known::TransferEncoding,
        _ => Known::Other,
    }
}

/// Counts and first positions of the fields that decide framing, plus the flags of the
/// Connection header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    pub(crate) content_length: Option<usize>,
    pub(crate) content_length_count: usize,
    pub(crate) transfer_encoding: Option<usize>,
    pub(crate) transfer_encoding_count: usize,
    pub(crate) host: Option<usize>,
    pub(crate) host_count: usize,
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) upgrade: bool,
}

fn note(slot: &mut Option<usize>, count: &mut usize, index: usize) {
    if slot.is_none() {
        *slot = Some(index);
    }
    *count += 1;
}

/// Result of [`scan_block`].
pub(crate) enum Scan {
    /// No terminating empty line yet.
    Partial,
    /// Index of the line feed ending the scan: the one closing the empty line, or (strict
    /// mode) the first bare line feed.
    Stop(usize),
}

/// Finds the end of the header section that starts at `start` in `window`.
///
/// In strict mode a line feed without a carriage return before it stops the scan so that
/// [`parse_block`] reports it; in lenient mode (responses) a bare LF ends a line.
pub(crate) fn scan_block(
    window: &[u8],
    start: usize,
    lenient: bool,
    max_headers: usize,
) -> Result<Scan, HeadError> {
    let mut line_start = start;
    let mut lines = 0usize;
    let rest = window.get(start..).unwrap_or_default();
    for lf in memchr_iter(LF, rest) {
        let lf = start + lf;
        let has_cr = lf > line_start && window[lf - 1] == CR;
        if !has_cr && !lenient {
            return Ok(Scan::Stop(lf));
        }
        let content_end = if has_cr { lf - 1 } else { lf };
        // An empty line ends the section; a line starting with CR (`\r\r\n`) can only be
        // refused, so stop there too rather than wait for more input.
        if content_end == line_start || window[line_start] == CR {
            return Ok(Scan::Stop(lf));
        }
        lines += 1;
        if lines > max_headers {
            return Err(HeadError::TooManyHeaders(max_headers));
        }
        line_start = lf + 1;
    }
    Ok(Scan::Partial)
}

/// Validates the field lines in `window[start..=stop]` (as found by [`scan_block`]), pushing
/// each into `fields` and updating `summary`. Returns the head length (`stop + 1`).
pub(crate) fn parse_block(
    window: &[u8],
    start: usize,
    stop: usize,
    lenient: bool,
    fields: &mut Vec<Field>,
    summary: &mut Summary,
) -> Result<usize, HeadError> {
    let mut line_start = start;
    while line_start <= stop {
        let Some(rel) = memchr(LF, &window[line_start..=stop]) else {
            break;
        };
        let lf = line_start + rel;
        let content_end = if lf > line_start && window[lf - 1] == CR {
            lf - 1
        } else if lenient {
            lf
        } else {
            return Err(HeadError::BareLf);
        };
        if content_end == line_start {
            return Ok(lf + 1);
        }
        let field = parse_field(window, line_start, content_end)?;
        let index = fields.len();
        let name = &window[field.name_start as usize..field.name_end as usize];
        let value = &window[field.value_start as usize..field.value_end as usize];
        match classify(name) {
            Known::ContentLength => note(
                &mut summary.content_length,
                &mut summary.content_length_count,
                index,
            ),
            Known::TransferEncoding => note(
                &mut summary.transfer_encoding,
                &mut summary.transfer_encoding_count,
                index,
            ),
            Known::Host => note(&mut summary.host, &mut summary.host_count, index),
            Known::Connection => connection_flags(value, summary)?,
            Known::Other => {}
        }
        fields.push(field);
        line_start = lf + 1;
    }
    // `scan_block` guarantees that `stop` ends an empty line or is a bare LF, both of which
    // return above; reaching here means the caller passed an inconsistent `stop`.
    Err(HeadError::BareLf)
}

/// Parses one field line `window[start..end]` (without its line ending).
fn parse_field(window: &[u8], start: usize, end: usize) -> Result<Field, HeadError> {
    let line = &window[start..end];
    if is_ows(line[0]) {
        return Err(HeadError::ObsFold);
    }
    let mut i = 0;
    while i < line.len() && is_tchar(line[i]) {
        i += 1;
    }
    let name = &line[..i];
    match line.get(i) {
        Some(b':') if i > 0 => {}
        Some(b':') => return Err(HeadError::BadHeaderName(String::new())),
        Some(&b) if is_ows(b) => {
            let after = trim_ows(&line[i..]);
            return Err(if i > 0 && after.first() == Some(&b':') {
                HeadError::WhitespaceBeforeColon(shown(name))
            } else {
                HeadError::BadHeaderName(shown(&line[..line.len().min(i + 1)]))
            });
        }
        Some(&CR) => return Err(HeadError::BareCr),
        Some(_) => return Err(HeadError::BadHeaderName(shown(&line[..=i]))),
        None => return Err(HeadError::BadHeaderName(shown(line))),
    }
    let (vs, ve) = trim_ows_range(window, start + i + 1, end);
    if let Some(bad) = window[vs..ve].iter().find(|&&b| !is_value_byte(b)) {
        return Err(if *bad == CR {
            HeadError::BareCr
        } else {
            HeadError::BadHeaderValue(shown(name))
        });
    }
    // Offsets fit in u32: the window is at most `Limits::max_head_bytes`, clamped to u32.
    Ok(Field {
        name_start: start as u32,
        name_end: (start + i) as u32,
        value_start: vs as u32,
        value_end: ve as u32,
    })
}

/// Splits a list-valued field (RFC 9110 §5.6.1) into trimmed, non-empty elements.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn connection_flags(value: &[u8], summary: &mut Summary) -> Result<(), HeadError> {
    for token in list_elements(value) {
        if !is_token(token) {
            return Err(HeadError::BadConnection(shown(value)));
        }
        if token.eq_ignore_ascii_case(b"close") {
            summary.close = true;
        } else if token.eq_ignore_ascii_case(b"keep-alive") {
            summary.keep_alive = true;
        } else if token.eq_ignore_ascii_case(b"upgrade") {
            summary.upgrade = true;
        }
    }
    Ok(())
}

/// Parses a Content-Length value: `1*DIGIT`, at most 19 digits (so it always fits `u64`).
pub(crate) fn parse_content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// The parsed Connection header (all field lines combined, RFC 9110 §7.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionInfo<'a> {
    /// `close` is listed.
    pub close: bool,
    /// `keep-alive` is listed.
    pub keep_alive: bool,
    /// `upgrade` is listed.
    pub upgrade: bool,
    /// Every other listed option, as sent: names of hop-by-hop fields to strip.
    pub other: Vec<&'a str>,
}

impl ConnectionInfo<'_> {
    /// Whether `name` (case-insensitive) is listed, including `close`, `keep-alive` and
    /// `upgrade`. A header field whose name is listed is hop-by-hop and must not be forwarded.
    pub fn lists(&self, name: &str) -> bool {
        (self.close && name.eq_ignore_ascii_case("close"))
            || (self.keep_alive && name.eq_ignore_ascii_case("keep-alive"))
            || (self.upgrade && name.eq_ignore_ascii_case("upgrade"))
            || self.other.iter().any(|o| o.eq_ignore_ascii_case(name))
    }
}

/// An owned, validated head: a copy of its bytes and the ranges of its field lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) fields: Vec<Field>,
    pub(crate) summary: Summary,
}

impl Block {
    pub(crate) fn slice(&self, start: u32, end: u32) -> &[u8] {
        self.bytes
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    pub(crate) fn name(&self, f: &Field) -> &str {
        std::str::from_utf8(self.slice(f.name_start, f.name_end)).unwrap_or_default()
    }

    pub(crate) fn value(&self, f: &Field) -> &[u8] {
        self.slice(f.value_start, f.value_end)
    }

    pub(crate) fn value_at(&self, index: Option<usize>) -> Option<&[u8]> {
        index
            .and_then(|i| self.fields.get(i))
            .map(|f| self.value(f))
    }

    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|f| (self.name(f), self.value(f)))
    }

    fn matching<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Field> + 's {
        self.fields.iter().filter(move |f| {
            let n = self.slice(f.name_start, f.name_end);
            n.len() == name.len() && n.eq_ignore_ascii_case(name.as_bytes())
        })
    }

    pub(crate) fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.matching(name).map(|f| self.value(f))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.matching(name).next().map(|f| self.value(f))
    }

    pub(crate) fn header_count(&self, name: &str) -> usize {
        self.matching(name).count()
    }

    pub(crate) fn connection(&self) -> ConnectionInfo<'_> {
        let mut info = ConnectionInfo {
            close: self.summary.close,
            keep_alive: self.summary.keep_alive,
            upgrade: self.summary.upgrade,
            other: Vec::new(),
        };
        for f in self.matching("connection") {
            for token in list_elements(self.value(f)) {
                let known = [&b"close"[..], b"keep-alive", b"upgrade"]
                    .iter()
                    .any(|k| token.eq_ignore_ascii_case(k));
                if !known {
                    // Validated as a token at parse time, so ASCII.
                    info.other
                        .push(std::str::from_utf8(token).unwrap_or_default());
                }
            }
        }
        info
    }

    pub(crate) fn upgrade(&self) -> Option<&[u8]> {
        if self.summary.upgrade {
            self.header("upgrade")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_digits() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"0042"), Some(42));
        assert_eq!(
            parse_content_length(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"99999999999999999999",
            b"1 ",
            b"-1",
            b"1e3",
            b"\xd9\xa3",
        ] {
            assert_eq!(parse_content_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn list_elements_skip_empty() {
        let v: Vec<_> = list_elements(b" a ,, b\t,").collect();
        assert_eq!(v, vec![&b"a"[..], b"b"]);
        assert_eq!(list_elements(b" , ").count(), 0);
    }

    #[test]
    fn classify_known_names() {
        assert_eq!(classify(b"HOST"), Known::Host);
        assert_eq!(classify(b"content-LENGTH"), Known::ContentLength);
        assert_eq!(classify(b"Transfer-Encoding"), Known::TransferEncoding);
        assert_eq!(classify(b"Connection"), Known::Connection);
        assert_eq!(classify(b"Content_Length"), Known::Other);
        assert_eq!(classify(b"Hosts"), Known::Other);
    }

    #[test]
    fn scan_stops_at_empty_line_or_bare_lf() {
        let head = b"A: 1\r\nB: 2\r\n\r\nbody";
        assert!(matches!(scan_block(head, 0, false, 10), Ok(Scan::Stop(13))));
        assert!(matches!(
            scan_block(b"A: 1\nB", 0, false, 10),
            Ok(Scan::Stop(4))
        ));
        assert!(matches!(
            scan_block(b"A: 1\nB", 0, true, 10),
            Ok(Scan::Partial)
        ));
        assert!(matches!(
            scan_block(b"A: 1\r\n", 0, false, 10),
            Ok(Scan::Partial)
        ));
        assert!(matches!(
            scan_block(b"A: 1\r\nB: 2\r\n", 0, false, 1),
            Err(HeadError::TooManyHeaders(1))
        ));
    }
}
