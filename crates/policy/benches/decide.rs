//! Decision latency with a 1,000,000-domain list: what the proxy does per request after parsing
//! the target, i.e. `Lists::lookup` of the canonical host followed by `policy::decide`.
//!
//! `grants/*` measure the decision with 10,000 active access grants over 2,000 principals (issue
//! 12): `grants/covered` requests the tier refuses and a grant of the asker allows (step 6b),
//! `grants/refused` requests no grant of the asker covers; `decide/miss` is the same refusal
//! without grants.
//!
//! `rules/*` measure the whole decision with 200 Cedar rules, 10,000 principals, 50 locations and
//! 500 terminals (`benches/decide/rules.rs`): `rules/uncached` without the decision cache,
//! `rules/cached` with it (warm), and `rules/cedar-every-rule` evaluating every rule with Cedar
//! (what `explain` does; the naive baseline).
//!
//! Run: `cargo bench -p policy --bench decide` (release profile). Besides criterion's means it
//! prints tail latencies (p50/p99/p99.9) measured with `iter_custom` feeding an `hdrhistogram`:
//!
//! - `batch-avg`: each sample is the average over a batch of 100 consecutive decisions, timed
//!   with one pair of `Instant::now` calls. Clock cost is negligible, but a batch average smooths
//!   single slow calls.
//! - `per-call`: every decision timed on its own; includes the cost of one `Instant::now` pair
//!   (printed as `clock overhead`, typically 20–40 ns), so it is an upper bound per call.
//!
//! The list is generated in memory, deterministically (splitmix64 + syllable words under weighted
//! public suffixes, zero to two extra labels), so the bench needs no files. Without `--bench` on
//! the command line (`cargo test --benches`, `clippy --all-targets` builds only) the list has
//! 10,000 names so that test runs stay fast.

// A benchmark measures time and reads its command line: the workspace bans `Instant::now` and
// `std::env::args` in the pure crates, which does not apply to this bench binary.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

// Not `benches/rules.rs`: that would be discovered as a bench target of its own.
#[path = "decide/rules.rs"]
mod rules;

use criterion::{criterion_group, criterion_main, Criterion};
use destination::Host;
use hdrhistogram::Histogram;
use lists::{CategoryId, CategorySet, Lists, ListsBuilder};
use policy::{
    decide, Decision, Inputs, LocalTime, Place, Policy, PolicySpec, Tier, Verdict, Weekday,
};

const NOON: LocalTime = LocalTime {
    weekday: Weekday::Mon,
    minute_of_day: 12 * 60,
    date: (2026, 12, 7),
};

/// Names in the big list in `--bench` mode.
const BIG: usize = 1_000_000;
/// Names in the big list in test mode (no `--bench` argument).
const SMALL: usize = 10_000;
/// Names in the small global deny list.
const DENY: usize = 2_000;
/// Distinct request hosts cycled through by every benchmark.
const QUERIES: usize = 16_384;
/// Decisions per timed batch for the batch-average histogram.
const BATCH: u64 = 100;

// ------------------------------------------------------------------------------------ generator

/// splitmix64: tiny, fast and fully determined by its seed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
    "ch", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "th", "tr", "",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ee", "oo", "ou", "y",
];
const CODAS: &[&str] = &[
    "", "", "", "", "n", "r", "s", "t", "l", "m", "ck", "nd", "st", "ng", "x",
];
const EXTRA_LABELS: &[&str] = &[
    "www", "www", "www", "cdn", "m", "api", "static", "img", "mail", "app", "shop", "blog", "news",
    "login", "media",
];
/// Public suffixes with rough real-world weights (`.com` dominates).
const SUFFIXES: &[(&str, usize)] = &[
    ("com", 46),
    ("net", 7),
    ("org", 7),
    ("de", 5),
    ("co.uk", 4),
    ("ru", 4),
    ("info", 3),
    ("io", 3),
    ("fr", 2),
    ("nl", 2),
    ("com.au", 2),
    ("jp", 2),
    ("it", 2),
    ("pl", 2),
    ("es", 2),
    ("com.br", 2),
    ("in", 1),
    ("xyz", 1),
    ("online", 1),
    ("co", 1),
    ("ca", 1),
    ("ch", 1),
    ("eu", 1),
    ("us", 1),
];

