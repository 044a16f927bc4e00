//! Grader of `http2_raw_server`: a raw HTTP/1.1 server on std TCP, driven from outside.
//!
//! Raw sockets check what a polished client hides: the exact framing of every response, header-name case,
//! malformed and hostile requests, the size limits, requests split across many writes, and clients that stall
//! half-way. reqwest then checks that a real HTTP client is happy with the server, alone and 100 at a time.

use std::net::TcpStream;
use std::time::Duration;

use backlings_grade::http::{Request, printable};
use backlings_grade::{Failure, Grading, Rng, Server};

use crate::support::{Reply, Want, ask, check, preview, read_until_close, send};

/// How long one answer may take. A correct server answers in milliseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// The contract's limits.
const MAX_HEAD: usize = 8192;
const MAX_BODY: usize = 1 << 20;
/// The body of `GET /`: its dash is one character and three bytes.
const ROOT_BODY: &str = "Hello from backlings — a raw HTTP/1.1 server\n";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
const OCTETS: &str = "application/octet-stream";
/// The pause between the pieces of the torn request.
const TORN_PAUSE: Duration = Duration::from_millis(25);
/// Clients in the concurrency scenario.
const CLIENTS: usize = 100;

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut server = g.server()?;

    g.scenario("the routes answer, every response framed exactly (status line, Content-Length in bytes, close)");
    routes(&mut server, g.rng())?;
    g.scenario(
        "header names are case-insensitive; repeated headers join with \", \"; HTTP/1.0 is served",
    );
    header_names(&mut server, g.rng())?;
    g.scenario("a request split across many small TCP writes is read whole");
    split_writes(&mut server, g.rng())?;
    g.scenario("malformed requests get 400 Bad Request, and the server keeps serving");
    bad_requests(&mut server, g.rng())?;
    g.scenario("a version other than HTTP/1.x gets 505 HTTP Version Not Supported");
    versions(&mut server, g.rng())?;
    g.scenario("a head of exactly 8192 bytes is served; a longer one gets 431");
    head_limit(&mut server, g.rng())?;
    g.scenario("a body above 1 MiB gets 413 from the head alone; exactly 1 MiB is echoed");
    body_limit(&mut server, g.rng())?;
    g.scenario("a real HTTP client (reqwest) gets the same answers");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("the grader could not start its HTTP client: {e}")))?;
    runtime.block_on(with_reqwest(&mut server, g.rng()))?;
    g.scenario("100 concurrent clients each get their own answer");
    runtime.block_on(concurrent_clients(&mut server, g.rng()))?;
    interleaved_clients(&mut server, g.rng())?;
    g.scenario("clients that stall half-way through a request do not block other clients");
    stalled_clients(&mut server, g.rng())?;
    server.ensure_alive()
}

/// Text safe in a path segment: letters, digits and `-._~`.
fn path_text(rng: &mut Rng, low: u64, high: u64) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
    let len = rng.range(low, high);
    (0..len).map(|_| *rng.pick(CHARS) as char).collect()
}

