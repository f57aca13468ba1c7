//! The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`, generated from the code with
//! `utoipa`: the paths from the `#[utoipa::path]` attributes on the handlers of `api.rs`, the
//! query parameters from [`super::trail::TrailParams`], and the bodies from the schema types of
//! `schema.rs` (the paths of `api_grants.rs`, `api_people.rs` and `admin_api.rs` too, with
//! `admin_schema.rs`). Every operation carries its access class as the extension
//! `x-gatehouse-access` (`public`, `self`, `reviewer`, `admin`; `docs/portal.md`), which the
//! authorisation matrix test reads.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::admin_schema;
use super::dashboard_schema::{
    Dashboard, DashboardBucket, DashboardCategory, DashboardGrants, DashboardLocation,
    DashboardPending, DashboardRefusals, DashboardRequest, DashboardRule, DashboardSeries,
    DashboardSession, DashboardTraffic,
};
use super::schema::{
    ApiError, Ask, AuditPage, Event, Grant, GrantAnswer, Grants, Me, NewRequestBody, Queue,
    QueueItem, Refusal, Refusals, Request, RequestAnswer, Requests, Review, ReviewAnswer,
    RevokeBody, Submitted, VerdictBody,
};
use super::session::SESSION_COOKIE;

/// The API, as an OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse portal API",
        description = "A person's own records, requests and grants as JSON, and the approvers' queue; POSTs need the portal's origin and the session's CSRF token in `X-CSRF-Token`. Authenticated by the portal's session cookie (log in at `/login`), or by a service-account token (`Authorization: Bearer gh_…`, no CSRF token needed). `/api/v1/admin/…` is for admins."
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
        // The access classes' twins of page actions (issue 12: the authorisation matrix).
        super::api_grants::revoke_grant,
        super::api_people::my_refusals,
        super::api_people::their_audit,
        super::admin_api::principals,
        super::admin_api::create,
        super::admin_api::change,
        super::admin_api::approvers,
        super::admin_api::add_approver,
        super::admin_api::remove_approver,
        super::admin_api::guests,
        super::admin_api::create_guest,
        super::admin_api::tokens,
        super::admin_api::create_token,
        super::admin_api::revoke_token,
        super::admin_api::config,
        super::admin_api::groups,
        super::admin_api::create_group,
        super::admin_api::delete_group,
        super::sponsor::create,
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
        Ask,
        Refusal,
        Refusals,
        RevokeBody,
        GrantAnswer,
        admin_schema::Principal,
        admin_schema::Principals,
        admin_schema::PrincipalAnswer,
        admin_schema::NewUserBody,
        admin_schema::ChangeBody,
        admin_schema::ApproverScope,
        admin_schema::Approvers,
        admin_schema::ApproverBody,
        admin_schema::Guest,
        admin_schema::Guests,
        admin_schema::NewGuestBody,
        admin_schema::GuestAnswer,
        admin_schema::Token,
        admin_schema::Tokens,
        admin_schema::TokenAnswer,
        admin_schema::NewTokenBody,
        admin_schema::TokenCreated,
        admin_schema::Location,
        admin_schema::Terminal,
        admin_schema::RuleShown,
        admin_schema::ConfigShown,
        admin_schema::Group,
        admin_schema::Groups,
        admin_schema::GroupAnswer,
        admin_schema::NewGroupBody,
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
    modifiers(&SessionCookie, &BearerToken),
    security(("session" = []), ("token" = []))
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

/// The second security scheme: a service-account token (`Authorization: Bearer gh_…`), made by
/// an admin (`gatehouse token create`, `/admin/tokens`); accepted on `/api/v1` only.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(utoipa::openapi::security::Http::new(
                utoipa::openapi::security::HttpAuthScheme::Bearer,
            )),
        );
    }
}

/// This document (`GET /api/v1/openapi.json`).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "api",
    extensions(("x-gatehouse-access" = json!("public"))),
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
