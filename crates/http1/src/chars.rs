//! Byte-class tables from RFC 9110 §5.6 (tokens, field values, quoted strings) and small
//! helpers shared by the head parsers and the chunked decoder.
//!
//! Every class is a 256-entry `const` table so that validating a byte is one load; the hot
//! loops validate header names and values with these tables after `memchr` found the line.

/// Horizontal tab.
pub(crate) const HTAB: u8 = b'\t';
/// Space.
pub(crate) const SP: u8 = b' ';
/// Carriage return.
pub(crate) const CR: u8 = b'\r';
/// Line feed.
pub(crate) const LF: u8 = b'\n';

/// `tchar` (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, DIGIT, ALPHA.
const fn is_tchar_const(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
            | b'0'..=b'9'
            | b'a'..=b'z'
            | b'A'..=b'Z'
    )
}

/// Bytes allowed inside a field value (RFC 9110 §5.5): `field-vchar` (VCHAR / obs-text),
/// SP and HTAB.
const fn is_value_byte_const(b: u8) -> bool {
    b == SP || b == HTAB || (b >= 0x21 && b != 0x7f)
}

/// `qdtext` (RFC 9110 §5.6.4): HTAB / SP / `!` / `#`-`[` / `]`-`~` / obs-text.
const fn is_qdtext_const(b: u8) -> bool {
    b == HTAB || b == SP || b == 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b != 0x7f)
}

macro_rules! build_table {
    ($name:ident, $pred:ident) => {
        static $name: [bool; 256] = {
            let mut t = [false; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = $pred(i as u8);
                i += 1;
            }
            t
        };
    };
}

build_table!(TCHAR, is_tchar_const);
build_table!(VALUE, is_value_byte_const);
build_table!(QDTEXT, is_qdtext_const);

/// Whether `b` is a `tchar`.
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Whether `b` may appear inside a field value (after OWS trimming).
#[inline]
pub(crate) fn is_value_byte(b: u8) -> bool {
    VALUE[usize::from(b)]
}

/// Whether `b` is `qdtext` inside a quoted string.
#[inline]
pub(crate) fn is_qdtext(b: u8) -> bool {
    QDTEXT[usize::from(b)]
}

/// Whether `b` may follow a backslash in a `quoted-pair` (HTAB / SP / VCHAR / obs-text).
#[inline]
pub(crate) fn is_quoted_pair_byte(b: u8) -> bool {
    is_value_byte(b)
}

/// Whether `b` is optional whitespace (SP / HTAB).
#[inline]
pub(crate) fn is_ows(b: u8) -> bool {
    b == SP || b == HTAB
}

/// Whether `s` is a non-empty `token`.
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Index range of `s[start..end]` with leading and trailing OWS removed.
#[inline]
pub(crate) fn trim_ows_range(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_ows(s[start]) {
        start += 1;
    }
    while end > start && is_ows(s[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// `s` with leading and trailing OWS removed.
#[inline]
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let (a, b) = trim_ows_range(s, 0, s.len());
    &s[a..b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_matches_rfc_list() {
        let special = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || special.contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#x}");
        }
    }

    #[test]
    fn value_bytes() {
        for b in 0..=255u8 {
            let expected = b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b) || b >= 0x80;
            assert_eq!(is_value_byte(b), expected, "byte {b:#x}");
        }
    }

    #[test]
    fn qdtext_excludes_quote_and_backslash() {
        assert!(!is_qdtext(b'"'));
        assert!(!is_qdtext(b'\\'));
        assert!(!is_qdtext(0x7f));
        assert!(!is_qdtext(b'\r'));
        assert!(is_qdtext(b' '));
        assert!(is_qdtext(0x80));
        assert!(is_qdtext(b']'));
    }

    #[test]
    fn trims() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
