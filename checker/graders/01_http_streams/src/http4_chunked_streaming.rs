//! Grader of `http4_chunked_streaming`: chunked uploads decoded and hashed, a CSV export streamed as chunks with
//! a checksum trailer, both in constant memory.
//!
//! Raw sockets send what a polished client never would: odd chunk sizes in both hex cases with extensions and
//! trailers, requests torn into tiny writes or packed several to one write, both framings at once (request
//! smuggling), malformed chunks, a chunk announcing 281 TB. Responses are read strictly, chunk by chunk, so the
//! export's framing (chunk sizes, trailer, the end of the body) is checked byte for byte. reqwest then checks a
//! real client is happy. Last, 16 MiB go up and 16 MiB come down while the grader watches the server's peak
//! memory (`VmHWM`), measured before and after in the same run.

mod model;

use std::time::Duration;

use backlings_grade::http::printable;
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::wire::{Broken, Conn, End, Framing, Wire, chunk_sizes, preview, sha256_hex};
use model::{
    Bulk, CHECKSUM, CSV_HEADER, CsvStream, MAX_CHUNK, MIN_CHUNK, Spelling, chunk_plan, chunked,
    chunked_post, csv, export_request, peak_kib, post, trailers, upload_answer,
};

/// How long one small answer may take; a correct server answers in milliseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// How long the server may go quiet in the middle of a big transfer.
const BIG_WITHIN: Duration = Duration::from_secs(20);
/// How long the grader waits for the server to close a connection it must close.
const CLOSE_WITHIN: Duration = Duration::from_secs(2);
/// How much the server's peak memory may grow during a big transfer: a streaming server needs a few hundred KiB.
const GROWTH_LIMIT_KIB: u64 = 8 * 1024;
const JSON: &str = "application/json";
const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let big = g.param_u64("big_mib", 16).max(4);
    let mut server = g.server()?;

    g.scenario(
        "chunked uploads with odd hex chunk sizes, extensions and trailers are decoded exactly",
    );
    uploads(&mut server, g.rng())?;
    g.scenario("an upload split across many small TCP writes is decoded whole");
    split_writes(&mut server, g.rng())?;
    g.scenario(
        "several requests in one write: each chunked body ends exactly where its framing says",
    );
    pipelined(&mut server, g.rng())?;
    g.scenario(
        "an X-Content-SHA256 trailer is checked: a matching one is accepted, another one gets 422",
    );
    checksums(&mut server, g.rng())?;
    g.scenario(
        "two framings at once, or a bad Content-Length, get 400 and the connection is closed",
    );
    framings(&mut server, g.rng())?;
    g.scenario("malformed chunked bodies get 400 and the connection is closed");
    malformed(&mut server, g.rng())?;
    g.scenario("a chunk announcing 281 TB is streamed, never allocated");
    enormous_chunk(&mut server, g.rng())?;
    g.scenario(
        "GET /export streams the CSV in chunks of 1 to 64 KiB with an X-Content-SHA256 trailer",
    );
    exports(&mut server, g.rng())?;
    g.scenario("an HTTP/1.0 client gets the export without chunked framing, ended by closing the connection");
    http10_export(&mut server, g.rng())?;
    g.scenario("a real HTTP client (reqwest) uploads and exports");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("the grader could not start its HTTP client: {e}")))?;
    runtime.block_on(with_reqwest(&mut server, g.rng()))?;
    g.scenario(&format!(
        "a {big} MiB chunked upload is hashed in constant memory"
    ));
    let mut conn = Conn::open(&mut server, BIG_WITHIN)?;
    big_upload(&mut server, &mut conn, g.rng(), big << 20)?;
    g.scenario(&format!(
        "a {big} MiB export is streamed in constant memory"
    ));
    big_export(&mut server, &mut conn, g.rng(), big << 20)?;
    server.ensure_alive()
}

// ----- checks shared by the scenarios ---------------------------------------------------------------------------

/// Records one exchange in the transcript.
fn record(server: &Server, sent: &[u8], got: &Result<Wire, Broken>) {
    record_as(server, &preview(sent, sent.len() as u64), got);
}

/// Records one exchange whose request is shown as `sent` (a description of a request too big to show).
fn record_as(server: &Server, sent: &str, got: &Result<Wire, Broken>) {
    let got = match got {
        Ok(wire) => wire.summary(),
        Err(broken) => format!("<{}>", broken.describe()),
    };
    server.record(sent, &got);
}

/// A broken read as a failure: a crash if the server died, otherwise what arrived.
fn broken_failure(server: &mut Server, broken: &Broken, rule: &str, expected: &str) -> Failure {
    if let Err(dead) = server.ensure_alive_after_a_moment() {
        return dead.detail(format!("while: {rule}"));
    }
    Failure::new(rule).expected(expected).got(broken.describe())
}

fn describe_upload(status: u16, answer: &Value) -> String {
    format!("HTTP/1.1 {status} · Content-Type: {JSON} · body {answer}")
}

