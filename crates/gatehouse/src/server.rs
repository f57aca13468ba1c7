//! The server: binds the proxy, admin and portal listeners, starts the audit writer, the principal poller,
//! the seat sweep, the grants poller and the webhook notifier, and owns reload and shutdown. The binary and the in-process tests start
//! gatehouse through [`Server::start`], the same entry point.
//!
//! Shutdown drains: the proxy listener closes, idle keep-alive connections close, requests in flight finish
//! (up to `proxy.shutdown_grace_secs`). Requests still running then are cut short, each recording
//! its event with the error `shutdown` and what it relayed, and the audit writer commits everything
//! queued and signs a final checkpoint of the audit log. An event that cannot be recorded is logged and counted in `gatehouse_audit_lost_total`.
//! The admin listener stays up until the end (`/readyz` says `503 draining`), so that a load
//! balancer sees the drain and the metrics of the last requests can still be read; the portal
//! closes with it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::{Config, ConfigError};
use crate::proxy::serve_connection;
use crate::state::{Controls, Gateway, Opened, Runtime};

/// How to start a server.
pub struct ServerOptions {
    pub config: Config,
    /// The file the configuration came from, re-read on reload; `None` for the built-in configuration.
    pub config_path: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// The wall clock: the binary passes [`crate::clock::SystemClock`], tests a clock they move.
    pub clock: SharedClock,
}

/// A running gateway.
pub struct Server {
    gateway: Arc<Gateway>,
    proxy_addr: SocketAddr,
    admin_addr: SocketAddr,
    /// `None` when `[portal] enabled = false`.
    portal_addr: Option<SocketAddr>,
    config_path: Option<PathBuf>,
    controls: Controls,
    /// Flips to `true` at the end of shutdown: the admin listener closes.
    admin_stop_tx: watch::Sender<bool>,
    connections: Arc<Semaphore>,
    max_connections: u32,
    tasks: Vec<JoinHandle<()>>,
    /// The password of the `admin` principal created on first start (shown once).
    pub initial_admin_password: Option<String>,
}

