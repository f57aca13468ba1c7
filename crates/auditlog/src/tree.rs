//! The append-only tree builder: it keeps only the right frontier, never the leaves.
//!
//! A tree of `n` leaves (RFC 9162 §2.1.1's `MTH(D[n])`) is the left-to-right sequence of perfect
//! subtrees given by the set bits of `n`, largest first: 13 leaves (`0b1101`) are the subtrees over
//! leaves 0–7, 8–11 and 12. [`Tree`] stores the root of each, its *frontier*: at most 64 hashes in
//! a fixed array, so the builder never allocates.
//!
//! Costs, with `n` the tree size:
//! - [`Tree::append`]: one node hash per trailing one bit of `n`, so one on average (amortised
//!   O(1)) and at most ⌈log₂ n⌉; no allocation.
//! - [`Tree::root`]: `popcount(n) − 1` node hashes (O(log n)); no allocation.
//! - memory: 2 KiB plus the size, whatever `n`.
//!
//! [`Tree::frontier`] and [`Tree::from_frontier`] let a writer store the frontier beside its last
//! leaf and resume after a restart without reading a single leaf. The frontier's shape is checked
//! on resume; its content can only be checked against a root the caller trusts
//! ([`Tree::resume`]), since any hashes make some tree.

use std::fmt;

use crate::hash::{empty_root, node_hash, Hash};

/// The largest number of frontier hashes: one per bit of a `u64` size.
const MAX_FRONTIER: usize = 64;

/// An append-only Merkle tree that holds its right frontier only.
#[derive(Clone)]
pub struct Tree {
    size: u64,
    // INVARIANT: `nodes[..size.count_ones()]` are the roots of the perfect subtrees of the set
    // bits of `size`, largest first; the rest is stale and never read.
    nodes: [Hash; MAX_FRONTIER],
}

/// A tree could not grow or could not be resumed from a stored frontier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The tree has `u64::MAX` leaves.
    #[error("the tree is full: it already holds {size} leaves")]
    Full { size: u64 },
    /// The stored frontier does not have one hash per set bit of the size.
    #[error(
        "a frontier for tree size {size} has {expected} hashes (one per set bit of the size), \
         but {got} were given: the stored frontier and size do not belong together"
    )]
    FrontierShape {
        size: u64,
        expected: u32,
        got: usize,
    },
    /// The stored frontier does not hash to the root the caller trusts.
    #[error(
        "the stored frontier for tree size {size} gives the root `{computed}`, not the \
         expected `{expected}`: the frontier or the checkpoint it was checked against was changed"
    )]
    RootMismatch {
        size: u64,
        computed: Hash,
        expected: Hash,
    },
}

impl Tree {
    /// The empty tree.
    pub const fn new() -> Tree {
        Tree {
            size: 0,
            nodes: [Hash([0; 32]); MAX_FRONTIER],
        }
    }

