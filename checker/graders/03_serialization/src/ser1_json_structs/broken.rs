//! Invalid orders: a valid seeded document with one value of the wrong type (or one required key removed),
//! and the path `serde_path_to_error` names for it.

use backlings_grade::{Failure, Rng, Stdio};
use serde_json::{Value, json};

use super::order::{self, Payment, Shape};
use crate::ordered_json::Json;

/// One invalid document and what the contract says about it.
pub struct Broken {
    /// The document sent.
    pub input: String,
    /// The path the error must name.
    pub path: String,
    /// Why the document is invalid, in the contract's words.
    pub why: String,
}

/// A step into a document.
enum Step {
    Key(String),
    Index(usize),
}

fn key(k: &str) -> Step {
    Step::Key(k.to_string())
}

fn at<'a>(json: &'a mut Json, path: &[Step]) -> &'a mut Json {
    let mut here = json;
    for step in path {
        here = match (here, step) {
            (Json::Object(pairs), Step::Key(k)) => {
                &mut pairs
                    .iter_mut()
                    .find(|(key, _)| key == k)
                    .expect("the path exists in the generated document")
                    .1
            }
            (Json::Array(items), Step::Index(i)) => &mut items[*i],
            _ => unreachable!("the path follows the document's shape"),
        };
    }
    here
}

fn set(json: &mut Json, path: &[Step], value: Json) {
    *at(json, path) = value;
}

fn remove(json: &mut Json, path: &[Step], name: &str) {
    if let Json::Object(pairs) = at(json, path) {
        pairs.retain(|(k, _)| k != name);
    }
}

fn number(text: &str) -> Json {
    Json::Number(text.to_string())
}

fn string(text: &str) -> Json {
    Json::String(text.to_string())
}

