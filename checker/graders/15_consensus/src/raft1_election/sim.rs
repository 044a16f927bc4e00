//! One simulated cluster of `raft1_election`: the program's nodes behind the grader's network and model.

use backlings_grade::{Failure, Rng, Stdio};
use serde_json::{Value, json};

use super::ELECTION_BOUND;
use super::model::{Model, TIMEOUT_MAX};
use super::wire::{ClusterReply, Event, LogPosition, Message, Role, StepReply};
use crate::netsim::Network;

/// One simulated cluster: the program's nodes, the grader's network and model.
pub(super) struct Sim<'p> {
    pub(super) program: &'p mut Stdio,
    pub(super) net: Network<Message>,
    pub(super) model: Model,
}

impl<'p> Sim<'p> {
    /// Starts a fresh cluster of 3 or 5 nodes with seeded logs.
    pub(super) fn start(
        program: &'p mut Stdio,
        mut rng: Rng,
        scenario: &str,
        k: u64,
    ) -> Result<Self, Failure> {
        let size = cluster_size(k);
        let logs: Vec<LogPosition> = (0..size).map(|_| random_log(&mut rng, 0)).collect();
        Sim::start_with(program, rng, scenario, k, logs)
    }

    pub(super) fn start_with(
        program: &'p mut Stdio,
        mut rng: Rng,
        scenario: &str,
        k: u64,
        logs: Vec<LogPosition>,
    ) -> Result<Self, Failure> {
        let seed = rng.next_u64() >> 11;
        let context = format!(
            "cluster {} of the \"{scenario}\" scenario: {} nodes, node seed {seed}",
            k + 1,
            logs.len()
        );
        let model = Model::new(&logs, context);
        let request = json!({"op": "init", "seed": seed, "logs": logs});
        let reply = program.request(&request)?;
        let nodes = serde_json::from_value::<ClusterReply>(reply.clone())
            .map_err(|e| {
                let shape =
                    "the answer to init is {\"nodes\":[{node, role, term, voted_for}, ...]}";
                protocol_error(shape, &reply.to_string(), e)
            })?
            .nodes;
        let expected: Vec<Value> = logs
            .iter()
            .enumerate()
            .map(|(i, log)| json!({"node": i, "role": "follower", "term": log.last_term, "voted_for": null}))
            .collect();
        let got: Vec<Value> = nodes
            .iter()
            .map(|n| json!({"node": n.node, "role": n.role, "term": n.term, "voted_for": n.voted_for}))
            .collect();
        if got != expected {
            let rule =
                "a new node is a follower in the term of its log's last entry, and has not voted";
            return Err(model
                .fail(rule)
                .expected(Value::from(expected))
                .got(Value::from(got)));
        }
        let net = Network::new(logs.len(), rng);
        Ok(Sim {
            program,
            net,
            model,
        })
    }

    pub(super) fn size(&self) -> usize {
        self.model.size()
    }

    /// The election timeouts this cluster measured.
    pub(super) fn finish(self) -> Vec<u64> {
        self.model.observed_timeouts
    }

    pub(super) fn all(&self) -> Vec<usize> {
        (0..self.size()).collect()
    }

    /// Sends the events in one batch, then checks each answer in order; the messages sent go on the wire.
    pub(super) fn run(&mut self, events: Vec<Event>) -> Result<(), Failure> {
        for messages in self.apply(events)? {
            for msg in messages {
                self.net.send(msg);
            }
        }
        Ok(())
    }

    /// Like [`Sim::run`], but hands the messages sent back to the caller instead of the network.
    pub(super) fn apply(&mut self, events: Vec<Event>) -> Result<Vec<Vec<Message>>, Failure> {
        let mut sent = Vec::with_capacity(events.len());
        for event in &events {
            self.program.send_line(&event.request_line())?;
            let reply = self.program.recv_line()?;
            let step = serde_json::from_str::<StepReply>(&reply).map_err(|e| {
                let shape = "the answer to tick and deliver is {\"node\", \"role\", \"term\", \"voted_for\", \"out\": [messages]}";
                protocol_error(shape, &reply, e).detail(format!("the request was: {}", event.summary()))
            })?;
            sent.push(self.model.apply(self.net.round(), event, step)?);
        }
        Ok(sent)
    }

    /// One round: every node ticks once (seeded order), then every message due is delivered.
    pub(super) fn round(&mut self) -> Result<(), Failure> {
        self.net.advance();
        let mut order = self.all();
        self.net.rng().shuffle(&mut order);
        self.run(order.into_iter().map(Event::Tick).collect())?;
        // Messages sent with no delay arrive in the same round; a few passes let a quick election complete.
        for _ in 0..4 {
            let due = self.net.take_due();
            if due.is_empty() {
                break;
            }
            self.run(due.into_iter().map(Event::Deliver).collect())?;
        }
        Ok(())
    }

    /// Runs rounds until `done` holds, failing with `rule` after `bound` rounds.
    pub(super) fn until(
        &mut self,
        bound: u64,
        rule: &str,
        done: impl Fn(&Model) -> bool,
    ) -> Result<(), Failure> {
        for _ in 0..bound {
            if done(&self.model) {
                return Ok(());
            }
            self.round()?;
        }
        if done(&self.model) {
            return Ok(());
        }
        Err(self
            .model
            .fail(format!("{rule}, but after {bound} more ticks it has not")))
    }

    /// Runs healthy rounds until every node agrees on one leader; returns it.
    pub(super) fn elect(&mut self, why: &str) -> Result<usize, Failure> {
        let all = self.all();
        let rule = format!(
            "{why}, the whole cluster agrees on one leader (a leader, and every node in its term, having \
             accepted its heartbeat) within {ELECTION_BOUND} ticks"
        );
        self.until(ELECTION_BOUND, &rule, |m| m.settled_leader(&all).is_some())?;
        Ok(self.model.settled_leader(&all).unwrap_or_default())
    }
}

/// The `k`-th cluster of a scenario has 5 nodes when `k` is even, 3 when odd.
pub(super) fn cluster_size(k: u64) -> usize {
    if k.is_multiple_of(2) { 5 } else { 3 }
}

/// A random log; its last term is at least `min_term`.
pub(super) fn random_log(rng: &mut Rng, min_term: u64) -> LogPosition {
    let last_term = rng.range(min_term, 3.max(min_term));
    let last_index = if last_term == 0 {
        0
    } else {
        last_term + rng.below(4)
    };
    LogPosition {
        last_index,
        last_term,
    }
}

fn protocol_error(shape: &str, reply: &str, error: serde_json::Error) -> Failure {
    Failure::new(shape.to_string())
        .got(reply)
        .detail(format!("JSON error: {error}"))
}

impl Sim<'_> {
    /// Delivers one made-up message (the answer is checked, and not sent on).
    pub(super) fn deliver(&mut self, msg: Message) -> Result<(), Failure> {
        self.net.advance();
        self.apply(vec![Event::Deliver(msg)])?;
        Ok(())
    }

    /// Ticks node 0 until it starts an election; returns the election's term.
    pub(super) fn tick_until_candidate(&mut self) -> Result<u64, Failure> {
        for _ in 0..TIMEOUT_MAX {
            self.net.advance();
            self.apply(vec![Event::Tick(0)])?;
            let state = self.model.state(0);
            if state.role == Role::Candidate {
                return Ok(state.term);
            }
        }
        Err(self.model.fail(format!(
            "a follower starts an election within {TIMEOUT_MAX} ticks"
        )))
    }
}
