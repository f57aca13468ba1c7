//! The facts a decision is made on — who asks, from where, when, for what — gathered in one place
//! for the gateway (each request) and for `gatehouse policy` (a case, an explanation, a replayed
//! event), so that both decide the same request the same way.
//!
//! - [`PlaceFacts`]: the terminal and location of a client address (or a terminal named in a case),
//!   whether the location is open, its local time and the schedules active at that instant;
//! - [`inputs`]: `policy::Inputs` over those facts, the principal and the canonical destination;
//! - [`explain`], [`check_rules`], [`replay_row`]: what the `policy` commands print.
//!
//! The time always comes from the caller: the gateway passes its injected clock's reading, the
//! commands a time given on the command line or recorded with an event.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use destination::{AbsoluteUri, Authority};
use jiff::Timestamp;
use lists::{CategorySet, Lists};
use places::{LocationId, Places};
use policy::{Inputs, Place, SessionFacts, Tier};

use crate::config::Config;
use crate::store::{AuditRow, SessionStore, Store};

/// Where a request comes from, as a command names it.
#[derive(Debug, Clone, Copy)]
pub enum From<'a> {
    Address(IpAddr),
    Terminal(&'a str),
}

/// Where and when a request is made: owned, so that `policy::Place` can borrow from it.
#[derive(Debug, Clone)]
pub struct PlaceFacts {
    pub terminal: Option<Arc<str>>,
    pub location: Option<Arc<str>>,
    /// The location's index in the configuration's places (seats, idle timeout, hours).
    pub location_id: Option<LocationId>,
    pub open: bool,
    pub local: policy::LocalTime,
    /// The named schedules active now, sorted.
    pub schedules: Arc<[Arc<str>]>,
}

/// The places' calendars at one minute: every location's local time and whether it is open, the
/// local time of unregistered addresses, and the schedules active. Hours, closed dates and
/// time-zone offsets change only at whole minutes, so within one minute of the clock these are
/// the same for every request: the gateway computes them once a minute ([`MinuteCache`]) instead
/// of converting time zones on every request.
struct Minute {
    minute: i64,
    /// By `LocationId`.
    locations: Vec<(policy::LocalTime, bool)>,
    unnamed: policy::LocalTime,
    schedules: Arc<[Arc<str>]>,
}

impl Minute {
    fn at(places: &Places, now: Timestamp) -> Minute {
        Minute {
            minute: now.as_second().div_euclid(60),
            locations: places
                .locations()
                .iter()
                .map(|l| {
                    let dt = l.time_zone.to_datetime(now);
                    let open = l.calendar().open_at_local(dt);
                    (local_time(places::LocalTime::of(dt)), open)
                })
                .collect(),
            unnamed: local_time(places.unnamed_local(now)),
            schedules: places.active_schedules(now).into(),
        }
    }
}

/// The last [`Minute`] computed, for one configuration (it lives in the runtime, so a reload
/// starts afresh). Reading it takes no lock.
#[derive(Default)]
pub struct MinuteCache {
    last: arc_swap::ArcSwapOption<Minute>,
}

impl MinuteCache {
    fn get(&self, places: &Places, now: Timestamp) -> Arc<Minute> {
        let minute = now.as_second().div_euclid(60);
        if let Some(m) = self.last.load_full() {
            if m.minute == minute {
                return m;
            }
        }
        let m = Arc::new(Minute::at(places, now));
        self.last.store(Some(m.clone()));
        m
    }
}

impl PlaceFacts {
    /// The facts for a request from `ip` at `now`.
    pub fn at(places: &Places, ip: IpAddr, now: Timestamp) -> PlaceFacts {
        let at = places.place_at(ip, now);
        PlaceFacts {
            terminal: at.terminal.map(|t| t.name.clone()),
            location: at.location.map(|l| l.name.clone()),
            location_id: at.terminal.map(|t| t.location),
            open: at.open,
            local: local_time(at.local),
            schedules: places.active_schedules(now).into(),
        }
    }

