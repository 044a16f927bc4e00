//! The grader's own router for `route1_path_query_params`: the same route table, the contract's rules written
//! out once more, and a story of each decision for the failure report.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::support::Want;

/// The program's route table: method, pattern, handler name.
pub const ROUTES: [(&str, &str, &str); 13] = [
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
];

/// A route whose pattern matches the path, with what it captures.
struct Candidate {
    method: &'static str,
    pattern: &'static str,
    name: &'static str,
    params: Vec<(String, String)>,
}

/// Path parameters that are integers.
const INTEGER_PARAMS: [&str; 2] = ["id", "review"];

/// What the contract says about one request, and why.
pub struct Answer {
    pub want: Want,
    /// The model's reasoning, in words, for the report.
    pub story: String,
}

/// Decodes like the contract: `%XX` with two hex digits, `+` a space only when `plus_is_space`, UTF-8 result.
pub fn decode(text: &str, plus_is_space: bool) -> Result<String, &'static str> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let digits = tail
                .get(..2)
                .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
                .ok_or("a `%` not followed by two hex digits")?;
            let hex = std::str::from_utf8(digits).expect("hex digits are ASCII");
            bytes.push(u8::from_str_radix(hex, 16).expect("checked hex digits"));
            rest = &tail[2..];
        } else {
            bytes.push(if first == b'+' && plus_is_space {
                b' '
            } else {
                first
            });
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| "bytes that are not UTF-8")
}

/// A pattern's segments as written: `books`, or `:id` for a parameter.
fn pattern_segments(pattern: &str) -> Vec<&str> {
    pattern[1..].split('/').collect()
}

/// The captured parameters in pattern order, or `None` when `pattern` does not match `segments`.
fn capture(pattern: &str, segments: &[String]) -> Option<Vec<(String, String)>> {
    let parts = pattern_segments(pattern);
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix(':') {
            Some(name) if !segment.is_empty() => params.push((name.to_string(), segment.clone())),
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    Some(params)
}

fn is_more_specific(a: &str, b: &str) -> bool {
    let kinds = |p: &str| -> Vec<bool> {
        pattern_segments(p)
            .iter()
            .map(|s| !s.starts_with(':'))
            .collect()
    };
    kinds(a) > kinds(b)
}

fn json_want(status: u16, body: Value) -> Want {
    Want::status(status)
        .header("Content-Type", "application/json")
        .json(body)
}

/// The contract's answer to `method target`.
pub fn answer(method: &str, target: &str) -> Answer {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut story = String::new();
    let Some(rest) = path.strip_prefix('/') else {
        return Answer {
            want: json_want(404, json!({"error": "not found"})),
            story: "the path does not start with `/`".to_string(),
        };
    };
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        match decode(raw, false) {
            Ok(segment) => segments.push(segment),
            Err(why) => {
                return Answer {
                    want: json_want(400, json!({"error": "malformed path"})),
                    story: format!(
                        "the path segment `{raw}` holds {why}: the path is malformed (400)"
                    ),
                };
            }
        }
    }
    let _ = write!(
        story,
        "the path splits into {} segment(s), each decoded on its own: {:?}",
        segments.len(),
        segments
    );

    let matching: Vec<Candidate> = ROUTES
        .iter()
        .filter_map(|&(method, pattern, name)| {
            capture(pattern, &segments).map(|params| Candidate {
                method,
                pattern,
                name,
                params,
            })
        })
        .collect();
    if matching.is_empty() {
        let trimmed = path.strip_suffix('/').filter(|t| !t.is_empty());
        if let Some(trimmed) = trimmed {
            let shorter = &segments[..segments.len() - 1];
            if let Some((_, pattern, _)) = ROUTES
                .iter()
                .find(|(_, pattern, _)| capture(pattern, shorter).is_some())
            {
                let location = match query {
                    Some(query) => format!("{trimmed}?{query}"),
                    None => trimmed.to_string(),
                };
                let _ = write!(
                    story,
                    "; no pattern matches, but without its trailing slash the path matches {pattern}: \
                     308 to `{location}` (the path as sent, then the query)"
                );
                return Answer {
                    want: Want::status(308).header("Location", location),
                    story,
                };
            }
        }
        let _ = write!(story, "; no pattern matches it: 404");
        return Answer {
            want: json_want(404, json!({"error": "not found"})),
            story,
        };
    }

    let mut listed = String::new();
    for Candidate {
        method: m,
        pattern,
        name,
        ..
    } in &matching
    {
        let _ = write!(
            listed,
            "{}{m} {pattern} ({name})",
            if listed.is_empty() { "" } else { ", " }
        );
    }
    let _ = write!(story, "; the patterns that match it: {listed}");
    let mut best: Option<&Candidate> = None;
    for candidate in matching.iter().filter(|c| c.method == method) {
        if best.is_none_or(|b| is_more_specific(candidate.pattern, b.pattern)) {
            best = Some(candidate);
        }
    }
    let Some(Candidate {
        pattern,
        name,
        params,
        ..
    }) = best
    else {
        let mut allow: Vec<&str> = matching.iter().map(|c| c.method).collect();
        allow.sort_unstable();
        allow.dedup();
        let allow = allow.join(", ");
        let _ = write!(
            story,
            "; none of them for the method `{method}`: 405 with `Allow: {allow}` (every method of every matching \
             pattern, sorted, once each)"
        );
        return Answer {
            want: json_want(405, json!({"error": "method not allowed"})).header("Allow", allow),
            story,
        };
    };
    let rivals = matching.iter().filter(|c| c.method == method).count();
    if rivals > 1 {
        let _ = write!(
            story,
            "; for `{method}` the most specific is {pattern} ({name}): at the first segment where the patterns \
             differ, a static segment beats a parameter"
        );
    } else {
        let _ = write!(story, "; for `{method}` that is {pattern} ({name})");
    }

    let mut typed = Map::new();
    let mut bad = Vec::new();
    for (param, value) in params {
        if INTEGER_PARAMS.contains(&param.as_str()) {
            match parse_unsigned(value) {
                Some(number) => {
                    typed.insert(param.clone(), json!(number));
                }
                None => bad.push(param.clone()),
            }
        } else {
            typed.insert(param.clone(), json!(value));
        }
    }
    if !bad.is_empty() {
        let _ = write!(
            story,
            "; {} must be integers (ASCII digits, fitting in a u64): 400 naming {:?}",
            bad.join(" and "),
            bad
        );
        return Answer {
            want: json_want(
                400,
                json!({"error": "invalid path parameter", "fields": bad}),
            ),
            story,
        };
    }
    let mut body = json!({"route": name, "params": typed});
    if *name == "list_books" {
        match book_query(query.unwrap_or(""), &mut story) {
            Ok(query) => body["query"] = query,
            Err(error) => {
                return Answer {
                    want: json_want(400, error),
                    story,
                };
            }
        }
    }
    Answer {
        want: json_want(200, body),
        story,
    }
}

