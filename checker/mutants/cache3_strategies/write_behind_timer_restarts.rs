//! mutant: write-behind restarts the flush timer on every write, so steady writes postpone the flush
//! expect: oldest unflushed write
//!
//! The learner writes a debounce ("flush when writes have been quiet for flush_ms") instead of a bound on how long a write may wait.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use backlings_harness::clock::{Clock, ManualClock};
use serde::{Deserialize, Serialize};

/// The slow store behind the cache.
pub trait Store {
    /// The value the store holds for `key`, if any. Slow: every call is a round trip.
    fn load(&mut self, key: u64) -> Option<u64>;
    /// Writes `value` for `key` in the store. Slow too.
    fn save(&mut self, key: u64, value: u64);
}

/// A cache in front of a store, under one strategy.
pub trait CachedStore {
    /// The current value of `key`: from the cache if it is there, else from the store.
    fn read(&mut self, key: u64) -> Option<u64>;
    /// Writes `value` for `key`, to the cache and/or the store as the strategy says.
    fn write(&mut self, key: u64, value: u64);
    /// Called after every tick of the clock.
    fn on_tick(&mut self) {}
    /// Called once when the program shuts down.
    fn shutdown(&mut self) {}
}

/// The read path every strategy here shares: a hit is served from `cache`; a miss loads from the
/// store and caches what it found.
fn read_or_load(cache: &mut HashMap<u64, u64>, store: &mut impl Store, key: u64) -> Option<u64> {
    if let Some(&value) = cache.get(&key) {
        return Some(value);
    }
    let value = store.load(key)?;
    cache.insert(key, value);
    Some(value)
}

/// Cache-aside: the application code around a plain cache does the loading and the invalidation.
pub struct CacheAside<S: Store> {
    cache: HashMap<u64, u64>,
    store: S,
}

impl<S: Store> CacheAside<S> {
    pub fn new(store: S) -> Self {
        CacheAside {
            cache: HashMap::new(),
            store,
        }
    }
}

impl<S: Store> CachedStore for CacheAside<S> {
    fn read(&mut self, key: u64) -> Option<u64> {
        read_or_load(&mut self.cache, &mut self.store, key)
    }

    fn write(&mut self, key: u64, value: u64) {
        self.store.save(key, value);
        self.cache.remove(&key);
    }
}

/// Read-through: the cache loads missing keys itself.
pub struct ReadThrough<S: Store> {
    cache: HashMap<u64, u64>,
    store: S,
}

impl<S: Store> ReadThrough<S> {
    pub fn new(store: S) -> Self {
        ReadThrough {
            cache: HashMap::new(),
            store,
        }
    }
}

impl<S: Store> CachedStore for ReadThrough<S> {
    fn read(&mut self, key: u64) -> Option<u64> {
        read_or_load(&mut self.cache, &mut self.store, key)
    }

    fn write(&mut self, key: u64, value: u64) {
        self.store.save(key, value);
        self.cache.remove(&key);
    }
}

/// Write-through: every write reaches the store and the cache before it returns.
pub struct WriteThrough<S: Store> {
    cache: HashMap<u64, u64>,
    store: S,
}

impl<S: Store> WriteThrough<S> {
    pub fn new(store: S) -> Self {
        WriteThrough {
            cache: HashMap::new(),
            store,
        }
    }
}

impl<S: Store> CachedStore for WriteThrough<S> {
    fn read(&mut self, key: u64) -> Option<u64> {
        read_or_load(&mut self.cache, &mut self.store, key)
    }

    fn write(&mut self, key: u64, value: u64) {
        self.store.save(key, value);
        self.cache.insert(key, value);
    }
}

/// Write-behind: writes stay in the cache, dirty, until a flush saves them in one batch.
pub struct WriteBehind<S: Store, C: Clock> {
    cache: HashMap<u64, u64>,
    store: S,
    clock: C,
    flush_ms: u64,
    /// The keys written since the last flush.
    dirty: BTreeSet<u64>,
    /// When the oldest unflushed write happened (`None` when nothing is dirty).
    first_dirty_at: Option<u64>,
}

impl<S: Store, C: Clock> WriteBehind<S, C> {
    pub fn new(store: S, flush_ms: u64, clock: C) -> Self {
        WriteBehind {
            cache: HashMap::new(),
            store,
            clock,
            flush_ms,
            dirty: BTreeSet::new(),
            first_dirty_at: None,
        }
    }

