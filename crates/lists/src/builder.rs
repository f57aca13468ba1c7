//! Loading list files and compiling them into [`Lists`].
//!
//! The builder keeps every canonical name, reversed (`com.example.www`), in one byte arena,
//! with a compact index of `(offset, length, category)` entries: a million names cost one
//! large allocation of bytes plus 8 bytes of index each, never a million `String`s (large
//! allocations go back to the operating system when freed, millions of small ones do not).
//! [`ListsBuilder::build`] sorts the index by key, merges duplicates into category sets,
//! deduplicates the sets into a table and streams the keys into an fst map whose values are
//! indices into that table. The arena and index are freed before `build` returns.
//!
//! Strictness: in `hosts` and `plain` lists an invalid name is an error naming the source and
//! line, unless the builder is lenient, in which case it is skipped and counted. In `adblock`
//! lists every rule other than `||domain^` is skipped and counted (they are expected). IP
//! addresses are always skipped and counted: address categories are out of scope.

use crate::canon::{push_reversed, Kind};
use crate::category::{CategoryId, CategorySet, MAX_CATEGORIES};
use crate::error::{DomainProblem, LineProblem, ListError};
use crate::Lists;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::ops::{Add, AddAssign};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The format of a list file. UT1 folders have their own loader,
/// [`ListsBuilder::add_ut1_dir`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `0.0.0.0 ads.example.com other.example.net # comment`
    Hosts,
    /// One domain per line; `#` comments; a leading `*.` or `.` is tolerated.
    Plain,
    /// AdBlock Plus syntax; only `||domain^` rules are used.
    Adblock,
}

impl Format {
    /// The configuration name: `hosts`, `plain` or `adblock`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Plain => "plain",
            Format::Adblock => "adblock",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown list format `{0}`: expected `hosts`, `plain` or `adblock`")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s {
            "hosts" => Ok(Format::Hosts),
            "plain" => Ok(Format::Plain),
            "adblock" => Ok(Format::Adblock),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// What one load added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Names added (before deduplication).
    pub domains: u64,
    /// Entries or lines ignored: IP addresses, `localhost` and friends in hosts files,
    /// non-domain AdBlock rules, and (lenient mode only) invalid lines.
    pub skipped: u64,
    /// Of `skipped`, how many were invalid (non-zero only in lenient mode).
    pub invalid: u64,
}

impl Add for LoadStats {
    type Output = LoadStats;
    fn add(mut self, rhs: LoadStats) -> LoadStats {
        self += rhs;
        self
    }
}

impl AddAssign for LoadStats {
    fn add_assign(&mut self, rhs: LoadStats) {
        self.domains += rhs.domains;
        self.skipped += rhs.skipped;
        self.invalid += rhs.invalid;
    }
}

/// One name in the arena: `arena[off..off + len]`, in category `cat`.
#[derive(Clone, Copy, Debug)]
struct Entry {
    off: u32,
    len: u8,
    cat: u8,
}

/// Collects categories and names, then compiles them with [`build`](Self::build).
#[derive(Default)]
pub struct ListsBuilder {
    names: Vec<String>,
    by_name: HashMap<String, CategoryId>,
    arena: Vec<u8>,
    index: Vec<Entry>,
    lenient: bool,
}

impl fmt::Debug for ListsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListsBuilder")
            .field("categories", &self.names)
            .field("entries", &self.index.len())
            .field("arena_bytes", &self.arena.len())
            .field("lenient", &self.lenient)
            .finish()
    }
}

impl ListsBuilder {
    /// An empty, strict builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lenient mode skips and counts invalid lines in `hosts` and `plain` lists (including
    /// UT1 `domains` files) instead of failing. Off by default.
    pub fn set_lenient(&mut self, lenient: bool) -> &mut Self {
        self.lenient = lenient;
        self
    }

