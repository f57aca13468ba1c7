//! IP address classification and CIDR sets, for the check made after DNS resolution.
//!
//! Guarantees: [`classify`] puts every address in exactly one [`AddressClass`]; IPv6 addresses
//! that embed an IPv4 address (IPv4-mapped, IPv4-compatible, SIIT-translated, NAT64
//! `64:ff9b::/96`, 6to4 `2002::/16`) are classified by the embedded IPv4 address, so that no
//! IPv6 spelling makes a loopback or private IPv4 address look global. Anything outside the
//! ranges IANA has set aside for global unicast is never [`AddressClass::Global`].
//! [`parse_net`] refuses ambiguous spellings (leading zeros, host bits set) and stores
//! IPv4-mapped IPv6 networks as IPv4 networks; [`NetSet::contains`] matches an IPv4-mapped
//! IPv6 address against IPv4 networks as well.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::error::{shown, DestinationError};

/// What kind of address an IP address is, for deciding whether a proxy may connect to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum AddressClass {
    /// `0.0.0.0/8` ("this network"), `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (includes cloud metadata endpoints), `fe80::/10`.
    LinkLocal,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `fc00::/7`.
    UniqueLocal,
    /// `100.64.0.0/10` (carrier-grade NAT).
    SharedCgnat,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `240.0.0.0/4`, `192.0.0.0/24`, `198.18.0.0/15`; IPv6 outside `2000::/3` and the ranges
    /// above, the discard prefix `100::/64`, local-use NAT64 `64:ff9b:1::/48`, Teredo
    /// `2001::/32`, benchmarking `2001:2::/48`, deprecated ORCHID `2001:10::/28`.
    Reserved,
    /// Everything else.
    Global,
}

impl AddressClass {
    /// True only for [`AddressClass::Global`].
    pub fn is_global(self) -> bool {
        self == AddressClass::Global
    }

    /// Stable snake_case name, e.g. `"loopback"`, `"link_local"`, `"shared_cgnat"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "unspecified",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link_local",
            AddressClass::Private => "private",
            AddressClass::UniqueLocal => "unique_local",
            AddressClass::SharedCgnat => "shared_cgnat",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "documentation",
            AddressClass::Reserved => "reserved",
            AddressClass::Global => "global",
        }
    }

    /// Every class, in declaration order.
    pub const ALL: [AddressClass; 11] = [
        AddressClass::Unspecified,
        AddressClass::Loopback,
        AddressClass::LinkLocal,
        AddressClass::Private,
        AddressClass::UniqueLocal,
        AddressClass::SharedCgnat,
        AddressClass::Multicast,
        AddressClass::Broadcast,
        AddressClass::Documentation,
        AddressClass::Reserved,
        AddressClass::Global,
    ];
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classify an address; IPv6 addresses embedding an IPv4 address are classified by it.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    match a.octets() {
        [0, ..] => Unspecified,
        [127, ..] => Loopback,
        [169, 254, ..] => LinkLocal,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Private,
        [100, 64..=127, ..] => SharedCgnat,
        [224..=239, ..] => Multicast,
        [255, 255, 255, 255] => Broadcast,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => Documentation,
        [240..=255, ..] | [192, 0, 0, _] | [198, 18..=19, ..] => Reserved,
        _ => Global,
    }
}

fn classify_v6(a: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if a.is_unspecified() {
        return Unspecified;
    }
    if a.is_loopback() {
        return Loopback;
    }
    if let Some(v4) = embedded_ipv4(a) {
        return classify_v4(v4);
    }
    let s = a.segments();
    match s {
        [0xfe80..=0xfebf, ..] => LinkLocal,
        [0xfc00..=0xfdff, ..] => UniqueLocal,
        [0xff00..=0xffff, ..] => Multicast,
        [0x2001, 0x0db8, ..] | [0x3fff, 0x0000..=0x0fff, ..] => Documentation,
        // discard-only
        [0x0100, 0, 0, 0, ..] => Reserved,
        // Teredo, benchmarking, deprecated ORCHID
        [0x2001, 0x0000, ..] | [0x2001, 0x0002, 0x0000, ..] | [0x2001, 0x0010..=0x001f, ..] => {
            Reserved
        }
        // global unicast
        [0x2000..=0x3fff, ..] => Global,
        // unassigned, deprecated site-local fec0::/10, local-use NAT64 64:ff9b:1::/48, ...
        _ => Reserved,
    }
}

