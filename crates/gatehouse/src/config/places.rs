//! `[places]`, `[[locations]]`, `[[terminals]]` and `[[schedules]]`: where requests come from and
//! when places are open, validated into one [`places::Places`] by [`places::Places::build`].
//!
//! ```toml
//! [places]
//! unregistered = "refuse"            # or a tier name; default "open" (no cap)
//! time_zone = "UTC"
//! max_sessions_per_principal = 1
//!
//! [[locations]]
//! name = "reading-room"
//! time_zone = "Europe/Berlin"
//! seats = 5
//! idle_timeout = "15m"
//! closed = ["2026-12-24"]
//! [locations.hours]
//! mon = ["09:00-18:00"]
//!
//! [[terminals]]
//! name = "rr-01"
//! location = "reading-room"
//! addresses = ["127.0.0.11", "127.0.0.16/30"]
//!
//! [[schedules]]
//! name = "exam-week"
//! hours = { mon = ["08:00-12:00"] }
//! ```
//!
//! Every problem is located at the value it is about: a terminal's unknown location at its
//! `location`, an overlap at the later of the two addresses (naming both terminals), a range that
//! ends before it starts at that range. Time zones come from the database built into the binary.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::places::{
    HoursError, Location, LocationId, MinuteRange, PlaceError, Places, Schedule, Terminal,
    Unregistered, WeeklyHours, DEFAULT_IDLE_TIMEOUT,
};
use ::policy::Tier;
use destination::net::parse_net;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

/// `[places]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlaces {
    unregistered: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    max_sessions_per_principal: Option<Spanned<u32>>,
}

/// One `[[locations]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocation {
    name: Spanned<String>,
    description: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    seats: Option<Spanned<u32>>,
    idle_timeout: Option<Spanned<String>>,
    #[serde(default)]
    closed: Vec<Spanned<toml::Value>>,
    hours: Option<RawHours>,
}

/// One `[[terminals]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTerminal {
    name: Spanned<String>,
    location: Spanned<String>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
}

/// One `[[schedules]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    name: Spanned<String>,
    time_zone: Option<Spanned<String>>,
    hours: Option<RawHours>,
    #[serde(default)]
    closed: Vec<Spanned<toml::Value>>,
}

/// `hours` as written: per weekday a list of `HH:MM-HH:MM` ranges.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHours {
    mon: Option<Vec<Spanned<String>>>,
    tue: Option<Vec<Spanned<String>>>,
    wed: Option<Vec<Spanned<String>>>,
    thu: Option<Vec<Spanned<String>>>,
    fri: Option<Vec<Spanned<String>>>,
    sat: Option<Vec<Spanned<String>>>,
    sun: Option<Vec<Spanned<String>>>,
}

impl RawHours {
    fn days(&self) -> [(Weekday, &Option<Vec<Spanned<String>>>); 7] {
        [
            (Weekday::Monday, &self.mon),
            (Weekday::Tuesday, &self.tue),
            (Weekday::Wednesday, &self.wed),
            (Weekday::Thursday, &self.thu),
            (Weekday::Friday, &self.fri),
            (Weekday::Saturday, &self.sat),
            (Weekday::Sunday, &self.sun),
        ]
    }
}

/// The four sections that describe places, as written.
pub(super) struct RawSections<'a> {
    pub(super) places: &'a RawPlaces,
    pub(super) locations: &'a [RawLocation],
    pub(super) terminals: &'a [RawTerminal],
    pub(super) schedules: &'a [RawSchedule],
}

const TIERS: &str = "`open`, `filtered`, `intranet`, `none`";

