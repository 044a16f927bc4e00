//! The exact model of the items API: what every request must answer, from the contract in the exercise's
//! header. It validates bodies with its own rules (written from the table, not from the solution), applies
//! merge patches, and hands out ids 1, 2, 3, … never reused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// The largest accepted `price_cents`.
pub const MAX_PRICE_CENTS: u64 = 100_000_000;

/// What a request must answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `200` or `201` with this item (and an `ETag`; a `Location` for `201`).
    Item { status: u16, item: Value },
    /// `200` with every item by id.
    List(Vec<Value>),
    /// `204`, no body.
    NoContent,
    /// `304` with the current ETag of item `id`, no body.
    NotModified { id: u64 },
    /// A problem details response; `pointers` for a `422`, `allow` for a `405`.
    Problem {
        status: u16,
        why: String,
        pointers: BTreeSet<String>,
        allow: Vec<&'static str>,
    },
}

impl Expect {
    fn problem(status: u16, why: impl Into<String>) -> Self {
        Expect::Problem {
            status,
            why: why.into(),
            pointers: BTreeSet::new(),
            allow: Vec::new(),
        }
    }
}

/// What a path names, as the contract routes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Collection,
    Member(u64),
    Document,
}

impl Target {
    /// The methods `Allow` must list.
    pub fn methods(self) -> Vec<&'static str> {
        match self {
            Target::Collection => vec!["GET", "POST"],
            Target::Member(_) => vec!["GET", "PUT", "PATCH", "DELETE"],
            Target::Document => vec!["GET"],
        }
    }

    /// The OpenAPI path template.
    pub fn template(self) -> &'static str {
        match self {
            Target::Collection => "/items",
            Target::Member(_) => "/items/{id}",
            Target::Document => "/openapi.json",
        }
    }
}

/// Routes a path as the contract says (`None` is a 404).
pub fn route(path: &str) -> Option<Target> {
    let path = path.split('?').next().unwrap_or("");
    match path {
        "/items" => Some(Target::Collection),
        "/openapi.json" => Some(Target::Document),
        _ => {
            let id = path.strip_prefix("/items/")?;
            if id.is_empty() || id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            id.parse().ok().map(Target::Member)
        }
    }
}

/// The state of the API.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub items: BTreeMap<u64, Value>,
    pub last_id: u64,
}

impl Model {
    /// The answer to `method path` with `body` (raw bytes), applying its effect.
    /// `not_modified`: the request carries an `If-None-Match` that matches the item's current ETag.
    pub fn apply(&mut self, method: &str, path: &str, body: &[u8], not_modified: bool) -> Expect {
        let Some(target) = route(path) else {
            return Expect::problem(
                404,
                "a path that names no resource is 404, whatever the method",
            );
        };
        if !target.methods().contains(&method) {
            return Expect::Problem {
                status: 405,
                why: "a path that names a resource, asked with a method it does not support, is 405 with an \
                      Allow header listing the methods it does support"
                    .into(),
                pointers: BTreeSet::new(),
                allow: target.methods(),
            };
        }
        match (method, target) {
            ("GET", Target::Collection) => Expect::List(self.items.values().cloned().collect()),
            ("POST", Target::Collection) => {
                let body = match object(body) {
                    Ok(body) => body,
                    Err(why) => return Expect::problem(400, why),
                };
                let item = match validate(&body) {
                    Ok(item) => item,
                    Err(pointers) => return invalid(pointers),
                };
                if let Some(owner) = self.owner_of(&item["sku"], None) {
                    return duplicate(&item["sku"], owner);
                }
                self.last_id += 1;
                let item = with_id(item, self.last_id);
                self.items.insert(self.last_id, item.clone());
                Expect::Item { status: 201, item }
            }
            ("GET", Target::Member(id)) => match self.items.get(&id) {
                None => missing(id),
                Some(_) if not_modified => Expect::NotModified { id },
                Some(item) => Expect::Item {
                    status: 200,
                    item: item.clone(),
                },
            },
            ("PUT", Target::Member(id)) | ("PATCH", Target::Member(id)) => {
                let Some(current) = self.items.get(&id) else {
                    return missing(id);
                };
                let body = match object(body) {
                    Ok(body) => body,
                    Err(why) => return Expect::problem(400, why),
                };
                let document = if method == "PATCH" {
                    let mut merged = current.clone();
                    if let Some(object) = merged.as_object_mut() {
                        object.remove("id");
                    }
                    merge_patch(&mut merged, &Value::Object(body));
                    merged.as_object().cloned().unwrap_or_default()
                } else {
                    body
                };
                let item = match validate(&document) {
                    Ok(item) => item,
                    Err(pointers) => return invalid(pointers),
                };
                if let Some(owner) = self.owner_of(&item["sku"], Some(id)) {
                    return duplicate(&item["sku"], owner);
                }
                let item = with_id(item, id);
                self.items.insert(id, item.clone());
                Expect::Item { status: 200, item }
            }
            ("DELETE", Target::Member(id)) => match self.items.remove(&id) {
                Some(_) => Expect::NoContent,
                None => missing(id),
            },
            _ => Expect::problem(500, "unrouted"),
        }
    }

    fn owner_of(&self, sku: &Value, except: Option<u64>) -> Option<u64> {
        self.items
            .iter()
            .find(|(id, item)| Some(**id) != except && item["sku"] == *sku)
            .map(|(id, _)| *id)
    }
}

