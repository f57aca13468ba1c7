//! The tree's hash function: RFC 9162 §2.1.1 Merkle tree hashing, with BLAKE3 in place of SHA-256.
//!
//! A leaf is hashed as `H(0x00 || data)` and an interior node as `H(0x01 || left || right)`, so a leaf
//! can never be taken for a node (second-preimage resistance, RFC 9162 §2.1.1). The root of the empty
//! tree is `H("")`. `H` is BLAKE3 with its default 32-byte output: the tree's structure, its proofs
//! and their verification algorithms are RFC 9162's unchanged, only the hash function differs.
//! BLAKE3 is already the workspace's hash (the credential cache) and hashes short inputs several
//! times faster than SHA-256 without hardware SHA extensions, which is what `verify` spends its time
//! on. [`Hash`](struct@Hash) prints as lower-case hex (`Display`) and converts to and from standard base64, the
//! form a checkpoint carries.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A 32-byte BLAKE3 digest: a leaf hash, an interior node's hash or a tree's root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// A hash given as text was not 64 hex digits or 44 characters of base64 for 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Hex text of the wrong length or with a character that is not a hex digit.
    #[error("`{0}` is not a hash: expected 64 hex digits")]
    Hex(String),
    /// Base64 text that does not decode to exactly 32 bytes.
    #[error("`{0}` is not a hash: expected 32 bytes in standard base64 (44 characters)")]
    Base64(String),
}

impl Hash {
    /// The number of bytes in a hash.
    pub const LEN: usize = 32;

    /// The hash's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash in standard base64 with padding, as a checkpoint writes its root.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard base64 with padding (the checkpoint form).
    pub fn from_base64(text: &str) -> Result<Hash, HashParseError> {
        // The standard engine requires canonical padding and zero trailing bits, so each hash
        // has exactly one accepted spelling.
        STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Hash)
            .ok_or_else(|| HashParseError::Base64(text.to_owned()))
    }

    /// Parses 64 hex digits, upper or lower case.
    pub fn from_hex(text: &str) -> Result<Hash, HashParseError> {
        blake3::Hash::from_hex(text)
            .map(|hash| Hash(*hash.as_bytes()))
            .map_err(|_| HashParseError::Hex(text.to_owned()))
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Hash {
        Hash(bytes)
    }
}

impl From<blake3::Hash> for Hash {
    fn from(hash: blake3::Hash) -> Hash {
        Hash(*hash.as_bytes())
    }
}

impl fmt::Display for Hash {
    /// Lower-case hex, 64 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    /// Parses the `Display` form (hex).
    fn from_str(text: &str) -> Result<Hash, HashParseError> {
        Hash::from_hex(text)
    }
}

/// The hash of a leaf: `H(0x00 || data)`. Does not allocate.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0x00]);
    hasher.update(data);
    Hash::from(hasher.finalize())
}

/// [`leaf_hash`] of data given in pieces: `LeafHasher::new()`, `update` with each piece in order,
/// then `finish` equals `leaf_hash` of the pieces joined, without joining them.
#[derive(Clone, Default)]
pub struct LeafHasher(blake3::Hasher);

impl LeafHasher {
    pub fn new() -> LeafHasher {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[0x00]);
        LeafHasher(hasher)
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    pub fn finish(&self) -> Hash {
        Hash::from(self.0.finalize())
    }
}

/// The hash of an interior node: `H(0x01 || left || right)`. Does not allocate.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // 65 bytes on the stack: one call to the one-shot hash, cheaper than a streaming hasher.
    let mut input = [0u8; 65];
    input[0] = 0x01;
    input[1..33].copy_from_slice(&left.0);
    input[33..].copy_from_slice(&right.0);
    Hash::from(blake3::hash(&input))
}

/// The root of the empty tree: `H("")`.
pub fn empty_root() -> Hash {
    Hash::from(blake3::hash(b""))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hashes_are_domain_separated_blake3() {
        // Written out with the blake3 crate directly, so that a change of prefix shows.
        assert_eq!(leaf_hash(b"abc"), Hash::from(blake3::hash(b"\x00abc")));
        let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
        let mut input = vec![1u8];
        input.extend_from_slice(&l.0);
        input.extend_from_slice(&r.0);
        assert_eq!(node_hash(&l, &r), Hash::from(blake3::hash(&input)));
        assert_eq!(
            empty_root().to_string(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_ne!(leaf_hash(b""), empty_root());
    }

    #[test]
    fn text_forms_round_trip_and_refuse_junk() {
        let hash = leaf_hash(b"event");
        assert_eq!(hash.to_string().parse::<Hash>().unwrap(), hash);
        assert_eq!(
            Hash::from_hex(&hash.to_string().to_uppercase()).unwrap(),
            hash
        );
        assert_eq!(Hash::from_base64(&hash.to_base64()).unwrap(), hash);
        assert_eq!(hash.to_base64().len(), 44);
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(63), &"0".repeat(66)] {
            assert!(Hash::from_hex(bad).is_err(), "{bad}");
        }
        let short = STANDARD.encode([0u8; 31]);
        let long = STANDARD.encode([0u8; 33]);
        let unpadded = hash.to_base64().trim_end_matches('=').to_owned();
        for bad in ["", "!!!!", &short, &long, &unpadded] {
            assert!(Hash::from_base64(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Hash::from_hex("zz").unwrap_err().to_string(),
            "`zz` is not a hash: expected 64 hex digits"
        );
    }
}
