//! Sessions: a principal at a terminal, from its first authenticated request until it ends. The
//! [`SessionStore`] interface and its SQLite implementation.
//!
//! Guarantees:
//! - a seat is taken in one transaction that holds the write lock from its first statement
//!   ([`SessionStore::take_seat`]): it ends the location's idle sessions, looks at the terminal,
//!   counts the location's and the principal's open sessions and inserts, so that any number of
//!   gateways and CLIs on one store never put more open sessions in a location than it has seats,
//!   nor more than `max_per_principal` on one principal;
//! - a terminal holds at most one open session (a partial unique index says so too);
//! - a session is never reopened: ending sets `ended_us` and `end_reason` once, and every later
//!   change (touch, end) applies to open sessions only;
//! - every session started or ended moves the change counter `session_generation` in the same
//!   transaction (triggers), so a reader that sees the new counter also sees the change; being
//!   seen again (`last_seen_us`) does not move it.
//!
//! Times are microseconds since the Unix epoch in the table, as in `audit_events`, and
//! [`jiff::Timestamp`] in this interface.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{params, params_from_iter, OptionalExtension, Transaction, TransactionBehavior};

use super::error::StoreError;
use super::sqlite::Store;

/// A session as stored (the boundary type of the sessions table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: i64,
    pub principal: String,
    pub terminal: String,
    pub location: String,
    pub started: Timestamp,
    pub last_seen: Timestamp,
    /// `None` while the session is open.
    pub ended: Option<Timestamp>,
    /// [`EndReason::as_str`] of an ended session.
    pub end_reason: Option<String>,
}

/// Why a session ended, as stored in `end_reason` and counted in
/// `gatehouse_sessions_ended_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// No request from the terminal for the location's idle timeout.
    Idle,
    /// The location closed (its opening hours or a closed date).
    Closed,
    /// An administrator ended it (`gatehouse session end`).
    Admin,
    /// The principal came back at the same terminal, which now belongs to another location.
    Moved,
    /// A reload removed the terminal, or left its location fewer seats than sessions (the newest
    /// sessions end first).
    Removed,
}

impl EndReason {
    pub const ALL: [EndReason; 5] = [
        EndReason::Idle,
        EndReason::Closed,
        EndReason::Admin,
        EndReason::Moved,
        EndReason::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Closed => "closed",
            EndReason::Admin => "admin",
            EndReason::Moved => "moved",
            EndReason::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A request for a seat: who, where, under which limits, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatClaim {
    pub principal: String,
    pub terminal: String,
    pub location: String,
    /// The location's seats; `None`: no limit (sessions are still kept).
    pub seats: Option<u32>,
    /// The most open sessions one principal may hold, across every location.
    pub max_per_principal: u32,
    /// The location's idle timeout: a session not seen for this long is over.
    pub idle_timeout: Duration,
    /// When the location closes next, if it does (bounds the times a refusal names).
    pub closes_at: Option<Timestamp>,
    pub now: Timestamp,
}

/// What a seat claim came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatOutcome {
    /// The claim holds this session: `new` when it started now, otherwise the terminal's open
    /// session of the same principal, seen again.
    Seated { session: SessionRow, new: bool },
    /// The location's seats are all taken. `next_free_at`: when a seat frees at the latest (the
    /// earliest idle end among the open sessions, or the location's closing, whichever is first);
    /// `None` for a location with no seats at all.
    Full {
        seats: u32,
        next_free_at: Option<Timestamp>,
    },
    /// The terminal holds another principal's open session, until this time at the latest.
    TerminalBusy { until: Timestamp },
    /// The principal already holds `max` open sessions.
    PrincipalLimit { max: u32 },
}

/// The result of [`SessionStore::take_seat`]: the outcome, and the sessions the same transaction
/// ended (the location's idle ones, or the principal's session at a terminal that moved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatTaken {
    pub outcome: SeatOutcome,
    pub ended: Vec<SessionRow>,
}

/// Which open sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSelector {
    Ids(Vec<i64>),
    Terminal(String),
    Principal(String),
    Location(String),
}

/// Filters for listing sessions. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Ended sessions too, not only open ones.
    pub include_ended: bool,
    pub location: Option<String>,
    pub principal: Option<String>,
    /// The most recently started this many; `None` for every match.
    pub limit: Option<u64>,
}

