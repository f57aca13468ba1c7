//! The access decision: `decide(&Policy, &Inputs) -> Decision`, and the post-resolution address check.
//!
//! This is the one seam between the data plane and the rules. The proxy canonicalises the destination
//! (crate `destination`), looks its categories up (crate `lists`), and asks this crate; it never decides
//! anything itself. A decision never fails: it is a value, and when something cannot be decided the value
//! is a deny that says why.
//!
//! INVARIANT: this crate knows nothing of sockets, clocks, SQL or configuration files. Everything a
//! decision depends on is in [`Policy`] (compiled once per configuration load) and [`Inputs`] (per
//! request), so a decision can be replayed and benchmarked in isolation.
//!
//! The decision order ([`decide`]): 1. a disabled principal is refused; 2. a `CONNECT` port that is
//! not open; 3. the global deny lists; 4. the place (an unregistered address under
//! `unregistered = "refuse"`, a closed location); 5. the administrator's Cedar rules ([`rules`]): a
//! matching `forbid` refuses, else a matching `permit` allows (or names the tier step 6 uses), and an
//! evaluation error refuses as `undecidable`; 6. the tier, capped at unregistered addresses; and
//! when the tier refuses, 6b. the principal's access grants ([`Inputs::grants`]): a live grant whose
//! domains or categories cover the destination allows (`grant`), and a `tier:T` grant decides with
//! tier `T` as a rule's `@tier` would. A grant is a permit: it never beats a `forbid`, a global
//! deny, a closed location or anything else that refused before the tier. [`Decision::grant`]
//! names the grant that allowed.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use destination::net::{classify, AddressClass, NetSet};
use destination::{domain_is_within, DomainName, Host};
use lists::{CategoryId, CategorySet, Lists};

mod compile;
mod connect;
mod explain;
mod place;
pub mod rules;

pub use compile::PolicySpec;
use connect::ConnectPorts;
pub use connect::{ConnectRule, PortSet};
pub use explain::{explain, Explanation, Matched, Step, TierChoice, TierFrom};
pub use place::{LocalTime, Place, SessionFacts, Unregistered, Weekday};
pub use rules::{Effect, RuleMeta, RuleSet};

/// A principal's baseline access (PRODUCT.md, "tier").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Everything except the global deny lists.
    Open,
    /// Only the allow lists and allowed categories.
    Filtered,
    /// Only the configured internal zones and networks.
    Intranet,
    /// Nothing.
    None,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Open, Tier::Filtered, Tier::Intranet, Tier::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Open => "open",
            Tier::Filtered => "filtered",
            Tier::Intranet => "intranet",
            Tier::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The position of the tier in per-tier tables (the policy's tier networks).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the request goes through or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// The rule that decided. Its [`Rule::id`] is stable: it appears in refusal pages, response headers,
/// metrics and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The `open` tier allows what no global deny list names.
    TierOpen,
    /// The `none` tier allows nothing.
    TierNone,
    /// A global deny list names the destination (or a parent domain of it).
    GlobalDeny(CategoryId),
    /// The `filtered` tier allows this category.
    FilteredAllow(CategoryId),
    /// The `filtered` tier refuses what no allowed category names.
    FilteredDefault,
    /// The `intranet` tier allows this internal zone.
    IntranetZone,
    /// The `intranet` tier allows this internal network.
    IntranetNetwork,
    /// The `intranet` tier refuses everything outside its zones and networks.
    IntranetDefault,
    /// `CONNECT` to a port the configuration does not open to this destination.
    ConnectPort,
    /// The resolved address is in a range nobody may reach unless a rule allows it.
    Address(AddressClass),
    /// The resolved address is one of the gateway's own listening sockets.
    OwnSocket,
    /// A configured network rule allows this non-global address.
    NetworkAllowed,
    /// The address is globally routable.
    GlobalAddress,
    /// The principal's account is disabled.
    PrincipalDisabled,
    /// The request comes from an address that is no registered terminal, and such requests are refused.
    UnregisteredTerminal,
    /// The terminal's location is closed now.
    LocationClosed,
    /// A rule could not be evaluated; the sentence says which and why. Fail closed.
    Undecidable(Arc<str>),
    /// An administrator's Cedar rule: its `@id` and `@reason`.
    Custom(Arc<RuleMeta>),
    /// An access grant (its id) covers the destination that the tier refused.
    Grant(i64),
}

