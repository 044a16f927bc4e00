//! What several graders of this track share: a scratch directory the grader owns, and a check that no secret
//! appears in what a program sent back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_grade::Failure;

/// A fresh directory under the system temp dir, removed (with everything in it) when dropped, pass or fail.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `backlings-<exercise>-<pid>-<n>` under the temp dir.
    pub fn new(exercise: &str) -> Result<Self, Failure> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("backlings-{exercise}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| {
            Failure::new(format!(
                "the grader could not create its scratch directory {}: {e}",
                path.display()
            ))
        })?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The first of `secrets` that occurs in `text`, if any.
pub fn leaked<'a>(text: &str, secrets: &'a [String]) -> Option<&'a str> {
    secrets
        .iter()
        .find(|s| !s.is_empty() && text.contains(s.as_str()))
        .map(String::as_str)
}
