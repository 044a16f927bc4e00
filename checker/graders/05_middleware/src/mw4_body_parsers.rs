//! Grader of `mw4_body_parsers`: percent-decoding of paths, queries and forms, JSON, multipart uploads with
//! binary files, and the 400 / 413 / 415 refusals.
//!
//! Every input is generated from the values it must decode to ([`inputs`]), so the expected echo is known
//! without parsing anything: decoded path and query pairs, fields in order, and for each file its name,
//! type, size and SHA-256. Each request carries the rule it tests, which is what a failure reports, with
//! the first field of the echo that differs.

mod compare;
mod inputs;
mod multipart;

use std::io::Write;

use backlings_grade::http::{self, Request};
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::{Value, json};

use crate::support::{self, KeepAlive};
use compare::compare;
use inputs::{Framing, PartSpec};
use multipart::{malformed_multipart, seeded_parts, tricky_multipart, upload, uploads};

/// The `--max-body` the program is started with.
const MAX_BODY: usize = 16 * 1024;
/// Requests in the seeded random mix.
const RANDOM_REQUESTS: usize = 80;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    let mut rng = s.rng.fork(1);
    g.scenario("percent-decoding: `+` is a space in queries and forms, a plus in paths");
    s.check(&decoding(&mut rng))?;
    g.scenario("a broken escape, or decoded bytes that are not UTF-8, is a 400");
    s.check(&broken_escapes(&mut rng))?;
    g.scenario("JSON and URL-encoded bodies");
    s.check(&json_and_forms(&mut rng))?;
    g.scenario("multipart: text fields and binary files, to the exact byte");
    s.check(&uploads(&mut rng, 10, false))?;
    g.scenario("multipart: tricky boundaries, the boundary inside content, content ending in CRLF");
    s.check(&tricky_multipart(&mut rng))?;
    g.scenario("a malformed multipart body is a 400");
    s.check(&malformed_multipart(&mut rng))?;
    g.scenario(
        "415 for a Content-Type the parser does not handle; 413 over the limit, checked first",
    );
    s.check(&limits_and_types(&mut rng))?;
    g.scenario("an upload split across many small TCP writes, and several requests in one write");
    split_and_pipelined(&mut s, &mut rng)?;
    g.scenario(&format!("{RANDOM_REQUESTS} seeded requests of every kind"));
    s.check(&random_mix(&mut rng))
}

/// One request, what must come back, and the rule it tests.
#[derive(Debug, Clone)]
struct Probe {
    request: Request,
    /// `Ok(echo)` for a 200, `Err(status)` for a refusal.
    expected: Result<Value, u16>,
    rule: String,
}

impl Probe {
    fn get(target: &str, path: &str, query: &[(String, String)], rule: &str) -> Self {
        Probe {
            request: Request::get(target),
            expected: Ok(echo(path, query, "none", Value::Null, &[], &[])),
            rule: rule.to_string(),
        }
    }

    fn refused(request: Request, status: u16, rule: &str) -> Self {
        Probe {
            request,
            expected: Err(status),
            rule: rule.to_string(),
        }
    }
}

