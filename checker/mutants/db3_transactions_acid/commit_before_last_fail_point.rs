//! mutant: commits before its last fail point, so a transfer that fails there is answered 500 but happened
//! expect: fails at `recorded`

use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};

/// The schema of the grader's database (it creates the file and the accounts).
pub const SCHEMA: &str = "
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    balance_cents INTEGER NOT NULL
) STRICT;
CREATE TABLE transfers (
    id           INTEGER PRIMARY KEY,
    from_id      TEXT NOT NULL REFERENCES accounts (id),
    to_id        TEXT NOT NULL REFERENCES accounts (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0)
) STRICT;
";

/// Why a transfer did not happen.
#[derive(Debug)]
pub enum TransferError {
    /// The request can never succeed (answered 422).
    Invalid(&'static str),
    /// No account with this id (404).
    UnknownAccount(String),
    /// `from` holds less than the amount (409).
    InsufficientFunds,
    /// A fail point fired (500).
    Injected(String),
    /// The database said no (500).
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for TransferError {
    fn from(error: rusqlite::Error) -> Self {
        TransferError::Db(error)
    }
}

/// Moves `amount_cents` from `from` to `to` and records it in the ledger, all or nothing; returns the
/// ledger row's id. Calls `fail.at(..)` after each of its three writes.
pub fn transfer(
    conn: &mut Connection,
    from: &str,
    to: &str,
    amount_cents: i64,
    fail: &FailPoints,
) -> Result<i64, TransferError> {
    if amount_cents <= 0 {
        return Err(TransferError::Invalid("amount_cents must be above 0"));
    }
    if from == to {
        return Err(TransferError::Invalid(
            "from and to must be different accounts",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let balance = |id: &str| -> rusqlite::Result<Option<i64>> {
        tx.query_row(
            "SELECT balance_cents FROM accounts WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()
    };
    let Some(available) = balance(from)? else {
        return Err(TransferError::UnknownAccount(from.to_string()));
    };
    if balance(to)?.is_none() {
        return Err(TransferError::UnknownAccount(to.to_string()));
    }
    if available < amount_cents {
        return Err(TransferError::InsufficientFunds);
    }
    tx.execute(
        "UPDATE accounts SET balance_cents = balance_cents - ?2 WHERE id = ?1",
        params![from, amount_cents],
    )?;
    fail.at("debited")?;
    tx.execute(
        "UPDATE accounts SET balance_cents = balance_cents + ?2 WHERE id = ?1",
        params![to, amount_cents],
    )?;
    fail.at("credited")?;
    tx.execute(
        "INSERT INTO transfers (from_id, to_id, amount_cents) VALUES (?1, ?2, ?3)",
        params![from, to, amount_cents],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    fail.at("recorded")?;
    Ok(id)
}

/// The fail points of one request, from its `X-Fail-Point` / `X-Crash-Point` headers (provided: you do
/// not need to change this).
#[derive(Debug, Default, Clone)]
pub struct FailPoints {
    /// The point that returns an error.
    pub fail: Option<String>,
    /// The point that kills the process.
    pub crash: Option<String>,
}

impl FailPoints {
    /// No fail point: every `at` is a no-op.
    pub fn none() -> Self {
        FailPoints::default()
    }

    /// Passes `point` (the name of the write just done): usually nothing happens; the grader may make it
    /// return an error, or kill the process right here, as a crash would.
    pub fn at(&self, point: &str) -> Result<(), TransferError> {
        if self.crash.as_deref() == Some(point) {
            eprintln!("fail point `{point}`: the process is killed here (X-Crash-Point)");
            std::process::abort();
        }
        if self.fail.as_deref() == Some(point) {
            return Err(TransferError::Injected(point.to_string()));
        }
        Ok(())
    }
}

/// Opens one connection to the database file (provided: you do not need to change this).
pub fn connect(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    // Wait up to 5 s for the write lock instead of failing at once when another request holds it.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

fn post_transfer(conn: &mut Connection, request: &Request) -> Response {
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => return json_response(400, &json!({ "error": format!("bad JSON: {e}") })),
    };
    let (Some(from), Some(to), Some(amount)) = (
        body.get("from").and_then(Value::as_str),
        body.get("to").and_then(Value::as_str),
        body.get("amount_cents").and_then(Value::as_i64),
    ) else {
        return json_response(
            400,
            &json!({ "error": "expected {\"from\": id, \"to\": id, \"amount_cents\": n}" }),
        );
    };
    let fail = FailPoints {
        fail: request.header("x-fail-point").map(str::to_string),
        crash: request.header("x-crash-point").map(str::to_string),
    };
    match transfer(conn, from, to, amount, &fail) {
        Ok(id) => json_response(200, &json!({ "id": id })),
        Err(error) => {
            let (status, message) = match error {
                TransferError::Invalid(why) => (422, why.to_string()),
                TransferError::UnknownAccount(id) => (404, format!("no account `{id}`")),
                TransferError::InsufficientFunds => (409, "insufficient funds".to_string()),
                TransferError::Injected(point) => (500, format!("fail point `{point}`")),
                TransferError::Db(e) => (500, format!("database error: {e}")),
            };
            json_response(status, &json!({ "error": message }))
        }
    }
}

/// Serves one request on its own connection (provided: you do not need to change this).
fn handle(path: &str, request: &Request) -> Response {
    let mut conn = match connect(path) {
        Ok(conn) => conn,
        Err(e) => {
            return json_response(500, &json!({ "error": format!("could not connect: {e}") }));
        }
    };
    let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["transfers"]) => post_transfer(&mut conn, request),
        ("GET", ["accounts", id]) => match conn
            .query_row(
                "SELECT balance_cents FROM accounts WHERE id = ?1",
                [id],
                |row| row.get::<_, i64>(0),
            )
            .optional()
        {
            Ok(Some(balance)) => json_response(200, &json!({ "id": id, "balance_cents": balance })),
            Ok(None) => json_response(404, &json!({ "error": format!("no account `{id}`") })),
            Err(e) => json_response(500, &json!({ "error": e.to_string() })),
        },
        _ => json_response(404, &json!({ "error": "not found" })),
    }
}

/// Serves transfers on the database named by `--db PATH` (provided: you do not need to change this).
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--db" => path.clone(),
        _ => {
            eprintln!("usage: db3_transactions_acid --db PATH");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = connect(&path) {
        eprintln!("error: could not open the database `{path}`: {error}");
        return ExitCode::FAILURE;
    }
    match serve(move |request| handle(&path, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
