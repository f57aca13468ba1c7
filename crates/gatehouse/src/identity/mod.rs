//! Who is asking: principals, password hashing and proxy Basic authentication.
//!
//! - `principal.rs`: [`Principal`] and [`Principals`], every principal of the store at one
//!   generation, an immutable snapshot; `error.rs`: [`IdentityError`];
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
//!
//! This file only declares the parts and re-exports their public API; no part imports from it.

pub mod authenticate;
pub mod credentials;
mod error;
pub mod password;
mod principal;
pub mod source;
pub mod throttle;

pub use authenticate::{AuthFailure, AuthMemo, Identity};
pub use credentials::{parse_basic, BasicCredentials, CredentialCache, CredentialKey};
pub use error::IdentityError;
pub use password::{
    hash_password, random_password, random_password_of, verify_password, Verifier,
    ARGON2_IDLE_RELEASE, GENERATED_CHARS,
};
pub use principal::{Principal, Principals};
pub use source::PrincipalSource;