/// Checks an `/upload` answer: status, JSON content type and the exact JSON.
fn check_upload(
    server: &mut Server,
    got: Result<Wire, Broken>,
    status: u16,
    answer: &Value,
    rule: &str,
) -> Result<(), Failure> {
    let expected = describe_upload(status, answer);
    let wire = got.map_err(|broken| broken_failure(server, &broken, rule, &expected))?;
    let fail = || Failure::new(rule).expected(&expected).got(wire.summary());
    if wire.status != status {
        let failure = fail();
        return Err(match wire.status {
            400 if status == 200 => failure.detail(
                "a 400 for a well-formed body usually means the chunk framing was misread: sizes are hex, the \
                 data of each chunk is followed by \\r\\n, and the body ends after the trailers' empty line",
            ),
            _ => failure,
        });
    }
    if wire.header("content-type") != Some(JSON) {
        return Err(fail().detail(format!("Content-Type must be `{JSON}`")));
    }
    let got_json: Value = serde_json::from_slice(&wire.kept)
        .map_err(|e| fail().detail(format!("the body is not JSON: {e}")))?;
    if &got_json == answer {
        return Ok(());
    }
    let mut failure = fail();
    if got_json.get("bytes") != answer.get("bytes") {
        failure = failure.detail(format!(
            "`bytes` must count the body's data bytes only (not the chunk framing): {}",
            answer["bytes"]
        ));
    } else if got_json.get("sha256") != answer.get("sha256") {
        failure = failure.detail(
            "the byte count is right but the digest is not: some data bytes were changed, dropped or reordered, \
             or the digest is not lowercase hex",
        );
    } else if got_json.get("trailers") != answer.get("trailers") {
        failure = failure.detail(
            "the trailers differ: after the zero-size chunk come `name: value` lines up to an empty line; report \
             them all, names as sent, values trimmed, in order",
        );
    }
    Err(failure)
}

/// Checks a refusal: the status, then the server closing the connection.
fn check_refused(
    server: &mut Server,
    conn: &mut Conn,
    sent: &[u8],
    status: u16,
    rule: &str,
) -> Result<(), Failure> {
    let got = conn.read_whole();
    record(server, sent, &got);
    let expected = format!("HTTP/1.1 {status} … · then the server closes the connection");
    let wire = got.map_err(|broken| broken_failure(server, &broken, rule, &expected))?;
    if wire.status != status {
        return Err(Failure::new(rule).expected(&expected).got(wire.summary()));
    }
    match conn.read_end(CLOSE_WITHIN) {
        End::Closed | End::Reset => Ok(()),
        End::Open => Err(Failure::new(rule).expected(&expected).got(format!(
            "{} · then the connection stayed open",
            wire.summary()
        ))
        .detail(
            "after a framing error the rest of the bytes cannot be trusted (where would the next request start?): \
             answer, then close the connection",
        )),
        End::More(bytes) => Err(Failure::new(rule).expected(&expected).got(format!(
            "{} · then more bytes: \"{}\"",
            wire.summary(),
            preview(&bytes, bytes.len() as u64)
        ))),
    }
}

/// Sends `bytes` on a new connection and reads one whole response.
fn ask(server: &mut Server, bytes: &[u8]) -> Result<(Conn, Result<Wire, Broken>), Failure> {
    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    let _ = conn.send(bytes);
    let got = conn.read_whole();
    record(server, bytes, &got);
    Ok((conn, got))
}

/// A seeded body of readable words (a report about it is easier to read than random bytes).
fn words(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut text = String::new();
    while text.len() < len {
        let word_len = rng.range(1, 9) as usize;
        text.push_str(&rng.word(word_len));
        text.push(if rng.chance(1, 8) { '\n' } else { ' ' });
    }
    text.truncate(len);
    text.into_bytes()
}

/// A seeded chunked upload: body, wire bytes, the plan and the trailers.
struct Upload {
    body: Vec<u8>,
    request: Vec<u8>,
    sizes: Vec<usize>,
    trailers: Vec<(String, String)>,
}

fn seeded_upload(rng: &mut Rng, len: usize, trailer_count: usize, binary: bool) -> Upload {
    let body = if binary {
        rng.bytes(len)
    } else {
        words(rng, len)
    };
    let sizes = chunk_plan(rng, len, 700);
    let trailers = trailers(rng, trailer_count);
    let spelling = Spelling::seeded(rng);
    let request = chunked_post(&chunked(rng, &body, &sizes, spelling, &trailers));
    Upload {
        body,
        request,
        sizes,
        trailers,
    }
}

fn upload_rule(upload: &Upload) -> String {
    format!(
        "a chunked upload of {} bytes in hexadecimal chunk sizes {} with {} trailer(s) answers 200 with its byte \
         count, SHA-256 and trailers",
        upload.body.len(),
        chunk_sizes(&upload.sizes.iter().map(|&s| s as u64).collect::<Vec<_>>()),
        upload.trailers.len()
    )
}

// ----- the scenarios ----------------------------------------------------------------------------------------------

