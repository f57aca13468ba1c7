//! `/api/v1` for asking, reviewing and grants: the person's requests (`GET`, and `POST` to
//! submit one), withdrawing one, the approver's queue and verdicts, the grants the person may
//! see, and an admin's revocation. The same handlers' logic as the pages (`asks.rs`, `review.rs`, `granted.rs`), so the
//! same checks and the same store rules answer.
//!
//! Guarantees: authenticated by the portal's session cookie (`401` JSON without one); a POST
//! changes nothing unless it comes from the portal's origin (`Origin`, or `Sec-Fetch-Site:
//! same-origin`) and carries the session's CSRF token in the `X-CSRF-Token` header (`403`
//! JSON); a POST's body is JSON; a refusal by the checks or the store's rules is
//! `{"error": …}` with `400`, `403`, `404` or `409`; another person's request (withdrawn) or one
//! outside the approver's scopes (reviewed) is `404`, as if it did not exist. Each operation's
//! access class is its `x-gatehouse-access` extension in the OpenAPI document.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::api::{error, json, Caller};
use super::asks::{self, AskForm};
use super::records::{grant_json, grant_refusal, request_json};
use super::review::{self, VerdictForm};
use super::session::{self, Viewer};
use super::{granted, Portal, PortalError};
use crate::store::{Reviewed, Submitted};

/// The header that carries the session's CSRF token on API POSTs.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Why a POST is refused before anything is read: another origin, or no or a wrong token.
/// A call with a service-account token carries no cookie, so it needs neither.
pub(crate) fn refused_post(
    portal: &Portal,
    headers: &HeaderMap,
    viewer: &Viewer,
) -> Option<Response> {
    if viewer.bearer() {
        return None;
    }
    if !session::same_origin(portal, headers) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "this request did not come from the portal's origin, so nothing was changed",
        ));
    }
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !token.is_some_and(|t| !t.is_empty() && session::tokens_match(t, &viewer.csrf)) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "the `X-CSRF-Token` header is missing or does not match this session, so nothing was changed",
        ));
    }
    None
}

/// A POST's JSON body, or the `400` that says why it is not one.
pub(crate) fn body_of<T: DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not the JSON this call takes: {e}"),
        ))
    })
}

/// The person's requests, newest first (`GET /api/v1/requests`).
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "requests",
    responses(
        (status = 200, description = "The person's requests, newest first", body = super::schema::Requests),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn my_requests(
    State(portal): State<Arc<Portal>>,
    Caller(v): Caller,
) -> Result<Response, PortalError> {
    let name = v.name().to_string();
    let rows = portal
        .with_store(move |s| s.requests(Some(&name), None, 100))
        .await?;
    let requests: Vec<serde_json::Value> = rows.iter().rev().map(request_json).collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "requests": requests }),
    ))
}

/// Ask for access (`POST /api/v1/requests`): checked and submitted as the form does; an identical
/// live grant is reused (`200` with `reused_grant`) instead of asking again (`201` with `request`).
#[utoipa::path(
    post,
    path = "/api/v1/requests",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "requests",
    request_body(content = super::schema::NewRequestBody, content_type = "application/json"),
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 201, description = "The request submitted", body = super::schema::Submitted),
        (status = 200, description = "An identical live grant reused; nothing asked", body = super::schema::Submitted),
        (status = 400, description = "A check refused the request", body = super::schema::ApiError),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Another origin, or no CSRF token", body = super::schema::ApiError),
    )
)]
pub(crate) async fn submit(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PortalError> {
    if let Some(refusal) = refused_post(&portal, &headers, &v) {
        return Ok(refusal);
    }
    let f: AskForm = match body_of(&body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    Ok(match asks::submit_for(&portal, &v, client, &f).await? {
        Ok(Submitted::Request(r)) => json(
            StatusCode::CREATED,
            serde_json::json!({ "request": request_json(&r) }),
        ),
        Ok(Submitted::Reused(g)) => json(
            StatusCode::OK,
            serde_json::json!({ "reused_grant": grant_json(&g) }),
        ),
        Err((status, message)) => error(status, &message),
    })
}

/// Take back a request still waiting for review (`POST /api/v1/requests/{id}/withdraw`).
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/withdraw",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "requests",
    params(
        ("id" = i64, Path, description = "The request"),
        ("X-CSRF-Token" = String, Header, description = "The session's CSRF token"),
    ),
    responses(
        (status = 200, description = "The request withdrawn", body = super::schema::RequestAnswer),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Another origin, no CSRF token, or not the requester", body = super::schema::ApiError),
        (status = 404, description = "No such request", body = super::schema::ApiError),
        (status = 409, description = "The request is no longer waiting", body = super::schema::ApiError),
    )
)]
pub(crate) async fn withdraw(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if let Some(refusal) = refused_post(&portal, &headers, &v) {
        return Ok(refusal);
    }
    if let Err((status, message)) = asks::withdraw_for(&portal, &v, client, id).await? {
        return Ok(error(status, &message));
    }
    let r = portal.with_grants(move |s| s.request(id)).await?;
    Ok(match r {
        Ok(r) => json(
            StatusCode::OK,
            serde_json::json!({ "request": request_json(&r) }),
        ),
        Err(e) => error(StatusCode::NOT_FOUND, &e.to_string()),
    })
}

