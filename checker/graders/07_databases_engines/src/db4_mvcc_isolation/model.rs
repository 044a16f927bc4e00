//! The reference MVCC store of `db4_mvcc_isolation`, with what a report needs to explain a wrong answer: who
//! wrote each version, which writes are still buffered, and which were thrown away by an abort.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An isolation level, as the protocol spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    ReadCommitted,
    Snapshot,
    Serializable,
}

impl Level {
    /// The level as sent on the wire.
    pub fn wire(self) -> &'static str {
        match self {
            Level::ReadCommitted => "read_committed",
            Level::Snapshot => "snapshot",
            Level::Serializable => "serializable",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire())
    }
}

/// Why a commit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    WriteConflict,
    Serialization,
}

impl Reason {
    /// The reason as sent on the wire.
    pub fn wire(self) -> &'static str {
        match self {
            Reason::WriteConflict => "write_conflict",
            Reason::Serialization => "serialization",
        }
    }
}

/// One committed version.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub commit_ts: u64,
    pub value: i64,
    /// The transaction that committed it.
    pub writer: u64,
}

/// A running transaction.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub level: Level,
    pub start_ts: u64,
    pub writes: BTreeMap<String, i64>,
    pub reads: BTreeSet<String>,
}

/// The reference store.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub versions: BTreeMap<String, Vec<Version>>,
    pub last_commit_ts: u64,
    pub running: BTreeMap<u64, Transaction>,
    /// Writes thrown away by an abort (or a refused commit): `(key, value, transaction)`.
    pub discarded: Vec<(String, i64, u64)>,
}

impl Model {
    /// Starts `tx`; false if it is already running.
    pub fn begin(&mut self, tx: u64, level: Level) -> bool {
        if self.running.contains_key(&tx) {
            return false;
        }
        let start_ts = self.last_commit_ts;
        self.running.insert(
            tx,
            Transaction {
                level,
                start_ts,
                writes: BTreeMap::new(),
                reads: BTreeSet::new(),
            },
        );
        true
    }

    /// The newest version of `key` committed at or before `ts`.
    pub fn visible(&self, key: &str, ts: u64) -> Option<Version> {
        self.versions
            .get(key)?
            .iter()
            .rev()
            .find(|version| version.commit_ts <= ts)
            .copied()
    }

    /// The newest version of `key` committed after `ts`, if any.
    pub fn changed_since(&self, key: &str, ts: u64) -> Option<Version> {
        self.versions
            .get(key)?
            .last()
            .filter(|newest| newest.commit_ts > ts)
            .copied()
    }

    /// What `tx` reads for `key`; `None` outside when `tx` is not running.
    pub fn read(&mut self, tx: u64, key: &str) -> Option<Option<i64>> {
        let last = self.last_commit_ts;
        let transaction = self.running.get_mut(&tx)?;
        if let Some(&own) = transaction.writes.get(key) {
            return Some(Some(own));
        }
        transaction.reads.insert(key.to_string());
        let ts = match transaction.level {
            Level::ReadCommitted => last,
            Level::Snapshot | Level::Serializable => transaction.start_ts,
        };
        Some(self.visible(key, ts).map(|version| version.value))
    }

    /// Buffers a write; false when `tx` is not running.
    pub fn write(&mut self, tx: u64, key: &str, value: i64) -> bool {
        match self.running.get_mut(&tx) {
            Some(transaction) => {
                transaction.writes.insert(key.to_string(), value);
                true
            }
            None => false,
        }
    }

    /// Why `tx` may not commit (with the key and the version in the way), or `None` if it may.
    pub fn conflict(&self, tx: u64) -> Option<(Reason, String, Version)> {
        let transaction = self.running.get(&tx)?;
        if transaction.level == Level::ReadCommitted || transaction.writes.is_empty() {
            return None;
        }
        let start = transaction.start_ts;
        for key in transaction.writes.keys() {
            if let Some(version) = self.changed_since(key, start) {
                return Some((Reason::WriteConflict, key.clone(), version));
            }
        }
        if transaction.level == Level::Serializable {
            for key in &transaction.reads {
                if let Some(version) = self.changed_since(key, start) {
                    return Some((Reason::Serialization, key.clone(), version));
                }
            }
        }
        None
    }

    /// Ends `tx`: `Some(Ok(()))` committed, `Some(Err(reason))` refused, `None` not running.
    pub fn commit(&mut self, tx: u64) -> Option<Result<(), Reason>> {
        let conflict = self.conflict(tx);
        let transaction = self.running.remove(&tx)?;
        if let Some((reason, _, _)) = conflict {
            self.discard(tx, transaction);
            return Some(Err(reason));
        }
        if !transaction.writes.is_empty() {
            self.last_commit_ts += 1;
            let commit_ts = self.last_commit_ts;
            for (key, value) in transaction.writes {
                self.versions.entry(key).or_default().push(Version {
                    commit_ts,
                    value,
                    writer: tx,
                });
            }
        }
        Some(Ok(()))
    }

    /// Ends `tx` without installing anything; false when it is not running.
    pub fn abort(&mut self, tx: u64) -> bool {
        match self.running.remove(&tx) {
            Some(transaction) => {
                self.discard(tx, transaction);
                true
            }
            None => false,
        }
    }

    fn discard(&mut self, tx: u64, transaction: Transaction) {
        for (key, value) in transaction.writes {
            self.discarded.push((key, value, tx));
        }
    }

    /// The newest committed version of `key`.
    pub fn newest(&self, key: &str) -> Option<Version> {
        self.versions.get(key)?.last().copied()
    }

    /// Another running transaction that has `value` buffered for `key`.
    pub fn uncommitted_writer(&self, tx: u64, key: &str, value: i64) -> Option<u64> {
        self.running
            .iter()
            .find(|&(&other, transaction)| {
                other != tx && transaction.writes.get(key) == Some(&value)
            })
            .map(|(&other, _)| other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Write skew: snapshot commits both transactions, serializable refuses the second.
    #[test]
    fn write_skew_per_level() {
        for (level, second) in [
            (Level::Snapshot, Ok(())),
            (Level::Serializable, Err(Reason::Serialization)),
        ] {
            let mut model = Model::default();
            model.begin(1, Level::ReadCommitted);
            model.write(1, "a", 1);
            model.write(1, "b", 1);
            assert_eq!(model.commit(1), Some(Ok(())));
            model.begin(2, level);
            model.begin(3, level);
            for tx in [2, 3] {
                assert_eq!(model.read(tx, "a"), Some(Some(1)));
                assert_eq!(model.read(tx, "b"), Some(Some(1)));
            }
            model.write(2, "a", 0);
            model.write(3, "b", 0);
            assert_eq!(model.commit(2), Some(Ok(())));
            assert_eq!(model.commit(3), Some(second));
        }
    }
}
