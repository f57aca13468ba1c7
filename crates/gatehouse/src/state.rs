//! The gateway's shared state: what the proxy, the admin listener and (later) the portal read as
//! peers. None of them owns it; [`crate::server::Server::start`] builds it and hands each an
//! `Arc<Gateway>`.
//!
//! - [`Runtime`] is the configuration in force with its compiled policy, swapped whole on reload
//!   (readers never lock: `ArcSwap`);
//! - [`Gateway`] holds the runtime, the principals snapshot, the credential cache and verifier, the
//!   audit writer's handle, the audit log's health, the metrics, the store handle for reads off the request path, the seat
//!   table, the access grants, and the drain and stop signals;
//! - [`InFlight`] counts a request from its complete head to its queued audit event, so that
//!   shutdown can tell how many events it could not wait for.
//!
//! INVARIANT: this module imports nothing from `proxy`, `admin` or `server`; they import it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::audit::Audit;
use crate::checkpoints::LogHealth;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::grants::Grants;
use crate::identity::{
    hash_password, random_password, Identity, PrincipalSource, Verifier, ARGON2_IDLE_RELEASE,
};
use crate::metrics::Metrics;
use crate::seats::Seats;
use crate::store::{PrincipalStore, Role, SharedPrincipalStore, Store};

/// The configuration in force, swapped whole on reload.
pub struct Runtime {
    pub config: Config,
    /// `config.policy` plus the gateway's own listening sockets.
    pub policy: policy::Policy,
    /// The places' calendars at the current minute, computed once a minute.
    pub minutes: crate::facts::MinuteCache,
}

impl Runtime {
    /// The runtime form of `config` for a gateway listening on `own` (its own sockets, which the
    /// policy refuses as destinations for every tier).
    pub fn new(config: Config, own: Vec<SocketAddr>) -> Runtime {
        let policy = config.policy.clone().with_own_sockets(own);
        Runtime {
            config,
            policy,
            minutes: Default::default(),
        }
    }
}

/// State shared by every connection, the admin listener and the background tasks.
pub struct Gateway {
    pub runtime: ArcSwap<Runtime>,
    /// Principals, credential caches, the argon2 pool and the throttle.
    pub identity: Identity,
    pub audit: Audit,
    /// The verifiable audit log as the writer last saw it (`/metrics`, `/readyz`).
    pub log: Arc<LogHealth>,
    pub metrics: Arc<Metrics>,
    /// The store, for reads off the request path (principals, `/readyz`). The audit writer has a
    /// connection of its own.
    pub store: SharedPrincipalStore,
    /// Flips to `true` when the gateway drains for shutdown.
    pub draining: watch::Receiver<bool>,
    /// Flips to `true` when the shutdown grace period is over: requests still running end where
    /// they are, are recorded with the error `shutdown`, and close their connections.
    pub stop: watch::Receiver<bool>,
    /// Requests between their complete head and their queued audit event. Shutdown counts those
    /// it could not wait for as lost events.
    pub in_flight: AtomicUsize,
    /// The wall clock (opening hours, sessions): injected, see [`crate::clock`].
    pub clock: SharedClock,
    /// Open sessions and the seat phase, with a store connection of their own.
    pub seats: Seats,
    /// The active access grants, with a store connection of their own.
    pub grants: Arc<Grants>,
    /// Moved whenever a decision made earlier may no longer hold: a reload, sessions ending, the
    /// minute turning, principals changing. Open relays watch it and decide again
    /// ([`Gateway::decisions_changed`]); kept-alive connections watch [`Changes::places`] only.
    pub changes: watch::Sender<Changes>,
    /// The portal's address as people reach it (`[portal] public_url`, or `http://` and its bound
    /// address), set once when the portal starts; unset without a portal. Refusal pages link to
    /// its request form.
    pub portal_url: std::sync::OnceLock<String>,
}

impl Gateway {
    /// Tell open relays and kept-alive connections to decide again: the configuration, the
    /// sessions or the time changed.
    pub fn decisions_changed(&self) {
        self.changes.send_modify(|c| {
            c.all = c.all.wrapping_add(1);
            c.places = c.places.wrapping_add(1);
        });
    }

    /// Tell open relays to decide again: principals changed. A kept-alive connection is left to
    /// its next request, which is decided under the new principals and refused with a page that
    /// says why, rather than closed without one.
    pub fn principals_changed(&self) {
        self.changes.send_modify(|c| c.all = c.all.wrapping_add(1));
    }

