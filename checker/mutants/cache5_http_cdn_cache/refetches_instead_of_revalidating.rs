//! mutant: fetches a stale response again in full instead of revalidating it with its ETag
//! expect: so the cache revalidates it
//! # A CDN edge: a caching reverse proxy that obeys HTTP's caching rules
//!
//! Between a browser and your application there are usually several caches: the browser's own, a CDN edge
//! (Cloudflare, Fastly, CloudFront) close to the user, sometimes a reverse proxy (Varnish, nginx) in front
//! of the application. The CDN and the reverse proxy are **shared caches**: one stored response answers
//! many users. Done right, a shared cache takes most of the traffic off the origin (a popular page is
//! rendered once a minute instead of a thousand times a second) and answers from a few milliseconds away.
//! Done wrong, it serves one user's account page to another, or keeps serving yesterday's JavaScript after
//! a deploy.
//!
//! The origin tells every cache what it may do with a response through headers, and a cache that ignores
//! them is a bug. This exercise is such a cache: a proxy in front of an origin server, storing responses in
//! memory and answering from them while they are fresh.
//!
//! ## The rules (RFC 9111, the parts a CDN needs)
//!
//! - **`Cache-Control`** is a comma-separated list of directives; names are case-insensitive and spaces
//!   around the commas are optional (`public, max-age=60` and `max-age=60,PUBLIC` mean the same).
//!   - `no-store`: never store this response, anywhere.
//!   - `private`: only the user's own browser may store it (an account page, a cart). A shared cache must
//!     not, even when a `max-age` is present.
//!   - `s-maxage=N`: the freshness lifetime, in seconds, **for shared caches**; it overrides `max-age`
//!     here (a CDN may keep a page for 10 minutes while browsers keep it for 10 seconds, so a purge at the
//!     CDN takes effect quickly).
//!   - `max-age=N`: the freshness lifetime, in seconds, for every cache.
//!   - `no-cache`: store it, but never use it without asking the origin first (freshness lifetime 0).
//!   - Anything else (`public`, `immutable`, `must-revalidate`, …) changes nothing here.
//!
//!   A response is stored only if its status is 200, it has neither `no-store` nor `private`, and it has
//!   `s-maxage`, `max-age` or `no-cache`. (Real caches may also guess a lifetime from `Last-Modified`;
//!   this one does not.)
//! - **Freshness.** A stored response's *age* is the time since the cache fetched or last revalidated it.
//!   It is fresh while its age is *less than* its lifetime: at exactly `max-age` seconds it is stale.
//! - **Revalidation.** A stale response that carries an `ETag` is not thrown away: the cache asks the
//!   origin `If-None-Match: <etag>`. A `304 Not Modified` (no body) means "what you have is still right":
//!   the stored response becomes fresh again (its age restarts at 0, its lifetime comes from the 304's
//!   `Cache-Control`). A `200` means the resource changed: the new response replaces the old one. A stale
//!   response without an `ETag` is fetched again in full.
//! - **`Vary`.** `/greeting` in English and in French are two different responses behind one URL. The
//!   origin says which request headers chose the response (`Vary: Accept-Language`); the cache stores one
//!   *variant* per combination of those request headers' values, and serves a variant only to a request
//!   that has the same values (a missing header is a value of its own). `Vary: *` means "every request is
//!   different": not stored.
//! - **The cache key** is the whole request target, query string included: `/app.css?v=2` is not
//!   `/app.css?v=1`. That is what makes **cache busting** work: a deploy changes the URLs of its assets
//!   (`/assets/app.3f9a1c.js`, or a `?v=` query), so the new files are fetched fresh while the old ones can
//!   be cached "forever" (`max-age=31536000, immutable`). Only the HTML that names them needs a short
//!   lifetime, or a purge.
//! - **Purge.** `PURGE /path` (the Varnish and Fastly verb) removes every stored variant of that target at
//!   once, so the next request goes to the origin. It answers `200` with the body `purged N\n`, `N` being
//!   how many variants were removed (0 is fine).
//! - **Conditional requests from clients.** A browser that holds a copy sends `If-None-Match: <etag>`. When
//!   the response the proxy is about to send is a 200 whose `ETag` equals that value exactly, it answers
//!   `304 Not Modified` with the same headers and no body: the browser's copy is good. The client's
//!   `If-None-Match` is about the *browser's* copy, so it is never passed on to the origin.
//!
//! ## The contract the grader checks
//!
//! - The origin's address is in the environment variable `ORIGIN_URL`; time comes from each request's
//!   `X-Fake-Now: <unix-ms>` header (the provided `main` reads both).
//! - Every answer to a `GET` carries the origin's `Content-Type`, `Cache-Control`, `ETag` and `Vary`, plus
//!   `X-Cache: HIT` (served from a fresh stored response, the origin was not asked), `MISS` (fetched in
//!   full from the origin) or `REVALIDATED` (the origin answered 304 to an `If-None-Match`), and
//!   `Age: <whole seconds>` (rounded down; 0 for MISS and REVALIDATED).
//! - The grader's origin counts every request it gets, and whether it carried `If-None-Match`: a HIT must
//!   cost zero origin requests, a REVALIDATED exactly one conditional request, a MISS one full request.
//!
//! ## Pitfalls
//!
//! - Splitting `Cache-Control` on `", "`: `max-age=60,private` is a valid header, and the `private` in it
//!   is the one directive you must not miss.
//! - Using `max-age` when `s-maxage` is there, or storing `private` responses: the classic way a CDN leaks
//!   one user's page to everyone.
//! - `<=` instead of `<` in the freshness check: a response is stale the moment its age reaches its lifetime.
//! - Ignoring `Vary`: the first visitor's language (or encoding: gzip bytes to a client that cannot read
//!   them) is served to everybody.
//! - Keying by `request.path()`: the query string is dropped, and `?v=2` busts nothing.
//! - Refetching in full instead of revalidating: it works, and it wastes the origin's bandwidth that the
//!   `ETag` was there to save.
//! - Holding the cache's lock while talking to the origin: every request, hits included, waits for the
//!   slowest fetch. Decide under the lock, fetch without it.
//!
//! Roadmap: HTTP caching layers (browser → CDN → reverse proxy → app) and cache busting; ETag,
//! Cache-Control and conditional requests; CDNs and reverse proxies.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use backlings_harness::http::{Request, Response, serve};

