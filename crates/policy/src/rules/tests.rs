//! Tests of the rules and of the decision order with rules: every step, the diagnostics, the
//! warnings, and the fast path (guards, index, cache) against Cedar's evaluation of every rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use destination::Host;
use lists::{CategoryId, CategorySet};

use super::*;
use crate::{
    decide, explain, Inputs, LocalTime, Place, Policy, PolicySpec, Rule, SessionFacts, Step, Tier,
    TierFrom, Unregistered, Verdict, Weekday,
};

const ADS: CategoryId = CategoryId(0);
const RESEARCH: CategoryId = CategoryId(1);
const NEWS: CategoryId = CategoryId(2);

fn known() -> Known {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Known {
        categories: s(&["ads", "research", "news"]),
        locations: s(&["reading-room", "staff-office"]),
        terminals: s(&["rr-01", "rr-02", "so-01"]),
        schedules: s(&["exam-week"]),
        groups: Some(s(&["researchers", "staff", "guests"])),
        ..Known::default()
    }
}

fn compile(files: &[(&str, &str)]) -> Result<Compiled, Vec<Diagnostic>> {
    let sources: Vec<RuleSource> = files
        .iter()
        .map(|(name, text)| RuleSource {
            name: name.to_string(),
            text: text.to_string(),
        })
        .collect();
    RuleSet::compile(&sources, &known())
}

fn rules(text: &str) -> RuleSet {
    match compile(&[("rules.cedar", text)]) {
        Ok(c) => c.rules,
        Err(d) => panic!("{}", show(&d)),
    }
}

fn show(d: &[Diagnostic]) -> String {
    d.iter().map(|d| format!("{d}\n")).collect()
}

fn policy(rules: RuleSet, unregistered: Unregistered) -> Policy {
    let mut spec = PolicySpec::default();
    spec.global_deny.insert(ADS);
    spec.filtered_allow.insert(NEWS);
    spec.unregistered = unregistered;
    spec.rules = Some(Arc::new(rules));
    Policy::compile(spec)
}

/// One request; the fields tests vary.
#[derive(Clone)]
struct Req {
    principal: &'static str,
    groups: Vec<Arc<str>>,
    tier: Tier,
    disabled: bool,
    host: Host,
    port: u16,
    connect: bool,
    categories: CategorySet,
    terminal: Option<&'static str>,
    location: Option<&'static str>,
    open: bool,
    local: LocalTime,
    schedules: Vec<Arc<str>>,
    session: Option<SessionFacts>,
}

impl Req {
    fn new(principal: &'static str, groups: &[&str], host: &str) -> Req {
        Req {
            principal,
            groups: groups.iter().map(|g| Arc::from(*g)).collect(),
            tier: Tier::Filtered,
            disabled: false,
            host: Host::parse(host).unwrap(),
            port: 80,
            connect: false,
            categories: CategorySet::default(),
            terminal: Some("rr-01"),
            location: Some("reading-room"),
            open: true,
            local: crate::tests_support::NOON,
            schedules: Vec::new(),
            session: None,
        }
    }

    fn cat(mut self, c: CategoryId) -> Req {
        self.categories.insert(c);
        self
    }

    fn unregistered(mut self) -> Req {
        self.terminal = None;
        self.location = None;
        self
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            principal: self.principal,
            groups: &self.groups,
            disabled: self.disabled,
            tier: self.tier,
            host: &self.host,
            port: self.port,
            connect: self.connect,
            categories: self.categories,
            role: "user",
            method: if self.connect { "CONNECT" } else { "GET" },
            place: Place {
                terminal: self.terminal,
                location: self.location,
                open: self.open,
                local: self.local,
                schedules: &self.schedules,
                session: self.session,
            },
            grants: None,
            now_us: 0,
        }
    }
}

/// "allow rule-id" / "deny rule-id", with the rule that applied a tier after a `+`.
fn run(p: &Policy, r: &Req) -> String {
    let lists = lists::Lists::default();
    let d = decide(p, &r.inputs());
    let e = explain(p, &r.inputs());
    assert_eq!(d, e.decision, "explain agrees with decide");
    let id = match &d.rule {
        Rule::FilteredAllow(_) => "filtered-allow".to_owned(),
        Rule::GlobalDeny(_) => "global-deny".to_owned(),
        other => other.id(&lists),
    };
    match &d.applied_by {
        Some(meta) => format!("{} {id}+{}", d.verdict.as_str(), meta.id),
        None => format!("{} {id}", d.verdict.as_str()),
    }
}

