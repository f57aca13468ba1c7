//! `gatehouse policy`: the administrator's tools for the rules — `schema` (what rules can use),
//! `check` (the configuration and rules, with the engine's diagnostics and warnings), `test` (a
//! table of cases), `explain` (one decision and the facts it used) and `replay` (recorded requests
//! decided again under a candidate configuration).
//!
//! Every decision here is made by the same code as the gateway's: the facts are gathered by
//! [`crate::facts`] and decided by `policy::decide`, so a case that passes here is decided the same
//! way by `serve`. Seats are state, not rules: a case (or `explain --session MINUTES`) says whether
//! the principal already holds a session at the terminal (default: no, a first request); the seat
//! phase of a running gateway comes on top, and `explain` shows the seats in use when the store is
//! there.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde::Deserialize;

use super::common::{load_config, Common};
use crate::config::Config;
use crate::facts::{self, Asker, From, Request};
use crate::store::{AuditQuery, AuditStore, PrincipalStore, Store};

#[derive(Subcommand, Debug)]
pub(super) enum PolicyCommand {
    /// Print the Cedar schema that rules are validated against: the principal, the actions, the
    /// destination and the context a rule can use.
    Schema,
    /// Validate the configuration and its rules (file, line and what is wrong), and warn about
    /// rules that can never match or are shadowed by an earlier one. With a store in --data-dir,
    /// a rule naming a group that does not exist is an error too.
    Check,
    /// Decide every case of a case table (TOML) and fail on any mismatch, with a diff.
    Test {
        /// The case table (see examples/research-library/cases.toml).
        cases: PathBuf,
    },
    /// Decide one request and print the decision, the rules that decided it and the facts used.
    Explain(ExplainArgs),
    /// Decide recorded requests again under the configuration given with --config (the
    /// candidate) and report every request whose decision would change, with counts per rule.
    Replay {
        /// Events at or after this time: a date, an RFC 3339 time or an age (`24h`, `7d`).
        #[arg(long, default_value = "24h")]
        since: String,
        /// List at most this many changed requests (the counts cover all of them).
        #[arg(long, default_value_t = 50)]
        show: usize,
    },
}

#[derive(Args, Debug)]
pub(super) struct ExplainArgs {
    /// The principal asking. Its groups, tier and role come from the store when it is there;
    /// --groups, --tier and --role replace them.
    #[arg(long)]
    principal: String,
    /// The principal's groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    groups: Option<Vec<String>>,
    #[arg(long)]
    tier: Option<String>,
    #[arg(long)]
    role: Option<String>,
    /// The registered terminal the request comes from.
    #[arg(long, conflicts_with = "address")]
    terminal: Option<String>,
    /// The client address the request comes from (its terminal, if any, is looked up).
    #[arg(long)]
    address: Option<IpAddr>,
    /// When: a local time at the place (`2026-12-07T10:00`) or an RFC 3339 time; default now.
    #[arg(long)]
    at: Option<String>,
    /// The request method (`CONNECT` with a `host:port` target).
    #[arg(long, default_value = "GET")]
    method: String,
    /// The principal already holds a session at the terminal, since this many minutes (without
    /// it: the first request at the terminal, which takes the seat after its decision).
    #[arg(long, value_name = "MINUTES")]
    session: Option<u32>,
    /// The request target: `http://host/path`, or `host:port` with --method CONNECT.
    url: String,
}

