//! The session's decisions, without threads or cargo: events in, launches and notices out.

use std::path::Path;
use std::time::Duration;

use camino::Utf8PathBuf;

use crate::pipeline::{Outcome, Stage, StageReport, Verdict};
use crate::state::State;
use crate::workspace::Workspace;

use super::super::events::{Changes, Event};
use super::super::keys::Key;
use super::{Notice, Session, Work};

/// A temp copy of the mini fixture course.
fn course() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini"),
        dir.path(),
    );
    let root = Utf8PathBuf::try_from(dir.path().to_path_buf()).unwrap();
    let ws = Workspace::open(&root).unwrap();
    (dir, ws)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" && entry.file_name() != ".backlings" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn session(ws: &Workspace) -> Session<'_> {
    let mut session = Session::new(ws, State::load(ws).unwrap(), false, false);
    session.start();
    session
}

fn verdict(name: &str, outcome: Outcome) -> Verdict {
    let compile = StageReport {
        stage: Stage::Compile,
        outcome,
        duration: Duration::ZERO,
        summary: String::new(),
        text: String::new(),
    };
    Verdict {
        exercise: name.into(),
        bin: name.into(),
        path: "exercises/x.rs".into(),
        seed: 1,
        stages: vec![compile],
    }
}

fn finish(session: &mut Session<'_>, job: u64, outcome: Outcome) {
    let name = session.current_name().to_string();
    session.handle(Event::Finished {
        job,
        verdicts: Ok(vec![verdict(&name, outcome)]),
    });
}

/// Writes `text` to the current exercise and tells the session, as the watcher would.
fn save(session: &mut Session<'_>, text: &str) {
    let ws = session.workspace();
    let path = ws.root().join(ws.exercises()[session.current()].path());
    std::fs::write(&path, text).unwrap();
    session.handle(Event::FilesChanged(Changes {
        paths: [path.into_std_path_buf()].into(),
        rescan: false,
    }));
}

fn jobs(session: &mut Session<'_>) -> Vec<(u64, Work)> {
    session
        .take_launches()
        .into_iter()
        .map(|launch| (launch.job, launch.work))
        .collect()
}

// Starting runs the current exercise once; a save runs it only when its content changed.
#[test]
fn the_content_decides_whether_a_save_runs() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    assert_eq!(jobs(&mut session), [(1, Work::Exercise(0))]);
    finish(&mut session, 1, Outcome::Passed);
    let shipped = std::fs::read_to_string(ws.root().join(ws.exercises()[0].path())).unwrap();
    save(&mut session, &shipped);
    assert_eq!(jobs(&mut session), [], "identical content is not run again");
    save(&mut session, &format!("{shipped}\n// edited\n"));
    assert_eq!(jobs(&mut session), [(2, Work::Exercise(0))]);
}

// A change during a run cancels it; however many changes come, one run follows, and the stale run shows nothing.
#[test]
fn a_change_during_a_run_cancels_it_and_runs_once_more() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    let first = session.take_launches().remove(0);
    session.take_notices();
    save(&mut session, "fn main() {} // one");
    save(&mut session, "fn main() {} // two");
    assert!(first.cancel.is_cancelled(), "the stale run is cancelled");
    assert_eq!(
        jobs(&mut session),
        [],
        "no second run before the first has stopped"
    );
    finish(&mut session, first.job, Outcome::Cancelled);
    assert_eq!(jobs(&mut session), [(2, Work::Exercise(0))]);
    assert!(
        !session.take_notices().contains(&Notice::Verdict),
        "the cancelled run has no verdict"
    );
    finish(&mut session, 2, Outcome::Failed);
    assert_eq!(session.take_notices(), [Notice::Verdict]);
}

// `n` refuses until the current exercise passes, then moves to the next unsolved one and runs it.
#[test]
fn next_moves_on_only_after_a_pass() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    session.take_launches();
    finish(&mut session, 1, Outcome::Failed);
    session.handle(Event::Key(Key::Next));
    assert_eq!(jobs(&mut session), []);
    assert!(
        session
            .note
            .as_deref()
            .is_some_and(|note| note.contains("once `hello` passes")),
        "{:?}",
        session.note
    );
    session.handle(Event::Key(Key::Run));
    assert_eq!(jobs(&mut session), [(2, Work::Exercise(0))]);
    finish(&mut session, 2, Outcome::Passed);
    assert!(session.state().is_solved("hello"));
    session.handle(Event::Key(Key::Next));
    assert_eq!(jobs(&mut session), [(3, Work::Exercise(1))]);
    assert_eq!(
        State::load(&ws).unwrap().current(),
        "sum_todo",
        "the move is saved"
    );
}

// Each `h` reveals one more tier, remembered in the state; past the last, a note says so.
#[test]
fn hints_reveal_one_tier_per_press() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    session.take_notices();
    for _ in 0..4 {
        session.handle(Event::Key(Key::Hint));
    }
    let notices = session.take_notices();
    assert_eq!(
        notices[..3],
        [
            Notice::Hint { tier: 1, total: 3 },
            Notice::Hint { tier: 2, total: 3 },
            Notice::Hint { tier: 3, total: 3 }
        ]
    );
    assert!(matches!(&notices[3], Notice::Note(note) if note.contains("last hint")));
    assert_eq!(State::load(&ws).unwrap().exercise("hello").hints_shown, 3);
}

// Saving another exercise runs nothing and says which exercise is current; the list jumps anywhere.
#[test]
fn other_exercises_are_noted_and_the_list_jumps() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    session.take_launches();
    let other = ws.root().join(ws.exercises()[2].path()).into_std_path_buf();
    session.handle(Event::FilesChanged(Changes {
        paths: [other].into(),
        rescan: false,
    }));
    assert!(
        session
            .note
            .as_deref()
            .is_some_and(|note| note.contains("`broken` changed")),
        "{:?}",
        session.note
    );
    session.handle(Event::Key(Key::Jump("broken".into())));
    assert_eq!(jobs(&mut session), [(2, Work::Exercise(2))]);
    assert_eq!(session.current_name(), "broken");
}

// Quitting cancels the running run; its late result changes nothing.
#[test]
fn quitting_cancels_the_run() {
    let (_dir, ws) = course();
    let mut session = session(&ws);
    let run = session.take_launches().remove(0);
    session.handle(Event::Signal(15));
    assert!(session.quitting && run.cancel.is_cancelled());
    finish(&mut session, run.job, Outcome::Cancelled);
    assert_eq!(jobs(&mut session), []);
}
