//! mutant: each instance counts requests in its own memory, so the fleet admits the limit once per instance
//! expect: a counter kept inside one instance
//! # Two cache levels and a shared rate limit: L1 in the process, L2 in Redis
//!
//! A service that runs as several instances behind a load balancer usually caches at two levels. **L1**
//! is a small cache inside each process: a lookup is a hash-map probe, nanoseconds, no network. **L2** is
//! a shared cache every instance talks to over the network, Redis or Memcached: a round trip, a fraction
//! of a millisecond, but one copy for the whole fleet, so a value loaded by one instance serves all of
//! them, and the database sees one query where it would have seen one per instance. A read tries L1, then
//! L2, then the database, and fills the levels it missed on the way back.
//!
//! Two copies per instance is where it gets hard: **coherence**. When instance A writes an item, the
//! database and L2 are easy to fix (A writes one, deletes the other), but B's L1 still holds the old value
//! in B's memory, where A cannot reach. The usual answer is a broadcast: A publishes "item 42 changed" on
//! a Redis pub/sub channel, every instance subscribes to it and drops its L1 copy when the message comes.
//! Redis pub/sub is *fire-and-forget*, though: a subscriber whose connection blips misses the message,
//! and nobody will ever resend it. So the L1 also gets a **short TTL**: that bounds how long a missed
//! invalidation can keep an instance stale (seconds), while L2 keeps a longer one.
//!
//! The same shared Redis gives the fleet one **rate limit**. A limit of 100 requests a minute per client,
//! counted inside each instance, is really 100 × the number of instances. Counted in Redis it is global:
//! `INCR rate:<client>` is atomic however many instances send it at once, and the first `INCR` of a
//! window (the one that answers 1) sets the key's expiry with `PEXPIRE`, so the counter disappears, and
//! the window ends, exactly one window after the client's first request.
//!
//! ## The contract (the grader runs L2 and the database, and starts your program twice)
//!
//! The program serves HTTP (provided). Every request has `X-Client-Id` and `X-Fake-Now` (the time in
//! ms; the grader moves the L2 server's clock with it). Settings come from the environment: `L1_CAPACITY`,
//! `L1_TTL_MS`, `L2_TTL_MS`, `RATE_LIMIT`, `RATE_WINDOW_MS`.
//!
//! - **Rate limit first**: every request is one `INCR rate:<client>` in L2; when it answers 1, `PEXPIRE
//!   rate:<client> RATE_WINDOW_MS`; when the count is over `RATE_LIMIT` the answer is `429` and the request
//!   does nothing else (no cache, no database).
//! - **`GET /items/<id>`** (`200` with the value, or `404`): a fresh L1 entry answers at once (no L2, no
//!   database). Otherwise `GET cache:item:<id>` in L2; a hit goes into L1 and is answered. Otherwise the
//!   database; a value found there is stored in L2 (`SET cache:item:<id> <value> PX L2_TTL_MS`) and in L1.
//!   An item the database does not have is not cached. An L1 entry filled at `t` is fresh while
//!   `now < t + L1_TTL_MS`; L1 holds `L1_CAPACITY` entries and evicts the least recently used.
//! - **`PUT /items/<id>`** (`204`): write the database, `DEL cache:item:<id>` in L2, drop the item from
//!   this instance's own L1, and `PUBLISH invalidate <id>`, all before answering.
//! - **On a message** on `invalidate` (the provided subscriber calls `on_invalidation`): drop that item
//!   from L1.
//!
//! The grader checks each answer *and* the traffic behind it: an L1 hit must cause no L2 command on the
//! item, an L2 hit no database query; it reads L2's keys and their expiries after each request; it writes
//! through A and reads through B; it loses invalidation messages on purpose; and it fires concurrent
//! bursts through both instances at one client's limit.
//!
//! ## Pitfalls
//!
//! - Updating L2 with the new value on a write instead of deleting it: a reader that loaded the old value
//!   just before can write it back after you. Delete, and let the next miss load the new value.
//! - Relying on your own broadcast to clean your own L1: the message may be lost (or arrive after the
//!   next read). Drop your own copy directly.
//! - An L1 without a TTL: one lost message and an instance serves the old value until it is evicted,
//!   which for a hot item is never.
//! - `PEXPIRE` on every `INCR`: a client that never pauses keeps pushing its window's end away and is
//!   never let back in. Set it once, when `INCR` answers 1. (`INCR` then `PEXPIRE` is two commands: a crash
//!   between them leaves a counter that never expires. Production code sends both atomically, in a
//!   `MULTI` or a Lua script; the grader does not crash you between them.)
//! - `GET` the count, compare, then `SET count + 1`: two instances read the same count and both admit.
//!   `INCR` is atomic; use its answer.
//! - Holding the L1 lock across a network call: every other request of the instance waits for Redis.
//!
//! Roadmap: L1 (in-memory) vs L2 (network) cache; cache invalidation strategies and coherence across
//! instances (pub/sub); distributed caching with Redis; a Redis-backed (distributed) rate limiter.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use backlings_harness::http::{Request, Response};

