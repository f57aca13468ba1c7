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
    PatternElem, PrincipalConstraint, ResourceConstraint, Template, UnaryOp, Var,
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
    /// `resource.address.isInRange(ip("NET/PREFIX"))` after `resource has address`: the network
    /// as a number (IPv4 in the low 32 bits), its prefix, and whether it is IPv6.
    InRange {
        v6: bool,
        net: u128,
        prefix: u8,
    },
    /// `fact like "pattern"`: the pattern's bytes, `None` for `*`.
    Like(StrFact, Box<[Option<u8>]>),
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
    /// The canonical host; an IP literal is formatted only when a rule reads it.
    host_ref: &'a destination::Host,
    host_text: std::cell::OnceCell<String>,
    pub scheme: &'static str,
    pub method: &'a str,
    pub port: i64,
    pub has_address: bool,
    pub address: Option<std::net::IpAddr>,
    pub categories: CategorySet,
    pub terminal: &'a str,
    pub location: &'a str,
    pub registered: bool,
    pub open: bool,
    pub weekday: &'static str,
    pub minute_of_day: i64,
    /// `YYYY-MM-DD`, formatted when a rule first reads it.
    date: std::cell::OnceCell<String>,
    pub local_date: (i16, i8, i8),
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
            host_ref: inputs.host,
            host_text: std::cell::OnceCell::new(),
            scheme: if inputs.connect { "tunnel" } else { "http" },
            method: inputs.method,
            port: i64::from(inputs.port),
            has_address: inputs.host.is_ip(),
            address: inputs.host.ip(),
            categories: inputs.categories,
            terminal: place.terminal.unwrap_or(""),
            location: place.location.unwrap_or(""),
            registered: place.is_registered(),
            open: place.open,
            weekday: place.local.weekday.as_str(),
            minute_of_day: i64::from(place.local.minute_of_day),
            date: std::cell::OnceCell::new(),
            local_date: place.local.date,
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
            StrFact::Host => self.host(),
            StrFact::Scheme => self.scheme,
            StrFact::Method => self.method,
            StrFact::Terminal => self.terminal,
            StrFact::Location => self.location,
            StrFact::Weekday => self.weekday,
            StrFact::Date => self.date(),
        }
    }

    /// The canonical host as rules read `resource.host`.
    pub fn host(&self) -> &str {
        match self.host_ref.as_domain() {
            Some(d) => d.as_str(),
            None => self.host_text.get_or_init(|| self.host_ref.to_string()),
        }
    }

    pub fn date(&self) -> &str {
        self.date.get_or_init(|| {
            let (y, m, d) = self.local_date;
            format!("{y:04}-{m:02}-{d:02}")
        })
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
            Guard::Like(fact, pattern) => like(f.str(*fact).as_bytes(), pattern),
            Guard::InRange { v6, net, prefix } => match (f.address, v6) {
                (Some(std::net::IpAddr::V4(a)), false) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                    u128::from(u32::from(a) & mask) == *net
                }
                (Some(std::net::IpAddr::V6(a)), true) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                    u128::from(a) & mask == *net
                }
                _ => false,
            },
            Guard::Not(g) => !g.eval(f),
            Guard::And(gs) => gs.iter().all(|g| g.eval(f)),
            Guard::Or(gs) => gs.iter().any(|g| g.eval(f)),
        }
    }
}

/// Cedar's `like` on UTF-8 bytes: a literal character matches its bytes, `*` any sequence. Byte and
/// character matching agree, since an encoded character never starts inside another.
fn like(s: &[u8], p: &[Option<u8>]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(Some(c)) if s.get(si) == Some(c) => {
                si += 1;
                pi += 1;
            }
            Some(None) => {
                star = Some((pi, si));
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(Option::is_none))
}

/// A rule lowered: its guard, and what Cedar must still evaluate when the guard holds.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub guard: Guard,
    /// The guard is the whole rule.
    pub complete: bool,
    /// The conditions the guard does not cover, in Cedar's order (`None` when complete).
    pub residual: Option<Expr>,
}