struct NameGen {
    rng: Rng,
    suffix_total: usize,
}

impl NameGen {
    fn new(seed: u64) -> Self {
        NameGen {
            rng: Rng(seed),
            suffix_total: SUFFIXES.iter().map(|(_, w)| w).sum(),
        }
    }

    fn word(&mut self, out: &mut String) {
        let syllables = 1 + self.rng.below(3);
        for _ in 0..syllables {
            out.push_str(self.rng.pick(ONSETS));
            out.push_str(self.rng.pick(VOWELS));
            out.push_str(self.rng.pick(CODAS));
        }
    }

    fn suffix(&mut self) -> &'static str {
        let mut r = self.rng.below(self.suffix_total);
        for (s, w) in SUFFIXES {
            if r < *w {
                return s;
            }
            r -= w;
        }
        "com"
    }

    /// Zero (70 %), one (20 %) or two (10 %) extra labels.
    fn extra_labels(&mut self, out: &mut String) {
        let n = match self.rng.below(10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => 2,
        };
        for _ in 0..n {
            if self.rng.below(4) == 0 {
                self.word(out);
            } else {
                out.push_str(self.rng.pick(EXTRA_LABELS));
            }
            out.push('.');
        }
    }

    /// A registrable name: one to three words, sometimes hyphenated or with digits.
    fn registrable(&mut self, out: &mut String) {
        self.word(out);
        match self.rng.below(10) {
            0..=3 => {}
            4..=6 => self.word(out),
            7 => {
                out.push('-');
                self.word(out);
            }
            8 => {
                let n = self.rng.below(1000);
                out.push_str(&n.to_string());
            }
            _ => {
                self.word(out);
                self.word(out);
            }
        }
        out.push('.');
        let s = self.suffix();
        out.push_str(s);
    }

    /// A list entry: extra labels in front of a registrable name.
    fn entry(&mut self) -> String {
        let mut s = String::with_capacity(32);
        self.extra_labels(&mut s);
        self.registrable(&mut s);
        s
    }
}

// ------------------------------------------------------------------------------------- fixture

