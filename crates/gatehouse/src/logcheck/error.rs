//! [`CheckError`]: why an export, a proof or a verification could not be made or read at all (as
//! opposed to a problem it found, which is a [`super::Finding`]).

use std::path::PathBuf;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
    /// A file given to check is not what it should be.
    #[error("`{path}` line {line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Nothing to do: what was asked for is not in the log (yet).
    #[error("{0}")]
    Unavailable(String),
}
