//! mutant: trusts str::parse, which accepts a leading +
//! expect: outside the grammar

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the domain layer can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot transfer from an account to itself")]
    SameAccount,
    #[error("no account named `{0}`")]
    UnknownAccount(String),
    #[error("the balance ({balance} cents) does not cover {amount} cents")]
    InsufficientFunds { balance: u64, amount: u64 },
}

/// Everything the handler can answer instead of a receipt.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(serde_json::Error),
    #[error("the body does not have the expected fields: {0}")]
    InvalidField(serde_json::Error),
    #[error(
        "`{0}` is not a valid amount (digits, optionally `.` and 1 or 2 digits, more than zero)"
    )]
    InvalidAmount(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Syntax errors (and a body that ends too early) mean "not JSON"; data errors mean "JSON of the wrong shape".
impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        if error.is_data() {
            ApiError::InvalidField(error)
        } else {
            ApiError::MalformedJson(error)
        }
    }
}

impl ApiError {
    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidField(_) => "invalid_field",
            ApiError::InvalidAmount(_) => "invalid_amount",
            ApiError::Ledger(LedgerError::SameAccount) => "same_account",
            ApiError::Ledger(LedgerError::UnknownAccount(_)) => "unknown_account",
            ApiError::Ledger(LedgerError::InsufficientFunds { .. }) => "insufficient_funds",
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::MalformedJson(_) => 400,
            ApiError::Ledger(LedgerError::UnknownAccount(_)) => 404,
            ApiError::Ledger(LedgerError::InsufficientFunds { .. }) => 409,
            ApiError::InvalidField(_)
            | ApiError::InvalidAmount(_)
            | ApiError::Ledger(LedgerError::SameAccount) => 422,
        }
    }
}

/// Parses `"12.34"` into 1234 cents.
pub fn parse_amount(text: &str) -> Result<u64, ApiError> {
    let invalid = || ApiError::InvalidAmount(text.to_string());
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'+');
    if !is_digits(whole) || (text.contains('.') && !is_digits(fraction)) || fraction.len() > 2 {
        return Err(invalid());
    }
    let whole: u64 = whole.parse().map_err(|_| invalid())?;
    let fraction: u64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u64>().map_err(|_| invalid())? * 10,
        _ => fraction.parse().map_err(|_| invalid())?,
    };
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction))
        .ok_or_else(invalid)?;
    if cents == 0 {
        return Err(invalid());
    }
    Ok(cents)
}

/// Account balances, in cents.
pub struct Ledger {
    balances: BTreeMap<String, u64>,
}

impl Ledger {
    /// Moves `amount` cents from `from` to `to` and returns both new balances; on error nothing changes.
    pub fn transfer(
        &mut self,
        from: &str,
        to: &str,
        amount: u64,
    ) -> Result<(u64, u64), LedgerError> {
        if from == to {
            return Err(LedgerError::SameAccount);
        }
        let unknown = |name: &str| LedgerError::UnknownAccount(name.to_string());
        let from_balance = *self.balances.get(from).ok_or_else(|| unknown(from))?;
        let to_balance = *self.balances.get(to).ok_or_else(|| unknown(to))?;
        let new_from = from_balance
            .checked_sub(amount)
            .ok_or(LedgerError::InsufficientFunds {
                balance: from_balance,
                amount,
            })?;
        // Money is conserved, so the total of all balances (which fits a u64) bounds `to_balance + amount`.
        let new_to = to_balance + amount;
        self.balances.insert(from.to_string(), new_from);
        self.balances.insert(to.to_string(), new_to);
        Ok((new_from, new_to))
    }
}

/// The body of `POST /transfers`.
#[derive(Deserialize)]
struct TransferRequest {
    from: String,
    to: String,
    amount: String,
}

/// Handles one `POST /transfers` body: parse, validate, apply.
pub fn handle_transfer(ledger: &mut Ledger, body: &str) -> Result<(u64, u64), ApiError> {
    // Two steps, so "not JSON" is decided on the whole text before any field is looked at.
    let json: serde_json::Value = serde_json::from_str(body)?;
    let request: TransferRequest = serde_json::from_value(json)?;
    let amount = parse_amount(&request.amount)?;
    Ok(ledger.transfer(&request.from, &request.to, amount)?)
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

impl Ledger {
    /// The opening balances of the contract.
    pub fn opening() -> Self {
        let balances = [
            ("alice", 10_000),
            ("bob", 2_500),
            ("carol", 0),
            ("dave", 50_000_000),
        ];
        Ledger {
            balances: balances
                .into_iter()
                .map(|(name, cents)| (name.to_string(), cents))
                .collect(),
        }
    }
}

/// Cents as a decimal string with two places: 1234 → "12.34".
fn format_cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[derive(Deserialize)]
struct Request {
    body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok {
        from_balance: String,
        to_balance: String,
    },
    Error {
        code: &'static str,
        status: u16,
        message: String,
    },
}

fn main() {
    let mut ledger = Ledger::opening();
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        match handle_transfer(&mut ledger, &request.body) {
            Ok((from, to)) => Reply::Ok {
                from_balance: format_cents(from),
                to_balance: format_cents(to),
            },
            Err(error) => Reply::Error {
                code: error.code(),
                status: error.status(),
                message: error.to_string(),
            },
        }
    });
}
