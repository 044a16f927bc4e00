//! `backlings watch` (the default): the screen the learner lives in. Save the current exercise and it is
//! compiled, tested, graded and linted again; when it passes, `n` moves on.
//!
//! One loop owns everything and blocks on one channel: the file watcher, the keyboard (or stdin lines without a
//! terminal), signals and the runs all send [`Event`]s into it, so an idle watcher uses no CPU. Runs happen on
//! threads; a save during a run cancels it through its `Cancel` token and grades the new content once it has
//! stopped. The modules:
//!
//! - [`events`]: the events, and the file-watching engine (one event per burst of editor writes);
//! - [`session`]: the state machine deciding what runs and what is shown;
//! - [`screen`]: the terminal screen and its raw-mode guard; [`plain`]: the line output without a terminal;
//! - [`keys`]: keys and command lines; [`list`]: the exercise list; [`signals`]: SIGTERM and friends.

mod events;
mod keys;
mod list;
mod plain;
mod screen;
mod session;
mod signals;

use std::io::IsTerminal;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::mpsc::{self, Sender};
use std::thread::{self, Scope};

use anyhow::Context;
use backlings_grade::sandbox;

use crate::cli::WatchArgs;
use crate::pipeline::{self, BatchOptions, Job, RunOptions};
use crate::state::State;
use crate::ui::style;
use crate::workspace::Workspace;

use self::events::Event;
use self::session::{Launch, Session, Work};

/// Watches the current exercise until the learner quits (`q`, Ctrl-C, end of stdin, SIGTERM).
pub fn run(ws: &Workspace, args: WatchArgs) -> anyhow::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let color = interactive && style::stdout_color();
    let state = State::load(ws)?;
    let (sender, receiver) = mpsc::channel();
    signals::forward_to(sender.clone())?;
    let exercises_dir = ws.root().join("exercises");
    let _watcher = if args.manual_run {
        None
    } else {
        let watcher = events::watch(&exercises_dir, sender.clone())
            .with_context(|| format!("{WATCHER_FAILED} `{exercises_dir}`"))?;
        Some(watcher)
    };
    let mut session = Session::new(ws, state, args.manual_run, interactive);
    let raw_mode = if interactive {
        Some(screen::RawMode::enable().context("cannot switch the terminal to raw mode")?)
    } else {
        None
    };
    if interactive {
        keys::spawn_terminal_reader(sender.clone())?;
    } else {
        keys::spawn_line_reader(sender.clone())?;
        plain::print_intro(&session)?;
    }
    session.start();
    let mut signal = None;
    let outcome = thread::scope(|scope| -> anyhow::Result<()> {
        let result = (|| -> anyhow::Result<()> {
            loop {
                for launch in session.take_launches() {
                    spawn_run(scope, ws, launch, color, sender.clone());
                }
                let notices = session.take_notices();
                if interactive {
                    screen::draw(&session, color).context("cannot draw the screen")?;
                } else {
                    plain::print(&session, notices).context("cannot write to stdout")?;
                }
                if session.quitting {
                    return Ok(());
                }
                // Blocks until something happens: nothing here polls.
                let Ok(event) = receiver.recv() else {
                    return Ok(());
                };
                if let Event::Signal(number) = event {
                    signal = Some(number);
                }
                session.handle(event);
            }
        })();
        // Whatever ended the loop, nothing the learner started outlives it, and the terminal is restored
        // before the (now cancelled) runs are joined.
        session.cancel_running();
        sandbox::kill_all();
        drop(raw_mode);
        result
    });
    outcome?;
    Ok(match signal {
        Some(number) => ExitCode::from(u8::try_from(128 + number).unwrap_or(1)),
        None => ExitCode::SUCCESS,
    })
}

/// Runs `launch` on a thread of `scope`, sending its progress and its verdicts to `events`.
fn spawn_run<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ws: &'scope Workspace,
    launch: Launch,
    color: bool,
    events: Sender<Event>,
) {
    scope.spawn(move || {
        let job = launch.job;
        let grade = || {
            let mut progress = |progress| {
                let _ = events.send(Event::Progress { job, progress });
            };
            match launch.work {
                Work::Exercise(index) => {
                    let options = RunOptions {
                        seed: launch.seed,
                        cancel: launch.cancel.clone(),
                        color,
                    };
                    pipeline::run_exercise(ws, &ws.exercises()[index], &options, &mut progress)
                        .map(|verdict| vec![verdict])
                }
                Work::CheckAll => {
                    let jobs: Vec<Job<'_>> = ws
                        .exercises()
                        .iter()
                        .map(|exercise| Job::exercise(exercise, launch.seed))
                        .collect();
                    let workers = thread::available_parallelism().map_or(2, usize::from);
                    let options = BatchOptions {
                        color,
                        cancel: launch.cancel.clone(),
                        jobs: workers,
                    };
                    pipeline::run_jobs(ws, &jobs, &options, &mut progress)
                }
            }
        };
        // A bug in the pipeline must not leave the screen waiting for a verdict forever.
        let verdicts = match panic::catch_unwind(AssertUnwindSafe(grade)) {
            Ok(result) => result.map_err(|err| format!("{err:#}")),
            Err(_) => Err("backlings crashed while grading (a bug: please report it)".to_string()),
        };
        let _ = events.send(Event::Finished { job, verdicts });
    });
}

const WATCHER_FAILED: &str =
    "cannot watch for saves (on WSL or a network mount, use `backlings watch --manual-run`):";
