//! [`Scope`]: what a request asks for and a grant allows — a non-empty set of items, each a domain
//! (the name and its subdomains), a category of the lists, or a tier.
//!
//! Guarantees: a scope's [`Display`](std::fmt::Display) form is canonical (domains canonicalised
//! as the `destination` crate does, items sorted and without duplicates, separated by one space),
//! so two scopes are equal exactly when their stored forms are, and `parse(display(s)) == s`.

use std::fmt;

use destination::{domain_is_within, DomainName};

/// One item of a scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeItem {
    /// `domain:NAME`: the name and every subdomain of it.
    Domain(DomainName),
    /// `category:NAME`: the destinations a list of this category names.
    Category(String),
    /// `tier:NAME`: decide as if the principal had this tier.
    Tier(String),
}

impl ScopeItem {
    /// Parse one item (`domain:example.com`, `category:research`, `tier:open`).
    pub fn parse(text: &str) -> Result<ScopeItem, ScopeError> {
        let bad = |why: &str| ScopeError::Item {
            item: text.to_string(),
            why: why.to_string(),
        };
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| bad("is not `domain:NAME`, `category:NAME` or `tier:NAME`"))?;
        match kind {
            "domain" => DomainName::parse(value)
                .map(ScopeItem::Domain)
                .map_err(|e| bad(&format!("names no domain: {e}"))),
            "category" | "tier" => {
                let ok = !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(bad("needs a name of letters, digits, `-` or `_`"));
                }
                Ok(if kind == "tier" {
                    ScopeItem::Tier(value.to_string())
                } else {
                    ScopeItem::Category(value.to_string())
                })
            }
            _ => Err(bad("is not `domain:NAME`, `category:NAME` or `tier:NAME`")),
        }
    }

    /// Whether this item covers `other`: a domain its subdomains, a category or tier itself.
    pub fn covers(&self, other: &ScopeItem) -> bool {
        match (self, other) {
            (ScopeItem::Domain(zone), ScopeItem::Domain(name)) => domain_is_within(name, zone),
            (ScopeItem::Category(a), ScopeItem::Category(b)) => a == b,
            (ScopeItem::Tier(a), ScopeItem::Tier(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for ScopeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeItem::Domain(d) => write!(f, "domain:{}", d.as_str()),
            ScopeItem::Category(c) => write!(f, "category:{c}"),
            ScopeItem::Tier(t) => write!(f, "tier:{t}"),
        }
    }
}

/// A non-empty set of [`ScopeItem`]s, kept in canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    // INVARIANT: non-empty, sorted by display form, no duplicates.
    items: Vec<ScopeItem>,
}

/// Why a scope could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a scope needs at least one item (`domain:NAME`, `category:NAME` or `tier:NAME`)")]
    Empty,
    #[error("`{item}` {why}")]
    Item { item: String, why: String },
}

impl Scope {
    /// Parse items separated by spaces or commas.
    pub fn parse(text: &str) -> Result<Scope, ScopeError> {
        let items = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(ScopeItem::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Scope::new(items)
    }

    /// The scope of these items, in canonical order.
    pub fn new(mut items: Vec<ScopeItem>) -> Result<Scope, ScopeError> {
        if items.is_empty() {
            return Err(ScopeError::Empty);
        }
        items.sort_by_cached_key(ToString::to_string);
        items.dedup();
        Ok(Scope { items })
    }

    pub fn items(&self) -> &[ScopeItem] {
        &self.items
    }

    /// Whether every item of `other` is covered by an item of this scope (an approver's scope
    /// covers the requests it may review).
    pub fn covers(&self, other: &Scope) -> bool {
        other
            .items
            .iter()
            .all(|o| self.items.iter().any(|s| s.covers(o)))
    }

    /// Whether an item of this scope covers some item of `other` (a configured scope's limits
    /// apply to a request that asks for anything it covers).
    pub fn touches(&self, other: &Scope) -> bool {
        other
            .items
            .iter()
            .any(|o| self.items.iter().any(|s| s.covers(o)))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scopes_print_canonically_and_read_back_the_same() {
        let s = Scope::parse(
            "tier:open, domain:WWW.Example.COM.  category:research domain:www.example.com",
        )
        .unwrap();
        assert_eq!(
            s.to_string(),
            "category:research domain:www.example.com tier:open"
        );
        assert_eq!(Scope::parse(&s.to_string()).unwrap(), s);
        assert_eq!(
            Scope::parse("domain:a.org,domain:b.org").unwrap(),
            Scope::parse("domain:b.org domain:a.org").unwrap()
        );
    }

    #[test]
    fn bad_scopes_say_what_is_wrong() {
        assert_eq!(Scope::parse(" , ").unwrap_err(), ScopeError::Empty);
        let e = Scope::parse("example.com").unwrap_err().to_string();
        assert!(e.starts_with("`example.com` is not `domain:NAME`"), "{e}");
        let e = Scope::parse("domain:").unwrap_err().to_string();
        assert!(e.starts_with("`domain:` names no domain"), "{e}");
        assert!(Scope::parse("domain:10.0.0.1").is_err());
        // Spaces separate items: `b` alone is no item.
        assert!(Scope::parse("category:a b").is_err());
    }

    #[test]
    fn a_domain_covers_its_subdomains_and_nothing_else() {
        let approver = Scope::parse("domain:example.com category:research").unwrap();
        assert!(approver.covers(&Scope::parse("domain:www.example.com").unwrap()));
        assert!(approver.covers(&Scope::parse("category:research domain:example.com").unwrap()));
        assert!(!approver.covers(&Scope::parse("domain:notexample.com").unwrap()));
        assert!(!approver.covers(&Scope::parse("domain:a.example.com tier:open").unwrap()));
        assert!(approver.touches(&Scope::parse("domain:a.example.com tier:open").unwrap()));
        assert!(!approver.touches(&Scope::parse("tier:open").unwrap()));
    }
}
