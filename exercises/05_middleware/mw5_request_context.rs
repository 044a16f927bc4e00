//! # Request context: ids, trace context, the user, and a deadline that cancels
//!
//! A request is more than its method, path and body. While it is being served, every layer and every handler
//! needs a few facts *about* it: which request this is (to tie together the log lines it produces), which
//! distributed trace it belongs to (to follow it through the five services it calls), who is asking, and how
//! long it may still take. Frameworks keep these in a **request context** (Go's `context.Context`, Express's
//! `req`/`res.locals`, Java's MDC and OpenTelemetry context, axum's request extensions), built once by a
//! middleware at the door and handed down, so that no handler has to re-parse headers and nothing is kept in
//! globals that two requests would share.
//!
//! - **Request id.** A caller (a load balancer, a gateway) may already have given the request an
//!   `X-Request-Id`: keep it, so one id names the request across every hop. But it comes from outside, so
//!   accept only a sane one (1 to 64 characters of `A-Z a-z 0-9 . _ -`): anything else could inject fake
//!   lines into your logs or blow up your log storage. Otherwise, make a fresh one. Answer it back in the
//!   response's `X-Request-Id`, so a customer can quote it.
//! - **Trace context** (W3C Trace Context, the `traceparent` header of OpenTelemetry, Jaeger, Datadog…):
//!   `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`. The trace id names the whole journey and is
//!   kept from hop to hop; the parent id names the *caller's* span. This service does its work in a span of
//!   its own, with a fresh span id, and every call it makes downstream carries
//!   `traceparent: 00-<same trace-id>-<our span id>-<same flags>`: the callee's parent is us, not our caller.
//! - **The user**, found once from the `Authorization` header, and passed to the services called on their
//!   behalf (`X-User` here).
//! - **A deadline.** Each route has a time budget. When it runs out, the client gets `504 Gateway Timeout`
//!   at once, and the work still running for it must **stop**: a cancellation signal travels in the context
//!   (Go's `ctx.Done()`, a `CancellationToken`), and the work checks it before each step. Without that, the
//!   server keeps working (and charging, and writing) for a client that has already been told it failed; the
//!   client retries, and the side effect happens twice.
//!
//! ## The contract the grader checks
//!
//! Started as `mw5_request_context --upstream 127.0.0.1:PORT --user NAME:TOKEN… --orders-timeout-ms N
//! --report-timeout-ms M`:
//!
//! | route | what it does |
//! |---|---|
//! | `GET /hello` | `200 {"request_id", "trace_id", "span_id", "user"}`: the context, as built (`user` may be null) |
//! | `POST /orders` | calls the upstream `GET /inventory/reserve` then `POST /orders/commit`; timeout N ms |
//! | `POST /reports?steps=S` | calls `GET /reports/step` S times then `POST /reports/commit`; timeout M ms |
//! | `GET /stats` | `200 {"finished": K}`: how many report jobs have ended, committed or not (provided) |
//!
//! `/orders` and `/reports` need `Authorization: Bearer TOKEN` (else `401`). Every response, whatever its
//! status, carries `X-Request-Id` and `X-Trace-Id` (the trace id). Every upstream call carries
//! `X-Request-Id`, `traceparent` (as above; flags `01` when the trace is new) and `X-User`. A route past its
//! timeout answers `504` right away, and from then on its work makes no further upstream call: a job that was
//! waiting on an upstream call when the timeout struck stops when that call returns, and never commits.
//!
//! ## Pitfalls
//!
//! - Trusting any incoming `X-Request-Id`, or ignoring a valid one.
//! - Forwarding the caller's `traceparent` unchanged (the trace then says the caller called the upstream
//!   directly), or starting a new trace at every hop (the journey falls apart).
//! - A timeout measured after the handler returns: the client waits anyway.
//! - A timeout that answers `504` but lets the work run on to its commit.
//! - One timeout for every route.
//!
//! Roadmap: request context (request-scoped state, user injection, trace ids); request timeouts and
//! cancellation signals; Go's context.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use backlings_harness::http::{Request, Response, serve};
use serde_json::json;

