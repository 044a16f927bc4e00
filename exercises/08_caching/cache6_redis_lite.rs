//! # redis-lite: a Redis-compatible server, from the wire up
//!
//! Redis is the cache (and rate limiter, session store, leaderboard, queue, message bus) of a large part
//! of the internet. It is one process holding a dictionary of keys in memory, each key holding one of a
//! handful of data structures, spoken to over a tiny text protocol, RESP. Knowing what is behind each
//! command is what lets you use it well: why `LRANGE` on a million-element list is slow, why `KEYS *`
//! freezes production, why a sorted set is the natural "top 10 trending posts", why an expired key can
//! still use memory until someone touches it.
//!
//! In this exercise you write a server that real Redis clients talk to: the grader drives it with the
//! `redis` Rust crate and with `redis-cli`, the official command-line client.
//!
//! ## RESP2, the wire protocol
//!
//! A client sends each command as an **array of bulk strings**: `SET k hello` is
//! `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n` (`*` count, then each argument as `$` length, bytes,
//! CRLF). Bulk strings are binary-safe: their length is a byte count, and they may contain `\r\n`.
//! The server answers with one value per command:
//!
//! | type | wire | used for |
//! |---|---|---|
//! | simple string | `+OK\r\n` | `OK`, `PONG`, `TYPE` |
//! | error | `-WRONGTYPE Operation against a key holding the wrong kind of value\r\n` | errors |
//! | integer | `:42\r\n` | counts, `INCR`, `TTL` |
//! | bulk string | `$5\r\nhello\r\n`, or `$-1\r\n` for "nil" | values |
//! | array | `*2\r\n…` (each element any type), or `*-1\r\n` for a nil array | lists of values |
//!
//! TCP is a stream, not a sequence of messages: one `read` may return half a command, or three commands
//! at once (clients **pipeline**: they send many commands before reading any answer). So the parser
//! works on a buffer: it either finds a whole command at the front (and says how many bytes it used),
//! or says "incomplete, read more", and only then.
//!
//! ## The data model
//!
//! Every key holds a string, a list, a set, a hash or a sorted set, and may have an **expiry time**. A
//! command for the wrong type answers `WRONGTYPE`, it never converts. An aggregate that becomes empty
//! (the last element popped or removed) is deleted: the key no longer exists.
//!
//! - **Strings**: `GET`, `SET key value [EX seconds | PX milliseconds]`, `INCR`, `INCRBY key n` (a
//!   string holding a base-10 `i64`; anything else, or an overflow, is `ERR value is not an integer or
//!   out of range`; a missing key counts as 0).
//! - **Lists** (a deque): `LPUSH`/`RPUSH key v…` (answer the new length), `LPOP`/`RPOP` (nil when
//!   missing), `LRANGE key start stop` (inclusive; negative indexes count from the end, `-1` is the last;
//!   out-of-range is clamped), `LLEN`.
//! - **Sets**: `SADD`/`SREM key m…` (answer how many were actually added/removed), `SISMEMBER`,
//!   `SMEMBERS` (any order), `SCARD`.
//! - **Hashes**: `HSET key f v [f v…]` (answers how many fields are new), `HGET`, `HDEL key f…`,
//!   `HGETALL` (field, value, field, value…, any order of pairs), `HLEN`, `HINCRBY key f n`.
//! - **Sorted sets**: members with a float score, ordered by score, then by member bytes for equal
//!   scores. `ZADD key score member [score member…]` (answers how many members are new), `ZINCRBY key
//!   increment member` (answers the new score), `ZSCORE`, `ZREM`, `ZCARD`, `ZRANGE`/`ZREVRANGE key start
//!   stop [WITHSCORES]` (indexes as `LRANGE`; `ZREVRANGE` is highest first, equal scores in reverse
//!   member order). Scores are written as Rust's `f64` `Display` does (`3`, `2.5`, `-1`), as Redis 7
//!   writes them.
//! - **Keys**: `DEL key…` and `EXISTS key…` (answer a count), `TYPE` (`string`, `list`, `set`, `hash`,
//!   `zset` or `none`), `PING [message]`, `ECHO`, `FLUSHALL`.
//!
//! ## Expiry and time
//!
//! `EXPIRE key seconds` / `PEXPIRE key ms` set a key's deadline (answer 1, or 0 for a missing key; a
//! deadline not in the future deletes the key at once). `PERSIST` removes it (1 if there was one).
//! `TTL` answers the seconds left **rounded to the nearest second** (as Redis does: 1 500 ms left is 2),
//! `PTTL` the exact milliseconds; both answer `-1` for a key without an expiry and `-2` for a missing key.
//! A key whose deadline is `T` is gone from time `T` on, for **every** command (`EXISTS`, `TYPE`,
//! `LRANGE`… not only `GET`): Redis deletes expired keys lazily, when they are touched. `SET` without
//! `EX`/`PX` removes any expiry; `INCR` and the commands that modify an aggregate keep it.
//!
//! The grader does not wait for real seconds to pass: `DEBUG ADVANCE <ms>` moves the server's clock
//! (provided below, like the real `DEBUG` command it is for tests only).
//!
//! ## Pub/Sub
//!
//! `SUBSCRIBE channel…` turns a connection into a subscriber: for each channel it receives
//! `["subscribe", channel, <number of channels it is subscribed to>]`, then every message published on
//! its channels as `["message", channel, payload]`. `PUBLISH channel payload` answers the number of
//! subscribers that received it. Messages are fire-and-forget: a subscriber that is not connected at the
//! time never sees them (that is the difference with a queue, or with Redis Streams).
//!
//! ## Pitfalls
//!
//! - Parsing by splitting on `\r\n`: a bulk string may contain `\r\n`. Read the length, then that many
//!   bytes.
//! - Assuming one `read` is one command: under pipelining, or when a command arrives in pieces, the
//!   server must keep the rest of the buffer.
//! - Forgetting lazy expiry in one command: an expired key that `GET` hides but `EXISTS` still counts.
//! - Rounding `TTL` down: Redis rounds to the nearest second.
//! - Ordering equal scores by insertion instead of by member: the leaderboard of two runs differs.
//! - Keeping the key of an emptied list or set: `EXISTS` and `TYPE` must say it is gone.
//! - Closing the connection on a command you do not know: a real client's first command may be one
//!   (the `redis` crate sends `CLIENT SETINFO` as it connects). Answer `-ERR unknown command '…'` and
//!   go on; the grader checks this too.
//!
//! Roadmap: Redis and Memcached; Redis data structures (strings, lists, sets, hashes, sorted sets) and
//! TTLs; caching trending posts with a TTL; pub/sub.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use backlings_harness::clock::{Clock, ManualClock};