/// The `Cache-Control` directives this cache understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    /// `max-age=N`, in seconds.
    pub max_age: Option<u64>,
    /// `s-maxage=N`, in seconds.
    pub s_maxage: Option<u64>,
}

impl CacheControl {
    /// Parses a `Cache-Control` header value (directives the cache does not know are ignored).
    pub fn parse(value: &str) -> CacheControl {
        let mut cc = CacheControl::default();
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name, Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            let seconds = argument.and_then(|a| a.parse::<u64>().ok());
            match name.trim().to_ascii_lowercase().as_str() {
                "no-store" => cc.no_store = true,
                "no-cache" => cc.no_cache = true,
                "private" => cc.private = true,
                "max-age" => cc.max_age = seconds,
                "s-maxage" => cc.s_maxage = seconds,
                _ => {}
            }
        }
        cc
    }

    /// How long a shared cache may serve the response without asking the origin, in milliseconds;
    /// `None` when a shared cache must not store it at all.
    pub fn shared_lifetime_ms(&self) -> Option<u64> {
        if self.no_store || self.private {
            return None;
        }
        if self.no_cache {
            return Some(0);
        }
        self.s_maxage.or(self.max_age).map(|s| s * 1000)
    }
}

/// The values a request has for the header names in a `Vary`, in the order `Vary` lists them (`None` for
/// a header the request does not carry); `None` for `Vary: *`, which cannot be cached.
pub fn vary_values(vary: Option<&str>, request: &Request) -> Option<Vec<Option<String>>> {
    let Some(vary) = vary else {
        return Some(Vec::new());
    };
    let mut values = Vec::new();
    for name in vary.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "*" {
            return None;
        }
        values.push(request.header(name).map(str::to_string));
    }
    Some(values)
}

/// A response as the origin sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OriginResponse {
    /// The first header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where responses come from: the origin server (or a fake one in the tests).
pub trait Origin {
    /// Sends `GET target` with `headers` to the origin and returns its answer.
    fn fetch(&self, target: &str, headers: &[(String, String)]) -> io::Result<OriginResponse>;
}

/// One stored variant of a target.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The request's values for the headers named by the response's `Vary` (see [`vary_values`]).
    pub vary_values: Vec<Option<String>>,
    /// The stored 200 response.
    pub response: OriginResponse,
    /// When it was fetched or last revalidated (fake unix ms).
    pub stored_at_ms: u64,
    /// Its freshness lifetime in milliseconds.
    pub lifetime_ms: u64,
}

/// How an answer was produced: the `X-Cache` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Revalidated,
}

impl CacheStatus {
    fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Revalidated => "REVALIDATED",
        }
    }
}

/// The shared cache: every stored variant, by request target.
#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<String, Vec<Entry>>,
}

