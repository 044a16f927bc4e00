//! Everything the watch loop reacts to, and the file-watching engine that turns editor saves into one event per
//! burst.
//!
//! Editors save in many ways: a write in place, a write to a temp file renamed over the original (vim,
//! JetBrains), a delete then a create. Each way makes a different storm of inotify events, and several of them
//! replace the file's inode, so we watch the `exercises/` directory (recursively), never the file. A burst of
//! events is collapsed into one [`Event::FilesChanged`] once the directory has been quiet for [`QUIET`]; whether
//! that means a new run is decided later from the file's content, not from how many events came.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use camino::Utf8Path;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::pipeline::{Progress, Verdict};

use super::keys::Key;

/// How long the directory must stay quiet before a burst of events counts as one save. Editors finish a save
/// within a few milliseconds; a person does not save twice within this.
pub const QUIET: Duration = Duration::from_millis(150);

/// A burst that never goes quiet (a tool rewriting files in a loop) is still flushed this often, so a run is
/// never postponed forever.
const LONGEST_BURST: Duration = Duration::from_secs(2);

/// What the watch loop reacts to. Every source (watcher, keyboard, signals, runs) sends these into one channel,
/// and the loop blocks on it: an idle watcher uses no CPU.
#[derive(Debug)]
pub enum Event {
    /// Files under `exercises/` changed (editor temp and swap files already left out).
    FilesChanged(Changes),
    /// The file watcher reported an error; watching may have stopped.
    WatcherFailed(String),
    /// A key (or, without a terminal, a command line).
    Key(Key),
    /// The terminal was resized.
    Resize,
    /// Stdin reached its end (no terminal): time to quit.
    InputClosed,
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(i32),
    /// A run reports a stage starting or a cargo progress line.
    Progress { job: u64, progress: Progress },
    /// A run finished with a verdict per exercise it graded, or could not run at all.
    Finished {
        job: u64,
        verdicts: Result<Vec<Verdict>, String>,
    },
}

/// One burst of changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The files that changed.
    pub paths: BTreeSet<PathBuf>,
    /// The watcher lost events (a kernel queue overflow): any file may have changed.
    pub rescan: bool,
}

impl Changes {
    /// Adds what one watcher event says changed.
    pub fn add(&mut self, event: notify::Event) {
        if event.need_rescan() {
            self.rescan = true;
        }
        // Opening or reading a file changes nothing; our own hashing would otherwise wake us up again.
        if matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write))
        {
            return;
        }
        self.paths.extend(
            event
                .paths
                .into_iter()
                .filter(|path| !is_editor_temp_file(path)),
        );
    }

    /// Whether nothing worth a look changed.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan
    }
}

/// Whether `path` is a temp, swap or backup file of an editor, never an exercise: vim's `.x.rs.swp` and
/// `x.rs~` and its `4913` probe, `.tmp` files, and JetBrains' `x.rs___jb_tmp___` / `x.rs___jb_old___`.
pub fn is_editor_temp_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return true;
    };
    name == "4913"
        || name.ends_with('~')
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || [".swp", ".swo", ".swx", ".tmp"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || (name.starts_with(".#") || (name.starts_with('#') && name.ends_with('#')))
}

