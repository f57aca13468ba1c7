//! Heavy tests run alone (issue 14, point 10): a 1 GiB transfer, a real browser, thousands of
//! connections or requests take both cores of a small machine for seconds, and a test beside them
//! that checks a sub-second window (a grant honoured within a second, a head trickled under its
//! deadline) would fail for that reason alone.
//!
//! Every gateway a test starts (in-process [`crate::Gateway`], or the binary through the tests'
//! own `Serve`) holds a [`Light`] guard for as long as it runs. A heavy test takes [`heavy`] first:
//! it waits until no light guard is held, and while it runs new gateways wait for it to end. The
//! heavy test's own gateways do not wait for it: a heavy guard marks its thread (libtest runs each
//! test's body on a thread of its own, and `#[tokio::test]` polls the body there), and light guards
//! taken on that thread are free.
//!
//! Light guards never wait for a heavy test that is only waiting, so a test that starts a second
//! gateway while a heavy test waits cannot deadlock; a heavy test may then wait until the light
//! tests running beside it are done, which is what it is for.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, MutexGuard};

struct State {
    light: usize,
    heavy: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    light: 0,
    heavy: false,
});
static CHANGED: Condvar = Condvar::new();

thread_local! {
    static HEAVY_HERE: Cell<bool> = const { Cell::new(false) };
}

fn state() -> MutexGuard<'static, State> {
    // A test that panicked while holding the lock left consistent counts behind (every change
    // is one assignment): go on with them.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held by a running gateway of an ordinary test.
#[must_use]
pub struct Light {
    counted: bool,
}

impl Drop for Light {
    fn drop(&mut self) {
        if self.counted {
            state().light -= 1;
            CHANGED.notify_all();
        }
    }
}

/// A light guard: waits while a heavy test runs (unless this is the heavy test's own thread).
pub fn light() -> Light {
    if HEAVY_HERE.get() {
        return Light { counted: false };
    }
    let mut s = state();
    while s.heavy {
        s = CHANGED.wait(s).unwrap_or_else(|e| e.into_inner());
    }
    s.light += 1;
    Light { counted: true }
}

/// Held by a heavy test for its whole length.
#[must_use]
pub struct Heavy(());

impl Drop for Heavy {
    fn drop(&mut self) {
        HEAVY_HERE.set(false);
        state().heavy = false;
        CHANGED.notify_all();
    }
}

/// Run the calling test alone among gateway tests: wait until no other test's gateway runs, and
/// keep new ones waiting until the guard is dropped. Take it first thing in the test.
pub fn heavy() -> Heavy {
    HEAVY_HERE.set(true);
    let mut s = state();
    while s.heavy || s.light > 0 {
        s = CHANGED.wait(s).unwrap_or_else(|e| e.into_inner());
    }
    s.heavy = true;
    Heavy(())
}

#[cfg(test)]
mod tests {
    use super::{heavy, light};
    use std::sync::mpsc;
    use std::time::Duration;

    /// One test, because the gate is global to the process.
    #[test]
    fn a_heavy_test_waits_for_light_ones_and_holds_new_ones_back() {
        let first = light();
        let (said, heard) = mpsc::channel();
        let (go, end) = mpsc::channel::<()>();
        let heavy_test = std::thread::spawn(move || {
            let guard = heavy();
            said.send("heavy runs").unwrap();
            end.recv().unwrap();
            // A gateway of the heavy test's own does not wait for it.
            drop(light());
            drop(guard);
        });
        assert!(heard.recv_timeout(Duration::from_millis(300)).is_err());
        // A light test may start a second gateway while the heavy one waits.
        drop(light());
        drop(first);
        assert_eq!(
            heard.recv_timeout(Duration::from_secs(10)).unwrap(),
            "heavy runs"
        );
        let (said, heard) = mpsc::channel();
        let light_test = std::thread::spawn(move || {
            let guard = light();
            said.send("light runs").unwrap();
            drop(guard);
        });
        assert!(heard.recv_timeout(Duration::from_millis(300)).is_err());
        go.send(()).unwrap();
        assert_eq!(
            heard.recv_timeout(Duration::from_secs(10)).unwrap(),
            "light runs"
        );
        heavy_test.join().unwrap();
        light_test.join().unwrap();
    }
}
