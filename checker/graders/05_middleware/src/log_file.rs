//! A file the program under test writes lines to (an access log), in a directory of the grader's own that
//! is removed when the grading ends, read as it grows.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_grade::Failure;

/// Tells apart the files of one grader process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A log file the program is told to append to, and what of it has been read so far.
pub struct LogFile {
    dir: PathBuf,
    path: PathBuf,
    read: usize,
    /// The end of a line the program had not finished writing at the last read.
    partial: String,
}

impl LogFile {
    /// A fresh, empty file in a new temporary directory (the program creates the file itself).
    pub fn new(name: &str) -> Result<Self, Failure> {
        let dir = std::env::temp_dir().join(format!(
            "backlings-grader-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).map_err(|e| {
            Failure::new(format!(
                "the grader could not create {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(name);
        Ok(LogFile {
            dir,
            path,
            read: 0,
            partial: String::new(),
        })
    }

    /// Where the program must write.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The complete lines written since the last call (a missing file has no lines yet).
    pub fn new_lines(&mut self) -> Vec<String> {
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.path) {
            let _ = file.read_to_end(&mut bytes);
        }
        let fresh = bytes.get(self.read..).unwrap_or_default();
        self.read = bytes.len().max(self.read);
        self.partial.push_str(&String::from_utf8_lossy(fresh));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
