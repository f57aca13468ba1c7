//! The administrator's rules, written in Cedar over the schema gatehouse publishes ([`SCHEMA`]).
//!
//! [`RuleSet::compile`] parses the rule files, validates every rule against the schema (Cedar's
//! validator, strict mode), checks what Cedar cannot know (every rule has a unique `@id`, a `forbid`
//! has a `@reason`, `@tier` names a tier on a `permit`, groups, categories, locations, terminals,
//! schedules and tiers the rules name exist) and warns about rules that can never match or are
//! shadowed. Every diagnostic carries the file, line and column.
//!
//! Evaluation ([`RuleSet::evaluate`], step 5 of the decision) looks only at the rules whose scope can
//! match: they are indexed by action and by principal (group, name, any). A rule whose conditions
//! are all simple facts (location, terminal, weekday, groups, categories, schedules, role, …) is
//! decided by its compiled [`guard`] without Cedar; the others are evaluated by Cedar's authorizer,
//! each rule on its own so that the first match in file order decides. Decisions that needed Cedar
//! are cached under a key of every input they depend on; the cache belongs to the rule set, so a
//! reload (a new rule set) starts empty.
//!
//! INVARIANT: the guard of a rule is exact — it is false only where Cedar's evaluation of the rule
//! is false without error, and when the guard covers the whole rule it is true exactly where Cedar's
//! is true. The tests compare both over randomized inputs.

mod check;
mod compile;
mod eval;
mod guard;
mod lint;
mod needs;
mod source;

use std::fmt;
use std::sync::Arc;

use crate::Tier;

pub use eval::Outcome;

/// The Cedar schema of the rules (`gatehouse policy schema` prints it).
pub const SCHEMA: &str = r#"namespace Gatehouse {
  entity Group;
  entity Principal in [Group] { name: String, tier: String, role: String };
  entity Destination { host: String, categories: Set<String>, port: Long, scheme: String, address?: ipaddr };
  type Context = { method: String, terminal: String, location: String, registered: Bool, open: Bool,
                   weekday: String, hour: Long, minute_of_day: Long, date: String,
                   schedules: Set<String>, session: Bool, session_minutes: Long };
  action http, connect appliesTo { principal: Principal, resource: Destination, context: Context };
}
"#;

/// The roles a principal can have (`principal.role`).
pub const ROLES: [&str; 3] = ["admin", "approver", "user"];

/// One rule file: its name (the path, shown in diagnostics) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    pub name: String,
    pub text: String,
}

/// The names rules may refer to. A literal naming anything else is an error at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Category names in `CategoryId` order (as [`Known::categories_of`] lists them).
    pub categories: Vec<String>,
    /// Tier names (`Known::default` has the four tiers).
    pub tiers: Vec<String>,
    pub locations: Vec<String>,
    pub terminals: Vec<String>,
    pub schedules: Vec<String>,
    /// Group names; `None`: not known here (group names are then not checked).
    pub groups: Option<Vec<String>>,
}

impl Default for Known {
    fn default() -> Self {
        Known {
            categories: Vec::new(),
            tiers: Tier::ALL.iter().map(|t| t.as_str().to_owned()).collect(),
            locations: Vec::new(),
            terminals: Vec::new(),
            schedules: Vec::new(),
            groups: None,
        }
    }
}

impl Known {
    /// The category names of `lists`, in `CategoryId` order.
    pub fn categories_of(lists: &lists::Lists) -> Vec<String> {
        lists
            .categories()
            .map(|(_, name)| name.to_owned())
            .collect()
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The rules are not used.
    Error,
    /// The rules are used; something in them is probably not what was meant.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A finding in a rule file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file,
            self.line,
            self.column,
            self.severity.as_str(),
            self.message
        )
    }
}

/// A rule set that compiled, with the warnings found on the way.
#[derive(Debug)]
pub struct Compiled {
    pub rules: RuleSet,
    pub warnings: Vec<Diagnostic>,
}

/// Whether a rule allows or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Permit,
    Forbid,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        }
    }
}

/// What a decision, a refusal page and the audit trail know of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// The rule's `@id`: stable, unique in the rule set.
    pub id: String,
    pub effect: Effect,
    /// The rule's `@reason`: the sentence a refused person reads (required on `forbid`).
    pub reason: Option<String>,
    /// The rule's `@tier`: a `permit` that names the tier step 6 uses.
    pub tier: Option<Tier>,
    /// Where the rule is written.
    pub file: String,
    pub line: u32,
}

impl RuleMeta {
    /// The sentence for a decision by this rule.
    pub fn explanation(&self) -> &str {
        match (&self.reason, self.effect) {
            (Some(reason), _) => reason,
            (None, Effect::Permit) => "a rule of this gateway allows this request",
            (None, Effect::Forbid) => "a rule of this gateway refuses this request",
        }
    }
}

/// The compiled rules of one configuration. Immutable apart from its decision cache; swapped whole
/// on reload.
pub struct RuleSet {
    rules: Vec<compile::CompiledRule>,
    index: eval::Index,
    /// Category names by `CategoryId` index, for the resource's `categories`.
    categories: Vec<String>,
    /// Whether any rule needs Cedar's evaluation (else no cache is kept).
    cache: Option<eval::Cache>,
    /// Cedar's names for the entity types and actions; `None` only in [`RuleSet::empty`].
    types: Option<eval::Types>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("cached", &self.cache.is_some())
            .finish()
    }
}

impl RuleSet {
    /// Decisions kept in the cache by default.
    pub const DEFAULT_CACHE_CAPACITY: usize = 65_536;

    /// Compile rule files. On any error, every diagnostic (errors and warnings) is returned.
    pub fn compile(sources: &[RuleSource], known: &Known) -> Result<Compiled, Vec<Diagnostic>> {
        compile::compile(sources, known)
    }

    /// A rule set with no rules.
    pub fn empty() -> RuleSet {
        RuleSet::from_rules(Vec::new(), Vec::new(), None)
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in file order.
    pub fn metas(&self) -> impl Iterator<Item = &Arc<RuleMeta>> + '_ {
        self.rules.iter().map(|r| &r.meta)
    }

    /// The same rules with a decision cache of `capacity` entries (0: no cache).
    pub fn with_cache_capacity(mut self, capacity: usize) -> RuleSet {
        self.cache = eval::Cache::new(capacity, &self.rules);
        self
    }

    /// Step 5 of the decision: the outcome of the rules whose scope can match.
    pub fn evaluate(&self, inputs: &crate::Inputs<'_>) -> Outcome {
        eval::evaluate(self, inputs)
    }

    /// Step 5 with every rule evaluated by Cedar, and every rule that matched (for `explain`).
    pub fn trace(&self, inputs: &crate::Inputs<'_>) -> (Outcome, Vec<crate::Matched>) {
        eval::trace(self, inputs)
    }

    fn from_rules(
        rules: Vec<compile::CompiledRule>,
        categories: Vec<String>,
        types: Option<eval::Types>,
    ) -> RuleSet {
        let index = eval::Index::build(&rules);
        let cache = eval::Cache::new(RuleSet::DEFAULT_CACHE_CAPACITY, &rules);
        RuleSet {
            rules,
            index,
            categories,
            cache,
            types,
        }
    }
}

#[cfg(test)]
mod tests;
