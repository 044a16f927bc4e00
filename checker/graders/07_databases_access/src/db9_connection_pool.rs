//! Grader of `db9_connection_pool`: an async pool against the grader's fake database ([`fake_db`]).
//!
//! 1. Sequential queries reuse one connection (RAII return).
//! 2. A burst of 40 queries on a pool of 4: the grader holds every query at the database and lets
//!    them go one by one, so waiting checkouts must be woken by returned connections; the database
//!    never sees more than 4 connections, and 4 are opened in all.
//! 3. The database closes every idle connection: queries still succeed (validation on checkout); a
//!    query whose connection dies answers 500 and the pool goes on.
//! 4. A second program with a pool of 2 and a 400 ms checkout timeout: with both connections held,
//!    one more query answers 503, not before the timeout (real time, wide bounds), and the pool
//!    still works after.

mod fake_db;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backlings_grade::{Failure, Grading, Stdio, ensure};
use serde_json::{Value, json};

use fake_db::{FakeDb, result_of};

/// The pool of the first program.
const MAX: usize = 4;
/// Queries in the burst.
const BURST: u64 = 40;
/// The checkout timeout of the second program, which has a pool of 2.
const TIMEOUT_MS: u64 = 400;
/// How long the grader waits for the next query to reach the database.
const NEXT_QUERY: Duration = Duration::from_secs(3);