const LIBRARY: &str = r#"
@id("no-guests-at-night")
@reason("guests browse only during the day")
forbid (principal in Gatehouse::Group::"guests", action, resource)
when { context.hour >= 20 };

@id("reading-room-research")
@reason("the reading room's terminals reach the research publishers")
permit (principal in Gatehouse::Group::"researchers", action == Gatehouse::Action::"http", resource)
when { context.location == "reading-room" && resource.categories.contains("research") };

@id("staff-open")
@tier("open")
permit (principal in Gatehouse::Group::"staff", action, resource)
when { context.location == "staff-office" };

@id("no-research-for-guests")
@reason("research publishers are for researchers")
forbid (principal in Gatehouse::Group::"guests", action, resource)
when { resource.categories.contains("research") };

@id("guests-too")
permit (principal, action, resource)
when { resource.categories.contains("research") };
"#;

#[test]
fn every_step_of_the_order_decides_in_turn() {
    let p = policy(rules(LIBRARY), Unregistered::Refuse);
    let ada = || Req::new("ada", &["researchers", "guests"], "arxiv.org").cat(RESEARCH);
    // 5. forbid beats permit, whatever the order in the file.
    assert_eq!(run(&p, &ada()), "deny no-research-for-guests");
    let bob = || Req::new("bob", &["researchers"], "arxiv.org").cat(RESEARCH);
    assert_eq!(run(&p, &bob()), "allow reading-room-research");
    // 1. disabled beats any rule.
    let mut r = bob();
    r.disabled = true;
    assert_eq!(run(&p, &r), "deny principal-disabled");
    // 2. CONNECT port.
    let mut r = bob();
    r.connect = true;
    r.port = 22;
    assert_eq!(run(&p, &r), "deny connect-port");
    // 3. global deny beats a permit.
    assert_eq!(run(&p, &bob().cat(ADS)), "deny global-deny");
    // 4. the place: unregistered refused, closed location.
    assert_eq!(run(&p, &bob().unregistered()), "deny unregistered-terminal");
    let mut r = bob();
    r.open = false;
    assert_eq!(run(&p, &r), "deny location-closed");
    // 5. no rule matches → 6. the principal's tier.
    let r = Req::new("bob", &["researchers"], "news.example").cat(NEWS);
    assert_eq!(run(&p, &r), "allow filtered-allow");
    let r = Req::new("bob", &["researchers"], "other.example");
    assert_eq!(run(&p, &r), "deny filtered-default");
}

#[test]
fn a_permit_with_a_tier_hands_the_decision_to_that_tier() {
    let p = policy(rules(LIBRARY), Unregistered::Allow);
    let mut r = Req::new("cyd", &["staff"], "anything.example");
    r.terminal = Some("so-01");
    r.location = Some("staff-office");
    assert_eq!(run(&p, &r), "allow tier-open+staff-open");
    let e = explain(&p, &r.inputs());
    assert_eq!(e.step, Step::Tier);
    let tier = e.tier.unwrap();
    assert_eq!(tier.tier, Tier::Open);
    assert!(matches!(&tier.from, TierFrom::Rule(m) if m.id == "staff-open"));
    assert_eq!(
        tier.why(),
        "tier `open`: the tier named by rule `staff-open`"
    );
    // Global deny lists are still above the tier the rule named.
    assert_eq!(run(&p, &r.clone().cat(ADS)), "deny global-deny");
    // Elsewhere the rule does not match: the principal's own tier decides.
    assert_eq!(
        run(&p, &Req::new("cyd", &["staff"], "anything.example")),
        "deny filtered-default"
    );
}

