//! Inclusion and consistency proofs: generation (RFC 9162 §2.1.3.1, §2.1.4.1) over any source of
//! leaf hashes, and verification exactly per RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! A proof is a list of hashes ordered from the leaves towards the root, as in the RFC. Generation
//! reads the tree through the [`Leaves`] trait, so the store can back it later; `[Hash]` and
//! `Vec<Hash>` implement it for tests and small trees. Every hash of a proof is the root of a
//! subtree `D[start:end]` that the RFC's recursion names, asked for with [`Leaves::subtree_root`]:
//! the default hashes the leaves of that range (O(end − start) node hashes, O(log n) memory), so a
//! proof in a tree of `n` leaves reads at most `n` leaves and costs O(n) hashes. A source that keeps
//! the roots of aligned perfect subtrees can override it and answer in O(log n).
//!
//! Verification needs only the proof, the sizes and the roots, and costs O(log n) node hashes. It
//! fails with a [`VerifyError`] naming what did not hold; it never panics, whatever it is given.

use std::convert::Infallible;

use crate::hash::{node_hash, Hash};
use crate::tree::Tree;

/// A readable sequence of leaf hashes, indexed from 0: the tree a proof is generated from.
pub trait Leaves {
    /// Why a leaf could not be read (a store error, say); [`Infallible`] for memory.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The number of leaves that can be read.
    fn size(&self) -> u64;

    /// The hash of leaf `index`, which is below [`size`](Leaves::size).
    fn leaf(&self, index: u64) -> Result<Hash, Self::Error>;

    /// The root of the subtree over leaves `start..end` (`start < end <= size`), `MTH(D[start:end])`.
    /// The default reads and hashes those leaves in order.
    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Self::Error> {
        let mut tree = Tree::new();
        for index in start..end {
            // At most `end − start < u64::MAX` leaves are pushed.
            tree.push(self.leaf(index)?);
        }
        Ok(tree.root())
    }
}

impl Leaves for [Hash] {
    type Error = Infallible;

    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn leaf(&self, index: u64) -> Result<Hash, Infallible> {
        // Proof generation asks only for indices below `size`, which the callers check first;
        // an out-of-range index from another caller gets the default hash rather than a panic.
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .unwrap_or_default())
    }
}

impl Leaves for Vec<Hash> {
    type Error = Infallible;

    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn leaf(&self, index: u64) -> Result<Hash, Infallible> {
        self.as_slice().leaf(index)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Infallible> {
        self.as_slice().subtree_root(start, end)
    }
}

impl<L: Leaves + ?Sized> Leaves for &L {
    type Error = L::Error;

    fn size(&self) -> u64 {
        (**self).size()
    }

