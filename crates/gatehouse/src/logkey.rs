//! The key that signs the audit log's checkpoints: an Ed25519 key in the data directory
//! (`audit-log.key`, readable by its owner only), created on first start, in the private key format
//! of Go's `golang.org/x/mod/sumdb/note` (`PRIVATE+KEY+<name>+<key id>+<key>`). Its name is the
//! log's origin, `gatehouse/audit/<16 random hex digits>`, so two gateways' logs never share one.
//!
//! Guarantees: a key file is written whole or not at all (written to a temporary file, then linked
//! into place, which fails rather than replaces when another process got there first: both then use
//! the one that won); an existing key is never replaced; errors never quote the key.

use std::io::Write;
use std::path::{Path, PathBuf};

use auditlog::{KeyError, Signer, Verifier};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "audit-log.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("there is no audit log key at `{0}`: it is created by the first `gatehouse serve` on this data directory")]
    Missing(PathBuf),
    #[error("cannot read the audit log key `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the audit log key `{path}`: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the audit log key `{path}` is not usable: {source}")]
    Invalid { path: PathBuf, source: KeyError },
    #[error("no random source for a new audit log key: {0}")]
    Random(String),
}

/// The key file's path in `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The signing key of the log in `data_dir`.
pub fn load(data_dir: &Path) -> Result<Signer, KeyFileError> {
    let path = key_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyFileError::Missing(path))
        }
        Err(source) => return Err(KeyFileError::Read { path, source }),
    };
    Signer::from_private_key(text.trim()).map_err(|source| KeyFileError::Invalid { path, source })
}

/// The public key of the log in `data_dir`, as the verifier key string to hand out.
pub fn verifier(data_dir: &Path) -> Result<Verifier, KeyFileError> {
    load(data_dir).map(|s| s.verifier())
}

/// The signing key of the log in `data_dir`, created when there is none.
pub fn load_or_create(data_dir: &Path) -> Result<Signer, KeyFileError> {
    match load(data_dir) {
        Err(KeyFileError::Missing(path)) => create(&path).and_then(|()| load(data_dir)),
        other => other,
    }
}

fn create(path: &Path) -> Result<(), KeyFileError> {
    let mut seed = [0u8; 32];
    let mut id = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
    getrandom::fill(&mut id).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let signer = Signer::from_seed(&format!("gatehouse/audit/{hex}"), &seed).map_err(|source| {
        KeyFileError::Invalid {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let err = |source| KeyFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("key.{hex}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(format!("{}\n", signer.to_private_key()).as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        // Another process created the key first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_owner_only_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path()), Err(KeyFileError::Missing(_))));
        let first = load_or_create(dir.path()).unwrap();
        assert!(first.name().starts_with("gatehouse/audit/"));
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.verifier(), again.verifier());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(key_path(dir.path()), "PRIVATE+KEY+x+00000000+AAAA\n").unwrap();
        let err = load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("not usable") && !err.contains("AAAA"), "{err}");
    }
}
