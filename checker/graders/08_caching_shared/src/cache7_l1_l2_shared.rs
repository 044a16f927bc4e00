//! Grader of `cache7_l1_l2_shared`: two instances of the program, each with its own in-process L1, share
//! an L2 cache and a rate limit through a Redis-compatible server the grader runs ([`resp_server`]).
//!
//! The grader starts the L2 (one port per instance, one keyspace, so each command is known to come from A
//! or B) and a stand-in database, then both instances with their URLs. Every request carries
//! `X-Fake-Now`, and the L2's clock is set to the same time, so L1 and L2 expiries and rate windows are on
//! one fake clock. Each answer is checked against a reference fleet ([`system`]): the status and body, where
//! the value came from (L1: no L2 and no database traffic; L2: no database query; the database: then
//! stored in L2 with its TTL), what a write did (database, `DEL` in L2, `PUBLISH invalidate <id>`), and the
//! shared counter `rate:<client>` after every request. Stories teach one rule each, a concurrent burst
//! checks the global limit, then a seeded trace mixes everything, including lost invalidation messages.

mod resp_server;
mod session;
mod system;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use backlings_grade::http::{self, Request};
use backlings_grade::{Failure, Grading};

use resp_server::RespServer;
use session::{CHANNEL, Session};
use system::{Config, NAMES, System};

/// Fake unix time the run starts near.
const EPOCH_MS: u64 = 1_700_000_000_000;
const DAY_MS: u64 = 24 * 3600 * 1000;
/// Requests in the seeded trace.
const TRACE_STEPS: usize = 160;
const A: usize = 0;
const B: usize = 1;

/// Grades one program: start-up, the stories, a concurrent burst, then the seeded trace.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let config = Config {
        l1_capacity: g.rng().range(2, 4) as usize,
        l1_ttl_ms: g.rng().range(800, 4000),
        l2_ttl_ms: 1000 * g.rng().range(20, 60),
        rate_limit: g.rng().range(3, 6) as i64,
        rate_window_ms: 1000 * g.rng().range(2, 8),
    };
    let now = EPOCH_MS + g.rng().below(DAY_MS);
    let l2 = RespServer::start("L2 cache", 2)?;
    let db = RespServer::start("database", 1)?;
    l2.set_now(now);
    db.set_now(now);
    let mut system = System::new(config);
    let ids: Vec<String> = (0..config.l1_capacity + 5)
        .map(|i| format!("{}{i}", g.rng().word(3)))
        .collect();
    for id in &ids {
        let value = format!("{id}-v1");
        db.run(&["SET", &format!("item:{id}"), &value]);
        system.db.insert(id.clone(), value);
    }

    g.scenario("both instances start, each subscribed to `invalidate` before it prints READY");
    let settings = [
        ("DATABASE_URL", db.url(0)),
        ("L1_CAPACITY", config.l1_capacity.to_string()),
        ("L1_TTL_MS", config.l1_ttl_ms.to_string()),
        ("L2_TTL_MS", config.l2_ttl_ms.to_string()),
        ("RATE_LIMIT", config.rate_limit.to_string()),
        ("RATE_WINDOW_MS", config.rate_window_ms.to_string()),
    ];
    let start = |g: &mut Grading, tag: usize| {
        let l2_url = l2.url(tag);
        let mut env: Vec<(&str, &str)> = vec![("L2_URL", &l2_url)];
        env.extend(settings.iter().map(|(n, v)| (*n, v.as_str())));
        g.server_with(&[], &env)
    };
    let programs = [start(g, A)?, start(g, B)?];
    for (tag, name) in NAMES.iter().enumerate() {
        if l2.subscribers(tag, CHANNEL) == 0 {
            return Err(Failure::new(format!(
                "each instance subscribes to the `{CHANNEL}` channel of L2 before it prints READY, or the \
                 first invalidations are lost"
            ))
            .expected(format!("instance {name} subscribed to `{CHANNEL}`"))
            .got("no SUBSCRIBE from it"));
        }
    }
    let mut s = Session::new(l2, db, programs, system, now);

    read_path(g, &mut s, &ids)?;
    expiry_and_eviction(g, &mut s, &ids)?;
    write_invalidates(g, &mut s, &ids)?;
    lost_invalidation(g, &mut s, &ids)?;
    rate_limit(g, &mut s, &ids)?;
    burst(g, &mut s, &ids)?;
    trace(g, &mut s, &ids)
}

fn read_path(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    g.scenario(
        "a read tries L1, then L2, then the database; the database's answer fills L2 and L1",
    );
    let missing = format!("{}-missing", ids[0]);
    let steps: [(usize, &str); 6] = [
        (A, &ids[0]),
        (A, &ids[0]),
        (B, &ids[0]),
        (B, &ids[0]),
        (A, &missing),
        (B, &missing),
    ];
    for (x, id) in steps {
        s.advance(10);
        let client = s.fresh_client();
        s.get(g, x, id, &client)?;
    }
    Ok(())
}

