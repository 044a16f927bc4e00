//! Grader of `val4_schema_before_deser`: `POST /orders` checks size and structural limits on the raw bytes,
//! parses, validates against a JSON Schema and only then deserializes; `POST /login` answers every failure
//! with the same bytes.
//!
//! The answer every body must get comes from the executable contract in [`model`] (its own scanner of the
//! raw bytes and its own reading of the order schema). The scenarios: valid orders, each schema violation
//! alone, many at once, the limits at their exact edges (and far past them: 8 000 nested brackets), strings
//! full of brackets, escaped quotes and backslashes, malformed JSON, then the login form.

mod model;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Connection, Failure, Grading, Rng};
use serde_json::{Value, json};

use crate::problem::{self, FieldError, glimpse};
use model::{Answer, MAX_BODY_BYTES, MAX_DEPTH, MAX_KEY_BYTES, MAX_MEMBERS};

/// Seeded orders with several violations each.
const MIXED: usize = 30;
/// The accounts of the exercise.
const USERS: [(&str, &str); 3] = [
    ("ada", "correct horse battery staple"),
    ("grace", "COBOL-1959"),
    ("linus", "just for fun"),
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut server = g.server()?;
    let mut conn = server.open()?;

    g.scenario("valid orders are created (201) with their lines and units counted");
    for index in 0..12 {
        let order = valid_order(g.rng(), index);
        send_order(&mut conn, &text(g.rng(), &order))?;
    }

    g.scenario("each schema violation alone is reported at its JSON Pointer, with its keyword");
    let base = valid_order(g.rng(), 1);
    for (fault, _) in faults() {
        let mut order = base.clone();
        fault(&mut order);
        send_order(&mut conn, &text(g.rng(), &order))?;
    }

    g.scenario("many violations at once: every one, sorted by pointer then keyword");
    let all = faults();
    for index in 0..MIXED {
        let mut order = valid_order(g.rng(), index);
        // Faults that keep the containers in place first, then any one fault last.
        let mut combinable: Vec<usize> = (0..all.len()).filter(|&i| all[i].1).collect();
        g.rng().shuffle(&mut combinable);
        for &fault in combinable.iter().take(g.rng().range(1, 5) as usize) {
            all[fault].0(&mut order);
        }
        let last = g.rng().below(all.len() as u64) as usize;
        all[last].0(&mut order);
        send_order(&mut conn, &text(g.rng(), &order))?;
    }

    g.scenario("limits on the raw bytes, at their edges and far past them, before any parsing");
    for body in limit_bodies(g.rng()) {
        send_order(&mut conn, &body)?;
    }

    g.scenario("brackets, quotes and backslashes inside strings are text, not structure");
    for body in string_bodies(g.rng()) {
        send_order(&mut conn, &body)?;
    }

    g.scenario("a body that is not JSON is 400");
    for body in [
        &b"{\"customer\": "[..],
        b"{\"items\": [1,]}",
        b"{'customer': {}}",
        b"{\"items\": NaN}",
        b"{\"customer\": {\"email\": \"\xff@b.io\"}}",
        b"",
        b"{} {}",
        b"{\"items\": [}",
    ] {
        send_order(&mut conn, body)?;
    }

    g.scenario("the login form answers every failure with the same bytes");
    login(&mut conn, g.rng())?;
    server.ensure_alive()
}

/// The JSON text of `value`, compact or spread over lines.
fn text(rng: &mut Rng, value: &Value) -> Vec<u8> {
    let bytes = if rng.chance(1, 3) {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    bytes.unwrap_or_default()
}

fn post(path: &str, body: &[u8]) -> Request {
    Request::post(path, body.to_vec()).header("Content-Type", "application/json")
}

/// A short view of a body for a report.
fn shown(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.chars().count() > 400 {
        let head: String = text.chars().take(300).collect();
        format!("{head}… ({} bytes in all)", body.len())
    } else {
        text.into_owned()
    }
}

/// Sends `body` to `POST /orders` and checks the answer against the model.
fn send_order(conn: &mut Connection, body: &[u8]) -> Result<(), Failure> {
    let response = conn.request(&post("/orders", body))?;
    let answer = model::answer(body);
    check_order(&response, &answer).map_err(|failure| {
        failure
            .detail(format!("the body sent: {}", shown(body)))
            .detail(format!("the contract's answer: {}", describe(&answer)))
    })
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::TooLarge => format!("413 too-large: the body is over {MAX_BODY_BYTES} bytes"),
        Answer::Limit(kind, why) => format!("400 {kind}: {why}"),
        Answer::Malformed => {
            "400 malformed-json: the bytes are within the limits, and not JSON".to_string()
        }
        Answer::Invalid(errors) => format!("422 with {}", problem::show(errors)),
        Answer::Created { items, units } => {
            format!("201 with {{\"items\":{items},\"units\":{units}}}")
        }
    }
}

