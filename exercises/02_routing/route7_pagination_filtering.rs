//! # Pagination, filtering, sorting and search over a SQL table
//!
//! No list endpoint can return a whole table: a million rows is a timeout for the server and a frozen browser
//! for the client. So a list is **paginated**, and the client asks for the slice it wants: filtered
//! (`category=books`, `price_max=2000`), searched (`q=lamp`) and sorted (`sort=-rating,price_cents`). This
//! exercise serves such a list over a SQLite table, in the two ways APIs paginate:
//!
//! - **Offset pagination** (`?limit=20&offset=40`): "skip 40 rows, give me 20". Simple, lets a client jump to
//!   page 7 and show a total. But `OFFSET` makes the database produce and throw away every skipped row (page
//!   5 000 is slow), and the pages move under the client's feet: a row inserted before the current page shifts
//!   everything by one, so the next page repeats a row (and a delete skips one).
//! - **Cursor pagination**, also called keyset or seek pagination (`?cursor=…`): the server hands out an
//!   **opaque cursor** that remembers where the page ended (the sort values of its last row) and the next
//!   page is "the rows *after* that position", a `WHERE` the index answers directly. Inserts before the
//!   position never shift it, so a client walking the pages sees every row that was there when it started
//!   **exactly once**, and no row twice. This is what Stripe, Slack, GitHub and Twitter do for large lists.
//!
//! ## The contract
//!
//! `POST /products` with `{"name", "category", "price_cents", "rating"}` stores a product (given).
//! `GET /products` lists them. Its query parameters (each at most once; any other parameter is `400`):
//!
//! | parameter | meaning |
//! |---|---|
//! | `category` | only this category (exact match) |
//! | `price_min`, `price_max` | only prices in this range, both inclusive (whole numbers) |
//! | `rating_min` | only ratings at least this (a whole number) |
//! | `q` | only names containing this text, ignoring ASCII case; `%` and `_` are ordinary characters |
//! | `sort` | fields separated by commas, each `id`, `name`, `price_cents` or `rating`, `-` in front for descending: `sort=-rating,name`. Any other field, an empty one or a repeated one is `400`. Ties are always broken by `id` ascending (unless `id` is in the list). Names compare by their bytes (`"Zebra"` before `"apple"`). Default: `id` |
//! | `limit` | 1 to 100, default 20 |
//! | `offset` | a whole number: offset mode |
//! | `cursor` | a cursor from a previous page: cursor mode. It comes **alone**: it carries the filters, sort and limit of the walk, so any other parameter next to it is `400`, and so is a cursor this server did not issue |
//!
//! Without `offset` and without `cursor`, the request is the first page of a cursor walk. `offset` and
//! `cursor` together are `400`.
//!
//! - **Offset mode** answers `{"items": […], "total": N}` (`total`: the rows matching the filters), with a
//!   `Link` header (RFC 8288) holding `rel="next"` when rows remain after this page and `rel="prev"` when
//!   `offset > 0` (its offset is `offset - limit`, never below 0): `Link: </products?category=books&
//!   limit=10&offset=20>; rel="next", </products?category=books&limit=10&offset=0>; rel="prev"`. Each link
//!   repeats every filter, the sort and the limit of the request.
//! - **Cursor mode** answers `{"items": […], "next_cursor": "…"}` and `Link: </products?cursor=…>;
//!   rel="next"`, or `"next_cursor": null` and no `Link` when no row comes after this page. A full last page
//!   is the last page: no cursor to an empty one.
//! - Errors are `400` problem details (`application/problem+json`).
//!
//! ## What you write
//!
//! The table, `POST /products`, the query-string decoding and the wire are given. Yours: reading the list
//! parameters (`parse_sort`, `parse_list`), the cursor (`encode_cursor`, `decode_cursor`), the SQL of a page
//! (`contains_pattern`, `fetch_page`) and the answer with its links (`offset_query`, `list_response`).
//!
//! ## Pitfalls
//!
//! - Putting the `sort` field in the SQL text as the client sent it: `sort=name;DROP TABLE products`. The
//!   column name comes from your whitelist, never from the request; values are bound parameters.
//! - A cursor that only remembers the first sort key: among rows with equal ratings, the next page starts
//!   at the wrong one. The position is the values of *every* sort key plus the `id`.
//! - The keyset condition for mixed directions: after `(rating 4, price 999, id 7)` under
//!   `sort=-rating,price_cents` come rows with `rating < 4`, or `rating = 4 AND price_cents > 999`, or
//!   `rating = 4 AND price_cents = 999 AND id > 7`.
//! - A cursor that stores an offset: it is offset pagination in disguise, and duplicates rows after an insert.
//! - Forgetting the filters in the next link (page 2 of "books" lists everything).
//! - `LIKE '%' || q || '%'` with `q = "50%"` matches every name containing "50".
//! - Deciding "there is a next page" from a full page: fetch `limit + 1` rows.
//!
//! Roadmap: pagination (offset vs cursor), search APIs, sorting and filtering; SQL injection through
//! identifiers; the `Link` header.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};