/// ASCII digits only, fitting in a u64.
pub fn parse_unsigned(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The typed query of `GET /books`, or the 400 body (with `fields` as a list of names).
fn book_query(query: &str, story: &mut String) -> Result<Value, Value> {
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (decode(key, true), decode(value, true)) {
            (Ok(key), Ok(value)) => pairs.push((key, value)),
            (Err(why), _) | (_, Err(why)) => {
                let _ = write!(
                    story,
                    "; the query pair `{pair}` holds {why}: the query is malformed (400)"
                );
                return Err(json!({"error": "malformed query"}));
            }
        }
    }
    let _ = write!(story, "; the query decodes to {pairs:?}");
    let values = |key: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mut bad: Vec<(&str, String)> = Vec::new();
    let mut typed = Map::new();
    type Parse = fn(&str) -> Option<Value>;
    let scalars: [(&str, Value, Parse); 5] = [
        ("limit", json!(20), |v| {
            parse_unsigned(v)
                .filter(|n| (1..=100).contains(n))
                .map(Value::from)
        }),
        ("offset", json!(0), |v| parse_unsigned(v).map(Value::from)),
        ("sort", json!("title"), |v| {
            ["title", "year", "-year"].contains(&v).then(|| json!(v))
        }),
        ("in_stock", json!(false), |v| match v {
            "true" => Some(json!(true)),
            "false" => Some(json!(false)),
            _ => None,
        }),
        ("q", Value::Null, |v| Some(json!(v))),
    ];
    for (key, default, parse) in scalars {
        match values(key).as_slice() {
            [] => {
                typed.insert(key.to_string(), default);
            }
            [value] => match parse(value) {
                Some(parsed) => {
                    typed.insert(key.to_string(), parsed);
                }
                None => bad.push((key, format!("`{value}` is not valid"))),
            },
            many => bad.push((key, format!("given {} times", many.len()))),
        }
    }
    typed.insert("tags".to_string(), json!(values("tag")));
    if bad.is_empty() {
        return Ok(Value::Object(typed));
    }
    let reasons: Vec<String> = bad.iter().map(|(k, why)| format!("{k}: {why}")).collect();
    let _ = write!(
        story,
        "; invalid: {} (all of them listed, in the contract's order limit, offset, sort, in_stock, q)",
        reasons.join("; ")
    );
    let fields: Vec<&str> = bad.iter().map(|(k, _)| *k).collect();
    Err(json!({"error": "invalid query", "fields": fields}))
}

/// The program's body as the grader compares it: the `fields` of a 400 become their names (a reason is free
/// text, but must be a non-empty string: otherwise the entry is kept whole and differs).
pub fn normalize(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(fields) = body.get_mut("fields").and_then(Value::as_array_mut) {
        for field in fields.iter_mut() {
            let has_reason = field
                .get("reason")
                .and_then(Value::as_str)
                .is_some_and(|r| !r.is_empty());
            if let (Some(name), true) = (field.get("field").cloned(), has_reason) {
                *field = name;
            }
        }
    }
    body
}
