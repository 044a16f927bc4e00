//! mutant: applies the patch field by field and returns at the first refused null: the fields before it are already changed
//! expect: changes nothing
//!
//! Each line is right on its own; the `?` in the middle leaves half a patch behind.

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
        self.name = required("name", &patch.name, &self.name)?;
        self.email = required("email", &patch.email, &self.email)?;
        self.nickname = nullable(&patch.nickname, &self.nickname);
        self.phone = nullable(&patch.phone, &self.phone);
        self.role = required("role", &patch.role, &self.role)?;
        self.newsletter = required("newsletter", &patch.newsletter, &self.newsletter)?;
        self.tags = required("tags", &patch.tags, &self.tags)?;
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
