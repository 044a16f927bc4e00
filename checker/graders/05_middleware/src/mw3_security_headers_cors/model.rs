//! The CORS policy the program is started with, the requests the grader sends, and what the contract says
//! each must get back.

use std::collections::BTreeMap;

use backlings_grade::Rng;
use backlings_grade::http::Request;

/// A CORS policy, as command-line flags.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `None` is `--origins '*'`.
    origins: Option<Vec<String>>,
    pub methods: Vec<String>,
    /// Lowercase header names.
    pub headers: Vec<String>,
    pub credentials: bool,
    pub max_age: u64,
}

impl Policy {
    /// An allow-list of two or three origins, with credentials.
    pub fn seeded_list(rng: &mut Rng) -> Self {
        let count = rng.range(2, 3);
        let origins = (0..count)
            .map(|i| {
                let len = rng_len(rng);
                let host = format!("{}.example.com", rng.word(len));
                if i == 2 {
                    format!("https://{host}:8443")
                } else {
                    format!("https://{host}")
                }
            })
            .collect();
        Policy {
            origins: Some(origins),
            credentials: true,
            ..Policy::seeded_common(rng)
        }
    }

    /// Any origin (`*`), without credentials.
    pub fn seeded_any(rng: &mut Rng) -> Self {
        Policy {
            origins: None,
            credentials: false,
            ..Policy::seeded_common(rng)
        }
    }

    fn seeded_common(rng: &mut Rng) -> Self {
        let mut methods = vec!["GET".to_string(), "POST".to_string()];
        for method in ["PUT", "DELETE"] {
            if rng.chance(2, 3) {
                methods.push(method.to_string());
            }
        }
        let mut headers = vec!["content-type".to_string()];
        for header in ["authorization", "x-request-id", "if-match"] {
            if rng.chance(2, 3) {
                headers.push(header.to_string());
            }
        }
        if rng.chance(1, 2) {
            headers.push(format!("x-{}", rng.word(5)));
        }
        Policy {
            origins: None,
            methods,
            headers,
            credentials: false,
            max_age: *rng.pick(&[60, 600, 3600, 7200, 86400]),
        }
    }

    /// The allowed origins (none listed for `*`).
    pub fn origins(&self) -> &[String] {
        self.origins.as_deref().unwrap_or_default()
    }

    /// Whether this is `--origins '*'`.
    pub fn is_any(&self) -> bool {
        self.origins.is_none()
    }

    fn allows_origin(&self, origin: &str) -> bool {
        match &self.origins {
            None => true,
            Some(list) => list.iter().any(|allowed| allowed == origin),
        }
    }

    /// The command line.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--origins".to_string(),
            match &self.origins {
                None => "*".to_string(),
                Some(list) => list.join(","),
            },
            "--methods".to_string(),
            self.methods.join(","),
            "--headers".to_string(),
            self.headers.join(","),
            "--max-age".to_string(),
            self.max_age.to_string(),
        ];
        if self.credentials {
            args.push("--credentials".to_string());
        }
        args
    }
}

fn rng_len(rng: &mut Rng) -> usize {
    rng.range(3, 8) as usize
}

/// One request the grader sends.
#[derive(Debug, Clone)]
pub struct Probe {
    pub method: String,
    pub path: String,
    pub origin: Option<String>,
    /// `Access-Control-Request-Method`.
    pub request_method: Option<String>,
    /// `Access-Control-Request-Headers`.
    pub request_headers: Option<String>,
}

