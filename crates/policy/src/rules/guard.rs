//! A rule's guard: the part of a rule that can be decided from plain facts without Cedar.
//!
//! [`lower_rule`] turns the rule's scope and the leading conditions that are simple comparisons of
//! the request's facts with literals into a [`Guard`], evaluated on [`Facts`] in a few nanoseconds.
//! Only total expressions are lowered (none can raise an evaluation error), and only a prefix of the
//! rule's `&&` chain, in Cedar's order of evaluation: so a false guard means Cedar's evaluation is
//! false without error. When the whole rule is lowered, the guard is the rule.

use std::borrow::Cow;
use std::sync::Arc;

use cedar_policy::pst::{
    ActionConstraint, BinaryOp, Clause, EntityOrSlot, EntityType, EntityUID, Expr, Literal,
    PrincipalConstraint, ResourceConstraint, Template, UnaryOp, Var,
};
use lists::{CategoryId, CategorySet};

/// A string fact of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFact {
    Name,
    Role,
    Tier,
    Host,
    Scheme,
    Method,
    Terminal,
    Location,
    Weekday,
    Date,
}

/// A number fact of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongFact {
    Port,
    Hour,
    MinuteOfDay,
    SessionMinutes,
}

/// A yes/no fact of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolFact {
    Registered,
    Open,
    Session,
    HasAddress,
}

/// A comparison of a number fact with a literal (`fact OP literal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The action of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Http,
    Connect,
}

/// An exact, total condition on [`Facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    True,
    False,
    Str(StrFact, Box<str>),
    Long(LongFact, Cmp, i64),
    Bool(BoolFact),
    Action(Action),
    /// `resource.categories.contains(..)`; `None`: a category no list has.
    Category(Option<CategoryId>),
    Schedule(Box<str>),
    InGroup(Box<str>),
    Not(Box<Guard>),
    And(Vec<Guard>),
    Or(Vec<Guard>),
}

/// The facts of one request, as the rules see them.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub tier: &'static str,
    pub groups: &'a [Arc<str>],
    pub action: Action,
    pub host: Cow<'a, str>,
    pub scheme: &'static str,
    pub method: &'a str,
    pub port: i64,
    pub has_address: bool,
    pub categories: CategorySet,
    pub terminal: &'a str,
    pub location: &'a str,
    pub registered: bool,
    pub open: bool,
    pub weekday: &'static str,
    pub minute_of_day: i64,
    pub date: String,
    pub schedules: &'a [Arc<str>],
    pub session: bool,
    pub session_minutes: i64,
}

impl<'a> Facts<'a> {
    pub fn of(inputs: &crate::Inputs<'a>) -> Facts<'a> {
        let place = &inputs.place;
        Facts {
            name: inputs.principal,
            role: inputs.role,
            tier: inputs.tier.as_str(),
            groups: inputs.groups,
            action: if inputs.connect {
                Action::Connect
            } else {
                Action::Http
            },
            host: match inputs.host.as_domain() {
                Some(d) => Cow::Borrowed(d.as_str()),
                None => Cow::Owned(inputs.host.to_string()),
            },
            scheme: if inputs.connect { "tunnel" } else { "http" },
            method: inputs.method,
            port: i64::from(inputs.port),
            has_address: inputs.host.is_ip(),
            categories: inputs.categories,
            terminal: place.terminal.unwrap_or(""),
            location: place.location.unwrap_or(""),
            registered: place.is_registered(),
            open: place.open,
            weekday: place.local.weekday.as_str(),
            minute_of_day: i64::from(place.local.minute_of_day),
            date: place.local.date_string(),
            schedules: place.schedules,
            session: place.session.is_some(),
            session_minutes: place.session.map_or(0, |s| i64::from(s.minutes)),
        }
    }

    fn str(&self, fact: StrFact) -> &str {
        match fact {
            StrFact::Name => self.name,
            StrFact::Role => self.role,
            StrFact::Tier => self.tier,
            StrFact::Host => &self.host,
            StrFact::Scheme => self.scheme,
            StrFact::Method => self.method,
            StrFact::Terminal => self.terminal,
            StrFact::Location => self.location,
            StrFact::Weekday => self.weekday,
            StrFact::Date => &self.date,
        }
    }

    fn long(&self, fact: LongFact) -> i64 {
        match fact {
            LongFact::Port => self.port,
            LongFact::Hour => self.minute_of_day / 60,
            LongFact::MinuteOfDay => self.minute_of_day,
            LongFact::SessionMinutes => self.session_minutes,
        }
    }

    fn bool(&self, fact: BoolFact) -> bool {
        match fact {
            BoolFact::Registered => self.registered,
            BoolFact::Open => self.open,
            BoolFact::Session => self.session,
            BoolFact::HasAddress => self.has_address,
        }
    }
}

impl Guard {
    pub fn eval(&self, f: &Facts<'_>) -> bool {
        match self {
            Guard::True => true,
            Guard::False => false,
            Guard::Str(fact, lit) => f.str(*fact) == &**lit,
            Guard::Long(fact, cmp, lit) => {
                let v = f.long(*fact);
                match cmp {
                    Cmp::Eq => v == *lit,
                    Cmp::Lt => v < *lit,
                    Cmp::Le => v <= *lit,
                    Cmp::Gt => v > *lit,
                    Cmp::Ge => v >= *lit,
                }
            }
            Guard::Bool(fact) => f.bool(*fact),
            Guard::Action(a) => f.action == *a,
            Guard::Category(id) => id.is_some_and(|id| f.categories.contains(id)),
            Guard::Schedule(name) => f.schedules.iter().any(|s| **s == **name),
            Guard::InGroup(g) => f.groups.iter().any(|s| **s == **g),
            Guard::Not(g) => !g.eval(f),
            Guard::And(gs) => gs.iter().all(|g| g.eval(f)),
            Guard::Or(gs) => gs.iter().any(|g| g.eval(f)),
        }
    }
}

/// A rule lowered: its guard, and whether Cedar must still evaluate the rest of it.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub guard: Guard,
    /// The guard is the whole rule.
    pub complete: bool,
}