/// One case of a case table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    principal: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default = "default_tier")]
    tier: String,
    #[serde(default = "default_role")]
    role: String,
    terminal: Option<String>,
    address: Option<IpAddr>,
    at: String,
    #[serde(default = "default_method")]
    method: String,
    /// Minutes the principal has held a session at the terminal; absent: a first request.
    session: Option<u32>,
    url: String,
    expect: String,
    rule: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseTable {
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

fn default_tier() -> String {
    "open".into()
}
fn default_role() -> String {
    "user".into()
}
fn default_method() -> String {
    "GET".into()
}

pub(super) fn policy(common: Common, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Schema => {
            print!("{}", policy::rules::SCHEMA);
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check => check(&common),
        PolicyCommand::Test { cases } => test(&common, &cases),
        PolicyCommand::Explain(args) => explain(&common, args),
        PolicyCommand::Replay { since, show } => replay(&common, &since, show),
    }
}

/// The store in --data-dir when it exists; `None` when there is none (nothing is created).
fn existing_store(common: &Common) -> anyhow::Result<Option<Store>> {
    match crate::store::existing_store_path(&common.data_dir) {
        Ok(_) => Ok(Some(Store::open_existing(&common.data_dir)?)),
        Err(crate::store::StoreError::Missing { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The store's active grants, indexed for the configuration's lists.
fn active_grants(config: &Config, store: &Store) -> anyhow::Result<access::GrantSet> {
    use crate::store::GrantStore;
    let rows = store.active_grants()?;
    Ok(access::GrantSet::new(
        rows.iter().filter_map(|g| g.active()),
        |name| config.lists.category_id(name),
    ))
}

fn check(common: &Common) -> anyhow::Result<ExitCode> {
    let config = load_config(common)?;
    let groups = match existing_store(common)? {
        Some(store) => Some(
            store
                .groups()?
                .into_iter()
                .map(|g| g.name)
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let report = facts::check_rules(&config, groups.as_deref());
    for w in &report.warnings {
        println!("warning: {}", crate::printable::line(&w.to_string()));
    }
    for e in &report.errors {
        eprintln!("error: {}", crate::printable::line(&e.to_string()));
    }
    if !report.errors.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: ok ({} rules, {} locations, {} terminals, {} schedules; policy version {}){}",
        config.source,
        report.rules,
        config.places.locations().len(),
        config.places.terminals().len(),
        config.places.schedules().len(),
        config.version,
        match groups {
            Some(_) => String::new(),
            None => "; groups not checked: no store in --data-dir".into(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn test(common: &Common, path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(common)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the case table {}", path.display()))?;
    let table: CaseTable = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for (i, case) in table.cases.iter().enumerate() {
        let got = decide_case(&config, case)
            .with_context(|| format!("{}: case {} ({})", path.display(), i + 1, case.name))?;
        let rule_ok = case.rule.as_deref().is_none_or(|r| r == got.rule);
        if got.verdict == case.expect && rule_ok {
            passed += 1;
            writeln!(out, "ok    {}", case.name)?;
            continue;
        }
        failed += 1;
        writeln!(out, "FAIL  {}", case.name)?;
        writeln!(
            out,
            "      - expected: {} {}",
            case.expect,
            case.rule.as_deref().unwrap_or("(any rule)")
        )?;
        writeln!(out, "      + got:      {} {}", got.verdict, got.rule)?;
        writeln!(out, "        facts: {}", got.facts)?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A decision as the case table and replay compare it.
struct Got {
    verdict: String,
    rule: String,
    facts: String,
}

fn decide_case(config: &Config, case: &Case) -> anyhow::Result<Got> {
    if !matches!(case.expect.as_str(), "allow" | "deny") {
        bail!(
            "`expect = \"{}\"`: a case expects `allow` or `deny`",
            case.expect
        );
    }
    let from = match (&case.terminal, case.address) {
        (Some(t), None) => From::Terminal(t),
        (None, Some(a)) => From::Address(a),
        (None, None) => bail!("a case names a `terminal` or an `address`"),
        (Some(_), Some(_)) => bail!("a case names a `terminal` or an `address`, not both"),
    };
    let asker = Asker::new(&case.principal, &case.groups, &case.tier, &case.role)?;
    let request = Request::parse(&case.method, &case.url)?;
    let at = facts::parse_at(config, &from, &case.at)?;
    let explained = facts::explain(config, &asker, from, at, &request, (case.session, None))?;
    Ok(Got {
        verdict: explained.verdict().to_string(),
        rule: explained.rule_id().to_string(),
        facts: explained.facts_line(),
    })
}

fn explain(common: &Common, a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(common)?;
    let store = existing_store(common)?;
    let stored = match &store {
        Some(s) => s.principal(&a.principal).ok(),
        None => None,
    };
    let groups = match (&a.groups, &stored) {
        (Some(g), _) => g.clone(),
        (None, Some(p)) => p.groups.clone(),
        (None, None) => Vec::new(),
    };
    let tier = match (&a.tier, &stored) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) => p.tier.as_str().to_string(),
        (None, None) => bail!(
            "`{}` is not in the store in {}: give its --tier (and --groups)",
            a.principal,
            common.data_dir.display()
        ),
    };
    let role = match (&a.role, &stored) {
        (Some(r), _) => r.clone(),
        (None, Some(p)) => p.role.as_str().to_string(),
        (None, None) => "user".into(),
    };
    let asker = Asker::new(&a.principal, &groups, &tier, &role)?;
    let from = match (&a.terminal, a.address) {
        (Some(t), _) => From::Terminal(t),
        (None, Some(ip)) => From::Address(ip),
        (None, None) => bail!("say where the request comes from: --terminal NAME or --address IP"),
    };
    let at = match &a.at {
        Some(s) => facts::parse_at(&config, &from, s)?,
        None => jiff::Timestamp::now(),
    };
    let request = Request::parse(&a.method, &a.url)?;
    // The grants active in the store count, as they would in a running gateway.
    let grants = match &store {
        Some(s) => Some(active_grants(&config, s)?),
        None => None,
    };
    let explained = facts::explain(
        &config,
        &asker,
        from,
        at,
        &request,
        (a.session, grants.as_ref()),
    )?;
    print!("{}", explained.report());
    if let Some(store) = &store {
        print!("{}", facts::seats_report(&config, store, &explained)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(common: &Common, since: &str, show: usize) -> anyhow::Result<ExitCode> {
    let candidate = load_config(common)?;
    let Some(store) = existing_store(common)? else {
        bail!(
            "no store in {}: replay decides the requests recorded there again",
            common.data_dir.display()
        );
    };
    let now = crate::store::now_us();
    let q = AuditQuery {
        since_us: Some(super::audit::parse_time(since, now)?),
        ..Default::default()
    };
    let rows = store.audit(&q)?;
    let mut out = std::io::stdout().lock();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut decided, mut changed, mut skipped) = (0usize, 0usize, 0usize);
    let mut shown = 0usize;
    for row in &rows {
        let Some(again) = facts::replay_row(&candidate, row)? else {
            skipped += 1;
            continue;
        };
        decided += 1;
        if !again.changed {
            continue;
        }
        changed += 1;
        *counts
            .entry((again.before.clone(), again.after.clone()))
            .or_default() += 1;
        if shown < show {
            shown += 1;
            writeln!(
                out,
                "{}  {}  {} {}  {} → {}",
                super::common::format_ts(row.ts_us),
                row.principal.as_deref().unwrap_or("-"),
                row.method,
                row.url.as_deref().unwrap_or(&row.destination),
                again.before,
                again.after
            )?;
        }
    }
    writeln!(out,
        "replayed {decided} decisions since {since} under {} (policy version {}): {changed} would change; {skipped} events were not decisions (malformed, authentication, seats)",
        candidate.source, candidate.version
    )?;
    for ((before, after), n) in &counts {
        writeln!(out, "  {n:>6}  {before} → {after}")?;
    }
    Ok(ExitCode::SUCCESS)
}
