//! # Custom serialization: money as exact strings, tagged enums, durations with `serde(with)`
//!
//! `#[derive(Serialize, Deserialize)]` maps a struct to a JSON object field by field. Real wire formats ask
//! for more: a value whose JSON shape is not its Rust shape (money, durations, timestamps), enums written
//! the way *another* team's API writes them, field names in another case convention. Serde's answer is a
//! set of attributes, each a small, checked piece of custom serialization:
//!
//! | need | attribute |
//! |---|---|
//! | an enum as `{"type":"charge_created", …fields}` (the tag inside the object) | `#[serde(tag = "type")]`: *internally tagged* |
//! | an enum as `{"kind":"every_n_days","value":30}` (tag and content side by side) | `#[serde(tag = "kind", content = "value")]`: *adjacently tagged* |
//! | variant names in snake_case, field names in camelCase | `rename_all = "snake_case"`, `rename_all_fields = "camelCase"` |
//! | one field with its own format | `#[serde(with = "module")]`, where `module::serialize` and `module::deserialize` are yours |
//! | a type whose wire form is another type, checked on the way in | `#[serde(try_from = "Wire", into = "Wire")]` with `TryFrom<Wire>` and `From<Self> for Wire` |
//!
//! ## Money
//!
//! A float cannot hold `0.10` exactly, so `0.1 + 0.2 != 0.3`, and every total drifts. Money is an integer
//! number of *minor units* (cents), and the number of minor digits depends on the currency (ISO 4217): EUR
//! and USD have 2, JPY and KRW have 0, KWD and BHD have 3. On the wire, amounts travel as *strings* in major
//! units (`"12.30"`), because a JSON number is read as a float by half the clients in the world. Reading an
//! amount must be exact or fail: `"1.005"` EUR is not a number of cents, and rounding it silently moves half
//! a cent on every such payment. (A JSON number where a string is expected is refused too: it has been
//! through a float already.)
//!
//! ## The contract (what the grader checks)
//!
//! Events, one per document (canonical form shown; keys in this order):
//!
//! ```json
//! {"type":"charge_created","chargeId":"ch_1","amount":{"value":"12.30","currency":"EUR"},"captureWithin":"1h30m"}
//! {"type":"refund_issued","refundId":"re_1","chargeId":"ch_1","amount":{"value":"500","currency":"JPY"},"reason":"requested_by_customer"}
//! {"type":"subscription_started","subscriptionId":"sub_1","price":{"value":"9.990","currency":"KWD"},"billing":{"kind":"every_n_days","value":30},"trial":"14d"}
//! ```
//!
//! - `billing` is `{"kind":"monthly"}`, `{"kind":"yearly"}`, `{"kind":"every_n_days","value":N}` or
//!   `{"kind":"metered","value":{"unit":"api_call","unitPrice":{…money…}}}`. `reason` is `duplicate`,
//!   `fraudulent` or `requested_by_customer`.
//! - **Money** is `{"value":"…","currency":"…"}`. The currencies are EUR, USD, GBP, CHF (2 decimals), JPY,
//!   KRW (0) and KWD, BHD (3); any other code is refused. A value is a string `-?(0|[1-9][0-9]*)(\.[0-9]+)?`
//!   whose amount is a whole number of minor units: `"12.3"` and `"12.300"` are 1230 cents, `"1.005"` EUR is
//!   refused, `"500.5"` JPY is refused, and so are `"1e3"`, `".5"`, `"5."`, `"+1"`, `"01.00"`, a JSON number,
//!   and anything beyond an `i64` of minor units. It is written with exactly the currency's decimals:
//!   `"12.30"` EUR, `"500"` JPY, `"9.990"` KWD, and `"0.00"` for a negative zero.
//! - **Durations** (`captureWithin`, `trial`) are strings of days, hours, minutes and seconds in that
//!   order, each part at most once, at least one part: `"1d12h"`, `"90m"`, `"45s"`, `"0s"`. Each number is
//!   ASCII digits; no spaces, no fractions, no signs, lowercase units; the total must fit a `u64` of seconds.
//!   They are written with the largest units first, zero parts left out, `"0s"` for zero: `"90m"` becomes
//!   `"1h30m"`, `"36h"` becomes `"1d12h"`.
//! - On input, keys may come in any order (the `type` tag included) and unknown keys are ignored.
//! - `ledger` sums a list of events per currency: a charge and a subscription's price add, a refund
//!   subtracts (a metered unit price is not counted). Totals are exact, written like amounts, currencies in
//!   sorted order; a total beyond an `i64` of minor units is an error.
//!
//! ## Pitfalls
//!
//! - `str::parse::<f64>` accepts `1e3`, `.5`, `inf` and rounds `1.005`; parse the digits yourself.
//! - Two decimals for every currency.
//! - `format!("{}s", secs)`: valid, but not the canonical form.
//! - Internally tagged enums buffer the whole object before choosing a variant (the tag may come last): that
//!   costs a copy, and is why their fields cannot borrow from the input (`&str`).
//!
//! Roadmap: custom serialization logic; JSON types (why numbers are not money).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The minor-unit digits of the currencies this API accepts (ISO 4217). Provided.
pub fn exponent(currency: &str) -> Option<u32> {
    match currency {
        "EUR" | "USD" | "GBP" | "CHF" => Some(2),
        "JPY" | "KRW" => Some(0),
        "KWD" | "BHD" => Some(3),
        _ => None,
    }
}

