//! Grader of `http3_keep_alive`: persistent HTTP/1.1 connections, driven from outside over raw sockets and by
//! real clients (curl, Python's `http.client`).
//!
//! Three servers are started with different settings: a patient one (long idle timeout, many requests) for
//! reuse, pipelining, `Connection: close`, HTTP/1.0 and errors; one with a small seeded `MAX_REQUESTS`; one with
//! a short `IDLE_TIMEOUT_MS`, the only place where real time passes (bounds with wide slack).

mod clients;
mod wire;

use std::time::{Duration, Instant};

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading, Rng, Server};

use wire::{Conn, Want, expect, expect_close};

/// The patient server's idle timeout: long enough that only a real close passes a "closes now" check.
const PATIENT_IDLE_MS: u64 = 10_000;
/// The short idle timeout of the idle scenario.
const IDLE_MS: u64 = 500;
/// How soon a close must come after `Connection: close` (far below `PATIENT_IDLE_MS`).
const CLOSE_WITHIN: Duration = Duration::from_secs(3);
/// Requests pipelined in one write.
const PIPELINED: usize = 20;

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let patient = [
        ("IDLE_TIMEOUT_MS", PATIENT_IDLE_MS.to_string()),
        ("MAX_REQUESTS", "100".to_string()),
    ];
    let mut server = start(g, &patient)?;
    g.scenario(
        "one connection carries several requests in turn: one X-Conn-Id, X-Request-Index 1, 2, 3…",
    );
    in_turn(&mut server, g.rng())?;
    g.scenario("20 pipelined requests in one write are answered in order on the same connection");
    pipelined(&mut server, g.rng())?;
    g.scenario("pipelined requests split across many small writes are answered in order");
    split_writes(&mut server, g.rng())?;
    g.scenario(
        "`Connection: close` from the client: the response says close, the server closes, and answers nothing more",
    );
    client_close(&mut server, g.rng())?;
    g.scenario("HTTP/1.0 closes by default and stays open with `Connection: keep-alive`");
    http10(&mut server, g.rng())?;
    g.scenario("a request that cannot be read gets its error with `Connection: close`, and the connection ends");
    errors(&mut server, g.rng())?;
    g.scenario("real clients reuse the connection: curl with several URLs, Python's http.client");
    real_clients(&mut server, g.rng())?;
    server.ensure_alive()?;
    drop(server);

    let max = g.rng().range(3, 6);
    g.scenario(&format!(
        "MAX_REQUESTS={max}: a connection carries at most {max} requests, the last says close"
    ));
    let limited = [
        ("IDLE_TIMEOUT_MS", PATIENT_IDLE_MS.to_string()),
        ("MAX_REQUESTS", max.to_string()),
    ];
    let mut server = start(g, &limited)?;
    max_requests(&mut server, g.rng(), max)?;
    drop(server);

    g.scenario(&format!(
        "IDLE_TIMEOUT_MS={IDLE_MS}: an idle connection is closed after the timeout, a busy one is not"
    ));
    let short = [
        ("IDLE_TIMEOUT_MS", IDLE_MS.to_string()),
        ("MAX_REQUESTS", "100".to_string()),
    ];
    let mut server = start(g, &short)?;
    idle(&mut server, g.rng())
}

fn start(g: &mut Grading, env: &[(&str, String)]) -> Result<Server, Failure> {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    g.server_with(&[], &env)
}

/// Text safe in a path segment.
fn text(rng: &mut Rng) -> String {
    let len = rng.range(3, 10) as usize;
    rng.word(len)
}

