//! Terminal output: colours, the progress line, the exercise table and the interactive list.

pub mod list;
pub mod progress;
pub mod style;
pub mod table;
