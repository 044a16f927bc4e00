//! # Raft, part 1: leader election
//!
//! A replicated service (etcd under Kubernetes, Consul, CockroachDB's ranges, Kafka's KRaft controllers) needs
//! exactly one node at a time that decides the order of writes: the *leader*. Raft (Ongaro & Ousterhout, 2014)
//! picks that leader with a small set of rules. This exercise builds those rules as a pure state machine: a
//! [`Node`] that is driven by two inputs only, `tick()` (one unit of time passed) and `step(message)` (a message
//! arrived), and that answers each with the messages it wants to send. No threads, no sockets, no clock: the
//! caller owns time and the network. That is how production Raft libraries are built (etcd's `raft` package,
//! TiKV's `raft-rs`), because it lets a test harness replay any interleaving of events from a seed.
//!
//! ## The rules (Raft paper, sections 5.1, 5.2 and 5.4.1; Figure 2)
//!
//! Every node is a **follower**, a **candidate** or a **leader**, and keeps a **current term** (a logical clock
//! that only grows) and the candidate it **voted for** in that term, if any.
//!
//! 1. **Terms.** Every message carries its sender's term. A node that sees a term higher than its own adopts it,
//!    forgets its vote (it has not voted in the new term yet) and becomes a follower, *before* handling the
//!    message. A message with a lower term is stale: requests are refused (with the current term in the reply,
//!    so the sender learns it is behind), replies are ignored.
//! 2. **Election timer.** Followers and candidates count ticks. When their timeout, a number of ticks drawn
//!    uniformly at random from `ELECTION_TIMEOUT_MIN..=ELECTION_TIMEOUT_MAX` (10 to 20), passes without the
//!    timer being reset, the node starts an election. Exactly three events reset the timer, each with a freshly
//!    drawn timeout: starting an election, granting a vote, and accepting an `AppendEntries` from the leader of
//!    the current term. Nothing else does: not a refused vote request, not a new term on its own. Leaders do
//!    not run the timer; a leader that steps down starts it afresh.
//! 3. **Starting an election.** Increment the term, become a candidate, vote for yourself, and send a
//!    `RequestVote` to every other node carrying your log's last index and last term.
//! 4. **Voting.** Grant a `RequestVote` only if its term is your current term (after rule 1), you have not voted
//!    for another candidate in this term, and the candidate's log is *at least as up-to-date* as yours: its last
//!    term is higher, or the last terms are equal and its last index is at least yours. Always reply.
//! 5. **Winning.** A candidate that holds granted votes from a majority of the cluster (`n / 2 + 1` nodes,
//!    counting its own vote, each voter once) becomes leader of that term and at once sends an `AppendEntries`
//!    heartbeat to every other node.
//! 6. **Heartbeats.** A leader sends an `AppendEntries` to every other node on every `HEARTBEAT_INTERVAL`-th (3rd)
//!    tick. A node that receives an `AppendEntries` of its current term becomes (or stays) a follower of that
//!    leader, resets its election timer and replies `success: true`; a stale one gets `success: false`.
//!
//! ## Why it works, and how it breaks
//!
//! One vote per node per term plus a majority to win means **at most one leader per term**: two majorities of
//! the same cluster always share a node, and that node voted once. The log check (rule 4) means a leader always
//! holds every committed entry: a committed entry lives on a majority, and a candidate needs a vote from one of
//! them. Randomized timeouts make a *split vote* (two candidates each holding half the votes) unlikely to repeat.
//!
//! The classic mistakes, each of which the grader's simulated network (seeded loss, duplication, delay and
//! partitions) will find:
//! - counting *replies* instead of distinct *voters*: a duplicated reply elects a leader without a majority;
//! - voting on term alone and skipping the log check, so a node that missed writes becomes leader;
//! - forgetting to adopt a higher term seen in a *reply*, so a deposed leader keeps leading;
//! - keeping last term's `voted_for` after moving to a new term, so a healthy candidate is refused;
//! - resetting the timer on the wrong events: not on heartbeats (elections under a healthy leader), or on every
//!   message (a node that can never win keeps everyone waiting);
//! - a fixed timeout, or one drawn once per node: nodes that time out together split the vote again and again.
//!
//! ## Your task
//!
//! Complete [`Node`]: `tick`, `step` and the helpers below them. The provided `main` hosts a whole cluster in
//! one process and lets the grader play the network: it ticks nodes, delivers (or loses, duplicates, delays)
//! the messages they send, cuts nodes off and lets them rejoin, and checks every answer against the rules above.
//! Each node gets its own seeded random generator: draw timeouts from it (`self.rng.next_u64()`), never from a
//! global source, so that a seed replays the same run.
//!
//! Log replication (`raft2_log_replication`) and persistence across crashes (`raft3_persistence`) come next;
//! here each node's log is fixed and only its last index and term matter.
//!
//! Roadmap: Consensus algorithms: Raft and leader election in distributed systems.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// A node's index in the cluster: `0..cluster_size`.
pub type NodeId = usize;

