//! The [`Validator`]: collects the problems of one file while each section validates itself, so
//! that all of them are reported at once, and holds the checks that several sections share
//! (socket addresses, networks, domain names). It knows no section: the sections call it, and
//! `mod.rs` runs them in order.

use std::net::SocketAddr;
use std::time::Duration;

use destination::net::{parse_net, NetSet};
use destination::{DomainName, Host};
use toml::Spanned;

use super::locator::Locator;
use super::problems::Problem;

/// Collects the problems of one file while each section validates itself, so that all of them
/// are reported at once.
pub(super) struct Validator<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) problems: Vec<Problem>,
}

/// A duration as configuration and commands write it: `"90s"`, `"15m"`, `"2h"`, `"1h 30m"`, `"3d"`
/// (jiff's friendly format, or ISO 8601 `PT15M`; a day is 24 hours), more than 0.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let signed = text.parse::<jiff::SignedDuration>().ok().or_else(|| {
        // Days (`3d`): a span, read with days of 24 hours (a grant's or a guest's length, not a
        // calendar date).
        let span = text.parse::<jiff::Span>().ok()?;
        span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .ok()
    })?;
    Duration::try_from(signed).ok().filter(|d| !d.is_zero())
}

impl Validator<'_> {
    /// A duration of more than 0 ([`parse_duration`]); `None`, with the problem recorded, otherwise.
    pub(super) fn duration(&mut self, raw: &Spanned<String>, key: &str) -> Option<Duration> {
        let parsed = parse_duration(raw.get_ref());
        if parsed.is_none() {
            let message = format!(
                "`{}` is not a duration of more than 0; write it as `90s`, `15m`, `2h` or `1h 30m`",
                raw.get_ref().escape_debug()
            );
            self.err(raw, key, message);
        }
        parsed
    }

    pub(super) fn err<T>(&mut self, s: &Spanned<T>, key: &str, message: String) {
        let p = self.loc.problem(s.span(), key, message);
        self.problems.push(p);
    }

    /// A problem of the file as a whole (line 0, column 0).
    pub(super) fn problem_without_position(&mut self, key: &str, message: String) {
        self.problems.push(Problem {
            file: self.loc.file.to_string(),
            line: 0,
            column: 0,
            key: key.into(),
            message,
        });
    }

    pub(super) fn socket(
        &mut self,
        s: &Option<Spanned<String>>,
        key: &str,
        default: &str,
    ) -> SocketAddr {
        let fallback: SocketAddr = default
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        match s {
            None => fallback,
            Some(v) => match v.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    self.err(
                        v,
                        key,
                        format!(
                            "`{}` is not a socket address; write it as `127.0.0.1:3128` or `[::1]:3128`",
                            v.get_ref()
                        ),
                    );
                    fallback
                }
            },
        }
    }

    pub(super) fn nets(&mut self, items: &[Spanned<String>], key: &str) -> NetSet {
        let mut nets = Vec::new();
        for item in items {
            match parse_net(item.get_ref()) {
                Ok(n) => nets.push(n),
                Err(e) => self.err(item, key, e.to_string()),
            }
        }
        NetSet::new(nets)
    }

    /// Every item as a canonical domain; an address is refused with ``"`NAME` " + if_address``.
    pub(super) fn domains(
        &mut self,
        items: &[Spanned<String>],
        key: &str,
        if_address: &str,
    ) -> Vec<DomainName> {
        items
            .iter()
            .filter_map(|d| self.domain(d.get_ref(), d, key, if_address))
            .collect()
    }

    /// `name` as a canonical domain, located at `at`; an address is refused with
    /// ``"`NAME` " + if_address``.
    pub(super) fn domain<T>(
        &mut self,
        name: &str,
        at: &Spanned<T>,
        key: &str,
        if_address: &str,
    ) -> Option<DomainName> {
        match Host::parse(name) {
            Ok(Host::Domain(d)) => Some(d),
            Ok(_) => {
                self.err(at, key, format!("`{name}` {if_address}"));
                None
            }
            Err(e) => {
                self.err(at, key, e.to_string());
                None
            }
        }
    }
}