#[test]
fn an_unregistered_address_is_capped_at_the_configured_tier() {
    let p = policy(rules(LIBRARY), Unregistered::Cap(Tier::Intranet));
    let mut r = Req::new("dan", &[], "news.example")
        .cat(NEWS)
        .unregistered();
    assert_eq!(run(&p, &r), "deny intranet-default");
    let e = explain(&p, &r.inputs());
    let tier = e.tier.unwrap();
    assert_eq!(
        (tier.tier, tier.capped_from),
        (Tier::Intranet, Some(Tier::Filtered))
    );
    assert!(
        tier.why().contains("capped at `intranet`"),
        "{}",
        tier.why()
    );
    // A registered terminal is not capped.
    r.terminal = Some("rr-01");
    r.location = Some("reading-room");
    assert_eq!(run(&p, &r), "allow filtered-allow");
    // A principal below the cap keeps its own tier.
    let mut r = Req::new("dan", &[], "news.example")
        .cat(NEWS)
        .unregistered();
    r.tier = Tier::None;
    assert_eq!(run(&p, &r), "deny tier-none");
    // Refuse refuses before any rule is asked.
    let p = policy(rules(LIBRARY), Unregistered::Refuse);
    let r = Req::new("bob", &["researchers"], "arxiv.org")
        .cat(RESEARCH)
        .unregistered();
    assert_eq!(run(&p, &r), "deny unregistered-terminal");
}

#[test]
fn an_evaluation_error_refuses_as_undecidable() {
    let set = rules(
        r#"
@id("overflow")
permit (principal, action, resource)
when { context.hour * 9223372036854775807 > 0 };
"#,
    );
    let p = policy(set, Unregistered::Allow);
    let r = Req::new("eve", &[], "news.example").cat(NEWS);
    let d = decide(&p, &r.inputs());
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.rule.static_id(), "undecidable");
    assert!(
        d.reason()
            .starts_with("gatehouse could not decide: the rule `overflow`"),
        "{}",
        d.reason()
    );
    let e = explain(&p, &r.inputs());
    assert_eq!(e.decision, d);
    assert!(e.matched[0].decided && e.matched[0].error.is_some());
    // At midnight (hour 0) the product does not overflow: the rule is evaluated and does not match.
    let mut r = r;
    r.local.minute_of_day = 5;
    assert_eq!(run(&p, &r), "allow filtered-allow");
}

#[test]
fn a_rule_set_without_rules_decides_as_the_tiers_do() {
    let p = policy(RuleSet::empty(), Unregistered::Allow);
    let r = Req::new("bob", &[], "news.example").cat(NEWS);
    assert_eq!(run(&p, &r), "allow filtered-allow");
    let p = policy(rules(""), Unregistered::Allow);
    assert_eq!(run(&p, &r), "allow filtered-allow");
}

#[test]
fn diagnostics_point_at_the_rule_and_line_that_is_wrong() {
    // A parse error in the second rule of a file.
    let text = "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\npermit (principal, action, resource)\nwhen { context.hour >= };\n";
    let d = compile(&[("one.cedar", text)]).unwrap_err();
    assert_eq!(
        (d[0].file.as_str(), d[0].line),
        ("one.cedar", 6),
        "{}",
        show(&d)
    );
    // A validation error (unknown attribute) in the second rule.
    let text = "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\npermit (principal, action, resource)\nwhen {\n  context.room == \"x\" };\n";
    let d = compile(&[("two.cedar", "// first file\n"), ("one.cedar", text)]).unwrap_err();
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(
        (d[0].file.as_str(), d[0].line, d[0].column),
        ("one.cedar", 7, 3)
    );
    assert_eq!(d[0].severity, Severity::Error);
    assert!(
        d[0].message
            .starts_with("rule `b`: attribute `room` in context"),
        "{}",
        d[0]
    );
}

