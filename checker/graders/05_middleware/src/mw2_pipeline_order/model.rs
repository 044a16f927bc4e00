//! The contract of `mw2_pipeline_order` as a model: which answer and which access-log line each request must
//! produce, in pipeline order (authentication, then validation, then routing and the handlers).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One request the grader sends.
#[derive(Debug, Clone)]
pub struct Probe {
    pub method: String,
    pub path: String,
    /// The `Authorization` header as sent, if any.
    pub authorization: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// What the program must answer, and log.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub status: u16,
    /// The one method a 405's `Allow` header lists.
    pub allow: Option<&'static str>,
    /// The JSON Pointers of a 422, sorted.
    pub pointers: Vec<String>,
    /// The JSON body of a success.
    pub json: Option<Value>,
    /// `Location` of a 201.
    pub location: Option<String>,
    /// Who the access log must name.
    pub user: Option<String>,
    /// Which kind of refusal or failure this is, for the report.
    pub why: Why,
}

/// Why the answer is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Served,
    NoToken,
    NotAnObject,
    InvalidFields,
    NoRoute,
    WrongMethod,
    NoSuchOrder,
    Panic,
}

/// The service as the grader sees it: its users and the orders created so far.
#[derive(Debug, Default)]
pub struct Model {
    /// Token → user name.
    pub users: BTreeMap<String, String>,
    pub orders: Vec<Value>,
}

impl Model {
    /// The answer to `probe`, applied to the model (a created order is kept).
    pub fn apply(&mut self, probe: &Probe) -> Expected {
        let mut expected = Expected {
            status: 200,
            allow: None,
            pointers: Vec::new(),
            json: None,
            location: None,
            user: None,
            why: Why::Served,
        };
        let token = probe
            .authorization
            .as_deref()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(user) = token.and_then(|token| self.users.get(token)) else {
            expected.status = 401;
            expected.why = Why::NoToken;
            return expected;
        };
        expected.user = Some(user.clone());
        let body = probe.body.as_deref().unwrap_or_default();
        let segments: Vec<&str> = probe.path.split('/').skip(1).collect();
        let method = probe.method.as_str();
        let fail = |mut expected: Expected, status, why| {
            expected.status = status;
            expected.why = why;
            expected
        };
        match segments.as_slice() {
            ["orders"] if method == "POST" => {
                let fields = match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(fields)) => fields,
                    _ => return fail(expected, 400, Why::NotAnObject),
                };
                let mut pointers = invalid_pointers(&fields);
                if !pointers.is_empty() {
                    pointers.sort();
                    expected.pointers = pointers;
                    expected.status = 422;
                    expected.why = Why::InvalidFields;
                    return expected;
                }
                let id = self.orders.len() + 1;
                let tags = fields.get("tags").cloned().unwrap_or_else(|| json!([]));
                let order = json!({
                    "id": id,
                    "item": fields["item"],
                    "quantity": fields["quantity"],
                    "email": fields["email"],
                    "tags": tags,
                    "owner": user,
                });
                self.orders.push(order.clone());
                expected.status = 201;
                expected.json = Some(order);
                expected.location = Some(format!("/orders/{id}"));
                expected
            }
            ["orders"] => {
                expected.allow = Some("POST");
                fail(expected, 405, Why::WrongMethod)
            }
            ["orders", id] if id.parse::<u64>().is_ok() => {
                if method != "GET" {
                    expected.allow = Some("GET");
                    return fail(expected, 405, Why::WrongMethod);
                }
                let order = id
                    .parse::<usize>()
                    .ok()
                    .and_then(|id| self.orders.get(id.wrapping_sub(1)));
                match order {
                    Some(order) => {
                        expected.json = Some(order.clone());
                        expected
                    }
                    None => fail(expected, 404, Why::NoSuchOrder),
                }
            }
            ["reports", n] if n.parse::<u64>().is_ok() => {
                if method != "GET" {
                    expected.allow = Some("GET");
                    return fail(expected, 405, Why::WrongMethod);
                }
                match n.parse::<u64>().unwrap_or(1) {
                    0 => fail(expected, 500, Why::Panic),
                    n => {
                        expected.json = Some(json!({ "per_unit": 1000 / n }));
                        expected
                    }
                }
            }
            _ => fail(expected, 404, Why::NoRoute),
        }
    }
}

/// The JSON Pointers (as URI fragments) of every invalid field of an order body, per the contract's rules.
pub fn invalid_pointers(fields: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut pointers = Vec::new();
    let chars_within = |value: Option<&Value>, max: usize| {
        value
            .and_then(Value::as_str)
            .is_some_and(|text| (1..=max).contains(&text.chars().count()))
    };
    if !chars_within(fields.get("item"), 40) {
        pointers.push("#/item".to_string());
    }
    if !fields
        .get("quantity")
        .and_then(Value::as_u64)
        .is_some_and(|quantity| (1..=100).contains(&quantity))
    {
        pointers.push("#/quantity".to_string());
    }
    let email_ok = fields
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|email| {
            let parts: Vec<&str> = email.split('@').collect();
            parts.len() == 2 && !parts[0].is_empty() && !parts[1].is_empty()
        });
    if !email_ok {
        pointers.push("#/email".to_string());
    }
    match fields.get("tags") {
        None => {}
        Some(Value::Array(tags)) => {
            if tags.len() > 5 {
                pointers.push("#/tags".to_string());
            }
            for (index, tag) in tags.iter().enumerate() {
                if !chars_within(Some(tag), 20) {
                    pointers.push(format!("#/tags/{index}"));
                }
            }
        }
        Some(_) => pointers.push("#/tags".to_string()),
    }
    pointers
}