/// What `decide` found for a request.
enum Lookup {
    /// A fresh variant: serve it.
    Fresh(Entry),
    /// A stale variant with an ETag: ask the origin with If-None-Match.
    Stale(Entry),
    /// Nothing usable: fetch in full.
    Nothing,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Cache::default()
    }

    /// Answers a GET at `now_ms`: from a fresh stored variant, after revalidating a stale one, or from a
    /// full fetch, storing what may be stored.
    pub fn get(
        cache: &Mutex<Cache>,
        origin: &dyn Origin,
        request: &Request,
        now_ms: u64,
    ) -> Response {
        // Decide under the lock, talk to the origin without it.
        let lookup = lock(cache).lookup(request, now_ms);
        let mut headers = forward_headers(request);
        let stale = match lookup {
            Lookup::Fresh(entry) => {
                let age_s = now_ms.saturating_sub(entry.stored_at_ms) / 1000;
                return answer(request, &entry.response, CacheStatus::Hit, age_s);
            }
            Lookup::Stale(entry) => {
                if let Some(etag) = entry.response.header("etag") {
                    headers.push(("If-None-Match".to_string(), etag.to_string()));
                }
                Some(entry)
            }
            Lookup::Nothing => None,
        };
        let fetched = match origin.fetch(&request.target, &headers) {
            Ok(fetched) => fetched,
            Err(error) => return Response::text(502, format!("the origin failed: {error}\n")),
        };
        if let (Some(mut entry), 304) = (stale, fetched.status) {
            let lifetime = fetched
                .header("cache-control")
                .map(CacheControl::parse)
                .and_then(|cc| cc.shared_lifetime_ms());
            entry.stored_at_ms = now_ms;
            if let Some(lifetime_ms) = lifetime {
                entry.lifetime_ms = lifetime_ms;
            }
            lock(cache).store(&request.target, entry.clone());
            return answer(request, &entry.response, CacheStatus::Revalidated, 0);
        }
        lock(cache).admit(request, &fetched, now_ms);
        answer(request, &fetched, CacheStatus::Miss, 0)
    }

    fn lookup(&self, request: &Request, now_ms: u64) -> Lookup {
        let Some(variants) = self.entries.get(&request.target) else {
            return Lookup::Nothing;
        };
        let found = variants.iter().find(|entry| {
            let vary = entry.response.header("vary");
            vary_values(vary, request).as_ref() == Some(&entry.vary_values)
        });
        match found {
            Some(entry) if now_ms.saturating_sub(entry.stored_at_ms) < entry.lifetime_ms => {
                Lookup::Fresh(entry.clone())
            }
            _ => Lookup::Nothing,
        }
    }

    /// Stores `response` (fetched in full for `request` at `now_ms`) if a shared cache may.
    fn admit(&mut self, request: &Request, response: &OriginResponse, now_ms: u64) {
        if response.status != 200 {
            return;
        }
        let Some(lifetime_ms) = response
            .header("cache-control")
            .map(CacheControl::parse)
            .and_then(|cc| cc.shared_lifetime_ms())
        else {
            return;
        };
        let Some(vary_values) = vary_values(response.header("vary"), request) else {
            return;
        };
        let entry = Entry {
            vary_values,
            response: response.clone(),
            stored_at_ms: now_ms,
            lifetime_ms,
        };
        self.store(&request.target, entry);
    }

    /// Stores `entry` for `target`, replacing the variant with the same Vary values.
    fn store(&mut self, target: &str, entry: Entry) {
        let variants = self.entries.entry(target.to_string()).or_default();
        variants.retain(|old| old.vary_values != entry.vary_values);
        variants.push(entry);
    }

    /// Removes every stored variant of `target`; returns how many there were.
    pub fn purge(&mut self, target: &str) -> usize {
        self.entries
            .remove(target)
            .map_or(0, |variants| variants.len())
    }
}

/// The answer to the client: the origin's response with `X-Cache` and `Age`, or a 304 with the same
/// headers when the client's `If-None-Match` equals the response's `ETag`.
pub fn answer(
    request: &Request,
    response: &OriginResponse,
    status: CacheStatus,
    age_s: u64,
) -> Response {
    let mut out = Response::new(response.status);
    for name in PASSED_ON {
        if let Some(value) = response.header(name) {
            out = out.with_header(name, value);
        }
    }
    out = out
        .with_header("X-Cache", status.as_str())
        .with_header("Age", age_s);
    let etag = response.header("etag");
    if response.status == 200 && etag.is_some() && request.header("if-none-match") == etag {
        out.status = 304;
        return out;
    }
    out.with_body(response.body.clone())
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below.

/// The origin's headers a client gets back.
const PASSED_ON: [&str; 4] = ["Content-Type", "Cache-Control", "ETag", "Vary"];

/// Request headers never passed on to the origin: the hop's own, the fake clock, and the client's
/// conditionals (they are about the browser's copy, not the cache's).
const NOT_FORWARDED: [&str; 7] = [
    "host",
    "connection",
    "content-length",
    "x-fake-now",
    "if-none-match",
    "if-modified-since",
    "keep-alive",
];

/// The client's request headers the origin should see (the ones `Vary` may name, among others).
pub fn forward_headers(request: &Request) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect()
}

