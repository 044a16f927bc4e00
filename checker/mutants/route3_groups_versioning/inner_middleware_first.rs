//! mutant: puts a nested group's own middleware before its parent's, so the innermost layer runs first
//! expect: the outer group's middleware runs first

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use backlings_harness::http::{Request, Response, serve};
use serde_json::{Value, json};

/// Path parameters, by name.
pub type Params = BTreeMap<String, String>;
/// A route's handler.
pub type Handler = Arc<dyn Fn(&Request, &Params) -> Response + Send + Sync>;
/// What a middleware calls to pass the request on to the rest of the chain.
pub type Next<'a> = &'a dyn Fn(&Request) -> Response;
/// A middleware: sees the request, may call `next` (once, or not at all), returns the response.
pub type Middleware = Arc<dyn Fn(&Request, Next<'_>) -> Response + Send + Sync>;

/// One registered route: its full pattern, the middleware of every group around it, and its handler.
#[derive(Clone)]
pub struct Route {
    pub method: String,
    pub pattern: String,
    pub middleware: Vec<Middleware>,
    pub handler: Handler,
}

/// The route table.
#[derive(Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

/// A group being built: the prefix and the middleware of every route registered through it.
pub struct Group<'r> {
    router: &'r mut Router,
    prefix: String,
    middleware: Vec<Middleware>,
}

/// `prefix` and `path` with exactly one `/` between them; a `path` of `/` (or empty) is `prefix` itself.
pub fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    match (prefix.is_empty(), path.is_empty()) {
        (true, true) => "/".to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}/{path}"),
    }
}

impl Group<'_> {
    /// Registers `handler` for `method` at this group's prefix joined with `path`, with this group's middleware.
    pub fn route(&mut self, method: &str, path: &str, handler: Handler) {
        self.router.routes.push(Route {
            method: method.to_string(),
            pattern: join(&self.prefix, path),
            middleware: self.middleware.clone(),
            handler,
        });
    }

    /// A nested group: the prefixes joined, the parent's middleware then `middleware`, for the routes `build`
    /// registers.
    pub fn group(
        &mut self,
        prefix: &str,
        middleware: Vec<Middleware>,
        build: impl FnOnce(&mut Group),
    ) {
        let mut chain = middleware;
        chain.extend(self.middleware.iter().cloned());
        let mut child = Group {
            router: &mut *self.router,
            prefix: join(&self.prefix, prefix),
            middleware: chain,
        };
        build(&mut child);
    }
}

/// Runs `chain` around `handler`: the first middleware outermost, the handler innermost.
pub fn run_chain(
    chain: &[Middleware],
    request: &Request,
    handler: &dyn Fn(&Request) -> Response,
) -> Response {
    match chain.split_first() {
        None => handler(request),
        Some((first, rest)) => first(request, &|request: &Request| {
            run_chain(rest, request, handler)
        }),
    }
}

impl Router {
    /// The root group: no prefix, no middleware (provided: you do not need to change this).
    pub fn root(&mut self) -> Group<'_> {
        Group {
            router: self,
            prefix: String::new(),
            middleware: Vec::new(),
        }
    }

    /// Finds the route for `request` and runs it inside its middleware (provided: you do not need to change
    /// this). The handler's response echoes the `X-Chain` the handler received.
    pub fn dispatch(&self, request: &Request) -> Response {
        for route in &self.routes {
            if route.method != request.method {
                continue;
            }
            let Some(params) = match_pattern(&route.pattern, request.path()) else {
                continue;
            };
            let handler = &route.handler;
            return run_chain(&route.middleware, request, &|request: &Request| {
                let response = handler(request, &params);
                match request.header("x-chain") {
                    Some(chain) => response.with_header("X-Chain", chain),
                    None => response,
                }
            });
        }
        json_response(404, &json!({"error": "not found"}))
    }
}

/// Matches `/a/:b` patterns against a path, segment by segment (provided: you do not need to change this).
fn match_pattern(pattern: &str, path: &str) -> Option<Params> {
    let patterns: Vec<&str> = pattern.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    if patterns.len() != segments.len() {
        return None;
    }
    let mut params = Params::new();
    for (pattern, segment) in patterns.iter().zip(&segments) {
        match pattern.strip_prefix(':') {
            Some(name) if !segment.is_empty() => {
                params.insert(name.to_string(), segment.to_string());
            }
            None if pattern == segment => {}
            _ => return None,
        }
    }
    Some(params)
}

