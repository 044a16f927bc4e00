//! Grader of `route1_path_query_params`: a method-and-path router with `:param` capture, percent-decoding,
//! typed query parameters, 404 vs 405, and a trailing-slash redirect, driven over HTTP.
//!
//! Every request is also answered by the grader's own router ([`model`]), and the status, the `Allow` or
//! `Location` header and the JSON body are compared. Fixed cases aim at one rule each (a static segment over a
//! parameter, `%2F` inside a segment, `+` in a path, `%+F`, `+5`, a repeated key, …); seeded ones mix the
//! legal spellings of the same text (escaped or not, `+` or `%20`, upper- or lower-case hex) so that only a
//! router that decodes exactly as the contract says passes. Then the same traffic arrives pipelined, torn into
//! 1-to-3-byte writes, and from a real HTTP client (reqwest).

mod model;

use backlings_grade::http::{self, Request, printable};
use backlings_grade::{Failure, Grading, Rng};

use crate::support::{Http, RealClient, encode_query, encode_segment, tricky_text};

/// One request and the rule it checks.
struct Case {
    method: String,
    target: String,
    rule: String,
}

fn case(method: &str, target: impl Into<String>, rule: impl Into<String>) -> Case {
    Case {
        method: method.to_string(),
        target: target.into(),
        rule: rule.into(),
    }
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut http = Http::start(g, &[])?;

    g.scenario("every route answers with its name and its decoded parameters");
    let cases = route_cases(g.rng());
    run(&mut http, &cases)?;

    g.scenario("a static segment beats a parameter, whatever the order of the table");
    run(&mut http, &precedence_cases())?;

    g.scenario(
        "404 when no pattern matches; 405 with an exact Allow header when only the method is wrong",
    );
    run(&mut http, &not_allowed_cases(g.rng()))?;

    g.scenario("path segments: split first, then decoded; `+` is a plus");
    let cases = path_cases(g.rng());
    run(&mut http, &cases)?;

    g.scenario("malformed escapes and bytes that are not UTF-8 are refused with 400");
    run(&mut http, &malformed_cases())?;

    g.scenario("query strings: `+` and `%20` are spaces, `%2B` a plus, keys decoded too");
    let cases = query_cases(g.rng());
    run(&mut http, &cases)?;

    g.scenario(
        "typed query parameters: defaults, ranges, ASCII digits, every invalid field at once",
    );
    run(&mut http, &typed_cases())?;
    let cases = random_typed_cases(g.rng());
    run(&mut http, &cases)?;

    g.scenario("the trailing-slash policy: 308 to the one true URL, or 404");
    run(&mut http, &trailing_slash_cases())?;

    g.scenario("requests pipelined in one write, and one torn into 1-to-3-byte writes");
    transport(&mut http, g.rng())?;

    g.scenario("a real HTTP client (reqwest) gets the same answers");
    with_reqwest(&mut http)?;
    http.server.ensure_alive()
}

/// Sends every case on the connection and compares each answer with the model's.
fn run(http: &mut Http, cases: &[Case]) -> Result<(), Failure> {
    for case in cases {
        let request = Request::new(&case.method, &case.target);
        let response = http.send(&request)?;
        check(case, &response)?;
    }
    Ok(())
}

fn check(case: &Case, response: &http::Response) -> Result<(), Failure> {
    let answer = model::answer(&case.method, &case.target);
    answer
        .want
        .compare(response, model::normalize)
        .map_err(|mismatch| {
            Failure::new(&case.rule)
                .expected(answer.want.describe())
                .got(mismatch.got)
                .detail(format!("sent: {} {}", case.method, case.target))
                .detail(format!("what differs: {}", mismatch.what))
                .detail(format!("the contract, step by step: {}", answer.story))
        })
}

/// A seeded book id: mostly plain, sometimes with leading zeros.
fn book_id(rng: &mut Rng) -> String {
    let id = rng.range(1, 99_999);
    if rng.chance(1, 4) {
        format!("00{id}")
    } else {
        id.to_string()
    }
}

