//! The decision phase as the proxy sees it: categorise the canonical destination, ask
//! `policy::decide`, and turn a refusal into the [`Outcome`] its page and audit event come from.
//! The proxy decides nothing itself; this module only gathers the decision's inputs and renders
//! its value.
//!
//! A new input of the decision (a terminal, a location, a grant) is gathered in [`inputs`] and
//! passed in `policy::Inputs`. A new obligation of an allow (a content mode, a bandwidth class,
//! an upstream) is taken up in [`obligations`], which hands the data plane what it must apply.

use lists::CategorySet;
use policy::{Decision, Inputs, LocalTime, Place, Weekday};

use super::exchange::Target;
use super::respond::{Outcome, Refusal};
use crate::codes::ErrorCode;
use crate::identity::Principal;
use crate::state::Runtime;

/// The place of every request until terminals and the clock are wired into the request path: an
/// unregistered address at a fixed time (no rule in the configuration can name a place yet).
const UNPLACED: LocalTime = LocalTime {
    weekday: Weekday::Thu,
    minute_of_day: 0,
    date: (1970, 1, 1),
};

/// What the decision depends on for this request: the principal (name, groups, tier, role, whether
/// the account is disabled), the method, the canonical destination and its categories.
pub fn inputs<'a>(
    rt: &Runtime,
    principal: &'a Principal,
    target: &'a Target,
    method: &'a str,
) -> Inputs<'a> {
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
        role: principal.role.as_str(),
        method,
        place: Place::unregistered(UNPLACED),
    }
}

/// The refusal for a deny decision.
pub fn refusal_of(rt: &Runtime, d: &Decision, principal: &Principal, target: &Target) -> Outcome {
    Outcome::Refused(Refusal {
        rule: d.rule.id(&rt.config.lists),
        static_rule: d.rule.static_id(),
        explanation: d.reason().to_owned(),
        ask: d.ask(),
        principal: Some(principal.name.to_string()),
        tier: Some(principal.tier),
        destination: target.destination(),
    })
}

/// What the data plane must apply for an allow. Today it applies none, so an allow that carries
/// any obligation is refused (fail closed) rather than relayed without it.
pub fn obligations(d: &Decision) -> Result<(), Outcome> {
    if d.obligations.is_empty() {
        return Ok(());
    }
    Err(Outcome::Failed {
        status: 500,
        code: ErrorCode::UnsupportedObligation,
        message: format!(
            "the decision requires {:?}, which this gateway cannot apply; the request is refused",
            d.obligations
        ),
    })
}

#[cfg(test)]
mod tests {
    use policy::{Decision, GrantId, Obligations, Rule, Verdict};

    use super::obligations;
    use crate::codes::ErrorCode;

    #[test]
    fn an_allow_with_an_obligation_the_gateway_cannot_apply_is_refused() {
        let mut d = Decision {
            verdict: Verdict::Allow,
            rule: Rule::TierOpen,
            obligations: Obligations::default(),
            applied_by: None,
        };
        assert!(obligations(&d).is_ok());
        d.obligations.grant = Some(GrantId(7));
        let refused = obligations(&d).unwrap_err();
        assert_eq!(refused.status(), 500);
        assert_eq!(refused.error_code(), Some(ErrorCode::UnsupportedObligation));
    }
}
