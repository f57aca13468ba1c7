//! What gatehouse requires of a rule beyond Cedar's validation: its annotations (`@id`, `@reason`,
//! `@tier`) and the names it compares with (groups, categories, locations, terminals, schedules,
//! tiers, roles, weekdays), which must exist.

use std::collections::HashMap;

use cedar_policy::pst::{
    BinaryOp, Clause, EntityOrSlot, EntityUID, Expr, Literal, PrincipalConstraint,
    ResourceConstraint, Var,
};

use super::compile::{rule_name, Parsed};
use super::guard::{attr_of, type_is};
use super::{Diagnostic, Effect, Known, RuleMeta, Severity, ROLES};
use crate::{Tier, Weekday};

/// Identifiers of the built-in rules: a rule may not take one.
const BUILT_IN: &[&str] = &[
    "tier-open",
    "tier-none",
    "global-deny",
    "filtered-allow",
    "filtered-default",
    "intranet-zone",
    "intranet-network",
    "intranet-default",
    "connect-port",
    "address",
    "own-socket",
    "network-allow",
    "global-address",
    "principal-disabled",
    "unregistered-terminal",
    "location-closed",
    "undecidable",
    "rule",
];

/// The rule's metadata, or `None` after recording why it is not a valid rule.
pub fn rule(
    p: &Parsed<'_>,
    known: &Known,
    ids: &mut HashMap<String, (String, u32)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<RuleMeta> {
    let before = diags.len();
    let error = |diags: &mut Vec<Diagnostic>, m: String| diags.push(p.at(0, Severity::Error, m));
    for (key, _) in p.policy.annotations() {
        if !matches!(key, "id" | "reason" | "tier") {
            error(
                diags,
                format!(
                    "{}: unknown annotation `@{key}`; a rule takes `@id`, `@reason` and `@tier`",
                    rule_name(p)
                ),
            );
        }
    }
    let effect = match p.policy.effect() {
        cedar_policy::Effect::Permit => Effect::Permit,
        cedar_policy::Effect::Forbid => Effect::Forbid,
    };
    let id = p.policy.annotation("id").unwrap_or("").to_owned();
    let (line, _) = super::source::line_col(&p.source.text, p.start);
    check_id(p, &id, line, ids, diags);
    let reason = p
        .policy
        .annotation("reason")
        .filter(|r| !r.trim().is_empty())
        .map(str::to_owned);
    if effect == Effect::Forbid && reason.is_none() {
        error(
            diags,
            format!(
                "{}: a `forbid` rule needs `@reason(\"...\")`, the sentence a refused person reads",
                rule_name(p)
            ),
        );
    }
    let tier = match p.policy.annotation("tier") {
        None => None,
        Some(_) if effect == Effect::Forbid => {
            error(
                diags,
                format!("{}: `@tier` applies only to a `permit` rule", rule_name(p)),
            );
            None
        }
        Some(name) => match Tier::parse(name) {
            Some(t) if known.tiers.iter().any(|k| k == name) => Some(t),
            _ => {
                error(
                    diags,
                    format!(
                        "{}: `@tier(\"{name}\")` names no tier; the tiers are {}",
                        rule_name(p),
                        known.tiers.join(", ")
                    ),
                );
                None
            }
        },
    };
    literals(p, known, diags);
    (diags.len() == before).then(|| RuleMeta {
        id,
        effect,
        reason,
        tier,
        file: p.source.name.clone(),
        line,
    })
}

fn check_id(
    p: &Parsed<'_>,
    id: &str,
    line: u32,
    ids: &mut HashMap<String, (String, u32)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut error = |m: String| diags.push(p.at(0, Severity::Error, m));
    if id.is_empty() {
        error("this rule has no `@id(\"...\")`; every rule needs a unique id".into());
        return;
    }
    let well_formed = id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !well_formed {
        error(format!(
            "rule id `{id}` may use only ASCII letters, digits, `-`, `_` and `.` (at most 64)"
        ));
        return;
    }
    if BUILT_IN.contains(&id) {
        error(format!(
            "rule id `{id}` is the id of a built-in rule; choose another"
        ));
        return;
    }
    match ids.get(id) {
        Some((file, first)) => error(format!(
            "rule id `{id}` is used twice; it is first used at {file}:{first}"
        )),
        None => {
            ids.insert(id.to_owned(), (p.source.name.clone(), line));
        }
    }
}

/// The names the rule compares with.
fn literals(p: &Parsed<'_>, known: &Known, diags: &mut Vec<Diagnostic>) {
    let mut c = Literals { p, known, diags };
    match &p.template.principal {
        PrincipalConstraint::Eq(EntityOrSlot::Entity(uid))
        | PrincipalConstraint::In(EntityOrSlot::Entity(uid))
        | PrincipalConstraint::IsIn(_, EntityOrSlot::Entity(uid)) => c.entity(uid),
        _ => {}
    }
    match &p.template.resource {
        ResourceConstraint::Eq(EntityOrSlot::Entity(uid))
        | ResourceConstraint::In(EntityOrSlot::Entity(uid))
        | ResourceConstraint::IsIn(_, EntityOrSlot::Entity(uid)) => c.entity(uid),
        _ => {}
    }
    for clause in p.template.clauses() {
        match clause {
            Clause::When(e) | Clause::Unless(e) => c.expr(e),
        }
    }
}

struct Literals<'a, 'p> {
    p: &'a Parsed<'p>,
    known: &'a Known,
    diags: &'a mut Vec<Diagnostic>,
}

/// What a string attribute is compared with.
#[derive(Clone, Copy)]
enum Names {
    Categories,
    Locations,
    Terminals,
    Schedules,
    Tiers,
    Roles,
    Weekdays,
}

impl Names {
    fn of(e: &Expr) -> Option<Names> {
        Some(match attr_of(e)? {
            (Var::Resource, "categories") => Names::Categories,
            (Var::Context, "location") => Names::Locations,
            (Var::Context, "terminal") => Names::Terminals,
            (Var::Context, "schedules") => Names::Schedules,
            (Var::Principal, "tier") => Names::Tiers,
            (Var::Principal, "role") => Names::Roles,
            (Var::Context, "weekday") => Names::Weekdays,
            _ => return None,
        })
    }

    fn noun(self) -> &'static str {
        match self {
            Names::Categories => "category",
            Names::Locations => "location",
            Names::Terminals => "terminal",
            Names::Schedules => "schedule",
            Names::Tiers => "tier",
            Names::Roles => "role",
            Names::Weekdays => "weekday",
        }
    }
}

