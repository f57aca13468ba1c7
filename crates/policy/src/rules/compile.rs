//! Compiling rule files: parse (Cedar), check what gatehouse requires of a rule, validate against
//! the schema (Cedar's validator, strict mode), lower each rule's guard, index, lint.

use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::pst::{self, ActionConstraint, EntityOrSlot, PrincipalConstraint, Template};
use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};

use super::check;
use super::eval::{PrincipalScope, Types};
use super::guard::{lower_rule, type_is, Action, Lowered};
use super::lint;
use super::needs::Needs;
use super::source::{chunks, line_col};
use super::{Compiled, Diagnostic, Known, RuleMeta, RuleSet, RuleSource, Severity, SCHEMA};

/// One rule, ready to evaluate.
pub struct CompiledRule {
    pub meta: Arc<RuleMeta>,
    /// The rule alone, for Cedar's authorizer (`explain`).
    pub cedar: PolicySet,
    /// What Cedar evaluates once the guard holds: the residual conditions alone, any scope (the
    /// guard checked the scope). Empty when the guard is the whole rule.
    pub residual: PolicySet,
    /// What the residual conditions read.
    pub needs: Needs,
    pub lowered: Lowered,
    /// The actions its scope names.
    pub actions: Vec<Action>,
    pub principal: PrincipalScope,
    /// Its syntax tree (scope and conditions), for the lints.
    pub template: Template,
    /// Where its text starts: file index and byte offset.
    pub at: (usize, usize),
}

/// A rule parsed, before it is checked.
pub struct Parsed<'s> {
    pub policy: Policy,
    pub template: Template,
    pub source: &'s RuleSource,
    pub file: usize,
    /// The rule's text and its byte offset in the file.
    pub text: &'s str,
    pub start: usize,
}

impl Parsed<'_> {
    /// A diagnostic at a byte offset within the rule's text.
    pub fn at(&self, offset: usize, severity: Severity, message: String) -> Diagnostic {
        at(self.source, self.start + offset, severity, message)
    }

    /// A diagnostic at the first place the rule's text quotes `literal`, else at its start.
    pub fn at_literal(&self, literal: &str, severity: Severity, message: String) -> Diagnostic {
        let quoted = format!("\"{literal}\"");
        self.at(self.text.find(&quoted).unwrap_or(0), severity, message)
    }
}

/// A diagnostic at a byte offset in a file.
pub fn at(source: &RuleSource, offset: usize, severity: Severity, message: String) -> Diagnostic {
    let (line, column) = line_col(&source.text, offset);
    Diagnostic {
        file: source.name.clone(),
        line,
        column,
        severity,
        message,
    }
}

/// A diagnostic from one of Cedar's errors, whose labels carry offsets from `base`.
fn from_cedar(
    source: &RuleSource,
    base: usize,
    e: &(dyn miette::Diagnostic + Send + Sync),
    severity: Severity,
) -> Diagnostic {
    let offset = e
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0, |l| l.offset());
    let mut message = e.to_string();
    if let Some(help) = e.help() {
        message.push_str("; ");
        message.push_str(&help.to_string());
    }
    at(source, base + offset, severity, message)
}

pub fn compile(sources: &[RuleSource], known: &Known) -> Result<Compiled, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let internal = |message: String| Diagnostic {
        file: sources.first().map(|s| s.name.clone()).unwrap_or_default(),
        line: 1,
        column: 1,
        severity: Severity::Error,
        message,
    };
    let types = Types::new().map_err(|e| vec![internal(e)])?;
    let schema = Schema::from_cedarschema_str(SCHEMA)
        .map(|(schema, _)| schema)
        .map_err(|e| vec![internal(format!("the rule schema does not compile: {e}"))])?;
    let parsed = parse(sources, &mut diags);
    let mut all = PolicySet::new();
    for p in &parsed {
        if let Err(e) = all.add(p.policy.clone()) {
            diags.push(p.at(0, Severity::Error, e.to_string()));
        }
    }
    validate(&schema, &all, &parsed, &mut diags);
    let mut rules = Vec::with_capacity(parsed.len());
    let mut ids = std::collections::HashMap::new();
    for p in &parsed {
        let Some(meta) = check::rule(p, known, &mut ids, &mut diags) else {
            continue;
        };
        let mut cedar = PolicySet::new();
        if let Err(e) = cedar.add(p.policy.clone()) {
            diags.push(p.at(0, Severity::Error, e.to_string()));
            continue;
        }
        let lowered = lower_rule(&p.template, &known.categories);
        let residual = match residual(p, &lowered) {
            Ok(r) => r,
            Err(e) => {
                diags.push(p.at(0, Severity::Error, e));
                continue;
            }
        };
        let needs = lowered.residual.as_ref().map(Needs::of).unwrap_or_default();
        rules.push(CompiledRule {
            meta: Arc::new(meta),
            cedar,
            residual,
            needs,
            lowered,
            actions: actions(&p.template.action),
            principal: principal_scope(&p.template.principal),
            template: p.template.clone(),
            at: (p.file, p.start),
        });
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    lint::warnings(sources, &rules, &mut diags);
    Ok(Compiled {
        rules: RuleSet::from_rules(rules, known.categories.clone(), Some(types)),
        warnings: diags,
    })
}

