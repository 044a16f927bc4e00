//! mutant: a failing migration is rolled back, but the run goes on with the next ones
//! expect: stops there
//! # Schema migrations, and triggers that keep denormalized counters right
//!
//! A database schema changes with the code: a new table, a new column, an index. Those changes
//! ship as **migrations**, small SQL files numbered in the order they must run
//! (`1_create_authors.sql`, `2_create_posts.sql`, …), checked into the repository next to the code
//! and applied by a **migration runner** at deploy time: Flyway, Liquibase, Rails and Django
//! migrations, `sqlx migrate`, `refinery`, `diesel migration`. Every runner keeps a table in the
//! database itself that records which migrations have run (here `schema_migrations`), so that a
//! deploy applies exactly the ones that are new, on every environment, whatever state it was in.
//!
//! The runner's promises, which this exercise builds over SQLite:
//!
//! - **Ordered by version, numerically.** `10_add_slug.sql` runs after `2_create_posts.sql`, even
//!   though "10" sorts before "2" as text.
//! - **Each migration once.** A rerun with nothing new changes nothing (*idempotent*): deploys run
//!   the runner every time.
//! - **Transactional.** A migration and the row that records it commit together or not at all
//!   (SQLite, like PostgreSQL, has transactional DDL: even `CREATE TABLE` rolls back). A migration
//!   that fails half-way must leave no half-created table behind and must not be recorded; the run
//!   stops there, so the later migrations, which may depend on it, do not run.
//! - **Drift detection.** The runner stores a checksum of every applied file. If someone edits a
//!   migration that already ran, the environments silently disagree about the schema; the runner
//!   refuses to run anything until the file is restored (or a new migration makes the change).
//!
//! The second half is about **denormalization**. A page that shows "42 comments" under every post
//! should not run `COUNT(*)` per post: the count is stored in the row (`posts.comment_count`), a
//! deliberate copy of derived data. The danger of every copy is that it drifts. SQLite has no
//! stored procedures, but it has **triggers**, SQL that the database runs itself after every
//! `INSERT`, `UPDATE` or `DELETE`: the counter stays right whatever code writes the rows (your
//! service, a script, an admin in a SQL shell). You write that migration too: `COUNTERS_MIGRATION`.
//!
//! ## The contract the grader checks
//!
//! The grader writes migration files into the directory named by `MIGRATIONS_DIR`, and asks the
//! program to migrate the database named by `BACKLINGS_DB` (see the provided `main`):
//!
//! - Migration files are named `<version>_<name>.sql` (`12_create_tags.sql`: version 12, name
//!   `create_tags`); every other file is ignored. Pending migrations are applied in ascending
//!   version order, each in its own transaction together with its row
//!   `(version, name, checksum)` in `schema_migrations` (created by the runner when missing; the
//!   checksum is [`checksum`] of the file's text).
//! - A migration that fails is rolled back whole, is not recorded, and ends the run: the answer
//!   names it, and the migrations before it stay applied.
//! - Before applying anything, every recorded migration is compared with its file: a different
//!   checksum is an error naming that version, and nothing runs.
//! - `COUNTERS_MIGRATION` adds `posts.comment_count` and `authors.post_count`, fills them in for
//!   the rows already there, and installs triggers that keep them equal to the real counts
//!   through any insert, delete, or update that moves a comment to another post or a post to
//!   another author. The grader then writes rows itself, with plain SQL, and checks every counter.
//!
//! ## Pitfalls
//!
//! - Sorting file names as strings: `10_…` before `2_…`.
//! - `execute_batch` outside a transaction: the statements before the failing one stay applied.
//! - Recording the version before running the migration, or outside its transaction.
//! - Triggers count only future writes: a counter column added to a table with rows needs a
//!   backfill `UPDATE` in the same migration.
//! - `AFTER UPDATE` triggers that forget a row can *move*: the old parent loses one, the new one
//!   gains one.
//!
//! Roadmap: Databases, migrations; stored procedures and triggers; normalization vs denormalization.

use std::path::Path;

use rusqlite::{Connection, params};

