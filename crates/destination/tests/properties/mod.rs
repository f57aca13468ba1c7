//! Properties of host, authority, absolute-URI and network canonicalisation that must hold for
//! any text at all.
//!
//! Shared by two callers: the `destination_canonical` fuzz target in `fuzz/` includes this file
//! (`#[path]`) and runs it on every generated input, and `public_api.rs` replays the committed
//! seed corpus through it in every test run, without libFuzzer. [`check_destination`] panics
//! with a message when a property fails.
//!
//! What is checked, beyond "does not panic":
//! - idempotence: the canonical (`Display`) form of an accepted value parses back to the same
//!   value, and prints the same;
//! - the invariants of a canonical domain (lower case ASCII labels of `a-z 0-9 - _`, 1 to 63
//!   bytes each, at most 253 bytes, no trailing dot), and that case and a trailing dot do not
//!   change it;
//! - an IP literal in any spelling (decimal, hex, octal, short, percent-encoded, IPv4-mapped,
//!   expanded IPv6) parses to the same canonical address and classifies the same, and an IPv6
//!   address that embeds an IPv4 address classifies as that IPv4 address;
//! - a host accepted alone is accepted, unchanged, inside an authority and an absolute URI;
//! - error codes are snake_case, messages carry no control characters, and no message repeats
//!   the userinfo of a URI (an authority with `@` is always refused as userinfo).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use destination::net::{canonical_ip, embedded_ipv4};
use destination::{
    classify, parse_net, AbsoluteUri, Authority, DestinationError, DomainName, Host, NetSet, Scheme,
};

/// Codes are snake_case; messages have no control characters or line breaks (no forged log
/// lines), no invisible characters, and no final period.
fn check_error(input: &str, e: &DestinationError) {
    let code = e.code();
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "code {code:?}"
    );
    let msg = e.to_string();
    assert!(
        !msg.chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' ')),
        "message for {input:?} holds a control character: {msg:?}"
    );
    assert!(!msg.ends_with('.'), "message {msg:?}");
}

/// A canonical domain: lower case ASCII, labels of 1 to 63 bytes from `a-z 0-9 - _`, at most
/// 253 bytes, no trailing dot.
fn check_domain(d: &DomainName) {
    let s = d.as_str();
    assert!(!s.is_empty() && s.len() <= 253, "domain {s:?}");
    for label in s.split('.') {
        assert!(
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'_'),
            "label {label:?} of {s:?}"
        );
    }
}

/// Other spellings of an IPv4 address that must all parse to it.
fn v4_spellings(a: Ipv4Addr) -> Vec<String> {
    let [w, x, y, z] = a.octets();
    let n = u32::from(a);
    let dotted = a.to_string();
    let mut out = vec![
        n.to_string(),
        format!("0x{n:x}"),
        format!("0X{n:X}"),
        format!("0{n:o}"),
        format!("0{w:o}.0{x:o}.0{y:o}.0{z:o}"),
        format!("0x{w:x}.0x{x:x}.0x{y:x}.0x{z:x}"),
        format!("{w}.{x}.{}", u32::from(y) << 8 | u32::from(z)),
        format!("{w}.{}", n & 0x00ff_ffff),
        format!("{dotted}."),
        dotted.bytes().map(|b| format!("%{b:02X}")).collect(),
        format!("[::ffff:{dotted}]"),
        format!("[::FFFF:{:x}:{:x}]", n >> 16, n & 0xffff),
        format!("[0:0:0:0:0:ffff:{dotted}]"),
    ];
    // Fullwidth digits and dots are mapped by UTS-46.
    out.push(
        dotted
            .chars()
            .map(|c| match c {
                '.' => '．',
                d => char::from_u32(u32::from(d) - u32::from('0') + 0xff10).unwrap(),
            })
            .collect(),
    );
    out
}

/// Other spellings of an IPv6 address that must all parse to it.
fn v6_spellings(a: Ipv6Addr) -> Vec<String> {
    let s = a.segments();
    let expanded = s.map(|g| format!("{g:04x}")).join(":");
    vec![
        format!("[{expanded}]"),
        format!("[{}]", expanded.to_ascii_uppercase()),
        format!("[{}]", s.map(|g| format!("{g:x}")).join(":")),
    ]
}

/// IPv6 addresses that carry `a` (NAT64, 6to4, SIIT, IPv4-compatible); each must classify as
/// `a` does.
fn v4_embeddings(a: Ipv4Addr) -> Vec<Ipv6Addr> {
    let [w, x, y, z] = a.octets();
    let hi = u16::from_be_bytes([w, x]);
    let lo = u16::from_be_bytes([y, z]);
    let mut out = vec![
        Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
        Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo),
        a.to_ipv6_mapped(),
    ];
    // `::` and `::1` are themselves, not 0.0.0.0 and 0.0.0.1.
    if u32::from(a) > 1 {
        out.push(a.to_ipv6_compatible());
    }
    out
}

fn check_ip(h: &Host) {
    let ip = h.ip().unwrap();
    let class = classify(ip);
    assert_eq!(canonical_ip(ip), ip, "{h} is not canonical");
    match ip {
        IpAddr::V4(a) => {
            for spelling in v4_spellings(a) {
                assert_eq!(
                    Host::parse(&spelling),
                    Ok(h.clone()),
                    "spelling {spelling:?}"
                );
            }
            for v6 in v4_embeddings(a) {
                assert_eq!(classify(IpAddr::V6(v6)), class, "{v6} embeds {a}");
                let parsed = Host::parse(&format!("[{v6}]")).unwrap();
                assert_eq!(classify(parsed.ip().unwrap()), class, "[{v6}]");
            }
        }
        IpAddr::V6(a) => {
            assert!(a.to_ipv4_mapped().is_none(), "{h} kept IPv4-mapped");
            for spelling in v6_spellings(a) {
                assert_eq!(
                    Host::parse(&spelling),
                    Ok(h.clone()),
                    "spelling {spelling:?}"
                );
            }
            if let Some(v4) = embedded_ipv4(a) {
                assert_eq!(class, classify(IpAddr::V4(v4)), "{a} embeds {v4}");
            }
        }
    }
    assert!(DomainName::parse(&h.to_string()).is_err());
}

