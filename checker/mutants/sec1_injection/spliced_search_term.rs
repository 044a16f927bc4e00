//! mutant: builds the search SQL with format!, splicing the term, category and limit into the text
//! expect: a search term is data

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
    let category = match &search.category {
        Some(c) => format!("AND category = '{c}'"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT id, name, category, price_cents FROM products \
         WHERE instr(name, '{}') > 0 {category} {order} LIMIT {}",
        search.q, search.limit
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map([], |row| {
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
