//! Proofs a person can check without the store (`gatehouse audit prove`): one event's inclusion
//! in the log under a signed checkpoint, and the consistency of two checkpoints (the log only
//! grew between them); and their offline check (`gatehouse audit verify --proof`).
//!
//! Formats (`docs/audit-log.md`, "Proofs"), hashes in standard base64:
//! - inclusion: `{"event": {…}, "leaf": n, "leaf_hash": …, "checkpoint": note, "inclusion": […]}`;
//! - consistency: `{"old": note, "new": note, "consistency": […]}`.
//!
//! Proofs are generated from the stored leaf hashes ([`StoreLeaves`]): each hash of a proof is a
//! subtree root read in one streamed query, so a proof costs O(n) hashing and O(log n) queries.
//! Leaves below where the log was pruned are gone; a subtree that reaches below that point is made
//! from the stored frontier there when it can be (always, for a leaf after the pruning point).

use auditlog::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, Checkpoint, Hash,
    Leaves, Tree, Verifier,
};
use serde_json::{json, Value};

use super::error::CheckError;
use super::event::{event_from_json, event_json};
use crate::store::{event_leaf, CheckpointRow, LogReadStore, StoreError};

/// The stored leaves as a proof source.
pub struct StoreLeaves<'a> {
    store: &'a dyn LogReadStore,
    /// The log's start, and the perfect subtrees below it: (start, end, root).
    first_leaf: u64,
    blocks: Vec<(u64, u64, Hash)>,
    size: u64,
}

