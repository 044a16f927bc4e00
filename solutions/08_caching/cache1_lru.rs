//! # An LRU cache with O(1) `get` and `put`
//!
//! A cache keeps a *bounded* copy of data that is expensive to fetch: rows from a database,
//! rendered pages, decoded tokens, responses from another service. Bounded is the whole point:
//! memory is finite, so when the cache is full and a new entry arrives, one old entry has to go.
//! Which one? *Least Recently Used* (LRU) evicts the entry nobody has touched for the longest time,
//! betting that what was used recently will be used again soon. That bet holds for most real
//! traffic (a small hot set of users, products and sessions gets most of the requests), which is
//! why LRU, or something close to it, sits inside Memcached, Redis
//! (`maxmemory-policy allkeys-lru`), CPU caches, operating-system page caches and CDNs. The
//! in-process cache you put in front of Redis or a database (the "level 1" cache) is usually an LRU
//! too.
//!
//! ## The contract
//!
//! - `LruCache::new(capacity)` holds at most `capacity` entries. A cache of capacity 0 stores
//!   nothing.
//! - `get(&key)` returns the value and makes the entry the *most* recently used.
//! - `peek(&key)` returns the value and changes nothing: look without touching.
//! - `put(key, value)` inserts or overwrites; either way the entry becomes the most recently used.
//!   Overwriting a key that is already cached never evicts anything. Inserting a new key into a
//!   full cache first evicts the *least* recently used entry, and `put` returns it as
//!   `Some((key, value))`.
//! - All of them run in O(1): the time per call must not grow with the capacity.
//!
//! ## The classic design: a hash map plus a doubly linked list
//!
//! The hash map finds an entry by key in O(1). The list keeps the entries in recency order, the
//! most recent at the head and the least recent at the tail: moving an entry to the head and
//! dropping the tail are O(1) *if* every entry knows its neighbours in both directions. The map
//! stores, for each key, where its list node is. Below, the layout is given (`Node`, `LruCache` and
//! its fields); the operations are yours.
//!
//! The obvious alternatives are quietly O(n): a `Vec` or `VecDeque` of keys in recency order needs
//! a linear search (`position`, `retain`) to find the key you just touched; a "last used" counter
//! per entry needs a scan of the whole map to find the oldest at eviction. Both pass every small
//! test, then fall over at 100 000 entries, where one operation costs 100 000 steps.
//!
//! ## Linked lists in safe Rust: `Rc<RefCell<Node>>` or an arena?
//!
//! A doubly linked list is the classic thing the borrow checker refuses, because every node is
//! pointed at by two others. There are three ways out:
//!
//! - **`Rc<RefCell<Node>>`** with `Weak` back-pointers: it looks like the textbook, but every node
//!   is its own heap allocation, every step pays a reference-count update and a runtime borrow
//!   check, a forgotten `Weak` makes a cycle that leaks, and a double `borrow_mut` panics at run
//!   time instead of failing to compile.
//! - **Raw pointers and `unsafe`**: what `std::collections::LinkedList` and the `lru` crate do. The
//!   fastest, and the compiler no longer checks a single link for you.
//! - **An arena** (used here): all nodes live in one `Vec`, and a link is just a node's index
//!   (`Option<usize>`). Indices are `Copy`, so the borrow checker sees one `&mut self.nodes` at a
//!   time and is happy; the nodes sit next to each other in memory; and because the capacity is
//!   fixed, an evicted node's slot is simply reused for the new entry, so the arena never grows
//!   past `capacity`. The price: an index is a pointer the compiler does not track. A stale index
//!   (to a slot that has since been reused) is a logic bug no tool will catch for you, so keep the
//!   index juggling inside two small helpers (`unlink`, `push_front`) and test them hard. A cache
//!   that also supports `remove` needs a free list of empty slots as well.
//!
//! The key is stored twice, in the map and in its node (eviction must know which map entry to
//! delete), hence `K: Clone`.
//!
//! ## Pitfalls
//!
//! - A `get` that forgets to update recency turns LRU into FIFO (first in, first out).
//! - An overwriting `put` must refresh recency too, and must not evict: an overwrite needs no room.
//! - Evicting the head instead of the tail (the most recent instead of the least recent) is easy to
//!   write and hard to spot in a test with two entries.
//! - Capacity 1 (the head is the tail) and capacity 0 (there is no node at all).
//! - After eviction, the evicted key must leave the map too, or it points at its slot's new entry.
//! - After every change, both directions of the list must agree: if `a.next == b` then
//!   `b.prev == a`.
//!
//! Roadmap: Database Systems & Caching, eviction policies (LRU, LFU, TTL, FIFO); caching with Redis
//! and Memcached.

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

    /// Caches `value` under `key` as the most recently used entry. Returns the entry evicted to
    /// make room for it, if any (overwriting a cached key never evicts).
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&slot) = self.index.get(&key) {
            self.nodes[slot].value = value;
            self.move_to_front(slot);
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

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires `LruCache<u64, u64>` to the grader's
// protocol, one JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"new","capacity":3}              -> {"ok":true}    a fresh, empty cache
//   {"op":"put","key":1,"value":10}        -> {"evicted":null} or {"evicted":{"key":4,"value":40}}
//   {"op":"get","key":1}                   -> {"value":10} or {"value":null}
//   {"op":"peek","key":1}                  -> {"value":10} or {"value":null}
//   {"op":"len"}                           -> {"len":2}
//   {"op":"fill","start":0,"count":100}    -> {"evicted":0,"len":100}
//        put(k, k) for every k in start..start+count, counting the evictions
//   {"op":"bench","seed":7,"ops":20000,"keys":200}  -> {"checksum":123,"len":100}
//        a batch of gets and puts on the cache, see `run_bench`
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
/// they returned. Each operation draws `r` from SplitMix64(`seed`): the key is `(r >> 1) % keys`;
/// an even `r` is a `get`, an odd one a `put` of the value `r >> 32`. The grader replays the same
/// workload on its own model, so a wrong answer anywhere changes the checksum, and it times the
/// batch to tell O(1) from O(n) without the cost of one JSON line per operation.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows `prev` links from the tail: the list read backwards must be the same list.
    fn keys_backwards(cache: &LruCache<u64, u64>) -> Vec<u64> {
        let mut keys = Vec::new();
        let mut cursor = cache.tail;
        while let Some(slot) = cursor {
            keys.push(cache.nodes[slot].key);
            cursor = cache.nodes[slot].prev;
            assert!(
                keys.len() <= cache.nodes.len(),
                "the prev links have a cycle"
            );
        }
        keys.reverse();
        keys
    }

    // A new cache is empty and every lookup misses.
    #[test]
    fn new_cache_is_empty() {
        let mut cache: LruCache<u64, u64> = LruCache::new(2);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.peek(&1), None);
    }

    // Filling past capacity evicts the oldest entry and returns it.
    #[test]
    fn evicts_the_least_recently_used() {
        let mut cache = LruCache::new(2);
        assert_eq!(cache.put(1, 10), None);
        assert_eq!(cache.put(2, 20), None);
        assert_eq!(cache.put(3, 30), Some((1, 10)));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.keys_in_order(), vec![3, 2]);
    }

    // `get` makes an entry the most recently used, so another one is evicted instead.
    #[test]
    fn get_refreshes_recency() {
        let mut cache = LruCache::new(2);
        cache.put(1, 10);
        cache.put(2, 20);
        assert_eq!(cache.get(&1), Some(&10));
        assert_eq!(cache.put(3, 30), Some((2, 20)));
        assert_eq!(cache.keys_in_order(), vec![3, 1]);
    }

    // `peek` reads without touching: the entry stays the least recently used.
    #[test]
    fn peek_does_not_refresh_recency() {
        let mut cache = LruCache::new(2);
        cache.put(1, 10);
        cache.put(2, 20);
        assert_eq!(cache.peek(&1), Some(&10));
        assert_eq!(cache.put(3, 30), Some((1, 10)));
    }

    // Overwriting a cached key updates its value, refreshes it, and evicts nothing.
    #[test]
    fn overwrite_refreshes_and_never_evicts() {
        let mut cache = LruCache::new(2);
        cache.put(1, 10);
        cache.put(2, 20);
        assert_eq!(cache.put(1, 11), None);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.put(3, 30), Some((2, 20)));
        assert_eq!(cache.get(&1), Some(&11));
    }

    // With capacity 1 every new key evicts the previous one.
    #[test]
    fn capacity_one_keeps_the_last_key() {
        let mut cache = LruCache::new(1);
        assert_eq!(cache.put(1, 10), None);
        assert_eq!(cache.put(1, 11), None);
        assert_eq!(cache.put(2, 20), Some((1, 11)));
        assert_eq!(cache.get(&2), Some(&20));
        assert_eq!(cache.keys_in_order(), vec![2]);
    }

    // A cache of capacity 0 stores nothing and evicts nothing.
    #[test]
    fn capacity_zero_stores_nothing() {
        let mut cache = LruCache::new(0);
        assert_eq!(cache.put(1, 10), None);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.len(), 0);
    }

    // Under random churn the cache agrees with a slow but obvious model, and the list reads the
    // same forwards and backwards.
    #[test]
    fn matches_a_simple_model_under_churn() {
        let mut cache = LruCache::new(5);
        // The model: keys from most to least recently used, with their values.
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut rng = SplitMix64(42);
        for step in 0..2_000 {
            let r = rng.next_u64();
            let key = (r >> 8) % 9;
            if r & 1 == 0 {
                let expected = model.iter().position(|&(k, _)| k == key).map(|at| {
                    let entry = model.remove(at);
                    model.insert(0, entry);
                    entry.1
                });
                assert_eq!(
                    cache.get(&key).copied(),
                    expected,
                    "get {key} at step {step}"
                );
            } else {
                let value = r >> 40;
                let expected = match model.iter().position(|&(k, _)| k == key) {
                    Some(at) => {
                        model.remove(at);
                        None
                    }
                    None if model.len() == 5 => model.pop(),
                    None => None,
                };
                model.insert(0, (key, value));
                assert_eq!(cache.put(key, value), expected, "put {key} at step {step}");
            }
            let order: Vec<u64> = model.iter().map(|&(k, _)| k).collect();
            assert_eq!(cache.keys_in_order(), order, "recency order at step {step}");
            assert_eq!(keys_backwards(&cache), order, "prev links at step {step}");
        }
    }
}
