//! # Warm-up 3: errors as values — from `?` chains to API error codes
//!
//! A request handler is mostly error handling: the body may not be JSON, a field may be missing, a number may
//! be negative or absurdly large, an account may not exist, the money may not be there. In Rust each of these
//! is a *value*: a variant of an error enum, returned with `Result` and propagated with `?`. At the edge of the
//! service one `match` turns the enum into what clients see: a stable machine-readable `code`, an HTTP
//! `status`, and a human `message`.
//!
//! This exercise is the handler of `POST /transfers` of a tiny bank. Its layers each own their errors:
//!
//! - parsing: `serde_json::Error`, which knows whether the text was not JSON at all (a *syntax* error) or was
//!   JSON of the wrong shape (a *data* error);
//! - validation: an amount like `"12.34"` parsed into integer cents;
//! - the domain: [`Ledger::transfer`] returns a [`LedgerError`].
//!
//! [`ApiError`] gathers them. `thiserror` writes the `Display` impls from `#[error("...")]`, and `From` impls
//! (`#[from]` or written by hand) let `?` convert a lower layer's error into the API's on the way up.
//!
//! ## Why it matters in production
//!
//! A panic in a handler is an outage: depending on the server it kills the connection, the worker or the
//! process — and the input that caused it will come again. Clients branch on error codes, so codes are API:
//! a `400` tells them to fix the request, a `409` to retry later, a `404` that the thing is not there. Mixing
//! them up breaks clients as surely as a wrong field name. And money is never a float: parse decimal strings
//! into integer cents and use checked arithmetic.
//!
//! ## Pitfalls
//!
//! - `unwrap()`, `expect()`, slicing (`&s[..n]`, `parts[1]`) and plain `+`/`*`/`-` on untrusted numbers: each
//!   is a panic waiting for the right input (in debug builds integer overflow panics).
//! - `"+5".parse::<u64>()` is `Ok(5)`: Rust's integer parser accepts a leading `+`. Validate the text first.
//! - `char::is_numeric` accepts `'٣'` and other non-ASCII digits; `is_ascii_digit` does not.
//! - Changing state before every check passed: a transfer that fails must leave the ledger as it was.
//! - One catch-all error code for everything hides from clients what they should do.
//! - `serde_json::from_str::<MyStruct>` reads as it goes and stops at the first problem: for
//!   `{"from": 1, "to": ` it reports the wrong type of `from` before it notices the body is cut short. To
//!   decide "is this JSON at all?" on the whole text, parse into a `serde_json::Value` first, then convert
//!   that with `serde_json::from_value`.
//!
//! Roadmap: error handling (error types, propagation, mapping errors to responses).
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is `{"body":"<raw request body>"}`. A valid body is a JSON object
//! `{"from":"alice","to":"bob","amount":"12.34"}`; the amount is a string of ASCII digits, optionally followed
//! by `.` and one or two digits, worth more than zero and at most `u64::MAX` cents. The ledger starts with
//! alice 100.00, bob 25.00, carol 0.00 and dave 500000.00. Success replies
//! `{"ok":{"from_balance":"87.66","to_balance":"37.34"}}` (balances after the transfer, always two decimals).
//! A failure replies `{"error":{"code":CODE,"status":STATUS,"message":TEXT}}`; the first failing check wins:
//!
//! | check | code | status |
//! |---|---|---|
//! | the body is JSON | `malformed_json` | 400 |
//! | it has the right shape (object, string fields `from`, `to`, `amount`) | `invalid_field` | 422 |
//! | the amount is valid | `invalid_amount` | 422 |
//! | `from` and `to` differ | `same_account` | 422 |
//! | `from`, then `to`, exist | `unknown_account` | 404 |
//! | `from` holds at least the amount | `insufficient_funds` | 409 |
//!
//! The program never panics, whatever the input, and exits with code 0 at the end of its input.

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
        // TODO: a body that is not JSON at all is MalformedJson; JSON of the wrong shape is InvalidField.
        todo!()
    }
}

impl ApiError {
    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        // TODO: the code of each error, as in the contract's table.
        todo!()
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        // TODO: the status of each error, as in the contract's table.
        todo!()
    }
}

/// Parses `"12.34"` into 1234 cents.
pub fn parse_amount(text: &str) -> Result<u64, ApiError> {
    // TODO: accept ASCII digits, optionally followed by `.` and one or two digits, worth more than zero cents
    // and at most u64::MAX cents; anything else is InvalidAmount. Never panic, whatever the text.
    todo!()
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
        // TODO: refuse a transfer to the same account, an unknown `from` then an unknown `to`, and an amount
        // over the balance of `from` (in that order); otherwise move the money and return (from, to) balances.
        todo!()
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
    // TODO: check that the body is JSON at all, then that it has the shape of a TransferRequest; parse its
    // amount; apply the transfer. Let `?` convert each layer's error into an ApiError.
    todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(body: &str) -> &'static str {
        match handle_transfer(&mut Ledger::opening(), body) {
            Ok(_) => "ok",
            Err(error) => error.code(),
        }
    }

    // Amounts: whole units, one or two decimals; everything else is refused without panicking.
    #[test]
    fn amounts_parse_strictly() {
        assert_eq!(parse_amount("12").unwrap(), 1200);
        assert_eq!(parse_amount("12.3").unwrap(), 1230);
        assert_eq!(parse_amount("0.07").unwrap(), 7);
        for bad in [
            "",
            "0",
            "0.00",
            "-5",
            "+5",
            "1.234",
            "1.",
            ".5",
            " 5",
            "1e3",
            "١٢",
            "184467440737095516.16",
        ] {
            assert!(
                matches!(parse_amount(bad), Err(ApiError::InvalidAmount(_))),
                "{bad:?} was accepted"
            );
        }
    }

    // Not JSON at all and JSON of the wrong shape are different errors with different codes.
    #[test]
    fn syntax_and_shape_errors_differ() {
        assert_eq!(code_of("{\"from\": "), "malformed_json");
        assert_eq!(code_of("not json"), "malformed_json");
        assert_eq!(code_of("{\"from\": 1, \"to\": "), "malformed_json");
        assert_eq!(
            code_of("{\"from\":\"alice\",\"to\":\"bob\"}"),
            "invalid_field"
        );
        assert_eq!(
            code_of("{\"from\":\"alice\",\"to\":\"bob\",\"amount\":12}"),
            "invalid_field"
        );
    }

    // Domain errors keep their own codes and statuses through the `From` conversion.
    #[test]
    fn ledger_errors_map_to_codes() {
        assert_eq!(
            code_of(r#"{"from":"alice","to":"alice","amount":"1"}"#),
            "same_account"
        );
        assert_eq!(
            code_of(r#"{"from":"alice","to":"zoe","amount":"1"}"#),
            "unknown_account"
        );
        assert_eq!(
            code_of(r#"{"from":"carol","to":"bob","amount":"0.01"}"#),
            "insufficient_funds"
        );
        let error = handle_transfer(
            &mut Ledger::opening(),
            r#"{"from":"x","to":"y","amount":"1"}"#,
        )
        .unwrap_err();
        assert_eq!((error.code(), error.status()), ("unknown_account", 404));
    }

    // A transfer of the whole balance succeeds; a failed one changes nothing.
    #[test]
    fn transfers_are_all_or_nothing() {
        let mut ledger = Ledger::opening();
        assert_eq!(ledger.transfer("bob", "carol", 2_500), Ok((0, 2_500)));
        assert!(ledger.transfer("carol", "nobody", 100).is_err());
        assert_eq!(ledger.transfer("carol", "alice", 2_500), Ok((0, 12_500)));
    }
}
