//! Behaviour of the public API: formats, parent matching, category unions, deduplication,
//! IDN entries, error messages with file and line, lenient mode and the category limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lists::{
    canonicalize, Canonical, CategoryId, CategorySet, DomainProblem, Format, ListError, Lists,
    ListsBuilder, LoadStats, SkipReason, MAX_CATEGORIES,
};
use std::path::{Path, PathBuf};

fn ids(set: CategorySet) -> Vec<u16> {
    set.iter().map(|c| c.0).collect()
}

fn one(format: Format, text: &str) -> (Lists, CategoryId, LoadStats) {
    let mut b = ListsBuilder::new();
    let cat = b.category("test").unwrap();
    let stats = b
        .add_text(cat, format, text.as_bytes(), "test.txt")
        .unwrap();
    (b.build().unwrap(), cat, stats)
}

/// Names added, entries skipped, of which invalid.
fn counts(st: &LoadStats) -> (u64, u64, u64) {
    (st.domains, st.skipped(), st.invalid())
}

/// For each reason with skipped entries: the reason, how many, and their first lines.
fn skips(st: &LoadStats) -> Vec<(SkipReason, u64, Vec<u64>)> {
    SkipReason::ALL
        .into_iter()
        .map(|r| (r, st.skips(r)))
        .filter(|(_, s)| s.count > 0)
        .map(|(r, s)| (r, s.count, s.first_lines().to_vec()))
        .collect()
}

/// A fresh empty folder under the target's temporary area.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lists-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn parent_matching_is_label_aligned() {
    let (l, cat, _) = one(Format::Plain, "example.com\n");
    for host in ["example.com", "www.example.com", "a.b.example.com"] {
        assert!(l.contains(host, cat), "{host}");
    }
    for host in [
        "notexample.com",
        "example.co",
        "com",
        "xample.com",
        "example.com.evil",
        "example.comm",
        "",
        "www-example.com",
    ] {
        assert!(l.lookup(host).is_empty(), "{host}");
    }
}

#[test]
fn shorter_and_sibling_entries() {
    // Entries sharing prefixes in reversed form must not leak into each other.
    let mut b = ListsBuilder::new();
    let a = b.category("a").unwrap();
    let c = b.category("c").unwrap();
    b.add_domain(a, "example.com").unwrap();
    b.add_domain(c, "example-foo.com").unwrap();
    b.add_domain(c, "b.example.com").unwrap();
    b.add_domain(c, "com").unwrap();
    let l = b.build().unwrap();
    assert_eq!(ids(l.lookup("example.com")), vec![0, 1]); // `com` is in c
    assert_eq!(ids(l.lookup("b.example.com")), vec![0, 1]);
    assert_eq!(ids(l.lookup("x.example-foo.com")), vec![1]);
    assert_eq!(ids(l.lookup("bb.example.com")), vec![0, 1]);
    assert_eq!(ids(l.lookup("org")), Vec::<u16>::new());
    assert_eq!(l.len(), 4);
}

#[test]
fn categories_union_across_parents() {
    let mut b = ListsBuilder::new();
    let a = b.category("A").unwrap();
    let bb = b.category("B").unwrap();
    b.add_domain(a, "example.com").unwrap();
    b.add_domain(bb, "www.example.com").unwrap();
    let l = b.build().unwrap();
    let got = l.lookup("x.www.example.com");
    assert!(got.contains(a) && got.contains(bb));
    assert_eq!(got.len(), 2);
    assert_eq!(ids(l.lookup("www.example.com")), vec![0, 1]);
    assert_eq!(ids(l.lookup("example.com")), vec![0]);
    assert_eq!(ids(l.lookup("other.example.com")), vec![0]);
}

#[test]
fn duplicates_merge() {
    let mut b = ListsBuilder::new();
    let a = b.category("a").unwrap();
    let c = b.category("c").unwrap();
    assert_eq!(b.category("a").unwrap(), a, "get-or-create");
    for name in ["Example.COM", "example.com.", "example.com"] {
        b.add_domain(a, name).unwrap();
    }
    b.add_domain(c, "EXAMPLE.com").unwrap();
    b.add_domain(c, "other.net").unwrap();
    assert_eq!(b.entries(), 5);
    let l = b.build().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(ids(l.lookup("example.com")), vec![0, 1]);
    assert_eq!(ids(l.lookup("other.net")), vec![1]);
    let all = l.domains();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, "example.com");
    assert_eq!(all[1].0, "other.net");
}

