//! Grader of `mw7_window_limiters`: fixed window, sliding log, sliding window counter and leaky bucket, over
//! JSON lines, each answer checked against an exact model ([`model`]) on scripted and seeded traces.
//!
//! Time is the `now` of each request (a fake clock): the traces aim at the exact milliseconds where the
//! algorithms differ, a window's last millisecond and its first, the moment a log entry expires, the end of
//! a wait, and run the same boundary burst through all three window algorithms to show the fixed window's 2×.

mod model;

use std::collections::BTreeMap;

use backlings_grade::{Failure, Grading, Rng};
use serde_json::{Value, json};

use model::{Config, Decision, Model};

/// Fake unix time the traces start near.
const EPOCH_MS: u64 = 1_700_000_000_000;
/// Hits in each seeded random trace.
const RANDOM_HITS: usize = 400;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    fixed_window_alignment(g)?;
    log_refusals(g)?;
    log_expiry(g)?;
    counter_weight(g)?;
    counter_retry(g)?;
    leaky_spacing(g)?;
    leaky_capacity(g)?;
    boundary_burst(g)?;
    keys(g)?;
    random_traces(g)
}

fn start(rng: &mut Rng, window: u64) -> u64 {
    // A multiple of the window, far from zero.
    (EPOCH_MS + rng.below(1_000_000_000)) / window * window
}

fn fixed_window_alignment(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("fixed window: windows are aligned to multiples of the window length, from time 0");
    let limit = g.rng().range(2, 5);
    let window_ms = *g.rng().pick(&[250, 1000, 1500]);
    let config = Config::FixedWindow { limit, window_ms };
    let base = start(g.rng(), window_ms);
    let offset = g.rng().range(window_ms / 4, window_ms * 3 / 4);
    let t0 = base + offset;
    let mut hits: Vec<(String, u64)> = (0..=limit).map(|_| ("ann".to_string(), t0)).collect();
    let end = base + window_ms;
    hits.push(("ann".to_string(), end - 1));
    hits.push(("ann".to_string(), end));
    hits.push(("ann".to_string(), end + 1));
    let note = format!(
        "the first request came {offset} ms into the aligned window [{base}, {end}): the window does not start at \
         a client's first request, and it ends at {end} for everybody"
    );
    run(g, config, &hits, &note)
}

fn boundary_burst(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("the boundary burst: a fixed window lets twice its limit through around a boundary, the others do not");
    let limit = g.rng().range(2, 5);
    let window_ms = *g.rng().pick(&[1000, 1500, 3000]);
    let boundary = start(g.rng(), window_ms) + window_ms;
    let mut hits = Vec::new();
    for _ in 0..limit {
        hits.push(("bo".to_string(), boundary - 1));
    }
    for _ in 0..=limit {
        hits.push(("bo".to_string(), boundary));
    }
    hits.push(("bo".to_string(), boundary + 1));
    for config in [
        Config::FixedWindow { limit, window_ms },
        Config::SlidingLog { limit, window_ms },
        Config::SlidingWindowCounter { limit, window_ms },
    ] {
        let note = format!(
            "{limit} requests at {} (the last millisecond of a window) and {} more from {boundary} (the first of the \
             next): a fixed window allows both halves, 2 × {limit} in 2 ms; a sliding log or counter sees them in \
             one sliding window",
            boundary - 1,
            limit + 1
        );
        run(g, config, &hits, &note)?;
    }
    Ok(())
}

fn log_expiry(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("sliding log: an entry stops counting at exactly its time + the window");
    let limit = g.rng().range(2, 4);
    let window_ms = *g.rng().pick(&[1000, 1500, 60_000]);
    let config = Config::SlidingLog { limit, window_ms };
    let t0 = start(g.rng(), window_ms) + g.rng().range(1, window_ms - 1);
    let mut hits = Vec::new();
    let mut times = Vec::new();
    let mut t = t0;
    for _ in 0..limit {
        hits.push(("lu".to_string(), t));
        times.push(t);
        t += g.rng().range(1, window_ms / (2 * limit));
    }
    hits.push(("lu".to_string(), t));
    let expiry = times[0] + window_ms;
    hits.push(("lu".to_string(), expiry - 1));
    hits.push(("lu".to_string(), expiry));
    hits.push(("lu".to_string(), expiry));
    hits.push(("lu".to_string(), times[1] + window_ms));
    let note = format!(
        "the request at {} counts while now − {} < {window_ms}: at {} it counts for the last time, at {expiry} no \
         longer",
        times[0],
        times[0],
        expiry - 1
    );
    run(g, config, &hits, &note)
}

