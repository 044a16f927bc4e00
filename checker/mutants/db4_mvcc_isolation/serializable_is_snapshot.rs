//! mutant: serializable only checks write-write conflicts, exactly like snapshot
//! expect: write skew
//!
//! The learner believes snapshot isolation is serializable (as Oracle's SERIALIZABLE once did).

//! # MVCC and isolation levels: read committed, snapshot, serializable
//!
//! Two transactions run at the same time against one database. What may each of them see of the
//! other? The SQL standard answers with *isolation levels*, each defined by the anomalies it
//! forbids; Postgres, MySQL/InnoDB, Oracle, CockroachDB and most modern engines implement them with
//! **multi-version concurrency control** (MVCC): a write never overwrites a row in place, it adds a
//! new *version* stamped with the commit timestamp of its transaction, and a reader picks the
//! version it is allowed to see. Readers never block writers and writers never block readers,
//! which is why MVCC won. You build a small in-memory MVCC key-value store here, with three levels.
//!
//! ## The anomalies, from the worst
//!
//! - **Dirty read**: T2 sees a value T1 wrote but has not committed (and may still roll back).
//!   No level here allows it: writes stay in the transaction's private *write buffer* until commit.
//! - **Non-repeatable read**: T1 reads `x`, T2 commits a new `x`, T1 reads `x` again and gets
//!   another answer. Allowed by read committed; a *snapshot* forbids it.
//! - **Lost update**: T1 and T2 both read `x = 100`, both write `x = read + 10`, both commit:
//!   `x` ends at 110, one deposit is gone. Read committed allows it (last writer wins); snapshot
//!   isolation forbids it with **first-committer-wins**: of two concurrent transactions that wrote
//!   the same key, the second to commit is aborted.
//! - **Write skew**: two doctors are on call; each transaction checks "is the other one on call?"
//!   and, seeing yes, takes itself off. They write *different* keys, so first-committer-wins sees
//!   no conflict, and nobody is on call. Snapshot isolation allows it (Postgres `REPEATABLE READ`,
//!   Oracle `SERIALIZABLE`!); only serializable forbids it.
//!
//! ## The contract the grader checks
//!
//! Every committed write gets a commit timestamp from a counter (`last_commit_ts + 1`); a version
//! is `(commit_ts, value)`. A transaction remembers `start_ts`, the counter at its `begin`.
//!
//! - `read` returns the transaction's own buffered write to that key if it has one. Otherwise:
//!   *read committed* returns the newest committed version (at the time of the read); *snapshot*
//!   and *serializable* return the newest version with `commit_ts <= start_ts` (the database as it
//!   was at `begin`). A key never written reads as `None`.
//! - `write` only buffers: nobody else sees it until commit.
//! - `commit` validates, then installs every buffered write as a new version with one new commit
//!   timestamp (a transaction that wrote nothing takes none):
//!   - *read committed* never aborts;
//!   - *snapshot*: if any key it wrote has a version with `commit_ts > start_ts` (a concurrent
//!     transaction wrote it and committed first), abort with [`Outcome::WriteConflict`];
//!   - *serializable*: the snapshot check first; then, if it wrote something and any key it
//!     **read** from the store has a version with `commit_ts > start_ts`, abort with
//!     [`Outcome::Serialization`]. (This "SSI-lite" is backward validation, as in optimistic
//!     concurrency control: stricter than Postgres's real SSI, which tracks read-write
//!     dependencies, but every history it commits is serializable: each writing transaction
//!     behaves as if it ran alone at its commit.)
//!   - a transaction that wrote nothing always commits, at every level: its reads came from one
//!     consistent snapshot (or, at read committed, from committed data), and it changes nothing.
//! - `abort`, and a commit that fails, discard the write buffer. A finished transaction is gone:
//!   using it again is [`MvccError::UnknownTransaction`].
//!
//! ## Pitfalls
//!
//! - Writing straight into the version list at `write` time: that is the dirty read.
//! - Taking a snapshot per *read* instead of per *transaction* (that is read committed).
//! - Checking conflicts against every version of the key, not only those newer than `start_ts`:
//!   a version committed *before* the transaction began is in its snapshot, not a conflict.
//! - First-*committer* wins, not first-*writer*: who wrote first does not matter, who commits does.
//! - Recording a read served from the transaction's own write buffer as a read of the store.
//!
//! Production notes: real engines keep versions in the table (Postgres `xmin`/`xmax`) or in an
//! undo log (InnoDB, Oracle), and a background job (`VACUUM`, purge) drops versions no running
//! transaction can see any more. Under snapshot or serializable, an application must be ready to
//! *retry* an aborted transaction (SQLSTATE 40001): that is the price of not blocking.
//!
//! Roadmap: Databases, transactions and isolation levels; locking and concurrency control.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// An isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    ReadCommitted,
    Snapshot,
    Serializable,
}

