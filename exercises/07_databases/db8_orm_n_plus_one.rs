//! # An ORM in miniature: a query builder, row mapping, and the N+1 problem
//!
//! Most backend code does not write SQL by hand: it calls an ORM or a query builder (Diesel, SeaORM,
//! sqlx's `QueryBuilder`, Prisma, TypeORM, Hibernate) that turns method calls into SQL text plus a
//! list of *bound parameters*, runs it, and maps every row onto a struct. This exercise builds the
//! three parts of such a layer over SQLite (`rusqlite`), on a small blog database:
//!
//! ```sql
//! authors  (id INTEGER PRIMARY KEY, name TEXT NOT NULL)
//! posts    (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
//!           title TEXT NOT NULL, score INTEGER NOT NULL)
//! comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts(id),
//!           body TEXT NOT NULL)
//! ```
//!
//! 1. **The query builder** (`Select::to_sql`) turns a `Select` into SQL with `?` placeholders and
//!    the list of values to bind to them. Values are *never* pasted into the SQL text: a title such
//!    as `x' OR '1'='1` pasted between quotes rewrites the query (SQL injection), and even escaped
//!    pasting defeats the database's statement cache. Column and table *names* cannot be bound (a
//!    placeholder stands for a value only), so the builder checks every name against the table's
//!    known columns and refuses anything else.
//! 2. **Row mapping** (`FromRow`): one row in, one struct out, by column name.
//! 3. **Relation loading.** A page lists 50 posts with their author. The innocent loop "for each
//!    post, load its author" runs 1 query for the posts and then *N* more, one per post: the **N+1
//!    problem**, the most common performance bug of ORM code (Hibernate's lazy `@ManyToOne`, Rails'
//!    `post.author` in a view, GraphQL resolvers). Each query is a round trip to the database, so the
//!    page gets slower with every row, and the database does 51 times the work. The cure is *eager
//!    loading*: collect the foreign keys of all posts, load every author in one
//!    `WHERE id IN (?, ?, …)` query, and stitch the results together in memory. Listing posts with
//!    `k` relations then costs `1 + k` statements, whether the page has 5 posts or 5 000.
//!
//! Lazy loading has its place (a relation that is rarely used), and its minimum decency is an
//! **identity map**: the loader remembers every author it has loaded, so asking for author 7 twice
//! runs one query, not two. That bounds the damage to one query per *distinct* author; it does not
//! make the loop O(1) in queries.
//!
//! ## The contract the grader checks
//!
//! The grader seeds the database, gives its path in `BACKLINGS_DB`, and drives the program over JSON
//! lines (see the provided `main`). It counts the statements the program executes with SQLite's
//! trace hook (installed by the provided `main`: a prepared statement run 50 times counts 50 times).
//!
//! - `to_sql` returns `SELECT <every column of the table, in schema order> FROM <table>`, then
//!   `WHERE` with the filters joined by `AND` (`=`, `<`, `>`, and `IN (?, ?, …)`), then
//!   `ORDER BY <column> ASC|DESC, id ASC` (or `ORDER BY id ASC` when no order is asked for: a total
//!   order, so equal scores never come back in a random order), then `LIMIT ?`. The parameters are
//!   every value in the order its placeholder appears, the limit last. An `IN` with no values must
//!   match nothing. An unknown table or column is an error, and nothing is built.
//! - The grader runs your SQL with your parameters on its own connection and compares the rows with
//!   its model; the parameter list must be exactly the values asked for (nothing pasted into the
//!   text).
//! - Listing posts with relations (`author`, `comments`) runs at most `1 + relations` statements at
//!   any page size; each post gets its own author and its own comments (by `id`, ascending; a post
//!   without comments gets an empty list).
//! - The lazy `AuthorLoader` runs one statement per *distinct* author it is asked for.
//!
//! ## Pitfalls
//!
//! - `format!("WHERE title = '{}'", title)`: injection, and a different SQL text per value.
//! - `format!("WHERE {} = ?", column)` without checking the column: injection through the name.
//! - Preparing a statement once and running it in a loop is still N+1: N executions, N round trips.
//! - Assigning batch results back by position (`zip`) instead of by foreign key: a post with two
//!   comments shifts every comment after it.
//! - Forgetting duplicate foreign keys: ten posts of one author need one author id in the `IN` list.
//! - Huge `IN` lists: SQLite accepts 32 766 parameters per statement, other databases fewer; a real
//!   loader splits the ids into chunks (one statement per chunk, still independent of N per chunk).
//!
//! Roadmap: Databases, ORMs and query builders, the N+1 query problem, SQL injection.

