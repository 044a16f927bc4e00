//! # Schema design and constraints: let the database say no
//!
//! A shop started life as a spreadsheet with one row per order line:
//!
//! | order | customer email | customer name | sku | product | unit price | quantity |
//! |---|---|---|---|---|---|---|
//! | 7 | ada@example.com | Ada | KB-01 | Keyboard | 4900 | 1 |
//! | 7 | ada@example.com | Ada | MS-02 | Mouse | 1900 | 2 |
//! | 8 | ADA@example.com | Ada L. | KB-01 | Keybaord | 4900 | 1 |
//!
//! Every fact about Ada is repeated on every line she ever bought, so an update must find all the copies
//! (the *update anomaly*: miss one and the shop has two emails for her); a product cannot exist until
//! somebody orders it (the *insertion anomaly*); and deleting her last order forgets she exists (the
//! *deletion anomaly*). **Normalizing** removes these: every fact is stored once, in the table whose key it
//! depends on, "the key, the whole key, and nothing but the key" (third normal form, 3NF):
//!
//! - `customers(id, email, name)`: an email and a name depend on the customer;
//! - `products(id, sku, name, price_cents)`: a name and a price depend on the product;
//! - `orders(id, customer_id)`: an order belongs to one customer;
//! - `order_items(order_id, product_id, quantity, unit_price_cents)`: a quantity depends on the *whole* key
//!   (which order, which product). `unit_price_cents` looks like a copy of `products.price_cents`, but it is
//!   a different fact, the price *at the time of the order*: when the price changes, old orders must not.
//!
//! The second half of the lesson is **constraints**. Application code checks input, but it is not the last
//! line of defence: a second service, a migration script, a hurried `sqlite3` session in production, or two
//! requests racing between "check the email is free" and "insert it" all go around it. A constraint in the
//! schema is checked by the database on every write, whoever writes, atomically. The four kinds:
//!
//! - `PRIMARY KEY`: the identity of a row;
//! - `UNIQUE`: no two rows share this value (an email, a SKU);
//! - `CHECK (expr)` and `NOT NULL`: a rule on the values of one row (a price is positive);
//! - `FOREIGN KEY ... REFERENCES`: a row may only point at a row that exists, and the `ON DELETE` action says
//!   what happens to the pointers when the target goes: `NO ACTION` (the default) or `RESTRICT` (refuse),
//!   `CASCADE` (delete them too), `SET NULL`.
//!
//! An API then turns a refusal into the right status: a value that can never be valid is the client's
//! mistake in the content, `422 Unprocessable Content`; a value that is fine but collides with the current
//! state (an email already taken, a customer who still has orders) is `409 Conflict`, and may succeed later.
//!
//! ## The contract
//!
//! The program is run as `db1_schema_constraints --db PATH` and serves JSON over HTTP (the provided `main`).
//! It creates the schema in the file `PATH` when it starts, and must start again on a file it created before
//! (the data stays). The grader talks to the API, and also opens the file itself, as a second client: the
//! rules must hold there too. The four tables and their columns are the ones above (the provided queries use
//! them); the rules are:
//!
//! | column | rule |
//! |---|---|
//! | `customers.email` | required; unique **ignoring case** (`Ada@Example.com` is `ada@example.com`); has an `@` with at least one character on each side |
//! | `customers.name`, `products.name` | required, not blank (not empty, not only spaces) |
//! | `products.sku` | required, unique (case matters: SKUs are codes) |
//! | `products.price_cents`, `order_items.unit_price_cents` | required, a whole number, above 0 |
//! | `order_items.quantity` | required, a whole number, above 0 |
//! | `orders.customer_id` | required, an existing customer; a customer with orders cannot be deleted |
//! | `order_items.product_id` | required, an existing product; a product on an order cannot be deleted |
//! | `order_items.order_id` | an existing order; deleting an order deletes its items |
//! | `order_items` | one line per product per order: `PRIMARY KEY (order_id, product_id)` |
//!
//! "A whole number" matters in SQLite: a column declared `INTEGER` happily stores `'abc'` or `9.5` unless
//! the table is declared `STRICT` (SQLite 3.37+), which refuses a value that does not fit the column type.
//!
//! The status for a refused write: `UNIQUE` or `PRIMARY KEY` → `409`; `CHECK`, `NOT NULL`, a wrong type, or
//! a foreign key pointing at nothing on an insert or update → `422`; a delete refused by a foreign key →
//! `409`. Anything else is a `500`. rusqlite gives the kind as the error's *extended code*
//! (`error.sqlite_error()`, compared with `rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE`, `_PRIMARYKEY`, `_CHECK`,
//! `_NOTNULL`, `_DATATYPE` (a STRICT type mismatch), `_FOREIGNKEY`); mind that a foreign key declared
//! `ON DELETE RESTRICT` refuses a delete with `_TRIGGER` (the default `NO ACTION` says `_FOREIGNKEY`).
//!
//! An order is created **all or nothing**: if one of its lines is refused, no order and no line is left
//! behind. Each line is charged at the product's current price.
//!
//! ## Pitfalls
//!
//! - SQLite, as shipped, does **not** enforce foreign keys unless each connection runs
//!   `PRAGMA foreign_keys = ON` (for backwards compatibility): in the `sqlite3` shell, Python's `sqlite3`,
//!   most distributions' builds, a schema full of `REFERENCES` does nothing without it. The SQLite that
//!   rusqlite bundles is compiled with foreign keys on by default, which is exactly why you should still
//!   say it: the same code on another build silently stops checking.
//! - `UNIQUE` on text compares bytes: `ada@x.io` and `ADA@x.io` are different unless the column says
//!   `COLLATE NOCASE`.
//! - `CREATE TABLE` fails if the table exists: a program that creates its schema at start must use
//!   `CREATE TABLE IF NOT EXISTS` (or real migrations, see `db10`), or it never starts twice.
//! - `ON DELETE CASCADE` on the wrong key: deleting a customer must not silently erase their order history.
//! - Checking in Rust instead of in the schema: the grader's second client goes around your Rust code.
//!
//! Roadmap: relational databases & SQL; schema design & normalization; constraints & data integrity.