/// What a refused person can ask for, shown on the refusal page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Access to the destination (a grant, a tier, a list change).
    Destination,
    /// Their account back: asking for a destination would not help.
    Account,
}

impl Rule {
    /// The stable identifier of the rule. Category rules carry the category's name.
    pub fn id(&self, lists: &Lists) -> String {
        match self {
            Rule::GlobalDeny(c) => format!("global-deny:{}", lists.category_name(*c)),
            Rule::FilteredAllow(c) => format!("filtered-allow:{}", lists.category_name(*c)),
            Rule::Address(class) => format!("address:{}", class.as_str()),
            Rule::Custom(meta) => meta.id.clone(),
            other => other.static_id().to_owned(),
        }
    }

    /// The identifier without the category name: bounded cardinality, for metrics labels.
    pub fn static_id(&self) -> &'static str {
        match self {
            Rule::TierOpen => "tier-open",
            Rule::TierNone => "tier-none",
            Rule::GlobalDeny(_) => "global-deny",
            Rule::FilteredAllow(_) => "filtered-allow",
            Rule::FilteredDefault => "filtered-default",
            Rule::IntranetZone => "intranet-zone",
            Rule::IntranetNetwork => "intranet-network",
            Rule::IntranetDefault => "intranet-default",
            Rule::ConnectPort => "connect-port",
            Rule::Address(_) => "address",
            Rule::OwnSocket => "own-socket",
            Rule::NetworkAllowed => "network-allow",
            Rule::GlobalAddress => "global-address",
            Rule::PrincipalDisabled => "principal-disabled",
            Rule::UnregisteredTerminal => "unregistered-terminal",
            Rule::LocationClosed => "location-closed",
            Rule::Undecidable(_) => "undecidable",
            Rule::Custom(_) => "rule",
            Rule::Grant(_) => "grant",
        }
    }

    /// What a person refused by this rule can ask for.
    pub fn ask(&self) -> Ask {
        match self {
            Rule::PrincipalDisabled => Ask::Account,
            _ => Ask::Destination,
        }
    }

    /// One sentence a person can read on a refusal page.
    pub fn explanation(&self) -> &str {
        match self {
            Rule::TierOpen => "the open tier allows every destination that no global deny list names",
            Rule::TierNone => "your tier allows no browsing through this gateway",
            Rule::GlobalDeny(_) => "this destination is on a deny list that applies to everyone",
            Rule::FilteredAllow(_) => "this destination is on a list your tier allows",
            Rule::FilteredDefault => {
                "your tier allows only destinations on its allow lists, and this one is on none of them"
            }
            Rule::IntranetZone => "this destination is in an internal zone your tier allows",
            Rule::IntranetNetwork => "this address is in an internal network your tier allows",
            Rule::IntranetDefault => {
                "your tier allows only the organisation's internal zones and networks"
            }
            Rule::ConnectPort => "tunnels (CONNECT) are allowed only to the configured ports",
            Rule::Address(_) => {
                "the destination resolves to a loopback, link-local, private or otherwise internal address that no rule allows"
            }
            Rule::OwnSocket => "the destination is the gateway itself",
            Rule::NetworkAllowed => "this internal network is allowed by a network rule",
            Rule::GlobalAddress => "the address is publicly routable",
            Rule::PrincipalDisabled => "this account is disabled",
            Rule::UnregisteredTerminal => {
                "requests are accepted only from the registered terminals, and this address is none of them"
            }
            Rule::LocationClosed => "this location is closed now",
            Rule::Undecidable(sentence) => sentence,
            Rule::Custom(meta) => meta.explanation(),
            Rule::Grant(_) => "an access grant you hold allows this destination",
        }
    }
}

/// The outcome of a decision, computed once and then rendered, counted and recorded from this one
/// value. An allow carries the [`Obligations`] the data plane must apply to the traffic it lets
/// through; a deny carries its rule, whose [`Rule::id`], [`Rule::explanation`] (the reason) and
/// [`Rule::ask`] (how to ask) the refusal page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: Rule,
    /// What comes with an allow; always empty on a deny.
    pub obligations: Obligations,
    /// The `permit` rule whose `@tier` named the tier that decided (then `rule` is a tier rule).
    pub applied_by: Option<Arc<RuleMeta>>,
    /// The tier step 6 decided with (a rule's `@tier` or the principal's, capped at an
    /// unregistered address); `None` when an earlier step decided.
    pub tier: Option<Tier>,
}

