//! A model of the notes server: requests described as operations, the answer the contract demands for each,
//! and the state it leaves. Every expected status, header and body of the grader comes from here, checked in
//! the contract's order: 503, 404 (path), 405, 415, 400, 422, 404 (note), 412, 409.

use std::collections::{BTreeMap, BTreeSet};

use backlings_grade::http::Request;
use serde_json::{Map, Value};

pub const JSON: &str = "application/json";
pub const MERGE_PATCH: &str = "application/merge-patch+json";
pub const COLLECTION: &[&str] = &["GET", "HEAD", "POST", "OPTIONS"];
pub const ITEM: &[&str] = &["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"];
pub const MAINTENANCE: &[&str] = &["PUT", "DELETE", "OPTIONS"];

/// A note as the model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
}

impl Note {
    /// The representation, byte for byte as the exercise's provided `Note::to_json` writes it.
    pub fn repr(&self) -> String {
        let mut text = format!(
            "{{\"id\":{},\"title\":{}",
            self.id,
            Value::from(self.title.as_str())
        );
        if let Some(body) = &self.body {
            text.push_str(&format!(",\"body\":{}", Value::from(body.as_str())));
        }
        text.push('}');
        text
    }

    /// The ETag: FNV-1a 64 of the representation.
    pub fn etag(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.repr().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("\"{hash:016x}\"")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.repr()).expect("the representation is JSON")
    }
}

/// One field of a request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Absent,
    Null,
    Set(Value),
}

/// The fields a client sends for a note.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub title: Field,
    pub body: Field,
    /// A field the contract does not know, such as `id`.
    pub extra: Option<(String, Value)>,
}

impl Fields {
    /// A valid whole note.
    pub fn note(title: &str, body: Option<&str>) -> Fields {
        Fields {
            title: Field::Set(Value::from(title)),
            body: body.map_or(Field::Absent, |body| Field::Set(Value::from(body))),
            extra: None,
        }
    }

    /// A patch of the given fields.
    pub fn patch(title: Field, body: Field) -> Fields {
        Fields {
            title,
            body,
            extra: None,
        }
    }

    /// The JSON object sent.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        for (name, field) in [("title", &self.title), ("body", &self.body)] {
            match field {
                Field::Absent => {}
                Field::Null => {
                    object.insert(name.to_string(), Value::Null);
                }
                Field::Set(value) => {
                    object.insert(name.to_string(), value.clone());
                }
            }
        }
        if let Some((name, value)) = &self.extra {
            object.insert(name.clone(), value.clone());
        }
        Value::Object(object)
    }

    /// The title and body of a valid whole note, or `None` (422).
    fn whole(&self) -> Option<(String, Option<String>)> {
        if self.extra.is_some() {
            return None;
        }
        let title = match &self.title {
            Field::Set(Value::String(title)) if !title.is_empty() => title.clone(),
            _ => return None,
        };
        let body = match &self.body {
            Field::Absent => None,
            Field::Set(Value::String(body)) => Some(body.clone()),
            _ => return None,
        };
        Some((title, body))
    }

    /// Whether this is a valid merge patch.
    fn is_valid_patch(&self) -> bool {
        let title = match &self.title {
            Field::Absent => true,
            Field::Set(Value::String(title)) => !title.is_empty(),
            _ => false,
        };
        let body = matches!(
            &self.body,
            Field::Absent | Field::Null | Field::Set(Value::String(_))
        );
        self.extra.is_none() && title && body
    }

    /// `note` with this (valid) patch applied.
    fn apply_to(&self, note: &Note) -> Note {
        let mut patched = note.clone();
        if let Field::Set(Value::String(title)) = &self.title {
            patched.title = title.clone();
        }
        match &self.body {
            Field::Set(Value::String(body)) => patched.body = Some(body.clone()),
            Field::Null => patched.body = None,
            _ => {}
        }
        patched
    }
}

/// What is wrong with a request body, if anything.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Nothing: the right media type and the fields as JSON.
    None,
    /// This `Content-Type` instead (it may still be acceptable, like `Application/JSON; charset=utf-8`).
    Media(String),
    /// These bytes instead of the fields (never a JSON object).
    Raw(Vec<u8>),
}

/// An `If-Match` header.
#[derive(Debug, Clone, PartialEq)]
pub enum IfMatch {
    Star,
    Tags(Vec<String>),
}

