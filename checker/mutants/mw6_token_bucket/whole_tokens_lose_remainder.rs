//! mutant: counts whole tokens only and moves its clock on every request, so the fraction earned between two close requests is lost
//! expect: Retry-After-Ms is the exact wait

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};

/// Milli-tokens in one token.
const MILLI: u64 = 1000;

/// The answer of [`TokenBucket::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// The tokens were taken.
    Granted,
    /// Too few tokens: the same request would be granted in exactly `ms` milliseconds (rounded up).
    Wait { ms: u64 },
    /// More tokens than the capacity: no wait will ever be enough. Nothing was taken.
    OverCapacity,
}

/// One client's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    capacity: u64,
    refill_per_sec: u64,
    /// Whole tokens in the bucket.
    tokens: u64,
    last_ms: u64,
}

impl TokenBucket {
    pub fn new(capacity: u64, refill_per_sec: u64, now_ms: u64) -> Self {
        TokenBucket {
            capacity,
            refill_per_sec,
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        if now_ms <= self.last_ms {
            return;
        }
        // Whole tokens only: the fraction earned since `last_ms` is dropped when `last_ms` moves on.
        let earned = (now_ms - self.last_ms) * self.refill_per_sec / MILLI;
        self.tokens = (self.tokens + earned).min(self.capacity);
        self.last_ms = now_ms;
    }

    pub fn try_acquire(&mut self, now_ms: u64, n: u64) -> Acquire {
        self.refill(now_ms);
        if n > self.capacity {
            return Acquire::OverCapacity;
        }
        if self.tokens >= n {
            self.tokens -= n;
            Acquire::Granted
        } else {
            Acquire::Wait {
                ms: ((n - self.tokens) * MILLI).div_ceil(self.refill_per_sec),
            }
        }
    }

    pub fn remaining(&self) -> u64 {
        self.tokens
    }

    pub fn ms_until_full(&self) -> u64 {
        ((self.capacity - self.tokens) * MILLI).div_ceil(self.refill_per_sec)
    }
}

/// What the limiter decided about one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Granted, wait, or never.
    pub outcome: Acquire,
    /// Whole tokens left in this key's bucket after the decision.
    pub remaining: u64,
    /// Milliseconds until this key's bucket is full again.
    pub reset_ms: u64,
}

/// One token bucket per key, all with the same capacity and refill rate.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: u64,
    refill_per_sec: u64,
    buckets: HashMap<String, TokenBucket>,
}

impl RateLimiter {
    /// A limiter with no buckets yet.
    pub fn new(capacity: u64, refill_per_sec: u64) -> Self {
        RateLimiter {
            capacity,
            refill_per_sec,
            buckets: HashMap::new(),
        }
    }

    /// The capacity of every bucket: the `RateLimit-Limit`.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Charges `n` tokens to `key`'s bucket at `now_ms` (a key seen for the first time gets a full bucket).
    pub fn check(&mut self, key: &str, n: u64, now_ms: u64) -> Decision {
        let (capacity, refill_per_sec) = (self.capacity, self.refill_per_sec);
        let bucket = self
            .buckets
            .entry(key.to_string())
            .or_insert_with(|| TokenBucket::new(capacity, refill_per_sec, now_ms));
        let outcome = bucket.try_acquire(now_ms, n);
        Decision {
            outcome,
            remaining: bucket.remaining(),
            reset_ms: bucket.ms_until_full(),
        }
    }
}

/// The rate-limiting middleware: decides about `request`, then either passes it on to `next` or refuses it,
/// adding the `RateLimit-*` headers either way (see the table in the header of this file).
pub fn rate_limit(
    limiter: &Mutex<RateLimiter>,
    request: &Request,
    next: impl FnOnce(&Request) -> Response,
) -> Response {
    let call = match read_call(request) {
        Ok(call) => call,
        Err(why) => return Response::text(400, format!("{why}\n")),
    };
    // The guard is a temporary: the lock is released before `next` runs.
    let (decision, limit) = {
        let mut limiter = limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let decision = limiter.check(&call.key, call.cost, call.now_ms);
        (decision, limiter.capacity())
    };
    let response = match decision.outcome {
        Acquire::Granted => next(request),
        Acquire::Wait { ms } => Response::text(429, "rate limit exceeded: retry later\n")
            .with_header("Retry-After", ms.div_ceil(1000))
            .with_header("Retry-After-Ms", ms),
        Acquire::OverCapacity => Response::text(
            400,
            format!(
                "a cost of {} can never be granted: the limit is {limit}\n",
                call.cost
            ),
        ),
    };
    response
        .with_header("RateLimit-Limit", limit)
        .with_header("RateLimit-Remaining", decision.remaining)
        .with_header("RateLimit-Reset", decision.reset_ms.div_ceil(1000))
}

/// What a request asks of the limiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Whose bucket: the `X-Api-Key` header.
    pub key: String,
    /// How many tokens: the `X-Cost` header, 1 when absent.
    pub cost: u64,
    /// When: the `X-Fake-Now` header, in unix milliseconds.
    pub now_ms: u64,
}

/// Reads the limiter's headers from `request` (provided: you do not need to change this).
pub fn read_call(request: &Request) -> Result<Call, String> {
    let key = match request.header("x-api-key") {
        Some(key) if !key.is_empty() => key.to_string(),
        _ => return Err("missing X-Api-Key header".to_string()),
    };
    let now_ms = request
        .header("x-fake-now")
        .ok_or("missing X-Fake-Now header")?
        .parse::<u64>()
        .map_err(|_| "X-Fake-Now must be unix milliseconds".to_string())?;
    let cost = match request.header("x-cost") {
        None => 1,
        Some(cost) => match cost.parse::<u64>() {
            Ok(cost) if cost >= 1 => cost,
            _ => return Err("X-Cost must be a whole number of at least 1".to_string()),
        },
    };
    Ok(Call { key, cost, now_ms })
}

/// The application behind the limiter (provided: you do not need to change this).
fn app(request: &Request) -> Response {
    Response::text(200, format!("served {}\n", request.path()))
}

/// Reads `--capacity N --refill-per-sec R` (provided: you do not need to change this).
fn parse_args() -> Result<(u64, u64), String> {
    let (mut capacity, mut refill_per_sec) = (10, 5);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let value: u64 = value
            .parse()
            .ok()
            .filter(|v| (1..=1_000_000).contains(v))
            .ok_or(format!("{flag} must be a whole number from 1 to 1000000"))?;
        match flag.as_str() {
            "--capacity" => capacity = value,
            "--refill-per-sec" => refill_per_sec = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((capacity, refill_per_sec))
}

/// Serves the limiter over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let (capacity, refill_per_sec) = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!("error: {why}\nusage: mw6_token_bucket [--capacity N] [--refill-per-sec R]");
            return ExitCode::from(2);
        }
    };
    let limiter = Mutex::new(RateLimiter::new(capacity, refill_per_sec));
    match serve(move |request| rate_limit(&limiter, request, app)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