/// A seeded request and the body it must get back: GET /echo/{text}, POST /echo, GET /health or a 404.
fn any_request(rng: &mut Rng) -> (Vec<u8>, u16, Vec<u8>) {
    match rng.below(5) {
        0 | 1 => {
            let text = text(rng);
            (
                Request::get(&format!("/echo/{text}")).to_bytes(),
                200,
                text.into_bytes(),
            )
        }
        2 => {
            let body = (0..rng.range(0, 6))
                .map(|_| text(rng))
                .collect::<Vec<_>>()
                .join(" ")
                .into_bytes();
            (Request::post("/echo", body.clone()).to_bytes(), 200, body)
        }
        3 => (
            Request::get("/health").to_bytes(),
            200,
            br#"{"status":"ok"}"#.to_vec(),
        ),
        _ => (
            Request::get(&format!("/{}", text(rng))).to_bytes(),
            404,
            b"not found\n".to_vec(),
        ),
    }
}

fn want(
    status: u16,
    body: Vec<u8>,
    connection: &'static str,
    index: u64,
    id: &Option<String>,
) -> Want {
    Want {
        status,
        body: Some(body),
        connection,
        index,
        conn_id: id.clone(),
    }
}

fn in_turn(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let mut id = None;
    let first = text(rng);
    let body = rng.bytes(40);
    let steps: Vec<(Vec<u8>, u16, Vec<u8>)> = vec![
        (
            Request::get(&format!("/echo/{first}")).to_bytes(),
            200,
            first.clone().into_bytes(),
        ),
        (Request::post("/echo", body.clone()).to_bytes(), 200, body),
        (
            Request::get("/health").to_bytes(),
            200,
            br#"{"status":"ok"}"#.to_vec(),
        ),
        (
            Request::get("/missing").to_bytes(),
            404,
            b"not found\n".to_vec(),
        ),
    ];
    for (index, (request, status, body)) in steps.into_iter().enumerate() {
        conn.send(&[request])?;
        let rule = format!(
            "request {} on one HTTP/1.1 connection, sent after the previous response: the connection stays open \
             (`Connection: keep-alive`), with the same X-Conn-Id and X-Request-Index {}",
            index + 1,
            index + 1
        );
        let seen = expect(
            server,
            &mut conn,
            &want(status, body, "keep-alive", index as u64 + 1, &id),
            &rule,
        )?;
        id = Some(seen);
    }

    let mut other = Conn::open(server)?;
    let second = text(rng);
    other.send(&[Request::get(&format!("/echo/{second}")).to_bytes()])?;
    let other_id = expect(
        server,
        &mut other,
        &want(200, second.into_bytes(), "keep-alive", 1, &None),
        "a second connection, opened while the first is still open, is served too, and counts from 1",
    )?;
    if Some(&other_id) == id.as_ref() {
        return Err(Failure::new(
            "each connection has its own X-Conn-Id: a second connection must not repeat the first one's",
        )
        .got(format!("both connections said X-Conn-Id: {other_id}")));
    }
    // The first connection is still usable after the second one was served.
    conn.send(&[Request::get(&format!("/echo/{first}")).to_bytes()])?;
    expect(
        server,
        &mut conn,
        &want(200, first.into_bytes(), "keep-alive", 5, &id),
        "the first connection, still open, answers a 5th request with X-Request-Index 5",
    )?;
    Ok(())
}

fn pipelined(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let requests: Vec<(Vec<u8>, u16, Vec<u8>)> = (0..PIPELINED).map(|_| any_request(rng)).collect();
    let bytes: Vec<Vec<u8>> = requests.iter().map(|(bytes, _, _)| bytes.clone()).collect();
    conn.send(&bytes)?;
    let mut id = None;
    for (index, (_, status, body)) in requests.into_iter().enumerate() {
        let rule = format!(
            "{PIPELINED} requests pipelined in one write are answered in order on the same connection: response \
             {} answers request {} (a BufReader may already hold the next requests: keep one reader for the \
             whole connection)",
            index + 1,
            index + 1
        );
        id = Some(expect(
            server,
            &mut conn,
            &want(status, body, "keep-alive", index as u64 + 1, &id),
            &rule,
        )?);
    }
    let (request, status, body) = any_request(rng);
    conn.send(&[request])?;
    expect(
        server,
        &mut conn,
        &want(status, body, "keep-alive", PIPELINED as u64 + 1, &id),
        "after answering the pipelined requests, the connection is still open for one more",
    )?;
    Ok(())
}

