//! The seeded trace of the `cache5_http_cdn_cache` grader: random resources, policies, clients, deploys and
//! purges, every answer checked against the model. A fifth of the clock steps land exactly on (or one
//! millisecond before) the moment a stored response goes stale.

use backlings_grade::{Failure, Grading, Rng};

use super::{Session, TRACE_STEPS};

/// The policies a trace resource may get.
fn policy(rng: &mut Rng) -> Vec<String> {
    let n = rng.range(1, 20);
    let m = rng.range(5, 40);
    match rng.below(8) {
        0 | 1 => vec!["public".to_string(), format!("max-age={n}")],
        2 => vec![format!("max-age={n}"), format!("s-maxage={m}")],
        3 => vec![format!("s-maxage={m}"), "public".to_string()],
        4 => vec!["no-cache".to_string()],
        5 => vec![format!("max-age={m}"), "private".to_string()],
        6 => vec!["no-store".to_string()],
        _ => vec!["public".to_string()],
    }
}

/// Runs the trace.
pub fn run(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("a seeded trace of requests, deploys and purges against the model");
    s.now += super::DAY_MS;
    s.note = "a seeded mix of every rule above; replay it with the seed".to_string();
    let targets = ["/t/a", "/t/b", "/t/c?page=1", "/t/c?page=2", "/t/d", "/t/e"];
    for target in targets {
        let directives = policy(g.rng());
        let directives: Vec<&str> = directives.iter().map(String::as_str).collect();
        let has_etag = g.rng().chance(2, 3);
        let vary = g.rng().chance(1, 3).then_some("Accept-Language");
        let body = format!("{target} {}", g.rng().word(6));
        s.resource_varying(target, &directives, has_etag, &body, vary);
    }
    let languages = [None, Some("en"), Some("fr")];
    for _ in 0..TRACE_STEPS {
        let target = *g.rng().pick(&targets);
        match g.rng().below(100) {
            0..8 => {
                let body = format!("{target} {}", g.rng().word(6));
                s.origin.deploy(target, body);
            }
            8..14 => s.purge(target)?,
            _ => {
                let after = step(g.rng(), s, target);
                let language = *g.rng().pick(&languages);
                let mut headers: Vec<(&str, String)> = Vec::new();
                if let Some(language) = language {
                    headers.push(("Accept-Language", language.to_string()));
                }
                if g.rng().chance(1, 8) {
                    let fixed: Vec<(String, String)> = headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.clone()))
                        .collect();
                    let etag = s
                        .origin
                        .resources()
                        .answer(target, &fixed)
                        .header("etag")
                        .map(str::to_string);
                    let etag = match etag {
                        Some(etag) if g.rng().chance(2, 3) => etag,
                        _ => "\"ffffffffffffffff\"".to_string(),
                    };
                    headers.push(("If-None-Match", etag));
                }
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                s.get(after, target, &headers)?;
            }
        }
    }
    Ok(())
}

/// How far the clock moves before the next request: often a little, sometimes a lot, and a fifth of the time
/// exactly to the moment a stored variant of `target` goes stale (or one millisecond before it).
fn step(rng: &mut Rng, s: &Session, target: &str) -> u64 {
    let stored = s.model.stored(target);
    if !stored.is_empty() && rng.chance(1, 5) {
        let (stored_at, lifetime) = *rng.pick(&stored);
        let stale_at = stored_at + lifetime;
        if stale_at > s.now {
            return stale_at - s.now - rng.below(2).min(stale_at - s.now);
        }
    }
    match rng.below(10) {
        0..6 => rng.below(3_000),
        6..9 => rng.below(25_000),
        _ => rng.range(40_000, 120_000),
    }
}
