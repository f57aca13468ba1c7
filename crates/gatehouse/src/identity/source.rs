//! Where the principals snapshot comes from: the store, read in one function ([`load_if_changed`]),
//! and a reload that the poller and authentication share ([`PrincipalSource::refresh`]).
//!
//! Guarantees: readers of the snapshot never lock (it is swapped whole); a refresh reads the store's
//! change counter and reads the principals only when it moved; at most one store check runs at a
//! time, and callers that arrive while one runs share the next one instead of each reading the
//! store (single flight), so a burst of unknown credentials costs at most two store checks, not
//! one each. Store access is off the async workers (`spawn_blocking`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};

use super::error::IdentityError;
use super::principal::Principals;
use crate::metrics::Metrics;
use crate::store::{PrincipalStore, SharedPrincipalStore};

/// The principals snapshot and the store it is loaded from.
pub struct PrincipalSource {
    snapshot: ArcSwap<Principals>,
    /// The handle the gateway shares for principals and `/readyz`.
    store: SharedPrincipalStore,
    /// Store checks begun. Changed only by the holder of `turn`.
    checks: AtomicU64,
    /// When the last store check began.
    last_check: parking_lot::Mutex<Option<Instant>>,
    turn: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl PrincipalSource {
    /// Load the first snapshot from `store`.
    pub fn open(
        store: SharedPrincipalStore,
        metrics: Arc<Metrics>,
    ) -> Result<PrincipalSource, IdentityError> {
        let first = load_if_changed(&store, None)?.unwrap_or_default();
        metrics.principals_generation.set(first.generation);
        Ok(PrincipalSource {
            snapshot: ArcSwap::from_pointee(first),
            store,
            checks: AtomicU64::new(0),
            last_check: parking_lot::Mutex::new(None),
            turn: tokio::sync::Mutex::new(()),
            metrics,
        })
    }

    /// The current snapshot. Lock-free.
    pub fn load(&self) -> Guard<Arc<Principals>> {
        self.snapshot.load()
    }

    /// The current snapshot, to keep across an `.await`.
    pub fn load_full(&self) -> Arc<Principals> {
        self.snapshot.load_full()
    }

    /// Store checks made so far (each is one read of the change counter).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::SeqCst)
    }

    /// Bring the snapshot up to the store as it was at some moment after this call began: read the
    /// change counter, and reload the principals when it moved. Returns whether this call swapped
    /// in a new snapshot. A caller that waited while another check ran, and finds that a check
    /// begun after its own call has completed, uses that one and reads nothing.
    pub async fn refresh(&self) -> Result<bool, IdentityError> {
        let ticket = self.checks.load(Ordering::SeqCst);
        let _turn = self.turn.lock().await;
        // INVARIANT: `checks` only grows under `turn`, so a value above `ticket` means a check
        // began (and, as we hold `turn` now, ended) after this call began.
        if self.checks.load(Ordering::SeqCst) != ticket {
            return Ok(false);
        }
        self.checks.fetch_add(1, Ordering::SeqCst);
        *self.last_check.lock() = Some(Instant::now());
        let current = self.snapshot.load().generation;
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || load_if_changed(&store, Some(current)))
            .await
            .map_err(|e| IdentityError::Store(format!("the store task failed: {e}")))??;
        let Some(fresh) = loaded else {
            return Ok(false);
        };
        tracing::info!(
            generation = fresh.generation,
            principals = fresh.len(),
            "principals reloaded"
        );
        self.metrics.principals_generation.set(fresh.generation);
        self.snapshot.store(Arc::new(fresh));
        Ok(true)
    }
}

impl PrincipalSource {
    /// [`refresh`](Self::refresh), unless a store check began less than `window` ago: then that
    /// check stands, and nothing is read. Bounds what callers that would otherwise check on every
    /// request (repeated refused credentials) cost the store: at most one check per `window`.
    pub async fn refresh_unless_within(&self, window: Duration) -> Result<bool, IdentityError> {
        if self.last_check.lock().is_some_and(|t| t.elapsed() < window) {
            return Ok(false);
        }
        self.refresh().await
    }
}

/// The one function that reads principals from the store: the change counter, and every principal
/// when the counter differs from `current` (`None`: always). Blocking.
fn load_if_changed(
    store: &Mutex<Box<dyn PrincipalStore>>,
    current: Option<i64>,
) -> Result<Option<Principals>, IdentityError> {
    let store = store
        .lock()
        .map_err(|_| IdentityError::Store("the store lock is poisoned".into()))?;
    let failed = |e: crate::store::StoreError| IdentityError::Store(e.to_string());
    let generation = store.generation().map_err(failed)?;
    if Some(generation) == current {
        return Ok(None);
    }
    let rows = store.principals().map_err(failed)?;
    Ok(Some(Principals::new(generation, rows)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Role, Store};

    fn source_on(dir: &std::path::Path) -> PrincipalSource {
        let store = Arc::new(Mutex::new(
            Box::new(crate::store::Store::open(dir).unwrap()) as Box<dyn PrincipalStore>,
        ));
        PrincipalSource::open(store, Arc::new(Metrics::new())).unwrap()
    }

    #[test]
    fn a_refresh_sees_a_principal_added_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let source = source_on(dir.path());
        assert!(source.load().get("ada").is_none());
        Store::open(dir.path())
            .unwrap()
            .add_principal("ada", Role::User, policy::Tier::Open, "h")
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(source.refresh()).unwrap());
        assert!(source.load().get("ada").is_some());
        assert!(
            !rt.block_on(source.refresh()).unwrap(),
            "nothing changed since"
        );
        assert_eq!(source.checks(), 2);
    }

    #[test]
    fn concurrent_refreshes_share_their_store_checks() {
        let dir = tempfile::tempdir().unwrap();
        let source = Arc::new(source_on(dir.path()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            // Held as a running check would hold it, while 64 refreshes arrive.
            let turn = source.turn.lock().await;
            let calls: Vec<_> = (0..64)
                .map(|_| {
                    let s = source.clone();
                    tokio::spawn(async move { s.refresh().await.unwrap() })
                })
                .collect();
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            drop(turn);
            for c in calls {
                c.await.unwrap();
            }
        });
        assert_eq!(source.checks(), 1, "the waiting refreshes share one check");
    }
}
