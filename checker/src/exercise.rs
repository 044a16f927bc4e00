//! One exercise of the course, as `info.toml` describes it once validated.

use std::time::Duration;

use camino::Utf8PathBuf;
use serde::Deserialize;

/// An exercise: where its files are, which stages grade it, and its hints.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// Unique in the course; also the name of its bin target (`NAME_sol` is the solution).
    pub name: String,
    /// The track directory under `exercises/` and `solutions/`, if any.
    pub dir: Option<String>,
    /// Run its `#[cfg(test)]` tests.
    pub test: bool,
    /// Run clippy with `-D warnings`.
    pub strict_clippy: bool,
    /// Hints from nudge to near-solution (a lone rustlings `hint` is tier 1).
    pub hints: Vec<String>,
    /// `dev check` does not require the shipped version to fail.
    pub skip_check_unsolved: bool,
    /// Roadmap topic ids.
    pub topics: Vec<String>,
    /// 1 (easy) to 5 (hard).
    pub difficulty: Option<u8>,
    /// The hidden grader, if the exercise has one.
    pub grader: Option<GraderSpec>,
    /// Per-stage time limits.
    pub timeouts: Timeouts,
}

/// Which grader binary grades an exercise, and with what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraderSpec {
    /// The cargo package of the grader, e.g. `graders-01-http`.
    pub package: String,
    /// Its bin target (default: the package name).
    pub bin: Option<String>,
    /// The name the grader knows the exercise by (default: the exercise name).
    pub exercise: Option<String>,
    /// Parameters passed as `--params '<json>'`.
    pub params: Option<toml::Table>,
}

impl GraderSpec {
    /// The grader's bin target.
    pub fn bin(&self) -> &str {
        self.bin.as_deref().unwrap_or(&self.package)
    }
}

/// Time limits per stage, in milliseconds (`timeout_ms = { grader = 15000 }`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// cargo build of the exercise (default 600 000: a first build compiles the dependencies).
    pub compile: Option<u64>,
    /// The test binary (default 10 000).
    pub test: Option<u64>,
    /// The exercise's `main`, when it has no grader (default 10 000).
    pub run: Option<u64>,
    /// The grader (default 60 000; the grader bounds each of its own steps too).
    pub grader: Option<u64>,
    /// cargo clippy (default 600 000).
    pub clippy: Option<u64>,
}

impl Timeouts {
    /// The compile stage's limit.
    pub fn compile(&self) -> Duration {
        Duration::from_millis(self.compile.unwrap_or(600_000))
    }
    /// The tests stage's limit.
    pub fn test(&self) -> Duration {
        Duration::from_millis(self.test.unwrap_or(10_000))
    }
    /// The run stage's limit.
    pub fn run(&self) -> Duration {
        Duration::from_millis(self.run.unwrap_or(10_000))
    }
    /// The grader stage's limit.
    pub fn grader(&self) -> Duration {
        Duration::from_millis(self.grader.unwrap_or(60_000))
    }
    /// The clippy stage's limit.
    pub fn clippy(&self) -> Duration {
        Duration::from_millis(self.clippy.unwrap_or(600_000))
    }
}

impl Exercise {
    /// `exercises/DIR/NAME.rs`, relative to the course root.
    pub fn path(&self) -> Utf8PathBuf {
        self.file_under("exercises")
    }

    /// `solutions/DIR/NAME.rs`, relative to the course root.
    pub fn solution_path(&self) -> Utf8PathBuf {
        self.file_under("solutions")
    }

    /// The track directory, or `""` for an exercise at the top of `exercises/`.
    pub fn track(&self) -> &str {
        self.dir.as_deref().unwrap_or("")
    }

    /// The bin target of the solution.
    pub fn solution_bin(&self) -> String {
        format!("{}_sol", self.name)
    }

    /// Whether `filter` (from `--only`) selects this exercise: its name, its track, or its track without the
    /// `NN_` prefix.
    pub fn matches(&self, filter: &str) -> bool {
        let track = self.track();
        let short = track.split_once('_').map_or(track, |(_, rest)| rest);
        filter == self.name || (!track.is_empty() && (filter == track || filter == short))
    }

    fn file_under(&self, top: &str) -> Utf8PathBuf {
        let mut path = Utf8PathBuf::from(top);
        if let Some(dir) = &self.dir {
            path.push(dir);
        }
        path.push(format!("{}.rs", self.name));
        path
    }
}
