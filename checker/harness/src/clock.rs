//! Time as a dependency: code that needs "now" takes a [`Clock`], and tests and graders move it by hand.
//!
//! Rate limiters, caches with TTLs, leases and retries all depend on time. Reading the system clock inside them
//! makes them untestable (a test would have to sleep) and flaky (a slow machine changes the answer). Injecting
//! the clock makes time an input like any other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds since an arbitrary epoch.
pub trait Clock: Send + Sync {
    /// Milliseconds since the clock's epoch. Never assume it only moves forward unless the clock says so.
    fn now_ms(&self) -> u64;
}

/// The real wall clock (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `ms` (it may go backwards: real clocks do, after an NTP correction).
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Clones share one time: the code under test and the test see the same clock.
    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::new(1_000);
        let seen_by_code = clock.clone();
        clock.advance(250);
        assert_eq!(seen_by_code.now_ms(), 1_250);
        clock.set(10);
        assert_eq!(seen_by_code.now_ms(), 10);
    }
}
