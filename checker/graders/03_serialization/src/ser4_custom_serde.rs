//! Grader of `ser4_custom_serde`: billing events with money as exact strings, internally and adjacently
//! tagged enums, camelCase fields and `1d2h3m4s` durations, read in any valid spelling and written back in
//! exactly one; lossy or malformed values refused; a ledger summed exactly.
//!
//! Expected documents come from the grader's model ([`event`]); a mismatch is explained by the first place
//! the output differs from the contract.

mod event;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use crate::ordered_json::{Difference, Json, first_difference};
use event::{Billing, CURRENCIES, Event, Money, format_amount};

/// Events in the final seeded scenario.
const BULK: usize = 200;

/// Grades `ser4_custom_serde`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario(
        "money: a string in major units, read exactly, written with the currency's decimals",
    );
    money(g, &mut p)?;

    g.scenario("an amount that is lossy or not a decimal string is refused, never rounded");
    bad_money(g, &mut p)?;

    g.scenario("internally tagged events: type first, camelCase fields; on input the tag may come anywhere");
    for i in 0..30 {
        let event = event::event_of_kind(g.rng(), i % 2);
        let input = event.spelt(g.rng());
        roundtrip(
            &mut p,
            &event,
            &input.compact(),
            "events are internally tagged: {\"type\":\"charge_created\",…} with camelCase fields, the type first on output and anywhere on input",
        )?;
    }

    g.scenario("billing is adjacently tagged: {\"kind\":…} or {\"kind\":…,\"value\":…}");
    billing(g, &mut p)?;

    g.scenario(
        "durations: any valid d/h/m/s spelling is read; the largest units are written first",
    );
    durations(g, &mut p)?;

    g.scenario("the ledger sums each currency exactly: charges and prices add, refunds subtract");
    ledger(g, &mut p)?;

    g.scenario("200 seeded events round-trip to their canonical form");
    for _ in 0..BULK {
        let event = event::event(g.rng());
        let input = event.spelt(g.rng());
        roundtrip(
            &mut p,
            &event,
            &input.compact(),
            "each event comes back in its canonical form",
        )?;
    }
    Ok(())
}

fn charge(amount: Money, capture_within: u64) -> Event {
    Event::Charge {
        id: "ch_test".to_string(),
        amount,
        capture_within,
    }
}

fn money(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let fixed = [
        ("12345678901234567.89", 1_234_567_890_123_456_789, "EUR"),
        ("12.3", 1230, "EUR"),
        ("500", 500, "JPY"),
        ("9.99", 9990, "KWD"),
        ("0.001", 1, "BHD"),
        ("19.990", 1999, "USD"),
        ("7.0", 7, "KRW"),
        ("9223372036854775807", i64::MAX, "JPY"),
        ("0", 0, "GBP"),
    ];
    for (value, minor, currency) in fixed {
        let event = charge(Money { minor, currency }, 3600);
        let mut input = event.canonical();
        set_amount_value(&mut input, value);
        roundtrip(
            p,
            &event,
            &input.compact(),
            &format!(
                "an amount is read exactly: \"{value}\" {currency} is {minor} minor units, written with the currency's decimals (a float would round it)"
            ),
        )?;
    }
    for (currency, _) in CURRENCIES {
        for _ in 0..4 {
            let mut amount = event::money(g.rng());
            amount.currency = currency;
            let event = charge(amount, event::duration(g.rng()));
            let input = event.spelt(g.rng());
            roundtrip(
                p,
                &event,
                &input.compact(),
                "an amount is read exactly and written with exactly as many decimals as the currency has",
            )?;
        }
    }
    Ok(())
}

fn set_amount_value(document: &mut Json, value: &str) {
    if let Json::Object(pairs) = document {
        for (key, field) in pairs {
            if key == "amount"
                && let Json::Object(money) = field
            {
                money[0].1 = Json::String(value.to_string());
            }
        }
    }
}

