//! # Methods and status codes: one resource, done properly
//!
//! An HTTP API is a set of resources (`/notes`, `/notes/7`) and a small, fixed vocabulary of methods. The
//! methods carry promises that clients, proxies and retry logic rely on without asking you:
//!
//! - **Safe** (`GET`, `HEAD`, `OPTIONS`): they change nothing, so crawlers, prefetchers and caches call them freely.
//! - **Idempotent** (the safe ones, `PUT`, `DELETE`): doing it twice leaves the server as doing it once, so a
//!   client whose connection dropped before the answer can simply send it again. `POST` and `PATCH` promise
//!   nothing of the kind: a retried `POST` may create a second order.
//! - **`PUT` replaces, `PATCH` modifies**: `PUT` sends the whole new state (a field left out is gone);
//!   a JSON merge patch (RFC 7396) sends only changes, where an absent field stays, `null` removes and a value
//!   replaces. Those three cases are exactly what `Option<Option<T>>` would model in Rust.
//!
//! The status code is the other half of the contract. `201 Created` with a `Location` says where the new thing
//! lives; `204 No Content` says "done, nothing to show"; `404` says the resource is not there while `405` says
//! it is there but does not do that, and must list what it does do in `Allow`; `400` is unreadable input and `422`
//! readable input that breaks the rules; `409` conflicts with the current state; `412` refuses a write made from
//! a stale copy; `503` with `Retry-After` tells every client when to come back.
//!
//! ## Why this matters in production
//!
//! Clients are written against these codes. A `200` for a failed write hides the failure from every retry
//! library and dashboard; a `500` for bad input pages an engineer for a client's mistake; a `POST` that answers
//! `200` without a `Location` leaves the client unable to find what it made. Optimistic concurrency
//! (`ETag` + `If-Match` → `412`) is how two editors avoid the lost update, where the second save silently
//! erases the first.
//!
//! ## The contract (what the grader checks)
//!
//! The server around [`handle`] is provided (keep-alive, framing, `HEAD` without a body, `204` without a
//! `Content-Length`); requests and responses are `backlings_harness::http::{Request, Response}`:
//! `request.method`, `request.path()`, `request.header(name)` (case-insensitive), `request.body`, and
//! `Response::new(status).with_header(name, value).with_body(bytes)`. The helpers [`note_response`],
//! [`problem`] and [`media_type`] build the usual answers.
//!
//! A note is `{"id":N,"title":"…","body":"…"}` (`body` omitted when the note has none), written by
//! [`Note::to_json`]; its `ETag` is [`etag`]. JSON responses have `Content-Type: application/json`.
//!
//! | route | methods (`Allow`) | |
//! |---|---|---|
//! | `/notes` | `GET, HEAD, POST, OPTIONS` | the collection |
//! | `/notes/{id}` | `GET, HEAD, PUT, PATCH, DELETE, OPTIONS` | `id`: decimal digits, no leading zero, not 0 |
//! | `/maintenance` | `PUT, DELETE, OPTIONS` | maintenance mode |
//!
//! Any other path is **404**: the trailing-slash policy is strict, `/notes/` is not `/notes`, and `/notes/01` is
//! not `/notes/1`. A method a route does not list (any method, even an unknown one) is **405** with `Allow:`
//! the route's methods (comma-separated, in any order). `OPTIONS` answers **204** with that `Allow`.
//!
//! - `GET /notes` → 200, the notes by id as a JSON array. `HEAD` of any `GET` route: the same status and headers
//!   (the provided server sends no body).
//! - `POST /notes` → **201** with `Location: /notes/{id}`, `ETag` and the note. The id is one more than the
//!   highest id ever used (by `POST` or `PUT`): ids are never reused, even after a `DELETE`.
//! - `GET /notes/{id}` → 200 with `ETag` and the note, or 404.
//! - `PUT /notes/{id}` → the body is the whole note: it replaces the note (**200**, `ETag`, the note) or, if
//!   there is none, creates it at that id (**201** with `Location`). A field left out is not kept.
//! - `PATCH /notes/{id}` → merge patch: an absent field is unchanged, `null` removes `body`, a value replaces.
//!   **200** with `ETag` and the note.
//! - `DELETE /notes/{id}` → **204**; a note that is not there (a second `DELETE`) is 404.
//! - `PUT /maintenance` with `{"retry_after":N}` (N ≥ 1) → 204; from then on every request to another path is
//!   **503** with `Retry-After: N`, until `DELETE /maintenance` (→ 204, also when not in maintenance).
//! - Bodies: `POST` and `PUT` need `Content-Type: application/json`, `PATCH` needs
//!   `application/merge-patch+json` (parameters such as `; charset=utf-8` are fine, case does not matter), else
//!   **415** (for `PATCH` with `Accept-Patch: application/merge-patch+json`). A body that is not a JSON object is
//!   **400**. `POST`/`PUT`: `title` is required, a non-empty string; `body` is an optional string; any other
//!   field (even `id`) is **422**. `PATCH`: `title` must be a non-empty string when present (not `null`),
//!   `body` a string or `null`, nothing else (**422**). `PUT /maintenance`: `retry_after` a whole number ≥ 1,
//!   nothing else (**422**).
//! - `If-Match` on `PUT`, `PATCH` or `DELETE`: `*` or a comma-separated list of ETags. The write happens only if
//!   the note exists and (for a list) its current ETag is in the list; otherwise **412** and nothing changes.
//! - Titles are unique: a write that would give a note the title of *another* note is **409**.
//! - Checks happen in this order, the first failing one answers: 503, 404 (path), 405, 415, 400, 422, 404 (no
//!   such note, for `GET`, `HEAD`, `PATCH`, `DELETE`), 412, 409. Error bodies are `{"error":"…"}`.
//!
//! ## Pitfalls
//!
//! - `HEAD` and `OPTIONS` belong in every `Allow`: a `405` that forgets them lies to the client.
//! - `POST /notes/5` is 405, not 404: the path exists, the method does not.
//! - `PUT` is not a merge: a field the client left out is removed.
//! - With `serde_json`, "absent" and `null` are different: `map.get("body")` is `None` for absent and
//!   `Some(Value::Null)` for `null`.
//! - Check `If-Match` before changing anything, and change nothing when any check fails.
//!
//! Roadmap: HTTP methods & REST semantics, idempotency [000][001 §1.5][002][004]; status code strategy
//! [001 §1.7][002]; response headers (`Location`) [001 §1.4].

