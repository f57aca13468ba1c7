//! The gateway's view of access grants: a snapshot of the store's active grants, indexed for the
//! decision (`access::GrantSet`), refreshed when the store's grant counter moves, and the store
//! work the gateway does itself (expiring what is due, starting a claim-by grant at its first use).
//!
//! Guarantees:
//! - readers never lock: the snapshot is swapped whole (`ArcSwap`); a request reads it once and
//!   decides on it, and its relay decides again on the snapshot of the moment;
//! - a grant stops covering at its end by time comparison at decision time, so expiry does not wait
//!   for a sweep or a refresh; a revocation made anywhere (the CLI, another gateway) is seen at the
//!   next refresh ([`Grants::refresh`], polled every 250 ms by the server);
//! - the set is indexed for the lists in force: after a reload with other lists, the next reader
//!   rebuilds it from the same rows for the new categories (no store read on the request path);
//! - store work runs off the async workers (`spawn_blocking`), on a connection of its own; a claim
//!   is written once per grant however many requests use it first (the store's update is the
//!   first-writer-wins step, and requests in the meantime do not queue more).
//!
//! This module knows nothing of the gateway's shared state: the server's poller drives it and
//! signals `Gateway::changes` when something ended.

use std::sync::{Arc, Mutex};

use access::{ActiveGrant, GrantSet};
use ahash::AHashSet;
use arc_swap::ArcSwap;
use lists::Lists;

use crate::store::{GrantError, GrantStore, StoreError, Swept};

/// One load of the store's active grants, indexed for one set of lists.
struct Snapshot {
    generation: i64,
    rows: Arc<Vec<ActiveGrant>>,
    /// The lists `set` was indexed for (compared by pointer).
    lists: Arc<Lists>,
    set: Arc<GrantSet>,
}

impl Snapshot {
    fn new(generation: i64, rows: Arc<Vec<ActiveGrant>>, lists: &Arc<Lists>) -> Snapshot {
        let set = GrantSet::new(rows.iter().cloned(), |name| lists.category_id(name));
        Snapshot {
            generation,
            rows,
            lists: lists.clone(),
            set: Arc::new(set),
        }
    }
}

/// The active grants and the store connection the gateway keeps them with.
pub struct Grants {
    current: ArcSwap<Snapshot>,
    store: Mutex<Box<dyn GrantStore>>,
    /// Claims written or being written: a grant is claimed once.
    claiming: parking_lot::Mutex<AHashSet<i64>>,
}

/// The store's active grants at its counter `generation`.
fn load(store: &dyn GrantStore) -> Result<(i64, Vec<ActiveGrant>), StoreError> {
    // The counter first: a change after it is seen by the next refresh, never missed.
    let generation = store.grant_generation()?;
    let rows = store
        .active_grants()?
        .iter()
        .filter_map(|g| g.active())
        .collect();
    Ok((generation, rows))
}

impl Grants {
    /// Load the active grants from `store`, indexed for `lists`.
    pub fn open(store: Box<dyn GrantStore>, lists: &Arc<Lists>) -> Result<Grants, StoreError> {
        let (generation, rows) = load(store.as_ref())?;
        Ok(Grants {
            current: ArcSwap::from_pointee(Snapshot::new(generation, Arc::new(rows), lists)),
            store: Mutex::new(store),
            claiming: parking_lot::Mutex::new(AHashSet::new()),
        })
    }

    /// The active grants, indexed for `lists` (the lists of the configuration deciding).
    pub fn set(&self, lists: &Arc<Lists>) -> Arc<GrantSet> {
        let snap = self.current.load();
        if Arc::ptr_eq(&snap.lists, lists) {
            return snap.set.clone();
        }
        // A reload changed the lists: index the same rows for the new categories, once.
        let again = Snapshot::new(snap.generation, snap.rows.clone(), lists);
        let set = again.set.clone();
        self.current.store(Arc::new(again));
        set
    }

    /// Reload the snapshot when the store's counter moved; whether it did.
    pub async fn refresh(self: &Arc<Self>, lists: Arc<Lists>) -> Result<bool, StoreError> {
        let me = self.clone();
        let seen = self.current.load().generation;
        let loaded = tokio::task::spawn_blocking(move || {
            let store = me.store.lock().unwrap_or_else(|e| e.into_inner());
            if store.grant_generation()? == seen {
                return Ok(None);
            }
            load(store.as_ref()).map(Some)
        })
        .await
        .unwrap_or(Ok(None))?;
        let Some((generation, rows)) = loaded else {
            return Ok(false);
        };
        self.current
            .store(Arc::new(Snapshot::new(generation, Arc::new(rows), &lists)));
        Ok(true)
    }

    /// End what is due at `now_us` in the store (pending requests, grants, guests); what ended.
    pub async fn sweep(self: &Arc<Self>, now_us: i64) -> Result<Swept, GrantError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = me.store.lock().unwrap_or_else(|e| e.into_inner());
            store.sweep_grants(now_us)
        })
        .await
        .unwrap_or_else(|_| Ok(Swept::default()))
    }

    /// A grant allowed a request: when it waits for its first use, start its clock now (off the
    /// request path; once).
    pub fn used(self: &Arc<Self>, set: &GrantSet, id: i64, now_us: i64) {
        if !set.get(id).is_some_and(ActiveGrant::is_unclaimed) || !self.claiming.lock().insert(id) {
            return;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = me.store.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = store.claim_grant(id, now_us) {
                tracing::error!(grant = id, error = %e, "cannot record the first use of a grant");
                drop(store);
                // Let the next request try again.
                me.claiming.lock().remove(&id);
            }
        });
    }

    /// The earliest time after `now_us` at which a grant of the snapshot stops covering.
    pub fn next_end_after(&self, now_us: i64) -> Option<i64> {
        self.current.load().set.next_end_after(now_us)
    }
}
