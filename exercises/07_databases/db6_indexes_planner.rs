//! # Indexes and the query planner
//!
//! A table is a heap of rows in no useful order: to find the orders of customer 42, the database reads
//! every order (a **scan**). An **index** is a second structure, a B-tree sorted by the indexed columns,
//! holding for each key the row's id: a lookup descends the tree in a few page reads and lands on exactly
//! the matching entries (a **search**). Most "the endpoint got slow" incidents are a query that scans a
//! table which has grown, and the fix is an index that matches the query.
//!
//! *Matching* is the skill:
//!
//! - A **composite index** `(customer_id, placed_at)` is sorted by customer, then by date within each
//!   customer: it answers `WHERE customer_id = ?` **and** delivers those rows already sorted by `placed_at`,
//!   so `ORDER BY placed_at DESC LIMIT 20` reads 20 entries instead of sorting all of them (no
//!   `USE TEMP B-TREE FOR ORDER BY` in the plan). Equality columns first, then the range or sort column.
//! - A **covering index** holds every column the query needs, so the table itself is never read.
//! - A condition on an *expression* of a column (`lower(email) = ?`) cannot use an index on the column: it
//!   needs an **index on the expression**, `CREATE INDEX ... ON customers (lower(email))`.
//! - A foreign key column is **not** indexed automatically (in SQLite, PostgreSQL, …): joining
//!   `order_items` to `orders` on `order_id` scans `order_items` once per order, unless you index it.
//! - Every index costs space and slows every write; one composite index often serves several queries.
//!
//! Which plan runs is decided by the **query planner**: for each table it weighs a scan against each usable
//! index, and for a join it chooses the order of the tables and how to join each one, by estimating the
//! *cost* of each candidate from **statistics** (row counts, number of distinct values per column: what
//! `ANALYZE` collects) and keeping the cheapest. An index on a column with few distinct values (`status`:
//! 4 values) finds a quarter of the table, one random read per row: a sequential scan is cheaper, and a
//! good planner ignores that index. Join order matters just as much: start from the table whose filters
//! leave the fewest rows, and look up the others by index.
//!
//! ## The contract, part 1: indexes (`INDEXES`)
//!
//! The program speaks JSON lines. `{"op": "create_indexes", "db": PATH}` runs [`INDEXES`] on the grader's
//! database (schema in [`SCHEMA`], filled with seeded data) and answers `{"ok": true}`. The grader then
//! runs `ANALYZE` and reads `EXPLAIN QUERY PLAN` of each query of [`QUERIES`]: every table must be read by
//! a `SEARCH` using one of your indexes (not a `SCAN`, not an `AUTOMATIC` index SQLite builds for one
//! query and throws away), with no temporary B-tree for `ORDER BY`, and the count query from a covering
//! index. At most **4** indexes.
//!
//! ## The contract, part 2: a cost-based planner
//!
//! `{"op": "plan", "tables": [...], "filters": [...], "joins": [...]}` (see [`Query`]) asks for the
//! cheapest plan under this model (all integers; `⌈a/b⌉` rounds up, and every row estimate is at least 1):
//!
//! - `lookup(T, c) = max(1, ⌈rows(T) / ndv(T.c)⌉)`: the rows one key of column `c` finds (`ndv` = number
//!   of distinct values).
//! - `filtered(T)`: start from `rows(T)` and, for each filter on `T` in request order, replace it by
//!   `max(1, ⌈filtered / ndv(c)⌉)`.
//! - The **first** table `T` is read by `scan` (cost `rows(T)`), or by `index` through an index of `T` on a
//!   filtered column `c` (cost `2 + 4 × lookup(T, c)`: a descent, then a random read per row, which costs
//!   as much as 4 rows of a sequential scan). Rows out: `filtered(T)`.
//! - Each **next** table `U` joins the `R` rows so far through the first join of the request (in request
//!   order) between `U` and a table already placed, say `U.c = X.d`. Either `index_nested_loop`, through an
//!   index of `U` on `c` (cost `R × (2 + 4 × lookup(U, c))`), or `hash_join` (cost = the cost of the
//!   cheapest first-table read of `U` + `filtered(U)` + `R`: read `U`, hash it, probe once per row). Rows
//!   out: `max(1, ⌈R × filtered(U) / max(ndv(U.c), ndv(X.d))⌉)`.
//! - A plan is an order of all the tables in which each table after the first has a join to an earlier
//!   one; its cost is the sum of its steps; each step takes its cheapest method.
//! - Ties: at a step, a method without an index beats an index one, and between indexes the name that
//!   sorts first wins; between orders, the one whose list of table names sorts first wins.
//!
//! The answer: `{"steps": [{"table": "customers", "method": "index", "index": "customers_by_country"},
//! {"table": "orders", "method": "index_nested_loop", "index": "orders_by_customer"}], "rows": 40,
//! "cost": 1234}` (`"index"` only on the methods that use one).
//!
//! ## Pitfalls
//!
//! - Indexing each column alone: `(customer_id)` plus `(placed_at)` is not `(customer_id, placed_at)`.
//! - The wrong column order in a composite index: `(placed_at, customer_id)` cannot find one customer.
//! - Taking an index because it exists: a low-cardinality index costs more than the scan.
//! - Rounding estimates down: a 0-row estimate makes every later step look free.
//! - Keeping the join order of the query text.
//!
//! Roadmap: indexing (B-tree); query planners & optimization; EXPLAIN.

