//! The retry contract as the grader knows it: policies, how replies classify, and the scripted
//! cases sent to the program.

use serde_json::{Value, json};

use backlings_grade::upstream::Reply;

/// A deadline so far away that it never matters (about eleven days of fake time).
pub const NO_DEADLINE: u64 = 1_000_000_000;

/// The retry policy the grader sends, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub base_ms: u64,
    pub cap_ms: u64,
    pub max_attempts: u32,
    pub deadline_ms: u64,
}

impl Policy {
    pub fn json(&self) -> Value {
        json!({
            "base_ms": self.base_ms,
            "cap_ms": self.cap_ms,
            "max_attempts": self.max_attempts,
            "deadline_ms": self.deadline_ms,
        })
    }

    /// The largest delay allowed before retry number `retry` (0 for the first): `min(cap, base ·
    /// 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> u64 {
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    pub fn describe(&self) -> String {
        let deadline = match self.deadline_ms {
            NO_DEADLINE => "none in play".to_string(),
            ms => format!("{ms} ms"),
        };
        format!(
            "base {} ms, cap {} ms, max_attempts {}, deadline {deadline}",
            self.base_ms, self.cap_ms, self.max_attempts
        )
    }
}

/// What the contract makes of one upstream reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// Retryable; the wait in ms the server asked for with `Retry-After` (on 429 and 503 only).
    Retryable(Option<u64>),
    Fatal,
}

pub fn classify(reply: &Reply) -> Class {
    match *reply {
        Reply::Reset => Class::Retryable(None),
        Reply::Status { status, .. } if status < 400 => Class::Success,
        Reply::Status {
            status: 429 | 503,
            retry_after,
        } => Class::Retryable(retry_after.map(|s| s * 1000)),
        Reply::Status { status, .. } if status >= 500 => Class::Retryable(None),
        Reply::Status { .. } => Class::Fatal,
    }
}

/// One scripted attempt: what the upstream does, and how much fake time the attempt takes.
#[derive(Debug, Clone)]
pub struct Step {
    pub reply: Reply,
    pub latency_ms: u64,
}

impl Step {
    pub fn json(&self) -> Value {
        match &self.reply {
            Reply::Reset => {
                json!({ "fail": "connection reset by peer", "latency_ms": self.latency_ms })
            }
            Reply::Status {
                status,
                retry_after,
            } => json!({
                "status": status,
                "retry_after": retry_after.map(|s| s.to_string()),
                "latency_ms": self.latency_ms,
            }),
        }
    }

    /// The `outcome` the program must hand back when this was the last attempt.
    pub fn outcome_matches(&self, outcome: &Value) -> bool {
        match &self.reply {
            Reply::Reset => outcome.get("connection_failed").is_some(),
            Reply::Status { status, .. } => {
                outcome.get("status").and_then(Value::as_u64) == Some(u64::from(*status))
            }
        }
    }
}

/// One `run` request: a policy, a request, a seed for the jitter, and the scripted upstream.
#[derive(Debug, Clone)]
pub struct Case {
    pub policy: Policy,
    pub method: &'static str,
    pub key: Option<String>,
    pub seed: u64,
    pub script: Vec<Step>,
}

impl Case {
    pub fn request(&self) -> Value {
        json!({
            "op": "run",
            "policy": self.policy.json(),
            "method": self.method,
            "idempotency_key": self.key,
            "seed": self.seed,
            "script": self.script.iter().map(Step::json).collect::<Vec<_>>(),
        })
    }

    /// Past the end of its script the upstream repeats the last step.
    pub fn step(&self, attempt: usize) -> &Step {
        &self.script[attempt.min(self.script.len() - 1)]
    }

    pub fn is_retry_safe(&self) -> bool {
        matches!(self.method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS") || self.key.is_some()
    }

    pub fn describe_request(&self) -> String {
        match &self.key {
            Some(key) => format!("{} with Idempotency-Key {key}", self.method),
            None => format!("{} without an idempotency key", self.method),
        }
    }

    pub fn describe_script(&self) -> String {
        let steps: Vec<String> = self
            .script
            .iter()
            .map(|s| format!("{} ({} ms)", s.reply.describe(), s.latency_ms))
            .collect();
        format!("{}, then the last one forever", steps.join(", "))
    }
}
