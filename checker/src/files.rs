//! Exercise files on disk: their shipped version from git, backups of the learner's version, atomic writes.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::error::CheckerError;
use crate::state::State;
use crate::workspace::Workspace;

/// What [`restore`] did.
#[derive(Debug)]
pub enum Restored {
    /// The file was already the shipped version.
    Unchanged,
    /// The file was restored; the learner's version was backed up here (if there was one).
    Restored {
        /// The backup, relative to the course root.
        backup: Option<Utf8PathBuf>,
    },
}

/// Restores exercise `name` from `git show HEAD:path`, backing up the learner's version under
/// `.backlings/backups/`, and marks it unsolved.
pub fn restore(ws: &Workspace, name: &str) -> anyhow::Result<Restored> {
    let exercise = ws.find(name)?;
    let relative = exercise.path();
    let shipped = shipped_version(ws.root(), &relative)?;
    let path = ws.root().join(&relative);
    let mine = std::fs::read(&path).ok();
    if mine.as_deref() == Some(&shipped[..]) {
        return Ok(Restored::Unchanged);
    }
    let backup = match &mine {
        Some(mine) => {
            let backup = backup(ws, name, mine)?;
            Some(
                backup
                    .strip_prefix(ws.root())
                    .map_or(backup.clone(), Utf8Path::to_path_buf),
            )
        }
        None => None,
    };
    write_atomically(&path, &shipped)?;
    let mut state = State::load(ws)?;
    state.mark_unsolved(name);
    state.save()?;
    Ok(Restored::Restored { backup })
}

/// The committed content of `relative` (a path under `root`) at `rev`.
pub fn git_show(
    root: &Utf8Path,
    rev: &str,
    relative: &Utf8Path,
) -> anyhow::Result<Result<Vec<u8>, String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .arg("show")
        .arg(format!("{rev}:./{relative}"))
        .stdin(Stdio::null())
        .output()
        .context("cannot run git (is it installed?)")?;
    if output.status.success() {
        Ok(Ok(output.stdout))
    } else {
        let reason = String::from_utf8_lossy(&output.stderr)
            .trim()
            .lines()
            .next()
            .unwrap_or("git failed")
            .to_string();
        Ok(Err(reason))
    }
}

fn shipped_version(root: &Utf8Path, relative: &Utf8Path) -> anyhow::Result<Vec<u8>> {
    git_show(root, "HEAD", relative)?.map_err(|reason| {
        CheckerError::NotInGit {
            path: relative.to_owned(),
            reason,
        }
        .into()
    })
}

/// Saves `content` as `.backlings/backups/NAME.N.rs` with the first free N.
fn backup(ws: &Workspace, name: &str, content: &[u8]) -> anyhow::Result<Utf8PathBuf> {
    let dir = ws.state_dir().join("backups");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{dir}`"))?;
    for n in 1.. {
        let path = dir.join(format!("{name}.{n}.rs"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(content)
                    .with_context(|| format!("cannot write `{path}`"))?;
                return Ok(path);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(|| format!("cannot create `{path}`")),
        }
    }
    unreachable!("an unbounded range always yields")
}

/// Replaces `path` with `content` through a temp file and a rename.
pub fn write_atomically(path: &Utf8Path, content: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("a file without a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{dir}`"))?;
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in `{dir}`"))?;
    temp.write_all(content)
        .with_context(|| format!("cannot write `{path}`"))?;
    // A temp file is private (0600); an exercise file is an ordinary one.
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot write `{path}`"))?;
    temp.persist(path)
        .with_context(|| format!("cannot replace `{path}`"))?;
    Ok(())
}