/// The shortest election timeout, in ticks.
pub const ELECTION_TIMEOUT_MIN: u64 = 10;
/// The longest election timeout, in ticks (inclusive).
pub const ELECTION_TIMEOUT_MAX: u64 = 20;
/// A leader sends heartbeats on every this-many-th tick.
pub const HEARTBEAT_INTERVAL: u64 = 3;

/// What a node is doing in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// The position of the last entry of a node's log: all the election needs to know about a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    pub last_index: u64,
    pub last_term: u64,
}

/// A message between two nodes. On the wire:
/// `{"from":0,"to":2,"term":5,"type":"request_vote","last_log_index":7,"last_log_term":4}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's current term.
    pub term: u64,
    #[serde(flatten)]
    pub body: Body,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// A candidate asks for a vote, showing how up-to-date its log is.
    RequestVote {
        last_log_index: u64,
        last_log_term: u64,
    },
    /// The answer to a `RequestVote`.
    RequestVoteReply { granted: bool },
    /// A leader's heartbeat (in this exercise it carries no entries).
    AppendEntries,
    /// The answer to an `AppendEntries`.
    AppendEntriesReply { success: bool },
}

/// One Raft node, as a deterministic state machine.
pub struct Node {
    id: NodeId,
    cluster_size: usize,
    log: LogPosition,
    rng: ChaCha8Rng,
    role: Role,
    term: u64,
    voted_for: Option<NodeId>,
    election_elapsed: u64,
    election_timeout: u64,
    heartbeat_elapsed: u64,
    // TODO: add what a candidate needs to count the votes it has won (and initialise it in `new`).
}

impl Node {
    /// A follower that has seen the term of its last log entry and has not voted in it.
    pub fn new(id: NodeId, cluster_size: usize, log: LogPosition, rng: ChaCha8Rng) -> Node {
        let mut node = Node {
            id,
            cluster_size,
            log,
            rng,
            role: Role::Follower,
            term: log.last_term,
            voted_for: None,
            election_elapsed: 0,
            election_timeout: ELECTION_TIMEOUT_MAX,
            heartbeat_elapsed: 0,
        };
        node.reset_election_timer();
        node
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// One unit of time passed.
    pub fn tick(&mut self) -> Vec<Message> {
        // TODO: a leader sends heartbeats on every HEARTBEAT_INTERVAL-th tick (rule 6);
        // a follower or candidate starts an election when its timer runs out (rules 2 and 3).
        todo!()
    }

    /// A message arrived; returns the messages to send in answer.
    pub fn step(&mut self, msg: Message) -> Vec<Message> {
        // TODO: apply rule 1 (terms) first, then handle each kind of message: vote requests (rule 4),
        // vote replies (rule 5), heartbeats and their replies (rule 6).
        todo!()
    }

    /// A timeout drawn uniformly from `ELECTION_TIMEOUT_MIN..=ELECTION_TIMEOUT_MAX`.
    fn random_election_timeout(&mut self) -> u64 {
        // TODO: draw from this node's own generator, `self.rng`.
        todo!()
    }

    /// Restarts the election timer with a fresh timeout (rule 2 says when).
    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        self.election_timeout = self.random_election_timeout();
    }

