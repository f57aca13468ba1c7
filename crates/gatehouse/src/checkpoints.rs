//! The gateway's side of the verifiable audit log: the start-up check and repair of the log's
//! tail ([`start_up`]), when the audit writer signs checkpoints ([`Checkpointer`]), and what
//! `/metrics` and `/readyz` report about it ([`LogHealth`]).
//!
//! Guarantees:
//! - at start, before any new event is written: events from before the log are adopted; the newest
//!   checkpoint must be signed by the data directory's key, say the size and root stored with it,
//!   and its stored frontier must give that root; every leaf after it is recomputed from its event
//!   and compared with the stored hash (the part of the log a crash could touch); an event recorded
//!   after the last leaf's is named. When all of that holds, an unsigned tail is signed and the log
//!   says `signed N events left unsigned by an unclean stop`. Nothing is ever rewritten: a
//!   mismatch is logged as an error, counted in `gatehouse_audit_verify_failures_total` and makes
//!   `/readyz` unready, and the records stay as they are for `gatehouse audit verify`;
//! - checkpoints are signed by the audit writer thread, never on the request path: after a commit
//!   when `audit.checkpoint_interval` has passed since the last checkpoint (by the injected clock)
//!   or `audit.checkpoint_events` leaves are unsigned, when the writer wakes idle with an unsigned
//!   tail whose interval has passed, and at clean shutdown;
//! - a checkpoint that cannot be written is tried again after [`SIGN_RETRY`] (doubling up to
//!   [`SIGN_RETRY_MAX`]); meanwhile the unsigned tail ages, and `/readyz` turns unready once its
//!   oldest leaf is older than 3 intervals;
//! - after a failed start-up check the writer still records and signs new events: a checkpoint
//!   covers the stored leaf hashes, so it neither hides nor repairs what the check found.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use auditlog::{Checkpoint, Signer, Tree};
use parking_lot::Mutex;

use crate::clock::SharedClock;
use crate::config::AuditSettings;
use crate::metrics::Metrics;
use crate::store::{
    catch_up, current_tree, event_leaf, sign_checkpoint, sign_tree, AuditStore, LogStore,
    SessionStore, Store, StoreError, TailStore,
};

/// The store the audit writer works on: the audit table, the log's tables, and the reads of the
/// start-up check.
pub trait LogWriterStore: AuditStore + LogStore + TailStore {}

impl<T: AuditStore + LogStore + TailStore> LogWriterStore for T {}

/// How long the writer's connection waits for the store's write lock before a commit counts as
/// failed (and is retried): long enough for a CLI command's transaction, short enough that a
/// store held by someone else shows as failing within seconds.
pub const WRITER_LOCK_WAIT: Duration = Duration::from_secs(2);

/// How long after a failed checkpoint the writer tries again; doubled after each further failure,
/// up to [`SIGN_RETRY_MAX`].
pub const SIGN_RETRY: Duration = Duration::from_secs(1);
pub const SIGN_RETRY_MAX: Duration = Duration::from_secs(60);

/// The longest the idle writer sleeps while leaves are unsigned: the interval is measured on the
/// injected clock, which a test may move while the writer sleeps.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// The log's state as the writer last saw it, read by `/metrics` and `/readyz`.
#[derive(Debug, Default)]
struct Status {
    tree_size: u64,
    /// The newest checkpoint's time, or when the writer started before there is one (µs since
    /// the epoch).
    checkpoint_us: Option<i64>,
    /// When the oldest unsigned leaf was committed (µs since the epoch).
    oldest_unsigned_us: Option<i64>,
    store_failing: bool,
    /// Why the start-up check failed.
    startup_problem: Option<String>,
}

/// What the admin routes know of the log, shared with the writer thread.
pub struct LogHealth {
    interval: Duration,
    status: Mutex<Status>,
    metrics: Arc<Metrics>,
}

impl LogHealth {
    pub fn new(interval: Duration, metrics: Arc<Metrics>) -> LogHealth {
        LogHealth {
            interval,
            status: Mutex::new(Status::default()),
            metrics,
        }
    }

    /// Whether the audit store refuses commits now.
    pub fn set_store_failing(&self, failing: bool) {
        self.status.lock().store_failing = failing;
        self.metrics.audit_store_failing.set(i64::from(failing));
    }

    fn set_tree(&self, tree_size: u64, oldest_unsigned_us: Option<i64>) {
        let mut s = self.status.lock();
        s.tree_size = tree_size;
        s.oldest_unsigned_us = oldest_unsigned_us;
        self.metrics.audit_tree_size.set(tree_size as i64);
    }

