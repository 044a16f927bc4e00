//! Grader for `res2_retry_backoff_jitter`: retry with exponential backoff and full jitter.
//!
//! The program's loop runs against scripted upstreams on a fake clock (`run`): every delay is
//! checked against `[0, min(cap, base·2^n)]` or the server's `Retry-After`, every stop against the
//! contract (final answers, unsafe requests, max attempts, the deadline). `sample` draws 10 000
//! delays to check that the jitter is uniform. Last, the program's reqwest client calls a flaky
//! HTTP server the grader runs (`fetch`), and the server counts the attempts and checks the
//! idempotency keys.

mod check;
mod end_to_end;
mod model;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::json;

use backlings_grade::upstream::{Reply, Upstream};
use check::{Run, check_run, parse_run};
use model::{Case, NO_DEADLINE, Policy, Step};

/// Retryable failures without a `Retry-After`.
const RETRYABLE: [u16; 5] = [500, 502, 503, 504, 429];
/// Final answers: a 4xx other than 429.
const FATAL: [u16; 6] = [400, 401, 403, 404, 409, 422];
/// Methods that may be retried without a key.
const IDEMPOTENT: [&str; 4] = ["GET", "PUT", "DELETE", "OPTIONS"];
/// Methods that may be retried only with an idempotency key.
const NOT_IDEMPOTENT: [&str; 2] = ["POST", "PATCH"];

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let upstream = Upstream::start()?;
    let url = upstream.base_url();
    let mut p = g.stdio_with(&[], &[("UPSTREAM_URL", url.as_str())])?;

    g.scenario("retryable failures (5xx, 429, connection errors) are retried until success");
    let mut first = None;
    for _ in 0..10 {
        let case = until_success(g.rng());
        let run = run_case(&mut p, &case)?;
        first.get_or_insert((case, run));
    }

    g.scenario("full jitter: 10 000 delays spread uniformly over [0, ceiling]");
    check_distribution(&mut p, g.rng())?;

    g.scenario("a 4xx other than 429 comes back at once");
    for _ in 0..6 {
        run_case(&mut p, &then_fatal(g.rng()))?;
    }

    g.scenario("a POST or PATCH without an idempotency key is sent once");
    for _ in 0..4 {
        run_case(&mut p, &unsafe_request(g.rng()))?;
    }

    g.scenario("max_attempts counts every attempt, the first one included");
    for max_attempts in [1, 2, 3, 5] {
        run_case(&mut p, &out_of_attempts(g.rng(), max_attempts))?;
    }

    g.scenario("Retry-After on 429 and 503 is honoured exactly");
    for _ in 0..4 {
        run_case(&mut p, &retry_after(g.rng()))?;
    }

    g.scenario("the overall deadline is never passed");
    for stop_after in [1, 2, 3] {
        run_case(&mut p, &deadline_with_retry_after(g.rng(), stop_after))?;
    }
    for _ in 0..3 {
        run_case(&mut p, &deadline_with_backoff(g.rng()))?;
    }

    g.scenario("a long outage: 70 attempts, no overflow, every delay under the cap");
    run_case(&mut p, &long_outage(g.rng()))?;

    g.scenario("the same seed replays the same delays");
    if let Some((case, before)) = first {
        let again = run_case(&mut p, &case)?;
        ensure(again.sleep_lengths() == before.sleep_lengths(), || {
            Failure::new(
                "the jitter must come from the injected RandomSource only: the same seed must give the same delays",
            )
            .expected(format!("{:?} ms (the first run with seed {})", before.sleep_lengths(), case.seed))
            .got(format!("{:?} ms", again.sleep_lengths()))
        })?;
    }

    g.scenario("end to end: your reqwest client against a flaky HTTP upstream");
    end_to_end::check(&mut p, g.rng(), &upstream)?;
    Ok(())
}

/// Sends one case, parses the answer and checks it step by step.
fn run_case(p: &mut Stdio, case: &Case) -> Result<Run, Failure> {
    let answer = p.request(&case.request())?;
    let run = parse_run(&answer)?;
    check_run(case, &run)?;
    Ok(run)
}

fn latency(rng: &mut Rng) -> u64 {
    rng.range(1, 80)
}

fn step(rng: &mut Rng, reply: Reply) -> Step {
    Step {
        reply,
        latency_ms: latency(rng),
    }
}

/// A retryable failure without Retry-After: a 5xx, a bare 429, or a connection reset.
fn retryable(rng: &mut Rng) -> Reply {
    if rng.chance(1, 5) {
        Reply::Reset
    } else {
        Reply::status(*rng.pick(&RETRYABLE))
    }
}

fn failing_steps(rng: &mut Rng, count: u64) -> Vec<Step> {
    (0..count)
        .map(|_| {
            let reply = retryable(rng);
            step(rng, reply)
        })
        .collect()
}

fn seed(rng: &mut Rng) -> u64 {
    rng.below(1 << 48)
}

