//! mutant: a purge empties the whole cache instead of dropping the entries with the tag
//! expect: a purge drops only the entries tagged with its tag
//!
//! The learner finds tags fiddly and flushes everything: always correct values, and after every product edit the database reloads the whole catalogue.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use backlings_harness::clock::{Clock, ManualClock};
use serde::Deserialize;
use serde_json::{Value, json};

/// The slow store behind the cache. Shared by every thread, so `&self`.
pub trait Store: Send + Sync + 'static {
    /// The value the store holds for `key`, if any. Slow: every call is a round trip.
    fn load(&self, key: &str) -> Option<String>;
    /// Writes `value` for `key` in the store.
    fn save(&self, key: &str, value: &str);
}

/// How long entries live.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The base lifetime of an entry.
    pub ttl_ms: u64,
    /// The largest jitter added to `ttl_ms`.
    pub jitter_ms: u64,
    /// How long after its TTL an entry is still served (stale) while it is refreshed.
    pub swr_ms: u64,
}

/// FNV-1a 64: the hash every key's jitter comes from.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The lifetime of `key`'s entries: `ttl_ms` plus its own jitter.
pub fn ttl_for(config: &Config, key: &str) -> u64 {
    config.ttl_ms + fnv1a64(key.as_bytes()) % (config.jitter_ms + 1)
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it.
    Fresh,
    /// Serve it, and refresh it in the background.
    Stale,
    /// Do not serve it: load again.
    Gone,
}

/// One cached value.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: String,
    /// When it was stored.
    pub stored_at: u64,
    /// Its lifetime (`ttl_for` its key).
    pub ttl_ms: u64,
    /// Its own key, plus the tags it was stored with.
    pub tags: Vec<String>,
}

impl Entry {
    /// Fresh, stale or gone at `now`.
    pub fn freshness(&self, now: u64, swr_ms: u64) -> Freshness {
        let expires_at = self.stored_at.saturating_add(self.ttl_ms);
        if now < expires_at {
            Freshness::Fresh
        } else if now < expires_at.saturating_add(swr_ms) {
            Freshness::Stale
        } else {
            Freshness::Gone
        }
    }
}

/// A load in progress: its leader completes it, any number of followers wait for it.
pub struct Flight {
    /// The tags the loaded entry will carry (an invalidation of one of them cancels the fill).
    pub tags: Vec<String>,
    result: Mutex<Option<Option<String>>>,
    done: Condvar,
}

impl Flight {
    /// A new flight, not completed yet.
    pub fn new(tags: Vec<String>) -> Arc<Flight> {
        Arc::new(Flight {
            tags,
            result: Mutex::new(None),
            done: Condvar::new(),
        })
    }

    /// Blocks until the leader completes the flight; returns what it loaded.
    pub fn wait(&self) -> Option<String> {
        let mut result = self.result.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = result.as_ref() {
                return value.clone();
            }
            result = self.done.wait(result).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Hands `value` to every follower, present and future.
    pub fn complete(&self, value: Option<String>) {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        self.done.notify_all();
    }

    /// Whether `tag` is one of this flight's tags.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Background jobs (the refreshes of stale-while-revalidate), with a way to wait for all of them.
#[derive(Clone, Default)]
pub struct Background {
    jobs: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Background {
    /// Runs `job` on its own thread.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        let handle = thread::spawn(job);
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Waits until every job, including jobs started by jobs, has finished.
    pub fn settle(&self) {
        loop {
            let jobs = std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|e| e.into_inner()));
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                let _ = job.join();
            }
        }
    }
}

/// Produces the value of a missing entry (a store load, or a page render).
pub type Loader = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Everything behind the cache's one lock.
#[derive(Default)]
struct State {
    /// By cache key (versioned: `reviews:v3:7`).
    entries: HashMap<String, Entry>,
    /// The loads in progress, by cache key.
    flights: HashMap<String, Arc<Flight>>,
    /// The version of each namespace; absent means 1.
    versions: HashMap<String, u64>,
}

