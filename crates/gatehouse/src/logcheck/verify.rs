//! `gatehouse audit verify` over the store: every checkpoint's signature checked with the log's
//! key, every event's leaf recomputed from its row and compared with the hash stored beside it,
//! and the tree rebuilt from those recomputed leaves compared with every signed root.
//!
//! One pass over the leaves in order, streamed from the store (constant memory apart from the
//! problems found). The walk starts from the stored frontier at the log's start, which must give
//! the root of a signed checkpoint of that size (where the log was pruned). After a root that
//! does not match, or a leaf number that is missing, the walk picks up again from the next
//! checkpoint whose stored frontier gives its signed root, so one change does not hide the next.
//!
//! Kinds of change (`docs/audit-log.md`, "Verifying"): `edited` (an event's recomputed leaf is not
//! the stored one; or both were changed and the leaves between two checkpoints no longer give the
//! signed root), `removed` (a leaf whose event is gone, a missing leaf number), `inserted` (an
//! event without a leaf that is not waiting to be adopted), `reordered` (an event's recomputed
//! leaf is another changed leaf's stored hash), `tail cut` (fewer leaves than a signed checkpoint
//! covers), `wrong key` (a checkpoint not signed by the key).

use auditlog::{Checkpoint, CheckpointError, Hash, NoteError, Tree, Verifier};

use super::report::{Finding, Kind, Report};
use crate::store::{CheckpointRow, LeafCheck, LogReadStore, StoreError};

/// At most this many changed leaves are kept to tell edits from reorderings; more are counted.
const MAX_MISMATCHES: usize = 10_000;

/// A checkpoint whose signature verified: its signed size and root, and the stored frontier.
struct Signed {
    size: u64,
    root: Hash,
    frontier: Vec<Hash>,
}

/// Verify the audit log in `store` with the log's public key.
pub fn verify_store(store: &dyn LogReadStore, verifier: &Verifier) -> Result<Report, StoreError> {
    store.begin_read()?;
    let report = verify_snapshot(store, verifier);
    store.end_read()?;
    report
}

fn verify_snapshot(store: &dyn LogReadStore, verifier: &Verifier) -> Result<Report, StoreError> {
    let state = store.log_state()?;
    let mut report = Report {
        first_leaf: state.first_leaf,
        origin: verifier.name().to_string(),
        ..Report::default()
    };
    let signed = open_checkpoints(&store.checkpoints()?, verifier, &mut report.findings);
    let mut walk = Walk::start(state.first_leaf, &state.frontier, &signed);
    store.walk_leaves(state.first_leaf, &mut |c| {
        walk.leaf(c);
        true
    })?;
    walk.finish(&mut report);
    // A checkpoint signed by another key names the first event it vouches for.
    for f in report.findings.iter_mut() {
        if let (Kind::WrongKey, Some(leaf), None) = (f.kind, f.leaf, f.event_id) {
            f.event_id = store.leaves(leaf, leaf + 1)?.first().map(|l| l.event_id);
        }
    }
    for id in store.events_without_leaf(20)? {
        report.findings.push(Finding::new(
            Kind::Inserted,
            None,
            Some(id),
            format!("event {id} has no leaf in the log: it was added to the store behind the gateway's back"),
        ));
    }
    report.sort();
    Ok(report)
}

