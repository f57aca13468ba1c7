//! `[policy]`: the global deny lists and the `CONNECT` port rules (`[[policy.connect]]`), and the
//! compilation of every section that shapes decisions into one [`Policy`] by
//! [`Policy::compile`].
//!
//! A port rule opens more `CONNECT` ports than `proxy.connect_ports` (the ports open to every
//! destination) to the addresses in some `networks` or the names at or below some `domains`:
//!
//! ```toml
//! [[policy.connect]]
//! networks = ["10.20.0.0/16"]
//! domains = ["build.corp.example"]
//! ports = [8443]            # or "any"
//! ```

use ::lists::Lists;
use std::sync::Arc;

use ::places::Places;
use ::policy::{ConnectRule, Policy, PolicySpec, PortSet, RuleSet, Tier, Unregistered};
use destination::net::NetSet;
use serde::Deserialize;
use toml::Spanned;

use super::tiers::{Intranet, RawTiers};
use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPolicy {
    deny: Vec<Spanned<String>>,
    connect: Vec<Spanned<RawConnect>>,
}

/// What other sections validated before the policy is compiled.
pub(super) struct Validated<'a> {
    /// `proxy.connect_ports`.
    pub connect_ports: Option<&'a [u16]>,
    /// `[network] allow`.
    pub allow_networks: NetSet,
    /// `[tiers.intranet]`.
    pub intranet: Intranet,
    /// `[places]` and the rest: how unregistered addresses are treated.
    pub places: &'a Places,
    /// `[rules]`, compiled.
    pub rules: Option<Arc<RuleSet>>,
}

const PORTS_SHAPE: &str = "write `ports = [8443, 9443]` or `ports = \"any\"`";

impl RawPolicy {
    /// The policy of the whole file: `[policy]`, `[tiers.*]`, `[network]` (validated before the
    /// lists, as `allow_networks` and `intranet`) and `proxy.connect_ports`.
    pub(super) fn compile(
        &self,
        v: &mut Validator<'_>,
        tiers: &RawTiers,
        lists: &Lists,
        done: Validated<'_>,
    ) -> Policy {
        let Validated {
            connect_ports,
            allow_networks,
            intranet,
            places,
            rules,
        } = done;
        let global_deny = super::lists::categories(v, &self.deny, "policy.deny", lists);
        let connect_rules = self.connect.iter().map(|r| connect_rule(v, r)).collect();
        let filtered_allow = tiers.filtered_allow(v, lists);
        Policy::compile(PolicySpec {
            global_deny,
            filtered_allow,
            intranet_zones: intranet.zones,
            intranet_networks: intranet.networks,
            allow_networks,
            connect_ports: connect_ports.map_or_else(|| vec![443], <[u16]>::to_vec),
            connect_rules,
            unregistered: match places.unregistered() {
                ::places::Unregistered::Allow => Unregistered::Allow,
                ::places::Unregistered::Refuse => Unregistered::Refuse,
                // The configuration checked the name; an unknown one would be refused outright.
                ::places::Unregistered::Cap(t) => {
                    Tier::parse(t).map_or(Unregistered::Refuse, Unregistered::Cap)
                }
            },
            rules,
        })
    }
}

fn connect_rule(v: &mut Validator<'_>, rule: &Spanned<RawConnect>) -> ConnectRule {
    let raw = rule.get_ref();
    let networks: NetSet = v.nets(&raw.networks, "policy.connect.networks");
    let domains = v.domains(
        &raw.domains,
        "policy.connect.domains",
        "is an address; put addresses in `networks`",
    );
    if raw.networks.is_empty() && raw.domains.is_empty() {
        v.err(
            rule,
            "policy.connect",
            "a port rule needs `networks`, `domains` or both, to say where its ports are open"
                .into(),
        );
    }
    let ports = match &raw.ports {
        Some(p) => ports(v, p),
        None => {
            v.err(
                rule,
                "policy.connect.ports",
                format!("a port rule needs `ports`: {PORTS_SHAPE}"),
            );
            PortSet::Only(Vec::new())
        }
    };
    ConnectRule {
        networks,
        domains,
        ports,
    }
}

/// `"any"`, or a non-empty array of ports from 1 to 65535.
fn ports(v: &mut Validator<'_>, value: &Spanned<toml::Value>) -> PortSet {
    const KEY: &str = "policy.connect.ports";
    match value.get_ref() {
        toml::Value::String(s) if s == "any" => PortSet::Any,
        toml::Value::Array(items) if !items.is_empty() => {
            let mut ports = Vec::new();
            for item in items {
                match item.as_integer().and_then(|n| u16::try_from(n).ok()) {
                    Some(port) if port > 0 => ports.push(port),
                    _ => v.err(
                        value,
                        KEY,
                        format!("`{item}` is not a port; ports are whole numbers from 1 to 65535"),
                    ),
                }
            }
            PortSet::Only(ports)
        }
        other => {
            v.err(
                value,
                KEY,
                format!("`{other}` is not a list of ports; {PORTS_SHAPE}"),
            );
            PortSet::Only(Vec::new())
        }
    }
}

/// One `[[policy.connect]]` rule as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConnect {
    networks: Vec<Spanned<String>>,
    domains: Vec<Spanned<String>>,
    ports: Option<Spanned<toml::Value>>,
}
