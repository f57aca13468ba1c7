//! `gatehouse request|review|grant|revoke|guest|approver`: access requests, their review, grants,
//! guests and approver scopes, over the same store the gateway reads.
//!
//! Every command reaches the store through [`GrantStore`] (only opening it picks the SQLite
//! backend), and every change it makes is one transaction with its audit record (the store
//! guarantees it). The rules of who may do what live in the store, so that the portal gets the
//! same answers: `--as NAME` names the person acting, who must exist, be enabled and hold the role
//! (`approver` or `admin` to review, in a scope of theirs; nobody reviews their own request).
//! Administrative commands (`grant add`, `revoke`, `approver add|remove`) without `--as` act as
//! `cli`: whoever runs the command line, which holds the store file, and is recorded so.
//!
//! What is checked here, before the store: a purpose of at least a sentence, a scope that names
//! something (a tier that exists, a category some list has), a duration within the configured
//! maximum (`[grants]`). A running gateway honours a new grant, and the end of one, within a second.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use access::{GrantState, RequestState, Scope};
use anyhow::{anyhow, bail};
use clap::{ArgGroup, Args, Subcommand};

use super::accounts::{password, valid_name, TierArg};
use super::common::{format_ts, load_config, print_table, Common, OutputFormat};
use crate::asking;
use crate::config::Config;
use crate::identity::hash_password;
use crate::store::{
    now_us, Actor, GrantRow, GrantStore, NewGrant, NewGuest, RequestRow, Reviewed, Store,
    Submitted, Verdict,
};

