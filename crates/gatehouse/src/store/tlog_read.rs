//! Reads of the verifiable audit log for `gatehouse audit verify|export|prove`, and the one write
//! that retention makes: pruning the log's oldest leaves and their events ([`LogReadStore`]).
//!
//! Guarantees:
//! - the reads between [`LogReadStore::begin_read`] and [`LogReadStore::end_read`] see one
//!   snapshot (a read transaction: in WAL mode the gateway goes on appending meanwhile);
//! - [`LogReadStore::walk_leaves`] streams every leaf from a given number in order, each with the
//!   leaf hash recomputed from its event's row as stored now ([`leaf_from_row`], byte for byte the
//!   encoding of [`super::leaf_bytes`]), in one query and without allocating per row: a column of
//!   an unexpected type is encoded as it is found, so an edit of any kind shows as a different
//!   hash, never as a read error;
//! - [`LogReadStore::prune`] deletes the leaves below a checkpoint's size and their events, moves
//!   the log's start there and records the pruning as an event with its leaf, all in one
//!   `BEGIN IMMEDIATE` transaction: what stays is always a log that verifies from its start.

use std::io::Write;

use auditlog::{leaf_hash, Hash};
use rusqlite::types::ValueRef;
use rusqlite::{params, OptionalExtension};

use super::audit::insert_rows;
use super::audit_row::{audit_row, AuditRow, AUDIT_COLUMNS};
use super::error::StoreError;
use super::sqlite::Store;
use super::tlog::{adopt, frontier_bytes, LeafRow, LogStore, LEAF_FORMAT};

/// One leaf as `verify` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafCheck {
    pub leaf: u64,
    pub event_id: i64,
    /// The hash stored beside the leaf when its event was written.
    pub stored: Hash,
    /// The leaf hash of the event's row as it is now; `None` when the row is gone.
    pub recomputed: Option<Hash>,
}

/// What the reader side of the audit log needs beyond [`LogStore`].
pub trait LogReadStore: LogStore {
    /// Start reading from one snapshot: every read until [`end_read`](LogReadStore::end_read)
    /// sees the store as it was now, whatever a running gateway appends or prunes meanwhile.
    fn begin_read(&self) -> Result<(), StoreError>;
    /// End the snapshot.
    fn end_read(&self) -> Result<(), StoreError>;
    /// Call `f` for every leaf numbered `from` or more, in order, until it returns `false`.
    fn walk_leaves(
        &self,
        from: u64,
        f: &mut dyn FnMut(&LeafCheck) -> bool,
    ) -> Result<(), StoreError>;
    /// Call `f` with the stored hash of every leaf numbered `from..to`, in order. Fails when one
    /// of them is missing.
    fn walk_hashes(&self, from: u64, to: u64, f: &mut dyn FnMut(Hash)) -> Result<(), StoreError>;
    /// Call `f` with every leaf numbered `from..to` and its event, in order, until it returns
    /// `false`. A leaf whose event is gone is skipped.
    fn walk_events(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &AuditRow) -> bool,
    ) -> Result<(), StoreError>;
    /// The ids of events that have no leaf and are not waiting to be adopted (at most `limit`,
    /// lowest first): events inserted behind the writer's back.
    fn events_without_leaf(&self, limit: u32) -> Result<Vec<i64>, StoreError>;
    /// The leaf of an event.
    fn leaf_of_event(&self, event_id: i64) -> Result<Option<LeafRow>, StoreError>;
    /// One event by id.
    fn event(&self, event_id: i64) -> Result<Option<AuditRow>, StoreError>;
    /// The lowest leaf at or after `from` whose event happened at or after `ts_us`.
    fn first_leaf_since(&self, from: u64, ts_us: i64) -> Result<Option<u64>, StoreError>;
    /// Prune the log to start at leaf `size`, whose tree frontier is `frontier`: delete the
    /// leaves below it and their events, then append the event `record(deleted events)`, in one
    /// transaction. Returns the number of events deleted.
    fn prune(
        &mut self,
        size: u64,
        frontier: &[Hash],
        record: &dyn Fn(u64) -> AuditRow,
    ) -> Result<u64, StoreError>;
}