fn log_refusals(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("sliding log: a refused request is not logged");
    let limit = g.rng().range(1, 3);
    let window_ms = *g.rng().pick(&[1000, 2000]);
    let config = Config::SlidingLog { limit, window_ms };
    let t0 = start(g.rng(), window_ms) + 7;
    let mut hits: Vec<(String, u64)> = (0..limit).map(|_| ("ray".to_string(), t0)).collect();
    for step in 1..=limit + 2 {
        hits.push(("ray".to_string(), t0 + step * window_ms / (limit + 4)));
    }
    for _ in 0..limit {
        hits.push(("ray".to_string(), t0 + window_ms + 1));
    }
    let note = "a client retrying too early is refused, and its refused requests are not logged (nor counted): \
                once the allowed ones expire, it is back in";
    run(g, config, &hits, note)
}

fn counter_weight(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("sliding window counter: the previous window weighs (W − e) / W, the part still inside the sliding window");
    let limit = *g.rng().pick(&[4, 8]);
    let window_ms = *g.rng().pick(&[1000, 2000]);
    let config = Config::SlidingWindowCounter { limit, window_ms };
    let base = start(g.rng(), window_ms);
    let mut hits: Vec<(String, u64)> = (0..limit)
        .map(|_| ("cy".to_string(), base + window_ms / 2))
        .collect();
    let quarter = base + window_ms + window_ms / 4;
    for _ in 0..limit {
        hits.push(("cy".to_string(), quarter));
    }
    let three_quarters = base + window_ms + window_ms * 3 / 4;
    for _ in 0..limit {
        hits.push(("cy".to_string(), three_quarters));
    }
    let note = format!(
        "{limit} requests in the window [{base}, {}); a quarter into the next window, 3/4 of the previous one still \
         overlaps the sliding window, so its {limit} requests weigh {limit} × 3/4; three quarters in, they weigh \
         {limit} × 1/4",
        base + window_ms
    );
    run(g, config, &hits, &note)
}

fn counter_retry(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("sliding window counter: the wait is exact, to the millisecond the estimate drops below the limit");
    let limit = g.rng().range(2, 6);
    let window_ms = *g.rng().pick(&[700, 1000, 1500]);
    let config = Config::SlidingWindowCounter { limit, window_ms };
    let base = start(g.rng(), window_ms);
    let mut model = Model::new(config);
    let mut hits = Vec::new();
    let mut now = base + g.rng().range(1, window_ms / 3);
    for _ in 0..40 {
        let (decision, _) = model.check("cal", now);
        hits.push(("cal".to_string(), now));
        now = match decision {
            Decision::Deny { retry_after_ms } => {
                now + retry_after_ms - u64::from(g.rng().chance(1, 3))
            }
            Decision::Allow { .. } => now + g.rng().below(window_ms / 8),
        };
    }
    let note = "a refused request learns exactly when the same request would be allowed: in this window, once \
                enough of the previous one has slid out, or in the next one; never later, never earlier";
    run(g, config, &hits, note)
}

fn leaky_spacing(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("leaky bucket: requests wait in a queue and leave exactly one interval apart");
    let capacity = g.rng().range(2, 5);
    let interval_ms = *g.rng().pick(&[50, 100, 333]);
    let config = Config::LeakyBucket {
        capacity,
        interval_ms,
    };
    let t0 = start(g.rng(), 1000) + g.rng().below(1000);
    let mut hits: Vec<(String, u64)> = (0..capacity).map(|_| ("lea".to_string(), t0)).collect();
    hits.push(("lea".to_string(), t0 + interval_ms / 2));
    hits.push(("lea".to_string(), t0 + interval_ms * (capacity + 3)));
    hits.push(("lea".to_string(), t0 + interval_ms * (capacity + 3) + 1));
    let note = format!(
        "a leaky bucket shapes traffic: a request is not refused because another just went, it waits its turn, \
         leaving at max(now, previous departure + {interval_ms}); its answer is allowed with that delay"
    );
    run(g, config, &hits, &note)
}