impl IfMatch {
    fn value(&self) -> String {
        match self {
            IfMatch::Star => "*".to_string(),
            IfMatch::Tags(tags) => tags.join(", "),
        }
    }
}

/// One request, described.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    List {
        head: bool,
    },
    Read {
        id: u64,
        head: bool,
    },
    Create {
        fields: Fields,
        fault: Fault,
    },
    Put {
        id: u64,
        fields: Fields,
        fault: Fault,
        if_match: Option<IfMatch>,
    },
    Patch {
        id: u64,
        fields: Fields,
        fault: Fault,
        if_match: Option<IfMatch>,
    },
    Delete {
        id: u64,
        if_match: Option<IfMatch>,
    },
    Options {
        target: String,
    },
    /// A method a route does not list, or any method on a path that is not a route.
    Other {
        method: String,
        target: String,
    },
    MaintenanceOn {
        body: Value,
    },
    MaintenanceOff,
}

impl Op {
    fn method(&self) -> &str {
        match self {
            Op::List { head: true } | Op::Read { head: true, .. } => "HEAD",
            Op::List { .. } | Op::Read { .. } => "GET",
            Op::Create { .. } => "POST",
            Op::Put { .. } | Op::MaintenanceOn { .. } => "PUT",
            Op::Patch { .. } => "PATCH",
            Op::Delete { .. } | Op::MaintenanceOff => "DELETE",
            Op::Options { .. } => "OPTIONS",
            Op::Other { method, .. } => method,
        }
    }

    fn target(&self) -> String {
        match self {
            Op::List { .. } | Op::Create { .. } => "/notes".to_string(),
            Op::Read { id, .. }
            | Op::Put { id, .. }
            | Op::Patch { id, .. }
            | Op::Delete { id, .. } => format!("/notes/{id}"),
            Op::Options { target } | Op::Other { target, .. } => target.clone(),
            Op::MaintenanceOn { .. } | Op::MaintenanceOff => "/maintenance".to_string(),
        }
    }

    /// Content type, body bytes and If-Match of the request.
    fn parts(&self) -> (Option<String>, Option<Vec<u8>>, Option<&IfMatch>) {
        let with_body = |fields: Value, fault: &Fault, media: &str| match fault {
            Fault::None => (
                Some(media.to_string()),
                Some(fields.to_string().into_bytes()),
            ),
            Fault::Media(other) => (Some(other.clone()), Some(fields.to_string().into_bytes())),
            Fault::Raw(bytes) => (Some(media.to_string()), Some(bytes.clone())),
        };
        match self {
            Op::Create { fields, fault } => {
                let (media, body) = with_body(fields.to_json(), fault, JSON);
                (media, body, None)
            }
            Op::Put {
                fields,
                fault,
                if_match,
                ..
            } => {
                let (media, body) = with_body(fields.to_json(), fault, JSON);
                (media, body, if_match.as_ref())
            }
            Op::Patch {
                fields,
                fault,
                if_match,
                ..
            } => {
                let (media, body) = with_body(fields.to_json(), fault, MERGE_PATCH);
                (media, body, if_match.as_ref())
            }
            Op::Delete { if_match, .. } => (None, None, if_match.as_ref()),
            Op::MaintenanceOn { body } => (
                Some(JSON.to_string()),
                Some(body.to_string().into_bytes()),
                None,
            ),
            _ => (None, None, None),
        }
    }

    /// The request on the wire.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.method(), &self.target());
        let (media, body, if_match) = self.parts();
        if let Some(media) = media {
            request = request.header("Content-Type", &media);
        }
        if let Some(if_match) = if_match {
            request = request.header("If-Match", &if_match.value());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request
    }

    /// The request in one line, for reports.
    pub fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method(), self.target());
        let (media, body, if_match) = self.parts();
        if let Some(if_match) = if_match {
            line.push_str(&format!(" · If-Match: {}", if_match.value()));
        }
        if let Some(media) = media {
            line.push_str(&format!(" · Content-Type: {media}"));
        }
        if let Some(body) = body {
            line.push_str(&format!(" · {}", String::from_utf8_lossy(&body)));
        }
        line
    }
}

/// The body a response must have.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// This JSON value.
    Json(Value),
    /// None at all (204, or a response to HEAD).
    Empty,
    /// An error body: any JSON.
    Error,
}

