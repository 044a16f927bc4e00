//! # Middleware: layers around a handler, and `next()`
//!
//! Every web framework has the same shape under different names (Express `app.use`, Koa, Django middleware,
//! ASP.NET's pipeline, Go's `func(http.Handler) http.Handler`, Rust's tower `Layer`): a request goes through a
//! **chain of layers** before it reaches the handler, and the response comes back out through the same
//! layers in reverse. Each layer is a function of the request and of `next`, "the rest of the chain":
//!
//! ```text
//! fn handle(&self, request, next) -> Response {
//!     // pre-hook: runs on the way in (check a token, start a timer, add a header to the request)
//!     let response = next.run(request);      // everything inside this layer, down to the handler
//!     // post-hook: runs on the way out (log the status, add a header to the response)
//!     response
//! }
//! ```
//!
//! That is why a chain is drawn as an **onion**: the first layer added is the outermost, so it is the first
//! to see the request and the last to see the response. A layer may also **short-circuit**: answer by itself
//! without calling `next` (an auth layer refusing a request, a cache layer answering from memory). Then no
//! layer inside it and no handler runs at all, but every layer *outside* it still gets the response back
//! through its post-hook, so the logger still logs the 403 and the timer still times it.
//!
//! In production this is where every cross-cutting concern lives (logging, auth, rate limits, CORS,
//! compression, tracing), and most middleware bugs are order bugs: a logger inside the auth layer never sees
//! refused requests, a cache outside the auth layer serves one user's page to another.
//!
//! Rust makes one rule of the pattern a type rule: `Next::run` takes `self`, so a layer can call the rest of
//! the chain at most once (calling it twice would run the handler, and its side effects, twice).
//!
//! ## The contract the grader checks
//!
//! The program is started as `mw1_chain_next --chain trace:log,gate:auth,trace:timer` (the first layer is the
//! outermost) and answers HTTP. Every layer records what it does in the `X-Trace-Order` header, a
//! comma-separated list that travels *in* on the request and comes back *out* on the response:
//!
//! - a `trace:NAME` layer appends `>NAME` to the request's trace before calling `next`, and `<NAME` to the
//!   response's trace after;
//! - a `gate:NAME` layer refuses the request when `NAME` is in the request's `X-Deny` header (a
//!   comma-separated list of exact names; spaces around a name are allowed): it answers `403` with the body
//!   `denied by NAME\n` and, as its `X-Trace-Order`, the trace it received followed by `!NAME`, and never
//!   calls `next`. A gate that lets the request through behaves exactly like a `trace` layer;
//! - the handler (provided) answers `200 handled PATH` for paths under `/api/` and `404` otherwise, with the
//!   request's trace followed by `handler`, and counts the requests it has run in `X-Handled` (its side
//!   effect: a request that was refused must never reach it).
//!
//! So `--chain trace:log,gate:auth,trace:timer` answers a plain request with
//! `X-Trace-Order: >log,>auth,>timer,handler,<timer,<auth,<log`, and one with `X-Deny: auth` with
//! `X-Trace-Order: >log,!auth,<log` and a 403. A trace the client sent in its own `X-Trace-Order` header
//! (`client`) is kept at the front. Header names are case-insensitive (`x-trace-order` is the same header),
//! so appending means finding the existing header whatever the case of its name, never adding a second one.
//!
//! ## Pitfalls
//!
//! - Running the chain in the wrong order: the first layer of the list is the outermost.
//! - Doing post-hook work before calling `next`: it then runs on the way in, before the inner layers.
//! - A short-circuit that still calls `next` "to be safe": the handler runs for a refused request.
//! - A short-circuit answer that drops the trace of the layers outside it.
//! - Matching `X-Deny` by substring (`authz` is not `auth`) or without trimming spaces.
//!
//! Roadmap: the middleware pattern (pre- and post-request, chaining and `next()`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_harness::http::{Request, Response, serve};

/// The header in which layers record the order they ran in, on the request and on the response.
pub const TRACE: &str = "X-Trace-Order";
/// The request header listing the names of the gates that must refuse it.
pub const DENY: &str = "X-Deny";

/// One layer of the chain.
pub trait Middleware: Send + Sync {
    /// Handles `request`: work on the way in, then `next.run(request)` for the rest of the chain (or an
    /// answer of its own, a short-circuit), then work on the way out.
    fn handle(&self, request: Request, next: Next<'_>) -> Response;
}

/// What the chain ends in: the application's handler.
pub type Endpoint = dyn Fn(Request) -> Response + Send + Sync;

/// The rest of the chain, as seen from inside one layer: the layers after it, then the endpoint.
pub struct Next<'a> {
    layers: &'a [Box<dyn Middleware>],
    endpoint: &'a Endpoint,
}

