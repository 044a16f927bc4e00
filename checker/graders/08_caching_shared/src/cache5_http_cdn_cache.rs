//! Grader of `cache5_http_cdn_cache`: a caching reverse proxy (a CDN edge) in front of the grader's origin.
//!
//! The grader runs its own origin ([`origin`]) that serves versioned resources with chosen `Cache-Control`,
//! `ETag` and `Vary` headers and logs every request; the program gets its URL in `ORIGIN_URL`. Every client
//! request carries `X-Fake-Now`, and every answer is compared with a reference cache ([`model`]): the
//! status, `X-Cache`, the body, `Age`, the passed-on headers, and exactly which requests reached the origin
//! (none for a HIT, one with `If-None-Match` for a REVALIDATED, one without for a MISS). Short stories teach
//! one rule each; then a seeded trace mixes everything, including deploys, purges and clocks that land on
//! the exact millisecond a response goes stale.

mod model;
mod origin;
mod stories;
mod trace;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Server};

use model::{Expected, Model};
use origin::{Origin, Resource, Seen};

/// Fake unix time the stories start at; each story starts a day later than the previous one.
const EPOCH_MS: u64 = 1_700_000_000_000;
const DAY_MS: u64 = 24 * 3600 * 1000;
/// Requests in the seeded trace.
const TRACE_STEPS: usize = 260;

/// Grades one program: the stories, then the seeded trace.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let origin = Origin::start()?;
    let server = g.server_with(&[], &[("ORIGIN_URL", &origin.url())])?;
    let style = g.rng().below(4);
    let mut s = Session {
        server,
        origin,
        model: Model::default(),
        now: EPOCH_MS + g.rng().below(DAY_MS),
        note: String::new(),
        style,
    };
    stories::max_age(g, &mut s)?;
    stories::s_maxage(g, &mut s)?;
    stories::not_storable(g, &mut s)?;
    stories::no_cache_and_no_etag(g, &mut s)?;
    stories::vary(g, &mut s)?;
    stories::query_and_hashed_assets(g, &mut s)?;
    stories::purge(g, &mut s)?;
    stories::client_conditionals(g, &mut s)?;
    trace::run(g, &mut s)
}

/// The proxy under test, its origin, the model, and the fake clock.
struct Session {
    server: Server,
    origin: Origin,
    model: Model,
    now: u64,
    /// What the current story is about, added to a failure.
    note: String,
    /// Turns the way `Cache-Control` is written (separators and case); starts at a seeded offset.
    style: u64,
}

impl Session {
    /// Starts a story: a day later, with a note for failures.
    fn story(&mut self, g: &mut Grading, name: &str, note: &str) {
        g.scenario(name);
        self.now += DAY_MS;
        self.note = note.to_string();
    }

