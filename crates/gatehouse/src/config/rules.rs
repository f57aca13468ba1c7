//! `[rules]`: the administrator's rules, in Cedar files beside the configuration.
//!
//! ```toml
//! [rules]
//! files = ["rules.cedar"]     # relative to the configuration file's folder
//! ```
//!
//! The files are compiled by `policy::RuleSet::compile` against the names this configuration
//! defines (categories, locations, terminals, schedules, tiers). A problem in a rule file is
//! reported at its own file, line and column (key `rules`); an unreadable file (or one larger than
//! `MAX_CONFIG_BYTES`) at its entry in `files`. Group names are data in the store, so they are checked by `gatehouse policy check`
//! (which opens the store), not here. Warnings (rules that never match or are shadowed) do not
//! stop a load: `check-config` and `policy check` print them and `serve` logs them.

use std::path::Path;
use std::sync::Arc;

use ::lists::Lists;
use ::places::Places;
use ::policy::rules::{Diagnostic, Known, RuleSource};
use ::policy::RuleSet;
use serde::Deserialize;
use toml::Spanned;

use super::problems::Problem;
use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRules {
    files: Vec<Spanned<String>>,
}

/// The rules of one configuration, and what is needed to compile them again (`policy check`,
/// with the store's groups).
#[derive(Debug, Clone, Default)]
pub struct RulesLoaded {
    /// `None` when there are no rule files (the decision skips the rules step).
    pub rules: Option<Arc<RuleSet>>,
    pub sources: Vec<RuleSource>,
    pub known: Known,
    pub warnings: Vec<Diagnostic>,
}

/// Read and compile the rule files named in `[rules] files`.
pub(super) fn load(
    v: &mut Validator<'_>,
    raw: &RawRules,
    base: &Path,
    lists: &Lists,
    places: &Places,
) -> RulesLoaded {
    let known = Known {
        categories: Known::categories_of(lists),
        locations: places
            .locations()
            .iter()
            .map(|l| l.name.to_string())
            .collect(),
        terminals: places
            .terminals()
            .iter()
            .map(|t| t.name.to_string())
            .collect(),
        schedules: places
            .schedules()
            .iter()
            .map(|s| s.name.to_string())
            .collect(),
        ..Known::default()
    };
    let mut sources = Vec::new();
    for file in &raw.files {
        let path = base.join(file.get_ref());
        match super::files::read_text(&path) {
            Ok(text) => sources.push(RuleSource {
                name: path.display().to_string(),
                text,
            }),
            Err(reason) => {
                v.err(
                    file,
                    "rules.files",
                    format!("cannot read the rule file {}: {reason}", path.display()),
                );
            }
        }
    }
    if sources.is_empty() {
        return RulesLoaded {
            known,
            ..RulesLoaded::default()
        };
    }
    match RuleSet::compile(&sources, &known) {
        Ok(compiled) => RulesLoaded {
            rules: Some(Arc::new(compiled.rules)),
            sources,
            known,
            warnings: compiled.warnings,
        },
        Err(diagnostics) => {
            v.problems.extend(diagnostics.into_iter().map(|d| Problem {
                file: d.file,
                line: d.line as usize,
                column: d.column as usize,
                key: "rules".into(),
                message: d.message,
            }));
            RulesLoaded {
                sources,
                known,
                ..RulesLoaded::default()
            }
        }
    }
}
