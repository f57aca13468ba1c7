//! Webhook notifications (`[notify]`): JSON events for access requests submitted and decided,
//! grants created, about to expire, revoked or expired, and guests, sent to one configured
//! webhook.
//!
//! How: the gateway follows the audit trail. Every state change of requests, grants and guests is
//! recorded as an action event (`AuditRow::action`) by whichever process made it — the CLI, the
//! portal, this or another gateway — so following those events by id notifies all of them without
//! a hook in any writer. The follower reads the action events after its cursor every 250 ms and
//! queues their notifications; once a second it also records, at the gateway's clock, the grants
//! that end within `expiry_warning` (`grant.expiring`, once per grant in the store, so that the
//! follower finds them like any other action). One delivery task sends the queue in order
//! ([`deliver`]), and after each event is delivered — or given up after `max_attempts` — moves
//! the webhook's cursor in the store (`notify_cursor`, keyed by the webhook's address).
//!
//! Guarantees:
//! - nothing here is on the request path: the follower and the delivery task are tasks of their
//!   own with a store connection of their own; a webhook that hangs or refuses holds up only the
//!   queue behind it (bounded: when it is full the follower stops reading, and resumes from the
//!   trail later), never a decision, a review or the grants poller;
//! - each event is sent once per webhook across restarts: a clean stop leaves the cursor after
//!   the last event done, and the next start resumes there (a crash between a delivery and its
//!   cursor write can repeat that one event; receivers drop repeats by `id`);
//! - events are sent in the order they were recorded;
//! - a webhook configured for the first time starts at the newest event: history is not sent.
//!
//! Not yet: `https://` webhooks (no TLS client); several gateways on one store each configured
//! with the same webhook each send every event (one cursor, no lease).

mod deliver;
mod event;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{NotifySettings, Webhook};
use crate::state::Gateway;
use crate::store::{NotifyStore, StoreError};

pub use deliver::{signature, SIGNATURE_HEADER};
pub use event::{event_json, grant_json, is_notified, request_json};

/// Notifications waiting for delivery, at most.
pub const QUEUE: usize = 1024;
/// Action events read from the trail at once.
const PAGE: u32 = 100;
/// A cursor moved only past events that are not notified is written at most this often.
const IDLE_CURSOR_WRITE: Duration = Duration::from_secs(5);

type Shared = Arc<Mutex<Box<dyn NotifyStore>>>;

/// What the delivery task works through, in order.
enum Item {
    /// Deliver this (its id, its action name, its JSON).
    Event(i64, String, Bytes),
    /// Everything up to this audit id has been queued.
    Upto(i64),
}

/// Start following the trail and delivering to `settings.webhook` (nothing when there is none);
/// the tasks stop when `drain` flips.
pub fn start(
    gw: Arc<Gateway>,
    settings: NotifySettings,
    store: Box<dyn NotifyStore>,
    drain: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Some(hook) = settings.webhook.clone() else {
        return Vec::new();
    };
    let store: Shared = Arc::new(Mutex::new(store));
    let (tx, rx) = mpsc::channel(QUEUE);
    let settings = Arc::new(settings);
    vec![
        tokio::spawn(follow(
            gw.clone(),
            settings.clone(),
            store.clone(),
            tx,
            drain.clone(),
        )),
        tokio::spawn(deliver_all(gw, settings, hook, store, rx, drain)),
    ]
}

/// Run `f` on the store off the async workers.
async fn with_store<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&dyn NotifyStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let s = store.lock().unwrap_or_else(|e| e.into_inner());
        f(s.as_ref())
    })
    .await
    .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}

/// The notifications of the action events after `after`, and how far the trail was read.
fn read_page(store: &dyn NotifyStore, after: i64) -> Result<(Vec<Item>, i64, bool), StoreError> {
    let (rows, upto) = store.actions_after(after, PAGE)?;
    let full = rows.len() as u32 >= PAGE;
    let mut items = Vec::new();
    for row in rows.iter().filter(|r| is_notified(&r.rule)) {
        match serde_json::to_vec(&event_json(row, store)) {
            Ok(body) => items.push(Item::Event(row.id, row.rule.clone(), body.into())),
            Err(e) => tracing::error!(id = row.id, error = %e, "cannot encode a notification"),
        }
    }
    Ok((items, upto, full))
}

