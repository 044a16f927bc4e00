//! Requests of `cache2_eviction_policies`, their JSON lines, and running a list of them against the model.
//!
//! As in `cache1_lru`, long traces are pipelined in chunks; a mismatch found that way is replayed on a fresh
//! program with its last few requests sent one at a time, so the report's exchanges are the real ones.

use std::fmt;

use backlings_grade::{Failure, Grading};
use serde_json::Value;

use super::model::{Flaw, Model, Policy};

/// Most keys a report lists.
const KEYS_SHOWN: usize = 12;

/// One request of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    New {
        policy: Policy,
        capacity: usize,
        ttl_ms: u64,
    },
    Put {
        key: u64,
        value: u64,
    },
    Get {
        key: u64,
    },
    Len,
    Tick {
        ms: u64,
    },
    Sweep,
}

/// A reply, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Evicted(Option<(u64, u64)>),
    Value(Option<u64>),
    Len(usize),
    Now(u64),
    Expired(Vec<u64>),
}

impl Op {
    /// The request as the JSON line the grader sends.
    pub fn line(self) -> String {
        match self {
            Op::New {
                policy: Policy::Ttl,
                capacity,
                ttl_ms,
            } => {
                format!(r#"{{"op":"new","policy":"ttl","capacity":{capacity},"ttl_ms":{ttl_ms}}}"#)
            }
            Op::New {
                policy, capacity, ..
            } => format!(r#"{{"op":"new","policy":"{policy}","capacity":{capacity}}}"#),
            Op::Put { key, value } => format!(r#"{{"op":"put","key":{key},"value":{value}}}"#),
            Op::Get { key } => format!(r#"{{"op":"get","key":{key}}}"#),
            Op::Len => r#"{"op":"len"}"#.to_string(),
            Op::Tick { ms } => format!(r#"{{"op":"tick","ms":{ms}}}"#),
            Op::Sweep => r#"{"op":"sweep"}"#.to_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::New { .. } => "new",
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Len => "len",
            Op::Tick { .. } => "tick",
            Op::Sweep => "sweep",
        }
    }

    /// What the contract answers, according to `model`.
    pub fn apply(self, model: &mut Model) -> Reply {
        match self {
            Op::New {
                policy,
                capacity,
                ttl_ms,
            } => {
                *model = model.renew(policy, capacity, ttl_ms);
                Reply::Ok
            }
            Op::Put { key, value } => Reply::Evicted(model.put(key, value)),
            Op::Get { key } => Reply::Value(model.get(key)),
            Op::Len => Reply::Len(model.len()),
            Op::Tick { ms } => Reply::Now(model.tick(ms)),
            Op::Sweep => Reply::Expired(model.sweep()),
        }
    }

    /// Parses the program's reply to this request, or says which shape the protocol wants.
    fn parse_reply(self, line: &str) -> Result<Reply, Failure> {
        let reply: Option<Value> = serde_json::from_str(line).ok();
        let parsed = reply.as_ref().and_then(|reply| match self {
            Op::New { .. } => (reply.get("ok")? == &Value::Bool(true)).then_some(Reply::Ok),
            Op::Put { .. } => match reply.get("evicted")? {
                Value::Null => Some(Reply::Evicted(None)),
                entry => Some(Reply::Evicted(Some((
                    entry.get("key")?.as_u64()?,
                    entry.get("value")?.as_u64()?,
                )))),
            },
            Op::Get { .. } => match reply.get("value")? {
                Value::Null => Some(Reply::Value(None)),
                value => Some(Reply::Value(Some(value.as_u64()?))),
            },
            Op::Len => Some(Reply::Len(
                usize::try_from(reply.get("len")?.as_u64()?).ok()?,
            )),
            Op::Tick { .. } => Some(Reply::Now(reply.get("now")?.as_u64()?)),
            Op::Sweep => Some(Reply::Expired(
                reply
                    .get("expired")?
                    .as_array()?
                    .iter()
                    .map(Value::as_u64)
                    .collect::<Option<Vec<u64>>>()?,
            )),
        });
        parsed.ok_or_else(|| {
            let shape = match self {
                Op::New { .. } => r#"{"ok":true}"#,
                Op::Put { .. } => r#"{"evicted":null} or {"evicted":{"key":K,"value":V}}"#,
                Op::Get { .. } => r#"{"value":V} or {"value":null}"#,
                Op::Len => r#"{"len":N}"#,
                Op::Tick { .. } => r#"{"now":T}"#,
                Op::Sweep => r#"{"expired":[K, …]}"#,
            };
            Failure::new(format!(
                "the reply to `{}` does not have the shape the protocol gives",
                self.name()
            ))
            .expected(shape)
            .got(line)
            .detail("the provided `main` writes these replies: if you changed it, compare it with the original")
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok => write!(f, r#"{{"ok":true}}"#),
            Reply::Evicted(None) => write!(f, r#"{{"evicted":null}}"#),
            Reply::Evicted(Some((key, value))) => {
                write!(f, r#"{{"evicted":{{"key":{key},"value":{value}}}}}"#)
            }
            Reply::Value(None) => write!(f, r#"{{"value":null}}"#),
            Reply::Value(Some(value)) => write!(f, r#"{{"value":{value}}}"#),
            Reply::Len(len) => write!(f, r#"{{"len":{len}}}"#),
            Reply::Now(now) => write!(f, r#"{{"now":{now}}}"#),
            Reply::Expired(keys) => {
                let keys: Vec<String> = keys.iter().map(u64::to_string).collect();
                write!(f, r#"{{"expired":[{}]}}"#, keys.join(","))
            }
        }
    }
}

/// The first request whose reply broke the contract, and that reply (or why there was none).
pub type Mismatch = crate::trace::Mismatch<Reply>;

pub use crate::trace::run;

impl crate::trace::Request for Op {
    type Model = Model;
    type Reply = Reply;

    fn line(self) -> String {
        Op::line(self)
    }

    fn apply(self, model: &mut Model) -> Reply {
        Op::apply(self, model)
    }

    fn parse_reply(self, line: &str) -> Result<Reply, Failure> {
        Op::parse_reply(self, line)
    }
}

/// Runs `ops` (from a fresh program, clock 0) pipelined. On a mismatch, replays them on another fresh
/// program with the last few requests one at a time, and explains the mismatch the replay hit.
pub fn check(g: &mut Grading, history: &[Vec<Op>], ops: &[Op]) -> Result<(), Failure> {
    crate::trace::check(g, &Model::start(None), ops, |mismatch| {
        explain(history, ops, mismatch)
    })
}

/// Turns a mismatch into the story of what was sent, what the contract says, what came back, and why.
/// `ops` starts on a fresh program (clock 0); `history` holds earlier runs (each on a fresh program too)
/// that were answered correctly: a classic flaw that would have answered one of them differently is ruled out.
pub fn explain(history: &[Vec<Op>], ops: &[Op], mismatch: Mismatch) -> Failure {
    let Mismatch { index, got } = mismatch;
    let op = ops[index];
    let mut before = Model::start(None);
    let mut run_start = 0;
    for (i, earlier) in ops[..index].iter().enumerate() {
        if matches!(earlier, Op::New { .. }) {
            run_start = i;
        }
        earlier.apply(&mut before);
    }
    let expected = op.apply(&mut before.clone());
    let mut failure = match &got {
        Err(failure) => failure.clone(),
        Ok(reply) => Failure::new(rule(op, &before, &expected, reply))
            .expected(&expected)
            .got(reply),
    };
    if !matches!(op, Op::New { .. }) {
        failure = failure
            .detail(format!(
                "sent: {}  (request {} after {}, at time {})",
                op.line(),
                index - run_start,
                ops[run_start].line(),
                before.now()
            ))
            .detail(describe(&before));
    }
    if let Ok(reply) = got
        && let Some(flaw) = diagnose(history, &ops[..index], op, &reply)
    {
        failure = failure.detail(format!(
            "this looks like a classic mistake: {}",
            flaw.diagnosis()
        ));
    }
    failure
}

/// The plain-words contract for `op`, chosen by the policy and by how the reply went wrong.
fn rule(op: Op, before: &Model, expected: &Reply, got: &Reply) -> String {
    let capacity = before.capacity();
    let policy = before.policy();
    if capacity == 0 && matches!(op, Op::Put { .. } | Op::Get { .. } | Op::Len) {
        return "a cache of capacity 0 stores nothing: put evicts nothing, get always misses, len is 0".into();
    }
    match (op, expected, got) {
        (Op::Put { key, .. }, ..) if before.contains(key) => {
            "a put that overwrites a cached key replaces its value and evicts nothing".into()
        }
        (Op::Put { .. }, Reply::Evicted(None), _) => format!(
            "a cache below its capacity ({} of {capacity} entries) evicts nothing",
            before.len()
        ),
        (Op::Put { .. }, ..) => match policy {
            Policy::Lfu => "a put of a new key into a full LFU cache evicts the least frequently used entry (the lowest \
                            count of gets and puts), and among equal counts the least recently used one"
                .into(),
            Policy::Fifo => "a put of a new key into a full FIFO cache evicts the entry inserted first; gets and \
                             overwrites do not change the order"
                .into(),
            Policy::Ttl => "a put of a new key into a full TTL cache evicts the entry that expires soonest (an \
                            overwrite restarts a key's TTL), and among equal expiry times the one written first"
                .into(),
        },
        (Op::Get { key }, Reply::Value(None), Reply::Value(Some(_))) if before.is_expired(key) => format!(
            "an entry put at time t expires at t + ttl_ms ({} ms here): from that moment on (now >= expires_at) get \
             returns null",
            before.ttl_ms()
        ),
        (Op::Get { .. }, Reply::Value(Some(_)), Reply::Value(None)) if policy == Policy::Ttl => {
            "an entry is live until its expiry time (its last put + ttl_ms): before it, get returns the value".into()
        }
        (Op::Get { .. }, Reply::Value(Some(_)), Reply::Value(None)) => "get of a cached key returns its value".into(),
        (Op::Get { .. }, Reply::Value(None), _) => {
            "get of a key that is not cached (never put, or evicted since) returns null".into()
        }
        (Op::Get { .. }, ..) => "get returns the value of the latest put of that key".into(),
        (Op::Len, ..) if policy == Policy::Ttl => format!(
            "len counts every entry held, including expired ones that no get or sweep has removed yet, never more \
             than the capacity ({capacity})"
        ),
        (Op::Len, ..) => format!("len counts the cached entries, never more than the capacity ({capacity})"),
        (Op::Tick { .. }, ..) => "tick moves the fake clock forward and answers the new time".into(),
        (Op::Sweep, ..) if policy == Policy::Ttl => {
            "sweep removes every expired entry (now >= expires_at) at once and returns their keys in ascending order"
                .into()
        }
        (Op::Sweep, ..) => "only TTL entries expire: a sweep of an LFU or FIFO cache removes nothing".into(),
        (Op::New { .. }, ..) => r#"new answers {"ok":true}"#.into(),
    }
}

/// The first classic flaw that agrees with every reply observed so far and predicts `got` for `op`.
fn diagnose(history: &[Vec<Op>], earlier: &[Op], op: Op, got: &Reply) -> Option<Flaw> {
    Flaw::ALL.into_iter().find(|&flaw| {
        let agrees = |ops: &[Op]| {
            let mut right = Model::start(None);
            let mut flawed = Model::start(Some(flaw));
            ops.iter()
                .all(|op| op.apply(&mut right) == op.apply(&mut flawed))
        };
        let mut right = Model::start(None);
        let mut flawed = Model::start(Some(flaw));
        history.iter().all(|run| agrees(run))
            && earlier
                .iter()
                .all(|op| op.apply(&mut right) == op.apply(&mut flawed))
            && op.apply(&mut flawed) == *got
    })
}

/// The model's content before the failing request, next victim first.
fn describe(model: &Model) -> String {
    let keys = model.keys_by_rank();
    let shown: Vec<String> = keys
        .iter()
        .take(KEYS_SHOWN)
        .map(|&key| model.describe_entry(key))
        .collect();
    let more = if keys.len() > KEYS_SHOWN {
        format!(", … {} more", keys.len() - KEYS_SHOWN)
    } else {
        String::new()
    };
    let order = match model.policy() {
        Policy::Lfu => "least used first (ties: least recently used first)",
        Policy::Fifo => "oldest insertion first",
        Policy::Ttl => "soonest expiry first",
    };
    format!(
        "{} cache before it ({} of {} entries), {order}: [{}{more}]",
        model.policy().to_string().to_uppercase(),
        keys.len(),
        model.capacity(),
        shown.join(", ")
    )
}
