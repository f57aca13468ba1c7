//! The checks a request for access passes before it reaches the store, whoever submits it (the
//! command line's `gatehouse request create` or the portal's form and API), so that both refuse
//! the same things with the same words: a scope that names something (a tier that exists, a
//! category some list has), a purpose of at least a sentence, a duration within the maximum
//! `[grants]` sets for the scope, and a claim-by window that parses. The store then checks who
//! may ask and records the request ([`crate::store::GrantStore::submit_request`]). [`form_link`] is
//! the address of the portal's request form for a refused destination.

use std::fmt::Write as _;
use std::time::Duration;

use access::{Scope, ScopeItem};

use crate::config::{parse_duration, Config};
use crate::store::NewRequest;

/// The fewest words a purpose may have: a sentence, not a word.
pub const MIN_PURPOSE_WORDS: usize = 3;

/// Why a request (or a grant an admin adds) was refused before the store.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Scope(#[from] access::ScopeError),
    #[error("`tier:{0}` names no tier (one of `open`, `filtered`, `intranet`, `none`)")]
    NoSuchTier(String),
    #[error("`category:{0}` names no category of this configuration's lists")]
    NoSuchCategory(String),
    #[error("`{text}` is not a duration for {field}: write it as `90s`, `15m`, `2h` or `3d`")]
    Duration { field: &'static str, text: String },
    #[error(
        "`{text}` is longer than the {max} a grant of `{scope}` may last (`[grants] max_duration`)"
    )]
    TooLong {
        text: String,
        max: String,
        scope: String,
    },
    #[error("the purpose `{0}` is too short: say why in a sentence of at least {MIN_PURPOSE_WORDS} words; it is recorded with everything the grant allows")]
    Purpose(String),
}

/// A request as a person wrote it (form fields or command-line flags).
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub principal: &'a str,
    /// Scope items, each `domain:NAME`, `category:NAME` or `tier:NAME`, separated by spaces or commas.
    pub scope: &'a str,
    pub duration: &'a str,
    pub purpose: &'a str,
    /// Empty: none.
    pub claim_by: &'a str,
    pub destination: Option<&'a str>,
    /// How the form or command names its fields in messages (`--duration` or `duration`).
    pub fields: Fields,
}

/// The names of the duration fields in messages.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub duration: &'static str,
    pub claim_by: &'static str,
}

/// The command line's flag names.
pub const FLAGS: Fields = Fields {
    duration: "--duration",
    claim_by: "--claim-by",
};

/// The portal form's field names.
pub const FORM: Fields = Fields {
    duration: "the duration",
    claim_by: "the claim-by window",
};

/// The request to submit, with the approvals and pending expiry `[grants]` sets for its scope.
pub fn new_request(config: &Config, a: &Asked<'_>) -> Result<NewRequest, AskError> {
    let scope = scope_of(config, a.scope)?;
    check_purpose(a.purpose)?;
    let duration = checked_duration(config, &scope, a.duration, a.fields.duration)?;
    let claim_by = match a.claim_by.trim() {
        "" => None,
        c => Some(duration_of(a.fields.claim_by, c)?),
    };
    Ok(NewRequest {
        principal: a.principal.to_string(),
        duration,
        claim_by,
        purpose: a.purpose.trim().to_string(),
        destination: a
            .destination
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        approvals_needed: config.grants.limits(&scope).approvals,
        pending_for: config.grants.pending_expiry,
        scope,
    })
}

/// A scope checked against the configuration: every tier exists and every category is one the
/// lists have, so that a scope never names nothing.
pub fn scope_of(config: &Config, text: &str) -> Result<Scope, AskError> {
    let scope = Scope::parse(text)?;
    for item in scope.items() {
        match item {
            ScopeItem::Tier(t) if policy::Tier::parse(t).is_none() => {
                return Err(AskError::NoSuchTier(t.to_string()))
            }
            ScopeItem::Category(c) if config.lists.category_id(c).is_none() => {
                return Err(AskError::NoSuchCategory(c.to_string()))
            }
            _ => {}
        }
    }
    Ok(scope)
}

pub fn duration_of(field: &'static str, text: &str) -> Result<Duration, AskError> {
    parse_duration(text.trim()).ok_or_else(|| AskError::Duration {
        field,
        text: text.to_string(),
    })
}

pub fn check_purpose(purpose: &str) -> Result<(), AskError> {
    if purpose.split_whitespace().count() < MIN_PURPOSE_WORDS {
        return Err(AskError::Purpose(purpose.trim().to_string()));
    }
    Ok(())
}

/// The duration asked for, within the maximum the configuration sets for this scope.
pub fn checked_duration(
    config: &Config,
    scope: &Scope,
    text: &str,
    field: &'static str,
) -> Result<Duration, AskError> {
    let d = duration_of(field, text)?;
    let max = config.grants.limits(scope).max_duration;
    if d > max {
        return Err(AskError::TooLong {
            text: text.to_string(),
            max: human(max),
            scope: scope.to_string(),
        });
    }
    Ok(d)
}

/// A duration in words (`8h`, `1d 2h`).
pub fn human(d: Duration) -> String {
    jiff::SignedDuration::try_from(d)
        .map(|s| format!("{s:#}"))
        .unwrap_or_else(|_| format!("{}s", d.as_secs()))
}

/// The host of a refused `destination` (`host:port`, or `[v6]:port`): what the request form asks
/// for (`domain:HOST`).
pub fn refused_host(destination: &str) -> &str {
    let host = match destination.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => destination,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The portal's request form (`/requests/new`) prefilled with the host of `destination`
/// (`host:port`, or `[v6]:port`), under `portal` (an empty `portal`: the path alone). Refusal
/// pages and the person's page both link to it.
pub fn form_link(portal: &str, destination: &str) -> String {
    let host = refused_host(destination);
    let mut query = String::with_capacity(host.len());
    for b in host.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                query.push(b as char)
            }
            _ => {
                let _ = write!(query, "%{b:02X}");
            }
        }
    }
    format!(
        "{}/requests/new?destination={query}",
        portal.trim_end_matches('/')
    )
}
