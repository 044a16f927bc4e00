//! `backlings list [--plain]`: the exercises and the learner's progress.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::state::State;
use crate::ui;
use crate::workspace::Workspace;

/// The interactive list on a terminal, a plain table otherwise (or with `--plain`).
pub fn run(ws: &Workspace, plain: bool) -> anyhow::Result<ExitCode> {
    let mut state = State::load(ws)?;
    if !plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return ui::list::run(ws, &mut state);
    }
    let rows = ui::table::rows(ws, &state);
    let (header, lines) = ui::table::format(&rows.iter().collect::<Vec<_>>());
    println!("  {header}");
    for (row, line) in rows.iter().zip(lines) {
        println!("{} {line}", if row.is_current { "→" } else { " " });
    }
    println!(
        "\n{}/{} done · current: `{}`",
        state.solved_count(),
        rows.len(),
        state.current()
    );
    Ok(ExitCode::SUCCESS)
}
