//! Grader of `http6_negotiation_compression`: one catalogue of books, four formats, three content codings.
//!
//! Every response is taken apart the way a client would: the `Content-Encoding` undone (gzip, zlib-`deflate`),
//! the body decoded by its `Content-Type` with a strict decoder per format (JSON, XML, MessagePack maps, RFC 4180
//! CSV), and the books compared with the grader's own copy of the catalogue, which grows with the books the
//! grader POSTs. Which format and which coding each request must get comes from the grader's own reading of the
//! contract ([`model`]), over a fixed list of classic headers and a seeded matrix of random ones; a failure says
//! the weight the contract gives each format or coding, and why.

mod decode;
mod model;

use std::time::Duration;

use backlings_grade::http::printable;
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::{Value, json};

use crate::wire::{Broken, Conn, Wire, preview};
use model::{
    Book, CODINGS, Choice, FORMATS, MIN_COMPRESS, catalogue, choose_coding, choose_format,
};

/// How long one answer may take; a correct server answers in milliseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Random headers per matrix.
const RANDOM_CASES: usize = 24;

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut server = g.server()?;
    let mut books = catalogue();
    let mut conn = Conn::open(&mut server, ANSWER_WITHIN)?;

    g.scenario("each format carries the same books: JSON, XML, MessagePack and CSV decode to the catalogue");
    formats(&mut server, &mut conn, &books, g.rng())?;
    g.scenario(
        "Accept q-values, wildcards and specificity choose the format; nothing acceptable is 406",
    );
    accept_matrix(&mut server, &mut conn, &books, g.rng())?;
    g.scenario("Accept-Encoding chooses gzip, deflate (zlib) or identity; bodies under 256 bytes stay uncompressed");
    encoding_matrix(&mut server, &mut conn, &books, g.rng())?;
    g.scenario("POST /books reads JSON and MessagePack (201); another Content-Type is 415; unacceptable is 406");
    posts(&mut server, &mut conn, &mut books, g.rng())?;
    g.scenario("the stored books come back in every format and coding");
    stored(&mut server, &mut conn, &books, g.rng())?;
    g.scenario("a real HTTP client (reqwest) reads and creates books");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("the grader could not start its HTTP client: {e}")))?;
    runtime.block_on(with_reqwest(&mut server, &mut books, g.rng()))?;
    server.ensure_alive()
}

// ----- requests and their checks --------------------------------------------------------------------------------