impl Probe {
    pub fn new(method: &str, path: &str) -> Self {
        Probe {
            method: method.to_string(),
            path: path.to_string(),
            origin: None,
            request_method: None,
            request_headers: None,
        }
    }

    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_string());
        self
    }

    /// A preflight from `origin` for `method` with the comma-separated `headers` (none if empty).
    pub fn preflight(path: &str, origin: &str, method: &str, headers: &str) -> Self {
        let mut probe = Probe::new("OPTIONS", path).origin(origin);
        probe.request_method = Some(method.to_string());
        probe.request_headers = (!headers.is_empty()).then(|| headers.to_string());
        probe
    }

    /// An `OPTIONS` with both `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(&self) -> bool {
        self.method == "OPTIONS" && self.origin.is_some() && self.request_method.is_some()
    }

    pub fn request(&self) -> Request {
        let mut request = Request::new(&self.method, &self.path);
        if let Some(origin) = &self.origin {
            request = request.header("Origin", origin);
        }
        if let Some(method) = &self.request_method {
            request = request.header("Access-Control-Request-Method", method);
        }
        if let Some(headers) = &self.request_headers {
            request = request.header("Access-Control-Request-Headers", headers);
        }
        if matches!(self.method.as_str(), "POST" | "PUT") {
            request = request
                .header("Content-Type", "application/json")
                .body("{}");
        }
        request
    }

    /// The request in one line, for a report.
    pub fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.path);
        match &self.origin {
            Some(origin) => line.push_str(&format!(" · Origin: {origin}")),
            None => line.push_str(" · no Origin"),
        }
        if let Some(method) = &self.request_method {
            line.push_str(&format!(" · Access-Control-Request-Method: {method}"));
        }
        if let Some(headers) = &self.request_headers {
            line.push_str(&format!(" · Access-Control-Request-Headers: {headers}"));
        }
        line
    }
}

/// Why a preflight is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Origin,
    Method,
    Header,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Origin => "its origin is not allowed",
            Refusal::Method => {
                "method (methods are case-sensitive: only those of --methods, spelled the same)"
            }
            Refusal::Header => {
                "header (every name in Access-Control-Request-Headers must be in --headers)"
            }
        }
    }
}

/// What the contract says comes back.
#[derive(Debug, Clone)]
pub struct Expected {
    pub status: u16,
    /// The exact `Access-Control-*` headers (canonical names), with their values.
    pub cors: BTreeMap<String, String>,
    /// The handler set its own Content-Security-Policy (`GET /docs`).
    pub own_csp: bool,
    /// The handler set `Vary: Accept-Encoding` (`GET /feed`).
    pub vary_accept_encoding: bool,
    /// Why a preflight is refused.
    pub refusal: Option<Refusal>,
}

/// The answer the policy gives `probe`.
pub fn expect(policy: &Policy, probe: &Probe) -> Expected {
    let mut expected = Expected {
        status: 200,
        cors: BTreeMap::new(),
        own_csp: false,
        vary_accept_encoding: false,
        refusal: None,
    };
    let allow_origin = |origin: &str| {
        if policy.is_any() {
            "*".to_string()
        } else {
            origin.to_string()
        }
    };
    if probe.is_preflight() {
        let origin = probe.origin.as_deref().unwrap_or_default();
        let method = probe.request_method.as_deref().unwrap_or_default();
        let headers_ok = probe
            .request_headers
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .all(|name| policy.headers.iter().any(|h| h.eq_ignore_ascii_case(name)));
        expected.refusal = if !policy.allows_origin(origin) {
            Some(Refusal::Origin)
        } else if !policy.methods.iter().any(|m| m == method) {
            Some(Refusal::Method)
        } else if !headers_ok {
            Some(Refusal::Header)
        } else {
            None
        };
        if expected.refusal.is_some() {
            expected.status = 403;
            return expected;
        }
        expected.status = 204;
        let cors = &mut expected.cors;
        cors.insert("Access-Control-Allow-Origin".into(), allow_origin(origin));
        cors.insert(
            "Access-Control-Allow-Methods".into(),
            policy.methods.join(", "),
        );
        cors.insert(
            "Access-Control-Allow-Headers".into(),
            policy.headers.join(", "),
        );
        cors.insert("Access-Control-Max-Age".into(), policy.max_age.to_string());
        if policy.credentials {
            cors.insert("Access-Control-Allow-Credentials".into(), "true".into());
        }
        return expected;
    }
    match (probe.method.as_str(), probe.path.as_str()) {
        ("OPTIONS", _) => expected.status = 204,
        ("GET", "/docs") => expected.own_csp = true,
        ("GET", "/feed") => expected.vary_accept_encoding = true,
        (_, path) if path.starts_with("/api/") => {}
        _ => expected.status = 404,
    }
    if let Some(origin) = probe.origin.as_deref().filter(|o| policy.allows_origin(o)) {
        expected
            .cors
            .insert("Access-Control-Allow-Origin".into(), allow_origin(origin));
        if policy.credentials {
            expected
                .cors
                .insert("Access-Control-Allow-Credentials".into(), "true".into());
        }
    }
    expected
}