fn expiry_and_eviction(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    g.scenario(
        "L1 entries live L1_TTL_MS and L2 entries L2_TTL_MS, to the millisecond; a full L1 evicts its least \
         recently used entry",
    );
    // To the exact millisecond A's L1 copy goes stale: now it must come from L2.
    let (_, until) = s
        .system
        .l1_value(A, &ids[0])
        .expect("A read ids[0] in the previous story");
    s.advance(until - s.now);
    let client = s.fresh_client();
    s.get(g, A, &ids[0], &client)?;
    // To the exact millisecond L2's copy expires (after A's new L1 copy): now from the database.
    let (_, l2_until) =
        s.l2.peek(&format!("cache:item:{}", ids[0]))
            .expect("ids[0] is in L2");
    let l2_until = l2_until.expect("ids[0] has an expiry in L2");
    let (_, l1_until) = s.system.l1_value(A, &ids[0]).expect("A just read ids[0]");
    s.advance(l2_until.max(l1_until) - s.now);
    let client = s.fresh_client();
    s.get(g, A, &ids[0], &client)?;
    // B reads one more item than its L1 holds, then the first of them again (evicted: from L2) and the
    // last (still in L1).
    let capacity = s.system.config.l1_capacity;
    let batch = &ids[1..=capacity + 1];
    for id in batch.iter().chain([&batch[0], &batch[capacity]]) {
        s.advance(5);
        let client = s.fresh_client();
        s.get(g, B, id, &client)?;
    }
    Ok(())
}

fn write_invalidates(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    g.scenario(
        "a write through one instance is read fresh through the other at once: database, DEL in L2, PUBLISH \
         invalidate",
    );
    let id = &ids[2];
    for (x, value) in [(A, format!("{id}-v2")), (B, format!("{id}-v3"))] {
        for reader in [B, A] {
            s.advance(7);
            let client = s.fresh_client();
            s.get(g, reader, id, &client)?;
        }
        s.advance(3);
        let client = s.fresh_client();
        s.put(g, x, id, &value, &client, None)?;
        for reader in [1 - x, x] {
            s.advance(2);
            let client = s.fresh_client();
            s.get(g, reader, id, &client)?;
        }
    }
    Ok(())
}

fn lost_invalidation(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    g.scenario(
        "a lost invalidation message: the instance that missed it serves its old L1 copy only until that \
         entry's L1_TTL_MS is up; the writer drops its own copy itself",
    );
    let id = &ids[3];
    for reader in [B, A] {
        s.advance(4);
        let client = s.fresh_client();
        s.get(g, reader, id, &client)?;
    }
    s.advance(4);
    let client = s.fresh_client();
    s.put(g, A, id, &format!("{id}-v2"), &client, Some(B))?;
    // Still within B's L1 TTL: B cannot know, and serves its copy (the bounded staleness L1 buys).
    s.advance(1);
    let client = s.fresh_client();
    s.get(g, B, id, &client)?;
    let (_, until) = s.system.l1_value(B, id).expect("B holds the item");
    s.advance(until - s.now);
    let client = s.fresh_client();
    s.get(g, B, id, &client)?;
    // The writer's own message is lost: it must have dropped its own copy directly.
    let id = &ids[4];
    s.advance(3);
    let client = s.fresh_client();
    s.get(g, A, id, &client)?;
    s.advance(3);
    let client = s.fresh_client();
    s.put(g, A, id, &format!("{id}-v2"), &client, Some(A))?;
    s.advance(1);
    let client = s.fresh_client();
    s.get(g, A, id, &client)?;
    Ok(())
}

fn rate_limit(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    let config = s.system.config;
    g.scenario(&format!(
        "the rate limit is shared: RATE_LIMIT={} per client per {} ms window, counted with INCR and PEXPIRE \
         in L2 across both instances",
        config.rate_limit, config.rate_window_ms
    ));
    let client = format!("client-{}", g.rng().word(4));
    let first = g.rng().below(2) as usize;
    let requests = config.rate_limit as usize + 2;
    let step = config.rate_window_ms / (2 * requests as u64);
    let mut window_start = s.now;
    for i in 0..requests {
        s.advance(1 + g.rng().below(step));
        if i == 0 {
            window_start = s.now;
        }
        let id = &ids[i % ids.len()];
        s.get(g, (first + i) % 2, id, &client)?;
    }
    // Still refused one millisecond before the window ends, even after steady traffic; let in from then.
    s.advance(window_start + config.rate_window_ms - 1 - s.now);
    s.get(g, first, &ids[0], &client)?;
    s.advance(1);
    s.get(g, 1 - first, &ids[0], &client)?;
    s.advance(1);
    s.get(g, first, &ids[1], &client)?;
    Ok(())
}

