//! Grader of `raft1_election`: the learner's nodes run inside one program; the grader is their network.
//!
//! It starts clusters of 3 and 5 nodes (`init`), ticks every node once per round and delivers messages with
//! seeded delays, loss, duplication and partitions, and checks every answer against the election rules
//! ([`model`]). Scenarios: single-node vote rules driven by hand, healthy elections, lossy networks, a leader cut
//! off from the majority, and a stale node rejoining with a higher term. A failure shows the broken rule, the
//! cluster, and the last 30 events.

mod model;
mod wire;

use std::collections::BTreeSet;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use crate::netsim::{Conditions, Network};
use model::{Model, TIMEOUT_MAX, TIMEOUT_MIN};
use wire::{Body, ClusterReply, Event, LogPosition, Message, Role, StepReply};

/// Clusters per scenario, and the rounds they run.
const HAND_DRIVEN_CLUSTERS: u64 = 12;
const HEALTHY_CLUSTERS: u64 = 50;
const LOSSY_CLUSTERS: u64 = 30;
const CUT_OFF_CLUSTERS: u64 = 30;
const STALE_CLUSTERS: u64 = 30;
/// Ticks within which a healthy network must agree on a leader: a few election timeouts, far above what
/// randomized timeouts need (split votes rarely repeat) and far below what a livelock takes.
const ELECTION_BOUND: u64 = 8 * TIMEOUT_MAX;
/// Rounds a healthy cluster with a leader is watched for needless elections.
const STABLE_ROUNDS: u64 = 25;
/// Rounds of a lossy network before it heals.
const LOSSY_ROUNDS: u64 = 80;
/// Distinct timeouts the whole grading must observe (the contract allows 11).
const DISTINCT_TIMEOUTS: usize = 5;

/// Grades `raft1_election`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut program = g.stdio()?;
    let mut observed = Vec::new();
    let mut clusters = 0;
    let mut run = |g: &mut Grading, count: u64, scenario: Scenario, name: &str| {
        for k in 0..count {
            clusters += 1;
            let rng = g.rng().fork(clusters);
            observed.extend(scenario(&mut program, rng, name, k)?);
        }
        Ok::<(), Failure>(())
    };

    g.scenario("vote rules, one node driven by hand: RequestVote, replies, heartbeats, higher terms");
    run(g, HAND_DRIVEN_CLUSTERS, hand_driven, "hand-driven")?;
    g.scenario("healthy network: the cluster agrees on one leader in time, then stays quiet");
    run(g, HEALTHY_CLUSTERS, healthy, "healthy")?;
    g.scenario("lossy network (loss, duplicates, delays): safety throughout, a leader once it heals");
    run(g, LOSSY_CLUSTERS, lossy, "lossy")?;
    g.scenario("leader cut off: the majority elects a new leader; the old one steps down on rejoining");
    run(g, CUT_OFF_CLUSTERS, leader_cut_off, "leader cut off")?;
    g.scenario("a node with a stale log rejoins with a higher term: the cluster still agrees on a leader");
    run(g, STALE_CLUSTERS, stale_rejoin, "stale node rejoins")?;

    g.scenario("election timeouts are random within 10..=20 ticks");
    let distinct: BTreeSet<u64> = observed.iter().copied().collect();
    if distinct.len() < DISTINCT_TIMEOUTS {
        let rule = format!(
            "election timeouts are drawn at random from {TIMEOUT_MIN}..={TIMEOUT_MAX} ticks: over {} measured \
             elections the nodes only ever waited {distinct:?} ticks, so nodes that time out together keep \
             splitting the vote",
            observed.len()
        );
        return Err(Failure::new(rule).detail("draw a fresh timeout from the node's RNG every time the timer resets"));
    }
    Ok(())
}

/// A scenario runs one cluster (the `k`-th of its kind) and returns the election timeouts it measured.
type Scenario = fn(&mut Stdio, Rng, &str, u64) -> Result<Vec<u64>, Failure>;

/// One simulated cluster: the program's nodes, the grader's network and model.
struct Sim<'p> {
    program: &'p mut Stdio,
    net: Network<Message>,
    model: Model,
}

impl<'p> Sim<'p> {
    /// Starts a fresh cluster of 3 or 5 nodes with seeded logs.
    fn start(program: &'p mut Stdio, mut rng: Rng, scenario: &str, k: u64) -> Result<Self, Failure> {
        let size = if k % 2 == 0 { 5 } else { 3 };
        let logs: Vec<LogPosition> = (0..size).map(|_| random_log(&mut rng, 0)).collect();
        Sim::start_with(program, rng, scenario, k, logs)
    }

