//! Sends an operation to the server (over a raw keep-alive connection, or through reqwest) and checks the answer
//! against the model's expectation: status, `Location`, `ETag`, `Allow`, `Retry-After`, `Accept-Patch`, the
//! JSON body, and for `HEAD` the `Content-Length` of the body that was not sent.

use std::collections::BTreeSet;

use backlings_grade::http::Response;
use backlings_grade::{Connection, Failure, Server};
use serde_json::Value;

use super::model::{Body, Expected, JSON, MERGE_PATCH, Op};
use crate::support::summarize;

/// Sends `op` on the keep-alive connection and checks the answer.
pub fn raw(
    server: &mut Server,
    conn: &mut Connection,
    op: &Op,
    expected: &Expected,
    rule: &str,
) -> Result<Response, Failure> {
    let request = op.request();
    let response = match conn.request(&request) {
        Ok(response) => response,
        Err(failure) => {
            server.ensure_alive()?;
            return Err(Failure::new(rule)
                .expected(expected.describe())
                .got(failure.message)
                .detail(format!("sent: {}", op.describe())));
        }
    };
    verify(&response, op, expected, rule)?;
    Ok(response)
}

/// Checks `response` to `op` against `expected`.
pub fn verify(
    response: &Response,
    op: &Op,
    expected: &Expected,
    rule: &str,
) -> Result<(), Failure> {
    let failure = |lesson: &str| {
        let mut failure = Failure::new(rule)
            .expected(expected.describe())
            .got(summarize(response))
            .detail(format!("sent: {}", op.describe()));
        if !lesson.is_empty() {
            failure = failure.detail(lesson.to_string());
        }
        failure.detail(format!("the contract: {}", expected.why))
    };
    if response.status != expected.status {
        return Err(failure(""));
    }
    let header = |name: &str| response.header(name).map(str::trim);
    if let Some(location) = &expected.location
        && header("location") != Some(location.as_str())
    {
        return Err(failure(&format!(
            "a 201 says where the new note lives: `Location: {location}`"
        )));
    }
    if let Some(etag) = &expected.etag
        && header("etag") != Some(etag.as_str())
    {
        return Err(failure(&format!(
            "a response carrying a note carries its ETag (from `etag(note)`): {etag}"
        )));
    }
    if let Some(allow) = expected.allow {
        let wanted: BTreeSet<&str> = allow.iter().copied().collect();
        let got: BTreeSet<String> = response
            .headers_named("allow")
            .iter()
            .flat_map(|value| value.split(','))
            .map(|method| method.trim().to_string())
            .filter(|method| !method.is_empty())
            .collect();
        let got: BTreeSet<&str> = got.iter().map(String::as_str).collect();
        if got != wanted {
            return Err(failure(&format!(
                "`Allow` lists exactly the methods of this route: {} (HEAD and OPTIONS included)",
                allow.join(", ")
            )));
        }
    }
    if let Some(seconds) = expected.retry_after
        && header("retry-after") != Some(seconds.to_string().as_str())
    {
        return Err(failure(&format!(
            "a 503 for maintenance tells clients when to come back: `Retry-After: {seconds}`"
        )));
    }
    if expected.accept_patch
        && !header("accept-patch").is_some_and(|value| value.eq_ignore_ascii_case(MERGE_PATCH))
    {
        return Err(failure(&format!(
            "a 415 to PATCH says what PATCH takes: `Accept-Patch: {MERGE_PATCH}`"
        )));
    }
    if let Some(length) = expected.head_length {
        if header("content-length") != Some(length.to_string().as_str()) {
            return Err(failure(&format!(
                "HEAD sends the headers GET would send: `Content-Length: {length}`, the length of the body GET \
                 would send"
            )));
        }
        if header("content-type").is_none() {
            return Err(failure(
                "HEAD sends the headers GET would send, Content-Type included",
            ));
        }
    }
    match &expected.body {
        Body::Json(value) => {
            let media = header("content-type")
                .and_then(|value| value.split(';').next())
                .map(|value| value.trim().to_ascii_lowercase());
            if media.as_deref() != Some(JSON) {
                return Err(failure("a JSON body has `Content-Type: application/json`"));
            }
            let got: Option<Value> = serde_json::from_slice(&response.body).ok();
            if got.as_ref() != Some(value) {
                return Err(failure("the body differs"));
            }
        }
        Body::Empty => {
            if !response.body.is_empty() {
                return Err(failure("this response has no body"));
            }
        }
        Body::Error => {}
    }
    Ok(())
}

/// Sends `op` through reqwest and turns the answer into a [`Response`] (status, headers, body).
pub async fn with_reqwest(
    client: &reqwest::Client,
    server: &Server,
    op: &Op,
) -> Result<Response, String> {
    let request = op.request();
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = client.request(method, server.url(&request.target));
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| error_chain(&e))?
        .to_vec();
    Ok(Response {
        version: "HTTP/1.1".to_string(),
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        headers,
        body,
    })
}

/// An error with its causes.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
