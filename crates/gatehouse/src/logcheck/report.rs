//! What a verification found: each problem has a [`Kind`] (the kinds of change `docs/audit-log.md`
//! names), the first leaf and event it concerns, and a sentence that says what to look at.
//! Shared by the store's verification and an export's.

use std::fmt;

/// The kind of change a problem shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An event's fields differ from what was recorded (or a checkpoint's text was changed).
    Edited,
    /// An event, or a leaf and its event, is gone from the middle of the log.
    Removed,
    /// An event is in the store that the log never had.
    Inserted,
    /// Events are in other places than the ones they were recorded in.
    Reordered,
    /// The log ends before a signed checkpoint's size.
    TailCut,
    /// A checkpoint is not signed by the key the log is checked with.
    WrongKey,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Edited => "edited",
            Kind::Removed => "removed",
            Kind::Inserted => "inserted",
            Kind::Reordered => "reordered",
            Kind::TailCut => "tail cut",
            Kind::WrongKey => "wrong key",
        })
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// The first leaf concerned, when there is one.
    pub leaf: Option<u64>,
    /// The first event concerned, when it is known.
    pub event_id: Option<i64>,
    pub message: String,
}

impl Finding {
    pub fn new(kind: Kind, leaf: Option<u64>, event_id: Option<i64>, message: String) -> Finding {
        Finding {
            kind,
            leaf,
            event_id,
            message,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Events (leaves) read.
    pub events: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: u64,
    /// The first leaf checked (where the log starts, or an export's first leaf).
    pub first_leaf: u64,
    /// The tree's size after the last leaf read.
    pub size: u64,
    /// Leaves after the newest checkpoint: not yet covered by a signature.
    pub unsigned: u64,
    /// The log's origin (the key's name).
    pub origin: String,
    /// Problems, the first event concerned first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Put the findings in log order: a wrong key first (it explains what follows), then by
    /// leaf, those without a leaf (inserted events) last.
    pub(super) fn sort(&mut self) {
        self.findings.sort_by_key(|f| {
            (
                f.kind != Kind::WrongKey,
                f.leaf.unwrap_or(u64::MAX),
                f.event_id.unwrap_or(i64::MAX),
            )
        });
    }

    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A time in microseconds as RFC 3339 in UTC, to the second (how reports and the pruning event
/// write a cut-off).
pub fn format_time(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| us.to_string())
}
