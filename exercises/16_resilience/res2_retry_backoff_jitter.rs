//! # Retry with exponential backoff and full jitter
//!
//! A call to another service fails for reasons that have nothing to do with your request: a pod
//! restarts, a load balancer drops a connection, an overloaded upstream sheds load with `503`.
//! Trying again a moment later usually works, so every serious client retries. Done naively,
//! retries are also how one small outage becomes a big one: a thousand clients that all retry at
//! once, every 100 ms, hit a recovering server with a thousand synchronized waves of traffic (the
//! *thundering herd*), and a client that retries forever holds its own caller hostage. This
//! exercise builds the retry loop production clients use (AWS's SDKs, gRPC, Finagle).
//!
//! ## The policy
//!
//! * **Exponential backoff.** Before retry number `n` (`n = 0` for the first retry) wait at most
//!   `ceiling(n) = min(cap, base · 2ⁿ)`: the waits double until they hit the cap, so a struggling
//!   upstream gets more and more room to recover.
//! * **Full jitter.** Wait a *uniformly random* time in `[0, ceiling(n)]`, not `ceiling(n)` itself.
//!   Clients that failed together then retry at different moments and the herd dissolves. In this
//!   exercise the randomness is injected ([`RandomSource`]) and the draw is fixed, in whole
//!   milliseconds: `delay_ms = next_u64() % (ceiling_ms + 1)`. (The modulo bias is below 10⁻¹² for
//!   the ceilings used here.)
//! * **Max attempts** counts *every* attempt, the first one included: `max_attempts = 3` means one
//!   call and at most two retries.
//! * **Overall deadline.** The caller gave the whole operation a budget. Time is measured on the
//!   injected [`Sleeper`]'s clock from the start of the first attempt. Never sleep into the
//!   deadline: if `elapsed + delay >= deadline`, stop now and return the last failure. Sleeping
//!   first and then noticing the budget is gone wastes the caller's time for nothing.
//!
//! ## What is worth retrying
//!
//! * Retry **connection failures** (refused, reset, closed before the answer) and **5xx** answers:
//!   the fault is on the other side and may be gone in a moment. `429 Too Many Requests` is
//!   retryable too: slow down and come back.
//! * A `429` or `503` may carry **`Retry-After: <seconds>`**: the server is telling you when it can
//!   take you again. Honour it exactly instead of your own backoff (it still may not run past the
//!   deadline). Only the delta-seconds form (`Retry-After: 2`) is read here; anything else counts
//!   as no header. Other statuses' `Retry-After` headers are ignored.
//! * **Never retry any other 4xx.** `400`, `401`, `404`, `409`, `422`… say *your request* is wrong;
//!   it will be just as wrong in 200 ms. Return the answer at once.
//! * **Never retry a request that is not safe to repeat.** `GET`, `HEAD`, `PUT`, `DELETE` and
//!   `OPTIONS` are idempotent: doing them twice has the effect of doing them once. A `POST` or
//!   `PATCH` is not: if the first attempt's answer was lost *after* the server charged the card, a
//!   retry charges it twice. Such a request may be retried only when it carries an
//!   **`Idempotency-Key`** header, a random key made once per logical operation and sent unchanged
//!   on every attempt, so the server can recognise the repeat and replay its first answer (exercise
//!   `res3_idempotency_keys` builds that server side).
//!
//! When several reasons to stop apply, they are checked in this order: the answer is final (success
//! or non-retryable), the request is not safe to repeat, no attempts are left, the deadline would
//! be passed.
//!
//! ## Pitfalls
//!
//! * `base * 2u64.pow(n)` or `base << n` overflows (and panics in debug builds) after a long
//!   outage: saturate.
//! * Off by one: is the first retry's ceiling `base` or `2·base`? Is `max_attempts` the number of
//!   retries? (It is not.)
//! * Making a fresh idempotency key inside the retry closure defeats the key: every attempt looks
//!   new.
//! * Injecting the clock and the random source is what makes all this testable: the grader replays
//!   your loop on a fake clock with a seeded generator and checks every single delay.
//!
//! Beyond this exercise: production clients also keep a *retry budget* (retries may add at most,
//! say, 10 % to the traffic) and stop retrying an upstream a circuit breaker has opened
//! (`res4_circuit_breaker`).
//!
//! Roadmap: retry, backoff and jitter; retry strategies; idempotency and retries.
//!
//! ## Your job
//!
//! Fill in, in this order: [`parse_retry_after`], [`classify`], [`is_retry_safe`],
//! [`backoff_delay`], the loop itself in [`retry`], and finally the real HTTP client: [`send_once`]
//! (one attempt with reqwest) and [`fetch`] (the retried operation, with its idempotency key). The
//! visible tests cover the pure parts; the grader also runs your client against a flaky server.
//!
//! ## The program
//!
//! The provided `main` reads one JSON request per line on stdin and answers one JSON line per
//! request: `run` replays your loop against a scripted upstream on a fake clock, `sample` draws
//! many backoff delays, and `fetch` runs your reqwest client against a real flaky HTTP server whose
//! address is in `UPSTREAM_URL`. Your loop never really sleeps here: the sleeper records the delay
//! and moves a fake clock.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use backlings_harness::stdio::serve_json_lines;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry's ceiling.
    pub base: Duration,
    /// No backoff delay is ever longer than this.
    pub cap: Duration,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Budget for the whole operation, measured on the sleeper's clock from the first attempt.
    pub deadline: Duration,
}

