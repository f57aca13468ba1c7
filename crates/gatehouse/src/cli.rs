//! The command line: `serve`, `check-config`, `user`, `group`, `session`, `policy`, `audit`, and
//! access requests and grants (`request`, `review`, `grant`, `revoke`, `guest`, `approver`), and service-account tokens
//! (`token`).
//!
//! Every command that touches the store takes the same `--config` and `--data-dir` as `serve` (a
//! given `--config` is validated as `serve` would, even where only the store is needed) and
//! works while `serve` runs (the store is SQLite in WAL mode; the gateway notices changes within a
//! second through the store's change counter).
//!
//! This file parses the command line and runs `serve` and `check-config`; `accounts.rs` holds
//! `user` and `group`, `sessions.rs` holds `session`, `audit.rs` holds `audit` (the listing), `auditlog.rs` its
//! subcommands `verify`, `export`, `prove`, `pubkey` and `prune`, `grants.rs` holds `request`, `review`,
//! `grant`, `revoke`, `guest` and `approver`, `tokens.rs` holds `token`. Those reach the
//! store through its traits (`PrincipalStore`, `SessionStore`, `AuditStore`). `common.rs` holds what they all share (the common options,
//! loading the configuration, printing times and tables); no part imports from this file.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::server::{Server, ServerOptions};

mod accounts;
mod audit;
mod auditlog;
mod common;
mod grants;
mod policy;
mod sessions;
mod tokens;

