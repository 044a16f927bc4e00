//! `verify --exercises-from`: a learner's exercise files, graded by this course's pristine checker, graders,
//! manifests and `info.toml`, in a scratch copy under `target/backlings/` (the learner's tree is only read).

use std::process::{Command, Stdio};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::error::CheckerError;
use crate::files;
use crate::workspace::Workspace;

/// Top-level entries of the course that are never copied: builds, git, progress.
const NOT_COPIED: [&str; 3] = ["target", ".git", ".backlings"];

/// Builds the scratch course for `source` (a directory or a git ref) and opens it, sharing `ws`'s build cache.
pub fn prepare(ws: &Workspace, source: &str) -> anyhow::Result<Workspace> {
    let learner = Learner::resolve(ws, source)?;
    let scratch = ws.target_dir().join("scratch").join(sanitize(source));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).with_context(|| format!("cannot clear `{scratch}`"))?;
    }
    copy_tree(ws.root(), &scratch, true)?;
    for exercise in ws.exercises() {
        let relative = exercise.path();
        let content = match learner.read(ws, &relative)? {
            Some(content) => content,
            // A file the learner does not have is graded as shipped, never as whatever this tree holds.
            None => files::git_show(ws.root(), "HEAD", &relative)?.unwrap_or_else(|_| {
                b"compile_error!(\"the learner has no such file\");\n".to_vec()
            }),
        };
        files::write_atomically(&scratch.join(&relative), &content)?;
    }
    Ok(Workspace::open(&scratch)?.with_target_dir(ws.target_dir().to_owned()))
}

enum Learner {
    Directory(Utf8PathBuf),
    GitRef(String),
}

impl Learner {
    fn resolve(ws: &Workspace, source: &str) -> anyhow::Result<Learner> {
        let path = Utf8Path::new(source);
        if path.is_dir() {
            let path = path
                .canonicalize_utf8()
                .with_context(|| format!("cannot resolve `{path}`"))?;
            // Either a course directory holding `exercises/`, or the `exercises/` directory itself.
            let exercises = if path.join("exercises").is_dir() {
                path.join("exercises")
            } else {
                path
            };
            return Ok(Learner::Directory(exercises));
        }
        let verified = Command::new("git")
            .arg("-C")
            .arg(ws.root())
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{source}^{{commit}}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run git (is it installed?)")?;
        if verified.success() {
            Ok(Learner::GitRef(source.to_string()))
        } else {
            Err(CheckerError::UnknownExercisesSource {
                source_name: source.to_string(),
            }
            .into())
        }
    }

    /// The learner's version of `relative` (`exercises/…`), if they have one.
    fn read(&self, ws: &Workspace, relative: &Utf8Path) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Learner::Directory(exercises) => {
                let inside = relative.strip_prefix("exercises").unwrap_or(relative);
                let path = exercises.join(inside);
                match std::fs::read(&path) {
                    Ok(content) => Ok(Some(content)),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(err) => Err(err).with_context(|| format!("cannot read `{path}`")),
                }
            }
            Learner::GitRef(rev) => Ok(files::git_show(ws.root(), rev, relative)?.ok()),
        }
    }
}

fn copy_tree(from: &Utf8Path, to: &Utf8Path, is_top: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create `{to}`"))?;
    for entry in from
        .read_dir_utf8()
        .with_context(|| format!("cannot read `{from}`"))?
    {
        let entry = entry.with_context(|| format!("cannot read `{from}`"))?;
        if is_top && NOT_COPIED.contains(&entry.file_name()) {
            continue;
        }
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot stat `{}`", entry.path()))?;
        if kind.is_dir() {
            copy_tree(entry.path(), &target, false)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy `{}`", entry.path()))?;
        }
    }
    Ok(())
}

fn sanitize(source: &str) -> String {
    let name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_');
    if name.is_empty() {
        "learner".to_string()
    } else {
        name.chars()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }
}
