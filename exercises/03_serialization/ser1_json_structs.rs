//! # JSON ↔ Rust structs: native mapping, round-trips and errors with a path
//!
//! Every backend spends its day translating: bytes from the network become native values (*deserialization*),
//! native values become bytes again (*serialization*). In Rust the translation is written once, as types, and
//! `serde` derives the code: `#[derive(Serialize, Deserialize)]` on a struct maps a JSON object to it field by
//! field, and the compiler checks every access afterwards. A typo in a field name is a compile error, not an
//! `undefined` at three in the morning.
//!
//! The mapping, JSON type by JSON type:
//!
//! | JSON | Rust | note |
//! |---|---|---|
//! | object with known keys | `struct` | one field per key; `#[serde(rename_all = "camelCase")]` maps `unit_price_cents` to `unitPriceCents` |
//! | object with arbitrary keys | `BTreeMap<String, T>` or `HashMap<String, T>` | see "canonical output" below |
//! | array | `Vec<T>` | |
//! | string | `String`, or a unit `enum` variant | `"on_hold"` ↔ `Status::OnHold` with `rename_all = "snake_case"` |
//! | number | `u64`, `i64`, `u32`, `f64`… | the Rust type decides what is accepted: `-1` is not a `u64`, `1.5` is not an `i64` |
//! | `true` / `false` | `bool` | `"true"` (a string) is not a bool |
//! | `null` or a missing key | `Option<T>` | `None` |
//!
//! ## Why the exact types matter
//!
//! - **Integers are not floats.** JSON itself has no size limit on numbers, but JavaScript reads every number
//!   as an `f64`, which is exact only up to 2^53. An order id of `18446744073709551615` parsed into an `f64`
//!   comes back as `18446744073709552000`: a different order. `serde_json` keeps a `u64` exact; use one.
//!   (Public APIs that must serve browsers often send big ids as strings for this reason.)
//! - **Money is never a float.** `unitPriceCents: 1999` is exact; `19.99` as an `f64` is not.
//! - **Strict types are a feature.** A server that quietly turns `"3"` into `3` or `-1` into `4294967295` hides
//!   a client's bug until it corrupts data. Refuse, and say *where*: "`items[2].quantity`: invalid type: string
//!   "3", expected u32" lets the client fix it in a minute. `serde_json` alone says only "line 1 column 213";
//!   the `serde_path_to_error` crate wraps a deserializer and records the path to the value that failed.
//!
//! ## Canonical output
//!
//! A document that is serialized twice must give the same bytes: caches key on them, signatures and ETags are
//! computed over them, tests compare them, and a diff between two deploys must show only real changes.
//! `serde_json::to_string` writes struct fields in declaration order with no whitespace, so the struct
//! decides the order. A `HashMap` does not: its iteration order is randomised *per process*, so the same map
//! serializes in a different order on every run. A `BTreeMap` iterates its keys in sorted order, every time.
//!
//! ## The contract (what the grader checks)
//!
//! An order, on the wire (the keys in this order are the canonical order):
//!
//! ```json
//! {"id":18446744073709551615,
//!  "customer":{"name":"Ada","email":"ada@example.com","vip":true},
//!  "items":[{"sku":"A-1","quantity":2,"unitPriceCents":1999},{"sku":"PROMO","quantity":1,"unitPriceCents":-500}],
//!  "status":"on_hold",
//!  "payment":{"card":{"brand":"visa","last4":"4242"}},
//!  "attributes":{"channel":"web","gift":"yes"},
//!  "note":"leave at the door"}
//! ```
//!
//! - `id`: an unsigned 64-bit integer. `customer.vip`: a bool. `items[].quantity`: an unsigned 32-bit
//!   integer. `items[].unitPriceCents`: a signed 64-bit integer (a discount line is negative). Every string
//!   is a string.
//! - `status`: one of `"pending"`, `"paid"`, `"on_hold"`, `"shipped"`, `"cancelled"`.
//! - `payment`: serde's default ("externally tagged") enum form: `"cash"`, `{"card":{"brand":…,"last4":…}}`
//!   (two strings), or `{"voucher":"CODE"}`.
//! - `attributes`: an object of string values; may be missing on input (= empty), always written (`{}`
//!   when empty), keys in sorted order.
//! - `note`: a string, `null` or missing; written only when it is a string.
//! - Unknown keys on input are ignored (and so are not written back).
//! - Output: compact (no whitespace), keys in the order above, exactly what `serde_json::to_string` writes.
//! - An input that is not a valid order is refused with the path of the offending value, written as
//!   `serde_path_to_error` writes it: `items[1].quantity`, `customer`, `attributes.gift`, and `.` for the
//!   document itself.
//!
//! ## Pitfalls
//!
//! - A `HashMap` field: every test with one key passes, every run with five keys is a coin toss.
//! - Field order in the struct *is* the output order: declare the fields in the contract's order.
//! - Forgetting `skip_serializing_if` writes `"note":null`; forgetting `#[serde(default)]` refuses a document
//!   without `attributes`.
//! - `serde_json::from_str` loses the path; wrap the deserializer with `serde_path_to_error::deserialize`.
//!
//! Roadmap: serialization principles; native mapping of JSON to structs; JSON types, nesting and collections.

