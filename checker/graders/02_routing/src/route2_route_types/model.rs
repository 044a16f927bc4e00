//! The grader's reference router for `route2_route_types`: the contract's pattern syntax and precedence,
//! written out once more, with a story of each decision for the failure report.

use std::fmt::Write as _;

use regex::Regex;
use serde_json::{Map, Value, json};

/// The kinds of segment, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Static,
    Regex,
    Param,
    Wildcard,
    CatchAll,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Regex => "regex",
            Kind::Param => "parameter",
            Kind::Wildcard => "wildcard",
            Kind::CatchAll => "catch-all",
        }
    }
}

/// One parsed segment.
#[derive(Debug, Clone)]
struct Part {
    kind: Kind,
    /// The static text, or the parameter's name (empty for a wildcard).
    text: String,
    regex: Option<Regex>,
}

/// One route of a table.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub pattern: String,
    parts: Vec<Part>,
}

/// A table the grader knows to be valid.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub routes: Vec<Route>,
}

impl Table {
    /// Builds a table from `(name, pattern)` pairs in registration order. Panics on an invalid pattern: the
    /// grader only builds valid ones (the invalid tables are sent as text, never parsed here).
    pub fn new(routes: &[(String, String)]) -> Self {
        let routes = routes
            .iter()
            .map(|(name, pattern)| Route {
                name: name.clone(),
                pattern: pattern.clone(),
                parts: parse(pattern),
            })
            .collect();
        Table { routes }
    }

    /// The program's arguments for this table.
    pub fn args(&self) -> Vec<String> {
        self.routes
            .iter()
            .flat_map(|r| ["--route".to_string(), format!("{}={}", r.name, r.pattern)])
            .collect()
    }

    /// The table in one line, for a report.
    pub fn describe(&self) -> String {
        let listed: Vec<String> = self
            .routes
            .iter()
            .map(|r| format!("{} {}", r.name, r.pattern))
            .collect();
        listed.join(" · ")
    }

    /// The contract's answer for `path`: status, JSON body, and the story of the decision.
    pub fn answer(&self, path: &str) -> (u16, Value, String) {
        let not_found = json!({"error": "not found"});
        let rest = &path[1..];
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if segments.iter().any(|s| s.is_empty()) {
            return (
                404,
                not_found,
                "the path has an empty segment, which matches nothing: 404".to_string(),
            );
        }
        let mut story = format!("the path's segments are {segments:?}");
        let mut best: Option<(&Route, Map<String, Value>)> = None;
        let mut matching = Vec::new();
        for route in &self.routes {
            let Some(params) = captures(route, &segments) else {
                continue;
            };
            matching.push(format!(
                "{} {} ({})",
                route.name,
                route.pattern,
                kinds(route)
            ));
            if best.as_ref().is_none_or(|(b, _)| ranks(route) < ranks(b)) {
                best = Some((route, params));
            }
        }
        let Some((route, params)) = best else {
            let _ = write!(story, "; no route matches the whole path: 404");
            return (404, not_found, story);
        };
        let _ = write!(
            story,
            "; the routes that match the whole path, in registration order: {}",
            matching.join(", ")
        );
        if matching.len() > 1 {
            let _ = write!(
                story,
                "; {} wins: at the first segment where the kinds differ, the more specific kind wins \
                 (static > regex > parameter > wildcard > catch-all); on a full tie, the route registered first",
                route.name
            );
        }
        (
            200,
            json!({"route": route.name, "params": Value::Object(params)}),
            story,
        )
    }
}

fn parse(pattern: &str) -> Vec<Part> {
    let rest = &pattern[1..];
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split('/')
        .map(|segment| {
            if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                match inner.split_once(':') {
                    Some((name, source)) => Part {
                        kind: Kind::Regex,
                        text: name.to_string(),
                        regex: Some(
                            Regex::new(&format!("^(?:{source})$")).expect("a valid grader regex"),
                        ),
                    },
                    None => Part {
                        kind: Kind::Param,
                        text: inner.to_string(),
                        regex: None,
                    },
                }
            } else if segment == "*" {
                Part {
                    kind: Kind::Wildcard,
                    text: String::new(),
                    regex: None,
                }
            } else if let Some(name) = segment.strip_prefix('*') {
                Part {
                    kind: Kind::CatchAll,
                    text: name.to_string(),
                    regex: None,
                }
            } else {
                Part {
                    kind: Kind::Static,
                    text: segment.to_string(),
                    regex: None,
                }
            }
        })
        .collect()
}

fn ranks(route: &Route) -> Vec<Kind> {
    route.parts.iter().map(|p| p.kind).collect()
}

fn kinds(route: &Route) -> String {
    let words: Vec<&str> = route.parts.iter().map(|p| p.kind.word()).collect();
    if words.is_empty() {
        "no segment".to_string()
    } else {
        words.join(", ")
    }
}

fn captures(route: &Route, segments: &[&str]) -> Option<Map<String, Value>> {
    let mut params = Map::new();
    let mut position = 0;
    for part in &route.parts {
        if part.kind == Kind::CatchAll {
            if position >= segments.len() {
                return None;
            }
            params.insert(part.text.clone(), json!(segments[position..].join("/")));
            return Some(params);
        }
        let segment = *segments.get(position)?;
        let fits = match part.kind {
            Kind::Static => part.text == segment,
            Kind::Regex => part.regex.as_ref().is_some_and(|r| r.is_match(segment)),
            Kind::Param | Kind::Wildcard | Kind::CatchAll => true,
        };
        if !fits {
            return None;
        }
        if matches!(part.kind, Kind::Regex | Kind::Param) {
            params.insert(part.text.clone(), json!(segment));
        }
        position += 1;
    }
    (position == segments.len()).then_some(params)
}
