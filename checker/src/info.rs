//! `info.toml`: the ordered list of exercises, in the rustlings 6 format plus backlings' fields.
//!
//! Parsing is strict (`deny_unknown_fields`) so a typo is an error rather than a silently ignored field, and
//! every error points at a line and column with what to fix. The format is documented in
//! `checker/INFO_TOML.md`.

use std::collections::BTreeSet;
use std::ops::Range;

use camino::Utf8Path;
use serde::Deserialize;
use toml::Spanned;

use crate::error::CheckerError;
use crate::exercise::{Exercise, GraderSpec, Timeouts};

/// The only `format_version` this backlings reads (the rustlings 6 one).
pub const FORMAT_VERSION: u32 = 1;

/// A parsed and validated `info.toml`.
#[derive(Debug, Clone)]
pub struct Info {
    /// Shown once, the first time a learner starts the course.
    pub welcome_message: Option<String>,
    /// Shown when every exercise is solved.
    pub final_message: Option<String>,
    /// The exercises in learning order.
    pub exercises: Vec<Exercise>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    format_version: Spanned<u32>,
    welcome_message: Option<String>,
    final_message: Option<String>,
    #[serde(default)]
    exercises: Vec<RawExercise>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExercise {
    name: Spanned<String>,
    dir: Option<Spanned<String>>,
    #[serde(default = "default_test")]
    test: bool,
    #[serde(default)]
    strict_clippy: bool,
    hint: Option<String>,
    hints: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    skip_check_unsolved: bool,
    topics: Option<Spanned<Vec<String>>>,
    difficulty: Option<Spanned<u8>>,
    grader: Option<GraderSpec>,
    #[serde(default)]
    timeout_ms: Timeouts,
}

fn default_test() -> bool {
    true
}

impl Info {
    /// Parses `text`, the contents of the file at `path` (used in messages).
    pub fn parse(text: &str, path: &Utf8Path) -> Result<Info, CheckerError> {
        let at = |span: Range<usize>, message: String, fix: &str| {
            located(text, path, span, message, fix.to_string())
        };
        let raw: RawInfo = toml::from_str(text).map_err(|err| {
            let fix = if err.message().contains("unknown field") {
                "remove or rename the field: the fields are listed in checker/INFO_TOML.md"
            } else if err.message().contains("missing field") {
                "add the field: each [[exercises]] needs at least `name` (see checker/INFO_TOML.md)"
            } else {
                "fix the TOML syntax there (checker/INFO_TOML.md has a complete example)"
            };
            at(
                err.span().unwrap_or(0..0),
                err.message().trim().to_string(),
                fix,
            )
        })?;
        if *raw.format_version.get_ref() != FORMAT_VERSION {
            return Err(at(
                raw.format_version.span(),
                format!(
                    "unsupported `format_version = {}`",
                    raw.format_version.get_ref()
                ),
                "backlings reads `format_version = 1`, the rustlings 6 format",
            ));
        }
        let mut names = BTreeSet::new();
        let mut exercises = Vec::with_capacity(raw.exercises.len());
        for entry in raw.exercises {
            let name = entry.name.get_ref();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(at(
                    entry.name.span(),
                    format!("`{name}` is not a valid exercise name"),
                    "use lowercase letters, digits and `_` (the name is also a cargo bin name)",
                ));
            }
            if !names.insert(name.clone()) {
                return Err(at(
                    entry.name.span(),
                    format!("exercise `{name}` is listed twice"),
                    "give it a unique name",
                ));
            }
            if let Some(dir) = &entry.dir
                && (dir.get_ref().is_empty()
                    || dir.get_ref().contains("..")
                    || dir.get_ref().starts_with('/'))
            {
                return Err(at(
                    dir.span(),
                    format!("`dir = \"{}\"` is not a track directory", dir.get_ref()),
                    "use a directory name under exercises/, such as `01_http`",
                ));
            }
            if let Some(difficulty) = &entry.difficulty
                && !(1..=5).contains(difficulty.get_ref())
            {
                return Err(at(
                    difficulty.span(),
                    format!("difficulty {} is out of range", difficulty.get_ref()),
                    "use 1 (easy) to 5 (hard)",
                ));
            }
            if let Some(topics) = &entry.topics
                && let Some(topic) = topics.get_ref().iter().find(|topic| !is_kebab_case(topic))
            {
                return Err(at(
                    topics.span(),
                    format!("topic `{topic}` is not a kebab-case id"),
                    "write topics like `rate-limiting`",
                ));
            }
            let hints = match (entry.hints, entry.hint) {
                (Some(hints), _) => {
                    if hints.get_ref().is_empty()
                        || hints.get_ref().iter().any(|hint| hint.trim().is_empty())
                    {
                        return Err(at(
                            hints.span(),
                            "`hints` has an empty tier".into(),
                            "write each tier, from nudge to near-solution, or remove `hints`",
                        ));
                    }
                    hints.into_inner()
                }
                (None, Some(hint)) if !hint.trim().is_empty() => vec![hint],
                (None, _) => Vec::new(),
            };
            exercises.push(Exercise {
                name: entry.name.into_inner(),
                dir: entry.dir.map(Spanned::into_inner),
                test: entry.test,
                strict_clippy: entry.strict_clippy,
                hints,
                skip_check_unsolved: entry.skip_check_unsolved,
                topics: entry.topics.map(Spanned::into_inner).unwrap_or_default(),
                difficulty: entry.difficulty.map(Spanned::into_inner),
                grader: entry.grader,
                timeouts: entry.timeout_ms,
            });
        }
        if exercises.is_empty() {
            return Err(CheckerError::EmptyCourse);
        }
        Ok(Info {
            welcome_message: raw.welcome_message,
            final_message: raw.final_message,
            exercises,
        })
    }
}

