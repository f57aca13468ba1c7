//! An administrator's changes to accounts, each with its audit record: principals created and
//! changed (tier, role, groups, enabled), groups created and deleted, and service-account tokens
//! created, revoked and used.
//! The [`AccountStore`] interface and its SQLite implementation; the portal's admin pages and API
//! and the CLI's `gatehouse token` go through it.
//!
//! Guarantees:
//! - every change is one transaction that holds the write lock from its first statement, checks
//!   who acts (`cli`, or an enabled admin), makes the change and writes its audit record
//!   (`principal.create`, `principal.update` with what changed, `principal.disable`,
//!   `principal.enable`, `group.create`, `group.delete`, `token.create`, `token.revoke`): no
//!   change without its record;
//! - the last enabled admin is never demoted or disabled ([`StoreError::LastAdmin`]);
//! - a change to a principal bumps the principals' change counter (the triggers of the
//!   `principals`, `groups` and `group_members` tables), so a running gateway applies it within a
//!   second (a group deleted: the rules that name it no longer match its former members);
//!   disabling deletes the principal's portal sessions in the same transaction (migration 7);
//! - a token is stored as its hash only; [`AccountStore::token_principal`] finds it only while it
//!   is unrevoked, unexpired and its principal exists and is enabled, all read at that call, and
//!   moves its `last_used_us` at most once a minute.

use rusqlite::{params, OptionalExtension, Transaction};

use super::audit_row::AuditRow;
use super::error::StoreError;
use super::grants::{admin_actor, record, Actor, GrantError};
use super::principals::{is_constraint, is_last_admin, PrincipalRow, PrincipalStore, Role};
use super::sqlite::Store;

/// How often at most a token's `last_used_us` is written: a busy client does not write per call.
pub const LAST_USED_EVERY_US: i64 = 60_000_000;

/// A principal to create.
#[derive(Debug, Clone)]
pub struct NewPrincipal {
    pub name: String,
    pub role: Role,
    pub tier: policy::Tier,
    pub password_hash: String,
}

/// What to change of a principal; `None` leaves that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalChange {
    pub tier: Option<policy::Tier>,
    pub role: Option<Role>,
    /// Exactly these groups (each must exist), sorted or not.
    pub groups: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A service-account token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub principal: String,
    pub label: String,
    pub created_by: String,
    pub created_us: i64,
    pub expires_us: Option<i64>,
    pub last_used_us: Option<i64>,
    pub revoked_us: Option<i64>,
}

impl TokenRow {
    /// Whether it would authenticate at `now_us` (its principal's state aside).
    pub fn is_live(&self, now_us: i64) -> bool {
        self.revoked_us.is_none() && self.expires_us.is_none_or(|e| e > now_us)
    }
}

/// Why an administrator's change to an account was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The store's own refusals (no such principal or group, a name taken, the last admin) and
    /// its failures.
    #[error(transparent)]
    Store(StoreError),
    /// The one acting may not do this (not an admin, disabled, unknown).
    #[error(transparent)]
    Actor(GrantError),
    #[error("no service-account token with id {0}")]
    NoSuchToken(i64),
    #[error("token {0} is already revoked")]
    AlreadyRevoked(i64),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

impl From<rusqlite::Error> for AccountError {
    fn from(e: rusqlite::Error) -> Self {
        AccountError::Store(e.into())
    }
}

impl From<GrantError> for AccountError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Store(s) => AccountError::Store(s),
            other => AccountError::Actor(other),
        }
    }
}