/// The policy Cedar evaluates after the guard: `permit (principal, action, resource) when { rest };`.
fn residual(p: &Parsed<'_>, lowered: &Lowered) -> Result<PolicySet, String> {
    let mut set = PolicySet::new();
    let Some(rest) = &lowered.residual else {
        return Ok(set);
    };
    let template = Template::new(
        p.template.id.clone(),
        pst::Effect::Permit,
        PrincipalConstraint::Any,
        ActionConstraint::Any,
        pst::ResourceConstraint::Any,
    )
    .try_with_clauses(vec![pst::Clause::When(Arc::new(rest.clone()))])
    .map_err(|e| e.to_string())?;
    let body = pst::StaticPolicy::try_from(template).map_err(|e| e.to_string())?;
    let policy = Policy::from_pst(pst::Policy::Static(body)).map_err(|e| e.to_string())?;
    set.add(policy).map_err(|e| e.to_string())?;
    Ok(set)
}

/// Every rule of every file, parsed on its own; parse errors become diagnostics.
fn parse<'s>(sources: &'s [RuleSource], diags: &mut Vec<Diagnostic>) -> Vec<Parsed<'s>> {
    let mut out = Vec::new();
    for (file, source) in sources.iter().enumerate() {
        // The whole file first: Cedar's own errors, positioned by Cedar.
        if let Err(errors) = PolicySet::from_str(&source.text) {
            for e in errors.iter() {
                diags.push(from_cedar(source, 0, e, Severity::Error));
            }
            continue;
        }
        for chunk in chunks(&source.text) {
            let text = source.text.get(chunk.start..chunk.end).unwrap_or("");
            let id = PolicyId::new(format!("rule{}", out.len()));
            let policy = match Policy::parse(Some(id), text) {
                Ok(p) => p,
                Err(errors) => {
                    for e in errors.iter() {
                        diags.push(from_cedar(source, chunk.start, e, Severity::Error));
                    }
                    continue;
                }
            };
            let template = match policy.to_pst() {
                Ok(pst::Policy::Static(s)) => s.body().clone(),
                Ok(_) => {
                    diags.push(at(
                        source,
                        chunk.start,
                        Severity::Error,
                        "a rule cannot be a template (no `?principal` or `?resource`)".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    diags.push(at(source, chunk.start, Severity::Error, e.to_string()));
                    continue;
                }
            };
            out.push(Parsed {
                policy,
                template,
                source,
                file,
                text,
                start: chunk.start,
            });
        }
    }
    out
}

/// Cedar's validator over every rule (strict mode): errors, and warnings (e.g. a rule that can
/// never match). One diagnostic per place: Cedar repeats an error once per action.
fn validate(schema: &Schema, all: &PolicySet, parsed: &[Parsed<'_>], diags: &mut Vec<Diagnostic>) {
    let result = Validator::new(schema.clone()).validate(all, ValidationMode::Strict);
    let find = |id: &PolicyId| parsed.iter().find(|p| p.policy.id() == id);
    let errors = result.validation_errors().map(|e| {
        (
            e.policy_id(),
            e as &(dyn miette::Diagnostic + Send + Sync),
            Severity::Error,
        )
    });
    let warnings = result.validation_warnings().map(|w| {
        (
            w.policy_id(),
            w as &(dyn miette::Diagnostic + Send + Sync),
            Severity::Warning,
        )
    });
    for (id, e, severity) in errors.chain(warnings) {
        let Some(p) = find(id) else { continue };
        let mut d = from_cedar(p.source, p.start, e, severity);
        // Cedar names the rule by the id gatehouse gave it; the person knows it by its `@id`.
        let internal = format!("for policy `{id}`, ");
        d.message = format!("{}: {}", rule_name(p), d.message.replace(&internal, ""));
        let repeated = diags.iter().any(|o| {
            (&o.file, o.line, o.column, o.severity) == (&d.file, d.line, d.column, d.severity)
        });
        if !repeated {
            diags.push(d);
        }
    }
}

/// How a diagnostic names a rule: by its `@id` when it has one.
pub fn rule_name(p: &Parsed<'_>) -> String {
    match p.policy.annotation("id") {
        Some(id) if !id.is_empty() => format!("rule `{id}`"),
        _ => "this rule".to_owned(),
    }
}

fn actions(c: &ActionConstraint) -> Vec<Action> {
    let one = |uid: &pst::EntityUID| {
        if !type_is(&uid.ty, "Gatehouse::Action") {
            return None;
        }
        match uid.eid.as_str() {
            "http" => Some(Action::Http),
            "connect" => Some(Action::Connect),
            _ => None,
        }
    };
    match c {
        ActionConstraint::Any => vec![Action::Http, Action::Connect],
        ActionConstraint::Eq(uid) => one(uid).into_iter().collect(),
        ActionConstraint::In(uids) => {
            let mut v: Vec<Action> = uids.iter().filter_map(one).collect();
            v.sort_by_key(|a| *a as u8);
            v.dedup();
            v
        }
    }
}

pub fn principal_scope(c: &PrincipalConstraint) -> PrincipalScope {
    let of = |e: &EntityOrSlot, within: bool| match e {
        EntityOrSlot::Entity(uid) if type_is(&uid.ty, "Gatehouse::Principal") => {
            PrincipalScope::Name(uid.eid.as_str().into())
        }
        EntityOrSlot::Entity(uid) if within && type_is(&uid.ty, "Gatehouse::Group") => {
            PrincipalScope::Group(uid.eid.as_str().into())
        }
        _ => PrincipalScope::Never,
    };
    let is_principal = |ty: &pst::EntityType| type_is(ty, "Gatehouse::Principal");
    match c {
        PrincipalConstraint::Any => PrincipalScope::Any,
        PrincipalConstraint::Is(ty) if is_principal(ty) => PrincipalScope::Any,
        PrincipalConstraint::Eq(e) => of(e, false),
        PrincipalConstraint::In(e) => of(e, true),
        PrincipalConstraint::IsIn(ty, e) if is_principal(ty) => of(e, true),
        _ => PrincipalScope::Never,
    }
}