/// Validate the four sections into [`Places`]; problems go to `v` (then the result is empty).
pub(super) fn validate(v: &mut Validator<'_>, raw: RawSections<'_>) -> Arc<Places> {
    let default_tz = match &raw.places.time_zone {
        Some(name) => time_zone(v, name, "places.time_zone").unwrap_or(TimeZone::UTC),
        None => TimeZone::UTC,
    };
    let unregistered = unregistered(v, &raw.places.unregistered);
    let max_sessions = match &raw.places.max_sessions_per_principal {
        Some(n) if *n.get_ref() == 0 => {
            let message = "expected a whole number, 1 or more, not `0`".to_string();
            v.err(n, "places.max_sessions_per_principal", message);
            1
        }
        Some(n) => *n.get_ref(),
        None => 1,
    };
    let locations: Vec<Location> = raw
        .locations
        .iter()
        .map(|l| location(v, l, &default_tz))
        .collect();
    let by_name: HashMap<&str, usize> = raw
        .locations
        .iter()
        .enumerate()
        .rev()
        .map(|(i, l)| (l.name.get_ref().as_str(), i))
        .collect();
    // The terminals handed to `build`, each with its position in the file.
    let mut terminals = Vec::new();
    let mut positions = Vec::new();
    for (i, t) in raw.terminals.iter().enumerate() {
        if let Some(terminal) = terminal(v, t, &by_name) {
            terminals.push(terminal);
            positions.push(i);
        }
    }
    let schedules = raw
        .schedules
        .iter()
        .filter_map(|s| schedule(v, s, &default_tz))
        .collect();
    match Places::build(
        locations,
        terminals,
        schedules,
        unregistered,
        default_tz,
        max_sessions,
    ) {
        Ok(places) => Arc::new(places),
        Err(errors) => {
            for e in errors {
                locate(v, &raw, &positions, &e);
            }
            Arc::new(Places::default())
        }
    }
}

/// Point a problem found by [`Places::build`] at the value it is about.
fn locate(v: &mut Validator<'_>, raw: &RawSections<'_>, positions: &[usize], e: &PlaceError) {
    let terminal = |i: usize| positions.get(i).and_then(|p| raw.terminals.get(*p));
    let message = e.to_string();
    match e {
        PlaceError::DuplicateLocation { second, .. } => {
            if let Some(l) = raw.locations.get(*second) {
                v.err(&l.name, "locations.name", message);
            }
        }
        PlaceError::DuplicateTerminal { second, .. } => {
            if let Some(t) = terminal(*second) {
                v.err(&t.name, "terminals.name", message);
            }
        }
        PlaceError::DuplicateSchedule { name, .. } => {
            // Schedules may have been left out (no hours): find the second by name.
            let mut same = raw
                .schedules
                .iter()
                .filter(|s| s.name.get_ref().as_str() == &**name);
            if let Some(s) = same.nth(1) {
                v.err(&s.name, "schedules.name", message);
            }
        }
        PlaceError::UnknownLocation { index, .. } => {
            if let Some(t) = terminal(*index) {
                v.err(&t.location, "terminals.location", message);
            }
        }
        PlaceError::NoNetworks { index, .. } => {
            if let Some(t) = terminal(*index).filter(|t| t.addresses.is_empty()) {
                let message = format!("{message}; list its addresses or networks in `addresses`");
                v.err(&t.name, "terminals.addresses", message);
            }
        }
        PlaceError::ZeroSeats { index, .. } => {
            if let Some(seats) = raw.locations.get(*index).and_then(|l| l.seats.as_ref()) {
                v.err(seats, "locations.seats", message);
            }
        }
        PlaceError::OverlappingNetworks { second, .. } => {
            let address = terminal(second.terminal_index).and_then(|t| {
                // The position among the addresses that parsed: count those, skipping the others.
                t.addresses
                    .iter()
                    .filter(|a| parse_net(a.get_ref()).is_ok())
                    .nth(second.network_index)
            });
            if let Some(a) = address {
                v.err(a, "terminals.addresses", message);
            }
        }
        PlaceError::UnknownTimeZone(_) => v.problem_without_position("places", message),
    }
}

