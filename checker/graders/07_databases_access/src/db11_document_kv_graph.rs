//! Grader of `db11_document_kv_graph`: a document store, a partitioned key-value table and a graph,
//! each driven over JSON lines with seeded operations and compared with the grader's own model.
//!
//! 1. [`docs`]: MongoDB-style filters (types, missing fields, `$ne`, dotted paths), then secondary
//!    indexes: the results, and `scanned` at most the documents holding the indexed value.
//! 2. [`kv`]: partition + sort key queries, then create-only and optimistic-locking puts.
//! 3. [`graph`]: k-hop neighbourhoods and shortest paths on a seeded graph with cycles.

mod docs;
mod graph;
mod kv;

use backlings_grade::{Failure, Grading};

/// Grades `db11_document_kv_graph`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("documents: filters match like MongoDB (types, missing fields, $ne, dotted paths)");
    let mut store = docs::Model::seeded(g.rng());
    store.load(&mut p)?;
    for _ in 0..60 {
        let filter = docs::random_filter(g.rng());
        store.check_find(&mut p, &filter)?;
    }

    g.scenario("documents: a secondary index covers old and new documents and narrows the scan");
    store.check_indexes(&mut p, g.rng())?;

    g.scenario(
        "key-value: one partition's items in sort-key order, by prefix, range, direction and limit",
    );
    let mut table = kv::Model::default();
    table.load(&mut p, g.rng())?;
    for _ in 0..40 {
        table.check_query(&mut p, g.rng())?;
    }

    g.scenario("key-value: conditional puts fail exactly when their condition does not hold");
    table.check_conditions(&mut p, g.rng())?;

    g.scenario("graph: k-hop neighbourhoods follow edge directions and never include the start");
    let graph = graph::Model::seeded(g.rng());
    graph.load(&mut p)?;
    for _ in 0..30 {
        graph.check_k_hop(&mut p, g.rng())?;
    }

    g.scenario("graph: shortest paths have the fewest edges");
    for _ in 0..30 {
        graph.check_path(&mut p, g.rng())?;
    }
    Ok(())
}
