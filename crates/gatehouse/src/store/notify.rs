//! What webhook notifications need from the store ([`NotifyStore`]): each webhook's cursor in the
//! audit trail, the action events after it, and the once-per-grant announcement that a grant is
//! about to expire.
//!
//! Guarantees:
//! - action events are read in id order, and an id once read is never followed by a smaller one
//!   committed later: SQLite has one writer at a time and gives each new row an id above every
//!   committed one, so a cursor never skips an event that commits after it was read;
//! - a cursor only moves forward (`max` of the old and the new value);
//! - a grant's coming expiry is recorded once (`grant.expiring`, with the grant's id), in one
//!   transaction with the mark that says so, so that two gateways sweeping at once record it once.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::audit::insert_rows;
use super::audit_row::{audit_row, AuditRow, AUDIT_COLUMNS};
use super::error::StoreError;
use super::grants::{grant_row, GrantRow, GrantStore, GATEWAY, GRANT_COLUMNS};
use super::sqlite::Store;

/// The action name of a grant's coming expiry.
pub const GRANT_EXPIRING: &str = "grant.expiring";

/// Cursors, action events and expiry announcements for webhook notifications.
pub trait NotifyStore: GrantStore {
    /// Where `hook` stopped: the id of the last audit event it was notified of. A hook seen for
    /// the first time starts at the newest event: what happened before it was configured is not
    /// sent.
    fn notify_start(&self, hook: &str, now_us: i64) -> Result<i64, StoreError>;
    /// `hook` has been notified of every event up to `last_id`.
    fn set_notify_cursor(&self, hook: &str, last_id: i64, now_us: i64) -> Result<(), StoreError>;
    /// The action events after id `after`, oldest first, at most `limit`; and the id up to which
    /// the trail was looked at (the next call starts there).
    fn actions_after(&self, after: i64, limit: u32) -> Result<(Vec<AuditRow>, i64), StoreError>;
    /// Record `grant.expiring` for each active, started grant that ends within `lead_us` of
    /// `now_us` and was not announced before; their ids.
    fn warn_expiring(&self, lead_us: i64, now_us: i64) -> Result<Vec<i64>, StoreError>;
}

impl NotifyStore for Store {
    fn notify_start(&self, hook: &str, now_us: i64) -> Result<i64, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let found: Option<i64> = tx
            .query_row(
                "SELECT last_id FROM notify_cursor WHERE hook = ?1",
                [hook],
                |r| r.get(0),
            )
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                let newest: i64 =
                    tx.query_row("SELECT coalesce(max(id), 0) FROM audit_events", [], |r| {
                        r.get(0)
                    })?;
                tx.execute(
                    "INSERT INTO notify_cursor (hook, last_id, updated_us) VALUES (?1, ?2, ?3)",
                    params![hook, newest, now_us],
                )?;
                newest
            }
        };
        tx.commit()?;
        Ok(id)
    }

    fn set_notify_cursor(&self, hook: &str, last_id: i64, now_us: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO notify_cursor (hook, last_id, updated_us) VALUES (?1, ?2, ?3)
             ON CONFLICT (hook) DO UPDATE SET last_id = max(last_id, excluded.last_id),
                 updated_us = excluded.updated_us",
            params![hook, last_id, now_us],
        )?;
        Ok(())
    }

    fn actions_after(&self, after: i64, limit: u32) -> Result<(Vec<AuditRow>, i64), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let top: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM audit_events", [], |r| {
            r.get(0)
        })?;
        let rows: Vec<AuditRow> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_events
                 WHERE id > ?1 AND id <= ?2 AND method = ?3 ORDER BY id LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![after, top, AuditRow::ACTION_METHOD, limit],
                audit_row,
            )?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.finish()?;
        // A full page: the next call starts after its last row, not at the top.
        let upto = match rows.last() {
            Some(last) if rows.len() as u32 >= limit => last.id,
            _ => top.max(after),
        };
        Ok((rows, upto))
    }

    fn warn_expiring(&self, lead_us: i64, now_us: i64) -> Result<Vec<i64>, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let due: Vec<GrantRow> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE state = 'active'
                 AND expires_us IS NOT NULL AND expires_us > ?1 AND expires_us <= ?2
                 AND id NOT IN (SELECT grant_id FROM notify_warned) ORDER BY id"
            ))?;
            let rows =
                stmt.query_map(params![now_us, now_us.saturating_add(lead_us)], grant_row)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut ids = Vec::with_capacity(due.len());
        for g in due {
            tx.execute(
                "INSERT INTO notify_warned (grant_id, warned_us) VALUES (?1, ?2)",
                params![g.id, now_us],
            )?;
            let expires_us = g.expires_us.unwrap_or(now_us);
            let detail = format!(
                "expires_us={expires_us} left={}s",
                (expires_us - now_us).div_euclid(1_000_000)
            );
            let mut row = AuditRow::action(
                now_us,
                GATEWAY.name,
                GATEWAY.via,
                GRANT_EXPIRING,
                &format!("grant:{}", g.id),
                Some(detail),
            );
            row.grant_id = Some(g.id);
            insert_rows(&tx, &[row])?;
            ids.push(g.id);
        }
        tx.commit()?;
        Ok(ids)
    }
}