impl Server {
    /// Bind the listeners, open the gateway's state on them, and start serving.
    pub async fn start(opts: ServerOptions) -> anyhow::Result<Server> {
        let config = opts.config;
        let proxy_listener = bind(config.proxy.listen, "proxy.listen").await?;
        let admin_listener = bind(config.admin_listen, "admin.listen").await?;
        let portal_listener = match config.portal.enabled {
            true => Some(bind(config.portal.listen, "portal.listen").await?),
            false => None,
        };
        let proxy_addr = proxy_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        let portal_addr = portal_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?;
        let portal_settings = config.portal.clone();
        let notify_settings = config.notify.clone();
        let max_connections = config.proxy.max_connections.min(u32::MAX as usize >> 4) as u32;
        log_list_loads(&config);
        if !crate::proxy::tunnel::probe_batching().await {
            tracing::warn!(
                "tunnel reads are not batched: a probe over 127.0.0.1 did not see this kernel \
                 report queued bytes when a socket's receive low-water mark is lowered (Linux \
                 4.19 and later do; the probe also fails when loopback is unavailable)"
            );
        }
        // Opened only once the listeners are bound: a start that fails (a port in use) must not
        // leave a first-start `admin` whose one-time password nobody saw.
        let Opened {
            gateway,
            controls,
            initial_admin_password,
        } = Gateway::open(
            config,
            &opts.data_dir,
            own_sockets(&listening(proxy_addr, admin_addr, portal_addr)),
            opts.clock,
        )
        .await?;
        let connections = Arc::new(Semaphore::new(max_connections as usize));
        let (admin_stop_tx, admin_stop) = watch::channel(false);
        let bursts = Arc::new(crate::bursts::Bursts::default());
        let mut tasks = vec![
            tokio::spawn(accept_loop(
                gateway.clone(),
                proxy_listener,
                (connections.clone(), bursts.clone()),
                controls.drain.subscribe(),
            )),
            tokio::spawn(crate::bursts::give_back(
                gateway.clone(),
                bursts,
                controls.drain.subscribe(),
            )),
            tokio::spawn(poll_principals(gateway.clone(), controls.drain.subscribe())),
            tokio::spawn(sweep_seats(gateway.clone(), controls.drain.subscribe())),
            tokio::spawn(poll_grants(gateway.clone(), controls.drain.subscribe())),
            crate::logcheck::retention::spawn(
                gateway.clone(),
                opts.data_dir.clone(),
                controls.drain.subscribe(),
            ),
        ];
        if notify_settings.webhook.is_some() {
            let store = crate::store::Store::open(&opts.data_dir)?;
            tasks.extend(crate::notify::start(
                gateway.clone(),
                notify_settings,
                Box::new(store),
                controls.drain.subscribe(),
            ));
        }
        if let (Some(listener), Some(bound)) = (portal_listener, portal_addr) {
            let store = crate::store::Store::open(&opts.data_dir)?;
            let portal = crate::portal::Portal::new(
                gateway.clone(),
                Box::new(store),
                portal_settings,
                bound,
            );
            let _ = gateway.portal_url.set(portal.origin.clone());
            tasks.push(crate::portal::serve(
                listener,
                Arc::new(portal),
                admin_stop.clone(),
            ));
        }
        let mut server = Server {
            gateway,
            proxy_addr,
            admin_addr,
            portal_addr,
            config_path: opts.config_path,
            controls,
            admin_stop_tx,
            connections,
            max_connections,
            tasks,
            initial_admin_password,
        };
        server.tasks.push(serve_admin(
            admin_listener,
            crate::admin::router(server.gateway.clone()),
            server.gateway.metrics.admin_connections.clone(),
            admin_stop,
        ));
        match portal_addr {
            Some(portal) => {
                tracing::info!(proxy = %proxy_addr, admin = %admin_addr, %portal, "gatehouse is listening")
            }
            None => {
                tracing::info!(proxy = %proxy_addr, admin = %admin_addr, "gatehouse is listening (no portal)")
            }
        }
        Ok(server)
    }

    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The portal's address; `None` when the portal is turned off.
    pub fn portal_addr(&self) -> Option<SocketAddr> {
        self.portal_addr
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Re-read the configuration file and swap it in whole. On error the running configuration stays.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let path = self.config_path.clone();
        let result = tokio::task::spawn_blocking(move || match path {
            Some(p) => Config::from_file(&p),
            None => Config::builtin(),
        })
        .await
        .unwrap_or_else(|e| {
            Err(ConfigError {
                problems: vec![crate::config::Problem {
                    file: "-".into(),
                    line: 0,
                    column: 0,
                    key: "-".into(),
                    message: format!("the reload task failed: {e}"),
                }],
            })
        });
        self.apply(result)
    }

