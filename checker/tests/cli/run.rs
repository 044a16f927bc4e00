//! `backlings run`, `hint` and `reset` on the mini course: every situation a learner's code gets into.

use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::sandbox::{Sandbox, stdout};

// A solved exercise passes, and its program's output is shown as rustlings shows it.
#[test]
fn run_shows_the_output_of_a_passing_exercise() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["run", "hello"])
        .assert()
        .success()
        .stdout(contains("hello from main"))
        .stdout(contains("✓ hello passes every stage"))
        .stdout(contains("exercises/00_basics/hello.rs"));
}

// A failing test is named, with its assertion message, and later stages are skipped.
#[test]
fn run_names_failing_tests_with_their_messages() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["run", "sum_todo"])
        .assert()
        .code(1)
        .stdout(contains("2 of 2 tests failed"))
        .stdout(contains("✗ tests::adds_small_numbers"))
        .stdout(contains("not yet implemented"))
        .stdout(contains("clippy            skipped"))
        .stdout(contains("backlings hint sum_todo"));
}

// A compile error shows the compiler's first error in full.
#[test]
fn run_shows_the_first_compiler_error() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["run", "broken"])
        .assert()
        .code(1)
        .stdout(contains("compile    "))
        .stdout(contains("error[E0308]: mismatched types"))
        .stdout(contains("exercises/00_basics/broken.rs:5:5"));
}

// An infinite loop (with a child process) is killed at its timeout, and nothing of it survives.
#[test]
fn run_kills_an_infinite_loop_and_its_children() {
    let sb = Sandbox::mini();
    let started = Instant::now();
    sb.cmd()
        .args(["run", "looping"])
        .assert()
        .code(1)
        .stdout(contains("still running after 1.5s"))
        .stdout(contains("every process it started were stopped"));
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(
        sb.live_processes(),
        Vec::<std::path::PathBuf>::new(),
        "a learner process outlived backlings"
    );
}

// 100 MB of output is cut, with its size said, and never floods the terminal or memory.
#[test]
fn run_caps_a_program_printing_100_mb() {
    let sb = Sandbox::mini();
    let output = sb.cmd().args(["run", "flood"]).output().unwrap();
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.len() < 64 * 1024, "printed {} bytes", text.len());
    assert!(text.contains("100.0 MiB in all"), "{text}");
}

// A panic in main is reported as a crash with its message.
#[test]
fn run_reports_a_panic() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["run", "panics"])
        .assert()
        .code(1)
        .stdout(contains("run        "))
        .stdout(contains("panicked (exit code 101)"))
        .stdout(contains(
            "index out of bounds: the len is 3 but the index is 7",
        ));
}

// A program that passes its visible tests but not the grader gets the grader's transcript and a replay line;
// the same seed replays the same case; the solution passes.
#[test]
fn run_grades_with_the_hidden_grader() {
    let sb = Sandbox::mini();
    sb.write(
        "exercises/01_graded/doubler.rs",
        &sb.read("checker/mutants/doubler/adds_two.rs"),
    );
    let first = sb
        .cmd()
        .args(["run", "doubler", "--seed", "5"])
        .output()
        .unwrap();
    let text = stdout(&first);
    assert_eq!(first.status.code(), Some(1), "{text}");
    assert!(
        text.contains("tests      ") && text.contains("1 test passed"),
        "{text}"
    );
    assert!(
        text.contains("rejected at seed 5") && text.contains("the number doubled"),
        "{text}"
    );
    assert!(
        text.contains("replay: backlings run doubler --seed 5"),
        "{text}"
    );
    let replay = stdout(
        &sb.cmd()
            .args(["run", "doubler", "--seed", "5"])
            .output()
            .unwrap(),
    );
    let transcript = |text: &str| {
        text.lines()
            .find(|line| line.starts_with("line "))
            .map(str::to_string)
    };
    assert_eq!(transcript(&text), transcript(&replay));
    sb.solve("01_graded", "doubler");
    sb.cmd()
        .args(["run", "doubler", "--seed", "5"])
        .assert()
        .success()
        .stdout(contains("grader transcript"))
        .stdout(contains("every number came back doubled"));
}

// A typo gets a suggestion and exit code 2.
#[test]
fn run_suggests_the_closest_name() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["run", "sum_tod"])
        .assert()
        .code(2)
        .stderr(contains("error: no exercise named `sum_tod` in info.toml"))
        .stderr(contains("hint: did you mean `sum_todo`?"));
}

// Passing the current exercise moves on to the next unsolved one.
#[test]
fn run_without_a_name_runs_the_current_exercise_and_moves_on() {
    let sb = Sandbox::mini();
    sb.cmd()
        .arg("run")
        .assert()
        .success()
        .stdout(contains("next up: `sum_todo`"));
    sb.cmd()
        .arg("run")
        .assert()
        .code(1)
        .stdout(contains("✗ sum_todo"));
}

// Each `hint` call shows one more tier, remembered across runs; `--all` shows every tier.
#[test]
fn hint_reveals_one_tier_per_call() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["hint", "sum_todo"])
        .assert()
        .success()
        .stdout(contains("hint 1 of 3"))
        .stdout(contains("Look at the `todo!()`."));
    let second = stdout(&sb.cmd().args(["hint", "sum_todo"]).output().unwrap());
    assert!(
        second.contains("hint 2 of 3") && !second.contains("hint 1 of 3"),
        "{second}"
    );
    sb.cmd()
        .args(["hint", "sum_todo"])
        .assert()
        .stdout(contains("hint 3 of 3"))
        .stdout(contains("that was the last tier"));
    sb.cmd()
        .args(["hint", "sum_todo", "--all"])
        .assert()
        .stdout(contains("hint 1 of 3"))
        .stdout(contains("hint 3 of 3"))
        .stdout(contains("`a + b`."));
}

// `reset` restores the committed version and keeps the learner's work in a backup it names.
#[test]
fn reset_restores_the_shipped_file_and_keeps_a_backup() {
    let sb = Sandbox::mini().with_git();
    let shipped = sb.read("exercises/00_basics/sum_todo.rs");
    sb.solve("00_basics", "sum_todo");
    let mine = sb.read("exercises/00_basics/sum_todo.rs");
    sb.cmd()
        .args(["reset", "sum_todo"])
        .assert()
        .success()
        .stdout(contains(
            "your version is saved in `.backlings/backups/sum_todo.1.rs`",
        ));
    assert_eq!(sb.read("exercises/00_basics/sum_todo.rs"), shipped);
    assert_eq!(sb.read(".backlings/backups/sum_todo.1.rs"), mine);
    sb.cmd()
        .args(["reset", "sum_todo"])
        .assert()
        .success()
        .stdout(contains("already the shipped version"));
}

// Without git history, `reset` says why and what to do.
#[test]
fn reset_outside_git_explains() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["reset", "hello"])
        .assert()
        .code(2)
        .stderr(contains("cannot find the shipped version"))
        .stderr(contains("hint:"));
}

// With colours on (a terminal whose reset code ends in a shift-in, as `TERM=screen` has), failing tests are
// still read and named.
#[test]
fn run_reads_coloured_test_output() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["--color", "always", "run", "sum_todo"])
        .env("TERM", "screen")
        .assert()
        .code(1)
        .stdout(contains("2 of 2 tests failed"))
        .stdout(contains("tests::adds_negative_numbers"));
}
