//! The admins' dashboard: `GET /dashboard` (a page with server-drawn SVG charts, refreshed by
//! htmx every few seconds when scripts run, complete without them) and its twin
//! `GET /api/v1/dashboard` (JSON, access class `admin`). Both show the figures of
//! [`crate::dashboard`]: open sessions and seats per location from the running gateway, pending
//! requests, active grants, refusals per rule and traffic per category over the last 24 hours.
//!
//! Guarantees: admins only — a page visitor without a session is sent to `/login`, an API caller
//! without one gets `401`, and any other logged-in person `403` with none of the figures; the
//! figures are computed once per answer and rendered from that one value, so the page and the API
//! agree. The dashboard shows counts, the open sessions (who sits where, as
//! `gatehouse session list` does) and the grants ending soonest; it shows no one's audit trail,
//! so a view is not an `audit.read`.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::api::{error, json, Caller};
use super::dashboard_chart::{self as chart, bytes_text, count_text, Bars, Columns};
use super::records::grant_json;
use super::session::Person;
use super::views::{forbidden, Nav};
use super::{html, Portal, PortalError};
use crate::clock::format_ts;
use crate::dashboard::{self, Figures, LocationFigures, Series, BUCKET_US};
use crate::store::{GrantRow, SessionRow};

/// How many categories get a chart of their own (the table lists them all).
const CHARTED_CATEGORIES: usize = 6;

/// The figures now: the gateway's open sessions and configuration, then the store (folding the
/// rollup first) on the portal's connection.
async fn load(portal: &Portal) -> Result<Figures, PortalError> {
    let runtime = portal.gw.runtime.load_full();
    let locations = dashboard::locations(&runtime.config.places, portal.gw.seats.list());
    let now = portal.now_us();
    portal
        .with_store(move |s| dashboard::figures(s, &runtime.config.lists, locations, now))
        .await
}

/// `GET /dashboard`.
pub(crate) async fn page(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    if !viewer.is_admin() {
        return Ok(forbidden(&viewer));
    }
    let figures = load(&portal).await?;
    Ok(html(
        StatusCode::OK,
        &DashboardPage::of(Nav::of(&viewer), &figures),
    ))
}

/// The dashboard's figures (`GET /api/v1/dashboard`).
#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "dashboard",
    extensions(("x-gatehouse-access" = json!("admin"))),
    responses(
        (status = 200, description = "Seats, sessions, pending requests, active grants, refusals and traffic of the last 24 hours", body = super::dashboard_schema::Dashboard),
        (status = 401, description = "No live portal session", body = super::schema::ApiError),
        (status = 403, description = "Not an admin", body = super::schema::ApiError),
    )
)]
pub(crate) async fn api(
    State(portal): State<Arc<Portal>>,
    Caller(v): Caller,
) -> Result<Response, PortalError> {
    if !v.is_admin() {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "only admins see the dashboard",
        ));
    }
    let figures = load(&portal).await?;
    Ok(json(StatusCode::OK, figures_json(&figures)))
}

fn session_json(s: &SessionRow) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "principal": s.principal,
        "terminal": s.terminal,
        "started": format_ts(s.started.as_microsecond()),
        "last_seen": format_ts(s.last_seen.as_microsecond()),
    })
}

fn series_json(s: &Series, since_us: i64) -> serde_json::Value {
    let buckets: Vec<serde_json::Value> = (s.requests.iter().zip(&s.bytes))
        .enumerate()
        .map(|(i, (n, b))| {
            let start = since_us + i as i64 * BUCKET_US;
            serde_json::json!({ "start": format_ts(start), "requests": n, "bytes": b })
        })
        .collect();
    serde_json::json!({
        "requests": s.total_requests(),
        "bytes": s.total_bytes(),
        "buckets": buckets,
    })
}

/// The figures as the API gives them (`schema` type `Dashboard`).
fn figures_json(f: &Figures) -> serde_json::Value {
    let locations: Vec<serde_json::Value> = f
        .locations
        .iter()
        .map(|l| {
            let sessions: Vec<serde_json::Value> = l.sessions.iter().map(session_json).collect();
            serde_json::json!({
                "name": l.name, "seats": l.seats, "in_use": l.sessions.len(), "sessions": sessions,
            })
        })
        .collect();
    let oldest = f.pending.oldest.as_ref().map(
        |r| serde_json::json!({ "id": r.id, "scope": r.scope, "created": format_ts(r.created_us) }),
    );
    let ending: Vec<serde_json::Value> = f.grants.ending.iter().map(grant_json).collect();
    let rules: Vec<serde_json::Value> = f
        .refusals
        .iter()
        .map(|(rule, n)| serde_json::json!({ "rule": rule, "count": n }))
        .collect();
    let categories: Vec<serde_json::Value> = f
        .categories
        .iter()
        .map(|(name, s)| {
            let mut v = series_json(s, f.since_us);
            v["category"] = serde_json::json!(name);
            v
        })
        .collect();
    serde_json::json!({
        "time": format_ts(f.now_us),
        "since": format_ts(f.since_us),
        "bucket_seconds": BUCKET_US / 1_000_000,
        "sessions": f.locations.iter().map(|l| l.sessions.len()).sum::<usize>(),
        "locations": locations,
        "pending_requests": { "count": f.pending.count, "oldest": oldest },
        "active_grants": { "count": f.grants.count, "ending_soonest": ending },
        "refusals": { "total": f.refusals_total, "rules": rules },
        "traffic": { "all": series_json(&f.all, f.since_us), "categories": categories },
    })
}

