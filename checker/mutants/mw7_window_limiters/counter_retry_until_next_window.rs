//! mutant: tells a refused client to come back when the next window starts, although the estimate may drop below the limit sooner
//! expect: the earliest millisecond at which the weighted estimate drops below the limit

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;

use backlings_harness::stdio::serve_json_lines;
use serde_json::{Value, json};

/// The answer of a limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let through; it will be processed `delay_ms` from now (always 0 for the window algorithms).
    Allow { delay_ms: u64 },
    /// Refused; the same request would be allowed `retry_after_ms` from now.
    Deny { retry_after_ms: u64 },
}

/// One client's limiter.
pub trait Limiter: Send {
    /// Decides about one request at `now_ms` (never earlier than the previous call).
    fn check(&mut self, now_ms: u64) -> Decision;
}

/// At most `limit` requests per aligned window of `window_ms`.
#[derive(Debug)]
pub struct FixedWindow {
    limit: u64,
    window_ms: u64,
    /// The window counted (`now / window_ms`) and its count.
    window: u64,
    count: u64,
}

impl FixedWindow {
    pub fn new(limit: u64, window_ms: u64) -> Self {
        FixedWindow {
            limit,
            window_ms,
            window: 0,
            count: 0,
        }
    }
}

impl Limiter for FixedWindow {
    fn check(&mut self, now_ms: u64) -> Decision {
        let window = now_ms / self.window_ms;
        if window != self.window {
            self.window = window;
            self.count = 0;
        }
        if self.count < self.limit {
            self.count += 1;
            Decision::Allow { delay_ms: 0 }
        } else {
            Decision::Deny {
                retry_after_ms: (window + 1) * self.window_ms - now_ms,
            }
        }
    }
}

/// At most `limit` allowed requests in any `window_ms`, from a log of their times.
#[derive(Debug)]
pub struct SlidingLog {
    limit: u64,
    window_ms: u64,
    /// Times of the allowed requests still counting, oldest first.
    log: VecDeque<u64>,
}

impl SlidingLog {
    pub fn new(limit: u64, window_ms: u64) -> Self {
        SlidingLog {
            limit,
            window_ms,
            log: VecDeque::new(),
        }
    }
}

impl Limiter for SlidingLog {
    fn check(&mut self, now_ms: u64) -> Decision {
        while self
            .log
            .front()
            .is_some_and(|&t| now_ms - t >= self.window_ms)
        {
            self.log.pop_front();
        }
        if (self.log.len() as u64) < self.limit {
            self.log.push_back(now_ms);
            return Decision::Allow { delay_ms: 0 };
        }
        // The oldest entry stops counting at exactly its time + window.
        let oldest = self.log.front().copied().unwrap_or(now_ms);
        Decision::Deny {
            retry_after_ms: oldest + self.window_ms - now_ms,
        }
    }
}

/// Two aligned windows' counts, the previous one weighted by its overlap with the sliding window.
#[derive(Debug)]
pub struct SlidingWindowCounter {
    limit: u64,
    window_ms: u64,
    /// The current window (`now / window_ms`), its count, and the count of the one before it.
    window: u64,
    current: u64,
    previous: u64,
}

impl SlidingWindowCounter {
    pub fn new(limit: u64, window_ms: u64) -> Self {
        SlidingWindowCounter {
            limit,
            window_ms,
            window: 0,
            current: 0,
            previous: 0,
        }
    }

    /// Whether `previous × (W − e) + current × W < limit × W`.
    fn below_limit(&self, previous: u64, current: u64, elapsed: u64) -> bool {
        let w = self.window_ms;
        previous * (w - elapsed) + current * w < self.limit * w
    }
}

impl Limiter for SlidingWindowCounter {
    fn check(&mut self, now_ms: u64) -> Decision {
        let w = self.window_ms;
        let window = now_ms / w;
        if window == self.window + 1 {
            self.previous = self.current;
            self.current = 0;
        } else if window != self.window {
            self.previous = 0;
            self.current = 0;
        }
        self.window = window;
        let elapsed = now_ms - window * w;
        if self.below_limit(self.previous, self.current, elapsed) {
            self.current += 1;
            return Decision::Allow { delay_ms: 0 };
        }
        // In this window: the smallest e' with previous × (W − e') < (limit − current) × W.
        if self.current < self.limit && self.previous > 0 && self.limit == 0 {
            let room = (self.limit - self.current) * w;
            let earliest = w - (room - 1) / self.previous;
            if earliest < w {
                return Decision::Deny {
                    retry_after_ms: window * w + earliest - now_ms,
                };
            }
        }
        // In the next window, where this window's count becomes the previous one.
        let earliest = (self.limit * w - 1)
            .checked_div(self.current)
            .map_or(0, |room| w.saturating_sub(room));
        Decision::Deny {
            retry_after_ms: (window + 1) * w + earliest - now_ms,
        }
    }
}

