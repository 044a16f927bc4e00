//! Grader of `route4_radix_router`: a radix-tree router over JSON lines, checked for the same answers as a
//! reference router, and for a lookup cost that does not grow with the number of routes.
//!
//! 1. Small tables aimed at one rule each: precedence with backtracking, edges split byte by byte (routes
//!    inserted so that later ones split the edges of earlier ones), parameter names that belong to routes, and
//!    duplicates that are refused.
//! 2. A seeded table of 5 000 routes (random words, so that many share prefixes byte by byte) and 20 000
//!    lookups compared one by one with [`reference`]: 2 000 first, the rest after the scaling check, so that a
//!    router that scans every route is told so in seconds.
//! 3. Scaling ([`scaling`]): `bench` batches of 40 000 lookups in the 5 000-route table and in a 50-route one,
//!    in alternation, best of each; a ratio with wide slack, never an absolute time. The checksum of every batch
//!    is recomputed by the grader, so no lookup can be skipped. About 200 000 lookups in all.

mod reference;
mod scaling;
mod table;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use reference::{Found, Reference};

/// One program holding one table, and the reference holding the same.
pub struct Session {
    pub program: Stdio,
    pub reference: Reference,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        Ok(Session {
            program: g.stdio()?,
            reference: Reference::default(),
        })
    }

    /// Adds one route through `add`; the answer must be `{"ok":true}`, or an error for a duplicate.
    fn add(&mut self, method: &str, pattern: &str, name: &str, rule: &str) -> Result<(), Failure> {
        let expected_ok = self.reference.add(method, pattern, name).is_ok();
        let request = json!({"op": "add", "method": method, "pattern": pattern, "name": name});
        let reply = self.program.request(&request)?;
        let is_ok = reply == json!({"ok": true});
        let is_error = reply.get("error").is_some_and(Value::is_string);
        if (expected_ok && !is_ok) || (!expected_ok && !is_error) {
            let expected = if expected_ok {
                "{\"ok\":true}".to_string()
            } else {
                "{\"error\":\"…\"}: a route of this method and shape exists already".to_string()
            };
            return Err(Failure::new(rule)
                .expected(expected)
                .got(reply)
                .detail(format!("sent: {request}")));
        }
        Ok(())
    }

    /// Adds many routes with one `add_many`; every one must be accepted.
    pub fn add_many(&mut self, routes: &[(String, String, String)]) -> Result<(), Failure> {
        let mut rejected = Vec::new();
        for (index, (method, pattern, name)) in routes.iter().enumerate() {
            if self.reference.add(method, pattern, name).is_err() {
                rejected.push(index);
            }
        }
        let request = json!({"op": "add_many", "routes": routes});
        let reply = self.program.request(&request)?;
        let expected = json!({"added": routes.len() - rejected.len(), "rejected": rejected});
        if reply != expected {
            return Err(Failure::new(format!(
                "add_many of {} routes: every route of a new shape is added, a duplicate is refused",
                routes.len()
            ))
            .expected(expected)
            .got(preview(&reply)));
        }
        Ok(())
    }

    /// Looks up every request with one `lookup_many` and compares each answer with the reference.
    pub fn lookups(&mut self, requests: &[(String, String)], rule: &str) -> Result<(), Failure> {
        for chunk in requests.chunks(2000) {
            let request = json!({"op": "lookup_many", "requests": chunk});
            let reply = self.program.request(&request)?;
            let results = reply
                .get("results")
                .and_then(Value::as_array)
                .filter(|r| r.len() == chunk.len())
                .ok_or_else(|| {
                    Failure::new(format!(
                        "lookup_many answers {{\"results\": [...]}} with one result per request ({})",
                        chunk.len()
                    ))
                    .got(preview(&reply))
                })?;
            for ((method, path), got) in chunk.iter().zip(results) {
                let found = self.reference.lookup(method, path);
                let expected = found_json(found.as_ref());
                if *got != expected {
                    // The right route with the wrong values: a capture from a dead branch survived.
                    let rule = if got.get("route") == expected.get("route") && found.is_some() {
                        "the right route, but not its parameters: a value captured in a branch that dead-ends \
                         must be forgotten when the search backtracks, and each route names its own parameters"
                    } else {
                        rule
                    };
                    return Err(self.explain(rule, method, path, &expected, got));
                }
            }
        }
        Ok(())
    }

    fn explain(
        &self,
        rule: &str,
        method: &str,
        path: &str,
        expected: &Value,
        got: &Value,
    ) -> Failure {
        let matching = self.reference.matching(method, path);
        let listed: Vec<String> = matching
            .iter()
            .map(|r| format!("{} {} ({})", r.method, r.pattern, r.name))
            .collect();
        let story = if listed.is_empty() {
            "no route of this method matches the whole path".to_string()
        } else {
            format!(
                "the routes of this method that match the whole path: {}; the winner is the most specific at \
                 the first segment where they differ (static > parameter > catch-all)",
                listed.join(", ")
            )
        };
        Failure::new(rule)
            .expected(expected)
            .got(got)
            .detail(format!("looked up: {method} {path}"))
            .detail(format!("the contract: {story}"))
    }
}

/// A lookup's expected answer.
pub fn found_json(found: Option<&Found>) -> Value {
    match found {
        Some(found) => json!({"route": found.name, "params": found.params}),
        None => json!({"route": null, "params": {}}),
    }
}

