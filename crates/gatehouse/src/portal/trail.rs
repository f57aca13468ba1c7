//! A person's audit trail in the portal: the filters (`since`, `until`, `destination`,
//! `decision`, `page`) read from a query string, the store query they make, who may read whose
//! trail ([`may_read`]), the exports (`/me/audit.csv|.jsonl`, `/people/NAME/audit.csv|.jsonl`),
//! and the trail's forms — an event as JSON (the API's own format, built by hand: the portal owns
//! it), CSV and JSON lines. Every form shows an event allowed by an access grant with the grant's
//! id and purpose (read in the same store query as the events, [`AuditStore::audit_trail`]).
//!
//! Guarantees: every query this file builds names exactly one principal, the viewer's or the one
//! [`reading`] let an admin or an approver read (after recording the look, [`record_look`]); an export holds exactly the events
//! the filters match, oldest first, up to the newest [`EXPORT_MAX`]; a CSV cell that a spreadsheet
//! would run as a formula is prefixed with `'`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::{Person, Viewer};
use super::views::forbidden;
use super::{via, Portal, PortalError};
#[cfg(doc)]
use crate::store::AuditStore;
use crate::store::{AuditQuery, AuditRow, TrailEvent};

/// Events on one page of the trail.
pub(crate) const PAGE: u64 = 50;
/// The most events one export holds (the newest of those that match).
pub(crate) const EXPORT_MAX: u64 = 100_000;

/// The trail's filters as a query string gives them (empty fields are no filter).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrailParams {
    /// Events at or after this time: a date (`2026-12-07`, midnight UTC), a date and time
    /// (`2026-12-07T10:00`, UTC), an RFC 3339 time, or an age (`15m`, `2h`, `7d`).
    #[serde(default)]
    #[param(required = false)]
    pub since: String,
    /// Events before this time (same forms as `since`).
    #[serde(default)]
    #[param(required = false)]
    pub until: String,
    /// The destination host or a parent domain (`example.org` matches `www.example.org`).
    #[serde(default)]
    #[param(required = false)]
    pub destination: String,
    /// `allow`, `deny`, `error` or `action`.
    #[serde(default)]
    #[param(required = false)]
    pub decision: String,
    /// 1 is the newest page (50 events a page).
    #[serde(default)]
    #[param(minimum = 1)]
    pub page: Option<u64>,
}

/// The filters, checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    pub destination: Option<String>,
    pub decision: Option<String>,
    pub page: u64,
}

/// The decisions an event can have.
pub(crate) const DECISIONS: [&str; 4] = ["allow", "deny", "error", "action"];

impl TrailParams {
    /// Check the filters; an error is a message for the person who typed them.
    pub fn check(&self, now_us: i64) -> Result<Filters, String> {
        let time = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| parse_when(s, now_us)).transpose()
        };
        let since_us = time(&self.since)?;
        let until_us = time(&self.until)?;
        if let (Some(s), Some(u)) = (since_us, until_us) {
            if u < s {
                return Err("`until` is before `since`: nothing can match".into());
            }
        }
        let decision = match self.decision.trim() {
            "" => None,
            d if DECISIONS.contains(&d) => Some(d.to_string()),
            d => {
                return Err(format!(
                    "`{d}` is not a decision; use one of `allow`, `deny`, `error`, `action`"
                ))
            }
        };
        let destination = Some(
            self.destination
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
        )
        .filter(|d| !d.is_empty());
        Ok(Filters {
            since_us,
            until_us,
            destination,
            decision,
            page: self.page.unwrap_or(1).max(1),
        })
    }
}

impl Filters {
    /// The store query for `principal`'s events under these filters, the newest `limit`.
    pub fn query(&self, principal: &str, limit: u64) -> AuditQuery {
        AuditQuery {
            principal: Some(principal.to_string()),
            destination: self.destination.clone(),
            decision: self.decision.clone(),
            since_us: self.since_us,
            until_us: self.until_us,
            limit: Some(limit),
            ..AuditQuery::default()
        }
    }

