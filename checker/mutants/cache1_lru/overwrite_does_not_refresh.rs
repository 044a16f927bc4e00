//! mutant: a put that overwrites a cached key updates the value but leaves the entry where it was in the list
//! expect: overwrote a cached key did not make it the most recently used
//!
//! The learner thinks of recency as "when it was inserted".

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// One entry of the cache, stored in the arena.
struct Node<K, V> {
    key: K,
    value: V,
    /// The neighbour that was used more recently (towards `head`); `None` for the head.
    prev: Option<usize>,
    /// The neighbour that was used less recently (towards `tail`); `None` for the tail.
    next: Option<usize>,
}

/// A least-recently-used cache of at most `capacity` entries.
pub struct LruCache<K, V> {
    capacity: usize,
    /// Where each cached key's node lives in `nodes`.
    index: HashMap<K, usize>,
    /// The arena: every node, in no particular order; links between nodes are indices into it.
    nodes: Vec<Node<K, V>>,
    /// The most recently used node.
    head: Option<usize>,
    /// The least recently used node: the next one to be evicted.
    tail: Option<usize>,
}

impl<K: Hash + Eq + Clone, V> LruCache<K, V> {
    /// An empty cache that will hold at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        LruCache {
            capacity,
            index: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: None,
            tail: None,
        }
    }

    /// The most entries this cache will hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries are cached right now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value cached for `key`, without changing its recency.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&slot| &self.nodes[slot].value)
    }

    /// The value cached for `key`; the entry becomes the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let slot = *self.index.get(key)?;
        self.move_to_front(slot);
        Some(&self.nodes[slot].value)
    }

    /// Caches `value` under `key` as the most recently used entry. Returns the entry evicted to make
    /// room for it, if any (overwriting a cached key never evicts).
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&slot) = self.index.get(&key) {
            self.nodes[slot].value = value;
            return None;
        }
        if self.capacity == 0 {
            return None;
        }
        if self.nodes.len() < self.capacity {
            let slot = self.nodes.len();
            self.nodes.push(Node {
                key: key.clone(),
                value,
                prev: None,
                next: None,
            });
            self.push_front(slot);
            self.index.insert(key, slot);
            return None;
        }
        // Full: the least recently used node's slot is recycled for the new entry.
        let slot = self.tail?;
        self.unlink(slot);
        let node = &mut self.nodes[slot];
        let old_key = std::mem::replace(&mut node.key, key.clone());
        let old_value = std::mem::replace(&mut node.value, value);
        self.index.remove(&old_key);
        self.index.insert(key, slot);
        self.push_front(slot);
        Some((old_key, old_value))
    }

    /// Takes the node at `slot` out of the recency list, joining its neighbours to each other.
    fn unlink(&mut self, slot: usize) {
        let (prev, next) = (self.nodes[slot].prev, self.nodes[slot].next);
        match prev {
            Some(p) => self.nodes[p].next = next,
            None => self.head = next,
        }
        match next {
            Some(n) => self.nodes[n].prev = prev,
            None => self.tail = prev,
        }
        self.nodes[slot].prev = None;
        self.nodes[slot].next = None;
    }

    /// Links the (unlinked) node at `slot` in as the new head: the most recently used.
    fn push_front(&mut self, slot: usize) {
        self.nodes[slot].prev = None;
        self.nodes[slot].next = self.head;
        match self.head {
            Some(old_head) => self.nodes[old_head].prev = Some(slot),
            None => self.tail = Some(slot),
        }
        self.head = Some(slot);
    }

    /// Makes the node at `slot` the most recently used.
    fn move_to_front(&mut self, slot: usize) {
        if self.head != Some(slot) {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// The cached keys from most to least recently used (follows `next` links from `head`).
    /// Provided: you do not need to change this.
    pub fn keys_in_order(&self) -> Vec<K> {
        let mut keys = Vec::with_capacity(self.len());
        let mut cursor = self.head;
        while let Some(slot) = cursor {
            keys.push(self.nodes[slot].key.clone());
            cursor = self.nodes[slot].next;
            assert!(
                keys.len() <= self.nodes.len(),
                "the recency list has a cycle"
            );
        }
        keys
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
