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

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session::{self, ApiAuth, Viewer};
use super::trail::{self, TrailParams};
use super::{Portal, PortalError};

pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }))
}

/// An API caller, as a handler argument: a live portal session's cookie or a service-account
/// token (`Authorization: Bearer`); without either the answer is `401` JSON, with both `400`.
pub(crate) struct Caller(pub Viewer);

impl FromRequestParts<Arc<Portal>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<Caller, Response> {
        match session::api_viewer(portal, &parts.headers).await {
            Ok(ApiAuth::Viewer(v)) => Ok(Caller(*v)),
            Ok(ApiAuth::Anonymous) => Err(error(
                StatusCode::UNAUTHORIZED,
                "log in to the portal first: this API uses the portal's session cookie or a service-account token",
            )),
            Ok(ApiAuth::BadToken) => Err(error(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not a live service-account token of an enabled principal",
            )),
            Ok(ApiAuth::Both) => Err(error(
                StatusCode::BAD_REQUEST,
                "send either the session cookie or a bearer token, not both",
            )),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The logged-in person (`GET /api/v1/me`).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    extensions(("x-gatehouse-access" = json!("self"))),
    tag = "me",
    responses(
        (status = 200, description = "The logged-in person", body = super::schema::Me),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
    )
)]
pub(crate) async fn me(Caller(v): Caller) -> Response {
    let p = &v.principal;
    json(
        StatusCode::OK,
        serde_json::json!({
            "name": p.name,
            "role": p.role.as_str(),
            "tier": p.tier.as_str(),
            "groups": p.groups,
        }),
    )
}

/// One page of the person's own trail, newest first (`GET /api/v1/me/audit`).
#[utoipa::path(
    get,
    path = "/api/v1/me/audit",
    extensions(("x-gatehouse-access" = json!("self"))),
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
    Caller(v): Caller,
    Query(params): Query<TrailParams>,
) -> Result<Response, PortalError> {
    trail_page(&portal, v.name(), &params).await
}

/// One page of `whose`'s trail under the filters `params`, newest first, as the API gives it (a
/// filter that does not parse is `400`). The caller has decided that the reader may see it.
pub(crate) async fn trail_page(
    portal: &Portal,
    whose: &str,
    params: &TrailParams,
) -> Result<Response, PortalError> {
    let filters = match params.check(portal.now_us()) {
        Ok(f) => f,
        Err(message) => return Ok(error(StatusCode::BAD_REQUEST, &message)),
    };
    let (rows, more) = trail::page_of(portal, whose, &filters).await?;
    let events: Vec<serde_json::Value> = rows.iter().map(trail::event_json).collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "events": events, "page": filters.page, "more": more }),
    ))
}