    /// The query string of these filters (without the page), for links and exports.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: String| {
            parts.push(format!("{k}={}", encode(&v)));
        };
        if let Some(s) = self.since_us {
            add("since", format_ts(s));
        }
        if let Some(u) = self.until_us {
            add("until", format_ts(u));
        }
        if let Some(d) = &self.destination {
            add("destination", d.clone());
        }
        if let Some(d) = &self.decision {
            add("decision", d.clone());
        }
        parts.join("&")
    }
}

/// Percent-encode a query string value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One page of `principal`'s trail, newest first, and whether older events exist.
pub(crate) async fn page_of(
    portal: &Portal,
    principal: &str,
    filters: &Filters,
) -> Result<(Vec<TrailEvent>, bool), PortalError> {
    // The newest `page × PAGE + 1` events, of which this page is the oldest `PAGE` (plus one to
    // know whether an older page exists).
    let q = filters.query(
        principal,
        filters.page.saturating_mul(PAGE).saturating_add(1),
    );
    let mut rows = portal.with_store(move |s| s.audit_trail(&q)).await?;
    rows.reverse();
    let skip = ((filters.page - 1) * PAGE) as usize;
    let more = rows.len() as u64 > filters.page * PAGE;
    let rows = rows.into_iter().skip(skip).take(PAGE as usize).collect();
    Ok((rows, more))
}

/// A time a person typed: a date (`2026-12-07`, midnight UTC), a date and time without an offset
/// as a browser's `datetime-local` field sends it (UTC), an RFC 3339 time, or an age counted back
/// from now (`90s`, `15m`, `2h`, `7d`).
pub(crate) fn parse_when(s: &str, now_us: i64) -> Result<i64, String> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    let utc = |dt: jiff::civil::DateTime| {
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_microsecond())
            .map_err(|e| format!("`{s}`: {e}"))
    };
    if s.len() == 10 {
        if let Ok(d) = s.parse::<jiff::civil::Date>() {
            return utc(d.to_datetime(jiff::civil::Time::midnight()));
        }
    }
    if s.contains('T') {
        if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
            return utc(dt);
        }
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if secs > 0 => Ok(now_us.saturating_sub(n.saturating_mul(secs * 1_000_000))),
        _ => Err(format!(
            "`{s}` is not a time: use a date (`2026-12-07`), a date and time (`2026-12-07T10:00`, UTC), an RFC 3339 time or an age (`15m`, `2h`, `3d`)"
        )),
    }
}

/// A time as the trail shows it: RFC 3339, UTC, milliseconds.
pub(crate) use crate::clock::format_ts;

/// An event as the API and the JSON lines export give it. Field names are a stable format.
pub(crate) fn event_json(e: &TrailEvent) -> serde_json::Value {
    let r = &e.row;
    serde_json::json!({
        "id": r.id,
        "time": format_ts(r.ts_us),
        "principal": r.principal,
        "client": r.client,
        "method": r.method,
        "destination": r.destination,
        "url": r.url,
        "decision": r.decision,
        "rule": r.rule,
        "status": r.status,
        "bytes_up": r.bytes_up,
        "bytes_down": r.bytes_down,
        "duration_us": r.duration_us,
        "stage": r.stage,
        "error": r.error,
        "terminal": r.terminal,
        "location": r.location,
        "session": r.session_id,
        "groups": r.groups,
        "tier": r.tier,
        "role": r.role,
        "revoked_by": r.revoked_by,
        "grant_id": r.grant_id,
        "purpose": e.purpose,
    })
}

/// The CSV export's columns, in order.
const CSV_HEAD: [&str; 16] = [
    "id",
    "time",
    "client",
    "method",
    "destination",
    "url",
    "decision",
    "rule",
    "status",
    "bytes_up",
    "bytes_down",
    "error",
    "terminal",
    "location",
    "grant_id",
    "purpose",
];

