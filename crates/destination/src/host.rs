//! Canonical hosts: [`Host`] and [`DomainName`].
//!
//! Guarantees: [`Host::parse`] maps every accepted spelling of a host to exactly one value, so
//! that policy compares canonical forms only. Domains are UTS-46 processed by the `url` crate
//! (WHATWG host parser), lower case, ASCII (punycode `xn--` for IDN), without a trailing dot,
//! made of non-empty labels of at most 63 bytes drawn from `a-z 0-9 - _`, at most 253 bytes in
//! total. Every IPv4 spelling the WHATWG parser knows (decimal, octal, hex, short forms) becomes
//! [`Host::V4`]; IPv4-mapped IPv6 addresses also become [`Host::V4`]. Parsing is idempotent:
//! `Host::parse(&h.to_string()) == Ok(h)` for every accepted host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::DestinationError;

/// Maximum length of a domain name in bytes, without the trailing dot (RFC 1035).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Maximum length of one label in bytes (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// A canonical domain name; see the module documentation for the invariants. Cloning is cheap
/// (reference counted).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Arc<str>);

impl DomainName {
    /// Parse and canonicalise a domain name; IP addresses (in any spelling) are refused.
    pub fn parse(input: &str) -> Result<DomainName, DestinationError> {
        match Host::parse(input)? {
            Host::Domain(d) => Ok(d),
            Host::V4(_) | Host::V6(_) => Err(DestinationError::bad_host(
                input,
                "is an IP address, not a domain name",
            )),
        }
    }

    /// The canonical ASCII form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels from left to right, e.g. `["www", "example", "com"]`.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('.')
    }

    /// Validate the output of the WHATWG host parser and drop one trailing dot.
    fn from_whatwg(input: &str, mut domain: String) -> Result<DomainName, DestinationError> {
        if domain.ends_with('.') {
            domain.pop();
        }
        if domain.is_empty() {
            return Err(DestinationError::EmptyHost);
        }
        if domain.len() > MAX_DOMAIN_LEN {
            return Err(DestinationError::bad_host(
                input,
                format!("longer than {MAX_DOMAIN_LEN} bytes"),
            ));
        }
        for label in domain.split('.') {
            if label.is_empty() {
                return Err(DestinationError::bad_host(input, "empty label"));
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(DestinationError::bad_host(
                    input,
                    format!("label longer than {MAX_LABEL_LEN} bytes"),
                ));
            }
            // The WHATWG parser lets through punctuation such as `!`, `*`, `,`, `"` or `~`, which
            // never occurs in a resolvable host name and only serves to confuse headers, logs and
            // wildcard rules.
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return Err(DestinationError::bad_host(
                    input,
                    "only letters, digits, `-` and `_` are allowed in a domain name",
                ));
            }
        }
        Ok(DomainName(domain.into()))
    }
}

impl Deref for DomainName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl FromStr for DomainName {
    type Err = DestinationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainName::parse(s)
    }
}

impl PartialEq<str> for DomainName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for DomainName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// True when `name` is `zone` or a subdomain of it, on label boundaries: `a.example.com` and
/// `example.com` are within `example.com`; `notexample.com` is not.
pub fn domain_is_within(name: &DomainName, zone: &DomainName) -> bool {
    let (name, zone) = (name.as_str(), zone.as_str());
    match name.strip_suffix(zone) {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.'),
        None => false,
    }
}

/// A canonical host: a domain name or an IP address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Host {
    /// A canonical domain name.
    Domain(DomainName),
    /// An IPv4 address, including IPv4-mapped IPv6 addresses.
    V4(Ipv4Addr),
    /// An IPv6 address that is not IPv4-mapped.
    V6(Ipv6Addr),
}

impl Host {
    /// Parse and canonicalise the host part of a destination (no port). IPv6 addresses must be
    /// bracketed (`[::1]`); zone ids (`[fe80::1%eth0]`) are refused.
    pub fn parse(input: &str) -> Result<Host, DestinationError> {
        if input.is_empty() {
            return Err(DestinationError::EmptyHost);
        }
        // The WHATWG parser would refuse these too; checking first gives a clearer message and
        // does not depend on its deny list.
        if input.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(DestinationError::bad_host(
                input,
                "whitespace or control character",
            ));
        }
        if !input.starts_with('[') && input.contains(':') {
            return Err(DestinationError::bad_host(
                input,
                if input.parse::<Ipv6Addr>().is_ok() {
                    "an IPv6 address must be in brackets, e.g. `[::1]`"
                } else {
                    "`:` is not allowed in a host"
                },
            ));
        }
        if input.starts_with('[') && input.contains('%') {
            return Err(DestinationError::bad_host(
                input,
                "IPv6 zone ids are not allowed",
            ));
        }
        match url::Host::parse(input) {
            Ok(url::Host::Domain(d)) => DomainName::from_whatwg(input, d).map(Host::Domain),
            Ok(url::Host::Ipv4(a)) => Ok(Host::V4(a)),
            Ok(url::Host::Ipv6(a)) => Ok(Host::from(IpAddr::V6(a))),
            Err(url::ParseError::EmptyHost) => Err(DestinationError::EmptyHost),
            Err(e) => Err(DestinationError::bad_host(input, e.to_string())),
        }
    }

    /// The address, if the host is an IP address.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Domain(_) => None,
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// The domain name, if the host is one.
    pub fn as_domain(&self) -> Option<&DomainName> {
        match self {
            Host::Domain(d) => Some(d),
            Host::V4(_) | Host::V6(_) => None,
        }
    }

    /// True for [`Host::V4`] and [`Host::V6`].
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }
}