impl Next<'_> {
    /// Runs the rest of the chain on `request` and returns its response. Takes `self`: at most once.
    pub fn run(self, request: Request) -> Response {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.handle(
                request,
                Next {
                    layers: rest,
                    endpoint: self.endpoint,
                },
            ),
            None => (self.endpoint)(request),
        }
    }
}

/// Layers around an endpoint. The first layer added is the outermost.
pub struct Chain {
    layers: Vec<Box<dyn Middleware>>,
    endpoint: Box<Endpoint>,
}

impl Chain {
    /// A chain with no layers yet around `endpoint`.
    pub fn new(endpoint: impl Fn(Request) -> Response + Send + Sync + 'static) -> Self {
        Chain {
            layers: Vec::new(),
            endpoint: Box::new(endpoint),
        }
    }

    /// This chain with `layer` added inside the layers already there.
    pub fn layer(mut self, layer: impl Middleware + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Runs `request` through every layer, outermost first, down to the endpoint.
    pub fn handle(&self, request: Request) -> Response {
        Next {
            layers: &self.layers,
            endpoint: &*self.endpoint,
        }
        .run(request)
    }
}

/// Appends `entry` to the `X-Trace-Order` header in `headers` (a request's or a response's), creating the
/// header if there is none. Header names are case-insensitive: there is only ever one trace header.
pub fn append_trace(headers: &mut Vec<(String, String)>, entry: &str) {
    match headers
        .iter_mut()
        .find(|(name, _)| name.eq_ignore_ascii_case(TRACE))
    {
        Some((_, value)) if value.is_empty() => value.push_str(entry),
        Some((_, value)) => {
            value.push(',');
            value.push_str(entry);
        }
        None => headers.push((TRACE.to_string(), entry.to_string())),
    }
}

/// A layer that only records that it ran: `>NAME` on the way in, `<NAME` on the way out.
pub struct Tracer {
    pub name: String,
}

impl Middleware for Tracer {
    fn handle(&self, mut request: Request, next: Next<'_>) -> Response {
        append_trace(&mut request.headers, &format!(">{}", self.name));
        let mut response = next.run(request);
        append_trace(&mut response.headers, &format!("<{}", self.name));
        response
    }
}

/// A layer that refuses the requests whose `X-Deny` header names it, and otherwise traces like a [`Tracer`].
pub struct Gate {
    pub name: String,
}

impl Gate {
    /// Whether this gate's name is one of the comma-separated names in the request's `X-Deny` header.
    pub fn is_denied(&self, request: &Request) -> bool {
        request
            .header(DENY)
            .is_some_and(|names| names.split(',').any(|name| name.trim() == self.name))
    }
}

impl Middleware for Gate {
    fn handle(&self, mut request: Request, next: Next<'_>) -> Response {
        if self.is_denied(&request) {
            let refusal = Response::text(403, format!("denied by {}\n", self.name));
            return continue_trace(&request, refusal, &format!("!{}", self.name));
        }
        append_trace(&mut request.headers, &format!(">{}", self.name));
        let mut response = next.run(request);
        append_trace(&mut response.headers, &format!("<{}", self.name));
        response
    }
}

/// `response` with the request's trace copied onto it, then `entry` appended (provided: you do not need to
/// change this).
pub fn continue_trace(request: &Request, mut response: Response, entry: &str) -> Response {
    if let Some(trace) = request.header(TRACE) {
        response
            .headers
            .push((TRACE.to_string(), trace.to_string()));
    }
    append_trace(&mut response.headers, entry);
    response
}

/// How many requests the handler has run: its side effect, visible to the grader (a refused request must
/// never reach it).
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// The application at the end of the chain (provided: you do not need to change this).
pub fn app(request: Request) -> Response {
    let handled = HANDLED.fetch_add(1, Ordering::SeqCst) + 1;
    let path = request.path();
    let response = if path.starts_with("/api/") {
        Response::text(200, format!("handled {path}\n"))
    } else {
        Response::text(404, format!("no route for {path}\n"))
    };
    continue_trace(
        &request,
        response.with_header("X-Handled", handled),
        "handler",
    )
}

/// Builds the chain from `trace:NAME,gate:NAME,…`, outermost first (provided: you do not need to change this).
fn parse_chain(spec: &str) -> Result<Chain, String> {
    let mut chain = Chain::new(app);
    for item in spec.split(',').filter(|item| !item.is_empty()) {
        let (kind, name) = item
            .split_once(':')
            .ok_or(format!("layer `{item}` is not KIND:NAME"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "layer name `{name}` must be letters, digits and `-`"
            ));
        }
        let name = name.to_string();
        chain = match kind {
            "trace" => chain.layer(Tracer { name }),
            "gate" => chain.layer(Gate { name }),
            _ => return Err(format!("unknown layer kind `{kind}` (trace or gate)")),
        };
    }
    Ok(chain)
}

