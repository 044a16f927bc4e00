//! Grader of `ser1_json_structs`: orders round-trip through the learner's serde types to their canonical
//! bytes, and a document with a wrong type is refused with the path of the offending value.
//!
//! Every expected output comes from the grader's own model ([`order`]): the canonical form (keys in the
//! contract's order, attributes sorted, a note only when it is a string) is built from it, and the inputs are
//! the same documents spelt differently (keys shuffled, whitespace, `\u` escapes, null notes, unknown keys).
//! A mismatch is explained by the first place the output differs from the contract ([`first_difference`]).

mod broken;
mod order;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use crate::ordered_json::{Difference, Json, first_difference};
use crate::text;
use order::{Note, Order, Payment, STATUSES, Shape};

/// Documents in the final seeded scenario.
const BULK: usize = 300;

const PLAIN: Shape = Shape {
    max_attributes: 3,
    optional_noise: false,
    awkward_strings: false,
};

const AWKWARD: Shape = Shape {
    max_attributes: 4,
    optional_noise: false,
    awkward_strings: true,
};

const EVERYTHING: Shape = Shape {
    max_attributes: 8,
    optional_noise: true,
    awkward_strings: true,
};

/// Grades `ser1_json_structs`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("a canonical document comes back byte for byte");
    for _ in 0..3 {
        let mut order = order::generate(g.rng(), PLAIN);
        if order.note == Note::Null {
            order.note = Note::Missing;
        }
        let input = order.canonical().compact();
        roundtrip(&mut p, &order, &input)?;
    }

    g.scenario("key order, whitespace and escapes on input do not matter: the output is canonical");
    for _ in 0..40 {
        let order = order::generate(g.rng(), AWKWARD);
        let input = order::noisy_text(&order.shuffled_input(g.rng(), false), g.rng());
        roundtrip(&mut p, &order, &input)?;
    }

    g.scenario("a null or missing note is not written, missing attributes are {}, unknown keys are dropped");
    optional_and_unknown(g, &mut p)?;

    g.scenario("integers stay exact: ids up to 2^64 - 1, negative prices, and the total");
    integers(g, &mut p)?;

    g.scenario("map keys come out in sorted order");
    for _ in 0..20 {
        let mut order = order::generate(g.rng(), PLAIN);
        while order.attributes.len() < 6 {
            let key = text::attribute_key(g.rng());
            if !order.attributes.iter().any(|(k, _)| *k == key) {
                let value = text::plain_words(g.rng());
                order.attributes.push((key, value));
            }
        }
        let input = order::noisy_text(&order.shuffled_input(g.rng(), false), g.rng());
        roundtrip(&mut p, &order, &input)?;
    }

    g.scenario("enums: every status, and the three payment forms");
    for (i, status) in STATUSES.iter().enumerate() {
        let mut order = order::generate(g.rng(), PLAIN);
        order.status = status;
        order.payment = match i % 3 {
            0 => Payment::Cash,
            1 => Payment::Card {
                brand: "visa".into(),
                last4: format!("{:04}", g.rng().below(10_000)),
            },
            _ => Payment::Voucher(text::plain_words(g.rng()).to_uppercase()),
        };
        let input = order::noisy_text(&order.shuffled_input(g.rng(), false), g.rng());
        roundtrip(&mut p, &order, &input)?;
    }

    g.scenario("a wrong type is refused with the path of the offending value");
    for case in broken::cases(g.rng()) {
        broken::check(&mut p, &case)?;
    }

    g.scenario("300 seeded documents round-trip, and the output read back gives the same bytes");
    for i in 0..BULK {
        let order = order::generate(g.rng(), EVERYTHING);
        let omit = g.rng().chance(1, 2);
        let input = order::noisy_text(&order.shuffled_input(g.rng(), omit), g.rng());
        roundtrip(&mut p, &order, &input)?;
        if i % 10 == 0 {
            let canonical = order.canonical().compact();
            roundtrip(&mut p, &order, &canonical)?;
        }
    }
    Ok(())
}