/// Where the random numbers come from. Injected so that a test (or the grader) can replay the
/// jitter.
pub trait RandomSource {
    /// The next uniformly distributed 64-bit value.
    fn next_u64(&mut self) -> u64;
}

impl RandomSource for ChaCha8Rng {
    fn next_u64(&mut self) -> u64 {
        RngCore::next_u64(self)
    }
}

/// The retry loop's clock and its way of waiting. Production code would wrap `tokio::time`; here a
/// fake moves a fake clock, so the loop can be checked without waiting.
pub trait Sleeper {
    /// The current time on this sleeper's clock, as an offset from an arbitrary origin.
    fn now(&self) -> Duration;
    /// Waits for `delay`.
    fn sleep(&mut self, delay: Duration) -> impl Future<Output = ()>;
}

/// What one attempt came back with, as the retry loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered with an HTTP status. `retry_after` is the `Retry-After` header,
    /// parsed.
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No HTTP answer at all: connection refused, reset, closed early, timed out.
    ConnectionFailed { reason: String },
}

/// What the loop should do about an [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Done: the call succeeded (any status below 400).
    Success,
    /// Worth another try; `after` is the wait the server asked for, if it asked.
    Retryable { after: Option<Duration> },
    /// Final: retrying cannot help (a 4xx other than 429).
    Fatal,
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The last attempt succeeded.
    Succeeded,
    /// The last answer was final (a non-retryable 4xx).
    NotRetryable,
    /// The last failure was retryable but the request is not safe to repeat.
    NotRetrySafe,
    /// `max_attempts` attempts were made.
    OutOfAttempts,
    /// Waiting once more would reach the deadline.
    DeadlineReached,
}

/// The result of the whole retry loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The last attempt's outcome, handed back to the caller as it is.
    pub outcome: Outcome,
    /// Attempts made, the first one included.
    pub attempts: u32,
    /// Why the loop stopped.
    pub stop: Stop,
}

/// Parses a `Retry-After` header value in its delta-seconds form (`"2"` → 2 s); anything else is
/// `None`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    // TODO: read the delta-seconds form ("2" is two seconds, spaces around allowed).
    // Anything else (an HTTP date, garbage) is None.
    todo!()
}

/// Sorts an outcome into success, retryable (with the server's requested wait) or fatal.
pub fn classify(outcome: &Outcome) -> Class {
    // TODO: below 400 is success; connection failures, 5xx and 429 are retryable;
    //       every other 4xx is fatal.
    // TODO: carry the Retry-After wait along, but only for 429 and 503.
    todo!()
}

/// Whether a request may be sent more than once: idempotent methods always, others only with a key.
pub fn is_retry_safe(method: &Method, idempotency_key: Option<&str>) -> bool {
    // TODO: idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS…) are safe;
    //       the others only with an idempotency key.
    todo!()
}

