//! Grader of `warm6_tokio_async`: fan-out with per-call timeouts, and a counters actor under 1 000 concurrent
//! ops, all on tokio's paused clock.
//!
//! The program reports the *virtual* time each request took, which is exact: calls that overlap take as long
//! as the slowest one, calls in sequence take the sum. Outcomes, values and snapshots are checked against a
//! model; the values one key answers must be the running totals of its deltas, in time order.

use std::collections::BTreeMap;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

const KEYS: [&str; 6] = ["api", "db", "cache", "queue", "auth", "search"];

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("a fan-out's calls overlap: it takes as long as the slowest call, not the sum");
    fan_out(&mut p, 1_000, &[120, 400, 50, 250, 310])?;

    g.scenario("each call has its own timeout: slow calls time out, fast ones still succeed");
    fan_out(&mut p, 200, &[50, 5_000, 150, 10_000, 199 - 9])?;
    fan_out(&mut p, 300, &[301 + 9, 700])?;

    g.scenario("seeded fan-outs");
    let mut rng = g.rng().fork(6);
    for _ in 0..6 {
        let timeout = rng.range(100, 1_000);
        let jobs: Vec<u64> = (0..rng.range(1, 30))
            .map(|_| call_length(&mut rng, timeout))
            .collect();
        fan_out(&mut p, timeout, &jobs)?;
    }

    g.scenario("the actor applies 1 000 concurrent adds whole, in time order");
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    for (count, spread) in [(1_000, 6), (300, 2), (50, 40)] {
        let ops: Vec<(String, i64, u64)> = (0..count)
            .map(|_| {
                (
                    rng.pick(&KEYS).to_string(),
                    rng.range(1, 9) as i64,
                    rng.below(spread),
                )
            })
            .collect();
        apply(&mut p, &mut counters, &ops)?;
    }

    g.scenario("a snapshot shows every counter with every op applied");
    let got = p.request(&json!({"op": "snapshot"}))?;
    let expected = json!({"counters": counters});
    ensure(got == expected, || {
        Failure::new(
            "the snapshot holds the sum of every delta ever added to each counter (no update lost)",
        )
        .expected(&expected)
        .got(&got)
    })
}

/// A call length at least 3 ms away from the timeout, so which one fires first is never a tie.
fn call_length(rng: &mut Rng, timeout: u64) -> u64 {
    loop {
        let ms = rng.range(0, timeout * 2);
        if ms.abs_diff(timeout) >= 3 {
            return ms;
        }
    }
}

fn fan_out(p: &mut Stdio, timeout: u64, lengths: &[u64]) -> Result<(), Failure> {
    let jobs: Vec<Value> = lengths
        .iter()
        .enumerate()
        .map(|(i, ms)| json!({"id": 10 + i, "ms": ms}))
        .collect();
    let outcomes: Vec<Value> = lengths
        .iter()
        .enumerate()
        .map(|(i, &ms)| json!({"id": 10 + i, "outcome": if ms < timeout { "ok" } else { "timeout" }}))
        .collect();
    let request = json!({"op": "fan_out", "timeout_ms": timeout, "jobs": jobs});
    let got = p.request(&request)?;
    ensure(got["outcomes"] == json!(outcomes), || {
        Failure::new("each call has its own timeout: a call shorter than timeout_ms is ok, a longer one is timeout, in the order of the jobs")
            .expected(json!(outcomes))
            .got(&got["outcomes"])
            .detail(format!("timeout_ms = {timeout}, call lengths = {lengths:?}"))
    })?;
    let slowest = lengths.iter().map(|&ms| ms.min(timeout)).max().unwrap_or(0);
    let sum: u64 = lengths.iter().map(|&ms| ms.min(timeout)).sum();
    check_elapsed(&got, slowest, || {
        format!(
            "the calls overlap: a fan-out takes as long as its slowest call or the timeout ({slowest} ms), not the sum ({sum} ms)"
        )
    })
}

/// Sends one apply and checks the values: per key, the running totals of its deltas, in time order.
fn apply(
    p: &mut Stdio,
    counters: &mut BTreeMap<String, i64>,
    ops: &[(String, i64, u64)],
) -> Result<(), Failure> {
    let request: Vec<Value> = ops
        .iter()
        .map(|(key, delta, after)| json!({"key": key, "delta": delta, "after_ms": after}))
        .collect();
    let got = p.request(&json!({"op": "apply", "ops": request}))?;
    let values: Vec<i64> = got["values"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    ensure(values.len() == ops.len(), || {
        Failure::new("apply answers one integer value per op, in the order of the ops")
            .expected(format!("{} values", ops.len()))
            .got(format!("{} values", values.len()))
    })?;
    let longest = ops.iter().map(|op| op.2).max().unwrap_or(0);
    let sum: u64 = ops.iter().map(|op| op.2).sum();
    check_elapsed(&got, longest, || {
        format!(
            "the ops run concurrently: an apply takes as long as its largest after_ms ({longest} ms), not the sum ({sum} ms)"
        )
    })?;
    for key in KEYS {
        let base = counters.get(key).copied().unwrap_or(0);
        let mut mine: Vec<(i64, i64, u64)> = ops
            .iter()
            .zip(&values)
            .filter(|((k, _, _), _)| k == key)
            .map(|((_, delta, after), &value)| (value, *delta, *after))
            .collect();
        mine.sort();
        let totals: Vec<i64> = mine
            .iter()
            .scan(base, |total, m| {
                *total += m.1;
                Some(*total)
            })
            .collect();
        let answered: Vec<i64> = mine.iter().map(|m| m.0).collect();
        ensure(answered == totals, || {
            let show = |v: &[i64]| {
                format!(
                    "{:?}{}",
                    &v[..v.len().min(10)],
                    if v.len() > 10 { " …" } else { "" }
                )
            };
            Failure::new("every add is applied whole, one at a time: the values answered for a key are the running totals of its deltas (an update was lost)")
                .expected(format!("counter `{key}` (was {base}), its answers sorted: {}", show(&totals)))
                .got(format!("counter `{key}` (was {base}), its answers sorted: {}", show(&answered)))
                .detail("two ops answering the same value means both started from the same total and one update was lost")
                .detail("is a counter read in one message and written in another? Send the operation (add), not the new value")
        })?;
        let total = totals.last().copied().unwrap_or(base);
        for pair in mine.windows(2) {
            let ((earlier_value, _, earlier_after), (later_value, _, later_after)) =
                (pair[0], pair[1]);
            ensure(earlier_after <= later_after, || {
                Failure::new("an op that waits less reaches the actor first: its value is the smaller one")
                    .got(format!("counter `{key}`: the op after {later_after} ms answered {later_value}, the op after {earlier_after} ms answered {earlier_value}"))
            })?;
        }
        if !mine.is_empty() {
            counters.insert(key.to_string(), total);
        }
    }
    Ok(())
}

/// Virtual time is exact on a paused clock; allow 1 ms for rounding to the timer's millisecond ticks.
fn check_elapsed(got: &Value, expected: u64, rule: impl FnOnce() -> String) -> Result<(), Failure> {
    let elapsed = got["elapsed_ms"].as_u64();
    ensure(
        elapsed.is_some_and(|e| (expected..=expected + 1).contains(&e)),
        || {
            Failure::new(rule())
                .expected(format!("elapsed_ms = {expected}"))
                .got(format!("elapsed_ms = {}", got["elapsed_ms"]))
        },
    )
}
