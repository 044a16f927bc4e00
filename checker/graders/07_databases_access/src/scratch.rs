//! A scratch directory the grader owns (the learner's database files live in it), removed when dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_grade::Failure;

/// A fresh directory under the system temp dir, removed with everything in it on drop (pass or fail).
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates `backlings-<exercise>-<pid>-<n>` under the temp dir.
    pub fn new(exercise: &str) -> Result<Self, Failure> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("backlings-{exercise}-{}-{n}", std::process::id()));
        // A leftover of a killed earlier run with the same pid is stale: start clean.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::new(format!(
                "the grader could not create its scratch directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(Scratch { dir })
    }

    /// A file in the directory, as a string for an env var.
    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An SQLite error as a grader failure.
pub fn sql_failure(what: &str, error: rusqlite::Error) -> Failure {
    Failure::new(format!("the grader could not {what}: {error}"))
}
