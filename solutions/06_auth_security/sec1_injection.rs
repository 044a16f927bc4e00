//! # Injection: SQL and NoSQL queries that stay queries
//!
//! An **injection** happens when data crosses into code: a search term, a sort column or a JSON field sent by a
//! client ends up *interpreted* by the database instead of *compared* by it. The classic is SQL built with
//! `format!`: a search for `' OR 1=1 --` closes the quote, adds a condition that is always true and comments
//! out the rest, and the query returns every row. `' UNION SELECT id, name, api_key, 0 FROM users --` glues a
//! second query onto the first and sends the secrets back in the product list. Injection has been in the OWASP
//! Top 10 since the list began, and it is still how most database dumps leave a company.
//!
//! The fix is not escaping by hand (every hand-written escaper misses a case: SQLite does not treat `\'` as an
//! escaped quote, so `O\'Reilly`-style escaping still breaks out). The fix is to never build the query text from
//! data:
//!
//! - **Values** go in **bound parameters** (`?1`, `?2` with `rusqlite::params!`): the SQL text is fixed and
//!   compiled first, and the values are handed over separately, so they can never be parsed as SQL.
//! - **Identifiers** (a sort column, `ASC`/`DESC`) cannot be parameters. They come from an **allow-list**: the
//!   client names one of a few choices and the code picks the matching SQL text from a table it owns. Anything
//!   else is refused, never "cleaned".
//! - **Document filters** (MongoDB-style `{"name": ..., "api_key": ...}`) have their own injection: a JSON body
//!   `{"api_key": {"$ne": null}}` turns an equality test into "any key that is not null", and logs the attacker
//!   in. The fix is to type the input: the fields a filter may hold are strings, and an object where a string
//!   belongs is refused.
//!
//! ## The contract (JSON lines on stdin/stdout; the program is started with `--db PATH`)
//!
//! The database has `products(id, name, category, price_cents)` and `users(id, name, api_key, role)`.
//!
//! - `{"op":"search","q":Q,"category":C|null,"sort":S,"dir":D,"limit":N}` → `{"rows":[{"id","name",
//!   "category","price_cents"}…]}`: the products whose `name` contains `Q` as a **literal, case-sensitive**
//!   substring (an empty `Q` matches every name; `%` and `_` are characters like any other), and whose
//!   `category` equals `C` when it is given; ordered by `S` (`"id"`, `"name"` or `"price"`) in direction `D`
//!   (`"asc"` or `"desc"`), ties broken by `id` ascending; at most `N` rows (1 to 100).
//!   Any other `S` or `D` → `{"error":"invalid sort"}`; `N` out of range → `{"error":"invalid limit"}`.
//! - `{"op":"add","name":..,"category":..,"price_cents":..}` → `{"id":ID}`: stores the product exactly as
//!   given (quotes, semicolons and SQL keywords included).
//! - `{"op":"auth","filter":F}` → `{"user":NAME,"role":ROLE}` when `F` is exactly `{"name": string,
//!   "api_key": string}` and a user has both; `{"error":"invalid credentials"}` when none has;
//!   `{"error":"invalid filter"}` when `F` is anything else (an operator object, an array, a number, a
//!   missing or extra field).
//!
//! The grader sends real payloads (always-true conditions, `UNION SELECT`, stacked queries, blind tests in an
//! `ORDER BY`, operator objects), then opens the database file and checks nothing changed that should not
//! have, and that no API key ever appeared in an answer.
//!
//! ## Pitfalls
//!
//! - `LIKE '%' || ?1 || '%'` binds the value, but `%` and `_` inside it are still wildcards (and `LIKE` ignores
//!   ASCII case in SQLite): a search for `%` matches everything. Use `instr(name, ?1) > 0`, or escape the
//!   wildcards and declare `ESCAPE`.
//! - Stripping or doubling quotes "by hand": it fixes the payload you tested, not the next one.
//! - Checking a sort column against a deny-list (`;`, `--`, `DROP`): `(CASE WHEN (SELECT ...) THEN name ELSE
//!   id END)` has none of them and leaks a secret one bit per request through the order of the rows.
//! - `LIMIT` is a value: bind it too.
//!
//! Roadmap: OWASP Top 10, SQL injection, NoSQL injection, input validation and sanitization.

