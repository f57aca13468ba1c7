//! What a configuration's validation reports: a [`Problem`] (file, line, column, key and a
//! message a person can act on) and [`ConfigError`], every problem of one file. These are plain
//! values; they depend on no other part of `config`, so every part can produce them.
//!
//! They are printed through [`crate::printable`]: a problem is one line, its quotes of input cut
//! to a short beginning and their length, its control characters escaped; an error shows at most
//! [`MAX_PROBLEMS_SHOWN`] problems and counts the rest. A file of junk makes a short report.

use std::fmt;

use crate::printable;

/// The most problems an error shows; the rest are counted.
pub const MAX_PROBLEMS_SHOWN: usize = 100;

/// One problem in a configuration file, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl Problem {
    /// A problem with no place in any file (an unreadable file, a failed reload task): its
    /// message says it all.
    pub(super) fn unplaced(message: String) -> Problem {
        Problem {
            file: "-".into(),
            line: 0,
            column: 0,
            key: "-".into(),
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 && self.key == "-" {
            return f.write_str(&printable::line(&self.message));
        }
        let text = format!(
            "{}:{}:{}: key `{}`: {}",
            self.file, self.line, self.column, self.key, self.message
        );
        f.write_str(&printable::line(&text))
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// Whether the file was never read (missing, unreadable), so nothing in it is invalid.
    pub fn unread(&self) -> bool {
        self.problems.iter().all(|p| p.line == 0 && p.key == "-")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if i == MAX_PROBLEMS_SHOWN {
                let more = self.problems.len() - i;
                return write!(f, "… and {more} more problems");
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