fn leaky_capacity(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("leaky bucket: at most `capacity` requests wait; one more is refused until it fits");
    let capacity = g.rng().range(1, 4);
    let interval_ms = *g.rng().pick(&[100, 250, 1000]);
    let config = Config::LeakyBucket {
        capacity,
        interval_ms,
    };
    let t0 = start(g.rng(), 1000) + g.rng().below(1000);
    let mut hits: Vec<(String, u64)> = (0..capacity + 3).map(|_| ("cap".to_string(), t0)).collect();
    let mut model = Model::new(config);
    let mut retry = 0;
    for (key, now) in &hits {
        if let (Decision::Deny { retry_after_ms }, _) = model.check(key, *now) {
            retry = retry_after_ms;
        }
    }
    hits.push(("cap".to_string(), t0 + retry - 1));
    hits.push(("cap".to_string(), t0 + retry));
    hits.push(("cap".to_string(), t0 + retry));
    let note = format!(
        "one request is processed at once and {capacity} may wait: the last to get in waits {capacity} × {interval_ms} \
         = {} ms, and one more would wait longer",
        capacity * interval_ms
    );
    run(g, config, &hits, &note)
}

fn keys(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("every key has its own limiter");
    let config = Config::SlidingLog {
        limit: 2,
        window_ms: 1000,
    };
    let t0 = start(g.rng(), 1000);
    let names: Vec<String> = (0..50)
        .map(|i| format!("key-{i}-{}", g.rng().word(3)))
        .collect();
    let mut hits = Vec::new();
    for round in 0..3 {
        for name in &names {
            hits.push((name.clone(), t0 + round));
        }
    }
    run(
        g,
        config,
        &hits,
        "what one key spends is invisible to every other key",
    )
}

fn random_traces(g: &mut Grading) -> Result<(), Failure> {
    let limit = g.rng().range(1, 6);
    let window_ms = *g.rng().pick(&[100, 250, 1000, 1500, 3000]);
    let configs = [
        Config::FixedWindow { limit, window_ms },
        Config::SlidingLog { limit, window_ms },
        Config::SlidingWindowCounter { limit, window_ms },
        Config::LeakyBucket {
            capacity: g.rng().range(0, 5),
            interval_ms: *g.rng().pick(&[50, 100, 333, 1000]),
        },
    ];
    for config in configs {
        g.scenario(&format!(
            "a seeded trace of {RANDOM_HITS} requests against the model: {config}"
        ));
        let mut rng = g.rng().fork(window_ms);
        let hits = random_trace(&mut rng, config);
        run(
            g,
            config,
            &hits,
            "a seeded random trace: bursts, pauses, window edges and requests at the exact end of a wait",
        )?;
    }
    Ok(())
}

/// Hits over a few keys, aimed (with a copy of the model) at window edges and at the ends of waits.
fn random_trace(rng: &mut Rng, config: Config) -> Vec<(String, u64)> {
    let span = match config {
        Config::FixedWindow { window_ms, .. }
        | Config::SlidingLog { window_ms, .. }
        | Config::SlidingWindowCounter { window_ms, .. } => window_ms,
        Config::LeakyBucket { interval_ms, .. } => interval_ms,
    };
    let keys: Vec<String> = (0..rng.range(1, 3)).map(|_| rng.word(4)).collect();
    let mut model = Model::new(config);
    let mut now: BTreeMap<String, u64> = BTreeMap::new();
    let mut waits: BTreeMap<String, u64> = BTreeMap::new();
    let t0 = start(rng, 1000);
    let mut hits = Vec::with_capacity(RANDOM_HITS);
    for _ in 0..RANDOM_HITS {
        let key = rng.pick(&keys).clone();
        let t = now.entry(key.clone()).or_insert(t0);
        *t = match rng.below(10) {
            0..=2 => *t,
            3..=4 => *t + rng.range(1, span / 4 + 1),
            5 => *t + rng.range(span, 3 * span),
            6 => (*t / span + 1) * span - u64::from(rng.chance(1, 2)),
            _ => match waits.get(&key) {
                Some(&ready) => (*t).max(ready - u64::from(rng.chance(1, 3))),
                None => *t + rng.below(span / 2 + 1),
            },
        };
        let at = *t;
        match model.check(&key, at).0 {
            Decision::Deny { retry_after_ms } => waits.insert(key.clone(), at + retry_after_ms),
            Decision::Allow { .. } => waits.remove(&key),
        };
        hits.push((key, at));
    }
    hits
}