use std::process::ExitCode;

use backlings_harness::stdio::serve_json_lines;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The most rows one search may return.
pub const MAX_LIMIT: u32 = 100;

/// One product row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

/// A search as the client sent it: every field is untrusted.
#[derive(Debug, Clone, Deserialize)]
pub struct Search {
    pub q: String,
    pub category: Option<String>,
    pub sort: String,
    pub dir: String,
    pub limit: u32,
}

/// A product to add, as the client sent it.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProduct {
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("invalid sort")]
    InvalidSort,
    #[error("invalid limit")]
    InvalidLimit,
    #[error("invalid filter")]
    InvalidFilter,
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// The `ORDER BY` clause for a client's `sort` and `dir`, picked from a fixed table: never built from the input.
pub fn order_by(sort: &str, dir: &str) -> Result<&'static str, QueryError> {
    Ok(match (sort, dir) {
        ("id", "asc") => "ORDER BY id ASC",
        ("id", "desc") => "ORDER BY id DESC",
        ("name", "asc") => "ORDER BY name ASC, id ASC",
        ("name", "desc") => "ORDER BY name DESC, id ASC",
        ("price", "asc") => "ORDER BY price_cents ASC, id ASC",
        ("price", "desc") => "ORDER BY price_cents DESC, id ASC",
        _ => return Err(QueryError::InvalidSort),
    })
}

