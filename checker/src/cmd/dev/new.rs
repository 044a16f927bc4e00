//! `backlings dev new NAME --dir NN_track`: scaffold an exercise, its solution, their bins and an info.toml
//! entry. Files are appended to, never rewritten, so an author's formatting and comments stay as they are.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use camino::Utf8Path;

use crate::error::CheckerError;
use crate::info::Info;
use crate::workspace::Workspace;

/// Creates the files of exercise `name` in track `dir`.
pub fn run(ws: &Workspace, name: &str, dir: &str) -> anyhow::Result<ExitCode> {
    let info_path = ws.root().join("info.toml");
    let info_text = std::fs::read_to_string(&info_path)
        .with_context(|| format!("cannot read `{info_path}`"))?;
    let entry = format!(
        "\n[[exercises]]\nname = \"{name}\"\ndir = \"{dir}\"\ntest = true\nstrict_clippy = true\ntopics = []\ndifficulty = 1\n\
         hints = [\n    \"TODO: a nudge\",\n    \"TODO: the approach\",\n    \"TODO: nearly the solution\",\n]\n"
    );
    let separator = if info_text.ends_with('\n') { "" } else { "\n" };
    let new_info = format!("{info_text}{separator}{entry}");
    // Validates the name (format, uniqueness) and the directory exactly as every later run will.
    Info::parse(&new_info, &info_path)?;
    if ws.find(name).is_ok() {
        return Err(CheckerError::InfoToml {
            path: info_path,
            line: 1,
            column: 1,
            message: format!("`{name}` exists"),
            snippet: String::new(),
            fix: "pick another name".into(),
        }
        .into());
    }
    let exercise = ws
        .root()
        .join("exercises")
        .join(dir)
        .join(format!("{name}.rs"));
    let solution = ws
        .root()
        .join("solutions")
        .join(dir)
        .join(format!("{name}.rs"));
    for path in [&exercise, &solution] {
        anyhow::ensure!(
            !path.exists(),
            "`{path}` exists already; remove it or pick another name"
        );
    }
    create(&exercise, &EXERCISE_TEMPLATE.replace("NAME", name))?;
    create(&solution, &SOLUTION_TEMPLATE.replace("NAME", name))?;
    let bins = register_bins(ws, name, dir)?;
    append(&info_path, &format!("{separator}{entry}"))?;
    println!("created `exercises/{dir}/{name}.rs` and `solutions/{dir}/{name}.rs`");
    println!("{bins}");
    println!("appended an entry to `info.toml`: fill in its topics, difficulty and hints");
    println!("next: write the exercise, then `backlings dev check --only {name}`");
    Ok(ExitCode::SUCCESS)
}

/// Adds the bins to the track's Cargo.toml (a new track package if there is none), or to the rustlings-style
/// root `bin = [...]` list.
fn register_bins(ws: &Workspace, name: &str, dir: &str) -> anyhow::Result<String> {
    let track_manifest = ws.root().join("exercises").join(dir).join("Cargo.toml");
    let bins = format!(
        "\n[[bin]]\nname = \"{name}\"\npath = \"{name}.rs\"\n\n[[bin]]\nname = \"{name}_sol\"\npath = \"../../solutions/{dir}/{name}.rs\"\n"
    );
    if track_manifest.is_file() {
        append(&track_manifest, &bins)?;
        return Ok(format!(
            "added bins `{name}` and `{name}_sol` to `exercises/{dir}/Cargo.toml`"
        ));
    }
    let root_manifest = ws.manifest();
    let root_text = std::fs::read_to_string(&root_manifest)
        .with_context(|| format!("cannot read `{root_manifest}`"))?;
    if let Some(list_start) = root_text.find("bin = [") {
        // rustlings layout: insert two entries before the list's closing bracket.
        let close = root_text[list_start..]
            .find("\n]")
            .map(|i| list_start + i + 1)
            .context("the root `bin = [` list has no closing `]` on its own line")?;
        let lines = format!(
            "  {{ name = \"{name}\", path = \"exercises/{dir}/{name}.rs\" }},\n  {{ name = \"{name}_sol\", path = \"solutions/{dir}/{name}.rs\" }},\n"
        );
        let updated = format!("{}{lines}{}", &root_text[..close], &root_text[close..]);
        crate::files::write_atomically(&root_manifest, updated.as_bytes())?;
        return Ok(format!(
            "added bins `{name}` and `{name}_sol` to the root Cargo.toml"
        ));
    }
    let package = format!("track-{}", dir.replace('_', "-"));
    let manifest = format!(
        "[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition.workspace = true\npublish.workspace = true\nautobins = false\n\n\
         [features]\nmutants = []\n\n[dependencies]\n\n[lints.rust]\n# Skeletons have parameters the learner has not used yet.\nunused = \"allow\"\n{bins}"
    );
    create(&track_manifest, &manifest)?;
    Ok(format!(
        "created the track package `{package}` in `exercises/{dir}/Cargo.toml` (the root workspace must list it)"
    ))
}

fn create(path: &Utf8Path, content: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{dir}`"))?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write `{path}`"))
}

fn append(path: &Utf8Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open `{path}`"))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot append to `{path}`"))
}

const EXERCISE_TEMPLATE: &str = r#"//! NAME: what the concept is, in a sentence.
//!
//! Why it matters in production, what goes wrong without it, and the pitfalls to watch for.
//! Roadmap topic: …

// TODO: say what the learner should make `answer` do (not how).
fn answer() -> u32 {
    todo!()
}

// Provided: you do not need to change this.
fn main() {
    println!("{}", answer());
}

#[cfg(test)]
mod tests {
    use super::*;

    // The answer is the one the contract names.
    #[test]
    fn answers() {
        assert_eq!(answer(), 42);
    }
}
"#;

const SOLUTION_TEMPLATE: &str = r#"//! NAME: what the concept is, in a sentence.
//!
//! Why it matters in production, what goes wrong without it, and the pitfalls to watch for.
//! Roadmap topic: …

fn answer() -> u32 {
    42
}

// Provided: you do not need to change this.
fn main() {
    println!("{}", answer());
}

#[cfg(test)]
mod tests {
    use super::*;

    // The answer is the one the contract names.
    #[test]
    fn answers() {
        assert_eq!(answer(), 42);
    }
}
"#;
