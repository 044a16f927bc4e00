//! mutant: answers 422 to a body that is not JSON at all (where 400 is due)
//! expect: 400 Bad Request
//!
//! A wrong solution of `http5_methods_status` (see `solutions/01_http/http5_methods_status.rs`); the grader must reject it.

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

/// `GET /notes`: every note, by id.
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
        // The mistake: every bad body is "unprocessable", readable or not.
        _ => Err(problem(422, "the body is not a JSON object")),
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

/// Whether a note other than `except` has this title.
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