/// The products matching `search` (see the contract in the header of this file).
pub fn search(conn: &Connection, search: &Search) -> Result<Vec<Product>, QueryError> {
    let order = order_by(&search.sort, &search.dir)?;
    if !(1..=MAX_LIMIT).contains(&search.limit) {
        return Err(QueryError::InvalidLimit);
    }
    let sql = format!(
        "SELECT id, name, category, price_cents FROM products \
         WHERE instr(name, ?1) > 0 AND (?2 IS NULL OR category = ?2) {order} LIMIT ?3"
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params![search.q, search.category, search.limit], |row| {
        Ok(Product {
            id: row.get(0)?,
            name: row.get(1)?,
            category: row.get(2)?,
            price_cents: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Stores `product` exactly as given and returns its new id.
pub fn add_product(conn: &Connection, product: &NewProduct) -> Result<i64, QueryError> {
    conn.execute(
        "INSERT INTO products (name, category, price_cents) VALUES (?1, ?2, ?3)",
        params![product.name, product.category, product.price_cents],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The filter the document store may run for a client's `filter`: exactly `name` and `api_key`, both plain
/// strings, rebuilt from scratch so that nothing else the client sent reaches the store.
pub fn safe_filter(filter: &Value) -> Result<Value, QueryError> {
    let fields = filter.as_object().ok_or(QueryError::InvalidFilter)?;
    if fields.len() != 2 {
        return Err(QueryError::InvalidFilter);
    }
    let name = fields.get("name").and_then(Value::as_str);
    let api_key = fields.get("api_key").and_then(Value::as_str);
    match (name, api_key) {
        (Some(name), Some(api_key)) => Ok(json!({ "name": name, "api_key": api_key })),
        _ => Err(QueryError::InvalidFilter),
    }
}

/// A tiny MongoDB-like document store over the `users` table (provided: you do not need to change this).
///
/// Like a real driver, `find_one` understands query operators (`$ne`, `$gt`, `$lt`, `$in`, `$exists`, `$or`):
/// that is exactly why a filter must never be passed to it as the client sent it.
pub struct DocStore {
    docs: Vec<Value>,
}

impl DocStore {
    /// Loads every user as a document `{"name", "api_key", "role"}`, in id order.
    pub fn load(conn: &Connection) -> Result<Self, rusqlite::Error> {
        let mut statement = conn.prepare("SELECT name, api_key, role FROM users ORDER BY id")?;
        let docs = statement
            .query_map([], |row| {
                Ok(json!({
                    "name": row.get::<_, String>(0)?,
                    "api_key": row.get::<_, String>(1)?,
                    "role": row.get::<_, String>(2)?,
                }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DocStore { docs })
    }

    /// The first document matching `filter`, operators included.
    pub fn find_one(&self, filter: &Value) -> Option<&Value> {
        self.docs.iter().find(|doc| matches(doc, filter))
    }
}

fn matches(doc: &Value, filter: &Value) -> bool {
    let Some(filter) = filter.as_object() else {
        return false;
    };
    filter.iter().all(|(key, wanted)| match key.as_str() {
        "$or" => wanted
            .as_array()
            .is_some_and(|any| any.iter().any(|f| matches(doc, f))),
        _ => field_matches(doc.get(key), wanted),
    })
}

fn field_matches(value: Option<&Value>, wanted: &Value) -> bool {
    let operators: Option<&Map<String, Value>> = wanted
        .as_object()
        .filter(|o| o.keys().all(|k| k.starts_with('$')));
    let Some(operators) = operators else {
        return value == Some(wanted);
    };
    let text = value.and_then(Value::as_str);
    operators.iter().all(|(op, arg)| match op.as_str() {
        "$ne" => value != Some(arg),
        "$gt" => matches!((text, arg.as_str()), (Some(t), Some(a)) if t > a),
        "$lt" => matches!((text, arg.as_str()), (Some(t), Some(a)) if t < a),
        "$in" => arg
            .as_array()
            .is_some_and(|list| value.is_some_and(|v| list.contains(v))),
        "$exists" => arg.as_bool() == Some(value.is_some()),
        _ => false,
    })
}

/// One request line (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Search(Search),
    Add(NewProduct),
    Auth { filter: Value },
}

/// Answers one request (provided: you do not need to change this).
fn handle(conn: &Connection, store: &DocStore, request: Request) -> Value {
    let answer = match request {
        Request::Search(s) => search(conn, &s).map(|rows| json!({ "rows": rows })),
        Request::Add(p) => add_product(conn, &p).map(|id| json!({ "id": id })),
        Request::Auth { filter } => safe_filter(&filter).map(|safe| match store.find_one(&safe) {
            Some(user) => json!({ "user": user["name"], "role": user["role"] }),
            None => json!({ "error": "invalid credentials" }),
        }),
    };
    answer.unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// Creates the two tables if they are missing (provided: you do not need to change this).
pub fn create_schema(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS products (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price_cents INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS users (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, api_key TEXT NOT NULL, role TEXT NOT NULL);",
    )
}

/// Opens the database named by `--db PATH` and serves JSON lines (provided: you do not need to change this).
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args
        .iter()
        .position(|a| a == "--db")
        .and_then(|i| args.get(i + 1))
    else {
        eprintln!("usage: sec1_injection --db PATH");
        return ExitCode::from(2);
    };
    let opened = Connection::open(path).and_then(|conn| {
        create_schema(&conn)?;
        let store = DocStore::load(&conn)?;
        Ok((conn, store))
    });
    let (conn, store) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("error: could not open {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    serve_json_lines(|request: Request| handle(&conn, &store, request));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        create_schema(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO products (name, category, price_cents) VALUES
                 ('Blue mug', 'home', 900), ('50% off sticker', 'toys', 150),
                 ('snake_case mug', 'home', 900), ('Rock ''n'' Roll vinyl', 'music', 2500);
             INSERT INTO users (name, api_key, role) VALUES
                 ('alice', 'sk_alice_1', 'admin'), ('bob', 'sk_bob_2', 'member');",
        )
        .unwrap();
        conn
    }

    fn find(q: &str, sort: &str, dir: &str) -> Search {
        Search {
            q: q.to_string(),
            category: None,
            sort: sort.to_string(),
            dir: dir.to_string(),
            limit: 100,
        }
    }

    fn ids(rows: &[Product]) -> Vec<i64> {
        rows.iter().map(|p| p.id).collect()
    }

    // A plain search matches a case-sensitive substring, sorted with ties broken by id.
    #[test]
    fn a_search_matches_substrings_in_order() {
        let conn = shop();
        let rows = search(&conn, &find("mug", "price", "desc")).unwrap();
        assert_eq!(ids(&rows), vec![1, 3]);
        assert!(search(&conn, &find("MUG", "id", "asc")).unwrap().is_empty());
        let all = search(&conn, &find("", "name", "asc")).unwrap();
        assert_eq!(ids(&all), vec![2, 1, 4, 3]);
    }

    // A classic always-true payload is only a strange search term: it matches nothing.
    #[test]
    fn an_always_true_payload_matches_nothing() {
        let conn = shop();
        for payload in [
            "' OR 1=1 --",
            "' OR '1'='1",
            "%' UNION SELECT id, name, api_key, 0 FROM users --",
        ] {
            let rows = search(&conn, &find(payload, "id", "asc")).unwrap();
            assert!(rows.is_empty(), "{payload} returned {rows:?}");
        }
        let quoted = search(&conn, &find("'n'", "id", "asc")).unwrap();
        assert_eq!(ids(&quoted), vec![4]);
    }

    // `%` and `_` are ordinary characters in a search term.
    #[test]
    fn wildcards_are_literal() {
        let conn = shop();
        assert_eq!(
            ids(&search(&conn, &find("%", "id", "asc")).unwrap()),
            vec![2]
        );
        assert_eq!(
            ids(&search(&conn, &find("_", "id", "asc")).unwrap()),
            vec![3]
        );
    }

    // Only the six allowed sort choices are accepted; anything else is refused, not cleaned.
    #[test]
    fn sorts_come_from_the_allow_list() {
        assert!(order_by("price", "asc").is_ok());
        for (sort, dir) in [
            ("price_cents", "asc"),
            ("name; DROP TABLE users", "asc"),
            ("(CASE WHEN 1=1 THEN name ELSE id END)", "asc"),
            ("id", "DESC"),
            ("id", "asc, (SELECT api_key FROM users)"),
        ] {
            assert!(
                matches!(order_by(sort, dir), Err(QueryError::InvalidSort)),
                "{sort} {dir} was accepted"
            );
        }
    }

    // The limit is checked and bound.
    #[test]
    fn the_limit_is_checked() {
        let conn = shop();
        let mut s = find("", "id", "asc");
        s.limit = 2;
        assert_eq!(ids(&search(&conn, &s).unwrap()), vec![1, 2]);
        s.limit = 0;
        assert!(matches!(search(&conn, &s), Err(QueryError::InvalidLimit)));
    }

    // A product name full of SQL is stored exactly as given.
    #[test]
    fn an_added_product_is_stored_verbatim() {
        let conn = shop();
        let name = "Robert'); DROP TABLE products; -- ' || (SELECT api_key FROM users) || '";
        let product = NewProduct {
            name: name.to_string(),
            category: "books".to_string(),
            price_cents: 1,
        };
        let id = add_product(&conn, &product).unwrap();
        let stored: String = conn
            .query_row("SELECT name FROM products WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, name);
    }

    // A filter with operator objects, extra fields or non-strings is refused; a typed one is rebuilt.
    #[test]
    fn operator_injection_is_refused() {
        let store = DocStore::load(&shop()).unwrap();
        for filter in [
            json!({"name": "alice", "api_key": {"$ne": null}}),
            json!({"name": {"$gt": ""}, "api_key": {"$gt": ""}}),
            json!({"name": "alice", "api_key": "x", "$or": [{}]}),
            json!({"name": "alice", "api_key": ["sk_alice_1"]}),
            json!({"name": "alice"}),
            json!("alice"),
        ] {
            assert!(
                matches!(safe_filter(&filter), Err(QueryError::InvalidFilter)),
                "{filter}"
            );
        }
        let good = safe_filter(&json!({"api_key": "sk_bob_2", "name": "bob"})).unwrap();
        assert_eq!(store.find_one(&good).unwrap()["role"], "member");
    }
}