fn uploads(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    for index in 0..5 {
        let len = rng.range(300, 3000) as usize;
        // The first upload always has trailers, so no seed lets a decoder that ignores them through.
        let count = if index == 0 {
            rng.range(1, 3)
        } else {
            rng.below(3)
        } as usize;
        let upload = seeded_upload(rng, len, count, index % 2 == 1);
        let (_, got) = ask(server, &upload.request)?;
        let answer = upload_answer(&upload.body, &upload.trailers);
        check_upload(server, got, 200, &answer, &upload_rule(&upload))?;
    }

    let empty = chunked_post(b"0\r\n\r\n");
    let (_, got) = ask(server, &empty)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(b"", &[]),
        "an empty chunked body (just the zero-size chunk and the empty line) is an upload of 0 bytes",
    )?;

    let len = rng.range(1, 2000) as usize;
    let body = rng.bytes(len);
    let request = post(&[("Content-Length", len.to_string())], &body);
    let (_, got) = ask(server, &request)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(&body, &[]),
        &format!(
            "a Content-Length upload of {len} bytes answers 200 with its byte count and SHA-256, no trailers"
        ),
    )
}

fn split_writes(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let len = rng.range(200, 500) as usize;
    let count = rng.range(1, 2) as usize;
    let upload = seeded_upload(rng, len, count, false);
    let pieces: Vec<usize> = (0..8).map(|_| rng.range(1, 9) as usize).collect();
    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    let _ = conn.send_in_pieces(&upload.request, &pieces);
    let got = conn.read_whole();
    record(server, &upload.request, &got);
    let rule = format!(
        "{} (sent in pieces of {pieces:?}… bytes: a chunk-size line, a chunk or the final CRLF may be cut \
         anywhere, keep reading)",
        upload_rule(&upload)
    );
    check_upload(
        server,
        got,
        200,
        &upload_answer(&upload.body, &upload.trailers),
        &rule,
    )
}

fn pipelined(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let len = rng_len(rng);
    let first = seeded_upload(rng, len, 2, false);
    let rows = rng.range(2, 30);
    let second_len = rng.range(10, 300) as usize;
    let second_body = words(rng, second_len);
    let second = post(&[("Content-Length", second_len.to_string())], &second_body);
    let len = rng_len(rng);
    let third = seeded_upload(rng, len, 0, true);
    let mut bytes = first.request.clone();
    bytes.extend(export_request(rows, "HTTP/1.1", false));
    bytes.extend(&second);
    bytes.extend(&third.request);

    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    let _ = conn.send(&bytes);
    let rule = |what: &str| {
        format!(
            "4 requests arrive in one write on one connection; each body must be consumed exactly (its last \
             chunk, its trailers and the final empty line, not one byte more), so the next request starts where it \
             should: {what}"
        )
    };
    let got = conn.read_whole();
    record(server, &first.request, &got);
    check_upload(
        server,
        got,
        200,
        &upload_answer(&first.body, &first.trailers),
        &rule("1st, a chunked upload with 2 trailers"),
    )?;
    let sent = export_request(rows, "HTTP/1.1", false);
    let got = conn.read_whole();
    record(server, &sent, &got);
    check_export(
        server,
        got,
        rows,
        &rule(&format!("2nd, GET /export?rows={rows}")),
    )?;
    let got = conn.read_whole();
    record(server, &second, &got);
    check_upload(
        server,
        got,
        200,
        &upload_answer(&second_body, &[]),
        &rule("3rd, a Content-Length upload"),
    )?;
    let got = conn.read_whole();
    record(server, &third.request, &got);
    check_upload(
        server,
        got,
        200,
        &upload_answer(&third.body, &[]),
        &rule("4th, a chunked upload without trailers"),
    )?;

    // One more on the same connection, later and in two writes: the connection is still in step.
    let len = rng_len(rng);
    let fourth = seeded_upload(rng, len, 1, false);
    let cut = rng.range(1, fourth.request.len() as u64 - 1) as usize;
    let _ = conn.send(&fourth.request[..cut]);
    std::thread::sleep(Duration::from_millis(20));
    let _ = conn.send(&fourth.request[cut..]);
    let got = conn.read_whole();
    record(server, &fourth.request, &got);
    check_upload(
        server,
        got,
        200,
        &upload_answer(&fourth.body, &fourth.trailers),
        &rule("then a 5th upload on the same connection, in two writes"),
    )
}

fn rng_len(rng: &mut Rng) -> usize {
    rng.range(40, 900) as usize
}

