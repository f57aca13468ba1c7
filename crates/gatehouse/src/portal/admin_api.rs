//! `/api/v1/admin/…`: the admin pages' twins as JSON (access class `admin`): principals (list,
//! create, change), groups (list, create, delete), approver scopes (list, add, remove), guests (list, create), service-account
//! tokens (list, create, revoke) and the running configuration's locations, terminals and rules
//! (read-only). The actions are `admin.rs`'s, the same as the pages'.
//!
//! Guarantees: `401` without a session or token, `403` JSON for anybody but an admin (before the
//! body is read); a POST with a session cookie needs the portal's origin and the session's CSRF
//! token in `X-CSRF-Token` (a bearer call carries no cookie and needs neither); a refusal is
//! `{"error": …}` with `400`, `403`, `404` or `409`, and nothing changed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::admin::{
    self, ApproverScope, Change, NewGroup, NewGuestForm, NewToken, NewUser, Outcome,
};
use super::admin_views::{self as views, AdminCaller, ApiAct};
use super::api::{error, json};
use super::api_grants::{body_of, refused_post};
use super::{Portal, PortalError};

/// The checks every admin POST passes, and its body: the refusal to answer instead.
fn posted<T: DeserializeOwned>(a: &ApiAct, body: &Bytes) -> Result<T, Box<Response>> {
    if let Some(r) = refused_post(&a.portal, &a.headers, &a.viewer) {
        return Err(Box::new(r));
    }
    body_of(body)
}

/// An action's answer: `status` with `done`'s body, or the refusal as `{"error": …}`.
pub(crate) async fn reply<T>(
    out: impl std::future::Future<Output = Outcome<T>>,
    status: StatusCode,
    done: impl FnOnce(T) -> serde_json::Value,
) -> Result<Response, PortalError> {
    Ok(match out.await? {
        Ok(v) => json(status, done(v)),
        Err((status, message)) => error(status, &message),
    })
}

/// Every principal, guests with their sponsor and expiry (`GET /api/v1/admin/principals`).
#[utoipa::path(get, path = "/api/v1/admin/principals", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Every principal", body = super::admin_schema::Principals),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn principals(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, PortalError> {
    let list: Vec<_> = views::principals(&portal)
        .await?
        .iter()
        .map(views::principal_json)
        .collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "principals": list }),
    ))
}

/// A principal as listed, with the actions just recorded.
async fn principal_answer(
    portal: &Portal,
    name: &str,
    status: StatusCode,
    recorded: &[&str],
) -> Result<Response, PortalError> {
    Ok(match views::principal(portal, name).await? {
        Some(p) => json(
            status,
            serde_json::json!({ "principal": views::principal_json(&p), "recorded": recorded }),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no principal named `{name}`"),
        ),
    })
}

/// Create a user with an initial password (`POST /api/v1/admin/principals`).
#[utoipa::path(post, path = "/api/v1/admin/principals", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::NewUserBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The principal created", body = super::admin_schema::PrincipalAnswer),
        (status = 400, description = "A check refused the input", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 409, description = "The name is taken", body = super::schema::ApiError),
    ))]
pub(crate) async fn create(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    let f: NewUser = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let name = f.name.trim().to_string();
    match admin::create_user(&a.portal, &a.viewer, a.client, &f).await? {
        Ok(_) => principal_answer(&a.portal, &name, StatusCode::CREATED, &[]).await,
        Err((status, message)) => Ok(error(status, &message)),
    }
}

/// Change a principal's tier, role, groups or enabled (`POST /api/v1/admin/principals/{name}`).
#[utoipa::path(post, path = "/api/v1/admin/principals/{name}", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::ChangeBody, content_type = "application/json"),
    params(
        ("name" = String, Path, description = "The principal"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)"),
    ),
    responses(
        (status = 200, description = "The principal as it is now, and the actions recorded", body = super::admin_schema::PrincipalAnswer),
        (status = 400, description = "A check refused the input (an unknown tier, role or group)", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 404, description = "No such principal", body = super::schema::ApiError),
        (status = 409, description = "The last enabled admin would go", body = super::schema::ApiError),
    ))]
