//! Progress, `info.toml` errors and `list`.

use predicates::str::contains;

use crate::sandbox::Sandbox;

// A corrupted state file is a warning, not a crash; the bad file is kept and progress starts over.
#[test]
fn corrupted_state_is_recovered_with_a_warning() {
    let sb = Sandbox::mini();
    sb.write(
        ".backlings/state.json",
        "{\"format\": 1, \"current\": \"hel\u{0}",
    );
    sb.cmd()
        .args(["list", "--plain"])
        .assert()
        .success()
        .stderr(contains("warning: "))
        .stderr(contains("corrupted"))
        .stdout(contains("0/7 done"));
    assert!(sb.path().join(".backlings/state.json.bad").exists());
    sb.cmd().arg("run").assert().success();
    assert!(
        sb.read(".backlings/state.json")
            .contains("\"solved\": true")
    );
}

// A malformed info.toml is reported with file, line, column and what to fix.
#[test]
fn malformed_info_toml_points_at_line_and_column() {
    let sb = Sandbox::mini();
    let info = sb.read("info.toml").replace(
        "skip_check_unsolved = true\ntopics",
        "skip_check_unsolved = true\ntpoics",
    );
    sb.write("info.toml", &info);
    sb.cmd()
        .args(["list", "--plain"])
        .assert()
        .code(2)
        .stderr(contains("info.toml:10:1: unknown field `tpoics`"))
        .stderr(contains("^^^^^^"))
        .stderr(contains("hint: remove or rename the field"));
}

// `list --plain` is a table with status, track, difficulty and topics; the current exercise is marked.
#[test]
fn list_plain_shows_progress() {
    let sb = Sandbox::mini();
    sb.cmd().args(["run", "hello"]).assert().success();
    let output = sb.cmd().args(["list", "--plain"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let row = |name: &str| {
        text.lines()
            .find(|line| line.split_whitespace().any(|word| word == name))
            .unwrap()
            .to_string()
    };
    assert!(
        row("hello").contains("done") && row("hello").contains("00_basics"),
        "{text}"
    );
    assert!(
        row("sum_todo").starts_with('→') && row("sum_todo").contains("pending"),
        "{text}"
    );
    assert!(
        row("doubler").contains("2/5") && row("doubler").contains("grading"),
        "{text}"
    );
    assert!(text.contains("1/7 done"), "{text}");
}

// Outside a course, backlings says where it looked and what to do.
#[test]
fn outside_a_course_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("backlings");
    cmd.current_dir(dir.path())
        .args(["list", "--plain"])
        .assert()
        .code(2)
        .stderr(contains("no `info.toml`"))
        .stderr(contains("hint:"));
}

// `--help` reads like a cargo subcommand's.
#[test]
fn help_lists_the_commands() {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("backlings");
    let assert = cmd.arg("--help").assert().success();
    for command in ["watch", "run", "hint", "reset", "list", "verify", "dev"] {
        assert!(
            String::from_utf8_lossy(&assert.get_output().stdout).contains(&format!("  {command} ")),
            "{command}"
        );
    }
}
