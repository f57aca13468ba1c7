//! [`GrantSet`]: the active grants as data for the decision, indexed by principal, so that the
//! cost of asking whether a grant covers a request grows with the grants of that principal, not
//! with the number of grants in force.
//!
//! A grant covers a destination at a time when it is live then ([`ActiveGrant::is_live`]): started
//! and not yet expired, or, when it waits to be claimed (a claim-by window: the clock starts at the
//! first use), the window is still open. Expiry is a comparison with the time the caller gives, so
//! a grant stops covering at its end even before anyone writes it down as expired.

use std::sync::Arc;

use ahash::AHashMap;
use destination::{domain_is_within, DomainName, Host};
use lists::{CategoryId, CategorySet};

use crate::scope::{Scope, ScopeItem};

/// An active grant as the decision reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveGrant {
    pub id: i64,
    pub principal: Arc<str>,
    pub scope: Scope,
    /// Why it was asked for: shown with what it allowed.
    pub purpose: Arc<str>,
    /// When its clock started; `None` while it waits for its first use (`claim_by_us` is then set).
    pub starts_us: Option<i64>,
    /// When it ends; `None` while it waits for its first use.
    pub expires_us: Option<i64>,
    /// Until when the first use may start its clock (a claim-by window).
    pub claim_by_us: Option<i64>,
}

impl ActiveGrant {
    /// Whether the grant allows anything at `now_us`.
    pub fn is_live(&self, now_us: i64) -> bool {
        match self.starts_us {
            Some(start) => start <= now_us && self.expires_us.is_none_or(|end| now_us < end),
            None => self.claim_by_us.is_some_and(|by| now_us < by),
        }
    }

    /// Whether the grant waits for its first use to start its clock.
    pub fn is_unclaimed(&self) -> bool {
        self.starts_us.is_none()
    }

    /// The next time after `now_us` at which the grant stops being live, if it does.
    pub fn ends_after(&self, now_us: i64) -> Option<i64> {
        let end = match self.starts_us {
            Some(_) => self.expires_us,
            None => self.claim_by_us,
        }?;
        (end > now_us).then_some(end)
    }
}

/// A grant with its scope in the form matching needs.
#[derive(Debug)]
struct Indexed {
    grant: ActiveGrant,
    domains: Vec<DomainName>,
    categories: CategorySet,
    tiers: Vec<Arc<str>>,
}

/// The active grants, indexed by principal (and by id). Immutable: the gateway builds a new one
/// when the store's grants change and swaps it in whole.
#[derive(Debug, Default)]
pub struct GrantSet {
    by_principal: AHashMap<Arc<str>, Vec<Indexed>>,
    /// Grant id → (principal, position in its list).
    by_id: AHashMap<i64, (Arc<str>, usize)>,
}

impl GrantSet {
    /// Index `grants`; `category_id` names the categories of the lists in force (a category that
    /// no list has covers nothing).
    pub fn new(
        grants: impl IntoIterator<Item = ActiveGrant>,
        category_id: impl Fn(&str) -> Option<CategoryId>,
    ) -> GrantSet {
        let mut set = GrantSet::default();
        for grant in grants {
            let mut indexed = Indexed {
                domains: Vec::new(),
                categories: CategorySet::default(),
                tiers: Vec::new(),
                grant,
            };
            for item in indexed.grant.scope.items() {
                match item {
                    ScopeItem::Domain(d) => indexed.domains.push(d.clone()),
                    ScopeItem::Category(c) => {
                        if let Some(id) = category_id(c) {
                            indexed.categories.insert(id);
                        }
                    }
                    ScopeItem::Tier(t) => indexed.tiers.push(Arc::from(t.as_str())),
                }
            }
            let principal = indexed.grant.principal.clone();
            let list = set.by_principal.entry(principal.clone()).or_default();
            set.by_id.insert(indexed.grant.id, (principal, list.len()));
            list.push(indexed);
        }
        set
    }

    /// How many grants the set holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The grant with this id.
    pub fn get(&self, id: i64) -> Option<&ActiveGrant> {
        let (principal, at) = self.by_id.get(&id)?;
        self.by_principal
            .get(principal)
            .and_then(|l| l.get(*at))
            .map(|i| &i.grant)
    }

