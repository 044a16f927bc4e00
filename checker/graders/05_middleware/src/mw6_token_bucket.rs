//! Grader of `mw6_token_bucket`: a per-key token bucket served over HTTP, time from `X-Fake-Now`.
//!
//! Every request the grader sends is also applied to an exact model ([`model`]: integer milli-tokens), and
//! the whole response is compared: the status (200 granted and passed on to the application, 429 refused
//! for now, 400 for a cost no wait can cover), `Retry-After` / `Retry-After-Ms` on a 429 only, and
//! `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` on all three. The scenarios go from a
//! single burst to seeded random traces that aim at the exact millisecond a token becomes available, where
//! a float bucket or a rounded-down wait gives itself away.

mod model;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server};

use crate::support::{self, KeepAlive};
use model::{Config, Decision, Model, Outcome, tokens};

/// Fake unix time the traces start near (November 2023), plus a seeded offset.
const EPOCH_MS: u64 = 1_700_000_000_000;
/// Refill rates that do not divide 1000: the wait for one token is a fraction of a millisecond away from a
/// whole number, so it must be rounded, and a float bucket drifts.
const AWKWARD_RATES: [u64; 9] = [3, 7, 9, 11, 13, 17, 19, 23, 33];
/// Refill rates whose per-millisecond share is a decimal fraction with no exact binary form (0.1, 0.05, …):
/// the `0.1 + 0.2 != 0.3` of token buckets.
const DECIMAL_RATES: [u64; 6] = [5, 20, 25, 40, 50, 100];
/// Every rate the random traces may use.
const RATES: [u64; 16] = [
    1, 2, 3, 5, 7, 9, 13, 20, 33, 99, 100, 250, 333, 997, 1000, 1500,
];
/// The path every request asks for; a granted request is answered by the application with `served PATH`.
const PATH: &str = "/v1/orders";
/// How many distinct keys the isolation scenario uses.
const MANY_KEYS: usize = 1000;
/// How many exchanges a failure report shows (the framework keeps 8).
const RECENT: usize = 8;
/// How many one-millisecond steps the drift scenario takes.
const DRIFT_STEPS: u64 = 30_000;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    clock_standing_still(g)?;
    burst_then_exact_refill(g)?;
    long_idle(g)?;
    clock_going_backwards(g)?;
    cost_over_capacity(g)?;
    keys_are_isolated(g)?;
    no_drift(g)?;
    random_traces(g)
}

fn start_time(rng: &mut Rng) -> u64 {
    EPOCH_MS + rng.below(100_000_000_000)
}

fn awkward_config(rng: &mut Rng, capacity_low: u64, capacity_high: u64) -> Config {
    Config {
        capacity: rng.range(capacity_low, capacity_high),
        refill_per_sec: *rng.pick(&AWKWARD_RATES),
    }
}

fn burst_then_exact_refill(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a burst empties the bucket, then it refills to the exact millisecond");
    // More tokens than the rate: a full refill takes over a second, so RateLimit-Reset tells things apart.
    let refill_per_sec = *g.rng().pick(&AWKWARD_RATES[..4]);
    let config = Config {
        capacity: refill_per_sec + g.rng().range(1, 5),
        refill_per_sec,
    };
    let t0 = start_time(g.rng());
    let mut s = Session::start(g, config, t0, "")?;

    let malformed = Request::get(PATH).header("X-Api-Key", "alice");
    let response = s.send_raw(&malformed)?;
    if response.status != 400 || response.header("RateLimit-Limit").is_some() {
        return Err(Failure::new(
            "a request without X-Fake-Now cannot be rate limited: it gets 400, and touches no bucket \
             (so no RateLimit-* headers)",
        )
        .expected("400 without RateLimit-Limit")
        .got(summary(&response)));
    }

    s.note = "a burst of the whole capacity at one instant, then requests at the exact millisecond the next \
              token is (or is not yet) there"
        .to_string();
    let burst: Vec<Call> = (0..config.capacity)
        .map(|_| Call::new("alice", 1, t0))
        .collect();
    s.calls(&burst)?;
    let wait = s.call(Call::new("alice", 1, t0))?.wait();
    s.call(Call::new("alice", 1, t0 + wait - 1))?;
    s.call(Call::new("alice", 1, t0 + wait))?;
    let next = s.call(Call::new("alice", 1, t0 + wait))?.wait();
    s.call(Call::new("alice", 1, t0 + wait + next))?;
    // A cost of 2 waits for two tokens' worth, minus what has accumulated.
    let two = s.call(Call::new("alice", 2, t0 + wait + next + 1))?.wait();
    s.call(Call::new("alice", 2, t0 + wait + next + 1 + two - 1))?;
    s.call(Call::new("alice", 2, t0 + wait + next + 1 + two))?;
    Ok(())
}

