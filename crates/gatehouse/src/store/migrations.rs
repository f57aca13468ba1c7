//! The schema, as numbered migrations run by `rusqlite_migration` at every open.
//!
//! The schema version is SQLite's `PRAGMA user_version`: 0 for a new file and for a store made
//! before versions existed, N after migration N. Migration 1 is exactly the schema that shipped
//! unversioned (`CREATE … IF NOT EXISTS`, `INSERT OR IGNORE`), so such a store adopts version 1
//! without change and then takes the later migrations like any other. Every migration runs in one
//! transaction with the version update: a store is at one version or the next, never between.
//!
//! Guarantees:
//! - a store whose version is newer than [`SCHEMA_VERSION`] is refused ([`StoreError::TooNew`],
//!   naming the file and both versions) before anything is written to it;
//! - two processes opening an old store at once (the CLI and `serve`) do not fail: the migrations
//!   take the write lock at their start, and the one that finds the work done by the other
//!   accepts the result.
//!
//! A migration that has shipped is never edited; a change is a new file appended to [`MIGRATIONS`].

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use super::error::StoreError;

/// Every migration, in order; the schema version after migration N is N.
const MIGRATIONS: &[M<'static>] = &[
    // The schema as it shipped before versions existed (kept byte for byte as the test fixture
    // `tests/fixtures/store-v0-schema.sql`).
    M::up(include_str!("migrations/0001_initial.sql")),
    M::up(include_str!(
        "migrations/0002_tried_principal_and_group_triggers.sql"
    )),
    M::up(include_str!("migrations/0003_sessions.sql")),
    M::up(include_str!("migrations/0004_audit_place_and_policy.sql")),
    M::up(include_str!("migrations/0005_audit_log.sql")),
    M::up(include_str!("migrations/0006_grants.sql")),
    M::up(include_str!("migrations/0007_portal_sessions.sql")),
    M::up(include_str!("migrations/0008_notify_cursor.sql")),
    M::up(include_str!("migrations/0009_service_tokens.sql")),
    M::up(include_str!("migrations/0010_dashboard_rollup.sql")),
];

/// The schema version this gatehouse writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Bring the store at `path` to [`SCHEMA_VERSION`], or refuse a newer one.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found = user_version(conn).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // IMMEDIATE: the migration holds the write lock from its first statement, so a concurrent
    // opener waits (busy timeout) instead of interleaving with it.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    let result = Migrations::from_slice(MIGRATIONS).to_latest(conn);
    conn.set_transaction_behavior(TransactionBehavior::Deferred);
    match result {
        Ok(()) => Ok(()),
        // Another process migrated the store while this one waited for the lock; its own attempt
        // then failed on the work already done (a column that exists) and was rolled back.
        Err(_) if user_version(conn).ok() == Some(SCHEMA_VERSION) => Ok(()),
        Err(source) => Err(StoreError::Migrate {
            path: path.to_path_buf(),
            known: SCHEMA_VERSION,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn migration_1_is_the_schema_that_shipped_unversioned() {
        assert_eq!(
            include_str!("migrations/0001_initial.sql"),
            include_str!("../../tests/fixtures/store-v0-schema.sql")
        );
    }
}
