//! Grader of `db3_transactions_acid`: money transfers over HTTP on a SQLite file the grader owns.
//!
//! After every step the grader reads the file itself and compares balances and ledger with its model.
//! Sequential transfers and refusals (422/404/409) come first; then fail points fire an error after each of
//! the three writes (the transfer must leave no trace); then 500 transfers arrive at once from many clients
//! (the total is constant, no balance negative, balances agree with the ledger, no "database is locked");
//! then the process is killed (SIGABRT from inside the transfer) after each write, restarted on the same
//! file, and the data must be exactly the committed transfers.

mod bank;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use backlings_grade::http::{self, Request};
use backlings_grade::{Failure, Grading, Rng, Server};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::support::{self, DbDir};
use bank::Bank;

/// The fail points of the contract, in the order the transfer reaches them.
const POINTS: [&str; 3] = ["debited", "credited", "recorded"];
/// Concurrent clients, and transfers each sends, in the concurrency scenario.
const CLIENTS: usize = 20;
const PER_CLIENT: usize = 25;
/// Rounds of simultaneous payments from one account.
const BURSTS: usize = 3;
/// How long the grader holds the write lock once a burst's requests are sent.
const HOLD: Duration = Duration::from_millis(250);
/// What a "database is locked" answer means.
const LOCKED: &str = "\"database is locked\" (SQLITE_BUSY) means a transaction read first and then tried to \
                      write while another writer held the lock: take the write lock when the transaction \
                      starts (BEGIN IMMEDIATE: transaction_with_behavior(TransactionBehavior::Immediate)) so \
                      it waits its turn";

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DbDir::new("bank.db")?;
    let mut rng = g.rng().fork(3);
    let mut model = bank::create(dir.file(), &mut rng, 5)?;
    let db = support::second_client(dir.file())?;
    let mut server = g.server_with(&["--db", &dir.arg()], &[])?;

    g.scenario("a transfer moves the money, and the ledger records it");
    for _ in 0..8 {
        let (from, to) = two_accounts(&model, &mut rng);
        let amount = rng.range(1, model.balances[&from].max(1) as u64) as i64;
        done(&mut server, &db, &mut model, &from, &to, amount)?;
        let reply = support::call(&mut server, "GET", &format!("/accounts/{to}"), None)?;
        let expected = json!({ "id": to, "balance_cents": model.balances[&to] });
        if reply.status != 200 || reply.body != expected {
            return Err(
                Failure::new("GET /accounts/ID shows the balance after the transfers")
                    .expected(expected)
                    .got(reply.summary()),
            );
        }
    }

    g.scenario("a refused transfer is 422, 404 or 409, and changes nothing");
    refusals(&mut server, &db, &mut model, &mut rng)?;

    g.scenario("a failure in the middle of a transfer leaves no trace");
    let mut points: Vec<&str> = POINTS.iter().chain(POINTS.iter()).copied().collect();
    rng.shuffle(&mut points);
    for point in points {
        let (from, to) = two_accounts(&model, &mut rng);
        let amount = rng.range(1, model.balances[&from].max(1) as u64) as i64;
        let body = transfer_body(&from, &to, amount);
        let request = post(&body).header("X-Fail-Point", point);
        let reply = server.http(&request)?;
        let what = format!("POST /transfers {body} with X-Fail-Point: {point}");
        if reply.status == 200 {
            return Err(Failure::new(format!(
                "the transfer must pass fail point `{point}` (call fail.at(\"{point}\") right after that \
                 write, before the commit): with X-Fail-Point it fails with 500"
            ))
            .got(reply.summary())
            .detail(format!("the request: {what}")));
        }
        bank::check(
            &db,
            &model,
            &what,
            &format!(
                "a transfer that fails at `{point}` is all or nothing: none of its writes may stay (one \
                 transaction, committed after the last write)"
            ),
        )?;
        if reply.status != 500 {
            return Err(
                Failure::new("a transfer stopped by a fail point answers 500")
                    .got(reply.summary())
                    .detail(format!("the request: {what}")),
            );
        }
    }

    g.scenario(&format!(
        "{} concurrent transfers keep the total, and no balance goes below zero",
        CLIENTS * PER_CLIENT
    ));
    concurrent(g, &mut server, &db, &mut model, &mut rng)?;

    g.scenario(&format!(
        "{CLIENTS} payments from one account, arriving together, never overdraw it"
    ));
    for _ in 0..BURSTS {
        burst(&mut server, &db, &mut model, &mut rng)?;
    }

    g.scenario("killed in the middle of a transfer, the data is all or nothing after a restart");
    for point in POINTS {
        crash_at(&mut server, &db, &model, &mut rng, point)?;
        server = g.server_with(&["--db", &dir.arg()], &[]).map_err(|f| {
            Failure::new(format!(
                "after a crash at `{point}` the program starts again on the same database file"
            ))
            .got(f.message)
        })?;
        let (from, to) = two_accounts(&model, &mut rng);
        let amount = rng.range(1, model.balances[&from].max(1) as u64) as i64;
        done(&mut server, &db, &mut model, &from, &to, amount)?;
    }
    Ok(())
}

