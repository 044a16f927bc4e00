//! mutant: counts the name's length in bytes, refusing 80 accented characters
//! expect: a valid new item is created

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};

use backlings_harness::http::{Request, Response, serve};
use serde_json::{Map, Value, json};

/// The members a client may send.
const FIELDS: [&str; 5] = ["sku", "name", "price_cents", "tags", "description"];
/// The largest accepted `price_cents`.
const MAX_PRICE_CENTS: u64 = 100_000_000;
/// The methods each resource supports, in the order `Allow` lists them.
const COLLECTION_METHODS: [&str; 2] = ["GET", "POST"];
const MEMBER_METHODS: [&str; 4] = ["GET", "PUT", "PATCH", "DELETE"];
const DOCUMENT_METHODS: [&str; 1] = ["GET"];

/// The fields of an item that a client chooses (everything but the id), once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFields {
    pub sku: String,
    pub name: String,
    pub price_cents: u64,
    pub tags: Vec<String>,
    pub description: Option<String>,
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: u64,
    pub fields: ItemFields,
}

impl ItemFields {
    /// The fields as a JSON object, every member present (provided: you do not need to change this).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("sku".into(), json!(self.sku));
        object.insert("name".into(), json!(self.name));
        object.insert("price_cents".into(), json!(self.price_cents));
        object.insert("tags".into(), json!(self.tags));
        object.insert("description".into(), json!(self.description));
        object
    }
}

impl Item {
    /// The representation served to clients (provided: you do not need to change this).
    pub fn to_json(&self) -> Value {
        let mut object = self.fields.to_json();
        object.insert("id".into(), json!(self.id));
        Value::Object(object)
    }
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where, as a JSON Pointer into the body: `/price_cents`, `/tags/2`.
    pub pointer: String,
    /// What is wrong, for a human.
    pub detail: String,
}

impl FieldError {
    fn new(pointer: String, detail: impl Into<String>) -> Self {
        FieldError {
            pointer,
            detail: detail.into(),
        }
    }
}

/// The JSON Pointer (RFC 6901) of the member reached by following `path` from the root.
pub fn json_pointer(path: &[&str]) -> String {
    path.iter()
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Validates a whole item body (as a `POST` or a `PUT` sends it, or as a `PATCH` leaves it), reporting every
/// invalid field at once.
pub fn validate(body: &Map<String, Value>) -> Result<ItemFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) {
            let detail = if key == "id" {
                "id is assigned by the server and cannot be set"
            } else {
                "unknown field"
            };
            errors.push(FieldError::new(json_pointer(&[key]), detail));
        }
    }
    let present = |name: &str| body.get(name).filter(|value| !value.is_null());

    let sku = match present("sku") {
        None => Err("sku is required"),
        Some(Value::String(sku))
            if (3..=16).contains(&sku.chars().count())
                && sku
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(sku.clone())
        }
        Some(_) => Err("sku must be 3 to 16 characters, each A-Z, 0-9 or -"),
    };
    let name = match present("name") {
        None => Err("name is required"),
        Some(Value::String(name)) if (1..=80).contains(&name.len()) && !name.trim().is_empty() => {
            Ok(name.clone())
        }
        Some(_) => Err("name must be a string of 1 to 80 characters, not only whitespace"),
    };
    let price_cents = match present("price_cents") {
        None => Err("price_cents is required"),
        Some(price) => match price.as_u64() {
            Some(cents) if cents <= MAX_PRICE_CENTS => Ok(cents),
            _ => Err("price_cents must be an integer from 0 to 100000000"),
        },
    };
    let mut tag_errors = Vec::new();
    let tags = match present("tags") {
        None => Ok(Vec::new()),
        Some(Value::Array(tags)) => {
            let mut valid = Vec::new();
            for (index, tag) in tags.iter().enumerate() {
                match tag {
                    Value::String(tag) if (1..=20).contains(&tag.chars().count()) => {
                        valid.push(tag.clone());
                    }
                    _ => tag_errors.push(FieldError::new(
                        json_pointer(&["tags", &index.to_string()]),
                        "a tag is a string of 1 to 20 characters",
                    )),
                }
            }
            if tags.len() > 5 {
                Err("at most 5 tags")
            } else {
                Ok(valid)
            }
        }
        Some(_) => Err("tags must be an array of strings"),
    };
    let description = match present("description") {
        None => Ok(None),
        Some(Value::String(text)) if text.chars().count() <= 200 => Ok(Some(text.clone())),
        Some(_) => Err("description must be null or a string of at most 200 characters"),
    };

    for (field, result) in [
        ("sku", sku.as_ref().err()),
        ("name", name.as_ref().err()),
        ("price_cents", price_cents.as_ref().err()),
        ("tags", tags.as_ref().err()),
        ("description", description.as_ref().err()),
    ] {
        if let Some(detail) = result {
            errors.push(FieldError::new(json_pointer(&[field]), *detail));
        }
    }
    errors.extend(tag_errors);
    match (sku, name, price_cents, tags, description) {
        (Ok(sku), Ok(name), Ok(price_cents), Ok(tags), Ok(description)) if errors.is_empty() => {
            Ok(ItemFields {
                sku,
                name,
                price_cents,
                tags,
                description,
            })
        }
        _ => Err(errors),
    }
}

