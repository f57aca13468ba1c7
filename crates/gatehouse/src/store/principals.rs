//! Principals, their roles and tiers, groups and memberships, and the change counter: the
//! [`PrincipalStore`] interface and its SQLite implementation.
//!
//! Guarantees:
//! - every change (a principal added, changed or deleted; a group created or deleted; a member
//!   added or removed) bumps `generation` in the same transaction (SQLite triggers), so a reader
//!   that sees the new counter also sees the change;
//! - no change leaves the store without an enabled admin when it had one: deleting, demoting or
//!   disabling the last enabled admin is refused ([`StoreError::LastAdmin`]), checked and written
//!   in one transaction that holds the write lock, so two CLIs cannot each remove one of two admins;
//! - a principal is read with the names of its groups, sorted, in two queries for any number of
//!   principals, from one snapshot of the store.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::error::StoreError;
use super::sqlite::{now_us, Store};

/// What a principal may do in gatehouse itself (separate from the tier, which governs browsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    /// Reviews access requests in the scopes given to it (`gatehouse approver add`), and creates guests.
    Approver,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "approver" => Some(Role::Approver),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// A principal as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub tier: policy::Tier,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The names of the groups the principal is a member of, sorted.
    pub groups: Vec<String>,
}

/// A group and its members' names, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub name: String,
    pub members: Vec<String>,
}

/// Principals, groups and the change counter: what the gateway loads and the CLI manages.
///
/// Names are compared exactly. Changes to a name that does not exist fail with
/// [`StoreError::NoSuchPrincipal`] or [`StoreError::NoSuchGroup`].
pub trait PrincipalStore: Send {
    /// The change counter: it moves whenever principals, groups or memberships change.
    fn generation(&self) -> Result<i64, StoreError>;
    fn principal_count(&self) -> Result<i64, StoreError>;
    /// Add an enabled principal; its id.
    fn add_principal(
        &self,
        name: &str,
        role: Role,
        tier: policy::Tier,
        password_hash: &str,
    ) -> Result<i64, StoreError>;
    fn set_tier(&self, name: &str, tier: policy::Tier) -> Result<(), StoreError>;
    fn set_password_hash(&self, name: &str, hash: &str) -> Result<(), StoreError>;
    /// Refuses to disable the last enabled admin.
    fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError>;
    /// Refuses to make the last enabled admin a `user`.
    fn set_role(&self, name: &str, role: Role) -> Result<(), StoreError>;
    /// Delete a principal and its memberships (its audit events stay: they name it as text).
    /// Refuses to delete the last enabled admin.
    fn delete_principal(&self, name: &str) -> Result<(), StoreError>;
    /// Every principal with its groups, sorted by name.
    fn principals(&self) -> Result<Vec<PrincipalRow>, StoreError>;
    fn principal(&self, name: &str) -> Result<PrincipalRow, StoreError>;
    fn add_group(&self, name: &str) -> Result<(), StoreError>;
    /// Delete a group; its memberships go with it.
    fn delete_group(&self, name: &str) -> Result<(), StoreError>;
    /// Add a member (adding one already there changes nothing).
    fn add_member(&self, group: &str, principal: &str) -> Result<(), StoreError>;
    fn remove_member(&self, group: &str, principal: &str) -> Result<(), StoreError>;
    /// Every group with its members, sorted by name.
    fn groups(&self) -> Result<Vec<GroupRow>, StoreError>;
    /// Whether the backend answers (for `/readyz`).
    fn ping(&self) -> bool;
}

const PRINCIPAL_COLUMNS: &str =
    "SELECT id, name, role, tier, password_hash, disabled, created_at, updated_at FROM principals";

const MEMBERSHIPS: &str = "SELECT m.principal_id, g.name FROM group_members m
     JOIN groups g ON g.id = m.group_id JOIN principals p ON p.id = m.principal_id";

