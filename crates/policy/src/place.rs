//! Where and when a request is made, as plain values: the place facts the proxy gathers (terminal,
//! location, whether it is open, the local time, the schedules active now, the session) and how a
//! request from an address that is no registered terminal is treated.
//!
//! These are inputs, computed outside this crate (which reads no clock): a decision over the same
//! facts is always the same decision.

use std::fmt;
use std::sync::Arc;

use crate::Tier;

/// A day of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The name rules compare `context.weekday` with: `mon` … `sun`.
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    pub fn parse(s: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The local time at a place: weekday, minute of the day (0–1439) and date (year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalTime {
    pub weekday: Weekday,
    pub minute_of_day: u16,
    pub date: (i16, i8, i8),
}

impl LocalTime {
    /// The date as rules compare `context.date` with: `YYYY-MM-DD`.
    pub fn date_string(&self) -> String {
        let (y, m, d) = self.date;
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The session a principal holds at the terminal, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionFacts {
    /// The session's id in the store.
    pub id: i64,
    /// Minutes since the session started.
    pub minutes: u32,
}

/// Where and when the request is made.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The terminal the request comes from; `None`: not a registered terminal.
    pub terminal: Option<&'a str>,
    /// The terminal's location.
    pub location: Option<&'a str>,
    /// The location is open now (true when it has no hours, and at unregistered addresses).
    pub open: bool,
    /// The local time at the location ([places] time_zone at unregistered addresses).
    pub local: LocalTime,
    /// The names of the named schedules active now, sorted.
    pub schedules: &'a [Arc<str>],
    pub session: Option<SessionFacts>,
}

impl<'a> Place<'a> {
    /// An address that is no registered terminal, with no schedule active and no session.
    pub fn unregistered(local: LocalTime) -> Place<'a> {
        Place {
            terminal: None,
            location: None,
            open: true,
            local,
            schedules: &[],
            session: None,
        }
    }

    /// Whether the request comes from a registered terminal.
    pub fn is_registered(&self) -> bool {
        self.terminal.is_some()
    }
}

/// What happens to a request from an address that is no registered terminal (`[places] unregistered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unregistered {
    /// Decided like any other request (today's behaviour).
    #[default]
    Allow,
    /// Refused with `unregistered-terminal`.
    Refuse,
    /// The tier used is at most this one.
    Cap(Tier),
}

impl Tier {
    /// The more restrictive of two tiers, in the order open > filtered > intranet > none.
    pub fn min_access(self, other: Tier) -> Tier {
        if self.index() >= other.index() {
            self
        } else {
            other
        }
    }
}