/// The invalid documents of one run, in a seeded order of spellings.
pub fn cases(rng: &mut Rng) -> Vec<Broken> {
    let shape = Shape {
        max_attributes: 4,
        optional_noise: true,
        awkward_strings: true,
    };
    let mut base = order::generate(rng, shape);
    while base.items.len() < 3 {
        base.items.push(order::Item {
            sku: format!("SKU-{}", rng.below(1000)),
            quantity: rng.range(1, 9) as u32,
            unit_price_cents: rng.range(1, 9999) as i64,
        });
    }
    if base.attributes.is_empty() {
        base.attributes.push(("gift".into(), "yes".into()));
    }
    base.payment = Payment::Card {
        brand: "visa".into(),
        last4: "4242".into(),
    };
    let document = base.input(false);
    let item = rng.below(base.items.len() as u64) as usize;
    let items = format!("items[{item}]");
    let attribute = base.attributes[rng.below(base.attributes.len() as u64) as usize]
        .0
        .clone();

    type Edit = Box<dyn Fn(&mut Json)>;
    let item_path = move |field: &str| vec![key("items"), Step::Index(item), key(field)];
    let table: Vec<(String, &str, Edit)> = vec![
        (
            "id".into(),
            "id is a number (a u64), not a string of digits: a strict API refuses \"123\"",
            {
                let id = base.id.to_string();
                Box::new(move |d| set(d, &[key("id")], string(&id)))
            },
        ),
        (
            "id".into(),
            "id is unsigned: -1 is not a u64",
            Box::new(|d| set(d, &[key("id")], number("-1"))),
        ),
        (
            "id".into(),
            "18446744073709551616 is 2^64, one more than the largest u64: it must be refused, not wrapped or rounded",
            Box::new(|d| set(d, &[key("id")], number("18446744073709551616"))),
        ),
        (
            "id".into(),
            "id is an integer: 12.5 is not a u64",
            Box::new(|d| set(d, &[key("id")], number("12.5"))),
        ),
        (
            "customer.vip".into(),
            "vip is a bool: the string \"true\" is not one",
            Box::new(|d| set(d, &[key("customer"), key("vip")], string("true"))),
        ),
        (
            "customer.vip".into(),
            "vip is a bool: 1 is not one",
            Box::new(|d| set(d, &[key("customer"), key("vip")], number("1"))),
        ),
        (
            "customer".into(),
            "customer.email is required: the error is reported at the object that lacks it",
            Box::new(|d| remove(d, &[key("customer")], "email")),
        ),
        (
            "customer.name".into(),
            "customer.name is a string: 42 is not one",
            Box::new(|d| set(d, &[key("customer"), key("name")], number("42"))),
        ),
        (
            ".".into(),
            "customer is required: the error is reported at the document itself, path `.`",
            Box::new(|d| remove(d, &[], "customer")),
        ),
        (
            "items".into(),
            "items is an array: an object is not one",
            Box::new(|d| set(d, &[key("items")], Json::Object(Vec::new()))),
        ),
        (
            format!("{items}.quantity"),
            "quantity is an unsigned 32-bit integer (u32): the string \"3\" is not one",
            {
                let path = item_path("quantity");
                Box::new(move |d| set(d, &path, string("3")))
            },
        ),
        (
            format!("{items}.quantity"),
            "quantity is an unsigned 32-bit integer (u32): -1 is not one",
            {
                let path = item_path("quantity");
                Box::new(move |d| set(d, &path, number("-1")))
            },
        ),
        (
            format!("{items}.quantity"),
            "quantity is an unsigned 32-bit integer (u32): 4294967296 (2^32) does not fit",
            {
                let path = item_path("quantity");
                Box::new(move |d| set(d, &path, number("4294967296")))
            },
        ),
        (
            format!("{items}.quantity"),
            "quantity is an unsigned 32-bit integer (u32): 2.5 is not an integer",
            {
                let path = item_path("quantity");
                Box::new(move |d| set(d, &path, number("2.5")))
            },
        ),
        (
            format!("{items}.unitPriceCents"),
            "unitPriceCents is an integer number of cents: 19.99 is a float (money is never a float)",
            {
                let path = item_path("unitPriceCents");
                Box::new(move |d| set(d, &path, number("19.99")))
            },
        ),
        (
            items.clone(),
            "every item has a sku: the error is reported at the item that lacks it",
            { Box::new(move |d| remove(d, &[key("items"), Step::Index(item)], "sku")) },
        ),
        (
            "status".into(),
            "the statuses are lowercase snake_case: \"Paid\" is not one of them (names are case-sensitive)",
            Box::new(|d| set(d, &[key("status")], string("Paid"))),
        ),
        (
            "status".into(),
            "\"onHold\" is not a status: the contract spells it \"on_hold\"",
            Box::new(|d| set(d, &[key("status")], string("onHold"))),
        ),
        (
            "status".into(),
            "\"lost\" is not a status",
            Box::new(|d| set(d, &[key("status")], string("lost"))),
        ),
        (
            "payment".into(),
            "bitcoin is not a payment form",
            Box::new(|d| {
                let wallet = Json::Object(vec![("wallet".into(), string("1A1zP1"))]);
                set(
                    d,
                    &[key("payment")],
                    Json::Object(vec![("bitcoin".into(), wallet)]),
                );
            }),
        ),
        (
            "payment.card.last4".into(),
            "last4 is a string (\"0042\" keeps its leading zeros): 4242 is a number",
            Box::new(|d| {
                set(
                    d,
                    &[key("payment"), key("card"), key("last4")],
                    number("4242"),
                )
            }),
        ),
        (
            "payment.voucher".into(),
            "a voucher code is a string: 12 is a number",
            Box::new(|d| {
                set(
                    d,
                    &[key("payment")],
                    Json::Object(vec![("voucher".into(), number("12"))]),
                );
            }),
        ),
        (
            format!("attributes.{attribute}"),
            "attribute values are strings: 7 is a number",
            {
                let attribute = attribute.clone();
                Box::new(move |d| {
                    set(
                        d,
                        &[key("attributes"), Step::Key(attribute.clone())],
                        number("7"),
                    )
                })
            },
        ),
        (
            "note".into(),
            "note is a string or null: 5 is neither",
            Box::new(|d| {
                remove(d, &[], "note");
                if let Json::Object(pairs) = d {
                    pairs.push(("note".into(), number("5")));
                }
            }),
        ),
        (
            ".".into(),
            "an order is an object: 42 is not one",
            Box::new(|d| *d = number("42")),
        ),
    ];

    table
        .into_iter()
        .map(|(path, why, edit)| {
            let mut broken = document.clone();
            edit(&mut broken);
            let spelt = crate::ordered_json::shuffle_keys(&broken, rng);
            Broken {
                input: order::noisy_text(&spelt, rng),
                path,
                why: why.to_string(),
            }
        })
        .collect()
}

/// Sends one invalid document and checks it is refused with the right path.
pub fn check(p: &mut Stdio, case: &Broken) -> Result<(), Failure> {
    let reply = p.request(&json!({"op": "roundtrip", "json": case.input}))?;
    let expected = format!(r#"{{"error":{{"path":"{}","message":"…"}}}}"#, case.path);
    let Some(error) = reply.get("error") else {
        return Err(Failure::new(format!(
            "an invalid order was accepted: {}",
            case.why
        ))
        .expected(expected)
        .got(reply.to_string())
        .detail(super::readable_input(&case.input))
        .detail("a strict API refuses a value of the wrong type instead of guessing: check the Rust type of that field"));
    };
    let path = error.get("path").and_then(Value::as_str);
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    if path == Some(case.path.as_str()) && !message.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        "the error must name the path of the offending value, as serde_path_to_error writes it, and say what is wrong",
    )
    .expected(expected)
    .got(reply.to_string())
    .detail(format!("why the order is invalid: {}", case.why))
    .detail(super::readable_input(&case.input))
    .detail("serde_json::from_str only knows the line and column; serde_path_to_error::deserialize keeps the path"))
}