/// One request to send.
#[derive(Debug, Clone, Default)]
struct Ask {
    method: &'static str,
    target: String,
    accept: Option<String>,
    accept_encoding: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Ask {
    fn get(target: impl Into<String>) -> Ask {
        Ask {
            method: "GET",
            target: target.into(),
            ..Ask::default()
        }
    }

    fn accept(mut self, accept: Option<&str>) -> Ask {
        self.accept = accept.map(str::to_string);
        self
    }

    fn accept_encoding(mut self, accept_encoding: Option<&str>) -> Ask {
        self.accept_encoding = accept_encoding.map(str::to_string);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            self.method, self.target
        );
        for (name, value) in [
            ("Accept", &self.accept),
            ("Accept-Encoding", &self.accept_encoding),
            ("Content-Type", &self.content_type),
        ] {
            if let Some(value) = value {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        if self.method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The request in one line for rules: `GET /books with Accept: … and Accept-Encoding: …`.
    fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.target);
        let mut with = Vec::new();
        for (name, value) in [
            ("Content-Type", &self.content_type),
            ("Accept", &self.accept),
            ("Accept-Encoding", &self.accept_encoding),
        ] {
            match value {
                Some(value) => with.push(format!("`{name}: {}`", printable(value.as_bytes()))),
                None if name != "Content-Type" => with.push(format!("no {name}")),
                None => {}
            }
        }
        line.push_str(&format!(" with {}", with.join(", ")));
        line
    }
}

/// A response in one line: status, headers, and the body undone and decoded where possible.
fn describe(wire: &Wire) -> String {
    let mut line = wire.status_line.clone();
    for (name, value) in &wire.headers {
        line.push_str(&format!(" · {name}: {value}"));
    }
    let coding = wire.header("content-encoding");
    let body = match decode::decompress(coding, &wire.kept) {
        Ok(plain) if coding.is_some() => {
            line.push_str(&format!(
                " · {} bytes that inflate to {}",
                wire.kept.len(),
                plain.len()
            ));
            plain
        }
        _ => wire.kept.clone(),
    };
    let shown = if wire.header("content-type") == Some("application/msgpack") {
        match rmp_serde::from_slice::<Value>(&body) {
            Ok(value) => format!("MessagePack of {value}"),
            Err(_) => format!("\"{}\"", preview(&body, body.len() as u64)),
        }
    } else {
        format!("\"{}\"", preview(&body, body.len() as u64))
    };
    line.push_str(&format!(" · body {shown}"));
    line
}

/// Sends `ask` on the connection (reopened if the server closed it) and reads the response.
fn exchange(server: &mut Server, conn: &mut Conn, ask: &Ask) -> Result<Wire, Failure> {
    let bytes = ask.bytes();
    let mut got = Err(Broken {
        why: String::new(),
        seen: Vec::new(),
        nothing: true,
    });
    for _attempt in 0..2 {
        let _ = conn.send(&bytes);
        got = conn.read_whole();
        match &got {
            // A connection the server closed between two requests: try once more on a new one.
            Err(broken) if broken.nothing => *conn = Conn::open(server, ANSWER_WITHIN)?,
            _ => break,
        }
    }
    let shown = match &got {
        Ok(wire) => describe(wire),
        Err(broken) => format!("<{}>", broken.describe()),
    };
    server.record(&preview(&bytes, bytes.len() as u64), &shown);
    got.map_err(|broken| {
        if let Err(dead) = server.ensure_alive_after_a_moment() {
            return dead.detail(format!("while: {}", ask.describe()));
        }
        Failure::new(format!("{} gets a response", ask.describe())).got(broken.describe())
    })
}

/// Whether the response says it varies on both negotiation headers.
fn varies(wire: &Wire) -> bool {
    let tokens: Vec<String> = wire
        .headers_named("vary")
        .iter()
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect();
    tokens.iter().any(|t| t == "accept") && tokens.iter().any(|t| t == "accept-encoding")
}

/// How big the body of a response is sure to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// One short book: under [`MIN_COMPRESS`] in every format.
    Small,
    /// A list of books: well over it.
    Large,
}

/// What a negotiated response must be: the status, the books it carries, and its size class.
struct Want<'a> {
    status: u16,
    value: &'a Value,
    many: bool,
    size: Size,
}

/// Checks a negotiated response against the contract: status (or 406), `Content-Type`, `Vary`,
/// `Content-Encoding`, then the body undone, decoded and compared.
fn check(wire: &Wire, ask: &Ask, want: &Want<'_>, rule: &str) -> Result<(), Failure> {
    let format = choose_format(ask.accept.as_deref());
    let body_len = match want.size {
        Size::Small => 0,
        Size::Large => usize::MAX,
    };
    let coding = choose_coding(ask.accept_encoding.as_deref(), body_len);
    let got = describe(wire);
    let (Some(format_index), Some(coding_index)) = (format.chosen, coding.chosen) else {
        let why = if format.chosen.is_none() {
            &format
        } else {
            &coding
        };
        let expected = "HTTP/1.1 406 Not Acceptable · Vary: Accept, Accept-Encoding";
        let fail = || {
            Failure::new(rule)
                .expected(expected)
                .got(&got)
                .detail(&why.why)
        };
        if wire.status != 406 {
            return Err(fail());
        }
        if !varies(wire) {
            return Err(fail().detail(VARY_WHY));
        }
        return Ok(());
    };
    let (media_type, content_type) = FORMATS[format_index];
    let coding_name = CODINGS[coding_index];
    let expected = format!(
        "HTTP/1.1 {} · Content-Type: {content_type} · Vary: Accept, Accept-Encoding · {} · {} as {media_type}",
        want.status,
        match coding_name {
            "identity" => "no Content-Encoding".to_string(),
            name => format!("Content-Encoding: {name}"),
        },
        if want.many { "the books" } else { "the book" }
    );
    let fail = || Failure::new(rule).expected(&expected).got(&got);
    let explained = |failure: Failure, choice: &Choice| failure.detail(&choice.why);
    if wire.status != want.status {
        let failure = explained(fail(), &format);
        return Err(if wire.status == 406 {
            failure.detail(&coding.why)
        } else {
            failure
        });
    }
    if wire.header("content-type") != Some(content_type) {
        return Err(explained(fail(), &format));
    }
    if !varies(wire) {
        return Err(fail().detail(VARY_WHY));
    }
    let sent_coding = wire.header("content-encoding");
    let expected_coding = (coding_name != "identity").then_some(coding_name);
    let plain = decode::decompress(sent_coding, &wire.kept).map_err(|why| fail().detail(why))?;
    if sent_coding != expected_coding {
        let mut failure = explained(fail(), &coding);
        if want.size == Size::Small && plain.len() >= MIN_COMPRESS {
            failure = failure.detail(format!(
                "(this book's body is {} bytes before compression: the grader expected every encoding of it to stay \
                 well under {MIN_COMPRESS} bytes)",
                plain.len()
            ));
        }
        return Err(failure);
    }
    let decoded =
        decode::decode(format_index, &plain, want.many).map_err(|why| fail().detail(why))?;
    if &decoded != want.value {
        return Err(fail().detail(difference(&decoded, want.value, format_index)));
    }
    Ok(())
}

