//! The reference model of `cache2_eviction_policies`, and its deliberately flawed variants.
//!
//! One model serves the three policies: every entry gets a *rank* (LFU: use count then last use; FIFO:
//! insertion; TTL: expiry then last write) kept in one ordered map, so the victim is always the first rank.
//! That is built differently from the exercise (no buckets, no `min_count`), O(log n), and obviously right.
//! A [`Flaw`] turns it into one classic wrong cache, to name a mistake when a program disagrees.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// An eviction policy of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Lfu,
    Fifo,
    Ttl,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Lfu => "lfu",
            Policy::Fifo => "fifo",
            Policy::Ttl => "ttl",
        })
    }
}

/// One classic way to get a policy wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// LFU: among entries with the lowest count, evicts the most recently used.
    LfuTieEvictsNewest,
    /// LFU: an overwriting `put` replaces the value but does not count as a use.
    LfuOverwriteNotCounted,
    /// FIFO: `get` moves the key to the back, which makes it LRU.
    FifoGetRefreshes,
    /// TTL: an entry is still live at its expiry time (`>` instead of `>=`).
    TtlExpiresLate,
    /// TTL: an overwriting `put` keeps the old expiry time.
    TtlOverwriteKeepsExpiry,
    /// TTL: `sweep` removes nothing (lazy expiry only).
    SweepDoesNothing,
}

impl Flaw {
    /// Every flaw, in the order a diagnosis tries them.
    pub const ALL: [Flaw; 6] = [
        Flaw::LfuOverwriteNotCounted,
        Flaw::LfuTieEvictsNewest,
        Flaw::FifoGetRefreshes,
        Flaw::TtlExpiresLate,
        Flaw::TtlOverwriteKeepsExpiry,
        Flaw::SweepDoesNothing,
    ];

    /// The mistake in words a learner can act on.
    pub fn diagnosis(self) -> &'static str {
        match self {
            Flaw::LfuTieEvictsNewest => {
                "among the entries with the lowest use count it evicted the most recently used one; the tie-break \
                 is the least recently used (the oldest stamp in the bucket)"
            }
            Flaw::LfuOverwriteNotCounted => {
                "a put that overwrote a cached key did not count as a use (its count and its last use must move \
                 like a get's)"
            }
            Flaw::FifoGetRefreshes => {
                "get moved the key to the back of the queue, which makes the cache LRU: in FIFO a read changes nothing"
            }
            Flaw::TtlExpiresLate => {
                "the entry was still served at its expiry time: expired means now >= expires_at, not now > expires_at"
            }
            Flaw::TtlOverwriteKeepsExpiry => {
                "a put that overwrote a cached key kept its old expiry time: a write restarts the TTL"
            }
            Flaw::SweepDoesNothing => {
                "sweep removed nothing: lazy expiry on get is not enough, sweep must free every expired entry"
            }
        }
    }
}

/// What the model keeps per entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: u64,
    count: u64,
    last_use: u64,
    inserted: u64,
    written: u64,
    expires_at: u64,
}

/// A cache of one policy, with the fake clock it reads.
#[derive(Debug, Clone)]
pub struct Model {
    policy: Policy,
    capacity: usize,
    ttl_ms: u64,
    flaw: Option<Flaw>,
    now: u64,
    stamp: u64,
    entries: HashMap<u64, Entry>,
    /// rank -> key: the first one is the next victim.
    by_rank: BTreeMap<(u64, u64), u64>,
}

impl Model {
    /// The model before the first `new`: FIFO, capacity 0, clock 0.
    pub fn start(flaw: Option<Flaw>) -> Self {
        Model::new(Policy::Fifo, 0, 0, 0, flaw)
    }

    /// An empty cache reading a clock at `now`.
    pub fn new(policy: Policy, capacity: usize, ttl_ms: u64, now: u64, flaw: Option<Flaw>) -> Self {
        Model {
            policy,
            capacity,
            ttl_ms,
            flaw,
            now,
            stamp: 0,
            entries: HashMap::new(),
            by_rank: BTreeMap::new(),
        }
    }

    /// A fresh cache of another policy on the same clock, with the same flaw.
    pub fn renew(&self, policy: Policy, capacity: usize, ttl_ms: u64) -> Self {
        Model::new(policy, capacity, ttl_ms, self.now, self.flaw)
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.entries.contains_key(&key)
    }

