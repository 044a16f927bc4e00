//! Colours, decided once from `--color`, `NO_COLOR` and whether the stream is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::cli::ColorChoice;

/// Bold.
pub const BOLD: &str = "\x1b[1m";
/// Dim grey.
pub const DIM: &str = "\x1b[2m";
/// Bold red: failures.
pub const RED_BOLD: &str = "\x1b[1;31m";
/// Bold green: passes.
pub const GREEN_BOLD: &str = "\x1b[1;32m";
/// Yellow: warnings, cancelled.
pub const YELLOW: &str = "\x1b[33m";
/// Bold cyan: hints and commands.
pub const CYAN_BOLD: &str = "\x1b[1;36m";
/// Reverse video: the selected row.
pub const REVERSE: &str = "\x1b[7m";

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records the `--color` choice for the whole run.
pub fn set_choice(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Colours on stdout.
pub fn stdout_color() -> bool {
    decide(std::io::stdout().is_terminal())
}

/// Colours on stderr.
pub fn stderr_color() -> bool {
    decide(std::io::stderr().is_terminal())
}

fn decide(is_terminal: bool) -> bool {
    match CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    }
}

/// `text` in `style` when `color` is on.
pub fn paint(text: &str, style: &str, color: bool) -> String {
    if color {
        format!("{style}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