fn lock(cache: &Mutex<Cache>) -> std::sync::MutexGuard<'_, Cache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// The origin server over HTTP/1.1, one connection per request.
pub struct HttpOrigin {
    /// `ip:port`.
    addr: String,
}

impl HttpOrigin {
    /// The origin at `url` (`http://ip:port`).
    pub fn new(url: &str) -> Result<Self, String> {
        let addr = url
            .strip_prefix("http://")
            .ok_or("ORIGIN_URL must look like http://127.0.0.1:PORT")?;
        Ok(HttpOrigin {
            addr: addr.trim_end_matches('/').to_string(),
        })
    }
}

impl Origin for HttpOrigin {
    fn fetch(&self, target: &str, headers: &[(String, String)]) -> io::Result<OriginResponse> {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut head = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        Ok(OriginResponse {
            status,
            headers,
            body,
        })
    }
}

/// Routes one client request: `GET` through the cache, `PURGE` to the purge, the rest refused.
fn handle(cache: &Mutex<Cache>, origin: &HttpOrigin, request: &Request) -> Response {
    let Some(now_ms) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Response::text(400, "X-Fake-Now: <unix-ms> is required\n");
    };
    match request.method.as_str() {
        "GET" => Cache::get(cache, origin, request, now_ms),
        "PURGE" => {
            let purged = lock(cache).purge(&request.target);
            Response::text(200, format!("purged {purged}\n"))
        }
        _ => Response::text(405, "only GET and PURGE\n").with_header("Allow", "GET, PURGE"),
    }
}

