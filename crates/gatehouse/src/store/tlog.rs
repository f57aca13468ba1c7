//! The verifiable audit log's side of the store: how an audit event becomes a leaf of the Merkle
//! tree (crate `auditlog`), the leaves appended in the same transaction as their events, and the
//! signed checkpoints.
//!
//! Guarantees:
//! - every event appended through [`AuditStore::append_audit`](super::AuditStore) gets its leaf in
//!   the same transaction (`BEGIN IMMEDIATE`, so two processes appending at once take turns and
//!   leaf numbers never collide): the events and the tree never disagree, whatever stops the
//!   process;
//! - leaves are numbered from 0 in the order the events were appended (their ids' order);
//! - events recorded before the log existed (schema version 4 and older) are adopted as the first
//!   leaves, in id order, once, by the first append or [`LogStore::adopt_pending`];
//! - a checkpoint is only ever added for a tree that extends the previous checkpoint's (it is
//!   computed from that checkpoint's frontier and the leaves after it).
//!
//! The leaf's bytes ([`leaf_bytes`]) are specified in `docs/audit-log.md`: a verifier elsewhere
//! rebuilds them from an exported event without this code.

use auditlog::{Checkpoint, Hash, Signer, Tree};
use rusqlite::{params, OptionalExtension, Transaction};

use super::audit_row::{audit_row, AuditRow, AUDIT_COLUMNS};
use super::error::StoreError;
use super::sqlite::{BatchInsert, Store};

/// The first line of every leaf's bytes: names the encoding, so that a later one can differ.
pub const LEAF_FORMAT: &str = "gatehouse-audit-event/1";

/// The bytes of the leaf for one audit event: [`LEAF_FORMAT`] and a newline, then every field
/// but the row id, in this order, each either absent (the byte `0xFF`) or present (the byte
/// `0x00`, its length as a 4-byte big-endian number, then its UTF-8 bytes; numbers in decimal):
/// `ts_us principal tried_principal client method destination url decision rule status bytes_up
/// bytes_down duration_us stage error terminal location session_id groups tier policy_version role
/// revoked_by grant_id`. The row id is left out on purpose: the leaf's position in the tree is
/// what orders events, so two rows whose contents were swapped show as reordered, not as edited.
pub fn leaf_bytes(r: &AuditRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(320);
    encode(r, &mut out);
    out
}

/// The leaf hash of one audit event: `leaf_hash(leaf_bytes(r))`. The bytes are gathered in one
/// buffer per thread and hashed in one call: hashing the fields piece by piece costs several times
/// more (the hasher's per-call overhead, some 70 calls an event), and the audit writer does this
/// for every event.
pub fn event_leaf(r: &AuditRow) -> Hash {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
    }
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        encode(r, buf);
        auditlog::leaf_hash(buf)
    })
}

/// Append the leaf bytes of `r` to `out` (a plain buffer: the writer encodes every event).
fn encode(r: &AuditRow, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            None => out.push(0xFF),
            Some(s) => {
                out.push(0);
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn num(out: &mut Vec<u8>, n: Option<i64>) {
        let mut buf = itoa::Buffer::new();
        text(out, n.map(|n| buf.format(n)));
    }
    fn count(out: &mut Vec<u8>, n: u64) {
        let mut buf = itoa::Buffer::new();
        text(out, Some(buf.format(n)));
    }
    out.extend_from_slice(LEAF_FORMAT.as_bytes());
    out.push(b'\n');
    num(out, Some(r.ts_us));
    text(out, r.principal.as_deref());
    text(out, r.tried_principal.as_deref());
    text(out, Some(&r.client));
    text(out, Some(&r.method));
    text(out, Some(&r.destination));
    text(out, r.url.as_deref());
    text(out, Some(&r.decision));
    text(out, Some(&r.rule));
    num(out, Some(r.status.into()));
    count(out, r.bytes_up);
    count(out, r.bytes_down);
    count(out, r.duration_us);
    text(out, Some(&r.stage));
    text(out, r.error.as_deref());
    text(out, r.terminal.as_deref());
    text(out, r.location.as_deref());
    num(out, r.session_id);
    text(out, r.groups.as_deref());
    text(out, r.tier.as_deref());
    text(out, r.policy_version.as_deref());
    text(out, r.role.as_deref());
    text(out, r.revoked_by.as_deref());
    num(out, r.grant_id);
}

/// Where the log starts, and what is left to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// Leaves below this were pruned.
    pub first_leaf: u64,
    /// The tree's right frontier at `first_leaf`.
    pub frontier: Vec<Hash>,
    /// Events up to this id were recorded before the log existed and have no leaf yet.
    pub adopt_through: Option<i64>,
}

