//! Is an operation O(1) or O(log n)? For LFU and TTL (the policies whose victim must be *found*), the cost
//! per operation on a full cache of 50 000 entries against one of 100. Built like `cache1_lru`'s check:
//!
//! Timing single requests would measure the pipe and JSON, not the cache, so the program runs `bench`
//! batches: thousands of gets and puts generated from a seed the grader sends, answered with a checksum of
//! every result. The grader replays each batch on its model, so a batch cannot be skipped or faked. Two
//! programs (one per capacity) are started, filled past capacity, then measured in alternation, and the
//! best batch of each is kept: load on the machine slows batches down, never speeds them up. The verdict is
//! a ratio with wide slack, never an absolute time; a batch that does not finish in time is itself the
//! answer ("looks O(n)"), not a hang.

use std::time::{Duration, Instant};

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use super::model::{Model, Policy};

const SMALL: usize = 100;
const LARGE: usize = 50_000;
/// Long enough that nothing expires during a TTL bench: it measures finding the soonest expiry.
const BENCH_TTL_MS: u64 = 1_000_000_000;
/// Entries put beyond the capacity when filling, so the cache starts full and has evicted already.
const OVERFILL: usize = 16;
/// Operations per batch: enough that a batch takes far longer than the round trip that carries it.
const BATCH: u64 = 20_000;
/// Batches per capacity, measured in alternation.
const ROUNDS: usize = 4;
/// Stop early once the large batches have taken this long in all (a slow program has given its answer).
const LARGE_BUDGET: Duration = Duration::from_millis(800);
/// The longest one batch may take: the reference needs about 20 ms in a debug build.
const BATCH_DEADLINE: Duration = Duration::from_millis(1500);
/// The most the large cache may cost per operation, as a multiple of the small one. The reference (buckets
/// and ordered maps, O(log n)) measures about 2 on a quiet machine and up to 5 on a loaded one; one linear
/// step per operation measures in the hundreds.
const RATIO_LIMIT: f64 = 16.0;

/// One program holding one full cache, and the grader's model of it.
struct Side {
    policy: Policy,
    capacity: usize,
    program: Stdio,
    model: Model,
    best: Option<Duration>,
}

/// How one batch went.
enum Batch {
    Took(Duration),
    TimedOut,
}

/// Measures both capacities of `policy` and compares their best cost per operation.
pub fn check(g: &mut Grading, policy: Policy) -> Result<(), Failure> {
    let mut small = Side::start(g, policy, SMALL)?;
    let mut large = Side::start(g, policy, LARGE)?;
    let mut spent_on_large = Duration::ZERO;
    for round in 0..ROUNDS {
        let seed = g.rng().next_u64();
        if let Batch::TimedOut = small.batch(seed, g.seed(), Duration::from_secs(5))? {
            return Err(Failure::new(format!(
                "a bench batch of {} operations at capacity {SMALL} did not finish within 5 s",
                thousands(BATCH as usize)
            ))
            .detail("the cache is far too slow even when small: look for a loop that never ends or restarts"));
        }
        let seed = g.rng().next_u64();
        match large.batch(seed, g.seed(), BATCH_DEADLINE)? {
            Batch::Took(elapsed) => spent_on_large += elapsed,
            Batch::TimedOut => return Err(looks_linear(&small, None)),
        }
        if round >= 1 && spent_on_large > LARGE_BUDGET {
            break;
        }
    }
    match (small.best, large.best) {
        (Some(small_best), Some(large_best)) if ratio(large_best, small_best) > RATIO_LIMIT => {
            Err(looks_linear(&small, Some(large_best)))
        }
        _ => Ok(()),
    }
}

impl Side {
    /// Starts a program, makes a cache of `capacity` and fills it past capacity.
    fn start(g: &mut Grading, policy: Policy, capacity: usize) -> Result<Side, Failure> {
        let mut program = g.stdio()?;
        let mut model = Model::new(policy, capacity, BENCH_TTL_MS, 0, None);
        let new = format!(
            r#"{{"op":"new","policy":"{policy}","capacity":{capacity},"ttl_ms":{BENCH_TTL_MS}}}"#
        );
        expect_line(
            &mut program,
            &new,
            &json!({"ok": true}),
            r#"new answers {"ok":true}"#,
        )?;
        let count = capacity + OVERFILL;
        for key in 0..count as u64 {
            model.put(key, key);
        }
        let fill = format!(r#"{{"op":"fill","start":0,"count":{count}}}"#);
        let rule = format!(
            "putting {} new keys into a cache of capacity {} evicts {OVERFILL} of them",
            thousands(count),
            thousands(capacity)
        );
        expect_line(
            &mut program,
            &fill,
            &json!({"evicted": OVERFILL, "len": capacity}),
            &rule,
        )?;
        Ok(Side {
            policy,
            capacity,
            program,
            model,
            best: None,
        })
    }

    /// Runs one batch on the program and on the model, checks the checksum, keeps the best time.
    fn batch(
        &mut self,
        seed: u64,
        grading_seed: u64,
        deadline: Duration,
    ) -> Result<Batch, Failure> {
        let keys = 2 * self.capacity as u64;
        let expected = json!({"checksum": run_bench(&mut self.model, seed, BATCH, keys), "len": self.model.len()});
        let request = format!(r#"{{"op":"bench","seed":{seed},"ops":{BATCH},"keys":{keys}}}"#);
        let started = Instant::now();
        self.program.send_line(&request)?;
        let line = match self.program.recv_line_within(deadline) {
            Ok(line) => line,
            // A program that crashed answers at once; one that is still busy at the deadline is too slow.
            Err(_) if started.elapsed() >= deadline => return Ok(Batch::TimedOut),
            Err(failure) => return Err(failure),
        };
        let elapsed = started.elapsed();
        let got: Value = serde_json::from_str(&line).unwrap_or(Value::String(line.clone()));
        if got != expected {
            return Err(Failure::new(
                "a bench batch runs ordinary gets and puts, so its checksum and final len must match the model's",
            )
            .expected(expected)
            .got(line)
            .detail(format!(
                "sent: {request}  (to a full {} cache of capacity {}; the batch is made of gets and puts on keys 0..{keys}, \
                 see `run_bench` in the provided code)",
                self.policy,
                thousands(self.capacity)
            ))
            .detail(format!(
                "the stories and the seeded traces passed, so this goes wrong only on a large cache (seed {grading_seed})"
            )));
        }
        self.best = Some(self.best.map_or(elapsed, |best| best.min(elapsed)));
        Ok(Batch::Took(elapsed))
    }
}

/// Sends one request line and checks its reply.
fn expect_line(
    program: &mut Stdio,
    line: &str,
    expected: &Value,
    rule: &str,
) -> Result<(), Failure> {
    program.send_line(line)?;
    let got = program.recv_line()?;
    if serde_json::from_str::<Value>(&got).ok().as_ref() != Some(expected) {
        return Err(Failure::new(rule)
            .expected(expected)
            .got(got)
            .detail(format!("sent: {line}")));
    }
    Ok(())
}

/// `100000` as `100 000`, for prose.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(digit);
    }
    out
}

