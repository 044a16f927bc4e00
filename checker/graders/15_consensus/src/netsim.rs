//! A deterministic simulated network for the consensus graders: seeded delays, loss, duplication and
//! partitions, plus the compact event trace a failure report ends with.
//!
//! Time is counted in rounds. In each round the grader ticks every node once, then delivers every message whose
//! delivery round has come. Every random choice comes from the grader's [`Rng`], so a seed replays a whole run.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use backlings_grade::Rng;

/// A message that knows its sender and its receiver.
pub trait Addressed {
    /// The sending node.
    fn sender(&self) -> usize;
    /// The receiving node.
    fn receiver(&self) -> usize;
}

/// How badly the network behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions {
    /// A message arrives 0 to `max_delay` rounds after it was sent.
    pub max_delay: u64,
    /// Percent of messages lost.
    pub loss_percent: u64,
    /// Percent of messages delivered twice (each copy with its own delay).
    pub duplicate_percent: u64,
}

impl Conditions {
    /// No loss, no duplicates, at most one round of delay.
    pub const HEALTHY: Conditions = Conditions {
        max_delay: 1,
        loss_percent: 0,
        duplicate_percent: 0,
    };
}

struct InFlight<M> {
    due: u64,
    seq: u64,
    msg: M,
}

/// The messages in flight between the nodes of one simulated cluster.
pub struct Network<M> {
    round: u64,
    next_seq: u64,
    in_flight: Vec<InFlight<M>>,
    conditions: Conditions,
    /// The partition side of every node; nodes on different sides cannot talk.
    side: Vec<usize>,
    rng: Rng,
}

impl<M: Addressed + Clone> Network<M> {
    /// A healthy, unpartitioned network between `nodes` nodes.
    pub fn new(nodes: usize, rng: Rng) -> Self {
        Network {
            round: 0,
            next_seq: 0,
            in_flight: Vec::new(),
            conditions: Conditions::HEALTHY,
            side: vec![0; nodes],
            rng,
        }
    }

    /// The current round.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// Moves to the next round.
    pub fn advance(&mut self) {
        self.round += 1;
    }

    /// The network's own random source (delivery order, delays, loss), also handy for the scenario.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Changes how the network behaves from now on.
    pub fn set_conditions(&mut self, conditions: Conditions) {
        self.conditions = conditions;
    }

    /// Cuts `island` off from every other node (both directions).
    pub fn isolate(&mut self, island: &BTreeSet<usize>) {
        for (node, side) in self.side.iter_mut().enumerate() {
            *side = usize::from(island.contains(&node));
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.side.iter_mut().for_each(|side| *side = 0);
    }

    /// Whether `a` and `b` are on the same side of the partition.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.side[a] == self.side[b]
    }

    /// Puts a message on the wire: it may be lost, duplicated and delayed.
    pub fn send(&mut self, msg: M) {
        if self.rng.chance(self.conditions.loss_percent, 100) {
            return;
        }
        let copies = if self.rng.chance(self.conditions.duplicate_percent, 100) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let due = self.round + self.rng.range(0, self.conditions.max_delay);
            self.in_flight.push(InFlight {
                due,
                seq: self.next_seq,
                msg: msg.clone(),
            });
            self.next_seq += 1;
        }
    }

    /// Takes the messages due by now in a seeded order, dropping those that cross a partition.
    pub fn take_due(&mut self) -> Vec<M> {
        let round = self.round;
        let (mut due, waiting): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|m| m.due <= round);
        self.in_flight = waiting;
        due.sort_by_key(|m| m.seq);
        self.rng.shuffle(&mut due);
        due.into_iter()
            .map(|m| m.msg)
            .filter(|msg| self.connected(msg.sender(), msg.receiver()))
            .collect()
    }
}

/// The last events of a simulation, kept for the failure report. Events are formatted only when a report
/// needs them: a grading records tens of thousands.
#[derive(Debug)]
pub struct Trace<E> {
    events: VecDeque<TraceEvent<E>>,
}

#[derive(Debug)]
enum TraceEvent<E> {
    Event(E),
    /// Something the grader did to the network.
    Note(String),
    /// Rounds `first..=last` in which ticks changed nothing and sent nothing.
    Quiet {
        first: u64,
        last: u64,
    },
}

impl<E> Default for Trace<E> {
    fn default() -> Self {
        Trace {
            events: VecDeque::new(),
        }
    }
}

impl<E: fmt::Display> Trace<E> {
    /// How many events a report shows.
    pub const KEPT: usize = 30;

    /// Records one event.
    pub fn push(&mut self, event: E) {
        self.keep(TraceEvent::Event(event));
    }

    /// Records what the grader did to the network: "r40 the partition heals".
    pub fn note(&mut self, note: String) {
        self.keep(TraceEvent::Note(note));
    }

    /// Records a tick in `round` that changed nothing; runs of them share one line.
    pub fn push_quiet(&mut self, round: u64) {
        if let Some(TraceEvent::Quiet { last, .. }) = self.events.back_mut() {
            *last = round;
            return;
        }
        self.keep(TraceEvent::Quiet {
            first: round,
            last: round,
        });
    }

    fn keep(&mut self, event: TraceEvent<E>) {
        if self.events.len() == Self::KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The kept events, oldest first, as report lines.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.events.iter().map(|event| match event {
            TraceEvent::Event(event) => event.to_string(),
            TraceEvent::Note(note) => note.clone(),
            TraceEvent::Quiet { first, last } if first == last => {
                format!("r{first} ticks, nothing happens")
            }
            TraceEvent::Quiet { first, last } => format!("r{first}-r{last} ticks, nothing happens"),
        })
    }
}
