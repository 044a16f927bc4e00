//! mutant: validates the body before authenticating, so a stranger with a bad body gets a 422 (and the schema) instead of a 401
//! expect: authentication comes before validation

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_harness::http::{Request, Response, reason, serve};
use serde_json::{Value, json};

/// What the layers learn about one request on its way in, for the layers outside them to read on the way
/// out (the logger reads `user` and `error_id`) or inside them to use (the handler reads `new_order`).
#[derive(Debug, Default)]
pub struct Notes {
    /// Who sent the request, once `authenticate` has accepted its token.
    pub user: Option<String>,
    /// The id `recover` gave a panic.
    pub error_id: Option<String>,
    /// The body of `POST /orders`, once `validate` has accepted it.
    pub new_order: Option<NewOrder>,
}

/// The rest of the pipeline, as seen from one layer.
pub type Next<'a> = &'a dyn Fn(&Request, &mut Notes) -> Response;

/// One layer: work on the way in, `next(request, notes)` (or an answer of its own), work on the way out.
pub type Layer = fn(&App, &Request, &mut Notes, Next<'_>) -> Response;

/// The layers, outermost first. The router (with the handlers) is at the end of the chain.
pub const PIPELINE: &[Layer] = &[log_requests, recover, validate, authenticate];

/// Everything that can go wrong with a request, each with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body is not a JSON object at all.
    BadRequest(String),
    /// 401: no valid `Authorization: Bearer` token.
    Unauthorized,
    /// 404: no such path, or no such order.
    NotFound,
    /// 405: the path exists, the method does not; `allow` is the method that would work.
    MethodNotAllowed { allow: &'static str },
    /// 422: the body is a JSON object with invalid fields: all of them.
    Invalid(Vec<FieldError>),
    /// 500: something panicked; `error_id` ties the response to the log line.
    Internal { error_id: String },
}

/// One invalid field of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// A JSON Pointer in a URI fragment: `#/quantity`, `#/tags/2`.
    pub pointer: String,
    /// What is wrong with it, for a human.
    pub detail: String,
}

/// A validated `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub item: String,
    pub quantity: u64,
    pub email: String,
    pub tags: Vec<String>,
}