/// A queue that lets one request go every `interval_ms`, with at most `capacity` waiting.
#[derive(Debug)]
pub struct LeakyBucket {
    capacity: u64,
    interval_ms: u64,
    /// When the last allowed request leaves (is processed), if there was one.
    last_departure: Option<u64>,
}

impl LeakyBucket {
    pub fn new(capacity: u64, interval_ms: u64) -> Self {
        LeakyBucket {
            capacity,
            interval_ms,
            last_departure: None,
        }
    }
}

impl Limiter for LeakyBucket {
    fn check(&mut self, now_ms: u64) -> Decision {
        let departure = match self.last_departure {
            Some(last) => now_ms.max(last + self.interval_ms),
            None => now_ms,
        };
        let delay = departure - now_ms;
        let max_delay = self.capacity * self.interval_ms;
        if delay <= max_delay {
            self.last_departure = Some(departure);
            Decision::Allow { delay_ms: delay }
        } else {
            Decision::Deny {
                retry_after_ms: delay - max_delay,
            }
        }
    }
}

/// Which algorithm, with its parameters (provided: you do not need to change this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    FixedWindow { limit: u64, window_ms: u64 },
    SlidingLog { limit: u64, window_ms: u64 },
    SlidingWindowCounter { limit: u64, window_ms: u64 },
    LeakyBucket { capacity: u64, interval_ms: u64 },
}

impl Config {
    /// A fresh limiter of this kind, for a key seen for the first time.
    pub fn build(self) -> Box<dyn Limiter> {
        match self {
            Config::FixedWindow { limit, window_ms } => {
                Box::new(FixedWindow::new(limit, window_ms))
            }
            Config::SlidingLog { limit, window_ms } => Box::new(SlidingLog::new(limit, window_ms)),
            Config::SlidingWindowCounter { limit, window_ms } => {
                Box::new(SlidingWindowCounter::new(limit, window_ms))
            }
            Config::LeakyBucket {
                capacity,
                interval_ms,
            } => Box::new(LeakyBucket::new(capacity, interval_ms)),
        }
    }
}

/// One limiter per key (provided: you do not need to change this).
pub struct Keyed {
    config: Config,
    limiters: HashMap<String, Box<dyn Limiter>>,
}

impl Keyed {
    pub fn new(config: Config) -> Self {
        Keyed {
            config,
            limiters: HashMap::new(),
        }
    }

    pub fn check(&mut self, key: &str, now_ms: u64) -> Decision {
        let config = self.config;
        self.limiters
            .entry(key.to_string())
            .or_insert_with(|| config.build())
            .check(now_ms)
    }
}

/// Reads the command line (provided: you do not need to change this).
fn parse_args() -> Result<Config, String> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        values.insert(flag.trim_start_matches("--").to_string(), value);
    }
    let number = |name: &str, low: u64| -> Result<u64, String> {
        values
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v >= low)
            .ok_or(format!("--{name} needs a whole number of at least {low}"))
    };
    match values.get("algorithm").map(String::as_str) {
        Some("fixed_window") => Ok(Config::FixedWindow {
            limit: number("limit", 1)?,
            window_ms: number("window-ms", 1)?,
        }),
        Some("sliding_log") => Ok(Config::SlidingLog {
            limit: number("limit", 1)?,
            window_ms: number("window-ms", 1)?,
        }),
        Some("sliding_window_counter") => Ok(Config::SlidingWindowCounter {
            limit: number("limit", 1)?,
            window_ms: number("window-ms", 1)?,
        }),
        Some("leaky_bucket") => Ok(Config::LeakyBucket {
            capacity: number("capacity", 0)?,
            interval_ms: number("interval-ms", 1)?,
        }),
        _ => Err(
            "--algorithm must be fixed_window, sliding_log, sliding_window_counter or leaky_bucket"
                .into(),
        ),
    }
}

/// Serves the limiters over JSON lines (provided: you do not need to change this).
fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    let mut keyed = Keyed::new(config);
    serve_json_lines(|op: Value| -> Value {
        let (Some("hit"), Some(key), Some(now)) =
            (op["op"].as_str(), op["key"].as_str(), op["now"].as_u64())
        else {
            return json!({ "error": "expected {\"op\": \"hit\", \"key\": KEY, \"now\": MS}" });
        };
        match keyed.check(key, now) {
            Decision::Allow { delay_ms } => json!({ "allowed": true, "delay_ms": delay_ms }),
            Decision::Deny { retry_after_ms } => {
                json!({ "allowed": false, "retry_after_ms": retry_after_ms })
            }
        }
    });
    ExitCode::SUCCESS
}