/// What a request knows about itself while it is served. Cloning shares the cancellation signal.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The caller's `X-Request-Id` if it is sane, else a fresh one.
    pub request_id: String,
    /// 32 lowercase hex digits: the caller's trace, or a new one.
    pub trace_id: String,
    /// 16 lowercase hex digits: this service's own span, always new.
    pub span_id: String,
    /// The trace flags to pass on: the caller's, or `01` for a new trace.
    pub flags: String,
    /// Who is asking, if a known token came with the request.
    pub user: Option<String>,
    /// Set when the request's time is up.
    pub cancel: Cancel,
}

/// Whether `id` is a request id worth keeping: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn is_valid_request_id(id: &str) -> bool {
    // TODO: 1 to 64 characters, each a letter, a digit, `.`, `_` or `-`.
    todo!()
}

/// Reads a version-00 `traceparent`: `Some((trace_id, parent_id, flags))` if it is well-formed (lowercase
/// hex of the right lengths, ids not all zeros).
pub fn parse_traceparent(value: &str) -> Option<(String, String, String)> {
    // TODO: four fields separated by `-`: version `00`, a 32-hex trace id, a 16-hex parent id, 2-hex flags;
    // lowercase hex only, and neither id all zeros.
    todo!()
}

impl RequestContext {
    /// Builds the context of `request`: request id, trace context, a new span, the user.
    pub fn from_request(request: &Request, ids: &Ids, users: &HashMap<String, String>) -> Self {
        // TODO: keep a sane `X-Request-Id` or make one; continue the caller's trace (id and flags) or start
        // one with flags `01`; always a new span id; the user of a known bearer token; a fresh `Cancel`.
        todo!()
    }

    /// The headers every call this request makes to another service carries.
    pub fn outgoing_headers(&self) -> Vec<(String, String)> {
        // TODO: `X-Request-Id`, `traceparent` with our span as the parent, and `X-User` when there is one.
        todo!()
    }

