//! Throttling of failed proxy authentication, per tried name and per client address.
//!
//! After [`Limits::failures`] failed attempts within [`Limits::window`] for one name (whether or
//! not a principal has that name, so throttling does not tell which names exist), or from one
//! client address (IPv6 by its /64, the block a single host usually has), further attempts for
//! that name or from that address are refused for [`Limits::cool_down`] without a password check.
//!
//! Guarantees:
//! - only failed password checks count: a success for one name resets that name's count and
//!   nothing else (not another name's, not the address's, so an attacker cannot clear the counts
//!   by signing in to an account of their own between guesses);
//! - attempts refused during a cool-down neither count nor extend it, so a client that keeps
//!   retrying is let back at the time it was told;
//! - memory is bounded: each table holds at most [`Limits::capacity`] keys (a name is kept as a
//!   64-bit keyed hash, never as its text), and when full the least recently failed keys go first,
//!   those still cooling down last;
//! - the clock is the caller's: every method takes `now`, so tests drive time by hand.
//!
//! The limits are constants for now ([`NAME_LIMITS`], [`ADDRESS_LIMITS`]); a configuration key
//! can come later.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When failures for one key start a cool-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures within `window` that start a cool-down.
    pub failures: u32,
    pub window: Duration,
    /// How long further attempts are refused without a password check.
    pub cool_down: Duration,
    /// Keys remembered at most.
    pub capacity: usize,
}

/// Per tried name: ten different wrong passwords in a quarter of an hour. A person who mistypes
/// retries a few times; a client repeating one stale password is answered from the refused cache
/// and does not count. Guessing drops from thousands of tries a second (what the argon2 pool can
/// check) to ten every five minutes.
pub const NAME_LIMITS: Limits = Limits {
    failures: 10,
    window: Duration::from_secs(15 * 60),
    cool_down: Duration::from_secs(5 * 60),
    capacity: 16_384,
};

/// Per client address: fifty failures in a quarter of an hour, whatever the names. Higher than
/// per name because many people can share one address (a NAT); people already signed in are never
/// throttled (their credentials are cached), only new password checks are.
pub const ADDRESS_LIMITS: Limits = Limits {
    failures: 50,
    window: Duration::from_secs(15 * 60),
    cool_down: Duration::from_secs(5 * 60),
    capacity: 16_384,
};

/// Failed attempts per tried name and per client address.
pub struct Throttle {
    tables: parking_lot::Mutex<Tables>,
    /// Keys the names' hash with a random per-process key: collisions cannot be chosen.
    names_key: RandomState,
}

struct Tables {
    names: Table<u64>,
    addresses: Table<IpAddr>,
}

impl Throttle {
    pub fn new(names: Limits, addresses: Limits) -> Throttle {
        Throttle {
            tables: parking_lot::Mutex::new(Tables {
                names: Table::new(names),
                addresses: Table::new(addresses),
            }),
            names_key: RandomState::new(),
        }
    }

    /// How long attempts for `name` from `client` are still refused, if they are.
    pub fn check(&self, name: &str, client: IpAddr, now: Instant) -> Option<Duration> {
        let name = self.names_key.hash_one(name);
        let tables = self.tables.lock();
        let by_name = tables.names.blocked(&name, now);
        let by_address = tables.addresses.blocked(&address_key(client), now);
        by_name.max(by_address)
    }

    /// Count a failed password check for `name` from `client`.
    pub fn failed(&self, name: &str, client: IpAddr, now: Instant) {
        let name = self.names_key.hash_one(name);
        let mut tables = self.tables.lock();
        tables.names.fail(name, now);
        tables.addresses.fail(address_key(client), now);
    }

    /// A successful password check for `name`: its failures are forgotten (only its own).
    pub fn succeeded(&self, name: &str) {
        let name = self.names_key.hash_one(name);
        self.tables.lock().names.entries.remove(&name);
    }

    /// Names and addresses remembered now.
    pub fn len(&self) -> (usize, usize) {
        let tables = self.tables.lock();
        (tables.names.entries.len(), tables.addresses.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// The key an address is counted under: an IPv4 address (also when IPv4-mapped), or an IPv6
/// address's /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !(u128::from(u64::MAX))).into()),
        },
    }
}

struct Entry {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    last: Instant,
}

impl Entry {
    fn blocked_at(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|until| until > now)
    }
}