use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, ffi, params};
use serde_json::{Value, json};

/// The schema, run when the program starts (on a new file, and on a file it created before).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (email LIKE '%_@_%'),
    name  TEXT NOT NULL CHECK (trim(name) <> '')
) STRICT;

CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL CHECK (trim(name) <> ''),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0)
) STRICT;

CREATE TABLE IF NOT EXISTS orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id)
) STRICT;

CREATE TABLE IF NOT EXISTS order_items (
    order_id         INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       INTEGER NOT NULL REFERENCES products (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
    PRIMARY KEY (order_id, product_id)
) STRICT;
";

/// Opens (or creates) the database file at `path`, ready for the API: rules enforced, schema in place.
pub fn open(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// What the refused request was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An `INSERT` (creating a customer, a product, an order).
    Insert,
    /// An `UPDATE` (replacing a customer or a product).
    Update,
    /// A `DELETE`.
    Delete,
}

/// The HTTP status for a write the database refused (see the table in the header of this file).
pub fn status_for(error: &rusqlite::Error, action: Action) -> u16 {
    let Some(sqlite) = error.sqlite_error() else {
        return 500;
    };
    if sqlite.code != ErrorCode::ConstraintViolation {
        return 500;
    }
    match sqlite.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => 409,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY | ffi::SQLITE_CONSTRAINT_TRIGGER
            if action == Action::Delete =>
        {
            409
        }
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY
        | ffi::SQLITE_CONSTRAINT_CHECK
        | ffi::SQLITE_CONSTRAINT_NOTNULL
        | ffi::SQLITE_CONSTRAINT_DATATYPE => 422,
        _ => 500,
    }
}

/// One line of a new order, as the client sent it (values not checked yet: the schema does that).
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// `product_id` from the request body.
    pub product_id: SqlValue,
    /// `quantity` from the request body.
    pub quantity: SqlValue,
}

/// Creates an order of `customer_id` with its lines, each at the product's current price, all or nothing.
/// Returns the new order's id.
pub fn create_order(
    conn: &mut Connection,
    customer_id: &SqlValue,
    items: &[NewItem],
) -> rusqlite::Result<i64> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO orders (customer_id) VALUES (?1)",
        params![customer_id],
    )?;
    let order_id = tx.last_insert_rowid();
    for item in items {
        tx.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) \
             VALUES (?1, ?2, ?3, (SELECT price_cents FROM products WHERE id = ?2))",
            params![order_id, item.product_id, item.quantity],
        )?;
    }
    tx.commit()?;
    Ok(order_id)
}

