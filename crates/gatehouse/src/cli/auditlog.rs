//! `gatehouse audit verify|export|prove|pubkey|prune`: the verifiable audit log from the command
//! line (`docs/audit-log.md`). `verify` checks the store with the data directory's key (or
//! `--pubkey`); `verify --file EXPORT` and `verify --proof FILE` check an export or a proof with
//! `--pubkey` alone, without a store or a configuration. Every check exits non-zero when it finds
//! a problem, and names the first event concerned and the kind of change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use auditlog::Verifier;
use clap::{Args, Subcommand, ValueEnum};

use super::audit::parse_time;
use super::common::{check_given_config, Common};
use crate::logcheck::{self, Report};
use crate::logkey;
use crate::store::Store;

/// At most this many problems are printed (the first ones in the log's order).
const SHOWN_FINDINGS: usize = 20;

#[derive(Subcommand, Debug)]
pub(super) enum AuditCommand {
    /// Verify the audit log: recompute every event's leaf and the Merkle tree over the store and
    /// check every signed checkpoint; or check an export (`--file`) or a proof (`--proof`) with
    /// `--pubkey` alone. Names the first event that does not match and the kind of change
    /// (edited, removed, inserted, reordered, tail cut, wrong key); exits 1 on any problem.
    Verify(VerifyArgs),
    /// Write the events since a time, with the checkpoints that cover them, as JSON lines that
    /// `gatehouse audit verify --file` checks elsewhere.
    Export(ExportArgs),
    /// Print the proof that one event is in the log (`--event ID`), or that the log only grew
    /// between two checkpoints (`--consistency OLD [--to NEW]`), as JSON.
    Prove(ProveArgs),
    /// Print the log's public key (a verifier key string for `--pubkey`).
    Pubkey,
    /// Delete the events older than a date, up to the newest checkpoint signed before it, and
    /// record the pruning in the log (what `[audit] retention_days` does hourly).
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    /// The log's public key (`gatehouse audit pubkey` prints it), or a file holding it. Without
    /// it, the key in the data directory is used; `--file` and `--proof` need it.
    #[arg(long, value_name = "KEY")]
    pubkey: Option<String>,
    /// Check this export instead of the store (no store or configuration is read).
    #[arg(long, value_name = "EXPORT", conflicts_with = "proof")]
    file: Option<PathBuf>,
    /// Check this proof (from `gatehouse audit prove`) instead of the store.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// JSON lines: a header, one line per event, the checkpoints.
    Jsonl,
}

#[derive(Args, Debug)]
pub(super) struct ExportArgs {
    /// The first event: the first at or after this time (a date, an RFC 3339 time or an age such
    /// as `7d`, as for `gatehouse audit --since`). Without it, from where the log starts.
    #[arg(long)]
    since: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: ExportFormat,
    /// Write to this file instead of the standard output (a new file is readable by its owner
    /// only).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["event", "consistency"]))]
pub(super) struct ProveArgs {
    /// The event (its id, as `gatehouse audit --format json` prints it) to prove is in the log,
    /// under the newest checkpoint.
    #[arg(long, value_name = "ID")]
    event: Option<i64>,
    /// The size of the older checkpoint of a consistency proof.
    #[arg(long, value_name = "OLD")]
    consistency: Option<u64>,
    /// The size of the newer checkpoint (default: the newest).
    #[arg(long, value_name = "NEW", requires = "consistency")]
    to: Option<u64>,
}

#[derive(Args, Debug)]
pub(super) struct PruneArgs {
    /// Delete events older than this (a date, meaning midnight UTC at its start, an RFC 3339 time
    /// or an age such as `90d`).
    #[arg(long, value_name = "DATE")]
    before: String,
}

pub(super) fn run(common: Common, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(common, args),
        AuditCommand::Export(args) => export(common, args),
        AuditCommand::Prove(args) => prove(common, args),
        AuditCommand::Pubkey => {
            check_given_config(&common)?;
            println!("{}", logkey::verifier(&common.data_dir)?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prune(args) => prune(common, args),
    }
}

/// `--pubkey`: a verifier key string, or a file that holds one.
fn parse_pubkey(text: &str) -> anyhow::Result<Verifier> {
    match Verifier::parse(text.trim()) {
        Ok(v) => Ok(v),
        Err(e) if Path::new(text).is_file() => {
            let content = std::fs::read_to_string(text)
                .with_context(|| format!("cannot read the key file `{text}`"))?;
            Verifier::parse(content.trim())
                .with_context(|| format!("`{text}` does not hold a verifier key (first: {e})"))
        }
        Err(e) => Err(e.into()),
    }
}

fn verify(common: Common, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let offline = args.file.as_ref().or(args.proof.as_ref());
    if let Some(path) = offline {
        let Some(key) = &args.pubkey else {
            bail!(
                "`--file` and `--proof` need `--pubkey KEY`: the key written in an export or a \
                 proof is not trusted (ask the gateway's operator for `gatehouse audit pubkey`)"
            );
        };
        let verifier = parse_pubkey(key)?;
        if args.proof.is_some() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            return Ok(match logcheck::verify_proof(&text, &verifier) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("FAILED: {e}");
                    ExitCode::FAILURE
                }
            });
        }
        let report = logcheck::verify_export(path, &verifier)?;
        return Ok(print_report(&report, started, "export"));
    }
    check_given_config(&common)?;
    let verifier = match &args.pubkey {
        Some(key) => parse_pubkey(key)?,
        None => logkey::verifier(&common.data_dir)?,
    };
    let store = Store::open_existing(&common.data_dir)?;
    let report = logcheck::verify_store(&store, &verifier)?;
    Ok(print_report(&report, started, "audit log"))
}

