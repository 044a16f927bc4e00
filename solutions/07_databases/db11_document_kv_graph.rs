//! # Three NoSQL models: documents, partitioned key-value, and graphs
//!
//! "NoSQL" is not one thing: it is a family of data models, each giving up some of SQL's
//! generality to make one access pattern cheap. Picking one is picking the queries you will be able
//! to run fast, so you need to know what each model can and cannot do. This exercise builds the
//! core of three of them in memory:
//!
//! **A document store** (MongoDB, Couchbase, Firestore) keeps schemaless JSON documents and queries
//! them by field, with filters like `{"plan": "pro", "age": {"$gte": 30}, "address.city": {"$in":
//! ["Oslo", "Lyon"]}}`. The semantics are MongoDB's, and they have sharp edges worth knowing:
//!
//! - Fields are reached by dotted paths into nested documents (`address.city`).
//! - A plain value means equality; several conditions (fields, or operators on one field) all
//!   must hold.
//! - `$gt`, `$gte`, `$lt`, `$lte` compare numbers with numbers and strings with strings (in byte
//!   order). A field of another type, or a missing one, never matches: `{"age": {"$gt": 30}}`
//!   does not match `"age": "unknown"`, and does not compare `"100"` with `30` as text.
//! - `$ne` matches every document whose field is not equal, *including documents without the
//!   field*; `$eq` and `$in` need the field to be there.
//! - An unknown operator is an error, not a filter that silently matches nothing.
//!
//! Without an index every query scans the whole collection. A **secondary index** on a field maps
//! each value to the ids of the documents holding it, so an equality on that field only examines
//! those documents (MongoDB's `explain()` reports this as `totalDocsExamined`; here `find` returns
//! it as `scanned`). An index is built from the documents already there when it is created, and
//! kept up to date by every insert after.
//!
//! **A partitioned key-value store** (DynamoDB, Cassandra's primary keys, Bigtable) stores items
//! under a *partition key*, which decides the machine that holds them, and a *sort key*, which
//! orders the items of one partition. The only efficient queries are "one partition, a range of
//! sort keys" (`begins_with`, `between`, ascending or descending, with a limit), so the keys are
//! designed around the queries: `pk = "user#42"`, `sk = "order#2024-05-01#0007"`. There is no
//! transaction across items, so concurrent writers protect themselves with **conditional puts**:
//! "create only if absent" (`attribute_not_exists`) and **optimistic locking** ("write only if the
//! stored `version` is still the one I read"); a failed condition is `ConditionalCheckFailed`, and
//! the writer re-reads and tries again.
//!
//! **A graph database** (Neo4j, Neptune) stores nodes and edges and answers questions about
//! connections: "who is within 2 hops of me?", "what is the shortest chain from A to B?". Both are
//! breadth-first searches over adjacency lists, which SQL can only do with recursive CTEs.
//!
//! ## The contract the grader checks
//!
//! The grader drives the three stores over JSON lines (see the provided `main`) and compares every
//! answer with its own models: `find` returns exactly the matching documents by `_id`, and with an
//! index on a field the filter compares for equality, `scanned` is at most the number of
//! documents holding that value; inserting an existing `_id` is an error. `query` returns a
//! partition's items in sort-key order (byte order of the strings), reversed when descending, cut
//! at `limit`; conditional puts fail exactly when their condition does not hold, and change
//! nothing then. `k_hop` returns every node reachable in 1 to `k` hops along the edge directions,
//! never the start node itself, sorted; `shortest_path` returns a path with the fewest edges
//! (any one of them), `[from]` when `from == to`, or nothing when `to` cannot be reached.
//!
//! ## Pitfalls
//!
//! - Comparing JSON values by their text: `"100" < "30"`.
//! - Forgetting that `$ne` matches missing fields, or that `$gt` does not.
//! - An index built only from future inserts misses every document already stored.
//! - Sort keys holding numbers must be zero-padded to sort right as strings (`order#0042`).
//! - A BFS without a visited set loops on cycles; one that marks the start visited late returns it
//!   as its own neighbour.
//! - A depth-first search finds *a* path, not the shortest.
//!
//! Roadmap: Databases, NoSQL: document stores (MongoDB), key-value stores (DynamoDB), graph
//! databases; when to use SQL or NoSQL.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde_json::Value;

