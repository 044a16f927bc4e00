//! One running `mw5_request_context` with its fake upstream, and the checks every answer goes through:
//! the ids of the response, the span of the body, the headers of every upstream call.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::Value;

use super::{ORDERS_TIMEOUT_MS, Probe, is_hex};
use crate::held_upstream::{HeldUpstream, Seen};
use crate::support::{self, KeepAlive};

/// One running program, its upstream, and the ids seen so far (fresh ones must never repeat).
pub(super) struct Session {
    pub(super) server: Server,
    pub(super) connection: KeepAlive,
    pub(super) upstream: HeldUpstream,
    /// (name, token).
    pub(super) users: Vec<(String, String)>,
    pub(super) report_timeout_ms: u64,
    pub(super) fresh_request_ids: BTreeSet<String>,
    pub(super) fresh_trace_ids: BTreeSet<String>,
    pub(super) span_ids: BTreeSet<String>,
    pub(super) rng: Rng,
}

impl Session {
    pub(super) fn start(g: &mut Grading) -> Result<Self, Failure> {
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

    pub(super) fn bearer(&self, user: usize) -> String {
        format!("Bearer {}", self.users[user].1)
    }

    /// Sends `probe`, checks the ids of the answer (and of `/hello`'s body), and returns the answer.
    pub(super) fn send(&mut self, probe: &Probe, status: u16) -> Result<(Response, Ids), Failure> {
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

    pub(super) fn check_ids(
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

    pub(super) fn check_span(&mut self, ids: &Ids, span: &str) -> Result<(), String> {
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
    pub(super) fn check_forwarded(
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
    pub(super) fn finished(&mut self) -> Result<u64, Failure> {
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
    pub(super) fn wait_finished(&mut self, count: u64) -> Result<bool, Failure> {
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
pub(super) struct Ids {
    pub(super) request_id: String,
    pub(super) trace_id: String,
    pub(super) span_id: Option<String>,
    /// The flags the upstream must see.
    pub(super) flags: String,
    /// The caller's parent-id, when the incoming traceparent was kept.
    pub(super) parent: Option<String>,
}
