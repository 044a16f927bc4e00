//! The grader's model of a Raft cluster: after every tick and every delivery it checks the node's answer
//! against the election rules (exact vote decisions, term adoption, timer bounds, heartbeats) and the safety
//! invariants (at most one leader per term, at most one vote per node per term, terms never decrease).

mod delivery;
mod timer;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use backlings_grade::Failure;

use super::wire::{Body, Event, LogPosition, Message, Role, State, StepReply};
use crate::netsim::Trace;

/// The shortest election timeout the contract allows, in ticks.
pub const TIMEOUT_MIN: u64 = 10;
/// The longest election timeout the contract allows, in ticks.
pub const TIMEOUT_MAX: u64 = 20;
/// A leader sends heartbeats on every this-many-th tick.
pub const HEARTBEAT_INTERVAL: u64 = 3;
/// This many identical timeouts in a row from one node means it does not draw them at random
/// (a random draw repeats 6 times in a row with probability 11^-6).
pub const SAME_TIMEOUT_IN_A_ROW: usize = 7;

struct NodeModel {
    log: LogPosition,
    state: State,
    /// Distinct voters whose granted reply reached this candidate in its current term, itself included.
    votes: BTreeSet<usize>,
    /// Ticks since the last event that must reset the election timer (election start, vote granted,
    /// heartbeat accepted): an election earlier than `TIMEOUT_MIN` after it is too early.
    since_reset: u64,
    reset_reason: String,
    /// Ticks since the last event that may reset the timer (any of the above, or a leader stepping down):
    /// no election `TIMEOUT_MAX` ticks after it is too late.
    since_any_reset: u64,
    any_reset_reason: String,
    /// The leader and term of the last heartbeat this node accepted.
    heard_from: Option<(usize, u64)>,
    /// For a leader: ticks since it last sent a heartbeat to each node.
    since_heartbeat: Vec<u64>,
    /// The exactly measured timeouts of this node's most recent elections.
    recent_timeouts: Vec<u64>,
}

impl NodeModel {
    /// An event that resets the election timer happened.
    fn timer_reset(&mut self, reason: String) {
        self.since_reset = 0;
        self.since_any_reset = 0;
        self.any_reset_reason.clone_from(&reason);
        self.reset_reason = reason;
    }
}

/// One simulated cluster, as the grader believes it must be.
pub struct Model {
    nodes: Vec<NodeModel>,
    leaders: BTreeMap<u64, usize>,
    votes_cast: BTreeMap<(usize, u64), usize>,
    /// Every exactly measured election timeout, for the randomness check across clusters.
    pub observed_timeouts: Vec<u64>,
    /// The last events, shown with every failure.
    pub trace: Trace<Step>,
    context: String,
}

impl Model {
    /// A fresh cluster of followers, one per log; `context` names the cluster in reports.
    pub fn new(logs: &[LogPosition], context: String) -> Self {
        let size = logs.len();
        let nodes = logs
            .iter()
            .map(|&log| NodeModel {
                log,
                state: State {
                    role: Role::Follower,
                    term: log.last_term,
                    voted_for: None,
                },
                votes: BTreeSet::new(),
                since_reset: 0,
                reset_reason: "the cluster started".to_string(),
                since_any_reset: 0,
                any_reset_reason: "the cluster started".to_string(),
                heard_from: None,
                since_heartbeat: vec![0; size],
                recent_timeouts: Vec::new(),
            })
            .collect();
        Model {
            nodes,
            leaders: BTreeMap::new(),
            votes_cast: BTreeMap::new(),
            observed_timeouts: Vec::new(),
            trace: Trace::default(),
            context,
        }
    }

    /// How many nodes the cluster has.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// A node's state as last reported (and checked).
    pub fn state(&self, node: usize) -> State {
        self.nodes[node].state
    }

    /// A node's log.
    pub fn log(&self, node: usize) -> LogPosition {
        self.nodes[node].log
    }

    /// The leader every node of `members` agrees on: it leads, and every member is in its term.
    pub fn agreed_leader(&self, members: &[usize]) -> Option<usize> {
        let leader = members
            .iter()
            .copied()
            .find(|&m| self.nodes[m].state.role == Role::Leader)?;
        let term = self.nodes[leader].state.term;
        members
            .iter()
            .all(|&m| self.nodes[m].state.term == term)
            .then_some(leader)
    }