/// The full-jitter delay before retry number `retry` (0 for the first retry):
/// `next_u64() % (ceiling_ms + 1)` milliseconds with `ceiling_ms = min(cap, base · 2^retry)`.
pub fn backoff_delay(policy: &RetryPolicy, retry: u32, rng: &mut impl RandomSource) -> Duration {
    // TODO: ceiling_ms = min(cap, base · 2^retry), without overflowing however large `retry` gets.
    // TODO: draw exactly as the header says: next_u64() % (ceiling_ms + 1) milliseconds.
    todo!()
}

/// Calls `attempt` (with the 0-based attempt number) until it succeeds or one of the reasons to
/// stop applies, sleeping a backoff delay, or the server's `Retry-After`, between attempts.
pub async fn retry(
    policy: &RetryPolicy,
    retry_safe: bool,
    sleeper: &mut impl Sleeper,
    rng: &mut impl RandomSource,
    mut attempt: impl AsyncFnMut(u32) -> Outcome,
) -> Finished {
    // TODO: call `attempt(0)`, `attempt(1)`… and stop, with the right `Stop`, when
    //       - the outcome is final (success or fatal),
    //       - the request is not retry-safe,
    //       - `max_attempts` attempts have been made,
    //       - sleeping the next delay would reach `policy.deadline` (on `sleeper`'s clock).
    // TODO: between attempts sleep the server's Retry-After if it gave one, else a `backoff_delay`.
    todo!()
}

/// One HTTP call to make, possibly several times.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub body: String,
    /// Whether this operation gets an `Idempotency-Key` (made once per call, the same on every
    /// attempt).
    pub with_key: bool,
}

/// Sends `call` once with reqwest and turns what happened into an [`Outcome`].
pub async fn send_once(
    client: &reqwest::Client,
    call: &Call,
    idempotency_key: Option<&str>,
) -> Outcome {
    // TODO: send `call` (method, url, body), with an `Idempotency-Key` header when given a key.
    // TODO: no answer at all is a `ConnectionFailed`; an answer is its status and its parsed
    //       Retry-After header.
    todo!()
}

/// Makes `call` against the real upstream with retries: one key for the whole operation if it wants
/// one.
pub async fn fetch(
    client: &reqwest::Client,
    call: &Call,
    policy: &RetryPolicy,
    sleeper: &mut impl Sleeper,
    rng: &mut impl RandomSource,
    keys: &mut KeyMaker,
) -> Finished {
    // TODO: make one key (from `keys`) for the whole operation when `call.with_key` is set.
    // TODO: retry `send_once` under `policy`, retrying only if the call is retry-safe.
    todo!()
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line.
// -------------------------------------------------------------------------------------------------

/// Makes idempotency keys: 32 random hex digits each, from its own seeded generator.
pub struct KeyMaker(ChaCha8Rng);

impl KeyMaker {
    /// A key maker seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        KeyMaker(ChaCha8Rng::seed_from_u64(seed ^ 0x6b65_795f_6d61_6b65))
    }

    /// A fresh key; every call returns a different one.
    pub fn new_key(&mut self) -> String {
        format!(
            "{:016x}{:016x}",
            RngCore::next_u64(&mut self.0),
            RngCore::next_u64(&mut self.0)
        )
    }
}

/// A fake clock that sleeping moves forward, with a log of what happened on it.
#[derive(Debug, Default)]
pub struct FakeTime {
    now_ms: Cell<u64>,
    events: RefCell<Vec<Value>>,
}

impl FakeTime {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn advance(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    fn log(&self, event: Value) {
        self.events.borrow_mut().push(event);
    }

    fn sleeps(&self) -> Vec<u64> {
        self.events
            .borrow()
            .iter()
            .filter_map(|e| e["sleep_ms"].as_u64())
            .collect()
    }
}

/// The [`Sleeper`] the grader's runs use: records each delay and moves the fake clock, without
/// waiting.
pub struct FakeSleeper<'a>(pub &'a FakeTime);