/// The IPv4 address embedded in an IPv6 address, for the forms that carry one to an IPv4
/// destination: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96` (except `::` and `::1`),
/// SIIT `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
pub fn embedded_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = a.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match a.segments() {
        [0, 0, 0, 0, 0, 0xffff, ..]
        | [0, 0, 0, 0, 0xffff, 0, ..]
        | [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// The one form of an address: IPv4-mapped IPv6 becomes IPv4, anything else is unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Parse a network: a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`127.0.0.2`
/// becomes `/32`, `::1` becomes `/128`).
///
/// Refuses leading zeros in IPv4 octets (`010.0.0.0/8` is ambiguous between decimal and octal),
/// brackets, whitespace, and host bits set after the prefix (`10.0.0.1/8`). IPv4-mapped IPv6
/// networks (`::ffff:10.0.0.0/104`) are returned as IPv4 networks (`10.0.0.0/8`).
pub fn parse_net(s: &str) -> Result<IpNet, DestinationError> {
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (s, None),
    };
    // std's parser is strict: dotted quad only, no leading zeros, no zone id, no brackets.
    let ip: IpAddr = addr.parse().map_err(|_| {
        DestinationError::bad_net(
            s,
            "expected an IP address or CIDR such as `10.0.0.0/8`, `192.0.2.1` or `2001:db8::/32`",
        )
    })?;
    let net = match prefix {
        None => IpNet::from(ip),
        Some(p) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DestinationError::bad_net(
                    s,
                    "prefix length must be a decimal number",
                ));
            }
            p.parse::<u8>()
                .ok()
                .and_then(|len| IpNet::new(ip, len).ok())
                .ok_or_else(|| {
                    DestinationError::bad_net(
                        s,
                        "prefix length must be at most 32 for IPv4 and 128 for IPv6",
                    )
                })?
        }
    };
    let trunc = net.trunc();
    if trunc != net {
        return Err(DestinationError::HostBitsSet {
            input: shown(s),
            suggestion: trunc.to_string(),
        });
    }
    Ok(canonical_net(net))
}

/// IPv4-mapped IPv6 networks (`::ffff:0:0/96` and narrower) become IPv4 networks; anything
/// else is returned with its host bits cleared.
fn canonical_net(net: IpNet) -> IpNet {
    let net = net.trunc();
    if let IpNet::V6(n) = net {
        if n.prefix_len() >= 96 {
            if let Some(v4) = n.network().to_ipv4_mapped() {
                if let Ok(v4net) = Ipv4Net::new(v4, n.prefix_len() - 96) {
                    return IpNet::V4(v4net);
                }
            }
        }
    }
    net
}

/// A set of networks. Host bits are cleared, IPv4-mapped IPv6 networks are stored as IPv4
/// networks, and duplicates are removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NetSet(Vec<IpNet>);

impl NetSet {
    /// Build a set from networks (in any order; duplicates allowed).
    pub fn new(nets: Vec<IpNet>) -> Self {
        let mut nets: Vec<IpNet> = nets.into_iter().map(canonical_net).collect();
        nets.sort_unstable();
        nets.dedup();
        NetSet(nets)
    }

    /// Parse every item with [`parse_net`].
    pub fn parse<I, S>(items: I) -> Result<Self, DestinationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = items
            .into_iter()
            .map(|s| parse_net(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetSet::new(nets))
    }

    /// True when some network contains `ip`. An IPv4-mapped IPv6 address is matched both as
    /// itself against IPv6 networks and as its IPv4 address against IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = canonical_ip(ip);
        self.0
            .iter()
            .any(|net| net.contains(&canonical) || net.contains(&ip))
    }

    /// True when the set has no networks.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of distinct networks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The networks, sorted.
    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }
}

