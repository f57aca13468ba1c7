//! `explain`: the same decision as [`crate::decide`], with how it was reached — the step that
//! decided, every rule that matched (evaluated by Cedar, all of them, not only the candidates),
//! and the tier used and why. For `gatehouse policy explain`; the request path never calls it.

use std::sync::Arc;

use crate::rules::{Effect, RuleMeta};
use crate::{after_rules, before_rules, rules, tier_used, Decision, Inputs, Policy, Rule, Tier};

/// The step of the decision order that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// 1. The principal's account is disabled.
    PrincipalDisabled,
    /// 2. The `CONNECT` port is not open.
    ConnectPort,
    /// 3. A global deny list.
    GlobalDeny,
    /// 4. The place: unregistered address refused, or location closed.
    Place,
    /// 5. A rule (forbid, permit without `@tier`, or an evaluation error).
    Rules,
    /// 6. The tier.
    Tier,
    /// 6b. An access grant, after the tier refused ([`crate::Decision::grant`] names it).
    Grant,
}

/// A rule that matched, or failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub rule: Arc<RuleMeta>,
    /// This rule decided (a forbid, a permit, or the error that made the request undecidable).
    pub decided: bool,
    /// The evaluation error, when the rule could not be evaluated.
    pub error: Option<String>,
}

impl Matched {
    pub fn effect(&self) -> Effect {
        self.rule.effect
    }
}

/// Where the tier of step 6 came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TierFrom {
    /// The principal's own tier.
    Principal,
    /// A `permit` rule's `@tier`.
    Rule(Arc<RuleMeta>),
    /// A `tier:T` access grant (its id).
    Grant(i64),
}

/// The tier step 6 used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChoice {
    pub tier: Tier,
    pub from: TierFrom,
    /// The tier before the cap at an unregistered address, when the cap lowered it.
    pub capped_from: Option<Tier>,
}

impl TierChoice {
    /// One sentence: which tier, from where, capped or not.
    pub fn why(&self) -> String {
        let from = match &self.from {
            TierFrom::Principal => "the principal's tier".to_owned(),
            TierFrom::Rule(meta) => format!("the tier named by rule `{}`", meta.id),
            TierFrom::Grant(id) => format!("the tier named by access grant {id}"),
        };
        match self.capped_from {
            Some(before) => format!(
                "tier `{}`: {from} was `{before}`, capped at `{}` for addresses that are no registered terminal",
                self.tier, self.tier
            ),
            None => format!("tier `{}`: {from}", self.tier),
        }
    }
}

/// A decision and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub decision: Decision,
    pub step: Step,
    /// Every rule that matched or failed to evaluate, in file order.
    pub matched: Vec<Matched>,
    /// The tier step 6 used; `None` when an earlier step decided.
    pub tier: Option<TierChoice>,
}

/// Explain the decision for these inputs: the decision is the one [`crate::decide`] makes.
pub fn explain(policy: &Policy, inputs: &Inputs<'_>) -> Explanation {
    if let Some(decision) = before_rules(policy, inputs) {
        let step = match decision.rule {
            Rule::PrincipalDisabled => Step::PrincipalDisabled,
            Rule::ConnectPort => Step::ConnectPort,
            Rule::GlobalDeny(_) => Step::GlobalDeny,
            _ => Step::Place,
        };
        return Explanation {
            decision,
            step,
            matched: Vec::new(),
            tier: None,
        };
    }
    let (outcome, matched) = match &policy.rules {
        Some(set) if !set.is_empty() => set.trace(inputs),
        _ => (rules::Outcome::NoMatch, Vec::new()),
    };
    let from = match &outcome {
        rules::Outcome::NoMatch => Some((inputs.tier, TierFrom::Principal)),
        rules::Outcome::Permit(meta) => meta.tier.map(|t| (t, TierFrom::Rule(meta.clone()))),
        rules::Outcome::Forbid(_) | rules::Outcome::Error(_) => None,
    };
    let decision = after_rules(policy, inputs, outcome);
    let from = match (&decision.rule, decision.grant()) {
        // A `tier:T` grant decided: its tier, not the one that refused.
        (rule, Some(_)) if !matches!(rule, Rule::Grant(_)) => decision
            .tier
            .map(|t| (t, TierFrom::Grant(decision.grant().unwrap_or_default()))),
        _ => from,
    };
    let tier = from.map(|(before, from)| {
        let tier = tier_used(policy, inputs, before);
        TierChoice {
            tier,
            from,
            capped_from: (tier != before).then_some(before),
        }
    });
    let step = if decision.grant().is_some() {
        Step::Grant
    } else if tier.is_some() {
        Step::Tier
    } else {
        Step::Rules
    };
    Explanation {
        decision,
        step,
        matched,
        tier,
    }
}
