//! `[audit]`: the audit queue, what happens when it is full, and the optional Squid log.

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
}

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
        AuditSettings {
            queue_size: self.queue_size.unwrap_or(65_536).max(1),
            on_backlog,
            backlog_wait: Duration::from_millis(self.backlog_wait_ms.unwrap_or(100)),
            squid_log: self.squid_log.as_ref().map(PathBuf::from),
            retention_days,
        }
    }
}