/// One RESP2 value, as the server writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None` is the nil bulk string `$-1`.
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".to_string())
    }

    /// A bulk string of `bytes`.
    pub fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(Some(bytes.to_vec()))
    }

    /// Appends the RESP2 encoding of this value to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // TODO: append this value in RESP2: `+`, `-`, `:`, `$` (with `$-1` for nil) or `*`, each line
        // ending in \r\n; an array is its count, then each element encoded in turn.
        todo!()
    }
}

/// A command's arguments, and how many bytes of the buffer it used.
pub type Parsed = (Vec<Vec<u8>>, usize);

/// Finds one command (a RESP array of bulk strings) at the front of `buf`: `Ok(Some((arguments, bytes
/// used)))`, `Ok(None)` when the buffer holds only part of it, or `Err` for bytes that are not RESP.
pub fn parse_command(buf: &[u8]) -> Result<Option<Parsed>, String> {
    // TODO: read `*<count>\r\n`, then `count` times `$<len>\r\n<len bytes>\r\n`. Answer `Ok(None)` as
    // soon as the buffer ends early (more bytes will come), `Err` for bytes that are not RESP.
    todo!()
}

/// Reads `<kind><number>\r\n` at `at`: the number and where the next byte is.
fn read_header(buf: &[u8], at: usize, kind: u8) -> Result<Option<(usize, usize)>, String> {
    // TODO: at `at`, expect the byte `kind`, then a decimal number up to \r\n; `Ok(None)` if the line is
    // not complete yet.
    todo!()
}

/// A sorted set: each member's score, and the members in order.
#[derive(Debug, Clone, Default)]
pub struct SortedSet {
    scores: HashMap<Vec<u8>, f64>,
    /// `(score, member)` in order; `Score` orders floats totally.
    order: BTreeSet<(Score, Vec<u8>)>,
}

/// An `f64` with a total order, for use as a key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl SortedSet {
    /// Sets `member`'s score; true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        // TODO: set the member's score, keeping `scores` and `order` in step (an old score must leave
        // `order`); true if the member is new.
        todo!()
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        // TODO: remove the member from both `scores` and `order`; true if it was there.
        todo!()
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Members from lowest to highest (or highest to lowest when `reverse`), with their scores.
    pub fn iter(&self, reverse: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let items = self.order.iter().map(|(s, m)| (m.as_slice(), s.0));
        if reverse {
            Box::new(items.rev())
        } else {
            Box::new(items)
        }
    }
}