/// The admin guard: `Authorization: Bearer admin-secret` passes, anything else is a 401 and `next` never runs.
pub fn require_admin(request: &Request, next: Next<'_>) -> Response {
    let authorized = request
        .header("authorization")
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token == ADMIN_TOKEN
        });
    if !authorized {
        return json_response(401, &json!({"error": "unauthorized"}))
            .with_header("WWW-Authenticate", "Bearer realm=\"admin\"");
    }
    next(request)
}

/// The v1 group's middleware: every response of a v1 route says that v1 is deprecated, and until when it works.
pub fn deprecated(request: &Request, next: Next<'_>) -> Response {
    next(request)
        .with_header("Deprecation", format!("@{DEPRECATED_AT}"))
        .with_header("Sunset", SUNSET)
        .with_header("Link", SUCCESSOR)
}

/// The admin token (a real service reads it from a secret store).
const ADMIN_TOKEN: &str = "admin-secret";
/// When v1 was deprecated: 2025-07-01T00:00:00Z, in unix seconds.
const DEPRECATED_AT: u64 = 1_751_328_000;
/// When v1 may stop working, as an HTTP-date.
const SUNSET: &str = "Thu, 31 Dec 2026 23:59:59 GMT";
/// Where v1's successor lives.
const SUCCESSOR: &str = "</api/v2>; rel=\"successor-version\"";
/// The versions this service serves.
const SUPPORTED: [u64; 2] = [1, 2];
/// The version of a request that claims none.
const DEFAULT_VERSION: u64 = 2;

/// Where the version of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Uri,
    MediaType,
    Header,
    Default,
}

/// A resolved version, and the path to route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub version: u64,
    pub source: Source,
    pub path: String,
}

/// Why no version could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionError {
    /// Two claims name different versions.
    Conflict,
    /// A malformed `Api-Version`, or a version this service does not serve.
    Unsupported,
}

/// The version `N` of `application/vnd.backlings.vN+json` in the first such range of an `Accept` value.
fn media_type_version(accept: &str) -> Option<u64> {
    accept.split(',').find_map(|range| {
        let media_type = range.split(';').next()?.trim().to_ascii_lowercase();
        media_type
            .strip_prefix("application/vnd.backlings.v")?
            .strip_suffix("+json")
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    })
}

/// Decides the version of a request to `path` (`None` for a path outside `/api/`) and the path to route.
pub fn resolve_version(
    path: &str,
    api_version: Option<&str>,
    accept: Option<&str>,
) -> Result<Option<Resolved>, VersionError> {
    let Some(rest) = path.strip_prefix("/api/") else {
        return Ok(None);
    };
    let header = match api_version {
        None => None,
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Some(text.parse::<u64>().map_err(|_| VersionError::Unsupported)?)
        }
        Some(_) => return Err(VersionError::Unsupported),
    };
    let media = accept.and_then(media_type_version);
    let first = rest.split('/').next().unwrap_or("");
    let uri = first
        .strip_prefix('v')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|digits| digits.parse::<u64>().unwrap_or(u64::MAX));

    let claims: Vec<u64> = [uri, media, header].into_iter().flatten().collect();
    if claims.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(VersionError::Conflict);
    }
    if let Some(version) = uri {
        return Ok(Some(Resolved {
            version,
            source: Source::Uri,
            path: path.to_string(),
        }));
    }
    let (version, source) = match (media, header) {
        (Some(version), _) => (version, Source::MediaType),
        (None, Some(version)) => (version, Source::Header),
        (None, None) => (DEFAULT_VERSION, Source::Default),
    };
    if !SUPPORTED.contains(&version) {
        return Err(VersionError::Unsupported);
    }
    Ok(Some(Resolved {
        version,
        source,
        path: join(&format!("/api/v{version}"), rest),
    }))
}

