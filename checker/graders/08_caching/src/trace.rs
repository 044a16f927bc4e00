//! Running a list of requests against a program and a model, for the graders whose exercises answer one JSON
//! line per request (`cache1_lru`, `cache2_eviction_policies`).
//!
//! Long traces are pipelined (a chunk of requests, then their replies) because one round trip per request
//! would cost more than the cache itself. The framework's transcript pairs each reply with the latest open
//! request, which is only right one request at a time, so a mismatch found in a pipelined run is replayed on a
//! fresh program with its last few requests sent one at a time: the report then shows the real exchanges.

use backlings_grade::{Failure, Grading, Stdio};

/// Requests written before their replies are read in a pipelined run (a few KiB: far below a pipe buffer).
const CHUNK: usize = 256;
/// Requests sent one at a time before a replayed mismatch: the report shows the last 8 exchanges.
const LOCKSTEP_TAIL: usize = 8;

/// One request of an exercise's protocol, with the model that says what it must answer.
pub trait Request: Copy {
    /// The exercise's reference model.
    type Model: Clone;
    /// A parsed reply.
    type Reply: PartialEq;
    /// The request as the JSON line the grader sends.
    fn line(self) -> String;
    /// What the contract answers, according to `model`.
    fn apply(self, model: &mut Self::Model) -> Self::Reply;
    /// Parses the program's reply to this request, or says which shape the protocol wants.
    fn parse_reply(self, line: &str) -> Result<Self::Reply, Failure>;
}

/// The first request whose reply broke the contract, and that reply (or why there was none).
pub struct Mismatch<R> {
    pub index: usize,
    pub got: Result<R, Failure>,
}

/// Sends `ops` in order and checks every reply against a correct model: pipelined in chunks before
/// `lockstep_from`, one request at a time from there on. `start` is the model before the first op.
pub fn run<O: Request>(
    program: &mut Stdio,
    start: &O::Model,
    ops: &[O],
    lockstep_from: usize,
) -> Result<(), Mismatch<O::Reply>> {
    let mut model = start.clone();
    let mut begin = 0;
    while begin < ops.len() {
        let end = if begin >= lockstep_from {
            begin + 1
        } else {
            (begin + CHUNK).min(lockstep_from).min(ops.len())
        };
        let mut sent = begin;
        let mut send_error = None;
        for op in &ops[begin..end] {
            // A program that died stops reading: collect the replies it did give, then report where it stopped.
            if let Err(failure) = program.send_line(&op.line()) {
                send_error = Some(failure);
                break;
            }
            sent += 1;
        }
        for (index, &op) in ops.iter().enumerate().take(sent).skip(begin) {
            let got = program.recv_line().and_then(|line| op.parse_reply(&line));
            let expected = op.apply(&mut model);
            match got {
                Ok(reply) if reply == expected => {}
                got => return Err(Mismatch { index, got }),
            }
        }
        if let Some(failure) = send_error {
            return Err(Mismatch {
                index: sent,
                got: Err(failure),
            });
        }
        begin = end;
    }
    Ok(())
}

/// Runs `ops` on a fresh program, pipelined. On a mismatch, replays them on another fresh program with the
/// last few requests sent one at a time, and turns the mismatch the replay hit into a failure with `explain`.
pub fn check<O: Request>(
    g: &mut Grading,
    start: &O::Model,
    ops: &[O],
    explain: impl Fn(Mismatch<O::Reply>) -> Failure,
) -> Result<(), Failure> {
    let first = {
        let mut program = g.stdio()?;
        match run(&mut program, start, ops, usize::MAX) {
            Ok(()) => return Ok(()),
            Err(mismatch) => mismatch,
        }
    };
    let from = first.index.saturating_sub(LOCKSTEP_TAIL - 1);
    let mut program = g.stdio()?;
    Err(match run(&mut program, start, ops, from) {
        Err(replayed) if replayed.index >= from => explain(replayed),
        Err(replayed) => explain(replayed).detail(
            "(on a second run of the same requests the program went wrong earlier than the first time: its answers \
             depend on more than the requests, e.g. HashMap iteration order)",
        ),
        Ok(()) => explain(first).detail(
            "(on a second run of the same requests the program answered them all correctly: its answers depend on \
             more than the requests, e.g. HashMap iteration order, so the exchanges above are from that second run)",
        ),
    })
}
