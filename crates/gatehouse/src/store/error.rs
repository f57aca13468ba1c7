//! [`StoreError`]: every way opening, migrating, reading or writing the store can fail, with a
//! message that names the file or the principal or group involved. Shared by the SQLite backend
//! and every store interface; it depends on nothing else in the store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store `{path}`: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot bring the store `{path}` to schema version {known}: {source}")]
    Migrate {
        path: PathBuf,
        known: i64,
        source: rusqlite_migration::Error,
    },
    #[error("the store `{path}` has schema version {found}, newer than this gatehouse knows ({known}): it was written by a newer gatehouse; run that version, or restore a backup made for this one")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
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
    #[error("`{0}` is the last enabled admin: add or enable another admin first (`gatehouse user add NAME --role admin`)")]
    LastAdmin(String),
    #[error("no group named `{0}`")]
    NoSuchGroup(String),
    #[error("a group named `{0}` already exists")]
    GroupExists(String),
    #[error("the audit log in the store is inconsistent: {0}")]
    Log(String),
    #[error("a task working on the store stopped: {0}")]
    Task(String),
    #[error("store error: {0}")]
    Sql(#[from] rusqlite::Error),
}