    /// [`PlaceFacts::at`], with the calendars read from this minute's `cache`.
    pub fn at_cached(
        places: &Places,
        cache: &MinuteCache,
        ip: IpAddr,
        now: Timestamp,
    ) -> PlaceFacts {
        let minute = cache.get(places, now);
        let terminal = places
            .terminal_of(ip)
            .map(|(t, _)| t)
            .filter(|t| t.location.0 < minute.locations.len());
        let (local, open) = match terminal {
            Some(t) => minute.locations[t.location.0],
            None => (minute.unnamed, true),
        };
        PlaceFacts {
            terminal: terminal.map(|t| t.name.clone()),
            location: terminal
                .and_then(|t| places.location(t.location))
                .map(|l| l.name.clone()),
            location_id: terminal.map(|t| t.location),
            open,
            local,
            schedules: minute.schedules.clone(),
        }
    }

    /// The facts for a request from the terminal named `name` at `now`.
    pub fn at_terminal(places: &Places, name: &str, now: Timestamp) -> Option<PlaceFacts> {
        let (terminal, location) = places.terminal_by_name(name)?;
        Some(PlaceFacts {
            terminal: Some(terminal.name.clone()),
            location: Some(location.name.clone()),
            location_id: Some(terminal.location),
            open: location.is_open_at(now),
            local: local_time(location.local_at(now)),
            schedules: places.active_schedules(now).into(),
        })
    }

    /// The facts for a request `from` an address or a terminal, or an error naming an unknown terminal.
    pub fn of(places: &Places, from: From<'_>, now: Timestamp) -> anyhow::Result<PlaceFacts> {
        match from {
            From::Address(ip) => Ok(PlaceFacts::at(places, ip, now)),
            From::Terminal(name) => PlaceFacts::at_terminal(places, name, now)
                .ok_or_else(|| anyhow!("`{name}` is no terminal of this configuration")),
        }
    }

    /// The place as the decision reads it, with the session held at the terminal.
    pub fn place(&self, session: Option<SessionFacts>) -> Place<'_> {
        Place {
            terminal: self.terminal.as_deref(),
            location: self.location.as_deref(),
            open: self.open,
            local: self.local,
            schedules: &self.schedules,
            session,
        }
    }
}

/// `t` as a person at `location` reads it on a page: `18:00 on Mon 07 Dec (CET)`.
pub fn at_location(t: Timestamp, location: &places::Location) -> String {
    t.to_zoned(location.time_zone.clone())
        .strftime("%H:%M on %a %d %b (%Z)")
        .to_string()
}

/// The places crate's local time in the form the decision reads.
fn local_time(l: places::LocalTime) -> policy::LocalTime {
    let weekday = match l.weekday {
        jiff::civil::Weekday::Monday => policy::Weekday::Mon,
        jiff::civil::Weekday::Tuesday => policy::Weekday::Tue,
        jiff::civil::Weekday::Wednesday => policy::Weekday::Wed,
        jiff::civil::Weekday::Thursday => policy::Weekday::Thu,
        jiff::civil::Weekday::Friday => policy::Weekday::Fri,
        jiff::civil::Weekday::Saturday => policy::Weekday::Sat,
        jiff::civil::Weekday::Sunday => policy::Weekday::Sun,
    };
    policy::LocalTime {
        weekday,
        minute_of_day: l.minute_of_day,
        date: (l.date.year(), l.date.month(), l.date.day()),
    }
}

/// Who asks, as the decision reads it.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub name: &'a str,
    pub groups: &'a [Arc<str>],
    pub tier: Tier,
    pub role: &'a str,
    pub disabled: bool,
}