fn split_writes(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let count = rng.range(4, 7) as usize;
    let requests: Vec<(Vec<u8>, u16, Vec<u8>)> = (0..count).map(|_| any_request(rng)).collect();
    let bytes: Vec<Vec<u8>> = requests.iter().map(|(bytes, _, _)| bytes.clone()).collect();
    let total: usize = bytes.iter().map(Vec::len).sum();
    let sizes: Vec<usize> = (0..total).map(|_| rng.range(1, 9) as usize).collect();
    conn.send_in_pieces(&bytes, &sizes)?;
    let mut id = None;
    for (index, (_, status, body)) in requests.into_iter().enumerate() {
        let rule = format!(
            "{count} pipelined requests arrive in small pieces ({:?}… bytes per write), pieces straddling two \
             requests: response {} answers request {}",
            &sizes[..6],
            index + 1,
            index + 1
        );
        id = Some(expect(
            server,
            &mut conn,
            &want(status, body, "keep-alive", index as u64 + 1, &id),
            &rule,
        )?);
    }
    Ok(())
}

fn client_close(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let (first, last, never) = (text(rng), text(rng), text(rng));
    conn.send(&[Request::get(&format!("/echo/{first}")).to_bytes()])?;
    let id = Some(expect(
        server,
        &mut conn,
        &want(200, first.into_bytes(), "keep-alive", 1, &None),
        "a first request on the connection is answered and the connection stays open",
    )?);
    let spelled = *rng.pick(&["close", "Close", "CLOSE", "cLoSe"]);
    let name = *rng.pick(&["Connection", "connection", "CONNECTION"]);
    let closing = Request::get(&format!("/echo/{last}"))
        .header(name, spelled)
        .to_bytes();
    let after = Request::get(&format!("/echo/{never}")).to_bytes();
    conn.send(&[closing, after])?;
    let rule = format!(
        "the client sent `{name}: {spelled}` (and, in the same write, one more request): the response says \
         `Connection: close`"
    );
    expect(
        server,
        &mut conn,
        &want(200, last.into_bytes(), "close", 2, &id),
        &rule,
    )?;
    let now = Instant::now();
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        now,
        "after a `Connection: close` response the server closes the connection: the request sent after it is \
         never answered",
    )?;

    let mut conn = Conn::open(server)?;
    let text = text(rng);
    conn.send(&[Request::get(&format!("/echo/{text}"))
        .header("Connection", "TE, close")
        .to_bytes()])?;
    expect(
        server,
        &mut conn,
        &want(200, text.into_bytes(), "close", 1, &None),
        "the client sent `Connection: TE, close`: the header is a list of tokens, and `close` is one of them",
    )?;
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        "after a `Connection: close` response the server closes the connection",
    )?;
    Ok(())
}

/// A GET in HTTP/1.0, with an optional Connection header.
fn get10(target: &str, connection: Option<&str>) -> Vec<u8> {
    let mut request = Request::get(target);
    request.version = "HTTP/1.0".to_string();
    if let Some(value) = connection {
        request = request.header("Connection", value);
    }
    request.to_bytes()
}

