//! Seeded request bodies: valid items (with the edge cases a byte-counting validator gets wrong), bodies with
//! several invalid fields at once, and merge patches mixing absent members, `null`s and values.

use backlings_grade::Rng;
use serde_json::{Map, Value, json};

use super::model::MAX_PRICE_CENTS;

/// Hands out skus no item has used yet.
#[derive(Debug)]
pub struct Skus {
    rng: Rng,
    count: u64,
}

impl Skus {
    /// Skus with letters drawn from `rng`.
    pub fn new(rng: Rng) -> Self {
        Skus { rng, count: 0 }
    }

    /// A new valid sku such as `QK-17`.
    pub fn next(&mut self) -> String {
        self.count += 1;
        let mut letter = || (b'A' + self.rng.below(26) as u8) as char;
        let (first, second) = (letter(), letter());
        format!("{first}{second}-{}", self.count)
    }
}

const NAMES: [&str; 6] = [
    "Desk lamp",
    "Standing desk",
    "Café crème mug",
    "Noise-cancelling headphones",
    "Ergonomic chair",
    "USB-C hub",
];
const TAGS: [&str; 6] = [
    "home",
    "office",
    "sale",
    "new",
    "kitchen",
    "ßßßßßßßßßßßßßßßßßßßß",
];

/// A valid name: usually ordinary, sometimes exactly 80 characters of two bytes each.
fn name(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => json!("é".repeat(80)),
        1 => json!("x".repeat(80)),
        _ => json!(rng.pick(&NAMES).to_string()),
    }
}

fn price(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(0),
        1 => json!(MAX_PRICE_CENTS),
        _ => json!(rng.range(1, 500_000)),
    }
}

fn tags(rng: &mut Rng) -> Value {
    let count = rng.below(6) as usize;
    let mut tags: Vec<&str> = (0..count).map(|_| *rng.pick(&TAGS)).collect();
    tags.dedup();
    json!(tags)
}

fn description(rng: &mut Rng) -> Option<Value> {
    match rng.below(5) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!("ü".repeat(200))),
        _ => Some(json!(format!("a {} for every day", rng.word(5)))),
    }
}

/// A valid item body with this sku; optional members are sometimes absent.
pub fn valid(rng: &mut Rng, sku: &str) -> Value {
    let mut body = Map::new();
    body.insert("sku".into(), json!(sku));
    body.insert("name".into(), name(rng));
    body.insert("price_cents".into(), price(rng));
    if rng.chance(2, 3) {
        body.insert("tags".into(), tags(rng));
    }
    if let Some(description) = description(rng) {
        body.insert("description".into(), description);
    }
    Value::Object(body)
}

/// A valid body carrying every field, with tags and a description (so a PUT or PATCH can lose them).
pub fn full(rng: &mut Rng, sku: &str) -> Value {
    json!({
        "sku": sku,
        "name": name(rng),
        "price_cents": price(rng),
        "tags": ["home", rng.word(6)],
        "description": format!("the {} one", rng.word(4)),
    })
}

/// A wrong value for `field` (or `None` to remove it), from the mistakes clients really send.
fn fault(rng: &mut Rng, field: &str) -> Option<Value> {
    let choices: Vec<Option<Value>> = match field {
        "sku" => vec![
            None,
            Some(Value::Null),
            Some(json!("ab-12")),
            Some(json!("AB")),
            Some(json!("ABCDEFGHIJKLMNOPQ")),
            Some(json!(1234)),
            Some(json!("AB 12")),
        ],
        "name" => vec![
            None,
            Some(json!("")),
            Some(json!("   ")),
            Some(json!("x".repeat(81))),
            Some(json!("é".repeat(81))),
            Some(json!(42)),
            Some(json!(["lamp"])),
        ],
        "price_cents" => vec![
            None,
            Some(json!(-1)),
            Some(json!(9.99)),
            Some(json!("100")),
            Some(json!(MAX_PRICE_CENTS + 1)),
            Some(json!(true)),
        ],
        "tags" => vec![
            Some(json!("home")),
            Some(json!(["a", "b", "c", "d", "e", "f"])),
            Some(json!(["home", "", "sale"])),
            Some(json!(["home", "x".repeat(21)])),
            Some(json!([7])),
            Some(json!({"home": true})),
        ],
        _ => vec![
            Some(json!(5)),
            Some(json!("ü".repeat(201))),
            Some(json!(["a"])),
        ],
    };
    rng.pick(&choices).clone()
}

/// Unknown members, some needing escapes in a JSON Pointer.
const UNKNOWN: [&str; 6] = ["colour", "price", "a/b", "m~n", "id", "Name"];

/// A body with 1 to 4 invalid fields (and sometimes an unknown member), built on a valid one.
pub fn faulty(rng: &mut Rng, sku: &str) -> Value {
    let mut body = match valid(rng, sku) {
        Value::Object(body) => body,
        _ => Map::new(),
    };
    let mut fields = ["sku", "name", "price_cents", "tags", "description"];
    rng.shuffle(&mut fields);
    let count = rng.range(1, 4) as usize;
    for field in &fields[..count] {
        match fault(rng, field) {
            Some(value) => body.insert(field.to_string(), value),
            None => body.remove(*field),
        };
    }
    if rng.chance(1, 2) {
        body.insert(rng.pick(&UNKNOWN).to_string(), json!(rng.range(1, 9)));
    }
    Value::Object(body)
}

/// A merge patch: each member absent (mostly), `null`, a new value or a wrong one; `taken` is another
/// item's sku to collide with, sometimes.
pub fn patch(rng: &mut Rng, fresh_sku: &str, taken: Option<&str>) -> Value {
    let mut patch = Map::new();
    for field in ["sku", "name", "price_cents", "tags", "description"] {
        let value = match rng.below(10) {
            0..=5 => continue,
            6 => Value::Null,
            7 => match fault(rng, field) {
                Some(value) => value,
                None => continue,
            },
            _ => match field {
                "sku" => json!(taken.filter(|_| rng.chance(1, 2)).unwrap_or(fresh_sku)),
                "name" => name(rng),
                "price_cents" => price(rng),
                "tags" => tags(rng),
                _ => description(rng).unwrap_or(Value::Null),
            },
        };
        patch.insert(field.to_string(), value);
    }
    if rng.chance(1, 8) {
        patch.insert(rng.pick(&UNKNOWN).to_string(), json!(1));
    }
    Value::Object(patch)
}
