//! mutant: no active expiry: sweep is left as the trait default and removes nothing
//! expect: sweep removed nothing
//!
//! The learner relies on lazy expiry in `get` alone: keys written once and never read again stay in memory forever.

use std::collections::{BTreeMap, HashMap, VecDeque};

use backlings_harness::clock::{Clock, ManualClock};
use serde::{Deserialize, Serialize};

/// What every eviction policy offers. Keys and values are `u64` to keep the focus on the policy.
pub trait Cache {
    /// The value cached for `key`. For LFU a hit counts as a use; an expired TTL entry is removed
    /// and misses.
    fn get(&mut self, key: u64) -> Option<u64>;

    /// Inserts or overwrites `key`. Returns the entry evicted to make room, if any (an overwrite
    /// never evicts; a cache of capacity 0 stores nothing).
    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)>;

    /// How many entries the cache holds (for TTL, expired entries not yet removed count too).
    fn len(&self) -> usize;

    /// Whether the cache holds no entry. Provided.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired entry and returns their keys in ascending order. Policies without
    /// expiry have nothing to remove.
    fn sweep(&mut self) -> Vec<u64> {
        Vec::new()
    }
}

// ----------------------------------------------------------------------------------------- LFU

/// One LFU entry.
struct LfuEntry {
    value: u64,
    /// How many times it was used (1 when first put).
    count: u64,
    /// When it was last used, from `LfuCache::next_stamp`: a smaller stamp is an older use.
    stamp: u64,
}

/// Least frequently used, ties broken by least recently used.
pub struct LfuCache {
    capacity: usize,
    entries: HashMap<u64, LfuEntry>,
    /// For each use count, the keys used exactly that often, by the stamp of their last use
    /// (the first one is the least recently used). Empty buckets are removed.
    buckets: HashMap<u64, BTreeMap<u64, u64>>,
    /// The lowest count that has a bucket (meaningful only when the cache is not empty).
    min_count: u64,
    /// The stamp the next use gets.
    next_stamp: u64,
}

impl LfuCache {
    /// An empty LFU cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        LfuCache {
            capacity,
            entries: HashMap::with_capacity(capacity),
            buckets: HashMap::new(),
            min_count: 0,
            next_stamp: 0,
        }
    }

    /// A fresh stamp, larger than every one before.
    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Counts one more use of the cached `key`: it moves from its count's bucket to the next one.
    fn touch(&mut self, key: u64) {
        let stamp = self.stamp();
        let entry = self.entries.get_mut(&key).expect("touch of a cached key");
        let (old_count, old_stamp) = (entry.count, entry.stamp);
        entry.count += 1;
        entry.stamp = stamp;
        let bucket = self.buckets.get_mut(&old_count).expect("its bucket");
        bucket.remove(&old_stamp);
        if bucket.is_empty() {
            self.buckets.remove(&old_count);
            if self.min_count == old_count {
                self.min_count = old_count + 1;
            }
        }
        self.buckets
            .entry(old_count + 1)
            .or_default()
            .insert(stamp, key);
    }

    /// Removes and returns the least frequently used entry (the least recent among ties).
    fn evict(&mut self) -> Option<(u64, u64)> {
        let bucket = self.buckets.get_mut(&self.min_count)?;
        let (_, key) = bucket.pop_first()?;
        if bucket.is_empty() {
            self.buckets.remove(&self.min_count);
        }
        let entry = self.entries.remove(&key)?;
        Some((key, entry.value))
    }
}

impl Cache for LfuCache {
    fn get(&mut self, key: u64) -> Option<u64> {
        let value = self.entries.get(&key)?.value;
        self.touch(key);
        Some(value)
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        if self.capacity == 0 {
            return None;
        }
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.value = value;
            self.touch(key);
            return None;
        }
        let evicted = if self.entries.len() >= self.capacity {
            self.evict()
        } else {
            None
        };
        let stamp = self.stamp();
        self.entries.insert(
            key,
            LfuEntry {
                value,
                count: 1,
                stamp,
            },
        );
        self.buckets.entry(1).or_default().insert(stamp, key);
        self.min_count = 1;
        evicted
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

// ---------------------------------------------------------------------------------------- FIFO

/// First in, first out.
pub struct FifoCache {
    capacity: usize,
    entries: HashMap<u64, u64>,
    /// The cached keys in insertion order: the front is the next victim.
    order: VecDeque<u64>,
}

impl FifoCache {
    /// An empty FIFO cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        FifoCache {
            capacity,
            entries: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }
}

