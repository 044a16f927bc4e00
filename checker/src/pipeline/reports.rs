//! Building a verdict's stage reports from cargo's outcomes and the runtime stages.

use std::collections::BTreeSet;

use backlings_grade::sandbox::Termination;

use crate::pipeline::Job;
use crate::pipeline::cargo::{self, CargoOutcome};
use crate::pipeline::verdict::{Outcome, Stage, StageReport, Verdict};

/// The compile stage of `job` from the two builds: its first error, or its warnings.
pub fn compile(job: &Job<'_>, build: &CargoOutcome, test_build: &CargoOutcome) -> StageReport {
    let duration = build.elapsed + test_build.elapsed;
    let stopped = build.stopped.or(test_build.stopped);
    let failed_in = if cargo::executable(build, &job.bin).is_none() {
        Some(build)
    } else if job.exercise.test && cargo::executable(test_build, &job.bin).is_none() {
        Some(test_build)
    } else {
        None
    };
    let grader_missing = job
        .exercise
        .grader
        .as_ref()
        .filter(|spec| cargo::executable(build, spec.bin()).is_none());
    let (outcome, summary, text) = match (stopped, failed_in, grader_missing) {
        (Some(Termination::Cancelled), _, _) => {
            (Outcome::Cancelled, "cancelled".to_string(), String::new())
        }
        (Some(_), Some(_), _) => (
            Outcome::TimedOut,
            format!(
                "cargo was still building after {}s",
                job.exercise.timeouts.compile().as_secs()
            ),
            String::new(),
        ),
        (_, Some(outcome), _) => {
            let errors = outcome.errors(&job.bin).len();
            let summary = match errors {
                0 => "cargo could not build it".to_string(),
                1 => "1 error".to_string(),
                n => format!("{n} errors"),
            };
            (
                Outcome::Failed,
                summary,
                cargo::first_error(outcome, &job.bin),
            )
        }
        (_, None, Some(spec)) => (
            Outcome::Crashed,
            format!(
                "the grader `{}` did not build (a problem of the course, not of your code)",
                spec.package
            ),
            cargo::first_error(build, spec.bin()),
        ),
        (_, None, None) => {
            let mut seen = BTreeSet::new();
            let warnings: Vec<&str> = build
                .diagnostics(&job.bin)
                .chain(test_build.diagnostics(&job.bin))
                .filter(|d| d.level == "warning" && seen.insert(d.rendered.clone()))
                .map(|d| d.rendered.trim_end())
                .collect();
            let summary = match warnings.len() {
                0 => String::new(),
                1 => "1 warning".to_string(),
                n => format!("{n} warnings"),
            };
            (Outcome::Passed, summary, warnings.join("\n\n"))
        }
    };
    StageReport {
        stage: Stage::Compile,
        outcome,
        duration,
        summary,
        text,
    }
}

/// The verdict of `job` in pipeline order, marking what did not run.
pub fn assemble(
    job: &Job<'_>,
    compile: StageReport,
    runtime: Vec<StageReport>,
    seed: u64,
    lint: &CargoOutcome,
) -> Verdict {
    let exercise = job.exercise;
    let mut planned = Vec::new();
    if exercise.test {
        planned.push(Stage::Tests);
    }
    planned.push(if exercise.grader.is_some() {
        Stage::Grader
    } else {
        Stage::Run
    });
    if exercise.strict_clippy {
        planned.push(Stage::Clippy);
    }
    let mut stages = vec![compile];
    let mut runtime = runtime.into_iter();
    for stage in planned {
        let blocked = stages.iter().any(|s| s.outcome != Outcome::Passed);
        let cancelled = stages.iter().any(|s| s.outcome == Outcome::Cancelled);
        let report = if cancelled {
            StageReport {
                outcome: Outcome::Cancelled,
                ..StageReport::skipped(stage, "cancelled")
            }
        } else if blocked {
            StageReport::skipped(stage, "skipped: an earlier stage failed")
        } else if stage == Stage::Clippy {
            clippy(job, lint)
        } else {
            runtime
                .next()
                .unwrap_or_else(|| StageReport::skipped(stage, "did not run"))
        };
        stages.push(report);
    }
    Verdict {
        exercise: exercise.name.clone(),
        bin: job.bin.clone(),
        path: job.path.clone(),
        seed,
        stages,
    }
}

fn clippy(job: &Job<'_>, lint: &CargoOutcome) -> StageReport {
    let diagnostics: Vec<&str> = lint
        .diagnostics(&job.bin)
        .map(|d| d.rendered.trim_end())
        .collect();
    let errors = lint.errors(&job.bin).len();
    let (outcome, summary) = match lint.stopped {
        Some(Termination::Cancelled) => (Outcome::Cancelled, "cancelled".to_string()),
        Some(_) => (
            Outcome::TimedOut,
            format!(
                "clippy was still running after {}s",
                job.exercise.timeouts.clippy().as_secs()
            ),
        ),
        None if errors > 0 => (
            Outcome::Failed,
            format!("{errors} lint{} to fix", if errors == 1 { "" } else { "s" }),
        ),
        None if lint.compiled.contains(&job.bin) => (Outcome::Passed, "no lints".to_string()),
        None => (Outcome::Failed, "clippy could not check it".to_string()),
    };
    let text = if diagnostics.is_empty() && outcome == Outcome::Failed {
        lint.stderr.clone()
    } else {
        diagnostics.join("\n\n")
    };
    StageReport {
        stage: Stage::Clippy,
        outcome,
        duration: lint.elapsed,
        summary,
        text,
    }
}