/// Serves the chain over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let spec = match (args.next().as_deref(), args.next()) {
        (None, _) => String::new(),
        (Some("--chain"), Some(spec)) => spec,
        _ => {
            eprintln!("usage: mw1_chain_next [--chain trace:NAME,gate:NAME,...]");
            return ExitCode::from(2);
        }
    };
    let chain = match parse_chain(&spec) {
        Ok(chain) => chain,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    match serve(move |request| chain.handle(request.clone())) {
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

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".to_string(),
            target: path.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn tracer(name: &str) -> Tracer {
        Tracer {
            name: name.to_string(),
        }
    }

    fn gate(name: &str) -> Gate {
        Gate {
            name: name.to_string(),
        }
    }

    // With no layers the request goes straight to the handler.
    #[test]
    fn an_empty_chain_is_just_the_handler() {
        let response = Chain::new(app).handle(get("/api/x", &[]));
        assert_eq!(response.status, 200);
        assert_eq!(response.header(TRACE), Some("handler"));
    }

    // Pre-hooks run outermost first, post-hooks innermost first: the onion.
    #[test]
    fn layers_enter_in_order_and_exit_in_reverse() {
        let chain = Chain::new(app)
            .layer(tracer("a"))
            .layer(tracer("b"))
            .layer(tracer("c"));
        let response = chain.handle(get("/api/orders", &[]));
        assert_eq!(response.body, b"handled /api/orders\n");
        assert_eq!(response.header(TRACE), Some(">a,>b,>c,handler,<c,<b,<a"));
    }

    // A refusing gate answers by itself; the layers outside it still see the response on the way out.
    #[test]
    fn a_gate_short_circuits_but_outer_layers_still_exit() {
        let runs = std::sync::Arc::new(AtomicU64::new(0));
        let counted = std::sync::Arc::clone(&runs);
        let endpoint = move |request: Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            app(request)
        };
        let chain = Chain::new(endpoint)
            .layer(tracer("log"))
            .layer(gate("auth"))
            .layer(tracer("timer"));
        let response = chain.handle(get("/api/orders", &[(DENY, "auth")]));
        assert_eq!(response.status, 403);
        assert_eq!(response.body, b"denied by auth\n");
        assert_eq!(response.header(TRACE), Some(">log,!auth,<log"));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "the handler ran for a refused request"
        );

        let passed = chain.handle(get("/api/orders", &[(DENY, "other")]));
        assert_eq!(passed.status, 200);
        assert_eq!(
            passed.header(TRACE),
            Some(">log,>auth,>timer,handler,<timer,<auth,<log")
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    // X-Deny is a list of exact names: spaces are allowed, substrings are not names.
    #[test]
    fn deny_names_are_exact_and_trimmed() {
        let auth = gate("auth");
        assert!(auth.is_denied(&get("/", &[(DENY, "cache,  auth ")])));
        assert!(!auth.is_denied(&get("/", &[(DENY, "authz, oauth")])));
        assert!(!auth.is_denied(&get("/", &[])));
    }

    // A trace sent with a lowercase header name is the same header: appended to, never duplicated.
    #[test]
    fn the_trace_header_is_found_whatever_its_case() {
        let mut headers = vec![("x-trace-order".to_string(), "client".to_string())];
        append_trace(&mut headers, ">a");
        assert_eq!(
            headers,
            vec![("x-trace-order".to_string(), "client,>a".to_string())]
        );
        let chain = Chain::new(app).layer(tracer("a"));
        let response = chain.handle(get("/nowhere", &[("x-trace-order", "client")]));
        assert_eq!(response.status, 404);
        assert_eq!(response.header(TRACE), Some("client,>a,handler,<a"));
    }
}