fn checksums(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let len = rng.range(100, 2000) as usize;
    let body = rng.bytes(len);
    let sizes = chunk_plan(rng, len, 500);
    let digest = sha256_hex(&body);
    let name = *rng.pick(&[
        "X-Content-SHA256",
        "x-content-sha256",
        "X-CONTENT-SHA256",
        "x-Content-Sha256",
    ]);

    let good = vec![(name.to_string(), digest.to_uppercase())];
    let spelling = Spelling::seeded(rng);
    let request = chunked_post(&chunked(rng, &body, &sizes, spelling, &good));
    let (_, got) = ask(server, &request)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(&body, &good),
        &format!(
            "a trailer `{name}` holding the body's SHA-256 (in uppercase hex: digests compare ignoring case) \
             confirms the upload: 200"
        ),
    )?;

    let mut wrong = digest.clone().into_bytes();
    let at = rng.below(64) as usize;
    wrong[at] = if wrong[at] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap_or_default();
    let bad = vec![
        ("X-Note".to_string(), rng.word(5)),
        (name.to_string(), wrong),
    ];
    let spelling = Spelling::seeded(rng);
    let request = chunked_post(&chunked(rng, &body, &sizes, spelling, &bad));
    let (_, got) = ask(server, &request)?;
    check_upload(
        server,
        got,
        422,
        &upload_answer(&body, &bad),
        &format!(
            "a trailer `{name}` whose digest differs from the body's SHA-256 (one hex digit changed) means the \
             upload arrived damaged: 422 with the same JSON"
        ),
    )
}

fn framings(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    const SMUGGLING: &str = "both Content-Length and Transfer-Encoding frame this body: two framings for one \
                             body is how request smuggling starts (RFC 9112 §6.3), so refuse it with 400 and \
                             close the connection";
    let word = rng.word(5);
    let hidden = format!("GET /export?rows=1 HTTP/1.1\r\nHost: {word}\r\n\r\n");
    let smuggled = format!("0\r\n\r\n{hidden}");
    let cases: Vec<(Vec<u8>, u16, String)> = vec![
        (
            post(
                &[
                    ("Content-Length", smuggled.len().to_string()),
                    ("Transfer-Encoding", "chunked".to_string()),
                ],
                smuggled.as_bytes(),
            ),
            400,
            SMUGGLING.to_string(),
        ),
        (
            post(
                &[
                    ("Transfer-Encoding", "chunked".to_string()),
                    ("Content-Length", "3".to_string()),
                ],
                format!("3\r\n{}\r\n0\r\n\r\n", rng.word(3)).as_bytes(),
            ),
            400,
            SMUGGLING.to_string(),
        ),
        (
            post(
                &[
                    ("transfer-encoding", "Chunked".to_string()),
                    ("content-length", "0".to_string()),
                ],
                b"0\r\n\r\n",
            ),
            400,
            SMUGGLING.to_string(),
        ),
    ];
    let mut cases = cases;
    let body = rng.word(5);
    for bad in ["-1", "+5", "five", "0x5", "5 5", "99999999999999999999999"] {
        cases.push((
            post(&[("Content-Length", bad.to_string())], body.as_bytes()),
            400,
            format!(
                "Content-Length: {bad} is not a length (plain digits that fit in 64 bits): 400, and the connection \
                 closed"
            ),
        ));
    }
    cases.push((
        post(
            &[
                ("Content-Length", "5".to_string()),
                ("Content-Length", "6".to_string()),
            ],
            format!("{body}!").as_bytes(),
        ),
        400,
        "two Content-Length headers that disagree (5 and 6) leave the body's end unknown, another way to smuggle \
         a request: 400, and the connection closed"
            .to_string(),
    ));
    let codings: [(&[&str], u16, &str); 4] = [
        (
            &["gzip, chunked"],
            501,
            "`Transfer-Encoding: gzip, chunked` applies a transfer coding this server does not implement: 501 Not \
             Implemented, and the connection closed",
        ),
        (
            &["chunked, gzip"],
            400,
            "`Transfer-Encoding: chunked, gzip` does not end in chunked, so the body's end is unknown: 400, and \
             the connection closed (every transfer coding list must end in chunked)",
        ),
        (
            &["identity"],
            400,
            "`Transfer-Encoding: identity` does not end in chunked, so the body's end is unknown: 400, and the \
             connection closed (every transfer coding list must end in chunked)",
        ),
        (
            &["chunked", "chunked"],
            400,
            "two `Transfer-Encoding: chunked` headers make the coding list `chunked, chunked`: chunked may be \
             applied once only, so this transfer coding is refused with 400, and the connection closed",
        ),
    ];
    for (values, status, rule) in codings {
        let headers: Vec<(&str, String)> = values
            .iter()
            .map(|value| ("Transfer-Encoding", value.to_string()))
            .collect();
        cases.push((
            post(&headers, b"5\r\nhello\r\n0\r\n\r\n"),
            status,
            rule.to_string(),
        ));
    }
    rng.shuffle(&mut cases[3..]);
    for (request, status, rule) in cases {
        let mut conn = Conn::open(server, ANSWER_WITHIN)?;
        let _ = conn.send(&request);
        check_refused(server, &mut conn, &request, status, &rule)?;
    }

    let request = post(
        &[
            ("Content-Length", "5".to_string()),
            ("content-length", "5".to_string()),
        ],
        body.as_bytes(),
    );
    let (_, got) = ask(server, &request)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(body.as_bytes(), &[]),
        "two Content-Length headers that agree (5 and 5) are one length: the upload is served",
    )?;
    let request = post(
        &[("TRANSFER-ENCODING", "Chunked".to_string())],
        b"5\r\nhello\r\n0\r\n\r\n",
    );
    let (_, got) = ask(server, &request)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(b"hello", &[]),
        "header names and transfer codings are case-insensitive: `TRANSFER-ENCODING: Chunked` is chunked",
    )
}