    /// Swap in an already validated configuration (or record why a reload failed).
    pub fn apply(&self, result: Result<Config, ConfigError>) -> Result<(), ConfigError> {
        let metrics = &self.gateway.metrics;
        match result {
            Ok(config) => {
                let current = self.gateway.runtime.load();
                if config.proxy.listen != current.config.proxy.listen
                    || config.admin_listen != current.config.admin_listen
                    || config.portal != current.config.portal
                {
                    tracing::warn!(
                        "listen addresses or the portal's settings changed; they take effect at the next restart"
                    );
                }
                let own = own_sockets(&listening(
                    self.proxy_addr,
                    self.admin_addr,
                    self.portal_addr,
                ));
                let lists = config.lists.len();
                log_list_loads(&config);
                self.gateway.seats.configure_from(&config.places);
                self.gateway
                    .runtime
                    .store(Arc::new(Runtime::new(config, own)));
                // Open tunnels decide again under the new configuration.
                self.gateway.decisions_changed();
                metrics
                    .config_reloads
                    .get_or_create(&crate::metrics::ErrorLabels { code: "ok" })
                    .inc();
                tracing::info!(domains = lists, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                metrics
                    .config_reloads
                    .get_or_create(&crate::metrics::ErrorLabels { code: "invalid" })
                    .inc();
                tracing::error!("the new configuration is invalid; keeping the running one:\n{e}");
                Err(e)
            }
        }
    }

    /// Stop accepting, let requests in flight finish (up to the grace period), cut the others short,
    /// flush the audit trail.
    pub async fn shutdown(self) {
        let _ = self.controls.drain.send(true);
        let grace = self.gateway.runtime.load().config.proxy.shutdown_grace;
        if tokio::time::timeout(grace, self.connections.acquire_many(self.max_connections))
            .await
            .is_err()
        {
            let open = self.max_connections as usize - self.connections.available_permits();
            tracing::warn!(
                open,
                "connections still open after the grace period; closing them"
            );
            let _ = self.controls.stop.send(true);
            // Each connection ends its request where it is, queues the request's event and closes;
            // nothing there waits on a peer, so this takes moments. Wait for it, boundedly.
            let all_closed = tokio::time::timeout(
                Duration::from_secs(5),
                self.connections.acquire_many(self.max_connections),
            )
            .await
            .is_ok();
            let lost = self.gateway.in_flight.load(Ordering::Relaxed);
            if !all_closed && lost > 0 {
                // Their tasks are dropped when the process exits, before they queue an event.
                self.gateway.metrics.audit_lost.inc_by(lost as u64);
                tracing::error!(
                    events = lost,
                    "requests still running after the grace period did not end; their audit events are lost"
                );
            }
        }
        let _ = self.admin_stop_tx.send(true);
        for t in &self.tasks {
            t.abort();
        }
        // The seat sweep stopped with the drain; a restart finds when each session was last seen.
        if let Err(e) = self.gateway.seats.flush().await {
            tracing::error!(error = %e, "cannot write when sessions were last seen");
        }
        // Everything committed, then a final checkpoint: a clean stop leaves no unsigned tail.
        self.gateway.audit.close().await;
        tracing::info!("gatehouse stopped");
    }
}

/// One log line per list file: what it loaded and what it skipped, so that entries a list format
/// cannot express (IP addresses in a domain list) are never dropped unseen; then the places, the
/// rules and their warnings.
fn log_list_loads(config: &Config) {
    if !config.places.is_empty() {
        tracing::info!("{}", crate::config::places_summary(&config.places));
    }
    if let Some(rules) = &config.rules.rules {
        tracing::info!(rules = rules.len(), version = %config.version, "rules loaded");
    }
    for w in &config.rules.warnings {
        tracing::warn!("{w}");
    }
    for load in &config.list_loads {
        if load.stats.skipped() > 0 {
            tracing::warn!("{}", load.summary());
        } else {
            tracing::info!("{}", load.summary());
        }
    }
}

/// The gateway's listening sockets: the proxy, the admin port and the portal (when it runs).
fn listening(proxy: SocketAddr, admin: SocketAddr, portal: Option<SocketAddr>) -> Vec<SocketAddr> {
    [Some(proxy), Some(admin), portal]
        .into_iter()
        .flatten()
        .collect()
}

/// The gateway's own sockets as addresses a request could name: a listener on the unspecified
/// address listens on every local address, so it stands for each interface address with its port.
fn own_sockets(listeners: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out = listeners.to_vec();
    if listeners.iter().any(|l| l.ip().is_unspecified()) {
        match if_addrs::get_if_addrs() {
            Ok(interfaces) => {
                for l in listeners.iter().filter(|l| l.ip().is_unspecified()) {
                    for i in &interfaces {
                        if i.ip().is_ipv4() == l.ip().is_ipv4() || l.ip().is_ipv6() {
                            out.push(SocketAddr::new(i.ip(), l.port()));
                        }
                    }
                }
            }
            // The policy still treats every non-global address on that port as the gateway.
            Err(e) => tracing::warn!(error = %e, "cannot list local addresses"),
        }
    }
    out
}

async fn accept_loop(
    gw: Arc<Gateway>,
    listener: TcpListener,
    (connections, bursts): (Arc<Semaphore>, Arc<crate::bursts::Bursts>),
    mut drain: watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = drain.wait_for(|d| *d) => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = drain.wait_for(|d| *d) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let gw = gw.clone();
                gw.metrics.connections.inc();
                bursts.opened(gw.metrics.active_connections.inc() + 1);
                tokio::spawn(async move {
                    // The connection watches `Gateway::stop` itself, so that a request cut at the
                    // end of the grace period still records its event before the socket closes.
                    serve_connection(gw.clone(), stream, peer).await;
                    gw.metrics.active_connections.dec();
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Bind a listener, naming the configuration key in the error.
async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on `{addr}` (`{key}`)"))
}

/// Serve the admin routes until `stop` flips. The admin port stays up while the proxy drains, so
/// that `/readyz` answers `503 draining` (a load balancer takes the node out) and `/metrics` shows
/// the drain; it closes last.
fn serve_admin(
    listener: TcpListener,
    app: axum::Router,
    accepted: prometheus_client::metrics::counter::Counter,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(move |_| {
        accepted.inc();
    });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|d| *d).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the admin listener failed");
        }
    })
}

