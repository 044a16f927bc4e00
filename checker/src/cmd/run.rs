//! `backlings run [NAME] [--seed N]`: one exercise through every stage, once.

use std::process::ExitCode;

use anyhow::Context;
use backlings_grade::sandbox::Cancel;

use crate::error::CheckerError;
use crate::exercise::Exercise;
use crate::interrupt;
use crate::pipeline::{self, RunOptions, Verdict};
use crate::state::{self, State};
use crate::ui::progress::ProgressLine;
use crate::ui::style::{self, paint};
use crate::workspace::Workspace;

/// Runs `name` (default: the current exercise) and prints its verdict; exit code 1 unless it passes.
pub fn run(ws: &Workspace, name: Option<&str>, seed: Option<u64>) -> anyhow::Result<ExitCode> {
    let mut state = State::load(ws)?;
    let exercise = ws.find(name.unwrap_or(state.current()))?;
    let cancel = Cancel::default();
    interrupt::cancel_on_ctrl_c(cancel.clone());
    let color = style::stdout_color();
    let options = RunOptions {
        seed: seed.unwrap_or_else(pipeline::fresh_seed),
        cancel,
        color,
    };
    let was_current = state.current() == exercise.name;
    let verdict = grade_and_record(ws, &mut state, exercise, &options)?;
    print!("{}", verdict.render(color));
    if verdict.is_cancelled() {
        return Ok(ExitCode::from(130));
    }
    if !verdict.passed() {
        if !exercise.hints.is_empty() {
            println!(
                "{} `backlings hint {}` gives a hint",
                paint("stuck?", style::CYAN_BOLD, color),
                exercise.name
            );
        }
        return Ok(super::failing());
    }
    if was_current {
        match state.next_unsolved().map(str::to_string) {
            Some(next) => {
                state.set_current(&next);
                println!(
                    "{} `{next}`: `backlings run` runs it, `backlings hint` helps",
                    paint("next up:", style::CYAN_BOLD, color)
                );
            }
            None => println!("{}", ws.info().final_message.as_deref().unwrap_or(ALL_DONE)),
        }
    }
    state.save()?;
    Ok(ExitCode::SUCCESS)
}

/// Grades `exercise` with a progress line, and remembers the verdict in `state` (saved by the caller).
pub fn grade_and_record(
    ws: &Workspace,
    state: &mut State,
    exercise: &Exercise,
    options: &RunOptions,
) -> anyhow::Result<Verdict> {
    let path = ws.root().join(exercise.path());
    let source = match std::fs::read(&path) {
        Ok(source) => source,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(CheckerError::MissingFile {
                name: exercise.name.clone(),
                path: exercise.path(),
            }
            .into());
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read `{path}`")),
    };
    let mut progress = ProgressLine::new();
    let verdict =
        pipeline::run_exercise(ws, exercise, options, &mut |update| progress.show(update))?;
    progress.clear();
    if !verdict.is_cancelled() {
        state.record(&exercise.name, &verdict, state::content_hash(&source));
        state.save()?;
    }
    Ok(verdict)
}

const ALL_DONE: &str = "Every exercise passes. Well done!";