/// A request that may be retried: an idempotent method, or a POST/PATCH with a key.
fn safe_request(rng: &mut Rng) -> (&'static str, Option<String>) {
    if rng.chance(1, 3) {
        (
            *rng.pick(&NOT_IDEMPOTENT),
            Some(format!("key-{}", rng.word(12))),
        )
    } else {
        (*rng.pick(&IDEMPOTENT), None)
    }
}

fn policy(rng: &mut Rng, max_attempts: u32) -> Policy {
    let base_ms = rng.range(20, 200);
    Policy {
        base_ms,
        cap_ms: base_ms * rng.pick(&[4, 8, 16, 64]),
        max_attempts,
        deadline_ms: NO_DEADLINE,
    }
}

fn until_success(rng: &mut Rng) -> Case {
    let max_attempts = rng.range(4, 8) as u32;
    let failures = rng.range(1, u64::from(max_attempts) - 1);
    let mut script: Vec<Step> = failing_steps(rng, failures);
    let last = Reply::status(*rng.pick(&[200, 201, 204]));
    script.push(step(rng, last));
    let (method, key) = safe_request(rng);
    Case {
        policy: policy(rng, max_attempts),
        method,
        key,
        seed: seed(rng),
        script,
    }
}

fn then_fatal(rng: &mut Rng) -> Case {
    let mut script: Vec<Step> = {
        let n = rng.below(3);
        failing_steps(rng, n)
    };
    let last = Reply::status(*rng.pick(&FATAL));
    script.push(step(rng, last));
    script.push(step(rng, Reply::status(200)));
    let (method, key) = safe_request(rng);
    Case {
        policy: policy(rng, 6),
        method,
        key,
        seed: seed(rng),
        script,
    }
}

fn unsafe_request(rng: &mut Rng) -> Case {
    let first = match rng.below(4) {
        0 => Reply::Reset,
        1 => Reply::Status {
            status: 503,
            retry_after: Some(1),
        },
        _ => Reply::status(*rng.pick(&RETRYABLE)),
    };
    let script = vec![step(rng, first), step(rng, Reply::status(201))];
    let method = *rng.pick(&NOT_IDEMPOTENT);
    Case {
        policy: policy(rng, 5),
        method,
        key: None,
        seed: seed(rng),
        script,
    }
}

fn out_of_attempts(rng: &mut Rng, max_attempts: u32) -> Case {
    let mut script: Vec<Step> = failing_steps(rng, u64::from(max_attempts));
    script.push(step(rng, Reply::status(200)));
    let (method, key) = safe_request(rng);
    Case {
        policy: policy(rng, max_attempts),
        method,
        key,
        seed: seed(rng),
        script,
    }
}

fn retry_after(rng: &mut Rng) -> Case {
    let failures = rng.range(1, 3);
    let mut script = Vec::new();
    for i in 0..failures {
        // At least one Retry-After per case; the others may be plain 5xx in between.
        let reply = if i == 0 || rng.chance(2, 3) {
            Reply::Status {
                status: *rng.pick(&[429, 503]),
                retry_after: Some(rng.range(1, 5)),
            }
        } else {
            Reply::status(*rng.pick(&[500, 502, 504]))
        };
        script.push(step(rng, reply));
    }
    rng.shuffle(&mut script);
    script.push(step(rng, Reply::status(200)));
    let (method, key) = safe_request(rng);
    // A small cap keeps every backoff delay far below one second: only Retry-After can explain a
    // long wait.
    let base_ms = rng.range(10, 50);
    let policy = Policy {
        base_ms,
        cap_ms: 400,
        max_attempts: 6,
        deadline_ms: NO_DEADLINE,
    };
    Case {
        policy,
        method,
        key,
        seed: seed(rng),
        script,
    }
}

/// A server that keeps answering with Retry-After, and a deadline that leaves room for exactly
/// `stop_after` attempts (never exactly on the boundary).
fn deadline_with_retry_after(rng: &mut Rng, stop_after: usize) -> Case {
    let script: Vec<Step> = (0..8)
        .map(|_| {
            let reply = Reply::Status {
                status: *rng.pick(&[429, 503]),
                retry_after: Some(rng.range(1, 3)),
            };
            step(rng, reply)
        })
        .collect();
    // With no deadline: attempt k (1-based) ends at ends[k-1] and would be followed by a wait of
    // waits[k-1].
    let (mut ends, mut waits, mut now) = (Vec::new(), Vec::new(), 0);
    for s in &script {
        now += s.latency_ms;
        let wait = match s.reply {
            Reply::Status {
                retry_after: Some(seconds),
                ..
            } => seconds * 1000,
            _ => unreachable!("every step here has a Retry-After"),
        };
        ends.push(now);
        waits.push(wait);
        now += wait;
    }
    let k = stop_after - 1;
    let low = if k == 0 {
        ends[0] + 1
    } else {
        ends[k - 1] + waits[k - 1] + 1
    };
    let high = ends[k] + waits[k] - 1;
    let policy = Policy {
        base_ms: 100,
        cap_ms: 400,
        max_attempts: 50,
        deadline_ms: rng.range(low, high),
    };
    let (method, key) = safe_request(rng);
    Case {
        policy,
        method,
        key,
        seed: seed(rng),
        script,
    }
}