/// Lower a rule: its scope, then the longest prefix of its conditions that lowers.
pub fn lower_rule(t: &Template, categories: &[String]) -> Lowered {
    let l = Lower { categories };
    let mut parts = vec![
        l.principal(&t.principal),
        l.action(&t.action),
        l.resource(&t.resource),
    ];
    let mut conjuncts: Vec<Cow<'_, Expr>> = Vec::new();
    for clause in t.clauses() {
        match clause {
            Clause::When(e) => flatten_and(e, &mut conjuncts),
            Clause::Unless(e) => conjuncts.push(Cow::Owned(Expr::UnaryOp {
                op: UnaryOp::Not,
                expr: e.clone(),
            })),
        }
    }
    let mut complete = true;
    for c in &conjuncts {
        match l.expr(c) {
            Some(g) => parts.push(g),
            None => {
                complete = false;
                break;
            }
        }
    }
    parts.retain(|g| *g != Guard::True);
    let guard = match parts.len() {
        0 => Guard::True,
        1 => parts.pop().unwrap_or(Guard::True),
        _ => Guard::And(parts),
    };
    Lowered { guard, complete }
}

/// The conjuncts of `e` in evaluation order.
fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<Cow<'e, Expr>>) {
    match e {
        Expr::BinaryOp {
            op: BinaryOp::And,
            left,
            right,
        } => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        other => out.push(Cow::Borrowed(other)),
    }
}

pub fn type_is(ty: &EntityType, name: &str) -> bool {
    ty.to_string() == name
}

struct Lower<'c> {
    categories: &'c [String],
}