/// The runner's bookkeeping table.
pub const SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL
)";

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {version} was edited after it was applied (checksum {recorded} in the database, {current} on disk)"
    )]
    Checksum {
        version: i64,
        recorded: String,
        current: String,
    },
    #[error("migration {version} failed and was rolled back: {source}")]
    Failed {
        version: i64,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// The checksum of a migration's text: FNV-1a 64 of its bytes, 16 lowercase hex digits.
/// Provided: you do not need to change this.
pub fn checksum(sql: &str) -> String {
    let hash = sql.bytes().fold(0xCBF2_9CE4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    format!("{hash:016x}")
}

/// Every `<version>_<name>.sql` file of `dir`, by ascending version; other files are ignored.
pub fn load_migrations(dir: &Path) -> std::io::Result<Vec<Migration>> {
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".sql") else {
            continue;
        };
        let Some((version, name)) = stem.split_once('_') else {
            continue;
        };
        let Ok(version) = version.parse::<i64>() else {
            continue;
        };
        migrations.push(Migration {
            version,
            name: name.to_string(),
            sql: std::fs::read_to_string(&path)?,
        });
    }
    migrations.sort_by_key(|migration| migration.version);
    Ok(migrations)
}

/// Applies the pending `migrations` (sorted by version) and returns the versions applied.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<i64>, MigrateError> {
    conn.execute_batch(SCHEMA_MIGRATIONS)?;
    let recorded: Vec<(i64, String)> = conn
        .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (version, recorded) in &recorded {
        if let Some(migration) = migrations.iter().find(|m| m.version == *version) {
            let current = checksum(&migration.sql);
            if current != *recorded {
                return Err(MigrateError::Checksum {
                    version: *version,
                    recorded: recorded.clone(),
                    current,
                });
            }
        }
    }
    let mut applied = Vec::new();
    for migration in migrations {
        if recorded
            .iter()
            .any(|(version, _)| *version == migration.version)
        {
            continue;
        }
        let failed = |source| MigrateError::Failed {
            version: migration.version,
            source,
        };
        // Dropping an uncommitted transaction rolls it back: the early returns undo everything.
        let tx = conn.transaction()?;
        if tx.execute_batch(&migration.sql).is_err() {
            continue;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?1, ?2, ?3)",
            params![migration.version, migration.name, checksum(&migration.sql)],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        applied.push(migration.version);
    }
    Ok(applied)
}

/// The migration that denormalizes the comment and post counts and keeps them right with triggers.
pub const COUNTERS_MIGRATION: &str = "
ALTER TABLE posts ADD COLUMN comment_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authors ADD COLUMN post_count INTEGER NOT NULL DEFAULT 0;

UPDATE posts SET comment_count = (SELECT COUNT(*) FROM comments WHERE comments.post_id = posts.id);
UPDATE authors SET post_count = (SELECT COUNT(*) FROM posts WHERE posts.author_id = authors.id);

CREATE TRIGGER comments_count_insert AFTER INSERT ON comments BEGIN
    UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;
CREATE TRIGGER comments_count_delete AFTER DELETE ON comments BEGIN
    UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
END;
CREATE TRIGGER comments_count_move AFTER UPDATE OF post_id ON comments
WHEN OLD.post_id IS NOT NEW.post_id BEGIN
    UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
    UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts BEGIN
    UPDATE authors SET post_count = post_count + 1 WHERE id = NEW.author_id;
END;
CREATE TRIGGER posts_count_delete AFTER DELETE ON posts BEGIN
    UPDATE authors SET post_count = post_count - 1 WHERE id = OLD.author_id;
END;
CREATE TRIGGER posts_count_move AFTER UPDATE OF author_id ON posts
WHEN OLD.author_id IS NOT NEW.author_id BEGIN
    UPDATE authors SET post_count = post_count - 1 WHERE id = OLD.author_id;
    UPDATE authors SET post_count = post_count + 1 WHERE id = NEW.author_id;
END;
";

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It serves the grader over JSON lines:
//
//   {"op":"migrate"}             -> {"applied":[1,2,10]}
//                                -> {"error":"…","kind":"checksum","version":2}  nothing was applied
//                                -> {"error":"…","kind":"failed","version":13,"applied":[11,12]}
//   {"op":"counters_migration"}  -> {"sql":"<COUNTERS_MIGRATION>"}  (the grader saves it as a file)
//
// The database is `BACKLINGS_DB`, the migrations directory `MIGRATIONS_DIR`.

mod provided {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;