fn bad_money(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let cases: [(Json, &str, &str); 22] = [
        (
            Json::String("1.005".into()),
            "EUR",
            "1.005 EUR is not a whole number of cents: refused, never rounded",
        ),
        (
            Json::String("500.5".into()),
            "JPY",
            "the yen has no minor unit: 500.5 JPY is refused, never rounded",
        ),
        (
            Json::String("0.0001".into()),
            "KWD",
            "KWD has 3 decimals: 0.0001 is refused, never rounded",
        ),
        (
            Json::String("19.999".into()),
            "USD",
            "19.999 USD is not a whole number of cents: refused, never rounded",
        ),
        (
            Json::Number("12.3".into()),
            "EUR",
            "an amount is a string: a JSON number has been through a float",
        ),
        (
            Json::Number("1230".into()),
            "EUR",
            "an amount is a string, even a whole one",
        ),
        (
            Json::String("1e3".into()),
            "EUR",
            "an exponent is not a decimal amount",
        ),
        (
            Json::String(".5".into()),
            "EUR",
            "a decimal amount has digits before the point",
        ),
        (
            Json::String("5.".into()),
            "EUR",
            "a decimal amount has digits after the point",
        ),
        (Json::String("+1".into()), "EUR", "no plus sign"),
        (Json::String("01.00".into()), "EUR", "no leading zero"),
        (
            Json::String("1,00".into()),
            "EUR",
            "the decimal separator is a point",
        ),
        (Json::String(" 1.00".into()), "EUR", "no spaces"),
        (
            Json::String("".into()),
            "EUR",
            "an empty string is not an amount",
        ),
        (
            Json::String("-".into()),
            "EUR",
            "a sign alone is not an amount",
        ),
        (Json::String("NaN".into()), "EUR", "NaN is not an amount"),
        (Json::String("١٢".into()), "JPY", "the digits are ASCII 0-9"),
        (
            Json::String("9223372036854775808".into()),
            "JPY",
            "beyond an i64 of minor units",
        ),
        (
            Json::String("92233720368547758.08".into()),
            "EUR",
            "beyond an i64 of minor units",
        ),
        (
            Json::String("1.00".into()),
            "XXX",
            "XXX is not a currency this API accepts",
        ),
        (
            Json::String("1.00".into()),
            "eur",
            "currency codes are upper case",
        ),
        (Json::Null, "EUR", "an amount is a string, not null"),
    ];
    for (value, currency, why) in cases {
        let event = charge(
            Money {
                minor: 100,
                currency: "EUR",
            },
            60,
        );
        let mut document = event.canonical();
        if let Json::Object(pairs) = &mut document {
            pairs[2].1 = Json::Object(vec![
                ("value".into(), value),
                ("currency".into(), Json::String(currency.into())),
            ]);
        }
        let input = crate::ordered_json::shuffle_keys(&document, g.rng()).compact();
        expect_refused(p, &input, why)?;
    }
    Ok(())
}

fn billing(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let rule = "billing is adjacently tagged: {\"kind\":\"monthly\"}, {\"kind\":\"every_n_days\",\"value\":30}, {\"kind\":\"metered\",\"value\":{\"unit\":…,\"unitPrice\":…}}";
    let billings = [
        Billing::Monthly,
        Billing::Yearly,
        Billing::EveryNDays(g.rng().range(1, 365) as u32),
        Billing::Metered {
            unit: "api_call".into(),
            unit_price: Money {
                minor: 1,
                currency: "KWD",
            },
        },
    ];
    for billing in billings {
        let event = Event::Subscription {
            id: "sub_test".into(),
            price: event::money(g.rng()),
            billing,
            trial: 14 * 86_400,
        };
        let input = event.spelt(g.rng());
        roundtrip(p, &event, &input.compact(), rule)?;
    }
    for _ in 0..20 {
        let event = event::event_of_kind(g.rng(), 2);
        let input = event.spelt(g.rng());
        roundtrip(p, &event, &input.compact(), rule)?;
    }
    let invalid = [
        (
            r#"{"kind":"everyNDays","value":30}"#,
            "the kinds are snake_case: every_n_days",
        ),
        (
            r#"{"kind":"every_n_days","value":"30"}"#,
            "every_n_days takes a number of days, not a string",
        ),
        (
            r#"{"kind":"every_n_days","value":-1}"#,
            "a number of days is not negative",
        ),
        (
            r#"{"every_n_days":30}"#,
            "billing is adjacently tagged, {\"every_n_days\":30} is the externally tagged form",
        ),
        (
            r#""monthly""#,
            "billing is an object with a kind, not a bare string",
        ),
    ];
    for (billing, why) in invalid {
        let input = format!(
            r#"{{"type":"subscription_started","subscriptionId":"sub_x","price":{{"value":"1.00","currency":"EUR"}},"billing":{billing},"trial":"0s"}}"#
        );
        expect_refused(p, &input, why)?;
    }
    Ok(())
}