#[test]
fn names_that_do_not_exist_are_errors_at_their_line() {
    let text = r#"@id("a")
permit (principal in Gatehouse::Group::"researchers", action, resource);

@id("b")
permit (principal in Gatehouse::Group::"reserchers", action, resource);

@id("c")
permit (principal, action, resource)
when {
  resource.categories.contains("reserch") ||
  context.location == "reading-rom" ||
  ["rr-01", "rr-99"].contains(context.terminal) ||
  context.schedules.contains("exams") ||
  principal.tier == "gold" ||
  context.weekday == "monday"
};
"#;
    let d = compile(&[("rules.cedar", text)]).unwrap_err();
    let lines: Vec<(u32, &str)> = d.iter().map(|d| (d.line, d.message.as_str())).collect();
    let expect = [
        (5, "rule `b`: unknown group `reserchers`"),
        (10, "rule `c`: unknown category `reserch`"),
        (11, "rule `c`: unknown location `reading-rom`"),
        (12, "rule `c`: unknown terminal `rr-99`"),
        (13, "rule `c`: unknown schedule `exams`"),
        (14, "rule `c`: unknown tier `gold`"),
        (15, "rule `c`: unknown weekday `monday`"),
    ];
    assert_eq!(d.len(), expect.len(), "{}", show(&d));
    for (line, start) in expect {
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == line && m.starts_with(start)),
            "no `{start}` at line {line} in\n{}",
            show(&d)
        );
    }
}

#[test]
fn every_rule_needs_a_unique_id_and_a_forbid_a_reason() {
    let text = r#"@id("a")
permit (principal, action, resource);

@id("a")
permit (principal, action, resource);

permit (principal, action, resource);

@id("f")
forbid (principal, action, resource);

@id("t")
@reason("x")
@tier("open")
forbid (principal, action, resource);

@id("u")
@tier("gold")
permit (principal, action, resource);

@id("tier-open")
@teir("open")
permit (principal, action, resource);
"#;
    let d = compile(&[("rules.cedar", text)]).unwrap_err();
    let has = |line: u32, part: &str| {
        assert!(
            d.iter().any(|d| d.line == line && d.message.contains(part)),
            "no `{part}` at line {line} in\n{}",
            show(&d)
        )
    };
    has(
        4,
        "rule id `a` is used twice; it is first used at rules.cedar:1",
    );
    has(7, "no `@id");
    has(9, "needs `@reason");
    has(12, "`@tier` applies only to a `permit` rule");
    has(17, "`@tier(\"gold\")` names no tier");
    has(21, "unknown annotation `@teir`");
    has(21, "the id of a built-in rule");
}

#[test]
fn rules_that_never_match_or_are_shadowed_are_warned_about() {
    let text = r#"@id("everyone-out")
@reason("closed for maintenance")
forbid (principal, action == Gatehouse::Action::"http", resource);

@id("shadowed-permit")
permit (principal in Gatehouse::Group::"staff", action == Gatehouse::Action::"http", resource)
when { context.location == "staff-office" };

@id("tunnels")
permit (principal, action == Gatehouse::Action::"connect", resource)
when { context.open };

@id("tunnels-again")
permit (principal, action == Gatehouse::Action::"connect", resource)
when { context.open };

@id("never")
permit (principal, action, resource)
when { false };
"#;
    let c = compile(&[("rules.cedar", text)]).unwrap();
    let w = &c.warnings;
    let has = |line: u32, part: &str| {
        assert!(
            w.iter().any(|d| d.line == line
                && d.severity == Severity::Warning
                && d.message.contains(part)),
            "no `{part}` at line {line} in\n{}",
            show(w)
        )
    };
    has(
        5,
        "rule `shadowed-permit` can never allow: `forbid` rule `everyone-out`",
    );
    has(13, "rule `tunnels-again` repeats rule `tunnels`");
    has(17, "rule `never`: policy is impossible");
    assert!(!w.iter().any(|d| d.line == 9), "{}", show(w));
}

/// A table of rule shapes: the guards (complete or partial) and Cedar must agree on all of them.
const MIX: &str = r#"
@id("f-night")
@reason("night")
forbid (principal in Gatehouse::Group::"guests", action, resource)
when { context.hour >= 20 || context.hour < 7 };

@id("f-exam")
@reason("exam week")
forbid (principal, action == Gatehouse::Action::"http", resource)
when { context.schedules.contains("exam-week") && resource.categories.contains("news") && !(principal in Gatehouse::Group::"staff") };

@id("f-closed-dates")
@reason("closed today")
forbid (principal, action, resource)
when { context.date == "2026-12-24" && context.registered };

@id("p-room")
permit (principal in Gatehouse::Group::"researchers", action, resource)
when { context.location == "reading-room" && resource.categories.containsAny(["research", "news"]) };