    /// Saves every dirty key once, with its latest value, in ascending key order.
    fn flush(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            if let Some(&value) = self.cache.get(&key) {
                self.store.save(key, value);
            }
        }
        self.first_dirty_at = None;
    }
}

impl<S: Store, C: Clock> CachedStore for WriteBehind<S, C> {
    fn read(&mut self, key: u64) -> Option<u64> {
        read_or_load(&mut self.cache, &mut self.store, key)
    }

    fn write(&mut self, key: u64, value: u64) {
        self.cache.insert(key, value);
        self.dirty.insert(key);
        self.first_dirty_at = Some(self.clock.now_ms());
    }

    fn on_tick(&mut self) {
        let now = self.clock.now_ms();
        if self
            .first_dirty_at
            .is_some_and(|first| now >= first.saturating_add(self.flush_ms))
        {
            self.flush();
        }
    }

    fn shutdown(&mut self) {
        self.flush();
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It connects to the grader's store (its
// address is in the BACKLINGS_STORE env var; one line per call: `GET k` -> `VALUE v` or `NONE`,
// `PUT k v` -> `OK`) and wires one `Box<dyn CachedStore>` to JSON lines on stdin/stdout:
//
//   {"op":"new","strategy":"cache_aside"}                   -> {"ok":true}
//   {"op":"new","strategy":"write_behind","flush_ms":100}   -> {"ok":true}
//        strategy: cache_aside, read_through, write_through, write_behind: an empty cache, with
//        its own connection to the store; the previous cache is shut down first
//   {"op":"read","key":1}            -> {"value":10} or {"value":null}
//   {"op":"write","key":1,"value":11} -> {"ok":true}
//   {"op":"tick","ms":50}            -> {"now":50}   moves the fake clock, then calls on_tick
//
// At the end of input, `shutdown` is called before the program exits.

/// The grader's store, over TCP.
pub struct TcpStore {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl TcpStore {
    /// Connects to the store at `BACKLINGS_STORE`.
    pub fn connect() -> std::io::Result<Self> {
        let addr = std::env::var("BACKLINGS_STORE").map_err(|_| {
            std::io::Error::other("BACKLINGS_STORE is not set: the grader starts the store")
        })?;
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(TcpStore {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn call(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("the store is gone");
        let mut answer = String::new();
        self.reader
            .read_line(&mut answer)
            .expect("the store is gone");
        answer.trim_end().to_string()
    }
}

impl Store for TcpStore {
    fn load(&mut self, key: u64) -> Option<u64> {
        let answer = self.call(&format!("GET {key}"));
        answer.strip_prefix("VALUE ")?.parse().ok()
    }

    fn save(&mut self, key: u64, value: u64) {
        self.call(&format!("PUT {key} {value}"));
    }
}

/// A strategy of a `new` request.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Strategy {
    CacheAside,
    ReadThrough,
    WriteThrough,
    WriteBehind,
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    New {
        strategy: Strategy,
        flush_ms: Option<u64>,
    },
    Read {
        key: u64,
    },
    Write {
        key: u64,
        value: u64,
    },
    Tick {
        ms: u64,
    },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Response {
    Ok { ok: bool },
    Value { value: Option<u64> },
    Now { now: u64 },
}

/// A cache of the given strategy over a fresh connection to the store.
fn build(strategy: Strategy, flush_ms: u64, clock: &ManualClock) -> Box<dyn CachedStore> {
    let store = TcpStore::connect().expect("cannot reach the grader's store");
    match strategy {
        Strategy::CacheAside => Box::new(CacheAside::new(store)),
        Strategy::ReadThrough => Box::new(ReadThrough::new(store)),
        Strategy::WriteThrough => Box::new(WriteThrough::new(store)),
        Strategy::WriteBehind => Box::new(WriteBehind::new(store, flush_ms, clock.clone())),
    }
}

fn main() {
    let clock = ManualClock::new(0);
    let mut cache: Option<Box<dyn CachedStore>> = None;
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::New { strategy, flush_ms } => {
            if let Some(mut old) = cache.take() {
                old.shutdown();
            }
            cache = Some(build(strategy, flush_ms.unwrap_or(u64::MAX), &clock));
            Response::Ok { ok: true }
        }
        Request::Read { key } => Response::Value {
            value: cache.as_mut().and_then(|cache| cache.read(key)),
        },
        Request::Write { key, value } => {
            if let Some(cache) = cache.as_mut() {
                cache.write(key, value);
            }
            Response::Ok { ok: true }
        }
        Request::Tick { ms } => {
            clock.advance(ms);
            if let Some(cache) = cache.as_mut() {
                cache.on_tick();
            }
            Response::Now {
                now: clock.now_ms(),
            }
        }
    });
    if let Some(mut cache) = cache {
        cache.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A store in memory that logs its calls, like the grader's: tests count loads and saves.
    #[derive(Clone, Default)]
    struct FakeStore {
        data: Rc<RefCell<HashMap<u64, u64>>>,
        log: Rc<RefCell<Vec<String>>>,
    }

    impl FakeStore {
        fn with(pairs: &[(u64, u64)]) -> Self {
            let store = FakeStore::default();
            store.data.borrow_mut().extend(pairs.iter().copied());
            store
        }

        fn take_log(&self) -> Vec<String> {
            std::mem::take(&mut self.log.borrow_mut())
        }
    }

    impl Store for FakeStore {
        fn load(&mut self, key: u64) -> Option<u64> {
            self.log.borrow_mut().push(format!("load {key}"));
            self.data.borrow().get(&key).copied()
        }

        fn save(&mut self, key: u64, value: u64) {
            self.log.borrow_mut().push(format!("save {key}={value}"));
            self.data.borrow_mut().insert(key, value);
        }
    }

    // A miss loads once; the next read of the same key is a hit.
    #[test]
    fn a_miss_loads_once_then_hits() {
        let store = FakeStore::with(&[(1, 10)]);
        let mut cache = ReadThrough::new(store.clone());
        assert_eq!(cache.read(1), Some(10));
        assert_eq!(cache.read(1), Some(10));
        assert_eq!(store.take_log(), ["load 1"]);
    }

    // A key the store does not have is not cached: each read asks the store.
    #[test]
    fn an_absent_key_is_not_cached() {
        let store = FakeStore::default();
        let mut cache = CacheAside::new(store.clone());
        assert_eq!(cache.read(7), None);
        assert_eq!(cache.read(7), None);
        assert_eq!(store.take_log(), ["load 7", "load 7"]);
    }

    // Cache-aside: a write saves, then invalidates: the next read loads the new value.
    #[test]
    fn cache_aside_write_invalidates() {
        let store = FakeStore::with(&[(1, 10)]);
        let mut cache = CacheAside::new(store.clone());
        cache.read(1);
        cache.write(1, 11);
        assert_eq!(cache.read(1), Some(11));
        assert_eq!(store.take_log(), ["load 1", "save 1=11", "load 1"]);
    }

    // Write-through: a write saves and updates the cache: the next read is a hit.
    #[test]
    fn write_through_write_updates_the_cache() {
        let store = FakeStore::with(&[(1, 10)]);
        let mut cache = WriteThrough::new(store.clone());
        cache.write(1, 11);
        assert_eq!(cache.read(1), Some(11));
        assert_eq!(store.take_log(), ["save 1=11"]);
    }

    // Write-behind: writes coalesce and reach the store only at the flush, in key order.
    #[test]
    fn write_behind_coalesces_until_the_flush() {
        let store = FakeStore::with(&[(1, 10)]);
        let clock = ManualClock::new(0);
        let mut cache = WriteBehind::new(store.clone(), 100, clock.clone());
        cache.write(2, 20);
        clock.advance(40);
        cache.write(1, 11);
        cache.write(2, 21);
        assert_eq!(cache.read(1), Some(11));
        cache.on_tick();
        assert_eq!(store.take_log(), Vec::<String>::new());
        clock.advance(60);
        cache.on_tick();
        assert_eq!(store.take_log(), ["save 1=11", "save 2=21"]);
    }

    // Write-behind: shutdown flushes what is still dirty.
    #[test]
    fn write_behind_flushes_at_shutdown() {
        let store = FakeStore::default();
        let mut cache = WriteBehind::new(store.clone(), 1_000, ManualClock::new(0));
        cache.write(3, 30);
        cache.shutdown();
        assert_eq!(store.take_log(), ["save 3=30"]);
    }
}