    fn set_checkpoint(&self, ts_us: i64) {
        self.status.lock().checkpoint_us = Some(ts_us);
    }

    fn set_startup_problem(&self, problem: String) {
        self.status.lock().startup_problem = Some(problem);
        self.metrics.audit_verify_failures.inc();
    }

    /// Seconds since the newest checkpoint was signed (or since the gateway started, when the log
    /// has none yet), at `now_us`.
    pub fn checkpoint_age(&self, now_us: i64) -> f64 {
        self.status
            .lock()
            .checkpoint_us
            .map_or(0.0, |c| (now_us - c).max(0) as f64 / 1e6)
    }

    /// Why the gateway should not take traffic, as far as the log is concerned, at `now_us`.
    pub fn unready(&self, now_us: i64) -> Option<String> {
        let s = self.status.lock();
        if let Some(p) = &s.startup_problem {
            return Some(format!("the audit log failed its start-up check: {p}"));
        }
        if s.store_failing {
            return Some("the audit store does not accept events".to_string());
        }
        let limit = 3 * self.interval.as_micros() as i64;
        match s.oldest_unsigned_us {
            Some(t) if now_us - t > limit => Some(format!(
                "audit events have waited {}s for a checkpoint (more than 3 times \
                 `audit.checkpoint_interval`)",
                (now_us - t) / 1_000_000
            )),
            _ => None,
        }
    }
}

/// Decides when the writer signs a checkpoint, and signs it. Lives on the writer thread.
pub struct Checkpointer {
    signer: Signer,
    interval_us: i64,
    events: u64,
    clock: SharedClock,
    health: Arc<LogHealth>,
    metrics: Arc<Metrics>,
    tree_size: u64,
    signed_size: u64,
    /// The newest checkpoint's time, or when the writer started when there is none.
    last_us: i64,
    oldest_unsigned_us: Option<i64>,
    /// No checkpoint is tried before this (after one failed).
    retry_at: Option<Instant>,
    /// The pause after the next failure.
    retry_pause: Duration,
    /// The tree as this writer committed it, kept in memory so that a checkpoint costs no
    /// re-reading of the leaves: the writer's own leaves are appended as they are committed, and
    /// only leaves other writers added in between are read from the store. `None` after
    /// something did not add up; the next checkpoint then rebuilds it from the store.
    tree: Option<Tree>,
}

fn micros(clock: &SharedClock) -> i64 {
    clock.now().as_microsecond()
}

impl Checkpointer {
    /// Leaves were committed: `hashes`, numbered from `first` on. Leaves other writers added
    /// before them are read from `store` into the tree.
    pub fn committed(&mut self, store: &dyn LogStore, first: u64, hashes: &[auditlog::Hash]) {
        if hashes.is_empty() {
            return;
        }
        self.tree = self.tree.take().and_then(|mut tree| {
            if tree.size() > first {
                tracing::warn!(
                    tree = tree.size(),
                    first,
                    "the audit log's leaves were numbered below the writer's tree; rebuilding it"
                );
                return None;
            }
            if let Err(e) = catch_up(store, &mut tree, first) {
                tracing::warn!(error = %e, "cannot read the leaves other writers added; rebuilding the tree");
                return None;
            }
            for h in hashes {
                tree.append(*h).ok()?;
            }
            Some(tree)
        });
        self.tree_size = self.tree_size.max(first + hashes.len() as u64);
        let now = micros(&self.clock);
        self.oldest_unsigned_us.get_or_insert(now);
        self.health
            .set_tree(self.tree_size, self.oldest_unsigned_us);
    }

    /// The tree with every stored leaf: the kept one brought up to the store's size, or one
    /// rebuilt from the newest checkpoint.
    fn tree_now(&mut self, store: &dyn LogStore) -> Result<Tree, StoreError> {
        match self.tree.take() {
            Some(mut tree) => {
                catch_up(store, &mut tree, store.tree_size()?)?;
                Ok(tree)
            }
            None => current_tree(store),
        }
    }

    fn unsigned(&self) -> u64 {
        self.tree_size.saturating_sub(self.signed_size)
    }

    fn backing_off(&self) -> bool {
        self.retry_at.is_some_and(|t| Instant::now() < t)
    }

    /// Whether a checkpoint is due now.
    pub fn due(&self) -> bool {
        let unsigned = self.unsigned();
        unsigned > 0
            && !self.backing_off()
            && (unsigned >= self.events || micros(&self.clock) - self.last_us >= self.interval_us)
    }

