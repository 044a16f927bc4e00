//! mutant: deserializes straight into the typed Order and reports serde's one error, so unknown members pass and every other violation is lost
//! expect: before typed deserialization

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
    if let Err(error) = serde_json::from_value::<Order>(value.clone()) {
        let errors = [FieldError {
            pointer: String::new(),
            code: "type".to_string(),
            detail: error.to_string(),
        }];
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