/// The RFC 9457 response for `error`: `application/problem+json`, `type`, `title`, `status`, `detail`, the
/// members particular to the error (`errors`, `error_id`) and headers (`Allow`, `WWW-Authenticate`).
pub fn problem(error: &ApiError) -> Response {
    let (status, detail) = match error {
        ApiError::BadRequest(why) => (400, why.clone()),
        ApiError::Unauthorized => (
            401,
            "send a valid token as `Authorization: Bearer TOKEN`".to_string(),
        ),
        ApiError::NotFound => (404, "there is nothing here".to_string()),
        ApiError::MethodNotAllowed { allow } => (405, format!("this path only allows {allow}")),
        ApiError::Invalid(errors) => (422, format!("{} invalid field(s)", errors.len())),
        ApiError::Internal { .. } => (
            500,
            "something went wrong on our side; quote the error id when you contact us".to_string(),
        ),
    };
    let mut body = json!({
        "type": "about:blank",
        "title": reason(status),
        "status": status,
        "detail": detail,
    });
    let mut response = Response::new(status);
    match error {
        ApiError::Invalid(errors) => {
            let errors: Vec<Value> = errors
                .iter()
                .map(|e| json!({"pointer": e.pointer, "detail": e.detail}))
                .collect();
            body["errors"] = Value::from(errors);
        }
        ApiError::Internal { error_id } => body["error_id"] = Value::from(error_id.as_str()),
        ApiError::MethodNotAllowed { allow } => response = response.with_header("Allow", allow),
        ApiError::Unauthorized => response = response.with_header("WWW-Authenticate", "Bearer"),
        ApiError::BadRequest(_) | ApiError::NotFound => {}
    }
    response
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// The access logger: one JSON line per request, with the status that was finally sent.
pub fn log_requests(app: &App, request: &Request, notes: &mut Notes, next: Next<'_>) -> Response {
    let response = next(request, notes);
    app.log.write(&json!({
        "method": request.method,
        "path": request.path(),
        "status": response.status,
        "user": notes.user,
        "error_id": notes.error_id,
    }));
    response
}

/// The error boundary: a panic anywhere inside becomes a `500` problem with a fresh error id (also left in
/// `notes` for the logger), and never shows its message.
pub fn recover(app: &App, request: &Request, notes: &mut Notes, next: Next<'_>) -> Response {
    match panic::catch_unwind(AssertUnwindSafe(|| next(request, notes))) {
        Ok(response) => response,
        Err(_) => {
            let error_id = app.next_error_id();
            notes.error_id = Some(error_id.clone());
            problem(&ApiError::Internal { error_id })
        }
    }
}

/// Lets through only requests with `Authorization: Bearer TOKEN` for a known token, noting the user.
pub fn authenticate(app: &App, request: &Request, notes: &mut Notes, next: Next<'_>) -> Response {
    let token = request
        .header("authorization")
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token.and_then(|token| app.users.get(token)) {
        Some(user) => {
            notes.user = Some(user.clone());
            next(request, notes)
        }
        None => problem(&ApiError::Unauthorized),
    }
}

/// Validates the body of `POST /orders` (the one route with a body) and notes it for the handler.
pub fn validate(app: &App, request: &Request, notes: &mut Notes, next: Next<'_>) -> Response {
    if request.method == "POST" && request.path() == "/orders" {
        match validate_new_order(&request.body) {
            Ok(order) => notes.new_order = Some(order),
            Err(error) => return problem(&error),
        }
    }
    next(request, notes)
}

/// Checks every field of a `POST /orders` body and reports every invalid one.
pub fn validate_new_order(body: &[u8]) -> Result<NewOrder, ApiError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_string(),
        ));
    };
    let mut errors = Vec::new();
    let mut invalid = |pointer: &str, detail: &str| {
        errors.push(FieldError {
            pointer: pointer.to_string(),
            detail: detail.to_string(),
        });
    };
    let item = match fields.get("item").and_then(Value::as_str) {
        Some(item) if (1..=40).contains(&item.chars().count()) => item.to_string(),
        _ => {
            invalid("#/item", "must be a string of 1 to 40 characters");
            String::new()
        }
    };
    let quantity = match fields.get("quantity").and_then(Value::as_u64) {
        Some(quantity) if (1..=100).contains(&quantity) => quantity,
        _ => {
            invalid("#/quantity", "must be an integer from 1 to 100");
            0
        }
    };
    let email = match fields.get("email").and_then(Value::as_str) {
        Some(email) if is_email(email) => email.to_string(),
        _ => {
            invalid("#/email", "must be an address like name@example.com");
            String::new()
        }
    };
    let mut tags = Vec::new();
    match fields.get("tags") {
        None => {}
        Some(Value::Array(items)) => {
            if items.len() > 5 {
                invalid("#/tags", "at most 5 tags");
            }
            for (index, tag) in items.iter().enumerate() {
                match tag.as_str() {
                    Some(tag) if (1..=20).contains(&tag.chars().count()) => {
                        tags.push(tag.to_string());
                    }
                    _ => invalid(
                        &format!("#/tags/{index}"),
                        "must be a string of 1 to 20 characters",
                    ),
                }
            }
        }
        Some(_) => invalid("#/tags", "must be an array of strings"),
    }
    if errors.is_empty() {
        Ok(NewOrder {
            item,
            quantity,
            email,
            tags,
        })
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Exactly one `@`, with something on each side (provided: you do not need to change this).
pub fn is_email(text: &str) -> bool {
    matches!(text.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

/// The service's state (provided: you do not need to change this).
pub struct App {
    /// Token → user name.
    pub users: HashMap<String, String>,
    pub orders: Mutex<Vec<Value>>,
    pub log: AccessLog,
    error_ids: AtomicU64,
}

impl App {
    /// A fresh error id, unique in this process: `err-000001`, `err-000002`, …
    pub fn next_error_id(&self) -> String {
        format!(
            "err-{:06}",
            self.error_ids.fetch_add(1, Ordering::SeqCst) + 1
        )
    }
}

/// The access log: a file of JSON lines (provided: you do not need to change this).
pub struct AccessLog {
    file: Option<Mutex<File>>,
}

impl AccessLog {
    /// Appends `entry` as one line, written through at once.
    pub fn write(&self, entry: &Value) {
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line: a line is never interleaved with another request's.
            let _ = file.write_all(format!("{entry}\n").as_bytes());
        }
    }
}

/// Runs `request` through `layers`, then the router (provided: you do not need to change this).
pub fn run(app: &App, layers: &[Layer], request: &Request, notes: &mut Notes) -> Response {
    match layers.split_first() {
        Some((layer, rest)) => layer(app, request, notes, &|request, notes| {
            run(app, rest, request, notes)
        }),
        None => route(app, request, notes),
    }
}

/// The router and the handlers (provided: you do not need to change this).
pub fn route(app: &App, request: &Request, notes: &mut Notes) -> Response {
    let segments: Vec<&str> = request.path().split('/').skip(1).collect();
    let method = request.method.as_str();
    match segments.as_slice() {
        ["orders"] if method == "POST" => create_order(app, notes),
        ["orders"] => problem(&ApiError::MethodNotAllowed { allow: "POST" }),
        ["orders", id] if id.parse::<u64>().is_ok() => match method {
            "GET" => {
                let orders = app.orders.lock().unwrap_or_else(|e| e.into_inner());
                let order = id
                    .parse::<usize>()
                    .ok()
                    .and_then(|id| orders.get(id.wrapping_sub(1)));
                match order {
                    Some(order) => json_response(200, order),
                    None => problem(&ApiError::NotFound),
                }
            }
            _ => problem(&ApiError::MethodNotAllowed { allow: "GET" }),
        },
        ["reports", n] if n.parse::<u64>().is_ok() => match method {
            "GET" => {
                let n: u64 = n.parse().unwrap_or(1);
                // The bug this service ships with: nobody thought of n = 0.
                json_response(200, &json!({ "per_unit": 1000 / n }))
            }
            _ => problem(&ApiError::MethodNotAllowed { allow: "GET" }),
        },
        _ => problem(&ApiError::NotFound),
    }
}

fn create_order(app: &App, notes: &mut Notes) -> Response {
    let user = notes
        .user
        .clone()
        .expect("authenticate runs before the handler");
    let new = notes
        .new_order
        .take()
        .expect("validate runs before the handler");
    let mut orders = app.orders.lock().unwrap_or_else(|e| e.into_inner());
    let id = orders.len() + 1;
    let order = json!({
        "id": id,
        "item": new.item,
        "quantity": new.quantity,
        "email": new.email,
        "tags": new.tags,
        "owner": user,
    });
    orders.push(order.clone());
    json_response(201, &order).with_header("Location", format!("/orders/{id}"))
}

fn json_response(status: u16, value: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(value.to_string())
}

/// Reads `--access-log PATH` and `--user NAME:TOKEN …` (provided: you do not need to change this).
fn parse_args() -> Result<App, String> {
    let mut users = HashMap::new();
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--access-log" => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&value)
                    .map_err(|e| format!("cannot open {value}: {e}"))?;
                log = Some(Mutex::new(file));
            }
            "--user" => {
                let (name, token) = value
                    .split_once(':')
                    .ok_or(format!("--user {value} is not NAME:TOKEN"))?;
                users.insert(token.to_string(), name.to_string());
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(App {
        users,
        orders: Mutex::new(Vec::new()),
        log: AccessLog { file: log },
        error_ids: AtomicU64::new(0),
    })
}

/// Serves the pipeline over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let app = match parse_args() {
        Ok(app) => app,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: mw2_pipeline_order --access-log PATH [--user NAME:TOKEN]..."
            );
            return ExitCode::from(2);
        }
    };
    let served = serve(move |request| run(&app, PIPELINE, request, &mut Notes::default()));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
