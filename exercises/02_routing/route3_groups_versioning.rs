//! # Route groups and API versioning: prefixes, shared middleware, and retiring a version politely
//!
//! A real API is not a flat list of routes. Routes come in **groups** that share a path prefix and a stack of
//! middleware: everything under `/api` logs and counts requests, everything under `/api/v2/admin` also checks
//! an admin token. Frameworks give this one shape (Gin's `router.Group`, Express's `Router()`, axum's
//! `nest` + `layer`, Spring's class-level `@RequestMapping`): a group has a prefix and middleware, a route in
//! it gets the prefix prepended and the middleware wrapped around its handler, and groups nest.
//!
//! Middleware composes like an onion. The outermost group's middleware sees the request first and the
//! response last; each layer may pass the request on (`next(request)`), change it on the way in, change the
//! response on the way out, or answer by itself without calling `next` at all (a guard refusing a request).
//!
//! **Versioning** is why groups matter so much: `/api/v1` and `/api/v2` are two groups over mostly the same
//! data. Clients choose a version in one of three common ways:
//!
//! | style | example | used by |
//! |---|---|---|
//! | URI | `GET /api/v2/users/7` | most public APIs: visible, cacheable, easy to try in a browser |
//! | header | `Api-Version: 2` | Azure (`api-version`), Stripe (`Stripe-Version`), GitHub (`X-GitHub-Api-Version`) |
//! | vendor media type | `Accept: application/vnd.backlings.v2+json` | GitHub's `application/vnd.github.v3+json`; "the URL names the resource, not its format" |
//!
//! An old version is not switched off overnight. It is **deprecated** first: every response of v1 says so,
//! machine-readably, with `Deprecation` (RFC 9745, a structured date: `@` and unix seconds), `Sunset` (RFC 8594,
//! an HTTP-date after which it may stop working) and a `Link` to its successor, so client libraries and API
//! gateways can warn long before anything breaks. And v1 should not be a second copy of the code: it is served
//! by an **adapter** that translates v1 requests into v2 requests and v2 responses back into v1's shape, so
//! there is one implementation, one store, and one place to fix a bug.
//!
//! ## The contract (what the grader checks)
//!
//! **Groups.** `Group::route(method, path, handler)` registers the group's prefix joined with `path`, with the
//! group's middleware. `Group::group(prefix, middleware, build)` makes a nested group: its prefix is the parent's
//! prefix joined with `prefix`, its middleware is the parent's followed by its own, and it applies only to the
//! routes registered inside `build`, never to the parent's other routes. Joining puts exactly one `/` between
//! the parts, and a `path` of `/` is the group's own path (`/api/v2`, never `/api/v2/`). `run_chain` runs the
//! middleware in order, outermost first, the handler innermost.
//!
//! The provided table (in `main`): `GET /health` outside any group; the `/api` group (middleware `tag("api")`)
//! holds the `/v1` group (`tag("v1")`, then `deprecated`) and the `/v2` group (`tag("v2")`), and inside `/v2`
//! the `/admin` group (`tag("admin")`, then `require_admin`), followed by `GET /api/v2/admins`, which is public.
//! `tag(name)` appends `name` to the request's `X-Chain` on the way in and to the response's `X-Seen-By` on the
//! way out; a handler echoes the `X-Chain` it received, so the grader sees the order of the layers.
//!
//! **The guard** (`require_admin`): `Authorization: Bearer admin-secret` (the scheme in any case, the token
//! exactly) passes on; anything else is answered `401 {"error":"unauthorized"}` with
//! `WWW-Authenticate: Bearer realm="admin"`, and the handler never runs (a refused `DELETE` deletes nothing).
//!
//! **Version resolution** (`resolve_version`, for paths starting with `/api/`):
//! 1. An `Api-Version` header that is not a whole number (ASCII digits) is `400 unsupported API version`.
//! 2. The claims are: the URI (the segment after `/api/` is `v` and digits, e.g. `v2`), the `Api-Version`
//!    header, and the vendor media type (the **first** range of `Accept`, a comma-separated list, whose type,
//!    compared case-insensitively and without its `;` parameters, is `application/vnd.backlings.vN+json`).
//!    Claims that name different versions are `400 conflicting API versions`: never serve a version the
//!    client did not ask for.
//! 3. A URI version routes the path as it is (`/api/v3/…` then finds no route: 404). Otherwise the version is
//!    the one claimed (by media type or header), or **2** when nothing is claimed; a version other than 1 or 2
//!    is `400 unsupported API version`; the path `/api/REST` is routed as `/api/vN/REST` (and `/api/` as
//!    `/api/vN`).
//! 4. The source is the URI if it names a version, else the media type if one is claimed, else the header,
//!    else the default. The provided `handle` adds `Api-Version: N` to the response of a resolved version 1 or
//!    2, and when the source is the media type, answers with `Content-Type: application/vnd.backlings.vN+json`.
//!
//! **Deprecation** (`deprecated`, the middleware of the v1 group): every response of a v1 route carries
//! `Deprecation: @1751328000`, `Sunset: Thu, 31 Dec 2026 23:59:59 GMT` and
//! `Link: </api/v2>; rel="successor-version"`; no v2 response does.
//!
//! **The v1 adapter.** v2 users are `{"id":7,"name":{"given":"Ada","family":"Lovelace"},"email":"…"}`; v1 users
//! are `{"id":7,"full_name":"Ada Lovelace","email":"…"}`. `user_from_v1` turns a v1 body into a v2 body: the
//! given name is the text before the **first** space of `full_name` and the family name the rest (empty when
//! there is no space); a `full_name` that is missing or not a string is `None` (400). `user_to_v1` joins them
//! back with one space (just the given name when the family name is empty). `adapt_to_v1` turns a v2 response
//! into a v1 one: a 2xx JSON user or array of users is converted, a `Location` under `/api/v2/` is moved under
//! `/api/v1/`, and anything else (errors above all) passes through unchanged. v1 has `GET /api/v1`,
//! `GET|POST /api/v1/users` and `GET /api/v1/users/:id`, all through the adapter, over the same store as v2.
//!
//! ## Pitfalls
//!
//! - A child group that pushes its middleware onto the parent's list: every route registered after the group
//!   closes inherits the guard (`/api/v2/admins` suddenly needs a token).
//! - Composing the chain inside out: the admin guard runs before the `/api` layer that was meant to see every
//!   request (and log the refused ones).
//! - A guard that calls `next` first and refuses afterwards: the response is a 401, the side effect happened.
//! - Silently preferring the URI over a header that disagrees; comparing media types case-sensitively.
//! - An adapter that "converts" error bodies too, or forgets that `Location` points into v2.
//!
//! Roadmap: route grouping for permissions, versioning and shared middleware [001 §2.5]; API versioning
//! (URI, header, media type), deprecation and migration [001 §2.4][001 §11.7][003].

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
    // TODO: exactly one `/` between the parts; a `path` of `/` (or an empty one) adds nothing.
    todo!()
}

