//! One running items API, the model it is compared with, and the checks of every response: status, media
//! type, body, `Location`, `Allow`, ETag consistency, problem details. Every exchange is also kept as an
//! [`Observation`] for the contract test against the program's own OpenAPI document.

use std::collections::{BTreeMap, BTreeSet};

use backlings_grade::http::{Request, Response};
use backlings_grade::{Connection, Failure, Grading, Server};
use serde_json::Value;

use super::model::{Expect, Model, route};
use crate::support::{body_request, json_body, media_type, show, summary};

/// One request a scenario sends.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: String,
    pub target: String,
    pub body: Option<Vec<u8>>,
    pub content_type: &'static str,
    /// The `If-None-Match` value, and whether it matches the item's current ETag.
    pub if_none_match: Option<(String, bool)>,
}

impl Op {
    /// A request without a body.
    pub fn new(method: &str, target: &str) -> Self {
        Op {
            method: method.to_string(),
            target: target.to_string(),
            body: None,
            content_type: "application/json",
            if_none_match: None,
        }
    }

    /// A request with a JSON body (`application/merge-patch+json` for `PATCH`).
    pub fn json(method: &str, target: &str, body: &Value) -> Self {
        Op::raw(method, target, body.to_string().as_bytes())
    }

    /// A request with raw body bytes.
    pub fn raw(method: &str, target: &str, body: &[u8]) -> Self {
        let mut op = Op::new(method, target);
        op.body = Some(body.to_vec());
        if method == "PATCH" {
            op.content_type = "application/merge-patch+json";
        }
        op
    }

    /// With an `If-None-Match` header.
    pub fn if_none_match(mut self, value: &str, matches_current: bool) -> Self {
        self.if_none_match = Some((value.to_string(), matches_current));
        self
    }

    fn request(&self) -> Request {
        let mut request = match &self.body {
            Some(body) => body_request(&self.method, &self.target, self.content_type, body),
            None => Request::new(&self.method, &self.target),
        };
        if let Some((value, _)) = &self.if_none_match {
            request = request.header("If-None-Match", value);
        }
        request
    }

    fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.target);
        if let Some((value, _)) = &self.if_none_match {
            line.push_str(&format!(" with If-None-Match: {value}"));
        }
        if let Some(body) = &self.body {
            line.push_str(&format!(
                " with body {}",
                crate::support::clip(&String::from_utf8_lossy(body), 300)
            ));
        }
        line
    }
}

/// A response the program gave, for the contract test.
#[derive(Debug, Clone)]
pub struct Observation {
    pub method: String,
    pub template: &'static str,
    pub status: u16,
    pub media_type: String,
    pub body: Option<Value>,
    pub sent: String,
}

/// The ETags the program has handed out, per item.
#[derive(Debug, Default)]
struct Etags {
    current: BTreeMap<u64, String>,
    representation: BTreeMap<(u64, String), Value>,
}

/// A running program, one keep-alive connection to it, and the model.
pub struct Api {
    server: Server,
    connection: Connection,
    pub model: Model,
    etags: Etags,
    pub observed: Vec<Observation>,
}

impl Api {
    /// Starts the program.
    pub fn start(g: &mut Grading) -> Result<Self, Failure> {
        let mut server = g.server()?;
        let connection = server.open()?;
        Ok(Api {
            server,
            connection,
            model: Model::default(),
            etags: Etags::default(),
            observed: Vec::new(),
        })
    }

    /// The current ETag of item `id`, as the program last gave it.
    pub fn etag(&self, id: u64) -> Option<String> {
        self.etags.current.get(&id).cloned()
    }

    /// An ETag the program gave item `id` for a representation other than its current one.
    pub fn stale_etag(&self, id: u64) -> Option<String> {
        let current = self.model.items.get(&id)?;
        self.etags
            .representation
            .iter()
            .find(|((owner, _), seen)| *owner == id && *seen != current)
            .map(|((_, tag), _)| tag.clone())
    }

