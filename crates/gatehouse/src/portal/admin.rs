//! What the admin pages (`admin_pages.rs`) and their API twins (`admin_api.rs`) share: the input
//! each action takes (one type for the form and the JSON body), its checks (those of
//! [`crate::accounts`] and [`crate::asking`], the command line's), and the action itself through
//! the store's [`AccountStore`] and [`GrantStore`] with the admin as the one acting (`via`
//! `portal <client socket>`), so that a page, the API and the CLI refuse the same input with the
//! same words and record the same audit events.
//!
//! Guarantees: every action here is refused (`403`) unless the person is an admin, before any
//! input is read (except [`sponsor_guest`]: an approver's guest, within the limits the store
//! checks); a refusal by a check or by the store's rules changes nothing and comes back as
//! a [`Refusal`] (a status and the message); the store changes a principal and records it in one
//! transaction, and moves the principals' change counter, so the running gateway applies a tier,
//! role or group change, or a disable (ending the person's portal sessions and open tunnels),
//! within a second.

use std::net::SocketAddr;

use axum::http::StatusCode;
use serde::Deserialize;

use super::session::Viewer;
use super::{records, via, Portal, PortalBackend, PortalError};
use crate::accounts::{self, AccountCheck};
use crate::asking::{self, AskError};
use crate::identity::{hash_password, random_password_of, GENERATED_CHARS};
use crate::store::{
    AccountError, Actor, GrantError, GuestRow, NewGuest, NewPrincipal, PrincipalChange,
    PrincipalRow, StoreError, TokenRow,
};

/// An action refused by a check or the store's rules: the answer's status and the message.
pub(crate) type Refusal = (StatusCode, String);

/// What an admin action came to: done, or refused (the outer error: the portal failed).
pub(crate) type Outcome<T> = Result<Result<T, Refusal>, PortalError>;

/// The refusal of anybody but an admin.
pub(crate) const ADMINS_ONLY: &str =
    "only admins administer principals, approvers, guests and tokens";

/// `Some` refusal unless `viewer` is an admin.
pub(crate) fn not_admin(viewer: &Viewer) -> Option<Refusal> {
    (!viewer.is_admin()).then(|| (StatusCode::FORBIDDEN, ADMINS_ONLY.to_string()))
}

fn bad(e: impl std::fmt::Display) -> Refusal {
    (StatusCode::BAD_REQUEST, e.to_string())
}

/// The argon2 hash of `password`, computed on a blocking thread (it costs tens of milliseconds).
async fn hashed(password: String) -> Result<String, PortalError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PortalError::Task(e.to_string()))?
        .map_err(|e| PortalError::Task(e.to_string()))
}

/// The status of a refusal by the store's own rules; `None`: a failure of the store (`500`).
fn status_of_store(e: &StoreError) -> Option<StatusCode> {
    Some(match e {
        StoreError::NoSuchPrincipal(_) => StatusCode::NOT_FOUND,
        StoreError::NoSuchGroup(_) => StatusCode::BAD_REQUEST,
        StoreError::PrincipalExists(_) | StoreError::GroupExists(_) | StoreError::LastAdmin(_) => {
            StatusCode::CONFLICT
        }
        _ => return None,
    })
}

