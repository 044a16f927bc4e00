//! The exercise table: one row per exercise with its progress, shared by `list --plain` and the interactive list.

use crate::exercise::Exercise;
use crate::state::{self, State};
use crate::workspace::Workspace;

/// One exercise as the list shows it.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based position in the course.
    pub number: usize,
    /// The exercise name.
    pub name: String,
    /// Its track directory.
    pub track: String,
    /// `done`, `pending`, or `failing` (graded, not passing).
    pub status: &'static str,
    /// It is the current exercise.
    pub is_current: bool,
    /// "3/5" or "-".
    pub difficulty: String,
    /// Topics, comma-separated.
    pub topics: String,
}

/// The rows of every exercise of `ws`.
pub fn rows(ws: &Workspace, state: &State) -> Vec<Row> {
    ws.exercises()
        .iter()
        .enumerate()
        .map(|(index, exercise)| row(ws, state, index, exercise))
        .collect()
}

fn row(ws: &Workspace, state: &State, index: usize, exercise: &Exercise) -> Row {
    let remembered = state.exercise(&exercise.name);
    let status = match &remembered.last {
        _ if remembered.solved => "done",
        Some(last) if !last.passed => {
            // A file edited since its last failing verdict is just pending again.
            let current = std::fs::read(ws.root().join(exercise.path()))
                .map(|bytes| state::content_hash(&bytes));
            if current.is_ok_and(|hash| hash == last.hash) {
                "failing"
            } else {
                "pending"
            }
        }
        _ => "pending",
    };
    Row {
        number: index + 1,
        name: exercise.name.clone(),
        track: exercise.track().to_string(),
        status,
        is_current: state.current() == exercise.name,
        difficulty: exercise
            .difficulty
            .map_or("-".to_string(), |d| format!("{d}/5")),
        topics: exercise.topics.join(", "),
    }
}

/// The header and rows as aligned text lines (without the current-exercise marker column).
pub fn format(rows: &[&Row]) -> (String, Vec<String>) {
    let name_width = rows
        .iter()
        .map(|row| row.name.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let track_width = rows
        .iter()
        .map(|row| row.track.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let number_width = rows
        .iter()
        .map(|row| row.number.to_string().len())
        .max()
        .unwrap_or(1);
    let header = format!(
        "{:>number_width$}  {:<7}  {:<name_width$}  {:<track_width$}  {:<10}  topics",
        "#", "status", "exercise", "track", "difficulty"
    );
    let lines = rows
        .iter()
        .map(|row| {
            let line = format!(
                "{:>number_width$}  {:<7}  {:<name_width$}  {:<track_width$}  {:<10}  {}",
                row.number, row.status, row.name, row.track, row.difficulty, row.topics
            );
            line.trim_end().to_string()
        })
        .collect();
    (header, lines)
}
