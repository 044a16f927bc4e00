//! The contract of `POST /orders` as an executable model: the limits on raw bytes, the order schema's
//! violations as the contract reports them, and the answer a body must get.

use serde_json::{Map, Value};

use crate::problem::FieldError;

/// The contract's limits.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_DEPTH: usize = 16;
pub const MAX_MEMBERS: usize = 32;
pub const MAX_KEY_BYTES: usize = 64;

/// The answer the contract requires for a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 413, too large.
    TooLarge,
    /// 400 for a broken limit: the problem type's last part and what broke it, in words.
    Limit(&'static str, String),
    /// 400, not JSON.
    Malformed,
    /// 422 with these violations.
    Invalid(Vec<FieldError>),
    /// 201 with the number of lines and units.
    Created { items: usize, units: u64 },
}

/// The first limit the raw bytes break, scanning from the start.
pub fn limit(body: &[u8]) -> Option<(&'static str, String)> {
    // Each open container: (is an object, members so far, the next string is a key).
    let mut open: Vec<(bool, usize, bool)> = Vec::new();
    let mut bytes = body.iter().copied().enumerate();
    while let Some((at, byte)) = bytes.next() {
        match byte {
            b'{' | b'[' => {
                open.push((byte == b'{', 0, byte == b'{'));
                if open.len() > MAX_DEPTH {
                    let why = format!(
                        "the container opened at byte {at} is at depth {} (the limit is {MAX_DEPTH})",
                        open.len()
                    );
                    return Some(("too-deep", why));
                }
            }
            b'}' | b']' => {
                open.pop();
            }
            b',' => {
                if let Some(top) = open.last_mut() {
                    top.2 = top.0;
                }
            }
            b':' => {
                if let Some(top) = open.last_mut() {
                    top.2 = false;
                }
            }
            b'"' => {
                let mut length = 0;
                while let Some((_, inner)) = bytes.next() {
                    match inner {
                        b'"' => break,
                        b'\\' => {
                            length += 2;
                            bytes.next();
                        }
                        _ => length += 1,
                    }
                }
                if let Some(top) = open.last_mut()
                    && top.2
                {
                    top.1 += 1;
                    if top.1 > MAX_MEMBERS {
                        let why = format!(
                            "the object holding the member name at byte {at} has more than {MAX_MEMBERS} \
                             members"
                        );
                        return Some(("too-many-members", why));
                    }
                    if length > MAX_KEY_BYTES {
                        let why = format!(
                            "the member name at byte {at} is {length} bytes as written (the limit is \
                             {MAX_KEY_BYTES})"
                        );
                        return Some(("key-too-long", why));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The answer the contract requires for `body` on `POST /orders`.
pub fn answer(body: &[u8]) -> Answer {
    if body.len() > MAX_BODY_BYTES {
        return Answer::TooLarge;
    }
    if let Some((kind, why)) = limit(body) {
        return Answer::Limit(kind, why);
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Answer::Malformed;
    };
    let errors = violations(&value);
    if !errors.is_empty() {
        return Answer::Invalid(errors);
    }
    let items = value["items"].as_array().map_or(&[][..], Vec::as_slice);
    let units = items
        .iter()
        .map(|item| item["quantity"].as_f64().unwrap_or(0.0) as u64)
        .sum();
    Answer::Created {
        items: items.len(),
        units,
    }
}

fn join(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// What an object must and may hold: its required members, then the others it allows.
fn members(
    object: &Map<String, Value>,
    at: &str,
    required: &[&str],
    optional: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for name in required {
        if !object.contains_key(*name) {
            errors.push(FieldError::new(join(at, name), "required"));
        }
    }
    for key in object.keys() {
        if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
            errors.push(FieldError::new(join(at, key), "additionalProperties"));
        }
    }
}

/// A string's violations: `type`, or each of the length bounds and the pattern it breaks.
fn string(
    value: &Value,
    at: &str,
    min: usize,
    max: usize,
    pattern: Option<fn(&str) -> bool>,
    errors: &mut Vec<FieldError>,
) {
    let Some(text) = value.as_str() else {
        errors.push(FieldError::new(at, "type"));
        return;
    };
    let count = text.chars().count();
    if count < min {
        errors.push(FieldError::new(at, "minLength"));
    }
    if count > max {
        errors.push(FieldError::new(at, "maxLength"));
    }
    if pattern.is_some_and(|matches| !matches(text)) {
        errors.push(FieldError::new(at, "pattern"));
    }
}

/// `^[^@\s]+@[^@\s]+\.[a-z]{2,}$`
pub fn email_pattern(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.contains('@') && !s.chars().any(char::is_whitespace);
    let Some(dot) = domain.rfind('.') else {
        return false;
    };
    let top = &domain[dot + 1..];
    clean(local)
        && clean(domain)
        && dot >= 1
        && top.len() >= 2
        && top.bytes().all(|b| b.is_ascii_lowercase())
}

/// `^[A-Z]{3}-[0-9]{4}$`
pub fn sku_pattern(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 8
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3] == b'-'
        && b[4..].iter().all(u8::is_ascii_digit)
}

/// `^[A-Z0-9]{4,12}$`
pub fn coupon_pattern(text: &str) -> bool {
    (4..=12).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Every violation of the order schema by `value`, as the contract reports them, sorted.
pub fn violations(value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(order) = value.as_object() else {
        return vec![FieldError::new("", "type")];
    };
    members(
        order,
        "",
        &["customer", "items"],
        &["coupon", "gift"],
        &mut errors,
    );
    if let Some(customer) = order.get("customer") {
        match customer.as_object() {
            None => errors.push(FieldError::new("/customer", "type")),
            Some(customer) => {
                members(customer, "/customer", &["email"], &["name"], &mut errors);
                if let Some(email) = customer.get("email") {
                    string(
                        email,
                        "/customer/email",
                        3,
                        254,
                        Some(email_pattern),
                        &mut errors,
                    );
                }
                if let Some(name) = customer.get("name") {
                    string(name, "/customer/name", 1, 100, None, &mut errors);
                }
            }
        }
    }
    if let Some(items) = order.get("items") {
        match items.as_array() {
            None => errors.push(FieldError::new("/items", "type")),
            Some(items) => {
                if items.is_empty() {
                    errors.push(FieldError::new("/items", "minItems"));
                }
                if items.len() > 20 {
                    errors.push(FieldError::new("/items", "maxItems"));
                }
                for (index, item) in items.iter().enumerate() {
                    line(item, &format!("/items/{index}"), &mut errors);
                }
            }
        }
    }
    if let Some(coupon) = order.get("coupon") {
        string(
            coupon,
            "/coupon",
            0,
            usize::MAX,
            Some(coupon_pattern),
            &mut errors,
        );
    }
    if let Some(gift) = order.get("gift")
        && !gift.is_boolean()
    {
        errors.push(FieldError::new("/gift", "type"));
    }
    errors.sort();
    errors
}

fn line(item: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let Some(line) = item.as_object() else {
        errors.push(FieldError::new(at, "type"));
        return;
    };
    members(line, at, &["sku", "quantity"], &[], errors);
    if let Some(sku) = line.get("sku") {
        string(
            sku,
            &format!("{at}/sku"),
            0,
            usize::MAX,
            Some(sku_pattern),
            errors,
        );
    }
    if let Some(quantity) = line.get("quantity") {
        let at = format!("{at}/quantity");
        match quantity.as_f64() {
            None => errors.push(FieldError::new(at, "type")),
            Some(number) => {
                if number.fract() != 0.0 {
                    errors.push(FieldError::new(at.clone(), "type"));
                }
                if number < 1.0 {
                    errors.push(FieldError::new(at.clone(), "minimum"));
                }
                if number > 99.0 {
                    errors.push(FieldError::new(at, "maximum"));
                }
            }
        }
    }
}

/// The schema's rule for the value at `pointer` and the keyword `code`, in words, for a failure report.
pub fn rule_of(pointer: &str, code: &str) -> String {
    match code {
        "required" => format!(
            "a missing required member is reported at the member itself (`required` at {pointer:?}), not at \
             the object that lacks it: the validator names the member in its error, join it to the path"
        ),
        "additionalProperties" => format!(
            "each unexpected member is its own `additionalProperties` error, at that member ({pointer:?}, \
             escaped as RFC 6901 says); the validator reports them together, at the object"
        ),
        _ => {
            let value = pointer
                .split('/')
                .filter(|part| !part.chars().all(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join("/");
            let schema = match value.as_str() {
                "" => "the body is an object",
                "/customer" => "customer is an object",
                "/customer/email" => {
                    "email: a string of 3 to 254 characters matching ^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"
                }
                "/customer/name" => "name: a string of 1 to 100 characters",
                "/items" => "items: an array of 1 to 20 order lines",
                "/items/sku" => "sku: a string matching ^[A-Z]{3}-[0-9]{4}$",
                "/items/quantity" => {
                    "quantity: an integer (2.0 counts, 2.5 does not) from 1 to 99; 0.5 breaks both `type` and \
                     `minimum`, and every violation is listed"
                }
                "/coupon" => "coupon: a string matching ^[A-Z0-9]{4,12}$",
                "/gift" => "gift: a boolean",
                _ => "an order line is an object",
            };
            format!("{schema} (`{code}` is the keyword that failed)")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The model agrees with the examples of the exercise's tests.
    #[test]
    fn model_matches_the_exercise_examples() {
        let value = json!({
            "customer": {"name": ""},
            "items": [{"sku": "abc-1234", "quantity": 0.5, "a/b": 1}],
            "x": true,
        });
        let pairs: Vec<(String, String)> = violations(&value)
            .into_iter()
            .map(|e| (e.pointer, e.code))
            .collect();
        let want = [
            ("/customer/email", "required"),
            ("/customer/name", "minLength"),
            ("/items/0/a~1b", "additionalProperties"),
            ("/items/0/quantity", "minimum"),
            ("/items/0/quantity", "type"),
            ("/items/0/sku", "pattern"),
            ("/x", "additionalProperties"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        assert_eq!(pairs, want);
        let deep = format!("{}{}", "[".repeat(17), "]".repeat(17));
        assert_eq!(limit(deep.as_bytes()).map(|l| l.0), Some("too-deep"));
        let quoted = format!(r#"{{"a": "\"{}"}}"#, "[".repeat(40));
        assert_eq!(limit(quoted.as_bytes()), None);
        assert!(email_pattern("o'brien+tag@mail.example.co.uk"));
        assert!(!email_pattern("ada@example.COM"));
    }
}
