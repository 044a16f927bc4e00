//! The result of grading one exercise: a report per stage, and how it renders in a terminal.

use std::fmt;
use std::time::Duration;

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::ui::style::{self, paint};

/// A step of the verdict pipeline, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// cargo build of the exercise (and its test harness).
    Compile,
    /// The exercise's visible `#[cfg(test)]` tests.
    Tests,
    /// The exercise's `main`, for an exercise without a grader.
    Run,
    /// The hidden black-box grader.
    Grader,
    /// `cargo clippy -D warnings`, for `strict_clippy` exercises.
    Clippy,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Stage::Compile => "compile",
            Stage::Tests => "tests",
            Stage::Run => "run",
            Stage::Grader => "grader",
            Stage::Clippy => "clippy",
        })
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It ran and found a problem (a compile error, a failing test, a rejected program, a lint).
    Failed,
    /// It ran past its time limit and was killed with everything it started.
    TimedOut,
    /// The program died: a panic, a signal, or a grader that could not run.
    Crashed,
    /// It did not run because an earlier stage failed.
    Skipped,
    /// It was stopped by a cancel (the file changed again, or Ctrl-C).
    Cancelled,
}

impl Outcome {
    fn mark(self) -> (&'static str, &'static str) {
        match self {
            Outcome::Passed => ("✓", style::GREEN_BOLD),
            Outcome::Failed => ("✗", style::RED_BOLD),
            Outcome::TimedOut => ("⧗", style::RED_BOLD),
            Outcome::Crashed => ("✗", style::RED_BOLD),
            Outcome::Skipped => ("-", style::DIM),
            Outcome::Cancelled => ("-", style::YELLOW),
        }
    }

    /// A failure of the stage (not passed, skipped or cancelled).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::TimedOut | Outcome::Crashed)
    }
}

/// One stage's result.
#[derive(Debug, Clone)]
pub struct StageReport {
    /// Which stage.
    pub stage: Stage,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// One line: "2 of 5 tests failed", "rejected at seed 7".
    pub summary: String,
    /// The details: the first compiler error, the failing tests, the grader's transcript, the program's output.
    /// Has ANSI colours when the run asked for them.
    pub text: String,
}

impl StageReport {
    /// A stage that did not run.
    pub fn skipped(stage: Stage, why: &str) -> StageReport {
        StageReport {
            stage,
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            summary: why.to_string(),
            text: String::new(),
        }
    }
}

/// The verdict on one exercise.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The exercise name.
    pub exercise: String,
    /// The bin that was graded (`NAME`, or `NAME_sol` in `dev check`).
    pub bin: String,
    /// The graded file, relative to the course root.
    pub path: Utf8PathBuf,
    /// The grader seed.
    pub seed: u64,
    /// The stages in pipeline order.
    pub stages: Vec<StageReport>,
}

impl Verdict {
    /// Every stage passed.
    pub fn passed(&self) -> bool {
        !self.stages.is_empty()
            && self
                .stages
                .iter()
                .all(|stage| stage.outcome == Outcome::Passed)
    }

