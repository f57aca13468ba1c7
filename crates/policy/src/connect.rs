//! Which ports a `CONNECT` tunnel may reach: one list for every destination, plus rules that open
//! more ports to some networks or some domains.
//!
//! The check runs twice. Before name resolution ([`ConnectPorts::allows_name`]) a port passes if the
//! global list or a rule matching the destination's name allows it, or if some network rule allows
//! it at all (whether the destination is in that network is known only after resolution). After
//! resolution ([`ConnectPorts::allows_address`]) every address must pass on its own: by the global
//! list, a rule matching the name, or a network rule containing the address. So a port opened to a
//! network is never reachable at an address outside it, whatever name or literal leads there.
//!
//! A rule only widens the port check. It never makes a non-global address reachable: that is the
//! address check's `network.allow` and tier networks.

use std::net::IpAddr;

use destination::net::NetSet;
use destination::{domain_is_within, DomainName, Host};

/// The ports of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSet {
    /// Every port.
    Any,
    /// Only these ports.
    Only(Vec<u16>),
}

impl PortSet {
    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        match self {
            PortSet::Any => true,
            PortSet::Only(ports) => ports.contains(&port),
        }
    }
}

/// More `CONNECT` ports for destinations in some networks or below some domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRule {
    /// A resolved address in one of these networks matches.
    pub networks: NetSet,
    /// A destination name that is one of these domains or below one matches.
    pub domains: Vec<DomainName>,
    /// The ports the rule allows to what it matches.
    pub ports: PortSet,
}

impl ConnectRule {
    fn matches_name(&self, host: &Host) -> bool {
        match host {
            Host::Domain(name) => self.domains.iter().any(|d| domain_is_within(name, d)),
            Host::V4(_) | Host::V6(_) => false,
        }
    }
}

/// The compiled `CONNECT` port rules of one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectPorts {
    /// Ports open to every destination (`proxy.connect_ports`).
    pub(crate) global: Vec<u16>,
    pub(crate) rules: Vec<ConnectRule>,
}

impl Default for ConnectPorts {
    fn default() -> Self {
        ConnectPorts {
            global: vec![443],
            rules: Vec::new(),
        }
    }
}

impl ConnectPorts {
    /// The port is open to this destination whatever its address.
    fn open_to_name(&self, host: &Host, port: u16) -> bool {
        self.global.contains(&port)
            || self
                .rules
                .iter()
                .any(|r| r.ports.contains(port) && r.matches_name(host))
    }

    /// Before resolution: the port may be open to this destination (a network rule's ports are
    /// checked against the addresses later, by [`ConnectPorts::allows_address`]).
    pub(crate) fn allows_name(&self, host: &Host, port: u16) -> bool {
        self.open_to_name(host, port)
            || self
                .rules
                .iter()
                .any(|r| !r.networks.is_empty() && r.ports.contains(port))
    }

