//! Seats: the gateway's table of open sessions (a principal at a terminal), in front of the store.
//!
//! [`Seats::seat`] is the seat phase of a request: it answers [`Seated`] or a [`SeatRefusal`].
//! A request from a terminal whose session of the same principal is open and not idle is answered
//! from memory (its `last_seen` moves in memory only); anything else is decided by the store in
//! one transaction ([`SessionStore::take_seat`]) on a blocking thread, and a store that does not
//! answer within [`STORE_WAIT`] refuses the request ([`SeatRefusal::Unavailable`]: fail closed).
//! [`run`] sweeps every second, with the injected clock: it writes the `last_seen` times to the
//! store in one batch, ends idle sessions (`idle`) and those of locations that closed (`closed`),
//! picks up sessions started or ended elsewhere (`gatehouse session end`, another gateway on the
//! same store) through the store's session change counter, and sets the seat gauges.
//!
//! Guarantees:
//! - a location never holds more open sessions than seats, however many claims arrive at once and
//!   from however many processes: the count and the insert are one store transaction, and memory
//!   only ever answers a claim for a session the store already holds;
//! - a free seat is never refused: a claim the memory cannot answer always asks the store, which
//!   ends the location's idle sessions before it counts;
//! - sessions survive a restart: the table is loaded from the store at start, and the last
//!   `last_seen` times are written when the gateway drains.
//!
//! The seat limits and the opening hours come from the places configuration, which this module does
//! not read: a claim carries its location's limits ([`SeatClaim`]), and whoever owns the
//! configuration gives the sweep the configured locations and an [`OpenHours`] with
//! [`Seats::configure`] (at start and on every reload).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use parking_lot::Mutex;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{LocationLabels, Metrics, ReasonLabels};
pub use crate::store::SeatClaim;
use crate::store::{
    EndReason, SeatOutcome, SeatTaken, SessionRow, SessionSelector, SessionStore, StoreError,
};

/// How long a request waits for the store to decide its seat before it is refused.
pub const STORE_WAIT: Duration = Duration::from_secs(2);
/// The idle timeout of a location the configuration does not name (nor any claim).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often [`run`] sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a location is open at a time: the places configuration answers it.
pub trait OpenHours: Send + Sync {
    fn is_open(&self, location: &str, now: Timestamp) -> bool;
}

/// Every location always open: the hours until [`Seats::configure`] gives others.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOpen;

impl OpenHours for AlwaysOpen {
    fn is_open(&self, _location: &str, _now: Timestamp) -> bool {
        true
    }
}

/// A configured location, as the seats see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationSeats {
    pub name: String,
    /// `None`: no seat limit.
    pub seats: Option<u32>,
    pub idle_timeout: Duration,
}

/// A claim that holds a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seated {
    pub session_id: i64,
    pub started: Timestamp,
}

/// Why a claim holds no session. [`SeatRefusal::code`] is the outcome's stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatRefusal {
    /// Every seat of the location is taken; `next_free_at`: when one frees at the latest
    /// (`None` for a location with no seats).
    #[error("all {seats} seats of this location are taken")]
    Full {
        seats: u32,
        next_free_at: Option<Timestamp>,
    },
    /// Another principal's session holds the terminal, until this time at the latest.
    #[error("this terminal is in use by someone else until {until} at the latest")]
    TerminalBusy { until: Timestamp },
    /// The principal already holds the most sessions one principal may.
    #[error("you already hold {max} open sessions, the most one person may")]
    PrincipalLimit { max: u32 },
    /// The store did not answer: nobody is seated when the seats cannot be counted.
    #[error("gatehouse could not decide: the sessions store did not answer ({0})")]
    Unavailable(String),
}

impl SeatRefusal {
    /// The outcome's stable code (audit, metrics, pages).
    pub fn code(&self) -> &'static str {
        match self {
            SeatRefusal::Full { .. } => "seats-full",
            SeatRefusal::TerminalBusy { .. } => "terminal-busy",
            SeatRefusal::PrincipalLimit { .. } => "principal-sessions",
            SeatRefusal::Unavailable(_) => "sessions-unavailable",
        }
    }
}

