//! Grader of `db10_migrations_triggers`: a migration runner, and triggers keeping counters.
//!
//! The grader owns the migrations directory and the database (both in its scratch dir). It writes
//! migration files, asks the program to migrate, and inspects `schema_migrations` and the schema
//! itself after every run: numeric order, each migration once, a failing one rolled back and the
//! run stopped, an edited one detected before anything runs. Then it installs the learner's
//! `COUNTERS_MIGRATION` on a database that already has rows (the backfill), writes rows with plain
//! SQL of its own ([`writes`]), and checks every counter against `COUNT(*)` after each write.

mod writes;

use std::path::PathBuf;

use backlings_grade::{Failure, Grading, Stdio, ensure, ensure_eq};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::scratch::{Scratch, sql_failure};

/// The checksum the contract specifies: FNV-1a 64 of the file's bytes, 16 lowercase hex digits.
fn checksum(sql: &str) -> String {
    let hash = sql.bytes().fold(0xCBF2_9CE4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    format!("{hash:016x}")
}

/// The migration files the grader has written, as the runner must record them.
struct Migrations {
    dir: PathBuf,
    /// `(version, name, sql)` of every real migration file on disk.
    files: Vec<(i64, String, String)>,
}

impl Migrations {
    fn write(&mut self, version: i64, name: &str, sql: &str) -> Result<(), Failure> {
        self.write_raw(&format!("{version}_{name}.sql"), sql)?;
        self.files.retain(|(v, _, _)| *v != version);
        self.files
            .push((version, name.to_string(), sql.to_string()));
        self.files.sort_by_key(|(v, _, _)| *v);
        Ok(())
    }

    fn write_raw(&self, file: &str, text: &str) -> Result<(), Failure> {
        std::fs::write(self.dir.join(file), text).map_err(|e| {
            Failure::new(format!(
                "the grader could not write the migration {file}: {e}"
            ))
        })
    }

    /// The rows `schema_migrations` must hold when the files up to `last` are applied.
    fn expected_rows(&self, last: i64) -> Vec<Value> {
        self.files
            .iter()
            .filter(|(version, _, _)| *version <= last)
            .map(|(version, name, sql)| json!([version, name, checksum(sql)]))
            .collect()
    }
}

/// Grades `db10_migrations_triggers`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let scratch = Scratch::new("db10")?;
    let db = scratch.file("app.db");
    let dir = scratch.file("migrations");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(format!("the grader could not create {dir}: {e}")))?;
    let mut files = Migrations {
        dir: PathBuf::from(&dir),
        files: Vec::new(),
    };
    let mut p = g.stdio_with(
        &[],
        &[
            ("BACKLINGS_DB", db.as_str()),
            ("MIGRATIONS_DIR", dir.as_str()),
        ],
    )?;
    let conn = Connection::open(&db).map_err(|e| sql_failure("open the database", e))?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(|e| sql_failure("set a busy timeout", e))?;

    g.scenario("a fresh database gets every migration once, in numeric order of version");
    let b = g.rng().range(2, 9) as i64;
    let c = g.rng().range(10, 19) as i64;
    files.write(
        1,
        "create_authors",
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    )?;
    files.write(
        b,
        "create_posts",
        "CREATE TABLE posts (\n  id INTEGER PRIMARY KEY,\n  author_id INTEGER NOT NULL REFERENCES authors(id),\n  \
         title TEXT NOT NULL\n);\n",
    )?;
    files.write(
        c,
        "add_post_slug",
        "ALTER TABLE posts ADD COLUMN slug TEXT;\nCREATE UNIQUE INDEX posts_slug ON posts(slug);\n",
    )?;
    files.write_raw("README.md", "Migrations run in order of their number.\n")?;
    files.write_raw(
        "notes.sql",
        "this file has no version: the runner ignores it\n",
    )?;
    files.write_raw(&format!("{}_old.sql.bak", c + 50), "DROP TABLE authors;\n")?;
    let rule = format!(
        "a fresh database applies every `<version>_<name>.sql` file in ascending numeric order of version: \
         [1, {b}, {c}] (`{c}_…` comes after `{b}_…`, although it sorts before it as text); other files are ignored"
    );
    migrate(&mut p, &json!({"applied": [1, b, c]}), &rule)?;
    check_recorded(&conn, &files, c)?;

    g.scenario("a second run applies nothing");
    migrate(
        &mut p,
        &json!({"applied": []}),
        "a run with no new migration applies nothing",
    )?;
    check_recorded(&conn, &files, c)?;

    g.scenario("new migrations run after the ones already applied");
    files.write(
        c + 1,
        "create_comments",
        "CREATE TABLE comments (\n  id INTEGER PRIMARY KEY,\n  post_id INTEGER NOT NULL REFERENCES posts(id),\n  \
         body TEXT NOT NULL\n);\n",
    )?;
    files.write(
        c + 2,
        "seed_admin",
        "INSERT INTO authors (id, name) VALUES (1, 'admin');\n",
    )?;
    migrate(
        &mut p,
        &json!({"applied": [c + 1, c + 2]}),
        "a run applies only the migrations not recorded yet, in order",
    )?;
    check_recorded(&conn, &files, c + 2)?;

    g.scenario("a failing migration is rolled back whole, is not recorded, and stops the run");
    let broken = "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                  INSERT INTO tags VALUES (1, 'databases');\n\
                  INSERT INTO post_tags VALUES (1, 1);\n";
    files.write(c + 3, "create_tags", broken)?;
    files.write(
        c + 4,
        "add_author_bio",
        "ALTER TABLE authors ADD COLUMN bio TEXT;\n",
    )?;
    let reply = p.request(&json!({"op": "migrate"}))?;
    ensure(
        reply["kind"] == json!("failed") && reply["version"] == json!(c + 3),
        || {
            Failure::new(format!(
                "migration {} fails on its third statement (the table post_tags does not exist): the run \
                 reports it and stops there, so the migrations after it do not run",
                c + 3
            ))
            .expected(format!("{{\"kind\": \"failed\", \"version\": {}, …}}", c + 3))
            .got(reply.to_string())
        },
    )?;
    ensure(!has_table(&conn, "tags")?, || {
        Failure::new(format!(
            "migration {} failed after creating the table `tags`: a failing migration is rolled back whole \
             (run it in a transaction, which SQLite rolls back DDL too), so `tags` must not exist",
            c + 3
        ))
        .expected("no table `tags`")
        .got("the table `tags` exists")
    })?;
    ensure(!has_column(&conn, "authors", "bio")?, || {
        Failure::new(format!(
            "migration {} failed, so the run stops there: migration {}, which comes after it, must not run",
            c + 3,
            c + 4
        ))
        .expected("no column authors.bio")
        .got("authors.bio exists")
    })?;
    check_recorded(&conn, &files, c + 2)?;
    files.write(
        c + 3,
        "create_tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
         CREATE TABLE post_tags (post_id INTEGER NOT NULL, tag_id INTEGER NOT NULL);\n\
         INSERT INTO tags VALUES (1, 'databases');\n",
    )?;
    migrate(
        &mut p,
        &json!({"applied": [c + 3, c + 4]}),
        "once the failing migration is fixed, the next run applies it and the ones after it",
    )?;
    check_recorded(&conn, &files, c + 4)?;

    g.scenario("an edited migration is detected before anything runs");
    let original = files
        .files
        .iter()
        .find(|(v, _, _)| *v == b)
        .map(|f| f.2.clone())
        .unwrap_or_default();
    files.write_raw(
        &format!("{b}_create_posts.sql"),
        &format!("{original}-- added a column here, oops\n"),
    )?;
    files.write(
        c + 5,
        "index_comments",
        "CREATE INDEX comments_post ON comments(post_id);\n",
    )?;
    let reply = p.request(&json!({"op": "migrate"}))?;
    ensure(
        reply["kind"] == json!("checksum") && reply["version"] == json!(b),
        || {
            Failure::new(format!(
            "the file of migration {b}, applied earlier, was edited: the run compares every recorded checksum \
             with its file and refuses to go on, naming the edited version"
        ))
        .expected(format!("{{\"kind\": \"checksum\", \"version\": {b}, …}}"))
        .got(reply.to_string())
        },
    )?;
    ensure(!has_index(&conn, "comments_post")?, || {
        Failure::new(format!(
            "an edited migration stops the run before anything is applied: migration {} must not have run",
            c + 5
        ))
    })?;
    check_recorded(&conn, &files, c + 4)?;
    files.write_raw(&format!("{b}_create_posts.sql"), &original)?;
    migrate(
        &mut p,
        &json!({"applied": [c + 5]}),
        "with the edited file restored, the run applies the new migration",
    )?;

    g.scenario("the counters migration backfills the rows already there");
    let mut blog = writes::Blog::seed(g.rng(), &conn)?;
    let reply = p.request(&json!({"op": "counters_migration"}))?;
    let Some(sql) = reply["sql"].as_str() else {
        return Err(
            Failure::new("counters_migration answers {\"sql\": \"…\"}").got(reply.to_string())
        );
    };
    files.write(c + 6, "comment_counters", sql)?;
    migrate(
        &mut p,
        &json!({"applied": [c + 6]}),
        "the counters migration applies cleanly",
    )?;
    writes::check_counters(&conn, &blog, None)?;

    g.scenario("triggers keep the counters right through inserts, deletes and moves");
    for _ in 0..120 {
        let write = blog.random_write(g.rng());
        blog.apply(&conn, &write)?;
        writes::check_counters(&conn, &blog, Some(&write))?;
    }

    g.scenario("a last run applies nothing");
    migrate(
        &mut p,
        &json!({"applied": []}),
        "a run with no new migration applies nothing",
    )?;
    check_recorded(&conn, &files, c + 6)?;
    drop(p);
    drop(scratch);
    Ok(())
}

