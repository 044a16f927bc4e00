//! mutant: ranks by revenue and keeps the first N rows with LIMIT, for all regions together
//! expect: not each region

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
       FROM (SELECT * FROM ranked ORDER BY revenue_cents DESC LIMIT ?1)
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