fn durations(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let fixed = [
        ("90m", 5400),
        ("36h", 129_600),
        ("0h", 0),
        ("0d0h0m0s", 0),
        ("1d0h", 86_400),
        ("3600s", 3600),
        ("25h61m", 93_660),
        ("18446744073709551615s", u64::MAX),
    ];
    for (text, seconds) in fixed {
        let event = charge(
            Money {
                minor: 100,
                currency: "EUR",
            },
            seconds,
        );
        let mut input = event.canonical();
        if let Json::Object(pairs) = &mut input {
            pairs[3].1 = Json::String(text.into());
        }
        let rule = format!(
            "\"{text}\" is {seconds} s, written \"{}\": largest unit first, zero parts left out, \"0s\" for zero",
            event::format_duration(seconds)
        );
        roundtrip(p, &event, &input.compact(), &rule)?;
    }
    for _ in 0..30 {
        let seconds = event::duration(g.rng());
        let event = charge(event::money(g.rng()), seconds);
        let input = event.spelt(g.rng());
        roundtrip(
            p,
            &event,
            &input.compact(),
            "a duration is read in any valid spelling and written largest unit first",
        )?;
    }
    let invalid = [
        ("", "a duration has at least one part"),
        ("1.5h", "no fractions"),
        ("h", "a unit needs its number"),
        ("1h1h", "each unit at most once"),
        ("30m1h", "units in the order d, h, m, s"),
        ("-5m", "no sign"),
        ("1H", "units are lower case"),
        ("1h 30m", "no spaces"),
        ("5", "a number needs its unit"),
        ("2w", "w is not a unit"),
        ("18446744073709551616s", "beyond a u64 of seconds"),
        ("213503982334601d7h0m16s", "beyond a u64 of seconds"),
    ];
    for (text, why) in invalid {
        let input = format!(
            r#"{{"type":"charge_created","chargeId":"ch_x","amount":{{"value":"1.00","currency":"EUR"}},"captureWithin":{}}}"#,
            json!(text)
        );
        expect_refused(p, &input, &format!("\"{text}\" is not a duration: {why}"))?;
    }
    let number = r#"{"type":"charge_created","chargeId":"ch_x","amount":{"value":"1.00","currency":"EUR"},"captureWithin":90}"#;
    expect_refused(
        p,
        number,
        "a duration is a string like \"1h30m\", not a number",
    )
}

