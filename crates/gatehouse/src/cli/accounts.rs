//! `gatehouse user …` and `gatehouse group …`: principals and groups in the store.
//!
//! Every command works through the store's interfaces ([`PrincipalStore`], and [`AccountStore`]
//! for the changes an admin also makes in the portal: `user add`, `set-tier`, `set-role`,
//! `disable`, `enable`, each recorded in the audit trail as done by `cli`); only opening it picks
//! the SQLite backend. Only
//! `user add` and `group add` create a store: the others need one, so that a mistyped `--data-dir`
//! is an error rather than an empty store. A change bumps the store's change counter, so a running
//! gateway applies it to the next request within a second.
//!
//! Guarantees: a password chosen by a person (`--password-stdin`) has at least
//! [`MIN_PASSWORD_CHARS`] characters, counted in Unicode scalar values, and is never echoed; the
//! last enabled admin is never deleted, demoted or disabled (the store refuses).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use policy::Tier;

use super::common::{check_given_config, format_ts, print_table, Common, OutputFormat};
use crate::identity::{hash_password, random_password_of, GENERATED_CHARS};
use crate::store::{
    now_us, AccountStore, Actor, NewPrincipal, PrincipalChange, PrincipalRow, PrincipalStore, Role,
    Store, StoreError,
};

/// The fewest characters a password read with `--password-stdin` may have, unless configured
/// otherwise. Generated passwords (20 random characters) are always longer.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum TierArg {
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
pub(super) enum RoleArg {
    /// Browses through the gateway under their tier.
    User,
    /// Administers gatehouse (the role of the principal created on first start).
    Admin,
    /// Reviews access requests in the scopes `gatehouse approver add` gives it; browses under its tier.
    Approver,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::User => Role::User,
            RoleArg::Admin => Role::Admin,
            RoleArg::Approver => Role::Approver,
        }
    }
}