fn optional_and_unknown(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let mut order = order::generate(g.rng(), PLAIN);
    order.unknown.clear();
    for note in [Note::Null, Note::Missing, Note::Text("ring twice".into())] {
        order.note = note;
        let input = order.input(false).compact();
        roundtrip(p, &order, &input)?;
    }
    order.attributes.clear();
    let input = order.input(true).compact();
    roundtrip(p, &order, &input)?;
    order.unknown = vec![
        ("ID".into(), Json::Number("1".into())),
        ("Note".into(), Json::String("case matters".into())),
        (
            "_links".into(),
            Json::Object(vec![("self".into(), Json::String("/orders/1".into()))]),
        ),
    ];
    let input = order.input(true).compact();
    roundtrip(p, &order, &input)?;
    for _ in 0..20 {
        let order = order::generate(g.rng(), EVERYTHING);
        let input = order::noisy_text(&order.shuffled_input(g.rng(), true), g.rng());
        roundtrip(p, &order, &input)?;
    }
    Ok(())
}

fn integers(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let ids = [
        u64::MAX,
        (1 << 53) + 1,
        i64::MAX as u64 + 1 + g.rng().below(1 << 40),
        0,
    ];
    for id in ids {
        let mut order = order::generate(g.rng(), PLAIN);
        order.id = id;
        let input = order.input(false).compact();
        roundtrip(p, &order, &input)?;
    }
    for _ in 0..20 {
        let mut order = order::generate(g.rng(), PLAIN);
        if let Some(item) = order.items.first_mut() {
            item.unit_price_cents = -(g.rng().range(1, 99_999) as i64);
        }
        let input = order::noisy_text(&order.shuffled_input(g.rng(), false), g.rng());
        roundtrip(p, &order, &input)?;
        let reply = p.request(&json!({"op": "total", "json": input}))?;
        let expected = json!({"total_cents": order.total_cents()});
        if reply != expected {
            return Err(Failure::new(
                "total_cents is the sum of quantity × unitPriceCents over the items (discount lines are negative)",
            )
            .expected(expected.to_string())
            .got(reply.to_string())
            .detail(format!("the items: {}", order.canonical().get("items").map(Json::compact).unwrap_or_default())));
        }
    }
    Ok(())
}

/// Sends `input` for a round trip and checks the reply is exactly the canonical form of `order`.
fn roundtrip(p: &mut Stdio, order: &Order, input: &str) -> Result<(), Failure> {
    let expected = order.canonical();
    let expected_text = expected.compact();
    let reply = p.request(&json!({"op": "roundtrip", "json": input}))?;
    if reply.get("ok").and_then(Value::as_str) == Some(expected_text.as_str()) {
        return Ok(());
    }
    Err(explain(order, &expected, input, &reply))
}

