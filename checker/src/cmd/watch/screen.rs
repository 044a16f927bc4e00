//! The terminal screen: raw mode (restored by a guard, whatever happens), and drawing the session.
//!
//! The whole screen is redrawn after every event, top to bottom, like rustlings: the verdict first (it may be
//! longer than the screen, and then the terminal scrolls), then the status lines and the key bar at the
//! bottom, where the eye rests. Paths are OSC 8 hyperlinks to `file://` URLs, so a click opens the exercise.

use std::io::{self, Write};

use camino::Utf8Path;
use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{QueueableCommand, execute};

use crate::ui::style::{self, paint};

use super::list::{self, ListView, Row};
use super::session::{KEYS, Session, View, Work};

/// Raw mode while alive: keys arrive one by one, unechoed. Dropping it restores the terminal, also when the
/// loop returns early with an error or panics.
pub struct RawMode(());

impl RawMode {
    /// Enters raw mode and hides the cursor.
    pub fn enable() -> io::Result<RawMode> {
        terminal::enable_raw_mode()?;
        execute!(io::stdout(), Hide)?;
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), Show);
        let _ = terminal::disable_raw_mode();
        let _ = writeln!(io::stdout());
    }
}

/// Redraws the whole screen for `session`.
pub fn draw(session: &Session<'_>, color: bool) -> io::Result<()> {
    let text = match &session.view {
        View::Main => main_view(session, color),
        View::List(list) => list_view(session, list, color),
    };
    let mut out = io::stdout().lock();
    out.queue(MoveTo(0, 0))?
        .queue(Clear(ClearType::All))?
        .queue(Clear(ClearType::Purge))?;
    // Raw mode does not turn "\n" into a carriage return plus line feed.
    out.write_all(text.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes())?;
    out.flush()
}

fn main_view(session: &Session<'_>, color: bool) -> String {
    let ws = session.workspace();
    let exercise = &ws.exercises()[session.current()];
    let mut out = String::new();
    if let Some(welcome) = &session.welcome {
        out.push_str(welcome.trim_end());
        out.push_str("\n\n");
    }
    match session.running() {
        Some(Work::CheckAll) => {
            out.push_str(&format!(
                "checking every exercise… {}/{}\n",
                session.checked.len(),
                ws.exercises().len()
            ));
            for (name, passed) in &session.checked {
                out.push_str(&format!(" {} {name}\n", mark(*passed, color)));
            }
            if let Some((_, Some(line))) = &session.progress {
                out.push_str(&format!("  {line}\n"));
            }
        }
        Some(Work::Exercise(_)) => {
            let (stage, line) = session
                .progress
                .clone()
                .unwrap_or((crate::pipeline::Stage::Compile, None));
            out.push_str(&format!(
                "{} `{}`: {} stage…\n",
                paint("running", style::CYAN_BOLD, color),
                exercise.name,
                stage
            ));
            if let Some(line) = line {
                out.push_str(&format!("  {line}\n"));
            }
        }
        None => {
            if let Some(error) = &session.run_error {
                out.push_str(&format!(
                    "{} {error}\n",
                    paint("error:", style::RED_BOLD, color)
                ));
            } else if let Some(verdict) = &session.verdict {
                out.push_str(&verdict.render(color));
            }
        }
    }
    if session.running().is_none()
        && session
            .verdict
            .as_ref()
            .is_some_and(|verdict| verdict.passed())
    {
        let next = session
            .state()
            .next_unsolved()
            .filter(|next| *next != exercise.name);
        let done = match next {
            Some(next) => format!(
                "`{}` is done! Press n for the next exercise: `{next}`",
                exercise.name
            ),
            None => ws
                .info()
                .final_message
                .clone()
                .unwrap_or_else(|| "every exercise passes: well done!".into()),
        };
        out.push_str(&format!("\n{}\n", paint(&done, style::GREEN_BOLD, color)));
    }
    for tier in 1..=session.hints_visible.min(exercise.hints.len()) {
        let title = format!("hint {tier}/{}:", exercise.hints.len());
        out.push_str(&format!(
            "\n{} {}\n",
            paint(&title, style::CYAN_BOLD, color),
            exercise.hints[tier - 1].trim_end()
        ));
    }
    if let Some(note) = &session.note {
        out.push_str(&format!("\n{}\n", paint(note, style::YELLOW, color)));
    }
    let state = session.state();
    let (solved, total) = (state.solved_count(), ws.exercises().len());
    out.push_str(&format!(
        "\nprogress: [{}] {solved}/{total} solved\n",
        list::bar(solved, total, 40)
    ));
    let path = exercise.path();
    let status = if state.is_solved(&exercise.name) {
        "solved"
    } else {
        "pending"
    };
    out.push_str(&format!(
        "current:  {}  ({status})\n",
        hyperlink(&ws.root().join(&path), path.as_str())
    ));
    let keys = if session.is_manual() {
        format!("Enter run · {KEYS}")
    } else {
        KEYS.to_string()
    };
    out.push_str(&paint(&keys, style::DIM, color));
    out
}

