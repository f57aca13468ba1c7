//! The decision phase as the proxy sees it: categorise the canonical destination, ask
//! `policy::decide`, and turn a refusal into the [`Outcome`] its page and audit event come from.
//! The proxy decides nothing itself; this module only gathers the decision's inputs and renders
//! its value.
//!
//! A new input of the decision (a terminal, a location, the access grants) is gathered in
//! [`inputs`] and passed in `policy::Inputs`. A new obligation of an allow (a content mode, a
//! bandwidth class, an upstream) is taken up in [`obligations`], which hands the data plane what
//! it must apply; the grant an allow was made under is recorded with its event.

use access::GrantSet;
use policy::{Decision, Inputs, SessionFacts};

use super::exchange::Target;
use super::respond::{Outcome, Refusal};
use crate::codes::ErrorCode;
use crate::facts::{self, PlaceFacts, Who};
use crate::identity::Principal;
use crate::state::Runtime;

/// What the decision depends on for this request: the principal (name, groups, tier, role, whether
/// the account is disabled), where and when (`place`: terminal, location, local time, schedules,
/// and the session held there), the method, the canonical destination and its categories, and
/// the access grants in force at `now_us`.
pub fn inputs<'a>(
    rt: &Runtime,
    principal: &'a Principal,
    target: &'a Target,
    method: &'a str,
    place: &'a PlaceFacts,
    session: Option<SessionFacts>,
    (grants, now_us): (&'a GrantSet, i64),
) -> Inputs<'a> {
    let who = Who {
        name: &principal.name,
        groups: &principal.groups,
        tier: principal.tier,
        role: principal.role.as_str(),
        disabled: principal.disabled,
    };
    let mut inputs = facts::inputs(
        &rt.config.lists,
        who,
        method,
        &target.authority,
        target.connect,
        place,
        session,
    );
    inputs.grants = Some(grants);
    inputs.now_us = now_us;
    inputs
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

/// The refusal for a deny decision at `place`: one because the location is closed says when it
/// opens again, in the location's own time.
pub fn refusal_at(
    rt: &Runtime,
    d: &Decision,
    principal: &Principal,
    target: &Target,
    (place, now): (&PlaceFacts, jiff::Timestamp),
) -> Outcome {
    let mut outcome = refusal_of(rt, d, principal, target);
    let location = place
        .location_id
        .and_then(|id| rt.config.places.location(id));
    if let (Outcome::Refused(r), policy::Rule::LocationClosed, Some(l)) =
        (&mut outcome, &d.rule, location)
    {
        r.explanation = match l.state_at(now).opens_at {
            Some(t) => format!(
                "{} is closed now; it opens again at {}",
                l.name,
                facts::at_location(t, l)
            ),
            None => format!("{} is closed now", l.name),
        };
    }
    outcome
}

/// What the data plane must apply for an allow. It applies only the grant (recorded with the
/// event, by the caller), so an allow that carries any other obligation is refused (fail closed)
/// rather than relayed without it.
pub fn obligations(d: &Decision) -> Result<(), Outcome> {
    let others = policy::Obligations {
        grant: None,
        ..d.obligations.clone()
    };
    if others.is_empty() {
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
    use policy::{ClassId, Decision, GrantId, Obligations, Rule, Verdict};

    use super::obligations;
    use crate::codes::ErrorCode;

    #[test]
    fn an_allow_with_an_obligation_the_gateway_cannot_apply_is_refused() {
        let mut d = Decision {
            verdict: Verdict::Allow,
            rule: Rule::TierOpen,
            obligations: Obligations::default(),
            applied_by: None,
            tier: None,
        };
        assert!(obligations(&d).is_ok());
        // A grant is applied by recording it with the event.
        d.obligations.grant = Some(GrantId(7));
        assert!(obligations(&d).is_ok());
        d.obligations.bandwidth_class = Some(ClassId(1));
        let refused = obligations(&d).unwrap_err();
        assert_eq!(refused.status(), 500);
        assert_eq!(refused.error_code(), Some(ErrorCode::UnsupportedObligation));
    }
}