    fn start_with(
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
            .map_err(|e| protocol_error("the answer to init is {\"nodes\":[{node, role, term, voted_for}, ...]}", &reply, e))?
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
            let rule = "a new node is a follower in the term of its log's last entry, and has not voted";
            return Err(model.fail(rule).expected(Value::from(expected)).got(Value::from(got)));
        }
        let net = Network::new(logs.len(), rng);
        Ok(Sim { program, net, model })
    }

    fn size(&self) -> usize {
        self.model.size()
    }

    /// The election timeouts this cluster measured.
    fn finish(self) -> Vec<u64> {
        self.model.observed_timeouts
    }

    fn all(&self) -> Vec<usize> {
        (0..self.size()).collect()
    }

    /// Sends the events in one batch, then checks each answer in order; the messages sent go on the wire.
    fn run(&mut self, events: Vec<Event>) -> Result<(), Failure> {
        for messages in self.apply(events)? {
            for msg in messages {
                self.net.send(msg);
            }
        }
        Ok(())
    }

    /// Like [`Sim::run`], but hands the messages sent back to the caller instead of the network.
    fn apply(&mut self, events: Vec<Event>) -> Result<Vec<Vec<Message>>, Failure> {
        for event in &events {
            self.program.send(&event.request())?;
        }
        let mut sent = Vec::with_capacity(events.len());
        for event in &events {
            let reply = self.program.recv()?;
            let step = serde_json::from_value::<StepReply>(reply.clone()).map_err(|e| {
                let shape = "the answer to tick and deliver is {\"node\", \"role\", \"term\", \"voted_for\", \"out\": [messages]}";
                protocol_error(shape, &reply, e).detail(format!("it answered: {}", event.summary()))
            })?;
            sent.push(self.model.apply(self.net.round(), event, step)?);
        }
        Ok(sent)
    }

    /// One round: every node ticks once (seeded order), then every message due is delivered.
    fn round(&mut self) -> Result<(), Failure> {
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
    fn until(&mut self, bound: u64, rule: &str, done: impl Fn(&Model) -> bool) -> Result<(), Failure> {
        for i in 0..bound {
            if done(&self.model) {
                eprintln!("STAT {i}");
                return Ok(());
            }
            self.round()?;
        }
        if done(&self.model) {
            return Ok(());
        }
        Err(self.model.fail(format!("{rule}, but after {bound} more ticks it has not")))
    }

    /// Runs healthy rounds until every node agrees on one leader; returns it.
    fn elect(&mut self, why: &str) -> Result<usize, Failure> {
        let all = self.all();
        let rule = format!(
            "{why}, the whole cluster agrees on one leader (a leader, and every node in its term, having \
             accepted its heartbeat) within {ELECTION_BOUND} ticks"
        );
        self.until(ELECTION_BOUND, &rule, |m| m.settled_leader(&all).is_some())?;
        Ok(self.model.settled_leader(&all).unwrap_or_default())
    }
}

/// A random log; its last term is at least `min_term`.
fn random_log(rng: &mut Rng, min_term: u64) -> LogPosition {
    let last_term = rng.range(min_term, 3.max(min_term));
    let last_index = if last_term == 0 { 0 } else { last_term + rng.below(4) };
    LogPosition { last_index, last_term }
}

fn protocol_error(shape: &str, reply: &Value, error: serde_json::Error) -> Failure {
    Failure::new(shape.to_string()).got(reply.to_string()).detail(format!("JSON error: {error}"))
}

/// A healthy network: the cluster must agree on a leader, and then nobody starts an election.
fn healthy(program: &mut Stdio, rng: Rng, name: &str, k: u64) -> Result<Vec<u64>, Failure> {
    let mut sim = Sim::start(program, rng, name, k)?;
    let leader = sim.elect("with a healthy network (no loss, delays of at most one tick)")?;
    let term = sim.model.state(leader).term;
    for _ in 0..STABLE_ROUNDS {
        sim.round()?;
        if sim.model.agreed_leader(&sim.all()) != Some(leader) || sim.model.state(leader).term != term {
            let rule = format!(
                "with a healthy network and a leader sending heartbeats, nobody starts an election: n{leader} was \
                 leader of term {term}, everyone followed it, and now the cluster has moved on"
            );
            return Err(sim.model.fail(rule));
        }
    }
    Ok(sim.finish())
}