/// Sessions and seats: what the gateway's seat table keeps and the CLI lists and ends.
pub trait SessionStore: Send {
    /// Take a seat for `claim`, or say why not, in one transaction holding the write lock.
    fn take_seat(&self, claim: &SeatClaim) -> Result<SeatTaken, StoreError>;
    /// Record when open sessions were last seen, in one transaction (a time older than the stored
    /// one changes nothing).
    fn touch_sessions(&self, seen: &[(i64, Timestamp)]) -> Result<(), StoreError>;
    /// End the open sessions `which` selects; the sessions ended, oldest first.
    fn end_sessions(
        &self,
        which: &SessionSelector,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// End every open session not seen for its location's idle timeout (`idle_timeout(location)`);
    /// the sessions ended.
    fn expire_idle(
        &self,
        now: Timestamp,
        idle_timeout: &dyn Fn(&str) -> Duration,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// Every open session, oldest first.
    fn open_sessions(&self) -> Result<Vec<SessionRow>, StoreError>;
    /// Sessions by filter, oldest first (with a limit, the most recently started ones).
    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRow>, StoreError>;
    /// These sessions, open or ended (ids that do not exist are left out).
    fn sessions_by_id(&self, ids: &[i64]) -> Result<Vec<SessionRow>, StoreError>;
    /// The change counter of the open set: it moves when a session starts or ends.
    fn session_generation(&self) -> Result<i64, StoreError>;
    /// How long the next statements wait for another writer's lock before they fail: a claim
    /// waits no longer than its request does.
    fn set_lock_wait(&self, wait: Duration) -> Result<(), StoreError>;
}

const COLUMNS: &str =
    "id, principal, terminal, location, started_us, last_seen_us, ended_us, end_reason";

/// A stored time as a timestamp (out-of-range values, which gatehouse never writes, clamp).
fn ts(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn duration_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `t + d`, saturating.
fn plus(t: Timestamp, d: Duration) -> Timestamp {
    ts(us(t).saturating_add(duration_us(d)))
}

/// The earlier of `t` and the location's closing time.
fn bounded(t: Timestamp, closes_at: Option<Timestamp>) -> Timestamp {
    closes_at.map_or(t, |c| c.min(t))
}

fn session_row(r: &rusqlite::Row) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        principal: r.get(1)?,
        terminal: r.get(2)?,
        location: r.get(3)?,
        started: ts(r.get(4)?),
        last_seen: ts(r.get(5)?),
        ended: r.get::<_, Option<i64>>(6)?.map(ts),
        end_reason: r.get(7)?,
    })
}

/// Run `sql` (whose result columns are [`COLUMNS`]) and collect its rows.
fn query_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Vec<SessionRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, session_row)?;
    rows.collect()
}

/// End the open sessions with these ids in `tx`; those it ended.
fn end_ids(
    tx: &Transaction,
    ids: &[i64],
    reason: EndReason,
    now: Timestamp,
) -> rusqlite::Result<Vec<SessionRow>> {
    let mut ended = Vec::with_capacity(ids.len());
    let sql = format!(
        "UPDATE sessions SET ended_us = ?1, end_reason = ?2
         WHERE id = ?3 AND ended_us IS NULL RETURNING {COLUMNS}"
    );
    for id in ids {
        ended.extend(query_rows(tx, &sql, params![us(now), reason.as_str(), id])?);
    }
    Ok(ended)
}

/// The open sessions of `location` whose idle timeout has passed at `now`.
fn idle_in_location(
    tx: &Transaction,
    location: &str,
    idle: Duration,
    now: Timestamp,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM sessions WHERE ended_us IS NULL AND location = ?1 AND last_seen_us <= ?2",
    )?;
    let cutoff = us(now).saturating_sub(duration_us(idle));
    let ids = stmt.query_map(params![location, cutoff], |r| r.get(0))?;
    ids.collect()
}

/// The refusal for a full location, if it is full: its open sessions and their earliest last
/// sighting against its seats.
fn full(tx: &Transaction, claim: &SeatClaim) -> rusqlite::Result<Option<SeatOutcome>> {
    let Some(seats) = claim.seats else {
        return Ok(None);
    };
    let (open, earliest): (i64, Option<i64>) = tx.query_row(
        "SELECT COUNT(*), MIN(last_seen_us) FROM sessions WHERE ended_us IS NULL AND location = ?1",
        params![claim.location],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if open < i64::from(seats) {
        return Ok(None);
    }
    let next_free_at = earliest.map(|e| bounded(plus(ts(e), claim.idle_timeout), claim.closes_at));
    Ok(Some(SeatOutcome::Full {
        seats,
        next_free_at,
    }))
}

/// The seat decision inside the transaction: see [`SessionStore::take_seat`].
fn take_in(tx: &Transaction, claim: &SeatClaim) -> rusqlite::Result<SeatTaken> {
    let now = us(claim.now);
    // Idle sessions would otherwise hold seats until the next sweep.
    let idle = idle_in_location(tx, &claim.location, claim.idle_timeout, claim.now)?;
    let mut ended = end_ids(tx, &idle, EndReason::Idle, claim.now)?;
    let held = query_rows(
        tx,
        &format!("SELECT {COLUMNS} FROM sessions WHERE ended_us IS NULL AND terminal = ?1"),
        params![claim.terminal],
    )?;
    if let Some(held) = held.into_iter().next() {
        if held.principal != claim.principal {
            let until = bounded(plus(held.last_seen, claim.idle_timeout), claim.closes_at);
            let outcome = SeatOutcome::TerminalBusy { until };
            return Ok(SeatTaken { outcome, ended });
        }
        if held.location == claim.location {
            let session = tx.query_row(
                &format!(
                    "UPDATE sessions SET last_seen_us = MAX(last_seen_us, ?1) WHERE id = ?2
                     RETURNING {COLUMNS}"
                ),
                params![now, held.id],
                session_row,
            )?;
            let outcome = SeatOutcome::Seated {
                session,
                new: false,
            };
            return Ok(SeatTaken { outcome, ended });
        }
        // The terminal was moved to another location by a reload: its old session counted there.
        ended.extend(end_ids(tx, &[held.id], EndReason::Moved, claim.now)?);
    }
    if let Some(outcome) = full(tx, claim)? {
        return Ok(SeatTaken { outcome, ended });
    }
    let held_by_principal: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sessions WHERE ended_us IS NULL AND principal = ?1",
        params![claim.principal],
        |r| r.get(0),
    )?;
    if held_by_principal >= i64::from(claim.max_per_principal) {
        let outcome = SeatOutcome::PrincipalLimit {
            max: claim.max_per_principal,
        };
        return Ok(SeatTaken { outcome, ended });
    }
    let session = tx.query_row(
        &format!(
            "INSERT INTO sessions (principal, terminal, location, started_us, last_seen_us)
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {COLUMNS}"
        ),
        params![claim.principal, claim.terminal, claim.location, now],
        session_row,
    )?;
    let outcome = SeatOutcome::Seated { session, new: true };
    Ok(SeatTaken { outcome, ended })
}