/// An exact amount of money: an integer number of minor units of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MoneyWire", into = "MoneyWire")]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

/// Money as it travels: two strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoneyWire {
    pub value: String,
    pub currency: String,
}

/// Reads a decimal string as an exact number of minor units with `exponent` decimals.
pub fn parse_amount(text: &str, exponent: u32) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || (whole.len() > 1 && whole.starts_with('0')) {
        return Err(format!("`{text}` is not a decimal amount"));
    }
    let fraction = fraction.unwrap_or("");
    if text.contains('.') && !all_digits(fraction) {
        return Err(format!("`{text}` is not a decimal amount"));
    }
    let exponent = exponent as usize;
    let (kept, dropped) = fraction.split_at(fraction.len().min(exponent));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(format!(
            "`{text}` has more decimals than the currency's {exponent}: refused, not rounded"
        ));
    }
    let overflow = || format!("`{text}` is too large");
    let mut minor: i64 = 0;
    for b in whole.bytes().chain(kept.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in kept.len()..exponent {
        minor = minor.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -minor } else { minor })
}

/// Writes minor units with exactly `exponent` decimals.
pub fn format_amount(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    let exponent = exponent as usize;
    if exponent == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = exponent + 1);
    let (whole, fraction) = padded.split_at(padded.len() - exponent);
    format!("{sign}{whole}.{fraction}")
}

impl TryFrom<MoneyWire> for Money {
    type Error = String;

    fn try_from(wire: MoneyWire) -> Result<Money, String> {
        let exponent = exponent(&wire.currency)
            .ok_or_else(|| format!("unknown currency `{}`", wire.currency))?;
        Ok(Money {
            minor: parse_amount(&wire.value, exponent)?,
            currency: wire.currency,
        })
    }
}

impl From<Money> for MoneyWire {
    fn from(money: Money) -> MoneyWire {
        let exponent = exponent(&money.currency).expect("a Money always has a known currency");
        MoneyWire {
            value: format_amount(money.minor, exponent),
            currency: money.currency,
        }
    }
}

/// Durations as `1d2h3m4s`.
pub mod dhms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

    /// The canonical form: largest units first, zero parts left out, `0s` for zero.
    pub fn format(duration: &Duration) -> String {
        let mut left = duration.as_secs();
        if left == 0 {
            return "0s".to_string();
        }
        let mut out = String::new();
        for (unit, seconds) in UNITS {
            if left >= seconds {
                out.push_str(&format!("{}{unit}", left / seconds));
                left %= seconds;
            }
        }
        out
    }

    /// Reads `[Nd][Nh][Nm][Ns]` (at least one part, in that order).
    pub fn parse(text: &str) -> Result<Duration, String> {
        let invalid = || format!("`{text}` is not a duration like 1d2h3m4s");
        let mut rest = text;
        let mut total: u64 = 0;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit = rest[digits..].chars().next().ok_or_else(invalid)?;
            let position = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(invalid)?;
            if digits == 0 {
                return Err(invalid());
            }
            let (_, seconds) = UNITS[next_unit + position];
            let count: u64 = rest[..digits].parse().map_err(|_| invalid())?;
            total = count
                .checked_mul(seconds)
                .and_then(|s| total.checked_add(s))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            next_unit += position + 1;
            rest = &rest[digits + 1..];
        }
        if text.is_empty() {
            return Err(invalid());
        }
        Ok(Duration::from_secs(total))
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a refund was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

/// How a subscription is billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "value",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Billing {
    Monthly,
    Yearly,
    EveryNDays(u32),
    Metered { unit: String, unit_price: Money },
}

/// A billing event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    ChargeCreated {
        charge_id: String,
        amount: Money,
        #[serde(with = "dhms")]
        capture_within: Duration,
    },
    RefundIssued {
        refund_id: String,
        charge_id: String,
        amount: Money,
        reason: RefundReason,
    },
    SubscriptionStarted {
        subscription_id: String,
        price: Money,
        billing: Billing,
        #[serde(with = "dhms")]
        trial: Duration,
    },
}