fn clock_standing_still(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a clock that stands still earns nothing, and a refused request takes nothing");
    let config = awkward_config(g.rng(), 2, 6);
    let t0 = start_time(g.rng());
    let note = "X-Fake-Now repeats: no time passes, so the bucket earns nothing; and a refused request \
                must leave the bucket as it was";
    let mut s = Session::start(g, config, t0, note)?;
    s.call(Call::new("bob", config.capacity, t0))?;
    let repeats: Vec<Call> = (0..20).map(|_| Call::new("bob", 1, t0)).collect();
    let wait = s.calls(&repeats)?[0].wait();
    let halfway: Vec<Call> = (0..10)
        .map(|_| Call::new("bob", 1, t0 + wait / 2))
        .collect();
    s.calls(&halfway)?;
    s.call(Call::new("bob", 1, t0 + wait - 1))?;
    s.call(Call::new("bob", 1, t0 + wait))?;
    s.call(Call::new("bob", 1, t0 + wait))?;
    Ok(())
}

fn clock_going_backwards(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a clock going backwards mints no tokens");
    let config = awkward_config(g.rng(), 1, 5);
    let t0 = start_time(g.rng());
    let note = "X-Fake-Now went backwards: a request stamped earlier than the latest time the bucket has \
                seen is treated as arriving at that latest time. It earns nothing, its wait counts from \
                that latest time, and the bucket's clock does not move back (or the next request would \
                earn the same interval twice)";
    let mut s = Session::start(g, config, t0, note)?;
    let t = t0 + 60_000;
    s.call(Call::new("carol", config.capacity, t))?;
    let wait = s.call(Call::new("carol", 1, t))?.wait();
    // Far enough back that a bucket whose clock moved back would earn a whole token on the way forward.
    let back = 10 * wait + s.rng.range(1, 50_000);
    s.call(Call::new("carol", 1, t - back))?;
    s.call(Call::new("carol", 1, t - back / 2))?;
    s.call(Call::new("carol", 1, t))?;
    s.call(Call::new("carol", 1, t + wait - 1))?;
    s.call(Call::new("carol", 1, t + wait))?;
    // Backwards again, from a bucket that holds a fraction of a token.
    let partial = s.call(Call::new("carol", 1, t + wait + 1))?.wait();
    s.call(Call::new("carol", 1, t + wait + 1 - back))?;
    s.call(Call::new("carol", 1, t + wait + 1 + partial))?;
    Ok(())
}

fn long_idle(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("after a long idle the bucket holds its capacity, not one token more");
    let config = Config {
        capacity: g.rng().range(2, 10),
        refill_per_sec: *g.rng().pick(&[7, 99, 1000, 1500]),
    };
    let t0 = start_time(g.rng());
    let note = "after a long silence the bucket is full: it never holds more than its capacity, however \
                long the idle time";
    let mut s = Session::start(g, config, t0, note)?;
    s.call(Call::new("dave", config.capacity, t0))?;
    let day = 24 * 3600 * 1000;
    let idle = s.rng.range(day, 60 * day);
    let burst: Vec<Call> = (0..=config.capacity)
        .map(|_| Call::new("dave", 1, t0 + idle))
        .collect();
    s.calls(&burst)?;
    let idle_again = s.rng.range(3_600_000, day);
    s.call(Call::new("dave", config.capacity, t0 + idle + idle_again))?;
    s.call(Call::new("dave", 1, t0 + idle + idle_again))?;
    Ok(())
}