/// The decision's inputs for a request of `method` to `authority` (a tunnel when `connect`).
pub fn inputs<'a>(
    lists: &Lists,
    who: Who<'a>,
    method: &'a str,
    authority: &'a Authority,
    connect: bool,
    place: &'a PlaceFacts,
    session: Option<SessionFacts>,
) -> Inputs<'a> {
    let host = &authority.host;
    let categories = match host.as_domain() {
        Some(d) => lists.lookup(d.as_str()),
        None => CategorySet::default(),
    };
    Inputs {
        principal: who.name,
        groups: who.groups,
        disabled: who.disabled,
        tier: who.tier,
        host,
        port: authority.port,
        connect,
        categories,
        role: who.role,
        method,
        place: place.place(session),
        grants: None,
        now_us: 0,
    }
}

/// A principal as a command describes it (a case, `explain`'s flags, a recorded event).
#[derive(Debug, Clone)]
pub struct Asker {
    pub name: String,
    pub groups: Vec<Arc<str>>,
    pub tier: Tier,
    pub role: &'static str,
}

impl Asker {
    pub fn new(name: &str, groups: &[String], tier: &str, role: &str) -> anyhow::Result<Asker> {
        let tier = Tier::parse(tier).ok_or_else(|| {
            anyhow!("`{tier}` is not a tier (one of `open`, `filtered`, `intranet`, `none`)")
        })?;
        let role = crate::store::Role::parse(role)
            .ok_or_else(|| anyhow!("`{role}` is not a role (`admin`, `approver` or `user`)"))?
            .as_str();
        let mut groups: Vec<Arc<str>> = groups.iter().map(|g| Arc::from(g.as_str())).collect();
        groups.sort();
        groups.dedup();
        Ok(Asker {
            name: name.to_string(),
            groups,
            tier,
            role,
        })
    }

    fn who(&self) -> Who<'_> {
        Who {
            name: &self.name,
            groups: &self.groups,
            tier: self.tier,
            role: self.role,
            disabled: false,
        }
    }
}

/// A request as a command describes it: a method and a target (`http://…`, or `host:port` for
/// `CONNECT`), canonicalised as the gateway does.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub authority: Authority,
    pub connect: bool,
}

impl Request {
    pub fn parse(method: &str, target: &str) -> anyhow::Result<Request> {
        if method == "CONNECT" {
            let authority = Authority::parse(target, None)
                .map_err(|e| anyhow!("`{target}` is not a CONNECT target (`host:port`): {e}"))?;
            return Ok(Request {
                method: method.to_string(),
                authority,
                connect: true,
            });
        }
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            bail!("`{method}` is not a request method");
        }
        let uri = AbsoluteUri::parse(target)
            .map_err(|e| anyhow!("`{target}` is not an http:// URL: {e}"))?;
        Ok(Request {
            method: method.to_string(),
            authority: uri.authority,
            connect: false,
        })
    }
}

/// A time a command names: an RFC 3339 time, or a civil time (`2026-12-07T10:00`) at the place the
/// request comes from (the location's zone; `[places] time_zone` for an unregistered address).
pub fn parse_at(config: &Config, from: &From<'_>, text: &str) -> anyhow::Result<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| {
        anyhow!("`{text}` is not a time: use a local time at the place (`2026-12-07T10:00`) or an RFC 3339 time (`2026-12-07T09:00:00Z`)")
    })?;
    let places = &config.places;
    let zone = match from {
        From::Terminal(name) => places.terminal_by_name(name).map(|(_, l)| &l.time_zone),
        From::Address(ip) => places.terminal_of(*ip).map(|(_, l)| &l.time_zone),
    }
    .unwrap_or(places.default_time_zone());
    Ok(civil.to_zoned(zone.clone())?.timestamp())
}

/// One decision with how it was reached, and the facts it used.
pub struct Explained {
    pub explanation: policy::Explanation,
    pub place: PlaceFacts,
    pub asker: Asker,
    pub request: Request,
    pub categories: Vec<String>,
    pub at: Timestamp,
    /// The access grant that allowed, with its purpose.
    pub grant: Option<(i64, Arc<str>)>,
    rule_id: String,
    /// The location's hours at that time: open until when, or when it opens next.
    hours: String,
}