/// The value at a dotted `path` (`"address.city"`) in a document, if there is one.
/// Provided: you do not need to change this.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |value, key| value.get(key))
}

/// Whether `field` (the document's value, if it has one) satisfies one operator `op` with operand `operand`.
fn satisfies(field: Option<&Value>, op: &str, operand: &Value) -> Result<bool, String> {
    let ordered = |accept: fn(std::cmp::Ordering) -> bool| match (field, operand) {
        (Some(Value::Number(a)), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(accept),
            _ => false,
        },
        (Some(Value::String(a)), Value::String(b)) => accept(a.as_bytes().cmp(b.as_bytes())),
        _ => false,
    };
    Ok(match op {
        "$eq" => field == Some(operand),
        "$ne" => field != Some(operand),
        "$gt" => ordered(std::cmp::Ordering::is_gt),
        "$gte" => ordered(std::cmp::Ordering::is_ge),
        "$lt" => ordered(std::cmp::Ordering::is_lt),
        "$lte" => ordered(std::cmp::Ordering::is_le),
        "$in" => {
            let Value::Array(items) = operand else {
                return Err("$in needs an array".to_string());
            };
            field.is_some_and(|value| items.contains(value))
        }
        other => return Err(format!("unknown operator {other}")),
    })
}

/// Whether `doc` matches every condition of `filter`.
pub fn matches(doc: &Value, filter: &Value) -> Result<bool, String> {
    let Value::Object(conditions) = filter else {
        return Err("a filter is an object".to_string());
    };
    for (path, condition) in conditions {
        let field = lookup(doc, path);
        let operators = match condition {
            Value::Object(ops) if !ops.is_empty() && ops.keys().all(|k| k.starts_with('$')) => ops,
            literal => {
                if !satisfies(field, "$eq", literal)? {
                    return Ok(false);
                }
                continue;
            }
        };
        for (op, operand) in operators {
            if !satisfies(field, op, operand)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The value a filter condition asks `field` to equal, if it is an equality.
fn equality(condition: &Value) -> Option<&Value> {
    match condition {
        Value::Object(ops) if !ops.is_empty() && ops.keys().all(|k| k.starts_with('$')) => {
            ops.get("$eq")
        }
        literal => Some(literal),
    }
}

/// A collection of JSON documents, each with an integer `_id`, with secondary indexes.
#[derive(Default)]
pub struct DocStore {
    /// Every document, by `_id`.
    docs: BTreeMap<i64, Value>,
    /// Per indexed field: the field's value (as JSON text) → the ids of the documents holding it.
    indexes: HashMap<String, HashMap<String, BTreeSet<i64>>>,
}

impl DocStore {
    /// Stores `doc`; an `_id` that is missing or already used is an error.
    pub fn insert(&mut self, doc: Value) -> Result<(), String> {
        let id = doc
            .get("_id")
            .and_then(Value::as_i64)
            .ok_or("a document needs an integer _id")?;
        if self.docs.contains_key(&id) {
            return Err(format!("duplicate key: _id {id}"));
        }
        for (field, index) in &mut self.indexes {
            if let Some(value) = lookup(&doc, field) {
                index.entry(value.to_string()).or_default().insert(id);
            }
        }
        self.docs.insert(id, doc);
        Ok(())
    }

    /// Indexes `field` (a dotted path) for the documents stored now and every later insert.
    pub fn create_index(&mut self, field: &str) {
        let mut index: HashMap<String, BTreeSet<i64>> = HashMap::new();
        for (id, doc) in &self.docs {
            if let Some(value) = lookup(doc, field) {
                index.entry(value.to_string()).or_default().insert(*id);
            }
        }
        self.indexes.insert(field.to_string(), index);
    }

    /// The documents matching `filter`, by `_id`, and how many documents were examined.
    pub fn find(&self, filter: &Value) -> Result<(Vec<Value>, usize), String> {
        let Value::Object(conditions) = filter else {
            return Err("a filter is an object".to_string());
        };
        let mut candidates: Option<&BTreeSet<i64>> = None;
        let empty = BTreeSet::new();
        for (path, condition) in conditions {
            let (Some(index), Some(value)) = (self.indexes.get(path), equality(condition)) else {
                continue;
            };
            let ids = index.get(&value.to_string()).unwrap_or(&empty);
            if candidates.is_none_or(|best| ids.len() < best.len()) {
                candidates = Some(ids);
            }
        }
        let examined: Vec<&Value> = match candidates {
            Some(ids) => ids.iter().filter_map(|id| self.docs.get(id)).collect(),
            None => self.docs.values().collect(),
        };
        let mut found = Vec::new();
        for doc in &examined {
            if matches(doc, filter)? {
                found.push((*doc).clone());
            }
        }
        Ok((found, examined.len()))
    }
}

/// The condition of a conditional put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always write.
    None,
    /// Write only if no item has this key (create-only).
    NotExists,
    /// Write only if the stored item's `version` attribute equals this (optimistic locking).
    Version(i64),
}

/// A put whose condition did not hold.
#[derive(Debug, PartialEq, Eq)]
pub struct ConditionalCheckFailed;

/// A DynamoDB-like table: items by partition key, ordered by sort key within a partition.
#[derive(Default)]
pub struct KvTable {
    partitions: HashMap<String, BTreeMap<String, Value>>,
}

impl KvTable {
    /// Writes `item` under `(pk, sk)` if `condition` holds; otherwise changes nothing.
    pub fn put(
        &mut self,
        pk: &str,
        sk: &str,
        item: Value,
        condition: &Condition,
    ) -> Result<(), ConditionalCheckFailed> {
        let current = self.get(pk, sk);
        let holds = match condition {
            Condition::None => true,
            Condition::NotExists => current.is_none(),
            Condition::Version(version) => {
                current
                    .and_then(|item| item.get("version"))
                    .and_then(Value::as_i64)
                    == Some(*version)
            }
        };
        if !holds {
            return Err(ConditionalCheckFailed);
        }
        self.partitions
            .entry(pk.to_string())
            .or_default()
            .insert(sk.to_string(), item);
        Ok(())
    }

    /// The item under `(pk, sk)`.
    pub fn get(&self, pk: &str, sk: &str) -> Option<&Value> {
        self.partitions.get(pk)?.get(sk)
    }

    /// The items of partition `pk` whose sort key starts with `begins_with` and lies within
    /// `between` (both ends included), in sort-key order (reversed if `descending`), at most `limit`.
    pub fn query(
        &self,
        pk: &str,
        begins_with: Option<&str>,
        between: Option<(&str, &str)>,
        descending: bool,
        limit: Option<usize>,
    ) -> Vec<(String, Value)> {
        let Some(partition) = self.partitions.get(pk) else {
            return Vec::new();
        };
        let selected = partition.iter().filter(|(sk, _)| {
            begins_with.is_none_or(|prefix| sk.starts_with(prefix))
                && between.is_none_or(|(low, high)| sk.as_str() >= low && sk.as_str() <= high)
        });
        let ordered: Box<dyn Iterator<Item = (&String, &Value)>> = if descending {
            Box::new(selected.rev())
        } else {
            Box::new(selected)
        };
        ordered
            .take(limit.unwrap_or(usize::MAX))
            .map(|(sk, item)| (sk.clone(), item.clone()))
            .collect()
    }
}

/// A directed graph as adjacency lists.
#[derive(Default)]
pub struct Graph {
    edges: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Adds the edge `from → to` (adding it twice changes nothing).
    pub fn add_edge(&mut self, from: &str, to: &str) {
        self.edges
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }

    fn neighbours(&self, node: &str) -> impl Iterator<Item = &String> {
        self.edges.get(node).into_iter().flatten()
    }

    /// Every node reachable from `start` in 1 to `k` hops, never `start` itself, sorted.
    pub fn k_hop(&self, start: &str, k: usize) -> Vec<String> {
        let mut seen: BTreeSet<&str> = BTreeSet::from([start]);
        let mut frontier: Vec<&str> = vec![start];
        for _ in 0..k {
            let mut next = Vec::new();
            for node in frontier {
                for neighbour in self.neighbours(node) {
                    if seen.insert(neighbour) {
                        next.push(neighbour.as_str());
                    }
                }
            }
            frontier = next;
        }
        seen.remove(start);
        seen.into_iter().map(str::to_string).collect()
    }

    /// A path from `from` to `to` with the fewest edges, or `None` if there is none.
    pub fn shortest_path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        let mut seen: BTreeSet<&str> = BTreeSet::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = vec![to.to_string()];
                let mut at = to;
                while let Some(&previous) = parent.get(at) {
                    path.push(previous.to_string());
                    at = previous;
                }
                path.reverse();
                return Some(path);
            }
            for neighbour in self.neighbours(node) {
                if seen.insert(neighbour) {
                    parent.insert(neighbour, node);
                    queue.push_back(neighbour);
                }
            }
        }
        None
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It serves the grader over JSON lines:
//
//   {"op":"doc_insert","doc":{"_id":1,"name":"Ada"}}          -> {"ok":true} or {"error":"…"}
//   {"op":"doc_index","field":"plan"}                          -> {"ok":true}
//   {"op":"doc_find","filter":{"age":{"$gt":30}}}              -> {"docs":[…],"scanned":120}
//   {"op":"kv_put","pk":"user#1","sk":"order#0003","item":{…},
//    "condition":null | "not_exists" | {"version":3}}          -> {"ok":true} or {"error":"ConditionalCheckFailed"}
//   {"op":"kv_get","pk":"user#1","sk":"order#0003"}            -> {"item":{…}} or {"item":null}
//   {"op":"kv_query","pk":"user#1","begins_with":"order#","between":["a","b"],
//    "descending":false,"limit":10}                            -> {"items":[{"sk":"…","item":{…}},…]}
//   {"op":"graph_edge","from":"a","to":"b"}                    -> {"ok":true}
//   {"op":"graph_k_hop","node":"a","k":2}                      -> {"nodes":["b","c"]}
//   {"op":"graph_path","from":"a","to":"c"}                    -> {"path":["a","b","c"]} or {"path":null}

mod provided {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ConditionJson {
        Named(String),
        Version { version: i64 },
    }

    #[derive(Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Request {
        DocInsert {
            doc: Value,
        },
        DocIndex {
            field: String,
        },
        DocFind {
            filter: Value,
        },
        KvPut {
            pk: String,
            sk: String,
            item: Value,
            condition: Option<ConditionJson>,
        },
        KvGet {
            pk: String,
            sk: String,
        },
        KvQuery {
            pk: String,
            begins_with: Option<String>,
            between: Option<(String, String)>,
            #[serde(default)]
            descending: bool,
            limit: Option<usize>,
        },
        GraphEdge {
            from: String,
            to: String,
        },
        GraphKHop {
            node: String,
            k: usize,
        },
        GraphPath {
            from: String,
            to: String,
        },
    }

    pub fn main() {
        let mut docs = DocStore::default();
        let mut table = KvTable::default();
        let mut graph = Graph::default();
        backlings_harness::stdio::serve_json_lines(|request: Request| match request {
            Request::DocInsert { doc } => match docs.insert(doc) {
                Ok(()) => json!({"ok": true}),
                Err(error) => json!({"error": error}),
            },
            Request::DocIndex { field } => {
                docs.create_index(&field);
                json!({"ok": true})
            }
            Request::DocFind { filter } => match docs.find(&filter) {
                Ok((found, scanned)) => json!({"docs": found, "scanned": scanned}),
                Err(error) => json!({"error": error}),
            },
            Request::KvPut {
                pk,
                sk,
                item,
                condition,
            } => {
                let condition = match condition {
                    None => Condition::None,
                    Some(ConditionJson::Named(name)) if name == "not_exists" => {
                        Condition::NotExists
                    }
                    Some(ConditionJson::Named(name)) => {
                        return json!({"error": format!("unknown condition {name}")});
                    }
                    Some(ConditionJson::Version { version }) => Condition::Version(version),
                };
                match table.put(&pk, &sk, item, &condition) {
                    Ok(()) => json!({"ok": true}),
                    Err(ConditionalCheckFailed) => json!({"error": "ConditionalCheckFailed"}),
                }
            }
            Request::KvGet { pk, sk } => json!({"item": table.get(&pk, &sk)}),
            Request::KvQuery {
                pk,
                begins_with,
                between,
                descending,
                limit,
            } => {
                let between = between.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
                let items = table.query(&pk, begins_with.as_deref(), between, descending, limit);
                let items: Vec<Value> = items
                    .into_iter()
                    .map(|(sk, item)| json!({"sk": sk, "item": item}))
                    .collect();
                json!({ "items": items })
            }
            Request::GraphEdge { from, to } => {
                graph.add_edge(&from, &to);
                json!({"ok": true})
            }
            Request::GraphKHop { node, k } => json!({"nodes": graph.k_hop(&node, k)}),
            Request::GraphPath { from, to } => json!({"path": graph.shortest_path(&from, &to)}),
        });
    }
}