fn unregistered(v: &mut Validator<'_>, raw: &Option<Spanned<String>>) -> Unregistered {
    let Some(s) = raw else {
        return Unregistered::Allow;
    };
    match s.get_ref().as_str() {
        "refuse" => Unregistered::Refuse,
        // Capping at the least restrictive tier is no cap at all.
        "open" => Unregistered::Allow,
        other => match Tier::parse(other) {
            Some(tier) => Unregistered::Cap(tier.as_str().to_string()),
            None => {
                let message = format!("`{other}` is neither `refuse` nor a tier ({TIERS})");
                v.err(s, "places.unregistered", message);
                Unregistered::Allow
            }
        },
    }
}

fn time_zone(v: &mut Validator<'_>, name: &Spanned<String>, key: &str) -> Option<TimeZone> {
    match ::places::time_zone(name.get_ref()) {
        Ok(tz) => Some(tz),
        Err(e) => {
            v.err(name, key, e.to_string());
            None
        }
    }
}

/// The zone named at `key`, or `default` when none is named (or the name is wrong: reported).
fn zone_or(
    v: &mut Validator<'_>,
    name: &Option<Spanned<String>>,
    key: &str,
    default: &TimeZone,
) -> TimeZone {
    name.as_ref()
        .and_then(|name| time_zone(v, name, key))
        .unwrap_or_else(|| default.clone())
}

/// A name of a location, terminal or schedule: it appears in rules, the audit trail, metrics
/// and the command line, so it is a short word without spaces.
fn check_name(v: &mut Validator<'_>, name: &Spanned<String>, key: &str) {
    let text = name.get_ref();
    let first_ok = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !first_ok || !rest_ok || text.len() > 64 {
        let message = format!(
            "`{}` is not a name; use up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit",
            text.escape_debug()
        );
        v.err(name, key, message);
    }
}

fn location(v: &mut Validator<'_>, raw: &RawLocation, default_tz: &TimeZone) -> Location {
    check_name(v, &raw.name, "locations.name");
    let description = raw.description.as_ref().map_or_else(String::new, |d| {
        if d.get_ref().chars().any(char::is_control) {
            let message = format!(
                "`{}` contains a control character (a line break or tab, for instance); write it on one line",
                d.get_ref().escape_debug()
            );
            v.err(d, "locations.description", message);
        }
        d.get_ref().clone()
    });
    let time_zone = zone_or(v, &raw.time_zone, "locations.time_zone", default_tz);
    Location {
        name: Arc::from(raw.name.get_ref().as_str()),
        description,
        time_zone,
        hours: raw.hours.as_ref().map(|h| hours(v, h, "locations.hours")),
        closed: dates(v, &raw.closed, "locations.closed"),
        seats: raw.seats.as_ref().map(|s| *s.get_ref()),
        idle_timeout: raw
            .idle_timeout
            .as_ref()
            .map_or(DEFAULT_IDLE_TIMEOUT, |d| idle_timeout(v, d)),
    }
}

fn terminal(
    v: &mut Validator<'_>,
    raw: &RawTerminal,
    locations: &HashMap<&str, usize>,
) -> Option<Terminal> {
    check_name(v, &raw.name, "terminals.name");
    let mut networks = Vec::new();
    for a in &raw.addresses {
        match parse_net(a.get_ref()) {
            Ok(n) => networks.push(n),
            Err(e) => v.err(a, "terminals.addresses", e.to_string()),
        }
    }
    let Some(location) = locations.get(raw.location.get_ref().as_str()) else {
        let mut known: Vec<&str> = locations.keys().copied().collect();
        known.sort_unstable();
        let known = match known.is_empty() {
            true => "there is no `[[locations]]` table".to_string(),
            false => format!("known: `{}`", known.join("`, `")),
        };
        let message = format!("no location named `{}`; {known}", raw.location.get_ref());
        v.err(&raw.location, "terminals.location", message);
        return None;
    };
    Some(Terminal {
        name: Arc::from(raw.name.get_ref().as_str()),
        location: LocationId(*location),
        networks,
    })
}