    /// After resolution: the port is open to this destination at this address.
    pub(crate) fn allows_address(&self, host: &Host, ip: IpAddr, port: u16) -> bool {
        self.open_to_name(host, port)
            || self
                .rules
                .iter()
                .any(|r| r.ports.contains(port) && r.networks.contains(ip))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::{check_address, decide, Inputs, Policy, PolicySpec, Tier};
    use lists::{CategorySet, Lists};

    fn nets(items: &[&str]) -> NetSet {
        NetSet::parse(items).unwrap()
    }

    fn domains(items: &[&str]) -> Vec<DomainName> {
        items
            .iter()
            .map(|s| match Host::parse(s).unwrap() {
                Host::Domain(d) => d,
                other => panic!("not a domain: {other:?}"),
            })
            .collect()
    }

    /// Global port 443; 8443 and 9000 to 10.20.0.0/16; 8443 and 2222 at and below
    /// `build.corp.example`; 7000 to 127.0.0.3 or `both.example`. Every private network is
    /// reachable (`network.allow`), so that a refusal here is the port check's.
    fn ported() -> Policy {
        Policy::compile(PolicySpec {
            allow_networks: nets(&["10.0.0.0/8", "127.0.0.0/8"]),
            connect_rules: vec![
                ConnectRule {
                    networks: nets(&["10.20.0.0/16"]),
                    domains: vec![],
                    ports: PortSet::Only(vec![8443, 9000]),
                },
                ConnectRule {
                    networks: NetSet::default(),
                    domains: domains(&["build.corp.example"]),
                    ports: PortSet::Only(vec![8443, 2222]),
                },
                ConnectRule {
                    networks: nets(&["127.0.0.3"]),
                    domains: domains(&["both.example"]),
                    ports: PortSet::Only(vec![7000]),
                },
            ],
            ..PolicySpec::default()
        })
    }

    /// Any port to 10.0.0.0/8, only 443 elsewhere; no network is reachable beyond the tiers.
    fn any_internal(allow: &[&str]) -> Policy {
        Policy::compile(PolicySpec {
            allow_networks: nets(allow),
            connect_rules: vec![ConnectRule {
                networks: nets(&["10.0.0.0/8"]),
                domains: vec![],
                ports: PortSet::Any,
            }],
            ..PolicySpec::default()
        })
    }

    /// `decide`, then (when it allowed) `check_address` at `addr` with the same inputs, as the
    /// proxy runs them: "allow tier-open / deny connect-port".
    fn run(p: &Policy, connect: bool, authority: &str, addr: &str) -> String {
        let (host, port) = authority.rsplit_once(':').unwrap();
        let host = Host::parse(host).unwrap();
        let inputs = Inputs {
            principal: "ada",
            groups: &[],
            disabled: false,
            tier: Tier::Open,
            host: &host,
            port: port.parse().unwrap(),
            connect,
            categories: CategorySet::default(),
            role: "user",
            method: "GET",
            place: crate::Place::unregistered(crate::tests_support::NOON),
            grants: None,
            now_us: 0,
        };
        let lists = Lists::default();
        let show = |d: crate::Decision| format!("{} {}", d.verdict.as_str(), d.rule.id(&lists));
        let before = decide(p, &inputs);
        if !before.is_allow() {
            return show(before);
        }
        let after = check_address(p, &inputs, addr.parse().unwrap());
        format!("{} / {}", show(before), show(after))
    }

    #[test]
    fn connect_ports_combine_global_network_and_domain_rules() {
        let p = ported();
        let cases: &[(&str, &str, &str)] = &[
            // The global list: every destination, every address.
            (
                "example.com:443",
                "93.184.216.34:443",
                "allow tier-open / allow global-address",
            ),
            (
                "example.com:443",
                "10.30.0.1:443",
                "allow tier-open / allow network-allow",
            ),
            // No rule opens port 22 at all: refused before resolution.
            ("example.com:22", "93.184.216.34:22", "deny connect-port"),
            ("10.20.0.1:22", "10.20.0.1:22", "deny connect-port"),
            // A network rule's port: only at addresses in its networks.
            (
                "example.com:9000",
                "10.20.5.5:9000",
                "allow tier-open / allow network-allow",
            ),
            (
                "example.com:9000",
                "10.30.5.5:9000",
                "allow tier-open / deny connect-port",
            ),
            (
                "example.com:9000",
                "93.184.216.34:9000",
                "allow tier-open / deny connect-port",
            ),
            (
                "10.20.5.5:9000",
                "10.20.5.5:9000",
                "allow tier-open / allow network-allow",
            ),
            (
                "10.30.5.5:9000",
                "10.30.5.5:9000",
                "allow tier-open / deny connect-port",
            ),
            (
                "[::ffff:10.20.5.5]:9000",
                "[::ffff:10.20.5.5]:9000",
                "allow tier-open / allow network-allow",
            ),
            // A domain rule's port: at and below its domains, wherever they resolve.
            (
                "build.corp.example:2222",
                "10.30.5.5:2222",
                "allow tier-open / allow network-allow",
            ),
            (
                "x.build.corp.example:2222",
                "93.184.216.34:2222",
                "allow tier-open / allow global-address",
            ),
            (
                "notbuild.corp.example:2222",
                "10.30.5.5:2222",
                "deny connect-port",
            ),
            ("corp.example:2222", "10.30.5.5:2222", "deny connect-port"),
            ("10.30.5.5:2222", "10.30.5.5:2222", "deny connect-port"),
            // A port both rules know: the domain opens it everywhere, the network inside it.
            (
                "build.corp.example:8443",
                "10.30.5.5:8443",
                "allow tier-open / allow network-allow",
            ),
            (
                "other.example:8443",
                "10.20.0.9:8443",
                "allow tier-open / allow network-allow",
            ),
            (
                "other.example:8443",
                "10.30.0.9:8443",
                "allow tier-open / deny connect-port",
            ),
            // A domain rule does not open its ports to a network rule's port list, and back.
            (
                "build.corp.example:9000",
                "10.30.5.5:9000",
                "allow tier-open / deny connect-port",
            ),
            (
                "build.corp.example:9000",
                "10.20.5.5:9000",
                "allow tier-open / allow network-allow",
            ),
            // One rule with networks and domains: either matches.
            (
                "both.example:7000",
                "10.30.0.1:7000",
                "allow tier-open / allow network-allow",
            ),
            (
                "other.example:7000",
                "127.0.0.3:7000",
                "allow tier-open / allow network-allow",
            ),
            (
                "127.0.0.3:7000",
                "127.0.0.3:7000",
                "allow tier-open / allow network-allow",
            ),
            (
                "other.example:7000",
                "127.0.0.4:7000",
                "allow tier-open / deny connect-port",
            ),
        ];
        for (authority, addr, want) in cases {
            assert_eq!(
                run(&p, true, authority, addr),
                *want,
                "CONNECT {authority} at {addr}"
            );
        }
    }

    #[test]
    fn port_rules_apply_to_connect_only() {
        let p = ported();
        for (authority, addr, want) in [
            (
                "example.com:22",
                "93.184.216.34:22",
                "allow tier-open / allow global-address",
            ),
            (
                "example.com:9000",
                "10.30.5.5:9000",
                "allow tier-open / allow network-allow",
            ),
        ] {
            assert_eq!(
                run(&p, false, authority, addr),
                want,
                "GET {authority} at {addr}"
            );
        }
    }

    #[test]
    fn any_port_to_internal_networks_and_443_elsewhere() {
        let p = any_internal(&["10.20.0.0/16"]);
        let cases: &[(&str, &str, &str)] = &[
            (
                "wiki.corp.example:8443",
                "10.20.0.15:8443",
                "allow tier-open / allow network-allow",
            ),
            (
                "10.20.0.15:22",
                "10.20.0.15:22",
                "allow tier-open / allow network-allow",
            ),
            (
                "example.com:8443",
                "93.184.216.34:8443",
                "allow tier-open / deny connect-port",
            ),
            (
                "example.com:443",
                "93.184.216.34:443",
                "allow tier-open / allow global-address",
            ),
            // A network rule opens ports, never the network itself: 10.30/16 is not allowed.
            (
                "10.30.0.1:8443",
                "10.30.0.1:8443",
                "allow tier-open / deny address:private",
            ),
            (
                "10.30.0.1:443",
                "10.30.0.1:443",
                "allow tier-open / deny address:private",
            ),
        ];
        for (authority, addr, want) in cases {
            assert_eq!(
                run(&p, true, authority, addr),
                *want,
                "CONNECT {authority} at {addr}"
            );
        }
    }

    #[test]
    fn the_gateway_itself_and_unspecified_addresses_come_before_the_port() {
        let p = any_internal(&["127.0.0.0/8"])
            .with_own_sockets(vec!["127.0.0.1:3128".parse().unwrap()]);
        assert_eq!(
            run(&p, true, "self.example:3128", "127.0.0.1:3128"),
            "allow tier-open / deny own-socket"
        );
        assert_eq!(
            run(&p, true, "zero.example:8443", "0.0.0.0:8443"),
            "allow tier-open / deny address:unspecified"
        );
    }

    #[test]
    fn port_sets() {
        assert!(PortSet::Any.contains(1));
        assert!(PortSet::Only(vec![8443]).contains(8443));
        assert!(!PortSet::Only(vec![8443]).contains(443));
        assert!(!PortSet::Only(vec![]).contains(443));
    }
}