/// The pub/sub channel on which writes announce the ids of changed items.
pub const INVALIDATION_CHANNEL: &str = "invalidate";

/// The L2 key of item `id`.
pub fn cache_key(id: &str) -> String {
    format!("cache:item:{id}")
}

/// The L2 key of `client`'s request counter.
pub fn rate_key(client: &str) -> String {
    format!("rate:{client}")
}

/// The settings of one instance (the grader picks them; both instances get the same).
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub l1_capacity: usize,
    pub l1_ttl_ms: u64,
    pub l2_ttl_ms: u64,
    pub rate_limit: i64,
    pub rate_window_ms: u64,
}

/// The commands of the shared L2 (Redis) this exercise uses. Provided: `RedisL2` below sends them to a
/// real server; the tests use an in-memory one.
pub trait SharedCache: Send + Sync {
    /// `GET key`.
    fn get(&self, key: &str) -> Option<String>;
    /// `SET key value PX ttl_ms`.
    fn set_px(&self, key: &str, value: &str, ttl_ms: u64);
    /// `DEL key`.
    fn del(&self, key: &str);
    /// `INCR key`: the new count (a missing or expired key counts from 0).
    fn incr(&self, key: &str) -> i64;
    /// `PEXPIRE key ms`.
    fn pexpire(&self, key: &str, ms: u64);
    /// `PUBLISH channel message`.
    fn publish(&self, channel: &str, message: &str);
}

/// The source of truth. Provided: `RemoteDatabase` below talks to the grader's.
pub trait Database: Send + Sync {
    fn load(&self, id: &str) -> Option<String>;
    fn store(&self, id: &str, value: &str);
}

/// A small least-recently-used map (you built an O(1) one in `cache1_lru`; an L1 of a few entries can
/// afford a linear scan). Provided: you do not need to change this.
pub struct Lru<V> {
    capacity: usize,
    /// Most recently used first.
    entries: VecDeque<(String, V)>,
}

impl<V> Lru<V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// The entry of `key`, which becomes the most recently used.
    pub fn get(&mut self, key: &str) -> Option<&V> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at)?;
        self.entries.push_front(entry);
        self.entries.front().map(|(_, v)| v)
    }

    /// Inserts or replaces `key` as the most recently used; evicts the least recently used when full.
    pub fn put(&mut self, key: String, value: V) {
        self.remove(&key);
        self.entries.push_front((key, value));
        self.entries.truncate(self.capacity);
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }
}

/// One L1 entry: the value, and the fake time from which it is stale.
#[derive(Debug, Clone)]
pub struct L1Entry {
    pub value: String,
    pub expires_at: u64,
}

/// One instance's view of the item store: its own L1, the shared L2, the database.
pub struct TieredCache<S, D> {
    config: Config,
    l1: Mutex<Lru<L1Entry>>,
    counts: Mutex<std::collections::HashMap<String, i64>>,
    l2: S,
    db: D,
}

impl<S: SharedCache, D: Database> TieredCache<S, D> {
    pub fn new(config: Config, l2: S, db: D) -> Self {
        TieredCache {
            config,
            l1: Mutex::new(Lru::new(config.l1_capacity)),
            counts: Mutex::new(std::collections::HashMap::new()),
            l2,
            db,
        }
    }