fn check_host(s: &str) {
    let h = match Host::parse(s) {
        Ok(h) => h,
        Err(e) => {
            check_error(s, &e);
            assert!(DomainName::parse(s).is_err());
            return;
        }
    };
    let shown = h.to_string();
    assert_eq!(
        Host::parse(&shown),
        Ok(h.clone()),
        "{s:?} shown as {shown:?}"
    );
    match &h {
        Host::Domain(d) => {
            check_domain(d);
            assert_eq!(DomainName::parse(s), Ok(d.clone()));
            assert_eq!(Host::parse(&format!("{shown}.")), Ok(h.clone()));
            assert_eq!(Host::parse(&shown.to_ascii_uppercase()), Ok(h.clone()));
        }
        Host::V4(_) | Host::V6(_) => check_ip(&h),
    }
    // The same host inside an authority and an absolute URI.
    assert_eq!(
        Authority::parse(&format!("{s}:8080"), None),
        Ok(Authority {
            host: h.clone(),
            port: 8080
        }),
        "{s:?} in an authority"
    );
    let uri = AbsoluteUri::parse(&format!("http://{s}/x?y"))
        .unwrap_or_else(|e| panic!("{s:?} accepted as a host but not in an absolute uri: {e}"));
    assert_eq!(uri.authority.host, h, "{s:?} in an absolute uri");
}

/// Userinfo is never echoed, because it usually carries a password: when `s` reads
/// `scheme://userinfo@host…`, no error message repeats `userinfo@`.
fn check_userinfo_not_echoed(s: &str, e: &DestinationError) {
    let Some((scheme, rest)) = s.split_once("://") else {
        return;
    };
    let is_scheme = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return;
    };
    let userinfo = &authority[..at];
    // Messages show printable ASCII as is; other characters may be escaped.
    if !is_scheme
        || userinfo.is_empty()
        || !userinfo.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        || *e == DestinationError::UserInfo
    {
        return;
    }
    // The same text may also appear after the authority, where it is not userinfo and may be
    // shown: the message must not hold it more often than that part of the input does.
    let pattern = format!("{userinfo}@");
    let after = &rest[authority.len()..];
    let msg = e.to_string();
    assert!(
        msg.matches(&pattern).count() <= after.matches(&pattern).count(),
        "userinfo of {s:?} echoed: {msg:?}"
    );
}

fn check_authority(s: &str) {
    let with_default = Authority::parse(s, Some(80));
    if s.contains('@') {
        assert_eq!(with_default, Err(DestinationError::UserInfo), "{s:?}");
    }
    match Authority::parse(s, None) {
        Ok(a) => {
            assert_eq!(
                with_default.as_ref(),
                Ok(&a),
                "a default port changed {s:?}"
            );
            check_parsed_authority(&a);
        }
        Err(e) => check_error(s, &e),
    }
    match with_default {
        Ok(a) => check_parsed_authority(&a),
        Err(e) => check_error(s, &e),
    }
}

fn check_parsed_authority(a: &Authority) {
    assert_ne!(a.port, 0);
    let shown = a.to_string();
    assert!(
        !shown.contains(['/', '?', '#', '@']) && !shown.chars().any(char::is_whitespace),
        "authority {shown:?}"
    );
    assert_eq!(Authority::parse(&shown, None).as_ref(), Ok(a), "{shown:?}");
    assert_eq!(Host::parse(&a.host.to_string()).as_ref(), Ok(&a.host));
}

fn check_absolute(s: &str) {
    let u = match AbsoluteUri::parse(s) {
        Ok(u) => u,
        Err(e) => {
            check_userinfo_not_echoed(s, &e);
            return check_error(s, &e);
        }
    };
    assert_eq!(u.scheme, Scheme::Http);
    check_parsed_authority(&u.authority);
    let pq = &u.path_and_query;
    assert!(pq.starts_with('/'), "path {pq:?}");
    assert!(
        !pq.contains('#') && !pq.chars().any(|c| c.is_control() || c.is_whitespace()),
        "path {pq:?}"
    );
    let shown = u.to_string();
    assert!(shown.starts_with("http://"), "{shown:?}");
    assert_eq!(
        AbsoluteUri::parse(&shown).as_ref(),
        Ok(&u),
        "{s:?} shown as {shown:?}"
    );
}

fn check_net(s: &str) {
    let net = match parse_net(s) {
        Ok(n) => n,
        Err(e) => return check_error(s, &e),
    };
    assert_eq!(net, net.trunc(), "{s:?} kept host bits");
    assert_eq!(parse_net(&net.to_string()), Ok(net), "{s:?} shown as {net}");
    let set = NetSet::new(vec![net]);
    assert_eq!(set.nets(), [net]);
    assert!(set.contains(net.network()) && set.contains(net.broadcast()));
}

/// The destination properties of this module, on `data` read as UTF-8 (lossily).
pub fn check_destination(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_host(&text);
    check_authority(&text);
    check_absolute(&text);
    check_net(&text);
}