fn two_accounts(model: &Bank, rng: &mut Rng) -> (String, String) {
    let mut ids = model.ids();
    rng.shuffle(&mut ids);
    // Prefer a payer with money, so most transfers can go through.
    let from = ids
        .iter()
        .find(|id| model.balances[*id] > 0)
        .unwrap_or(&ids[0])
        .clone();
    let to = ids
        .iter()
        .find(|id| **id != from)
        .unwrap_or(&ids[1])
        .clone();
    (from, to)
}

fn transfer_body(from: &str, to: &str, amount: i64) -> Value {
    json!({ "from": from, "to": to, "amount_cents": amount })
}

fn post(body: &Value) -> Request {
    Request::post("/transfers", body.to_string()).header("Content-Type", "application/json")
}

/// A transfer that must be done: 200 with the ledger id, and the file equal to the model after it.
fn done(
    server: &mut Server,
    db: &Connection,
    model: &mut Bank,
    from: &str,
    to: &str,
    amount: i64,
) -> Result<(), Failure> {
    let body = transfer_body(from, to, amount);
    let reply = support::call(server, "POST", "/transfers", Some(&body))?;
    let what = format!(
        "POST /transfers {body}, {from} holding {}",
        model.balances[from]
    );
    let Some(id) = reply
        .body
        .get("id")
        .and_then(Value::as_i64)
        .filter(|_| reply.status == 200)
    else {
        return Err(Failure::new(
            "a transfer between two accounts, of an amount the payer holds, is done: 200 {\"id\": N}",
        )
        .got(reply.summary())
        .detail(format!("the request: {what}")));
    };
    model.apply(id, from, to, amount);
    bank::check(
        db,
        model,
        &what,
        "a transfer debits the payer, credits the payee and adds one ledger row with the id it answered",
    )
}

fn refusals(
    server: &mut Server,
    db: &Connection,
    model: &mut Bank,
    rng: &mut Rng,
) -> Result<(), Failure> {
    let (from, to) = two_accounts(model, rng);
    let ghost = format!("acc-{}-closed", rng.word(4));
    let held = model.balances[&from];
    let cases: Vec<(Value, u16, String)> = vec![
        (
            transfer_body(&from, &to, 0),
            422,
            "an amount of 0 can never be valid: 422".into(),
        ),
        (
            transfer_body(&from, &to, -(rng.range(1, 500) as i64)),
            422,
            "a negative amount would move money backwards: 422".into(),
        ),
        (
            transfer_body(&from, &from, 100.min(held.max(1))),
            422,
            "a transfer to the same account: 422".into(),
        ),
        (
            transfer_body(&ghost, &to, 1),
            404,
            "a payer that does not exist: 404".into(),
        ),
        (
            transfer_body(&from, &ghost, 1),
            404,
            "a payee that does not exist: 404".into(),
        ),
        (
            transfer_body(&from, &to, held + 1),
            409,
            format!(
                "{from} holds {held} cents: a transfer of {} would take it below zero, 409",
                held + 1
            ),
        ),
    ];
    for (body, status, rule) in cases {
        let reply = support::call(server, "POST", "/transfers", Some(&body))?;
        let what = format!("POST /transfers {body}");
        bank::check(
            db,
            model,
            &what,
            &format!("a refused transfer changes nothing ({rule})"),
        )?;
        if reply.status != status {
            return Err(Failure::new(rule)
                .expected(status)
                .got(reply.summary())
                .detail(format!("the request: {what}")));
        }
    }
    // To the last cent, then one cent more.
    done(server, db, model, &from, &to, held)?;
    let body = transfer_body(&from, &to, 1);
    let reply = support::call(server, "POST", "/transfers", Some(&body))?;
    if reply.status != 409 {
        return Err(Failure::new(format!(
            "{from} holds 0 cents now: a balance may reach 0, never go below (insufficient funds: 409)"
        ))
        .expected(409)
        .got(reply.summary())
        .detail(format!("the request: POST /transfers {body}")));
    }
    bank::check(
        db,
        model,
        "a refused transfer from an empty account",
        "a refused transfer changes nothing",
    )
}

