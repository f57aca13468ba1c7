//! Places: where a request comes from and whether that place is open.
//!
//! A [`Location`] is a room with a time zone, opening hours ([`WeeklyHours`], absent: always
//! open), closed dates, an optional seat count and an idle timeout for the sessions held there. A
//! [`Terminal`] is a named set of source networks in one location. A [`Schedule`] is a named set of
//! hours that rules can refer to. [`Places`] holds them all, validated by [`Places::build`], and
//! answers the two questions the request path asks: which terminal is this address
//! ([`Places::terminal_of`], a binary search) and what is the local state of a place at an instant
//! ([`Location::state_at`], [`Places::active_schedules`], [`Places::unnamed_local`]).
//!
//! Guarantees: no address belongs to two terminals (overlapping networks are refused by
//! `build`), every terminal's location exists, names are unique per kind. The crate is pure: it
//! reads no clock and no environment (time zones come from the database built into the binary,
//! [`time_zone`]), and nothing in it panics.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod calendar;
mod hours;
mod index;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

pub use calendar::{Calendar, LocalState, LocalTime};
pub use hours::{weekday_name, HoursError, MinuteRange, WeeklyHours, MINUTES_PER_DAY};

use index::{AddressIndex, Origin};

/// How long a session may sit idle before it ends, unless a location says otherwise: 15 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A time zone by its IANA name (`Europe/Berlin`, `UTC`), from the database built into the
/// binary, so that every host gives the same answers whatever its own zone files say.
pub fn time_zone(name: &str) -> Result<TimeZone, PlaceError> {
    jiff::tz::TimeZoneDatabase::bundled()
        .get(name)
        .map_err(|_| PlaceError::UnknownTimeZone(name.to_string()))
}

/// The position of a location in [`Places::locations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocationId(pub usize);

/// A room: where terminals stand, with its own time and seats.
#[derive(Debug, Clone)]
pub struct Location {
    pub name: Arc<str>,
    pub description: String,
    pub time_zone: TimeZone,
    /// `None`: always open (closed dates still close it).
    pub hours: Option<WeeklyHours>,
    /// Whole local days on which the location is closed, whatever its hours say.
    pub closed: Vec<Date>,
    /// `None`: no seat limit.
    pub seats: Option<u32>,
    pub idle_timeout: Duration,
}

impl Location {
    pub fn calendar(&self) -> Calendar<'_> {
        Calendar {
            time_zone: &self.time_zone,
            hours: self.hours.as_ref(),
            closed: &self.closed,
        }
    }

    /// The local time, whether the location is open, and when that changes next.
    pub fn state_at(&self, now: Timestamp) -> LocalState {
        self.calendar().state_at(now)
    }

    /// Whether the location is open at `now`, without looking ahead.
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        self.calendar().is_open_at(now)
    }

    pub fn local_at(&self, now: Timestamp) -> LocalTime {
        LocalTime::at(&self.time_zone, now)
    }
}

/// A named set of hours that rules can refer to (`context.schedules`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: Arc<str>,
    pub time_zone: TimeZone,
    pub hours: WeeklyHours,
    pub closed: Vec<Date>,
}

impl Schedule {
    pub fn calendar(&self) -> Calendar<'_> {
        Calendar {
            time_zone: &self.time_zone,
            hours: Some(&self.hours),
            closed: &self.closed,
        }
    }

    /// The local time, whether the schedule is active, and when that changes next.
    pub fn state_at(&self, now: Timestamp) -> LocalState {
        self.calendar().state_at(now)
    }

    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.calendar().is_open_at(now)
    }
}

/// A named set of source networks in one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    pub name: Arc<str>,
    pub location: LocationId,
    pub networks: Vec<IpNet>,
}

/// What a request from an address that is no registered terminal gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Unregistered {
    /// Decided as today, by the principal's tier.
    #[default]
    Allow,
    /// Refused (`unregistered-terminal`).
    Refuse,
    /// Decided with the more restrictive of the principal's tier and this one (a tier name,
    /// validated by the configuration).
    Cap(String),
}

/// One network of one terminal, as an overlap names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOf {
    pub terminal: Arc<str>,
    /// The terminal's position in the list given to [`Places::build`].
    pub terminal_index: usize,
    pub network: IpNet,
    /// The network's position in that terminal's `networks`.
    pub network_index: usize,
}