struct Fixture {
    lists: Lists,
    policy: Policy,
    /// Request hosts: hits (in the big list, 0–2 extra labels), misses and global-deny hits.
    mix: Vec<Host>,
    hits: Vec<Host>,
    misses: Vec<Host>,
    /// The same hosts as typed by clients (mixed case, some with a trailing dot), for
    /// `Host::parse`.
    raw_hosts: Vec<String>,
    /// Request hosts for the rules: a third in the rules' categories, some IP literals.
    rule_hosts: Vec<Host>,
}

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn fixture() -> Fixture {
    let size = if bench_mode() { BIG } else { SMALL };
    let t0 = Instant::now();
    let mut gen = NameGen::new(0x6761_7465_686f_7573);
    let mut big: HashSet<String> = HashSet::with_capacity(size);
    let mut entries: Vec<String> = Vec::with_capacity(size);
    while entries.len() < size {
        let e = gen.entry();
        if big.insert(e.clone()) {
            entries.push(e);
        }
    }
    let mut deny_gen = NameGen::new(0xDE17);
    let deny: Vec<String> = (0..DENY)
        .map(|_| deny_gen.entry())
        .filter(|e| !big.contains(e))
        .collect();
    let generated = t0.elapsed();

    let t1 = Instant::now();
    let mut b = ListsBuilder::new();
    let big_cat: CategoryId = b.category("big").unwrap();
    let ads: CategoryId = b.category("ads").unwrap();
    let malware: CategoryId = b.category("malware").unwrap();
    for e in &entries {
        b.add_domain(big_cat, e).unwrap();
    }
    for (i, e) in deny.iter().enumerate() {
        b.add_domain(if i % 2 == 0 { ads } else { malware }, e)
            .unwrap();
    }
    // The categories the rules name: 5,000 names each.
    let mut rule_names: Vec<String> = Vec::new();
    for (i, name) in rules::RULE_CATEGORIES.iter().enumerate() {
        let cat = b.category(name).unwrap();
        let mut gen = NameGen::new(0xCA7 + i as u64);
        for _ in 0..5_000 {
            let e = gen.entry();
            b.add_domain(cat, &e).unwrap();
            rule_names.push(e);
        }
    }
    let lists = b.build().unwrap();
    let built = t1.elapsed();
    println!(
        "fixture: {} names in list `big` + {} in global deny lists + {} in the rules' categories; \
         generated in {:.2?}, compiled in {:.2?}; compiled size {:.1} MiB (Lists::heap_bytes)",
        lists.len() - deny.len() - rule_names.len(),
        deny.len(),
        rule_names.len(),
        generated,
        built,
        lists.heap_bytes() as f64 / (1024.0 * 1024.0)
    );

    let mut spec = PolicySpec::default();
    spec.filtered_allow.insert(big_cat);
    spec.global_deny.insert(ads);
    spec.global_deny.insert(malware);
    let policy = Policy::compile(spec);

    // Request hosts. Hits: a list entry with 0-2 more labels in front. Misses: new names under
    // the same suffixes (so the walk goes past the suffix). Deny: a deny-list entry, sometimes
    // with a label in front.
    let mut q = Rng(0x5EED);
    let mut miss_gen = NameGen::new(0x0BAD_CAFE);
    let hit = |q: &mut Rng| {
        let mut s = String::new();
        for _ in 0..q.below(3) {
            s.push_str(q.pick(EXTRA_LABELS));
            s.push('.');
        }
        s.push_str(&entries[q.below(entries.len())]);
        s
    };
    // A miss is on no list at all, not even through a parent domain.
    let mut miss = || loop {
        let e = miss_gen.entry();
        if lists.lookup(&e).is_empty() {
            return e;
        }
    };
    let parse = |s: &str| Host::parse(s).unwrap();
    // A hit is in `big` and in no deny list (a rare generated name is in both).
    let hits: Vec<Host> = std::iter::repeat_with(|| hit(&mut q))
        .filter(|s| lists.lookup(s) == CategorySet::single(big_cat))
        .take(QUERIES)
        .map(|s| parse(&s))
        .collect();
    let misses: Vec<Host> = (0..QUERIES).map(|_| parse(&miss())).collect();
    // The mix: 50 % hits, 40 % misses, 10 % global-deny hits.
    let mut mix_raw: Vec<String> = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let s = match q.below(10) {
            0..=4 => hit(&mut q),
            5..=8 => miss(),
            _ => {
                let d = &deny[q.below(deny.len())];
                if q.below(2) == 0 {
                    format!("www.{d}")
                } else {
                    d.clone()
                }
            }
        };
        mix_raw.push(s);
    }
    let mix: Vec<Host> = mix_raw.iter().map(|s| parse(s)).collect();
    // As clients type them: a third upper-cased, a tenth with a trailing dot.
    let raw_hosts = mix_raw
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut s = if i % 3 == 0 {
                s.to_ascii_uppercase()
            } else {
                s.clone()
            };
            if i % 10 == 0 {
                s.push('.');
            }
            s
        })
        .collect();

    // Rule hosts: 40 % in the rules' categories, 40 % from the mix, 10 % misses, 10 % IP literals.
    let rule_hosts: Vec<Host> = (0..QUERIES)
        .map(|i| match q.below(10) {
            0..=3 => parse(&rule_names[q.below(rule_names.len())]),
            4..=7 => mix[i].clone(),
            8 => misses[i].clone(),
            _ => parse(&format!(
                "10.{}.{}.{}",
                q.below(8),
                q.below(256),
                q.below(256)
            )),
        })
        .collect();
    let f = Fixture {
        lists,
        policy,
        mix,
        hits,
        misses,
        raw_hosts,
        rule_hosts,
    };
    f.check(big_cat);
    f
}

impl Fixture {
    /// What the proxy does per request: categorise the canonical host, then decide.
    #[inline]
    fn decide(&self, host: &Host, port: u16) -> Decision {
        self.decide_as("bench", host, port, None)
    }

    /// [`Fixture::decide`] for `principal`, with the active grants `grants`.
    #[inline]
    fn decide_as(
        &self,
        principal: &str,
        host: &Host,
        port: u16,
        grants: Option<&access::GrantSet>,
    ) -> Decision {
        let categories = match host.as_domain() {
            Some(d) => self.lists.lookup(d.as_str()),
            None => CategorySet::default(),
        };
        decide(
            &self.policy,
            &Inputs {
                principal,
                groups: &[],
                disabled: false,
                tier: Tier::Filtered,
                host,
                port,
                connect: port == 443,
                categories,
                role: "user",
                method: "GET",
                place: Place::unregistered(NOON),
                grants,
                now_us: 1,
            },
        )
    }