    /// Adopts a higher term (rule 1).
    fn become_follower(&mut self, term: u64) {
        // TODO: new term, no vote in it yet, follower; a deposed leader starts its election timer afresh.
        todo!()
    }

    /// The timer ran out (rule 3).
    fn start_election(&mut self) -> Vec<Message> {
        // TODO: next term, candidate, vote for yourself, restart the timer, ask every other node for its vote.
        todo!()
    }

    /// A majority voted for this candidate (rule 5).
    fn become_leader(&mut self) -> Vec<Message> {
        // TODO: lead, and announce it to every other node at once.
        todo!()
    }

    /// One message to every other node, in ascending id order.
    fn broadcast(&self, body: impl Fn(NodeId) -> Body) -> Vec<Message> {
        (0..self.cluster_size)
            .filter(|&peer| peer != self.id)
            .map(|peer| self.message(peer, body(peer)))
            .collect()
    }

    /// A message from this node, in its current term.
    fn message(&self, to: NodeId, body: Body) -> Message {
        Message {
            from: self.id,
            to,
            term: self.term,
            body,
        }
    }
}

/// Raft's "at least as up-to-date" order on logs (section 5.4.1).
fn is_at_least_as_up_to_date(candidate: LogPosition, voter: LogPosition) -> bool {
    // TODO: compare the logs as rule 4 says.
    todo!()
}

// ---------------------------------------------------------------------------------------------------------------
// Provided: you do not need to change this. It hosts a whole cluster in one process and speaks JSON lines:
//
//   {"op":"init","seed":7,"logs":[{"last_index":3,"last_term":2},{"last_index":0,"last_term":0},...]}
//       -> {"nodes":[{"node":0,"role":"follower","term":2,"voted_for":null},...]}     (a fresh cluster)
//   {"op":"tick","node":1}
//       -> {"node":1,"role":"candidate","term":1,"voted_for":1,"out":[{"from":1,"to":0,...},...]}
//   {"op":"deliver","msg":{"from":1,"to":0,"term":1,"type":"request_vote","last_log_index":0,"last_log_term":0}}
//       -> {"node":0,"role":"follower","term":1,"voted_for":1,"out":[...]}
// ---------------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Init { seed: u64, logs: Vec<LogPosition> },
    Tick { node: NodeId },
    Deliver { msg: Message },
}

#[derive(Serialize)]
struct NodeState {
    node: NodeId,
    role: Role,
    term: u64,
    voted_for: Option<NodeId>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Cluster {
        nodes: Vec<NodeState>,
    },
    Step {
        #[serde(flatten)]
        state: NodeState,
        out: Vec<Message>,
    },
    Error {
        error: String,
    },
}

/// Each node gets its own random stream, derived from the cluster's seed and the node's id.
fn node_rng(seed: u64, id: NodeId) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn state_of(node: &Node) -> NodeState {
    NodeState {
        node: node.id(),
        role: node.role(),
        term: node.term(),
        voted_for: node.voted_for(),
    }
}

fn handle(cluster: &mut Vec<Node>, request: Request) -> Reply {
    let (id, out) = match request {
        Request::Init { seed, logs } => {
            let size = logs.len();
            *cluster = logs
                .into_iter()
                .enumerate()
                .map(|(id, log)| Node::new(id, size, log, node_rng(seed, id)))
                .collect();
            return Reply::Cluster {
                nodes: cluster.iter().map(state_of).collect(),
            };
        }
        Request::Tick { node } => match cluster.get_mut(node) {
            Some(target) => (node, target.tick()),
            None => {
                return Reply::Error {
                    error: format!("no node {node} in a cluster of {}", cluster.len()),
                };
            }
        },
        Request::Deliver { msg } => {
            let to = msg.to;
            match cluster.get_mut(to) {
                Some(target) => (to, target.step(msg)),
                None => {
                    return Reply::Error {
                        error: format!("no node {to} in a cluster of {}", cluster.len()),
                    };
                }
            }
        }
    };
    Reply::Step {
        state: state_of(&cluster[id]),
        out,
    }
}