impl Explained {
    pub fn verdict(&self) -> &'static str {
        self.explanation.decision.verdict.as_str()
    }

    pub fn rule_id(&self) -> &str {
        &self.rule_id
    }

    /// The facts on one line (for a failed case).
    pub fn facts_line(&self) -> String {
        format!(
            "principal={} groups=[{}] tier={} terminal={} location={} open={} local={} {:02}:{:02} schedules=[{}] categories=[{}]",
            self.asker.name,
            join(&self.asker.groups),
            self.asker.tier,
            self.place.terminal.as_deref().unwrap_or("-"),
            self.place.location.as_deref().unwrap_or("-"),
            self.place.open,
            self.place.local.weekday,
            self.place.local.minute_of_day / 60,
            self.place.local.minute_of_day % 60,
            join(&self.place.schedules),
            self.categories.join(","),
        )
    }

    /// The decision, the rules that decided it and the facts used, for a person.
    pub fn report(&self) -> String {
        let e = &self.explanation;
        let d = &e.decision;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "decision: {} by `{}`",
            d.verdict.as_str(),
            self.rule_id
        );
        let _ = writeln!(out, "  reason: {}", d.reason());
        let _ = writeln!(out, "  decided at step: {:?}", e.step);
        if let Some((id, purpose)) = &self.grant {
            let _ = writeln!(out, "  access grant: {id}, purpose: {purpose}");
        }
        if let Some(tier) = &e.tier {
            let _ = writeln!(out, "  {}", tier.why());
        }
        if e.matched.is_empty() {
            let _ = writeln!(out, "rules that matched: none");
        } else {
            let _ = writeln!(out, "rules that matched:");
            for m in &e.matched {
                let _ = writeln!(
                    out,
                    "  {} `{}` ({}:{}){}{}",
                    m.effect().as_str(),
                    m.rule.id,
                    m.rule.file,
                    m.rule.line,
                    if m.decided { ", decided" } else { "" },
                    m.error
                        .as_deref()
                        .map(|err| format!(", error: {err}"))
                        .unwrap_or_default()
                );
            }
        }
        let p = &self.place;
        let _ = writeln!(out, "facts:");
        let _ = writeln!(
            out,
            "  principal: {} (role {}, tier {}, groups [{}])",
            self.asker.name,
            self.asker.role,
            self.asker.tier,
            join(&self.asker.groups)
        );
        let _ = writeln!(
            out,
            "  request: {} {} ({})",
            self.request.method,
            self.request.authority,
            if self.request.connect {
                "tunnel"
            } else {
                "http"
            }
        );
        let _ = writeln!(out, "  categories: [{}]", self.categories.join(", "));
        let _ = writeln!(
            out,
            "  terminal: {}, location: {}",
            p.terminal
                .as_deref()
                .unwrap_or("none (unregistered address)"),
            p.location.as_deref().unwrap_or("-")
        );
        let _ = writeln!(
            out,
            "  time: {} = {} {} {:02}:{:02} local; location {}",
            self.at,
            self.place.local.date_string(),
            p.local.weekday,
            p.local.minute_of_day / 60,
            p.local.minute_of_day % 60,
            if p.open { "open" } else { "closed" }
        );
        let _ = writeln!(out, "  hours: {}", self.hours);
        let _ = writeln!(out, "  schedules active: [{}]", join(&p.schedules));
        out
    }
}

fn join(names: &[Arc<str>]) -> String {
    names
        .iter()
        .map(|n| n.as_ref())
        .collect::<Vec<_>>()
        .join(",")
}

