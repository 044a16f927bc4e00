//! Grader of `mw2_pipeline_order`: logging → error boundary → authentication → validation → routing.
//!
//! Every request's answer is compared with [`model`] (status, RFC 9457 problem members, `Allow`,
//! `WWW-Authenticate`, the JSON Pointers of a 422, the error id of a 500, the body of a success), and after
//! every answer the access log must have grown by exactly one JSON line naming the method, the path, the
//! status sent, the authenticated user and the error id. The order of the layers shows from outside: a
//! request from nobody with a bad body must get a 401, not a 422; a panic must still leave its log line,
//! with the same id as the response.

mod checks;
mod model;

use std::collections::BTreeSet;

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading, Rng, Server};
use serde_json::{Map, Value, json};

use crate::log_file::LogFile;
use crate::support::{self, KeepAlive};
use checks::{check_log, check_response, explain};
use model::{Model, Probe};

/// Requests in the seeded random traffic.
const RANDOM_REQUESTS: usize = 150;
/// Seeded bodies in the validation scenario.
const BODIES: usize = 30;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    tour(g)?;
    unauthenticated(g)?;
    validation(g)?;
    panics(g)?;
    methods(g)?;
    random_traffic(g)
}

fn tour(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("every request gets one access-log line with the status finally sent");
    let mut s = Session::start(g)?;
    let ada = s.bearer(0);
    let body = valid_order(&mut s.rng);
    s.check(&[
        Probe::new("POST", "/orders").auth(&ada).body(&body),
        Probe::new("GET", "/orders/1").auth(&ada),
        Probe::new("GET", "/orders/2").auth(&ada),
        Probe::new("GET", "/reports/8").auth(&ada),
        Probe::new("GET", "/nowhere").auth(&ada),
    ])
}

fn unauthenticated(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "a request without a valid token is refused with 401 before validation, and still logged",
    );
    let mut s = Session::start(g)?;
    let invalid = invalid_order(&mut s.rng);
    let token = s.users[1].1.clone();
    s.check(&[
        Probe::new("POST", "/orders").body(&invalid),
        Probe::new("POST", "/orders")
            .auth(&format!("Basic {token}"))
            .body(&invalid),
        Probe::new("POST", "/orders")
            .auth(&format!("Bearer {token}x"))
            .body(b"not json at all"),
        Probe::new("POST", "/orders").auth("Bearer").body(&invalid),
        Probe::new("GET", "/reports/0"),
        Probe::new("GET", "/secret-admin-page"),
        // The scheme is case-insensitive (RFC 9110 §11.1): these are valid.
        Probe::new("POST", "/orders")
            .auth(&format!("bearer {token}"))
            .body(&invalid),
        Probe::new("GET", "/orders/1").auth(&format!("BEARER {token}")),
    ])
}

