//! The audit table: the [`AuditStore`] interface (append a batch, read back filtered) and its
//! SQLite implementation.
//!
//! Guarantees:
//! - [`AuditStore::audit_trail`] gives each event with the purpose of the grant that allowed it,
//!   joined in the same query (one read for a page or an export, never one per event); the event
//!   itself is unchanged, so nothing of the verifiable log depends on the purpose;
//! - the table is append-only: nothing here updates or deletes an event, and deleting a principal
//!   leaves its events (they name it as text); only retention deletes events, the oldest, up to a
//!   signed checkpoint (`LogReadStore::prune`, `tlog_read.rs`);
//! - a batch is appended in one transaction: all its events are stored, or none, and with them
//!   their leaves in the verifiable log (`tlog.rs`);
//! - a read returns events oldest first; with a limit, the newest `limit` of those that match.
//!
//! Indexes: only time (`audit_events_ts`, append order, cheap). Filters on principal, rule, status
//! or client read the table newest first by rowid and stop at the limit, so they cost the rows they
//! skip; `--since` bounds a search for something rare. An index per filter would be paid by the
//! audit writer on every event, which is the hot side.

use std::net::{IpAddr, SocketAddr};

use rusqlite::Transaction;

use super::audit_row::{audit_row, AuditRow, AUDIT_COLUMNS, AUDIT_COLUMN_COUNT};
use super::error::StoreError;
use super::sqlite::{BatchInsert, Store};
use super::tlog;

/// Which client's events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFilter {
    /// Every connection from this address, whatever its port. An IPv4 address also matches the
    /// same client seen through a dual-stack listener (`[::ffff:a.b.c.d]:port`), and the other way round.
    Address(IpAddr),
    /// One connection: this address and port.
    Socket(SocketAddr),
}

impl ClientFilter {
    /// `LIKE` patterns over the stored `client` column (`SocketAddr`'s display form), any of which
    /// must match.
    fn patterns(self) -> Vec<String> {
        let (ip, port) = match self {
            ClientFilter::Address(ip) => (ip, "%".to_string()),
            ClientFilter::Socket(s) => (s.ip(), s.port().to_string()),
        };
        match ip.to_canonical() {
            IpAddr::V4(v4) => vec![
                format!("{v4}:{port}"),
                format!("[{}]:{port}", v4.to_ipv6_mapped()),
            ],
            IpAddr::V6(v6) => vec![format!("[{v6}]:{port}")],
        }
    }
}

/// Filters for reading the audit trail. Every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub principal: Option<String>,
    /// Matches the destination host exactly or as a parent domain (`example.com` matches `www.example.com`).
    pub destination: Option<String>,
    pub decision: Option<String>,
    /// The rule (or error code) exactly.
    pub rule: Option<String>,
    pub status: Option<u16>,
    pub client: Option<ClientFilter>,
    /// The terminal exactly.
    pub terminal: Option<String>,
    /// The location exactly.
    pub location: Option<String>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// The newest this many events; `None` for every match.
    pub limit: Option<u64>,
}

/// An audit event as a person's trail shows it: the event, and the purpose of the access grant
/// that allowed it (its `grant_id`), so that the purpose is read next to the traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailEvent {
    pub row: AuditRow,
    /// The purpose of grant `row.grant_id`; `None` for an event no grant allowed (or, never in
    /// practice, a grant no longer in the store).
    pub purpose: Option<String>,
}

/// Appending and reading the audit trail.
pub trait AuditStore: Send {
    /// Append a batch of rows in one transaction (their `id` is ignored and assigned).
    fn append_audit(&mut self, rows: &[AuditRow]) -> Result<(), StoreError>;
    /// Append `rows` with their leaves `hashes` (`tlog::event_leaf` of each, computed by the
    /// caller, which keeps them for its tree) in one transaction; returns the first leaf's number.
    fn append_hashed(
        &mut self,
        rows: &[AuditRow],
        hashes: &[auditlog::Hash],
    ) -> Result<u64, StoreError>;
    /// Read events, oldest first, filtered.
    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;
    /// [`AuditStore::audit`], each event with its grant's purpose, in one query.
    fn audit_trail(&self, q: &AuditQuery) -> Result<Vec<TrailEvent>, StoreError>;
}

