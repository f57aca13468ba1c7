//! `/api/v1`: the person's own data as JSON, authenticated by the portal's session cookie.
//!
//! - `GET /api/v1/me`: name, role, tier, groups;
//! - `GET /api/v1/me/audit`: one page of the person's trail, newest first, with the same filters
//!   as `/me/audit` (`since`, `until`, `destination`, `decision`, `page`):
//!   `{"events": […], "page": N, "more": bool}`, each event as the JSON lines export gives it.
//!
//! Without a live session the answer is `401 {"error": …}`; a filter that does not parse is
//! `400 {"error": …}`. The JSON is built by hand from the store's rows: the API owns its format.
//! GET requests only: nothing here changes state. The OpenAPI document (`openapi.rs`) is generated
//! from the `#[utoipa::path]` attributes here.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session::{self, Viewer};
use super::trail::{self, TrailParams};
use super::{Portal, PortalError};

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }))
}

async fn viewer_or_401(
    portal: &Portal,
    headers: &HeaderMap,
) -> Result<Result<Viewer, Response>, PortalError> {
    Ok(session::viewer(portal, headers).await?.ok_or_else(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "log in to the portal first: this API uses the portal's session cookie",
        )
    }))
}

/// The logged-in person (`GET /api/v1/me`).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses(
        (status = 200, description = "The logged-in person", body = super::schema::Me),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn me(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let v = match viewer_or_401(&portal, &headers).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let p = &v.principal;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({
            "name": p.name,
            "role": p.role.as_str(),
            "tier": p.tier.as_str(),
            "groups": p.groups,
        }),
    ))
}

/// One page of the person's own trail, newest first (`GET /api/v1/me/audit`).
#[utoipa::path(
    get,
    path = "/api/v1/me/audit",
    tag = "me",
    params(TrailParams),
    responses(
        (status = 200, description = "One page of the person's own trail", body = super::schema::AuditPage),
        (status = 400, description = "A filter that does not parse", body = super::schema::ApiError),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn my_audit(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Query(params): Query<TrailParams>,
) -> Result<Response, PortalError> {
    let v = match viewer_or_401(&portal, &headers).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let filters = match params.check(portal.now_us()) {
        Ok(f) => f,
        Err(message) => return Ok(error(StatusCode::BAD_REQUEST, &message)),
    };
    let (rows, more) = trail::page_of(&portal, v.name(), &filters).await?;
    let events: Vec<serde_json::Value> = rows.iter().map(trail::event_json).collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "events": events, "page": filters.page, "more": more }),
    ))
}