/// A header name such as `X-Qwer-Ty` with seeded letters.
fn header_name(rng: &mut Rng) -> String {
    let first = rng.range(3, 6) as usize;
    let second = rng.range(2, 5) as usize;
    format!(
        "X-{}-{}",
        capitalized(&rng.word(first)),
        capitalized(&rng.word(second))
    )
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The same letters in a seeded mix of cases, different from `text` when it has letters.
fn mixed_case(rng: &mut Rng, text: &str) -> String {
    loop {
        let mixed: String = text
            .chars()
            .map(|c| {
                if rng.chance(1, 2) {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        if mixed != text || !text.chars().any(|c| c.is_ascii_alphabetic()) {
            return mixed;
        }
    }
}

/// A header value: a few words with single spaces inside.
fn header_value(rng: &mut Rng) -> String {
    let words = rng.range(1, 3);
    (0..words)
        .map(|_| {
            let len = rng.range(3, 8) as usize;
            rng.word(len)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends one request and checks the reply.
fn expect(server: &mut Server, bytes: &[u8], want: Want, rule: &str) -> Result<(), Failure> {
    ask(server, bytes, None, ANSWER_WITHIN, &want, rule).map(|_| ())
}

fn routes(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    expect(
        server,
        &Request::get("/").to_bytes(),
        Want::ok(TEXT, ROOT_BODY),
        "GET / answers 200 with ROOT_BODY (its dash is 1 character but 3 bytes: Content-Length counts bytes)",
    )?;
    expect(
        server,
        &Request::get("/health").to_bytes(),
        Want::ok(JSON, r#"{"status":"ok"}"#),
        "GET /health answers 200 with {\"status\":\"ok\"} as application/json",
    )?;
    let text = path_text(rng, 1, 24);
    expect(
        server,
        &Request::get(&format!("/echo/{text}")).to_bytes(),
        Want::ok(TEXT, text.as_str()),
        "GET /echo/{text} answers 200 with {text}, exactly as it appears in the path",
    )?;
    let text = path_text(rng, 1, 24);
    let query = format!("{}={}", rng.word(3), path_text(rng, 1, 8));
    expect(
        server,
        &Request::get(&format!("/echo/{text}?{query}")).to_bytes(),
        Want::ok(TEXT, text.as_str()),
        &format!(
            "the path ends at `?`: GET /echo/{text}?{query} echoes only `{text}` (the query string is not part \
             of the path)"
        ),
    )?;
    let len = rng.range(1, 200) as usize;
    let body = rng.bytes(len);
    expect(
        server,
        &Request::post("/echo", body.clone()).to_bytes(),
        Want::ok(OCTETS, body),
        "POST /echo answers 200 with the request body, byte for byte, as application/octet-stream",
    )?;
    expect(
        server,
        &Request::post("/echo", Vec::new()).to_bytes(),
        Want::ok(OCTETS, Vec::new()),
        "POST /echo with `Content-Length: 0` answers 200 with an empty body",
    )?;
    let name = header_name(rng);
    let value = header_value(rng);
    expect(
        server,
        &Request::get(&format!("/headers/{name}"))
            .header(&name, &value)
            .to_bytes(),
        Want::ok(TEXT, value.as_str()),
        "GET /headers/{name} answers 200 with the value of the request's {name} header",
    )?;
    let absent = header_name(rng);
    expect(
        server,
        &Request::get(&format!("/headers/{absent}")).to_bytes(),
        Want::status(404),
        "GET /headers/{name} answers 404 when the request has no such header",
    )?;
    let mut lookalikes = [
        "/healthz".to_string(),
        format!("/health/{}", rng.word(4)),
        format!("/echoes/{}", rng.word(4)),
        format!("/header/{}", header_name(rng)),
        format!("/{}", rng.word(6)),
    ];
    rng.shuffle(&mut lookalikes);
    for lookalike in lookalikes {
        expect(
            server,
            &Request::get(&lookalike).to_bytes(),
            Want::status(404),
            &format!(
                "GET {lookalike} is not a route (match whole paths, not prefixes): 404 Not Found"
            ),
        )?;
    }
    let text = path_text(rng, 1, 12);
    let wrong_methods = [
        (Request::new("DELETE", "/"), "GET"),
        (Request::new("PUT", "/health").body(Vec::new()), "GET"),
        (Request::get("/echo"), "POST"),
        (Request::post(&format!("/echo/{text}"), rng.word(5)), "GET"),
        (Request::new("PATCH", "/headers/Host"), "GET"),
    ];
    for (request, allow) in wrong_methods {
        let rule = format!(
            "{} {} is a known path with the wrong method: 405 Method Not Allowed with `Allow: {allow}`",
            request.method, request.target
        );
        expect(server, &request.to_bytes(), Want::not_allowed(allow), &rule)?;
    }
    Ok(())
}

fn header_names(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let name = header_name(rng);
    let asked = mixed_case(rng, &name);
    // Mixed from `asked`, so the two spellings always differ.
    let sent = mixed_case(rng, &asked);
    let value = header_value(rng);
    let host = mixed_case(rng, "host");
    let request =
        format!("GET /headers/{asked} HTTP/1.1\r\n{host}: 127.0.0.1\r\n{sent}: {value}\r\n\r\n");
    expect(
        server,
        request.as_bytes(),
        Want::ok(TEXT, value.as_str()),
        &format!(
            "header names are case-insensitive: /headers/{asked} finds the header sent as `{sent}`"
        ),
    )?;

    let len = rng.range(20, 300) as usize;
    let body = rng.bytes(len);
    let length_name = mixed_case(rng, "content-length");
    let mut request =
        format!("POST /echo HTTP/1.1\r\nhost: 127.0.0.1\r\n{length_name}: {len}\r\n\r\n")
            .into_bytes();
    request.extend_from_slice(&body);
    expect(
        server,
        &request,
        Want::ok(OCTETS, body),
        &format!(
            "`{length_name}` is the Content-Length header (names are case-insensitive): POST /echo echoes the body"
        ),
    )?;

    let name = header_name(rng);
    let (first, second) = (header_value(rng), header_value(rng));
    let request = format!(
        "GET /headers/{} HTTP/1.1\r\nHost: 127.0.0.1\r\n{name}: {first}\r\n{}: {second}\r\n\r\n",
        name.to_ascii_uppercase(),
        name.to_ascii_lowercase()
    );
    expect(
        server,
        request.as_bytes(),
        Want::ok(TEXT, format!("{first}, {second}")),
        "a header sent twice has both values, joined by \", \" in the order received",
    )?;

    let name = header_name(rng);
    let value = header_value(rng);
    let request =
        format!("GET /headers/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n{name}:\t  {value} \t\r\n\r\n");
    expect(
        server,
        request.as_bytes(),
        Want::ok(TEXT, value.as_str()),
        "a header value is trimmed of the spaces and tabs around it",
    )?;

    let text = path_text(rng, 1, 16);
    let request = format!("GET /echo/{text} HTTP/1.0\r\n\r\n");
    expect(
        server,
        request.as_bytes(),
        Want::ok(TEXT, text.as_str()),
        "an HTTP/1.0 request needs no Host header and is served (the response still says HTTP/1.1)",
    )
}

fn bad_requests(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let text = path_text(rng, 1, 10);
    let name = header_name(rng);
    let host = "Host: 127.0.0.1\r\n";
    let get = format!("GET /echo/{text}");
    let post = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("GET  /echo/{text} HTTP/1.1\r\n{host}\r\n"),
            "two spaces between method and target",
        ),
        (
            format!("{get}\r\n{host}\r\n"),
            "the request line has no version",
        ),
        (
            format!("{get} HTTP/1.1 extra\r\n{host}\r\n"),
            "the request line has four parts",
        ),
        (
            format!("GET echo/{text} HTTP/1.1\r\n{host}\r\n"),
            "the target does not start with /",
        ),
        (
            format!("{get} HTTP/1.x\r\n{host}\r\n"),
            "the version is not HTTP/<digit>.<digit>",
        ),
        (
            format!("{get} http/1.1\r\n{host}\r\n"),
            "the version must be spelled `HTTP/` in capitals",
        ),
        (
            format!("{get} HTTP/11\r\n{host}\r\n"),
            "the version has no dot",
        ),
        (
            format!("G(T /echo/{text} HTTP/1.1\r\n{host}\r\n"),
            "`(` is not allowed in a method",
        ),
        (
            format!("{get} HTTP/1.1\r\n{host}{name} no colon\r\n\r\n"),
            "a header line has no colon",
        ),
        (
            format!("{get} HTTP/1.1\r\n{host}{name} : x\r\n\r\n"),
            "whitespace between a header name and its colon",
        ),
        (
            format!("{get} HTTP/1.1\r\n{host}{name}: a\r\n  folded\r\n\r\n"),
            "a header line starts with whitespace (obsolete line folding)",
        ),
        (
            format!("{get} HTTP/1.1\r\n\r\n"),
            "an HTTP/1.1 request without a Host header",
        ),
        (
            format!("{post}\r\nContent-Length: abc\r\n\r\n"),
            "Content-Length is not a number",
        ),
        (
            format!("{post}\r\nContent-Length: +3\r\n\r\nabc"),
            "Content-Length must be digits only: `+3` is not",
        ),
        (
            format!("{post}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            "two Content-Length headers disagree",
        ),
    ];
    let mut order: Vec<usize> = (0..cases.len()).collect();
    rng.shuffle(&mut order);
    for index in order {
        let (request, why) = &cases[index];
        let rule = format!("a malformed request gets 400 Bad Request: {why}");
        expect(server, request.as_bytes(), Want::status(400), &rule)?;
    }
    let mut bytes = format!("GET /headers/{name} HTTP/1.1\r\n{host}{name}: caf").into_bytes();
    bytes.extend_from_slice(b"\xe9\r\n\r\n");
    expect(
        server,
        &bytes,
        Want::status(400),
        "a head that is not valid UTF-8 gets 400 Bad Request",
    )?;
    expect(
        server,
        &Request::get("/health").to_bytes(),
        Want::ok(JSON, r#"{"status":"ok"}"#),
        "after answering bad requests the server keeps serving: GET /health answers 200",
    )
}

fn versions(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut versions = ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"];
    rng.shuffle(&mut versions);
    for version in versions {
        let request = format!("GET / {version}\r\nHost: 127.0.0.1\r\n\r\n");
        let rule =
            format!("{version} is well-formed but not HTTP/1.x: 505 HTTP Version Not Supported");
        expect(server, request.as_bytes(), Want::status(505), &rule)?;
    }
    Ok(())
}

/// `GET /headers/X-Fill` with an `X-Fill` header sized so the whole head is `size` bytes.
fn head_of_size(size: usize, fill: u8) -> (Vec<u8>, String) {
    let fixed = "GET /headers/X-Fill HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: \r\n\r\n".len();
    let value = String::from_utf8(vec![fill; size - fixed]).expect("ASCII");
    let head =
        format!("GET /headers/X-Fill HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: {value}\r\n\r\n");
    (head.into_bytes(), value)
}

fn head_limit(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let fill = *rng.pick(b"abcdefghijklmnopqrstuvwxyz");
    let (head, value) = head_of_size(MAX_HEAD, fill);
    expect(
        server,
        &head,
        Want::ok(TEXT, value),
        "a head of exactly 8192 bytes (counting the final \\r\\n\\r\\n) is within the limit and is served",
    )?;
    for size in [MAX_HEAD + 1, MAX_HEAD + rng.range(2, 4096) as usize] {
        let (head, _) = head_of_size(size, fill);
        let rule = format!(
            "a head of {size} bytes is over the 8192-byte limit: 431 Request Header Fields Too Large"
        );
        expect(server, &head, Want::status(431), &rule)?;
    }
    Ok(())
}

fn body_limit(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    expect(
        server,
        head.as_bytes(),
        Want::status(413),
        "Content-Length: 1048577 is over the 1 MiB limit: answer 413 Content Too Large from the head alone (this \
         client never sends the body, so a server that waits for it hangs)",
    )?;
    let huge = rng.range(100_000_000_000, 10_000_000_000_000);
    let head = format!("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {huge}\r\n\r\n");
    expect(
        server,
        head.as_bytes(),
        Want::status(413),
        &format!(
            "Content-Length: {huge} gets 413 Content Too Large, without allocating {huge} bytes (check the limit \
             before you allocate)"
        ),
    )?;
    let body = rng.bytes(MAX_BODY);
    expect(
        server,
        &Request::post("/echo", body.clone()).to_bytes(),
        Want::ok(OCTETS, body),
        "a body of exactly 1 MiB (1048576 bytes) is within the limit: POST /echo echoes it whole",
    )
}

/// Seeded piece sizes for split writes: mostly tiny.
fn piece_sizes(rng: &mut Rng) -> Vec<usize> {
    (0..8).map(|_| rng.range(1, 9) as usize).collect()
}

/// Readable text of about `len` bytes: seeded words (a report about a split request is easier to read).
fn words(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut text = String::new();
    while text.len() < len {
        let word_len = rng.range(2, 9) as usize;
        text.push_str(&rng.word(word_len));
        text.push(' ');
    }
    text.into_bytes()
}

/// The lesson of the split-writes scenario, added to its failures.
const ONE_READ_IS_NOT_ONE_REQUEST: &str = "TCP delivers a stream of bytes, not messages: one read() may return a \
     few bytes of the request. An early 400, or a short body, usually means the server parsed whatever its first \
     read() returned";

fn split_writes(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    split_requests(server, rng).map_err(|failure| failure.detail(ONE_READ_IS_NOT_ONE_REQUEST))
}

fn split_requests(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let len = rng.range(100, 400) as usize;
    let body = words(rng, len);
    let request =
        Request::post("/echo", body.clone()).header(&header_name(rng), &header_value(rng));
    let sizes = piece_sizes(rng);
    let rule = format!(
        "a request may arrive in many small pieces (here {:?}… bytes per write): keep reading until the blank \
         line, then until Content-Length bytes of body; POST /echo echoes the whole body",
        sizes
    );
    let bytes = request.to_bytes();
    ask(
        server,
        &bytes,
        Some(&sizes),
        ANSWER_WITHIN,
        &Want::ok(OCTETS, body.clone()),
        &rule,
    )?;

    let name = header_name(rng);
    let value = header_value(rng);
    let bytes = Request::get(&format!("/headers/{name}"))
        .header(&name, &value)
        .to_bytes();
    let sizes = piece_sizes(rng);
    let rule = format!(
        "a request may arrive in many small pieces (here {sizes:?}… bytes per write): GET /headers/{name} still \
         finds its header"
    );
    ask(
        server,
        &bytes,
        Some(&sizes),
        ANSWER_WITHIN,
        &Want::ok(TEXT, value.as_str()),
        &rule,
    )?;

    // The blank line itself torn in two, then the body in a write of its own.
    let request = Request::post("/echo", body.clone());
    let bytes = request.to_bytes();
    let head_len = bytes.len() - body.len();
    let rule = "the head's final \\r\\n\\r\\n may be split between two writes, and the body may come in a later \
                write: POST /echo echoes the whole body";
    let mut stream = server.connect()?;
    for piece in [
        &bytes[..head_len - 1],
        &bytes[head_len - 1..head_len],
        &bytes[head_len..],
    ] {
        // Not to let time pass: a pause is the only way to make sure the server's read sees this piece alone,
        // however loaded the machine is. A correct server passes with or without it.
        let _ = send(&mut stream, piece, None);
        std::thread::sleep(TORN_PAUSE);
    }
    let reply = read_until_close(&mut stream, ANSWER_WITHIN);
    check(server, &bytes, &reply, &Want::ok(OCTETS, body), rule).map(|_| ())
}

/// An HTTP client for the grader: no proxies, no pooled connections (the server closes each one).
fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new(format!("the grader could not build its HTTP client: {e}")))
}

/// What reqwest saw: status, content type, allow, body.
struct Seen {
    status: u16,
    content_type: Option<String>,
    allow: Option<String>,
    body: Vec<u8>,
}

impl Seen {
    fn summary(&self) -> String {
        let mut line = format!("{}", self.status);
        if let Some(content_type) = &self.content_type {
            line.push_str(&format!(" · Content-Type: {content_type}"));
        }
        if let Some(allow) = &self.allow {
            line.push_str(&format!(" · Allow: {allow}"));
        }
        line + &format!(" · body \"{}\"", preview(&self.body))
    }
}

async fn fetch(client: &reqwest::Client, request: reqwest::RequestBuilder) -> Result<Seen, String> {
    let response = client
        .execute(request.build().map_err(|e| e.to_string())?)
        .await
        .map_err(|e| error_chain(&e))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let status = response.status().as_u16();
    let (content_type, allow) = (header("content-type"), header("allow"));
    let body = response
        .bytes()
        .await
        .map_err(|e| error_chain(&e))?
        .to_vec();
    Ok(Seen {
        status,
        content_type,
        allow,
        body,
    })
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

async fn with_reqwest(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let client = http_client()?;
    let text = path_text(rng, 1, 24);
    let len = rng.range(1, 64 * 1024) as usize;
    let body = rng.bytes(len);
    let name = header_name(rng);
    let value = header_value(rng);
    let missing = format!("/{}", rng.word(7));
    let cases: Vec<(String, reqwest::RequestBuilder, Want)> = vec![
        (
            "GET /".into(),
            client.get(server.url("/")),
            Want::ok(TEXT, ROOT_BODY),
        ),
        (
            "GET /health".into(),
            client.get(server.url("/health")),
            Want::ok(JSON, r#"{"status":"ok"}"#),
        ),
        (
            format!("GET /echo/{text}"),
            client.get(server.url(&format!("/echo/{text}"))),
            Want::ok(TEXT, text.as_str()),
        ),
        (
            format!("POST /echo with a {len}-byte body"),
            client.post(server.url("/echo")).body(body.clone()),
            Want::ok(OCTETS, body),
        ),
        (
            format!(
                "GET /headers/{name} with `{}: {value}`",
                name.to_ascii_lowercase()
            ),
            client
                .get(server.url(&format!("/headers/{name}")))
                .header(name.as_str(), value.as_str()),
            Want::ok(TEXT, value.as_str()),
        ),
        (
            format!("GET {missing}"),
            client.get(server.url(&missing)),
            Want::status(404),
        ),
        (
            "DELETE /health".into(),
            client.delete(server.url("/health")),
            Want::not_allowed("GET"),
        ),
    ];
    for (sent, request, want) in cases {
        let rule = format!("a real HTTP client sends {sent}");
        let seen = fetch(&client, request).await;
        let got = match &seen {
            Ok(seen) => seen.summary(),
            Err(e) => format!("<{e}>"),
        };
        server.record(&format!("reqwest {sent}"), &got);
        let seen = match seen {
            Ok(seen) => seen,
            Err(e) => {
                server.ensure_alive()?;
                return Err(Failure::new(rule)
                    .expected(want.describe())
                    .got(format!("the client failed: {e}")));
            }
        };
        let matches = seen.status == want.status
            && (want.content_type.is_none() || seen.content_type == want.content_type)
            && (want.allow.is_none() || seen.allow == want.allow)
            && want.body.as_ref().is_none_or(|body| &seen.body == body);
        if !matches {
            return Err(Failure::new(rule)
                .expected(want.describe())
                .got(seen.summary()));
        }
    }
    Ok(())
}

async fn concurrent_clients(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let client = http_client()?;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..CLIENTS {
        let text = format!("c{index}-{}", path_text(rng, 4, 12));
        let request = client.get(server.url(&format!("/echo/{text}")));
        let client = client.clone();
        tasks.spawn(async move { (text, fetch(&client, request).await) });
    }
    let mut answered = 0;
    while let Some(joined) = tasks.join_next().await {
        let (text, seen) =
            joined.map_err(|e| Failure::new(format!("a grader task failed: {e}")))?;
        let rule = format!(
            "{CLIENTS} clients send GET /echo/<own text> at the same time; each gets its own text back"
        );
        match seen {
            Ok(seen) if seen.status == 200 && seen.body == text.as_bytes() => answered += 1,
            Ok(seen) => {
                server.record(&format!("reqwest GET /echo/{text}"), &seen.summary());
                return Err(Failure::new(rule)
                    .expected(Want::ok(TEXT, text.as_str()).describe())
                    .got(seen.summary())
                    .detail(format!(
                        "{answered} clients had been answered correctly before this one"
                    )));
            }
            Err(e) => {
                server.record(&format!("reqwest GET /echo/{text}"), &format!("<{e}>"));
                server.ensure_alive()?;
                return Err(Failure::new(rule)
                    .expected(Want::ok(TEXT, text.as_str()).describe())
                    .got(format!("the client failed: {e}"))
                    .detail(format!(
                        "{answered} clients had been answered correctly before this one"
                    )));
            }
        }
    }
    Ok(())
}

/// 100 raw connections open at once, each request sent in two halves, the second halves in shuffled order.
fn interleaved_clients(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut clients: Vec<(TcpStream, Vec<u8>, usize, Vec<u8>)> = Vec::with_capacity(CLIENTS);
    for index in 0..CLIENTS {
        let len = rng.range(1, 64) as usize;
        let mut body = format!("client {index}: ").into_bytes();
        body.extend(rng.bytes(len));
        let bytes = Request::post("/echo", body.clone()).to_bytes();
        let cut = rng.range(1, bytes.len() as u64 - 1) as usize;
        let mut stream = server.connect()?;
        send(&mut stream, &bytes[..cut], None)
            .map_err(|e| Failure::new(format!("could not send to the server: {e}")))?;
        clients.push((stream, bytes, cut, body));
    }
    let mut order: Vec<usize> = (0..CLIENTS).collect();
    rng.shuffle(&mut order);
    for &index in &order {
        let (stream, bytes, cut, _) = &mut clients[index];
        let _ = send(stream, &bytes[*cut..], None);
    }
    for (index, (mut stream, bytes, _, body)) in clients.into_iter().enumerate() {
        let reply: Reply = read_until_close(&mut stream, ANSWER_WITHIN);
        let rule = format!(
            "{CLIENTS} connections are open at once, each sends half a POST /echo, then the other halves arrive in \
             shuffled order: client {index} gets its own body back"
        );
        check(server, &bytes, &reply, &Want::ok(OCTETS, body), &rule)?;
    }
    Ok(())
}

fn stalled_clients(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let count = rng.range(2, 4) as usize;
    let mut stalled = Vec::with_capacity(count);
    for index in 0..count {
        let body = format!("stalled {index} {}", rng.word(6));
        let bytes = Request::post("/echo", body.clone()).to_bytes();
        let head_len = bytes.len() - body.len();
        // Stop inside the head or inside the body: both must leave the server free for others.
        let cut = if rng.chance(1, 2) {
            rng.range(1, head_len as u64 - 1) as usize
        } else {
            rng.range(head_len as u64, bytes.len() as u64 - 1) as usize
        };
        let mut stream = server.connect()?;
        send(&mut stream, &bytes[..cut], None)
            .map_err(|e| Failure::new(format!("could not send: {e}")))?;
        server.record(
            &format!("(stalls after) {}", printable(&bytes[..cut])),
            "(waiting)",
        );
        stalled.push((stream, bytes, cut, body));
    }

    let bytes = Request::get("/health").to_bytes();
    let mut fresh = server.connect()?;
    let _ = send(&mut fresh, &bytes, None);
    let reply = read_until_close(&mut fresh, ANSWER_WITHIN);
    let rule = format!(
        "{count} clients have sent only part of a request and wait; a new client's GET /health must still be \
         answered at once"
    );
    check(server, &bytes, &reply, &Want::ok(JSON, r#"{"status":"ok"}"#), &rule).map_err(|failure| {
        if reply.raw.is_empty() {
            failure.detail(
                "serve each connection on its own thread (or task): an accept loop that reads one connection to the \
                 end before accepting the next is blocked by the first slow client",
            )
        } else {
            failure
        }
    })?;

    for (index, (mut stream, bytes, cut, body)) in stalled.into_iter().enumerate() {
        let _ = send(&mut stream, &bytes[cut..], None);
        let reply = read_until_close(&mut stream, ANSWER_WITHIN);
        let rule = format!(
            "stalled client {index} finally sends the rest of its POST /echo: it gets its whole body back"
        );
        check(server, &bytes, &reply, &Want::ok(OCTETS, body), &rule)?;
    }
    Ok(())
}
