//! `/api/v1` twins of what the person's page and the trail pages show: the person's refusals of
//! the last hours with what to ask for (`GET /api/v1/me/refusals`, the list on `/`), and someone's
//! trail (`GET /api/v1/people/{name}/audit`, the page `/people/NAME/audit`).
//!
//! Guarantees: the refusals are the caller's own only; someone else's trail is answered to an
//! admin, or to an approver with a request of that person's in their review queue, and that look
//! is recorded (`audit.read`, detail `api` and the filters) before the events are sent; an
//! approver without such a request gets `404`, whether or not the person exists, and anybody else
//! `403`. GET requests only: nothing here changes state but the record of a look.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::api::{error, json, trail_page, Caller};
use super::pages::{askable, refusals_of, refusals_since};
use super::trail::{self, Reading, TrailParams};
use super::{Portal, PortalError};
use crate::asking::{form_link, refused_host};
use crate::store::{AuditRow, TrailEvent};

/// A refusal as the API gives it: the event, and what to ask for to be let through.
fn refusal_json(r: &AuditRow) -> serde_json::Value {
    let ask = askable(r).then(|| {
        let host = refused_host(&r.destination);
        serde_json::json!({
            "scope": format!("domain:{host}"),
            "destination": host,
            "form": form_link("", &r.destination),
        })
    });
    // A refusal was allowed by no grant: it has no purpose to show.
    let event = TrailEvent {
        row: r.clone(),
        purpose: None,
    };
    serde_json::json!({ "event": trail::event_json(&event), "ask": ask })
}

/// The person's refusals of the last hours, newest first, each with what to ask for
/// (`GET /api/v1/me/refusals`).
#[utoipa::path(
    get,
    path = "/api/v1/me/refusals",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "me",
    responses(
        (status = 200, description = "The person's refusals of the last 6 hours (the newest 20), newest first", body = super::schema::Refusals),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn my_refusals(
    State(portal): State<Arc<Portal>>,
    Caller(v): Caller,
) -> Result<Response, PortalError> {
    let now = portal.now_us();
    let rows = refusals_of(&portal, v.name(), now).await?;
    let refusals: Vec<serde_json::Value> = rows.iter().rev().map(refusal_json).collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({
            "since": trail::format_ts(refusals_since(now)),
            "refusals": refusals,
        }),
    ))
}

/// One page of someone's trail, newest first (`GET /api/v1/people/{name}/audit`): one's own, or
/// for an admin or an approver reviewing that person's request, a recorded look.
#[utoipa::path(
    get,
    path = "/api/v1/people/{name}/audit",
    extensions(("x-gatehouse-access" = json!("reviewer"))),
    tag = "people",
    params(("name" = String, Path, description = "The principal whose trail"), TrailParams),
    responses(
        (status = 200, description = "One page of the trail; a look at someone else's is recorded first", body = super::schema::AuditPage),
        (status = 400, description = "A filter that does not parse", body = super::schema::ApiError),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Neither an admin nor an approver", body = super::schema::ApiError),
        (status = 404, description = "An approver: no request of this person's waits in their review queue", body = super::schema::ApiError),
    )
)]
pub(crate) async fn their_audit(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
    Path(name): Path<String>,
    Query(params): Query<TrailParams>,
) -> Result<Response, PortalError> {
    match trail::reading(&portal, &v, &name).await? {
        Reading::Own => {}
        Reading::Look => trail::record_look(&portal, &v, &name, &params, client, "api").await?,
        Reading::NotReviewer => {
            let why = "only admins, and approvers reviewing this person's request, read someone else's trail: your own is `/api/v1/me/audit`";
            return Ok(error(StatusCode::FORBIDDEN, why));
        }
        Reading::Unseen => {
            let why = format!("no request of `{name}` waits in your review queue");
            return Ok(error(StatusCode::NOT_FOUND, &why));
        }
    }
    trail_page(&portal, &name, &params).await
}