/// A long value cut for a report.
pub fn preview(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn requests(list: &[&str]) -> Vec<(String, String)> {
    list.iter()
        .map(|path| ("GET".to_string(), path.to_string()))
        .collect()
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("precedence with backtracking: static, then parameter, then catch-all");
    precedence(g)?;
    g.scenario("edges split byte by byte: every route survives the splits of later ones");
    splits(g)?;
    g.scenario("parameter names belong to routes; duplicates are refused and change nothing");
    names_and_duplicates(g)?;
    g.scenario("5000 seeded routes: the first 2000 lookups equal the reference");
    let routes = table::routes(g.rng(), table::LARGE);
    let mut large = Session::start(g)?;
    large.add_many(&routes)?;
    let lookups = table::lookups(g.rng(), &routes, 20_000);
    let rule = "a seeded lookup in the 5000-route table gets the route of the precedence rule, with its parameters";
    large.lookups(&lookups[..2000], rule)?;
    g.scenario("a lookup in 5000 routes costs about the same as in 50");
    let mut large = scaling::check(g, large, &routes)?;
    g.scenario("5000 seeded routes: 18000 more lookups equal the reference");
    large.lookups(&lookups[2000..], rule)
}

fn precedence(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    let rule = "a route is added with {\"ok\":true}";
    // In this order no edge that carries a route is ever split: this scenario is about the search alone.
    for (pattern, name) in [
        ("/", "root"),
        ("/files/*rest", "files_rest"),
        ("/files/:id/raw", "file_raw"),
        ("/files/:id", "file"),
        ("/files/new", "files_new"),
        ("/files/new/draft", "files_new_draft"),
        ("/:section/:page", "page"),
        ("/docs/*path", "docs"),
    ] {
        s.add("GET", pattern, name, rule)?;
    }
    s.add("POST", "/files", "upload", rule)?;
    let id = g.rng().range(1, 9999).to_string();
    s.lookups(
        &requests(&["/files/new", "/files/new/draft", "/docs/intro"]),
        "a static segment beats a parameter and a catch-all",
    )?;
    s.lookups(
        &requests(&[&format!("/files/{id}"), &format!("/files/{id}/a/b")]),
        "a parameter beats a catch-all, and a catch-all takes the rest of the path (one or more segments)",
    )?;
    s.lookups(
        &requests(&["/files/new/raw", "/files/news/raw", "/files/new/x"]),
        "backtrack: when the static branch dead-ends (`/files/new` has no `/raw`, no `/x`), the parameter \
         branch and then the catch-all get their turn",
    )?;
    s.lookups(
        &requests(&[
            "/",
            "/files",
            "/about/team",
            "/docs",
            "/files/",
            "/files//raw",
            "/nope/a/b/c",
        ]),
        "only a route that matches the whole path answers; an empty segment matches nothing",
    )?;
    s.lookups(
        &[
            ("POST".to_string(), "/files".to_string()),
            ("GET".to_string(), "/files".to_string()),
            ("get".to_string(), "/files/new".to_string()),
        ],
        "one tree per method; methods are case-sensitive",
    )?;
    Ok(())
}

fn splits(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    let rule = "every route survives the edge splits of the routes added after it, so a route of a new shape is \
                added with {\"ok\":true} whatever edges it splits (a split that leaves the old route on the upper \
                half makes the new route look like a duplicate of it)";
    // Each route below splits an edge that already carries a route, a parameter or a catch-all.
    let routes = [
        ("/teams", "teams"),
        ("/teams/:id", "team"),
        ("/teams/*rest", "teams_rest"),
        ("/te", "te"),
        ("/tea/:cup", "tea"),
        ("/t", "t"),
        ("/teamwork/:x/y", "teamwork"),
        ("/team", "team_alone"),
        ("/tea", "tea_alone"),
        ("/teams/:id/members", "members"),
        ("/teaspoon", "teaspoon"),
    ];
    for (pattern, name) in routes {
        s.add("GET", pattern, name, rule)?;
    }
    let word = g.rng().word(5);
    let survive = "every route survives the edge splits of the routes added after it: a split moves the old \
                   node's route, parameter child and catch-all down with the rest of its text";
    let paths = [
        "/teams".to_string(),
        format!("/teams/{word}"),
        format!("/teams/{word}/x/y"),
        "/te".to_string(),
        format!("/tea/{word}"),
        "/t".to_string(),
        format!("/teamwork/{word}/y"),
        "/team".to_string(),
        "/tea".to_string(),
        format!("/teams/{word}/members"),
        "/teaspoon".to_string(),
        "/teaspoons".to_string(),
        "/tx".to_string(),
        "/teamwork".to_string(),
    ];
    let list: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.lookups(&requests(&list), survive)
}

fn names_and_duplicates(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    let ok = "a route of a new shape is added with {\"ok\":true}";
    let duplicate = "a route with the same method and shape as an existing one (parameter names do not count) is \
                     refused with {\"error\":…}";
    s.add("GET", "/users/:id", "user", ok)?;
    s.add("GET", "/users/:name/posts", "user_posts", ok)?;
    s.add("GET", "/users/:uid", "user_again", duplicate)?;
    s.add("GET", "/users/:id/posts", "posts_again", duplicate)?;
    s.add("GET", "/static/*path", "static", ok)?;
    s.add("GET", "/static/*file", "static_again", duplicate)?;
    s.add("PUT", "/users/:uid", "user_put", ok)?;
    let name = g.rng().word(6);
    s.lookups(
        &requests(&[&format!("/users/{name}"), &format!("/users/{name}/posts"), "/static/a/b"]),
        "parameter names belong to the route that matched: /users/:id and /users/:name/posts share one parameter \
         edge; a refused duplicate changes nothing",
    )?;
    s.lookups(
        &[("PUT".to_string(), format!("/users/{name}"))],
        "one tree per method: the same shape under another method is a new route",
    )
}
