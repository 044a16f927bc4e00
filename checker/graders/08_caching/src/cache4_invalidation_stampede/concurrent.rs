//! The stories of `cache4_invalidation_stampede` that need a slow store: the [`CountingStore`] holds every `GET`
//! until the grader releases it, so the program's threads pile up in a known state. What is checked never
//! depends on a sleep: a correct program gives the same answers and the same store calls whatever the timing.
//! The only waits are bounded ones for something that must happen (all spawned readers have arrived; a `GET`
//! has reached the store) and, for a wrong program, a short grace for the extra loads it would make.

use std::thread;
use std::time::{Duration, Instant};

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use super::model::show_calls;
use super::{ask, start, store, take_calls};
use crate::counting_store::{Call, CountingStore};

/// How long a bounded wait for something that must happen may take.
const MUST_HAPPEN: Duration = Duration::from_secs(5);
/// How long a wrong program gets to make the extra loads it would make.
const GRACE: Duration = Duration::from_millis(200);
/// How long a reply that must not wait for the store may take.
const AT_ONCE: Duration = Duration::from_secs(2);

/// Stale-while-revalidate with the refresh held: the stale value comes back at once, twice, with one refresh.
pub fn stale_while_revalidate(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "stale-while-revalidate under a slow store: the stale value is served at once, one refresh runs in the background",
    );
    let (store, mut program) = start(g, &store(&[("product:1", "p1")]))?;
    expect(
        &mut program,
        r#"{"op":"new","ttl_ms":1000,"jitter_ms":0,"swr_ms":5000}"#,
        json!({"ok": true}),
    )?;
    expect(
        &mut program,
        r#"{"op":"get","key":"product:1"}"#,
        json!({"value": "p1"}),
    )?;
    expect(
        &mut program,
        r#"{"op":"tick","ms":1000}"#,
        json!({"now": 1000}),
    )?;
    take_calls(g, &store);
    store.set("product:1", "p1b");
    g.record(
        "store",
        "(another writer sets product:1 = p1b; the grader now holds every GET)",
        "",
    );
    store.hold_gets();
    for attempt in ["first", "second"] {
        let got = ask_at_once(&mut program, r#"{"op":"get","key":"product:1"}"#).map_err(|failure| {
            failure.detail(
                "stale-while-revalidate: a read of a stale entry is served at once with its cached value; the \
                 refresh runs in the background. Here the read waited for the store, whose GET the grader was holding: the \
                 refresh ran in the foreground",
            )
        })?;
        if got != json!({"value": "p1"}) {
            return Err(Failure::new(format!(
                "stale-while-revalidate: the {attempt} read of the stale entry, while its refresh is still loading, \
                 is served at once with the cached value"
            ))
            .expected(r#"{"value":"p1"}"#)
            .got(got.to_string())
            .detail("product:1 was cached at 0 ms with a lifetime of 1000 ms and swr_ms 5000: at 1000 ms it is stale"));
        }
        if attempt == "first" && store.wait_parked(1, MUST_HAPPEN) == 0 {
            return Err(Failure::new(
                "a read of a stale entry starts a refresh in the background: one GET of the key",
            )
            .expected("GET product:1 reaching the store")
            .got(format!("no GET within {} ms", MUST_HAPPEN.as_millis())));
        }
    }
    store.wait_parked(2, GRACE);
    store.release_gets();
    expect(&mut program, r#"{"op":"join"}"#, json!({"values": []}))?;
    let calls = take_calls(g, &store);
    let expected = vec![Call::Get {
        key: "product:1".into(),
        found: Some("p1b".into()),
    }];
    if calls != expected {
        return Err(Failure::new(
            "exactly one refresh per stale entry at a time: a stale read while a refresh of the key is in flight \
             serves the cached value and starts no second refresh",
        )
        .expected(show_calls(&expected))
        .got(show_calls(&calls)));
    }
    expect(
        &mut program,
        r#"{"op":"get","key":"product:1"}"#,
        json!({"value": "p1b"}),
    )
    .map_err(|f| {
        f.detail("once the refresh has finished, the entry is fresh again with the refreshed value")
    })?;
    no_calls(
        g,
        &store,
        "once the refresh has finished, the entry is fresh: a read is served from the cache",
    )?;
    Ok(())
}

