//! Grader of `mw5_request_context`: request ids, W3C trace context, user injection, and per-route timeouts
//! whose cancellation really stops the work.
//!
//! The program's upstream is the grader's [`HeldUpstream`], which records every call (so the forwarded
//! `X-Request-Id`, `traceparent` and `X-User` are checked where they arrive) and can hold one call for as
//! long as the grader likes. A report job is made to block in one of its steps; the 504 must come when the
//! route's budget runs out (not before it, and not long after), and once the held call is released the job
//! must stop: no further step, and above all no commit, the side effect.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use backlings_grade::http::{self, Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::Value;

use crate::held_upstream::{HeldUpstream, Seen};
use crate::support::{self, KeepAlive};

/// The `/orders` budget: far above anything the grader makes it wait.
const ORDERS_TIMEOUT_MS: u64 = 5_000;
/// How late after its budget a 504 may come (a loaded machine is slow, a missing timeout is never).
const SLACK_MS: u64 = 2_000;
/// Requests in the seeded random run.
const RANDOM_REQUESTS: usize = 60;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    g.scenario("the context is built at the door: a sane request id is kept, a bad one replaced");
    request_ids(&mut s)?;
    g.scenario(
        "a valid traceparent continues its trace in a new span; a bad one starts a new trace",
    );
    traces(&mut s)?;
    g.scenario("the user comes from the bearer token, and every upstream call carries the context");
    forwarding(&mut s)?;
    g.scenario("a report within its budget runs every step and commits once");
    report_in_time(&mut s)?;
    g.scenario(
        "past its budget a report answers 504 at once and stops before its next step; an order, with a longer \
         budget, carries on",
    );
    timeout_mid_job(&mut s)?;
    g.scenario("a report cancelled during its last step never commits");
    timeout_last_step(&mut s)?;
    g.scenario(&format!("{RANDOM_REQUESTS} seeded requests"));
    random_requests(&mut s)
}

/// What a request sends about itself.
#[derive(Debug, Clone, Default)]
struct Probe {
    method: &'static str,
    target: String,
    request_id: Option<String>,
    traceparent: Option<String>,
    authorization: Option<String>,
}

impl Probe {
    fn new(method: &'static str, target: &str) -> Self {
        Probe {
            method,
            target: target.to_string(),
            ..Probe::default()
        }
    }

    fn request(&self) -> Request {
        let mut request = Request::new(self.method, &self.target);
        if let Some(id) = &self.request_id {
            request = request.header("X-Request-Id", id);
        }
        if let Some(traceparent) = &self.traceparent {
            request = request.header("traceparent", traceparent);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        if self.method == "POST" {
            request = request.body("");
        }
        request
    }

    /// The incoming request id, if the contract keeps it.
    fn kept_request_id(&self) -> Option<&str> {
        self.request_id.as_deref().filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
    }

    /// `(trace id, parent id, flags)` of the incoming traceparent, if the contract accepts it.
    fn kept_trace(&self) -> Option<(String, String, String)> {
        let value = self.traceparent.as_deref()?;
        let fields: Vec<&str> = value.split('-').collect();
        let [version, trace, parent, flags] = fields.as_slice() else {
            return None;
        };
        let flags_ok = flags.len() == 2
            && flags
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let ok = *version == "00" && is_hex(trace, 32) && is_hex(parent, 16) && flags_ok;
        ok.then(|| (trace.to_string(), parent.to_string(), flags.to_string()))
    }

    fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.target);
        for (name, value) in [
            ("X-Request-Id", &self.request_id),
            ("traceparent", &self.traceparent),
            ("Authorization", &self.authorization),
        ] {
            if let Some(value) = value {
                line.push_str(&format!(" · {name}: {value:?}"));
            }
        }
        line
    }
}

/// Lowercase hex of exactly `len` digits, not all zeros.
fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && text.bytes().any(|b| b != b'0')
}

