//! The reference lock manager of `db5_lock_manager`, with what a report needs: the lock table and the
//! wait-for graph in words.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A lock mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    S,
    X,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::S => "S",
            Mode::X => "X",
        })
    }
}

/// Whether two modes cannot be held together by different transactions.
pub fn conflicts(a: Mode, b: Mode) -> bool {
    a == Mode::X || b == Mode::X
}

/// Something a request caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Granted { tx: u64, row: String },
    Waiting { tx: u64, row: String },
    Aborted { tx: u64 },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Granted { tx, row } => {
                write!(f, r#"{{"event":"granted","tx":{tx},"row":"{row}"}}"#)
            }
            Event::Waiting { tx, row } => {
                write!(f, r#"{{"event":"waiting","tx":{tx},"row":"{row}"}}"#)
            }
            Event::Aborted { tx } => write!(f, r#"{{"event":"aborted","tx":{tx}}}"#),
        }
    }
}

/// The lock table entry of one row.
#[derive(Debug, Clone, Default)]
pub struct RowLock {
    pub holders: BTreeMap<u64, Mode>,
    pub queue: VecDeque<(u64, Mode)>,
}

impl RowLock {
    /// Whether `tx` could hold `mode` alongside every other holder.
    pub fn compatible(&self, tx: u64, mode: Mode) -> bool {
        self.holders
            .iter()
            .all(|(&holder, &held)| holder == tx || !conflicts(mode, held))
    }
}

/// The reference lock manager.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub rows: BTreeMap<String, RowLock>,
    /// Running transactions and their age (larger: younger).
    pub begun: BTreeMap<u64, u64>,
    next_age: u64,
    pub waiting: BTreeMap<u64, String>,
}

impl Model {
    pub fn begin(&mut self, tx: u64) {
        self.next_age += 1;
        self.begun.insert(tx, self.next_age);
    }

    /// `None` when the request is refused (unknown or waiting transaction).
    pub fn lock(&mut self, tx: u64, row: &str, mode: Mode) -> Option<Vec<Event>> {
        self.lock_then(tx, row, mode, true)
    }

    /// Like [`Model::lock`]; with `resolve` false, a deadlock the request closes is left in place (for reports).
    pub fn lock_then(
        &mut self,
        tx: u64,
        row: &str,
        mode: Mode,
        resolve: bool,
    ) -> Option<Vec<Event>> {
        if !self.begun.contains_key(&tx) || self.waiting.contains_key(&tx) {
            return None;
        }
        let granted = vec![Event::Granted {
            tx,
            row: row.to_string(),
        }];
        let lock = self.rows.entry(row.to_string()).or_default();
        let held = lock.holders.get(&tx).copied();
        if held == Some(Mode::X) || held == Some(mode) {
            return Some(granted);
        }
        let is_upgrade = held.is_some();
        if lock.compatible(tx, mode) && (is_upgrade || lock.queue.is_empty()) {
            lock.holders.insert(tx, mode);
            return Some(granted);
        }
        if is_upgrade {
            let upgrades = lock
                .queue
                .iter()
                .take_while(|(waiter, _)| lock.holders.contains_key(waiter))
                .count();
            lock.queue.insert(upgrades, (tx, mode));
        } else {
            lock.queue.push_back((tx, mode));
        }
        self.waiting.insert(tx, row.to_string());
        let mut events = vec![Event::Waiting {
            tx,
            row: row.to_string(),
        }];
        if resolve {
            events.extend(self.resolve_deadlocks());
        }
        Some(events)
    }

    /// `None` when `tx` is not running.
    pub fn release(&mut self, tx: u64) -> Option<Vec<Event>> {
        self.begun.remove(&tx)?;
        let mut touched = BTreeSet::new();
        if let Some(row) = self.waiting.remove(&tx) {
            if let Some(lock) = self.rows.get_mut(&row) {
                lock.queue.retain(|&(waiter, _)| waiter != tx);
            }
            touched.insert(row);
        }
        for (row, lock) in &mut self.rows {
            if lock.holders.remove(&tx).is_some() {
                touched.insert(row.clone());
            }
        }
        let mut events = Vec::new();
        for row in touched {
            let lock = self.rows.get_mut(&row).expect("a touched row exists");
            while let Some(&(waiter, mode)) = lock.queue.front() {
                if !lock.compatible(waiter, mode) {
                    break;
                }
                lock.queue.pop_front();
                lock.holders.insert(waiter, mode);
                self.waiting.remove(&waiter);
                events.push(Event::Granted {
                    tx: waiter,
                    row: row.clone(),
                });
            }
        }
        Some(events)
    }

