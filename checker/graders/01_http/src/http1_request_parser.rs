//! Grader of `http1_request_parser`: a streaming HTTP/1.1 request parser, driven over JSON lines.
//!
//! Every case is one connection: a byte stream fed in pieces, and after each feed the requests that must have
//! come back by then ([`session`]). Fixed cases first, one rule each (fields, header names, percent-decoding,
//! split and pipelined streams, malformed heads, the smuggling rules, the limits), then a seeded trace of
//! connections that mixes them all. Valid requests are generated with their expected JSON ([`generate`]).

mod generate;
mod session;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::Value;

use generate::{Built, Parts, mixed_case};
use session::{ErrorAt, Expect};

/// The contract's limits.
const MAX_LINE: usize = 1024;
const MAX_HEAD: usize = 4096;
const MAX_BODY: usize = 64 * 1024;
/// Connections in the seeded trace.
const TRACE_CONNECTIONS: usize = 30;

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut program = g.stdio()?;
    g.scenario("a whole request in one feed comes back at once, every field exact");
    basics(&mut program, g.rng())?;
    g.scenario(
        "header names are case-insensitive (kept in lowercase), values trimmed, repeated headers kept in order",
    );
    header_names(&mut program, g.rng())?;
    g.scenario(
        "percent-decoding: `+` and `%20` in paths and queries, split before decoding, UTF-8",
    );
    decoding(&mut program)?;
    g.scenario("invalid escapes, non-UTF-8 and non-ASCII bytes in the target get 400");
    bad_targets(&mut program, g.rng())?;
    g.scenario("a request split across many small writes comes back once, with its last byte");
    split_writes(&mut program, g.rng())?;
    g.scenario("several requests in one write (pipelining) come back in order");
    pipelining(&mut program, g.rng())?;
    g.scenario("malformed heads get 400, other HTTP versions 505, and Host is checked");
    malformed(&mut program, g.rng())?;
    g.scenario(
        "the smuggling rules: Content-Length with Transfer-Encoding, or two different lengths, get 400",
    );
    smuggling(&mut program, g.rng())?;
    g.scenario(
        "limits: lines (414, 431), the head (431) and the body (413), refused as soon as they are exceeded",
    );
    limits(&mut program, g.rng())?;
    g.scenario(
        "a seeded trace of connections: valid, split, pipelined and malformed requests mixed",
    );
    trace(&mut program, g.rng())
}

/// One connection carrying `built`, fed in one piece.
fn whole(program: &mut Stdio, built: &Built, rule: &str) -> Result<(), Failure> {
    let expect = Expect {
        requests: vec![(built.bytes.len(), built.json.clone())],
        error: None,
    };
    session::run(program, &built.bytes, &[], &expect, rule)
}

/// One connection carrying `bytes`, fed in one piece, refused with `status`.
fn refused(program: &mut Stdio, bytes: &[u8], status: u16, rule: &str) -> Result<(), Failure> {
    let expect = Expect {
        requests: Vec::new(),
        error: Some(ErrorAt {
            status,
            earliest: 0,
            latest: bytes.len(),
        }),
    };
    session::run(program, bytes, &[], &expect, rule)
}

/// A GET of `target` with a Host header, and what it parses to.
fn get(target: &str, segments: &[&str], query: &[(&str, &str)]) -> Built {
    Parts {
        method: "GET",
        target,
        version: "HTTP/1.1",
        segments,
        query,
        headers: &[("Host", " example.com")],
        body: b"",
    }
    .build()
}

