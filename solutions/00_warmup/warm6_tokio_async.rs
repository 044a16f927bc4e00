//! # Warm-up 6: async with tokio — fan-out with timeouts, and an actor that owns its state
//!
//! A request handler that needs data from five backends should not call them one after the other: if each
//! takes 100 ms, the user waits 500 ms for what could take 100. With async Rust the handler starts all five
//! calls, lets them wait *together*, and collects the answers — and gives each call a deadline, because a
//! backend that never answers must not hold the request hostage (Go does this with `context.WithTimeout`).
//!
//! Two tools do it in tokio:
//!
//! - `tokio::spawn(fut)` runs a future as its own task and returns a `JoinHandle` to await its output later;
//!   spawn every call first, then await the handles (or use a `tokio::task::JoinSet`).
//! - `tokio::time::timeout(duration, fut)` (or `tokio::select!` between the future and a `sleep`) returns
//!   `Err(Elapsed)` if the future did not finish in time; the unfinished future is dropped, which cancels it.
//!
//! The second half is shared state without locks: the *actor* pattern. One task owns the data (here a map of
//! counters) and receives commands on an `mpsc` channel; each command carries a `oneshot::Sender` for its
//! reply. Since only the actor touches the map, every command is applied whole, one at a time: there is no
//! lock to forget and no interleaving to reason about. Clones of the sending handle can be given to any task.
//!
//! ## Why it matters in production
//!
//! Latency is set by the slowest thing you wait for *in sequence*. Fan-out with per-call timeouts is how an
//! API gateway or a search page keeps its latency near the slowest single dependency, and fails fast when one
//! is down. Actors (and their cousins, single-writer queues) are how connection managers, rate limiters and
//! in-process caches stay consistent under thousands of concurrent requests.
//!
//! ## Pitfalls
//!
//! - Futures are lazy: `let futs: Vec<_> = jobs.iter().map(call).collect(); for f in futs { f.await; }` runs
//!   the calls *one after the other*. Only spawned tasks (or a joined set of futures) run together.
//! - One timeout around the whole batch is not a timeout per call: when it fires, every call is lost, the fast
//!   ones included.
//! - A read-modify-write split across two messages (`get`, then `set`) is a race even inside an actor: other
//!   commands run between them and updates get lost. Send the *operation* (`add`), not the new value.
//! - This program runs on tokio's paused clock (see `main`): `sleep` advances virtual time instantly, so use
//!   `tokio::time` (never `std::thread::sleep`, which blocks the only thread of the runtime).
//!
//! Roadmap: async I/O and background tasks; goroutines, channels and context (timeouts, cancellation).
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is one request; the reply's `elapsed_ms` is the virtual time the request took.
//!
//! - `{"op":"fan_out","timeout_ms":T,"jobs":[{"id":N,"ms":M},...]}` → `{"outcomes":[{"id":N,"outcome":O},...],
//!   "elapsed_ms":E}`: every job is a call to [`call_backend`], all running at the same time, each with its own
//!   timeout of `T` ms; `O` is `"ok"` if the call finished first and `"timeout"` if the timeout did, in the order
//!   of the jobs. So `E` is the longest of the calls (or `T`), not their sum.
//! - `{"op":"apply","ops":[{"key":K,"delta":D,"after_ms":A},...]}` → `{"values":[V,...],"elapsed_ms":E}`: every
//!   op runs as its own task that waits `A` ms, then adds `D` to counter `K` (counters start at 0) through the
//!   actor; `V` is the counter's value right after that op, in the order of the ops. All ops run at the same
//!   time, so `E` is the largest `A`.
//! - `{"op":"snapshot"}` → `{"counters":{K:V,...}}`: every counter, with every op of every request applied.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};

/// Runs every job at once, each under its own `limit`, and reports how each ended, in the order of `jobs`.
pub async fn fan_out(jobs: Vec<Job>, limit: Duration) -> Vec<Outcome> {
    let calls: Vec<_> = jobs
        .into_iter()
        .map(|job| tokio::spawn(async move { timeout(limit, call_backend(&job)).await }))
        .collect();
    let mut outcomes = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = match call.await.expect("a call panicked") {
            Ok(()) => Outcome::Ok,
            Err(_elapsed) => Outcome::Timeout,
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// What the actor can be asked to do.
enum Command {
    Add {
        key: String,
        delta: i64,
        reply: oneshot::Sender<i64>,
    },
    Snapshot {
        reply: oneshot::Sender<BTreeMap<String, i64>>,
    },
}

/// A handle to the counters actor; clone it freely.
#[derive(Clone)]
pub struct Counters {
    commands: mpsc::Sender<Command>,
}

impl Counters {
    /// Starts the actor task that owns the counters.
    pub fn spawn() -> Self {
        let (commands, receiver) = mpsc::channel(64);
        tokio::spawn(run_actor(receiver));
        Counters { commands }
    }

    /// Adds `delta` to counter `key` and returns its new value.
    pub async fn add(&self, key: &str, delta: i64) -> i64 {
        let (reply, answer) = oneshot::channel();
        let command = Command::Add {
            key: key.to_string(),
            delta,
            reply,
        };
        self.commands
            .send(command)
            .await
            .expect("the actor runs as long as the program");
        answer.await.expect("the actor always replies")
    }

    /// Every counter and its value.
    pub async fn snapshot(&self) -> BTreeMap<String, i64> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Snapshot { reply })
            .await
            .expect("the actor runs as long as the program");
        answer.await.expect("the actor always replies")
    }
}