/// The failure for a cost per operation that grows with the capacity.
fn looks_linear(small: &Side, large_best: Option<Duration>) -> Failure {
    let (small_capacity, large_capacity) = (thousands(SMALL), thousands(LARGE));
    let per_op = |batch: Duration| batch.as_secs_f64() * 1e6 / BATCH as f64;
    let small_best = small.best.unwrap_or(Duration::from_nanos(1));
    let got = match large_best {
        Some(large_best) => format!(
            "{:.2} µs per operation at capacity {small_capacity}, {:.2} µs at capacity {large_capacity}: {:.0}× more",
            per_op(small_best),
            per_op(large_best),
            ratio(large_best, small_best)
        ),
        None => format!(
            "{:.2} µs per operation at capacity {small_capacity}; at capacity {large_capacity} a batch did not finish within {} ms \
             (over {:.0} µs per operation, over {:.0}× more)",
            per_op(small_best),
            BATCH_DEADLINE.as_millis(),
            per_op(BATCH_DEADLINE),
            ratio(BATCH_DEADLINE, small_best)
        ),
    };
    Failure::new(format!(
        "{}: get and put must cost about the same whatever the number of entries (O(1) or O(log n)), but here the \
         cost grows with the capacity: it looks O(n)",
        small.policy.to_string().to_uppercase()
    ))
    .expected(format!(
        "about the same cost per operation at capacity {large_capacity} as at capacity {small_capacity} (at most {RATIO_LIMIT}× more)"
    ))
    .got(got)
    .detail(format!(
        "each batch: {} gets and puts on a full cache, keys drawn from twice the capacity, so about one in four \
         operations evicts; the best of up to {ROUNDS} batches per capacity counts",
        thousands(BATCH as usize)
    ))
    .detail(match small.policy {
        Policy::Lfu => {
            "scanning every entry for the lowest count costs time in proportion to the capacity: keep a bucket of keys \
             per count (in order of last use) and the lowest count in use, so the victim is the first key of one bucket"
        }
        _ => {
            "scanning every entry for the soonest expiry costs time in proportion to the capacity: keep the entries \
             in an ordered map by (expires_at, write stamp), so the victim is its first entry"
        }
    })
}

fn ratio(large: Duration, small: Duration) -> f64 {
    large.as_secs_f64() / small.as_secs_f64().max(1e-9)
}

/// SplitMix64, as in the exercise's provided `run_bench`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn fold(checksum: u64, word: u64) -> u64 {
    (checksum ^ word).wrapping_mul(0x0000_0100_0000_01B3)
}

/// The exercise's `bench` workload, replayed on the model: the checksum the program must answer.
fn run_bench(model: &mut Model, seed: u64, ops: u64, keys: u64) -> u64 {
    let mut rng = SplitMix64(seed);
    let mut checksum = 0xCBF2_9CE4_8422_2325;
    for _ in 0..ops {
        let r = rng.next_u64();
        let key = (r >> 1) % keys.max(1);
        if r & 1 == 0 {
            checksum = match model.get(key) {
                Some(value) => fold(fold(checksum, 1), value),
                None => fold(checksum, 2),
            };
        } else {
            checksum = match model.put(key, r >> 32) {
                Some((old_key, old_value)) => fold(fold(fold(checksum, 3), old_key), old_value),
                None => fold(checksum, 4),
            };
        }
    }
    checksum
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned against the reference solution's `bench` replies (capacity 3, seed 7, 1 000 ops on keys 0..8):
    // the model and the exercise's provided `run_bench` agree for every policy.
    #[test]
    fn bench_checksums_match_the_reference() {
        for (policy, pinned) in [
            (Policy::Fifo, 15_620_664_486_238_020_241),
            (Policy::Lfu, 5_646_904_109_519_086_155),
            (Policy::Ttl, 10_964_200_615_062_985_366),
        ] {
            let mut model = Model::new(policy, 3, 5, 0, None);
            assert_eq!(run_bench(&mut model, 7, 1_000, 8), pinned, "{policy}");
            assert_eq!(model.len(), 3);
        }
    }
}
