//! `gatehouse token create|list|revoke`: service-account tokens, with which a program calls the
//! portal's API as a principal (`Authorization: Bearer gh_…`).
//!
//! `create` prints the token once (the store keeps only its hash); without `--as` it acts as
//! `cli` (whoever runs the command line, which holds the store file), else as that admin. Every
//! change goes through [`AccountStore`] and is recorded (`token.create`, `token.revoke`); a
//! revoked token stops working at its next use.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::common::{format_ts, print_table, Common, OutputFormat};
use crate::accounts::{expiry_of, mint_token};
use crate::store::{now_us, AccountStore, Actor, Store, TokenRow};

#[derive(Subcommand, Debug)]
pub(super) enum TokenCommand {
    /// Give a principal a token for the API; prints it once.
    Create {
        /// The principal the token acts as.
        #[arg(long)]
        principal: String,
        /// What the token is for (shown in `token list`).
        #[arg(long, default_value = "")]
        label: String,
        /// When it stops working: a duration from now (`90d`) or a time (`2027-03-01T00:00:00Z`);
        /// without it, never.
        #[arg(long)]
        expires: Option<String>,
        /// The admin acting (default: `cli`, whoever runs the command line).
        #[arg(long = "as", value_name = "ADMIN")]
        who: Option<String>,
    },
    /// List tokens (newest first), revoked ones too.
    List {
        /// Only this principal's tokens.
        #[arg(long)]
        principal: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Revoke a token: it stops working at its next use.
    Revoke {
        id: i64,
        /// The admin acting (default: `cli`, whoever runs the command line).
        #[arg(long = "as", value_name = "ADMIN")]
        who: Option<String>,
    },
}

fn actor(who: &Option<String>) -> Actor<'_> {
    Actor {
        name: who.as_deref().unwrap_or("cli"),
        via: "cli",
    }
}

pub(super) fn token(common: Common, command: TokenCommand) -> anyhow::Result<ExitCode> {
    super::common::check_given_config(&common)?;
    let store = Store::open_existing(&common.data_dir)?;
    let now = now_us();
    match command {
        TokenCommand::Create {
            principal,
            label,
            expires,
            who,
        } => {
            let expires = expires
                .map(|e| expiry_of("--expires", &e, now))
                .transpose()?;
            let (token, hash) = mint_token()?;
            let t = store.create_token(&principal, (&label, &hash), expires, actor(&who), now)?;
            println!(
                "created token {} for `{}` ({})",
                t.id,
                t.principal,
                ends(&t)
            );
            println!("the token, shown only this once: {token}");
        }
        TokenCommand::List { principal, format } => {
            print_tokens(&store.tokens(principal.as_deref())?, format)?
        }
        TokenCommand::Revoke { id, who } => {
            let t = store.revoke_token(id, actor(&who), now)?;
            println!("revoked token {} of `{}`", t.id, t.principal);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ends(t: &TokenRow) -> String {
    match (t.revoked_us, t.expires_us) {
        (Some(r), _) => format!("revoked {}", format_ts(r)),
        (None, Some(e)) => format!("expires {}", format_ts(e)),
        (None, None) => "does not expire".to_string(),
    }
}

fn print_tokens(rows: &[TokenRow], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        for t in rows {
            let v = serde_json::json!({
                "id": t.id,
                "principal": t.principal,
                "label": t.label,
                "created_by": t.created_by,
                "created": format_ts(t.created_us),
                "expires": t.expires_us.map(format_ts),
                "last_used": t.last_used_us.map(format_ts),
                "revoked": t.revoked_us.map(format_ts),
            });
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let mut table = vec![
        ["ID", "PRINCIPAL", "LABEL", "CREATED", "LAST USED", "STATUS"]
            .map(String::from)
            .to_vec(),
    ];
    for t in rows {
        table.push(vec![
            t.id.to_string(),
            t.principal.clone(),
            t.label.clone(),
            format_ts(t.created_us),
            t.last_used_us.map_or("-".to_string(), format_ts),
            ends(t),
        ]);
    }
    print_table(&table);
    Ok(())
}