/// Applies a JSON Merge Patch (RFC 7396) to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
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

/// FNV-1a, 64 bits: a small, stable hash (provided: you do not need to change this).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The strong ETag of an item's current representation, with its double quotes.
pub fn etag(item: &Item) -> String {
    format!(
        "\"{:016x}\"",
        fnv1a64(item.to_json().to_string().as_bytes())
    )
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison; `*` matches anything).
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    header.trim() == "*"
        || header
            .split(',')
            .any(|candidate| opaque(candidate) == opaque(etag))
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No item has this id.
    NotFound,
    /// Another item already has this sku.
    DuplicateSku { sku: String, owner: u64 },
}

/// The items, by id.
#[derive(Debug, Default)]
pub struct Store {
    items: BTreeMap<u64, Item>,
    last_id: u64,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// Every item, by id (provided: you do not need to change this).
    pub fn list(&self) -> Vec<Item> {
        self.items.values().cloned().collect()
    }

    /// The item with this id (provided: you do not need to change this).
    pub fn get(&self, id: u64) -> Option<&Item> {
        self.items.get(&id)
    }

    fn owner_of(&self, sku: &str) -> Option<u64> {
        self.items
            .values()
            .find(|item| item.fields.sku == sku)
            .map(|item| item.id)
    }

    /// Adds an item with a new id, unless its sku is taken.
    pub fn create(&mut self, fields: ItemFields) -> Result<Item, StoreError> {
        if let Some(owner) = self.owner_of(&fields.sku) {
            return Err(StoreError::DuplicateSku {
                sku: fields.sku,
                owner,
            });
        }
        self.last_id += 1;
        let item = Item {
            id: self.last_id,
            fields,
        };
        self.items.insert(item.id, item.clone());
        Ok(item)
    }

    /// Replaces the fields of item `id`, unless it does not exist or its new sku belongs to another item.
    pub fn replace(&mut self, id: u64, fields: ItemFields) -> Result<Item, StoreError> {
        if !self.items.contains_key(&id) {
            return Err(StoreError::NotFound);
        }
        match self.owner_of(&fields.sku) {
            Some(owner) if owner != id => Err(StoreError::DuplicateSku {
                sku: fields.sku,
                owner,
            }),
            _ => {
                let item = Item { id, fields };
                self.items.insert(id, item.clone());
                Ok(item)
            }
        }
    }