/// 100 readers of one missing key, one load; a cached key still answers and another key still loads meanwhile;
/// then 50 readers of one page.
pub fn single_flight(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "single-flight: 100 concurrent misses of one key cause one load, and other keys are not held up meanwhile",
    );
    let (store, mut program) = start(
        g,
        &store(&[
            ("product:1", "p1"),
            ("product:2", "p2"),
            ("product:3", "p3"),
            ("product:4", "p4"),
            ("reviews:4", "r4"),
        ]),
    )?;
    expect(
        &mut program,
        r#"{"op":"new","ttl_ms":10000,"jitter_ms":0,"swr_ms":0}"#,
        json!({"ok": true}),
    )?;
    expect(
        &mut program,
        r#"{"op":"get","key":"product:2"}"#,
        json!({"value": "p2"}),
    )?;
    take_calls(g, &store);
    g.record("store", "(the grader now holds every GET)", "");
    store.hold_gets();
    expect(
        &mut program,
        r#"{"op":"spawn","key":"product:1","n":100}"#,
        json!({"spawned": 100}),
    )?;
    wait_progress(&mut program, 100, 0)?;
    if store.wait_parked(1, MUST_HAPPEN) == 0 {
        return Err(Failure::new("a miss loads the key from the store")
            .expected("GET product:1 reaching the store")
            .got(format!(
                "100 readers of product:1, and no GET within {} ms",
                MUST_HAPPEN.as_millis()
            )));
    }
    let parked = store.wait_parked(2, GRACE);
    let got = ask_at_once(&mut program, r#"{"op":"get","key":"product:2"}"#).map_err(|failure| {
        failure.detail(
            "a read of a cached key must not wait for the load of another key: load outside the cache's lock (here \
             the load of product:1 was held by the grader, and the read of the cached product:2 waited for it)",
        )
    })?;
    if got != json!({"value": "p2"}) {
        return Err(Failure::new("a fresh entry is served from the cache")
            .expected(r#"{"value":"p2"}"#)
            .got(got.to_string()));
    }
    expect(
        &mut program,
        r#"{"op":"spawn","key":"product:3","n":1}"#,
        json!({"spawned": 1}),
    )?;
    wait_progress(&mut program, 101, 0)?;
    if store.wait_parked(parked + 1, MUST_HAPPEN) <= parked {
        return Err(Failure::new(
            "a load of one key must not hold up the loads of other keys: single-flight is per key",
        )
        .expected("GET product:3 reaching the store while the load of product:1 is in flight")
        .got(format!("no GET of product:3 within {} ms", MUST_HAPPEN.as_millis()))
        .detail("a single lock around every load makes every miss of every key wait for the slowest one"));
    }
    store.release_gets();
    let mut values = vec![json!("p1"); 100];
    values.push(json!("p3"));
    let joined = ask(&mut program, r#"{"op":"join"}"#)?;
    let calls = take_calls(g, &store);
    let loads = calls
        .iter()
        .filter(|call| matches!(call, Call::Get { key, .. } if key == "product:1"))
        .count();
    if loads != 1 {
        return Err(Failure::new(
            "single-flight: 100 concurrent misses of one key cause exactly one load; the other 99 readers wait for \
             its result",
        )
        .expected("1 GET product:1")
        .got(format!("{loads} GETs of product:1"))
        .detail("a cache stampede: every reader saw the miss before the first load had filled the cache"));
    }
    if joined != json!({ "values": values }) {
        return Err(
            Failure::new("every reader of a load gets its value: 100 × p1, then p3")
                .got(joined.to_string()),
        );
    }
    let expected = [("product:1", "p1"), ("product:3", "p3")].map(|(key, value)| Call::Get {
        key: key.into(),
        found: Some(value.into()),
    });
    if calls != expected {
        return Err(
            Failure::new("one load for product:1 and one for product:3, and nothing else")
                .expected(show_calls(&expected))
                .got(show_calls(&calls)),
        );
    }

    g.scenario("single-flight for pages: 50 concurrent misses of one page render it once, one load per fragment");
    store.hold_gets();
    expect(
        &mut program,
        r#"{"op":"spawn","page":4,"n":50}"#,
        json!({"spawned": 50}),
    )?;
    wait_progress(&mut program, 50, 0)?;
    store.wait_parked(1, MUST_HAPPEN);
    store.wait_parked(2, GRACE);
    store.release_gets();
    let joined = ask(&mut program, r#"{"op":"join"}"#)?;
    let calls = take_calls(g, &store);
    let expected = [("product:4", "p4"), ("reviews:4", "r4")].map(|(key, value)| Call::Get {
        key: key.into(),
        found: Some(value.into()),
    });
    if calls != expected {
        return Err(Failure::new(
            "single-flight covers pages too: 50 concurrent misses of page 4 render it once, so each fragment is \
             loaded once",
        )
        .expected(show_calls(&expected))
        .got(show_calls(&calls)));
    }
    if joined != json!({ "values": vec![json!("p4|r4"); 50] }) {
        return Err(
            Failure::new("every reader of the page gets it: 50 × \"p4|r4\"")
                .got(joined.to_string()),
        );
    }
    Ok(())
}

/// A load that read the store before a write finishes after it: it must neither be joined by later readers
/// nor fill the cache.
pub fn write_during_a_load(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("no stale read after a committed write, even when a load of the key is in flight during the write");
    let (store, mut program) = start(g, &store(&[("product:1", "p1")]))?;
    expect(
        &mut program,
        r#"{"op":"new","ttl_ms":10000,"jitter_ms":0,"swr_ms":0}"#,
        json!({"ok": true}),
    )?;
    g.record(
        "store",
        "(the grader now holds every GET; a held GET answers what the store had when it arrived)",
        "",
    );
    store.hold_gets_from_arrival();
    expect(
        &mut program,
        r#"{"op":"spawn","key":"product:1","n":1}"#,
        json!({"spawned": 1}),
    )?;
    wait_progress(&mut program, 1, 0)?;
    if store.wait_parked(1, MUST_HAPPEN) == 0 {
        return Err(Failure::new("a miss loads the key from the store")
            .expected("GET product:1 reaching the store")
            .got("no GET"));
    }
    expect(
        &mut program,
        r#"{"op":"write","key":"product:1","value":"p1b"}"#,
        json!({"ok": true}),
    )?;
    take_calls(g, &store);
    expect(
        &mut program,
        r#"{"op":"spawn","key":"product:1","n":1}"#,
        json!({"spawned": 1}),
    )?;
    wait_progress(&mut program, 2, 0)?;
    if store.wait_parked(2, Duration::from_secs(2)) < 2 {
        return Err(Failure::new(
            "a read that starts after a committed write must not wait for a load that started before the write: that \
             load read the store before the write, so its value is older. An invalidation also forgets the loads in \
             flight for what it invalidates",
        )
        .expected("a second GET product:1 (a new load, after the write)")
        .got("the second reader waited for the first load")
        .detail("reader 1 started loading product:1 (the store answered p1); then product:1 was written (p1b); then reader 2 asked"));
    }
    g.record(
        "store",
        "(the grader releases the newer GET first, then the older one)",
        "",
    );
    store.release_newest();
    wait_progress(&mut program, 2, 1)?;
    take_calls(g, &store);
    store.release_gets();
    let joined = ask(&mut program, r#"{"op":"join"}"#)?;
    take_calls(g, &store);
    let second = joined.get("values").and_then(|values| values.get(1));
    if second != Some(&json!("p1b")) {
        return Err(Failure::new(
            "no stale read after a committed write: a read that starts after the write returns the written value",
        )
        .expected(r#"reader 2 gets "p1b""#)
        .got(joined.to_string()));
    }
    let got = ask(&mut program, r#"{"op":"get","key":"product:1"}"#)?;
    let calls = take_calls(g, &store);
    if got != json!({"value": "p1b"}) {
        return Err(Failure::new(
            "no stale read after a committed write: a load that started before the write (it read p1) finished after \
             it and put its old value back into the cache. Before filling, a load checks that it is still the \
             registered flight of its key (an invalidation removes it)",
        )
        .expected(r#"{"value":"p1b"}"#)
        .got(got.to_string())
        .detail(format!("store calls of this read: {}", show_calls(&calls))));
    }
    if !calls.is_empty() {
        return Err(Failure::new(
            "the load that started after the write filled the cache: the next read is a hit",
        )
        .expected("no store call")
        .got(show_calls(&calls)));
    }
    Ok(())
}

/// Sends `request` and checks the reply.
fn expect(program: &mut Stdio, request: &str, expected: Value) -> Result<(), Failure> {
    let got = ask(program, request)?;
    if got != expected {
        return Err(Failure::new("the reply of the protocol")
            .expected(expected.to_string())
            .got(got.to_string()));
    }
    Ok(())
}

/// Sends `request` and reads its reply, which must come within [`AT_ONCE`].
fn ask_at_once(program: &mut Stdio, request: &str) -> Result<Value, Failure> {
    program.send_line(request)?;
    let line = program.recv_line_within(AT_ONCE)?;
    serde_json::from_str(&line).map_err(|_| Failure::new("every reply is one JSON line").got(line))
}

/// Polls `progress` until `arrived` spawned readers have called the cache and `returned` have their answer.
fn wait_progress(program: &mut Stdio, arrived: u64, returned: u64) -> Result<(), Failure> {
    let deadline = Instant::now() + MUST_HAPPEN;
    loop {
        let got = ask(program, r#"{"op":"progress"}"#)?;
        let field = |name: &str| got.get(name).and_then(Value::as_u64).unwrap_or(0);
        if field("arrived") >= arrived && field("returned") >= returned {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(format!(
                "the spawned readers make progress: {arrived} of them call the cache and {returned} get an answer"
            ))
            .got(got.to_string())
            .detail(format!("after {} ms", MUST_HAPPEN.as_millis())));
        }
        thread::sleep(Duration::from_millis(3));
    }
}

/// Checks the store received nothing since the last look.
fn no_calls(g: &Grading, store: &CountingStore, rule: &str) -> Result<(), Failure> {
    let calls = take_calls(g, store);
    if calls.is_empty() {
        return Ok(());
    }
    Err(Failure::new(rule)
        .expected("no store call")
        .got(show_calls(&calls)))
}
