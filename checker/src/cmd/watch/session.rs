//! The watch loop's state machine: which exercise is current, what is running, what the learner sees.
//!
//! It does no I/O of its own besides reading exercise files and saving the state file: it takes [`Event`]s,
//! asks for runs by queueing [`Launch`]es (the loop starts them on threads), and queues [`Notice`]s for the
//! plain, line-by-line output. The terminal screen draws from its fields instead. What each key does is in
//! [`commands`].

mod commands;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use backlings_grade::sandbox::Cancel;

use crate::pipeline::{self, Progress, Stage, Verdict};
use crate::state::{self, State};
use crate::workspace::Workspace;

use super::events::{Changes, Event};
use super::list::ListView;

/// A run for the loop to start on a thread.
#[derive(Debug)]
pub struct Launch {
    /// Identifies the run's progress and result events.
    pub job: u64,
    /// One exercise, or all of them.
    pub work: Work,
    /// Stops the run; the session keeps a clone.
    pub cancel: Cancel,
    /// The grader seed.
    pub seed: u64,
}

/// What a [`Launch`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// The exercise at this index in `info.toml`.
    Exercise(usize),
    /// Every exercise (`c`).
    CheckAll,
}

/// Something that happened, for the plain output (the screen redraws from the session instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A run of the current exercise started.
    Started,
    /// A cargo status line (`Compiling tokio v1.47.1`).
    Status(String),
    /// The current exercise has a new verdict: [`Session::verdict`].
    Verdict,
    /// backlings could not run the pipeline at all.
    RunError(String),
    /// The current exercise passed; `next` is the next unsolved one.
    Done { next: Option<String> },
    /// Hint tier `tier` (1-based) of `total` was revealed.
    Hint { tier: usize, total: usize },
    /// A one-line message.
    Note(String),
    /// The learner asked for the list.
    List,
    /// A check of every exercise graded one.
    Graded { exercise: String, passed: bool },
    /// A check of every exercise finished.
    Checked { passed: usize, failing: Vec<String> },
}

/// Where the screen is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// The current exercise: its verdict, hints and the key bar.
    Main,
    /// The exercise list, to jump anywhere.
    List(ListView),
}

#[derive(Debug)]
struct Running {
    job: u64,
    work: Work,
    cancel: Cancel,
    // Content hashes of the files this run grades, read just before it started.
    hashes: Vec<Option<String>>,
}

/// The state of `backlings watch`.
pub struct Session<'ws> {
    ws: &'ws Workspace,
    state: State,
    manual_run: bool,
    has_screen: bool,
    current: usize,
    paths: BTreeMap<PathBuf, usize>,
    running: Option<Running>,
    next_job: u64,
    rerun: bool,
    graded_hash: Option<String>,
    launches: Vec<Launch>,
    notices: Vec<Notice>,
    /// The verdict on the current exercise, once it has one.
    pub verdict: Option<Verdict>,
    /// Why the last run could not happen at all.
    pub run_error: Option<String>,
    /// The stage running now, and cargo's latest progress line.
    pub progress: Option<(Stage, Option<String>)>,
    /// Hint tiers on screen.
    pub hints_visible: usize,
    /// A one-line message under the verdict.
    pub note: Option<String>,
    /// The course's welcome message, until the first key.
    pub welcome: Option<String>,
    /// Exercises graded so far by a running check (`c`), and the summary of the last one.
    pub checked: Vec<(String, bool)>,
    /// What the screen shows.
    pub view: View,
    /// Quit was asked for.
    pub quitting: bool,
}

