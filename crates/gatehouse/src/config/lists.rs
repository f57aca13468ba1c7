//! `[lists.NAME]`: category lists, loaded from files (hosts, plain, AdBlock, UT1 folders) and from
//! `domains`, compiled into one [`Lists`]. What each file loaded and skipped is kept as a
//! [`ListLoad`] for `check-config` and the `serve` log, so a skipped entry is never dropped unseen.
//!
//! Category names are resolved here for the sections that refer to them (`policy.deny`,
//! `tiers.filtered.allow`), with the known names in the message when one is unknown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::lists::{CategorySet, Format, Lists, ListsBuilder, LoadStats, SkipReason};
use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawList {
    format: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    lenient: bool,
}

/// What one list file (or UT1 category file) contributed.
#[derive(Debug, Clone)]
pub struct ListLoad {
    /// The category (for UT1 folders `<list>/<category>`).
    pub category: String,
    pub path: PathBuf,
    pub stats: LoadStats,
}

impl ListLoad {
    /// One line, e.g. ``list `ads`: 1200 domains from `/etc/ads.txt`, 14 entries skipped: 12 IP
    /// addresses (lines 3, 9, 17, …), 2 local names (lines 1, 2)``.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "list `{}`: {} from `{}`",
            self.category,
            plural(self.stats.domains, "domain", "domains"),
            self.path.display()
        );
        if self.stats.skipped() > 0 {
            line.push_str(&format!(
                ", {} skipped: ",
                plural(self.stats.skipped(), "entry", "entries")
            ));
            let reasons: Vec<String> = SkipReason::ALL
                .into_iter()
                .map(|reason| (reason, self.stats.skips(reason)))
                .filter(|(_, skips)| skips.count > 0)
                .map(|(reason, skips)| {
                    let (one, many) = reason.nouns();
                    let lines: Vec<String> =
                        skips.first_lines().iter().map(u64::to_string).collect();
                    let more = if skips.more_lines() { ", …" } else { "" };
                    format!(
                        "{} ({} {}{more})",
                        plural(skips.count, one, many),
                        if lines.len() == 1 { "line" } else { "lines" },
                        lines.join(", ")
                    )
                })
                .collect();
            line.push_str(&reasons.join(", "));
        }
        line
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

enum ListFormat {
    Flat(Format),
    Ut1,
}

/// Load every list. `None` when the lists cannot be compiled at all (reported as a problem).
pub(super) fn load(
    v: &mut Validator<'_>,
    raw: &BTreeMap<String, Spanned<RawList>>,
    base: &Path,
) -> Option<(Lists, Vec<ListLoad>)> {
    let mut builder = ListsBuilder::new();
    let mut loads = Vec::new();
    for (name, list) in raw {
        load_one(v, &mut builder, &mut loads, name, list, base);
    }
    match builder.build() {
        Ok(lists) => Some((lists, loads)),
        Err(e) => {
            v.problem_without_position("lists", e.to_string());
            None
        }
    }
}

fn load_one(
    v: &mut Validator<'_>,
    builder: &mut ListsBuilder,
    loads: &mut Vec<ListLoad>,
    name: &str,
    list: &Spanned<RawList>,
    base: &Path,
) {
    let key = format!("lists.{name}");
    let l = list.get_ref();
    let format = match &l.format {
        None => None,
        Some(f) => match f.get_ref().as_str() {
            "hosts" => Some(ListFormat::Flat(Format::Hosts)),
            "plain" => Some(ListFormat::Flat(Format::Plain)),
            "adblock" => Some(ListFormat::Flat(Format::Adblock)),
            "ut1" => Some(ListFormat::Ut1),
            other => {
                v.err(
                    f,
                    &format!("{key}.format"),
                    format!("`{other}` is not one of `hosts`, `plain`, `adblock`, `ut1`"),
                );
                return;
            }
        },
    };
    builder.set_lenient(l.lenient);
    match (&l.path, format) {
        (Some(path), Some(ListFormat::Ut1)) => {
            let dir = base.join(path.get_ref());
            match builder.add_ut1_dir(name, &dir) {
                Ok(loaded) => {
                    for (cat, stats) in loaded {
                        loads.push(ListLoad {
                            category: builder.category_name(cat).unwrap_or(name).to_string(),
                            path: dir.clone(),
                            stats,
                        });
                    }
                }
                Err(e) => v.err(path, &format!("{key}.path"), e.to_string()),
            }
        }
        (Some(path), Some(ListFormat::Flat(format))) => {
            let file = base.join(path.get_ref());
            let result = builder
                .category(name)
                .and_then(|cat| builder.add_file(cat, format, &file));
            match result {
                Ok(stats) => loads.push(ListLoad {
                    category: name.to_string(),
                    path: file,
                    stats,
                }),
                Err(e) => v.err(path, &format!("{key}.path"), e.to_string()),
            }
        }
        (Some(path), None) => v.err(
            path,
            &format!("{key}.format"),
            "a list with a `path` needs a `format`: one of `hosts`, `plain`, `adblock`, `ut1`"
                .into(),
        ),
        (None, Some(_)) => v.err(
            list,
            &format!("{key}.path"),
            "a list with a `format` needs a `path`".into(),
        ),
        (None, None) => {}
    }
    if !l.domains.is_empty() || l.path.is_none() {
        let cat = match builder.category(name) {
            Ok(c) => c,
            Err(e) => {
                v.err(list, &key, e.to_string());
                return;
            }
        };
        for d in &l.domains {
            if let Err(e) = builder.add_domain(cat, d.get_ref()) {
                v.err(d, &format!("{key}.domains"), e.to_string());
            }
        }
    }
}

/// The categories named by `items`, each of which must be a loaded list or category.
pub(super) fn categories(
    v: &mut Validator<'_>,
    items: &[Spanned<String>],
    key: &str,
    lists: &Lists,
) -> CategorySet {
    let mut set = CategorySet::default();
    for item in items {
        match lists.category_id(item.get_ref()) {
            Some(id) => {
                set.insert(id);
            }
            None => v.err(item, key, unknown_category(item.get_ref(), lists)),
        }
    }
    set
}

fn unknown_category(name: &str, lists: &Lists) -> String {
    let known: Vec<&str> = lists.categories().map(|(_, n)| n).collect();
    if known.is_empty() {
        format!("no list or category named `{name}`; define it under `[lists.{name}]`")
    } else {
        format!(
            "no list or category named `{name}`; known: {}",
            known
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
