//! Grader of `cache3_strategies`: cache-aside, read-through, write-through and write-behind in front of the
//! grader's [`CountingStore`], driven over JSON lines.
//!
//! Every request is sent alone; after its reply the grader takes the calls the store received meanwhile and
//! compares both with the [`model`]: the reply (no stale read after your own write) and the exact store
//! traffic (one load per miss, none per hit, one save per write or per dirty key at the flush). Each run ends
//! with the end of input: a write-behind cache must flush before it exits, and the store must then hold
//! exactly what the model's does.
//!
//! 1. Short stories, one rule each, on a fresh program and store.
//! 2. A seeded trace per strategy over a store seeded with about half of the keys.

mod model;

use std::collections::BTreeMap;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::Value;

use crate::counting_store::{Call, CountingStore, STORE_ENV};
use model::{Model, Op, Strategy, show_calls};

/// Requests per strategy in the seeded traces.
const TRACE_REQUESTS: usize = 250;

/// Grades `cache3_strategies`: the stories, then the seeded traces.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    for (name, store, ops) in stories() {
        g.scenario(name);
        run(g, &store, &ops)?;
    }
    for strategy in Strategy::ALL {
        g.scenario(&format!(
            "{strategy}: {TRACE_REQUESTS} seeded reads, writes and ticks, store calls counted one by one"
        ));
        let (store, ops) = seeded_trace(g.rng(), strategy);
        run(g, &store, &ops)?;
    }
    Ok(())
}

/// Runs `ops` on a fresh program over a fresh store holding `initial`, then ends its input.
fn run(g: &mut Grading, initial: &BTreeMap<u64, u64>, ops: &[Op]) -> Result<(), Failure> {
    let store = CountingStore::start()?;
    for (key, value) in initial {
        store.set(&key.to_string(), &value.to_string());
    }
    let mut program = g.stdio_with(&[], &[(STORE_ENV, &store.addr())])?;
    let mut model = Model::start(initial.clone());
    for &op in ops {
        let before = model.clone();
        let (expected, expected_calls) = model.apply(op);
        let got = exchange(g, &mut program, &store, op)?;
        let calls = store.take_calls();
        for call in &calls {
            g.record("store", &call.request(), &call.answer());
        }
        let context = |failure: Failure| {
            failure
                .detail(format!("sent: {}  (at time {})", op.line(), before.now))
                .detail(describe(&before))
                .detail("the store's calls are listed after the request that caused them")
        };
        if serde_json::from_str::<Value>(&got).ok() != serde_json::from_str::<Value>(&expected).ok()
        {
            return Err(context(reply_failure(op, &before, &expected, &got)));
        }
        if calls != expected_calls {
            return Err(context(calls_failure(op, &before, &expected_calls, &calls)));
        }
    }
    let expected_calls = model.shutdown();
    let (lines, termination) = program.finish(Duration::from_secs(5))?;
    let calls = store.take_calls();
    for call in &calls {
        g.record("store", &call.request(), &call.answer());
    }
    if calls != expected_calls {
        return Err(Failure::new(
            "at the end of input a write-behind cache flushes every dirty key (one PUT per key with its latest value, \
             in ascending key order) before the program exits: an acknowledged write that never reaches the store is \
             lost",
        )
        .expected(show_calls(&expected_calls))
        .got(show_calls(&calls))
        .detail(describe(&model))
        .detail("the provided `main` calls `shutdown` when stdin ends"));
    }
    if !termination.is_success() || !lines.is_empty() {
        return Err(Failure::new(
            "at the end of input the program exits cleanly, printing nothing more",
        )
        .expected("exit code 0, no more output")
        .got(format!(
            "{}; {} more line(s)",
            termination.describe(),
            lines.len()
        )));
    }
    let held: BTreeMap<String, String> = model
        .store
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let contents = store.contents();
    if contents != held {
        return Err(Failure::new(
            "after the shutdown, the store holds the latest value written for every key",
        )
        .expected(format!("{held:?}"))
        .got(format!("{contents:?}")));
    }
    Ok(())
}

/// Sends one request and reads its reply line.
fn exchange(
    g: &mut Grading,
    program: &mut Stdio,
    store: &CountingStore,
    op: Op,
) -> Result<String, Failure> {
    program.send_line(&op.line())?;
    match program.recv_line() {
        Ok(line) => Ok(line),
        Err(failure) => {
            // Show what reached the store before the program stopped answering.
            for call in store.take_calls() {
                g.record("store", &call.request(), &call.answer());
            }
            Err(failure)
        }
    }
}