const VARY_WHY: &str = "a negotiated response must say which request headers chose it, `Vary: Accept, \
                        Accept-Encoding`, or a cache in front of the server hands this representation to clients that \
                        asked for another";

/// The first difference between the decoded books and the expected ones, in words.
fn difference(got: &Value, expected: &Value, format_index: usize) -> String {
    let hint = match format_index {
        1 => " (XML text is escaped: `&amp;`, `&lt;`, `&gt;`)",
        3 => {
            " (a CSV field holding `,`, `\"` or a line break is quoted, its quotes doubled: RFC 4180)"
        }
        _ => "",
    };
    let pairs: Vec<(&Value, &Value)> = match (got, expected) {
        (Value::Array(got), Value::Array(expected)) => {
            if got.len() != expected.len() {
                return format!(
                    "the body holds {} books, the catalogue has {} (in id order){hint}",
                    got.len(),
                    expected.len()
                );
            }
            got.iter().zip(expected).collect()
        }
        _ => vec![(got, expected)],
    };
    for (got, expected) in pairs {
        if got != expected {
            if let (Some(got_map), Some(expected_map)) = (got.as_object(), expected.as_object()) {
                for (field, value) in expected_map {
                    if got_map.get(field) != Some(value) {
                        return format!(
                            "book {}: `{field}` must be {value}, got {}{hint}",
                            expected["id"],
                            got_map
                                .get(field)
                                .map_or("nothing".to_string(), Value::to_string)
                        );
                    }
                }
                return format!(
                    "book {} has fields beyond the five of the contract: {got}",
                    expected["id"]
                );
            }
            return format!("expected the book {expected}, got {got}{hint}");
        }
    }
    "the books differ".to_string()
}

fn list(books: &[Book]) -> Value {
    Value::Array(books.iter().map(Book::value).collect())
}

fn small_book<'a>(books: &'a [Book], rng: &mut Rng) -> &'a Book {
    let small: Vec<&Book> = books.iter().filter(|book| book.is_small()).collect();
    small[rng.below(small.len() as u64) as usize]
}

// ----- the scenarios ----------------------------------------------------------------------------------------------

fn formats(
    server: &mut Server,
    conn: &mut Conn,
    books: &[Book],
    rng: &mut Rng,
) -> Result<(), Failure> {
    let all = list(books);
    for (media_type, _) in FORMATS {
        let ask = Ask::get("/books").accept(Some(media_type));
        let wire = exchange(server, conn, &ask)?;
        let want = Want {
            status: 200,
            value: &all,
            many: true,
            size: Size::Large,
        };
        let rule = format!(
            "{}: every book, in id order, as {media_type} (the catalogue's titles hold commas, quotes, `&`, `<` and a \
             line break: each format must carry them exactly)",
            ask.describe()
        );
        check(&wire, &ask, &want, &rule)?;
    }
    for (media_type, _) in FORMATS {
        let book = rng.pick(books);
        let value = book.value();
        let ask = Ask::get(format!("/books/{}", book.id)).accept(Some(media_type));
        let wire = exchange(server, conn, &ask)?;
        let want = Want {
            status: 200,
            value: &value,
            many: false,
            size: Size::Large,
        };
        let rule = format!("{}: that one book as {media_type}", ask.describe());
        check(&wire, &ask, &want, &rule)?;
    }
    Ok(())
}

