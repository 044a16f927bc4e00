//! The grader's model of a billing event: seeded generation, the canonical document, and valid spellings of
//! the same event (amounts with more or fewer zeros, durations in other units, keys in any order).

use backlings_grade::Rng;

use crate::ordered_json::{Json, shuffle_keys};

/// The currencies of the contract and their minor-unit digits.
pub const CURRENCIES: [(&str, u32); 8] = [
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("BHD", 3),
];

/// Seconds per duration unit, largest first.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// The minor-unit digits of a currency of the contract.
pub fn exponent(currency: &str) -> u32 {
    CURRENCIES
        .iter()
        .find(|(code, _)| *code == currency)
        .map(|(_, e)| *e)
        .expect("a currency of the contract")
}

/// An exact amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub minor: i64,
    pub currency: &'static str,
}

/// How a subscription is billed.
#[derive(Debug, Clone, PartialEq)]
pub enum Billing {
    Monthly,
    Yearly,
    EveryNDays(u32),
    Metered { unit: String, unit_price: Money },
}

/// A billing event; durations in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Charge {
        id: String,
        amount: Money,
        capture_within: u64,
    },
    Refund {
        id: String,
        charge_id: String,
        amount: Money,
        reason: &'static str,
    },
    Subscription {
        id: String,
        price: Money,
        billing: Billing,
        trial: u64,
    },
}

/// `minor` written with exactly `exponent` decimals.
pub fn format_amount(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    if exponent == 0 {
        return format!("{sign}{digits}");
    }
    let width = exponent as usize + 1;
    let padded = format!("{digits:0>width$}");
    let (whole, fraction) = padded.split_at(padded.len() - exponent as usize);
    format!("{sign}{whole}.{fraction}")
}

/// The canonical duration: largest units first, zero parts left out, `0s` for zero.
pub fn format_duration(mut seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

/// A valid but (often) non-canonical spelling of a duration: some units skipped (their time carried into
/// smaller ones), explicit zero parts.
pub fn spell_duration(rng: &mut Rng, seconds: u64) -> String {
    let mut left = seconds;
    let mut out = String::new();
    for (unit, size) in UNITS {
        let last = unit == 's';
        let count = if last {
            left
        } else if rng.chance(1, 2) {
            left / size
        } else {
            0
        };
        let write = count > 0 || (rng.chance(1, 6)) || (last && out.is_empty());
        if write {
            out.push_str(&format!("{count}{unit}"));
        }
        left -= count * size;
    }
    out
}

/// A valid spelling of an amount: trailing zeros trimmed or added, `.0…` dropped when whole.
pub fn spell_amount(rng: &mut Rng, money: &Money) -> String {
    let exponent = exponent(money.currency);
    let canonical = format_amount(money.minor, exponent);
    match rng.below(3) {
        0 => canonical,
        1 if exponent > 0 => {
            let trimmed = canonical.trim_end_matches('0').trim_end_matches('.');
            if trimmed.is_empty() || trimmed == "-" {
                "0".to_string()
            } else {
                trimmed.to_string()
            }
        }
        _ => {
            let zeros = "0".repeat(rng.range(1, 3) as usize);
            if exponent == 0 {
                format!("{canonical}.{zeros}")
            } else {
                format!("{canonical}{zeros}")
            }
        }
    }
}

fn string(s: &str) -> Json {
    Json::String(s.to_string())
}

fn object(pairs: Vec<(&str, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// How an event is spelt: canonical, or with the amounts and durations of `rng`'s choosing.
enum Spelling<'a> {
    Canonical,
    Free(&'a mut Rng),
}

impl Spelling<'_> {
    fn money(&mut self, money: &Money) -> Json {
        let value = match self {
            Spelling::Canonical => format_amount(money.minor, exponent(money.currency)),
            Spelling::Free(rng) => spell_amount(rng, money),
        };
        object(vec![
            ("value", Json::String(value)),
            ("currency", string(money.currency)),
        ])
    }

    fn duration(&mut self, seconds: u64) -> Json {
        Json::String(match self {
            Spelling::Canonical => format_duration(seconds),
            Spelling::Free(rng) => spell_duration(rng, seconds),
        })
    }
}

impl Event {
    /// The canonical document.
    pub fn canonical(&self) -> Json {
        self.document(&mut Spelling::Canonical)
    }

    /// A valid spelling of the same event, keys shuffled.
    pub fn spelt(&self, rng: &mut Rng) -> Json {
        let document = self.document(&mut Spelling::Free(rng));
        shuffle_keys(&document, rng)
    }

    /// The amount the ledger counts, with its sign.
    pub fn ledger_amount(&self) -> (&Money, i64) {
        match self {
            Event::Charge { amount, .. } => (amount, 1),
            Event::Refund { amount, .. } => (amount, -1),
            Event::Subscription { price, .. } => (price, 1),
        }
    }

    fn document(&self, spelling: &mut Spelling<'_>) -> Json {
        match self {
            Event::Charge {
                id,
                amount,
                capture_within,
            } => object(vec![
                ("type", string("charge_created")),
                ("chargeId", string(id)),
                ("amount", spelling.money(amount)),
                ("captureWithin", spelling.duration(*capture_within)),
            ]),
            Event::Refund {
                id,
                charge_id,
                amount,
                reason,
            } => object(vec![
                ("type", string("refund_issued")),
                ("refundId", string(id)),
                ("chargeId", string(charge_id)),
                ("amount", spelling.money(amount)),
                ("reason", string(reason)),
            ]),
            Event::Subscription {
                id,
                price,
                billing,
                trial,
            } => {
                let billing = match billing {
                    Billing::Monthly => object(vec![("kind", string("monthly"))]),
                    Billing::Yearly => object(vec![("kind", string("yearly"))]),
                    Billing::EveryNDays(days) => object(vec![
                        ("kind", string("every_n_days")),
                        ("value", Json::Number(days.to_string())),
                    ]),
                    Billing::Metered { unit, unit_price } => object(vec![
                        ("kind", string("metered")),
                        (
                            "value",
                            object(vec![
                                ("unit", string(unit)),
                                ("unitPrice", spelling.money(unit_price)),
                            ]),
                        ),
                    ]),
                };
                object(vec![
                    ("type", string("subscription_started")),
                    ("subscriptionId", string(id)),
                    ("price", spelling.money(price)),
                    ("billing", billing),
                    ("trial", spelling.duration(*trial)),
                ])
            }
        }
    }
}

/// A seeded amount in a seeded currency: small, large, or with every decimal used.
pub fn money(rng: &mut Rng) -> Money {
    let (currency, _) = *rng.pick(&CURRENCIES);
    let minor = match rng.below(5) {
        0 => rng.below(100) as i64,
        1 => rng.below(1_000_000_000_000) as i64,
        2 => rng.range(1 << 50, i64::MAX as u64) as i64,
        _ => rng.below(100_000) as i64,
    };
    Money { minor, currency }
}

/// A seeded duration in seconds.
pub fn duration(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => 0,
        1 => rng.below(200),
        2 => rng.below(40 * 86_400),
        _ => rng.below(1 << 40),
    }
}

fn id(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}_{}", rng.word(8))
}

