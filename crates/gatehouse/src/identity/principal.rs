//! [`Principal`] and [`Principals`]: who the gateway knows, as an immutable snapshot of the
//! store's principals at one generation. A snapshot is built whole from store rows and never
//! changed; a reload replaces it (see `source.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use policy::Tier;

use crate::store::{PrincipalRow, Role};

/// A principal as the gateway sees it: an immutable snapshot entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub name: Arc<str>,
    pub role: Role,
    pub tier: Tier,
    pub disabled: bool,
    pub password_hash: Arc<str>,
    /// The groups the principal belongs to, sorted; an input of the decision.
    pub groups: Box<[Arc<str>]>,
    /// The same, comma-separated, as every audit event records them (joined once per snapshot,
    /// not per request).
    pub groups_joined: Arc<str>,
}

/// Every principal of the store at one generation.
#[derive(Debug, Default)]
pub struct Principals {
    pub generation: i64,
    by_name: HashMap<Arc<str>, Arc<Principal>>,
}

impl Principals {
    pub fn new(generation: i64, rows: Vec<PrincipalRow>) -> Principals {
        let by_name = rows
            .into_iter()
            .map(|r| {
                let name: Arc<str> = r.name.into();
                let p = Principal {
                    id: r.id,
                    name: name.clone(),
                    role: r.role,
                    tier: r.tier,
                    disabled: r.disabled,
                    password_hash: r.password_hash.into(),
                    groups_joined: r.groups.join(",").into(),
                    groups: r.groups.into_iter().map(Arc::from).collect(),
                };
                (name, Arc::new(p))
            })
            .collect();
        Principals {
            generation,
            by_name,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Principal>> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
