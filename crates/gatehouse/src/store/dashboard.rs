//! What the dashboard needs from the store ([`DashboardStore`]): the rollup of the audit trail
//! (requests and bytes per hour, per category and per refusing rule), the events not yet folded
//! into it, and short summaries of pending requests and active grants.
//!
//! The audit writer never touches the rollup: the dashboard folds the events above the mark
//! (`dashboard_fold.last_id`) when it is shown, so each view costs what happened since the last
//! one. Guarantees:
//! - every event is counted once, whoever folds and however many processes fold at once:
//!   [`DashboardStore::apply_fold`] adds a batch and moves the mark in one transaction, and only
//!   when the mark is still where the batch was read from (otherwise it changes nothing and says
//!   so, and the caller reads again from the new mark);
//! - no event is skipped: SQLite has one writer at a time and gives each new row an id above every
//!   committed one, so an event that commits after a batch was read has an id above the batch's;
//! - the rollup keeps [`KEEP_HOURS`] hours; older buckets are deleted by the fold that passes them.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::error::StoreError;
use super::grants::{grant_row, GrantRow, GRANT_COLUMNS};
use super::sqlite::Store;

/// How many hours of buckets the rollup keeps (a week and a day).
pub const KEEP_HOURS: i64 = 8 * 24;

/// An audit event as the fold reads it: what it counts, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldEvent {
    pub id: i64,
    pub ts_us: i64,
    pub method: String,
    /// `host:port`, or an action's subject.
    pub destination: String,
    pub decision: String,
    pub rule: String,
    /// Up and down.
    pub bytes: u64,
}

/// One row of the rollup: in the hour starting at `bucket_us`, `requests` events and `bytes` bytes
/// of `kind` (`all`, `category`, `refusal`) and `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    pub bucket_us: i64,
    pub kind: String,
    pub key: String,
    pub requests: u64,
    pub bytes: u64,
}

/// The oldest request still waiting for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: i64,
    pub scope: String,
    pub created_us: i64,
}

/// Requests waiting for review: how many, and the oldest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub count: u64,
    pub oldest: Option<PendingRequest>,
}

/// Active grants: how many, and those that end soonest (a grant waiting for its first use ends
/// at its claim-by time if unused), soonest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSummary {
    pub count: u64,
    pub ending: Vec<GrantRow>,
}

/// The dashboard's reads and its fold.
pub trait DashboardStore {
    /// The id of the last event folded into the rollup (0: none yet).
    fn fold_mark(&self) -> Result<i64, StoreError>;
    /// The events with an id above `after`, in id order, at most `limit` (actions included: the
    /// fold skips them, and the mark moves past them).
    fn events_after(&self, after: i64, limit: u32) -> Result<Vec<FoldEvent>, StoreError>;
    /// Add `rows` to the rollup and move the mark from `from` to `to`, in one transaction, if the
    /// mark is still `from`; deletes buckets older than [`KEEP_HOURS`] before `now_us`. `false`:
    /// another fold moved the mark first, and nothing was changed.
    fn apply_fold(
        &self,
        from: i64,
        to: i64,
        rows: &[RollupRow],
        now_us: i64,
    ) -> Result<bool, StoreError>;
    /// The rollup's rows of the buckets starting at or after `since_us`.
    fn rollup_since(&self, since_us: i64) -> Result<Vec<RollupRow>, StoreError>;
    /// The submitted requests that have not expired at `now_us`.
    fn pending_summary(&self, now_us: i64) -> Result<PendingSummary, StoreError>;
    /// The grants active at `now_us`, with the `limit` that end soonest.
    fn grant_summary(&self, now_us: i64, limit: u32) -> Result<GrantSummary, StoreError>;
}

/// When an active grant stops covering if nothing else happens: its expiry, or for one waiting for
/// its first use, its claim-by time (NULL: neither, it never ends by itself).
const GRANT_END: &str = "coalesce(expires_us, claim_by_us)";

impl DashboardStore for Store {
    fn fold_mark(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT last_id FROM dashboard_fold WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    fn events_after(&self, after: i64, limit: u32) -> Result<Vec<FoldEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, ts_us, method, destination, decision, rule, bytes_up + bytes_down
             FROM audit_events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit], |r| {
            Ok(FoldEvent {
                id: r.get(0)?,
                ts_us: r.get(1)?,
                method: r.get(2)?,
                destination: r.get(3)?,
                decision: r.get(4)?,
                rule: r.get(5)?,
                bytes: r.get::<_, i64>(6)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn apply_fold(
        &self,
        from: i64,
        to: i64,
        rows: &[RollupRow],
        now_us: i64,
    ) -> Result<bool, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE dashboard_fold SET last_id = ?2, updated_us = ?3 WHERE id = 1 AND last_id = ?1",
            params![from, to, now_us],
        )?;
        if moved == 0 {
            return Ok(false);
        }
        {
            let mut add = tx.prepare_cached(
                "INSERT INTO dashboard_rollup (bucket_us, kind, key, requests, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (bucket_us, kind, key) DO UPDATE SET
                     requests = requests + excluded.requests, bytes = bytes + excluded.bytes",
            )?;
            for r in rows {
                let (requests, bytes) = (r.requests as i64, r.bytes.min(i64::MAX as u64) as i64);
                add.execute(params![r.bucket_us, r.kind, r.key, requests, bytes])?;
            }
        }
        tx.execute(
            "DELETE FROM dashboard_rollup WHERE bucket_us < ?1",
            [now_us - KEEP_HOURS * 3_600_000_000],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn rollup_since(&self, since_us: i64) -> Result<Vec<RollupRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket_us, kind, key, requests, bytes FROM dashboard_rollup
             WHERE bucket_us >= ?1 ORDER BY bucket_us, kind, key",
        )?;
        let rows = stmt.query_map([since_us], |r| {
            Ok(RollupRow {
                bucket_us: r.get(0)?,
                kind: r.get(1)?,
                key: r.get(2)?,
                requests: r.get::<_, i64>(3)?.max(0) as u64,
                bytes: r.get::<_, i64>(4)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn pending_summary(&self, now_us: i64) -> Result<PendingSummary, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let count: i64 = tx.query_row(
            "SELECT count(*) FROM access_requests WHERE state = 'submitted' AND expires_us > ?1",
            [now_us],
            |r| r.get(0),
        )?;
        let oldest = tx
            .query_row(
                "SELECT id, scope, created_us FROM access_requests
                 WHERE state = 'submitted' AND expires_us > ?1 ORDER BY created_us, id LIMIT 1",
                [now_us],
                |r| {
                    Ok(PendingRequest {
                        id: r.get(0)?,
                        scope: r.get(1)?,
                        created_us: r.get(2)?,
                    })
                },
            )
            .optional()?;
        tx.finish()?;
        Ok(PendingSummary {
            count: count.max(0) as u64,
            oldest,
        })
    }

    fn grant_summary(&self, now_us: i64, limit: u32) -> Result<GrantSummary, StoreError> {
        let live = format!("state = 'active' AND ({GRANT_END} IS NULL OR {GRANT_END} > ?1)");
        let tx = self.conn.unchecked_transaction()?;
        let count: i64 = tx.query_row(
            &format!("SELECT count(*) FROM grants WHERE {live}"),
            [now_us],
            |r| r.get(0),
        )?;
        let ending = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE {live}
                 ORDER BY {GRANT_END} IS NULL, {GRANT_END}, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now_us, limit], grant_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.finish()?;
        Ok(GrantSummary {
            count: count.max(0) as u64,
            ending,
        })
    }
}