/// Check every checkpoint's signature; the ones that verify, oldest first.
fn open_checkpoints(
    rows: &[CheckpointRow],
    verifier: &Verifier,
    findings: &mut Vec<Finding>,
) -> Vec<Signed> {
    let mut signed = Vec::with_capacity(rows.len());
    // The sizes of the checkpoints not signed by the key, each with the size before it (where
    // the events it vouches for start).
    let mut wrong_key = Vec::new();
    let mut previous = 0;
    for c in rows {
        let from = std::mem::replace(&mut previous, c.size);
        match Checkpoint::open(&c.note, verifier) {
            Ok(cp) => {
                if cp.size() != c.size || *cp.root() != c.root {
                    findings.push(Finding::new(
                        Kind::Edited,
                        Some(c.size.min(cp.size())),
                        None,
                        format!(
                            "the checkpoint stored for size {} does not match its signed note \
                             (size {}): the checkpoints table was changed",
                            c.size,
                            cp.size()
                        ),
                    ));
                }
                signed.push(Signed {
                    size: cp.size(),
                    root: *cp.root(),
                    frontier: c.frontier.clone(),
                });
            }
            Err(CheckpointError::Note(NoteError::NotSignedBy { .. })) => {
                wrong_key.push((c.size, from))
            }
            Err(e) => findings.push(Finding::new(
                Kind::Edited,
                Some(c.size),
                None,
                format!("the checkpoint of size {} does not verify: {e}", c.size),
            )),
        }
    }
    if let Some((first, from)) = wrong_key.first() {
        findings.push(Finding::new(
            Kind::WrongKey,
            Some(*from),
            None,
            format!(
                "{} of {} checkpoints (the first of size {first}) are not signed by the key \
                 `{}`: the log's key was replaced, or the key given is another log's",
                wrong_key.len(),
                rows.len(),
                verifier.name()
            ),
        ));
    }
    signed.sort_by_key(|s| s.size);
    signed
}

/// A leaf whose event no longer gives its stored hash.
struct Mismatch {
    leaf: u64,
    event_id: i64,
    recomputed: Hash,
    stored: Hash,
}

/// The state of one pass over the leaves.
struct Walk<'a> {
    /// The tree of recomputed leaves; `None` while it cannot be compared with signed roots
    /// (after a missing leaf number or a root that did not match, until the next checkpoint).
    tree: Option<Tree>,
    signed: &'a [Signed],
    /// The next checkpoint to compare.
    next: usize,
    /// The next leaf number expected.
    expected: u64,
    /// The first leaf after the last compared checkpoint, and its event.
    range_start: u64,
    range_event: Option<i64>,
    /// Whether a leaf since `range_start` was already reported.
    range_reported: bool,
    events: u64,
    checked: u64,
    last_event: Option<i64>,
    mismatches: Vec<Mismatch>,
    more_mismatches: u64,
    findings: Vec<Finding>,
}

