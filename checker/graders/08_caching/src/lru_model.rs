//! The reference LRU model of the caching track's graders, and its deliberately flawed variants.
//!
//! The model is built differently from the exercise on purpose (a recency stamp per key plus an ordered map
//! from stamp to key, O(log n) and obviously right), so a mistake shared by model and solution is unlikely.
//! A [`Flaw`] turns the model into one classic wrong cache: when a program disagrees with the model, the
//! grader replays the same operations on each flawed variant, and the one that predicts the program's
//! answer names the mistake.

use std::collections::{BTreeMap, HashMap};

/// One classic way to get an LRU cache wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Evicts the head of the list (the most recently used) instead of the tail.
    EvictsMostRecent,
    /// `get` does not refresh recency: the cache is FIFO.
    GetDoesNotRefresh,
    /// A `put` that overwrites updates the value but not the recency.
    OverwriteDoesNotRefresh,
    /// A `put` into a full cache evicts before checking whether the key is already cached.
    OverwriteEvicts,
    /// `peek` refreshes recency like `get`.
    PeekRefreshes,
}

impl Flaw {
    /// Every flaw, in the order a diagnosis tries them: the narrower mistakes first, because a swapped head
    /// and tail can mimic a missing refresh in a short history.
    pub const ALL: [Flaw; 5] = [
        Flaw::GetDoesNotRefresh,
        Flaw::OverwriteDoesNotRefresh,
        Flaw::OverwriteEvicts,
        Flaw::PeekRefreshes,
        Flaw::EvictsMostRecent,
    ];

    /// The mistake in words a learner can act on.
    pub fn diagnosis(self) -> &'static str {
        match self {
            Flaw::EvictsMostRecent => {
                "it evicted the most recently used entry instead of the least recently used one (head and tail swapped?)"
            }
            Flaw::GetDoesNotRefresh => {
                "get did not make the entry the most recently used, so the cache behaves as FIFO (first in, first out), not LRU"
            }
            Flaw::OverwriteDoesNotRefresh => {
                "a put that overwrote a cached key did not make it the most recently used (an overwrite is a use too)"
            }
            Flaw::OverwriteEvicts => {
                "the put overwrote a cached key and still evicted an entry: an overwrite needs no room, so look the key up before checking whether the cache is full"
            }
            Flaw::PeekRefreshes => {
                "peek changed the recency order: peek must only look, like get without the touch"
            }
        }
    }
}

/// A cached value and when it was last used.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: u64,
    stamp: u64,
}

/// An LRU cache of `u64 -> u64`, slow-ish and obviously right (or wrong in exactly one way, see [`Flaw`]).
#[derive(Debug, Clone)]
pub struct LruModel {
    capacity: usize,
    flaw: Option<Flaw>,
    clock: u64,
    entries: HashMap<u64, Entry>,
    /// stamp -> key: the first entry is the least recently used.
    by_recency: BTreeMap<u64, u64>,
}

impl LruModel {
    /// A correct, empty cache of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self::with_flaw(capacity, None)
    }

    /// An empty cache of `capacity` entries that makes the mistake `flaw`.
    pub fn with_flaw(capacity: usize, flaw: Option<Flaw>) -> Self {
        LruModel {
            capacity,
            flaw,
            clock: 0,
            entries: HashMap::new(),
            by_recency: BTreeMap::new(),
        }
    }

    /// The mistake this model makes, if any.
    pub fn flaw(&self) -> Option<Flaw> {
        self.flaw
    }

    /// The capacity it was created with.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `key` is cached (no recency change).
    pub fn contains(&self, key: u64) -> bool {
        self.entries.contains_key(&key)
    }

    /// The value of `key` without a recency change (unless the model has [`Flaw::PeekRefreshes`]).
    pub fn peek(&mut self, key: u64) -> Option<u64> {
        let value = self.entries.get(&key)?.value;
        if self.flaw == Some(Flaw::PeekRefreshes) {
            self.touch(key);
        }
        Some(value)
    }

    /// The value of `key`; the entry becomes the most recently used.
    pub fn get(&mut self, key: u64) -> Option<u64> {
        let value = self.entries.get(&key)?.value;
        if self.flaw != Some(Flaw::GetDoesNotRefresh) {
            self.touch(key);
        }
        Some(value)
    }

    /// Inserts or overwrites `key`; returns the evicted entry, if any.
    pub fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        let mut evicted = None;
        if self.flaw == Some(Flaw::OverwriteEvicts)
            && self.capacity > 0
            && self.len() == self.capacity
        {
            evicted = self.evict();
        }
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.value = value;
            if self.flaw != Some(Flaw::OverwriteDoesNotRefresh) {
                self.touch(key);
            }
            return evicted;
        }
        if self.capacity == 0 {
            return None;
        }
        if self.len() == self.capacity {
            evicted = self.evict();
        }
        self.clock += 1;
        self.entries.insert(
            key,
            Entry {
                value,
                stamp: self.clock,
            },
        );
        self.by_recency.insert(self.clock, key);
        evicted
    }

    /// The cached keys, most recently used first.
    pub fn keys_most_recent_first(&self) -> Vec<u64> {
        self.by_recency.values().rev().copied().collect()
    }

    fn touch(&mut self, key: u64) {
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        self.by_recency.remove(&entry.stamp);
        self.clock += 1;
        entry.stamp = self.clock;
        self.by_recency.insert(self.clock, key);
    }

    fn evict(&mut self) -> Option<(u64, u64)> {
        let victim = if self.flaw == Some(Flaw::EvictsMostRecent) {
            self.by_recency.pop_last()
        } else {
            self.by_recency.pop_first()
        };
        let (_, key) = victim?;
        let entry = self.entries.remove(&key)?;
        Some((key, entry.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The model evicts in LRU order, counting get and overwriting put as uses and peek as none.
    #[test]
    fn model_is_lru() {
        let mut model = LruModel::new(3);
        for key in 1..=3 {
            assert_eq!(model.put(key, key * 10), None);
        }
        assert_eq!(model.get(1), Some(10));
        assert_eq!(model.put(2, 21), None);
        assert_eq!(model.peek(3), Some(30));
        assert_eq!(model.keys_most_recent_first(), vec![2, 1, 3]);
        assert_eq!(model.put(4, 40), Some((3, 30)));
        assert_eq!(model.put(5, 50), Some((1, 10)));
        assert_eq!(model.len(), 3);
    }

    // Capacity 0 stores nothing and reports no eviction.
    #[test]
    fn capacity_zero_stores_nothing() {
        let mut model = LruModel::new(0);
        assert_eq!(model.put(1, 10), None);
        assert_eq!(model.get(1), None);
        assert_eq!(model.len(), 0);
    }

    // Each flaw changes the answer of the story it is named after.
    #[test]
    fn flaws_change_the_eviction() {
        let story = |flaw| {
            let mut model = LruModel::with_flaw(2, flaw);
            model.put(1, 10);
            model.put(2, 20);
            model.get(1);
            model.put(3, 30)
        };
        assert_eq!(story(None), Some((2, 20)));
        assert_eq!(story(Some(Flaw::GetDoesNotRefresh)), Some((1, 10)));
        assert_eq!(story(Some(Flaw::EvictsMostRecent)), Some((1, 10)));
        let mut overwrite = LruModel::with_flaw(2, Some(Flaw::OverwriteEvicts));
        overwrite.put(1, 10);
        overwrite.put(2, 20);
        assert_eq!(overwrite.put(2, 21), Some((1, 10)));
    }
}
