//! Destinations with a port: [`Authority`] (`host:port`, as in `CONNECT` and `Host`) and
//! [`AbsoluteUri`] (`http://host[:port]/path?query`, the absolute-form request target).
//!
//! Guarantees: the host inside is canonical (see [`Host::parse`]); the port is in `1..=65535`;
//! userinfo is refused with its own variant ([`DestinationError::UserInfo`]) and never echoed;
//! whitespace and control characters are refused anywhere; an authority never contains `/`,
//! `?` or `#`; an absolute URI never has a fragment, and its scheme is `http`. Display gives the
//! canonical form, which parses back to the same value.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{shown, DestinationError};
use crate::host::Host;

/// A canonical `host:port`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Authority {
    /// The canonical host.
    pub host: Host,
    /// The port, never 0.
    pub port: u16,
}

impl Authority {
    /// Parse `host:port`, `[v6]:port`, or `host` / `[v6]` alone (then `default_port` is used;
    /// `None` means the port is required).
    ///
    /// Refuses userinfo (`@`, variant [`DestinationError::UserInfo`]), an empty host, an empty
    /// port, port 0, ports above 65535, ports with anything but ASCII digits, whitespace or
    /// control characters, and any `/`, `?` or `#`.
    pub fn parse(input: &str, default_port: Option<u16>) -> Result<Authority, DestinationError> {
        if input.contains('@') {
            return Err(DestinationError::UserInfo);
        }
        if input.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(DestinationError::bad_authority(
                input,
                "whitespace or control character",
            ));
        }
        if input.contains(['/', '?', '#']) {
            return Err(DestinationError::bad_authority(
                input,
                "`/`, `?` and `#` are not allowed in an authority",
            ));
        }
        let (host, port) = split_host_port(input)?;
        if host.is_empty() {
            return Err(DestinationError::EmptyHost);
        }
        let host = Host::parse(host)?;
        let port = match port {
            Some(p) => parse_port(p)?,
            None => match default_port {
                Some(0) => return Err(DestinationError::bad_port("0", "port 0 is not allowed")),
                Some(p) => p,
                None => return Err(DestinationError::MissingPort(shown(input))),
            },
        };
        Ok(Authority { host, port })
    }
}

/// Split `host[:port]` / `[v6][:port]`; the port text is returned without the colon.
fn split_host_port(input: &str) -> Result<(&str, Option<&str>), DestinationError> {
    if input.starts_with('[') {
        let Some(close) = input.find(']') else {
            return Err(DestinationError::bad_authority(input, "missing `]`"));
        };
        let (host, rest) = input.split_at(close + 1);
        if rest.is_empty() {
            return Ok((host, None));
        }
        match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None => Err(DestinationError::bad_authority(
                input,
                "expected `:port` after `]`",
            )),
        }
    } else {
        match input.split_once(':') {
            None => Ok((input, None)),
            Some((_, port)) if port.contains(':') => Err(DestinationError::bad_authority(
                input,
                "more than one `:`; an IPv6 address must be in brackets, e.g. `[::1]:443`",
            )),
            Some((host, port)) => Ok((host, Some(port))),
        }
    }
}

/// Parse a decimal port in `1..=65535`; leading zeros are accepted (`0080` is 80).
fn parse_port(port: &str) -> Result<u16, DestinationError> {
    if port.is_empty() {
        return Err(DestinationError::bad_port(port, "empty port"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DestinationError::bad_port(port, "not a decimal number"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(DestinationError::bad_port(port, "port 0 is not allowed")),
        Ok(p) => Ok(p),
        Err(_) => Err(DestinationError::bad_port(port, "greater than 65535")),
    }
}

impl FromStr for Authority {
    type Err = DestinationError;
    /// Like [`Authority::parse`] with the port required.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Authority::parse(s, None)
    }
}

impl fmt::Display for Authority {
    /// `host:port`, with brackets around IPv6 addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The scheme of an absolute-form request target. Only `http` is proxied in absolute form;
/// `https` goes through `CONNECT`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
}

impl Scheme {
    /// The lower-case scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
        }
    }

    /// The port used when the authority has none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed absolute-form request target.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AbsoluteUri {
    /// Always [`Scheme::Http`] today.
    pub scheme: Scheme,
    /// The canonical destination; the port defaults to 80.
    pub authority: Authority,
    /// The origin-form target to send upstream: always starts with `/` (`/` when the target had
    /// no path), query included, passed through byte for byte otherwise.
    pub path_and_query: String,
}

