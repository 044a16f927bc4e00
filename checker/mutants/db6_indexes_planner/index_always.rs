//! mutant: takes an index whenever one applies, whatever it costs
//! expect: few distinct values

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
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, placed_at);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, placed_at);
CREATE INDEX IF NOT EXISTS customers_by_email ON customers (lower(email));
CREATE INDEX IF NOT EXISTS items_by_order ON order_items (order_id);
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
    query
        .table(table)
        .rows
        .div_ceil(query.ndv(table, column))
        .max(1)
}

/// The rows of `table` left by its filters (each filter in request order, rounded up, at least 1).
pub fn filtered(query: &Query, table: &str) -> u64 {
    query
        .filters
        .iter()
        .filter(|f| f.table == table)
        .fold(query.table(table).rows, |rows, f| {
            rows.div_ceil(query.ndv(table, &f.column)).max(1)
        })
}

/// The cheapest way to read `table` first, and its cost.
pub fn first_step(query: &Query, table: &str) -> (Step, u64) {
    let mut best = (
        Step {
            table: table.to_string(),
            method: Method::Scan,
            index: None,
        },
        query.table(table).rows,
    );
    let mut indexes: Vec<&Index> = query.table(table).indexes.iter().collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    for index in indexes {
        let usable = query
            .filters
            .iter()
            .any(|f| f.table == table && f.column == index.column);
        let cost = 2 + 4 * lookup(query, table, &index.column);
        if usable {
            best = (
                Step {
                    table: table.to_string(),
                    method: Method::Index,
                    index: Some(index.name.clone()),
                },
                cost,
            );
        }
    }
    best
}

/// Joins `table` to the `rows` produced by the tables in `placed`: the cheapest step, its cost and the
/// rows after it; `None` when no join connects `table` to a placed table.
pub fn join_step(
    query: &Query,
    placed: &[String],
    table: &str,
    rows: u64,
) -> Option<(Step, u64, u64)> {
    let (mine, theirs) = query.joins.iter().find_map(|j| {
        if j.left.table == table && placed.contains(&j.right.table) {
            Some((&j.left, &j.right))
        } else if j.right.table == table && placed.contains(&j.left.table) {
            Some((&j.right, &j.left))
        } else {
            None
        }
    })?;
    let hash_cost = first_step(query, table)
        .1
        .saturating_add(filtered(query, table))
        .saturating_add(rows);
    let mut best = (
        Step {
            table: table.to_string(),
            method: Method::HashJoin,
            index: None,
        },
        hash_cost,
    );
    let mut indexes: Vec<&Index> = query.table(table).indexes.iter().collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    for index in indexes.into_iter().filter(|i| i.column == mine.column) {
        let cost = rows.saturating_mul(2 + 4 * lookup(query, table, &mine.column));
        if cost < u64::MAX {
            best = (
                Step {
                    table: table.to_string(),
                    method: Method::IndexNestedLoop,
                    index: Some(index.name.clone()),
                },
                cost,
            );
        }
    }
    let divisor = query
        .ndv(table, &mine.column)
        .max(query.ndv(&theirs.table, &theirs.column));
    let out = (rows as u128 * filtered(query, table) as u128).div_ceil(divisor as u128);
    Some((best.0, best.1, out.clamp(1, u64::MAX as u128) as u64))
}

/// The cheapest plan of `query` (see the contract for the model and the ties).
pub fn best_plan(query: &Query) -> Plan {
    let mut names: Vec<String> = query.tables.iter().map(|t| t.name.clone()).collect();
    names.sort();
    let mut best: Option<(Plan, Vec<String>)> = None;
    for order in permutations(&names) {
        let (first, cost) = first_step(query, &order[0]);
        let mut plan = Plan {
            steps: vec![first],
            rows: filtered(query, &order[0]),
            cost,
        };
        let mut connected = true;
        for i in 1..order.len() {
            match join_step(query, &order[..i], &order[i], plan.rows) {
                Some((step, cost, rows)) => {
                    plan.steps.push(step);
                    plan.cost = plan.cost.saturating_add(cost);
                    plan.rows = rows;
                }
                None => {
                    connected = false;
                    break;
                }
            }
        }
        let better = match &best {
            None => true,
            Some((known, known_order)) => {
                plan.cost < known.cost || (plan.cost == known.cost && order < *known_order)
            }
        };
        if connected && better {
            best = Some((plan, order));
        }
    }
    best.map(|(plan, _)| plan)
        .expect("the joins connect every table")
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
