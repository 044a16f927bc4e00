//! # Warm-up 2: traits and dispatch — a command router
//!
//! Every backend has a place where a name picks the code to run: an HTTP router maps `GET /users/:id` to a
//! controller, a Redis server maps `INCR` to a command, a job runner maps `"send_email"` to a worker. In
//! Rust that place is usually a map from names to *trait objects*: `BTreeMap<String, Box<dyn Handler>>`.
//!
//! A trait says what a handler can do (`handle(args) -> Result<Value, CommandError>`). Anything that
//! implements it can be registered: a unit struct (`Ping`), a struct with configuration or state, and — with
//! one *blanket impl* — any closure of the right shape, which is how axum, warp and tower let you pass plain
//! functions as handlers.
//!
//! ## Generic vs dyn dispatch
//!
//! `fn register<H: Handler + 'static>(&mut self, name: &str, handler: H)` is *generic*: the compiler makes one
//! copy per handler type and every call inside it is direct. A router must store handlers of *different*
//! types side by side, so `register` boxes each one into a `Box<dyn Handler>`: from then on a call goes through
//! a vtable (one indirect call — negligible next to any I/O). Generic at the edges, `dyn` in the collection: the
//! same shape you will meet in middleware stacks.
//!
//! ## Why it matters in production
//!
//! Dispatch is where unknown input meets your code. An unknown command must become a clean error reply, never a
//! panic that takes the whole server down. Anything you list back to clients (a `help`, an OpenAPI document)
//! must come out in a stable order: `HashMap` iteration order changes from one run to the next.
//!
//! ## Pitfalls
//!
//! - `self.handlers.get_mut(name).unwrap()`: one typo from a client and the process dies.
//! - A stateful closure must *own* its state (`move`), and the router must keep calling the *same* closure;
//!   declaring the state inside the closure body resets it on every call.
//! - Lenient argument parsing (`as_i64().unwrap_or(0)`) silently turns garbage into valid-looking answers.
//! - `a + b` on untrusted integers panics on overflow in debug builds and wraps in release: use `checked_add`.
//!
//! Roadmap: language mastery (traits, generics, closures, trait objects); the middleware pattern (tower's
//! `Service` is this idea grown up).
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is `{"cmd":"NAME","args":ANY}` (`args` may be absent: it is then `null`). The reply is
//! `{"ok":VALUE}` or `{"error":{"code":CODE,"message":TEXT}}`, where CODE is `unknown_command` (the message
//! names the command) or `bad_args`. The commands:
//!
//! - `ping` → `"pong"`; `echo` → its args, unchanged;
//! - `sum` → the sum of an array of integers (`[]` sums to 0); anything that is not an array of integers, or a
//!   sum that does not fit an `i64`, is `bad_args`;
//! - `counter` with `{"by":N}` (N an integer) → the running total of every `by` so far in this process;
//! - `upper` with a string → the string in upper case;
//! - `help` → the names of the registered commands (not `help` itself), sorted.

use std::collections::BTreeMap;

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
    handlers: BTreeMap<String, Box<dyn Handler>>,
}

impl Router {
    pub fn new() -> Self {
        Router {
            handlers: BTreeMap::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    // A unit-struct handler and an echo answer through the router.
    #[test]
    fn structs_are_handlers() {
        let mut router = build_router();
        assert_eq!(router.dispatch("ping", &Value::Null), Ok(json!("pong")));
        assert_eq!(
            router.dispatch("echo", &json!({"a": [1, 2]})),
            Ok(json!({"a": [1, 2]}))
        );
    }

    // A plain closure is a handler thanks to the blanket impl.
    #[test]
    fn closures_are_handlers() {
        let mut shout = |args: &Value| Ok(json!(format!("{}!", args.as_str().unwrap_or(""))));
        assert_eq!(shout.handle(&json!("hi")), Ok(json!("hi!")));
    }

    // sum adds integers, and refuses non-integers and overflow instead of guessing or panicking.
    #[test]
    fn sum_is_strict() {
        assert_eq!(Sum.handle(&json!([1, 2, 39])), Ok(json!(42)));
        assert_eq!(Sum.handle(&json!([])), Ok(json!(0)));
        assert!(matches!(
            Sum.handle(&json!([1, "2"])),
            Err(CommandError::BadArgs(_))
        ));
        assert!(matches!(
            Sum.handle(&json!([i64::MAX, 1])),
            Err(CommandError::BadArgs(_))
        ));
    }

    // The counter keeps its total between calls made through the router.
    #[test]
    fn counter_keeps_state() {
        let mut router = build_router();
        assert_eq!(router.dispatch("counter", &json!({"by": 5})), Ok(json!(5)));
        assert_eq!(router.dispatch("counter", &json!({"by": -2})), Ok(json!(3)));
        assert!(matches!(
            router.dispatch("counter", &json!({})),
            Err(CommandError::BadArgs(_))
        ));
    }

    // An unknown name is an error value, not a panic.
    #[test]
    fn unknown_command_is_an_error() {
        let mut router = build_router();
        assert_eq!(
            router.dispatch("nope", &Value::Null),
            Err(CommandError::UnknownCommand("nope".into()))
        );
    }

    // The command list is sorted, whatever the registration order.
    #[test]
    fn commands_are_sorted() {
        let mut router = Router::new();
        router.register("zeta", Ping);
        router.register("alpha", Echo);
        router.register("mid", Sum);
        assert_eq!(router.commands(), vec!["alpha", "mid", "zeta"]);
    }
}
