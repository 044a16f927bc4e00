//! Grader of `cache4_invalidation_stampede`: TTL with jitter, stale-while-revalidate, tags, versioned keys, whole
//! and fragment caching, and single-flight, in front of the grader's [`CountingStore`].
//!
//! 1. Short stories, one request at a time, compared with the [`model`]: every reply, and the exact store calls
//!    each request causes (the grader sends `join` after every request, so a background refresh is counted with
//!    the request that started it).
//! 2. Stories under a held store ([`concurrent`]): the store parks every `GET` until the grader releases it, so
//!    stale-while-revalidate must answer without waiting, 100 concurrent misses must pile up on one load, and a
//!    load that read the store before a write must not put its old value back.
//! 3. Seeded traces against the model, with another writer changing the store behind the cache's back.

mod concurrent;
mod model;

use std::collections::BTreeMap;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use crate::counting_store::{Call, CountingStore, STORE_ENV};
use model::{Config, Freshness, Model, Op, show_calls, sort_calls};

/// Requests per seeded trace.
const TRACE_REQUESTS: usize = 220;

/// Grades `cache4_invalidation_stampede`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    for (name, store, ops) in stories() {
        g.scenario(name);
        run(g, &store, &ops)?;
    }
    concurrent::stale_while_revalidate(g)?;
    concurrent::single_flight(g)?;
    concurrent::write_during_a_load(g)?;
    for round in 0..2 {
        let (store, ops) = seeded_trace(g.rng(), round);
        let Some(Op::New(config)) = ops.first() else {
            unreachable!("a trace starts with new")
        };
        g.scenario(&format!(
            "{TRACE_REQUESTS} seeded requests (ttl_ms {}, jitter_ms {}, swr_ms {}), another writer changing the store",
            config.ttl_ms, config.jitter_ms, config.swr_ms
        ));
        run(g, &store, &ops)?;
    }
    Ok(())
}

/// Starts the program over a fresh store holding `initial`.
fn start(
    g: &mut Grading,
    initial: &BTreeMap<String, String>,
) -> Result<(CountingStore, Stdio), Failure> {
    let store = CountingStore::start()?;
    for (key, value) in initial {
        store.set(key, value);
    }
    let program = g.stdio_with(&[], &[(STORE_ENV, &store.addr())])?;
    Ok((store, program))
}

/// Sends `request`, reads its reply and parses it.
fn ask(program: &mut Stdio, request: &str) -> Result<Value, Failure> {
    program.send_line(request)?;
    let line = program.recv_line()?;
    serde_json::from_str(&line).map_err(|_| {
        Failure::new("every reply is one JSON line")
            .got(line)
            .detail("stdout carries the protocol only: print debug output with eprintln!")
    })
}

/// Takes the store's calls, records them in the transcript, and sorts them.
fn take_calls(g: &Grading, store: &CountingStore) -> Vec<Call> {
    let mut calls = store.take_calls();
    // Identical calls in a row (a stampede) are one line of the transcript, with their count.
    for run in calls.chunk_by(|a, b| a == b) {
        let request = match run.len() {
            1 => run[0].request(),
            n => format!("{}  (×{n})", run[0].request()),
        };
        g.record("store", &request, &run[0].answer());
    }
    sort_calls(&mut calls);
    calls
}