struct Table<K> {
    limits: Limits,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Copy> Table<K> {
    fn new(limits: Limits) -> Table<K> {
        Table {
            limits,
            entries: HashMap::new(),
        }
    }

    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&mut self, key: K, now: Instant) {
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let limits = self.limits;
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            window_start: now,
            blocked_until: None,
            last: now,
        });
        // An attempt checked just before the cool-down began: it neither counts nor extends it.
        if entry.blocked_at(now) {
            return;
        }
        if entry.blocked_until.is_some()
            || now.saturating_duration_since(entry.window_start) >= limits.window
        {
            entry.failures = 0;
            entry.window_start = now;
            entry.blocked_until = None;
        }
        entry.failures += 1;
        entry.last = now;
        if entry.failures >= limits.failures {
            entry.blocked_until = Some(now + limits.cool_down);
            entry.failures = 0;
        }
    }

    /// Make room for one more key when the table is full: an eighth of the keys go at once (so
    /// the search is paid once per many inserts), the least recently failed first, those still
    /// cooling down last.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.limits.capacity {
            return;
        }
        let mut order: Vec<(bool, Instant, K)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.blocked_at(now), e.last, *k))
            .collect();
        let evict = (self.limits.capacity / 8).max(1).min(order.len());
        order.select_nth_unstable_by_key(evict - 1, |&(blocked, last, _)| (blocked, last));
        for (_, _, key) in &order[..evict] {
            self.entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn limits(failures: u32, capacity: usize) -> Limits {
        Limits {
            failures,
            window: 15 * MIN,
            cool_down: 5 * MIN,
            capacity,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A throttle whose address limit is out of the way, and a fixed start time.
    fn by_name(failures: u32) -> (Throttle, Instant) {
        (
            Throttle::new(limits(failures, 100), limits(1000, 100)),
            Instant::now(),
        )
    }

    #[test]
    fn a_name_cools_down_after_its_failures_and_only_for_the_cool_down() {
        let (t, t0) = by_name(3);
        let a = ip("192.0.2.1");
        for i in 0..2 {
            t.failed("ada", a, t0 + i * MIN);
            assert_eq!(t.check("ada", a, t0 + i * MIN), None);
        }
        t.failed("ada", a, t0 + 2 * MIN);
        assert_eq!(t.check("ada", a, t0 + 2 * MIN), Some(5 * MIN));
        assert_eq!(t.check("ada", ip("192.0.2.2"), t0 + 3 * MIN), Some(4 * MIN));
        assert_eq!(t.check("bob", a, t0 + 3 * MIN), None, "another name");
        assert_eq!(
            t.check("ada", a, t0 + 7 * MIN),
            None,
            "the cool-down is over"
        );
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_throttle() {
        let (t, t0) = by_name(3);
        let a = ip("192.0.2.1");
        for i in 0..10 {
            // Two failures per window, the windows back to back.
            t.failed("ada", a, t0 + i * 8 * MIN);
            assert_eq!(t.check("ada", a, t0 + i * 8 * MIN), None, "failure {i}");
        }
    }

    #[test]
    fn attempts_during_the_cool_down_do_not_extend_it() {
        let (t, t0) = by_name(2);
        let a = ip("192.0.2.1");
        t.failed("ada", a, t0);
        t.failed("ada", a, t0);
        for i in 1..5 {
            // A request that passed its check just before the cool-down began.
            t.failed("ada", a, t0 + i * MIN);
        }
        assert_eq!(t.check("ada", a, t0 + 4 * MIN), Some(MIN));
        assert_eq!(t.check("ada", a, t0 + 5 * MIN), None);
        // After it, counting starts again from zero.
        t.failed("ada", a, t0 + 5 * MIN);
        assert_eq!(t.check("ada", a, t0 + 5 * MIN), None);
    }

    #[test]
    fn an_address_cools_down_whatever_the_names_it_tried() {
        let t = Throttle::new(limits(1000, 100), limits(5, 100));
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for i in 0..5 {
            t.failed(&format!("name-{i}"), a, t0);
        }
        assert_eq!(t.check("carol", a, t0), Some(5 * MIN));
        assert_eq!(t.check("carol", ip("192.0.2.9"), t0), None);
        // An IPv6 client is counted by its /64; an IPv4-mapped address as IPv4.
        for i in 0..5 {
            t.failed("x", ip(&format!("2001:db8:1:2::{i}")), t0);
        }
        assert!(t.check("y", ip("2001:db8:1:2:ffff::1"), t0).is_some());
        assert_eq!(t.check("y", ip("2001:db8:1:3::1"), t0), None);
        assert!(t.check("y", ip("::ffff:192.0.2.1"), t0).is_some());
    }

    #[test]
    fn a_success_resets_only_its_own_name() {
        let t = Throttle::new(limits(3, 100), limits(5, 100));
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        t.failed("ada", a, t0);
        t.failed("ada", a, t0);
        t.failed("bob", a, t0);
        t.failed("bob", a, t0);
        t.succeeded("bob");
        t.failed("bob", a, t0);
        assert_eq!(t.check("bob", ip("192.0.2.2"), t0), None, "bob starts over");
        t.failed("ada", ip("192.0.2.2"), t0);
        assert!(
            t.check("ada", ip("192.0.2.2"), t0).is_some(),
            "bob's success did not reset ada"
        );
        // Five failures from `a` (ada twice, bob three times): the success did not reset it.
        assert!(t.check("dan", a, t0).is_some());
    }

    #[test]
    fn a_flood_of_names_stays_within_the_capacity_and_keeps_cool_downs() {
        let t = Throttle::new(limits(2, 64), limits(1_000_000, 64));
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        t.failed("ada", a, t0);
        t.failed("ada", a, t0);
        for i in 0..10_000u32 {
            t.failed(
                &format!("random-{i}"),
                a,
                t0 + Duration::from_millis(u64::from(i)),
            );
            assert!(t.len().0 <= 64, "{} names kept", t.len().0);
        }
        assert!(
            t.check("ada", a, t0 + MIN).is_some(),
            "a name cooling down is evicted last"
        );
        // Each address is one key, so a flood from many addresses is bounded the same way.
        for i in 0..1_000u32 {
            t.failed("x", IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(t.len().1 <= 64);
    }
}
