//! The versioned store, on real SQLite files: a store made by the schema that shipped before
//! versions existed (`tests/fixtures/store-v0-schema.sql`, kept byte for byte) is migrated without
//! losing or changing a row; a store written by a newer gatehouse is refused by `Store::open`, the
//! CLI and `serve`, and left untouched; several processes opening an old store at once all succeed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use gatehouse::store::{
    AuditQuery, AuditStore, PrincipalStore, Store, StoreError, SCHEMA_VERSION, STORE_FILE,
};

const V0_SCHEMA: &str = include_str!("../fixtures/store-v0-schema.sql");
const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// A store file as the gatehouse before versions made it, with rows in every table.
fn old_store(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join(STORE_FILE)).unwrap();
    c.execute_batch(V0_SCHEMA).unwrap();
    c.execute_batch(
        r#"
        INSERT INTO principals (name, role, tier, password_hash, disabled, created_at, updated_at)
            VALUES ('admin', 'admin', 'none', '$argon2id$admin', 0, 100, 100),
                   ('ada', 'user', 'filtered', '$argon2id$ada', 0, 200, 250),
                   ('bob', 'user', 'open', '$argon2id$bob', 1, 300, 300);
        INSERT INTO groups (name, created_at) VALUES ('staff', 400), ('ops', 410);
        INSERT INTO group_members (group_id, principal_id)
            SELECT g.id, p.id FROM groups g, principals p
            WHERE (g.name = 'staff' AND p.name IN ('ada', 'bob')) OR (g.name = 'ops' AND p.name = 'ada');
        INSERT INTO audit_events (ts_us, principal, client, method, destination, url, decision,
                rule, status, bytes_up, bytes_down, duration_us, stage, error)
            VALUES (1000, 'ada', '127.0.0.1:5000', 'GET', 'origin.test:80', 'http://origin.test/',
                    'allow', 'filtered-allow:research', 200, 10, 20, 30, 'done', NULL),
                   (2000, NULL, '127.0.0.1:5001', 'CONNECT', 'ads.test:443', NULL,
                    'deny', 'auth-required', 407, 0, 0, 5, 'authenticate', NULL),
                   (3000, 'bob', '[::1]:5002', 'GET', 'other.test:80', 'http://other.test/x',
                    'allow', 'tier-open', 0, 1, 0, 9, 'connect', 'connect_failed');
        "#,
    )
    .unwrap();
    c
}