    /// The bench measures the paths it says it measures.
    fn check(&self, big: CategoryId) {
        let allowed = |hosts: &[Host]| {
            hosts
                .iter()
                .filter(|h| self.decide(h, 443).is_allow())
                .count()
        };
        assert_eq!(allowed(&self.hits), self.hits.len(), "every hit is allowed");
        assert_eq!(allowed(&self.misses), 0, "every miss is refused");
        let mut counts = [0usize; 3];
        for h in &self.mix {
            let d = self.decide(h, 80);
            match (d.verdict, d.rule) {
                (Verdict::Allow, policy::Rule::FilteredAllow(c)) if c == big => counts[0] += 1,
                (Verdict::Deny, policy::Rule::FilteredDefault) => counts[1] += 1,
                (Verdict::Deny, policy::Rule::GlobalDeny(_)) => counts[2] += 1,
                other => panic!("unexpected decision {other:?} for {h:?}"),
            }
        }
        println!(
            "request mix: {} hosts: {} allowed by `big`, {} refused (on no list), {} refused by a global deny list",
            self.mix.len(),
            counts[0],
            counts[1],
            counts[2]
        );
    }
}

// ----------------------------------------------------------------------------------- grants

/// Active grants in the grants benchmarks, and the principals they belong to.
const GRANTS: usize = 10_000;
const GRANTEES: usize = 2_000;

/// One request of the grants benchmarks: who asks for which host.
struct Asked {
    principal: String,
    host: Host,
}

/// 10,000 grants, each for a domain of its own (on no list: the `filtered` tier refuses it), and
/// requests for granted domains by their grantees and for other domains by the same principals.
fn grant_fixture() -> (access::GrantSet, Vec<Asked>, Vec<Asked>) {
    let who = |i: usize| format!("p{}", i % GRANTEES);
    let set = access::GrantSet::new(
        (0..GRANTS).map(|i| access::ActiveGrant {
            id: i as i64,
            principal: who(i).into(),
            scope: access::Scope::parse(&format!("domain:granted{i}.example")).unwrap(),
            purpose: "bench".into(),
            starts_us: Some(0),
            expires_us: Some(i64::MAX),
            claim_by_us: None,
        }),
        |_| None,
    );
    let asked = |prefix: &str| -> Vec<Asked> {
        (0..QUERIES)
            .map(|q| {
                let i = (q * 7919) % GRANTS;
                Asked {
                    principal: who(i),
                    host: Host::parse(&format!("www.{prefix}{i}.example")).unwrap(),
                }
            })
            .collect()
    };
    (set, asked("granted"), asked("elsewhere"))
}

// ----------------------------------------------------------------------------------- tails

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

fn print_tail(name: &str, kind: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        return;
    }
    println!(
        "{name:<28} {kind:<10} p50 {:>6} ns  p99 {:>6} ns  p99.9 {:>6} ns  max {:>8} ns  (n = {})",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.len()
    );
}

/// Cost of one `Instant::now()` pair, the floor of every per-call sample.
fn clock_overhead() -> u64 {
    let mut h = histogram();
    for _ in 0..200_000 {
        let t = Instant::now();
        let e = t.elapsed();
        h.record(e.as_nanos().max(1) as u64).unwrap();
    }
    h.value_at_quantile(0.5)
}

