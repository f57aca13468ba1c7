//! Requests and grants as the portal's pages and its API show them: [`RequestView`] and
//! [`GrantView`] for the templates, [`request_json`] and [`grant_json`] for `/api/v1` (field names
//! are a stable format, built by hand: the API owns its format), [`grant_refusal`], which
//! turns a refusal of the store's rules into the status a page or answer carries, and
//! [`unseen_request`], which answers a refusal that would reveal another person's request as if
//! the request did not exist.

use access::RequestState;
use axum::http::StatusCode;

use super::trail::format_ts;
use crate::asking::human;
use crate::store::{GrantError, GrantRow, RequestRow};

/// A request as a row of a page.
pub(crate) struct RequestView {
    pub id: i64,
    pub principal: String,
    pub scope: String,
    pub duration: String,
    /// Empty without a claim-by window.
    pub claim_by: String,
    pub purpose: String,
    pub state: &'static str,
    pub destination: String,
    pub created: String,
    /// `1 of 2`.
    pub approvals: String,
    /// `approve by NAME: comment` lines.
    pub reviews: Vec<String>,
    /// Still waiting for review: its requester may withdraw it.
    pub pending: bool,
}

fn secs(s: i64) -> String {
    human(std::time::Duration::from_secs(s.max(0).unsigned_abs()))
}

fn approvals(r: &RequestRow) -> usize {
    r.reviews.iter().filter(|v| v.verdict == "approve").count()
}

impl RequestView {
    pub fn of(r: &RequestRow) -> RequestView {
        RequestView {
            id: r.id,
            principal: r.principal.clone(),
            scope: r.scope.clone(),
            duration: secs(r.duration_s),
            claim_by: r.claim_by_s.map(secs).unwrap_or_default(),
            purpose: r.purpose.clone(),
            state: r.state.as_str(),
            destination: r.destination.clone().unwrap_or_default(),
            created: format_ts(r.created_us),
            approvals: format!("{} of {}", approvals(r), r.approvals_needed),
            reviews: r
                .reviews
                .iter()
                .map(|v| format!("{} by {}: {}", v.verdict, v.approver, v.comment))
                .collect(),
            pending: r.state == RequestState::Submitted,
        }
    }
}

/// A grant as a row of a page.
pub(crate) struct GrantView {
    pub id: i64,
    pub principal: String,
    pub scope: String,
    pub purpose: String,
    pub approvers: String,
    /// How long it still lasts, or when it must first be used.
    pub left: String,
}

impl GrantView {
    pub fn of(g: &GrantRow, now_us: i64) -> GrantView {
        let left = match (g.expires_us, g.claim_by_us) {
            (Some(e), _) if e > now_us => format!(
                "{} left (until {})",
                secs((e - now_us) / 1_000_000),
                format_ts(e)
            ),
            (Some(_), _) => "ended".to_string(),
            (None, Some(c)) => format!(
                "{} once first used, before {}",
                secs(g.duration_s),
                format_ts(c)
            ),
            (None, None) => "no end".to_string(),
        };
        GrantView {
            id: g.id,
            principal: g.principal.clone(),
            scope: g.scope.clone(),
            purpose: g.purpose.clone(),
            approvers: g.approvers.clone(),
            left,
        }
    }
}

/// A request as `/api/v1` gives it.
pub(crate) fn request_json(r: &RequestRow) -> serde_json::Value {
    let reviews: Vec<serde_json::Value> = r
        .reviews
        .iter()
        .map(|v| {
            serde_json::json!({
                "approver": v.approver,
                "verdict": v.verdict,
                "comment": v.comment,
                "time": format_ts(v.created_us),
            })
        })
        .collect();
    serde_json::json!({
        "id": r.id,
        "principal": r.principal,
        "scope": r.scope,
        "duration_s": r.duration_s,
        "claim_by_s": r.claim_by_s,
        "purpose": r.purpose,
        "state": r.state.as_str(),
        "approvals_needed": r.approvals_needed,
        "approvals": approvals(r),
        "destination": r.destination,
        "created": format_ts(r.created_us),
        "expires": format_ts(r.expires_us),
        "reviews": reviews,
    })
}

/// A grant as `/api/v1` gives it.
pub(crate) fn grant_json(g: &GrantRow) -> serde_json::Value {
    serde_json::json!({
        "id": g.id,
        "request_id": g.request_id,
        "principal": g.principal,
        "scope": g.scope,
        "purpose": g.purpose,
        "approvers": g.approvers,
        "state": g.state.as_str(),
        "starts": g.starts_us.map(format_ts),
        "expires": g.expires_us.map(format_ts),
        "claim_by": g.claim_by_us.map(format_ts),
    })
}

/// The status of a refusal by the store's rules (who may do what, which transitions exist); a
/// store failure is no refusal (`None`: the answer is a 500).
pub(crate) fn grant_refusal(e: &GrantError) -> Option<StatusCode> {
    Some(match e {
        GrantError::Store(_) => return None,
        GrantError::NoSuchRequest(_) | GrantError::NoSuchGrant(_) => StatusCode::NOT_FOUND,
        GrantError::Role { .. }
        | GrantError::OwnRequest(..)
        | GrantError::OutOfScope { .. }
        | GrantError::NotRequester { .. }
        | GrantError::GuestOutOfScope { .. }
        | GrantError::OtherSponsor { .. }
        | GrantError::Disabled(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::CONFLICT,
    })
}

/// A refusal of the store's rules about request `id` that would tell the caller the request exists
/// and whose it is (another person's request withdrawn, a request outside an approver's scopes
/// reviewed) turned into "no such request": the caller learns nothing of records they may not see.
pub(crate) fn unseen_request(id: i64) -> impl FnOnce(GrantError) -> GrantError {
    move |e| match e {
        GrantError::NotRequester { .. } | GrantError::OutOfScope { .. } => {
            GrantError::NoSuchRequest(id)
        }
        e => e,
    }
}