fn cost_over_capacity(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a cost over the capacity is never granted, and takes nothing");
    let config = awkward_config(g.rng(), 2, 10);
    let t0 = start_time(g.rng());
    let note = "a cost above the capacity can never be granted, however long the client waits: the \
                contract answers 400 with the RateLimit-* headers and no Retry-After (a 429 would tell the \
                client to come back, forever), and takes no tokens";
    let mut s = Session::start(g, config, t0, note)?;
    let capacity = config.capacity;
    s.call(Call::new("erin", capacity + 1, t0))?;
    s.call(Call::new("erin", capacity * 10 + 3, t0))?;
    s.call(Call::new("erin", capacity, t0))?;
    s.call(Call::new("erin", capacity + 1, t0 + 1))?;
    let wait = s.call(Call::new("erin", capacity, t0 + 2))?.wait();
    s.call(Call::new("erin", capacity + 1, t0 + 2 + wait))?;
    s.call(Call::new("erin", capacity, t0 + 2 + wait))?;
    Ok(())
}

fn keys_are_isolated(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("1000 keys have 1000 separate buckets");
    let config = awkward_config(g.rng(), 1, 4);
    let t0 = start_time(g.rng());
    let note =
        "each X-Api-Key has its own bucket: what one key spends is invisible to every other key";
    let mut s = Session::start(g, config, t0, note)?;
    let mut keys: Vec<String> = (0..MANY_KEYS)
        .map(|i| format!("key-{i:04}-{}", s.rng.word(4)))
        .collect();
    s.rng.shuffle(&mut keys);
    let drain: Vec<Call> = keys
        .iter()
        .map(|k| Call::new(k, config.capacity, t0))
        .collect();
    s.calls(&drain)?;
    s.rng.shuffle(&mut keys);
    let refused: Vec<Call> = keys.iter().map(|k| Call::new(k, 1, t0 + 1)).collect();
    let wait = s.calls(&refused)?[0].wait();
    let back: Vec<Call> = keys[..MANY_KEYS / 2]
        .iter()
        .map(|k| Call::new(k, 1, t0 + 1 + wait))
        .collect();
    s.calls(&back)?;
    Ok(())
}

fn random_traces(g: &mut Grading) -> Result<(), Failure> {
    for round in 1..=3 {
        g.scenario(&format!(
            "seeded random trace {round} of 3 against the exact model"
        ));
        let config = Config {
            capacity: g.rng().range(1, 20),
            refill_per_sec: *g.rng().pick(&RATES),
        };
        let t0 = start_time(g.rng());
        let note = "a seeded random trace: bursts, pauses, costs above 1, the clock standing still or going \
                    back, and requests at the exact millisecond a wait ends (or one before)";
        let mut s = Session::start(g, config, t0, note)?;
        let trace = random_trace(&mut s.rng, config, t0, 500);
        s.calls(&trace)?;
    }
    Ok(())
}

/// A trace of `length` requests over a few keys, generated against its own copy of the model so that some
/// requests land exactly when a wait ends.
fn random_trace(rng: &mut Rng, config: Config, t0: u64, length: usize) -> Vec<Call> {
    let keys: Vec<String> = (0..rng.range(1, 4)).map(|_| rng.word(5)).collect();
    let mut model = Model::new(config);
    let mut pending: BTreeMap<String, u64> = BTreeMap::new();
    let mut now = t0;
    let mut trace = Vec::with_capacity(length);
    for _ in 0..length {
        let key = rng.pick(&keys).clone();
        match rng.below(100) {
            0..=19 => {}
            20..=54 => now += rng.range(1, 300),
            55..=69 => now += rng.range(300, 5_000),
            70..=72 => now += rng.range(5_000, 100_000_000),
            73..=77 => now = now.saturating_sub(rng.range(1, 5_000)).max(t0),
            _ => {
                // Aim at the millisecond this key's last wait ends, or the one before it.
                if let Some(&ready) = pending.get(&key) {
                    let target = ready - u64::from(rng.chance(1, 3));
                    now = now.max(target);
                }
            }
        }
        let cost = match rng.below(100) {
            0..=69 => 1,
            70..=94 => rng.range(1, config.capacity),
            _ => config.capacity + rng.range(1, 3),
        };
        let decision = model.call(&key, cost, now);
        match decision.outcome {
            Outcome::Wait { ms } => pending.insert(key.clone(), decision.as_of_ms + ms),
            _ => pending.remove(&key),
        };
        let mut call = Call::new(&key, cost, now);
        call.explicit_cost = cost == 1 && rng.chance(1, 4);
        trace.push(call);
    }
    trace
}

