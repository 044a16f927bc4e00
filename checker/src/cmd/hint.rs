//! `backlings hint [NAME] [--all]`: hints in tiers, from a nudge to nearly the solution.

use std::process::ExitCode;

use crate::state::State;
use crate::ui::style::{self, paint};
use crate::workspace::Workspace;

/// Shows the next hint tier of `name` (default: the current exercise), or all of them.
pub fn run(ws: &Workspace, name: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    let mut state = State::load(ws)?;
    let exercise = ws.find(name.unwrap_or(state.current()))?;
    let color = style::stdout_color();
    let hints = &exercise.hints;
    if hints.is_empty() {
        println!(
            "`{}` has no hints: its file's header and TODO comments are all there is",
            exercise.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let total = hints.len();
    let shown = state.exercise(&exercise.name).hints_shown;
    let tiers = if all {
        1..=total
    } else {
        let tier = (shown + 1).min(total);
        tier..=tier
    };
    for tier in tiers.clone() {
        let title = format!("hint {tier} of {total} for `{}`", exercise.name);
        println!(
            "{}\n{}\n",
            paint(&title, style::CYAN_BOLD, color),
            hints[tier - 1].trim_end()
        );
    }
    let reached = *tiers.end();
    if reached < total {
        println!(
            "(`backlings hint` again shows the next tier, `backlings hint --all` shows all {total})"
        );
    } else if !all && total > 1 {
        println!("(that was the last tier; `backlings hint --all` shows all {total})");
    }
    state.set_hints_shown(&exercise.name, shown.max(reached));
    state.save()?;
    Ok(ExitCode::SUCCESS)
}
