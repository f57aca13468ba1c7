//! [`IdentityError`]: what can fail while hashing a password, drawing a random one or reading
//! principals from the store. Shared by every part of `identity`; it depends on none of them.

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    #[error("cannot read principals from the store: {0}")]
    Store(String),
}