use std::collections::{HashMap, HashSet};

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use serde::Serialize;

/// A table the builder knows: its name and its columns, in schema order.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

/// The tables of the blog database.
pub const TABLES: &[Table] = &[
    Table {
        name: "authors",
        columns: &["id", "name"],
    },
    Table {
        name: "posts",
        columns: &["id", "author_id", "title", "score"],
    },
    Table {
        name: "comments",
        columns: &["id", "post_id", "body"],
    },
];

/// A comparison in a `WHERE` clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Gt,
    In,
}

/// One condition: `column <cmp> value` (or `column IN (values…)`).
#[derive(Debug, Clone)]
pub struct Filter {
    pub column: String,
    pub cmp: Cmp,
    /// One value, or any number for `Cmp::In`.
    pub values: Vec<Value>,
}

/// A `SELECT` on one table, built up by method calls and turned into SQL by [`Select::to_sql`].
#[derive(Debug, Clone)]
pub struct Select {
    pub table: String,
    pub filters: Vec<Filter>,
    /// The column to sort by, and whether descending.
    pub order_by: Option<(String, bool)>,
    pub limit: Option<i64>,
}

/// Why a query could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("unknown table `{0}`")]
    UnknownTable(String),
    #[error("unknown column `{0}`")]
    UnknownColumn(String),
}

impl Select {
    /// Every row of `table`.
    pub fn from(table: &str) -> Self {
        Select {
            table: table.to_string(),
            filters: Vec::new(),
            order_by: None,
            limit: None,
        }
    }

    /// Adds `column <cmp> value`.
    pub fn filter(mut self, column: &str, cmp: Cmp, value: impl Into<Value>) -> Self {
        self.filters.push(Filter {
            column: column.to_string(),
            cmp,
            values: vec![value.into()],
        });
        self
    }

    /// Adds `column IN (values…)`.
    pub fn filter_in(mut self, column: &str, values: Vec<Value>) -> Self {
        self.filters.push(Filter {
            column: column.to_string(),
            cmp: Cmp::In,
            values,
        });
        self
    }

    /// Sorts by `column` (then by `id`).
    pub fn order_by(mut self, column: &str, descending: bool) -> Self {
        self.order_by = Some((column.to_string(), descending));
        self
    }

    /// Keeps at most `limit` rows.
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The SQL text with `?` placeholders, and the values to bind to them, in order.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>), QueryError> {
        // TODO: find the table (or `QueryError::UnknownTable`), check every column name against its
        // columns (or `QueryError::UnknownColumn`), and build
        // `SELECT <columns> FROM <table> [WHERE …] ORDER BY … [LIMIT ?]` with a `?` for every value,
        // returning the values in placeholder order. An `IN` with no values matches nothing.
        todo!()
    }
}

/// An author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    pub id: i64,
    pub name: String,
}

/// A comment on a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: i64,
    pub post_id: i64,
    pub body: String,
}

/// A post, with its relations once they are loaded (`None` until then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Post {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    pub score: i64,
    pub author: Option<Author>,
    pub comments: Option<Vec<Comment>>,
}

/// A struct that can be built from one row of its table.
pub trait FromRow: Sized {
    /// The table the rows come from.
    const TABLE: &'static str;
    /// Maps one row (every column of the table, by name) onto the struct.
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;
}