    /// Sends `GET path` outside the model (the document), keeping it for the contract test.
    pub fn fetch(&mut self, path: &str) -> Result<Response, Failure> {
        self.connection.send(&Request::get(path))?;
        let response = self.connection.read_response(false)?;
        if let Some(target) = route(path) {
            self.observed.push(Observation {
                method: "GET".into(),
                template: target.template(),
                status: response.status,
                media_type: media_type(&response),
                body: json_body(&response).ok(),
                sent: format!("GET {path}"),
            });
        }
        Ok(response)
    }

    /// Sends `op`, checks the answer against the model, and returns it.
    pub fn call(&mut self, op: &Op) -> Result<Response, Failure> {
        let not_modified = op
            .if_none_match
            .as_ref()
            .is_some_and(|(_, matches)| *matches);
        let body = op.body.clone().unwrap_or_default();
        let before = state_line(&self.model);
        let expect = self
            .model
            .apply(&op.method, &op.target, &body, not_modified);
        let request = op.request();
        self.connection.send(&request)?;
        let response = match self.connection.read_response(false) {
            Ok(response) => response,
            Err(failure) => {
                self.server.ensure_alive()?;
                return Err(failure.detail(format!("the request: {}", op.describe())));
            }
        };
        if let Some(template) = route(&op.target).map(|target| target.template()) {
            self.observed.push(Observation {
                method: op.method.clone(),
                template,
                status: response.status,
                media_type: media_type(&response),
                body: if response.body.is_empty() {
                    None
                } else {
                    json_body(&response).ok()
                },
                sent: op.describe(),
            });
        }
        self.check(op, &expect, &response).map_err(|failure| {
            failure
                .detail(format!("the request: {}", op.describe()))
                .detail(before)
        })?;
        Ok(response)
    }

    fn check(&mut self, op: &Op, expect: &Expect, response: &Response) -> Result<(), Failure> {
        let (status, rule) = match expect {
            Expect::Item { status, .. } if *status == 201 => (
                201,
                "a valid new item is created: 201 Created, with Location, ETag and the item".to_string(),
            ),
            Expect::Item { .. } => (200, "this request succeeds: 200 with the item and its ETag".to_string()),
            Expect::List(_) => (200, "GET /items answers 200 with every item, by id".to_string()),
            Expect::NoContent => (204, "a DELETE of an existing item answers 204 No Content".to_string()),
            Expect::NotModified { .. } => (
                304,
                "If-None-Match holds the item's current ETag (weak comparison; `*` matches any existing item): \
                 304 Not Modified"
                    .to_string(),
            ),
            Expect::Problem { status, why, .. } => (*status, why.clone()),
        };
        if response.status != status {
            return Err(Failure::new(rule)
                .expected(expected_summary(expect))
                .got(summary(response)));
        }
        match expect {
            Expect::Item { item, .. } => self.check_item(op, item, response),
            Expect::List(items) => check_json(
                response,
                &Value::Array(items.clone()),
                "GET /items lists every item, ordered by id",
            ),
            Expect::NoContent => {
                check_empty(response, "a 204 has no body")?;
                if let Some(id) = route(&op.target).and_then(member_id) {
                    self.etags.current.remove(&id);
                }
                Ok(())
            }
            Expect::NotModified { id } => {
                check_empty(response, "a 304 has no body: the client already holds it")?;
                let current = self.etags.current.get(id).cloned().unwrap_or_default();
                if response.header("ETag") != Some(current.as_str()) {
                    return Err(Failure::new("a 304 carries the item's current ETag")
                        .expected(format!("ETag: {current}"))
                        .got(summary_with_etag(response)));
                }
                Ok(())
            }
            Expect::Problem {
                status,
                pointers,
                allow,
                ..
            } => check_problem(*status, pointers, allow, response),
        }
    }

