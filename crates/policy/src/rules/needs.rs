//! What Cedar must be given for the rules it still evaluates: building a request costs microseconds
//! per attribute (each value is an expression Cedar evaluates, an IP address is parsed), so only the
//! attributes and the group membership that a residual condition reads are built.

use cedar_policy::pst::{BinaryOp, Expr, Var};

/// The attributes of the schema, by entity; a set of them is a bit mask over these lists.
pub const PRINCIPAL: [&str; 3] = ["name", "tier", "role"];
pub const RESOURCE: [&str; 5] = ["host", "categories", "port", "scheme", "address"];
pub const CONTEXT: [&str; 12] = [
    "method",
    "terminal",
    "location",
    "registered",
    "open",
    "weekday",
    "hour",
    "minute_of_day",
    "date",
    "schedules",
    "session",
    "session_minutes",
];

/// A set of attributes, as bits in the order of their list (an unknown name: all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs(u32);

impl Attrs {
    const ALL: Attrs = Attrs(u32::MAX);

    fn insert(&mut self, names: &[&str], attr: &str) {
        match names.iter().position(|n| *n == attr) {
            Some(i) => self.0 |= 1 << i,
            None => *self = Attrs::ALL,
        }
    }

    pub fn wants(self, names: &[&str], attr: &str) -> bool {
        names
            .iter()
            .position(|n| *n == attr)
            .is_none_or(|i| self.0 & (1 << i) != 0)
    }

    pub fn any(self) -> bool {
        self.0 != 0
    }
}

/// What residual conditions read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub principal: Attrs,
    /// The principal's groups (`in`).
    pub groups: bool,
    pub resource: Attrs,
    pub context: Attrs,
}

impl Needs {
    /// Every attribute and the groups: what evaluating whole rules needs.
    pub fn everything_needed() -> Needs {
        let mut n = Needs::default();
        n.everything();
        n
    }

    /// What `e` reads.
    pub fn of(e: &Expr) -> Needs {
        let mut n = Needs::default();
        n.add(e);
        n
    }

    /// Both.
    pub fn union(self, other: Needs) -> Needs {
        Needs {
            principal: Attrs(self.principal.0 | other.principal.0),
            groups: self.groups || other.groups,
            resource: Attrs(self.resource.0 | other.resource.0),
            context: Attrs(self.context.0 | other.context.0),
        }
    }

    fn attr(&mut self, v: &Var, attr: &str) {
        match v {
            Var::Principal => self.principal.insert(&PRINCIPAL, attr),
            Var::Resource => self.resource.insert(&RESOURCE, attr),
            Var::Context => self.context.insert(&CONTEXT, attr),
            _ => {}
        }
    }

    fn everything(&mut self) {
        self.principal = Attrs::ALL;
        self.resource = Attrs::ALL;
        self.context = Attrs::ALL;
        self.groups = true;
    }

    /// Add what `e` reads.
    pub fn add(&mut self, e: &Expr) {
        match e {
            Expr::GetAttr { expr, attr } => match &**expr {
                Expr::Var(v) => self.attr(v, attr),
                // An attribute of a computed entity or record: any of them, conservatively.
                other => {
                    self.everything();
                    self.add(other);
                }
            },
            Expr::HasAttr { expr, attrs } => match &**expr {
                Expr::Var(v) => self.attr(v, &attrs.head),
                other => {
                    self.everything();
                    self.add(other);
                }
            },
            // A bare `context` is the whole record; a bare entity variable is its uid.
            Expr::Var(Var::Context) => self.context = Attrs::ALL,
            Expr::Var(_) | Expr::Literal(_) | Expr::Slot(_) => {}
            Expr::UnaryOp { expr, .. } | Expr::Like { expr, .. } => self.add(expr),
            Expr::BinaryOp { op, left, right } => {
                if matches!(op, BinaryOp::In) {
                    self.groups = true;
                }
                if matches!(op, BinaryOp::GetTag | BinaryOp::HasTag) {
                    self.everything();
                }
                self.add(left);
                self.add(right);
            }
            Expr::Is { expr, in_expr, .. } => {
                self.add(expr);
                if let Some(i) = in_expr {
                    self.groups = true;
                    self.add(i);
                }
            }
            Expr::IfThenElse {
                cond,
                then_expr,
                else_expr,
            } => {
                self.add(cond);
                self.add(then_expr);
                self.add(else_expr);
            }
            Expr::Set(items) => items.iter().for_each(|i| self.add(i)),
            Expr::Record(fields) => fields.values().for_each(|v| self.add(v)),
            // Anything newer than this code: give Cedar everything.
            _ => self.everything(),
        }
    }
}