impl Decision {
    fn allow(rule: Rule) -> Decision {
        Decision {
            verdict: Verdict::Allow,
            rule,
            obligations: Obligations::default(),
            applied_by: None,
            tier: None,
        }
    }

    fn deny(rule: Rule) -> Decision {
        Decision {
            verdict: Verdict::Deny,
            rule,
            obligations: Obligations::default(),
            applied_by: None,
            tier: None,
        }
    }

    /// The tier whose networks the address check applies after this decision: the tier step 6
    /// decided with, or, for an allow by a rule, the principal's tier capped as step 6 would.
    /// INVARIANT: a resolved address is checked under the same tier that allowed the name, so a
    /// rule's `@tier("open")` never opens the principal's own tier's internal networks.
    pub fn address_tier(&self, policy: &Policy, inputs: &Inputs<'_>) -> Tier {
        self.tier
            .unwrap_or_else(|| tier_used(policy, inputs, inputs.tier))
    }

    pub fn is_allow(&self) -> bool {
        self.verdict == Verdict::Allow
    }

    /// The access grant this allow was made under (its id in the store), if a grant allowed it.
    pub fn grant(&self) -> Option<i64> {
        self.obligations.grant.map(|g| g.0)
    }

    /// The sentence a refused person reads.
    pub fn reason(&self) -> &str {
        self.rule.explanation()
    }

    /// What a refused person can ask for.
    pub fn ask(&self) -> Ask {
        self.rule.ask()
    }
}

/// What an allow obliges the data plane to do with the traffic. Today every rule allows with no
/// obligation (the traffic is relayed in full, unshaped, directly); the fields are where content
/// modes, bandwidth classes, upstreams and grants go as they come. INVARIANT: the data plane
/// applies every obligation it is given or refuses the request; it never drops one silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Obligations {
    /// How the response is relayed; `None` is in full.
    pub content_mode: Option<ContentMode>,
    /// The byte-rate class the transfer is shaped by; `None` is unshaped.
    pub bandwidth_class: Option<ClassId>,
    /// The egress path (a parent proxy); `None` is direct.
    pub upstream: Option<UpstreamId>,
    /// The grant the request is allowed under, recorded with the event.
    pub grant: Option<GrantId>,
}

impl Obligations {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        *self == Obligations::default()
    }
}

/// A content mode other than full relay (PRODUCT.md, "content mode"). None exists yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {}

/// A bandwidth class, by its index in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassId(pub u16);

/// An upstream (egress path), by its index in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamId(pub u16);

/// A grant, by its id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantId(pub i64);

/// The compiled rules of one configuration, made by [`Policy::compile`]. Immutable; swapped whole
/// on reload.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Categories refused for every tier.
    global_deny: CategorySet,
    /// Categories the `filtered` tier allows (its allow lists and allowed categories).
    filtered_allow: CategorySet,
    /// Internal zones (a zone allows itself and every subdomain) for the `intranet` tier.
    intranet_zones: Vec<DomainName>,
    /// Non-global networks reachable per tier, indexed by tier (the `intranet` tier's internal networks).
    tier_networks: [NetSet; 4],
    /// Non-global networks every tier may reach (after its tier allowed the name).
    allow_networks: NetSet,
    /// The ports `CONNECT` may reach, globally and per network or domain.
    connect: ConnectPorts,
    /// The gateway's own listening sockets; reaching them through the proxy is refused for every tier.
    own_sockets: Vec<SocketAddr>,
    /// What happens at addresses that are no registered terminal.
    unregistered: Unregistered,
    /// The administrator's rules; `None`: none (step 5 is skipped).
    rules: Option<Arc<RuleSet>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::compile(PolicySpec::default())
    }
}

