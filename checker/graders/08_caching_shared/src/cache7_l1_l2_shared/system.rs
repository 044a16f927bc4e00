//! The reference of `cache7_l1_l2_shared`: two instances' L1s, the shared L2, the database and the rate
//! counters, as a correct fleet would leave them after each request. Every expectation carries the reason
//! in words ("A's L1 entry for `k` expired at …"), which the report shows.

use std::collections::{BTreeMap, VecDeque};

/// The names of the two instances, by tag.
pub const NAMES: [&str; 2] = ["A", "B"];

/// The settings both instances are started with.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub l1_capacity: usize,
    pub l1_ttl_ms: u64,
    pub l2_ttl_ms: u64,
    pub rate_limit: i64,
    pub rate_window_ms: u64,
}

/// Where a correct instance finds the value of a `GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// In its own L1: no L2 round trip, no database query.
    L1,
    /// In L2 (then copied into its L1).
    L2,
    /// In the database (then written to L2 and L1).
    Database,
    /// Nowhere: the database has no such item (nothing is cached).
    Missing,
}

/// What a correct instance does for one `GET`.
#[derive(Debug, Clone)]
pub struct ExpectedGet {
    pub source: Source,
    pub value: Option<String>,
    /// Why, in words: the state of the instance's L1 and of L2 for this item.
    pub why: String,
}

/// One rate-limit decision and the counter a correct fleet leaves in L2.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub allowed: bool,
    pub count: i64,
    pub deadline: u64,
    pub window_start: u64,
}

#[derive(Debug, Clone)]
struct L1Entry {
    id: String,
    value: String,
    filled_at: u64,
    expires_at: u64,
}

/// One instance's L1: most recently used first.
#[derive(Debug, Default)]
struct L1 {
    entries: VecDeque<L1Entry>,
    /// Why an item is not (or no longer) in this L1.
    gone: BTreeMap<String, String>,
}

/// The whole fleet.
#[derive(Debug)]
pub struct System {
    pub config: Config,
    l1: [L1; 2],
    /// Item id → value and deadline of `cache:item:<id>`.
    l2: BTreeMap<String, (String, u64)>,
    l2_gone: BTreeMap<String, String>,
    pub db: BTreeMap<String, String>,
    rate: BTreeMap<String, (i64, u64, u64)>,
}

impl System {
    pub fn new(config: Config) -> Self {
        System {
            config,
            l1: [L1::default(), L1::default()],
            l2: BTreeMap::new(),
            l2_gone: BTreeMap::new(),
            db: BTreeMap::new(),
            rate: BTreeMap::new(),
        }
    }

    /// The rate-limit decision for one request of `client` at `now` (INCR, and PEXPIRE on the first).
    pub fn admit(&mut self, client: &str, now: u64) -> Admission {
        let window = self.config.rate_window_ms;
        let entry = self
            .rate
            .entry(client.to_string())
            .or_insert((0, now + window, now));
        if entry.1 <= now {
            *entry = (0, now + window, now);
        }
        entry.0 += 1;
        Admission {
            allowed: entry.0 <= self.config.rate_limit,
            count: entry.0,
            deadline: entry.1,
            window_start: entry.2,
        }
    }