fn http10(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let plain = text(rng);
    conn.send(&[get10(&format!("/echo/{plain}"), None)])?;
    expect(
        server,
        &mut conn,
        &want(200, plain.into_bytes(), "close", 1, &None),
        "an HTTP/1.0 request without `Connection: keep-alive` closes the connection after its response: it says \
         `Connection: close`",
    )?;
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        "HTTP/1.0 without `Connection: keep-alive`: the server closes after the response",
    )?;

    let mut conn = Conn::open(server)?;
    let spelled = *rng.pick(&["keep-alive", "Keep-Alive", "KEEP-ALIVE"]);
    let (one, two, three) = (text(rng), text(rng), text(rng));
    conn.send(&[get10(&format!("/echo/{one}"), Some(spelled))])?;
    let id = Some(expect(
        server,
        &mut conn,
        &want(200, one.into_bytes(), "keep-alive", 1, &None),
        &format!(
            "an HTTP/1.0 request with `Connection: {spelled}` keeps the connection open: the response says \
             `Connection: keep-alive`"
        ),
    )?);
    conn.send(&[get10(&format!("/echo/{two}"), Some(spelled))])?;
    expect(
        server,
        &mut conn,
        &want(200, two.into_bytes(), "keep-alive", 2, &id),
        "a second HTTP/1.0 keep-alive request on the same connection is answered there",
    )?;
    conn.send(&[get10(&format!("/echo/{three}"), None)])?;
    expect(
        server,
        &mut conn,
        &want(200, three.into_bytes(), "close", 3, &id),
        "a third HTTP/1.0 request, without `Connection: keep-alive`, ends the connection: `Connection: close`",
    )?;
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        "HTTP/1.0 without `Connection: keep-alive`: the server closes after the response",
    )?;
    Ok(())
}

fn errors(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let (first, never) = (text(rng), text(rng));
    conn.send(&[Request::get(&format!("/echo/{first}")).to_bytes()])?;
    let id = Some(expect(
        server,
        &mut conn,
        &want(200, first.into_bytes(), "keep-alive", 1, &None),
        "a first request on the connection is answered and the connection stays open",
    )?);
    let broken = format!(
        "GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n{} no colon\r\n\r\n",
        text(rng)
    );
    conn.send(&[
        broken.into_bytes(),
        Request::get(&format!("/echo/{never}")).to_bytes(),
    ])?;
    let rule = "a request that cannot be read (a header line without a colon) gets 400 with `Connection: close`: \
                after a framing error the next bytes cannot be trusted";
    // The body of a parse error is the parser's own wording: its status and headers are the contract.
    let refusal = Want {
        body: None,
        ..want(400, Vec::new(), "close", 2, &id)
    };
    expect(server, &mut conn, &refusal, rule)?;
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        "after answering a request that cannot be read, the server closes the connection: the request sent after \
         it is never answered",
    )?;

    let mut conn = Conn::open(server)?;
    let head = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n";
    conn.send(&[head.as_bytes().to_vec()])?;
    let response = conn.response(server).map_err(|what| {
        Failure::new("a body above the 1 MiB limit gets 413 with `Connection: close`").got(what)
    })?;
    let says_close = response
        .header("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if response.status != 413 || !says_close {
        return Err(Failure::new(
            "a request that cannot be read (Content-Length above 1 MiB) gets its error response (413) with \
             `Connection: close`: its body will never be read, so nothing after it can be found",
        )
        .got(crate::support::summarize(&response)));
    }
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        "after a 413 the server closes the connection",
    )?;
    Ok(())
}

fn real_clients(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let texts: Vec<String> = (0..3).map(|_| text(rng)).collect();
    clients::curl(server, &texts, false)?;
    let texts: Vec<String> = (0..2).map(|_| text(rng)).collect();
    clients::curl(server, &texts, true)?;
    let (one, two, three) = (text(rng), text(rng), text(rng));
    clients::python(server, [&one, &two, &three])
}

