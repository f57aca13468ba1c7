//! Compiling a [`Policy`] from validated values: the one way a policy is made.
//!
//! The configuration validates what an administrator wrote (category names resolved to ids, zones
//! canonicalised, networks parsed, port rules checked) and hands the values over as a
//! [`PolicySpec`]. [`Policy::compile`] arranges them for the decision; the gateway's own sockets,
//! known only once the listeners are bound, are added with [`Policy::with_own_sockets`]. Nothing
//! else sets a policy's fields, so what a decision reads is exactly what this file built.

use std::net::SocketAddr;
use std::sync::Arc;

use destination::net::NetSet;
use destination::DomainName;
use lists::CategorySet;

use crate::connect::{ConnectPorts, ConnectRule};
use crate::rules::RuleSet;
use crate::{Policy, Tier, Unregistered};

/// The validated rules of one configuration, before compilation.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    /// Categories refused for every tier (`policy.deny`).
    pub global_deny: CategorySet,
    /// Categories the `filtered` tier allows (`tiers.filtered.allow`).
    pub filtered_allow: CategorySet,
    /// Internal zones of the `intranet` tier (a zone covers itself and every subdomain).
    pub intranet_zones: Vec<DomainName>,
    /// Non-global networks the `intranet` tier may reach.
    pub intranet_networks: NetSet,
    /// Non-global networks every tier may reach once its tier allowed the name (`network.allow`).
    pub allow_networks: NetSet,
    /// Ports `CONNECT` may reach at every destination (`proxy.connect_ports`).
    pub connect_ports: Vec<u16>,
    /// More `CONNECT` ports for some networks or domains (`[[policy.connect]]`).
    pub connect_rules: Vec<ConnectRule>,
    /// What happens at addresses that are no registered terminal (`[places] unregistered`).
    pub unregistered: Unregistered,
    /// The administrator's compiled rules (`[rules] files`); `None`: no rules.
    pub rules: Option<Arc<RuleSet>>,
}

impl Default for PolicySpec {
    /// Nothing allowed beyond the tiers' fixed meaning; `CONNECT` to port 443 only.
    fn default() -> Self {
        PolicySpec {
            global_deny: CategorySet::default(),
            filtered_allow: CategorySet::default(),
            intranet_zones: Vec::new(),
            intranet_networks: NetSet::default(),
            allow_networks: NetSet::default(),
            connect_ports: vec![443],
            connect_rules: Vec::new(),
            unregistered: Unregistered::Allow,
            rules: None,
        }
    }
}

impl Policy {
    /// The policy for these rules, without the gateway's own sockets.
    pub fn compile(spec: PolicySpec) -> Policy {
        let mut tier_networks: [NetSet; 4] = Default::default();
        tier_networks[Tier::Intranet.index()] = spec.intranet_networks;
        Policy {
            global_deny: spec.global_deny,
            filtered_allow: spec.filtered_allow,
            intranet_zones: spec.intranet_zones,
            tier_networks,
            allow_networks: spec.allow_networks,
            connect: ConnectPorts {
                global: spec.connect_ports,
                rules: spec.connect_rules,
            },
            own_sockets: Vec::new(),
            unregistered: spec.unregistered,
            rules: spec.rules,
        }
    }

    /// The administrator's rules, if any.
    pub fn rules(&self) -> Option<&Arc<RuleSet>> {
        self.rules.as_ref()
    }

    /// What happens at addresses that are no registered terminal.
    pub fn unregistered(&self) -> Unregistered {
        self.unregistered
    }

    /// The same policy, refusing the gateway's own listening sockets for every tier.
    pub fn with_own_sockets(mut self, own_sockets: Vec<SocketAddr>) -> Policy {
        self.own_sockets = own_sockets;
        self
    }
}
