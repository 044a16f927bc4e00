//! # Validate the raw JSON against a schema before deserializing it
//!
//! `serde_json::from_slice::<Order>(body)` is one line, and it is where many Rust services stop. It is not
//! enough at the edge of a public API, for three reasons:
//!
//! - **It reports one error**, the first one serde meets, in its own words ("missing field `sku` at line 1
//!   column 58"), and nothing a client can map to a form field. A **JSON Schema** is a contract the server
//!   and its clients share (OpenAPI bodies are JSON Schemas), and a validator reports *every* violation
//!   with a JSON Pointer to the value and the keyword it broke.
//! - **It accepts what it does not know.** By default serde ignores unknown members, so
//!   `{"items": [...], "role": "admin", "price_cents": 0}` deserializes happily and the extra members are
//!   one refactor away from being read ("mass assignment"). A schema with `additionalProperties: false` is
//!   an allow-list.
//! - **It trusts the shape of the input.** Deserializing untrusted bytes is where the *insecure
//!   deserialization* class of attacks lives. In Rust it rarely means code execution, but it does mean
//!   resources: a body of 8 000 nested `[` makes a recursive parser (or the `Drop` of the value it built)
//!   go deep into the stack; an object with 100 000 members or a 1 MB key costs memory and hashing before
//!   any rule is checked. So limits come **first, on the raw bytes**, before any parser sees them.
//!
//! The pipeline, in order: size → structural limits (one pass over the raw bytes) → parse into an untyped
//! `serde_json::Value` → schema validation → typed deserialization, which by then cannot fail.
//!
//! Authentication forms are different: a login that says "unknown user" to one request and "wrong password"
//! to another tells an attacker which accounts exist (**user enumeration**). There, every failure gets the
//! same generic answer: "invalid credentials", and nothing more.
//!
//! ## The contract
//!
//! Every error is a problem document (`application/problem+json`) with the `type` below, the HTTP status as
//! `status`, and a non-empty `title`.
//!
//! `POST /orders`, checked in this order:
//!
//! 1. A body over [`MAX_BODY_BYTES`] (16 KiB) → `413`, type `urn:backlings:problem:too-large`.
//! 2. One pass over the **raw bytes**, where brackets and braces inside strings do not count (mind `\"`):
//!    a container nested deeper than [`MAX_DEPTH`] (the outermost `{` or `[` is depth 1) → `400`,
//!    `urn:backlings:problem:too-deep`; an object with more than [`MAX_MEMBERS`] members →
//!    `400`, `urn:backlings:problem:too-many-members`; a member name longer than [`MAX_KEY_BYTES`] bytes
//!    as written between its quotes (escapes count as written) → `400`,
//!    `urn:backlings:problem:key-too-long`. The scan does not judge syntax: that is the parser's job.
//! 3. A body that is not JSON → `400`, `urn:backlings:problem:malformed-json`.
//! 4. [`ORDER_SCHEMA`] (JSON Schema 2020-12, checked with the `jsonschema` crate) → `422`,
//!    `urn:backlings:problem:validation`, with `errors`: one `{"pointer", "code", "detail"}` per violation,
//!    where `code` is the schema keyword that failed (`type`, `required`, `minimum`, `pattern`, ...) and
//!    `pointer` is the JSON Pointer of the value (`""` for the whole body). A validator reports a missing
//!    member and unexpected members at the *object*; the contract wants them at the *member*: `required`
//!    at `/customer/email` when `email` is missing, and one `additionalProperties` error per unexpected
//!    member, at that member (`/items/0/color`, escaped as RFC 6901 says: `a/b` is `a~1b`). Sorted by
//!    pointer, then code. Every violation is listed, even two on one value (`0.5` is not an `integer` and
//!    is below the `minimum`).
//! 5. Otherwise deserialize into [`Order`] and answer `201` with `{"items": N, "units": U}` (the number of
//!    order lines and the sum of their quantities).
//!
//! `POST /login` with `{"username", "password"}`: steps 1 to 3 as above (they reveal nothing about
//! accounts). After that, **every** failure (a body that breaks [`LOGIN_SCHEMA`], an unknown user, a wrong
//! password) gets the same `401` with the same bytes: the [`invalid_credentials`] response. Success is
//! `200` with `{"user": USERNAME}`.
//!
//! ## Pitfalls
//!
//! - Counting `[` and `{` without skipping strings: `{"note": "[[[[["}` is depth 1. And a string ends at a
//!   `"` that is not escaped: in `"a\"[["` the brackets are still inside.
//! - Relying on the parser's own recursion limit (serde_json stops at 128): a body 20 deep passes it, and
//!   the answer would be a `400` for malformed JSON, not the limit the contract names.
//! - Passing the validator's errors through as they come: `required` and `additionalProperties` point at
//!   the object, and one `additionalProperties` error can name several members.
//! - The schema and the type must agree. JSON Schema calls `2.0` an integer; serde's `u8` does not. The
//!   provided [`Order`] reads quantities with [`whole_number`] so that what the schema accepts always
//!   deserializes.
//! - On the login form, any detail (which member, which rule, "no such user") is a hint for an attacker.
//!
//! Roadmap: JSON Schema validation; validation before deserialization; insecure deserialization; error
//! handling: meaningful messages, error obfuscation ("invalid credentials").