impl Literals<'_, '_> {
    fn known_names(&self, names: Names) -> Vec<String> {
        let k = self.known;
        match names {
            Names::Categories => k.categories.clone(),
            Names::Locations => k.locations.clone(),
            Names::Terminals => k.terminals.clone(),
            Names::Schedules => k.schedules.clone(),
            Names::Tiers => k.tiers.clone(),
            Names::Roles => ROLES.iter().map(|r| (*r).to_owned()).collect(),
            Names::Weekdays => Weekday::ALL.iter().map(|d| d.as_str().to_owned()).collect(),
        }
    }

    fn name(&mut self, names: Names, value: &str) {
        // `""` is the location and terminal of an unregistered address.
        if value.is_empty() && matches!(names, Names::Locations | Names::Terminals) {
            return;
        }
        let list = self.known_names(names);
        if list.iter().any(|n| n == value) {
            return;
        }
        let noun = names.noun();
        let hint = if list.is_empty() {
            format!("no {noun} is defined")
        } else {
            let shown: Vec<&str> = list.iter().take(12).map(String::as_str).collect();
            let more = if list.len() > shown.len() {
                ", …"
            } else {
                ""
            };
            format!("the known ones are {}{more}", shown.join(", "))
        };
        let m = format!("{}: unknown {noun} `{value}`; {hint}", rule_name(self.p));
        let d = self.p.at_literal(value, Severity::Error, m);
        self.diags.push(d);
    }

    fn entity(&mut self, uid: &EntityUID) {
        let Some(groups) = &self.known.groups else {
            return;
        };
        if type_is(&uid.ty, "Gatehouse::Group") && !groups.iter().any(|g| g == uid.eid.as_str()) {
            let m = format!(
                "{}: unknown group `{}`; create it with `gatehouse group add`",
                rule_name(self.p),
                uid.eid
            );
            let d = self.p.at_literal(uid.eid.as_str(), Severity::Error, m);
            self.diags.push(d);
        }
    }

    /// Every string literal of `e` (a literal or a set of literals).
    fn strings(e: &Expr) -> Vec<&str> {
        match e {
            Expr::Literal(Literal::String(s)) => vec![s.as_str()],
            Expr::Set(items) => items.iter().flat_map(|i| Literals::strings(i)).collect(),
            _ => Vec::new(),
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Literal(Literal::EntityUID(uid)) => self.entity(uid),
            Expr::BinaryOp { op, left, right } => {
                let compared = matches!(
                    op,
                    BinaryOp::Eq
                        | BinaryOp::NotEq
                        | BinaryOp::Contains
                        | BinaryOp::ContainsAll
                        | BinaryOp::ContainsAny
                );
                if compared {
                    for (attr, other) in [(left, right), (right, left)] {
                        if let Some(names) = Names::of(attr) {
                            for s in Literals::strings(other) {
                                self.name(names, s);
                            }
                        }
                    }
                }
                self.expr(left);
                self.expr(right);
            }
            Expr::UnaryOp { expr, .. }
            | Expr::GetAttr { expr, .. }
            | Expr::HasAttr { expr, .. }
            | Expr::Like { expr, .. } => self.expr(expr),
            Expr::Is { expr, in_expr, .. } => {
                self.expr(expr);
                if let Some(i) = in_expr {
                    self.expr(i);
                }
            }
            Expr::IfThenElse {
                cond,
                then_expr,
                else_expr,
            } => {
                self.expr(cond);
                self.expr(then_expr);
                self.expr(else_expr);
            }
            Expr::Set(items) => items.iter().for_each(|i| self.expr(i)),
            Expr::Record(fields) => fields.values().for_each(|v| self.expr(v)),
            _ => {}
        }
    }
}