/// Lower a rule: its scope, then the longest prefix of its conditions that lowers.
pub fn lower_rule(t: &Template, categories: &[String]) -> Lowered {
    let mut l = Lower {
        categories,
        address_known: false,
    };
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
    let mut rest = conjuncts.len();
    for (i, c) in conjuncts.iter().enumerate() {
        match l.expr(c) {
            Some(g) => {
                // From here on, `resource.address` can be read without error.
                if g == Guard::Bool(BoolFact::HasAddress) {
                    l.address_known = true;
                }
                parts.push(g)
            }
            None => {
                rest = i;
                break;
            }
        }
    }
    // The rest, re-joined left to right as Cedar evaluates it.
    let residual = conjuncts
        .get(rest..)
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .reduce(|left, right| Expr::BinaryOp {
            op: BinaryOp::And,
            left: Arc::new(left),
            right: Arc::new(right),
        });
    let complete = residual.is_none();
    parts.retain(|g| *g != Guard::True);
    let guard = match parts.len() {
        0 => Guard::True,
        1 => parts.pop().unwrap_or(Guard::True),
        _ => Guard::And(parts),
    };
    Lowered {
        guard,
        complete,
        residual,
    }
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
    /// An earlier conjunct established `resource has address`.
    address_known: bool,
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
            Expr::Like { expr, pattern } => {
                let fact = str_fact(expr)?;
                let mut bytes = Vec::new();
                for elem in pattern {
                    match elem {
                        PatternElem::Wildcard => bytes.push(None),
                        PatternElem::Char(c) => {
                            let mut buf = [0u8; 4];
                            bytes.extend(c.encode_utf8(&mut buf).bytes().map(Some));
                        }
                        // A pattern element gatehouse does not know: Cedar evaluates it.
                        #[allow(unreachable_patterns)]
                        _ => return None,
                    }
                }
                Some(Guard::Like(fact, bytes.into()))
            }
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
            BinaryOp::IsInRange if self.address_known => match (attr_of(left)?, right) {
                (
                    (Var::Resource, "address"),
                    Expr::UnaryOp {
                        op: UnaryOp::Ip,
                        expr,
                    },
                ) => match &**expr {
                    Expr::Literal(Literal::String(s)) => ip_range(s),
                    _ => None,
                },
                _ => None,
            },
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

/// An `ip("…")` range as Cedar parses it (no IPv4 inside IPv6, a prefix without leading zeros),
/// reduced to its network; `None` for anything else (Cedar evaluates it).
fn ip_range(s: &str) -> Option<Guard> {
    if s.contains(':') && s.contains('.') {
        return None;
    }
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => {
            let ok = !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'));
            if !ok {
                return None;
            }
            (
                a.parse::<std::net::IpAddr>().ok()?,
                Some(p.parse::<u8>().ok()?),
            )
        }
        None => (s.parse::<std::net::IpAddr>().ok()?, None),
    };
    match addr {
        std::net::IpAddr::V4(a) => {
            let prefix = prefix.unwrap_or(32);
            if prefix > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Some(Guard::InRange {
                v6: false,
                net: u128::from(u32::from(a) & mask),
                prefix,
            })
        }
        std::net::IpAddr::V6(a) => {
            let prefix = prefix.unwrap_or(128);
            if prefix > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            Some(Guard::InRange {
                v6: true,
                net: u128::from(a) & mask,
                prefix,
            })
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

#[cfg(test)]
mod tests {
    use super::like;

    fn p(s: &str) -> Vec<Option<u8>> {
        s.bytes().map(|b| (b != b'*').then_some(b)).collect()
    }

    #[test]
    fn like_matches_as_cedar_does() {
        let cases = [
            ("www.example.org", "*.example.org", true),
            ("example.org", "*.example.org", false),
            ("a.b.example.org", "*.example.org", true),
            ("", "", true),
            ("", "*", true),
            ("x", "", false),
            ("abcb", "*a*b", true),
            ("abc", "*a*b", false),
            ("aaa", "a*a*a", true),
            ("aa", "a*a*a", false),
            ("héllo", "h*o", true),
            ("héllo", "h?llo", false),
        ];
        for (s, pat, want) in cases {
            assert_eq!(like(s.as_bytes(), &p(pat)), want, "{s:?} like {pat:?}");
        }
    }
}
