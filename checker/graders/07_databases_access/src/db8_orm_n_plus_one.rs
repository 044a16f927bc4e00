//! Grader of `db8_orm_n_plus_one`: a query builder, row mapping, eager and lazy relation loading.
//!
//! The grader seeds a blog database ([`blog`]) in its scratch dir and names it in `BACKLINGS_DB`.
//! 1. Seeded `build` requests: the parameters must be exactly the values asked for (nothing pasted
//!    into the SQL), and the grader runs the SQL with them on its own connection and compares the
//!    rows with its model.
//! 2. Hostile values are data; unknown tables and columns (an injection through a name) are errors.
//! 3. `list_posts` answers match the model, relations included.
//! 4. The statement count (SQLite's trace hook, in the provided `main`) stays at `1 + relations` at
//!    page sizes 5 and 50: no N+1.
//! 5. The lazy loader runs one statement per distinct author (an identity map).

mod blog;

use std::collections::HashSet;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure, ensure_eq};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

use crate::scratch::{Scratch, sql_failure};
use blog::Blog;

/// The columns of each table, in schema order.
fn columns(table: &str) -> &'static [&'static str] {
    match table {
        "authors" => &["id", "name"],
        "posts" => &["id", "author_id", "title", "score"],
        _ => &["id", "post_id", "body"],
    }
}

/// One `build` request and everything needed to predict its answer.
struct Query {
    table: &'static str,
    /// `(column, cmp, value)`; `value` is an array for `in`.
    filters: Vec<(&'static str, &'static str, Value)>,
    order_by: Option<(&'static str, bool)>,
    limit: Option<i64>,
}

impl Query {
    fn request(&self) -> Value {
        let filters: Vec<Value> = self
            .filters
            .iter()
            .map(|(column, cmp, value)| json!({"column": column, "cmp": cmp, "value": value}))
            .collect();
        let mut request = json!({"op": "build", "table": self.table, "filters": filters});
        if let Some((column, descending)) = self.order_by {
            request["order_by"] = json!({"column": column, "descending": descending});
        }
        if let Some(limit) = self.limit {
            request["limit"] = json!(limit);
        }
        request
    }

    /// The parameters in placeholder order: every filter value (an `in` list spread out), then the limit.
    fn params(&self) -> Vec<Value> {
        let mut params = Vec::new();
        for (_, _, value) in &self.filters {
            match value {
                Value::Array(items) => params.extend(items.iter().cloned()),
                value => params.push(value.clone()),
            }
        }
        params.extend(self.limit.map(|limit| json!(limit)));
        params
    }

    /// The rows the query must return, from the model.
    fn rows(&self, blog: &Blog) -> Vec<Vec<Value>> {
        let names = columns(self.table);
        let at = |column: &str| names.iter().position(|c| *c == column).unwrap_or(0);
        let mut rows: Vec<Vec<Value>> = blog
            .rows(self.table)
            .into_iter()
            .filter(|row| {
                self.filters.iter().all(|(column, cmp, value)| {
                    let cell = &row[at(column)];
                    match *cmp {
                        "=" => cell == value,
                        "<" => cell.as_i64() < value.as_i64(),
                        ">" => cell.as_i64() > value.as_i64(),
                        _ => value.as_array().is_some_and(|items| items.contains(cell)),
                    }
                })
            })
            .collect();
        let (column, descending) = self.order_by.unwrap_or(("id", false));
        let key = at(column);
        rows.sort_by(|a, b| {
            let order = match (&a[key], &b[key]) {
                (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
                (x, y) => x.as_i64().cmp(&y.as_i64()),
            };
            let order = if descending { order.reverse() } else { order };
            order.then(a[0].as_i64().cmp(&b[0].as_i64()))
        });
        rows.truncate(self.limit.map_or(usize::MAX, |limit| limit as usize));
        rows
    }
}

/// Grades `db8_orm_n_plus_one`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let scratch = Scratch::new("db8")?;
    let path = scratch.file("blog.db");
    let blog = Blog::seeded(g.rng());
    blog.write(&path)?;
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_failure("open the blog database", e))?;
    let mut p = g.stdio_with(&[], &[("BACKLINGS_DB", path.as_str())])?;