@id("p-like")
permit (principal, action, resource)
when { context.registered && resource.host like "*.example.org" };

@id("p-address")
permit (principal, action, resource)
when { resource has address && resource.address.isInRange(ip("10.0.0.0/8")) };

@id("p-address-v6")
@reason("no loopback")
forbid (principal in Gatehouse::Group::"researchers", action, resource)
when { resource has address && (resource.address.isInRange(ip("::1/128")) || resource.address.isLoopback()) };

@id("p-address-0")
permit (principal == Gatehouse::Principal::"u2", action, resource)
when { resource has address && resource.address.isInRange(ip("192.168.0.0/16")) && resource.address.isInRange(ip("0.0.0.0/0")) };

@id("p-staff")
@tier("open")
permit (principal in Gatehouse::Group::"staff", action, resource)
unless { context.terminal == "rr-02" };

@id("p-weekend")
@tier("intranet")
permit (principal == Gatehouse::Principal::"u3", action, resource)
when { ["sat", "sun"].contains(context.weekday) || principal.role == "admin" };

@id("p-session")
permit (principal, action == Gatehouse::Action::"connect", resource)
when { context.session && context.session_minutes < 30 && resource.port == 443 };

@id("p-if")
permit (principal, action, resource)
when { context.location == "reading-room" && (if principal in Gatehouse::Group::"staff" then context.hour > 8 else resource.port == 443) };

@id("p-sets")
@tier("open")
permit (principal, action, resource)
when { context.schedules.containsAll(context.schedules) && resource.categories.contains(principal.tier) && principal.name like "u*" };

@id("p-err")
permit (principal in Gatehouse::Group::"guests", action, resource)
when { context.location == "staff-office" && context.minute_of_day * 9223372036854775807 > 0 };
"#;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())].clone()
    }
}

fn random_req(rng: &mut Rng) -> Req {
    let names = ["u1", "u2", "u3", "u4"];
    let group_sets: [&[&str]; 5] = [
        &[],
        &["guests"],
        &["researchers"],
        &["staff"],
        &["guests", "staff"],
    ];
    let hosts = [
        "arxiv.org",
        "www.example.org",
        "news.example",
        "10.1.2.3",
        "192.168.0.1",
        "[::1]",
    ];
    let places = [
        (None, None),
        (Some("rr-01"), Some("reading-room")),
        (Some("rr-02"), Some("reading-room")),
        (Some("so-01"), Some("staff-office")),
    ];
    let mut r = Req::new(rng.pick(&names), rng.pick(&group_sets), rng.pick(&hosts));
    r.tier = rng.pick(&Tier::ALL);
    r.connect = rng.below(3) == 0;
    r.port = if r.connect {
        443
    } else {
        rng.pick(&[80, 443, 8080])
    };
    for c in [RESEARCH, NEWS] {
        if rng.below(2) == 0 {
            r.categories.insert(c);
        }
    }
    let (terminal, location) = rng.pick(&places);
    r.terminal = terminal;
    r.location = location;
    r.local = LocalTime {
        weekday: rng.pick(&Weekday::ALL),
        minute_of_day: rng.pick(&[
            0,
            5,
            6 * 60 + 59,
            7 * 60,
            12 * 60,
            19 * 60 + 59,
            20 * 60,
            23 * 60 + 59,
        ]),
        date: rng.pick(&[(2026, 12, 7), (2026, 12, 24)]),
    };
    if rng.below(2) == 0 {
        r.schedules = vec![Arc::from("exam-week")];
    }
    if rng.below(2) == 0 {
        r.session = Some(SessionFacts {
            id: 1,
            minutes: rng.pick(&[0, 29, 30, 300]),
        });
    }
    r
}