/// Notice changes made with the CLI (the store's change counter) and reload the principals snapshot.
/// Authentication runs the same refresh at once for a credential the snapshot does not accept.
async fn poll_principals(gw: Arc<Gateway>, mut drain: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    let mut seen = gw.identity.principals().generation;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = drain.wait_for(|d| *d) => return,
        }
        if let Err(e) = gw.identity.source().refresh().await {
            tracing::error!(error = %e, "the principal poller cannot refresh");
        }
        // Principals changed (here or through a request's refresh): a disabled, deleted or
        // regrouped principal's open connections decide again.
        let now = gw.identity.principals().generation;
        if now != seen {
            seen = now;
            gw.principals_changed();
        }
    }
}

/// The seat sweep of a running gateway: every [`crate::seats::SWEEP_INTERVAL`] at the gateway's clock, until
/// `stop` flips; then the `last_seen` times are written once more, so that a restart finds them.
async fn sweep_seats(gw: Arc<Gateway>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(crate::seats::SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ended = gw.seats.ended_so_far();
    let mut last_minute = gw.clock.now().as_second().div_euclid(60);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let now = gw.clock.now();
        if let Err(e) = gw.seats.sweep(now).await {
            tracing::error!(error = %e, "the seat sweep cannot reach the store");
        }
        // Open tunnels and kept-alive connections decide again when sessions ended (idle, closing
        // time, `session end`, a claim that ended idle ones) and when the minute turns (rules may
        // read the time of day, a schedule may have begun or ended).
        let ended = gw.seats.ended_so_far();
        let minute = now.as_second().div_euclid(60);
        if ended != last_ended || minute != last_minute {
            last_ended = ended;
            last_minute = minute;
            gw.decisions_changed();
        }
    }
    if let Err(e) = gw.seats.flush().await {
        tracing::error!(error = %e, "cannot write when sessions were last seen");
    }
}

/// Keep the access grants current and end what is due: every 250 ms the store's grant counter
/// (a grant added, claimed, revoked or expired by any process on the store), every second a sweep
/// at the gateway's clock (pending requests, grants and guests whose time is up). Open relays
/// decide again when the grants changed or a grant of the snapshot reached its end, so a tunnel
/// that depended on it closes within a quarter of a second of its end.
async fn poll_grants(gw: Arc<Gateway>, mut drain: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    let mut looked = gw.clock.now().as_microsecond();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = drain.wait_for(|d| *d) => return,
        }
        ticks = ticks.wrapping_add(1);
        let now = gw.clock.now().as_microsecond();
        let mut changed = false;
        if ticks.is_multiple_of(4) {
            match gw.grants.sweep(now).await {
                Ok(swept) => changed |= !swept.is_empty(),
                Err(e) => tracing::error!(error = %e, "the grants sweep cannot reach the store"),
            }
        }
        let lists = gw.runtime.load().config.lists.clone();
        match gw.grants.refresh(lists).await {
            Ok(moved) => changed |= moved,
            Err(e) => tracing::error!(error = %e, "the grants poller cannot refresh"),
        }
        // A grant reached its end since the last look: no store change needed to act on it.
        changed |= gw
            .grants
            .next_end_after(looked)
            .is_some_and(|end| end <= now);
        looked = now;
        if changed {
            gw.grants_changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::own_sockets;

    #[test]
    fn an_unspecified_listener_stands_for_every_local_address() {
        let own = own_sockets(&[
            "0.0.0.0:3128".parse().unwrap(),
            "127.0.0.1:9090".parse().unwrap(),
        ]);
        assert!(own.contains(&"127.0.0.1:3128".parse().unwrap()), "{own:?}");
        assert!(own.contains(&"127.0.0.1:9090".parse().unwrap()));
        assert!(!own.contains(&"127.0.0.1:80".parse().unwrap()));
    }
}