/// What a key holds.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Set(HashSet<Vec<u8>>),
    Hash(HashMap<Vec<u8>, Vec<u8>>),
    ZSet(SortedSet),
}

/// One key's value and its deadline (unix ms), if any.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    pub expires_at: Option<u64>,
}

/// The keyspace.
#[derive(Debug, Default)]
pub struct Db {
    entries: HashMap<Vec<u8>, Entry>,
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";

fn error(text: &str) -> Reply {
    Reply::Error(text.to_string())
}

fn int(arg: &[u8]) -> Result<i64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| error(NOT_INTEGER))
}

fn float(arg: &[u8]) -> Result<f64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| !f.is_nan())
        .ok_or_else(|| error(NOT_FLOAT))
}

fn format_score(score: f64) -> Reply {
    Reply::bulk(score.to_string().as_bytes())
}

/// The inclusive index range `start..=stop` of a `len`-long sequence, Redis style (negative from the
/// end, clamped); `None` when it is empty.
fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    // TODO: turn Redis indexes (negative ones count from the end) into an inclusive range of real
    // indexes, clamped to the sequence; `None` when it selects nothing.
    todo!()
}

impl Db {
    /// An empty keyspace.
    pub fn new() -> Self {
        Db::default()
    }

    /// The live entry of `key` at `now_ms`, deleting it first if it has expired.
    fn live(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        // TODO: lazy expiry: a key whose deadline has come is deleted here, before anyone sees it.
        todo!()
    }

    /// The value of `key` if it is a `T`, or a new empty one (created with `make`); WRONGTYPE otherwise.
    fn value_mut(
        &mut self,
        key: &[u8],
        now_ms: u64,
        make: fn() -> Value,
    ) -> Result<&mut Value, Reply> {
        if self.live(key, now_ms).is_none() {
            self.entries.insert(
                key.to_vec(),
                Entry {
                    value: make(),
                    expires_at: None,
                },
            );
        }
        let value = &mut self.entries.get_mut(key).expect("just made").value;
        if std::mem::discriminant(value) != std::mem::discriminant(&make()) {
            return Err(error(WRONGTYPE));
        }
        Ok(value)
    }

    /// Deletes `key` if it holds an empty aggregate.
    fn drop_if_empty(&mut self, key: &[u8]) {
        // TODO: delete `key` if it holds a list, set, hash or sorted set with no element left.
        todo!()
    }