/// Sends `migrate` and expects `expected` back.
fn migrate(p: &mut Stdio, expected: &Value, rule: &str) -> Result<(), Failure> {
    let reply = p.request(&json!({"op": "migrate"}))?;
    ensure_eq(&reply, expected, rule)
}

/// `schema_migrations` must hold exactly the files up to `last`, with their names and checksums.
fn check_recorded(conn: &Connection, files: &Migrations, last: i64) -> Result<(), Failure> {
    let got: Vec<Value> = conn
        .prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok(json!([row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?]))
                })?
                .collect()
        })
        .map_err(|e| {
            Failure::new(format!(
                "the grader could not read schema_migrations (version INTEGER, name TEXT, checksum TEXT): {e}"
            ))
        })?;
    ensure_eq(
        &got,
        &files.expected_rows(last),
        "schema_migrations records every applied migration once, as [version, name, checksum] (FNV-1a 64 of \
         the file's text, 16 lowercase hex digits), and nothing else",
    )
}

fn count(conn: &Connection, sql: &str, name: &str) -> Result<i64, Failure> {
    conn.query_row(sql, [name], |row| row.get(0))
        .map_err(|e| sql_failure("inspect the schema", e))
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, Failure> {
    Ok(count(
        conn,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        name,
    )? > 0)
}

fn has_index(conn: &Connection, name: &str) -> Result<bool, Failure> {
    Ok(count(
        conn,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
        name,
    )? > 0)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, Failure> {
    let sql = format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1");
    Ok(count(conn, &sql, column)? > 0)
}
