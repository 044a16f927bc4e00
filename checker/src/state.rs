//! The learner's progress: one JSON file, `.backlings/state.json`, written atomically.
//!
//! It holds the current exercise, the solved set, how many hint tiers were shown, and the last verdict per
//! exercise with a hash of the file it graded. It is keyed by exercise name, so a course update that adds
//! exercises keeps everything. A corrupted or old file is recovered with a warning (the bad file is kept beside
//! it), never a crash.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use crate::pipeline::Verdict;
use crate::workspace::Workspace;

/// The version of the state file this backlings writes.
const STATE_FORMAT: u32 = 1;

/// The learner's progress in one course.
#[derive(Debug)]
pub struct State {
    path: Utf8PathBuf,
    order: Vec<String>,
    file: StateFile,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    format: u32,
    current: Option<String>,
    #[serde(default)]
    welcomed: bool,
    #[serde(default)]
    exercises: BTreeMap<String, ExerciseState>,
}

/// What backlings remembers about one exercise.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExerciseState {
    /// It has passed every stage once.
    #[serde(default)]
    pub solved: bool,
    /// Hint tiers shown so far.
    #[serde(default)]
    pub hints_shown: usize,
    /// The last verdict.
    #[serde(default)]
    pub last: Option<LastVerdict>,
}

/// A summary of the last verdict on an exercise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastVerdict {
    /// FNV-1a 64 of the graded file, in hex: tells whether the file changed since.
    pub hash: String,
    /// Whether every stage passed.
    pub passed: bool,
    /// The grader seed.
    pub seed: u64,
    /// The stage that failed first, if any.
    pub failed_stage: Option<String>,
}

impl State {
    /// Loads the state of `ws`, recovering from a missing, corrupted or old file (with a warning on stderr).
    pub fn load(ws: &Workspace) -> anyhow::Result<State> {
        let path = ws.state_dir().join("state.json");
        let order = ws
            .exercises()
            .iter()
            .map(|exercise| exercise.name.clone())
            .collect();
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => parse_or_recover(&text, &path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                import_rustlings(ws).unwrap_or_default()
            }
            Err(err) => return Err(err).with_context(|| format!("cannot read `{path}`")),
        };
        Ok(State { path, order, file })
    }

    /// Writes the state atomically (a temp file renamed over the old one), so a crash never leaves half a file.
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self
            .path
            .parent()
            .context("the state file has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{dir}`"))?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in `{dir}`"))?;
        let mut file = StateFile {
            format: STATE_FORMAT,
            ..StateFile::default()
        };
        file.current.clone_from(&self.file.current);
        file.welcomed = self.file.welcomed;
        file.exercises.clone_from(&self.file.exercises);
        serde_json::to_writer_pretty(&mut temp, &file).context("cannot serialize the state")?;
        temp.write_all(b"\n")
            .and_then(|()| temp.as_file().sync_all())
            .context("cannot write the state")?;
        temp.persist(&self.path)
            .with_context(|| format!("cannot replace `{}`", self.path))?;
        Ok(())
    }

    /// The exercise to work on: the one chosen last, else the first unsolved, else the last one.
    pub fn current(&self) -> &str {
        self.file
            .current
            .as_deref()
            .and_then(|name| self.order.iter().find(|known| *known == name))
            .or_else(|| self.order.iter().find(|name| !self.is_solved(name)))
            .or(self.order.last())
            .map_or("", String::as_str)
    }

    /// Makes `name` the current exercise.
    pub fn set_current(&mut self, name: &str) {
        self.file.current = Some(name.to_string());
    }

    /// Whether `name` has passed every stage once.
    pub fn is_solved(&self, name: &str) -> bool {
        self.file
            .exercises
            .get(name)
            .is_some_and(|entry| entry.solved)
    }

    /// Records that `name` passed.
    pub fn mark_solved(&mut self, name: &str) {
        self.entry(name).solved = true;
    }

    /// Forgets that `name` passed (after a reset).
    pub fn mark_unsolved(&mut self, name: &str) {
        self.entry(name).solved = false;
    }

    /// The first unsolved exercise after the current one, wrapping around; `None` when all are solved.
    pub fn next_unsolved(&self) -> Option<&str> {
        let start = self
            .order
            .iter()
            .position(|name| name == self.current())
            .unwrap_or(0);
        let (before, after) = self.order.split_at(start);
        after
            .iter()
            .chain(before)
            .find(|name| !self.is_solved(name))
            .map(String::as_str)
    }

    /// How many exercises are solved.
    pub fn solved_count(&self) -> usize {
        self.order
            .iter()
            .filter(|name| self.is_solved(name))
            .count()
    }

    /// What is remembered about `name`.
    pub fn exercise(&self, name: &str) -> ExerciseState {
        self.file.exercises.get(name).cloned().unwrap_or_default()
    }

    /// Sets how many hint tiers of `name` were shown.
    pub fn set_hints_shown(&mut self, name: &str, shown: usize) {
        self.entry(name).hints_shown = shown;
    }

    /// Remembers `verdict` for `name`, graded from a file with this content `hash`; a pass marks it solved.
    pub fn record(&mut self, name: &str, verdict: &Verdict, hash: String) {
        let failed_stage = verdict.first_failure().map(|stage| stage.stage.to_string());
        let passed = verdict.passed();
        self.entry(name).last = Some(LastVerdict {
            hash,
            passed,
            seed: verdict.seed,
            failed_stage,
        });
        if passed {
            self.mark_solved(name);
        }
    }

    /// Whether the welcome message was shown already; marks it shown.
    pub fn take_welcome(&mut self) -> bool {
        !std::mem::replace(&mut self.file.welcomed, true)
    }

    fn entry(&mut self, name: &str) -> &mut ExerciseState {
        self.file.exercises.entry(name.to_string()).or_default()
    }
}