fn max_requests(server: &mut Server, rng: &mut Rng, max: u64) -> Result<(), Failure> {
    let mut conn = Conn::open(server)?;
    let requests: Vec<(Vec<u8>, u16, Vec<u8>)> = (0..max + 2).map(|_| any_request(rng)).collect();
    let bytes: Vec<Vec<u8>> = requests.iter().map(|(bytes, _, _)| bytes.clone()).collect();
    conn.send(&bytes)?;
    let mut id = None;
    for (index, (_, status, body)) in requests.into_iter().take(max as usize).enumerate() {
        let index = index as u64 + 1;
        let (connection, rule) = if index < max {
            (
                "keep-alive",
                format!(
                    "MAX_REQUESTS={max}, {} requests pipelined: response {index} of at most {max} keeps the \
                     connection open",
                    max + 2
                ),
            )
        } else {
            (
                "close",
                format!(
                    "MAX_REQUESTS={max}: a connection carries at most {max} requests, so response {max} is the \
                     last and says `Connection: close`"
                ),
            )
        };
        id = Some(expect(
            server,
            &mut conn,
            &want(status, body, connection, index, &id),
            &rule,
        )?);
    }
    expect_close(
        server,
        &mut conn,
        CLOSE_WITHIN,
        Instant::now(),
        &format!(
            "MAX_REQUESTS={max}: a connection carries at most {max} requests; after response {max} the server \
             closes it, and the requests pipelined after it are never answered"
        ),
    )?;

    let mut fresh = Conn::open(server)?;
    let word = text(rng);
    fresh.send(&[Request::get(&format!("/echo/{word}")).to_bytes()])?;
    expect(
        server,
        &mut fresh,
        &want(200, word.into_bytes(), "keep-alive", 1, &None),
        "the limit is per connection: a new connection starts again at X-Request-Index 1",
    )?;
    Ok(())
}

fn idle(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let idle = Duration::from_millis(IDLE_MS);
    let not_before = idle * 4 / 5;
    let within = idle + Duration::from_millis(2500);

    // A connection used once, then left alone. A correct server starts waiting only after it has answered, so
    // timing the close from before the request was sent can never make it look early.
    let mut conn = Conn::open(server)?;
    let word = text(rng);
    let sent = Instant::now();
    conn.send(&[Request::get(&format!("/echo/{word}")).to_bytes()])?;
    expect(
        server,
        &mut conn,
        &want(200, word.into_bytes(), "keep-alive", 1, &None),
        "a request on a fresh connection is answered and the connection stays open",
    )?;
    let answered = Instant::now();
    let rule = format!(
        "IDLE_TIMEOUT_MS={IDLE_MS}: a connection idle since its last response is closed after the idle timeout: \
         not before {} ms, and within {} ms",
        not_before.as_millis(),
        within.as_millis()
    );
    expect_close(server, &mut conn, within, answered, &rule)?;
    let after = sent.elapsed();
    if after < not_before {
        return Err(Failure::new(&rule)
            .expected(format!(
                "a close at least {} ms after the response",
                not_before.as_millis()
            ))
            .got(format!(
                "closed less than {} ms after the request was even sent",
                after.as_millis()
            )));
    }

    // A connection that never sends anything.
    let mut silent = Conn::open(server)?;
    let rule = format!(
        "IDLE_TIMEOUT_MS={IDLE_MS}: a connection on which no request ever arrives is closed after the idle timeout \
         too (not before {} ms, within {} ms)",
        not_before.as_millis(),
        within.as_millis()
    );
    let opened = silent.opened;
    let after = expect_close(server, &mut silent, within, opened, &rule)?;
    if after < not_before {
        return Err(Failure::new(&rule)
            .expected(format!(
                "a close after {}–{} ms",
                not_before.as_millis(),
                within.as_millis()
            ))
            .got(format!(
                "closed {} ms after the connection opened",
                after.as_millis()
            )));
    }

    // A busy connection: a request every quarter of the timeout, for longer than the timeout in all.
    let mut busy = Conn::open(server)?;
    let gap = idle / 4;
    let mut id = None;
    for index in 1..=7u64 {
        if index > 1 {
            // Real time must pass here: this is the one thing an idle timeout is about.
            std::thread::sleep(gap);
        }
        let word = text(rng);
        busy.send(&[Request::get(&format!("/echo/{word}")).to_bytes()])?;
        let rule = format!(
            "IDLE_TIMEOUT_MS={IDLE_MS} bounds each wait between requests, not the connection's life: request \
             {index}, sent {} ms after the previous response ({} ms after the connection opened), is answered on \
             the same connection",
            if index == 1 { 0 } else { gap.as_millis() },
            busy.opened.elapsed().as_millis()
        );
        id = Some(expect(
            server,
            &mut busy,
            &want(200, word.into_bytes(), "keep-alive", index, &id),
            &rule,
        )?);
    }
    server.ensure_alive()
}
