//! Grader of `db6_indexes_planner`: indexes checked with SQLite's own planner, and a mini cost-based planner
//! checked against the exact model of the contract.
//!
//! Part 1 fills a database with seeded data, asks the program to create its indexes, runs `ANALYZE`, and
//! reads `EXPLAIN QUERY PLAN` of each query of the exercise: every table must be a `SEARCH` through one of
//! the learner's indexes (no `SCAN`, no `AUTOMATIC` index, no temp B-tree for `ORDER BY`, a covering index
//! for the count), with at most 4 indexes. Part 2 sends planning requests over JSON lines, hand-made ones
//! (a useless low-cardinality index, rounding, join order) and seeded random ones, and compares each answer
//! with the model's cheapest plan.

mod model;

use std::path::Path;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use rusqlite::{Connection, params};
use serde_json::json;

use crate::support::{self, DbDir};
use model::{Query, col, table};

/// At most this many indexes.
const MAX_INDEXES: i64 = 4;
/// Random planning requests.
const RANDOM_QUERIES: usize = 300;

/// One query of the exercise and what its plan must show.
struct Expected {
    sql: &'static str,
    /// Substrings, one per plan line that must exist (a `SEARCH` on each table).
    searches: &'static [&'static str],
    covering: bool,
    /// The lesson, said with any failure of this query.
    why: &'static str,
}