use std::collections::BTreeMap;
use std::io::{self, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use backlings_harness::http::{Request, Response, read_request, reason};
use serde_json::{Map, Value};

/// The media type of JSON bodies.
pub const JSON: &str = "application/json";
/// The media type of a JSON merge patch (RFC 7396).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// One note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
}

impl Note {
    /// Provided: the note's representation, `{"id":1,"title":"…","body":"…"}`, keys in this order.
    pub fn to_json(&self) -> String {
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
}

/// Provided: the note's `ETag`, `"` + the FNV-1a 64 hash of its representation in 16 hex digits + `"`. Equal
/// notes have equal tags, so replaying a `PUT` keeps the tag.
pub fn etag(note: &Note) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in note.to_json().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

/// Everything the server knows.
#[derive(Debug, Default)]
pub struct Store {
    /// The notes by id.
    pub notes: BTreeMap<u64, Note>,
    /// The highest id ever used; the next `POST` gets one more.
    pub highest_id: u64,
    /// `Some(seconds)` while in maintenance.
    pub retry_after: Option<u64>,
}

/// Provided: a JSON response holding `note`, with its `ETag`.
pub fn note_response(status: u16, note: &Note) -> Response {
    Response::new(status)
        .with_header("Content-Type", JSON)
        .with_header("ETag", etag(note))
        .with_body(note.to_json())
}

/// Provided: an error response, `{"error":"<message>"}`.
pub fn problem(status: u16, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    Response::new(status)
        .with_header("Content-Type", JSON)
        .with_body(body)
}

/// Provided: the request's media type, lowercase and without parameters (`application/json` for
/// `Application/JSON; charset=utf-8`); empty when there is no `Content-Type`.
pub fn media_type(request: &Request) -> String {
    request
        .header("content-type")
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/notes`
    Collection,
    /// `/notes/{id}`
    Item(u64),
    /// `/maintenance`
    Maintenance,
}

/// The route of a path, or `None` (404).
pub fn route(path: &str) -> Option<Route> {
    match path {
        "/notes" => Some(Route::Collection),
        "/maintenance" => Some(Route::Maintenance),
        _ => {
            let id = path.strip_prefix("/notes/")?;
            let canonical =
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
            if !canonical {
                return None;
            }
            id.parse().ok().map(Route::Item)
        }
    }
}

/// The methods a route answers, for `Allow`.
pub fn allowed_methods(route: Route) -> &'static [&'static str] {
    match route {
        Route::Collection => &["GET", "HEAD", "POST", "OPTIONS"],
        Route::Item(_) => &["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"],
        Route::Maintenance => &["PUT", "DELETE", "OPTIONS"],
    }
}

/// Answers one request (the whole table of the contract), changing `store` only when the request succeeds.
pub fn handle(store: &mut Store, request: &Request) -> Response {
    let path = request.path();
    if let Some(seconds) = store.retry_after
        && path != "/maintenance"
    {
        return problem(503, "down for maintenance").with_header("Retry-After", seconds);
    }
    let Some(route) = route(path) else {
        return problem(404, "no such resource");
    };
    let allowed = allowed_methods(route);
    let method = request.method.as_str();
    if !allowed.contains(&method) {
        return problem(405, "method not allowed here").with_header("Allow", allowed.join(", "));
    }
    let outcome = match (route, method) {
        (_, "OPTIONS") => Ok(Response::new(204).with_header("Allow", allowed.join(", "))),
        (Route::Collection, "POST") => create(store, request),
        (Route::Collection, _) => Ok(list(store)),
        (Route::Item(id), "GET" | "HEAD") => store
            .notes
            .get(&id)
            .map(|note| note_response(200, note))
            .ok_or_else(|| problem(404, "no such note")),
        (Route::Item(id), "PUT") => replace(store, id, request),
        (Route::Item(id), "PATCH") => patch(store, id, request),
        (Route::Item(id), _) => delete(store, id, request),
        (Route::Maintenance, "PUT") => start_maintenance(store, request),
        (Route::Maintenance, _) => {
            store.retry_after = None;
            Ok(Response::new(204))
        }
    };
    outcome.unwrap_or_else(|refusal| refusal)
}

/// Provided: `GET /notes`, every note by id.
fn list(store: &Store) -> Response {
    let notes: Vec<String> = store.notes.values().map(Note::to_json).collect();
    Response::new(200)
        .with_header("Content-Type", JSON)
        .with_body(format!("[{}]", notes.join(",")))
}

/// The body as a JSON object: 415 for another media type, 400 for anything but a JSON object.
pub fn read_object(request: &Request, media: &str) -> Result<Map<String, Value>, Response> {
    if media_type(request) != media {
        let refusal = problem(415, &format!("send {media}"));
        return Err(if media == MERGE_PATCH {
            refusal.with_header("Accept-Patch", MERGE_PATCH)
        } else {
            refusal
        });
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(problem(400, "the body is not a JSON object")),
    }
}

/// The title and body of a whole note (`POST`, `PUT`): 422 unless the rules hold.
pub fn full_note(fields: &Map<String, Value>) -> Result<(String, Option<String>), Response> {
    if let Some(name) = fields
        .keys()
        .find(|name| !["title", "body"].contains(&name.as_str()))
    {
        return Err(problem(422, &format!("unknown field `{name}`")));
    }
    let title = match fields.get("title") {
        Some(Value::String(title)) if !title.is_empty() => title.clone(),
        _ => return Err(problem(422, "`title` must be a non-empty string")),
    };
    let body = match fields.get("body") {
        None => None,
        Some(Value::String(body)) => Some(body.clone()),
        Some(_) => return Err(problem(422, "`body` must be a string")),
    };
    Ok((title, body))
}

/// Checks a merge patch: 422 unless every field is allowed and of the right type.
pub fn check_patch(fields: &Map<String, Value>) -> Result<(), Response> {
    for (name, value) in fields {
        let fine = match name.as_str() {
            "title" => matches!(value, Value::String(title) if !title.is_empty()),
            "body" => matches!(value, Value::String(_) | Value::Null),
            _ => false,
        };
        if !fine {
            return Err(problem(422, &format!("`{name}` cannot be set to {value}")));
        }
    }
    Ok(())
}

/// Applies a checked merge patch: absent fields stay, `null` removes, a value replaces.
pub fn merge_patch(note: &Note, fields: &Map<String, Value>) -> Note {
    let mut patched = note.clone();
    if let Some(Value::String(title)) = fields.get("title") {
        patched.title = title.clone();
    }
    match fields.get("body") {
        Some(Value::String(body)) => patched.body = Some(body.clone()),
        Some(Value::Null) => patched.body = None,
        _ => {}
    }
    patched
}

/// `If-Match`: passes without the header; with it, only if the note exists and matches (412 otherwise).
pub fn check_if_match(request: &Request, current: Option<&Note>) -> Result<(), Response> {
    let Some(wanted) = request.header("if-match") else {
        return Ok(());
    };
    let matches = current.is_some_and(|note| {
        let tag = etag(note);
        wanted
            .split(',')
            .any(|candidate| candidate.trim() == "*" || candidate.trim() == tag)
    });
    if matches {
        Ok(())
    } else {
        Err(problem(412, "the note has changed since you read it"))
    }
}

/// Provided: whether a note other than `except` has this title.
fn title_taken(store: &Store, title: &str, except: u64) -> bool {
    store
        .notes
        .values()
        .any(|note| note.id != except && note.title == title)
}

/// `POST /notes`.
fn create(store: &mut Store, request: &Request) -> Result<Response, Response> {
    let fields = read_object(request, JSON)?;
    let (title, body) = full_note(&fields)?;
    let id = store.highest_id + 1;
    if title_taken(store, &title, id) {
        return Err(problem(409, "another note has this title"));
    }
    let note = Note { id, title, body };
    let response = note_response(201, &note).with_header("Location", format!("/notes/{id}"));
    store.highest_id = id;
    store.notes.insert(id, note);
    Ok(response)
}

/// `PUT /notes/{id}`: replace, or create at that id.
fn replace(store: &mut Store, id: u64, request: &Request) -> Result<Response, Response> {
    let fields = read_object(request, JSON)?;
    let (title, body) = full_note(&fields)?;
    let existed = store.notes.contains_key(&id);
    check_if_match(request, store.notes.get(&id))?;
    if title_taken(store, &title, id) {
        return Err(problem(409, "another note has this title"));
    }
    let note = Note { id, title, body };
    let response = if existed {
        note_response(200, &note)
    } else {
        store.highest_id = store.highest_id.max(id);
        note_response(201, &note).with_header("Location", format!("/notes/{id}"))
    };
    store.notes.insert(id, note);
    Ok(response)
}

/// `PATCH /notes/{id}`: a merge patch.
fn patch(store: &mut Store, id: u64, request: &Request) -> Result<Response, Response> {
    let fields = read_object(request, MERGE_PATCH)?;
    check_patch(&fields)?;
    let note = store
        .notes
        .get(&id)
        .ok_or_else(|| problem(404, "no such note"))?;
    check_if_match(request, Some(note))?;
    let patched = merge_patch(note, &fields);
    if title_taken(store, &patched.title, id) {
        return Err(problem(409, "another note has this title"));
    }
    let response = note_response(200, &patched);
    store.notes.insert(id, patched);
    Ok(response)
}

/// `DELETE /notes/{id}`.
fn delete(store: &mut Store, id: u64, request: &Request) -> Result<Response, Response> {
    let note = store
        .notes
        .get(&id)
        .ok_or_else(|| problem(404, "no such note"))?;
    check_if_match(request, Some(note))?;
    store.notes.remove(&id);
    Ok(Response::new(204))
}

/// `PUT /maintenance`.
fn start_maintenance(store: &mut Store, request: &Request) -> Result<Response, Response> {
    let fields = read_object(request, JSON)?;
    let seconds = match fields.get("retry_after").and_then(Value::as_u64) {
        Some(seconds) if seconds >= 1 && fields.len() == 1 => seconds,
        _ => return Err(problem(422, "send {\"retry_after\": <seconds ≥ 1>}")),
    };
    store.retry_after = Some(seconds);
    Ok(Response::new(204))
}

/// Provided: writes a response. A response to `HEAD` gets the headers only (its `Content-Length` is the body's
/// length); `204` and `304` get neither a body nor a `Content-Length`.
pub fn write_response(
    out: &mut impl Write,
    response: &Response,
    head: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("connection")
        {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let bodiless = matches!(response.status, 204 | 304);
    if !bodiless {
        text.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if !keep_alive {
        text.push_str("Connection: close\r\n");
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    if !head && !bodiless {
        bytes.extend_from_slice(&response.body);
    }
    out.write_all(&bytes)?;
    out.flush()
}

/// Provided: serves one keep-alive connection with [`handle`].
fn serve_connection(stream: TcpStream, store: &Mutex<Store>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader) {
            Ok(request) => request,
            Err(error) => {
                if let Some(response) = error.response() {
                    write_response(&mut writer, &response, false, false)?;
                }
                return Ok(());
            }
        };
        let keep_alive = request.keeps_alive();
        let response = {
            let mut store = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            handle(&mut store, &request)
        };
        write_response(&mut writer, &response, request.method == "HEAD", keep_alive)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Provided: you do not need to change this. Binds a free port on loopback, tells the grader where it is, and
/// serves every connection on its own thread, all sharing one store.
fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    io::stdout().flush()?;
    let store = Arc::new(Mutex::new(Store::default()));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let store = Arc::clone(&store);
        thread::spawn(move || {
            if let Err(error) = serve_connection(stream, &store) {
                eprintln!("connection failed: {error}");
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        read_request(&mut Cursor::new(raw.into_bytes())).unwrap()
    }

    fn call(store: &mut Store, method: &str, target: &str, body: &str) -> Response {
        let media = if method == "PATCH" { MERGE_PATCH } else { JSON };
        handle(
            store,
            &request(method, target, &[("Content-Type", media)], body),
        )
    }

    fn json(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    // POST creates with 201 and a Location; GET reads the note back with the same ETag.
    #[test]
    fn creates_and_reads_a_note() {
        let mut store = Store::default();
        let created = call(&mut store, "POST", "/notes", r#"{"title":"a","body":"b"}"#);
        assert_eq!(created.status, 201);
        assert_eq!(created.header("location"), Some("/notes/1"));
        let read = call(&mut store, "GET", "/notes/1", "");
        assert_eq!(read.status, 200);
        assert_eq!(
            json(&read),
            serde_json::json!({"id": 1, "title": "a", "body": "b"})
        );
        assert_eq!(read.header("etag"), created.header("etag"));
    }

    // 404 for a path that is not a route, 405 with Allow for a method the route lacks.
    #[test]
    fn tells_404_from_405() {
        let mut store = Store::default();
        assert_eq!(call(&mut store, "GET", "/notes/", "").status, 404);
        assert_eq!(call(&mut store, "GET", "/notes/01", "").status, 404);
        let refused = call(&mut store, "DELETE", "/notes", "");
        assert_eq!(refused.status, 405);
        assert_eq!(refused.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
        assert_eq!(call(&mut store, "POST", "/notes/9", "{}").status, 405);
        let options = call(&mut store, "OPTIONS", "/notes/9", "");
        assert_eq!(options.status, 204);
        assert!(options.header("allow").unwrap().contains("PATCH"));
    }

    // PUT replaces the whole note; PATCH keeps absent fields, removes null ones, replaces the rest.
    #[test]
    fn put_replaces_and_patch_merges() {
        let mut store = Store::default();
        assert_eq!(
            call(&mut store, "PUT", "/notes/4", r#"{"title":"t","body":"b"}"#).status,
            201
        );
        let replaced = call(&mut store, "PUT", "/notes/4", r#"{"title":"u"}"#);
        assert_eq!(json(&replaced), serde_json::json!({"id": 4, "title": "u"}));
        let patched = call(&mut store, "PATCH", "/notes/4", r#"{"body":"new"}"#);
        assert_eq!(
            json(&patched),
            serde_json::json!({"id": 4, "title": "u", "body": "new"})
        );
        let patched = call(&mut store, "PATCH", "/notes/4", r#"{"body":null}"#);
        assert_eq!(json(&patched), serde_json::json!({"id": 4, "title": "u"}));
        assert_eq!(
            call(&mut store, "POST", "/notes", r#"{"title":"v"}"#).header("location"),
            Some("/notes/5")
        );
    }

    // 415, 400 and 422 tell a wrong media type, broken JSON and broken rules apart.
    #[test]
    fn classifies_bad_bodies() {
        let mut store = Store::default();
        let plain = request(
            "POST",
            "/notes",
            &[("Content-Type", "text/plain")],
            r#"{"title":"a"}"#,
        );
        assert_eq!(handle(&mut store, &plain).status, 415);
        assert_eq!(call(&mut store, "POST", "/notes", "{oops").status, 400);
        assert_eq!(
            call(&mut store, "POST", "/notes", r#"{"title":""}"#).status,
            422
        );
        assert_eq!(
            call(&mut store, "POST", "/notes", r#"{"title":"a","id":3}"#).status,
            422
        );
        let patch = request("PATCH", "/notes/1", &[("Content-Type", JSON)], "{}");
        let refused = handle(&mut store, &patch);
        assert_eq!(refused.status, 415);
        assert_eq!(refused.header("accept-patch"), Some(MERGE_PATCH));
    }

    // A stale If-Match is 412 and changes nothing; a duplicate title is 409; DELETE twice is 204 then 404.
    #[test]
    fn refuses_stale_and_conflicting_writes() {
        let mut store = Store::default();
        let first = call(&mut store, "POST", "/notes", r#"{"title":"a"}"#);
        let stale = first.header("etag").unwrap().to_string();
        call(&mut store, "PATCH", "/notes/1", r#"{"body":"x"}"#);
        let write = request(
            "PUT",
            "/notes/1",
            &[("Content-Type", JSON), ("If-Match", &stale)],
            r#"{"title":"b"}"#,
        );
        assert_eq!(handle(&mut store, &write).status, 412);
        assert_eq!(store.notes[&1].title, "a");
        call(&mut store, "POST", "/notes", r#"{"title":"c"}"#);
        assert_eq!(
            call(&mut store, "PATCH", "/notes/2", r#"{"title":"a"}"#).status,
            409
        );
        assert_eq!(call(&mut store, "DELETE", "/notes/2", "").status, 204);
        assert_eq!(call(&mut store, "DELETE", "/notes/2", "").status, 404);
    }

    // In maintenance everything but /maintenance is 503 with Retry-After.
    #[test]
    fn maintenance_answers_503() {
        let mut store = Store::default();
        assert_eq!(
            call(&mut store, "PUT", "/maintenance", r#"{"retry_after":30}"#).status,
            204
        );
        let refused = call(&mut store, "GET", "/notes", "");
        assert_eq!(refused.status, 503);
        assert_eq!(refused.header("retry-after"), Some("30"));
        assert_eq!(call(&mut store, "DELETE", "/maintenance", "").status, 204);
        assert_eq!(call(&mut store, "GET", "/notes", "").status, 200);
    }
}
