//! The decision phase as the proxy sees it: categorise the canonical destination, ask
//! `policy::decide`, and turn a refusal into the [`Outcome`] its page and audit event come from.
//! The proxy decides nothing itself; this module only gathers the decision's inputs and renders
//! its value.
//!
//! A new input of the decision (a terminal, a location, a grant) is gathered in [`inputs`] and
//! passed in `policy::Inputs`.

use lists::CategorySet;
use policy::{Decision, Inputs};

use super::exchange::Target;
use super::respond::{Outcome, Refusal};
use crate::identity::Principal;
use crate::state::Runtime;

/// What the decision depends on for this request: the principal (name, groups, tier, whether the
/// account is disabled), the canonical destination and its categories.
pub fn inputs<'a>(rt: &Runtime, principal: &'a Principal, target: &'a Target) -> Inputs<'a> {
    let host = &target.authority.host;
    let categories = match host.as_domain() {
        Some(d) => rt.config.lists.lookup(d.as_str()),
        None => CategorySet::default(),
    };
    Inputs {
        principal: &principal.name,
        groups: &principal.groups,
        disabled: principal.disabled,
        tier: principal.tier,
        host,
        port: target.authority.port,
        connect: target.connect,
        categories,
    }
}

/// The refusal for a deny decision.
pub fn refusal_of(rt: &Runtime, d: &Decision, principal: &Principal, target: &Target) -> Outcome {
    Outcome::Refused(Refusal {
        rule: d.rule.id(&rt.config.lists),
        static_rule: d.rule.static_id(),
        explanation: d.reason(),
        ask: d.ask(),
        principal: Some(principal.name.to_string()),
        tier: Some(principal.tier),
        destination: target.destination(),
    })
}
