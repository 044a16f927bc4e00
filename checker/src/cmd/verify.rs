//! `backlings verify`: every stage of every (selected) exercise, non-interactively; exit code 0 only when all
//! pass. Results as text, JSON (schema in checker/INFO_TOML.md) or JUnit; `verify merge` tabulates many
//! learners' JSON results.

mod junit;
mod merge;
mod report;
mod scratch;

use std::process::ExitCode;

use backlings_grade::sandbox::Cancel;

use crate::cli::{Format, VerifyArgs, VerifyCommand};
use crate::exercise::Exercise;
use crate::interrupt;
use crate::pipeline::{self, BatchOptions, Job, Progress};
use crate::state::{self, State};
use crate::ui::progress::ProgressLine;
use crate::ui::style;
use crate::workspace::Workspace;

/// Verifies the selected exercises of `ws` (or of a learner's copy, with `--exercises-from`).
pub fn run(ws: &Workspace, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let scratch = match &args.exercises_from {
        Some(source) => Some(scratch::prepare(ws, source)?),
        None => None,
    };
    let course = scratch.as_ref().unwrap_or(ws);
    let mut selected = course.select(&args.only)?;
    if let Some(shard) = args.shard {
        selected = selected
            .into_iter()
            .enumerate()
            .filter(|(index, _)| index % shard.count == shard.index - 1)
            .map(|(_, exercise)| exercise)
            .collect();
    }
    let cancel = Cancel::default();
    interrupt::cancel_on_ctrl_c(cancel.clone());
    let color = args.format == Format::Human && style::stdout_color();
    let options = BatchOptions {
        color,
        cancel,
        jobs: args.jobs.unwrap_or_else(default_jobs),
    };
    let jobs: Vec<Job<'_>> = selected
        .iter()
        .map(|exercise| Job::exercise(exercise, args.seed))
        .collect();
    let mut progress = ProgressLine::new();
    let mut graded = 0;
    let verdicts = pipeline::run_jobs(course, &jobs, &options, &mut |update| {
        if let Progress::Graded { exercise, passed } = update {
            graded += 1;
            progress.show(Progress::Status(format!(
                "[{graded}/{}] {} {exercise}",
                jobs.len(),
                if passed { "✓" } else { "✗" }
            )));
        } else {
            progress.show(update);
        }
    })?;
    progress.clear();
    if verdicts.iter().any(pipeline::Verdict::is_cancelled) {
        eprintln!("verify was interrupted");
        return Ok(ExitCode::from(130));
    }
    if scratch.is_none() {
        remember(ws, &selected, &verdicts)?;
    }
    let results: Vec<(&Exercise, &pipeline::Verdict)> =
        selected.iter().copied().zip(&verdicts).collect();
    let text = match args.format {
        Format::Human => report::human(&results, color),
        Format::Json => report::json(&results, args)?,
        Format::Junit => junit::render(&results)?,
    };
    print!("{text}");
    Ok(if verdicts.iter().all(pipeline::Verdict::passed) {
        ExitCode::SUCCESS
    } else {
        super::failing()
    })
}

/// `verify merge`: many learners' JSON results as one table.
pub fn merge(command: &VerifyCommand) -> anyhow::Result<ExitCode> {
    let VerifyCommand::Merge { files, format } = command;
    print!("{}", merge::table(files, *format)?);
    Ok(ExitCode::SUCCESS)
}

/// Exercises graded at once by default: the cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn remember(
    ws: &Workspace,
    selected: &[&Exercise],
    verdicts: &[pipeline::Verdict],
) -> anyhow::Result<()> {
    let mut state = State::load(ws)?;
    for (exercise, verdict) in selected.iter().zip(verdicts) {
        let source = std::fs::read(ws.root().join(exercise.path())).unwrap_or_default();
        state.record(&exercise.name, verdict, state::content_hash(&source));
    }
    state.save()
}
