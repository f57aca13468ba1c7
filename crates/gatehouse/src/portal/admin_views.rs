//! What the admin pages and API show, read once and shaped twice: principals (guests with their
//! sponsor and expiry), approver scopes, guests, service-account tokens, and the running
//! configuration's locations, terminals and rules (shown, never edited: they live in files). The
//! views feed the templates; the `*_json` functions build the API's bodies by hand (the API owns
//! its format). Also the extractors [`AdminPerson`] (a page: `403` page for a non-admin) and
//! [`AdminCaller`] (the API: `403` JSON), so no admin handler runs for anybody else, and
//! [`Acting`], what an admin action needs (the portal, the client, the admin, the headers).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::admin::ADMINS_ONLY;
use super::api::{error, Caller};
use super::session::{Person, Viewer};
use super::trail::format_ts;
use super::views::forbidden;
use super::{Portal, PortalError};
use crate::store::{GuestRow, TokenRow};

/// An admin on an admin page; anybody else gets the `403` page (and nothing is read or changed).
pub(crate) struct AdminPerson(pub Viewer);

impl FromRequestParts<Arc<Portal>> for AdminPerson {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<AdminPerson, Response> {
        let Person(v) = Person::from_request_parts(parts, portal).await?;
        match v.is_admin() {
            true => Ok(AdminPerson(v)),
            false => Err(forbidden(&v)),
        }
    }
}

/// An admin calling `/api/v1/admin/…`; anybody else gets `403` JSON (`401` without a session or
/// token).
pub(crate) struct AdminCaller(pub Viewer);

impl FromRequestParts<Arc<Portal>> for AdminCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<AdminCaller, Response> {
        let Caller(v) = Caller::from_request_parts(parts, portal).await?;
        match v.is_admin() {
            true => Ok(AdminCaller(v)),
            false => Err(error(StatusCode::FORBIDDEN, ADMINS_ONLY)),
        }
    }
}

/// What the extractors give: the admin.
pub(crate) trait AdminViewer {
    fn viewer(self) -> Viewer;
}

impl AdminViewer for AdminPerson {
    fn viewer(self) -> Viewer {
        self.0
    }
}

impl AdminViewer for AdminCaller {
    fn viewer(self) -> Viewer {
        self.0
    }
}

/// An admin's state-changing request: the portal, the client's address (for `via`), the admin
/// (through `A`, which refuses anybody else: [`AdminPerson`] for a page, [`AdminCaller`] for the
/// API) and the headers (for the origin and CSRF checks).
pub(crate) struct Acting<A> {
    pub portal: Arc<Portal>,
    pub client: SocketAddr,
    pub viewer: Viewer,
    pub headers: HeaderMap,
    admin: PhantomData<A>,
}

/// A page's admin action.
pub(crate) type PageAct = Acting<AdminPerson>;
/// An API admin action.
pub(crate) type ApiAct = Acting<AdminCaller>;

impl<A> FromRequestParts<Arc<Portal>> for Acting<A>
where
    A: FromRequestParts<Arc<Portal>, Rejection = Response> + AdminViewer + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<Acting<A>, Response> {
        let viewer = A::from_request_parts(parts, portal).await?.viewer();
        let ConnectInfo(client) = ConnectInfo::<SocketAddr>::from_request_parts(parts, portal)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Acting {
            portal: portal.clone(),
            client,
            viewer,
            headers: parts.headers.clone(),
            admin: PhantomData,
        })
    }
}

/// A principal as the admin pages list it.
pub(crate) struct PrincipalView {
    pub name: String,
    pub role: &'static str,
    pub tier: &'static str,
    pub groups: Vec<String>,
    pub enabled: bool,
    /// A guest's sponsor; empty for others.
    pub sponsor: String,
    /// A guest's expiry; empty for others.
    pub expires: String,
}