fn schedule(v: &mut Validator<'_>, raw: &RawSchedule, default_tz: &TimeZone) -> Option<Schedule> {
    check_name(v, &raw.name, "schedules.name");
    let time_zone = zone_or(v, &raw.time_zone, "schedules.time_zone", default_tz);
    let closed = dates(v, &raw.closed, "schedules.closed");
    let Some(h) = &raw.hours else {
        let message =
            "a schedule needs `hours`, such as `hours = { mon = [\"08:00-12:00\"] }`".to_string();
        v.err(&raw.name, "schedules.hours", message);
        return None;
    };
    Some(Schedule {
        name: Arc::from(raw.name.get_ref().as_str()),
        time_zone,
        hours: hours(v, h, "schedules.hours"),
        closed,
    })
}

/// Each day's ranges parsed and checked; a problem is located at the range it is about.
fn hours(v: &mut Validator<'_>, raw: &RawHours, key: &str) -> WeeklyHours {
    let mut hours = WeeklyHours::new();
    for (day, ranges) in raw.days() {
        let Some(ranges) = ranges else { continue };
        let key = format!("{key}.{}", ::places::weekday_name(day));
        let mut parsed = Vec::new();
        for r in ranges {
            match MinuteRange::parse(r.get_ref()) {
                Ok(range) => parsed.push((range, r)),
                Err(e) => v.err(r, &key, e.to_string()),
            }
        }
        if let Err(e) = hours.set(day, parsed.iter().map(|(range, _)| *range).collect()) {
            let at = match &e {
                HoursError::Overlap { second, .. } => parsed.iter().rfind(|(r, _)| r == second),
                _ => None,
            };
            if let Some((_, span)) = at.or(parsed.last()) {
                v.err(span, &key, e.to_string());
            }
        }
    }
    hours
}

/// `"YYYY-MM-DD"` strings or TOML dates (`2026-12-24`), sorted, each a real day of the calendar.
fn dates(v: &mut Validator<'_>, raw: &[Spanned<toml::Value>], key: &str) -> Vec<Date> {
    let mut dates = Vec::new();
    for d in raw {
        let date = match d.get_ref() {
            toml::Value::String(text) => {
                let b = text.as_bytes();
                let shaped = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
                text.parse::<Date>().ok().filter(|_| shaped)
            }
            toml::Value::Datetime(t) => match (t.date, t.time) {
                (Some(day), None) => Date::new(
                    i16::try_from(day.year).unwrap_or(i16::MAX),
                    i8::try_from(day.month).unwrap_or(0),
                    i8::try_from(day.day).unwrap_or(0),
                )
                .ok(),
                _ => None,
            },
            _ => None,
        };
        match date {
            Some(date) => dates.push(date),
            None => {
                let message = format!(
                    "`{}` is not a date; write `YYYY-MM-DD`, such as `2026-12-24`",
                    shown(d.get_ref())
                );
                v.err(d, key, message);
            }
        }
    }
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// A value as the person wrote it: a string without its quotes.
fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

/// `"90s"`, `"15m"`, `"2h"`, `"1h 30m"` (jiff's friendly format, or ISO 8601 `PT15M`), more than 0.
fn idle_timeout(v: &mut Validator<'_>, raw: &Spanned<String>) -> Duration {
    v.duration(raw, "locations.idle_timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT)
}

/// The `check-config` line: how many of each, the seats, and what an unregistered address gets.
pub fn summary(places: &Places) -> String {
    let count = |n: usize, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    let limited: Vec<u32> = places.locations().iter().filter_map(|l| l.seats).collect();
    let seats = match limited.is_empty() {
        true => String::new(),
        false => {
            let total: u64 = limited.iter().map(|s| u64::from(*s)).sum();
            format!(" ({total} seats)")
        }
    };
    let unregistered = match places.unregistered() {
        Unregistered::Allow => "allowed".to_string(),
        Unregistered::Refuse => "refused".to_string(),
        Unregistered::Cap(tier) => format!("tier `{tier}` at most"),
    };
    format!(
        "places: {}{seats}, {}, {}; unregistered addresses: {unregistered}",
        count(places.locations().len(), "location"),
        count(places.terminals().len(), "terminal"),
        count(places.schedules().len(), "schedule"),
    )
}
