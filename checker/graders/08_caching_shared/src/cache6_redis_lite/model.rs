//! The reference keyspace of the `cache6_redis_lite` grader: what a correct server answers to each command.
//!
//! Written plainly (ordered maps, linear scans) rather than fast: it serves a few thousand commands per run.
//! Replies are [`R`] values, compared after [`R::normalized`] puts set-like replies in a fixed order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A RESP2 reply, as the grader compares it.
#[derive(Debug, Clone, PartialEq)]
pub enum R {
    Nil,
    Int(i64),
    Simple(String),
    Bulk(String),
    /// An error reply: only its first word (`ERR`, `WRONGTYPE`) is compared.
    Err(String),
    Arr(Vec<R>),
}

impl R {
    fn bulk(text: &str) -> R {
        R::Bulk(text.to_string())
    }

    /// The same reply with errors cut to their code, for comparing.
    pub fn comparable(&self) -> R {
        match self {
            R::Err(text) => R::Err(text.split_whitespace().next().unwrap_or("").to_string()),
            R::Arr(items) => R::Arr(items.iter().map(R::comparable).collect()),
            other => other.clone(),
        }
    }

    /// The reply with the elements of an unordered command (`SMEMBERS`, `HGETALL`) sorted.
    pub fn normalized(self, command: &str) -> R {
        match (command, self) {
            ("SMEMBERS", R::Arr(mut items)) => {
                items.sort_by_key(|r| r.to_string());
                R::Arr(items)
            }
            ("HGETALL", R::Arr(items)) => {
                let mut pairs: Vec<Vec<R>> = items.chunks(2).map(<[R]>::to_vec).collect();
                pairs.sort_by_key(|p| p.first().map(R::to_string).unwrap_or_default());
                R::Arr(pairs.into_iter().flatten().collect())
            }
            (_, r) => r,
        }
    }
}

impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            R::Nil => write!(f, "(nil)"),
            R::Int(n) => write!(f, "(integer) {n}"),
            R::Simple(s) => write!(f, "+{s}"),
            R::Bulk(s) => write!(f, "{s:?}"),
            R::Err(s) => write!(f, "(error) {s}"),
            R::Arr(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

#[derive(Debug, Clone)]
enum V {
    Str(String),
    List(VecDeque<String>),
    Set(BTreeSet<String>),
    Hash(BTreeMap<String, String>),
    /// Members and scores, unordered; ordered on demand.
    Z(BTreeMap<String, f64>),
}

/// The model keyspace, with its own copy of the server's clock.
#[derive(Debug, Default)]
pub struct Model {
    keys: BTreeMap<String, (V, Option<u64>)>,
    pub now: u64,
    /// Keys deleted because their aggregate became empty (until they are written again).
    pub emptied: BTreeSet<String>,
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn wrong() -> R {
    R::Err(WRONGTYPE.to_string())
}

fn err(text: &str) -> R {
    R::Err(format!("ERR {text}"))
}

fn parse_int(s: &str) -> Option<i64> {
    s.parse().ok()
}

fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

fn zorder(z: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut items: Vec<(String, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    items
}

impl Model {
    /// A model whose clock reads `now`.
    pub fn new(now: u64) -> Self {
        Model {
            now,
            ..Model::default()
        }
    }

    fn expire_now(&mut self, key: &str) {
        if let Some((_, Some(at))) = self.keys.get(key)
            && *at <= self.now
        {
            self.keys.remove(key);
        }
    }

    fn live(&mut self, key: &str) -> Option<&mut (V, Option<u64>)> {
        self.expire_now(key);
        self.keys.get_mut(key)
    }

    fn drop_empty(&mut self, key: &str) {
        let empty = match self.keys.get(key).map(|e| &e.0) {
            Some(V::List(l)) => l.is_empty(),
            Some(V::Set(s)) => s.is_empty(),
            Some(V::Hash(h)) => h.is_empty(),
            Some(V::Z(z)) => z.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(key);
            self.emptied.insert(key.to_string());
        }
    }

    /// The deadline of `key` if it has passed but the key was not touched since (so it is still stored).
    pub fn expired(&self, key: &str) -> Option<u64> {
        self.keys
            .get(key)
            .and_then(|e| e.1)
            .filter(|&at| at <= self.now)
    }

    /// The deadlines of the live keys with one.
    pub fn deadlines(&self) -> Vec<u64> {
        self.keys
            .values()
            .filter_map(|e| e.1)
            .filter(|&at| at > self.now)
            .collect()
    }

    /// The reply to `args` (the command name first, in capitals).
    pub fn run(&mut self, args: &[String]) -> R {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["PING"] => R::Simple("PONG".to_string()),
            ["PING" | "ECHO", m] => R::bulk(m),
            ["FLUSHALL"] => {
                self.keys.clear();
                R::Simple("OK".to_string())
            }
            ["DEBUG", "ADVANCE", ms] => {
                self.now += ms.parse::<u64>().unwrap_or(0);
                R::Simple("OK".to_string())
            }
            ["GET", k] => match self.live(k) {
                None => R::Nil,
                Some((V::Str(s), _)) => R::bulk(s),
                Some(_) => wrong(),
            },
            ["SET", k, v, rest @ ..] => {
                let ttl = match rest {
                    [] => None,
                    [unit, n] => match (unit.to_ascii_uppercase().as_str(), parse_int(n)) {
                        ("EX", Some(n)) if n > 0 => Some(n as u64 * 1000),
                        ("PX", Some(n)) if n > 0 => Some(n as u64),
                        _ => return err("syntax error"),
                    },
                    _ => return err("syntax error"),
                };
                let deadline = ttl.map(|ms| self.now + ms);
                self.emptied.remove(*k);
                self.keys
                    .insert(k.to_string(), (V::Str(v.to_string()), deadline));
                R::Simple("OK".to_string())
            }
            ["DEL" | "EXISTS", keys @ ..] if !keys.is_empty() => {
                let mut n = 0;
                for k in keys {
                    if self.live(k).is_some() {
                        n += 1;
                        if a[0] == "DEL" {
                            self.keys.remove(*k);
                        }
                    }
                }
                R::Int(n)
            }
            ["TYPE", k] => R::Simple(
                match self.live(k).map(|e| &e.0) {
                    None => "none",
                    Some(V::Str(_)) => "string",
                    Some(V::List(_)) => "list",
                    Some(V::Set(_)) => "set",
                    Some(V::Hash(_)) => "hash",
                    Some(V::Z(_)) => "zset",
                }
                .to_string(),
            ),
            ["INCR", k] => self.incr(k, 1),
            ["INCRBY", k, n] => match parse_int(n) {
                Some(n) => self.incr(k, n),
                None => err("value is not an integer or out of range"),
            },
            ["EXPIRE" | "PEXPIRE", k, n] => {
                let Some(n) = parse_int(n) else {
                    return err("value is not an integer or out of range");
                };
                let ms = if a[0] == "EXPIRE" { n * 1000 } else { n };
                let now = self.now;
                match self.live(k) {
                    None => R::Int(0),
                    Some(entry) => {
                        if ms <= 0 {
                            self.keys.remove(*k);
                        } else {
                            entry.1 = Some(now + ms as u64);
                        }
                        R::Int(1)
                    }
                }
            }
            ["TTL" | "PTTL", k] => {
                let now = self.now;
                match self.live(k) {
                    None => R::Int(-2),
                    Some((_, None)) => R::Int(-1),
                    Some((_, Some(at))) => {
                        let left = (*at - now) as i64;
                        R::Int(if a[0] == "PTTL" {
                            left
                        } else {
                            (left + 500) / 1000
                        })
                    }
                }
            }
            ["PERSIST", k] => match self.live(k) {
                Some(entry) => R::Int(i64::from(entry.1.take().is_some())),
                None => R::Int(0),
            },
            ["LPUSH" | "RPUSH", k, items @ ..] if !items.is_empty() => {
                let entry = self
                    .live(k)
                    .map(|e| e.0.clone())
                    .unwrap_or(V::List(VecDeque::new()));
                let V::List(mut list) = entry else {
                    return wrong();
                };
                for item in items {
                    if a[0] == "LPUSH" {
                        list.push_front(item.to_string());
                    } else {
                        list.push_back(item.to_string());
                    }
                }
                let n = list.len();
                self.put(k, V::List(list));
                R::Int(n as i64)
            }
            ["LPOP" | "RPOP", k] => {
                let out = match self.live(k) {
                    None => R::Nil,
                    Some((V::List(list), _)) => {
                        let item = if a[0] == "LPOP" {
                            list.pop_front()
                        } else {
                            list.pop_back()
                        };
                        item.map_or(R::Nil, R::Bulk)
                    }
                    Some(_) => return wrong(),
                };
                self.drop_empty(k);
                out
            }
            ["LRANGE", k, start, stop] => {
                let (Some(start), Some(stop)) = (parse_int(start), parse_int(stop)) else {
                    return err("value is not an integer or out of range");
                };
                match self.live(k) {
                    None => R::Arr(Vec::new()),
                    Some((V::List(list), _)) => R::Arr(match range(start, stop, list.len()) {
                        Some((from, to)) => list.range(from..=to).map(|s| R::bulk(s)).collect(),
                        None => Vec::new(),
                    }),
                    Some(_) => wrong(),
                }
            }
            ["LLEN" | "SCARD" | "HLEN" | "ZCARD", k] => match (a[0], self.live(k).map(|e| &e.0)) {
                (_, None) => R::Int(0),
                ("LLEN", Some(V::List(l))) => R::Int(l.len() as i64),
                ("SCARD", Some(V::Set(s))) => R::Int(s.len() as i64),
                ("HLEN", Some(V::Hash(h))) => R::Int(h.len() as i64),
                ("ZCARD", Some(V::Z(z))) => R::Int(z.len() as i64),
                _ => wrong(),
            },
            ["SADD" | "SREM", k, members @ ..] if !members.is_empty() => {
                let set = match self.live(k).map(|e| e.0.clone()) {
                    None if a[0] == "SREM" => return R::Int(0),
                    None => BTreeSet::new(),
                    Some(V::Set(set)) => set,
                    Some(_) => return wrong(),
                };
                let mut set = set;
                let mut n = 0;
                for m in members {
                    let changed = if a[0] == "SADD" {
                        set.insert(m.to_string())
                    } else {
                        set.remove(*m)
                    };
                    n += i64::from(changed);
                }
                self.put(k, V::Set(set));
                self.drop_empty(k);
                R::Int(n)
            }
            ["SISMEMBER", k, m] => match self.live(k).map(|e| &e.0) {
                None => R::Int(0),
                Some(V::Set(s)) => R::Int(i64::from(s.contains(*m))),
                Some(_) => wrong(),
            },
            ["SMEMBERS", k] => match self.live(k).map(|e| &e.0) {
                None => R::Arr(Vec::new()),
                Some(V::Set(s)) => R::Arr(s.iter().map(|m| R::bulk(m)).collect()),
                Some(_) => wrong(),
            },
            ["HSET", k, pairs @ ..] if !pairs.is_empty() && pairs.len() % 2 == 0 => {
                let mut hash = match self.live(k).map(|e| e.0.clone()) {
                    None => BTreeMap::new(),
                    Some(V::Hash(h)) => h,
                    Some(_) => return wrong(),
                };
                let added = pairs
                    .chunks(2)
                    .filter(|p| hash.insert(p[0].to_string(), p[1].to_string()).is_none())
                    .count();
                self.put(k, V::Hash(hash));
                R::Int(added as i64)
            }
            ["HGET", k, f] => match self.live(k).map(|e| &e.0) {
                None => R::Nil,
                Some(V::Hash(h)) => h.get(*f).map_or(R::Nil, |v| R::bulk(v)),
                Some(_) => wrong(),
            },
            ["HDEL", k, fields @ ..] if !fields.is_empty() => {
                let n = match self.live(k) {
                    None => 0,
                    Some((V::Hash(h), _)) => {
                        fields.iter().filter(|f| h.remove(**f).is_some()).count()
                    }
                    Some(_) => return wrong(),
                };
                self.drop_empty(k);
                R::Int(n as i64)
            }
            ["HGETALL", k] => match self.live(k).map(|e| &e.0) {
                None => R::Arr(Vec::new()),
                Some(V::Hash(h)) => R::Arr(
                    h.iter()
                        .flat_map(|(f, v)| [R::bulk(f), R::bulk(v)])
                        .collect(),
                ),
                Some(_) => wrong(),
            },
            ["HINCRBY", k, f, n] => {
                let Some(n) = parse_int(n) else {
                    return err("value is not an integer or out of range");
                };
                let mut hash = match self.live(k).map(|e| e.0.clone()) {
                    None => BTreeMap::new(),
                    Some(V::Hash(h)) => h,
                    Some(_) => return wrong(),
                };
                let old = match hash.get(*f) {
                    None => 0,
                    Some(v) => match parse_int(v) {
                        Some(v) => v,
                        None => return err("hash value is not an integer"),
                    },
                };
                let Some(next) = old.checked_add(n) else {
                    return err("increment or decrement would overflow");
                };
                hash.insert(f.to_string(), next.to_string());
                self.put(k, V::Hash(hash));
                R::Int(next)
            }
            ["ZADD", k, pairs @ ..] if !pairs.is_empty() && pairs.len() % 2 == 0 => {
                let mut scored = Vec::new();
                for p in pairs.chunks(2) {
                    match p[0].parse::<f64>() {
                        Ok(s) if !s.is_nan() => scored.push((s, p[1])),
                        _ => return err("value is not a valid float"),
                    }
                }
                let mut z = match self.live(k).map(|e| e.0.clone()) {
                    None => BTreeMap::new(),
                    Some(V::Z(z)) => z,
                    Some(_) => return wrong(),
                };
                let added = scored
                    .into_iter()
                    .filter(|(s, m)| z.insert(m.to_string(), *s).is_none())
                    .count();
                self.put(k, V::Z(z));
                R::Int(added as i64)
            }
            ["ZINCRBY", k, by, m] => {
                let Ok(by) = by.parse::<f64>() else {
                    return err("value is not a valid float");
                };
                let mut z = match self.live(k).map(|e| e.0.clone()) {
                    None => BTreeMap::new(),
                    Some(V::Z(z)) => z,
                    Some(_) => return wrong(),
                };
                let score = z.get(*m).copied().unwrap_or(0.0) + by;
                z.insert(m.to_string(), score);
                self.put(k, V::Z(z));
                R::Bulk(score.to_string())
            }
            ["ZSCORE", k, m] => match self.live(k).map(|e| &e.0) {
                None => R::Nil,
                Some(V::Z(z)) => z.get(*m).map_or(R::Nil, |s| R::Bulk(s.to_string())),
                Some(_) => wrong(),
            },
            ["ZREM", k, members @ ..] if !members.is_empty() => {
                let n = match self.live(k) {
                    None => 0,
                    Some((V::Z(z), _)) => {
                        members.iter().filter(|m| z.remove(**m).is_some()).count()
                    }
                    Some(_) => return wrong(),
                };
                self.drop_empty(k);
                R::Int(n as i64)
            }
            ["ZRANGE" | "ZREVRANGE", k, start, stop, rest @ ..] if rest.len() <= 1 => {
                let with_scores = match rest {
                    [] => false,
                    [flag] if flag.eq_ignore_ascii_case("WITHSCORES") => true,
                    _ => return err("syntax error"),
                };
                let (Some(start), Some(stop)) = (parse_int(start), parse_int(stop)) else {
                    return err("value is not an integer or out of range");
                };
                let mut items = match self.live(k).map(|e| &e.0) {
                    None => return R::Arr(Vec::new()),
                    Some(V::Z(z)) => zorder(z),
                    Some(_) => return wrong(),
                };
                if a[0] == "ZREVRANGE" {
                    items.reverse();
                }
                let Some((from, to)) = range(start, stop, items.len()) else {
                    return R::Arr(Vec::new());
                };
                R::Arr(
                    items[from..=to]
                        .iter()
                        .flat_map(|(m, s)| {
                            let mut out = vec![R::bulk(m)];
                            if with_scores {
                                out.push(R::Bulk(s.to_string()));
                            }
                            out
                        })
                        .collect(),
                )
            }
            [name, ..] => err(&format!(
                "unknown command or wrong number of arguments for '{name}'"
            )),
            [] => err("empty command"),
        }
    }

    fn incr(&mut self, k: &str, by: i64) -> R {
        let old = match self.live(k).map(|e| &e.0) {
            None => 0,
            Some(V::Str(s)) => match parse_int(s) {
                Some(n) => n,
                None => return err("value is not an integer or out of range"),
            },
            Some(_) => return wrong(),
        };
        let Some(next) = old.checked_add(by) else {
            return err("increment or decrement would overflow");
        };
        self.put(k, V::Str(next.to_string()));
        R::Int(next)
    }

    /// Replaces `k`'s value, keeping its deadline (a new key gets none).
    fn put(&mut self, k: &str, value: V) {
        self.emptied.remove(k);
        let deadline = self.keys.get(k).and_then(|e| e.1);
        self.keys.insert(k.to_string(), (value, deadline));
    }
}