fn main() {
    provided::main();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn store() -> DocStore {
        let mut store = DocStore::default();
        store
            .insert(json!({"_id": 1, "age": 25, "plan": "pro", "address": {"city": "Oslo"}}))
            .unwrap();
        store
            .insert(json!({"_id": 2, "age": "unknown", "plan": "free"}))
            .unwrap();
        store
            .insert(json!({"_id": 3, "age": 41, "address": {"city": "Lyon"}}))
            .unwrap();
        store
    }

    fn ids(found: &[Value]) -> Vec<i64> {
        found
            .iter()
            .map(|doc| doc["_id"].as_i64().unwrap())
            .collect()
    }

    // Comparisons need the same type, $ne matches missing fields, dotted paths reach nested fields.
    #[test]
    fn filters_follow_mongodb() {
        let store = store();
        let find = |filter: Value| ids(&store.find(&filter).unwrap().0);
        assert_eq!(find(json!({"age": {"$gt": 20}})), vec![1, 3]);
        assert_eq!(find(json!({"plan": {"$ne": "pro"}})), vec![2, 3]);
        assert_eq!(
            find(json!({"address.city": {"$in": ["Lyon", "Rome"]}})),
            vec![3]
        );
        assert_eq!(find(json!({"age": {"$gte": 25, "$lt": 41}})), vec![1]);
        assert!(store.find(&json!({"age": {"$regex": "x"}})).is_err());
    }

    // An index covers the documents stored before it, and an equality examines only its matches.
    #[test]
    fn index_narrows_the_scan() {
        let mut store = store();
        store.create_index("plan");
        store.insert(json!({"_id": 4, "plan": "pro"})).unwrap();
        let (found, scanned) = store.find(&json!({"plan": "pro"})).unwrap();
        assert_eq!(ids(&found), vec![1, 4]);
        assert_eq!(scanned, 2);
        assert!(store.insert(json!({"_id": 4})).is_err());
    }

    // A stale version makes the put fail and change nothing.
    #[test]
    fn optimistic_locking() {
        let mut table = KvTable::default();
        table
            .put(
                "u#1",
                "profile",
                json!({"version": 1}),
                &Condition::NotExists,
            )
            .unwrap();
        assert!(
            table
                .put(
                    "u#1",
                    "profile",
                    json!({"version": 9}),
                    &Condition::NotExists
                )
                .is_err()
        );
        table
            .put(
                "u#1",
                "profile",
                json!({"version": 2}),
                &Condition::Version(1),
            )
            .unwrap();
        assert!(
            table
                .put(
                    "u#1",
                    "profile",
                    json!({"version": 2}),
                    &Condition::Version(1)
                )
                .is_err()
        );
        assert_eq!(table.get("u#1", "profile"), Some(&json!({"version": 2})));
    }

    // A partition's items come back in sort-key order, filtered, reversed and limited.
    #[test]
    fn query_one_partition() {
        let mut table = KvTable::default();
        for sk in ["order#0010", "order#0002", "profile", "order#0007"] {
            table.put("u#1", sk, json!({}), &Condition::None).unwrap();
        }
        let keys =
            |items: Vec<(String, Value)>| items.into_iter().map(|(sk, _)| sk).collect::<Vec<_>>();
        assert_eq!(
            keys(table.query("u#1", Some("order#"), None, true, Some(2))),
            vec!["order#0010", "order#0007"]
        );
        assert_eq!(
            keys(table.query("u#1", None, Some(("order#0005", "q")), false, None)),
            vec!["order#0007", "order#0010", "profile"]
        );
    }

    // k-hop stops at k and never returns the start; the shortest path takes the fewest edges.
    #[test]
    fn graph_searches() {
        let mut graph = Graph::default();
        for (a, b) in [
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            ("c", "d"),
            ("a", "x"),
            ("x", "d"),
        ] {
            graph.add_edge(a, b);
        }
        assert_eq!(graph.k_hop("a", 2), vec!["b", "c", "d", "x"]);
        assert_eq!(graph.k_hop("b", 5), vec!["a", "c", "d", "x"]);
        assert_eq!(graph.shortest_path("a", "d").unwrap(), vec!["a", "x", "d"]);
        assert_eq!(graph.shortest_path("d", "a"), None);
    }
}