impl State {
    /// The cache key of `key` under its namespace's current version: `reviews:7` → `reviews:v3:7`.
    fn versioned(&self, key: &str) -> String {
        let (namespace, id) = key.split_once(':').unwrap_or((key, ""));
        let version = self.versions.get(namespace).copied().unwrap_or(1);
        format!("{namespace}:v{version}:{id}")
    }
}

/// The cache. Cloning it is cheap: clones share everything.
pub struct Cache<S: Store, C: Clock + Clone + 'static> {
    state: Arc<Mutex<State>>,
    store: Arc<S>,
    clock: C,
    config: Config,
    background: Background,
}

impl<S: Store, C: Clock + Clone + 'static> Clone for Cache<S, C> {
    fn clone(&self) -> Self {
        Cache {
            state: Arc::clone(&self.state),
            store: Arc::clone(&self.store),
            clock: self.clock.clone(),
            config: self.config,
            background: self.background.clone(),
        }
    }
}

impl<S: Store, C: Clock + Clone + 'static> Cache<S, C> {
    pub fn new(store: S, clock: C, config: Config, background: Background) -> Self {
        Cache {
            state: Arc::default(),
            store: Arc::new(store),
            clock,
            config,
            background,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`, cached with the tags `[key] + tags`.
    pub fn get(&self, key: &str, tags: &[String]) -> Option<String> {
        let cache_key = self.lock().versioned(key);
        let mut all_tags = vec![key.to_string()];
        all_tags.extend(tags.iter().cloned());
        let store = Arc::clone(&self.store);
        let owned = key.to_string();
        self.fetch(
            key,
            cache_key,
            all_tags,
            Arc::new(move || store.load(&owned)),
        )
    }

    /// The page of product `id`: `"{product}|{reviews}"`, cached whole and rendered from cached fragments.
    pub fn page(&self, id: u64) -> Option<String> {
        let key = format!("page:{id}");
        let product = format!("product:{id}");
        let reviews = format!("reviews:{id}");
        let cache_key = {
            let state = self.lock();
            format!(
                "{}|{}|{}",
                state.versioned(&key),
                state.versioned(&product),
                state.versioned(&reviews)
            )
        };
        let tags = vec![key.clone(), product.clone(), reviews.clone()];
        let cache = self.clone();
        let render: Loader = Arc::new(move || {
            let product = cache.get(&product, &[]);
            let reviews = cache.get(&reviews, &[]);
            Some(format!(
                "{}|{}",
                product.as_deref().unwrap_or("-"),
                reviews.as_deref().unwrap_or("-")
            ))
        });
        self.fetch(&key, cache_key, tags, render)
    }

    /// The heart of the cache: fresh, stale or missing; single-flight for loads and refreshes.
    fn fetch(
        &self,
        key: &str,
        cache_key: String,
        tags: Vec<String>,
        load: Loader,
    ) -> Option<String> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        if let Some(entry) = state.entries.get(&cache_key) {
            match entry.freshness(now, self.config.swr_ms) {
                Freshness::Fresh => return Some(entry.value.clone()),
                Freshness::Stale => {
                    let value = entry.value.clone();
                    if !state.flights.contains_key(&cache_key) {
                        let flight = Flight::new(tags);
                        state.flights.insert(cache_key.clone(), Arc::clone(&flight));
                        let cache = self.clone();
                        let key = key.to_string();
                        self.background.spawn(move || {
                            cache.lead(&key, &cache_key, &flight, &load);
                        });
                    }
                    return Some(value);
                }
                Freshness::Gone => {
                    state.entries.remove(&cache_key);
                }
            }
        }
        if let Some(flight) = state.flights.get(&cache_key) {
            let flight = Arc::clone(flight);
            drop(state);
            return flight.wait();
        }
        let flight = Flight::new(tags);
        state.flights.insert(cache_key.clone(), Arc::clone(&flight));
        drop(state);
        self.lead(key, &cache_key, &flight, &load)
    }

    /// Runs the load of a flight this thread leads: loads outside the lock, fills the cache only if
    /// the flight is still the registered one, then completes it.
    fn lead(
        &self,
        key: &str,
        cache_key: &str,
        flight: &Arc<Flight>,
        load: &Loader,
    ) -> Option<String> {
        let value = load();
        let mut state = self.lock();
        let is_current = state
            .flights
            .get(cache_key)
            .is_some_and(|registered| Arc::ptr_eq(registered, flight));
        if is_current {
            state.flights.remove(cache_key);
            match &value {
                Some(value) => {
                    let entry = Entry {
                        value: value.clone(),
                        stored_at: self.clock.now_ms(),
                        ttl_ms: ttl_for(&self.config, key),
                        tags: flight.tags.clone(),
                    };
                    state.entries.insert(cache_key.to_string(), entry);
                }
                None => {
                    state.entries.remove(cache_key);
                }
            }
        }
        drop(state);
        flight.complete(value.clone());
        value
    }

    /// Saves `value` to the store, then invalidates everything tagged with `key`.
    pub fn write(&self, key: &str, value: &str) {
        self.store.save(key, value);
        self.purge_tag(key);
    }

    /// Drops every entry tagged `tag`, and cancels the fill of every flight tagged `tag`.
    pub fn purge_tag(&self, tag: &str) {
        let mut state = self.lock();
        state.entries.clear();
        state.flights.retain(|_, flight| !flight.has_tag(tag));
    }

    /// Moves `namespace` to its next version; returns it.
    pub fn bump(&self, namespace: &str) -> u64 {
        let mut state = self.lock();
        let version = state.versions.entry(namespace.to_string()).or_insert(1);
        *version += 1;
        *version
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It connects to the grader's store (its
// address is in the BACKLINGS_STORE env var; one line per call: `GET k` -> `VALUE v` or `NONE`,
// `PUT k v` -> `OK`) and wires one `Cache` to JSON lines on stdin/stdout:
//
//   {"op":"new","ttl_ms":1000,"jitter_ms":200,"swr_ms":500}  -> {"ok":true}   a new, empty cache
//   {"op":"get","key":"product:7","tags":["home"]}          -> {"value":"p7"} or {"value":null}
//   {"op":"page","id":7}                                    -> {"value":"p7|r7"}
//   {"op":"write","key":"product:7","value":"p7b"}         -> {"ok":true}
//   {"op":"purge","tag":"home"}                             -> {"ok":true}
//   {"op":"bump","namespace":"reviews"}                     -> {"version":2}
//   {"op":"tick","ms":50}                                   -> {"now":50}    moves the fake clock
//   {"op":"spawn","key":"product:7","n":100}  (or "page":7) -> {"spawned":100}
//        starts n threads that call get (or page) at the same moment
//   {"op":"progress"}                       -> {"arrived":100,"returned":0}  spawned threads that
//        have called get/page, and that have got their answer
//   {"op":"join"}                           -> {"values":[...]}  waits for the spawned threads and
//        for every background job, then gives the spawned threads' values in spawn order

/// The grader's store, over TCP: one connection per call, so any number of threads can load at once.
pub struct TcpStore {
    addr: String,
}

impl TcpStore {
    /// The store at `BACKLINGS_STORE`.
    pub fn from_env() -> Self {
        let addr = std::env::var("BACKLINGS_STORE")
            .expect("BACKLINGS_STORE is not set: the grader starts the store");
        TcpStore { addr }
    }

    fn call(&self, line: &str) -> String {
        let stream = TcpStream::connect(&self.addr).expect("cannot reach the grader's store");
        stream.set_nodelay(true).expect("the store is gone");
        let mut writer = stream.try_clone().expect("the store is gone");
        writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("the store is gone");
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .expect("the store is gone");
        answer.trim_end().to_string()
    }
}

impl Store for TcpStore {
    fn load(&self, key: &str) -> Option<String> {
        self.call(&format!("GET {key}"))
            .strip_prefix("VALUE ")
            .map(str::to_string)
    }

    fn save(&self, key: &str, value: &str) {
        self.call(&format!("PUT {key} {value}"));
    }
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    New {
        ttl_ms: u64,
        jitter_ms: u64,
        swr_ms: u64,
    },
    Get {
        key: String,
        #[serde(default)]
        tags: Vec<String>,
    },
    Page {
        id: u64,
    },
    Write {
        key: String,
        value: String,
    },
    Purge {
        tag: String,
    },
    Bump {
        namespace: String,
    },
    Tick {
        ms: u64,
    },
    Spawn {
        key: Option<String>,
        page: Option<u64>,
        n: usize,
    },
    Progress,
    Join,
}

type ShopCache = Cache<TcpStore, ManualClock>;

/// The threads started by `spawn`, and how far they got.
#[derive(Default)]
struct Spawned {
    handles: Vec<JoinHandle<Option<String>>>,
    arrived: Arc<AtomicUsize>,
    returned: Arc<AtomicUsize>,
}

impl Spawned {
    fn start(&mut self, cache: &ShopCache, key: Option<String>, page: Option<u64>, n: usize) {
        let barrier = Arc::new(Barrier::new(n));
        for _ in 0..n {
            let (cache, key, barrier) = (cache.clone(), key.clone(), Arc::clone(&barrier));
            let (arrived, returned) = (Arc::clone(&self.arrived), Arc::clone(&self.returned));
            self.handles.push(thread::spawn(move || {
                barrier.wait();
                arrived.fetch_add(1, Ordering::SeqCst);
                let value = match (&key, page) {
                    (_, Some(id)) => cache.page(id),
                    (Some(key), None) => cache.get(key, &[]),
                    (None, None) => None,
                };
                returned.fetch_add(1, Ordering::SeqCst);
                value
            }));
        }
    }

    fn join(&mut self) -> Vec<Option<String>> {
        let values = self
            .handles
            .drain(..)
            .map(|handle| handle.join().unwrap_or(None))
            .collect();
        self.arrived.store(0, Ordering::SeqCst);
        self.returned.store(0, Ordering::SeqCst);
        values
    }
}

fn main() {
    let clock = ManualClock::new(0);
    let background = Background::default();
    let mut cache: Option<ShopCache> = None;
    let mut spawned = Spawned::default();
    backlings_harness::stdio::serve_json_lines(|request: Request| -> Value {
        if let Request::New {
            ttl_ms,
            jitter_ms,
            swr_ms,
        } = request
        {
            spawned.join();
            background.settle();
            let config = Config {
                ttl_ms,
                jitter_ms,
                swr_ms,
            };
            let store = TcpStore::from_env();
            cache = Some(Cache::new(store, clock.clone(), config, background.clone()));
            return json!({"ok": true});
        }
        let Some(cache) = cache.as_ref() else {
            return json!({"error": "send {\"op\":\"new\",...} first"});
        };
        match request {
            Request::New { .. } => unreachable!("handled above"),
            Request::Get { key, tags } => json!({"value": cache.get(&key, &tags)}),
            Request::Page { id } => json!({"value": cache.page(id)}),
            Request::Write { key, value } => {
                cache.write(&key, &value);
                json!({"ok": true})
            }
            Request::Purge { tag } => {
                cache.purge_tag(&tag);
                json!({"ok": true})
            }
            Request::Bump { namespace } => json!({"version": cache.bump(&namespace)}),
            Request::Tick { ms } => {
                clock.advance(ms);
                json!({"now": clock.now_ms()})
            }
            Request::Spawn { key, page, n } => {
                spawned.start(cache, key, page, n);
                json!({"spawned": n})
            }
            Request::Progress => json!({
                "arrived": spawned.arrived.load(Ordering::SeqCst),
                "returned": spawned.returned.load(Ordering::SeqCst),
            }),
            Request::Join => {
                let values = spawned.join();
                background.settle();
                json!({"values": values})
            }
        }
    });
    spawned.join();
    background.settle();
}
