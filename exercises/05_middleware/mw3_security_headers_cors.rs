//! # Security headers and CORS
//!
//! Two middlewares every API served to browsers needs, and gets wrong in the same few ways.
//!
//! **Security headers** tell the browser to turn on protections it leaves off for compatibility. They cost
//! nothing, so every response gets them, errors included (an attacker will happily frame your 404 page):
//!
//! | header | value here | what it stops |
//! |---|---|---|
//! | `Content-Security-Policy` | `default-src 'none'; frame-ancestors 'none'` | injected scripts (XSS) loading or running anything; framing |
//! | `X-Frame-Options` | `DENY` | clickjacking, for browsers older than CSP's `frame-ancestors` |
//! | `X-Content-Type-Options` | `nosniff` | the browser "sniffing" a JSON or text response into HTML or a script |
//! | `Strict-Transport-Security` | `max-age=31536000; includeSubDomains` | any later visit over plain HTTP (SSL stripping) |
//! | `Referrer-Policy` | `no-referrer` | URLs (with their tokens) leaking to other sites in `Referer` |
//!
//! A handler may know better for its own page: the `/docs` page sets its own `Content-Security-Policy` so
//! its scripts can run. The middleware sets each header **only if the response does not already have it**:
//! two CSP headers are both enforced, and the page breaks.
//!
//! **CORS** (Cross-Origin Resource Sharing) is how a server tells a browser that JavaScript from *another
//! origin* (`https://app.example.com` calling `https://api.example.com`) may read its responses. The browser
//! sends `Origin`; the server answers `Access-Control-Allow-Origin` if that origin is allowed, and nothing if
//! not (the browser then hides the response from the script). For anything beyond a "simple" request (a
//! method other than GET/HEAD/POST, a custom header such as `Authorization` or `X-Request-Id`, a JSON
//! `Content-Type`), the browser first sends a **preflight**: an `OPTIONS` request with
//! `Access-Control-Request-Method` (and `Access-Control-Request-Headers`), and sends the real request only
//! if the preflight's answer allows that method and those headers.
//!
//! CORS is not access control on the server (`curl` ignores it); it protects *users*: with credentials
//! (cookies) allowed, a wrongly allowed origin can act as the logged-in user. Hence the rules below.
//!
//! ## The contract the grader checks
//!
//! The program is started as `mw3_security_headers_cors --origins https://a.example,https://b.example
//! --methods GET,POST,PUT --headers content-type,authorization --credentials --max-age 600`, or with
//! `--origins '*'` (a public API: any origin, never credentials). Then, on every response:
//!
//! - the five security headers above, exactly once each (the handler's own value wins);
//! - `Vary: Origin`, added to any `Vary` the handler set (`/feed` sets `Vary: Accept-Encoding`): the answer
//!   depends on `Origin`, so a cache must not serve one origin's answer to another.
//!
//! A **preflight** is an `OPTIONS` request with both `Origin` and `Access-Control-Request-Method`. It never
//! reaches the handler. It is allowed when the origin is allowed, the method is one of `--methods` (methods
//! are case-sensitive), and every name in `Access-Control-Request-Headers` (comma-separated) is one of
//! `--headers` (header names are case-insensitive). Allowed: `204` with `Access-Control-Allow-Origin`,
//! `Access-Control-Allow-Methods` (the `--methods`, comma-separated), `Access-Control-Allow-Headers` (the
//! `--headers`), `Access-Control-Max-Age` (the `--max-age`), and `Access-Control-Allow-Credentials: true`
//! with `--credentials`. Refused: `403` with no `Access-Control-*` header at all.
//!
//! Any other request goes to the handler. If it has an allowed `Origin`, its response gets
//! `Access-Control-Allow-Origin` (and `Access-Control-Allow-Credentials: true` with `--credentials`), and
//! nothing else of CORS; with no `Origin`, or one not allowed, no `Access-Control-*` header at all.
//!
//! `Access-Control-Allow-Origin` is `*` with `--origins '*'`, and otherwise the request's own origin, exactly:
//! browsers refuse credentials with `*`. An origin is allowed when it is *exactly* one of the list:
//! `https://a.example.evil.io` and `http://a.example` are other origins, and so is `null` (what sandboxed
//! frames and local files send).
//!
//! ## Pitfalls
//!
//! - Matching origins with `starts_with`, `ends_with` or `contains`: the attacker registers
//!   `a.example.evil.io` (or `evil-a.example`).
//! - Reflecting whatever `Origin` arrives, which allows every site on the web, with the user's cookies.
//! - Forgetting `Vary: Origin`: a CDN caches the answer for one origin and serves it to all.
//! - Treating every `OPTIONS` as a preflight, or answering a refused preflight with the allow headers anyway.
//! - Security headers only on successful responses.
//!
//! Roadmap: security headers (CSP, X-Frame-Options, HSTS, nosniff); CORS (preflight, credentials).