fn is_kebab_case(topic: &str) -> bool {
    !topic.is_empty()
        && !topic.starts_with('-')
        && !topic.ends_with('-')
        && topic
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An error at `span` of `text`, with its line, column and the line itself under a caret.
fn located(
    text: &str,
    path: &Utf8Path,
    span: Range<usize>,
    message: String,
    fix: String,
) -> CheckerError {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let source = &text[line_start..line_end];
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line.to_string().len();
    let snippet = format!(
        "{:gutter$} |\n{line} | {source}\n{:gutter$} | {}{}",
        "",
        "",
        " ".repeat(column - 1),
        "^".repeat(width)
    );
    CheckerError::InfoToml {
        path: path.to_owned(),
        line,
        column,
        message,
        snippet,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Info, CheckerError> {
        Info::parse(text, Utf8Path::new("info.toml"))
    }

    fn location(err: CheckerError) -> (usize, usize, String) {
        match err {
            CheckerError::InfoToml {
                line,
                column,
                message,
                ..
            } => (line, column, message),
            other => panic!("expected a located error, got {other}"),
        }
    }

    // The rustlings 6 format reads unchanged: defaults, `hint` as tier 1.
    #[test]
    fn reads_the_rustlings_format() {
        let info = parse(
            "format_version = 1\nwelcome_message = \"hi\"\n\n[[exercises]]\nname = \"intro1\"\ndir = \"00_intro\"\n\
             test = false\nhint = \"look\"\n\n[[exercises]]\nname = \"intro2\"\nhint = \"\"\nskip_check_unsolved = true\n",
        )
        .unwrap();
        assert_eq!(info.welcome_message.as_deref(), Some("hi"));
        let [one, two] = &info.exercises[..] else {
            panic!("two exercises")
        };
        assert!(!one.test && one.hints == ["look"] && one.path() == "exercises/00_intro/intro1.rs");
        assert!(
            two.test
                && two.hints.is_empty()
                && two.skip_check_unsolved
                && two.path() == "exercises/intro2.rs"
        );
    }

    // backlings' fields: `hints` replaces `hint`, grader and timeouts are read.
    #[test]
    fn reads_backlings_fields() {
        let info = parse(
            "format_version = 1\n[[exercises]]\nname = \"lru\"\ndir = \"08_caching\"\nhint = \"old\"\n\
             hints = [\"a\", \"b\", \"c\"]\ntopics = [\"caching\"]\ndifficulty = 3\n\
             grader = { package = \"graders-08-caching\", params = { size = 3 } }\ntimeout_ms = { grader = 15000 }\n",
        )
        .unwrap();
        let lru = &info.exercises[0];
        assert_eq!(lru.hints, ["a", "b", "c"]);
        assert_eq!(lru.grader.as_ref().unwrap().bin(), "graders-08-caching");
        assert_eq!(lru.timeouts.grader().as_millis(), 15000);
        assert_eq!(lru.difficulty, Some(3));
    }

    // A typo in a field name is reported at its line and column.
    #[test]
    fn unknown_field_points_at_it() {
        let err =
            parse("format_version = 1\n[[exercises]]\nname = \"a\"\nhnit = \"x\"\n").unwrap_err();
        let (line, column, message) = location(err);
        assert_eq!((line, column), (4, 1));
        assert!(message.contains("unknown field `hnit`"), "{message}");
    }

    // Broken syntax is reported where it is.
    #[test]
    fn syntax_error_points_at_it() {
        let (line, _, _) =
            location(parse("format_version = 1\n\n[[exercises]\nname = \"a\"\n").unwrap_err());
        assert_eq!(line, 3);
    }

    // Semantic mistakes are located too: duplicates, difficulty, format version.
    #[test]
    fn semantic_errors_are_located() {
        let twice =
            "format_version = 1\n[[exercises]]\nname = \"a\"\n[[exercises]]\nname = \"a\"\n";
        assert_eq!(location(parse(twice).unwrap_err()).0, 5);
        let hard = "format_version = 1\n[[exercises]]\nname = \"a\"\ndifficulty = 9\n";
        let (line, column, _) = location(parse(hard).unwrap_err());
        assert_eq!((line, column), (4, 14));
        assert_eq!(location(parse("format_version = 2\n").unwrap_err()).1, 18);
        let topic =
            "format_version = 1\n[[exercises]]\nname = \"a\"\ntopics = [\"Rate Limiting\"]\n";
        assert!(location(parse(topic).unwrap_err()).2.contains("kebab-case"));
    }
}
