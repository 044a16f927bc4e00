//! Grader of `db4_mvcc_isolation`: an in-memory MVCC store with read committed, snapshot and serializable.
//!
//! 1. Stories, one anomaly each, on a fresh program: dirty read, aborted writes, non-repeatable read, lost
//!    update (first committer wins, not first writer), no false conflicts, write skew, read-only commits.
//! 2. Seeded interleavings of transactions at mixed levels over a few hot keys, every reply against the model.
//! 3. Seeded concurrent transfers at snapshot and serializable: every reply against the model, and the total
//!    of the accounts is the same at the end as at the start.
//!
//! Every expected reply comes from [`model::Model`]; a wrong one is explained by the anomaly it lets through.

mod model;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::Value;

use model::{Level, Model, Reason};

/// One request of the protocol.
#[derive(Debug, Clone)]
enum Op {
    Begin { tx: u64, level: Level },
    Read { tx: u64, key: String },
    Write { tx: u64, key: String, value: i64 },
    Commit { tx: u64 },
    Abort { tx: u64 },
}

/// A reply, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Ok,
    Value(Option<i64>),
    Committed,
    Refused(Reason),
    Error,
}

impl Op {
    fn line(&self) -> String {
        match self {
            Op::Begin { tx, level } => {
                format!(r#"{{"op":"begin","tx":{tx},"level":"{}"}}"#, level.wire())
            }
            Op::Read { tx, key } => format!(r#"{{"op":"read","tx":{tx},"key":"{key}"}}"#),
            Op::Write { tx, key, value } => {
                format!(r#"{{"op":"write","tx":{tx},"key":"{key}","value":{value}}}"#)
            }
            Op::Commit { tx } => format!(r#"{{"op":"commit","tx":{tx}}}"#),
            Op::Abort { tx } => format!(r#"{{"op":"abort","tx":{tx}}}"#),
        }
    }

    fn tx(&self) -> u64 {
        match self {
            Op::Begin { tx, .. }
            | Op::Read { tx, .. }
            | Op::Write { tx, .. }
            | Op::Commit { tx }
            | Op::Abort { tx } => *tx,
        }
    }

    /// What the contract answers, according to `model`.
    fn apply(&self, model: &mut Model) -> Reply {
        let done = |ok: bool| if ok { Reply::Ok } else { Reply::Error };
        match self {
            Op::Begin { tx, level } => done(model.begin(*tx, *level)),
            Op::Read { tx, key } => model.read(*tx, key).map_or(Reply::Error, Reply::Value),
            Op::Write { tx, key, value } => done(model.write(*tx, key, *value)),
            Op::Commit { tx } => match model.commit(*tx) {
                Some(Ok(())) => Reply::Committed,
                Some(Err(reason)) => Reply::Refused(reason),
                None => Reply::Error,
            },
            Op::Abort { tx } => done(model.abort(*tx)),
        }
    }

    /// Parses the program's reply, or says which shape the protocol wants.
    fn parse_reply(&self, line: &str) -> Result<Reply, Failure> {
        let reply: Option<Value> = serde_json::from_str(line).ok();
        let parsed = reply.as_ref().and_then(|reply| {
            if reply.get("error").is_some_and(Value::is_string) {
                return Some(Reply::Error);
            }
            match self {
                Op::Begin { .. } | Op::Write { .. } | Op::Abort { .. } => {
                    (reply.get("ok")? == &Value::Bool(true)).then_some(Reply::Ok)
                }
                Op::Read { .. } => match reply.get("value")? {
                    Value::Null => Some(Reply::Value(None)),
                    value => Some(Reply::Value(Some(value.as_i64()?))),
                },
                Op::Commit { .. } => match (reply.get("committed")?, reply.get("reason")) {
                    (Value::Bool(true), _) => Some(Reply::Committed),
                    (Value::Bool(false), Some(Value::String(reason))) => match reason.as_str() {
                        "write_conflict" => Some(Reply::Refused(Reason::WriteConflict)),
                        "serialization" => Some(Reply::Refused(Reason::Serialization)),
                        _ => None,
                    },
                    _ => None,
                },
            }
        });
        parsed.ok_or_else(|| {
            let shape = match self {
                Op::Begin { .. } | Op::Write { .. } | Op::Abort { .. } => r#"{"ok":true}"#,
                Op::Read { .. } => r#"{"value":N} or {"value":null}"#,
                Op::Commit { .. } => {
                    r#"{"committed":true} or {"committed":false,"reason":"write_conflict"|"serialization"}"#
                }
            };
            Failure::new("the reply does not have the shape the protocol gives")
                .expected(shape)
                .got(line)
                .detail(format!("sent: {}", self.line()))
                .detail("the provided `main` writes these replies: if you changed it, compare it with the original")
        })
    }
}

fn show(reply: Reply) -> String {
    match reply {
        Reply::Ok => r#"{"ok":true}"#.into(),
        Reply::Value(None) => r#"{"value":null}"#.into(),
        Reply::Value(Some(value)) => format!(r#"{{"value":{value}}}"#),
        Reply::Committed => r#"{"committed":true}"#.into(),
        Reply::Refused(reason) => format!(r#"{{"committed":false,"reason":"{}"}}"#, reason.wire()),
        Reply::Error => r#"{"error":"…"}"#.into(),
    }
}

/// A session: the program and the model, kept in step one request at a time.
struct Session {
    program: Stdio,
    model: Model,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        Ok(Session {
            program: g.stdio()?,
            model: Model::default(),
        })
    }

    /// Sends `op`, checks the reply against the model, and returns it.
    fn run(&mut self, op: Op) -> Result<Reply, Failure> {
        let before = self.model.clone();
        self.program.send_line(&op.line())?;
        let line = self.program.recv_line()?;
        let got = op.parse_reply(&line)?;
        let expected = op.apply(&mut self.model);
        if got != expected {
            return Err(explain(&before, &op, expected, got));
        }
        Ok(got)
    }

    fn all(&mut self, ops: Vec<Op>) -> Result<(), Failure> {
        ops.into_iter().try_for_each(|op| self.run(op).map(drop))
    }
}

/// The anomaly a wrong reply lets through, in plain words, with the state that makes the right answer right.
fn explain(before: &Model, op: &Op, expected: Reply, got: Reply) -> Failure {
    let tx = op.tx();
    let transaction = before.running.get(&tx);
    let level = transaction.map_or(Level::ReadCommitted, |t| t.level);
    let rule = match (op, expected, got) {
        (_, Reply::Error, _) => format!(
            "T{tx} is not running (never begun, or already committed or aborted): the reply is an error"
        ),
        (_, _, Reply::Error) => {
            format!("T{tx} is running: the request must succeed, not answer an error")
        }
        (Op::Read { key, .. }, Reply::Value(want), Reply::Value(Some(value))) => {
            let own = transaction.and_then(|t| t.writes.get(key)).copied();
            let start = transaction.map_or(0, |t| t.start_ts);
            if let Some(writer) = before.uncommitted_writer(tx, key, value) {
                format!(
                    "dirty read: T{tx} read {key} = {value}, which T{writer} wrote but has not committed; a write \
                     stays in its transaction's buffer until commit, at every level"
                )
            } else if own.is_some() {
                format!(
                    "a transaction reads its own writes: T{tx} wrote {key} = {} earlier",
                    own.unwrap_or(0)
                )
            } else if before
                .discarded
                .iter()
                .any(|(k, v, _)| k == key && *v == value)
                && Some(value) != want
            {
                format!(
                    "T{tx} read {key} = {value}, a value written by a transaction that aborted: it never existed"
                )
            } else if level != Level::ReadCommitted
                && before.newest(key).map(|v| v.value) == Some(value)
            {
                let writer = before.newest(key).map_or(0, |v| v.writer);
                format!(
                    "non-repeatable read: a {level} transaction reads the snapshot taken at its begin, but {key} = \
                     {value} was committed by T{writer} after T{tx} began"
                )
            } else if level == Level::ReadCommitted
                && before.visible(key, start).map(|v| v.value) == Some(value)
            {
                format!(
                    "read committed reads the newest committed version at each read, not the one of the \
                     transaction's begin: {key} was committed again since T{tx} began"
                )
            } else {
                format!(
                    "a {level} read returns the newest committed version of {key} that T{tx} may see"
                )
            }
        }
        (Op::Read { key, .. }, ..) => {
            format!(
                "a {level} read returns the newest committed version of {key} that T{tx} may see"
            )
        }
        (Op::Commit { .. }, Reply::Refused(reason), Reply::Committed) => {
            let (_, key, version) = before.conflict(tx).expect("a refusal has a conflict");
            match reason {
                Reason::WriteConflict => format!(
                    "lost update: T{tx} ({level}) wrote {key}, which T{} also wrote and committed after T{tx} began; \
                     first-committer-wins refuses the second commit with write_conflict",
                    version.writer
                ),
                Reason::Serialization => format!(
                    "write skew: T{tx} (serializable) read {key}, which T{} changed and committed after T{tx} \
                     began, and T{tx} writes: committing both is not serializable, so the second is refused with \
                     serialization",
                    version.writer
                ),
            }
        }
        (Op::Commit { .. }, Reply::Committed, Reply::Refused(_)) => {
            if level == Level::ReadCommitted {
                format!(
                    "read committed never refuses a commit (the last writer wins): T{tx} commits"
                )
            } else if transaction.is_some_and(|t| t.writes.is_empty()) {
                format!("a transaction that wrote nothing always commits: T{tx} changes nothing")
            } else {
                format!(
                    "T{tx} has no conflict: every version of the keys it wrote{} was committed before it began, \
                     so it is in its snapshot, not a conflict",
                    if level == Level::Serializable {
                        " and read"
                    } else {
                        ""
                    }
                )
            }
        }
        (Op::Commit { .. }, Reply::Refused(want), Reply::Refused(_)) => match want {
            Reason::WriteConflict => format!(
                "T{tx} wrote a key another transaction committed after T{tx} began: the reason is write_conflict \
                 (checked before the read set)"
            ),
            Reason::Serialization => format!(
                "T{tx} wrote no key changed since it began, but read one: the reason is serialization"
            ),
        },
        _ => format!("the reply to `{}` follows the protocol", op.line()),
    };
    let mut failure = Failure::new(rule)
        .expected(show(expected))
        .got(show(got))
        .detail(format!("sent: {}", op.line()));
    if let Some(transaction) = transaction {
        failure = failure.detail(format!(
            "T{tx}: {}, began after commit #{}; its buffered writes: {:?}",
            transaction.level, transaction.start_ts, transaction.writes
        ));
    }
    if let Op::Read { key, .. } = op {
        failure = failure.detail(format!(
            "committed versions of {key}: {}",
            versions(before, key)
        ));
    }
    failure
}

fn versions(model: &Model, key: &str) -> String {
    let list: Vec<String> = model
        .versions
        .get(key)
        .map(|versions| {
            versions
                .iter()
                .map(|v| format!("{} by T{} at commit #{}", v.value, v.writer, v.commit_ts))
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn begin(tx: u64, level: Level) -> Op {
    Op::Begin { tx, level }
}

fn read(tx: u64, key: &str) -> Op {
    Op::Read {
        tx,
        key: key.into(),
    }
}

fn write(tx: u64, key: &str, value: i64) -> Op {
    Op::Write {
        tx,
        key: key.into(),
        value,
    }
}

fn commit(tx: u64) -> Op {
    Op::Commit { tx }
}

fn abort(tx: u64) -> Op {
    Op::Abort { tx }
}

/// A committed setup transaction `tx` writing `pairs`.
fn setup(tx: u64, pairs: &[(&str, i64)]) -> Vec<Op> {
    let mut ops = vec![begin(tx, Level::ReadCommitted)];
    ops.extend(pairs.iter().map(|&(key, value)| write(tx, key, value)));
    ops.push(commit(tx));
    ops
}

const LEVELS: [Level; 3] = [Level::ReadCommitted, Level::Snapshot, Level::Serializable];

/// The stories, in teaching order: each is played on a fresh program.
fn stories() -> Vec<(&'static str, Vec<Op>)> {
    use Level::{ReadCommitted, Serializable, Snapshot};
    let mut own_writes = setup(1, &[("x", 1)]);
    for (i, level) in LEVELS.into_iter().enumerate() {
        let (a, b, c) = (10 * i as u64 + 10, 10 * i as u64 + 11, 10 * i as u64 + 12);
        let value = 2 + i as i64;
        own_writes.extend([
            begin(a, level),
            begin(b, level),
            write(a, "x", value),
            read(a, "x"),
            read(b, "x"),
            commit(a),
            begin(c, level),
            read(c, "x"),
            commit(c),
            commit(b),
        ]);
    }
    let mut lost_update = Vec::new();
    for (i, level) in LEVELS.into_iter().enumerate() {
        let (a, b, c) = (10 * i as u64 + 10, 10 * i as u64 + 11, 10 * i as u64 + 12);
        let key = ["rc", "si", "ser"][i];
        lost_update.extend(setup(a + 5, &[(key, 100)]));
        lost_update.extend([
            begin(a, level),
            begin(b, level),
            read(a, key),
            read(b, key),
            write(a, key, 110),
            write(b, key, 120),
            commit(a),
            commit(b),
            begin(c, level),
            read(c, key),
        ]);
    }
    let mut write_skew = Vec::new();
    for (i, level) in [Snapshot, Serializable].into_iter().enumerate() {
        let (a, b, c) = (10 * i as u64 + 10, 10 * i as u64 + 11, 10 * i as u64 + 12);
        write_skew.extend(setup(a + 5, &[("alice", 1), ("bob", 1)]));
        write_skew.extend([
            begin(a, level),
            begin(b, level),
            read(a, "alice"),
            read(a, "bob"),
            read(b, "alice"),
            read(b, "bob"),
            write(a, "alice", 0),
            write(b, "bob", 0),
            commit(a),
            commit(b),
            begin(c, level),
            read(c, "alice"),
            read(c, "bob"),
        ]);
    }
    vec![
        (
            "a transaction reads its own writes, and nobody sees them before it commits (no dirty read)",
            own_writes,
        ),
        (
            "an aborted transaction leaves no trace, and a finished one is gone",
            [
                setup(1, &[("x", 1)]),
                vec![
                    begin(2, Snapshot),
                    write(2, "x", 5),
                    write(2, "y", 6),
                    abort(2),
                    read(2, "x"),
                    begin(3, ReadCommitted),
                    read(3, "x"),
                    read(3, "y"),
                    commit(3),
                    commit(3),
                ],
            ]
            .concat(),
        ),
        (
            "read committed sees each new commit: a non-repeatable read is allowed",
            [
                setup(1, &[("x", 1)]),
                vec![
                    begin(2, ReadCommitted),
                    read(2, "x"),
                    begin(3, Snapshot),
                    write(3, "x", 2),
                    commit(3),
                    read(2, "x"),
                    commit(2),
                ],
            ]
            .concat(),
        ),
        (
            "snapshot and serializable read the database as of their begin (no non-repeatable read)",
            [
                setup(1, &[("x", 1), ("y", 1)]),
                vec![
                    begin(2, Snapshot),
                    begin(3, Serializable),
                    read(2, "x"),
                    read(3, "x"),
                    begin(4, ReadCommitted),
                    write(4, "x", 2),
                    write(4, "y", 2),
                    commit(4),
                    read(2, "x"),
                    read(3, "x"),
                    read(2, "y"),
                    read(3, "y"),
                    begin(5, Snapshot),
                    read(5, "y"),
                ],
            ]
            .concat(),
        ),
        (
            "two read-modify-writes of one key: read committed loses an update, snapshot and serializable refuse the \
             second commit (write_conflict)",
            lost_update,
        ),
        (
            "first committer wins, not first writer",
            [
                setup(1, &[("x", 100)]),
                vec![
                    begin(2, Snapshot),
                    begin(3, Snapshot),
                    write(3, "x", 130),
                    write(2, "x", 120),
                    commit(2),
                    commit(3),
                    begin(4, ReadCommitted),
                    read(4, "x"),
                ],
            ]
            .concat(),
        ),
        (
            "no false conflicts: a version committed before a transaction began, or another key, is no conflict",
            [
                setup(1, &[("x", 1)]),
                vec![
                    begin(2, Snapshot),
                    write(2, "x", 2),
                    commit(2),
                    begin(3, Snapshot),
                    begin(4, Serializable),
                    read(4, "x"),
                    write(3, "x", 3),
                    write(4, "x", 4),
                    commit(4),
                    commit(3),
                    begin(5, Serializable),
                    begin(6, Snapshot),
                    read(5, "x"),
                    write(6, "y", 6),
                    commit(6),
                    write(5, "z", 5),
                    commit(5),
                ],
            ]
            .concat(),
        ),
        (
            "write skew (two doctors on call): snapshot commits both, serializable refuses the second (serialization)",
            write_skew,
        ),
        (
            "serializable: a transaction that wrote nothing always commits; one that wrote, after reading a key \
             changed since it began, is refused",
            [
                setup(1, &[("x", 1), ("y", 1)]),
                vec![
                    begin(2, Serializable),
                    begin(3, Serializable),
                    read(2, "x"),
                    read(3, "x"),
                    begin(4, Snapshot),
                    write(4, "x", 2),
                    commit(4),
                    commit(2),
                    write(3, "y", 3),
                    commit(3),
                    begin(5, Serializable),
                    read(5, "y"),
                ],
            ]
            .concat(),
        ),
    ]
}

/// Grades `db4_mvcc_isolation`: the stories, the seeded interleavings, the transfers.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    for (name, ops) in stories() {
        g.scenario(name);
        Session::start(g)?.all(ops)?;
    }

    g.scenario(
        "300 seeded interleavings of 2 to 4 transactions at mixed levels, against the model",
    );
    let mut rng = g.rng().fork(1);
    let mut session = Session::start(g)?;
    interleavings(&mut session, &mut rng, 300)?;

    g.scenario(
        "concurrent transfers at snapshot and serializable keep the total of the accounts constant",
    );
    let mut rng = g.rng().fork(2);
    let mut session = Session::start(g)?;
    transfers(&mut session, &mut rng)
}

/// What one transaction of a round still has to send.
struct Plan {
    tx: u64,
    steps: Vec<Step>,
}

enum Step {
    Begin(Level),
    Read(String),
    /// Write the value last read for this key (0 if none) plus the delta: a read-modify-write.
    Add(String, i64),
    Write(String, i64),
    End {
        commit: bool,
    },
}

/// Plays `plans` interleaved at random, one step at a time.
fn interleave(session: &mut Session, rng: &mut Rng, mut plans: Vec<Plan>) -> Result<(), Failure> {
    for plan in &mut plans {
        plan.steps.reverse();
    }
    while !plans.is_empty() {
        let at = rng.below(plans.len() as u64) as usize;
        let tx = plans[at].tx;
        let step = plans[at]
            .steps
            .pop()
            .expect("a plan with no step is removed");
        if plans[at].steps.is_empty() {
            plans.swap_remove(at);
        }
        let op = match step {
            Step::Begin(level) => begin(tx, level),
            Step::Read(key) => read(tx, &key),
            Step::Write(key, value) => write(tx, &key, value),
            Step::Add(key, delta) => {
                let mut scratch = session.model.clone();
                let seen = scratch.read(tx, &key).flatten().unwrap_or(0);
                write(tx, &key, seen + delta)
            }
            Step::End { commit: true } => commit(tx),
            Step::End { commit: false } => abort(tx),
        };
        session.run(op)?;
    }
    Ok(())
}

fn interleavings(session: &mut Session, rng: &mut Rng, rounds: u64) -> Result<(), Failure> {
    let keys = ["a", "b", "c", "d"];
    let mut next_tx = 1;
    for _ in 0..rounds {
        let count = rng.range(2, 4);
        let mut plans = Vec::new();
        for _ in 0..count {
            let level = *rng.pick(&LEVELS);
            let mut steps = vec![Step::Begin(level)];
            for _ in 0..rng.range(1, 4) {
                let key = rng.pick(&keys).to_string();
                steps.push(match rng.below(10) {
                    0..4 => Step::Read(key),
                    4..7 => Step::Add(key, rng.range(1, 9) as i64),
                    _ => Step::Write(key, rng.below(1000) as i64),
                });
            }
            steps.push(Step::End {
                commit: !rng.chance(1, 8),
            });
            plans.push(Plan { tx: next_tx, steps });
            next_tx += 1;
        }
        interleave(session, rng, plans)?;
    }
    Ok(())
}

fn transfers(session: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let accounts = ["acct0", "acct1", "acct2", "acct3", "acct4"];
    let opening: Vec<(&str, i64)> = accounts.iter().map(|&a| (a, 100)).collect();
    session.all(setup(1, &opening))?;
    let mut next_tx = 2;
    for _ in 0..150 {
        let mut plans = Vec::new();
        for _ in 0..rng.range(2, 3) {
            let level = if rng.chance(1, 2) {
                Level::Snapshot
            } else {
                Level::Serializable
            };
            let from = rng.below(5) as usize;
            let to = (from + 1 + rng.below(4) as usize) % 5;
            let amount = rng.range(1, 20) as i64;
            let (from, to) = (accounts[from].to_string(), accounts[to].to_string());
            plans.push(Plan {
                tx: next_tx,
                steps: vec![
                    Step::Begin(level),
                    Step::Read(from.clone()),
                    Step::Read(to.clone()),
                    Step::Add(from, -amount),
                    Step::Add(to, amount),
                    Step::End { commit: true },
                ],
            });
            next_tx += 1;
        }
        interleave(session, rng, plans)?;
    }
    session.run(begin(next_tx, Level::Snapshot))?;
    let mut total = 0;
    for account in accounts {
        if let Reply::Value(value) = session.run(read(next_tx, account))? {
            total += value.unwrap_or(0);
        }
    }
    if total != 500 {
        return Err(Failure::new(
            "concurrent transfers at snapshot or serializable never create or destroy money",
        )
        .expected("a total of 500 over the 5 accounts")
        .got(format!("a total of {total}")));
    }
    Ok(())
}
