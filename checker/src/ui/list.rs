//! The interactive exercise list (crossterm): move, filter by text or track, jump to an exercise, reset one.

use std::io::{Write, stdout};
use std::process::ExitCode;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};

use crate::files::{self, Restored};
use crate::state::State;
use crate::ui::style::{self, paint};
use crate::ui::table::{self, Row};
use crate::workspace::Workspace;

/// Puts the terminal back however the list ends (return, error or panic).
struct RawModeGuard;

impl RawModeGuard {
    fn enter() -> anyhow::Result<Self> {
        terminal::enable_raw_mode()?;
        let guard = RawModeGuard;
        execute!(stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        let _ = execute!(stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

#[derive(Default)]
struct ListView {
    rows: Vec<Row>,
    tracks: Vec<String>,
    text_filter: String,
    track_filter: Option<usize>,
    typing: bool,
    selected: usize,
    scroll: usize,
    message: String,
    confirm_reset: Option<String>,
}

impl ListView {
    fn visible(&self) -> Vec<&Row> {
        let track = self.track_filter.map(|index| self.tracks[index].as_str());
        let text = self.text_filter.to_lowercase();
        self.rows
            .iter()
            .filter(|row| track.is_none_or(|track| row.track == track))
            .filter(|row| {
                text.is_empty()
                    || row.name.contains(&text)
                    || row.topics.contains(&text)
                    || row.track.contains(&text)
            })
            .collect()
    }
}

/// Runs the list until the learner quits or picks an exercise.
pub fn run(ws: &Workspace, state: &mut State) -> anyhow::Result<ExitCode> {
    let rows = table::rows(ws, state);
    let mut tracks: Vec<String> = rows.iter().map(|row| row.track.clone()).collect();
    tracks.dedup();
    let selected = rows.iter().position(|row| row.is_current).unwrap_or(0);
    let mut view = ListView {
        rows,
        tracks,
        selected,
        ..ListView::default()
    };
    let guard = RawModeGuard::enter()?;
    let chosen = loop {
        draw(&mut view)?;
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        match handle(&mut view, key, ws)? {
            Step::Continue => {}
            Step::Quit => break None,
            Step::Choose(name) => break Some(name),
        }
    };
    drop(guard);
    if let Some(name) = chosen {
        state.set_current(&name);
        state.save()?;
        println!(
            "current exercise: `{name}` ({}); `backlings` watches it",
            ws.find(&name)?.path()
        );
    }
    Ok(ExitCode::SUCCESS)
}

enum Step {
    Continue,
    Quit,
    Choose(String),
}

fn handle(view: &mut ListView, key: KeyEvent, ws: &Workspace) -> anyhow::Result<Step> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Ok(Step::Quit);
    }
    if view.typing {
        match key.code {
            KeyCode::Enter | KeyCode::Esc => view.typing = false,
            KeyCode::Backspace => {
                view.text_filter.pop();
            }
            KeyCode::Char(c) => view.text_filter.push(c),
            _ => {}
        }
        view.selected = 0;
        return Ok(Step::Continue);
    }
    if let Some(name) = view.confirm_reset.take() {
        view.message = if key.code == KeyCode::Char('y') {
            match files::restore(ws, &name) {
                Ok(Restored::Unchanged) => format!("`{name}` was already the shipped version"),
                Ok(Restored::Restored {
                    backup: Some(backup),
                }) => format!("`{name}` restored; your version is in `{backup}`"),
                Ok(Restored::Restored { backup: None }) => format!("`{name}` restored"),
                Err(err) => format!("error: {err:#}"),
            }
        } else {
            "reset cancelled".to_string()
        };
        if let Some(row) = view.rows.iter_mut().find(|row| row.name == name) {
            row.status = "pending";
        }
        return Ok(Step::Continue);
    }
    let count = view.visible().len();
    let page = terminal::size()
        .map_or(20, |(_, rows)| usize::from(rows).saturating_sub(6))
        .max(1);
    view.message.clear();
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return Ok(Step::Quit),
        KeyCode::Down | KeyCode::Char('j') => {
            view.selected = (view.selected + 1).min(count.saturating_sub(1))
        }
        KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
        KeyCode::PageDown => view.selected = (view.selected + page).min(count.saturating_sub(1)),
        KeyCode::PageUp => view.selected = view.selected.saturating_sub(page),
        KeyCode::Home | KeyCode::Char('g') => view.selected = 0,
        KeyCode::End | KeyCode::Char('G') => view.selected = count.saturating_sub(1),
        KeyCode::Char('/') => {
            view.typing = true;
            view.text_filter.clear();
        }
        KeyCode::Char('t') => {
            view.track_filter = match view.track_filter {
                None if !view.tracks.is_empty() => Some(0),
                Some(index) if index + 1 < view.tracks.len() => Some(index + 1),
                _ => None,
            };
            view.selected = 0;
        }
        KeyCode::Enter | KeyCode::Char('c') => {
            if let Some(row) = view.visible().get(view.selected) {
                return Ok(Step::Choose(row.name.clone()));
            }
        }
        KeyCode::Char('r') => {
            if let Some(name) = view
                .visible()
                .get(view.selected)
                .map(|row| row.name.clone())
            {
                view.message = format!(
                    "reset `{name}` to its shipped version? your version is backed up first (y/n)"
                );
                view.confirm_reset = Some(name);
            }
        }
        _ => {}
    }
    Ok(Step::Continue)
}

fn draw(view: &mut ListView) -> anyhow::Result<()> {
    let (width, height) = terminal::size().unwrap_or((80, 24));
    let (width, height) = (usize::from(width), usize::from(height));
    let page = height.saturating_sub(6).max(1);
    let visible = view.visible();
    let selected = view.selected.min(visible.len().saturating_sub(1));
    let mut scroll = view.scroll.min(selected);
    if selected >= scroll + page {
        scroll = selected + 1 - page;
    }
    let (header, lines) = table::format(&visible);
    let cut = |text: &str| {
        text.chars()
            .take(width.saturating_sub(3))
            .collect::<String>()
    };
    let mut out = stdout().lock();
    queue!(
        out,
        terminal::Clear(terminal::ClearType::All),
        cursor::MoveTo(0, 0)
    )?;
    let track = view
        .track_filter
        .map_or("all tracks", |index| view.tracks[index].as_str());
    let filter = if view.typing {
        format!("filter: {}▏", view.text_filter)
    } else if view.text_filter.is_empty() {
        String::new()
    } else {
        format!("filter: {}", view.text_filter)
    };
    write!(
        out,
        "{}\r\n",
        cut(&format!(
            "backlings · {track} · {} shown   {filter}",
            visible.len()
        ))
    )?;
    write!(
        out,
        "{}\r\n",
        paint(&cut(&format!("  {header}")), style::BOLD, true)
    )?;
    for (index, (row, line)) in visible
        .iter()
        .zip(&lines)
        .enumerate()
        .skip(scroll)
        .take(page)
    {
        let marker = if row.is_current { "→ " } else { "  " };
        let text = cut(&format!("{marker}{line}"));
        let text = if index == selected {
            paint(&text, style::REVERSE, true)
        } else {
            text
        };
        write!(out, "{text}\r\n")?;
    }
    queue!(
        out,
        cursor::MoveTo(0, u16::try_from(height.saturating_sub(2)).unwrap_or(0))
    )?;
    write!(out, "{}\r\n", cut(&view.message))?;
    let help = "↑↓/jk move · / filter · t track · enter jump to · r reset · q quit";
    write!(out, "{}", paint(&cut(help), style::DIM, true))?;
    out.flush()?;
    view.selected = selected;
    view.scroll = scroll;
    Ok(())
}
