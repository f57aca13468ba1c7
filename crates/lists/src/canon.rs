//! Canonicalisation of list entries into reversed-label keys.
//!
//! List entries must end up in the same form as request hosts (crate `destination`): lower
//! case ASCII, punycode for internationalised names, no trailing dot. Almost every entry of a
//! real list is plain ASCII, so a fast path handles letters, digits, `-`, `_` and `.` here:
//! lowercase, strip one trailing dot, refuse empty labels, labels over 63 bytes and names over
//! 253 bytes. Only names with non-ASCII bytes or an `xn--` label go through the full
//! conversion, `destination::Host::parse` (UTS-46 by the `url` crate), whose output is then
//! checked by the fast path again. For ASCII input both give the same result.
//!
//! Names that are IP addresses (dotted quads, the WHATWG numeric forms such as `0x7f.1`, and
//! IPv6 with or without brackets) are reported as [`Kind::Ip`] so that loaders can skip them.
//!
//! The key written is the name with its labels in reverse order (`www.example.com` →
//! `com.example.www`), so that parents are prefixes of their children at label boundaries.

use crate::error::DomainProblem;
use std::net::Ipv6Addr;

/// What a successfully canonicalised entry turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A domain; its reversed key was appended.
    Domain,
    /// An IP address; nothing was appended.
    Ip,
}

/// A canonicalised list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canonical {
    /// A domain name in canonical form (lower case ASCII, punycode, no trailing dot).
    Domain(String),
    /// An IP address (skipped by the domain lists).
    Ip,
}

/// Canonicalises one entry the way the loaders do. Mostly for tests and diagnostics: the
/// loaders write reversed keys straight into their arena instead.
pub fn canonicalize(name: &str) -> Result<Canonical, DomainProblem> {
    let mut key = Vec::new();
    match push_reversed(&mut key, name.as_bytes())? {
        Kind::Ip => Ok(Canonical::Ip),
        Kind::Domain => {
            let labels: Vec<&[u8]> = key.rsplit(|&b| b == b'.').collect();
            let forward = labels.join(&b'.');
            // Only ASCII is ever pushed.
            Ok(Canonical::Domain(
                String::from_utf8_lossy(&forward).into_owned(),
            ))
        }
    }
}

/// Canonicalises `raw` and appends its reversed-label key to `out`.
///
/// On error, or for an IP address, `out` is left as it was.
pub(crate) fn push_reversed(out: &mut Vec<u8>, raw: &[u8]) -> Result<Kind, DomainProblem> {
    push_inner(out, raw, false)
}

fn push_inner(out: &mut Vec<u8>, raw: &[u8], converted: bool) -> Result<Kind, DomainProblem> {
    let name = raw.strip_suffix(b".").unwrap_or(raw);
    if name.is_empty() {
        return Err(DomainProblem::Empty);
    }
    let mut needs_idn = false;
    for &b in name {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {}
            0x80.. if !converted => needs_idn = true,
            b':' | b'[' => return ipv6(raw),
            _ => return Err(DomainProblem::InvalidChar(invalid_char(b))),
        }
    }
    if needs_idn {
        return slow_path(out, raw);
    }
    if name.len() > 253 {
        return Err(DomainProblem::TooLong);
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(DomainProblem::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(DomainProblem::LabelTooLong);
        }
        if !converted && label.len() >= 4 && label[..4].eq_ignore_ascii_case(b"xn--") {
            needs_idn = true;
        }
    }
    if needs_idn {
        return slow_path(out, raw);
    }
    if ends_in_number(name) {
        return if whatwg_ipv4(name) {
            Ok(Kind::Ip)
        } else {
            Err(DomainProblem::NumericTld)
        };
    }
    let mut first = true;
    for label in name.rsplit(|&b| b == b'.') {
        if !first {
            out.push(b'.');
        }
        first = false;
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    Ok(Kind::Domain)
}

/// The character to show for an invalid byte: the byte itself if ASCII.
fn invalid_char(b: u8) -> char {
    if b.is_ascii() {
        char::from(b)
    } else {
        char::REPLACEMENT_CHARACTER
    }
}

fn ipv6(raw: &[u8]) -> Result<Kind, DomainProblem> {
    let inner = raw
        .strip_prefix(b"[")
        .and_then(|r| r.strip_suffix(b"]"))
        .unwrap_or(raw);
    match std::str::from_utf8(inner).ok().map(str::parse::<Ipv6Addr>) {
        Some(Ok(_)) => Ok(Kind::Ip),
        _ => {
            let bad = raw
                .iter()
                .copied()
                .find(|b| matches!(b, b':' | b'[' | b']'))
                .unwrap_or(b':');
            Err(DomainProblem::InvalidChar(char::from(bad)))
        }
    }
}