    /// Whether one more request of `client` fits in its current window (counting this one).
    pub fn allow(&self, client: &str) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(client.to_string()).or_insert(0);
        *count += 1;
        *count <= self.config.rate_limit
    }

    /// The value of item `id` at fake time `now_ms`: L1, then L2, then the database.
    pub fn get(&self, id: &str, now_ms: u64) -> Option<String> {
        {
            let mut l1 = self.lock_l1();
            match l1.get(id) {
                Some(entry) if now_ms < entry.expires_at => return Some(entry.value.clone()),
                Some(_) => l1.remove(id),
                None => {}
            }
        }
        let key = cache_key(id);
        let value = match self.l2.get(&key) {
            Some(value) => value,
            None => {
                let value = self.db.load(id)?;
                self.l2.set_px(&key, &value, self.config.l2_ttl_ms);
                value
            }
        };
        let entry = L1Entry {
            value: value.clone(),
            expires_at: now_ms + self.config.l1_ttl_ms,
        };
        self.lock_l1().put(id.to_string(), entry);
        Some(value)
    }

    /// Writes item `id`, and makes every cached copy of the old value go away.
    pub fn put(&self, id: &str, value: &str) {
        self.db.store(id, value);
        self.l2.del(&cache_key(id));
        self.lock_l1().remove(id);
        self.l2.publish(INVALIDATION_CHANNEL, id);
    }

    /// Another instance (or this one) wrote item `id`.
    pub fn on_invalidation(&self, id: &str) {
        self.lock_l1().remove(id);
    }

    /// The L1, locked (a panic in another thread does not poison it for good). Provided.
    fn lock_l1(&self) -> std::sync::MutexGuard<'_, Lru<L1Entry>> {
        self.l1.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It connects to L2 and to the database with the
// `redis` crate, subscribes to the invalidation channel, and serves:
//
//   GET /items/<id>     -> 200 <value> | 404 not found      (X-Client-Id and X-Fake-Now required)
//   PUT /items/<id>     -> 204                              (the body is the new value)
//   any of them         -> 429 rate limited                 (when `allow` says no)
//   GET /_stats         -> 200 invalidations <n>            (messages handled by `on_invalidation`)

/// L2 over one `redis` connection.
pub struct RedisL2 {
    con: Mutex<redis::Connection>,
}

impl RedisL2 {
    fn query<T: redis::FromRedisValue>(&self, command: &mut redis::Cmd) -> T {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        command
            .query(&mut *con)
            .unwrap_or_else(|e| panic!("L2 command failed: {e}"))
    }
}

impl SharedCache for RedisL2 {
    fn get(&self, key: &str) -> Option<String> {
        self.query(redis::cmd("GET").arg(key))
    }
    fn set_px(&self, key: &str, value: &str, ttl_ms: u64) {
        self.query::<()>(redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ttl_ms));
    }
    fn del(&self, key: &str) {
        self.query::<i64>(redis::cmd("DEL").arg(key));
    }
    fn incr(&self, key: &str) -> i64 {
        self.query(redis::cmd("INCR").arg(key))
    }
    fn pexpire(&self, key: &str, ms: u64) {
        self.query::<i64>(redis::cmd("PEXPIRE").arg(key).arg(ms));
    }
    fn publish(&self, channel: &str, message: &str) {
        self.query::<i64>(redis::cmd("PUBLISH").arg(channel).arg(message));
    }
}

/// The grader's database (it speaks RESP too, so one client library covers both): rows `item:<id>`.
pub struct RemoteDatabase {
    con: Mutex<redis::Connection>,
}

impl Database for RemoteDatabase {
    fn load(&self, id: &str) -> Option<String> {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        redis::cmd("GET")
            .arg(format!("item:{id}"))
            .query(&mut *con)
            .unwrap_or_else(|e| panic!("database query failed: {e}"))
    }
    fn store(&self, id: &str, value: &str) {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        redis::cmd("SET")
            .arg(format!("item:{id}"))
            .arg(value)
            .query::<()>(&mut *con)
            .unwrap_or_else(|e| panic!("database write failed: {e}"));
    }
}

fn connect(variable: &str) -> redis::Connection {
    let url = std::env::var(variable).unwrap_or_else(|_| panic!("{variable} is not set"));
    redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|e| panic!("cannot connect to {variable}={url}: {e}"))
}

fn setting(variable: &str) -> u64 {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{variable} must be set to a number"))
}

type Fleet = TieredCache<RedisL2, RemoteDatabase>;

/// Subscribes to the invalidation channel on its own connection, and returns once subscribed (so no
/// message published after READY can be missed); a thread then hands each message to `on_invalidation`.
fn subscribe(cache: Arc<Fleet>, handled: Arc<AtomicU64>) {
    let mut con = connect("L2_URL");
    let (subscribed, wait) = mpsc::channel();
    thread::spawn(move || {
        let mut pubsub = con.as_pubsub();
        pubsub
            .subscribe(INVALIDATION_CHANNEL)
            .unwrap_or_else(|e| panic!("SUBSCRIBE failed: {e}"));
        let _ = subscribed.send(());
        while let Ok(message) = pubsub.get_message() {
            if let Ok(id) = message.get_payload::<String>() {
                cache.on_invalidation(&id);
                handled.fetch_add(1, Ordering::SeqCst);
            }
        }
        eprintln!("the subscription to L2 ended: L1 can no longer be invalidated");
    });
    wait.recv().expect("the subscriber thread failed");
}