use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

/// The largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The deepest nesting of containers accepted (the outermost is depth 1).
pub const MAX_DEPTH: usize = 16;
/// The most members one object may have.
pub const MAX_MEMBERS: usize = 32;
/// The longest member name accepted, in bytes as written between its quotes.
pub const MAX_KEY_BYTES: usize = 64;

/// The contract of `POST /orders`.
pub const ORDER_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["customer", "items"],
  "additionalProperties": false,
  "properties": {
    "customer": {
      "type": "object",
      "required": ["email"],
      "additionalProperties": false,
      "properties": {
        "email": { "type": "string", "minLength": 3, "maxLength": 254,
                   "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$" },
        "name": { "type": "string", "minLength": 1, "maxLength": 100 }
      }
    },
    "items": {
      "type": "array",
      "minItems": 1,
      "maxItems": 20,
      "items": {
        "type": "object",
        "required": ["sku", "quantity"],
        "additionalProperties": false,
        "properties": {
          "sku": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$" },
          "quantity": { "type": "integer", "minimum": 1, "maximum": 99 }
        }
      }
    },
    "coupon": { "type": "string", "pattern": "^[A-Z0-9]{4,12}$" },
    "gift": { "type": "boolean" }
  }
}"#;

/// The contract of `POST /login`.
pub const LOGIN_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["username", "password"],
  "additionalProperties": false,
  "properties": {
    "username": { "type": "string", "minLength": 1, "maxLength": 64 },
    "password": { "type": "string", "minLength": 1, "maxLength": 128 }
  }
}"#;

/// The accounts (a real server keeps password hashes in a database: see the auth track).
const USERS: [(&str, &str); 3] = [
    ("ada", "correct horse battery staple"),
    ("grace", "COBOL-1959"),
    ("linus", "just for fun"),
];

/// A valid order, typed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Order {
    pub customer: Customer,
    pub items: Vec<Item>,
    pub coupon: Option<String>,
    pub gift: Option<bool>,
}

/// Who orders.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    pub email: String,
    pub name: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    pub sku: String,
    #[serde(deserialize_with = "whole_number")]
    pub quantity: u8,
}

/// Reads a quantity the way JSON Schema's `integer` does: `2` and `2.0` are both 2 (provided).
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let number = f64::deserialize(deserializer)?;
    if number.fract() == 0.0 && (0.0..=255.0).contains(&number) {
        Ok(number as u8)
    } else {
        Err(serde::de::Error::custom("not a whole number from 0 to 255"))
    }
}