/// The net amount per currency: charges and subscription prices add, refunds subtract.
pub fn ledger(events: &[Event]) -> Result<BTreeMap<String, i64>, String> {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for event in events {
        let (money, sign) = match event {
            Event::ChargeCreated { amount, .. } => (amount, 1),
            Event::RefundIssued { amount, .. } => (amount, -1),
            Event::SubscriptionStarted { price, .. } => (price, 1),
        };
        let total = totals.entry(money.currency.clone()).or_insert(0);
        *total = money
            .minor
            .checked_mul(sign)
            .and_then(|m| total.checked_add(m))
            .ok_or_else(|| format!("the {} total overflows", money.currency))?;
    }
    Ok(totals)
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires the types above to the grader's
// protocol, one JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"roundtrip","json":"<an event>"}        -> {"ok":"<the event, serialized again>"}
//   {"op":"ledger","json":"[<event>, <event>…]"}  -> {"totals":{"EUR":"12.30","JPY":"-500"}}
//   either, for input that is not valid           -> {"error":"<why>"}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Roundtrip { json: String },
    Ledger { json: String },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(String),
    Totals(BTreeMap<String, String>),
    Error(String),
}

fn answer(request: Request) -> Result<Reply, String> {
    Ok(match request {
        Request::Roundtrip { json } => {
            let event: Event = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            Reply::Ok(serde_json::to_string(&event).map_err(|e| e.to_string())?)
        }
        Request::Ledger { json } => {
            let events: Vec<Event> = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            let totals = ledger(&events)?
                .into_iter()
                .map(|(currency, minor)| {
                    let digits = exponent(&currency).unwrap_or(0);
                    (currency, format_amount(minor, digits))
                })
                .collect();
            Reply::Totals(totals)
        }
    })
}

fn main() {
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        answer(request).unwrap_or_else(Reply::Error)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(json: &str) -> Result<String, String> {
        let event: Event = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Ok(serde_json::to_string(&event).unwrap())
    }

    // Amounts are read exactly, in the currency's minor units.
    #[test]
    fn amounts_are_exact() {
        assert_eq!(parse_amount("12.3", 2), Ok(1230));
        assert_eq!(parse_amount("12.300", 2), Ok(1230));
        assert_eq!(parse_amount("500", 0), Ok(500));
        assert_eq!(parse_amount("-0.005", 3), Ok(-5));
        assert_eq!(format_amount(-5, 3), "-0.005");
        assert_eq!(format_amount(1230, 2), "12.30");
        assert_eq!(format_amount(500, 0), "500");
    }

    // Lossy or malformed amounts are refused, never rounded.
    #[test]
    fn lossy_amounts_are_refused() {
        for bad in ["1.005", "1e3", ".5", "5.", "+1", "01.00", "", "-", "1,00"] {
            assert!(parse_amount(bad, 2).is_err(), "{bad}");
        }
        assert!(parse_amount("500.5", 0).is_err());
    }

    // Durations are read in any valid form and written canonically.
    #[test]
    fn durations_are_canonical() {
        let canonical = |text: &str| dhms::format(&dhms::parse(text).unwrap());
        assert_eq!(canonical("90m"), "1h30m");
        assert_eq!(canonical("36h"), "1d12h");
        assert_eq!(canonical("0h"), "0s");
        for bad in ["", "1.5h", "h", "1h1h", "30m1h", "-5m", "1H", "1h 30m"] {
            assert!(dhms::parse(bad).is_err(), "{bad}");
        }
    }

    // An internally tagged event comes back in canonical form, whatever the key order.
    #[test]
    fn events_round_trip() {
        let input = r#"{"captureWithin":"90m","amount":{"currency":"EUR","value":"12.3"},"chargeId":"ch_1","type":"charge_created"}"#;
        assert_eq!(
            roundtrip(input).unwrap(),
            r#"{"type":"charge_created","chargeId":"ch_1","amount":{"value":"12.30","currency":"EUR"},"captureWithin":"1h30m"}"#
        );
    }

    // Billing is adjacently tagged.
    #[test]
    fn billing_is_adjacently_tagged() {
        let input = r#"{"type":"subscription_started","subscriptionId":"s","price":{"value":"9.99","currency":"KWD"},"billing":{"kind":"every_n_days","value":30},"trial":"14d"}"#;
        assert_eq!(roundtrip(input).unwrap(), input.replace("9.99", "9.990"));
    }

    // The ledger is exact: ten 0.10 charges make 1.00.
    #[test]
    fn ledger_is_exact() {
        let charge = |value: &str| Event::ChargeCreated {
            charge_id: "c".into(),
            amount: Money {
                minor: parse_amount(value, 2).unwrap(),
                currency: "EUR".into(),
            },
            capture_within: Duration::from_secs(60),
        };
        let events: Vec<Event> = (0..10).map(|_| charge("0.10")).collect();
        assert_eq!(ledger(&events).unwrap()["EUR"], 100);
    }
}