    /// The agreed leader of `members`, once every other member has accepted a heartbeat from it in its term
    /// (from then on, with a healthy network, no member's election timer can expire).
    pub fn settled_leader(&self, members: &[usize]) -> Option<usize> {
        let leader = self.agreed_leader(members)?;
        let term = self.nodes[leader].state.term;
        let heard = |m: usize| m == leader || self.nodes[m].heard_from == Some((leader, term));
        members.iter().all(|&m| heard(m)).then_some(leader)
    }

    /// A leader among `members` whose term is above `term`.
    pub fn leader_above(&self, members: &[usize], term: u64) -> Option<usize> {
        members.iter().copied().find(|&m| {
            let state = self.nodes[m].state;
            state.role == Role::Leader && state.term > term
        })
    }

    /// Every node's state, one line each, for reports.
    pub fn describe_nodes(&self) -> String {
        let states: Vec<String> = (0..self.size())
            .map(|i| format!("n{i}: {} ({})", self.nodes[i].state, self.nodes[i].log))
            .collect();
        states.join("; ")
    }

    /// A failure whose report ends with the cluster and the last events.
    pub fn fail(&self, rule: impl Into<String>) -> Failure {
        let mut failure = Failure::new(rule)
            .detail(self.context.clone())
            .detail(format!("nodes now: {}", self.describe_nodes()))
            .detail("the last events (r = round, n = node, t = term, i = log index):");
        for line in self.trace.lines() {
            failure = failure.detail(format!("  {line}"));
        }
        failure
    }

    /// Checks a node's answer to one event; returns the messages it sent, for the network.
    pub fn apply(
        &mut self,
        round: u64,
        event: &Event,
        reply: StepReply,
    ) -> Result<Vec<Message>, Failure> {
        let id = event.node();
        let before = self.nodes[id].state;
        let after = State {
            role: reply.role,
            term: reply.term,
            voted_for: reply.voted_for,
        };
        if matches!(event, Event::Tick(_)) && after == before && reply.out.is_empty() {
            self.trace.push_quiet(round);
        } else {
            self.trace.push(Step {
                round,
                event: event.clone(),
                before,
                after,
                out: reply.out.clone(),
            });
        }
        self.check_shape(id, &reply)?;
        self.check_invariants(id, before, after, &reply.out)?;
        match event {
            Event::Tick(_) => self.check_tick(id, before, after, &reply.out)?,
            Event::Deliver(msg) => self.check_delivery(msg, before, after, &reply.out)?,
        }
        let node = &mut self.nodes[id];
        if before.role == Role::Leader && after.role != Role::Leader {
            node.since_any_reset = 0;
            node.any_reset_reason = format!("it stepped down as leader of term {}", before.term);
        }
        if after.role == Role::Leader && before.role != Role::Leader {
            node.since_heartbeat.iter_mut().for_each(|t| *t = 0);
        }
        if after.role != Role::Candidate {
            node.votes.clear();
        }
        node.state = after;
        Ok(reply.out)
    }

    fn check_shape(&self, id: usize, reply: &StepReply) -> Result<(), Failure> {
        if reply.node != id {
            return Err(self
                .fail("the answer names the node the request was for")
                .expected(id)
                .got(reply.node));
        }
        for msg in &reply.out {
            if msg.from != id || msg.to >= self.size() || msg.to == id {
                let rule = format!(
                    "node n{id} sends messages from itself (\"from\": {id}) to another node of the cluster (0..{})",
                    self.size()
                );
                return Err(self.fail(rule).got(msg.to_json()));
            }
            if msg.term != reply.term {
                let rule = format!(
                    "every message carries its sender's current term (n{id} is in term {})",
                    reply.term
                );
                return Err(self.fail(rule).got(msg.to_json()));
            }
        }
        Ok(())
    }