use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};

/// The security headers every response carries, with their values.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    (
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    ),
    ("Referrer-Policy", "no-referrer"),
];

/// Which origins may read the responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    /// `--origins '*'`: every origin, never with credentials.
    Any,
    /// `--origins a,b`: exactly these.
    List(Vec<String>),
}

/// The CORS policy, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    pub origins: Origins,
    /// Methods a preflight may ask for, e.g. `["GET", "POST", "PUT"]`.
    pub methods: Vec<String>,
    /// Request headers a preflight may ask for, lowercase, e.g. `["content-type", "authorization"]`.
    pub headers: Vec<String>,
    /// Whether cookies and `Authorization` may be sent (`Access-Control-Allow-Credentials: true`).
    pub credentials: bool,
    /// Seconds a browser may cache a preflight's answer.
    pub max_age: u64,
}

/// The security-headers middleware: runs `next`, then adds each of [`SECURITY_HEADERS`] the response does
/// not already have.
pub fn security_headers(request: &Request, next: impl FnOnce(&Request) -> Response) -> Response {
    // TODO: run `next`, then add each security header the response does not have yet.
    todo!()
}

/// Whether `origin` is allowed by `config`: `*` allows any, a list only its exact members.
pub fn is_allowed_origin(config: &CorsConfig, origin: &str) -> bool {
    // TODO: `*` allows any origin; a list allows only its exact members.
    todo!()
}

/// The value of `Access-Control-Allow-Origin` for an allowed `origin`.
pub fn allow_origin_value(config: &CorsConfig, origin: &str) -> String {
    // TODO: what `Access-Control-Allow-Origin` says for an allowed origin.
    todo!()
}

/// The answer to a preflight (an `OPTIONS` with `Origin` and `Access-Control-Request-Method`).
pub fn preflight(config: &CorsConfig, origin: &str, request: &Request) -> Response {
    // TODO: allowed only if the origin, the requested method and every requested header are; answer 204 with
    // the policy's headers, or 403 with no `Access-Control-*` header.
    todo!()
}

/// The CORS middleware: answers preflights itself, passes every other request to `next`, and adds to the
/// answer what the request's `Origin` is allowed; every answer gets `Vary: Origin`.
pub fn cors(
    config: &CorsConfig,
    request: &Request,
    next: impl FnOnce(&Request) -> Response,
) -> Response {
    // TODO: a preflight is answered here; any other request goes to `next`, and its answer gets the CORS
    // headers its origin is allowed. Every answer varies by `Origin`.
    todo!()
}

/// `response` with `Access-Control-Allow-Credentials: true` if the policy allows credentials (provided: you
/// do not need to change this).
pub fn with_credentials(config: &CorsConfig, response: Response) -> Response {
    if config.credentials {
        response.with_header("Access-Control-Allow-Credentials", "true")
    } else {
        response
    }
}