/// What the contract says must come back.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub status: u16,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub allow: Option<&'static [&'static str]>,
    pub retry_after: Option<u64>,
    pub accept_patch: bool,
    pub body: Body,
    /// For HEAD: the `Content-Length` that GET would have sent.
    pub head_length: Option<usize>,
    /// The rule of the contract that decided this answer.
    pub why: &'static str,
}

impl Expected {
    fn new(status: u16, body: Body, why: &'static str) -> Expected {
        Expected {
            status,
            location: None,
            etag: None,
            allow: None,
            retry_after: None,
            accept_patch: false,
            body,
            head_length: None,
            why,
        }
    }

    fn error(status: u16, why: &'static str) -> Expected {
        Expected::new(status, Body::Error, why)
    }

    fn note(status: u16, note: &Note, why: &'static str) -> Expected {
        Expected {
            etag: Some(note.etag()),
            ..Expected::new(status, Body::Json(note.json()), why)
        }
    }

    /// For HEAD: the same status and headers, the `Content-Length` GET would send (`length`), and no body.
    fn for_head(mut self, head: bool, length: usize) -> Expected {
        if head && self.status == 200 {
            self.head_length = Some(length);
            self.body = Body::Empty;
        }
        self
    }

    /// The expectation in one line, for reports.
    pub fn describe(&self) -> String {
        let mut line = format!("{}", self.status);
        if let Some(location) = &self.location {
            line.push_str(&format!(" · Location: {location}"));
        }
        if let Some(etag) = &self.etag {
            line.push_str(&format!(" · ETag: {etag}"));
        }
        if let Some(allow) = self.allow {
            line.push_str(&format!(" · Allow: {} (any order)", allow.join(", ")));
        }
        if let Some(seconds) = self.retry_after {
            line.push_str(&format!(" · Retry-After: {seconds}"));
        }
        if self.accept_patch {
            line.push_str(&format!(" · Accept-Patch: {MERGE_PATCH}"));
        }
        if let Some(length) = self.head_length {
            line.push_str(&format!(" · Content-Length: {length} · no body"));
        }
        match &self.body {
            Body::Json(value) => line.push_str(&format!(" · body {value}")),
            Body::Empty if self.head_length.is_none() => line.push_str(" · no body"),
            _ => {}
        }
        line
    }
}

/// The store as the contract sees it.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub notes: BTreeMap<u64, Note>,
    pub highest_id: u64,
    pub retry_after: Option<u64>,
    /// Every ETag each id has had, to send stale ones.
    pub history: BTreeMap<u64, BTreeSet<String>>,
}

/// The route of a path, as the contract defines it.
fn route(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "/notes" => Some(COLLECTION),
        "/maintenance" => Some(MAINTENANCE),
        _ => {
            let id = path.strip_prefix("/notes/")?;
            let canonical =
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
            (canonical && id.parse::<u64>().is_ok()).then_some(ITEM)
        }
    }
}