/// Decide `request` by `asker` from `from` at `at` under `config`, explained. `session`: the
/// minutes the principal has held a session at the terminal before this request (`None`: none,
/// as for the first request at a terminal, which takes the seat after its decision). `grants`: the
/// active access grants (from the store), when they are to count.
pub fn explain(
    config: &Config,
    asker: &Asker,
    from: From<'_>,
    at: Timestamp,
    request: &Request,
    (session, grants): (Option<u32>, Option<&access::GrantSet>),
) -> anyhow::Result<Explained> {
    let place = PlaceFacts::of(&config.places, from, at)?;
    let session = match (&place.terminal, session) {
        (Some(_), Some(minutes)) => Some(SessionFacts { id: 0, minutes }),
        _ => None,
    };
    let mut inputs = inputs(
        &config.lists,
        asker.who(),
        &request.method,
        &request.authority,
        request.connect,
        &place,
        session,
    );
    inputs.grants = grants;
    inputs.now_us = at.as_microsecond();
    let explanation = policy::explain(&config.policy, &inputs);
    let grant = explanation
        .decision
        .grant()
        .and_then(|id| grants?.get(id))
        .map(|g| (g.id, g.purpose.clone()));
    let categories = inputs
        .categories
        .iter()
        .map(|c| config.lists.category_name(c).to_string())
        .collect();
    let rule_id = explanation.decision.rule.id(&config.lists);
    let hours = hours_at(config, &place, at);
    Ok(Explained {
        hours,
        explanation,
        categories,
        place,
        asker: asker.clone(),
        request: request.clone(),
        at,
        grant,
        rule_id,
    })
}