    /// `Err(WorkError::Cancelled)` once the request's time is up (provided: you do not need to change this).
    pub fn check(&self) -> Result<(), WorkError> {
        if self.cancel.is_cancelled() {
            Err(WorkError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Runs `work` with `ctx` on a thread of its own and waits for its response at most `timeout`. Past it,
/// cancels `ctx` (so the work stops at its next check) and answers `504` at once.
pub fn with_timeout(
    ctx: &RequestContext,
    timeout: Duration,
    work: impl FnOnce(RequestContext) -> Response + Send + 'static,
) -> Response {
    // TODO: run `work` on its own thread with a clone of the context, and wait for its response for at most
    // `timeout`; past it, cancel the context and answer 504 without waiting any longer.
    todo!()
}

/// A report: `steps` calls to the upstream's `GET /reports/step`, then the side effect, one
/// `POST /reports/commit`. Stops at the first check after the request is cancelled.
pub fn run_report(app: &App, ctx: &RequestContext, steps: u64) -> Result<u64, WorkError> {
    // TODO: the steps, then the commit, each only if the request is still wanted (`ctx.check()`).
    todo!()
}

/// Why work stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkError {
    /// The request's time was up.
    Cancelled,
    /// The upstream failed.
    Upstream(String),
}

impl From<io::Error> for WorkError {
    fn from(error: io::Error) -> Self {
        WorkError::Upstream(error.to_string())
    }
}

/// A cancellation signal shared by every clone of a context (provided: you do not need to change this).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Signals every holder that the work is no longer wanted.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] has been called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Fresh ids, unique in this process and reproducible from `BACKLINGS_SEED` (provided: you do not need to
/// change this).
#[derive(Debug, Default)]
pub struct Ids {
    seed: u64,
    counter: AtomicU64,
}

impl Ids {
    pub fn new(seed: u64) -> Self {
        Ids {
            seed,
            counter: AtomicU64::new(1),
        }
    }

    fn next(&self) -> u64 {
        loop {
            // splitmix64 of a counter: a bijection, so no value repeats; zero is skipped (not a valid id).
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            let mut z = self
                .seed
                .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            if z != 0 {
                return z;
            }
        }
    }

    /// `req-` and 16 hex digits.
    pub fn request_id(&self) -> String {
        format!("req-{:016x}", self.next())
    }

    /// 32 hex digits.
    pub fn trace_id(&self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }

    /// 16 hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.next())
    }
}

/// The service (provided: you do not need to change this).
#[derive(Debug)]
pub struct App {
    pub upstream: SocketAddr,
    /// Token → user name.
    pub users: HashMap<String, String>,
    pub ids: Ids,
    pub orders_timeout: Duration,
    pub report_timeout: Duration,
    /// Report jobs that have ended, committed or not.
    pub finished: AtomicU64,
}

/// Calls the upstream with the context's outgoing headers and returns the status; a status other than
/// 2xx is an error (provided: you do not need to change this).
pub fn call_upstream(
    upstream: SocketAddr,
    ctx: &RequestContext,
    method: &str,
    path: &str,
) -> io::Result<u16> {
    let mut stream = TcpStream::connect(upstream)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: upstream\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (name, value) in ctx.outgoing_headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(io::Error::other(format!("the upstream answered {status}")))
    }
}

/// Serves one request: builds its context, routes it under the route's timeout, and stamps the ids on the
/// response (provided: you do not need to change this).
pub fn serve_request(app: &Arc<App>, request: &Request) -> Response {
    let ctx = RequestContext::from_request(request, &app.ids, &app.users);
    let needs_user = matches!(request.path(), "/orders" | "/reports");
    let response = match (request.method.as_str(), request.path()) {
        _ if needs_user && ctx.user.is_none() => {
            json_response(401, &json!({ "error": "send Authorization: Bearer TOKEN" }))
        }
        ("GET", "/hello") => json_response(
            200,
            &json!({
                "request_id": ctx.request_id,
                "trace_id": ctx.trace_id,
                "span_id": ctx.span_id,
                "user": ctx.user,
            }),
        ),
        ("GET", "/stats") => json_response(
            200,
            &json!({ "finished": app.finished.load(Ordering::SeqCst) }),
        ),
        ("POST", "/orders") => {
            let app = Arc::clone(app);
            with_timeout(&ctx, app.orders_timeout, move |ctx| place_order(&app, &ctx))
        }
        ("POST", "/reports") => {
            let steps = request
                .query()
                .and_then(|q| q.strip_prefix("steps="))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(1);
            let app = Arc::clone(app);
            with_timeout(&ctx, app.report_timeout, move |ctx| {
                let outcome = run_report(&app, &ctx, steps);
                app.finished.fetch_add(1, Ordering::SeqCst);
                match outcome {
                    Ok(steps) => json_response(200, &json!({ "steps": steps, "committed": true })),
                    Err(error) => work_error(&error),
                }
            })
        }
        _ => json_response(404, &json!({ "error": "no such route" })),
    };
    response
        .with_header("X-Request-Id", &ctx.request_id)
        .with_header("X-Trace-Id", &ctx.trace_id)
}

/// Reserves, then commits, checking the context before each call (provided: you do not need to change
/// this).
fn place_order(app: &App, ctx: &RequestContext) -> Response {
    let outcome = (|| {
        ctx.check()?;
        call_upstream(app.upstream, ctx, "GET", "/inventory/reserve")?;
        ctx.check()?;
        call_upstream(app.upstream, ctx, "POST", "/orders/commit")?;
        Ok::<_, WorkError>(())
    })();
    match outcome {
        Ok(()) => json_response(
            200,
            &json!({
                "request_id": ctx.request_id,
                "trace_id": ctx.trace_id,
                "span_id": ctx.span_id,
                "user": ctx.user,
                "committed": true,
            }),
        ),
        Err(error) => work_error(&error),
    }
}

fn work_error(error: &WorkError) -> Response {
    match error {
        WorkError::Cancelled => json_response(504, &json!({ "error": "cancelled" })),
        WorkError::Upstream(why) => json_response(502, &json!({ "error": why })),
    }
}

fn json_response(status: u16, value: &serde_json::Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(value.to_string())
}

/// Reads the command line (provided: you do not need to change this).
fn parse_args() -> Result<App, String> {
    let mut upstream = None;
    let mut users = HashMap::new();
    let (mut orders_timeout, mut report_timeout) = (5000, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let millis = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} needs milliseconds"))
        };
        match flag.as_str() {
            "--upstream" => {
                let addr = value.trim_start_matches("http://").trim_end_matches('/');
                upstream = Some(
                    addr.parse()
                        .map_err(|_| format!("bad --upstream {value}"))?,
                );
            }
            "--user" => {
                let (name, token) = value.split_once(':').ok_or("--user needs NAME:TOKEN")?;
                users.insert(token.to_string(), name.to_string());
            }
            "--orders-timeout-ms" => orders_timeout = millis()?,
            "--report-timeout-ms" => report_timeout = millis()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let seed = std::env::var("BACKLINGS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(App {
        upstream: upstream.ok_or("--upstream is required")?,
        users,
        ids: Ids::new(seed),
        orders_timeout: Duration::from_millis(orders_timeout),
        report_timeout: Duration::from_millis(report_timeout),
        finished: AtomicU64::new(0),
    })
}