/// Loss, duplicates and long delays: the invariants hold throughout; once healed, a leader is agreed on.
fn lossy(program: &mut Stdio, rng: Rng, name: &str, k: u64) -> Result<Vec<u64>, Failure> {
    let mut sim = Sim::start(program, rng, name, k)?;
    let conditions = Conditions {
        max_delay: sim.net.rng().range(0, 3),
        loss_percent: sim.net.rng().range(5, 30),
        duplicate_percent: sim.net.rng().range(5, 40),
    };
    sim.net.set_conditions(conditions);
    for _ in 0..LOSSY_ROUNDS {
        sim.round()?;
    }
    sim.net.set_conditions(Conditions::HEALTHY);
    sim.model.trace.push(format!("r{} the network heals", sim.net.round()));
    sim.elect("once a lossy network heals")?;
    Ok(sim.finish())
}

/// The leader (with one follower, in a cluster of 5) is cut off: the majority must elect a new leader; after
/// the partition heals, the old leader must step down and everyone must agree again.
fn leader_cut_off(program: &mut Stdio, rng: Rng, name: &str, k: u64) -> Result<Vec<u64>, Failure> {
    let mut sim = Sim::start(program, rng, name, k)?;
    let leader = sim.elect("with a healthy network")?;
    let old_term = sim.model.state(leader).term;
    let mut island = BTreeSet::from([leader]);
    if sim.size() == 5 {
        island.insert((leader + 1 + sim.net.rng().below(4) as usize) % 5);
    }
    let majority: Vec<usize> = sim.all().into_iter().filter(|n| !island.contains(n)).collect();
    sim.net.isolate(&island);
    sim.model.trace.push(format!("r{} the network cuts off {island:?} (leader n{leader})", sim.net.round()));
    let rule = format!(
        "once leader n{leader} of term {old_term} is cut off, the majority {majority:?} elects a new leader in a \
         higher term within {ELECTION_BOUND} ticks"
    );
    sim.until(ELECTION_BOUND, &rule, |m| m.leader_above(&majority, old_term).is_some())?;
    for _ in 0..sim.net.rng().range(0, 20) {
        sim.round()?;
    }
    sim.net.heal();
    sim.model.trace.push(format!("r{} the partition heals", sim.net.round()));
    sim.elect(&format!("after the partition heals (the old leader n{leader} must learn the new term and step down)"))?;
    Ok(sim.finish())
}

/// A node with a log behind everyone else's is isolated and keeps campaigning, so its term climbs; when it
/// rejoins it cannot win, and it must not keep the others from agreeing on a leader.
fn stale_rejoin(program: &mut Stdio, mut rng: Rng, name: &str, k: u64) -> Result<Vec<u64>, Failure> {
    let size = if k % 2 == 0 { 5 } else { 3 };
    let stale = rng.below(size as u64) as usize;
    let logs: Vec<LogPosition> = (0..size)
        .map(|i| if i == stale { LogPosition { last_index: 1, last_term: 1 } } else { random_log(&mut rng, 2) })
        .collect();
    let mut fresh = Sim::start_with(program, rng, name, k, logs)?;
    fresh.net.isolate(&BTreeSet::from([stale]));
    fresh.model.trace.push(format!("r0 n{stale} (stale log) is cut off from the others"));
    let isolation = fresh.net.rng().range(100, 140);
    for _ in 0..isolation {
        fresh.round()?;
    }
    let stale_term = fresh.model.state(stale).term;
    fresh.net.heal();
    fresh.model.trace.push(format!("r{} n{stale} rejoins in term {stale_term}", fresh.net.round()));
    let leader = fresh.elect(&format!(
        "after n{stale} (stale log, term {stale_term}) rejoins, its vote requests are refused; nevertheless"
    ))?;
    let term = fresh.model.state(leader).term;
    if term < stale_term {
        let rule = format!(
            "the agreed leader's term cannot be below a term a node already reached: n{stale} was in term \
             {stale_term}, the leader n{leader} is in term {term}"
        );
        return Err(fresh.model.fail(rule));
    }
    Ok(fresh.finish())
}