/// Keeps `exercises/` watched while alive; dropping it stops the watcher and its thread.
pub struct FileWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `dir` recursively; each quiet-terminated burst of changes becomes one
/// [`Event::FilesChanged`] on `events`.
pub fn watch(dir: &Utf8Path, events: Sender<Event>) -> anyhow::Result<FileWatcher> {
    let (raw_tx, raw_rx) = mpsc::channel();
    let mut watcher =
        notify::recommended_watcher(raw_tx).context("cannot start the file watcher")?;
    watcher
        .watch(dir.as_std_path(), RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{dir}`"))?;
    thread::Builder::new()
        .name("watch-debounce".into())
        .spawn(move || debounce(&raw_rx, QUIET, LONGEST_BURST, &events))
        .context("cannot start the file watcher thread")?;
    Ok(FileWatcher { _watcher: watcher })
}

/// Collapses raw watcher events into bursts. Blocks on the channel between bursts, so it costs nothing while
/// the learner is reading or typing; returns when either side hangs up.
fn debounce(
    raw: &Receiver<notify::Result<notify::Event>>,
    quiet: Duration,
    longest: Duration,
    events: &Sender<Event>,
) {
    while let Ok(first) = raw.recv() {
        let started = Instant::now();
        let mut changes = Changes::default();
        let mut errors = Vec::new();
        let mut take = |result: notify::Result<notify::Event>| match result {
            Ok(event) => changes.add(event),
            Err(err) => errors.push(err.to_string()),
        };
        take(first);
        let mut hung_up = false;
        while started.elapsed() < longest {
            match raw.recv_timeout(quiet) {
                Ok(result) => take(result),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    hung_up = true;
                    break;
                }
            }
        }
        if !errors.is_empty()
            && events
                .send(Event::WatcherFailed(errors.join("; ")))
                .is_err()
        {
            return;
        }
        if !changes.is_empty() && events.send(Event::FilesChanged(changes)).is_err() {
            return;
        }
        if hung_up {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind, RenameMode};

    use super::*;

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        paths.iter().fold(notify::Event::new(kind), |event, path| {
            event.add_path(PathBuf::from(path))
        })
    }

    // Every editor's side files are ignored; the exercise itself never is.
    #[test]
    fn editor_temp_files_are_recognised() {
        for temp in [
            "/c/exercises/01_http/.ping.rs.swp",
            "/c/exercises/01_http/.ping.rs.swx",
            "/c/exercises/01_http/ping.rs~",
            "/c/exercises/01_http/4913",
            "/c/exercises/01_http/ping.rs.tmp",
            "/c/exercises/01_http/ping.rs___jb_tmp___",
            "/c/exercises/01_http/ping.rs___jb_old___",
            "/c/exercises/01_http/.#ping.rs",
            "/c/exercises/01_http/#ping.rs#",
        ] {
            assert!(
                is_editor_temp_file(Path::new(temp)),
                "{temp} should be ignored"
            );
        }
        assert!(!is_editor_temp_file(Path::new(
            "/c/exercises/01_http/ping.rs"
        )));
        assert!(!is_editor_temp_file(Path::new(
            "/c/exercises/01_http/ping4913.rs"
        )));
    }

    // A JetBrains save (write temp, rename old away, rename temp over) leaves only the exercise path.
    #[test]
    fn a_rename_save_keeps_only_the_exercise_path() {
        let mut changes = Changes::default();
        changes.add(event(
            EventKind::Create(CreateKind::File),
            &["/e/a.rs___jb_tmp___"],
        ));
        changes.add(event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/e/a.rs", "/e/a.rs___jb_old___"],
        ));
        changes.add(event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/e/a.rs___jb_tmp___", "/e/a.rs"],
        ));
        changes.add(event(
            EventKind::Remove(RemoveKind::File),
            &["/e/a.rs___jb_old___"],
        ));
        assert_eq!(
            changes.paths.into_iter().collect::<Vec<_>>(),
            [PathBuf::from("/e/a.rs")]
        );
    }

    // Opening and reading a file (our own hashing, cargo, an editor) is not a change; a write is.
    #[test]
    fn reads_are_not_changes() {
        let mut changes = Changes::default();
        changes.add(event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/e/a.rs"],
        ));
        changes.add(event(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            &["/e/a.rs"],
        ));
        assert!(changes.is_empty());
        changes.add(event(
            EventKind::Modify(ModifyKind::Data(DataChange::Content)),
            &["/e/a.rs"],
        ));
        assert!(!changes.is_empty());
    }

    // Twenty rapid writes are one burst, flushed once the directory is quiet; a later write is a second burst.
    #[test]
    fn a_burst_becomes_one_event_after_the_quiet_period() {
        let (raw_tx, raw_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let write = || {
            Ok(event(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/e/a.rs"],
            ))
        };
        // Queued before the debouncer starts, so no scheduling delay can split the burst.
        for _ in 0..20 {
            raw_tx.send(write()).unwrap();
        }
        let debouncer = thread::spawn(move || {
            debounce(
                &raw_rx,
                Duration::from_millis(50),
                Duration::from_secs(60),
                &tx,
            )
        });
        let Ok(Event::FilesChanged(first)) = rx.recv_timeout(Duration::from_secs(10)) else {
            panic!("no burst")
        };
        assert_eq!(first.paths.len(), 1);
        raw_tx.send(write()).unwrap();
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(Event::FilesChanged(_))
        ));
        drop(raw_tx);
        debouncer.join().unwrap();
        assert!(rx.try_recv().is_err(), "exactly one event per burst");
    }

    // Events that never stop are still flushed, so a run is not postponed forever.
    #[test]
    fn an_endless_burst_is_flushed_at_the_longest_burst() {
        let (raw_tx, raw_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || debounce(&raw_rx, Duration::from_secs(60), Duration::ZERO, &tx));
        raw_tx
            .send(Ok(event(EventKind::Create(CreateKind::File), &["/e/a.rs"])))
            .unwrap();
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(Event::FilesChanged(_))
        ));
    }
}