use std::collections::BTreeMap;
use std::process::ExitCode;

use backlings_harness::stdio::serve_json_lines;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The schema of the grader's database.
pub const SCHEMA: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, country TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
                     status TEXT NOT NULL, placed_at INTEGER NOT NULL, total_cents INTEGER NOT NULL);
CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders (id), product_id INTEGER NOT NULL,
                          quantity INTEGER NOT NULL);
";

/// The queries the indexes are for (the grader runs `EXPLAIN QUERY PLAN` on each).
pub const QUERIES: [&str; 4] = [
    // The 20 latest orders of one customer.
    "SELECT id, total_cents FROM orders WHERE customer_id = ?1 ORDER BY placed_at DESC LIMIT 20",
    // How many orders in one status since a date.
    "SELECT count(*) FROM orders WHERE status = ?1 AND placed_at >= ?2",
    // Log in by email, whatever its case.
    "SELECT id FROM customers WHERE lower(email) = lower(?1)",
    // The items of one customer's orders.
    "SELECT o.id, i.product_id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id \
     WHERE o.customer_id = ?1",
];

/// The indexes that make every query of [`QUERIES`] a search (at most 4).
pub const INDEXES: &str = "
-- TODO: at most 4 CREATE INDEX statements that make every query of QUERIES a SEARCH (see the contract).
";

/// One table's statistics.
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// How many rows it has.
    pub rows: u64,
    /// Column name → number of distinct values (at least 1).
    pub columns: BTreeMap<String, u64>,
    /// Its single-column indexes.
    #[serde(default)]
    pub indexes: Vec<Index>,
}

/// A single-column index.
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    /// The index's name.
    pub name: String,
    /// The indexed column.
    pub column: String,
}

/// `table.column`.
#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
}

/// An equality join `left = right`.
#[derive(Debug, Clone, Deserialize)]
pub struct Join {
    /// One side.
    pub left: Column,
    /// The other side.
    pub right: Column,
}

/// A query to plan: its tables, its `column = constant` filters, its joins.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    /// The tables, with their statistics.
    pub tables: Vec<Table>,
    /// `column = constant` conditions.
    #[serde(default)]
    pub filters: Vec<Column>,
    /// Equality joins.
    #[serde(default)]
    pub joins: Vec<Join>,
}

/// How a step reads its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// First table, every row.
    Scan,
    /// First table, through an index on a filtered column.
    Index,
    /// Next table, looked up by index once per row so far.
    IndexNestedLoop,
    /// Next table, read once into a hash table, probed once per row so far.
    HashJoin,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The table this step reads.
    pub table: String,
    /// How.
    pub method: Method,
    /// The index used, for `index` and `index_nested_loop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

/// A whole plan, with its estimated result rows and total cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The steps, in join order.
    pub steps: Vec<Step>,
    /// Estimated rows of the result.
    pub rows: u64,
    /// Total cost.
    pub cost: u64,
}

impl Query {
    /// The statistics of table `name` (provided).
    pub fn table(&self, name: &str) -> &Table {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .expect("the query names only its own tables")
    }

    /// Distinct values of `table.column`, at least 1 (provided).
    pub fn ndv(&self, table: &str, column: &str) -> u64 {
        self.table(table)
            .columns
            .get(column)
            .copied()
            .unwrap_or(1)
            .max(1)
    }
}

/// `max(1, ⌈rows(T) / ndv(T.c)⌉)`: the rows one key of `column` finds.
pub fn lookup(query: &Query, table: &str, column: &str) -> u64 {
    // TODO: the rows one key of `column` finds, rounded up, at least 1.
    todo!()
}

/// The rows of `table` left by its filters (each filter in request order, rounded up, at least 1).
pub fn filtered(query: &Query, table: &str) -> u64 {
    // TODO: the rows of `table` left by its filters, one filter at a time in request order.
    todo!()
}