    /// Removes item `id`.
    pub fn delete(&mut self, id: u64) -> Result<Item, StoreError> {
        self.items.remove(&id).ok_or(StoreError::NotFound)
    }
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/items`
    Collection,
    /// `/items/{id}`
    Member(u64),
    /// `/openapi.json`
    Document,
}

impl Resource {
    /// The methods this resource supports, as `Allow` lists them (provided: you do not need to change this).
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Resource::Collection => &COLLECTION_METHODS,
            Resource::Member(_) => &MEMBER_METHODS,
            Resource::Document => &DOCUMENT_METHODS,
        }
    }
}

/// The resource a path names, or `None` for a 404.
pub fn resolve(path: &str) -> Option<Resource> {
    match path {
        "/items" => Some(Resource::Collection),
        "/openapi.json" => Some(Resource::Document),
        _ => {
            let id = path.strip_prefix("/items/")?;
            let canonical =
                !id.is_empty() && !id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit());
            if !canonical {
                return None;
            }
            id.parse().ok().map(Resource::Member)
        }
    }
}

/// A JSON response (provided: you do not need to change this).
pub fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// An RFC 9457 problem details response (provided: you do not need to change this).
pub fn problem(status: u16, title: &str, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail.into(),
    });
    Response::new(status)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// The `422` listing every invalid field (provided: you do not need to change this).
pub fn validation_problem(errors: &[FieldError]) -> Response {
    let errors: Vec<Value> = errors
        .iter()
        .map(|e| json!({ "pointer": e.pointer, "detail": e.detail }))
        .collect();
    let body = json!({
        "type": "https://backlings.dev/problems/validation",
        "title": "Your request is not valid",
        "status": 422,
        "detail": format!("{} invalid field(s)", errors.len()),
        "errors": errors,
    });
    Response::new(422)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// The body as a JSON object, or the `400` to answer (provided: you do not need to change this).
pub fn body_object(request: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(problem(
            400,
            "Bad Request",
            "the body must be a JSON object",
        )),
        Err(e) => Err(problem(
            400,
            "Bad Request",
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// The `404` or `409` of a [`StoreError`] (provided: you do not need to change this).
fn store_error(error: StoreError) -> Response {
    match error {
        StoreError::NotFound => problem(404, "Not Found", "no such item"),
        StoreError::DuplicateSku { sku, owner } => problem(
            409,
            "Conflict",
            format!("sku {sku} already belongs to item {owner}"),
        ),
    }
}

/// An item with its `ETag`, as `200` or `201` answer it (provided: you do not need to change this).
fn item_response(status: u16, item: &Item) -> Response {
    json_response(status, &item.to_json()).with_header("ETag", etag(item))
}

/// Answers one request: the CRUD mapping of the table in this file's header.
pub fn handle(store: &Mutex<Store>, request: &Request) -> Response {
    let path = request.path();
    let Some(resource) = resolve(path) else {
        return problem(404, "Not Found", format!("nothing at {path}"));
    };
    let method = request.method.as_str();
    if !resource.methods().contains(&method) {
        return problem(
            405,
            "Method Not Allowed",
            format!("{path} does not support {method}"),
        )
        .with_header("Allow", resource.methods().join(", "));
    }
    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
    let missing = || problem(404, "Not Found", format!("no item at {path}"));
    match (method, resource) {
        ("GET", Resource::Document) => json_response(200, &openapi()),
        ("GET", Resource::Collection) => {
            let items: Vec<Value> = store.list().iter().map(Item::to_json).collect();
            json_response(200, &Value::Array(items))
        }
        ("POST", Resource::Collection) => {
            let body = match body_object(request) {
                Ok(body) => body,
                Err(response) => return response,
            };
            let fields = match validate(&body) {
                Ok(fields) => fields,
                Err(errors) => return validation_problem(&errors),
            };
            match store.create(fields) {
                Ok(item) => {
                    item_response(201, &item).with_header("Location", format!("/items/{}", item.id))
                }
                Err(error) => store_error(error),
            }
        }
        ("GET", Resource::Member(id)) => {
            let Some(item) = store.get(id) else {
                return missing();
            };
            let tag = etag(item);
            match request.header("If-None-Match") {
                Some(header) if if_none_match_matches(header, &tag) => {
                    Response::new(304).with_header("ETag", tag)
                }
                _ => item_response(200, item),
            }
        }
        ("PUT", Resource::Member(id)) | ("PATCH", Resource::Member(id)) => {
            let Some(current) = store.get(id) else {
                return missing();
            };
            let body = match body_object(request) {
                Ok(body) => body,
                Err(response) => return response,
            };
            let document = if method == "PATCH" {
                let mut merged = Value::Object(current.fields.to_json());
                merge_patch(&mut merged, &Value::Object(body));
                match merged {
                    Value::Object(merged) => merged,
                    _ => Map::new(),
                }
            } else {
                body
            };
            let fields = match validate(&document) {
                Ok(fields) => fields,
                Err(errors) => return validation_problem(&errors),
            };
            match store.replace(id, fields) {
                Ok(item) => item_response(200, &item),
                Err(error) => store_error(error),
            }
        }
        ("DELETE", Resource::Member(id)) => match store.delete(id) {
            Ok(_) => Response::new(204),
            Err(_) => missing(),
        },
        _ => problem(500, "Internal Server Error", "unrouted request"),
    }
}

/// A problem details response of the document, as `$ref` (provided: you do not need to change this).
fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// The schema of an item as served.
fn item_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "sku", "name", "price_cents", "tags", "description"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "sku": {"type": "string", "minLength": 3, "maxLength": 16, "pattern": "^[A-Z0-9-]+$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "price_cents": {"type": "integer", "minimum": 0, "maximum": MAX_PRICE_CENTS},
            "tags": {
                "type": "array",
                "maxItems": 5,
                "items": {"type": "string", "minLength": 1, "maxLength": 20}
            },
            "description": {"type": ["string", "null"], "maxLength": 200}
        }
    })
}

/// The path item of `/items/{id}`: its parameter and its four operations.
fn member_path() -> Value {
    let item = json!({
        "description": "the item",
        "headers": {"ETag": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}
    });
    let invalid = json!({
        "description": "every invalid field",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
    });
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
        "get": {
            "operationId": "getItem",
            "responses": {
                "200": item,
                "304": {"description": "the client's copy (If-None-Match) is current"},
                "404": problem_response("no such item")
            }
        },
        "put": {
            "operationId": "replaceItem",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemInput"}}}},
            "responses": {
                "200": item,
                "400": problem_response("the body is not a JSON object"),
                "404": problem_response("no such item"),
                "409": problem_response("the sku belongs to another item"),
                "422": invalid
            }
        },
        "patch": {
            "operationId": "patchItem",
            "requestBody": {"required": true, "content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": item,
                "400": problem_response("the body is not a JSON object"),
                "404": problem_response("no such item"),
                "409": problem_response("the sku belongs to another item"),
                "422": invalid
            }
        },
        "delete": {
            "operationId": "deleteItem",
            "responses": {
                "204": {"description": "deleted"},
                "404": problem_response("no such item")
            }
        }
    })
}

/// The OpenAPI 3.1 document of this API (provided: you do not need to change this; `item_schema` and
/// `member_path` are yours).
pub fn openapi() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Items", "version": "1.0.0"},
        "paths": {
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "responses": {
                        "200": {
                            "description": "every item, by id",
                            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}
                        }
                    }
                },
                "post": {
                    "operationId": "createItem",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemInput"}}}},
                    "responses": {
                        "201": {
                            "description": "created",
                            "headers": {
                                "Location": {"schema": {"type": "string"}},
                                "ETag": {"schema": {"type": "string"}}
                            },
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}
                        },
                        "400": problem_response("the body is not a JSON object"),
                        "409": problem_response("the sku belongs to another item"),
                        "422": {
                            "description": "every invalid field",
                            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
                        }
                    }
                }
            },
            "/items/{id}": member_path(),
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "responses": {"200": {"description": "this document", "content": {"application/json": {"schema": {"type": "object"}}}}}
                }
            }
        },
        "components": {
            "schemas": {
                "Item": item_schema(),
                "ItemInput": {
                    "type": "object",
                    "required": ["sku", "name", "price_cents"],
                    "properties": {
                        "sku": {"type": "string"},
                        "name": {"type": "string"},
                        "price_cents": {"type": "integer"},
                        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                        "description": {"type": ["string", "null"]}
                    }
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"}
                    }
                },
                "ValidationProblem": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {
                            "type": "object",
                            "required": ["errors"],
                            "properties": {
                                "errors": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["pointer", "detail"],
                                        "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}}
                                    }
                                }
                            }
                        }
                    ]
                }
            }
        }
    })
}

/// Serves the API (provided: you do not need to change this).
fn main() -> ExitCode {
    let store = Mutex::new(Store::new());
    match serve(move |request| handle(&store, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, body: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn lamp() -> Map<String, Value> {
        match json!({"sku": "AB-12", "name": "Desk lamp", "price_cents": 2599}) {
            Value::Object(object) => object,
            _ => unreachable!(),
        }
    }

    fn pointers(body: Value) -> Vec<String> {
        let Value::Object(body) = body else {
            unreachable!()
        };
        let mut pointers: Vec<String> = validate(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        pointers.sort();
        pointers
    }

    // A pointer escapes `~` before `/`, so `a/b` and `m~n` stay unambiguous.
    #[test]
    fn pointers_escape_tilde_and_slash() {
        assert_eq!(json_pointer(&["tags", "2"]), "/tags/2");
        assert_eq!(json_pointer(&["a/b"]), "/a~1b");
        assert_eq!(json_pointer(&["m~1"]), "/m~01");
    }

    // Absent optional fields take their defaults; characters are counted, not bytes.
    #[test]
    fn a_minimal_body_is_valid() {
        let fields = validate(&lamp()).unwrap();
        assert_eq!(fields.tags, Vec::<String>::new());
        assert_eq!(fields.description, None);
        let mut long = lamp();
        long.insert("name".into(), json!("é".repeat(80)));
        assert!(validate(&long).is_ok());
    }

    // Every invalid field is reported in one go, each at its own pointer.
    #[test]
    fn every_error_is_reported_at_once() {
        let body =
            json!({"sku": "ab", "price_cents": 9.99, "tags": ["ok", "", 3], "id": 4, "a/b": 1});
        assert_eq!(
            pointers(body),
            [
                "/a~1b",
                "/id",
                "/name",
                "/price_cents",
                "/sku",
                "/tags/1",
                "/tags/2"
            ]
        );
    }

    // Merge patch: absent keeps, null removes, a value replaces (arrays whole).
    #[test]
    fn merge_patch_distinguishes_absent_null_and_value() {
        let mut target = json!({"name": "a", "tags": ["x", "y"], "description": "d"});
        merge_patch(&mut target, &json!({"tags": ["z"], "description": null}));
        assert_eq!(target, json!({"name": "a", "tags": ["z"]}));
    }

    // If-None-Match matches in a list, weakly, and with `*`.
    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(if_none_match_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(if_none_match_matches("*", "\"b\""));
        assert!(!if_none_match_matches("\"a\"", "\"b\""));
    }

    // Ids are never reused, even after the newest item is deleted.
    #[test]
    fn ids_are_never_reused() {
        let mut store = Store::new();
        let first = store.create(validate(&lamp()).unwrap()).unwrap();
        store.delete(first.id).unwrap();
        let second = store.create(validate(&lamp()).unwrap()).unwrap();
        assert_eq!(second.id, first.id + 1);
    }

    // A known path with the wrong method is 405 with Allow; an unknown path is 404.
    #[test]
    fn wrong_method_is_405_with_allow() {
        let store = Mutex::new(Store::new());
        let response = handle(&store, &request("DELETE", "/items", ""));
        assert_eq!(response.status, 405);
        assert_eq!(response.header("Allow"), Some("GET, POST"));
        assert_eq!(
            handle(&store, &request("GET", "/items/007", "")).status,
            404
        );
    }

    // POST creates with 201 and Location; a second item with the same sku is a 409.
    #[test]
    fn create_then_conflict() {
        let store = Mutex::new(Store::new());
        let body = Value::Object(lamp()).to_string();
        let created = handle(&store, &request("POST", "/items", &body));
        assert_eq!(created.status, 201);
        assert_eq!(created.header("Location"), Some("/items/1"));
        assert_eq!(
            handle(&store, &request("POST", "/items", &body)).status,
            409
        );
    }
}