    /// Runs one command at `now_ms` and returns its reply. `args[0]` is the command name, in any case.
    pub fn execute(&mut self, now_ms: u64, args: &[Vec<u8>]) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let result = match (name.as_str(), args.len()) {
            ("PING", 1) => Ok(Reply::Simple("PONG".to_string())),
            ("PING", 2) | ("ECHO", 2) => Ok(Reply::bulk(&args[1])),
            ("FLUSHALL", 1) => {
                self.entries.clear();
                Ok(Reply::ok())
            }
            ("GET", 2) => self.get(&args[1], now_ms),
            ("SET", 3 | 5) => self.set(args, now_ms),
            ("DEL", 2..) | ("EXISTS", 2..) => Ok(self.count_keys(&name, &args[1..], now_ms)),
            ("TYPE", 2) => Ok(self.type_of(&args[1], now_ms)),
            ("INCR", 2) => self.incr_by(&args[1], 1, now_ms),
            ("INCRBY", 3) => int(&args[2]).and_then(|n| self.incr_by(&args[1], n, now_ms)),
            ("EXPIRE" | "PEXPIRE", 3) => int(&args[2]).map(|n| {
                let ms = if name == "EXPIRE" {
                    n.saturating_mul(1000)
                } else {
                    n
                };
                self.expire(&args[1], ms, now_ms)
            }),
            ("TTL" | "PTTL", 2) => Ok(self.ttl(&args[1], name == "PTTL", now_ms)),
            ("PERSIST", 2) => Ok(Reply::Integer(match self.live(&args[1], now_ms) {
                Some(entry) => i64::from(entry.expires_at.take().is_some()),
                None => 0,
            })),
            ("LPUSH" | "RPUSH", 3..) => self.push(&name, args, now_ms),
            ("LPOP" | "RPOP", 2) => self.pop(&name, &args[1], now_ms),
            ("LRANGE", 4) => self.lrange(args, now_ms),
            ("LLEN" | "SCARD" | "HLEN" | "ZCARD", 2) => self.len(&name, &args[1], now_ms),
            ("SADD" | "SREM", 3..) => self.sadd_srem(&name, args, now_ms),
            ("SISMEMBER", 3) => self.sismember(args, now_ms),
            ("SMEMBERS", 2) => self.smembers(&args[1], now_ms),
            ("HSET", n) if n >= 4 && n % 2 == 0 => self.hset(args, now_ms),
            ("HGET", 3) => self.hget(args, now_ms),
            ("HDEL", 3..) => self.hdel(args, now_ms),
            ("HGETALL", 2) => self.hgetall(&args[1], now_ms),
            ("HINCRBY", 4) => int(&args[3]).and_then(|n| self.hincrby(args, n, now_ms)),
            ("ZADD", n) if n >= 4 && n % 2 == 0 => self.zadd(args, now_ms),
            ("ZINCRBY", 4) => float(&args[2]).and_then(|by| self.zincrby(args, by, now_ms)),
            ("ZSCORE", 3) => self.zscore(args, now_ms),
            ("ZREM", 3..) => self.zrem(args, now_ms),
            ("ZRANGE" | "ZREVRANGE", 4 | 5) => self.zrange(&name, args, now_ms),
            (
                "PING" | "ECHO" | "FLUSHALL" | "GET" | "SET" | "DEL" | "EXISTS" | "TYPE" | "INCR"
                | "INCRBY" | "EXPIRE" | "PEXPIRE" | "TTL" | "PTTL" | "PERSIST" | "LPUSH" | "RPUSH"
                | "LPOP" | "RPOP" | "LRANGE" | "LLEN" | "SADD" | "SREM" | "SISMEMBER" | "SMEMBERS"
                | "SCARD" | "HSET" | "HGET" | "HDEL" | "HGETALL" | "HLEN" | "HINCRBY" | "ZADD"
                | "ZINCRBY" | "ZSCORE" | "ZREM" | "ZCARD" | "ZRANGE" | "ZREVRANGE",
                _,
            ) => Err(Reply::Error(format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_ascii_lowercase()
            ))),
            _ => Err(Reply::Error(format!(
                "ERR unknown command '{}'",
                String::from_utf8_lossy(&args[0])
            ))),
        };
        result.unwrap_or_else(|reply| reply)
    }

    fn get(&mut self, key: &[u8], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: GET: the string, nil for a missing key, WRONGTYPE for another type.
        todo!()
    }

    fn set(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: SET key value [EX seconds | PX ms]: replace whatever was there, with the new deadline
        // or none.
        todo!()
    }

    fn count_keys(&mut self, name: &str, keys: &[Vec<u8>], now_ms: u64) -> Reply {
        // TODO: EXISTS counts the live keys among `keys`; DEL also deletes them.
        todo!()
    }

    fn type_of(&mut self, key: &[u8], now_ms: u64) -> Reply {
        let name = match self.live(key, now_ms).map(|e| &e.value) {
            None => "none",
            Some(Value::Str(_)) => "string",
            Some(Value::List(_)) => "list",
            Some(Value::Set(_)) => "set",
            Some(Value::Hash(_)) => "hash",
            Some(Value::ZSet(_)) => "zset",
        };
        Reply::Simple(name.to_string())
    }

    fn incr_by(&mut self, key: &[u8], by: i64, now_ms: u64) -> Result<Reply, Reply> {
        // TODO: INCR/INCRBY on a string holding a base-10 i64 (missing counts as 0), keeping its deadline;
        // NOT_INTEGER for anything else or an overflow.
        todo!()
    }

    fn expire(&mut self, key: &[u8], ms: i64, now_ms: u64) -> Reply {
        // TODO: EXPIRE/PEXPIRE: 0 for a missing key; otherwise set the deadline (one not in the future
        // deletes the key at once) and answer 1.
        todo!()
    }

    fn ttl(&mut self, key: &[u8], in_ms: bool, now_ms: u64) -> Reply {
        // TODO: -2 missing, -1 no deadline, else the time left: exact ms for PTTL, seconds rounded to
        // the nearest for TTL.
        todo!()
    }

    fn push(&mut self, name: &str, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: LPUSH/RPUSH each value in turn at the head/tail; answer the new length.
        todo!()
    }

    fn pop(&mut self, name: &str, key: &[u8], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: LPOP/RPOP one value (nil when there is none); an emptied list is deleted.
        todo!()
    }

    fn lrange(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: LRANGE key start stop, inclusive, with `index_range`.
        todo!()
    }

    fn len(&mut self, name: &str, key: &[u8], now_ms: u64) -> Result<Reply, Reply> {
        let len = match (name, self.live(key, now_ms).map(|e| &e.value)) {
            (_, None) => 0,
            ("LLEN", Some(Value::List(l))) => l.len(),
            ("SCARD", Some(Value::Set(s))) => s.len(),
            ("HLEN", Some(Value::Hash(h))) => h.len(),
            ("ZCARD", Some(Value::ZSet(z))) => z.len(),
            _ => return Err(error(WRONGTYPE)),
        };
        Ok(Reply::Integer(len as i64))
    }

    fn sadd_srem(&mut self, name: &str, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: SADD/SREM the members; answer how many really changed; an emptied set is deleted.
        todo!()
    }

    fn sismember(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        match self.live(&args[1], now_ms).map(|e| &e.value) {
            None => Ok(Reply::Integer(0)),
            Some(Value::Set(set)) => Ok(Reply::Integer(i64::from(set.contains(&args[2])))),
            Some(_) => Err(error(WRONGTYPE)),
        }
    }

    fn smembers(&mut self, key: &[u8], now_ms: u64) -> Result<Reply, Reply> {
        match self.live(key, now_ms).map(|e| &e.value) {
            None => Ok(Reply::Array(Vec::new())),
            Some(Value::Set(set)) => Ok(Reply::Array(set.iter().map(|m| Reply::bulk(m)).collect())),
            Some(_) => Err(error(WRONGTYPE)),
        }
    }

    fn hash_mut(
        &mut self,
        key: &[u8],
        now_ms: u64,
    ) -> Result<&mut HashMap<Vec<u8>, Vec<u8>>, Reply> {
        match self.value_mut(key, now_ms, || Value::Hash(HashMap::new()))? {
            Value::Hash(hash) => Ok(hash),
            _ => unreachable!(),
        }
    }

    fn hset(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: HSET key field value [field value…]: answer how many fields are new.
        todo!()
    }

    fn hget(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        match self.live(&args[1], now_ms).map(|e| &e.value) {
            None => Ok(Reply::Bulk(None)),
            Some(Value::Hash(hash)) => Ok(Reply::Bulk(hash.get(&args[2]).cloned())),
            Some(_) => Err(error(WRONGTYPE)),
        }
    }

    fn hdel(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        let removed = match self.live(&args[1], now_ms).map(|e| &mut e.value) {
            None => 0,
            Some(Value::Hash(hash)) => args[2..]
                .iter()
                .filter(|f| hash.remove(f.as_slice()).is_some())
                .count(),
            Some(_) => return Err(error(WRONGTYPE)),
        };
        self.drop_if_empty(&args[1]);
        Ok(Reply::Integer(removed as i64))
    }

    fn hgetall(&mut self, key: &[u8], now_ms: u64) -> Result<Reply, Reply> {
        match self.live(key, now_ms).map(|e| &e.value) {
            None => Ok(Reply::Array(Vec::new())),
            Some(Value::Hash(hash)) => Ok(Reply::Array(
                hash.iter()
                    .flat_map(|(f, v)| [Reply::bulk(f), Reply::bulk(v)])
                    .collect(),
            )),
            Some(_) => Err(error(WRONGTYPE)),
        }
    }

    fn hincrby(&mut self, args: &[Vec<u8>], by: i64, now_ms: u64) -> Result<Reply, Reply> {
        // TODO: HINCRBY key field n, like INCRBY but on one field of a hash.
        todo!()
    }

    fn zset_mut(&mut self, key: &[u8], now_ms: u64) -> Result<&mut SortedSet, Reply> {
        match self.value_mut(key, now_ms, || Value::ZSet(SortedSet::default()))? {
            Value::ZSet(zset) => Ok(zset),
            _ => unreachable!(),
        }
    }

    fn zadd(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: ZADD key score member [score member…]: check every score first, then add; answer how
        // many members are new.
        todo!()
    }

    fn zincrby(&mut self, args: &[Vec<u8>], by: f64, now_ms: u64) -> Result<Reply, Reply> {
        // TODO: ZINCRBY key increment member: answer the new score (with `format_score`).
        todo!()
    }

    fn zscore(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        match self.live(&args[1], now_ms).map(|e| &e.value) {
            None => Ok(Reply::Bulk(None)),
            Some(Value::ZSet(zset)) => {
                Ok(zset.score(&args[2]).map_or(Reply::Bulk(None), format_score))
            }
            Some(_) => Err(error(WRONGTYPE)),
        }
    }

    fn zrem(&mut self, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        let removed = match self.live(&args[1], now_ms).map(|e| &mut e.value) {
            None => 0,
            Some(Value::ZSet(zset)) => args[2..].iter().filter(|m| zset.remove(m)).count(),
            Some(_) => return Err(error(WRONGTYPE)),
        };
        self.drop_if_empty(&args[1]);
        Ok(Reply::Integer(removed as i64))
    }

    fn zrange(&mut self, name: &str, args: &[Vec<u8>], now_ms: u64) -> Result<Reply, Reply> {
        // TODO: ZRANGE/ZREVRANGE key start stop [WITHSCORES]: members lowest first (or highest first),
        // each followed by its score when asked.
        todo!()
    }
}