fn route_cases(rng: &mut Rng) -> Vec<Case> {
    let rule =
        "each route answers 200 with its name and its parameters (`id` and `review` as integers)";
    let (id, review, name, author, draft) = (
        book_id(rng),
        book_id(rng),
        rng.word(5),
        rng.word(6),
        rng.word(4),
    );
    vec![
        case("GET", "/health", rule),
        case("GET", "/books", rule),
        case("POST", "/books", rule),
        case("GET", format!("/books/{id}"), rule),
        case("PUT", format!("/books/{id}"), rule),
        case("DELETE", format!("/books/{id}"), rule),
        case("GET", format!("/books/{id}/reviews/{review}"), rule),
        case("GET", format!("/users/{name}"), rule),
        case("PATCH", format!("/users/{name}"), rule),
        case("GET", format!("/authors/{author}/books"), rule),
        case(
            "GET",
            format!("/authors/{author}/books?ignored=%ZZ"),
            "only GET /books reads the query: other routes ignore it, even a malformed one",
        ),
        case(
            "GET",
            format!("/books/{id}?limit=oops"),
            "only GET /books reads the query: other routes ignore it",
        ),
        case("GET", format!("/authors/new/{draft}"), rule),
    ]
}

fn precedence_cases() -> Vec<Case> {
    let beats = "a static segment beats a parameter, whatever order the routes were added in";
    let earliest = "the first segment where two patterns differ decides: static beats parameter there, \
                    however many static segments come later";
    let own_method = "a route matches only with its own method: a static segment wins only among the routes \
                      of the request's method";
    let whole = "a static segment wins only if its route matches the whole path";
    vec![
        case("GET", "/books/new", beats),
        case("GET", "/users/me", beats),
        case(
            "GET",
            "/users/%6de",
            format!("{beats} (the segment decodes to `me`)"),
        ),
        case(
            "GET",
            "/users/M%45",
            "static segments are compared case-sensitively: `ME` is not `me`",
        ),
        case("GET", "/authors/new/books", earliest),
        case("GET", "/authors/news/books", earliest),
        case("PATCH", "/users/me", own_method),
        case(
            "PUT",
            "/books/new",
            format!("{own_method} (PUT /books/:id with id `new`, which is not an integer: 400)"),
        ),
        case("DELETE", "/books/new", own_method),
        case(
            "GET",
            "/books/new/reviews/12",
            format!(
                "{whole} (so this is /books/:id/reviews/:review, and `new` is not an integer: 400)"
            ),
        ),
        case(
            "GET",
            "/books/x1/reviews/y2",
            "every invalid path parameter is named, in the pattern's order",
        ),
        case(
            "GET",
            "/books/0042",
            "an integer path parameter may have leading zeros",
        ),
    ]
}

fn not_allowed_cases(rng: &mut Rng) -> Vec<Case> {
    let allow = "405 when the path matches a pattern but not with this method, with `Allow` listing the \
                 methods of every pattern that matches the path, sorted, once each";
    let missing = "404 when no pattern matches the path";
    let id = book_id(rng);
    vec![
        case("POST", "/books/new", allow),
        case("POST", format!("/books/{id}"), allow),
        case("DELETE", "/books", allow),
        case("DELETE", "/users/me", allow),
        case("PUT", "/authors/new/books", allow),
        case("OPTIONS", "/health", allow),
        case(
            "get",
            "/books",
            format!("{allow} (methods are case-sensitive: `get` is not `GET`)"),
        ),
        case("GET", "/nope", missing),
        case("DELETE", "/nope/x", missing),
        case("GET", "/", missing),
        case("GET", format!("/books/{id}/reviews"), missing),
        case(
            "GET",
            "/Books",
            format!("{missing} (paths are case-sensitive)"),
        ),
        case(
            "GET",
            "/books%2Fnew",
            "`%2F` is a character of its segment, never a separator: `/books%2Fnew` is one segment, `books/new`, which no pattern matches (404)",
        ),
    ]
}