pub(crate) async fn change(
    a: ApiAct,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, PortalError> {
    let f: Change = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    match admin::change_user(&a.portal, &a.viewer, a.client, name.clone(), &f).await? {
        Ok(done) => principal_answer(&a.portal, &name, StatusCode::OK, &done).await,
        Err((status, message)) => Ok(error(status, &message)),
    }
}

/// Every approver scope (`GET /api/v1/admin/approvers`).
#[utoipa::path(get, path = "/api/v1/admin/approvers", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Who reviews which requests", body = super::admin_schema::Approvers),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn approvers(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, PortalError> {
    let list: Vec<_> = views::approvers(&portal)
        .await?
        .iter()
        .map(views::approver_json)
        .collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "approvers": list }),
    ))
}

async fn approver_scope(a: ApiAct, body: Bytes, add: bool) -> Result<Response, PortalError> {
    let f: ApproverScope = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let approver = f.approver.trim().to_string();
    let status = match add {
        true => StatusCode::CREATED,
        false => StatusCode::OK,
    };
    let out = admin::approver(&a.portal, &a.viewer, a.client, &f, add);
    reply(out, status, |scope| {
        views::approver_json(&(approver, scope))
    })
    .await
}

/// Let a principal or `group:NAME` review requests within a scope (`POST /api/v1/admin/approvers`).
#[utoipa::path(post, path = "/api/v1/admin/approvers", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::ApproverBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The scope given", body = super::admin_schema::ApproverScope),
        (status = 400, description = "A scope that names nothing", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, no CSRF token, or an approver without the role", body = super::schema::ApiError),
        (status = 404, description = "No such principal or group", body = super::schema::ApiError),
    ))]
pub(crate) async fn add_approver(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    approver_scope(a, body, true).await
}

/// Take an approver scope back (`POST /api/v1/admin/approvers/remove`).
#[utoipa::path(post, path = "/api/v1/admin/approvers/remove", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::ApproverBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 200, description = "The scope taken back", body = super::admin_schema::ApproverScope),
        (status = 400, description = "A scope that does not parse", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 409, description = "No such approver scope", body = super::schema::ApiError),
    ))]
pub(crate) async fn remove_approver(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    approver_scope(a, body, false).await
}

/// Every guest (`GET /api/v1/admin/guests`).
#[utoipa::path(get, path = "/api/v1/admin/guests", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Guests with their sponsor and expiry", body = super::admin_schema::Guests),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn guests(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, PortalError> {
    let list: Vec<_> = views::guests(&portal)
        .await?
        .iter()
        .map(views::guest_json)
        .collect();
    Ok(json(StatusCode::OK, serde_json::json!({ "guests": list })))
}

/// Create a guest (`POST /api/v1/admin/guests`); a generated password is in the answer, once.
#[utoipa::path(post, path = "/api/v1/admin/guests", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::NewGuestBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The guest created", body = super::admin_schema::GuestAnswer),
        (status = 400, description = "A check refused the input (no tier or scope, an expiry in the past)", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, no CSRF token, or a sponsor without the role", body = super::schema::ApiError),
        (status = 409, description = "The name is taken", body = super::schema::ApiError),
    ))]
pub(crate) async fn create_guest(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    let f: NewGuestForm = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    reply(admin::create_guest(&a.portal, &a.viewer, a.client, &f), StatusCode::CREATED, |c| {
        serde_json::json!({ "guest": views::guest_json(&views::guest_view(&c.guest)), "password": c.password })
    })
    .await
}

/// Every service-account token, newest first (`GET /api/v1/admin/tokens`).
#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Tokens (never their secret)", body = super::admin_schema::Tokens),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn tokens(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, PortalError> {
    let list: Vec<_> = views::tokens(&portal)
        .await?
        .iter()
        .map(views::token_json)
        .collect();
    Ok(json(StatusCode::OK, serde_json::json!({ "tokens": list })))
}

/// Create a token (`POST /api/v1/admin/tokens`): its secret is in the answer, once.
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::NewTokenBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The token created, with its secret", body = super::admin_schema::TokenCreated),
        (status = 400, description = "An expiry that does not parse or is past", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 404, description = "No such principal", body = super::schema::ApiError),
    ))]
