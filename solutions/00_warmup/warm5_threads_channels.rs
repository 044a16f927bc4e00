//! # Warm-up 5: threads and channels — a fixed-size worker pool
//!
//! A backend is full of work that should not run on the thread that accepted it: resizing an upload, sending
//! an email, calling a slow partner API. The classic answer is a *worker pool*: a fixed number of threads
//! take jobs from a shared queue, so a burst of a thousand jobs runs four at a time instead of starting a
//! thousand threads (each with its own stack, all fighting for the same cores and the same database).
//!
//! In std Rust the queue is an `mpsc` channel. There is one `Sender` (the submitting side) and one
//! `Receiver`, which cannot be cloned, so the workers share it as `Arc<Mutex<Receiver<Job>>>`: a worker locks,
//! takes one job, *unlocks*, and only then runs it. Results go into an `Arc<Mutex<Vec<_>>>` the pool reads back
//! at the end.
//!
//! Shutting down cleanly is the part people get wrong. `recv()` returns `Err` only once *every* `Sender` is
//! gone and the queue is empty, so: drop the sender (no more jobs), then `join` every worker (each finishes the
//! queue and sees `Err`), and only then read the results.
//!
//! ## Why it matters in production
//!
//! Bounded concurrency protects what is behind the pool (a database with 20 connections, a partner with a rate
//! limit) and keeps memory flat under bursts. A pool that cannot shut down hangs every deploy; one that
//! shuts down too early loses the jobs still in the queue.
//!
//! ## Pitfalls
//!
//! - `while let Ok(job) = receiver.lock().unwrap().recv() { .. }` keeps the lock for the whole loop body (a
//!   temporary in a `while let` condition lives until the end of the body), so only one job ever runs at a
//!   time. Take the job in its own statement, so the guard is dropped before the work starts.
//! - Joining the workers while a `Sender` is still alive: they wait for more jobs forever, and so do you.
//! - Reading the results before the workers finished: the last jobs are missing.
//! - `thread::spawn` per job is not a pool: nothing bounds how many run at once.
//!
//! Roadmap: thread pools and concurrency patterns; channels (Go's goroutines and channels, in std Rust).
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is a job `{"id":N,"ms":M,"input":TEXT}`. The pool has exactly [`WORKERS`] workers,
//! numbered `0..WORKERS`. A worker reports `{"event":"start","id":N,"worker":W}` right before it runs a job and
//! `{"event":"end","id":N,"worker":W,"result":R}` right after, where `R` is what [`work`] returns. So at any point
//! of the output at most 4 jobs are between their start and their end, each worker runs one job at a time, and
//! when many slow jobs are queued several run at once. At the end of the input the program finishes every job,
//! prints `{"event":"done","results":[{"id":N,"result":R},...]}` (every job exactly once, by id) and exits.

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
        for worker in self.workers {
            worker.join().expect("a worker panicked");
        }
        std::mem::take(&mut *self.results.lock().expect("a worker panicked"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, ms: u64) -> Job {
        Job {
            id,
            ms,
            input: format!("job-{id}"),
        }
    }

    // Every submitted job comes back exactly once, with the result `work` computes.
    #[test]
    fn every_job_runs_once() {
        let pool = ThreadPool::new(WORKERS);
        let jobs: Vec<Job> = (0..50).map(|id| job(id, 0)).collect();
        for j in &jobs {
            pool.submit(j.clone());
        }
        let mut results = pool.shutdown();
        results.sort_by_key(|r| r.id);
        let expected: Vec<JobResult> = jobs
            .iter()
            .map(|j| JobResult {
                id: j.id,
                result: work(j),
            })
            .collect();
        assert_eq!(results, expected);
    }

    // Shutting down an idle pool returns at once (no worker is left waiting for a job).
    #[test]
    fn idle_pool_shuts_down() {
        assert!(ThreadPool::new(WORKERS).shutdown().is_empty());
    }

    // Jobs run side by side: four 100 ms jobs on four workers take far less than 400 ms.
    #[test]
    fn jobs_run_in_parallel() {
        let started = std::time::Instant::now();
        let pool = ThreadPool::new(WORKERS);
        for id in 0..4 {
            pool.submit(job(id, 100));
        }
        assert_eq!(pool.shutdown().len(), 4);
        assert!(
            started.elapsed() < Duration::from_millis(350),
            "took {:?}",
            started.elapsed()
        );
    }
}
