//! mutant: a `None` note is written as `"note":null` (no skip_serializing_if)
//! expect: note is not written
//!
//! "null means no note" on input, but the output should not say it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An order, as the API sends and receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: u64,
    pub customer: Customer,
    pub items: Vec<LineItem>,
    pub status: Status,
    pub payment: Payment,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Who placed the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub name: String,
    pub email: String,
    pub vip: bool,
}

/// One line of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// Where the order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Paid,
    OnHold,
    Shipped,
    Cancelled,
}

/// How the order is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    Cash,
    Card { brand: String, last4: String },
    Voucher(String),
}

/// Why a document was refused: where, and what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// The path to the offending value (`items[1].quantity`), `.` for the document itself.
    pub path: String,
    /// What was wrong, in serde's words.
    pub message: String,
}

/// Parses one order, or says where it went wrong.
pub fn parse(text: &str) -> Result<Order, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let order: Order =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| ParseError {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    // Trailing characters after the document are an error too.
    deserializer.end().map_err(|e| ParseError {
        path: ".".to_string(),
        message: e.to_string(),
    })?;
    Ok(order)
}

/// Writes an order in its canonical form: compact, keys in the contract's order, map keys sorted.
pub fn render(order: &Order) -> String {
    serde_json::to_string(order).expect("an order always serializes")
}

impl Order {
    /// What the order costs in all: quantity × unit price, summed over the lines.
    pub fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|item| i64::from(item.quantity) * item.unit_price_cents)
            .sum()
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires `parse`, `render` and `total_cents` to
// the grader's protocol, one JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"roundtrip","json":"<an order>"} -> {"ok":"<render(parse(json))>"}
//   {"op":"total","json":"<an order>"}     -> {"total_cents":N}
//   either, for a document that is not a valid order -> {"error":{"path":"items[1].quantity","message":"…"}}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Roundtrip { json: String },
    Total { json: String },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(String),
    TotalCents(i64),
    Error(ParseError),
}

fn main() {
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::Roundtrip { json } => match parse(&json) {
            Ok(order) => Reply::Ok(render(&order)),
            Err(e) => Reply::Error(e),
        },
        Request::Total { json } => match parse(&json) {
            Ok(order) => Reply::TotalCents(order.total_cents()),
            Err(e) => Reply::Error(e),
        },
    });
}