/// The failure for a reply that is not the contract's.
fn reply_failure(op: Op, before: &Model, expected: &str, got: &str) -> Failure {
    let rule = match op {
        Op::Read { key } => match before.written.get(&key) {
            Some(&latest) => format!(
                "no stale read: a read returns the latest value written for the key ({latest}, by your own write), \
                 never an older one, whatever the strategy"
            ),
            None => "a read returns the value the store holds for the key (from the cache or by a load), or null when \
                     the store has none"
                .to_string(),
        },
        Op::Write { .. } | Op::New { .. } => r#"this request answers {"ok":true}"#.to_string(),
        Op::Tick { .. } => "tick moves the fake clock forward and answers the new time".to_string(),
    };
    Failure::new(rule).expected(expected).got(got)
}

/// The failure for store calls that are not the contract's.
fn calls_failure(op: Op, before: &Model, expected: &[Call], got: &[Call]) -> Failure {
    let strategy = before.strategy;
    let mut failure = Failure::new(match op {
        Op::Read { key }
            if expected.is_empty()
                && matches!(strategy, Strategy::WriteThrough | Strategy::WriteBehind)
                && before.written.contains_key(&key) =>
        {
            format!(
                "{strategy}: a write updates the cache, so the next read of the key is a hit, without calling the \
                 store (key {key} was written before)"
            )
        }
        Op::Read { key } if expected.is_empty() => format!(
            "{strategy}: a read of a cached key is served from the cache, without calling the store (key {key} is \
             cached: it was loaded or written before)"
        ),
        Op::Read { key }
            if matches!(strategy, Strategy::CacheAside | Strategy::ReadThrough)
                && before.written.contains_key(&key) =>
        {
            format!(
                "{strategy}: a write removes the cached entry (it does not update it), so the next read of the key \
                 loads it from the store: one GET"
            )
        }
        Op::Read { key } if !before.store.contains_key(&key) => format!(
            "a key the store does not have is not cached: every read of it asks the store (one GET {key} → NONE)"
        ),
        Op::Read { .. } => "a read of a key that is not cached loads it from the store: exactly one GET".to_string(),
        Op::Write { .. } => match strategy {
            Strategy::CacheAside | Strategy::ReadThrough => format!(
                "a {strategy} write saves to the store (exactly one PUT) before it answers, then removes the cached entry"
            ),
            Strategy::WriteThrough => {
                "a write-through write saves to the store (exactly one PUT) before it answers, and updates the cache"
                    .to_string()
            }
            Strategy::WriteBehind => "a write-behind write never calls the store: it updates the cache and marks the \
                                      key dirty until the flush"
                .to_string(),
        },
        Op::Tick { .. } => match before.first_dirty_at {
            Some(first) => format!(
                "write-behind: once the oldest unflushed write is flush_ms ({} ms) old, a tick flushes every dirty key: \
                 one PUT per key with its latest value, in ascending key order (the oldest unflushed write was at {first} \
                 ms, so the flush is due at {} ms; now is {} ms)",
                before.flush_ms,
                first.saturating_add(before.flush_ms),
                before.now + tick_ms(op)
            ),
            None => "a tick with nothing dirty calls the store for nothing".to_string(),
        },
        Op::New { .. } => {
            "new shuts the previous cache down first: a write-behind cache flushes its dirty keys".to_string()
        }
    })
    .expected(show_calls(expected))
    .got(show_calls(got));
    let puts_per_key = |calls: &[Call]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for call in calls {
            if let Call::Put { key, .. } = call {
                *counts.entry(key.clone()).or_default() += 1;
            }
        }
        counts
    };
    if let Some((key, count)) = puts_per_key(got).into_iter().find(|&(_, count)| count > 1)
        && strategy == Strategy::WriteBehind
    {
        failure = failure.detail(format!(
                "the store received {count} PUTs for key {key}: writes to one key must coalesce into one save of its \
                 latest value"
            ));
    }
    if got.iter().any(|call| matches!(call, Call::Bad { .. })) {
        failure = failure.detail(
            "the store answered ERROR: its requests are `GET k` and `PUT k v`, one per line",
        );
    }
    failure
}

fn tick_ms(op: Op) -> u64 {
    match op {
        Op::Tick { ms } => ms,
        _ => 0,
    }
}