impl Sleeper for FakeSleeper<'_> {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now_ms())
    }

    async fn sleep(&mut self, delay: Duration) {
        let ms = delay.as_millis() as u64;
        self.0
            .log(json!({ "at_ms": self.0.now_ms(), "sleep_ms": ms }));
        self.0.advance(ms);
    }
}

#[derive(Debug, Deserialize)]
struct PolicyJson {
    base_ms: u64,
    cap_ms: u64,
    max_attempts: u32,
    deadline_ms: u64,
}

impl From<&PolicyJson> for RetryPolicy {
    fn from(p: &PolicyJson) -> Self {
        RetryPolicy {
            base: Duration::from_millis(p.base_ms),
            cap: Duration::from_millis(p.cap_ms),
            max_attempts: p.max_attempts,
            deadline: Duration::from_millis(p.deadline_ms),
        }
    }
}

/// One scripted attempt: an answer (`status`, maybe `retry_after`) or a connection failure
/// (`fail`).
#[derive(Debug, Clone, Deserialize)]
struct Step {
    status: Option<u16>,
    retry_after: Option<String>,
    fail: Option<String>,
    latency_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    /// Run the retry loop against a scripted upstream on the fake clock.
    Run {
        policy: PolicyJson,
        method: String,
        idempotency_key: Option<String>,
        seed: u64,
        script: Vec<Step>,
    },
    /// Draw `count` backoff delays for retry number `retry`.
    Sample {
        policy: PolicyJson,
        retry: u32,
        count: u32,
        seed: u64,
    },
    /// Call the real upstream at `UPSTREAM_URL` + `path` with retries.
    Fetch {
        policy: PolicyJson,
        method: String,
        path: String,
        body: String,
        with_key: bool,
        seed: u64,
    },
}

fn outcome_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Answered { status, .. } => json!({ "status": status }),
        Outcome::ConnectionFailed { reason } => json!({ "connection_failed": reason }),
    }
}

fn finished_json(finished: &Finished, time: &FakeTime) -> Value {
    json!({
        "attempts": finished.attempts,
        "stop": finished.stop,
        "outcome": outcome_json(&finished.outcome),
        "events": *time.events.borrow(),
        "sleeps_ms": time.sleeps(),
    })
}

fn parse_method(name: &str) -> Result<Method, String> {
    Method::from_bytes(name.as_bytes()).map_err(|e| format!("bad method `{name}`: {e}"))
}

fn run_scripted(
    runtime: &tokio::runtime::Runtime,
    policy: &RetryPolicy,
    method: &Method,
    key: Option<&str>,
    seed: u64,
    script: &[Step],
) -> Value {
    let time = FakeTime::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scripted = async |n: u32| {
        // Past the end of the script the upstream keeps answering like its last step.
        let step = &script[(n as usize).min(script.len() - 1)];
        time.log(json!({ "at_ms": time.now_ms(), "attempt": n }));
        time.advance(step.latency_ms);
        match (&step.fail, step.status) {
            (Some(reason), _) => Outcome::ConnectionFailed {
                reason: reason.clone(),
            },
            (None, status) => Outcome::Answered {
                status: status.unwrap_or(200),
                retry_after: step.retry_after.as_deref().and_then(parse_retry_after),
            },
        }
    };
    let retry_safe = is_retry_safe(method, key);
    let finished = runtime.block_on(retry(
        policy,
        retry_safe,
        &mut FakeSleeper(&time),
        &mut rng,
        scripted,
    ));
    finished_json(&finished, &time)
}

