//! The API's answers as schema types for the OpenAPI document (`utoipa::ToSchema`).
//!
//! They describe the JSON the handlers of `api.rs` and `trail.rs` build by hand (the API owns its
//! format, and nothing derives `Serialize`); they are never instantiated. The integration tests
//! compare the document's properties with the keys of real answers, so a field added on one side
//! only fails a test. A leaf: it imports nothing from the portal.

use utoipa::ToSchema;

/// The logged-in person.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Me {
    name: String,
    /// `admin` or `user`.
    role: String,
    /// `open`, `filtered`, `intranet` or `none`.
    tier: String,
    /// The groups the person belongs to, sorted.
    groups: Vec<String>,
}

/// One audit event: a request through the proxy, or an action (a login, a look at records).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Event {
    id: i64,
    /// RFC 3339, UTC, milliseconds.
    time: String,
    principal: Option<String>,
    /// The client's socket address, or for an action how it was done (`portal ADDRESS`, `cli`).
    client: String,
    /// The HTTP method, or `ACTION`.
    method: String,
    /// `host:port`, or for an action its subject (`principal:NAME`).
    destination: String,
    /// The request's URL (plain HTTP), or for an action its detail.
    url: Option<String>,
    /// `allow`, `deny`, `error` or `action`.
    decision: String,
    /// The rule or error code that decided, or the action's name.
    rule: String,
    /// The HTTP status answered; 0 when no response head was sent.
    status: u16,
    bytes_up: u64,
    bytes_down: u64,
    duration_us: u64,
    /// How far the request got.
    stage: String,
    error: Option<String>,
    terminal: Option<String>,
    location: Option<String>,
    /// The session (a principal at a terminal) the request was part of.
    session: Option<i64>,
    groups: Option<String>,
    tier: Option<String>,
    role: Option<String>,
    /// The rule that refused the request while it was relaying.
    revoked_by: Option<String>,
    /// The access grant that allowed the request.
    grant_id: Option<i64>,
}

/// One page of the trail, newest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct AuditPage {
    events: Vec<Event>,
    /// 1 is the newest page.
    page: u64,
    /// Whether an older page exists.
    more: bool,
}

/// A refusal or a bad request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApiError {
    error: String,
}
