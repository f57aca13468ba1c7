//! Access requests, reviews, grants, approver scopes and guests: the [`GrantStore`] interface and
//! its SQLite implementation.
//!
//! Guarantees:
//! - every change of state (a request submitted, approved, denied, withdrawn or expired; a grant
//!   created, claimed, revoked or expired; a guest created or expired; an approver scope added or
//!   removed) is made in one transaction that holds the write lock from its first statement,
//!   together with its audit record (`AuditRow::action`): the change and its record are stored
//!   together or not at all;
//! - every change of a request's or a grant's state goes through `access`'s transition check
//!   (`RequestState::apply`, `GrantState::apply`), read and written in that transaction, so two
//!   writers (two CLIs, a CLI and the gateway's sweep) cannot both move one request, and an
//!   illegal move is an error, never a silent no-op;
//! - who may review is checked in the same transaction as the review: the reviewer exists, is
//!   enabled, is an `admin` or an `approver` whose scopes (its own or a group's) cover the
//!   request, is not the requester, and has not reviewed it before (a unique index says so too);
//!   so a request that needs two approvals is approved by two different people;
//! - every change to `grants` moves `grant_generation` (triggers), so a gateway that sees the new
//!   counter also sees the change.
//!
//! Times are microseconds since the Unix epoch, given by the caller (the CLI reads the system
//! clock, the gateway its injected one); durations are seconds.

use std::time::Duration;

use access::{GrantEvent, GrantState, RequestEvent, RequestState, Scope, TransitionError};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::audit::insert_rows;
use super::audit_row::AuditRow;
use super::error::StoreError;
use super::principals::Role;
use super::sqlite::Store;

/// Who did something, and through what: recorded with the action.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// A principal's name, `gatehouse` for the gateway itself, or `cli` for an administrator at the
    /// command line who named nobody.
    pub name: &'a str,
    /// `cli`, `portal <client socket>`, or `gatehouse`.
    pub via: &'a str,
}

/// The gateway itself (expiries, first uses).
pub const GATEWAY: Actor<'static> = Actor {
    name: "gatehouse",
    via: "gatehouse",
};

/// A request as stored, with its reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: i64,
    pub principal: String,
    /// Canonical (`access::Scope`'s display).
    pub scope: String,
    pub duration_s: i64,
    pub claim_by_s: Option<i64>,
    pub purpose: String,
    pub state: RequestState,
    pub approvals_needed: u32,
    pub destination: Option<String>,
    pub created_us: i64,
    pub expires_us: i64,
    pub decided_us: Option<i64>,
    pub reviews: Vec<ReviewRow>,
}

/// One approver's verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub approver: String,
    /// `approve` or `deny`.
    pub verdict: String,
    pub comment: String,
    pub created_us: i64,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub id: i64,
    pub request_id: Option<i64>,
    pub principal: String,
    pub scope: String,
    pub purpose: String,
    /// Who approved it (comma-separated), or who added it.
    pub approvers: String,
    pub state: GrantState,
    pub created_us: i64,
    /// `None` while it waits for its first use.
    pub starts_us: Option<i64>,
    pub duration_s: i64,
    pub claim_by_us: Option<i64>,
    pub expires_us: Option<i64>,
    pub ended_us: Option<i64>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
}

impl GrantRow {
    /// The grant as the decision reads it (`None` for a scope this version cannot read).
    pub fn active(&self) -> Option<access::ActiveGrant> {
        Some(access::ActiveGrant {
            id: self.id,
            principal: self.principal.as_str().into(),
            scope: Scope::parse(&self.scope).ok()?,
            purpose: self.purpose.as_str().into(),
            starts_us: self.starts_us,
            expires_us: self.expires_us,
            claim_by_us: self.claim_by_us,
        })
    }

    /// Whether it allows anything at `now_us`.
    pub fn is_live(&self, now_us: i64) -> bool {
        self.state == GrantState::Active && self.active().is_some_and(|g| g.is_live(now_us))
    }
}

/// A guest: a principal with a sponsor and an expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRow {
    pub name: String,
    pub sponsor: String,
    pub tier: String,
    pub expires_us: i64,
    pub disabled: bool,
}

/// A request to submit.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub principal: String,
    pub scope: Scope,
    pub duration: Duration,
    /// The grant's clock starts at its first use within this time of the approval.
    pub claim_by: Option<Duration>,
    pub purpose: String,
    /// The destination the person was refused at.
    pub destination: Option<String>,
    /// From the configuration (`[[grants.scopes]] approvals`).
    pub approvals_needed: u32,
    /// From the configuration (`[grants] pending_expiry`).
    pub pending_for: Duration,
}

/// What submitting came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new request, waiting for review.
    Request(RequestRow),
    /// The principal already holds a live grant of exactly this scope: nothing was asked.
    Reused(GrantRow),
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// What a review came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewed {
    /// Approved, but more approvals are needed.
    Pending {
        approvals: u32,
        needed: u32,
    },
    /// Approved: the grant it created.
    Approved(Box<GrantRow>),
    Denied,
}