fn route(cache: &Fleet, handled: &AtomicU64, request: &Request) -> Response {
    if request.method == "GET" && request.path() == "/_stats" {
        let n = handled.load(Ordering::SeqCst);
        return Response::text(200, format!("invalidations {n}"));
    }
    let (Some(client), Some(now)) = (
        request.header("x-client-id"),
        request
            .header("x-fake-now")
            .and_then(|t| t.parse::<u64>().ok()),
    ) else {
        return Response::text(400, "X-Client-Id and X-Fake-Now are required");
    };
    let Some(id) = request.path().strip_prefix("/items/") else {
        return Response::text(404, "not found");
    };
    if !cache.allow(client) {
        return Response::text(429, "rate limited");
    }
    match request.method.as_str() {
        "GET" => match cache.get(id, now) {
            Some(value) => Response::text(200, value),
            None => Response::text(404, "not found"),
        },
        "PUT" => {
            cache.put(id, &String::from_utf8_lossy(&request.body));
            Response::new(204)
        }
        _ => Response::text(405, "method not allowed"),
    }
}

fn main() {
    let config = Config {
        l1_capacity: setting("L1_CAPACITY") as usize,
        l1_ttl_ms: setting("L1_TTL_MS"),
        l2_ttl_ms: setting("L2_TTL_MS"),
        rate_limit: setting("RATE_LIMIT") as i64,
        rate_window_ms: setting("RATE_WINDOW_MS"),
    };
    let l2 = RedisL2 {
        con: Mutex::new(connect("L2_URL")),
    };
    let db = RemoteDatabase {
        con: Mutex::new(connect("DATABASE_URL")),
    };
    let cache = Arc::new(TieredCache::new(config, l2, db));
    let handled = Arc::new(AtomicU64::new(0));
    subscribe(Arc::clone(&cache), Arc::clone(&handled));
    backlings_harness::http::serve(move |request: &Request| route(&cache, &handled, request))
        .expect("the HTTP server failed");
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// An in-memory L2 with a clock the test moves, and a log of what was published.
    #[derive(Default)]
    struct MemoryL2 {
        now: Mutex<u64>,
        keys: Mutex<HashMap<String, (String, Option<u64>)>>,
        published: Mutex<Vec<(String, String)>>,
    }

    impl MemoryL2 {
        fn live(&self, key: &str) -> Option<(String, Option<u64>)> {
            let now = *self.now.lock().unwrap();
            let mut keys = self.keys.lock().unwrap();
            if keys
                .get(key)
                .is_some_and(|(_, at)| at.is_some_and(|at| at <= now))
            {
                keys.remove(key);
            }
            keys.get(key).cloned()
        }
        fn advance(&self, ms: u64) {
            *self.now.lock().unwrap() += ms;
        }
    }

    impl SharedCache for &MemoryL2 {
        fn get(&self, key: &str) -> Option<String> {
            self.live(key).map(|(value, _)| value)
        }
        fn set_px(&self, key: &str, value: &str, ttl_ms: u64) {
            let at = *self.now.lock().unwrap() + ttl_ms;
            let entry = (value.to_string(), Some(at));
            self.keys.lock().unwrap().insert(key.to_string(), entry);
        }
        fn del(&self, key: &str) {
            self.keys.lock().unwrap().remove(key);
        }
        fn incr(&self, key: &str) -> i64 {
            let (count, at) = self.live(key).unwrap_or(("0".to_string(), None));
            let count = count.parse::<i64>().unwrap() + 1;
            let entry = (count.to_string(), at);
            self.keys.lock().unwrap().insert(key.to_string(), entry);
            count
        }
        fn pexpire(&self, key: &str, ms: u64) {
            let at = *self.now.lock().unwrap() + ms;
            if let Some(entry) = self.keys.lock().unwrap().get_mut(key) {
                entry.1 = Some(at);
            }
        }
        fn publish(&self, channel: &str, message: &str) {
            let sent = (channel.to_string(), message.to_string());
            self.published.lock().unwrap().push(sent);
        }
    }

    /// A database that counts its loads.
    #[derive(Default)]
    struct CountingDb {
        rows: Mutex<HashMap<String, String>>,
        loads: AtomicUsize,
    }

    impl Database for &CountingDb {
        fn load(&self, id: &str) -> Option<String> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.rows.lock().unwrap().get(id).cloned()
        }
        fn store(&self, id: &str, value: &str) {
            let row = (id.to_string(), value.to_string());
            self.rows.lock().unwrap().insert(row.0, row.1);
        }
    }

    const CONFIG: Config = Config {
        l1_capacity: 2,
        l1_ttl_ms: 1_000,
        l2_ttl_ms: 10_000,
        rate_limit: 3,
        rate_window_ms: 5_000,
    };

    fn db_with(rows: &[(&str, &str)]) -> CountingDb {
        let db = CountingDb::default();
        for (id, value) in rows {
            (&db).store(id, value);
        }
        db
    }

    // The first read loads from the database and fills L2 (with its TTL); the second is an L1 hit.
    #[test]
    fn a_miss_fills_l2_and_l1() {
        let (l2, db) = (MemoryL2::default(), db_with(&[("a", "1")]));
        let cache = TieredCache::new(CONFIG, &l2, &db);
        assert_eq!(cache.get("a", 0), Some("1".to_string()));
        assert_eq!(
            l2.live("cache:item:a"),
            Some(("1".to_string(), Some(10_000)))
        );
        assert_eq!(cache.get("a", 10), Some("1".to_string()));
        assert_eq!(db.loads.load(Ordering::SeqCst), 1);
    }

    // A second instance sharing the L2 does not query the database again.
    #[test]
    fn the_other_instance_reads_from_l2() {
        let (l2, db) = (MemoryL2::default(), db_with(&[("a", "1")]));
        let a = TieredCache::new(CONFIG, &l2, &db);
        let b = TieredCache::new(CONFIG, &l2, &db);
        assert_eq!(a.get("a", 0), Some("1".to_string()));
        assert_eq!(b.get("a", 0), Some("1".to_string()));
        assert_eq!(db.loads.load(Ordering::SeqCst), 1);
    }

    // An L1 entry is stale from exactly `filled + L1_TTL_MS` on; a missing item is never cached.
    #[test]
    fn l1_expires_on_time_and_misses_are_not_cached() {
        let (l2, db) = (MemoryL2::default(), db_with(&[("a", "1")]));
        let cache = TieredCache::new(CONFIG, &l2, &db);
        cache.get("a", 0);
        (&l2).del("cache:item:a");
        (&db).store("a", "2");
        assert_eq!(cache.get("a", 999), Some("1".to_string()));
        assert_eq!(cache.get("a", 1_000), Some("2".to_string()));
        assert_eq!(cache.get("nope", 1_000), None);
        assert_eq!(cache.get("nope", 1_000), None);
        assert_eq!(db.loads.load(Ordering::SeqCst), 4);
    }

    // A write goes to the database, deletes L2's copy, drops the local L1 copy and is broadcast.
    #[test]
    fn a_write_invalidates_everywhere() {
        let (l2, db) = (MemoryL2::default(), db_with(&[("a", "1")]));
        let a = TieredCache::new(CONFIG, &l2, &db);
        let b = TieredCache::new(CONFIG, &l2, &db);
        a.get("a", 0);
        b.get("a", 0);
        a.put("a", "2");
        assert_eq!(l2.live("cache:item:a"), None);
        let published = l2.published.lock().unwrap().clone();
        assert_eq!(published, vec![("invalidate".to_string(), "a".to_string())]);
        assert_eq!(a.get("a", 1), Some("2".to_string()));
        b.on_invalidation("a");
        assert_eq!(b.get("a", 1), Some("2".to_string()));
    }

    // The limit counts both instances' requests, and the window ends one window after the first.
    #[test]
    fn the_limit_is_shared_and_the_window_is_fixed() {
        let (l2, db) = (MemoryL2::default(), db_with(&[]));
        let a = TieredCache::new(CONFIG, &l2, &db);
        let b = TieredCache::new(CONFIG, &l2, &db);
        assert!(a.allow("c"));
        l2.advance(1_000);
        assert!(b.allow("c"));
        assert!(a.allow("c"));
        assert!(!b.allow("c"));
        l2.advance(3_999);
        assert!(!a.allow("c"));
        l2.advance(1);
        assert!(b.allow("c"));
    }

    // The provided L1 evicts the least recently used entry.
    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.put("a".to_string(), 1);
        lru.put("b".to_string(), 2);
        lru.get("a");
        lru.put("c".to_string(), 3);
        assert!(lru.get("b").is_none());
        assert_eq!(lru.get("a"), Some(&1));
    }
}