const QUERIES: [Expected; 4] = [
    Expected {
        sql: "SELECT id, total_cents FROM orders WHERE customer_id = ?1 ORDER BY placed_at DESC LIMIT 20",
        searches: &["SEARCH orders USING % (customer_id=?)"],
        covering: false,
        why: "a composite index (customer_id, placed_at), equality column first, finds one customer's orders \
              already sorted by date: no scan, and no sort for ORDER BY",
    },
    Expected {
        sql: "SELECT count(*) FROM orders WHERE status = ?1 AND placed_at >= ?2",
        searches: &["SEARCH orders USING COVERING INDEX % (status=? AND placed_at>?)"],
        covering: true,
        why: "an index on (status, placed_at) answers the count alone (a covering index: the table is never \
              read): the equality column first, then the range column",
    },
    Expected {
        sql: "SELECT id FROM customers WHERE lower(email) = lower(?1)",
        searches: &["SEARCH customers USING % (<expr>=?)"],
        covering: false,
        why: "a condition on lower(email) cannot use an index on email: it needs an index on the expression, \
              ON customers (lower(email))",
    },
    Expected {
        sql: "SELECT o.id, i.product_id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id \
              WHERE o.customer_id = ?1",
        searches: &[
            "SEARCH o USING % (customer_id=?)",
            "SEARCH i USING % (order_id=?)",
        ],
        covering: false,
        why: "the join looks order_items up by order_id once per order: the foreign key column order_id needs \
              its own index (SQLite does not create one for a REFERENCES)",
    },
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DbDir::new("shop.db")?;
    let mut rng = g.rng().fork(6);
    fill(dir.file(), &mut rng)?;
    let mut p = g.stdio()?;

    g.scenario("the indexes make every query a SEARCH (EXPLAIN QUERY PLAN on the database file)");
    p.expect(
        &json!({ "op": "create_indexes", "db": dir.arg() }),
        &json!({ "ok": true }),
        "create_indexes runs INDEXES on the database file and answers {\"ok\": true}",
    )?;
    let db = support::second_client(dir.file())?;
    db.execute_batch("ANALYZE")
        .map_err(|e| Failure::new(format!("the grader could not run ANALYZE: {e}")))?;
    let count = support::count(
        &db,
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        [],
    )?;
    if count > MAX_INDEXES {
        return Err(Failure::new(format!(
            "at most {MAX_INDEXES} indexes: each one is written on every insert and update, and one \
             composite index can serve several queries"
        ))
        .got(format!("{count} indexes")));
    }
    for query in &QUERIES {
        check_plan(&db, query)?;
    }

    g.scenario("an index on a column with few distinct values loses to a scan");
    let shop = |filters: &[(&str, &str)]| Query {
        tables: vec![
            table(
                "orders",
                100_000,
                &[("customer_id", 5_000), ("status", 4)],
                &[
                    ("orders_by_status", "status"),
                    ("orders_by_customer", "customer_id"),
                ],
            ),
            table(
                "customers",
                5_000,
                &[("id", 5_000), ("country", 50)],
                &[("customers_pk", "id")],
            ),
        ],
        filters: filters.iter().map(|(t, c)| col(t, c)).collect(),
        joins: vec![(col("orders", "customer_id"), col("customers", "id"))],
    };
    let single = |rows: u64, ndv: u64| Query {
        tables: vec![table(
            "orders",
            rows,
            &[("status", ndv)],
            &[("orders_by_status", "status")],
        )],
        filters: vec![col("orders", "status")],
        joins: Vec::new(),
    };
    // Every division here is exact, so only the choice between index and scan is tested.
    for query in [
        single(100_000, 4),
        single(120_000, 3),
        single(100_000, 5),
        single(8, 2),
    ] {
        ask(&mut p, &query)?;
    }
    let both = |filters: &[(&str, &str)]| Query {
        tables: shop(&[]).tables[..1].to_vec(),
        filters: filters.iter().map(|(t, c)| col(t, c)).collect(),
        joins: Vec::new(),
    };
    ask(&mut p, &both(&[("orders", "customer_id")]))?;
    ask(
        &mut p,
        &both(&[("orders", "status"), ("orders", "customer_id")]),
    )?;

    g.scenario("estimates are rounded up, and never reach 0");
    let tiny = Query {
        tables: vec![
            table("a", 7, &[("x", 3), ("y", 100), ("k", 2)], &[]),
            table("b", 10, &[("k", 4), ("z", 3)], &[("b_k", "k")]),
        ],
        filters: vec![col("a", "x"), col("a", "y"), col("b", "z")],
        joins: vec![(col("a", "k"), col("b", "k"))],
    };
    ask(&mut p, &tiny)?;
    for rows in [10, 11, 29] {
        ask(&mut p, &single(rows, 3))?;
    }

    g.scenario("the join order starts from the table its filters make smallest, not the order of the query");
    // Orders first or customers first cost the same here: the tie goes to the order that sorts first.
    ask(&mut p, &shop(&[("orders", "status")]))?;
    ask(&mut p, &shop(&[("orders", "customer_id")]))?;
    ask(&mut p, &shop(&[("customers", "country")]))?;
    let chain = Query {
        tables: vec![
            table(
                "events",
                2_000_000,
                &[("session_id", 400_000), ("kind", 20)],
                &[("events_by_session", "session_id")],
            ),
            table(
                "sessions",
                400_000,
                &[("id", 400_000), ("user_id", 50_000)],
                &[("sessions_pk", "id"), ("sessions_by_user", "user_id")],
            ),
            table(
                "users",
                50_000,
                &[("id", 50_000), ("email", 50_000)],
                &[("users_pk", "id"), ("users_by_email", "email")],
            ),
        ],
        filters: vec![col("users", "email")],
        joins: vec![
            (col("events", "session_id"), col("sessions", "id")),
            (col("sessions", "user_id"), col("users", "id")),
        ],
    };
    ask(&mut p, &chain)?;

    g.scenario(&format!(
        "{RANDOM_QUERIES} seeded random queries against the exact cost model"
    ));
    for _ in 0..RANDOM_QUERIES {
        let query = model::random(&mut rng);
        ask(&mut p, &query)?;
    }
    Ok(())
}

fn ask(p: &mut Stdio, query: &Query) -> Result<(), Failure> {
    let expected = query.best().to_json();
    let got = p.request(&query.to_json())?;
    if got == expected {
        return Ok(());
    }
    let mut failure = Failure::new(
        "the plan is the cheapest under the cost model of the contract (ties as it says)",
    )
    .expected(&expected)
    .got(&got);
    for (order, plan) in query.candidates() {
        let steps: Vec<String> = plan
            .steps
            .iter()
            .map(|(t, m, i)| match i {
                Some(i) => format!("{t} by {m} ({i})"),
                None => format!("{t} by {m}"),
            })
            .collect();
        failure = failure.detail(format!(
            "order {order:?}: best steps {} → rows {}, cost {}",
            steps.join(", "),
            plan.rows,
            plan.cost
        ));
    }
    Err(failure)
}