    fn check_item(&mut self, op: &Op, item: &Value, response: &Response) -> Result<(), Failure> {
        let id = item["id"].as_u64().unwrap_or(0);
        if response.status == 201
            && let Ok(body) = json_body(response)
            && body.get("id") != Some(&item["id"])
        {
            return Err(Failure::new(
                "ids are handed out 1, 2, 3, … and never reused: a new item gets the id after the last one ever \
                 handed out, even if that item was deleted (`len() + 1` collides after a delete)",
            )
            .expected(format!("id {id}"))
            .got(format!("id {}", body.get("id").map_or("missing".to_string(), show))));
        }
        let rule = match op.method.as_str() {
            "PATCH" => {
                "PATCH merges (RFC 7396): a member absent from the patch stays as it was, a member set to null is \
                 removed (description becomes null, tags become []), a member with a value replaces it"
            }
            "PUT" => {
                "PUT replaces the whole item: the body is the new item, and an optional member it leaves out goes \
                 back to its default (tags [], description null)"
            }
            _ => "the item in the body has all six fields, exactly as stored",
        };
        check_json(response, item, rule)?;
        if response.status == 201 {
            let location = response.header("Location").unwrap_or("");
            let path = format!("/items/{id}");
            let absolute = location.starts_with("http://")
                && location.ends_with(&path)
                && location.matches('/').count() == 4;
            if location != path && !absolute {
                return Err(
                    Failure::new("a 201 names the new resource in Location: /items/{id}")
                        .expected(format!("Location: {path}"))
                        .got(if location.is_empty() {
                            "no Location".to_string()
                        } else {
                            format!("Location: {location}")
                        }),
                );
            }
        }
        let Some(tag) = response.header("ETag").map(str::to_string) else {
            return Err(
                Failure::new("every response carrying an item carries its ETag")
                    .expected("an ETag header, e.g. ETag: \"5e1a…\"")
                    .got(summary_with_etag(response)),
            );
        };
        let strong = tag.len() >= 2
            && tag.starts_with('"')
            && tag.ends_with('"')
            && !tag[1..tag.len() - 1].contains('"');
        if !strong {
            return Err(Failure::new(
                "an ETag is a strong entity tag: opaque characters inside one pair of double quotes, like \"5e1a\"",
            )
            .got(format!("ETag: {tag}")));
        }
        if let Some(before) = self.etags.representation.get(&(id, tag.clone()))
            && before != item
        {
            return Err(Failure::new(
                "a changed item gets a new ETag: this ETag was already given to a different version of the item, \
                 so a client holding the old version would be told (304) it is up to date",
            )
            .expected(format!("an ETag other than {tag}"))
            .got(format!("ETag: {tag}"))
            .detail(format!("the earlier version with this ETag: {}", show(before)))
            .detail(format!("the item now: {}", show(item))));
        }
        if op.method == "GET"
            && let Some(current) = self.etags.current.get(&id)
            && *current != tag
        {
            return Err(Failure::new(
                "an unchanged item keeps its ETag: nothing changed the item since the program gave it this ETag",
            )
            .expected(format!("ETag: {current}"))
            .got(format!("ETag: {tag}")));
        }
        self.etags.current.insert(id, tag.clone());
        self.etags.representation.insert((id, tag), item.clone());
        Ok(())
    }
}

fn member_id(target: super::model::Target) -> Option<u64> {
    match target {
        super::model::Target::Member(id) => Some(id),
        _ => None,
    }
}

fn state_line(model: &Model) -> String {
    let mut items: Vec<String> = model
        .items
        .values()
        .take(20)
        .map(|item| format!("{} (sku {})", item["id"], item["sku"]))
        .collect();
    if model.items.len() > 20 {
        items.push(format!("… {} more", model.items.len() - 20));
    }
    format!(
        "before this request, the items were: [{}]; the last id handed out: {}",
        items.join(", "),
        model.last_id
    )
}