/// Every principal, guests with their sponsor and expiry.
pub(crate) async fn principals(portal: &Portal) -> Result<Vec<PrincipalView>, PortalError> {
    let (rows, guests) = portal
        .with_store(|s| Ok((s.principals()?, s.guests()?)))
        .await?;
    let guests: HashMap<String, GuestRow> =
        guests.into_iter().map(|g| (g.name.clone(), g)).collect();
    Ok(rows
        .into_iter()
        .map(|p| {
            let g = guests.get(&p.name);
            PrincipalView {
                role: p.role.as_str(),
                tier: p.tier.as_str(),
                groups: p.groups,
                enabled: !p.disabled,
                sponsor: g.map(|g| g.sponsor.clone()).unwrap_or_default(),
                expires: g.map(|g| format_ts(g.expires_us)).unwrap_or_default(),
                name: p.name,
            }
        })
        .collect())
}

pub(crate) fn principal_json(p: &PrincipalView) -> serde_json::Value {
    let or_null = |s: &str| (!s.is_empty()).then(|| s.to_string());
    serde_json::json!({
        "name": p.name,
        "role": p.role,
        "tier": p.tier,
        "groups": p.groups,
        "enabled": p.enabled,
        "sponsor": or_null(&p.sponsor),
        "expires": or_null(&p.expires),
    })
}

/// One principal, as listed.
pub(crate) async fn principal(
    portal: &Portal,
    name: &str,
) -> Result<Option<PrincipalView>, PortalError> {
    Ok(principals(portal)
        .await?
        .into_iter()
        .find(|p| p.name == name))
}

/// Every approver scope: `(approver, scope)`, sorted.
pub(crate) async fn approvers(portal: &Portal) -> Result<Vec<(String, String)>, PortalError> {
    portal.with_store(|s| s.approver_scopes()).await
}

pub(crate) fn approver_json((approver, scope): &(String, String)) -> serde_json::Value {
    serde_json::json!({ "approver": approver, "scope": scope })
}

/// A guest as listed.
pub(crate) struct GuestView {
    pub name: String,
    pub sponsor: String,
    pub tier: String,
    pub expires: String,
    pub enabled: bool,
}

pub(crate) async fn guests(portal: &Portal) -> Result<Vec<GuestView>, PortalError> {
    let rows = portal.with_store(|s| s.guests()).await?;
    Ok(rows.into_iter().map(|g| guest_view(&g)).collect())
}

pub(crate) fn guest_view(g: &GuestRow) -> GuestView {
    GuestView {
        name: g.name.clone(),
        sponsor: g.sponsor.clone(),
        tier: g.tier.clone(),
        expires: format_ts(g.expires_us),
        enabled: !g.disabled,
    }
}

pub(crate) fn guest_json(g: &GuestView) -> serde_json::Value {
    serde_json::json!({
        "name": g.name,
        "sponsor": g.sponsor,
        "tier": g.tier,
        "expires": g.expires,
        "enabled": g.enabled,
    })
}

/// A group as the admin pages list it.
pub(crate) struct GroupView {
    pub name: String,
    pub members: Vec<String>,
}

/// Every group with its members, sorted by name.
pub(crate) async fn groups(portal: &Portal) -> Result<Vec<GroupView>, PortalError> {
    let rows = portal.with_store(|s| s.groups()).await?;
    Ok(rows
        .into_iter()
        .map(|g| GroupView {
            name: g.name,
            members: g.members,
        })
        .collect())
}

pub(crate) fn group_json(g: &GroupView) -> serde_json::Value {
    serde_json::json!({ "name": g.name, "member_count": g.members.len(), "members": g.members })
}

/// A service-account token as listed (never the token itself).
pub(crate) struct TokenView {
    pub id: i64,
    pub principal: String,
    pub label: String,
    pub created_by: String,
    pub created: String,
    /// Empty: never.
    pub expires: String,
    /// Empty: never used.
    pub last_used: String,
    /// Empty: not revoked.
    pub revoked: String,
    pub live: bool,
}