/// The location's hours at `at`, in its own time: whether it is open, until when or from when.
fn hours_at(config: &Config, place: &PlaceFacts, at: Timestamp) -> String {
    let Some(location) = place.location_id.and_then(|id| config.places.location(id)) else {
        return "no location (unregistered address)".into();
    };
    let local = |t: Timestamp| {
        t.to_zoned(location.time_zone.clone())
            .strftime("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let state = location.state_at(at);
    match (state.open, state.closes_at, state.opens_at) {
        (true, Some(c), _) => format!("{} is open until {}", location.name, local(c)),
        (true, None, _) => format!("{} is open (no closing within two weeks)", location.name),
        (false, _, Some(o)) => format!("{} is closed; it opens at {}", location.name, local(o)),
        (false, _, None) => format!("{} is closed (no opening within two weeks)", location.name),
    }
}

/// The seats of the explained request's location, from the store.
pub fn seats_report(config: &Config, store: &Store, e: &Explained) -> anyhow::Result<String> {
    let Some(id) = e.place.location_id else {
        return Ok(String::new());
    };
    let Some(location) = config.places.location(id) else {
        return Ok(String::new());
    };
    let open = store.open_sessions()?;
    let here: Vec<_> = open
        .iter()
        .filter(|s| s.location.as_str() == location.name.as_ref())
        .collect();
    let mine = here
        .iter()
        .find(|s| s.principal == e.asker.name)
        .map(|s| format!("; {} holds a session at {}", e.asker.name, s.terminal))
        .unwrap_or_default();
    Ok(match location.seats {
        Some(seats) => format!(
            "  seats: {} of {} in use at {} now{mine}\n",
            here.len(),
            seats,
            location.name
        ),
        None => format!(
            "  seats: {} sessions at {} now (no seat limit){mine}\n",
            here.len(),
            location.name
        ),
    })
}

/// What `policy check` reports about the rules.
pub struct RulesReport {
    pub rules: usize,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// Compile the configuration's rules again, this time knowing the store's groups when given.
pub fn check_rules(config: &Config, groups: Option<&[String]>) -> RulesReport {
    let mut known = config.rules.known.clone();
    known.groups = groups.map(<[String]>::to_vec);
    match policy::RuleSet::compile(&config.rules.sources, &known) {
        Ok(compiled) => RulesReport {
            rules: compiled.rules.len(),
            warnings: compiled.warnings.iter().map(|d| d.to_string()).collect(),
            errors: Vec::new(),
        },
        Err(diagnostics) => RulesReport {
            rules: 0,
            warnings: Vec::new(),
            errors: diagnostics.iter().map(|d| d.to_string()).collect(),
        },
    }
}

/// A recorded decision decided again.
pub struct Replayed {
    pub before: String,
    pub after: String,
    pub changed: bool,
}

/// Decide a recorded event again under `candidate`: `None` when the event was no decision of the
/// policy (a malformed request, an authentication refusal, a seat refusal, an error).
pub fn replay_row(candidate: &Config, row: &AuditRow) -> anyhow::Result<Option<Replayed>> {
    let (Some(name), Some(tier)) = (&row.principal, &row.tier) else {
        return Ok(None);
    };
    // Not decisions of the rules: seat refusals (state), a disabled account (its state then).
    let not_rules = crate::seats::is_seat_rule(&row.rule) || row.rule == "principal-disabled";
    if !matches!(row.decision.as_str(), "allow" | "deny") || not_rules {
        return Ok(None);
    }
    let groups: Vec<String> = row
        .groups
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    let asker = Asker::new(name, &groups, tier, row.role.as_deref().unwrap_or("user"))?;
    let target = match (&row.url, row.method.as_str()) {
        (_, "CONNECT") => row.destination.clone(),
        (Some(url), _) => url.clone(),
        (None, _) => return Ok(None),
    };
    let Ok(request) = Request::parse(&row.method, &target) else {
        return Ok(None);
    };
    let Some(client) = row
        .client
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip())
    else {
        return Ok(None);
    };
    let at = Timestamp::from_microsecond(row.ts_us)?;
    // The session held before the request is not recorded: decided as a first request.
    // Grants are not replayed: a recorded allow by a grant is decided again without it.
    let again = explain(
        candidate,
        &asker,
        From::Address(client),
        at,
        &request,
        (None, None),
    )?;
    let after = format!("{} {}", again.verdict(), again.rule_id());
    // A request the address check refused after the name was allowed is decided the same way
    // until the candidate refuses the name itself.
    let refused_later = row.decision == "deny" && is_address_rule(&row.rule, &row.stage);
    let before = format!("{} {}", row.decision, row.rule);
    let changed = if refused_later {
        again.verdict() == "deny"
    } else {
        before != after
    };
    Ok(Some(Replayed {
        before,
        after,
        changed,
    }))
}

/// Rules of the address check (after name resolution), which replay cannot run.
fn is_address_rule(rule: &str, stage: &str) -> bool {
    let after_resolving = matches!(stage, "resolve" | "connect");
    rule.starts_with("address:")
        || rule == "own-socket"
        || (rule == "connect-port" && after_resolving)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-minute cache answers exactly what computing each request afresh answers.
    #[test]
    fn cached_place_facts_equal_fresh_ones_at_every_address_and_time() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/research-library/gatehouse.toml");
        let config = Config::from_file(&path).unwrap();
        let places = &config.places;
        let cache = MinuteCache::default();
        let start: Timestamp = "2026-03-27T00:00:00Z".parse().unwrap();
        // Every 7 minutes over four days across the spring-forward night, from terminals and from
        // an unregistered address.
        for step in 0..(4 * 24 * 60 / 7) {
            let now = start + jiff::SignedDuration::from_secs(step * 7 * 60 + 13);
            for last in [11, 12, 18, 21, 31, 32, 99] {
                let ip: IpAddr = format!("127.0.0.{last}").parse().unwrap();
                let fresh = PlaceFacts::at(places, ip, now);
                let cached = PlaceFacts::at_cached(places, &cache, ip, now);
                assert_eq!(fresh.terminal, cached.terminal, "{now} {ip}");
                assert_eq!(fresh.location, cached.location);
                assert_eq!(fresh.open, cached.open, "{now} {ip}");
                assert_eq!(fresh.local, cached.local, "{now} {ip}");
                assert_eq!(fresh.schedules, cached.schedules, "{now}");
            }
        }
    }
}