/// The status of a refusal (a store failure is never one: see [`act`]).
fn status_of(e: &AccountError) -> StatusCode {
    match e {
        AccountError::Store(s) => status_of_store(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        AccountError::NoSuchToken(_)
        | AccountError::Actor(GrantError::NoSuchPrincipal(_) | GrantError::NoSuchApprover(_)) => {
            StatusCode::NOT_FOUND
        }
        AccountError::AlreadyRevoked(_) => StatusCode::CONFLICT,
        AccountError::Actor(g) => {
            records::grant_refusal(g).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Run `work` as `viewer` (an admin; `via` `portal CLIENT`) at the clock's time on the portal's
/// store connection, off the async workers: what it did, or its refusal.
pub(crate) async fn act<T, F>(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    work: F,
) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn PortalBackend, Actor<'_>, i64) -> Result<T, AccountError> + Send + 'static,
{
    if let Some(r) = not_admin(viewer) {
        return Ok(Err(r));
    }
    run(portal, viewer, client, work).await
}

/// [`act`] without its admins-only check: for an action whose own check (the store's) decides
/// who may do it.
async fn run<T, F>(portal: &Portal, viewer: &Viewer, client: SocketAddr, work: F) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn PortalBackend, Actor<'_>, i64) -> Result<T, AccountError> + Send + 'static,
{
    let (name, from, now) = (viewer.name().to_string(), via(client), portal.now_us());
    let out = portal
        .with_store(move |s| {
            let by = Actor {
                name: &name,
                via: &from,
            };
            // A refusal by the store's rules is the answer; a failure of the store is a 500.
            match work(s, by, now) {
                Ok(v) => Ok(Ok(v)),
                Err(AccountError::Store(e)) if status_of_store(&e).is_none() => Err(e),
                Err(e) => Ok(Err((status_of(&e), e.to_string()))),
            }
        })
        .await?;
    Ok(out)
}

/// A user to create: name, initial password, tier and role.
#[derive(Deserialize, Default)]
pub(crate) struct NewUser {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub role: String,
}

/// Create a user (`principal.create`), after the command line's checks.
pub(crate) async fn create_user(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewUser,
) -> Outcome<PrincipalRow> {
    let min = portal.gw.runtime.load().config.accounts.min_password_length;
    let checked = (|| -> Result<_, AccountCheck> {
        let name = f.name.trim().to_string();
        accounts::valid_name(&name)?;
        let role = match f.role.trim() {
            "" => crate::store::Role::User,
            r => accounts::role_of(r)?,
        };
        let tier = accounts::tier_of(&f.tier)?;
        accounts::check_password_length(&f.password, min)?;
        Ok((name, role, tier))
    })();
    let (name, role, tier) = match checked {
        Ok(c) => c,
        Err(e) => return Ok(Err(bad(e))),
    };
    if let Some(r) = not_admin(viewer) {
        return Ok(Err(r));
    }
    let new = NewPrincipal {
        name,
        role,
        tier,
        password_hash: hashed(f.password.clone()).await?,
    };
    act(portal, viewer, client, move |s, by, now| {
        s.create_principal(&new, by, now)
    })
    .await
}

/// A change to a principal; a field left out (or, in a form, empty for tier and role) is kept.
#[derive(Deserialize, Default)]
pub(crate) struct Change {
    pub tier: Option<String>,
    pub role: Option<String>,
    /// Exactly these groups.
    pub groups: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl Change {
    fn checked(&self) -> Result<PrincipalChange, AccountCheck> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let groups = match &self.groups {
            Some(g) => Some(accounts::groups_of(&g.join(","))?),
            None => None,
        };
        Ok(PrincipalChange {
            tier: given(&self.tier)
                .map(|t| accounts::tier_of(&t))
                .transpose()?,
            role: given(&self.role)
                .map(|r| accounts::role_of(&r))
                .transpose()?,
            groups,
            enabled: self.enabled,
        })
    }
}

/// Change `name` (`principal.update`, `principal.disable`, `principal.enable`): the actions
/// recorded, none when nothing differed.
pub(crate) async fn change_user(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    name: String,
    f: &Change,
) -> Outcome<Vec<&'static str>> {
    let change = match f.checked() {
        Ok(c) => c,
        Err(e) => return Ok(Err(bad(e))),
    };
    act(portal, viewer, client, move |s, by, now| {
        s.change_principal(&name, &change, by, now)
    })
    .await
}

/// An approver scope to give or take back: a principal's name or `group:NAME`, and scope items.
#[derive(Deserialize, Default)]
pub(crate) struct ApproverScope {
    #[serde(default)]
    pub approver: String,
    #[serde(default)]
    pub scope: String,
}

/// Give (`add`) or take back an approver scope (`approver.add`, `approver.remove`); a scope given
/// must name something (the CLI's check), one taken back is read as stored.
pub(crate) async fn approver(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &ApproverScope,
    add: bool,
) -> Outcome<String> {
    let scope = match add {
        true => asking::scope_of(&portal.gw.runtime.load().config, &f.scope),
        false => access::Scope::parse(&f.scope).map_err(AskError::from),
    };
    let scope = match scope {
        Ok(s) => s,
        Err(e) => return Ok(Err(bad(e))),
    };
    let who = f.approver.trim().to_string();
    act(portal, viewer, client, move |s, by, now| {
        match add {
            true => s.add_approver_scope(&who, &scope, by, now)?,
            false => s.remove_approver_scope(&who, &scope, by, now)?,
        }
        Ok(scope.to_string())
    })
    .await
}

/// A guest to create, as `gatehouse guest add` takes it: a sponsor (the admin when empty), a tier
/// or scope items (or both), an expiry (a duration or a time, not past), a purpose and a password
/// (generated when empty).
#[derive(Deserialize, Default)]
pub(crate) struct NewGuestForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sponsor: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub expires: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub password: String,
}

/// A created guest and, when it was generated, its password (shown once).
pub(crate) struct CreatedGuest {
    pub guest: GuestRow,
    pub password: Option<String>,
}

/// The guest `f` describes (its password hash still empty), and its password with whether it
/// was generated; or why not.
fn guest_of(
    portal: &Portal,
    viewer: &Viewer,
    f: &NewGuestForm,
    now: i64,
) -> Result<(NewGuest, String, bool), Refusal> {
    let rt = portal.gw.runtime.load();
    let name = f.name.trim().to_string();
    accounts::valid_name(&name).map_err(bad)?;
    let (tier, scope) = (f.tier.trim(), f.scope.trim());
    if tier.is_empty() && scope.is_empty() {
        return Err(bad("give the guest a tier or a scope (or both)"));
    }
    let tier = match tier {
        "" => policy::Tier::None,
        t => accounts::tier_of(t).map_err(bad)?,
    };
    let scope = match scope {
        "" => None,
        s => Some(asking::scope_of(&rt.config, s).map_err(bad)?),
    };
    let ends = accounts::expiry_of("the expiry", &f.expires, now).map_err(bad)?;
    let min = rt.config.accounts.min_password_length;
    let (password, generated) = match f.password.as_str() {
        "" => (
            random_password_of(min.max(GENERATED_CHARS)).map_err(bad)?,
            true,
        ),
        p => {
            accounts::check_password_length(p, min).map_err(bad)?;
            (p.to_string(), false)
        }
    };
    let or = |v: &str, default: &str| match v.trim() {
        "" => default.to_string(),
        v => v.to_string(),
    };
    let new = NewGuest {
        name,
        sponsor: or(&f.sponsor, viewer.name()),
        tier,
        password_hash: String::new(),
        lasts: accounts::lasting(now, ends),
        scope,
        purpose: or(&f.purpose, "visiting guest"),
    };
    Ok((new, password, generated))
}

/// Create a guest (`guest.create`, and `grant.create` for a scope), sponsored as the form says.
pub(crate) async fn create_guest(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewGuestForm,
) -> Outcome<CreatedGuest> {
    if let Some(r) = not_admin(viewer) {
        return Ok(Err(r));
    }
    add_guest(portal, viewer, client, f).await
}

/// The refusal of anybody but an approver or admin creating a guest.
pub(crate) const SPONSORS_ONLY: &str = "only approvers and admins create guests";

/// Create a guest as an approver (or admin) on `/guests`: the store refuses an approver a guest
/// sponsored by anybody else, or whose tier or scope lies outside their approver scopes.
pub(crate) async fn sponsor_guest(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewGuestForm,
) -> Outcome<CreatedGuest> {
    if !viewer.reviews() {
        return Ok(Err((StatusCode::FORBIDDEN, SPONSORS_ONLY.to_string())));
    }
    add_guest(portal, viewer, client, f).await
}

async fn add_guest(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewGuestForm,
) -> Outcome<CreatedGuest> {
    let (mut new, password, generated) = match guest_of(portal, viewer, f, portal.now_us()) {
        Ok(g) => g,
        Err(r) => return Ok(Err(r)),
    };
    new.password_hash = hashed(password.clone()).await?;
    let shown = generated.then_some(password);
    run(portal, viewer, client, move |s, by, now| {
        let guest = s.add_guest(&new, by, now)?;
        Ok(CreatedGuest {
            guest,
            password: shown,
        })
    })
    .await
}

/// A token to create: its principal, a label, an expiry (empty: none).
#[derive(Deserialize, Default)]
pub(crate) struct NewToken {
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub expires: String,
}

/// Create a service-account token (`token.create`): the row and the token, to be shown once.
pub(crate) async fn create_token(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewToken,
) -> Outcome<(TokenRow, String)> {
    let expires = match f.expires.trim() {
        "" => None,
        e => match accounts::expiry_of("the expiry", e, portal.now_us()) {
            Ok(at) => Some(at),
            Err(e) => return Ok(Err(bad(e))),
        },
    };
    let (token, hash) = match accounts::mint_token() {
        Ok(t) => t,
        Err(e) => return Err(PortalError::Random(e.to_string())),
    };
    let (principal, label) = (f.principal.trim().to_string(), f.label.trim().to_string());
    act(portal, viewer, client, move |s, by, now| {
        let row = s.create_token(&principal, (&label, &hash), expires, by, now)?;
        Ok((row, token))
    })
    .await
}

/// Revoke token `id` (`token.revoke`).
pub(crate) async fn revoke_token(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    id: i64,
) -> Outcome<TokenRow> {
    act(portal, viewer, client, move |s, by, now| {
        s.revoke_token(id, by, now)
    })
    .await
}

/// A group to create.
#[derive(Deserialize, Default)]
pub(crate) struct NewGroup {
    #[serde(default)]
    pub name: String,
}

/// Create an empty group (`group.create`), after the command line's name check.
pub(crate) async fn create_group(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    f: &NewGroup,
) -> Outcome<String> {
    if let Some(r) = not_admin(viewer) {
        return Ok(Err(r));
    }
    let name = f.name.trim().to_string();
    if let Err(e) = accounts::valid_name(&name) {
        return Ok(Err(bad(e)));
    }
    act(portal, viewer, client, move |s, by, now| {
        s.create_group(&name, by, now)?;
        Ok(name)
    })
    .await
}

/// Delete group `name` and its memberships (`group.delete`): the members it had.
pub(crate) async fn delete_group(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    name: String,
) -> Outcome<Vec<String>> {
    act(portal, viewer, client, move |s, by, now| {
        s.remove_group(&name, by, now)
    })
    .await
}
