//! The dashboard's figures: live sessions and seats per location, pending requests, active
//! grants, refusals per rule and traffic per category over the last day, gathered from the
//! running gateway (its seat table and configuration) and the store. The portal renders them
//! (`portal/dashboard.rs`); nothing here knows of HTTP.
//!
//! Traffic and refusals come from the store's hourly rollup ([`DashboardStore`]), which [`fold`]
//! brings up to date first, from the events above its mark only: a view costs what happened
//! since the last one, not the size of the trail. Guarantees:
//! - every request event is counted once in `all`, once in each category its destination has in
//!   the lists in force when it is folded (`uncategorised` when none), and, when refused, once
//!   under the rule that refused it; administrative actions are not traffic;
//! - "the last 24 hours" is the current hour and the 23 before it, in whole hours (UTC), so the
//!   same event is in the same bucket on every view and in every process.

use std::collections::{BTreeMap, HashMap};

use lists::Lists;

use crate::store::{
    AuditRow, DashboardStore, GrantSummary, PendingSummary, RollupRow, SessionRow, StoreError,
};

/// The length of one bucket of the rollup: an hour.
pub const BUCKET_US: i64 = 3_600_000_000;
/// How many buckets the dashboard shows: the current hour and the 23 before it.
pub const HOURS: usize = 24;
/// How many refusing rules are listed, most refusals first (the rest are summed as `other`).
pub const TOP_RULES: usize = 10;
/// How many grants ending soonest are listed.
pub const ENDING_GRANTS: u32 = 5;
/// The rollup's key of traffic to a destination in no category.
pub const UNCATEGORISED: &str = "uncategorised";
/// How many events one fold transaction reads: a long backlog is folded in steps, so the store's
/// write lock is held only for the few rollup rows of each step.
const FOLD_BATCH: u32 = 100_000;

/// The start of the bucket holding `ts_us`.
pub fn bucket_of(ts_us: i64) -> i64 {
    ts_us - ts_us.rem_euclid(BUCKET_US)
}

/// The host of a destination (`host:port`, `[v6]:port`), when it is a domain name.
fn domain_of(destination: &str) -> Option<&str> {
    let host = destination.rsplit_once(':').map_or(destination, |(h, _)| h);
    let is_ip = host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok();
    (!host.is_empty() && !is_ip).then_some(host)
}

/// The rollup rows of a batch of events, each destination's categories looked up once in `lists`.
pub fn roll_up(events: &[crate::store::FoldEvent], lists: &Lists) -> Vec<RollupRow> {
    let mut sums: BTreeMap<(i64, &'static str, String), (u64, u64)> = BTreeMap::new();
    let mut categories: HashMap<&str, Vec<String>> = HashMap::new();
    let mut add = |bucket: i64, kind: &'static str, key: &str, bytes: u64| {
        let e = sums.entry((bucket, kind, key.to_string())).or_default();
        e.0 += 1;
        e.1 = e.1.saturating_add(bytes);
    };
    for e in events
        .iter()
        .filter(|e| e.method != AuditRow::ACTION_METHOD)
    {
        let bucket = bucket_of(e.ts_us);
        add(bucket, "all", "", e.bytes);
        let cats = categories.entry(&e.destination).or_insert_with(|| {
            let found = domain_of(&e.destination).map(|d| lists.lookup(d));
            let names: Vec<String> = found
                .iter()
                .flat_map(|set| set.iter())
                .map(|id| lists.category_name(id).to_string())
                .collect();
            if names.is_empty() {
                vec![UNCATEGORISED.to_string()]
            } else {
                names
            }
        });
        for c in cats.iter() {
            add(bucket, "category", c, e.bytes);
        }
        if e.decision == "deny" {
            add(bucket, "refusal", &e.rule, e.bytes);
        }
    }
    sums.into_iter()
        .map(|((bucket_us, kind, key), (requests, bytes))| RollupRow {
            bucket_us,
            kind: kind.to_string(),
            key,
            requests,
            bytes,
        })
        .collect()
}

