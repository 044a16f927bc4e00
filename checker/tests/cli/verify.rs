//! `backlings verify`: exit codes, JSON, JUnit, shards, `--exercises-from`, `merge`, and the rustlings format.

use std::collections::BTreeMap;

use predicates::str::contains;
use serde_json::Value;

use crate::sandbox::{Sandbox, stdout};

fn verify_json(sb: &Sandbox, args: &[&str]) -> (Option<i32>, Value) {
    let output = sb
        .cmd()
        .args(["verify", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let document = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", stdout(&output)));
    (output.status.code(), document)
}

fn outcomes(document: &Value) -> BTreeMap<String, bool> {
    document["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["passed"].as_bool().unwrap(),
            )
        })
        .collect()
}

// verify exits 1 while anything fails and 0 once every exercise passes.
#[test]
fn verify_exits_1_until_every_exercise_is_solved() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["verify", "--only", "hello,sum_todo"])
        .assert()
        .code(1)
        .stdout(contains("1/2 exercises pass"))
        .stdout(contains("first failure, `sum_todo`"));
    sb.solve("00_basics", "sum_todo");
    sb.cmd()
        .args(["verify", "--only", "hello,sum_todo"])
        .assert()
        .success()
        .stdout(contains("2/2 exercises pass"));
}

// The JSON document and the JUnit report parse, and say the same thing per exercise.
#[test]
fn verify_json_and_junit_agree() {
    let sb = Sandbox::mini();
    let (code, document) = verify_json(&sb, &["--learner", "ada"]);
    assert_eq!(code, Some(1));
    assert_eq!(document["schema"], 1);
    assert_eq!(document["learner"], "ada");
    let expected: BTreeMap<String, bool> = [
        ("hello", true),
        ("sum_todo", false),
        ("broken", false),
        ("looping", false),
        ("flood", true),
        ("panics", false),
        ("doubler", false),
    ]
    .into_iter()
    .map(|(name, passed)| (name.to_string(), passed))
    .collect();
    assert_eq!(outcomes(&document), expected);
    assert_eq!(document["summary"]["passed"], 2);
    let broken = &document["exercises"][2];
    assert_eq!(broken["stages"][0]["stage"], "compile");
    assert_eq!(broken["stages"][0]["outcome"], "failed");
    assert!(
        broken["stages"][0]["report"]
            .as_str()
            .unwrap()
            .contains("error[E0308]")
    );
    assert_eq!(
        document["exercises"][3]["stages"][1]["outcome"],
        "timed-out"
    );

    let output = sb
        .cmd()
        .args(["verify", "--format", "junit"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report = quick_junit::Report::deserialize_from_str(&stdout(&output)).unwrap();
    let mut junit = BTreeMap::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            junit.insert(
                case.name.as_str().to_string(),
                matches!(case.status, quick_junit::TestCaseStatus::Success { .. }),
            );
        }
    }
    assert_eq!(junit, expected);
    assert_eq!(
        report
            .test_suites
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["00_basics", "01_graded"]
    );
}

// Shards split the exercises so that together they cover each exactly once.
#[test]
fn shards_cover_every_exercise_exactly_once() {
    let sb = Sandbox::mini();
    let mut seen = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let (_, document) = verify_json(&sb, &["--shard", shard, "--only", "00_basics"]);
        assert_eq!(document["shard"], shard);
        seen.extend(outcomes(&document).into_keys());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["broken", "flood", "hello", "looping", "panics", "sum_todo"]
    );
    sb.cmd()
        .args(["verify", "--shard", "4/3"])
        .assert()
        .code(2)
        .stderr(contains("need 1 <= I <= N"));
}

