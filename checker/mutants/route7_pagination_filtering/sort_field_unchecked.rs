//! mutant: puts the sort field into ORDER BY as the client sent it, without the whitelist
//! expect: a sort field outside the whitelist

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
    let mut keys: Vec<SortKey> = Vec::new();
    for part in text.split(',') {
        let (field, direction) = match part.strip_prefix('-') {
            Some(field) => (field, Direction::Desc),
            None => (part, Direction::Asc),
        };
        if field.is_empty() {
            return Err(format!(
                "cannot sort by `{field}`: the sortable fields are {}",
                SORTABLE.join(", ")
            ));
        }
        if keys.iter().any(|key| key.field == field) {
            return Err(format!("`{field}` appears twice in sort"));
        }
        keys.push(SortKey {
            field: field.to_string(),
            direction,
        });
    }
    Ok(keys)
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
    for (index, (key, _)) in pairs.iter().enumerate() {
        if pairs[..index].iter().any(|(earlier, _)| earlier == key) {
            return Err(format!("`{key}` is given twice"));
        }
    }
    if let Some((_, token)) = pairs.iter().find(|(key, _)| key == "cursor") {
        if pairs.len() > 1 {
            return Err(
                "a cursor comes alone: it already carries the filters, sort and limit".into(),
            );
        }
        let data = decode_cursor(token)?;
        return Ok(ListRequest {
            walk: data.walk,
            page: PageRequest::After(Some(data.after)),
        });
    }
    let mut walk = Walk {
        filters: Filters::default(),
        sort: Vec::new(),
        limit: DEFAULT_LIMIT,
    };
    let mut page = PageRequest::After(None);
    for (key, value) in pairs {
        match key.as_str() {
            "category" => walk.filters.category = Some(value.clone()),
            "price_min" => walk.filters.price_min = Some(number(key, value)?),
            "price_max" => walk.filters.price_max = Some(number(key, value)?),
            "rating_min" => walk.filters.rating_min = Some(number(key, value)?),
            "q" => walk.filters.q = Some(value.clone()),
            "sort" => walk.sort = parse_sort(value)?,
            "limit" => {
                walk.limit = number(key, value)?;
                if !(1..=MAX_LIMIT).contains(&walk.limit) {
                    return Err(format!("`limit` must be 1 to {MAX_LIMIT}"));
                }
            }
            "offset" => page = PageRequest::Offset(number(key, value)?),
            _ => return Err(format!("unknown parameter `{key}`")),
        }
    }
    Ok(ListRequest { walk, page })
}