/// The approver's queue (`GET /api/v1/review`): `403` for anybody who is no approver or admin.
#[utoipa::path(
    get,
    path = "/api/v1/review",
    extensions(("x-gatehouse-access" = json!("reviewer"))),
    tag = "review",
    responses(
        (status = 200, description = "The requests waiting for this approver, each with the requester's recent requests", body = super::schema::Queue),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Not an approver or admin", body = super::schema::ApiError),
    )
)]
pub(crate) async fn queue(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
) -> Result<Response, PortalError> {
    if !v.reviews() {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "only approvers and admins review requests",
        ));
    }
    let queue = match review::queue_of(&portal, &v, client).await? {
        Ok(q) => q,
        Err(e) => {
            let status = grant_refusal(&e).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(error(status, &e.to_string()));
        }
    };
    let queue: Vec<serde_json::Value> = queue
        .iter()
        .map(|(r, recent)| {
            let recent: Vec<serde_json::Value> = recent.iter().rev().map(request_json).collect();
            serde_json::json!({ "request": request_json(r), "recent": recent })
        })
        .collect();
    Ok(json(StatusCode::OK, serde_json::json!({ "queue": queue })))
}

/// Approve or deny a request (`POST /api/v1/review/{id}`, body `{"verdict": "approve"|"deny",
/// "comment": …}`; a denial needs a comment).
#[utoipa::path(
    post,
    path = "/api/v1/review/{id}",
    extensions(("x-gatehouse-access" = json!("reviewer"))),
    tag = "review",
    request_body(content = super::schema::VerdictBody, content_type = "application/json"),
    params(
        ("id" = i64, Path, description = "The request"),
        ("X-CSRF-Token" = String, Header, description = "The session's CSRF token"),
    ),
    responses(
        (status = 200, description = "The verdict recorded", body = super::schema::ReviewAnswer),
        (status = 400, description = "No verdict, or a denial without a comment", body = super::schema::ApiError),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Another origin, no CSRF token, the requester, or out of the approver's scopes", body = super::schema::ApiError),
        (status = 404, description = "No such request", body = super::schema::ApiError),
        (status = 409, description = "The request is no longer waiting, or already reviewed by this approver", body = super::schema::ApiError),
    )
)]
pub(crate) async fn decide(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PortalError> {
    if let Some(refusal) = refused_post(&portal, &headers, &v) {
        return Ok(refusal);
    }
    if !v.reviews() {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "only approvers and admins review requests",
        ));
    }
    let f: VerdictForm = match body_of(&body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    Ok(
        match review::decide_for(&portal, &v, client, id, &f).await? {
            Ok(Reviewed::Pending { approvals, needed }) => json(
                StatusCode::OK,
                serde_json::json!({ "outcome": "pending", "approvals": approvals, "needed": needed, "grant": null }),
            ),
            Ok(Reviewed::Approved(g)) => json(
                StatusCode::OK,
                serde_json::json!({ "outcome": "approved", "approvals": null, "needed": null, "grant": grant_json(&g) }),
            ),
            Ok(Reviewed::Denied) => json(
                StatusCode::OK,
                serde_json::json!({ "outcome": "denied", "approvals": null, "needed": null, "grant": null }),
            ),
            Err((status, message)) => error(status, &message),
        },
    )
}

/// The active grants the person may see: their own, or everybody's for an admin, whose look at
/// other people's is recorded (`GET /api/v1/grants`).
#[utoipa::path(
    get,
    path = "/api/v1/grants",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "grants",
    responses(
        (status = 200, description = "Active grants: the person's own, or all for an admin", body = super::schema::Grants),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn grants(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
) -> Result<Response, PortalError> {
    let rows = granted::visible(&portal, &v, client).await?;
    let grants: Vec<serde_json::Value> = rows.iter().map(grant_json).collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "grants": grants }),
    ))
}

/// The body of a revocation.
#[derive(Deserialize)]
pub(crate) struct RevokeInput {
    #[serde(default)]
    reason: String,
}

/// End a grant, saying why (`POST /api/v1/grants/{id}/revoke`, body `{"reason": …}`): admins only,
/// as on the grants page; the running gateways close what depended on it within a second.
#[utoipa::path(
    post,
    path = "/api/v1/grants/{id}/revoke",
    extensions(("x-gatehouse-access" = json!("admin"))),
    tag = "grants",
    request_body(content = super::schema::RevokeBody, content_type = "application/json"),
    params(
        ("id" = i64, Path, description = "The grant"),
        ("X-CSRF-Token" = String, Header, description = "The session's CSRF token"),
    ),
    responses(
        (status = 200, description = "The grant revoked", body = super::schema::GrantAnswer),
        (status = 400, description = "No reason", body = super::schema::ApiError),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Another origin, no CSRF token, or not an admin", body = super::schema::ApiError),
        (status = 404, description = "No such grant", body = super::schema::ApiError),
        (status = 409, description = "The grant has already ended", body = super::schema::ApiError),
    )
)]
pub(crate) async fn revoke_grant(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(v): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PortalError> {
    if let Some(refusal) = refused_post(&portal, &headers, &v) {
        return Ok(refusal);
    }
    if !v.is_admin() {
        return Ok(error(StatusCode::FORBIDDEN, "only admins revoke grants"));
    }
    let f: RevokeInput = match body_of(&body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    Ok(
        match granted::revoke_for(&portal, &v, client, id, &f.reason).await? {
            Ok(g) => json(
                StatusCode::OK,
                serde_json::json!({ "grant": grant_json(&g) }),
            ),
            Err((status, message)) => error(status, &message),
        },
    )
}
