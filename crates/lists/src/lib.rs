//! Category lists: named sets of domains, compiled into one compact immutable structure and
//! looked up on every request.
//!
//! Lists (hosts files, plain domain lists, AdBlock `||domain^` rules, UT1 folders) are added
//! to a [`ListsBuilder`], which canonicalises every entry the way request hosts are
//! canonicalised (lower case, punycode, no trailing dot) and compiles them into [`Lists`]: an
//! fst map keyed by the name with its labels reversed (`com.example.www`), whose value indexes
//! a deduplicated table of [`CategorySet`]s.
//!
//! Guarantees:
//! - An entry matches its own name and every subdomain, at label boundaries only: `example.com`
//!   matches `example.com` and `a.b.example.com`, never `notexample.com`.
//! - [`Lists::lookup`] returns the union of the categories of the host and of all its parent
//!   entries, in one walk of the fst, without allocating.
//! - [`Lists`] is immutable, `Send + Sync` and meant to be shared behind an `Arc`.
//! - No clock, no environment; only the file loaders touch the file system, and they read no file
//!   larger than [`MAX_FILE_BYTES`] (or the builder's own limit).
//!
//! Out of scope for now: IP address and network categories (addresses in lists are skipped and
//! counted).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod builder;
mod canon;
mod category;
mod error;

pub use builder::{
    Format, ListsBuilder, LoadStats, SkipReason, Skips, UnknownFormat, FIRST_LINES, MAX_FILE_BYTES,
};
pub use canon::{canonicalize, Canonical};
pub use category::{CategoryId, CategorySet, CategorySetIter, MAX_CATEGORIES};
pub use error::{DomainProblem, LineProblem, ListError};

use fst::raw::{Fst, Node, Output};
use std::fmt;

/// Compiled category lists. Build with [`ListsBuilder`].
#[derive(Clone)]
pub struct Lists {
    map: fst::Map<Vec<u8>>,
    sets: Vec<CategorySet>,
    names: Vec<String>,
    len: usize,
}

impl Default for Lists {
    /// No categories, no domains: every lookup is empty.
    fn default() -> Self {
        Lists {
            map: fst::Map::default(),
            sets: Vec::new(),
            names: Vec::new(),
            len: 0,
        }
    }
}

impl fmt::Debug for Lists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lists")
            .field("categories", &self.names)
            .field("domains", &self.len)
            .field("category_sets", &self.sets.len())
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

impl Lists {
    pub(crate) fn from_parts(
        map: fst::Map<Vec<u8>>,
        sets: Vec<CategorySet>,
        names: Vec<String>,
        len: usize,
    ) -> Lists {
        Lists {
            map,
            sets,
            names,
            len,
        }
    }

    /// The categories of `canonical_host` and of all its parent domains.
    ///
    /// The host must already be canonical (as `destination::DomainName` is): lower case ASCII,
    /// no trailing dot. It is not canonicalised again here.
    pub fn lookup(&self, canonical_host: &str) -> CategorySet {
        let fst = self.map.as_fst();
        let mut walk = Walk {
            fst,
            node: fst.root(),
            out: Output::zero(),
        };
        let mut found = CategorySet::new();
        let bytes = canonical_host.as_bytes();
        let mut end = bytes.len();
        let mut first = true;
        loop {
            let start = memchr::memrchr(b'.', &bytes[..end]).map_or(0, |i| i + 1);
            if !first && !walk.step(b'.') {
                return found;
            }
            first = false;
            for &b in &bytes[start..end] {
                if !walk.step(b) {
                    return found;
                }
            }
            if walk.node.is_final() {
                let id = walk.out.cat(walk.node.final_output()).value();
                if let Some(set) = usize::try_from(id).ok().and_then(|i| self.sets.get(i)) {
                    found.union_with(set);
                }
            }
            if start == 0 {
                return found;
            }
            end = start - 1;
        }
    }

    /// Whether `canonical_host` or a parent domain is in category `cat`.
    pub fn contains(&self, canonical_host: &str, cat: CategoryId) -> bool {
        self.lookup(canonical_host).contains(cat)
    }

    /// The id of the category called `name`.
    pub fn category_id(&self, name: &str) -> Option<CategoryId> {
        self.names
            .iter()
            .position(|n| n == name)
            // Below 256 categories.
            .map(|i| CategoryId(i as u16))
    }

    /// The name of category `id`; empty for an id these lists did not issue.
    pub fn category_name(&self, id: CategoryId) -> &str {
        self.names.get(id.index()).map_or("", String::as_str)
    }

    /// Every category, in id order.
    pub fn categories(&self) -> impl Iterator<Item = (CategoryId, &str)> + '_ {
        self.names
            .iter()
            .enumerate()
            // Below 256 categories.
            .map(|(i, n)| (CategoryId(i as u16), n.as_str()))
    }

    /// Number of categories.
    pub fn category_count(&self) -> usize {
        self.names.len()
    }

    /// Number of distinct domains.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no domains.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Approximate heap memory of the compiled structure, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.map.as_fst().as_bytes().len()
            + self.sets.capacity() * std::mem::size_of::<CategorySet>()
            + self.names.iter().map(String::capacity).sum::<usize>()
            + self.names.capacity() * std::mem::size_of::<String>()
    }

    /// Every domain with its categories, in reversed-label order (`com.a`, `com.a.www`,
    /// `com.b`): for diagnostics and tests, not the hot path.
    pub fn domains(&self) -> Vec<(String, CategorySet)> {
        use fst::Streamer;
        let mut out = Vec::with_capacity(self.len);
        let mut stream = self.map.stream();
        while let Some((key, id)) = stream.next() {
            let labels: Vec<&[u8]> = key.rsplit(|&b| b == b'.').collect();
            let name = String::from_utf8_lossy(&labels.join(&b'.')).into_owned();
            let set = usize::try_from(id)
                .ok()
                .and_then(|i| self.sets.get(i))
                .copied()
                .unwrap_or_default();
            out.push((name, set));
        }
        out
    }
}

/// A position in the fst with the output accumulated on the way.
struct Walk<'f> {
    fst: &'f Fst<Vec<u8>>,
    node: Node<'f>,
    out: Output,
}

impl Walk<'_> {
    /// Follows the transition on `b`; `false` if there is none.
    #[inline]
    fn step(&mut self, b: u8) -> bool {
        match self.node.find_input(b) {
            Some(i) => {
                let t = self.node.transition(i);
                self.out = self.out.cat(t.out);
                self.node = self.fst.node(t.addr);
                true
            }
            None => false,
        }
    }
}
