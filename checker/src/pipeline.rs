//! The verdict pipeline: compile → visible tests → hidden grader (or the exercise's `main`) → clippy.
//!
//! One cargo invocation builds every bin a run needs (the exercises and their graders), a second builds the test
//! harnesses, and the built programs then run directly in the sandbox, never through `cargo run`. Clippy runs
//! alongside the tests and the grader, and batches of exercises run on a pool of threads. Builds go to
//! `target/backlings/` so rust-analyzer's build lock never stalls a verdict.
//!
//! The watch screen uses [`run_exercise`]; `verify` and `dev check` use [`run_jobs`].

mod cargo;
mod libtest;
mod reports;
mod stages;
mod verdict;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use backlings_grade::sandbox::Cancel;
use camino::Utf8PathBuf;

pub use cargo::{
    CargoOutcome, CargoRequest, executable, first_error, run as run_cargo, strip_ansi,
};
pub use stages::grade;
pub use verdict::{Outcome, Stage, StageReport, Verdict, outcome_word};

use crate::exercise::Exercise;
use crate::workspace::Workspace;

/// How to run one exercise.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The grader seed (printed in the report; `backlings run NAME --seed N` replays it).
    pub seed: u64,
    /// Cancels the run: the running children are killed and the verdict comes back cancelled. Fire it when the
    /// file changes again or on Ctrl-C.
    pub cancel: Cancel,
    /// Keep cargo's and libtest's colours in the reports.
    pub color: bool,
}

/// What the pipeline is doing, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A stage started.
    Stage(Stage),
    /// cargo's progress bar: `done` of `total` units built, `current` the crates being compiled.
    Build {
        /// Units built so far.
        done: u32,
        /// Units in all.
        total: u32,
        /// The crates being compiled now.
        current: String,
    },
    /// A cargo status line, e.g. `Compiling tokio v1.47.1`.
    Status(String),
    /// One exercise of a batch has its verdict.
    Graded {
        /// The exercise.
        exercise: String,
        /// Whether it passed every stage.
        passed: bool,
    },
}

/// Compiles, tests, grades and lints `exercise`, reporting progress as it goes.
///
/// `Err` means backlings itself could not work (cargo missing, an unreadable manifest); everything the learner's
/// code does, including not compiling or hanging, is a [`Verdict`].
pub fn run_exercise(
    ws: &Workspace,
    exercise: &Exercise,
    options: &RunOptions,
    on_progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<Verdict> {
    let job = Job::exercise(exercise, options.seed);
    let batch = BatchOptions {
        color: options.color,
        cancel: options.cancel.clone(),
        jobs: 1,
    };
    let mut verdicts = run_jobs(ws, std::slice::from_ref(&job), &batch, on_progress)?;
    Ok(verdicts.remove(0))
}

/// One bin to grade: an exercise, or its solution (`dev check`).
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// The exercise whose stages and grader apply.
    pub exercise: &'a Exercise,
    /// The bin target to build and grade.
    pub bin: String,
    /// The graded file, relative to the course root.
    pub path: Utf8PathBuf,
    /// Grader seeds, run in order until one fails (the first is the verdict's seed).
    pub seeds: Vec<u64>,
}

impl<'a> Job<'a> {
    /// The learner's version of `exercise`.
    pub fn exercise(exercise: &'a Exercise, seed: u64) -> Self {
        Job {
            exercise,
            bin: exercise.name.clone(),
            path: exercise.path(),
            seeds: vec![seed],
        }
    }

    /// The reference solution of `exercise`.
    pub fn solution(exercise: &'a Exercise, seeds: Vec<u64>) -> Self {
        Job {
            exercise,
            bin: exercise.solution_bin(),
            path: exercise.solution_path(),
            seeds,
        }
    }
}

/// How to run a batch.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Keep colours in the reports.
    pub color: bool,
    /// Cancels the whole batch.
    pub cancel: Cancel,
    /// Exercises graded at the same time.
    pub jobs: usize,
}