fn csv_row(e: &TrailEvent) -> [String; 16] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let r = &e.row;
    [
        r.id.to_string(),
        format_ts(r.ts_us),
        r.client.clone(),
        r.method.clone(),
        r.destination.clone(),
        opt(&r.url),
        r.decision.clone(),
        r.rule.clone(),
        r.status.to_string(),
        r.bytes_up.to_string(),
        r.bytes_down.to_string(),
        opt(&r.error),
        opt(&r.terminal),
        opt(&r.location),
        r.grant_id.map(|g| g.to_string()).unwrap_or_default(),
        opt(&e.purpose),
    ]
}

/// One CSV cell (RFC 4180 quoting), defused for spreadsheets.
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The CSV form of `rows` (a head line, then one line per event, CRLF line ends).
pub(crate) fn csv(rows: &[TrailEvent]) -> String {
    let mut out = CSV_HEAD.join(",");
    out.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = csv_row(r).iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The JSON lines form of `rows`.
pub(crate) fn jsonl(rows: &[TrailEvent]) -> String {
    rows.iter()
        .map(|r| format!("{}\n", event_json(r)))
        .collect()
}

/// The form of an export.
#[derive(Clone, Copy)]
enum Export {
    Csv,
    Jsonl,
}

/// What `viewer` may do with `whose`'s records.
pub(crate) enum Reading {
    /// They are the viewer's own.
    Own,
    /// A look at someone else's, to be recorded first: an admin's, or an approver's at a person
    /// whose request waits in their review queue.
    Look,
    /// Neither an admin nor an approver: `403`.
    NotReviewer,
    /// An approver with no request of `whose` in their queue: answered as if nothing were there
    /// (the API's `404`), so the answer does not tell whether `whose` exists.
    Unseen,
}

/// Whether `viewer` may read `whose`'s trail: their own; anyone's for an admin; for an approver,
/// the trail of a person with a request in the approver's review queue (a request in their
/// approver scopes, waiting, not their own, not reviewed by them yet).
pub(crate) async fn reading(
    portal: &Portal,
    viewer: &Viewer,
    whose: &str,
) -> Result<Reading, PortalError> {
    if whose == viewer.name() {
        return Ok(Reading::Own);
    }
    if viewer.is_admin() {
        return Ok(Reading::Look);
    }
    if !viewer.reviews() {
        return Ok(Reading::NotReviewer);
    }
    let (name, now, whose) = (
        viewer.name().to_string(),
        portal.now_us(),
        whose.to_string(),
    );
    let queued = portal
        .with_grants(move |s| s.review_queue(&name, now))
        .await?
        .unwrap_or_default();
    Ok(match queued.iter().any(|r| r.principal == whose) {
        true => Reading::Look,
        false => Reading::Unseen,
    })
}

/// Record `viewer`'s look at `whose`'s trail (`what`: `page`, `csv`, `jsonl`, `api`) as
/// `audit.read`, with the filters of `params` in its detail, before anything is sent.
pub(crate) async fn record_look(
    portal: &Portal,
    viewer: &Viewer,
    whose: &str,
    params: &TrailParams,
    client: SocketAddr,
    what: &str,
) -> Result<(), PortalError> {
    let filters = params.check(portal.now_us()).map(|f| f.query_string()).ok();
    let detail = match (what, filters.filter(|f| !f.is_empty())) {
        ("page", f) => f,
        ("api", Some(f)) => Some(format!("api {f}")),
        ("api", None) => Some("api".to_string()),
        (what, Some(f)) => Some(format!("{what} export {f}")),
        (what, None) => Some(format!("{what} export")),
    };
    let row = AuditRow::action(
        portal.now_us(),
        viewer.name(),
        &via(client),
        "audit.read",
        &format!("principal:{whose}"),
        detail,
    );
    portal.record(row).await
}

/// Whether `viewer` may read `whose`'s records on a page or an export ([`reading`]); a look at
/// someone else's (`what`: `page`, `csv`, `jsonl`) is recorded as `audit.read` first. `Some` is
/// the answer instead: `403` for anybody else.
pub(crate) async fn may_read(
    portal: &Portal,
    viewer: &Viewer,
    whose: &str,
    params: &TrailParams,
    client: SocketAddr,
    what: &str,
) -> Result<Option<Response>, PortalError> {
    match reading(portal, viewer, whose).await? {
        Reading::Own => Ok(None),
        Reading::Look => {
            record_look(portal, viewer, whose, params, client, what).await?;
            Ok(None)
        }
        Reading::NotReviewer | Reading::Unseen => Ok(Some(forbidden(viewer))),
    }
}

/// `GET /me/audit.csv`.
pub(crate) async fn my_csv(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
    Query(p): Query<TrailParams>,
) -> Result<Response, PortalError> {
    let whose = viewer.name().to_string();
    export(&portal, &whose, p, Export::Csv).await
}

/// `GET /me/audit.jsonl`.
pub(crate) async fn my_jsonl(
    State(portal): State<Arc<Portal>>,
    Person(viewer): Person,
    Query(p): Query<TrailParams>,
) -> Result<Response, PortalError> {
    let whose = viewer.name().to_string();
    export(&portal, &whose, p, Export::Jsonl).await
}

/// `GET /people/NAME/audit.csv` (an admin, recorded; or NAME).
pub(crate) async fn their_csv(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(whose): Path<String>,
    Query(p): Query<TrailParams>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = may_read(&portal, &viewer, &whose, &p, client, "csv").await? {
        return Ok(refusal);
    }
    export(&portal, &whose, p, Export::Csv).await
}

/// `GET /people/NAME/audit.jsonl` (an admin, recorded; or NAME).
pub(crate) async fn their_jsonl(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(whose): Path<String>,
    Query(p): Query<TrailParams>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = may_read(&portal, &viewer, &whose, &p, client, "jsonl").await? {
        return Ok(refusal);
    }
    export(&portal, &whose, p, Export::Jsonl).await
}

/// `whose`'s trail under the filters `p`, as a download.
async fn export(
    portal: &Portal,
    whose: &str,
    p: TrailParams,
    form: Export,
) -> Result<Response, PortalError> {
    let filters = match p.check(portal.now_us()) {
        Ok(f) => f,
        Err(message) => {
            return Ok((StatusCode::BAD_REQUEST, format!("{message}\n")).into_response())
        }
    };
    let q = filters.query(whose, EXPORT_MAX);
    let rows = portal.with_store(move |s| s.audit_trail(&q)).await?;
    let (body, kind, ext) = match form {
        Export::Csv => (csv(&rows), "text/csv; charset=utf-8", "csv"),
        Export::Jsonl => (jsonl(&rows), "application/x-ndjson", "jsonl"),
    };
    let disposition = format!(
        "attachment; filename=\"gatehouse-audit-{}.{ext}\"",
        whose.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_times_and_filters_are_checked() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_when("15m", now), Ok(now - 900_000_000));
        assert_eq!(parse_when("1970-01-02", now), Ok(86_400_000_000));
        assert_eq!(parse_when("1970-01-01T00:01", now), Ok(60_000_000));
        assert_eq!(parse_when("1970-01-01T01:00:01+01:00", now), Ok(1_000_000));
        assert!(parse_when("yesterday", now).is_err());
        let p = TrailParams {
            decision: "maybe".into(),
            ..Default::default()
        };
        assert!(p.check(now).is_err());
        let p = TrailParams {
            since: "2h".into(),
            until: "3h".into(),
            ..Default::default()
        };
        assert!(p.check(now).unwrap_err().contains("before"));
        let p = TrailParams {
            destination: " Example.COM. ".into(),
            decision: "deny".into(),
            ..Default::default()
        };
        let f = p.check(now).unwrap();
        assert_eq!(f.query_string(), "destination=example.com&decision=deny");
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
    }
}