use serde::{Deserialize, Serialize};

// TODO: make every type below (de)serializable with serde, and give each the fields or variants of the
// contract in the header, with the Rust type that accepts exactly what the contract allows. The order in
// which you declare the fields is the order in which they are written.

/// An order, as the API sends and receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {}

/// Who placed the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {}

/// One line of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {}

/// Where the order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {}

/// How the order is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {}

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
    // TODO: deserialize an `Order` from `text`, refusing trailing characters after it; on failure, report
    // the path to the offending value and serde's message.
    todo!()
}

/// Writes an order in its canonical form: compact, keys in the contract's order, map keys sorted.
pub fn render(order: &Order) -> String {
    // TODO: serialize the order.
    todo!()
}

impl Order {
    /// What the order costs in all: quantity × unit price, summed over the lines.
    pub fn total_cents(&self) -> i64 {
        // TODO: the sum of quantity × unit price over the items.
        todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: &str = r#"{"id":7,"customer":{"name":"Ada","email":"ada@example.com","vip":true},"items":[{"sku":"A-1","quantity":2,"unitPriceCents":1999},{"sku":"PROMO","quantity":1,"unitPriceCents":-500}],"status":"on_hold","payment":{"card":{"brand":"visa","last4":"4242"}},"attributes":{"channel":"web","gift":"yes"},"note":"leave at the door"}"#;

    // A canonical document comes back byte for byte.
    #[test]
    fn canonical_document_round_trips() {
        let order = parse(CANONICAL).expect("a valid order");
        assert_eq!(render(&order), CANONICAL);
    }

    // Key order and whitespace on input do not matter; the output is canonical.
    #[test]
    fn shuffled_input_comes_out_canonical() {
        let shuffled = r#"{ "note": "leave at the door", "attributes": {"gift": "yes", "channel": "web"},
            "payment": {"card": {"last4": "4242", "brand": "visa"}}, "status": "on_hold",
            "items": [{"unitPriceCents": 1999, "quantity": 2, "sku": "A-1"},
                      {"sku": "PROMO", "unitPriceCents": -500, "quantity": 1}],
            "customer": {"vip": true, "email": "ada@example.com", "name": "Ada"}, "id": 7 }"#;
        assert_eq!(render(&parse(shuffled).unwrap()), CANONICAL);
    }

    // Map keys come out sorted, however many there are.
    #[test]
    fn attributes_come_out_sorted() {
        let input = r#"{"id":1,"customer":{"name":"B","email":"b@x","vip":false},"items":[],"status":"paid","payment":"cash","attributes":{"e":"5","b":"2","d":"4","a":"1","c":"3"}}"#;
        let out = render(&parse(input).unwrap());
        assert!(
            out.contains(r#""attributes":{"a":"1","b":"2","c":"3","d":"4","e":"5"}"#),
            "{out}"
        );
    }

    // A null or missing note is not written; missing attributes are written as {}.
    #[test]
    fn optional_fields() {
        let input = r#"{"id":1,"customer":{"name":"B","email":"b@x","vip":false},"items":[],"status":"paid","payment":{"voucher":"SPRING"},"note":null,"extra":[1,2]}"#;
        assert_eq!(
            render(&parse(input).unwrap()),
            r#"{"id":1,"customer":{"name":"B","email":"b@x","vip":false},"items":[],"status":"paid","payment":{"voucher":"SPRING"},"attributes":{}}"#
        );
    }

    // The largest u64 survives the round trip exactly.
    #[test]
    fn big_ids_stay_exact() {
        let input = CANONICAL.replace(r#""id":7"#, r#""id":18446744073709551615"#);
        assert_eq!(render(&parse(&input).unwrap()), input);
    }

    // A wrong type is refused with the path of the value.
    #[test]
    fn wrong_type_names_its_path() {
        let input = CANONICAL.replace(r#""quantity":1,"#, r#""quantity":"1","#);
        let error = parse(&input).unwrap_err();
        assert_eq!(error.path, "items[1].quantity");
    }

    // The total multiplies and sums, discounts included.
    #[test]
    fn total_counts_every_line() {
        assert_eq!(parse(CANONICAL).unwrap().total_cents(), 2 * 1999 - 500);
    }
}