impl Lower<'_> {
    fn principal(&self, c: &PrincipalConstraint) -> Guard {
        match c {
            PrincipalConstraint::Any => Guard::True,
            PrincipalConstraint::Eq(e) => self.principal_is(e, false),
            PrincipalConstraint::In(e) => self.principal_is(e, true),
            PrincipalConstraint::Is(ty) => principal_type(ty),
            PrincipalConstraint::IsIn(ty, e) => {
                Guard::And(vec![principal_type(ty), self.principal_is(e, true)])
            }
        }
    }

    fn principal_is(&self, e: &EntityOrSlot, within: bool) -> Guard {
        match e {
            EntityOrSlot::Entity(uid) => principal_in(uid, within),
            // Templates are refused at compile time; a slot never matches.
            _ => Guard::False,
        }
    }

    fn action(&self, c: &ActionConstraint) -> Guard {
        match c {
            ActionConstraint::Any => Guard::True,
            ActionConstraint::Eq(uid) => action(uid),
            ActionConstraint::In(uids) => Guard::Or(uids.iter().map(action).collect()),
        }
    }

    fn resource(&self, c: &ResourceConstraint) -> Guard {
        let is = |e: &EntityOrSlot| match e {
            EntityOrSlot::Entity(uid) if type_is(&uid.ty, "Gatehouse::Destination") => {
                Guard::Str(StrFact::Host, uid.eid.as_str().into())
            }
            _ => Guard::False,
        };
        match c {
            ResourceConstraint::Any => Guard::True,
            ResourceConstraint::Eq(e) | ResourceConstraint::In(e) => is(e),
            ResourceConstraint::Is(ty) => resource_type(ty),
            ResourceConstraint::IsIn(ty, e) => Guard::And(vec![resource_type(ty), is(e)]),
        }
    }

    /// A total boolean expression over the facts, or `None`.
    fn expr(&self, e: &Expr) -> Option<Guard> {
        match e {
            Expr::Literal(Literal::Bool(true)) => Some(Guard::True),
            Expr::Literal(Literal::Bool(false)) => Some(Guard::False),
            Expr::UnaryOp {
                op: UnaryOp::Not,
                expr,
            } => Some(Guard::Not(Box::new(self.expr(expr)?))),
            Expr::BinaryOp { op, left, right } => self.binary(*op, left, right),
            Expr::HasAttr { expr, attrs } => match (&**expr, attrs.len()) {
                (Expr::Var(Var::Resource), 1) if attrs.head.as_str() == "address" => {
                    Some(Guard::Bool(BoolFact::HasAddress))
                }
                _ => None,
            },
            _ => bool_fact(e).map(Guard::Bool),
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Option<Guard> {
        match op {
            BinaryOp::And => Some(Guard::And(vec![self.expr(left)?, self.expr(right)?])),
            BinaryOp::Or => Some(Guard::Or(vec![self.expr(left)?, self.expr(right)?])),
            BinaryOp::Eq => self.equal(left, right).or_else(|| self.equal(right, left)),
            BinaryOp::NotEq => Some(Guard::Not(Box::new(
                self.equal(left, right)
                    .or_else(|| self.equal(right, left))?,
            ))),
            BinaryOp::Less => compare(left, right, Cmp::Lt),
            BinaryOp::LessEq => compare(left, right, Cmp::Le),
            BinaryOp::Greater => compare(left, right, Cmp::Gt),
            BinaryOp::GreaterEq => compare(left, right, Cmp::Ge),
            BinaryOp::Contains => self.contains(left, right),
            BinaryOp::ContainsAny | BinaryOp::ContainsAll => {
                let Expr::Set(items) = right else {
                    return None;
                };
                let each = items
                    .iter()
                    .map(|i| self.contains(left, i))
                    .collect::<Option<Vec<_>>>()?;
                Some(if op == BinaryOp::ContainsAny {
                    Guard::Or(each)
                } else {
                    Guard::And(each)
                })
            }
            BinaryOp::In => match (left, right) {
                (Expr::Var(Var::Principal), Expr::Literal(Literal::EntityUID(uid))) => {
                    Some(principal_in(uid, true))
                }
                (Expr::Var(Var::Principal), Expr::Set(items)) => items
                    .iter()
                    .map(|i| match &**i {
                        Expr::Literal(Literal::EntityUID(uid)) => Some(principal_in(uid, true)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(Guard::Or),
                _ => None,
            },
            _ => None,
        }
    }

    /// `fact == literal`.
    fn equal(&self, fact: &Expr, lit: &Expr) -> Option<Guard> {
        match (str_fact(fact), long_fact(fact), bool_fact(fact), lit) {
            (Some(f), _, _, Expr::Literal(Literal::String(s))) => {
                Some(Guard::Str(f, s.as_str().into()))
            }
            (_, Some(f), _, Expr::Literal(Literal::Long(n))) => Some(Guard::Long(f, Cmp::Eq, *n)),
            (_, _, Some(f), Expr::Literal(Literal::Bool(b))) => Some(if *b {
                Guard::Bool(f)
            } else {
                Guard::Not(Box::new(Guard::Bool(f)))
            }),
            _ => match (fact, lit) {
                (Expr::Var(Var::Principal), Expr::Literal(Literal::EntityUID(uid))) => {
                    Some(principal_in(uid, false))
                }
                (Expr::Var(Var::Action), Expr::Literal(Literal::EntityUID(uid))) => {
                    Some(action(uid))
                }
                _ => None,
            },
        }
    }

    /// `set.contains(literal)` for the set facts, or `[literals].contains(fact)`.
    fn contains(&self, set: &Expr, item: &Expr) -> Option<Guard> {
        if let Expr::Set(items) = set {
            let fact = str_fact(item)?;
            return items
                .iter()
                .map(|i| match &**i {
                    Expr::Literal(Literal::String(s)) => Some(Guard::Str(fact, s.as_str().into())),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(Guard::Or);
        }
        let Expr::Literal(Literal::String(lit)) = item else {
            return None;
        };
        match attr_of(set)? {
            (Var::Resource, "categories") => Some(Guard::Category(
                self.categories
                    .iter()
                    .position(|c| c == lit.as_str())
                    .and_then(|i| u16::try_from(i).ok())
                    .map(CategoryId),
            )),
            (Var::Context, "schedules") => Some(Guard::Schedule(lit.as_str().into())),
            _ => None,
        }
    }
}

fn principal_type(ty: &EntityType) -> Guard {
    if type_is(ty, "Gatehouse::Principal") {
        Guard::True
    } else {
        Guard::False
    }
}

fn resource_type(ty: &EntityType) -> Guard {
    if type_is(ty, "Gatehouse::Destination") {
        Guard::True
    } else {
        Guard::False
    }
}

/// `principal == uid` (or `in`): a principal is in itself and in its groups, nothing else.
fn principal_in(uid: &EntityUID, within: bool) -> Guard {
    if type_is(&uid.ty, "Gatehouse::Principal") {
        Guard::Str(StrFact::Name, uid.eid.as_str().into())
    } else if within && type_is(&uid.ty, "Gatehouse::Group") {
        Guard::InGroup(uid.eid.as_str().into())
    } else {
        Guard::False
    }
}

fn action(uid: &EntityUID) -> Guard {
    if !type_is(&uid.ty, "Gatehouse::Action") {
        return Guard::False;
    }
    match uid.eid.as_str() {
        "http" => Guard::Action(Action::Http),
        "connect" => Guard::Action(Action::Connect),
        _ => Guard::False,
    }
}

fn compare(left: &Expr, right: &Expr, cmp: Cmp) -> Option<Guard> {
    let flipped = match cmp {
        Cmp::Eq => Cmp::Eq,
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
    };
    match (long_fact(left), right, long_fact(right), left) {
        (Some(f), Expr::Literal(Literal::Long(n)), _, _) => Some(Guard::Long(f, cmp, *n)),
        (_, _, Some(f), Expr::Literal(Literal::Long(n))) => Some(Guard::Long(f, flipped, *n)),
        _ => None,
    }
}

/// `var.attr` with a plain variable.
pub fn attr_of(e: &Expr) -> Option<(Var, &str)> {
    match e {
        Expr::GetAttr { expr, attr } => match &**expr {
            Expr::Var(v) => Some((v.clone(), attr.as_str())),
            _ => None,
        },
        _ => None,
    }
}

fn str_fact(e: &Expr) -> Option<StrFact> {
    Some(match attr_of(e)? {
        (Var::Principal, "name") => StrFact::Name,
        (Var::Principal, "role") => StrFact::Role,
        (Var::Principal, "tier") => StrFact::Tier,
        (Var::Resource, "host") => StrFact::Host,
        (Var::Resource, "scheme") => StrFact::Scheme,
        (Var::Context, "method") => StrFact::Method,
        (Var::Context, "terminal") => StrFact::Terminal,
        (Var::Context, "location") => StrFact::Location,
        (Var::Context, "weekday") => StrFact::Weekday,
        (Var::Context, "date") => StrFact::Date,
        _ => return None,
    })
}

fn long_fact(e: &Expr) -> Option<LongFact> {
    Some(match attr_of(e)? {
        (Var::Resource, "port") => LongFact::Port,
        (Var::Context, "hour") => LongFact::Hour,
        (Var::Context, "minute_of_day") => LongFact::MinuteOfDay,
        (Var::Context, "session_minutes") => LongFact::SessionMinutes,
        _ => return None,
    })
}

fn bool_fact(e: &Expr) -> Option<BoolFact> {
    Some(match attr_of(e)? {
        (Var::Context, "registered") => BoolFact::Registered,
        (Var::Context, "open") => BoolFact::Open,
        (Var::Context, "session") => BoolFact::Session,
        _ => return None,
    })
}