pub use accounts::{check_password_length, MIN_PASSWORD_CHARS};
use accounts::{GroupCommand, UserCommand};
use audit::AuditFilter;
use common::load_config;
pub use common::Common;
use sessions::SessionCommand;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "A self-hosted access gateway: a forward proxy that authenticates every request, decides on its canonical destination under the principal's tier, and records every decision",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway: the proxy (default 127.0.0.1:3128) and the admin port (default
    /// 127.0.0.1:9090: /metrics, /healthz, /readyz). SIGHUP reloads the configuration and lists;
    /// SIGTERM drains connections, flushes the audit trail and exits.
    Serve {
        #[command(flatten)]
        common: Common,
    },
    /// Validate a configuration file (and the lists it names) without starting anything.
    CheckConfig {
        /// The configuration file to check.
        file: PathBuf,
    },
    /// Manage principals (people and service accounts) in the store.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage groups of principals in the store.
    Group {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// List open sessions (a principal at a terminal) and end them.
    Session {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Check, test, explain and replay the rules: `schema`, `check`, `test CASES`, `explain`,
    /// `replay` (see `gatehouse policy --help`).
    Policy {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// List and filter audit events (oldest first); verify, export and prove the audit log
    /// (`verify`, `export`, `prove`, `pubkey`), and prune it (`prune`).
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        filter: AuditFilter,
        #[command(subcommand)]
        command: Option<auditlog::AuditCommand>,
    },
    /// Ask for access to a scope for a while, with a purpose: `create`, `list`, `show`, `withdraw`.
    Request {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: grants::RequestCommand,
    },
    /// Review access requests as an approver: `list`, `approve`, `deny`.
    Review {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: grants::ReviewCommand,
    },
    /// List, show and add grants.
    Grant {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: grants::GrantCommand,
    },
    /// End a grant now: a running gateway refuses it and closes its open tunnels within a second.
    Revoke {
        #[command(flatten)]
        common: Common,
        /// The grant's id (`gatehouse grant list`).
        id: i64,
        /// Why; recorded with the revocation.
        #[arg(long)]
        reason: String,
        /// Who revokes: an admin, or an approver within their scopes (default: `cli`).
        #[arg(long = "as", value_name = "NAME")]
        who: Option<String>,
    },
    /// Guests: principals with a sponsor and an expiry (`add`, `list`).
    Guest {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: grants::GuestCommand,
    },
    /// Who reviews which requests: `add`, `remove`, `list`.
    Approver {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: grants::ApproverCommand,
    },
    /// Service-account tokens for the API: `create`, `list`, `revoke`.
    Token {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
}

/// The most lines of one error printed (a configuration's problems, with their heading).
const MAX_ERROR_LINES: usize = 2 + crate::config::MAX_PROBLEMS_SHOWN;

/// Run the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version`: gatehouse's own text, on stdout.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A usage error quotes the argument as given (an escape sequence, a megabyte): plain
        // text, bounded and escaped like every other error.
        Err(e) => {
            let text = e.render().to_string();
            eprintln!(
                "{}",
                crate::printable::lines(text.trim_end(), MAX_ERROR_LINES)
            );
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote input (a file, an argument): short and without terminal control.
            let shown = crate::printable::lines(&format!("{e:#}"), MAX_ERROR_LINES);
            eprintln!("gatehouse: error: {shown}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { common } => serve(common),
        Command::CheckConfig { file } => check_config(file),
        Command::User { common, command } => accounts::user(common, command),
        Command::Group { common, command } => accounts::group(common, command),
        Command::Session { common, command } => sessions::session(common, command),
        Command::Audit {
            common,
            filter,
            command: None,
        } => audit::audit(common, filter),
        Command::Audit {
            common,
            filter,
            command: Some(command),
        } => {
            if filter.given() {
                anyhow::bail!(
                    "the listing options (`--principal`, `--since`, `--format`, …) go with \
                     `gatehouse audit` alone, not with a subcommand: see `gatehouse audit <COMMAND> --help`"
                );
            }
            auditlog::run(common, command)
        }
        Command::Policy { common, command } => policy::policy(common, command),
        Command::Request { common, command } => grants::request(common, command),
        Command::Review { common, command } => grants::review(common, command),
        Command::Grant { common, command } => grants::grant(common, command),
        Command::Revoke {
            common,
            id,
            reason,
            who,
        } => grants::revoke(common, id, reason, who),
        Command::Guest { common, command } => grants::guest(common, command),
        Command::Approver { common, command } => grants::approver(common, command),
        Command::Token { common, command } => tokens::token(common, command),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn serve(common: Common) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = load_config(&common)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gatehouse-worker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(ServerOptions {
            config,
            config_path: common.config.clone(),
            data_dir: common.data_dir.clone(),
            clock: std::sync::Arc::new(crate::clock::SystemClock),
        })
        .await?;
        if let Some(password) = &server.initial_admin_password {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "gatehouse: first start: created the principal `admin` (role admin, tier none)."
            )?;
            writeln!(
                out,
                "gatehouse: its password, shown only this once: {password}"
            )?;
            out.flush()?;
        }
        wait_for_signals(&server).await?;
        server.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn wait_for_signals(server: &Server) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration, reopening the squid access log");
                let _ = server.reload().await;
                // Not awaited here: a full audit queue must not hold up SIGTERM.
                let gateway = server.gateway().clone();
                tokio::spawn(async move { gateway.audit.reopen_squid_log().await });
            }
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); return Ok(()); }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); return Ok(()); }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_server: &Server) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn check_config(file: PathBuf) -> anyhow::Result<ExitCode> {
    match Config::from_file(&file) {
        Ok(c) => {
            println!(
                "{}: ok ({} domains in {} categories)",
                file.display(),
                c.lists.len(),
                c.lists.categories().count()
            );
            for load in &c.list_loads {
                println!("  {}", crate::printable::line(&load.summary()));
            }
            if !c.places.is_empty() || *c.places.unregistered() != places::Unregistered::Allow {
                println!("  {}", crate::config::places_summary(&c.places));
            }
            if let Some(rules) = &c.rules.rules {
                println!(
                    "  rules: {} in {} file(s); policy version {}",
                    rules.len(),
                    c.rules.sources.len(),
                    c.version
                );
            }
            for w in &c.rules.warnings {
                println!("  {}", crate::printable::line(&w.to_string()));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
