//! The portal's pages: the person's own page (`/`), their trail (`/me/audit`), and for admins the
//! people list (`/people`) and someone's trail (`/people/NAME/audit`).
//!
//! Guarantees: a page that is not the login page answers a visitor without a live session with
//! a redirect to `/login` and shows nothing; `/people` answers `403` to everybody but admins, and
//! `/people/NAME/audit` to everybody but admins, NAME, and an approver with a request of NAME's
//! in their review queue; an admin's or approver's look at someone else's trail is recorded (`audit.read`, subject `principal:NAME`, the filters as its
//! detail; [`super::trail::may_read`]) before the page is sent, and a look that cannot be recorded
//! is not shown.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Weekday;
use places::Unregistered;

use super::session::{Person, Viewer};
use super::trail::{self, Filters, TrailParams, DECISIONS};
use super::views::{forbidden, Nav};
use super::{html, Portal, PortalError};
use crate::store::{AuditQuery, AuditRow, PrincipalRow, TrailEvent};

/// An event as a row of a page's table.
pub(crate) struct EventView {
    pub time: String,
    pub method: String,
    pub destination: String,
    pub decision: String,
    pub rule: String,
    pub status: String,
    pub place: String,
    /// The request form for this destination: set on the person's own refusals.
    pub ask: Option<String>,
    /// The access grant that allowed the event, and its purpose: `(id, purpose)`.
    pub grant: Option<(i64, String)>,
}

impl EventView {
    fn of(r: &AuditRow) -> EventView {
        EventView {
            time: trail::format_ts(r.ts_us),
            method: r.method.clone(),
            destination: r.destination.clone(),
            decision: r.decision.clone(),
            rule: r.rule.clone(),
            status: if r.status == 0 {
                "-".into()
            } else {
                r.status.to_string()
            },
            place: match (&r.terminal, &r.location) {
                (Some(t), Some(l)) => format!("{t} ({l})"),
                _ => String::new(),
            },
            ask: None,
            grant: None,
        }
    }

    /// An event with the purpose of the grant that allowed it, shown next to the traffic.
    pub(crate) fn traced(e: &TrailEvent) -> EventView {
        EventView {
            grant: e
                .row
                .grant_id
                .map(|id| (id, e.purpose.clone().unwrap_or_default())),
            ..EventView::of(&e.row)
        }
    }

    /// A refusal of the person's own, with the link that asks for its destination (not for a
    /// refusal about the account or its sign-in, which no grant changes).
    fn refusal(r: &AuditRow) -> EventView {
        let mut v = EventView::of(r);
        if askable(r) {
            v.ask = Some(crate::asking::form_link("", &r.destination));
        }
        v
    }
}

/// Whether a grant could change refusal `r`: a refusal of its destination, not one about the
/// account or its sign-in.
pub(crate) fn askable(r: &AuditRow) -> bool {
    let about_account = r.rule == "principal-disabled" || r.rule.starts_with("auth");
    r.decision == "deny" && !about_account
}

/// A location as the person's page shows it.
pub(crate) struct PlaceView {
    pub name: String,
    pub description: String,
    pub open_now: bool,
    /// `(weekday, hours)` lines; empty when the location is always open.
    pub hours: Vec<(String, String)>,
    pub seats: String,
    pub terminals: Vec<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Option<Nav>,
    me: PrincipalRow,
    tier: String,
    /// What the tier lets the person reach, in a sentence.
    tier_meaning: &'static str,
    places: Vec<PlaceView>,
    unregistered: String,
    refusals: Vec<EventView>,
    recent: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "trail.html")]
struct TrailPage {
    nav: Option<Nav>,
    /// Whose trail.
    whose: String,
    own: bool,
    base: String,
    params: TrailParams,
    decisions: [&'static str; 4],
    error: Option<String>,
    events: Vec<EventView>,
    query: String,
    page: u64,
    more: bool,
}

#[derive(Template)]
#[template(path = "people.html")]
struct People {
    nav: Option<Nav>,
    people: Vec<PersonView>,
}

/// A principal as the people list shows it.
pub(crate) struct PersonView {
    pub name: String,
    pub role: &'static str,
    pub tier: &'static str,
    pub groups: String,
    pub disabled: bool,
    /// The path of their trail.
    pub trail: String,
}

/// How far back the person's page (and `GET /api/v1/me/refusals`) lists refusals.
pub(crate) const REFUSALS_SINCE_HOURS: i64 = 6;

/// `name`'s newest 20 refusals of the last [`REFUSALS_SINCE_HOURS`] hours before `now`, oldest
/// first.
pub(crate) async fn refusals_of(
    portal: &Portal,
    name: &str,
    now: i64,
) -> Result<Vec<AuditRow>, PortalError> {
    let name = name.to_string();
    portal
        .with_store(move |s| {
            s.audit(&AuditQuery {
                principal: Some(name),
                decision: Some("deny".into()),
                since_us: Some(refusals_since(now)),
                limit: Some(20),
                ..AuditQuery::default()
            })
        })
        .await
}

/// Where the refusals listed at `now` start.
pub(crate) fn refusals_since(now: i64) -> i64 {
    now - REFUSALS_SINCE_HOURS * 3_600_000_000
}

/// `GET /`: who the person is, where and when they may browse, their recent refusals and trail.
pub(crate) async fn home(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    let now = portal.now_us();
    let name = viewer.name().to_string();
    let refused = refusals_of(&portal, &name, now).await?;
    let recent = portal
        .with_store(move |s| {
            s.audit_trail(&AuditQuery {
                principal: Some(name),
                limit: Some(20),
                ..AuditQuery::default()
            })
        })
        .await?;
    let newest_first = |rows: Vec<TrailEvent>| rows.iter().rev().map(EventView::traced).collect();
    let runtime = portal.gw.runtime.load();
    let (places, unregistered) = places_of(&runtime.config.places, portal.gw.clock.now());
    let page = Home {
        nav: Nav::of(&viewer),
        tier: viewer.principal.tier.to_string(),
        tier_meaning: tier_meaning(viewer.principal.tier),
        me: viewer.principal,
        places,
        unregistered,
        refusals: refused.iter().rev().map(EventView::refusal).collect(),
        recent: newest_first(recent),
    };
    Ok(html(StatusCode::OK, &page))
}

/// What a tier lets a person reach (the rules of the configuration may open or close more).
fn tier_meaning(tier: policy::Tier) -> &'static str {
    match tier {
        policy::Tier::Open => "everything except what is refused for everyone",
        policy::Tier::Filtered => "only the sites on the lists your organisation allows",
        policy::Tier::Intranet => "only your organisation's internal sites",
        policy::Tier::None => "nothing: browsing through gatehouse is not part of this account",
    }
}