impl Store {
    /// A transaction that holds the write lock from its first statement, so that what it counts
    /// cannot change before it writes.
    fn immediate(&self) -> rusqlite::Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
    }
}

impl SessionStore for Store {
    fn take_seat(&self, claim: &SeatClaim) -> Result<SeatTaken, StoreError> {
        let tx = self.immediate()?;
        let taken = take_in(&tx, claim)?;
        // Committed whatever the outcome: a refusal may still have ended idle sessions.
        tx.commit()?;
        Ok(taken)
    }

    fn touch_sessions(&self, seen: &[(i64, Timestamp)]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let tx = self.immediate()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE sessions SET last_seen_us = ?1
                 WHERE id = ?2 AND ended_us IS NULL AND last_seen_us < ?1",
            )?;
            for (id, at) in seen {
                stmt.execute(params![us(*at), id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn end_sessions(
        &self,
        which: &SessionSelector,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let tx = self.immediate()?;
        let ids: Vec<i64> = match which {
            SessionSelector::Ids(ids) => ids.clone(),
            SessionSelector::Terminal(v)
            | SessionSelector::Principal(v)
            | SessionSelector::Location(v) => {
                let column = match which {
                    SessionSelector::Terminal(_) => "terminal",
                    SessionSelector::Principal(_) => "principal",
                    _ => "location",
                };
                let sql = format!(
                    "SELECT id FROM sessions WHERE ended_us IS NULL AND {column} = ?1 ORDER BY id"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                let ids = stmt.query_map(params![v], |r| r.get(0))?;
                ids.collect::<rusqlite::Result<_>>()?
            }
        };
        let ended = end_ids(&tx, &ids, reason, now)?;
        tx.commit()?;
        Ok(ended)
    }

    fn expire_idle(
        &self,
        now: Timestamp,
        idle_timeout: &dyn Fn(&str) -> Duration,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let tx = self.immediate()?;
        let open = query_rows(
            &tx,
            &format!("SELECT {COLUMNS} FROM sessions WHERE ended_us IS NULL ORDER BY id"),
            [],
        )?;
        let idle: Vec<i64> = open
            .iter()
            .filter(|s| plus(s.last_seen, idle_timeout(&s.location)) <= now)
            .map(|s| s.id)
            .collect();
        let ended = end_ids(&tx, &idle, EndReason::Idle, now)?;
        tx.commit()?;
        Ok(ended)
    }

    fn open_sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        self.sessions(&SessionFilter::default())
    }

    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM sessions WHERE 1 = 1");
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
        if !filter.include_ended {
            sql.push_str(" AND ended_us IS NULL");
        }
        if let Some(l) = &filter.location {
            sql.push_str(" AND location = ?");
            args.push(l);
        }
        if let Some(p) = &filter.principal {
            sql.push_str(" AND principal = ?");
            args.push(p);
        }
        sql.push_str(" ORDER BY started_us DESC, id DESC");
        let limit = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        if let Some(l) = &limit {
            sql.push_str(" LIMIT ?");
            args.push(l);
        }
        let mut rows = query_rows(&self.conn, &sql, params_from_iter(args))?;
        rows.reverse();
        Ok(rows)
    }

    fn sessions_by_id(&self, ids: &[i64]) -> Result<Vec<SessionRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1");
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            if let Some(row) = stmt.query_row(params![id], session_row).optional()? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    fn set_lock_wait(&self, wait: Duration) -> Result<(), StoreError> {
        // SQLite's busy handler: at least a millisecond, or it would not wait at all.
        Ok(self.conn.busy_timeout(wait.max(Duration::from_millis(1)))?)
    }

    fn session_generation(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT value FROM session_generation WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }
}