fn path_cases(rng: &mut Rng) -> Vec<Case> {
    let separator = "`%2F` is a character of its segment, never a separator: the path is split on `/` first, \
                     then each segment is decoded";
    let plus =
        "in a path `+` is a plain plus (only a query reads `+` as a space); `%20` is a space";
    let decoded =
        "a parameter is the segment percent-decoded (hex digits in either case, UTF-8 text)";
    let mut cases = vec![
        case("GET", "/users/a%2Fb", separator),
        case("GET", "/users/..%2F..%2Fetc%2Fpasswd", separator),
        case("GET", "/users/c++", plus),
        case("GET", "/users/a+b%20c", plus),
        case("GET", "/users/caf%C3%a9", decoded),
        case("GET", "/users/%F0%9F%A6%80", decoded),
        case(
            "GET",
            "/b%6Foks/new",
            "static segments are compared with the decoded segment: `b%6Foks` is `books`",
        ),
    ];
    for _ in 0..16 {
        let text = tricky_text(rng, 1, 10);
        let target = match rng.below(4) {
            0 => format!("/users/{}", encode_segment(&text, rng)),
            1 => format!("/authors/{}/books", encode_segment(&text, rng)),
            2 => format!("/authors/new/{}", encode_segment(&text, rng)),
            _ => format!("/users/{}", encode_segment(&text, rng)),
        };
        let method = if target.starts_with("/users/") && rng.chance(1, 2) {
            "PATCH"
        } else {
            "GET"
        };
        cases.push(case(
            method,
            target,
            format!("{decoded}; `%2F` stays inside its segment and `+` stays a plus (this one is the text {text:?})"),
        ));
    }
    cases
}

fn malformed_cases() -> Vec<Case> {
    let escape = "a `%` must be followed by exactly two hex digits, or the path is malformed (400)";
    let utf8 =
        "a segment whose decoded bytes are not UTF-8 is refused with 400, not replaced by `�`";
    let query_escape = "a malformed escape in the query of GET /books is refused with 400";
    let query_utf8 =
        "a query whose decoded bytes are not UTF-8 is refused with 400, not replaced by `�`";
    vec![
        case("GET", "/users/%", escape),
        case("GET", "/users/50%", escape),
        case("GET", "/users/%4", escape),
        case("GET", "/users/%G1", escape),
        case("GET", "/users/a%zzb", escape),
        case(
            "GET",
            "/users/%+F",
            format!("{escape}: `%+F` has a sign, not two hex digits"),
        ),
        case(
            "GET",
            "/nope/%",
            format!("{escape}, whether or not a route would match"),
        ),
        case("GET", "/users/%FF", utf8),
        case("GET", "/users/caf%C3", utf8),
        case(
            "GET",
            "/users/%C0%AF",
            format!("{utf8} (an overlong encoding of `/`)"),
        ),
        case(
            "GET",
            "/users/%ED%A0%80",
            format!("{utf8} (a UTF-16 surrogate)"),
        ),
        case("GET", "/books?q=%", query_escape),
        case("GET", "/books?q=%2", query_escape),
        case("GET", "/books?tag=%zz", query_escape),
        case(
            "GET",
            "/books?%G0=1",
            format!("{query_escape} (in a key too)"),
        ),
        case(
            "GET",
            "/books?q=%+1",
            format!("{query_escape}: `%+1` has a sign, not two hex digits"),
        ),
        case("GET", "/books?q=%FF", query_utf8),
        case("GET", "/books?tag=ok&tag=%C3%28", query_utf8),
    ]
}

fn query_cases(rng: &mut Rng) -> Vec<Case> {
    let space = "in a query `+` and `%20` are spaces and `%2B` is a plus";
    let split = "a query splits on `&`, each pair at its first `=`; empty pairs are skipped; a key without `=` \
                 has an empty value";
    let mut cases = vec![
        case("GET", "/books?q=a+b", space),
        case("GET", "/books?q=a%20b", space),
        case("GET", "/books?q=a%2Bb", space),
        case("GET", "/books?q=c%2B%2B+tips", space),
        case(
            "GET",
            "/books?tag=x&tag=y+z&tag=%2B",
            format!("{space}; every `tag` is kept, in order"),
        ),
        case(
            "GET",
            "/books?li%6Dit=5&%71=found",
            "keys are percent-decoded too: `li%6Dit` is `limit`",
        ),
        case("GET", "/books?&&limit=7&&", split),
        case("GET", "/books?q", split),
        case("GET", "/books?q=a=b=c", split),
        case("GET", "/books?unknown=1&other", "unknown keys are ignored"),
        case("GET", "/books?", "an empty query means every default"),
    ];
    for _ in 0..14 {
        let mut parts = Vec::new();
        for _ in 0..rng.range(1, 3) {
            let tag = tricky_text(rng, 0, 8);
            parts.push(format!("tag={}", encode_query(&tag, rng)));
        }
        if rng.chance(1, 2) {
            let q = tricky_text(rng, 1, 12);
            parts.push(format!("q={}", encode_query(&q, rng)));
        }
        rng.shuffle(&mut parts);
        cases.push(case(
            "GET",
            format!("/books?{}", parts.join("&")),
            format!("{space}; keys and values are percent-decoded exactly once"),
        ));
    }
    cases
}

