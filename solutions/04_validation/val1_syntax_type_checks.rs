//! # Type and format checks, with every error reported at once
//!
//! Every byte a server receives was written by someone it does not control: a browser form with its checks
//! switched off, a mobile app two versions old, a script, an attacker. Checks in the client are a courtesy to
//! the user (instant feedback); the checks that protect the data are the server's, and they run on every
//! request before any business logic sees it. This exercise is the first layer of that gatekeeping, the
//! **syntactic** one: is each field there, of the right JSON type, in the right format? (Whether the values
//! make sense together, "born after today", "partner name only when married", is the next exercise.)
//!
//! Two things separate a good validation layer from a bad one:
//!
//! - **It reports every problem at once.** A form with five mistakes should come back with five errors, not
//!   one error per round trip (the user fixes the email, submits, learns about the phone, submits, ...).
//!   So the validator does not stop at the first bad field: it checks them all and collects the errors.
//! - **It says where each problem is, in a form a program can use.** Each error names its field with a
//!   **JSON Pointer** (RFC 6901: `/address/country`, `/tags/2`) and a stable machine-readable `code`, so the
//!   client can put the message next to the right input box. The envelope is the standard one for HTTP API
//!   errors, **Problem Details** (RFC 9457, `Content-Type: application/problem+json`), whose own example uses
//!   exactly this `errors` member.
//!
//! ## The contract: `POST /signup`
//!
//! The provided `handle` answers `415` to a body that is not `application/json`, `400` (problem type
//! `urn:backlings:problem:malformed-json`) to one that does not parse, and otherwise calls your `validate`:
//! a valid body gets `201 Created` with the signup echoed as JSON; an invalid one gets **`422`** with the body
//! your `validation_problem` builds:
//!
//! ```json
//! {
//!   "type": "urn:backlings:problem:validation",
//!   "title": "The request body is not valid",
//!   "status": 422,
//!   "detail": "2 fields are invalid",
//!   "errors": [
//!     { "pointer": "/email", "code": "format", "detail": "not an email address" },
//!     { "pointer": "/tags/1", "code": "length", "detail": "must be 1 to 20 characters" }
//!   ]
//! }
//! ```
//!
//! `type` and `status` exactly as shown, a non-empty `title`, and in `errors` one object per invalid field with
//! its `pointer`, its `code` and a non-empty human `detail`, **sorted by `pointer`** (plain string order).
//! The body must be a JSON object; anything else is one error with the pointer `""` (the whole document)
//! and the code `type`.
//!
//! | field | required | JSON type | rule (code when broken) |
//! |---|---|---|---|
//! | `email` | yes | string | an email address as below (`format`) |
//! | `phone` | yes | string | E.164: `+`, then 2 to 15 digits, the first not `0` (`format`) |
//! | `name` | yes | string | 1 to 50 **characters** (`length`) |
//! | `birth_date` | yes | string | a real calendar date `YYYY-MM-DD` (`format`) |
//! | `age` | no | integer | a JSON number without fraction or exponent: `30.0` and `"30"` are not (`type`) |
//! | `newsletter` | no | boolean | |
//! | `tags` | no | array | at most 5 items (`length`); each item a string of 1 to 20 characters |
//! | `address` | no | object | `country` required, 2 ASCII capital letters (`format`); `city` required, 1 to 50 characters (`length`) |
//!
//! - Codes: `required` (absent), `type` (present with the wrong JSON type; `null` is a wrong type too, even
//!   for an optional field), `format`, `length`, and `unknown_field` for a member the table does not list
//!   (at the top level and inside `address`): a strict API refuses what it does not understand instead of
//!   silently dropping it.
//! - **One error per field**: the first check that fails (required, then type, then the rule). A container
//!   that fails its own check is not looked into: a `tags` array of 6 items gets one `length` error at
//!   `/tags`, its items are not checked. Otherwise each bad item or member gets its own error (`/tags/3`,
//!   `/address/city`).
//! - **Characters, not bytes**: `"Zoë"` is 3 characters and 4 bytes. Count `char`s (Unicode scalar values).
//! - **Email**, a strict practical subset of RFC 5322: exactly one `@`; at most 254 characters in all; the
//!   local part 1 to 64 characters from ASCII letters, digits and ``.!#$%&'*+/=?^_`{|}~-``, not starting or
//!   ending with `.` and without `..`; the domain two or more labels separated by `.`, each 1 to 63 ASCII
//!   letters, digits or `-`, not starting or ending with `-`, the last label (the top-level domain) letters
//!   only and at least 2 of them. So `o'brien+news@mail.example.co.uk` is valid, `a@b`, `a@b.c`,
//!   `.a@b.io` and `a@-b.io` are not.
//! - **Dates**: exactly `YYYY-MM-DD` with ASCII digits, month `01` to `12`, and a day that exists in that
//!   month: Gregorian leap years are divisible by 4, except centuries, except those divisible by 400. So
//!   `2024-02-29` and `2000-02-29` exist, `2023-02-29` and `1900-02-29` do not, and neither does
//!   `2024-04-31`.
//! - **JSON Pointer** (RFC 6901): the pointer of member `k` of the value at pointer `p` is `p + "/" + k`,
//!   with `~` in `k` written `~0` and `/` written `~1` (in that order: `~` first, or the `~` of a `~1` you
//!   just wrote would be escaped again). An unknown member called `a/b` is `/a~1b`. An array item's token is
//!   its index.
//!
//! ## Pitfalls
//!
//! - Returning at the first error: correct, and miserable to use.
//! - `s.len()` counts bytes: a 30-letter name in Greek or Cyrillic is 60 bytes and would be refused.
//! - Treating `null` as "absent", or coercing `"30"` to `30`: a type check checks the type. (Lenient coercion
//!   is a deliberate *transformation* step, in a later exercise.)
//! - An email "regex" from the internet: most refuse `+` tags or long top-level domains, and lose real users.
//! - February 29 exists in some years, and 1900 was not one of them.
//! - Echoing the user's input inside an error message that some page later renders as HTML: the codes and
//!   details here never need the value itself.
//!
//! Roadmap: input validation: syntactic and type checks; client-side vs server-side validation; error
//! handling: meaningful messages, aggregated errors (RFC 9457 problem details).

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
    format!("{parent}/{}", token.replace('~', "~0").replace('/', "~1"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        json!({
            "email": "ada@example.com",
            "phone": "+442079460958",
            "name": "Ada Lovelace",
            "birth_date": "1815-12-10",
        })
    }

    fn codes(body: &Value) -> Vec<(String, Code)> {
        match validate(body) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.pointer, e.code)).collect(),
        }
    }

    // Plus tags, apostrophes and subdomains are real addresses; a missing dot or a leading dot is not.
    #[test]
    fn emails_follow_the_stated_rules() {
        assert!(is_email("o'brien+news@mail.example.co.uk"));
        assert!(is_email("A.B-C@Example.IO"));
        for bad in [
            "a@b",
            "a@b.c",
            ".a@b.io",
            "a.@b.io",
            "a..b@c.io",
            "a@-b.io",
            "a@b.i0",
        ] {
            assert!(!is_email(bad), "{bad} must not be an email");
        }
        assert!(!is_email("a@b@c.io"));
        assert!(!is_email(&format!("{}@b.io", "x".repeat(65))));
    }

    // E.164 is a plus, then up to 15 digits, no leading zero, no spaces.
    #[test]
    fn phones_are_e164() {
        assert!(is_e164("+14155552671"));
        assert!(is_e164("+123456789012345"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("14155552671"));
        assert!(!is_e164("+0412345678"));
        assert!(!is_e164("+44 20 7946 0958"));
    }

    // Leap years: 2024 and 2000 have a February 29, 2023 and 1900 do not.
    #[test]
    fn dates_must_exist() {
        assert!(is_iso_date("2024-02-29"));
        assert!(is_iso_date("2000-02-29"));
        assert!(!is_iso_date("2023-02-29"));
        assert!(!is_iso_date("1900-02-29"));
        assert!(!is_iso_date("2024-04-31"));
        assert!(!is_iso_date("2024-13-01"));
        assert!(!is_iso_date("2024-1-01"));
        assert!(!is_iso_date("24-01-01xx"));
    }

    // `~` becomes `~0` and `/` becomes `~1`, in that order.
    #[test]
    fn pointers_escape_tilde_and_slash() {
        assert_eq!(pointer("", "email"), "/email");
        assert_eq!(pointer("/tags", "3"), "/tags/3");
        assert_eq!(pointer("", "a/b"), "/a~1b");
        assert_eq!(pointer("/address", "~1"), "/address/~01");
    }

    // A valid body comes back typed, optional fields included.
    #[test]
    fn a_valid_signup_is_accepted() {
        let mut body = valid();
        body["tags"] = json!(["rust", "ζήτα"]);
        body["address"] = json!({"country": "GB", "city": "London"});
        let signup = validate(&body).expect("valid");
        assert_eq!(signup.name, "Ada Lovelace");
        assert_eq!(
            signup.tags,
            Some(vec!["rust".to_string(), "ζήτα".to_string()])
        );
    }

    // Every invalid field is reported in one go, sorted by pointer.
    #[test]
    fn every_error_at_once_sorted_by_pointer() {
        let body = json!({
            "phone": "0044 20 7946 0958",
            "name": "",
            "birth_date": "2023-02-29",
            "age": "30",
            "tags": ["ok", 7],
            "address": {"country": "gb"},
            "admin": true,
        });
        assert_eq!(
            codes(&body),
            vec![
                ("/address/city".to_string(), Code::Required),
                ("/address/country".to_string(), Code::Format),
                ("/admin".to_string(), Code::UnknownField),
                ("/age".to_string(), Code::Type),
                ("/birth_date".to_string(), Code::Format),
                ("/email".to_string(), Code::Required),
                ("/name".to_string(), Code::Length),
                ("/phone".to_string(), Code::Format),
                ("/tags/1".to_string(), Code::Type),
            ]
        );
    }

    // Characters are counted, not bytes; null is a wrong type, not an absence; 30.0 is not an integer.
    #[test]
    fn characters_null_and_integers() {
        let mut body = valid();
        body["name"] = json!("é".repeat(50));
        body["age"] = json!(30);
        assert_eq!(codes(&body), vec![]);
        body["name"] = json!("é".repeat(51));
        body["age"] = json!(30.0);
        body["newsletter"] = Value::Null;
        assert_eq!(
            codes(&body),
            vec![
                ("/age".to_string(), Code::Type),
                ("/name".to_string(), Code::Length),
                ("/newsletter".to_string(), Code::Type),
            ]
        );
    }

    // Too many tags is one error on the array; its items are not looked into.
    #[test]
    fn a_failed_container_is_not_looked_into() {
        let mut body = valid();
        body["tags"] = json!(["a", "b", "c", "d", "e", 6]);
        assert_eq!(codes(&body), vec![("/tags".to_string(), Code::Length)]);
        assert_eq!(codes(&json!([1, 2])), vec![(String::new(), Code::Type)]);
    }

    // The 422 body is problem+json with the errors listed in order.
    #[test]
    fn the_problem_document() {
        let errors = [FieldError::new("/email".to_string(), Code::Format, "bad")];
        let response = validation_problem(&errors);
        assert_eq!(response.status, 422);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["type"], VALIDATION_PROBLEM);
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["pointer"], "/email");
        assert_eq!(body["errors"][0]["code"], "format");
    }
}