/// The cache and the store before the failing request, for the report.
fn describe(model: &Model) -> String {
    let map = |map: &BTreeMap<u64, u64>| {
        map.iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "{} cache before it: cached {{{}}}; store {{{}}}",
        model.strategy,
        map(&model.cache),
        map(&model.store)
    );
    if model.strategy == Strategy::WriteBehind {
        let dirty: Vec<String> = model.dirty.iter().map(u64::to_string).collect();
        text.push_str(&format!(
            "; dirty [{}]; flush_ms {}{}",
            dirty.join(", "),
            model.flush_ms,
            model
                .first_dirty_at
                .map(|first| format!(", oldest unflushed write at {first} ms"))
                .unwrap_or_default()
        ));
    }
    text
}

fn new(strategy: Strategy) -> Op {
    Op::New {
        strategy,
        flush_ms: 0,
    }
}

fn write_behind(flush_ms: u64) -> Op {
    Op::New {
        strategy: Strategy::WriteBehind,
        flush_ms,
    }
}

fn read(key: u64) -> Op {
    Op::Read { key }
}

fn write(key: u64, value: u64) -> Op {
    Op::Write { key, value }
}

fn tick(ms: u64) -> Op {
    Op::Tick { ms }
}

type Story = (&'static str, BTreeMap<u64, u64>, Vec<Op>);

/// The short stories, in teaching order.
fn stories() -> Vec<Story> {
    use Strategy::{CacheAside, ReadThrough, WriteThrough};
    let store = |pairs: &[(u64, u64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
    vec![
        (
            "cache-aside: a miss loads once, then reads are hits; a key the store lacks is not cached",
            store(&[(1, 10), (2, 20)]),
            vec![
                new(CacheAside),
                read(1),
                read(1),
                read(2),
                read(1),
                read(9),
                read(9),
                read(2),
            ],
        ),
        (
            "cache-aside: a write saves, then invalidates, so the next read loads the new value",
            store(&[(1, 10)]),
            vec![
                new(CacheAside),
                read(1),
                write(1, 11),
                read(1),
                read(1),
                write(5, 50),
                read(5),
                read(5),
            ],
        ),
        (
            "read-through: the same traffic as cache-aside, the loading done by the cache",
            store(&[(1, 10), (2, 20)]),
            vec![
                new(ReadThrough),
                read(1),
                read(1),
                write(1, 12),
                read(1),
                read(2),
                write(3, 30),
                read(3),
            ],
        ),
        (
            "write-through: a write saves and updates the cache, so the next read is a hit",
            store(&[(1, 10)]),
            vec![
                new(WriteThrough),
                read(1),
                write(1, 11),
                read(1),
                write(4, 40),
                read(4),
                read(4),
            ],
        ),
        (
            "write-behind: writes stay in the cache until the flush, and a read of a dirty key is a hit",
            store(&[(1, 10)]),
            vec![
                write_behind(100),
                read(1),
                write(1, 11),
                read(1),
                write(2, 20),
                read(2),
                tick(50),
                tick(49),
                read(1),
                tick(1),
                read(1),
                read(2),
            ],
        ),
        (
            "write-behind: repeated writes coalesce into one save per key, in ascending key order",
            store(&[]),
            vec![
                write_behind(100),
                write(5, 1),
                write(3, 1),
                write(5, 2),
                write(5, 3),
                write(3, 2),
                tick(100),
                write(5, 4),
                tick(99),
                tick(1),
                tick(500),
            ],
        ),
        (
            "write-behind: the flush is due flush_ms after the oldest unflushed write, not the latest",
            store(&[]),
            vec![
                write_behind(100),
                write(1, 1),
                tick(60),
                write(2, 2),
                tick(40),
                tick(60),
                write(3, 3),
                tick(60),
                write(4, 4),
                tick(40),
            ],
        ),
        (
            "write-behind: the end of input flushes every dirty key before the program exits",
            store(&[(1, 10)]),
            vec![
                write_behind(1_000),
                write(2, 20),
                write(1, 11),
                write(2, 21),
                read(2),
                tick(999),
            ],
        ),
    ]
}

/// A seeded run of one strategy: keys 0..12, about half of them in the store at the start.
fn seeded_trace(rng: &mut Rng, strategy: Strategy) -> (BTreeMap<u64, u64>, Vec<Op>) {
    let keys = 12;
    let store = (0..keys)
        .filter(|_| rng.chance(1, 2))
        .map(|key| (key, 1_000 + key))
        .collect();
    let flush_ms = rng.range(20, 200);
    let mut ops = vec![Op::New { strategy, flush_ms }];
    for _ in 0..TRACE_REQUESTS {
        let key = rng.below(keys);
        ops.push(match rng.below(100) {
            0..50 => read(key),
            50..82 => write(key, rng.below(1_000_000)),
            _ => tick(rng.below(flush_ms * 2 / 3 + 1)),
        });
    }
    (store, ops)
}
