//! Does a lookup cost the same in 5 000 routes as in 50? Timing single lookups would measure the pipe and
//! JSON, not the router, so the program runs `bench` batches: the same 2 000 seeded lookups, 20 rounds, answered
//! with a checksum the grader recomputes from its reference (a batch cannot be skipped or faked). The two
//! tables live in two programs, measured in alternation, and the best batch of each is kept: load on the
//! machine slows batches down, never speeds them up. The verdict is a ratio with wide slack; a large batch that
//! does not finish in time is itself the answer.

use std::time::{Duration, Instant};

use backlings_grade::{Failure, Grading};
use serde_json::{Value, json};

use super::reference::{Reference, lookup_hash};
use super::{Session, preview, table};

/// Distinct lookups per batch.
const REQUESTS: usize = 2000;
/// Times each batch runs them: 40 000 lookups per batch.
const ROUNDS: u64 = 20;
/// Batches per table, measured in alternation.
const BATCHES: usize = 5;
/// The longest one large batch may take. The reference radix tree needs about 60 ms in a debug build; one step
/// per route costs seconds.
const BATCH_DEADLINE: Duration = Duration::from_millis(2500);
/// Stop early once the large batches have taken this long in all.
const LARGE_BUDGET: Duration = Duration::from_millis(1500);
/// The most a lookup in the large table may cost, as a multiple of one in the small table. A radix tree
/// measures about 1.5 (its paths are a little deeper); a scan of every route measures near 100.
const RATIO_LIMIT: f64 = 8.0;

/// The checksum and found count a bench of `requests` × `ROUNDS` must answer.
fn expected(reference: &Reference, requests: &[(String, String)]) -> Value {
    let (mut checksum, mut found) = (0u64, 0u64);
    for (method, path) in requests {
        let result = reference.lookup(method, path);
        found += u64::from(result.is_some());
        checksum = checksum.wrapping_add(lookup_hash(result.as_ref()));
    }
    json!({"checksum": checksum.wrapping_mul(ROUNDS), "found": found * ROUNDS})
}

/// One table's program, its batch, and its best time.
struct Side {
    session: Session,
    size: usize,
    request: Value,
    expected: Value,
    best: Option<Duration>,
}

enum Batch {
    Took(Duration),
    TimedOut,
}

impl Side {
    fn new(session: Session, size: usize, requests: &[(String, String)]) -> Self {
        let expected = expected(&session.reference, requests);
        Side {
            session,
            size,
            request: json!({"op": "bench", "requests": requests, "rounds": ROUNDS}),
            expected,
            best: None,
        }
    }

    fn batch(&mut self, deadline: Duration) -> Result<Batch, Failure> {
        let line = self.request.to_string();
        let started = Instant::now();
        self.session.program.send_line(&line)?;
        let reply = match self.session.program.recv_line_within(deadline) {
            Ok(reply) => reply,
            Err(_) if started.elapsed() >= deadline => return Ok(Batch::TimedOut),
            Err(failure) => return Err(failure),
        };
        let elapsed = started.elapsed();
        let got: Value = serde_json::from_str(&reply).unwrap_or(Value::String(reply.clone()));
        if got != self.expected {
            return Err(Failure::new(
                "a bench batch runs ordinary lookups, so its checksum and found count must match the reference's",
            )
            .expected(&self.expected)
            .got(preview(&got))
            .detail(format!(
                "the batch: {REQUESTS} seeded lookups × {ROUNDS} rounds in the {}-route table (see the provided \
                 `answer` and `lookup_hash`)",
                self.size
            )));
        }
        self.best = Some(self.best.map_or(elapsed, |best| best.min(elapsed)));
        Ok(Batch::Took(elapsed))
    }
}

fn looks_linear(small: &Side, large: Option<Duration>) -> Failure {
    let small_ms = small.best.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let got = match large {
        Some(large) => format!(
            "{:.1} ms per batch in 5000 routes against {small_ms:.1} ms in 50: {:.1} times as much",
            large.as_secs_f64() * 1000.0,
            ratio(large, small.best.unwrap_or(large))
        ),
        None => format!(
            "a batch in 5000 routes did not finish within {} ms ({small_ms:.1} ms in 50)",
            BATCH_DEADLINE.as_millis()
        ),
    };
    Failure::new(
        "a lookup in 5000 routes must cost about the same as in 50: the tree is walked once along the path, \
         whatever the number of routes",
    )
    .expected(format!("at most {RATIO_LIMIT} times the small table's time per batch"))
    .got(got)
    .detail("this looks linear in the number of routes: look for a loop over every route (or every child of a \
             node with thousands of children) inside a lookup")
}

fn ratio(large: Duration, small: Duration) -> f64 {
    large.as_secs_f64() / small.as_secs_f64().max(1e-6)
}

/// Measures both tables and compares their best batches; gives the large table's session back.
pub fn check(
    g: &mut Grading,
    large: Session,
    large_routes: &[(String, String, String)],
) -> Result<Session, Failure> {
    let small_routes = table::routes(g.rng(), table::SMALL);
    let mut small_session = Session::start(g)?;
    small_session.add_many(&small_routes)?;
    let small_requests = table::lookups(g.rng(), &small_routes, REQUESTS);
    let large_requests = table::lookups(g.rng(), large_routes, REQUESTS);
    let mut small = Side::new(small_session, table::SMALL, &small_requests);
    let mut large = Side::new(large, table::LARGE, &large_requests);
    let mut spent = Duration::ZERO;
    for batch in 0..BATCHES {
        if let Batch::TimedOut = small.batch(Duration::from_secs(5))? {
            return Err(Failure::new(format!(
                "a bench batch of {} lookups in 50 routes did not finish within 5 s",
                REQUESTS as u64 * ROUNDS
            ))
            .detail(
                "the router is far too slow even when small: look for a loop that never ends",
            ));
        }
        match large.batch(BATCH_DEADLINE)? {
            Batch::Took(elapsed) => spent += elapsed,
            Batch::TimedOut => return Err(looks_linear(&small, None)),
        }
        if batch >= 1 && spent > LARGE_BUDGET {
            break;
        }
    }
    match (small.best, large.best) {
        (Some(small_best), Some(large_best)) if ratio(large_best, small_best) > RATIO_LIMIT => {
            Err(looks_linear(&small, Some(large_best)))
        }
        _ => Ok(large.session),
    }
}
