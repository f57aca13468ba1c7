//! `GrantSet::covering` with 10 and with 10,000 active grants, five per principal in both: the cost
//! of asking whether a grant covers a request must not grow with the number of grants in force
//! (issue 12). Run with
//! `cargo bench -p access --bench grants`; the figures are in BENCHMARKS.md.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use access::{ActiveGrant, GrantSet, Scope};
use criterion::{criterion_group, criterion_main, Criterion};
use destination::Host;
use lists::CategorySet;

/// Principals in a set of `n` grants: five grants each, whatever `n`, so that the sets differ only
/// in how many grants they hold in all.
fn principals(n: usize) -> usize {
    (n / 5).max(1)
}

/// `n` grants, five per principal, each for its own domain.
fn set(n: usize) -> GrantSet {
    let grants = (0..n).map(|i| ActiveGrant {
        id: i as i64,
        principal: Arc::from(format!("user{}", i % principals(n))),
        scope: Scope::parse(&format!("domain:site{i}.example")).unwrap(),
        purpose: Arc::from("bench"),
        starts_us: Some(0),
        expires_us: Some(i64::MAX),
        claim_by_us: None,
    });
    GrantSet::new(grants, |_| None)
}

fn covering(c: &mut Criterion) {
    let none = CategorySet::default();
    let miss = Host::parse("www.elsewhere.example").unwrap();
    for n in [10, 10_000] {
        let set = set(n);
        // A grant in the middle of the set, its owner, and its domain.
        let i = n / 2 + 1;
        let who = format!("user{}", i % principals(n));
        let hit = Host::parse(&format!("www.site{i}.example")).unwrap();
        c.bench_function(&format!("covering, {n} grants, covered"), |b| {
            b.iter(|| black_box(set.covering(black_box(&who), &hit, &none, 1)))
        });
        c.bench_function(&format!("covering, {n} grants, not covered"), |b| {
            b.iter(|| black_box(set.covering(black_box(&who), &miss, &none, 1)))
        });
    }
}

criterion_group!(benches, covering);
criterion_main!(benches);