pub(super) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl Store {
    fn update_principal(
        &self,
        name: &str,
        sql: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(sql, params![value, now_us(), name])?;
        if n == 0 {
            return Err(StoreError::NoSuchPrincipal(name.to_string()));
        }
        Ok(())
    }

    /// Run `change` (which takes away `name`'s admin rights or account) in one transaction that
    /// holds the write lock, unless `name` is the last enabled admin.
    fn unless_last_admin(
        &self,
        name: &str,
        change: impl FnOnce(&Transaction) -> rusqlite::Result<usize>,
    ) -> Result<(), StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        if is_last_admin(&tx, name)? {
            return Err(StoreError::LastAdmin(name.to_string()));
        }
        change(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Principals (all, or the one named) with their groups: two queries in one read snapshot.
    fn load_principals(&self, name: Option<&str>) -> Result<Vec<PrincipalRow>, StoreError> {
        let filter = if name.is_some() {
            " WHERE name = ?1"
        } else {
            ""
        };
        let tx = self.conn.unchecked_transaction()?;
        let mut rows = {
            let mut stmt = tx.prepare(&format!("{PRINCIPAL_COLUMNS}{filter} ORDER BY name"))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(name), principal_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let mut groups: HashMap<i64, Vec<String>> = HashMap::new();
        {
            let filter = if name.is_some() {
                " WHERE p.name = ?1"
            } else {
                ""
            };
            let mut stmt = tx.prepare(&format!("{MEMBERSHIPS}{filter} ORDER BY g.name"))?;
            let members = stmt.query_map(rusqlite::params_from_iter(name), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            for m in members {
                let (principal, group) = m?;
                groups.entry(principal).or_default().push(group);
            }
        }
        tx.finish()?;
        for row in &mut rows {
            row.groups = groups.remove(&row.id).unwrap_or_default();
        }
        Ok(rows)
    }

    fn id_of(&self, table: &str, name: &str) -> rusqlite::Result<Option<i64>> {
        self.conn
            .query_row(
                &format!("SELECT id FROM {table} WHERE name = ?1"),
                [name],
                |r| r.get(0),
            )
            .optional()
    }

    fn member_ids(&self, group: &str, principal: &str) -> Result<(i64, i64), StoreError> {
        let g = self
            .id_of("groups", group)?
            .ok_or_else(|| StoreError::NoSuchGroup(group.to_string()))?;
        let p = self
            .id_of("principals", principal)?
            .ok_or_else(|| StoreError::NoSuchPrincipal(principal.to_string()))?;
        Ok((g, p))
    }
}

/// Whether `name` is the last enabled admin (read in `tx`, which should hold the write lock).
pub(super) fn is_last_admin(tx: &Transaction, name: &str) -> Result<bool, StoreError> {
    tx.query_row(
        "SELECT role = ?2 AND disabled = 0
            AND (SELECT COUNT(*) FROM principals WHERE role = ?2 AND disabled = 0) = 1
         FROM principals WHERE name = ?1",
        params![name, Role::Admin.as_str()],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NoSuchPrincipal(name.to_string()))
}

fn principal_row(r: &rusqlite::Row) -> rusqlite::Result<PrincipalRow> {
    let role: String = r.get(2)?;
    let tier: String = r.get(3)?;
    Ok(PrincipalRow {
        id: r.get(0)?,
        name: r.get(1)?,
        // An unknown value (written by a newer version) fails closed: no admin, no browsing.
        role: Role::parse(&role).unwrap_or(Role::User),
        tier: policy::Tier::parse(&tier).unwrap_or(policy::Tier::None),
        password_hash: r.get(4)?,
        disabled: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        groups: Vec::new(),
    })
}

impl PrincipalStore for Store {
    fn generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM generation WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    fn principal_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM principals", [], |r| r.get(0))?)
    }

    fn add_principal(
        &self,
        name: &str,
        role: Role,
        tier: policy::Tier,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        let now = now_us();
        let r = self.conn.execute(
            "INSERT INTO principals (name, role, tier, password_hash, disabled, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
            params![name, role.as_str(), tier.as_str(), password_hash, now],
        );
        match r {
            Ok(_) => Ok(self.conn.last_insert_rowid()),
            Err(e) if is_constraint(&e) => Err(StoreError::PrincipalExists(name.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn set_tier(&self, name: &str, tier: policy::Tier) -> Result<(), StoreError> {
        self.update_principal(
            name,
            "UPDATE principals SET tier = ?1, updated_at = ?2 WHERE name = ?3",
            &tier.as_str(),
        )
    }

    fn set_password_hash(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        self.update_principal(
            name,
            "UPDATE principals SET password_hash = ?1, updated_at = ?2 WHERE name = ?3",
            &hash,
        )
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE principals SET disabled = ?1, updated_at = ?2 WHERE name = ?3";
        if !disabled {
            return self.update_principal(name, SQL, &disabled);
        }
        self.unless_last_admin(name, |tx| {
            tx.execute(SQL, params![disabled, now_us(), name])
        })
    }

    fn set_role(&self, name: &str, role: Role) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE principals SET role = ?1, updated_at = ?2 WHERE name = ?3";
        if role == Role::Admin {
            return self.update_principal(name, SQL, &role.as_str());
        }
        self.unless_last_admin(name, |tx| {
            tx.execute(SQL, params![role.as_str(), now_us(), name])
        })
    }

    fn delete_principal(&self, name: &str) -> Result<(), StoreError> {
        self.unless_last_admin(name, |tx| {
            tx.execute("DELETE FROM principals WHERE name = ?1", [name])
        })
    }

    fn principals(&self) -> Result<Vec<PrincipalRow>, StoreError> {
        self.load_principals(None)
    }

    fn principal(&self, name: &str) -> Result<PrincipalRow, StoreError> {
        self.load_principals(Some(name))?
            .pop()
            .ok_or_else(|| StoreError::NoSuchPrincipal(name.to_string()))
    }

    fn add_group(&self, name: &str) -> Result<(), StoreError> {
        match self.conn.execute(
            "INSERT INTO groups (name, created_at) VALUES (?1, ?2)",
            params![name, now_us()],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(StoreError::GroupExists(name.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn delete_group(&self, name: &str) -> Result<(), StoreError> {
        // Memberships go by `ON DELETE CASCADE` (the connection enables foreign keys).
        match self
            .conn
            .execute("DELETE FROM groups WHERE name = ?1", [name])?
        {
            0 => Err(StoreError::NoSuchGroup(name.to_string())),
            _ => Ok(()),
        }
    }

    fn add_member(&self, group: &str, principal: &str) -> Result<(), StoreError> {
        let (g, p) = self.member_ids(group, principal)?;
        self.conn.execute(
            "INSERT OR IGNORE INTO group_members (group_id, principal_id) VALUES (?1, ?2)",
            params![g, p],
        )?;
        Ok(())
    }

    fn remove_member(&self, group: &str, principal: &str) -> Result<(), StoreError> {
        let (g, p) = self.member_ids(group, principal)?;
        self.conn.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND principal_id = ?2",
            params![g, p],
        )?;
        Ok(())
    }

    fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT g.name, p.name FROM groups g
             LEFT JOIN group_members m ON m.group_id = g.id
             LEFT JOIN principals p ON p.id = m.principal_id
             ORDER BY g.name, p.name",
        )?;
        let mut out: Vec<GroupRow> = Vec::new();
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for row in rows {
            let (g, p) = row?;
            if out.last().is_none_or(|last| last.name != g) {
                out.push(GroupRow {
                    name: g,
                    members: Vec::new(),
                });
            }
            if let (Some(p), Some(last)) = (p, out.last_mut()) {
                last.members.push(p);
            }
        }
        Ok(out)
    }

    fn ping(&self) -> bool {
        self.conn
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::Tier;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn changes_to_principals_bump_the_generation() {
        let (_dir, s) = store();
        let g0 = s.generation().unwrap();
        s.add_principal("ada", Role::User, Tier::Open, "h").unwrap();
        let g1 = s.generation().unwrap();
        assert!(g1 > g0);
        s.set_tier("ada", Tier::Filtered).unwrap();
        assert!(s.generation().unwrap() > g1);
        assert!(matches!(
            s.set_tier("bob", Tier::Open),
            Err(StoreError::NoSuchPrincipal(_))
        ));
        assert!(matches!(
            s.add_principal("ada", Role::User, Tier::Open, "h"),
            Err(StoreError::PrincipalExists(_))
        ));
    }

    #[test]
    fn principals_come_with_their_groups_sorted() {
        let (_dir, s) = store();
        for name in ["ada", "bob", "cy"] {
            s.add_principal(name, Role::User, Tier::Open, "h").unwrap();
        }
        for g in ["staff", "ops", "admins"] {
            s.add_group(g).unwrap();
            s.add_member(g, "ada").unwrap();
        }
        s.add_member("ops", "bob").unwrap();
        let by_name: HashMap<String, Vec<String>> = s
            .principals()
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.groups))
            .collect();
        assert_eq!(by_name["ada"], ["admins", "ops", "staff"]);
        assert_eq!(by_name["bob"], ["ops"]);
        assert!(by_name["cy"].is_empty());
        assert_eq!(s.principal("bob").unwrap().groups, ["ops"]);
        assert_eq!(s.principal("ada").unwrap().groups.len(), 3);
        assert!(matches!(
            s.principal("dora"),
            Err(StoreError::NoSuchPrincipal(_))
        ));
    }

    #[test]
    fn deleting_a_group_takes_its_memberships_and_bumps_the_generation() {
        let (_dir, s) = store();
        s.add_principal("ada", Role::User, Tier::Open, "h").unwrap();
        s.add_group("empty").unwrap();
        s.add_group("staff").unwrap();
        s.add_member("staff", "ada").unwrap();
        let g0 = s.generation().unwrap();
        s.delete_group("empty").unwrap();
        let g1 = s.generation().unwrap();
        assert!(g1 > g0, "deleting an empty group bumps the generation");
        s.delete_group("staff").unwrap();
        assert!(s.generation().unwrap() > g1);
        assert!(s.principal("ada").unwrap().groups.is_empty());
        assert!(s.groups().unwrap().is_empty());
        let members: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM group_members", [], |r| r.get(0))
            .unwrap();
        assert_eq!(members, 0);
        assert!(matches!(
            s.delete_group("staff"),
            Err(StoreError::NoSuchGroup(_))
        ));
    }

    #[test]
    fn the_last_enabled_admin_cannot_be_deleted_demoted_or_disabled() {
        let (_dir, s) = store();
        s.add_principal("root", Role::Admin, Tier::None, "h")
            .unwrap();
        s.add_principal("ada", Role::User, Tier::Open, "h").unwrap();
        let refused = |r: Result<(), StoreError>, who: &str| matches!(r, Err(StoreError::LastAdmin(n)) if n == who);
        let g = s.generation().unwrap();
        assert!(refused(s.delete_principal("root"), "root"));
        assert!(refused(s.set_role("root", Role::User), "root"));
        assert!(refused(s.set_disabled("root", true), "root"));
        assert_eq!(
            s.generation().unwrap(),
            g,
            "a refused change changes nothing"
        );
        // Changes that keep an enabled admin are fine.
        s.set_role("root", Role::Admin).unwrap();
        s.set_disabled("root", false).unwrap();
        s.delete_principal("ada").unwrap();
        assert!(matches!(
            s.delete_principal("ada"),
            Err(StoreError::NoSuchPrincipal(_))
        ));
        // With a second enabled admin, the first may go.
        s.add_principal("eve", Role::User, Tier::None, "h").unwrap();
        s.set_role("eve", Role::Admin).unwrap();
        s.set_role("root", Role::User).unwrap();
        assert!(refused(s.set_role("eve", Role::User), "eve"));
        s.set_role("root", Role::Admin).unwrap();
        s.set_disabled("root", true).unwrap();
        // A disabled admin is not the one that keeps the store administrable.
        assert!(refused(s.delete_principal("eve"), "eve"));
        s.delete_principal("root").unwrap();
        assert_eq!(
            s.principals()
                .unwrap()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["eve"]
        );
    }
}
