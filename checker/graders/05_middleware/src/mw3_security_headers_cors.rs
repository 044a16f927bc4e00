//! Grader of `mw3_security_headers_cors`: the five security headers on every response, and a CORS policy
//! (origin allow-list or `*`, preflights, credentials, `Vary: Origin`).
//!
//! Each request is run through [`model`], which says the status and the exact set of `Access-Control-*`
//! headers the policy allows, and the response is checked header by header: the security headers once each
//! (the handler's own CSP on `/docs` kept), `Vary` holding `Origin` besides what the handler set, and no CORS
//! header anywhere the policy does not grant one.

mod checks;
mod model;

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading, Rng, Server};

use crate::support::{self, KeepAlive};
use checks::{check, explain};
use model::{Policy, Probe};

/// Requests in each seeded random run.
const RANDOM_REQUESTS: usize = 150;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    security_everywhere(g)?;
    allowed_origins(g)?;
    exact_origins(g)?;
    allowed_preflights(g)?;
    refused_preflights(g)?;
    plain_options(g)?;
    public_api(g)?;
    random_traffic(g)
}

fn security_everywhere(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "every response carries the security headers once, errors included, and varies by Origin",
    );
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    s.check(&[
        Probe::new("GET", "/api/items"),
        Probe::new("GET", "/nowhere"),
        Probe::new("GET", "/docs"),
        Probe::new("GET", "/feed"),
        Probe::new("POST", "/api/items").origin("https://stranger.example.net"),
        Probe::new("GET", "/missing").origin(&s.allowed(0)),
    ])
}

fn allowed_origins(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("an allowed origin gets its own origin back, with credentials; no Origin gets no CORS headers");
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    let mut probes = Vec::new();
    for index in 0..s.policy.origins().len() {
        let origin = s.allowed(index);
        probes.push(Probe::new("GET", "/api/items").origin(&origin));
        probes.push(Probe::new("POST", &format!("/api/items/{index}")).origin(&origin));
        probes.push(Probe::new("GET", "/feed").origin(&origin));
    }
    probes.push(Probe::new("GET", "/api/items"));
    s.check(&probes)
}

fn exact_origins(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "origins match exactly: look-alikes, other schemes and ports, and `null` are other origins",
    );
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    let mut probes = Vec::new();
    for origin in s.policy.origins().to_vec() {
        let host = origin.trim_start_matches("https://").to_string();
        for other in [
            format!("{origin}.evil.io"),
            format!("https://evil-{host}"),
            format!("http://{host}"),
            format!("{origin}:4443"),
            format!("{origin}/"),
            origin[..origin.len() - 1].to_string(),
            "null".to_string(),
        ] {
            probes.push(Probe::new("GET", "/api/me").origin(&other));
            probes.push(Probe::preflight("/api/me", &other, "GET", ""));
        }
    }
    s.rng.shuffle(&mut probes);
    s.check(&probes)
}

fn allowed_preflights(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a preflight for an allowed origin, method and headers gets 204 and the policy");
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    let mut probes = Vec::new();
    for _ in 0..12 {
        let index = s.rng.below(s.policy.origins().len() as u64) as usize;
        let origin = s.allowed(index);
        let method = s.rng.pick(&s.policy.methods).clone();
        let headers = allowed_header_list(&mut s.rng, &s.policy.headers);
        probes.push(Probe::preflight("/api/items/7", &origin, &method, &headers));
    }
    s.check(&probes)
}

fn refused_preflights(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "a preflight asking for a disallowed method or header is refused: 403, no CORS headers",
    );
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    let origin = s.allowed(0);
    let allowed_method = s.policy.methods[0].clone();
    let mut probes = Vec::new();
    for method in ["PATCH", "CONNECT", "TRACE", "get", "Post"] {
        if !s.policy.methods.iter().any(|m| m == method) {
            probes.push(Probe::preflight("/api/items/1", &origin, method, ""));
        }
    }
    for header in ["x-admin", "cookie", "x-forwarded-for", "content-type-x"] {
        let listed = allowed_header_list(&mut s.rng, &s.policy.headers);
        let asked = if listed.is_empty() {
            header.to_string()
        } else {
            format!("{listed}, {header}")
        };
        probes.push(Probe::preflight(
            "/api/items/1",
            &origin,
            &allowed_method,
            &asked,
        ));
    }
    // A preflight that is fine, between the refused ones: refusing everything is not the answer either.
    probes.push(Probe::preflight(
        "/api/items/1",
        &origin,
        &allowed_method,
        "",
    ));
    s.rng.shuffle(&mut probes);
    s.check(&probes)
}

