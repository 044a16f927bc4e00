//! # Missing, `null` and extra fields: PATCH, defaults, strict and lenient endpoints
//!
//! JSON has three ways to say something about a field, and an API that confuses them loses data:
//!
//! - **absent**: the key is not there. The client said nothing about the field.
//! - **`null`**: the key is there with no value. The client said "this field has no value".
//! - **a value**: the client said "this field is now this".
//!
//! For a `PATCH` (RFC 7396, JSON Merge Patch) the difference is the whole point: `{"nickname":null}` clears
//! the nickname, `{}` leaves it alone, `{"nickname":"ada"}` sets it. A server that reads a patch into an
//! `Option<String>` cannot tell the first two apart (both are `None`): either every patch that does not
//! mention the nickname wipes it, or no client can ever remove one. In Rust the honest type is
//! `Option<Option<String>>`: `None` = absent, `Some(None)` = null, `Some(Some(v))` = a value. Serde needs
//! one nudge to produce it: by default it turns `null` into the outer `None`, so the field takes
//! `#[serde(default, deserialize_with = "…")]` with a function that wraps whatever it reads in `Some`
//! (an absent field never calls it and gets the `default`, `None`).
//!
//! Creation has the same three cases with other meanings: absent means "use the default" (`role` becomes
//! `"member"`), `null` on a nullable field means "none", and `null` on a field that cannot be empty is an
//! error, not a default: a client that sends `"role": null` has a bug you want to hear about.
//!
//! **Extra fields**: a field the server does not know. Serde ignores them unless told otherwise, which is
//! dangerous on your own API: `{"nickame":"ada"}` (a typo) answers 200 and changes nothing, and the client
//! believes it worked. `#[serde(deny_unknown_fields)]` turns the typo into a 400 that names the field. On
//! the other side of the fence, a feed you *consume* from a partner will grow new fields without asking
//! you; refusing them would break the import on their next deploy. Be a *tolerant reader* there: ignore
//! unknown fields, but say which ones you ignored, so someone can notice.
//!
//! ## The contract (what the grader checks)
//!
//! A user, as every `200`/`201` returns it (every key always present, `null` for an empty nullable field):
//!
//! ```json
//! {"id":1,"name":"Ada","email":"ada@example.com","nickname":null,"phone":null,"role":"member","newsletter":false,"tags":[]}
//! ```
//!
//! | field | type | nullable | default when absent on create |
//! |---|---|---|---|
//! | `name`, `email` | string | no | required |
//! | `nickname`, `phone` | string | yes | `null` |
//! | `role` | string | no | `"member"` |
//! | `newsletter` | bool | no | `false` |
//! | `tags` | array of strings | no | `[]` |
//!
//! - `POST /users` (strict): creates a user → `201` with the user and `Location: /users/{id}`. An unknown
//!   field, a missing required field, a wrong type, or `null` on a field that is not nullable → `400`.
//! - `GET /users/{id}` → `200` with the user, `404` if there is none.
//! - `PATCH /users/{id}` (strict, merge-patch semantics): for each field, absent keeps it, a value sets it,
//!   `null` clears a nullable field; `null` on a field that is not nullable, an unknown field (`id`
//!   included: it is not writable) or a wrong type → `400`, and then **nothing** changes, not even the
//!   valid fields of the same patch. `200` with the updated user otherwise.
//! - `POST /import/users` (lenient, a partner feed): like `POST /users`, but unknown fields are ignored
//!   → `201` with `{"user":{…},"ignored":["a","b"]}`, the ignored top-level keys sorted. Types are still
//!   checked: a wrong type or a `null` on a field that is not nullable is still a `400`.
//! - A `400` has a JSON body `{"error":"…"}`. Its message names the offending field for an unknown field
//!   and a missing one (serde's own messages do), and for a `null` a PATCH may not set (your message).
//!
//! ## Pitfalls
//!
//! - `Option<T>` in a patch type: `null` and absent collapse. Use `Option<Option<T>>`, and put the
//!   `deserialize_with` on *every* patch field, the non-nullable ones included: that is how you see their
//!   `null` to refuse it.
//! - Applying a patch field by field and returning the error half way: the fields before the bad one are
//!   already changed. Check everything first, then change.
//! - `#[serde(default)]` on a non-nullable create field does not make it accept `null`: good, keep it so.
//! - Reusing the strict type for the lenient endpoint (or the other way round).
//!
//! Roadmap: serialization edge cases: missing and extra fields, null values; HTTP methods: PUT vs PATCH.