/// The follower: the webhook's cursor, then every 250 ms the action events after it, and every
/// second the grants about to expire.
async fn follow(
    gw: Arc<Gateway>,
    settings: Arc<NotifySettings>,
    store: Shared,
    tx: mpsc::Sender<Item>,
    mut drain: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let hook = settings
        .webhook
        .as_ref()
        .map(|h| h.url.clone())
        .unwrap_or_default();
    let lead_us = i64::try_from(settings.expiry_warning.as_micros()).unwrap_or(i64::MAX);
    let mut seen: Option<i64> = None;
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = drain.wait_for(|d| *d) => return,
        }
        ticks = ticks.wrapping_add(1);
        let now = gw.clock.now().as_microsecond();
        let after = match seen {
            Some(id) => id,
            None => {
                let hook = hook.clone();
                match with_store(&store, move |s| s.notify_start(&hook, now)).await {
                    Ok(id) => *seen.insert(id),
                    Err(e) => {
                        tracing::error!(error = %e, "the webhook notifier cannot read its cursor");
                        continue;
                    }
                }
            }
        };
        if ticks.is_multiple_of(4) {
            if let Err(e) = with_store(&store, move |s| s.warn_expiring(lead_us, now)).await {
                tracing::error!(error = %e, "the webhook notifier cannot look for grants about to expire");
            }
        }
        match queue_new(&store, &tx, after, &mut drain).await {
            Some(upto) => seen = Some(upto),
            None if *drain.borrow() => return,
            None => {}
        }
    }
}

/// Queue the notifications after `after`, page by page; how far the trail was queued (`None`:
/// the store failed, or the gateway drains).
async fn queue_new(
    store: &Shared,
    tx: &mpsc::Sender<Item>,
    mut after: i64,
    drain: &mut watch::Receiver<bool>,
) -> Option<i64> {
    loop {
        let (items, upto, full) = match with_store(store, move |s| read_page(s, after)).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "the webhook notifier cannot read the audit trail");
                return (after > 0).then_some(after);
            }
        };
        for item in items
            .into_iter()
            .chain((upto > after).then_some(Item::Upto(upto)))
        {
            // A full queue waits here, off every other path.
            tokio::select! {
                sent = tx.send(item) => sent.ok()?,
                _ = drain.wait_for(|d| *d) => return None,
            }
        }
        after = upto;
        if !full {
            return Some(after);
        }
    }
}

/// The delivery task: each queued event in order, retried with backoff; the cursor moved after it.
async fn deliver_all(
    gw: Arc<Gateway>,
    settings: Arc<NotifySettings>,
    hook: Webhook,
    store: Shared,
    mut rx: mpsc::Receiver<Item>,
    mut drain: watch::Receiver<bool>,
) {
    let metrics = gw.metrics.clone();
    let mut written = tokio::time::Instant::now();
    loop {
        metrics.webhook_queue_depth.set(rx.len() as i64);
        let item = tokio::select! {
            item = rx.recv() => item,
            _ = drain.wait_for(|d| *d) => return,
        };
        let (upto, outcome) = match item {
            None => return,
            Some(Item::Upto(upto)) => {
                if written.elapsed() < IDLE_CURSOR_WRITE {
                    continue;
                }
                (upto, None)
            }
            Some(Item::Event(id, name, body)) => {
                let done = tokio::select! {
                    done = deliver_one(&settings, &hook, (id, &name), body, &gw) => done,
                    // Not written as done: the next start sends it again.
                    _ = drain.wait_for(|d| *d) => return,
                };
                (id, Some(done))
            }
        };
        let (key, now) = (hook.url.clone(), gw.clock.now().as_microsecond());
        match with_store(&store, move |s| s.set_notify_cursor(&key, upto, now)).await {
            Ok(()) => written = tokio::time::Instant::now(),
            Err(e) => tracing::error!(error = %e, "the webhook notifier cannot write its cursor"),
        }
        // Counted once the cursor says so: a count seen means a restart will not send it again.
        match outcome {
            Some(true) => {
                metrics.webhook_delivered.inc();
            }
            Some(false) => {
                metrics.webhook_failures.inc();
            }
            None => {}
        }
    }
}

/// Try one event up to `max_attempts` times; whether it was delivered.
async fn deliver_one(
    settings: &NotifySettings,
    hook: &Webhook,
    (id, name): (i64, &str),
    body: Bytes,
    gw: &Gateway,
) -> bool {
    for n in 1..=settings.max_attempts {
        if n > 1 {
            gw.metrics.webhook_retries.inc();
            tokio::time::sleep(deliver::wait_before(settings, n)).await;
        }
        match deliver::attempt(settings, hook, (id, name), body.clone()).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(event = name, id, attempt = n, error = %e, "webhook delivery failed")
            }
        }
    }
    tracing::error!(
        event = name,
        id,
        attempts = settings.max_attempts,
        "webhook delivery given up; the event is counted in gatehouse_webhook_failures_total"
    );
    false
}
