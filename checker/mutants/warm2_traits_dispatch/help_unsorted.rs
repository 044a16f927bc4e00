//! mutant: keeps handlers in a HashMap and lists them in its (random) order
//! expect: sorted

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why a command could not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// No handler is registered under this name.
    UnknownCommand(String),
    /// The handler refused its arguments; the text says why.
    BadArgs(String),
}

/// Something that can answer a command.
pub trait Handler {
    fn handle(&mut self, args: &Value) -> Result<Value, CommandError>;
}

/// Every closure `FnMut(&Value) -> Result<Value, CommandError>` is a handler.
impl<F> Handler for F
where
    F: FnMut(&Value) -> Result<Value, CommandError>,
{
    fn handle(&mut self, args: &Value) -> Result<Value, CommandError> {
        self(args)
    }
}

/// `ping` → `"pong"`: the health check every protocol has.
pub struct Ping;

impl Handler for Ping {
    fn handle(&mut self, _args: &Value) -> Result<Value, CommandError> {
        Ok(json!("pong"))
    }
}

/// `echo` → its arguments, unchanged.
pub struct Echo;

impl Handler for Echo {
    fn handle(&mut self, args: &Value) -> Result<Value, CommandError> {
        Ok(args.clone())
    }
}

/// `sum` → the sum of an array of integers.
pub struct Sum;

impl Handler for Sum {
    fn handle(&mut self, args: &Value) -> Result<Value, CommandError> {
        let items = args
            .as_array()
            .ok_or_else(|| CommandError::BadArgs("sum takes an array of integers".into()))?;
        let mut total: i64 = 0;
        for item in items {
            let n = item
                .as_i64()
                .ok_or_else(|| CommandError::BadArgs(format!("{item} is not an integer")))?;
            total = total
                .checked_add(n)
                .ok_or_else(|| CommandError::BadArgs("the sum does not fit an i64".into()))?;
        }
        Ok(json!(total))
    }
}

/// The `counter` handler: a closure that owns the running total.
pub fn counter() -> impl FnMut(&Value) -> Result<Value, CommandError> {
    let mut total: i64 = 0;
    move |args: &Value| {
        let by = args
            .get("by")
            .and_then(Value::as_i64)
            .ok_or_else(|| CommandError::BadArgs("counter takes {\"by\": integer}".into()))?;
        total = total
            .checked_add(by)
            .ok_or_else(|| CommandError::BadArgs("the counter would overflow".into()))?;
        Ok(json!(total))
    }
}

/// Maps command names to handlers.
#[derive(Default)]
pub struct Router {
    handlers: HashMap<String, Box<dyn Handler>>,
}

impl Router {
    pub fn new() -> Self {
        Router {
            handlers: HashMap::new(),
        }
    }

    /// Registers `handler` under `name` (replacing any handler of that name).
    pub fn register<H: Handler + 'static>(&mut self, name: &str, handler: H) {
        self.handlers.insert(name.to_string(), Box::new(handler));
    }

    /// Runs the handler registered under `name`.
    pub fn dispatch(&mut self, name: &str, args: &Value) -> Result<Value, CommandError> {
        match self.handlers.get_mut(name) {
            Some(handler) => handler.handle(args),
            None => Err(CommandError::UnknownCommand(name.to_string())),
        }
    }

    /// The registered names, sorted.
    pub fn commands(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Request {
    cmd: String,
    #[serde(default)]
    args: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(Value),
    Error { code: &'static str, message: String },
}

fn build_router() -> Router {
    let mut router = Router::new();
    router.register("ping", Ping);
    router.register("echo", Echo);
    router.register("sum", Sum);
    router.register("counter", counter());
    router.register("upper", |args: &Value| match args.as_str() {
        Some(text) => Ok(json!(text.to_uppercase())),
        None => Err(CommandError::BadArgs("upper takes a string".into())),
    });
    router
}

fn main() {
    let mut router = build_router();
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        let result = match request.cmd.as_str() {
            "help" => Ok(json!(router.commands())),
            name => router.dispatch(name, &request.args),
        };
        match result {
            Ok(value) => Reply::Ok(value),
            Err(CommandError::UnknownCommand(name)) => Reply::Error {
                code: "unknown_command",
                message: format!("no command named `{name}`"),
            },
            Err(CommandError::BadArgs(why)) => Reply::Error {
                code: "bad_args",
                message: why,
            },
        }
    });
}