use backlings_harness::http::{Request, Response, serve};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The fields a client may sort by.
pub const SORTABLE: [&str; 4] = ["id", "name", "price_cents", "rating"];
/// The page size when `limit` is absent.
pub const DEFAULT_LIMIT: u64 = 20;
/// The largest page.
pub const MAX_LIMIT: u64 = 100;

/// A row of the `products` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub category: String,
    pub price_cents: u64,
    pub rating: u64,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Asc,
    Desc,
}

/// One key of a sort: a column from [`SORTABLE`] and a direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub field: String,
    pub direction: Direction,
}

/// What a list selects, whatever the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub category: Option<String>,
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    pub rating_min: Option<u64>,
    pub q: Option<String>,
}

/// Everything a walk through the pages keeps: filters, sort (as requested) and page size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Walk {
    pub filters: Filters,
    pub sort: Vec<SortKey>,
    pub limit: u64,
}

/// Which page a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRequest {
    /// Skip this many rows.
    Offset(u64),
    /// The rows after this position (the sort values of the last row served, one per key of
    /// [`effective_sort`]), or the first page when `None`.
    After(Option<Vec<Value>>),
}

/// A parsed `GET /products`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub walk: Walk,
    pub page: PageRequest,
}

/// What a cursor carries: the walk and the position after which the next page starts.
#[derive(Debug, Serialize, Deserialize)]
struct CursorData {
    walk: Walk,
    after: Vec<Value>,
}

fn number(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("`{key}` must be a whole number, not `{value}`"))
}

/// The `sort` parameter as keys: whitelisted fields, each once.
pub fn parse_sort(text: &str) -> Result<Vec<SortKey>, String> {
    // TODO: split on commas; each part is a field of `SORTABLE`, with an optional `-` in front;
    // anything else, and a field given twice, is an error.
    todo!()
}

/// The sort actually applied: the requested keys, then `id` ascending unless `id` is among them.
pub fn effective_sort(sort: &[SortKey]) -> Vec<SortKey> {
    let mut keys = sort.to_vec();
    if !keys.iter().any(|key| key.field == "id") {
        keys.push(SortKey {
            field: "id".into(),
            direction: Direction::Asc,
        });
    }
    keys
}

/// Reads the query parameters of `GET /products` (already percent-decoded), or says why they are a 400.
pub fn parse_list(pairs: &[(String, String)]) -> Result<ListRequest, String> {
    // TODO: every row of the parameter table in this file's header: a repeated or unknown parameter is
    // an error, a `cursor` comes alone and brings its own walk, `offset` chooses offset mode.
    todo!()
}

/// The opaque cursor for the page after `last`.
pub fn encode_cursor(walk: &Walk, last: &Product) -> String {
    // TODO: an opaque, URL-safe token carrying the walk and `last`'s value for every key of
    // `effective_sort` (serialize a `CursorData`, then base64url without padding).
    todo!()
}

/// A cursor back into what it carries, or why it is not one this server issued.
fn decode_cursor(token: &str) -> Result<CursorData, String> {
    // TODO: the reverse of `encode_cursor`; anything that does not decode to a well-formed
    // `CursorData` (one value of the right type per sort key, a valid limit) is an error.
    todo!()
}

/// The value of a sortable field of a product.
pub fn sort_value(product: &Product, field: &str) -> Value {
    match field {
        "name" => json!(product.name),
        "price_cents" => json!(product.price_cents),
        "rating" => json!(product.rating),
        _ => json!(product.id),
    }
}