    g.scenario(
        "the query builder binds every value as a parameter, and its SQL returns the right rows",
    );
    for _ in 0..14 {
        let query = seeded_query(g.rng(), &blog);
        check_build(&mut p, &conn, &blog, &query)?;
    }

    g.scenario("hostile values are data, and unknown tables and columns are refused");
    hostile(&mut p, &conn, &blog)?;

    g.scenario("listed posts carry their own author and their own comments");
    let busy = busiest_author(&blog);
    for include in [
        vec![],
        vec!["author"],
        vec!["comments"],
        vec!["author", "comments"],
    ] {
        list(&mut p, &blog, Some(busy), 50, &include, false)?;
    }
    let no_posts = Some(blog.authors.len() as i64);
    list(&mut p, &blog, no_posts, 50, &["author", "comments"], false)?;

    g.scenario("no N+1: the statements per page do not grow with the number of posts");
    for limit in [5, 50] {
        for include in [vec!["author"], vec!["author", "comments"]] {
            list(&mut p, &blog, None, limit, &include, true)?;
        }
    }

    g.scenario("the lazy loader runs one statement per distinct author (an identity map)");
    let limit = 30 + g.rng().below(20) as i64;
    lazy(&mut p, &blog, limit)?;
    drop(scratch);
    Ok(())
}

/// A seeded query on posts or comments: a few filters, maybe an order and a limit.
fn seeded_query(rng: &mut Rng, blog: &Blog) -> Query {
    let posts = blog.posts.len() as u64;
    let mut filters = Vec::new();
    let table = if rng.chance(1, 4) {
        "comments"
    } else {
        "posts"
    };
    for _ in 0..rng.range(1, 2) {
        let filter = if table == "comments" {
            match rng.below(2) {
                0 => {
                    let ids: Vec<Value> = (0..rng.range(1, 6))
                        .map(|_| json!(1 + rng.below(posts)))
                        .collect();
                    ("post_id", "in", json!(ids))
                }
                _ => ("id", ">", json!(rng.below(blog.comments.len() as u64))),
            }
        } else {
            match rng.below(5) {
                0 => ("score", ">", json!(1000 + 250 * rng.below(12) as i64)),
                1 => ("score", "<", json!(1000 + 250 * rng.below(12) as i64)),
                2 => ("author_id", "=", json!(1 + rng.below(11))),
                3 => {
                    let ids: Vec<Value> = (0..rng.range(2, 4))
                        .map(|_| json!(1 + rng.below(11)))
                        .collect();
                    ("author_id", "in", json!(ids))
                }
                _ => {
                    let quoted: Vec<&blog::Post> = blog
                        .posts
                        .iter()
                        .filter(|post| post.title.contains('\''))
                        .collect();
                    let post = if quoted.is_empty() {
                        &blog.posts[0]
                    } else {
                        *rng.pick(&quoted)
                    };
                    ("title", "=", json!(post.title))
                }
            }
        };
        filters.push(filter);
    }
    let order_by = match (table, rng.below(5)) {
        (_, 0) => None,
        ("posts", 1) => Some(("score", true)),
        ("posts", 2) => Some(("score", false)),
        ("posts", 3) => Some(("title", false)),
        ("posts", _) => Some(("author_id", true)),
        (_, _) => Some(("post_id", rng.chance(1, 2))),
    };
    let limit = rng.chance(2, 3).then(|| rng.range(1, 25) as i64);
    Query {
        table,
        filters,
        order_by,
        limit,
    }
}

