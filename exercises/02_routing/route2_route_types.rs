//! # Route types and their precedence: static, dynamic, regex, wildcard, catch-all
//!
//! A real application's route table is not a list of fixed paths. It mixes several kinds of segment:
//!
//! | kind | written | matches | example |
//! |---|---|---|---|
//! | static | `files` | exactly that text | `/files/new` |
//! | dynamic (parameter) | `{id}` | any one segment, captured | `/files/{id}` |
//! | regex-constrained | `{id:[0-9]+}` | one segment the regex matches *entirely*, captured | `/posts/{year:[0-9]{4}}` |
//! | wildcard | `*` | any one segment, not captured | `/files/*/raw` |
//! | catch-all | `*rest` | one or more segments to the end, captured with their `/` | `/static/*path` |
//!
//! **Nested** and **hierarchical** routes are built from these: `/users/{id}/posts/{post}` nests a resource in
//! its parent, and a path is a hierarchy the router walks one level (segment) at a time, so the question "which
//! route?" is asked level by level. Several routes often match one path: `/files/new`, `/files/{id}` and
//! `/files/*rest` all match `/files/new`. A router needs a **documented precedence** that does not depend on the
//! order routes were written in, or moving one line in a routes file silently changes which handler runs.
//!
//! ## Why it matters in production
//!
//! Precedence bugs are quiet: `/users/me` answered by `/users/{id}` with `id = "me"` is a 404 (or worse, a
//! lookup of a user literally called "me"); a catch-all registered first swallows every route after it; a regex
//! without anchors lets `/files/abc1` into a handler that expects a number. Frameworks settle it differently
//! (Express: first registered wins; axum/matchit, httprouter, ASP.NET: most specific wins), which is why the rule
//! must be written down.
//!
//! ## The contract (what the grader checks)
//!
//! The program is started with the table as arguments, `--route NAME=PATTERN` repeated, in registration order.
//! It serves HTTP; a request's path (the target before `?`, not decoded: the grader sends only letters, digits
//! and `-._~:`) is routed and answered `200 {"route":"NAME","params":{…}}`, or `404 {"error":"not found"}`. The
//! method does not matter here.
//!
//! **Patterns** start with `/` and are split on `/` into segments; `/` alone has no segment. Each segment is
//! `{name}`, `{name:regex}` (the name is everything before the first `:`, the regex everything after it up to
//! the segment's last character, which must be `}`; a regex may itself contain `{`, `}` and `:`), `*`, `*name`,
//! or static text (no `{`, `}` or `*`). A name is letters, digits and `_`. An invalid table (an empty segment,
//! an unclosed `{`, a regex that does not compile, a catch-all that is not the last segment, …) makes the
//! program print the reason on stderr and exit with code 2 before serving.
//!
//! **Matching**: a path is split the same way; an empty segment (`//`, a trailing `/`) matches nothing, so such
//! a path is a 404. A regex matches only if it matches the **whole** segment: `{id:[0-9]+}` refuses `abc1`,
//! and `{s:draft|published}` refuses `drafts`. A catch-all takes **one or more** segments (never zero), and
//! captures them joined by `/`. A wildcard captures nothing.
//!
//! **Precedence** among the routes that match: compare them segment by segment from the left; at the first
//! segment where their kinds differ, the more specific kind wins, in this order:
//!
//! ```text
//! static  >  regex-constrained  >  parameter  >  wildcard  >  catch-all
//! ```
//!
//! If every segment has the same kind, the route registered **first** wins. A route only competes if it matches
//! the whole path: for `/files/new/raw`, `/files/new` does not match, so `/files/*/raw` answers.
//!
//! ## Pitfalls
//!
//! - `Regex::is_match` finds a match *anywhere*: anchor it. And `^draft|published$` is `(^draft)|(published$)`:
//!   wrap the user's regex in a group, `^(?:…)$`.
//! - `{year:[0-9]{4}}`: the first `}` is not the end of the segment.
//! - Deciding level by level without going back: choosing `new` (static) at level 2 for `/files/new/raw` and
//!   then finding no route is a 404 where `/files/*/raw` matches.
//! - Counting static segments instead of comparing from the left.
//!
//! Roadmap: route types — static, dynamic, nested, hierarchical, catch-all, wildcard, regex [001 §2.3].

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
    /// `{name:regex}`: one segment the regex matches entirely (compiled so that it cannot match less).
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
        // TODO: the precedence order of the header, as numbers.
        todo!()
    }
}

