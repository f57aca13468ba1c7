//! The whole decision with rules: 200 Cedar rules (groups, locations, terminals, schedules, hours,
//! categories, a few that need Cedar itself), 10,000 principals in 40 groups, 50 locations with 10
//! terminals each, 10 schedules; the request's host is looked up in the 1M-domain list first.

use std::fmt::Write as _;
use std::sync::Arc;

use destination::Host;
use lists::{CategorySet, Lists};
use policy::rules::{Known, RuleSet, RuleSource};
use policy::{
    decide, Decision, Inputs, LocalTime, Place, Policy, PolicySpec, SessionFacts, Tier,
    Unregistered, Weekday,
};

use super::Rng;

pub const PRINCIPALS: usize = 10_000;
pub const GROUPS: usize = 40;
pub const LOCATIONS: usize = 50;
pub const TERMINALS: usize = 500;
pub const SCHEDULES: usize = 10;
/// Categories the rules name, besides the bench's own.
pub const RULE_CATEGORIES: [&str; 4] = ["research", "news", "social", "video"];

/// One request, as indexes into the fixture.
pub struct Req {
    principal: usize,
    host: Host,
    connect: bool,
    /// `None`: an unregistered address.
    terminal: Option<usize>,
    local: LocalTime,
    schedules: Vec<Arc<str>>,
    session: Option<SessionFacts>,
}

pub struct RulesFixture {
    names: Vec<String>,
    groups: Vec<Vec<Arc<str>>>,
    terminals: Vec<String>,
    locations: Vec<String>,
    pub requests: Vec<Req>,
    /// The same rules, with and without the decision cache.
    pub cached: Policy,
    pub uncached: Policy,
    pub rules: usize,
    pub cedar_rules: usize,
}

/// 200 rules: what a large institution might write.
fn rule_text() -> (String, usize) {
    let mut t = String::new();
    let mut cedar = 0;
    let g = |i: usize| format!("Gatehouse::Group::\"g{}\"", i % GROUPS);
    // 100: a group may reach research or news at a location.
    for i in 0..100 {
        let cat = if i % 2 == 0 { "research" } else { "news" };
        let _ = writeln!(
            t,
            "@id(\"room-{i}\")\npermit (principal in {}, action == Gatehouse::Action::\"http\", resource)\nwhen {{ context.location == \"L{}\" && resource.categories.contains(\"{cat}\") }};\n",
            g(i),
            i % LOCATIONS
        );
    }
    // 30: no social media for a group while a schedule runs.
    for i in 0..30 {
        let _ = writeln!(
            t,
            "@id(\"exam-{i}\")\n@reason(\"not during exams\")\nforbid (principal in {}, action, resource)\nwhen {{ context.schedules.contains(\"s{}\") && resource.categories.containsAny([\"social\", \"video\"]) }};\n",
            g(i + 7),
            i % SCHEDULES
        );
    }
    // 20: locations closed to everyone at night.
    for i in 0..20 {
        let _ = writeln!(
            t,
            "@id(\"night-{i}\")\n@reason(\"not at night\")\nforbid (principal, action, resource)\nwhen {{ context.location == \"L{i}\" && (context.hour >= 22 || context.hour < 6) }};\n"
        );
    }
    // 20: a group gets the open tier at some terminals.
    for i in 0..20 {
        let _ = writeln!(
            t,
            "@id(\"desk-{i}\")\n@tier(\"open\")\npermit (principal in {}, action, resource)\nwhen {{ [\"T{}\", \"T{}\"].contains(context.terminal) }};\n",
            g(i + 13),
            i * 25,
            i * 25 + 1
        );
    }
    // 20: one principal may read the news anywhere, in a session.
    for i in 0..20 {
        let _ = writeln!(
            t,
            "@id(\"person-{i}\")\npermit (principal == Gatehouse::Principal::\"p{}\", action, resource)\nwhen {{ resource.categories.contains(\"news\") && context.session }};\n",
            i * 499
        );
    }
    // 10 on hosts and addresses: patterns and ranges (lowered to guards), and 5 that Cedar
    // evaluates (an `if`, address predicates).
    for i in 0..3 {
        let _ = writeln!(
            t,
            "@id(\"pattern-{i}\")\npermit (principal in {}, action, resource)\nwhen {{ context.registered && resource.host like \"*.{}.com\" }};\n",
            g(i * 3),
            ["ba", "ta", "ka"][i]
        );
        let _ = writeln!(
            t,
            "@id(\"session-{i}\")\npermit (principal in {}, action, resource)\nwhen {{ context.registered && (if context.session then context.session_minutes < 60 else context.hour >= 8) }};\n",
            g(i * 3 + 1)
        );
        cedar += 1;
    }
    for i in 0..2 {
        let _ = writeln!(
            t,
            "@id(\"range-{i}\")\n@reason(\"internal ranges are off limits here\")\nforbid (principal in {}, action, resource)\nwhen {{ resource has address && resource.address.isInRange(ip(\"10.{i}.0.0/16\")) }};\n",
            g(i * 5 + 2)
        );
        let _ = writeln!(
            t,
            "@id(\"special-{i}\")\n@reason(\"no loopback or multicast\")\nforbid (principal in {}, action, resource)\nwhen {{ resource has address && (resource.address.isLoopback() || resource.address.isMulticast()) }};\n",
            g(i * 5 + 4)
        );
        cedar += 1;
    }
    (t, cedar)
}

