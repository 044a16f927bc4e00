//! Grader of `val1_syntax_type_checks`: `POST /signup` checks types and formats and reports every invalid
//! field at once, as a `422` problem document with JSON Pointers.
//!
//! Every body is built from raw JSON fragments (so `30.0` and `1e2` reach the server as written) and its
//! required error list comes from the executable contract in [`model`]. The scenarios go from valid signups
//! with the awkward values a real user has (plus-tagged emails, leap days, names in Greek or emoji) through
//! every broken rule on its own, to seeded bodies with many errors at once, then the envelope (malformed
//! JSON, wrong media type, a body that is not an object), a real client (reqwest), and requests torn into
//! small writes or pipelined in one.

mod cases;
mod model;

use std::io::BufReader;
use std::time::Duration;

use backlings_grade::http::{self, Request, Response};
use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::Value;

use crate::problem::{self, glimpse};
use cases::Body;

/// The problem type of a validation failure.
const VALIDATION: &str = "urn:backlings:problem:validation";
/// The problem type of a body that is not JSON.
const MALFORMED: &str = "urn:backlings:problem:malformed-json";
/// Why a body that breaks the rules gets 422.
const WHY_422: &str = "a well-formed JSON body that breaks the validation rules gets 422 Unprocessable Content \
                       (400 is for a body that is not JSON at all)";
/// Seeded bodies with several errors each.
const MIXED_BODIES: usize = 40;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut server = g.server()?;
    let mut conn = server.open()?;

    g.scenario("valid signups, awkward values included, get 201 with the signup echoed");
    for body in cases::valid_bodies(g.rng()) {
        expect_created(&mut conn, &body)?;
    }

    g.scenario("each broken rule on its own is reported with its pointer and code");
    let base = cases::valid_body(g.rng(), 0);
    for fault in cases::faults() {
        let mut body = base.clone();
        fault.apply(&mut body);
        expect_errors(&mut conn, &body)?;
    }

    g.scenario("bodies with many mistakes get every error at once, sorted by pointer");
    let faults = cases::faults();
    for round in 0..MIXED_BODIES {
        let body = cases::mixed_body(g.rng(), &faults, round);
        expect_errors(&mut conn, &body)?;
    }

    g.scenario("a body that is not an object, not JSON, or not sent as JSON");
    envelope(&mut server, &mut conn)?;

    g.scenario("a real HTTP client (reqwest) gets the same answers");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("the grader could not start its HTTP client: {e}")))?;
    let valid = cases::valid_body(g.rng(), 1);
    let invalid = cases::mixed_body(g.rng(), &faults, 1);
    runtime.block_on(with_reqwest(&server, &valid, &invalid))?;

    g.scenario("a request torn into small writes, and three requests in one write");
    torn_and_pipelined(&mut server, g.rng(), &faults)?;
    server.ensure_alive()
}

fn post(body: &[u8], content_type: Option<&str>) -> Request {
    let request = Request::post("/signup", body.to_vec());
    match content_type {
        Some(media) => request.header("Content-Type", media),
        None => request,
    }
}

fn sent(body: &Body) -> String {
    let text = body.text();
    if text.chars().count() > 600 {
        format!(
            "the body sent: {}…",
            text.chars().take(600).collect::<String>()
        )
    } else {
        format!("the body sent: {text}")
    }
}

fn expect_created(conn: &mut Connection, body: &Body) -> Result<(), Failure> {
    let response = conn.request(&post(body.text().as_bytes(), Some("application/json")))?;
    check_created(&response, body)
}

fn check_created(response: &Response, body: &Body) -> Result<(), Failure> {
    if response.status == 201 {
        let echoed: Option<Value> = serde_json::from_slice(&response.body).ok();
        if echoed.as_ref() == Some(&body.value()) {
            return Ok(());
        }
        return Err(Failure::new(
            "a valid signup is answered 201 with the typed signup echoed as JSON: every member that was \
             sent, with the same value",
        )
        .expected(body.text())
        .got(glimpse(response)));
    }
    let mut failure =
        Failure::new("this signup is valid: the contract accepts it with 201 Created")
            .expected("201 with the signup echoed")
            .got(glimpse(response))
            .detail(sent(body));
    if response.status == 422
        && let Ok(parsed) = serde_json::from_slice::<Value>(&response.body)
        && let Ok(errors) = problem::field_errors(&parsed)
    {
        for error in errors {
            failure = failure.detail(format!(
                "the server refused {:?} ({}), but that member is valid · {}",
                error.pointer,
                error.code,
                model::rule_of(&error.pointer, &error.code)
            ));
        }
    }
    Err(failure)
}

fn expect_errors(conn: &mut Connection, body: &Body) -> Result<(), Failure> {
    let response = conn.request(&post(body.text().as_bytes(), Some("application/json")))?;
    check_errors(&response, body)
}

fn check_errors(response: &Response, body: &Body) -> Result<(), Failure> {
    let expected = model::expected(&body.value());
    let document =
        problem::problem(response, 422, VALIDATION, WHY_422).map_err(|mut failure| {
            for error in &expected {
                failure = failure.detail(format!(
                    "the contract requires {:?} {} · {}",
                    error.pointer,
                    error.code,
                    model::rule_of(&error.pointer, &error.code)
                ));
            }
            failure.detail(sent(body))
        })?;
    let got = problem::field_errors(&document).map_err(|failure| failure.detail(sent(body)))?;
    match problem::compare(&expected, &got) {
        None => Ok(()),
        Some(mismatch) => {
            Err(problem::explain(&mismatch, &expected, &got, model::rule_of).detail(sent(body)))
        }
    }
}

