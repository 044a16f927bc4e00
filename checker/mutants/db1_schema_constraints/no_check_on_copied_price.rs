//! mutant: leaves order_items.unit_price_cents without its CHECK (the API always copies a valid price, but a second client does not)
//! expect: second client

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
    unit_price_cents INTEGER NOT NULL,
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
