//! Grader of `db5_lock_manager`: S/X row locks with FIFO queues, deadlock detection, and a version column.
//!
//! 1. Stories on a fresh program, one rule each: sharing, FIFO (no barging), several grants on one release,
//!    upgrades, deadlocks of two and three, a conversion deadlock, a cycle through a queue, a released waiter,
//!    and the optimistic path (a stale version is refused).
//! 2. 2 000 seeded requests from up to 5 concurrent transactions over 5 rows, every event list against the
//!    model.
//!
//! Every expected reply comes from [`model::Model`]; a wrong one is explained with the lock table and the
//! wait-for graph before the request.

mod model;

use std::collections::BTreeMap;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::Value;

use model::{Event, Mode, Model};

/// One request of the protocol.
#[derive(Debug, Clone)]
enum Op {
    Begin {
        tx: u64,
    },
    Lock {
        tx: u64,
        row: String,
        mode: Mode,
    },
    Release {
        tx: u64,
    },
    ReadRow {
        row: String,
    },
    UpdateRow {
        row: String,
        expected_version: u64,
        value: i64,
    },
}

/// A reply, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Ok,
    Events(Vec<Event>),
    Row { value: Option<i64>, version: u64 },
    Updated { updated: bool, version: u64 },
    Error,
}

impl Op {
    fn line(&self) -> String {
        match self {
            Op::Begin { tx } => format!(r#"{{"op":"begin","tx":{tx}}}"#),
            Op::Lock { tx, row, mode } => {
                format!(r#"{{"op":"lock","tx":{tx},"row":"{row}","mode":"{mode}"}}"#)
            }
            Op::Release { tx } => format!(r#"{{"op":"release","tx":{tx}}}"#),
            Op::ReadRow { row } => format!(r#"{{"op":"read_row","row":"{row}"}}"#),
            Op::UpdateRow {
                row,
                expected_version,
                value,
            } => format!(
                r#"{{"op":"update_row","row":"{row}","expected_version":{expected_version},"value":{value}}}"#
            ),
        }
    }

    fn parse_reply(&self, line: &str) -> Result<Reply, Failure> {
        let reply: Option<Value> = serde_json::from_str(line).ok();
        let parsed = reply.as_ref().and_then(|reply| {
            if reply.get("error").is_some_and(Value::is_string) {
                return Some(Reply::Error);
            }
            match self {
                Op::Begin { .. } => (reply.get("ok")? == &Value::Bool(true)).then_some(Reply::Ok),
                Op::Lock { .. } | Op::Release { .. } => reply
                    .get("events")?
                    .as_array()?
                    .iter()
                    .map(parse_event)
                    .collect::<Option<Vec<_>>>()
                    .map(Reply::Events),
                Op::ReadRow { .. } => Some(Reply::Row {
                    value: match reply.get("value")? {
                        Value::Null => None,
                        value => Some(value.as_i64()?),
                    },
                    version: reply.get("version")?.as_u64()?,
                }),
                Op::UpdateRow { .. } => Some(Reply::Updated {
                    updated: reply.get("updated")?.as_bool()?,
                    version: reply.get("version")?.as_u64()?,
                }),
            }
        });
        parsed.ok_or_else(|| {
            let shape = match self {
                Op::Begin { .. } => r#"{"ok":true}"#,
                Op::Lock { .. } | Op::Release { .. } => {
                    r#"{"events":[{"event":"granted"|"waiting","tx":N,"row":"R"} or {"event":"aborted","tx":N}, …]}"#
                }
                Op::ReadRow { .. } => r#"{"value":N or null,"version":N}"#,
                Op::UpdateRow { .. } => r#"{"updated":true|false,"version":N}"#,
            };
            Failure::new("the reply does not have the shape the protocol gives")
                .expected(shape)
                .got(line)
                .detail(format!("sent: {}", self.line()))
                .detail("the provided `main` writes these replies: if you changed it, compare it with the original")
        })
    }
}

fn parse_event(event: &Value) -> Option<Event> {
    let tx = event.get("tx")?.as_u64()?;
    let row = || event.get("row").and_then(Value::as_str).map(str::to_string);
    match event.get("event")?.as_str()? {
        "granted" => Some(Event::Granted { tx, row: row()? }),
        "waiting" => Some(Event::Waiting { tx, row: row()? }),
        "aborted" => Some(Event::Aborted { tx }),
        _ => None,
    }
}

fn show(reply: &Reply) -> String {
    match reply {
        Reply::Ok => r#"{"ok":true}"#.into(),
        Reply::Events(events) => {
            let list: Vec<String> = events.iter().map(Event::to_string).collect();
            format!(r#"{{"events":[{}]}}"#, list.join(","))
        }
        Reply::Row { value, version } => match value {
            Some(value) => format!(r#"{{"value":{value},"version":{version}}}"#),
            None => format!(r#"{{"value":null,"version":{version}}}"#),
        },
        Reply::Updated { updated, version } => {
            format!(r#"{{"updated":{updated},"version":{version}}}"#)
        }
        Reply::Error => r#"{"error":"…"}"#.into(),
    }
}

/// The program, the reference lock manager and the reference version-column store, in step.
struct Session {
    program: Stdio,
    model: Model,
    rows: BTreeMap<String, (i64, u64)>,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        Ok(Session {
            program: g.stdio()?,
            model: Model::default(),
            rows: BTreeMap::new(),
        })
    }

    fn expected(&mut self, op: &Op) -> Reply {
        let events = |events: Option<Vec<Event>>| events.map_or(Reply::Error, Reply::Events);
        match op {
            Op::Begin { tx } => {
                self.model.begin(*tx);
                Reply::Ok
            }
            Op::Lock { tx, row, mode } => events(self.model.lock(*tx, row, *mode)),
            Op::Release { tx } => events(self.model.release(*tx)),
            Op::ReadRow { row } => {
                let (value, version) = self
                    .rows
                    .get(row)
                    .copied()
                    .map_or((None, 0), |(v, n)| (Some(v), n));
                Reply::Row { value, version }
            }
            Op::UpdateRow {
                row,
                expected_version,
                value,
            } => {
                let current = self.rows.get(row).map_or(0, |&(_, version)| version);
                if current == *expected_version {
                    self.rows.insert(row.clone(), (*value, current + 1));
                    Reply::Updated {
                        updated: true,
                        version: current + 1,
                    }
                } else {
                    Reply::Updated {
                        updated: false,
                        version: current,
                    }
                }
            }
        }
    }

    /// Sends `op`, checks the reply against the models, and returns it.
    fn run(&mut self, op: Op) -> Result<Reply, Failure> {
        let before = self.model.clone();
        self.program.send_line(&op.line())?;
        let line = self.program.recv_line()?;
        let got = op.parse_reply(&line)?;
        let expected = self.expected(&op);
        if got != expected {
            return Err(explain(&before, &op, &expected, &got));
        }
        Ok(got)
    }

    fn all(&mut self, ops: Vec<Op>) -> Result<(), Failure> {
        ops.into_iter().try_for_each(|op| self.run(op).map(drop))
    }
}

/// The rule a wrong reply breaks, in plain words, with the lock table and the wait-for graph before it.
fn explain(before: &Model, op: &Op, expected: &Reply, got: &Reply) -> Failure {
    let rule = match (op, expected, got) {
        (_, Reply::Error, _) => {
            "the transaction is not running (never begun, released, or aborted as a deadlock \
                                 victim), or already waits: the reply is an error"
                .to_string()
        }
        (_, _, Reply::Error) => "the request is valid: it must not answer an error".to_string(),
        (
            Op::UpdateRow {
                row,
                expected_version,
                ..
            },
            Reply::Updated {
                updated: false,
                version,
            },
            _,
        ) => format!(
            "stale version: the update expected {row} at version {expected_version}, but it is at version {version}: \
             someone wrote it since it was read, so the update is refused (0 rows matched) and reports the current \
             version"
        ),
        (Op::UpdateRow { row, .. }, ..) => {
            format!(
                "an update with the current version of {row} is applied and bumps the version by one"
            )
        }
        (Op::ReadRow { row }, ..) => format!("read_row returns the value and version of {row}"),
        (Op::Lock { tx, row, mode }, Reply::Events(want), Reply::Events(have)) => {
            explain_lock(before, *tx, row, *mode, want, have)
        }
        (Op::Release { tx }, Reply::Events(want), Reply::Events(have)) => {
            let grants = |events: &[Event]| {
                events
                    .iter()
                    .filter(|e| matches!(e, Event::Granted { .. }))
                    .count()
            };
            if grants(have) < grants(want) {
                format!(
                    "a release grants, row by row, every request at the front of the queue that is now compatible: \
                     several S requests can go at once (T{tx} released)"
                )
            } else {
                format!(
                    "a release of T{tx} grants only requests at the front of a queue that are compatible with the \
                     remaining holders, row by row in ascending order"
                )
            }
        }
        _ => format!("the reply to `{}` follows the protocol", op.line()),
    };
    Failure::new(rule)
        .expected(show(expected))
        .got(show(got))
        .detail(format!("sent: {}", op.line()))
        .detail(format!("lock table before: {}", before.describe()))
        .detail(format!("waits before: {}", before.describe_edges()))
}

fn explain_lock(
    before: &Model,
    tx: u64,
    row: &str,
    mode: Mode,
    want: &[Event],
    have: &[Event],
) -> String {
    let lock = before.rows.get(row).cloned().unwrap_or_default();
    let is_upgrade = lock.holders.contains_key(&tx);
    match (want.first(), have.first()) {
        (Some(Event::Waiting { .. }), Some(Event::Granted { .. })) => {
            if lock.compatible(tx, mode) && !is_upgrade {
                let waiters: Vec<String> = lock
                    .queue
                    .iter()
                    .map(|(t, m)| format!("T{t} ({m})"))
                    .collect();
                format!(
                    "jumped the queue: T{tx} asked for {mode} on {row}, compatible with the holders, but {} already \
                     wait(s) for it: a new request waits behind earlier waiters (FIFO), or a stream of readers \
                     starves the writer",
                    waiters.join(", ")
                )
            } else {
                format!(
                    "T{tx} asked for {mode} on {row}, which another transaction holds in a conflicting mode: it waits"
                )
            }
        }
        (Some(Event::Granted { .. }), _) => format!(
            "T{tx}'s request for {mode} on {row} is granted at once: it already holds it (X covers S), or it is an \
             upgrade no other holder blocks, or it is compatible with every holder and nobody waits"
        ),
        _ => {
            let mut closed = before.clone();
            let _ = closed.lock_then(tx, row, mode, false);
            let members = closed.cycle_members();
            let want_victim = want.iter().find_map(|e| match e {
                Event::Aborted { tx } => Some(*tx),
                _ => None,
            });
            let got_victim = have.iter().find_map(|e| match e {
                Event::Aborted { tx } => Some(*tx),
                _ => None,
            });
            let on_cycle: Vec<String> = members.iter().map(|t| format!("T{t}")).collect();
            match (want_victim, got_victim) {
                (Some(victim), Some(other)) if victim != other => format!(
                    "the deadlock victim is the youngest transaction on a cycle (begun last): T{victim}, not T{other} \
                     (on a cycle, oldest first: {})",
                    on_cycle.join(", ")
                ),
                (Some(victim), None) => format!(
                    "a deadlock went undetected: after T{tx} waits for {row}, the wait-for graph ({}) has a cycle \
                     through {}; the youngest on it, T{victim}, is aborted",
                    closed.describe_edges(),
                    on_cycle.join(", ")
                ),
                (None, Some(other)) => format!(
                    "no deadlock: after T{tx} waits for {row}, the wait-for graph ({}) has no cycle, yet T{other} was \
                     aborted",
                    closed.describe_edges()
                ),
                _ => format!(
                    "after a deadlock victim is aborted, its locks are released and the requests they blocked are \
                     granted, in order (the victims were: {})",
                    on_cycle.join(", ")
                ),
            }
        }
    }
}

fn begin(tx: u64) -> Op {
    Op::Begin { tx }
}

fn lock(tx: u64, row: &str, mode: Mode) -> Op {
    Op::Lock {
        tx,
        row: row.into(),
        mode,
    }
}

fn release(tx: u64) -> Op {
    Op::Release { tx }
}

fn read_row(row: &str) -> Op {
    Op::ReadRow { row: row.into() }
}

fn update(row: &str, expected_version: u64, value: i64) -> Op {
    Op::UpdateRow {
        row: row.into(),
        expected_version,
        value,
    }
}

fn begin_all(count: u64) -> Vec<Op> {
    (1..=count).map(begin).collect()
}

/// The stories, in teaching order, each on a fresh program.
fn stories() -> Vec<(&'static str, Vec<Op>)> {
    use Mode::{S, X};
    vec![
        (
            "shared locks share; an exclusive request waits for every holder",
            [
                begin_all(3),
                vec![
                    lock(1, "a", S),
                    lock(2, "a", S),
                    lock(1, "a", S),
                    lock(3, "a", X),
                    release(1),
                    release(2),
                    lock(3, "a", X),
                    lock(3, "a", S),
                    release(3),
                ],
            ]
            .concat(),
        ),
        (
            "the queue is FIFO: a shared request waits behind an exclusive one, and one release grants every shared \
             request at the front",
            [
                begin_all(5),
                vec![
                    lock(1, "a", S),
                    lock(2, "a", X),
                    lock(3, "a", S),
                    lock(4, "a", S),
                    release(1),
                    lock(5, "a", S),
                    release(2),
                    release(3),
                ],
            ]
            .concat(),
        ),
        (
            "the sole holder of a shared lock upgrades to exclusive at once, ahead of the queue",
            [
                begin_all(3),
                vec![
                    lock(1, "a", S),
                    lock(2, "a", X),
                    lock(1, "a", X),
                    lock(1, "a", S),
                    lock(3, "b", S),
                    release(1),
                ],
            ]
            .concat(),
        ),
        (
            "a released waiter leaves the queue, and whoever stood behind it may go",
            [
                begin_all(3),
                vec![
                    lock(1, "a", S),
                    lock(2, "a", X),
                    lock(3, "a", S),
                    release(2),
                    release(3),
                ],
            ]
            .concat(),
        ),
        (
            "a deadlock of two: the youngest is aborted, even when the older one closes the cycle",
            [
                begin_all(3),
                vec![
                    lock(1, "a", X),
                    lock(2, "b", X),
                    lock(2, "a", X),
                    lock(1, "b", X),
                    lock(2, "c", S),
                    lock(3, "b", S),
                    release(1),
                ],
            ]
            .concat(),
        ),
        (
            "a deadlock of three transactions",
            [
                begin_all(3),
                vec![
                    lock(1, "a", X),
                    lock(2, "b", X),
                    lock(3, "c", X),
                    lock(1, "b", X),
                    lock(2, "c", X),
                    lock(3, "a", X),
                ],
            ]
            .concat(),
        ),
        (
            "a conversion deadlock: two holders of a shared lock both ask for exclusive",
            [
                begin_all(2),
                vec![
                    lock(1, "a", S),
                    lock(2, "a", S),
                    lock(1, "a", X),
                    lock(2, "a", X),
                ],
            ]
            .concat(),
        ),
        (
            "a cycle through a queue: waiting behind a waiter is waiting for it",
            [
                begin_all(3),
                vec![
                    lock(3, "b", X),
                    lock(1, "a", S),
                    lock(2, "a", X),
                    lock(3, "a", S),
                    lock(1, "b", X),
                ],
            ]
            .concat(),
        ),
        (
            "optimistic locking: an update with a stale version is refused and reports the current version",
            vec![
                read_row("r"),
                update("r", 0, 10),
                read_row("r"),
                update("r", 1, 20),
                update("r", 1, 30),
                read_row("r"),
                update("r", 2, 30),
                update("q", 1, 5),
                read_row("q"),
            ],
        ),
    ]
}

/// Grades `db5_lock_manager`: the stories, then the seeded run.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    for (name, ops) in stories() {
        g.scenario(name);
        Session::start(g)?.all(ops)?;
    }
    g.scenario("2 000 seeded lock requests and releases from up to 5 concurrent transactions, against the model");
    let mut rng = g.rng().fork(1);
    let mut session = Session::start(g)?;
    seeded(&mut session, &mut rng, 2_000)
}

fn seeded(session: &mut Session, rng: &mut Rng, steps: usize) -> Result<(), Failure> {
    let rows = ["a", "b", "c", "d", "e"];
    let mut next_tx = 1;
    let mut versions: Vec<u64> = vec![0; 3];
    for _ in 0..steps {
        let running: Vec<u64> = session.model.begun.keys().copied().collect();
        let free: Vec<u64> = running
            .iter()
            .copied()
            .filter(|tx| !session.model.waiting.contains_key(tx))
            .collect();
        let op = if running.len() < 2 || (running.len() < 5 && rng.chance(1, 6)) {
            next_tx += 1;
            begin(next_tx)
        } else if rng.chance(1, 20) {
            let row = rng.below(3) as usize;
            // Mostly the version last seen, sometimes a stale one.
            let expected = if rng.chance(2, 3) {
                versions[row]
            } else {
                versions[row].saturating_sub(1)
            };
            let op = update(["p", "q", "r"][row], expected, rng.below(100) as i64);
            if let Reply::Updated { version, .. } = session.run(op)? {
                versions[row] = version;
            }
            continue;
        } else if free.is_empty() || rng.chance(1, 5) {
            release(*rng.pick(&running))
        } else {
            let mode = if rng.chance(1, 2) { Mode::S } else { Mode::X };
            let tx = *rng.pick(&free);
            lock(tx, rows[rng.below(5) as usize], mode)
        };
        session.run(op)?;
    }
    Ok(())
}