    /// Whether lenient mode is on.
    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// The id of the category `name`, creating it if new. At most 256 categories.
    pub fn category(&mut self, name: &str) -> Result<CategoryId, ListError> {
        if let Some(&id) = self.by_name.get(name) {
            return Ok(id);
        }
        if name.is_empty() {
            return Err(ListError::EmptyCategoryName);
        }
        if self.names.len() >= MAX_CATEGORIES {
            return Err(ListError::TooManyCategories(name.to_owned()));
        }
        // Below MAX_CATEGORIES = 256, fits.
        let id = CategoryId(self.names.len() as u16);
        self.names.push(name.to_owned());
        self.by_name.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The name of a category created by [`category`](Self::category) or a UT1 load.
    pub fn category_name(&self, cat: CategoryId) -> Option<&str> {
        self.names.get(cat.index()).map(String::as_str)
    }

    /// Number of names added so far (duplicates included).
    pub fn entries(&self) -> usize {
        self.index.len()
    }

    fn check(&self, cat: CategoryId) -> Result<u8, ListError> {
        if cat.index() < self.names.len() {
            // Below 256.
            Ok(cat.index() as u8)
        } else {
            Err(ListError::UnknownCategory(cat.0))
        }
    }

    /// Adds one domain (canonicalised: lower case, punycode, trailing dot removed). An IP
    /// address is refused with [`ListError::IpAddress`].
    pub fn add_domain(&mut self, cat: CategoryId, domain: &str) -> Result<(), ListError> {
        let cat = self.check(cat)?;
        match self.push(cat, domain.as_bytes())? {
            Ok(Kind::Domain) => Ok(()),
            Ok(Kind::Ip) => Err(ListError::IpAddress(domain.to_owned())),
            Err(problem) => Err(ListError::InvalidDomain {
                text: domain.to_owned(),
                problem,
            }),
        }
    }

    /// Loads a list held in memory. `source` names it in error messages (a path, a URL, a
    /// configuration key).
    pub fn add_text(
        &mut self,
        cat: CategoryId,
        format: Format,
        text: &[u8],
        source: &str,
    ) -> Result<LoadStats, ListError> {
        let cat = self.check(cat)?;
        let mut stats = LoadStats::default();
        let mut rest = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        let mut lineno = 0u64;
        while !rest.is_empty() {
            let (line, tail) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = tail;
            lineno += 1;
            if let Err(problem) = self.line(cat, format, line, &mut stats)? {
                return Err(ListError::Line {
                    origin: source.to_owned(),
                    line: lineno,
                    problem,
                });
            }
        }
        Ok(stats)
    }

    /// Loads a list file, streaming it line by line.
    pub fn add_file(
        &mut self,
        cat: CategoryId,
        format: Format,
        path: &Path,
    ) -> Result<LoadStats, ListError> {
        let cat = self.check(cat)?;
        let io = |source| ListError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // The names take fewer bytes than the file; reserving address space up front avoids
        // copying the arena as it grows (untouched pages cost no memory).
        if let Ok(meta) = file.metadata() {
            let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
            self.arena.reserve(len.min(u32::MAX as usize));
        }
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut stats = LoadStats::default();
        let mut buf = Vec::with_capacity(256);
        let mut lineno = 0u64;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                break;
            }
            lineno += 1;
            let mut line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if lineno == 1 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if let Err(problem) = self.line(cat, format, line, &mut stats)? {
                return Err(ListError::Line {
                    origin: path.display().to_string(),
                    line: lineno,
                    problem,
                });
            }
        }
        Ok(stats)
    }

    /// Loads a UT1 blacklist folder: one subfolder per category, each with a `domains` file
    /// (plain format). Categories are named `<prefix>/<subfolder>` (just `<subfolder>` if
    /// `prefix` is empty) and created in subfolder name order. Subfolders without a
    /// `domains` file and hidden subfolders are skipped; other files are ignored.
    pub fn add_ut1_dir(
        &mut self,
        prefix: &str,
        dir: &Path,
    ) -> Result<Vec<(CategoryId, LoadStats)>, ListError> {
        let io = |source| ListError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut subfolders: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !name.starts_with('.') && path.is_dir() {
                subfolders.push((name, path));
            }
        }
        subfolders.sort();
        let mut loaded = Vec::new();
        for (name, path) in subfolders {
            let file = path.join("domains");
            if !file.is_file() {
                continue;
            }
            let category = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let cat = self.category(&category)?;
            let stats = self.add_file(cat, Format::Plain, &file)?;
            loaded.push((cat, stats));
        }
        Ok(loaded)
    }

    /// One line of a list. The outer error is fatal; the inner one is a line problem in
    /// strict mode, for the caller to locate.
    fn line(
        &mut self,
        cat: u8,
        format: Format,
        line: &[u8],
        stats: &mut LoadStats,
    ) -> Result<Result<(), LineProblem>, ListError> {
        match format {
            Format::Plain => {
                let line = strip_comment(line).trim_ascii();
                if line.is_empty() {
                    return Ok(Ok(()));
                }
                let name = line
                    .strip_prefix(b"*.")
                    .or_else(|| line.strip_prefix(b"."))
                    .unwrap_or(line);
                self.name(cat, name, stats)
            }
            Format::Hosts => {
                let mut fields = strip_comment(line)
                    .split(u8::is_ascii_whitespace)
                    .filter(|f| !f.is_empty());
                let Some(addr) = fields.next() else {
                    return Ok(Ok(()));
                };
                if !is_ip(addr) {
                    if self.lenient {
                        stats.skipped += 1;
                        stats.invalid += 1;
                        return Ok(Ok(()));
                    }
                    return Ok(Err(LineProblem::InvalidAddress(
                        String::from_utf8_lossy(addr).into_owned(),
                    )));
                }
                for name in fields {
                    if is_local_name(name) {
                        stats.skipped += 1;
                        continue;
                    }
                    if let Err(problem) = self.name(cat, name, stats)? {
                        return Ok(Err(problem));
                    }
                }
                Ok(Ok(()))
            }
            Format::Adblock => {
                let line = line.trim_ascii();
                if line.is_empty() || line.starts_with(b"!") || line.starts_with(b"[") {
                    return Ok(Ok(()));
                }
                let domain = line
                    .strip_prefix(b"||")
                    .and_then(|rest| rest.strip_suffix(b"^"));
                match domain {
                    Some(name) => match self.push(cat, name)? {
                        Ok(Kind::Domain) => stats.domains += 1,
                        Ok(Kind::Ip) | Err(_) => stats.skipped += 1,
                    },
                    None => stats.skipped += 1,
                }
                Ok(Ok(()))
            }
        }
    }

    /// One name of a hosts or plain list, with lenient handling.
    fn name(
        &mut self,
        cat: u8,
        name: &[u8],
        stats: &mut LoadStats,
    ) -> Result<Result<(), LineProblem>, ListError> {
        match self.push(cat, name)? {
            Ok(Kind::Domain) => stats.domains += 1,
            Ok(Kind::Ip) => stats.skipped += 1,
            Err(_) if self.lenient => {
                stats.skipped += 1;
                stats.invalid += 1;
            }
            Err(problem) => {
                return Ok(Err(LineProblem::InvalidDomain {
                    text: String::from_utf8_lossy(name).into_owned(),
                    problem,
                }))
            }
        }
        Ok(Ok(()))
    }

    /// Canonicalises `name` into the arena and indexes it. The outer error is fatal.
    fn push(&mut self, cat: u8, name: &[u8]) -> Result<Result<Kind, DomainProblem>, ListError> {
        let start = self.arena.len();
        let kind = match push_reversed(&mut self.arena, name) {
            Ok(kind) => kind,
            Err(problem) => return Ok(Err(problem)),
        };
        if kind == Kind::Domain {
            let end = self.arena.len();
            let off = match (u32::try_from(start), u32::try_from(end)) {
                (Ok(off), Ok(_)) => off,
                _ => {
                    self.arena.truncate(start);
                    return Err(ListError::TooLarge("4 GiB of names"));
                }
            };
            // At most 253 bytes, checked by canonicalisation.
            let len = (end - start) as u8;
            self.index.push(Entry { off, len, cat });
        }
        Ok(Ok(kind))
    }

    /// Compiles everything added into an immutable [`Lists`], freeing the build buffers.
    pub fn build(self) -> Result<Lists, ListError> {
        let ListsBuilder {
            names,
            arena,
            mut index,
            ..
        } = self;
        let key = |e: &Entry| -> &[u8] {
            let off = e.off as usize;
            &arena[off..off + usize::from(e.len)]
        };
        index.sort_unstable_by(|a, b| key(a).cmp(key(b)));

        let mut sets: Vec<CategorySet> = Vec::new();
        let mut set_ids: HashMap<CategorySet, u64> = HashMap::new();
        // Peak memory is here: the arena, the index, the fst being written (about 0.7× the arena)
        // and fst's node registry (~7 MB) are all alive until the last key is in.
        let mut map = fst::MapBuilder::memory();
        let mut len = 0usize;
        let mut i = 0;
        while i < index.len() {
            let k = key(&index[i]);
            let mut set = CategorySet::new();
            let mut j = i;
            while j < index.len() && key(&index[j]) == k {
                set.insert(CategoryId(u16::from(index[j].cat)));
                j += 1;
            }
            let next = sets.len() as u64;
            let id = *set_ids.entry(set).or_insert_with(|| {
                sets.push(set);
                next
            });
            map.insert(k, id)?;
            len += 1;
            i = j;
        }
        let mut bytes = map.into_inner()?;
        bytes.shrink_to_fit();
        drop(index);
        drop(arena);
        sets.shrink_to_fit();
        Ok(Lists::from_parts(fst::Map::new(bytes)?, sets, names, len))
    }
}

/// The part of a line before `#`.
fn strip_comment(line: &[u8]) -> &[u8] {
    match memchr::memchr(b'#', line) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Whether a hosts file address field is an IP address (IPv6 may carry a `%zone`).
fn is_ip(field: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(field) else {
        return false;
    };
    let text = match text.split_once('%') {
        Some((addr, _zone)) if addr.contains(':') => addr,
        _ => text,
    };
    text.parse::<IpAddr>().is_ok()
}

/// Names of the machine itself that hosts files list and that are not blocklist entries.
fn is_local_name(name: &[u8]) -> bool {
    const LOCAL: [&[u8]; 4] = [
        b"localhost",
        b"localhost.localdomain",
        b"local",
        b"broadcasthost",
    ];
    LOCAL.iter().any(|l| l.eq_ignore_ascii_case(name))
        || (name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"ip6-"))
}