/// A few seeded words: readable bodies and values.
fn words(rng: &mut Rng, count: u64) -> String {
    (0..count)
        .map(|_| {
            let len = rng.range(2, 8) as usize;
            rng.word(len)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn basics(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    whole(
        program,
        &get("/", &[""], &[]),
        "GET / with a Host header comes back whole: the path `/` is one empty segment, there is no query, and \
         no body",
    )?;
    let name = rng.word(6);
    let count = rng.range(2, 6);
    let body = words(rng, count);
    let length = body.len().to_string();
    let built = Parts {
        method: "POST",
        target: &format!("/notes/{name}?draft=1"),
        version: "HTTP/1.1",
        segments: &["notes", &name],
        query: &[("draft", "1")],
        headers: &[
            ("Host", " example.com"),
            ("Content-Type", " text/plain"),
            ("Content-Length", &format!(" {length}")),
        ],
        body: body.as_bytes(),
    }
    .build();
    whole(
        program,
        &built,
        "a POST with `Content-Length` comes back with exactly that many body bytes",
    )?;
    let built = generate::plain_request(rng);
    whole(
        program,
        &built,
        "a complete request fed at once comes back at once: method, target, version, segments, query, headers \
         and body exact",
    )
}

fn header_names(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let host = mixed_case(rng, "host");
    let token = mixed_case(rng, "x-token");
    let again = mixed_case(rng, "x-token");
    let (first, second) = (words(rng, 2), words(rng, 1));
    let built = Parts {
        method: "GET",
        target: "/h",
        version: "HTTP/1.1",
        segments: &["h"],
        query: &[],
        headers: &[
            (&host, " example.com"),
            (&token, &format!("\t {first} \t")),
            (&again, &format!(" {second}")),
            ("Accept", "*/*"),
        ],
        body: b"",
    }
    .build();
    whole(
        program,
        &built,
        "header names are stored in lowercase, values trimmed of spaces and tabs (not the spaces inside), and a \
         header sent twice appears twice, in order",
    )?;

    let length_name = mixed_case(rng, "content-length");
    let count = rng.range(3, 8);
    let body = words(rng, count);
    let built = Parts {
        method: "PUT",
        target: "/doc",
        version: "HTTP/1.1",
        segments: &["doc"],
        query: &[],
        headers: &[
            ("host", " example.com"),
            (&length_name, &format!(" {}", body.len())),
        ],
        body: body.as_bytes(),
    }
    .build();
    whole(
        program,
        &built,
        &format!(
            "`{length_name}` is the Content-Length header (names are case-insensitive): the body is read by it"
        ),
    )?;

    let port = rng.range(1024, 65535);
    let secret = rng.word(8);
    let built = Parts {
        method: "GET",
        target: "/me",
        version: "HTTP/1.1",
        segments: &["me"],
        query: &[],
        headers: &[
            ("Host", &format!(" 127.0.0.1:{port}")),
            ("Authorization", &format!(" Bearer {secret}:x")),
        ],
        body: b"",
    }
    .build();
    whole(
        program,
        &built,
        "a header is split at its first colon: `Host: 127.0.0.1:8080` has the value `127.0.0.1:8080`",
    )?;

    let built = Parts {
        method: "GET",
        target: "/old",
        version: "HTTP/1.0",
        segments: &["old"],
        query: &[],
        headers: &[],
        body: b"",
    }
    .build();
    whole(
        program,
        &built,
        "an HTTP/1.0 request needs no Host header, and may have no header at all",
    )
}

fn decoding(program: &mut Stdio) -> Result<(), Failure> {
    let cases: [(Built, &str); 7] = [
        (
            get("/a+b/c%20d", &["a+b", "c d"], &[]),
            "`+` is a literal plus in a path segment (only a query turns `+` into a space); `%20` is a space",
        ),
        (
            get(
                "/s?k%3D=v%26w&x=1%3D2",
                &["s"],
                &[("k=", "v&w"), ("x", "1=2")],
            ),
            "a query is split on `&` and `=` before decoding: `%26` and `%3D` belong to the name or value they \
             are in",
        ),
        (
            get("/s?q=a+b%20c%2Bd", &["s"], &[("q", "a b c+d")]),
            "in a query both `+` and `%20` are spaces, and `%2B` is a plus",
        ),
        (
            get("/files/a%2Fb/c", &["files", "a/b", "c"], &[]),
            "a path is split on `/` before decoding: `%2F` is a slash inside one segment",
        ),
        (
            get(
                "/caf%C3%A9/%e6%97%a5?w=%E2%82%AC",
                &["café", "日"],
                &[("w", "€")],
            ),
            "escapes are UTF-8 bytes, in either hex case: `%C3%A9` is é, `%e6%97%a5` is 日",
        ),
        (
            get(
                "/a/b/?flag&&x=&y=1&",
                &["a", "b", ""],
                &[("flag", ""), ("x", ""), ("y", "1")],
            ),
            "a trailing slash is an empty last segment; a query piece without `=` has an empty value, and empty \
             pieces between `&`s are skipped",
        ),
        (
            get("/?", &[""], &[]),
            "`/?` is the root path with an empty query: one empty segment, no pairs",
        ),
    ];
    for (built, rule) in cases {
        whole(program, &built, rule)?;
    }
    Ok(())
}

fn bad_targets(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (
            head(b"/a%"),
            "a `%` at the end of the target is not an escape",
        ),
        (
            head(b"/a%4/b"),
            "`%4/` is not an escape: `%` must be followed by two hex digits",
        ),
        (head(b"/a%G1"), "`G` is not a hex digit"),
        (
            head(b"/s?q=%zz"),
            "an invalid escape in the query is refused too",
        ),
        (
            head(b"/%FF"),
            "the decoded bytes must be UTF-8: `%FF` alone is not",
        ),
        (
            head(b"/caf%C3"),
            "the decoded bytes must be UTF-8: `%C3` starts a character that never ends",
        ),
        (
            head(b"/s?q=%C3%28"),
            "the decoded query must be UTF-8: `%C3%28` is not",
        ),
        (
            head(b"/caf\xc3\xa9"),
            "the target is visible ASCII: `é` must arrive percent-encoded, not as raw bytes",
        ),
        (
            head(b"/a\x01b"),
            "the target is visible ASCII: a control byte is refused",
        ),
    ];
    rng.shuffle(&mut cases);
    for (bytes, why) in cases {
        refused(program, &bytes, 400, &format!("400 Bad Request: {why}"))?;
    }
    Ok(())
}

/// `GET <target> HTTP/1.1` with a Host header, as bytes.
fn head(target: &[u8]) -> Vec<u8> {
    let mut bytes = b"GET ".to_vec();
    bytes.extend_from_slice(target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nHost: example.com\r\n\r\n");
    bytes
}

/// Seeded piece sizes, mostly tiny.
fn tiny_pieces(rng: &mut Rng, total: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut sum = 0;
    while sum < total {
        let size = rng.range(1, 8) as usize;
        sizes.push(size);
        sum += size;
    }
    sizes
}

/// Seeded piece sizes of any length.
fn random_pieces(rng: &mut Rng, total: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut sum = 0;
    while sum < total {
        let size = match rng.below(4) {
            0 => rng.range(1, 4),
            1 => rng.range(5, 40),
            _ => rng.range(41, 300),
        } as usize;
        sizes.push(size);
        sum += size;
    }
    sizes
}

fn single(built: &Built) -> Expect {
    Expect {
        requests: vec![(built.bytes.len(), built.json.clone())],
        error: None,
    }
}

fn split_writes(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    // One byte per feed.
    let built = generate::request(rng);
    let ones = vec![1; built.bytes.len()];
    session::run(
        program,
        &built.bytes,
        &ones,
        &single(&built),
        "a request may arrive in many pieces (here one byte per feed): keep the unfinished tail between feeds \
         and return the request with its last byte, not before",
    )?;
    for _ in 0..4 {
        let built = generate::request(rng);
        let sizes = tiny_pieces(rng, built.bytes.len());
        let rule = format!(
            "a request may arrive in many pieces (here {:?}… bytes per feed): keep the unfinished tail between \
             feeds and return the request with its last byte, not before",
            &sizes[..sizes.len().min(8)]
        );
        session::run(program, &built.bytes, &sizes, &single(&built), &rule)?;
    }

    // The blank line torn between its \r and \n, then the body alone.
    let body = words(rng, 4);
    let built = Parts {
        method: "POST",
        target: "/torn",
        version: "HTTP/1.1",
        segments: &["torn"],
        query: &[],
        headers: &[
            ("Host", " example.com"),
            ("Content-Length", &format!(" {}", body.len())),
        ],
        body: body.as_bytes(),
    }
    .build();
    let head_len = built.bytes.len() - body.len();
    session::run(
        program,
        &built.bytes,
        &[head_len - 3, 1, 1, 1, body.len() - 1, 1],
        &single(&built),
        "a request may arrive in many pieces: here the final \\r\\n\\r\\n is torn between feeds and the body \
         comes in two later feeds; keep the unfinished tail between feeds and return the request with its last \
         byte, not before",
    )
}

/// `count` seeded requests back to back, with the offset each one ends at.
fn back_to_back(rng: &mut Rng, count: usize) -> (Vec<u8>, Vec<(usize, Value)>) {
    let mut stream = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..count {
        let built = generate::request(rng);
        stream.extend_from_slice(&built.bytes);
        requests.push((stream.len(), built.json));
    }
    (stream, requests)
}

fn pipelining(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let count = rng.range(3, 5) as usize;
    let (stream, requests) = back_to_back(rng, count);
    session::run(
        program,
        &stream,
        &[],
        &Expect {
            requests,
            error: None,
        },
        &format!(
            "several requests in one feed all come back, in order: here {count} requests in one write; the bytes \
             after one request (after its body) start the next"
        ),
    )?;

    let fake = b"GET /inside-a-body HTTP/1.1\r\nHost: x\r\n\r\n";
    let post = Parts {
        method: "POST",
        target: "/upload",
        version: "HTTP/1.1",
        segments: &["upload"],
        query: &[],
        headers: &[
            ("Host", " example.com"),
            ("Content-Length", &format!(" {}", fake.len())),
        ],
        body: fake,
    }
    .build();
    let next = get("/after", &["after"], &[]);
    let mut stream = post.bytes.clone();
    stream.extend_from_slice(&next.bytes);
    session::run(
        program,
        &stream,
        &[],
        &Expect {
            requests: vec![(post.bytes.len(), post.json), (stream.len(), next.json)],
            error: None,
        },
        "several requests in one feed all come back, in order: a body that looks like a request is only body \
         (Content-Length says where it ends), and the real next request follows it",
    )?;

    let count = rng.range(3, 5) as usize;
    let (mut stream, requests) = back_to_back(rng, count);
    let unfinished = generate::request(rng);
    let cut = rng.range(1, unfinished.bytes.len() as u64 - 1) as usize;
    stream.extend_from_slice(&unfinished.bytes[..cut]);
    let sizes = random_pieces(rng, stream.len());
    session::run(
        program,
        &stream,
        &sizes,
        &Expect {
            requests,
            error: None,
        },
        &format!(
            "{count} pipelined requests and the first {cut} bytes of another, cut at random points: each request \
             comes back with its last byte, in order, and the unfinished one is held"
        ),
    )
}

/// The malformed requests of the contract, one defect each: bytes, status, what is wrong.
fn defects(rng: &mut Rng) -> Vec<(Vec<u8>, u16, String)> {
    let name = format!("X-{}", rng.word(5));
    let word = rng.word(4);
    let host = "Host: example.com\r\n";
    let bad: Vec<(String, u16, &str)> = vec![
        (
            format!("GET  /{word} HTTP/1.1\r\n{host}\r\n"),
            400,
            "two spaces between method and target",
        ),
        (
            format!("GET /{word}\r\n{host}\r\n"),
            400,
            "the request line has no version",
        ),
        (
            format!("GET /{word} HTTP/1.1 extra\r\n{host}\r\n"),
            400,
            "the request line has four parts",
        ),
        (
            format!("GET {word} HTTP/1.1\r\n{host}\r\n"),
            400,
            "the target does not start with /",
        ),
        (
            format!("GET /{word} http/1.1\r\n{host}\r\n"),
            400,
            "the version must be spelled `HTTP/` in capitals",
        ),
        (
            format!("GET /{word} HTTP/1.x\r\n{host}\r\n"),
            400,
            "the version is not HTTP/<digit>.<digit>",
        ),
        (
            format!("G(T /{word} HTTP/1.1\r\n{host}\r\n"),
            400,
            "`(` is not allowed in a method",
        ),
        (
            format!("\r\nGET /{word} HTTP/1.1\r\n{host}\r\n"),
            400,
            "the request line is empty",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name} no colon\r\n\r\n"),
            400,
            "a header line has no colon",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name} : x\r\n\r\n"),
            400,
            "whitespace between a header name and its colon",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name}: a\r\n  folded\r\n\r\n"),
            400,
            "a header line starts with spaces (obsolete line folding)",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name}: a\r\n\tfolded\r\n\r\n"),
            400,
            "a header line starts with a tab (obsolete line folding)",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name}: a\x01b\r\n\r\n"),
            400,
            "a header value holds a control character",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}{name}: a\x7fb\r\n\r\n"),
            400,
            "a header value holds DEL (0x7f), a control character",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\nHost: example.com\n\r\n"),
            400,
            "a header line ends in a bare LF (\\n without \\r)",
        ),
        (
            format!("GET /{word} HTTP/1.1\n{host}\r\n"),
            400,
            "the request line ends in a bare LF (\\n without \\r)",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{name}: 1\r\n\r\n"),
            400,
            "an HTTP/1.1 request without a Host header",
        ),
        (
            format!("GET /{word} HTTP/1.1\r\n{host}hOST: other.example\r\n\r\n"),
            400,
            "two Host headers",
        ),
        (
            format!("GET /{word} HTTP/2.0\r\n{host}\r\n"),
            505,
            "HTTP/2.0 is well-formed but not HTTP/1.x: 505 HTTP Version Not Supported",
        ),
        (
            format!("GET /{word} HTTP/0.9\r\n{host}\r\n"),
            505,
            "HTTP/0.9 is well-formed but not HTTP/1.x: 505 HTTP Version Not Supported",
        ),
    ];
    let mut cases: Vec<(Vec<u8>, u16, String)> = bad
        .into_iter()
        .map(|(text, status, why)| (text.into_bytes(), status, why.to_string()))
        .collect();
    let mut not_utf8 = format!("GET /{word} HTTP/1.1\r\n{host}{name}: caf").into_bytes();
    not_utf8.extend_from_slice(b"\xe9\r\n\r\n");
    cases.push((
        not_utf8,
        400,
        "a header line is not UTF-8 (a raw 0xE9 byte)".to_string(),
    ));
    cases
}