use std::collections::BTreeMap;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A stored user: what every `200` and `201` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub nickname: Option<String>,
    pub phone: Option<String>,
    pub role: String,
    pub newsletter: bool,
    pub tags: Vec<String>,
}

/// The body of `POST /users`: strict.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub newsletter: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The body of `POST /import/users`: the same fields, lenient about the others, which are kept to be
/// reported.
#[derive(Debug, Deserialize)]
pub struct ImportedUser {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub newsletter: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// The body of `PATCH /users/{id}`: `None` = absent, `Some(None)` = null, `Some(Some(v))` = a value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub newsletter: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Option<Vec<String>>>,
}

fn default_role() -> String {
    "member".to_string()
}

/// Called only for a key that is present: wraps its value (`null` included, as `None`) in `Some`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The new value of a field that cannot be null: unchanged when absent, an error for `null`.
fn required<T: Clone>(field: &str, patch: &Option<Option<T>>, current: &T) -> Result<T, String> {
    match patch {
        None => Ok(current.clone()),
        Some(Some(value)) => Ok(value.clone()),
        Some(None) => Err(format!("`{field}` cannot be null")),
    }
}

/// The new value of a nullable field: unchanged when absent, cleared by `null`.
fn nullable<T: Clone>(patch: &Option<Option<T>>, current: &Option<T>) -> Option<T> {
    match patch {
        None => current.clone(),
        Some(value) => value.clone(),
    }
}

impl User {
    /// A user made from a create body.
    pub fn create(id: u64, new: NewUser) -> User {
        User {
            id,
            name: new.name,
            email: new.email,
            nickname: new.nickname,
            phone: new.phone,
            role: new.role,
            newsletter: new.newsletter,
            tags: new.tags,
        }
    }

    /// A user made from an imported record, and the unknown keys it ignored, sorted.
    pub fn import(id: u64, imported: ImportedUser) -> (User, Vec<String>) {
        let ignored = imported.unknown.into_keys().collect();
        let user = User {
            id,
            name: imported.name,
            email: imported.email,
            nickname: imported.nickname,
            phone: imported.phone,
            role: imported.role,
            newsletter: imported.newsletter,
            tags: imported.tags,
        };
        (user, ignored)
    }

    /// Applies a merge patch: all of it, or (on an error) none of it.
    pub fn apply(&mut self, patch: &UserPatch) -> Result<(), String> {
        let updated = User {
            id: self.id,
            name: required("name", &patch.name, &self.name)?,
            email: required("email", &patch.email, &self.email)?,
            nickname: nullable(&patch.nickname, &self.nickname),
            phone: nullable(&patch.phone, &self.phone),
            role: required("role", &patch.role, &self.role)?,
            newsletter: required("newsletter", &patch.newsletter, &self.newsletter)?,
            tags: required("tags", &patch.tags, &self.tags)?,
        };
        *self = updated;
        Ok(())
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. The HTTP side: routing, the store, status codes.

/// Every user, by id, and the next id to give out.
#[derive(Default)]
struct Store {
    users: BTreeMap<u64, User>,
    next_id: u64,
}

/// The answer of the import: the user made, and the unknown keys it ignored.
#[derive(Serialize)]
struct Imported<'a> {
    user: &'a User,
    ignored: Vec<String>,
}

fn json_response(status: u16, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("a response body serializes");
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(bytes)
}

fn bad_request(why: impl std::fmt::Display) -> Response {
    json_response(400, &serde_json::json!({ "error": why.to_string() }))
}

fn handle(store: &Mutex<Store>, request: &Request) -> Response {
    // A handler that panicked (a `todo!()`) poisons the lock; the store itself is still consistent.
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    let path = request.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["users"]) => match serde_json::from_slice::<NewUser>(&request.body) {
            Ok(new) => {
                store.next_id += 1;
                let user = User::create(store.next_id, new);
                store.users.insert(user.id, user.clone());
                json_response(201, &user).with_header("Location", format!("/users/{}", user.id))
            }
            Err(e) => bad_request(e),
        },
        ("POST", ["import", "users"]) => {
            match serde_json::from_slice::<ImportedUser>(&request.body) {
                Ok(imported) => {
                    store.next_id += 1;
                    let (user, ignored) = User::import(store.next_id, imported);
                    store.users.insert(user.id, user.clone());
                    let body = Imported {
                        user: &user,
                        ignored,
                    };
                    json_response(201, &body).with_header("Location", format!("/users/{}", user.id))
                }
                Err(e) => bad_request(e),
            }
        }
        (method, ["users", id]) => {
            let Some(user) = id.parse().ok().and_then(|id: u64| store.users.get_mut(&id)) else {
                return json_response(404, &serde_json::json!({ "error": "no such user" }));
            };
            match method {
                "GET" => json_response(200, user),
                "PATCH" => match serde_json::from_slice::<UserPatch>(&request.body) {
                    Ok(patch) => match user.apply(&patch) {
                        Ok(()) => json_response(200, user),
                        Err(why) => bad_request(why),
                    },
                    Err(e) => bad_request(e),
                },
                _ => json_response(405, &serde_json::json!({ "error": "method not allowed" }))
                    .with_header("Allow", "GET, PATCH"),
            }
        }
        _ => json_response(404, &serde_json::json!({ "error": "not found" })),
    }
}