fn print_report(report: &Report, started: Instant, what: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if report.ok() {
        let _ = writeln!(
            out,
            "{what} verified: {} events (leaves {}..{}), {} checkpoints of `{}` checked, in {:.2} s",
            report.events,
            report.first_leaf,
            report.size,
            report.checkpoints,
            report.origin,
            started.elapsed().as_secs_f64()
        );
        if report.unsigned > 0 && what == "export" {
            let _ = writeln!(
                out,
                "warning: the last {} events of the export are not covered by any checkpoint in it: they are not verified",
                report.unsigned
            );
        } else if report.unsigned > 0 {
            let _ = writeln!(
                out,
                "note: the newest {} events are not covered by a checkpoint yet (the gateway signs one within `audit.checkpoint_interval`)",
                report.unsigned
            );
        }
        return ExitCode::SUCCESS;
    }
    for f in report.findings.iter().take(SHOWN_FINDINGS) {
        let _ = writeln!(out, "{f}");
    }
    if report.findings.len() > SHOWN_FINDINGS {
        let _ = writeln!(
            out,
            "… and {} more problems",
            report.findings.len() - SHOWN_FINDINGS
        );
    }
    let first = &report.findings[0];
    let _ = writeln!(
        out,
        "{what} verification FAILED: {} problem(s); the first: {}{}",
        report.findings.len(),
        first.kind,
        first
            .event_id
            .map_or(String::new(), |e| format!(" at event {e}"))
    );
    ExitCode::FAILURE
}

fn export(common: Common, args: ExportArgs) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let ExportFormat::Jsonl = args.format;
    let store = Store::open_existing(&common.data_dir)?;
    let key = logkey::verifier(&common.data_dir)?.to_string();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, crate::store::now_us()))
        .transpose()?;
    let written = match &args.output {
        Some(path) => {
            // An export holds people's records: a new file is readable by its owner only.
            let file = crate::store::create_private_file(path)
                .and_then(|()| std::fs::File::create(path))
                .with_context(|| format!("cannot create `{}`", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            logcheck::write_export(&store, since, &key, &mut out)?
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            logcheck::write_export(&store, since, &key, &mut out)?
        }
    };
    eprintln!(
        "exported {} events from leaf {} with {} checkpoints{}",
        written.events,
        written.first_leaf,
        written.checkpoints,
        match written.left_out {
            0 => String::new(),
            n => format!(
                "; the newest {n} events are not covered by a checkpoint yet and were left out"
            ),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn prove(common: Common, args: ProveArgs) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let store = Store::open_existing(&common.data_dir)?;
    let proof = match (args.event, args.consistency) {
        (Some(id), _) => logcheck::prove_event(&store, id)?,
        (None, Some(old)) => logcheck::prove_consistency(&store, old, args.to)?,
        (None, None) => bail!("give `--event ID` or `--consistency OLD`"),
    };
    println!("{proof}");
    Ok(ExitCode::SUCCESS)
}

fn prune(common: Common, args: PruneArgs) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let now = crate::store::now_us();
    let cutoff = parse_time(&args.before, now)?;
    let mut store = Store::open_existing(&common.data_dir)?;
    let actor = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    match logcheck::prune_before(&mut store, cutoff, now, &actor, "cli")? {
        Some(p) => println!(
            "pruned leaves {}..{} ({} events older than {}); the log now starts at leaf {}",
            p.from,
            p.to,
            p.events,
            logcheck::format_time(cutoff),
            p.to
        ),
        None => println!(
            "nothing to prune: no checkpoint after the log's start was signed before {}",
            logcheck::format_time(cutoff)
        ),
    }
    Ok(ExitCode::SUCCESS)
}