pub(crate) async fn create_token(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    let f: NewToken = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let now = a.portal.now_us();
    reply(admin::create_token(&a.portal, &a.viewer, a.client, &f), StatusCode::CREATED, |(t, secret)| {
        serde_json::json!({ "token": views::token_json(&views::token_view(&t, now)), "secret": secret })
    })
    .await
}

/// Revoke a token (`POST /api/v1/admin/tokens/{id}/revoke`).
#[utoipa::path(post, path = "/api/v1/admin/tokens/{id}/revoke", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    params(
        ("id" = i64, Path, description = "The token"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)"),
    ),
    responses(
        (status = 200, description = "The token revoked", body = super::admin_schema::TokenAnswer),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 404, description = "No such token", body = super::schema::ApiError),
        (status = 409, description = "Already revoked", body = super::schema::ApiError),
    ))]
pub(crate) async fn revoke_token(a: ApiAct, Path(id): Path<i64>) -> Result<Response, PortalError> {
    if let Some(r) = refused_post(&a.portal, &a.headers, &a.viewer) {
        return Ok(r);
    }
    let now = a.portal.now_us();
    reply(
        admin::revoke_token(&a.portal, &a.viewer, a.client, id),
        StatusCode::OK,
        |t| serde_json::json!({ "token": views::token_json(&views::token_view(&t, now)) }),
    )
    .await
}

/// The running configuration's locations, terminals and rules (`GET /api/v1/admin/config`).
#[utoipa::path(get, path = "/api/v1/admin/config", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "What is in force; edited in files", body = super::admin_schema::ConfigShown),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn config(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Response {
    json(
        StatusCode::OK,
        views::config_json(&views::config_view(&portal)),
    )
}

/// Every group with its members (`GET /api/v1/admin/groups`).
#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Every group with its members", body = super::admin_schema::Groups),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    ))]
pub(crate) async fn groups(
    State(portal): State<Arc<Portal>>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, PortalError> {
    let list: Vec<_> = views::groups(&portal)
        .await?
        .iter()
        .map(views::group_json)
        .collect();
    Ok(json(StatusCode::OK, serde_json::json!({ "groups": list })))
}

/// Create an empty group (`POST /api/v1/admin/groups`).
#[utoipa::path(post, path = "/api/v1/admin/groups", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    request_body(content = super::admin_schema::NewGroupBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The group created", body = super::admin_schema::GroupAnswer),
        (status = 400, description = "A name the command line refuses too", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
        (status = 409, description = "The name is taken", body = super::schema::ApiError),
    ))]
pub(crate) async fn create_group(a: ApiAct, body: Bytes) -> Result<Response, PortalError> {
    let f: NewGroup = match posted(&a, &body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let out = admin::create_group(&a.portal, &a.viewer, a.client, &f);
    reply(out, StatusCode::CREATED, |name| {
        let g = views::GroupView {
            name,
            members: vec![],
        };
        serde_json::json!({ "group": views::group_json(&g) })
    })
    .await
}

/// Delete a group and its memberships (`POST /api/v1/admin/groups/{name}/delete`).
#[utoipa::path(post, path = "/api/v1/admin/groups/{name}/delete", tag = "admin",
    extensions(("x-gatehouse-access" = json!("admin"))),
    params(
        ("name" = String, Path, description = "The group"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)"),
    ),
    responses(
        (status = 200, description = "The group deleted, with the members it had", body = super::admin_schema::GroupAnswer),
        (status = 400, description = "No such group", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an admin, another origin, or no CSRF token", body = super::schema::ApiError),
    ))]
pub(crate) async fn delete_group(
    a: ApiAct,
    Path(name): Path<String>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused_post(&a.portal, &a.headers, &a.viewer) {
        return Ok(r);
    }
    let out = admin::delete_group(&a.portal, &a.viewer, a.client, name.clone());
    reply(out, StatusCode::OK, |members| {
        let g = views::GroupView { name, members };
        serde_json::json!({ "group": views::group_json(&g) })
    })
    .await
}
