//! Memory given back after a burst of client connections (issue 14, point 1).
//!
//! Each connection's task and buffers come from the allocator; when thousands close at once, glibc
//! keeps the freed blocks in the worker threads' arenas and the gateway stays at the burst's
//! resident size for good. So the accept loop notes the most connections open at once, and every
//! [`LOOK_EVERY`] a task compares that peak with what is open now: when at least [`BURST`] fewer
//! are open, the freed pages are handed back ([`memtrim::release_free_memory`], on a blocking
//! thread, never on the request path) and `gatehouse_memory_trims_total` counts it. Steady
//! traffic, however many connections come and go, keeps the peak near what is open and never
//! triggers it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::Gateway;

/// How often the peak is compared with what is open now.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);
/// How many fewer connections than the peak make a burst that ended.
pub const BURST: i64 = 1024;

/// The most client connections open at once since the last look.
#[derive(Debug, Default)]
pub struct Bursts {
    peak: AtomicI64,
}

impl Bursts {
    /// A connection was accepted; `open` are open now, it included.
    pub fn opened(&self, open: i64) {
        self.peak.fetch_max(open, Ordering::Relaxed);
    }
}

/// Give freed memory back whenever a burst of connections has ended, until `stop`.
pub async fn give_back(gw: Arc<Gateway>, bursts: Arc<Bursts>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(LOOK_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let open = gw.metrics.active_connections.get();
        let peak = bursts.peak.swap(open, Ordering::Relaxed);
        if peak - open >= BURST {
            let released = tokio::task::spawn_blocking(memtrim::release_free_memory)
                .await
                .unwrap_or(false);
            gw.metrics.memory_trims.inc();
            tracing::debug!(
                peak,
                open,
                released,
                "gave freed memory back after a burst of connections"
            );
        }
    }
}