fn malformed(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let data = rng.word(5);
    let good = format!("5\r\n{data}\r\n");
    let long_extension = format!("5;{}\r\n{data}\r\n0\r\n\r\n", "e".repeat(1500));
    let big_trailers: String = (0..3)
        .map(|i| format!("X-Big-{i}: {}\r\n", "t".repeat(3000)))
        .collect();
    let cases: Vec<(String, String)> = vec![
        (format!("{good}z\r\n{data}\r\n0\r\n\r\n"), "a chunk size `z` is not hex".into()),
        (format!("{good}0x5\r\n{data}\r\n0\r\n\r\n"), "a chunk size `0x5` is not hex digits (no 0x prefix)".into()),
        (format!("{good}+5\r\n{data}\r\n0\r\n\r\n"), "a chunk size `+5` is not hex digits (Rust's from_str_radix accepts a sign: check the digits)".into()),
        (format!("{good}\r\n{data}\r\n0\r\n\r\n"), "an empty chunk-size line is not a size".into()),
        (format!("{good}10000000000000000\r\n{data}\r\n0\r\n\r\n"), "the chunk size 0x10000000000000000 does not fit in 64 bits".into()),
        (format!("3\r\n{}XY0\r\n\r\n", &data[..3]), "a chunk's data must be followed by CRLF; here two bytes `XY` come where the CRLF belongs (skipping two bytes without checking them lets a chunk carry more than its size says)".into()),
        (format!("3\r\n{data}\r\n0\r\n\r\n"), "a 3-byte chunk followed by 5 bytes is longer than its size line says".into()),
        (format!("5\n{data}\r\n0\r\n\r\n"), "a chunk-size line ending in a bare LF (every line ends in CRLF)".into()),
        (long_extension, "a chunk-size line of 1502 bytes (an endless extension) is over the 1024-byte limit".into()),
        (format!("{good}0\r\nno colon here\r\n\r\n"), "a trailer line without a colon".into()),
        (format!("{good}0\r\nX-Folded: a\r\n  folded\r\n\r\n"), "a trailer continued on an indented line (obsolete line folding)".into()),
        (format!("{good}0\r\n{big_trailers}\r\n"), "a trailer section of 9 KiB is over the 8 KiB limit".into()),
    ];
    let mut cases = cases;
    rng.shuffle(&mut cases);
    for (body, what) in cases {
        let request = chunked_post(body.as_bytes());
        let mut conn = Conn::open(server, ANSWER_WITHIN)?;
        let _ = conn.send(&request);
        let rule = format!("malformed chunked framing gets 400 and the connection closed: {what}");
        check_refused(server, &mut conn, &request, 400, &rule)?;
    }
    Ok(())
}

fn enormous_chunk(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let data = rng.bytes(1000);
    let mut request = chunked_post(b"ffffffffffff\r\n");
    request.extend(&data);
    let rule = "a chunk-size line announcing 0xffffffffffff bytes (281 TB), followed by 1000 bytes and then the end \
                of the client's stream, must not bring the server down: stream a chunk through a small buffer, \
                never allocate what a size line announces";
    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    let _ = conn.send(&request);
    conn.shutdown_write();
    let end = conn.read_end(ANSWER_WITHIN);
    let got = match &end {
        End::Closed => "the connection closed".to_string(),
        End::Reset => "the connection was reset".to_string(),
        End::Open => "the connection stayed open".to_string(),
        End::More(bytes) => format!("\"{}\"", preview(bytes, bytes.len() as u64)),
    };
    server.record(
        &format!(
            "{} + 1000 bytes, then end of stream",
            printable(&request[..request.len() - 1000])
        ),
        &got,
    );
    server
        .ensure_alive_after_a_moment()
        .map_err(|dead| dead.detail(format!("while: {rule}")))?;

    let upload = seeded_upload(rng, 500, 1, false);
    let (_, got) = ask(server, &upload.request)?;
    check_upload(
        server,
        got,
        200,
        &upload_answer(&upload.body, &upload.trailers),
        &format!(
            "after the 281 TB chunk, the server still serves: {}",
            upload_rule(&upload)
        ),
    )
}