/// One transfer sent by a concurrent client, and what came back.
struct Sent {
    from: String,
    to: String,
    amount: i64,
    fail_point: Option<&'static str>,
    status: u16,
    id: Option<i64>,
    text: String,
}

fn concurrent(
    g: &mut Grading,
    server: &mut Server,
    db: &Connection,
    model: &mut Bank,
    rng: &mut Rng,
) -> Result<(), Failure> {
    let addr = server.addr();
    let ids = model.ids();
    let before = model.clone();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut rng = rng.fork(100 + c as u64);
            let ids = ids.clone();
            thread::spawn(move || client(addr, &ids, &mut rng))
        })
        .collect();
    let mut sent = Vec::new();
    for client in clients {
        match client.join() {
            Ok(Ok(mut done)) => sent.append(&mut done),
            Ok(Err(why)) => {
                server.ensure_alive()?;
                return Err(Failure::new(format!(
                    "every concurrent transfer gets an HTTP answer: {why}"
                )));
            }
            Err(_) => return Err(Failure::new("a client thread of the grader panicked")),
        }
    }
    for s in sent.iter().filter(|s| s.status != 200).take(4) {
        g.record(
            "http",
            &format!(
                "POST /transfers {}{}",
                transfer_body(&s.from, &s.to, s.amount),
                s.fail_point
                    .map(|p| format!(" X-Fail-Point: {p}"))
                    .unwrap_or_default()
            ),
            &format!("{} {}", s.status, s.text),
        );
    }
    let errors: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.fail_point.is_none() && s.status != 200 && s.status != 409)
        .collect();
    if let Some(first) = errors.first() {
        return Err(Failure::new(format!(
            "under concurrency every transfer is done (200) or refused for lack of funds (409): {} of {} \
             came back with another status",
            errors.len(),
            sent.len()
        ))
        .got(format!("{} {}", first.status, first.text))
        .detail(LOCKED));
    }
    // A transfer refused for funds (409) never reaches its fail point; any other answer is wrong.
    if let Some(bad) = sent
        .iter()
        .find(|s| s.fail_point.is_some() && s.status != 500 && s.status != 409)
    {
        return Err(Failure::new(
            "a transfer stopped by X-Fail-Point answers 500, also under concurrency (or 409 when it was \
             refused for funds before reaching the fail point)",
        )
        .got(format!("{} {}", bad.status, bad.text)));
    }

    let file = bank::read(db)?;
    let what = format!(
        "{} transfers from {CLIENTS} clients at once ({} done, {} refused for funds, {} stopped by a fail point)",
        sent.len(),
        sent.iter().filter(|s| s.status == 200).count(),
        sent.iter().filter(|s| s.status == 409).count(),
        sent.iter().filter(|s| s.fail_point.is_some()).count(),
    );
    if file.total() != before.total() {
        return Err(Failure::new(
            "the total of the balances is constant: a transfer moves money, it never creates or destroys it",
        )
        .expected(before.total())
        .got(file.total())
        .detail(format!("what happened: {what}"))
        .detail(
            "two transfers that read the same balance and each write back \"balance − amount\" lose one \
             debit (the lost update): read and write inside one transaction that holds the write lock, or \
             write balance_cents = balance_cents - ?",
        ));
    }
    if let Some((id, balance)) = file.balances.iter().find(|(_, b)| **b < 0) {
        return Err(Failure::new(
            "no balance ever goes below zero: the funds check and the debit happen in the same transaction",
        )
        .got(format!("account {id} holds {balance} cents"))
        .detail(format!("what happened: {what}"))
        .detail(
            "a check made before the transaction (or before taking the write lock) can be overtaken by \
             another transfer spending the same money",
        ));
    }
    let acknowledged: Vec<i64> = sent.iter().filter_map(|s| s.id).collect();
    let mut expected = before.clone();
    for s in sent.iter().filter(|s| s.status == 200) {
        expected.apply(s.id.unwrap_or_default(), &s.from, &s.to, s.amount);
    }
    if acknowledged.len() != sent.iter().filter(|s| s.status == 200).count() {
        return Err(Failure::new("a done transfer answers 200 {\"id\": N}"));
    }
    bank::check(
        db,
        &expected,
        &what,
        "after concurrent transfers, the ledger holds exactly the transfers answered 200, and every \
         balance is its opening balance plus what came in minus what went out",
    )?;
    *model = expected;
    Ok(())
}

