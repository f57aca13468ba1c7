//! Errors of the list loader and compiler.
//!
//! Messages are lower case without a final period, with user input in backticks. A problem
//! found while parsing a list names the source (file path or the name given to
//! [`ListsBuilder::add_text`](crate::ListsBuilder::add_text)) and the 1-based line number, e.g.
//! "`/etc/lists/ads.txt` line 12: invalid domain `exa mple`: invalid character ` `".

use std::path::PathBuf;

/// Why a string is not an acceptable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainProblem {
    /// Nothing left after trimming.
    #[error("empty name")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label longer than 63 bytes.
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    /// More than 253 bytes in all.
    #[error("name longer than 253 bytes")]
    TooLong,
    /// A byte outside letters, digits, `-`, `_` and `.` (and not part of an IDN).
    #[error("invalid character `{0}`")]
    InvalidChar(char),
    /// The last label is numeric but the whole is not an IP address.
    #[error("numeric top-level label")]
    NumericTld,
    /// The internationalised name does not convert to ASCII.
    #[error("invalid internationalised name: {0}")]
    Idn(String),
}

/// What is wrong with one line of a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// A name that is not a domain.
    #[error("invalid domain `{text}`: {problem}")]
    InvalidDomain {
        /// The offending name as written.
        text: String,
        /// Why it was refused.
        problem: DomainProblem,
    },
    /// A hosts line whose first field is not an IP address.
    #[error("invalid address `{0}`")]
    InvalidAddress(String),
}

/// Everything that can go wrong loading and compiling lists.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A bad line in a list (strict mode).
    #[error("`{origin}` line {line}: {problem}")]
    Line {
        /// File path or the source name given to `add_text`.
        origin: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        problem: LineProblem,
    },
    /// `add_domain` with a name that is not a domain.
    #[error("invalid domain `{text}`: {problem}")]
    InvalidDomain {
        /// The offending name as given.
        text: String,
        /// Why it was refused.
        problem: DomainProblem,
    },
    /// `add_domain` with an IP address; address categories are not supported.
    #[error("`{0}` is an ip address, not a domain")]
    IpAddress(String),
    /// A 257th category.
    #[error("too many categories: `{0}` would exceed the limit of 256")]
    TooManyCategories(String),
    /// An empty category name.
    #[error("empty category name")]
    EmptyCategoryName,
    /// A category id this builder did not issue.
    #[error("unknown category id {0}")]
    UnknownCategory(u16),
    /// The names do not fit the compact index (more than 4 GiB of names or 4 billion entries).
    #[error("lists too large: more than {0}")]
    TooLarge(&'static str),
    /// A list file larger than the builder's limit ([`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)
    /// unless [`set_max_file_bytes`](crate::ListsBuilder::set_max_file_bytes) said otherwise):
    /// refused before it is read, or once the limit is passed for a file whose size was not known.
    #[error("{}", too_large(path, *size, *limit))]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size, when the file system knew it before reading.
        size: Option<u64>,
        /// The limit it passed.
        limit: u64,
    },
    /// Reading a file or folder failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The fst library refused to build or open the map (a bug if it happens).
    #[error("cannot build the lookup map: {0}")]
    Fst(#[from] fst::Error),
}

fn too_large(path: &std::path::Path, size: Option<u64>, limit: u64) -> String {
    let limit = match limit % (1 << 20) {
        0 if limit > 0 => format!("{} MiB ({limit} bytes)", limit >> 20),
        _ => format!("{limit} bytes"),
    };
    match size {
        Some(size) => format!(
            "`{}` is {size} bytes, larger than a list file may be: {limit}",
            path.display()
        ),
        None => format!(
            "`{}` holds more than a list file may: {limit}",
            path.display()
        ),
    }
}