fn ledger(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let dimes: Vec<Event> = (0..10)
        .map(|_| {
            charge(
                Money {
                    minor: 10,
                    currency: "EUR",
                },
                60,
            )
        })
        .collect();
    let mut batches = vec![dimes];
    let refund = |minor, currency| Event::Refund {
        id: "re_x".into(),
        charge_id: "ch_x".into(),
        amount: Money { minor, currency },
        reason: "duplicate",
    };
    batches.push(vec![
        charge(
            Money {
                minor: 5,
                currency: "JPY",
            },
            0,
        ),
        refund(12, "JPY"),
        refund(5, "KWD"),
        charge(
            Money {
                minor: 1,
                currency: "EUR",
            },
            0,
        ),
        refund(1, "EUR"),
    ]);
    for _ in 0..6 {
        let count = g.rng().range(5, 40);
        let batch: Vec<Event> = (0..count)
            .map(|_| {
                let mut event = event::event(g.rng());
                shrink(&mut event, g.rng().below(3));
                event
            })
            .collect();
        batches.push(batch);
    }
    for batch in batches {
        let mut totals: std::collections::BTreeMap<&str, i128> = std::collections::BTreeMap::new();
        for event in &batch {
            let (money, sign) = event.ledger_amount();
            *totals.entry(money.currency).or_insert(0) +=
                i128::from(money.minor) * i128::from(sign);
        }
        let expected: serde_json::Map<String, Value> = totals
            .iter()
            .map(|(currency, total)| {
                (
                    currency.to_string(),
                    json!(format_amount(*total as i64, event::exponent(currency))),
                )
            })
            .collect();
        let input = Json::Array(batch.iter().map(|e| e.spelt(g.rng())).collect()).compact();
        let request = json!({"op": "ledger", "json": input});
        let reply = p.request(&request)?;
        let expected = json!({"totals": expected});
        if reply != expected {
            return Err(Failure::new("the ledger's total per currency is exact (integer minor units, never floats): charges and subscription prices add, refunds subtract, each total written with the currency's decimals")
                .expected(expected.to_string())
                .got(reply.to_string())
                .detail(format!("the events, in canonical form: [{}]", batch.iter().map(|e| e.canonical().compact()).collect::<Vec<_>>().join(","))));
        }
    }
    let huge = Money {
        minor: i64::MAX,
        currency: "JPY",
    };
    let overflow = Json::Array(vec![
        charge(huge.clone(), 0).canonical(),
        charge(huge, 0).canonical(),
    ])
    .compact();
    let reply = p.request(&json!({"op": "ledger", "json": overflow}))?;
    if !reply.get("error").is_some_and(Value::is_string) {
        return Err(Failure::new(
            "a total beyond an i64 of minor units is an error, not a wrapped or saturated number",
        )
        .expected(r#"{"error":"…"}"#)
        .got(reply.to_string())
        .detail(format!("the events: {overflow}")));
    }
    Ok(())
}

/// Makes the amounts of an event small, so a batch of them cannot overflow (`scale` 0, 1 or 2).
fn shrink(event: &mut Event, scale: u64) {
    let limit = [100, 100_000, 10_000_000_000][scale as usize];
    let money = match event {
        Event::Charge { amount, .. } | Event::Refund { amount, .. } => amount,
        Event::Subscription { price, .. } => price,
    };
    money.minor %= limit;
}

/// Sends a round trip of `input` and checks the reply is the canonical form of `event`.
fn roundtrip(p: &mut Stdio, event: &Event, input: &str, rule: &str) -> Result<(), Failure> {
    let expected = event.canonical();
    let expected_text = expected.compact();
    let reply = p.request(&json!({"op": "roundtrip", "json": input}))?;
    if reply.get("ok").and_then(Value::as_str) == Some(expected_text.as_str()) {
        return Ok(());
    }
    let sent = format!("the input: {input}");
    if let Some(error) = reply.get("error") {
        let message = error.as_str().unwrap_or("");
        // A structural hint (tags, field names) explains a refusal better than the case's own rule.
        let (headline, case) = match refusal_hint(message) {
            Some(hint) => (hint.to_string(), Some(format!("this case: {rule}"))),
            None => (rule.to_string(), None),
        };
        let mut failure = Failure::new(format!("a valid event was refused: {headline}"))
            .expected(format!(r#"{{"ok":{}}}"#, json!(expected_text)))
            .got(reply.to_string())
            .detail(sent);
        if let Some(case) = case {
            failure = failure.detail(case);
        }
        return Err(failure);
    }
    let Some(got_text) = reply.get("ok").and_then(Value::as_str) else {
        return Err(Failure::new(r#"the reply to a roundtrip is {"ok":"<the event>"} or {"error":"<why>"}"#)
            .got(reply.to_string())
            .detail("the provided `main` writes these replies: if you changed it, compare it with the original"));
    };
    let got = match Json::parse(got_text) {
        Ok(got) => got,
        Err(e) => {
            return Err(Failure::new("the output is not JSON")
                .expected(&expected_text)
                .got(got_text)
                .detail(format!("JSON error: {e}")));
        }
    };
    let (rule, detail) = match first_difference(&expected, &got) {
        None => (
            rule.to_string(),
            "the same document, but not compact".to_string(),
        ),
        Some(difference) => (
            difference_rule(&difference).unwrap_or_else(|| rule.to_string()),
            difference.to_string(),
        ),
    };
    Err(Failure::new(rule)
        .expected(&expected_text)
        .got(got_text)
        .detail(detail)
        .detail(sent))
}

fn refusal_hint(message: &str) -> Option<&'static str> {
    if message.contains("missing field `") && message.contains('_') && !message.contains("`type`") {
        return Some(
            "the fields are camelCase on the wire (chargeId, captureWithin): #[serde(rename_all_fields = \"camelCase\")] on the enum",
        );
    }
    if message.contains("missing field `type`") || message.contains("unknown variant `type`") {
        return Some("events are internally tagged: #[serde(tag = \"type\")]");
    }
    if message.contains("kind") || message.contains("value") {
        return Some("billing is adjacently tagged: #[serde(tag = \"kind\", content = \"value\")]");
    }
    None
}

/// The contract's rule that `difference` breaks, when it says more than the scenario's rule.
fn difference_rule(difference: &Difference) -> Option<String> {
    match difference {
        Difference::Value {
            path,
            expected: Json::String(want),
            got,
        } if path.ends_with(".value") => {
            let got = got.compact();
            let decimals = |s: &str| s.split_once('.').map_or(0, |(_, f)| f.len());
            if decimals(want) != decimals(got.trim_matches('"')) {
                Some(format!(
                    "an amount is written with exactly as many decimals as the currency has (JPY 0, EUR 2, KWD 3): \"{want}\""
                ))
            } else {
                Some(format!(
                    "an amount is read exactly, never through a float (a float would round it): \"{want}\""
                ))
            }
        }
        Difference::Value {
            path,
            expected: Json::String(want),
            ..
        } if path == "captureWithin" || path == "trial" => Some(format!(
            "a duration is written largest unit first, zero parts left out, \"0s\" for zero: \"{want}\""
        )),
        Difference::KeyOrder { path, .. } if path == "." => Some(
            "the type comes first (internally tagged), then the fields in the contract's order"
                .to_string(),
        ),
        Difference::Missing { key, .. } | Difference::Extra { key, .. } if key.contains('_') => {
            Some(
                "the fields are camelCase on the wire: #[serde(rename_all_fields = \"camelCase\")]"
                    .to_string(),
            )
        }
        Difference::Missing { key, .. } if key == "type" => {
            Some("events are internally tagged: the type is a field of the object".to_string())
        }
        _ if difference.path().starts_with("billing") => Some(
            "billing is adjacently tagged: {\"kind\":…} or {\"kind\":…,\"value\":…}".to_string(),
        ),
        _ => None,
    }
}

/// Sends an invalid event and checks it is refused.
fn expect_refused(p: &mut Stdio, input: &str, why: &str) -> Result<(), Failure> {
    let reply = p.request(&json!({"op": "roundtrip", "json": input}))?;
    if reply.get("error").is_some_and(Value::is_string) {
        return Ok(());
    }
    Err(
        Failure::new(format!("an invalid event was accepted: {why}"))
            .expected(r#"{"error":"…"}"#)
            .got(reply.to_string())
            .detail(format!("the input: {input}")),
    )
}