/// A subscriber: its connection id, and the sender of that connection's outgoing bytes.
pub type Subscriber = (u64, Sender<Vec<u8>>);

/// The subscribers of every channel: connection id and the sender of that connection's outgoing bytes.
#[derive(Debug, Default)]
pub struct Hub {
    channels: HashMap<Vec<u8>, Vec<Subscriber>>,
}

impl Hub {
    /// Subscribes connection `id` (whose outgoing bytes go to `out`) to `channel`.
    pub fn subscribe(&mut self, channel: &[u8], id: u64, out: Sender<Vec<u8>>) {
        let subscribers = self.channels.entry(channel.to_vec()).or_default();
        if !subscribers.iter().any(|(other, _)| *other == id) {
            subscribers.push((id, out));
        }
    }

    /// Unsubscribes connection `id` from `channel`.
    pub fn unsubscribe(&mut self, channel: &[u8], id: u64) {
        if let Some(subscribers) = self.channels.get_mut(channel) {
            subscribers.retain(|(other, _)| *other != id);
            if subscribers.is_empty() {
                self.channels.remove(channel);
            }
        }
    }

    /// Sends `["message", channel, payload]` to every subscriber of `channel`; returns how many got it.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8]) -> i64 {
        // TODO: send the encoded `["message", channel, payload]` to every subscriber of `channel`; a
        // subscriber whose connection is gone (its send fails) is dropped, not counted.
        todo!()
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It serves RESP2 on 127.0.0.1:0 (printing
// `READY <ip:port>`), one thread per connection, with the subscriber mode of a connection and the
// test-only `DEBUG ADVANCE <ms>`, which moves the server's clock.

/// What every connection shares.
struct Shared {
    db: Mutex<Db>,
    hub: Mutex<Hub>,
    clock: ManualClock,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves one connection: parse commands from the buffer, answer each in order.
fn serve_connection(stream: TcpStream, id: u64, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (out, outgoing) = mpsc::channel::<Vec<u8>>();
    // One writer per connection: replies and published messages go out in the order they were queued.
    let mut writer = stream.try_clone()?;
    thread::spawn(move || {
        for bytes in outgoing {
            if writer.write_all(&bytes).is_err() {
                break;
            }
        }
    });
    let mut reader = stream;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut subscriptions: Vec<Vec<u8>> = Vec::new();
    let result = loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        buffer.extend_from_slice(&chunk[..n]);
        let mut replies = Vec::new();
        loop {
            match parse_command(&buffer) {
                Ok(Some((args, used))) => {
                    buffer.drain(..used);
                    if args.is_empty() {
                        continue;
                    }
                    let reply = run(&args, id, &out, &mut subscriptions, shared);
                    for reply in reply {
                        reply.encode(&mut replies);
                    }
                }
                Ok(None) => break,
                Err(why) => {
                    Reply::Error(format!("ERR Protocol error: {why}")).encode(&mut replies);
                    let _ = out.send(replies);
                    cleanup(id, &subscriptions, shared);
                    return Ok(());
                }
            }
        }
        if !replies.is_empty() && out.send(replies).is_err() {
            break Ok(());
        }
    };
    cleanup(id, &subscriptions, shared);
    result
}

fn cleanup(id: u64, subscriptions: &[Vec<u8>], shared: &Shared) {
    let mut hub = lock(&shared.hub);
    for channel in subscriptions {
        hub.unsubscribe(channel, id);
    }
}

/// Runs one command for connection `id`: pub/sub and DEBUG here, the rest in the `Db`.
fn run(
    args: &[Vec<u8>],
    id: u64,
    out: &Sender<Vec<u8>>,
    subscriptions: &mut Vec<Vec<u8>>,
    shared: &Shared,
) -> Vec<Reply> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let confirm = |kind: &[u8], channel: &[u8], count: usize| {
        Reply::Array(vec![
            Reply::bulk(kind),
            Reply::bulk(channel),
            Reply::Integer(count as i64),
        ])
    };
    match name.as_str() {
        "SUBSCRIBE" if args.len() >= 2 => {
            let mut hub = lock(&shared.hub);
            args[1..]
                .iter()
                .map(|channel| {
                    if !subscriptions.contains(channel) {
                        subscriptions.push(channel.clone());
                    }
                    hub.subscribe(channel, id, out.clone());
                    confirm(b"subscribe", channel, subscriptions.len())
                })
                .collect()
        }
        "UNSUBSCRIBE" => {
            let channels: Vec<Vec<u8>> = if args.len() > 1 {
                args[1..].to_vec()
            } else {
                subscriptions.clone()
            };
            let mut hub = lock(&shared.hub);
            channels
                .iter()
                .map(|channel| {
                    subscriptions.retain(|c| c != channel);
                    hub.unsubscribe(channel, id);
                    confirm(b"unsubscribe", channel, subscriptions.len())
                })
                .collect()
        }
        _ if !subscriptions.is_empty() && name != "PING" => vec![Reply::Error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are \
             allowed in this context",
            name.to_ascii_lowercase()
        ))],
        "PUBLISH" if args.len() == 3 => {
            vec![Reply::Integer(
                lock(&shared.hub).publish(&args[1], &args[2]),
            )]
        }
        "DEBUG" if args.len() == 3 && args[1].eq_ignore_ascii_case(b"ADVANCE") => {
            match std::str::from_utf8(&args[2])
                .ok()
                .and_then(|s| s.parse().ok())
            {
                Some(ms) => {
                    shared.clock.advance(ms);
                    vec![Reply::ok()]
                }
                None => vec![error(NOT_INTEGER)],
            }
        }
        _ => vec![lock(&shared.db).execute(shared.clock.now_ms(), args)],
    }
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    io::stdout().flush()?;
    let shared = Arc::new(Shared {
        db: Mutex::new(Db::new()),
        hub: Mutex::new(Hub::default()),
        clock: ManualClock::new(1_700_000_000_000),
    });
    for (id, stream) in (0u64..).zip(listener.incoming()) {
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        thread::spawn(move || serve_connection(stream, id, &shared));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn bulk(text: &str) -> Reply {
        Reply::bulk(text.as_bytes())
    }

    // Replies encode as RESP2, nil and nesting included.
    #[test]
    fn encodes_every_reply_type() {
        let mut out = Vec::new();
        Reply::Array(vec![
            Reply::ok(),
            Reply::Integer(-3),
            Reply::Bulk(None),
            bulk("a\r\nb"),
            error("ERR no"),
        ])
        .encode(&mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n:-3\r\n$-1\r\n$4\r\na\r\nb\r\n-ERR no\r\n"
        );
    }

    // A whole command is found; a prefix of one is "incomplete"; the rest of the buffer is left alone.
    #[test]
    fn parses_whole_partial_and_pipelined_commands() {
        let wire = b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n*1\r\n$4\r\nPING\r\n";
        let (args, used) = parse_command(wire).unwrap().unwrap();
        assert_eq!(args, cmd(&["GET", "a\r\nb"]));
        assert_eq!(
            parse_command(&wire[used..]).unwrap().unwrap().0,
            cmd(&["PING"])
        );
        for cut in 0..used {
            assert_eq!(
                parse_command(&wire[..cut]).unwrap(),
                None,
                "prefix of {cut} bytes"
            );
        }
        assert!(parse_command(b"hello\r\n").is_err());
    }

    // Strings, INCR, and WRONGTYPE across types.
    #[test]
    fn strings_counters_and_wrong_types() {
        let mut db = Db::new();
        assert_eq!(db.execute(0, &cmd(&["SET", "n", "41"])), Reply::ok());
        assert_eq!(db.execute(0, &cmd(&["INCR", "n"])), Reply::Integer(42));
        assert_eq!(
            db.execute(0, &cmd(&["INCRBY", "fresh", "-5"])),
            Reply::Integer(-5)
        );
        assert_eq!(db.execute(0, &cmd(&["LPUSH", "n", "x"])), error(WRONGTYPE));
        db.execute(0, &cmd(&["SET", "s", "abc"]));
        assert_eq!(db.execute(0, &cmd(&["INCR", "s"])), error(NOT_INTEGER));
    }

    // A key is gone at its deadline for every command, and TTL rounds to the nearest second.
    #[test]
    fn expiry_is_exact_and_ttl_rounds_to_nearest() {
        let mut db = Db::new();
        db.execute(0, &cmd(&["RPUSH", "l", "a", "b"]));
        assert_eq!(
            db.execute(0, &cmd(&["PEXPIRE", "l", "2500"])),
            Reply::Integer(1)
        );
        assert_eq!(db.execute(1000, &cmd(&["TTL", "l"])), Reply::Integer(2));
        assert_eq!(db.execute(1001, &cmd(&["TTL", "l"])), Reply::Integer(1));
        assert_eq!(db.execute(2499, &cmd(&["PTTL", "l"])), Reply::Integer(1));
        assert_eq!(db.execute(2500, &cmd(&["EXISTS", "l"])), Reply::Integer(0));
        assert_eq!(db.execute(2500, &cmd(&["TTL", "l"])), Reply::Integer(-2));
        db.execute(0, &cmd(&["SET", "k", "v", "EX", "10"]));
        db.execute(0, &cmd(&["SET", "k", "w"]));
        assert_eq!(db.execute(0, &cmd(&["TTL", "k"])), Reply::Integer(-1));
    }

    // Lists, sets and hashes; emptied aggregates disappear.
    #[test]
    fn lists_sets_hashes_and_empty_keys() {
        let mut db = Db::new();
        assert_eq!(
            db.execute(0, &cmd(&["RPUSH", "l", "a", "b", "c"])),
            Reply::Integer(3)
        );
        assert_eq!(
            db.execute(0, &cmd(&["LRANGE", "l", "-2", "100"])),
            Reply::Array(vec![bulk("b"), bulk("c")])
        );
        assert_eq!(
            db.execute(0, &cmd(&["SADD", "s", "x", "x", "y"])),
            Reply::Integer(2)
        );
        assert_eq!(
            db.execute(0, &cmd(&["SREM", "s", "x", "y"])),
            Reply::Integer(2)
        );
        assert_eq!(
            db.execute(0, &cmd(&["TYPE", "s"])),
            Reply::Simple("none".to_string())
        );
        assert_eq!(
            db.execute(0, &cmd(&["HSET", "h", "f", "1", "g", "2"])),
            Reply::Integer(2)
        );
        assert_eq!(
            db.execute(0, &cmd(&["HINCRBY", "h", "f", "9"])),
            Reply::Integer(10)
        );
    }

    // Sorted sets order by score, then member; ZREVRANGE reverses both.
    #[test]
    fn sorted_sets_order_ties_by_member() {
        let mut db = Db::new();
        db.execute(0, &cmd(&["ZADD", "z", "2", "b", "1", "c", "2", "a"]));
        assert_eq!(
            db.execute(0, &cmd(&["ZRANGE", "z", "0", "-1"])),
            Reply::Array(vec![bulk("c"), bulk("a"), bulk("b")])
        );
        assert_eq!(
            db.execute(0, &cmd(&["ZINCRBY", "z", "0.5", "c"])),
            bulk("1.5")
        );
        assert_eq!(
            db.execute(0, &cmd(&["ZREVRANGE", "z", "0", "1", "WITHSCORES"])),
            Reply::Array(vec![bulk("b"), bulk("2"), bulk("a"), bulk("2")])
        );
    }

    // PUBLISH reaches each subscriber once and counts them.
    #[test]
    fn publish_fans_out_to_subscribers() {
        let mut hub = Hub::default();
        let (a, a_rx) = mpsc::channel();
        let (b, b_rx) = mpsc::channel();
        hub.subscribe(b"news", 1, a.clone());
        hub.subscribe(b"news", 1, a);
        hub.subscribe(b"news", 2, b);
        assert_eq!(hub.publish(b"news", b"hi"), 2);
        assert_eq!(hub.publish(b"other", b"hi"), 0);
        let expected = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_vec();
        assert_eq!(a_rx.try_iter().collect::<Vec<_>>(), vec![expected.clone()]);
        assert_eq!(b_rx.try_recv().unwrap(), expected);
    }
}
