//! The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`, generated from the code with
//! `utoipa`: the paths from the `#[utoipa::path]` attributes on the handlers of `api.rs`, the
//! query parameters from [`super::trail::TrailParams`], and the bodies from the schema types of
//! `schema.rs` (the paths of `api_grants.rs` too).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dashboard_schema::{
    Dashboard, DashboardBucket, DashboardCategory, DashboardGrants, DashboardLocation,
    DashboardPending, DashboardRefusals, DashboardRequest, DashboardRule, DashboardSeries,
    DashboardSession, DashboardTraffic,
};
use super::schema::{
    ApiError, AuditPage, Event, Grant, Grants, Me, NewRequestBody, Queue, QueueItem, Request,
    RequestAnswer, Requests, Review, ReviewAnswer, Submitted, VerdictBody,
};
use super::session::SESSION_COOKIE;

/// The API, as an OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse portal API",
        description = "A person's own records, requests and grants as JSON, and the approvers' queue; POSTs need the portal's origin and the session's CSRF token in `X-CSRF-Token`. Authenticated by the portal's session cookie (log in at `/login`)."
    ),
    paths(
        super::api::me,
        super::api::my_audit,
        super::api_grants::my_requests,
        super::api_grants::submit,
        super::api_grants::withdraw,
        super::api_grants::queue,
        super::api_grants::decide,
        super::api_grants::grants,
        super::dashboard::api,
        document
    ),
    components(schemas(
        Me,
        Event,
        AuditPage,
        ApiError,
        Review,
        Request,
        Requests,
        RequestAnswer,
        Grant,
        Grants,
        NewRequestBody,
        Submitted,
        QueueItem,
        Queue,
        VerdictBody,
        ReviewAnswer,
        Dashboard,
        DashboardLocation,
        DashboardSession,
        DashboardPending,
        DashboardRequest,
        DashboardGrants,
        DashboardRefusals,
        DashboardRule,
        DashboardTraffic,
        DashboardSeries,
        DashboardCategory,
        DashboardBucket
    )),
    modifiers(&SessionCookie),
    security(("session" = []))
)]
pub struct ApiDoc;

/// The security scheme: the portal's session cookie.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// This document (`GET /api/v1/openapi.json`).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "api",
    security(()),
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub(crate) async fn document() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot write the OpenAPI document");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
