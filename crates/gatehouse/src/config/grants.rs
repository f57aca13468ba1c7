//! `[grants]`: how long a pending access request waits for review, how long a grant may last, and
//! per scope a shorter maximum and the approvals it needs.
//!
//! ```toml
//! [grants]
//! pending_expiry = "24h"   # a request not reviewed by then expires
//! max_duration = "8h"      # the longest grant anyone may ask for
//!
//! [[grants.scopes]]
//! scope = "category:research-publishers"
//! max_duration = "2h"
//! approvals = 2            # two different approvers
//! ```

use std::time::Duration;

use access::Scope;
use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

/// A request not reviewed within this time expires.
pub const DEFAULT_PENDING_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// The longest grant anyone may ask for, unless configured otherwise.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrants {
    pending_expiry: Option<Spanned<String>>,
    max_duration: Option<Spanned<String>>,
    #[serde(default)]
    scopes: Vec<RawScope>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    scope: Spanned<String>,
    max_duration: Option<Spanned<String>>,
    approvals: Option<Spanned<i64>>,
}

/// The validated `[grants]` section.
#[derive(Debug, Clone)]
pub struct GrantSettings {
    pub pending_expiry: Duration,
    pub max_duration: Duration,
    pub scopes: Vec<ScopeLimits>,
}

impl Default for GrantSettings {
    fn default() -> Self {
        GrantSettings {
            pending_expiry: DEFAULT_PENDING_EXPIRY,
            max_duration: DEFAULT_MAX_DURATION,
            scopes: Vec::new(),
        }
    }
}

/// One `[[grants.scopes]]` entry.
#[derive(Debug, Clone)]
pub struct ScopeLimits {
    pub scope: Scope,
    /// `None`: the global `max_duration`.
    pub max_duration: Option<Duration>,
    /// 1 or 2.
    pub approvals: u32,
}

/// What applies to a request for a scope: the longest duration and the approvals it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_duration: Duration,
    pub approvals: u32,
}

impl GrantSettings {
    /// The limits for a request of `scope`: every configured scope that covers one of its items
    /// applies; the shortest maximum and the most approvals win.
    pub fn limits(&self, scope: &Scope) -> Limits {
        let mut limits = Limits {
            max_duration: self.max_duration,
            approvals: 1,
        };
        for s in self.scopes.iter().filter(|s| s.scope.touches(scope)) {
            if let Some(max) = s.max_duration {
                limits.max_duration = limits.max_duration.min(max);
            }
            limits.approvals = limits.approvals.max(s.approvals);
        }
        limits
    }
}

impl RawGrants {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> GrantSettings {
        let mut out = GrantSettings::default();
        if let Some(d) = &self.pending_expiry {
            out.pending_expiry = v
                .duration(d, "grants.pending_expiry")
                .unwrap_or(DEFAULT_PENDING_EXPIRY);
        }
        if let Some(d) = &self.max_duration {
            out.max_duration = v
                .duration(d, "grants.max_duration")
                .unwrap_or(DEFAULT_MAX_DURATION);
        }
        for raw in &self.scopes {
            let scope = match Scope::parse(raw.scope.get_ref()) {
                Ok(s) => s,
                Err(e) => {
                    v.err(&raw.scope, "grants.scopes.scope", e.to_string());
                    continue;
                }
            };
            let max_duration = raw
                .max_duration
                .as_ref()
                .and_then(|d| v.duration(d, "grants.scopes.max_duration"));
            let approvals = match &raw.approvals {
                None => 1,
                Some(a) if matches!(*a.get_ref(), 1 | 2) => *a.get_ref() as u32,
                Some(a) => {
                    let message = format!("`{}` approvals: a scope needs 1 or 2", a.get_ref());
                    v.err(a, "grants.scopes.approvals", message);
                    1
                }
            };
            out.scopes.push(ScopeLimits {
                scope,
                max_duration,
                approvals,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn problems(text: &str) -> Vec<String> {
        match Config::from_toml(text, "test.toml", Path::new(".")) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_apply_without_a_grants_section() {
        let c = Config::from_toml("", "t.toml", Path::new(".")).unwrap();
        assert_eq!(c.grants.pending_expiry, Duration::from_secs(24 * 3600));
        assert_eq!(c.grants.max_duration, Duration::from_secs(8 * 3600));
        let any = Scope::parse("domain:example.com").unwrap();
        assert_eq!(c.grants.limits(&any).approvals, 1);
    }

    #[test]
    fn scope_limits_apply_to_requests_they_cover() {
        let c = Config::from_toml(
            "[grants]\nmax_duration = \"4h\"\n[[grants.scopes]]\nscope = \"domain:journals.example\"\nmax_duration = \"1h\"\napprovals = 2\n",
            "t.toml",
            Path::new("."),
        )
        .unwrap();
        let l = c
            .grants
            .limits(&Scope::parse("domain:www.journals.example").unwrap());
        assert_eq!(
            (l.max_duration, l.approvals),
            (Duration::from_secs(3600), 2)
        );
        let l = c
            .grants
            .limits(&Scope::parse("domain:other.example").unwrap());
        assert_eq!(
            (l.max_duration, l.approvals),
            (Duration::from_secs(4 * 3600), 1)
        );
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let p = problems(
            "[grants]\npending_expiry = \"soon\"\n[[grants.scopes]]\nscope = \"example.com\"\n[[grants.scopes]]\nscope = \"tier:open\"\napprovals = 3\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].starts_with(
                "test.toml:2:18: key `grants.pending_expiry`: `soon` is not a duration"
            ),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("test.toml:4:9: key `grants.scopes.scope`: `example.com` is not"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("test.toml:7:13: key `grants.scopes.approvals`: `3` approvals"),
            "{}",
            p[2]
        );
    }
}
#[cfg(test)]
mod durations {
    #[test]
    fn days_are_read_as_24_hours() {
        use crate::config::parse_duration;
        assert_eq!(
            parse_duration("3d"),
            Some(std::time::Duration::from_secs(3 * 86400))
        );
        assert_eq!(
            parse_duration("1h 30m"),
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
