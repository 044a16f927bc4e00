//! The grader's model of a Raft cluster: after every tick and every delivery it checks the node's answer
//! against the election rules (exact vote decisions, term adoption, timer bounds, heartbeats) and the safety
//! invariants (at most one leader per term, at most one vote per node per term, terms never decrease).

use std::collections::{BTreeMap, BTreeSet};

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
const SAME_TIMEOUT_IN_A_ROW: usize = 7;

struct NodeModel {
    log: LogPosition,
    state: State,
    /// Distinct voters whose granted reply reached this candidate in its current term, itself included.
    votes: BTreeSet<usize>,
    /// Ticks since the last event that must reset the election timer (election start, vote granted,
    /// heartbeat accepted): an election earlier than `TIMEOUT_MIN` after it is too early.
    since_reset: u64,
    reset_reason: String,
    /// Ticks since the last event that may reset the timer (any of the above, or any change of state):
    /// no election `TIMEOUT_MAX` ticks after it is too late.
    since_any_reset: u64,
    /// The leader and term of the last heartbeat this node accepted.
    heard_from: Option<(usize, u64)>,
    /// For a leader: ticks since it last sent a heartbeat to each node.
    since_heartbeat: Vec<u64>,
    /// The exactly measured timeouts of this node's most recent elections.
    recent_timeouts: Vec<u64>,
}