/// `CLIENTS` payments from the richest account, each of 2/5 of its balance: exactly two can be done.
///
/// While they arrive the grader holds SQLite's write lock itself (`BEGIN IMMEDIATE` on its own connection),
/// so every request gets as far as it can without the lock before any of them writes: a transfer that reads
/// or checks before taking the lock reads the same balance as all the others, whatever the machine's load.
/// A correct transfer only waits (at its `BEGIN IMMEDIATE`) and then runs after the others, one at a time.
fn burst(
    server: &mut Server,
    db: &Connection,
    model: &mut Bank,
    rng: &mut Rng,
) -> Result<(), Failure> {
    let (from, balance) = model
        .balances
        .iter()
        .max_by_key(|(id, balance)| (**balance, (*id).clone()))
        .map(|(id, balance)| (id.clone(), *balance))
        .unwrap_or_default();
    let amount = balance * 2 / 5 + 1;
    let others: Vec<String> = model.ids().into_iter().filter(|id| *id != from).collect();
    let payees: Vec<String> = (0..CLIENTS).map(|_| rng.pick(&others).clone()).collect();
    let addr = server.addr();
    let before = model.clone();

    db.execute_batch("BEGIN IMMEDIATE").map_err(|e| {
        Failure::new(format!(
            "the grader could not take the write lock on the file: {e}"
        ))
        .detail("a transaction of the program is still open after its request was answered?")
    })?;
    let (sent_tx, sent_rx) = mpsc::channel();
    let payments: Vec<_> = payees
        .iter()
        .map(|to| {
            let request = post(&transfer_body(&from, to, amount));
            let sent_tx = sent_tx.clone();
            thread::spawn(move || -> std::io::Result<http::Response> {
                let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
                stream.set_read_timeout(Some(Duration::from_secs(15)))?;
                let written = stream.write_all(&request.to_bytes());
                let _ = sent_tx.send(());
                written?;
                http::read_response(&mut stream, false)
            })
        })
        .collect();
    for _ in 0..CLIENTS {
        if sent_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            break;
        }
    }
    // The requests are on the wire; give the program's threads a moment to run up to the lock. This bounds
    // how hard the test pushes a wrong transfer; a correct one passes however long or short it is.
    thread::sleep(HOLD);
    let _ = db.execute_batch("ROLLBACK");

    let mut statuses = Vec::new();
    let mut texts = Vec::new();
    for (payment, to) in payments.into_iter().zip(&payees) {
        let response = payment
            .join()
            .map_err(|_| Failure::new("a client thread of the grader panicked"))?
            .map_err(|e| {
                Failure::new(format!(
                    "every payment of the burst gets an HTTP answer: {e}"
                ))
            })?;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status == 200
            && let Some(id) = body.get("id").and_then(Value::as_i64)
        {
            model.apply(id, &from, to, amount);
        }
        statuses.push(response.status);
        texts.push(response.text());
    }
    let what = format!(
        "{CLIENTS} payments of {amount} cents from {from} (holding {balance}) arrived together: answered \
         {statuses:?}"
    );
    let file = bank::read(db)?;
    if file.total() != before.total() {
        return Err(Failure::new(
            "the total of the balances is constant: a transfer moves money, it never creates or destroys it",
        )
        .expected(before.total())
        .got(file.total())
        .detail(format!("what happened: {what}"))
        .detail(
            "each payment read the balance before the others wrote, then wrote back its own \"balance − \
             amount\": all but the last debit are lost (the lost update). Read and write inside one \
             transaction that holds the write lock, or write balance_cents = balance_cents - ?",
        ));
    }
    if let Some(now) = file.balances.get(&from).filter(|b| **b < 0) {
        return Err(Failure::new(
            "no balance ever goes below zero: the funds check and the debit happen in the same transaction, \
             which holds the write lock from its start",
        )
        .got(format!("{from} holds {now} cents"))
        .detail(format!("what happened: {what}"))
        .detail(
            "a check made before the transaction (or before taking the write lock) lets every payment of the \
             burst see the same balance, and all of them debit it",
        ));
    }
    if let Some(text) = statuses
        .iter()
        .zip(&texts)
        .find(|(status, _)| **status != 200 && **status != 409)
        .map(|(_, text)| text)
    {
        return Err(Failure::new(
            "payments that wait for each other are done (200) or refused for funds (409), never failed",
        )
        .got(text)
        .detail(format!("what happened: {what}"))
        .detail(LOCKED));
    }
    let done = statuses.iter().filter(|s| **s == 200).count();
    if done != 2 {
        return Err(Failure::new(
            "of simultaneous payments of 2/5 of a balance, exactly two are done (200) and the others are \
             refused for funds (409)",
        )
        .got(format!("{statuses:?}"))
        .detail(format!("what happened: {what}")));
    }
    bank::check(
        db,
        model,
        &what,
        "the ledger holds exactly the payments answered 200, and the balances follow from it",
    )
}

