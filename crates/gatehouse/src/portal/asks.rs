//! Asking for access in the portal: the request form (`/requests/new`, prefilled from
//! `?destination=HOST` as `domain:HOST`), the person's requests with their states (`/requests`),
//! and withdrawing one.
//!
//! Guarantees: a request is checked as `gatehouse request create` checks it ([`crate::asking`])
//! and submitted through [`crate::store::GrantStore::submit_request`] with the person as the one
//! acting, so it is recorded (`request.submit`) the same way, and an identical live grant is
//! reused and said so; a refused form changes nothing and shows the person's input again with why;
//! the POSTs need the portal's origin and the session's CSRF token ([`super::login::check_post`]).

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::login::{check_post, CsrfForm};
use super::records::{unseen_request, RequestView};
use super::session::{Person, Viewer};
use super::views::{notice, Nav};
use super::{html, Portal, PortalError};
use crate::asking::{self, human};
use crate::store::Submitted;

/// The form's fields (also its query, to prefill it).
#[derive(Deserialize, Default)]
pub(crate) struct AskForm {
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub claim_by: String,
    #[serde(default)]
    pub destination: String,
    #[serde(default)]
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "request_new.html")]
struct AskPage {
    nav: Option<Nav>,
    form: AskForm,
    error: Option<String>,
    /// The longest duration for the prefilled scope (or `[grants] max_duration`).
    max: String,
    /// `(scope, longest duration, approvals)` of the configured scopes.
    limits: Vec<(String, String, u32)>,
}

fn ask_page(
    portal: &Portal,
    viewer: &Viewer,
    status: StatusCode,
    form: AskForm,
    error: Option<String>,
) -> Response {
    let rt = portal.gw.runtime.load();
    let grants = &rt.config.grants;
    let max = access::Scope::parse(&form.scope)
        .map_or(grants.max_duration, |s| grants.limits(&s).max_duration);
    let limits = grants
        .scopes
        .iter()
        .map(|s| {
            let max = s.max_duration.unwrap_or(grants.max_duration);
            (s.scope.to_string(), human(max), s.approvals)
        })
        .collect();
    let page = AskPage {
        nav: Nav::of(viewer),
        form,
        error,
        max: human(max),
        limits,
    };
    html(status, &page)
}

/// `GET /requests/new[?destination=HOST]`: the form, its scope `domain:HOST` when a refused host
/// is named.
pub(crate) async fn form(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
    Query(mut q): Query<AskForm>,
) -> Response {
    q.destination = q.destination.trim().to_string();
    if q.scope.trim().is_empty() && !q.destination.is_empty() {
        q.scope = format!("domain:{}", q.destination);
    }
    if q.duration.is_empty() {
        q.duration = "1h".into();
    }
    q.csrf = viewer.csrf.clone();
    ask_page(&portal, &viewer, StatusCode::OK, q, None)
}

/// `POST /requests/new`: check and submit the request, or show the form again with why.
pub(crate) async fn submit(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    headers: HeaderMap,
    Form(mut f): Form<AskForm>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(refusal);
    }
    match submit_for(&portal, &viewer, client, &f).await? {
        Ok(Submitted::Request(r)) => Ok(notice(
            &viewer,
            StatusCode::OK,
            "Request submitted",
            format!(
                "Request {} for `{}` ({}) waits for {} approval{}. You can follow it under “My requests”.",
                r.id,
                r.scope,
                human(std::time::Duration::from_secs(r.duration_s.unsigned_abs())),
                r.approvals_needed,
                if r.approvals_needed == 1 { "" } else { "s" },
            ),
            &[("/requests", "My requests"), ("/", "My page")],
        )),
        Ok(Submitted::Reused(g)) => Ok(notice(
            &viewer,
            StatusCode::OK,
            "You already hold this",
            format!(
                "Grant {} already gives you `{}`; nothing new was asked.",
                g.id, g.scope
            ),
            &[("/grants", "My grants"), ("/", "My page")],
        )),
        Err((status, message)) => {
            f.csrf = viewer.csrf.clone();
            Ok(ask_page(&portal, &viewer, status, f, Some(message)))
        }
    }
}

/// Check `f` and submit it for `viewer`: the store's answer, or a refusal with its status and
/// message (the checks' or the store's rules').
pub(crate) async fn submit_for(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &AskForm,
) -> Result<Result<Submitted, (StatusCode, String)>, PortalError> {
    let new = {
        let rt = portal.gw.runtime.load();
        let asked = asking::Asked {
            principal: viewer.name(),
            scope: &f.scope,
            duration: &f.duration,
            purpose: &f.purpose,
            claim_by: &f.claim_by,
            destination: Some(&f.destination),
            fields: asking::FORM,
        };
        match asking::new_request(&rt.config, &asked) {
            Ok(n) => n,
            Err(e) => return Ok(Err((StatusCode::BAD_REQUEST, e.to_string()))),
        }
    };
    portal
        .act(viewer, client, move |s, by, now| {
            s.submit_request(&new, by, now)
        })
        .await
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    nav: Option<Nav>,
    csrf: String,
    requests: Vec<RequestView>,
}

/// How many of the person's requests `/requests` lists.
const LISTED: u64 = 100;

/// `GET /requests`: the person's requests, newest first, with their states.
pub(crate) async fn list(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    let name = viewer.name().to_string();
    let rows = portal
        .with_store(move |s| s.requests(Some(&name), None, LISTED))
        .await?;
    let page = RequestsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        requests: rows.iter().rev().map(RequestView::of).collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /requests/{id}/withdraw`: take back a request still waiting for review.
pub(crate) async fn withdraw(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(refusal);
    }
    match withdraw_for(&portal, &viewer, client, id).await? {
        Ok(()) => Ok(Redirect::to("/requests").into_response()),
        Err((status, message)) => Ok(notice(
            &viewer,
            status,
            "Not withdrawn",
            message,
            &[("/requests", "My requests")],
        )),
    }
}

/// Withdraw request `id` as `viewer` (the store allows its requester, or an admin); another
/// person's request is answered as no such request (`404`).
pub(crate) async fn withdraw_for(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    id: i64,
) -> Result<Result<(), (StatusCode, String)>, PortalError> {
    portal
        .act(viewer, client, move |s, by, now| {
            s.withdraw_request(id, by, now)
                .map(|_| ())
                .map_err(unseen_request(id))
        })
        .await
}