/// `Accept` headers every run tries first, each the classic case of one rule.
const CLASSIC_ACCEPTS: [Option<&str>; 14] = [
    None,
    Some("*/*"),
    Some("text/csv"),
    Some("application/xml;q=0.9, text/csv"),
    Some(
        "application/json;q=0.1, application/xml;q=0.2, application/msgpack;q=0.3, text/csv;q=0.25",
    ),
    Some("*/*, application/json;q=0"),
    Some("*/*, application/json;q=0.5"),
    Some("application/*;q=0.2, */*;q=0.9"),
    Some("application/msgpack;q=0.5, application/xml;q=0.5"),
    Some("TEXT/CSV;Q=0.7, application/XML; q=0.3"),
    Some("text/csv;q=2, application/msgpack;q=0.1"),
    Some("text/html"),
    Some("application/json;q=0"),
    Some("text/*;q=0.5, application/json;q=0.4, text/csv;q=0"),
];

fn accept_matrix(
    server: &mut Server,
    conn: &mut Conn,
    books: &[Book],
    rng: &mut Rng,
) -> Result<(), Failure> {
    let mut headers: Vec<Option<String>> = CLASSIC_ACCEPTS
        .iter()
        .map(|h| h.map(str::to_string))
        .collect();
    headers.extend((0..RANDOM_CASES).map(|_| Some(model::random_accept(rng))));
    for accept in headers {
        let book = small_book(books, rng);
        let value = book.value();
        let ask = Ask::get(format!("/books/{}", book.id)).accept(accept.as_deref());
        let wire = exchange(server, conn, &ask)?;
        let want = Want {
            status: 200,
            value: &value,
            many: false,
            size: Size::Small,
        };
        let rule = format!(
            "{}: the format with the highest weight (the q of its most specific matching range), or 406 when every \
             format weighs 0",
            ask.describe()
        );
        check(&wire, &ask, &want, &rule)?;
    }
    Ok(())
}

/// `Accept-Encoding` headers every run tries first, with the size of the body they ask about.
const CLASSIC_CODINGS: [(Option<&str>, Size); 16] = [
    (None, Size::Large),
    (Some("gzip"), Size::Large),
    (Some("deflate"), Size::Large),
    (Some("gzip, deflate"), Size::Large),
    (Some("gzip;q=0.5, deflate"), Size::Large),
    (Some("gzip;q=0.5"), Size::Large),
    (Some("gzip;q=0.5, identity"), Size::Large),
    (Some("gzip;q=0"), Size::Large),
    (Some("*"), Size::Large),
    (Some("*;q=0.2, gzip;q=0.1"), Size::Large),
    (Some("br, zstd"), Size::Large),
    (Some("identity;q=0"), Size::Large),
    (Some("*;q=0"), Size::Large),
    (Some("gzip"), Size::Small),
    (Some("deflate, identity;q=0"), Size::Small),
    (Some("GZIP;Q=0.8, identity;q=0.9"), Size::Large),
];

fn encoding_matrix(
    server: &mut Server,
    conn: &mut Conn,
    books: &[Book],
    rng: &mut Rng,
) -> Result<(), Failure> {
    let mut cases: Vec<(Option<String>, Size)> = CLASSIC_CODINGS
        .iter()
        .map(|(header, size)| (header.map(str::to_string), *size))
        .collect();
    for _ in 0..RANDOM_CASES {
        let size = if rng.chance(2, 3) {
            Size::Large
        } else {
            Size::Small
        };
        cases.push((Some(model::random_accept_encoding(rng)), size));
    }
    let all = list(books);
    for (accept_encoding, size) in cases {
        let (media_type, _) = *rng.pick(&FORMATS);
        let single;
        let (target, value, many) = match size {
            Size::Large => ("/books".to_string(), &all, true),
            Size::Small => {
                let book = small_book(books, rng);
                single = book.value();
                (format!("/books/{}", book.id), &single, false)
            }
        };
        let ask = Ask::get(target)
            .accept(Some(media_type))
            .accept_encoding(accept_encoding.as_deref());
        let wire = exchange(server, conn, &ask)?;
        let want = Want {
            status: 200,
            value,
            many,
            size,
        };
        let rule = format!(
            "{}: the coding with the highest weight (`deflate` is the zlib format), identity for a body under {} \
             bytes when identity is acceptable, 406 when no coding is",
            ask.describe(),
            MIN_COMPRESS
        );
        check(&wire, &ask, &want, &rule)?;
    }
    Ok(())
}