/// Sends one `build`, checks the parameters, runs the SQL, and compares the rows.
fn check_build(
    p: &mut Stdio,
    conn: &Connection,
    blog: &Blog,
    query: &Query,
) -> Result<(), Failure> {
    let reply = p.request(&query.request())?;
    let (Some(sql), Some(params)) = (reply["sql"].as_str(), reply["params"].as_array()) else {
        return Err(
            Failure::new("a valid query answers {\"sql\": \"…\", \"params\": [...]}")
                .got(reply.to_string()),
        );
    };
    ensure(*params == query.params(), || {
        Failure::new(
            "every value must be a bound parameter, in the order of its `?` placeholder (filter values, \
             an IN list spread out, then the limit): a value pasted into the SQL text is an injection hole",
        )
        .expected(Value::Array(query.params()))
        .got(Value::Array(params.clone()))
        .detail(format!("the SQL: {sql}"))
    })?;
    for value in query.params() {
        if let Some(text) = value.as_str() {
            ensure(!sql.contains(text), || {
                Failure::new("a value appears in the SQL text: it must only be a bound parameter")
                    .got(sql)
                    .detail(format!("the value: {text:?}"))
            })?;
        }
    }
    let expected = query.rows(blog);
    let got = run_sql(conn, sql, params).map_err(|error| {
        Failure::new("the grader ran your SQL with your parameters, and SQLite refused it")
            .got(error)
            .detail(format!("the SQL: {sql}"))
    })?;
    ensure(got == expected, || {
        let show = |rows: &[Vec<Value>]| {
            let ids: Vec<String> = rows.iter().map(|row| row[0].to_string()).collect();
            format!("{} rows, ids [{}]", rows.len(), ids.join(", "))
        };
        let mut failure = Failure::new(
            "your SQL, run with your parameters, must return every column of the table in schema order, \
             the filtered rows, sorted by the column asked for and then by id ascending (by id alone when \
             no order is given), at most `limit` of them",
        )
        .expected(show(&expected))
        .got(show(&got))
        .detail(format!("the SQL: {sql}"));
        if let (Some(a), Some(b)) = (expected.first(), got.first())
            && a.len() != b.len()
        {
            failure = failure.detail(format!(
                "a row must have the columns {:?}; yours has {} columns",
                columns(query.table),
                b.len()
            ));
        }
        failure
    })
}