    /// How long the idle writer may wait for events before it must look again: `None` (as long
    /// as it takes) when every leaf is signed.
    pub fn idle_wait(&self) -> Option<Duration> {
        if self.unsigned() == 0 {
            return None;
        }
        let left_us = (self.last_us + self.interval_us - micros(&self.clock)).max(0) as u64;
        let mut wait = Duration::from_micros(left_us).min(IDLE_WAKE);
        if let Some(t) = self.retry_at {
            wait = wait.max(t.saturating_duration_since(Instant::now()));
        }
        Some(wait.max(Duration::from_millis(1)))
    }

    /// Sign a checkpoint of the tree as it is, if any leaf is unsigned. Failures are logged and
    /// tried again after a pause ([`SIGN_RETRY`], doubling).
    pub fn sign(&mut self, store: &mut dyn LogStore) {
        if self.unsigned() == 0 {
            return;
        }
        let now = micros(&self.clock);
        let signed = self.tree_now(store).and_then(|mut tree| {
            let row = sign_tree(store, &self.signer, &mut tree, now);
            self.tree = Some(tree);
            row
        });
        match signed {
            Ok(row) => {
                // `None`: a checkpoint already covers the tree (another process signed it).
                let size = row.as_ref().map_or(self.tree_size, |r| r.size);
                if let Some(row) = row {
                    self.metrics.audit_checkpoints.inc();
                    tracing::debug!(size = row.size, root = %row.root, "signed an audit log checkpoint");
                }
                self.tree_size = self.tree_size.max(size);
                self.signed_size = size;
                self.last_us = now;
                self.oldest_unsigned_us = None;
                self.retry_at = None;
                self.retry_pause = SIGN_RETRY;
                self.health.set_checkpoint(now);
                self.health.set_tree(self.tree_size, None);
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + self.retry_pause);
                self.retry_pause = (self.retry_pause * 2).min(SIGN_RETRY_MAX);
                tracing::error!(error = %e, unsigned = self.unsigned(), "cannot sign an audit log checkpoint");
            }
        }
    }
}

/// What the start-up check found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StartUp {
    /// Events from before the log that became its first leaves now.
    pub adopted: u64,
    /// Leaves that were unsigned and are covered by the checkpoint signed now.
    pub signed: u64,
    /// The first thing that does not check out; nothing was signed then.
    pub problem: Option<String>,
}

/// The start-up check and repair of the log in `store` (see the module's guarantees). An error is
/// a store that could not be read.
pub fn start_up(
    store: &mut dyn LogWriterStore,
    signer: &Signer,
    now_us: i64,
) -> Result<StartUp, StoreError> {
    let adopted = store.adopt_pending()?;
    let failed = |problem| {
        Ok(StartUp {
            adopted,
            signed: 0,
            problem: Some(problem),
        })
    };
    let mut tree = match checked_base(&*store, signer)? {
        Ok(tree) => tree,
        Err(problem) => return failed(problem),
    };
    let base = tree.size();
    if let Err(problem) = recompute_tail(&*store, &mut tree)? {
        return failed(problem);
    }
    // An empty tail (an empty log included) needs no checkpoint.
    let signed = match tree.size() > base {
        true => sign_checkpoint(store, signer, now_us)?.map_or(0, |row| row.size - base),
        false => 0,
    };
    Ok(StartUp {
        adopted,
        signed,
        problem: None,
    })
}

/// The tree at the newest checkpoint (or where the log starts, when there is none), once the
/// checkpoint's signature, row and stored frontier agree; `Err(problem)` when they do not.
fn checked_base(
    store: &dyn LogWriterStore,
    signer: &Signer,
) -> Result<Result<Tree, String>, StoreError> {
    let state = store.log_state()?;
    let Some(c) = store
        .latest_checkpoint()?
        .filter(|c| c.size >= state.first_leaf)
    else {
        return Ok(Tree::from_frontier(state.first_leaf, &state.frontier)
            .map_err(|e| format!("the stored frontier where the log starts is unusable: {e}")));
    };
    let opened = match Checkpoint::open(&c.note, &signer.verifier()) {
        Ok(opened) => opened,
        Err(e) => {
            return Ok(Err(format!(
                "wrong key: the newest checkpoint (size {}) does not verify with this data \
                 directory's key `{}`: {e}",
                c.size,
                signer.name()
            )))
        }
    };
    if opened.size() != c.size || *opened.root() != c.root {
        return Ok(Err(format!(
            "edited: the newest checkpoint's row (size {}, root {}) differs from its signed note \
             (size {}, root {})",
            c.size,
            c.root,
            opened.size(),
            opened.root()
        )));
    }
    Ok(Tree::resume(c.size, &c.frontier, &c.root).map_err(|e| {
        format!(
            "edited: the newest checkpoint's stored frontier does not give its signed root: {e}"
        )
    }))
}