    fn leaf(&self, index: u64) -> Result<Hash, L::Error> {
        (**self).leaf(index)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, L::Error> {
        (**self).subtree_root(start, end)
    }
}

/// A proof could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The leaf is not in the tree the proof is asked against.
    #[error("leaf index {index} is not in a tree of size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    /// The tree asked for is larger than the leaves that can be read.
    #[error("tree size {tree_size} is larger than the {available} leaves available")]
    SizeTooLarge { tree_size: u64, available: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("a consistency proof goes from a smaller tree to a larger one, not from size {size1} to {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    /// The source of leaf hashes failed.
    #[error("a leaf hash could not be read")]
    Source(#[source] E),
}

/// The largest power of two smaller than `n` (`n >= 2`): RFC 9162's split point `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the first `tree_size` leaves,
/// `PATH(index, D[tree_size])` of RFC 9162 §2.1.3.1: the sibling hashes from the leaf up to the
/// root. Empty for a tree of one leaf.
pub fn inclusion_proof<L: Leaves + ?Sized>(
    leaves: &L,
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError<L::Error>> {
    check_size(leaves, tree_size)?;
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    // The RFC's recursion, walked from the root down; its output lists the deepest sibling first.
    let mut proof = Vec::with_capacity(64);
    let (mut start, mut end) = (0, tree_size);
    while end - start > 1 {
        let k = split(end - start);
        if index < start + k {
            proof.push(subtree(leaves, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree(leaves, start, start + k)?);
            start += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof between the trees of the first `size1` and the first `size2` leaves,
/// `PROOF(size1, D[size2])` of RFC 9162 §2.1.4.1. Empty when `size1` is 0 or equals `size2`
/// (nothing to prove: see [`verify_consistency`]).
pub fn consistency_proof<L: Leaves + ?Sized>(
    leaves: &L,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError<L::Error>> {
    check_size(leaves, size2)?;
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    let mut proof = Vec::with_capacity(64);
    if size1 == 0 || size1 == size2 {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start:end], whole) walked from the root down; `whole` is the RFC's `b`: true
    // while the subtree is a prefix of the tree whose root the verifier already knows.
    let (mut m, mut start, mut end, mut whole) = (size1, 0, size2, true);
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                proof.push(subtree(leaves, start, end)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            proof.push(subtree(leaves, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree(leaves, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

fn check_size<L: Leaves + ?Sized>(leaves: &L, tree_size: u64) -> Result<(), ProofError<L::Error>> {
    let available = leaves.size();
    if tree_size > available {
        return Err(ProofError::SizeTooLarge {
            tree_size,
            available,
        });
    }
    Ok(())
}

fn subtree<L: Leaves + ?Sized>(
    leaves: &L,
    start: u64,
    end: u64,
) -> Result<Hash, ProofError<L::Error>> {
    if end - start == 1 {
        return leaves.leaf(start).map_err(ProofError::Source);
    }
    leaves.subtree_root(start, end).map_err(ProofError::Source)
}

/// A proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not below the tree size (RFC 9162 §2.1.3.2 step 1).
    #[error("leaf index {index} is not in a tree of size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    /// The proof has more hashes than the sizes allow.
    #[error("the proof has more hashes than a tree of size {tree_size} needs: it was made for another tree size or index")]
    ProofTooLong { tree_size: u64 },
    /// The proof ended before reaching the root.
    #[error("the proof has fewer hashes than a tree of size {tree_size} needs: it is truncated or was made for another tree size or index")]
    ProofTooShort { tree_size: u64 },
    /// The hashes lead to another root (RFC 9162 §2.1.3.2 step 5, §2.1.4.2 step 7).
    #[error("the proof leads to the root `{computed}`, not `{expected}`: the {what} does not match the signed tree")]
    RootMismatch {
        /// What was checked: "leaf", "first tree" or "second tree".
        what: &'static str,
        computed: Hash,
        expected: Hash,
    },
    /// The second tree is smaller than the first.
    #[error(
        "the second tree (size {size2}) is smaller than the first (size {size1}): a log only grows"
    )]
    SizesOutOfOrder { size1: u64, size2: u64 },
    /// A proof was given where none is needed (sizes 0 or equal), or none where one is.
    #[error("a consistency proof from size {size1} to {size2} {}", proof_length_rule(.size1, .size2))]
    ProofLength { size1: u64, size2: u64 },
}

fn proof_length_rule(size1: &u64, size2: &u64) -> &'static str {
    if *size1 == 0 || size1 == size2 {
        "must be empty"
    } else {
        "cannot be empty"
    }
}

/// Checks that `proof` shows the leaf `leaf_hash` at `leaf_index` in the tree of size `tree_size`
/// whose root is `root`, with the algorithm of RFC 9162 §2.1.3.2. O(log n) node hashes.
///
/// `tree_size` and `root` must come from the same signed checkpoint: for some sizes a proof has
/// the same shape in a neighbouring size, so the proof alone does not pin the size down.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    // Step 1.
    if leaf_index >= tree_size {
        return Err(VerifyError::IndexOutOfRange {
            index: leaf_index,
            tree_size,
        });
    }
    // Steps 2 and 3.
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong { tree_size });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { tree_size });
    }
    if r != *root {
        return Err(VerifyError::RootMismatch {
            what: "leaf",
            computed: r,
            expected: *root,
        });
    }
    Ok(())
}

/// Checks that `proof` shows the tree of size `size1` with root `root1` to be a prefix of the tree
/// of size `size2` with root `root2`, with the algorithm of RFC 9162 §2.1.4.2. O(log n) node hashes.
/// Each size must come from the same signed checkpoint as its root.
///
/// The RFC's algorithm covers `0 < size1 < size2`. The other cases, as transparency logs handle
/// them: equal sizes need an empty proof and equal roots; the empty tree (`size1 == 0`) is a prefix
/// of every tree and needs an empty proof; a second tree smaller than the first is an error.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if size2 < size1 {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == size2 || size1 == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::ProofLength { size1, size2 });
        }
        if size1 == size2 && root1 != root2 {
            return Err(VerifyError::RootMismatch {
                what: "second tree",
                computed: *root1,
                expected: *root2,
            });
        }
        return Ok(());
    }
    // Step 1.
    let Some((first, rest)) = proof.split_first() else {
        return Err(VerifyError::ProofLength { size1, size2 });
    };
    // Step 2: when size1 is a power of two, the first tree is a subtree of the second and its root
    // is the path's first element (prepended); else the proof's first element is.
    let (start, path) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (first, rest)
    };
    // Step 3.
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    // Step 4.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*start, *start);
    // Step 6.
    for c in path {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong { tree_size: size2 });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { tree_size: size2 });
    }
    if fr != *root1 {
        return Err(VerifyError::RootMismatch {
            what: "first tree",
            computed: fr,
            expected: *root1,
        });
    }
    if sr != *root2 {
        return Err(VerifyError::RootMismatch {
            what: "second tree",
            computed: sr,
            expected: *root2,
        });
    }
    Ok(())
}
