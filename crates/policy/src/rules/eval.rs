//! Step 5 at request time: the candidate rules (index by action and principal), their guards, Cedar
//! for what the guards do not cover, and the decision cache.
//!
//! Order: the candidate `forbid` rules in file order, then the candidate `permit` rules in file
//! order; the first rule that matches or fails to evaluate decides. So an evaluation error in a rule
//! that was evaluated refuses the request (fail closed), and a rule after the deciding one is never
//! evaluated.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression,
};

use super::compile::CompiledRule;
use super::guard::{Action, Facts};
use super::needs::{Attrs, Needs, CONTEXT, PRINCIPAL, RESOURCE};
use super::{Effect, RuleMeta, RuleSet};
use crate::Inputs;

/// What the rules say about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No rule matched: the principal's tier decides.
    NoMatch,
    /// A `forbid` matched.
    Forbid(Arc<RuleMeta>),
    /// A `permit` matched (its `@tier`, if any, names the tier that decides).
    Permit(Arc<RuleMeta>),
    /// A rule could not be evaluated: the sentence a refused person reads.
    Error(Arc<str>),
}

/// Cedar's names for the schema's entity types and actions, parsed once.
#[derive(Debug, Clone)]
pub struct Types {
    principal: EntityTypeName,
    group: EntityTypeName,
    destination: EntityTypeName,
    http: EntityUid,
    connect: EntityUid,
}

impl Types {
    pub fn new() -> Result<Types, String> {
        let ty = |s: &str| EntityTypeName::from_str(s).map_err(|e| e.to_string());
        let action = ty("Gatehouse::Action")?;
        let uid =
            |name: &str| EntityUid::from_type_name_and_id(action.clone(), EntityId::new(name));
        Ok(Types {
            principal: ty("Gatehouse::Principal")?,
            group: ty("Gatehouse::Group")?,
            destination: ty("Gatehouse::Destination")?,
            http: uid("http"),
            connect: uid("connect"),
        })
    }
}

/// The rules to look at, by action and principal scope (rule indexes in file order).
#[derive(Debug, Default)]
pub struct Index {
    /// `[http, connect]`.
    by_action: [Scopes; 2],
}

#[derive(Debug, Default)]
struct Scopes {
    any: Vec<u32>,
    // ahash: looked up once per request per group; SipHash cost more than the rest of the index.
    by_group: HashMap<Box<str>, Vec<u32>, ahash::RandomState>,
    by_name: HashMap<Box<str>, Vec<u32>, ahash::RandomState>,
}

/// The principal a rule's scope names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalScope {
    Any,
    Group(Box<str>),
    Name(Box<str>),
    /// Matches no principal.
    Never,
}

