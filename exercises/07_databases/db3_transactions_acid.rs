//! # Transactions: all or nothing, even when the process dies
//!
//! A money transfer is three writes: take the amount from one account, add it to another, record it in the
//! ledger. If the process stops between the first and the second (a panic, a deploy that kills it, the
//! machine losing power, an error from the database), money has vanished; if two transfers read the same
//! balance at the same time and both write back "balance − amount", one of the debits is lost and money is
//! created. A **transaction** groups writes so that the database gives four promises, **ACID**:
//!
//! - **Atomicity**: all the writes happen, or none (after a crash too: SQLite keeps a journal, or a WAL, and
//!   on the next open it undoes what was not committed);
//! - **Consistency**: every rule that held before holds after (here: money is neither created nor lost, no
//!   balance goes below zero);
//! - **Isolation**: concurrent transactions do not see each other's half-done work; the result is as if
//!   they ran one after the other (how strictly depends on the *isolation level*, see `db4`);
//! - **Durability**: once committed, the writes survive a crash.
//!
//! In rusqlite, `conn.transaction()` returns a [`rusqlite::Transaction`]: statements run on it, `commit()`
//! makes them permanent, and dropping it without `commit()` (an early `return`, a `?`) rolls everything
//! back. That is the whole trick: write the happy path with `?`, and every failure path undoes itself.
//!
//! **Concurrency.** SQLite allows one writer at a time. A plain `BEGIN` (rusqlite's default, `DEFERRED`)
//! takes no lock until the first statement: a transaction that *reads* a balance and *then* writes can find
//! that another writer got there in between, and SQLite answers `SQLITE_BUSY` ("database is locked") at
//! once rather than let it write on top of a stale read. `BEGIN IMMEDIATE`
//! (`conn.transaction_with_behavior(TransactionBehavior::Immediate)`) takes the write lock first, waiting
//! its turn (up to the busy timeout), so the read and the write see the same state. In PostgreSQL or MySQL
//! the same job is done by `SELECT ... FOR UPDATE` on the rows involved (locked in a fixed order, e.g. by
//! id, so that two opposite transfers do not deadlock), or by `UPDATE ... SET balance = balance - $1 WHERE
//! id = $2 AND balance >= $1`, which reads and writes in one atomic statement.
//!
//! ## The contract
//!
//! The program is run as `db3_transactions_acid --db PATH`. The grader owns the database file (schema
//! below, in WAL mode, with its accounts) and the program serves (each request on its own connection, so
//! requests really run concurrently):
//!
//! - `POST /transfers` with `{"from": "acc-1", "to": "acc-2", "amount_cents": 500}`:
//!   `200 {"id": N}` (the new ledger row's id) when done; `422` for an amount not above 0 or `from` equal to
//!   `to`; `404` for an account that does not exist; `409` when `from` holds less than the amount (a
//!   balance may reach 0, never below). A refused or failed transfer changes nothing at all.
//! - `GET /accounts/ID`: `200 {"id": ..., "balance_cents": ...}`, or `404`.
//!
//! A transfer debits `from`, credits `to` and inserts its ledger row into `transfers`, in that order, and
//! calls `fail.at("debited")`, `fail.at("credited")` and `fail.at("recorded")` right after each of these
//! writes (before the commit). These are **fail points**: normally they do nothing; the grader sends a
//! header that makes one of them return an error (`X-Fail-Point: credited`, answered `500`) or kill the
//! process on the spot (`X-Crash-Point: debited`). Either way the data must be as if the transfer never
//! started, and after a crash the program must start again on the same file and find every committed
//! transfer. The grader also sends 500 transfers at once from many clients, and then checks that the total
//! of the balances never changed, that no balance is negative, and that every balance equals its opening
//! balance plus what the ledger says came in, minus what went out.
//!
//! ## Pitfalls
//!
//! - Running the three writes as three autocommit statements: each is its own transaction.
//! - Reading the balance, computing in Rust, and writing the result back without holding the write lock:
//!   two concurrent transfers both read 100, both write 100 − 30, and 30 is lost (the *lost update*).
//! - Checking funds *outside* the transaction that debits: between the check and the debit another
//!   transfer can spend the money.
//! - Committing before the last write (or calling the fail points after the commit): the request fails,
//!   but half of it happened.
//! - The schema has no `CHECK (balance_cents >= 0)` here, on purpose: the transfer itself must refuse. In
//!   production, have both.
//!
//! Roadmap: ACID; transactions; concurrency control (locks, lost updates).

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
    // TODO: refuse what can never succeed, then in ONE transaction that holds the write lock from its
    // start: check both accounts and the funds, debit, credit, insert the ledger row (calling
    // `fail.at(..)` after each of these three writes), and commit.
    todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch("INSERT INTO accounts VALUES ('a', 1000), ('b', 500);")
            .unwrap();
        conn
    }

    fn balances(conn: &Connection) -> (i64, i64, i64) {
        let get = |id: &str| -> i64 {
            conn.query_row(
                "SELECT balance_cents FROM accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        };
        let ledger: i64 = conn
            .query_row("SELECT count(*) FROM transfers", [], |r| r.get(0))
            .unwrap();
        (get("a"), get("b"), ledger)
    }

    // A transfer moves the money and writes one ledger row.
    #[test]
    fn a_transfer_moves_money_and_records_it() {
        let mut conn = bank();
        let id = transfer(&mut conn, "a", "b", 300, &FailPoints::none()).unwrap();
        assert!(id > 0);
        assert_eq!(balances(&conn), (700, 800, 1));
    }

    // A balance may reach 0 but never go below: the next cent is refused, and nothing changes.
    #[test]
    fn insufficient_funds_change_nothing() {
        let mut conn = bank();
        transfer(&mut conn, "b", "a", 500, &FailPoints::none()).unwrap();
        let refused = transfer(&mut conn, "b", "a", 1, &FailPoints::none());
        assert!(matches!(refused, Err(TransferError::InsufficientFunds)));
        assert_eq!(balances(&conn), (1500, 0, 1));
    }

    // Bad amounts, the same account twice and unknown accounts are refused.
    #[test]
    fn invalid_transfers_are_refused() {
        let mut conn = bank();
        let none = FailPoints::none();
        assert!(matches!(
            transfer(&mut conn, "a", "b", 0, &none),
            Err(TransferError::Invalid(_))
        ));
        assert!(matches!(
            transfer(&mut conn, "a", "a", 5, &none),
            Err(TransferError::Invalid(_))
        ));
        assert!(matches!(
            transfer(&mut conn, "a", "zz", 5, &none),
            Err(TransferError::UnknownAccount(id)) if id == "zz"
        ));
        assert_eq!(balances(&conn), (1000, 500, 0));
    }

    // A failure at any point after the first write leaves no trace.
    #[test]
    fn a_failure_in_the_middle_rolls_everything_back() {
        let mut conn = bank();
        for point in ["debited", "credited", "recorded"] {
            let fail = FailPoints {
                fail: Some(point.to_string()),
                crash: None,
            };
            let result = transfer(&mut conn, "a", "b", 250, &fail);
            assert!(
                matches!(&result, Err(TransferError::Injected(p)) if p == point),
                "{point}: {result:?}"
            );
            assert_eq!(
                balances(&conn),
                (1000, 500, 0),
                "after a failure at {point}"
            );
        }
    }
}
