//! What every subcommand shares: the `--config` and `--data-dir` options ([`Common`]), loading
//! and checking the configuration they name, the output format, and how times and tables are
//! printed. It depends on no other part of the command line, so each subcommand can use it.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The configuration file (TOML). Without it, the built-in configuration is used.
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_CONFIG", global = true)]
    pub(super) config: Option<PathBuf>,
    /// The data directory holding the store (gatehouse.db) and logs; created when missing.
    #[arg(
        long,
        value_name = "DIR",
        env = "GATEHOUSE_DATA_DIR",
        default_value = "gatehouse-data",
        global = true
    )]
    pub(super) data_dir: PathBuf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub(super) enum OutputFormat {
    #[default]
    Table,
    Json,
}

pub(super) fn load_config(common: &Common) -> anyhow::Result<Config> {
    let config = match &common.config {
        Some(path) => Config::from_file(path),
        None => Config::builtin(),
    };
    config.map_err(|e| match e.unread() {
        // `cannot read FILE: No such file or directory`: the file is not invalid, it is not there.
        true => anyhow::anyhow!("{e}"),
        false => anyhow::anyhow!("invalid configuration:\n{e}"),
    })
}

/// `user`, `group` and `audit` need only the store (and `user` the `[accounts]` settings), but a
/// `--config` given to them is read and validated like `serve` would: pointing them at a file that
/// `serve` would refuse is an error, not something silently ignored. `None`: no `--config`, the
/// built-in configuration's settings apply.
pub(super) fn check_given_config(common: &Common) -> anyhow::Result<Option<Config>> {
    match common.config {
        Some(_) => load_config(common).map(Some),
        None => Ok(None),
    }
}

pub(super) use crate::clock::format_ts;

pub(super) fn print_table(rows: &[Vec<String>]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
}