pub fn fixture(lists: &Lists, hosts: &[Host]) -> RulesFixture {
    let mut rng = Rng(0x0001_2345);
    let names: Vec<String> = (0..PRINCIPALS).map(|i| format!("p{i}")).collect();
    let groups: Vec<Vec<Arc<str>>> = (0..PRINCIPALS)
        .map(|_| {
            let mut v: Vec<Arc<str>> = (0..1 + rng.below(3))
                .map(|_| Arc::from(format!("g{}", rng.below(GROUPS))))
                .collect();
            v.sort();
            v.dedup();
            v
        })
        .collect();
    let locations: Vec<String> = (0..LOCATIONS).map(|i| format!("L{i}")).collect();
    let terminals: Vec<String> = (0..TERMINALS).map(|i| format!("T{i}")).collect();
    let schedules: Vec<String> = (0..SCHEDULES).map(|i| format!("s{i}")).collect();
    let known = Known {
        categories: Known::categories_of(lists),
        locations: locations.clone(),
        terminals: terminals.clone(),
        schedules: schedules.clone(),
        groups: Some((0..GROUPS).map(|i| format!("g{i}")).collect()),
        ..Known::default()
    };
    let (text, cedar_rules) = rule_text();
    let sources = [RuleSource {
        name: "bench.cedar".into(),
        text,
    }];
    let compiled = RuleSet::compile(&sources, &known)
        .unwrap_or_else(|d| panic!("{}", d.iter().map(|d| format!("{d}\n")).collect::<String>()));
    let rules = compiled.rules.len();
    let policy = |set: RuleSet| {
        let mut spec = PolicySpec::default();
        for name in ["ads", "malware"] {
            spec.global_deny.insert(lists.category_id(name).unwrap());
        }
        spec.filtered_allow
            .insert(lists.category_id("big").unwrap());
        spec.unregistered = Unregistered::Cap(Tier::Filtered);
        spec.rules = Some(Arc::new(set));
        Policy::compile(spec)
    };
    let uncached = policy(
        RuleSet::compile(&sources, &known)
            .unwrap()
            .rules
            .with_cache_capacity(0),
    );
    let cached = policy(compiled.rules.with_cache_capacity(1 << 20));
    let requests = (0..super::QUERIES)
        .map(|_| {
            let mut day_schedules = Vec::new();
            if rng.below(4) == 0 {
                day_schedules.push(Arc::from(format!("s{}", rng.below(SCHEDULES))));
            }
            Req {
                principal: rng.below(PRINCIPALS),
                host: hosts[rng.below(hosts.len())].clone(),
                connect: rng.below(5) == 0,
                terminal: (rng.below(10) != 0).then(|| rng.below(TERMINALS)),
                local: LocalTime {
                    weekday: Weekday::ALL[rng.below(7)],
                    minute_of_day: rng.below(24 * 60) as u16,
                    date: (2026, 12, 7),
                },
                schedules: day_schedules,
                session: (rng.below(2) == 0).then(|| SessionFacts {
                    id: 1,
                    minutes: rng.below(120) as u32,
                }),
            }
        })
        .collect();
    RulesFixture {
        names,
        groups,
        terminals,
        locations,
        requests,
        cached,
        uncached,
        rules,
        cedar_rules,
    }
}

impl RulesFixture {
    /// The whole decision: categorise the host, then decide with the place facts.
    #[inline]
    pub fn decide(&self, lists: &Lists, policy: &Policy, r: &Req) -> Decision {
        let categories = match r.host.as_domain() {
            Some(d) => lists.lookup(d.as_str()),
            None => CategorySet::default(),
        };
        let terminal = r.terminal.map(|t| self.terminals[t].as_str());
        let location = r.terminal.map(|t| self.locations[t / 10].as_str());
        decide(policy, &self.inputs(r, categories, terminal, location))
    }

    /// `explain`: every rule evaluated by Cedar.
    pub fn explain(&self, lists: &Lists, policy: &Policy, r: &Req) -> policy::Explanation {
        let categories = match r.host.as_domain() {
            Some(d) => lists.lookup(d.as_str()),
            None => CategorySet::default(),
        };
        let terminal = r.terminal.map(|t| self.terminals[t].as_str());
        let location = r.terminal.map(|t| self.locations[t / 10].as_str());
        policy::explain(policy, &self.inputs(r, categories, terminal, location))
    }

    fn inputs<'a>(
        &'a self,
        r: &'a Req,
        categories: CategorySet,
        terminal: Option<&'a str>,
        location: Option<&'a str>,
    ) -> Inputs<'a> {
        Inputs {
            principal: &self.names[r.principal],
            groups: &self.groups[r.principal],
            disabled: false,
            tier: Tier::Filtered,
            host: &r.host,
            port: if r.connect { 443 } else { 80 },
            connect: r.connect,
            categories,
            role: "user",
            method: if r.connect { "CONNECT" } else { "GET" },
            place: Place {
                terminal,
                location,
                open: true,
                local: r.local,
                schedules: &r.schedules,
                session: r.session,
            },
            grants: None,
            now_us: 0,
        }
    }

    /// What decided, counted: the bench measures rules that decide.
    pub fn summary(&self, lists: &Lists) -> String {
        let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
        for r in &self.requests {
            let d = self.decide(lists, &self.uncached, r);
            assert_eq!(d, self.decide(lists, &self.cached, r), "cache agrees");
            let label = match (&d.rule, &d.applied_by) {
                (_, Some(_)) => "tier named by a rule",
                (policy::Rule::Custom(m), _) if m.effect == policy::Effect::Forbid => "rule forbid",
                (policy::Rule::Custom(_), _) => "rule permit",
                (policy::Rule::Undecidable(_), _) => "undecidable",
                _ => "tier",
            };
            *counts.entry(label).or_default() += 1;
        }
        format!("{counts:?}")
    }
}