/// One stored leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafRow {
    pub leaf: u64,
    pub event_id: i64,
    /// The leaf hash as computed when the event was written.
    pub hash: Hash,
}

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: u64,
    /// Microseconds since the Unix epoch.
    pub ts_us: i64,
    pub root: Hash,
    /// The tree's right frontier at `size`.
    pub frontier: Vec<Hash>,
    /// The signed note (c2sp.org/tlog-checkpoint body and its signature lines).
    pub note: String,
}

/// The audit log's tables.
pub trait LogStore: Send {
    fn log_state(&self) -> Result<LogState, StoreError>;
    /// The number of leaves the tree has (the next leaf's number).
    fn tree_size(&self) -> Result<u64, StoreError>;
    /// The stored leaves numbered `from..to`, in order.
    fn leaves(&self, from: u64, to: u64) -> Result<Vec<LeafRow>, StoreError>;
    /// The newest checkpoint.
    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StoreError>;
    /// Every checkpoint, oldest first.
    fn checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError>;
    /// Store a checkpoint (its size must be larger than every stored one's).
    fn add_checkpoint(&mut self, c: &CheckpointRow) -> Result<(), StoreError>;
    /// Adopt the events recorded before the log existed; returns how many became leaves.
    fn adopt_pending(&mut self) -> Result<u64, StoreError>;
}

fn hash_of(bytes: &[u8]) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Log(format!("a stored hash is {} bytes, not 32", bytes.len())))
}

fn frontier_of(bytes: &[u8]) -> Result<Vec<Hash>, StoreError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Log(format!(
            "a stored frontier is {} bytes, not a multiple of 32",
            bytes.len()
        )));
    }
    bytes.chunks(32).map(hash_of).collect()
}

/// The frontier's nodes concatenated, as stored.
pub fn frontier_bytes(nodes: &[Hash]) -> Vec<u8> {
    nodes.iter().flat_map(|h| h.0).collect()
}

/// A checkpoint row as SQLite gives it: size, time, root, frontier, note.
type RawCheckpoint = (i64, i64, Vec<u8>, Vec<u8>, String);

fn checkpoint_row(r: &rusqlite::Row) -> rusqlite::Result<RawCheckpoint> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_checkpoint(
    (size, ts_us, root, frontier, note): RawCheckpoint,
) -> Result<CheckpointRow, StoreError> {
    Ok(CheckpointRow {
        size: size as u64,
        ts_us,
        root: hash_of(&root)?,
        frontier: frontier_of(&frontier)?,
        note,
    })
}

/// The number the next leaf gets, inside a transaction.
fn next_leaf(tx: &Transaction<'_>) -> rusqlite::Result<u64> {
    // Cached: preparing the statement would cost the writer more than running it, every batch.
    tx.prepare_cached(
        "SELECT COALESCE((SELECT MAX(leaf) + 1 FROM audit_leaves),
                         (SELECT first_leaf FROM audit_log_state WHERE id = 1), 0)",
    )?
    .query_row([], |r| r.get::<_, i64>(0))
    .map(|n| n as u64)
}