/// The columns [`leaf_from_row`] reads, after the leaf's own three: every event column (the same
/// as [`AUDIT_COLUMNS`]) of the joined `audit_events` row `e`.
fn joined_columns() -> String {
    AUDIT_COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first event column in a walk's row (after `leaf, event_id, hash`): the event's `id`.
const EVENT_AT: usize = 3;
/// The event columns stored as `u64` (`bytes_up`, `bytes_down`, `duration_us`), counted from `id`.
const UNSIGNED: [usize; 3] = [11, 12, 13];

/// The leaf bytes of the event whose columns (`id` first, as [`AUDIT_COLUMNS`]) start at `at`,
/// written into `buf` (cleared first). `false` when the event is gone (its `id` is `NULL`).
pub fn leaf_from_row(row: &rusqlite::Row, at: usize, buf: &mut Vec<u8>) -> rusqlite::Result<bool> {
    if matches!(row.get_ref(at)?, ValueRef::Null) {
        return Ok(false);
    }
    buf.clear();
    buf.extend_from_slice(LEAF_FORMAT.as_bytes());
    buf.push(b'\n');
    for field in 1..=24 {
        let value = row.get_ref(at + field)?;
        if matches!(value, ValueRef::Null) {
            buf.push(0xFF);
            continue;
        }
        buf.push(0);
        let len_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        // Writing into a `Vec` cannot fail.
        let _ = match value {
            ValueRef::Integer(n) if UNSIGNED.contains(&field) => write!(buf, "{}", n as u64),
            ValueRef::Integer(n) => write!(buf, "{n}"),
            ValueRef::Real(x) => write!(buf, "{x}"),
            ValueRef::Text(t) | ValueRef::Blob(t) => buf.write_all(t),
            ValueRef::Null => Ok(()),
        };
        let len = (buf.len() - len_at - 4) as u32;
        buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(true)
}

fn hash_from(bytes: &[u8]) -> Hash {
    // A stored hash of the wrong length is compared as all zeros: it matches nothing.
    <[u8; 32]>::try_from(bytes).map(Hash).unwrap_or_default()
}

impl LogReadStore for Store {
    fn begin_read(&self) -> Result<(), StoreError> {
        // A deferred transaction takes its snapshot at the first read and holds it to the end.
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    fn end_read(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn walk_leaves(
        &self,
        from: u64,
        f: &mut dyn FnMut(&LeafCheck) -> bool,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT l.leaf, l.event_id, l.hash, {} FROM audit_leaves l
             LEFT JOIN audit_events e ON e.id = l.event_id WHERE l.leaf >= ?1 ORDER BY l.leaf",
            joined_columns()
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([from as i64])?;
        let mut buf = Vec::with_capacity(512);
        while let Some(row) = rows.next()? {
            let present = leaf_from_row(row, EVENT_AT, &mut buf)?;
            let check = LeafCheck {
                leaf: row.get::<_, i64>(0)? as u64,
                event_id: row.get(1)?,
                stored: match row.get_ref(2)? {
                    ValueRef::Blob(b) => hash_from(b),
                    _ => Hash::default(),
                },
                recomputed: present.then(|| leaf_hash(&buf)),
            };
            if !f(&check) {
                break;
            }
        }
        Ok(())
    }

    fn walk_hashes(&self, from: u64, to: u64, f: &mut dyn FnMut(Hash)) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT leaf, hash FROM audit_leaves WHERE leaf >= ?1 AND leaf < ?2 ORDER BY leaf",
        )?;
        let mut rows = stmt.query([from as i64, to as i64])?;
        let mut next = from;
        while let Some(row) = rows.next()? {
            let leaf = row.get::<_, i64>(0)? as u64;
            if leaf != next {
                break;
            }
            f(match row.get_ref(1)? {
                ValueRef::Blob(b) => hash_from(b),
                _ => Hash::default(),
            });
            next += 1;
        }
        if next != to {
            return Err(StoreError::Log(format!(
                "leaf {next} is missing from the store"
            )));
        }
        Ok(())
    }

    fn walk_events(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &AuditRow) -> bool,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT {}, l.leaf FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id
             WHERE l.leaf >= ?1 AND l.leaf < ?2 ORDER BY l.leaf",
            joined_columns()
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([from as i64, to as i64])?;
        while let Some(row) = rows.next()? {
            let event = audit_row(row)?;
            if !f(row.get::<_, i64>(25)? as u64, &event) {
                break;
            }
        }
        Ok(())
    }

    fn events_without_leaf(&self, limit: u32) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id FROM audit_events e
             WHERE e.id > COALESCE((SELECT adopt_through FROM audit_log_state WHERE id = 1), -1)
               AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.event_id = e.id)
             ORDER BY e.id LIMIT ?1",
        )?;
        let ids = stmt.query_map([limit], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    fn leaf_of_event(&self, event_id: i64) -> Result<Option<LeafRow>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT leaf, hash FROM audit_leaves WHERE event_id = ?1",
                [event_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?;
        Ok(row.map(|(leaf, hash)| LeafRow {
            leaf: leaf as u64,
            event_id,
            hash: hash_from(&hash),
        }))
    }

    fn event(&self, event_id: i64) -> Result<Option<AuditRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE id = ?1"),
                [event_id],
                audit_row,
            )
            .optional()?)
    }

    fn first_leaf_since(&self, from: u64, ts_us: i64) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT MIN(l.leaf) FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id
                 WHERE l.leaf >= ?1 AND e.ts_us >= ?2",
                params![from as i64, ts_us],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|l| l as u64))
    }

    fn prune(
        &mut self,
        size: u64,
        frontier: &[Hash],
        record: &dyn Fn(u64) -> AuditRow,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        adopt(&tx)?;
        let deleted = tx.execute(
            "DELETE FROM audit_events
             WHERE id IN (SELECT event_id FROM audit_leaves WHERE leaf < ?1)",
            [size as i64],
        )? as u64;
        tx.execute("DELETE FROM audit_leaves WHERE leaf < ?1", [size as i64])?;
        tx.execute(
            "UPDATE audit_log_state SET first_leaf = ?1, frontier = ?2 WHERE id = 1",
            params![size as i64, frontier_bytes(frontier)],
        )?;
        insert_rows(&tx, &[record(deleted)])?;
        tx.commit()?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{event_leaf, AuditStore};

    #[test]
    fn the_streamed_leaf_is_the_documented_leaf_for_every_shape_of_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let full = AuditRow {
            ts_us: -5,
            principal: Some("ada".into()),
            tried_principal: Some(String::new()),
            client: "[::1]:5".into(),
            method: "CONNECT".into(),
            destination: "é.test:443".into(),
            url: Some("http://x/\u{0}".into()),
            decision: "deny".into(),
            rule: "r".into(),
            status: 403,
            bytes_up: u64::MAX,
            bytes_down: 1 << 40,
            duration_us: 7,
            stage: "done".into(),
            error: Some("e".into()),
            terminal: Some("t".into()),
            location: Some("l".into()),
            session_id: Some(-1),
            groups: Some("a,b".into()),
            tier: Some("open".into()),
            policy_version: Some("v".into()),
            role: Some("user".into()),
            revoked_by: Some("x".into()),
            grant_id: Some(9),
            ..AuditRow::default()
        };
        let sparse = AuditRow::action(1, "gatehouse", "cli", "audit.prune", "log:x", None);
        store.append_audit(&[full, sparse]).unwrap();
        let events = store.audit(&Default::default()).unwrap();
        let mut seen = Vec::new();
        store
            .walk_leaves(0, &mut |c| {
                seen.push(*c);
                true
            })
            .unwrap();
        assert_eq!(seen.len(), 2);
        for (c, e) in seen.iter().zip(&events) {
            assert_eq!(c.recomputed, Some(event_leaf(e)));
            assert_eq!(c.stored, event_leaf(e));
        }
    }
}