impl FromIterator<IpNet> for NetSet {
    fn from_iter<T: IntoIterator<Item = IpNet>>(iter: T) -> Self {
        NetSet::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use AddressClass::*;

    #[test]
    fn classify_table() {
        let cases: &[(&str, AddressClass)] = &[
            // unspecified / this network
            ("0.0.0.0", Unspecified),
            ("0.255.255.255", Unspecified),
            ("1.0.0.0", Global),
            ("::", Unspecified),
            // loopback
            ("126.255.255.255", Global),
            ("127.0.0.0", Loopback),
            ("127.0.0.1", Loopback),
            ("127.255.255.255", Loopback),
            ("128.0.0.0", Global),
            ("::1", Loopback),
            // link local
            ("169.253.255.255", Global),
            ("169.254.0.0", LinkLocal),
            ("169.254.169.254", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("169.255.0.0", Global),
            ("fe80::", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal),
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("fec0::1", Reserved),
            // private
            ("9.255.255.255", Global),
            ("10.0.0.0", Private),
            ("10.255.255.255", Private),
            ("11.0.0.0", Global),
            ("172.15.255.255", Global),
            ("172.16.0.0", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Global),
            ("192.167.255.255", Global),
            ("192.168.0.0", Private),
            ("192.168.255.255", Private),
            ("192.169.0.0", Global),
            // unique local
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("fc00::", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UniqueLocal),
            ("fe00::", Reserved),
            // shared / CGNAT
            ("100.63.255.255", Global),
            ("100.64.0.0", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("100.128.0.0", Global),
            // multicast
            ("223.255.255.255", Global),
            ("224.0.0.0", Multicast),
            ("239.255.255.255", Multicast),
            ("ff00::", Multicast),
            ("ff02::1", Multicast),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Multicast),
            // reserved / broadcast
            ("240.0.0.0", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
            ("191.255.255.255", Global),
            ("192.0.0.0", Reserved),
            ("192.0.0.255", Reserved),
            ("192.0.1.0", Global),
            ("198.17.255.255", Global),
            ("198.18.0.0", Reserved),
            ("198.19.255.255", Reserved),
            ("198.20.0.0", Global),
            // documentation
            ("192.0.2.0", Documentation),
            ("192.0.2.255", Documentation),
            ("192.0.3.0", Global),
            ("198.51.99.255", Global),
            ("198.51.100.0", Documentation),
            ("198.51.100.255", Documentation),
            ("198.51.101.0", Global),
            ("203.0.112.255", Global),
            ("203.0.113.0", Documentation),
            ("203.0.113.255", Documentation),
            ("203.0.114.0", Global),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Global),
            ("2001:db8::", Documentation),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation),
            ("2001:db9::", Global),
            ("3fff::1", Documentation),
            ("3fff:fff::1", Documentation),
            ("3fff:1000::1", Global),
            // global
            ("8.8.8.8", Global),
            ("1.1.1.1", Global),
            ("2606:4700:4700::1111", Global),
            ("2000::", Global),
            ("2001:4860:4860::8888", Global),
            ("2001:3::1", Global),
            // other IPv6 special ranges
            ("100::1", Reserved),
            ("100:0:0:1::1", Reserved),
            ("2001::1", Reserved),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Reserved),
            ("2001:2::1", Reserved),
            ("2001:2:1::1", Global),
            ("2001:10::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            ("4000::1", Reserved),
            ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("::1:0:0:0", Reserved),
            // IPv4-mapped
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:100.64.0.1", SharedCgnat),
            ("::ffff:255.255.255.255", Broadcast),
            ("::ffff:8.8.8.8", Global),
            // SIIT translated
            ("::ffff:0:127.0.0.1", Loopback),
            ("::ffff:0:8.8.8.8", Global),
            // IPv4-compatible
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("::2", Unspecified),
            ("::8.8.8.8", Global),
            // NAT64
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::10.0.0.1", Private),
            ("64:ff9b::169.254.169.254", LinkLocal),
            ("64:ff9b::8.8.8.8", Global),
            ("64:ff9b::", Unspecified),
            // 6to4
            ("2002:7f00:1::", Loopback),
            ("2002:7f00:1::1234", Loopback),
            ("2002:a00:1::", Private),
            ("2002:c0a8:101::1", Private),
            ("2002:a9fe:a9fe::", LinkLocal),
            ("2002:808:808::", Global),
            ("2002::", Unspecified),
            ("2002:e000:1::", Multicast),
        ];
        for (ip, want) in cases {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(addr), *want, "{ip}");
        }
    }