/// Starts the program with `config`, sends every hit, and compares each answer with the model.
fn run(g: &mut Grading, config: Config, hits: &[(String, u64)], note: &str) -> Result<(), Failure> {
    let args = config.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut program = g.stdio_with(&args, &[])?;
    let mut model = Model::new(config);
    let mut history: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, now) in hits {
        let reply = program.request(&json!({"op": "hit", "key": key, "now": now}))?;
        let (decision, story) = model.check(key, *now);
        let expected = match decision {
            Decision::Allow { delay_ms } => json!({"allowed": true, "delay_ms": delay_ms}),
            Decision::Deny { retry_after_ms } => {
                json!({"allowed": false, "retry_after_ms": retry_after_ms})
            }
        };
        if reply != expected {
            return Err(explain(
                config, key, *now, decision, &expected, &reply, &story, &history, note,
            ));
        }
        let past = history.entry(key.clone()).or_default();
        if past.len() == 5 {
            past.remove(0);
        }
        past.push(format!("[{now} → {}]", short(decision)));
    }
    drop(program);
    Ok(())
}

fn short(decision: Decision) -> String {
    match decision {
        Decision::Allow { delay_ms: 0 } => "allowed".to_string(),
        Decision::Allow { delay_ms } => format!("allowed, delay {delay_ms}"),
        Decision::Deny { retry_after_ms } => format!("refused, retry after {retry_after_ms}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn explain(
    config: Config,
    key: &str,
    now: u64,
    decision: Decision,
    expected: &Value,
    reply: &Value,
    story: &str,
    history: &BTreeMap<String, Vec<String>>,
    note: &str,
) -> Failure {
    let got_allowed = reply.get("allowed").and_then(Value::as_bool);
    let rule = match (decision, got_allowed) {
        (Decision::Allow { .. }, Some(false)) => format!("the {config} allows this request"),
        (Decision::Deny { .. }, Some(true)) => format!("the {config} refuses this request"),
        (Decision::Deny { .. }, Some(false)) => format!(
            "retry_after_ms is the exact wait until the same request would be allowed (if nothing else happens), no \
             earlier, no later: {}",
            match config {
                Config::FixedWindow { .. } => "the end of the aligned window",
                Config::SlidingLog { .. } => {
                    "when the oldest logged request stops counting at exactly its time + the window"
                }
                Config::SlidingWindowCounter { .. } => {
                    "the earliest millisecond at which the weighted estimate drops below the limit, in this window or \
                     the next"
                }
                Config::LeakyBucket { .. } => "when the request would wait no more than capacity × interval",
            }
        ),
        (Decision::Allow { .. }, Some(true)) => match config {
            Config::LeakyBucket { .. } => "delay_ms is how long the request waits in the queue: it leaves at \
                                           max(now, previous departure + interval)"
                .to_string(),
            _ => "a window algorithm lets a request through at once: delay_ms is 0".to_string(),
        },
        _ => "each answer is {\"allowed\": true, \"delay_ms\": N} or {\"allowed\": false, \"retry_after_ms\": N}"
            .to_string(),
    };
    let mut failure = Failure::new(rule)
        .expected(expected.to_string())
        .got(reply.to_string())
        .detail(format!("the request: key `{key}`, now {now}"))
        .detail(format!("the exact model ({config}): {story}"));
    if let Some(past) = history.get(key) {
        failure = failure.detail(format!(
            "the previous requests of key `{key}`: {}",
            past.join(" ")
        ));
    }
    failure.detail(format!("this scenario: {note}"))
}
