//! Input: single keys in a terminal, command lines without one. Both arrive as [`Key`]s on the watch loop's
//! channel, read by a thread that blocks on the input (no polling).

use std::io::BufRead;
use std::sync::mpsc::Sender;
use std::thread;

use anyhow::Context;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::events::Event;

/// What the learner asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `n`: on to the next unsolved exercise (once the current one passes).
    Next,
    /// `h`: show one more hint tier.
    Hint,
    /// `l`: open the list (without a terminal: print it).
    List,
    /// `r`: run the current exercise again, with a fresh seed.
    Run,
    /// `c`: check every exercise.
    CheckAll,
    /// `x`: clear the screen.
    Clear,
    /// `q` (or Esc in the main screen): quit.
    Quit,
    /// Ctrl-C: stop everything and quit.
    Interrupt,
    /// Enter: runs in `--manual-run` mode, jumps in the list.
    Enter,
    /// Esc: leaves the list.
    Escape,
    /// Up, `k`.
    Up,
    /// Down, `j`.
    Down,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// Home, `g`.
    Home,
    /// End, `G`.
    End,
    /// Without a terminal, `l NAME`: make NAME the current exercise.
    Jump(String),
    /// Anything else, shown back with the list of keys.
    Unknown(String),
}

/// The key a terminal key press means, if any (releases and repeats are not presses).
pub fn from_terminal(key: KeyEvent) -> Option<Key> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c' | 'd')).then_some(Key::Interrupt);
    }
    Some(match key.code {
        KeyCode::Char('n') => Key::Next,
        KeyCode::Char('h') => Key::Hint,
        KeyCode::Char('l') => Key::List,
        KeyCode::Char('r') => Key::Run,
        KeyCode::Char('c') => Key::CheckAll,
        KeyCode::Char('x') => Key::Clear,
        KeyCode::Char('q') => Key::Quit,
        KeyCode::Char('k') | KeyCode::Up => Key::Up,
        KeyCode::Char('j') | KeyCode::Down => Key::Down,
        KeyCode::Char('g') | KeyCode::Home => Key::Home,
        KeyCode::Char('G') | KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Enter | KeyCode::Char(' ') => Key::Enter,
        KeyCode::Esc => Key::Escape,
        KeyCode::Char(other) => Key::Unknown(other.to_string()),
        _ => return None,
    })
}

/// The command a line typed on stdin means (no terminal): the same letters as the keys, or their names.
pub fn from_line(line: &str) -> Key {
    let line = line.trim();
    let (word, rest) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(word, rest)| (word, rest.trim()));
    match word {
        "" => Key::Enter,
        "n" | "next" => Key::Next,
        "h" | "hint" => Key::Hint,
        "l" | "list" if rest.is_empty() => Key::List,
        "l" | "list" => Key::Jump(rest.to_string()),
        "r" | "run" => Key::Run,
        "c" | "check" => Key::CheckAll,
        "x" | "clear" => Key::Clear,
        "q" | "quit" | "exit" => Key::Quit,
        _ => Key::Unknown(line.to_string()),
    }
}

/// Reads terminal events (the terminal must be in raw mode) and forwards them until the loop hangs up.
pub fn spawn_terminal_reader(events: Sender<Event>) -> anyhow::Result<()> {
    let read = move || {
        loop {
            let event = match crossterm::event::read() {
                Ok(crossterm::event::Event::Key(key)) => match from_terminal(key) {
                    Some(key) => Event::Key(key),
                    None => continue,
                },
                Ok(crossterm::event::Event::Resize(..)) => Event::Resize,
                Ok(_) => continue,
                Err(_) => Event::InputClosed,
            };
            let closed = matches!(event, Event::InputClosed);
            if events.send(event).is_err() || closed {
                return;
            }
        }
    };
    thread::Builder::new()
        .name("watch-keys".into())
        .spawn(read)
        .context("cannot start the keyboard thread")?;
    Ok(())
}

/// Reads command lines from stdin and forwards them; its end (EOF) becomes [`Event::InputClosed`].
pub fn spawn_line_reader(events: Sender<Event>) -> anyhow::Result<()> {
    let read = move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if events.send(Event::Key(from_line(&line))).is_err() {
                return;
            }
        }
        let _ = events.send(Event::InputClosed);
    };
    thread::Builder::new()
        .name("watch-stdin".into())
        .spawn(read)
        .context("cannot start the stdin thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
        from_terminal(KeyEvent::new(code, modifiers))
    }

    // The documented keys map to their commands; Ctrl-C is an interrupt, not a `c` (check all).
    #[test]
    fn keys_map_to_commands() {
        assert_eq!(
            press(KeyCode::Char('n'), KeyModifiers::NONE),
            Some(Key::Next)
        );
        assert_eq!(
            press(KeyCode::Char('h'), KeyModifiers::NONE),
            Some(Key::Hint)
        );
        assert_eq!(
            press(KeyCode::Char('c'), KeyModifiers::NONE),
            Some(Key::CheckAll)
        );
        assert_eq!(
            press(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Key::Interrupt)
        );
        assert_eq!(press(KeyCode::Enter, KeyModifiers::NONE), Some(Key::Enter));
        assert_eq!(press(KeyCode::Char('z'), KeyModifiers::CONTROL), None);
        let release = KeyEvent::new_with_kind(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
            KeyEventKind::Release,
        );
        assert_eq!(from_terminal(release), None);
    }

    // Lines are letters or words; an empty line is Enter; `l NAME` jumps.
    #[test]
    fn lines_map_to_commands() {
        assert_eq!(from_line("n\n"), Key::Next);
        assert_eq!(from_line("  hint "), Key::Hint);
        assert_eq!(from_line(""), Key::Enter);
        assert_eq!(from_line("l"), Key::List);
        assert_eq!(from_line("l  ping_pong "), Key::Jump("ping_pong".into()));
        assert_eq!(from_line("quit"), Key::Quit);
        assert_eq!(from_line("frobnicate"), Key::Unknown("frobnicate".into()));
    }
}
