//! The command line, as clap derive types. The `///` lines are the `--help` text; [`crate::cmd`] runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A hands-on course in backend engineering, in Rust.
///
/// Edit the current exercise in `exercises/`, save, and backlings compiles it, runs its tests, grades it with a
/// hidden black-box grader and lints it. Run `backlings` alone inside the course directory to start.
#[derive(Debug, Parser)]
#[command(name = "backlings", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// What to do (default: watch)
    #[command(subcommand)]
    pub command: Option<Command>,

    /// When to use colours: auto (a terminal without NO_COLOR), always or never
    #[arg(
        long,
        value_enum,
        default_value_t,
        global = true,
        hide_possible_values = true
    )]
    pub color: ColorChoice,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Re-run the current exercise whenever you save it (the default)
    Watch(WatchArgs),
    /// Run one exercise once: compile, tests, grader, clippy
    Run {
        /// The exercise (default: the current one)
        name: Option<String>,
        /// Replay a grading with this seed (default: a fresh one each run)
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Show the next hint for an exercise (each call reveals one more tier)
    Hint {
        /// The exercise (default: the current one)
        name: Option<String>,
        /// Show every tier at once
        #[arg(long)]
        all: bool,
    },
    /// Restore the shipped version of an exercise (your version is backed up first)
    Reset {
        /// The exercise to restore
        name: String,
    },
    /// List the exercises and your progress (interactive in a terminal)
    List {
        /// Print a plain table even in a terminal
        #[arg(long)]
        plain: bool,
    },
    /// Check every exercise; exits 1 if any is still pending
    Verify(VerifyArgs),
    /// Tools for course authors
    #[command(subcommand)]
    Dev(DevCommand),
}

/// Options of `backlings watch`.
#[derive(Debug, Default, Args)]
pub struct WatchArgs {
    /// Run only when you press Enter, for file systems whose changes are not reported (WSL, network mounts)
    #[arg(long)]
    pub manual_run: bool,
}

/// Options of `backlings verify`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct VerifyArgs {
    /// Merge many learners' `verify --format json` results instead
    #[command(subcommand)]
    pub merge: Option<VerifyCommand>,
    /// Output format: human, json (documented in checker/INFO_TOML.md) or junit
    #[arg(long, value_enum, default_value_t, hide_possible_values = true)]
    pub format: Format,
    /// Only these tracks (`01_http`) or exercises; repeat or separate with commas
    #[arg(long, value_name = "TRACK|NAME", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run only shard I of N (1-based), e.g. `--shard 2/4`, to split the work across CI jobs
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// The grader seed
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Grade the `exercises/` of another directory or git ref, with this course's pristine graders
    #[arg(long, value_name = "DIR|GIT_REF")]
    pub exercises_from: Option<String>,
    /// The learner's name to put in the JSON result (for `verify merge`)
    #[arg(long)]
    pub learner: Option<String>,
    /// Exercises graded in parallel (default: the number of cores)
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

/// Subcommands of `backlings verify`.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Merge `verify --format json` files of many learners into one table
    Merge {
        /// The JSON files (a learner is named by the file's `learner` field, else by its file name)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// markdown or csv
        #[arg(long, value_enum, default_value_t, hide_possible_values = true)]
        format: TableFormat,
    },
}

/// Subcommands of `backlings dev`.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Check the course: exercises fail, solutions pass, graders reject their mutants, files and hints exist
    Check {
        /// Only these tracks or exercises; repeat or separate with commas
        #[arg(long, value_name = "TRACK|NAME", value_delimiter = ',')]
        only: Vec<String>,
        /// Exercises checked in parallel (default: the number of cores)
        #[arg(long, short)]
        jobs: Option<usize>,
    },
    /// Measure save → verdict per stage (p50/p95) on reference solutions, and the watcher's idle CPU and memory
    Bench {
        /// The exercises to time (default: the first one); repeat or separate with commas
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        only: Vec<String>,
        /// Timed saves per exercise (after one warm-up run)
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Seconds to watch the idle watcher (0 skips it)
        #[arg(long, default_value_t = 20)]
        idle_seconds: u64,
    },
    /// Scaffold a new exercise, its solution and its info.toml entry
    New {
        /// The exercise name (lowercase, digits and `_`; unique in the course)
        name: String,
        /// The track directory under `exercises/`, e.g. `01_http`
        #[arg(long)]
        dir: String,
    },
}

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per exercise, details of the first failure
    #[default]
    Human,
    /// One JSON document (schema 1)
    Json,
    /// JUnit XML, for CI test reports
    Junit,
}

/// Output format of `verify merge`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// A markdown table
    #[default]
    Markdown,
    /// Comma-separated values
    Csv,
}

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colours on a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// `--shard I/N`: this run takes every exercise whose position modulo N is I - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index of this shard.
    pub index: usize,
    /// How many shards in all.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (index, count) = text.split_once('/').ok_or("expected I/N, e.g. 1/4")?;
        let index: usize = index
            .trim()
            .parse()
            .map_err(|_| format!("`{index}` is not a number"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("`{count}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("need 1 <= I <= N, got {index}/{count}"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shards are 1-based and bounded.
    #[test]
    fn shard_parses_and_rejects_out_of_range() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    // The derive is consistent (clap's own checks).
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