/// The application behind the middlewares (provided: you do not need to change this).
pub fn app(request: &Request) -> Response {
    let path = request.path();
    match (request.method.as_str(), path) {
        ("OPTIONS", _) => {
            Response::new(204).with_header("Allow", "GET, POST, PUT, DELETE, OPTIONS")
        }
        ("GET", "/docs") => Response::new(200)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_header("Content-Security-Policy", "default-src 'self'")
            .with_body("<!doctype html><title>API docs</title><script src=/docs.js></script>"),
        ("GET", "/feed") => Response::new(200)
            .with_header("Content-Type", "application/json")
            .with_header("Vary", "Accept-Encoding")
            .with_body(r#"{"items":[]}"#),
        (method, path) if path.starts_with("/api/") => Response::new(200)
            .with_header("Content-Type", "application/json")
            .with_body(format!(r#"{{"method":"{method}","path":"{path}"}}"#)),
        _ => Response::text(404, "not found\n"),
    }
}

/// Reads the CORS policy from the command line (provided: you do not need to change this).
fn parse_args() -> Result<CorsConfig, String> {
    let mut config = CorsConfig {
        origins: Origins::List(Vec::new()),
        methods: vec!["GET".to_string(), "POST".to_string()],
        headers: vec!["content-type".to_string()],
        credentials: false,
        max_age: 600,
    };
    let list = |value: &str| -> Vec<String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--credentials" {
            config.credentials = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--origins" if value == "*" => config.origins = Origins::Any,
            "--origins" => config.origins = Origins::List(list(&value)),
            "--methods" => config.methods = list(&value),
            "--headers" => {
                config.headers = list(&value)
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect();
            }
            "--max-age" => {
                config.max_age = value.parse().map_err(|_| "--max-age needs seconds")?;
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if config.credentials && config.origins == Origins::Any {
        return Err("browsers refuse credentials with `*`: list the origins instead".to_string());
    }
    Ok(config)
}

/// Serves the application behind both middlewares (provided: you do not need to change this).
fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: mw3_security_headers_cors --origins A,B|* [--methods M,..] \
                 [--headers H,..] [--credentials] [--max-age S]"
            );
            return ExitCode::from(2);
        }
    };
    let served =
        serve(move |request| security_headers(request, |request| cors(&config, request, app)));
    match served {
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

    const APP: &str = "https://app.example.com";

    fn config() -> CorsConfig {
        CorsConfig {
            origins: Origins::List(vec![APP.to_string()]),
            methods: vec!["GET".to_string(), "POST".to_string(), "PUT".to_string()],
            headers: vec!["content-type".to_string(), "x-request-id".to_string()],
            credentials: true,
            max_age: 600,
        }
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.to_string(),
            target: path.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn both(config: &CorsConfig, request: &Request) -> Response {
        security_headers(request, |request| cors(config, request, app))
    }

    fn cors_headers(response: &Response) -> Vec<&str> {
        response
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    // Every response gets the security headers once; a handler's own CSP is kept, not doubled.
    #[test]
    fn security_headers_on_every_response_and_never_twice() {
        let config = config();
        for path in ["/api/items", "/nowhere", "/docs"] {
            let response = both(&config, &request("GET", path, &[]));
            for (name, _) in SECURITY_HEADERS {
                assert_eq!(
                    response.headers.iter().filter(|(n, _)| n == name).count(),
                    1,
                    "{name} on {path}"
                );
            }
        }
        let docs = both(&config, &request("GET", "/docs", &[]));
        assert_eq!(
            docs.header("content-security-policy"),
            Some("default-src 'self'")
        );
    }

    // Only exact members of the list are allowed origins.
    #[test]
    fn origins_match_exactly() {
        let config = config();
        assert!(is_allowed_origin(&config, APP));
        for other in [
            "https://app.example.com.evil.io",
            "http://app.example.com",
            "https://evil-app.example.com",
            "null",
        ] {
            assert!(!is_allowed_origin(&config, other), "{other}");
        }
    }

    // An allowed origin gets its own origin back with credentials; another gets no CORS header.
    #[test]
    fn actual_requests_get_the_origin_back_or_nothing() {
        let config = config();
        let allowed = both(&config, &request("GET", "/api/items", &[("Origin", APP)]));
        assert_eq!(allowed.header("access-control-allow-origin"), Some(APP));
        assert_eq!(
            allowed.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(allowed.header("vary"), Some("Origin"));
        let other = both(
            &config,
            &request("GET", "/api/items", &[("Origin", "https://evil.io")]),
        );
        assert!(cors_headers(&other).is_empty());
        assert_eq!(other.status, 200);
    }

    // A preflight for an allowed method and headers gets 204 and the policy; any other gets 403.
    #[test]
    fn preflights_are_answered_by_the_middleware() {
        let config = config();
        let ok = both(
            &config,
            &request(
                "OPTIONS",
                "/api/items/1",
                &[
                    ("Origin", APP),
                    ("Access-Control-Request-Method", "PUT"),
                    (
                        "Access-Control-Request-Headers",
                        "X-Request-Id, content-type",
                    ),
                ],
            ),
        );
        assert_eq!(ok.status, 204);
        assert_eq!(
            ok.header("access-control-allow-methods"),
            Some("GET, POST, PUT")
        );
        assert_eq!(ok.header("access-control-max-age"), Some("600"));
        let refused = both(
            &config,
            &request(
                "OPTIONS",
                "/api/items/1",
                &[
                    ("Origin", APP),
                    ("Access-Control-Request-Method", "PUT"),
                    ("Access-Control-Request-Headers", "x-admin"),
                ],
            ),
        );
        assert_eq!(refused.status, 403);
        assert!(cors_headers(&refused).is_empty());
        assert_eq!(refused.header("x-frame-options"), Some("DENY"));
    }

    // With `*`, any origin gets `*`, and credentials are never allowed.
    #[test]
    fn a_public_api_answers_star_without_credentials() {
        let config = CorsConfig {
            origins: Origins::Any,
            credentials: false,
            ..config()
        };
        let response = both(
            &config,
            &request("GET", "/api/items", &[("Origin", "https://anyone.dev")]),
        );
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        assert_eq!(response.header("access-control-allow-credentials"), None);
    }
}