/// Runs `sql` with `params` and returns every row as JSON values.
fn run_sql(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    let bound: Vec<Sql> = params
        .iter()
        .map(|value| match value {
            Value::Number(n) => Sql::Integer(n.as_i64().unwrap_or_default()),
            Value::String(s) => Sql::Text(s.clone()),
            other => Sql::Text(other.to_string()),
        })
        .collect();
    let mut statement = conn.prepare(sql).map_err(|e| e.to_string())?;
    let width = statement.column_count();
    let rows = statement
        .query_map(rusqlite::params_from_iter(bound), |row| {
            (0..width)
                .map(|i| {
                    Ok(match row.get::<_, Sql>(i)? {
                        Sql::Integer(n) => json!(n),
                        Sql::Text(s) => json!(s),
                        Sql::Real(r) => json!(r),
                        Sql::Null => Value::Null,
                        Sql::Blob(b) => json!(b),
                    })
                })
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| e.to_string())
}

/// Injection attempts through a value (must be harmless) and through names (must be refused).
fn hostile(p: &mut Stdio, conn: &Connection, blog: &Blog) -> Result<(), Failure> {
    let harmless = Query {
        table: "posts",
        filters: vec![("title", "=", json!("x' OR '1'='1"))],
        order_by: None,
        limit: None,
    };
    check_build(p, conn, blog, &harmless)?;
    let empty_in = Query {
        table: "posts",
        filters: vec![("author_id", "in", json!([]))],
        order_by: None,
        limit: Some(5),
    };
    check_build(p, conn, blog, &empty_in)?;
    let refused = [
        (
            json!({"op": "build", "table": "posts", "filters": [
                {"column": "score > 0 OR 1 = 1 --", "cmp": "=", "value": 1}]}),
            "a filter on the column `score > 0 OR 1 = 1 --`",
        ),
        (
            json!({"op": "build", "table": "posts", "filters": [],
                   "order_by": {"column": "(SELECT name FROM authors)", "descending": false}}),
            "an order by the column `(SELECT name FROM authors)`",
        ),
        (
            json!({"op": "build", "table": "posts", "filters": [
                {"column": "password", "cmp": "=", "value": "x"}]}),
            "a filter on `password`, which is not a column of posts",
        ),
        (
            json!({"op": "build", "table": "sqlite_master", "filters": []}),
            "a query on the table `sqlite_master`",
        ),
    ];
    for (request, what) in refused {
        let reply = p.request(&request)?;
        ensure(
            reply.get("error").is_some() && reply.get("sql").is_none(),
            || {
                Failure::new(format!(
                "{what} must be refused with an error (unknown column or table): names cannot be bound as \
                 parameters, so the builder accepts only the table's own columns"
            ))
            .expected("{\"error\": \"unknown column …\"}")
            .got(reply.to_string())
            },
        )?;
    }
    Ok(())
}

/// The author with the most posts (the smallest id among equals).
fn busiest_author(blog: &Blog) -> i64 {
    let count = |id: i64| {
        blog.posts
            .iter()
            .filter(|post| post.author_id == id)
            .count()
    };
    (1..=blog.authors.len() as i64)
        .max_by_key(|&id| (count(id), std::cmp::Reverse(id)))
        .unwrap_or(1)
}

/// `list_posts`: the posts must match the model (and, when counting, run within `1 + relations` statements).
fn list(
    p: &mut Stdio,
    blog: &Blog,
    author_id: Option<i64>,
    limit: i64,
    include: &[&str],
    count_statements: bool,
) -> Result<(), Failure> {
    let request =
        json!({"op": "list_posts", "author_id": author_id, "limit": limit, "include": include});
    let reply = p.request(&request)?;
    let expected: Vec<Value> = blog
        .posts
        .iter()
        .filter(|post| author_id.is_none_or(|id| post.author_id == id))
        .take(limit as usize)
        .map(|post| blog.post_json(post, include))
        .collect();
    let Some(posts) = reply["posts"].as_array() else {
        return Err(
            Failure::new("list_posts answers {\"posts\": [...], \"statements\": n}")
                .got(reply.to_string()),
        );
    };
    if posts.len() != expected.len() {
        return Err(Failure::new(format!(
            "listing the posts of {} (by id, at most {limit}) returns every such post",
            author_id.map_or("every author".to_string(), |id| format!("author {id}"))
        ))
        .expected(format!("{} posts", expected.len()))
        .got(format!("{} posts", posts.len())));
    }
    for (got, want) in posts.iter().zip(&expected) {
        let rule = if got["author"] != want["author"] {
            "each post carries its own author (by author_id), or null when `author` is not included"
        } else if got["comments"] != want["comments"] {
            "each post carries exactly its own comments (by post_id, by id ascending; an empty list when \
             it has none), or null when `comments` is not included"
        } else {
            "each post is mapped from its row: id, author_id, title, score"
        };
        ensure_eq(got, want, rule)?;
    }
    let statements = reply["statements"].as_u64().unwrap_or(u64::MAX);
    let allowed = 1 + include.len() as u64;
    ensure(!count_statements || statements <= allowed, || {
        Failure::new(format!(
            "listing {} posts with {include:?} ran {statements} statements: eager loading runs one query for \
             the posts and one per relation (`WHERE … IN (?, ?, …)`), whatever the number of posts; one query \
             per post is the N+1 problem",
            posts.len()
        ))
        .expected(format!("at most 1 + {} = {allowed} statements", include.len()))
        .got(format!("{statements} statements"))
        .detail(format!("the first statements SQLite ran: {}", reply["log"]))
    })
}

/// `lazy_authors`: the names of the first `limit` posts' authors, one statement per distinct author.
fn lazy(p: &mut Stdio, blog: &Blog, limit: i64) -> Result<(), Failure> {
    let reply = p.request(&json!({"op": "lazy_authors", "limit": limit}))?;
    let posts = &blog.posts[..limit as usize];
    let names: Vec<Value> = posts
        .iter()
        .map(|post| blog.author(post.author_id)["name"].clone())
        .collect();
    ensure_eq(
        &reply["names"],
        &json!(names),
        "the lazy loader returns the author of each post, in post order",
    )?;
    let distinct = posts
        .iter()
        .map(|post| post.author_id)
        .collect::<HashSet<_>>()
        .len() as u64;
    let statements = reply["statements"].as_u64().unwrap_or(u64::MAX);
    ensure(statements <= 1 + distinct, || {
        Failure::new(format!(
            "{limit} posts by {distinct} distinct authors, loaded lazily, ran {statements} statements: an \
             identity map remembers every author it loaded, so each author costs one statement at most"
        ))
        .expected(format!("at most 1 + {distinct} = {} statements", 1 + distinct))
        .got(format!("{statements} statements"))
        .detail(format!("the first statements SQLite ran: {}", reply["log"]))
    })
}
