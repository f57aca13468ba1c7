//! `[audit]`: the audit queue, what happens when it is full, the optional Squid log, and when the
//! verifiable log's checkpoints are signed.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    retention_days: Option<Spanned<i64>>,
    queue_size: Option<usize>,
    on_backlog: Option<Spanned<String>>,
    backlog_wait_ms: Option<u64>,
    squid_log: Option<String>,
    checkpoint_interval: Option<Spanned<String>>,
    checkpoint_events: Option<Spanned<u64>>,
}

/// What to do when the audit writer cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBacklog {
    /// Refuse the request with 503 ("audit backlog"): nothing goes through unrecorded.
    Refuse,
    /// Let the request through and count the lost event.
    Drop,
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Events older than this many days are pruned from the store (up to the newest checkpoint
    /// before the cut-off); `None`: kept forever.
    pub retention_days: Option<u32>,
    pub queue_size: usize,
    pub on_backlog: OnBacklog,
    pub backlog_wait: Duration,
    /// Where to write Squid's native access.log lines, if anywhere (relative to the data directory).
    pub squid_log: Option<PathBuf>,
    /// Sign a checkpoint when this long has passed since the last one and leaves are unsigned.
    pub checkpoint_interval: Duration,
    /// Sign a checkpoint as soon as this many leaves are unsigned.
    pub checkpoint_events: u64,
}

/// `checkpoint_interval`'s default.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// `checkpoint_events`' default.
pub const DEFAULT_CHECKPOINT_EVENTS: u64 = 10_000;

impl RawAudit {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> AuditSettings {
        let retention_days = self.retention_days.as_ref().and_then(|d| {
            let n = *d.get_ref();
            let days = u32::try_from(n).ok().filter(|n| (1..=36_500).contains(n));
            if days.is_none() {
                v.err(
                    d,
                    "audit.retention_days",
                    format!("`{n}` is not a number of days from 1 to 36500 (leave the key out to keep events forever)"),
                );
            }
            days
        });
        let on_backlog = match &self.on_backlog {
            None => OnBacklog::Refuse,
            Some(s) => match s.get_ref().as_str() {
                "refuse" => OnBacklog::Refuse,
                "drop" => OnBacklog::Drop,
                other => {
                    v.err(
                        s,
                        "audit.on_backlog",
                        format!("`{other}` is not one of `refuse`, `drop`"),
                    );
                    OnBacklog::Refuse
                }
            },
        };
        let checkpoint_interval = self
            .checkpoint_interval
            .as_ref()
            .and_then(|raw| v.duration(raw, "audit.checkpoint_interval"))
            .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL);
        let checkpoint_events = match &self.checkpoint_events {
            None => DEFAULT_CHECKPOINT_EVENTS,
            Some(n) if *n.get_ref() == 0 => {
                let message = "`0` is not a number of events; write 1 or more".to_string();
                v.err(n, "audit.checkpoint_events", message);
                DEFAULT_CHECKPOINT_EVENTS
            }
            Some(n) => *n.get_ref(),
        };
        AuditSettings {
            checkpoint_interval,
            checkpoint_events,
            queue_size: self.queue_size.unwrap_or(65_536).max(1),
            on_backlog,
            backlog_wait: Duration::from_millis(self.backlog_wait_ms.unwrap_or(100)),
            squid_log: self.squid_log.as_ref().map(PathBuf::from),
            retention_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    fn audit(text: &str) -> Result<super::AuditSettings, Vec<String>> {
        Config::from_toml(text, "test.toml", Path::new("."))
            .map(|c| c.audit)
            .map_err(|e| e.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn checkpoint_keys_have_defaults_and_located_errors() {
        let d = audit("").unwrap();
        assert_eq!(d.checkpoint_interval, Duration::from_secs(10));
        assert_eq!(d.checkpoint_events, 10_000);
        let set =
            audit("[audit]\ncheckpoint_interval = \"1m 30s\"\ncheckpoint_events = 5\n").unwrap();
        assert_eq!(set.checkpoint_interval, Duration::from_secs(90));
        assert_eq!(set.checkpoint_events, 5);
        let p =
            audit("[audit]\ncheckpoint_interval = \"soon\"\ncheckpoint_events = 0\n").unwrap_err();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with(
                "test.toml:2:23: key `audit.checkpoint_interval`: `soon` is not a duration"
            ),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("test.toml:3:21: key `audit.checkpoint_events`: `0` is not a number"),
            "{}",
            p[1]
        );
    }
}