/// FNV-1a 64 of `bytes`, in hex: a stable fingerprint of a graded file.
pub fn content_hash(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn parse_or_recover(text: &str, path: &Utf8PathBuf) -> StateFile {
    if let Ok(file) = serde_json::from_str::<StateFile>(text)
        && file.format == STATE_FORMAT
    {
        return file;
    }
    // An older or hand-edited file: keep what can still be read (current and solved names), set the rest aside.
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    let mut file = StateFile::default();
    if let Some(value) = &value {
        file.current = value
            .get("current")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let solved_names = value
            .get("solved")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten();
        for name in solved_names.filter_map(|v| v.as_str()) {
            file.exercises.entry(name.to_string()).or_default().solved = true;
        }
        if let Some(entries) = value.get("exercises").and_then(|v| v.as_object()) {
            for (name, entry) in entries {
                let recovered =
                    serde_json::from_value::<ExerciseState>(entry.clone()).unwrap_or_default();
                file.exercises.insert(name.clone(), recovered);
            }
        }
    }
    let aside = path.with_extension("json.bad");
    let kept = std::fs::write(&aside, text).is_ok();
    eprintln!(
        "warning: `{path}` was {}; {} (the old file is kept as `{}`)",
        if value.is_some() {
            "in an old or unknown format"
        } else {
            "corrupted"
        },
        if file.exercises.is_empty() && file.current.is_none() {
            "starting with fresh progress"
        } else {
            "recovered what could be read"
        },
        if kept {
            aside.as_str()
        } else {
            "nothing: it could not be copied"
        },
    );
    file
}

/// Progress from a rustlings `.rustlings-state.txt` (current exercise, then the solved ones), if there is one.
fn import_rustlings(ws: &Workspace) -> Option<StateFile> {
    let text = std::fs::read_to_string(ws.root().join(".rustlings-state.txt")).ok()?;
    let mut lines = text
        .lines()
        .skip_while(|line| line.starts_with("DON'T EDIT"))
        .filter(|line| !line.trim().is_empty());
    let mut file = StateFile {
        current: lines.next().map(str::to_string),
        welcomed: true,
        ..StateFile::default()
    };
    for name in lines {
        file.exercises
            .entry(name.trim().to_string())
            .or_default()
            .solved = true;
    }
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(order: &[&str], text: Option<&str>) -> (State, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::try_from(dir.path().join("state.json")).unwrap();
        let file = text
            .map(|text| parse_or_recover(text, &path))
            .unwrap_or_default();
        (
            State {
                path,
                order: order.iter().map(|s| s.to_string()).collect(),
                file,
            },
            dir,
        )
    }

    // What is saved is what is loaded.
    #[test]
    fn round_trips_through_the_file() {
        let (mut state, _dir) = state(&["a", "b", "c"], None);
        state.mark_solved("a");
        state.set_current("c");
        state.set_hints_shown("b", 2);
        state.save().unwrap();
        let text = std::fs::read_to_string(&state.path).unwrap();
        let (loaded, _dir2) = self::state(&["a", "b", "c"], Some(&text));
        assert!(loaded.is_solved("a") && !loaded.is_solved("b"));
        assert_eq!(loaded.current(), "c");
        assert_eq!(loaded.exercise("b").hints_shown, 2);
    }

    // Garbage is not a crash: fresh progress, and the garbage kept aside.
    #[test]
    fn recovers_from_a_corrupted_file() {
        let (state, dir) = state(&["a", "b"], Some("{\"format\": 1, \"curr"));
        assert_eq!(state.current(), "a");
        assert!(dir.path().join("state.json.bad").exists());
    }

    // An older format keeps the parts that can be read.
    #[test]
    fn recovers_progress_from_an_old_format() {
        let (state, _dir) = state(
            &["a", "b", "c"],
            Some(r#"{"current": "b", "solved": ["a"]}"#),
        );
        assert!(state.is_solved("a"));
        assert_eq!(state.current(), "b");
    }

    // A name that left the course is not current; a new exercise starts unsolved; next wraps around.
    #[test]
    fn follows_course_updates() {
        let (mut state, _dir) = state(
            &["a", "new", "b"],
            Some(r#"{"format": 1, "current": "gone", "exercises": {"a": {"solved": true}}}"#),
        );
        assert_eq!(state.current(), "new");
        state.set_current("b");
        assert_eq!(state.next_unsolved(), Some("b"));
        state.mark_solved("b");
        assert_eq!(state.next_unsolved(), Some("new"));
    }

    // The hash is FNV-1a 64 (stable across Rust versions).
    #[test]
    fn content_hash_is_fnv1a() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_eq!(content_hash(b"a"), "af63dc4c8601ec8c");
    }
}
