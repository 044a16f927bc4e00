//! The contract of `POST /signup` as an executable model: the exact error list a body must get, and each
//! field's rule in words for the report.

use serde_json::{Map, Value};

use crate::problem::FieldError;

/// The members of a signup, as the contract's table lists them.
const SIGNUP_FIELDS: [&str; 8] = [
    "email",
    "phone",
    "name",
    "birth_date",
    "age",
    "newsletter",
    "tags",
    "address",
];

/// The error list the contract requires for `body`, sorted by pointer; empty when the body is valid.
pub fn expected(body: &Value) -> Vec<FieldError> {
    let Some(object) = body.as_object() else {
        return vec![FieldError::new("", "type")];
    };
    let mut errors = Vec::new();
    let mut field =
        |key: &str, check: &dyn Fn(&Value) -> Option<&'static str>, required: bool| match object
            .get(key)
        {
            None if required => errors.push(FieldError::new(format!("/{key}"), "required")),
            None => {}
            Some(value) => {
                if let Some(code) = check(value) {
                    errors.push(FieldError::new(format!("/{key}"), code));
                }
            }
        };
    field("email", &|v| string_rule(v, is_email, "format"), true);
    field("phone", &|v| string_rule(v, is_e164, "format"), true);
    field(
        "name",
        &|v| string_rule(v, |s| chars_between(s, 1, 50), "length"),
        true,
    );
    field(
        "birth_date",
        &|v| string_rule(v, is_iso_date, "format"),
        true,
    );
    field("age", &|v| v.as_i64().is_none().then_some("type"), false);
    field(
        "newsletter",
        &|v| (!v.is_boolean()).then_some("type"),
        false,
    );
    field("tags", &tags_rule, false);
    field("address", &|v| (!v.is_object()).then_some("type"), false);
    if let Some(Value::Array(items)) = object.get("tags")
        && items.len() <= 5
    {
        for (index, item) in items.iter().enumerate() {
            if let Some(code) = string_rule(item, |s| chars_between(s, 1, 20), "length") {
                errors.push(FieldError::new(format!("/tags/{index}"), code));
            }
        }
    }
    if let Some(Value::Object(address)) = object.get("address") {
        address_errors(address, &mut errors);
    }
    for key in object.keys() {
        if !SIGNUP_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(pointer("", key), "unknown_field"));
        }
    }
    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    errors
}

fn address_errors(address: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let country = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
    match address.get("country") {
        None => errors.push(FieldError::new("/address/country", "required")),
        Some(value) => {
            if let Some(code) = string_rule(value, country, "format") {
                errors.push(FieldError::new("/address/country", code));
            }
        }
    }
    match address.get("city") {
        None => errors.push(FieldError::new("/address/city", "required")),
        Some(value) => {
            if let Some(code) = string_rule(value, |s| chars_between(s, 1, 50), "length") {
                errors.push(FieldError::new("/address/city", code));
            }
        }
    }
    for key in address.keys() {
        if key != "country" && key != "city" {
            errors.push(FieldError::new(pointer("/address", key), "unknown_field"));
        }
    }
}

fn tags_rule(value: &Value) -> Option<&'static str> {
    match value {
        Value::Array(items) if items.len() > 5 => Some("length"),
        Value::Array(_) => None,
        _ => Some("type"),
    }
}

/// `type` for a non-string, `code` for a string that fails `rule`.
fn string_rule(
    value: &Value,
    rule: impl Fn(&str) -> bool,
    code: &'static str,
) -> Option<&'static str> {
    match value.as_str() {
        None => Some("type"),
        Some(text) if !rule(text) => Some(code),
        Some(_) => None,
    }
}

fn chars_between(s: &str, low: usize, high: usize) -> bool {
    (low..=high).contains(&s.chars().count())
}

