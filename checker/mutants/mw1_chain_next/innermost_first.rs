//! mutant: runs the chain from its last layer, so the first layer added is the innermost instead of the outermost
//! expect: the first layer of the chain is the outermost

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
        match self.layers.split_last() {
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
