//! Grader of `cache2_eviction_policies`: LFU, FIFO and TTL caches behind one trait, driven over JSON lines.
//!
//! 1. Short stories, one rule each (LFU counts and tie-break, FIFO order, TTL expiry, overwrite, sweep, the
//!    soonest-expiry victim, capacity 0), each on a fresh program with the fake clock at 0.
//! 2. Seeded traces per policy at capacities from 1 to 40 against the model ([`trace`]), TTL with ticks and
//!    sweeps.
//! 3. Scaling of LFU and TTL: the cost per operation at 50 000 entries against 100 ([`scaling`]).
//!
//! Stories and traces list requests only: every expected reply comes from the [`model`].

mod model;
mod scaling;
mod trace;

use backlings_grade::{Failure, Grading, Rng};

use model::{Model, Policy};
use trace::Op;

/// Requests per policy in the seeded traces.
const TRACE_REQUESTS: usize = 12_000;

/// Grades `cache2_eviction_policies`: the stories, the seeded traces, then the scaling checks.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    // Runs answered correctly so far: they rule out some diagnoses of a later mistake.
    let mut history: Vec<Vec<Op>> = Vec::new();
    for (name, ops) in stories() {
        g.scenario(name);
        let mut program = g.stdio()?;
        trace::run(&mut program, &Model::start(None), &ops, 0)
            .map_err(|mismatch| trace::explain(&history, &ops, mismatch))?;
        history.push(ops);
    }

    for policy in [Policy::Lfu, Policy::Fifo, Policy::Ttl] {
        g.scenario(&format!(
            "{} seeded requests on {} caches against a model, at capacities from 1 to 40",
            TRACE_REQUESTS,
            policy.to_string().to_uppercase()
        ));
        let ops = seeded_trace(g.rng(), policy);
        trace::check(g, &history, &ops)?;
        history.push(ops);
    }

    for policy in [Policy::Lfu, Policy::Ttl] {
        g.scenario(&format!(
            "{}: the cost per operation at 50 000 entries against 100",
            policy.to_string().to_uppercase()
        ));
        scaling::check(g, policy)?;
    }
    Ok(())
}

fn new(policy: Policy, capacity: usize) -> Op {
    Op::New {
        policy,
        capacity,
        ttl_ms: 0,
    }
}

fn new_ttl(capacity: usize, ttl_ms: u64) -> Op {
    Op::New {
        policy: Policy::Ttl,
        capacity,
        ttl_ms,
    }
}

fn put(key: u64, value: u64) -> Op {
    Op::Put { key, value }
}

fn get(key: u64) -> Op {
    Op::Get { key }
}

fn tick(ms: u64) -> Op {
    Op::Tick { ms }
}

