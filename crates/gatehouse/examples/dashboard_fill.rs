//! Fill a data directory with a day of audit events for the dashboard benchmark
//! (`bench/portal-dashboard.sh`): EVENTS events spread evenly over the 24 hours before now,
//! shaped like a library's traffic — principals at the research library's terminals and
//! locations, destinations in its lists (`research`, `news`, `ads`) and outside them, about one in
//! nine refused by one of a handful of rules, sizes that vary — appended through
//! `AuditStore::append_audit` in batches of 4,096 as the audit writer does (each event gets its
//! leaf of the verifiable log in the same transaction), with a checkpoint every 100,000 events.
//!
//!   cargo run --release -p gatehouse --example dashboard_fill -- DATA_DIR [EVENTS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Instant;

use gatehouse::logkey;
use gatehouse::store::{sign_checkpoint, AuditRow, AuditStore, Store};

const BATCH: u64 = 4_096;
const CHECKPOINT_EVERY: u64 = 100_000;
/// Destinations: in the example's lists, and (most of them) in none.
const HOSTS: [&str; 12] = [
    "journal.example",
    "arxiv.org",
    "doi.org",
    "zenodo.org",
    "news.example",
    "ads.example",
    "intranet.library.example",
    "mail.example.net",
    "cdn.example.com",
    "video.example.com",
    "search.example.com",
    "wiki.example.org",
];
/// Refusing rules, the first the most frequent.
const REFUSALS: [&str; 5] = [
    "deny-list",
    "tier-filtered",
    "seats-full",
    "quiet-evening",
    "outside-hours",
];
/// (terminal, location) pairs of the research library.
const PLACES: [(&str, &str); 4] = [
    ("rr-01", "reading-room"),
    ("rr-02", "reading-room"),
    ("staff-desk", "staff-office"),
    ("foyer-1", "foyer"),
];

fn event(n: u64, ts_us: i64) -> AuditRow {
    let host = HOSTS[((n * 7) % HOSTS.len() as u64) as usize];
    let (terminal, location) = PLACES[(n % PLACES.len() as u64) as usize];
    let denied = n.is_multiple_of(9);
    let rule = if denied {
        // Skewed: half the refusals are the first rule's, a tenth the last one's.
        REFUSALS[match (n / 9) % 10 {
            0..=4 => 0,
            5 | 6 => 1,
            7 => 2,
            8 => 3,
            _ => 4,
        }]
    } else {
        "tier-open"
    };
    let connect = !n.is_multiple_of(4);
    AuditRow {
        ts_us,
        principal: Some(format!("reader{}", n % 300)),
        client: format!("127.0.0.{}:{}", 11 + n % 8, 30_000 + n % 30_000),
        method: if connect { "CONNECT" } else { "GET" }.into(),
        destination: format!("{host}:{}", if connect { 443 } else { 80 }),
        url: (!connect).then(|| format!("http://{host}/article/{n}")),
        decision: if denied { "deny" } else { "allow" }.into(),
        rule: rule.into(),
        status: if denied { 403 } else { 200 },
        bytes_up: if denied { 0 } else { 400 + n % 1_500 },
        bytes_down: if denied {
            0
        } else {
            3_000 + (n * 7_919) % 900_000
        },
        duration_us: 900 + (n * 31) % 120_000,
        stage: "done".into(),
        terminal: Some(terminal.into()),
        location: Some(location.into()),
        groups: Some("researchers".into()),
        tier: Some("filtered".into()),
        policy_version: Some("3f2a9c0d4e5b".into()),
        role: Some("user".into()),
        ..AuditRow::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = Path::new(
        args.first()
            .expect("usage: dashboard_fill DATA_DIR [EVENTS]"),
    );
    let events: u64 = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    // The store first: it creates the data directory the key goes in.
    let mut store = Store::open(data).unwrap();
    let signer = logkey::load_or_create(data).unwrap();
    let now_us = jiff::Timestamp::now().as_microsecond();
    let day_us: i64 = 24 * 3_600_000_000;
    let step = day_us / events.max(1) as i64;
    let started = Instant::now();
    let (mut n, mut unsigned) = (0u64, 0u64);
    while n < events {
        let end = (n + BATCH).min(events);
        let rows: Vec<AuditRow> = (n..end)
            .map(|i| event(i, now_us - day_us + i as i64 * step))
            .collect();
        store.append_audit(&rows).unwrap();
        unsigned += end - n;
        n = end;
        if unsigned >= CHECKPOINT_EVERY || n == events {
            sign_checkpoint(&mut store, &signer, now_us).unwrap();
            unsigned = 0;
        }
    }
    println!(
        "filled {events} events over the last 24 hours in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
