//! Grader of `raft1_election`: the learner's nodes run inside one program; the grader is their network.
//!
//! It starts clusters of 3 and 5 nodes (`init`), ticks every node once per round and delivers messages with
//! seeded delays, loss, duplication and partitions, and checks every answer against the election rules
//! ([`model`]). Scenarios: single-node vote rules driven by hand, healthy elections, lossy networks, a leader cut
//! off from the majority, and a stale node rejoining with a higher term. A failure shows the broken rule, the
//! cluster, and the last 30 events.

mod model;
mod scenarios;
mod sim;
mod wire;

use std::collections::BTreeSet;

use backlings_grade::{Failure, Grading, Rng, Stdio};

use model::{SAME_TIMEOUT_IN_A_ROW, TIMEOUT_MAX, TIMEOUT_MIN};
use scenarios::{hand_driven, healthy, leader_cut_off, lossy, stale_rejoin};

/// Clusters per scenario, and the rounds they run.
const HAND_DRIVEN_CLUSTERS: u64 = 12;
const HEALTHY_CLUSTERS: u64 = 50;
const LOSSY_CLUSTERS: u64 = 30;
const CUT_OFF_CLUSTERS: u64 = 30;
const STALE_CLUSTERS: u64 = 30;
/// Ticks within which a healthy network must agree on a leader: a few election timeouts, far above what
/// randomized timeouts need (split votes rarely repeat) and far below what a livelock takes.
const ELECTION_BOUND: u64 = 8 * TIMEOUT_MAX;
/// Ticks of silence that end each hand-driven cluster: enough for a run of measured elections long enough
/// to tell a fixed timeout from a random one, even at the longest timeout.
const SILENT_TICKS: u64 = (SAME_TIMEOUT_IN_A_ROW as u64 + 1) * TIMEOUT_MAX + 10;
/// Rounds a healthy cluster with a leader is watched for needless elections.
const STABLE_ROUNDS: u64 = 15;
/// Rounds of a lossy network before it heals.
const LOSSY_ROUNDS: u64 = 50;
/// Distinct timeouts the hand-driven clusters (one measured election each, at least) must show, and the
/// whole grading (thousands) must show; the contract allows 11, and fewer by chance is below one in a million.
const DISTINCT_TIMEOUTS_EARLY: usize = 3;
const DISTINCT_TIMEOUTS: usize = 5;

/// Grades `raft1_election`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut runner = Runner {
        program: g.stdio()?,
        observed: Vec::new(),
        clusters: 0,
    };
    g.scenario(
        "vote rules, one node driven by hand: RequestVote, replies, heartbeats, higher terms",
    );
    runner.run(g, HAND_DRIVEN_CLUSTERS, hand_driven, "hand-driven")?;
    check_random_timeouts(&runner.observed, DISTINCT_TIMEOUTS_EARLY)?;
    g.scenario("healthy network: the cluster agrees on one leader in time, then stays quiet");
    runner.run(g, HEALTHY_CLUSTERS, healthy, "healthy")?;
    g.scenario(
        "lossy network (loss, duplicates, delays): safety throughout, a leader once it heals",
    );
    runner.run(g, LOSSY_CLUSTERS, lossy, "lossy")?;
    g.scenario(
        "leader cut off: the majority elects a new leader; the old one steps down on rejoining",
    );
    runner.run(g, CUT_OFF_CLUSTERS, leader_cut_off, "leader cut off")?;
    g.scenario(
        "a node with a stale log rejoins with a higher term: the cluster still agrees on a leader",
    );
    runner.run(g, STALE_CLUSTERS, stale_rejoin, "stale node rejoins")?;
    g.scenario("election timeouts are random within 10..=20 ticks");
    check_random_timeouts(&runner.observed, DISTINCT_TIMEOUTS)
}

/// A scenario runs one cluster (the `k`-th of its kind) and returns the election timeouts it measured.
type Scenario = fn(&mut Stdio, Rng, &str, u64) -> Result<Vec<u64>, Failure>;

/// Runs clusters one after the other in one program (each starts with `init`).
struct Runner {
    program: Stdio,
    observed: Vec<u64>,
    clusters: u64,
}

impl Runner {
    fn run(
        &mut self,
        g: &mut Grading,
        count: u64,
        scenario: Scenario,
        name: &str,
    ) -> Result<(), Failure> {
        for k in 0..count {
            self.clusters += 1;
            let rng = g.rng().fork(self.clusters);
            self.observed
                .extend(scenario(&mut self.program, rng, name, k)?);
        }
        Ok(())
    }
}

/// Fails unless the measured election timeouts take at least `distinct` different values.
fn check_random_timeouts(observed: &[u64], distinct: usize) -> Result<(), Failure> {
    let seen: BTreeSet<u64> = observed.iter().copied().collect();
    if seen.len() >= distinct {
        return Ok(());
    }
    let rule = format!(
        "election timeouts are drawn at random from {TIMEOUT_MIN}..={TIMEOUT_MAX} ticks: over {} measured \
         elections the nodes only ever waited {seen:?} ticks, so nodes that time out together keep splitting \
         the vote",
        observed.len()
    );
    Err(Failure::new(rule)
        .detail("draw a fresh timeout from the node's RNG every time the timer resets"))
}
