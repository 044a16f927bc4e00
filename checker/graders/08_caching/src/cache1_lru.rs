//! Grader of `cache1_lru`: an LRU cache with O(1) `get` and `put`, driven over JSON lines.
//!
//! 1. Short stories, one rule each (eviction order, `get` and overwriting `put` refresh, `peek` does not,
//!    capacity 1 and 0), sent one request at a time.
//! 2. 100 000 seeded requests at capacities from 0 to 400 against the model ([`trace`]).
//! 3. Scaling: the cost per operation at capacity 100 000 against capacity 100 ([`scaling`]).
//!
//! Stories and traces list requests only: every expected reply comes from [`LruModel`](crate::lru_model::LruModel).

mod scaling;
mod trace;

use backlings_grade::{Failure, Grading, Rng};

use trace::Op;

/// Requests in the seeded trace, in all.
const TRACE_REQUESTS: usize = 100_000;

/// Grades `cache1_lru`: the stories, the seeded trace, then the scaling check.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut program = g.stdio()?;
    // Requests answered correctly so far: they rule out some diagnoses of a later mistake.
    let mut history = Vec::new();
    for (name, ops) in stories() {
        g.scenario(name);
        trace::run(&mut program, &ops, 0)
            .map_err(|mismatch| trace::explain(&history, &ops, mismatch))?;
        history.extend(ops);
    }
    drop(program);

    g.scenario("100 000 seeded requests against a model, at capacities from 0 to 400");
    let ops = seeded_trace(g.rng());
    trace::check(g, &history, &ops)?;

    g.scenario("O(1): the cost per operation at capacity 100 000 against capacity 100");
    scaling::check(g)
}

fn new(capacity: usize) -> Op {
    Op::New { capacity }
}

fn put(key: u64, value: u64) -> Op {
    Op::Put { key, value }
}

fn get(key: u64) -> Op {
    Op::Get { key }
}

fn peek(key: u64) -> Op {
    Op::Peek { key }
}

/// The short stories, in teaching order: each adds one rule to the ones before.
fn stories() -> Vec<(&'static str, Vec<Op>)> {
    vec![
        (
            "a full cache evicts the least recently used entry, and put returns it",
            vec![
                new(3),
                put(1, 10),
                put(2, 20),
                put(3, 30),
                Op::Len,
                put(4, 40),
                put(5, 50),
                get(1),
                get(2),
                Op::Len,
                put(6, 60),
            ],
        ),
        (
            "get makes an entry the most recently used",
            vec![
                new(3),
                put(1, 10),
                put(2, 20),
                put(3, 30),
                get(1),
                put(4, 40),
                get(3),
                put(5, 50),
                get(1),
                get(4),
            ],
        ),
        (
            "peek reads an entry without changing the recency order",
            vec![
                new(2),
                put(1, 10),
                put(2, 20),
                peek(1),
                put(3, 30),
                peek(1),
                peek(2),
                put(4, 40),
            ],
        ),
        (
            "a put that overwrites a key replaces its value, refreshes it and evicts nothing",
            vec![
                new(2),
                put(1, 10),
                put(2, 20),
                put(1, 11),
                Op::Len,
                put(3, 30),
                get(1),
                put(3, 31),
                put(4, 40),
            ],
        ),
        (
            "a cache of capacity 1 keeps only the last key used",
            vec![
                new(1),
                put(1, 10),
                put(1, 11),
                get(1),
                put(2, 20),
                get(1),
                get(2),
                Op::Len,
                peek(2),
                put(3, 30),
            ],
        ),
        (
            "a cache of capacity 0 stores nothing",
            vec![
                new(0),
                put(1, 10),
                get(1),
                peek(1),
                Op::Len,
                put(2, 20),
                put(1, 11),
                Op::Len,
                get(2),
            ],
        ),
    ]
}

/// Seeded runs at growing capacities: keys drawn from about twice the capacity, half of them from a hot
/// set, so there are hits, misses, overwrites and evictions, and recency decides which entry goes.
fn seeded_trace(rng: &mut Rng) -> Vec<Op> {
    let capacities = [
        0,
        1,
        2,
        3,
        rng.range(4, 8),
        rng.range(9, 32),
        rng.range(33, 128),
        rng.range(200, 400),
    ];
    // The share of the requests each run gets, in thousandths: bigger caches need longer runs to churn.
    let shares = [20, 60, 80, 100, 120, 160, 180, 280];
    let mut ops = Vec::with_capacity(TRACE_REQUESTS + capacities.len());
    for (&capacity, share) in capacities.iter().zip(shares) {
        ops.push(new(capacity as usize));
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
                45..85 => get(key),
                85..95 => peek(key),
                _ => Op::Len,
            });
        }
    }
    ops
}