fn no_drift(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(&format!(
        "no drift over {DRIFT_STEPS} one-millisecond refills"
    ));
    let config = Config {
        capacity: g.rng().range(1, 3),
        refill_per_sec: *g.rng().pick(&DECIMAL_RATES),
    };
    let t0 = start_time(g.rng());
    let note = format!(
        "one request every millisecond for {} s: at {} tokens/s the bucket earns {} milli-tokens per \
         millisecond, exactly; a bucket counting in floats drifts away from the exact count until it \
         refuses a token it holds, or grants one it does not",
        DRIFT_STEPS / 1000,
        config.refill_per_sec,
        config.refill_per_sec
    );
    let mut s = Session::start(g, config, t0, &note)?;
    let trace: Vec<Call> = (1..=DRIFT_STEPS)
        .map(|ms| Call::new("frank", 1, t0 + ms))
        .collect();
    s.calls(&trace)?;
    Ok(())
}

/// One request of a trace.
#[derive(Debug, Clone)]
struct Call {
    key: String,
    cost: u64,
    now_ms: u64,
    /// Send `X-Cost: 1` instead of leaving the default to the program.
    explicit_cost: bool,
}

impl Call {
    fn new(key: &str, cost: u64, now_ms: u64) -> Self {
        Call {
            key: key.to_string(),
            cost,
            now_ms,
            explicit_cost: false,
        }
    }

    fn request(&self) -> Request {
        let request = Request::get(PATH)
            .header("X-Api-Key", &self.key)
            .header("X-Fake-Now", &self.now_ms.to_string());
        if self.cost != 1 || self.explicit_cost {
            request.header("X-Cost", &self.cost.to_string())
        } else {
            request
        }
    }
}

impl Decision {
    /// The wait of a refused request (0 otherwise), for scenarios that aim at the end of a wait.
    fn wait(&self) -> u64 {
        match self.outcome {
            Outcome::Wait { ms } => ms,
            _ => 0,
        }
    }
}

/// One running program with one keep-alive connection, the model it is compared with, and what the
/// report needs to tell the story of a failure.
struct Session {
    server: Server,
    connection: KeepAlive,
    config: Config,
    model: Model,
    t0: u64,
    rng: Rng,
    /// The scenario's contract in plain words, added to a failure.
    note: String,
    /// The last few requests of each key, with the status that came back.
    history: BTreeMap<String, Vec<(Call, u16)>>,
    /// The last exchanges, put in the transcript only when a check fails (recording all is slow).
    recent: VecDeque<(Request, Response)>,
}

impl Session {
    fn start(g: &mut Grading, config: Config, t0: u64, note: &str) -> Result<Self, Failure> {
        let args = config.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = g.server_with(&args, &[])?;
        let connection = KeepAlive::open(&mut server)?;
        let rng = g.rng().fork(t0);
        Ok(Session {
            server,
            connection,
            config,
            model: Model::new(config),
            t0,
            rng,
            note: note.to_string(),
            history: BTreeMap::new(),
            recent: VecDeque::new(),
        })
    }

    fn send_raw(&mut self, request: &Request) -> Result<Response, Failure> {
        let response = self.connection.send(&mut self.server, request)?;
        support::record(&self.server, request, &response);
        Ok(response)
    }

    fn call(&mut self, call: Call) -> Result<Decision, Failure> {
        Ok(self.calls(std::slice::from_ref(&call))?[0])
    }