/// Runs the pipeline on many bins with two cargo builds in all, then grades them in parallel.
pub fn run_jobs(
    ws: &Workspace,
    jobs: &[Job<'_>],
    options: &BatchOptions,
    on_progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<Vec<Verdict>> {
    on_progress(Progress::Stage(Stage::Compile));
    let mut packages = BTreeSet::new();
    let mut bins = BTreeSet::new();
    for job in jobs {
        packages.insert(ws.package_of(job.exercise)?);
        bins.insert(job.bin.clone());
        if let Some(spec) = &job.exercise.grader {
            packages.insert(spec.package.clone());
            bins.insert(spec.bin().to_string());
        }
    }
    let compile_timeout = jobs
        .iter()
        .map(|job| job.exercise.timeouts.compile())
        .max()
        .unwrap_or_default();
    let request = CargoRequest {
        subcommand: "build",
        packages: packages.into_iter().collect(),
        bins: bins.into_iter().collect(),
        features: vec![],
    };
    let build = cargo::run(
        ws,
        &request,
        options.color,
        compile_timeout,
        &options.cancel,
        on_progress,
    )?;
    let tested: Vec<String> = jobs
        .iter()
        .filter(|job| job.exercise.test && cargo::executable(&build, &job.bin).is_some())
        .map(|job| job.bin.clone())
        .collect();
    let test_build = if tested.is_empty() {
        CargoOutcome {
            success: true,
            ..CargoOutcome::default()
        }
    } else {
        let request = CargoRequest {
            subcommand: "test",
            packages: packages_of(ws, jobs.iter().filter(|job| tested.contains(&job.bin)))?,
            bins: tested.clone(),
            features: vec![],
        };
        cargo::run(
            ws,
            &request,
            options.color,
            compile_timeout,
            &options.cancel,
            on_progress,
        )?
    };
    let compiled: Vec<StageReport> = jobs
        .iter()
        .map(|job| reports::compile(job, &build, &test_build))
        .collect();

    let linted: Vec<&Job<'_>> = jobs
        .iter()
        .zip(&compiled)
        .filter(|(job, c)| job.exercise.strict_clippy && c.outcome == Outcome::Passed)
        .map(|(job, _)| job)
        .collect();
    let (sender, receiver) = mpsc::channel::<WorkerMessage>();
    let next = AtomicUsize::new(0);
    let workers = options.jobs.clamp(1, jobs.len().max(1));
    let mut runtime: Vec<(Vec<StageReport>, u64)> =
        jobs.iter().map(|job| (Vec::new(), job.seeds[0])).collect();
    let lint = thread::scope(|scope| -> anyhow::Result<CargoOutcome> {
        let lint = scope.spawn(|| -> anyhow::Result<CargoOutcome> {
            if linted.is_empty() {
                return Ok(CargoOutcome::default());
            }
            let bins = linted.iter().map(|job| job.bin.clone()).collect();
            let timeout = linted
                .iter()
                .map(|job| job.exercise.timeouts.clippy())
                .max()
                .unwrap_or_default();
            let request = CargoRequest {
                subcommand: "clippy",
                packages: packages_of(ws, linted.iter().copied())?,
                bins,
                features: vec![],
            };
            cargo::run(
                ws,
                &request,
                options.color,
                timeout,
                &options.cancel,
                &mut |_| {},
            )
        });
        for _ in 0..workers {
            let sender = sender.clone();
            let (next, compiled, build, test_build) = (&next, &compiled, &build, &test_build);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else { break };
                    let mut seed = job.seeds[0];
                    let started = |stage| {
                        let _ = sender.send(WorkerMessage::Started(stage));
                    };
                    let reports = if compiled[index].outcome == Outcome::Passed {
                        runtime_stages(job, build, test_build, options, &mut seed, &started)
                    } else {
                        Vec::new()
                    };
                    if sender
                        .send(WorkerMessage::Done(index, reports, seed))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut finished = 0;
        for message in receiver {
            match message {
                // Stage by stage only makes sense for one exercise; a batch reports exercises done.
                WorkerMessage::Started(stage) if jobs.len() == 1 => {
                    on_progress(Progress::Stage(stage))
                }
                WorkerMessage::Started(_) => {}
                WorkerMessage::Done(index, reports, seed) => {
                    runtime[index] = (reports, seed);
                    finished += 1;
                    if jobs.len() > 1 {
                        on_progress(Progress::Status(format!(
                            "{finished}/{} exercises run",
                            jobs.len()
                        )));
                    }
                }
            }
        }
        if !linted.is_empty() && jobs.len() == 1 {
            on_progress(Progress::Stage(Stage::Clippy));
        }
        lint.join()
            .unwrap_or_else(|_| anyhow::bail!("the clippy thread panicked"))
    })?;

    let mut verdicts = Vec::with_capacity(jobs.len());
    for ((job, compile), (runtime, seed)) in jobs.iter().zip(compiled).zip(runtime) {
        let verdict = reports::assemble(job, compile, runtime, seed, &lint);
        on_progress(Progress::Graded {
            exercise: job.exercise.name.clone(),
            passed: verdict.passed(),
        });
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// The cargo packages holding the bins of `jobs`, each once.
fn packages_of<'a>(
    ws: &Workspace,
    jobs: impl Iterator<Item = &'a Job<'a>>,
) -> anyhow::Result<Vec<String>> {
    let packages = jobs
        .map(|job| ws.package_of(job.exercise))
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    Ok(packages.into_iter().collect())
}

/// What a grading worker tells the thread that reports progress.
enum WorkerMessage {
    /// A runtime stage of a job started.
    Started(Stage),
    /// A job's runtime stages are done: its index, reports and graded seed.
    Done(usize, Vec<StageReport>, u64),
}

/// Tests, then the grader (or `main`), stopping at the first failure.
///
/// `graded_seed` is set to the seed of the last grading (the failing one when a seed fails).
fn runtime_stages(
    job: &Job<'_>,
    build: &CargoOutcome,
    test_build: &CargoOutcome,
    options: &BatchOptions,
    graded_seed: &mut u64,
    started: &dyn Fn(Stage),
) -> Vec<StageReport> {
    let mut reports = Vec::new();
    if job.exercise.test {
        started(Stage::Tests);
        let Some(test_exe) = cargo::executable(test_build, &job.bin) else {
            return reports;
        };
        let report = stages::tests(test_exe, job.exercise, options.color, &options.cancel);
        let stop = report.outcome != Outcome::Passed;
        reports.push(report);
        if stop {
            return reports;
        }
    }
    let Some(program) = cargo::executable(build, &job.bin) else {
        return reports;
    };
    match &job.exercise.grader {
        Some(spec) => {
            let Some(grader) = cargo::executable(build, spec.bin()) else {
                return reports;
            };
            started(Stage::Grader);
            let mut last = None;
            for &seed in &job.seeds {
                let graded = stages::grade(grader, job.exercise, program, seed, &options.cancel);
                let stop = graded.report.outcome != Outcome::Passed;
                last = Some((seed, graded.report));
                if stop {
                    break;
                }
            }
            if let Some((seed, mut report)) = last {
                if report.outcome == Outcome::Passed && job.seeds.len() > 1 {
                    let seeds: Vec<String> = job.seeds.iter().map(u64::to_string).collect();
                    report.summary = format!("accepted at seeds {}", seeds.join(", "));
                }
                *graded_seed = seed;
                reports.push(report);
            }
        }
        None => {
            started(Stage::Run);
            reports.push(stages::run_main(program, job.exercise, &options.cancel));
        }
    }
    reports
}

/// A seed for `run` and `watch`: fresh each time, so repeated saves explore more cases.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    // Mix the clock with the pid, then keep it short enough to type back in a replay command.
    let mixed = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed % 1_000_000
}
