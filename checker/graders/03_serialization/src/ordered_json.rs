//! JSON that remembers its key order, and the first place two documents differ.
//!
//! `serde_json::Value` (without the `preserve_order` feature) sorts object keys, which hides exactly the
//! mistakes the serialization graders look for: fields written in the wrong order, map keys in hash order.
//! [`Json`] keeps objects as ordered lists of pairs and numbers as their source text, so a report can say
//! "the keys came out as [b, a]" or "`18446744073709551615` came back as `18446744073709552000`".

use std::fmt;

use backlings_grade::Rng;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON document with its key order kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number as serde_json reads it back: integers exactly, others as written by `f64`'s `Display`.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `text`, or gives serde_json's reason.
    pub fn parse(text: &str) -> Result<Json, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The value at `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as compact JSON (keys in their kept order).
    pub fn compact(&self) -> String {
        match self {
            Json::Null => "null".to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => n.clone(),
            Json::String(s) => serde_json::to_string(s).expect("a string serializes"),
            Json::Array(items) => {
                let inner: Vec<String> = items.iter().map(Json::compact).collect();
                format!("[{}]", inner.join(","))
            }
            Json::Object(pairs) => {
                let inner: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}:{}",
                            serde_json::to_string(k).expect("a key"),
                            v.compact()
                        )
                    })
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }
}

/// The same document with the keys of every object in a random order.
pub fn shuffle_keys(json: &Json, rng: &mut Rng) -> Json {
    match json {
        Json::Object(pairs) => {
            let mut pairs: Vec<(String, Json)> = pairs
                .iter()
                .map(|(k, v)| (k.clone(), shuffle_keys(v, rng)))
                .collect();
            rng.shuffle(&mut pairs);
            Json::Object(pairs)
        }
        Json::Array(items) => Json::Array(items.iter().map(|v| shuffle_keys(v, rng)).collect()),
        other => other.clone(),
    }
}

/// Where two documents first differ, and how.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// Same keys, another order.
    KeyOrder {
        path: String,
        expected: Vec<String>,
        got: Vec<String>,
    },
    /// A key the expected object has and the other lacks.
    Missing { path: String, key: String },
    /// A key the other object has and the expected one lacks.
    Extra {
        path: String,
        key: String,
        value: Json,
    },
    /// Different values (or kinds of value) at `path`.
    Value {
        path: String,
        expected: Json,
        got: Json,
    },
    /// Arrays of different lengths.
    Length {
        path: String,
        expected: usize,
        got: usize,
    },
}

impl Difference {
    /// The path the difference is at, in `serde_path_to_error` style (`.` for the root).
    pub fn path(&self) -> &str {
        match self {
            Difference::KeyOrder { path, .. }
            | Difference::Missing { path, .. }
            | Difference::Extra { path, .. }
            | Difference::Value { path, .. }
            | Difference::Length { path, .. } => path,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::KeyOrder {
                path,
                expected,
                got,
            } => write!(
                f,
                "at `{path}` the keys came out as [{}], the contract's order is [{}]",
                got.join(", "),
                expected.join(", ")
            ),
            Difference::Missing { path, key } => {
                write!(f, "at `{path}` the key `{key}` is missing")
            }
            Difference::Extra { path, key, value } => write!(
                f,
                "at `{path}` there is a key `{key}` (= {}) the contract does not write",
                value.compact()
            ),
            Difference::Value {
                path,
                expected,
                got,
            } => write!(
                f,
                "at `{path}` the value is {}, the contract says {}",
                got.compact(),
                expected.compact()
            ),
            Difference::Length {
                path,
                expected,
                got,
            } => write!(
                f,
                "at `{path}` the array has {got} elements, the contract says {expected}"
            ),
        }
    }
}

/// The first place `got` differs from `expected`, walking both in document order; `None` when they are
/// the same document with the same key order (they may still differ in whitespace).
pub fn first_difference(expected: &Json, got: &Json) -> Option<Difference> {
    walk(expected, got, ".")
}

fn join(path: &str, key: &str) -> String {
    if path == "." {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(expected: &Json, got: &Json, path: &str) -> Option<Difference> {
    match (expected, got) {
        (Json::Object(want), Json::Object(have)) => {
            for (key, _) in want {
                if !have.iter().any(|(k, _)| k == key) {
                    return Some(Difference::Missing {
                        path: path.to_string(),
                        key: key.clone(),
                    });
                }
            }
            for (key, value) in have {
                if !want.iter().any(|(k, _)| k == key) {
                    return Some(Difference::Extra {
                        path: path.to_string(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
            }
            // Values before order: a wrong value deeper down is the more useful thing to report.
            for (key, value) in want {
                let other = got.get(key).expect("checked above");
                if let Some(difference) = walk(value, other, &join(path, key)) {
                    return Some(difference);
                }
            }
            let want_keys: Vec<String> = want.iter().map(|(k, _)| k.clone()).collect();
            let have_keys: Vec<String> = have.iter().map(|(k, _)| k.clone()).collect();
            (want_keys != have_keys).then(|| Difference::KeyOrder {
                path: path.to_string(),
                expected: want_keys,
                got: have_keys,
            })
        }
        (Json::Array(want), Json::Array(have)) => {
            for (index, (a, b)) in want.iter().zip(have).enumerate() {
                let at = if path == "." {
                    format!("[{index}]")
                } else {
                    format!("{path}[{index}]")
                };
                if let Some(difference) = walk(a, b, &at) {
                    return Some(difference);
                }
            }
            (want.len() != have.len()).then(|| Difference::Length {
                path: path.to_string(),
                expected: want.len(),
                got: have.len(),
            })
        }
        _ if expected == got => None,
        _ => Some(Difference::Value {
            path: path.to_string(),
            expected: expected.clone(),
            got: got.clone(),
        }),
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        // serde_json's own spelling of a float, so `1.0` stays `1.0` and `1e21` stays `1e21`.
        Ok(Json::Number(
            serde_json::to_string(&v).unwrap_or_else(|_| v.to_string()),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut pairs = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            pairs.push((key, value));
        }
        Ok(Json::Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Key order is kept, and a reordering is reported as such.
    #[test]
    fn key_order_is_kept_and_compared() {
        let a = Json::parse(r#"{"a":1,"b":{"x":[1,2],"y":true}}"#).unwrap();
        let b = Json::parse(r#"{"b":{"y":true,"x":[1,2]},"a":1}"#).unwrap();
        assert_eq!(a.compact(), r#"{"a":1,"b":{"x":[1,2],"y":true}}"#);
        assert_eq!(
            first_difference(&a, &b),
            Some(Difference::KeyOrder {
                path: "b".into(),
                expected: vec!["x".into(), "y".into()],
                got: vec!["y".into(), "x".into()],
            })
        );
    }

    // A value deep in an array is found with its path.
    #[test]
    fn values_are_compared_with_paths() {
        let a = Json::parse(r#"{"items":[{"q":1},{"q":2}]}"#).unwrap();
        let b = Json::parse(r#"{"items":[{"q":1},{"q":2.0}]}"#).unwrap();
        let difference = first_difference(&a, &b).unwrap();
        assert_eq!(difference.path(), "items[1].q");
        assert_eq!(first_difference(&a, &a), None);
    }
}