    /// Sends `calls` in order on the connection and checks every response against the model.
    fn calls(&mut self, calls: &[Call]) -> Result<Vec<Decision>, Failure> {
        let requests: Vec<Request> = calls.iter().map(Call::request).collect();
        let responses = self.connection.send_all(&mut self.server, &requests)?;
        let mut decisions = Vec::with_capacity(calls.len());
        for ((call, request), response) in calls.iter().zip(requests).zip(responses) {
            let previous = self.model.last_seen(&call.key);
            let decision = self.model.call(&call.key, call.cost, call.now_ms);
            let checked = check(self.config, &decision, &response);
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            let status = response.status;
            self.recent.push_back((request, response));
            if let Err(rule) = checked {
                for (request, response) in &self.recent {
                    support::record(&self.server, request, response);
                }
                let response = &self.recent.back().expect("just pushed").1;
                return Err(self.explain(rule, call, previous, &decision, response));
            }
            let history = self.history.entry(call.key.clone()).or_default();
            if history.len() == 4 {
                history.remove(0);
            }
            history.push((call.clone(), status));
            decisions.push(decision);
        }
        Ok(decisions)
    }

    /// Turns a broken rule into the story the learner reads.
    fn explain(
        &self,
        rule: String,
        call: &Call,
        previous: Option<u64>,
        decision: &Decision,
        response: &Response,
    ) -> Failure {
        let mut failure = Failure::new(rule)
            .expected(expected_summary(self.config, decision))
            .got(summary(response))
            .detail(format!(
                "the request: key `{}`, cost {}, X-Fake-Now {} ({})",
                call.key,
                call.cost,
                call.now_ms,
                self.at(call.now_ms)
            ))
            .detail(format!(
                "the exact model ({}): {}",
                self.config,
                model_story(self, call, previous, decision)
            ));
        if let Some(history) = self.history.get(&call.key) {
            let mut line = format!("the previous requests of key `{}`:", call.key);
            for (earlier, status) in history {
                let _ = write!(
                    line,
                    " [{}, cost {} → {status}]",
                    self.at(earlier.now_ms),
                    earlier.cost
                );
            }
            failure = failure.detail(line);
        }
        if !self.note.is_empty() {
            failure = failure.detail(format!("this scenario: {}", self.note));
        }
        failure
    }

    /// A time as an offset from the scenario's start, which reads better than 13 digits.
    fn at(&self, ms: u64) -> String {
        if ms >= self.t0 {
            format!("t0 + {} ms", ms - self.t0)
        } else {
            format!("t0 − {} ms", self.t0 - ms)
        }
    }
}

/// What the model's state says about this request, in words.
fn model_story(s: &Session, call: &Call, previous: Option<u64>, decision: &Decision) -> String {
    let mut story = match previous {
        None => format!("key `{}` is new: its bucket starts full", call.key),
        Some(last) if call.now_ms < last => format!(
            "the clock went back {} ms from the latest time this bucket saw ({}): it earns nothing, and \
             stays as of {}",
            last - call.now_ms,
            s.at(last),
            s.at(last)
        ),
        Some(last) => format!(
            "{} ms since this bucket's latest time ({})",
            call.now_ms - last,
            s.at(last)
        ),
    };
    let held = tokens(decision.milli_before);
    let _ = match decision.outcome {
        Outcome::Granted => write!(
            story,
            "; it holds {held} tokens, enough for a cost of {}: granted, {} left",
            call.cost,
            tokens(decision.milli_before - call.cost * 1000)
        ),
        Outcome::Wait { ms } => write!(
            story,
            "; it holds {held} tokens, not enough for a cost of {}: the missing {} tokens take {} ms \
             at {} milli-tokens per millisecond (rounded up)",
            call.cost,
            tokens(call.cost * 1000 - decision.milli_before),
            ms,
            s.config.refill_per_sec
        ),
        Outcome::OverCapacity => write!(
            story,
            "; a cost of {} is more than the capacity of {}: it can never be granted",
            call.cost, s.config.capacity
        ),
    };
    story
}