    fn check_invariants(
        &mut self,
        id: usize,
        before: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        if after.term < before.term {
            let rule = format!(
                "terms never decrease: node n{id} was in term {} and is now in term {}",
                before.term, after.term
            );
            return Err(self.fail(rule));
        }
        if after.term == before.term
            && before.voted_for.is_some()
            && after.voted_for != before.voted_for
        {
            let now = after
                .voted_for
                .map_or("no vote".to_string(), |v| format!("a vote for n{v}"));
            let rule = format!(
                "at most one vote per node per term, and a node remembers its vote: n{id} had voted for n{} in \
                 term {}, and now reports {now} in the same term",
                before.voted_for.unwrap_or_default(),
                after.term
            );
            return Err(self.fail(rule));
        }
        for msg in out {
            if msg.body == (Body::RequestVoteReply { granted: true }) {
                self.record_vote(id, msg.term, msg.to)?;
            }
        }
        if let Some(candidate) = after.voted_for {
            self.record_vote(id, after.term, candidate)?;
        }
        if after.role == Role::Leader {
            match self.leaders.get(&after.term) {
                Some(&other) if other != id => {
                    let rule = format!(
                        "at most one leader per term: n{other} became leader of term {term}, and now n{id} is \
                         leader of term {term} too",
                        term = after.term
                    );
                    return Err(self.fail(rule));
                }
                _ => {
                    self.leaders.insert(after.term, id);
                }
            }
        }
        Ok(())
    }

    fn record_vote(&mut self, voter: usize, term: u64, candidate: usize) -> Result<(), Failure> {
        match self.votes_cast.get(&(voter, term)) {
            Some(&earlier) if earlier != candidate => {
                let rule = format!(
                    "at most one vote per node per term: n{voter} voted for n{earlier} in term {term}, and now \
                     for n{candidate} in the same term"
                );
                Err(self.fail(rule))
            }
            _ => {
                self.votes_cast.insert((voter, term), candidate);
                Ok(())
            }
        }
    }

    fn expect_state(
        &self,
        id: usize,
        expected: State,
        after: State,
        rule: &str,
    ) -> Result<(), Failure> {
        if after == expected {
            return Ok(());
        }
        Err(self
            .fail(format!("{rule} (node n{id})"))
            .expected(expected)
            .got(after))
    }

    fn expect_out(&self, out: &[Message], expected: &[Message], rule: &str) -> Result<(), Failure> {
        if sorted_by_receiver(out) == sorted_by_receiver(expected) {
            return Ok(());
        }
        Err(self
            .fail(rule)
            .expected(describe_all(expected))
            .got(describe_all(out)))
    }

    fn peers(&self, id: usize) -> impl Iterator<Item = usize> + use<> {
        (0..self.size()).filter(move |&p| p != id)
    }
}

/// One checked step, as the trace shows it: "r14 tick n1: follower t4 no vote → candidate t5 voted n1; sent …".
pub struct Step {
    round: u64,
    event: Event,
    before: State,
    after: State,
    out: Vec<Message>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Step {
            round,
            event,
            before,
            after,
            out,
        } = self;
        write!(
            f,
            "r{round} {}: {before} → {after}{}",
            event.summary(),
            describe_sent(out)
        )
    }
}

fn sorted_by_receiver(messages: &[Message]) -> Vec<Message> {
    let mut sorted = messages.to_vec();
    sorted.sort_by_key(|m| m.to);
    sorted
}

fn describe_all(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "no messages".to_string();
    }
    let each: Vec<String> = messages
        .iter()
        .map(|m| format!("{} to n{}", m.summary(), m.to))
        .collect();
    each.join(", ")
}

fn describe_sent(messages: &[Message]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    // Group identical messages to several receivers: "sent RequestVote t5 (log i3 t1) to n0,n1,n3".
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for msg in messages {
        let summary = msg.summary();
        match groups.iter_mut().find(|(s, _)| *s == summary) {
            Some((_, to)) => to.push(msg.to),
            None => groups.push((summary, vec![msg.to])),
        }
    }
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(summary, to)| {
            let to: Vec<String> = to.iter().map(|t| format!("n{t}")).collect();
            format!("{summary} to {}", to.join(","))
        })
        .collect();
    format!("; sent {}", parts.join(", "))
}

fn describe_set(nodes: &BTreeSet<usize>) -> String {
    let names: Vec<String> = nodes.iter().map(|n| format!("n{n}")).collect();
    format!("{{{}}}", names.join(", "))
}