/// The column of a whitelisted field: the only text from a request that reaches the SQL.
fn column(field: &str) -> &'static str {
    match field {
        "name" => "name",
        "price_cents" => "price_cents",
        "rating" => "rating",
        _ => "id",
    }
}

fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::String(text) => SqlValue::Text(text.clone()),
        other => SqlValue::Integer(other.as_u64().unwrap_or(0) as i64),
    }
}

/// `LIKE` pattern for "contains `text`", with `\`, `%` and `_` escaped.
fn contains_pattern(text: &str) -> String {
    // TODO: a LIKE pattern matching names that contain `text` literally (see `ESCAPE` in `fetch_page`).
    todo!()
}

/// One page of the list, and (offset mode) the total or (cursor mode) whether rows remain after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Product>,
    pub total: Option<u64>,
    pub more: bool,
}

/// Runs the list query of `request` on `connection`.
pub fn fetch_page(connection: &Connection, request: &ListRequest) -> rusqlite::Result<Page> {
    // TODO: one SELECT: the filters as bound conditions, the keyset condition after the cursor's
    // position (cursor mode), ORDER BY the effective sort, LIMIT (and OFFSET in offset mode). Offset
    // mode also counts the total; cursor mode fetches one row more to know whether a next page exists.
    todo!()
}

/// The query string that asks for `walk` at `offset` (offset mode).
pub fn offset_query(walk: &Walk, offset: u64) -> String {
    // TODO: the query string asking for the same filters, sort and limit at `offset`, each value
    // encoded with `encode_component`.
    todo!()
}

/// The answer to `GET /products`: body and `Link` header, for the page `page` of `request`.
pub fn list_response(request: &ListRequest, page: &Page) -> Response {
    // TODO: the body and the `Link` header of offset mode or of cursor mode (see the contract).
    todo!()
}

// ─── Given: the table, the wire, and the creation of products ──────────────────────────────────────

/// Creates the table (provided: you do not need to change this).
pub fn open_database() -> rusqlite::Result<Connection> {
    let connection = Connection::open_in_memory()?;
    connection.execute_batch(
        "CREATE TABLE products (
             id          INTEGER PRIMARY KEY,
             name        TEXT    NOT NULL,
             category    TEXT    NOT NULL,
             price_cents INTEGER NOT NULL,
             rating      INTEGER NOT NULL
         );",
    )?;
    Ok(connection)
}

/// The body of `POST /products` (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
pub struct NewProduct {
    pub name: String,
    pub category: String,
    pub price_cents: u64,
    pub rating: u64,
}

/// Stores a product (provided: you do not need to change this).
pub fn insert_product(connection: &Connection, new: NewProduct) -> rusqlite::Result<Product> {
    connection.execute(
        "INSERT INTO products (name, category, price_cents, rating) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![
            new.name,
            new.category,
            new.price_cents as i64,
            new.rating as i64
        ],
    )?;
    Ok(Product {
        id: connection.last_insert_rowid() as u64,
        name: new.name,
        category: new.category,
        price_cents: new.price_cents,
        rating: new.rating,
    })
}

/// Percent-decodes one query component; `+` is a space in a query (provided: you do not need to change
/// this).
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-escape in `{text}`"))?;
                out.push(hex);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| format!("`{text}` does not decode to UTF-8"))
}

/// Percent-encodes everything but the unreserved characters of RFC 3986 (provided: you do not need to
/// change this).
pub fn encode_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The decoded `key=value` pairs of a query string (provided: you do not need to change this).
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key)?, percent_decode(value)?))
        })
        .collect()
}

/// A JSON response (provided: you do not need to change this).
pub fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// A problem details response (provided: you do not need to change this).
pub fn problem(status: u16, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": backlings_harness::http::reason(status),
        "status": status,
        "detail": detail,
    });
    Response::new(status)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// Serves the two routes (provided: you do not need to change this).