/// One running program, its upstream, and the ids seen so far (fresh ones must never repeat).
struct Session {
    server: Server,
    connection: KeepAlive,
    upstream: HeldUpstream,
    /// (name, token).
    users: Vec<(String, String)>,
    report_timeout_ms: u64,
    fresh_request_ids: BTreeSet<String>,
    fresh_trace_ids: BTreeSet<String>,
    span_ids: BTreeSet<String>,
    rng: Rng,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        let upstream = HeldUpstream::start()?;
        let users: Vec<(String, String)> = ["ada", "grace"]
            .iter()
            .map(|name| (name.to_string(), format!("tk-{}", g.rng().word(10))))
            .collect();
        let report_timeout_ms = g.rng().range(300, 500);
        let mut args = vec![
            "--upstream".to_string(),
            upstream.addr().to_string(),
            "--orders-timeout-ms".to_string(),
            ORDERS_TIMEOUT_MS.to_string(),
            "--report-timeout-ms".to_string(),
            report_timeout_ms.to_string(),
        ];
        for (name, token) in &users {
            args.push("--user".to_string());
            args.push(format!("{name}:{token}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = g.server_with(&args, &[])?;
        let connection = KeepAlive::open(&mut server)?;
        let rng = g.rng().fork(5);
        Ok(Session {
            server,
            connection,
            upstream,
            users,
            report_timeout_ms,
            fresh_request_ids: BTreeSet::new(),
            fresh_trace_ids: BTreeSet::new(),
            span_ids: BTreeSet::new(),
            rng,
        })
    }

    fn bearer(&self, user: usize) -> String {
        format!("Bearer {}", self.users[user].1)
    }

    /// Sends `probe`, checks the ids of the answer (and of `/hello`'s body), and returns the answer.
    fn send(&mut self, probe: &Probe, status: u16) -> Result<(Response, Ids), Failure> {
        let request = probe.request();
        let response = self.connection.send(&mut self.server, &request)?;
        let fail = |rule: String, response: &Response| {
            Failure::new(rule)
                .got(format!(
                    "{} · X-Request-Id: {} · X-Trace-Id: {} · body {}",
                    response.status,
                    response.header("X-Request-Id").unwrap_or("(none)"),
                    response.header("X-Trace-Id").unwrap_or("(none)"),
                    response.text()
                ))
                .detail(format!("the request: {}", probe.describe()))
        };
        let checked = self.check_ids(probe, status, &response);
        match checked {
            Ok(ids) => Ok((response, ids)),
            Err(rule) => {
                support::record(&self.server, &request, &response);
                Err(fail(rule, &response))
            }
        }
    }

    fn check_ids(
        &mut self,
        probe: &Probe,
        status: u16,
        response: &Response,
    ) -> Result<Ids, String> {
        if response.status == 500 && status != 500 {
            return Err(format!(
                "{} {} answers {status} here; the program answered 500: something panicked (its message is in the \
                 program's stderr below)",
                probe.method, probe.target
            ));
        }
        if response.status != status {
            return Err(format!(
                "{} {} answers {status} here{}",
                probe.method,
                probe.target,
                if status == 401 {
                    " (it needs `Authorization: Bearer TOKEN` with a known token)"
                } else {
                    ""
                }
            ));
        }
        let request_id = response
            .header("X-Request-Id")
            .ok_or("every response carries X-Request-Id, so a customer can quote it")?
            .to_string();
        match probe.kept_request_id() {
            Some(kept) if request_id != kept => {
                return Err(format!(
                    "a sane incoming X-Request-Id (1 to 64 of `A-Z a-z 0-9 . _ -`) is kept: `{kept}` names the \
                     request across every hop"
                ));
            }
            Some(_) => {}
            None => {
                if probe.request_id.as_deref() == Some(request_id.as_str()) {
                    return Err(format!(
                        "an incoming X-Request-Id that is not 1 to 64 of `A-Z a-z 0-9 . _ -` is never trusted: \
                         `{request_id}` must be replaced by a fresh id (it could forge log lines or flood them)"
                    ));
                }
                let well_formed = request_id.strip_prefix("req-").is_some_and(|hex| {
                    hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !well_formed {
                    return Err(format!(
                        "a fresh request id comes from `Ids::request_id` (`req-` and 16 hex digits), got `{request_id}`"
                    ));
                }
                if !self.fresh_request_ids.insert(request_id.clone()) {
                    return Err(format!(
                        "every fresh request id is new: `{request_id}` was given before"
                    ));
                }
            }
        }
        let trace_id = response
            .header("X-Trace-Id")
            .ok_or("every response carries X-Trace-Id, the trace it belongs to")?
            .to_string();
        let kept_trace = probe.kept_trace();
        match &kept_trace {
            Some((kept, _, _)) if &trace_id != kept => {
                return Err(format!(
                    "the trace id of a valid incoming traceparent is kept (`{kept}`): the trace follows the request \
                     through every service, it does not start again at each hop"
                ));
            }
            Some(_) => {}
            None => {
                let lowercase = trace_id.to_ascii_lowercase();
                if probe
                    .traceparent
                    .as_deref()
                    .is_some_and(|t| t.to_ascii_lowercase().contains(&lowercase))
                {
                    return Err(format!(
                        "a traceparent that is not valid (version 00, lowercase hex, ids not all zeros) starts a new \
                         trace; its trace id `{trace_id}` must not be kept"
                    ));
                }
                if !is_hex(&trace_id, 32) {
                    return Err(format!(
                        "a new trace id is 32 lowercase hex digits, not all zeros (from `Ids::trace_id`), got \
                         `{trace_id}`"
                    ));
                }
                if !self.fresh_trace_ids.insert(trace_id.clone()) {
                    return Err(format!(
                        "a new trace gets a new trace id: `{trace_id}` was given before"
                    ));
                }
            }
        }
        let mut ids = Ids {
            request_id,
            trace_id,
            span_id: None,
            flags: kept_trace
                .as_ref()
                .map_or("01".to_string(), |(_, _, flags)| flags.clone()),
            parent: kept_trace.map(|(_, parent, _)| parent),
        };
        let body: Option<Value> = serde_json::from_slice(&response.body).ok();
        if let Some(span) = body
            .as_ref()
            .and_then(|b| b.get("span_id"))
            .and_then(Value::as_str)
        {
            self.check_span(&ids, span)?;
            ids.span_id = Some(span.to_string());
            for (field, wanted) in [("request_id", &ids.request_id), ("trace_id", &ids.trace_id)] {
                if body
                    .as_ref()
                    .and_then(|b| b.get(field))
                    .and_then(Value::as_str)
                    != Some(wanted.as_str())
                {
                    return Err(format!(
                        "the context's `{field}` is the one the response's header carries"
                    ));
                }
            }
        }
        Ok(ids)
    }

    fn check_span(&mut self, ids: &Ids, span: &str) -> Result<(), String> {
        if ids.parent.as_deref() == Some(span) {
            return Err(format!(
                "this service's span id is its own, new one: never the caller's parent-id (`{span}`), or the trace \
                 would say the caller called the upstream directly"
            ));
        }
        if !is_hex(span, 16) {
            return Err(format!(
                "a span id is 16 lowercase hex digits, not all zeros, got `{span}`"
            ));
        }
        if !self.span_ids.insert(span.to_string()) {
            return Err(format!(
                "every request gets a new span id: `{span}` was used before"
            ));
        }
        Ok(())
    }

    /// Checks the upstream calls of one request, made since `before` calls in all had arrived.
    fn check_forwarded(
        &self,
        before: usize,
        ids: &Ids,
        user: Option<&str>,
        probe: &Probe,
    ) -> Result<Vec<Seen>, Failure> {
        let calls: Vec<Seen> = self.upstream.all_seen().split_off(before);
        for call in &calls {
            let parent_shown = ids
                .span_id
                .clone()
                .unwrap_or_else(|| "<a new span id>".to_string());
            let wanted = format!("00-{}-{parent_shown}-{}", ids.trace_id, ids.flags);
            let traceparent = call.header("traceparent").unwrap_or("(none)");
            let fields: Vec<&str> = traceparent.split('-').collect();
            let parent_ok = |parent: &str| match &ids.span_id {
                Some(span) => parent == span,
                None => is_hex(parent, 16) && ids.parent.as_deref() != Some(parent),
            };
            let traceparent_ok = matches!(fields.as_slice(), [version, trace, parent, flags]
                if *version == "00" && *trace == ids.trace_id && parent_ok(parent) && *flags == ids.flags);
            let rule = if call.header("x-request-id") != Some(ids.request_id.as_str()) {
                Some("every upstream call carries the request's X-Request-Id".to_string())
            } else if call.header("x-user") != user {
                Some(match user {
                    Some(user) => {
                        format!("every upstream call made for a user carries `X-User: {user}`")
                    }
                    None => "no X-User without a user".to_string(),
                })
            } else if !traceparent_ok {
                let parent_is_callers = ids
                    .parent
                    .as_deref()
                    .is_some_and(|p| traceparent.contains(p));
                Some(if parent_is_callers {
                    "the traceparent sent upstream names this service's own span as the parent-id, not the caller's \
                     parent-id: forwarding the incoming traceparent unchanged loses this hop"
                        .to_string()
                } else {
                    "every upstream call carries `traceparent: 00-<trace id>-<this service's span id>-<flags>`, the \
                     flags being the caller's (01 for a new trace)"
                        .to_string()
                })
            } else {
                None
            };
            if let Some(rule) = rule {
                return Err(Failure::new(rule)
                    .expected(format!(
                        "X-Request-Id: {} · traceparent: {wanted} · X-User: {}",
                        ids.request_id,
                        user.unwrap_or("(none)")
                    ))
                    .got(format!(
                        "X-Request-Id: {} · traceparent: {traceparent} · X-User: {}",
                        call.header("x-request-id").unwrap_or("(none)"),
                        call.header("x-user").unwrap_or("(none)")
                    ))
                    .detail(format!("the upstream call: {} {}", call.method, call.path))
                    .detail(format!("made for the request: {}", probe.describe())));
            }
        }
        Ok(calls)
    }

    /// How many report jobs the program says have ended.
    fn finished(&mut self) -> Result<u64, Failure> {
        let response = self
            .connection
            .send(&mut self.server, &Request::get("/stats"))?;
        serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("finished").and_then(Value::as_u64))
            .ok_or_else(|| {
                Failure::new("GET /stats (provided) answers {\"finished\": N}").got(response.text())
            })
    }

    /// Waits (at most 3 s) until `count` report jobs have ended.
    fn wait_finished(&mut self, count: u64) -> Result<bool, Failure> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if self.finished()? >= count {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The ids a response reported.
#[derive(Debug, Clone)]
struct Ids {
    request_id: String,
    trace_id: String,
    span_id: Option<String>,
    /// The flags the upstream must see.
    flags: String,
    /// The caller's parent-id, when the incoming traceparent was kept.
    parent: Option<String>,
}

fn traceparent(rng: &mut Rng) -> String {
    let hex = |rng: &mut Rng, len: usize| -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
            .collect()
    };
    let mut trace = hex(rng, 32);
    trace.replace_range(0..1, "a");
    let mut parent = hex(rng, 16);
    parent.replace_range(0..1, "b");
    let flags = if rng.chance(1, 2) { "01" } else { "00" };
    format!("00-{trace}-{parent}-{flags}")
}

fn request_ids(s: &mut Session) -> Result<(), Failure> {
    let word = s.rng.word(6);
    let sane = [
        format!("req-{word}"),
        format!("{}.{}_{}-9", s.rng.word(3), s.rng.word(3), s.rng.word(3)).to_uppercase(),
        "a".repeat(64),
        "7".to_string(),
    ];
    let insane = [
        format!("{word} injected"),
        "b".repeat(65),
        format!("<script>{word}</script>"),
        format!("{word}/../etc"),
        format!("ünïcode-{word}"),
        String::new(),
    ];
    let mut probes = vec![Probe::new("GET", "/hello"), Probe::new("GET", "/hello")];
    for id in sane.iter().chain(&insane) {
        let mut probe = Probe::new("GET", "/hello");
        probe.request_id = Some(id.clone());
        probes.push(probe);
    }
    let mut missing = Probe::new("GET", "/nowhere");
    missing.request_id = Some(format!("lost-{word}"));
    for probe in &probes {
        s.send(probe, 200)?;
    }
    s.send(&missing, 404)?;
    Ok(())
}

fn traces(s: &mut Session) -> Result<(), Failure> {
    let mut probes = Vec::new();
    for _ in 0..4 {
        let mut probe = Probe::new("GET", "/hello");
        probe.traceparent = Some(traceparent(&mut s.rng));
        probes.push(probe);
    }
    let valid = traceparent(&mut s.rng);
    let fields: Vec<&str> = valid.split('-').collect();
    for bad in [
        valid.to_ascii_uppercase(),
        format!("00-{}-{}-{}", "0".repeat(32), fields[2], fields[3]),
        format!("00-{}-{}-{}", fields[1], "0".repeat(16), fields[3]),
        format!("ff-{}-{}-{}", fields[1], fields[2], fields[3]),
        format!("00-{}-{}", fields[1], fields[2]),
        format!("00-{}a-{}-{}", fields[1], fields[2], fields[3]),
        "not a traceparent".to_string(),
    ] {
        let mut probe = Probe::new("GET", "/hello");
        probe.traceparent = Some(bad);
        probes.push(probe);
    }
    s.rng.shuffle(&mut probes);
    for probe in &probes {
        s.send(probe, 200)?;
    }
    Ok(())
}

fn forwarding(s: &mut Session) -> Result<(), Failure> {
    for (authorization, user) in [
        (Some(s.bearer(0)), Some(s.users[0].0.clone())),
        (
            Some(format!("bearer {}", s.users[1].1)),
            Some(s.users[1].0.clone()),
        ),
        (Some(format!("Bearer {}x", s.users[1].1)), None),
        (None, None),
    ] {
        let mut hello = Probe::new("GET", "/hello");
        hello.authorization = authorization.clone();
        let (response, _) = s.send(&hello, 200)?;
        let got: Option<Value> = serde_json::from_slice(&response.body).ok();
        let got_user = got
            .as_ref()
            .and_then(|v| v.get("user"))
            .cloned()
            .unwrap_or(Value::Null);
        if got_user != Value::from(user.clone()) {
            return Err(Failure::new(
                "the context's user is the name of the known bearer token (the scheme is case-insensitive), or \
                 null",
            )
            .expected(format!("user {user:?}"))
            .got(response.text())
            .detail(format!("the request: {}", hello.describe())));
        }
        let mut order = Probe::new("POST", "/orders");
        order.authorization = authorization;
        if s.rng.chance(1, 2) {
            order.traceparent = Some(traceparent(&mut s.rng));
        }
        if s.rng.chance(1, 2) {
            order.request_id = Some(format!("order-{}", s.rng.word(8)));
        }
        let before = s.upstream.all_seen().len();
        let status = if user.is_some() { 200 } else { 401 };
        let (_, ids) = s.send(&order, status)?;
        let calls = s.check_forwarded(before, &ids, user.as_deref(), &order)?;
        let wanted = if user.is_some() { 2 } else { 0 };
        if calls.len() != wanted {
            return Err(Failure::new(if user.is_some() {
                "POST /orders calls the upstream twice: GET /inventory/reserve, then POST /orders/commit"
            } else {
                "a request refused with 401 calls nothing upstream"
            })
            .got(format!("{} upstream calls", calls.len()))
            .detail(format!("the request: {}", order.describe())));
        }
    }
    Ok(())
}

fn report_in_time(s: &mut Session) -> Result<(), Failure> {
    let finished = s.finished()?;
    let steps = s.rng.range(1, 4);
    let mut probe = Probe::new("POST", &format!("/reports?steps={steps}"));
    probe.authorization = Some(s.bearer(0));
    let before = s.upstream.all_seen().len();
    let (_, ids) = s.send(&probe, 200)?;
    let calls = s.check_forwarded(before, &ids, Some(&s.users[0].0.clone()), &probe)?;
    let paths: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    let mut wanted = vec!["GET /reports/step".to_string(); steps as usize];
    wanted.push("POST /reports/commit".to_string());
    if paths != wanted {
        return Err(Failure::new(format!(
            "a report of {steps} steps calls GET /reports/step {steps} times, then POST /reports/commit once"
        ))
        .expected(wanted.join(", "))
        .got(paths.join(", "))
        .detail(format!("the request: {}", probe.describe())));
    }
    if !s.wait_finished(finished + 1)? {
        return Err(Failure::new(
            "a report job that answered has ended: GET /stats counts it",
        ));
    }
    Ok(())
}

/// Sends `probe` on a connection of its own (so it can be waited for while others go on).
fn open_request(
    s: &mut Session,
    probe: &Probe,
    wait: Duration,
) -> Result<BufReader<TcpStream>, Failure> {
    let mut stream = s.server.connect()?;
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| Failure::new(format!("could not set a timeout: {e}")))?;
    let bytes = probe.request().to_bytes();
    std::io::Write::write_all(&mut stream, &bytes)
        .map_err(|e| Failure::new(format!("could not send {}: {e}", probe.describe())))?;
    Ok(BufReader::new(stream))
}

fn timeout_mid_job(s: &mut Session) -> Result<(), Failure> {
    let budget = s.report_timeout_ms;
    let finished = s.finished()?;
    let commits = s.upstream.seen("/reports/commit").len();
    let steps_before = s.upstream.seen("/reports/step").len();
    // An order, held at its first upstream call for as long as the report takes to time out.
    let mut order = Probe::new("POST", "/orders");
    order.authorization = Some(s.bearer(1));
    s.upstream.hold("/inventory/reserve", 0);
    let mut order_reader = open_request(
        s,
        &order,
        Duration::from_millis(ORDERS_TIMEOUT_MS + SLACK_MS),
    )?;
    if !s.upstream.wait_until_held(1, Duration::from_secs(5)) {
        s.upstream.release();
        return Err(Failure::new(
            "POST /orders calls GET /inventory/reserve upstream first; it never arrived",
        ));
    }
    let steps = s.rng.range(3, 5);
    let mut report = Probe::new("POST", &format!("/reports?steps={steps}"));
    report.authorization = Some(s.bearer(0));
    s.upstream.hold("/reports/step", 0);
    let started = Instant::now();
    let mut report_reader =
        open_request(s, &report, Duration::from_millis(budget + SLACK_MS + 500))?;
    let answer = http::read_response_from(&mut report_reader, false);
    let elapsed = started.elapsed().as_millis() as u64;
    let held_both = s.upstream.wait_until_held(2, Duration::from_secs(2));
    s.upstream.release();
    let explain = |failure: Failure| {
        failure
            .detail(format!("the request: {} (its route's budget: {budget} ms)", report.describe()))
            .detail("the grader held its first GET /reports/step: the job was stuck there when the budget ran out")
    };
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &format!("<no answer: {e}>"),
            );
            return Err(explain(Failure::new(format!(
                "past its budget a route answers 504 at once, without waiting for the work: no answer came within \
                 {} ms ({e})",
                budget + SLACK_MS + 500
            ))));
        }
    };
    s.server.record(
        &http::printable(&report.request().to_bytes()),
        &response.summary(),
    );
    if response.status != 504 {
        return Err(explain(
            Failure::new(
                "a report still running when its budget runs out is answered 504 Gateway Timeout",
            )
            .got(format!("{} after {elapsed} ms", response.status)),
        ));
    }
    if elapsed < budget {
        return Err(explain(Failure::new(format!(
            "the 504 comes when the budget runs out, not before: {elapsed} ms after the request, the budget is \
             {budget} ms"
        ))));
    }
    if elapsed > budget + SLACK_MS {
        return Err(explain(Failure::new(format!(
            "the 504 comes when the budget runs out: {elapsed} ms is far past {budget} ms (was the timeout measured \
             after the work returned?)"
        ))));
    }
    if response.header("X-Request-Id").is_none() {
        return Err(explain(Failure::new(
            "every response carries X-Request-Id, a 504 too",
        )));
    }
    if !held_both {
        return Err(explain(Failure::new(
            "the job calls GET /reports/step once per step: the grader held the first call, which never arrived",
        )));
    }
    // The order has waited as long as the report's budget, well within its own.
    let order_answer = http::read_response_from(&mut order_reader, false)
        .map_err(|e| Failure::new(format!("POST /orders never answered: {e}")))?;
    s.server.record(
        &http::printable(&order.request().to_bytes()),
        &order_answer.summary(),
    );
    if order_answer.status != 200 {
        return Err(Failure::new(format!(
            "each route has its own budget: POST /orders may take {ORDERS_TIMEOUT_MS} ms, and it was only held about \
             {elapsed} ms (the report's budget is {budget} ms)"
        ))
        .expected("200")
        .got(format!("{} · {}", order_answer.status, order_answer.text()))
        .detail(format!("the request: {}", order.describe())));
    }
    check_stopped(s, finished, commits, steps_before + 1, &report)
}

