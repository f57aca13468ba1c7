//! The SQLite backend: [`Store`] and how it is opened. The data directory and the file are
//! created readable by their owner only, the connection uses WAL, `synchronous = NORMAL` (a
//! committed batch survives a process crash), foreign keys and a 10 s busy timeout, and the schema
//! is brought up to date by the numbered migrations of `migrations.rs` before the store is handed
//! out. A store written by a newer gatehouse is refused, never used.
//!
//! What is SQLite's own (pragmas, triggers, `rowid` order) stays here and in the interfaces'
//! SQL; the interfaces (`principals.rs`, `audit.rs`, `sessions.rs`) reach the connection through
//! [`Store`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Statement, Transaction};

use super::error::StoreError;
use super::migrations;

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "gatehouse.db";

/// The SQLite backend: one connection to the store file. `Send`, not `Sync`: each thread that
/// needs the store opens its own (the audit writer) or shares one behind a mutex (the poller).
pub struct Store {
    pub(super) conn: Connection,
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
        set_wal(&conn).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        let mut store = Store { conn };
        migrations::migrate(&mut store.conn, &path)?;
        Ok(store)
    }

    /// The schema version of the open store ([`SCHEMA_VERSION`] once opened).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(migrations::user_version(&self.conn)?)
    }
}

/// Put the store in WAL mode. Switching a store from the rollback journal to WAL takes an exclusive
/// lock, and SQLite answers `SQLITE_BUSY` at once, without the busy handler, while another
/// connection holds one; so the switch is retried for as long as the busy timeout would wait.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Events and leaves are inserted this many to a statement: SQLite's fixed cost per statement
/// run (starting, halting, resetting it) is most of what a one-row insert costs, and the audit
/// writer inserts an event and a leaf for every request.
pub(super) const ROWS_PER_INSERT: usize = 32;

/// A table's multi-row insert: the statements for one row and for [`ROWS_PER_INSERT`] rows, built
/// once, and the loop that runs them.
pub(super) struct BatchInsert {
    /// One row, then [`ROWS_PER_INSERT`] rows.
    sql: [String; 2],
    arity: usize,
}

impl BatchInsert {
    pub(super) fn new(table: &str, columns: &str, arity: usize) -> BatchInsert {
        let tuple = format!("({})", vec!["?"; arity].join(", "));
        let sql = [1, ROWS_PER_INSERT].map(|n| {
            format!(
                "INSERT INTO {table} ({columns}) VALUES {}",
                vec![tuple.clone(); n].join(", ")
            )
        });
        BatchInsert { sql, arity }
    }

    /// Insert `n` rows inside `tx`, full chunks [`ROWS_PER_INSERT`] to a statement and the rest one
    /// by one (so that only two statements are ever cached). `bind(stmt, first, i)` binds row `i`
    /// from parameter index `first` on; `ran(rows)` follows each statement run with its row count.
    pub(super) fn run(
        &self,
        tx: &Transaction<'_>,
        n: usize,
        mut bind: impl FnMut(&mut Statement<'_>, usize, usize) -> rusqlite::Result<()>,
        mut ran: impl FnMut(usize),
    ) -> rusqlite::Result<()> {
        let full = n / ROWS_PER_INSERT * ROWS_PER_INSERT;
        for (rows, range) in [(ROWS_PER_INSERT, 0..full), (1, full..n)] {
            if range.is_empty() {
                continue;
            }
            let mut stmt = tx.prepare_cached(&self.sql[usize::from(rows > 1)])?;
            for start in range.step_by(rows) {
                for k in 0..rows {
                    bind(&mut stmt, k * self.arity + 1, start + k)?;
                }
                stmt.raw_execute()?;
                ran(rows);
            }
        }
        Ok(())
    }
}
