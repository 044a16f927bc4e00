//! mutant: builds the futures, then awaits them one after the other
//! expect: overlap

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};

/// Runs every job at once, each under its own `limit`, and reports how each ended, in the order of `jobs`.
pub async fn fan_out(jobs: Vec<Job>, limit: Duration) -> Vec<Outcome> {
    let calls: Vec<_> = jobs
        .into_iter()
        .map(|job| async move { timeout(limit, call_backend(&job)).await })
        .collect();
    let mut outcomes = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = match call.await {
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
