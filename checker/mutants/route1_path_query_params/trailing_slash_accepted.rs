//! mutant: strips a trailing slash and serves the route instead of redirecting
//! expect: gets 308 with `Location:`

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
        // Be lenient: `/books/` is surely `/books`.
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
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
