//! `verify --format junit`: one test suite per track, one test case per exercise (quick-junit).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::exercise::Exercise;
use crate::pipeline::{Outcome, Verdict, outcome_word, strip_ansi};

/// The JUnit XML report.
pub fn render(results: &[(&Exercise, &Verdict)]) -> anyhow::Result<String> {
    let mut report = Report::new("backlings");
    let mut suites: Vec<TestSuite> = Vec::new();
    for (exercise, verdict) in results {
        let track = if exercise.track().is_empty() {
            "exercises"
        } else {
            exercise.track()
        };
        if suites
            .last()
            .is_none_or(|suite| suite.name.as_str() != track)
        {
            suites.push(TestSuite::new(track));
        }
        let status = match verdict.first_failure() {
            None if verdict.passed() => TestCaseStatus::success(),
            None => TestCaseStatus::skipped(),
            Some(failed) => {
                let kind = if failed.outcome == Outcome::Crashed {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut status = TestCaseStatus::non_success(kind);
                status.set_message(verdict.summary()).set_type(format!(
                    "{} {}",
                    failed.stage,
                    outcome_word(failed.outcome)
                ));
                status.set_description(strip_ansi(&failed.text));
                status
            }
        };
        let mut case = TestCase::new(exercise.name.as_str(), status);
        case.set_classname(track);
        case.set_time(verdict.stages.iter().map(|stage| stage.duration).sum());
        let stages: Vec<String> = verdict
            .stages
            .iter()
            .map(|stage| {
                format!(
                    "{}: {} {}",
                    stage.stage,
                    outcome_word(stage.outcome),
                    stage.summary
                )
            })
            .collect();
        case.set_system_out(format!(
            "{}\nseed {}\n{}",
            verdict.path,
            verdict.seed,
            stages.join("\n")
        ));
        if let Some(suite) = suites.last_mut() {
            suite.add_test_case(case);
        }
    }
    report.add_test_suites(suites);
    Ok(report.to_string()?)
}
