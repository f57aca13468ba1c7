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
    /// That grant's purpose, as its request stated it; none for an event no grant allowed.
    purpose: Option<String>,
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

/// One approver's verdict on a request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Review {
    approver: String,
    /// `approve` or `deny`.
    verdict: String,
    comment: String,
    /// RFC 3339, UTC, milliseconds.
    time: String,
}

/// An access request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Request {
    id: i64,
    principal: String,
    /// Canonical: sorted items, space separated.
    scope: String,
    duration_s: i64,
    /// The grant starts at its first use within this many seconds of the approval.
    claim_by_s: Option<i64>,
    purpose: String,
    /// `submitted`, `approved`, `denied`, `expired` or `withdrawn`.
    state: String,
    approvals_needed: u32,
    approvals: u32,
    /// The destination the person was refused at.
    destination: Option<String>,
    created: String,
    /// When it expires unreviewed.
    expires: String,
    reviews: Vec<Review>,
}

/// The person's requests, newest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Requests {
    requests: Vec<Request>,
}

/// One request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RequestAnswer {
    request: Request,
}

/// A grant.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Grant {
    id: i64,
    /// The request it came from; none for a grant an admin added.
    request_id: Option<i64>,
    principal: String,
    scope: String,
    purpose: String,
    /// Who approved it (comma-separated), or who added it.
    approvers: String,
    /// `active`, `expired` or `revoked`.
    state: String,
    /// None while it waits for its first use.
    starts: Option<String>,
    expires: Option<String>,
    claim_by: Option<String>,
}

/// Grants.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Grants {
    grants: Vec<Grant>,
}

/// A request to submit (the portal form's fields).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewRequestBody {
    /// `domain:NAME`, `category:NAME`, `tier:NAME`, separated by spaces or commas.
    scope: String,
    /// `30m`, `2h`, `1d`: at most the scope's maximum.
    duration: String,
    /// At least a sentence.
    purpose: String,
    /// Optional: start at the first use within this time of the approval.
    claim_by: Option<String>,
    /// Optional: the destination the person was refused at.
    destination: Option<String>,
}

/// What a submission did: a new request, or an identical live grant reused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Submitted {
    request: Option<Request>,
    reused_grant: Option<Grant>,
}

/// A request in the approver's queue, with the requester's other recent requests.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct QueueItem {
    request: Request,
    recent: Vec<Request>,
}

/// The approver's queue.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Queue {
    queue: Vec<QueueItem>,
}

/// A verdict.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct VerdictBody {
    /// `approve` or `deny`.
    verdict: String,
    /// Required to deny.
    comment: Option<String>,
}

/// What a verdict did.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ReviewAnswer {
    /// `pending` (more approvals needed), `approved` or `denied`.
    outcome: String,
    approvals: Option<u32>,
    needed: Option<u32>,
    /// The grant an approval created.
    grant: Option<Grant>,
}

/// What to ask for to be let through where a refusal happened.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Ask {
    /// `domain:HOST`: the scope of a request for the refused host.
    scope: String,
    /// The refused host.
    destination: String,
    /// The portal's request form for it, prefilled (a path on the portal).
    form: String,
}

/// A refusal of the person's, with what to ask for.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Refusal {
    event: Event,
    /// None for a refusal that no grant changes (about the account or its sign-in).
    ask: Option<Ask>,
}

/// The person's recent refusals, newest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Refusals {
    /// RFC 3339, UTC: the list starts here (6 hours ago).
    since: String,
    refusals: Vec<Refusal>,
}

/// A revocation.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RevokeBody {
    /// Why the grant ends: required, and recorded.
    reason: String,
}

/// One grant.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct GrantAnswer {
    grant: Grant,
}
