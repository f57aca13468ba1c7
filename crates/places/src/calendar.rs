//! Whether a place is open at an instant, and when that changes: [`LocalTime`], [`LocalState`]
//! and the [`Calendar`] that computes them from a time zone, weekly hours and closed dates.
//!
//! Opening hours follow the wall clock of the place's time zone: an instant is open when its
//! local weekday and minute fall in a range of that weekday and its local date is not closed.
//! On a day when the clocks spring forward, the skipped wall-clock times never happen (a range
//! `01:00-04:00` in Europe/Berlin lasts two real hours that day); when they fall back, the repeated
//! times are open both times. `closes_at` and `opens_at` are the first instants after now at
//! which that wall-clock answer changes, found among the instants where the wall clock reaches a
//! boundary (a range's start or end, midnight) and the zone's own transitions.
//!
//! Pure: the caller passes the instant; nothing here reads a clock.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Span, Timestamp};

use crate::hours::{WeeklyHours, MINUTES_PER_DAY};

/// How far ahead `opens_at` and `closes_at` look: at least 14 whole days.
const SEARCH_DAYS: i64 = 15;

/// The local time at a place: what rules about weekdays and hours read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalTime {
    pub weekday: Weekday,
    /// Minutes since local midnight, 0–1439.
    pub minute_of_day: u16,
    pub date: Date,
}

impl LocalTime {
    pub fn of(dt: DateTime) -> LocalTime {
        let hour = u16::from(dt.hour().unsigned_abs());
        let minute = u16::from(dt.minute().unsigned_abs());
        LocalTime {
            weekday: dt.weekday(),
            minute_of_day: hour * 60 + minute,
            date: dt.date(),
        }
    }

    /// The local time of `now` in `tz`.
    pub fn at(tz: &TimeZone, now: Timestamp) -> LocalTime {
        LocalTime::of(tz.to_datetime(now))
    }
}

/// A place at an instant: its local time, whether it is open, and when that changes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalState {
    pub local: LocalTime,
    pub open: bool,
    /// When the current open period ends: `None` when closed now, or when it does not close
    /// within the next 14 days (always open).
    pub closes_at: Option<Timestamp>,
    /// When it opens next: `None` when open now, or when it does not open within the next 14 days.
    pub opens_at: Option<Timestamp>,
}

/// A time zone, weekly hours (`None`: always open) and closed dates (whole local days).
#[derive(Debug, Clone, Copy)]
pub struct Calendar<'a> {
    pub time_zone: &'a TimeZone,
    pub hours: Option<&'a WeeklyHours>,
    pub closed: &'a [Date],
}

impl Calendar<'_> {
    /// Whether the place is open at a local wall-clock time.
    pub fn open_at_local(&self, dt: DateTime) -> bool {
        if self.closed.contains(&dt.date()) {
            return false;
        }
        let local = LocalTime::of(dt);
        self.hours
            .is_none_or(|h| h.contains(local.weekday, local.minute_of_day))
    }

    /// Whether the place is open at `now` (the cheap part of [`Calendar::state_at`]).
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        self.open_at_local(self.time_zone.to_datetime(now))
    }

    /// The whole state at `now`, including when it next changes.
    pub fn state_at(&self, now: Timestamp) -> LocalState {
        let dt = self.time_zone.to_datetime(now);
        let open = self.open_at_local(dt);
        let change = self.next_change(now, dt.date(), open);
        LocalState {
            local: LocalTime::of(dt),
            open,
            closes_at: change.filter(|_| open),
            opens_at: change.filter(|_| !open),
        }
    }

    /// The first instant after `now` at which `open_at_local` differs from `open`.
    fn next_change(&self, now: Timestamp, today: Date, open: bool) -> Option<Timestamp> {
        let never_changes = match self.hours {
            None => self.closed.is_empty(),
            Some(h) => h.is_never_open(),
        };
        if never_changes {
            return None;
        }
        // Near days first: most answers are found today. Every candidate of a later day lies at
        // or after the first instant the wall clock reaches that day, so a change found before
        // `bound` cannot be preceded by an unseen one.
        let mut lower = now;
        for last_day in [2, SEARCH_DAYS] {
            let bound = first_instant(self.time_zone, day(today, last_day)?.at(0, 0, 0, 0))?;
            let mut candidates = Vec::new();
            for offset in -1..last_day {
                let Some(date) = day(today, offset) else {
                    continue;
                };
                for minute in self.boundaries(date) {
                    let Some(dt) = minute_time(minute).map(|t| date.to_datetime(t)) else {
                        continue;
                    };
                    instants(self.time_zone, dt, &mut candidates);
                }
            }
            candidates.extend(
                self.time_zone
                    .following(now)
                    .map(|t| t.timestamp())
                    .take_while(|t| *t < bound),
            );
            candidates.retain(|c| *c > now && *c >= lower && *c < bound);
            candidates.sort_unstable();
            candidates.dedup();
            for c in candidates {
                if self.open_at_local(self.time_zone.to_datetime(c)) != open {
                    return Some(c);
                }
            }
            lower = bound;
        }
        None
    }

    /// The minutes of a local date at which the answer may change: midnight (a closed date, a new
    /// weekday) and the starts and ends of the day's ranges (an end of `24:00` is the next midnight).
    fn boundaries(&self, date: Date) -> Vec<u16> {
        let mut minutes = vec![0];
        if let Some(h) = self.hours {
            for r in h.day(date.weekday()) {
                minutes.push(r.start());
                minutes.push(r.end());
            }
        }
        minutes.retain(|m| *m < MINUTES_PER_DAY);
        minutes
    }
}

fn day(today: Date, offset: i64) -> Option<Date> {
    today.checked_add(Span::new().days(offset)).ok()
}

fn minute_time(minute: u16) -> Option<Time> {
    let hour = i8::try_from(minute / 60).ok()?;
    let minute = i8::try_from(minute % 60).ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

/// The instants at which the wall clock of `tz` shows `dt`: one, two in a fold, none in a gap
/// (there the change happens at the zone's transition, which the caller adds).
fn instants(tz: &TimeZone, dt: DateTime, out: &mut Vec<Timestamp>) {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => out.extend(offset.to_timestamp(dt).ok()),
        AmbiguousOffset::Fold { before, after } => {
            out.extend(before.to_timestamp(dt).ok());
            out.extend(after.to_timestamp(dt).ok());
        }
        AmbiguousOffset::Gap { .. } => {}
    }
}

/// The first instant at which the wall clock of `tz` shows `dt` or later.
fn first_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        // The earlier of the two: the first time the clock shows `dt`.
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
        // `dt` is skipped: the clock first shows a later time at the transition itself, which
        // lies between the instant `dt` would be under the later offset and under the earlier.
        AmbiguousOffset::Gap { after, .. } => {
            let earliest = after.to_timestamp(dt).ok()?;
            tz.following(earliest).next().map(|t| t.timestamp())
        }
    }
}
