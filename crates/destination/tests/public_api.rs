//! Black-box tests of the public API, as other crates use it.
//!
//! Guarantees checked: every spelling of one host canonicalises to one value; parse, display and
//! parse again is a fixed point for `Host`, `Authority` and `AbsoluteUri` over generated inputs;
//! no input panics; the post-DNS classification agrees with `Host` canonicalisation; the fuzz
//! seed corpus (`fuzz/corpus/destination_canonical`) holds the properties of `properties`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod properties;

use std::net::IpAddr;
use std::path::Path;

use destination::net::{canonical_ip, embedded_ipv4};
use destination::{
    classify, domain_is_within, parse_net, AbsoluteUri, AddressClass, Authority, DestinationError,
    DomainName, Host, NetSet, Scheme,
};

/// Spellings of `127.0.0.1` and of `example.com`, each of which must give the same host.
#[test]
fn one_host_one_form() {
    let loopback = [
        "127.0.0.1",
        "127.0.0.1.",
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "0x7F.0x0.0x0.0x1",
        "127.1",
        "0x7F000001",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "１２７．０．０．１",
        "%31%32%37%2e0%2e0%2e1",
    ];
    for s in loopback {
        let h = Host::parse(s).unwrap();
        assert_eq!(h, Host::V4([127, 0, 0, 1].into()), "{s}");
        assert_eq!(classify(h.ip().unwrap()), AddressClass::Loopback, "{s}");
    }
    let example = [
        "example.com",
        "EXAMPLE.COM",
        "example.com.",
        "Example.Com.",
        "%65xample.com",
        "ｅｘａｍｐｌｅ．ｃｏｍ",
        "example。com",
        "exa\u{ad}mple.com",
    ];
    for s in example {
        let h = Host::parse(s).unwrap();
        assert_eq!(h.as_domain().unwrap().as_str(), "example.com", "{s}");
    }
}

/// Deterministic pseudo-random generator, so the test needs no dependency and never flakes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

/// Random concatenations of interesting fragments: whatever is accepted must be a fixed point of
/// parse-display-parse, and nothing may panic.
#[test]
fn generated_inputs_are_fixed_points() {
    let fragments = [
        "a",
        "B",
        "0",
        "1",
        "7f",
        "0x",
        "09",
        "255",
        "256",
        ".",
        ".",
        "..",
        "-",
        "_",
        ":",
        "::",
        "[",
        "]",
        "%",
        "%2e",
        "%41",
        "@",
        "/",
        "?",
        "#",
        "ü",
        "Ü",
        "ß",
        "．",
        "xn--",
        "ffff",
        "\u{200d}",
        " ",
        "\t",
        "com",
        "4294967295",
    ];
    let mut rng = Lcg(0x5eed);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.next() % 6;
        let s: String = (0..n).map(|_| rng.pick(&fragments)).collect();

        if let Ok(h) = Host::parse(&s) {
            accepted += 1;
            let shown = h.to_string();
            assert_eq!(Host::parse(&shown).as_ref(), Ok(&h), "{s:?} -> {shown:?}");
            if let Host::Domain(d) = &h {
                assert!(d.len() <= 253 && !d.ends_with('.') && !d.contains(".."));
                assert!(d
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)));
            }
        }
        if let Ok(a) = Authority::parse(&s, Some(443)) {
            assert_eq!(
                Authority::parse(&a.to_string(), None),
                Ok(a.clone()),
                "{s:?}"
            );
            assert_ne!(a.port, 0);
        }
        let target = format!("http://{s}/x");
        if let Ok(u) = AbsoluteUri::parse(&target) {
            assert_eq!(
                AbsoluteUri::parse(&u.to_string()).as_ref(),
                Ok(&u),
                "{target:?}"
            );
            assert!(u.path_and_query.starts_with('/'));
        }
        let _ = parse_net(&s);
    }
    assert!(accepted > 1_000, "only {accepted} accepted");
}

#[test]
fn api_surface() {
    let a = Authority::parse("[::1]:8443", None).unwrap();
    assert_eq!(a.host, Host::V6(std::net::Ipv6Addr::LOCALHOST));
    assert_eq!(a.port, 8443);
    assert_eq!(a.to_string(), "[::1]:8443");

    let u = AbsoluteUri::parse("http://Bücher.DE./katalog?q=1").unwrap();
    assert_eq!(u.scheme, Scheme::Http);
    assert_eq!(u.authority.to_string(), "xn--bcher-kva.de:80");
    assert_eq!(u.path_and_query, "/katalog?q=1");

    let err = AbsoluteUri::parse("https://example.com/").unwrap_err();
    assert!(matches!(err, DestinationError::UnsupportedScheme(_)));
    assert_eq!(err.code(), "unsupported_scheme");
    let err = AbsoluteUri::parse("http://u:p@example.com/").unwrap_err();
    assert_eq!(err, DestinationError::UserInfo);
    assert_eq!(err.code(), "userinfo");

    let zone = DomainName::parse("example.com").unwrap();
    let name = Host::parse("WWW.EXAMPLE.COM.").unwrap();
    assert!(domain_is_within(name.as_domain().unwrap(), &zone));
    let other = DomainName::parse("notexample.com").unwrap();
    assert!(!domain_is_within(&other, &zone));

    let deny = NetSet::new(vec![
        parse_net("10.0.0.0/8").unwrap(),
        parse_net("169.254.169.254").unwrap(),
    ]);
    let ip: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
    assert!(deny.contains(ip));
    assert_eq!(canonical_ip(ip), IpAddr::from([169, 254, 169, 254]));
    assert_eq!(
        embedded_ipv4("2002:a00:1::".parse().unwrap()),
        Some([10, 0, 0, 1].into())
    );
    assert!(!AddressClass::Private.is_global());
    assert_eq!(AddressClass::SharedCgnat.as_str(), "shared_cgnat");
}

/// Replays the committed seed corpus of the `destination_canonical` fuzz target through the
/// same property checks it runs, so that every test run exercises them without libFuzzer.
#[test]
fn seed_corpus_holds_properties() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/destination_canonical");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| properties::check_destination(&bytes)) {
            eprintln!("property failed on {}", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

/// Found by the `destination_canonical` fuzz target: an absolute URI with userinfo that was
/// refused for another reason (whitespace, a missing `//`, a bad scheme) repeated the whole
/// target, password included, in its error message.
#[test]
fn userinfo_is_not_echoed_in_target_errors() {
    let cases = [
        ("http://user:secret@example.com/a b", "bad_target"),
        ("http://user:secret@example.com/\r\n", "bad_target"),
        ("http:user:secret@example.com/", "bad_target"),
        ("1http://user:secret@example.com/", "bad_target"),
        ("http://user:secret@exa mple.com#x", "bad_target"),
    ];
    for (input, code) in cases {
        let e = AbsoluteUri::parse(input).unwrap_err();
        assert_eq!(e.code(), code, "{input:?}");
        let msg = e.to_string();
        assert!(!msg.contains("secret"), "{input:?}: {msg}");
        assert!(
            msg.contains("…@example.com") || msg.contains("…@exa"),
            "{msg}"
        );
    }
    // Without userinfo the target is shown as it was.
    let e = AbsoluteUri::parse("http://example.com/a@b c").unwrap_err();
    assert!(e.to_string().contains("`http://example.com/a@b c`"), "{e}");
}