impl<'ws> Session<'ws> {
    /// A session on the current exercise of `state`; `start` begins it. `has_screen`: a terminal shows the
    /// list as a view (else it is printed once).
    pub fn new(
        ws: &'ws Workspace,
        mut state: State,
        manual_run: bool,
        has_screen: bool,
    ) -> Session<'ws> {
        let current = ws
            .exercises()
            .iter()
            .position(|exercise| exercise.name == state.current())
            .unwrap_or(0);
        let paths = ws
            .exercises()
            .iter()
            .enumerate()
            .map(|(index, exercise)| (ws.root().join(exercise.path()).into(), index))
            .collect();
        let welcome = ws
            .info()
            .welcome_message
            .clone()
            .filter(|_| state.take_welcome());
        Session {
            ws,
            state,
            manual_run,
            has_screen,
            current,
            paths,
            running: None,
            next_job: 0,
            rerun: false,
            graded_hash: None,
            launches: Vec::new(),
            notices: Vec::new(),
            verdict: None,
            run_error: None,
            progress: None,
            hints_visible: 0,
            note: None,
            welcome,
            checked: Vec::new(),
            view: View::Main,
            quitting: false,
        }
    }

    /// Saves the state (the welcome was shown) and runs the current exercise once.
    pub fn start(&mut self) {
        self.save_state();
        self.launch_current();
    }

    /// The course.
    pub fn workspace(&self) -> &'ws Workspace {
        self.ws
    }

    /// The learner's progress.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The index of the current exercise in `info.toml`.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Whether `--manual-run` is on.
    pub fn is_manual(&self) -> bool {
        self.manual_run
    }

    /// What is running now, if anything.
    pub fn running(&self) -> Option<Work> {
        self.running.as_ref().map(|running| running.work)
    }

    /// The runs to start, oldest first.
    pub fn take_launches(&mut self) -> Vec<Launch> {
        std::mem::take(&mut self.launches)
    }

    /// What happened since the last call, oldest first.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Stops whatever runs (quit, Ctrl-C).
    pub fn cancel_running(&mut self) {
        self.rerun = false;
        if let Some(running) = &self.running {
            running.cancel.cancel();
        }
    }

    /// Reacts to one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::FilesChanged(changes) => self.files_changed(&changes),
            Event::WatcherFailed(error) => self.tell(format!(
                "the file watcher reported: {error}; if saves stop being noticed, restart with `backlings watch --manual-run`"
            )),
            Event::Key(key) => self.key(key),
            Event::Resize => {}
            Event::InputClosed | Event::Signal(_) => self.quit(),
            Event::Progress { job, progress } => self.progressed(job, progress),
            Event::Finished { job, verdicts } => self.finished(job, verdicts),
        }
    }

    fn files_changed(&mut self, changes: &Changes) {
        let current_path = self
            .ws
            .root()
            .join(self.ws.exercises()[self.current].path());
        let reacted = (changes.rescan || changes.paths.contains(current_path.as_std_path()))
            && self.current_changed();
        let other = changes
            .paths
            .iter()
            .filter_map(|path| self.paths.get(path))
            .find(|&&index| index != self.current);
        if !reacted && let Some(&other) = other {
            let name = &self.ws.exercises()[other].name;
            self.tell(format!(
                "`{name}` changed, but the current exercise is `{}`: press l to jump to another one",
                self.current_name()
            ));
        }
    }

    /// Looks at the current file after a change: runs it (or stops a stale run) when its content is new.
    /// Returns whether anything happened.
    fn current_changed(&mut self) -> bool {
        let Some(hash) = self.hash_of(self.current) else {
            let path = self.ws.exercises()[self.current].path();
            self.tell(format!(
                "`{path}` is gone (deleted?): waiting for it to be saved again"
            ));
            return true;
        };
        match &self.running {
            // The run grades stale code: stop it and grade the new content once it has stopped.
            Some(running)
                if running.work == Work::Exercise(self.current)
                    && running.hashes[0].as_ref() != Some(&hash) =>
            {
                running.cancel.cancel();
                self.rerun = true;
                true
            }
            // A check of every exercise finishes first; `check_finished` then looks at the file again.
            Some(running) => running.work == Work::CheckAll,
            None if self.graded_hash.as_ref() != Some(&hash) => {
                self.launch_current();
                true
            }
            None => false,
        }
    }

    fn launch_current(&mut self) {
        let Some(hash) = self.hash_of(self.current) else {
            let path = self.ws.exercises()[self.current].path();
            return self.tell(format!(
                "`{path}` does not exist: create it, or `backlings reset {}`",
                self.current_name()
            ));
        };
        self.graded_hash = Some(hash.clone());
        self.launch(Work::Exercise(self.current), vec![Some(hash)]);
        self.notices.push(Notice::Started);
    }

    fn launch(&mut self, work: Work, hashes: Vec<Option<String>>) {
        self.next_job += 1;
        let cancel = Cancel::default();
        let seed = pipeline::fresh_seed();
        self.running = Some(Running {
            job: self.next_job,
            work,
            cancel: cancel.clone(),
            hashes,
        });
        self.progress = None;
        self.launches.push(Launch {
            job: self.next_job,
            work,
            cancel,
            seed,
        });
    }

    fn progressed(&mut self, job: u64, progress: Progress) {
        if self
            .running
            .as_ref()
            .is_none_or(|running| running.job != job)
        {
            return;
        }
        let (stage, line) = self.progress.take().unwrap_or((Stage::Compile, None));
        self.progress = Some(match progress {
            Progress::Stage(stage) => (stage, line),
            Progress::Build {
                done,
                total,
                current,
            } => (stage, Some(format!("building {done}/{total}: {current}"))),
            Progress::Status(status) => {
                self.notices.push(Notice::Status(status.clone()));
                (stage, Some(status))
            }
            Progress::Graded { exercise, passed } => {
                self.notices.push(Notice::Graded {
                    exercise: exercise.clone(),
                    passed,
                });
                self.checked.push((exercise, passed));
                (stage, line)
            }
        });
    }

    fn finished(&mut self, job: u64, result: Result<Vec<Verdict>, String>) {
        let Some(running) = self.running.take_if(|running| running.job == job) else {
            return;
        };
        self.progress = None;
        if self.rerun || self.quitting {
            // What ran is stale (or the learner is leaving): its verdict is not shown.
            self.rerun = false;
            if !self.quitting {
                self.launch_current();
            }
            return;
        }
        match (running.work, result) {
            (_, Err(error)) => {
                self.run_error = Some(error.clone());
                self.notices.push(Notice::RunError(error));
            }
            (Work::Exercise(index), Ok(mut verdicts))
                if index == self.current && !verdicts.is_empty() =>
            {
                let verdict = verdicts.remove(0);
                if verdict.is_cancelled() {
                    return;
                }
                self.record(index, &verdict, running.hashes[0].clone());
                self.run_error = None;
                let passed = verdict.passed();
                self.verdict = Some(verdict);
                self.notices.push(Notice::Verdict);
                if passed {
                    self.notices.push(Notice::Done {
                        next: self.state.next_unsolved().map(str::to_string),
                    });
                }
            }
            (Work::Exercise(_), Ok(_)) => {}
            (Work::CheckAll, Ok(verdicts)) => self.check_finished(verdicts, &running.hashes),
        }
    }

    fn check_finished(&mut self, verdicts: Vec<Verdict>, hashes: &[Option<String>]) {
        if verdicts.iter().any(Verdict::is_cancelled) {
            self.checked.clear();
            self.tell("the check was stopped".into());
            return self.run_if_changed();
        }
        self.reload_state();
        let mut failing = Vec::new();
        for (index, verdict) in verdicts.into_iter().enumerate() {
            if !verdict.passed() {
                self.state.mark_unsolved(&verdict.exercise);
                failing.push(verdict.exercise.clone());
            }
            self.record(index, &verdict, hashes[index].clone());
            if index == self.current {
                self.graded_hash.clone_from(&hashes[index]);
                self.verdict = Some(verdict);
            }
        }
        let passed = self.ws.exercises().len() - failing.len();
        let pending = if failing.is_empty() {
            String::new()
        } else {
            format!("; still pending: {}", failing.join(", "))
        };
        self.note = Some(format!(
            "checked every exercise: {passed}/{} pass{pending}",
            self.ws.exercises().len()
        ));
        self.notices.push(Notice::Checked { passed, failing });
        self.run_if_changed();
    }

    /// Runs the current exercise if it was saved while everything was checked.
    fn run_if_changed(&mut self) {
        if self.hash_of(self.current) != self.graded_hash {
            self.launch_current();
        }
    }

    fn record(&mut self, index: usize, verdict: &Verdict, hash: Option<String>) {
        self.reload_state();
        let name = self.ws.exercises()[index].name.clone();
        self.state.record(&name, verdict, hash.unwrap_or_default());
        self.save_state();
    }

    /// Re-reads the state file before a change, so what `backlings hint` or `run` wrote in another terminal
    /// while this screen was open is kept, not overwritten by our older copy.
    pub(super) fn reload_state(&mut self) {
        if let Ok(fresh) = State::load(self.ws) {
            self.state = fresh;
        }
    }

    fn save_state(&mut self) {
        if let Err(err) = self.state.save() {
            self.tell(format!("cannot save your progress: {err:#}"));
        }
    }

    fn tell(&mut self, note: String) {
        self.note = Some(note.clone());
        self.notices.push(Notice::Note(note));
    }

    /// The name of the current exercise.
    pub fn current_name(&self) -> &str {
        &self.ws.exercises()[self.current].name
    }

    fn hash_of(&self, index: usize) -> Option<String> {
        let path = self.ws.root().join(self.ws.exercises()[index].path());
        std::fs::read(path)
            .ok()
            .map(|bytes| state::content_hash(&bytes))
    }
}

/// The keys, for the key bar and for unknown keys.
pub const KEYS: &str = "n next · h hint · l list · r run · c check all · x clear · q quit";

const ALL_DONE: &str = "every exercise passes: well done!";
