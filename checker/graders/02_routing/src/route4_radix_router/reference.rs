//! The grader's reference router for `route4_radix_router`: a trie of whole segments (a map of static
//! segments, one parameter child and one catch-all per node), searched depth-first in precedence order. A
//! different shape from the learner's byte-level radix tree, the same answers; a unit test checks it against
//! the plain definition (every route, the most specific at the first differing segment) on random tables.

use std::collections::{BTreeMap, HashMap};

/// One node: a whole path segment.
#[derive(Debug, Default)]
struct SegmentNode {
    statics: HashMap<String, SegmentNode>,
    param: Option<Box<SegmentNode>>,
    catch_all: Option<usize>,
    route: Option<usize>,
}

/// One registered route.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub pattern: String,
    pub name: String,
    params: Vec<String>,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub params: BTreeMap<String, String>,
}

/// The reference router.
#[derive(Debug, Default)]
pub struct Reference {
    trees: HashMap<String, SegmentNode>,
    routes: Vec<Route>,
}

/// The segments of a pattern or path after its leading `/` (none for `/`).
fn segments(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

impl Reference {
    /// Adds a (valid) route; `Err` for a duplicate shape, leaving the table unchanged.
    pub fn add(&mut self, method: &str, pattern: &str, name: &str) -> Result<(), ()> {
        let id = self.routes.len();
        let mut node = self.trees.entry(method.to_string()).or_default();
        let mut params = Vec::new();
        for segment in segments(pattern) {
            if let Some(param) = segment.strip_prefix(':') {
                params.push(param.to_string());
                node = node.param.get_or_insert_with(Box::default);
            } else if let Some(param) = segment.strip_prefix('*') {
                params.push(param.to_string());
                if node.catch_all.is_some() {
                    return Err(());
                }
                node.catch_all = Some(id);
                self.push(method, pattern, name, params);
                return Ok(());
            } else {
                node = node.statics.entry(segment.to_string()).or_default();
            }
        }
        if node.route.is_some() {
            return Err(());
        }
        node.route = Some(id);
        self.push(method, pattern, name, params);
        Ok(())
    }

    fn push(&mut self, method: &str, pattern: &str, name: &str, params: Vec<String>) {
        self.routes.push(Route {
            method: method.to_string(),
            pattern: pattern.to_string(),
            name: name.to_string(),
            params,
        });
    }

    /// The route for `method path` by the precedence rule.
    pub fn lookup(&self, method: &str, path: &str) -> Option<Found> {
        let parts = segments(path);
        if parts.iter().any(|s| s.is_empty()) || !path.starts_with('/') {
            return None;
        }
        let tree = self.trees.get(method)?;
        let mut values = Vec::new();
        let id = find(tree, &parts, &mut values)?;
        let route = &self.routes[id];
        Some(Found {
            name: route.name.clone(),
            params: route.params.iter().cloned().zip(values).collect(),
        })
    }

    /// Every route of `method` whose pattern matches the whole `path`, for a failure's story.
    pub fn matching(&self, method: &str, path: &str) -> Vec<&Route> {
        self.routes
            .iter()
            .filter(|r| r.method == method && matches_whole(&r.pattern, path))
            .collect()
    }
}

fn find(node: &SegmentNode, parts: &[&str], values: &mut Vec<String>) -> Option<usize> {
    let Some((first, rest)) = parts.split_first() else {
        return node.route;
    };
    if let Some(id) = node
        .statics
        .get(*first)
        .and_then(|child| find(child, rest, values))
    {
        return Some(id);
    }
    if let Some(param) = &node.param {
        values.push(first.to_string());
        if let Some(id) = find(param, rest, values) {
            return Some(id);
        }
        values.pop();
    }
    let id = node.catch_all?;
    values.push(parts.join("/"));
    Some(id)
}

/// Whether `pattern` matches the whole `path` (no precedence involved).
pub fn matches_whole(pattern: &str, path: &str) -> bool {
    let (pattern, path) = (segments(pattern), segments(path));
    if path.iter().any(|s| s.is_empty()) {
        return false;
    }
    for (index, part) in pattern.iter().enumerate() {
        if part.starts_with('*') {
            return path.len() > index;
        }
        match path.get(index) {
            Some(segment) if part.starts_with(':') || part == segment => {}
            _ => return false,
        }
    }
    pattern.len() == path.len()
}

/// FNV-1a, 64 bits.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The bench checksum of one lookup, as the exercise's provided `lookup_hash` defines it.
pub fn lookup_hash(found: Option<&Found>) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use backlings_grade::Rng;

    /// The plain definition: among the routes that match the whole path, the smallest kinds vector wins
    /// (static 0 < parameter 1 < catch-all 2), the first registered on a tie (a duplicate is never added).
    fn by_definition(routes: &[(String, String)], path: &str) -> Option<String> {
        let kinds = |pattern: &str| -> Vec<u8> {
            segments(pattern)
                .iter()
                .map(|s| match s.as_bytes().first() {
                    Some(b':') => 1,
                    Some(b'*') => 2,
                    _ => 0,
                })
                .collect()
        };
        routes
            .iter()
            .filter(|(pattern, _)| matches_whole(pattern, path))
            .min_by_key(|(pattern, _)| kinds(pattern))
            .map(|(_, name)| name.clone())
    }

    // The segment trie agrees with the definition on thousands of random paths over random tables.
    #[test]
    fn the_trie_follows_the_definition() {
        let mut rng = Rng::new(7);
        const WORDS: [&str; 5] = ["a", "b", "ab", "new", "x"];
        for _ in 0..200 {
            let mut reference = Reference::default();
            let mut added = Vec::new();
            for index in 0..12 {
                let depth = rng.range(1, 4);
                let mut parts = Vec::new();
                for position in 0..depth {
                    let part = match rng.below(6) {
                        0..=2 => rng.pick(&WORDS).to_string(),
                        3 | 4 => format!(":p{position}"),
                        _ if position + 1 == depth => format!("*r{position}"),
                        _ => rng.pick(&WORDS).to_string(),
                    };
                    parts.push(part);
                }
                let pattern = format!("/{}", parts.join("/"));
                let name = format!("r{index}");
                if reference.add("GET", &pattern, &name).is_ok() {
                    added.push((pattern, name));
                }
            }
            for _ in 0..40 {
                let depth = rng.range(1, 5);
                let path: Vec<&str> = (0..depth).map(|_| *rng.pick(&WORDS)).collect();
                let path = format!("/{}", path.join("/"));
                assert_eq!(
                    reference.lookup("GET", &path).map(|f| f.name),
                    by_definition(&added, &path),
                    "{path} in {added:?}"
                );
            }
        }
    }
}
