//! The gateway's wall clock, injected: [`crate::server::ServerOptions::clock`].
//!
//! Everything that depends on the time of day or on how long ago something happened (opening hours,
//! session idle timeouts, grants later) reads the time from the [`Clock`] the server was started
//! with. The binary always passes [`SystemClock`]; in-process tests pass a [`ManualClock`] they move,
//! so that no test sleeps through an opening hour or an idle timeout. No configuration key,
//! environment variable or flag fakes the time in the binary.
//!
//! Timeouts of the data plane itself (header reads, idle keep-alive connections) stay on tokio's
//! monotonic timer: they measure how long a socket waited, not what time it is.

use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::Mutex;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock: what the binary uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is moved: for tests that cross an opening hour or an idle
/// timeout without waiting for it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: Mutex::new(start),
        })
    }

    /// Set the time.
    pub fn set(&self, t: Timestamp) {
        *self.now.lock() = t;
    }

    /// Move the time forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let mut now = self.now.lock();
        // A duration too large for a timestamp is a bug in the test that moved the clock.
        *now = now
            .checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock()
    }
}

/// A time in microseconds since the Unix epoch as RFC 3339 in UTC with milliseconds (the CLI's and
/// the portal's form of an event's time); the bare number when it is out of range.
pub fn format_ts(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|_| us.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-12-07T09:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(clock.now().to_string(), "2026-12-07T09:01:30Z");
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