#[test]
fn category_names() {
    let mut b = ListsBuilder::new();
    let ads = b.category("ads").unwrap();
    let ut = b.category("ut1/gambling").unwrap();
    assert!(matches!(b.category(""), Err(ListError::EmptyCategoryName)));
    let l = b.build().unwrap();
    assert_eq!(l.category_id("ads"), Some(ads));
    assert_eq!(l.category_id("ut1/gambling"), Some(ut));
    assert_eq!(l.category_id("nope"), None);
    assert_eq!(l.category_name(ut), "ut1/gambling");
    assert_eq!(l.category_name(CategoryId(99)), "");
    let all: Vec<(CategoryId, &str)> = l.categories().collect();
    assert_eq!(all, vec![(ads, "ads"), (ut, "ut1/gambling")]);
    assert!(l.is_empty());
    assert!(l.lookup("example.com").is_empty());
}

#[test]
fn more_than_256_categories() {
    let mut b = ListsBuilder::new();
    for i in 0..MAX_CATEGORIES {
        b.category(&format!("c{i}")).unwrap();
    }
    let last = b.category("c255").unwrap();
    assert_eq!(last, CategoryId(255));
    b.add_domain(last, "example.com").unwrap();
    let err = b.category("c256").unwrap_err();
    assert!(matches!(err, ListError::TooManyCategories(_)));
    assert_eq!(
        err.to_string(),
        "too many categories: `c256` would exceed the limit of 256"
    );
    let l = b.build().unwrap();
    assert_eq!(ids(l.lookup("www.example.com")), vec![255]);
}

#[test]
fn unknown_category_id() {
    let mut b = ListsBuilder::new();
    assert!(matches!(
        b.add_domain(CategoryId(0), "example.com"),
        Err(ListError::UnknownCategory(0))
    ));
}

#[test]
fn add_domain_refusals() {
    let mut b = ListsBuilder::new();
    let a = b.category("a").unwrap();
    let err = b.add_domain(a, "1.2.3.4").unwrap_err();
    assert_eq!(err.to_string(), "`1.2.3.4` is an ip address, not a domain");
    let err = b.add_domain(a, "exa mple.com").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid domain `exa mple.com`: invalid character ` `"
    );
    assert_eq!(b.entries(), 0);
}

#[test]
fn idn_entries() {
    let mut b = ListsBuilder::new();
    let a = b.category("a").unwrap();
    b.add_domain(a, "Bücher.de").unwrap();
    b.add_domain(a, "xn--r8jz45g.xn--zckzah").unwrap();
    let stats = b
        .add_text(a, Format::Plain, "ñandú.example\n".as_bytes(), "idn.txt")
        .unwrap();
    assert_eq!(stats.domains, 1);
    let l = b.build().unwrap();
    assert!(l.contains("xn--bcher-kva.de", a));
    assert!(l.contains("www.xn--bcher-kva.de", a));
    assert!(l.contains("xn--r8jz45g.xn--zckzah", a));
    assert!(l.contains("xn--and-6ma2c.example", a));
    assert!(!l.contains("bucher.de", a));
    assert_eq!(l.len(), 3);
}

#[test]
fn plain_format() {
    let text = "\u{feff}# a comment\n\
                example.com\n\
                \n\
                   *.wild.example.org   \r\n\
                .dot.example.net # trailing comment\n\
                UPPER.Example.COM.\n\
                10.0.0.1\n\
                last.example";
    let (l, cat, st) = one(Format::Plain, text);
    assert_eq!(counts(&st), (5, 1, 0));
    assert_eq!(skips(&st), [(SkipReason::IpAddress, 1, vec![7])]);
    for host in [
        "example.com",
        "wild.example.org",
        "x.wild.example.org",
        "dot.example.net",
        "upper.example.com",
        "last.example",
    ] {
        assert!(l.contains(host, cat), "{host}");
    }
    assert!(!l.contains("example.org", cat));
    assert_eq!(l.len(), 5);
}

