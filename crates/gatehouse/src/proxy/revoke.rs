//! Decisions that must keep holding: an open tunnel was allowed under the configuration, the
//! principal, the place, the session and the access grants of its start; when one of them changes
//! (a reload, the location closing, the session ending, the account disabled or deleted, a grant
//! revoked or expired), the tunnel is decided again and closed if it is now refused.
//!
//! The gateway signals such changes on `Gateway::changes` ([`crate::state::Gateway::decisions_changed`]);
//! [`while_allowed`] races the relay against that signal, and decides again on each change with
//! the same code as the request path (`decide::inputs` over `facts::PlaceFacts`).

use std::future::Future;
use std::net::IpAddr;

use super::decide;
use tokio::sync::watch;

use super::exchange::{Next, Progress, Relayed, Target};
use crate::codes::ErrorCode;
use crate::facts::PlaceFacts;
use crate::state::{Changes, Gateway};

/// What a tunnel was allowed as: enough to decide it again.
pub struct Allowed<'a> {
    pub principal: &'a str,
    pub client: IpAddr,
    pub target: &'a Target,
    pub method: &'a str,
    /// The session the tunnel runs in, if it came from a terminal.
    pub session: Option<i64>,
}

/// [`Allowed`], owned: what a kept-alive connection's last request was allowed as.
pub struct AllowedOwned {
    pub principal: std::sync::Arc<str>,
    pub client: IpAddr,
    pub target: Target,
    pub method: String,
    pub session: Option<i64>,
}

impl AllowedOwned {
    /// What a request that was relayed was allowed as.
    pub fn of(
        principal: &crate::identity::Principal,
        peer: std::net::SocketAddr,
        target: Target,
        head: &http1::RequestHead,
        rec: &super::ending::Record,
    ) -> AllowedOwned {
        AllowedOwned {
            principal: principal.name.clone(),
            client: peer.ip(),
            target,
            method: head.method().to_string(),
            session: rec.context.session_id,
        }
    }

    fn borrowed(&self) -> Allowed<'_> {
        Allowed {
            principal: &self.principal,
            client: self.client,
            target: &self.target,
            method: &self.method,
            session: self.session,
        }
    }
}

/// Wait until a change refuses what `allowed` was allowed as; the refusing rule. Pending forever
/// when there is nothing to watch (`None`) or the gateway is gone.
pub async fn until_refused(gw: &Gateway, allowed: Option<&AllowedOwned>) -> String {
    let Some(allowed) = allowed else {
        return std::future::pending().await;
    };
    let mut changes = gw.changes.subscribe();
    let mut seen = changes.borrow().places;
    loop {
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
        let places = changes.borrow_and_update().places;
        if places == seen {
            continue;
        }
        seen = places;
        if let Some(rule) = refused_now(gw, &allowed.borrowed()) {
            return rule;
        }
    }
}

/// How often an open relay tells the seats its session is active (when bytes moved).
const ACTIVITY_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// Run `relay` until it ends, or until a change makes its decision a refusal: then the relay is
/// dropped (both connections close at once: the client's is reset) and the end is recorded with
/// the error `revoked` and the rule that refuses it now. `changes` was subscribed when the request
/// was decided, so a change while it resolved and connected is not missed. While bytes move, the
/// session it runs in stays active: a long tunnel is activity, not idleness.
pub async fn while_allowed<F>(
    gw: &Gateway,
    allowed: Allowed<'_>,
    (mut changes, progress): (watch::Receiver<Changes>, &Progress),
    relay: F,
) -> (Relayed, Option<String>)
where
    F: Future<Output = Relayed>,
{
    tokio::pin!(relay);
    // A change between the decision and now is looked at once before relaying.
    let mut pending = changes.has_changed().unwrap_or(false);
    // Only a relay in a session has activity to report; the others arm no timer.
    let mut tick = allowed.session.map(|_| {
        let mut t =
            tokio::time::interval_at(tokio::time::Instant::now() + ACTIVITY_TICK, ACTIVITY_TICK);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut moved = progress.bytes();
    loop {
        if pending {
            pending = false;
            changes.borrow_and_update();
            if let Some(rule) = refused_now(gw, &allowed) {
                tracing::info!(
                    principal = allowed.principal,
                    destination = %allowed.target.authority,
                    rule = %rule,
                    "an open connection is refused now; closing it"
                );
                let revoked = Relayed {
                    status: progress.status(),
                    error: Some(ErrorCode::Revoked),
                    next: Next::Abort,
                    keep_origin: None,
                };
                return (revoked, Some(rule));
            }
        }
        tokio::select! {
            r = &mut relay => return (r, None),
            changed = changes.changed() => match changed {
                Ok(()) => pending = true,
                // The gateway is gone: nothing will signal again.
                Err(_) => return (relay.await, None),
            },
            _ = async { tick.as_mut()?.tick().await; Some(()) }, if tick.is_some() => {
                let now_moved = progress.bytes();
                if let (Some(id), true) = (allowed.session, now_moved != moved) {
                    gw.seats.touch(id, gw.clock.now());
                }
                moved = now_moved;
            }
        }
    }
}

/// The rule that refuses the tunnel now, or `None` while it is still allowed.
fn refused_now(gw: &Gateway, a: &Allowed<'_>) -> Option<String> {
    let rt = gw.runtime.load();
    let principals = gw.identity.principals();
    let Some(principal) = principals.get(a.principal) else {
        return Some("principal-deleted".into());
    };
    let now = gw.clock.now();
    let place = PlaceFacts::at_cached(&rt.config.places, &rt.minutes, a.client, now);
    let session = match a.session {
        Some(id) => match gw.seats.session_facts(id, now) {
            Some(s) => Some(s),
            None => return Some("session-ended".into()),
        },
        None => None,
    };
    let grants = gw.grants.set(&rt.config.lists);
    let now_us = now.as_microsecond();
    let inputs = decide::inputs(
        &rt,
        principal,
        a.target,
        a.method,
        &place,
        session,
        (&grants, now_us),
    );
    let d = policy::decide(&rt.policy, &inputs);
    (!d.is_allow()).then(|| d.rule.id(&rt.config.lists))
}
