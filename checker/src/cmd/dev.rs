//! `backlings dev`: tools for course authors.

mod bench;
mod check;
mod new;

use std::process::ExitCode;

use crate::cli::DevCommand;
use crate::workspace::Workspace;

/// Runs a `dev` subcommand.
pub fn run(ws: &Workspace, command: DevCommand) -> anyhow::Result<ExitCode> {
    match command {
        DevCommand::Check { only, jobs } => check::run(ws, &only, jobs),
        DevCommand::New { name, dir } => new::run(ws, &name, &dir),
        DevCommand::Bench {
            only,
            runs,
            idle_seconds,
        } => bench::run(ws, &only, runs, idle_seconds),
    }
}