pub fn handle(connection: &Mutex<Connection>, request: &Request) -> Response {
    let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
    match (request.method.as_str(), request.path()) {
        ("POST", "/products") => match serde_json::from_slice::<NewProduct>(&request.body) {
            Ok(new) => match insert_product(&connection, new) {
                Ok(product) => json_response(201, &json!(product)),
                Err(error) => problem(500, &error.to_string()),
            },
            Err(error) => problem(400, &format!("not a product: {error}")),
        },
        ("GET", "/products") => {
            let list = query_pairs(request.query()).and_then(|pairs| parse_list(&pairs));
            match list {
                Ok(list) => match fetch_page(&connection, &list) {
                    Ok(page) => list_response(&list, &page),
                    Err(error) => problem(500, &error.to_string()),
                },
                Err(why) => problem(400, &why),
            }
        }
        (_, "/products") => problem(405, "GET or POST").with_header("Allow", "GET, POST"),
        _ => problem(404, "no such route"),
    }
}

fn main() -> ExitCode {
    let connection = match open_database() {
        Ok(connection) => Mutex::new(connection),
        Err(error) => {
            eprintln!("error: could not open the database: {error}");
            return ExitCode::FAILURE;
        }
    };
    match serve(move |request| handle(&connection, request)) {
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

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query)).unwrap()
    }

    fn stocked() -> Connection {
        let connection = open_database().unwrap();
        let rows = [
            ("Lamp", "home", 999, 4),
            ("lamp shade", "home", 499, 4),
            ("Desk", "office", 4999, 5),
            ("50% off mug", "home", 999, 3),
            ("Chair", "office", 2999, 4),
            ("Mug", "home", 999, 4),
        ];
        for (name, category, price_cents, rating) in rows {
            insert_product(
                &connection,
                NewProduct {
                    name: name.into(),
                    category: category.into(),
                    price_cents,
                    rating,
                },
            )
            .unwrap();
        }
        connection
    }

    fn ids(page: &Page) -> Vec<u64> {
        page.items.iter().map(|p| p.id).collect()
    }

    // Only whitelisted fields sort; anything else is refused before it gets near the SQL.
    #[test]
    fn sort_is_whitelisted() {
        assert!(parse_list(&pairs("sort=-rating,name")).is_ok());
        for bad in [
            "sort=password",
            "sort=name;DROP TABLE products",
            "sort=",
            "sort=name,name",
        ] {
            assert!(parse_list(&pairs(bad)).is_err(), "{bad}");
        }
        assert!(parse_list(&pairs("limit=0")).is_err());
        assert!(parse_list(&pairs("sort_by=name")).is_err());
    }

    // Filters, search and sort together; `%` in `q` is an ordinary character.
    #[test]
    fn filters_search_and_sort() {
        let connection = stocked();
        let request = parse_list(&pairs("category=home&q=LAMP&sort=price_cents")).unwrap();
        assert_eq!(ids(&fetch_page(&connection, &request).unwrap()), [2, 1]);
        let percent = parse_list(&pairs("q=50%25")).unwrap();
        assert_eq!(ids(&fetch_page(&connection, &percent).unwrap()), [4]);
    }

    // A cursor walk with ties on the first key visits every row once, in order.
    #[test]
    fn cursor_walk_handles_ties() {
        let connection = stocked();
        let mut request = parse_list(&pairs("sort=-rating,price_cents&limit=2")).unwrap();
        let mut seen = Vec::new();
        loop {
            let page = fetch_page(&connection, &request).unwrap();
            seen.extend(ids(&page));
            let Some(last) = page.items.last().filter(|_| page.more) else {
                break;
            };
            let cursor = encode_cursor(&request.walk, last);
            request = parse_list(&[("cursor".to_string(), cursor)]).unwrap();
        }
        assert_eq!(seen, [3, 2, 1, 6, 5, 4]);
    }

    // Offset mode reports the total and links to the next and previous pages, keeping the filters.
    #[test]
    fn offset_links_keep_the_filters() {
        let connection = stocked();
        let request = parse_list(&pairs("category=home&limit=2&offset=2")).unwrap();
        let page = fetch_page(&connection, &request).unwrap();
        assert_eq!((ids(&page), page.total), (vec![4, 6], Some(4)));
        let response = list_response(&request, &page);
        assert_eq!(
            response.header("Link"),
            Some("</products?category=home&limit=2&offset=0>; rel=\"prev\"")
        );
    }

    // A cursor comes alone, and a cursor the server did not issue is refused.
    #[test]
    fn foreign_cursors_are_refused() {
        assert!(parse_list(&pairs("cursor=bm90IGpzb24")).is_err());
        assert!(parse_list(&pairs("cursor=abc&limit=5")).is_err());
    }
}
