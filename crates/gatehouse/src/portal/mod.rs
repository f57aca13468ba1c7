//! The portal: where a person logs in and sees what gatehouse records about them. Served by the
//! gateway on a listener of its own (`[portal] listen`), which is one of the gateway's own
//! sockets, so the proxy refuses it as a destination for every tier.
//!
//! - [`Portal`] is the portal's state: the gateway's shared state, a store connection of its own
//!   ([`PortalBackend`]: portal sessions, principals, the audit trail), the settings and the
//!   origin that state-changing requests must come from;
//! - [`router`] builds the routes; [`serve`] runs them on the bound listener, counting every
//!   connection it accepts (`gatehouse_portal_connections_total`);
//! - `session.rs`: the session cookie, tokens and their hashes, the CSRF token, the origin check,
//!   and [`session::Viewer`], the logged-in person a handler acts for;
//! - `login.rs`: `/login` and `/logout`; `pages.rs`: the person's page, their trail, the people
//!   list for admins; `trail.rs`: the trail's filters and its CSV, JSON lines and JSON forms;
//!   `api.rs`: `/api/v1`; `openapi.rs`: its OpenAPI 3.1 document (`utoipa`), with the answers'
//!   schema types in `schema.rs`; `assets.rs`:
//!   `/static/` (the vendored htmx and the style sheet);
//!   `views.rs`: the navigation and the refusal page that several pages share;
//! - `asks.rs`: asking for access (`/requests/new`, `/requests`, withdraw); `review.rs`: the
//!   approvers' queue (`/review`); `granted.rs`: grants (`/grants`, revoke); `api_grants.rs`:
//!   the same as JSON under `/api/v1`; `api_people.rs`: the person's refusals and someone's
//!   trail under `/api/v1`; `records.rs`: requests and grants as pages and the API
//!   show them;
//! - `admin.rs`: the admin actions (principals, approver scopes, guests, service-account
//!   tokens) with their checks, shared by `admin_pages.rs` (`/admin/…`) and `admin_api.rs`
//!   (`/api/v1/admin/…`); `admin_views.rs`: what they show, and the admins-only extractors;
//!   `admin_schema.rs`: the admin API's schema types; `sponsor.rs`: approvers' guests (`/guests`,
//!   `/api/v1/guests`, through `admin.rs`'s action, within the approver's scopes). Every change goes through [`GrantStore`] with the person as the one acting
//!   (`via` `portal <client socket>`), so the store's rules and records are the CLI's.
//! - `dashboard.rs`: the admins' dashboard (`/dashboard`, `/api/v1/dashboard`), its SVG charts'
//!   geometry in `dashboard_chart.rs` and its API schema in `dashboard_schema.rs`.
//!
//! Guarantees:
//! - no page or API answer shows one person's records to another, except to an admin or to an
//!   approver reviewing that person's request, and each such look is recorded as an `audit.read`
//!   event before the records are sent;
//! - every API operation has an access class (`x-gatehouse-access` in the OpenAPI document:
//!   `public`, `self`, `reviewer`, `admin`) and answers as it says; an anonymous API call gets
//!   `401` JSON, never a redirect;
//! - no POST changes anything unless it came from the portal's own origin (`Origin`, or
//!   `Sec-Fetch-Site: same-origin`) and carries the session's CSRF token (at login: the login
//!   form's token, bound to a cookie);
//! - a login, a logout and a failed login are recorded as audit events (`portal.login`,
//!   `portal.logout`, `portal.login_failed`), written to the store before the answer;
//! - the store work runs off the async workers (`spawn_blocking`), on the portal's own connection.
//!
//! The portal reads the running configuration (`Gateway::runtime`) and the store; it writes
//! portal sessions, audit events, and requests, reviews and grants through [`GrantStore`].

mod admin;
mod admin_api;
mod admin_pages;
mod admin_schema;
mod admin_views;
mod api;
mod api_grants;
mod api_people;
mod asks;
mod assets;
mod dashboard;
mod dashboard_chart;
mod dashboard_schema;
mod granted;
mod login;
mod openapi;
mod pages;
mod records;
mod review;
mod schema;
mod session;
mod sponsor;
mod trail;
mod views;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::PortalSettings;
use crate::state::Gateway;
use crate::store::{
    AccountStore, Actor, AuditRow, AuditStore, DashboardStore, GrantError, GrantStore, PortalStore,
    PrincipalStore, StoreError,
};

/// What the portal needs of the store: its sessions, the principals, the audit trail, requests,
/// reviews and grants, the administrators' account changes, and the dashboard's rollup.
pub trait PortalBackend:
    PortalStore + PrincipalStore + AuditStore + GrantStore + AccountStore + DashboardStore
{
}

