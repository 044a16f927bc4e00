//! Grader of `warm5_threads_channels`: a fixed pool of 4 worker threads, observed through the start and end
//! events it prints.
//!
//! Each event line is printed by a worker under the stdout lock, so the order of the lines is an order in
//! which things really happened: replaying it gives how many jobs were running at every moment. The bound
//! (at most 4, one per worker) holds for every correct pool whatever the timing; the grader also asks that
//! several of many 30–60 ms jobs overlap, which a real pool does with a wide margin.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

const WORKERS: u64 = 4;

struct Job {
    id: u64,
    ms: u64,
    input: String,
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("no jobs: the pool shuts down at the end of input and reports no results");
    let p = g.stdio()?;
    run(p, &[], false)?;

    g.scenario("16 slow jobs run in parallel, at most 4 at a time, each exactly once");
    let mut rng = g.rng().fork(5);
    let slow = jobs(&mut rng, 16, 30, 60);
    let mut p = g.stdio()?;
    submit(&mut p, &slow)?;
    run(p, &slow, true)?;

    g.scenario("200 quick jobs: every result present exactly once, then a clean exit");
    let quick = jobs(&mut rng, 200, 0, 2);
    let mut p = g.stdio()?;
    submit(&mut p, &quick)?;
    run(p, &quick, false)?;
    Ok(())
}

fn jobs(rng: &mut Rng, count: u64, min_ms: u64, max_ms: u64) -> Vec<Job> {
    let first = rng.below(1000);
    (0..count)
        .map(|i| {
            let (ms, len) = (rng.range(min_ms, max_ms), rng.range(0, 12) as usize);
            Job {
                id: first + i * 7,
                ms,
                input: rng.word(len),
            }
        })
        .collect()
}

fn submit(p: &mut Stdio, jobs: &[Job]) -> Result<(), Failure> {
    for job in jobs {
        p.send(&json!({"id": job.id, "ms": job.ms, "input": job.input}))?;
    }
    Ok(())
}

/// FNV-1a 64, the contract's `work`.
fn fnv1a(input: &str) -> u64 {
    input.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Closes stdin, reads every event until the program exits, and replays them against the contract.
fn run(p: Stdio, jobs: &[Job], expect_parallel: bool) -> Result<(), Failure> {
    let (lines, termination) = p.finish(Duration::from_secs(10))?;
    let results: BTreeMap<u64, u64> = jobs.iter().map(|job| (job.id, fnv1a(&job.input))).collect();
    most_in_flight_ok(&lines)?;
    let mut running: BTreeMap<u64, u64> = BTreeMap::new(); // job id → worker
    let mut started = BTreeSet::new();
    let mut most_running = 0;
    let mut done = None;
    for (at, line) in lines.iter().enumerate() {
        let event: Value = serde_json::from_str(line).map_err(|_| {
            Failure::new("every stdout line is one JSON event")
                .got(line)
                .detail("debug output belongs on stderr (eprintln!)")
        })?;
        let fail =
            |rule: &str| Failure::new(rule.to_string()).got(format!("line {}: {line}", at + 1));
        ensure(done.is_none(), || {
            fail("the done event is the last line: every job has ended before it")
        })?;
        let id = event["id"].as_u64();
        let worker = event["worker"].as_u64();
        match event["event"].as_str() {
            Some("start") => {
                let (Some(id), Some(worker)) = (id, worker) else {
                    return Err(fail("a start event has a job id and a worker number"));
                };
                ensure(results.contains_key(&id), || {
                    fail("a start event names a job that was submitted")
                })?;
                ensure(running.len() < WORKERS as usize, || {
                    fail("at most 4 jobs run at once: this start made 5 jobs in flight (a thread per job is not a pool)")
                        .detail(format!("in flight before it: {:?}", running.keys().collect::<Vec<_>>()))
                })?;
                ensure(worker < WORKERS, || {
                    fail("the pool has exactly 4 workers, numbered 0 to 3")
                })?;
                ensure(started.insert(id), || {
                    fail("each job runs exactly once (this one started twice)")
                })?;
                ensure(!running.values().any(|&w| w == worker), || {
                    fail(
                        "a worker runs one job at a time: this worker started a job before ending its previous one",
                    )
                })?;
                running.insert(id, worker);
                most_running = most_running.max(running.len());
            }
            Some("end") => {
                let (Some(id), Some(worker)) = (id, worker) else {
                    return Err(fail("an end event has a job id and a worker number"));
                };
                ensure(running.get(&id) == Some(&worker), || {
                    fail("a job ends on the worker that started it, after its start")
                })?;
                running.remove(&id);
                let expected = results[&id];
                ensure(event["result"] == expected, || {
                    fail("an end event carries the job's result (what `work` returns)")
                        .expected(expected)
                })?;
            }
            Some("done") => done = Some(event["results"].clone()),
            _ => return Err(fail("events are start, end or done")),
        }
    }
    let expected: Vec<Value> = results
        .iter()
        .map(|(id, result)| json!({"id": id, "result": result}))
        .collect();
    let Some(done) = done else {
        return Err(Failure::new("after the end of input the program prints the done event with every result, then exits")
            .detail(format!("{} lines were printed, none of them the done event", lines.len()))
            .detail(format!("the program ended: {}", termination.describe())));
    };
    ensure(done == json!(expected), || {
        Failure::new("the done event lists every job's result exactly once, by id (wait for every worker before reading the results)")
            .expected(json!(expected))
            .got(&done)
    })?;
    ensure(started.len() == jobs.len() && running.is_empty(), || {
        Failure::new("every submitted job starts and ends before the done event").detail(format!(
            "{} of {} jobs started; still running: {:?}",
            started.len(),
            jobs.len(),
            running.keys().collect::<Vec<_>>()
        ))
    })?;
    if expect_parallel {
        ensure(most_running >= 2, || {
            Failure::new("the pool runs jobs in parallel: with 16 slow jobs queued, several must be in flight at once")
                .got(format!("never more than {most_running} job in flight"))
                .detail("is a worker holding the queue's lock while it runs its job? (`while let Ok(job) = rx.lock().unwrap().recv()` does)")
        })?;
    }
    ensure(termination.is_success(), || {
        Failure::new("the program exits with code 0 after the done event")
            .got(termination.describe())
    })
}

/// The bound first, over the whole log: when a program oversubscribes, that is the story to tell, before
/// whatever worker numbers it printed.
fn most_in_flight_ok(lines: &[String]) -> Result<(), Failure> {
    let mut running = BTreeSet::new();
    for (at, line) in lines.iter().enumerate() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(id) = event["id"].as_u64() else {
            continue;
        };
        match event["event"].as_str() {
            Some("start") => {
                running.insert(id);
            }
            Some("end") => {
                running.remove(&id);
            }
            _ => {}
        }
        ensure(running.len() as u64 <= WORKERS, || {
            Failure::new("at most 4 jobs run at once: this start made 5 jobs in flight (a thread per job is not a pool)")
                .got(format!("line {}: {line}", at + 1))
                .detail(format!("in flight then: {:?}", running.iter().collect::<Vec<_>>()))
        })?;
    }
    Ok(())
}
