//! # Reports in SQL: joins, aggregates, window functions, recursive queries
//!
//! Every backend grows report endpoints: revenue per customer, sales per month, best sellers, who reports to
//! whom. Written in application code they become loops that pull every row over the wire and get the
//! edge cases wrong one at a time; written in SQL they are one query the database plans, runs next to the
//! data, and answers in one round trip. SQL is declarative: you say *which* rows you want, and the result
//! is only as right as the question. Most wrong reports are a right-looking query asking a slightly wrong
//! question, which is what this exercise is about.
//!
//! The tools:
//!
//! - `JOIN ... ON` pairs rows of two tables. `INNER JOIN` keeps only the pairs that match; `LEFT JOIN` keeps
//!   every row of the left table, with `NULL`s where nothing matched. A condition on the right table in
//!   `WHERE` throws those `NULL` rows away again (it turns the `LEFT JOIN` back into an inner one); in `ON`
//!   it only decides what matches.
//! - `GROUP BY` folds rows into groups and aggregates them: `COUNT`, `SUM`, `MIN`, `MAX`, `AVG`. `COUNT(*)`
//!   counts rows (a customer with no orders still has one row after a `LEFT JOIN`); `COUNT(x)` counts
//!   non-`NULL` values; `COUNT(DISTINCT x)` counts different values. `SUM` of no rows (or of `NULL`s) is
//!   `NULL`, not 0: `COALESCE(SUM(x), 0)`. `HAVING` filters groups, `WHERE` filters rows before grouping.
//! - Joining a one-to-many table **multiplies rows**: an order with 3 lines appears 3 times, so counting
//!   orders after joining their lines counts lines (the *fan-out* bug).
//! - **Window functions** compute over a set of rows *without* folding them: `SUM(x) OVER (ORDER BY month)`
//!   is a running total, `ROW_NUMBER() OVER (PARTITION BY region ORDER BY revenue DESC)` numbers the rows of
//!   each region. They run after `GROUP BY`, so `SUM(SUM(x)) OVER (...)` is a running total of group sums.
//!   `RANK()` gives tied rows the same number (1, 1, 3); `ROW_NUMBER()` never does: with a tie-breaker in the
//!   `ORDER BY`, it gives a total order.
//! - A **recursive CTE** walks a tree stored as parent pointers: `WITH RECURSIVE sub(id, level) AS (SELECT
//!   ... the first step UNION ALL SELECT ... FROM employees JOIN sub ON ...) SELECT ... FROM sub`.
//!
//! ## The contract
//!
//! The program is run as `db2_joins_aggregates --db PATH`; the grader owns the database (a seeded dataset
//! in the schema [`SCHEMA`]), and the program opens it read-only. Each report is one SQL query you write;
//! the provided `main` runs it and answers a JSON array with one object per row, keyed by the column names
//! of your query (so the aliases below are part of the contract). The grader compares every answer with its
//! own reference queries, row for row, in order. Only orders with `status = 'paid'` count as sales; the
//! revenue of an order is the sum of `quantity * unit_price_cents` over its lines (an order may have none).
//!
//! | endpoint | one row per | columns, in this order | sorted by |
//! |---|---|---|---|
//! | `GET /reports/customer-revenue` | customer, **every** customer | `customer_id`, `name`, `region`, `orders` (paid orders), `revenue_cents` (0 when none) | `revenue_cents` desc, `customer_id` |
//! | `GET /reports/monthly-sales?year=YYYY` | month of that year with at least one paid order | `month` (`YYYY-MM`), `orders`, `revenue_cents`, `running_revenue_cents` (this month and the earlier ones of the year) | `month` |
//! | `GET /reports/top-products?n=N` | region × product, the N best of each region | `region`, `product`, `revenue_cents`, `rank` (1 = best; a tie goes to the product whose name sorts first) | `region`, `rank` |
//! | `GET /reports/reports-to/ID` | employee under employee `ID`, directly or not | `employee_id`, `name`, `level` (1 = a direct report) | `level`, `name`, `employee_id` |
//!
//! In `top-products`, a product's revenue in a region counts the lines of paid orders of customers of that
//! region; a product with no paid line in a region is not ranked there.
//!
//! ## Pitfalls
//!
//! - An inner join (or a `WHERE o.status = 'paid'` after a `LEFT JOIN`) loses the customers with no paid
//!   order; the report must list every customer.
//! - Counting orders after joining their lines; `SUM` of nothing is `NULL`.
//! - `LIMIT N` limits the whole result, not each region.
//! - `RANK()` numbers ties alike, so "the top 1" can be two rows.
//! - `SUM(...) OVER ()` (no `ORDER BY`) is the grand total on every row, not a running total.
//! - Joining the employees table to itself once finds direct reports only; the tree can be deeper.
//!
//! Roadmap: relational databases & SQL; querying & joins; aggregates, window functions, recursive CTEs.