impl FromRow for Author {
    const TABLE: &'static str = "authors";
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Author {
            id: row.get("id")?,
            name: row.get("name")?,
        })
    }
}

impl FromRow for Comment {
    const TABLE: &'static str = "comments";
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        // TODO: map a row of `comments` onto a `Comment`, by column name.
        todo!()
    }
}

impl FromRow for Post {
    const TABLE: &'static str = "posts";
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        // TODO: map a row of `posts` onto a `Post`; its relations are not loaded yet.
        todo!()
    }
}

/// Anything that can go wrong while loading.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("post {post} refers to author {author}, who does not exist")]
    MissingAuthor { post: i64, author: i64 },
    #[error("no author has id {0}")]
    UnknownAuthor(i64),
}

/// Runs `select` (one statement) and maps every row onto a `T`.
pub fn fetch<T: FromRow>(conn: &Connection, select: &Select) -> Result<Vec<T>, LoadError> {
    // TODO: build the SQL, run it once with its parameters bound, and map every row.
    todo!()
}

/// Eager loading: sets `author` on every post, in one statement whatever the number of posts.
pub fn load_authors(conn: &Connection, posts: &mut [Post]) -> Result<(), LoadError> {
    // TODO: load the authors of all these posts in ONE statement, and give every post its own.
    todo!()
}

/// Eager loading: sets `comments` on every post (by id, ascending), in one statement.
pub fn load_comments(conn: &Connection, posts: &mut [Post]) -> Result<(), LoadError> {
    // TODO: load the comments of all these posts in ONE statement, and give every post exactly its
    // own (by id, ascending; an empty list when it has none).
    todo!()
}

/// Lazy loading with an identity map: each distinct author is loaded at most once.
#[derive(Default)]
pub struct AuthorLoader {
    loaded: HashMap<i64, Author>,
}

impl AuthorLoader {
    /// The author with this id, from the identity map or else from the database (one statement).
    pub fn get(&mut self, conn: &Connection, id: i64) -> Result<Author, LoadError> {
        // TODO: answer from the identity map when the author was loaded before; otherwise load it
        // (one statement) and remember it.
        todo!()
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It opens the database named by
// `BACKLINGS_DB`, counts the statements SQLite runs, and serves the grader, one JSON object a line:
//
//   {"op":"build","table":"posts","filters":[{"column":"score","cmp":">","value":5000}],
//    "order_by":{"column":"score","descending":true},"limit":10}
//        -> {"sql":"SELECT …","params":[5000,10]}  or  {"error":"unknown column `x`"}
//   {"op":"list_posts","author_id":3,"limit":50,"include":["author","comments"]}
//        -> {"posts":[{"id":…,"author":{…},"comments":[…]},…],"statements":3,"log":["SELECT …",…]}
//        posts by id ascending (author_id may be null: every author)
//   {"op":"lazy_authors","limit":20}
//        -> {"names":["…",…],"statements":8,"log":[…]}
//        the first `limit` posts by id, then the name of each one's author through one AuthorLoader

mod provided {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rusqlite::trace::{TraceEvent, TraceEventCodes};
    use rusqlite::types::Value;
    use serde::Deserialize;
    use serde_json::{Value as Json, json};

    use super::*;

    /// Statements run since the last request, and the first few of their texts.
    static STATEMENTS: AtomicUsize = AtomicUsize::new(0);
    static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
    const LOG_KEPT: usize = 6;

    /// SQLite calls this when a statement finishes running: once per execution.
    fn count_statement(event: TraceEvent<'_>) {
        if let TraceEvent::Profile(statement, _) = event {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
            let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
            if log.len() < LOG_KEPT {
                log.push(statement.sql().into_owned());
            }
        }
    }

    fn take_count() -> (usize, Vec<String>) {
        let log = std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()));
        (STATEMENTS.swap(0, Ordering::SeqCst), log)
    }

    #[derive(Deserialize)]
    pub struct FilterJson {
        column: String,
        cmp: String,
        value: Json,
    }