/// The configured locations and hours, replaced whole by [`Seats::configure`].
struct Plan {
    locations: HashMap<String, LocationSeats>,
    hours: Arc<dyn OpenHours>,
    /// Terminal → location, when the plan comes from a configuration's places: a session at a
    /// terminal it does not name (or names elsewhere) ends at the next sweep. `None`: not checked.
    terminals: Option<HashMap<String, String>>,
}

/// An open session in memory.
#[derive(Debug, Clone)]
struct Open {
    id: i64,
    principal: String,
    terminal: String,
    location: String,
    started: Timestamp,
    last_seen: Timestamp,
    /// The `last_seen` the store has.
    flushed: Timestamp,
}

impl Open {
    fn of(row: &SessionRow) -> Open {
        Open {
            id: row.id,
            principal: row.principal.clone(),
            terminal: row.terminal.clone(),
            location: row.location.clone(),
            started: row.started,
            last_seen: row.last_seen,
            flushed: row.last_seen,
        }
    }

    fn row(&self) -> SessionRow {
        SessionRow {
            id: self.id,
            principal: self.principal.clone(),
            terminal: self.terminal.clone(),
            location: self.location.clone(),
            started: self.started,
            last_seen: self.last_seen,
            ended: None,
            end_reason: None,
        }
    }
}

#[derive(Default)]
struct Table {
    /// Looked up on every request from a terminal: ahash, not SipHash.
    by_terminal: HashMap<String, Open, ahash::RandomState>,
    /// The store's session change counter when the table was last loaded.
    generation: i64,
    /// Idle timeouts seen in claims, for locations the plan does not name.
    claimed_idle: HashMap<String, Duration>,
}

impl Table {
    /// `row` as memory keeps it: a `last_seen` newer than the store's, seen since the last flush,
    /// is kept.
    fn merged(&self, row: &SessionRow) -> Open {
        let mut open = Open::of(row);
        if let Some(old) = self.by_terminal.get(&row.terminal) {
            if old.id == row.id {
                open.last_seen = open.last_seen.max(old.last_seen);
            }
        }
        open
    }

    /// Forget an ended session (unless the terminal already holds a newer one).
    fn forget(&mut self, row: &SessionRow) {
        if self.by_terminal.get(&row.terminal).map(|o| o.id) == Some(row.id) {
            self.by_terminal.remove(&row.terminal);
        }
    }
}

struct Inner {
    /// Lock order: `store`, then `table`. The fast path takes `table` alone.
    store: Mutex<Box<dyn SessionStore>>,
    table: Mutex<Table>,
    plan: ArcSwap<Plan>,
    metrics: Arc<Metrics>,
    wait: Duration,
    /// Sessions this table saw end, however they ended (a claim that ended idle sessions, the
    /// sweep, another process): the sweep signals open tunnels when it moved.
    ended: std::sync::atomic::AtomicU64,
    /// The locations each seat gauge has a series for, so that a location gone is removed.
    reported: Mutex<[HashSet<String>; 2]>,
}

/// The gateway's seat table. Cloning shares it.
#[derive(Clone)]
pub struct Seats {
    inner: Arc<Inner>,
}

fn unavailable(e: StoreError) -> SeatRefusal {
    SeatRefusal::Unavailable(e.to_string())
}