    /// The number of leaves appended so far.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash (see [`crate::leaf_hash`]) and returns its index, which is the tree's
    /// size before the append. Costs amortised O(1) node hashes, at most O(log n); never allocates.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, TreeError> {
        if self.size == u64::MAX {
            return Err(TreeError::Full { size: self.size });
        }
        let index = self.size;
        self.push(leaf);
        Ok(index)
    }

    /// Appends without the fullness check; the caller knows `size < u64::MAX`.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut len = self.size.count_ones() as usize;
        let mut carry = leaf;
        // Each trailing one bit of the old size is a perfect subtree the same height as `carry`:
        // merge them, as adding 1 carries through those bits.
        let mut bits = self.size;
        while bits & 1 == 1 && len > 0 {
            len -= 1;
            carry = node_hash(&self.nodes[len], &carry);
            bits >>= 1;
        }
        self.nodes[len] = carry;
        self.size = self.size.wrapping_add(1);
    }

    /// The root of the tree, `MTH(D[n])`: the empty root for size 0. Costs `popcount(n) − 1` node
    /// hashes; never allocates.
    pub fn root(&self) -> Hash {
        let frontier = self.frontier();
        let Some((last, rest)) = frontier.split_last() else {
            return empty_root();
        };
        // The right-most (smallest) subtree is the innermost right child.
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right))
    }

    /// The roots of the perfect subtrees making up the tree, largest (left-most) first; one per set
    /// bit of [`size`](Tree::size). Store this with the size to resume with [`Tree::from_frontier`].
    pub fn frontier(&self) -> &[Hash] {
        &self.nodes[..self.size.count_ones() as usize]
    }

    /// Rebuilds a tree from a size and its [`frontier`](Tree::frontier). Fails when the number of
    /// hashes is not the number of set bits of `size`. The hashes themselves cannot be checked
    /// here; use [`Tree::resume`] to check them against a trusted root.
    pub fn from_frontier(size: u64, nodes: &[Hash]) -> Result<Tree, TreeError> {
        let expected = size.count_ones();
        if nodes.len() != expected as usize {
            return Err(TreeError::FrontierShape {
                size,
                expected,
                got: nodes.len(),
            });
        }
        let mut tree = Tree::new();
        tree.size = size;
        tree.nodes[..nodes.len()].copy_from_slice(nodes);
        Ok(tree)
    }

    /// [`Tree::from_frontier`], then checks that the tree's root is `root` (for example the root
    /// of the last signed checkpoint, whose size is `size`).
    pub fn resume(size: u64, nodes: &[Hash], root: &Hash) -> Result<Tree, TreeError> {
        let tree = Tree::from_frontier(size, nodes)?;
        let computed = tree.root();
        if computed != *root {
            return Err(TreeError::RootMismatch {
                size,
                computed,
                expected: *root,
            });
        }
        Ok(tree)
    }
}

impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        self.size == other.size && self.frontier() == other.frontier()
    }
}

impl Eq for Tree {}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("size", &self.size)
            .field("frontier", &self.frontier())
            .finish()
    }
}

/// The root of a tree built from `leaves`, by appending them in order.
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut tree = Tree::new();
    for leaf in leaves {
        // A slice has fewer than `u64::MAX` elements.
        tree.push(*leaf);
    }
    tree.root()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn frontier_has_one_hash_per_set_bit() {
        let mut tree = Tree::new();
        assert_eq!(tree.root(), empty_root());
        assert!(tree.frontier().is_empty());
        for i in 0..300u64 {
            assert_eq!(tree.append(leaf_hash(&i.to_be_bytes())).unwrap(), i);
            assert_eq!(tree.size(), i + 1);
            assert_eq!(tree.frontier().len(), (i + 1).count_ones() as usize);
        }
    }

    #[test]
    fn a_full_tree_refuses_to_grow() {
        let mut tree = Tree::from_frontier(u64::MAX, &[Hash::default(); 64]).unwrap();
        assert_eq!(
            tree.append(leaf_hash(b"x")),
            Err(TreeError::Full { size: u64::MAX })
        );
        let mut almost = Tree::from_frontier(u64::MAX - 1, &[Hash::default(); 63]).unwrap();
        assert_eq!(almost.append(leaf_hash(b"x")).unwrap(), u64::MAX - 1);
        assert_eq!(almost.frontier().len(), 64);
    }

    #[test]
    fn a_frontier_of_the_wrong_shape_is_refused() {
        let err = Tree::from_frontier(5, &[Hash::default()]).unwrap_err();
        assert_eq!(
            err,
            TreeError::FrontierShape {
                size: 5,
                expected: 2,
                got: 1
            }
        );
        assert!(err.to_string().contains("tree size 5 has 2 hashes"));
        assert!(Tree::from_frontier(0, &[Hash::default()]).is_err());
        assert_eq!(Tree::from_frontier(0, &[]).unwrap(), Tree::new());
    }

    #[test]
    fn resume_checks_the_root() {
        let mut tree = Tree::new();
        for i in 0..11u8 {
            tree.append(leaf_hash(&[i])).unwrap();
        }
        let root = tree.root();
        let resumed = Tree::resume(11, tree.frontier(), &root).unwrap();
        assert_eq!(resumed, tree);
        let mut changed = tree.frontier().to_vec();
        changed[1] = leaf_hash(b"other");
        assert!(matches!(
            Tree::resume(11, &changed, &root),
            Err(TreeError::RootMismatch { size: 11, .. })
        ));
    }
}