/// A v2 user as v1 shows it: `full_name` instead of `name`.
pub fn user_to_v1(user: &Value) -> Value {
    let given = user["name"]["given"].as_str().unwrap_or_default();
    let family = user["name"]["family"].as_str().unwrap_or_default();
    let full_name = if family.is_empty() {
        given.to_string()
    } else {
        format!("{given} {family}")
    };
    json!({"id": user["id"], "full_name": full_name, "email": user["email"]})
}

/// A v1 request body as v2 expects it, or `None` when `full_name` is missing or not a string.
pub fn user_from_v1(body: &Value) -> Option<Value> {
    let full_name = body.get("full_name")?.as_str()?;
    let (given, family) = full_name.split_once(' ').unwrap_or((full_name, ""));
    Some(json!({"name": {"given": given, "family": family}, "email": body.get("email")}))
}

/// A v2 response as v1 answers it: users converted, `Location` moved to v1, everything else unchanged.
pub fn adapt_to_v1(mut response: Response) -> Response {
    for (name, value) in &mut response.headers {
        if !name.eq_ignore_ascii_case("location") {
            continue;
        }
        if let Some(rest) = value.strip_prefix("/api/v2/") {
            *value = format!("/api/v1/{rest}");
        }
    }
    if !(200..300).contains(&response.status) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return response;
    };
    let converted = match &body {
        Value::Array(users) => Value::Array(users.iter().map(user_to_v1).collect()),
        Value::Object(_) => user_to_v1(&body),
        _ => return response,
    };
    response.body = converted.to_string().into_bytes();
    response
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// Appends `name` to the request's `X-Chain` and to the response's `X-Seen-By` (provided: you do not need to
/// change this).
pub fn tag(name: &'static str) -> Middleware {
    Arc::new(move |request: &Request, next: Next<'_>| {
        let mut inner = request.clone();
        let chain = match request.header("x-chain") {
            Some(chain) => format!("{chain},{name}"),
            None => name.to_string(),
        };
        inner
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("x-chain"));
        inner.headers.push(("X-Chain".to_string(), chain));
        let mut response = next(&inner);
        match response
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-seen-by"))
        {
            Some((_, seen)) => *seen = format!("{seen},{name}"),
            None => response
                .headers
                .push(("X-Seen-By".to_string(), name.to_string())),
        }
        response
    })
}

/// One user, as v2 stores it.
#[derive(Debug, Clone)]
struct User {
    given: String,
    family: String,
    email: String,
}

/// The users of every version (provided: you do not need to change this).
#[derive(Debug, Default)]
struct Store {
    users: BTreeMap<u64, User>,
    last_id: u64,
}

fn user_json(id: u64, user: &User) -> Value {
    json!({"id": id, "name": {"given": user.given, "family": user.family}, "email": user.email})
}