fn post(target: &str, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Request {
    let request = Request::post(target, body);
    match content_type {
        Some(content_type) => request.header("Content-Type", content_type),
        None => request,
    }
}

/// The echo the provided handler builds.
fn echo(
    path: &str,
    query: &[(String, String)],
    kind: &str,
    json: Value,
    fields: &[(String, String)],
    files: &[Value],
) -> Value {
    json!({
        "path": path,
        "query": query,
        "kind": kind,
        "json": json,
        "fields": fields,
        "files": files,
    })
}

fn decoding(rng: &mut Rng) -> Vec<Probe> {
    let mut probes = vec![Probe::get(
        "/files/c++%20v2?q=a+b%20c&x&&y=%2B",
        "/files/c++ v2",
        &[pair("q", "a b c"), pair("x", ""), pair("y", "+")],
        "`+` is a plain plus in a path and a space in a query; `%20` is a space in both; `%2B` is a plus",
    )];
    for _ in 0..12 {
        let segments: Vec<String> = (0..rng.range(1, 3))
            .map(|_| {
                format!(
                    "{}{}",
                    rng.word(2),
                    inputs::tricky_text(rng).replace(['/', '?', '%'], "")
                )
            })
            .collect();
        let encoded: Vec<String> = segments
            .iter()
            .map(|s| inputs::encode_path_segment(rng, s))
            .collect();
        let path = format!("/{}", segments.join("/"));
        let count = rng.range(0, 4) as usize;
        let (query, encoded_query) = inputs::form(rng, count);
        let target = format!("/{}?{encoded_query}", encoded.join("/"));
        probes.push(Probe::get(
            &target,
            &path,
            &query,
            "the path is percent-decoded with `+` kept as a plus; the query's pairs are decoded with `+` as a \
             space, in order, a pair without `=` having the value \"\" and empty pairs skipped",
        ));
    }
    probes
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn broken_escapes(rng: &mut Rng) -> Vec<Probe> {
    let word = rng.word(4);
    let invalid = "an invalid percent-escape (`%` not followed by two hex digits) makes the request malformed: 400, \
                   not text passed through";
    let not_utf8 =
        "decoded bytes that are not UTF-8 make the request malformed: 400, not a lossy `\u{fffd}`";
    vec![
        Probe::refused(Request::get(&format!("/{word}%zz")), 400, invalid),
        Probe::refused(Request::get(&format!("/{word}?q=%4")), 400, invalid),
        Probe::refused(Request::get(&format!("/{word}?q=100%")), 400, invalid),
        Probe::refused(
            post(
                "/form",
                Some("application/x-www-form-urlencoded"),
                format!("a=%g1&{word}=1"),
            ),
            400,
            invalid,
        ),
        Probe::refused(Request::get(&format!("/{word}/%FF")), 400, not_utf8),
        Probe::refused(Request::get(&format!("/{word}?name=%C3%28")), 400, not_utf8),
        Probe::refused(
            post(
                "/form",
                Some("application/x-www-form-urlencoded"),
                format!("{word}=%E2%82"),
            ),
            400,
            not_utf8,
        ),
        Probe::get(
            &format!("/{word}?ok=%C3%A9%E2%82%AC"),
            &format!("/{word}"),
            &[pair("ok", "é€")],
            "escapes of a multi-byte UTF-8 character decode to that character",
        ),
    ]
}

fn json_and_forms(rng: &mut Rng) -> Vec<Probe> {
    let mut probes = Vec::new();
    for index in 0..6 {
        let value = json!({
            "name": inputs::tricky_text(rng),
            "n": rng.range(0, 1_000_000),
            "tags": [rng.word(3), inputs::tricky_text(rng)],
            "nested": {"ok": rng.chance(1, 2), "none": null},
        });
        let content_type = *rng.pick(&[
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ]);
        probes.push(Probe {
            request: post(&format!("/json/{index}"), Some(content_type), value.to_string()),
            expected: Ok(echo(&format!("/json/{index}"), &[], "json", value, &[], &[])),
            rule: "an application/json body (media types are case-insensitive, parameters allowed) is parsed as \
                   JSON"
                .to_string(),
        });
    }
    probes.push(Probe::refused(
        post("/json", Some("application/json"), "{\"a\": 1,}"),
        400,
        "invalid JSON is a 400",
    ));
    for index in 0..6 {
        let count = rng.range(0, 6) as usize;
        let (fields, body) = inputs::form(rng, count);
        probes.push(Probe {
            request: post(&format!("/form/{index}"), Some("application/x-www-form-urlencoded"), body),
            expected: Ok(echo(&format!("/form/{index}"), &[], "form", Value::Null, &fields, &[])),
            rule: "a form body is decoded like a query string: `+` is a space, pairs in order, empty pairs skipped"
                .to_string(),
        });
    }
    probes
}

fn limits_and_types(rng: &mut Rng) -> Vec<Probe> {
    let at_limit = json!({ "pad": "x".repeat(MAX_BODY - 10) }).to_string();
    assert_eq!(at_limit.len(), MAX_BODY, "the grader's own padding");
    let over = format!("{at_limit} ");
    let boundary = inputs::boundary(rng);
    let big_file = PartSpec::file("big", "big.bin", None, vec![b'x'; MAX_BODY]);
    let big_upload = inputs::multipart(rng, &boundary, &[big_file], &Framing::default());
    let too_large = format!(
        "a body longer than --max-body ({MAX_BODY} bytes) is a 413, checked before anything else"
    );
    vec![
        Probe {
            request: post("/exact", Some("application/json"), at_limit.clone()),
            expected: Ok(echo(
                "/exact",
                &[],
                "json",
                serde_json::from_str(&at_limit).unwrap_or_default(),
                &[],
                &[],
            )),
            rule: format!("a body of exactly --max-body ({MAX_BODY}) bytes is within the limit"),
        },
        Probe::refused(
            post("/big", Some("application/json"), over),
            413,
            &too_large,
        ),
        Probe::refused(
            post("/big", Some("application/xml"), vec![b'<'; MAX_BODY + 1]),
            413,
            &too_large,
        ),
        Probe::refused(
            post(
                "/big",
                Some(&inputs::content_type(rng, &boundary)),
                big_upload,
            ),
            413,
            &too_large,
        ),
        Probe::refused(
            post("/t", Some("text/plain"), "hello"),
            415,
            "a Content-Type the parser does not handle is a 415 (Unsupported Media Type), not a 400",
        ),
        Probe::refused(
            post("/t", Some("application/xml"), "<a/>"),
            415,
            "a Content-Type the parser does not handle is a 415 (Unsupported Media Type), not a 400",
        ),
        Probe::refused(
            post("/t", Some("multipart/mixed; boundary=x"), "--x--"),
            415,
            "only multipart/form-data is a form upload: another multipart type is a 415",
        ),
        Probe::refused(
            post("/t", None, "a=1"),
            415,
            "a body without a Content-Type is a 415",
        ),
        Probe {
            request: Request::new("DELETE", "/nobody"),
            expected: Ok(echo("/nobody", &[], "none", Value::Null, &[], &[])),
            rule: "a request with no body and no Content-Type has kind `none`".to_string(),
        },
    ]
}

fn split_and_pipelined(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let boundary = inputs::boundary(rng);
    let parts = seeded_parts(rng, &boundary, 3000, true);
    let probe = upload(
        rng,
        "/split",
        &boundary,
        &parts,
        &Framing::default(),
        "a request split across many small TCP writes is the same request: the server reads until it has it all",
    );
    let mut stream = s.server.connect()?;
    let bytes = probe.request.to_bytes();
    s.server.record(
        &http::printable(&bytes[..bytes.len().min(300)]),
        "(sent in pieces of 1 to 97 bytes)",
    );
    http::write_in_pieces(
        &mut stream,
        &bytes,
        &[1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 97],
    )
    .map_err(|e| Failure::new(format!("could not send the request in pieces: {e}")))?;
    let response = s.server.read_response(&mut stream, false)?;
    compare(&probe, &response)?;
    // Three requests in one write, answered in order on the same connection.
    let batch: Vec<Probe> = uploads(rng, 3, false);
    let mut bytes = Vec::new();
    for probe in &batch {
        bytes.extend_from_slice(&probe.request.to_bytes());
    }
    let mut stream = s.server.connect()?;
    stream
        .write_all(&bytes)
        .map_err(|e| Failure::new(format!("could not send the pipelined requests: {e}")))?;
    let mut reader = std::io::BufReader::new(stream);
    for probe in &batch {
        let response = http::read_response_from(&mut reader, false).map_err(|e| {
            Failure::new(format!(
                "three requests sent in one write must get three responses, in order: {e}"
            ))
        })?;
        support::record(&s.server, &probe.request, &response);
        compare(probe, &response)?;
    }
    Ok(())
}

fn random_mix(rng: &mut Rng) -> Vec<Probe> {
    let mut probes = Vec::new();
    while probes.len() < RANDOM_REQUESTS {
        let batch = match rng.below(7) {
            0 => decoding(rng),
            1 => broken_escapes(rng),
            2 => json_and_forms(rng),
            3 | 4 => uploads(rng, 2, true),
            5 => tricky_multipart(rng),
            _ => malformed_multipart(rng),
        };
        let pick = rng.below(batch.len() as u64) as usize;
        probes.push(batch[pick].clone());
    }
    probes
}

/// One running program.
struct Session {
    server: Server,
    connection: KeepAlive,
    rng: Rng,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        let max = MAX_BODY.to_string();
        let mut server = g.server_with(&["--max-body", &max], &[])?;
        let connection = KeepAlive::open(&mut server)?;
        let rng = g.rng().fork(4);
        Ok(Session {
            server,
            connection,
            rng,
        })
    }

    fn check(&mut self, probes: &[Probe]) -> Result<(), Failure> {
        let requests: Vec<Request> = probes.iter().map(|p| p.request.clone()).collect();
        support::send_checked(
            &mut self.connection,
            &mut self.server,
            &requests,
            |index, response| compare(&probes[index], response),
        )?;
        Ok(())
    }
}