#[derive(Subcommand, Debug)]
pub(super) enum UserCommand {
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
        /// Read the password from standard input (first line) instead of generating one; it must
        /// have at least 10 characters.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List principals with their role, tier, status and groups.
    List {
        /// `table` for people, `json` for one JSON object per line.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Change a principal's tier; the running gateway applies it within a second.
    SetTier {
        /// The principal's name.
        name: String,
        /// The new tier: what they may browse.
        #[arg(value_enum)]
        tier: TierArg,
    },
    /// Change a principal's role. The last enabled admin cannot be made a `user`.
    SetRole {
        /// The principal's name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Set a new password. Without --password-stdin a random one is generated and printed once.
    Passwd {
        /// The principal's name.
        name: String,
        /// Read the new password from standard input (first line) instead of generating one; it
        /// must have at least 10 characters.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a principal: the running gateway refuses their requests within a second. The last
    /// enabled admin cannot be disabled.
    Disable {
        /// The principal's name.
        name: String,
    },
    /// Enable a disabled principal again.
    Enable {
        /// The principal's name.
        name: String,
    },
    /// Delete a principal and their group memberships; their audit events stay. Their next
    /// request is refused (407). The last enabled admin cannot be deleted.
    Delete {
        /// The principal's name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum GroupCommand {
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
    /// Delete a group; its memberships go with it (the principals stay).
    Delete {
        /// The group's name.
        name: String,
    },
}

pub(super) fn valid_name(name: &str) -> anyhow::Result<()> {
    Ok(crate::accounts::valid_name(name)?)
}

/// Refuse a password with fewer than `min_chars` Unicode scalar values (never echoing it).
pub fn check_password_length(password: &str, min_chars: usize) -> anyhow::Result<()> {
    Ok(crate::accounts::check_password_length(password, min_chars)?)
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

/// The password to set, and whether it was generated (and must be shown once).
pub(super) fn password(from_stdin: bool, min_chars: usize) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let password = read_password_stdin()?;
        check_password_length(&password, min_chars)?;
        Ok((password, false))
    } else {
        // Never shorter than the minimum a person's own password must reach.
        Ok((random_password_of(min_chars.max(GENERATED_CHARS))?, true))
    }
}

/// Check a given `--config`, then open the store (creating it only when `create`: the commands
/// that add something).
fn open_store(
    common: &Common,
    create: bool,
) -> anyhow::Result<(Store, Option<crate::config::Config>)> {
    let config = check_given_config(common)?;
    let store = if create {
        Store::open(&common.data_dir)?
    } else {
        Store::open_existing(&common.data_dir)?
    };
    Ok((store, config))
}

/// Whoever runs the command line (which holds the store file), recorded as `cli`.
const CLI: Actor<'static> = Actor {
    name: "cli",
    via: "cli",
};

/// Make `principal` a member of exactly `groups`, recorded as a `principal.update`.
fn member_of(store: &Store, principal: &str, mut groups: Vec<String>) -> anyhow::Result<()> {
    groups.sort();
    groups.dedup();
    let groups = PrincipalChange {
        groups: Some(groups),
        ..PrincipalChange::default()
    };
    change(store, principal, groups)
}

/// Change `name` as the command line, recorded like the portal's changes.
fn change(store: &Store, name: &str, change: PrincipalChange) -> anyhow::Result<()> {
    store.change_principal(name, &change, CLI, now_us())?;
    Ok(())
}

pub(super) fn user(common: Common, command: UserCommand) -> anyhow::Result<ExitCode> {
    let (store, config) = open_store(&common, matches!(command, UserCommand::Add { .. }))?;
    // `[accounts] min_password_length` of the given configuration; the built-in one's otherwise.
    let min = config.map_or(MIN_PASSWORD_CHARS, |c| c.accounts.min_password_length);
    run_user(&store, command, min)?;
    Ok(ExitCode::SUCCESS)
}

fn run_user(store: &Store, command: UserCommand, min: usize) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            tier,
            role,
            password_stdin,
        } => {
            valid_name(&name)?;
            let (pw, generated) = password(password_stdin, min)?;
            let (role, tier): (Role, Tier) = (role.into(), tier.into());
            let new = NewPrincipal {
                name: name.clone(),
                role,
                tier,
                password_hash: hash_password(&pw)?,
            };
            store.create_principal(&new, CLI, now_us())?;
            println!(
                "added the principal `{name}` (role {}, tier {tier})",
                role.as_str()
            );
            if generated {
                println!("its password, shown only this once: {pw}");
            }
        }
        UserCommand::List { format } => list_users(store.principals()?, format)?,
        UserCommand::SetTier { name, tier } => {
            let tier: Tier = tier.into();
            let tier_only = PrincipalChange {
                tier: Some(tier),
                ..PrincipalChange::default()
            };
            change(store, &name, tier_only)?;
            println!("the principal `{name}` now has the tier {tier}");
        }
        UserCommand::SetRole { name, role } => {
            let role: Role = role.into();
            let role_only = PrincipalChange {
                role: Some(role),
                ..PrincipalChange::default()
            };
            change(store, &name, role_only)?;
            println!("the principal `{name}` now has the role {}", role.as_str());
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin, min)?;
            store.set_password_hash(&name, &hash_password(&pw)?)?;
            println!("changed the password of `{name}`");
            if generated {
                println!("the new password, shown only this once: {pw}");
            }
        }
        UserCommand::Disable { name } => {
            let off = PrincipalChange {
                enabled: Some(false),
                ..PrincipalChange::default()
            };
            change(store, &name, off)?;
            println!("disabled the principal `{name}`");
        }
        UserCommand::Enable { name } => {
            let on = PrincipalChange {
                enabled: Some(true),
                ..PrincipalChange::default()
            };
            change(store, &name, on)?;
            println!("enabled the principal `{name}`");
        }
        UserCommand::Delete { name } => {
            store.delete_principal(&name)?;
            println!("deleted the principal `{name}` (its audit events stay)");
        }
    }
    Ok(())
}