/// What a decision depends on for one request.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The principal's name.
    pub principal: &'a str,
    /// The groups the principal belongs to, sorted (rules will refer to them by name).
    pub groups: &'a [Arc<str>],
    /// The principal's account is disabled.
    pub disabled: bool,
    pub tier: Tier,
    /// The canonical destination host.
    pub host: &'a Host,
    pub port: u16,
    /// Whether this is a `CONNECT` tunnel.
    pub connect: bool,
    /// The categories of the host and its parent domains (from `Lists::lookup`).
    pub categories: CategorySet,
    /// The principal's role: `admin`, `approver` or `user`.
    pub role: &'a str,
    /// The request method; `CONNECT` for tunnels.
    pub method: &'a str,
    /// Where and when the request is made.
    pub place: Place<'a>,
    /// The active access grants (the gateway's snapshot of the store); `None`: no grant applies.
    pub grants: Option<&'a access::GrantSet>,
    /// The time of the request, in microseconds since the Unix epoch: a grant covers it only
    /// between its start and its end.
    pub now_us: i64,
}

/// Decide on a canonical destination, before any name resolution.
pub fn decide(policy: &Policy, inputs: &Inputs<'_>) -> Decision {
    if let Some(refused) = before_rules(policy, inputs) {
        return refused;
    }
    // Step 5: the administrator's rules, only those whose scope can match.
    let outcome = match &policy.rules {
        Some(rules) if !rules.is_empty() => rules.evaluate(inputs),
        _ => rules::Outcome::NoMatch,
    };
    after_rules(policy, inputs, outcome)
}

/// Steps 1–4: what refuses before any rule is asked.
fn before_rules(policy: &Policy, inputs: &Inputs<'_>) -> Option<Decision> {
    // A disabled account browses nowhere, whatever its tier.
    if inputs.disabled {
        return Some(Decision::deny(Rule::PrincipalDisabled));
    }
    if inputs.connect && !policy.connect.allows_name(inputs.host, inputs.port) {
        return Some(Decision::deny(Rule::ConnectPort));
    }
    // Global deny lists come first: no tier and no rule is above them.
    let denied = inputs.categories.intersection(&policy.global_deny);
    if let Some(category) = denied.first() {
        return Some(Decision::deny(Rule::GlobalDeny(category)));
    }
    let place = &inputs.place;
    if !place.is_registered() && policy.unregistered == Unregistered::Refuse {
        return Some(Decision::deny(Rule::UnregisteredTerminal));
    }
    if place.is_registered() && !place.open {
        return Some(Decision::deny(Rule::LocationClosed));
    }
    None
}

/// Steps 5 (its outcome) and 6: a forbid refuses, a permit allows or names the tier, an error refuses.
fn after_rules(policy: &Policy, inputs: &Inputs<'_>, outcome: rules::Outcome) -> Decision {
    match outcome {
        rules::Outcome::Forbid(meta) => Decision::deny(Rule::Custom(meta)),
        rules::Outcome::Error(sentence) => Decision::deny(Rule::Undecidable(sentence)),
        rules::Outcome::Permit(meta) => match meta.tier {
            None => Decision::allow(Rule::Custom(meta)),
            Some(tier) => {
                let mut d = tier_or_grant(policy, inputs, tier_used(policy, inputs, tier));
                if d.grant().is_none() {
                    d.applied_by = Some(meta);
                }
                d
            }
        },
        rules::Outcome::NoMatch => {
            tier_or_grant(policy, inputs, tier_used(policy, inputs, inputs.tier))
        }
    }
}

/// Step 6, and 6b when the tier refuses: a grant of the principal that allows.
fn tier_or_grant(policy: &Policy, inputs: &Inputs<'_>, tier: Tier) -> Decision {
    let d = tier_decision(policy, inputs, tier);
    if d.is_allow() {
        return d;
    }
    granted(policy, inputs, tier).unwrap_or(d)
}

/// Step 6b: the lowest-numbered live grant whose domains or categories cover the destination
/// (the address check then runs under the tier step 6 used: a grant opens a name, not the
/// principal's internal networks); else the first `tier:T` grant whose tier allows.
fn granted(policy: &Policy, inputs: &Inputs<'_>, tier: Tier) -> Option<Decision> {
    let grants = inputs.grants?;
    let (who, now) = (inputs.principal, inputs.now_us);
    if let Some(g) = grants.covering(who, inputs.host, &inputs.categories, now) {
        let mut d = Decision::allow(Rule::Grant(g.id));
        d.tier = Some(tier);
        d.obligations.grant = Some(GrantId(g.id));
        return Some(d);
    }
    grants.tiers(who, now).into_iter().find_map(|(g, name)| {
        let t = Tier::parse(name)?;
        let mut d = tier_decision(policy, inputs, tier_used(policy, inputs, t));
        d.obligations.grant = Some(GrantId(g.id));
        d.is_allow().then_some(d)
    })
}

