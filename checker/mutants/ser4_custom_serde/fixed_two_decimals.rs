//! mutant: every currency gets two decimals: 500 JPY is written "500.00" and read as 5 yen
//! expect: as many decimals as the currency has
//!
//! "Money has cents" is true for the euro and the dollar.

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
        exponent(&wire.currency).ok_or_else(|| format!("unknown currency `{}`", wire.currency))?;
        Ok(Money {
            minor: parse_amount(&wire.value, 2)?,
            currency: wire.currency,
        })
    }
}

impl From<Money> for MoneyWire {
    fn from(money: Money) -> MoneyWire {
        MoneyWire {
            value: format_amount(money.minor, 2),
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