/// Measures `op` over the hosts with criterion's mean, and records tails in two histograms.
fn bench_hosts<T>(c: &mut Criterion, name: &str, items: &[T], op: impl Fn(&T) -> u64 + Copy) {
    let mut group = c.benchmark_group(name);
    // Mean per operation, criterion's usual estimate.
    let mut i = 0usize;
    group.bench_function("mean", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            black_box(op(black_box(&items[i])))
        })
    });
    // Tails: batches of BATCH, averaged.
    let mut batch = histogram();
    let mut j = 0usize;
    group.bench_function("batch-avg", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let n = BATCH.min(iters - done);
                let t = Instant::now();
                for _ in 0..n {
                    j = (j + 1) % items.len();
                    black_box(op(black_box(&items[j])));
                }
                let e = t.elapsed();
                total += e;
                done += n;
                batch.record((e.as_nanos() as u64 / n).max(1)).unwrap();
            }
            total
        })
    });
    // Tails: every call on its own (upper bound: includes one clock pair).
    let mut single = histogram();
    let mut k = 0usize;
    group.bench_function("per-call", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                k = (k + 1) % items.len();
                let t = Instant::now();
                black_box(op(black_box(&items[k])));
                let e = t.elapsed();
                total += e;
                single.record(e.as_nanos().max(1) as u64).unwrap();
            }
            total
        })
    });
    group.finish();
    print_tail(name, "batch-avg", &batch);
    print_tail(name, "per-call", &single);
    let row = format!(
        "| {name} | {} | {} | {} | {} | {} |",
        batch.value_at_quantile(0.5),
        batch.value_at_quantile(0.99),
        single.value_at_quantile(0.5),
        single.value_at_quantile(0.99),
        single.value_at_quantile(0.999),
    );
    TAILS.with(|t| t.borrow_mut().push(row));
}

thread_local! {
    /// One markdown row per benchmark, printed together at the end.
    static TAILS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let overhead = clock_overhead();
    println!("clock overhead (one Instant::now pair, median): {overhead} ns");

    let decide_one = |h: &Host| {
        let d = f.decide(h, 80);
        u64::from(d.is_allow())
    };
    bench_hosts(c, "decide/mix", &f.mix, decide_one);
    bench_hosts(c, "decide/hit", &f.hits, decide_one);
    bench_hosts(c, "decide/miss", &f.misses, decide_one);
    bench_hosts(c, "lookup/mix", &f.mix, |h: &Host| {
        let set = match h.as_domain() {
            Some(d) => f.lists.lookup(d.as_str()),
            None => CategorySet::default(),
        };
        set.len() as u64
    });
    bench_hosts(
        c,
        "host_parse/mix",
        &f.raw_hosts,
        |s: &String| match Host::parse(s) {
            Ok(Host::Domain(d)) => d.as_str().len() as u64,
            Ok(_) => 1,
            Err(_) => 0,
        },
    );

    let (grants, covered, elsewhere) = grant_fixture();
    let by_grant = |a: &Asked| f.decide_as(&a.principal, &a.host, 80, Some(&grants));
    assert!(covered.iter().all(|a| by_grant(a).grant().is_some()));
    assert!(elsewhere.iter().all(|a| !by_grant(a).is_allow()));
    println!("grants: {} active, {GRANTEES} principals", grants.len());
    bench_hosts(c, "grants/covered", &covered, |a| {
        u64::from(by_grant(a).is_allow())
    });
    bench_hosts(c, "grants/refused", &elsewhere, |a| {
        u64::from(by_grant(a).is_allow())
    });

    let rf = rules::fixture(&f.lists, &f.rule_hosts);
    println!(
        "rules: {} rules ({} need Cedar), {} principals in {} groups, {} locations, {} terminals; \
         {} requests decided: {}",
        rf.rules,
        rf.cedar_rules,
        rules::PRINCIPALS,
        rules::GROUPS,
        rules::LOCATIONS,
        rules::TERMINALS,
        rf.requests.len(),
        rf.summary(&f.lists)
    );
    bench_hosts(c, "rules/uncached", &rf.requests, |r| {
        u64::from(rf.decide(&f.lists, &rf.uncached, r).is_allow())
    });
    bench_hosts(c, "rules/cached", &rf.requests, |r| {
        u64::from(rf.decide(&f.lists, &rf.cached, r).is_allow())
    });
    bench_hosts(c, "rules/cedar-every-rule", &rf.requests, |r| {
        u64::from(rf.explain(&f.lists, &rf.uncached, r).decision.is_allow())
    });

    println!();
    println!("tails in ns (clock overhead per call: {overhead} ns, included in per-call):");
    println!("| benchmark | batch-avg p50 | batch-avg p99 | per-call p50 | per-call p99 | per-call p99.9 |");
    println!("|---|--:|--:|--:|--:|--:|");
    TAILS.with(|t| {
        for row in t.borrow().iter() {
            println!("{row}");
        }
    });
}

criterion_group! {
    name = decide_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(decide_benches);
