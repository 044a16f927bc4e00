//! mutant: splits an edge but leaves the old node's route, parameter child and catch-all on the upper half
//! expect: every route survives the edge splits

use std::collections::{BTreeMap, HashMap};

use backlings_harness::stdio::serve_json_lines;
use serde::{Deserialize, Serialize};

/// A piece of a pattern: static text (with its slashes), a parameter, or a catch-all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Static text, e.g. `/users/` in `/users/:id`.
    Static(String),
    /// `:name`: one whole segment.
    Param(String),
    /// `*name`: one or more segments, to the end of the path.
    CatchAll(String),
}

/// Splits a pattern into pieces, or says why it is invalid (provided: you do not need to change this).
/// `/users/:id/posts` is `[Static("/users/"), Param("id"), Static("/posts")]`.
pub fn parse_pattern(pattern: &str) -> Result<Vec<Piece>, String> {
    if pattern == "/" {
        return Ok(vec![Piece::Static("/".to_string())]);
    }
    let rest = pattern
        .strip_prefix('/')
        .ok_or_else(|| format!("`{pattern}` does not start with `/`"))?;
    let segments: Vec<&str> = rest.split('/').collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    for (index, segment) in segments.iter().enumerate() {
        text.push('/');
        let is_name = |name: &str| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if let Some(name) = segment.strip_prefix(':') {
            if !is_name(name) {
                return Err(format!("`{segment}` is not a parameter name"));
            }
            pieces.push(Piece::Static(std::mem::take(&mut text)));
            pieces.push(Piece::Param(name.to_string()));
        } else if let Some(name) = segment.strip_prefix('*') {
            if !is_name(name) || index + 1 != segments.len() {
                return Err(format!("`{segment}` must be a named catch-all at the end"));
            }
            pieces.push(Piece::Static(std::mem::take(&mut text)));
            pieces.push(Piece::CatchAll(name.to_string()));
        } else if segment.is_empty() || segment.contains([':', '*']) {
            return Err(format!("`{pattern}` has an empty or mixed segment"));
        } else {
            text.push_str(segment);
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Static(text));
    }
    Ok(pieces)
}

/// One node of the tree.
#[derive(Debug, Default)]
pub struct Node {
    /// The static text on the edge into this node.
    prefix: String,
    /// Static children; no two start with the same byte.
    children: Vec<Node>,
    /// The child for a `:param` segment that starts here (its own prefix is empty).
    param: Option<Box<Node>>,
    /// The route of a `*catch-all` that starts here.
    catch_all: Option<usize>,
    /// The route that ends exactly here.
    route: Option<usize>,
}

/// The byte length of the longest common prefix of `a` and `b`, on a character boundary (provided: you do not
/// need to change this).
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((index, _), _)| index)
}

impl Node {
    /// A node with this edge text and nothing below it yet.
    fn with_prefix(prefix: &str) -> Self {
        Node {
            prefix: prefix.to_string(),
            ..Node::default()
        }
    }

    /// Walks `text` down from this node's children, splitting an edge or adding a child where needed, and
    /// returns the node where `text` ends.
    fn descend(&mut self, text: &str) -> &mut Node {
        if text.is_empty() {
            return self;
        }
        let first = text.as_bytes()[0];
        let Some(index) = self
            .children
            .iter()
            .position(|child| child.prefix.as_bytes()[0] == first)
        else {
            self.children.push(Node::with_prefix(text));
            return self.children.last_mut().expect("just pushed");
        };
        let child = &mut self.children[index];
        let common = common_prefix(&child.prefix, text);
        if common < child.prefix.len() {
            // Split the edge: a new node takes the common part, the old node keeps the rest of its text and
            // everything below it (route, children, parameter, catch-all).
            let lower = Node {
                prefix: child.prefix[common..].to_string(),
                children: std::mem::take(&mut child.children),
                ..Node::default()
            };
            child.prefix.truncate(common);
            child.children.push(lower);
        }
        child.descend(&text[common..])
    }

    /// Depth-first search in precedence order: the static child, the parameter, the catch-all. `values`
    /// collects the captured parameter values, and loses what a dead branch captured.
    fn find(&self, path: &str, values: &mut Vec<String>) -> Option<usize> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            return self.route;
        }
        let first = rest.as_bytes()[0];
        let child = self
            .children
            .iter()
            .find(|child| child.prefix.as_bytes()[0] == first);
        if let Some(route) = child.and_then(|child| child.find(rest, values)) {
            return Some(route);
        }
        if let Some(param) = &self.param {
            let end = rest.find('/').unwrap_or(rest.len());
            if end > 0 {
                values.push(rest[..end].to_string());
                if let Some(route) = param.find(&rest[end..], values) {
                    return Some(route);
                }
                values.pop();
            }
        }
        let route = self.catch_all?;
        values.push(rest.to_string());
        Some(route)
    }
}

/// What a lookup found: the route's name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub name: String,
    pub params: BTreeMap<String, String>,
}

/// A registered route: its name and its parameters' names, in order.
#[derive(Debug, Clone)]
struct RouteInfo {
    name: String,
    params: Vec<String>,
}

