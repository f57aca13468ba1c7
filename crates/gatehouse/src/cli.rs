//! The command line: `serve`, `check-config`, `user`, `group` and `audit`.
//!
//! Every command that touches the store takes the same `--config` and `--data-dir` as `serve` (a
//! given `--config` is validated as `serve` would, even where only the store is needed) and
//! works while `serve` runs (the store is SQLite in WAL mode; the gateway notices changes within a
//! second through the store's change counter).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use policy::Tier;

use crate::config::Config;
use crate::identity::{hash_password, random_password};
use crate::server::{Server, ServerOptions};
use crate::store::{AuditQuery, AuditRow, Role, Store};

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

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The configuration file (TOML). Without it, the built-in configuration is used.
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The data directory holding the store (gatehouse.db) and logs; created when missing.
    #[arg(
        long,
        value_name = "DIR",
        env = "GATEHOUSE_DATA_DIR",
        default_value = "gatehouse-data",
        global = true
    )]
    data_dir: PathBuf,
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
    /// List and filter audit events (oldest first).
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        filter: AuditFilter,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum TierArg {
    Open,
    Filtered,
    Intranet,
    None,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Open => Tier::Open,
            TierArg::Filtered => Tier::Filtered,
            TierArg::Intranet => Tier::Intranet,
            TierArg::None => Tier::None,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    User,
    Admin,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
enum OutputFormat {
    #[default]
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a principal. Without --password-stdin a random password is generated and printed once.
    Add {
        /// The principal's name (letters, digits, `.`, `_`, `-`, `@`; at most 64 characters).
        name: String,
        /// The principal's tier: what they may browse.
        #[arg(long, value_enum)]
        tier: TierArg,
        /// What the principal may do in gatehouse itself.
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
        /// Read the password from standard input (first line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List principals.
    List {
        /// `table` for people, `json` for one JSON object per line.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Change a principal's tier; it applies to their next request.
    SetTier {
        /// The principal's name.
        name: String,
        /// The new tier: what they may browse.
        #[arg(value_enum)]
        tier: TierArg,
    },
    /// Set a new password. Without --password-stdin a random one is generated and printed once.
    Passwd {
        /// The principal's name.
        name: String,
        /// Read the new password from standard input (first line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a principal: their next request is refused.
    Disable {
        /// The principal's name.
        name: String,
    },
    /// Enable a disabled principal again.
    Enable {
        /// The principal's name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// Create a group.
    Add {
        /// The group's name (letters, digits, `.`, `_`, `-`, `@`; at most 64 characters).
        name: String,
    },
    /// List groups and their members.
    List {
        /// `table` for people, `json` for one JSON object per line.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Add a principal to a group.
    AddMember {
        /// The group's name.
        group: String,
        /// The principal's name.
        principal: String,
    },
    /// Remove a principal from a group.
    RemoveMember {
        /// The group's name.
        group: String,
        /// The principal's name.
        principal: String,
    },
}

#[derive(Args, Debug)]
struct AuditFilter {
    /// Only events of this principal.
    #[arg(long)]
    principal: Option<String>,
    /// Only events for this destination host or its subdomains (`example.com` matches `www.example.com`).
    #[arg(long)]
    destination: Option<String>,
    /// Only events with this decision: `allow` (the policy allowed; a transfer that then failed,
    /// e.g. DNS or connect, is still `allow`, with its error code in the event), `deny` (refused by
    /// a rule or by authentication), `error` (gatehouse could not decide: malformed request,
    /// timeout before a decision, audit backlog).
    #[arg(long, value_parser = ["allow", "deny", "error"])]
    decision: Option<String>,
    /// Events at or after this time: RFC 3339 (`2026-11-25T10:00:00Z`) or an age (`90s`, `15m`, `2h`, `7d`).
    #[arg(long)]
    since: Option<String>,
    /// Events before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// At most this many events (the newest ones).
    #[arg(long, default_value_t = 1000)]
    limit: u64,
    /// `table` for people, `json` for one JSON object per line (stable field names).
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

/// Run the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatehouse: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { common } => serve(common),
        Command::CheckConfig { file } => check_config(file),
        Command::User { common, command } => user(common, command),
        Command::Group { common, command } => group(common, command),
        Command::Audit { common, filter } => audit(common, filter),
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

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let config = match &common.config {
        Some(path) => Config::from_file(path),
        None => Config::builtin(),
    };
    config.map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
}

/// `user`, `group` and `audit` need only the store, but a `--config` given to them is read and
/// validated like `serve` would: pointing them at a file that `serve` would refuse is an error,
/// not something silently ignored.
fn check_given_config(common: &Common) -> anyhow::Result<()> {
    if common.config.is_some() {
        load_config(common)?;
    }
    Ok(())
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
                println!("  {}", load.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn valid_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        bail!("`{name}` is not a valid name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`");
    }
    Ok(())
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(password)
}

fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        Ok((read_password_stdin()?, false))
    } else {
        Ok((random_password()?, true))
    }
}

fn user(common: Common, command: UserCommand) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    // Only adding creates a store; every other command needs one, so that a mistyped
    // `--data-dir` is an error rather than an empty store.
    let store = if matches!(command, UserCommand::Add { .. }) {
        Store::open(&common.data_dir)?
    } else {
        Store::open_existing(&common.data_dir)?
    };
    match command {
        UserCommand::Add {
            name,
            tier,
            role,
            password_stdin,
        } => {
            valid_name(&name)?;
            let (pw, generated) = password(password_stdin)?;
            let role = match role {
                RoleArg::User => Role::User,
                RoleArg::Admin => Role::Admin,
            };
            let tier: Tier = tier.into();
            store.add_principal(&name, role, tier, &hash_password(&pw)?)?;
            println!(
                "added the principal `{name}` (role {}, tier {tier})",
                role.as_str()
            );
            if generated {
                println!("its password, shown only this once: {pw}");
            }
        }
        UserCommand::List { format } => {
            let rows = store.principals()?;
            match format {
                OutputFormat::Json => {
                    let mut out = std::io::stdout().lock();
                    for p in rows {
                        let v = serde_json::json!({
                            "name": p.name,
                            "role": p.role.as_str(),
                            "tier": p.tier.as_str(),
                            "disabled": p.disabled,
                            "created_at": format_ts(p.created_at),
                            "updated_at": format_ts(p.updated_at),
                        });
                        writeln!(out, "{v}")?;
                    }
                }
                OutputFormat::Table => {
                    let mut table = vec![vec![
                        "NAME".to_string(),
                        "ROLE".into(),
                        "TIER".into(),
                        "STATUS".into(),
                        "UPDATED".into(),
                    ]];
                    for p in rows {
                        table.push(vec![
                            p.name,
                            p.role.as_str().into(),
                            p.tier.as_str().into(),
                            if p.disabled { "disabled" } else { "enabled" }.into(),
                            format_ts(p.updated_at),
                        ]);
                    }
                    print_table(&table);
                }
            }
        }
        UserCommand::SetTier { name, tier } => {
            let tier: Tier = tier.into();
            store.set_tier(&name, tier)?;
            println!("the principal `{name}` now has the tier {tier}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin)?;
            store.set_password_hash(&name, &hash_password(&pw)?)?;
            println!("changed the password of `{name}`");
            if generated {
                println!("the new password, shown only this once: {pw}");
            }
        }
        UserCommand::Disable { name } => {
            store.set_disabled(&name, true)?;
            println!("disabled the principal `{name}`");
        }
        UserCommand::Enable { name } => {
            store.set_disabled(&name, false)?;
            println!("enabled the principal `{name}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn group(common: Common, command: GroupCommand) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let store = if matches!(command, GroupCommand::Add { .. }) {
        Store::open(&common.data_dir)?
    } else {
        Store::open_existing(&common.data_dir)?
    };
    match command {
        GroupCommand::Add { name } => {
            valid_name(&name)?;
            store.add_group(&name)?;
            println!("added the group `{name}`");
        }
        GroupCommand::List { format } => {
            let groups = store.groups()?;
            match format {
                OutputFormat::Json => {
                    for (g, members) in groups {
                        println!("{}", serde_json::json!({ "name": g, "members": members }));
                    }
                }
                OutputFormat::Table => {
                    let mut table = vec![vec!["GROUP".to_string(), "MEMBERS".into()]];
                    for (g, members) in groups {
                        table.push(vec![g, members.join(",")]);
                    }
                    print_table(&table);
                }
            }
        }
        GroupCommand::AddMember { group, principal } => {
            store.add_member(&group, &principal)?;
            println!("`{principal}` is now a member of `{group}`");
        }
        GroupCommand::RemoveMember { group, principal } => {
            store.remove_member(&group, &principal)?;
            println!("`{principal}` is no longer a member of `{group}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parse `--since`/`--until`: RFC 3339, or an age such as `15m` counted back from now.
fn parse_time(s: &str, now_us: i64) -> anyhow::Result<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("`{s}` is neither an RFC 3339 time nor an age like `15m`"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("`{s}`: the unit of an age is one of `s`, `m`, `h`, `d`"),
    };
    Ok(now_us - n * secs * 1_000_000)
}

fn format_ts(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|_| us.to_string())
}

fn audit(common: Common, f: AuditFilter) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let store = Store::open_existing(&common.data_dir)?;
    let now = crate::store::now_us();
    let q = AuditQuery {
        principal: f.principal,
        destination: f
            .destination
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        decision: f.decision,
        since_us: f.since.as_deref().map(|s| parse_time(s, now)).transpose()?,
        until_us: f.until.as_deref().map(|s| parse_time(s, now)).transpose()?,
        limit: Some(f.limit),
    };
    let rows = store.audit(&q)?;
    match f.format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            for r in rows {
                writeln!(out, "{}", audit_json(&r))?;
            }
        }
        OutputFormat::Table => {
            let mut table = vec![[
                "TIME",
                "PRINCIPAL",
                "CLIENT",
                "METHOD",
                "DESTINATION",
                "DECISION",
                "RULE",
                "STATUS",
                "UP",
                "DOWN",
                "MS",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()];
            for r in rows {
                table.push(vec![
                    format_ts(r.ts_us),
                    r.principal.unwrap_or_else(|| "-".into()),
                    r.client,
                    r.method,
                    r.destination,
                    r.decision,
                    r.rule,
                    r.status.to_string(),
                    r.bytes_up.to_string(),
                    r.bytes_down.to_string(),
                    format!("{:.1}", r.duration_us as f64 / 1000.0),
                ]);
            }
            print_table(&table);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON form of an audit event (one object per line). Field names are a stable format.
fn audit_json(r: &AuditRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "time": format_ts(r.ts_us),
        "principal": r.principal,
        "client": r.client,
        "method": r.method,
        "destination": r.destination,
        "url": r.url,
        "decision": r.decision,
        "rule": r.rule,
        "status": r.status,
        "bytes_up": r.bytes_up,
        "bytes_down": r.bytes_down,
        "duration_us": r.duration_us,
        "stage": r.stage,
        "error": r.error,
    })
}

fn print_table(rows: &[Vec<String>]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn times_parse_as_rfc3339_or_age() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time("15m", now).unwrap(), now - 900_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z", now).unwrap(), 1_000_000);
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5w", now).is_err());
    }
}
