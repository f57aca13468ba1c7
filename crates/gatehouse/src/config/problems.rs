//! What a configuration's validation reports: a [`Problem`] (file, line, column, key and a
//! message a person can act on) and [`ConfigError`], every problem of one file. These are plain
//! values; they depend on no other part of `config`, so every part can produce them.

use std::fmt;

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
            return f.write_str(&self.message);
        }
        write!(
            f,
            "{}:{}:{}: key `{}`: {}",
            self.file, self.line, self.column, self.key, self.message
        )
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
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
