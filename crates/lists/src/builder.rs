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
use std::io::{BufRead, BufReader, Read};
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

/// Why an entry of a list was skipped instead of added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// An IP address: address categories are out of scope.
    IpAddress,
    /// An AdBlock rule other than `||domain^` (options, exceptions, cosmetic rules, paths).
    AdblockRule,
    /// A name of the machine itself in a hosts file (`localhost`, `broadcasthost`, `ip6-…`).
    LocalName,
    /// An invalid line or name, skipped because the builder is lenient.
    Invalid,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::IpAddress,
        SkipReason::AdblockRule,
        SkipReason::LocalName,
        SkipReason::Invalid,
    ];

    /// How a person calls one and several skipped entries of this kind.
    pub fn nouns(self) -> (&'static str, &'static str) {
        match self {
            SkipReason::IpAddress => ("IP address", "IP addresses"),
            SkipReason::AdblockRule => (
                "AdBlock rule other than `||domain^`",
                "AdBlock rules other than `||domain^`",
            ),
            SkipReason::LocalName => ("local name", "local names"),
            SkipReason::Invalid => ("invalid entry", "invalid entries"),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How many lines a [`Skips`] remembers.
pub const FIRST_LINES: usize = 3;

/// The entries skipped for one reason: how many, and the first lines they were on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skips {
    /// Entries skipped (a hosts line can hold several).
    pub count: u64,
    /// The first [`FIRST_LINES`] distinct line numbers (1-based), in order; 0 pads.
    lines: [u64; FIRST_LINES],
    /// Whether entries on further lines were skipped too.
    more: bool,
}

impl Skips {
    /// The first distinct line numbers, at most [`FIRST_LINES`].
    pub fn first_lines(&self) -> &[u64] {
        let n = self.lines.iter().take_while(|&&l| l != 0).count();
        &self.lines[..n]
    }

    /// Whether entries were skipped on more lines than [`first_lines`](Self::first_lines) shows.
    pub fn more_lines(&self) -> bool {
        self.more
    }

    fn record(&mut self, line: u64) {
        self.count += 1;
        let n = self.first_lines().len();
        if line == 0 || self.lines[..n].last() == Some(&line) {
            return;
        }
        match self.lines.get_mut(n) {
            Some(slot) => *slot = line,
            None => self.more = true,
        }
    }
}

/// What one load added, and what it skipped for which reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Names added (before deduplication).
    pub domains: u64,
    skips: [Skips; SkipReason::ALL.len()],
}

impl LoadStats {
    /// Entries or lines ignored, for every reason.
    pub fn skipped(&self) -> u64 {
        self.skips.iter().map(|s| s.count).sum()
    }

    /// Of [`skipped`](Self::skipped), how many were invalid (non-zero only in lenient mode).
    pub fn invalid(&self) -> u64 {
        self.skips(SkipReason::Invalid).count
    }

    /// The entries skipped for `reason`.
    pub fn skips(&self, reason: SkipReason) -> Skips {
        self.skips[reason.index()]
    }

    /// Count one entry on line `line` (1-based) skipped for `reason`.
    pub fn record_skip(&mut self, reason: SkipReason, line: u64) {
        self.skips[reason.index()].record(line);
    }
}

impl Add for LoadStats {
    type Output = LoadStats;
    fn add(mut self, rhs: LoadStats) -> LoadStats {
        self += rhs;
        self
    }
}

/// Counts add up. The first lines are those of the left side, then the right side's while there
/// is room: lines of two sources are only meaningful together when they are one file's parts.
impl AddAssign for LoadStats {
    fn add_assign(&mut self, rhs: LoadStats) {
        self.domains += rhs.domains;
        for (mine, theirs) in self.skips.iter_mut().zip(rhs.skips) {
            let count = mine.count + theirs.count;
            for &line in theirs.first_lines() {
                mine.record(line);
            }
            mine.count = count;
            mine.more |= theirs.more;
        }
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
    /// `None`: [`MAX_FILE_BYTES`].
    max_file_bytes: Option<u64>,
}

/// The largest list file [`ListsBuilder::add_file`] reads (256 MiB), unless
/// [`ListsBuilder::set_max_file_bytes`] says otherwise. A file larger than this is refused before a
/// byte of it is read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

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

    /// The largest file [`add_file`](Self::add_file) (and each UT1 `domains` file) reads;
    /// [`MAX_FILE_BYTES`] unless set.
    pub fn set_max_file_bytes(&mut self, limit: u64) -> &mut Self {
        self.max_file_bytes = Some(limit);
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
            if let Err(problem) = self.line(cat, format, line, lineno, &mut stats)? {
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
        let limit = self.max_file_bytes.unwrap_or(MAX_FILE_BYTES);
        let too_large = |size| ListError::FileTooLarge {
            path: path.to_owned(),
            size,
            limit,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        // Checked before a byte is read: a file of junk costs a `stat`, not memory.
        if size > limit {
            return Err(too_large(Some(size)));
        }
        // The names take fewer bytes than the file; reserving address space up front avoids
        // copying the arena as it grows (untouched pages cost no memory).
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        self.arena.reserve(len.min(u32::MAX as usize));
        // A file without a size (a pipe, `/dev/zero`) or one that grows is read one byte past
        // the limit at most.
        let mut reader = BufReader::with_capacity(1 << 16, file.take(limit.saturating_add(1)));
        let mut read = 0u64;
        let mut stats = LoadStats::default();
        let mut buf = Vec::with_capacity(256);
        let mut lineno = 0u64;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if read > limit {
                return Err(too_large(None));
            }
            lineno += 1;
            let mut line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if lineno == 1 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if let Err(problem) = self.line(cat, format, line, lineno, &mut stats)? {
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
        lineno: u64,
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
                self.name(cat, name, lineno, stats)
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
                        stats.record_skip(SkipReason::Invalid, lineno);
                        return Ok(Ok(()));
                    }
                    return Ok(Err(LineProblem::InvalidAddress(
                        String::from_utf8_lossy(addr).into_owned(),
                    )));
                }
                for name in fields {
                    if is_local_name(name) {
                        stats.record_skip(SkipReason::LocalName, lineno);
                        continue;
                    }
                    if let Err(problem) = self.name(cat, name, lineno, stats)? {
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
                        Ok(Kind::Ip) => stats.record_skip(SkipReason::IpAddress, lineno),
                        // `||a b^` is not a `||domain^` rule: it is skipped like any other rule.
                        Err(_) => stats.record_skip(SkipReason::AdblockRule, lineno),
                    },
                    None => stats.record_skip(SkipReason::AdblockRule, lineno),
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
        lineno: u64,
        stats: &mut LoadStats,
    ) -> Result<Result<(), LineProblem>, ListError> {
        match self.push(cat, name)? {
            Ok(Kind::Domain) => stats.domains += 1,
            Ok(Kind::Ip) => stats.record_skip(SkipReason::IpAddress, lineno),
            Err(_) if self.lenient => stats.record_skip(SkipReason::Invalid, lineno),
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