/// How a commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The writes are installed and visible to transactions that start (or, at read committed,
    /// read) from now on.
    Committed,
    /// A key this transaction wrote was committed by another transaction after this one began.
    WriteConflict,
    /// Serializable only: a key this writing transaction read was committed by another transaction
    /// after this one began.
    Serialization,
}

/// A request about a transaction that is not running.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MvccError {
    #[error("unknown transaction {0} (never begun, or already committed or aborted)")]
    UnknownTransaction(u64),
    #[error("transaction {0} has already begun")]
    AlreadyBegun(u64),
}

/// One committed version of a key.
#[derive(Debug, Clone, Copy)]
struct Version {
    commit_ts: u64,
    value: i64,
}

/// A running transaction.
#[derive(Debug)]
struct Transaction {
    level: Level,
    /// `last_commit_ts` when it began: its snapshot.
    start_ts: u64,
    /// Its own writes, invisible to everyone else until commit.
    writes: BTreeMap<String, i64>,
    /// The keys it read from the store (not from `writes`).
    reads: BTreeSet<String>,
}

/// An in-memory multi-version key-value store.
#[derive(Debug, Default)]
pub struct Mvcc {
    /// Every committed version of every key, oldest first.
    versions: HashMap<String, Vec<Version>>,
    /// The timestamp of the latest commit that wrote something (0: none yet).
    last_commit_ts: u64,
    /// The running transactions, by id.
    running: HashMap<u64, Transaction>,
}

impl Mvcc {
    /// An empty store.
    pub fn new() -> Self {
        Mvcc::default()
    }

    /// Starts transaction `id` at `level`.
    pub fn begin(&mut self, id: u64, level: Level) -> Result<(), MvccError> {
        if self.running.contains_key(&id) {
            return Err(MvccError::AlreadyBegun(id));
        }
        let transaction = Transaction {
            level,
            start_ts: self.last_commit_ts,
            writes: BTreeMap::new(),
            reads: BTreeSet::new(),
        };
        self.running.insert(id, transaction);
        Ok(())
    }

    /// The newest version of `key` committed at or before `ts`.
    fn visible(&self, key: &str, ts: u64) -> Option<i64> {
        self.versions
            .get(key)?
            .iter()
            .rev()
            .find(|version| version.commit_ts <= ts)
            .map(|version| version.value)
    }

    /// Whether `key` has a version committed after `ts`.
    fn changed_since(&self, key: &str, ts: u64) -> bool {
        self.versions
            .get(key)
            .and_then(|versions| versions.last())
            .is_some_and(|newest| newest.commit_ts > ts)
    }

    /// What transaction `id` reads for `key`.
    pub fn read(&mut self, id: u64, key: &str) -> Result<Option<i64>, MvccError> {
        let last_commit_ts = self.last_commit_ts;
        let transaction = self
            .running
            .get(&id)
            .ok_or(MvccError::UnknownTransaction(id))?;
        if let Some(&own) = transaction.writes.get(key) {
            return Ok(Some(own));
        }
        let ts = match transaction.level {
            Level::ReadCommitted => last_commit_ts,
            Level::Snapshot | Level::Serializable => transaction.start_ts,
        };
        let value = self.visible(key, ts);
        if let Some(transaction) = self.running.get_mut(&id) {
            transaction.reads.insert(key.to_string());
        }
        Ok(value)
    }