#[test]
fn hosts_format() {
    let text = "# hosts\n\
                127.0.0.1 localhost localhost.localdomain local\n\
                255.255.255.255 broadcasthost\n\
                ::1 localhost ip6-localhost ip6-loopback\n\
                fe80::1%lo0 localhost\n\
                0.0.0.0 ads.example.com other.example.net # comment\n\
                0.0.0.0\tTabbed.Example.ORG\r\n\
                127.0.0.1 0.0.0.0\n\
                \n\
                0.0.0.0 ads.example.com\n";
    let (l, cat, st) = one(Format::Hosts, text);
    // 4 names added; skipped: localhost x3, broadcasthost, localhost + 2 ip6-*, localhost,
    // and the address used as a name.
    assert_eq!(counts(&st), (4, 9, 0));
    assert_eq!(
        skips(&st),
        [
            (SkipReason::IpAddress, 1, vec![8]),
            (SkipReason::LocalName, 8, vec![2, 3, 4]),
        ]
    );
    assert!(st.skips(SkipReason::LocalName).more_lines());
    assert!(!st.skips(SkipReason::IpAddress).more_lines());
    assert_eq!(l.len(), 3);
    for host in [
        "ads.example.com",
        "x.other.example.net",
        "tabbed.example.org",
    ] {
        assert!(l.contains(host, cat), "{host}");
    }
    assert!(l.lookup("localhost").is_empty());
    assert!(l.lookup("example.com").is_empty());
}

/// Found by the `lists_parse` fuzz target: numeric names with more than 12 digits made of
/// leading zeros (`0x0000000000001`) are IPv4 addresses for request hosts, but were refused as
/// "numeric top-level label", so a strict list holding one failed to load.
#[test]
fn numeric_addresses_with_many_leading_zeros_are_addresses() {
    let names = [
        "0x0000000000001",
        "00000000000000000001.2.3.4",
        "127.0.0.0x00000000000001",
        "0x000000000000000000ffffffff",
    ];
    for name in names {
        assert_eq!(canonicalize(name), Ok(Canonical::Ip), "{name}");
        assert!(destination::Host::parse(name).unwrap().is_ip(), "{name}");
    }
    let (l, _, st) = one(Format::Plain, &names.join("\n"));
    assert_eq!(counts(&st), (0, 4, 0));
    assert!(l.is_empty());
    // Still out of range once the zeros are gone.
    assert_eq!(
        canonicalize("0x00000000000100000000"),
        Err(DomainProblem::NumericTld)
    );
}

#[test]
fn adblock_format() {
    let text = "[Adblock Plus 2.0]\n\
                ! Title: test\n\
                ||ads.example.com^\n\
                ||tracker.example.net^$third-party\n\
                @@||good.example.com^\n\
                example.org##.banner\n\
                ||path.example.com/ads^\n\
                /banner[0-9]+/\n\
                ||1.2.3.4^\n\
                ||*.wild.example^\n\
                ||Mixed.Example.ORG^\n\
                \n\
                ! end\n";
    let (l, cat, st) = one(Format::Adblock, text);
    assert_eq!(counts(&st), (2, 7, 0));
    assert_eq!(
        skips(&st),
        [
            (SkipReason::IpAddress, 1, vec![9]),
            (SkipReason::AdblockRule, 6, vec![4, 5, 6]),
        ]
    );
    assert!(l.contains("ads.example.com", cat));
    assert!(l.contains("a.mixed.example.org", cat));
    for host in [
        "tracker.example.net",
        "good.example.com",
        "example.org",
        "path.example.com",
        "wild.example",
    ] {
        assert!(l.lookup(host).is_empty(), "{host}");
    }
}

#[test]
fn strict_errors_name_source_and_line() {
    let mut b = ListsBuilder::new();
    let cat = b.category("ads").unwrap();
    let err = b
        .add_text(
            cat,
            Format::Plain,
            b"good.example\n# fine\nexa mple\n",
            "/etc/lists/ads.txt",
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/etc/lists/ads.txt` line 3: invalid domain `exa mple`: invalid character ` `"
    );
    let err = b
        .add_text(cat, Format::Hosts, b"\n\nnot-an-ip example.com\n", "hosts")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hosts` line 3: invalid address `not-an-ip`"
    );
    let err = b
        .add_text(
            cat,
            Format::Hosts,
            b"0.0.0.0 ok.example bad..example\n",
            "h",
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`h` line 1: invalid domain `bad..example`: empty label"
    );
    let err = b
        .add_text(cat, Format::Plain, b"a.example\nexample.999\n", "p")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`p` line 2: invalid domain `example.999`: numeric top-level label"
    );
    let err = b
        .add_text(cat, Format::Plain, b"caf\xe9.example\n", "latin1")
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("`latin1` line 1: invalid domain `caf"));
}

