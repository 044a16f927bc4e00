//! The stages that run learner code: the test binary, the exercise's `main`, and the grader. Each runs through
//! [`backlings_grade::sandbox`] (own process group, rlimits, no stdin, temp cwd, time limit, output cap).

use std::process::Command;
use std::time::Duration;

use backlings_grade::sandbox::{self, Cancel, Captured, Finished, Limits, Termination};
use camino::Utf8Path;
use serde::Deserialize;

use crate::exercise::Exercise;
use crate::pipeline::libtest;
use crate::pipeline::verdict::{Outcome, Stage, StageReport};

/// Lines of a program's output shown in a report; the rest is counted, not shown.
const SHOWN_LINES: usize = 200;
/// Bytes of a program's output shown in a report.
const SHOWN_BYTES: usize = 32 * 1024;

/// Runs the test harness of an exercise.
pub fn tests(
    test_exe: &Utf8Path,
    exercise: &Exercise,
    color: bool,
    cancel: &Cancel,
) -> StageReport {
    let mut cmd = Command::new(test_exe);
    cmd.args(["--color", if color { "always" } else { "never" }]);
    // A backtrace buries the assertion message a learner needs; the panic location is enough.
    cmd.env("RUST_BACKTRACE", "0");
    let limits = Limits {
        timeout: exercise.timeouts.test(),
        ..Limits::default()
    };
    let finished = match run_sandboxed(cmd, &limits, cancel) {
        Ok(finished) => finished,
        Err(err) => return not_started(Stage::Tests, "the test binary", &err),
    };
    let stdout = finished.stdout.text();
    let output = libtest::parse(&super::cargo::strip_ansi(&stdout));
    let (outcome, summary, text) = match finished.termination {
        Termination::Exited(0) => (
            Outcome::Passed,
            count(output.passed.len(), "test", "passed"),
            String::new(),
        ),
        Termination::Exited(_) if !output.failed.is_empty() => {
            let total = output.passed.len() + output.failed.len();
            let mut text = String::new();
            for (name, details) in &output.failed {
                text.push_str(&format!("✗ {name}\n{}\n\n", indent(details)));
            }
            (
                Outcome::Failed,
                format!(
                    "{} of {} failed",
                    output.failed.len(),
                    count(total, "test", "")
                ),
                text,
            )
        }
        Termination::TimedOut => {
            let hung = list_tests(test_exe)
                .map(|list| libtest::unfinished(&list, &output))
                .unwrap_or_default();
            let secs = limits.timeout.as_secs_f64();
            let text = if hung.is_empty() {
                format!("the tests were still running after {secs}s and were stopped")
            } else {
                format!(
                    "still running after {secs}s, and stopped (an infinite loop? a lock never released?):\n{}",
                    indent(&hung.join("\n"))
                )
            };
            (Outcome::TimedOut, format!("stopped after {secs}s"), text)
        }
        Termination::Cancelled => (Outcome::Cancelled, "cancelled".into(), String::new()),
        termination => (
            Outcome::Crashed,
            format!("the test binary {}", termination.describe()),
            program_output(&finished),
        ),
    };
    StageReport {
        stage: Stage::Tests,
        outcome,
        duration: finished.elapsed,
        summary,
        text,
    }
}

/// Runs the exercise's `main` (for an exercise without a grader) and keeps its output.
pub fn run_main(exe: &Utf8Path, exercise: &Exercise, cancel: &Cancel) -> StageReport {
    let limits = Limits {
        timeout: exercise.timeouts.run(),
        ..Limits::default()
    };
    let mut cmd = Command::new(exe);
    cmd.env("RUST_BACKTRACE", "0");
    let finished = match run_sandboxed(cmd, &limits, cancel) {
        Ok(finished) => finished,
        Err(err) => return not_started(Stage::Run, "the program", &err),
    };
    let mut text = program_output(&finished);
    if finished.termination == Termination::TimedOut {
        text.push_str(&format!(
            "\n(the program was still running after {}s: it and every process it started were stopped)",
            limits.timeout.as_secs_f64()
        ));
    }
    let (outcome, summary) = match finished.termination {
        Termination::Exited(0) => (Outcome::Passed, "exited with code 0".to_string()),
        Termination::Exited(101) => (Outcome::Crashed, "panicked (exit code 101)".to_string()),
        Termination::Exited(code) => (Outcome::Failed, format!("exited with code {code}")),
        Termination::TimedOut => (
            Outcome::TimedOut,
            format!(
                "still running after {}s and stopped (an infinite loop?)",
                limits.timeout.as_secs_f64()
            ),
        ),
        Termination::Cancelled => (Outcome::Cancelled, "cancelled".to_string()),
        Termination::Signaled(signal) => (
            Outcome::Crashed,
            format!("killed by {}", sandbox::signal_name(signal)),
        ),
    };
    StageReport {
        stage: Stage::Run,
        outcome,
        duration: finished.elapsed,
        summary,
        text,
    }
}

/// The grader's `--json` report (schema 1 of DESIGN.md).
#[derive(Debug, Deserialize)]
struct GraderJson {
    passed: bool,
    report: String,
}

/// A grader run: its stage report, and its plain report text (for mutant checks).
#[derive(Debug)]
pub struct Graded {
    /// The stage report.
    pub report: StageReport,
    /// The grader's report as it printed it.
    pub plain: String,
    /// The grader ran and rejected the program (exit code 1), as opposed to passing or not running.
    pub rejected: bool,
}

