//! [`AuditRow`]: one audit event as the store holds it, the columns it is read from and how a row
//! becomes one. Shared by the audit table (`audit.rs`) and the verifiable log (`tlog.rs`,
//! `tlog_tail.rs`), which depend on it and not on each other's internals.

/// One audit record as stored (the boundary type of the audit table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    /// Microseconds since the Unix epoch.
    pub ts_us: i64,
    pub principal: Option<String>,
    /// The name a failed proxy authentication tried (printable, bounded), when there was one.
    pub tried_principal: Option<String>,
    pub client: String,
    pub method: String,
    pub destination: String,
    pub url: Option<String>,
    pub decision: String,
    pub rule: String,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_us: u64,
    pub stage: String,
    pub error: Option<String>,
    /// The registered terminal the request came from (`None`: no registered terminal).
    pub terminal: Option<String>,
    /// The terminal's location.
    pub location: Option<String>,
    /// The session (a principal at a terminal) the request was part of.
    pub session_id: Option<i64>,
    /// The principal's groups when the request was decided, comma-separated and sorted.
    pub groups: Option<String>,
    /// The principal's tier when the request was decided.
    pub tier: Option<String>,
    /// The version of the configuration that decided (a hash of its files).
    pub policy_version: Option<String>,
    /// The principal's role when the request was decided.
    pub role: Option<String>,
    /// The rule that refused the request while it was relaying (error `revoked`).
    pub revoked_by: Option<String>,
    /// The access grant that allowed the request.
    pub grant_id: Option<i64>,
}

impl AuditRow {
    /// The `method` of an administrative action's record.
    pub const ACTION_METHOD: &'static str = "ACTION";

    /// The record of an administrative action (a grant approved, a guest created, a log pruned, an
    /// admin reading someone's records): `actor` did `action` (a dotted name such as
    /// `grant.revoke`) to `subject` (such as `principal:ada` or `grant:12`), through `via` (`cli`,
    /// `portal <client address>`, `gatehouse` for the gateway itself), with an optional `detail`.
    /// It is an audit event like a request's, so it is in the verifiable log and in the trail of
    /// whoever reads the actor's records.
    pub fn action(
        ts_us: i64,
        actor: &str,
        via: &str,
        action: &str,
        subject: &str,
        detail: Option<String>,
    ) -> AuditRow {
        AuditRow {
            ts_us,
            principal: Some(actor.to_string()),
            client: via.to_string(),
            method: Self::ACTION_METHOD.to_string(),
            destination: subject.to_string(),
            url: detail,
            decision: "action".to_string(),
            rule: action.to_string(),
            stage: "done".to_string(),
            ..AuditRow::default()
        }
    }
}

/// The columns [`audit_row`] reads, in its order.
pub(super) const AUDIT_COLUMNS: &str = "id, ts_us, principal, tried_principal, client, method, \
    destination, url, decision, rule, status, bytes_up, bytes_down, duration_us, stage, error, \
    terminal, location, session_id, groups, tier, policy_version, role, revoked_by, grant_id";

/// How many columns [`AUDIT_COLUMNS`] names (a query may select more after them).
pub(super) const AUDIT_COLUMN_COUNT: usize = 25;

pub(super) fn audit_row(r: &rusqlite::Row) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        ts_us: r.get(1)?,
        principal: r.get(2)?,
        tried_principal: r.get(3)?,
        client: r.get(4)?,
        method: r.get(5)?,
        destination: r.get(6)?,
        url: r.get(7)?,
        decision: r.get(8)?,
        rule: r.get(9)?,
        status: r.get(10)?,
        bytes_up: r.get::<_, i64>(11)? as u64,
        bytes_down: r.get::<_, i64>(12)? as u64,
        duration_us: r.get::<_, i64>(13)? as u64,
        stage: r.get(14)?,
        error: r.get(15)?,
        terminal: r.get(16)?,
        location: r.get(17)?,
        session_id: r.get(18)?,
        groups: r.get(19)?,
        tier: r.get(20)?,
        policy_version: r.get(21)?,
        role: r.get(22)?,
        revoked_by: r.get(23)?,
        grant_id: r.get(24)?,
    })
}