/// Accounts as an administrator changes them, each change recorded with who made it.
pub trait AccountStore: Send {
    /// Create an enabled principal, recorded `principal.create`.
    fn create_principal(
        &self,
        new: &NewPrincipal,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<PrincipalRow, AccountError>;
    /// Apply `change` to `name`; the actions recorded (`principal.update`, `principal.disable`,
    /// `principal.enable`), none when nothing differed.
    fn change_principal(
        &self,
        name: &str,
        change: &PrincipalChange,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Vec<&'static str>, AccountError>;
    /// Store a token for `principal` by the hash of its text, recorded `token.create`.
    fn create_token(
        &self,
        principal: &str,
        label_and_hash: (&str, &str),
        expires_us: Option<i64>,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<TokenRow, AccountError>;
    /// Every token (of `principal` only, when given), newest first, revoked ones included.
    fn tokens(&self, principal: Option<&str>) -> Result<Vec<TokenRow>, StoreError>;
    /// Revoke token `id`, recorded `token.revoke`.
    fn revoke_token(&self, id: i64, by: Actor<'_>, now_us: i64) -> Result<TokenRow, AccountError>;
    /// The live token whose hash is `token_hash` and its enabled principal, marking it used.
    fn token_principal(
        &self,
        token_hash: &str,
        now_us: i64,
    ) -> Result<Option<(TokenRow, PrincipalRow)>, StoreError>;
    /// Create an empty group, recorded `group.create` (subject `group:NAME`).
    fn create_group(&self, name: &str, by: Actor<'_>, now_us: i64) -> Result<(), AccountError>;
    /// Delete a group and its memberships, recorded `group.delete` with the members it had
    /// (sorted); those members.
    fn remove_group(
        &self,
        name: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Vec<String>, AccountError>;
}

const TOKEN_COLUMNS: &str = "SELECT t.id, p.name, t.label, t.created_by, t.created_us, \
    t.expires_us, t.last_used_us, t.revoked_us FROM service_tokens t \
    JOIN principals p ON p.id = t.principal_id";

fn token_row(r: &rusqlite::Row) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        principal: r.get(1)?,
        label: r.get(2)?,
        created_by: r.get(3)?,
        created_us: r.get(4)?,
        expires_us: r.get(5)?,
        last_used_us: r.get(6)?,
        revoked_us: r.get(7)?,
    })
}

fn load_token(conn: &rusqlite::Connection, id: i64) -> Result<TokenRow, AccountError> {
    conn.query_row(&format!("{TOKEN_COLUMNS} WHERE t.id = ?1"), [id], token_row)
        .optional()?
        .ok_or(AccountError::NoSuchToken(id))
}

fn act(now_us: i64, by: Actor<'_>, action: &str, subject: &str, detail: String) -> AuditRow {
    AuditRow::action(now_us, by.name, by.via, action, subject, Some(detail))
}

/// What `name` is now, as the change reads it: id, role, tier, disabled, groups (sorted).
struct Current {
    id: i64,
    role: Role,
    tier: policy::Tier,
    disabled: bool,
    groups: Vec<String>,
}

fn current(tx: &Transaction, name: &str) -> Result<Current, AccountError> {
    let (id, role, tier, disabled): (i64, String, String, bool) = tx
        .query_row(
            "SELECT id, role, tier, disabled FROM principals WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NoSuchPrincipal(name.to_string()))?;
    let mut stmt = tx.prepare(
        "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.principal_id = ?1 ORDER BY g.name",
    )?;
    let groups = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Current {
        id,
        role: Role::parse(&role).unwrap_or(Role::User),
        tier: policy::Tier::parse(&tier).unwrap_or(policy::Tier::None),
        disabled,
        groups,
    })
}

/// Make `id`'s memberships exactly `groups` (sorted, deduplicated), each an existing group.
fn set_groups(tx: &Transaction, id: i64, groups: &[String]) -> Result<(), AccountError> {
    let mut ids = Vec::with_capacity(groups.len());
    for g in groups {
        let gid: i64 = tx
            .query_row("SELECT id FROM groups WHERE name = ?1", [g], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoSuchGroup(g.clone()))?;
        ids.push(gid);
    }
    tx.execute("DELETE FROM group_members WHERE principal_id = ?1", [id])?;
    for gid in ids {
        tx.execute(
            "INSERT INTO group_members (group_id, principal_id) VALUES (?1, ?2)",
            params![gid, id],
        )?;
    }
    Ok(())
}

/// Apply what differs of `change` from `now` in `tx`; the words of the update's detail and the
/// new enabled state when it changed.
fn apply(
    tx: &Transaction,
    name: &str,
    (now, change): (&Current, &PrincipalChange),
    now_us: i64,
) -> Result<(Vec<String>, Option<bool>), AccountError> {
    let mut detail = Vec::new();
    let demoted = change
        .role
        .is_some_and(|r| r != now.role && r != Role::Admin);
    let disabling = change.enabled == Some(false) && !now.disabled;
    if (demoted || disabling) && is_last_admin(tx, name)? {
        return Err(StoreError::LastAdmin(name.to_string()).into());
    }
    let sql =
        "UPDATE principals SET tier = ?1, role = ?2, disabled = ?3, updated_at = ?4 WHERE id = ?5";
    let tier = change.tier.unwrap_or(now.tier);
    let role = change.role.unwrap_or(now.role);
    let disabled = change.enabled.map_or(now.disabled, |e| !e);
    if tier != now.tier {
        detail.push(format!("tier={tier} (was {})", now.tier));
    }
    if role != now.role {
        detail.push(format!(
            "role={} (was {})",
            role.as_str(),
            now.role.as_str()
        ));
    }
    if let Some(groups) = &change.groups {
        let mut wanted = groups.clone();
        wanted.sort();
        wanted.dedup();
        if wanted != now.groups {
            set_groups(tx, now.id, &wanted)?;
            detail.push(format!(
                "groups={} (was {})",
                wanted.join(","),
                now.groups.join(",")
            ));
        }
    }
    let enabled_now = (disabled != now.disabled).then_some(!disabled);
    if !detail.is_empty() || enabled_now.is_some() {
        tx.execute(
            sql,
            params![tier.as_str(), role.as_str(), disabled, now_us, now.id],
        )?;
    }
    Ok((detail, enabled_now))
}

impl AccountStore for Store {
    fn create_group(&self, name: &str, by: Actor<'_>, now_us: i64) -> Result<(), AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "create groups")?;
        // The `groups_ins` trigger (migration 2) moves the principals' change counter.
        match tx.execute(
            "INSERT INTO groups (name, created_at) VALUES (?1, ?2)",
            params![name, now_us],
        ) {
            Err(e) if is_constraint(&e) => {
                return Err(StoreError::GroupExists(name.to_string()).into())
            }
            other => other?,
        };
        let row = act(
            now_us,
            by,
            "group.create",
            &format!("group:{name}"),
            format!("name={name}"),
        );
        record(&tx, row)?;
        tx.commit()?;
        Ok(())
    }

    fn remove_group(
        &self,
        name: &str,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Vec<String>, AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "delete groups")?;
        let members: Vec<String> = tx
            .prepare(
                "SELECT p.name FROM group_members m JOIN groups g ON g.id = m.group_id
                 JOIN principals p ON p.id = m.principal_id WHERE g.name = ?1 ORDER BY p.name",
            )?
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        // Memberships go by `ON DELETE CASCADE`; the `groups_del` and `members_del` triggers
        // move the principals' change counter, so the gateway's rules stop seeing the group.
        if tx.execute("DELETE FROM groups WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::NoSuchGroup(name.to_string()).into());
        }
        let detail = format!("members={}", members.join(","));
        let row = act(now_us, by, "group.delete", &format!("group:{name}"), detail);
        record(&tx, row)?;
        tx.commit()?;
        Ok(members)
    }

    fn create_principal(
        &self,
        new: &NewPrincipal,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<PrincipalRow, AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "create principals")?;
        let inserted = tx.execute(
            "INSERT INTO principals (name, role, tier, password_hash, disabled, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
            params![new.name, new.role.as_str(), new.tier.as_str(), new.password_hash, now_us],
        );
        match inserted {
            Err(e) if is_constraint(&e) => {
                return Err(StoreError::PrincipalExists(new.name.clone()).into())
            }
            other => other?,
        };
        let detail = format!("role={} tier={}", new.role.as_str(), new.tier);
        let subject = format!("principal:{}", new.name);
        record(&tx, act(now_us, by, "principal.create", &subject, detail))?;
        tx.commit()?;
        Ok(self.principal(&new.name)?)
    }

    fn change_principal(
        &self,
        name: &str,
        change: &PrincipalChange,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<Vec<&'static str>, AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "change principals")?;
        let now = current(&tx, name)?;
        let (detail, enabled) = apply(&tx, name, (&now, change), now_us)?;
        let subject = format!("principal:{name}");
        let mut done = Vec::new();
        if !detail.is_empty() {
            let row = act(now_us, by, "principal.update", &subject, detail.join(" "));
            record(&tx, row)?;
            done.push("principal.update");
        }
        if let Some(enabled) = enabled {
            let action = match enabled {
                true => "principal.enable",
                false => "principal.disable",
            };
            let was = if enabled { "disabled" } else { "enabled" };
            record(&tx, act(now_us, by, action, &subject, format!("was {was}")))?;
            done.push(action);
        }
        tx.commit()?;
        Ok(done)
    }

    fn create_token(
        &self,
        principal: &str,
        (label, token_hash): (&str, &str),
        expires_us: Option<i64>,
        by: Actor<'_>,
        now_us: i64,
    ) -> Result<TokenRow, AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "create service-account tokens")?;
        let owner = current(&tx, principal)?;
        tx.execute(
            "INSERT INTO service_tokens (token_hash, principal_id, label, created_by, created_us, expires_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![token_hash, owner.id, label, by.name, now_us, expires_us],
        )?;
        let row = load_token(&tx, tx.last_insert_rowid())?;
        let detail = format!(
            "principal={principal} label={label} expires_us={}",
            expires_us.map_or("never".to_string(), |e| e.to_string())
        );
        let subject = format!("token:{}", row.id);
        record(&tx, act(now_us, by, "token.create", &subject, detail))?;
        tx.commit()?;
        Ok(row)
    }

    fn tokens(&self, principal: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        let filter = if principal.is_some() {
            " WHERE p.name = ?1"
        } else {
            ""
        };
        let mut stmt = self
            .conn
            .prepare(&format!("{TOKEN_COLUMNS}{filter} ORDER BY t.id DESC"))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(principal), token_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn revoke_token(&self, id: i64, by: Actor<'_>, now_us: i64) -> Result<TokenRow, AccountError> {
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        admin_actor(&tx, by, "revoke service-account tokens")?;
        let t = load_token(&tx, id)?;
        if t.revoked_us.is_some() {
            return Err(AccountError::AlreadyRevoked(id));
        }
        tx.execute(
            "UPDATE service_tokens SET revoked_us = ?1 WHERE id = ?2",
            params![now_us, id],
        )?;
        let detail = format!("principal={} label={}", t.principal, t.label);
        record(
            &tx,
            act(now_us, by, "token.revoke", &format!("token:{id}"), detail),
        )?;
        let t = load_token(&tx, id)?;
        tx.commit()?;
        Ok(t)
    }

    fn token_principal(
        &self,
        token_hash: &str,
        now_us: i64,
    ) -> Result<Option<(TokenRow, PrincipalRow)>, StoreError> {
        let found = self
            .conn
            .query_row(
                &format!("{TOKEN_COLUMNS} WHERE t.token_hash = ?1 AND p.disabled = 0"),
                [token_hash],
                token_row,
            )
            .optional()?;
        let Some(t) = found.filter(|t| t.is_live(now_us)) else {
            return Ok(None);
        };
        if t.last_used_us
            .is_none_or(|u| now_us - u >= LAST_USED_EVERY_US)
        {
            self.conn.execute(
                "UPDATE service_tokens SET last_used_us = ?1 WHERE id = ?2",
                params![now_us, t.id],
            )?;
        }
        let p = self.principal(&t.principal)?;
        Ok((!p.disabled).then_some((t, p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::Tier;

    const CLI: Actor<'static> = Actor {
        name: "cli",
        via: "cli",
    };

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        (dir, s)
    }

    fn new(name: &str, role: Role) -> NewPrincipal {
        NewPrincipal {
            name: name.into(),
            role,
            tier: Tier::Filtered,
            password_hash: "h".into(),
        }
    }

    #[test]
    fn changes_are_recorded_with_what_changed_and_move_the_generation() {
        let (_dir, s) = store();
        s.create_principal(&new("root", Role::Admin), CLI, 1)
            .unwrap();
        s.create_principal(&new("ada", Role::User), CLI, 2).unwrap();
        s.add_group("staff").unwrap();
        let g0 = s.generation().unwrap();
        let by = Actor {
            name: "root",
            via: "portal 127.0.0.1:1",
        };
        let change = PrincipalChange {
            tier: Some(Tier::Open),
            groups: Some(vec!["staff".into()]),
            enabled: Some(false),
            ..PrincipalChange::default()
        };
        let done = s.change_principal("ada", &change, by, 3).unwrap();
        assert_eq!(done, ["principal.update", "principal.disable"]);
        assert!(s.generation().unwrap() > g0);
        let ada = s.principal("ada").unwrap();
        assert_eq!(
            (ada.tier, ada.disabled, ada.groups),
            (Tier::Open, true, vec!["staff".to_string()])
        );
        // The same change again changes nothing and records nothing.
        assert!(s
            .change_principal("ada", &change, by, 4)
            .unwrap()
            .is_empty());
        // The last admin stays; a user cannot act; an unknown group changes nothing.
        let demote = PrincipalChange {
            role: Some(Role::User),
            ..PrincipalChange::default()
        };
        assert!(matches!(
            s.change_principal("root", &demote, by, 5),
            Err(AccountError::Store(StoreError::LastAdmin(_)))
        ));
        let ada_acts = Actor {
            name: "ada",
            via: "x",
        };
        assert!(matches!(
            s.change_principal("root", &PrincipalChange::default(), ada_acts, 5),
            Err(AccountError::Actor(_))
        ));
        let bad = PrincipalChange {
            tier: Some(Tier::None),
            groups: Some(vec!["nope".into()]),
            ..PrincipalChange::default()
        };
        assert!(matches!(
            s.change_principal("ada", &bad, by, 6),
            Err(AccountError::Store(StoreError::NoSuchGroup(_)))
        ));
        assert_eq!(s.principal("ada").unwrap().tier, Tier::Open);
        assert!(matches!(
            s.create_principal(&new("ada", Role::User), CLI, 7),
            Err(AccountError::Store(StoreError::PrincipalExists(_)))
        ));
    }

    #[test]
    fn groups_are_created_and_deleted_by_an_admin_recorded_and_move_the_generation() {
        use crate::store::AuditStore;
        let (_dir, s) = store();
        s.create_principal(&new("root", Role::Admin), CLI, 1)
            .unwrap();
        s.create_principal(&new("ada", Role::User), CLI, 1).unwrap();
        let by = Actor {
            name: "root",
            via: "portal 127.0.0.1:1",
        };
        let g0 = s.generation().unwrap();
        s.create_group("staff", by, 2).unwrap();
        assert!(s.generation().unwrap() > g0);
        assert!(matches!(
            s.create_group("staff", by, 3),
            Err(AccountError::Store(StoreError::GroupExists(_)))
        ));
        s.add_member("staff", "ada").unwrap();
        let ada_acts = Actor {
            name: "ada",
            via: "portal 127.0.0.1:2",
        };
        assert!(matches!(
            s.remove_group("staff", ada_acts, 4),
            Err(AccountError::Actor(GrantError::Role { .. }))
        ));
        assert!(matches!(
            s.create_group("desk", ada_acts, 4),
            Err(AccountError::Actor(GrantError::Role { .. }))
        ));
        assert_eq!(s.groups().unwrap().len(), 1);
        let g1 = s.generation().unwrap();
        assert_eq!(s.remove_group("staff", by, 5).unwrap(), ["ada"]);
        assert!(s.generation().unwrap() > g1);
        assert!(s.principal("ada").unwrap().groups.is_empty());
        assert!(matches!(
            s.remove_group("staff", by, 6),
            Err(AccountError::Store(StoreError::NoSuchGroup(_)))
        ));
        let recorded: Vec<_> = s
            .audit(&crate::store::AuditQuery::default())
            .unwrap()
            .into_iter()
            .filter(|r| r.rule.starts_with("group."))
            .map(|r| (r.rule, r.destination, r.url.unwrap_or_default()))
            .collect();
        let row = |a: &str, d: &str| (a.to_string(), "group:staff".to_string(), d.to_string());
        assert_eq!(
            recorded,
            [
                row("group.create", "name=staff"),
                row("group.delete", "members=ada")
            ]
        );
    }

    #[test]
    fn tokens_work_until_revoked_expired_or_their_principal_is_disabled() {
        let (_dir, s) = store();
        s.create_principal(&new("root", Role::Admin), CLI, 1)
            .unwrap();
        s.create_principal(&new("svc", Role::User), CLI, 1).unwrap();
        let t = s
            .create_token("svc", ("ci", "hash1"), None, CLI, 10)
            .unwrap();
        let e = s
            .create_token("svc", ("short", "hash2"), Some(100), CLI, 10)
            .unwrap();
        let (found, p) = s.token_principal("hash1", 20).unwrap().unwrap();
        assert_eq!(
            (found.id, p.name.as_str(), found.last_used_us),
            (t.id, "svc", None)
        );
        assert_eq!(s.tokens(Some("svc")).unwrap()[1].last_used_us, Some(20));
        s.token_principal("hash1", 30).unwrap().unwrap();
        assert_eq!(
            s.tokens(None).unwrap()[1].last_used_us,
            Some(20),
            "not written again within a minute"
        );
        assert!(s.token_principal("hash2", 99).unwrap().is_some());
        assert!(
            s.token_principal("hash2", 100).unwrap().is_none(),
            "expired"
        );
        assert!(s.token_principal("nope", 20).unwrap().is_none());
        let off = PrincipalChange {
            enabled: Some(false),
            ..PrincipalChange::default()
        };
        s.change_principal("svc", &off, CLI, 40).unwrap();
        assert!(
            s.token_principal("hash1", 41).unwrap().is_none(),
            "disabled"
        );
        let on = PrincipalChange {
            enabled: Some(true),
            ..PrincipalChange::default()
        };
        s.change_principal("svc", &on, CLI, 42).unwrap();
        s.revoke_token(t.id, CLI, 50).unwrap();
        assert!(s.token_principal("hash1", 51).unwrap().is_none(), "revoked");
        assert!(matches!(
            s.revoke_token(t.id, CLI, 52),
            Err(AccountError::AlreadyRevoked(_))
        ));
        assert!(matches!(
            s.revoke_token(999, CLI, 52),
            Err(AccountError::NoSuchToken(999))
        ));
        assert_eq!(e.expires_us, Some(100));
    }
}
