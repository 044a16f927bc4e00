//! The commands. Each `cmd/*.rs` exposes one `run(ws, ..) -> anyhow::Result<ExitCode>`.

pub mod dev;
pub mod hint;
pub mod list;
pub mod reset;
pub mod run;
pub mod verify;
pub mod watch;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::ui::style;
use crate::workspace::Workspace;

/// Runs the command line: finds the course, then dispatches.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    style::set_choice(cli.color);
    let command = cli.command.unwrap_or(Command::Watch(Default::default()));
    // Merging result files needs no course.
    if let Command::Verify(crate::cli::VerifyArgs {
        merge: Some(merge), ..
    }) = &command
    {
        return verify::merge(merge);
    }
    let ws = Workspace::discover()?;
    match command {
        Command::Watch(args) => watch::run(&ws, args),
        Command::Run { name, seed } => run::run(&ws, name.as_deref(), seed),
        Command::Hint { name, all } => hint::run(&ws, name.as_deref(), all),
        Command::Reset { name } => reset::run(&ws, &name),
        Command::List { plain } => list::run(&ws, plain),
        Command::Verify(args) => verify::run(&ws, &args),
        Command::Dev(dev) => dev::run(&ws, dev),
    }
}

/// Exit code 1: something is pending or failing.
pub fn failing() -> ExitCode {
    ExitCode::from(1)
}
