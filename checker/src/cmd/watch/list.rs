//! The exercise list inside watch (`l`): every exercise grouped by track, with per-track progress, and a
//! selection to jump anywhere.

use crate::state::State;
use crate::workspace::Workspace;

use super::keys::Key;

/// Rows moved by Page Up / Page Down.
const PAGE: usize = 10;

/// The list's selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListView {
    selected: usize,
    len: usize,
}

impl ListView {
    /// A list of `len` exercises with `selected` highlighted.
    pub fn new(selected: usize, len: usize) -> ListView {
        ListView {
            selected: selected.min(len.saturating_sub(1)),
            len,
        }
    }

    /// The index of the selected exercise.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Moves the selection (other keys do nothing).
    pub fn navigate(&mut self, key: &Key) {
        let last = self.len.saturating_sub(1);
        self.selected = match key {
            Key::Up => self.selected.saturating_sub(1),
            Key::Down => (self.selected + 1).min(last),
            Key::PageUp => self.selected.saturating_sub(PAGE),
            Key::PageDown => (self.selected + PAGE).min(last),
            Key::Home => 0,
            Key::End => last,
            _ => self.selected,
        };
    }
}

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A track heading with its progress.
    Track {
        /// The track directory (`01_http`), or `exercises` for exercises at the top.
        name: &'a str,
        /// Solved exercises in the track.
        solved: usize,
        /// Exercises in the track.
        total: usize,
    },
    /// An exercise.
    Exercise {
        /// Its index in `info.toml`.
        index: usize,
        /// Its name.
        name: &'a str,
        /// It has passed once.
        solved: bool,
        /// It is the current exercise.
        current: bool,
    },
}

/// The list's rows: each track heading followed by its exercises, in course order.
pub fn rows<'a>(ws: &'a Workspace, state: &State, current: usize) -> Vec<Row<'a>> {
    let mut rows = Vec::with_capacity(ws.exercises().len() + 8);
    let mut heading = None;
    for (index, exercise) in ws.exercises().iter().enumerate() {
        let track = exercise.dir.as_deref().unwrap_or("exercises");
        if heading != Some(track) {
            let members = ws
                .exercises()
                .iter()
                .filter(|other| other.dir.as_deref().unwrap_or("exercises") == track);
            let (solved, total) = members.fold((0, 0), |(solved, total), other| {
                (
                    solved + usize::from(state.is_solved(&other.name)),
                    total + 1,
                )
            });
            rows.push(Row::Track {
                name: track,
                solved,
                total,
            });
            heading = Some(track);
        }
        rows.push(Row::Exercise {
            index,
            name: &exercise.name,
            solved: state.is_solved(&exercise.name),
            current: index == current,
        });
    }
    rows
}

/// A progress bar of `width` cells: `solved` of `total` filled.
pub fn bar(solved: usize, total: usize, width: usize) -> String {
    let filled = (solved * width).checked_div(total).unwrap_or(0).min(width);
    format!("{}{}", "#".repeat(filled), "-".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The selection stays within the list whatever the keys.
    #[test]
    fn navigation_is_clamped() {
        let mut list = ListView::new(1, 3);
        list.navigate(&Key::Up);
        list.navigate(&Key::Up);
        assert_eq!(list.selected(), 0);
        list.navigate(&Key::PageDown);
        assert_eq!(list.selected(), 2);
        list.navigate(&Key::Down);
        assert_eq!(list.selected(), 2);
        list.navigate(&Key::Home);
        assert_eq!(list.selected(), 0);
        assert_eq!(ListView::new(7, 3).selected(), 2);
    }

    // The bar is proportional and never overflows.
    #[test]
    fn bar_is_proportional() {
        assert_eq!(bar(0, 4, 8), "--------");
        assert_eq!(bar(1, 4, 8), "##------");
        assert_eq!(bar(4, 4, 8), "########");
        assert_eq!(bar(0, 0, 4), "----");
    }
}
