//! Who is asking: principals, password hashing and proxy Basic authentication.
//!
//! - [`Principals`] (here): every principal of the store at one generation, an immutable snapshot;
//! - [`source`]: the one place that reads principals from the store, and the single-flight reload
//!   that the poller and authentication share;
//! - [`password`]: argon2id hashing and the [`Verifier`] pool;
//! - [`credentials`]: `Proxy-Authorization: Basic` decoding, the verified and refused caches;
//! - [`throttle`]: failed attempts per tried name and per client address, and the cool-down;
//! - [`authenticate`]: the flow that turns a request's credentials into a [`Principal`] or an
//!   [`AuthFailure`], with [`Identity`], the state it runs on.
//!
//! Credentials are verified once, not per request (argon2 costs tens of milliseconds by design): a
//! successful verification is cached, and a disabled principal or a new tier is seen on the next
//! request because those are read from the current snapshot. A credential the snapshot does not
//! accept is checked against the store before it is refused, so a principal added or a password
//! changed with the CLI works at once.

pub mod authenticate;
pub mod credentials;
pub mod password;
pub mod source;
pub mod throttle;

use std::collections::HashMap;
use std::sync::Arc;

use policy::Tier;

use crate::store::{PrincipalRow, Role};

pub use authenticate::{AuthFailure, AuthMemo, Identity};
pub use credentials::{parse_basic, BasicCredentials, CredentialCache, CredentialKey};
pub use password::{
    hash_password, random_password, verify_password, Verifier, ARGON2_IDLE_RELEASE,
};
pub use source::PrincipalSource;

/// A principal as the gateway sees it: an immutable snapshot entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub name: Arc<str>,
    pub role: Role,
    pub tier: Tier,
    pub disabled: bool,
    pub password_hash: Arc<str>,
    /// The groups the principal belongs to, sorted; an input of the decision.
    pub groups: Box<[Arc<str>]>,
}

/// Every principal of the store at one generation.
#[derive(Debug, Default)]
pub struct Principals {
    pub generation: i64,
    by_name: HashMap<Arc<str>, Arc<Principal>>,
}

impl Principals {
    pub fn new(generation: i64, rows: Vec<PrincipalRow>) -> Principals {
        let by_name = rows
            .into_iter()
            .map(|r| {
                let name: Arc<str> = r.name.into();
                let p = Principal {
                    id: r.id,
                    name: name.clone(),
                    role: r.role,
                    tier: r.tier,
                    disabled: r.disabled,
                    password_hash: r.password_hash.into(),
                    groups: r.groups.into_iter().map(Arc::from).collect(),
                };
                (name, Arc::new(p))
            })
            .collect();
        Principals {
            generation,
            by_name,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Principal>> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    #[error("cannot read principals from the store: {0}")]
    Store(String),
}