    #[derive(Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Request {
        Migrate,
        CountersMigration,
    }

    /// Runs `migrate` with whatever it applied before a failure reported too.
    fn run(conn: &mut Connection, dir: &Path) -> Value {
        let migrations = match load_migrations(dir) {
            Ok(migrations) => migrations,
            Err(error) => return json!({"error": format!("reading {}: {error}", dir.display())}),
        };
        let before = applied_versions(conn);
        match migrate(conn, &migrations) {
            Ok(applied) => json!({"applied": applied}),
            Err(error) => {
                let (kind, version) = match &error {
                    MigrateError::Checksum { version, .. } => ("checksum", Some(*version)),
                    MigrateError::Failed { version, .. } => ("failed", Some(*version)),
                    MigrateError::Sql(_) => ("sql", None),
                };
                let after = applied_versions(conn);
                let applied: Vec<i64> = after.into_iter().filter(|v| !before.contains(v)).collect();
                json!({"error": error.to_string(), "kind": kind, "version": version, "applied": applied})
            }
        }
    }

    fn applied_versions(conn: &Connection) -> Vec<i64> {
        let Ok(mut statement) =
            conn.prepare("SELECT version FROM schema_migrations ORDER BY version")
        else {
            return Vec::new();
        };
        statement
            .query_map([], |row| row.get(0))
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default()
    }

    pub fn main() {
        let db = std::env::var("BACKLINGS_DB").unwrap_or_else(|_| "app.db".to_string());
        let dir = std::env::var("MIGRATIONS_DIR").unwrap_or_else(|_| "migrations".to_string());
        let mut conn = Connection::open(&db).expect("open the database named by BACKLINGS_DB");
        backlings_harness::stdio::serve_json_lines(|request: Request| match request {
            Request::Migrate => run(&mut conn, Path::new(&dir)),
            Request::CountersMigration => json!({"sql": COUNTERS_MIGRATION}),
        });
    }
}

fn main() {
    provided::main();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(version: i64, name: &str, sql: &str) -> Migration {
        Migration {
            version,
            name: name.to_string(),
            sql: sql.to_string(),
        }
    }

    fn blog_schema() -> Vec<Migration> {
        vec![
            migration(
                1,
                "authors",
                "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
            ),
            migration(
                2,
                "posts",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, title TEXT NOT NULL);",
            ),
            migration(
                3,
                "comments",
                "CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, body TEXT NOT NULL);",
            ),
        ]
    }

    // Files are read in numeric order of version, and other files are ignored.
    #[test]
    fn loads_files_in_numeric_order() {
        let dir = std::env::temp_dir().join(format!("db10-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("10_c.sql"), "SELECT 10;").unwrap();
        std::fs::write(dir.join("2_b.sql"), "SELECT 2;").unwrap();
        std::fs::write(dir.join("README.md"), "notes").unwrap();
        let versions: Vec<i64> = load_migrations(&dir)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(versions, vec![2, 10]);
    }

    // A second run applies nothing.
    #[test]
    fn rerun_applies_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, &blog_schema()).unwrap(), vec![1, 2, 3]);
        assert_eq!(
            migrate(&mut conn, &blog_schema()).unwrap(),
            Vec::<i64>::new()
        );
    }

    // A failing migration leaves nothing behind and is not recorded.
    #[test]
    fn failure_rolls_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        let mut migrations = blog_schema();
        migrations.push(migration(
            4,
            "bad",
            "CREATE TABLE tags (id INTEGER); INSERT INTO nowhere VALUES (1);",
        ));
        assert!(matches!(
            migrate(&mut conn, &migrations),
            Err(MigrateError::Failed { version: 4, .. })
        ));
        let tags: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'tags'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tags, 0);
    }

    // An edited migration is refused.
    #[test]
    fn edited_migration_is_detected() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &blog_schema()).unwrap();
        let mut edited = blog_schema();
        edited[1].sql.push_str(" -- tweak");
        assert!(matches!(
            migrate(&mut conn, &edited),
            Err(MigrateError::Checksum { version: 2, .. })
        ));
    }

    // Counters are backfilled and follow inserts, deletes and moves.
    #[test]
    fn counters_follow_every_write() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &blog_schema()).unwrap();
        conn.execute_batch(
            "INSERT INTO authors VALUES (1, 'a'), (2, 'b');
             INSERT INTO posts VALUES (1, 1, 'x'), (2, 1, 'y');
             INSERT INTO comments VALUES (1, 1, 'c'), (2, 1, 'd');",
        )
        .unwrap();
        migrate(&mut conn, &[migration(4, "counters", COUNTERS_MIGRATION)]).unwrap();
        conn.execute_batch(
            "INSERT INTO comments VALUES (3, 2, 'e');
             UPDATE comments SET post_id = 2 WHERE id = 1;
             DELETE FROM comments WHERE id = 2;
             UPDATE posts SET author_id = 2 WHERE id = 2;",
        )
        .unwrap();
        let count = |sql: &str| -> Vec<i64> {
            let mut statement = conn.prepare(sql).unwrap();
            statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            count("SELECT comment_count FROM posts ORDER BY id"),
            vec![0, 2]
        );
        assert_eq!(
            count("SELECT post_count FROM authors ORDER BY id"),
            vec![1, 1]
        );
    }
}
