//! Category identifiers and fixed-size category sets.
//!
//! A [`CategoryId`] is the index of a category in the builder that created it (and in the
//! [`Lists`](crate::Lists) it built). A [`CategorySet`] is a 256-bit bitmap: `Copy`, no heap,
//! union and intersection are four word operations, so the per-request lookup never allocates.
//! Iteration is in ascending id order, which is creation order in the builder.

use std::fmt;

/// The most categories one [`ListsBuilder`](crate::ListsBuilder) can hold.
pub const MAX_CATEGORIES: usize = 256;

/// A category, by index. Only meaningful together with the builder or lists that issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryId(pub u16);

impl CategoryId {
    /// The index as `usize`, for table lookups.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for CategoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A set of up to [`MAX_CATEGORIES`] categories.
///
/// Ids at or above [`MAX_CATEGORIES`] are never members: `insert` ignores them and
/// `contains` answers `false` (a builder never issues such ids).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CategorySet([u64; 4]);

impl CategorySet {
    /// The empty set.
    pub const EMPTY: CategorySet = CategorySet([0; 4]);

    /// The empty set.
    pub const fn new() -> Self {
        Self::EMPTY
    }

    /// The set holding only `id`.
    pub fn single(id: CategoryId) -> Self {
        let mut s = Self::EMPTY;
        s.insert(id);
        s
    }

    fn slot(id: CategoryId) -> Option<(usize, u64)> {
        let i = id.index();
        (i < MAX_CATEGORIES).then(|| (i / 64, 1u64 << (i % 64)))
    }

    /// Adds `id`; returns whether it was absent.
    pub fn insert(&mut self, id: CategoryId) -> bool {
        match Self::slot(id) {
            Some((w, bit)) => {
                let absent = self.0[w] & bit == 0;
                self.0[w] |= bit;
                absent
            }
            None => false,
        }
    }

    /// Removes `id`; returns whether it was present.
    pub fn remove(&mut self, id: CategoryId) -> bool {
        match Self::slot(id) {
            Some((w, bit)) => {
                let present = self.0[w] & bit != 0;
                self.0[w] &= !bit;
                present
            }
            None => false,
        }
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: CategoryId) -> bool {
        Self::slot(id).is_some_and(|(w, bit)| self.0[w] & bit != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Members of either set.
    #[must_use]
    pub fn union(&self, other: &CategorySet) -> CategorySet {
        let mut r = *self;
        r.union_with(other);
        r
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &CategorySet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
    }

    /// Members of both sets.
    #[must_use]
    pub fn intersection(&self, other: &CategorySet) -> CategorySet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(other.0.iter()) {
            *a &= *b;
        }
        r
    }

    /// Whether the sets share a member.
    pub fn intersects(&self, other: &CategorySet) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// The member with the lowest id.
    pub fn first(&self) -> Option<CategoryId> {
        self.iter().next()
    }

    /// Members in ascending id order.
    pub fn iter(&self) -> CategorySetIter {
        CategorySetIter {
            words: self.0,
            word: 0,
        }
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

impl FromIterator<CategoryId> for CategorySet {
    fn from_iter<I: IntoIterator<Item = CategoryId>>(iter: I) -> Self {
        let mut s = Self::EMPTY;
        for id in iter {
            s.insert(id);
        }
        s
    }
}

impl Extend<CategoryId> for CategorySet {
    fn extend<I: IntoIterator<Item = CategoryId>>(&mut self, iter: I) {
        for id in iter {
            self.insert(id);
        }
    }
}

impl IntoIterator for CategorySet {
    type Item = CategoryId;
    type IntoIter = CategorySetIter;
    fn into_iter(self) -> CategorySetIter {
        self.iter()
    }
}

impl IntoIterator for &CategorySet {
    type Item = CategoryId;
    type IntoIter = CategorySetIter;
    fn into_iter(self) -> CategorySetIter {
        self.iter()
    }
}

/// Iterator over a [`CategorySet`], ascending.
#[derive(Clone, Debug)]
pub struct CategorySetIter {
    words: [u64; 4],
    word: usize,
}

impl Iterator for CategorySetIter {
    type Item = CategoryId;

    fn next(&mut self) -> Option<CategoryId> {
        while self.word < self.words.len() {
            let w = self.words[self.word];
            if w != 0 {
                let bit = w.trailing_zeros() as usize;
                self.words[self.word] = w & (w - 1);
                // At most 4 * 64 = 256, fits in u16.
                return Some(CategoryId((self.word * 64 + bit) as u16));
            }
            self.word += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut a = CategorySet::new();
        assert!(a.is_empty());
        assert!(a.insert(CategoryId(0)));
        assert!(!a.insert(CategoryId(0)));
        assert!(a.insert(CategoryId(63)));
        assert!(a.insert(CategoryId(64)));
        assert!(a.insert(CategoryId(255)));
        assert!(!a.insert(CategoryId(256)), "out of range ids are ignored");
        assert!(!a.contains(CategoryId(256)));
        assert_eq!(a.len(), 4);
        let ids: Vec<u16> = a.iter().map(|c| c.0).collect();
        assert_eq!(ids, vec![0, 63, 64, 255]);
        let b: CategorySet = [CategoryId(64), CategoryId(7)].into_iter().collect();
        assert_eq!(
            a.intersection(&b).iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![64]
        );
        assert!(a.intersects(&b));
        assert_eq!(a.union(&b).len(), 5);
        assert_eq!(b.first(), Some(CategoryId(7)));
        assert!(a.remove(CategoryId(63)));
        assert!(!a.remove(CategoryId(63)));
        assert_eq!(format!("{:?}", b), "{7, 64}");
    }
}
