//! `[notify]`: the webhook that receives JSON events about access requests, grants and guests,
//! how it is signed, how often a delivery is tried, and how long before its end a grant is
//! announced as about to expire. Without `webhook` nothing is sent.
//!
//! ```toml
//! [notify]
//! webhook = "http://hooks.example:8000/gatehouse"   # plain http:// only, for now
//! secret = "…"               # X-Gatehouse-Signature: sha256=HMAC-SHA256(secret, body)
//! expiry_warning = "15m"     # announce a grant this long before it ends
//! max_attempts = 5           # then the event is counted as failed
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

/// A grant is announced this long before its end, by default.
pub const DEFAULT_EXPIRY_WARNING: Duration = Duration::from_secs(15 * 60);
/// Deliveries of one event tried before it counts as failed, by default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// How long one delivery attempt may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait after the first failed attempt; it doubles after each one (at most [`MAX_BACKOFF`]).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
const MOST_ATTEMPTS: i64 = 100;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    webhook: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    expiry_warning: Option<Spanned<String>>,
    max_attempts: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    backoff: Option<Spanned<String>>,
}

/// Where the webhook is: an `http://` address split for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// As written (the key of its cursor in the store).
    pub url: String,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// The validated `[notify]` section.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// `None`: no notifications.
    pub webhook: Option<Webhook>,
    pub secret: Option<String>,
    pub expiry_warning: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub backoff: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            webhook: None,
            secret: None,
            expiry_warning: DEFAULT_EXPIRY_WARNING,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            timeout: DEFAULT_TIMEOUT,
            backoff: DEFAULT_BACKOFF,
        }
    }
}

// The secret is never printed.
impl fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifySettings")
            .field("webhook", &self.webhook)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("expiry_warning", &self.expiry_warning)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl RawNotify {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> NotifySettings {
        let mut out = NotifySettings {
            webhook: self.webhook.as_ref().and_then(|raw| webhook(v, raw)),
            ..NotifySettings::default()
        };
        if let Some(s) = &self.secret {
            if s.get_ref().is_empty() {
                v.err(
                    s,
                    "notify.secret",
                    "the secret is empty; leave the key out to send unsigned events".into(),
                );
            } else {
                out.secret = Some(s.get_ref().clone());
            }
        }
        let durations = [
            (
                &self.expiry_warning,
                "notify.expiry_warning",
                &mut out.expiry_warning,
            ),
            (&self.timeout, "notify.timeout", &mut out.timeout),
            (&self.backoff, "notify.backoff", &mut out.backoff),
        ];
        for (raw, key, into) in durations {
            if let Some(d) = raw.as_ref().and_then(|raw| v.duration(raw, key)) {
                *into = d;
            }
        }
        if let Some(n) = &self.max_attempts {
            match u32::try_from(*n.get_ref()) {
                Ok(k) if (1..=MOST_ATTEMPTS).contains(n.get_ref()) => out.max_attempts = k,
                _ => v.err(
                    n,
                    "notify.max_attempts",
                    format!(
                        "`{}` attempts: write a number from 1 to {MOST_ATTEMPTS}",
                        n.get_ref()
                    ),
                ),
            }
        }
        out
    }
}

/// `http://host[:port][/path]`; `https://` is refused for now (no TLS client yet).
fn webhook(v: &mut Validator<'_>, raw: &Spanned<String>) -> Option<Webhook> {
    let text = raw.get_ref();
    let problem = match url::Url::parse(text) {
        Ok(u) if u.scheme() == "http" && u.host_str().is_some_and(|h| !h.is_empty()) => {
            let mut path = u.path().to_string();
            if let Some(q) = u.query() {
                path = format!("{path}?{q}");
            }
            return Some(Webhook {
                url: text.clone(),
                host: u.host_str().unwrap_or_default().to_string(),
                port: u.port_or_known_default().unwrap_or(80),
                path,
            });
        }
        Ok(u) if u.scheme() == "https" => format!(
            "`{}`: https webhooks are not supported yet; use an `http://` address (on a trusted network or through a local TLS forwarder)",
            text.escape_debug()
        ),
        _ => format!(
            "`{}` is not a webhook address; write it as `http://hooks.example:8000/gatehouse`",
            text.escape_debug()
        ),
    };
    v.err(raw, "notify.webhook", problem);
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    fn problems(text: &str) -> Vec<String> {
        match Config::from_toml(text, "test.toml", Path::new(".")) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn notify_has_defaults_and_reports_bad_keys_with_their_place() {
        let c = Config::builtin().unwrap();
        assert_eq!(c.notify.webhook, None);
        assert_eq!(c.notify.expiry_warning, Duration::from_secs(900));
        assert_eq!(c.notify.max_attempts, 5);
        let c = Config::from_toml(
            "[notify]\nwebhook = \"http://127.0.0.9:8000/hook?x=1\"\nsecret = \"s3\"\nexpiry_warning = \"5m\"\nmax_attempts = 3\nbackoff = \"100ms\"\n",
            "test.toml",
            Path::new("."),
        )
        .unwrap();
        let hook = c.notify.webhook.clone().unwrap();
        assert_eq!(
            (hook.host.as_str(), hook.port, hook.path.as_str()),
            ("127.0.0.9", 8000, "/hook?x=1")
        );
        assert_eq!(c.notify.secret.as_deref(), Some("s3"));
        assert_eq!(c.notify.expiry_warning, Duration::from_secs(300));
        assert_eq!(c.notify.max_attempts, 3);
        assert_eq!(c.notify.backoff, Duration::from_millis(100));
        assert!(
            !format!("{:?}", c.notify).contains("s3"),
            "the secret is never printed"
        );
        assert_eq!(
            problems("[notify]\nwebhook = \"https://h.example/\"\nmax_attempts = 0\nexpiry_warning = \"soon\"\n"),
            [
                "test.toml:2:11: key `notify.webhook`: `https://h.example/`: https webhooks are not supported yet; use an `http://` address (on a trusted network or through a local TLS forwarder)",
                "test.toml:4:18: key `notify.expiry_warning`: `soon` is not a duration of more than 0; write it as `90s`, `15m`, `2h` or `1h 30m`",
                "test.toml:3:16: key `notify.max_attempts`: `0` attempts: write a number from 1 to 100",
            ]
        );
        assert_eq!(
            problems("[notify]\nwebhook = \"hooks.example\"\n"),
            ["test.toml:2:11: key `notify.webhook`: `hooks.example` is not a webhook address; write it as `http://hooks.example:8000/gatehouse`"]
        );
    }
}
