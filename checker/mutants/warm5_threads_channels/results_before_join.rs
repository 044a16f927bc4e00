//! mutant: reads the results before waiting for the workers
//! expect: exactly once

use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many jobs may run at once.
pub const WORKERS: usize = 4;

/// A fixed set of worker threads taking jobs from one queue.
pub struct ThreadPool {
    sender: Sender<Job>,
    workers: Vec<JoinHandle<()>>,
    results: Arc<Mutex<Vec<JobResult>>>,
}

impl ThreadPool {
    /// Starts `size` workers, numbered `0..size`, waiting for jobs.
    pub fn new(size: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let results = Arc::new(Mutex::new(Vec::new()));
        let workers = (0..size)
            .map(|worker| {
                let receiver = Arc::clone(&receiver);
                let results = Arc::clone(&results);
                thread::spawn(move || run_worker(worker, &receiver, &results))
            })
            .collect();
        ThreadPool {
            sender,
            workers,
            results,
        }
    }

    /// Queues a job for the next free worker.
    pub fn submit(&self, job: Job) {
        self.sender.send(job).expect("workers live until shutdown");
    }

    /// Lets the workers finish every queued job, waits for them, and returns every result.
    pub fn shutdown(self) -> Vec<JobResult> {
        drop(self.sender);
        let results = std::mem::take(&mut *self.results.lock().expect("a worker panicked"));
        for worker in self.workers {
            worker.join().expect("a worker panicked");
        }
        results
    }
}

/// One worker: takes jobs until the queue is closed and empty.
fn run_worker(worker: usize, receiver: &Mutex<Receiver<Job>>, results: &Mutex<Vec<JobResult>>) {
    loop {
        // The guard is a temporary of this statement: the lock is released before the job runs.
        let next = receiver.lock().expect("a worker panicked").recv();
        let Ok(job) = next else { return };
        report(&Event::Start { id: job.id, worker });
        let result = work(&job);
        report(&Event::End {
            id: job.id,
            worker,
            result,
        });
        results
            .lock()
            .expect("a worker panicked")
            .push(JobResult { id: job.id, result });
    }
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

/// A job: wait `ms` milliseconds (standing in for a slow call), then hash `input`.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: u64,
    pub ms: u64,
    pub input: String,
}

/// What a job produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobResult {
    pub id: u64,
    pub result: u64,
}

/// What the program reports, one JSON line each.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Start { id: u64, worker: usize },
    End { id: u64, worker: usize, result: u64 },
    Done { results: Vec<JobResult> },
}

/// Runs a job: the slow part, then the FNV-1a 64 hash of its input.
pub fn work(job: &Job) -> u64 {
    thread::sleep(Duration::from_millis(job.ms));
    job.input.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Prints one event as a JSON line. Safe to call from any thread: lines never interleave.
pub fn report(event: &Event) {
    let line = serde_json::to_string(event).expect("events serialize");
    let mut stdout = io::stdout().lock();
    // A closed stdout means the grader has gone: nothing useful is left to do with the error.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn main() {
    let pool = ThreadPool::new(WORKERS);
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Job>(&line) {
            Ok(job) => pool.submit(job),
            Err(e) => eprintln!("skipping a line that is not a job ({e}): {line}"),
        }
    }
    let mut results = pool.shutdown();
    results.sort_by_key(|r| r.id);
    report(&Event::Done { results });
}