/// One concurrent client: `PER_CLIENT` transfers on fresh connections; 1 in 12 carries a fail point.
fn client(addr: SocketAddr, ids: &[String], rng: &mut Rng) -> Result<Vec<Sent>, String> {
    let mut sent = Vec::with_capacity(PER_CLIENT);
    for _ in 0..PER_CLIENT {
        let from = rng.pick(ids).clone();
        let mut to = rng.pick(ids).clone();
        while to == from {
            to = rng.pick(ids).clone();
        }
        let amount = rng.range(1, 6_000) as i64;
        let fail_point = rng.chance(1, 12).then(|| *rng.pick(&POINTS));
        let mut request = post(&transfer_body(&from, &to, amount));
        if let Some(point) = fail_point {
            request = request.header("X-Fail-Point", point);
        }
        let response = send(addr, &request).map_err(|e| {
            format!(
                "POST /transfers {} got no response: {e}",
                transfer_body(&from, &to, amount)
            )
        })?;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        sent.push(Sent {
            from,
            to,
            amount,
            fail_point,
            status: response.status,
            id: body
                .get("id")
                .and_then(Value::as_i64)
                .filter(|_| response.status == 200),
            text: response.text(),
        });
    }
    Ok(sent)
}

fn send(addr: SocketAddr, request: &Request) -> std::io::Result<http::Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(&request.to_bytes())?;
    http::read_response(&mut stream, false)
}

/// Sends a transfer that kills the program at `point`, and checks the file holds exactly the model.
fn crash_at(
    server: &mut Server,
    db: &Connection,
    model: &Bank,
    rng: &mut Rng,
    point: &str,
) -> Result<(), Failure> {
    let (from, to) = two_accounts(model, rng);
    let amount = rng.range(1, model.balances[&from].max(1) as u64) as i64;
    let body = transfer_body(&from, &to, amount);
    let what =
        format!("POST /transfers {body} with X-Crash-Point: {point} (the process dies there)");
    let answer = send(server.addr(), &post(&body).header("X-Crash-Point", point));
    server.record(
        &format!("POST /transfers {body} · X-Crash-Point: {point}"),
        &match &answer {
            Ok(response) => response.summary(),
            Err(e) => format!("<no response: {e}>"),
        },
    );
    if server.wait_exit(Duration::from_secs(3)).is_err() {
        return Err(Failure::new(format!(
            "the transfer must pass fail point `{point}` (call fail.at(\"{point}\") right after that write, \
             before the commit): with X-Crash-Point the process dies there"
        ))
        .got(match answer {
            Ok(response) => response.summary(),
            Err(e) => format!("no response ({e}), and the process is still running"),
        })
        .detail(format!("the request: {what}")));
    }
    bank::check(
        db,
        model,
        &what,
        &format!(
            "killed at `{point}`, the transfer is all or nothing: after the crash the file holds exactly the \
             committed transfers (one transaction, committed after the last write; SQLite undoes the rest)"
        ),
    )
}