/// `t + d`, saturating.
fn plus(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

impl Seats {
    /// The seat table over `store` (a connection of its own), loaded with its open sessions.
    pub fn open(store: Box<dyn SessionStore>, metrics: Arc<Metrics>) -> Result<Seats, StoreError> {
        store.set_lock_wait(STORE_WAIT)?;
        let inner = Inner {
            store: Mutex::new(store),
            table: Mutex::new(Table::default()),
            plan: ArcSwap::from_pointee(Plan {
                locations: HashMap::new(),
                hours: Arc::new(AlwaysOpen),
                terminals: None,
            }),
            metrics,
            wait: STORE_WAIT,
            ended: std::sync::atomic::AtomicU64::new(0),
            reported: Mutex::new(Default::default()),
        };
        inner.reload(&**inner.store.lock())?;
        Ok(Seats {
            inner: Arc::new(inner),
        })
    }

    /// Give the sweep the configured locations (seats and idle timeouts, for the gauges and the
    /// idle sweep) and their opening hours; replaces what was given before.
    pub fn configure(&self, locations: Vec<LocationSeats>, hours: Arc<dyn OpenHours>) {
        let locations = locations.into_iter().map(|l| (l.name.clone(), l)).collect();
        self.inner.plan.store(Arc::new(Plan {
            locations,
            hours,
            terminals: None,
        }));
    }

    /// The seat phase of a request: the session `claim` holds, or why it holds none.
    pub async fn seat(&self, claim: SeatClaim) -> Result<Seated, SeatRefusal> {
        if let Some(seated) = self.inner.seen_again(&claim) {
            return Ok(seated);
        }
        let inner = self.inner.clone();
        let wait = inner.wait;
        let deadline = Instant::now() + wait;
        let task = tokio::task::spawn_blocking(move || inner.take(&claim, deadline));
        let result = match tokio::time::timeout(wait, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(SeatRefusal::Unavailable(format!(
                "the seat task failed: {e}"
            ))),
            Err(_) => Err(SeatRefusal::Unavailable(format!(
                "no answer within {} ms",
                wait.as_millis()
            ))),
        };
        if let Err(refusal) = &result {
            let reason = refusal.code();
            let refusals = &self.inner.metrics.seat_refusals;
            refusals.get_or_create(&ReasonLabels { reason }).inc();
        }
        result
    }

    /// Configure the seats from the configuration's places: every location's seats, idle timeout
    /// and hours. Called at start and on every reload.
    pub fn configure_from(&self, places: &Arc<places::Places>) {
        let locations: Vec<LocationSeats> = places
            .locations()
            .iter()
            .map(|l| LocationSeats {
                name: l.name.to_string(),
                seats: l.seats,
                idle_timeout: l.idle_timeout,
            })
            .collect();
        let terminals: HashMap<String, String> = places
            .terminals()
            .iter()
            .filter_map(|t| {
                let location = places.location(t.location)?;
                Some((t.name.to_string(), location.name.to_string()))
            })
            .collect();
        let locations = locations
            .into_iter()
            .map(|l: LocationSeats| (l.name.clone(), l))
            .collect();
        self.inner.plan.store(Arc::new(Plan {
            locations,
            hours: Arc::new(PlacesHours(places.clone())),
            terminals: Some(terminals),
        }));
    }

    /// The session `principal` holds at `terminal`, as the decision reads it (`context.session`):
    /// `None` when there is none, or when it is idle past its timeout at `now`. A session found is
    /// seen at `now` (the person is at the terminal, whatever the decision): the request's seat
    /// phase then needs no second look.
    pub fn held(
        &self,
        (terminal, location): (&str, &str),
        principal: &str,
        idle_timeout: Duration,
        now: Timestamp,
    ) -> Option<policy::SessionFacts> {
        let mut table = self.inner.table.lock();
        let open = table.by_terminal.get_mut(terminal)?;
        if open.principal != principal
            || open.location != location
            || plus(open.last_seen, idle_timeout) <= now
        {
            return None;
        }
        open.last_seen = open.last_seen.max(now);
        Some(facts_of(open, now))
    }

    /// The session `id`, while it is open (an open tunnel checks that its session still is).
    pub fn session_facts(&self, id: i64, now: Timestamp) -> Option<policy::SessionFacts> {
        let table = self.inner.table.lock();
        let open = table.by_terminal.values().find(|o| o.id == id)?;
        Some(facts_of(open, now))
    }

    /// How many sessions this table has seen end.
    pub fn ended_so_far(&self) -> u64 {
        self.inner.ended.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Activity in session `id` at `now` that is not a request (a tunnel relaying bytes): it keeps
    /// the session from ending idle.
    pub fn touch(&self, id: i64, now: Timestamp) {
        let mut table = self.inner.table.lock();
        if let Some(open) = table.by_terminal.values_mut().find(|o| o.id == id) {
            open.last_seen = open.last_seen.max(now);
        }
    }

    /// The open sessions as this gateway knows them, by location and terminal.
    pub fn list(&self) -> Vec<SessionRow> {
        let table = self.inner.table.lock();
        let mut rows: Vec<SessionRow> = table.by_terminal.values().map(Open::row).collect();
        rows.sort_by(|a, b| (&a.location, &a.terminal).cmp(&(&b.location, &b.terminal)));
        rows
    }

    /// One sweep at `now` (what [`run`] does every second): write `last_seen` times, pick up
    /// changes made elsewhere, end idle sessions and those of closed locations, set the gauges.
    pub async fn sweep(&self, now: Timestamp) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || inner.sweep(now)).await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "the seat sweep failed");
                Ok(())
            }
        }
    }

    /// Write the `last_seen` times memory holds to the store.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.flush(&**inner.store.lock()))
            .await
            .unwrap_or(Ok(()))
    }
}

