//! The reference model of `cache3_strategies`: what each request must answer and which store calls it
//! must cause, in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::counting_store::Call;

/// A caching strategy of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    CacheAside,
    ReadThrough,
    WriteThrough,
    WriteBehind,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::CacheAside,
        Strategy::ReadThrough,
        Strategy::WriteThrough,
        Strategy::WriteBehind,
    ];
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::CacheAside => "cache_aside",
            Strategy::ReadThrough => "read_through",
            Strategy::WriteThrough => "write_through",
            Strategy::WriteBehind => "write_behind",
        })
    }
}

/// One request of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    New { strategy: Strategy, flush_ms: u64 },
    Read { key: u64 },
    Write { key: u64, value: u64 },
    Tick { ms: u64 },
}

impl Op {
    /// The request as the JSON line the grader sends.
    pub fn line(self) -> String {
        match self {
            Op::New {
                strategy: Strategy::WriteBehind,
                flush_ms,
            } => format!(r#"{{"op":"new","strategy":"write_behind","flush_ms":{flush_ms}}}"#),
            Op::New { strategy, .. } => format!(r#"{{"op":"new","strategy":"{strategy}"}}"#),
            Op::Read { key } => format!(r#"{{"op":"read","key":{key}}}"#),
            Op::Write { key, value } => {
                format!(r#"{{"op":"write","key":{key},"value":{value}}}"#)
            }
            Op::Tick { ms } => format!(r#"{{"op":"tick","ms":{ms}}}"#),
        }
    }
}

/// The cache and the store, as the contract says they are.
#[derive(Debug, Clone)]
pub struct Model {
    pub strategy: Strategy,
    pub flush_ms: u64,
    pub now: u64,
    pub cache: BTreeMap<u64, u64>,
    pub dirty: BTreeSet<u64>,
    pub first_dirty_at: Option<u64>,
    pub store: BTreeMap<u64, u64>,
    /// The latest value written by the program for each key (what a read must never be older than).
    pub written: BTreeMap<u64, u64>,
}

impl Model {
    /// Before the first `new`, over a store holding `store`.
    pub fn start(store: BTreeMap<u64, u64>) -> Self {
        Model {
            strategy: Strategy::CacheAside,
            flush_ms: 0,
            now: 0,
            cache: BTreeMap::new(),
            dirty: BTreeSet::new(),
            first_dirty_at: None,
            store,
            written: BTreeMap::new(),
        }
    }

    /// Applies `op`: the reply's JSON and the store calls it causes.
    pub fn apply(&mut self, op: Op) -> (String, Vec<Call>) {
        let mut calls = Vec::new();
        let reply = match op {
            Op::New { strategy, flush_ms } => {
                self.flush(&mut calls);
                self.strategy = strategy;
                self.flush_ms = flush_ms;
                self.cache.clear();
                r#"{"ok":true}"#.to_string()
            }
            Op::Read { key } => {
                let value = match self.cache.get(&key) {
                    Some(&value) => Some(value),
                    None => {
                        let found = self.store.get(&key).copied();
                        calls.push(get(key, found));
                        if let Some(value) = found {
                            self.cache.insert(key, value);
                        }
                        found
                    }
                };
                match value {
                    Some(value) => format!(r#"{{"value":{value}}}"#),
                    None => r#"{"value":null}"#.to_string(),
                }
            }
            Op::Write { key, value } => {
                self.written.insert(key, value);
                match self.strategy {
                    Strategy::CacheAside | Strategy::ReadThrough => {
                        self.save(key, value, &mut calls);
                        self.cache.remove(&key);
                    }
                    Strategy::WriteThrough => {
                        self.save(key, value, &mut calls);
                        self.cache.insert(key, value);
                    }
                    Strategy::WriteBehind => {
                        self.cache.insert(key, value);
                        self.dirty.insert(key);
                        self.first_dirty_at.get_or_insert(self.now);
                    }
                }
                r#"{"ok":true}"#.to_string()
            }
            Op::Tick { ms } => {
                self.now += ms;
                if self
                    .first_dirty_at
                    .is_some_and(|first| self.now >= first.saturating_add(self.flush_ms))
                {
                    self.flush(&mut calls);
                }
                format!(r#"{{"now":{}}}"#, self.now)
            }
        };
        (reply, calls)
    }

    /// The calls of a shutdown (end of input).
    pub fn shutdown(&mut self) -> Vec<Call> {
        let mut calls = Vec::new();
        self.flush(&mut calls);
        calls
    }

    fn save(&mut self, key: u64, value: u64, calls: &mut Vec<Call>) {
        self.store.insert(key, value);
        calls.push(Call::Put {
            key: key.to_string(),
            value: value.to_string(),
        });
    }

    fn flush(&mut self, calls: &mut Vec<Call>) {
        for key in std::mem::take(&mut self.dirty) {
            let value = self.cache[&key];
            self.save(key, value, calls);
        }
        self.first_dirty_at = None;
    }
}

/// A `GET` call and what the store answered.
pub fn get(key: u64, found: Option<u64>) -> Call {
    Call::Get {
        key: key.to_string(),
        found: found.map(|value| value.to_string()),
    }
}

/// Store calls as they read in a report: `GET 3 → VALUE 30, PUT 4 40`, or `(none)`.
pub fn show_calls(calls: &[Call]) -> String {
    if calls.is_empty() {
        return "(no store call)".into();
    }
    calls
        .iter()
        .map(|call| match call {
            Call::Get { .. } => format!("{} → {}", call.request(), call.answer()),
            _ => call.request(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Write-behind coalesces to one save per key, ascending, once the oldest write is flush_ms old.
    #[test]
    fn write_behind_flushes_coalesced_in_key_order() {
        let mut model = Model::start(BTreeMap::new());
        model.apply(Op::New {
            strategy: Strategy::WriteBehind,
            flush_ms: 100,
        });
        model.apply(Op::Write { key: 5, value: 1 });
        model.apply(Op::Tick { ms: 60 });
        model.apply(Op::Write { key: 3, value: 1 });
        model.apply(Op::Write { key: 5, value: 2 });
        assert!(model.apply(Op::Tick { ms: 39 }).1.is_empty());
        let (_, calls) = model.apply(Op::Tick { ms: 1 });
        assert_eq!(show_calls(&calls), "PUT 3 1, PUT 5 2");
    }
}
