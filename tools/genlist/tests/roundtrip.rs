//! Generated lists load with the `lists` crate in every format: exactly `count` distinct
//! domains, all found, none skipped; and the same seed gives the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genlist::{generate, ut1_category_name, Generator, Options, OutFormat};
use lists::{canonicalize, Canonical, Format, ListsBuilder};
use std::path::PathBuf;

const COUNT: u64 = 5_000;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("genlist-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(seed: u64) -> Vec<String> {
    let mut g = Generator::with_system_lists(seed);
    (0..COUNT).map(|_| g.next_name()).collect()
}

fn opts(format: OutFormat) -> Options {
    Options {
        count: COUNT,
        format,
        seed: 11,
        categories: 4,
    }
}

#[test]
fn every_format_loads_back() {
    let dir = temp("formats");
    let expected = names(11);
    for (format, list_format) in [
        (OutFormat::Hosts, Format::Hosts),
        (OutFormat::Plain, Format::Plain),
        (OutFormat::Adblock, Format::Adblock),
    ] {
        let path = dir.join(format!("{format:?}"));
        generate(&mut Generator::with_system_lists(11), &opts(format), &path).unwrap();
        let mut b = ListsBuilder::new();
        let cat = b.category("gen").unwrap();
        let stats = b.add_file(cat, list_format, &path).unwrap();
        assert_eq!((stats.domains, stats.skipped()), (COUNT, 0), "{format:?}");
        let l = b.build().unwrap();
        assert_eq!(l.len() as u64, COUNT, "{format:?}");
        for name in &expected {
            let Ok(Canonical::Domain(canon)) = canonicalize(name) else {
                panic!("{name}");
            };
            assert!(l.contains(&canon, cat), "{format:?} {name}");
        }
        // Deterministic output.
        let again = dir.join("again");
        generate(&mut Generator::with_system_lists(11), &opts(format), &again).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ut1_layout_loads_back() {
    let dir = temp("ut1");
    generate(
        &mut Generator::with_system_lists(11),
        &opts(OutFormat::Ut1),
        &dir,
    )
    .unwrap();
    let mut b = ListsBuilder::new();
    let loaded = b.add_ut1_dir("ut1", &dir).unwrap();
    assert_eq!(loaded.len(), 4);
    let total: u64 = loaded.iter().map(|(_, s)| s.domains).sum();
    assert_eq!(total, COUNT);
    let l = b.build().unwrap();
    assert_eq!(l.len() as u64, COUNT);
    for i in 0..4 {
        assert!(l
            .category_id(&format!("ut1/{}", ut1_category_name(i)))
            .is_some());
    }
    for name in names(11) {
        let Ok(Canonical::Domain(canon)) = canonicalize(&name) else {
            panic!("{name}");
        };
        assert!(!l.lookup(&canon).is_empty(), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