/// The parts of the envelope: bodies that are not objects, not JSON, or not declared as JSON.
fn envelope(server: &mut Server, conn: &mut Connection) -> Result<(), Failure> {
    for raw in [
        "[]",
        "\"ada@example.com\"",
        "null",
        "42",
        "[{\"email\":\"ada@example.com\"}]",
    ] {
        expect_errors(conn, &Body::raw(raw))?;
    }
    for raw in [
        &b"{\"email\": \"ada@example.com\","[..],
        b"{'email': 'ada@example.com'}",
        b"{\"name\": \"Zo\xeb\"}",
        b"",
    ] {
        let response = conn.request(&post(raw, Some("application/json")))?;
        problem::problem(
            &response,
            400,
            MALFORMED,
            "a body that does not parse as JSON gets 400 Bad Request (the provided handler does this: \
             keep it)",
        )?;
    }
    let valid = cases::valid_body(&mut Rng::new(7), 2);
    for media in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let response = conn.request(&post(valid.text().as_bytes(), media))?;
        if response.status != 415 {
            return Err(Failure::new(
                "a body not declared as application/json gets 415 Unsupported Media Type (the provided \
                 handler does this: keep it)",
            )
            .expected("415")
            .got(glimpse(&response)));
        }
    }
    let response = conn.request(&post(
        valid.text().as_bytes(),
        Some("Application/JSON; charset=UTF-8"),
    ))?;
    check_created(&response, &valid)?;
    let response = server.http(&Request::get("/signup"))?;
    if response.status != 405 || response.header("allow") != Some("POST") {
        return Err(Failure::new(
            "GET /signup is 405 Method Not Allowed with Allow: POST (the provided handler does this: keep it)",
        )
        .expected("405 with Allow: POST")
        .got(glimpse(&response)));
    }
    Ok(())
}

/// An HTTP client for the grader: no proxies, no pooled connections.
fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new(format!("the grader could not build its HTTP client: {e}")))
}

async fn with_reqwest(server: &Server, valid: &Body, invalid: &Body) -> Result<(), Failure> {
    let client = http_client()?;
    for body in [valid, invalid] {
        let result = client
            .post(server.url("/signup"))
            .header("content-type", "application/json")
            .body(body.text())
            .send()
            .await;
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                return Err(Failure::new(format!(
                    "reqwest, a real HTTP client, could not talk to the server: {e}"
                ))
                .detail(sent(body)));
            }
        };
        let status = reply.status().as_u16();
        let headers: Vec<(String, String)> = reply
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| Failure::new(format!("reqwest could not read the body: {e}")))?;
        let response = Response {
            version: "HTTP/1.1".to_string(),
            status,
            reason: String::new(),
            headers,
            body: bytes.to_vec(),
        };
        server.record(
            &format!("(reqwest) POST /signup {}", body.text()),
            &response.summary(),
        );
        if std::ptr::eq(body, valid) {
            check_created(&response, body)?;
        } else {
            check_errors(&response, body)?;
        }
    }
    Ok(())
}

/// One valid request sent a few bytes at a time, then three requests in a single write.
fn torn_and_pipelined(
    server: &mut Server,
    rng: &mut Rng,
    faults: &[cases::Fault],
) -> Result<(), Failure> {
    let body = cases::valid_body(rng, 3);
    let bytes = post(body.text().as_bytes(), Some("application/json")).to_bytes();
    let mut stream = server.connect()?;
    let sizes: Vec<usize> = (0..8).map(|_| rng.range(1, 7) as usize).collect();
    server.record(
        &format!("(in pieces of {sizes:?} bytes) {}", http::printable(&bytes)),
        "",
    );
    http::write_in_pieces(&mut stream, &bytes, &sizes)
        .map_err(|e| Failure::new(format!("could not send the torn request: {e}")))?;
    let response = server.read_response(&mut stream, false)?;
    check_created(&response, &body)?;

    let bodies = [
        cases::mixed_body(rng, faults, 2),
        cases::valid_body(rng, 4),
        cases::mixed_body(rng, faults, 3),
    ];
    let mut wire = Vec::new();
    for body in &bodies {
        wire.extend(post(body.text().as_bytes(), Some("application/json")).to_bytes());
    }
    let mut stream = server.connect()?;
    server.record(
        &format!("(three requests in one write) {}", http::printable(&wire)),
        "",
    );
    std::io::Write::write_all(&mut stream, &wire)
        .map_err(|e| Failure::new(format!("could not send the pipelined requests: {e}")))?;
    let mut reader = BufReader::new(stream);
    for (index, body) in bodies.iter().enumerate() {
        let response = http::read_response_from(&mut reader, false).map_err(|e| {
            Failure::new(format!(
                "three requests sent in one write get three responses, in order: response {} did not \
                 come back ({e})",
                index + 1
            ))
        })?;
        server.record(
            &format!("(pipelined request {})", index + 1),
            &response.summary(),
        );
        if index == 1 {
            check_created(&response, body)?;
        } else {
            check_errors(&response, body)?;
        }
    }
    Ok(())
}