impl<'a> Walk<'a> {
    fn start(first_leaf: u64, frontier: &[Hash], signed: &'a [Signed]) -> Walk<'a> {
        let mut findings = Vec::new();
        let tree = match Tree::from_frontier(first_leaf, frontier) {
            Err(e) => {
                findings.push(start_finding(first_leaf, &e.to_string()));
                None
            }
            Ok(tree) if first_leaf == 0 => Some(tree),
            Ok(tree) => match signed.iter().find(|s| s.size == first_leaf) {
                Some(s) if s.root == tree.root() => Some(tree),
                Some(_) => {
                    findings.push(start_finding(
                        first_leaf,
                        "the stored frontier does not give the root signed at that size",
                    ));
                    None
                }
                None => {
                    findings.push(start_finding(
                        first_leaf,
                        "no checkpoint of that size signed by the key is in the store",
                    ));
                    None
                }
            },
        };
        Walk {
            tree,
            signed,
            next: signed.partition_point(|s| s.size <= first_leaf),
            expected: first_leaf,
            range_start: first_leaf,
            range_event: None,
            range_reported: false,
            events: 0,
            checked: 0,
            last_event: None,
            mismatches: Vec::new(),
            more_mismatches: 0,
            findings,
        }
    }

    fn leaf(&mut self, c: &LeafCheck) {
        if c.leaf != self.expected {
            self.findings.push(Finding::new(
                Kind::Removed,
                Some(self.expected),
                self.last_event,
                format!(
                    "leaves {}..{} and their events are gone (after event {}, before event {})",
                    self.expected,
                    c.leaf,
                    self.last_event.map_or("-".into(), |e| e.to_string()),
                    c.event_id
                ),
            ));
            self.tree = None;
            self.range_reported = true;
            self.expected = c.leaf;
        }
        let hash = match c.recomputed {
            None => {
                self.findings.push(Finding::new(
                    Kind::Removed,
                    Some(c.leaf),
                    Some(c.event_id),
                    format!(
                        "event {} (leaf {}) was deleted; its leaf is still in the log",
                        c.event_id, c.leaf
                    ),
                ));
                self.range_reported = true;
                c.stored
            }
            Some(h) if h != c.stored => {
                self.mismatch(c, h);
                h
            }
            Some(h) => h,
        };
        if self.expected == self.range_start {
            self.range_event = Some(c.event_id);
        }
        self.expected += 1;
        self.events += 1;
        self.last_event = Some(c.event_id);
        if let Some(tree) = &mut self.tree {
            let _ = tree.append(hash);
        }
        self.check_roots();
    }

    fn mismatch(&mut self, c: &LeafCheck, recomputed: Hash) {
        self.range_reported = true;
        if self.mismatches.len() < MAX_MISMATCHES {
            self.mismatches.push(Mismatch {
                leaf: c.leaf,
                event_id: c.event_id,
                recomputed,
                stored: c.stored,
            });
        } else {
            self.more_mismatches += 1;
        }
    }

    /// Compare the tree with every checkpoint of its size; pick up again from a checkpoint after
    /// a mismatch or a gap.
    fn check_roots(&mut self) {
        while let Some(s) = self.signed.get(self.next) {
            if s.size > self.expected {
                return;
            }
            self.next += 1;
            if s.size < self.expected {
                continue;
            }
            match &self.tree {
                Some(tree) => {
                    self.checked += 1;
                    if tree.root() != s.root && !self.range_reported {
                        self.findings.push(Finding::new(
                            Kind::Edited,
                            Some(self.range_start),
                            self.range_event,
                            format!(
                                "the events of leaves {}..{} (from event {}) do not give the root \
                                 signed at size {}: events and their stored leaf hashes were \
                                 both changed",
                                self.range_start,
                                s.size,
                                self.range_event.map_or("-".into(), |e| e.to_string()),
                                s.size
                            ),
                        ));
                    }
                    if tree.root() != s.root {
                        self.tree = Tree::resume(s.size, &s.frontier, &s.root).ok();
                    }
                }
                None => self.tree = Tree::resume(s.size, &s.frontier, &s.root).ok(),
            }
            self.range_start = s.size;
            self.range_event = None;
            self.range_reported = false;
        }
    }

    fn finish(mut self, report: &mut Report) {
        for m in &self.mismatches {
            let moved = self
                .mismatches
                .iter()
                .find(|n| n.leaf != m.leaf && n.stored == m.recomputed);
            self.findings.push(match moved {
                Some(n) => Finding::new(
                    Kind::Reordered,
                    Some(m.leaf),
                    Some(m.event_id),
                    format!(
                        "event {} (leaf {}) holds what was recorded at leaf {} (now event {}): \
                         events were swapped or moved",
                        m.event_id, m.leaf, n.leaf, n.event_id
                    ),
                ),
                None => Finding::new(
                    Kind::Edited,
                    Some(m.leaf),
                    Some(m.event_id),
                    format!(
                        "event {} (leaf {}) was changed after it was recorded: its fields no \
                         longer give the leaf hash stored with it",
                        m.event_id, m.leaf
                    ),
                ),
            });
        }
        if self.more_mismatches > 0 {
            self.findings.push(Finding::new(
                Kind::Edited,
                None,
                None,
                format!("{} more events were changed", self.more_mismatches),
            ));
        }
        let newest = self.signed.last().map_or(0, |s| s.size);
        if newest > self.expected {
            self.findings.push(Finding::new(
                Kind::TailCut,
                Some(self.expected),
                self.last_event,
                format!(
                    "the log ends at leaf {} (event {}), but a checkpoint was signed for {newest} \
                     leaves: the events of leaves {}..{newest} were removed",
                    self.expected.saturating_sub(1),
                    self.last_event.map_or("-".into(), |e| e.to_string()),
                    self.expected
                ),
            ));
        }
        report.events = self.events;
        report.checkpoints = self.checked;
        report.size = self.expected;
        report.unsigned = self.expected.saturating_sub(newest);
        report.findings.append(&mut self.findings);
    }
}

fn start_finding(first_leaf: u64, why: &str) -> Finding {
    Finding::new(
        Kind::Edited,
        Some(first_leaf),
        None,
        format!(
            "the log's start (leaf {first_leaf}, where it was pruned) does not check out: {why}"
        ),
    )
}