/// Runs `ops` one at a time on a fresh program and store, each followed by `join`, against the model.
fn run(g: &mut Grading, initial: &BTreeMap<String, String>, ops: &[Op]) -> Result<(), Failure> {
    let (store, mut program) = start(g, initial)?;
    let mut model = Model::start(initial.clone());
    for op in ops {
        let before = model.clone();
        let (expected, expected_calls) = model.apply(op);
        let (Some(expected), Some(line)) = (expected, op.line()) else {
            if let Op::Set { key, value } = op {
                store.set(key, value);
                g.record(
                    "store",
                    &format!("(another writer sets {key} = {value})"),
                    "",
                );
            }
            continue;
        };
        let got = ask(&mut program, &line)?;
        let joined = ask(&mut program, r#"{"op":"join"}"#)?;
        let calls = take_calls(g, &store);
        let context = |failure: Failure| {
            describe(&before, op).into_iter().fold(
                failure.detail(format!("sent: {line}  (at {} ms)", before.now)),
                Failure::detail,
            )
        };
        if got != expected {
            return Err(context(
                explain(op, &before, &model, true)
                    .expected(expected.to_string())
                    .got(got.to_string()),
            ));
        }
        if joined != json!({"values": []}) {
            return Err(Failure::new(
                r#"join waits for the background refreshes and answers {"values":[]} when no thread was spawned"#,
            )
            .got(joined.to_string()));
        }
        if calls != expected_calls {
            return Err(context(
                explain(op, &before, &model, false)
                    .expected(show_calls(&expected_calls))
                    .got(show_calls(&calls)),
            )
            .detail(
                "the store calls shown are those of this request and of the refreshes it started",
            ));
        }
    }
    let (_, termination) = program.finish(Duration::from_secs(5))?;
    if !termination.is_success() {
        return Err(
            Failure::new("at the end of input the program exits cleanly")
                .expected("exit code 0")
                .got(termination.describe()),
        );
    }
    Ok(())
}

/// The rule a mismatch breaks, in plain words; `reply` tells a wrong reply from wrong store calls.
fn explain(op: &Op, before: &Model, after: &Model, reply: bool) -> Failure {
    match op {
        Op::Get { key, .. } => {
            let cache_key = before.versioned(key);
            explain_lookup(before, after, key, &cache_key, reply, &format!("`{key}`"))
        }
        Op::Page { id } => {
            let cache_key = before.page_key(*id);
            let (_, freshness) = before.lookup(&cache_key);
            let older = before.entries.keys().any(|k| {
                k.starts_with(&format!("{}|", before.versioned(&format!("page:{id}"))))
                    && *k != cache_key
            });
            if freshness == Freshness::Absent && older {
                return Failure::new(format!(
                    "a page's cache key embeds the versions of the product and reviews namespaces (now {}): after a \
                     bump, the page built on the old version is not served; it is rendered again from its fragments",
                    cache_key
                ));
            }
            explain_lookup(
                before,
                after,
                &format!("page:{id}"),
                &cache_key,
                reply,
                &format!("page {id}"),
            )
        }
        Op::Write { key, .. } => Failure::new(format!(
            "a write is one PUT to the store, then drops every entry tagged `{key}` (the key itself, and every page \
             built on it)"
        )),
        Op::Purge { tag } => Failure::new(format!(
            "a purge drops the entries tagged `{tag}` without calling the store, and answers {{\"ok\":true}}"
        )),
        Op::Bump { namespace } => Failure::new(format!(
            "bump answers the new version of `{namespace}`: versions start at 1 and go up by one, and a bump calls \
             the store for nothing"
        )),
        Op::Tick { .. } => Failure::new(
            "tick moves the fake clock and answers the new time, calling the store for nothing",
        ),
        Op::New(_) => Failure::new(r#"new starts an empty cache and answers {"ok":true}"#),
        Op::Set { .. } => unreachable!("not sent"),
    }
}

/// The rule for a `get` or a `page`, from what the lookup finds.
fn explain_lookup(
    before: &Model,
    after: &Model,
    key: &str,
    cache_key: &str,
    reply: bool,
    what: &str,
) -> Failure {
    let (entry, freshness) = before.lookup(cache_key);
    match freshness {
        Freshness::Fresh => {
            let entry = entry.expect("a fresh entry exists");
            if !reply && before.now >= entry.stored_at + before.config.ttl_ms {
                return Failure::new(format!(
                    "an entry lives ttl_ms plus its key's jitter, fnv1a64(key) % (jitter_ms + 1): at {} ms {what} is \
                     still fresh, so it is served without calling the store",
                    before.now
                ));
            }
            let mut failure = Failure::new(format!(
                "a fresh entry is served from the cache, without calling the store ({what} is fresh until {} ms)",
                entry.stored_at + entry.ttl_ms
            ));
            if let Some(tag) = before
                .last_purge
                .as_ref()
                .filter(|tag| !entry.tags.contains(tag))
            {
                failure = failure.detail(format!(
                    "a purge drops only the entries tagged with its tag: the last purge was of `{tag}`, and this \
                     entry's tags are [{}], so it stays cached",
                    entry.tags.join(", ")
                ));
            }
            failure
        }
        Freshness::Stale => Failure::new(format!(
            "stale-while-revalidate: past its TTL but within swr_ms, {what} is served at once with its cached \
             value, and refreshed in the background: one load, whose result replaces the entry"
        )),
        Freshness::Gone => Failure::new(format!(
            "past its TTL and its stale window ({} ms after it was stored), {what} is not served: the read loads it \
             again and returns the fresh value",
            entry.map_or(0, |e| e.ttl_ms) + before.config.swr_ms
        )),
        Freshness::Absent => match before.written.get(key) {
            Some(latest) if reply => Failure::new(format!(
                "no stale read after a committed write: a read returns the value of the latest write of `{key}` \
                 ({latest}), never an older one"
            )),
            _ if before.dropped_by.contains_key(cache_key) => Failure::new(format!(
                "{what} was dropped by {} (it carried that tag), so the read loads it again and returns the store's \
                 value",
                before.dropped_by[cache_key]
            )),
            _ if after.store.contains_key(key) || key.starts_with("page:") => {
                Failure::new(format!(
                    "{what} is not cached (never loaded, or dropped by a write, a purge or a bump): the read loads it \
                 and returns it; a page is rendered from its two fragments, each through get"
                ))
            }
            _ => Failure::new(format!(
                "a key the store does not have is not cached: every read of `{key}` asks the store again, and \
                 answers null"
            )),
        },
    }
}

/// The state the failing request met, for the report.
fn describe(model: &Model, op: &Op) -> Vec<String> {
    let config = model.config;
    let mut lines = vec![format!(
        "config: ttl_ms {}, jitter_ms {}, swr_ms {}; lifetime of a key = ttl_ms + fnv1a64(key) % (jitter_ms + 1)",
        config.ttl_ms, config.jitter_ms, config.swr_ms
    )];
    let (key, cache_key) = match op {
        Op::Get { key, .. } => (key.clone(), model.versioned(key)),
        Op::Page { id } => (format!("page:{id}"), model.page_key(*id)),
        _ => return lines,
    };
    match model.entries.get(&cache_key) {
        Some(entry) => {
            let expires = entry.stored_at + entry.ttl_ms;
            lines.push(format!(
                "{key} was cached (as {cache_key}, value {}, tags [{}]) at {} ms with a lifetime of {} ms (ttl_ms {} + \
                 jitter {}): fresh until {expires} ms, stale until {} ms",
                entry.value,
                entry.tags.join(", "),
                entry.stored_at,
                entry.ttl_ms,
                config.ttl_ms,
                entry.ttl_ms - config.ttl_ms,
                expires + config.swr_ms
            ));
        }
        None => lines.push(format!(
            "{key} is not cached (its cache key now: {cache_key})"
        )),
    }
    lines.push(format!(
        "the store holds {key} = {}",
        model
            .store
            .get(&key)
            .map_or("nothing".to_string(), Clone::clone)
    ));
    lines
}

fn new(ttl_ms: u64, jitter_ms: u64, swr_ms: u64) -> Op {
    Op::New(Config {
        ttl_ms,
        jitter_ms,
        swr_ms,
    })
}

fn get(key: &str) -> Op {
    Op::Get {
        key: key.into(),
        tags: vec![],
    }
}

fn get_tagged(key: &str, tags: &[&str]) -> Op {
    Op::Get {
        key: key.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn page(id: u64) -> Op {
    Op::Page { id }
}

fn write(key: &str, value: &str) -> Op {
    Op::Write {
        key: key.into(),
        value: value.into(),
    }
}

fn set(key: &str, value: &str) -> Op {
    Op::Set {
        key: key.into(),
        value: value.into(),
    }
}

fn purge(tag: &str) -> Op {
    Op::Purge { tag: tag.into() }
}

fn bump(namespace: &str) -> Op {
    Op::Bump {
        namespace: namespace.into(),
    }
}

fn tick(ms: u64) -> Op {
    Op::Tick { ms }
}

type Story = (&'static str, BTreeMap<String, String>, Vec<Op>);

fn store(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The short stories, in teaching order.
fn stories() -> Vec<Story> {
    vec![
        (
            "a miss loads once, then reads are hits; a key the store lacks is not cached",
            store(&[("product:1", "p1"), ("reviews:1", "r1")]),
            vec![
                new(10_000, 0, 0),
                get("product:1"),
                get("product:1"),
                get("reviews:1"),
                get("product:9"),
                get("product:9"),
                get("product:1"),
            ],
        ),
        (
            "keys cached together expire apart: each lives ttl_ms + fnv1a64(key) % (jitter_ms + 1)",
            (1..=8)
                .map(|id| (format!("product:{id}"), format!("p{id}")))
                .collect(),
            jitter_story(),
        ),
        (
            "stale-while-revalidate: a stale entry is served, refreshed once, then fresh; past the window a read loads",
            store(&[("product:1", "p1")]),
            vec![
                new(100, 0, 100),
                get("product:1"),
                set("product:1", "p1b"),
                tick(99),
                get("product:1"),
                tick(1),
                get("product:1"),
                get("product:1"),
                set("product:1", "p1c"),
                tick(199),
                get("product:1"),
                set("product:1", "p1d"),
                tick(1),
                get("product:1"),
                tick(50),
                get("product:1"),
            ],
        ),
        (
            "a purge drops exactly the entries carrying its tag, and the tags are those of the storing read",
            store(&[
                ("product:1", "p1"),
                ("product:2", "p2"),
                ("product:3", "p3"),
                ("reviews:1", "r1"),
            ]),
            vec![
                new(10_000, 0, 0),
                get_tagged("product:1", &["home"]),
                get_tagged("product:2", &["home", "sale"]),
                get("product:3"),
                get_tagged("reviews:1", &["sale"]),
                set("product:1", "p1b"),
                set("product:2", "p2b"),
                set("product:3", "p3b"),
                set("reviews:1", "r1b"),
                purge("home"),
                get("product:1"),
                get("product:3"),
                get("reviews:1"),
                get("product:2"),
                purge("sale"),
                get("reviews:1"),
                get("product:2"),
                purge("product:3"),
                get("product:3"),
            ],
        ),
        (
            "whole and fragment caching: a page is cached whole, and a write reloads only the fragment it changed",
            store(&[
                ("product:1", "p1"),
                ("reviews:1", "r1"),
                ("product:2", "p2"),
            ]),
            vec![
                new(10_000, 0, 0),
                page(1),
                page(1),
                get("product:1"),
                write("reviews:1", "r1b"),
                page(1),
                page(1),
                write("product:1", "p1b"),
                get("product:1"),
                page(1),
                page(2),
                page(2),
                get("reviews:2"),
            ],
        ),
        (
            "versioned keys: a bump misses every key of the namespace and every page built on it, and nothing else",
            store(&[
                ("product:1", "p1"),
                ("reviews:1", "r1"),
                ("product:2", "p2"),
                ("reviews:2", "r2"),
                ("user:1", "u1"),
            ]),
            vec![
                new(10_000, 0, 0),
                page(1),
                page(2),
                get("user:1"),
                set("reviews:1", "r1b"),
                set("reviews:2", "r2b"),
                set("product:1", "p1b"),
                bump("reviews"),
                page(1),
                get("reviews:2"),
                page(2),
                get("user:1"),
                get("product:1"),
                bump("product"),
                page(1),
                bump("reviews"),
                bump("page"),
                page(2),
            ],
        ),
    ]
}

/// Eight keys cached at 0 ms; at each expiry, the key is read one millisecond before (a hit) and at it (a load).
fn jitter_story() -> Vec<Op> {
    let config = Config {
        ttl_ms: 1_000,
        jitter_ms: 500,
        swr_ms: 0,
    };
    let mut ops = vec![Op::New(config)];
    let mut expiries: Vec<(u64, String)> = (1..=8)
        .map(|id| {
            let key = format!("product:{id}");
            (config.ttl(&key), key)
        })
        .collect();
    expiries.sort();
    ops.extend(expiries.iter().map(|(_, key)| get(key)));
    let mut now = 0;
    for (expiry, key) in &expiries {
        if *expiry > now + 1 {
            ops.push(tick(expiry - 1 - now));
            now = expiry - 1;
        }
        ops.push(get(key));
        ops.push(tick(1));
        now += 1;
        ops.push(get(key));
    }
    ops
}

/// A seeded run: three namespaces of six ids, pages over them, and another writer.
fn seeded_trace(rng: &mut Rng, round: u64) -> (BTreeMap<String, String>, Vec<Op>) {
    let namespaces = ["product", "reviews", "user"];
    let tags = ["home", "sale", "top"];
    let bumped = ["product", "reviews", "user", "page"];
    let ids = 6;
    let mut initial = BTreeMap::new();
    for namespace in namespaces {
        for id in 0..ids {
            if rng.chance(9, 10) {
                initial.insert(
                    format!("{namespace}:{id}"),
                    format!("{}{id}", &namespace[..1]),
                );
            }
        }
    }
    let config = Config {
        ttl_ms: rng.range(100, 300),
        jitter_ms: if round == 0 { rng.range(20, 150) } else { 0 },
        swr_ms: if round == 0 {
            rng.range(50, 200)
        } else {
            rng.range(0, 1) * 100
        },
    };
    let mut ops = vec![Op::New(config)];
    let mut counter = 0;
    for _ in 0..TRACE_REQUESTS {
        let key = format!("{}:{}", rng.pick(&namespaces), rng.below(ids));
        counter += 1;
        let value = format!("{}{}", &key[..1], counter);
        ops.push(match rng.below(100) {
            0..30 => {
                let chosen: Vec<&str> = tags.iter().copied().filter(|_| rng.chance(1, 4)).collect();
                get_tagged(&key, &chosen)
            }
            30..45 => page(rng.below(ids)),
            45..53 => write(&key, &value),
            53..65 => set(&key, &value),
            65..71 => {
                let tag = if rng.chance(1, 2) {
                    rng.pick(&tags).to_string()
                } else {
                    key
                };
                purge(&tag)
            }
            71..75 => {
                let namespace = *rng.pick(&bumped);
                bump(namespace)
            }
            _ => tick(rng.below(config.ttl_ms / 2 + 1)),
        });
    }
    (initial, ops)
}
