//! Watch without a terminal (an editor's task pane, CI, a test): plain lines, no colours, no screen clearing.
//!
//! Each graded save prints the rendered verdict followed by exactly one line starting with `verdict:`; commands
//! are read as lines from stdin (the same letters as the keys), and the end of stdin quits.

use std::io::{self, Write};

use super::list::{self, Row};
use super::session::{KEYS, Notice, Session};

/// Prints the opening lines: what is watched and how to drive it.
pub fn print_intro(session: &Session<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if let Some(welcome) = &session.welcome {
        writeln!(out, "{}\n", welcome.trim_end())?;
    }
    let ws = session.workspace();
    let how = if session.is_manual() {
        "an empty line runs it"
    } else {
        "saving it runs it"
    };
    writeln!(
        out,
        "watching `{}`: {how}",
        ws.exercises()[session.current()].path()
    )?;
    writeln!(
        out,
        "progress: {}/{} solved",
        session.state().solved_count(),
        ws.exercises().len()
    )?;
    writeln!(out, "commands (type a letter, then Enter): {KEYS}")?;
    out.flush()
}

/// Prints what happened.
pub fn print(session: &Session<'_>, notices: Vec<Notice>) -> io::Result<()> {
    let ws = session.workspace();
    let exercise = &ws.exercises()[session.current()];
    let mut out = io::stdout().lock();
    for notice in notices {
        match notice {
            Notice::Started => writeln!(out, "running `{}` ({})", exercise.name, exercise.path())?,
            Notice::Status(status) => writeln!(out, "  {}", status.trim())?,
            Notice::Verdict => {
                let Some(verdict) = &session.verdict else {
                    continue;
                };
                write!(out, "{}", verdict.render(false))?;
                let outcome = if verdict.passed() {
                    "passed".to_string()
                } else {
                    verdict.summary()
                };
                writeln!(
                    out,
                    "verdict: {} {outcome} (seed {})",
                    verdict.exercise, verdict.seed
                )?;
            }
            Notice::RunError(error) => {
                writeln!(out, "error: {error}")?;
                writeln!(out, "verdict: {} could not be checked", exercise.name)?;
            }
            Notice::Done { next: Some(next) } if next != exercise.name => {
                writeln!(
                    out,
                    "done: `{}` passes; type n (then Enter) for the next exercise, `{next}`",
                    exercise.name
                )?;
            }
            Notice::Done { .. } => {
                let message = ws
                    .info()
                    .final_message
                    .as_deref()
                    .unwrap_or("every exercise passes: well done!");
                writeln!(out, "done: {}", message.trim_end())?;
            }
            Notice::Hint { tier, total } => writeln!(
                out,
                "hint {tier}/{total}: {}",
                exercise.hints[tier - 1].trim_end()
            )?,
            Notice::Note(note) => writeln!(out, "note: {note}")?,
            Notice::List => {
                let state = session.state();
                writeln!(
                    out,
                    "progress: [{}] {}/{} solved",
                    list::bar(state.solved_count(), ws.exercises().len(), 30),
                    state.solved_count(),
                    ws.exercises().len()
                )?;
                for row in list::rows(ws, state, session.current()) {
                    match row {
                        Row::Track {
                            name,
                            solved,
                            total,
                        } => writeln!(out, "{name}  {solved}/{total}")?,
                        Row::Exercise {
                            name,
                            solved,
                            current,
                            ..
                        } => {
                            let mark = if solved { "✓" } else { "·" };
                            writeln!(
                                out,
                                "  {mark} {name}{}",
                                if current { "  (current)" } else { "" }
                            )?;
                        }
                    }
                }
                writeln!(out, "type `l NAME` to make NAME the current exercise")?;
            }
            Notice::Graded { exercise, passed } => {
                writeln!(out, "  {} {exercise}", if passed { "✓" } else { "✗" })?;
            }
            Notice::Checked { passed, failing } => {
                let pending = if failing.is_empty() {
                    String::new()
                } else {
                    format!("; pending: {}", failing.join(", "))
                };
                writeln!(
                    out,
                    "checked: {passed}/{} pass{pending}",
                    ws.exercises().len()
                )?;
            }
        }
    }
    out.flush()
}
