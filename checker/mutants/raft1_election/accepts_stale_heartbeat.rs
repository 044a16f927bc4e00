//! mutant: accepts an AppendEntries from an older term, so a deposed leader still holds followers
//! expect: older term
//!
//! Any message from a leader looks like a heartbeat.

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
    /// Distinct nodes that granted this candidate their vote in the current term (itself included).
    votes: BTreeSet<NodeId>,
    election_elapsed: u64,
    election_timeout: u64,
    heartbeat_elapsed: u64,
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
            votes: BTreeSet::new(),
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
        match self.role {
            Role::Leader => {
                self.heartbeat_elapsed += 1;
                if self.heartbeat_elapsed >= HEARTBEAT_INTERVAL {
                    self.heartbeat_elapsed = 0;
                    return self.broadcast(|_| Body::AppendEntries);
                }
                Vec::new()
            }
            Role::Follower | Role::Candidate => {
                self.election_elapsed += 1;
                if self.election_elapsed >= self.election_timeout {
                    return self.start_election();
                }
                Vec::new()
            }
        }
    }

    /// A message arrived; returns the messages to send in answer.
    pub fn step(&mut self, msg: Message) -> Vec<Message> {
        if msg.term > self.term {
            self.become_follower(msg.term);
        }
        match msg.body {
            Body::RequestVote {
                last_log_index,
                last_log_term,
            } => {
                let candidate = LogPosition {
                    last_index: last_log_index,
                    last_term: last_log_term,
                };
                let granted = msg.term == self.term
                    && self.voted_for.is_none_or(|v| v == msg.from)
                    && is_at_least_as_up_to_date(candidate, self.log);
                if granted {
                    self.voted_for = Some(msg.from);
                    self.reset_election_timer();
                }
                vec![self.message(msg.from, Body::RequestVoteReply { granted })]
            }
            Body::RequestVoteReply { granted } => {
                if self.role == Role::Candidate && msg.term == self.term && granted {
                    self.votes.insert(msg.from);
                    if self.votes.len() > self.cluster_size / 2 {
                        return self.become_leader();
                    }
                }
                Vec::new()
            }
            Body::AppendEntries => {
                self.role = Role::Follower;
                self.reset_election_timer();
                vec![self.message(msg.from, Body::AppendEntriesReply { success: true })]
            }
            Body::AppendEntriesReply { .. } => Vec::new(),
        }
    }

    /// A timeout drawn uniformly from `ELECTION_TIMEOUT_MIN..=ELECTION_TIMEOUT_MAX`.
    fn random_election_timeout(&mut self) -> u64 {
        let span = ELECTION_TIMEOUT_MAX - ELECTION_TIMEOUT_MIN + 1;
        ELECTION_TIMEOUT_MIN + self.rng.next_u64() % span
    }

    /// Restarts the election timer with a fresh timeout (rule 2 says when).
    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        self.election_timeout = self.random_election_timeout();
    }

    /// Adopts a higher term (rule 1).
    fn become_follower(&mut self, term: u64) {
        let was_leader = self.role == Role::Leader;
        self.term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.votes.clear();
        if was_leader {
            // A deposed leader's timer has not run while it led: give it a full, fresh timeout.
            self.reset_election_timer();
        }
    }

    /// The timer ran out (rule 3).
    fn start_election(&mut self) -> Vec<Message> {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.votes = BTreeSet::from([self.id]);
        self.reset_election_timer();
        let log = self.log;
        self.broadcast(|_| Body::RequestVote {
            last_log_index: log.last_index,
            last_log_term: log.last_term,
        })
    }

    /// A majority voted for this candidate (rule 5).
    fn become_leader(&mut self) -> Vec<Message> {
        self.role = Role::Leader;
        self.heartbeat_elapsed = 0;
        self.broadcast(|_| Body::AppendEntries)
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

/// Raft's "at least as up-to-date" order on logs (section 5.4.1): a later last term wins, then the longer log.
fn is_at_least_as_up_to_date(candidate: LogPosition, voter: LogPosition) -> bool {
    (candidate.last_term, candidate.last_index) >= (voter.last_term, voter.last_index)
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