impl Index {
    pub fn build(rules: &[CompiledRule]) -> Index {
        let mut index = Index::default();
        for (i, rule) in rules.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            for (a, scopes) in [Action::Http, Action::Connect]
                .into_iter()
                .zip(index.by_action.iter_mut())
            {
                if !rule.actions.contains(&a) {
                    continue;
                }
                match &rule.principal {
                    PrincipalScope::Any => scopes.any.push(i),
                    PrincipalScope::Group(g) => {
                        scopes.by_group.entry(g.clone()).or_default().push(i)
                    }
                    PrincipalScope::Name(n) => scopes.by_name.entry(n.clone()).or_default().push(i),
                    PrincipalScope::Never => {}
                }
            }
        }
        index
    }

    /// The rules whose scope can match, in file order.
    fn candidates(&self, f: &Facts<'_>, out: &mut Vec<u32>) {
        let scopes = match f.action {
            Action::Http => &self.by_action[0],
            Action::Connect => &self.by_action[1],
        };
        out.extend_from_slice(&scopes.any);
        if let Some(v) = scopes.by_name.get(f.name) {
            out.extend_from_slice(v);
        }
        for g in f.groups {
            if let Some(v) = scopes.by_group.get(&**g) {
                out.extend_from_slice(v);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// The decision cache: outcomes that needed Cedar, keyed by every fact they depend on.
pub struct Cache {
    map: quick_cache::sync::Cache<Box<[u8]>, Outcome>,
}

impl Cache {
    /// A cache when some rule needs Cedar and `capacity` is not 0.
    pub fn new(capacity: usize, rules: &[CompiledRule]) -> Option<Cache> {
        if capacity == 0 || rules.iter().all(|r| r.lowered.complete) {
            return None;
        }
        Some(Cache {
            map: quick_cache::sync::Cache::new(capacity),
        })
    }
}

/// Step 5 for one request.
pub fn evaluate(set: &RuleSet, inputs: &Inputs<'_>) -> Outcome {
    let facts = Facts::of(inputs);
    // The candidates' buffer is kept per thread: no allocation per request.
    CANDIDATES.with(|buf| {
        let mut candidates = buf.take();
        candidates.clear();
        set.index.candidates(&facts, &mut candidates);
        let outcome = evaluate_candidates(set, &facts, &candidates);
        buf.set(candidates);
        outcome
    })
}

thread_local! {
    static CANDIDATES: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Step 5 over the candidate rules (indexes in file order).
fn evaluate_candidates(set: &RuleSet, facts: &Facts<'_>, candidates: &[u32]) -> Outcome {
    // What Cedar needs for the candidates that need it (`None`: Cedar is not called).
    let needs = candidates
        .iter()
        .filter_map(|&i| set.rules.get(i as usize))
        .filter(|r| !r.lowered.complete)
        .fold(None, |acc: Option<Needs>, r| {
            Some(acc.unwrap_or_default().union(r.needs))
        });
    let needs_cedar = needs.is_some();
    let cache = match (&set.cache, needs_cedar) {
        (Some(cache), true) => Some(cache),
        _ => None,
    };
    let key = cache.map(|_| key(facts));
    if let (Some(cache), Some(key)) = (cache, &key) {
        if let Some(hit) = cache.map.get(&key[..]) {
            return hit;
        }
    }
    let outcome = decide(set, facts, candidates, &needs.unwrap_or_default());
    if let (Some(cache), Some(key)) = (cache, key) {
        cache.map.insert(key.into_boxed_slice(), outcome.clone());
    }
    outcome
}

/// The first candidate that matches or fails, forbids first.
fn decide(set: &RuleSet, facts: &Facts<'_>, candidates: &[u32], needs: &Needs) -> Outcome {
    let mut cedar: Option<Result<Cedar, String>> = None;
    for effect in [Effect::Forbid, Effect::Permit] {
        for &i in candidates {
            let Some(rule) = set.rules.get(i as usize) else {
                continue;
            };
            if rule.meta.effect != effect {
                continue;
            }
            match matches(set, rule, facts, needs, &mut cedar) {
                Ok(false) => {}
                Ok(true) => {
                    return match effect {
                        Effect::Forbid => Outcome::Forbid(rule.meta.clone()),
                        Effect::Permit => Outcome::Permit(rule.meta.clone()),
                    }
                }
                Err(e) => return undecidable(&rule.meta, &e),
            }
        }
    }
    Outcome::NoMatch
}

pub fn undecidable(meta: &RuleMeta, error: &str) -> Outcome {
    Outcome::Error(
        format!(
            "gatehouse could not decide: the rule `{}` could not be evaluated ({error})",
            meta.id
        )
        .into(),
    )
}

/// Whether one rule matches: its guard, then Cedar for the rest. `Err`: an evaluation error.
pub fn matches(
    set: &RuleSet,
    rule: &CompiledRule,
    facts: &Facts<'_>,
    needs: &Needs,
    cedar: &mut Option<Result<Cedar, String>>,
) -> Result<bool, String> {
    if !rule.lowered.guard.eval(facts) {
        return Ok(false);
    }
    if rule.lowered.complete {
        return Ok(true);
    }
    let request = cedar.get_or_insert_with(|| Cedar::build(set, facts, needs));
    match request {
        Ok(c) => c.satisfied(&rule.residual),
        Err(e) => Err(e.clone()),
    }
}

/// One request as Cedar sees it: built once, for every rule that needs Cedar.
pub struct Cedar {
    request: Request,
    entities: Entities,
}

impl Cedar {
    /// The request with what `needs` asks for (everything, for `explain`).
    pub fn build(set: &RuleSet, f: &Facts<'_>, needs: &Needs) -> Result<Cedar, String> {
        let types = set
            .types
            .as_ref()
            .ok_or_else(|| "the rules were not compiled".to_owned())?;
        let principal =
            EntityUid::from_type_name_and_id(types.principal.clone(), EntityId::new(f.name));
        let resource =
            EntityUid::from_type_name_and_id(types.destination.clone(), EntityId::new(f.host()));
        let mut entities = Vec::with_capacity(2);
        if needs.principal.any() || needs.groups {
            entities.push(principal_entity(types, &principal, f, needs)?);
        }
        if needs.resource.any() {
            entities.push(resource_entity(set, &resource, f, needs.resource)?);
        }
        let context = context(f, needs.context)?;
        let action = match f.action {
            Action::Http => types.http.clone(),
            Action::Connect => types.connect.clone(),
        };
        let request =
            Request::new(principal, action, resource, context, None).map_err(|e| e.to_string())?;
        let entities = if entities.is_empty() {
            Entities::empty()
        } else {
            Entities::from_entities(entities, None).map_err(|e| e.to_string())?
        };
        Ok(Cedar { request, entities })
    }

    /// Cedar's evaluation of one rule: satisfied, not satisfied, or an error.
    pub fn matches(&self, rule: &CompiledRule) -> Result<bool, String> {
        self.satisfied(&rule.cedar)
    }

    /// Whether the one policy of `set` is satisfied (or an evaluation error).
    pub fn satisfied(&self, set: &PolicySet) -> Result<bool, String> {
        let response = Authorizer::new().is_authorized(&self.request, set, &self.entities);
        let diagnostics = response.diagnostics();
        if let Some(e) = diagnostics.errors().next() {
            return Err(e.to_string());
        }
        let matched = diagnostics.reason().next().is_some();
        Ok(matched)
    }
}

fn string(v: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(v.to_owned())
}

fn principal_entity(
    types: &Types,
    uid: &EntityUid,
    f: &Facts<'_>,
    needs: &Needs,
) -> Result<Entity, String> {
    let parents: HashSet<EntityUid> = if needs.groups {
        f.groups
            .iter()
            .map(|g| EntityUid::from_type_name_and_id(types.group.clone(), EntityId::new(&**g)))
            .collect()
    } else {
        HashSet::new()
    };
    let want = needs.principal;
    let attrs: HashMap<String, RestrictedExpression> =
        [("name", f.name), ("tier", f.tier), ("role", f.role)]
            .into_iter()
            .filter(|(k, _)| want.wants(&PRINCIPAL, k))
            .map(|(k, v)| (k.to_owned(), string(v)))
            .collect();
    Entity::new(uid.clone(), attrs, parents).map_err(|e| e.to_string())
}

fn resource_entity(
    set: &RuleSet,
    uid: &EntityUid,
    f: &Facts<'_>,
    want: Attrs,
) -> Result<Entity, String> {
    let want = |k: &str| want.wants(&RESOURCE, k);
    let mut attrs = HashMap::new();
    if want("host") {
        attrs.insert("host".to_owned(), string(f.host()));
    }
    if want("categories") {
        let names = f
            .categories
            .iter()
            .filter_map(|c| set.categories.get(c.index()))
            .map(|n| string(n));
        attrs.insert(
            "categories".to_owned(),
            RestrictedExpression::new_set(names),
        );
    }
    if want("port") {
        attrs.insert("port".to_owned(), RestrictedExpression::new_long(f.port));
    }
    if want("scheme") {
        attrs.insert("scheme".to_owned(), string(f.scheme));
    }
    if f.has_address && want("address") {
        let ip = f.host().trim_start_matches('[').trim_end_matches(']');
        attrs.insert("address".to_owned(), RestrictedExpression::new_ip(ip));
    }
    Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())
}

fn context(f: &Facts<'_>, want: Attrs) -> Result<Context, String> {
    let b = RestrictedExpression::new_bool;
    let l = RestrictedExpression::new_long;
    let mut pairs: Vec<(String, RestrictedExpression)> = Vec::with_capacity(12);
    let mut put = |k: &str, v: &dyn Fn() -> RestrictedExpression| {
        if want.wants(&CONTEXT, k) {
            pairs.push((k.to_owned(), v()));
        }
    };
    put("method", &|| string(f.method));
    put("terminal", &|| string(f.terminal));
    put("location", &|| string(f.location));
    put("registered", &|| b(f.registered));
    put("open", &|| b(f.open));
    put("weekday", &|| string(f.weekday));
    put("hour", &|| l(f.minute_of_day / 60));
    put("minute_of_day", &|| l(f.minute_of_day));
    put("date", &|| string(f.date()));
    put("schedules", &|| {
        RestrictedExpression::new_set(f.schedules.iter().map(|n| string(n)))
    });
    put("session", &|| b(f.session));
    put("session_minutes", &|| l(f.session_minutes));
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

/// The cache key: every fact a rule can read, length-prefixed so that distinct facts never share
/// a key.
fn key(f: &Facts<'_>) -> Vec<u8> {
    let mut k = Vec::with_capacity(160);
    let s = |k: &mut Vec<u8>, v: &str| {
        k.extend_from_slice(&(v.len() as u32).to_le_bytes());
        k.extend_from_slice(v.as_bytes());
    };
    s(&mut k, f.name);
    s(&mut k, f.role);
    s(&mut k, f.tier);
    k.extend_from_slice(&(f.groups.len() as u32).to_le_bytes());
    for g in f.groups {
        s(&mut k, g);
    }
    k.push(f.action as u8);
    s(&mut k, f.host());
    s(&mut k, f.method);
    k.extend_from_slice(&f.port.to_le_bytes());
    k.extend_from_slice(&(f.categories.len() as u32).to_le_bytes());
    for c in f.categories.iter() {
        k.extend_from_slice(&c.0.to_le_bytes());
    }
    s(&mut k, f.terminal);
    s(&mut k, f.location);
    k.push(u8::from(f.registered) | u8::from(f.open) << 1 | u8::from(f.session) << 2);
    s(&mut k, f.weekday);
    k.extend_from_slice(&f.minute_of_day.to_le_bytes());
    let (y, m, d) = f.local_date;
    k.extend_from_slice(&y.to_le_bytes());
    k.push(m as u8);
    k.push(d as u8);
    k.extend_from_slice(&(f.schedules.len() as u32).to_le_bytes());
    for n in f.schedules {
        s(&mut k, n);
    }
    k.extend_from_slice(&f.session_minutes.to_le_bytes());
    k
}

/// Every rule evaluated by Cedar (not only the candidates, not the guards): the outcome, by the same
/// order as [`evaluate`], and every rule that matched or failed.
pub fn trace(set: &RuleSet, inputs: &Inputs<'_>) -> (Outcome, Vec<crate::Matched>) {
    let facts = Facts::of(inputs);
    let everything = Needs::everything_needed();
    let cedar = Cedar::build(set, &facts, &everything);
    let mut matched = Vec::new();
    for rule in &set.rules {
        let result = match &cedar {
            Ok(c) => c.matches(rule),
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(false) => {}
            Ok(true) => matched.push(crate::Matched {
                rule: rule.meta.clone(),
                decided: false,
                error: None,
            }),
            Err(e) => matched.push(crate::Matched {
                rule: rule.meta.clone(),
                decided: false,
                error: Some(e),
            }),
        }
    }
    let first = [Effect::Forbid, Effect::Permit]
        .into_iter()
        .find_map(|effect| matched.iter().position(|m| m.rule.effect == effect));
    let outcome = match first {
        None => Outcome::NoMatch,
        Some(i) => {
            let m = &mut matched[i];
            m.decided = true;
            match (&m.error, m.rule.effect) {
                (Some(e), _) => undecidable(&m.rule, e),
                (None, Effect::Forbid) => Outcome::Forbid(m.rule.clone()),
                (None, Effect::Permit) => Outcome::Permit(m.rule.clone()),
            }
        }
    };
    (outcome, matched)
}