fn validation(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("validation reports every invalid field at once, as JSON Pointers in a 422 problem");
    let mut s = Session::start(g)?;
    let ada = s.bearer(0);
    let mut probes = vec![
        // Every field wrong at once.
        Probe::new("POST", "/orders")
            .auth(&ada)
            .body(br#"{"item":"","quantity":0,"email":"nobody","tags":["ok",""]}"#),
        Probe::new("POST", "/orders").auth(&ada).body(b"[1,2,3]"),
        Probe::new("POST", "/orders").auth(&ada).body(b"{\"item\":"),
    ];
    for _ in 0..BODIES {
        let body = if s.rng.chance(1, 4) {
            valid_order(&mut s.rng)
        } else {
            invalid_order(&mut s.rng)
        };
        probes.push(Probe::new("POST", "/orders").auth(&ada).body(&body));
    }
    s.check(&probes)
}

fn panics(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("a panic becomes a 500 problem with an error id, logged with the same id, message kept secret");
    let mut s = Session::start(g)?;
    let (ada, bob) = (s.bearer(0), s.bearer(1));
    let n = s.rng.range(1, 50);
    let body = valid_order(&mut s.rng);
    s.check(&[
        Probe::new("GET", "/reports/0").auth(&ada),
        Probe::new("GET", &format!("/reports/{n}")).auth(&bob),
        Probe::new("GET", "/reports/0").auth(&bob),
        Probe::new("GET", "/reports/0").auth(&ada),
        Probe::new("POST", "/orders").auth(&ada).body(&body),
    ])
}

fn methods(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("an unknown path is a 404; a known path with the wrong method is a 405 with Allow");
    let mut s = Session::start(g)?;
    let ada = s.bearer(0);
    let body = valid_order(&mut s.rng);
    s.check(&[
        Probe::new("POST", "/orders").auth(&ada).body(&body),
        Probe::new("DELETE", "/orders/1").auth(&ada),
        Probe::new("GET", "/orders").auth(&ada),
        Probe::new("PUT", "/orders").auth(&ada).body(&body),
        Probe::new("POST", "/reports/3").auth(&ada).body(b"{}"),
        Probe::new("GET", "/orders/abc").auth(&ada),
        Probe::new("GET", "/order").auth(&ada),
    ])
}

fn random_traffic(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(&format!("{RANDOM_REQUESTS} seeded requests of every kind"));
    let mut s = Session::start(g)?;
    let mut probes = Vec::with_capacity(RANDOM_REQUESTS);
    for _ in 0..RANDOM_REQUESTS {
        let who = s.rng.below(s.users.len() as u64) as usize;
        let authorization = match s.rng.below(10) {
            0 => None,
            1 => Some(format!("Bearer {}", s.rng.word(8))),
            2 => Some(format!("bearer {}", s.users[who].1)),
            _ => Some(s.bearer(who)),
        };
        let orders = s.model.orders.len() as u64;
        let (method, path, body) = match s.rng.below(12) {
            0..=3 => {
                let body = if s.rng.chance(1, 2) {
                    valid_order(&mut s.rng)
                } else {
                    invalid_order(&mut s.rng)
                };
                ("POST", "/orders".to_string(), Some(body))
            }
            4..=5 => (
                "GET",
                format!("/orders/{}", s.rng.range(1, orders + 2)),
                None,
            ),
            6 => ("GET", "/reports/0".to_string(), None),
            7 => ("GET", format!("/reports/{}", s.rng.range(1, 2000)), None),
            8 => (
                *s.rng.pick(&["PUT", "DELETE", "PATCH"]),
                "/orders/1".to_string(),
                None,
            ),
            9 => ("GET", "/orders".to_string(), None),
            10 => ("POST", "/orders".to_string(), Some(b"nope".to_vec())),
            _ => ("GET", format!("/{}", s.rng.word(6)), None),
        };
        let mut probe = Probe::new(method, &path);
        probe.authorization = authorization;
        probe.body = body;
        probes.push(probe);
    }
    s.check(&probes)
}

/// A valid order body, with seeded values at the edges of the rules.
fn valid_order(rng: &mut Rng) -> Vec<u8> {
    let mut fields = Map::new();
    fields.insert("item".into(), Value::from(valid_text(rng, 40)));
    fields.insert(
        "quantity".into(),
        Value::from(*rng.pick(&[1, 2, 7, 99, 100])),
    );
    fields.insert(
        "email".into(),
        Value::from(format!("{}@{}.example", rng.word(5), rng.word(4))),
    );
    if rng.chance(2, 3) {
        let tags: Vec<Value> = (0..rng.below(6))
            .map(|_| Value::from(valid_text(rng, 20)))
            .collect();
        fields.insert("tags".into(), Value::from(tags));
    }
    Value::Object(fields).to_string().into_bytes()
}

/// A text of 1 to `max` characters; sometimes exactly `max` multi-byte characters (more bytes than `max`).
fn valid_text(rng: &mut Rng, max: usize) -> String {
    match rng.below(4) {
        0 => "é".repeat(max),
        1 => rng.word(max),
        _ => {
            let len = rng.range(1, 8) as usize;
            rng.word(len)
        }
    }
}

/// An order body with at least one invalid field (often several), in seeded ways.
fn invalid_order(rng: &mut Rng) -> Vec<u8> {
    loop {
        let mut fields = Map::new();
        let item = match rng.below(8) {
            0 => None,
            1 => Some(json!("")),
            2 => Some(Value::from("x".repeat(41))),
            3 => Some(json!(42)),
            4 => Some(Value::Null),
            _ => Some(Value::from(valid_text(rng, 40))),
        };
        let quantity = match rng.below(9) {
            0 => None,
            1 => Some(json!(0)),
            2 => Some(json!(101)),
            3 => Some(json!(2.5)),
            4 => Some(json!("3")),
            5 => Some(json!(-1)),
            _ => Some(Value::from(rng.range(1, 100))),
        };
        let email = match rng.below(8) {
            0 => None,
            1 => Some(json!("no-at-sign")),
            2 => Some(json!("a@@b")),
            3 => Some(json!("@host")),
            4 => Some(json!("name@")),
            5 => Some(json!(["a@b"])),
            _ => Some(Value::from(format!("{}@x.io", rng.word(3)))),
        };
        let tags = match rng.below(8) {
            0 => Some(json!("one-tag")),
            1 => Some(json!(["a", "b", "c", "d", "e", "f"])),
            2 => Some(json!(["ok", "", 7, null])),
            3 => Some(Value::from(vec![
                Value::from("t".repeat(21)),
                json!("fine"),
            ])),
            4 => Some(json!(["a", "b", "c", "d", "e", "f", 0])),
            5 => Some(json!([])),
            _ => None,
        };
        for (name, value) in [
            ("item", item),
            ("quantity", quantity),
            ("email", email),
            ("tags", tags),
        ] {
            if let Some(value) = value {
                fields.insert(name.into(), value);
            }
        }
        if !model::invalid_pointers(&fields).is_empty() {
            return Value::Object(fields).to_string().into_bytes();
        }
    }
}

/// One running program, its access log, and the model it is compared with.
struct Session {
    server: Server,
    connection: KeepAlive,
    log: LogFile,
    model: Model,
    /// (name, token) of every user the program was started with.
    users: Vec<(String, String)>,
    /// Error ids seen so far, which must all differ.
    error_ids: BTreeSet<String>,
    rng: Rng,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        let log = LogFile::new("access.log")?;
        let users: Vec<(String, String)> = ["ada", "bob", "cyd"]
            .iter()
            .map(|name| (name.to_string(), format!("tok-{}", g.rng().word(12))))
            .collect();
        let mut args = vec!["--access-log".to_string(), log.path().display().to_string()];
        for (name, token) in &users {
            args.push("--user".to_string());
            args.push(format!("{name}:{token}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = g.server_with(&args, &[])?;
        let connection = KeepAlive::open(&mut server)?;
        let model = Model {
            users: users
                .iter()
                .map(|(name, token)| (token.clone(), name.clone()))
                .collect(),
            orders: Vec::new(),
        };
        let rng = g.rng().fork(7);
        Ok(Session {
            server,
            connection,
            log,
            model,
            users,
            error_ids: BTreeSet::new(),
            rng,
        })
    }

    fn bearer(&self, user: usize) -> String {
        format!("Bearer {}", self.users[user].1)
    }

    /// Sends each probe in turn and checks its answer and its access-log line.
    fn check(&mut self, probes: &[Probe]) -> Result<(), Failure> {
        for probe in probes {
            let request = to_request(probe);
            let response = self.connection.send(&mut self.server, &request)?;
            let expected = self.model.apply(probe);
            let lines = self.log.new_lines();
            let verdict = check_response(&expected, &response, &mut self.error_ids)
                .and_then(|error_id| check_log(probe, &expected, error_id.as_deref(), &lines));
            if let Err(rule) = verdict {
                support::record(&self.server, &request, &response);
                return Err(explain(rule, probe, &expected, &response, &lines));
            }
        }
        Ok(())
    }
}

impl Probe {
    fn new(method: &str, path: &str) -> Self {
        Probe {
            method: method.to_string(),
            path: path.to_string(),
            authorization: None,
            body: None,
        }
    }

    fn auth(mut self, authorization: &str) -> Self {
        self.authorization = Some(authorization.to_string());
        self
    }

    fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = Some(body.as_ref().to_vec());
        self
    }
}

fn to_request(probe: &Probe) -> Request {
    let mut request = Request::new(&probe.method, &probe.path);
    if let Some(value) = &probe.authorization {
        request = request.header("Authorization", value);
    }
    match &probe.body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body.clone()),
        None => request,
    }
}