    /// Writes directives the way real origins do, varied from one header to the next: `, `, `,` or ` , `
    /// between them, some names in capitals.
    fn cache_control(&mut self, directives: &[&str]) -> String {
        self.style += 1;
        let separator = [", ", ",", " , "][(self.style % 3) as usize];
        directives
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if (self.style + i as u64) % 4 == 3 {
                    d.to_ascii_uppercase()
                } else {
                    d.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// Adds (or replaces) a resource at the origin.
    fn resource(&mut self, target: &str, directives: &[&str], has_etag: bool, body: &str) {
        self.resource_varying(target, directives, has_etag, body, None);
    }

    fn resource_varying(
        &mut self,
        target: &str,
        directives: &[&str],
        has_etag: bool,
        body: &str,
        vary: Option<&'static str>,
    ) {
        let resource = Resource {
            cache_control: self.cache_control(directives),
            has_etag,
            vary,
            body: body.to_string(),
            version: 1,
        };
        self.origin.put(target, resource);
    }

    /// `GET target` `after_ms` later, with `headers`, checked against the model.
    fn get(
        &mut self,
        after_ms: u64,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Expected, Failure> {
        self.now += after_ms;
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let expected = self
            .model
            .get(&self.origin.resources(), target, &headers, self.now);
        let mut request = Request::get(target).header("X-Fake-Now", &self.now.to_string());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        self.origin.take_seen();
        let response = self.server.http(&request)?;
        let seen = self.origin.take_seen();
        self.compare(&request, &expected, &response, &seen)?;
        Ok(expected)
    }

    /// `PURGE target`, checked against the model.
    fn purge(&mut self, target: &str) -> Result<(), Failure> {
        let purged = self.model.purge(target);
        let request = Request::new("PURGE", target).header("X-Fake-Now", &self.now.to_string());
        let response = self.server.http(&request)?;
        let want = format!("purged {purged}\n");
        if response.status != 200 || response.text() != want {
            return Err(self.fail(
                Failure::new(format!(
                    "PURGE {target} removes every stored variant of that target ({purged} here) and answers \
                     200 with the body `purged {purged}`"
                ))
                .expected(format!("200 · body {want:?}"))
                .got(format!("{} · body {:?}", response.status, response.text())),
            ));
        }
        Ok(())
    }

    fn compare(
        &self,
        request: &Request,
        expected: &Expected,
        response: &Response,
        seen: &[Seen],
    ) -> Result<(), Failure> {
        let x_cache = response.header("x-cache").unwrap_or("(none)");
        let sent = format!("GET {} at X-Fake-Now {}", request_target(request), self.now);
        if x_cache != expected.x_cache
            || response.status != expected.status
            || seen != expected.origin
        {
            return Err(self.fail(
                Failure::new(&expected.why)
                    .expected(format!(
                        "{} · X-Cache: {} · origin asked: {}",
                        expected.status,
                        expected.x_cache,
                        describe_seen(&expected.origin)
                    ))
                    .got(format!(
                        "{} · X-Cache: {x_cache} · origin asked: {}",
                        response.status,
                        describe_seen(seen)
                    ))
                    .detail(format!("sent: {sent}")),
            ));
        }
        if response.text() != expected.body {
            return Err(self.fail(
                Failure::new(format!(
                    "the body must be the one the origin sent for this variant ({})",
                    expected.why
                ))
                .expected(format!("{:?}", expected.body))
                .got(format!("{:?}", response.text()))
                .detail(format!("sent: {sent}")),
            ));
        }
        let age = response.header("age").unwrap_or("(none)");
        if age != expected.age_s.to_string() {
            return Err(self.fail(
                Failure::new(
                    "Age is the whole seconds (rounded down) since the stored response was fetched or last \
                     revalidated, by X-Fake-Now; 0 on a MISS or REVALIDATED",
                )
                .expected(format!("Age: {} (X-Cache: {})", expected.age_s, expected.x_cache))
                .got(format!("Age: {age}"))
                .detail(format!("sent: {sent}")),
            ));
        }
        for (name, want) in [
            ("ETag", &expected.etag),
            ("Cache-Control", &expected.cache_control),
            ("Vary", &expected.vary),
        ] {
            let got = response.header(name).map(str::to_string);
            if &got != want {
                return Err(self.fail(
                    Failure::new(format!(
                        "the answer carries the origin's {name} header, unchanged (the client's own caches \
                         need it)"
                    ))
                    .expected(format!("{name}: {}", want.as_deref().unwrap_or("(none)")))
                    .got(format!("{name}: {}", got.as_deref().unwrap_or("(none)")))
                    .detail(format!("sent: {sent}")),
                ));
            }
        }
        Ok(())
    }

    fn fail(&self, failure: Failure) -> Failure {
        if self.note.is_empty() {
            failure
        } else {
            failure.detail(format!("what this checks: {}", self.note))
        }
    }
}

fn request_target(request: &Request) -> String {
    let extra: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-fake-now") && !n.eq_ignore_ascii_case("host"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    if extra.is_empty() {
        request.target.clone()
    } else {
        format!("{} with {}", request.target, extra.join(", "))
    }
}

fn describe_seen(seen: &[Seen]) -> String {
    if seen.is_empty() {
        return "nothing".to_string();
    }
    seen.iter()
        .map(|s| match &s.if_none_match {
            Some(etag) => format!("GET {} with If-None-Match: {etag}", s.target),
            None => format!("GET {} (in full, no If-None-Match)", s.target),
        })
        .collect::<Vec<_>>()
        .join(", then ")
}