/// The tier step 6 uses: the given one, capped at an unregistered address under `unregistered = "<tier>"`.
fn tier_used(policy: &Policy, inputs: &Inputs<'_>, tier: Tier) -> Tier {
    match policy.unregistered {
        Unregistered::Cap(cap) if !inputs.place.is_registered() => tier.min_access(cap),
        _ => tier,
    }
}

/// Step 6: what the tier allows.
fn tier_decision(policy: &Policy, inputs: &Inputs<'_>, tier: Tier) -> Decision {
    let mut d = tier_step(policy, inputs, tier);
    d.tier = Some(tier);
    d
}

fn tier_step(policy: &Policy, inputs: &Inputs<'_>, tier: Tier) -> Decision {
    match tier {
        Tier::None => Decision::deny(Rule::TierNone),
        Tier::Open => Decision::allow(Rule::TierOpen),
        Tier::Filtered => match inputs
            .categories
            .intersection(&policy.filtered_allow)
            .first()
        {
            Some(category) => Decision::allow(Rule::FilteredAllow(category)),
            None => Decision::deny(Rule::FilteredDefault),
        },
        Tier::Intranet => match inputs.host {
            Host::Domain(name) => {
                if policy
                    .intranet_zones
                    .iter()
                    .any(|zone| domain_is_within(name, zone))
                {
                    Decision::allow(Rule::IntranetZone)
                } else {
                    Decision::deny(Rule::IntranetDefault)
                }
            }
            Host::V4(_) | Host::V6(_) => match inputs.host.ip() {
                Some(ip) if policy.tier_networks[Tier::Intranet.index()].contains(ip) => {
                    Decision::allow(Rule::IntranetNetwork)
                }
                _ => Decision::deny(Rule::IntranetDefault),
            },
        },
    }
}