/// Grades `db9_connection_pool`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.set_reply_timeout(Duration::from_secs(6));
    let db = FakeDb::start()?;
    let max = MAX.to_string();
    let env = [
        ("DB_ADDR", db.addr()),
        ("POOL_MAX_SIZE", max),
        ("POOL_CHECKOUT_TIMEOUT_MS", "3000".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut p = g.stdio_with(&[], &env)?;
    let mut next_id = 1;

    g.scenario("sequential queries reuse one connection");
    let words: Vec<String> = (0..20).map(|_| g.rng().word(6)).collect();
    for word in &words {
        let reply = query(&mut p, &mut next_id, &format!("SELECT '{word}'"))?;
        expect_ok(&reply, &format!("SELECT '{word}'"), MAX)?;
    }
    let opened = db.counts().opened;
    ensure(opened == 1, || {
        Failure::new(format!(
            "{} queries, one after the other, opened {opened} connections: a connection goes back to the pool \
             when its query is done (when the PooledConn is dropped) and is reused by the next checkout",
            words.len()
        ))
        .expected("1 connection opened")
        .got(format!("{opened} connections opened"))
    })?;

    g.scenario("a burst of 40 queries on a pool of 4: at most 4 connections, each reused");
    burst(g, &mut p, &db, &mut next_id)?;

    g.scenario("dead idle connections are replaced, and a connection that fails is not reused");
    let closed = db.close_all();
    for i in 0..12 {
        let sql = format!("SELECT {i} AFTER RESTART");
        let reply = query(&mut p, &mut next_id, &sql)?;
        ensure(reply["status"] == json!(200), || {
            Failure::new(format!(
                "the database closed every idle connection ({closed} of them, as a restart would); queries \
                 after that must still succeed: check a connection before handing it out (PING) and replace \
                 a dead one with a fresh connection"
            ))
            .expected(format!("{{\"status\": 200, \"result\": \"{}\"}}", result_of(&sql)))
            .got(reply.to_string())
        })?;
        expect_ok(&reply, &sql, MAX)?;
    }
    let reply = query(&mut p, &mut next_id, "crash")?;
    ensure(reply["status"] == json!(500), || {
        Failure::new(
            "the database closed the connection in the middle of a query: the request answers 500",
        )
        .expected("{\"status\": 500, \"error\": \"…\"}")
        .got(reply.to_string())
    })?;
    for i in 0..6 {
        let sql = format!("SELECT {i} AFTER CRASH");
        let reply = query(&mut p, &mut next_id, &sql)?;
        expect_ok(&reply, &sql, MAX)?;
    }
    check_bound(&db, MAX)?;
    drop(p);
    drop(db);

    g.scenario(
        "with every connection busy, a checkout waits up to the timeout and then answers 503",
    );
    checkout_timeout(g)
}

/// Sends one query and waits for its reply.
fn query(p: &mut Stdio, next_id: &mut u64, sql: &str) -> Result<Value, Failure> {
    let id = *next_id;
    *next_id += 1;
    let reply = p.request(&json!({"op": "query", "id": id, "sql": sql}))?;
    ensure(reply["id"] == json!(id), || {
        Failure::new("a reply carries the id of its request")
            .expected(format!("\"id\": {id}"))
            .got(reply.to_string())
    })?;
    Ok(reply)
}

/// A 200 with the database's answer to `sql`.
fn expect_ok(reply: &Value, sql: &str, max: usize) -> Result<(), Failure> {
    let expected = json!({"id": reply["id"], "status": 200, "result": result_of(sql)});
    if reply["status"] == json!(503) {
        return Err(Failure::new(format!(
            "a query sent while no other query was running got 503: the pool believes all {max} connections \
             are checked out, so connections given back did not free their place in the pool (the permit)"
        ))
        .expected(expected.to_string())
        .got(reply.to_string()));
    }
    ensure(*reply == expected, || {
        Failure::new("a query answers 200 with the database's result for that query")
            .expected(expected.to_string())
            .got(reply.to_string())
    })
}

/// The database must never have seen more than `max` connections at once.
fn check_bound(db: &FakeDb, max: usize) -> Result<(), Failure> {
    let counts = db.counts();
    ensure(counts.max_open <= max, || {
        Failure::new(format!(
            "the pool may hold at most POOL_MAX_SIZE = {max} connections at once, but the database saw {} open \
             at the same time: the bound is on checked-out plus idle connections (a semaphore of {max} permits, \
             taken before connecting)",
            counts.max_open
        ))
        .expected(format!("at most {max} connections open at once"))
        .got(format!("{} open at once", counts.max_open))
    })
}

/// 40 held queries, released one at a time as they reach the database.
fn burst(g: &mut Grading, p: &mut Stdio, db: &FakeDb, next_id: &mut u64) -> Result<(), Failure> {
    let first = *next_id;
    let mut expected = BTreeMap::new();
    for i in 0..BURST {
        let id = first + i;
        let sql = format!("hold {} #{id}", g.rng().word(4));
        p.send(&json!({"op": "query", "id": id, "sql": sql}))?;
        expected.insert(
            id,
            json!({"id": id, "status": 200, "result": result_of(&sql)}),
        );
    }
    *next_id += BURST;
    for arrived in 0..BURST {
        let Some(held) = db.next_held(NEXT_QUERY) else {
            return Err(Failure::new(format!(
                "only {arrived} of the {BURST} queries reached the database (the grader gives a held query back \
                 as soon as the next one arrives, and waited {} s): a query that finds every connection busy \
                 must wait for one to be given back, and a connection given back must wake a waiting checkout",
                NEXT_QUERY.as_secs()
            ))
            .expected(format!("{BURST} queries, at most {MAX} at a time"))
            .got(format!("{arrived} queries")));
        };
        check_bound(db, MAX)?;
        held.release();
    }
    let mut got = BTreeMap::new();
    for _ in 0..BURST {
        let reply = p.recv()?;
        let id = reply["id"].as_u64().unwrap_or_default();
        got.insert(id, reply);
    }
    for (id, want) in &expected {
        let reply = got.get(id).cloned().unwrap_or(Value::Null);
        ensure(reply == *want, || {
            Failure::new(format!(
                "every query of the burst answers 200 with its own result (replies come in any order, by id; \
                 this is the reply to id {id})"
            ))
            .expected(want.to_string())
            .got(reply.to_string())
        })?;
    }
    check_bound(db, MAX)?;
    let opened = db.counts().opened;
    ensure(opened <= MAX as u64, || {
        Failure::new(format!(
            "a pool of {MAX} that never lost a connection opens at most {MAX} in all: connections given back are \
             reused, not closed"
        ))
        .expected(format!("at most {MAX} connections opened"))
        .got(format!("{opened} connections opened"))
    })
}

/// A fresh program with a pool of 2 and a short timeout: the 503, its timing, and recovery.
fn checkout_timeout(g: &mut Grading) -> Result<(), Failure> {
    let db = FakeDb::start()?;
    let addr = db.addr();
    let timeout = TIMEOUT_MS.to_string();
    let env = [
        ("DB_ADDR", addr.as_str()),
        ("POOL_MAX_SIZE", "2"),
        ("POOL_CHECKOUT_TIMEOUT_MS", timeout.as_str()),
    ];
    let mut p = g.stdio_with(&[], &env)?;
    let mut held = Vec::new();
    for id in 1..=2 {
        p.send(&json!({"op": "query", "id": id, "sql": format!("hold #{id}")}))?;
        let Some(h) = db.next_held(NEXT_QUERY) else {
            return Err(Failure::new(format!(
                "query {id} never reached the database: a pool of 2 with nothing checked out must give it a \
                 connection"
            )));
        };
        held.push(h);
    }
    let sql = "SELECT 'one too many'";
    let sent = Instant::now();
    let reply = p.request(&json!({"op": "query", "id": 3, "sql": sql}))?;
    let waited = sent.elapsed();
    check_bound(&db, 2)?;
    ensure(reply["status"] == json!(503), || {
        Failure::new(format!(
            "both connections of the pool of 2 are busy and stay busy: one more query waits {TIMEOUT_MS} ms \
             (POOL_CHECKOUT_TIMEOUT_MS) for a connection, then answers 503"
        ))
        .expected("{\"id\": 3, \"status\": 503}")
        .got(reply.to_string())
    })?;
    let waited_ms = waited.as_millis() as u64;
    ensure(waited_ms + 20 >= TIMEOUT_MS, || {
        Failure::new(format!(
            "a checkout that finds every connection busy waits up to the checkout timeout ({TIMEOUT_MS} ms) for \
             one to come back before answering 503; failing at once turns every short burst into errors"
        ))
        .expected(format!("503 after at least {TIMEOUT_MS} ms"))
        .got(format!("503 after {waited_ms} ms"))
    })?;
    ensure(waited_ms <= TIMEOUT_MS + 2000, || {
        Failure::new(format!(
            "the 503 comes when the checkout timeout ({TIMEOUT_MS} ms) runs out, not much later"
        ))
        .expected(format!("503 within {} ms", TIMEOUT_MS + 2000))
        .got(format!("503 after {waited_ms} ms"))
    })?;
    for h in held {
        h.release();
    }
    for _ in 0..2 {
        let reply = p.recv()?;
        let id = reply["id"].as_u64().unwrap_or_default();
        expect_ok(&reply, &format!("hold #{id}"), 2)?;
    }
    let mut next_id = 4;
    for i in 0..4 {
        let sql = format!("SELECT {i} AFTER TIMEOUT");
        let reply = query(&mut p, &mut next_id, &sql)?;
        expect_ok(&reply, &sql, 2)?;
    }
    check_bound(&db, 2)?;
    let opened = db.counts().opened;
    ensure(opened <= 2, || {
        Failure::new("a pool of 2 that never lost a connection opens 2 in all, a timed-out checkout included")
            .expected("at most 2 connections opened")
            .got(format!("{opened} connections opened"))
    })
}