fn main() -> ExitCode {
    let origin = match std::env::var("ORIGIN_URL")
        .map_err(|_| "ORIGIN_URL is not set".to_string())
        .and_then(|url| HttpOrigin::new(&url))
    {
        Ok(origin) => origin,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    let cache = Mutex::new(Cache::new());
    match serve(move |request| handle(&cache, &origin, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    const T0: u64 = 1_700_000_000_000;

    /// An origin that answers from a script and logs every request's target and If-None-Match.
    struct FakeOrigin {
        replies: RefCell<Vec<OriginResponse>>,
        seen: RefCell<Vec<(String, Option<String>)>>,
    }

    impl FakeOrigin {
        fn new(replies: Vec<OriginResponse>) -> Self {
            FakeOrigin {
                replies: RefCell::new(replies),
                seen: RefCell::new(Vec::new()),
            }
        }
    }

    impl Origin for FakeOrigin {
        fn fetch(&self, target: &str, headers: &[(String, String)]) -> io::Result<OriginResponse> {
            let inm = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("if-none-match"))
                .map(|(_, v)| v.clone());
            self.seen.borrow_mut().push((target.to_string(), inm));
            Ok(self.replies.borrow_mut().remove(0))
        }
    }

    fn ok(cache_control: &str, etag: Option<&str>, body: &str) -> OriginResponse {
        let mut headers = vec![("Cache-Control".to_string(), cache_control.to_string())];
        if let Some(etag) = etag {
            headers.push(("ETag".to_string(), etag.to_string()));
        }
        OriginResponse {
            status: 200,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn not_modified(cache_control: &str) -> OriginResponse {
        OriginResponse {
            status: 304,
            headers: vec![("Cache-Control".to_string(), cache_control.to_string())],
            body: Vec::new(),
        }
    }

    fn get(target: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn x_cache(response: &Response) -> &str {
        response.header("X-Cache").unwrap_or("(none)")
    }

    // Directives are found whatever the spacing and the case.
    #[test]
    fn parses_directives_with_any_spacing_and_case() {
        let cc = CacheControl::parse("max-age=60,PRIVATE ,  s-maxage=300");
        assert!(cc.private);
        assert_eq!((cc.max_age, cc.s_maxage), (Some(60), Some(300)));
        assert!(CacheControl::parse("no-store").no_store);
    }

    // s-maxage wins over max-age; private, no-store and "no lifetime" are not storable; no-cache is 0.
    #[test]
    fn shared_lifetime_follows_the_directives() {
        let lifetime = |v: &str| CacheControl::parse(v).shared_lifetime_ms();
        assert_eq!(lifetime("public, max-age=10, s-maxage=120"), Some(120_000));
        assert_eq!(lifetime("max-age=10"), Some(10_000));
        assert_eq!(lifetime("private, max-age=600"), None);
        assert_eq!(lifetime("no-store, max-age=600"), None);
        assert_eq!(lifetime("public"), None);
        assert_eq!(lifetime("no-cache"), Some(0));
    }

    // A fresh response is a HIT with its age; at exactly max-age it is stale and revalidated.
    #[test]
    fn fresh_until_max_age_then_revalidated() {
        let origin = FakeOrigin::new(vec![
            ok("max-age=60", Some("\"v1\""), "hello"),
            not_modified("max-age=60"),
        ]);
        let cache = Mutex::new(Cache::new());
        let first = Cache::get(&cache, &origin, &get("/news", &[]), T0);
        assert_eq!(
            (x_cache(&first), first.body.as_slice()),
            ("MISS", &b"hello"[..])
        );
        let hit = Cache::get(&cache, &origin, &get("/news", &[]), T0 + 59_999);
        assert_eq!((x_cache(&hit), hit.header("Age")), ("HIT", Some("59")));
        let again = Cache::get(&cache, &origin, &get("/news", &[]), T0 + 60_000);
        assert_eq!(x_cache(&again), "REVALIDATED");
        assert_eq!(again.body, b"hello");
        assert_eq!(
            origin.seen.borrow()[1],
            ("/news".to_string(), Some("\"v1\"".to_string()))
        );
    }

    // Responses a shared cache must not keep go to the origin every time.
    #[test]
    fn private_and_no_store_are_never_stored() {
        let origin = FakeOrigin::new(vec![
            ok("private, max-age=600", None, "mine"),
            ok("private, max-age=600", None, "mine"),
            ok("no-store", None, "live"),
            ok("no-store", None, "live"),
        ]);
        let cache = Mutex::new(Cache::new());
        for (target, at) in [
            ("/me", T0),
            ("/me", T0 + 1),
            ("/live", T0),
            ("/live", T0 + 1),
        ] {
            assert_eq!(
                x_cache(&Cache::get(&cache, &origin, &get(target, &[]), at)),
                "MISS"
            );
        }
        assert_eq!(origin.seen.borrow().len(), 4);
    }

    // Each Accept-Language gets its own stored variant.
    #[test]
    fn vary_keeps_one_variant_per_header_value() {
        let mut en = ok("max-age=300", None, "hello");
        en.headers
            .push(("Vary".to_string(), "Accept-Language".to_string()));
        let mut fr = ok("max-age=300", None, "bonjour");
        fr.headers
            .push(("Vary".to_string(), "Accept-Language".to_string()));
        let origin = FakeOrigin::new(vec![en, fr]);
        let cache = Mutex::new(Cache::new());
        let english = get("/greeting", &[("Accept-Language", "en")]);
        let french = get("/greeting", &[("Accept-Language", "fr")]);
        assert_eq!(x_cache(&Cache::get(&cache, &origin, &english, T0)), "MISS");
        assert_eq!(x_cache(&Cache::get(&cache, &origin, &french, T0)), "MISS");
        let again = Cache::get(&cache, &origin, &french, T0 + 5);
        assert_eq!(
            (x_cache(&again), again.body.as_slice()),
            ("HIT", &b"bonjour"[..])
        );
        assert_eq!(lock(&cache).purge("/greeting"), 2);
    }

    // The query string is part of the key, and a matching If-None-Match gets a 304 without a body.
    #[test]
    fn query_is_part_of_the_key_and_clients_get_304() {
        let origin = FakeOrigin::new(vec![
            ok("max-age=600", Some("\"a1\""), "v1"),
            ok("max-age=600", Some("\"a2\""), "v2"),
        ]);
        let cache = Mutex::new(Cache::new());
        Cache::get(&cache, &origin, &get("/app.css?v=1", &[]), T0);
        let busted = Cache::get(&cache, &origin, &get("/app.css?v=2", &[]), T0);
        assert_eq!(
            (x_cache(&busted), busted.body.as_slice()),
            ("MISS", &b"v2"[..])
        );
        let conditional = get("/app.css?v=1", &[("If-None-Match", "\"a1\"")]);
        let not_modified = Cache::get(&cache, &origin, &conditional, T0 + 1);
        assert_eq!((not_modified.status, not_modified.body.len()), (304, 0));
        assert_eq!(x_cache(&not_modified), "HIT");
    }
}