/// A login form, typed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Which structural limit a body breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Containers nested deeper than [`MAX_DEPTH`].
    Depth,
    /// An object with more than [`MAX_MEMBERS`] members.
    Members,
    /// A member name longer than [`MAX_KEY_BYTES`] bytes.
    KeyLength,
}

/// One violation of a schema, as the contract reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON Pointer of the value.
    pub pointer: String,
    /// The schema keyword that failed.
    pub code: String,
    /// For people.
    pub detail: String,
}

/// What one open container remembers while the raw bytes are scanned.
struct Open {
    is_object: bool,
    members: usize,
    expects_key: bool,
}

/// Scans the raw bytes once, without parsing, for the structural limits.
pub fn check_limits(body: &[u8]) -> Result<(), Limit> {
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            open @ (b'{' | b'[') => {
                if stack.len() == MAX_DEPTH {
                    return Err(Limit::Depth);
                }
                let is_object = open == b'{';
                stack.push(Open {
                    is_object,
                    members: 0,
                    expects_key: is_object,
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expects_key = top.is_object;
                }
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.expects_key = false;
                }
            }
            b'"' => {
                let start = i + 1;
                i = start;
                while i < body.len() && body[i] != b'"' {
                    // A backslash escapes the next byte, so `\"` does not end the string.
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(top) = stack.last_mut().filter(|top| top.expects_key) {
                    top.members += 1;
                    if top.members > MAX_MEMBERS {
                        return Err(Limit::Members);
                    }
                    if i.min(body.len()) - start > MAX_KEY_BYTES {
                        return Err(Limit::KeyLength);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Appends `token` to `pointer`, escaped as RFC 6901 says.
fn join(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// Every violation of `schema` by `value`, as the contract reports them, sorted by pointer then code.
pub fn schema_errors(schema: &Validator, value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for error in schema.iter_errors(value) {
        let at = error.instance_path().as_str().to_string();
        let code = error.kind().keyword().to_string();
        let detail = error.to_string();
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                errors.push(FieldError {
                    pointer: join(&at, name),
                    code,
                    detail,
                });
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    errors.push(FieldError {
                        pointer: join(&at, name),
                        code: code.clone(),
                        detail: format!("`{name}` is not allowed here"),
                    });
                }
            }
            _ => errors.push(FieldError {
                pointer: at,
                code,
                detail,
            }),
        }
    }
    errors.sort_by(|a, b| (&a.pointer, &a.code).cmp(&(&b.pointer, &b.code)));
    errors
}

/// A problem document (provided).
pub fn problem(status: u16, problem_type: &str, title: &str, extra: Value) -> Response {
    let mut body = json!({ "type": problem_type, "title": title, "status": status });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Response::new(status)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// The one answer to every failed login (provided).
pub fn invalid_credentials() -> Response {
    problem(
        401,
        "urn:backlings:problem:invalid-credentials",
        "Invalid credentials",
        json!({}),
    )
}

/// Steps 1 to 3 of the contract, shared by both endpoints: the parsed body, or the response refusing it.
fn read_body(body: &[u8]) -> Result<Value, Response> {
    if body.len() > MAX_BODY_BYTES {
        let detail = json!({ "detail": format!("at most {MAX_BODY_BYTES} bytes") });
        return Err(problem(
            413,
            "urn:backlings:problem:too-large",
            "Body too large",
            detail,
        ));
    }
    if let Err(limit) = check_limits(body) {
        let (kind, title) = match limit {
            Limit::Depth => ("too-deep", "Nested too deep"),
            Limit::Members => ("too-many-members", "Too many members in one object"),
            Limit::KeyLength => ("key-too-long", "A member name is too long"),
        };
        let problem_type = format!("urn:backlings:problem:{kind}");
        return Err(problem(400, &problem_type, title, json!({})));
    }
    serde_json::from_slice(body).map_err(|error| {
        let detail = json!({ "detail": error.to_string() });
        problem(
            400,
            "urn:backlings:problem:malformed-json",
            "The body is not JSON",
            detail,
        )
    })
}

/// `POST /orders`: limits, parse, schema, then the typed order.
pub fn handle_order(schema: &Validator, body: &[u8]) -> Response {
    let value = match read_body(body) {
        Ok(value) => value,
        Err(response) => return response,
    };
    let errors = schema_errors(schema, &value);
    if !errors.is_empty() {
        let listed: Vec<Value> = errors
            .iter()
            .map(|e| json!({ "pointer": e.pointer, "code": e.code, "detail": e.detail }))
            .collect();
        let extra = json!({ "detail": format!("{} violations", listed.len()), "errors": listed });
        return problem(
            422,
            "urn:backlings:problem:validation",
            "The order is not valid",
            extra,
        );
    }
    match serde_json::from_value::<Order>(value) {
        Ok(order) => {
            let units: u32 = order
                .items
                .iter()
                .map(|item| u32::from(item.quantity))
                .sum();
            Response::new(201)
                .with_header("Content-Type", "application/json")
                .with_body(json!({ "items": order.items.len(), "units": units }).to_string())
        }
        Err(error) => Response::text(500, format!("the schema and the type disagree: {error}\n")),
    }
}

/// `POST /login`: limits and parse as for orders, then one generic answer for every failure.
pub fn handle_login(schema: &Validator, body: &[u8]) -> Response {
    let value = match read_body(body) {
        Ok(value) => value,
        Err(response) => return response,
    };
    if !schema.is_valid(&value) {
        return invalid_credentials();
    }
    let Ok(login) = serde_json::from_value::<Login>(value) else {
        return invalid_credentials();
    };
    let known = USERS
        .iter()
        .any(|(user, password)| *user == login.username && *password == login.password);
    if !known {
        return invalid_credentials();
    }
    Response::new(200)
        .with_header("Content-Type", "application/json")
        .with_body(json!({ "user": login.username }).to_string())
}

/// Routes a request (provided: you do not need to change this).
pub fn handle(order_schema: &Validator, login_schema: &Validator, request: &Request) -> Response {
    let handler = match request.path() {
        "/orders" => handle_order,
        "/login" => handle_login,
        _ => return Response::text(404, "not found: try POST /orders or POST /login\n"),
    };
    if request.method != "POST" {
        return Response::text(405, "only POST is allowed here\n").with_header("Allow", "POST");
    }
    let schema = if request.path() == "/orders" {
        order_schema
    } else {
        login_schema
    };
    handler(schema, &request.body)
}

/// Compiles a schema of this file (provided).
pub fn compile(schema: &str) -> Validator {
    let schema: Value = serde_json::from_str(schema).expect("the schemas of this file are JSON");
    jsonschema::validator_for(&schema).expect("the schemas of this file are valid JSON Schemas")
}

/// Serves `POST /orders` and `POST /login` (provided: you do not need to change this).
fn main() -> ExitCode {
    let (orders, login) = (compile(ORDER_SCHEMA), compile(LOGIN_SCHEMA));
    match serve(move |request| handle(&orders, &login, request)) {
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

    fn pairs(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.as_str()))
            .collect()
    }

    fn body_of(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    // Depth counts open containers; brackets inside strings, escaped quotes included, do not count.
    #[test]
    fn limits_on_raw_bytes() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(check_limits(deep(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            check_limits(deep(MAX_DEPTH + 1).as_bytes()),
            Err(Limit::Depth)
        );
        assert_eq!(check_limits(deep(8000).as_bytes()), Err(Limit::Depth));
        let in_strings = format!(
            r#"{{"a": "{}", "b": "\"{}"}}"#,
            "[".repeat(50),
            "{".repeat(50)
        );
        assert_eq!(check_limits(in_strings.as_bytes()), Ok(()));
    }

    // Members are counted per object, and a key is measured as written.
    #[test]
    fn members_and_keys() {
        let object = |n: usize| {
            let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\": [1, 2]")).collect();
            format!("{{{}}}", members.join(", "))
        };
        assert_eq!(check_limits(object(MAX_MEMBERS).as_bytes()), Ok(()));
        assert_eq!(
            check_limits(object(MAX_MEMBERS + 1).as_bytes()),
            Err(Limit::Members)
        );
        let key = |n: usize| format!("{{\"{}\": \"short value\"}}", "k".repeat(n));
        assert_eq!(check_limits(key(MAX_KEY_BYTES).as_bytes()), Ok(()));
        assert_eq!(
            check_limits(key(MAX_KEY_BYTES + 1).as_bytes()),
            Err(Limit::KeyLength)
        );
        let long_value = format!("{{\"k\": \"{}\"}}", "v".repeat(500));
        assert_eq!(check_limits(long_value.as_bytes()), Ok(()));
    }

    // Every violation, at the member it concerns, sorted by pointer then keyword.
    #[test]
    fn schema_errors_point_at_members() {
        let schema = compile(ORDER_SCHEMA);
        let value = json!({
            "customer": {"name": ""},
            "items": [{"sku": "abc-1234", "quantity": 0.5, "a/b": 1}],
            "x": true,
        });
        assert_eq!(
            pairs(&schema_errors(&schema, &value)),
            vec![
                ("/customer/email", "required"),
                ("/customer/name", "minLength"),
                ("/items/0/a~1b", "additionalProperties"),
                ("/items/0/quantity", "minimum"),
                ("/items/0/quantity", "type"),
                ("/items/0/sku", "pattern"),
                ("/x", "additionalProperties"),
            ]
        );
        assert_eq!(
            pairs(&schema_errors(&schema, &json!([]))),
            vec![("", "type")]
        );
    }

    // A valid order is typed and counted; 2.0 is a whole quantity.
    #[test]
    fn a_valid_order_is_created() {
        let schema = compile(ORDER_SCHEMA);
        let body = br#"{"customer": {"email": "ada@example.com"},
                        "items": [{"sku": "ABC-1234", "quantity": 2.0}, {"sku": "XYZ-0001", "quantity": 3}]}"#;
        let response = handle_order(&schema, body);
        assert_eq!(response.status, 201);
        assert_eq!(body_of(&response), json!({"items": 2, "units": 5}));
    }

    // The pipeline order: size, then limits, then parsing, then the schema.
    #[test]
    fn the_pipeline_refuses_early() {
        let schema = compile(ORDER_SCHEMA);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(handle_order(&schema, &big).status, 413);
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let response = handle_order(&schema, deep.as_bytes());
        assert_eq!(response.status, 400);
        assert_eq!(body_of(&response)["type"], "urn:backlings:problem:too-deep");
        assert_eq!(handle_order(&schema, b"{\"items\": [1,]}").status, 400);
        assert_eq!(handle_order(&schema, b"{}").status, 422);
    }

    // Unknown user, wrong password and a malformed form all get the very same bytes.
    #[test]
    fn login_failures_are_indistinguishable() {
        let schema = compile(LOGIN_SCHEMA);
        let ok = handle_login(
            &schema,
            br#"{"username": "ada", "password": "correct horse battery staple"}"#,
        );
        assert_eq!(ok.status, 200);
        let failures = [
            &br#"{"username": "alan", "password": "correct horse battery staple"}"#[..],
            br#"{"username": "ada", "password": "COBOL-1959"}"#,
            br#"{"username": "ada"}"#,
            br#"{"username": "ada", "password": 7}"#,
        ];
        for body in failures {
            assert_eq!(handle_login(&schema, body), invalid_credentials());
        }
    }
}