/// A JSON field as an SQL value, unchecked: `null` or absent → NULL, numbers, strings, anything else as its
/// JSON text (provided: you do not need to change this).
fn sql_value(body: &Value, field: &str) -> SqlValue {
    match body.get(field) {
        None | Some(Value::Null) => SqlValue::Null,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => SqlValue::Text(s.clone()),
        Some(other) => SqlValue::Text(other.to_string()),
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

fn refused(error: &rusqlite::Error, action: Action) -> Response {
    json_response(
        status_for(error, action),
        json!({ "error": error.to_string() }),
    )
}

fn not_found() -> Response {
    json_response(404, json!({ "error": "not found" }))
}

/// A write's answer: `ok` when it touched a row, 404 when it touched none, the mapped status when refused.
fn written(result: rusqlite::Result<usize>, action: Action, ok: Response) -> Response {
    match result {
        Ok(0) => not_found(),
        Ok(_) => ok,
        Err(error) => refused(&error, action),
    }
}

fn read_order(conn: &Connection, id: i64) -> rusqlite::Result<Option<Value>> {
    let customer = conn.query_row(
        "SELECT c.id, c.email, c.name FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE o.id = ?1",
        [id],
        |row| {
            Ok(
                json!({ "id": row.get::<_, i64>(0)?, "email": row.get::<_, String>(1)?,
                       "name": row.get::<_, String>(2)? }),
            )
        },
    );
    let customer = match customer {
        Ok(customer) => customer,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut statement = conn.prepare(
        "SELECT i.product_id, p.sku, p.name, i.quantity, i.unit_price_cents \
         FROM order_items i JOIN products p ON p.id = i.product_id \
         WHERE i.order_id = ?1 ORDER BY i.product_id",
    )?;
    let mut total: i64 = 0;
    let items = statement
        .query_map([id], |row| {
            let (quantity, price): (i64, i64) = (row.get(3)?, row.get(4)?);
            Ok((
                quantity * price,
                json!({ "product_id": row.get::<_, i64>(0)?, "sku": row.get::<_, String>(1)?,
                        "name": row.get::<_, String>(2)?, "quantity": quantity,
                        "unit_price_cents": price }),
            ))
        })?
        .map(|line| {
            line.map(|(amount, item)| {
                total += amount;
                item
            })
        })
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    Ok(Some(
        json!({ "id": id, "customer": customer, "items": items, "total_cents": total }),
    ))
}

/// Routes one request to its query (provided: you do not need to change this).
fn handle(db: &Mutex<Connection>, request: &Request) -> Response {
    let mut conn = db.lock().unwrap_or_else(|e| e.into_inner());
    let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
    let id = segments.get(1).and_then(|s| s.parse::<i64>().ok());
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return json_response(400, json!({ "error": format!("bad JSON: {e}") })),
        }
    };
    let created = |id: i64| json_response(201, json!({ "id": id }));
    match (request.method.as_str(), segments.as_slice(), id) {
        ("POST", ["customers"], _) => match conn.execute(
            "INSERT INTO customers (email, name) VALUES (?1, ?2)",
            params![sql_value(&body, "email"), sql_value(&body, "name")],
        ) {
            Ok(_) => created(conn.last_insert_rowid()),
            Err(error) => refused(&error, Action::Insert),
        },
        ("PUT", ["customers", _], Some(id)) => written(
            conn.execute(
                "UPDATE customers SET email = ?2, name = ?3 WHERE id = ?1",
                params![id, sql_value(&body, "email"), sql_value(&body, "name")],
            ),
            Action::Update,
            json_response(200, json!({ "id": id })),
        ),
        ("DELETE", ["customers", _], Some(id)) => written(
            conn.execute("DELETE FROM customers WHERE id = ?1", [id]),
            Action::Delete,
            Response::new(204),
        ),
        ("POST", ["products"], _) => match conn.execute(
            "INSERT INTO products (sku, name, price_cents) VALUES (?1, ?2, ?3)",
            params![
                sql_value(&body, "sku"),
                sql_value(&body, "name"),
                sql_value(&body, "price_cents")
            ],
        ) {
            Ok(_) => created(conn.last_insert_rowid()),
            Err(error) => refused(&error, Action::Insert),
        },
        ("PUT", ["products", _], Some(id)) => written(
            conn.execute(
                "UPDATE products SET sku = ?2, name = ?3, price_cents = ?4 WHERE id = ?1",
                params![
                    id,
                    sql_value(&body, "sku"),
                    sql_value(&body, "name"),
                    sql_value(&body, "price_cents")
                ],
            ),
            Action::Update,
            json_response(200, json!({ "id": id })),
        ),
        ("DELETE", ["products", _], Some(id)) => written(
            conn.execute("DELETE FROM products WHERE id = ?1", [id]),
            Action::Delete,
            Response::new(204),
        ),
        ("POST", ["orders"], _) => {
            let Some(lines) = body.get("items").and_then(Value::as_array) else {
                return json_response(422, json!({ "error": "items must be a list" }));
            };
            let items: Vec<NewItem> = lines
                .iter()
                .map(|line| NewItem {
                    product_id: sql_value(line, "product_id"),
                    quantity: sql_value(line, "quantity"),
                })
                .collect();
            match create_order(&mut conn, &sql_value(&body, "customer_id"), &items) {
                Ok(id) => created(id),
                Err(error) => refused(&error, Action::Insert),
            }
        }
        ("GET", ["orders", _], Some(id)) => match read_order(&conn, id) {
            Ok(Some(order)) => json_response(200, order),
            Ok(None) => not_found(),
            Err(error) => json_response(500, json!({ "error": error.to_string() })),
        },
        ("DELETE", ["orders", _], Some(id)) => written(
            conn.execute("DELETE FROM orders WHERE id = ?1", [id]),
            Action::Delete,
            Response::new(204),
        ),
        _ => not_found(),
    }
}

/// Opens the database named by `--db PATH` and serves the API (provided: you do not need to change this).
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--db" => path.clone(),
        _ => {
            eprintln!("usage: db1_schema_constraints --db PATH");
            return ExitCode::from(2);
        }
    };
    let conn = match open(&path) {
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

    fn db() -> Connection {
        open(":memory:").expect("the schema runs on an empty database")
    }

    fn customer(conn: &Connection, email: &str) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO customers (email, name) VALUES (?1, 'Ada')",
            [email],
        )
    }

    fn product(conn: &Connection, sku: &str, price: SqlValue) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO products (sku, name, price_cents) VALUES (?1, 'Keyboard', ?2)",
            params![sku, price],
        )
    }

    fn item(product_id: i64, quantity: i64) -> NewItem {
        NewItem {
            product_id: SqlValue::Integer(product_id),
            quantity: SqlValue::Integer(quantity),
        }
    }

    // Running the schema twice (a restart) works and keeps the rows.
    #[test]
    fn the_schema_can_run_again() {
        let conn = db();
        customer(&conn, "ada@example.com").unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let count: i64 = conn
            .query_row("SELECT count(*) FROM customers", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }

    // The same email in another case is a duplicate: 409.
    #[test]
    fn emails_are_unique_ignoring_case() {
        let conn = db();
        customer(&conn, "ada@example.com").unwrap();
        let error = customer(&conn, "ADA@Example.COM").unwrap_err();
        assert_eq!(status_for(&error, Action::Insert), 409);
    }

    // Values that can never be valid are 422: a price of 0, a price that is not a whole number, no '@'.
    #[test]
    fn invalid_values_are_422() {
        let conn = db();
        for price in [SqlValue::Integer(0), SqlValue::Real(9.5), SqlValue::Null] {
            let error = product(&conn, "KB-01", price).unwrap_err();
            assert_eq!(status_for(&error, Action::Insert), 422);
        }
        let error = customer(&conn, "no-at-sign").unwrap_err();
        assert_eq!(status_for(&error, Action::Insert), 422);
    }

    // An order for a customer that does not exist is refused (foreign keys are on) with 422.
    #[test]
    fn an_order_needs_an_existing_customer() {
        let mut conn = db();
        let error = create_order(&mut conn, &SqlValue::Integer(42), &[]).unwrap_err();
        assert_eq!(status_for(&error, Action::Insert), 422);
    }

    // A bad line refuses the whole order: no order row is left behind.
    #[test]
    fn an_order_is_all_or_nothing() {
        let mut conn = db();
        customer(&conn, "ada@example.com").unwrap();
        product(&conn, "KB-01", SqlValue::Integer(4900)).unwrap();
        let error =
            create_order(&mut conn, &SqlValue::Integer(1), &[item(1, 1), item(99, 1)]).unwrap_err();
        assert_eq!(status_for(&error, Action::Insert), 422);
        let orders: i64 = conn
            .query_row("SELECT count(*) FROM orders", [], |row| row.get(0))
            .unwrap();
        assert_eq!(orders, 0);
    }

    // An order line keeps the price of the day; a customer with orders cannot be deleted (409).
    #[test]
    fn orders_keep_their_price_and_their_customer() {
        let mut conn = db();
        customer(&conn, "ada@example.com").unwrap();
        product(&conn, "KB-01", SqlValue::Integer(4900)).unwrap();
        let order = create_order(&mut conn, &SqlValue::Integer(1), &[item(1, 2)]).unwrap();
        conn.execute("UPDATE products SET price_cents = 5900", [])
            .unwrap();
        let price: i64 = conn
            .query_row(
                "SELECT unit_price_cents FROM order_items WHERE order_id = ?1",
                [order],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(price, 4900);
        let error = conn
            .execute("DELETE FROM customers WHERE id = 1", [])
            .unwrap_err();
        assert_eq!(status_for(&error, Action::Delete), 409);
    }
}
