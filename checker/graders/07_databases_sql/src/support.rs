//! What the SQL graders share: a temp directory the grader owns for the learner's database file, the grader's
//! own connection to that file (the "second client"), and JSON-over-HTTP calls recorded in the transcript.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Server};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// A temp directory holding the learner's database file; removed (pass or fail) when dropped.
pub struct DbDir {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl DbDir {
    /// A fresh directory with the path of a database file `name` in it (the file does not exist yet).
    pub fn new(name: &str) -> Result<Self, Failure> {
        let dir = tempfile::Builder::new()
            .prefix("backlings-db-")
            .tempdir()
            .map_err(|e| {
                Failure::new(format!("the grader could not make a temp directory: {e}"))
            })?;
        let file = dir.path().join(name);
        Ok(DbDir { _dir: dir, file })
    }

    /// The database file's path.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The database file's path as text, for a command line.
    pub fn arg(&self) -> String {
        self.file.display().to_string()
    }
}

/// The grader's own connection to the learner's database file: foreign keys on (as every client should
/// have them), and a busy timeout so a write of the program in flight is waited for, not an error.
pub fn second_client(file: &Path) -> Result<Connection, Failure> {
    let conn =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| {
            Failure::new("the grader could not open the program's database file")
                .got(format!("{}: {e}", file.display()))
                .detail("the program must create its database in the file given by --db")
        })?;
    conn.busy_timeout(Duration::from_secs(3))
        .and_then(|()| conn.pragma_update(None, "foreign_keys", true))
        .map_err(|e| Failure::new(format!("the grader could not set up its connection: {e}")))?;
    Ok(conn)
}

/// `SELECT count(*) ...` through the grader's connection, as a failure if the query cannot run.
pub fn count(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<i64, Failure> {
    conn.query_row(sql, params, |row| row.get(0)).map_err(|e| {
        Failure::new("the grader could not read the program's database file")
            .detail(format!("query: {sql}"))
            .detail(format!("error: {e}"))
    })
}

/// The status and the JSON body (`null` when empty or not JSON) of one exchange.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body parsed as JSON, or `null`.
    pub body: Value,
    /// The raw response, for reports.
    pub raw: Response,
}

impl Reply {
    /// `201 {"id":3}` style, for reports.
    pub fn summary(&self) -> String {
        let text = self.raw.text();
        if text.is_empty() {
            format!("{} (no body)", self.status)
        } else {
            format!("{} {}", self.status, text.trim_end())
        }
    }
}

/// Sends `method path` with an optional JSON body on a new connection (recorded in the transcript).
pub fn call(
    server: &mut Server,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Reply, Failure> {
    let mut request = Request::new(method, path);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let raw = server.http(&request)?;
    let body = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
    Ok(Reply {
        status: raw.status,
        body,
        raw,
    })
}

/// `METHOD path body` in one line, for reports.
pub fn describe(method: &str, path: &str, body: Option<&Value>) -> String {
    match body {
        Some(body) => format!("{method} {path} {body}"),
        None => format!("{method} {path}"),
    }
}