/// Locks the store, even after a panicking handler poisoned the lock.
fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// The v2 handlers and the v1 adapters, over one store (provided: you do not need to change this).
fn router() -> Router {
    let store = Arc::new(Mutex::new(Store::default()));
    let no_user = || json_response(404, &json!({"error": "no such user"}));

    let s = Arc::clone(&store);
    let list: Handler = Arc::new(move |_, _| {
        let store = lock(&s);
        let users: Vec<Value> = store
            .users
            .iter()
            .map(|(id, u)| user_json(*id, u))
            .collect();
        json_response(200, &Value::Array(users))
    });
    let s = Arc::clone(&store);
    let get: Handler = Arc::new(move |_, params| {
        let store = lock(&s);
        match params["id"]
            .parse::<u64>()
            .ok()
            .and_then(|id| store.users.get(&id).map(|u| (id, u)))
        {
            Some((id, user)) => json_response(200, &user_json(id, user)),
            None => no_user(),
        }
    });
    let s = Arc::clone(&store);
    let create: Handler = Arc::new(move |request, _| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let given = body["name"]["given"].as_str().filter(|g| !g.is_empty());
        let family = body["name"]["family"].as_str();
        let email = body["email"].as_str().filter(|e| e.contains('@'));
        let (Some(given), Some(family), Some(email)) = (given, family, email) else {
            return json_response(400, &json!({"error": "invalid user"}));
        };
        let mut store = lock(&s);
        store.last_id += 1;
        let id = store.last_id;
        let user = User {
            given: given.to_string(),
            family: family.to_string(),
            email: email.to_string(),
        };
        let body = user_json(id, &user);
        store.users.insert(id, user);
        json_response(201, &body).with_header("Location", format!("/api/v2/users/{id}"))
    });
    let s = Arc::clone(&store);
    let delete: Handler = Arc::new(move |_, params| {
        let mut store = lock(&s);
        match params["id"]
            .parse::<u64>()
            .ok()
            .and_then(|id| store.users.remove(&id))
        {
            Some(_) => Response::new(204),
            None => no_user(),
        }
    });
    let s = Arc::clone(&store);
    let stats: Handler =
        Arc::new(move |_, _| json_response(200, &json!({"users": lock(&s).users.len()})));

    let (v1_list, v1_get, v2_create) = (list.clone(), get.clone(), create.clone());
    let v1_list: Handler = Arc::new(move |r, p| adapt_to_v1(v1_list(r, p)));
    let v1_get: Handler = Arc::new(move |r, p| adapt_to_v1(v1_get(r, p)));
    let v1_create: Handler = Arc::new(move |request, params| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(v2_body) = user_from_v1(&body) else {
            return json_response(400, &json!({"error": "invalid user"}));
        };
        let mut v2_request = request.clone();
        v2_request.body = v2_body.to_string().into_bytes();
        adapt_to_v1(v2_create(&v2_request, params))
    });
    let index = |version: u64, status: &'static str| -> Handler {
        Arc::new(move |_, _| json_response(200, &json!({"version": version, "status": status})))
    };
    let health: Handler = Arc::new(|_, _| json_response(200, &json!({"status": "ok"})));
    let admins: Handler =
        Arc::new(|_, _| json_response(200, &json!({"admins": ["ops@backlings.dev"]})));

    let mut router = Router::default();
    let mut root = router.root();
    root.route("GET", "/health", health);
    root.group("/api", vec![tag("api")], |api| {
        api.group("/v1", vec![tag("v1"), Arc::new(deprecated)], |v1| {
            v1.route("GET", "/", index(1, "deprecated"));
            v1.route("GET", "/users", v1_list);
            v1.route("POST", "/users", v1_create);
            v1.route("GET", "/users/:id", v1_get);
        });
        api.group("/v2", vec![tag("v2")], |v2| {
            v2.route("GET", "/", index(2, "current"));
            v2.route("GET", "/users", list);
            v2.route("POST", "/users", create);
            v2.route("GET", "/users/:id", get);
            v2.group(
                "/admin",
                vec![tag("admin"), Arc::new(require_admin)],
                |admin| {
                    admin.route("GET", "/stats", stats);
                    admin.route("DELETE", "/users/:id", delete);
                },
            );
            v2.route("GET", "/admins", admins);
        });
    });
    router
}

/// Resolves the version, routes, and decorates the response (provided: you do not need to change this).
pub fn handle(router: &Router, request: &Request) -> Response {
    let resolved = match resolve_version(
        request.path(),
        request.header("api-version"),
        request.header("accept"),
    ) {
        Err(VersionError::Conflict) => {
            return json_response(400, &json!({"error": "conflicting API versions"}));
        }
        Err(VersionError::Unsupported) => {
            return json_response(400, &json!({"error": "unsupported API version"}));
        }
        Ok(None) => return router.dispatch(request),
        Ok(Some(resolved)) => resolved,
    };
    let mut routed = request.clone();
    routed.target = match request.query() {
        Some(query) => format!("{}?{query}", resolved.path),
        None => resolved.path.clone(),
    };
    let mut response = router.dispatch(&routed);
    if SUPPORTED.contains(&resolved.version) {
        if resolved.source == Source::MediaType {
            let vendor = format!("application/vnd.backlings.v{}+json", resolved.version);
            for (name, value) in &mut response.headers {
                if name.eq_ignore_ascii_case("content-type") && value == "application/json" {
                    *value = vendor.clone();
                }
            }
        }
        response = response.with_header("Api-Version", resolved.version);
    }
    response
}

/// Serves the API (provided: you do not need to change this).
fn main() -> ExitCode {
    let router = router();
    match serve(move |request| handle(&router, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
