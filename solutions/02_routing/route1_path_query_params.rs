//! # Routing: from a method and a URL to a handler, with path and query parameters
//!
//! Every web framework starts a request's life the same way: it looks at the **method** and the **path**,
//! finds the handler registered for that pair, and hands it the pieces of the URL it asked for. In
//!
//! ```text
//! GET /users/ada%20lovelace/books?tag=math&tag=history&limit=5 HTTP/1.1
//! ```
//!
//! the route `GET /users/:name/books` matches, the **path parameter** `name` is `ada lovelace` (it names
//! *which* resource), and the **query parameters** say *how* to show it: `tag` twice (a list) and `limit`
//! once (a number, 20 when absent). Path parameters identify, query parameters filter, sort and page.
//!
//! This exercise is that first step: a route table, the match, the two kinds of parameters, and the answers
//! a router gives when nothing matches. The server loop is ready-made (`backlings_harness::http`); the
//! provided `main` and `handle` turn your decisions into responses.
//!
//! ## Why it matters in production
//!
//! The router is the first code an attacker's URL reaches. Decode a path before splitting it and
//! `/files/a%2F..%2Fsecret` walks out of its directory; read `+` as a space in a path and `/tags/c++`
//! becomes `/tags/c  `; accept `limit=+5` or ignore a second `limit` and two layers (a cache, a WAF, your
//! handler) read the same URL differently (HTTP parameter pollution). Answering `404` where `405` is due hides
//! a client's real mistake, and a missing `Allow` header breaks tools that rely on it.
//!
//! ## The contract (what the grader checks)
//!
//! **Patterns** are `/`-separated segments: a static segment (`books`) matches exactly that text; `:name`
//! matches any *non-empty* segment and captures it. A pattern matches a path with the same number of segments.
//!
//! **Matching** (`Router::route`):
//! 1. Split the raw path (the target before `?`, still percent-encoded) on `/`, then percent-decode each
//!    segment on its own: `%2F` inside a segment is a character of that segment, never a separator. In a path
//!    `+` is a plain `+`. A malformed escape or a segment that does not decode to UTF-8 is an error (400).
//!    Static segments are compared with the decoded text, so `/b%6Foks` is `/books`.
//! 2. A route matches when its method equals the request's (methods are case-sensitive) and its pattern
//!    matches the path. Among matching routes the **most specific** wins: compare the patterns segment by
//!    segment from the left; at the first segment where one is static and the other a parameter, the static
//!    one wins. So `GET /books/new` beats `GET /books/:id` for `/books/new`, whatever the order they were
//!    added in, and `/authors/new/:draft` beats `/authors/:author/books` for `/authors/new/books`. A static
//!    segment only wins if its route matches the *whole* path: `/books/new/reviews/7` is
//!    `/books/:id/reviews/:review` with `id = "new"`.
//! 3. No route matches, but some route's pattern matches the path with another method: **405**, with an
//!    `Allow` header listing the methods of *every* route whose pattern matches the path, sorted, each once,
//!    joined by `, ` (`Allow: DELETE, GET, PUT`).
//! 4. No pattern matches the path at all: if the path ends with `/` (and is not just `/`) and the path without
//!    that one slash matches some pattern (any method), **308 Permanent Redirect** with `Location:` the path
//!    without the slash, as sent (still encoded), followed by `?` and the query if the target had one. 308,
//!    not 301: a client repeats a POST as a POST. Otherwise **404**. Trailing slashes are never silently
//!    accepted, so every resource has exactly one URL.
//!
//! **Query strings** (`parse_query`) are `&`-separated pairs, each split at its first `=` (no `=`: the value is
//! empty); empty pairs (`a=1&&b=2`) are skipped. Keys and values are percent-decoded, and here `+` means a
//! space (`%2B` is a `+`). A malformed escape or non-UTF-8 bytes anywhere in the query: 400.
//!
//! **`GET /books` reads typed query parameters** (`BookQuery::from_pairs`); other routes ignore the query:
//!
//! | key | type | default | valid values |
//! |---|---|---|---|
//! | `limit` | integer | `20` | ASCII digits only, 1 to 100 |
//! | `offset` | integer | `0` | ASCII digits only, fits in a `u64` |
//! | `sort` | text | `title` | `title`, `year` or `-year` |
//! | `in_stock` | boolean | `false` | `true` or `false` exactly |
//! | `q` | text | none | anything |
//! | `tag` | list of text | empty | anything; every occurrence, in order |
//!
//! Unknown keys are ignored. `limit`, `offset`, `sort`, `in_stock` and `q` may appear at most once: a second
//! occurrence is an error for that field even if both values agree. The 400 lists **every** invalid field at
//! once, in the table's order, each once, so a client fixes its request in one round trip. Path parameters
//! named `id` and `review` are integers with the same rule as `offset` (their errors listed in the pattern's
//! order).
//!
//! The provided `handle` turns this into responses (all `application/json`):
//! `200 {"route":"get_book","params":{"id":42}}` (plus `"query":{…}` for `list_books`), `400
//! {"error":"invalid query","fields":[{"field":"limit","reason":"…"}]}` (or `"invalid path parameter"`), `400
//! {"error":"malformed path"}` / `{"error":"malformed query"}`, `404`, `405` with `Allow`, `308` with `Location`.
//!
//! ## Pitfalls
//!
//! - Decoding the whole path before splitting it: `%2F` turns into a separator.
//! - One decoder for both halves of the URL: `+` is a space only in a query (an HTML form encoding).
//! - `u8::from_str_radix` on the two characters after `%` accepts `%+F`; `"+5".parse::<u64>()` is `Ok(5)`.
//! - `String::from_utf8_lossy` turns bad bytes into `�` instead of refusing them.
//! - First registered route wins: then the order of a table decides, not the rule.
//! - A 405 whose `Allow` lists only the methods of the most specific pattern (`/books/new` also matches
//!   `/books/:id`, which allows `PUT` and `DELETE`).
//!
//! Roadmap: URL mapping (routing) [001 §2.1]; path vs query parameters [001 §2.2].

