//! Presented credentials: decoding `Proxy-Authorization: Basic` (RFC 7617), the cache of verified
//! credentials and the cache of refused ones.
//!
//! Both caches are keyed by a keyed hash of the presented header value (BLAKE3 keyed with a random
//! per-process key), so neither holds a usable credential. A verified entry is valid only while the
//! principal still has the password hash it was verified against, so a password change invalidates
//! it. A refused entry is valid only under the principals generation it was refused at, so any change
//! in the store gives the same credential a fresh check.

use std::sync::Arc;

use base64::Engine;

use super::error::IdentityError;
use super::principal::{Principal, Principals};

/// Credentials presented in `Proxy-Authorization: Basic ...`.
#[derive(Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name; bytes that are not UTF-8 replaced by U+FFFD (see `exact`).
    pub user: String,
    /// Whether the user name was valid UTF-8. A name that was not names no principal: it is kept
    /// only for the record of the failure.
    pub exact: bool,
    pub password: Vec<u8>,
}

/// Decode a `Proxy-Authorization` value of the Basic scheme (RFC 7617). `None` for other schemes
/// and malformed values.
pub fn parse_basic(value: &[u8]) -> Option<BasicCredentials> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let raw_user = &decoded[..colon];
    let exact = std::str::from_utf8(raw_user).is_ok();
    let user = String::from_utf8_lossy(raw_user).into_owned();
    if user.is_empty() {
        return None;
    }
    Some(BasicCredentials {
        user,
        exact,
        password: decoded[colon + 1..].to_vec(),
    })
}

/// The keyed hash under which a verified credential is cached.
pub type CredentialKey = [u8; 32];

/// A cache of verified credentials: keyed hash of the header → (principal name, password hash it
/// was verified against).
pub struct CredentialCache {
    key: [u8; 32],
    cache: quick_cache::sync::Cache<CredentialKey, (Arc<str>, Arc<str>)>,
}

impl CredentialCache {
    pub fn new(capacity: usize) -> Result<CredentialCache, IdentityError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| IdentityError::Random(e.to_string()))?;
        Ok(CredentialCache {
            key,
            cache: quick_cache::sync::Cache::new(capacity),
        })
    }

    pub fn key_of(&self, header: &[u8]) -> CredentialKey {
        *blake3::keyed_hash(&self.key, header).as_bytes()
    }

    /// The principal a cached verification proved, if it is still valid in `principals`.
    pub fn lookup(&self, key: &CredentialKey, principals: &Principals) -> Option<Arc<Principal>> {
        let (name, hash) = self.cache.get(key)?;
        let p = principals.get(&name)?;
        (p.password_hash == hash).then(|| p.clone())
    }

    pub fn insert(&self, key: CredentialKey, principal: &Principal) {
        self.cache.insert(
            key,
            (principal.name.clone(), principal.password_hash.clone()),
        );
    }
}

/// Credentials refused under a principals generation: keyed hash → the generation they failed at.
/// The same wrong credential sent again while the snapshot is at that generation is refused at
/// once, without argon2 and without a store read. The capacity bounds its memory (about 50 bytes an
/// entry); an entry pushed out only costs one more full check.
pub struct RefusedCredentials {
    cache: quick_cache::sync::Cache<CredentialKey, i64>,
}

impl RefusedCredentials {
    pub fn new(capacity: usize) -> RefusedCredentials {
        RefusedCredentials {
            cache: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// Whether `key` was refused under `generation`.
    pub fn refused_at(&self, key: &CredentialKey, generation: i64) -> bool {
        self.cache.get(key) == Some(generation)
    }

    pub fn insert(&self, key: CredentialKey, generation: i64) {
        self.cache.insert(key, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PrincipalRow, Role};
    use policy::Tier;

    #[test]
    fn basic_credentials_decode() {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ada:pa:ss")
        );
        assert_eq!(
            parse_basic(v.as_bytes()),
            Some(BasicCredentials {
                user: "ada".into(),
                exact: true,
                password: b"pa:ss".to_vec()
            })
        );
        let not_utf8 = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(b"\xffada:pw")
        );
        let parsed = parse_basic(not_utf8.as_bytes()).unwrap();
        assert_eq!((parsed.user.as_str(), parsed.exact), ("\u{FFFD}ada", false));
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        let empty_user = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(":x")
        );
        assert_eq!(parse_basic(empty_user.as_bytes()), None);
    }

    #[test]
    fn cached_credential_is_invalidated_by_a_password_change() {
        let row = |hash: &str| PrincipalRow {
            id: 1,
            name: "ada".into(),
            role: Role::User,
            tier: Tier::Open,
            password_hash: hash.into(),
            disabled: false,
            created_at: 0,
            updated_at: 0,
            groups: Vec::new(),
        };
        let cache = CredentialCache::new(16).unwrap();
        let before = Principals::new(1, vec![row("h1")]);
        let key = cache.key_of(b"Basic xyz");
        cache.insert(key, before.get("ada").unwrap());
        assert!(cache.lookup(&key, &before).is_some());
        let after = Principals::new(2, vec![row("h2")]);
        assert!(cache.lookup(&key, &after).is_none());
        assert_ne!(cache.key_of(b"Basic xyz"), cache.key_of(b"Basic xyy"));
    }

    #[test]
    fn a_refused_credential_is_refused_only_under_its_generation() {
        let cache = CredentialCache::new(16).unwrap();
        let refused = RefusedCredentials::new(16);
        let key = cache.key_of(b"Basic xyz");
        assert!(!refused.refused_at(&key, 7));
        refused.insert(key, 7);
        assert!(refused.refused_at(&key, 7));
        assert!(
            !refused.refused_at(&key, 8),
            "a new generation checks again"
        );
        assert!(!refused.refused_at(&cache.key_of(b"Basic xyy"), 7));
    }
}