/// Escape `LIKE`'s wildcards (with `\` as the escape character).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The `WHERE` clause and its arguments for a query.
fn where_clause(q: &AuditQuery) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    let mut exact = |column: &str, value: Box<dyn rusqlite::ToSql>| {
        sql.push_str(&format!(" AND {column} = ?"));
        args.push(value);
    };
    if let Some(p) = &q.principal {
        exact("principal", Box::new(p.clone()));
    }
    if let Some(d) = &q.decision {
        exact("decision", Box::new(d.clone()));
    }
    if let Some(r) = &q.rule {
        exact("rule", Box::new(r.clone()));
    }
    if let Some(s) = q.status {
        exact("status", Box::new(s));
    }
    if let Some(t) = &q.terminal {
        exact("terminal", Box::new(t.clone()));
    }
    if let Some(l) = &q.location {
        exact("location", Box::new(l.clone()));
    }
    if let Some(d) = &q.destination {
        // The destination column is `host:port`; match the host or any subdomain of it.
        sql.push_str(
            " AND (destination = ? OR destination LIKE ? ESCAPE '\\' OR destination LIKE ? ESCAPE '\\')",
        );
        let esc = like_escape(d);
        args.push(Box::new(d.clone()));
        args.push(Box::new(format!("{esc}:%")));
        args.push(Box::new(format!("%.{esc}:%")));
    }
    if let Some(c) = q.client {
        // Patterns built from a parsed address hold no wildcard of their own.
        let patterns = c.patterns();
        let any = vec!["client LIKE ?"; patterns.len()].join(" OR ");
        sql.push_str(&format!(" AND ({any})"));
        args.extend(
            patterns
                .into_iter()
                .map(|p| Box::new(p) as Box<dyn rusqlite::ToSql>),
        );
    }
    if let Some(s) = q.since_us {
        sql.push_str(" AND ts_us >= ?");
        args.push(Box::new(s));
    }
    if let Some(u) = q.until_us {
        sql.push_str(" AND ts_us < ?");
        args.push(Box::new(u));
    }
    (sql, args)
}

/// The columns an event is inserted with, in the order [`bind_event`] binds them.
const INSERT_COLUMNS: &str =
    "ts_us, principal, tried_principal, client, method, destination, url, \
    decision, rule, status, bytes_up, bytes_down, duration_us, stage, error, terminal, location, \
    session_id, groups, tier, policy_version, role, revoked_by, grant_id";
const INSERT_ARITY: usize = 24;

/// The insert of events, built once.
static EVENTS: std::sync::LazyLock<BatchInsert> =
    std::sync::LazyLock::new(|| BatchInsert::new("audit_events", INSERT_COLUMNS, INSERT_ARITY));

/// Bind event `r` from parameter index `first` on.
fn bind_event(
    stmt: &mut rusqlite::Statement<'_>,
    first: usize,
    r: &AuditRow,
) -> rusqlite::Result<()> {
    let values: [&dyn rusqlite::ToSql; INSERT_ARITY] = [
        &r.ts_us,
        &r.principal,
        &r.tried_principal,
        &r.client,
        &r.method,
        &r.destination,
        &r.url,
        &r.decision,
        &r.rule,
        &r.status,
        &(r.bytes_up as i64),
        &(r.bytes_down as i64),
        &(r.duration_us as i64),
        &r.stage,
        &r.error,
        &r.terminal,
        &r.location,
        &r.session_id,
        &r.groups,
        &r.tier,
        &r.policy_version,
        &r.role,
        &r.revoked_by,
        &r.grant_id,
    ];
    for (i, v) in values.iter().enumerate() {
        stmt.raw_bind_parameter(first + i, v)?;
    }
    Ok(())
}