fn typed_cases() -> Vec<Case> {
    let digits = "integers are ASCII digits only: no sign, no spaces, nothing but 0-9";
    let range = "`limit` is an integer from 1 to 100; `offset` any integer that fits in a u64";
    let words =
        "`sort` is exactly `title`, `year` or `-year`, and `in_stock` exactly `true` or `false`";
    let every = "the 400 lists every invalid field at once, in the contract's order (limit, offset, sort, \
                 in_stock, q), each once";
    let once = "a single-valued key (limit, offset, sort, in_stock, q) may appear at most once: a second \
                occurrence is an error even when both values agree";
    vec![
        case(
            "GET",
            "/books?limit=100&offset=18446744073709551615&sort=-year&in_stock=true",
            range,
        ),
        case(
            "GET",
            "/books?limit=1&offset=0&sort=year&in_stock=false&q=",
            range,
        ),
        case(
            "GET",
            "/books?limit=%2B5",
            format!("{digits} (`+5` is not an integer here)"),
        ),
        case("GET", "/books?offset=-1", digits),
        case("GET", "/books?limit=5%20", digits),
        case(
            "GET",
            "/books?limit=%D9%A3",
            format!("{digits} (`٣` is a digit, but not an ASCII one)"),
        ),
        case("GET", "/books?limit=", digits),
        case("GET", "/books?limit=0", range),
        case("GET", "/books?limit=101", range),
        case(
            "GET",
            "/books?offset=18446744073709551616",
            format!("{range} (one more than u64::MAX)"),
        ),
        case("GET", "/books?sort=YEAR", words),
        case("GET", "/books?in_stock=1", words),
        case("GET", "/books?in_stock", words),
        case("GET", "/books?in_stock=yes&sort=name&limit=0", every),
        case(
            "GET",
            "/books?q=x&in_stock=maybe&offset=1.5&limit=500&sort=title",
            every,
        ),
        case("GET", "/books?limit=5&limit=5", once),
        case("GET", "/books?sort=year&tag=a&sort=title", once),
        case(
            "GET",
            "/books?q=a&q=b&limit=abc",
            format!("{once}; {every}"),
        ),
    ]
}

fn random_typed_cases(rng: &mut Rng) -> Vec<Case> {
    const LIMITS: &[&str] = &[
        "1", "20", "100", "0", "101", "007", "+5", "-3", "", "abc", "5%20", "%35",
    ];
    const OFFSETS: &[&str] = &[
        "0",
        "999",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "1e3",
        "%2B1",
    ];
    const SORTS: &[&str] = &["title", "year", "-year", "Title", "+year", "", "-year%20"];
    const STOCKS: &[&str] = &["true", "false", "TRUE", "1", "", "no"];
    let mut cases = Vec::new();
    for _ in 0..24 {
        let mut parts: Vec<String> = Vec::new();
        for (key, pool) in [
            ("limit", LIMITS),
            ("offset", OFFSETS),
            ("sort", SORTS),
            ("in_stock", STOCKS),
        ] {
            for _ in 0..[0, 1, 1, 1, 2][rng.below(5) as usize] {
                if rng.chance(1, 2) {
                    parts.push(format!("{key}={}", rng.pick(pool)));
                }
            }
        }
        if rng.chance(1, 3) {
            parts.push(format!("q={}", encode_query(&tricky_text(rng, 0, 6), rng)));
        }
        if rng.chance(1, 3) {
            parts.push(format!("tag={}", rng.word(3)));
        }
        if rng.chance(1, 4) {
            parts.push(format!("{}=1", rng.word(4)));
        }
        rng.shuffle(&mut parts);
        cases.push(case(
            "GET",
            format!("/books?{}", parts.join("&")),
            "a seeded query for GET /books is read exactly as the contract's table says",
        ));
    }
    cases
}

