//! The store: principals, groups, the change counter and the audit trail, in one SQLite file.
//!
//! The store is the truth about principals. The CLI writes to it while `serve` runs; every change to
//! principals or group membership bumps `generation` (by trigger, in the same transaction), and the
//! gateway polls that counter to reload its snapshot within a second.
//!
//! The audit table is append-only, keyed by rowid, with one index on time (append order, cheap).
//! Connections use WAL and `synchronous = NORMAL`: a committed batch survives a process crash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "gatehouse.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store `{path}`: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory `{path}`: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create `{path}`: {source}")]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("there is no store at `{path}`: check `--data-dir` (the store is created by `gatehouse serve` or `gatehouse user add`)")]
    Missing { path: PathBuf },
    #[error("no principal named `{0}`")]
    NoSuchPrincipal(String),
    #[error("a principal named `{0}` already exists")]
    PrincipalExists(String),
    #[error("no group named `{0}`")]
    NoSuchGroup(String),
    #[error("a group named `{0}` already exists")]
    GroupExists(String),
    #[error("store error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// What a principal may do in gatehouse itself (separate from the tier, which governs browsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
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
}

/// One audit record as stored (the boundary type of the audit table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    /// Microseconds since the Unix epoch.
    pub ts_us: i64,
    pub principal: Option<String>,
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
}

/// Filters for reading the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub principal: Option<String>,
    /// Matches the destination host exactly or as a parent domain (`example.com` matches `www.example.com`).
    pub destination: Option<String>,
    pub decision: Option<String>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    pub limit: Option<u64>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS principals (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    tier          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, principal_id)
);
CREATE TABLE IF NOT EXISTS generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO generation (id, value) VALUES (1, 1);
CREATE TRIGGER IF NOT EXISTS principals_ins AFTER INSERT ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS principals_upd AFTER UPDATE ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS principals_del AFTER DELETE ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS members_ins AFTER INSERT ON group_members
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS members_del AFTER DELETE ON group_members
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TABLE IF NOT EXISTS audit_events (
    id          INTEGER PRIMARY KEY,
    ts_us       INTEGER NOT NULL,
    principal   TEXT,
    client      TEXT NOT NULL,
    method      TEXT NOT NULL,
    destination TEXT NOT NULL,
    url         TEXT,
    decision    TEXT NOT NULL,
    rule        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    bytes_up    INTEGER NOT NULL,
    bytes_down  INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts_us);
"#;

/// A connection to the store.
pub struct Store {
    conn: Connection,
}