/// The actor: the only code that touches the map. It stops when every handle is gone.
async fn run_actor(mut receiver: mpsc::Receiver<Command>) {
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    while let Some(command) = receiver.recv().await {
        match command {
            Command::Add { key, delta, reply } => {
                let value = counters.entry(key).or_insert(0);
                *value += delta;
                // The asker may have given up (timed out); that is its business, not an error here.
                let _ = reply.send(*value);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(counters.clone());
            }
        }
    }
}

/// Runs every op as its own task (wait `after_ms`, then add) and returns the values, in the order of `ops`.
pub async fn apply_all(counters: &Counters, ops: Vec<Op>) -> Vec<i64> {
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|op| {
            let counters = counters.clone();
            tokio::spawn(async move {
                sleep(Duration::from_millis(op.after_ms)).await;
                counters.add(&op.key, op.delta).await
            })
        })
        .collect();
    let mut values = Vec::with_capacity(tasks.len());
    for task in tasks {
        values.push(task.await.expect("an op panicked"));
    }
    values
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

/// A call to a slow backend.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: u64,
    pub ms: u64,
}

/// One counter update.
#[derive(Debug, Clone, Deserialize)]
pub struct Op {
    pub key: String,
    pub delta: i64,
    pub after_ms: u64,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Timeout,
}

/// The slow backend: answers after `ms` milliseconds.
pub async fn call_backend(job: &Job) {
    sleep(Duration::from_millis(job.ms)).await;
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    FanOut { timeout_ms: u64, jobs: Vec<Job> },
    Apply { ops: Vec<Op> },
    Snapshot,
}

#[derive(Serialize)]
struct JobOutcome {
    id: u64,
    outcome: Outcome,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    FanOut {
        outcomes: Vec<JobOutcome>,
        elapsed_ms: u128,
    },
    Apply {
        values: Vec<i64>,
        elapsed_ms: u128,
    },
    Snapshot {
        counters: BTreeMap<String, i64>,
    },
}

async fn handle(counters: &Counters, request: Request) -> Reply {
    let started = Instant::now();
    match request {
        Request::FanOut { timeout_ms, jobs } => {
            let ids: Vec<u64> = jobs.iter().map(|job| job.id).collect();
            let outcomes = fan_out(jobs, Duration::from_millis(timeout_ms)).await;
            let outcomes = ids
                .into_iter()
                .zip(outcomes)
                .map(|(id, outcome)| JobOutcome { id, outcome })
                .collect();
            Reply::FanOut {
                outcomes,
                elapsed_ms: started.elapsed().as_millis(),
            }
        }
        Request::Apply { ops } => {
            let values = apply_all(counters, ops).await;
            Reply::Apply {
                values,
                elapsed_ms: started.elapsed().as_millis(),
            }
        }
        Request::Snapshot => Reply::Snapshot {
            counters: counters.snapshot().await,
        },
    }
}

fn main() {
    // One thread, and a paused clock: `sleep` jumps virtual time forward as soon as every task is waiting.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let counters = runtime.block_on(async { Counters::spawn() });
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        runtime.block_on(handle(&counters, request))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(ms: &[u64]) -> Vec<Job> {
        ms.iter()
            .enumerate()
            .map(|(id, &ms)| Job { id: id as u64, ms })
            .collect()
    }

    // Calls overlap: three calls of 100, 300 and 200 ms take 300 ms of (virtual) time, not 600.
    #[tokio::test(start_paused = true)]
    async fn calls_run_together() {
        let started = Instant::now();
        let outcomes = fan_out(jobs(&[100, 300, 200]), Duration::from_secs(1)).await;
        assert_eq!(outcomes, vec![Outcome::Ok; 3]);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    // Each call has its own timeout: the slow one is cut, the fast ones still succeed.
    #[tokio::test(start_paused = true)]
    async fn each_call_has_its_own_timeout() {
        let started = Instant::now();
        let outcomes = fan_out(jobs(&[50, 5_000, 150]), Duration::from_millis(200)).await;
        assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Timeout, Outcome::Ok]);
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    // The actor applies every add whole: 1000 concurrent adds lose nothing.
    #[tokio::test(start_paused = true)]
    async fn actor_loses_no_update() {
        let counters = Counters::spawn();
        let ops = (0..1000)
            .map(|i| Op {
                key: format!("k{}", i % 3),
                delta: 1,
                after_ms: 0,
            })
            .collect();
        let values = apply_all(&counters, ops).await;
        assert_eq!(values.iter().max(), Some(&334));
        let snapshot = counters.snapshot().await;
        assert_eq!(snapshot.values().sum::<i64>(), 1000);
        assert_eq!(snapshot["k0"], 334);
    }

    // Ops wait their `after_ms` concurrently, and an earlier op sees an earlier value.
    #[tokio::test(start_paused = true)]
    async fn ops_wait_together_in_time_order() {
        let counters = Counters::spawn();
        let started = Instant::now();
        let ops = [(30, 1), (10, 10), (20, 100)]
            .into_iter()
            .map(|(after_ms, delta)| Op {
                key: "a".into(),
                delta,
                after_ms,
            })
            .collect();
        assert_eq!(apply_all(&counters, ops).await, vec![111, 10, 110]);
        assert_eq!(started.elapsed(), Duration::from_millis(30));
    }
}
