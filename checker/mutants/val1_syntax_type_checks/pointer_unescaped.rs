//! mutant: joins pointer tokens without RFC 6901 escaping, so a member named `a/b` is reported at `/a/b`
//! expect: ~1

use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The problem type of a body that breaks the validation rules (answered `422`).
pub const VALIDATION_PROBLEM: &str = "urn:backlings:problem:validation";
/// The problem type of a body that is not JSON at all (answered `400`, provided).
pub const MALFORMED_PROBLEM: &str = "urn:backlings:problem:malformed-json";

/// The members a signup may have, in the order the table lists them.
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
/// The members an address may have.
const ADDRESS_FIELDS: [&str; 2] = ["country", "city"];

/// Why a field is invalid: the machine-readable `code` of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// A required member is absent.
    Required,
    /// The member is there with the wrong JSON type (`null` included).
    Type,
    /// A string in the wrong format (email, phone, date, country).
    Format,
    /// A string with too few or too many characters, or an array with too many items.
    Length,
    /// A member the contract does not list.
    UnknownField,
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: a JSON Pointer into the request body, e.g. `/address/country`.
    pub pointer: String,
    /// What kind of problem.
    pub code: Code,
    /// What a person should do about it.
    pub detail: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: String, code: Code, detail: &str) -> Self {
        FieldError {
            pointer,
            code,
            detail: detail.to_string(),
        }
    }
}

/// A valid signup, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signup {
    pub email: String,
    pub phone: String,
    pub name: String,
    pub birth_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newsletter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// The optional postal address of a signup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub country: String,
    pub city: String,
}

/// Whether `s` is an email address by the rules in the header of this file.
pub fn is_email(s: &str) -> bool {
    if s.chars().count() > 254 {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    is_local_part(local) && is_domain(domain)
}

fn is_local_part(local: &str) -> bool {
    const SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";
    (1..=64).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top = labels[labels.len() - 1];
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && top.len() >= 2
        && top.chars().all(|c| c.is_ascii_alphabetic())
}

/// Whether `s` is an E.164 phone number: `+`, then 2 to 15 digits, the first not `0`.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
pub fn is_iso_date(s: &str) -> bool {
    let bytes = s.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !digits_at(0..4)
        || !digits_at(5..7)
        || !digits_at(8..10)
    {
        return false;
    }
    let number = |range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The JSON Pointer of member (or item) `token` of the value at `parent`: `pointer("/address", "city")` is
/// `/address/city`, and `~` and `/` in `token` are escaped as `~0` and `~1`.
pub fn pointer(parent: &str, token: &str) -> String {
    format!("{parent}/{token}")
}

/// Checks a whole signup body: the typed signup, or every invalid field, sorted by pointer.
pub fn validate(body: &Value) -> Result<Signup, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new(
            String::new(),
            Code::Type,
            "the body must be a JSON object",
        )]);
    };
    let mut errors = Vec::new();
    let email = required_string(object, "", "email", &mut errors, |s| {
        check(is_email(s), Code::Format, "not an email address")
    });
    let phone = required_string(object, "", "phone", &mut errors, |s| {
        check(
            is_e164(s),
            Code::Format,
            "an E.164 number: + then 2 to 15 digits",
        )
    });
    let name = required_string(object, "", "name", &mut errors, |s| chars_between(s, 1, 50));
    let birth_date = required_string(object, "", "birth_date", &mut errors, |s| {
        check(is_iso_date(s), Code::Format, "a real date, YYYY-MM-DD")
    });
    let age = optional(object, "", "age", &mut errors, |value| {
        value.as_i64().ok_or("a whole number")
    });
    let newsletter = optional(object, "", "newsletter", &mut errors, |value| {
        value.as_bool().ok_or("true or false")
    });
    let tags = optional(object, "", "tags", &mut errors, |value| {
        value.as_array().ok_or("an array of strings")
    })
    .and_then(|items| check_tags(items, &mut errors));
    let address = optional(object, "", "address", &mut errors, |value| {
        value.as_object().ok_or("an object")
    })
    .and_then(|address| check_address(address, &mut errors));
    unknown_fields(object, "", &SIGNUP_FIELDS, &mut errors);

    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    match (email, phone, name, birth_date) {
        (Some(email), Some(phone), Some(name), Some(birth_date)) if errors.is_empty() => {
            Ok(Signup {
                email,
                phone,
                name,
                birth_date,
                age,
                newsletter,
                tags,
                address,
            })
        }
        _ => Err(errors),
    }
}

/// `Ok` when `ok`, else the code and the detail of the error.
fn check(ok: bool, code: Code, detail: &'static str) -> Result<(), (Code, &'static str)> {
    if ok { Ok(()) } else { Err((code, detail)) }
}

fn chars_between(s: &str, low: usize, high: usize) -> Result<(), (Code, &'static str)> {
    let count = s.chars().count();
    check(
        (low..=high).contains(&count),
        Code::Length,
        "too short or too long (counted in characters)",
    )
}