/// The configured locations, their hours and terminals, and what an unregistered address gets.
fn places_of(places: &places::Places, now: jiff::Timestamp) -> (Vec<PlaceView>, String) {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let views = places
        .locations()
        .iter()
        .enumerate()
        .map(|(i, l)| PlaceView {
            name: l.name.to_string(),
            description: l.description.clone(),
            open_now: l.is_open_at(now),
            hours: l.hours.as_ref().map_or_else(Vec::new, |h| {
                days.iter()
                    .map(|d| {
                        let ranges: Vec<String> = h.day(*d).iter().map(|r| r.to_string()).collect();
                        let text = if ranges.is_empty() {
                            "closed".to_string()
                        } else {
                            ranges.join(", ")
                        };
                        (places::weekday_name(*d).to_string(), text)
                    })
                    .collect()
            }),
            seats: l.seats.map_or("no limit".into(), |s| s.to_string()),
            terminals: places
                .terminals()
                .iter()
                .filter(|t| t.location.0 == i)
                .map(|t| t.name.to_string())
                .collect(),
        })
        .collect();
    let unregistered = match places.unregistered() {
        Unregistered::Allow => "decided by your tier".to_string(),
        Unregistered::Refuse => "refused: browse from a registered terminal".to_string(),
        Unregistered::Cap(tier) => format!("tier `{tier}` at most"),
    };
    (views, unregistered)
}

/// `GET /me/audit`: the person's own trail, filtered and paginated.
pub(crate) async fn my_trail(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
    Query(params): Query<TrailParams>,
) -> Result<Response, PortalError> {
    let whose = viewer.name().to_string();
    trail_page(&portal, &viewer, whose, params).await
}

/// `GET /people/NAME/audit`: someone's trail, for an admin or an approver reviewing NAME's
/// request (the look is recorded), or for NAME.
pub(crate) async fn their_trail(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(name): Path<String>,
    Query(params): Query<TrailParams>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = trail::may_read(&portal, &viewer, &name, &params, client, "page").await?
    {
        return Ok(refusal);
    }
    trail_page(&portal, &viewer, name, params).await
}

async fn trail_page(
    portal: &Portal,
    viewer: &Viewer,
    whose: String,
    params: TrailParams,
) -> Result<Response, PortalError> {
    let own = whose == viewer.name();
    let checked = params.check(portal.now_us());
    let (filters, error) = match checked {
        Ok(f) => (f, None),
        Err(e) => (Filters::default(), Some(e)),
    };
    let (rows, more) = match error {
        None => trail::page_of(portal, &whose, &filters).await?,
        Some(_) => (Vec::new(), false),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = TrailPage {
        nav: Nav::of(viewer),
        base: if own {
            "/me/audit".to_string()
        } else {
            format!("/people/{}/audit", path_segment(&whose))
        },
        whose,
        own,
        params,
        decisions: DECISIONS,
        error,
        events: rows.iter().map(EventView::traced).collect(),
        query: filters.query_string(),
        page: filters.page,
        more,
    };
    Ok(html(status, &page))
}

/// A principal's name as one path segment.
pub(crate) fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /people`: every principal, for admins.
pub(crate) async fn people(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    if !viewer.is_admin() {
        return Ok(forbidden(&viewer));
    }
    let people = portal
        .with_store(|s| s.principals())
        .await?
        .into_iter()
        .map(|p| PersonView {
            trail: format!("/people/{}/audit", path_segment(&p.name)),
            role: p.role.as_str(),
            tier: p.tier.as_str(),
            groups: p.groups.join(", "),
            disabled: p.disabled,
            name: p.name,
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &People {
            nav: Nav::of(&viewer),
            people,
        },
    ))
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    nav: Option<Nav>,
}

/// Anything else: `404`.
pub(crate) async fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, &NotFound { nav: None })
}
