//! Grader of `mw5_request_context`: request ids, W3C trace context, user injection, and per-route timeouts
//! whose cancellation really stops the work.
//!
//! The program's upstream is the grader's [`HeldUpstream`](crate::held_upstream::HeldUpstream), which records every call (so the forwarded
//! `X-Request-Id`, `traceparent` and `X-User` are checked where they arrive) and can hold one call for as
//! long as the grader likes. A report job is made to block in one of its steps; the 504 must come when the
//! route's budget runs out (not before it, and not long after), and once the held call is released the job
//! must stop: no further step, and above all no commit, the side effect.

mod session;
mod timeouts;

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading, Rng};
use serde_json::Value;

use session::Session;
use timeouts::{timeout_last_step, timeout_mid_job};

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