/// Compares a response with the contract; the `Err` is the broken rule in plain words.
fn check(config: Config, decision: &Decision, response: &Response) -> Result<(), String> {
    let expected_status = match decision.outcome {
        Outcome::Granted => 200,
        Outcome::Wait { .. } => 429,
        Outcome::OverCapacity => 400,
    };
    if response.status != expected_status {
        return Err(match (decision.outcome, response.status) {
            (Outcome::Granted, _) => "the bucket holds enough tokens for this request: it must be granted \
                                      (passed on to the application, which answers 200)"
                .to_string(),
            (Outcome::Wait { .. }, 200) => "the bucket holds fewer tokens than this request costs: it must be \
                                            refused with 429 (granting it lets the client go over its rate)"
                .to_string(),
            (Outcome::Wait { .. }, _) => "the cost fits in the bucket's capacity, it is only too early: the \
                                          answer is 429 with the wait, not another status"
                .to_string(),
            (Outcome::OverCapacity, _) => "a cost over the capacity can never be granted: the answer is 400, \
                                           never 200, and never 429 (a Retry-After would be a lie)"
                .to_string(),
        });
    }
    let (retry_after_ms, retry_after) = match decision.outcome {
        Outcome::Wait { ms } => (Some(ms.to_string()), Some(ms.div_ceil(1000).to_string())),
        _ => (None, None),
    };
    let fields = [
        (
            "Retry-After-Ms",
            retry_after_ms,
            "Retry-After-Ms is the exact wait: the missing milli-tokens divided by the refill rate, \
             rounded up to the millisecond (and only on a 429)",
        ),
        (
            "Retry-After",
            retry_after,
            "Retry-After is the wait in whole seconds, rounded up (a client that comes back sooner is \
             refused again), and only on a 429",
        ),
        (
            "RateLimit-Limit",
            Some(config.capacity.to_string()),
            "RateLimit-Limit is the bucket's capacity",
        ),
        (
            "RateLimit-Remaining",
            Some(decision.remaining.to_string()),
            "RateLimit-Remaining is the whole tokens left after this request, rounded down",
        ),
        (
            "RateLimit-Reset",
            Some(decision.reset_ms.div_ceil(1000).to_string()),
            "RateLimit-Reset is the seconds until the bucket is full again, rounded up (0 when full)",
        ),
    ];
    for (name, expected, rule) in fields {
        if response.header(name) != expected.as_deref() {
            return Err(rule.to_string());
        }
    }
    let served = format!("served {PATH}\n");
    if decision.outcome == Outcome::Granted && response.body != served.as_bytes() {
        return Err(
            "a granted request is passed on to the application (`next`), whose answer goes back as it is"
                .to_string(),
        );
    }
    Ok(())
}

/// The response the contract requires, in the form of [`summary`].
fn expected_summary(config: Config, decision: &Decision) -> String {
    let (status, retry) = match decision.outcome {
        Outcome::Granted => ("200".to_string(), "no Retry-After".to_string()),
        Outcome::Wait { ms } => (
            "429".to_string(),
            format!("Retry-After: {} · Retry-After-Ms: {ms}", ms.div_ceil(1000)),
        ),
        Outcome::OverCapacity => ("400".to_string(), "no Retry-After".to_string()),
    };
    format!(
        "{status} · {retry} · RateLimit-Limit: {} · RateLimit-Remaining: {} · RateLimit-Reset: {}",
        config.capacity,
        decision.remaining,
        decision.reset_ms.div_ceil(1000)
    )
}

/// A response's status and the limiter's headers, side by side with [`expected_summary`].
fn summary(response: &Response) -> String {
    let show = |name: &str| match response.header(name) {
        Some(value) => format!("{name}: {value}"),
        None => format!("no {name}"),
    };
    let retry = match (
        response.header("Retry-After"),
        response.header("Retry-After-Ms"),
    ) {
        (None, None) => "no Retry-After".to_string(),
        _ => format!("{} · {}", show("Retry-After"), show("Retry-After-Ms")),
    };
    format!(
        "{} · {retry} · {} · {} · {} · body {:?}",
        response.status,
        show("RateLimit-Limit"),
        show("RateLimit-Remaining"),
        show("RateLimit-Reset"),
        response.text()
    )
}
