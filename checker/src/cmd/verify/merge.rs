//! `verify merge`: many learners' `verify --format json` files as one table (markdown or CSV).

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

use crate::cli::TableFormat;

#[derive(Deserialize)]
struct Document {
    schema: u32,
    learner: Option<String>,
    exercises: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    passed: bool,
}

/// Rows: learners in the order given; columns: passed count, then each exercise in order of first appearance.
pub fn table(files: &[PathBuf], format: TableFormat) -> anyhow::Result<String> {
    let mut learners = Vec::new();
    let mut exercises: Vec<String> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        let document: Document = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a `backlings verify --format json` result",
                file.display()
            )
        })?;
        anyhow::ensure!(
            document.schema == super::report::SCHEMA,
            "`{}` has schema {}, this backlings reads {}",
            file.display(),
            document.schema,
            super::report::SCHEMA
        );
        let name = document.learner.clone().unwrap_or_else(|| {
            file.file_stem()
                .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned())
        });
        for entry in &document.exercises {
            if !exercises.contains(&entry.name) {
                exercises.push(entry.name.clone());
            }
        }
        learners.push((name, document));
    }
    let mut rows = vec![
        ["learner".to_string(), "passed".to_string()]
            .into_iter()
            .chain(exercises.iter().cloned())
            .collect::<Vec<_>>(),
    ];
    for (name, document) in &learners {
        let passed = document
            .exercises
            .iter()
            .filter(|entry| entry.passed)
            .count();
        let mut row = vec![name.clone(), format!("{passed}/{}", exercises.len())];
        for exercise in &exercises {
            let cell = match document
                .exercises
                .iter()
                .find(|entry| &entry.name == exercise)
            {
                Some(entry) if entry.passed => {
                    if format == TableFormat::Csv {
                        "pass"
                    } else {
                        "✓"
                    }
                }
                Some(_) => {
                    if format == TableFormat::Csv {
                        "fail"
                    } else {
                        "✗"
                    }
                }
                None => "",
            };
            row.push(cell.to_string());
        }
        rows.push(row);
    }
    Ok(match format {
        TableFormat::Markdown => markdown(&rows),
        TableFormat::Csv => rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| csv_cell(cell))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect(),
    })
}

fn markdown(rows: &[Vec<String>]) -> String {
    let escape = |cell: &str| cell.replace('|', "\\|");
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        out.push_str(&format!(
            "| {} |\n",
            row.iter()
                .map(|cell| escape(cell))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        if index == 0 {
            out.push_str(&format!(
                "|{}\n",
                row.iter().map(|_| "---|").collect::<String>()
            ));
        }
    }
    out
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cells with commas or quotes are quoted as RFC 4180 says.
    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