/// One radix tree per method.
#[derive(Debug, Default)]
pub struct RadixRouter {
    trees: HashMap<String, Node>,
    routes: Vec<RouteInfo>,
}

impl RadixRouter {
    /// An empty router.
    pub fn new() -> Self {
        RadixRouter::default()
    }

    /// Adds a route, or refuses an invalid pattern or a duplicate (then nothing changes).
    pub fn add(&mut self, method: &str, pattern: &str, name: &str) -> Result<(), String> {
        let pieces = parse_pattern(pattern)?;
        let id = self.routes.len();
        let mut node = self.trees.entry(method.to_string()).or_default();
        let mut params = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Static(text) => node = node.descend(text),
                Piece::Param(param) => {
                    params.push(param.clone());
                    node = node.param.get_or_insert_with(Box::default);
                }
                Piece::CatchAll(param) => {
                    params.push(param.clone());
                    if node.catch_all.is_some() {
                        return Err(format!("{method} {pattern}: a route of this shape exists"));
                    }
                    node.catch_all = Some(id);
                    self.routes.push(RouteInfo {
                        name: name.to_string(),
                        params,
                    });
                    return Ok(());
                }
            }
        }
        if node.route.is_some() {
            return Err(format!("{method} {pattern}: a route of this shape exists"));
        }
        node.route = Some(id);
        self.routes.push(RouteInfo {
            name: name.to_string(),
            params,
        });
        Ok(())
    }

    /// The route for `method` and `path` by the precedence rule, with its parameters.
    pub fn lookup(&self, method: &str, path: &str) -> Option<Match> {
        if path != "/" && path.split('/').skip(1).any(str::is_empty) {
            return None;
        }
        let tree = self.trees.get(method)?;
        let mut values = Vec::new();
        let id = tree.find(path, &mut values)?;
        let route = &self.routes[id];
        Some(Match {
            name: route.name.clone(),
            params: route.params.iter().cloned().zip(values).collect(),
        })
    }
}

/// FNV-1a, 64 bits: the hash of the bench checksum.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The checksum of one lookup: 0 for no match, else FNV-1a of the name, then `\0name=value` per parameter in
/// name order (provided: you do not need to change this).
pub fn lookup_hash(found: Option<&Match>) -> u64 {
    let Some(found) = found else { return 0 };
    let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, found.name.as_bytes());
    for (name, value) in &found.params {
        hash = fnv1a(hash, b"\0");
        hash = fnv1a(hash, name.as_bytes());
        hash = fnv1a(hash, b"=");
        hash = fnv1a(hash, value.as_bytes());
    }
    hash
}

/// One request of the protocol.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Add {
        method: String,
        pattern: String,
        name: String,
    },
    AddMany {
        routes: Vec<(String, String, String)>,
    },
    Lookup {
        method: String,
        path: String,
    },
    LookupMany {
        requests: Vec<(String, String)>,
    },
    Bench {
        requests: Vec<(String, String)>,
        rounds: u64,
    },
}

/// One answer of the protocol.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Reply {
    Ok { ok: bool },
    Error { error: String },
    Added { added: usize, rejected: Vec<usize> },
    Found(Found),
    Results { results: Vec<Found> },
    Bench { checksum: u64, found: u64 },
}

/// A lookup's answer: the route's name (or null) and its parameters.
#[derive(Debug, Serialize)]
struct Found {
    route: Option<String>,
    params: BTreeMap<String, String>,
}

impl From<Option<Match>> for Found {
    fn from(found: Option<Match>) -> Self {
        match found {
            Some(found) => Found {
                route: Some(found.name),
                params: found.params,
            },
            None => Found {
                route: None,
                params: BTreeMap::new(),
            },
        }
    }
}

/// Answers one request (provided: you do not need to change this).
fn answer(router: &mut RadixRouter, request: Request) -> Reply {
    match request {
        Request::Add {
            method,
            pattern,
            name,
        } => match router.add(&method, &pattern, &name) {
            Ok(()) => Reply::Ok { ok: true },
            Err(error) => Reply::Error { error },
        },
        Request::AddMany { routes } => {
            let mut rejected = Vec::new();
            for (index, (method, pattern, name)) in routes.iter().enumerate() {
                if router.add(method, pattern, name).is_err() {
                    rejected.push(index);
                }
            }
            Reply::Added {
                added: routes.len() - rejected.len(),
                rejected,
            }
        }
        Request::Lookup { method, path } => Reply::Found(router.lookup(&method, &path).into()),
        Request::LookupMany { requests } => Reply::Results {
            results: requests
                .iter()
                .map(|(method, path)| router.lookup(method, path).into())
                .collect(),
        },
        Request::Bench { requests, rounds } => {
            let (mut checksum, mut found) = (0u64, 0u64);
            for _ in 0..rounds {
                for (method, path) in &requests {
                    let result = router.lookup(method, path);
                    found += u64::from(result.is_some());
                    checksum = checksum.wrapping_add(lookup_hash(result.as_ref()));
                }
            }
            Reply::Bench { checksum, found }
        }
    }
}

/// Serves the protocol on stdin and stdout (provided: you do not need to change this).
fn main() {
    let mut router = RadixRouter::new();
    serve_json_lines(|request: Request| answer(&mut router, request));
}