    #[test]
    fn class_names() {
        let names: Vec<&str> = AddressClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "unspecified",
                "loopback",
                "link_local",
                "private",
                "unique_local",
                "shared_cgnat",
                "multicast",
                "broadcast",
                "documentation",
                "reserved",
                "global"
            ]
        );
        for c in AddressClass::ALL {
            assert_eq!(c.is_global(), c == Global);
            assert_eq!(c.to_string(), c.as_str());
        }
    }

    #[test]
    fn embedded() {
        let e = |s: &str| embedded_ipv4(s.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(e("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(e("::1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(e("64:ff9b::1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(e("2002:102:304:5::6").as_deref(), Some("1.2.3.4"));
        assert_eq!(e("::"), None);
        assert_eq!(e("::1"), None);
        assert_eq!(e("2001:db8::1.2.3.4"), None);
        assert_eq!(e("64:ff9b:1::1.2.3.4"), None);
    }

    #[test]
    fn canonical_ip_maps_v4_mapped() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(canonical_ip(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(canonical_ip(ip("::1.2.3.4")), ip("::1.2.3.4"));
        assert_eq!(canonical_ip(ip("1.2.3.4")), ip("1.2.3.4"));
    }

    #[test]
    fn parse_net_accepts() {
        let cases: &[(&str, &str)] = &[
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("127.0.0.2", "127.0.0.2/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("255.255.255.255/32", "255.255.255.255/32"),
            ("10.0.0.0/08", "10.0.0.0/8"),
            ("::1/128", "::1/128"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
            ("2001:DB8::/32", "2001:db8::/32"),
            ("fe80::/10", "fe80::/10"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:0:0/96", "0.0.0.0/0"),
            ("::ffff:127.0.0.1", "127.0.0.1/32"),
            ("::/80", "::/80"),
        ];
        for (input, want) in cases {
            let got = parse_net(input).map(|n| n.to_string());
            assert_eq!(got.as_deref(), Ok(*want), "{input}");
        }
    }

    #[test]
    fn parse_net_refusals() {
        let cases: &[(&str, &str)] = &[
            ("", "bad_net"),
            ("/8", "bad_net"),
            ("10.0.0.0/", "bad_net"),
            ("10.0.0.0/33", "bad_net"),
            ("10.0.0.0/256", "bad_net"),
            ("10.0.0.0/0008", "bad_net"),
            ("10.0.0.0/+8", "bad_net"),
            ("10.0.0.0/-1", "bad_net"),
            ("10.0.0.0/8/8", "bad_net"),
            ("::/129", "bad_net"),
            ("010.0.0.0/8", "bad_net"),
            ("10.0.0.01", "bad_net"),
            ("0x7f.0.0.1", "bad_net"),
            ("2130706433", "bad_net"),
            ("127.1", "bad_net"),
            ("10.0.0", "bad_net"),
            ("[::1]", "bad_net"),
            ("[::1]/128", "bad_net"),
            ("fe80::1%eth0", "bad_net"),
            (" 10.0.0.0/8", "bad_net"),
            ("10.0.0.0/8 ", "bad_net"),
            ("10.0.0.0 /8", "bad_net"),
            ("example.com", "bad_net"),
            ("10.0.0.1/8", "host_bits_set"),
            ("11.0.0.0/7", "host_bits_set"),
            ("2001:db8::1/32", "host_bits_set"),
            ("::ffff:10.0.0.1/104", "host_bits_set"),
        ];
        for (input, code) in cases {
            match parse_net(input) {
                Ok(n) => panic!("{input:?} accepted as {n}"),
                Err(e) => assert_eq!(e.code(), *code, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn parse_net_messages() {
        assert_eq!(
            parse_net("10.0.0.1/8").unwrap_err().to_string(),
            "`10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`"
        );
        assert_eq!(
            parse_net("2001:db8::1/32").unwrap_err().to_string(),
            "`2001:db8::1/32` has host bits set; did you mean `2001:db8::/32`"
        );
        assert_eq!(
            parse_net("10.0.0.0/33").unwrap_err().to_string(),
            "invalid network `10.0.0.0/33`: prefix length must be at most 32 for IPv4 and 128 for IPv6"
        );
    }

    #[test]
    fn netset_contains() {
        let set = NetSet::parse(["10.0.0.0/8", "192.168.1.0/24", "::1", "2001:db8::/32"]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let yes = [
            "10.0.0.0",
            "10.255.255.255",
            "192.168.1.77",
            "::1",
            "2001:db8::abcd",
            // IPv4-mapped addresses match IPv4 networks
            "::ffff:10.1.2.3",
            "::ffff:192.168.1.1",
        ];
        let no = [
            "11.0.0.0",
            "9.255.255.255",
            "192.168.2.1",
            "127.0.0.1",
            "::2",
            "::ffff:11.0.0.1",
            // compatible / NAT64 / 6to4 are distinct addresses, only `classify` looks inside
            "::10.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:a00:1::",
        ];
        for s in yes {
            assert!(set.contains(ip(s)), "{s}");
        }
        for s in no {
            assert!(!set.contains(ip(s)), "{s}");
        }
        assert!(!set.is_empty());
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn netset_mapped_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // a mapped network given in IPv6 form matches plain IPv4 and mapped addresses
        let set = NetSet::parse(["::ffff:127.0.0.0/104"]).unwrap();
        assert_eq!(set.nets(), ["127.0.0.0/8".parse::<IpNet>().unwrap()]);
        assert!(set.contains(ip("127.0.0.1")));
        assert!(set.contains(ip("::ffff:127.0.0.1")));
        assert!(!set.contains(ip("::127.0.0.1")));

        // an IPv6 network that covers the mapped range matches mapped addresses as themselves,
        // but does not swallow plain IPv4
        let set = NetSet::parse(["::/0"]).unwrap();
        assert!(set.contains(ip("::ffff:8.8.8.8")));
        assert!(!set.contains(ip("8.8.8.8")));

        // NetSet::new canonicalises too
        let set = NetSet::new(vec![
            "::ffff:10.0.0.0/104".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
            "10.1.2.3/8".parse().unwrap(),
        ]);
        assert_eq!(set.nets(), ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        assert!(set.contains(ip("10.9.9.9")));
    }

    #[test]
    fn netset_empty() {
        let set = NetSet::default();
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
        assert!(!set.contains("127.0.0.1".parse().unwrap()));
        let set: NetSet = std::iter::empty().collect();
        assert!(set.is_empty());
        assert!(NetSet::parse(["10.0.0.1/8"]).is_err());
    }
}