/// Whether `text` can name a parameter: letters, digits and `_` (provided: you do not need to change this).
fn is_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses one pattern into segments, or says why it is invalid.
pub fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, String> {
    // TODO: split the pattern after its leading `/` into segments and turn each into a `Segment` (compiling a
    // regex so that it can only match a whole segment); refuse, with a reason, everything the header calls
    // invalid.
    todo!()
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
        // TODO: walk the pattern and the path side by side; every segment must fit its kind, a catch-all takes
        // the rest (at least one segment), and nothing may be left over on either side.
        todo!()
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
        // TODO: split the path like a pattern (no empty segment allowed), then among the routes that match it
        // choose the one the precedence rule says: the most specific kind at the first segment where two routes
        // differ, and on a full tie the route registered first.
        todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn router(table: &[(&str, &str)]) -> Router {
        let mut router = Router::default();
        for (name, pattern) in table {
            router.add(name, pattern).unwrap();
        }
        router
    }

    fn answer(router: &Router, path: &str) -> Option<(String, Vec<(String, String)>)> {
        router
            .lookup(path)
            .map(|(name, params)| (name.to_string(), params.into_iter().collect()))
    }

    fn route(name: &str, params: &[(&str, &str)]) -> Option<(String, Vec<(String, String)>)> {
        Some((
            name.to_string(),
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    // Each kind of segment parses; a regex may contain braces; bad patterns are refused.
    #[test]
    fn patterns_parse_into_segments() {
        let segments = parse_pattern("/posts/{year:[0-9]{4}}/{slug}/*/*rest").unwrap();
        let ranks: Vec<u8> = segments.iter().map(Segment::rank).collect();
        assert_eq!(ranks, [0, 1, 2, 3, 4]);
        assert!(parse_pattern("/").unwrap().is_empty());
        for bad in [
            "/a/*rest/b",
            "/a/{id",
            "/a//b",
            "/a/{id:[0-9}",
            "/a/{}",
            "files",
        ] {
            assert!(parse_pattern(bad).is_err(), "{bad}");
        }
    }

    // The classic conflict: static beats regex beats parameter beats catch-all, whatever the order.
    #[test]
    fn the_most_specific_kind_wins() {
        let router = router(&[
            ("rest", "/files/*rest"),
            ("slug", "/files/{slug}"),
            ("id", "/files/{id:[0-9]+}"),
            ("new", "/files/new"),
        ]);
        assert_eq!(answer(&router, "/files/new"), route("new", &[]));
        assert_eq!(answer(&router, "/files/42"), route("id", &[("id", "42")]));
        assert_eq!(
            answer(&router, "/files/abc1"),
            route("slug", &[("slug", "abc1")])
        );
        assert_eq!(
            answer(&router, "/files/a/b"),
            route("rest", &[("rest", "a/b")])
        );
        assert_eq!(answer(&router, "/files"), None);
    }

    // A regex must match the whole segment, alternation included.
    #[test]
    fn regexes_are_anchored() {
        let router = router(&[("state", "/posts/{state:draft|published}")]);
        assert_eq!(
            answer(&router, "/posts/draft"),
            route("state", &[("state", "draft")])
        );
        assert_eq!(answer(&router, "/posts/drafts"), None);
        assert_eq!(answer(&router, "/posts/unpublished"), None);
    }

    // A static segment wins only if its route matches the whole path.
    #[test]
    fn a_route_competes_only_if_it_matches_everything() {
        let router = router(&[("new", "/files/new"), ("raw", "/files/*/raw")]);
        assert_eq!(answer(&router, "/files/new/raw"), route("raw", &[]));
        assert_eq!(answer(&router, "/files/new/"), None);
    }

    // The first difference from the left decides; a full tie goes to the route registered first.
    #[test]
    fn leftmost_difference_then_registration_order() {
        let router = router(&[("a", "/{x}/b/c"), ("b", "/a/{y}/{z}"), ("c", "/a/{q}/{r}")]);
        assert_eq!(
            answer(&router, "/a/b/c"),
            route("b", &[("y", "b"), ("z", "c")])
        );
        assert_eq!(answer(&router, "/"), None);
    }
}