fn list_view(session: &Session<'_>, view: &ListView, color: bool) -> String {
    let ws = session.workspace();
    let state = session.state();
    let (solved, total) = (state.solved_count(), ws.exercises().len());
    let mut out = format!(
        "exercises: [{}] {solved}/{total} solved\n",
        list::bar(solved, total, 30)
    );
    out.push_str(&paint(
        "↑↓ or j k move · Enter jump there · Esc back\n",
        style::DIM,
        color,
    ));
    let rows = list::rows(ws, state, session.current());
    let height = terminal::size()
        .map_or(24, |(_, rows)| usize::from(rows))
        .saturating_sub(3)
        .max(3);
    let selected_row = rows
        .iter()
        .position(|row| matches!(row, Row::Exercise { index, .. } if *index == view.selected()))
        .unwrap_or(0);
    let first = selected_row
        .saturating_sub(height / 2)
        .min(rows.len().saturating_sub(height));
    for row in rows.iter().skip(first).take(height) {
        let line = match row {
            Row::Track {
                name,
                solved,
                total,
            } => format!(
                "{name}  {solved}/{total}  [{}]",
                list::bar(*solved, *total, 10)
            ),
            Row::Exercise {
                index,
                name,
                solved,
                current,
            } => {
                let pointer = if *index == view.selected() { ">" } else { " " };
                let line = format!(
                    "{pointer} {} {name}{}",
                    mark(*solved, false),
                    if *current { "  (current)" } else { "" }
                );
                if *index == view.selected() {
                    paint(&line, style::REVERSE, color)
                } else {
                    line
                }
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn mark(passed: bool, color: bool) -> String {
    if passed {
        paint("✓", style::GREEN_BOLD, color)
    } else {
        paint("·", style::DIM, color)
    }
}

/// `text` as an OSC 8 hyperlink to `path` (terminals without hyperlinks show just `text`).
pub fn hyperlink(path: &Utf8Path, text: &str) -> String {
    format!("\x1b]8;;{}\x1b\\{text}\x1b]8;;\x1b\\", file_url(path))
}

/// A `file://` URL for an absolute `path`, percent-encoding what a URL may not hold.
pub fn file_url(path: &Utf8Path) -> String {
    let mut url = String::from("file://");
    for byte in path.as_str().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spaces and non-ASCII are percent-encoded; the path's slashes stay.
    #[test]
    fn file_urls_are_encoded() {
        assert_eq!(
            file_url(Utf8Path::new("/home/a b/ex1.rs")),
            "file:///home/a%20b/ex1.rs"
        );
        assert_eq!(file_url(Utf8Path::new("/é")), "file:///%C3%A9");
    }

    // The link wraps the visible text in OSC 8 open and close sequences.
    #[test]
    fn hyperlinks_wrap_the_text() {
        let link = hyperlink(Utf8Path::new("/c/x.rs"), "x.rs");
        assert_eq!(link, "\x1b]8;;file:///c/x.rs\x1b\\x.rs\x1b]8;;\x1b\\");
    }
}
