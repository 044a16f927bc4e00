//! The grader's model of a user and of merge-patch semantics: absent keeps, `null` clears a nullable field
//! and is refused on any other, a value sets.

use std::fmt::Write as _;

use backlings_grade::Rng;
use serde_json::{Value, json};

/// The fields of a user that a client may write, in the contract's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Email,
    Nickname,
    Phone,
    Role,
    Newsletter,
    Tags,
}

/// Every writable field, in the contract's order.
pub const FIELDS: [Field; 7] = [
    Field::Name,
    Field::Email,
    Field::Nickname,
    Field::Phone,
    Field::Role,
    Field::Newsletter,
    Field::Tags,
];

impl Field {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Email => "email",
            Field::Nickname => "nickname",
            Field::Phone => "phone",
            Field::Role => "role",
            Field::Newsletter => "newsletter",
            Field::Tags => "tags",
        }
    }

    /// Whether `null` is a value this field may hold.
    pub fn is_nullable(self) -> bool {
        matches!(self, Field::Nickname | Field::Phone)
    }

    /// A valid seeded value for this field.
    pub fn value(self, rng: &mut Rng) -> Value {
        match self {
            Field::Name => json!(format!("{} {}", capitalised(rng), capitalised(rng))),
            Field::Email => json!(format!("{}@{}.example", rng.word(6), rng.word(4))),
            Field::Nickname => json!(word(rng, 3, 9)),
            Field::Phone => json!(format!(
                "+{} {}",
                rng.range(1, 99),
                rng.range(1_000_000, 99_999_999)
            )),
            Field::Role => json!(*rng.pick(&["member", "admin", "owner", "viewer", "billing"])),
            Field::Newsletter => json!(rng.chance(1, 2)),
            Field::Tags => {
                Value::Array((0..rng.below(4)).map(|_| json!(word(rng, 2, 7))).collect())
            }
        }
    }

    /// A value of the wrong JSON type for this field.
    pub fn wrong_value(self, rng: &mut Rng) -> Value {
        match self {
            Field::Newsletter => json!(*rng.pick(&["true", "yes", "1"])),
            Field::Tags => json!(rng.word(5)),
            _ => match rng.below(3) {
                0 => json!(rng.below(1000)),
                1 => json!(true),
                _ => json!([rng.word(3)]),
            },
        }
    }
}

/// A lowercase word of `low..=high` letters.
pub fn word(rng: &mut Rng, low: u64, high: u64) -> String {
    let len = rng.range(low, high) as usize;
    rng.word(len)
}

fn capitalised(rng: &mut Rng) -> String {
    let word = word(rng, 3, 8);
    let mut chars = word.chars();
    let first = chars
        .next()
        .expect("a word has letters")
        .to_ascii_uppercase();
    std::iter::once(first).chain(chars).collect()
}

/// A user as the contract stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: u64,
    /// Field values, in [`FIELDS`] order (`Value::Null` for an empty nullable field).
    pub values: [Value; 7],
}

impl User {
    /// The user every 200 and 201 returns.
    pub fn json(&self) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("id".into(), json!(self.id));
        for (field, value) in FIELDS.iter().zip(&self.values) {
            object.insert(field.key().into(), value.clone());
        }
        Value::Object(object)
    }

    /// The user a create body makes: absent fields take their defaults.
    pub fn created(id: u64, body: &[(Field, Value)]) -> User {
        let mut values = [
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("member"),
            json!(false),
            json!([]),
        ];
        for (field, value) in body {
            values[index(*field)] = value.clone();
        }
        User { id, values }
    }

    /// Applies a patch: `Err(field)` names the first field whose `null` is refused, and then nothing changes.
    pub fn apply(&mut self, patch: &[(Field, Value)]) -> Result<(), Field> {
        if let Some((field, _)) = patch
            .iter()
            .find(|(field, value)| value.is_null() && !field.is_nullable())
        {
            return Err(*field);
        }
        for (field, value) in patch {
            self.values[index(*field)] = value.clone();
        }
        Ok(())
    }
}

fn index(field: Field) -> usize {
    FIELDS
        .iter()
        .position(|f| *f == field)
        .expect("a known field")
}

/// A JSON object with its keys in the given order (serde_json's `Value` would sort them).
pub fn object_text(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{}", json!(key), value);
    }
    out.push('}');
    out
}

/// The body of a patch or a create, keys in the given order.
pub fn body(pairs: &[(Field, Value)]) -> String {
    let pairs: Vec<(&str, Value)> = pairs.iter().map(|(f, v)| (f.key(), v.clone())).collect();
    object_text(&pairs)
}