/// Append to `tree` every leaf after it, each recomputed from its event and compared with the
/// stored hash; `Err(problem)` at the first that does not check out.
fn recompute_tail(
    store: &dyn LogWriterStore,
    tree: &mut Tree,
) -> Result<Result<(), String>, StoreError> {
    const CHUNK: u64 = 16_384;
    let size = store.tree_size()?;
    if size < tree.size() {
        return Ok(Err(format!(
            "tail cut: the newest checkpoint covers {} leaves but the store holds {size}",
            tree.size()
        )));
    }
    let mut last_event = None;
    while tree.size() < size {
        let (from, to) = (tree.size(), (tree.size() + CHUNK).min(size));
        let leaves = store.leaves(from, to)?;
        let events = store.leaf_events(from, to)?;
        for l in &leaves {
            if l.leaf != tree.size() {
                return Ok(Err(format!("removed: leaf {} is missing", tree.size())));
            }
            let Some(event) = events.get(&l.event_id) else {
                return Ok(Err(format!(
                    "removed: event {} (leaf {}) is gone",
                    l.event_id, l.leaf
                )));
            };
            if event_leaf(event) != l.hash {
                return Ok(Err(format!(
                    "edited: event {} (leaf {}) does not match its leaf",
                    l.event_id, l.leaf
                )));
            }
            tree.append(l.hash)
                .map_err(|e| StoreError::Log(e.to_string()))?;
            last_event = Some(l.event_id);
        }
        if leaves.len() as u64 != to - from {
            return Ok(Err(format!("removed: leaf {} is missing", tree.size())));
        }
    }
    let after = match last_event {
        Some(id) => id,
        None => match store.leaves(size.saturating_sub(1), size)?.first() {
            Some(l) => l.event_id,
            None => 0,
        },
    };
    Ok(match store.first_event_after(after)? {
        Some(id) => Err(format!("inserted: event {id} has no leaf")),
        None => Ok(()),
    })
}

/// Open the audit writer's store on `data_dir`, load (or create) the log's key, run the start-up
/// check and repair, and make the writer's [`Checkpointer`] and the shared [`LogHealth`]. Blocking:
/// run it off the async runtime.
pub fn open(
    data_dir: &Path,
    settings: &AuditSettings,
    metrics: Arc<Metrics>,
    clock: SharedClock,
) -> anyhow::Result<(Box<dyn LogWriterStore>, Checkpointer, Arc<LogHealth>)> {
    // The store first: it creates the data directory (owner-only) the key is written into.
    let mut store = Store::open(data_dir)?;
    let signer = crate::logkey::load_or_create(data_dir)?;
    store.set_lock_wait(WRITER_LOCK_WAIT)?;
    let health = Arc::new(LogHealth::new(
        settings.checkpoint_interval,
        metrics.clone(),
    ));
    let now = micros(&clock);
    let report = start_up(&mut store, &signer, now).unwrap_or_else(|e| StartUp {
        problem: Some(format!("the store cannot be read: {e}")),
        ..StartUp::default()
    });
    report_start_up(&report, &health);
    if report.signed > 0 {
        metrics.audit_checkpoints.inc();
    }
    let tree_size = store
        .tree_size()
        .context("cannot read the audit log's size")?;
    let latest = store
        .latest_checkpoint()
        .context("cannot read the audit log's newest checkpoint")?;
    health.set_checkpoint(latest.as_ref().map_or(now, |c| c.ts_us));
    let signed_size = latest.as_ref().map_or(0, |c| c.size);
    let unsigned_since = (tree_size > signed_size).then_some(now);
    health.set_tree(tree_size, unsigned_since);
    let checkpointer = Checkpointer {
        interval_us: settings.checkpoint_interval.as_micros() as i64,
        events: settings.checkpoint_events,
        last_us: latest.map_or(now, |c| c.ts_us),
        signer,
        clock,
        health: health.clone(),
        metrics,
        tree_size,
        signed_size,
        oldest_unsigned_us: unsigned_since,
        retry_at: None,
        retry_pause: SIGN_RETRY,
        tree: current_tree(&store).ok(),
    };
    Ok((Box::new(store), checkpointer, health))
}