fn trailing_slash_cases() -> Vec<Case> {
    let redirect = "a path that matches only without its trailing slash gets 308 with `Location:` the path \
                    without that slash (as sent) and the query";
    let missing = "no trailing-slash redirect unless the path without its one trailing slash matches a pattern: 404";
    vec![
        case("GET", "/books/", redirect),
        case(
            "POST",
            "/books/?draft=1",
            format!("{redirect} (whatever the method: 308 keeps it)"),
        ),
        case("GET", "/books/42/", redirect),
        case("DELETE", "/books/new/", redirect),
        case(
            "GET",
            "/users/a%20b/",
            format!("{redirect} (still encoded)"),
        ),
        case("GET", "/health/?verbose&x=%2B", redirect),
        case("GET", "/books//", missing),
        case("GET", "/nope/", missing),
        case("GET", "/books/1/reviews/", missing),
    ]
}

/// A few requests in one write, then one request written 1 to 3 bytes at a time.
fn transport(http: &mut Http, rng: &mut Rng) -> Result<(), Failure> {
    let mut pool = route_cases(rng);
    pool.extend(trailing_slash_cases());
    pool.extend(not_allowed_cases(rng));
    rng.shuffle(&mut pool);
    let batch: Vec<&Case> = pool.iter().take(6).collect();
    let bytes: Vec<u8> = batch
        .iter()
        .flat_map(|c| Request::new(&c.method, &c.target).to_bytes())
        .collect();
    let connection = http.connection();
    connection.send_raw(&bytes)?;
    for case in &batch {
        let response = connection.read_response(false)?;
        let rule = format!(
            "six requests sent in one write are answered in order on the same connection ({})",
            case.rule
        );
        check(
            &self::case(&case.method, case.target.clone(), rule),
            &response,
        )?;
    }

    let text = tricky_text(rng, 2, 8);
    let torn = case(
        "GET",
        format!(
            "/books?tag={}&limit={}",
            encode_query(&text, rng),
            rng.range(1, 100)
        ),
        "a request written 1 to 3 bytes at a time is read whole and answered like any other",
    );
    let bytes = Request::new(&torn.method, &torn.target).to_bytes();
    let sizes: Vec<usize> = (0..16).map(|_| rng.range(1, 3) as usize).collect();
    let mut stream = http.server.connect()?;
    http::write_in_pieces(&mut stream, &bytes, &sizes)
        .map_err(|e| Failure::new(format!("could not send the torn request: {e}")))?;
    let response = http::read_response(&mut stream, false);
    let got = match &response {
        Ok(response) => response.summary(),
        Err(e) => format!("<{e}>"),
    };
    http.server.record(
        &format!(
            "{} (in {} writes)",
            printable(&bytes),
            bytes.len().div_ceil(2)
        ),
        &got,
    );
    let response = response
        .map_err(|e| Failure::new(format!("{}: no valid response came back: {e}", torn.rule)))?;
    check(&torn, &response)
}

/// The same contract through reqwest (redirects not followed, so the 308 itself is seen).
fn with_reqwest(http: &mut Http) -> Result<(), Failure> {
    let client = RealClient::new()?;
    let rule = "a real HTTP client gets the same answers as raw requests";
    let cases = [
        case("GET", "/books?tag=rust&tag=web+apps&limit=10", rule),
        case("GET", "/users/ada%20lovelace", rule),
        case("PATCH", "/users/me", rule),
        case("POST", "/books/new", rule),
        case("GET", "/books/", rule),
        case("GET", "/books?limit=0&sort=up", rule),
    ];
    for case in &cases {
        let response = client.send(http, &Request::new(&case.method, &case.target))?;
        check(case, &response)?;
    }
    Ok(())
}