/// Fold the events above the rollup's mark into it; how many events this call folded (another
/// process may have folded some of them first: those are not counted here, nor twice there).
pub fn fold<S: DashboardStore + ?Sized>(
    store: &S,
    lists: &Lists,
    now_us: i64,
) -> Result<u64, StoreError> {
    let mut folded = 0u64;
    loop {
        let mark = store.fold_mark()?;
        let events = store.events_after(mark, FOLD_BATCH)?;
        let Some(last) = events.last() else {
            return Ok(folded);
        };
        let rows = roll_up(&events, lists);
        if store.apply_fold(mark, last.id, &rows, now_us)? {
            folded += events.len() as u64;
            if events.len() < FOLD_BATCH as usize {
                return Ok(folded);
            }
        }
    }
}

/// A location's seats and the sessions open there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationFigures {
    pub name: String,
    /// `None`: no seat limit.
    pub seats: Option<u32>,
    pub sessions: Vec<SessionRow>,
}

/// Requests and bytes per bucket, oldest first ([`HOURS`] of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub requests: Vec<u64>,
    pub bytes: Vec<u64>,
}

impl Series {
    fn empty() -> Series {
        Series {
            requests: vec![0; HOURS],
            bytes: vec![0; HOURS],
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum()
    }

    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().fold(0, |a, b| a.saturating_add(*b))
    }
}

/// Everything the dashboard shows, at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub now_us: i64,
    /// The start of the oldest bucket shown.
    pub since_us: i64,
    pub locations: Vec<LocationFigures>,
    pub pending: PendingSummary,
    pub grants: GrantSummary,
    /// The rules that refused most in the window, most first, at most [`TOP_RULES`].
    pub refusals: Vec<(String, u64)>,
    /// Every refusal in the window (the listed rules' and the others').
    pub refusals_total: u64,
    /// All traffic.
    pub all: Series,
    /// Traffic per category, most requests first.
    pub categories: Vec<(String, Series)>,
}

/// The configured locations with the open sessions at each (a session at a location the
/// configuration no longer names is listed under its own, without a seat limit).
pub fn locations(places: &places::Places, sessions: Vec<SessionRow>) -> Vec<LocationFigures> {
    let mut out: Vec<LocationFigures> = places
        .locations()
        .iter()
        .map(|l| LocationFigures {
            name: l.name.to_string(),
            seats: l.seats,
            sessions: Vec::new(),
        })
        .collect();
    for s in sessions {
        match out.iter_mut().find(|l| l.name == s.location) {
            Some(l) => l.sessions.push(s),
            None => out.push(LocationFigures {
                name: s.location.clone(),
                seats: None,
                sessions: vec![s],
            }),
        }
    }
    out
}

/// Fold, then read the figures at `now_us`; `locations` comes from the running gateway.
pub fn figures<S: DashboardStore + ?Sized>(
    store: &S,
    lists: &Lists,
    locations: Vec<LocationFigures>,
    now_us: i64,
) -> Result<Figures, StoreError> {
    fold(store, lists, now_us)?;
    let since_us = bucket_of(now_us) - (HOURS as i64 - 1) * BUCKET_US;
    let rows = store.rollup_since(since_us)?;
    let (all, categories, (refusals, refusals_total)) = traffic(&rows, since_us);
    Ok(Figures {
        now_us,
        since_us,
        locations,
        pending: store.pending_summary(now_us)?,
        grants: store.grant_summary(now_us, ENDING_GRANTS)?,
        refusals,
        refusals_total,
        all,
        categories,
    })
}

type Traffic = (Series, Vec<(String, Series)>, (Vec<(String, u64)>, u64));