/// RFC 6901: `~` → `~0`, then `/` → `~1`.
pub fn pointer(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The email rule of the contract.
pub fn is_email(s: &str) -> bool {
    const SPECIALS: &[u8] = b".!#$%&'*+/=?^_`{|}~-";
    if s.len() > 254 || s.matches('@').count() != 1 {
        return false;
    }
    let (local, domain) = s.split_once('@').unwrap_or_default();
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let top = labels.last().copied().unwrap_or("");
    local_ok
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && top.len() >= 2
        && top.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The E.164 rule of the contract.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// The date rule of the contract: `YYYY-MM-DD` and a day that exists.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| s[r].parse::<u32>().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

/// Days in `month` of `year`, with the Gregorian leap-year rule.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The contract's rule for the field at `pointer`, in words, for a failure report.
pub fn rule_of(pointer: &str, code: &str) -> String {
    if pointer.is_empty() {
        return "a body that is not a JSON object is one error at the pointer \"\" (the whole document) \
                with the code `type`"
            .to_string();
    }
    if code == "unknown_field" {
        return "a member the contract does not list (names are case-sensitive) is an `unknown_field` \
                error, at the top level and inside address"
            .to_string();
    }
    let field = pointer.trim_start_matches('/');
    let root = field.split('/').next().unwrap_or("");
    let rule = match root {
        "email" => {
            "email (required string): exactly one @; local part 1 to 64 of ASCII letters, digits and \
             .!#$%&'*+/=?^_`{|}~- (no leading, trailing or double dot); domain of 2 or more labels of 1 to 63 \
             ASCII letters, digits or - (not starting or ending with -), the last one letters only and at \
             least 2 long; at most 254 characters in all"
        }
        "phone" => {
            "phone (required string): E.164, a + then 2 to 15 ASCII digits, the first not 0, and nothing \
             else (no spaces, no dashes)"
        }
        "name" => {
            "name (required string): 1 to 50 characters, counted as Unicode characters (chars), not bytes: \
             \"é\" is one character and two bytes"
        }
        "birth_date" => {
            "birth_date (required string): a real calendar date YYYY-MM-DD; leap years are divisible by 4, \
             except centuries, except those divisible by 400 (2000-02-29 exists, 1900-02-29 and 2023-02-29 \
             do not)"
        }
        "age" => {
            "age (optional): a JSON integer, a number without fraction or exponent (30.0, 1e2 and \"30\" \
             are type errors)"
        }
        "newsletter" => "newsletter (optional): true or false",
        "tags" if field == "tags" => {
            "tags (optional): an array of at most 5 items; more is one `length` error at /tags and the \
             items are not looked into"
        }
        "tags" => {
            "each tag (at /tags/N) is a string of 1 to 20 characters (chars, not bytes), and each bad item \
             is its own error"
        }
        "address" if field == "address" => "address (optional): a JSON object",
        "address" => {
            "address members: country required, exactly 2 ASCII capital letters A-Z; city required, 1 to 50 \
             characters; nothing else"
        }
        _ => "this member is not part of the contract",
    };
    let mut text = rule.to_string();
    if code == "type" {
        text.push_str(
            "; a wrong JSON type, null included, is `type` (null is a value, not an absent member: \
             absent is `required`)",
        );
    }
    if code == "required" {
        text.push_str("; an absent required member is `required`");
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The model agrees with the examples in the exercise's header.
    #[test]
    fn model_matches_the_header_examples() {
        assert!(is_email("o'brien+news@mail.example.co.uk"));
        for bad in ["a@b", "a@b.c", ".a@b.io", "a@-b.io"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_iso_date("2000-02-29") && !is_iso_date("1900-02-29"));
        assert_eq!(pointer("", "a/b"), "/a~1b");
        assert_eq!(pointer("", "~1"), "/~01");
        let errors = expected(&json!({"tags": [1, 2, 3, 4, 5, 6], "age": 30.0, "x": null}));
        let pairs: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("/age", "type"),
                ("/birth_date", "required"),
                ("/email", "required"),
                ("/name", "required"),
                ("/phone", "required"),
                ("/tags", "length"),
                ("/x", "unknown_field"),
            ]
        );
    }
}
