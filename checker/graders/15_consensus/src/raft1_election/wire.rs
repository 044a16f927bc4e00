//! The JSON-lines protocol of `raft1_election`, as the grader sees it, and compact descriptions for traces.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::netsim::Addressed;

/// What a node is doing in its term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// The last entry of a node's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    pub last_index: u64,
    pub last_term: u64,
}

impl LogPosition {
    /// Raft's "at least as up-to-date" (section 5.4.1): a later last term wins, then the longer log.
    pub fn is_at_least_as_up_to_date_as(self, other: LogPosition) -> bool {
        (self.last_term, self.last_index) >= (other.last_term, other.last_index)
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log ends at index {} of term {}",
            self.last_index, self.last_term
        )
    }
}

/// A message between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: usize,
    pub to: usize,
    pub term: u64,
    #[serde(flatten)]
    pub body: Body,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    RequestVote {
        last_log_index: u64,
        last_log_term: u64,
    },
    RequestVoteReply {
        granted: bool,
    },
    AppendEntries,
    AppendEntriesReply {
        success: bool,
    },
}

impl Addressed for Message {
    fn sender(&self) -> usize {
        self.from
    }

    fn receiver(&self) -> usize {
        self.to
    }
}

impl Message {
    /// The message with its sender and receiver left out: "RequestVote t5 (log i3 t1)".
    pub fn summary(&self) -> String {
        let term = self.term;
        match self.body {
            Body::RequestVote {
                last_log_index,
                last_log_term,
            } => {
                format!("RequestVote t{term} (log i{last_log_index} t{last_log_term})")
            }
            Body::RequestVoteReply { granted } => {
                format!(
                    "RequestVoteReply t{term} {}",
                    if granted { "granted" } else { "refused" }
                )
            }
            Body::AppendEntries => format!("AppendEntries t{term}"),
            Body::AppendEntriesReply { success } => {
                format!(
                    "AppendEntriesReply t{term} {}",
                    if success { "ok" } else { "refused" }
                )
            }
        }
    }

    /// The message as JSON, for reports.
    pub fn to_json(&self) -> Value {
        json!(self)
    }
}

/// What the program answers to `tick` and `deliver`: the node's state after the step, and what it sent.
#[derive(Clone, Debug, Deserialize)]
pub struct StepReply {
    pub node: usize,
    pub role: Role,
    pub term: u64,
    pub voted_for: Option<usize>,
    pub out: Vec<Message>,
}

/// A node's observable state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub role: Role,
    pub term: u64,
    pub voted_for: Option<usize>,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        write!(f, "{role} t{}", self.term)?;
        match self.voted_for {
            Some(v) => write!(f, " voted n{v}"),
            None => write!(f, " no vote"),
        }
    }
}

/// The answer to `init`: every node's state.
#[derive(Clone, Debug, Deserialize)]
pub struct ClusterReply {
    pub nodes: Vec<InitialState>,
}

/// One node's state in the answer to `init`.
#[derive(Clone, Debug, Deserialize)]
pub struct InitialState {
    pub node: usize,
    pub role: Role,
    pub term: u64,
    pub voted_for: Option<usize>,
}

/// One thing the grader does to the cluster.
#[derive(Clone, Debug)]
pub enum Event {
    Tick(usize),
    Deliver(Message),
}

impl Event {
    /// The node the event happens to.
    pub fn node(&self) -> usize {
        match self {
            Event::Tick(node) => *node,
            Event::Deliver(msg) => msg.to,
        }
    }

    /// The request line for this event.
    pub fn request_line(&self) -> String {
        match self {
            Event::Tick(node) => format!(r#"{{"op":"tick","node":{node}}}"#),
            Event::Deliver(msg) => json!({"op": "deliver", "msg": msg}).to_string(),
        }
    }

    /// "tick n2" or "n0 ← RequestVote t5 (log i3 t1) from n2".
    pub fn summary(&self) -> String {
        match self {
            Event::Tick(node) => format!("tick n{node}"),
            Event::Deliver(msg) => format!("n{} ← {} from n{}", msg.to, msg.summary(), msg.from),
        }
    }
}
