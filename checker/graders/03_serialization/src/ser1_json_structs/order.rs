//! The grader's own model of an order: seeded generation, the canonical form the contract demands, and
//! noisy but valid input forms of the same document (keys shuffled, whitespace, `\u` escapes, unknown keys).

use backlings_grade::Rng;

use crate::ordered_json::{Json, shuffle_keys};
use crate::text::{self, Noise};

/// The status values, in the contract's spelling.
pub const STATUSES: [&str; 5] = ["pending", "paid", "on_hold", "shipped", "cancelled"];

/// How a note appears on input.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Missing,
    Null,
    Text(String),
}

/// How the order is paid.
#[derive(Debug, Clone, PartialEq)]
pub enum Payment {
    Cash,
    Card { brand: String, last4: String },
    Voucher(String),
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// An order, as the grader knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub vip: bool,
    pub items: Vec<Item>,
    pub status: &'static str,
    pub payment: Payment,
    /// Distinct keys, in no particular order (the canonical form sorts them).
    pub attributes: Vec<(String, String)>,
    pub note: Note,
    /// Keys the contract does not know, sent on input only.
    pub unknown: Vec<(String, Json)>,
}

fn string(s: &str) -> Json {
    Json::String(s.to_string())
}

fn number(n: impl ToString) -> Json {
    Json::Number(n.to_string())
}

fn object(pairs: Vec<(&str, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl Order {
    /// The sum of quantity × unit price over the lines.
    pub fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|item| i64::from(item.quantity) * item.unit_price_cents)
            .sum()
    }

    fn payment_json(&self) -> Json {
        match &self.payment {
            Payment::Cash => string("cash"),
            Payment::Card { brand, last4 } => object(vec![(
                "card",
                object(vec![("brand", string(brand)), ("last4", string(last4))]),
            )]),
            Payment::Voucher(code) => object(vec![("voucher", string(code))]),
        }
    }

    fn items_json(&self) -> Json {
        Json::Array(
            self.items
                .iter()
                .map(|item| {
                    object(vec![
                        ("sku", string(&item.sku)),
                        ("quantity", number(item.quantity)),
                        ("unitPriceCents", number(item.unit_price_cents)),
                    ])
                })
                .collect(),
        )
    }

    /// The document the contract writes for this order: keys in the contract's order, attributes sorted,
    /// the note only when it is a string, unknown keys dropped.
    pub fn canonical(&self) -> Json {
        let mut attributes = self.attributes.clone();
        attributes.sort();
        let mut pairs = vec![
            ("id", number(self.id)),
            (
                "customer",
                object(vec![
                    ("name", string(&self.name)),
                    ("email", string(&self.email)),
                    ("vip", Json::Bool(self.vip)),
                ]),
            ),
            ("items", self.items_json()),
            ("status", string(self.status)),
            ("payment", self.payment_json()),
            (
                "attributes",
                Json::Object(
                    attributes
                        .into_iter()
                        .map(|(k, v)| (k, Json::String(v)))
                        .collect(),
                ),
            ),
        ];
        if let Note::Text(note) = &self.note {
            pairs.push(("note", string(note)));
        }
        object(pairs)
    }

    /// The same order as a valid input document, keys in the canonical order: a null note is written as
    /// `null`, empty attributes are left out when `omit_empty_attributes`, unknown keys come last.
    pub fn input(&self, omit_empty_attributes: bool) -> Json {
        let Json::Object(mut pairs) = self.canonical() else {
            unreachable!("an order is an object")
        };
        if omit_empty_attributes && self.attributes.is_empty() {
            pairs.retain(|(k, _)| k != "attributes");
        }
        if self.note == Note::Null {
            pairs.push(("note".to_string(), Json::Null));
        }
        pairs.extend(self.unknown.iter().cloned());
        Json::Object(pairs)
    }

    /// A valid input document with every object's keys shuffled.
    pub fn shuffled_input(&self, rng: &mut Rng, omit_empty_attributes: bool) -> Json {
        shuffle_keys(&self.input(omit_empty_attributes), rng)
    }
}

/// What a generated order may contain.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Most attributes.
    pub max_attributes: u64,
    /// Whether notes may be null or missing, and unknown keys appear.
    pub optional_noise: bool,
    /// Whether strings use the awkward characters (quotes, controls, non-ASCII).
    pub awkward_strings: bool,
}

/// A seeded order.
pub fn generate(rng: &mut Rng, shape: Shape) -> Order {
    let words = |rng: &mut Rng, awkward: bool| {
        if awkward {
            text::awkward_string(rng)
        } else {
            text::plain_words(rng)
        }
    };
    let items = (0..rng.below(5))
        .map(|_| Item {
            sku: format!("{}-{}", rng.word(3).to_uppercase(), rng.below(1000)),
            quantity: rng.range(1, 50) as u32,
            unit_price_cents: if rng.chance(1, 5) {
                -(rng.range(1, 5_000) as i64)
            } else {
                rng.range(0, 250_000) as i64
            },
        })
        .collect();
    let payment = match rng.below(3) {
        0 => Payment::Cash,
        1 => Payment::Card {
            brand: rng.pick(&["visa", "mastercard", "amex"]).to_string(),
            last4: format!("{:04}", rng.below(10_000)),
        },
        _ => Payment::Voucher(format!("{}{}", rng.word(5).to_uppercase(), rng.below(100))),
    };
    let attribute_count = rng.below(shape.max_attributes + 1);
    let mut attributes: Vec<(String, String)> = Vec::new();
    while (attributes.len() as u64) < attribute_count {
        let key = text::attribute_key(rng);
        if !attributes.iter().any(|(k, _)| *k == key) {
            let value = words(rng, shape.awkward_strings);
            attributes.push((key, value));
        }
    }
    let note = match rng.below(if shape.optional_noise { 3 } else { 2 }) {
        0 => Note::Text(words(rng, shape.awkward_strings)),
        1 => Note::Missing,
        _ => Note::Null,
    };
    let mut unknown = Vec::new();
    if shape.optional_noise {
        let mut keys = text::UNKNOWN_KEYS.to_vec();
        rng.shuffle(&mut keys);
        for key in keys.into_iter().take(rng.below(3) as usize) {
            unknown.push((key.to_string(), text::any_json(rng, 2)));
        }
    }
    Order {
        id: id(rng),
        name: words(rng, shape.awkward_strings),
        email: format!("{}@{}.example", rng.word(5), rng.word(4)),
        vip: rng.chance(1, 3),
        items,
        status: rng.pick::<&str>(&STATUSES),
        payment,
        attributes,
        note,
        unknown,
    }
}

/// An order id: small, around 2^53 (where an `f64` stops being exact), or near the top of `u64`.
pub fn id(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.range(1, 100_000),
        1 => (1 << 53) + rng.range(1, 1000),
        2 => u64::MAX - rng.below(1000),
        _ => rng.range(1 << 60, u64::MAX),
    }
}

/// Writes `json` as valid JSON text with random whitespace and escapes.
pub fn noisy_text(json: &Json, rng: &mut Rng) -> String {
    let mut out = String::new();
    text::write_noisy(json, rng, Noise::Heavy, &mut out);
    out
}