#[derive(Subcommand, Debug)]
pub(super) enum RequestCommand {
    /// Ask for a scope for a while, saying why. An identical grant you already hold is reused.
    Create {
        /// The person asking.
        #[arg(long = "as", value_name = "NAME")]
        who: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// How long the grant lasts once it starts (`30m`, `2h`), at most `[grants] max_duration`.
        #[arg(long)]
        duration: String,
        /// Why, in at least a sentence: it is recorded with everything the grant allows.
        #[arg(long)]
        purpose: String,
        /// Start the grant's clock at its first use within this time of the approval (`1d`).
        #[arg(long)]
        claim_by: Option<String>,
        /// The destination you were refused at (shown to the approver).
        #[arg(long)]
        destination: Option<String>,
    },
    /// List requests, newest last.
    List {
        /// Only this person's requests.
        #[arg(long)]
        principal: Option<String>,
        /// Only requests in this state (`submitted`, `approved`, `denied`, `expired`, `withdrawn`).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Show one request with its reviews.
    Show { id: i64 },
    /// Take back a request still waiting for review (the requester, or an admin).
    Withdraw {
        id: i64,
        #[arg(long = "as", value_name = "NAME")]
        who: String,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ReviewCommand {
    /// The requests waiting for this approver: requester, scope, duration, purpose, and the
    /// requester's recent requests.
    List {
        #[arg(long = "as", value_name = "APPROVER")]
        who: String,
    },
    /// Approve a request; with enough approvals it becomes a grant at once.
    Approve {
        id: i64,
        #[arg(long = "as", value_name = "APPROVER")]
        who: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Deny a request, saying why.
    Deny {
        id: i64,
        #[arg(long = "as", value_name = "APPROVER")]
        who: String,
        #[arg(long)]
        comment: String,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum GrantCommand {
    /// List grants (active ones; with --all, ended ones too).
    List {
        #[arg(long)]
        principal: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Show one grant.
    Show { id: i64 },
    /// Grant a scope directly, without a request (an admin).
    Add {
        #[arg(long)]
        principal: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long)]
        duration: String,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        claim_by: Option<String>,
        /// The admin acting (default: `cli`, whoever runs the command line).
        #[arg(long = "as", value_name = "ADMIN")]
        who: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum GuestCommand {
    /// Create a guest: a principal with a sponsor and an expiry, disabled at its expiry. Prints a
    /// generated password once (or reads one with --password-stdin).
    #[command(group(ArgGroup::new("access").required(true).args(["tier", "scope"])))]
    Add {
        name: String,
        /// The approver or admin who vouches for the guest (recorded as the one acting).
        #[arg(long)]
        sponsor: String,
        /// The guest's tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// A grant for the guest's whole stay instead of a tier (items as for `request create`).
        #[arg(long, num_args = 1..)]
        scope: Vec<String>,
        /// How long the account lasts (`3d`).
        #[arg(long)]
        expires: String,
        #[arg(long, default_value = "visiting guest")]
        purpose: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List guests with their sponsor and expiry.
    List,
}

#[derive(Subcommand, Debug)]
pub(super) enum ApproverCommand {
    /// Let a principal (with the role `approver`) or every member of `group:NAME` review requests
    /// within a scope.
    Add(ApproverArgs),
    /// Take a scope back.
    Remove(ApproverArgs),
    /// List approvers and their scopes.
    List,
}

/// Whose scope, which scope, and who changes it.
#[derive(Args, Debug)]
pub(super) struct ApproverArgs {
    /// A principal's name, or `group:NAME` for every member of a group.
    approver: String,
    #[command(flatten)]
    scope: ScopeArgs,
    /// The admin acting (default: `cli`, whoever runs the command line).
    #[arg(long = "as", value_name = "ADMIN")]
    who: Option<String>,
}

/// `--scope`, one or more times, each item `domain:NAME`, `category:NAME` or `tier:NAME`.
#[derive(Args, Debug)]
pub(super) struct ScopeArgs {
    /// What the scope covers: `domain:NAME` (and its subdomains), `category:NAME`, `tier:NAME`;
    /// repeat it or separate items with commas.
    #[arg(long, required = true, num_args = 1..)]
    scope: Vec<String>,
}

/// The person acting through the command line.
fn cli_actor(name: &str) -> Actor<'_> {
    Actor { name, via: "cli" }
}

/// The configuration (for its lists and `[grants]`) and the store.
fn open(common: &Common, create: bool) -> anyhow::Result<(Config, Store)> {
    let config = load_config(common)?;
    let store = match create {
        true => Store::open(&common.data_dir)?,
        false => Store::open_existing(&common.data_dir)?,
    };
    Ok((config, store))
}

/// A scope from `--scope` values, checked against the configuration ([`asking::scope_of`]).
fn scope_of(config: &Config, items: &[String]) -> anyhow::Result<Scope> {
    Ok(asking::scope_of(config, &items.join(" "))?)
}

fn duration_of(flag: &'static str, text: &str) -> anyhow::Result<Duration> {
    Ok(asking::duration_of(flag, text)?)
}

fn check_purpose(purpose: &str) -> anyhow::Result<()> {
    Ok(asking::check_purpose(purpose)?)
}

/// The duration asked for, within the maximum the configuration sets for this scope.
fn checked_duration(config: &Config, scope: &Scope, text: &str) -> anyhow::Result<Duration> {
    Ok(asking::checked_duration(config, scope, text, "--duration")?)
}

pub(super) fn request(common: Common, command: RequestCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = open(&common, matches!(command, RequestCommand::Create { .. }))?;
    let now = now_us();
    match command {
        RequestCommand::Create {
            who,
            scope,
            duration,
            purpose,
            claim_by,
            destination,
        } => {
            let asked = asking::Asked {
                principal: &who,
                scope: &scope.scope.join(" "),
                duration: &duration,
                purpose: &purpose,
                claim_by: claim_by.as_deref().unwrap_or(""),
                destination: destination.as_deref(),
                fields: asking::FLAGS,
            };
            let new = asking::new_request(&config, &asked)?;
            print_submitted(&store.submit_request(&new, cli_actor(&who), now)?);
        }
        RequestCommand::List {
            principal,
            state,
            limit,
            format,
        } => {
            let state = state
                .map(|s| {
                    RequestState::parse(&s).ok_or_else(|| anyhow!("`{s}` is not a request state"))
                })
                .transpose()?;
            print_requests(&store.requests(principal.as_deref(), state, limit)?, format)?;
        }
        RequestCommand::Show { id } => print_request(&store.request(id)?),
        RequestCommand::Withdraw { id, who } => {
            let r = store.withdraw_request(id, cli_actor(&who), now)?;
            println!("withdrew request {}", r.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_submitted(s: &Submitted) {
    match s {
        Submitted::Request(r) => println!(
            "submitted request {} for `{}` ({}s): it needs {} approval{}; unreviewed, it expires at {}",
            r.id,
            r.scope,
            r.duration_s,
            r.approvals_needed,
            if r.approvals_needed == 1 { "" } else { "s" },
            format_ts(r.expires_us)
        ),
        Submitted::Reused(g) => println!(
            "reused grant {}: `{}` already holds `{}` {}; nothing new was asked",
            g.id,
            g.principal,
            g.scope,
            until(g)
        ),
    }
}

/// When a grant ends, in words.
fn until(g: &GrantRow) -> String {
    match (g.expires_us, g.claim_by_us) {
        (Some(e), _) => format!("until {}", format_ts(e)),
        (None, Some(c)) => format!("from its first use before {}", format_ts(c)),
        (None, None) => "(no end)".to_string(),
    }
}

fn print_requests(rows: &[RequestRow], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        for r in rows {
            let v = serde_json::json!({
                "id": r.id,
                "principal": r.principal,
                "scope": r.scope,
                "duration_s": r.duration_s,
                "claim_by_s": r.claim_by_s,
                "purpose": r.purpose,
                "state": r.state.as_str(),
                "approvals_needed": r.approvals_needed,
                "approvals": r.reviews.iter().filter(|v| v.verdict == "approve").count(),
                "destination": r.destination,
                "created": format_ts(r.created_us),
                "expires": format_ts(r.expires_us),
            });
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let mut table = vec![[
        "ID",
        "PRINCIPAL",
        "STATE",
        "SCOPE",
        "DURATION",
        "CREATED",
        "PURPOSE",
    ]
    .map(String::from)
    .to_vec()];
    for r in rows {
        table.push(vec![
            r.id.to_string(),
            r.principal.clone(),
            r.state.to_string(),
            r.scope.clone(),
            format!("{}s", r.duration_s),
            format_ts(r.created_us),
            r.purpose.clone(),
        ]);
    }
    print_table(&table);
    Ok(())
}

fn print_request(r: &RequestRow) {
    println!("request {}: {}", r.id, r.state);
    println!("  principal: {}", r.principal);
    println!("  scope: {}", r.scope);
    println!("  duration: {}s", r.duration_s);
    if let Some(c) = r.claim_by_s {
        println!("  claim by: within {c}s of the approval");
    }
    println!("  purpose: {}", r.purpose);
    if let Some(d) = &r.destination {
        println!("  refused at: {d}");
    }
    println!("  approvals needed: {}", r.approvals_needed);
    println!("  created: {}", format_ts(r.created_us));
    println!("  expires unreviewed: {}", format_ts(r.expires_us));
    for v in &r.reviews {
        println!(
            "  {} by {} at {}: {}",
            v.verdict,
            v.approver,
            format_ts(v.created_us),
            v.comment
        );
    }
}

pub(super) fn review(common: Common, command: ReviewCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = open(&common, false)?;
    let now = now_us();
    let (id, who, verdict, comment) = match command {
        ReviewCommand::List { who } => {
            print_queue(&store, &store.review_queue(&who, now)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        ReviewCommand::Approve { id, who, comment } => (id, who, Verdict::Approve, comment),
        ReviewCommand::Deny { id, who, comment } => {
            if comment.trim().is_empty() {
                bail!("say why the request is denied (`--comment`): the requester reads it");
            }
            (id, who, Verdict::Deny, comment)
        }
    };
    match store.review(id, verdict, &comment, cli_actor(&who), now)? {
        Reviewed::Pending { approvals, needed } => println!(
            "approved request {id} ({approvals} of {needed} approvals): it needs another approver"
        ),
        Reviewed::Approved(g) => println!(
            "approved request {id}: grant {} gives `{}` `{}` {}",
            g.id,
            g.principal,
            g.scope,
            until(&g)
        ),
        Reviewed::Denied => println!("denied request {id}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The review queue, each request with the requester's recent ones.
fn print_queue(store: &Store, queue: &[RequestRow]) -> anyhow::Result<()> {
    if queue.is_empty() {
        println!("no requests wait for you");
    }
    for r in queue {
        print_request(r);
        let recent = store.requests(Some(&r.principal), None, 6)?;
        let others: Vec<String> = recent
            .iter()
            .filter(|o| o.id != r.id)
            .map(|o| format!("{} {} `{}`", o.id, o.state, o.scope))
            .collect();
        if !others.is_empty() {
            println!("  their recent requests: {}", others.join("; "));
        }
    }
    Ok(())
}

pub(super) fn grant(common: Common, command: GrantCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = open(&common, false)?;
    match command {
        GrantCommand::List {
            principal,
            all,
            format,
        } => print_grants(&store.grants(principal.as_deref(), all)?, format)?,
        GrantCommand::Show { id } => print_grant(&store.grant(id)?),
        GrantCommand::Add {
            principal,
            scope,
            duration,
            purpose,
            claim_by,
            who,
        } => {
            let scope = scope_of(&config, &scope.scope)?;
            check_purpose(&purpose)?;
            let new = NewGrant {
                principal,
                duration: checked_duration(&config, &scope, &duration)?,
                claim_by: claim_by
                    .map(|c| duration_of("--claim-by", &c))
                    .transpose()?,
                purpose: purpose.trim().to_string(),
                scope,
            };
            let by = cli_actor(who.as_deref().unwrap_or("cli"));
            let g = store.add_grant(&new, by, now_us())?;
            println!(
                "added grant {}: `{}` holds `{}` {}",
                g.id,
                g.principal,
                g.scope,
                until(&g)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_grants(rows: &[GrantRow], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        for g in rows {
            let v = serde_json::json!({
                "id": g.id,
                "request_id": g.request_id,
                "principal": g.principal,
                "scope": g.scope,
                "purpose": g.purpose,
                "approvers": g.approvers,
                "state": g.state.as_str(),
                "starts": g.starts_us.map(format_ts),
                "expires": g.expires_us.map(format_ts),
                "claim_by": g.claim_by_us.map(format_ts),
                "ended": g.ended_us.map(format_ts),
                "end_reason": g.end_reason,
            });
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let mut table = vec![["ID", "PRINCIPAL", "STATE", "SCOPE", "ENDS", "PURPOSE"]
        .map(String::from)
        .to_vec()];
    for g in rows {
        let ends = match g.state {
            GrantState::Active => until(g),
            _ => format!(
                "{} {}",
                g.state,
                g.ended_us.map(format_ts).unwrap_or_default()
            ),
        };
        table.push(vec![
            g.id.to_string(),
            g.principal.clone(),
            g.state.to_string(),
            g.scope.clone(),
            ends,
            g.purpose.clone(),
        ]);
    }
    print_table(&table);
    Ok(())
}

fn print_grant(g: &GrantRow) {
    println!("grant {}: {}", g.id, g.state);
    println!("  principal: {}", g.principal);
    println!("  scope: {}", g.scope);
    println!("  purpose: {}", g.purpose);
    println!("  approved by: {}", g.approvers);
    if let Some(r) = g.request_id {
        println!("  request: {r}");
    }
    println!("  created: {}", format_ts(g.created_us));
    println!("  {}", until(g));
    if let Some(e) = g.ended_us {
        println!(
            "  ended: {} by {} ({})",
            format_ts(e),
            g.ended_by.as_deref().unwrap_or("-"),
            g.end_reason.as_deref().unwrap_or("-")
        );
    }
}

pub(super) fn revoke(
    common: Common,
    id: i64,
    reason: String,
    who: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (_, store) = open(&common, false)?;
    if reason.trim().is_empty() {
        bail!("say why the grant is revoked (`--reason`)");
    }
    let by = cli_actor(who.as_deref().unwrap_or("cli"));
    let g = store.revoke_grant(id, reason.trim(), by, now_us())?;
    println!(
        "revoked grant {} of `{}`: a running gateway refuses it, and closes what it keeps open, within a second",
        g.id, g.principal
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn guest(common: Common, command: GuestCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = open(&common, matches!(command, GuestCommand::Add { .. }))?;
    let GuestCommand::Add {
        name,
        sponsor,
        tier,
        scope,
        expires,
        purpose,
        password_stdin,
    } = command
    else {
        let mut table = vec![["NAME", "SPONSOR", "TIER", "EXPIRES", "STATUS"]
            .map(String::from)
            .to_vec()];
        for g in store.guests()? {
            let status = if g.disabled { "disabled" } else { "enabled" };
            table.push(vec![
                g.name,
                g.sponsor,
                g.tier,
                format_ts(g.expires_us),
                status.into(),
            ]);
        }
        print_table(&table);
        return Ok(ExitCode::SUCCESS);
    };
    valid_name(&name)?;
    let scope = match scope.is_empty() {
        true => None,
        false => Some(scope_of(&config, &scope)?),
    };
    let (pw, generated) = password(password_stdin, config.accounts.min_password_length)?;
    let now = now_us();
    let ends = crate::accounts::expiry_of("--expires", &expires, now)?;
    let new = NewGuest {
        name: name.clone(),
        sponsor: sponsor.clone(),
        tier: tier.map_or(policy::Tier::None, Into::into),
        password_hash: hash_password(&pw)?,
        lasts: crate::accounts::lasting(now, ends),
        scope,
        purpose,
    };
    let g = store.add_guest(&new, cli_actor(&sponsor), now)?;
    println!(
        "added the guest `{}` (tier {}), sponsored by `{}`; disabled at {}",
        g.name,
        g.tier,
        g.sponsor,
        format_ts(g.expires_us)
    );
    if generated {
        println!("password for `{name}` (shown once): {pw}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn approver(common: Common, command: ApproverCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = open(&common, false)?;
    let (add, a) = match command {
        ApproverCommand::Add(a) => (true, a),
        ApproverCommand::Remove(a) => (false, a),
        ApproverCommand::List => {
            let mut table = vec![vec!["APPROVER".to_string(), "SCOPE".to_string()]];
            for (approver, scope) in store.approver_scopes()? {
                table.push(vec![approver, scope]);
            }
            print_table(&table);
            return Ok(ExitCode::SUCCESS);
        }
    };
    // A scope given back is read as stored; a new one must name something.
    let scope = match add {
        true => scope_of(&config, &a.scope.scope)?,
        false => Scope::parse(&a.scope.scope.join(" "))?,
    };
    let by = cli_actor(a.who.as_deref().unwrap_or("cli"));
    if add {
        store.add_approver_scope(&a.approver, &scope, by, now_us())?;
        println!("`{}` reviews requests within `{scope}`", a.approver);
    } else {
        store.remove_approver_scope(&a.approver, &scope, by, now_us())?;
        println!(
            "`{}` no longer reviews requests within `{scope}`",
            a.approver
        );
    }
    Ok(ExitCode::SUCCESS)
}