fn with_id(mut item: Value, id: u64) -> Value {
    if let Some(object) = item.as_object_mut() {
        object.insert("id".into(), json!(id));
    }
    item
}

fn missing(id: u64) -> Expect {
    Expect::problem(
        404,
        format!("there is no item {id} (never created, or deleted): 404"),
    )
}

fn duplicate(sku: &Value, owner: u64) -> Expect {
    Expect::problem(
        409,
        format!(
            "the sku {sku} already belongs to item {owner}: 409 Conflict (checked after validation)"
        ),
    )
}

fn invalid(pointers: BTreeSet<String>) -> Expect {
    Expect::Problem {
        status: 422,
        why: "a body with invalid fields is 422, listing every invalid field at once, each at its JSON Pointer \
              (validation comes before the uniqueness check)"
            .into(),
        pointers,
        allow: Vec::new(),
    }
}

/// The body as a JSON object, or why it is a 400.
fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("a body that is JSON but not an object is 400".into()),
        Err(_) => Err("a body that is not JSON is 400".into()),
    }
}

/// RFC 6901: `~` is written `~0`, `/` is written `~1`.
pub fn pointer(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The item's fields (every member present, no id) or the pointers of every invalid field.
pub fn validate(body: &Map<String, Value>) -> Result<Value, BTreeSet<String>> {
    const FIELDS: [&str; 5] = ["sku", "name", "price_cents", "tags", "description"];
    let mut bad = BTreeSet::new();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) {
            bad.insert(pointer(&[key]));
        }
    }
    let get = |name: &str| body.get(name).filter(|v| !v.is_null());
    let chars = |s: &str| s.chars().count();

    let sku_ok = matches!(get("sku"), Some(Value::String(s))
        if (3..=16).contains(&chars(s)) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'));
    let name_ok = matches!(get("name"), Some(Value::String(s)) if (1..=80).contains(&chars(s)) && !s.trim().is_empty());
    let price_ok = get("price_cents")
        .and_then(Value::as_u64)
        .is_some_and(|p| p <= MAX_PRICE_CENTS);
    let tags_ok = match get("tags") {
        None => true,
        Some(Value::Array(tags)) => {
            for (index, tag) in tags.iter().enumerate() {
                if !matches!(tag, Value::String(t) if (1..=20).contains(&chars(t))) {
                    bad.insert(pointer(&["tags", &index.to_string()]));
                }
            }
            tags.len() <= 5
        }
        Some(_) => false,
    };
    let description_ok = match get("description") {
        None => true,
        Some(Value::String(s)) => chars(s) <= 200,
        Some(_) => false,
    };
    for (field, ok) in [
        ("sku", sku_ok),
        ("name", name_ok),
        ("price_cents", price_ok),
        ("tags", tags_ok),
        ("description", description_ok),
    ] {
        if !ok {
            bad.insert(pointer(&[field]));
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(json!({
        "sku": body["sku"],
        "name": body["name"],
        "price_cents": body["price_cents"],
        "tags": get("tags").cloned().unwrap_or(json!([])),
        "description": get("description").cloned().unwrap_or(Value::Null),
    }))
}

/// RFC 7396 JSON Merge Patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(body: Value) -> Vec<String> {
        validate(body.as_object().unwrap())
            .unwrap_err()
            .into_iter()
            .collect()
    }

    #[test]
    fn validation_reports_every_pointer() {
        let body = json!({"sku": "ab", "price_cents": 9.99, "tags": ["ok", "", 3, "a", "b", "c"], "id": 4, "a/b": 1, "m~n": 2});
        assert_eq!(
            pointers(body),
            [
                "/a~1b",
                "/id",
                "/m~0n",
                "/name",
                "/price_cents",
                "/sku",
                "/tags",
                "/tags/1",
                "/tags/2"
            ]
        );
    }

    #[test]
    fn characters_not_bytes() {
        let body =
            json!({"sku": "ABC", "name": "é".repeat(80), "price_cents": 0, "description": null});
        let item = validate(body.as_object().unwrap()).unwrap();
        assert_eq!(item["tags"], json!([]));
        assert_eq!(item["description"], Value::Null);
    }

    #[test]
    fn routes_canonical_ids_only() {
        assert_eq!(route("/items/12"), Some(Target::Member(12)));
        for path in [
            "/items/",
            "/items/007",
            "/items/0",
            "/items/1/x",
            "/items/abc",
            "/item",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }

    #[test]
    fn patch_then_validate() {
        let mut model = Model::default();
        let created = model.apply(
            "POST",
            "/items",
            br#"{"sku":"AAA","name":"n","price_cents":1,"description":"d","tags":["x"]}"#,
            false,
        );
        assert!(matches!(created, Expect::Item { status: 201, .. }));
        let patched = model.apply(
            "PATCH",
            "/items/1",
            br#"{"description":null,"tags":null}"#,
            false,
        );
        let Expect::Item { item, .. } = patched else {
            panic!()
        };
        assert_eq!(
            item,
            json!({"id":1,"sku":"AAA","name":"n","price_cents":1,"tags":[],"description":null})
        );
        let Expect::Problem {
            status, pointers, ..
        } = model.apply("PATCH", "/items/1", br#"{"name":null}"#, false)
        else {
            panic!()
        };
        assert_eq!(
            (status, pointers.into_iter().collect::<Vec<_>>()),
            (422, vec!["/name".to_string()])
        );
    }
}