use std::collections::BTreeMap;
use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use serde_json::{Map, Value, json};

/// Why a piece of a URL could not be percent-decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// Percent-decodes `input`: `%XX` (hex digits in either case) becomes the byte `0xXX`, and `+` becomes a space
/// when `plus_is_space` (in a query) or stays a `+` (in a path). The bytes must form UTF-8.
pub fn percent_decode(input: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = input.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let low = bytes.get(i + 2).and_then(|&b| hex_value(b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(DecodeError::BadEscape);
                };
                decoded.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                i += 1;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query string (without the `?`) into decoded `(key, value)` pairs, in order.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, DecodeError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// Parses an unsigned integer written with ASCII digits only (no sign, no spaces), or says why not.
pub fn parse_unsigned(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("must not be empty".to_string());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not made of ASCII digits only"));
    }
    text.parse::<u64>()
        .map_err(|_| format!("`{text}` is too large"))
}

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this (decoded) text.
    Static(String),
    /// `:name`: matches any non-empty segment and captures it under `name`.
    Param(String),
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method, e.g. `GET` (case-sensitive).
    pub method: String,
    /// The pattern's segments, e.g. `[Static("books"), Param("id")]` for `/books/:id`.
    pub segments: Vec<Segment>,
    /// The handler's name, e.g. `get_book`.
    pub name: &'static str,
}

/// What the router decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// The most specific route for this method and path, with its decoded parameters.
    Found {
        name: &'static str,
        params: BTreeMap<String, String>,
    },
    /// The path matches some pattern, but not with this method: the methods that would match, sorted, once each.
    MethodNotAllowed { allow: Vec<String> },
    /// The path with one trailing slash removed matches a pattern: redirect there (the raw path, no query).
    RedirectTo(String),
    /// Nothing matches.
    NotFound,
}