/// A grant an administrator adds directly (no request), or a guest's grant.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub principal: String,
    pub scope: Scope,
    pub duration: Duration,
    pub claim_by: Option<Duration>,
    pub purpose: String,
}

/// A guest to create.
#[derive(Debug, Clone)]
pub struct NewGuest {
    pub name: String,
    pub sponsor: String,
    pub tier: policy::Tier,
    pub password_hash: String,
    /// How long the guest account lasts.
    pub lasts: Duration,
    /// A grant for the guest's whole stay, instead of (or on top of) a tier.
    pub scope: Option<Scope>,
    pub purpose: String,
}

/// What one sweep ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub requests: Vec<i64>,
    pub grants: Vec<i64>,
    pub guests: Vec<String>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.grants.is_empty() && self.guests.is_empty()
    }
}

/// Why an action on requests, grants, approvers or guests was refused.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("no access request with id {0}")]
    NoSuchRequest(i64),
    #[error("no grant with id {0}")]
    NoSuchGrant(i64),
    #[error("no principal named `{0}`")]
    NoSuchPrincipal(String),
    #[error("`{0}` is disabled")]
    Disabled(String),
    #[error("`{who}` cannot {what}: that needs the role {needs}")]
    Role {
        who: String,
        what: &'static str,
        needs: &'static str,
    },
    #[error("nobody approves their own request: `{0}` asked for request {1}")]
    OwnRequest(String, i64),
    #[error("`{who}` reviews no requests for `{scope}`: no approver scope of theirs covers it (`gatehouse approver list`)")]
    OutOfScope { who: String, scope: String },
    #[error("`{who}` has already reviewed request {id}: a request that needs two approvals needs two different approvers")]
    AlreadyReviewed { who: String, id: i64 },
    #[error("request {id} expired unreviewed at {at}")]
    RequestExpired { id: i64, at: String },
    #[error("request {id} belongs to `{owner}`: only they (or an admin) can withdraw it")]
    NotRequester { id: i64, owner: String },
    #[error("`{0}` is neither a principal nor `group:NAME` of an existing group")]
    NoSuchApprover(String),
    #[error("`{approver}` holds no approver scope `{scope}`")]
    NoSuchApproverScope { approver: String, scope: String },
    #[error("`{who}` cannot give a guest `{scope}`: no approver scope of theirs covers it (`gatehouse approver list`)")]
    GuestOutOfScope { who: String, scope: String },
    #[error("`{who}` sponsors only their own guests, not `{sponsor}`'s: leave the sponsor empty (an admin can name another)")]
    OtherSponsor { who: String, sponsor: String },
}

impl From<rusqlite::Error> for GrantError {
    fn from(e: rusqlite::Error) -> Self {
        GrantError::Store(StoreError::Sql(e))
    }
}