fn main() {
    let store = Mutex::new(Store::default());
    if let Err(e) = serve(move |request: &Request| handle(&store, request)) {
        eprintln!("could not start the server: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Sends one request to the handler and returns the status and the JSON body.
    fn call(store: &Mutex<Store>, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = Request {
            method: method.to_string(),
            target: path.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: body.as_bytes().to_vec(),
        };
        let response = handle(store, &request);
        let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, body)
    }

    /// A store holding user 1, with every field set.
    fn store_with_ada() -> Mutex<Store> {
        let store = Mutex::new(Store::default());
        let body = r#"{"name":"Ada","email":"ada@example.com","nickname":"countess","phone":"+44 20 7946 0000","role":"admin","newsletter":true,"tags":["math"]}"#;
        assert_eq!(call(&store, "POST", "/users", body).0, 201);
        store
    }

    // Defaults fill what a create leaves out, and every key is written back.
    #[test]
    fn create_fills_defaults() {
        let store = Mutex::new(Store::default());
        let (status, user) = call(&store, "POST", "/users", r#"{"name":"A","email":"a@x"}"#);
        assert_eq!(status, 201);
        assert_eq!(
            user,
            json!({"id":1,"name":"A","email":"a@x","nickname":null,"phone":null,"role":"member","newsletter":false,"tags":[]})
        );
    }

    // Null is not absent: a create with `"role": null` is refused, one with an unknown key too.
    #[test]
    fn create_is_strict() {
        let store = Mutex::new(Store::default());
        let (status, _) = call(
            &store,
            "POST",
            "/users",
            r#"{"name":"A","email":"a@x","role":null}"#,
        );
        assert_eq!(status, 400);
        let (status, body) = call(
            &store,
            "POST",
            "/users",
            r#"{"name":"A","email":"a@x","nickame":"typo"}"#,
        );
        assert_eq!(status, 400);
        assert!(
            body["error"].as_str().unwrap().contains("nickame"),
            "{body}"
        );
    }

    // Absent keeps, null clears, a value sets.
    #[test]
    fn patch_keeps_clears_and_sets() {
        let store = store_with_ada();
        let (status, user) = call(
            &store,
            "PATCH",
            "/users/1",
            r#"{"nickname":null,"role":"member"}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(user["nickname"], Value::Null);
        assert_eq!(user["role"], "member");
        assert_eq!(user["phone"], "+44 20 7946 0000");
        assert_eq!(call(&store, "GET", "/users/1", "").1, user);
    }

    // A null on a field that cannot be null is refused, and nothing of the patch is applied.
    #[test]
    fn refused_patch_changes_nothing() {
        let store = store_with_ada();
        let before = call(&store, "GET", "/users/1", "").1;
        let (status, body) = call(
            &store,
            "PATCH",
            "/users/1",
            r#"{"name":"Grace","nickname":null,"tags":null}"#,
        );
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains("tags"), "{body}");
        assert_eq!(call(&store, "GET", "/users/1", "").1, before);
    }

    // A patch with an unknown key is refused.
    #[test]
    fn patch_refuses_unknown_fields() {
        let store = store_with_ada();
        assert_eq!(call(&store, "PATCH", "/users/1", r#"{"id":9}"#).0, 400);
    }

    // The lenient import ignores unknown keys and lists them, sorted.
    #[test]
    fn import_reports_what_it_ignored() {
        let store = Mutex::new(Store::default());
        let (status, body) = call(
            &store,
            "POST",
            "/import/users",
            r#"{"name":"A","email":"a@x","zip":"1","crm_id":9}"#,
        );
        assert_eq!(status, 201);
        assert_eq!(body["ignored"], json!(["crm_id", "zip"]));
        assert_eq!(body["user"]["role"], "member");
    }
}