/// Checks one HTTP/1.1 export: headers, chunk sizes, the exact CSV and the checksum trailer.
fn check_export(
    server: &mut Server,
    got: Result<Wire, Broken>,
    rows: u64,
    rule: &str,
) -> Result<(), Failure> {
    let body = csv(rows);
    let digest = sha256_hex(&body);
    let expected = format!(
        "HTTP/1.1 200 OK · Content-Type: {CSV_TYPE} · Transfer-Encoding: chunked · Trailer: {CHECKSUM} · body \
         \"{}\" in chunks of {MIN_CHUNK} to {MAX_CHUNK} bytes · trailer {CHECKSUM}: {digest}",
        preview(&body, body.len() as u64)
    );
    let wire = got.map_err(|broken| broken_failure(server, &broken, rule, &expected))?;
    let fail = || Failure::new(rule).expected(&expected).got(wire.summary());
    if wire.status != 200 {
        return Err(fail());
    }
    if wire.header("content-type") != Some(CSV_TYPE) {
        return Err(fail().detail(format!("Content-Type must be `{CSV_TYPE}`")));
    }
    let Framing::Chunked { sizes, trailers } = &wire.framing else {
        return Err(fail().detail(
            "an HTTP/1.1 export is sent with `Transfer-Encoding: chunked`: its size is not known before the last \
             row is written",
        ));
    };
    check_announced(&wire).map_err(|why| fail().detail(why))?;
    if wire.kept != body {
        let at = wire.kept.iter().zip(&body).position(|(a, b)| a != b);
        let why = match at {
            Some(at) => format!("the body differs from byte {at} on"),
            None => format!(
                "the body has {} bytes, the export of {rows} rows has {}",
                wire.kept.len(),
                body.len()
            ),
        };
        return Err(fail().detail(format!(
            "{why}: the body is {CSV_HEADER:?} then row(0) … row({}) in order",
            rows.saturating_sub(1)
        )));
    }
    check_chunk_sizes(sizes).map_err(|why| fail().detail(why))?;
    check_trailer(trailers, &digest).map_err(|why| fail().detail(why))
}

fn check_announced(wire: &Wire) -> Result<(), String> {
    let announced = wire.headers_named("trailer").iter().any(|value| {
        value
            .split(',')
            .any(|name| name.trim().eq_ignore_ascii_case(CHECKSUM))
    });
    if announced {
        Ok(())
    } else {
        Err(format!(
            "a trailer is announced in the head: `Trailer: {CHECKSUM}`, so the client knows to expect it"
        ))
    }
}

fn check_chunk_sizes(sizes: &[u64]) -> Result<(), String> {
    if let Some(at) = sizes.iter().position(|&size| size > MAX_CHUNK) {
        return Err(format!(
            "chunk {at} has {} bytes: every chunk is at most {MAX_CHUNK} bytes (a huge chunk is the whole export \
             held in memory)",
            sizes[at]
        ));
    }
    let last = sizes.len().saturating_sub(1);
    if let Some(at) = sizes[..last].iter().position(|&size| size < MIN_CHUNK) {
        return Err(format!(
            "chunk {at} of {} has {} bytes: every chunk but the last must be at least {MIN_CHUNK} bytes (one chunk \
             per row spends a size line and a CRLF on every row: batch rows into chunks of a few KiB)",
            sizes.len(),
            sizes[at]
        ));
    }
    Ok(())
}

fn check_trailer(trailers: &[(String, String)], digest: &str) -> Result<(), String> {
    match trailers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(CHECKSUM))
    {
        Some((_, value)) if value == digest => Ok(()),
        Some((_, value)) => Err(format!(
            "the trailer {CHECKSUM} is `{value}`, the SHA-256 of the body sent is `{digest}` (lowercase hex of \
             exactly the bytes in the chunks)"
        )),
        None => Err(format!(
            "after the zero-size chunk comes the trailer `{CHECKSUM}: <SHA-256 of the body, lowercase hex>`"
        )),
    }
}

fn exports(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let counts = [0, 1, rng.range(2, 40), rng.range(3000, 9000)];
    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    for rows in counts {
        let request = export_request(rows, "HTTP/1.1", false);
        let _ = conn.send(&request);
        let got = conn.read_whole();
        record(server, &request, &got);
        let rule = format!(
            "GET /export?rows={rows} (HTTP/1.1, on a connection kept alive across {} exports) streams the CSV \
             header and {rows} rows as chunks, then the {CHECKSUM} trailer",
            counts.len()
        );
        check_export(server, got, rows, &rule)?;
    }
    let rows = rng.range(2, 9);
    let request = export_request(rows, "HTTP/1.1", true);
    let _ = conn.send(&request);
    let got = conn.read_whole();
    record(server, &request, &got);
    let rule = format!(
        "after {} exports on one connection (a chunked body is self-delimiting, so the connection stays usable), \
         GET /export?rows={rows} with `Connection: close` is answered, then the connection is closed",
        counts.len()
    );
    check_export(server, got, rows, &rule)?;
    match conn.read_end(CLOSE_WITHIN) {
        End::Closed | End::Reset => Ok(()),
        End::Open => Err(Failure::new(rule)
            .expected("the server closes the connection after the answer")
            .got("the connection stayed open")),
        End::More(bytes) => Err(Failure::new(rule)
            .expected("the server closes the connection after the answer")
            .got(format!(
                "more bytes after the end of the chunked body: \"{}\"",
                preview(&bytes, bytes.len() as u64)
            ))),
    }
}