    /// Whether `key` is held but expired (TTL only).
    pub fn is_expired(&self, key: u64) -> bool {
        self.entries
            .get(&key)
            .is_some_and(|entry| self.expired(entry))
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    fn expired(&self, entry: &Entry) -> bool {
        self.policy == Policy::Ttl
            && if self.has(Flaw::TtlExpiresLate) {
                self.now > entry.expires_at
            } else {
                self.now >= entry.expires_at
            }
    }

    fn rank(&self, entry: &Entry) -> (u64, u64) {
        match self.policy {
            Policy::Lfu if self.has(Flaw::LfuTieEvictsNewest) => {
                (entry.count, u64::MAX - entry.last_use)
            }
            Policy::Lfu => (entry.count, entry.last_use),
            Policy::Fifo => (entry.inserted, 0),
            Policy::Ttl => (entry.expires_at, entry.written),
        }
    }

    /// Applies `change` to the cached `key`, keeping its rank in order.
    fn update(&mut self, key: u64, change: impl FnOnce(&mut Entry, u64, u64)) {
        self.stamp += 1;
        let (stamp, now_plus_ttl) = (self.stamp, self.now.saturating_add(self.ttl_ms));
        let mut entry = self.entries[&key];
        self.by_rank.remove(&self.rank(&entry));
        change(&mut entry, stamp, now_plus_ttl);
        self.by_rank.insert(self.rank(&entry), key);
        self.entries.insert(key, entry);
    }

    fn remove(&mut self, key: u64) -> Option<u64> {
        let entry = self.entries.remove(&key)?;
        self.by_rank.remove(&self.rank(&entry));
        Some(entry.value)
    }

    pub fn get(&mut self, key: u64) -> Option<u64> {
        let entry = *self.entries.get(&key)?;
        if self.expired(&entry) {
            self.remove(key);
            return None;
        }
        match self.policy {
            Policy::Lfu => self.update(key, |entry, stamp, _| {
                entry.count += 1;
                entry.last_use = stamp;
            }),
            Policy::Fifo if self.has(Flaw::FifoGetRefreshes) => {
                self.update(key, |entry, stamp, _| entry.inserted = stamp);
            }
            Policy::Fifo | Policy::Ttl => {}
        }
        Some(entry.value)
    }

    pub fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        if self.capacity == 0 {
            return None;
        }
        if self.entries.contains_key(&key) {
            let (policy, flaw) = (self.policy, self.flaw);
            self.update(key, |entry, stamp, expires_at| {
                entry.value = value;
                match policy {
                    Policy::Lfu if flaw != Some(Flaw::LfuOverwriteNotCounted) => {
                        entry.count += 1;
                        entry.last_use = stamp;
                    }
                    Policy::Ttl if flaw != Some(Flaw::TtlOverwriteKeepsExpiry) => {
                        entry.expires_at = expires_at;
                        entry.written = stamp;
                    }
                    _ => {}
                }
            });
            return None;
        }
        let evicted = if self.entries.len() >= self.capacity {
            let (_, &victim) = self.by_rank.first_key_value()?;
            self.remove(victim).map(|value| (victim, value))
        } else {
            None
        };
        self.stamp += 1;
        let entry = Entry {
            value,
            count: 1,
            last_use: self.stamp,
            inserted: self.stamp,
            written: self.stamp,
            expires_at: self.now.saturating_add(self.ttl_ms),
        };
        self.by_rank.insert(self.rank(&entry), key);
        self.entries.insert(key, entry);
        evicted
    }

    pub fn tick(&mut self, ms: u64) -> u64 {
        self.now += ms;
        self.now
    }

    pub fn sweep(&mut self) -> Vec<u64> {
        if self.has(Flaw::SweepDoesNothing) {
            return Vec::new();
        }
        let mut expired: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, entry)| self.expired(entry))
            .map(|(&key, _)| key)
            .collect();
        expired.sort_unstable();
        for &key in &expired {
            self.remove(key);
        }
        expired
    }

    /// The cached keys, next victim first (for reports).
    pub fn keys_by_rank(&self) -> Vec<u64> {
        self.by_rank.values().copied().collect()
    }

    /// A few words on one entry's state, for reports: its count, insertion or expiry.
    pub fn describe_entry(&self, key: u64) -> String {
        let Some(entry) = self.entries.get(&key) else {
            return format!("{key}: not cached");
        };
        match self.policy {
            Policy::Lfu => format!("{key} (used {}×)", entry.count),
            Policy::Fifo => key.to_string(),
            Policy::Ttl if self.expired(entry) => {
                format!("{key} (expired at {})", entry.expires_at)
            }
            Policy::Ttl => format!("{key} (expires at {})", entry.expires_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // LFU: lowest count first, oldest use among ties.
    #[test]
    fn lfu_rank_is_count_then_last_use() {
        let mut model = Model::new(Policy::Lfu, 2, 0, 0, None);
        model.put(1, 10);
        model.get(1);
        model.put(2, 20);
        assert_eq!(model.put(3, 30), Some((2, 20)));
        model.put(3, 31);
        assert_eq!(model.put(4, 40), Some((1, 10)));
    }

    // TTL: expired at now >= expires_at; sweep returns sorted keys.
    #[test]
    fn ttl_expiry_and_sweep() {
        let mut model = Model::new(Policy::Ttl, 4, 100, 0, None);
        model.put(3, 30);
        model.put(1, 10);
        model.tick(99);
        assert_eq!(model.get(1), Some(10));
        model.tick(1);
        assert_eq!(model.len(), 2);
        assert_eq!(model.sweep(), vec![1, 3]);
        assert_eq!(model.len(), 0);
    }
}