#[test]
fn file_errors_name_the_path() {
    let dir = temp_dir("file-errors");
    let path = dir.join("ads.txt");
    std::fs::write(&path, "one.example\n\ntwo.example\nthree example\n").unwrap();
    let mut b = ListsBuilder::new();
    let cat = b.category("ads").unwrap();
    let err = b.add_file(cat, Format::Plain, &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` line 4: invalid domain `three example`: invalid character ` `",
            path.display()
        )
    );
    let missing = dir.join("missing.txt");
    let err = b.add_file(cat, Format::Plain, &missing).unwrap_err();
    assert!(matches!(err, ListError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with(&format!("cannot read `{}`: ", missing.display())));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_over_the_limit_is_refused_by_name_size_and_limit_before_it_is_read() {
    let dir = temp_dir("too-large");
    let path = dir.join("big.txt");
    // Sparse: the size is there, the bytes (zeros, an invalid line) are not.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(lists::MAX_FILE_BYTES + 1)
        .unwrap();
    let mut b = ListsBuilder::new();
    let cat = b.category("big").unwrap();
    let err = b.add_file(cat, Format::Plain, &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is 268435457 bytes, larger than a list file may be: 256 MiB (268435456 bytes)",
            path.display()
        )
    );
    // A limit of the builder's own; a file at the limit loads.
    std::fs::write(&path, "a.example\nb.example\n").unwrap();
    b.set_max_file_bytes(20);
    assert_eq!(counts(&b.add_file(cat, Format::Plain, &path).unwrap()).0, 2);
    b.set_max_file_bytes(19);
    assert!(matches!(
        b.add_file(cat, Format::Plain, &path),
        Err(ListError::FileTooLarge {
            size: Some(20),
            limit: 19,
            ..
        })
    ));
    // A file without a size is cut at the limit.
    b.set_max_file_bytes(1 << 16);
    let err = b
        .add_file(cat, Format::Plain, Path::new("/dev/zero"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/dev/zero` holds more than a list file may: 65536 bytes"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_load_like_text() {
    let dir = temp_dir("files");
    let text = "\u{feff}0.0.0.0 a.example # x\r\n0.0.0.0 b.example c.example\n127.0.0.1 localhost";
    let path = dir.join("hosts");
    std::fs::write(&path, text).unwrap();
    let mut b = ListsBuilder::new();
    let from_file = b.category("file").unwrap();
    let from_text = b.category("text").unwrap();
    let s1 = b.add_file(from_file, Format::Hosts, &path).unwrap();
    let s2 = b
        .add_text(from_text, Format::Hosts, text.as_bytes(), "hosts")
        .unwrap();
    assert_eq!(s1, s2);
    assert_eq!(counts(&s1), (3, 1, 0));
    let l = b.build().unwrap();
    for host in ["a.example", "b.example", "www.c.example"] {
        assert_eq!(ids(l.lookup(host)), vec![0, 1], "{host}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lenient_mode_skips_and_counts() {
    let mut b = ListsBuilder::new();
    assert!(!b.is_lenient());
    b.set_lenient(true);
    let cat = b.category("messy").unwrap();
    let st = b
        .add_text(
            cat,
            Format::Plain,
            b"good.example\nbad name\n-ok-.example\na..b\n1.2.3.4\n",
            "messy",
        )
        .unwrap();
    assert_eq!(counts(&st), (2, 3, 2));
    assert_eq!(
        skips(&st),
        [
            (SkipReason::IpAddress, 1, vec![5]),
            (SkipReason::Invalid, 2, vec![2, 4]),
        ]
    );
    let st = b
        .add_text(
            cat,
            Format::Hosts,
            b"nonsense line\n0.0.0.0 x.example y..example z.example\n",
            "messy-hosts",
        )
        .unwrap();
    assert_eq!(counts(&st), (2, 2, 2));
    assert_eq!(skips(&st), [(SkipReason::Invalid, 2, vec![1, 2])]);
    let l = b.build().unwrap();
    for host in ["good.example", "-ok-.example", "x.example", "z.example"] {
        assert!(l.contains(host, cat), "{host}");
    }
    assert_eq!(l.len(), 4);
}

#[test]
fn ut1_folder() {
    let dir = temp_dir("ut1");
    let mk = |sub: &str, file: &str, text: &str| {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join(file), text).unwrap();
    };
    mk(
        "gambling",
        "domains",
        "casino.example\npoker.example\n10.1.2.3\n",
    );
    mk("gambling", "urls", "casino.example/path\n");
    mk("gambling", "usage", "black\n");
    mk("adult", "domains", "adult.example\ncasino.example\n");
    mk("adult", "expressions", "(porn|xxx)\n");
    mk("empty", "urls", "nothing.example/x\n");
    std::fs::write(dir.join("README"), "not a category").unwrap();

    let mut b = ListsBuilder::new();
    let own = b.category("own").unwrap();
    b.add_domain(own, "poker.example").unwrap();
    let loaded = b.add_ut1_dir("ut1", &dir).unwrap();
    assert_eq!(loaded.len(), 2, "{loaded:?}");
    assert_eq!(counts(&loaded[0].1), (2, 0, 0));
    assert_eq!(counts(&loaded[1].1), (2, 1, 0));
    let l = b.build().unwrap();
    let adult = l.category_id("ut1/adult").unwrap();
    let gambling = l.category_id("ut1/gambling").unwrap();
    assert_eq!(loaded[0].0, adult);
    assert_eq!(loaded[1].0, gambling);
    assert_eq!(l.category_id("ut1/empty"), None);
    assert_eq!(
        ids(l.lookup("www.casino.example")),
        vec![adult.0, gambling.0]
    );
    assert_eq!(ids(l.lookup("poker.example")), vec![own.0, gambling.0]);
    assert_eq!(ids(l.lookup("adult.example")), vec![adult.0]);

    let err = ListsBuilder::new()
        .add_ut1_dir("x", &dir.join("missing"))
        .unwrap_err();
    assert!(matches!(err, ListError::Io { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn format_names() {
    for f in [Format::Hosts, Format::Plain, Format::Adblock] {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
    assert_eq!(
        "ut1".parse::<Format>().unwrap_err().to_string(),
        "unknown list format `ut1`: expected `hosts`, `plain` or `adblock`"
    );
}

#[test]
fn empty_and_default() {
    let l = ListsBuilder::new().build().unwrap();
    assert!(l.is_empty());
    assert!(l.lookup("example.com").is_empty());
    let d = Lists::default();
    assert!(d.lookup("example.com").is_empty());
    assert_eq!(d.categories().count(), 0);
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Lists>();
}

#[test]
fn heap_bytes_counts_the_map() {
    let mut b = ListsBuilder::new();
    let a = b.category("a").unwrap();
    for i in 0..1000 {
        b.add_domain(a, &format!("host{i}.example.com")).unwrap();
    }
    let l = b.build().unwrap();
    assert_eq!(l.len(), 1000);
    assert!(
        l.heap_bytes() > 100 && l.heap_bytes() < 64 * 1024,
        "{}",
        l.heap_bytes()
    );
}

#[test]
fn load_stats_add_counts_and_keep_the_first_lines() {
    let mut a = LoadStats::default();
    a.record_skip(SkipReason::IpAddress, 4);
    a.record_skip(SkipReason::IpAddress, 4);
    a.record_skip(SkipReason::IpAddress, 9);
    let mut b = LoadStats::default();
    b.domains = 2;
    for line in [1, 2, 3] {
        b.record_skip(SkipReason::IpAddress, line);
    }
    b.record_skip(SkipReason::LocalName, 7);
    let sum = a + b;
    assert_eq!(counts(&sum), (2, 7, 0));
    assert_eq!(
        skips(&sum),
        [
            (SkipReason::IpAddress, 6, vec![4, 9, 1]),
            (SkipReason::LocalName, 1, vec![7]),
        ]
    );
    assert!(sum.skips(SkipReason::IpAddress).more_lines());
    assert!(!sum.skips(SkipReason::LocalName).more_lines());
}