fn http10_export(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let rows = rng.range(50, 3000);
    let request = export_request(rows, "HTTP/1.0", false);
    let mut conn = Conn::open(server, ANSWER_WITHIN)?;
    let _ = conn.send(&request);
    let got = conn.read_whole();
    record(server, &request, &got);
    let body = csv(rows);
    let rule = format!(
        "an HTTP/1.0 client does not know chunked framing: GET /export?rows={rows} HTTP/1.0 gets the raw CSV with \
         `Connection: close` and no Transfer-Encoding, and the server ends the body by closing the connection"
    );
    let expected = format!(
        "HTTP/1.1 200 OK · Content-Type: {CSV_TYPE} · Connection: close · body \"{}\" · then the server closes",
        preview(&body, body.len() as u64)
    );
    let wire = got.map_err(|broken| broken_failure(server, &broken, &rule, &expected))?;
    let fail = || Failure::new(&rule).expected(&expected).got(wire.summary());
    let closes = wire
        .headers_named("connection")
        .iter()
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    if wire.status != 200 || !matches!(wire.framing, Framing::UntilClose) || !closes {
        return Err(fail());
    }
    if wire.kept != body {
        return Err(fail().detail(
            "the body must be the CSV header and the rows, byte for byte, with no framing",
        ));
    }
    Ok(())
}

/// An HTTP client for the grader: no proxies.
fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new(format!("the grader could not build its HTTP client: {e}")))
}

/// An error with its causes: reqwest's top-level message alone rarely says what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

async fn fetch(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
    let response = request.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| error_chain(&e))?;
    Ok((status, body.to_vec()))
}

async fn with_reqwest(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let client = http_client()?;
    let len = rng.range(50_000, 200_000) as usize;
    let body = rng.bytes(len);
    let answer = upload_answer(&body, &[]);
    let rule = format!(
        "a real HTTP client (reqwest) POSTs {len} bytes to /upload: 200 with their count and SHA-256"
    );
    let got = fetch(client.post(server.url("/upload")).body(body.clone())).await;
    let shown = match &got {
        Ok((status, bytes)) => {
            format!("{status} · body \"{}\"", preview(bytes, bytes.len() as u64))
        }
        Err(e) => format!("<{e}>"),
    };
    server.record(&format!("reqwest POST /upload with {len} bytes"), &shown);
    let expected = describe_upload(200, &answer);
    match got {
        Ok((200, bytes))
            if serde_json::from_slice::<Value>(&bytes).ok() == Some(answer.clone()) => {}
        Ok(_) => return Err(Failure::new(rule).expected(expected).got(shown)),
        Err(e) => {
            server.ensure_alive()?;
            return Err(Failure::new(rule)
                .expected(expected)
                .got(format!("the client failed: {e}")));
        }
    }

    let rows = rng.range(1000, 5000);
    let csv_body = csv(rows);
    let rule = format!(
        "a real HTTP client (reqwest, which decodes chunked bodies strictly) GETs /export?rows={rows}: the CSV \
         arrives whole"
    );
    let got = fetch(client.get(server.url(&format!("/export?rows={rows}")))).await;
    let shown = match &got {
        Ok((status, bytes)) => {
            format!("{status} · body \"{}\"", preview(bytes, bytes.len() as u64))
        }
        Err(e) => format!("<{e}>"),
    };
    server.record(&format!("reqwest GET /export?rows={rows}"), &shown);
    let expected = format!(
        "200 · body \"{}\"",
        preview(&csv_body, csv_body.len() as u64)
    );
    match got {
        Ok((200, bytes)) if bytes == csv_body => Ok(()),
        Ok(_) => Err(Failure::new(rule).expected(expected).got(shown)),
        Err(e) => {
            server.ensure_alive()?;
            Err(Failure::new(rule)
                .expected(expected)
                .got(format!("the client failed: {e}")))
        }
    }
}