/// Whether `response` is the contract's answer; the `Failure` says which rule it broke.
fn check_order(response: &Response, answer: &Answer) -> Result<(), Failure> {
    if let Err(failure) = check_status(response, answer) {
        return Err(explain_status(response, answer, failure));
    }
    match answer {
        Answer::Invalid(expected) => {
            let document: Value = serde_json::from_slice(&response.body).unwrap_or_default();
            let got = problem::field_errors(&document)?;
            match problem::compare(expected, &got) {
                None => Ok(()),
                Some(mismatch) => {
                    let mut failure = problem::explain(&mismatch, expected, &got, model::rule_of);
                    if got == [FieldError::new("", "type")] {
                        failure = failure.detail(
                            "one error at \"\" for an object body looks like typed deserialization's single \
                             error: validate the parsed Value against the schema before typed \
                             deserialization, which stops at its first problem and ignores unknown members",
                        );
                    }
                    Err(failure)
                }
            }
        }
        Answer::Created { items, units } => {
            let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
            if body == json!({ "items": items, "units": units }) {
                Ok(())
            } else {
                Err(Failure::new(
                    "a valid order is deserialized into the typed Order and answered 201 with \
                     {\"items\": lines, \"units\": the sum of the quantities}",
                )
                .expected(format!("{{\"items\":{items},\"units\":{units}}}"))
                .got(glimpse(response)))
            }
        }
        _ => Ok(()),
    }
}

fn check_status(response: &Response, answer: &Answer) -> Result<(), Failure> {
    let why = "see below";
    match answer {
        Answer::TooLarge => {
            problem::problem(response, 413, "urn:backlings:problem:too-large", why).map(drop)
        }
        Answer::Limit(kind, _) => {
            let kind = format!("urn:backlings:problem:{kind}");
            problem::problem(response, 400, &kind, why).map(drop)
        }
        Answer::Malformed => {
            problem::problem(response, 400, "urn:backlings:problem:malformed-json", why).map(drop)
        }
        Answer::Invalid(_) => {
            problem::problem(response, 422, "urn:backlings:problem:validation", why).map(drop)
        }
        Answer::Created { .. } if response.status == 201 => Ok(()),
        Answer::Created { .. } => Err(Failure::new(why).expected("201").got(glimpse(response))),
    }
}

/// Replaces the framework's generic "see below" with the rule this answer stands for.
fn explain_status(response: &Response, answer: &Answer, failure: Failure) -> Failure {
    let refused_as = problem::media_type(response)
        .filter(|media| media == problem::PROBLEM_JSON)
        .and_then(|_| serde_json::from_slice::<Value>(&response.body).ok())
        .and_then(|body| body.get("type").and_then(Value::as_str).map(str::to_string));
    let limit_refusal = refused_as.as_deref().is_some_and(|t| {
        t.ends_with("too-deep") || t.ends_with("too-many-members") || t.ends_with("key-too-long")
    });
    let rule = match answer {
        Answer::TooLarge => format!(
            "a body over {MAX_BODY_BYTES} bytes is refused with 413 before anything else is done with it"
        ),
        Answer::Limit(kind, _) => format!(
            "the structural limits are checked on the raw bytes, before any parsing: this body breaks one, so \
             the answer is 400 with the type urn:backlings:problem:{kind} (a parser's own recursion limit \
             would answer malformed-json, and a deep body it accepts would reach the schema)"
        ),
        Answer::Malformed => {
            "a body within the limits that is not JSON is 400 malformed-json".to_string()
        }
        Answer::Invalid(_) | Answer::Created { .. } if limit_refusal => format!(
            "this body is within the limits (depth {MAX_DEPTH}, {MAX_MEMBERS} members per object, member \
             names of {MAX_KEY_BYTES} bytes): brackets, braces, commas and colons inside strings are text, \
             not structure, and a string ends at the first `\"` that is not escaped (in \"C:\\\\\" the \
             backslash is escaped, so the quote after it ends the string)"
        ),
        Answer::Invalid(_) => {
            "this order breaks the schema: 422 with a problem document listing every \
                               violation"
                .to_string()
        }
        Answer::Created { .. } => {
            "this order is within the limits and follows the schema: it is created \
                                   (201)"
                .to_string()
        }
    };
    let mut explained = Failure::new(rule);
    explained.expected = failure.expected;
    explained.got = failure.got;
    if let Answer::Invalid(errors) = answer {
        for error in errors {
            explained = explained.detail(format!(
                "the contract requires {:?} {} · {}",
                error.pointer,
                error.code,
                model::rule_of(&error.pointer, &error.code)
            ));
        }
    }
    explained
}

