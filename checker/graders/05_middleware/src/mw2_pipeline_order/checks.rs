//! The checks of `mw2_pipeline_order`: an answer against the model (status, RFC 9457 members, headers), an
//! access-log line against the request, and the failure the learner reads.

use std::collections::BTreeSet;

use backlings_grade::Failure;
use backlings_grade::http::Response;
use serde_json::{Map, Value, json};

use super::model::{Expected, Probe, Why};

/// Checks the answer; on success returns the error id of a 500 (for the log check).
pub(super) fn check_response(
    expected: &Expected,
    response: &Response,
    error_ids: &mut BTreeSet<String>,
) -> Result<Option<String>, String> {
    if response.status != expected.status {
        return Err(status_rule(expected, response));
    }
    if expected.status < 400 {
        let body: Option<Value> = serde_json::from_slice(&response.body).ok();
        if body != expected.json {
            return Err(
                "a successful answer is the handler's JSON, passed back out unchanged".to_string(),
            );
        }
        if response.header("Location").map(str::to_string) != expected.location {
            return Err(
                "a 201 carries `Location: /orders/ID` (the handler sets it; no layer may drop it)"
                    .to_string(),
            );
        }
        return Ok(None);
    }
    let problem_rule = "every error is an RFC 9457 problem: `Content-Type: application/problem+json` and a JSON \
                        object with `type` (\"about:blank\"), `title` (the status's reason phrase), `status` \
                        (the status, as a number) and `detail` (a sentence)";
    let is_problem_type = response.header("Content-Type").is_some_and(|value| {
        value
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/problem+json")
    });
    let Some(Value::Object(body)) = serde_json::from_slice::<Value>(&response.body).ok() else {
        return Err(problem_rule.to_string());
    };
    let title = reason_phrase(expected.status);
    if !is_problem_type
        || body.get("type") != Some(&json!("about:blank"))
        || body.get("title") != Some(&json!(title))
        || body.get("status") != Some(&json!(expected.status))
        || !has_text(body.get("detail"))
    {
        return Err(problem_rule.to_string());
    }
    match expected.why {
        Why::NoToken if !response
            .header("WWW-Authenticate")
            .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("bearer")) =>
        {
            Err("a 401 carries `WWW-Authenticate: Bearer`, which tells the client how to authenticate".to_string())
        }
        Why::WrongMethod => {
            let allowed: BTreeSet<String> = response
                .headers_named("Allow")
                .iter()
                .flat_map(|value| value.split(','))
                .map(|method| method.trim().to_string())
                .filter(|method| !method.is_empty())
                .collect();
            let wanted = BTreeSet::from([expected.allow.unwrap_or_default().to_string()]);
            if allowed == wanted {
                Ok(None)
            } else {
                Err(format!(
                    "a 405 carries an Allow header listing the methods that would work on this path (here: \
                     `Allow: {}`), or the client cannot know what to do instead",
                    expected.allow.unwrap_or_default()
                ))
            }
        }
        Why::InvalidFields => check_pointers(expected, &body),
        Why::Panic => {
            let text = response.text().to_ascii_lowercase();
            if ["divide", "panicked", "attempt to"].iter().any(|word| text.contains(word)) {
                return Err(
                    "a 500 never shows the panic's message to the client (it can hold SQL, paths or secrets): a \
                     generic detail and the error id are all the client gets"
                        .to_string(),
                );
            }
            let Some(id) = body.get("error_id").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
                return Err(
                    "a 500 problem carries an `error_id` member: the one thing a customer can quote to support"
                        .to_string(),
                );
            };
            if !error_ids.insert(id.to_string()) {
                return Err(format!(
                    "every 500 gets a fresh error id (from `App::next_error_id`): `{id}` was already given to an \
                     earlier one"
                ));
            }
            Ok(Some(id.to_string()))
        }
        _ => Ok(None),
    }
}

/// Whether `value` is a string with something in it.
fn has_text(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|text| !text.trim().is_empty())
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Content",
        500 => "Internal Server Error",
        _ => "",
    }
}

fn check_pointers(
    expected: &Expected,
    body: &Map<String, Value>,
) -> Result<Option<String>, String> {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Err(
            "a 422 problem lists the invalid fields in an `errors` array of {\"pointer\", \"detail\"} objects"
                .to_string(),
        );
    };
    let mut got: Vec<String> = Vec::new();
    for error in errors {
        let pointer = error.get("pointer").and_then(Value::as_str);
        let detail = error.get("detail").and_then(Value::as_str);
        match (pointer, detail) {
            (Some(pointer), Some(detail)) if !detail.trim().is_empty() => {
                got.push(pointer.to_string())
            }
            _ => {
                return Err(
                    "each entry of `errors` is an object with a `pointer` (a JSON Pointer as a URI fragment) and a \
                     non-empty `detail`"
                        .to_string(),
                );
            }
        }
    }
    got.sort();
    if got == expected.pointers {
        return Ok(None);
    }
    if got.len() < expected.pointers.len() && got.iter().all(|p| expected.pointers.contains(p)) {
        return Err(
            "validation reports every invalid field at once: a client should not have to fix one field per \
             round trip"
                .to_string(),
        );
    }
    Err(
        "each invalid field is named by its JSON Pointer (RFC 6901) in a URI fragment: `#/quantity`, and \
         `#/tags/2` for the third tag; every invalid field once, no valid one"
            .to_string(),
    )
}