#[test]
fn the_fast_path_and_the_cache_decide_as_cedar_does_over_random_requests() {
    let cached = policy(rules(MIX), Unregistered::Cap(Tier::Filtered));
    let uncached = policy(
        rules(MIX).with_cache_capacity(0),
        Unregistered::Cap(Tier::Filtered),
    );
    let mut rng = Rng(7);
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for _ in 0..3000 {
        let r = random_req(&mut rng);
        let slow = explain(&uncached, &r.inputs()).decision;
        for p in [&cached, &uncached] {
            // Twice: the second asks the cache.
            for _ in 0..2 {
                assert_eq!(decide(p, &r.inputs()), slow, "for {:?}", r.inputs());
            }
        }
        *seen.entry(run(&cached, &r)).or_default() += 1;
    }
    // The table reaches every rule.
    for id in [
        "f-night",
        "f-exam",
        "f-closed-dates",
        "p-room",
        "p-like",
        "p-address",
        "p-staff",
        "p-weekend",
        "p-session",
        "undecidable",
    ] {
        assert!(
            seen.keys().any(|k| k.contains(id)),
            "no decision by `{id}` in {seen:?}"
        );
    }
}

fn grant(id: i64, who: &str, scope: &str, until: i64) -> access::ActiveGrant {
    access::ActiveGrant {
        id,
        principal: Arc::from(who),
        scope: access::Scope::parse(scope).unwrap(),
        purpose: Arc::from("a seminar on tides"),
        starts_us: Some(0),
        expires_us: Some(until),
        claim_by_us: None,
    }
}

/// Step 6b: a grant allows what the tier refused, and never what an earlier step refused.
#[test]
fn a_grant_allows_what_the_tier_refuses_and_never_what_an_earlier_step_refused() {
    let p = policy(rules(LIBRARY), Unregistered::Refuse);
    let set = access::GrantSet::new(
        [
            grant(7, "ada", "domain:example.org category:science", 1000),
            grant(8, "cy", "tier:open", 1000),
        ],
        |name| (name == "science").then_some(CategoryId(3)),
    );
    let at = |r: &Req, now: i64| {
        let mut i = r.inputs();
        i.grants = Some(&set);
        i.now_us = now;
        let d = decide(&p, &i);
        assert_eq!(explain(&p, &i).decision, d, "explain agrees with decide");
        d
    };
    let ada = |host| Req::new("ada", &[], host);
    let d = at(&ada("www.example.org"), 500);
    assert_eq!(
        (d.verdict, &d.rule, d.grant()),
        (Verdict::Allow, &Rule::Grant(7), Some(7))
    );
    assert_eq!(
        d.tier,
        Some(Tier::Filtered),
        "the address check keeps the tier's networks"
    );
    let d = at(&ada("nature.example").cat(CategoryId(3)), 500);
    assert_eq!(d.grant(), Some(7), "a category grant");
    // Not another principal's, not before or after its time.
    assert_eq!(
        at(&Req::new("bob", &[], "example.org"), 500).rule,
        Rule::FilteredDefault
    );
    assert_eq!(at(&ada("example.org"), 1000).rule, Rule::FilteredDefault);
    // Never above a forbid, a global deny, a closed location or a disabled account.
    let guest = Req::new("ada", &["guests"], "arxiv.org").cat(RESEARCH);
    assert_eq!(
        at(&guest, 500).rule.id(&lists::Lists::default()),
        "no-research-for-guests"
    );
    assert!(matches!(
        at(&ada("example.org").cat(ADS), 500).rule,
        Rule::GlobalDeny(_)
    ));
    let mut closed = ada("example.org");
    closed.open = false;
    assert_eq!(at(&closed, 500).rule, Rule::LocationClosed);
    let mut disabled = ada("example.org");
    disabled.disabled = true;
    assert_eq!(at(&disabled, 500).rule, Rule::PrincipalDisabled);
    // A tier grant decides with its tier, like a rule's `@tier`.
    let mut cy = Req::new("cy", &[], "anything.example");
    cy.tier = Tier::None;
    let d = at(&cy, 500);
    assert_eq!(
        (d.verdict, &d.rule, d.grant()),
        (Verdict::Allow, &Rule::TierOpen, Some(8))
    );
    let mut i = cy.inputs();
    i.grants = Some(&set);
    i.now_us = 500;
    let e = explain(&p, &i);
    assert_eq!(e.step, Step::Grant);
    assert_eq!(e.tier.map(|t| t.from), Some(TierFrom::Grant(8)));
    assert_eq!(at(&cy, 1000).rule, Rule::TierNone);
}