/// A valid order: one of a few customers, 1 to 5 lines (20 now and then), an optional coupon and gift.
fn valid_order(rng: &mut Rng, index: usize) -> Value {
    let emails = [
        "ada@example.com",
        "x@y.io",
        "o'brien+tag@mail.example.co.uk",
        "grace.hopper@navy.mil",
        "Z@b.museum",
    ];
    let mut customer = json!({ "email": emails[index % emails.len()] });
    if rng.chance(1, 2) {
        let names = [
            "Ada Lovelace",
            "Zoë",
            "李小龍",
            "X",
            "Grace \"Amazing\" Hopper",
        ];
        customer["name"] = json!(rng.pick(&names));
    }
    let lines = if index % 6 == 5 { 20 } else { rng.range(1, 5) };
    let items: Vec<Value> = (0..lines)
        .map(|_| {
            let sku = format!(
                "{}-{:04}",
                rng.word(3).to_ascii_uppercase(),
                rng.below(10_000)
            );
            let quantity = match rng.below(5) {
                0 => json!(1),
                1 => json!(99),
                2 => json!(rng.range(1, 99) as f64),
                _ => json!(rng.range(1, 99)),
            };
            json!({ "sku": sku, "quantity": quantity })
        })
        .collect();
    let mut order = json!({ "customer": customer, "items": items });
    if rng.chance(1, 3) {
        order["coupon"] = json!(*rng.pick(&["SAVE10", "ABCD", "WINTER2024XY"]));
    }
    if rng.chance(1, 3) {
        order["gift"] = json!(rng.chance(1, 2));
    }
    order
}

/// A change to a valid order that breaks the schema.
type Fault = fn(&mut Value);

/// Every fault, and whether the order keeps its containers (so that other faults can follow it).
fn faults() -> Vec<(Fault, bool)> {
    let last_only: Vec<Fault> = vec![
        |o| {
            if let Some(o) = o.as_object_mut() {
                o.remove("items");
            }
        },
        |o| o["customer"] = json!("ada@example.com"),
        |o| o["items"] = json!([]),
        |o| o["items"] = json!("none"),
        |o| o["items"] = json!({}),
        |o| o["items"][0] = json!(5),
        |o| *o = json!([]),
        |o| *o = json!("order"),
        |o| *o = Value::Null,
    ];
    let combinable: Vec<Fault> = vec![
        |o| {
            if let Some(o) = o.as_object_mut() {
                o.remove("customer");
            }
        },
        |o| o["customer"] = Value::Null,
        |o| o["customer"] = json!({}),
        |o| o["customer"] = json!({ "name": "Ada" }),
        |o| o["customer"]["email"] = json!(42),
        |o| o["customer"]["email"] = json!("ab"),
        |o| o["customer"]["email"] = json!("a@b"),
        |o| o["customer"]["email"] = json!("ada@example.COM"),
        |o| o["customer"]["email"] = json!("ada @example.com"),
        |o| o["customer"]["email"] = json!("a@@b.io"),
        |o| o["customer"]["email"] = json!(format!("{}@example.com", "x".repeat(243))),
        |o| o["customer"]["name"] = json!(""),
        |o| o["customer"]["name"] = json!("é".repeat(101)),
        |o| o["customer"]["name"] = Value::Null,
        |o| o["customer"]["phone"] = json!("+441234"),
        |o| {
            let line = o["items"][0].clone();
            o["items"] = Value::Array(vec![line; 21]);
        },
        |o| o["items"][0] = json!({}),
        |o| o["items"][0]["sku"] = json!("abc-1234"),
        |o| o["items"][0]["sku"] = json!("ABC1234"),
        |o| o["items"][0]["sku"] = json!(1234),
        |o| o["items"][0]["sku"] = json!("ABC-1234\n"),
        |o| o["items"][0]["quantity"] = json!(0),
        |o| o["items"][0]["quantity"] = json!(100),
        |o| o["items"][0]["quantity"] = json!(0.5),
        |o| o["items"][0]["quantity"] = json!(2.5),
        |o| o["items"][0]["quantity"] = json!(99.5),
        |o| o["items"][0]["quantity"] = json!("3"),
        |o| o["items"][0]["quantity"] = Value::Null,
        |o| o["items"][0]["quantity"] = json!(-1),
        |o| o["items"][0]["quantity"] = json!(1e2),
        |o| o["items"][0]["price_cents"] = json!(0),
        |o| {
            o["items"][0]["a/b"] = json!(1);
            o["items"][0]["m~n"] = json!(2);
        },
        |o| {
            let last = o["items"].as_array().map_or(0, Vec::len).saturating_sub(1);
            o["items"][last]["quantity"] = json!(0);
            o["items"][last]["color"] = json!("red");
        },
        |o| o["coupon"] = json!("ab"),
        |o| o["coupon"] = json!("save10"),
        |o| o["coupon"] = json!(10),
        |o| o["gift"] = json!("yes"),
        |o| o["gift"] = Value::Null,
        |o| o["role"] = json!("admin"),
        |o| o["price_cents"] = json!(0),
        |o| o["__proto__"] = json!({ "admin": true }),
    ];
    let last_only = last_only.into_iter().map(|fault| (fault, false));
    combinable
        .into_iter()
        .map(|fault| (fault, true))
        .chain(last_only)
        .collect()
}

