//! `verify`'s human and JSON outputs.

use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::exercise::Exercise;
use crate::pipeline::{Outcome, Stage, Verdict, strip_ansi};
use crate::ui::style::{self, paint};

/// The version of the JSON document; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

/// One line per exercise, the details of the first failure, and a count.
pub fn human(results: &[(&Exercise, &Verdict)], color: bool) -> String {
    let width = results
        .iter()
        .map(|(exercise, _)| exercise.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (exercise, verdict) in results {
        let mark = if verdict.passed() {
            paint("✓", style::GREEN_BOLD, color)
        } else {
            paint("✗", style::RED_BOLD, color)
        };
        out.push_str(&format!(
            "{mark} {:<width$}  {}\n",
            exercise.name,
            verdict.summary()
        ));
    }
    let passed = results
        .iter()
        .filter(|(_, verdict)| verdict.passed())
        .count();
    if let Some((exercise, verdict)) = results.iter().find(|(_, verdict)| !verdict.passed()) {
        out.push_str(&format!(
            "\nfirst failure, `{}`:\n{}",
            exercise.name,
            verdict.render(color)
        ));
        out.push_str(&format!(
            "(`backlings run {}` runs it alone)\n",
            exercise.name
        ));
    }
    out.push_str(&format!("\n{passed}/{} exercises pass\n", results.len()));
    out
}

/// The JSON result document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// [`SCHEMA`].
    pub schema: u32,
    /// `backlings <version>`.
    pub tool: String,
    /// `--learner`, if given.
    pub learner: Option<&'a str>,
    /// The grader seed.
    pub seed: u64,
    /// `--shard`, as `I/N`.
    pub shard: Option<String>,
    /// `--exercises-from`, if given.
    pub exercises_from: Option<&'a str>,
    /// Counts.
    pub summary: Summary,
    /// One entry per exercise, in course order.
    pub exercises: Vec<ExerciseResult<'a>>,
}

/// Counts of a run.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Exercises verified.
    pub total: usize,
    /// Exercises that passed every stage.
    pub passed: usize,
    /// The others.
    pub failed: usize,
}

/// One exercise's result.
#[derive(Debug, Serialize)]
pub struct ExerciseResult<'a> {
    /// The exercise name.
    pub name: &'a str,
    /// Its track directory.
    pub track: &'a str,
    /// The graded file.
    pub path: String,
    /// Every stage passed.
    pub passed: bool,
    /// One line.
    pub summary: String,
    /// The grader seed used (the failing one if a seed failed).
    pub seed: u64,
    /// Total time of its stages.
    pub duration_ms: u128,
    /// The stages in order.
    pub stages: Vec<StageResult>,
}

/// One stage's result.
#[derive(Debug, Serialize)]
pub struct StageResult {
    /// compile, tests, run, grader or clippy.
    pub stage: Stage,
    /// passed, failed, timed-out, crashed, skipped or cancelled.
    pub outcome: Outcome,
    /// Wall time.
    pub duration_ms: u128,
    /// One line.
    pub summary: String,
    /// The details, without colours.
    pub report: String,
}

/// The JSON document, pretty-printed.
pub fn json(results: &[(&Exercise, &Verdict)], args: &VerifyArgs) -> anyhow::Result<String> {
    let passed = results
        .iter()
        .filter(|(_, verdict)| verdict.passed())
        .count();
    let document = Document {
        schema: SCHEMA,
        tool: format!("backlings {}", env!("CARGO_PKG_VERSION")),
        learner: args.learner.as_deref(),
        seed: args.seed,
        shard: args
            .shard
            .map(|shard| format!("{}/{}", shard.index, shard.count)),
        exercises_from: args.exercises_from.as_deref(),
        summary: Summary {
            total: results.len(),
            passed,
            failed: results.len() - passed,
        },
        exercises: results
            .iter()
            .map(|(exercise, verdict)| ExerciseResult {
                name: &exercise.name,
                track: exercise.track(),
                path: verdict.path.to_string(),
                passed: verdict.passed(),
                summary: verdict.summary(),
                seed: verdict.seed,
                duration_ms: verdict
                    .stages
                    .iter()
                    .map(|stage| stage.duration.as_millis())
                    .sum(),
                stages: verdict
                    .stages
                    .iter()
                    .map(|stage| StageResult {
                        stage: stage.stage,
                        outcome: stage.outcome,
                        duration_ms: stage.duration.as_millis(),
                        summary: stage.summary.clone(),
                        report: strip_ansi(&stage.text),
                    })
                    .collect(),
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&document)? + "\n")
}