    /// Tell open relays to decide again: a grant ended (revoked, expired, its guest expired) or
    /// the grants changed. As for principals, a kept-alive connection is left to its next request.
    pub fn grants_changed(&self) {
        self.changes.send_modify(|c| c.all = c.all.wrapping_add(1));
    }
}

/// The change counters open connections watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Every change.
    pub all: u64,
    /// Changes of the configuration, the sessions and the time (not of principals).
    pub places: u64,
}

/// The senders of [`Gateway::draining`] and [`Gateway::stop`], kept by whoever runs the gateway.
pub struct Controls {
    pub drain: watch::Sender<bool>,
    pub stop: watch::Sender<bool>,
}

/// A gateway's state, opened on a data directory.
pub struct Opened {
    pub gateway: Arc<Gateway>,
    pub controls: Controls,
    /// The password of the `admin` principal created on first start (shown once).
    pub initial_admin_password: Option<String>,
}

impl Gateway {
    /// Open the state of a gateway on `data_dir` whose own sockets are `own`: the store (with an
    /// `admin` principal of tier `none` and a random password on first start), the audit log's key
    /// and its start-up check ([`crate::checkpoints::open`]), the audit writer,
    /// the argon2 pool, the principals snapshot, the open sessions and the runtime form of `config`.
    pub async fn open(
        config: Config,
        data_dir: &Path,
        own: Vec<SocketAddr>,
        clock: SharedClock,
    ) -> anyhow::Result<Opened> {
        let verifier = Verifier::start(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            ARGON2_IDLE_RELEASE,
        )?;
        let metrics = Arc::new(Metrics::new());
        let squid_log = config.audit.squid_log.as_ref().map(|p| data_dir.join(p));
        // The log's key, the start-up check of its tail and the writer's store (SQLite, picked
        // there); everything after uses the store traits.
        let (writer_store, checkpointer, log) = {
            let (dir, settings) = (data_dir.to_path_buf(), config.audit.clone());
            let (m, c) = (metrics.clone(), clock.clone());
            tokio::task::spawn_blocking(move || crate::checkpoints::open(&dir, &settings, m, c))
                .await
                .context("the audit log's start-up check did not finish")??
        };
        let audit = Audit::start(
            writer_store,
            config.audit.clone(),
            squid_log,
            metrics.clone(),
            (checkpointer, log.clone()),
        )
        .context("cannot start the audit writer")?;
        let store: Box<dyn PrincipalStore> = Box::new(Store::open(data_dir)?);
        let initial_admin_password = ensure_first_admin(store.as_ref()).await?;
        let store = Arc::new(Mutex::new(store));
        let principals = PrincipalSource::open(store.clone(), metrics.clone())?;
        let seats = Seats::open(Box::new(Store::open(data_dir)?), metrics.clone())
            .context("cannot load the open sessions")?;
        seats.configure_from(&config.places);
        let grants = Grants::open(Box::new(Store::open(data_dir)?), &config.lists)
            .context("cannot load the access grants")?;
        let (drain, draining) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let gateway = Arc::new(Gateway {
            runtime: ArcSwap::from_pointee(Runtime::new(config, own)),
            identity: Identity::new(principals, verifier, metrics.clone())?,
            audit,
            log,
            metrics,
            store,
            draining,
            stop,
            in_flight: AtomicUsize::new(0),
            clock,
            seats,
            grants: Arc::new(grants),
            changes: watch::channel(Changes::default()).0,
            portal_url: std::sync::OnceLock::new(),
        });
        Ok(Opened {
            gateway,
            controls: Controls {
                drain,
                stop: stop_tx,
            },
            initial_admin_password,
        })
    }
}

/// First start: an `admin` principal with a random password, returned to be printed once.
async fn ensure_first_admin(store: &dyn PrincipalStore) -> anyhow::Result<Option<String>> {
    if store.principal_count()? != 0 {
        return Ok(None);
    }
    let password = random_password()?;
    // Once in the life of a data directory: hashed on a throwaway blocking thread with its own
    // buffer, freed at once, rather than on the pool, whose thread would keep 19 MiB for its idle
    // period right when the operator first looks at the process.
    let for_hash = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&for_hash))
        .await
        .context("the first-start password hash did not finish")??;
    store.add_principal("admin", Role::Admin, policy::Tier::None, &hash)?;
    Ok(Some(password))
}

/// Counts a request in [`Gateway::in_flight`] until dropped.
pub struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    pub fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
