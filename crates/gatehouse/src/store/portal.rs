//! Portal sessions: a person logged in to the portal, from the login until logout or expiry. The
//! [`PortalStore`] interface and its SQLite implementation.
//!
//! Guarantees:
//! - only a hash of the session token is stored (the caller hashes; this file never sees a
//!   token), so the store's contents open no session;
//! - a session is found only while it has not expired and its principal exists and is enabled
//!   (checked in the same query, against the principals table, not a snapshot);
//! - disabling or deleting a principal deletes its portal sessions in the same transaction (the
//!   triggers of migration 7), whoever made the change;
//! - logout deletes the session's row: a token that was logged out never works again.
//!
//! Times are microseconds since the Unix epoch, as in `audit_events`.

use rusqlite::{params, OptionalExtension};

use super::error::StoreError;
use super::sqlite::Store;

/// A portal session as stored (the boundary type of the `portal_sessions` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSessionRow {
    pub id: i64,
    pub principal: String,
    /// The address the login came from (`SocketAddr`'s display form).
    pub client: String,
    pub created_us: i64,
    pub expires_us: i64,
    pub last_seen_us: i64,
}

/// Portal sessions: created at login, looked up by the hash of the cookie's token, deleted at
/// logout.
pub trait PortalStore: Send {
    /// Store a new session; its id.
    fn create_portal_session(
        &self,
        token_hash: &str,
        principal: &str,
        client: &str,
        now_us: i64,
        expires_us: i64,
    ) -> Result<i64, StoreError>;
    /// The session whose token hashes to `token_hash`, if it has not expired at `now_us` and its
    /// principal exists and is enabled; it is marked seen at `now_us`.
    fn portal_session(
        &self,
        token_hash: &str,
        now_us: i64,
    ) -> Result<Option<PortalSessionRow>, StoreError>;
    /// Delete the session whose token hashes to `token_hash`; whether there was one.
    fn delete_portal_session(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Delete every session that expired before `now_us`; how many.
    fn delete_expired_portal_sessions(&self, now_us: i64) -> Result<usize, StoreError>;
    /// The open sessions of `principal`, newest first.
    fn portal_sessions_of(&self, principal: &str) -> Result<Vec<PortalSessionRow>, StoreError>;
}

const COLUMNS: &str =
    "s.id, s.principal, s.client, s.created_us, s.expires_us, s.last_seen_us FROM portal_sessions s";

fn session_row(r: &rusqlite::Row) -> rusqlite::Result<PortalSessionRow> {
    Ok(PortalSessionRow {
        id: r.get(0)?,
        principal: r.get(1)?,
        client: r.get(2)?,
        created_us: r.get(3)?,
        expires_us: r.get(4)?,
        last_seen_us: r.get(5)?,
    })
}

impl PortalStore for Store {
    fn create_portal_session(
        &self,
        token_hash: &str,
        principal: &str,
        client: &str,
        now_us: i64,
        expires_us: i64,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO portal_sessions
                 (token_hash, principal, client, created_us, expires_us, last_seen_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
            params![token_hash, principal, client, now_us, expires_us],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn portal_session(
        &self,
        token_hash: &str,
        now_us: i64,
    ) -> Result<Option<PortalSessionRow>, StoreError> {
        let mut found = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} JOIN principals p ON p.name = s.principal
                     WHERE s.token_hash = ?1 AND s.expires_us > ?2 AND p.disabled = 0"
                ),
                params![token_hash, now_us],
                session_row,
            )
            .optional()?;
        if let Some(s) = &mut found {
            self.conn.execute(
                "UPDATE portal_sessions SET last_seen_us = ?1 WHERE id = ?2",
                params![now_us, s.id],
            )?;
            s.last_seen_us = now_us;
        }
        Ok(found)
    }

    fn delete_portal_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM portal_sessions WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(n > 0)
    }

    fn delete_expired_portal_sessions(&self, now_us: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM portal_sessions WHERE expires_us <= ?1",
            params![now_us],
        )?)
    }

    fn portal_sessions_of(&self, principal: &str) -> Result<Vec<PortalSessionRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} WHERE s.principal = ?1 ORDER BY s.id DESC"
        ))?;
        let rows = stmt.query_map(params![principal], session_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PrincipalStore, Role};

    #[test]
    fn a_session_lives_until_expiry_logout_or_its_principal_is_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.add_principal("root", Role::Admin, policy::Tier::None, "h")
            .unwrap();
        s.add_principal("ada", Role::User, policy::Tier::Open, "h")
            .unwrap();
        s.create_portal_session("h1", "ada", "127.0.0.1:1", 100, 200)
            .unwrap();
        s.create_portal_session("h2", "ada", "127.0.0.1:2", 100, 200)
            .unwrap();
        assert_eq!(
            s.portal_session("h1", 150).unwrap().unwrap().principal,
            "ada"
        );
        assert_eq!(
            s.portal_session("h1", 160).unwrap().unwrap().last_seen_us,
            160
        );
        assert_eq!(s.portal_session("h1", 200).unwrap(), None, "expired");
        assert_eq!(s.portal_session("nope", 150).unwrap(), None);
        assert!(s.delete_portal_session("h1").unwrap());
        assert_eq!(s.portal_session("h1", 150).unwrap(), None, "logged out");
        assert!(!s.delete_portal_session("h1").unwrap());
        // Disabling the principal deletes its sessions in the same transaction.
        s.set_disabled("ada", true).unwrap();
        assert!(s.portal_sessions_of("ada").unwrap().is_empty());
        s.set_disabled("ada", false).unwrap();
        assert_eq!(s.portal_session("h2", 150).unwrap(), None);
        s.create_portal_session("h3", "ada", "127.0.0.1:3", 100, 200)
            .unwrap();
        s.delete_principal("ada").unwrap();
        assert!(s.portal_sessions_of("ada").unwrap().is_empty());
        s.create_portal_session("h4", "root", "127.0.0.1:4", 100, 200)
            .unwrap();
        assert_eq!(s.delete_expired_portal_sessions(200).unwrap(), 1);
    }
}