/// Full conversion for names with non-ASCII bytes or `xn--` labels.
fn slow_path(out: &mut Vec<u8>, raw: &[u8]) -> Result<Kind, DomainProblem> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| DomainProblem::InvalidChar(char::REPLACEMENT_CHARACTER))?;
    match idn_to_ascii(text)? {
        None => Ok(Kind::Ip),
        Some(ascii) => push_inner(out, ascii.as_bytes(), true),
    }
}

/// Converts an internationalised name to its ASCII form with `destination::Host::parse`, so
/// that IDN list entries and request hosts are canonicalised by the same code; `None` for an
/// IP address.
fn idn_to_ascii(text: &str) -> Result<Option<String>, DomainProblem> {
    use destination::{DestinationError, Host};
    match Host::parse(text) {
        Ok(Host::Domain(domain)) => Ok(Some(domain.as_str().to_owned())),
        Ok(Host::V4(_) | Host::V6(_)) => Ok(None),
        Err(DestinationError::EmptyHost) => Err(DomainProblem::Empty),
        Err(DestinationError::BadHost { reason, .. }) => Err(DomainProblem::Idn(reason)),
        Err(other) => Err(DomainProblem::Idn(other.to_string())),
    }
}

/// WHATWG "ends in a number": the last label (ignoring one trailing empty label) is decimal
/// digits or `0x` followed by hex digits.
fn ends_in_number(name: &[u8]) -> bool {
    let last = name.rsplit(|&b| b == b'.').next().unwrap_or(name);
    if !last.is_empty() && last.iter().all(u8::is_ascii_digit) {
        return true;
    }
    match last
        .strip_prefix(b"0x")
        .or_else(|| last.strip_prefix(b"0X"))
    {
        Some(hex) => hex.iter().all(u8::is_ascii_hexdigit),
        None => false,
    }
}

/// Whether `name` is an IPv4 address by the WHATWG host parser (1 to 4 parts, decimal, octal
/// with a leading `0` or hex with `0x`; the last part fills the remaining bytes).
fn whatwg_ipv4(name: &[u8]) -> bool {
    let parts: Vec<&[u8]> = name.split(|&b| b == b'.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return false;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        match whatwg_number(part) {
            Some(n) => numbers.push(n),
            None => return false,
        }
    }
    let (last, init) = match numbers.split_last() {
        Some(x) => x,
        None => return false,
    };
    if init.iter().any(|&n| n > 255) {
        return false;
    }
    let room = 5 - numbers.len() as u32; // bytes left for the last part
    *last < 256u64.pow(room)
}

