//! Loads one list and reports load time, domain count, `heap_bytes`, process RSS and the mean
//! time of 1,000,000 lookups.
//!
//! Usage: `cargo run --release -p lists --example load_1m -- FORMAT PATH` where FORMAT is
//! `hosts`, `plain`, `adblock` or `ut1` (PATH is then a UT1 folder).
//!
//! Lookups cycle through a sample of member names (every 7th name of the list, with a `www.`
//! or deeper label in front for a third of them) mixed half and half with non-members.
//!
//! Diagnostics: `LOAD_1M_MAPS=1` prints the resident mappings over 1 MiB after loading (heap
//! versus mapped blocks); `LOAD_1M_EXIT=1` stops after loading (for heap profilers).

// A measuring tool: it reads the clock, its arguments and two diagnostic environment
// variables, which the workspace bans in the pure crates (not in examples).
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lists::{Format, ListsBuilder};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, path] = args.as_slice() else {
        eprintln!("usage: load_1m hosts|plain|adblock|ut1 PATH");
        std::process::exit(2);
    };
    let path = Path::new(path);
    let rss_before = rss_kib();

    let start = Instant::now();
    let mut b = ListsBuilder::new();
    let stats = if format == "ut1" {
        let loaded = b.add_ut1_dir("ut1", path).unwrap();
        loaded
            .iter()
            .map(|(_, s)| *s)
            .fold(Default::default(), |a, s| a + s)
    } else {
        let format: Format = format.parse().unwrap();
        let cat = b.category("list").unwrap();
        b.add_file(cat, format, path).unwrap()
    };
    let loaded = start.elapsed();
    let rss_parsed = rss_kib();
    let lists = b.build().unwrap();
    let total = start.elapsed();
    let rss_after = rss_kib();
    if std::env::var_os("LOAD_1M_MAPS").is_some() {
        // Resident mappings over 1 MiB, to tell heap from mapped blocks.
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let mut name = String::new();
        for line in smaps.lines() {
            if line.contains('-') && !line.starts_with(char::is_uppercase) {
                name = line.to_owned();
            } else if let Some(v) = line.strip_prefix("Rss:") {
                let kib: u64 = v.trim().trim_end_matches(" kB").parse().unwrap_or(0);
                if kib > 1024 {
                    println!("  {kib} KiB  {name}");
                }
            }
        }
    }
    let peak = hwm_kib();

    println!("format {format}: {stats:?}");
    println!(
        "load {:.3} s (parse {:.3} s, build {:.3} s)",
        total.as_secs_f64(),
        loaded.as_secs_f64(),
        (total - loaded).as_secs_f64()
    );
    println!("domains {}", lists.len());
    println!(
        "heap_bytes {} ({:.1} MiB)",
        lists.heap_bytes(),
        lists.heap_bytes() as f64 / 1048576.0
    );
    println!(
        "rss before {:.1} MiB, after parse {:.1} MiB, after build {:.1} MiB, peak {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_parsed as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );

    if std::env::var_os("LOAD_1M_EXIT").is_some() {
        return;
    }
    // Query sample: members (some with extra labels) and non-members, alternating.
    let members = lists.domains();
    let mut queries: Vec<String> = Vec::new();
    for (i, (name, _)) in members.iter().step_by(7).take(50_000).enumerate() {
        queries.push(match i % 3 {
            0 => format!("www.{name}"),
            1 => format!("a.b.{name}"),
            _ => name.clone(),
        });
        queries.push(format!("x{}", name.replacen('.', "-nope.", 1)));
    }
    drop(members);
    const N: usize = 1_000_000;
    let mut hits = 0usize;
    let start = Instant::now();
    for i in 0..N {
        let q = &queries[i % queries.len()];
        if !black_box(lists.lookup(black_box(q))).is_empty() {
            hits += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "lookups {N}: mean {:.0} ns, {hits} hits",
        elapsed.as_nanos() as f64 / N as f64
    );
}