fn burst(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    let config = s.system.config;
    g.scenario(&format!(
        "a concurrent burst through both instances admits exactly RATE_LIMIT={} requests",
        config.rate_limit
    ));
    s.advance(50);
    let client = format!("burst-{}", g.rng().word(4));
    let id = &ids[0];
    let each = config.rate_limit as usize + 3;
    let now = s.now.to_string();
    let request = Request::get(&format!("/items/{id}"))
        .header("X-Client-Id", &client)
        .header("X-Fake-Now", &now)
        .to_bytes();
    let addrs = [s.programs[A].addr(), s.programs[B].addr()];
    let outcomes: Vec<Vec<Result<(u16, String), String>>> = thread::scope(|scope| {
        let workers: Vec<_> = addrs
            .iter()
            .map(|&addr| {
                let request = &request;
                scope.spawn(move || {
                    (0..each)
                        .map(|_| {
                            let mut stream =
                                TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                                    .map_err(|e| e.to_string())?;
                            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                            stream.write_all(request).map_err(|e| e.to_string())?;
                            let response =
                                http::read_response(&stream, false).map_err(|e| e.to_string())?;
                            Ok((response.status, response.text()))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let value = s.system.db.get(id.as_str()).cloned().unwrap_or_default();
    let mut admitted = [0usize; 2];
    let mut refused = 0;
    for (x, answers) in outcomes.iter().enumerate() {
        for answer in answers {
            match answer {
                Ok((200, body)) if *body == value => admitted[x] += 1,
                Ok((429, _)) => refused += 1,
                Ok((status, body)) => {
                    return Err(Failure::new(
                        "during a burst each request is either admitted (200 with the item) or refused (429)",
                    )
                    .expected(format!("200 {value:?} or 429"))
                    .got(format!("{status} {body:?} from {}", NAMES[x])));
                }
                Err(e) => {
                    s.programs[x].ensure_alive()?;
                    return Err(Failure::new(format!(
                        "no valid HTTP response came back from {} during the burst: {e}",
                        NAMES[x]
                    )));
                }
            }
        }
    }
    let total = admitted[0] + admitted[1];
    g.record(
        "burst",
        &format!(
            "{each} × GET /items/{id} as {client} at X-Fake-Now {now} to A and {each} to B, at the same time"
        ),
        &format!(
            "admitted {} by A + {} by B = {total}, refused {refused}",
            admitted[0], admitted[1]
        ),
    );
    if total != config.rate_limit as usize {
        return Err(Failure::new(format!(
            "the limit is global and exact under concurrency: INCR is atomic in L2, so of the {} requests \
             that arrive at once through both instances exactly RATE_LIMIT={} get through",
            2 * each,
            config.rate_limit
        ))
        .expected(format!("{} admitted in total", config.rate_limit))
        .got(format!(
            "{total} admitted ({} by A, {} by B), {refused} refused",
            admitted[0], admitted[1]
        ))
        .detail(
            "reading the count, comparing, then writing it back lets two requests read the same count; a \
             counter per instance admits the limit on each",
        ));
    }
    // Bring the reference up to date: every request was counted, and each instance that admitted one now
    // has the item in its L1 (and L2 has it), filled at this instant.
    for _ in 0..2 * each {
        s.system.admit(&client, s.now);
    }
    for (x, &count) in admitted.iter().enumerate() {
        if count > 0 {
            s.system.get(x, id, s.now);
        }
    }
    Ok(())
}

fn trace(g: &mut Grading, s: &mut Session, ids: &[String]) -> Result<(), Failure> {
    g.scenario(
        "a seeded trace of reads, writes, lost messages, expiries and rate limits through both instances",
    );
    let clients: Vec<String> = (0..2)
        .map(|i| format!("user{i}-{}", g.rng().word(3)))
        .collect();
    let missing = format!("{}-gone", ids[1]);
    let mut version = 10;
    for _ in 0..TRACE_STEPS {
        let jump = g.rng().below(100);
        let deadlines = s.system.deadlines(s.now);
        match jump {
            0..15 if !deadlines.is_empty() => {
                let at = *g.rng().pick(&deadlines[..deadlines.len().min(4)]);
                s.advance(at - s.now);
            }
            15..20 => s.advance(s.system.config.l2_ttl_ms / 2),
            _ => {
                let ttl = s.system.config.l1_ttl_ms;
                s.advance(g.rng().below(ttl / 3));
            }
        }
        let x = g.rng().below(2) as usize;
        let client = if g.rng().chance(7, 10) {
            g.rng().pick(&clients).clone()
        } else {
            s.fresh_client()
        };
        let op = g.rng().below(100);
        let id = if op < 4 {
            missing.clone()
        } else {
            g.rng().pick(ids).clone()
        };
        if op < 78 {
            s.get(g, x, &id, &client)?;
        } else {
            version += 1;
            let lost = match g.rng().below(6) {
                0 => Some(1 - x),
                1 => Some(x),
                _ => None,
            };
            s.put(g, x, &id, &format!("{id}-v{version}"), &client, lost)?;
        }
    }
    Ok(())
}