/// A seeded new book, as the grader's model stores it once created.
fn new_book(rng: &mut Rng, id: u32) -> Book {
    Book {
        id,
        title: model::tricky_text(rng),
        author: model::tricky_text(rng),
        year: rng.range(1450, 2025) as i32,
        price_cents: rng.below(100_000) as u32,
    }
}

fn new_book_json(book: &Book) -> Value {
    json!({ "title": book.title, "author": book.author, "year": book.year, "price_cents": book.price_cents })
}

fn next_id(books: &[Book]) -> u32 {
    books.iter().map(|book| book.id).max().unwrap_or(0) + 1
}

fn posts(
    server: &mut Server,
    conn: &mut Conn,
    books: &mut Vec<Book>,
    rng: &mut Rng,
) -> Result<(), Failure> {
    for (content_type, packed) in [
        ("application/json", false),
        ("application/msgpack", true),
        ("Application/JSON; charset=utf-8", false),
    ] {
        let book = new_book(rng, next_id(books));
        let fields = new_book_json(&book);
        let body = if packed {
            rmp_serde::to_vec_named(&fields).unwrap_or_default()
        } else {
            fields.to_string().into_bytes()
        };
        let (media_type, _) = *rng.pick(&FORMATS);
        let ask = Ask {
            method: "POST",
            target: "/books".to_string(),
            accept: Some(media_type.to_string()),
            content_type: Some(content_type.to_string()),
            body,
            ..Ask::default()
        };
        let wire = exchange(server, conn, &ask)?;
        let value = book.value();
        let rule = format!(
            "{} and the new book {}: 201 with `Location: /books/{}` and the stored book (the next id) as {media_type}",
            ask.describe(),
            fields,
            book.id
        );
        let want = Want {
            status: 201,
            value: &value,
            many: false,
            size: Size::Small,
        };
        check(&wire, &ask, &want, &rule)?;
        let location = format!("/books/{}", book.id);
        if wire.header("location") != Some(location.as_str()) {
            return Err(Failure::new(rule)
                .expected(format!("Location: {location}"))
                .got(describe(&wire)));
        }
        books.push(book);
    }

    let valid = new_book_json(&new_book(rng, 0)).to_string().into_bytes();
    for content_type in [
        Some("text/plain"),
        Some("application/xml"),
        None,
        Some("application/json-patch+json"),
        Some("application/jsonx"),
    ] {
        let ask = Ask {
            method: "POST",
            target: "/books".to_string(),
            accept: Some("application/json".to_string()),
            content_type: content_type.map(str::to_string),
            body: valid.clone(),
            ..Ask::default()
        };
        let wire = exchange(server, conn, &ask)?;
        let rule = format!(
            "{}: this server reads application/json and application/msgpack bodies only (the media type before \
             `;`, compared whole, not by prefix): 415 Unsupported Media Type with `Accept-Post`, and nothing stored",
            ask.describe()
        );
        let accept_post = wire
            .headers_named("accept-post")
            .join(",")
            .to_ascii_lowercase();
        if wire.status != 415
            || !accept_post.contains("application/json")
            || !accept_post.contains("application/msgpack")
        {
            return Err(Failure::new(rule)
                .expected("HTTP/1.1 415 Unsupported Media Type · Accept-Post: application/json, application/msgpack")
                .got(describe(&wire)));
        }
    }

    for (accept, accept_encoding) in [
        (Some("image/png"), None),
        (Some("text/csv"), Some("identity;q=0")),
    ] {
        let ask = Ask {
            method: "POST",
            target: "/books".to_string(),
            accept: accept.map(str::to_string),
            accept_encoding: accept_encoding.map(str::to_string),
            content_type: Some("application/json".to_string()),
            body: valid.clone(),
        };
        let wire = exchange(server, conn, &ask)?;
        let rule = format!(
            "{}: the client cannot read any answer, so nothing is stored: 406 with Vary",
            ask.describe()
        );
        let placeholder = Value::Null;
        let want = Want {
            status: 201,
            value: &placeholder,
            many: false,
            size: Size::Small,
        };
        check(&wire, &ask, &want, &rule)?;
    }

    let ask = Ask {
        method: "POST",
        target: "/books".to_string(),
        accept: Some("application/json".to_string()),
        content_type: Some("application/json".to_string()),
        body: format!("{{\"title\":\"{}\"}}", rng.word(6)).into_bytes(),
        ..Ask::default()
    };
    let wire = exchange(server, conn, &ask)?;
    if wire.status != 400 {
        return Err(Failure::new(format!(
            "{} and a body without `author`, `year` and `price_cents`: 400, and nothing stored",
            ask.describe()
        ))
        .expected("HTTP/1.1 400 Bad Request")
        .got(describe(&wire)));
    }
    Ok(())
}