impl<T> PortalBackend for T where
    T: PortalStore + PrincipalStore + AuditStore + GrantStore + AccountStore + DashboardStore
{
}

/// Why a portal request failed (as opposed to being refused): the answer is a 500 page.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the store task failed: {0}")]
    Task(String),
    #[error("cannot render the page: {0}")]
    Render(#[from] askama::Error),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "a portal request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the portal could not answer; the administrator can find why in gatehouse's log\n",
        )
            .into_response()
    }
}

/// The portal's state, shared by its handlers.
pub struct Portal {
    pub(crate) gw: Arc<Gateway>,
    store: Arc<Mutex<Box<dyn PortalBackend>>>,
    pub(crate) settings: PortalSettings,
    /// The origin (`scheme://host[:port]`) state-changing requests must come from: `public_url`,
    /// or `http://` and the bound address.
    pub(crate) origin: String,
}

impl Portal {
    /// The portal of `gw`, bound at `bound`, on its own store connection.
    pub fn new(
        gw: Arc<Gateway>,
        store: Box<dyn PortalBackend>,
        settings: PortalSettings,
        bound: SocketAddr,
    ) -> Portal {
        let origin = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        Portal {
            gw,
            store: Arc::new(Mutex::new(store)),
            settings,
            origin,
        }
    }

    /// Run `work` on the portal's store connection, off the async workers.
    pub(crate) async fn with_store<T, F>(&self, work: F) -> Result<T, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn PortalBackend) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store
                .lock()
                .map_err(|_| PortalError::Task("the store lock is poisoned".into()))?;
            work(guard.as_mut()).map_err(PortalError::from)
        })
        .await
        .map_err(|e| PortalError::Task(e.to_string()))?
    }

    /// Run a change or a read of requests and grants: the store's refusals by its rules (who may
    /// do what) come back as the inner error, a store failure as the outer one.
    pub(crate) async fn with_grants<T, F>(
        &self,
        work: F,
    ) -> Result<Result<T, GrantError>, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn PortalBackend) -> Result<T, GrantError> + Send + 'static,
    {
        self.with_store(move |s| match work(s) {
            Ok(v) => Ok(Ok(v)),
            Err(GrantError::Store(e)) => Err(e),
            Err(e) => Ok(Err(e)),
        })
        .await
    }

    /// Change requests or grants as `viewer` (the store's [`Actor`], `via` `portal CLIENT`) at the
    /// clock's time: what the store did, or its refusal by its rules with the status the answer
    /// carries and the store's message.
    pub(crate) async fn act<T, F>(
        &self,
        viewer: &session::Viewer,
        client: SocketAddr,
        work: F,
    ) -> Result<Result<T, (StatusCode, String)>, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn PortalBackend, Actor<'_>, i64) -> Result<T, GrantError> + Send + 'static,
    {
        let (name, from, now) = (viewer.name().to_string(), via(client), self.now_us());
        let out = self
            .with_grants(move |s| {
                let by = Actor {
                    name: &name,
                    via: &from,
                };
                work(s, by, now)
            })
            .await?;
        Ok(out.map_err(|e| {
            let status = records::grant_refusal(&e).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, e.to_string())
        }))
    }

    /// Append an action's audit event (a login, a logout, a look at someone's records).
    pub(crate) async fn record(&self, row: AuditRow) -> Result<(), PortalError> {
        self.with_store(move |s| s.append_audit(std::slice::from_ref(&row)))
            .await
    }

    /// The gateway's clock now, in microseconds since the Unix epoch.
    pub(crate) fn now_us(&self) -> i64 {
        self.gw.clock.now().as_microsecond()
    }
}

/// The `via` of an action done through the portal by a client at `client`.
pub(crate) fn via(client: SocketAddr) -> String {
    format!("portal {client}")
}

