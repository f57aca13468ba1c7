//! The dashboard API's answer (`GET /api/v1/dashboard`) as schema types for the OpenAPI
//! document. Like `schema.rs`, they describe JSON that `dashboard.rs` builds by hand and are never
//! instantiated; the dashboard's test compares their properties with the keys of a real answer.

use utoipa::ToSchema;

use super::schema::Grant;

/// The dashboard: seats and sessions now, pending requests, active grants, and the refusals and
/// traffic of the last 24 hours in whole hours (UTC).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Dashboard {
    /// When the figures were taken (RFC 3339, UTC).
    time: String,
    /// The start of the oldest hour counted.
    since: String,
    /// The length of one bucket of `traffic` (3600).
    bucket_seconds: i64,
    /// Open sessions, at all locations.
    sessions: u64,
    locations: Vec<DashboardLocation>,
    pending_requests: DashboardPending,
    active_grants: DashboardGrants,
    refusals: DashboardRefusals,
    traffic: DashboardTraffic,
}

/// A configured location (or one an open session still names), its seats and open sessions.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardLocation {
    name: String,
    /// None: no seat limit.
    seats: Option<u32>,
    in_use: u64,
    sessions: Vec<DashboardSession>,
}

/// An open session: a principal at a terminal.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardSession {
    id: i64,
    principal: String,
    terminal: String,
    started: String,
    last_seen: String,
}

/// Requests waiting for review.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardPending {
    count: u64,
    oldest: Option<DashboardRequest>,
}

/// The oldest pending request (the review queue shows it whole).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardRequest {
    id: i64,
    scope: String,
    created: String,
}

/// Active grants: how many, and those ending soonest.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardGrants {
    count: u64,
    ending_soonest: Vec<Grant>,
}

/// Refusals in the window: all of them, and the rules that refused most.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardRefusals {
    total: u64,
    rules: Vec<DashboardRule>,
}

/// A rule and how many requests it refused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardRule {
    rule: String,
    count: u64,
}

/// Traffic, in all and per category.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardTraffic {
    all: DashboardSeries,
    /// Most requests first; `uncategorised` for destinations in no list. A destination in two
    /// categories counts in both.
    categories: Vec<DashboardCategory>,
}

/// Requests and bytes (up and down), in all and per hour, oldest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardSeries {
    requests: u64,
    bytes: u64,
    buckets: Vec<DashboardBucket>,
}

/// One category's traffic.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardCategory {
    category: String,
    requests: u64,
    bytes: u64,
    buckets: Vec<DashboardBucket>,
}

/// One hour.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DashboardBucket {
    start: String,
    requests: u64,
    bytes: u64,
}