impl AbsoluteUri {
    /// Parse an absolute-form request target `http://host[:port]/path?query`; the scheme is
    /// case-insensitive and the port defaults to 80.
    ///
    /// Refuses userinfo ([`DestinationError::UserInfo`]), schemes other than `http`
    /// ([`DestinationError::UnsupportedScheme`]), fragments ([`DestinationError::Fragment`]), a
    /// missing host, whitespace or control characters anywhere, and anything that is not
    /// `scheme://authority` followed by nothing, `/...` or `?...`.
    pub fn parse(target: &str) -> Result<AbsoluteUri, DestinationError> {
        if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(DestinationError::bad_target(
                &without_userinfo(target),
                "whitespace or control character",
            ));
        }
        let Some((scheme, rest)) = target.split_once(':') else {
            return Err(DestinationError::bad_target(
                &without_userinfo(target),
                "not an absolute uri",
            ));
        };
        if !is_scheme(scheme) {
            return Err(DestinationError::bad_target(
                &without_userinfo(target),
                "not an absolute uri",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(DestinationError::UnsupportedScheme(
                shown(scheme).to_ascii_lowercase(),
            ));
        }
        let scheme = Scheme::Http;
        let Some(rest) = rest.strip_prefix("//") else {
            return Err(DestinationError::bad_target(
                &without_userinfo(target),
                "expected `//` after the scheme",
            ));
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(DestinationError::UserInfo);
        }
        if target.contains('#') {
            return Err(DestinationError::Fragment(shown(&without_userinfo(target))));
        }
        if authority.is_empty() {
            return Err(DestinationError::EmptyHost);
        }
        let authority = Authority::parse(authority, Some(scheme.default_port()))?;
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query.to_owned()
        } else {
            // empty, or a query directly after the authority
            format!("/{path_and_query}")
        };
        Ok(AbsoluteUri {
            scheme,
            authority,
            path_and_query,
        })
    }
}

/// `target` with its userinfo, if any, replaced by `…`, for error messages: userinfo usually
/// carries a password and is never echoed. The authority is what follows `scheme:` and an
/// optional `//`, up to the first `/`, `?` or `#`; the userinfo is its part before the last `@`.
fn without_userinfo(target: &str) -> Cow<'_, str> {
    let start = match target.find(':') {
        Some(colon) if target[colon + 1..].starts_with("//") => colon + 3,
        Some(colon) => colon + 1,
        None => 0,
    };
    let rest = &target[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}…{}", &target[..start], &rest[at..])),
        None => Cow::Borrowed(target),
    }
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

impl FromStr for AbsoluteUri {
    type Err = DestinationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AbsoluteUri::parse(s)
    }
}

impl fmt::Display for AbsoluteUri {
    /// `http://host:port/path?query`; the port is always written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme, self.authority, self.path_and_query
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn auth(host: &str, port: u16) -> Authority {
        Authority {
            host: Host::parse(host).unwrap(),
            port,
        }
    }

    #[test]
    fn authority_accepts() {
        let cases: &[(&str, Option<u16>, &str, u16)] = &[
            ("example.com:443", None, "example.com", 443),
            ("EXAMPLE.com.:443", None, "example.com", 443),
            ("example.com", Some(80), "example.com", 80),
            ("example.com:8080", Some(80), "example.com", 8080),
            ("example.com:1", None, "example.com", 1),
            ("example.com:65535", None, "example.com", 65535),
            ("example.com:0443", None, "example.com", 443),
            ("bücher.de:443", None, "xn--bcher-kva.de", 443),
            ("127.0.0.1:22", None, "127.0.0.1", 22),
            ("2130706433:22", None, "127.0.0.1", 22),
            ("0x7f.1:22", None, "127.0.0.1", 22),
            ("127.0.0.1.:22", None, "127.0.0.1", 22),
            ("[::1]:443", None, "[::1]", 443),
            ("[::1]", Some(443), "[::1]", 443),
            ("[0:0:0:0:0:0:0:1]:443", None, "[::1]", 443),
            ("[::ffff:127.0.0.1]:443", None, "127.0.0.1", 443),
            ("[2001:DB8::1]:8443", None, "[2001:db8::1]", 8443),
            ("%65xample.com:80", None, "example.com", 80),
        ];
        for &(input, default, host, port) in cases {
            let got = Authority::parse(input, default);
            assert_eq!(got, Ok(auth(host, port)), "input {input:?}");
            let a = got.unwrap();
            assert_eq!(Authority::parse(&a.to_string(), None), Ok(a.clone()));
        }
    }

