//! The graph: seeded directed edges with cycles, and breadth-first answers to check against.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use backlings_grade::{Failure, Rng, Stdio, ensure, ensure_eq};
use serde_json::json;

/// Nodes in the seeded graph.
const NODES: u64 = 40;

/// The graph as the program must hold it.
pub struct Model {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// In insertion order, to replay to the program.
    added: Vec<(String, String)>,
}

fn node(n: u64) -> String {
    format!("n{n:02}")
}

impl Model {
    /// 85 random edges plus a ring through the first 8 nodes and one self-loop: cycles everywhere.
    pub fn seeded(rng: &mut Rng) -> Model {
        let mut model = Model {
            edges: BTreeMap::new(),
            added: Vec::new(),
        };
        for i in 0..8 {
            model.add(node(i), node((i + 1) % 8));
        }
        let looped = node(rng.below(NODES));
        model.add(looped.clone(), looped);
        for _ in 0..85 {
            // Nodes 36..39 get no edge out and 32..35 none in, so some targets are unreachable.
            let from = node(rng.below(36));
            let mut to = node(rng.below(NODES));
            while to >= node(32) && to < node(36) {
                to = node(rng.below(NODES));
            }
            model.add(from, to);
        }
        model
    }

    fn add(&mut self, from: String, to: String) {
        self.edges
            .entry(from.clone())
            .or_default()
            .insert(to.clone());
        self.added.push((from, to));
    }

    /// Sends every edge (duplicates included: adding twice changes nothing).
    pub fn load(&self, p: &mut Stdio) -> Result<(), Failure> {
        for (from, to) in &self.added {
            p.expect(
                &json!({"op": "graph_edge", "from": from, "to": to}),
                &json!({"ok": true}),
                "adding an edge answers ok",
            )?;
        }
        Ok(())
    }

    /// Distances from `start` by BFS.
    fn distances(&self, start: &str) -> BTreeMap<String, usize> {
        let mut distance = BTreeMap::from([(start.to_string(), 0)]);
        let mut queue = VecDeque::from([start.to_string()]);
        while let Some(at) = queue.pop_front() {
            let d = distance[&at];
            for next in self.edges.get(&at).into_iter().flatten() {
                if !distance.contains_key(next) {
                    distance.insert(next.clone(), d + 1);
                    queue.push_back(next.clone());
                }
            }
        }
        distance
    }

    pub fn check_k_hop(&self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        // Half the starts lie on the ring, where every walk comes back to the start.
        let start = if rng.chance(1, 2) {
            node(rng.below(8))
        } else {
            node(rng.below(NODES))
        };
        let k = rng.range(0, 4) as usize;
        let distances = self.distances(&start);
        let expected: Vec<&String> = distances
            .iter()
            .filter(|(n, d)| (1..=k).contains(*d) && **n != start)
            .map(|(n, _)| n)
            .collect();
        let reply = p.request(&json!({"op": "graph_k_hop", "node": start, "k": k}))?;
        let contains_start = reply["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.contains(&json!(start)));
        ensure(reply == json!({ "nodes": expected }), || {
            let mut failure = Failure::new(format!(
                "k_hop({start}, {k}) returns every node reachable from {start} in 1 to {k} hops along the edge \
                 directions, sorted, never the start node itself"
            ))
            .expected(json!({ "nodes": expected }))
            .got(&reply);
            if contains_start {
                failure = failure.detail(format!(
                    "your answer contains the start node {start}: a cycle leads back to it, but it is where the walk \
                     began, not a neighbour (mark it visited before the first hop)"
                ));
            }
            failure
        })
    }

    pub fn check_path(&self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let from = node(rng.below(NODES));
        let to = match rng.below(6) {
            0 => from.clone(),
            1 => node(rng.range(32, 35)),
            _ => node(rng.below(NODES)),
        };
        let distance = self.distances(&from).get(&to).copied();
        let reply = p.request(&json!({"op": "graph_path", "from": from, "to": to}))?;
        let Some(distance) = distance else {
            return ensure_eq(
                &reply,
                &json!({"path": null}),
                &format!("no path leads from {from} to {to}: the answer is null"),
            );
        };
        let rule = format!(
            "shortest_path({from}, {to}) returns a path with the fewest edges ({distance} here): it starts at {from}, \
             ends at {to}, and follows existing edges"
        );
        let path: Vec<String> = reply["path"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|n| n.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let broken = path.windows(2).find(|pair| {
            !self
                .edges
                .get(&pair[0])
                .is_some_and(|out| out.contains(&pair[1]))
        });
        ensure(
            path.first() == Some(&from)
                && path.last() == Some(&to)
                && broken.is_none()
                && path.len() == distance + 1,
            || {
                let mut failure = Failure::new(rule.clone())
                    .expected(format!("a path of {} nodes", distance + 1))
                    .got(&reply);
                if let Some(pair) = broken {
                    failure = failure.detail(format!("there is no edge {} → {}", pair[0], pair[1]));
                } else if path.len() > distance + 1 {
                    failure = failure.detail(format!(
                        "your path has {} edges, but {distance} are enough: a breadth-first search finds the \
                         fewest edges, a depth-first one just finds some path",
                        path.len().saturating_sub(1)
                    ));
                }
                failure
            },
        )?;
        Ok(())
    }
}