    /// Every grant, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ActiveGrant> {
        self.by_principal.values().flatten().map(|i| &i.grant)
    }

    /// A grant of `principal` live at `now_us` whose domains or categories cover `host` (whose
    /// categories, from the lists, are `categories`). The lowest id wins when several do, so the
    /// same request is always recorded under the same grant.
    pub fn covering(
        &self,
        principal: &str,
        host: &Host,
        categories: &CategorySet,
        now_us: i64,
    ) -> Option<&ActiveGrant> {
        let list = self.by_principal.get(principal)?;
        list.iter()
            .filter(|i| i.grant.is_live(now_us))
            .filter(|i| {
                let by_domain = host
                    .as_domain()
                    .is_some_and(|name| i.domains.iter().any(|z| domain_is_within(name, z)));
                by_domain || !i.categories.intersection(categories).is_empty()
            })
            .map(|i| &i.grant)
            .min_by_key(|g| g.id)
    }

    /// The tier grants of `principal` live at `now_us`: each grant with a tier it names, lowest
    /// grant id first.
    pub fn tiers(&self, principal: &str, now_us: i64) -> Vec<(&ActiveGrant, &str)> {
        let mut out: Vec<(&ActiveGrant, &str)> = self
            .by_principal
            .get(principal)
            .into_iter()
            .flatten()
            .filter(|i| i.grant.is_live(now_us))
            .flat_map(|i| i.tiers.iter().map(move |t| (&i.grant, t.as_ref())))
            .collect();
        out.sort_by_key(|(g, _)| g.id);
        out
    }

    /// The earliest time after `now_us` at which a grant of the set stops being live.
    pub fn next_end_after(&self, now_us: i64) -> Option<i64> {
        self.iter().filter_map(|g| g.ends_after(now_us)).min()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lists::ListsBuilder;

    fn grant(id: i64, who: &str, scope: &str, start: Option<i64>, end: Option<i64>) -> ActiveGrant {
        ActiveGrant {
            id,
            principal: Arc::from(who),
            scope: Scope::parse(scope).unwrap(),
            purpose: Arc::from("reading for a thesis"),
            starts_us: start,
            expires_us: end,
            claim_by_us: None,
        }
    }

    #[test]
    fn a_grant_covers_its_domains_and_categories_while_live_for_its_principal_only() {
        let mut b = ListsBuilder::new();
        let research = b.category("research").unwrap();
        b.add_domain(research, "arxiv.org").unwrap();
        let lists = b.build().unwrap();
        let set = GrantSet::new(
            [
                grant(7, "ada", "domain:example.com", Some(100), Some(200)),
                grant(
                    9,
                    "ada",
                    "category:research category:unknown",
                    Some(100),
                    Some(200),
                ),
                grant(3, "bob", "domain:example.com tier:open", Some(0), None),
            ],
            |name| lists.category_id(name),
        );
        let host = |h: &str| Host::parse(h).unwrap();
        let cats = |h: &str| lists.lookup(h);
        let covering = |who, h: &str, now| set.covering(who, &host(h), &cats(h), now).map(|g| g.id);
        assert_eq!(covering("ada", "www.example.com", 150), Some(7));
        assert_eq!(covering("ada", "notexample.com", 150), None);
        assert_eq!(covering("ada", "arxiv.org", 150), Some(9));
        assert_eq!(covering("ada", "www.example.com", 99), None, "not started");
        assert_eq!(covering("ada", "www.example.com", 200), None, "expired");
        assert_eq!(covering("cy", "www.example.com", 150), None);
        assert_eq!(covering("bob", "example.com", 1_000_000), Some(3));
        assert_eq!(
            set.tiers("bob", 5)
                .iter()
                .map(|(g, t)| (g.id, *t))
                .collect::<Vec<_>>(),
            [(3, "open")]
        );
        assert!(set.tiers("ada", 150).is_empty());
        assert_eq!(set.get(9).unwrap().principal.as_ref(), "ada");
        assert_eq!(set.len(), 3);
        assert_eq!(set.next_end_after(150), Some(200));
        assert_eq!(set.next_end_after(200), None);
    }

    #[test]
    fn an_unclaimed_grant_is_live_until_its_claim_by_time() {
        let g = ActiveGrant {
            claim_by_us: Some(500),
            ..grant(1, "ada", "domain:example.com", None, None)
        };
        assert!(g.is_unclaimed());
        assert!(g.is_live(499));
        assert!(!g.is_live(500));
        assert_eq!(g.ends_after(10), Some(500));
        let no_window = grant(2, "ada", "domain:example.com", None, None);
        assert!(!no_window.is_live(0), "neither started nor claimable");
    }
}
