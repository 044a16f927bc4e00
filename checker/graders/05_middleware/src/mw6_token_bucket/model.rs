//! The exact model of the limiter: one bucket per key, in integer milli-tokens, and the response the
//! contract requires for each request.

use std::collections::BTreeMap;
use std::fmt;

/// Milli-tokens in one token.
const MILLI: u64 = 1000;

/// The limiter's configuration, passed to the program as `--capacity N --refill-per-sec R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub capacity: u64,
    pub refill_per_sec: u64,
}

impl Config {
    /// The program's command-line arguments for this configuration.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--capacity".to_string(),
            self.capacity.to_string(),
            "--refill-per-sec".to_string(),
            self.refill_per_sec.to_string(),
        ]
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capacity {}, refill {} token{}/s",
            self.capacity,
            self.refill_per_sec,
            if self.refill_per_sec == 1 { "" } else { "s" }
        )
    }
}

/// What the contract decides about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Granted,
    Wait { ms: u64 },
    OverCapacity,
}

/// The model's decision about one request, with the state that explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Milli-tokens in the bucket once refilled up to this request, before the request took anything.
    pub milli_before: u64,
    /// The time the bucket's content is as of (the latest time it has seen, never earlier).
    pub as_of_ms: u64,
    /// Whole tokens left after the decision (`RateLimit-Remaining`).
    pub remaining: u64,
    /// Milliseconds until the bucket is full again (`RateLimit-Reset`, before rounding to seconds).
    pub reset_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    last_ms: u64,
}

/// Every key's bucket, exactly.
#[derive(Debug, Clone)]
pub struct Model {
    config: Config,
    buckets: BTreeMap<String, Bucket>,
}

impl Model {
    pub fn new(config: Config) -> Self {
        Model {
            config,
            buckets: BTreeMap::new(),
        }
    }

    /// Applies one request to `key`'s bucket and returns what the contract answers.
    pub fn call(&mut self, key: &str, cost: u64, now_ms: u64) -> Decision {
        let Config {
            capacity,
            refill_per_sec: rate,
        } = self.config;
        let full = capacity * MILLI;
        let bucket = self.buckets.entry(key.to_string()).or_insert(Bucket {
            milli: full,
            last_ms: now_ms,
        });
        if now_ms > bucket.last_ms {
            let earned = (now_ms - bucket.last_ms).saturating_mul(rate);
            bucket.milli = bucket.milli.saturating_add(earned).min(full);
            bucket.last_ms = now_ms;
        }
        let milli_before = bucket.milli;
        let outcome = if cost > capacity {
            Outcome::OverCapacity
        } else if bucket.milli >= cost * MILLI {
            bucket.milli -= cost * MILLI;
            Outcome::Granted
        } else {
            Outcome::Wait {
                ms: (cost * MILLI - bucket.milli).div_ceil(rate),
            }
        };
        Decision {
            outcome,
            milli_before,
            as_of_ms: bucket.last_ms,
            remaining: bucket.milli / MILLI,
            reset_ms: (full - bucket.milli).div_ceil(rate),
        }
    }

    /// The time `key`'s bucket is as of, if the key has been seen.
    pub fn last_seen(&self, key: &str) -> Option<u64> {
        self.buckets.get(key).map(|b| b.last_ms)
    }
}

/// Milli-tokens as a decimal number of tokens: `1002` is `1.002`.
pub fn tokens(milli: u64) -> String {
    format!("{}.{:03}", milli / MILLI, milli % MILLI)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    // The model agrees with the worked examples of the exercise's header and tests.
    #[test]
    fn model_matches_the_worked_examples() {
        let mut model = Model::new(Config {
            capacity: 2,
            refill_per_sec: 3,
        });
        assert_eq!(model.call("a", 2, T0).outcome, Outcome::Granted);
        assert_eq!(model.call("a", 1, T0).outcome, Outcome::Wait { ms: 334 });
        assert_eq!(
            model.call("a", 1, T0 + 333).outcome,
            Outcome::Wait { ms: 1 }
        );
        let granted = model.call("a", 1, T0 + 334);
        assert_eq!(granted.outcome, Outcome::Granted);
        assert_eq!((granted.milli_before, granted.remaining), (1002, 0));
        assert_eq!(granted.reset_ms, (2000 - 2_u64).div_ceil(3));
        // The clock going back earns nothing and keeps the bucket's time.
        let back = model.call("a", 1, T0);
        assert_eq!(back.outcome, Outcome::Wait { ms: 333 });
        assert_eq!(back.as_of_ms, T0 + 334);
        assert_eq!(model.call("a", 3, T0).outcome, Outcome::OverCapacity);
        assert_eq!(model.call("b", 2, T0).outcome, Outcome::Granted);
    }

    // Idle time fills to the capacity and no further.
    #[test]
    fn idle_caps_at_capacity() {
        let mut model = Model::new(Config {
            capacity: 4,
            refill_per_sec: 1000,
        });
        model.call("a", 4, T0);
        let later = model.call("a", 1, T0 + 1_000_000_000);
        assert_eq!((later.milli_before, later.remaining), (4000, 3));
        assert_eq!(tokens(1002), "1.002");
    }
}
