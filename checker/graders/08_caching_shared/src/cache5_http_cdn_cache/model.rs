//! The reference shared cache: what a correct proxy answers to each request, and why in plain words.
//!
//! It follows the contract in the exercise's header: `s-maxage` over `max-age`, `no-cache` as lifetime 0,
//! `private` / `no-store` / no lifetime / non-200 never stored, fresh while age < lifetime, a stale response
//! with an ETag revalidated with `If-None-Match`, one variant per `Vary` value, `PURGE` drops every variant.

use std::collections::BTreeMap;

use super::origin::{Reply, Resources, Seen};

/// What a correct proxy answers, what the origin sees meanwhile, and the rule that decided it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub status: u16,
    pub x_cache: &'static str,
    pub age_s: u64,
    pub body: String,
    pub etag: Option<String>,
    pub cache_control: Option<String>,
    pub vary: Option<String>,
    pub origin: Vec<Seen>,
    pub why: String,
}

/// The directives the cache reads.
#[derive(Debug, Default)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    private: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

fn parse(value: &str) -> Directives {
    let mut d = Directives::default();
    for part in value.split(',') {
        let (name, arg) = match part.split_once('=') {
            Some((n, a)) => (n, a.trim().parse::<u64>().ok()),
            None => (part, None),
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" => d.no_store = true,
            "no-cache" => d.no_cache = true,
            "private" => d.private = true,
            "max-age" => d.max_age = arg,
            "s-maxage" => d.s_maxage = arg,
            _ => {}
        }
    }
    d
}