fn list_users(rows: Vec<PrincipalRow>, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            for p in rows {
                let v = serde_json::json!({
                    "name": p.name,
                    "role": p.role.as_str(),
                    "tier": p.tier.as_str(),
                    "disabled": p.disabled,
                    "groups": p.groups,
                    "created_at": format_ts(p.created_at),
                    "updated_at": format_ts(p.updated_at),
                });
                writeln!(out, "{v}")?;
            }
        }
        OutputFormat::Table => {
            let mut table = vec![["NAME", "ROLE", "TIER", "STATUS", "GROUPS", "UPDATED"]
                .map(String::from)
                .to_vec()];
            for p in rows {
                table.push(vec![
                    p.name,
                    p.role.as_str().into(),
                    p.tier.as_str().into(),
                    if p.disabled { "disabled" } else { "enabled" }.into(),
                    if p.groups.is_empty() {
                        "-".into()
                    } else {
                        p.groups.join(",")
                    },
                    format_ts(p.updated_at),
                ]);
            }
            print_table(&table);
        }
    }
    Ok(())
}

pub(super) fn group(common: Common, command: GroupCommand) -> anyhow::Result<ExitCode> {
    let (store, _) = open_store(&common, matches!(command, GroupCommand::Add { .. }))?;
    run_group(&store, command)?;
    Ok(ExitCode::SUCCESS)
}

/// Group changes are recorded as the portal's are (`group.create`, `group.delete`, and a
/// membership as the member's `principal.update`), each in the change's own transaction.
fn run_group(store: &Store, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::Add { name } => {
            valid_name(&name)?;
            store.create_group(&name, CLI, now_us())?;
            println!("added the group `{name}`");
        }
        GroupCommand::List { format } => {
            let groups = store.groups()?;
            match format {
                OutputFormat::Json => {
                    for g in groups {
                        println!(
                            "{}",
                            serde_json::json!({ "name": g.name, "members": g.members })
                        );
                    }
                }
                OutputFormat::Table => {
                    let mut table = vec![vec!["GROUP".to_string(), "MEMBERS".into()]];
                    for g in groups {
                        table.push(vec![g.name, g.members.join(",")]);
                    }
                    print_table(&table);
                }
            }
        }
        GroupCommand::AddMember { group, principal } => {
            if !store.groups()?.iter().any(|g| g.name == group) {
                return Err(StoreError::NoSuchGroup(group).into());
            }
            let mut groups = store.principal(&principal)?.groups;
            groups.push(group.clone());
            member_of(store, &principal, groups)?;
            println!("`{principal}` is now a member of `{group}`");
        }
        GroupCommand::RemoveMember { group, principal } => {
            if !store.groups()?.iter().any(|g| g.name == group) {
                return Err(StoreError::NoSuchGroup(group).into());
            }
            let mut groups = store.principal(&principal)?.groups;
            groups.retain(|g| *g != group);
            member_of(store, &principal, groups)?;
            println!("`{principal}` is no longer a member of `{group}`");
        }
        GroupCommand::Delete { name } => {
            store.remove_group(&name, CLI, now_us())?;
            println!("deleted the group `{name}` and its memberships");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_counted_in_characters_not_bytes() {
        assert!(check_password_length("123456789", MIN_PASSWORD_CHARS).is_err());
        assert!(check_password_length("1234567890", MIN_PASSWORD_CHARS).is_ok());
        // Nine characters, eighteen bytes: too short.
        let err = check_password_length("ééééééééé", MIN_PASSWORD_CHARS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the password is too short: it has 9 characters, the minimum is 10"
        );
        assert!(check_password_length("éééééééééé", MIN_PASSWORD_CHARS).is_ok());
        assert!(check_password_length("abc", 3).is_ok());
    }
}