impl Inner {
    /// The fast path: the terminal's open session of this principal, seen again before its idle
    /// timeout, is answered from memory.
    fn seen_again(&self, claim: &SeatClaim) -> Option<Seated> {
        let mut table = self.table.lock();
        let open = table.by_terminal.get_mut(&claim.terminal)?;
        let same = open.principal == claim.principal && open.location == claim.location;
        if !same || plus(open.last_seen, claim.idle_timeout) <= claim.now {
            return None;
        }
        open.last_seen = open.last_seen.max(claim.now);
        Some(Seated {
            session_id: open.id,
            started: open.started,
        })
    }

    /// The slow path, on a blocking thread: the store decides, and memory follows its answer
    /// (also when the waiting request has given up, so memory never misses a session it took).
    fn take(&self, claim: &SeatClaim, deadline: Instant) -> Result<Seated, SeatRefusal> {
        let Some(store) = self.store.try_lock_until(deadline) else {
            return Err(SeatRefusal::Unavailable(
                "the store is busy with earlier claims".into(),
            ));
        };
        // Each step waits for another writer only until the request's deadline: a seat taken after
        // the request was refused would be held for nobody.
        let in_time =
            |store: &dyn SessionStore| match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => store.set_lock_wait(left).map_err(unavailable),
                _ => Err(SeatRefusal::Unavailable("no answer in time".into())),
            };
        let result = in_time(&**store).and_then(|()| {
            // The store ends idle sessions from its own `last_seen`: bring it up to date first.
            self.flush(&**store).map_err(unavailable)?;
            in_time(&**store)?;
            store.take_seat(claim).map_err(unavailable)
        });
        // The sweep waits as long as a request would.
        let _ = store.set_lock_wait(self.wait);
        self.apply(claim, result?)
    }

    fn apply(&self, claim: &SeatClaim, taken: SeatTaken) -> Result<Seated, SeatRefusal> {
        let mut table = self.table.lock();
        table
            .claimed_idle
            .insert(claim.location.clone(), claim.idle_timeout);
        for row in &taken.ended {
            table.forget(row);
            self.count_ended(row);
        }
        match taken.outcome {
            SeatOutcome::Seated { session, new } => {
                if new {
                    self.metrics.sessions_started.inc();
                }
                let open = table.merged(&session);
                table.by_terminal.insert(session.terminal.clone(), open);
                Ok(Seated {
                    session_id: session.id,
                    started: session.started,
                })
            }
            SeatOutcome::Full {
                seats,
                next_free_at,
            } => Err(SeatRefusal::Full {
                seats,
                next_free_at,
            }),
            SeatOutcome::TerminalBusy { until } => Err(SeatRefusal::TerminalBusy { until }),
            SeatOutcome::PrincipalLimit { max } => Err(SeatRefusal::PrincipalLimit { max }),
        }
    }

    fn count_ended(&self, row: &SessionRow) {
        self.ended
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(reason) = row.end_reason.as_deref().and_then(EndReason::parse) {
            let reason = reason.as_str();
            let ended = &self.metrics.sessions_ended;
            ended.get_or_create(&ReasonLabels { reason }).inc();
        }
    }

    /// Write the `last_seen` times the store does not have yet, in one batch.
    fn flush(&self, store: &dyn SessionStore) -> Result<(), StoreError> {
        let pending: HashMap<i64, Timestamp> = {
            let table = self.table.lock();
            let open = table.by_terminal.values();
            open.filter(|o| o.last_seen > o.flushed)
                .map(|o| (o.id, o.last_seen))
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let seen: Vec<(i64, Timestamp)> = pending.iter().map(|(&id, &t)| (id, t)).collect();
        store.touch_sessions(&seen)?;
        let mut table = self.table.lock();
        for open in table.by_terminal.values_mut() {
            if let Some(&t) = pending.get(&open.id) {
                open.flushed = open.flushed.max(t);
            }
        }
        Ok(())
    }

    /// Load the open set again when the store's change counter moved; sessions that vanished were
    /// ended elsewhere, and are counted under the reason the store gives.
    fn reload(&self, store: &dyn SessionStore) -> Result<(), StoreError> {
        let generation = store.session_generation()?;
        if generation == self.table.lock().generation {
            return Ok(());
        }
        let rows = store.open_sessions()?;
        let vanished: Vec<i64> = {
            let mut table = self.table.lock();
            let mut next = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
            for row in &rows {
                next.insert(row.terminal.clone(), table.merged(row));
            }
            let kept: HashSet<i64> = rows.iter().map(|r| r.id).collect();
            let old = std::mem::replace(&mut table.by_terminal, next);
            table.generation = generation;
            old.values()
                .map(|o| o.id)
                .filter(|id| !kept.contains(id))
                .collect()
        };
        if !vanished.is_empty() {
            for row in store.sessions_by_id(&vanished)? {
                self.count_ended(&row);
            }
        }
        Ok(())
    }

    /// The idle timeout of every location known, from the plan first, then from claims.
    fn idle_timeouts(&self, plan: &Plan) -> HashMap<String, Duration> {
        let mut idle = self.table.lock().claimed_idle.clone();
        for l in plan.locations.values() {
            idle.insert(l.name.clone(), l.idle_timeout);
        }
        idle
    }

    fn sweep(&self, now: Timestamp) -> Result<(), StoreError> {
        let plan = self.plan.load_full();
        {
            let store = self.store.lock();
            let store = &**store;
            self.flush(store)?;
            self.reload(store)?;
            let idle = self.idle_timeouts(&plan);
            let timeout = |l: &str| idle.get(l).copied().unwrap_or(DEFAULT_IDLE_TIMEOUT);
            let (any_idle, occupied) = {
                let table = self.table.lock();
                let open = table.by_terminal.values();
                // After the flush and the reload, no `last_seen` in memory is newer than the
                // store's: a session not idle here is not idle there, and an idle sweep costs no
                // write.
                let any_idle = open
                    .clone()
                    .any(|o| plus(o.last_seen, timeout(&o.location)) <= now);
                let occupied: HashSet<String> = open.map(|o| o.location.clone()).collect();
                (any_idle, occupied)
            };
            let mut ended = match any_idle {
                true => store.expire_idle(now, &timeout)?,
                false => Vec::new(),
            };
            for location in occupied {
                if !plan.hours.is_open(&location, now) {
                    let which = SessionSelector::Location(location);
                    ended.extend(store.end_sessions(&which, EndReason::Closed, now)?);
                }
            }
            let removed = self.removed(&plan);
            if !removed.is_empty() {
                let which = SessionSelector::Ids(removed);
                ended.extend(store.end_sessions(&which, EndReason::Removed, now)?);
            }
            let mut table = self.table.lock();
            for row in &ended {
                table.forget(row);
                self.count_ended(row);
            }
        }
        self.set_gauges(&plan);
        Ok(())
    }

    /// The open sessions the configuration no longer has room for: at a terminal it does not name
    /// (or names at another location), and, in a location with fewer seats than sessions, the
    /// newest ones over the limit.
    fn removed(&self, plan: &Plan) -> Vec<i64> {
        let table = self.table.lock();
        let mut out = Vec::new();
        let mut by_location: HashMap<&str, Vec<&Open>> = HashMap::new();
        for open in table.by_terminal.values() {
            let known = plan
                .terminals
                .as_ref()
                .is_none_or(|t| t.get(&open.terminal).is_some_and(|l| *l == open.location));
            if known {
                by_location.entry(&open.location).or_default().push(open);
            } else {
                out.push(open.id);
            }
        }
        for (location, mut open) in by_location {
            let Some(seats) = plan.locations.get(location).and_then(|l| l.seats) else {
                continue;
            };
            // The oldest keep their seats.
            open.sort_by_key(|o| (o.started, o.id));
            out.extend(open.iter().skip(seats as usize).map(|o| o.id));
        }
        out
    }

    fn set_gauges(&self, plan: &Plan) {
        let mut in_use: HashMap<String, i64> =
            plan.locations.keys().map(|l| (l.clone(), 0)).collect();
        for open in self.table.lock().by_terminal.values() {
            *in_use.entry(open.location.clone()).or_default() += 1;
        }
        let seats: HashMap<String, i64> = plan
            .locations
            .values()
            .filter_map(|l| Some((l.name.clone(), i64::from(l.seats?))))
            .collect();
        let mut reported = self.reported.lock();
        let [in_use_reported, seats_reported] = &mut *reported;
        set_family(&self.metrics.seats_in_use, &in_use, in_use_reported);
        set_family(&self.metrics.seats, &seats, seats_reported);
    }
}