fn main() {
    let mut cluster = Vec::new();
    backlings_harness::stdio::serve_json_lines(|request: Request| handle(&mut cluster, request));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: NodeId, size: usize, log: LogPosition, seed: u64) -> Node {
        Node::new(id, size, log, node_rng(seed, id))
    }

    fn log(last_index: u64, last_term: u64) -> LogPosition {
        LogPosition {
            last_index,
            last_term,
        }
    }

    fn vote_request(from: NodeId, to: NodeId, term: u64, candidate_log: LogPosition) -> Message {
        let body = Body::RequestVote {
            last_log_index: candidate_log.last_index,
            last_log_term: candidate_log.last_term,
        };
        Message {
            from,
            to,
            term,
            body,
        }
    }

    fn reply(from: NodeId, to: NodeId, term: u64, body: Body) -> Message {
        Message {
            from,
            to,
            term,
            body,
        }
    }

    /// Ticks until the node emits something; returns how many ticks that took and what it sent.
    fn tick_until_output(node: &mut Node, limit: u64) -> (u64, Vec<Message>) {
        for ticks in 1..=limit {
            let out = node.tick();
            if !out.is_empty() {
                return (ticks, out);
            }
        }
        panic!("node {} sent nothing in {limit} ticks", node.id());
    }

    // A follower waits between 10 and 20 ticks, then asks every other node for its vote.
    #[test]
    fn first_election_starts_within_the_timeout_range() {
        let mut n = node(0, 3, log(4, 2), 1);
        let (ticks, out) = tick_until_output(&mut n, ELECTION_TIMEOUT_MAX);
        assert!(
            ticks >= ELECTION_TIMEOUT_MIN,
            "started an election after only {ticks} ticks"
        );
        assert_eq!(
            (n.role(), n.term(), n.voted_for()),
            (Role::Candidate, 3, Some(0))
        );
        assert_eq!(
            out,
            vec![
                vote_request(0, 1, 3, log(4, 2)),
                vote_request(0, 2, 3, log(4, 2))
            ]
        );
    }

    // Timeouts are drawn at random, so different nodes do not all time out together.
    #[test]
    fn election_timeouts_are_randomized() {
        let firsts: BTreeSet<u64> = (0..20)
            .map(|seed| tick_until_output(&mut node(0, 3, log(0, 0), seed), ELECTION_TIMEOUT_MAX).0)
            .collect();
        assert!(
            firsts.len() >= 3,
            "20 nodes used only the timeouts {firsts:?}"
        );
    }

    // One vote per term: a second candidate of the same term is refused, a repeated request is granted again.
    #[test]
    fn grants_at_most_one_vote_per_term() {
        let mut n = node(1, 3, log(0, 0), 1);
        assert_eq!(
            n.step(vote_request(0, 1, 1, log(0, 0))),
            vec![reply(1, 0, 1, Body::RequestVoteReply { granted: true })]
        );
        assert_eq!(
            n.step(vote_request(2, 1, 1, log(0, 0))),
            vec![reply(1, 2, 1, Body::RequestVoteReply { granted: false })]
        );
        assert_eq!(
            n.step(vote_request(0, 1, 1, log(0, 0))),
            vec![reply(1, 0, 1, Body::RequestVoteReply { granted: true })]
        );
        assert_eq!(n.voted_for(), Some(0));
    }

    // The log check: a later last term wins; with equal last terms, the longer log wins.
    #[test]
    fn refuses_a_candidate_whose_log_is_behind() {
        let mut n = node(1, 3, log(5, 3), 1);
        let cases = [
            (log(9, 2), false),
            (log(4, 3), false),
            (log(5, 3), true),
            (log(1, 4), true),
        ];
        for (term, (candidate_log, granted)) in (4..).zip(cases) {
            let out = n.step(vote_request(0, 1, term, candidate_log));
            assert_eq!(
                out,
                vec![reply(1, 0, term, Body::RequestVoteReply { granted })],
                "candidate log {candidate_log:?}"
            );
        }
    }

    // A reply with a higher term deposes a leader: it adopts the term and has not voted in it.
    #[test]
    fn a_higher_term_in_a_reply_makes_a_leader_step_down() {
        let mut n = node(0, 3, log(0, 0), 1);
        tick_until_output(&mut n, ELECTION_TIMEOUT_MAX);
        n.step(reply(1, 0, 1, Body::RequestVoteReply { granted: true }));
        assert_eq!(n.role(), Role::Leader);
        assert!(
            n.step(reply(2, 0, 7, Body::AppendEntriesReply { success: false }))
                .is_empty()
        );
        assert_eq!(
            (n.role(), n.term(), n.voted_for()),
            (Role::Follower, 7, None)
        );
    }

    // Votes are counted per voter: a duplicated reply does not make a majority.
    #[test]
    fn counts_each_voter_once() {
        let mut n = node(0, 5, log(0, 0), 1);
        tick_until_output(&mut n, ELECTION_TIMEOUT_MAX);
        let yes = reply(1, 0, 1, Body::RequestVoteReply { granted: true });
        assert!(n.step(yes.clone()).is_empty());
        assert!(n.step(yes).is_empty());
        assert_eq!(
            n.role(),
            Role::Candidate,
            "two votes of five (one of them duplicated) are not a majority"
        );
        let out = n.step(reply(3, 0, 1, Body::RequestVoteReply { granted: true }));
        assert_eq!(n.role(), Role::Leader);
        let heartbeats: Vec<NodeId> = out
            .iter()
            .filter(|m| m.body == Body::AppendEntries && m.term == 1)
            .map(|m| m.to)
            .collect();
        assert_eq!(
            heartbeats,
            vec![1, 2, 3, 4],
            "a new leader announces itself to every other node at once"
        );
    }

    // A leader sends a heartbeat to every other node on every third tick.
    #[test]
    fn leader_sends_heartbeats_every_third_tick() {
        let mut n = node(0, 3, log(0, 0), 1);
        tick_until_output(&mut n, ELECTION_TIMEOUT_MAX);
        n.step(reply(2, 0, 1, Body::RequestVoteReply { granted: true }));
        for _ in 0..3 {
            assert!(n.tick().is_empty());
            assert!(n.tick().is_empty());
            let out = n.tick();
            assert_eq!(
                out,
                vec![
                    reply(0, 1, 1, Body::AppendEntries),
                    reply(0, 2, 1, Body::AppendEntries)
                ]
            );
        }
    }

    // Heartbeats from the current leader keep resetting a follower's election timer.
    #[test]
    fn heartbeats_keep_a_follower_from_starting_an_election() {
        let mut n = node(1, 3, log(0, 0), 1);
        for round in 0..40 {
            let out = n.step(reply(0, 1, 1, Body::AppendEntries));
            assert_eq!(
                out,
                vec![reply(1, 0, 1, Body::AppendEntriesReply { success: true })]
            );
            for _ in 0..(ELECTION_TIMEOUT_MIN - 1) {
                assert!(
                    n.tick().is_empty(),
                    "started an election in round {round} despite heartbeats"
                );
            }
        }
    }

    // A heartbeat from a deposed leader (lower term) is refused with the current term, and changes nothing.
    #[test]
    fn refuses_a_stale_heartbeat() {
        let mut n = node(1, 3, log(2, 3), 1);
        let out = n.step(reply(0, 1, 2, Body::AppendEntries));
        assert_eq!(
            out,
            vec![reply(1, 0, 3, Body::AppendEntriesReply { success: false })]
        );
        assert_eq!((n.role(), n.term()), (Role::Follower, 3));
    }

    // With instant, lossless delivery, three nodes settle on exactly one leader that everyone follows.
    #[test]
    fn three_nodes_elect_exactly_one_leader() {
        let mut cluster: Vec<Node> = (0..3).map(|id| node(id, 3, log(0, 0), 9)).collect();
        for _ in 0..100 {
            let mut queue: Vec<Message> = cluster.iter_mut().flat_map(Node::tick).collect();
            while !queue.is_empty() {
                let msg = queue.remove(0);
                let to = msg.to;
                queue.extend(cluster[to].step(msg));
            }
        }
        let leaders: Vec<&Node> = cluster
            .iter()
            .filter(|n| n.role() == Role::Leader)
            .collect();
        assert_eq!(leaders.len(), 1);
        assert!(cluster.iter().all(|n| n.term() == leaders[0].term()));
    }
}
