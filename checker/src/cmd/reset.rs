//! `backlings reset NAME`: restore the shipped version of an exercise from git, keeping a backup.

use std::process::ExitCode;

use crate::files::{self, Restored};
use crate::workspace::Workspace;

/// Restores `name`; the learner's version goes to `.backlings/backups/` first.
pub fn run(ws: &Workspace, name: &str) -> anyhow::Result<ExitCode> {
    let path = ws.find(name)?.path();
    match files::restore(ws, name)? {
        Restored::Unchanged => println!("`{path}` is already the shipped version"),
        Restored::Restored { backup } => {
            if let Some(backup) = backup {
                println!("your version is saved in `{backup}`");
            }
            println!("✓ `{path}` is back to its shipped version");
        }
    }
    Ok(ExitCode::SUCCESS)
}