/// Long backoffs against a short deadline: the deadline, not max_attempts, ends the loop.
fn deadline_with_backoff(rng: &mut Rng) -> Case {
    let script: Vec<Step> = (0..40)
        .map(|_| {
            let reply = retryable(rng);
            Step {
                reply,
                latency_ms: rng.range(10, 100),
            }
        })
        .collect();
    let policy = Policy {
        base_ms: rng.range(300, 800),
        cap_ms: 4000,
        max_attempts: 40,
        deadline_ms: rng.range(3000, 8000),
    };
    let (method, key) = safe_request(rng);
    Case {
        policy,
        method,
        key,
        seed: seed(rng),
        script,
    }
}

fn long_outage(rng: &mut Rng) -> Case {
    let mut script: Vec<Step> = failing_steps(rng, 70);
    script.push(step(rng, Reply::status(200)));
    let policy = Policy {
        base_ms: rng.range(1, 20),
        cap_ms: rng.range(200, 1000),
        max_attempts: 70,
        deadline_ms: NO_DEADLINE,
    };
    Case {
        policy,
        method: "GET",
        key: None,
        seed: seed(rng),
        script,
    }
}

/// Draws 10 000 delays for three retry numbers and checks range, mean and spread.
fn check_distribution(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    const COUNT: u64 = 10_000;
    let base_ms = rng.range(50, 300);
    let cap_ms = rng.range(2000, 5000);
    let policy = Policy {
        base_ms,
        cap_ms,
        max_attempts: 10,
        deadline_ms: NO_DEADLINE,
    };
    for retry in [0, 3, 40] {
        let ceiling = policy.ceiling(retry);
        let request = json!({ "op": "sample", "policy": policy.json(), "retry": retry, "count": COUNT, "seed": seed(rng) });
        let answer = p.request(&request)?;
        let delays: Vec<u64> = match answer["delays_ms"].as_array() {
            Some(values) => values.iter().filter_map(|v| v.as_u64()).collect(),
            None => {
                return Err(Failure::new(
                    "the answer to `sample` must hold `delays_ms`, a list of numbers",
                )
                .got(&answer));
            }
        };
        let what = format!(
            "retry {retry} with base {base_ms} ms and cap {cap_ms} ms: ceiling min(cap, base·2^{retry}) = {ceiling} ms"
        );
        ensure(delays.len() as u64 == COUNT, || {
            Failure::new("`sample` must return `count` delays")
                .expected(COUNT)
                .got(delays.len())
        })?;
        if let Some(&over) = delays.iter().find(|&&d| d > ceiling) {
            let rule = format!("every delay must lie in [0, min(cap, base·2^n)]; {what}");
            return Err(Failure::new(rule)
                .expected(format!("at most {ceiling} ms"))
                .got(format!("{over} ms")));
        }
        let mean = delays.iter().sum::<u64>() as f64 / COUNT as f64;
        let quarters = quarter_shares(&delays, ceiling);
        let (low, high) = (
            delays.iter().min().copied().unwrap_or(0),
            delays.iter().max().copied().unwrap_or(0),
        );
        let expected_mean = ceiling as f64 / 2.0;
        let is_uniform = (mean - expected_mean).abs() <= 0.03 * expected_mean
            && quarters.iter().all(|share| (0.22..=0.28).contains(share))
            && low * 100 <= ceiling
            && high * 100 >= ceiling * 99;
        ensure(is_uniform, || {
            Failure::new(format!(
                "full jitter draws every delay uniformly from [0, ceiling], so the delays must be spread uniformly: \
                 mean about ceiling/2, a quarter of them in each quarter of the range; {what}"
            ))
            .expected(format!(
                "mean {expected_mean:.0} ms ± 3 %, each quarter 25 % ± 3 points, smallest near 0, largest near {ceiling} ms"
            ))
            .got(format!(
                "mean {mean:.1} ms, quarters {}, smallest {low} ms, largest {high} ms",
                quarters.iter().map(|s| format!("{:.1} %", s * 100.0)).collect::<Vec<_>>().join(" / ")
            ))
            .detail("the draw is `next_u64() % (ceiling_ms + 1)` milliseconds: no fixed part, no `ceiling/2 + …`")
        })?;
    }
    Ok(())
}

/// The share of delays in each quarter of `[0, ceiling]`.
fn quarter_shares(delays: &[u64], ceiling: u64) -> [f64; 4] {
    let mut counts = [0u64; 4];
    for &d in delays {
        let quarter = ((d as u128 * 4) / (u128::from(ceiling) + 1)) as usize;
        counts[quarter.min(3)] += 1;
    }
    counts.map(|c| c as f64 / delays.len() as f64)
}