    /// Whom `tx` waits for.
    pub fn waits_for(&self, tx: u64) -> Vec<u64> {
        let Some(row) = self.waiting.get(&tx) else {
            return Vec::new();
        };
        let lock = &self.rows[row];
        let Some(position) = lock.queue.iter().position(|&(waiter, _)| waiter == tx) else {
            return Vec::new();
        };
        let mode = lock.queue[position].1;
        let holders = lock
            .holders
            .iter()
            .filter(|&(&holder, &held)| holder != tx && conflicts(mode, held))
            .map(|(&holder, _)| holder);
        let ahead = lock
            .queue
            .iter()
            .take(position)
            .filter(|&&(_, wanted)| conflicts(mode, wanted))
            .map(|&(waiter, _)| waiter);
        holders.chain(ahead).collect()
    }

    /// Whether `tx` can reach itself in the wait-for graph.
    pub fn on_cycle(&self, tx: u64) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = self.waits_for(tx);
        while let Some(next) = stack.pop() {
            if next == tx {
                return true;
            }
            if seen.insert(next) {
                stack.extend(self.waits_for(next));
            }
        }
        false
    }

    /// The transactions on a cycle, oldest first.
    pub fn cycle_members(&self) -> Vec<u64> {
        let mut members: Vec<u64> = self
            .waiting
            .keys()
            .copied()
            .filter(|&tx| self.on_cycle(tx))
            .collect();
        members.sort_by_key(|tx| self.begun[tx]);
        members
    }

    fn resolve_deadlocks(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(&victim) = self.cycle_members().last() {
            events.push(Event::Aborted { tx: victim });
            events.extend(self.release(victim).unwrap_or_default());
        }
        events
    }

    /// The lock table in words: holders and queue per row.
    pub fn describe(&self) -> String {
        let rows: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, lock)| !lock.holders.is_empty() || !lock.queue.is_empty())
            .map(|(row, lock)| {
                let holders: Vec<String> = lock
                    .holders
                    .iter()
                    .map(|(tx, mode)| format!("T{tx}:{mode}"))
                    .collect();
                let queue: Vec<String> = lock
                    .queue
                    .iter()
                    .map(|(tx, mode)| format!("T{tx}:{mode}"))
                    .collect();
                format!(
                    "{row} held by [{}] queue [{}]",
                    holders.join(" "),
                    queue.join(" ")
                )
            })
            .collect();
        if rows.is_empty() {
            "no locks".into()
        } else {
            rows.join("; ")
        }
    }

    /// The wait-for edges in words.
    pub fn describe_edges(&self) -> String {
        let edges: Vec<String> = self
            .waiting
            .keys()
            .flat_map(|&tx| {
                self.waits_for(tx)
                    .into_iter()
                    .map(move |to| format!("T{tx} → T{to}"))
            })
            .collect();
        if edges.is_empty() {
            "none".into()
        } else {
            edges.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A cycle through a queue entry is found, and the youngest on it is the victim.
    #[test]
    fn cycle_through_a_queue() {
        let mut model = Model::default();
        for tx in 1..=3 {
            model.begin(tx);
        }
        model.lock(3, "b", Mode::X);
        model.lock(1, "a", Mode::S);
        model.lock(2, "a", Mode::X);
        model.lock(3, "a", Mode::S);
        assert_eq!(
            model.lock(1, "b", Mode::X),
            Some(vec![
                Event::Waiting {
                    tx: 1,
                    row: "b".into()
                },
                Event::Aborted { tx: 3 },
                Event::Granted {
                    tx: 1,
                    row: "b".into()
                },
            ])
        );
    }
}
