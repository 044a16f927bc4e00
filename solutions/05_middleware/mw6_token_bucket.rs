//! # Rate limiting with a token bucket
//!
//! A public API without a rate limiter is one buggy client (or one scraper) away from an outage: a retry loop
//! with no backoff can send thousands of requests a second, and every one of them takes a worker, a database
//! connection and memory. A rate limiter sits in front of the handlers as middleware and answers
//! `429 Too Many Requests` to whoever asks too often, cheaply, before any real work is done.
//!
//! The **token bucket** is the algorithm most gateways use (nginx, Envoy, AWS API Gateway, Stripe). Each client
//! (here: each API key) has a bucket holding at most `capacity` tokens. A request costs `n` tokens (usually 1;
//! expensive endpoints cost more). The bucket refills continuously at `refill_per_sec` tokens per second, never
//! above its capacity. So a client may *burst* up to `capacity` requests at once, and *sustain*
//! `refill_per_sec` requests per second forever. A request that finds too few tokens is refused and takes
//! nothing.
//!
//! Nobody runs a timer per bucket: the refill is computed **lazily**, when a request arrives, from the time
//! elapsed since the bucket was last looked at. Time here comes from the request itself (the header
//! `X-Fake-Now: <unix-ms>`), so the grader can replay days of traffic in a second, exactly.
//!
//! ## The contract
//!
//! - Requests carry `X-Api-Key: <key>` (one bucket per key, created full the first time the key is seen),
//!   `X-Fake-Now: <unix-ms>`, and optionally `X-Cost: <n>` (default 1, at least 1).
//! - **Integer arithmetic only.** At `refill_per_sec` tokens per second a bucket earns exactly
//!   `refill_per_sec` *milli-tokens* per millisecond, so counting thousandths of a token makes every quantity
//!   exact. Floats are not: `0.1 + 0.2 != 0.3`, and after thousands of refills a float bucket holds
//!   `0.9999999` tokens where the exact one holds `1`, refusing a request it owes (or granting one it does
//!   not).
//! - **The wait** of a refused request is the smallest number of milliseconds after which the same request
//!   would be granted (if nothing else happens): the missing milli-tokens divided by the rate, *rounded up*.
//!   Rounding down would send the client back one millisecond too early, to be refused again.
//! - **Time never runs backwards.** A request stamped earlier than the latest time the bucket has seen (clocks
//!   of different servers disagree, NTP steps the clock back) is treated as arriving at that latest time: it
//!   earns nothing, and its wait is measured from that latest time. Moving the bucket's clock back would let
//!   the next request earn the same interval twice, minting tokens out of nothing.
//! - **A cost above the capacity can never be granted**, however long the client waits. Answering `429` with
//!   a `Retry-After` would be a lie that makes a well-behaved client retry forever, so such a request gets
//!   `400 Bad Request` (with the `RateLimit-*` headers, and no `Retry-After`), and takes nothing.
//!
//! ## The response headers
//!
//! These follow the IETF draft *RateLimit header fields for HTTP* (draft-ietf-httpapi-ratelimit-headers, in
//! its three-field form of drafts 00 to 06), on every response of the limiter (200, 429 and the 400 for an
//! impossible cost; not on a 400 for a malformed request, which never reached a bucket):
//!
//! | header | value chosen here |
//! |---|---|
//! | `RateLimit-Limit` | the capacity: the largest burst the client may send at once |
//! | `RateLimit-Remaining` | whole tokens left after this request, rounded **down** (a partial token cannot be spent) |
//! | `RateLimit-Reset` | seconds until the bucket is full again, rounded **up**; `0` when it is full |
//!
//! and on a `429` only:
//!
//! | header | value |
//! |---|---|
//! | `Retry-After` | the wait in whole seconds, rounded **up** (RFC 9110 §10.2.3 only allows whole seconds) |
//! | `Retry-After-Ms` | the exact wait in milliseconds (as Azure OpenAI's `retry-after-ms` does) |
//!
//! A granted request is passed on to the application handler (`next`) and its response gets the headers.
//!
//! ## Pitfalls
//!
//! - Forgetting to cap the refill at the capacity: after a weekend of silence the client could burst
//!   thousands of requests.
//! - One bucket for everybody: one noisy client locks every other client out.
//! - Taking tokens from a refused request, or from one that can never be granted.
//! - Holding the lock on the limiter while the application handler runs: every request would wait for the
//!   slowest one. Decide, release, then call `next`.
//! - The map of buckets grows with every key ever seen; a production limiter evicts buckets that are full
//!   again (they hold no information), or keeps them in Redis with a TTL.
//!
//! Roadmap: rate limiting & throttling, token bucket; status codes (429, and when a status would lie).

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
    /// Tokens in the bucket, in thousandths of a token.
    milli_tokens: u64,
    /// The latest time the bucket has seen: its content is as of this instant.
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket, as of `now_ms`.
    pub fn new(capacity: u64, refill_per_sec: u64, now_ms: u64) -> Self {
        TokenBucket {
            capacity,
            refill_per_sec,
            milli_tokens: capacity * MILLI,
            last_ms: now_ms,
        }
    }

    /// Brings the bucket up to `now_ms`: what it earned since the latest time it saw, never above the
    /// capacity. A `now_ms` at or before that time earns nothing and leaves the bucket's clock where it is.
    fn refill(&mut self, now_ms: u64) {
        if now_ms <= self.last_ms {
            return;
        }
        let earned = (now_ms - self.last_ms).saturating_mul(self.refill_per_sec);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(earned)
            .min(self.capacity * MILLI);
        self.last_ms = now_ms;
    }

    /// Takes `n` tokens at `now_ms` if the bucket holds them; otherwise says how long until it will.
    pub fn try_acquire(&mut self, now_ms: u64, n: u64) -> Acquire {
        self.refill(now_ms);
        if n > self.capacity {
            return Acquire::OverCapacity;
        }
        let needed = n * MILLI;
        if self.milli_tokens >= needed {
            self.milli_tokens -= needed;
            Acquire::Granted
        } else {
            Acquire::Wait {
                ms: (needed - self.milli_tokens).div_ceil(self.refill_per_sec),
            }
        }
    }

    /// Whole tokens in the bucket, rounded down, as of the latest time it has seen.
    pub fn remaining(&self) -> u64 {
        self.milli_tokens / MILLI
    }

    /// Milliseconds from the latest time the bucket has seen until it is full again, rounded up.
    pub fn ms_until_full(&self) -> u64 {
        (self.capacity * MILLI - self.milli_tokens).div_ceil(self.refill_per_sec)
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn request(key: &str, now_ms: u64, cost: Option<u64>) -> Request {
        let mut headers = vec![
            ("X-Api-Key".to_string(), key.to_string()),
            ("X-Fake-Now".to_string(), now_ms.to_string()),
        ];
        if let Some(cost) = cost {
            headers.push(("X-Cost".to_string(), cost.to_string()));
        }
        Request {
            method: "GET".to_string(),
            target: "/orders".to_string(),
            version: "HTTP/1.1".to_string(),
            headers,
            body: Vec::new(),
        }
    }

    // A new bucket is full: a burst of `capacity` passes, the next request must wait 1/rate of a second.
    #[test]
    fn a_new_bucket_allows_one_full_burst() {
        let mut bucket = TokenBucket::new(5, 10, T0);
        for _ in 0..5 {
            assert_eq!(bucket.try_acquire(T0, 1), Acquire::Granted);
        }
        assert_eq!(bucket.try_acquire(T0, 1), Acquire::Wait { ms: 100 });
        assert_eq!(bucket.remaining(), 0);
    }

    // At 3 tokens/s one token takes 333.33 ms: the wait is rounded up, and it is exact.
    #[test]
    fn the_wait_is_exact_and_rounded_up() {
        let mut bucket = TokenBucket::new(2, 3, T0);
        assert_eq!(bucket.try_acquire(T0, 2), Acquire::Granted);
        assert_eq!(bucket.try_acquire(T0, 1), Acquire::Wait { ms: 334 });
        assert_eq!(bucket.try_acquire(T0 + 333, 1), Acquire::Wait { ms: 1 });
        assert_eq!(bucket.try_acquire(T0 + 334, 1), Acquire::Granted);
        // 334 ms earned 1.002 tokens: the 0.002 left over counts towards the next one.
        assert_eq!(bucket.try_acquire(T0 + 334, 1), Acquire::Wait { ms: 333 });
    }

    // Three hundred one-millisecond refills at 7 tokens/s add up to exactly 2.1 tokens, no more, no less.
    #[test]
    fn many_small_refills_do_not_drift() {
        let mut bucket = TokenBucket::new(3, 7, T0);
        assert_eq!(bucket.try_acquire(T0, 3), Acquire::Granted);
        for ms in 1..=300 {
            bucket.try_acquire(T0 + ms, 3);
        }
        assert_eq!(bucket.remaining(), 2);
        assert_eq!(bucket.try_acquire(T0 + 300, 3), Acquire::Wait { ms: 129 });
    }

    // A long silence refills the bucket to its capacity and not one token more.
    #[test]
    fn idle_time_never_fills_past_capacity() {
        let mut bucket = TokenBucket::new(4, 2, T0);
        assert_eq!(bucket.try_acquire(T0, 4), Acquire::Granted);
        let later = T0 + 7 * 24 * 3600 * 1000;
        assert_eq!(bucket.try_acquire(later, 4), Acquire::Granted);
        assert_eq!(bucket.try_acquire(later, 1), Acquire::Wait { ms: 500 });
        assert_eq!(bucket.ms_until_full(), 2000);
    }

    // A cost above the capacity is never granted, and takes nothing from the bucket.
    #[test]
    fn a_cost_over_capacity_is_never_granted() {
        let mut bucket = TokenBucket::new(3, 1, T0);
        assert_eq!(bucket.try_acquire(T0, 4), Acquire::OverCapacity);
        assert_eq!(bucket.remaining(), 3);
        assert_eq!(bucket.try_acquire(T0, 3), Acquire::Granted);
        assert_eq!(bucket.try_acquire(T0 + 99_999, 4), Acquire::OverCapacity);
    }

    // A clock that stands still earns nothing; one that goes back earns nothing, now or later.
    #[test]
    fn a_clock_going_backwards_mints_no_tokens() {
        let mut bucket = TokenBucket::new(2, 1, T0);
        assert_eq!(bucket.try_acquire(T0 + 10_000, 2), Acquire::Granted);
        assert_eq!(
            bucket.try_acquire(T0 + 10_000, 1),
            Acquire::Wait { ms: 1000 }
        );
        assert_eq!(bucket.try_acquire(T0, 1), Acquire::Wait { ms: 1000 });
        assert_eq!(bucket.try_acquire(T0 + 10_999, 1), Acquire::Wait { ms: 1 });
        assert_eq!(bucket.try_acquire(T0 + 11_000, 1), Acquire::Granted);
    }

    // Each key has its own bucket: draining one leaves the others full.
    #[test]
    fn keys_do_not_share_a_bucket() {
        let mut limiter = RateLimiter::new(2, 1);
        assert_eq!(limiter.check("alice", 2, T0).outcome, Acquire::Granted);
        assert_eq!(
            limiter.check("alice", 1, T0).outcome,
            Acquire::Wait { ms: 1000 }
        );
        let bob = limiter.check("bob", 1, T0);
        assert_eq!(bob.outcome, Acquire::Granted);
        assert_eq!((bob.remaining, bob.reset_ms), (1, 1000));
    }

    // The middleware passes a granted request on, and refuses the next with 429 and the exact headers.
    #[test]
    fn the_middleware_answers_429_with_retry_after_and_ratelimit_headers() {
        let limiter = Mutex::new(RateLimiter::new(3, 2));
        let ok = rate_limit(&limiter, &request("k", T0, Some(3)), app);
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body, b"served /orders\n");
        assert_eq!(ok.header("RateLimit-Limit"), Some("3"));
        assert_eq!(ok.header("RateLimit-Remaining"), Some("0"));
        assert_eq!(ok.header("RateLimit-Reset"), Some("2"));

        let refused = rate_limit(&limiter, &request("k", T0 + 1, Some(2)), app);
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("Retry-After-Ms"), Some("999"));
        assert_eq!(refused.header("Retry-After"), Some("1"));
        assert_eq!(refused.header("RateLimit-Remaining"), Some("0"));
        assert_eq!(refused.header("RateLimit-Reset"), Some("2"));
    }

    // An impossible cost is a 400 without Retry-After; a malformed request is a 400 without RateLimit headers.
    #[test]
    fn the_middleware_refuses_impossible_and_malformed_requests() {
        let limiter = Mutex::new(RateLimiter::new(3, 2));
        let never = rate_limit(&limiter, &request("k", T0, Some(4)), app);
        assert_eq!(never.status, 400);
        assert_eq!(never.header("Retry-After"), None);
        assert_eq!(never.header("RateLimit-Remaining"), Some("3"));

        let mut malformed = request("k", T0, None);
        malformed.headers.retain(|(name, _)| name != "X-Fake-Now");
        let bad = rate_limit(&limiter, &malformed, app);
        assert_eq!(bad.status, 400);
        assert_eq!(bad.header("RateLimit-Limit"), None);
    }
}
