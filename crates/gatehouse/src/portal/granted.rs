//! Grants in the portal (`/grants`): the person's active grants with the time they have left and
//! their purpose; an admin sees everybody's and can revoke one with a reason.
//!
//! Guarantees: a person sees only their own grants unless they are an admin, whose look at other
//! people's grants is recorded (`audit.read`) before they are sent; a revocation goes
//! through [`crate::store::GrantStore::revoke_grant`] with the admin as the one acting (recorded
//! `grant.revoke` with the reason; the running gateways close what depended on it within a
//! second), needs a reason, and needs the portal's origin and the session's CSRF token.

use std::collections::BTreeMap;
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
use super::{html, via, Portal, PortalError};
use crate::store::{AuditRow, GrantRow};

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    nav: Option<Nav>,
    csrf: String,
    admin: bool,
    grants: Vec<GrantView>,
}

/// The active grants `viewer` may see: their own, or everybody's for an admin. An admin's look at
/// other people's grants is a look at their records: one `audit.read` per person shown (subject
/// `principal:NAME`, detail the grant ids) is stored with the reading, before anything is sent.
pub(crate) async fn visible(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
) -> Result<Vec<GrantRow>, PortalError> {
    let me = viewer.name().to_string();
    let all = viewer.is_admin();
    let (now, from) = (portal.now_us(), via(client));
    portal
        .with_store(move |s| {
            let rows = s.grants((!all).then_some(me.as_str()), false)?;
            let mut shown: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for g in rows.iter().filter(|g| g.principal != me) {
                shown
                    .entry(&g.principal)
                    .or_default()
                    .push(g.id.to_string());
            }
            let looks: Vec<AuditRow> = shown
                .iter()
                .map(|(whose, ids)| {
                    let detail = format!("grants: {}", ids.join(","));
                    let subject = format!("principal:{whose}");
                    AuditRow::action(now, &me, &from, "audit.read", &subject, Some(detail))
                })
                .collect();
            if !looks.is_empty() {
                s.append_audit(&looks)?;
            }
            Ok(rows)
        })
        .await
}

/// `GET /grants`.
pub(crate) async fn list(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    let now = portal.now_us();
    let grants = visible(&portal, &viewer, client)
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
    let back = [("/grants", "Grants")];
    Ok(
        match revoke_for(&portal, &viewer, client, id, &f.reason).await? {
            Ok(_) => Redirect::to("/grants").into_response(),
            Err((StatusCode::FORBIDDEN, _)) if !viewer.is_admin() => forbidden(&viewer),
            Err((status, message)) => notice(&viewer, status, "Not revoked", message, &back),
        },
    )
}

/// Revoke grant `id` as `viewer`, who must be an admin (`403`), with `reason` (required, `400`):
/// the grant ended, or a refusal with its status and message.
pub(crate) async fn revoke_for(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    id: i64,
    reason: &str,
) -> Result<Result<GrantRow, (StatusCode, String)>, PortalError> {
    if !viewer.is_admin() {
        let why = "only admins revoke grants".to_string();
        return Ok(Err((StatusCode::FORBIDDEN, why)));
    }
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        let why = "say why the grant is revoked (a reason): it is recorded".to_string();
        return Ok(Err((StatusCode::BAD_REQUEST, why)));
    }
    portal
        .act(viewer, client, move |s, by, now| {
            s.revoke_grant(id, &reason, by, now)
        })
        .await
}