/// A method-and-path routing table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// An empty table.
    pub fn new() -> Self {
        Router::default()
    }

    /// Registers `name` for `method` and `pattern` (provided: you do not need to change this).
    pub fn add(&mut self, method: &str, pattern: &str, name: &'static str) {
        let segments = pattern
            .trim_start_matches('/')
            .split('/')
            .map(|segment| match segment.strip_prefix(':') {
                Some(param) => Segment::Param(param.to_string()),
                None => Segment::Static(segment.to_string()),
            })
            .collect();
        self.routes.push(Route {
            method: method.to_string(),
            segments,
            name,
        });
    }

    /// Decides what answers `method` on the raw (still encoded) `path`. See the contract in the header.
    pub fn route(&self, method: &str, path: &str) -> Result<RouteMatch, DecodeError> {
        let Some(rest) = path.strip_prefix('/') else {
            return Ok(RouteMatch::NotFound);
        };
        let segments = rest
            .split('/')
            .map(|segment| percent_decode(segment, false))
            .collect::<Result<Vec<_>, _>>()?;

        let matching: Vec<(&Route, BTreeMap<String, String>)> = self
            .routes
            .iter()
            .filter_map(|route| captures(route, &segments).map(|params| (route, params)))
            .collect();
        if matching.is_empty() {
            if let Some(trimmed) = path.strip_suffix('/').filter(|t| !t.is_empty()) {
                let shorter = &segments[..segments.len() - 1];
                if self
                    .routes
                    .iter()
                    .any(|route| captures(route, shorter).is_some())
                {
                    return Ok(RouteMatch::RedirectTo(trimmed.to_string()));
                }
            }
            return Ok(RouteMatch::NotFound);
        }

        let best = matching
            .iter()
            .filter(|(route, _)| route.method == method)
            .max_by_key(|(route, _)| specificity(route));
        if let Some((route, params)) = best {
            return Ok(RouteMatch::Found {
                name: route.name,
                params: params.clone(),
            });
        }
        let mut allow: Vec<String> = matching
            .iter()
            .map(|(route, _)| route.method.clone())
            .collect();
        allow.sort();
        allow.dedup();
        Ok(RouteMatch::MethodNotAllowed { allow })
    }
}

/// The parameters `route` captures from the decoded `segments`, or `None` if its pattern does not match.
fn captures(route: &Route, segments: &[String]) -> Option<BTreeMap<String, String>> {
    if route.segments.len() != segments.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (pattern, segment) in route.segments.iter().zip(segments) {
        match pattern {
            Segment::Static(text) if text == segment => {}
            Segment::Param(name) if !segment.is_empty() => {
                params.insert(name.clone(), segment.clone());
            }
            _ => return None,
        }
    }
    Some(params)
}

/// Compared lexicographically, a larger key is more specific: `true` (static) beats `false` (parameter) at the
/// first segment where two patterns differ.
fn specificity(route: &Route) -> Vec<bool> {
    route
        .segments
        .iter()
        .map(|segment| matches!(segment, Segment::Static(_)))
        .collect()
}

/// How `GET /books` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// `title` (the default).
    Title,
    /// `year`: oldest first.
    Year,
    /// `-year`: newest first.
    YearDescending,
}

impl Sort {
    /// The query value that means this order.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Title => "title",
            Sort::Year => "year",
            Sort::YearDescending => "-year",
        }
    }
}

/// The typed query of `GET /books`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookQuery {
    pub limit: u64,
    pub offset: u64,
    pub sort: Sort,
    pub in_stock: bool,
    pub q: Option<String>,
    pub tags: Vec<String>,
}

/// One invalid field, for the 400 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The key, e.g. `limit`.
    pub field: String,
    /// Why, in words for the client.
    pub reason: String,
}

impl FieldError {
    /// An error for `field`, with a reason for the client.
    fn new(field: &str, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl BookQuery {
    /// Reads the typed query from decoded pairs: defaults for absent keys, every invalid field reported.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<BookQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = scalar(pairs, "limit", &mut errors, 20, |text| {
            let limit = parse_unsigned(text)?;
            if (1..=100).contains(&limit) {
                Ok(limit)
            } else {
                Err(format!("{limit} is not between 1 and 100"))
            }
        });
        let offset = scalar(pairs, "offset", &mut errors, 0, parse_unsigned);
        let sort = scalar(pairs, "sort", &mut errors, Sort::Title, |text| match text {
            "title" => Ok(Sort::Title),
            "year" => Ok(Sort::Year),
            "-year" => Ok(Sort::YearDescending),
            _ => Err(format!("`{text}` is not one of title, year, -year")),
        });
        let in_stock = scalar(pairs, "in_stock", &mut errors, false, |text| match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("`{text}` is not true or false")),
        });
        let q = scalar(pairs, "q", &mut errors, None, |text| {
            Ok(Some(text.to_string()))
        });
        let tags = pairs
            .iter()
            .filter(|(key, _)| key == "tag")
            .map(|(_, value)| value.clone())
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(BookQuery {
            limit,
            offset,
            sort,
            in_stock,
            q,
            tags,
        })
    }
}

