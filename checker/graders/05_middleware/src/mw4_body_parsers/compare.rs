//! Compares an echo with what it must be, and points at the first field that differs.

use backlings_grade::Failure;
use backlings_grade::http::{self, Request, Response};
use serde_json::Value;

use super::Probe;

/// Compares a response with the probe's expectation.
pub(super) fn compare(probe: &Probe, response: &Response) -> Result<(), Failure> {
    let request = describe(&probe.request);
    match &probe.expected {
        Err(status) if response.status == *status => Ok(()),
        Err(status) => Err(Failure::new(probe.rule.clone())
            .expected(format!("{status} with a JSON {{\"error\": …}}"))
            .got(format!(
                "{} · {}",
                response.status,
                shorten(&response.text())
            ))
            .detail(request)),
        Ok(echo) => {
            let got: Option<Value> = serde_json::from_slice(&response.body).ok();
            if response.status == 200 && got.as_ref() == Some(echo) {
                return Ok(());
            }
            let mut failure = Failure::new(probe.rule.clone())
                .expected(format!("200 · {}", shorten(&echo.to_string())))
                .got(format!(
                    "{} · {}",
                    response.status,
                    shorten(&response.text())
                ))
                .detail(request);
            if let Some(got) = got.filter(|_| response.status == 200)
                && let Some(difference) = first_difference("", echo, &got)
            {
                failure = failure.detail(format!("the first difference: {difference}"));
            }
            Err(failure)
        }
    }
}

/// Where two JSON values first differ, as `files[0].sha256: expected "…", got "…"`.
fn first_difference(at: &str, expected: &Value, got: &Value) -> Option<String> {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(key, value)| {
            let here = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            match b.get(key) {
                Some(other) => first_difference(&here, value, other),
                None => Some(format!("{here} is missing")),
            }
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (x, y))| first_difference(&format!("{at}[{index}]"), x, y)),
        (Value::Array(a), Value::Array(b)) => Some(format!(
            "{at} has {} entries, expected {}: {}",
            b.len(),
            a.len(),
            shorten(&got.to_string())
        )),
        _ if expected == got => None,
        _ => Some(format!(
            "{at}: expected {}, got {}",
            shorten(&expected.to_string()),
            shorten(&got.to_string())
        )),
    }
}

fn describe(request: &Request) -> String {
    let content_type = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| format!(" · Content-Type: {v}"))
        .unwrap_or_default();
    let body = if request.body.is_empty() {
        String::new()
    } else {
        format!(
            " · body ({} bytes): {}",
            request.body.len(),
            shorten(&http::printable(&request.body))
        )
    };
    format!(
        "the request: {} {}{content_type}{body}",
        request.method, request.target
    )
}

fn shorten(text: &str) -> String {
    const MAX: usize = 600;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}… ({} characters in all)", text.chars().count())
}