impl Cache for FifoCache {
    fn get(&mut self, key: u64) -> Option<u64> {
        self.entries.get(&key).copied()
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        if self.capacity == 0 {
            return None;
        }
        if let Some(cached) = self.entries.get_mut(&key) {
            *cached = value;
            return None;
        }
        let evicted = if self.entries.len() >= self.capacity {
            self.order.pop_front().and_then(|oldest| {
                let value = self.entries.remove(&oldest)?;
                Some((oldest, value))
            })
        } else {
            None
        };
        self.entries.insert(key, value);
        self.order.push_back(key);
        evicted
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

// ----------------------------------------------------------------------------------------- TTL

/// One TTL entry.
struct TtlEntry {
    value: u64,
    /// The clock time from which the entry is expired.
    expires_at: u64,
    /// When it was last written, from `TtlCache::next_stamp`: breaks ties between equal expiries.
    stamp: u64,
}

/// Entries expire `ttl_ms` after their last write; a full cache evicts the one expiring soonest.
pub struct TtlCache<C: Clock> {
    capacity: usize,
    ttl_ms: u64,
    clock: C,
    entries: HashMap<u64, TtlEntry>,
    /// `(expires_at, stamp)` of every entry, to its key: the first one expires soonest.
    by_expiry: BTreeMap<(u64, u64), u64>,
    /// The stamp the next write gets.
    next_stamp: u64,
}

impl<C: Clock> TtlCache<C> {
    /// An empty TTL cache of at most `capacity` entries, each living `ttl_ms` after its last write.
    pub fn new(capacity: usize, ttl_ms: u64, clock: C) -> Self {
        TtlCache {
            capacity,
            ttl_ms,
            clock,
            entries: HashMap::with_capacity(capacity),
            by_expiry: BTreeMap::new(),
            next_stamp: 0,
        }
    }

    /// Removes `key` from the map and from the expiry order; returns its value.
    fn remove(&mut self, key: u64) -> Option<u64> {
        let entry = self.entries.remove(&key)?;
        self.by_expiry.remove(&(entry.expires_at, entry.stamp));
        Some(entry.value)
    }
}

impl<C: Clock> Cache for TtlCache<C> {
    fn get(&mut self, key: u64) -> Option<u64> {
        let now = self.clock.now_ms();
        let entry = self.entries.get(&key)?;
        if now >= entry.expires_at {
            self.remove(key);
            return None;
        }
        Some(entry.value)
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        if self.capacity == 0 {
            return None;
        }
        let is_overwrite = self.remove(key).is_some();
        let evicted = if !is_overwrite && self.entries.len() >= self.capacity {
            let (_, &soonest) = self.by_expiry.first_key_value()?;
            self.remove(soonest).map(|value| (soonest, value))
        } else {
            None
        };
        self.next_stamp += 1;
        let expires_at = self.clock.now_ms().saturating_add(self.ttl_ms);
        let stamp = self.next_stamp;
        self.entries.insert(
            key,
            TtlEntry {
                value,
                expires_at,
                stamp,
            },
        );
        self.by_expiry.insert((expires_at, stamp), key);
        evicted
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires one `Box<dyn Cache>` to the
// grader's protocol, one JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"new","policy":"lfu","capacity":3}               -> {"ok":true}
//   {"op":"new","policy":"ttl","capacity":3,"ttl_ms":1000} -> {"ok":true}   (policy: lfu, fifo, ttl)
//   {"op":"put","key":1,"value":10}       -> {"evicted":null} or {"evicted":{"key":4,"value":40}}
//   {"op":"get","key":1}                  -> {"value":10} or {"value":null}
//   {"op":"len"}                          -> {"len":2}
//   {"op":"tick","ms":250}                -> {"now":1250}   moves the fake clock forward
//   {"op":"sweep"}                        -> {"expired":[3,7]}
//   {"op":"fill","start":0,"count":100}   -> {"evicted":0,"len":100}
//        put(k, k) for every k in start..start+count, counting the evictions
//   {"op":"bench","seed":7,"ops":20000,"keys":200}  -> {"checksum":123,"len":100}
//        a batch of gets and puts on the cache, see `run_bench`
//
// Before the first `new` the cache is a FIFO cache of capacity 0. The clock starts at 0 and keeps
// its time across `new`.

/// The policy of a `new` cache.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Policy {
    Lfu,
    Fifo,
    Ttl,
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    New {
        policy: Policy,
        capacity: usize,
        ttl_ms: Option<u64>,
    },
    Put {
        key: u64,
        value: u64,
    },
    Get {
        key: u64,
    },
    Len,
    Tick {
        ms: u64,
    },
    Sweep,
    Fill {
        start: u64,
        count: u64,
    },
    Bench {
        seed: u64,
        ops: u64,
        keys: u64,
    },
}

/// An entry evicted by `put`.
#[derive(Serialize)]
struct Evicted {
    key: u64,
    value: u64,
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Response {
    Ok { ok: bool },
    Put { evicted: Option<Evicted> },
    Value { value: Option<u64> },
    Len { len: usize },
    Now { now: u64 },
    Expired { expired: Vec<u64> },
    Fill { evicted: u64, len: usize },
    Bench { checksum: u64, len: usize },
}

/// SplitMix64: a tiny, fully specified generator, so the grader can replay the same workload.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Folds one observed number into an FNV-1a-style checksum.
fn fold(checksum: u64, word: u64) -> u64 {
    (checksum ^ word).wrapping_mul(0x0000_0100_0000_01B3)
}

/// Runs `ops` operations on keys `0..keys` and returns a checksum of everything they returned.
/// Each operation draws `r` from SplitMix64(`seed`): the key is `(r >> 1) % keys`; an even `r` is
/// a `get`, an odd one a `put` of the value `r >> 32`. The grader replays the same workload on its
/// model and times the batch to tell O(1) or O(log n) from O(n).
fn run_bench(cache: &mut dyn Cache, seed: u64, ops: u64, keys: u64) -> u64 {
    let mut rng = SplitMix64(seed);
    let mut checksum = 0xCBF2_9CE4_8422_2325;
    for _ in 0..ops {
        let r = rng.next_u64();
        let key = (r >> 1) % keys.max(1);
        if r & 1 == 0 {
            checksum = match cache.get(key) {
                Some(value) => fold(fold(checksum, 1), value),
                None => fold(checksum, 2),
            };
        } else {
            checksum = match cache.put(key, r >> 32) {
                Some((old_key, old_value)) => fold(fold(fold(checksum, 3), old_key), old_value),
                None => fold(checksum, 4),
            };
        }
    }
    checksum
}

fn main() {
    let clock = ManualClock::new(0);
    let mut cache: Box<dyn Cache> = Box::new(FifoCache::new(0));
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::New {
            policy,
            capacity,
            ttl_ms,
        } => {
            cache = match policy {
                Policy::Lfu => Box::new(LfuCache::new(capacity)),
                Policy::Fifo => Box::new(FifoCache::new(capacity)),
                Policy::Ttl => Box::new(TtlCache::new(
                    capacity,
                    ttl_ms.unwrap_or(u64::MAX),
                    clock.clone(),
                )),
            };
            Response::Ok { ok: true }
        }
        Request::Put { key, value } => Response::Put {
            evicted: cache
                .put(key, value)
                .map(|(key, value)| Evicted { key, value }),
        },
        Request::Get { key } => Response::Value {
            value: cache.get(key),
        },
        Request::Len => Response::Len { len: cache.len() },
        Request::Tick { ms } => {
            clock.advance(ms);
            Response::Now {
                now: clock.now_ms(),
            }
        }
        Request::Sweep => Response::Expired {
            expired: cache.sweep(),
        },
        Request::Fill { start, count } => {
            let evicted = (start..start + count)
                .filter(|&key| cache.put(key, key).is_some())
                .count() as u64;
            Response::Fill {
                evicted,
                len: cache.len(),
            }
        }
        Request::Bench { seed, ops, keys } => Response::Bench {
            checksum: run_bench(cache.as_mut(), seed, ops, keys),
            len: cache.len(),
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    // LFU evicts the entry used the fewest times, even if it was used most recently.
    #[test]
    fn lfu_evicts_the_least_frequently_used() {
        let mut cache = LfuCache::new(2);
        assert_eq!(cache.put(1, 10), None);
        assert_eq!(cache.put(2, 20), None);
        assert_eq!(cache.get(1), Some(10));
        assert_eq!(cache.get(1), Some(10));
        assert_eq!(cache.get(2), Some(20));
        // 1 was used 3 times, 2 twice: 2 goes although it was used last.
        assert_eq!(cache.put(3, 30), Some((2, 20)));
        assert_eq!(cache.len(), 2);
    }

    // Among entries used equally often, LFU evicts the one whose last use is oldest.
    #[test]
    fn lfu_breaks_ties_by_least_recent_use() {
        let mut cache = LfuCache::new(3);
        cache.put(1, 10);
        cache.put(2, 20);
        cache.put(3, 30);
        assert_eq!(cache.put(4, 40), Some((1, 10)));
        assert_eq!(cache.put(5, 50), Some((2, 20)));
    }

    // A new key always has the lowest count, so it is the next victim unless it is used again.
    #[test]
    fn lfu_new_key_is_the_next_victim() {
        let mut cache = LfuCache::new(2);
        cache.put(1, 10);
        cache.get(1);
        cache.put(2, 20);
        assert_eq!(cache.put(3, 30), Some((2, 20)));
        // An overwrite is a use: 3 now has count 2, like 1, and 1's last use is older.
        assert_eq!(cache.put(3, 31), None);
        assert_eq!(cache.put(4, 40), Some((1, 10)));
    }

    // FIFO evicts in insertion order: gets and overwrites change nothing.
    #[test]
    fn fifo_ignores_gets_and_overwrites() {
        let mut cache = FifoCache::new(2);
        cache.put(1, 10);
        cache.put(2, 20);
        assert_eq!(cache.get(1), Some(10));
        assert_eq!(cache.put(1, 11), None);
        assert_eq!(cache.put(3, 30), Some((1, 11)));
        assert_eq!(cache.put(4, 40), Some((2, 20)));
    }

    // A TTL entry expires exactly ttl_ms after its put, and an expired get removes it.
    #[test]
    fn ttl_expires_at_put_time_plus_ttl() {
        let clock = ManualClock::new(1_000);
        let mut cache = TtlCache::new(4, 100, clock.clone());
        cache.put(1, 10);
        clock.advance(99);
        assert_eq!(cache.get(1), Some(10));
        clock.advance(1);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(1), None);
        assert_eq!(cache.len(), 0);
    }

    // sweep frees the expired entries nobody asked for, and only those.
    #[test]
    fn ttl_sweep_removes_expired_entries() {
        let clock = ManualClock::new(0);
        let mut cache = TtlCache::new(4, 100, clock.clone());
        cache.put(3, 30);
        cache.put(1, 10);
        clock.advance(50);
        cache.put(2, 20);
        clock.advance(50);
        assert_eq!(cache.sweep(), vec![1, 3]);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(2), Some(20));
    }

    // A full TTL cache evicts the entry that expires soonest; an overwrite restarts its TTL.
    #[test]
    fn ttl_full_cache_evicts_the_soonest_expiry() {
        let clock = ManualClock::new(0);
        let mut cache = TtlCache::new(2, 100, clock.clone());
        cache.put(1, 10);
        clock.advance(10);
        cache.put(2, 20);
        clock.advance(10);
        assert_eq!(cache.put(1, 11), None);
        assert_eq!(cache.put(3, 30), Some((2, 20)));
    }

    // Capacity 0 stores nothing, whatever the policy.
    #[test]
    fn capacity_zero_stores_nothing() {
        let caches: Vec<Box<dyn Cache>> = vec![
            Box::new(LfuCache::new(0)),
            Box::new(FifoCache::new(0)),
            Box::new(TtlCache::new(0, 100, ManualClock::new(0))),
        ];
        for mut cache in caches {
            assert_eq!(cache.put(1, 10), None);
            assert_eq!(cache.get(1), None);
            assert_eq!(cache.len(), 0);
        }
    }
}