// `--exercises-from DIR` grades a learner's files with the course's own graders and leaves them untouched.
#[test]
fn exercises_from_a_directory_grades_the_learners_files() {
    let teacher = Sandbox::mini().with_git();
    let learner = Sandbox::mini();
    learner.solve("01_graded", "doubler");
    learner.solve("00_basics", "sum_todo");
    // A learner who edits their copy of the tests or the grader gains nothing: only exercise files are taken.
    learner.write("exercises/00_basics/Cargo.toml", "garbage");
    let before = learner.read("exercises/01_graded/doubler.rs");
    let from = learner.path().to_str().unwrap();
    let (code, document) = verify_json(
        &teacher,
        &[
            "--exercises-from",
            from,
            "--only",
            "doubler,sum_todo,broken",
        ],
    );
    assert_eq!(code, Some(1));
    let results = outcomes(&document);
    assert!(
        results["doubler"] && results["sum_todo"] && !results["broken"],
        "{results:?}"
    );
    assert_eq!(learner.read("exercises/01_graded/doubler.rs"), before);
    assert!(
        !teacher.path().join(".backlings/state.json").exists(),
        "a learner's grading must not touch the course's progress"
    );
}

// `--exercises-from REF` grades the exercises of a git branch.
#[test]
fn exercises_from_a_git_ref() {
    let sb = Sandbox::mini().with_git();
    sb.git(&["checkout", "-q", "-b", "learner"]);
    sb.solve("00_basics", "sum_todo");
    sb.git(&["commit", "-q", "-am", "solve sum_todo"]);
    sb.git(&["checkout", "-q", "main"]);
    let (code, document) = verify_json(&sb, &["--exercises-from", "learner", "--only", "sum_todo"]);
    assert_eq!((code, outcomes(&document)["sum_todo"]), (Some(0), true));
    sb.cmd()
        .args(["verify", "--exercises-from", "no-such-branch"])
        .assert()
        .code(2)
        .stderr(contains("neither a directory nor a git ref"));
}

// `verify merge` tabulates many learners' results.
#[test]
fn merge_makes_one_table() {
    let sb = Sandbox::mini();
    let (_, first) = verify_json(&sb, &["--only", "hello,sum_todo", "--learner", "ada"]);
    sb.solve("00_basics", "sum_todo");
    let (_, second) = verify_json(&sb, &["--only", "hello,sum_todo"]);
    sb.write("results/ada.json", &first.to_string());
    sb.write("results/grace.json", &second.to_string());
    let files = ["results/ada.json", "results/grace.json"];
    sb.cmd()
        .args(["verify", "merge"])
        .args(files)
        .assert()
        .success()
        .stdout(contains("| learner | passed | hello | sum_todo |"))
        .stdout(contains("| ada | 1/2 | ✓ | ✗ |"))
        .stdout(contains("| grace | 2/2 | ✓ | ✓ |"));
    sb.cmd()
        .args(["verify", "merge", "--format", "csv"])
        .args(files)
        .assert()
        .success()
        .stdout(contains("ada,1/2,pass,fail\n"));
}

// A course in the rustlings 6 format runs unchanged: its progress file is imported, hints are tier 1, clippy is
// strict where it says so, and verify/dev check work.
#[test]
fn a_rustlings_course_runs_unchanged() {
    let sb = Sandbox::new("rustlings");
    sb.cmd()
        .args(["list", "--plain"])
        .assert()
        .success()
        .stdout(contains("1/4 done · current: `variables1`"));
    sb.cmd()
        .arg("run")
        .assert()
        .code(1)
        .stdout(contains("error[E0425]"));
    sb.cmd()
        .args(["hint"])
        .assert()
        .success()
        .stdout(contains("hint 1 of 1 for `variables1`"))
        .stdout(contains("missing a keyword"));
    sb.cmd()
        .args(["run", "clippy1"])
        .assert()
        .code(1)
        .stdout(contains("approx_constant"));
    sb.cmd()
        .args(["run", "if1"])
        .assert()
        .code(1)
        .stdout(contains("expected `i32`, found `()`"));
    sb.cmd()
        .args(["dev", "check"])
        .assert()
        .success()
        .stdout(contains("no problems"));
    for (dir, name) in [
        ("01_variables", "variables1"),
        ("03_if", "if1"),
        ("22_clippy", "clippy1"),
    ] {
        sb.solve(dir, name);
    }
    sb.cmd()
        .arg("verify")
        .assert()
        .success()
        .stdout(contains("4/4 exercises pass"));
    sb.cmd().arg("run").assert().success();
}