use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};
use serde_json::{Map, Value, json};

/// The schema of the grader's database (it creates the file; the program only reads it).
pub const SCHEMA: &str = "
CREATE TABLE customers (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    region TEXT NOT NULL
);
CREATE TABLE employees (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    manager_id INTEGER REFERENCES employees (id)
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    placed_on   TEXT NOT NULL,    -- 'YYYY-MM-DD'
    status      TEXT NOT NULL CHECK (status IN ('paid', 'cancelled', 'refunded'))
);
CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    product          TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL
);
";

/// Every customer with their paid orders and revenue. No parameters.
pub fn customer_revenue_sql() -> &'static str {
    "WITH paid AS (
         SELECT o.id, o.customer_id,
                (SELECT COALESCE(SUM(l.quantity * l.unit_price_cents), 0)
                   FROM order_lines l WHERE l.order_id = o.id) AS revenue
           FROM orders o
          WHERE o.status = 'paid'
     )
     SELECT c.id AS customer_id, c.name, c.region,
            COUNT(p.id) AS orders,
            COALESCE(SUM(p.revenue), 0) AS revenue_cents
       FROM customers c
       LEFT JOIN paid p ON p.customer_id = c.id
      GROUP BY c.id
      ORDER BY revenue_cents DESC, customer_id"
}

/// Paid orders and revenue per month of one year, with a running total. `?1` is the year, as text.
pub fn monthly_sales_sql() -> &'static str {
    "WITH paid AS (
         SELECT substr(o.placed_on, 1, 7) AS month,
                (SELECT COALESCE(SUM(l.quantity * l.unit_price_cents), 0)
                   FROM order_lines l WHERE l.order_id = o.id) AS revenue
           FROM orders o
          WHERE o.status = 'paid' AND substr(o.placed_on, 1, 4) = ?1
     )
     SELECT month, COUNT(*) AS orders, SUM(revenue) AS revenue_cents,
            SUM(SUM(revenue)) OVER (ORDER BY month) AS running_revenue_cents
       FROM paid
      GROUP BY month
      ORDER BY month"
}

/// The `?1` best products of each region by paid revenue, ties to the name that sorts first.
pub fn top_products_sql() -> &'static str {
    "WITH sales AS (
         SELECT c.region, l.product, SUM(l.quantity * l.unit_price_cents) AS revenue_cents
           FROM order_lines l
           JOIN orders o ON o.id = l.order_id AND o.status = 'paid'
           JOIN customers c ON c.id = o.customer_id
          GROUP BY c.region, l.product
     ),
     ranked AS (
         SELECT region, product, revenue_cents,
                ROW_NUMBER() OVER (PARTITION BY region ORDER BY revenue_cents DESC, product) AS rank
           FROM sales
     )
     SELECT region, product, revenue_cents, rank
       FROM ranked
      WHERE rank <= ?1
      ORDER BY region, rank"
}

/// Everyone under employee `?1`, at any depth.
pub fn reports_to_sql() -> &'static str {
    "WITH RECURSIVE under (employee_id, level) AS (
         SELECT id, 1 FROM employees WHERE manager_id = ?1
         UNION ALL
         SELECT e.id, under.level + 1 FROM employees e JOIN under ON e.manager_id = under.employee_id
     )
     SELECT under.employee_id, e.name, under.level
       FROM under JOIN employees e ON e.id = under.employee_id
      ORDER BY under.level, e.name, under.employee_id"
}

/// Runs `sql` and turns every row into a JSON object keyed by column name (provided: you do not need to
/// change this).
pub fn run_report(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<Value> {
    let mut statement = conn.prepare(sql)?;
    let names: Vec<String> = statement
        .column_names()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => json!(n),
                ValueRef::Real(x) => json!(x),
                ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                ValueRef::Blob(b) => json!(format!("<{} bytes>", b.len())),
            };
            object.insert(name.clone(), value);
        }
        out.push(Value::Object(object));
    }
    Ok(Value::Array(out))
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// The value of `name` in the query string.
fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Routes one request to its report (provided: you do not need to change this).
fn handle(db: &Mutex<Connection>, request: &Request) -> Response {
    let conn = db.lock().unwrap_or_else(|e| e.into_inner());
    let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
    let bad = |why: &str| json_response(400, &json!({ "error": why }));
    let result = match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["reports", "customer-revenue"]) => run_report(&conn, customer_revenue_sql(), &[]),
        ("GET", ["reports", "monthly-sales"]) => match query_param(request, "year") {
            Some(year) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
                run_report(&conn, monthly_sales_sql(), &[&year])
            }
            _ => return bad("year=YYYY is required"),
        },
        ("GET", ["reports", "top-products"]) => {
            match query_param(request, "n").and_then(|n| n.parse::<i64>().ok()) {
                Some(n) if n >= 1 => run_report(&conn, top_products_sql(), &[&n]),
                _ => return bad("n=N (at least 1) is required"),
            }
        }
        ("GET", ["reports", "reports-to", id]) => match id.parse::<i64>() {
            Ok(id) => run_report(&conn, reports_to_sql(), &[&id]),
            Err(_) => return bad("the employee id is a number"),
        },
        _ => return json_response(404, &json!({ "error": "not found" })),
    };
    match result {
        Ok(rows) => json_response(200, &rows),
        Err(error) => json_response(500, &json!({ "error": error.to_string() })),
    }
}

