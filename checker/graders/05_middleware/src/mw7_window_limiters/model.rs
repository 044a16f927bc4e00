//! Exact models of the four limiters, one state per key, with the story of each decision for a report.
//!
//! The sliding window counter's wait is found by search (the first later millisecond at which the estimate
//! is below the limit), not by the closed form the exercise's hints give: two derivations that must agree.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Which limiter, with its two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    FixedWindow { limit: u64, window_ms: u64 },
    SlidingLog { limit: u64, window_ms: u64 },
    SlidingWindowCounter { limit: u64, window_ms: u64 },
    LeakyBucket { capacity: u64, interval_ms: u64 },
}

impl Config {
    /// The command line.
    pub fn args(&self) -> Vec<String> {
        let (algorithm, a, av, b, bv) = match *self {
            Config::FixedWindow { limit, window_ms } => {
                ("fixed_window", "--limit", limit, "--window-ms", window_ms)
            }
            Config::SlidingLog { limit, window_ms } => {
                ("sliding_log", "--limit", limit, "--window-ms", window_ms)
            }
            Config::SlidingWindowCounter { limit, window_ms } => (
                "sliding_window_counter",
                "--limit",
                limit,
                "--window-ms",
                window_ms,
            ),
            Config::LeakyBucket {
                capacity,
                interval_ms,
            } => (
                "leaky_bucket",
                "--capacity",
                capacity,
                "--interval-ms",
                interval_ms,
            ),
        };
        vec![
            "--algorithm".to_string(),
            algorithm.to_string(),
            a.to_string(),
            av.to_string(),
            b.to_string(),
            bv.to_string(),
        ]
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Config::FixedWindow { limit, window_ms } => {
                write!(f, "fixed window, {limit} per {window_ms} ms")
            }
            Config::SlidingLog { limit, window_ms } => {
                write!(f, "sliding log, {limit} per {window_ms} ms")
            }
            Config::SlidingWindowCounter { limit, window_ms } => {
                write!(f, "sliding window counter, {limit} per {window_ms} ms")
            }
            Config::LeakyBucket {
                capacity,
                interval_ms,
            } => {
                write!(
                    f,
                    "leaky bucket, one every {interval_ms} ms, at most {capacity} waiting"
                )
            }
        }
    }
}

/// A limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow { delay_ms: u64 },
    Deny { retry_after_ms: u64 },
}

#[derive(Debug, Clone)]
enum State {
    Fixed {
        window: u64,
        count: u64,
    },
    Log(VecDeque<u64>),
    Counter {
        window: u64,
        current: u64,
        previous: u64,
    },
    Leaky {
        last: Option<u64>,
    },
}

/// Every key's limiter.
#[derive(Debug, Clone)]
pub struct Model {
    config: Config,
    keys: BTreeMap<String, State>,
}

impl Model {
    pub fn new(config: Config) -> Self {
        Model {
            config,
            keys: BTreeMap::new(),
        }
    }