pub(crate) fn token_view(t: &TokenRow, now_us: i64) -> TokenView {
    let ts = |v: Option<i64>| v.map(format_ts).unwrap_or_default();
    TokenView {
        id: t.id,
        principal: t.principal.clone(),
        label: t.label.clone(),
        created_by: t.created_by.clone(),
        created: format_ts(t.created_us),
        expires: ts(t.expires_us),
        last_used: ts(t.last_used_us),
        revoked: ts(t.revoked_us),
        live: t.is_live(now_us),
    }
}

pub(crate) async fn tokens(portal: &Portal) -> Result<Vec<TokenView>, PortalError> {
    let now = portal.now_us();
    let rows = portal.with_store(|s| s.tokens(None)).await?;
    Ok(rows.iter().map(|t| token_view(t, now)).collect())
}

pub(crate) fn token_json(t: &TokenView) -> serde_json::Value {
    let or_null = |s: &str| (!s.is_empty()).then(|| s.to_string());
    serde_json::json!({
        "id": t.id,
        "principal": t.principal,
        "label": t.label,
        "created_by": t.created_by,
        "created": t.created,
        "expires": or_null(&t.expires),
        "last_used": or_null(&t.last_used),
        "revoked": or_null(&t.revoked),
        "live": t.live,
    })
}

/// The running configuration's places and rules, as shown (they are edited in files).
pub(crate) struct ConfigView {
    /// `(name, description, time zone, seats)`.
    pub locations: Vec<(String, String, String, String)>,
    /// `(name, location, networks)`.
    pub terminals: Vec<(String, String, String)>,
    /// `(id, effect, reason, file:line)`.
    pub rules: Vec<(String, String, String, String)>,
    /// The configuration's version (a hash of its files).
    pub version: String,
}

pub(crate) fn config_view(portal: &Portal) -> ConfigView {
    let rt = portal.gw.runtime.load();
    let c = &rt.config;
    let places = &c.places;
    let locations = places
        .locations()
        .iter()
        .map(|l| {
            let tz = l.time_zone.iana_name().unwrap_or("UTC").to_string();
            let seats = l.seats.map_or("no limit".to_string(), |s| s.to_string());
            (l.name.to_string(), l.description.clone(), tz, seats)
        })
        .collect();
    let terminals = places
        .terminals()
        .iter()
        .map(|t| {
            let loc = places.location(t.location).map(|l| l.name.to_string());
            let nets: Vec<String> = t.networks.iter().map(ToString::to_string).collect();
            (t.name.to_string(), loc.unwrap_or_default(), nets.join(", "))
        })
        .collect();
    let rules = c
        .rules
        .rules
        .iter()
        .flat_map(|r| r.metas())
        .map(|m| {
            let reason = m.reason.clone().unwrap_or_default();
            let at = format!("{}:{}", m.file, m.line);
            (m.id.clone(), m.effect.as_str().to_string(), reason, at)
        })
        .collect();
    ConfigView {
        locations,
        terminals,
        rules,
        version: c.version.to_string(),
    }
}

pub(crate) fn config_json(v: &ConfigView) -> serde_json::Value {
    let locations: Vec<_> = v
        .locations
        .iter()
        .map(|(name, description, tz, seats)| {
            serde_json::json!({ "name": name, "description": description, "time_zone": tz, "seats": seats })
        })
        .collect();
    let terminals: Vec<_> = v
        .terminals
        .iter()
        .map(|(name, location, networks)| {
            serde_json::json!({ "name": name, "location": location, "networks": networks })
        })
        .collect();
    let rules: Vec<_> = v
        .rules
        .iter()
        .map(|(id, effect, reason, at)| {
            serde_json::json!({ "id": id, "effect": effect, "reason": reason, "at": at })
        })
        .collect();
    serde_json::json!({
        "version": v.version,
        "locations": locations,
        "terminals": terminals,
        "rules": rules,
        "note": "locations, terminals and rules are edited in the configuration files and reloaded with SIGHUP",
    })
}