    #[test]
    fn authority_display() {
        assert_eq!(
            Authority::parse("EXAMPLE.com", Some(80))
                .unwrap()
                .to_string(),
            "example.com:80"
        );
        assert_eq!(
            Authority::parse("[::1]:443", None).unwrap().to_string(),
            "[::1]:443"
        );
        assert_eq!(
            Authority::parse("0x7f.1:8080", None).unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            "example.com:1".parse::<Authority>().unwrap(),
            auth("example.com", 1)
        );
    }

    #[test]
    fn authority_refusals() {
        let cases: &[(&str, Option<u16>, &str)] = &[
            ("user@example.com:443", None, "userinfo"),
            ("user:pass@example.com:443", None, "userinfo"),
            ("@example.com:443", None, "userinfo"),
            ("example.com:443@evil.com", None, "userinfo"),
            ("", Some(80), "empty_host"),
            (":443", None, "empty_host"),
            ("[]:443", None, "bad_host"),
            ("example.com", None, "missing_port"),
            ("[::1]", None, "missing_port"),
            ("example.com", Some(0), "bad_port"),
            ("example.com:", None, "bad_port"),
            ("example.com:", Some(80), "bad_port"),
            ("example.com:0", None, "bad_port"),
            ("example.com:00", None, "bad_port"),
            ("example.com:65536", None, "bad_port"),
            ("example.com:99999999999999999999", None, "bad_port"),
            ("example.com:+80", None, "bad_port"),
            ("example.com:-1", None, "bad_port"),
            ("example.com:8o", None, "bad_port"),
            ("example.com:0x50", None, "bad_port"),
            ("example.com:٨٠", None, "bad_port"),
            ("example.com: 80", None, "bad_authority"),
            ("example.com :80", None, "bad_authority"),
            (" example.com:80", None, "bad_authority"),
            ("example.com:80\r\n", None, "bad_authority"),
            ("exa\tmple.com:80", None, "bad_authority"),
            ("example.com/:80", None, "bad_authority"),
            ("example.com:80/", None, "bad_authority"),
            ("example.com:80?", None, "bad_authority"),
            ("example.com:80#", None, "bad_authority"),
            ("example.com#:80", None, "bad_authority"),
            ("::1:443", None, "bad_authority"),
            ("example.com:80:80", None, "bad_authority"),
            ("[::1]443", None, "bad_authority"),
            ("[::1]:", None, "bad_port"),
            ("[::1", None, "bad_authority"),
            ("[::1]]:443", None, "bad_authority"),
            ("[fe80::1%eth0]:443", None, "bad_host"),
            ("exa mple.com", Some(80), "bad_authority"),
            ("example.com..:80", None, "bad_host"),
            ("256.0.0.1:80", None, "bad_host"),
            ("exa\\mple.com:80", None, "bad_host"),
        ];
        for &(input, default, code) in cases {
            match Authority::parse(input, default) {
                Ok(a) => panic!("{input:?} accepted as {a:?}"),
                Err(e) => assert_eq!(e.code(), code, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn authority_error_messages() {
        let e = Authority::parse("user:hunter2@example.com:443", None).unwrap_err();
        assert_eq!(e, DestinationError::UserInfo);
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(
            Authority::parse("example.com:65536", None)
                .unwrap_err()
                .to_string(),
            "invalid port `65536`: greater than 65535"
        );
        assert_eq!(
            Authority::parse("example.com", None)
                .unwrap_err()
                .to_string(),
            "missing port in `example.com`"
        );
    }

    #[test]
    fn absolute_accepts() {
        let cases: &[(&str, &str, u16, &str)] = &[
            ("http://example.com/", "example.com", 80, "/"),
            ("http://example.com", "example.com", 80, "/"),
            ("HTTP://EXAMPLE.COM/Path", "example.com", 80, "/Path"),
            (
                "hTtP://example.com:8080/a?b=c",
                "example.com",
                8080,
                "/a?b=c",
            ),
            ("http://example.com?q=1", "example.com", 80, "/?q=1"),
            ("http://example.com:80", "example.com", 80, "/"),
            ("http://example.com./x", "example.com", 80, "/x"),
            ("http://bücher.de/", "xn--bcher-kva.de", 80, "/"),
            ("http://0x7f.1/", "127.0.0.1", 80, "/"),
            ("http://2130706433:8080/", "127.0.0.1", 8080, "/"),
            ("http://[::1]/", "[::1]", 80, "/"),
            ("http://[::1]:8080/x", "[::1]", 8080, "/x"),
            ("http://[::ffff:7f00:1]/", "127.0.0.1", 80, "/"),
            ("http://example.com/a@b", "example.com", 80, "/a@b"),
            ("http://example.com/?x=@y", "example.com", 80, "/?x=@y"),
            ("http://example.com/%7Euser", "example.com", 80, "/%7Euser"),
            ("http://example.com//double", "example.com", 80, "//double"),
            ("http://example.com/a/../b", "example.com", 80, "/a/../b"),
        ];
        for &(input, host, port, pq) in cases {
            let got = AbsoluteUri::parse(input);
            let want = AbsoluteUri {
                scheme: Scheme::Http,
                authority: auth(host, port),
                path_and_query: pq.to_owned(),
            };
            assert_eq!(got.as_ref(), Ok(&want), "input {input:?}");
            assert_eq!(AbsoluteUri::parse(&want.to_string()), Ok(want.clone()));
        }
        assert_eq!(
            AbsoluteUri::parse("HTTP://Example.com?x")
                .unwrap()
                .to_string(),
            "http://example.com:80/?x"
        );
    }

    #[test]
    fn absolute_refusals() {
        let cases: &[(&str, &str)] = &[
            ("http://user@example.com/", "userinfo"),
            ("http://user:pass@example.com/", "userinfo"),
            ("http://@example.com/", "userinfo"),
            ("http://evil.com\\@good.com/", "userinfo"),
            ("http://user:pass@example.com/#frag", "userinfo"),
            ("https://example.com/", "unsupported_scheme"),
            ("HTTPS://example.com/", "unsupported_scheme"),
            ("ftp://example.com/", "unsupported_scheme"),
            ("ws://example.com/", "unsupported_scheme"),
            ("file:///etc/passwd", "unsupported_scheme"),
            ("mailto:a@example.com", "unsupported_scheme"),
            ("http+unix://x/", "unsupported_scheme"),
            ("http://example.com/#frag", "fragment"),
            ("http://example.com#frag", "fragment"),
            ("http://example.com/a?b#c", "fragment"),
            ("http://example.com/#", "fragment"),
            ("http:///path", "empty_host"),
            ("http://", "empty_host"),
            ("http://?q", "empty_host"),
            ("http://:80/", "empty_host"),
            ("http:/example.com/", "bad_target"),
            ("http:example.com", "bad_target"),
            ("http:\\\\example.com\\", "bad_target"),
            ("/path", "bad_target"),
            ("example.com:80", "unsupported_scheme"),
            ("", "bad_target"),
            ("*", "bad_target"),
            ("1http://example.com/", "bad_target"),
            ("://example.com/", "bad_target"),
            ("http://exa mple.com/", "bad_target"),
            ("http://example.com/a b", "bad_target"),
            (" http://example.com/", "bad_target"),
            ("http://example.com/\r\nHost: evil", "bad_target"),
            ("http://example.com/\u{0}", "bad_target"),
            ("http://example.com/\u{85}", "bad_target"),
            ("http://example.com:0/", "bad_port"),
            ("http://example.com:65536/", "bad_port"),
            ("http://example.com:/", "bad_port"),
            ("http://example.com:x/", "bad_port"),
            ("http://example.com../", "bad_host"),
            ("http://256.1.1.1/", "bad_host"),
            ("http://[fe80::1%25eth0]/", "bad_host"),
            ("http://::1/", "bad_authority"),
            ("http://exa\\mple.com/", "bad_host"),
        ];
        for &(input, code) in cases {
            match AbsoluteUri::parse(input) {
                Ok(u) => panic!("{input:?} accepted as {u:?}"),
                Err(e) => assert_eq!(e.code(), code, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn absolute_error_messages() {
        assert_eq!(
            AbsoluteUri::parse("HTTPS://example.com/")
                .unwrap_err()
                .to_string(),
            "unsupported scheme `https`: only `http` is proxied in absolute form"
        );
        let e = AbsoluteUri::parse("http://u:secret@example.com/").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = AbsoluteUri::parse("http://example.com/\r\nX: y").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid request target `http://example.com/\\r\\nX: y`: whitespace or control character"
        );
    }
}
