//! Properties of the list loaders and the compiled lookup that must hold for any text at all.
//!
//! Shared by two callers: the `lists_parse` fuzz target in `fuzz/` includes this file
//! (`#[path]`) and runs it on every generated input, and the `corpus` module replays the
//! committed seed corpus through it in every test run, without libFuzzer. [`check_lists`]
//! panics with a message when a property fails.
//!
//! The text is loaded as a hosts, a plain and an AdBlock list (one category each) and compared
//! with a small model of the three formats as documented on [`Format`]:
//! - loading never panics, and the counts of added entries and of entries skipped for each
//!   reason, with the lines of the first ones, are the model's;
//! - in strict mode a list loads if and only if the model finds no bad line, and the error names
//!   the first bad line;
//! - every name accepted is in [`Lists::domains`] and found by [`Lists::lookup`], with its
//!   subdomains, and nothing else is found: a lookup gives exactly the categories of the entries
//!   that are the host or one of its parents at a label boundary;
//! - an accepted name is canonical: [`canonicalize`] gives it back unchanged, and
//!   `destination::Host::parse` (the canonicaliser of request hosts) gives the same domain for
//!   it and for the spelling in the list, so that a listed name matches its requests;
//! - every name in a list is read as `destination::Host::parse` reads it: the same domain, an
//!   address, or refused (percent-encoding, which is not list syntax, aside).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use destination::Host;
use lists::{
    canonicalize, Canonical, CategoryId, Format, ListError, Lists, ListsBuilder, LoadStats,
    SkipReason,
};

const FORMATS: [Format; 3] = [Format::Hosts, Format::Plain, Format::Adblock];

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// What the model expects from one list.
#[derive(Debug, Default)]
struct Expected {
    /// Canonical domains added, with the spelling they were added as.
    domains: Vec<(String, Vec<u8>)>,
    /// Every name looked at (added or not), as spelled.
    names: Vec<Vec<u8>>,
    stats: LoadStats,
    /// Line number (1-based) of the first line that fails in strict mode.
    first_bad_line: Option<u64>,
}

/// The lines of a list: split at LF after a leading UTF-8 byte order mark; a final LF does not
/// start another line.
fn lines(text: &[u8]) -> Vec<&[u8]> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.is_empty() || text.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

fn before_comment(line: &[u8]) -> &[u8] {
    line.split(|&b| b == b'#').next().unwrap_or_default()
}

/// A hosts file address: an IP address, IPv6 with an optional `%zone`.
fn is_address(field: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(field) else {
        return false;
    };
    let text = match text.split_once('%') {
        Some((addr, _)) if addr.contains(':') => addr,
        _ => text,
    };
    text.parse::<IpAddr>().is_ok()
}

fn is_local_name(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_slice(),
        b"localhost" | b"localhost.localdomain" | b"local" | b"broadcasthost"
    ) || lower.starts_with(b"ip6-")
}

/// The crate's canonical form of one name, or `None` when it is refused.
fn canonical(name: &[u8]) -> Option<Canonical> {
    std::str::from_utf8(name)
        .ok()
        .and_then(|s| canonicalize(s).ok())
}

/// One name of a hosts or plain list: added, skipped (an address), or a bad line.
fn model_name(e: &mut Expected, lenient: bool, lineno: u64, name: &[u8]) -> bool {
    e.names.push(name.to_vec());
    match canonical(name) {
        Some(Canonical::Domain(d)) => {
            e.domains.push((d, name.to_vec()));
            e.stats.domains += 1;
        }
        Some(Canonical::Ip) => e.stats.record_skip(SkipReason::IpAddress, lineno),
        None if lenient => e.stats.record_skip(SkipReason::Invalid, lineno),
        None => {
            e.first_bad_line = Some(lineno);
            return false;
        }
    }
    true
}

/// The model of the three formats, as `Format`'s documentation describes them.
fn model(format: Format, text: &[u8], lenient: bool) -> Expected {
    let mut e = Expected::default();
    for (lineno, line) in (1u64..).zip(lines(text)) {
        match format {
            Format::Plain => {
                let line = before_comment(line).trim_ascii();
                if line.is_empty() {
                    continue;
                }
                let name = line
                    .strip_prefix(b"*.")
                    .or_else(|| line.strip_prefix(b"."))
                    .unwrap_or(line);
                if !model_name(&mut e, lenient, lineno, name) {
                    return e;
                }
            }
            Format::Hosts => {
                let mut fields = before_comment(line)
                    .split(u8::is_ascii_whitespace)
                    .filter(|f| !f.is_empty());
                let Some(address) = fields.next() else {
                    continue;
                };
                if !is_address(address) {
                    if !lenient {
                        e.first_bad_line = Some(lineno);
                        return e;
                    }
                    e.stats.record_skip(SkipReason::Invalid, lineno);
                    continue;
                }
                for name in fields {
                    if is_local_name(name) {
                        e.stats.record_skip(SkipReason::LocalName, lineno);
                    } else if !model_name(&mut e, lenient, lineno, name) {
                        return e;
                    }
                }
            }
            Format::Adblock => {
                let line = line.trim_ascii();
                if line.is_empty() || line.starts_with(b"!") || line.starts_with(b"[") {
                    continue;
                }
                let rule = line.strip_prefix(b"||").and_then(|r| r.strip_suffix(b"^"));
                e.names.extend(rule.map(<[u8]>::to_vec));
                match rule.and_then(canonical) {
                    Some(Canonical::Domain(d)) => {
                        e.domains.push((d, rule.unwrap_or_default().to_vec()));
                        e.stats.domains += 1;
                    }
                    Some(Canonical::Ip) => e.stats.record_skip(SkipReason::IpAddress, lineno),
                    // Not a `||domain^` rule at all, or one whose name is not a domain.
                    None => e.stats.record_skip(SkipReason::AdblockRule, lineno),
                }
            }
        }
    }
    e
}