/// Give every event recorded before the log existed its leaf, in id order, inside `tx`.
pub(super) fn adopt(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let through: Option<i64> = tx
        .prepare_cached("SELECT adopt_through FROM audit_log_state WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(through) = through else {
        return Ok(0);
    };
    let mut leaf = next_leaf(tx)?;
    let first = leaf;
    {
        let mut read = tx.prepare(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events
             WHERE id <= ?1 AND id NOT IN (SELECT event_id FROM audit_leaves) ORDER BY id"
        ))?;
        let mut write = tx.prepare_cached(
            "INSERT INTO audit_leaves (leaf, event_id, hash) VALUES (?1, ?2, ?3)",
        )?;
        let rows = read.query_map([through], audit_row)?;
        for row in rows {
            let row = row?;
            write.execute(params![leaf as i64, row.id, event_leaf(&row).0.to_vec()])?;
            leaf += 1;
        }
    }
    tx.execute(
        "UPDATE audit_log_state SET adopt_through = NULL WHERE id = 1",
        [],
    )?;
    Ok(leaf - first)
}

/// The insert of leaves, built once.
static LEAVES: std::sync::LazyLock<BatchInsert> =
    std::sync::LazyLock::new(|| BatchInsert::new("audit_leaves", "leaf, event_id, hash", 3));

/// Append the leaves `hashes` of the events just inserted as `ids` (same order), inside `tx`;
/// returns the number of the first.
pub(super) fn append_leaves(
    tx: &Transaction<'_>,
    hashes: &[Hash],
    ids: &[i64],
) -> Result<u64, StoreError> {
    let first = next_leaf(tx)?;
    let bind = |stmt: &mut rusqlite::Statement<'_>, at: usize, i: usize| {
        stmt.raw_bind_parameter(at, (first + i as u64) as i64)?;
        stmt.raw_bind_parameter(at + 1, ids[i])?;
        stmt.raw_bind_parameter(at + 2, &hashes[i].0[..])
    };
    LEAVES.run(tx, hashes.len(), bind, |_| {})?;
    Ok(first)
}

impl LogStore for Store {
    fn log_state(&self) -> Result<LogState, StoreError> {
        let (first_leaf, frontier, adopt_through) = self.conn.query_row(
            "SELECT first_leaf, frontier, adopt_through FROM audit_log_state WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            },
        )?;
        Ok(LogState {
            first_leaf: first_leaf as u64,
            frontier: frontier_of(&frontier)?,
            adopt_through,
        })
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE((SELECT MAX(leaf) + 1 FROM audit_leaves),
                             (SELECT first_leaf FROM audit_log_state WHERE id = 1), 0)",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn leaves(&self, from: u64, to: u64) -> Result<Vec<LeafRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT leaf, event_id, hash FROM audit_leaves WHERE leaf >= ?1 AND leaf < ?2
             ORDER BY leaf",
        )?;
        let mut rows = stmt.query([from as i64, to as i64])?;
        let mut out = Vec::with_capacity(to.saturating_sub(from).min(65_536) as usize);
        while let Some(r) = rows.next()? {
            // The hash is read in place, not copied into a vector of its own per leaf.
            let hash = r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
            out.push(LeafRow {
                leaf: r.get::<_, i64>(0)? as u64,
                event_id: r.get(1)?,
                hash: hash_of(hash)?,
            });
        }
        Ok(out)
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT size, ts_us, root, frontier, note FROM audit_checkpoints
                 ORDER BY size DESC LIMIT 1",
                [],
                checkpoint_row,
            )
            .optional()?
            .map(to_checkpoint)
            .transpose()
    }

    fn checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT size, ts_us, root, frontier, note FROM audit_checkpoints ORDER BY size",
        )?;
        let rows = stmt.query_map([], checkpoint_row)?;
        rows.map(|r| to_checkpoint(r?)).collect()
    }

    fn add_checkpoint(&mut self, c: &CheckpointRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit_checkpoints (size, ts_us, root, frontier, note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                c.size as i64,
                c.ts_us,
                c.root.0.to_vec(),
                frontier_bytes(&c.frontier),
                c.note
            ],
        )?;
        Ok(())
    }

    fn adopt_pending(&mut self) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = adopt(&tx)?;
        tx.commit()?;
        Ok(n)
    }
}