/// The portal's routes over `portal`.
pub fn router(portal: Arc<Portal>) -> axum::Router {
    axum::Router::new()
        .route("/", get(pages::home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/me/audit", get(pages::my_trail))
        .route("/me/audit.csv", get(trail::my_csv))
        .route("/me/audit.jsonl", get(trail::my_jsonl))
        .route("/people", get(pages::people))
        .route("/people/{name}/audit", get(pages::their_trail))
        .route("/people/{name}/audit.csv", get(trail::their_csv))
        .route("/people/{name}/audit.jsonl", get(trail::their_jsonl))
        .route("/requests", get(asks::list))
        .route("/requests/new", get(asks::form).post(asks::submit))
        .route("/requests/{id}/withdraw", post(asks::withdraw))
        .route("/review", get(review::queue))
        .route("/review/{id}", post(review::decide))
        .route("/grants", get(granted::list))
        .route("/grants/{id}/revoke", post(granted::revoke))
        .route(
            "/api/v1/requests",
            get(api_grants::my_requests).post(api_grants::submit),
        )
        .route("/api/v1/requests/{id}/withdraw", post(api_grants::withdraw))
        .route("/api/v1/review", get(api_grants::queue))
        .route("/api/v1/review/{id}", post(api_grants::decide))
        .route("/api/v1/grants", get(api_grants::grants))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/me/audit", get(api::my_audit))
        // Administration: principals, approver scopes, guests, tokens, the configuration shown.
        .route("/admin", get(admin_pages::principals))
        .route("/admin/principals", post(admin_pages::create))
        .route(
            "/admin/principals/{name}",
            get(admin_pages::principal).post(admin_pages::change),
        )
        .route(
            "/admin/approvers",
            get(admin_pages::approvers).post(admin_pages::approver_scope),
        )
        .route("/admin/approvers/remove", post(admin_pages::approver_scope))
        .route(
            "/admin/guests",
            get(admin_pages::guests).post(admin_pages::create_guest),
        )
        .route(
            "/admin/tokens",
            get(admin_pages::tokens).post(admin_pages::create_token),
        )
        .route("/admin/tokens/{id}/revoke", post(admin_pages::revoke_token))
        .route("/admin/config", get(admin_pages::config))
        .route(
            "/api/v1/admin/principals",
            get(admin_api::principals).post(admin_api::create),
        )
        .route("/api/v1/admin/principals/{name}", post(admin_api::change))
        .route(
            "/api/v1/admin/approvers",
            get(admin_api::approvers).post(admin_api::add_approver),
        )
        .route(
            "/api/v1/admin/approvers/remove",
            post(admin_api::remove_approver),
        )
        .route(
            "/api/v1/admin/guests",
            get(admin_api::guests).post(admin_api::create_guest),
        )
        .route(
            "/api/v1/admin/tokens",
            get(admin_api::tokens).post(admin_api::create_token),
        )
        .route(
            "/api/v1/admin/tokens/{id}/revoke",
            post(admin_api::revoke_token),
        )
        .route("/api/v1/admin/config", get(admin_api::config))
        .route("/api/v1/openapi.json", get(openapi::document))
        // API twins of page actions, each with its access class (the authorisation matrix).
        .route("/api/v1/grants/{id}/revoke", post(api_grants::revoke_grant))
        .route("/api/v1/me/refusals", get(api_people::my_refusals))
        .route("/api/v1/people/{name}/audit", get(api_people::their_audit))
        // Groups in the portal, and approvers' guests (issue 12, `groups`).
        .route(
            "/admin/groups",
            get(admin_pages::groups).post(admin_pages::create_group),
        )
        .route(
            "/admin/groups/{name}/delete",
            post(admin_pages::delete_group),
        )
        .route(
            "/api/v1/admin/groups",
            get(admin_api::groups).post(admin_api::create_group),
        )
        .route(
            "/api/v1/admin/groups/{name}/delete",
            post(admin_api::delete_group),
        )
        .route("/guests", get(sponsor::page).post(sponsor::create_page))
        .route("/api/v1/guests", post(sponsor::create))
        // The dashboard (issue 12, `dash`).
        .route("/dashboard", get(dashboard::page))
        .route("/api/v1/dashboard", get(dashboard::api))
        .route("/static/{file}", get(assets::file))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(protect))
        .with_state(portal)
}

/// Headers every portal answer carries: no framing by other sites, no sniffing, no referrer to
/// other origins, scripts and styles from the portal only; pages are not cached (they show
/// personal records), except the static files, which set their own.
async fn protect(mut response: Response) -> Response {
    let h = response.headers_mut();
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Render a page, or answer 500 when it cannot be rendered.
pub(crate) fn html<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => PortalError::from(e).into_response(),
    }
}

/// Serve the portal on `listener` until `stop` flips, counting each accepted connection in
/// `gatehouse_portal_connections_total`.
pub fn serve(
    listener: TcpListener,
    portal: Arc<Portal>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use axum::serve::ListenerExt;
    let metrics = portal.gw.metrics.clone();
    let app = router(portal).into_make_service_with_connect_info::<SocketAddr>();
    let listener = listener.tap_io(move |_| {
        metrics.portal_connections.inc();
    });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|d| *d).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the portal listener failed");
        }
    })
}
