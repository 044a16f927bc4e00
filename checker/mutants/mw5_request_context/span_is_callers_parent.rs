//! mutant: reuses the caller's parent-id as this service's span id, which is forwarding the incoming traceparent unchanged
//! expect: never the caller's parent-id

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
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Reads a version-00 `traceparent`: `Some((trace_id, parent_id, flags))` if it is well-formed (lowercase
/// hex of the right lengths, ids not all zeros).
pub fn parse_traceparent(value: &str) -> Option<(String, String, String)> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    let [version, trace_id, parent_id, flags] = fields.as_slice() else {
        return None;
    };
    let is_hex = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let all_zeros = |text: &str| text.bytes().all(|b| b == b'0');
    let ok = *version == "00"
        && is_hex(trace_id, 32)
        && is_hex(parent_id, 16)
        && is_hex(flags, 2)
        && !all_zeros(trace_id)
        && !all_zeros(parent_id);
    ok.then(|| {
        (
            trace_id.to_string(),
            parent_id.to_string(),
            flags.to_string(),
        )
    })
}

impl RequestContext {
    /// Builds the context of `request`: request id, trace context, a new span, the user.
    pub fn from_request(request: &Request, ids: &Ids, users: &HashMap<String, String>) -> Self {
        let request_id = request
            .header("x-request-id")
            .filter(|id| is_valid_request_id(id))
            .map_or_else(|| ids.request_id(), str::to_string);
        let (trace_id, parent, flags) =
            match request.header("traceparent").and_then(parse_traceparent) {
                Some((trace_id, parent, flags)) => (trace_id, Some(parent), flags),
                None => (ids.trace_id(), None, "01".to_string()),
            };
        let user = request
            .header("authorization")
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, token)| users.get(token.trim()))
            .cloned();
        RequestContext {
            request_id,
            trace_id,
            span_id: parent.unwrap_or_else(|| ids.span_id()),
            flags,
            user,
            cancel: Cancel::default(),
        }
    }

    /// The headers every call this request makes to another service carries.
    pub fn outgoing_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("X-Request-Id".to_string(), self.request_id.clone()),
            (
                "traceparent".to_string(),
                format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags),
            ),
        ];
        if let Some(user) = &self.user {
            headers.push(("X-User".to_string(), user.clone()));
        }
        headers
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
    let (sender, receiver) = mpsc::channel();
    let worker_ctx = ctx.clone();
    thread::spawn(move || {
        // The receiver is gone if the timeout struck first: nobody is left to tell.
        let _ = sender.send(work(worker_ctx));
    });
    match receiver.recv_timeout(timeout) {
        Ok(response) => response,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            ctx.cancel.cancel();
            json_response(
                504,
                &json!({ "error": format!("the request took longer than {} ms", timeout.as_millis()) }),
            )
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            json_response(500, &json!({ "error": "the work panicked" }))
        }
    }
}

/// A report: `steps` calls to the upstream's `GET /reports/step`, then the side effect, one
/// `POST /reports/commit`. Stops at the first check after the request is cancelled.
pub fn run_report(app: &App, ctx: &RequestContext, steps: u64) -> Result<u64, WorkError> {
    for _ in 0..steps {
        ctx.check()?;
        call_upstream(app.upstream, ctx, "GET", "/reports/step")?;
    }
    ctx.check()?;
    call_upstream(app.upstream, ctx, "POST", "/reports/commit")?;
    Ok(steps)
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