fn malformed(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let mut cases = defects(rng);
    rng.shuffle(&mut cases);
    for (bytes, status, why) in cases {
        let rule = match status {
            505 => why,
            _ => format!("a malformed request gets 400: {why}"),
        };
        refused(program, &bytes, status, &rule)?;
    }
    Ok(())
}

/// A POST head with the given extra header lines, then `body`.
fn post_with(extra: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes =
        format!("POST /submit HTTP/1.1\r\nHost: example.com\r\n{extra}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn smuggling(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let chunked = b"5\r\nhello\r\n0\r\n\r\n";
    let te = mixed_case(rng, "transfer-encoding");
    let mut cases: Vec<(Vec<u8>, u16, String)> = vec![
        (
            post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked),
            400,
            "Content-Length and Transfer-Encoding in one request get 400: a proxy that trusts one and a server \
             that trusts the other see different requests (request smuggling)"
                .to_string(),
        ),
        (
            post_with(&format!("{te}: gzip, chunked\r\nContent-Length: 16\r\n"), chunked),
            400,
            format!(
                "`{te}` (any case, any order) with Content-Length gets 400: two framings in one request is how \
                 requests are smuggled (request smuggling)"
            ),
        ),
        (
            post_with("Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
            400,
            "two Content-Length headers that disagree get 400 (request smuggling): never pick one".to_string(),
        ),
        (
            post_with("Transfer-Encoding: chunked\r\n", chunked),
            501,
            "Transfer-Encoding without Content-Length gets 501 Not Implemented: this parser does not decode \
             chunked bodies"
                .to_string(),
        ),
    ];
    for (value, body) in [
        ("-1", &b""[..]),
        ("+5", b"hello"),
        ("5a", b"hello"),
        ("0x10", b"0123456789abcdef"),
        ("", b""),
        ("5, 5", b"hello"),
        ("1e3", b""),
    ] {
        cases.push((
            post_with(&format!("Content-Length: {value}\r\n"), body),
            400,
            format!(
                "Content-Length is digits only: `{value}` gets 400 (even where Rust's `parse::<usize>()` would \
                 accept it)"
            ),
        ));
    }
    rng.shuffle(&mut cases);
    for (bytes, status, rule) in cases {
        refused(program, &bytes, status, &rule)?;
    }

    let body = words(rng, 3);
    let length = format!(" {}", body.len());
    let built = Parts {
        method: "POST",
        target: "/twice",
        version: "HTTP/1.1",
        segments: &["twice"],
        query: &[],
        headers: &[
            ("Host", " example.com"),
            ("Content-Length", &length),
            ("content-length", &length),
        ],
        body: body.as_bytes(),
    }
    .build();
    whole(
        program,
        &built,
        "two Content-Length lines with the same value frame the request the same way: it is accepted",
    )
}

/// The one path segment that makes `GET /<segment> HTTP/1.1\r\n` exactly `len` bytes long.
fn segment_for_line(len: usize, fill: char) -> String {
    let fixed = "GET / HTTP/1.1\r\n".len();
    std::iter::repeat_n(fill, len - fixed).collect()
}

fn limits(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let fill = *rng.pick(&['a', 'q', 'z', '7']);
    let segment = segment_for_line(MAX_LINE, fill);
    whole(
        program,
        &get(&format!("/{segment}"), &[&segment], &[]),
        "a request line of exactly 1024 bytes (counting its \\r\\n) is within the limit",
    )?;

    let segment = segment_for_line(MAX_LINE + 1, fill);
    let too_long = get(&format!("/{segment}"), &[&segment], &[]);
    let expect = error_at(414, MAX_LINE);
    session::run(
        program,
        &too_long.bytes,
        &[],
        &expect,
        "a request line of 1025 bytes is over the 1024-byte limit: 414 URI Too Long",
    )?;

    let endless: Vec<u8> = format!(
        "GET /{}",
        std::iter::repeat_n(fill, 3 * MAX_LINE).collect::<String>()
    )
    .into_bytes();
    let first = rng.range(500, 1000) as usize;
    session::run(
        program,
        &endless,
        &[first, MAX_LINE - 1 - first, 1, 1, 1],
        &expect,
        "a request line longer than 1024 bytes gets 414 as soon as 1024 bytes have arrived without its \\n: \
         not at 1025, and not when (if ever) the line ends",
    )?;

    // Header lines: exactly at the limit, then one that never ends.
    let value_len = MAX_LINE - "X-Big: \r\n".len();
    let value: String = std::iter::repeat_n(fill, value_len).collect();
    let built = Parts {
        method: "GET",
        target: "/big",
        version: "HTTP/1.1",
        segments: &["big"],
        query: &[],
        headers: &[("Host", " example.com"), ("X-Big", &format!(" {value}"))],
        body: b"",
    }
    .build();
    whole(
        program,
        &built,
        "a header line of exactly 1024 bytes (counting its \\r\\n) is within the limit",
    )?;
    let start = "GET /big HTTP/1.1\r\nHost: example.com\r\n";
    let mut endless = start.as_bytes().to_vec();
    endless.extend(std::iter::repeat_n(b'b', 2 * MAX_LINE));
    let limit_at = start.len() + MAX_LINE;
    session::run(
        program,
        &endless,
        &[start.len() + 10, MAX_LINE - 11, 1, 1],
        &error_at(431, limit_at),
        "a header line longer than 1024 bytes gets 431 as soon as 1024 bytes of it have arrived without its \\n",
    )?;

    // The head: exactly 4096 bytes, then one that never ends.
    let (bytes, json) = head_of(MAX_HEAD, fill);
    session::run(
        program,
        &bytes,
        &[],
        &Expect {
            requests: vec![(bytes.len(), json)],
            error: None,
        },
        "a head of exactly 4096 bytes (request line, headers and the blank line) is within the limit",
    )?;
    let (bytes, _) = head_of(MAX_HEAD + 1, fill);
    session::run(
        program,
        &bytes,
        &[],
        &error_at(431, MAX_HEAD),
        "a head of 4097 bytes is over the 4096-byte limit: 431 Request Header Fields Too Large",
    )?;
    let (mut bytes, _) = head_of(2 * MAX_HEAD, fill);
    bytes.truncate(bytes.len() - 4);
    let before = rng.range(10, 200) as usize;
    session::run(
        program,
        &bytes,
        &[MAX_HEAD - before, before - 1, 1, 1],
        &error_at(431, MAX_HEAD),
        "a head with no blank line gets 431 as soon as 4096 bytes have arrived, even though every line is short",
    )?;

    // The body.
    let body = rng.bytes(MAX_BODY);
    let built = Parts {
        method: "POST",
        target: "/blob",
        version: "HTTP/1.1",
        segments: &["blob"],
        query: &[],
        headers: &[
            ("Host", " example.com"),
            ("Content-Length", &format!(" {MAX_BODY}")),
        ],
        body: &body,
    }
    .build();
    let sizes = random_pieces(rng, 600);
    session::run(
        program,
        &built.bytes,
        &sizes,
        &single(&built),
        "a body of exactly 65536 bytes is within the limit",
    )?;
    for length in [
        (MAX_BODY + 1).to_string(),
        format!("{}", rng.range(100_000_000_000, 999_999_999_999)),
        "99999999999999999999999999".to_string(),
    ] {
        let bytes = post_with(&format!("Content-Length: {length}\r\n"), b"");
        session::run(
            program,
            &bytes,
            &[],
            &error_at(413, bytes.len()),
            &format!(
                "Content-Length: {length} is over the 64 KiB limit: 413 as soon as the head is complete, without \
                 waiting for (or allocating) the body"
            ),
        )?;
    }
    Ok(())
}

/// An error certain exactly when `at` bytes have arrived.
fn error_at(status: u16, at: usize) -> Expect {
    Expect {
        requests: Vec::new(),
        error: Some(ErrorAt {
            status,
            earliest: at,
            latest: at,
        }),
    }
}

/// A GET whose head is exactly `size` bytes, made of short `X-Fill-N` header lines, and its JSON.
fn head_of(size: usize, fill: char) -> (Vec<u8>, Value) {
    let start = "GET /fill HTTP/1.1\r\nHost: example.com\r\n";
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut used = start.len() + 2;
    let mut index = 0;
    while used < size {
        let name = format!("X-Fill-{index}");
        let fixed = name.len() + ": \r\n".len();
        let left = size - used;
        // A line takes at most 100 bytes, and never leaves a remainder too short for a line of its own.
        let take = if left <= 100 {
            left
        } else {
            (left - 30).min(100)
        };
        assert!(take >= fixed, "head_of leaves room for a whole line");
        let value: String = std::iter::repeat_n(fill, take - fixed).collect();
        used += take;
        lines.push((name, value));
        index += 1;
    }
    let mut headers: Vec<(&str, String)> = vec![("Host", " example.com".to_string())];
    headers.extend(lines.iter().map(|(n, v)| (n.as_str(), format!(" {v}"))));
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let built = Parts {
        method: "GET",
        target: "/fill",
        version: "HTTP/1.1",
        segments: &["fill"],
        query: &[],
        headers: &refs,
        body: b"",
    }
    .build();
    assert_eq!(built.bytes.len(), size, "head_of builds exact sizes");
    (built.bytes, built.json)
}

fn trace(program: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let catalogue = defects(rng);
    for index in 0..TRACE_CONNECTIONS {
        let count = rng.range(1, 4) as usize;
        let (mut stream, requests) = back_to_back(rng, count);
        let mut error = None;
        let mut ending = String::new();
        match rng.below(4) {
            0 => {
                let (bytes, status, why) = rng.pick(&catalogue).clone();
                error = Some(ErrorAt {
                    status,
                    earliest: stream.len(),
                    latest: stream.len() + bytes.len(),
                });
                stream.extend_from_slice(&bytes);
                ending = format!(", then a malformed one that gets {status} ({why})");
            }
            1 => {
                let unfinished = generate::request(rng);
                let cut = rng.range(1, unfinished.bytes.len() as u64 - 1) as usize;
                stream.extend_from_slice(&unfinished.bytes[..cut]);
                ending = format!(", then the first {cut} bytes of another");
            }
            _ => {}
        }
        let sizes = if count == 1 && rng.chance(1, 3) {
            tiny_pieces(rng, stream.len())
        } else {
            random_pieces(rng, stream.len())
        };
        let rule = format!(
            "connection {} of {TRACE_CONNECTIONS}: {count} valid request(s){ending}, fed in pieces of {:?}…: \
             each request comes back with its last byte, in order",
            index + 1,
            &sizes[..sizes.len().min(6)]
        );
        session::run(program, &stream, &sizes, &Expect { requests, error }, &rule)?;
    }
    Ok(())
}