/// Insert `rows` with their leaves of the verifiable log (`hashes`, one per row, from
/// `tlog::event_leaf`), inside the caller's transaction, which must hold the write lock (`BEGIN
/// IMMEDIATE`, so that leaf numbers never collide and the rows of one statement get consecutive
/// ids): a batch of the audit writer, or the record of a state change written in the same
/// transaction as the change (`grants.rs`). Returns the first leaf's number.
pub(super) fn insert_hashed(
    tx: &Transaction<'_>,
    rows: &[AuditRow],
    hashes: &[auditlog::Hash],
) -> Result<u64, StoreError> {
    tlog::adopt(tx)?;
    let mut ids = Vec::with_capacity(rows.len());
    EVENTS.run(
        tx,
        rows.len(),
        |stmt, first, i| bind_event(stmt, first, &rows[i]),
        // The rows of one insert get consecutive ids, the last one's reported.
        |n| {
            let last = tx.last_insert_rowid();
            ids.extend(last - n as i64 + 1..=last);
        },
    )?;
    tlog::append_leaves(tx, hashes, &ids)
}

/// [`insert_hashed`], hashing the rows itself (a few records of state changes).
pub(super) fn insert_rows(tx: &Transaction<'_>, rows: &[AuditRow]) -> Result<(), StoreError> {
    let hashes: Vec<auditlog::Hash> = rows.iter().map(tlog::event_leaf).collect();
    insert_hashed(tx, rows, &hashes).map(drop)
}

impl AuditStore for Store {
    fn append_audit(&mut self, rows: &[AuditRow]) -> Result<(), StoreError> {
        // Hashed before the write lock is taken: other writers (the CLI) wait less.
        let hashes: Vec<auditlog::Hash> = rows.iter().map(tlog::event_leaf).collect();
        self.append_hashed(rows, &hashes).map(drop)
    }

