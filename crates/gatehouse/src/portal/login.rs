//! `/login` and `/logout`: a person proves who they are with their gatehouse name and password,
//! and gets a portal session; logout ends it.
//!
//! Guarantees:
//! - the password is checked by the proxy's argon2 pool with the proxy's throttle
//!   ([`crate::identity::Identity::check_password`]): a name or address cooling down gets `429`
//!   without a password check;
//! - a refusal never tells which of the name or the password was wrong, nor whether the account
//!   is disabled;
//! - the login form's POST needs the portal's origin and the form's token, bound to a cookie set
//!   with the form; logout needs the origin and the session's CSRF token; a refused POST changes
//!   nothing and records nothing;
//! - every login, failed login (after a password check) and logout is an audit event, stored
//!   before the answer. Attempts the throttle refused are counted in
//!   `gatehouse_auth_throttled_total`, not recorded, so a flood cannot fill the trail.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::session::{self, Person, Viewer};
use super::views::refused;
use super::{html, via, Portal, PortalError};
use crate::identity::AuthFailure;
use crate::store::AuditRow;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<super::views::Nav>,
    csrf: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Names longer than this are refused without a password check (no principal has one).
const MAX_NAME: usize = 256;

/// `GET /login`: the form, with a fresh token bound to a cookie; a logged-in person goes home.
pub(crate) async fn form(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if session::viewer(&portal, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    login_page(&portal, StatusCode::OK, String::new(), None)
}

fn login_page(
    portal: &Portal,
    status: StatusCode,
    name: String,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let token = session::new_token()?;
    let page = LoginPage {
        nav: None,
        csrf: token.clone(),
        name,
        error,
    };
    let cookie = session::login_cookie(portal, Some(&token));
    Ok(([(header::SET_COOKIE, cookie)], html(status, &page)).into_response())
}

const CROSS_SITE: &str = "This form did not come from the portal's own pages (another site, or a \
     browser that did not say where it came from), so nothing was changed.";
const BAD_TOKEN: &str = "The form's security token is missing or does not match this session \
     (an old page, or a form from somewhere else), so nothing was changed. Reload the page and \
     try again.";

/// `POST /login`.
pub(crate) async fn submit(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PortalError> {
    if !session::same_origin(&portal, &headers) {
        return Ok(refused(CROSS_SITE));
    }
    let bound = session::cookie(&headers, session::LOGIN_COOKIE);
    if !bound.is_some_and(|b| !f.csrf.is_empty() && session::tokens_match(b, &f.csrf)) {
        return Ok(refused(BAD_TOKEN));
    }
    let name = f.username.trim().to_string();
    let wrong = "Wrong name or password.".to_string();
    if name.is_empty() || name.len() > MAX_NAME {
        return login_page(&portal, StatusCode::UNAUTHORIZED, name, Some(wrong));
    }
    let checked = portal
        .gw
        .identity
        .check_password(&name, f.password.into_bytes(), client.ip())
        .await;
    let principal = match checked {
        Ok(p) if !p.disabled => p,
        Ok(_) | Err(AuthFailure::Wrong { .. } | AuthFailure::Missing) => {
            let detail = checked.is_ok().then(|| "disabled".to_string());
            let row = AuditRow::action(
                portal.now_us(),
                &printable(&name),
                &via(client),
                "portal.login_failed",
                &format!("principal:{}", printable(&name)),
                detail,
            );
            portal.record(row).await?;
            return login_page(&portal, StatusCode::UNAUTHORIZED, name, Some(wrong));
        }
        Err(AuthFailure::Throttled { retry_after, .. }) => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let message = format!(
                "Too many failed logins for this name or from this address. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let page = login_page(&portal, StatusCode::TOO_MANY_REQUESTS, name, Some(message))?;
            return Ok((
                [(
                    header::RETRY_AFTER,
                    retry_after.as_secs().max(1).to_string(),
                )],
                page,
            )
                .into_response());
        }
    };
    start_session(&portal, &principal.name, client).await
}

/// Store a new session for `name`, record the login, and send the person home with its cookie.
async fn start_session(
    portal: &Portal,
    name: &str,
    client: SocketAddr,
) -> Result<Response, PortalError> {
    let token = session::new_token()?;
    let now = portal.now_us();
    let ttl = i64::try_from(portal.settings.session_ttl.as_micros()).unwrap_or(i64::MAX);
    let expires = now.saturating_add(ttl);
    let (hash, who, from) = (
        session::token_hash(&token),
        name.to_string(),
        client.to_string(),
    );
    // Expired sessions go when someone logs in: the table holds live sessions and a few dead ones.
    let id = portal
        .with_store(move |s| {
            s.delete_expired_portal_sessions(now)?;
            s.create_portal_session(&hash, &who, &from, now, expires)
        })
        .await?;
    let row = AuditRow::action(
        now,
        name,
        &via(client),
        "portal.login",
        &format!("principal:{name}"),
        Some(format!("portal session {id}")),
    );
    portal.record(row).await?;
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    for cookie in [
        session::session_cookie(portal, Some(&token)),
        session::login_cookie(portal, None),
    ] {
        if let Ok(v) = cookie.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// Check that a POST from `viewer` came from the portal's pages with the session's token.
pub(crate) fn check_post(
    portal: &Portal,
    headers: &HeaderMap,
    viewer: &Viewer,
    csrf: &str,
) -> Option<Response> {
    if !session::same_origin(portal, headers) {
        return Some(refused(CROSS_SITE));
    }
    if csrf.is_empty() || !session::tokens_match(csrf, &viewer.csrf) {
        return Some(refused(BAD_TOKEN));
    }
    None
}

/// `POST /logout`: the session is deleted and recorded; the cookie is cleared.
pub(crate) async fn logout(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(refusal);
    }
    let hash = viewer.token_hash.clone();
    portal
        .with_store(move |s| s.delete_portal_session(&hash))
        .await?;
    let row = AuditRow::action(
        portal.now_us(),
        viewer.name(),
        &via(client),
        "portal.logout",
        &format!("principal:{}", viewer.name()),
        viewer
            .session
            .as_ref()
            .map(|s| format!("portal session {}", s.id)),
    );
    portal.record(row).await?;
    Ok((
        [(header::SET_COOKIE, session::session_cookie(&portal, None))],
        Redirect::to("/login"),
    )
        .into_response())
}

/// A tried name as it may be recorded: control characters replaced, at most 64 characters.
fn printable(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