/// The session facts the decision reads.
fn facts_of(open: &Open, now: Timestamp) -> policy::SessionFacts {
    let minutes = now
        .duration_since(open.started)
        .as_secs()
        .max(0)
        .checked_div(60)
        .unwrap_or(0);
    policy::SessionFacts {
        id: open.id,
        minutes: u32::try_from(minutes).unwrap_or(u32::MAX),
    }
}

/// Whether a recorded rule is a seat refusal (state, not policy: `policy replay` skips them).
pub fn is_seat_rule(rule: &str) -> bool {
    crate::metrics::SEAT_REFUSALS.contains(&rule)
}

/// The opening hours of the configured places.
struct PlacesHours(Arc<places::Places>);

impl OpenHours for PlacesHours {
    fn is_open(&self, location: &str, now: Timestamp) -> bool {
        // A location the configuration no longer has is closed: its sessions end.
        self.0
            .location_by_name(location)
            .is_some_and(|(_, l)| l.is_open_at(now))
    }
}

/// Set a per-location gauge to `values`, removing the series of locations no longer in them.
fn set_family(
    family: &Family<LocationLabels, Gauge>,
    values: &HashMap<String, i64>,
    reported: &mut HashSet<String>,
) {
    for (location, &v) in values {
        let labels = LocationLabels {
            location: location.clone(),
        };
        family.get_or_create(&labels).set(v);
    }
    for gone in reported.iter().filter(|l| !values.contains_key(*l)) {
        family.remove(&LocationLabels {
            location: gone.clone(),
        });
    }
    *reported = values.keys().cloned().collect();
}