/// The store's path inside a data directory, creating the directory when missing.
///
/// A new data directory is created readable by its owner only (0700), and a new store file too
/// (0600; SQLite gives its `-wal` and `-shm` files the same mode): the store holds password
/// hashes and everyone's audit trail. An existing directory or file keeps the mode it has.
pub fn store_path(data_dir: &Path) -> Result<PathBuf, StoreError> {
    let dir_err = |source| StoreError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    };
    create_private_dir(data_dir).map_err(dir_err)?;
    let path = data_dir.join(STORE_FILE);
    create_private_file(&path).map_err(|source| StoreError::CreateFile {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The store's path inside a data directory that must already hold a store: commands that only
/// read (`audit`, `user list`, `group list`) say so instead of creating an empty store in a
/// mistyped directory.
pub fn existing_store_path(data_dir: &Path) -> Result<PathBuf, StoreError> {
    let path = data_dir.join(STORE_FILE);
    if path.is_file() {
        Ok(path)
    } else {
        Err(StoreError::Missing { path })
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Create `path` empty with mode 0600 unless it exists (SQLite takes an empty file as a new database).
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Open (creating and migrating when needed) the store of a data directory.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_path(store_path(data_dir)?)
    }

    /// Open the store of a data directory that must already have one (see [`existing_store_path`]).
    pub fn open_existing(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_path(existing_store_path(data_dir)?)
    }

    fn open_path(path: PathBuf) -> Result<Store, StoreError> {
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(Store { conn })
    }

    pub fn generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM generation WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    pub fn principal_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM principals", [], |r| r.get(0))?)
    }

    pub fn add_principal(
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
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::PrincipalExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

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

    pub fn set_tier(&self, name: &str, tier: policy::Tier) -> Result<(), StoreError> {
        self.update_principal(
            name,
            "UPDATE principals SET tier = ?1, updated_at = ?2 WHERE name = ?3",
            &tier.as_str(),
        )
    }

    pub fn set_password_hash(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        self.update_principal(
            name,
            "UPDATE principals SET password_hash = ?1, updated_at = ?2 WHERE name = ?3",
            &hash,
        )
    }

    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        self.update_principal(
            name,
            "UPDATE principals SET disabled = ?1, updated_at = ?2 WHERE name = ?3",
            &disabled,
        )
    }

    pub fn principals(&self) -> Result<Vec<PrincipalRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, role, tier, password_hash, disabled, created_at, updated_at
             FROM principals ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
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
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn principal(&self, name: &str) -> Result<PrincipalRow, StoreError> {
        self.principals()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NoSuchPrincipal(name.to_string()))
    }

    // --- groups ---------------------------------------------------------------------------

    pub fn add_group(&self, name: &str) -> Result<(), StoreError> {
        match self.conn.execute(
            "INSERT INTO groups (name, created_at) VALUES (?1, ?2)",
            params![name, now_us()],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::GroupExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn group_id(&self, name: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NoSuchGroup(name.to_string()))
    }

    fn principal_id(&self, name: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT id FROM principals WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NoSuchPrincipal(name.to_string()))
    }

    pub fn add_member(&self, group: &str, principal: &str) -> Result<(), StoreError> {
        let g = self.group_id(group)?;
        let p = self.principal_id(principal)?;
        self.conn.execute(
            "INSERT OR IGNORE INTO group_members (group_id, principal_id) VALUES (?1, ?2)",
            params![g, p],
        )?;
        Ok(())
    }

    pub fn remove_member(&self, group: &str, principal: &str) -> Result<(), StoreError> {
        let g = self.group_id(group)?;
        let p = self.principal_id(principal)?;
        self.conn.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND principal_id = ?2",
            params![g, p],
        )?;
        Ok(())
    }

    /// Every group with its members' names, sorted.
    pub fn groups(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT g.name, p.name FROM groups g
             LEFT JOIN group_members m ON m.group_id = g.id
             LEFT JOIN principals p ON p.id = m.principal_id
             ORDER BY g.name, p.name",
        )?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for row in rows {
            let (g, p) = row?;
            if out.last().map(|(n, _)| n != &g).unwrap_or(true) {
                out.push((g, Vec::new()));
            }
            if let (Some(p), Some(last)) = (p, out.last_mut()) {
                last.1.push(p);
            }
        }
        Ok(out)
    }

    // --- audit ----------------------------------------------------------------------------

    /// Append a batch of audit rows in one transaction.
    pub fn append_audit(&mut self, rows: &[AuditRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit_events (ts_us, principal, client, method, destination, url, decision,
                    rule, status, bytes_up, bytes_down, duration_us, stage, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for r in rows {
                stmt.execute(params![
                    r.ts_us,
                    r.principal,
                    r.client,
                    r.method,
                    r.destination,
                    r.url,
                    r.decision,
                    r.rule,
                    r.status,
                    r.bytes_up as i64,
                    r.bytes_down as i64,
                    r.duration_us as i64,
                    r.stage,
                    r.error,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Read audit events, oldest first, filtered.
    pub fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = String::from(
            "SELECT id, ts_us, principal, client, method, destination, url, decision, rule, status,
                    bytes_up, bytes_down, duration_us, stage, error
             FROM audit_events WHERE 1 = 1",
        );
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(p) = &q.principal {
            sql.push_str(" AND principal = ?");
            args.push(Box::new(p.clone()));
        }
        if let Some(d) = &q.destination {
            // The destination column is `host:port`; match the host or any subdomain of it.
            sql.push_str(" AND (destination = ? OR destination LIKE ? ESCAPE '\\' OR destination LIKE ? ESCAPE '\\')");
            let esc = d
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(Box::new(d.clone()));
            args.push(Box::new(format!("{esc}:%")));
            args.push(Box::new(format!("%.{esc}:%")));
        }
        if let Some(d) = &q.decision {
            sql.push_str(" AND decision = ?");
            args.push(Box::new(d.clone()));
        }
        if let Some(s) = q.since_us {
            sql.push_str(" AND ts_us >= ?");
            args.push(Box::new(s));
        }
        if let Some(u) = q.until_us {
            sql.push_str(" AND ts_us < ?");
            args.push(Box::new(u));
        }
        sql.push_str(" ORDER BY id");
        if let Some(l) = q.limit {
            // The newest `limit` events, still printed oldest first.
            sql = format!("SELECT * FROM ({sql} DESC LIMIT {l}) ORDER BY id");
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                ts_us: r.get(1)?,
                principal: r.get(2)?,
                client: r.get(3)?,
                method: r.get(4)?,
                destination: r.get(5)?,
                url: r.get(6)?,
                decision: r.get(7)?,
                rule: r.get(8)?,
                status: r.get(9)?,
                bytes_up: r.get::<_, i64>(10)? as u64,
                bytes_down: r.get::<_, i64>(11)? as u64,
                duration_us: r.get::<_, i64>(12)? as u64,
                stage: r.get(13)?,
                error: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Whether the store answers (for `/readyz`).
    pub fn ping(&self) -> bool {
        self.conn
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_to_principals_bump_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let g0 = s.generation().unwrap();
        s.add_principal("ada", Role::User, policy::Tier::Open, "h")
            .unwrap();
        let g1 = s.generation().unwrap();
        assert!(g1 > g0);
        s.set_tier("ada", policy::Tier::Filtered).unwrap();
        assert!(s.generation().unwrap() > g1);
        assert!(matches!(
            s.set_tier("bob", policy::Tier::Open),
            Err(StoreError::NoSuchPrincipal(_))
        ));
        assert!(matches!(
            s.add_principal("ada", Role::User, policy::Tier::Open, "h"),
            Err(StoreError::PrincipalExists(_))
        ));
    }

    #[test]
    fn audit_filters_by_destination_suffix_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let row = |id: i64, dest: &str| AuditRow {
            id,
            ts_us: id,
            principal: Some("ada".into()),
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
        };
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
        let got: Vec<i64> = s.audit(&q).unwrap().iter().map(|r| r.ts_us).collect();
        assert_eq!(got, vec![1, 2, 4]);
        let q = AuditQuery {
            limit: Some(2),
            ..Default::default()
        };
        let got: Vec<i64> = s.audit(&q).unwrap().iter().map(|r| r.ts_us).collect();
        assert_eq!(got, vec![3, 4]);
    }
}