/// One simulated cluster, as the grader believes it must be.
pub struct Model {
    nodes: Vec<NodeModel>,
    leaders: BTreeMap<u64, usize>,
    votes_cast: BTreeMap<(usize, u64), usize>,
    /// Every exactly measured election timeout, for the randomness check across clusters.
    pub observed_timeouts: Vec<u64>,
    /// The last events, shown with every failure.
    pub trace: Trace,
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
                state: State { role: Role::Follower, term: log.last_term, voted_for: None },
                votes: BTreeSet::new(),
                since_reset: 0,
                reset_reason: "the cluster started".to_string(),
                since_any_reset: 0,
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
        let leader = members.iter().copied().find(|&m| self.nodes[m].state.role == Role::Leader)?;
        let term = self.nodes[leader].state.term;
        members.iter().all(|&m| self.nodes[m].state.term == term).then_some(leader)
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
            .detail(format!("the last events (r = round, n = node, t = term, i = log index):"));
        for line in self.trace.lines() {
            failure = failure.detail(format!("  {line}"));
        }
        failure
    }

    /// Checks a node's answer to one event; returns the messages it sent, for the network.
    pub fn apply(&mut self, round: u64, event: &Event, reply: StepReply) -> Result<Vec<Message>, Failure> {
        let id = event.node();
        let before = self.nodes[id].state;
        let after = State { role: reply.role, term: reply.term, voted_for: reply.voted_for };
        if matches!(event, Event::Tick(_)) && after == before && reply.out.is_empty() {
            self.trace.push_quiet(round);
        } else {
            let sent = describe_sent(&reply.out);
            self.trace.push(format!("r{round} {}: {before} → {after}{sent}", event.summary()));
        }
        self.check_shape(id, &reply)?;
        self.check_invariants(id, before, after, &reply.out)?;
        match event {
            Event::Tick(_) => self.check_tick(id, before, after, &reply.out)?,
            Event::Deliver(msg) => self.check_delivery(msg, before, after, &reply.out)?,
        }
        let node = &mut self.nodes[id];
        if after != before {
            node.since_any_reset = 0;
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
            return Err(self.fail("the answer names the node the request was for").expected(id).got(reply.node));
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
                let rule = format!("every message carries its sender's current term (n{id} is in term {})", reply.term);
                return Err(self.fail(rule).got(msg.to_json()));
            }
        }
        Ok(())
    }

    fn check_invariants(&mut self, id: usize, before: State, after: State, out: &[Message]) -> Result<(), Failure> {
        if after.term < before.term {
            let rule = format!(
                "terms never decrease: node n{id} was in term {} and is now in term {}",
                before.term, after.term
            );
            return Err(self.fail(rule));
        }
        if after.term == before.term && before.voted_for.is_some() && after.voted_for != before.voted_for {
            let rule = format!(
                "a node votes at most once per term and remembers its vote: node n{id} had voted for n{} in term {}, \
                 and now reports voted_for {:?} in the same term",
                before.voted_for.unwrap_or_default(),
                after.term,
                after.voted_for
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

    fn check_tick(&mut self, id: usize, before: State, after: State, out: &[Message]) -> Result<(), Failure> {
        if before.role == Role::Leader {
            return self.check_leader_tick(id, before, after, out);
        }
        let node = &mut self.nodes[id];
        node.since_reset += 1;
        node.since_any_reset += 1;
        let (since_reset, since_any_reset) = (node.since_reset, node.since_any_reset);
        if after == before && out.is_empty() {
            if since_any_reset >= TIMEOUT_MAX {
                let rule = format!(
                    "the election timeout is at most {TIMEOUT_MAX} ticks: node n{id} ({before}) has gone \
                     {since_any_reset} ticks without a heartbeat from a leader, without granting a vote and \
                     without a change of state, and has still not started an election"
                );
                return Err(self.fail(rule));
            }
            return Ok(());
        }
        let expected = State { role: Role::Candidate, term: before.term + 1, voted_for: Some(id) };
        if after != expected {
            let rule = "on a tick, a follower or candidate either changes nothing or starts an election: \
                        its term goes up by one, it becomes a candidate and votes for itself";
            return Err(self.fail(rule).expected(expected).got(after));
        }
        let log = self.nodes[id].log;
        let body = Body::RequestVote { last_log_index: log.last_index, last_log_term: log.last_term };
        let expected_out: Vec<Message> =
            self.peers(id).map(|to| Message { from: id, to, term: expected.term, body: body.clone() }).collect();
        if sorted_by_receiver(out) != expected_out {
            let rule = "a new candidate sends one RequestVote, with its log's last index and last term, to every \
                        other node";
            return Err(self.fail(rule).expected(describe_all(&expected_out)).got(describe_all(out)));
        }
        if since_reset < TIMEOUT_MIN {
            let rule = format!(
                "the election timeout is at least {TIMEOUT_MIN} ticks, counted from the last reset of the timer: \
                 node n{id} started an election only {since_reset} ticks after {} (the timer must be reset then)",
                self.nodes[id].reset_reason
            );
            return Err(self.fail(rule));
        }
        let node = &mut self.nodes[id];
        if since_reset == since_any_reset {
            node.recent_timeouts.push(since_reset);
            self.observed_timeouts.push(since_reset);
        } else {
            node.recent_timeouts.clear();
        }
        let recent = &node.recent_timeouts;
        if recent.len() >= SAME_TIMEOUT_IN_A_ROW && recent.iter().all(|&t| t == recent[0]) {
            let rule = format!(
                "election timeouts are drawn at random from {TIMEOUT_MIN}..={TIMEOUT_MAX} ticks, afresh at every \
                 reset: node n{id} waited exactly {} ticks before each of its last {} elections",
                recent[0],
                recent.len()
            );
            return Err(self.fail(rule));
        }
        if node.recent_timeouts.len() >= SAME_TIMEOUT_IN_A_ROW {
            node.recent_timeouts.remove(0);
        }
        node.since_reset = 0;
        node.since_any_reset = 0;
        node.reset_reason = format!("it started its election for term {}", expected.term);
        node.votes = BTreeSet::from([id]);
        Ok(())
    }

    fn check_leader_tick(&mut self, id: usize, before: State, after: State, out: &[Message]) -> Result<(), Failure> {
        if after != before {
            let rule = "a tick changes nothing about a leader's role, term or vote";
            return Err(self.fail(rule).expected(before).got(after));
        }
        if let Some(msg) = out.iter().find(|m| m.body != Body::AppendEntries) {
            let rule = "on a tick a leader sends only heartbeats (AppendEntries)";
            return Err(self.fail(rule).got(msg.to_json()));
        }
        let peers: Vec<usize> = self.peers(id).collect();
        let node = &mut self.nodes[id];
        for &peer in &peers {
            node.since_heartbeat[peer] += 1;
        }
        for msg in out {
            node.since_heartbeat[msg.to] = 0;
        }
        if let Some(&late) = peers.iter().find(|&&p| node.since_heartbeat[p] >= HEARTBEAT_INTERVAL) {
            let rule = format!(
                "a leader sends a heartbeat (AppendEntries) to every other node on every {HEARTBEAT_INTERVAL}rd \
                 tick: leader n{id} of term {} has sent nothing to n{late} for {} ticks",
                before.term, node.since_heartbeat[late]
            );
            return Err(self.fail(rule));
        }
        Ok(())
    }

    fn check_delivery(&mut self, msg: &Message, before: State, after: State, out: &[Message]) -> Result<(), Failure> {
        let id = msg.to;
        let higher = msg.term > before.term;
        if higher {
            self.check_term_adoption(msg, before, after)?;
        }
        let base = if higher { State { role: Role::Follower, term: msg.term, voted_for: None } } else { before };
        match msg.body {
            Body::RequestVote { last_log_index, last_log_term } => {
                let candidate_log = LogPosition { last_index: last_log_index, last_term: last_log_term };
                self.check_vote(msg, candidate_log, higher, base, after, out)
            }
            Body::RequestVoteReply { granted } => self.check_vote_reply(msg, granted, base, after, out),
            Body::AppendEntries => self.check_heartbeat(msg, base, after, out),
            Body::AppendEntriesReply { .. } => {
                self.expect_state(id, base, after, "an AppendEntriesReply changes nothing but the term (rule 1)")?;
                self.expect_out(out, &[], "an AppendEntriesReply needs no answer")
            }
        }
    }

    fn check_term_adoption(&self, msg: &Message, before: State, after: State) -> Result<(), Failure> {
        let id = msg.to;
        let rule = format!(
            "a message with a higher term makes the receiver adopt that term and become a follower, before \
             anything else (rule 1): n{id} was {before} and got {} from n{}",
            msg.summary(),
            msg.from
        );
        if after.term != msg.term || after.role != Role::Follower {
            let expected = format!("follower in term {}", msg.term);
            return Err(self.fail(rule).expected(expected).got(after));
        }
        let voted_now = matches!(msg.body, Body::RequestVote { .. }) && after.voted_for == Some(msg.from);
        if after.voted_for.is_some() && !voted_now {
            let rule = format!(
                "moving to a new term clears the vote: n{id} has not voted in term {} yet, but reports voted_for \
                 n{} (its vote belongs to term {})",
                msg.term,
                after.voted_for.unwrap_or_default(),
                before.term
            );
            return Err(self.fail(rule).expected("voted_for: null").got(after));
        }
        Ok(())
    }

    fn check_vote(
        &mut self,
        msg: &Message,
        candidate_log: LogPosition,
        higher: bool,
        base: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let (id, candidate) = (msg.to, msg.from);
        let own_log = self.nodes[id].log;
        let current_term = msg.term == base.term;
        let free = base.voted_for.is_none_or(|v| v == candidate);
        let up_to_date = candidate_log.is_at_least_as_up_to_date_as(own_log);
        let grant = current_term && free && up_to_date;
        let answers: Vec<&Message> = out.iter().filter(|m| m.to == candidate).collect();
        let granted = match (out.len(), answers.first().map(|m| &m.body)) {
            (1, Some(Body::RequestVoteReply { granted })) => *granted,
            _ => {
                let rule = "every RequestVote gets exactly one RequestVoteReply, sent back to the candidate";
                let expected = format!("RequestVoteReply t{} to n{candidate}", base.term);
                return Err(self.fail(rule).expected(expected).got(describe_all(out)));
            }
        };
        if granted && !grant {
            let rule = if !current_term {
                format!(
                    "a RequestVote from an older term must be refused: n{id} is in term {} and granted its vote \
                     to n{candidate} for term {}",
                    base.term, msg.term
                )
            } else if !free {
                format!(
                    "at most one vote per node per term: n{id} had already voted for n{} in term {}, and granted \
                     n{candidate} too",
                    base.voted_for.unwrap_or_default(),
                    base.term
                )
            } else {
                format!(
                    "the up-to-date check (section 5.4.1) refuses a candidate whose log is behind the voter's: \
                     n{id} granted its vote to n{candidate}, whose {candidate_log}, but n{id}'s own {own_log} \
                     (a lower last term loses; with equal last terms, a shorter log loses)"
                )
            };
            return Err(self.fail(rule).expected("granted: false").got("granted: true"));
        }
        if !granted && grant {
            let moved = if higher { format!(" (n{id} moved to it on this very message)") } else { String::new() };
            let rule = format!(
                "n{id} refused its vote to n{candidate}, but every condition to grant it held: the request's term \
                 {term} is n{id}'s current term{moved}, n{id} had not voted for another candidate in term {term}, \
                 and n{candidate}'s {candidate_log}, at least as up-to-date as n{id}'s own {own_log}",
                term = base.term
            );
            return Err(self.fail(rule).expected("granted: true").got("granted: false"));
        }
        let expected = State { voted_for: if grant { Some(candidate) } else { base.voted_for }, ..base };
        self.expect_state(id, expected, after, "a vote changes only voted_for (and a higher term, rule 1)")?;
        if grant {
            let node = &mut self.nodes[id];
            node.since_reset = 0;
            node.since_any_reset = 0;
            node.reset_reason = format!("it granted its vote to n{candidate} in term {}", base.term);
        }
        Ok(())
    }

    fn check_vote_reply(
        &mut self,
        msg: &Message,
        granted: bool,
        base: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let id = msg.to;
        let size = self.size();
        let majority = size / 2 + 1;
        if base.role == Role::Leader {
            self.expect_state(id, base, after, "a leader ignores vote replies of its own term or older")?;
            return self.expect_out(out, &[], "a leader ignores vote replies of its own term or older");
        }
        let counts = base.role == Role::Candidate && msg.term == base.term && granted;
        if counts {
            self.nodes[id].votes.insert(msg.from);
        }
        let votes = self.nodes[id].votes.clone();
        let wins = counts && votes.len() >= majority;
        if after.role == Role::Leader && !wins {
            let rule = if counts {
                format!(
                    "a candidate becomes leader only with granted votes from a majority of the cluster ({majority} \
                     of {size}), each voter counted once: n{id} became leader of term {} with votes from only {} \
                     (a duplicated reply is still one vote)",
                    base.term,
                    describe_set(&votes)
                )
            } else {
                format!(
                    "only a granted reply of the candidate's own term is a vote: n{id} ({base}) became leader on \
                     {} from n{}",
                    msg.summary(),
                    msg.from
                )
            };
            return Err(self.fail(rule));
        }
        if !wins {
            self.expect_state(id, base, after, "a vote reply that does not complete a majority changes nothing")?;
            return self.expect_out(out, &[], "a vote reply that does not complete a majority needs no answer");
        }
        if after.role != Role::Leader {
            let rule = format!(
                "n{id} holds granted votes from {}, a majority of {size} (each voter once): it becomes leader of \
                 term {}",
                describe_set(&votes),
                base.term
            );
            return Err(self.fail(rule).expected("role: leader").got(after));
        }
        self.expect_state(id, State { role: Role::Leader, ..base }, after, "winning changes only the role")?;
        let heartbeats: Vec<Message> =
            self.peers(id).map(|to| Message { from: id, to, term: base.term, body: Body::AppendEntries }).collect();
        self.expect_out(out, &heartbeats, "a new leader sends an AppendEntries heartbeat to every other node at once")
    }

    fn check_heartbeat(&mut self, msg: &Message, base: State, after: State, out: &[Message]) -> Result<(), Failure> {
        let (id, leader) = (msg.to, msg.from);
        if msg.term < base.term {
            let rule = format!(
                "an AppendEntries from an older term ({} < {}) comes from a deposed leader: refuse it with \
                 success: false and your current term, and change nothing",
                msg.term, base.term
            );
            let answer =
                Message { from: id, to: leader, term: base.term, body: Body::AppendEntriesReply { success: false } };
            self.expect_state(id, base, after, &rule)?;
            return self.expect_out(out, &[answer], &rule);
        }
        if base.role == Role::Leader {
            let rule = format!("at most one leader per term: n{leader} sent a heartbeat of term {}, n{id}'s own", msg.term);
            return Err(self.fail(rule));
        }
        let rule = format!(
            "an AppendEntries of the receiver's current term comes from that term's leader: the receiver becomes \
             (or stays) a follower, keeps its vote and answers success: true (n{leader} is leader of term {})",
            msg.term
        );
        self.expect_state(id, State { role: Role::Follower, ..base }, after, &rule)?;
        let answer = Message { from: id, to: leader, term: base.term, body: Body::AppendEntriesReply { success: true } };
        self.expect_out(out, &[answer], &rule)?;
        let node = &mut self.nodes[id];
        node.since_reset = 0;
        node.since_any_reset = 0;
        node.reset_reason = format!("it accepted a heartbeat from leader n{leader} of term {}", msg.term);
        node.heard_from = Some((leader, msg.term));
        Ok(())
    }

    fn expect_state(&self, id: usize, expected: State, after: State, rule: &str) -> Result<(), Failure> {
        if after == expected {
            return Ok(());
        }
        Err(self.fail(format!("{rule} (node n{id})")).expected(expected).got(after))
    }

    fn expect_out(&self, out: &[Message], expected: &[Message], rule: &str) -> Result<(), Failure> {
        if sorted_by_receiver(out) == sorted_by_receiver(expected) {
            return Ok(());
        }
        Err(self.fail(rule).expected(describe_all(expected)).got(describe_all(out)))
    }

    fn peers(&self, id: usize) -> impl Iterator<Item = usize> + use<> {
        (0..self.size()).filter(move |&p| p != id)
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
    let each: Vec<String> = messages.iter().map(|m| format!("{} to n{}", m.summary(), m.to)).collect();
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
