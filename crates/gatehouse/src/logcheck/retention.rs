//! Retention that keeps the proof: `[audit] retention_days` (pruned in the background, at start
//! and then hourly) and `gatehouse audit prune --before DATE` (by hand).
//!
//! The log is pruned only up to a checkpoint: the prune point is the size `S` of the newest
//! checkpoint signed before the cut-off, so every event pruned is older than the cut-off. In one
//! transaction ([`LogReadStore::prune`]) the events of leaves below `S` and those leaves are
//! deleted, the log's start moves to `S` with that checkpoint's frontier, and the pruning is
//! recorded as the action event `audit.prune` (who, when, which leaves, how many events). What
//! stays verifies from `S` on, against the same checkpoints as before.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auditlog::{Checkpoint, Note, Tree};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::CheckError;
use super::report::format_time;
use crate::state::Gateway;
use crate::store::{AuditRow, LogReadStore, Store, StoreError};

/// How often the background prune runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The action name of the pruning event.
pub const PRUNE_ACTION: &str = "audit.prune";

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The log started at this leaf before.
    pub from: u64,
    /// The log starts at this leaf now (a checkpoint's size).
    pub to: u64,
    /// Events deleted.
    pub events: u64,
}

/// Prune the log up to the newest checkpoint signed before `cutoff_us`; `None` when there is
/// nothing to prune. `actor` and `via` go into the `audit.prune` event, stamped `now_us`.
pub fn prune_before(
    store: &mut dyn LogReadStore,
    cutoff_us: i64,
    now_us: i64,
    actor: &str,
    via: &str,
) -> Result<Option<Pruned>, CheckError> {
    let state = store.log_state()?;
    let Some(point) = store
        .checkpoints()?
        .into_iter()
        .filter(|c| c.ts_us < cutoff_us && c.size > state.first_leaf)
        .max_by_key(|c| c.size)
    else {
        return Ok(None);
    };
    // The new start must check out against the signed root, or `verify` would fail from it on.
    let log = |e: String| CheckError::Store(StoreError::Log(e));
    Tree::resume(point.size, &point.frontier, &point.root).map_err(|e| log(e.to_string()))?;
    let note = Note::parse(&point.note).map_err(|e| log(e.to_string()))?;
    let origin = Checkpoint::parse_body(note.text())
        .map_err(|e| log(e.to_string()))?
        .origin()
        .to_string();
    let date = format_time(cutoff_us);
    let from = state.first_leaf;
    let record = |events: u64| {
        AuditRow::action(
            now_us,
            actor,
            via,
            PRUNE_ACTION,
            &format!("log:{origin}"),
            Some(format!(
                "pruned leaves {from}..{} ({events} events older than {date})",
                point.size
            )),
        )
    };
    let events = store.prune(point.size, &point.frontier, &record)?;
    Ok(Some(Pruned {
        from,
        to: point.size,
        events,
    }))
}

/// Prune the store in `data_dir` of events older than `days` before `now_us`.
fn prune_days(
    data_dir: &std::path::Path,
    days: u32,
    now_us: i64,
) -> Result<Option<Pruned>, CheckError> {
    let mut store = Store::open_existing(data_dir)?;
    let cutoff = now_us.saturating_sub(i64::from(days) * 86_400_000_000);
    prune_before(&mut store, cutoff, now_us, "gatehouse", "gatehouse")
}

/// Start the background prune: at once, then every [`PRUNE_EVERY`], while `[audit]
/// retention_days` is set (read from the running configuration each time), until the drain.
pub fn spawn(
    gateway: Arc<Gateway>,
    data_dir: PathBuf,
    mut drain: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Some(days) = gateway.runtime.load().config.audit.retention_days {
                let now = gateway.clock.now().as_microsecond();
                let dir = data_dir.clone();
                match tokio::task::spawn_blocking(move || prune_days(&dir, days, now)).await {
                    Ok(Ok(Some(p))) => tracing::info!(
                        events = p.events,
                        "audit log pruned: leaves {}..{} (events older than {days} days); it now starts at leaf {}",
                        p.from,
                        p.to,
                        p.to
                    ),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::error!("cannot prune the audit log: {e}"),
                    Err(e) => tracing::error!("the audit log prune failed: {e}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
                _ = drain.wait_for(|d| *d) => return,
            }
        }
    })
}
