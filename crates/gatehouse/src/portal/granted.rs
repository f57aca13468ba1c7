//! Grants in the portal (`/grants`): the person's active grants with the time they have left and
//! their purpose; an admin sees everybody's and can revoke one with a reason.
//!
//! Guarantees: a person sees only their own grants unless they are an admin; a revocation goes
//! through [`crate::store::GrantStore::revoke_grant`] with the admin as the one acting (recorded
//! `grant.revoke` with the reason; the running gateways close what depended on it within a
//! second), needs a reason, and needs the portal's origin and the session's CSRF token.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::login::check_post;
use super::records::GrantView;
use super::session::{Person, Viewer};
use super::views::{forbidden, notice, Nav};
use super::{html, Portal, PortalError};
use crate::store::GrantRow;

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    nav: Option<Nav>,
    csrf: String,
    admin: bool,
    grants: Vec<GrantView>,
}

/// The active grants `viewer` may see: their own, or everybody's for an admin.
pub(crate) async fn visible(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<GrantRow>, PortalError> {
    let whose = (!viewer.is_admin()).then(|| viewer.name().to_string());
    portal
        .with_store(move |s| s.grants(whose.as_deref(), false))
        .await
}

/// `GET /grants`.
pub(crate) async fn list(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    let now = portal.now_us();
    let grants = visible(&portal, &viewer)
        .await?
        .iter()
        .map(|g| GrantView::of(g, now))
        .collect();
    let page = GrantsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        admin: viewer.is_admin(),
        grants,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /grants/{id}/revoke`: an admin ends a grant, saying why.
pub(crate) async fn revoke(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<RevokeForm>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(refusal);
    }
    if !viewer.is_admin() {
        return Ok(forbidden(&viewer));
    }
    let back = [("/grants", "Grants")];
    let reason = f.reason.trim().to_string();
    if reason.is_empty() {
        let why = "say why the grant is revoked (a reason): it is recorded".to_string();
        return Ok(notice(
            &viewer,
            StatusCode::BAD_REQUEST,
            "Not revoked",
            why,
            &back,
        ));
    }
    let out = portal
        .act(&viewer, client, move |s, by, now| {
            s.revoke_grant(id, &reason, by, now)
        })
        .await?;
    Ok(match out {
        Ok(_) => Redirect::to("/grants").into_response(),
        Err((status, message)) => notice(&viewer, status, "Not revoked", message, &back),
    })
}
