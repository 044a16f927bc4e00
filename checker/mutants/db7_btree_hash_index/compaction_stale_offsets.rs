//! mutant: compaction rewrites the log but leaves the hash index pointing at the old offsets
//! expect: new places in the compacted log
//!
//! The learner rewrites the file and forgets that every location in the index just moved.

//! # Two indexes over one append-only log: a hash index and a B+tree
//!
//! An index answers "where is the row with this key?" without reading every row. The two shapes
//! every database engineer must know are here, over the simplest durable storage there is, an
//! **append-only log**, as in Bitcask (the storage engine of Riak):
//!
//! - The **hash index** (Bitcask's *keydir*): a `HashMap` from key to where its latest value sits
//!   in the log. A point lookup is one hash probe and one read. It cannot answer "every key from
//!   `k100` to `k200`": hashing scatters neighbours. Postgres `USING hash` indexes, Redis, and
//!   Memcached live here.
//! - The **B+tree**: keys kept sorted in nodes of a bounded size; internal nodes hold separator
//!   keys that route a search, leaves hold the keys and are chained left to right, so a range scan
//!   finds its first key in O(log n) and then walks the leaves. It is the default index of
//!   Postgres, MySQL/InnoDB, SQLite, and every filesystem worth its name. `ORDER BY`, `BETWEEN`,
//!   `LIKE 'abc%'` and composite-key prefixes all need this order.
//!
//! Here the B+tree is an in-memory, secondary ordered index over the keys (point lookups go
//! through the hash index), and both indexes are rebuilt from the log at startup, as Bitcask
//! does. A disk-paged B+tree (InnoDB, Postgres) writes its nodes as pages and needs a write-ahead
//! log to survive a crash in the middle of a split; the log-structured alternative is in
//! `db12_lsm_wide_column`.
//!
//! ## The log and crash recovery
//!
//! Every `put` and `delete` appends one record to `data.log` in the data directory, and is
//! acknowledged only once the record has been written to the file (not sitting in a userspace
//! buffer: a process killed with SIGKILL loses what it had not written). A record is
//!
//! ```text
//! crc32 (u32 LE) | key_len (u32 LE) | value_len (u32 LE; 0xFFFF_FFFF = tombstone) | key | value
//! ```
//!
//! with the CRC-32 (IEEE) of everything after the CRC field. A delete appends a *tombstone*: without
//! it, the old value would come back from the log at the next start. A crash in the middle of an
//! append leaves a *torn tail*: a record cut short, or one whose bytes do not match its CRC.
//! Recovery reads the log from the start, applies every whole, valid record, and **truncates the
//! file** at the first one that is not: otherwise the next append lands after the garbage, and the
//! recovery after that stops at the garbage and loses it.
//!
//! **Compaction**: overwrites and deletes leave dead records behind, so the log only grows.
//! Compaction writes the live records (key order) to `data.log.compact`, syncs it, and renames it
//! over `data.log` (a rename is atomic: a crash leaves the old log or the new one, never half).
//!
//! ## The contract the grader checks
//!
//! `put`, `get`, `delete` (true when the key was there), `range(start, end, limit)`: the live keys
//! `start <= key < end` in byte order, at most `limit` of them, with their values. The grader
//! compares everything with a `BTreeMap`, kills the program with SIGKILL and restarts it on the same
//! directory, appends torn and corrupted records to the log, and checks the file's size after a
//! compaction: exactly the live records.
//!
//! ## Pitfalls
//!
//! - A leaf split that forgets the `next` link: every lookup works, range scans skip keys.
//! - A separator copied from the wrong side of a split: a key equal to a separator lives in the
//!   right child, so the separator of a leaf split is the right leaf's first key.
//! - A `BufWriter` not flushed before the reply: acknowledged writes lost at the crash.
//! - Trusting a length field from a torn record: read past the end, or allocate gigabytes.
//! - Recovering without truncating the torn tail.
//!
//! Roadmap: Databases, indexes (B-tree and hash); storage engines (Bitcask, WAL, compaction).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The most keys a B+tree node holds; one more and it splits.
pub const MAX_KEYS: usize = 8;