/// The short stories, in teaching order: each adds one rule to the ones before.
fn stories() -> Vec<(&'static str, Vec<Op>)> {
    use Policy::{Fifo, Lfu};
    vec![
        (
            "LFU evicts the least frequently used entry, even a recently used one",
            vec![
                new(Lfu, 3),
                put(1, 10),
                put(2, 20),
                put(3, 30),
                get(1),
                get(1),
                get(2),
                get(2),
                get(3),
                Op::Len,
                put(4, 40),
                get(3),
                get(4),
                get(4),
                get(4),
                put(5, 50),
                Op::Len,
            ],
        ),
        (
            "LFU breaks ties by least recent use, and a new key is the next victim",
            vec![
                new(Lfu, 3),
                put(1, 10),
                put(2, 20),
                put(3, 30),
                put(4, 40),
                get(1),
                put(5, 50),
                new(Lfu, 2),
                put(1, 10),
                get(1),
                put(2, 20),
                put(3, 30),
                get(3),
                put(4, 40),
                get(3),
                put(5, 50),
            ],
        ),
        (
            "an LFU put that overwrites a key is a use too",
            vec![
                new(Lfu, 2),
                put(1, 10),
                put(2, 20),
                put(1, 11),
                put(3, 30),
                get(1),
                get(2),
                put(3, 31),
                put(3, 32),
                put(4, 40),
                get(3),
            ],
        ),
        (
            "FIFO evicts in insertion order: gets and overwrites do not reorder",
            vec![
                new(Fifo, 3),
                put(1, 10),
                put(2, 20),
                put(3, 30),
                get(1),
                get(1),
                put(1, 11),
                put(4, 40),
                get(2),
                put(5, 50),
                get(1),
                Op::Len,
                put(6, 60),
            ],
        ),
        (
            "TTL: an entry expires ttl_ms after its put, and a get of an expired entry misses and removes it",
            vec![
                new_ttl(4, 100),
                put(1, 10),
                tick(60),
                put(2, 20),
                tick(39),
                get(1),
                tick(1),
                Op::Len,
                get(1),
                Op::Len,
                tick(59),
                get(2),
                tick(1),
                get(2),
                Op::Len,
            ],
        ),
        (
            "TTL: a put that overwrites a key restarts its TTL",
            vec![
                new_ttl(4, 100),
                put(1, 10),
                tick(80),
                put(1, 11),
                tick(50),
                get(1),
                tick(49),
                get(1),
                tick(1),
                get(1),
            ],
        ),
        (
            "TTL: sweep frees every expired entry at once, keys in ascending order",
            vec![
                new_ttl(8, 100),
                put(5, 50),
                put(3, 30),
                tick(10),
                put(9, 90),
                put(1, 10),
                tick(90),
                Op::Len,
                Op::Sweep,
                Op::Len,
                Op::Sweep,
                tick(9),
                Op::Sweep,
                tick(1),
                Op::Sweep,
                Op::Len,
            ],
        ),
        (
            "TTL: a full cache evicts the entry that expires soonest, expired or not",
            vec![
                new_ttl(3, 100),
                put(1, 10),
                tick(10),
                put(2, 20),
                tick(10),
                put(3, 30),
                tick(10),
                put(1, 11),
                put(4, 40),
                tick(85),
                put(5, 50),
                tick(20),
                put(6, 60),
                Op::Len,
                get(4),
                Op::Len,
            ],
        ),
        (
            "a cache of capacity 0 stores nothing, whatever the policy",
            vec![
                new(Lfu, 0),
                put(1, 10),
                get(1),
                Op::Len,
                new(Fifo, 0),
                put(1, 10),
                get(1),
                Op::Len,
                new_ttl(0, 100),
                put(1, 10),
                get(1),
                Op::Len,
                Op::Sweep,
            ],
        ),
    ]
}

/// Seeded runs of one policy at growing capacities: keys from about twice the capacity, half of them from a
/// hot set (so LFU counts differ), TTL runs with ticks of up to half a TTL and sweeps.
fn seeded_trace(rng: &mut Rng, policy: Policy) -> Vec<Op> {
    let capacities = [1, 2, 3, rng.range(4, 8), rng.range(9, 40)];
    let shares = [100, 150, 200, 250, 300];
    let mut ops = Vec::with_capacity(TRACE_REQUESTS + capacities.len());
    for (&capacity, share) in capacities.iter().zip(shares) {
        let ttl_ms = rng.range(20, 200);
        ops.push(Op::New {
            policy,
            capacity: capacity as usize,
            ttl_ms: if policy == Policy::Ttl { ttl_ms } else { 0 },
        });
        let keys = 2 * capacity + 2;
        let hot = capacity / 2 + 1;
        for _ in 0..TRACE_REQUESTS * share / 1000 {
            let key = if rng.chance(1, 2) {
                rng.below(hot)
            } else {
                rng.below(keys)
            };
            ops.push(match rng.below(100) {
                0..45 => put(key, rng.below(1_000_000)),
                45..88 => get(key),
                88..92 => Op::Len,
                92..97 if policy == Policy::Ttl => tick(rng.below(ttl_ms / 2 + 1)),
                92..97 => get(key),
                _ => Op::Sweep,
            });
        }
    }
    ops
}
