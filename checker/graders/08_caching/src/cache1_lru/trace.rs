//! Requests to the cache, their JSON lines, and running a list of them against the model (pipelined, with a
//! replay in lockstep on a mismatch: see [`crate::trace`]).

use std::fmt;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::Value;

use crate::lru_model::{Flaw, LruModel};

/// Most keys a report lists from each end of the recency order.
const KEYS_SHOWN: usize = 8;

/// One request of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `{"op":"new","capacity":C}`: a fresh, empty cache.
    New { capacity: usize },
    /// `{"op":"put","key":K,"value":V}`.
    Put { key: u64, value: u64 },
    /// `{"op":"get","key":K}`.
    Get { key: u64 },
    /// `{"op":"peek","key":K}`.
    Peek { key: u64 },
    /// `{"op":"len"}`.
    Len,
}

/// A reply, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `{"ok":true}`, to `new`.
    Ok,
    /// `{"evicted":null}` or `{"evicted":{"key":K,"value":V}}`, to `put`.
    Evicted(Option<(u64, u64)>),
    /// `{"value":V}` or `{"value":null}`, to `get` and `peek`.
    Value(Option<u64>),
    /// `{"len":N}`, to `len`.
    Len(usize),
}

impl Op {
    /// The request as the JSON line the grader sends.
    pub fn line(self) -> String {
        match self {
            Op::New { capacity } => format!(r#"{{"op":"new","capacity":{capacity}}}"#),
            Op::Put { key, value } => format!(r#"{{"op":"put","key":{key},"value":{value}}}"#),
            Op::Get { key } => format!(r#"{{"op":"get","key":{key}}}"#),
            Op::Peek { key } => format!(r#"{{"op":"peek","key":{key}}}"#),
            Op::Len => r#"{"op":"len"}"#.to_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::New { .. } => "new",
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Peek { .. } => "peek",
            Op::Len => "len",
        }
    }

    /// What the contract answers, according to `model` (a `new` replaces the model, keeping its flaw).
    pub fn apply(self, model: &mut LruModel) -> Reply {
        match self {
            Op::New { capacity } => {
                *model = LruModel::with_flaw(capacity, model.flaw());
                Reply::Ok
            }
            Op::Put { key, value } => Reply::Evicted(model.put(key, value)),
            Op::Get { key } => Reply::Value(model.get(key)),
            Op::Peek { key } => Reply::Value(model.peek(key)),
            Op::Len => Reply::Len(model.len()),
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
            Op::Get { .. } | Op::Peek { .. } => match reply.get("value")? {
                Value::Null => Some(Reply::Value(None)),
                value => Some(Reply::Value(Some(value.as_u64()?))),
            },
            Op::Len => Some(Reply::Len(
                usize::try_from(reply.get("len")?.as_u64()?).ok()?,
            )),
        });
        parsed.ok_or_else(|| {
            let shape = match self {
                Op::New { .. } => r#"{"ok":true}"#,
                Op::Put { .. } => r#"{"evicted":null} or {"evicted":{"key":K,"value":V}}"#,
                Op::Get { .. } | Op::Peek { .. } => r#"{"value":V} or {"value":null}"#,
                Op::Len => r#"{"len":N}"#,
            };
            Failure::new(format!("the reply to `{}` does not have the shape the protocol gives", self.name()))
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
        }
    }
}

/// The first request whose reply broke the contract, and that reply (or why there was none).
pub type Mismatch = crate::trace::Mismatch<Reply>;

impl crate::trace::Request for Op {
    type Model = LruModel;
    type Reply = Reply;

    fn line(self) -> String {
        Op::line(self)
    }

    fn apply(self, model: &mut LruModel) -> Reply {
        Op::apply(self, model)
    }

    fn parse_reply(self, line: &str) -> Result<Reply, Failure> {
        Op::parse_reply(self, line)
    }
}

/// Sends `ops` in order and checks every reply against a correct model: pipelined in chunks before
/// `lockstep_from`, one request at a time from there on. `ops` must start with a `new`.
pub fn run(program: &mut Stdio, ops: &[Op], lockstep_from: usize) -> Result<(), Mismatch> {
    crate::trace::run(program, &LruModel::new(0), ops, lockstep_from)
}

/// Runs `ops` on a fresh program, pipelined. On a mismatch, replays them on another fresh program with the
/// last few requests sent one at a time, and explains the mismatch the replay hit.
pub fn check(g: &mut Grading, history: &[Op], ops: &[Op]) -> Result<(), Failure> {
    crate::trace::check(g, &LruModel::new(0), ops, |mismatch| {
        explain(history, ops, mismatch)
    })
}

/// Turns a mismatch into the story of what was sent, what the contract says, what came back, and why.
///
/// `history` holds requests the program answered correctly before `ops` (earlier scenarios): a classic flaw
/// that would have answered one of them differently is ruled out.
pub fn explain(history: &[Op], ops: &[Op], mismatch: Mismatch) -> Failure {
    let Mismatch { index, got } = mismatch;
    let op = ops[index];
    let mut before = LruModel::new(0);
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
        Ok(reply) => Failure::new(rule(op, &before, expected, *reply))
            .expected(expected)
            .got(reply),
    };
    if !matches!(op, Op::New { .. }) {
        failure = failure
            .detail(format!(
                "sent: {}  (request {} after {{\"op\":\"new\",\"capacity\":{}}})",
                op.line(),
                index - run_start,
                before.capacity()
            ))
            .detail(describe(&before));
    }
    if let Ok(reply) = got {
        let observed: Vec<Op> = history.iter().chain(&ops[..index]).copied().collect();
        if let Some(flaw) = diagnose(&observed, op, reply) {
            failure = failure.detail(format!(
                "this looks like a classic mistake: {}",
                flaw.diagnosis()
            ));
        }
    }
    failure
}

/// The plain-words contract for `op`, chosen by how the reply went wrong.
fn rule(op: Op, before: &LruModel, expected: Reply, got: Reply) -> String {
    let capacity = before.capacity();
    if capacity == 0 && !matches!(op, Op::New { .. }) {
        return "a cache of capacity 0 stores nothing: put evicts nothing, get and peek always miss, len is 0".into();
    }
    match (op, expected, got) {
        (Op::Put { key, .. }, ..) if before.contains(key) => {
            "a put that overwrites a cached key replaces its value and evicts nothing".into()
        }
        (Op::Put { .. }, Reply::Evicted(None), _) => {
            format!(
                "a cache below its capacity ({} of {capacity} entries) evicts nothing",
                before.len()
            )
        }
        (Op::Put { .. }, _, Reply::Evicted(None)) => format!(
            "the cache was full ({capacity} of {capacity} entries): a put of a new key evicts the least recently used \
             entry and returns it"
        ),
        (Op::Put { .. }, ..) => {
            "a put of a new key into a full cache evicts the least recently used entry".into()
        }
        (Op::Get { .. } | Op::Peek { .. }, Reply::Value(Some(_)), Reply::Value(None)) => {
            format!("{} of a cached key returns its value", op.name())
        }
        (Op::Get { .. } | Op::Peek { .. }, Reply::Value(None), _) => {
            format!(
                "{} of a key that is not cached (never put, or evicted since) returns null",
                op.name()
            )
        }
        (Op::Get { .. } | Op::Peek { .. }, ..) => format!(
            "{} returns the value of the latest put of that key",
            op.name()
        ),
        (Op::Len, ..) => {
            format!("len counts the cached entries, never more than the capacity ({capacity})")
        }
        (Op::New { .. }, ..) => r#"new answers {"ok":true}"#.into(),
    }
}

/// The first classic flaw that agrees with every reply observed so far and predicts `got` for `op`.
fn diagnose(observed: &[Op], op: Op, got: Reply) -> Option<Flaw> {
    Flaw::ALL.into_iter().find(|&flaw| {
        let mut right = LruModel::new(0);
        let mut flawed = LruModel::with_flaw(0, Some(flaw));
        observed
            .iter()
            .all(|&earlier| earlier.apply(&mut right) == earlier.apply(&mut flawed))
            && op.apply(&mut flawed) == got
    })
}

/// The model's content before the failing request, most recent first, cut in the middle when long.
fn describe(model: &LruModel) -> String {
    let keys = model.keys_most_recent_first();
    let list = |keys: &[u64]| {
        keys.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let shown = if keys.len() <= 2 * KEYS_SHOWN {
        list(&keys)
    } else {
        let hidden = keys.len() - 2 * KEYS_SHOWN;
        format!(
            "{}, … {hidden} more …, {}",
            list(&keys[..KEYS_SHOWN]),
            list(&keys[keys.len() - KEYS_SHOWN..])
        )
    };
    format!(
        "cached keys before it, most recently used first: [{shown}] ({} of {} entries)",
        keys.len(),
        model.capacity()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each classic flaw breaks one of the stories, and the report names that flaw, not another one.
    #[test]
    fn stories_diagnose_every_classic_flaw() {
        for flaw in Flaw::ALL {
            let mut history = Vec::new();
            let mut report = None;
            for (_, ops) in super::super::stories() {
                let mut right = LruModel::new(0);
                let mut flawed = LruModel::with_flaw(0, Some(flaw));
                let first_difference = ops.iter().enumerate().find_map(|(index, op)| {
                    let got = op.apply(&mut flawed);
                    (op.apply(&mut right) != got).then_some((index, got))
                });
                if let Some((index, got)) = first_difference {
                    report = Some(
                        explain(
                            &history,
                            &ops,
                            Mismatch {
                                index,
                                got: Ok(got),
                            },
                        )
                        .to_string(),
                    );
                    break;
                }
                history.extend(ops);
            }
            let report = report.unwrap_or_else(|| panic!("no story catches {flaw:?}"));
            assert!(
                report.contains(flaw.diagnosis()),
                "{flaw:?} reported as:\n{report}"
            );
        }
    }

    // Replies parse strictly: a reply of the wrong shape is a failure, not a miss.
    #[test]
    fn replies_parse_strictly() {
        let put = Op::Put { key: 1, value: 2 };
        assert_eq!(
            put.parse_reply(r#"{"evicted":null}"#).ok(),
            Some(Reply::Evicted(None))
        );
        assert_eq!(
            put.parse_reply(r#"{"evicted":{"key":3,"value":4}}"#).ok(),
            Some(Reply::Evicted(Some((3, 4))))
        );
        assert!(put.parse_reply(r#"{"evicted":3}"#).is_err());
        assert!(
            Op::Get { key: 1 }
                .parse_reply(r#"{"error":"bad request"}"#)
                .is_err()
        );
        assert_eq!(
            Op::Len.parse_reply(r#"{"len":2}"#).ok(),
            Some(Reply::Len(2))
        );
    }
}