/// The rollup's rows from `since_us` on, as series and the top refusing rules.
fn traffic(rows: &[RollupRow], since_us: i64) -> Traffic {
    let mut all = Series::empty();
    let mut by_category: BTreeMap<&str, Series> = BTreeMap::new();
    let mut by_rule: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        let Ok(i) = usize::try_from((r.bucket_us - since_us) / BUCKET_US) else {
            continue;
        };
        let series = match r.kind.as_str() {
            "all" => &mut all,
            "category" => by_category.entry(&r.key).or_insert_with(Series::empty),
            "refusal" => {
                *by_rule.entry(&r.key).or_default() += r.requests;
                continue;
            }
            _ => continue,
        };
        if let (Some(n), Some(b)) = (series.requests.get_mut(i), series.bytes.get_mut(i)) {
            *n += r.requests;
            *b = b.saturating_add(r.bytes);
        }
    }
    let mut categories: Vec<(String, Series)> = by_category
        .into_iter()
        .map(|(k, s)| (k.to_string(), s))
        .collect();
    categories.sort_by_key(|(_, s)| std::cmp::Reverse(s.total_requests()));
    let total = by_rule.values().sum();
    let mut rules: Vec<(String, u64)> = by_rule
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    rules.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    rules.truncate(TOP_RULES);
    (all, categories, (rules, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FoldEvent;

    fn event(id: i64, ts_us: i64, dest: &str, decision: &str, rule: &str) -> FoldEvent {
        FoldEvent {
            id,
            ts_us,
            method: "GET".into(),
            destination: dest.into(),
            decision: decision.into(),
            rule: rule.into(),
            bytes: 100,
        }
    }

    #[test]
    fn events_roll_up_per_hour_category_and_refusing_rule() {
        let mut b = lists::ListsBuilder::new();
        let research = b.category("research").unwrap();
        let news = b.category("news").unwrap();
        b.add_domain(research, "journal.example").unwrap();
        b.add_domain(news, "journal.example").unwrap();
        b.add_domain(news, "news.example").unwrap();
        let lists = b.build().unwrap();
        let h = 10 * BUCKET_US;
        let mut action = event(5, h, "principal:ada", "action", "portal.login");
        action.method = AuditRow::ACTION_METHOD.into();
        let events = [
            event(1, h + 1, "journal.example:443", "allow", "tier-open"),
            event(2, h + 2, "www.news.example:80", "deny", "deny-news"),
            event(3, h + BUCKET_US, "127.0.0.2:80", "deny", "deny-news"),
            event(4, h + BUCKET_US + 5, "[::1]:443", "allow", "tier-open"),
            action,
        ];
        let rows: Vec<String> = roll_up(&events, &lists)
            .iter()
            .map(|r| {
                let hour = (r.bucket_us - h) / BUCKET_US;
                format!("{hour} {} {} {} {}", r.kind, r.key, r.requests, r.bytes)
            })
            .collect();
        assert_eq!(
            rows,
            [
                "0 all  2 200",
                "0 category news 2 200",
                "0 category research 1 100",
                "0 refusal deny-news 1 100",
                "1 all  2 200",
                "1 category uncategorised 2 200",
                "1 refusal deny-news 1 100",
            ]
        );
        let (all, categories, (rules, total)) = traffic(
            &roll_up(&events, &lists),
            h - (HOURS as i64 - 2) * BUCKET_US,
        );
        assert_eq!(all.requests[HOURS - 2..], [2, 2]);
        assert_eq!(categories[0].0, "news");
        assert_eq!((rules, total), (vec![("deny-news".to_string(), 2)], 2));
    }

    #[test]
    fn buckets_are_whole_hours_and_hosts_are_domains_only() {
        assert_eq!(bucket_of(BUCKET_US + 1), BUCKET_US);
        assert_eq!(bucket_of(-1), -BUCKET_US);
        assert_eq!(domain_of("a.example:443"), Some("a.example"));
        assert_eq!(domain_of("10.0.0.1:80"), None);
        assert_eq!(domain_of("[::1]:80"), None);
    }
}