/// Say what the start-up check found: in the log, and in `/metrics` and `/readyz`.
fn report_start_up(report: &StartUp, health: &LogHealth) {
    if report.adopted > 0 {
        tracing::info!(
            "adopted {} events recorded before the audit log existed as its first leaves",
            report.adopted
        );
    }
    let tail = report.signed.saturating_sub(report.adopted);
    if tail > 0 {
        tracing::warn!("signed {tail} events left unsigned by an unclean stop");
    }
    if let Some(problem) = &report.problem {
        tracing::error!(
            "the audit log does not check out ({problem}); nothing was signed or changed: run \
             `gatehouse audit verify` for the full picture"
        );
        health.set_startup_problem(problem.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditRow;

    fn row(n: i64) -> AuditRow {
        AuditRow {
            ts_us: n,
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

    /// Change the store behind the writer's back, as someone with the file could.
    fn sql(dir: &tempfile::TempDir, statement: &str) {
        let conn = rusqlite::Connection::open(dir.path().join(crate::store::STORE_FILE)).unwrap();
        conn.execute(statement, []).unwrap();
    }

    fn setup() -> (tempfile::TempDir, Store, Signer) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let signer = Signer::from_seed("test/audit", &[7; 32]).unwrap();
        (dir, store, signer)
    }

    #[test]
    fn an_unsigned_tail_is_checked_and_signed_once() {
        let (_dir, mut store, signer) = setup();
        store.append_audit(&[row(1), row(2)]).unwrap();
        sign_checkpoint(&mut store, &signer, 1).unwrap();
        store.append_audit(&[row(3), row(4), row(5)]).unwrap();
        let report = start_up(&mut store, &signer, 2).unwrap();
        assert_eq!(
            report,
            StartUp {
                adopted: 0,
                signed: 3,
                problem: None
            }
        );
        assert_eq!(store.latest_checkpoint().unwrap().unwrap().size, 5);
        assert_eq!(
            start_up(&mut store, &signer, 3).unwrap(),
            StartUp::default()
        );
    }

    #[test]
    fn events_from_before_the_log_are_adopted_and_signed_at_start() {
        let (dir, mut store, signer) = setup();
        for n in 1..=3 {
            sql(
                &dir,
                &format!(
                    "INSERT INTO audit_events (ts_us, client, method, destination, decision, rule,
                        status, bytes_up, bytes_down, duration_us, stage)
                     VALUES ({n}, 'c', 'GET', 'old.test:80', 'allow', 'r', 200, 0, 0, 0, 'done')"
                ),
            );
        }
        sql(&dir, "UPDATE audit_log_state SET adopt_through = 3");
        let report = start_up(&mut store, &signer, 1).unwrap();
        assert_eq!(
            report,
            StartUp {
                adopted: 3,
                signed: 3,
                problem: None
            }
        );
        let latest = store.latest_checkpoint().unwrap().unwrap();
        let leaves: Vec<_> = store
            .audit(&Default::default())
            .unwrap()
            .iter()
            .map(event_leaf)
            .collect();
        assert_eq!((latest.size, latest.root), (3, auditlog::root_of(&leaves)));
    }

    #[test]
    fn a_tail_that_does_not_match_its_events_is_named_and_left_alone() {
        let (dir, mut store, signer) = setup();
        store.append_audit(&[row(1)]).unwrap();
        sign_checkpoint(&mut store, &signer, 1).unwrap();
        store.append_audit(&[row(2), row(3)]).unwrap();
        sql(&dir, "UPDATE audit_events SET status = 404 WHERE id = 3");
        let report = start_up(&mut store, &signer, 2).unwrap();
        assert_eq!(report.signed, 0);
        let problem = report.problem.unwrap();
        assert!(problem.starts_with("edited: event 3 (leaf 2)"), "{problem}");
        assert_eq!(store.latest_checkpoint().unwrap().unwrap().size, 1);
        // An event written behind the writer's back (no leaf) is named too.
        sql(&dir, "UPDATE audit_events SET status = 200 WHERE id = 3");
        sql(
            &dir,
            "INSERT INTO audit_events (ts_us, client, method, destination, decision, rule,
                status, bytes_up, bytes_down, duration_us, stage)
             VALUES (9, 'c', 'GET', 'x.test:80', 'allow', 'r', 200, 0, 0, 0, 'done')",
        );
        let problem = start_up(&mut store, &signer, 3).unwrap().problem.unwrap();
        assert_eq!(problem, "inserted: event 4 has no leaf");
    }

    #[test]
    fn a_checkpoint_by_another_key_or_a_cut_tail_fails_the_check() {
        let (_dir, mut store, signer) = setup();
        store.append_audit(&[row(1), row(2)]).unwrap();
        let other = Signer::from_seed("test/other", &[8; 32]).unwrap();
        sign_checkpoint(&mut store, &other, 1).unwrap();
        let problem = start_up(&mut store, &signer, 2).unwrap().problem.unwrap();
        assert!(problem.starts_with("wrong key:"), "{problem}");
        let (dir, mut store, signer) = setup();
        store.append_audit(&[row(1), row(2)]).unwrap();
        sign_checkpoint(&mut store, &signer, 1).unwrap();
        sql(&dir, "DELETE FROM audit_leaves WHERE leaf = 1");
        let problem = start_up(&mut store, &signer, 2).unwrap().problem.unwrap();
        assert!(problem.starts_with("tail cut:"), "{problem}");
    }

    /// The writer's kept tree: its own leaves appended as committed, leaves another writer (a
    /// second gateway, the CLI) put in between read from the store, and every checkpoint it signs
    /// the root of the whole stored tree.
    #[test]
    fn the_kept_tree_takes_in_other_writers_leaves_and_signs_the_stored_root() {
        let dir = tempfile::tempdir().unwrap();
        let settings = AuditSettings {
            retention_days: None,
            queue_size: 16,
            on_backlog: crate::config::OnBacklog::Refuse,
            backlog_wait: Duration::from_millis(10),
            squid_log: None,
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_events: 10_000,
        };
        let metrics = Arc::new(Metrics::new());
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let (mut mine, mut log, _health) = open(dir.path(), &settings, metrics, clock).unwrap();
        let mut other = Store::open(dir.path()).unwrap();
        let commit = |log: &mut Checkpointer, store: &mut Box<dyn LogWriterStore>, n: i64| {
            let rows = [row(n), row(n + 1)];
            let hashes: Vec<_> = rows.iter().map(event_leaf).collect();
            let first = store.append_hashed(&rows, &hashes).unwrap();
            log.committed(store.as_ref(), first, &hashes);
            first
        };
        assert_eq!(commit(&mut log, &mut mine, 1), 0);
        other.append_audit(&[row(10)]).unwrap();
        assert_eq!(commit(&mut log, &mut mine, 3), 3);
        other.append_audit(&[row(11), row(12)]).unwrap();
        log.sign(mine.as_mut());
        let stored: Vec<_> = other
            .audit(&Default::default())
            .unwrap()
            .iter()
            .map(event_leaf)
            .collect();
        let latest = other.latest_checkpoint().unwrap().unwrap();
        assert_eq!((latest.size, latest.root), (7, auditlog::root_of(&stored)));
        // The kept tree goes on from there: the next checkpoint extends this one.
        commit(&mut log, &mut mine, 20);
        log.sign(mine.as_mut());
        let next = other.latest_checkpoint().unwrap().unwrap();
        let mut all = stored;
        all.extend([row(20), row(21)].iter().map(event_leaf));
        assert_eq!((next.size, next.root), (9, auditlog::root_of(&all)));
        assert_eq!(
            start_up(&mut other, &log.signer, 1).unwrap(),
            StartUp::default()
        );
    }

    #[test]
    fn readiness_names_a_failed_check_a_failing_store_and_a_stale_tail() {
        let metrics = Arc::new(Metrics::new());
        let health = LogHealth::new(Duration::from_secs(10), metrics);
        assert_eq!(health.unready(100_000_000), None);
        health.set_tree(5, Some(100_000_000));
        assert_eq!(health.unready(130_000_000), None);
        let stale = health.unready(130_000_001).unwrap();
        assert!(stale.contains("waited 30s for a checkpoint"), "{stale}");
        health.set_store_failing(true);
        assert_eq!(
            health.unready(0).as_deref(),
            Some("the audit store does not accept events")
        );
        health.set_startup_problem("tail cut: x".into());
        assert!(health
            .unready(0)
            .unwrap()
            .contains("start-up check: tail cut"));
        assert_eq!(health.checkpoint_age(5), 0.0);
        health.set_checkpoint(1_000_000);
        assert_eq!(health.checkpoint_age(3_500_000), 2.5);
    }
}
