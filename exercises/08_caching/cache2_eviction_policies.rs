//! # Eviction policies: LFU, FIFO and TTL behind one trait
//!
//! A bounded cache must decide what to throw away, and *which* entry goes is a policy: a choice
//! about what the traffic will do next. `cache1_lru` bet on recency. This exercise builds three
//! other bets behind one `Cache` trait, so the code that uses a cache does not care which one it got:
//!
//! - **LFU** (least frequently used) evicts the entry used the fewest times. It protects a stable
//!   hot set from a one-off scan (a crawler reading every product once flushes an LRU cache, not an
//!   LFU one); Redis offers it as `maxmemory-policy allkeys-lfu`. Its weakness: an entry that was
//!   hot yesterday keeps its big count and squats in the cache (real LFUs decay their counters).
//! - **FIFO** (first in, first out) evicts the entry inserted first, whatever happened since. It is
//!   the cheapest policy (no bookkeeping on a read, so reads need no write lock) and, surprisingly,
//!   close to LRU on many workloads; modern designs such as S3-FIFO build on it.
//! - **TTL** (time to live) gives every entry an expiry time. It bounds *staleness* rather than
//!   size: a price cached with a 60 s TTL is never more than 60 s old. Expired entries are removed
//!   in two ways, like Redis does: *lazily*, when a `get` finds its entry expired, and by an
//!   *active sweep* that frees the expired entries nobody asks for (lazy expiry alone leaks memory:
//!   a key written once and never read again stays forever).
//!
//! ## The contract (what the grader checks, on exact seeded traces against a model)
//!
//! Every policy: a cache of capacity 0 stores nothing; `put` of a key already cached overwrites its
//! value and never evicts; `put` of a new key into a full cache evicts exactly one entry and returns
//! it; `len` counts the entries held.
//!
//! - **LFU**: every entry counts its uses: a `put` of a new key starts at 1, and every `get` that
//!   hits and every overwriting `put` adds 1. The victim is the entry with the lowest count; among
//!   equal counts, the one whose last use is oldest (LRU tie-break). An evicted key that comes back
//!   starts again at 1.
//! - **FIFO**: the victim is the entry inserted first. Neither `get` nor an overwriting `put`
//!   changes the order.
//! - **TTL**: a `put` at time `t` (the clock's `now_ms()`) makes the entry expire at `t + ttl_ms`;
//!   an overwrite restarts its TTL. An entry is expired from its expiry time on (`now >=
//!   expires_at`). `get` of an expired entry returns `None` and removes it. `sweep` removes every
//!   expired entry and returns their keys in ascending order. Until a `get` or a `sweep` removes
//!   it, an expired entry still counts in `len`. The victim of a full cache is the entry that expires
//!   soonest (an expired one, if any); among equal expiry times, the one written first.
//! - Every operation costs O(1) or O(log n), never a scan of all entries: the grader compares the
//!   cost per operation at 50 000 entries with the cost at 100.
//!
//! ## Pitfalls
//!
//! - LFU: finding the least-used entry by scanning every entry is O(n). Keep *buckets*: for each
//!   count, the keys with exactly that count in order of last use, plus `min_count`, the lowest
//!   count in use. A new key always makes `min_count` 1 again; forgetting that evicts from a
//!   bucket of old, popular keys while a fresh key with count 1 sits there.
//! - LFU: an overwrite is a use too, and the tie-break is the *oldest* use, not the newest.
//! - FIFO: a `get` that moves the key to the back turns FIFO into LRU.
//! - TTL: `now >= expires_at` is expired. `>` keeps every entry one millisecond too long.
//! - TTL: an overwrite must move the entry in the expiry order too, or the index and the map
//!   disagree about when it expires.
//! - Time comes from the injected `Clock`, never from `SystemTime`: the grader moves a fake clock.
//!
//! Roadmap: Database Systems & Caching, eviction policies (LFU, FIFO, TTL).

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
        // TODO: count one more use of the cached `key`: move it from its count's bucket to the
        // next one, with a fresh stamp, keeping `min_count` right when its old bucket empties.
        todo!()
    }

    /// Removes and returns the least frequently used entry (the least recent among ties).
    fn evict(&mut self) -> Option<(u64, u64)> {
        // TODO: remove and return the least frequently used entry, the least recently used among ties.
        todo!()
    }
}

impl Cache for LfuCache {
    fn get(&mut self, key: u64) -> Option<u64> {
        // TODO: return the cached value; a hit counts as a use.
        todo!()
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        // TODO: overwrite a cached key (a use, no eviction), or insert a new key with count 1,
        // evicting first when the cache is full. A cache of capacity 0 stores nothing.
        todo!()
    }

    fn len(&self) -> usize {
        // TODO: how many entries are cached.
        todo!()
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
        // TODO: return the cached value; the order does not change.
        todo!()
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        // TODO: overwrite in place (the order does not change), or insert a new key at the back,
        // evicting the front when the cache is full. A cache of capacity 0 stores nothing.
        todo!()
    }

    fn len(&self) -> usize {
        // TODO: how many entries are cached.
        todo!()
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
        // TODO: remove `key` from both the map and the expiry order.
        todo!()
    }
}

impl<C: Clock> Cache for TtlCache<C> {
    fn get(&mut self, key: u64) -> Option<u64> {
        // TODO: return the value of a live entry; an expired one (now >= expires_at) is removed
        // and misses.
        todo!()
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        // TODO: write the entry with a fresh expiry (an overwrite restarts its TTL and evicts nothing);
        // a new key in a full cache first evicts the entry that expires soonest. Capacity 0 stores nothing.
        todo!()
    }

    fn len(&self) -> usize {
        // TODO: how many entries are held, expired or not.
        todo!()
    }

    fn sweep(&mut self) -> Vec<u64> {
        // TODO: remove every expired entry; return their keys in ascending order.
        todo!()
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