/// A node of the B+tree, stored in the tree's arena.
#[derive(Debug)]
enum Node {
    /// Sorted keys, and the next leaf to the right (`None` for the last leaf).
    Leaf {
        keys: Vec<String>,
        next: Option<usize>,
    },
    /// `children[i]` holds the keys `k` with `keys[i - 1] <= k < keys[i]` (no bound past the ends):
    /// one child more than separator keys.
    Internal {
        keys: Vec<String>,
        children: Vec<usize>,
    },
}

/// A B+tree of keys: an ordered set with range scans.
#[derive(Debug)]
pub struct BPlusTree {
    nodes: Vec<Node>,
    root: usize,
    len: usize,
}

impl Default for BPlusTree {
    fn default() -> Self {
        BPlusTree {
            nodes: vec![Node::Leaf {
                keys: Vec::new(),
                next: None,
            }],
            root: 0,
            len: 0,
        }
    }
}

impl BPlusTree {
    /// How many keys the tree holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The path from the root to the leaf where `key` belongs (node indices, the leaf last).
    fn path_to_leaf(&self, key: &str) -> Vec<usize> {
        let mut path = vec![self.root];
        while let Node::Internal { keys, children } = &self.nodes[*path.last().unwrap_or(&0)] {
            let child = keys.partition_point(|separator| separator.as_str() <= key);
            path.push(children[child]);
        }
        path
    }

    /// Inserts `key`; false if it was already there.
    pub fn insert(&mut self, key: &str) -> bool {
        let mut path = self.path_to_leaf(key);
        let leaf = path.pop().unwrap_or(self.root);
        let Node::Leaf { keys, .. } = &mut self.nodes[leaf] else {
            unreachable!("a path ends at a leaf")
        };
        match keys.binary_search_by(|probe| probe.as_str().cmp(key)) {
            Ok(_) => return false,
            Err(at) => keys.insert(at, key.to_string()),
        }
        self.len += 1;
        let mut split = self.split_if_full(leaf);
        while let Some((separator, right)) = split {
            let Some(parent) = path.pop() else {
                let left = self.root;
                self.nodes.push(Node::Internal {
                    keys: vec![separator],
                    children: vec![left, right],
                });
                self.root = self.nodes.len() - 1;
                break;
            };
            let Node::Internal { keys, children } = &mut self.nodes[parent] else {
                unreachable!("a parent is internal")
            };
            let at = keys.partition_point(|k| *k < separator);
            keys.insert(at, separator);
            children.insert(at + 1, right);
            split = self.split_if_full(parent);
        }
        true
    }

    /// Splits an overfull node in two; returns the separator for the parent and the new right node.
    fn split_if_full(&mut self, index: usize) -> Option<(String, usize)> {
        let right_index = self.nodes.len();
        let (separator, right) = match &mut self.nodes[index] {
            Node::Leaf { keys, next } if keys.len() > MAX_KEYS => {
                let right_keys = keys.split_off(keys.len() / 2);
                let separator = right_keys[0].clone();
                let right = Node::Leaf {
                    keys: right_keys,
                    next: next.replace(right_index),
                };
                (separator, right)
            }
            Node::Internal { keys, children } if keys.len() > MAX_KEYS => {
                let middle = keys.len() / 2;
                let right_keys = keys.split_off(middle + 1);
                let separator = keys.pop().expect("an overfull node has keys");
                let right = Node::Internal {
                    keys: right_keys,
                    children: children.split_off(middle + 1),
                };
                (separator, right)
            }
            _ => return None,
        };
        self.nodes.push(right);
        Some((separator, right_index))
    }

    /// Removes `key`; false if it was not there. Leaves are not merged (lazy deletion).
    pub fn remove(&mut self, key: &str) -> bool {
        let leaf = *self.path_to_leaf(key).last().unwrap_or(&self.root);
        let Node::Leaf { keys, .. } = &mut self.nodes[leaf] else {
            unreachable!("a path ends at a leaf")
        };
        match keys.binary_search_by(|probe| probe.as_str().cmp(key)) {
            Ok(at) => {
                keys.remove(at);
                self.len -= 1;
                true
            }
            Err(_) => false,
        }
    }