impl From<IpAddr> for Host {
    /// IPv4-mapped IPv6 addresses become [`Host::V4`], like in [`Host::parse`].
    fn from(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Host::V4(v4),
                None => Host::V6(a),
            },
        }
    }
}

impl From<DomainName> for Host {
    fn from(d: DomainName) -> Host {
        Host::Domain(d)
    }
}

impl FromStr for Host {
    type Err = DestinationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Host::parse(s)
    }
}

impl fmt::Display for Host {
    /// Authority form: domain as is, IPv4 dotted quad, IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => fmt::Display::fmt(a, f),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn dom(s: &str) -> Host {
        Host::Domain(DomainName(s.into()))
    }

    fn v4(s: &str) -> Host {
        Host::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> Host {
        Host::V6(s.parse().unwrap())
    }

    /// Every accepted spelling and its canonical form.
    fn accepted() -> Vec<(&'static str, Host)> {
        vec![
            // case and trailing dot
            ("example.com", dom("example.com")),
            ("EXAMPLE.COM", dom("example.com")),
            ("ExAmPlE.cOm", dom("example.com")),
            ("example.com.", dom("example.com")),
            ("localhost", dom("localhost")),
            ("LOCALHOST.", dom("localhost")),
            ("a", dom("a")),
            ("_dmarc.example.com", dom("_dmarc.example.com")),
            ("my_host.example.com", dom("my_host.example.com")),
            ("-leading.example.com", dom("-leading.example.com")),
            ("a-b.c-d.example", dom("a-b.c-d.example")),
            ("1.example.com", dom("1.example.com")),
            ("example.1a", dom("example.1a")),
            // IDNA
            ("bücher.de", dom("xn--bcher-kva.de")),
            ("BÜCHER.de", dom("xn--bcher-kva.de")),
            ("xn--bcher-kva.de", dom("xn--bcher-kva.de")),
            ("XN--BCHER-KVA.DE", dom("xn--bcher-kva.de")),
            ("bücher.de.", dom("xn--bcher-kva.de")),
            ("ｅｘａｍｐｌｅ．ｃｏｍ", dom("example.com")),
            ("example。com", dom("example.com")),
            ("example｡com", dom("example.com")),
            ("ＥＸＡＭＰＬＥ.com", dom("example.com")),
            ("faß.de", dom("xn--fa-hia.de")),
            ("例え.テスト", dom("xn--r8jz45g.xn--zckzah")),
            // soft hyphen is mapped away by UTS-46
            ("exam\u{ad}ple.com", dom("example.com")),
            // percent-encoding is decoded by the WHATWG parser
            ("%65xample.com", dom("example.com")),
            ("%45XAMPLE.com", dom("example.com")),
            ("example%2ecom", dom("example.com")),
            ("b%C3%BCcher.de", dom("xn--bcher-kva.de")),
            // IPv4 spellings
            ("127.0.0.1", v4("127.0.0.1")),
            ("2130706433", v4("127.0.0.1")),
            ("0177.0.0.1", v4("127.0.0.1")),
            ("0x7f.1", v4("127.0.0.1")),
            ("0X7F.1", v4("127.0.0.1")),
            ("127.1", v4("127.0.0.1")),
            ("127.0.1", v4("127.0.0.1")),
            ("0x7F000001", v4("127.0.0.1")),
            ("0x7f.0.0.1", v4("127.0.0.1")),
            ("017700000001", v4("127.0.0.1")),
            ("127.0.0.1.", v4("127.0.0.1")),
            ("１２７．０．０．１", v4("127.0.0.1")),
            ("%31%32%37.0.0.1", v4("127.0.0.1")),
            ("0", v4("0.0.0.0")),
            ("0x0", v4("0.0.0.0")),
            ("255.255.255.255", v4("255.255.255.255")),
            ("4294967295", v4("255.255.255.255")),
            ("0xffffffff", v4("255.255.255.255")),
            ("10.0.0.010", v4("10.0.0.8")),
            ("169.254.169.254", v4("169.254.169.254")),
            // IPv6
            ("[::1]", v6("::1")),
            ("[0:0:0:0:0:0:0:1]", v6("::1")),
            ("[0000:0000:0000:0000:0000:0000:0000:0001]", v6("::1")),
            ("[::]", v6("::")),
            ("[2001:DB8::1]", v6("2001:db8::1")),
            ("[2001:db8:0:0:0:0:0:1]", v6("2001:db8::1")),
            ("[fe80::1]", v6("fe80::1")),
            ("[::127.0.0.1]", v6("::7f00:1")),
            ("[64:ff9b::127.0.0.1]", v6("64:ff9b::7f00:1")),
            // IPv4-mapped IPv6 collapses to IPv4
            ("[::ffff:127.0.0.1]", v4("127.0.0.1")),
            ("[::ffff:7f00:1]", v4("127.0.0.1")),
            ("[::FFFF:7F00:1]", v4("127.0.0.1")),
            ("[0:0:0:0:0:ffff:7f00:1]", v4("127.0.0.1")),
            ("[::ffff:10.0.0.1]", v4("10.0.0.1")),
        ]
    }

    #[test]
    fn accepts_and_canonicalises() {
        for (input, want) in accepted() {
            let got = Host::parse(input);
            assert_eq!(got.as_ref(), Ok(&want), "input {input:?}");
        }
    }

    #[test]
    fn parse_is_idempotent() {
        let mut inputs: Vec<String> = accepted().iter().map(|(i, _)| i.to_string()).collect();
        inputs.push(format!("{}.com", "a".repeat(63)));
        inputs.push(["a".repeat(63).as_str(); 3].join(".") + "." + &"b".repeat(61));
        for input in inputs {
            let h = Host::parse(&input).unwrap();
            let again = Host::parse(&h.to_string()).unwrap();
            assert_eq!(again, h, "input {input:?} displayed as {h}");
            assert_eq!(again.to_string(), h.to_string());
        }
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, &str)] = &[
            ("", "empty_host"),
            (".", "empty_host"),
            ("[]", "bad_host"),
            ("example.com..", "bad_host"),
            ("..", "bad_host"),
            (".example.com", "bad_host"),
            ("a..b", "bad_host"),
            ("exa mple.com", "bad_host"),
            (" example.com", "bad_host"),
            ("example.com ", "bad_host"),
            ("example.com\t", "bad_host"),
            ("example.com\n", "bad_host"),
            ("example\u{0}.com", "bad_host"),
            ("example\u{3000}com", "bad_host"),
            ("%20example.com", "bad_host"),
            ("%00example.com", "bad_host"),
            ("example%2fcom", "bad_host"),
            ("exa%mple.com", "bad_host"),
            ("example.com:80", "bad_host"),
            ("user@example.com", "bad_host"),
            ("example.com/", "bad_host"),
            ("example.com?", "bad_host"),
            ("example.com#", "bad_host"),
            ("exa\\mple.com", "bad_host"),
            ("exa*mple.com", "bad_host"),
            ("*.example.com", "bad_host"),
            ("exa!mple.com", "bad_host"),
            ("a,b.com", "bad_host"),
            ("a\"b.com", "bad_host"),
            ("a~b.com", "bad_host"),
            // IPv4 out of range / malformed numbers
            ("256.0.0.1", "bad_host"),
            ("1.2.3.4.5", "bad_host"),
            ("4294967296", "bad_host"),
            ("0x100000000", "bad_host"),
            ("127.0.0.0x100", "bad_host"),
            ("1.2.3.256", "bad_host"),
            ("1.2.65536", "bad_host"),
            ("09.1.1.1", "bad_host"),
            ("example.1", "bad_host"),
            ("example.0x1", "bad_host"),
            ("127.0.0.1..", "bad_host"),
            // IPv6
            ("::1", "bad_host"),
            ("2001:db8::1", "bad_host"),
            ("[::1", "bad_host"),
            ("::1]", "bad_host"),
            ("[::1]:80", "bad_host"),
            ("[fe80::1%eth0]", "bad_host"),
            ("[fe80::1%25eth0]", "bad_host"),
            ("[::g]", "bad_host"),
            ("[1:2:3:4:5:6:7:8:9]", "bad_host"),
            ("[example.com]", "bad_host"),
            ("[127.0.0.1]", "bad_host"),
            // IDNA failures
            ("xn--.com", "bad_host"),
            ("xn--a.com", "bad_host"),
            ("xn--zz-zzzzzzzzzzzzzzzzzzzzz.com", "bad_host"),
            ("a\u{200d}b.com", "bad_host"),
            ("\u{5d0}a.com", "bad_host"),
        ];
        for (input, code) in cases {
            match Host::parse(input) {
                Ok(h) => panic!("{input:?} accepted as {h:?}"),
                Err(e) => assert_eq!(e.code(), *code, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn length_limits() {
        let label63 = "a".repeat(63);
        assert!(Host::parse(&format!("{label63}.com")).is_ok());
        let err = Host::parse(&format!("{label63}a.com")).unwrap_err();
        assert!(err.to_string().contains("label longer than 63"), "{err}");

        // 63+1+63+1+63+1+61 = 253
        let name253 = [label63.as_str(); 3].join(".") + "." + &"b".repeat(61);
        assert_eq!(name253.len(), 253);
        assert!(Host::parse(&name253).is_ok());
        assert!(Host::parse(&format!("{name253}.")).is_ok());
        let name254 = format!("{name253}b");
        let err = Host::parse(&name254).unwrap_err();
        assert!(err.to_string().contains("longer than 253"), "{err}");

        // the limits apply to the punycode form
        let idn = format!("{}.de", "ü".repeat(70));
        let err = Host::parse(&idn).unwrap_err();
        assert_eq!(err.code(), "bad_host");
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            Host::parse("exa mple.com").unwrap_err().to_string(),
            "invalid host `exa mple.com`: whitespace or control character"
        );
        assert_eq!(
            Host::parse("::1").unwrap_err().to_string(),
            "invalid host `::1`: an IPv6 address must be in brackets, e.g. `[::1]`"
        );
        assert_eq!(
            Host::parse("a\nb").unwrap_err().to_string(),
            "invalid host `a\\nb`: whitespace or control character"
        );
        assert_eq!(
            Host::parse("256.1.1.1").unwrap_err().to_string(),
            "invalid host `256.1.1.1`: invalid IPv4 address"
        );
    }

    #[test]
    fn accessors_and_display() {
        let h = Host::parse("Example.COM.").unwrap();
        assert_eq!(h.to_string(), "example.com");
        assert_eq!(h.as_domain().map(DomainName::as_str), Some("example.com"));
        assert_eq!(h.ip(), None);
        assert!(!h.is_ip());

        let h = Host::parse("0x7f.1").unwrap();
        assert_eq!(h.to_string(), "127.0.0.1");
        assert_eq!(h.ip(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(h.as_domain().is_none());
        assert!(h.is_ip());

        let h = Host::parse("[2001:DB8:0::1]").unwrap();
        assert_eq!(h.to_string(), "[2001:db8::1]");
        assert_eq!(h.ip(), Some("2001:db8::1".parse().unwrap()));

        let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(Host::from(mapped), v4("1.2.3.4"));
        assert_eq!("example.com".parse::<Host>().unwrap(), dom("example.com"));
    }

    #[test]
    fn domain_name_api() {
        let d = DomainName::parse("WWW.Example.com.").unwrap();
        assert_eq!(d.as_str(), "www.example.com");
        assert_eq!(&*d, "www.example.com");
        assert_eq!(d, "www.example.com");
        assert!(d.ends_with(".com"));
        assert_eq!(d.labels().collect::<Vec<_>>(), ["www", "example", "com"]);
        assert_eq!(d.labels().next_back(), Some("com"));
        assert_eq!(format!("{d:?}"), "\"www.example.com\"");
        assert_eq!(d.clone(), d);
        let err = DomainName::parse("127.1").unwrap_err();
        assert_eq!(err.code(), "bad_host");
        assert!(err.to_string().contains("not a domain name"), "{err}");
        assert!(DomainName::parse("[::1]").is_err());
    }

    #[test]
    fn within() {
        let d = |s: &str| DomainName::parse(s).unwrap();
        let yes = [
            ("example.com", "example.com"),
            ("a.example.com", "example.com"),
            ("a.b.example.com", "example.com"),
            ("EXAMPLE.com.", "example.com"),
            ("x.bücher.de", "xn--bcher-kva.de"),
            ("a.com", "com"),
        ];
        let no = [
            ("notexample.com", "example.com"),
            ("example.com", "a.example.com"),
            ("example.com.evil", "example.com"),
            ("example.org", "example.com"),
            ("com", "example.com"),
            ("xample.com", "example.com"),
            ("a-example.com", "example.com"),
            ("a_example.com", "example.com"),
        ];
        for (name, zone) in yes {
            assert!(domain_is_within(&d(name), &d(zone)), "{name} in {zone}");
        }
        for (name, zone) in no {
            assert!(
                !domain_is_within(&d(name), &d(zone)),
                "{name} not in {zone}"
            );
        }
    }
}