fn check_plan(db: &Connection, query: &Expected) -> Result<(), Failure> {
    let lines = explain(db, query.sql)?;
    let story = |rule: String| {
        Failure::new(rule)
            .got(lines.join(" | "))
            .detail(format!("the query: {}", query.sql))
            .detail(format!("why: {}", query.why))
    };
    if let Some(line) = lines.iter().find(|l| l.contains("AUTOMATIC")) {
        return Err(story(format!(
            "no AUTOMATIC index: SQLite builds one for this query alone and throws it away (`{line}`), because \
             no index of yours fits"
        )));
    }
    if let Some(line) = lines.iter().find(|l| l.starts_with("SCAN")) {
        return Err(story(format!(
            "every table is read by a SEARCH through an index, not a SCAN (`{line}`)"
        )));
    }
    if lines.iter().any(|l| l.contains("TEMP B-TREE")) {
        return Err(story(
            "no temporary B-tree: the index delivers the rows in ORDER BY order, so nothing is sorted"
                .to_string(),
        ));
    }
    for pattern in query.searches {
        let (head, tail) = pattern.split_once('%').unwrap_or((pattern, ""));
        if !lines
            .iter()
            .any(|l| l.starts_with(head) && l.ends_with(tail) && l.contains(" INDEX "))
        {
            return Err(story(format!(
                "the plan has a line like `{}`",
                pattern.replace('%', "[COVERING] INDEX <your index>")
            )));
        }
    }
    if query.covering && !lines.iter().any(|l| l.contains("COVERING INDEX")) {
        return Err(story(
            "the count is answered from a COVERING INDEX alone".to_string(),
        ));
    }
    Ok(())
}

fn explain(db: &Connection, sql: &str) -> Result<Vec<String>, Failure> {
    let read = || -> rusqlite::Result<Vec<String>> {
        let mut statement = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let unbound = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
        statement
            .query_map(rusqlite::params_from_iter(unbound), |row| {
                row.get::<_, String>(3)
            })?
            .collect()
    };
    read().map_err(|e| Failure::new(format!("the grader could not run EXPLAIN QUERY PLAN: {e}")))
}

/// The schema of the exercise, filled with seeded rows: 2 000 customers, 20 000 orders, 50 000 items.
fn fill(file: &Path, rng: &mut Rng) -> Result<(), Failure> {
    let setup =
        |e: rusqlite::Error| Failure::new(format!("the grader could not build its database: {e}"));
    let mut conn = Connection::open(file).map_err(setup)?;
    conn.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, country TEXT NOT NULL);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
                              status TEXT NOT NULL, placed_at INTEGER NOT NULL, total_cents INTEGER NOT NULL);
         CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders (id),
                                   product_id INTEGER NOT NULL, quantity INTEGER NOT NULL);",
    )
    .map_err(setup)?;
    let tx = conn.transaction().map_err(setup)?;
    {
        let mut customer = tx
            .prepare("INSERT INTO customers (id, email, country) VALUES (?1, ?2, ?3)")
            .map_err(setup)?;
        for id in 1..=2_000 {
            let email = format!(
                "{}{id}@Example.{}",
                rng.word(5),
                rng.pick(&["com", "ORG", "net"])
            );
            let country = format!("C{}", rng.below(30));
            customer
                .execute(params![id, email, country])
                .map_err(setup)?;
        }
        let mut order = tx
            .prepare(
                "INSERT INTO orders (id, customer_id, status, placed_at, total_cents) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(setup)?;
        for id in 1..=20_000 {
            let status = *rng.pick(&["paid", "shipped", "cancelled", "refunded"]);
            order
                .execute(params![
                    id,
                    rng.range(1, 2_000) as i64,
                    status,
                    1_700_000_000 + rng.below(30_000_000) as i64,
                    rng.range(100, 100_000) as i64
                ])
                .map_err(setup)?;
        }
        let mut item = tx
            .prepare("INSERT INTO order_items (order_id, product_id, quantity) VALUES (?1, ?2, ?3)")
            .map_err(setup)?;
        for _ in 0..50_000 {
            item.execute(params![
                rng.range(1, 20_000) as i64,
                rng.range(1, 500) as i64,
                rng.range(1, 5) as i64
            ])
            .map_err(setup)?;
        }
    }
    tx.commit().map_err(setup)
}
