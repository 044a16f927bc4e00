//! `backlings dev check` and `dev new`.

use predicates::str::contains;

use crate::sandbox::{Sandbox, stdout};

// The mini course is sound: exercises fail, solutions pass, the grader rejects its mutant with the message.
#[test]
fn dev_check_passes_on_a_sound_course() {
    let sb = Sandbox::mini();
    sb.cmd()
        .args(["dev", "check"])
        .assert()
        .success()
        .stdout(contains("dev check: 7 exercises, no problems"));
}

// Each kind of mistake in a course is caught and named.
#[test]
fn dev_check_catches_course_mistakes() {
    let sb = Sandbox::mini();
    // A solution that fails, an exercise that passes as shipped, a mutant the grader accepts, a stray file.
    sb.write(
        "solutions/00_basics/broken.rs",
        "fn main() { let x: u32 = \"no\"; }\n",
    );
    sb.solve("00_basics", "sum_todo");
    sb.write(
        "checker/mutants/doubler/correct.rs",
        &format!(
            "//! mutant: actually right\n//! expect: doubled\n{}",
            sb.read("solutions/01_graded/doubler.rs")
        ),
    );
    let manifest = sb.read("exercises/01_graded/Cargo.toml")
        + "\n[[bin]]\nname = \"doubler__mutant__correct\"\npath = \"../../checker/mutants/doubler/correct.rs\"\nrequired-features = [\"mutants\"]\n";
    sb.write("exercises/01_graded/Cargo.toml", &manifest);
    sb.write("exercises/00_basics/stray.rs", "fn main() {}\n");
    sb.write(
        "solutions/00_basics/panics.rs",
        "fn main(){println!(\"unformatted\");}\n",
    );
    let output = sb.cmd().args(["dev", "check"]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("its solution fails: compile failed"),
        "{text}"
    );
    assert!(text.contains("it passes as shipped"), "{text}");
    assert!(
        text.contains("mutant `correct` was not rejected at seed 1"),
        "{text}"
    );
    assert!(
        text.contains("`exercises/00_basics/stray.rs` belongs to no exercise"),
        "{text}"
    );
    assert!(
        text.contains("`solutions/00_basics/panics.rs` is not rustfmt-clean"),
        "{text}"
    );
}

// `dev new` scaffolds files that build, appends (never rewrites) info.toml, and the new entry is flagged until
// its hints are written.
#[test]
fn dev_new_scaffolds_an_exercise() {
    let sb = Sandbox::mini();
    let info_before = sb.read("info.toml");
    sb.cmd()
        .args(["dev", "new", "triple", "--dir", "00_basics"])
        .assert()
        .success()
        .stdout(contains("created `exercises/00_basics/triple.rs`"));
    assert!(sb.read("info.toml").starts_with(&info_before));
    assert!(
        sb.read("exercises/00_basics/Cargo.toml")
            .contains("name = \"triple_sol\"")
    );
    let output = sb
        .cmd()
        .args(["dev", "check", "--only", "triple"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        text.contains("a hint is still a `TODO` placeholder") && text.contains("no `topics`"),
        "{text}"
    );
    assert!(
        !text.contains("solution fails") && !text.contains("passes as shipped"),
        "{text}"
    );
    sb.cmd()
        .args(["dev", "new", "triple", "--dir", "00_basics"])
        .assert()
        .code(2)
        .stderr(contains("listed twice"));
    sb.cmd()
        .args(["dev", "new", "Bad-Name", "--dir", "00_basics"])
        .assert()
        .code(2)
        .stderr(contains("not a valid exercise name"));
}