fn expected_summary(expect: &Expect) -> String {
    match expect {
        Expect::Item { status, item } => {
            format!("{status} · application/json · body {}", show(item))
        }
        Expect::List(items) => format!(
            "200 · application/json · body {}",
            show(&Value::Array(items.clone()))
        ),
        Expect::NoContent => "204 · no body".to_string(),
        Expect::NotModified { .. } => "304 · ETag · no body".to_string(),
        Expect::Problem {
            status,
            pointers,
            allow,
            ..
        } => {
            let mut line = format!("{status} · application/problem+json");
            if !pointers.is_empty() {
                line.push_str(&format!(
                    " · errors at {}",
                    pointers.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            if !allow.is_empty() {
                line.push_str(&format!(" · Allow: {}", allow.join(", ")));
            }
            line
        }
    }
}

fn summary_with_etag(response: &Response) -> String {
    match response.header("ETag") {
        Some(tag) => format!("{} · ETag: {tag}", summary(response)),
        None => format!("{} · no ETag", summary(response)),
    }
}

fn check_json(response: &Response, expected: &Value, rule: &str) -> Result<(), Failure> {
    let kind = media_type(response);
    if kind != "application/json" {
        return Err(Failure::new(format!("{rule}, as application/json"))
            .expected("Content-Type: application/json")
            .got(summary(response)));
    }
    let body = json_body(response).map_err(|why| Failure::new(rule).got(why))?;
    if body != *expected {
        return Err(Failure::new(rule).expected(show(expected)).got(show(&body)));
    }
    Ok(())
}

fn check_empty(response: &Response, rule: &str) -> Result<(), Failure> {
    match response.header("Content-Length") {
        None | Some("0") => Ok(()),
        Some(length) => Err(Failure::new(rule)
            .expected("no body (Content-Length: 0)")
            .got(format!("Content-Length: {length}"))),
    }
}

fn check_problem(
    status: u16,
    pointers: &BTreeSet<String>,
    allow: &[&'static str],
    response: &Response,
) -> Result<(), Failure> {
    let kind = media_type(response);
    if kind != "application/problem+json" {
        return Err(Failure::new(
            "an error is problem details (RFC 9457): Content-Type: application/problem+json",
        )
        .got(summary(response)));
    }
    let body = json_body(response)
        .map_err(|why| Failure::new("a problem details body is a JSON object").got(why))?;
    if body.get("status").and_then(Value::as_u64) != Some(u64::from(status))
        || !body.get("title").is_some_and(Value::is_string)
    {
        return Err(Failure::new(
            "a problem details body has a `title` (a string) and a `status` equal to the HTTP status (a number)",
        )
        .expected(format!("{{\"title\": \"…\", \"status\": {status}, …}}"))
        .got(show(&body)));
    }
    if status == 422 {
        let Some(errors) = body.get("errors").and_then(Value::as_array) else {
            return Err(Failure::new(
                "a 422 lists the invalid fields in `errors`: [{\"pointer\": …, \"detail\": …}]",
            )
            .got(show(&body)));
        };
        let mut got = BTreeSet::new();
        for error in errors {
            let (Some(pointer), Some(_)) = (
                error.get("pointer").and_then(Value::as_str),
                error.get("detail").and_then(Value::as_str),
            ) else {
                return Err(Failure::new(
                    "each entry of `errors` has a `pointer` and a `detail`, both strings",
                )
                .got(show(error)));
            };
            if !got.insert(pointer.to_string()) {
                return Err(Failure::new("each invalid field is listed once")
                    .got(format!("{pointer} twice")));
            }
        }
        if got != *pointers {
            let missing: Vec<&String> = pointers.difference(&got).collect();
            let extra: Vec<&String> = got.difference(pointers).collect();
            let mut failure = Failure::new(
                "a 422 lists every invalid field at once, each at its JSON Pointer (`/tags/2`; `/` in a name is \
                 `~1`, `~` is `~0`), and no valid field",
            )
            .expected(pointers.iter().cloned().collect::<Vec<_>>().join(", "))
            .got(got.iter().cloned().collect::<Vec<_>>().join(", "));
            if !missing.is_empty() {
                failure = failure.detail(format!("invalid but not reported: {missing:?}"));
            }
            if !extra.is_empty() {
                failure = failure.detail(format!(
                    "reported but not invalid (or not written this way): {extra:?}"
                ));
            }
            return Err(failure);
        }
    }
    if !allow.is_empty() {
        let want: BTreeSet<&str> = allow.iter().copied().collect();
        let header = response.header("Allow").unwrap_or("");
        let got: BTreeSet<&str> = header
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        if got != want {
            return Err(Failure::new(
                "a 405 lists, in Allow, exactly the methods the resource supports (so a client can correct itself)",
            )
            .expected(format!("Allow: {}", allow.join(", ")))
            .got(if header.is_empty() { "no Allow header".to_string() } else { format!("Allow: {header}") }));
        }
    }
    Ok(())
}