/// A location as the page shows it.
struct LocationView {
    name: String,
    in_use: usize,
    /// `None`: no seat limit.
    seats: Option<u32>,
    sessions: Vec<(String, String, String)>,
}

impl LocationView {
    fn of(l: &LocationFigures) -> LocationView {
        LocationView {
            name: l.name.clone(),
            in_use: l.sessions.len(),
            seats: l.seats,
            sessions: l
                .sessions
                .iter()
                .map(|s| {
                    let since = format_ts(s.started.as_microsecond());
                    (s.principal.clone(), s.terminal.clone(), since)
                })
                .collect(),
        }
    }
}

/// A category's line of the traffic table, and its chart when it is among the busiest.
struct CategoryView {
    name: String,
    requests: String,
    bytes: String,
    chart: Option<Columns>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    time: String,
    since: String,
    sessions: usize,
    locations: Vec<LocationView>,
    pending: u64,
    /// The oldest pending request: id, scope, since when.
    oldest: Option<(i64, String, String)>,
    grants: u64,
    /// The grants ending soonest: id, principal, scope, when it ends.
    ending: Vec<(i64, String, String, String)>,
    refusals_total: String,
    refusals: Bars,
    /// `(rule, count)` for the table.
    refusal_rows: Vec<(String, String)>,
    requests: Columns,
    bytes: Columns,
    /// `(hour, requests, bytes)` for the table.
    hours: Vec<(String, String, String)>,
    categories: Vec<CategoryView>,
}

impl DashboardPage {
    fn of(nav: Option<Nav>, f: &Figures) -> DashboardPage {
        let hour = |i: usize| chart::hour_text(f.since_us + i as i64 * BUCKET_US);
        let categories = f
            .categories
            .iter()
            .enumerate()
            .map(|(i, (name, s))| CategoryView {
                name: name.clone(),
                requests: count_text(s.total_requests()),
                bytes: bytes_text(s.total_bytes()),
                chart: (i < CHARTED_CATEGORIES).then(|| {
                    let title = format!("Requests to {name}, per hour");
                    chart::columns(
                        &format!("cat{i}"),
                        &title,
                        &s.requests,
                        f.since_us,
                        count_text,
                    )
                }),
            })
            .collect();
        DashboardPage {
            nav,
            time: format_ts(f.now_us),
            since: format_ts(f.since_us),
            sessions: f.locations.iter().map(|l| l.sessions.len()).sum(),
            locations: f.locations.iter().map(LocationView::of).collect(),
            pending: f.pending.count,
            oldest: f
                .pending
                .oldest
                .as_ref()
                .map(|r| (r.id, r.scope.clone(), format_ts(r.created_us))),
            grants: f.grants.count,
            ending: f
                .grants
                .ending
                .iter()
                .map(|g| (g.id, g.principal.clone(), g.scope.clone(), grant_end(g)))
                .collect(),
            refusals_total: count_text(f.refusals_total),
            refusals: chart::bars("refusals", "Refusals per rule", &f.refusals),
            refusal_rows: f
                .refusals
                .iter()
                .map(|(r, n)| (r.clone(), count_text(*n)))
                .collect(),
            requests: chart::columns(
                "requests",
                "Requests per hour",
                &f.all.requests,
                f.since_us,
                count_text,
            ),
            bytes: chart::columns(
                "bytes",
                "Bytes per hour",
                &f.all.bytes,
                f.since_us,
                bytes_text,
            ),
            hours: (0..f.all.requests.len())
                .map(|i| {
                    (
                        hour(i),
                        count_text(f.all.requests[i]),
                        bytes_text(f.all.bytes[i]),
                    )
                })
                .collect(),
            categories,
        }
    }
}

/// When a grant stops covering, as the page writes it.
fn grant_end(g: &GrantRow) -> String {
    match (g.expires_us, g.claim_by_us) {
        (Some(t), _) => format_ts(t),
        (None, Some(t)) => format!("{} unless used", format_ts(t)),
        (None, None) => "-".to_string(),
    }
}
