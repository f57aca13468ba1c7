//! What the gateway's start-up check of the audit log reads besides the [`LogStore`](super::LogStore)
//! itself: the events behind a range of leaves (to recompute their leaf hashes), and whether an
//! event was recorded after the last leaf's (an event with no leaf).
//!
//! Reads only: nothing here writes to the store.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::audit_row::{audit_row, AuditRow, AUDIT_COLUMNS};
use super::error::StoreError;
use super::sqlite::Store;

/// Reading the events behind the log's leaves.
pub trait TailStore: Send {
    /// The events of the leaves numbered `from..to`, by event id (an event that is gone is absent).
    fn leaf_events(&self, from: u64, to: u64) -> Result<HashMap<i64, AuditRow>, StoreError>;
    /// The first event whose id is above `after`, if any.
    fn first_event_after(&self, after: i64) -> Result<Option<i64>, StoreError>;
}

impl TailStore for Store {
    fn leaf_events(&self, from: u64, to: u64) -> Result<HashMap<i64, AuditRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE id IN
                (SELECT event_id FROM audit_leaves WHERE leaf >= ?1 AND leaf < ?2)"
        ))?;
        let rows = stmt.query_map([from as i64, to as i64], audit_row)?;
        rows.map(|r| r.map(|r| (r.id, r)).map_err(StoreError::from))
            .collect()
    }

    fn first_event_after(&self, after: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM audit_events WHERE id > ?1 ORDER BY id LIMIT 1",
                [after],
                |r| r.get(0),
            )
            .optional()?)
    }
}