    #[derive(Deserialize)]
    pub struct OrderJson {
        column: String,
        descending: bool,
    }

    #[derive(Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
    pub enum Request {
        Build {
            table: String,
            #[serde(default)]
            filters: Vec<FilterJson>,
            order_by: Option<OrderJson>,
            limit: Option<i64>,
        },
        ListPosts {
            author_id: Option<i64>,
            limit: i64,
            include: Vec<String>,
        },
        LazyAuthors {
            limit: i64,
        },
    }

    fn to_value(json: &Json) -> Result<Value, String> {
        match json {
            Json::Number(n) => n
                .as_i64()
                .map(Value::Integer)
                .ok_or_else(|| format!("not an integer: {n}")),
            Json::String(s) => Ok(Value::Text(s.clone())),
            other => Err(format!("unsupported value {other}")),
        }
    }

    fn to_json(value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Integer(i) => json!(i),
            Value::Real(r) => json!(r),
            Value::Text(s) => json!(s),
            Value::Blob(b) => json!(b),
        }
    }

    fn build(
        table: String,
        filters: Vec<FilterJson>,
        order_by: Option<OrderJson>,
        limit: Option<i64>,
    ) -> Result<Json, String> {
        let mut select = Select::from(&table);
        for filter in filters {
            select = match (filter.cmp.as_str(), &filter.value) {
                ("in", Json::Array(items)) => {
                    let values = items.iter().map(to_value).collect::<Result<_, _>>()?;
                    select.filter_in(&filter.column, values)
                }
                ("=", value) => select.filter(&filter.column, Cmp::Eq, to_value(value)?),
                ("<", value) => select.filter(&filter.column, Cmp::Lt, to_value(value)?),
                (">", value) => select.filter(&filter.column, Cmp::Gt, to_value(value)?),
                (cmp, _) => return Err(format!("unsupported comparison `{cmp}`")),
            };
        }
        if let Some(order) = order_by {
            select = select.order_by(&order.column, order.descending);
        }
        if let Some(limit) = limit {
            select = select.limit(limit);
        }
        let (sql, params) = select.to_sql().map_err(|e| e.to_string())?;
        Ok(json!({ "sql": sql, "params": params.iter().map(to_json).collect::<Vec<_>>() }))
    }

    fn list_posts(
        conn: &Connection,
        author_id: Option<i64>,
        limit: i64,
        include: &[String],
    ) -> Result<Json, LoadError> {
        let mut select = Select::from("posts").limit(limit);
        if let Some(author_id) = author_id {
            select = select.filter("author_id", Cmp::Eq, author_id);
        }
        let mut posts: Vec<Post> = fetch(conn, &select)?;
        if include.iter().any(|relation| relation == "author") {
            load_authors(conn, &mut posts)?;
        }
        if include.iter().any(|relation| relation == "comments") {
            load_comments(conn, &mut posts)?;
        }
        Ok(json!({ "posts": posts }))
    }

    fn lazy_authors(conn: &Connection, limit: i64) -> Result<Json, LoadError> {
        let posts: Vec<Post> = fetch(conn, &Select::from("posts").limit(limit))?;
        let mut loader = AuthorLoader::default();
        let mut names = Vec::new();
        for post in &posts {
            names.push(loader.get(conn, post.author_id)?.name);
        }
        Ok(json!({ "names": names }))
    }

    pub fn main() {
        let path = std::env::var("BACKLINGS_DB").unwrap_or_else(|_| "blog.db".to_string());
        let conn = Connection::open(&path).expect("open the database named by BACKLINGS_DB");
        conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(count_statement));
        backlings_harness::stdio::serve_json_lines(|request: Request| {
            take_count();
            let reply = match request {
                Request::Build {
                    table,
                    filters,
                    order_by,
                    limit,
                } => build(table, filters, order_by, limit),
                Request::ListPosts {
                    author_id,
                    limit,
                    include,
                } => list_posts(&conn, author_id, limit, &include).map_err(|e| e.to_string()),
                Request::LazyAuthors { limit } => {
                    lazy_authors(&conn, limit).map_err(|e| e.to_string())
                }
            };
            let (statements, log) = take_count();
            match reply {
                Ok(mut reply) => {
                    reply["statements"] = json!(statements);
                    reply["log"] = json!(log);
                    reply
                }
                Err(error) => json!({ "error": error }),
            }
        });
    }
}