/// A valid order as compact JSON text with `extra` spliced in as its first members.
fn with_members(rng: &mut Rng, extra: &str) -> Vec<u8> {
    // Only `customer` and `items`, so that the member counts below are exact.
    let mut order = valid_order(rng, 0);
    if let Some(members) = order.as_object_mut() {
        members.retain(|key, _| key == "customer" || key == "items");
    }
    let order = serde_json::to_string(&order).unwrap_or_default();
    let separator = if extra.is_empty() { "" } else { "," };
    format!("{{{extra}{separator}{}", &order[1..]).into_bytes()
}

/// Nested arrays `depth` deep around a number.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// Bodies at the edges of the limits and far past them.
fn limit_bodies(rng: &mut Rng) -> Vec<Vec<u8>> {
    let members = |count: usize| -> String {
        (0..count)
            .map(|i| format!("\"m{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut bodies = vec![
        // The root object is depth 1, so an extra member can hold 15 more levels, and not 16.
        with_members(rng, &format!("\"x\":{}", nested(MAX_DEPTH - 1))),
        with_members(rng, &format!("\"x\":{}", nested(MAX_DEPTH))),
        nested(MAX_DEPTH).into_bytes(),
        nested(MAX_DEPTH + 1).into_bytes(),
        nested(8000).into_bytes(),
        "[".repeat(15_000).into_bytes(),
        format!("{}1{}", "{\"a\":".repeat(2500), "}".repeat(2500)).into_bytes(),
        // customer and items plus 30 more is 32 members: the schema's business; 31 more is too many.
        with_members(rng, &members(MAX_MEMBERS - 2)),
        with_members(rng, &members(MAX_MEMBERS - 1)),
        with_members(rng, &format!("\"x\":{{{}}}", members(MAX_MEMBERS + 1))),
        with_members(
            rng,
            &format!("\"x\":[{{{}}},{{{}}}]", members(20), members(20)),
        ),
        with_members(rng, &format!("\"{}\":1", "k".repeat(MAX_KEY_BYTES))),
        with_members(rng, &format!("\"{}\":1", "k".repeat(MAX_KEY_BYTES + 1))),
        with_members(rng, &format!("\"{}\":1", "\\u0041".repeat(11))),
        with_members(rng, &format!("\"x\":\"{}\"", "v".repeat(5000))),
        with_members(rng, &format!("\"x\":[{}]", vec!["0"; 3000].join(","))),
    ];
    // Exactly the size limit (padded with spaces, which JSON allows), then one byte more.
    let order = serde_json::to_vec(&valid_order(rng, 2)).unwrap_or_default();
    let mut exact = order.clone();
    exact.resize(MAX_BODY_BYTES, b' ');
    let mut over = order;
    over.resize(MAX_BODY_BYTES + 1, b' ');
    bodies.push(exact);
    bodies.push(over);
    bodies
}

/// Valid and invalid orders whose strings hold brackets, braces, quotes and backslashes.
fn string_bodies(rng: &mut Rng) -> Vec<Vec<u8>> {
    let brackets = "[".repeat(MAX_DEPTH + 4);
    let braces = "{".repeat(MAX_DEPTH + 4);
    let names = [
        format!("{brackets} Ada"),
        format!("\"{braces}"),
        format!("\\\"{brackets}"),
        format!("a,b:c,d:{braces}"),
        "C:\\".to_string(),
        "\\\\".to_string(),
    ];
    let mut bodies = Vec::new();
    for name in names {
        let mut order = valid_order(rng, 3);
        order["customer"]["name"] = json!(name);
        bodies.push(serde_json::to_vec(&order).unwrap_or_default());
        // The same name, then brackets in a later string (members go out sorted by name, so `zz` comes
        // last): a scanner that lost track of where strings end now counts them.
        let mut order = valid_order(rng, 4);
        order["customer"]["name"] = json!(name);
        order["zz"] = json!(brackets);
        bodies.push(serde_json::to_vec(&order).unwrap_or_default());
    }
    bodies
}

/// The login form: one success per account, and one set of bytes for every failure.
fn login(conn: &mut Connection, rng: &mut Rng) -> Result<(), Failure> {
    for (user, password) in USERS {
        let body = json!({ "username": user, "password": password }).to_string();
        let response = conn.request(&post("/login", body.as_bytes()))?;
        let got: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        if response.status != 200 || got != json!({ "user": user }) {
            return Err(Failure::new(
                "the right username and password log in: 200 with {\"user\": USERNAME}",
            )
            .expected(format!("200 with {{\"user\":\"{user}\"}}"))
            .got(glimpse(&response))
            .detail(format!("the body sent: {body}")));
        }
    }
    let mut failures: Vec<(String, String)> = vec![
        (
            "an unknown user".into(),
            json!({"username": "alan", "password": "correct horse battery staple"}).to_string(),
        ),
        (
            "a wrong password".into(),
            json!({"username": "ada", "password": "correct horse battery stapler"}).to_string(),
        ),
        (
            "another account's password".into(),
            json!({"username": "ada", "password": "COBOL-1959"}).to_string(),
        ),
        (
            "a username in other case".into(),
            json!({"username": "Ada", "password": "correct horse battery staple"}).to_string(),
        ),
        (
            "a missing password".into(),
            json!({"username": "grace"}).to_string(),
        ),
        (
            "a password that is a number".into(),
            json!({"username": "grace", "password": 1959}).to_string(),
        ),
        (
            "an empty username".into(),
            json!({"username": "", "password": "x"}).to_string(),
        ),
        (
            "an extra member".into(),
            json!({"username": "linus", "password": "just for fun", "admin": true}).to_string(),
        ),
        ("an empty object".into(), "{}".to_string()),
        ("an array".into(), "[]".to_string()),
    ];
    rng.shuffle(&mut failures);
    let mut first: Option<(String, Response)> = None;
    for (what, body) in failures {
        let response = conn.request(&post("/login", body.as_bytes()))?;
        let why = format!(
            "a failed login ({what}) is 401 with the one generic answer, type \
             urn:backlings:problem:invalid-credentials, whatever went wrong"
        );
        let document = problem::problem(
            &response,
            401,
            "urn:backlings:problem:invalid-credentials",
            &why,
        )
        .map_err(|failure| failure.detail(format!("the body sent: {body}")))?;
        if document.get("errors").is_some() {
            return Err(Failure::new(
                "a login form explains nothing: no `errors` list, no pointer, no rule (each would tell an \
                 attacker what to fix)",
            )
            .got(glimpse(&response))
            .detail(format!("the body sent: {body}")));
        }
        match &first {
            None => first = Some((what, response)),
            Some((first_what, first_response)) => {
                let same = first_response.body == response.body
                    && first_response.header("content-type") == response.header("content-type");
                if !same {
                    return Err(Failure::new(
                        "every failed login gets byte-identical answers: if an unknown user and a wrong \
                         password are told apart, an attacker learns which accounts exist",
                    )
                    .expected(format!("for {what}, the same as for {first_what}: {}", glimpse(first_response)))
                    .got(glimpse(&response))
                    .detail(format!("the body sent: {body}")));
                }
            }
        }
    }
    Ok(())
}