    /// A `GET` of `id` through instance `x` at `now` (already admitted).
    pub fn get(&mut self, x: usize, id: &str, now: u64) -> ExpectedGet {
        let name = NAMES[x];
        let ttl = self.config.l1_ttl_ms;
        let l1 = &mut self.l1[x];
        let mut why = match l1.entries.iter().position(|e| e.id == id) {
            Some(at) if l1.entries[at].expires_at > now => {
                let entry = l1.entries.remove(at).expect("position is in range");
                let why = format!(
                    "{name}'s L1 holds `{id}` = {:?} since X-Fake-Now {} (fresh until {}, L1_TTL_MS={ttl})",
                    entry.value, entry.filled_at, entry.expires_at
                );
                let value = entry.value.clone();
                l1.entries.push_front(entry);
                return ExpectedGet {
                    source: Source::L1,
                    value: Some(value),
                    why,
                };
            }
            Some(at) => {
                let entry = l1.entries.remove(at).expect("position is in range");
                format!(
                    "{name}'s L1 entry for `{id}` (filled at X-Fake-Now {}) expired at {} (L1_TTL_MS={ttl}; \
                     now is {now}, and an entry is stale from its deadline on)",
                    entry.filled_at, entry.expires_at
                )
            }
            None => format!(
                "{name}'s L1 does not hold `{id}`: {}",
                l1.gone
                    .get(id)
                    .map_or("it was never read through this instance", String::as_str)
            ),
        };
        let (source, value) = match self.l2.get(id) {
            Some((value, deadline)) if *deadline > now => {
                why +=
                    &format!("; L2 holds cache:item:{id} = {value:?} until X-Fake-Now {deadline}");
                (Source::L2, value.clone())
            }
            l2 => {
                match l2 {
                    Some((_, deadline)) => {
                        why += &format!(
                            "; L2's copy expired at X-Fake-Now {deadline} (L2_TTL_MS={})",
                            self.config.l2_ttl_ms
                        )
                    }
                    None => {
                        why += &format!(
                            "; L2 has no cache:item:{id}: {}",
                            self.l2_gone
                                .get(id)
                                .map_or("nobody has cached it yet", String::as_str)
                        )
                    }
                }
                let Some(value) = self.db.get(id).cloned() else {
                    why += "; the database has no such item (a miss is not cached)";
                    return ExpectedGet {
                        source: Source::Missing,
                        value: None,
                        why,
                    };
                };
                self.l2
                    .insert(id.to_string(), (value.clone(), now + self.config.l2_ttl_ms));
                (Source::Database, value)
            }
        };
        self.fill_l1(x, id, &value, now);
        ExpectedGet {
            source,
            value: Some(value),
            why,
        }
    }

    fn fill_l1(&mut self, x: usize, id: &str, value: &str, now: u64) {
        let capacity = self.config.l1_capacity;
        let l1 = &mut self.l1[x];
        l1.entries.retain(|e| e.id != id);
        l1.entries.push_front(L1Entry {
            id: id.to_string(),
            value: value.to_string(),
            filled_at: now,
            expires_at: now + self.config.l1_ttl_ms,
        });
        l1.gone.remove(id);
        while l1.entries.len() > capacity {
            let evicted = l1.entries.pop_back().expect("the L1 is over capacity");
            l1.gone.insert(
                evicted.id,
                format!(
                    "it was evicted as the least recently used entry when `{id}` was added at X-Fake-Now \
                     {now} (L1_CAPACITY={capacity})"
                ),
            );
        }
    }

    /// A `PUT` of `id` through instance `x` at `now` (already admitted): the database is written, L2's
    /// copy deleted, and the L1 copies of the writer and of every instance in `told` dropped.
    pub fn put(&mut self, x: usize, id: &str, value: &str, now: u64, told: [bool; 2]) {
        self.db.insert(id.to_string(), value.to_string());
        self.l2.remove(id);
        self.l2_gone.insert(
            id.to_string(),
            format!(
                "the write through {} at X-Fake-Now {now} deleted it",
                NAMES[x]
            ),
        );
        for (tag, l1) in self.l1.iter_mut().enumerate() {
            if tag != x && !told[tag] {
                continue;
            }
            if l1.entries.iter().any(|e| e.id == id) {
                l1.entries.retain(|e| e.id != id);
                let how = if told[tag] {
                    ""
                } else {
                    " (by the writer itself, as it wrote: its own invalidation message was lost)"
                };
                l1.gone.insert(
                    id.to_string(),
                    format!(
                        "it was dropped for the write through {} at X-Fake-Now {now}{how}",
                        NAMES[x]
                    ),
                );
            }
        }
    }

    /// The value instance `x` has in L1 for `id` if it is still there (fresh or not).
    pub fn l1_value(&self, x: usize, id: &str) -> Option<(String, u64)> {
        self.l1[x]
            .entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| (e.value.clone(), e.expires_at))
    }

    /// Every deadline after `now`: L1 expiries, L2 expiries and rate windows' ends (for exact jumps).
    pub fn deadlines(&self, now: u64) -> Vec<u64> {
        let l1 = self
            .l1
            .iter()
            .flat_map(|l1| l1.entries.iter().map(|e| e.expires_at));
        let l2 = self.l2.values().map(|e| e.1);
        let rate = self.rate.values().map(|e| e.1);
        let mut all: Vec<u64> = l1.chain(l2).chain(rate).filter(|&t| t > now).collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}