    /// The keys `start <= key < end`, in order, at most `limit` of them.
    pub fn range(&self, start: &str, end: &str, limit: usize) -> Vec<String> {
        let mut found = Vec::new();
        let mut leaf = self.path_to_leaf(start).last().copied();
        while let Some(index) = leaf {
            let Node::Leaf { keys, next } = &self.nodes[index] else {
                unreachable!("leaves link to leaves")
            };
            for key in keys.iter().filter(|key| key.as_str() >= start) {
                if key.as_str() >= end || found.len() >= limit {
                    return found;
                }
                found.push(key.clone());
            }
            leaf = *next;
        }
        found
    }
}

/// The value-length field of a tombstone.
const TOMBSTONE: u32 = u32::MAX;
/// Bytes before the key: crc, key length, value length.
const HEADER: usize = 12;

/// Where a live value sits in the log.
#[derive(Debug, Clone, Copy)]
struct Location {
    offset: u64,
    len: u32,
}

/// A Bitcask-style store: an append-only log, a hash index for lookups, a B+tree for ranges.
pub struct Store {
    dir: PathBuf,
    log: File,
    /// The log's length: where the next record goes.
    end: u64,
    hash: HashMap<String, Location>,
    tree: BPlusTree,
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering from the log.
    pub fn open(dir: &Path) -> io::Result<Store> {
        fs::create_dir_all(dir)?;
        let path = dir.join("data.log");
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            log,
            end: 0,
            hash: HashMap::new(),
            tree: BPlusTree::default(),
        };
        store.recover(&bytes)?;
        Ok(store)
    }

    /// Replays the log's `bytes` into the indexes and sets `end`; cuts off a torn or corrupted tail.
    fn recover(&mut self, bytes: &[u8]) -> io::Result<()> {
        while let Some((key, value, size)) = decode_record(&bytes[self.end as usize..]) {
            let offset = self.end + (HEADER + key.len()) as u64;
            match value {
                Some(value) => self.index(key, offset, value.len() as u32),
                None => {
                    self.unindex(&key);
                }
            }
            self.end += size as u64;
        }
        if self.end < bytes.len() as u64 {
            self.log.set_len(self.end)?;
        }
        Ok(())
    }

    fn index(&mut self, key: String, offset: u64, len: u32) {
        self.tree.insert(&key);
        self.hash.insert(key, Location { offset, len });
    }

    fn unindex(&mut self, key: &str) -> bool {
        self.tree.remove(key);
        self.hash.remove(key).is_some()
    }

    fn append(&mut self, record: &[u8]) -> io::Result<u64> {
        let at = self.end;
        self.log.write_all(record)?;
        self.end += record.len() as u64;
        Ok(at)
    }

    /// Stores `value` under `key`; durable (in the file) when this returns.
    pub fn put(&mut self, key: &str, value: &str) -> io::Result<()> {
        let at = self.append(&encode_record(key, Some(value)))?;
        self.index(
            key.to_string(),
            at + (HEADER + key.len()) as u64,
            value.len() as u32,
        );
        Ok(())
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> io::Result<Option<String>> {
        let Some(location) = self.hash.get(key) else {
            return Ok(None);
        };
        let mut value = vec![0; location.len as usize];
        self.log.read_exact_at(&mut value, location.offset)?;
        String::from_utf8(value)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Deletes `key`; true if it was there.
    pub fn delete(&mut self, key: &str) -> io::Result<bool> {
        if !self.hash.contains_key(key) {
            return Ok(false);
        }
        self.append(&encode_record(key, None))?;
        Ok(self.unindex(key))
    }

    /// The live pairs `start <= key < end`, in key order, at most `limit`.
    pub fn range(&self, start: &str, end: &str, limit: usize) -> io::Result<Vec<(String, String)>> {
        self.tree
            .range(start, end, limit)
            .into_iter()
            .map(|key| {
                let value = self.get(&key)?.unwrap_or_default();
                Ok((key, value))
            })
            .collect()
    }

    /// Rewrites the log with the live records only; returns its size before and after.
    pub fn compact(&mut self) -> io::Result<(u64, u64)> {
        let before = self.end;
        let live = self.range("", "\u{10FFFF}", usize::MAX)?;
        let compact_path = self.dir.join("data.log.compact");
        let mut out = File::create(&compact_path)?;
        let mut bytes = Vec::new();
        let mut locations = Vec::with_capacity(live.len());
        for (key, value) in &live {
            let offset = (bytes.len() + HEADER + key.len()) as u64;
            locations.push(Location {
                offset,
                len: value.len() as u32,
            });
            bytes.extend(encode_record(key, Some(value)));
        }
        out.write_all(&bytes)?;
        out.sync_all()?;
        fs::rename(&compact_path, self.dir.join("data.log"))?;
        self.log = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.dir.join("data.log"))?;
        self.end = bytes.len() as u64;
        let _ = locations;
        Ok((before, self.end))
    }

    /// How many live keys, and the log's size in bytes.
    pub fn stats(&self) -> (usize, u64) {
        (self.hash.len(), self.end)
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: the record format, and the wiring to the grader's protocol. You do not need to change
// anything below. One JSON object per line on stdin, one reply per line on stdout; the data
// directory is `$BACKLINGS_DATA_DIR` (default `data`):
//
//   {"op":"put","key":"k1","value":"v"}                -> {"ok":true}
//   {"op":"get","key":"k1"}                             -> {"value":"v"} or {"value":null}
//   {"op":"delete","key":"k1"}                          -> {"existed":true}
//   {"op":"range","start":"k1","end":"k5","limit":10}   -> {"items":[["k1","v"],["k3","w"]]}
//   {"op":"compact"}                                    -> {"before":1234,"after":456}
//   {"op":"stats"}                                      -> {"keys":2,"file_bytes":456}
//   an I/O error                                        -> {"error":"…"}

/// CRC-32 (IEEE 802.3, the one of zip and Ethernet), bit by bit.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One log record: a put of `value`, or a tombstone when `value` is `None`.
pub fn encode_record(key: &str, value: Option<&str>) -> Vec<u8> {
    let value_len = value.map_or(TOMBSTONE, |value| value.len() as u32);
    let mut body = Vec::with_capacity(HEADER + key.len() + value.map_or(0, str::len));
    body.extend((key.len() as u32).to_le_bytes());
    body.extend(value_len.to_le_bytes());
    body.extend(key.as_bytes());
    body.extend(value.unwrap_or("").as_bytes());
    let mut record = crc32(&body).to_le_bytes().to_vec();
    record.extend(body);
    record
}

/// The first record of `bytes`: its key, its value (`None` for a tombstone) and its size; `None`
/// when `bytes` does not start with a whole, valid record (a torn or corrupted tail, or the end).
pub fn decode_record(bytes: &[u8]) -> Option<(String, Option<String>, usize)> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let (crc, key_len, value_len) = (word(0)?, word(4)? as usize, word(8)?);
    let value_bytes = if value_len == TOMBSTONE {
        0
    } else {
        value_len as usize
    };
    let size = HEADER.checked_add(key_len)?.checked_add(value_bytes)?;
    let record = bytes.get(..size)?;
    if crc32(&record[4..]) != crc {
        return None;
    }
    let key = String::from_utf8(record[HEADER..HEADER + key_len].to_vec()).ok()?;
    let value = if value_len == TOMBSTONE {
        None
    } else {
        Some(String::from_utf8(record[HEADER + key_len..].to_vec()).ok()?)
    };
    Some((key, value, size))
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Put {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    Range {
        start: String,
        end: String,
        limit: usize,
    },
    Compact,
    Stats,
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Response {
    Ok { ok: bool },
    Value { value: Option<String> },
    Existed { existed: bool },
    Items { items: Vec<(String, String)> },
    Compacted { before: u64, after: u64 },
    Stats { keys: usize, file_bytes: u64 },
    Error { error: String },
}

fn handle(store: &mut Store, request: Request) -> io::Result<Response> {
    Ok(match request {
        Request::Put { key, value } => {
            store.put(&key, &value)?;
            Response::Ok { ok: true }
        }
        Request::Get { key } => Response::Value {
            value: store.get(&key)?,
        },
        Request::Delete { key } => Response::Existed {
            existed: store.delete(&key)?,
        },
        Request::Range { start, end, limit } => Response::Items {
            items: store.range(&start, &end, limit)?,
        },
        Request::Compact => {
            let (before, after) = store.compact()?;
            Response::Compacted { before, after }
        }
        Request::Stats => {
            let (keys, file_bytes) = store.stats();
            Response::Stats { keys, file_bytes }
        }
    })
}

fn main() {
    let dir = std::env::var("BACKLINGS_DATA_DIR").unwrap_or_else(|_| "data".to_string());
    let mut store = match Store::open(Path::new(&dir)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("cannot open the store in {dir}: {e}");
            return;
        }
    };
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        handle(&mut store, request).unwrap_or_else(|e| Response::Error {
            error: e.to_string(),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("db7-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    // Many inserts in a scrambled order split nodes, and a range scan still returns every key in order.
    #[test]
    fn tree_range_after_splits() {
        let mut tree = BPlusTree::default();
        let keys: Vec<String> = (0..500)
            .map(|i| format!("k{:04}", (i * 37) % 500))
            .collect();
        for key in &keys {
            assert!(tree.insert(key));
        }
        assert!(!tree.insert("k0001"));
        assert_eq!(tree.len(), 500);
        let all = tree.range("", "~", usize::MAX);
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        assert_eq!(
            tree.range("k0100", "k0103", 10),
            vec!["k0100", "k0101", "k0102"]
        );
        assert_eq!(tree.range("k0100", "k0200", 2), vec!["k0100", "k0101"]);
    }

    // Removed keys leave range scans, and can come back.
    #[test]
    fn tree_remove() {
        let mut tree = BPlusTree::default();
        for i in 0..100 {
            tree.insert(&format!("k{i:03}"));
        }
        for i in (0..100).step_by(2) {
            assert!(tree.remove(&format!("k{i:03}")));
        }
        assert!(!tree.remove("k000"));
        assert_eq!(tree.range("k010", "k016", 10), vec!["k011", "k013", "k015"]);
        assert!(tree.insert("k012"));
        assert_eq!(tree.range("k010", "k014", 10), vec!["k011", "k012", "k013"]);
    }

    // Writes, overwrites and deletes survive a reopen.
    #[test]
    fn store_survives_reopen() {
        let dir = temp_dir("reopen");
        {
            let mut store = Store::open(&dir).unwrap();
            store.put("a", "1").unwrap();
            store.put("b", "2").unwrap();
            store.put("a", "3").unwrap();
            assert!(store.delete("b").unwrap());
            assert!(!store.delete("zz").unwrap());
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some("3"));
        assert_eq!(store.get("b").unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    // A torn record at the end of the log is dropped and cut off, and later writes survive.
    #[test]
    fn torn_tail_is_truncated() {
        let dir = temp_dir("torn");
        {
            let mut store = Store::open(&dir).unwrap();
            store.put("a", "1").unwrap();
        }
        let torn = encode_record("b", Some("2"));
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.join("data.log"))
            .unwrap();
        log.write_all(&torn[..torn.len() - 1]).unwrap();
        {
            let mut store = Store::open(&dir).unwrap();
            assert_eq!(store.get("b").unwrap(), None);
            store.put("c", "3").unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some("1"));
        assert_eq!(store.get("c").unwrap().as_deref(), Some("3"));
        fs::remove_dir_all(&dir).unwrap();
    }

    // Compaction keeps only the live records.
    #[test]
    fn compaction_shrinks_the_log() {
        let dir = temp_dir("compact");
        let mut store = Store::open(&dir).unwrap();
        for round in 0..10 {
            store.put("a", &format!("{round}")).unwrap();
        }
        store.put("b", "x").unwrap();
        store.delete("b").unwrap();
        let (before, after) = store.compact().unwrap();
        assert!(after < before);
        assert_eq!(after, encode_record("a", Some("9")).len() as u64);
        assert_eq!(store.get("a").unwrap().as_deref(), Some("9"));
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some("9"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
