//! Problem details (RFC 9457) as this track's graders read them: the envelope every validation error comes
//! back in, the `errors` list of `(pointer, code)` pairs, and the comparison of that list with the one the
//! contract requires, explained in words.

use std::collections::BTreeSet;

use backlings_grade::Failure;
use backlings_grade::http::Response;
use serde_json::Value;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field error as the contract lists it: where, and which code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldError {
    /// A JSON Pointer into the request body.
    pub pointer: String,
    /// The machine-readable code.
    pub code: String,
}

impl FieldError {
    /// An error at `pointer` with `code`.
    pub fn new(pointer: impl Into<String>, code: &str) -> Self {
        FieldError {
            pointer: pointer.into(),
            code: code.to_string(),
        }
    }
}

/// A list of field errors in one line: `[/email format, /tags/1 length]`.
pub fn show(errors: &[FieldError]) -> String {
    let items: Vec<String> = errors
        .iter()
        .map(|e| format!("{:?} {}", e.pointer, e.code))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The media type of `response` (the part before any `;`), lowercased.
pub fn media_type(response: &Response) -> Option<String> {
    response
        .header("content-type")
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
}

/// A short line about a response for a failure report: its status, media type and the start of its body.
pub fn glimpse(response: &Response) -> String {
    let mut body = response.text();
    if body.chars().count() > 300 {
        body = body.chars().take(300).collect::<String>() + "…";
    }
    format!(
        "{} · Content-Type: {} · body {body}",
        response.status,
        response.header("content-type").unwrap_or("(none)")
    )
}

/// Checks that `response` is a problem document with this `status` and problem `type`, and returns its body.
///
/// `why` says in words why this status is the right answer; it leads the failure.
pub fn problem(
    response: &Response,
    status: u16,
    problem_type: &str,
    why: &str,
) -> Result<Value, Failure> {
    let expected =
        format!("{status} with Content-Type: {PROBLEM_JSON} and \"type\": \"{problem_type}\"");
    let fail = |rule: String| {
        Failure::new(rule)
            .expected(&expected)
            .got(glimpse(response))
    };
    if response.status != status {
        return Err(fail(why.to_string()));
    }
    if media_type(response).as_deref() != Some(PROBLEM_JSON) {
        return Err(fail(format!(
            "an error body is a problem document (RFC 9457), sent with Content-Type: {PROBLEM_JSON} so \
             clients know how to read it"
        )));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        fail(format!(
            "the problem document must be JSON, and this body does not parse: {e}"
        ))
    })?;
    let Some(object) = body.as_object() else {
        return Err(fail("a problem document is a JSON object".to_string()));
    };
    if object.get("type").and_then(Value::as_str) != Some(problem_type) {
        return Err(fail(format!(
            "the problem's \"type\" names the kind of problem, here exactly \"{problem_type}\""
        )));
    }
    if object.get("status").and_then(Value::as_u64) != Some(u64::from(status)) {
        return Err(fail(format!(
            "the problem's \"status\" is the HTTP status as a JSON number ({status})"
        )));
    }
    let title = object.get("title").and_then(Value::as_str).unwrap_or("");
    if title.trim().is_empty() {
        return Err(fail(
            "a problem document has a \"title\": a short, non-empty summary for people".to_string(),
        ));
    }
    Ok(body)
}

/// The `errors` member of a problem document as `(pointer, code)` pairs, in the order they came.
pub fn field_errors(body: &Value) -> Result<Vec<FieldError>, Failure> {
    let got = || body.to_string();
    let Some(items) = body.get("errors").and_then(Value::as_array) else {
        return Err(Failure::new(
            "a validation problem lists the invalid fields in an \"errors\" array",
        )
        .got(got()));
    };
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        let pointer = item.get("pointer").and_then(Value::as_str);
        let code = item.get("code").and_then(Value::as_str);
        let detail = item.get("detail").and_then(Value::as_str).unwrap_or("");
        match (pointer, code) {
            (Some(pointer), Some(code)) if !detail.trim().is_empty() => {
                errors.push(FieldError::new(pointer, code));
            }
            _ => {
                return Err(Failure::new(
                    "each entry of \"errors\" is an object with a string \"pointer\", a string \"code\" and \
                     a non-empty \"detail\" for people",
                )
                .got(item.to_string()));
            }
        }
    }
    Ok(errors)
}

/// How a returned error list differs from the required one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The same errors, in another order.
    Order,
    /// Only the first of several errors came back: the validator stopped at the first problem.
    StoppedEarly,
    /// Errors missing, unexpected, or with another code; the pointers concerned, sorted.
    Different {
        /// Required and not returned.
        missing: Vec<FieldError>,
        /// Returned and not required.
        unexpected: Vec<FieldError>,
    },
}

/// Compares `got` with `expected` (which is in the required order); `None` when they are equal.
pub fn compare(expected: &[FieldError], got: &[FieldError]) -> Option<Mismatch> {
    if expected == got {
        return None;
    }
    let want: BTreeSet<&FieldError> = expected.iter().collect();
    let have: BTreeSet<&FieldError> = got.iter().collect();
    if want == have && expected.len() == got.len() {
        return Some(Mismatch::Order);
    }
    if expected.len() > 1 && got.len() == 1 && want.contains(&got[0]) {
        return Some(Mismatch::StoppedEarly);
    }
    Some(Mismatch::Different {
        missing: want.difference(&have).map(|e| (*e).clone()).collect(),
        unexpected: have.difference(&want).map(|e| (*e).clone()).collect(),
    })
}

/// The failure for a mismatch, with the rule of every field concerned (`rule_of(pointer, code)`).
pub fn explain(
    mismatch: &Mismatch,
    expected: &[FieldError],
    got: &[FieldError],
    rule_of: impl Fn(&str, &str) -> String,
) -> Failure {
    let failure = match mismatch {
        Mismatch::Order => Failure::new(
            "the errors are listed sorted by pointer (plain string order), so the same body always gets \
             the same list",
        ),
        Mismatch::StoppedEarly => Failure::new(
            "every invalid field is reported, all at once: the server stopped at the first error, and a \
             user would need one round trip per mistake",
        ),
        Mismatch::Different {
            missing,
            unexpected,
        } => {
            let mut failure = Failure::new(
                "the list of errors must be exactly the invalid fields of the body, one (pointer, code) per \
                 field",
            );
            for error in missing {
                failure = failure.detail(format!(
                    "missing: {:?} {} · {}",
                    error.pointer,
                    error.code,
                    rule_of(&error.pointer, &error.code)
                ));
            }
            for error in unexpected {
                failure = failure.detail(format!(
                    "not expected: {:?} {} · {}",
                    error.pointer,
                    error.code,
                    rule_of(&error.pointer, &error.code)
                ));
            }
            failure
        }
    };
    let mut failure = failure.expected(show(expected)).got(show(got));
    if expected.iter().chain(got).any(|e| e.pointer.contains('~')) {
        failure = failure.detail(
            "JSON Pointer (RFC 6901): in a member name, `~` is written `~0` and `/` is written `~1` \
             (the `~` first), so a member named `a/b` is at \"/a~1b\"",
        );
    }
    failure
}