/// Everything the schema holds, as SQLite describes it.
fn schema_of(c: &rusqlite::Connection) -> BTreeSet<(String, String, String)> {
    let mut stmt = c
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn user_version(c: &rusqlite::Connection) -> i64 {
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Every row of a table, in a form that compares exactly.
fn dump(c: &rusqlite::Connection, table: &str, columns: &str) -> Vec<String> {
    let mut stmt = c
        .prepare(&format!("SELECT {columns} FROM {table} ORDER BY 1, 2"))
        .unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

const TABLES: &[(&str, &str)] = &[
    ("principals", "*"),
    ("groups", "*"),
    ("group_members", "*"),
    ("generation", "*"),
    (
        "audit_events",
        "id, ts_us, principal, client, method, destination, url, decision, rule, status, \
         bytes_up, bytes_down, duration_us, stage, error",
    ),
];

#[test]
fn a_store_made_before_versions_keeps_every_row_and_takes_the_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let raw = old_store(dir.path());
    assert_eq!(user_version(&raw), 0);
    let schema_before = schema_of(&raw);
    let rows_before: Vec<Vec<String>> = TABLES.iter().map(|(t, c)| dump(&raw, t, c)).collect();
    let generation_before: i64 = raw
        .query_row("SELECT value FROM generation", [], |r| r.get(0))
        .unwrap();

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(user_version(&raw), SCHEMA_VERSION);

    // Not a row lost or changed, in any table; the counter did not move.
    let rows_after: Vec<Vec<String>> = TABLES.iter().map(|(t, c)| dump(&raw, t, c)).collect();
    assert_eq!(rows_after, rows_before);
    assert_eq!(store.generation().unwrap(), generation_before);
    // Version 1 adopted the old schema as it was: the only changes are those of the later
    // migrations (2: audit and group triggers; 3: sessions; 5: the audit log's tables; 6: access
    // requests, reviews, grants, approver scopes, and the guests' columns of `principals`; 7: portal
    // sessions; 8: the webhook's cursor and the grants announced as about to expire; 10: the
    // dashboard's rollup).
    let schema_after = schema_of(&raw);
    let added: BTreeSet<&str> = schema_after
        .difference(&schema_before)
        .map(|(_, name, _)| name.as_str())
        .collect();
    let removed: BTreeSet<&str> = schema_before
        .difference(&schema_after)
        .map(|(_, name, _)| name.as_str())
        .collect();
    assert_eq!(
        added,
        BTreeSet::from([
            "access_requests",
            "access_requests_pending",
            "access_requests_principal",
            "approver_scopes",
            "audit_checkpoints",
            "audit_events",
            "audit_leaves",
            "audit_log_state",
            "grant_generation",
            "grants",
            "grants_active",
            "grants_del",
            "grants_ins",
            "grants_upd",
            "groups_del",
            "groups_ins",
            "groups_upd",
            "principals",
            "reviews",
            "session_generation",
            "sessions",
            "sessions_del",
            "sessions_end",
            "sessions_ins",
            "sessions_open_location",
            "sessions_open_principal",
            "sessions_open_terminal",
            "sessions_started",
            "sqlite_autoindex_approver_scopes_1",
            "sqlite_autoindex_audit_leaves_1",
            "portal_sessions",
            "portal_sessions_deleted",
            "portal_sessions_disabled",
            "portal_sessions_expires",
            "portal_sessions_principal",
            "sqlite_autoindex_portal_sessions_1",
            "sqlite_autoindex_reviews_1",
            "notify_cursor",
            "sqlite_autoindex_notify_cursor_1",
            "notify_warned",
            "service_tokens",
            "service_tokens_principal",
            "sqlite_autoindex_service_tokens_1",
            "dashboard_rollup",
            "sqlite_autoindex_dashboard_rollup_1",
            "dashboard_fold",
        ])
    );
    assert_eq!(removed, BTreeSet::from(["audit_events", "principals"]));

    // Through the store's interfaces: the same principals, with their groups, and the same events.
    let principals = store.principals().unwrap();
    let summary: Vec<String> = principals
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} disabled={} {} {} [{}]",
                p.name,
                p.role.as_str(),
                p.tier.as_str(),
                p.password_hash,
                p.disabled,
                p.created_at,
                p.updated_at,
                p.groups.join(",")
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "ada user filtered $argon2id$ada disabled=false 200 250 [ops,staff]",
            "admin admin none $argon2id$admin disabled=false 100 100 []",
            "bob user open $argon2id$bob disabled=true 300 300 [staff]",
        ]
    );
    let events = store.audit(&AuditQuery::default()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        (events[2].principal.as_deref(), events[2].client.as_str()),
        (Some("bob"), "[::1]:5002")
    );
    assert_eq!(events[2].error.as_deref(), Some("connect_failed"));
    assert!(events.iter().all(|e| e.tried_principal.is_none()));

    // The generation triggers still work, old and new.
    store.set_tier("ada", policy::Tier::Open).unwrap();
    assert_eq!(store.generation().unwrap(), generation_before + 1);
    store.delete_group("ops").unwrap();
    // The group and ada's membership of it: two bumps.
    assert_eq!(store.generation().unwrap(), generation_before + 3);
    drop(store);

    // A second open finds nothing to do.
    let mut again = Store::open(dir.path()).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(again.principals().unwrap().len(), 3);

    // The events recorded before the log existed become its first leaves, in id order, once.
    use gatehouse::store::{event_leaf, LogStore};
    assert_eq!(again.tree_size().unwrap(), 0);
    assert_eq!(again.adopt_pending().unwrap(), 3);
    assert_eq!(again.adopt_pending().unwrap(), 0);
    let leaves = again.leaves(0, 10).unwrap();
    let pairs: Vec<(i64, auditlog::Hash)> = leaves.iter().map(|l| (l.event_id, l.hash)).collect();
    let expected: Vec<(i64, auditlog::Hash)> =
        events.iter().map(|e| (e.id, event_leaf(e))).collect();
    assert_eq!(pairs, expected);
}

#[test]
fn a_store_from_a_newer_gatehouse_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let raw = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let newer = SCHEMA_VERSION + 1;
    raw.pragma_update(None, "user_version", newer).unwrap();
    raw.execute_batch("CREATE TABLE from_the_future (x INTEGER)")
        .unwrap();
    let schema = schema_of(&raw);
    let path = dir.path().join(STORE_FILE);
    let expected = format!(
        "the store `{}` has schema version {newer}, newer than this gatehouse knows ({SCHEMA_VERSION})",
        path.display()
    );

    match Store::open(dir.path()) {
        Err(e @ StoreError::TooNew { .. }) => {
            assert!(e.to_string().starts_with(&expected), "{e}")
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a newer store was opened"),
    }
    // The CLI, reading or writing, and `serve` refuse it the same way.
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        "[proxy]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[portal]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    for args in [
        &["user", "list"][..],
        &["user", "add", "ada", "--tier", "open"],
        &["audit"],
        &["serve"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.contains(&expected), "{args:?}: {err}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("shown only this once"),
            "{args:?}"
        );
    }
    assert_eq!(user_version(&raw), newer);
    assert_eq!(schema_of(&raw), schema);
    let principals: i64 = raw
        .query_row("SELECT COUNT(*) FROM principals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(principals, 0);
}

#[test]
fn openers_racing_on_an_old_store_all_succeed() {
    // The CLI and `serve` may open an old store at the same moment; each runs the migrations.
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        drop(old_store(dir.path()));
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Store::open(dir.path()).map(|s| s.principals().unwrap().len())
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap().unwrap(), 3);
            }
        });
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }
}