/// The opaque cursor for the page after `last`.
pub fn encode_cursor(walk: &Walk, last: &Product) -> String {
    let after = effective_sort(&walk.sort)
        .iter()
        .map(|key| sort_value(last, &key.field))
        .collect();
    let data = CursorData {
        walk: walk.clone(),
        after,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

/// A cursor back into what it carries, or why it is not one this server issued.
fn decode_cursor(token: &str) -> Result<CursorData, String> {
    let not_ours = || "the cursor is not one this server issued".to_string();
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| not_ours())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    let keys = effective_sort(&data.walk.sort);
    let well_formed = data.after.len() == keys.len()
        && keys.iter().zip(&data.after).all(|(key, value)| {
            SORTABLE.contains(&key.field.as_str())
                && if key.field == "name" {
                    value.is_string()
                } else {
                    value.is_u64()
                }
        })
        && (1..=MAX_LIMIT).contains(&data.walk.limit);
    if well_formed {
        Ok(data)
    } else {
        Err(not_ours())
    }
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
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
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
    let filters = &request.walk.filters;
    let mut conditions: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(category) = &filters.category {
        conditions.push("category = ?".into());
        args.push(SqlValue::Text(category.clone()));
    }
    for (bound, condition) in [
        (filters.price_min, "price_cents >= ?"),
        (filters.price_max, "price_cents <= ?"),
        (filters.rating_min, "rating >= ?"),
    ] {
        if let Some(bound) = bound {
            conditions.push(condition.into());
            args.push(SqlValue::Integer(bound.min(i64::MAX as u64) as i64));
        }
    }
    if let Some(q) = &filters.q {
        conditions.push("name LIKE ? ESCAPE '\\'".into());
        args.push(SqlValue::Text(contains_pattern(q)));
    }
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let keys = effective_sort(&request.walk.sort);
    let order: Vec<String> = keys
        .iter()
        .map(|key| {
            let direction = match key.direction {
                Direction::Asc => "ASC",
                Direction::Desc => "DESC",
            };
            format!("{} {direction}", key.field)
        })
        .collect();
    let limit = request.walk.limit;

    let (total, keyset_sql, keyset_args, fetch, offset) = match &request.page {
        PageRequest::Offset(offset) => {
            let total: i64 = connection.query_row(
                &format!("SELECT COUNT(*) FROM products{filter_sql}"),
                rusqlite::params_from_iter(args.iter()),
                |row| row.get(0),
            )?;
            (
                Some(total as u64),
                String::new(),
                Vec::new(),
                limit,
                *offset,
            )
        }
        PageRequest::After(None) => (None, String::new(), Vec::new(), limit + 1, 0),
        PageRequest::After(Some(after)) => {
            let mut alternatives = Vec::new();
            let mut keyset_args = Vec::new();
            for (index, key) in keys.iter().enumerate() {
                let mut parts: Vec<String> = Vec::new();
                for (earlier, value) in keys[..index].iter().zip(after) {
                    parts.push(format!("{} = ?", column(&earlier.field)));
                    keyset_args.push(sql_value(value));
                }
                let beyond = match key.direction {
                    Direction::Asc => ">",
                    Direction::Desc => "<",
                };
                parts.push(format!("{} {beyond} ?", column(&key.field)));
                keyset_args.push(sql_value(&after[index]));
                alternatives.push(format!("({})", parts.join(" AND ")));
            }
            let joiner = if filter_sql.is_empty() {
                " WHERE "
            } else {
                " AND "
            };
            let keyset = format!("{joiner}({})", alternatives.join(" OR "));
            (None, keyset, keyset_args, limit + 1, 0)
        }
    };
    let sql = format!(
        "SELECT id, name, category, price_cents, rating FROM products{filter_sql}{keyset_sql} \
         ORDER BY {} LIMIT ? OFFSET ?",
        order.join(", ")
    );
    args.extend(keyset_args);
    args.push(SqlValue::Integer(fetch as i64));
    args.push(SqlValue::Integer(offset.min(i64::MAX as u64) as i64));
    let mut statement = connection.prepare(&sql)?;
    let mut items = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            Ok(Product {
                id: row.get::<_, i64>(0)? as u64,
                name: row.get(1)?,
                category: row.get(2)?,
                price_cents: row.get::<_, i64>(3)? as u64,
                rating: row.get::<_, i64>(4)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = match total {
        Some(total) => offset.saturating_add(limit) < total,
        None => items.len() as u64 > limit,
    };
    items.truncate(limit as usize);
    Ok(Page { items, total, more })
}

/// The query string that asks for `walk` at `offset` (offset mode).
pub fn offset_query(walk: &Walk, offset: u64) -> String {
    let filters = &walk.filters;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(category) = &filters.category {
        pairs.push(("category", category.clone()));
    }
    for (key, bound) in [
        ("price_min", filters.price_min),
        ("price_max", filters.price_max),
        ("rating_min", filters.rating_min),
    ] {
        if let Some(bound) = bound {
            pairs.push((key, bound.to_string()));
        }
    }
    if let Some(q) = &filters.q {
        pairs.push(("q", q.clone()));
    }
    if !walk.sort.is_empty() {
        let sort: Vec<String> = walk
            .sort
            .iter()
            .map(|key| match key.direction {
                Direction::Asc => key.field.clone(),
                Direction::Desc => format!("-{}", key.field),
            })
            .collect();
        pairs.push(("sort", sort.join(",")));
    }
    pairs.push(("limit", walk.limit.to_string()));
    pairs.push(("offset", offset.to_string()));
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The answer to `GET /products`: body and `Link` header, for the page `page` of `request`.
pub fn list_response(request: &ListRequest, page: &Page) -> Response {
    let items: Vec<Value> = page.items.iter().map(|p| json!(p)).collect();
    let mut links = Vec::new();
    let body = match request.page {
        PageRequest::Offset(offset) => {
            let limit = request.walk.limit;
            if page.more {
                links.push(format!(
                    "</products?{}>; rel=\"next\"",
                    offset_query(&request.walk, offset + limit)
                ));
            }
            if offset > 0 {
                links.push(format!(
                    "</products?{}>; rel=\"prev\"",
                    offset_query(&request.walk, offset.saturating_sub(limit))
                ));
            }
            json!({ "items": items, "total": page.total })
        }
        PageRequest::After(_) => {
            let next = page
                .items
                .last()
                .filter(|_| page.more)
                .map(|last| encode_cursor(&request.walk, last));
            if let Some(cursor) = &next {
                links.push(format!("</products?cursor={cursor}>; rel=\"next\""));
            }
            json!({ "items": items, "next_cursor": next })
        }
    };
    let response = json_response(200, &body);
    if links.is_empty() {
        response
    } else {
        response.with_header("Link", links.join(", "))
    }
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