/// Requests, reviews, grants, approver scopes and guests.
pub trait GrantStore: Send {
    /// The change counter of grants: it moves when a grant is added, claimed or ends.
    fn grant_generation(&self) -> Result<i64, StoreError>;
    /// Every grant in state `active` (live or not yet expired by a sweep).
    fn active_grants(&self) -> Result<Vec<GrantRow>, StoreError>;
    fn submit_request(
        &self,
        new: &NewRequest,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Submitted, GrantError>;
    fn review(
        &self,
        id: i64,
        verdict: Verdict,
        comment: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Reviewed, GrantError>;
    /// Withdraw a submitted request: only its requester or an admin.
    fn withdraw_request(
        &self,
        id: i64,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<RequestRow, GrantError>;
    fn request(&self, id: i64) -> Result<RequestRow, GrantError>;
    /// Requests, newest last: of one principal, or in one state, or all; at most `limit`.
    fn requests(
        &self,
        principal: Option<&str>,
        state: Option<RequestState>,
        limit: u64,
    ) -> Result<Vec<RequestRow>, StoreError>;
    /// The submitted requests `approver` may review (not their own, not reviewed by them yet).
    fn review_queue(&self, approver: &str, now_us: i64) -> Result<Vec<RequestRow>, GrantError>;
    /// Add a grant directly (an admin; `by` must be one, or the command line's `cli`).
    fn add_grant(&self, new: &NewGrant, by: Actor<'_>, now_us: i64)
        -> Result<GrantRow, GrantError>;
    fn revoke_grant(
        &self,
        id: i64,
        reason: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<GrantRow, GrantError>;
    /// Start the clock of a grant waiting for its first use; `None` when it was already started
    /// (first writer wins), ended, or its claim-by window closed.
    fn claim_grant(&self, id: i64, now_us: i64) -> Result<Option<GrantRow>, StoreError>;
    fn grant(&self, id: i64) -> Result<GrantRow, GrantError>;
    /// Grants of one principal (or all), newest last; active ones only unless `all`.
    fn grants(&self, principal: Option<&str>, all: bool) -> Result<Vec<GrantRow>, StoreError>;
    /// End what is due at `now_us`: pending requests past their expiry, grants past their end or
    /// their claim-by window, guests past their expiry (disabled).
    fn sweep_grants(&self, now_us: i64) -> Result<Swept, GrantError>;
    fn add_approver_scope(
        &self,
        approver: &str,
        scope: &Scope,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<(), GrantError>;
    fn remove_approver_scope(
        &self,
        approver: &str,
        scope: &Scope,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<(), GrantError>;
    /// Every (approver, scope), sorted.
    fn approver_scopes(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Create a guest (and its grant when it has a scope); the sponsor must be an admin or approver.
    fn add_guest(&self, new: &NewGuest, by: Actor<'_>, now_us: i64)
        -> Result<GuestRow, GrantError>;
    fn guests(&self) -> Result<Vec<GuestRow>, StoreError>;
}

const REQUEST_COLUMNS: &str = "id, principal, scope, duration_s, claim_by_s, purpose, state,
    approvals_needed, destination, created_us, expires_us, decided_us";

pub(super) const GRANT_COLUMNS: &str =
    "id, request_id, principal, scope, purpose, approvers, state,
    created_us, starts_us, duration_s, claim_by_us, expires_us, ended_us, ended_by, end_reason";

fn request_row(r: &rusqlite::Row) -> rusqlite::Result<RequestRow> {
    let state: String = r.get(6)?;
    Ok(RequestRow {
        id: r.get(0)?,
        principal: r.get(1)?,
        scope: r.get(2)?,
        duration_s: r.get(3)?,
        claim_by_s: r.get(4)?,
        purpose: r.get(5)?,
        // A state written by a newer version reads as final: nothing moves it.
        state: RequestState::parse(&state).unwrap_or(RequestState::Expired),
        approvals_needed: r.get(7)?,
        destination: r.get(8)?,
        created_us: r.get(9)?,
        expires_us: r.get(10)?,
        decided_us: r.get(11)?,
        reviews: Vec::new(),
    })
}

pub(super) fn grant_row(r: &rusqlite::Row) -> rusqlite::Result<GrantRow> {
    let state: String = r.get(6)?;
    Ok(GrantRow {
        id: r.get(0)?,
        request_id: r.get(1)?,
        principal: r.get(2)?,
        scope: r.get(3)?,
        purpose: r.get(4)?,
        approvers: r.get(5)?,
        // Unknown: fails closed (allows nothing).
        state: GrantState::parse(&state).unwrap_or(GrantState::Revoked),
        created_us: r.get(7)?,
        starts_us: r.get(8)?,
        duration_s: r.get(9)?,
        claim_by_us: r.get(10)?,
        expires_us: r.get(11)?,
        ended_us: r.get(12)?,
        ended_by: r.get(13)?,
        end_reason: r.get(14)?,
    })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn after(now_us: i64, seconds: i64) -> i64 {
    now_us.saturating_add(seconds.saturating_mul(1_000_000))
}

/// A principal as the permission checks read it.
struct Who {
    role: Role,
    disabled: bool,
    groups: Vec<String>,
}

fn who(tx: &Transaction, name: &str) -> Result<Who, GrantError> {
    let (role, disabled, id): (String, bool, i64) = tx
        .query_row(
            "SELECT role, disabled, id FROM principals WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| GrantError::NoSuchPrincipal(name.to_string()))?;
    let mut stmt = tx.prepare_cached(
        "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.principal_id = ?1",
    )?;
    let groups = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Who {
        role: Role::parse(&role).unwrap_or(Role::User),
        disabled,
        groups,
    })
}

/// `name`, existing and enabled, with one of `roles`.
fn with_role(
    tx: &Transaction,
    name: &str,
    roles: &[Role],
    what: &'static str,
) -> Result<Who, GrantError> {
    let w = who(tx, name)?;
    if w.disabled {
        return Err(GrantError::Disabled(name.to_string()));
    }
    if !roles.contains(&w.role) {
        let needs = match roles {
            [Role::Admin] => "`admin`",
            _ => "`approver` or `admin`",
        };
        return Err(GrantError::Role {
            who: name.to_string(),
            what,
            needs,
        });
    }
    Ok(w)
}

/// An administrator's action: `cli` (whoever runs the command line, which holds the store) or an
/// enabled admin.
pub(super) fn admin_actor(
    tx: &Transaction,
    by: Actor<'_>,
    what: &'static str,
) -> Result<(), GrantError> {
    if by.name == "cli" && by.via == "cli" {
        return Ok(());
    }
    with_role(tx, by.name, &[Role::Admin], what).map(|_| ())
}

/// Whether `w` (named `name`) may review requests for `scope`.
fn covers(tx: &Transaction, name: &str, w: &Who, scope: &Scope) -> Result<bool, GrantError> {
    if w.role == Role::Admin {
        return Ok(true);
    }
    let mut names = vec![name.to_string()];
    names.extend(w.groups.iter().map(|g| format!("group:{g}")));
    let mut stmt = tx.prepare_cached("SELECT scope FROM approver_scopes WHERE approver = ?1")?;
    for n in &names {
        let scopes: Vec<String> = stmt
            .query_map([n], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if scopes
            .iter()
            .filter_map(|s| Scope::parse(s).ok())
            .any(|s| s.covers(scope))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Who may create `new`: the command line (`via` `cli`: it holds the store; `gatehouse guest add`
/// acts as the sponsor it names) or an enabled admin, any guest; an enabled approver (the portal),
/// only a guest they sponsor themself whose tier (`tier:NAME`, unless `none`) and scope each lie
/// within their approver scopes.
fn guest_actor(tx: &Transaction, new: &NewGuest, by: Actor<'_>) -> Result<(), GrantError> {
    if by.via == "cli" {
        return Ok(());
    }
    let roles = [Role::Approver, Role::Admin];
    let w = with_role(tx, by.name, &roles, "create guests")?;
    if w.role == Role::Admin {
        return Ok(());
    }
    if new.sponsor != by.name {
        return Err(GrantError::OtherSponsor {
            who: by.name.to_string(),
            sponsor: new.sponsor.clone(),
        });
    }
    let tier = match new.tier {
        policy::Tier::None => None,
        t => Scope::parse(&format!("tier:{t}")).ok(),
    };
    for scope in tier.iter().chain(new.scope.iter()) {
        if !covers(tx, by.name, &w, scope)? {
            return Err(GrantError::GuestOutOfScope {
                who: by.name.to_string(),
                scope: scope.to_string(),
            });
        }
    }
    Ok(())
}

/// `approver` is an enabled approver or admin, or `group:NAME` of an existing group.
fn approver_exists(tx: &Transaction, approver: &str) -> Result<(), GrantError> {
    let Some(group) = approver.strip_prefix("group:") else {
        let roles = [Role::Approver, Role::Admin];
        return with_role(tx, approver, &roles, "approve requests").map(|_| ());
    };
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)",
        [group],
        |r| r.get(0),
    )?;
    match exists {
        true => Ok(()),
        false => Err(GrantError::NoSuchApprover(approver.to_string())),
    }
}

pub(super) fn record(tx: &Transaction, row: AuditRow) -> Result<(), StoreError> {
    insert_rows(tx, &[row])
}

/// The record of an action on a grant: it carries the grant's id.
fn grant_action(
    now_us: i64,
    by: Actor<'_>,
    action: &str,
    g: &GrantRow,
    detail: String,
) -> AuditRow {
    let mut row = AuditRow::action(
        now_us,
        by.name,
        by.via,
        action,
        &format!("grant:{}", g.id),
        Some(detail),
    );
    row.grant_id = Some(g.id);
    row
}

fn action(now_us: i64, by: Actor<'_>, action: &str, subject: String, detail: String) -> AuditRow {
    AuditRow::action(now_us, by.name, by.via, action, &subject, Some(detail))
}

fn load_request(conn: &rusqlite::Connection, id: i64) -> Result<RequestRow, GrantError> {
    find_request(conn, id)?.ok_or(GrantError::NoSuchRequest(id))
}

/// A request with its reviews, if it exists.
fn find_request(tx: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<RequestRow>> {
    let Some(mut row) = tx
        .query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = ?1"),
            [id],
            request_row,
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = tx.prepare_cached(
        "SELECT approver, verdict, comment, created_us FROM reviews WHERE request_id = ?1
         ORDER BY created_us, rowid",
    )?;
    row.reviews = stmt
        .query_map([id], |r| {
            Ok(ReviewRow {
                approver: r.get(0)?,
                verdict: r.get(1)?,
                comment: r.get(2)?,
                created_us: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(row))
}

fn load_grant(conn: &rusqlite::Connection, id: i64) -> Result<GrantRow, GrantError> {
    conn.query_row(
        &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?1"),
        [id],
        grant_row,
    )
    .optional()?
    .ok_or(GrantError::NoSuchGrant(id))
}

/// Move request `r` by `event` (the one transition check) and write its new state.
fn move_request(
    tx: &Transaction,
    r: &RequestRow,
    event: RequestEvent,
    now_us: i64,
) -> Result<RequestState, GrantError> {
    let to = r.state.apply(event)?;
    if to != r.state {
        tx.execute(
            "UPDATE access_requests SET state = ?1, decided_us = ?2 WHERE id = ?3",
            params![to.as_str(), now_us, r.id],
        )?;
    }
    Ok(to)
}

/// End grant `g` by `event` (the one transition check).
fn end_grant(
    tx: &Transaction,
    g: &GrantRow,
    event: GrantEvent,
    (by, reason): (&str, &str),
    now_us: i64,
) -> Result<GrantRow, GrantError> {
    let to = g.state.apply(event)?;
    Ok(tx.query_row(
        &format!(
            "UPDATE grants SET state = ?1, ended_us = ?2, ended_by = ?3, end_reason = ?4
             WHERE id = ?5 RETURNING {GRANT_COLUMNS}"
        ),
        params![to.as_str(), now_us, by, reason, g.id],
        grant_row,
    )?)
}

/// Insert a grant (its clock started now, or waiting for its first use within `claim_by`).
fn insert_grant(
    tx: &Transaction,
    new: &NewGrant,
    (request_id, approvers): (Option<i64>, &str),
    now_us: i64,
) -> rusqlite::Result<GrantRow> {
    let duration = secs(new.duration);
    let (starts, expires, claim_by) = match new.claim_by {
        Some(window) => (None, None, Some(after(now_us, secs(window)))),
        None => (Some(now_us), Some(after(now_us, duration)), None),
    };
    tx.query_row(
        &format!(
            "INSERT INTO grants (request_id, principal, scope, purpose, approvers, state,
                created_us, starts_us, duration_s, claim_by_us, expires_us)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?8, ?9, ?10) RETURNING {GRANT_COLUMNS}"
        ),
        params![
            request_id,
            new.principal,
            new.scope.to_string(),
            new.purpose,
            approvers,
            now_us,
            starts,
            duration,
            claim_by,
            expires
        ],
        grant_row,
    )
}

fn describe(g: &GrantRow) -> String {
    format!(
        "principal={} scope={} duration={}s purpose={}",
        g.principal, g.scope, g.duration_s, g.purpose
    )
}

/// The live grant of `principal` with exactly `scope`, if any.
fn identical_live(
    tx: &Transaction,
    principal: &str,
    scope: &Scope,
    now_us: i64,
) -> rusqlite::Result<Option<GrantRow>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {GRANT_COLUMNS} FROM grants
         WHERE principal = ?1 AND scope = ?2 AND state = 'active' ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![principal, scope.to_string()], grant_row)?;
    for g in rows {
        let g = g?;
        if g.is_live(now_us) {
            return Ok(Some(g));
        }
    }
    Ok(None)
}

/// Approve or deny `r` inside `tx` after the checks: the review, the move, the grant.
fn decide_review(
    tx: &Transaction,
    r: &RequestRow,
    (verdict, comment): (Verdict, &str),
    by: Actor<'_>,
    now_us: i64,
) -> Result<Reviewed, GrantError> {
    let approvals = 1 + r.reviews.iter().filter(|v| v.verdict == "approve").count() as u32;
    let event = match verdict {
        Verdict::Approve => RequestEvent::Approve {
            approvals,
            needed: r.approvals_needed,
        },
        Verdict::Deny => RequestEvent::Deny,
    };
    let to = move_request(tx, r, event, now_us)?;
    tx.execute(
        "INSERT INTO reviews (request_id, approver, verdict, comment, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.id, by.name, verdict.as_str(), comment, now_us],
    )?;
    let subject = format!("request:{}", r.id);
    let name = match verdict {
        Verdict::Approve => "request.approve",
        Verdict::Deny => "request.deny",
    };
    let detail = format!(
        "approvals={approvals}/{} comment={comment}",
        r.approvals_needed
    );
    record(tx, action(now_us, by, name, subject, detail))?;
    match to {
        RequestState::Submitted => Ok(Reviewed::Pending {
            approvals,
            needed: r.approvals_needed,
        }),
        RequestState::Approved => {
            let mut approvers: Vec<&str> = r
                .reviews
                .iter()
                .filter(|v| v.verdict == "approve")
                .map(|v| v.approver.as_str())
                .collect();
            approvers.push(by.name);
            let new = NewGrant {
                principal: r.principal.clone(),
                scope: Scope::parse(&r.scope).map_err(|_| GrantError::NoSuchRequest(r.id))?,
                duration: Duration::from_secs(r.duration_s.max(0) as u64),
                claim_by: r.claim_by_s.map(|s| Duration::from_secs(s.max(0) as u64)),
                purpose: r.purpose.clone(),
            };
            let g = insert_grant(tx, &new, (Some(r.id), &approvers.join(",")), now_us)?;
            record(
                tx,
                grant_action(now_us, by, "grant.create", &g, describe(&g)),
            )?;
            Ok(Reviewed::Approved(Box::new(g)))
        }
        _ => Ok(Reviewed::Denied),
    }
}

impl Store {
    fn write_lock(&self) -> rusqlite::Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
    }

    /// Expire request `r` (past its pending time) in `tx`, recorded.
    fn expire_request(tx: &Transaction, r: &RequestRow, now_us: i64) -> Result<(), GrantError> {
        move_request(tx, r, RequestEvent::Expire, now_us)?;
        let detail = format!("pending since {}", r.created_us);
        record(
            tx,
            action(
                now_us,
                GATEWAY,
                "request.expire",
                format!("request:{}", r.id),
                detail,
            ),
        )?;
        Ok(())
    }

    /// Give (`add`) or take back an approver's scope, recorded.
    fn change_approver_scope(
        &self,
        (approver, scope): (&str, &Scope),
        add: bool,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<(), GrantError> {
        let tx = self.write_lock()?;
        admin_actor(&tx, by, "change approver scopes")?;
        let changed = if add {
            approver_exists(&tx, approver)?;
            tx.execute(
                "INSERT OR IGNORE INTO approver_scopes (approver, scope, created_us)
                 VALUES (?1, ?2, ?3)",
                params![approver, scope.to_string(), now_us],
            )?;
            true
        } else {
            tx.execute(
                "DELETE FROM approver_scopes WHERE approver = ?1 AND scope = ?2",
                params![approver, scope.to_string()],
            )? > 0
        };
        if !changed {
            return Err(GrantError::NoSuchApproverScope {
                approver: approver.to_string(),
                scope: scope.to_string(),
            });
        }
        let name = if add {
            "approver.add"
        } else {
            "approver.remove"
        };
        let subject = format!("principal:{approver}");
        record(
            &tx,
            action(now_us, by, name, subject, format!("scope={scope}")),
        )?;
        tx.commit()?;
        Ok(())
    }

    fn sweep_in(tx: &Transaction, now_us: i64) -> Result<Swept, GrantError> {
        let mut swept = Swept::default();
        let due: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM access_requests WHERE state = 'submitted' AND expires_us <= ?1",
            )?;
            let ids = stmt.query_map([now_us], |r| r.get(0))?;
            ids.collect::<rusqlite::Result<_>>()?
        };
        for id in due {
            Store::expire_request(tx, &load_request(tx, id)?, now_us)?;
            swept.requests.push(id);
        }
        let ended: Vec<GrantRow> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE state = 'active'
                 AND ((starts_us IS NOT NULL AND expires_us <= ?1)
                   OR (starts_us IS NULL AND claim_by_us <= ?1))"
            ))?;
            let rows = stmt.query_map([now_us], grant_row)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for g in ended {
            let reason = if g.starts_us.is_some() {
                "expired"
            } else {
                "never claimed"
            };
            let g = end_grant(tx, &g, GrantEvent::Expire, ("gatehouse", reason), now_us)?;
            record(
                tx,
                grant_action(now_us, GATEWAY, "grant.expire", &g, reason.into()),
            )?;
            swept.grants.push(g.id);
        }
        let guests: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                // An admin is never disabled by expiry: the store keeps an enabled admin (a
                // guest made admin since keeps its account until an admin disables it).
                "UPDATE principals SET disabled = 1, updated_at = ?1
                 WHERE expires_us IS NOT NULL AND expires_us <= ?1 AND disabled = 0
                   AND role <> 'admin'
                 RETURNING name",
            )?;
            let names = stmt.query_map([now_us], |r| r.get(0))?;
            names.collect::<rusqlite::Result<_>>()?
        };
        for name in guests {
            let subject = format!("principal:{name}");
            record(
                tx,
                action(now_us, GATEWAY, "guest.expire", subject, "disabled".into()),
            )?;
            swept.guests.push(name);
        }
        Ok(swept)
    }
}

impl GrantStore for Store {
    fn grant_generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM grant_generation WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    fn active_grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE state = 'active' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], grant_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn submit_request(
        &self,
        new: &NewRequest,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Submitted, GrantError> {
        let tx = self.write_lock()?;
        let w = who(&tx, &new.principal)?;
        if w.disabled {
            return Err(GrantError::Disabled(new.principal.clone()));
        }
        if let Some(g) = identical_live(&tx, &new.principal, &new.scope, now_us)? {
            return Ok(Submitted::Reused(g));
        }
        let row = tx.query_row(
            &format!(
                "INSERT INTO access_requests (principal, scope, duration_s, claim_by_s, purpose,
                    state, approvals_needed, destination, created_us, expires_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'submitted', ?6, ?7, ?8, ?9)
                 RETURNING {REQUEST_COLUMNS}"
            ),
            params![
                new.principal,
                new.scope.to_string(),
                secs(new.duration),
                new.claim_by.map(secs),
                new.purpose,
                new.approvals_needed.max(1),
                new.destination,
                now_us,
                after(now_us, secs(new.pending_for)),
            ],
            request_row,
        )?;
        let detail = format!(
            "scope={} duration={}s approvals_needed={} purpose={}",
            row.scope, row.duration_s, row.approvals_needed, row.purpose
        );
        let subject = format!("request:{}", row.id);
        record(&tx, action(now_us, by, "request.submit", subject, detail))?;
        tx.commit()?;
        Ok(Submitted::Request(row))
    }

    fn review(
        &self,
        id: i64,
        verdict: Verdict,
        comment: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Reviewed, GrantError> {
        let tx = self.write_lock()?;
        let r = load_request(&tx, id)?;
        if r.principal == by.name {
            return Err(GrantError::OwnRequest(by.name.to_string(), id));
        }
        let w = with_role(
            &tx,
            by.name,
            &[Role::Approver, Role::Admin],
            "review requests",
        )?;
        let scope = Scope::parse(&r.scope).map_err(|_| GrantError::NoSuchRequest(id))?;
        // Who may review it is checked before anything else is said about the request, so that an
        // approver outside its scope learns nothing of it (not even that it expired).
        if !covers(&tx, by.name, &w, &scope)? {
            return Err(GrantError::OutOfScope {
                who: by.name.to_string(),
                scope: r.scope.clone(),
            });
        }
        if r.state == RequestState::Submitted && r.expires_us <= now_us {
            // Expired while waiting: written down now, and the review refused.
            Store::expire_request(&tx, &r, now_us)?;
            tx.commit()?;
            let at = jiff::Timestamp::from_microsecond(r.expires_us)
                .map_or_else(|_| r.expires_us.to_string(), |t| t.to_string());
            return Err(GrantError::RequestExpired { id, at });
        }
        if r.reviews.iter().any(|v| v.approver == by.name) {
            return Err(GrantError::AlreadyReviewed {
                who: by.name.to_string(),
                id,
            });
        }
        let out = decide_review(&tx, &r, (verdict, comment), by, now_us)?;
        tx.commit()?;
        Ok(out)
    }

    fn withdraw_request(
        &self,
        id: i64,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<RequestRow, GrantError> {
        let tx = self.write_lock()?;
        let r = load_request(&tx, id)?;
        if r.principal != by.name {
            admin_actor(&tx, by, "withdraw another person's request").map_err(|_| {
                GrantError::NotRequester {
                    id,
                    owner: r.principal.clone(),
                }
            })?;
        }
        move_request(&tx, &r, RequestEvent::Withdraw, now_us)?;
        let subject = format!("request:{id}");
        record(
            &tx,
            action(now_us, by, "request.withdraw", subject, String::new()),
        )?;
        let r = load_request(&tx, id)?;
        tx.commit()?;
        Ok(r)
    }

    fn request(&self, id: i64) -> Result<RequestRow, GrantError> {
        load_request(&self.conn, id)
    }

    fn requests(
        &self,
        principal: Option<&str>,
        state: Option<RequestState>,
        limit: u64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(p) = principal {
            sql.push_str(" AND principal = ?");
            args.push(p.to_string());
        }
        if let Some(s) = state {
            sql.push_str(" AND state = ?");
            args.push(s.as_str().to_string());
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            limit.min(i64::MAX as u64)
        ));
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.into_iter().rev() {
            out.extend(find_request(&self.conn, id)?);
        }
        Ok(out)
    }

    fn review_queue(&self, approver: &str, now_us: i64) -> Result<Vec<RequestRow>, GrantError> {
        let tx = self.conn.unchecked_transaction()?;
        let w = with_role(
            &tx,
            approver,
            &[Role::Approver, Role::Admin],
            "review requests",
        )?;
        let pending = self.requests(None, Some(RequestState::Submitted), u64::MAX)?;
        let mut out = Vec::new();
        for r in pending {
            let mine = r.principal == approver || r.reviews.iter().any(|v| v.approver == approver);
            let in_scope = match Scope::parse(&r.scope) {
                Ok(s) => covers(&tx, approver, &w, &s)?,
                Err(_) => false,
            };
            if !mine && in_scope && r.expires_us > now_us {
                out.push(r);
            }
        }
        tx.finish()?;
        Ok(out)
    }

    fn add_grant(
        &self,
        new: &NewGrant,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<GrantRow, GrantError> {
        let tx = self.write_lock()?;
        admin_actor(&tx, by, "add grants")?;
        who(&tx, &new.principal)?;
        let g = insert_grant(&tx, new, (None, by.name), now_us)?;
        record(
            &tx,
            grant_action(now_us, by, "grant.create", &g, describe(&g)),
        )?;
        tx.commit()?;
        Ok(g)
    }

    fn revoke_grant(
        &self,
        id: i64,
        reason: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<GrantRow, GrantError> {
        let tx = self.write_lock()?;
        let g = load_grant(&tx, id)?;
        // An admin revokes any grant; an approver one in their scopes.
        if admin_actor(&tx, by, "revoke grants").is_err() {
            let w = with_role(
                &tx,
                by.name,
                &[Role::Approver, Role::Admin],
                "revoke grants",
            )?;
            let scope = Scope::parse(&g.scope).map_err(|_| GrantError::NoSuchGrant(id))?;
            if !covers(&tx, by.name, &w, &scope)? {
                return Err(GrantError::OutOfScope {
                    who: by.name.to_string(),
                    scope: g.scope,
                });
            }
        }
        let g = end_grant(&tx, &g, GrantEvent::Revoke, (by.name, reason), now_us)?;
        record(
            &tx,
            grant_action(now_us, by, "grant.revoke", &g, format!("reason={reason}")),
        )?;
        tx.commit()?;
        Ok(g)
    }

    fn claim_grant(&self, id: i64, now_us: i64) -> Result<Option<GrantRow>, StoreError> {
        let tx = self.write_lock()?;
        let claimed = tx
            .query_row(
                &format!(
                    "UPDATE grants SET starts_us = ?1, expires_us = ?1 + duration_s * 1000000
                     WHERE id = ?2 AND state = 'active' AND starts_us IS NULL AND claim_by_us > ?1
                     RETURNING {GRANT_COLUMNS}"
                ),
                params![now_us, id],
                grant_row,
            )
            .optional()?;
        if let Some(g) = &claimed {
            let by = Actor {
                name: &g.principal,
                via: "gatehouse",
            };
            record(
                &tx,
                grant_action(now_us, by, "grant.claim", g, "first use".into()),
            )?;
        }
        tx.commit()?;
        Ok(claimed)
    }

    fn grant(&self, id: i64) -> Result<GrantRow, GrantError> {
        load_grant(&self.conn, id)
    }

    fn grants(&self, principal: Option<&str>, all: bool) -> Result<Vec<GrantRow>, StoreError> {
        let mut sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE 1 = 1");
        if !all {
            sql.push_str(" AND state = 'active'");
        }
        if principal.is_some() {
            sql.push_str(" AND principal = ?1");
        }
        sql.push_str(" ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(principal), grant_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn sweep_grants(&self, now_us: i64) -> Result<Swept, GrantError> {
        // Most seconds nothing is due: a read answers that without taking the write lock.
        let due: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM access_requests
                            WHERE state = 'submitted' AND expires_us <= ?1)
                 OR EXISTS (SELECT 1 FROM grants WHERE state = 'active'
                            AND ((starts_us IS NOT NULL AND expires_us <= ?1)
                              OR (starts_us IS NULL AND claim_by_us <= ?1)))
                 OR EXISTS (SELECT 1 FROM principals
                            WHERE expires_us IS NOT NULL AND expires_us <= ?1 AND disabled = 0
                              AND role <> 'admin')",
            [now_us],
            |r| r.get(0),
        )?;
        if !due {
            return Ok(Swept::default());
        }
        let tx = self.write_lock()?;
        let swept = Store::sweep_in(&tx, now_us)?;
        tx.commit()?;
        Ok(swept)
    }

    fn add_approver_scope(
        &self,
        approver: &str,
        scope: &Scope,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<(), GrantError> {
        self.change_approver_scope((approver, scope), true, by, now_us)
    }

    fn remove_approver_scope(
        &self,
        approver: &str,
        scope: &Scope,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<(), GrantError> {
        self.change_approver_scope((approver, scope), false, by, now_us)
    }

    fn approver_scopes(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT approver, scope FROM approver_scopes ORDER BY approver, scope")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_guest(
        &self,
        new: &NewGuest,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<GuestRow, GrantError> {
        let tx = self.write_lock()?;
        guest_actor(&tx, new, by)?;
        with_role(
            &tx,
            &new.sponsor,
            &[Role::Approver, Role::Admin],
            "sponsor guests",
        )?;
        let expires_us = after(now_us, secs(new.lasts));
        let inserted = tx.execute(
            "INSERT INTO principals (name, role, tier, password_hash, disabled, created_at,
                updated_at, sponsor, expires_us)
             VALUES (?1, 'user', ?2, ?3, 0, ?4, ?4, ?5, ?6)",
            params![
                new.name,
                new.tier.as_str(),
                new.password_hash,
                now_us,
                new.sponsor,
                expires_us
            ],
        );
        match inserted {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::PrincipalExists(new.name.clone()).into());
            }
            other => other?,
        };
        let detail = format!(
            "sponsor={} tier={} expires_us={expires_us} purpose={}",
            new.sponsor, new.tier, new.purpose
        );
        let subject = format!("principal:{}", new.name);
        record(&tx, action(now_us, by, "guest.create", subject, detail))?;
        if let Some(scope) = &new.scope {
            let grant = NewGrant {
                principal: new.name.clone(),
                scope: scope.clone(),
                duration: new.lasts,
                claim_by: None,
                purpose: new.purpose.clone(),
            };
            let g = insert_grant(&tx, &grant, (None, &new.sponsor), now_us)?;
            record(
                &tx,
                grant_action(now_us, by, "grant.create", &g, describe(&g)),
            )?;
        }
        tx.commit()?;
        Ok(GuestRow {
            name: new.name.clone(),
            sponsor: new.sponsor.clone(),
            tier: new.tier.as_str().to_string(),
            expires_us,
            disabled: false,
        })
    }

    fn guests(&self) -> Result<Vec<GuestRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, sponsor, tier, expires_us, disabled FROM principals
             WHERE sponsor IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(GuestRow {
                name: r.get(0)?,
                sponsor: r.get(1)?,
                tier: r.get(2)?,
                expires_us: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                disabled: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests;
