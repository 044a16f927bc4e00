//! The bank as the grader knows it (opening balances, balances, ledger), the database file it builds, and
//! the comparison of the file with the model after every step.

use std::collections::BTreeMap;
use std::path::Path;

use backlings_grade::{Failure, Rng};
use rusqlite::{Connection, params};

/// The schema of the exercise's header.
const SCHEMA: &str = "
CREATE TABLE accounts (id TEXT PRIMARY KEY, balance_cents INTEGER NOT NULL) STRICT;
CREATE TABLE transfers (id INTEGER PRIMARY KEY,
                        from_id TEXT NOT NULL REFERENCES accounts (id),
                        to_id TEXT NOT NULL REFERENCES accounts (id),
                        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0)) STRICT;
";

/// One ledger row: (id, from, to, amount).
pub type Entry = (i64, String, String, i64);

/// Balances and ledger, as they must be in the file.
#[derive(Debug, Clone, Default)]
pub struct Bank {
    /// Account id → balance in cents.
    pub balances: BTreeMap<String, i64>,
    /// Every committed transfer, by ledger id.
    pub ledger: BTreeMap<i64, Entry>,
}

impl Bank {
    /// The sum of every balance (constant, whatever happens).
    pub fn total(&self) -> i64 {
        self.balances.values().sum()
    }

    /// Account ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.balances.keys().cloned().collect()
    }

    /// Applies a transfer the program acknowledged with ledger id `id`.
    pub fn apply(&mut self, id: i64, from: &str, to: &str, amount: i64) {
        *self.balances.entry(from.to_string()).or_default() -= amount;
        *self.balances.entry(to.to_string()).or_default() += amount;
        self.ledger
            .insert(id, (id, from.to_string(), to.to_string(), amount));
    }
}

/// Creates the database file (WAL mode) with `count` seeded accounts.
pub fn create(file: &Path, rng: &mut Rng, count: usize) -> Result<Bank, Failure> {
    let setup =
        |e: rusqlite::Error| Failure::new(format!("the grader could not build its bank: {e}"));
    let conn = Connection::open(file).map_err(setup)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(setup)?;
    conn.execute_batch(SCHEMA).map_err(setup)?;
    let mut bank = Bank::default();
    while bank.balances.len() < count {
        let id = format!("acc-{}", rng.word(5));
        let balance = rng.range(5_000, 20_000) as i64;
        conn.execute(
            "INSERT OR IGNORE INTO accounts (id, balance_cents) VALUES (?1, ?2)",
            params![id, balance],
        )
        .map_err(setup)?;
        bank.balances.entry(id).or_insert(balance);
    }
    Ok(bank)
}

/// What the file holds now.
pub fn read(conn: &Connection) -> Result<Bank, Failure> {
    let read = || -> rusqlite::Result<Bank> {
        let mut bank = Bank::default();
        let mut statement = conn.prepare("SELECT id, balance_cents FROM accounts")?;
        for row in statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (id, balance): (String, i64) = row?;
            bank.balances.insert(id, balance);
        }
        let mut statement =
            conn.prepare("SELECT id, from_id, to_id, amount_cents FROM transfers")?;
        for row in statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))? {
            let entry: Entry = row?;
            bank.ledger.insert(entry.0, entry);
        }
        Ok(bank)
    };
    read().map_err(|e| Failure::new(format!("the grader could not read the bank's file: {e}")))
}

/// Compares the file with the model; `what` says what just happened, `rule` what must hold.
pub fn check(conn: &Connection, model: &Bank, what: &str, rule: &str) -> Result<(), Failure> {
    let file = read(conn)?;
    if file.balances == model.balances && file.ledger == model.ledger {
        return Ok(());
    }
    let mut failure = Failure::new(rule.to_string()).detail(format!("what happened: {what}"));
    if file.total() != model.total() {
        failure = failure.detail(format!(
            "the total of the balances went from {} to {}: {} cents {}",
            model.total(),
            file.total(),
            (file.total() - model.total()).abs(),
            if file.total() < model.total() {
                "vanished"
            } else {
                "were created"
            }
        ));
    }
    for (id, balance) in &model.balances {
        let now = file.balances.get(id).copied().unwrap_or_default();
        if now != *balance {
            failure = failure.detail(format!(
                "account {id}: expected {balance}, the file says {now}"
            ));
        }
    }
    let extra: Vec<&Entry> = file
        .ledger
        .values()
        .filter(|e| !model.ledger.contains_key(&e.0))
        .collect();
    if !extra.is_empty() {
        failure = failure.detail(format!("ledger rows that should not exist: {extra:?}"));
    }
    let missing: Vec<&Entry> = model
        .ledger
        .values()
        .filter(|e| file.ledger.get(&e.0) != Some(e))
        .collect();
    if !missing.is_empty() {
        failure = failure.detail(format!(
            "acknowledged ledger rows missing or changed: {missing:?}"
        ));
    }
    Err(failure)
}