impl<'a> StoreLeaves<'a> {
    pub fn new(store: &'a dyn LogReadStore) -> Result<StoreLeaves<'a>, StoreError> {
        let state = store.log_state()?;
        let mut blocks = Vec::new();
        let mut start = 0;
        for (bit, hash) in (0..64u32)
            .rev()
            .filter(|b| state.first_leaf >> b & 1 == 1)
            .zip(&state.frontier)
        {
            blocks.push((start, start + (1 << bit), *hash));
            start += 1 << bit;
        }
        Ok(StoreLeaves {
            store,
            first_leaf: state.first_leaf,
            blocks,
            size: store.tree_size()?,
        })
    }

    fn pruned(&self, start: u64, end: u64) -> StoreError {
        StoreError::Log(format!(
            "the proof needs leaves {start}..{end}, but the log was pruned to start at leaf {}",
            self.first_leaf
        ))
    }
}

impl Leaves for StoreLeaves<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn leaf(&self, index: u64) -> Result<Hash, StoreError> {
        self.subtree_root(index, index + 1)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, StoreError> {
        if let Some((_, _, h)) = self
            .blocks
            .iter()
            .find(|(s, e, _)| (*s, *e) == (start, end))
        {
            return Ok(*h);
        }
        let mut tree = if start >= self.first_leaf {
            Tree::new()
        } else {
            // The blocks of the pruned part from `start` on must cover it exactly; they then
            // are the frontier of the subtree's first `first_leaf − start` leaves.
            let nodes: Vec<Hash> = self
                .blocks
                .iter()
                .filter(|(s, _, _)| *s >= start)
                .map(|(_, _, h)| *h)
                .collect();
            let covered = self.blocks.iter().any(|(s, _, _)| *s == start);
            let within = self
                .blocks
                .iter()
                .all(|(s, e, _)| *s >= start || *e <= start);
            if !covered || !within || end < self.first_leaf {
                return Err(self.pruned(start, end));
            }
            Tree::from_frontier(self.first_leaf - start, &nodes)
                .map_err(|_| self.pruned(start, end))?
        };
        let from = start.max(self.first_leaf);
        self.store.walk_hashes(from, end, &mut |h| {
            let _ = tree.append(h);
        })?;
        Ok(tree.root())
    }
}

fn base64_list(proof: &[Hash]) -> Value {
    proof.iter().map(Hash::to_base64).collect::<Vec<_>>().into()
}

/// Run `f` on one snapshot of the store.
fn in_snapshot<T>(
    store: &dyn LogReadStore,
    f: impl FnOnce() -> Result<T, CheckError>,
) -> Result<T, CheckError> {
    store.begin_read()?;
    let result = f();
    store.end_read()?;
    result
}

/// The inclusion proof of event `event_id` under the newest checkpoint.
pub fn prove_event(store: &dyn LogReadStore, event_id: i64) -> Result<Value, CheckError> {
    in_snapshot(store, || event_proof(store, event_id))
}

fn event_proof(store: &dyn LogReadStore, event_id: i64) -> Result<Value, CheckError> {
    let unavailable = |m: String| CheckError::Unavailable(m);
    let event = store
        .event(event_id)?
        .ok_or_else(|| unavailable(format!("there is no event {event_id}")))?;
    let leaf = store.leaf_of_event(event_id)?.ok_or_else(|| {
        unavailable(format!("event {event_id} has no leaf in the log (it is not in the log yet, or was added behind its back)"))
    })?;
    let checkpoint = store
        .latest_checkpoint()?
        .filter(|c| c.size > leaf.leaf)
        .ok_or_else(|| {
            unavailable(format!(
                "no checkpoint covers event {event_id} (leaf {}) yet: the gateway signs one within \
                 `audit.checkpoint_interval`",
                leaf.leaf
            ))
        })?;
    let source = StoreLeaves::new(store)?;
    let proof = inclusion_proof(&source, leaf.leaf, checkpoint.size).map_err(proof_error)?;
    Ok(json!({
        "event": event_json(&event),
        "leaf": leaf.leaf,
        "leaf_hash": event_leaf(&event).to_base64(),
        "checkpoint": checkpoint.note,
        "inclusion": base64_list(&proof),
    }))
}

fn proof_error(e: auditlog::ProofError<StoreError>) -> CheckError {
    match e {
        auditlog::ProofError::Source(e) => CheckError::Store(e),
        other => CheckError::Unavailable(other.to_string()),
    }
}

/// The consistency proof between the checkpoints of sizes `old` and `new` (the newest when `None`).
pub fn prove_consistency(
    store: &dyn LogReadStore,
    old: u64,
    new: Option<u64>,
) -> Result<Value, CheckError> {
    in_snapshot(store, || consistency(store, old, new))
}

fn consistency(store: &dyn LogReadStore, old: u64, new: Option<u64>) -> Result<Value, CheckError> {
    let checkpoints = store.checkpoints()?;
    let find = |size: u64| -> Result<&CheckpointRow, CheckError> {
        checkpoints.iter().find(|c| c.size == size).ok_or_else(|| {
            CheckError::Unavailable(format!(
                "there is no checkpoint of size {size} (sizes: {})",
                sizes(&checkpoints)
            ))
        })
    };
    let old = find(old)?;
    let new = match new {
        Some(size) => find(size)?,
        None => checkpoints
            .last()
            .ok_or_else(|| CheckError::Unavailable("there is no checkpoint yet".into()))?,
    };
    let source = StoreLeaves::new(store)?;
    let proof = consistency_proof(&source, old.size, new.size).map_err(proof_error)?;
    Ok(json!({
        "old": old.note,
        "new": new.note,
        "consistency": base64_list(&proof),
    }))
}

fn sizes(checkpoints: &[CheckpointRow]) -> String {
    let all: Vec<String> = checkpoints.iter().map(|c| c.size.to_string()).collect();
    match all.len() {
        0 => "none".into(),
        n if n > 12 => format!("{} … {}", all[..6].join(", "), all[n - 6..].join(", ")),
        _ => all.join(", "),
    }
}

/// Check a proof (either kind) with the log's public key; what it shows, in one sentence.
pub fn verify_proof(text: &str, verifier: &Verifier) -> Result<String, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not a proof: {e}"))?;
    let hashes = |key: &str| -> Result<Vec<Hash>, String> {
        v[key]
            .as_array()
            .ok_or(format!("not a proof: no `{key}` list"))?
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(|s| Hash::from_base64(s).ok())
                    .ok_or(format!("a hash in `{key}` is not 32 bytes of base64"))
            })
            .collect()
    };
    let open = |key: &str| -> Result<Checkpoint, String> {
        let note = v[key]
            .as_str()
            .ok_or(format!("not a proof: no `{key}` note"))?;
        Checkpoint::open(note, verifier)
            .map_err(|e| format!("wrong key or changed checkpoint: {e}"))
    };
    if v.get("inclusion").is_some() {
        let checkpoint = open("checkpoint")?;
        let event = event_from_json(&v["event"])?;
        let leaf = v["leaf"].as_u64().ok_or("not a proof: no `leaf`")?;
        let hash = event_leaf(&event);
        if v["leaf_hash"].as_str() != Some(hash.to_base64().as_str()) {
            return Err(format!(
                "edited: event {} does not give the leaf hash the proof was made for",
                event.id
            ));
        }
        verify_inclusion(
            leaf,
            checkpoint.size(),
            &hash,
            &hashes("inclusion")?,
            checkpoint.root(),
        )
        .map_err(|e| format!("event {} is not proven to be in the log: {e}", event.id))?;
        return Ok(format!(
            "proof verified: event {} is leaf {leaf} of the log `{}` at size {}",
            event.id,
            checkpoint.origin(),
            checkpoint.size()
        ));
    }
    let (old, new) = (open("old")?, open("new")?);
    if old.origin() != new.origin() {
        return Err("the two checkpoints are of different logs".into());
    }
    verify_consistency(
        old.size(),
        new.size(),
        old.root(),
        new.root(),
        &hashes("consistency")?,
    )
    .map_err(|e| {
        format!(
            "the log at size {} does not extend its state at size {}: {e}",
            new.size(),
            old.size()
        )
    })?;
    Ok(format!(
        "proof verified: the log `{}` at size {} extends its state at size {} (it only grew)",
        old.origin(),
        new.size(),
        old.size()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{sign_checkpoint, AuditRow, AuditStore, LogStore, Store};

    fn row(n: i64) -> AuditRow {
        AuditRow::action(n, "ada", "cli", "test.event", &format!("n:{n}"), None)
    }

    /// After pruning at every possible checkpoint size, every proof that does not need a pruned
    /// leaf is the proof over all the leaves, as if nothing had been pruned.
    #[test]
    fn proofs_after_pruning_are_the_proofs_of_the_whole_tree() {
        let signer = auditlog::Signer::from_seed("test/audit", &[3; 32]).unwrap();
        for pruned_at in 1..=13u64 {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(dir.path()).unwrap();
            let rows: Vec<AuditRow> = (0..20).map(row).collect();
            store.append_audit(&rows[..pruned_at as usize]).unwrap();
            let point = sign_checkpoint(&mut store, &signer, 1).unwrap().unwrap();
            store.append_audit(&rows[pruned_at as usize..]).unwrap();
            let before: Vec<Hash> = store
                .leaves(0, 20)
                .unwrap()
                .iter()
                .map(|l| l.hash)
                .collect();
            store
                .prune(point.size, &point.frontier, &|_| row(99))
                .unwrap();
            let mut all = before.clone();
            all.extend(store.leaves(20, 21).unwrap().iter().map(|l| l.hash));
            let source = StoreLeaves::new(&store).unwrap();
            for size in pruned_at + 1..=21 {
                for leaf in pruned_at..size {
                    assert_eq!(
                        inclusion_proof(&source, leaf, size).unwrap(),
                        inclusion_proof(&all, leaf, size).unwrap(),
                        "pruned at {pruned_at}, leaf {leaf} of {size}"
                    );
                }
                assert_eq!(
                    consistency_proof(&source, pruned_at, size).unwrap(),
                    consistency_proof(&all, pruned_at, size).unwrap(),
                    "pruned at {pruned_at}, from {pruned_at} to {size}"
                );
            }
            // A pruned leaf cannot be proven (unless the frontier kept happens to be that leaf).
            assert_eq!(inclusion_proof(&source, 0, 21).is_err(), pruned_at > 1);
        }
    }
}