/// Drives node 0 by hand with made-up messages from the others, checking each answer against the rules.
fn hand_driven(program: &mut Stdio, mut rng: Rng, name: &str, k: u64) -> Result<Vec<u64>, Failure> {
    let size = if k % 2 == 0 { 5 } else { 3 };
    let own = LogPosition { last_index: 4 + rng.below(4), last_term: 2 + rng.below(2) };
    let mut logs = vec![own];
    logs.extend((1..size).map(|_| random_log(&mut rng, 0)));
    let mut hand = Sim::start_with(program, rng.fork(1), name, k, logs)?;
    let h = &mut hand;

    // Tick node 0 into an election, then hand it one vote twice (duplicated) and, in a cluster of 5, a third.
    let term = h.tick_until_candidate()?;
    let granted = |from: usize| Message { from, to: 0, term, body: Body::RequestVoteReply { granted: true } };
    h.deliver(granted(1))?;
    h.deliver(granted(1))?;
    if size == 5 {
        h.deliver(granted(2))?;
    }
    let want = if size == 5 { "three distinct votes of five" } else { "two distinct votes of three" };
    if h.model.state(0).role != Role::Leader {
        return Err(h.model.fail(format!("node 0 holds {want}: it must have become leader")));
    }
    // A higher term in a reply deposes the leader.
    h.deliver(Message { from: 1, to: 0, term: term + 1, body: Body::AppendEntriesReply { success: false } })?;

    // Vote requests around the up-to-date check: equal, shorter, older last term, newer last term.
    let t = term + 2;
    let logs = [
        LogPosition { last_index: own.last_index - 1, last_term: own.last_term },
        LogPosition { last_index: own.last_index + 3, last_term: own.last_term - 1 },
        LogPosition { last_index: own.last_index, last_term: own.last_term },
    ];
    for (i, log) in logs.iter().enumerate() {
        h.deliver(vote_request(1 + i % (size - 1), t + i as u64, *log))?;
    }
    let winner = 1 + rng.below(size as u64 - 1) as usize;
    let later = t + 3;
    let newer = LogPosition { last_index: 1, last_term: own.last_term + 1 };
    h.deliver(vote_request(winner, later, newer))?;
    h.deliver(vote_request(1 + winner % (size - 1), later, own))?;
    h.deliver(vote_request(winner, later, newer))?;

    // Heartbeats: a stale one is refused; the current leader's keep node 0 from an election for a long while.
    h.deliver(Message { from: winner, to: 0, term: later - 1, body: Body::AppendEntries })?;
    for _ in 0..8 {
        h.deliver(Message { from: winner, to: 0, term: later, body: Body::AppendEntries })?;
        for _ in 0..TIMEOUT_MIN - 1 {
            h.run(vec![Event::Tick(0)])?;
        }
    }

    // Then a seeded mix of everything around node 0's current term.
    for _ in 0..40 {
        let state = h.model.state(0);
        let from = 1 + rng.below(size as u64 - 1) as usize;
        let term = (state.term + rng.below(3)).saturating_sub(1);
        let log = h.model.log(0);
        let event = match rng.below(10) {
            0..=2 => {
                for _ in 0..rng.range(1, 8) {
                    h.run(vec![Event::Tick(0)])?;
                }
                continue;
            }
            3..=5 => {
                let near = LogPosition {
                    last_index: (log.last_index + rng.below(5)).saturating_sub(2),
                    last_term: (log.last_term + rng.below(3)).saturating_sub(1),
                };
                vote_request(from, term, near)
            }
            6 | 7 => {
                let body = Body::RequestVoteReply { granted: rng.chance(3, 4) };
                Message { from, to: 0, term, body }
            }
            // A made-up leader must not share a term that node 0 leads.
            8 if !(state.role == Role::Leader && term == state.term) => {
                Message { from, to: 0, term, body: Body::AppendEntries }
            }
            _ => Message { from, to: 0, term, body: Body::AppendEntriesReply { success: rng.chance(1, 2) } },
        };
        let twice = rng.chance(1, 5);
        h.deliver(event.clone())?;
        if twice {
            h.deliver(event)?;
        }
    }
    Ok(hand.finish())
}

fn vote_request(from: usize, term: u64, log: LogPosition) -> Message {
    let body = Body::RequestVote { last_log_index: log.last_index, last_log_term: log.last_term };
    Message { from, to: 0, term, body }
}

impl Sim<'_> {
    /// Delivers one made-up message (the answer is checked, and not sent on).
    fn deliver(&mut self, msg: Message) -> Result<(), Failure> {
        self.net.advance();
        self.apply(vec![Event::Deliver(msg)])?;
        Ok(())
    }

    /// Ticks node 0 until it starts an election; returns the election's term.
    fn tick_until_candidate(&mut self) -> Result<u64, Failure> {
        for _ in 0..TIMEOUT_MAX {
            self.net.advance();
            self.apply(vec![Event::Tick(0)])?;
            let state = self.model.state(0);
            if state.role == Role::Candidate {
                return Ok(state.term);
            }
        }
        Err(self.model.fail(format!("a follower starts an election within {TIMEOUT_MAX} ticks")))
    }
}
