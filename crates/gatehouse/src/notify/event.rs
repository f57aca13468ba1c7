//! What a webhook receives: one JSON object per action event of the audit trail, with the request
//! or grant it names. Built by hand (nothing in the workspace derives `Serialize`), so that a change
//! inside the store never silently changes what receivers parse; `docs/grants.md` describes it.
//!
//! The request or grant is as the store holds it when the event is sent (which may be later than
//! the action: a request announced as submitted may have been approved since); `event` and `at`
//! say what happened and when.

use serde_json::{json, Value};

use crate::store::{AuditRow, GrantRow, GrantStore, RequestRow};

/// The actions that are notified: requests, grants and guests (not logins, reads or approver
/// scopes).
const NOTIFIED: &[&str] = &["request.", "grant.", "guest."];

/// Whether the action `name` is notified.
pub fn is_notified(name: &str) -> bool {
    NOTIFIED.iter().any(|p| name.starts_with(p))
}

fn time(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
}

/// An access request in a notification.
pub fn request_json(r: &RequestRow) -> Value {
    let reviews: Vec<Value> = r
        .reviews
        .iter()
        .map(|v| json!({ "approver": v.approver, "verdict": v.verdict, "comment": v.comment }))
        .collect();
    json!({
        "id": r.id,
        "principal": r.principal,
        "scope": r.scope,
        "purpose": r.purpose,
        "duration_s": r.duration_s,
        "state": r.state.as_str(),
        "destination": r.destination,
        "approvals_needed": r.approvals_needed,
        "created": time(r.created_us),
        "expires": time(r.expires_us),
        "reviews": reviews,
    })
}

/// A grant in a notification (`starts` and `expires` are `null` while it waits for its first use).
pub fn grant_json(g: &GrantRow) -> Value {
    json!({
        "id": g.id,
        "request_id": g.request_id,
        "principal": g.principal,
        "scope": g.scope,
        "purpose": g.purpose,
        "approvers": g.approvers,
        "state": g.state.as_str(),
        "starts": g.starts_us.map(time),
        "expires": g.expires_us.map(time),
        "ended_by": g.ended_by,
        "end_reason": g.end_reason,
    })
}

/// The notification of action event `row`, with the request or grant it names as `store` holds it
/// now (left out when it cannot be read), or the principal a `guest.*` event is about.
pub fn event_json(row: &AuditRow, store: &dyn GrantStore) -> Value {
    let mut e = json!({
        // The audit event's id: unique, increasing; a receiver drops a repeat by it.
        "id": row.id,
        "event": row.rule,
        "at": time(row.ts_us),
        "actor": row.principal,
        "via": row.client,
        "subject": row.destination,
        "detail": row.url,
    });
    let (kind, name) = row.destination.split_once(':').unwrap_or(("", ""));
    let named = match (kind, name.parse::<i64>()) {
        ("request", Ok(id)) => store
            .request(id)
            .ok()
            .map(|r| ("request", request_json(&r))),
        ("grant", Ok(id)) => store.grant(id).ok().map(|g| ("grant", grant_json(&g))),
        ("principal", _) => Some(("principal", Value::from(name))),
        _ => None,
    };
    if let (Some((key, value)), Some(obj)) = (named, e.as_object_mut()) {
        obj.insert(key.into(), value);
    }
    e
}