    /// The run was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        self.stages
            .iter()
            .any(|stage| stage.outcome == Outcome::Cancelled)
    }

    /// The first stage that failed.
    pub fn first_failure(&self) -> Option<&StageReport> {
        self.stages.iter().find(|stage| stage.outcome.is_failure())
    }

    /// The report of `stage`, if it is part of this verdict.
    pub fn stage(&self, stage: Stage) -> Option<&StageReport> {
        self.stages.iter().find(|report| report.stage == stage)
    }

    /// A one-line summary, e.g. "tests failed: 2 of 5 tests failed".
    pub fn summary(&self) -> String {
        match self.first_failure() {
            Some(failed) => format!(
                "{} {}: {}",
                failed.stage,
                outcome_word(failed.outcome),
                failed.summary
            ),
            None if self.is_cancelled() => "cancelled".to_string(),
            None => "passed every stage".to_string(),
        }
    }

    /// The verdict as the terminal shows it: the program's output when it passes, else the stage list and the
    /// details of the first failure, then the replay command.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        let output = self.stages.iter().find(|s| {
            matches!(s.stage, Stage::Run | Stage::Grader) && s.outcome == Outcome::Passed
        });
        if let Some(output) = output.filter(|_| self.passed()) {
            let title = if output.stage == Stage::Grader {
                "grader transcript"
            } else {
                "output"
            };
            push_section(&mut out, title, &output.text, color);
        }
        let warnings = self
            .stage(Stage::Compile)
            .filter(|s| s.outcome == Outcome::Passed && !s.text.is_empty());
        if let Some(warnings) = warnings {
            push_section(&mut out, "compiler warnings", &warnings.text, color);
        }
        for stage in &self.stages {
            let (mark, mark_style) = stage.outcome.mark();
            let time = if stage.outcome == Outcome::Skipped {
                String::new()
            } else {
                format!("{:.2}s", stage.duration.as_secs_f64())
            };
            let line = format!(
                " {} {:<8} {:>7}  {}",
                paint(mark, mark_style, color),
                stage.stage,
                time,
                stage.summary
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if let Some(failed) = self.first_failure() {
            out.push('\n');
            push_section(&mut out, &failed.stage.to_string(), &failed.text, color);
            if failed.stage == Stage::Grader {
                let replay = format!("backlings run {} --seed {}", self.exercise, self.seed);
                out.push_str(&format!(
                    "{} {}\n",
                    paint("replay:", style::CYAN_BOLD, color),
                    replay
                ));
            }
            out.push_str(&format!(
                "{} {}  {}\n",
                paint("✗", style::RED_BOLD, color),
                paint(&self.exercise, style::BOLD, color),
                self.path
            ));
        } else if self.passed() {
            out.push_str(&format!(
                "{} {} passes every stage  {}\n",
                paint("✓", style::GREEN_BOLD, color),
                paint(&self.exercise, style::BOLD, color),
                self.path
            ));
        } else {
            out.push_str(&format!(
                "{} {} was cancelled  {}\n",
                paint("-", style::YELLOW, color),
                self.exercise,
                self.path
            ));
        }
        out
    }
}

/// "failed", "timed out", …
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed out",
        Outcome::Crashed => "crashed",
        Outcome::Skipped => "skipped",
        Outcome::Cancelled => "cancelled",
    }
}

fn push_section(out: &mut String, title: &str, text: &str, color: bool) {
    let rule = format!("──── {title} ────");
    out.push_str(&paint(&rule, style::DIM, color));
    out.push('\n');
    if !text.trim().is_empty() {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stage: Stage, outcome: Outcome) -> StageReport {
        StageReport {
            stage,
            outcome,
            duration: Duration::from_millis(5),
            summary: "why".into(),
            text: format!("{stage} details"),
        }
    }

    fn verdict(stages: Vec<StageReport>) -> Verdict {
        Verdict {
            exercise: "lru".into(),
            bin: "lru".into(),
            path: "exercises/08/lru.rs".into(),
            seed: 7,
            stages,
        }
    }

    // A pass needs every stage passed; a skipped or cancelled stage is not a pass.
    #[test]
    fn passes_only_when_every_stage_passed() {
        assert!(
            verdict(vec![
                report(Stage::Compile, Outcome::Passed),
                report(Stage::Tests, Outcome::Passed)
            ])
            .passed()
        );
        assert!(
            !verdict(vec![
                report(Stage::Compile, Outcome::Passed),
                report(Stage::Tests, Outcome::Cancelled)
            ])
            .passed()
        );
        assert!(!verdict(vec![]).passed());
    }

    // A failed grade shows its details and the replay command; a pass shows the program's output.
    #[test]
    fn renders_failure_details_and_replay() {
        let failed = verdict(vec![
            report(Stage::Compile, Outcome::Passed),
            report(Stage::Grader, Outcome::Failed),
        ]);
        let text = failed.render(false);
        assert!(
            text.contains("grader details") && text.contains("backlings run lru --seed 7"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        let passed = verdict(vec![
            report(Stage::Compile, Outcome::Passed),
            report(Stage::Run, Outcome::Passed),
        ]);
        assert!(passed.render(false).contains("run details"));
        assert_eq!(failed.summary(), "grader failed: why");
    }
}
