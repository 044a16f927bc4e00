//! A one-line progress display on stderr while cargo builds and stages run (only on a terminal).

use std::io::{IsTerminal, Write};

use crate::pipeline::Progress;

/// Rewrites one stderr line with the latest [`Progress`]; silent when stderr is not a terminal.
#[derive(Debug)]
pub struct ProgressLine {
    enabled: bool,
    dirty: bool,
}

impl ProgressLine {
    /// A progress line on stderr, enabled only on a terminal.
    pub fn new() -> Self {
        ProgressLine {
            enabled: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }

    /// Shows `progress`.
    pub fn show(&mut self, progress: Progress) {
        if !self.enabled {
            return;
        }
        let text = match progress {
            Progress::Stage(stage) => format!("running the {stage} stage…"),
            Progress::Build {
                done,
                total,
                current,
            } => format!("building {done}/{total}: {current}"),
            Progress::Status(status) => status,
            Progress::Graded { exercise, passed } => {
                format!("{} {exercise}", if passed { "✓" } else { "✗" })
            }
        };
        let width = crossterm::terminal::size()
            .map_or(80, |(columns, _)| usize::from(columns))
            .saturating_sub(1);
        let text: String = text.chars().take(width).collect();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K{text}");
        let _ = stderr.flush();
        self.dirty = true;
    }

    /// Erases the line.
    pub fn clear(&mut self) {
        if self.dirty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.dirty = false;
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.clear();
    }
}
