//! mutant: correct answers, but the recency order is a VecDeque of keys and every get or overwrite searches it: O(n) per use
//! expect: looks O(n)
//!
//! The learner reaches for the queue that is in std instead of a linked list.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// A least-recently-used cache of at most `capacity` entries: a map for the values, a queue for the order.
pub struct LruCache<K, V> {
    capacity: usize,
    values: HashMap<K, V>,
    /// Keys from least (front) to most (back) recently used.
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> LruCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        LruCache {
            capacity,
            values: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn peek(&self, key: &K) -> Option<&V> {
        self.values.get(key)
    }

    /// Moves `key` to the back of the queue: a linear search.
    fn touch(&mut self, key: &K) {
        if let Some(at) = self.order.iter().position(|k| k == key) {
            self.order.remove(at);
        }
        self.order.push_back(key.clone());
    }

    pub fn get(&mut self, key: &K) -> Option<&V> {
        if !self.values.contains_key(key) {
            return None;
        }
        self.touch(key);
        self.values.get(key)
    }

    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        if self.values.contains_key(&key) {
            self.values.insert(key.clone(), value);
            self.touch(&key);
            return None;
        }
        if self.capacity == 0 {
            return None;
        }
        let mut evicted = None;
        if self.values.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                evicted = self.values.remove(&oldest).map(|value| (oldest, value));
            }
        }
        self.order.push_back(key.clone());
        self.values.insert(key, value);
        evicted
    }
}

// ---------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires `LruCache<u64, u64>` to the grader's
// protocol, one JSON object per line on stdin, one reply per line on stdout:
//
//   {"op":"new","capacity":3}                  -> {"ok":true}        (a fresh, empty cache)
//   {"op":"put","key":1,"value":10}            -> {"evicted":null} or {"evicted":{"key":4,"value":40}}
//   {"op":"get","key":1}                       -> {"value":10} or {"value":null}
//   {"op":"peek","key":1}                      -> {"value":10} or {"value":null}
//   {"op":"len"}                               -> {"len":2}
//   {"op":"fill","start":0,"count":100}        -> {"evicted":0,"len":100}   put(k, k) for k in start..start+count
//   {"op":"bench","seed":7,"ops":20000,"keys":200}  -> {"checksum":123,"len":100}   see `run_bench`
//
// Before the first `new` the cache has capacity 0.

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    New { capacity: usize },
    Put { key: u64, value: u64 },
    Get { key: u64 },
    Peek { key: u64 },
    Len,
    Fill { start: u64, count: u64 },
    Bench { seed: u64, ops: u64, keys: u64 },
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

/// Runs `ops` operations on keys `0..keys` against `cache` and returns a checksum of everything
/// they returned. Each operation draws `r` from SplitMix64(`seed`): the key is `(r >> 1) % keys`; an
/// even `r` is a `get`, an odd one a `put` of the value `r >> 32`. The grader replays the same
/// workload on its own model, so a wrong answer anywhere changes the checksum.
fn run_bench(cache: &mut LruCache<u64, u64>, seed: u64, ops: u64, keys: u64) -> u64 {
    let mut rng = SplitMix64(seed);
    let mut checksum = 0xCBF2_9CE4_8422_2325;
    for _ in 0..ops {
        let r = rng.next_u64();
        let key = (r >> 1) % keys.max(1);
        if r & 1 == 0 {
            checksum = match cache.get(&key) {
                Some(&value) => fold(fold(checksum, 1), value),
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
    let mut cache = LruCache::new(0);
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::New { capacity } => {
            cache = LruCache::new(capacity);
            Response::Ok { ok: true }
        }
        Request::Put { key, value } => Response::Put {
            evicted: cache
                .put(key, value)
                .map(|(key, value)| Evicted { key, value }),
        },
        Request::Get { key } => Response::Value {
            value: cache.get(&key).copied(),
        },
        Request::Peek { key } => Response::Value {
            value: cache.peek(&key).copied(),
        },
        Request::Len => Response::Len { len: cache.len() },
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
            checksum: run_bench(&mut cache, seed, ops, keys),
            len: cache.len(),
        },
    });
}
