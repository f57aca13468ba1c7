//! Where a request ends: [`Record`] collects what is known about a request as the pipeline
//! proceeds, and [`Record::finish`] — the one place — turns its [`End`] into the request's audit
//! event and its metrics, whatever path the request took out (relayed, answered by gatehouse,
//! malformed, or cut at the end of the shutdown grace period).
//!
//! The decision recorded follows one rule: a request the policy allowed (and that took its audit
//! slot) is recorded as `allow` with the allowing rule, also when the transfer failed afterwards
//! (the error is recorded beside it); a refusal is `deny` with its rule; anything else is `error`
//! with its code. The page's headers (`respond`) and the metric labels say the same.
//!
//! A new field of the audit event is filled here, from the `Record`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::exchange::Progress;
use super::respond::Outcome;
use crate::audit::{AuditEvent, EventContext, Slot, Stage};
use crate::codes::{ErrorCode, EventDecision};
use crate::state::Gateway;

/// The rule that allowed a request, as recorded and as a metric label.
pub struct AllowedBy {
    pub id: String,
    pub static_id: &'static str,
}

/// Everything recorded about one request, filled in as the pipeline proceeds.
pub struct Record {
    started: Instant,
    /// When the head was complete, by the gateway's clock: the time the request is decided at.
    pub at: jiff::Timestamp,
    pub method: String,
    pub principal: Option<Arc<str>>,
    /// The user name a failed authentication tried.
    pub tried_principal: Option<Box<str>>,
    pub destination: String,
    pub url: Option<String>,
    pub stage: Stage,
    /// Set once the policy allowed the request and its audit slot was reserved: from then on the
    /// request is recorded as allowed by this rule, whatever happens to the transfer.
    pub allowed: Option<AllowedBy>,
    /// The audit slot reserved before anything was forwarded.
    pub slot: Option<Slot>,
    /// The origin address connected to, once connected.
    pub origin: Option<SocketAddr>,
    /// What was relayed so far, kept up to date while forwarding or tunnelling.
    pub progress: Progress,
    /// The facts the decision was made on, once it was made.
    pub context: EventContext,
}

/// How a request ended.
pub enum End {
    /// Forwarded, tunnelled or answered as the last hop: the status sent and the error, if the
    /// transfer failed.
    Relayed {
        status: u16,
        error: Option<ErrorCode>,
    },
    /// gatehouse answered with a page of its own (a refusal, a challenge, a failure).
    Answered(Outcome),
    /// The shutdown grace period ended while the request ran.
    CutShort,
}

impl Record {
    /// A request whose head is complete; `destination` is the target as received (redacted) until
    /// it is understood.
    /// `now` is the gateway's clock: the event's time is the time the decision was made at.
    pub fn new(method: &str, destination: String, now: jiff::Timestamp) -> Record {
        Record {
            started: Instant::now(),
            at: now,
            method: method.to_string(),
            principal: None,
            tried_principal: None,
            destination,
            url: None,
            stage: Stage::Destination,
            allowed: None,
            slot: None,
            origin: None,
            progress: Progress::default(),
            context: EventContext::default(),
        }
    }

    /// A request whose head did not parse.
    pub fn unparsed(now: jiff::Timestamp) -> Record {
        let mut r = Record::new("-", "-".to_string(), now);
        r.stage = Stage::Parse;
        r
    }

    /// The allowing rule's id, once allowed.
    pub fn allowed_rule(&self) -> Option<&str> {
        self.allowed.as_ref().map(|a| a.id.as_str())
    }

    /// Record the request's end: count it in the metrics once, and queue its audit event (in the
    /// reserved slot, or waiting briefly for room).
    pub async fn finish(mut self, gw: &Gateway, client: SocketAddr, end: End) {
        let (decision, rule, static_rule) = match (&end, self.allowed.take()) {
            // A refusal after the decision (by the address check) is a deny with its own rule.
            (End::Answered(outcome), _) if outcome.error_code().is_none() => deny_or_error(outcome),
            (_, Some(a)) => (EventDecision::Allow, a.id, a.static_id),
            (End::Answered(outcome), None) => deny_or_error(outcome),
            (End::CutShort, None) => (
                EventDecision::Error,
                ErrorCode::Shutdown.as_str().to_string(),
                ErrorCode::Shutdown.as_str(),
            ),
            // INVARIANT: nothing is relayed before the decision allowed and the slot was taken.
            (End::Relayed { .. }, None) => (EventDecision::Error, "-".to_string(), "-"),
        };
        let (status, error) = match &end {
            End::Relayed { status, error } => (*status, *error),
            End::Answered(outcome) => (outcome.status(), outcome.error_code()),
            End::CutShort => (self.progress.status(), Some(ErrorCode::Shutdown)),
        };
        let (bytes_up, bytes_down) = self.progress.bytes();
        gw.metrics.decided(decision.as_str(), static_rule);
        if let Some(code) = error {
            gw.metrics.error(code.as_str());
        }
        gw.metrics.bytes_up(bytes_up);
        gw.metrics.bytes_down(bytes_down);
        let event = AuditEvent {
            ts_us: self.at.as_microsecond(),
            principal: self.principal,
            tried_principal: self.tried_principal,
            client,
            method: self.method,
            destination: self.destination,
            url: self.url,
            decision,
            rule,
            status,
            bytes_up,
            bytes_down,
            reply_bytes: bytes_down + self.progress.head_bytes.load(Ordering::Relaxed),
            duration_us: self.started.elapsed().as_micros() as u64,
            stage: self.stage,
            error,
            origin: self.origin,
            content_type: self.progress.take_content_type(),
            context: self.context,
        };
        match self.slot.take() {
            Some(slot) => gw.audit.commit(slot, event),
            None => gw.audit.record(event).await,
        }
    }
}

fn deny_or_error(outcome: &Outcome) -> (EventDecision, String, &'static str) {
    (
        outcome.decision(),
        outcome.rule().to_string(),
        outcome.metric_rule(),
    )
}