/// Opens the database named by `--db PATH` read-only and serves the reports (provided: you do not need to
/// change this).
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--db" => path.clone(),
        _ => {
            eprintln!("usage: db2_joins_aggregates --db PATH");
            return ExitCode::from(2);
        }
    };
    let conn = match Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(conn) => conn,
        Err(error) => {
            eprintln!("error: could not open the database `{path}`: {error}");
            return ExitCode::FAILURE;
        }
    };
    let db = Mutex::new(conn);
    match serve(move |request| handle(&db, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three customers (Cy has no order, Bo only a cancelled one), a paid order without lines, a tie.
    fn shop() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO customers VALUES (1, 'Ann', 'north'), (2, 'Bo', 'north'), (3, 'Cy', 'south');
             INSERT INTO orders VALUES (10, 1, '2024-01-05', 'paid'), (11, 1, '2024-03-09', 'paid'),
                                       (12, 2, '2024-01-20', 'cancelled'), (13, 1, '2024-03-30', 'paid');
             INSERT INTO order_lines VALUES (10, 'Mouse', 2, 1500), (10, 'Keyboard', 1, 3000),
                                            (11, 'Dock', 1, 9000), (12, 'Dock', 1, 9000);
             INSERT INTO employees VALUES (1, 'Root', NULL), (2, 'Kim', 1), (3, 'Lee', 2), (4, 'Amy', 2);",
        )
        .unwrap();
        conn
    }

    fn report(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> Value {
        run_report(conn, sql, params).unwrap()
    }

    // Every customer is listed: orders are paid orders (one has no line), revenue 0 when there is none.
    #[test]
    fn customer_revenue_lists_every_customer() {
        let rows = report(&shop(), customer_revenue_sql(), &[]);
        assert_eq!(
            rows,
            json!([
                { "customer_id": 1, "name": "Ann", "region": "north", "orders": 3, "revenue_cents": 15000 },
                { "customer_id": 2, "name": "Bo", "region": "north", "orders": 0, "revenue_cents": 0 },
                { "customer_id": 3, "name": "Cy", "region": "south", "orders": 0, "revenue_cents": 0 },
            ])
        );
    }

    // Months with paid orders, with a running total within the year.
    #[test]
    fn monthly_sales_has_a_running_total() {
        let rows = report(&shop(), monthly_sales_sql(), &[&"2024"]);
        assert_eq!(
            rows,
            json!([
                { "month": "2024-01", "orders": 1, "revenue_cents": 6000, "running_revenue_cents": 6000 },
                { "month": "2024-03", "orders": 2, "revenue_cents": 9000, "running_revenue_cents": 15000 },
            ])
        );
        assert_eq!(report(&shop(), monthly_sales_sql(), &[&"2023"]), json!([]));
    }

    // Mouse and Keyboard tie at 3000 in the north: the name that sorts first wins rank 2.
    #[test]
    fn top_products_are_ranked_per_region_with_ties_broken_by_name() {
        let rows = report(&shop(), top_products_sql(), &[&2]);
        assert_eq!(
            rows,
            json!([
                { "region": "north", "product": "Dock", "revenue_cents": 9000, "rank": 1 },
                { "region": "north", "product": "Keyboard", "revenue_cents": 3000, "rank": 2 },
            ])
        );
    }

    // The whole subtree, by level then name.
    #[test]
    fn reports_to_walks_the_whole_tree() {
        let rows = report(&shop(), reports_to_sql(), &[&1]);
        assert_eq!(
            rows,
            json!([
                { "employee_id": 2, "name": "Kim", "level": 1 },
                { "employee_id": 4, "name": "Amy", "level": 2 },
                { "employee_id": 3, "name": "Lee", "level": 2 },
            ])
        );
        assert_eq!(report(&shop(), reports_to_sql(), &[&3]), json!([]));
    }
}