/// The categories a lookup of `host` must give: those of every entry that is `host` or one of
/// its parents at a label boundary.
fn expected_lookup(entries: &BTreeMap<String, Vec<u16>>, host: &str) -> Vec<u16> {
    let mut cats: Vec<u16> = Vec::new();
    let mut suffix = host;
    loop {
        if let Some(c) = entries.get(suffix) {
            cats.extend(c);
        }
        match suffix.split_once('.') {
            Some((_, parent)) => suffix = parent,
            None => break,
        }
    }
    cats.sort_unstable();
    cats.dedup();
    cats
}

fn lookup(lists: &Lists, host: &str) -> Vec<u16> {
    lists.lookup(host).iter().map(|c| c.0).collect()
}

/// Every accepted name is canonical, and canonical for request hosts too.
fn check_canonical(domain: &str, spelling: &[u8]) {
    assert_eq!(
        canonicalize(domain),
        Ok(Canonical::Domain(domain.to_owned())),
        "canonical form {domain:?} of {:?} is not canonical",
        show(spelling)
    );
    let as_host = Host::parse(domain).map(|h| h.to_string());
    assert_eq!(
        as_host.as_deref(),
        Ok(domain),
        "list entry {domain:?} is not a request host of the same name"
    );
    let spelled = std::str::from_utf8(spelling).unwrap();
    let request = Host::parse(spelled).map(|h| h.to_string());
    assert_eq!(
        request.as_deref(),
        Ok(domain),
        "a request for {spelled:?} would not match the entry {domain:?} it adds"
    );
}

/// List entries and request hosts are canonicalised alike: a name that
/// `destination::Host::parse` reads as a domain gives the same domain here, one it reads as an
/// IP address is an address here (and skipped), and one it refuses is not a domain here either.
/// Percent-encoding, which request hosts may carry, is not list syntax and is left out.
fn check_agrees_with_destination(name: &[u8]) {
    let Ok(text) = std::str::from_utf8(name) else {
        return;
    };
    if text.contains('%') {
        return;
    }
    let ours = canonicalize(text);
    match Host::parse(text) {
        Ok(Host::Domain(d)) => assert_eq!(
            ours,
            Ok(Canonical::Domain(d.as_str().to_owned())),
            "list entry {text:?}: request hosts read it as {d}"
        ),
        Ok(ip) => assert_eq!(
            ours,
            Ok(Canonical::Ip),
            "list entry {text:?}: request hosts read it as the address {ip}"
        ),
        Err(e) => assert!(
            !matches!(ours, Ok(Canonical::Domain(_))),
            "list entry {text:?} accepted as {ours:?}, refused as a request host: {e}"
        ),
    }
}

/// The list properties of this module, on `text`.
pub fn check_lists(text: &[u8]) {
    // Lenient: all three formats into one builder, one category each.
    let mut builder = ListsBuilder::new();
    builder.set_lenient(true);
    let mut entries: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for format in FORMATS {
        let cat = builder.category(format.name()).unwrap();
        let stats = builder
            .add_text(cat, format, text, "fuzz")
            .unwrap_or_else(|e| panic!("lenient {format} load failed: {e}"));
        let expected = model(format, text, true);
        assert_eq!(stats, expected.stats, "{format} counts of {:?}", show(text));
        for name in &expected.names {
            check_agrees_with_destination(name);
        }
        for (domain, spelling) in &expected.domains {
            check_canonical(domain, spelling);
            let cats = entries.entry(domain.clone()).or_default();
            if !cats.contains(&cat.0) {
                cats.push(cat.0);
            }
        }
    }
    let lists = builder.build().unwrap();
    assert_eq!(lists.len(), entries.len());
    let domains: BTreeMap<String, Vec<u16>> = lists
        .domains()
        .into_iter()
        .map(|(name, set)| (name, set.iter().map(|c| c.0).collect()))
        .collect();
    assert_eq!(domains, entries, "compiled domains of {:?}", show(text));

    for domain in entries.keys() {
        let mut probes = vec![
            domain.clone(),
            format!("x.{domain}"),
            format!("x{domain}"),
            format!("x-{domain}"),
        ];
        let mut parent = domain.as_str();
        while let Some((_, p)) = parent.split_once('.') {
            probes.push(p.to_owned());
            probes.push(format!("{p}.x"));
            parent = p;
        }
        if let Some((_, tail)) = domain.split_at_checked(1) {
            probes.push(tail.to_owned());
        }
        for probe in probes {
            assert_eq!(
                lookup(&lists, &probe),
                expected_lookup(&entries, &probe),
                "lookup of {probe:?}"
            );
        }
    }
    for (id, name) in lists.categories() {
        assert_eq!(lists.category_id(name), Some(id));
        assert_eq!(lists.category_name(id), name);
    }
    assert!(lists.lookup("").is_empty());
    assert_eq!(lists.category_name(CategoryId(999)), "");

    // Strict: each format alone fails exactly at the model's first bad line.
    for format in FORMATS {
        let mut builder = ListsBuilder::new();
        let cat = builder.category("strict").unwrap();
        let expected = model(format, text, false);
        match (
            builder.add_text(cat, format, text, "fuzz"),
            expected.first_bad_line,
        ) {
            (Ok(stats), None) => assert_eq!(stats, expected.stats, "strict {format} counts"),
            (Err(ListError::Line { line, origin, .. }), Some(bad)) => {
                assert_eq!((line, origin.as_str()), (bad, "fuzz"), "strict {format}");
            }
            (got, want) => panic!(
                "strict {format} load of {:?}: got {got:?}, first bad line {want:?}",
                show(text)
            ),
        }
    }
}