    fn append_hashed(
        &mut self,
        rows: &[AuditRow],
        hashes: &[auditlog::Hash],
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let first = insert_hashed(&tx, rows, hashes)?;
        tx.commit()?;
        Ok(first)
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let (sql, args) = select(q);
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), audit_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn audit_trail(&self, q: &AuditQuery) -> Result<Vec<TrailEvent>, StoreError> {
        let (events, args) = select(q);
        // The filters and the limit apply to the events alone (the grants table has columns of
        // the same names); the grant's purpose is joined onto what they selected, by primary key.
        let sql = format!(
            "SELECT e.*, g.purpose FROM ({events}) AS e \
             LEFT JOIN grants AS g ON g.id = e.grant_id ORDER BY e.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(TrailEvent {
                row: audit_row(r)?,
                purpose: r.get(AUDIT_COLUMN_COUNT)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// The `SELECT` of the events `q` matches, oldest first, and its arguments.
fn select(q: &AuditQuery) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let (filter, args) = where_clause(q);
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events{filter} ORDER BY id");
    if let Some(l) = q.limit {
        // The newest `limit` events, still printed oldest first.
        sql = format!("SELECT * FROM ({sql} DESC LIMIT {l}) AS newest ORDER BY id");
    }
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, dest: &str) -> AuditRow {
        AuditRow {
            id,
            ts_us: id,
            principal: Some("ada".into()),
            tried_principal: None,
            client: "127.0.0.1:1".into(),
            method: "GET".into(),
            destination: dest.into(),
            url: None,
            decision: "allow".into(),
            rule: "tier-open".into(),
            status: 200,
            bytes_up: 1,
            bytes_down: 2,
            duration_us: 3,
            stage: "done".into(),
            error: None,
            terminal: None,
            location: None,
            session_id: None,
            groups: None,
            tier: None,
            policy_version: None,
            role: None,
            revoked_by: None,
            grant_id: None,
        }
    }

    fn ts(s: &Store, q: AuditQuery) -> Vec<i64> {
        s.audit(&q).unwrap().iter().map(|r| r.ts_us).collect()
    }

    #[test]
    fn audit_filters_by_destination_suffix_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.append_audit(&[
            row(1, "example.com:80"),
            row(2, "www.example.com:443"),
            row(3, "notexample.com:80"),
            row(4, "example.com:443"),
        ])
        .unwrap();
        let q = AuditQuery {
            destination: Some("example.com".into()),
            ..Default::default()
        };
        assert_eq!(ts(&s, q), vec![1, 2, 4]);
        let q = AuditQuery {
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(ts(&s, q), vec![3, 4]);
        assert_eq!(ts(&s, AuditQuery::default()), vec![1, 2, 3, 4]);
    }

    #[test]
    fn the_trail_joins_each_events_grant_purpose_under_the_same_filters_and_limit() {
        use crate::store::{Actor, GrantStore, NewGrant, PrincipalStore, Role};
        assert_eq!(AUDIT_COLUMNS.split(',').count(), AUDIT_COLUMN_COUNT);
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.add_principal("ada", Role::User, policy::Tier::Filtered, "h")
            .unwrap();
        let new = NewGrant {
            principal: "ada".into(),
            scope: access::Scope::parse("domain:example.com").unwrap(),
            duration: std::time::Duration::from_secs(60),
            claim_by: None,
            purpose: "reading the minutes of the board".into(),
        };
        let cli = Actor {
            name: "cli",
            via: "cli",
        };
        let g = s.add_grant(&new, cli, 1).unwrap();
        let granted = |id| AuditRow {
            grant_id: Some(g.id),
            rule: "grant".into(),
            ..row(id, "example.com:80")
        };
        s.append_audit(&[row(10, "example.com:80"), granted(11), granted(12)])
            .unwrap();
        let q = AuditQuery {
            principal: Some("ada".into()),
            destination: Some("example.com".into()),
            limit: Some(2),
            ..Default::default()
        };
        let trail = s.audit_trail(&q).unwrap();
        let plain = s.audit(&q).unwrap();
        assert_eq!(
            trail.iter().map(|e| e.row.clone()).collect::<Vec<_>>(),
            plain
        );
        let purposes: Vec<_> = trail.iter().map(|e| e.purpose.as_deref()).collect();
        assert_eq!(purposes, [Some(new.purpose.as_str()); 2]);
        let all = s
            .audit_trail(&AuditQuery {
                destination: Some("example.com".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((all[0].row.ts_us, all[0].purpose.as_deref()), (10, None));
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn audit_filters_by_rule_status_and_client() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let with = |id: i64, client: &str, rule: &str, status: u16| AuditRow {
            client: client.into(),
            rule: rule.into(),
            status,
            tried_principal: Some(format!("tried-{id}")),
            ..row(id, "example.com:80")
        };
        s.append_audit(&[
            with(1, "10.0.0.1:5000", "tier-open", 200),
            with(2, "10.0.0.1:5001", "deny-ads", 403),
            with(3, "10.0.0.10:5000", "tier-open", 502),
            with(4, "[::ffff:10.0.0.1]:6000", "tier-open", 200),
            with(5, "[2001:db8::1]:5000", "deny-ads", 403),
        ])
        .unwrap();
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            ts(&s, q)
        };
        assert_eq!(q(|q| q.rule = Some("deny-ads".into())), [2, 5]);
        assert_eq!(q(|q| q.rule = Some("deny".into())), [0i64; 0]);
        assert_eq!(q(|q| q.status = Some(502)), [3]);
        fn ip(s: &str) -> Option<ClientFilter> {
            Some(ClientFilter::Address(s.parse().unwrap()))
        }
        fn sock(s: &str) -> Option<ClientFilter> {
            Some(ClientFilter::Socket(s.parse().unwrap()))
        }
        // An address matches every port, not a longer address with the same prefix, and the
        // same client seen through a dual-stack listener.
        assert_eq!(q(|q| q.client = ip("10.0.0.1")), [1, 2, 4]);
        assert_eq!(q(|q| q.client = ip("::ffff:10.0.0.1")), [1, 2, 4]);
        assert_eq!(q(|q| q.client = sock("10.0.0.1:5001")), [2]);
        assert_eq!(q(|q| q.client = sock("10.0.0.1:6000")), [4]);
        assert_eq!(q(|q| q.client = ip("2001:db8::1")), [5]);
        assert_eq!(q(|q| q.client = sock("[2001:db8::1]:5000")), [5]);
        assert_eq!(
            q(|q| {
                q.client = ip("10.0.0.1");
                q.status = Some(200);
            }),
            [1, 4]
        );
        let stored = s.audit(&AuditQuery::default()).unwrap();
        assert_eq!(stored[2].tried_principal.as_deref(), Some("tried-3"));
    }
}