fn explain(order: &Order, expected: &Json, input: &str, reply: &Value) -> Failure {
    let expected_text = expected.compact();
    let sent = readable_input(input);
    if let Some(error) = reply.get("error") {
        let path = error.get("path").and_then(Value::as_str).unwrap_or("");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        let mut failure =
            Failure::new("a valid order was refused: it must round-trip to its canonical form")
                .expected(format!(
                    r#"{{"ok":{}}}"#,
                    serde_json::to_string(&expected_text).unwrap_or_default()
                ))
                .got(reply.to_string())
                .detail(sent);
        if let Some(hint) = refusal_hint(order, path, message) {
            failure = failure.detail(hint);
        }
        return failure;
    }
    let Some(got_text) = reply.get("ok").and_then(Value::as_str) else {
        return Failure::new(r#"the reply to a roundtrip is {"ok":"<canonical text>"} or {"error":{"path":…,"message":…}}"#)
            .got(reply.to_string())
            .detail("the provided `main` writes these replies: if you changed it, compare it with the original");
    };
    let got = match Json::parse(got_text) {
        Ok(got) => got,
        Err(e) => {
            return Failure::new("the output of render is not JSON")
                .expected(&expected_text)
                .got(got_text)
                .detail(format!("JSON error: {e}"))
                .detail(sent);
        }
    };
    let Some(difference) = first_difference(expected, &got) else {
        return Failure::new(
            "the output is the right document but not in canonical form: compact, no whitespace (what serde_json::to_string writes)",
        )
        .expected(&expected_text)
        .got(got_text)
        .detail(sent);
    };
    let rule = difference_rule(order, &difference);
    Failure::new(rule)
        .expected(&expected_text)
        .got(got_text)
        .detail(difference.to_string())
        .detail(sent)
}

/// The input for a report: as sent when it is compact, else compact (whitespace and escapes would spread
/// it over many lines).
pub fn readable_input(input: &str) -> String {
    match Json::parse(input) {
        Ok(json) if json.compact() == input => format!("the input: {input}"),
        Ok(json) => format!(
            "the input, shown compact (it was sent with extra whitespace and \\u escapes): {}",
            json.compact()
        ),
        Err(_) => format!("the input: {input}"),
    }
}

/// The contract's rule that `difference` breaks.
fn difference_rule(order: &Order, difference: &Difference) -> String {
    match difference {
        Difference::KeyOrder { path, .. } if path == "attributes" => {
            "map keys must come out in sorted order: a HashMap iterates in an order that changes from run to run, a BTreeMap iterates its keys sorted".to_string()
        }
        Difference::KeyOrder { .. } => {
            "fields must come out in the contract's order: serde writes struct fields in the order they are declared".to_string()
        }
        Difference::Extra { key, value, .. } if key == "note" && *value == Json::Null => {
            "a missing or null note is not written: leave `None` out of the output (skip_serializing_if)".to_string()
        }
        Difference::Missing { key, .. } if key == "attributes" => {
            "attributes is always written, as {} when there are none".to_string()
        }
        Difference::Missing { key, .. } | Difference::Extra { key, .. }
            if key.contains('_') || key.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            "the JSON keys are camelCase (unitPriceCents): rename the Rust fields with #[serde(rename_all = \"camelCase\")]".to_string()
        }
        Difference::Value { path, .. } if path == "id" && order.id > 1 << 53 => format!(
            "the id must come back exactly: {} does not fit an f64 (exact only up to 2^53), keep it a u64",
            order.id
        ),
        Difference::Value { expected: Json::String(_), .. } => {
            "strings come back as they were sent: escapes decoded on input, written again by serde_json".to_string()
        }
        _ => "the output must be the canonical form of the order that was sent".to_string(),
    }
}

/// A hint for a refused valid document, from serde's message.
fn refusal_hint(order: &Order, path: &str, message: &str) -> Option<String> {
    if path == "id" && message.contains("i64") {
        return Some(format!(
            "id is an unsigned 64-bit integer: ids above i64::MAX (9223372036854775807), like {}, are valid and do not fit an i64",
            order.id
        ));
    }
    if message.contains("missing field `attributes`") {
        return Some(
            "attributes may be missing on input: it is then an empty map (#[serde(default)])"
                .into(),
        );
    }
    if message.contains("missing field `unit")
        || message.contains("missing field `unit_price_cents`")
    {
        return Some(
            "the JSON keys are camelCase (unitPriceCents): #[serde(rename_all = \"camelCase\")]"
                .into(),
        );
    }
    if message.contains("unknown variant") {
        return Some("the variants are written in snake_case: `on_hold`, `card`, `voucher` (#[serde(rename_all = \"snake_case\")])".into());
    }
    if message.contains("unknown field") {
        return Some(
            "unknown keys are ignored here, not refused (no deny_unknown_fields on this API)"
                .into(),
        );
    }
    if path == "note" {
        return Some("a null note means no note: make the field an Option".into());
    }
    None
}
