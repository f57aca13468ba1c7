//! Which terminal an address belongs to: every terminal network as one range of a single `u128`
//! address space (IPv4 at `::ffff:0:0/96`, so an IPv4-mapped IPv6 address is its IPv4 address),
//! sorted by start and searched by binary search.
//!
//! Guarantees: [`AddressIndex::build`] refuses any two networks that share an address (of two
//! terminals, or twice in one terminal), so at most one range holds an address and a lookup is
//! O(log n) in the number of networks.

use std::net::IpAddr;

use ipnet::IpNet;

/// An IPv4 address's place in the shared space: `::ffff:a.b.c.d`.
const V4_BASE: u128 = 0xffff_0000_0000;

/// The first and last address of a network in the shared space.
fn span(net: &IpNet) -> (u128, u128) {
    match net {
        IpNet::V4(n) => (
            V4_BASE | u128::from(u32::from(n.network())),
            V4_BASE | u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

fn point(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => V4_BASE | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Where a network came from: the terminal's position and the network's position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Origin {
    pub(crate) terminal: usize,
    pub(crate) network: usize,
}

#[derive(Debug, Clone, Copy)]
struct Range {
    first: u128,
    last: u128,
    origin: Origin,
}

/// Sorted, non-overlapping ranges of terminal networks.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressIndex {
    // INVARIANT: sorted by `first`, and `ranges[i].last < ranges[i + 1].first`.
    ranges: Vec<Range>,
}

impl AddressIndex {
    /// The index of `networks` (each with its origin), or every overlapping pair (earlier origin
    /// first). Each network that overlaps one before it in address order is reported once, with
    /// the network that reaches furthest among those before it.
    pub(crate) fn build(
        networks: impl IntoIterator<Item = (Origin, IpNet)>,
    ) -> Result<AddressIndex, Vec<(Origin, Origin)>> {
        let mut ranges: Vec<Range> = networks
            .into_iter()
            .map(|(origin, net)| {
                let (first, last) = span(&net);
                Range {
                    first,
                    last,
                    origin,
                }
            })
            .collect();
        ranges.sort_by_key(|r| (r.first, r.origin));
        let mut overlaps = Vec::new();
        let mut furthest: Option<Range> = None;
        for r in &ranges {
            match furthest {
                Some(f) if r.first <= f.last => {
                    overlaps.push((f.origin.min(r.origin), f.origin.max(r.origin)));
                    if r.last > f.last {
                        furthest = Some(*r);
                    }
                }
                _ => furthest = Some(*r),
            }
        }
        if overlaps.is_empty() {
            Ok(AddressIndex { ranges })
        } else {
            overlaps.sort();
            Err(overlaps)
        }
    }

    /// The origin of the network that holds `ip`, if any.
    pub(crate) fn find(&self, ip: IpAddr) -> Option<Origin> {
        let p = point(ip);
        let after = self.ranges.partition_point(|r| r.first <= p);
        let r = self.ranges.get(after.checked_sub(1)?)?;
        (p <= r.last).then_some(r.origin)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn origin(terminal: usize, network: usize) -> Origin {
        Origin { terminal, network }
    }

    fn index(nets: &[(usize, &str)]) -> Result<AddressIndex, Vec<(Origin, Origin)>> {
        AddressIndex::build(
            nets.iter()
                .enumerate()
                .map(|(i, (t, n))| (origin(*t, i), n.parse().unwrap())),
        )
    }

    #[test]
    fn lookups_find_the_one_network_that_holds_an_address() {
        let idx = index(&[
            (0, "127.0.0.11/32"),
            (1, "127.0.0.16/30"),
            (2, "10.0.0.0/8"),
            (3, "2001:db8::/64"),
            (4, "0.0.0.0/32"),
            (5, "255.255.255.255/32"),
        ])
        .unwrap();
        let at = |s: &str| idx.find(s.parse().unwrap()).map(|o| o.terminal);
        assert_eq!(at("127.0.0.11"), Some(0));
        assert_eq!(at("127.0.0.10"), None);
        assert_eq!(at("127.0.0.12"), None);
        for a in ["127.0.0.16", "127.0.0.17", "127.0.0.19"] {
            assert_eq!(at(a), Some(1));
        }
        assert_eq!(at("127.0.0.20"), None);
        assert_eq!(at("10.255.255.255"), Some(2));
        assert_eq!(at("::ffff:10.1.2.3"), Some(2), "IPv4-mapped is IPv4");
        assert_eq!(at("::ffff:127.0.0.11"), Some(0));
        assert_eq!(at("::a01:203"), None, "IPv4-compatible is not mapped");
        assert_eq!(at("2001:db8::ffff"), Some(3));
        assert_eq!(at("2001:db8:0:1::"), None);
        assert_eq!(at("0.0.0.0"), Some(4));
        assert_eq!(at("255.255.255.255"), Some(5));
        assert_eq!(at("::"), None);
        assert_eq!(at("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(
            AddressIndex::default().find("127.0.0.1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn overlaps_are_found_however_networks_nest() {
        let e = index(&[(0, "127.0.0.16/30"), (1, "127.0.0.17/32")]).unwrap_err();
        assert_eq!(e, [(origin(0, 0), origin(1, 1))]);
        // The same terminal twice is an overlap too.
        let e = index(&[(0, "10.0.0.0/8"), (0, "10.1.0.0/16")]).unwrap_err();
        assert_eq!(e, [(origin(0, 0), origin(0, 1))]);
        // A mapped IPv6 network overlaps the IPv4 one.
        let e = index(&[(0, "10.0.0.0/8"), (1, "::ffff:10.0.0.0/120")]).unwrap_err();
        assert_eq!(e.len(), 1);
        // A wide network after a small one, both nested in a third.
        let e = index(&[(0, "10.0.0.0/24"), (1, "10.0.0.0/8"), (2, "10.2.0.0/16")]).unwrap_err();
        assert_eq!(
            e,
            [(origin(0, 0), origin(1, 1)), (origin(1, 1), origin(2, 2))]
        );
        assert!(index(&[(0, "10.0.0.0/25"), (1, "10.0.0.128/25")]).is_ok());
    }

    #[test]
    fn the_index_agrees_with_a_linear_scan() {
        // 500 terminals of four addresses each, every one found, their neighbours not.
        let nets: Vec<(usize, String)> = (0..500)
            .map(|i| (i, format!("10.{}.{}.0/30", i / 200, (i % 200) + 1)))
            .collect();
        let parsed: Vec<(usize, IpNet)> =
            nets.iter().map(|(i, n)| (*i, n.parse().unwrap())).collect();
        let idx = AddressIndex::build(parsed.iter().map(|(i, n)| (origin(*i, 0), *n))).unwrap();
        for probe in 0..(3 * 256 * 8) {
            let ip: IpAddr = format!("10.{}.{}.{}", probe / 2048, (probe / 8) % 256, probe % 8)
                .parse()
                .unwrap();
            let linear = parsed
                .iter()
                .find(|(_, n)| n.contains(&ip))
                .map(|(i, _)| *i);
            assert_eq!(idx.find(ip).map(|o| o.terminal), linear, "{ip}");
        }
    }
}