/// What is wrong with a set of places. Positions are those of the lists given to
/// [`Places::build`], so that a configuration can point at the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("`{0}` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`")]
    UnknownTimeZone(String),
    #[error("location `{name}` is defined twice")]
    DuplicateLocation {
        name: Arc<str>,
        first: usize,
        second: usize,
    },
    #[error("terminal `{name}` is defined twice")]
    DuplicateTerminal {
        name: Arc<str>,
        first: usize,
        second: usize,
    },
    #[error("schedule `{name}` is defined twice")]
    DuplicateSchedule {
        name: Arc<str>,
        first: usize,
        second: usize,
    },
    #[error("terminal `{terminal}` is in location number {} of {count}, which does not exist", location.0 + 1)]
    UnknownLocation {
        terminal: Arc<str>,
        index: usize,
        location: LocationId,
        count: usize,
    },
    #[error("terminal `{terminal}` has no address")]
    NoNetworks { terminal: Arc<str>, index: usize },
    #[error("location `{location}` has 0 seats; leave `seats` out for no limit")]
    ZeroSeats { location: Arc<str>, index: usize },
    #[error(
        "`{}` of terminal `{}` overlaps `{}` of terminal `{}`; an address belongs to one terminal at most",
        second.network, second.terminal, first.network, first.terminal
    )]
    OverlappingNetworks { first: NetworkOf, second: NetworkOf },
}

/// Where a request comes from and the local state there, as the decision reads it.
#[derive(Debug, Clone, Copy)]
pub struct PlaceAt<'a> {
    /// `None`: the address is no registered terminal.
    pub terminal: Option<&'a Terminal>,
    pub location: Option<&'a Location>,
    /// Whether the location is open now; `true` at an unregistered address.
    pub open: bool,
    /// The local time at the location, or at `[places] time_zone` for an unregistered address.
    pub local: LocalTime,
}

/// Every location, terminal and schedule, with the address index; built once per configuration.
#[derive(Debug, Clone)]
pub struct Places {
    locations: Vec<Location>,
    terminals: Vec<Terminal>,
    // INVARIANT: sorted by name, so `active_schedules` comes out sorted.
    schedules: Vec<Schedule>,
    unregistered: Unregistered,
    default_time_zone: TimeZone,
    max_sessions_per_principal: u32,
    index: AddressIndex,
}

impl Default for Places {
    /// No places: every address is unregistered and allowed; local time in UTC; one session per
    /// principal.
    fn default() -> Places {
        Places {
            locations: Vec::new(),
            terminals: Vec::new(),
            schedules: Vec::new(),
            unregistered: Unregistered::Allow,
            default_time_zone: TimeZone::UTC,
            max_sessions_per_principal: 1,
            index: AddressIndex::default(),
        }
    }
}

/// The first position of each name, and a problem for every later one.
fn duplicates<'a>(
    names: impl Iterator<Item = &'a Arc<str>>,
    problem: impl Fn(Arc<str>, usize, usize) -> PlaceError,
    errors: &mut Vec<PlaceError>,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        match seen.get(name.as_ref()) {
            Some(first) => errors.push(problem(name.clone(), *first, i)),
            None => {
                seen.insert(name, i);
            }
        }
    }
}