fn main() {
    provided::main();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blog() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL,
                                 title TEXT NOT NULL, score INTEGER NOT NULL);
             CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, body TEXT NOT NULL);
             INSERT INTO authors VALUES (1, 'Ada'), (2, 'O''Brien');
             INSERT INTO posts VALUES (1, 2, 'hello', 10), (2, 1, 'x'' OR ''1''=''1', 30), (3, 2, 'again', 10);
             INSERT INTO comments VALUES (1, 3, 'first'), (2, 1, 'second'), (3, 3, 'third');",
        )
        .unwrap();
        conn
    }

    // Values are bound, never pasted into the text, and the parameters follow the placeholders.
    #[test]
    fn values_become_parameters() {
        let select = Select::from("posts")
            .filter("title", Cmp::Eq, "x' OR '1'='1".to_string())
            .filter_in("author_id", vec![Value::Integer(1), Value::Integer(2)])
            .limit(5);
        let (sql, params) = select.to_sql().unwrap();
        assert!(!sql.contains("OR '1'"), "a value was pasted into {sql}");
        assert_eq!(
            params,
            vec![
                Value::Text("x' OR '1'='1".into()),
                Value::Integer(1),
                Value::Integer(2),
                Value::Integer(5)
            ]
        );
    }

    // A name that is not a column of the table is refused.
    #[test]
    fn unknown_names_are_errors() {
        let select = Select::from("posts").filter("score; DROP TABLE posts", Cmp::Eq, 1);
        assert!(matches!(select.to_sql(), Err(QueryError::UnknownColumn(_))));
        assert!(matches!(
            Select::from("users").to_sql(),
            Err(QueryError::UnknownTable(_))
        ));
    }

    // Sorting by a column breaks ties by id, and the rows map onto structs.
    #[test]
    fn fetch_sorts_and_maps_rows() {
        let conn = blog();
        let posts: Vec<Post> =
            fetch(&conn, &Select::from("posts").order_by("score", false)).unwrap();
        let ids: Vec<i64> = posts.iter().map(|post| post.id).collect();
        assert_eq!(ids, vec![1, 3, 2]);
        assert_eq!(posts[2].title, "x' OR '1'='1");
    }

    // Eager loading attaches the right author and comments to every post.
    #[test]
    fn eager_loading_attaches_relations() {
        let conn = blog();
        let mut posts: Vec<Post> = fetch(&conn, &Select::from("posts")).unwrap();
        load_authors(&conn, &mut posts).unwrap();
        load_comments(&conn, &mut posts).unwrap();
        assert_eq!(posts[0].author.as_ref().unwrap().name, "O'Brien");
        assert_eq!(posts[1].author.as_ref().unwrap().name, "Ada");
        let bodies = |post: &Post| -> Vec<String> {
            post.comments
                .as_ref()
                .unwrap()
                .iter()
                .map(|c| c.body.clone())
                .collect()
        };
        assert_eq!(bodies(&posts[0]), vec!["second"]);
        assert!(bodies(&posts[1]).is_empty());
        assert_eq!(bodies(&posts[2]), vec!["first", "third"]);
    }

    // The identity map answers a second request for the same author without the database.
    #[test]
    fn loader_remembers_authors() {
        let conn = blog();
        let mut loader = AuthorLoader::default();
        assert_eq!(loader.get(&conn, 2).unwrap().name, "O'Brien");
        conn.execute("DELETE FROM authors", []).unwrap();
        assert_eq!(loader.get(&conn, 2).unwrap().name, "O'Brien");
    }
}
