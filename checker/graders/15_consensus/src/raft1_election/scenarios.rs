//! The scenarios of `raft1_election`: each runs one cluster and returns the election timeouts it measured.

use std::collections::BTreeSet;

use backlings_grade::{Failure, Rng, Stdio};

use super::model::TIMEOUT_MIN;
use super::sim::{Sim, cluster_size, random_log};
use super::wire::{Body, Event, LogPosition, Message, Role};
use super::{ELECTION_BOUND, LOSSY_ROUNDS, SILENT_TICKS, STABLE_ROUNDS};
use crate::netsim::Conditions;

/// A healthy network: the cluster must agree on a leader, and then nobody starts an election.
pub(super) fn healthy(
    program: &mut Stdio,
    rng: Rng,
    name: &str,
    k: u64,
) -> Result<Vec<u64>, Failure> {
    let mut sim = Sim::start(program, rng, name, k)?;
    let leader = sim.elect("with a healthy network (no loss, delays of at most one tick)")?;
    let term = sim.model.state(leader).term;
    for _ in 0..STABLE_ROUNDS {
        sim.round()?;
        if sim.model.agreed_leader(&sim.all()) != Some(leader)
            || sim.model.state(leader).term != term
        {
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
pub(super) fn lossy(
    program: &mut Stdio,
    rng: Rng,
    name: &str,
    k: u64,
) -> Result<Vec<u64>, Failure> {
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
    sim.model
        .trace
        .note(format!("r{} the network heals", sim.net.round()));
    sim.elect("once a lossy network heals")?;
    Ok(sim.finish())
}

/// The leader (with one follower, in a cluster of 5) is cut off: the majority must elect a new leader; after
/// the partition heals, the old leader must step down and everyone must agree again.
pub(super) fn leader_cut_off(
    program: &mut Stdio,
    rng: Rng,
    name: &str,
    k: u64,
) -> Result<Vec<u64>, Failure> {
    let mut sim = Sim::start(program, rng, name, k)?;
    let leader = sim.elect("with a healthy network")?;
    let old_term = sim.model.state(leader).term;
    let mut island = BTreeSet::from([leader]);
    if sim.size() == 5 {
        island.insert((leader + 1 + sim.net.rng().below(4) as usize) % 5);
    }
    let majority: Vec<usize> = sim
        .all()
        .into_iter()
        .filter(|n| !island.contains(n))
        .collect();
    sim.net.isolate(&island);
    sim.model.trace.note(format!(
        "r{} the network cuts off {island:?} (leader n{leader})",
        sim.net.round()
    ));
    let rule = format!(
        "once leader n{leader} of term {old_term} is cut off, the majority {majority:?} elects a new leader in a \
         higher term within {ELECTION_BOUND} ticks"
    );
    sim.until(ELECTION_BOUND, &rule, |m| {
        m.leader_above(&majority, old_term).is_some()
    })?;
    for _ in 0..sim.net.rng().range(0, 20) {
        sim.round()?;
    }
    sim.net.heal();
    sim.model
        .trace
        .note(format!("r{} the partition heals", sim.net.round()));
    sim.elect(&format!(
        "after the partition heals (the old leader n{leader} must learn the new term and step down)"
    ))?;
    Ok(sim.finish())
}

/// A node with a log behind everyone else's is isolated and keeps campaigning, so its term climbs; when it
/// rejoins it cannot win, and it must not keep the others from agreeing on a leader.
pub(super) fn stale_rejoin(
    program: &mut Stdio,
    mut rng: Rng,
    name: &str,
    k: u64,
) -> Result<Vec<u64>, Failure> {
    let size = cluster_size(k);
    let stale = rng.below(size as u64) as usize;
    let logs: Vec<LogPosition> = (0..size)
        .map(|i| {
            if i == stale {
                LogPosition {
                    last_index: 1,
                    last_term: 1,
                }
            } else {
                random_log(&mut rng, 2)
            }
        })
        .collect();
    let mut fresh = Sim::start_with(program, rng, name, k, logs)?;
    fresh.net.isolate(&BTreeSet::from([stale]));
    fresh.model.trace.note(format!(
        "r0 n{stale} (stale log) is cut off from the others"
    ));
    let isolation = fresh.net.rng().range(40, 70);
    for _ in 0..isolation {
        fresh.round()?;
    }
    let stale_term = fresh.model.state(stale).term;
    fresh.net.heal();
    fresh.model.trace.note(format!(
        "r{} n{stale} rejoins in term {stale_term}",
        fresh.net.round()
    ));
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
pub(super) fn hand_driven(
    program: &mut Stdio,
    mut rng: Rng,
    name: &str,
    k: u64,
) -> Result<Vec<u64>, Failure> {
    let size = cluster_size(k);
    let own = LogPosition {
        last_index: 4 + rng.below(4),
        last_term: 2 + rng.below(2),
    };
    let mut logs = vec![own];
    logs.extend((1..size).map(|_| random_log(&mut rng, 0)));
    let mut hand = Sim::start_with(program, rng.fork(1), name, k, logs)?;
    let h = &mut hand;

    // Tick node 0 into an election, then hand it one vote twice (duplicated) and, in a cluster of 5, a third.
    let term = h.tick_until_candidate()?;
    let granted = |from: usize| Message {
        from,
        to: 0,
        term,
        body: Body::RequestVoteReply { granted: true },
    };
    h.deliver(granted(1))?;
    h.deliver(granted(1))?;
    if size == 5 {
        h.deliver(granted(2))?;
    }
    let want = if size == 5 {
        "three distinct votes of five"
    } else {
        "two distinct votes of three"
    };
    if h.model.state(0).role != Role::Leader {
        return Err(h
            .model
            .fail(format!("node 0 holds {want}: it must have become leader")));
    }
    // A higher term in a reply deposes the leader.
    h.deliver(Message {
        from: 1,
        to: 0,
        term: term + 1,
        body: Body::AppendEntriesReply { success: false },
    })?;

    // Vote requests around the up-to-date check: equal, shorter, older last term, newer last term.
    let t = term + 2;
    let logs = [
        LogPosition {
            last_index: own.last_index - 1,
            last_term: own.last_term,
        },
        LogPosition {
            last_index: own.last_index + 3,
            last_term: own.last_term - 1,
        },
        LogPosition {
            last_index: own.last_index,
            last_term: own.last_term,
        },
    ];
    for (i, log) in logs.iter().enumerate() {
        h.deliver(vote_request(1 + i % (size - 1), t + i as u64, *log))?;
    }
    let winner = 1 + rng.below(size as u64 - 1) as usize;
    let later = t + 3;
    let newer = LogPosition {
        last_index: 1,
        last_term: own.last_term + 1,
    };
    h.deliver(vote_request(winner, later, newer))?;
    h.deliver(vote_request(1 + winner % (size - 1), later, own))?;
    h.deliver(vote_request(winner, later, newer))?;

    // Heartbeats: a stale one is refused; the current leader's keep node 0 from an election for a long while.
    h.deliver(Message {
        from: winner,
        to: 0,
        term: later - 1,
        body: Body::AppendEntries,
    })?;
    for _ in 0..8 {
        h.deliver(Message {
            from: winner,
            to: 0,
            term: later,
            body: Body::AppendEntries,
        })?;
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
                let body = Body::RequestVoteReply {
                    granted: rng.chance(3, 4),
                };
                Message {
                    from,
                    to: 0,
                    term,
                    body,
                }
            }
            // A made-up leader must not share a term that node 0 leads.
            8 if !(state.role == Role::Leader && term == state.term) => Message {
                from,
                to: 0,
                term,
                body: Body::AppendEntries,
            },
            _ => Message {
                from,
                to: 0,
                term,
                body: Body::AppendEntriesReply {
                    success: rng.chance(1, 2),
                },
            },
        };
        let twice = rng.chance(1, 5);
        h.deliver(event.clone())?;
        if twice {
            h.deliver(event)?;
        }
    }
    // Finally node 0 hears nothing for a long while: it must time out again and again, each time after a
    // freshly drawn timeout.
    for _ in 0..SILENT_TICKS {
        h.run(vec![Event::Tick(0)])?;
    }
    Ok(hand.finish())
}

fn vote_request(from: usize, term: u64, log: LogPosition) -> Message {
    let body = Body::RequestVote {
        last_log_index: log.last_index,
        last_log_term: log.last_term,
    };
    Message {
        from,
        to: 0,
        term,
        body,
    }
}
