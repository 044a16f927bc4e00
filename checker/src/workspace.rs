//! The course on disk: its root (the directory with `info.toml`), its exercises and where backlings builds.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{self, CheckerError};
use crate::exercise::Exercise;
use crate::info::Info;

/// A course: `info.toml` and the cargo workspace around it.
#[derive(Debug)]
pub struct Workspace {
    root: Utf8PathBuf,
    info: Info,
    target_dir: Utf8PathBuf,
    // Track directory → the cargo package that owns its bins, found once per directory.
    packages: Mutex<BTreeMap<String, String>>,
}

impl Workspace {
    /// Finds the course in the current directory or the nearest one above it that has an `info.toml`.
    pub fn discover() -> anyhow::Result<Workspace> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let cwd = Utf8PathBuf::try_from(cwd).context("the current directory is not valid UTF-8")?;
        let root = cwd
            .ancestors()
            .find(|dir| dir.join("info.toml").is_file())
            .ok_or_else(|| {
                let looks_like_rustlings = cwd.join(".rustlings-state.txt").exists()
                    || (cwd.join("exercises").is_dir() && cwd.join("Cargo.toml").is_file());
                CheckerError::NoCourse {
                    searched: cwd.clone(),
                    looks_like_rustlings,
                }
            })?;
        Workspace::open(root)
    }

    /// Opens the course at `root`.
    pub fn open(root: &Utf8Path) -> anyhow::Result<Workspace> {
        let info_path = root.join("info.toml");
        let text = std::fs::read_to_string(&info_path)
            .with_context(|| format!("cannot read `{info_path}`"))?;
        // Messages name the file as the learner would type it: relative to where they are.
        let shown = std::env::current_dir()
            .ok()
            .and_then(|cwd| info_path.strip_prefix(&cwd).ok().map(Utf8Path::to_path_buf))
            .unwrap_or_else(|| info_path.clone());
        let info = Info::parse(&text, &shown)?;
        Ok(Workspace {
            root: root.to_owned(),
            info,
            target_dir: backlings_target_dir(root),
            packages: Mutex::default(),
        })
    }

    /// The same course, building into `target_dir` (a scratch copy shares its course's build cache).
    pub fn with_target_dir(mut self, target_dir: Utf8PathBuf) -> Workspace {
        self.target_dir = target_dir;
        self
    }

    /// The course directory.
    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    /// The parsed `info.toml`.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The exercises in learning order.
    pub fn exercises(&self) -> &[Exercise] {
        &self.info.exercises
    }

    /// The exercise called `name`, or an error suggesting the closest name.
    pub fn find(&self, name: &str) -> Result<&Exercise, CheckerError> {
        self.exercises()
            .iter()
            .find(|exercise| exercise.name == name)
            .ok_or_else(|| CheckerError::UnknownExercise {
                name: name.to_string(),
                closest: error::closest(
                    name,
                    self.exercises()
                        .iter()
                        .map(|exercise| exercise.name.as_str()),
                ),
            })
    }

    /// The exercises selected by `--only` filters (all when empty), in course order.
    pub fn select(&self, only: &[String]) -> Result<Vec<&Exercise>, CheckerError> {
        for filter in only {
            if !self
                .exercises()
                .iter()
                .any(|exercise| exercise.matches(filter))
            {
                return Err(CheckerError::NothingSelected {
                    filter: filter.clone(),
                });
            }
        }
        Ok(self
            .exercises()
            .iter()
            .filter(|exercise| {
                only.is_empty() || only.iter().any(|filter| exercise.matches(filter))
            })
            .collect())
    }

    /// Where backlings builds: `target/backlings/`, apart from rust-analyzer's `target/` so its build lock never
    /// blocks a verdict.
    pub fn target_dir(&self) -> &Utf8Path {
        &self.target_dir
    }

    /// backlings' own files in the course: state, backups.
    pub fn state_dir(&self) -> Utf8PathBuf {
        self.root.join(".backlings")
    }

    /// The root `Cargo.toml`.
    pub fn manifest(&self) -> Utf8PathBuf {
        self.root.join("Cargo.toml")
    }

    /// The cargo package whose bins include `exercise`: the nearest `Cargo.toml` with a `[package]`, from the
    /// exercise's directory up to the course root (a track package, or the root package of a rustlings set).
    pub fn package_of(&self, exercise: &Exercise) -> anyhow::Result<String> {
        let key = exercise.track().to_string();
        let mut packages = self
            .packages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(package) = packages.get(&key) {
            return Ok(package.clone());
        }
        let start = self.root.join(exercise.path());
        for dir in start
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(&self.root))
        {
            let manifest = dir.join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read `{manifest}`"))?;
            let table: toml::Table =
                toml::from_str(&text).with_context(|| format!("`{manifest}` is not valid TOML"))?;
            if let Some(name) = table
                .get("package")
                .and_then(|package| package.get("name"))
                .and_then(|n| n.as_str())
            {
                packages.insert(key, name.to_string());
                return Ok(name.to_string());
            }
        }
        anyhow::bail!(
            "no cargo package owns `{}`: expected `exercises/{}/Cargo.toml` or a `[package]` in the root Cargo.toml",
            exercise.path(),
            exercise.track()
        )
    }
}

/// Where exercises and graders are built: `backlings/` inside cargo's target directory (`CARGO_TARGET_DIR` when set,
/// else `target/`). A directory of our own means a build never waits on the lock rust-analyzer holds on `target/debug`.
fn backlings_target_dir(root: &Utf8Path) -> Utf8PathBuf {
    let cargo_target = std::env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|dir| !dir.is_empty())
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"));
    cargo_target.join("backlings")
}