/// Reads the single-valued field `key`: `default` when absent, an error when repeated or when `parse` refuses.
fn scalar<T>(
    pairs: &[(String, String)],
    key: &str,
    errors: &mut Vec<FieldError>,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> T {
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect();
    match values.as_slice() {
        [] => default,
        [value] => parse(value).unwrap_or_else(|reason| {
            errors.push(FieldError::new(key, reason));
            default
        }),
        _ => {
            errors.push(FieldError::new(
                key,
                format!("given {} times; at most once", values.len()),
            ));
            default
        }
    }
}

/// The route table of this service (provided: you do not need to change this). The order is deliberate: the
/// rule, not the order, decides which route answers.
fn router() -> Router {
    let mut router = Router::new();
    for (method, pattern, name) in [
        ("GET", "/health", "health"),
        ("GET", "/books", "list_books"),
        ("POST", "/books", "create_book"),
        ("GET", "/books/:id", "get_book"),
        ("PUT", "/books/:id", "replace_book"),
        ("DELETE", "/books/:id", "delete_book"),
        ("GET", "/books/new", "new_book_form"),
        ("GET", "/books/:id/reviews/:review", "get_review"),
        ("GET", "/users/:name", "get_user"),
        ("PATCH", "/users/:name", "update_user"),
        ("GET", "/users/me", "get_me"),
        ("GET", "/authors/:author/books", "author_books"),
        ("GET", "/authors/new/:draft", "author_draft"),
    ] {
        router.add(method, pattern, name);
    }
    router
}

/// Path parameters that are integers.
const INTEGER_PARAMS: [&str; 2] = ["id", "review"];

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

fn invalid(error: &str, fields: &[FieldError]) -> Response {
    let fields: Vec<Value> = fields
        .iter()
        .map(|f| json!({"field": f.field, "reason": f.reason}))
        .collect();
    json_response(400, &json!({"error": error, "fields": fields}))
}

/// Answers one request (provided: you do not need to change this).
pub fn handle(router: &Router, request: &Request) -> Response {
    let (name, params) = match router.route(&request.method, request.path()) {
        Err(_) => return json_response(400, &json!({"error": "malformed path"})),
        Ok(RouteMatch::NotFound) => return json_response(404, &json!({"error": "not found"})),
        Ok(RouteMatch::MethodNotAllowed { allow }) => {
            return json_response(405, &json!({"error": "method not allowed"}))
                .with_header("Allow", allow.join(", "));
        }
        Ok(RouteMatch::RedirectTo(path)) => {
            let location = match request.query() {
                Some(query) => format!("{path}?{query}"),
                None => path,
            };
            return Response::new(308).with_header("Location", location);
        }
        Ok(RouteMatch::Found { name, params }) => (name, params),
    };

    // Typed path parameters, in the pattern's order (a BTreeMap would sort them by name).
    let mut typed = Map::new();
    let mut errors = Vec::new();
    let route = router.routes.iter().find(|r| r.name == name);
    for segment in route.map_or(&[][..], |r| &r.segments[..]) {
        let Segment::Param(param) = segment else {
            continue;
        };
        let value = &params[param];
        if INTEGER_PARAMS.contains(&param.as_str()) {
            match parse_unsigned(value) {
                Ok(number) => typed.insert(param.clone(), json!(number)),
                Err(reason) => {
                    errors.push(FieldError::new(param, reason));
                    continue;
                }
            };
        } else {
            typed.insert(param.clone(), json!(value));
        }
    }
    if !errors.is_empty() {
        return invalid("invalid path parameter", &errors);
    }

    let mut body = json!({"route": name, "params": typed});
    if name == "list_books" {
        let pairs = match parse_query(request.query().unwrap_or("")) {
            Ok(pairs) => pairs,
            Err(_) => return json_response(400, &json!({"error": "malformed query"})),
        };
        match BookQuery::from_pairs(&pairs) {
            Ok(query) => {
                body["query"] = json!({
                    "limit": query.limit,
                    "offset": query.offset,
                    "sort": query.sort.as_str(),
                    "in_stock": query.in_stock,
                    "q": query.q,
                    "tags": query.tags,
                });
            }
            Err(errors) => return invalid("invalid query", &errors),
        }
    }
    json_response(200, &body)
}

/// Serves the route table over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let router = router();
    match serve(move |request| handle(&router, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &'static str, params: &[(&str, &str)]) -> RouteMatch {
        RouteMatch::Found {
            name,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    // `+` is a space only in a query; `%2B` is always a `+`; hex digits may be in either case.
    #[test]
    fn plus_means_space_only_in_queries() {
        assert_eq!(percent_decode("c++%20x", false).unwrap(), "c++ x");
        assert_eq!(percent_decode("a+b%2bc", true).unwrap(), "a b+c");
        assert_eq!(percent_decode("caf%C3%a9", false).unwrap(), "café");
    }

    // A `%` must be followed by two hex digits, and the bytes must be UTF-8.
    #[test]
    fn malformed_escapes_and_bad_utf8_are_refused() {
        for bad in ["%", "%4", "%G1", "%+F", "50%"] {
            assert_eq!(
                percent_decode(bad, false),
                Err(DecodeError::BadEscape),
                "{bad}"
            );
        }
        assert_eq!(percent_decode("%FF", true), Err(DecodeError::NotUtf8));
        assert_eq!(percent_decode("%C3", true), Err(DecodeError::NotUtf8));
    }

    // Pairs split at the first `=`, empty pairs are skipped, a key alone has an empty value.
    #[test]
    fn query_pairs_are_split_and_decoded() {
        assert_eq!(
            parse_query("tag=a+b&&x==y&flag&k%65y=%3D").unwrap(),
            pairs(&[("tag", "a b"), ("x", "=y"), ("flag", ""), ("key", "=")])
        );
        assert_eq!(parse_query("a=%zz"), Err(DecodeError::BadEscape));
    }

    // The static segment beats the parameter whatever the registration order; methods are per route.
    #[test]
    fn static_segments_win_over_parameters() {
        let router = router();
        assert_eq!(
            router.route("GET", "/books/new").unwrap(),
            found("new_book_form", &[])
        );
        assert_eq!(
            router.route("GET", "/books/42").unwrap(),
            found("get_book", &[("id", "42")])
        );
        assert_eq!(
            router.route("PATCH", "/users/me").unwrap(),
            found("update_user", &[("name", "me")])
        );
        assert_eq!(
            router.route("GET", "/authors/new/books").unwrap(),
            found("author_draft", &[("draft", "books")])
        );
        assert_eq!(
            router.route("GET", "/books/new/reviews/7").unwrap(),
            found("get_review", &[("id", "new"), ("review", "7")])
        );
    }

    // `%2F` stays inside its segment; `+` stays a plus in a path.
    #[test]
    fn path_segments_are_decoded_after_splitting() {
        let router = router();
        assert_eq!(
            router.route("GET", "/users/a%2Fb+c").unwrap(),
            found("get_user", &[("name", "a/b+c")])
        );
        assert_eq!(
            router.route("GET", "/users/%6De").unwrap(),
            found("get_me", &[])
        );
        assert_eq!(
            router.route("GET", "/users/%ZZ"),
            Err(DecodeError::BadEscape)
        );
    }

    // 405 lists the methods of every pattern that matches the path; 404 when none does.
    #[test]
    fn method_not_allowed_lists_every_matching_method() {
        let router = router();
        let allow = |list: &[&str]| RouteMatch::MethodNotAllowed {
            allow: list.iter().map(|m| m.to_string()).collect(),
        };
        assert_eq!(
            router.route("POST", "/books/new").unwrap(),
            allow(&["DELETE", "GET", "PUT"])
        );
        assert_eq!(
            router.route("get", "/books").unwrap(),
            allow(&["GET", "POST"])
        );
        assert_eq!(router.route("GET", "/nope").unwrap(), RouteMatch::NotFound);
        assert_eq!(
            router.route("GET", "/books/").unwrap(),
            RouteMatch::RedirectTo("/books".to_string())
        );
        assert_eq!(
            router.route("GET", "/books//").unwrap(),
            RouteMatch::NotFound
        );
    }

    // Absent keys take their defaults; tags keep their order.
    #[test]
    fn the_book_query_has_defaults() {
        let query =
            BookQuery::from_pairs(&pairs(&[("tag", "b"), ("x", "1"), ("tag", "a")])).unwrap();
        assert_eq!(
            query,
            BookQuery {
                limit: 20,
                offset: 0,
                sort: Sort::Title,
                in_stock: false,
                q: None,
                tags: vec!["b".to_string(), "a".to_string()],
            }
        );
    }

    // Every invalid field is reported at once, in the contract's order; a repeated scalar is invalid.
    #[test]
    fn every_invalid_field_is_reported() {
        let errors = BookQuery::from_pairs(&pairs(&[
            ("in_stock", "yes"),
            ("limit", "+5"),
            ("sort", "year"),
            ("sort", "year"),
            ("offset", "3"),
        ]))
        .unwrap_err();
        assert_eq!(fields(errors), ["limit", "sort", "in_stock"]);
        assert!(parse_unsigned("0").is_ok() && parse_unsigned("99999999999999999999").is_err());
    }
}
