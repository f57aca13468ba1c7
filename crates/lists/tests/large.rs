//! A large list, checked against a naive model: 200,000 generated domains in 8 categories
//! must all be found with exactly the union of their own and their parents' categories, and
//! 10,000 similar names that are neither members nor children of members must not be.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lists::{CategoryId, CategorySet, Format, ListsBuilder};
use std::collections::HashMap;

/// splitmix64, as in `tools/genlist`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "alpha", "bank", "cloud", "data", "echo", "fast", "game", "host", "info", "jet", "key", "lab",
    "media", "net", "open", "pixel", "quick", "radio", "shop", "tech", "ultra", "video", "web",
    "xen", "yellow", "zone", "ad", "ads", "a", "b", "c", "ex-ample", "my_site", "cdn",
];
const SUFFIXES: &[&str] = &[
    "com", "net", "org", "co.uk", "de", "io", "com.au", "example",
];
const PREFIXES: &[&str] = &["www", "m", "api", "cdn", "ads", "a"];

fn name(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(3) {
        s.push_str(PREFIXES[rng.below(PREFIXES.len())]);
        s.push('.');
    }
    s.push_str(WORDS[rng.below(WORDS.len())]);
    if rng.below(2) == 0 {
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.push_str(&rng.below(3000).to_string());
    s.push('.');
    s.push_str(SUFFIXES[rng.below(SUFFIXES.len())]);
    s
}

/// The name and its parents, longest first: `a.b.c` → `a.b.c`, `b.c`, `c`.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::once(name).chain(name.match_indices('.').map(move |(i, _)| &name[i + 1..]))
}

#[test]
fn two_hundred_thousand_domains() {
    let mut rng = Rng(42);
    let mut model: HashMap<String, CategorySet> = HashMap::new();
    let mut b = ListsBuilder::new();
    let cats: Vec<CategoryId> = (0..8)
        .map(|i| b.category(&format!("c{i}")).unwrap())
        .collect();
    // Half through add_domain, half through a plain-format text per category.
    let mut texts: Vec<String> = vec![String::new(); cats.len()];
    let mut added = 0usize;
    while model.len() < 200_000 {
        let n = name(&mut rng);
        let c = rng.below(cats.len());
        let cat = cats[c];
        if rng.below(2) == 0 {
            b.add_domain(cat, &n).unwrap();
        } else {
            texts[c].push_str(&n);
            texts[c].push('\n');
        }
        added += 1;
        model.entry(n).or_default().insert(cat);
    }
    for (c, text) in texts.iter().enumerate() {
        b.add_text(cats[c], Format::Plain, text.as_bytes(), "generated")
            .unwrap();
    }
    assert!(
        added > model.len(),
        "the generator repeats names, exercising dedupe"
    );
    let lists = b.build().unwrap();
    assert_eq!(lists.len(), model.len());

    let expected = |host: &str| {
        let mut set = CategorySet::new();
        for s in suffixes(host) {
            if let Some(c) = model.get(s) {
                set.union_with(c);
            }
        }
        set
    };
    let mut with_parent = 0;
    for host in model.keys() {
        let want = expected(host);
        if want != model[host] {
            with_parent += 1;
        }
        assert_eq!(lists.lookup(host), want, "{host}");
    }
    assert!(with_parent > 1000, "parent unions exercised: {with_parent}");

    let mut rng = Rng(7);
    let mut misses = 0;
    while misses < 10_000 {
        let n = name(&mut rng);
        // Near misses too: a changed character makes most names non-members.
        let n = match rng.below(3) {
            0 => n.replacen('.', "x.", 1),
            1 => format!("x{n}"),
            _ => n,
        };
        if suffixes(&n).any(|s| model.contains_key(s)) {
            continue;
        }
        assert!(lists.lookup(&n).is_empty(), "{n}");
        misses += 1;
    }
}