/// The server's peak memory in KiB, or a failure that says why it cannot be read.
fn peak(server: &Server) -> Result<u64, Failure> {
    peak_kib(server.pid()).ok_or_else(|| {
        Failure::new(
            "the grader could not read the server's peak memory from /proc/<pid>/status (VmHWM)",
        )
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn big_upload(
    server: &mut Server,
    conn: &mut Conn,
    rng: &mut Rng,
    total: u64,
) -> Result<(), Failure> {
    // Warm up the same paths with 1 MiB first, so the baseline holds whatever a streaming server allocates
    // once (buffers, thread stacks, the allocator's arenas).
    send_big_upload(
        server,
        conn,
        rng,
        1 << 20,
        "a 1 MiB chunked upload (warming up before the measure)",
    )?;
    let before = peak(server)?;
    let rule = format!(
        "the server hashes a {} MiB chunked upload in constant memory: read a piece, hash it, forget it",
        total >> 20
    );
    send_big_upload(server, conn, rng, total, &rule)?;
    let after = peak(server)?;
    let growth = after.saturating_sub(before);
    server.record(
        "(the server's VmHWM, its peak resident memory)",
        &format!("{} before the upload, {} after", mib(before), mib(after)),
    );
    if growth > GROWTH_LIMIT_KIB {
        return Err(Failure::new(rule)
            .expected(format!(
                "the peak memory grows by at most {} (a streaming server: a few hundred KiB)",
                mib(GROWTH_LIMIT_KIB)
            ))
            .got(format!(
                "it grew by {} ({} → {})",
                mib(growth),
                mib(before),
                mib(after)
            ))
            .detail(
                "the body was held in memory: `read_to_end`, a `Vec` per chunk of the announced size, or a buffer \
                 that keeps growing. Hash each piece as it arrives instead",
            ));
    }
    Ok(())
}

/// Sends a chunked upload of `total` seeded bytes in chunks of up to 64 KiB, with a checksum trailer, and checks
/// the answer without keeping the body.
fn send_big_upload(
    server: &mut Server,
    conn: &mut Conn,
    rng: &mut Rng,
    total: u64,
    rule: &str,
) -> Result<(), Failure> {
    let head = "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTrailer: \
                X-Content-SHA256\r\n\r\n";
    let _ = conn.send(head.as_bytes());
    let mut bulk = Bulk::new(rng.next_u64());
    let mut hasher = Sha256::new();
    let mut sent = 0u64;
    let mut chunks = 0u64;
    let mut frame = Vec::with_capacity(70 * 1024);
    while sent < total {
        let size = rng.range(1, 64 * 1024).min(total - sent) as usize;
        frame.clear();
        frame.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        let start = frame.len();
        frame.resize(start + size, 0);
        bulk.fill(&mut frame[start..]);
        hasher.update(&frame[start..]);
        frame.extend_from_slice(b"\r\n");
        if conn.send(&frame).is_err() {
            // The server stopped reading (it answered early, or died): its answer, if any, says why.
            break;
        }
        sent += size as u64;
        chunks += 1;
    }
    let digest = format!("{:x}", hasher.finalize());
    let _ = conn.send(format!("0\r\n{CHECKSUM}: {digest}\r\n\r\n").as_bytes());
    let got = conn.read_response(4096, &mut |_| Ok(()));
    let sent_line = format!(
        "{}({chunks} chunks of 1 to 65536 bytes, {total} bytes in all)0\\r\\n{CHECKSUM}: {digest}\\r\\n\\r\\n",
        printable(head.as_bytes())
    );
    record_as(server, &sent_line, &got);
    let answer = json!({ "bytes": total, "sha256": digest, "trailers": [[CHECKSUM, digest]] });
    check_upload(server, got, 200, &answer, rule)
}

fn big_export(
    server: &mut Server,
    conn: &mut Conn,
    rng: &mut Rng,
    total: u64,
) -> Result<(), Failure> {
    // Rows are 20 to 30 bytes long once the ids have 6 digits, 24 on average: about `total` bytes in all.
    let rows = total / 24 + rng.below(1000);
    let before = peak(server)?;
    let request = export_request(rows, "HTTP/1.1", false);
    let _ = conn.send(&request);
    let mut stream = CsvStream::new(rows);
    let got = conn.read_response(256, &mut |piece| stream.check(piece));
    record(server, &request, &got);
    let rule = format!(
        "the server streams a {} MiB export in constant memory ({rows} rows): format a few KiB of rows, send them \
         as a chunk, reuse the buffer",
        total >> 20
    );
    let expected = format!(
        "HTTP/1.1 200 OK · Transfer-Encoding: chunked · the CSV in chunks of {MIN_CHUNK} to {MAX_CHUNK} bytes · \
         trailer {CHECKSUM}"
    );
    let wire = got.map_err(|broken| broken_failure(server, &broken, &rule, &expected))?;
    let fail = || Failure::new(&rule).expected(&expected).got(wire.summary());
    let Framing::Chunked { sizes, trailers } = &wire.framing else {
        return Err(fail().detail("an HTTP/1.1 export is sent with `Transfer-Encoding: chunked`"));
    };
    if wire.status != 200 {
        return Err(fail());
    }
    if !stream.is_complete() {
        return Err(fail().detail(format!(
            "the body stopped after {} bytes, before the last row",
            stream.position()
        )));
    }
    check_announced(&wire).map_err(|why| fail().detail(why))?;
    check_chunk_sizes(sizes).map_err(|why| fail().detail(why))?;
    check_trailer(trailers, &wire.sha256).map_err(|why| fail().detail(why))?;
    let after = peak(server)?;
    let growth = after.saturating_sub(before);
    server.record(
        "(the server's VmHWM, its peak resident memory)",
        &format!("{} before the export, {} after", mib(before), mib(after)),
    );
    if growth > GROWTH_LIMIT_KIB {
        return Err(Failure::new(rule)
            .expected(format!(
                "the peak memory grows by at most {} (a streaming server: a few hundred KiB)",
                mib(GROWTH_LIMIT_KIB)
            ))
            .got(format!(
                "it grew by {} ({} → {}) for a {} MiB body",
                mib(growth),
                mib(before),
                mib(after),
                wire.len >> 20
            ))
            .detail(
                "the export was built in memory before it was sent: write each batch of rows as a chunk as soon as \
                 it is full, then reuse the buffer",
            ));
    }
    Ok(())
}