impl Places {
    /// Validate and index. Every problem is returned at once.
    pub fn build(
        locations: Vec<Location>,
        terminals: Vec<Terminal>,
        mut schedules: Vec<Schedule>,
        unregistered: Unregistered,
        default_time_zone: TimeZone,
        max_sessions_per_principal: u32,
    ) -> Result<Places, Vec<PlaceError>> {
        let mut errors = Vec::new();
        duplicates(
            locations.iter().map(|l| &l.name),
            |name, first, second| PlaceError::DuplicateLocation {
                name,
                first,
                second,
            },
            &mut errors,
        );
        duplicates(
            terminals.iter().map(|t| &t.name),
            |name, first, second| PlaceError::DuplicateTerminal {
                name,
                first,
                second,
            },
            &mut errors,
        );
        duplicates(
            schedules.iter().map(|s| &s.name),
            |name, first, second| PlaceError::DuplicateSchedule {
                name,
                first,
                second,
            },
            &mut errors,
        );
        for (index, l) in locations.iter().enumerate() {
            if l.seats == Some(0) {
                errors.push(PlaceError::ZeroSeats {
                    location: l.name.clone(),
                    index,
                });
            }
        }
        for (index, t) in terminals.iter().enumerate() {
            if t.location.0 >= locations.len() {
                errors.push(PlaceError::UnknownLocation {
                    terminal: t.name.clone(),
                    index,
                    location: t.location,
                    count: locations.len(),
                });
            }
            if t.networks.is_empty() {
                errors.push(PlaceError::NoNetworks {
                    terminal: t.name.clone(),
                    index,
                });
            }
        }
        let networks = terminals.iter().enumerate().flat_map(|(terminal, t)| {
            t.networks
                .iter()
                .enumerate()
                .map(move |(network, net)| (Origin { terminal, network }, *net))
        });
        let index = match AddressIndex::build(networks) {
            Ok(index) => index,
            Err(overlaps) => {
                let of = |o: Origin| {
                    let t = terminals.get(o.terminal)?;
                    Some(NetworkOf {
                        terminal: t.name.clone(),
                        terminal_index: o.terminal,
                        network: *t.networks.get(o.network)?,
                        network_index: o.network,
                    })
                };
                errors.extend(overlaps.into_iter().filter_map(|(a, b)| {
                    Some(PlaceError::OverlappingNetworks {
                        first: of(a)?,
                        second: of(b)?,
                    })
                }));
                AddressIndex::default()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        schedules.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Places {
            locations,
            terminals,
            schedules,
            unregistered,
            default_time_zone,
            max_sessions_per_principal,
            index,
        })
    }

    /// The terminal an address belongs to, and its location. An IPv4-mapped IPv6 address is
    /// looked up as its IPv4 address. O(log n) in the number of terminal networks.
    pub fn terminal_of(&self, ip: IpAddr) -> Option<(&Terminal, &Location)> {
        let origin = self.index.find(ip)?;
        let terminal = self.terminals.get(origin.terminal)?;
        let location = self.locations.get(terminal.location.0)?;
        Some((terminal, location))
    }

    /// The terminal and location of `ip`, whether that location is open at `now` and its local
    /// time there: one lookup and one time-zone conversion.
    pub fn place_at(&self, ip: IpAddr, now: Timestamp) -> PlaceAt<'_> {
        match self.terminal_of(ip) {
            Some((terminal, location)) => {
                let dt = location.time_zone.to_datetime(now);
                PlaceAt {
                    terminal: Some(terminal),
                    location: Some(location),
                    open: location.calendar().open_at_local(dt),
                    local: LocalTime::of(dt),
                }
            }
            None => PlaceAt {
                terminal: None,
                location: None,
                open: true,
                local: self.unnamed_local(now),
            },
        }
    }

    /// The names of the schedules active at `now`, sorted.
    pub fn active_schedules(&self, now: Timestamp) -> Vec<Arc<str>> {
        self.schedules
            .iter()
            .filter(|s| s.is_active_at(now))
            .map(|s| s.name.clone())
            .collect()
    }

    /// The local time at `[places] time_zone`: the time of a request from an unregistered address.
    pub fn unnamed_local(&self, now: Timestamp) -> LocalTime {
        LocalTime::at(&self.default_time_zone, now)
    }

    pub fn locations(&self) -> &[Location] {
        &self.locations
    }

    pub fn location(&self, id: LocationId) -> Option<&Location> {
        self.locations.get(id.0)
    }

    pub fn location_by_name(&self, name: &str) -> Option<(LocationId, &Location)> {
        self.locations
            .iter()
            .enumerate()
            .find(|(_, l)| &*l.name == name)
            .map(|(i, l)| (LocationId(i), l))
    }

    pub fn terminals(&self) -> &[Terminal] {
        &self.terminals
    }

    pub fn terminal_by_name(&self, name: &str) -> Option<(&Terminal, &Location)> {
        let terminal = self.terminals.iter().find(|t| &*t.name == name)?;
        Some((terminal, self.locations.get(terminal.location.0)?))
    }

    /// Sorted by name.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    pub fn unregistered(&self) -> &Unregistered {
        &self.unregistered
    }

    pub fn default_time_zone(&self) -> &TimeZone {
        &self.default_time_zone
    }

    pub fn max_sessions_per_principal(&self) -> u32 {
        self.max_sessions_per_principal
    }

    /// Whether nothing is configured: no locations, terminals or schedules.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty() && self.terminals.is_empty() && self.schedules.is_empty()
    }
}

#[cfg(test)]
mod tests;
