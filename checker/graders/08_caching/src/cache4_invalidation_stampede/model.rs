//! The reference model of `cache4_invalidation_stampede`, for requests sent one at a time: what each request
//! answers, and which store calls it causes, background refreshes included (the grader joins them after every
//! request, so they belong to the request that started them).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Value, json};

use crate::counting_store::Call;

/// How long entries live, as sent in `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub ttl_ms: u64,
    pub jitter_ms: u64,
    pub swr_ms: u64,
}

/// FNV-1a 64, the hash of the jitter.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Config {
    /// `ttl(key) = ttl_ms + fnv1a64(key) % (jitter_ms + 1)`.
    pub fn ttl(&self, key: &str) -> u64 {
        self.ttl_ms + fnv1a64(key.as_bytes()) % (self.jitter_ms + 1)
    }
}

/// One request; `Set` is not sent: it is another writer changing the store behind the cache's back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    New(Config),
    Get { key: String, tags: Vec<String> },
    Page { id: u64 },
    Write { key: String, value: String },
    Purge { tag: String },
    Bump { namespace: String },
    Tick { ms: u64 },
    Set { key: String, value: String },
}

impl Op {
    /// The JSON line the grader sends (`None` for `Set`, which goes to the store).
    pub fn line(&self) -> Option<String> {
        let text = |value: &str| Value::from(value).to_string();
        Some(match self {
            Op::New(config) => format!(
                r#"{{"op":"new","ttl_ms":{},"jitter_ms":{},"swr_ms":{}}}"#,
                config.ttl_ms, config.jitter_ms, config.swr_ms
            ),
            Op::Get { key, tags } if tags.is_empty() => {
                format!(r#"{{"op":"get","key":{}}}"#, text(key))
            }
            Op::Get { key, tags } => {
                format!(
                    r#"{{"op":"get","key":{},"tags":{}}}"#,
                    text(key),
                    json!(tags)
                )
            }
            Op::Page { id } => format!(r#"{{"op":"page","id":{id}}}"#),
            Op::Write { key, value } => format!(
                r#"{{"op":"write","key":{},"value":{}}}"#,
                text(key),
                text(value)
            ),
            Op::Purge { tag } => format!(r#"{{"op":"purge","tag":{}}}"#, text(tag)),
            Op::Bump { namespace } => {
                format!(r#"{{"op":"bump","namespace":{}}}"#, text(namespace))
            }
            Op::Tick { ms } => format!(r#"{{"op":"tick","ms":{ms}}}"#),
            Op::Set { .. } => return None,
        })
    }
}

/// A cached value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub stored_at: u64,
    pub ttl_ms: u64,
    pub tags: Vec<String>,
}

/// What a lookup finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Absent,
    Fresh,
    Stale,
    Gone,
}

impl Entry {
    fn freshness(&self, now: u64, swr_ms: u64) -> Freshness {
        let expires_at = self.stored_at + self.ttl_ms;
        if now < expires_at {
            Freshness::Fresh
        } else if now < expires_at + swr_ms {
            Freshness::Stale
        } else {
            Freshness::Gone
        }
    }
}

/// What a missing entry is made from.
#[derive(Debug, Clone)]
enum Source {
    Store(String),
    Page(u64),
}

/// A background refresh waiting to run.
#[derive(Debug, Clone)]
struct Refresh {
    key: String,
    cache_key: String,
    tags: Vec<String>,
    source: Source,
}

/// The cache and the store, as the contract says they are.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: Config,
    pub now: u64,
    pub store: BTreeMap<String, String>,
    pub entries: BTreeMap<String, Entry>,
    pub versions: BTreeMap<String, u64>,
    /// The latest value the program wrote for each key.
    pub written: BTreeMap<String, String>,
    /// The tag of the latest purge (a write purges its key).
    pub last_purge: Option<String>,
    /// Why an entry is gone, by cache key, until it is stored again.
    pub dropped_by: BTreeMap<String, String>,
    calls: Vec<Call>,
    refreshes: VecDeque<Refresh>,
    in_flight: BTreeSet<String>,
}

impl Model {
    /// A store holding `store`, before any `new`.
    pub fn start(store: BTreeMap<String, String>) -> Model {
        Model {
            config: Config {
                ttl_ms: 0,
                jitter_ms: 0,
                swr_ms: 0,
            },
            now: 0,
            store,
            entries: BTreeMap::new(),
            versions: BTreeMap::new(),
            written: BTreeMap::new(),
            last_purge: None,
            dropped_by: BTreeMap::new(),
            calls: Vec::new(),
            refreshes: VecDeque::new(),
            in_flight: BTreeSet::new(),
        }
    }

    /// The cache key of `key` under its namespace's current version.
    pub fn versioned(&self, key: &str) -> String {
        let (namespace, id) = key.split_once(':').unwrap_or((key, ""));
        let version = self.versions.get(namespace).copied().unwrap_or(1);
        format!("{namespace}:v{version}:{id}")
    }

    /// The cache key of page `id`.
    pub fn page_key(&self, id: u64) -> String {
        format!(
            "{}|{}|{}",
            self.versioned(&format!("page:{id}")),
            self.versioned(&format!("product:{id}")),
            self.versioned(&format!("reviews:{id}"))
        )
    }

    /// The entry behind `cache_key` and what a lookup now finds.
    pub fn lookup(&self, cache_key: &str) -> (Option<&Entry>, Freshness) {
        match self.entries.get(cache_key) {
            Some(entry) => (Some(entry), entry.freshness(self.now, self.config.swr_ms)),
            None => (None, Freshness::Absent),
        }
    }

    /// Applies `op`: its reply (`None` for `Set`) and the store calls it causes, sorted (a refresh in the
    /// background may run alongside the rest of the request).
    pub fn apply(&mut self, op: &Op) -> (Option<Value>, Vec<Call>) {
        let reply = match op {
            Op::New(config) => {
                self.config = *config;
                self.entries.clear();
                self.versions.clear();
                json!({"ok": true})
            }
            Op::Get { key, tags } => json!({"value": self.get(key, tags)}),
            Op::Page { id } => json!({"value": self.page(*id)}),
            Op::Write { key, value } => {
                self.calls.push(Call::Put {
                    key: key.clone(),
                    value: value.clone(),
                });
                self.store.insert(key.clone(), value.clone());
                self.written.insert(key.clone(), value.clone());
                self.purge(key, &format!("the write of `{key}`"));
                json!({"ok": true})
            }
            Op::Purge { tag } => {
                self.purge(tag, &format!("the purge of tag `{tag}`"));
                json!({"ok": true})
            }
            Op::Bump { namespace } => {
                let version = self.versions.entry(namespace.clone()).or_insert(1);
                *version += 1;
                json!({"version": *version})
            }
            Op::Tick { ms } => {
                self.now += ms;
                json!({"now": self.now})
            }
            Op::Set { key, value } => {
                self.store.insert(key.clone(), value.clone());
                return (None, Vec::new());
            }
        };
        while let Some(refresh) = self.refreshes.pop_front() {
            self.lead(&refresh);
        }
        let mut calls = std::mem::take(&mut self.calls);
        sort_calls(&mut calls);
        (Some(reply), calls)
    }

    fn purge(&mut self, tag: &str, reason: &str) {
        self.last_purge = Some(tag.to_string());
        let dropped: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.tags.iter().any(|t| t == tag))
            .map(|(cache_key, _)| cache_key.clone())
            .collect();
        for cache_key in dropped {
            self.entries.remove(&cache_key);
            self.dropped_by.insert(cache_key, reason.to_string());
        }
    }

    fn get(&mut self, key: &str, tags: &[String]) -> Option<String> {
        let mut all_tags = vec![key.to_string()];
        all_tags.extend(tags.iter().cloned());
        let cache_key = self.versioned(key);
        self.fetch(key, cache_key, all_tags, Source::Store(key.to_string()))
    }

    fn page(&mut self, id: u64) -> Option<String> {
        let tags = vec![
            format!("page:{id}"),
            format!("product:{id}"),
            format!("reviews:{id}"),
        ];
        let cache_key = self.page_key(id);
        self.fetch(&format!("page:{id}"), cache_key, tags, Source::Page(id))
    }

    fn fetch(
        &mut self,
        key: &str,
        cache_key: String,
        tags: Vec<String>,
        source: Source,
    ) -> Option<String> {
        let (entry, freshness) = self.lookup(&cache_key);
        let value = entry.map(|entry| entry.value.clone());
        match freshness {
            Freshness::Fresh => return value,
            Freshness::Stale => {
                if self.in_flight.insert(cache_key.clone()) {
                    self.refreshes.push_back(Refresh {
                        key: key.to_string(),
                        cache_key,
                        tags,
                        source,
                    });
                }
                return value;
            }
            Freshness::Gone => {
                self.entries.remove(&cache_key);
            }
            Freshness::Absent => {}
        }
        self.lead(&Refresh {
            key: key.to_string(),
            cache_key,
            tags,
            source,
        })
    }

    fn lead(&mut self, refresh: &Refresh) -> Option<String> {
        let value = match &refresh.source {
            Source::Store(key) => {
                let found = self.store.get(key).cloned();
                self.calls.push(Call::Get {
                    key: key.clone(),
                    found: found.clone(),
                });
                found
            }
            Source::Page(id) => {
                let product = self.get(&format!("product:{id}"), &[]);
                let reviews = self.get(&format!("reviews:{id}"), &[]);
                Some(format!(
                    "{}|{}",
                    product.as_deref().unwrap_or("-"),
                    reviews.as_deref().unwrap_or("-")
                ))
            }
        };
        self.in_flight.remove(&refresh.cache_key);
        self.dropped_by.remove(&refresh.cache_key);
        match &value {
            Some(value) => {
                let entry = Entry {
                    value: value.clone(),
                    stored_at: self.now,
                    ttl_ms: self.config.ttl(&refresh.key),
                    tags: refresh.tags.clone(),
                };
                self.entries.insert(refresh.cache_key.clone(), entry);
            }
            None => {
                self.entries.remove(&refresh.cache_key);
            }
        }
        value
    }
}

/// Sorts calls into a canonical order, so two sets of concurrent calls compare equal.
pub fn sort_calls(calls: &mut [Call]) {
    calls.sort_by_key(|call| (call.request(), call.answer()));
}

/// Calls as the report shows them.
pub fn show_calls(calls: &[Call]) -> String {
    if calls.is_empty() {
        return "no store call".into();
    }
    calls
        .iter()
        .map(|call| format!("{} → {}", call.request(), call.answer()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn get(key: &str) -> Op {
        Op::Get {
            key: key.into(),
            tags: vec![],
        }
    }

    // FNV-1a 64 of "a" is the published test vector.
    #[test]
    fn fnv_matches_the_reference_vector() {
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    }

    // A stale page is served, then refreshed with a render whose stale fragment is refreshed too.
    #[test]
    fn a_stale_page_refreshes_in_the_background() {
        let mut model = Model::start(store(&[("product:1", "p"), ("reviews:1", "r")]));
        let config = Config {
            ttl_ms: 100,
            jitter_ms: 0,
            swr_ms: 100,
        };
        model.apply(&Op::New(config));
        let (reply, calls) = model.apply(&Op::Page { id: 1 });
        assert_eq!(reply, Some(json!({"value": "p|r"})));
        assert_eq!(calls.len(), 2);
        model.apply(&Op::Tick { ms: 100 });
        model.apply(&Op::Set {
            key: "product:1".into(),
            value: "p2".into(),
        });
        let (reply, calls) = model.apply(&Op::Page { id: 1 });
        assert_eq!(reply, Some(json!({"value": "p|r"})));
        // The refresh renders with the stale fragments (served at once), whose refreshes load them.
        assert_eq!(calls.len(), 2);
        let (reply, calls) = model.apply(&Op::Page { id: 1 });
        assert_eq!(reply, Some(json!({"value": "p|r"})));
        assert!(calls.is_empty());
        let (reply, _) = model.apply(&get("product:1"));
        assert_eq!(reply, Some(json!({"value": "p2"})));
    }

    // A bump changes the cache key, so the old entry is no longer found.
    #[test]
    fn a_bump_misses_the_namespace() {
        let mut model = Model::start(store(&[("reviews:1", "r")]));
        model.apply(&Op::New(Config {
            ttl_ms: 1_000,
            jitter_ms: 0,
            swr_ms: 0,
        }));
        model.apply(&get("reviews:1"));
        assert!(model.apply(&get("reviews:1")).1.is_empty());
        model.apply(&Op::Bump {
            namespace: "reviews".into(),
        });
        assert_eq!(model.apply(&get("reviews:1")).1.len(), 1);
    }
}
