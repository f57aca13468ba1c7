//! Warnings about rules that compile but cannot do what they seem to: rules that can never match,
//! and rules shadowed by an earlier one (Cedar's validator adds its own warnings, e.g. a condition
//! that is always false).

use cedar_policy::pst::{Clause, Expr, Literal, ResourceConstraint};

use super::compile::{at, CompiledRule};
use super::eval::PrincipalScope;
use super::guard::{type_is, Guard};
use super::{Diagnostic, Effect, RuleSource, Severity};

pub fn warnings(sources: &[RuleSource], rules: &[CompiledRule], diags: &mut Vec<Diagnostic>) {
    let mut warn = |rule: &CompiledRule, message: String| {
        if let Some(source) = sources.get(rule.at.0) {
            diags.push(at(source, rule.at.1, Severity::Warning, message));
        }
    };
    for (i, b) in rules.iter().enumerate() {
        if let Some(why) = never(b) {
            warn(b, format!("rule `{}` can never match: {why}", b.meta.id));
            continue;
        }
        for (j, a) in rules.iter().enumerate() {
            if i == j {
                continue;
            }
            if let Some(why) = shadows(a, b, j < i) {
                warn(b, why);
                break;
            }
        }
    }
}

fn never(r: &CompiledRule) -> Option<&'static str> {
    if r.actions.is_empty() {
        return Some("its action scope names neither `http` nor `connect`");
    }
    if r.principal == PrincipalScope::Never {
        return Some("its principal scope names no principal or group");
    }
    if r.lowered.complete && r.lowered.guard == Guard::False {
        return Some("its scope and conditions are never all true");
    }
    None
}

/// Why `b` can never decide because of `a`, if it cannot.
fn shadows(a: &CompiledRule, b: &CompiledRule, a_first: bool) -> Option<String> {
    if !covers(a, b) {
        return None;
    }
    let same_conditions = a.template.clauses() == b.template.clauses();
    let (ida, idb) = (&a.meta.id, &b.meta.id);
    match (a.meta.effect, b.meta.effect) {
        // A forbid without conditions wins over every permit it covers, wherever it is.
        (Effect::Forbid, Effect::Permit) if unconditional(a) || same_conditions => Some(format!(
            "rule `{idb}` can never allow: `forbid` rule `{ida}` refuses every request it matches"
        )),
        (Effect::Forbid, Effect::Forbid) if a_first && (unconditional(a) || same_conditions) => {
            Some(format!(
                "rule `{idb}` is shadowed: the earlier rule `{ida}` refuses every request it matches"
            ))
        }
        (Effect::Permit, Effect::Permit) if a_first && same_conditions && a.meta.tier == b.meta.tier => {
            Some(format!(
                "rule `{idb}` repeats rule `{ida}`: same scope and conditions, it never decides"
            ))
        }
        _ => None,
    }
}

fn unconditional(r: &CompiledRule) -> bool {
    r.template.clauses().iter().all(|c| match c {
        Clause::When(e) => matches!(&**e, Expr::Literal(Literal::Bool(true))),
        Clause::Unless(e) => matches!(&**e, Expr::Literal(Literal::Bool(false))),
    })
}

/// Every request in `b`'s scope is in `a`'s.
fn covers(a: &CompiledRule, b: &CompiledRule) -> bool {
    let principal = match (&a.principal, &b.principal) {
        (PrincipalScope::Any, _) => true,
        (x, y) => x == y,
    };
    let action = b.actions.iter().all(|x| a.actions.contains(x));
    let any_resource = |c: &ResourceConstraint| match c {
        ResourceConstraint::Any => true,
        ResourceConstraint::Is(ty) => type_is(ty, "Gatehouse::Destination"),
        _ => false,
    };
    let resource = any_resource(&a.template.resource) || a.template.resource == b.template.resource;
    principal && action && resource
}