fn timeout_last_step(s: &mut Session) -> Result<(), Failure> {
    let budget = s.report_timeout_ms;
    let finished = s.finished()?;
    let commits = s.upstream.seen("/reports/commit").len();
    let steps_before = s.upstream.seen("/reports/step").len();
    let mut report = Probe::new("POST", "/reports?steps=1");
    report.authorization = Some(s.bearer(1));
    report.request_id = Some(format!("last-step-{}", s.rng.word(5)));
    s.upstream.hold("/reports/step", 0);
    let mut reader = open_request(s, &report, Duration::from_millis(budget + SLACK_MS + 500))?;
    let answer = http::read_response_from(&mut reader, false);
    s.upstream.release();
    match answer {
        Ok(response) if response.status == 504 => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &response.summary(),
            );
        }
        Ok(response) => {
            return Err(Failure::new(
                "a report still running when its budget runs out is answered 504",
            )
            .got(response.summary())
            .detail(format!("the request: {}", report.describe())));
        }
        Err(e) => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &format!("<no answer: {e}>"),
            );
            return Err(Failure::new(format!(
                "past its budget a route answers 504 at once, without waiting for the work: no answer ({e})"
            ))
            .detail(format!("the request: {}", report.describe())));
        }
    }
    check_stopped(s, finished, commits, steps_before + 1, &report)
}