fn whatwg_number(part: &[u8]) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = part
        .strip_prefix(b"0x")
        .or_else(|| part.strip_prefix(b"0X"))
    {
        (h, 16)
    } else if part.len() > 1 && part[0] == b'0' {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    // WHATWG allows any number of leading zeros (`0x0000000000001` is 1), so only the
    // significant digits are counted below.
    let digits = match digits.iter().position(|&b| b != b'0') {
        Some(first) => &digits[first..],
        None => return Some(0),
    };
    let text = std::str::from_utf8(digits).ok()?;
    // Anything past 2^32 is out of range anyway; refuse instead of overflowing.
    if digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(text, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Result<Canonical, DomainProblem> {
        canonicalize(s)
    }

    fn dom(s: &str) -> Canonical {
        Canonical::Domain(s.to_owned())
    }

    #[test]
    fn fast_path() {
        assert_eq!(canon("WWW.Example.COM."), Ok(dom("www.example.com")));
        assert_eq!(canon("a_b-c.example"), Ok(dom("a_b-c.example")));
        assert_eq!(canon("com"), Ok(dom("com")));
        let mut key = Vec::new();
        assert_eq!(
            push_reversed(&mut key, b"a.b.Example.com"),
            Ok(Kind::Domain)
        );
        assert_eq!(key, b"com.example.b.a");
    }

    #[test]
    fn refusals() {
        assert_eq!(canon(""), Err(DomainProblem::Empty));
        assert_eq!(canon("."), Err(DomainProblem::Empty));
        assert_eq!(canon("a..b"), Err(DomainProblem::EmptyLabel));
        assert_eq!(canon(".a"), Err(DomainProblem::EmptyLabel));
        assert_eq!(canon("a.b.."), Err(DomainProblem::EmptyLabel));
        assert_eq!(canon("exa mple.com"), Err(DomainProblem::InvalidChar(' ')));
        assert_eq!(canon("a/b"), Err(DomainProblem::InvalidChar('/')));
        let long_label = "a".repeat(64);
        assert_eq!(
            canon(&format!("{long_label}.com")),
            Err(DomainProblem::LabelTooLong)
        );
        let ok_label = "a".repeat(63);
        assert!(canon(&format!("{ok_label}.com")).is_ok());
        let long_name = ["abcdefghi"; 26].join("."); // 26*10-1 = 259
        assert_eq!(canon(&long_name), Err(DomainProblem::TooLong));
        assert_eq!(canon("example.123"), Err(DomainProblem::NumericTld));
        assert_eq!(canon("1.2.3.999"), Err(DomainProblem::NumericTld));
        assert_eq!(canon("a:b"), Err(DomainProblem::InvalidChar(':')));
        let mut key = b"keep".to_vec();
        assert!(push_reversed(&mut key, b"bad name").is_err());
        assert_eq!(key, b"keep");
    }

    #[test]
    fn addresses() {
        for ip in [
            "1.2.3.4",
            "127.0.0.1.",
            "0x7f.1",
            "0177.0.0.1",
            "10",
            "::1",
            "[2001:db8::1]",
            "fe80::1",
        ] {
            assert_eq!(canon(ip), Ok(Canonical::Ip), "{ip}");
        }
        // Hex-looking last labels that are not numbers stay domains.
        assert_eq!(canon("example.0xg"), Ok(dom("example.0xg")));
        assert_eq!(canon("1.2.3.4a"), Ok(dom("1.2.3.4a")));
    }

    #[test]
    fn idn() {
        assert_eq!(canon("Bücher.de"), Ok(dom("xn--bcher-kva.de")));
        assert_eq!(canon("xn--bcher-kva.de"), Ok(dom("xn--bcher-kva.de")));
        assert_eq!(canon("XN--BCHER-KVA.DE."), Ok(dom("xn--bcher-kva.de")));
        assert_eq!(canon("例え.テスト"), Ok(dom("xn--r8jz45g.xn--zckzah")));
        assert!(
            matches!(canon("xn--a.com"), Err(DomainProblem::Idn(_))),
            "{:?}",
            canon("xn--a.com")
        );
    }

    /// The fast path agrees with `destination::Host::parse` (the canonicaliser of request
    /// hosts) on what is a domain, what is an address, what is refused, and on the result.
    #[test]
    fn agrees_with_destination() {
        use destination::Host;
        let inputs = [
            "WWW.Example.COM.",
            "example.com",
            "a_b-c.example",
            "-ok-.example",
            "_dmarc.example",
            "com",
            "a",
            "example.123",
            "1.2.3.999",
            "1.2.3.4",
            "127.0.0.1.",
            "0x7f.1",
            "0177.0.0.1",
            "10",
            "4294967295",
            "4294967296",
            "1.2.3.4a",
            "example.0xg",
            "com.0x",
            "0x",
            "a..b",
            ".a",
            "a.b..",
            ".",
            "exa mple",
            "ex!ample.com",
            "a*b.com",
            "a/b",
            "[2001:db8::1]",
            "xn--bcher-kva.de",
            "XN--BCHER-KVA.DE",
            "xn--a.com",
            "Bücher.de",
            "例え.テスト",
            "ＥＸＡＭＰＬＥ.com",
            "１２７.０.０.１",
            "a\u{200b}b.com",
            "ß.de",
            "faß.de",
            &"a".repeat(63),
            &"a".repeat(64),
            &["abcdefghi"; 25].join("."),
            &["abcdefghi"; 26].join("."),
        ];
        for input in inputs {
            let ours = canonicalize(input);
            match Host::parse(input) {
                Ok(Host::Domain(d)) => {
                    assert_eq!(
                        ours,
                        Ok(Canonical::Domain(d.as_str().to_owned())),
                        "{input}"
                    )
                }
                Ok(Host::V4(_) | Host::V6(_)) => assert_eq!(ours, Ok(Canonical::Ip), "{input}"),
                Err(e) => assert!(ours.is_err(), "{input}: destination says {e}, we {ours:?}"),
            }
        }
    }
}