fn plain_options(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("an OPTIONS without Access-Control-Request-Method is not a preflight: the handler answers it");
    let policy = Policy::seeded_list(g.rng());
    let mut s = Session::start(g, policy)?;
    let origin = s.allowed(0);
    let mut no_origin = Probe::new("OPTIONS", "/api/items");
    no_origin.request_method = Some("PUT".to_string());
    s.check(&[
        Probe::new("OPTIONS", "/api/items").origin(&origin),
        Probe::new("OPTIONS", "/api/items"),
        no_origin,
        Probe::new("OPTIONS", "/api/items").origin("https://elsewhere.example.org"),
    ])
}

fn public_api(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "a public API (--origins '*') answers `*` to any origin, and never allows credentials",
    );
    let policy = Policy::seeded_any(g.rng());
    let mut s = Session::start(g, policy)?;
    let method = s.policy.methods[s.policy.methods.len() - 1].clone();
    s.check(&[
        Probe::new("GET", "/api/items").origin("https://anyone.example.dev"),
        Probe::new("GET", "/api/items").origin("null"),
        Probe::preflight(
            "/api/items",
            "https://anyone.example.dev",
            &method,
            "content-type",
        ),
        Probe::preflight(
            "/api/items",
            "https://anyone.example.dev",
            &method,
            "x-not-allowed",
        ),
        Probe::new("GET", "/api/items"),
    ])
}

fn random_traffic(g: &mut Grading) -> Result<(), Failure> {
    for (round, public) in [(1, false), (2, true)] {
        g.scenario(&format!(
            "{RANDOM_REQUESTS} seeded requests, run {round} of 2"
        ));
        let policy = if public {
            Policy::seeded_any(g.rng())
        } else {
            Policy::seeded_list(g.rng())
        };
        let mut s = Session::start(g, policy)?;
        let probes: Vec<Probe> = (0..RANDOM_REQUESTS).map(|_| random_probe(&mut s)).collect();
        s.check(&probes)?;
    }
    Ok(())
}

fn random_probe(s: &mut Session) -> Probe {
    let rng = &mut s.rng;
    let origin = match rng.below(6) {
        0 => None,
        1 => Some(format!("https://{}.example.org", rng.word(6))),
        2 => Some(format!(
            "{}.evil.io",
            s.policy.origins().first().cloned().unwrap_or_default()
        )),
        _ if s.policy.origins().is_empty() => Some(format!("https://{}.dev", rng.word(5))),
        _ => Some(rng.pick(s.policy.origins()).clone()),
    };
    let path = rng
        .pick(&["/api/items", "/api/items/3", "/docs", "/feed", "/nope"])
        .to_string();
    let mut probe = if rng.chance(2, 5) {
        let method = match rng.below(4) {
            0 => "PATCH".to_string(),
            _ => rng.pick(&s.policy.methods).clone(),
        };
        let mut headers = allowed_header_list(rng, &s.policy.headers);
        if rng.chance(1, 4) {
            headers = format!("{headers},x-{}", rng.word(4))
                .trim_start_matches(',')
                .to_string();
        }
        let mut probe = Probe::new("OPTIONS", &path);
        probe.request_method = (!rng.chance(1, 8)).then_some(method);
        probe.request_headers = (!headers.is_empty()).then_some(headers);
        probe
    } else {
        let method = rng.pick(&["GET", "POST", "PUT", "DELETE"]).to_string();
        Probe::new(&method, &path)
    };
    probe.origin = origin;
    probe
}

/// A comma-separated selection of the allowed headers, in seeded order and letter case.
fn allowed_header_list(rng: &mut Rng, allowed: &[String]) -> String {
    let mut picked = Vec::new();
    for name in allowed {
        if rng.chance(1, 2) {
            picked.push(match rng.below(3) {
                0 => name.to_ascii_uppercase(),
                1 => title_case(name),
                _ => name.clone(),
            });
        }
    }
    rng.shuffle(&mut picked);
    picked.join(if rng.chance(1, 2) { "," } else { ", " })
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// One running program and the policy it was started with.
struct Session {
    server: Server,
    connection: KeepAlive,
    policy: Policy,
    rng: Rng,
}

impl Session {
    fn start(g: &mut Grading, policy: Policy) -> Result<Self, Failure> {
        let args = policy.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = g.server_with(&args, &[])?;
        let connection = KeepAlive::open(&mut server)?;
        let rng = g.rng().fork(11);
        Ok(Session {
            server,
            connection,
            policy,
            rng,
        })
    }

    fn allowed(&self, index: usize) -> String {
        self.policy.origins()[index].clone()
    }

    fn check(&mut self, probes: &[Probe]) -> Result<(), Failure> {
        let requests: Vec<Request> = probes.iter().map(Probe::request).collect();
        let policy = &self.policy;
        support::send_checked(
            &mut self.connection,
            &mut self.server,
            &requests,
            |index, response| {
                let probe = &probes[index];
                let expected = model::expect(policy, probe);
                check(policy, probe, &expected, response)
                    .map_err(|rule| explain(rule, policy, probe, &expected, response))
            },
        )?;
        Ok(())
    }
}