/// Serves the application (provided: you do not need to change this).
fn main() -> ExitCode {
    let app = match parse_args() {
        Ok(app) => Arc::new(app),
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: mw5_request_context --upstream ADDR [--user NAME:TOKEN]... \
                 [--orders-timeout-ms N] [--report-timeout-ms M]"
            );
            return ExitCode::from(2);
        }
    };
    match serve(move |request| serve_request(&app, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".to_string(),
            target: "/hello".to_string(),
            version: "HTTP/1.1".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn users() -> HashMap<String, String> {
        HashMap::from([("t0k".to_string(), "ada".to_string())])
    }

    // A sane incoming id is kept; anything else is replaced by a fresh one.
    #[test]
    fn request_ids_are_kept_only_when_sane() {
        let ids = Ids::new(7);
        let kept = RequestContext::from_request(
            &request(&[("X-Request-Id", "abc-123.x_Y")]),
            &ids,
            &users(),
        );
        assert_eq!(kept.request_id, "abc-123.x_Y");
        for bad in ["", "has space", "<script>", &"a".repeat(65)] {
            let ctx =
                RequestContext::from_request(&request(&[("X-Request-Id", bad)]), &ids, &users());
            assert!(
                ctx.request_id.starts_with("req-"),
                "{bad:?} → {}",
                ctx.request_id
            );
        }
    }

    // The caller's trace id and flags are kept, the span is new; a bad traceparent starts a new trace.
    #[test]
    fn the_trace_continues_with_a_new_span() {
        let ids = Ids::new(7);
        let ctx =
            RequestContext::from_request(&request(&[("traceparent", PARENT)]), &ids, &users());
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(ctx.span_id, "00f067aa0ba902b7");
        let outgoing = ctx.outgoing_headers();
        let traceparent = &outgoing.iter().find(|(n, _)| n == "traceparent").unwrap().1;
        assert_eq!(
            traceparent,
            &format!("00-{}-{}-01", ctx.trace_id, ctx.span_id)
        );
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    // The user comes from a known bearer token, and goes downstream.
    #[test]
    fn the_user_is_injected_and_forwarded() {
        let ids = Ids::new(7);
        let ctx = RequestContext::from_request(
            &request(&[("Authorization", "Bearer t0k")]),
            &ids,
            &users(),
        );
        assert_eq!(ctx.user.as_deref(), Some("ada"));
        assert!(
            ctx.outgoing_headers()
                .contains(&("X-User".to_string(), "ada".to_string()))
        );
        let nobody = RequestContext::from_request(
            &request(&[("Authorization", "Bearer nope")]),
            &ids,
            &users(),
        );
        assert_eq!(nobody.user, None);
    }

    // Past the timeout the answer is a 504 at once, and the work sees the cancellation.
    #[test]
    fn a_timeout_answers_504_and_cancels_the_work() {
        let ctx = RequestContext::from_request(&request(&[]), &Ids::new(1), &users());
        let (seen_sender, seen) = mpsc::channel();
        let started = Instant::now();
        let response = with_timeout(&ctx, Duration::from_millis(50), move |ctx| {
            thread::sleep(Duration::from_millis(1000));
            let _ = seen_sender.send(ctx.cancel.is_cancelled());
            Response::new(200)
        });
        assert_eq!(response.status, 504);
        assert!(
            started.elapsed() < Duration::from_millis(800),
            "the 504 waited for the work"
        );
        assert_eq!(seen.recv_timeout(Duration::from_secs(5)), Ok(true));
        let quick = with_timeout(&ctx, Duration::from_secs(5), |_| Response::new(201));
        assert_eq!(quick.status, 201);
    }
}
