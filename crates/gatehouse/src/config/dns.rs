//! `[dns]`: the static hosts table consulted before the system resolver (split-horizon names,
//! tests). Names are canonicalised like request hosts; addresses are stored in one form each, as
//! resolver answers are. A name with no addresses does not resolve (`502 dns_failed`) and is
//! never sent to the system resolver.

use std::collections::BTreeMap;
use std::net::IpAddr;

use destination::DomainName;
use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    #[serde(default)]
    hosts: BTreeMap<String, Spanned<Vec<String>>>,
}

impl RawDns {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> BTreeMap<DomainName, Vec<IpAddr>> {
        let mut table = BTreeMap::new();
        for (name, addrs) in &self.hosts {
            let key = format!("dns.hosts.{name}");
            let Some(domain) = v.domain(name, addrs, &key, "is an address, not a name") else {
                continue;
            };
            let mut ips = Vec::new();
            for a in addrs.get_ref() {
                match a.parse::<IpAddr>() {
                    // One form per address, as for resolver answers (`::ffff:a.b.c.d` is a.b.c.d).
                    Ok(ip) => ips.push(destination::net::canonical_ip(ip)),
                    Err(_) => v.err(addrs, &key, format!("`{a}` is not an IP address")),
                }
            }
            table.insert(domain, ips);
        }
        table
    }
}