/// The cheapest way to read `table` first, and its cost.
pub fn first_step(query: &Query, table: &str) -> (Step, u64) {
    // TODO: a scan, or an index on a filtered column when it is strictly cheaper (ties as the contract says).
    todo!()
}

/// Joins `table` to the `rows` produced by the tables in `placed`: the cheapest step, its cost and the
/// rows after it; `None` when no join connects `table` to a placed table.
pub fn join_step(
    query: &Query,
    placed: &[String],
    table: &str,
    rows: u64,
) -> Option<(Step, u64, u64)> {
    // TODO: find the join that connects `table` to a placed table, price index_nested_loop and hash_join,
    // keep the cheaper, and estimate the rows after the join.
    todo!()
}

/// The cheapest plan of `query` (see the contract for the model and the ties).
pub fn best_plan(query: &Query) -> Plan {
    // TODO: try every order of the tables in which each table joins an earlier one, and keep the
    // cheapest plan (ties as the contract says).
    todo!()
}

/// Every order of `items` (provided).
fn permutations(items: &[String]) -> Vec<Vec<String>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// One request of the grader (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    CreateIndexes { db: String },
    Plan(Query),
}

fn create_indexes(path: &str) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(INDEXES)
}

/// Answers the grader's JSON lines (provided: you do not need to change this).
fn main() -> ExitCode {
    serve_json_lines(|request: Request| -> Value {
        match request {
            Request::CreateIndexes { db } => match create_indexes(&db) {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "error": e.to_string() }),
            },
            Request::Plan(query) => serde_json::to_value(best_plan(&query))
                .unwrap_or_else(|e| json!({ "error": e.to_string() })),
        }
    });
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(value: Value) -> Query {
        serde_json::from_value(value).unwrap()
    }

    /// 100 000 orders (status: 4 values, customer_id: 5 000), 5 000 customers (country: 50).
    fn shop(filters: Value) -> Query {
        query(json!({
            "tables": [
                { "name": "orders", "rows": 100_000,
                  "columns": { "customer_id": 5_000, "status": 4 },
                  "indexes": [{ "name": "orders_by_customer", "column": "customer_id" },
                              { "name": "orders_by_status", "column": "status" }] },
                { "name": "customers", "rows": 5_000,
                  "columns": { "id": 5_000, "country": 50 },
                  "indexes": [{ "name": "customers_pk", "column": "id" }] },
            ],
            "filters": filters,
            "joins": [{ "left": { "table": "orders", "column": "customer_id" },
                        "right": { "table": "customers", "column": "id" } }],
        }))
    }

    // Estimates round up and never reach 0.
    #[test]
    fn estimates_round_up() {
        let q = shop(json!([{ "table": "customers", "column": "country" }]));
        assert_eq!(lookup(&q, "orders", "customer_id"), 20);
        assert_eq!(filtered(&q, "customers"), 100);
        let tiny = query(
            json!({ "tables": [{ "name": "t", "rows": 7, "columns": { "a": 3, "b": 100 } }],
                                 "filters": [{ "table": "t", "column": "a" }, { "table": "t", "column": "b" }] }),
        );
        assert_eq!(filtered(&tiny, "t"), 1);
    }

    // A selective index beats the scan; an index on 4 values does not.
    #[test]
    fn an_index_is_used_only_when_it_is_cheaper() {
        let q = shop(json!([{ "table": "orders", "column": "customer_id" }]));
        let (step, cost) = first_step(&q, "orders");
        assert_eq!(step.index.as_deref(), Some("orders_by_customer"));
        assert_eq!(cost, 2 + 4 * 20);
        let q = shop(json!([{ "table": "orders", "column": "status" }]));
        assert_eq!(
            first_step(&q, "orders"),
            (
                Step {
                    table: "orders".into(),
                    method: Method::Scan,
                    index: None
                },
                100_000
            )
        );
    }

    // Customers of one country first (100 rows), then their orders by index: 100 × 82.
    #[test]
    fn the_planner_starts_from_the_most_selective_table() {
        let q = shop(json!([{ "table": "customers", "column": "country" }]));
        let plan = best_plan(&q);
        assert_eq!(
            serde_json::to_value(&plan).unwrap(),
            json!({ "steps": [{ "table": "customers", "method": "scan" },
                              { "table": "orders", "method": "index_nested_loop", "index": "orders_by_customer" }],
                    "rows": 2_000, "cost": 5_000 + 100 * 82 })
        );
    }

    // The indexes run on the schema, and they are at most 4.
    #[test]
    fn the_indexes_fit_the_schema() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(INDEXES).unwrap();
        let count: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!((1..=4).contains(&count));
    }
}