/// After a 504 and the release of the held call: the job ends, with no call after the held one.
fn check_stopped(
    s: &mut Session,
    finished: u64,
    commits: usize,
    steps: usize,
    report: &Probe,
) -> Result<(), Failure> {
    let ended = s.wait_finished(finished + 1)?;
    let got_commits = s.upstream.seen("/reports/commit").len();
    let got_steps = s.upstream.seen("/reports/step").len();
    let detail = "the grader held one GET /reports/step until after the 504, then let it return: from then on the \
                  job must stop (`ctx.check()` before every call), so nothing more arrives upstream";
    if got_commits != commits {
        return Err(Failure::new(
            "a request that was answered 504 never commits: the client was told it failed, will retry, and the side \
             effect would happen twice (the timeout must cancel the context, and the work must check it before the \
             commit)",
        )
        .expected(format!("{commits} POST /reports/commit in all"))
        .got(format!("{got_commits}"))
        .detail(format!("the request: {}", report.describe()))
        .detail(detail));
    }
    if got_steps != steps {
        return Err(Failure::new(
            "after the 504 the work stops: the step that was in flight may finish, but no further upstream call is \
             made for a request nobody waits for",
        )
        .expected(format!("{steps} GET /reports/step in all"))
        .got(format!("{got_steps}"))
        .detail(format!("the request: {}", report.describe()))
        .detail(detail));
    }
    if !ended {
        return Err(Failure::new(
            "a cancelled job ends soon after its in-flight call returns (GET /stats counts it): it must not hang",
        ));
    }
    Ok(())
}

fn random_requests(s: &mut Session) -> Result<(), Failure> {
    for _ in 0..RANDOM_REQUESTS {
        let route = if s.rng.chance(1, 2) {
            "/hello"
        } else {
            "/orders"
        };
        let mut probe = Probe::new(if route == "/hello" { "GET" } else { "POST" }, route);
        let user = match s.rng.below(4) {
            0 => None,
            n => Some((n % 2) as usize),
        };
        probe.authorization = user.map(|u| s.bearer(u));
        if s.rng.chance(1, 2) {
            probe.traceparent = Some(if s.rng.chance(3, 4) {
                traceparent(&mut s.rng)
            } else {
                "00-bad".to_string()
            });
        }
        if s.rng.chance(1, 2) {
            probe.request_id = Some(if s.rng.chance(3, 4) {
                s.rng.word(12)
            } else {
                format!("{} x", s.rng.word(3))
            });
        }
        let before = s.upstream.all_seen().len();
        let status = if route == "/orders" && user.is_none() {
            401
        } else {
            200
        };
        let (_, ids) = s.send(&probe, status)?;
        let name = user.map(|u| s.users[u].0.clone());
        s.check_forwarded(before, &ids, name.as_deref(), &probe)?;
    }
    Ok(())
}
