//! mutant: lets the first registered route that matches answer (Express-style), so the order of the table decides
//! expect: a static segment beats every other kind

use std::collections::BTreeMap;
use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use regex::Regex;
use serde_json::json;

/// One segment of a route pattern.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Exactly this text.
    Static(String),
    /// `{name:regex}`: one segment the regex matches entirely (compiled already anchored).
    Regex { name: String, regex: Regex },
    /// `{name}`: any one non-empty segment.
    Param(String),
    /// `*`: any one non-empty segment, not captured.
    Wildcard,
    /// `*name`: one or more segments to the end of the path.
    CatchAll(String),
}

impl Segment {
    /// How specific this kind of segment is: lower wins (static 0 … catch-all 4).
    pub fn rank(&self) -> u8 {
        match self {
            Segment::Static(_) => 0,
            Segment::Regex { .. } => 1,
            Segment::Param(_) => 2,
            Segment::Wildcard => 3,
            Segment::CatchAll(_) => 4,
        }
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses one pattern into segments, or says why it is invalid.
pub fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, String> {
    let rest = pattern
        .strip_prefix('/')
        .ok_or_else(|| format!("`{pattern}` does not start with `/`"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let segment = if let Some(inner) = part.strip_prefix('{') {
            let inner = inner
                .strip_suffix('}')
                .ok_or_else(|| format!("`{part}` opens `{{` but does not end with `}}`"))?;
            match inner.split_once(':') {
                Some((name, source)) => {
                    if !is_name(name) {
                        return Err(format!("`{name}` in `{part}` is not a parameter name"));
                    }
                    let regex = Regex::new(&format!("^(?:{source})$"))
                        .map_err(|e| format!("the regex of `{part}` does not compile: {e}"))?;
                    Segment::Regex {
                        name: name.to_string(),
                        regex,
                    }
                }
                None if is_name(inner) => Segment::Param(inner.to_string()),
                None => return Err(format!("`{part}` is not a parameter name")),
            }
        } else if *part == "*" {
            Segment::Wildcard
        } else if let Some(name) = part.strip_prefix('*') {
            if !is_name(name) {
                return Err(format!("`{part}` is not a catch-all name"));
            }
            if index + 1 != parts.len() {
                return Err(format!("the catch-all `{part}` must be the last segment"));
            }
            Segment::CatchAll(name.to_string())
        } else if part.is_empty() {
            return Err(format!("`{pattern}` has an empty segment"));
        } else if part.contains(['{', '}', '*']) {
            return Err(format!("`{part}` mixes static text with `{{`, `}}` or `*`"));
        } else {
            Segment::Static(part.to_string())
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// One route: a name and its pattern.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub segments: Vec<Segment>,
}

impl Route {
    /// The parameters this route captures from the path's `segments`, or `None` if it does not match.
    pub fn captures(&self, segments: &[&str]) -> Option<BTreeMap<String, String>> {
        let mut params = BTreeMap::new();
        for (index, pattern) in self.segments.iter().enumerate() {
            if let Segment::CatchAll(name) = pattern {
                let rest = segments.get(index..).filter(|rest| !rest.is_empty())?;
                params.insert(name.clone(), rest.join("/"));
                return Some(params);
            }
            let segment = *segments.get(index)?;
            match pattern {
                Segment::Static(text) if text == segment => {}
                Segment::Regex { name, regex } if regex.is_match(segment) => {
                    params.insert(name.clone(), segment.to_string());
                }
                Segment::Param(name) => {
                    params.insert(name.clone(), segment.to_string());
                }
                Segment::Wildcard => {}
                _ => return None,
            }
        }
        (segments.len() == self.segments.len()).then_some(params)
    }

    /// The ranks of the segments, compared lexicographically: smaller is more specific.
    fn ranks(&self) -> Vec<u8> {
        self.segments.iter().map(Segment::rank).collect()
    }
}

/// A route table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Adds a route after the others (provided: you do not need to change this).
    pub fn add(&mut self, name: &str, pattern: &str) -> Result<(), String> {
        let segments = parse_pattern(pattern)?;
        self.routes.push(Route {
            name: name.to_string(),
            segments,
        });
        Ok(())
    }

    /// The route that answers `path`, with its parameters, by the precedence rule.
    pub fn lookup(&self, path: &str) -> Option<(&str, BTreeMap<String, String>)> {
        let rest = path.strip_prefix('/')?;
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        let mut best: Option<(&Route, BTreeMap<String, String>)> = None;
        for route in &self.routes {
            let Some(params) = route.captures(&segments) else {
                continue;
            };
            // The first route that matches answers, as in Express.
            return Some((route.name.as_str(), params));
        }
        best.map(|(route, params)| (route.name.as_str(), params))
    }
}

/// Answers one request (provided: you do not need to change this).
pub fn handle(router: &Router, request: &Request) -> Response {
    let (status, body) = match router.lookup(request.path()) {
        Some((name, params)) => (200, json!({"route": name, "params": params})),
        None => (404, json!({"error": "not found"})),
    };
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// The table used when no `--route` is given, to try the server by hand.
const DEMO: [(&str, &str); 6] = [
    ("files_new", "/files/new"),
    ("file_by_id", "/files/{id:[0-9]+}"),
    ("file_by_slug", "/files/{slug}"),
    ("file_raw", "/files/*/raw"),
    ("files_rest", "/files/*rest"),
    ("root", "/"),
];

/// Reads `--route NAME=PATTERN`... into a router (provided: you do not need to change this).
fn router_from_args() -> Result<Router, String> {
    let mut router = Router::default();
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_none() {
        for (name, pattern) in DEMO {
            router.add(name, pattern)?;
        }
    }
    while let Some(flag) = args.next() {
        if flag != "--route" {
            return Err(format!("unknown argument `{flag}`"));
        }
        let route = args.next().ok_or("--route needs NAME=PATTERN")?;
        let (name, pattern) = route
            .split_once('=')
            .ok_or_else(|| format!("`{route}` is not NAME=PATTERN"))?;
        router
            .add(name, pattern)
            .map_err(|why| format!("invalid route `{name}`: {why}"))?;
    }
    Ok(router)
}

/// Serves the table over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let router = match router_from_args() {
        Ok(router) => router,
        Err(why) => {
            eprintln!("error: {why}\nusage: route2_route_types [--route NAME=PATTERN]...");
            return ExitCode::from(2);
        }
    };
    match serve(move |request| handle(&router, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
