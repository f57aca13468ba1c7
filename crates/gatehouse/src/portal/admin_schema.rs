//! The admin API's bodies and answers as schema types for the OpenAPI document
//! (`utoipa::ToSchema`). They describe the JSON `admin_api.rs` reads and builds by hand; they are
//! never instantiated. A leaf: it imports nothing from the portal.

use utoipa::ToSchema;

/// A principal as an admin sees it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Principal {
    name: String,
    /// `admin`, `approver` or `user`.
    role: String,
    /// `open`, `filtered`, `intranet` or `none`.
    tier: String,
    /// Sorted.
    groups: Vec<String>,
    enabled: bool,
    /// A guest's sponsor.
    sponsor: Option<String>,
    /// A guest's expiry (RFC 3339).
    expires: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Principals {
    principals: Vec<Principal>,
}

/// A principal after a change, with the audit actions recorded (`principal.create`,
/// `principal.update`, `principal.disable`, `principal.enable`; none when nothing differed).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PrincipalAnswer {
    principal: Principal,
    recorded: Vec<String>,
}

/// A user to create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewUserBody {
    /// 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
    name: String,
    /// The initial password, at least `[accounts] min_password_length` characters.
    password: String,
    tier: String,
    /// `user` when left out.
    role: Option<String>,
}

/// What to change; a field left out is kept.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ChangeBody {
    tier: Option<String>,
    role: Option<String>,
    /// Exactly these groups (each must exist).
    groups: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// An approver scope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApproverScope {
    /// A principal's name, or `group:NAME`.
    approver: String,
    /// Canonical scope items (`domain:NAME`, `category:NAME`, `tier:NAME`).
    scope: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Approvers {
    approvers: Vec<ApproverScope>,
}

/// An approver scope to give or take back.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ApproverBody {
    approver: String,
    /// Scope items separated by spaces or commas.
    scope: String,
}

/// A guest.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Guest {
    name: String,
    sponsor: String,
    tier: String,
    /// RFC 3339.
    expires: String,
    enabled: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Guests {
    guests: Vec<Guest>,
}

/// A guest to create, as `gatehouse guest add` takes it: a tier or a scope (or both).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewGuestBody {
    name: String,
    /// An approver or admin; the caller when left out.
    sponsor: Option<String>,
    tier: Option<String>,
    /// A grant for the whole stay (scope items).
    scope: Option<String>,
    /// A duration from now (`3d`) or a time (RFC 3339); later than now.
    expires: String,
    purpose: Option<String>,
    /// Generated (and answered once) when left out.
    password: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct GuestAnswer {
    guest: Guest,
    /// The generated password, shown only in this answer; `null` when one was given.
    password: Option<String>,
}

/// A service-account token (never its secret).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Token {
    id: i64,
    principal: String,
    label: String,
    created_by: String,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
    revoked: Option<String>,
    /// Unrevoked and unexpired.
    live: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Tokens {
    tokens: Vec<Token>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenAnswer {
    token: Token,
}

/// A token to create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewTokenBody {
    principal: String,
    label: Option<String>,
    /// A duration from now (`90d`) or a time (RFC 3339); never when left out.
    expires: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenCreated {
    token: Token,
    /// `gh_…`: send it as `Authorization: Bearer`; shown only in this answer.
    secret: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Location {
    name: String,
    description: String,
    time_zone: String,
    /// A number, or `no limit`.
    seats: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Terminal {
    name: String,
    location: String,
    /// Comma-separated networks.
    networks: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RuleShown {
    id: String,
    /// `permit` or `forbid`.
    effect: String,
    reason: String,
    /// `file:line`.
    at: String,
}

/// The running configuration's places and rules (edited in files).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ConfigShown {
    version: String,
    locations: Vec<Location>,
    terminals: Vec<Terminal>,
    rules: Vec<RuleShown>,
    note: String,
}

/// A group and its members.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Group {
    name: String,
    member_count: usize,
    /// Sorted; of a deleted group, the members it had.
    members: Vec<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Groups {
    groups: Vec<Group>,
}

/// A group created or deleted.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct GroupAnswer {
    group: Group,
}

/// A group to create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewGroupBody {
    /// 1 to 64 letters, digits, `.`, `_`, `-` or `@` (as `gatehouse group add`).
    name: String,
}
