//! Approvers' guests: `/guests` (the page: the guests one sponsors and the form to create one) and
//! its API twin `POST /api/v1/guests` (access class `reviewer`). An approver creates a guest
//! sponsored by themself, with a tier or a scope within their own approver scopes, and an expiry;
//! an admin may use it too (and keeps `/admin/guests`, where another sponsor can be named). The
//! action is `admin.rs`'s [`admin::sponsor_guest`]; the store checks the limits in the same
//! transaction that creates the guest, and records `guest.create` (and `grant.create`).
//!
//! Guarantees: `403` for anybody but an approver or admin (`401` on the API without a session or
//! token); a POST from another origin or without the session's CSRF token changes nothing; a guest
//! sponsored by somebody else, or with a tier or scope outside the approver's scopes, is refused
//! (`403`) with the store's message, and nothing is created.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;

use super::admin::{self, NewGuestForm, SPONSORS_ONLY};
use super::admin_api::reply;
use super::admin_pages::{answer, guest_created, Posted};
use super::admin_views::{self as views, GuestView};
use super::api::{error, Caller};
use super::api_grants::{body_of, refused_post};
use super::login::check_post;
use super::session::Person;
use super::views::{forbidden, Nav};
use super::{html, Portal, PortalError};

#[derive(Template)]
#[template(path = "guests.html")]
struct GuestsPage {
    nav: Option<Nav>,
    csrf: String,
    guests: Vec<GuestView>,
}

/// `GET /guests`: the guests the approver sponsors, and the form to create one.
pub(crate) async fn page(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    if !viewer.reviews() {
        return Ok(forbidden(&viewer));
    }
    let mut guests = views::guests(&portal).await?;
    guests.retain(|g| g.sponsor == viewer.name());
    let page = GuestsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        guests,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /guests`: create a guest sponsored by the approver; a generated password is shown once.
pub(crate) async fn create_page(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    headers: HeaderMap,
    Form(f): Form<Posted<NewGuestForm>>,
) -> Result<Response, PortalError> {
    if let Some(r) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(r);
    }
    if !viewer.reviews() {
        return Ok(forbidden(&viewer));
    }
    let out = admin::sponsor_guest(&portal, &viewer, client, &f.form).await?;
    Ok(answer(&viewer, out, "/guests", |c| {
        guest_created(&viewer, c, "/guests")
    }))
}

/// Create a guest sponsored by the caller (`POST /api/v1/guests`); a generated password is in
/// the answer, once.
#[utoipa::path(post, path = "/api/v1/guests", tag = "review",
    operation_id = "sponsor_guest",
    extensions(("x-gatehouse-access" = json!("reviewer"))),
    request_body(content = super::admin_schema::NewGuestBody, content_type = "application/json"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (not with a bearer token)")),
    responses(
        (status = 201, description = "The guest created", body = super::admin_schema::GuestAnswer),
        (status = 400, description = "A check refused the input (no tier or scope, an expiry in the past)", body = super::schema::ApiError),
        (status = 401, description = "No live portal session or token", body = super::schema::ApiError),
        (status = 403, description = "Not an approver or admin, another origin, no CSRF token, another sponsor named, or a tier or scope outside the approver's scopes", body = super::schema::ApiError),
        (status = 409, description = "The name is taken", body = super::schema::ApiError),
    ))]
pub(crate) async fn create(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Caller(viewer): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PortalError> {
    if let Some(r) = refused_post(&portal, &headers, &viewer) {
        return Ok(r);
    }
    if !viewer.reviews() {
        return Ok(error(StatusCode::FORBIDDEN, SPONSORS_ONLY));
    }
    let f: NewGuestForm = match body_of(&body) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let out = admin::sponsor_guest(&portal, &viewer, client, &f);
    reply(out, StatusCode::CREATED, |c| {
        serde_json::json!({ "guest": views::guest_json(&views::guest_view(&c.guest)), "password": c.password })
    })
    .await
}