/// Runs the grader of `exercise` on `program` at `seed`.
pub fn grade(
    grader_exe: &Utf8Path,
    exercise: &Exercise,
    program: &Utf8Path,
    seed: u64,
    cancel: &Cancel,
) -> Graded {
    let spec = exercise.grader.as_ref();
    let mut cmd = Command::new(grader_exe);
    cmd.arg("grade").arg(
        spec.and_then(|spec| spec.exercise.as_deref())
            .unwrap_or(&exercise.name),
    );
    cmd.arg("--program")
        .arg(program)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--json");
    // The grader stops itself a little before our limit, so a slow program gets a report, not a kill.
    let own_limit = exercise.timeouts.grader();
    let margin = (own_limit / 10).max(Duration::from_millis(500));
    cmd.arg("--timeout-ms")
        .arg(own_limit.saturating_sub(margin).as_millis().to_string());
    if let Some(params) = spec.and_then(|spec| spec.params.as_ref()) {
        cmd.arg("--params")
            .arg(serde_json::to_string(params).unwrap_or_default());
    }
    // The grader is trusted; it applies the sandbox's default limits to the program it starts.
    let limits = Limits {
        timeout: exercise.timeouts.grader(),
        output_cap: 8 << 20,
        memory_bytes: None,
        file_size_bytes: None,
        processes: None,
    };
    let finished = match run_sandboxed(cmd, &limits, cancel) {
        Ok(finished) => finished,
        Err(err) => {
            return Graded {
                report: not_started(Stage::Grader, "the grader", &err),
                plain: String::new(),
                rejected: false,
            };
        }
    };
    let parsed = finished
        .stdout
        .text()
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<GraderJson>(line).ok());
    let (outcome, summary, plain) = match (finished.termination, parsed) {
        (Termination::Exited(0), Some(json)) if json.passed => (
            Outcome::Passed,
            format!("accepted at seed {seed}"),
            json.report,
        ),
        (Termination::Exited(1), Some(json)) if !json.passed => (
            Outcome::Failed,
            format!("rejected at seed {seed}"),
            json.report,
        ),
        (Termination::TimedOut, _) => {
            let secs = limits.timeout.as_secs_f64();
            (
                Outcome::TimedOut,
                format!("the grader did not finish within {secs}s"),
                program_output(&finished),
            )
        }
        (Termination::Cancelled, _) => (Outcome::Cancelled, "cancelled".to_string(), String::new()),
        (termination, _) => (
            Outcome::Crashed,
            format!("the grader could not run (it {})", termination.describe()),
            format!(
                "this is a problem of the course, not of your code; please report it.\n{}",
                program_output(&finished)
            ),
        ),
    };
    let rejected = outcome == Outcome::Failed;
    let report = StageReport {
        stage: Stage::Grader,
        outcome,
        duration: finished.elapsed,
        summary,
        text: plain.clone(),
    };
    Graded {
        report,
        plain,
        rejected,
    }
}

/// [`sandbox::run`], where a process killed while its run was being cancelled counts as cancelled, not crashed.
fn run_sandboxed(cmd: Command, limits: &Limits, cancel: &Cancel) -> std::io::Result<Finished> {
    let mut finished = sandbox::run(cmd, limits, Some(cancel))?;
    if cancel.is_cancelled() && matches!(finished.termination, Termination::Signaled(_)) {
        finished.termination = Termination::Cancelled;
    }
    Ok(finished)
}

/// `exe --list`, to name the tests that never finished.
fn list_tests(test_exe: &Utf8Path) -> Option<String> {
    let mut cmd = Command::new(test_exe);
    cmd.args(["--list", "--format", "terse"]);
    let limits = Limits {
        timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    sandbox::run(cmd, &limits, None)
        .ok()
        .filter(|done| done.termination.is_success())
        .map(|done| done.stdout.text().into_owned())
}

fn not_started(stage: Stage, what: &str, err: &std::io::Error) -> StageReport {
    StageReport {
        stage,
        outcome: Outcome::Crashed,
        duration: Duration::ZERO,
        summary: format!("{what} could not start"),
        text: format!("{what} could not start: {err}"),
    }
}

/// What a program printed, cut to a screenful-ish, with a note when it printed more.
pub fn program_output(finished: &Finished) -> String {
    let mut text = shown(&finished.stdout);
    let stderr = shown(&finished.stderr);
    if !stderr.trim().is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stderr);
    }
    text
}

fn shown(captured: &Captured) -> String {
    let text = captured.text();
    let mut cut = text.len().min(SHOWN_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some((index, _)) = text[..cut].match_indices('\n').nth(SHOWN_LINES - 1) {
        cut = index + 1;
    }
    let mut shown = text[..cut].to_string();
    if (cut as u64) < captured.total_len {
        let hidden = captured.total_len - cut as u64;
        shown.push_str(&format!(
            "\n… output cut here: {hidden} more bytes not shown ({} in all)\n",
            bytes(captured.total_len)
        ));
    }
    shown
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

fn count(n: usize, noun: &str, verb: &str) -> String {
    let noun = if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    };
    if verb.is_empty() {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun} {verb}")
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    // A flood is cut to a few lines with the total size said.
    #[test]
    fn long_output_is_cut_with_a_note() {
        let bytes = "line\n".repeat(1000).into_bytes();
        let captured = Captured {
            total_len: 100 << 20,
            bytes,
        };
        let text = shown(&captured);
        assert_eq!(text.matches("line\n").count(), SHOWN_LINES);
        assert!(text.contains("100.0 MiB in all"), "{text}");
    }
}