/// A required string member: absent → `required`, not a string → `type`, then `rule`.
fn required_string(
    object: &Map<String, Value>,
    parent: &str,
    key: &str,
    errors: &mut Vec<FieldError>,
    rule: impl Fn(&str) -> Result<(), (Code, &'static str)>,
) -> Option<String> {
    let at = pointer(parent, key);
    let Some(value) = object.get(key) else {
        errors.push(FieldError::new(
            at,
            Code::Required,
            "this field is required",
        ));
        return None;
    };
    let Some(text) = value.as_str() else {
        errors.push(FieldError::new(at, Code::Type, "must be a string"));
        return None;
    };
    match rule(text) {
        Ok(()) => Some(text.to_string()),
        Err((code, detail)) => {
            errors.push(FieldError::new(at, code, detail));
            None
        }
    }
}

/// An optional member: absent → `None` without an error; present, it must convert with `typed`.
fn optional<'a, T>(
    object: &'a Map<String, Value>,
    parent: &str,
    key: &str,
    errors: &mut Vec<FieldError>,
    typed: impl Fn(&'a Value) -> Result<T, &'static str>,
) -> Option<T> {
    let value = object.get(key)?;
    match typed(value) {
        Ok(typed) => Some(typed),
        Err(expected) => {
            let detail = format!("must be {expected}");
            errors.push(FieldError::new(pointer(parent, key), Code::Type, &detail));
            None
        }
    }
}

fn check_tags(items: &[Value], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    if items.len() > 5 {
        errors.push(FieldError::new(
            "/tags".to_string(),
            Code::Length,
            "at most 5 tags",
        ));
        return None;
    }
    let before = errors.len();
    let mut tags = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let at = pointer("/tags", &index.to_string());
        match item.as_str() {
            None => errors.push(FieldError::new(at, Code::Type, "must be a string")),
            Some(tag) => match chars_between(tag, 1, 20) {
                Ok(()) => tags.push(tag.to_string()),
                Err((code, detail)) => errors.push(FieldError::new(at, code, detail)),
            },
        }
    }
    (errors.len() == before).then_some(tags)
}

fn check_address(address: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Address> {
    let country = required_string(address, "/address", "country", errors, |s| {
        let ok = s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
        check(ok, Code::Format, "two capital letters (ISO 3166-1 alpha-2)")
    });
    let city = required_string(address, "/address", "city", errors, |s| {
        chars_between(s, 1, 50)
    });
    let unknown = unknown_fields(address, "/address", &ADDRESS_FIELDS, errors);
    match (country, city) {
        (Some(country), Some(city)) if !unknown => Some(Address { country, city }),
        _ => None,
    }
}

/// Adds an `unknown_field` error per member of `object` not in `known`; true if there was one.
fn unknown_fields(
    object: &Map<String, Value>,
    parent: &str,
    known: &[&str],
    errors: &mut Vec<FieldError>,
) -> bool {
    let mut found = false;
    for key in object.keys().filter(|key| !known.contains(&key.as_str())) {
        errors.push(FieldError::new(
            pointer(parent, key),
            Code::UnknownField,
            "this field is not part of a signup",
        ));
        found = true;
    }
    found
}

/// The `422` answer for `errors`: an `application/problem+json` body as in the header of this file.
pub fn validation_problem(errors: &[FieldError]) -> Response {
    let listed: Vec<Value> = errors
        .iter()
        .map(|e| json!({ "pointer": e.pointer, "code": e.code, "detail": e.detail }))
        .collect();
    let detail = match errors.len() {
        1 => "1 field is invalid".to_string(),
        n => format!("{n} fields are invalid"),
    };
    let body = json!({
        "type": VALIDATION_PROBLEM,
        "title": "The request body is not valid",
        "status": 422,
        "detail": detail,
        "errors": listed,
    });
    Response::new(422)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// Answers one request (provided: you do not need to change this).
pub fn handle(request: &Request) -> Response {
    if request.path() != "/signup" {
        return Response::text(404, "not found: try POST /signup\n");
    }
    if request.method != "POST" {
        return Response::text(405, "only POST is allowed here\n").with_header("Allow", "POST");
    }
    let media_type = request
        .header("content-type")
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        return Response::text(415, "send the body as application/json\n")
            .with_header("Accept-Post", "application/json");
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(error) => {
            let problem = json!({
                "type": MALFORMED_PROBLEM,
                "title": "The request body is not JSON",
                "status": 400,
                "detail": error.to_string(),
            });
            return Response::new(400)
                .with_header("Content-Type", "application/problem+json")
                .with_body(problem.to_string());
        }
    };
    match validate(&body) {
        Ok(signup) => Response::new(201)
            .with_header("Content-Type", "application/json")
            .with_body(serde_json::to_string(&signup).unwrap_or_default()),
        Err(errors) => validation_problem(&errors),
    }
}

/// Serves `POST /signup` (provided: you do not need to change this).
fn main() -> ExitCode {
    match serve(handle) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
