//! [`Event`]: what a webhook receives, as JSON — the boundary type of notifications, built by hand
//! from an action event of the audit trail and the request or grant it names, so that a change
//! inside the store never silently changes what receivers parse.
//!
//! The request or grant is as the store holds it when the event is sent (which may be later than
//! the action: a request announced as submitted may have been approved since); `event` and `at`
//! say what happened and when.

use serde::Serialize;

use crate::store::{AuditRow, GrantRow, GrantStore, RequestRow};

/// The actions that are notified: requests, grants and guests (not logins, reads or approver
/// scopes).
const NOTIFIED: &[&str] = &["request.", "grant.", "guest."];

/// Whether the action `name` is notified.
pub fn is_notified(name: &str) -> bool {
    NOTIFIED.iter().any(|p| name.starts_with(p))
}

/// One notification.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The audit event's id: unique, increasing; a receiver can drop a repeat by it.
    pub id: i64,
    /// The action: `request.submit`, `request.approve`, `grant.revoke`, `grant.expiring`, …
    pub event: String,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    /// Who did it: a principal, `cli`, or `gatehouse` for the gateway itself.
    pub actor: Option<String>,
    /// Through what: `cli`, `portal <client socket>`, `gatehouse`.
    pub via: String,
    /// `request:ID`, `grant:ID` or `principal:NAME`.
    pub subject: String,
    /// The action's detail as recorded (a comment, a reason, the time left).
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantJson>,
    /// The principal a `guest.*` event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// An access request in a notification.
#[derive(Debug, Clone, Serialize)]
pub struct RequestJson {
    pub id: i64,
    pub principal: String,
    pub scope: String,
    pub purpose: String,
    pub duration_s: i64,
    pub state: String,
    pub destination: Option<String>,
    pub approvals_needed: u32,
    pub created: String,
    pub expires: String,
    pub reviews: Vec<ReviewJson>,
}

/// One review of a request.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewJson {
    pub approver: String,
    pub verdict: String,
    pub comment: String,
}

/// A grant in a notification.
#[derive(Debug, Clone, Serialize)]
pub struct GrantJson {
    pub id: i64,
    pub request_id: Option<i64>,
    pub principal: String,
    pub scope: String,
    pub purpose: String,
    pub approvers: String,
    pub state: String,
    /// `None` while it waits for its first use.
    pub starts: Option<String>,
    pub expires: Option<String>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
}

fn time(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
}

impl From<&RequestRow> for RequestJson {
    fn from(r: &RequestRow) -> Self {
        RequestJson {
            id: r.id,
            principal: r.principal.clone(),
            scope: r.scope.clone(),
            purpose: r.purpose.clone(),
            duration_s: r.duration_s,
            state: r.state.as_str().to_string(),
            destination: r.destination.clone(),
            approvals_needed: r.approvals_needed,
            created: time(r.created_us),
            expires: time(r.expires_us),
            reviews: r
                .reviews
                .iter()
                .map(|v| ReviewJson {
                    approver: v.approver.clone(),
                    verdict: v.verdict.clone(),
                    comment: v.comment.clone(),
                })
                .collect(),
        }
    }
}

impl From<&GrantRow> for GrantJson {
    fn from(g: &GrantRow) -> Self {
        GrantJson {
            id: g.id,
            request_id: g.request_id,
            principal: g.principal.clone(),
            scope: g.scope.clone(),
            purpose: g.purpose.clone(),
            approvers: g.approvers.clone(),
            state: g.state.as_str().to_string(),
            starts: g.starts_us.map(time),
            expires: g.expires_us.map(time),
            ended_by: g.ended_by.clone(),
            end_reason: g.end_reason.clone(),
        }
    }
}

impl Event {
    /// The notification of action event `row`, with the request or grant it names as `store`
    /// holds it now (left out when it cannot be read).
    pub fn of(row: &AuditRow, store: &dyn GrantStore) -> Event {
        let mut e = Event {
            id: row.id,
            event: row.rule.clone(),
            at: time(row.ts_us),
            actor: row.principal.clone(),
            via: row.client.clone(),
            subject: row.destination.clone(),
            detail: row.url.clone(),
            request: None,
            grant: None,
            principal: None,
        };
        let (kind, name) = row.destination.split_once(':').unwrap_or(("", ""));
        match (kind, name.parse::<i64>()) {
            ("request", Ok(id)) => e.request = store.request(id).ok().as_ref().map(Into::into),
            ("grant", Ok(id)) => e.grant = store.grant(id).ok().as_ref().map(Into::into),
            ("principal", _) => e.principal = Some(name.to_string()),
            _ => {}
        }
        e
    }
}
