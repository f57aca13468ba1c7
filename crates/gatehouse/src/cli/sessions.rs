//! `gatehouse session list` and `gatehouse session end`: who sits where since when, and ending
//! sessions by hand.
//!
//! Reads and writes through [`SessionStore`]; only opening it picks the SQLite backend. Both need
//! an existing store. An ended session frees its seat in a running gateway within a second (the
//! gateway polls the store's session change counter). `end` ends open sessions only and says which
//! it ended; ending nothing is an error that says why. The JSON field names are a stable format.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::{ArgGroup, Subcommand};

use super::common::{check_given_config, format_ts, print_table, Common, OutputFormat};
use crate::store::{EndReason, SessionFilter, SessionRow, SessionSelector, SessionStore, Store};

#[derive(Subcommand, Debug)]
pub(super) enum SessionCommand {
    /// List open sessions (with --all, ended ones too): principal, terminal, location, since when,
    /// last seen, and why a session ended.
    List {
        /// Ended sessions too, most recently started last.
        #[arg(long)]
        all: bool,
        /// Only sessions at this location.
        #[arg(long)]
        location: Option<String>,
        /// Only sessions of this principal.
        #[arg(long)]
        principal: Option<String>,
        /// At most this many sessions (the most recently started); `0` means no limit.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// `table` for people, `json` for one JSON object per line (stable field names).
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// End open sessions: one by its id, or every one at a terminal, of a principal or at a
    /// location. Their seats free in the running gateway within a second.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "terminal", "principal", "location"])))]
    End {
        /// The session's id (the ID column of `session list`).
        id: Option<i64>,
        /// Every open session at this terminal (there is at most one).
        #[arg(long)]
        terminal: Option<String>,
        /// Every open session of this principal.
        #[arg(long)]
        principal: Option<String>,
        /// Every open session at this location.
        #[arg(long)]
        location: Option<String>,
    },
}

pub(super) fn session(common: Common, command: SessionCommand) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let store = Store::open_existing(&common.data_dir)?;
    match command {
        SessionCommand::List {
            all,
            location,
            principal,
            limit,
            format,
        } => {
            let filter = SessionFilter {
                include_ended: all,
                location,
                principal,
                limit: (limit != 0).then_some(limit),
            };
            print_sessions(store.sessions(&filter)?, all, format)?;
        }
        SessionCommand::End {
            id,
            terminal,
            principal,
            location,
        } => {
            let which = match (id, terminal, principal, location) {
                (Some(id), ..) => SessionSelector::Ids(vec![id]),
                (_, Some(t), ..) => SessionSelector::Terminal(t),
                (_, _, Some(p), _) => SessionSelector::Principal(p),
                (_, _, _, Some(l)) => SessionSelector::Location(l),
                // clap requires one of them.
                _ => {
                    bail!("name the sessions to end: an ID, --terminal, --principal or --location")
                }
            };
            end(&store, &which)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn end(store: &dyn SessionStore, which: &SessionSelector) -> anyhow::Result<()> {
    let ended = store.end_sessions(which, EndReason::Admin, jiff::Timestamp::now())?;
    if ended.is_empty() {
        bail!("{}", nothing_to_end(store, which)?);
    }
    let mut out = std::io::stdout().lock();
    for s in &ended {
        writeln!(
            out,
            "ended session {}: `{}` at terminal `{}` ({}), since {}",
            s.id,
            s.principal,
            s.terminal,
            s.location,
            format_ts(s.started.as_microsecond())
        )?;
    }
    writeln!(
        out,
        "{} session{} ended; a running gateway frees the seats within a second",
        ended.len(),
        if ended.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// Why `which` ended nothing, in words.
fn nothing_to_end(store: &dyn SessionStore, which: &SessionSelector) -> anyhow::Result<String> {
    Ok(match which {
        SessionSelector::Ids(ids) => {
            let id = ids.first().copied().unwrap_or_default();
            match store.sessions_by_id(&[id])?.into_iter().next() {
                Some(SessionRow {
                    ended: Some(at),
                    end_reason,
                    ..
                }) => format!(
                    "session `{id}` already ended at {} ({})",
                    format_ts(at.as_microsecond()),
                    end_reason.as_deref().unwrap_or("-")
                ),
                _ => format!("there is no session `{id}` (see `gatehouse session list --all`)"),
            }
        }
        SessionSelector::Terminal(t) => format!("no open session at the terminal `{t}`"),
        SessionSelector::Principal(p) => format!("the principal `{p}` has no open session"),
        SessionSelector::Location(l) => format!("no open session at the location `{l}`"),
    })
}

fn print_sessions(rows: Vec<SessionRow>, all: bool, format: OutputFormat) -> anyhow::Result<()> {
    let ts = |t: jiff::Timestamp| format_ts(t.as_microsecond());
    match format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            for s in rows {
                let v = serde_json::json!({
                    "id": s.id,
                    "principal": s.principal,
                    "terminal": s.terminal,
                    "location": s.location,
                    "started": ts(s.started),
                    "last_seen": ts(s.last_seen),
                    "ended": s.ended.map(ts),
                    "end_reason": s.end_reason,
                });
                writeln!(out, "{v}")?;
            }
        }
        OutputFormat::Table => {
            let mut head = vec![
                "ID",
                "PRINCIPAL",
                "TERMINAL",
                "LOCATION",
                "STARTED",
                "LAST SEEN",
            ];
            if all {
                head.extend(["ENDED", "REASON"]);
            }
            let mut table = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
            for s in rows {
                let mut row = vec![
                    s.id.to_string(),
                    s.principal,
                    s.terminal,
                    s.location,
                    ts(s.started),
                    ts(s.last_seen),
                ];
                if all {
                    row.push(s.ended.map_or_else(|| "-".into(), ts));
                    row.push(s.end_reason.unwrap_or_else(|| "-".into()));
                }
                table.push(row);
            }
            print_table(&table);
        }
    }
    Ok(())
}