    /// Buffers transaction `id`'s write of `value` to `key`.
    pub fn write(&mut self, id: u64, key: &str, value: i64) -> Result<(), MvccError> {
        let transaction = self
            .running
            .get_mut(&id)
            .ok_or(MvccError::UnknownTransaction(id))?;
        transaction.writes.insert(key.to_string(), value);
        Ok(())
    }

    /// Validates transaction `id` at its level and, if it may commit, installs its writes.
    pub fn commit(&mut self, id: u64) -> Result<Outcome, MvccError> {
        let transaction = self
            .running
            .remove(&id)
            .ok_or(MvccError::UnknownTransaction(id))?;
        let start_ts = transaction.start_ts;
        if transaction.level != Level::ReadCommitted
            && transaction
                .writes
                .keys()
                .any(|key| self.changed_since(key, start_ts))
        {
            return Ok(Outcome::WriteConflict);
        }
        if !transaction.writes.is_empty() {
            self.last_commit_ts += 1;
            let commit_ts = self.last_commit_ts;
            for (key, value) in transaction.writes {
                self.versions
                    .entry(key)
                    .or_default()
                    .push(Version { commit_ts, value });
            }
        }
        Ok(Outcome::Committed)
    }

    /// Ends transaction `id` without installing anything.
    pub fn abort(&mut self, id: u64) -> Result<(), MvccError> {
        self.running
            .remove(&id)
            .map(|_| ())
            .ok_or(MvccError::UnknownTransaction(id))
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires `Mvcc` to the grader's protocol, one
// JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"begin","tx":1,"level":"snapshot"}      -> {"ok":true}
//        level: "read_committed", "snapshot" or "serializable"
//   {"op":"read","tx":1,"key":"x"}                 -> {"value":100} or {"value":null}
//   {"op":"write","tx":1,"key":"x","value":110}    -> {"ok":true}
//   {"op":"commit","tx":1}                         -> {"committed":true}
//                                                  or {"committed":false,"reason":"write_conflict"}
//                                                  or {"committed":false,"reason":"serialization"}
//   {"op":"abort","tx":1}                          -> {"ok":true}
//   any request about a transaction that is not running -> {"error":"unknown transaction 1 …"}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Begin { tx: u64, level: Level },
    Read { tx: u64, key: String },
    Write { tx: u64, key: String, value: i64 },
    Commit { tx: u64 },
    Abort { tx: u64 },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Response {
    Ok {
        ok: bool,
    },
    Value {
        value: Option<i64>,
    },
    Committed {
        committed: bool,
    },
    Aborted {
        committed: bool,
        reason: &'static str,
    },
    Error {
        error: String,
    },
}

fn reply<T>(result: Result<T, MvccError>, to_response: impl FnOnce(T) -> Response) -> Response {
    match result {
        Ok(value) => to_response(value),
        Err(e) => Response::Error {
            error: e.to_string(),
        },
    }
}

fn main() {
    let mut store = Mvcc::new();
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::Begin { tx, level } => {
            reply(store.begin(tx, level), |()| Response::Ok { ok: true })
        }
        Request::Read { tx, key } => reply(store.read(tx, &key), |value| Response::Value { value }),
        Request::Write { tx, key, value } => {
            reply(store.write(tx, &key, value), |()| Response::Ok { ok: true })
        }
        Request::Commit { tx } => reply(store.commit(tx), |outcome| match outcome {
            Outcome::Committed => Response::Committed { committed: true },
            Outcome::WriteConflict => Response::Aborted {
                committed: false,
                reason: "write_conflict",
            },
            Outcome::Serialization => Response::Aborted {
                committed: false,
                reason: "serialization",
            },
        }),
        Request::Abort { tx } => reply(store.abort(tx), |()| Response::Ok { ok: true }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store where `key` holds `value`, committed by a setup transaction (id 0).
    fn store_with(pairs: &[(&str, i64)]) -> Mvcc {
        let mut store = Mvcc::new();
        store.begin(0, Level::ReadCommitted).unwrap();
        for &(key, value) in pairs {
            store.write(0, key, value).unwrap();
        }
        assert_eq!(store.commit(0), Ok(Outcome::Committed));
        store
    }

    // A transaction sees its own writes; nobody else does before it commits (no dirty read).
    #[test]
    fn writes_are_private_until_commit() {
        for level in [Level::ReadCommitted, Level::Snapshot, Level::Serializable] {
            let mut store = store_with(&[("x", 1)]);
            store.begin(1, level).unwrap();
            store.begin(2, level).unwrap();
            store.write(1, "x", 2).unwrap();
            assert_eq!(store.read(1, "x"), Ok(Some(2)), "{level:?}");
            assert_eq!(store.read(2, "x"), Ok(Some(1)), "{level:?}");
        }
    }

    // Read committed sees a commit made after it began; snapshot does not.
    #[test]
    fn snapshot_reads_are_repeatable() {
        let mut store = store_with(&[("x", 1)]);
        store.begin(1, Level::ReadCommitted).unwrap();
        store.begin(2, Level::Snapshot).unwrap();
        store.begin(3, Level::ReadCommitted).unwrap();
        store.write(3, "x", 5).unwrap();
        assert_eq!(store.commit(3), Ok(Outcome::Committed));
        assert_eq!(store.read(1, "x"), Ok(Some(5)));
        assert_eq!(store.read(2, "x"), Ok(Some(1)));
    }

    // Of two snapshot transactions writing the same key, the second to commit aborts.
    #[test]
    fn first_committer_wins() {
        let mut store = store_with(&[("x", 100)]);
        store.begin(1, Level::Snapshot).unwrap();
        store.begin(2, Level::Snapshot).unwrap();
        store.write(2, "x", 120).unwrap();
        store.write(1, "x", 110).unwrap();
        assert_eq!(store.commit(1), Ok(Outcome::Committed));
        assert_eq!(store.commit(2), Ok(Outcome::WriteConflict));
        store.begin(3, Level::Snapshot).unwrap();
        assert_eq!(store.read(3, "x"), Ok(Some(110)));
    }

    // Write skew commits under snapshot and aborts under serializable.
    #[test]
    fn serializable_forbids_write_skew() {
        for (level, second) in [
            (Level::Snapshot, Outcome::Committed),
            (Level::Serializable, Outcome::Serialization),
        ] {
            let mut store = store_with(&[("alice", 1), ("bob", 1)]);
            store.begin(1, level).unwrap();
            store.begin(2, level).unwrap();
            for tx in [1, 2] {
                assert_eq!(store.read(tx, "alice"), Ok(Some(1)));
                assert_eq!(store.read(tx, "bob"), Ok(Some(1)));
            }
            store.write(1, "alice", 0).unwrap();
            store.write(2, "bob", 0).unwrap();
            assert_eq!(store.commit(1), Ok(Outcome::Committed));
            assert_eq!(store.commit(2), Ok(second), "{level:?}");
        }
    }

    // A finished transaction cannot be used again, and an aborted one leaves no trace.
    #[test]
    fn aborted_writes_vanish() {
        let mut store = store_with(&[]);
        store.begin(1, Level::Snapshot).unwrap();
        store.write(1, "x", 7).unwrap();
        store.abort(1).unwrap();
        assert_eq!(store.read(1, "x"), Err(MvccError::UnknownTransaction(1)));
        store.begin(2, Level::ReadCommitted).unwrap();
        assert_eq!(store.read(2, "x"), Ok(None));
    }
}