fn handle(
    request: Request,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
) -> Result<Value, String> {
    match request {
        Request::Run {
            policy,
            method,
            idempotency_key,
            seed,
            script,
        } => {
            if script.is_empty() {
                return Err("empty script".into());
            }
            let method = parse_method(&method)?;
            Ok(run_scripted(
                runtime,
                &(&policy).into(),
                &method,
                idempotency_key.as_deref(),
                seed,
                &script,
            ))
        }
        Request::Sample {
            policy,
            retry,
            count,
            seed,
        } => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let policy = RetryPolicy::from(&policy);
            let delays: Vec<u64> = (0..count)
                .map(|_| backoff_delay(&policy, retry, &mut rng).as_millis() as u64)
                .collect();
            Ok(json!({ "delays_ms": delays }))
        }
        Request::Fetch {
            policy,
            method,
            path,
            body,
            with_key,
            seed,
        } => {
            let base =
                std::env::var("UPSTREAM_URL").map_err(|_| "UPSTREAM_URL is not set".to_string())?;
            let call = Call {
                method: parse_method(&method)?,
                url: format!("{base}{path}"),
                body,
                with_key,
            };
            let time = FakeTime::default();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut keys = KeyMaker::new(seed);
            let policy = RetryPolicy::from(&policy);
            let finished = runtime.block_on(fetch(
                client,
                &call,
                &policy,
                &mut FakeSleeper(&time),
                &mut rng,
                &mut keys,
            ));
            Ok(finished_json(&finished, &time))
        }
    }
}

