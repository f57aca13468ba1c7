//! The core of a verifiable audit trail: an append-only Merkle tree of audit events, the proofs that
//! an event is in it and that it only grew, and signed checkpoints of its size and root.
//!
//! The model is Certificate Transparency's (RFC 9162) with the formats of today's transparency logs:
//!
//! - [`hash`]: RFC 9162 §2.1.1 tree hashing — `leaf_hash(d) = H(0x00 || d)`,
//!   `node_hash(l, r) = H(0x01 || l || r)`, the empty tree's root `H("")` — with BLAKE3 as `H`
//!   instead of SHA-256 (the structure, proofs and verification algorithms are the RFC's).
//! - [`tree`]: [`Tree`], the append-only builder that keeps only the right frontier and can be
//!   resumed from a stored one.
//! - [`proof`]: inclusion and consistency proofs generated over any [`Leaves`] source and verified
//!   exactly per RFC 9162 §2.1.3.2 and §2.1.4.2.
//! - [`note`] and [`checkpoint`]: c2sp.org/signed-note notes signed with Ed25519, and
//!   c2sp.org/tlog-checkpoint bodies `<origin>\n<size>\n<base64 root>\n[extensions]`.
//!
//! # Costs (`n` leaves)
//!
//! | operation | node hashes | memory | allocates |
//! | --- | --- | --- | --- |
//! | [`Tree::append`] | amortised 1, at most ⌈log₂ n⌉ | fixed (2 KiB) | never |
//! | [`Tree::root`] | popcount(n) − 1 ≤ 63 | fixed | never |
//! | [`inclusion_proof`], [`consistency_proof`] | O(n) with the default [`Leaves::subtree_root`]; O(log n) subtree reads with a source that keeps subtree roots | O(log n) | the proof |
//! | [`verify_inclusion`], [`verify_consistency`] | O(log n) | fixed | never |
//!
//! Recomputing the tree over a store is one [`leaf_hash`] and one amortised [`node_hash`] per
//! event, in constant memory.
//!
//! # Example
//!
//! ```
//! use auditlog::{inclusion_proof, leaf_hash, verify_inclusion, Checkpoint, Signer, Tree};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The writer: one leaf per event, a signed checkpoint now and then.
//! let events = ["alice GET example.org", "bob CONNECT example.net:443", "carol GET intranet"];
//! let leaves: Vec<_> = events.iter().map(|e| leaf_hash(e.as_bytes())).collect();
//! let mut tree = Tree::new();
//! for leaf in &leaves {
//!     tree.append(*leaf)?;
//! }
//! let signer = Signer::from_seed("gatehouse.example/audit", &[42; 32])?; // random bytes in real use
//! let note = Checkpoint::new("gatehouse.example/audit", tree.size(), tree.root())?
//!     .sign(&signer)?
//!     .to_string();
//!
//! // Anyone with the public key and one event's proof.
//! let vkey = signer.verifier().to_string();
//! let checkpoint = Checkpoint::open(&note, &vkey.parse()?)?;
//! let proof = inclusion_proof(&leaves, 1, checkpoint.size())?;
//! verify_inclusion(1, checkpoint.size(), &leaf_hash(events[1].as_bytes()), &proof, checkpoint.root())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! The crate is pure: no I/O, no clock, no environment, no random source (signing keys come from
//! seed bytes the caller supplies). It has no `unwrap`, `expect` or `panic!` in library code and no
//! `unsafe`: malformed proofs, notes and keys are typed errors whose messages say what to check.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod checkpoint;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tree;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HashParseError, LeafHasher};
pub use note::{key_id, KeyError, Note, NoteError, NoteSignature, Signer, Verifier};
pub use proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, Leaves, ProofError,
    VerifyError,
};
pub use tree::{root_of, Tree, TreeError};

#[cfg(test)]
mod tests;