/// The tree as of now, built from the newest checkpoint's frontier (or where the log starts) and
/// the stored leaves after it.
pub fn current_tree(store: &dyn LogStore) -> Result<Tree, StoreError> {
    let state = store.log_state()?;
    let mut tree = match store.latest_checkpoint()? {
        Some(c) if c.size >= state.first_leaf => Tree::resume(c.size, &c.frontier, &c.root)
            .map_err(|e| StoreError::Log(e.to_string()))?,
        _ => Tree::from_frontier(state.first_leaf, &state.frontier)
            .map_err(|e| StoreError::Log(e.to_string()))?,
    };
    catch_up(store, &mut tree, store.tree_size()?)?;
    Ok(tree)
}

/// Append to `tree` the stored leaves from its size up to `size` (leaves other writers added).
pub fn catch_up(store: &dyn LogStore, tree: &mut Tree, size: u64) -> Result<(), StoreError> {
    const CHUNK: u64 = 65_536;
    let mut at = tree.size();
    while at < size {
        let to = (at + CHUNK).min(size);
        let leaves = store.leaves(at, to)?;
        for l in &leaves {
            if l.leaf != tree.size() {
                return Err(StoreError::Log(format!(
                    "leaf {} is missing from the store",
                    tree.size()
                )));
            }
            tree.append(l.hash)
                .map_err(|e| StoreError::Log(e.to_string()))?;
        }
        if leaves.len() as u64 != to - at {
            return Err(StoreError::Log(format!(
                "leaf {} is missing from the store",
                tree.size()
            )));
        }
        at = to;
    }
    Ok(())
}

/// Sign and store a checkpoint of the tree as it is now, unless the newest checkpoint already
/// covers every leaf. The checkpoint's origin is the key's name, and it carries the time as the
/// extension line `time <RFC 3339>`.
pub fn sign_checkpoint(
    store: &mut dyn LogStore,
    signer: &Signer,
    ts_us: i64,
) -> Result<Option<CheckpointRow>, StoreError> {
    let mut tree = current_tree(store)?;
    sign_tree(store, signer, &mut tree, ts_us)
}