/// Check one resolved address before connecting to it. Called for every address gatehouse would connect
/// to, after [`decide`] allowed the name with the same `inputs`; the connection then goes to exactly
/// this address.
pub fn check_address(policy: &Policy, inputs: &Inputs<'_>, addr: SocketAddr) -> Decision {
    let ip = unmap(addr.ip());
    let class = classify(ip);
    // The gateway's own sockets are refused for every tier. A listener on the unspecified address
    // listens on every local address; without enumerating interfaces, any non-global address on that
    // port is treated as the gateway itself.
    let own = policy.own_sockets.iter().any(|own| {
        own.port() == addr.port()
            && (unmap(own.ip()) == ip || (own.ip().is_unspecified() && !class.is_global()))
    });
    if own {
        return Decision::deny(Rule::OwnSocket);
    }
    // INVARIANT: an unspecified address is never a destination, whatever the rules allow:
    // connecting to `0.0.0.0` or `[::]` reaches the local host itself (its loopback services
    // and the gateway's own sockets), under a spelling no loopback or own-socket entry names.
    if class == AddressClass::Unspecified {
        return Decision::deny(Rule::Address(class));
    }
    // A port opened only to some networks is refused at every address outside them.
    if inputs.connect && !policy.connect.allows_address(inputs.host, ip, addr.port()) {
        return Decision::deny(Rule::ConnectPort);
    }
    if class.is_global() {
        return Decision::allow(Rule::GlobalAddress);
    }
    if policy.allow_networks.contains(ip) {
        return Decision::allow(Rule::NetworkAllowed);
    }
    if policy.tier_networks[inputs.tier.index()].contains(ip) {
        return Decision::allow(Rule::IntranetNetwork);
    }
    Decision::deny(Rule::Address(class))
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use lists::ListsBuilder;

    fn lists() -> (Lists, CategoryId, CategoryId) {
        let mut b = ListsBuilder::new();
        let ads = b.category("ads").unwrap();
        let research = b.category("research").unwrap();
        b.add_domain(ads, "ads.example.com").unwrap();
        b.add_domain(research, "example.com").unwrap();
        b.add_domain(research, "arxiv.org").unwrap();
        (b.build().unwrap(), ads, research)
    }

    fn spec(ads: CategoryId, research: CategoryId) -> PolicySpec {
        let mut s = PolicySpec::default();
        s.global_deny.insert(ads);
        s.filtered_allow.insert(research);
        s.intranet_zones = vec![domain("corp.internal")];
        s.intranet_networks = nets(&["10.1.0.0/16"]);
        s
    }

    fn policy(ads: CategoryId, research: CategoryId) -> Policy {
        Policy::compile(spec(ads, research))
            .with_own_sockets(vec!["127.0.0.1:3128".parse().unwrap()])
    }

    fn nets(items: &[&str]) -> NetSet {
        NetSet::parse(items).unwrap()
    }

    /// The address check of a plain (not `CONNECT`) request to a name.
    fn check_address(p: &Policy, tier: Tier, addr: &str) -> Decision {
        let host = Host::parse("origin.example").unwrap();
        let inputs = Inputs {
            principal: "ada",
            groups: &[],
            disabled: false,
            tier,
            host: &host,
            port: 80,
            connect: false,
            categories: CategorySet::default(),
            role: "user",
            method: "GET",
            place: crate::Place::unregistered(crate::tests_support::NOON),
            grants: None,
            now_us: 0,
        };
        super::check_address(p, &inputs, addr.parse().unwrap())
    }

    fn domain(s: &str) -> DomainName {
        match Host::parse(s).unwrap() {
            Host::Domain(d) => d,
            other => panic!("not a domain: {other:?}"),
        }
    }

    fn run(tier: Tier, host: &str, port: u16, connect: bool) -> (Verdict, String) {
        let (lists, ads, research) = lists();
        let p = policy(ads, research);
        let host = Host::parse(host).unwrap();
        let categories = match &host {
            Host::Domain(d) => lists.lookup(d.as_str()),
            _ => CategorySet::default(),
        };
        let d = decide(
            &p,
            &Inputs {
                principal: "ada",
                groups: &[],
                disabled: false,
                tier,
                host: &host,
                port,
                connect,
                categories,
                role: "user",
                method: "GET",
                place: crate::Place::unregistered(crate::tests_support::NOON),
                grants: None,
                now_us: 0,
            },
        );
        (d.verdict, d.rule.id(&lists))
    }

    #[test]
    fn tiers_and_lists_combine_as_documented() {
        use Verdict::*;
        let cases: &[(Tier, &str, u16, bool, Verdict, &str)] = &[
            (Tier::Open, "anything.net", 80, false, Allow, "tier-open"),
            (
                Tier::Open,
                "ads.example.com",
                80,
                false,
                Deny,
                "global-deny:ads",
            ),
            (
                Tier::Open,
                "x.ads.example.com",
                443,
                true,
                Deny,
                "global-deny:ads",
            ),
            (Tier::Open, "anything.net", 22, true, Deny, "connect-port"),
            (
                Tier::Filtered,
                "www.example.com",
                80,
                false,
                Allow,
                "filtered-allow:research",
            ),
            (
                Tier::Filtered,
                "ads.example.com",
                80,
                false,
                Deny,
                "global-deny:ads",
            ),
            (
                Tier::Filtered,
                "notexample.com",
                80,
                false,
                Deny,
                "filtered-default",
            ),
            (
                Tier::Filtered,
                "10.1.2.3",
                80,
                false,
                Deny,
                "filtered-default",
            ),
            (
                Tier::Intranet,
                "wiki.corp.internal",
                80,
                false,
                Allow,
                "intranet-zone",
            ),
            (
                Tier::Intranet,
                "corp.internal",
                443,
                true,
                Allow,
                "intranet-zone",
            ),
            (
                Tier::Intranet,
                "10.1.2.3",
                80,
                false,
                Allow,
                "intranet-network",
            ),
            (
                Tier::Intranet,
                "10.2.0.1",
                80,
                false,
                Deny,
                "intranet-default",
            ),
            (
                Tier::Intranet,
                "example.com",
                80,
                false,
                Deny,
                "intranet-default",
            ),
            (Tier::None, "example.com", 80, false, Deny, "tier-none"),
        ];
        for (tier, host, port, connect, verdict, rule) in cases {
            let got = run(*tier, host, *port, *connect);
            assert_eq!(got, (*verdict, rule.to_string()), "{tier} {host}:{port}");
        }
    }

    #[test]
    fn address_check_refuses_internal_ranges_unless_allowed() {
        let (_, ads, research) = lists();
        let p = Policy::compile(PolicySpec {
            allow_networks: nets(&["127.0.0.2"]),
            ..spec(ads, research)
        })
        .with_own_sockets(vec!["127.0.0.1:3128".parse().unwrap()]);
        let check = |tier, a: &str| check_address(&p, tier, a);
        assert_eq!(
            check(Tier::Open, "127.0.0.1:80").rule,
            Rule::Address(AddressClass::Loopback)
        );
        assert_eq!(
            check(Tier::Open, "169.254.169.254:80").rule,
            Rule::Address(AddressClass::LinkLocal)
        );
        assert_eq!(
            check(Tier::Open, "[::ffff:10.0.0.1]:80").rule,
            Rule::Address(AddressClass::Private)
        );
        assert_eq!(check(Tier::Open, "127.0.0.2:80").rule, Rule::NetworkAllowed);
        assert_eq!(check(Tier::Open, "127.0.0.1:3128").rule, Rule::OwnSocket);
        assert_eq!(
            check(Tier::Open, "10.1.0.9:80").rule,
            Rule::Address(AddressClass::Private)
        );
        assert_eq!(
            check(Tier::Intranet, "10.1.0.9:80").rule,
            Rule::IntranetNetwork
        );
        assert_eq!(
            check(Tier::Open, "93.184.216.34:443").rule,
            Rule::GlobalAddress
        );
    }

    #[test]
    fn own_socket_is_refused_even_when_its_network_is_allowed() {
        let (_, ads, research) = lists();
        let p = Policy::compile(PolicySpec {
            allow_networks: nets(&["127.0.0.0/8"]),
            ..spec(ads, research)
        })
        .with_own_sockets(vec!["0.0.0.0:3128".parse().unwrap()]);
        assert_eq!(
            check_address(&p, Tier::Open, "127.0.0.5:3128").rule,
            Rule::OwnSocket
        );
        assert!(check_address(&p, Tier::Open, "127.0.0.5:80").is_allow());
    }

    #[test]
    fn unspecified_addresses_are_refused_even_when_allowed() {
        let (_, ads, research) = lists();
        let p = Policy::compile(PolicySpec {
            allow_networks: nets(&["0.0.0.0/0", "::/0"]),
            intranet_networks: nets(&["0.0.0.0/8"]),
            ..spec(ads, research)
        })
        .with_own_sockets(vec!["127.0.0.1:3128".parse().unwrap()]);
        for addr in [
            "0.0.0.0:3128",
            "0.0.0.0:80",
            "0.1.2.3:80",
            "[::]:3128",
            "[::ffff:0.0.0.0]:80",
        ] {
            for tier in [Tier::Open, Tier::Intranet] {
                assert_eq!(
                    check_address(&p, tier, addr).rule,
                    Rule::Address(AddressClass::Unspecified),
                    "{tier} {addr}"
                );
            }
        }
        assert!(check_address(&p, Tier::Open, "127.0.0.5:80").is_allow());
    }

    #[test]
    fn a_disabled_account_is_refused_whatever_its_tier_and_is_told_to_ask_about_it() {
        let (lists, ads, research) = lists();
        let p = policy(ads, research);
        let host = Host::parse("example.com").unwrap();
        for tier in Tier::ALL {
            let d = decide(
                &p,
                &Inputs {
                    principal: "ada",
                    groups: &[],
                    disabled: true,
                    tier,
                    host: &host,
                    port: 443,
                    connect: true,
                    categories: lists.lookup("example.com"),
                    role: "user",
                    method: "GET",
                    place: crate::Place::unregistered(crate::tests_support::NOON),
                    grants: None,
                    now_us: 0,
                },
            );
            assert_eq!(
                (d.verdict, d.rule.clone()),
                (Verdict::Deny, Rule::PrincipalDisabled)
            );
            assert_eq!(d.ask(), Ask::Account);
            assert_eq!(d.reason(), "this account is disabled");
            assert!(d.obligations.is_empty());
        }
        assert_eq!(Rule::TierNone.ask(), Ask::Destination);
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::{LocalTime, Weekday};

    /// Monday 7 December 2026, 12:00.
    pub const NOON: LocalTime = LocalTime {
        weekday: Weekday::Mon,
        minute_of_day: 12 * 60,
        date: (2026, 12, 7),
    };
}