fn status_rule(expected: &Expected, response: &Response) -> String {
    let got = response.status;
    match expected.why {
        Why::NoToken if matches!(got, 400 | 422) => "authentication comes before validation: a request without a \
             valid bearer token is refused with 401 before anyone looks at its body (validating first tells \
             strangers your schema)"
            .to_string(),
        Why::NoToken => "every request needs `Authorization: Bearer TOKEN` with a known token; without one the \
             answer is 401, whatever the path"
            .to_string(),
        _ if got == 401 => "a known token is accepted whatever the case of the scheme: `Bearer`, `bearer` and \
             `BEARER` are the same scheme (it is case-insensitive)"
            .to_string(),
        Why::Panic => "GET /reports/0 panics in the handler: the error boundary must turn the panic into a 500 \
             problem (and the server goes on serving)"
            .to_string(),
        Why::NotAnObject => "a body that is not a JSON object at all is a 400 problem".to_string(),
        Why::InvalidFields => "a JSON object with invalid fields is a 422 problem listing them".to_string(),
        Why::NoRoute | Why::NoSuchOrder => "an unknown path, or an order that does not exist, is a 404".to_string(),
        Why::WrongMethod => "a known path with a method it does not allow is a 405 (not a 404: the resource \
             exists)"
            .to_string(),
        Why::Served if got == 500 => "this request must be served; the program answered 500 (see its stderr \
             below: a layer or a handler panicked, perhaps because a layer it relies on ran after it)"
            .to_string(),
        Why::Served => "this request must be served by its handler".to_string(),
    }
}

/// Checks the access-log lines written for this one request.
pub(super) fn check_log(
    probe: &Probe,
    expected: &Expected,
    error_id: Option<&str>,
    lines: &[String],
) -> Result<(), String> {
    let fields = "the access-log line is a JSON object with `method`, `path`, `status` (the one finally sent), \
                  `user` (the authenticated user, or null) and `error_id` (the id of a 500, or null)";
    let line = match lines {
        [line] => line,
        [] => {
            return Err(format!(
                "one access-log line per request, whatever happened to it{}: none was written for this one",
                if expected.why == Why::Panic {
                    " (a panic included: the logger must be outside the error boundary, or the panic unwinds \
                     straight through its post-hook)"
                } else {
                    ""
                }
            ));
        }
        _ => {
            return Err(format!(
                "one access-log line per request: {} were written for this one",
                lines.len()
            ));
        }
    };
    let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(line) else {
        return Err(fields.to_string());
    };
    let wanted = [
        ("method", json!(probe.method)),
        ("path", json!(probe.path)),
        ("status", json!(expected.status)),
        ("user", json!(expected.user)),
    ];
    if wanted
        .iter()
        .any(|(name, value)| entry.get(*name) != Some(value))
    {
        return Err(fields.to_string());
    }
    if entry.get("error_id") != Some(&json!(error_id)) {
        return Err(match error_id {
            Some(id) => format!(
                "the log line of a 500 holds the same error id as the response (`{id}`), so support can find \
                 the panic from the id a customer quotes"
            ),
            None => fields.to_string(),
        });
    }
    Ok(())
}

pub(super) fn explain(
    rule: String,
    probe: &Probe,
    expected: &Expected,
    response: &Response,
    lines: &[String],
) -> Failure {
    let mut want = format!("{}", expected.status);
    if let Some(allow) = expected.allow {
        want.push_str(&format!(" · Allow: {allow}"));
    }
    if !expected.pointers.is_empty() {
        want.push_str(&format!(" · errors at {}", expected.pointers.join(", ")));
    }
    if expected.why == Why::Panic {
        want.push_str(" · a fresh error_id");
    }
    want.push_str(&format!(
        " · one log line with user {}",
        expected
            .user
            .as_deref()
            .map_or("null".to_string(), |u| format!("\"{u}\""))
    ));
    let mut got = format!(
        "{} · Content-Type: {} · body {}",
        response.status,
        response.header("Content-Type").unwrap_or("(none)"),
        response.text()
    );
    if let Some(allow) = response.header("Allow") {
        got.push_str(&format!(" · Allow: {allow}"));
    }
    let body = probe
        .body
        .as_ref()
        .map(|b| format!(" with body {}", String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let log = match lines {
        [] => "nothing".to_string(),
        lines => lines.join(" | "),
    };
    Failure::new(rule)
        .expected(want)
        .got(got)
        .detail(format!(
            "the request: {} {}{}{}",
            probe.method,
            probe.path,
            probe
                .authorization
                .as_ref()
                .map(|a| format!(" · Authorization: {a}"))
                .unwrap_or_else(|| " · no Authorization".to_string()),
            body
        ))
        .detail(format!("the access log got: {log}"))
        .detail("the pipeline, outermost first: log_requests → recover → authenticate → validate → route")
}
