//! A broken contract, in words a learner can act on.

use std::fmt;

use serde::Serialize;

/// Why a grader rejected the program: the invariant that broke, what was expected and what came back.
///
/// The framework adds the scenario, the last exchanges, the program's stderr, the seed and the replay command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The broken rule in plain words, e.g. "a GET for a missing path answers 404".
    pub message: String,
    /// What the contract says should have come back.
    pub expected: Option<String>,
    /// What came back.
    pub got: Option<String>,
    /// More lines of explanation (an event trace, a model's state, a hint).
    pub details: Vec<String>,
}

impl Failure {
    /// A failure with a message and nothing else yet.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            expected: None,
            got: None,
            details: Vec::new(),
        }
    }

    /// Adds what the contract expected.
    pub fn expected(mut self, expected: impl fmt::Display) -> Self {
        self.expected = Some(expected.to_string());
        self
    }

    /// Adds what came back.
    pub fn got(mut self, got: impl fmt::Display) -> Self {
        self.got = Some(got.to_string());
        self
    }

    /// Adds a line of explanation.
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(expected) = &self.expected {
            write!(f, "\n  expected: {expected}")?;
        }
        if let Some(got) = &self.got {
            write!(f, "\n  got:      {got}")?;
        }
        for line in &self.details {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Fails with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> Failure) -> Result<(), Failure> {
    if condition { Ok(()) } else { Err(message()) }
}

/// Fails with `message`, showing both values as compact JSON, unless `got == expected`.
pub fn ensure_eq<T: PartialEq + Serialize>(
    got: &T,
    expected: &T,
    message: &str,
) -> Result<(), Failure> {
    if got == expected {
        return Ok(());
    }
    Err(Failure::new(message)
        .expected(compact(expected))
        .got(compact(got)))
}

/// A value as one line of JSON, for transcripts.
pub(crate) fn compact<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}