/// The lifetime a shared cache gives `reply` and where it comes from, or why it may not be stored.
fn lifetime(reply: &Reply) -> Result<(u64, String), String> {
    if reply.status != 200 {
        return Err(format!(
            "its status is {}, and only 200s are stored",
            reply.status
        ));
    }
    let Some(value) = reply.header("cache-control") else {
        return Err("it has no Cache-Control at all, so no freshness lifetime".to_string());
    };
    let d = parse(value);
    if d.no_store {
        return Err(format!(
            "`Cache-Control: {value}` says no-store: never store it"
        ));
    }
    if d.private {
        return Err(format!(
            "`Cache-Control: {value}` says private: only the user's own browser may store it, never a \
             shared cache like this one, even with a max-age"
        ));
    }
    if d.no_cache {
        return Ok((
            0,
            format!("`{value}`: no-cache, stored but revalidated before every use"),
        ));
    }
    match (d.s_maxage, d.max_age) {
        (Some(s), Some(_)) => Ok((
            s * 1000,
            format!("`{value}`: s-maxage={s}, which overrides max-age in a shared cache"),
        )),
        (Some(s), None) => Ok((s * 1000, format!("`{value}`: s-maxage={s}"))),
        (None, Some(m)) => Ok((m * 1000, format!("`{value}`: max-age={m}"))),
        (None, None) => Err(format!(
            "`Cache-Control: {value}` has neither max-age, s-maxage nor no-cache: no freshness lifetime"
        )),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One stored variant.
#[derive(Debug, Clone)]
struct Stored {
    vary_value: Option<String>,
    reply: Reply,
    stored_at: u64,
    lifetime: u64,
    from: String,
}

/// The model cache.
#[derive(Debug, Default)]
pub struct Model {
    entries: BTreeMap<String, Vec<Stored>>,
    /// Why the latest response for a target was not stored, to explain the next MISS.
    unstorable: BTreeMap<String, String>,
    /// Targets purged since they were last stored.
    purged: BTreeMap<String, ()>,
}

impl Model {
    /// The answer to `GET target` with `headers` at `now`, given what the origin serves now.
    pub fn get(
        &mut self,
        resources: &Resources,
        target: &str,
        headers: &[(String, String)],
        now: u64,
    ) -> Expected {
        let vary_name = resources.0.get(target).and_then(|r| r.vary);
        let vary_value = vary_name
            .and_then(|n| header(headers, n))
            .map(str::to_string);
        let variants = self.entries.get(target).cloned().unwrap_or_default();
        let found = variants
            .iter()
            .find(|s| s.vary_value == vary_value)
            .cloned();
        let client_etag = header(headers, "if-none-match").map(str::to_string);
        // The origin never sees the client's own conditional headers.
        let mut forwarded: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| {
                !n.eq_ignore_ascii_case("if-none-match") && !n.eq_ignore_ascii_case("x-fake-now")
            })
            .cloned()
            .collect();
        let (reply, x_cache, age_s, origin, mut why) = match found {
            Some(stored) if now - stored.stored_at < stored.lifetime => {
                let age = now - stored.stored_at;
                let why = format!(
                    "the stored response is fresh: its age ({age} ms) is below its freshness lifetime \
                     ({} ms, from {}), so the cache serves it without asking the origin (X-Cache: HIT, \
                     Age: {})",
                    stored.lifetime,
                    stored.from,
                    age / 1000
                );
                (stored.reply, "HIT", age / 1000, Vec::new(), why)
            }
            Some(stored) => {
                let age = now - stored.stored_at;
                let stale = format!(
                    "the stored response is stale: its age ({age} ms) {} its freshness lifetime ({} ms, from \
                     {})",
                    if age == stored.lifetime {
                        "has reached"
                    } else {
                        "is past"
                    },
                    stored.lifetime,
                    stored.from
                );
                match stored.reply.header("etag").map(str::to_string) {
                    Some(etag) => {
                        forwarded.push(("If-None-Match".to_string(), etag.clone()));
                        let fetched = resources.answer(target, &forwarded);
                        let seen = vec![Seen {
                            target: target.to_string(),
                            if_none_match: Some(etag.clone()),
                        }];
                        if fetched.status == 304 {
                            let mut refreshed = stored.clone();
                            refreshed.stored_at = now;
                            if let Ok((lifetime, from)) = lifetime(&fetched) {
                                refreshed.lifetime = lifetime;
                                refreshed.from = from;
                            }
                            self.store(target, refreshed);
                            let why = format!(
                                "{stale}. It has an ETag, so the cache revalidates it: one GET to the origin \
                                 with If-None-Match: {etag}; the origin answers 304 Not Modified, and the stored \
                                 response is served again, fresh (X-Cache: REVALIDATED, Age: 0)"
                            );
                            (stored.reply, "REVALIDATED", 0, seen, why)
                        } else {
                            let why = format!(
                                "{stale}. It has an ETag, so the cache revalidates it with If-None-Match: {etag}; \
                                 the resource has changed, so the origin answers 200 with the new version, \
                                 which replaces the stored one (X-Cache: MISS)"
                            );
                            self.admit(target, vary_value.clone(), &fetched, now);
                            (fetched, "MISS", 0, seen, why)
                        }
                    }
                    None => {
                        let fetched = resources.answer(target, &forwarded);
                        let why = format!(
                            "{stale}, and it has no ETag to revalidate with, so the cache fetches it again in \
                             full (X-Cache: MISS)"
                        );
                        self.admit(target, vary_value.clone(), &fetched, now);
                        let seen = vec![Seen {
                            target: target.to_string(),
                            if_none_match: None,
                        }];
                        (fetched, "MISS", 0, seen, why)
                    }
                }
            }
            None => {
                let mut why = if self.purged.contains_key(target) {
                    format!("{target} was purged (PURGE {target}), so nothing is stored for it")
                } else if let Some(reason) = self.unstorable.get(target) {
                    format!(
                        "nothing is stored for {target}: the origin's previous response was not storable \
                         ({reason})"
                    )
                } else if let (Some(name), false) = (vary_name, variants.is_empty()) {
                    let shown =
                        |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".to_string());
                    let stored: Vec<String> =
                        variants.iter().map(|s| shown(&s.vary_value)).collect();
                    format!(
                        "nothing is stored for this variant: {target} says Vary: {name}, the stored \
                         variants are for {name} = {}, and this request's {name} is {}: a cache that \
                         ignores Vary serves one visitor's variant to everybody",
                        stored.join(", "),
                        shown(&vary_value)
                    )
                } else {
                    format!(
                        "nothing is stored under the key {target} yet (the key is the whole target, query \
                         string included)"
                    )
                };
                let fetched = resources.answer(target, &forwarded);
                why.push_str(", so the origin is asked in full (X-Cache: MISS)");
                if let Err(reason) = lifetime(&fetched) {
                    why.push_str(&format!("; the response must not be stored: {reason}"));
                }
                self.admit(target, vary_value.clone(), &fetched, now);
                let seen = vec![Seen {
                    target: target.to_string(),
                    if_none_match: None,
                }];
                (fetched, "MISS", 0, seen, why)
            }
        };
        let etag = reply.header("etag").map(str::to_string);
        let mut status = reply.status;
        let mut body = reply.body.clone();
        if status == 200 && etag.is_some() && client_etag == etag {
            status = 304;
            body.clear();
            why.push_str(
                "; and the client's If-None-Match equals the response's ETag, so the client gets 304 Not \
                 Modified with no body (its own copy is good)",
            );
        } else if let Some(client_etag) = client_etag {
            why.push_str(&format!(
                "; the client's If-None-Match ({client_etag}) does not match the ETag, so it gets the full \
                 200"
            ));
        }
        Expected {
            status,
            x_cache,
            age_s,
            body,
            etag,
            cache_control: reply.header("cache-control").map(str::to_string),
            vary: reply.header("vary").map(str::to_string),
            origin,
            why,
        }
    }

    /// `PURGE target`: how many variants go.
    pub fn purge(&mut self, target: &str) -> usize {
        self.purged.insert(target.to_string(), ());
        self.entries.remove(target).map_or(0, |v| v.len())
    }

    /// The stored variants of `target` and when each was stored: `(stored_at, lifetime)`.
    pub fn stored(&self, target: &str) -> Vec<(u64, u64)> {
        self.entries
            .get(target)
            .map(|v| v.iter().map(|s| (s.stored_at, s.lifetime)).collect())
            .unwrap_or_default()
    }

    fn admit(&mut self, target: &str, vary_value: Option<String>, reply: &Reply, now: u64) {
        match lifetime(reply) {
            Ok((lifetime, from)) => {
                let stored = Stored {
                    vary_value,
                    reply: reply.clone(),
                    stored_at: now,
                    lifetime,
                    from,
                };
                self.store(target, stored);
            }
            Err(reason) => {
                self.unstorable.insert(target.to_string(), reason);
            }
        }
    }

    fn store(&mut self, target: &str, stored: Stored) {
        self.purged.remove(target);
        self.unstorable.remove(target);
        let variants = self.entries.entry(target.to_string()).or_default();
        variants.retain(|s| s.vary_value != stored.vary_value);
        variants.push(stored);
    }
}