    /// Decides about a request of `key` at `now`, and says why in words.
    pub fn check(&mut self, key: &str, now: u64) -> (Decision, String) {
        let config = self.config;
        let state = self
            .keys
            .entry(key.to_string())
            .or_insert_with(|| match config {
                Config::FixedWindow { .. } => State::Fixed {
                    window: u64::MAX,
                    count: 0,
                },
                Config::SlidingLog { .. } => State::Log(VecDeque::new()),
                Config::SlidingWindowCounter { .. } => State::Counter {
                    window: u64::MAX,
                    current: 0,
                    previous: 0,
                },
                Config::LeakyBucket { .. } => State::Leaky { last: None },
            });
        match (config, state) {
            (
                Config::FixedWindow {
                    limit,
                    window_ms: w,
                },
                State::Fixed { window, count },
            ) => {
                let k = now / w;
                if *window != k {
                    *window = k;
                    *count = 0;
                }
                let span = format!(
                    "the aligned window [{}, {}) holds {count} of {limit}",
                    k * w,
                    (k + 1) * w
                );
                if *count < limit {
                    *count += 1;
                    (
                        Decision::Allow { delay_ms: 0 },
                        format!("{span}: room for this one"),
                    )
                } else {
                    let retry = (k + 1) * w - now;
                    (
                        Decision::Deny {
                            retry_after_ms: retry,
                        },
                        format!("{span}: full until it ends, {retry} ms from now"),
                    )
                }
            }
            (
                Config::SlidingLog {
                    limit,
                    window_ms: w,
                },
                State::Log(log),
            ) => {
                while log.front().is_some_and(|&t| now - t >= w) {
                    log.pop_front();
                }
                let shown: Vec<String> = log.iter().map(u64::to_string).collect();
                let span = format!(
                    "{} allowed request(s) in the last {w} ms (at {}), of {limit}",
                    log.len(),
                    if shown.is_empty() {
                        "none".to_string()
                    } else {
                        shown.join(", ")
                    }
                );
                if (log.len() as u64) < limit {
                    log.push_back(now);
                    (
                        Decision::Allow { delay_ms: 0 },
                        format!("{span}: room for this one"),
                    )
                } else {
                    let oldest = log.front().copied().unwrap_or(now);
                    let retry = oldest + w - now;
                    (
                        Decision::Deny {
                            retry_after_ms: retry,
                        },
                        format!(
                            "{span}: the oldest, at {oldest}, stops counting at {}, {retry} ms from now",
                            oldest + w
                        ),
                    )
                }
            }
            (
                Config::SlidingWindowCounter {
                    limit,
                    window_ms: w,
                },
                State::Counter {
                    window,
                    current,
                    previous,
                },
            ) => {
                let k = now / w;
                if *window != u64::MAX && k == *window + 1 {
                    *previous = *current;
                    *current = 0;
                } else if *window != k {
                    *previous = 0;
                    *current = 0;
                }
                *window = k;
                let e = now - k * w;
                let weighted = *previous * (w - e) + *current * w;
                let span = format!(
                    "{e} ms into the window [{}, {}): previous window {} × ({w} − {e})/{w} + current {} = {}/{w}, \
                     against the limit {limit}",
                    k * w,
                    (k + 1) * w,
                    previous,
                    current,
                    weighted
                );
                if weighted < limit * w {
                    *current += 1;
                    (Decision::Allow { delay_ms: 0 }, format!("{span}: below it"))
                } else {
                    let (p, c) = (*previous, *current);
                    let ok = |t: u64| {
                        let kt = t / w;
                        let (prev, cur) = if kt == k {
                            (p, c)
                        } else if kt == k + 1 {
                            (c, 0)
                        } else {
                            (0, 0)
                        };
                        prev * (w - (t - kt * w)) + cur * w < limit * w
                    };
                    let retry = (1..=2 * w + 1).find(|d| ok(now + d)).unwrap_or(2 * w + 1);
                    (
                        Decision::Deny {
                            retry_after_ms: retry,
                        },
                        format!(
                            "{span}: not below it; the estimate first drops below it {retry} ms from now, at {}",
                            now + retry
                        ),
                    )
                }
            }
            (
                Config::LeakyBucket {
                    capacity,
                    interval_ms: i,
                },
                State::Leaky { last },
            ) => {
                let departure = last.map_or(now, |last| now.max(last + i));
                let delay = departure - now;
                let max = capacity * i;
                let span = match last {
                    Some(last) => format!(
                        "the previous request leaves at {last}; this one would leave at max(now, {last} + {i}) = \
                         {departure}, a wait of {delay} ms (at most {capacity} × {i} = {max} ms)"
                    ),
                    None => "the queue is empty: this one leaves at once".to_string(),
                };
                if delay <= max {
                    *last = Some(departure);
                    (Decision::Allow { delay_ms: delay }, span)
                } else {
                    let retry = delay - max;
                    (
                        Decision::Deny {
                            retry_after_ms: retry,
                        },
                        format!("{span}: too long; {retry} ms from now it fits"),
                    )
                }
            }
            _ => unreachable!("a key's state matches the config"),
        }
    }
}