impl Group<'_> {
    /// Registers `handler` for `method` at this group's prefix joined with `path`, with this group's middleware.
    pub fn route(&mut self, method: &str, path: &str, handler: Handler) {
        // TODO: register the route under this group's prefix, with this group's middleware.
        todo!()
    }

    /// A nested group: the prefixes joined, the parent's middleware then `middleware`, for the routes `build`
    /// registers.
    pub fn group(
        &mut self,
        prefix: &str,
        middleware: Vec<Middleware>,
        build: impl FnOnce(&mut Group),
    ) {
        // TODO: make a child group (prefixes joined, the parent's middleware then `middleware`) and let
        // `build` fill it, without changing this group.
        todo!()
    }
}

/// Runs `chain` around `handler`: the first middleware outermost, the handler innermost.
pub fn run_chain(
    chain: &[Middleware],
    request: &Request,
    handler: &dyn Fn(&Request) -> Response,
) -> Response {
    // TODO: the first middleware gets a `next` that runs the rest of the chain; an empty chain is just
    // the handler.
    todo!()
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
    // TODO: pass on a request that carries the admin token; answer anything else with the 401 of the
    // header, without calling `next`.
    todo!()
}

/// The v1 group's middleware: every response of a v1 route says that v1 is deprecated, and until when it works.
pub fn deprecated(request: &Request, next: Next<'_>) -> Response {
    // TODO: add `Deprecation`, `Sunset` and `Link` (see the constants below) to the response of `next`.
    todo!()
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

/// Decides the version of a request to `path` (`None` for a path outside `/api/`) and the path to route.
pub fn resolve_version(
    path: &str,
    api_version: Option<&str>,
    accept: Option<&str>,
) -> Result<Option<Resolved>, VersionError> {
    // TODO: the four steps of "Version resolution" in the header: check `Api-Version`, collect the
    // claims (URI, header, the first vendor range of `Accept`), refuse a conflict, then choose the
    // version, its source, and the path to route.
    todo!()
}

/// A v2 user as v1 shows it: `full_name` instead of `name`.
pub fn user_to_v1(user: &Value) -> Value {
    // TODO: `{"id", "full_name", "email"}` from `{"id", "name": {"given", "family"}, "email"}`.
    todo!()
}

/// A v1 request body as v2 expects it, or `None` when `full_name` is missing or not a string.
pub fn user_from_v1(body: &Value) -> Option<Value> {
    // TODO: `{"name": {"given", "family"}, "email"}` from `{"full_name", "email"}`, split at the first
    // space.
    todo!()
}

/// A v2 response as v1 answers it: users converted, `Location` moved to v1, everything else unchanged.
pub fn adapt_to_v1(response: Response) -> Response {
    // TODO: move a `Location` under /api/v2/ to /api/v1/; convert the user (or the array of users) of a
    // 2xx JSON response; leave everything else as it is.
    todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    // Prefixes join with exactly one slash; `/` is the group's own path.
    #[test]
    fn prefixes_join_with_one_slash() {
        assert_eq!(join("/api", "/v2"), "/api/v2");
        assert_eq!(join("/api/v2", "/"), "/api/v2");
        assert_eq!(join("", "/health"), "/health");
        assert_eq!(join("/api/", "users"), "/api/users");
    }

    // A nested group gets the parent's middleware first; the parent's later routes do not get the child's.
    #[test]
    fn group_middleware_stays_inside_its_group() {
        let router = router();
        let inside = handle(
            &router,
            &request(
                "GET",
                "/api/v2/admin/stats",
                &[("Authorization", "Bearer admin-secret")],
                "",
            ),
        );
        assert_eq!(inside.status, 200);
        assert_eq!(inside.header("X-Chain"), Some("api,v2,admin"));
        let after = handle(&router, &request("GET", "/api/v2/admins", &[], ""));
        assert_eq!(after.status, 200);
        assert_eq!(after.header("X-Chain"), Some("api,v2"));
        let outside = handle(&router, &request("GET", "/health", &[], ""));
        assert_eq!(outside.header("X-Seen-By"), None);
    }

    // The guard answers 401 by itself, and the outer layers still see its response.
    #[test]
    fn the_guard_refuses_without_running_the_handler() {
        let router = router();
        let refused = handle(&router, &request("GET", "/api/v2/admin/stats", &[], ""));
        assert_eq!(refused.status, 401);
        assert_eq!(refused.header("X-Chain"), None);
        assert_eq!(refused.header("X-Seen-By"), Some("admin,v2,api"));
    }

    // Each style resolves; conflicting claims and unknown versions are refused.
    #[test]
    fn versions_resolve_from_uri_header_and_media_type() {
        let resolved = |path, header, accept| resolve_version(path, header, accept);
        assert_eq!(
            resolved("/api/users/7", Some("1"), None),
            Ok(Some(Resolved {
                version: 1,
                source: Source::Header,
                path: "/api/v1/users/7".to_string()
            }))
        );
        assert_eq!(
            resolved(
                "/api/users",
                None,
                Some("text/html, Application/VND.backlings.v1+JSON; q=0.9")
            )
            .unwrap()
            .unwrap()
            .source,
            Source::MediaType
        );
        assert_eq!(
            resolved("/api/", None, None).unwrap().unwrap().path,
            "/api/v2"
        );
        assert_eq!(
            resolved("/api/v2/users", Some("1"), None),
            Err(VersionError::Conflict)
        );
        assert_eq!(
            resolved("/api/users", Some("two"), None),
            Err(VersionError::Unsupported)
        );
        assert_eq!(
            resolved("/api/users", Some("3"), None),
            Err(VersionError::Unsupported)
        );
        assert_eq!(resolved("/health", Some("3"), None), Ok(None));
    }

    // v1 is the v2 data in the old shape, with Deprecation and Sunset on every response.
    #[test]
    fn v1_goes_through_the_adapter() {
        let router = router();
        let created = handle(
            &router,
            &request(
                "POST",
                "/api/v1/users",
                &[],
                r#"{"full_name":"Jean Luc Picard","email":"jl@ncc.org"}"#,
            ),
        );
        assert_eq!(created.status, 201);
        assert_eq!(created.header("Location"), Some("/api/v1/users/1"));
        assert_eq!(created.header("Deprecation"), Some("@1751328000"));
        assert_eq!(body(&created)["full_name"], "Jean Luc Picard");
        let v2 = handle(&router, &request("GET", "/api/v2/users/1", &[], ""));
        assert_eq!(
            body(&v2)["name"],
            json!({"given": "Jean", "family": "Luc Picard"})
        );
        assert_eq!(v2.header("Sunset"), None);
        let missing = handle(
            &router,
            &request("GET", "/api/users/9", &[("Api-Version", "1")], ""),
        );
        assert_eq!(
            (missing.status, body(&missing)),
            (404, json!({"error": "no such user"}))
        );
        assert_eq!(missing.header("Sunset"), Some(SUNSET));
    }
}