/// Provided: you do not need to change this.
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // No proxy from the environment: the upstream is on loopback.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client");
    serve_json_lines(|request: Request| {
        handle(request, &runtime, &client).unwrap_or_else(|error| json!({ "error": error }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "random" source that returns the same value forever.
    struct Fixed(u64);

    impl RandomSource for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.0
        }
    }

    fn policy(base_ms: u64, cap_ms: u64, max_attempts: u32, deadline_ms: u64) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_attempts,
            deadline: Duration::from_millis(deadline_ms),
        }
    }

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after: None,
        }
    }

    /// Runs `retry` over a list of outcomes on a fake clock (10 ms per attempt); returns the result
    /// and sleeps.
    fn run(policy: &RetryPolicy, retry_safe: bool, script: &[Outcome]) -> (Finished, Vec<u64>) {
        let time = FakeTime::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let scripted = async |n: u32| {
            time.advance(10);
            script[(n as usize).min(script.len() - 1)].clone()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let finished = runtime.block_on(retry(
            policy,
            retry_safe,
            &mut FakeSleeper(&time),
            &mut rng,
            scripted,
        ));
        (finished, time.sleeps())
    }

    // The draw is `next_u64() % (ceiling + 1)` milliseconds, with the first retry's ceiling equal
    // to `base`.
    #[test]
    fn jitter_maps_the_draw_into_zero_to_ceiling() {
        let p = policy(100, 10_000, 5, 60_000);
        assert_eq!(
            backoff_delay(&p, 0, &mut Fixed(7)),
            Duration::from_millis(7)
        );
        assert_eq!(
            backoff_delay(&p, 0, &mut Fixed(250)),
            Duration::from_millis(250 % 101)
        );
        assert_eq!(
            backoff_delay(&p, 0, &mut Fixed(100)),
            Duration::from_millis(100)
        );
        assert_eq!(
            backoff_delay(&p, 2, &mut Fixed(400)),
            Duration::from_millis(400)
        );
        assert_eq!(
            backoff_delay(&p, 2, &mut Fixed(401)),
            Duration::from_millis(0)
        );
    }

    // Every delay stays in [0, min(cap, base·2^n)], even after a very long outage (no overflow).
    #[test]
    fn delays_stay_under_the_capped_exponential_ceiling() {
        let p = policy(30, 1_000, 100, 60_000);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for retry in 0..100u32 {
            let ceiling = if retry < 6 { 30u64 << retry } else { 1_000 };
            for _ in 0..50 {
                let delay = backoff_delay(&p, retry, &mut rng).as_millis() as u64;
                assert!(delay <= ceiling, "retry {retry}: {delay} ms > {ceiling} ms");
            }
        }
    }

    // Full jitter is uniform: the mean delay is half the ceiling.
    #[test]
    fn jitter_mean_is_half_the_ceiling() {
        let p = policy(200, 10_000, 5, 60_000);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let total: u64 = (0..10_000)
            .map(|_| backoff_delay(&p, 1, &mut rng).as_millis() as u64)
            .sum();
        let mean = total as f64 / 10_000.0;
        assert!(
            (mean - 200.0).abs() < 6.0,
            "mean {mean} ms, expected about 200 ms"
        );
    }

    // 5xx, 429 and connection failures are retryable; other 4xx are final; below 400 is success.
    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(&answered(200)), Class::Success);
        assert_eq!(classify(&answered(204)), Class::Success);
        for status in [500, 502, 503, 504, 429] {
            assert_eq!(
                classify(&answered(status)),
                Class::Retryable { after: None },
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert_eq!(classify(&answered(status)), Class::Fatal, "{status}");
        }
        let reset = Outcome::ConnectionFailed {
            reason: "reset".into(),
        };
        assert_eq!(classify(&reset), Class::Retryable { after: None });
    }

    // Retry-After counts on 429 and 503 only, and only in its delta-seconds form.
    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        let two = Some(Duration::from_secs(2));
        let with = |status| Outcome::Answered {
            status,
            retry_after: two,
        };
        assert_eq!(classify(&with(429)), Class::Retryable { after: two });
        assert_eq!(classify(&with(503)), Class::Retryable { after: two });
        assert_eq!(classify(&with(500)), Class::Retryable { after: None });
    }

    // Idempotent methods may be repeated; POST and PATCH only with an idempotency key.
    #[test]
    fn only_idempotent_or_keyed_requests_are_retry_safe() {
        assert!(is_retry_safe(&Method::GET, None));
        assert!(is_retry_safe(&Method::PUT, None));
        assert!(is_retry_safe(&Method::DELETE, None));
        assert!(!is_retry_safe(&Method::POST, None));
        assert!(!is_retry_safe(&Method::PATCH, None));
        assert!(is_retry_safe(&Method::POST, Some("k-1")));
    }

    // Two 503s then a 200: three attempts, two sleeps, each under its ceiling.
    #[test]
    fn retries_until_success() {
        let p = policy(100, 10_000, 5, 60_000);
        let (finished, sleeps) = run(&p, true, &[answered(503), answered(503), answered(200)]);
        assert_eq!((finished.attempts, finished.stop), (3, Stop::Succeeded));
        assert_eq!(sleeps.len(), 2);
        assert!(sleeps[0] <= 100 && sleeps[1] <= 200, "{sleeps:?}");
    }

    // A 404 comes back at once, untouched.
    #[test]
    fn client_errors_are_not_retried() {
        let p = policy(100, 10_000, 5, 60_000);
        let (finished, sleeps) = run(&p, true, &[answered(404), answered(200)]);
        assert_eq!(
            (finished.attempts, finished.stop, finished.outcome),
            (1, Stop::NotRetryable, answered(404))
        );
        assert!(sleeps.is_empty());
    }

    // A request that is not safe to repeat is sent once even when the failure is retryable.
    #[test]
    fn unsafe_requests_are_sent_once() {
        let p = policy(100, 10_000, 5, 60_000);
        let (finished, sleeps) = run(&p, false, &[answered(503), answered(200)]);
        assert_eq!((finished.attempts, finished.stop), (1, Stop::NotRetrySafe));
        assert!(sleeps.is_empty());
    }

    // max_attempts counts every attempt: 3 means three calls, then the last failure is returned.
    #[test]
    fn stops_after_max_attempts() {
        let p = policy(100, 10_000, 3, 60_000);
        let (finished, sleeps) = run(
            &p,
            true,
            &[answered(500), answered(500), answered(502), answered(200)],
        );
        assert_eq!(
            (finished.attempts, finished.stop, finished.outcome),
            (3, Stop::OutOfAttempts, answered(502))
        );
        assert_eq!(sleeps.len(), 2);
    }

    // Retry-After replaces the backoff, and the loop stops rather than sleep into the deadline.
    #[test]
    fn honours_retry_after_until_the_deadline() {
        let p = policy(100, 10_000, 10, 5_000);
        let busy = Outcome::Answered {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        };
        // 10 ms + 2000 + 10 ms + 2000 + 10 ms = 4030 ms; another 2000 ms would reach 6030 ms ≥ 5000
        // ms.
        let (finished, sleeps) = run(&p, true, &[busy]);
        assert_eq!(
            (finished.attempts, finished.stop),
            (3, Stop::DeadlineReached)
        );
        assert_eq!(sleeps, vec![2_000, 2_000]);
    }
}
