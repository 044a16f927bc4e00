//! The errors the CLI branches on or explains with a hint.
//!
//! Everything else is an `anyhow` error with context. `main` prints any error once as `error: …`, then the
//! `hint:` of the first [`CheckerError`] in its chain, which always names a next command or place to look.

use camino::Utf8PathBuf;

/// An error with a known cause and a known next step.
#[derive(Debug, thiserror::Error)]
pub enum CheckerError {
    /// The name is not in `info.toml`.
    #[error("no exercise named `{name}` in info.toml")]
    UnknownExercise {
        name: String,
        closest: Option<String>,
    },
    /// No `info.toml` in the current directory or above it.
    #[error("no backlings course here: no `info.toml` in `{searched}` or any directory above it")]
    NoCourse {
        searched: Utf8PathBuf,
        looks_like_rustlings: bool,
    },
    /// `info.toml` could not be read as a course.
    #[error("{path}:{line}:{column}: {message}\n{snippet}")]
    InfoToml {
        path: Utf8PathBuf,
        line: usize,
        column: usize,
        message: String,
        snippet: String,
        fix: String,
    },
    /// `--only` matched nothing.
    #[error("`--only {filter}` matches no exercise and no track")]
    NothingSelected { filter: String },
    /// `reset` needs the shipped version of a file from git.
    #[error("cannot find the shipped version of `{path}` in git: {reason}")]
    NotInGit { path: Utf8PathBuf, reason: String },
    /// `--exercises-from` names neither a directory nor a git ref.
    #[error("`{source_name}` is neither a directory nor a git ref of this course")]
    UnknownExercisesSource { source_name: String },
    /// The file an exercise points at does not exist.
    #[error("the file of exercise `{name}` is missing: `{path}`")]
    MissingFile { name: String, path: Utf8PathBuf },
    /// The course has no exercise at all.
    #[error("info.toml lists no exercises")]
    EmptyCourse,
}

impl CheckerError {
    /// What to do next, naming a command or a place to look.
    pub fn hint(&self) -> String {
        match self {
            CheckerError::UnknownExercise { closest: Some(closest), .. } => {
                format!("did you mean `{closest}`? (`backlings list` shows all)")
            }
            CheckerError::UnknownExercise { closest: None, .. } => "`backlings list` shows every exercise".into(),
            CheckerError::NoCourse { looks_like_rustlings: true, .. } => "this looks like a `rustlings init` \
                directory, whose course list is built into rustlings: put the course's `info.toml` next to \
                `Cargo.toml` (see checker/INFO_TOML.md), then run `backlings` again"
                .into(),
            CheckerError::NoCourse { .. } => "run `backlings` inside the course directory (the one with `info.toml`)".into(),
            CheckerError::InfoToml { fix, .. } => fix.clone(),
            CheckerError::NothingSelected { .. } => "`backlings list --plain` shows the exercise names and tracks".into(),
            CheckerError::NotInGit { .. } => {
                "`git log -- <path>` shows whether the file was ever committed; restore it by hand from the course's \
                 repository otherwise"
                    .into()
            }
            CheckerError::UnknownExercisesSource { .. } => {
                "give a directory holding a learner's `exercises/` (or the course directory above it), or a branch, \
                 tag or commit (`git branch -a` lists them)"
                    .into()
            }
            CheckerError::MissingFile { name, .. } => format!("`backlings reset {name}` restores the shipped version"),
            CheckerError::EmptyCourse => "add an exercise with `backlings dev new NAME --dir NN_track`".into(),
        }
    }
}

/// The hint of the first [`CheckerError`] in `err`'s chain, if any.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<CheckerError>())
        .map(CheckerError::hint)
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min()
        .map(|(_, candidate)| candidate.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    // A one-letter typo finds its exercise; an unrelated word finds nothing.
    #[test]
    fn closest_suggests_near_names_only() {
        let names = ["vecs1", "vecs2", "strings1"];
        assert_eq!(closest("vec2", names).as_deref(), Some("vecs2"));
        assert_eq!(closest("database", names), None);
    }

    // Every error says what to do next.
    #[test]
    fn hints_name_a_next_step() {
        let err = anyhow::Error::new(CheckerError::UnknownExercise {
            name: "x".into(),
            closest: Some("y".into()),
        });
        assert!(
            hint_for(&err.context("while running"))
                .unwrap()
                .contains("`y`")
        );
    }
}
