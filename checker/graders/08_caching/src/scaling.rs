//! Does an operation cost the same on a big cache as on a small one? The check shared by `cache1_lru` (O(1)) and
//! `cache2_eviction_policies` (O(1) or O(log n)): the cost per operation on a full large cache against a full
//! small one.
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

/// Entries put beyond the capacity when filling, so the cache starts full and has evicted already.
const OVERFILL: usize = 16;
/// Operations per batch: enough that a batch takes far longer than the round trip that carries it.
const BATCH: u64 = 20_000;
/// The longest one batch may take: the reference needs about 20 ms in a debug build.
const BATCH_DEADLINE: Duration = Duration::from_millis(1500);

/// The operations of a cache model that a `bench` batch replays.
pub trait BenchModel {
    fn get(&mut self, key: u64) -> Option<u64>;
    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)>;
    fn len(&self) -> usize;
}

/// What differs between the exercises that measure scaling.
pub struct Plan<M> {
    /// The small capacity.
    pub small: usize,
    /// The large capacity.
    pub large: usize,
    /// Batches per capacity, measured in alternation.
    pub rounds: usize,
    /// Stop early once the large batches have taken this long in all (a slow program has given its answer).
    pub large_budget: Duration,
    /// The most the large cache may cost per operation, as a multiple of the small one.
    pub ratio_limit: f64,
    /// The `new` request of an empty cache of the given capacity, and the model of that cache.
    pub new_cache: Box<dyn Fn(usize) -> (String, M)>,
    /// What a report calls the cache: "cache", "lfu cache".
    pub cache_name: String,
    /// What passed before this check, for the report of a wrong checksum.
    pub passed_before: &'static str,
    /// The rule a cost that grows with the capacity breaks.
    pub rule: String,
    /// What to do about a cost that grows with the capacity.
    pub advice: &'static str,
}

/// One program holding one full cache, and the grader's model of it.
struct Side<M> {
    capacity: usize,
    program: Stdio,
    model: M,
    best: Option<Duration>,
}

/// How one batch went.
enum Batch {
    Took(Duration),
    TimedOut,
}

/// Measures both capacities and compares their best cost per operation.
pub fn check<M: BenchModel>(g: &mut Grading, plan: &Plan<M>) -> Result<(), Failure> {
    let mut small = Side::start(g, plan, plan.small)?;
    let mut large = Side::start(g, plan, plan.large)?;
    let mut spent_on_large = Duration::ZERO;
    for round in 0..plan.rounds {
        let seed = g.rng().next_u64();
        if let Batch::TimedOut = small.batch(plan, seed, g.seed(), Duration::from_secs(5))? {
            return Err(Failure::new(format!(
                "a bench batch of {} operations at capacity {} did not finish within 5 s",
                thousands(BATCH as usize),
                plan.small
            ))
            .detail("the cache is far too slow even when small: look for a loop that never ends or restarts"));
        }
        let seed = g.rng().next_u64();
        match large.batch(plan, seed, g.seed(), BATCH_DEADLINE)? {
            Batch::Took(elapsed) => spent_on_large += elapsed,
            Batch::TimedOut => return Err(looks_linear(plan, &small, None)),
        }
        if round >= 1 && spent_on_large > plan.large_budget {
            break;
        }
    }
    match (small.best, large.best) {
        (Some(small_best), Some(large_best))
            if ratio(large_best, small_best) > plan.ratio_limit =>
        {
            Err(looks_linear(plan, &small, Some(large_best)))
        }
        _ => Ok(()),
    }
}

impl<M: BenchModel> Side<M> {
    /// Starts a program, makes a cache of `capacity` and fills it past capacity.
    fn start(g: &mut Grading, plan: &Plan<M>, capacity: usize) -> Result<Side<M>, Failure> {
        let mut program = g.stdio()?;
        let (new, mut model) = (plan.new_cache)(capacity);
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
            capacity,
            program,
            model,
            best: None,
        })
    }

    /// Runs one batch on the program and on the model, checks the checksum, keeps the best time.
    fn batch(
        &mut self,
        plan: &Plan<M>,
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
                "sent: {request}  (to a full {} of capacity {}; the batch is made of gets and puts on keys 0..{keys}, \
                 see `run_bench` in the provided code)",
                plan.cache_name,
                thousands(self.capacity)
            ))
            .detail(format!(
                "{}, so this goes wrong only on a large cache (seed {grading_seed})",
                plan.passed_before
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
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(digit);
    }
    out
}

/// The failure for a cost per operation that grows with the capacity.
fn looks_linear<M>(plan: &Plan<M>, small: &Side<M>, large_best: Option<Duration>) -> Failure {
    let (small_capacity, large_capacity) = (thousands(plan.small), thousands(plan.large));
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
    Failure::new(plan.rule.clone())
        .expected(format!(
            "about the same cost per operation at capacity {large_capacity} as at capacity {small_capacity} (at most {}× more)",
            plan.ratio_limit
        ))
        .got(got)
        .detail(format!(
            "each batch: {} gets and puts on a full cache, keys drawn from twice the capacity, so about one in four \
             operations evicts; the best of up to {} batches per capacity counts",
            thousands(BATCH as usize),
            plan.rounds
        ))
        .detail(plan.advice)
}

fn ratio(large: Duration, small: Duration) -> f64 {
    large.as_secs_f64() / small.as_secs_f64().max(1e-9)
}

/// SplitMix64, as in the exercises' provided `run_bench`.
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

/// The exercises' `bench` workload, replayed on a model: the checksum the program must answer.
pub fn run_bench(model: &mut impl BenchModel, seed: u64, ops: u64, keys: u64) -> u64 {
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

    // Capacities read as prose in reports.
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(100_000), "100 000");
        assert_eq!(thousands(1_000_016), "1 000 016");
    }
}