/// Sign and store a checkpoint of `tree` (which must be the stored tree up to its size), unless
/// the newest checkpoint already covers it. A newest checkpoint at or beyond the tree's size must
/// have the tree's root at its size (`tree` is brought up to it from the store): one that does not
/// is an error, never taken as "already signed".
pub fn sign_tree(
    store: &mut dyn LogStore,
    signer: &Signer,
    tree: &mut Tree,
    ts_us: i64,
) -> Result<Option<CheckpointRow>, StoreError> {
    if let Some(latest) = store.latest_checkpoint()? {
        if latest.size >= tree.size() {
            // Another writer signed beyond what this one has seen: take in the leaves it covers.
            catch_up(store, tree, latest.size)?;
            if tree.size() != latest.size || tree.root() != latest.root {
                return Err(StoreError::Log(format!(
                    "the newest checkpoint (size {}, root {}) is not the stored tree's (size {}, \
                     root {})",
                    latest.size,
                    latest.root,
                    tree.size(),
                    tree.root()
                )));
            }
            return Ok(None);
        }
    }
    let time = jiff::Timestamp::from_microsecond(ts_us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .map_err(|e| StoreError::Log(e.to_string()))?;
    let note = Checkpoint::new(signer.name(), tree.size(), tree.root())
        .and_then(|c| c.with_extension(&format!("time {time}")))
        .and_then(|c| c.sign(signer))
        .map_err(|e| StoreError::Log(e.to_string()))?;
    let row = CheckpointRow {
        size: tree.size(),
        ts_us,
        root: tree.root(),
        frontier: tree.frontier().to_vec(),
        note: note.to_string(),
    };
    store.add_checkpoint(&row)?;
    Ok(Some(row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::ROWS_PER_INSERT;
    use crate::store::AuditStore;

    fn row(n: i64) -> AuditRow {
        AuditRow {
            ts_us: n,
            principal: Some("ada".into()),
            client: "127.0.0.1:1".into(),
            method: "GET".into(),
            destination: format!("host{n}.test:80"),
            decision: "allow".into(),
            rule: "tier-open".into(),
            status: 200,
            stage: "done".into(),
            ..AuditRow::default()
        }
    }

    #[test]
    fn every_event_gets_its_leaf_in_order_and_checkpoints_extend_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.append_audit(&[row(1), row(2)]).unwrap();
        store.append_audit(&[row(3)]).unwrap();
        assert_eq!(store.tree_size().unwrap(), 3);
        let leaves = store.leaves(0, 3).unwrap();
        let events = store.audit(&Default::default()).unwrap();
        for (leaf, event) in leaves.iter().zip(&events) {
            assert_eq!(leaf.event_id, event.id);
            assert_eq!(leaf.hash, event_leaf(event));
        }
        let signer = Signer::from_seed("test/audit", &[1; 32]).unwrap();
        let first = sign_checkpoint(&mut store, &signer, 1_000_000)
            .unwrap()
            .unwrap();
        assert_eq!(first.size, 3);
        assert!(sign_checkpoint(&mut store, &signer, 2_000_000)
            .unwrap()
            .is_none());
        store.append_audit(&[row(4)]).unwrap();
        let second = sign_checkpoint(&mut store, &signer, 3_000_000)
            .unwrap()
            .unwrap();
        let all: Vec<Hash> = store.leaves(0, 4).unwrap().iter().map(|l| l.hash).collect();
        assert_eq!(second.root, auditlog::root_of(&all));
        let opened = Checkpoint::open(&second.note, &signer.verifier()).unwrap();
        assert_eq!((opened.size(), *opened.root()), (4, second.root));
        assert_eq!(opened.extensions(), ["time 1970-01-01T00:00:03Z"]);
    }

    /// Batches larger than one multi-row insert, and not a multiple of it: every event keeps
    /// its own fields, id and leaf, in order.
    #[test]
    fn large_batches_are_inserted_whole_with_each_event_its_own_leaf() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let n = 2 * ROWS_PER_INSERT as i64 + 7;
        let batch: Vec<AuditRow> = (1..=n).map(row).collect();
        store.append_audit(&batch[..5]).unwrap();
        store.append_audit(&batch[5..]).unwrap();
        let events = store.audit(&Default::default()).unwrap();
        let leaves = store.leaves(0, n as u64).unwrap();
        assert_eq!((events.len(), leaves.len()), (n as usize, n as usize));
        for (i, ((leaf, event), written)) in leaves.iter().zip(&events).zip(&batch).enumerate() {
            assert_eq!(event.ts_us, written.ts_us);
            assert_eq!(event.destination, written.destination);
            assert_eq!((leaf.leaf, leaf.event_id), (i as u64, event.id));
            assert_eq!(leaf.hash, event_leaf(written));
        }
    }

    #[test]
    fn the_leaf_bytes_tell_absent_from_empty_and_do_not_depend_on_the_id() {
        let mut a = row(1);
        let mut b = a.clone();
        b.id = 99;
        assert_eq!(leaf_bytes(&a), leaf_bytes(&b));
        b.url = Some(String::new());
        assert_ne!(leaf_bytes(&a), leaf_bytes(&b));
        assert_eq!(event_leaf(&b), auditlog::leaf_hash(&leaf_bytes(&b)));
        a.grant_id = Some(7);
        assert_ne!(leaf_bytes(&a), leaf_bytes(&row(1)));
    }

    #[test]
    fn events_from_before_the_log_become_its_first_leaves_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        // As a store migrated from version 4 looks: events, no leaves, `adopt_through` set.
        for n in 1..=3 {
            store
                .conn
                .execute(
                    "INSERT INTO audit_events (ts_us, client, method, destination, decision, rule,
                        status, bytes_up, bytes_down, duration_us, stage)
                     VALUES (?1, 'c', 'GET', 'old.test:80', 'allow', 'r', 200, 0, 0, 0, 'done')",
                    [n],
                )
                .unwrap();
        }
        store
            .conn
            .execute("UPDATE audit_log_state SET adopt_through = 3", [])
            .unwrap();
        store.append_audit(&[row(4)]).unwrap();
        let leaves = store.leaves(0, 10).unwrap();
        let ids: Vec<i64> = leaves.iter().map(|l| l.event_id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(store.log_state().unwrap().adopt_through, None);
        assert_eq!(store.adopt_pending().unwrap(), 0);
    }
}
