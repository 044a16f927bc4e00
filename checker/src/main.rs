//! `backlings`: a hands-on course in backend engineering, in Rust.
//!
//! Parses the command line, runs the command and prints an error once, with its hint.

mod cli;
mod cmd;
mod error;
mod exercise;
mod files;
mod info;
mod interrupt;
mod pipeline;
mod state;
mod ui;
mod workspace;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    interrupt::restore_default_sigpipe();
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let color = ui::style::stderr_color();
            eprintln!(
                "{} {err:#}",
                ui::style::paint("error:", ui::style::RED_BOLD, color)
            );
            if let Some(hint) = error::hint_for(&err) {
                eprintln!(
                    "  {} {hint}",
                    ui::style::paint("hint:", ui::style::CYAN_BOLD, color)
                );
            }
            ExitCode::from(2)
        }
    }
}