/// A seeded billing rule.
pub fn billing(rng: &mut Rng) -> Billing {
    match rng.below(4) {
        0 => Billing::Monthly,
        1 => Billing::Yearly,
        2 => Billing::EveryNDays(rng.range(1, 400) as u32),
        _ => Billing::Metered {
            unit: rng
                .pick(&["api_call", "gigabyte", "seat", "minute"])
                .to_string(),
            unit_price: money(rng),
        },
    }
}

/// A seeded event of kind `kind` (0 charge, 1 refund, 2 subscription).
pub fn event_of_kind(rng: &mut Rng, kind: u64) -> Event {
    match kind {
        0 => Event::Charge {
            id: id(rng, "ch"),
            amount: money(rng),
            capture_within: duration(rng),
        },
        1 => Event::Refund {
            id: id(rng, "re"),
            charge_id: id(rng, "ch"),
            amount: money(rng),
            reason: rng.pick::<&str>(&["duplicate", "fraudulent", "requested_by_customer"]),
        },
        _ => Event::Subscription {
            id: id(rng, "sub"),
            price: money(rng),
            billing: billing(rng),
            trial: duration(rng),
        },
    }
}

/// A seeded event of any kind.
pub fn event(rng: &mut Rng) -> Event {
    let kind = rng.below(3);
    event_of_kind(rng, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every spelling of a duration reads back as the same number of seconds.
    #[test]
    fn duration_spellings_are_valid() {
        let mut rng = Rng::new(4);
        for _ in 0..2000 {
            let seconds = duration(&mut rng);
            let text = spell_duration(&mut rng, seconds);
            let mut total = 0;
            let mut number = 0;
            for c in text.chars() {
                match c.to_digit(10) {
                    Some(d) => number = number * 10 + u64::from(d),
                    None => {
                        let size = UNITS.iter().find(|(u, _)| *u == c).unwrap().1;
                        total += number * size;
                        number = 0;
                    }
                }
            }
            assert_eq!(total, seconds, "{text}");
        }
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(129_600), "1d12h");
    }

    // Amounts keep their value in every spelling.
    #[test]
    fn amount_spellings_keep_the_value() {
        assert_eq!(format_amount(-5, 3), "-0.005");
        assert_eq!(format_amount(1230, 2), "12.30");
        let mut rng = Rng::new(5);
        for _ in 0..2000 {
            let m = money(&mut rng);
            let text = spell_amount(&mut rng, &m);
            let e = exponent(m.currency) as usize;
            let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
            let fraction = format!("{fraction:0<e$}");
            assert!(fraction[e..].bytes().all(|b| b == b'0'), "{text}");
            let value: i128 = format!("{whole}{}", &fraction[..e]).parse().unwrap();
            assert_eq!(value, i128::from(m.minor), "{text}");
        }
    }
}