fn media(text: &str) -> String {
    text.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl Model {
    /// The list body, exactly as GET /notes sends it.
    fn list_repr(&self) -> String {
        let notes: Vec<String> = self.notes.values().map(Note::repr).collect();
        format!("[{}]", notes.join(","))
    }

    fn remember(&mut self, note: &Note) {
        self.history.entry(note.id).or_default().insert(note.etag());
    }

    /// An ETag `id` had once and does not have now, if any.
    pub fn stale_etag(&self, id: u64) -> Option<String> {
        let current = self.notes.get(&id).map(Note::etag);
        self.history
            .get(&id)?
            .iter()
            .find(|tag| Some(*tag) != current.as_ref())
            .cloned()
    }

    /// The checks on a body, in order: 415, 400, then 422 when `valid` is false.
    fn body_checks(fault: &Fault, wanted: &str, valid: bool) -> Option<Expected> {
        match fault {
            Fault::Media(sent) if media(sent) != wanted => {
                let mut expected = Expected::error(
                    415,
                    "a body of another media type is 415 Unsupported Media Type (the media type is compared \
                     without parameters, ignoring case)",
                );
                if wanted == MERGE_PATCH {
                    expected.accept_patch = true;
                    expected.why = "PATCH takes application/merge-patch+json only: 415, with `Accept-Patch: \
                                    application/merge-patch+json` saying what it does take";
                }
                Some(expected)
            }
            Fault::Raw(_) => Some(Expected::error(
                400,
                "a body that is not a JSON object is 400 Bad Request",
            )),
            _ if !valid => Some(Expected::error(
                422,
                "JSON that breaks the rules of the fields (title a non-empty string, body a string, no other \
                 field) is 422 Unprocessable Content",
            )),
            _ => None,
        }
    }

    /// 412 unless `If-Match` is absent or matches the current note.
    fn precondition(if_match: &Option<IfMatch>, current: Option<&Note>) -> Option<Expected> {
        let if_match = if_match.as_ref()?;
        let matches = current.is_some_and(|note| match if_match {
            IfMatch::Star => true,
            IfMatch::Tags(tags) => tags.contains(&note.etag()),
        });
        (!matches).then(|| {
            Expected::error(
                412,
                "If-Match names no ETag the note has now (or the note does not exist): 412 Precondition Failed, \
                 and nothing changes",
            )
        })
    }

    fn title_taken(&self, title: &str, except: u64) -> bool {
        self.notes
            .values()
            .any(|note| note.id != except && note.title == title)
    }

    /// The answer to `op`, updating the model when the request succeeds.
    pub fn apply(&mut self, op: &Op) -> Expected {
        let target = op.target();
        if let Some(seconds) = self.retry_after
            && target != "/maintenance"
        {
            return Expected {
                retry_after: Some(seconds),
                ..Expected::error(
                    503,
                    "in maintenance every request outside /maintenance is 503 with Retry-After, before any other \
                     check",
                )
            };
        }
        let Some(allowed) = route(&target) else {
            return Expected::error(
                404,
                "a path that is no route is 404 (strict: no trailing slash, no leading zero, no id 0)",
            );
        };
        if !allowed.contains(&op.method()) {
            return Expected {
                allow: Some(allowed),
                ..Expected::error(
                    405,
                    "a method the route does not list is 405 Method Not Allowed, with `Allow` listing the route's \
                     methods (the path exists, so not 404)",
                )
            };
        }
        match op {
            Op::Options { .. } => Expected {
                allow: Some(allowed),
                ..Expected::new(
                    204,
                    Body::Empty,
                    "OPTIONS is 204 with `Allow` listing the route's methods",
                )
            },
            Op::Other { .. } => {
                unreachable!("`Other` is only generated for methods a route does not list")
            }
            Op::List { head } => Expected::new(
                200,
                Body::Json(serde_json::from_str(&self.list_repr()).expect("JSON")),
                "GET /notes lists every note by id",
            )
            .for_head(*head, self.list_repr().len()),
            Op::Read { id, head } => match self.notes.get(id) {
                Some(note) => Expected::note(
                    200,
                    note,
                    "GET /notes/{id} is 200 with the note and its ETag",
                )
                .for_head(*head, note.repr().len()),
                None => Expected::error(404, "a note that does not exist is 404"),
            },
            Op::Create { fields, fault } => {
                let whole = fields.whole();
                if let Some(refusal) = Model::body_checks(fault, JSON, whole.is_some()) {
                    return refusal;
                }
                let (title, body) = whole.expect("checked");
                let id = self.highest_id + 1;
                if self.title_taken(&title, id) {
                    return Expected::error(409, "a title another note has is 409 Conflict");
                }
                let note = Note { id, title, body };
                let expected = Expected {
                    location: Some(format!("/notes/{id}")),
                    ..Expected::note(
                        201,
                        &note,
                        "POST creates a note: 201 with `Location: /notes/{id}` (one more than the highest id ever \
                         used), its ETag and the note",
                    )
                };
                self.highest_id = id;
                self.remember(&note);
                self.notes.insert(id, note);
                expected
            }
            Op::Put {
                id,
                fields,
                fault,
                if_match,
            } => {
                let whole = fields.whole();
                if let Some(refusal) = Model::body_checks(fault, JSON, whole.is_some()) {
                    return refusal;
                }
                if let Some(refusal) = Model::precondition(if_match, self.notes.get(id)) {
                    return refusal;
                }
                let (title, body) = whole.expect("checked");
                if self.title_taken(&title, *id) {
                    return Expected::error(409, "a title another note has is 409 Conflict");
                }
                let note = Note {
                    id: *id,
                    title,
                    body,
                };
                let expected = if self.notes.contains_key(id) {
                    Expected::note(
                        200,
                        &note,
                        "PUT replaces the whole note (a field left out is removed): 200 with the new note and ETag",
                    )
                } else {
                    self.highest_id = self.highest_id.max(*id);
                    Expected {
                        location: Some(format!("/notes/{id}")),
                        ..Expected::note(
                            201,
                            &note,
                            "PUT to a note that does not exist creates it: 201 with Location",
                        )
                    }
                };
                self.remember(&note);
                self.notes.insert(*id, note);
                expected
            }
            Op::Patch {
                id,
                fields,
                fault,
                if_match,
            } => {
                if let Some(refusal) =
                    Model::body_checks(fault, MERGE_PATCH, fields.is_valid_patch())
                {
                    return refusal;
                }
                let Some(current) = self.notes.get(id) else {
                    return Expected::error(404, "a note that does not exist is 404");
                };
                if let Some(refusal) = Model::precondition(if_match, Some(current)) {
                    return refusal;
                }
                let patched = fields.apply_to(current);
                if self.title_taken(&patched.title, *id) {
                    return Expected::error(409, "a title another note has is 409 Conflict");
                }
                let expected = Expected::note(
                    200,
                    &patched,
                    "PATCH merges: an absent field stays, null removes it, a value replaces it",
                );
                self.remember(&patched);
                self.notes.insert(*id, patched);
                expected
            }
            Op::Delete { id, if_match } => {
                let Some(current) = self.notes.get(id) else {
                    return Expected::error(
                        404,
                        "a note that does not exist is 404, also for a DELETE sent twice (the state is the same: \
                         DELETE is idempotent, its answer need not be)",
                    );
                };
                if let Some(refusal) = Model::precondition(if_match, Some(current)) {
                    return refusal;
                }
                self.notes.remove(id);
                Expected::new(204, Body::Empty, "DELETE is 204 No Content")
            }
            Op::MaintenanceOn { body } => {
                let fields = body.as_object();
                let seconds = fields
                    .filter(|fields| fields.len() == 1)
                    .and_then(|fields| fields.get("retry_after"))
                    .and_then(Value::as_u64)
                    .filter(|&seconds| seconds >= 1);
                match seconds {
                    Some(seconds) => {
                        self.retry_after = Some(seconds);
                        Expected::new(204, Body::Empty, "PUT /maintenance starts maintenance: 204")
                    }
                    None => Expected::error(
                        422,
                        "PUT /maintenance needs {\"retry_after\": N} with N ≥ 1: 422",
                    ),
                }
            }
            Op::MaintenanceOff => {
                self.retry_after = None;
                Expected::new(
                    204,
                    Body::Empty,
                    "DELETE /maintenance ends maintenance: 204",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The ETag is FNV-1a 64 of the representation, as the exercise's provided `etag` computes it.
    #[test]
    fn etag_is_fnv1a_of_the_representation() {
        let note = Note {
            id: 1,
            title: "a".to_string(),
            body: None,
        };
        assert_eq!(note.repr(), r#"{"id":1,"title":"a"}"#);
        assert_eq!(note.etag(), "\"34d7685bab6792fc\"");
    }

    // The model follows the contract's order: a stale If-Match is 412 before a title conflict is 409, and a
    // second DELETE is 404.
    #[test]
    fn follows_the_contract() {
        let mut model = Model::default();
        let create = |title: &str| Op::Create {
            fields: Fields::note(title, None),
            fault: Fault::None,
        };
        assert_eq!(model.apply(&create("a")).status, 201);
        let stale = model.notes[&1].etag();
        assert_eq!(model.apply(&create("b")).status, 201);
        let put = |if_match| Op::Put {
            id: 1,
            fields: Fields::note("a", Some("x")),
            fault: Fault::None,
            if_match,
        };
        assert_eq!(model.apply(&put(None)).status, 200);
        let conflicting = Op::Put {
            id: 2,
            fields: Fields::note("a", None),
            fault: Fault::None,
            if_match: Some(IfMatch::Tags(vec![stale])),
        };
        assert_eq!(model.apply(&conflicting).status, 412);
        let delete = Op::Delete {
            id: 2,
            if_match: None,
        };
        assert_eq!(model.apply(&delete).status, 204);
        assert_eq!(model.apply(&delete).status, 404);
        assert_eq!(
            model.apply(&create("c")).location.as_deref(),
            Some("/notes/3")
        );
    }
}