fn stored(
    server: &mut Server,
    conn: &mut Conn,
    books: &[Book],
    rng: &mut Rng,
) -> Result<(), Failure> {
    let all = list(books);
    let mut order: Vec<usize> = (0..FORMATS.len()).collect();
    rng.shuffle(&mut order);
    for index in order {
        let (media_type, _) = FORMATS[index];
        let coding = *rng.pick(&[
            "gzip",
            "deflate",
            "gzip, deflate;q=0.5",
            "deflate;q=0.9, gzip;q=0.1",
        ]);
        let ask = Ask::get("/books")
            .accept(Some(media_type))
            .accept_encoding(Some(coding));
        let wire = exchange(server, conn, &ask)?;
        let want = Want {
            status: 200,
            value: &all,
            many: true,
            size: Size::Large,
        };
        let rule = format!(
            "{}: the catalogue and the {} books created by POST (and not the refused ones), in id order",
            ask.describe(),
            books.len() - catalogue().len()
        );
        check(&wire, &ask, &want, &rule)?;
    }
    Ok(())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

async fn with_reqwest(
    server: &mut Server,
    books: &mut Vec<Book>,
    rng: &mut Rng,
) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new(format!("the grader could not build its HTTP client: {e}")))?;

    let rule = "a real HTTP client (reqwest) GETs /books with `Accept: application/json`: every book as JSON";
    let response = client
        .get(server.url("/books"))
        .header("Accept", "application/json")
        .send()
        .await;
    let (status, body) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            (
                status,
                response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            )
        }
        Err(e) => {
            server.ensure_alive()?;
            return Err(Failure::new(rule).got(format!("the client failed: {}", error_chain(&e))));
        }
    };
    server.record(
        "reqwest GET /books (Accept: application/json)",
        &format!("{status} · body \"{}\"", preview(&body, body.len() as u64)),
    );
    let expected = list(books);
    if status != 200 || serde_json::from_slice::<Value>(&body).ok() != Some(expected.clone()) {
        return Err(Failure::new(rule)
            .expected(format!("200 · {expected}"))
            .got(format!(
                "{status} · body \"{}\"",
                preview(&body, body.len() as u64)
            )));
    }

    let book = new_book(rng, next_id(books));
    let fields = new_book_json(&book);
    let rule = format!(
        "a real HTTP client (reqwest) POSTs the JSON {fields} to /books: 201 and the stored book as JSON"
    );
    let response = client
        .post(server.url("/books"))
        .header("Accept", "application/json")
        .json(&fields)
        .send()
        .await;
    let (status, location, body) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
            (
                status,
                location,
                response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            )
        }
        Err(e) => {
            server.ensure_alive()?;
            return Err(Failure::new(rule).got(format!("the client failed: {}", error_chain(&e))));
        }
    };
    let got = format!(
        "{status} · Location: {} · body \"{}\"",
        location.as_deref().unwrap_or("(none)"),
        preview(&body, body.len() as u64)
    );
    server.record(&format!("reqwest POST /books {fields}"), &got);
    let location_wanted = format!("/books/{}", book.id);
    if status != 201
        || location.as_deref() != Some(location_wanted.as_str())
        || serde_json::from_slice::<Value>(&body).ok() != Some(book.value())
    {
        return Err(Failure::new(rule)
            .expected(format!(
                "201 · Location: {location_wanted} · {}",
                book.value()
            ))
            .got(got));
    }
    books.push(book);
    Ok(())
}
