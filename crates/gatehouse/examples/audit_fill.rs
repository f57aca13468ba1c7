//! Fill a data directory with many audit events for the verify benchmark
//! (`bench/auditlog-verify.sh`): events shaped like the gateway's (principals, clients, methods,
//! destinations and URLs that vary, allow and deny, sizes and durations), appended through
//! `AuditStore::append_audit` in batches of 4,096 as the audit writer does (so each gets its leaf
//! in the same transaction), with a checkpoint signed with the data directory's key every
//! `--checkpoint-every` events (default 10,000, the writer's `checkpoint_events`).
//!
//! Then it reports the store's size per event, and the part of it the log adds: a copy without
//! the leaves and checkpoints, both compacted with `VACUUM`.
//!
//!   cargo run --release -p gatehouse --example audit_fill -- DATA_DIR [EVENTS] [--checkpoint-every N]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Instant;

use gatehouse::logkey;
use gatehouse::store::{sign_checkpoint, AuditRow, AuditStore, Store};

const BATCH: u64 = 4_096;
const WORDS: [&str; 16] = [
    "example", "wiki", "news", "mail", "docs", "shop", "video", "cdn", "static", "api", "search",
    "maps", "intranet", "portal", "forum", "archive",
];

fn event(n: u64, start_us: i64) -> AuditRow {
    let word = WORDS[(n % 16) as usize];
    let host = format!("{word}{}.example.org", n % 997);
    let denied = n.is_multiple_of(23);
    let connect = n.is_multiple_of(3);
    AuditRow {
        ts_us: start_us + n as i64 * 1_000,
        principal: Some(format!("user{}", n % 500)),
        client: format!("10.1.{}.{}:{}", n % 7, n % 250, 30_000 + n % 30_000),
        method: if connect { "CONNECT" } else { "GET" }.into(),
        destination: format!("{host}:{}", if connect { 443 } else { 80 }),
        url: (!connect).then(|| format!("http://{host}/{word}/page/{n}?q={}", n % 101)),
        decision: if denied { "deny" } else { "allow" }.into(),
        rule: if denied { "deny-ads" } else { "tier-open" }.into(),
        status: if denied { 403 } else { 200 },
        bytes_up: 300 + n % 1_000,
        bytes_down: 2_000 + (n * 7_919) % 500_000,
        duration_us: 800 + (n * 31) % 90_000,
        stage: "done".into(),
        groups: Some("staff".into()),
        tier: Some("open".into()),
        policy_version: Some("3f2a9c0d4e5b".into()),
        role: Some("user".into()),
        ..AuditRow::default()
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn vacuumed_size(db: &Path, drop_log: bool) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    if drop_log {
        conn.execute_batch("DELETE FROM audit_leaves; DELETE FROM audit_checkpoints;")
            .unwrap();
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        .unwrap();
    drop(conn);
    file_size(db)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = Path::new(
        args.first()
            .expect("usage: audit_fill DATA_DIR [EVENTS] [--checkpoint-every N]"),
    );
    let events: u64 = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    let every: u64 = args
        .iter()
        .position(|a| a == "--checkpoint-every")
        .map_or(10_000, |i| args[i + 1].parse().unwrap());
    let signer = logkey::load_or_create(data).unwrap();
    let mut store = Store::open(data).unwrap();
    let start_us = jiff::Timestamp::now().as_microsecond() - events as i64 * 1_000;
    let started = Instant::now();
    let (mut n, mut checkpoints, mut unsigned) = (0u64, 0u64, 0u64);
    while n < events {
        let end = (n + BATCH).min(events);
        let rows: Vec<AuditRow> = (n..end).map(|i| event(i, start_us)).collect();
        store.append_audit(&rows).unwrap();
        unsigned += end - n;
        n = end;
        if unsigned >= every || n == events {
            sign_checkpoint(&mut store, &signer, start_us + n as i64 * 1_000).unwrap();
            checkpoints += 1;
            unsigned = 0;
        }
    }
    let fill = started.elapsed();
    drop(store);
    let db = data.join("gatehouse.db");
    let with_log = vacuumed_size(&db, false);
    let copy = data.join("without-log.db");
    std::fs::copy(&db, &copy).unwrap();
    let without_log = vacuumed_size(&copy, true);
    std::fs::remove_file(&copy).unwrap();
    println!(
        "filled {events} events with {checkpoints} checkpoints in {:.1} s",
        fill.as_secs_f64()
    );
    println!(
        "store: {with_log} bytes ({:.1} bytes/event); without the log's tables: {without_log} bytes ({:.1} bytes/event); the log adds {:.1} bytes/event",
        with_log as f64 / events as f64,
        without_log as f64 / events as f64,
        (with_log - without_log) as f64 / events as f64
    );
}
