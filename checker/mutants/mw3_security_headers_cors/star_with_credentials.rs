//! mutant: answers `Access-Control-Allow-Origin: *` to allowed origins even with credentials, which browsers refuse
//! expect: never `*`

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
    let mut response = next(request);
    for (name, value) in SECURITY_HEADERS {
        if response.header(name).is_none() {
            response = response.with_header(name, value);
        }
    }
    response
}

/// Whether `origin` is allowed by `config`: `*` allows any, a list only its exact members.
pub fn is_allowed_origin(config: &CorsConfig, origin: &str) -> bool {
    match &config.origins {
        Origins::Any => true,
        Origins::List(allowed) => allowed.iter().any(|a| a == origin),
    }
}

/// The value of `Access-Control-Allow-Origin` for an allowed `origin`.
pub fn allow_origin_value(config: &CorsConfig, origin: &str) -> String {
    let _ = origin;
    "*".to_string()
}

/// The answer to a preflight (an `OPTIONS` with `Origin` and `Access-Control-Request-Method`).
pub fn preflight(config: &CorsConfig, origin: &str, request: &Request) -> Response {
    let method = request
        .header("access-control-request-method")
        .unwrap_or_default();
    let headers_ok = request
        .header("access-control-request-headers")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .all(|name| config.headers.iter().any(|h| h.eq_ignore_ascii_case(name)));
    let allowed = is_allowed_origin(config, origin)
        && config.methods.iter().any(|m| m == method)
        && headers_ok;
    if !allowed {
        return Response::text(403, "CORS preflight refused\n");
    }
    let response = Response::new(204)
        .with_header(
            "Access-Control-Allow-Origin",
            allow_origin_value(config, origin),
        )
        .with_header("Access-Control-Allow-Methods", config.methods.join(", "))
        .with_header("Access-Control-Allow-Headers", config.headers.join(", "))
        .with_header("Access-Control-Max-Age", config.max_age);
    with_credentials(config, response)
}

/// The CORS middleware: answers preflights itself, passes every other request to `next`, and adds to the
/// answer what the request's `Origin` is allowed; every answer gets `Vary: Origin`.
pub fn cors(
    config: &CorsConfig,
    request: &Request,
    next: impl FnOnce(&Request) -> Response,
) -> Response {
    let origin = request.header("origin");
    let is_preflight =
        request.method == "OPTIONS" && request.header("access-control-request-method").is_some();
    let response = match origin {
        Some(origin) if is_preflight => preflight(config, origin, request),
        Some(origin) if is_allowed_origin(config, origin) => {
            let response = next(request).with_header(
                "Access-Control-Allow-Origin",
                allow_origin_value(config, origin),
            );
            with_credentials(config, response)
        }
        _ => next(request),
    };
    response.with_header("Vary", "Origin")
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
