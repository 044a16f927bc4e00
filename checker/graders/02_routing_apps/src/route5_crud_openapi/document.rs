//! The program's own OpenAPI document: its shape (every served route documented, nothing else), schemas that
//! really describe an item (they accept good items and reject broken ones), and the contract test: every
//! response observed during the grading is one the document allows, with a body its schema accepts.

use std::collections::BTreeSet;

use backlings_grade::Failure;
use serde_json::{Value, json};

use super::api::Observation;
use super::schema::Validator;
use crate::support::show;

/// The routes the server serves, with their methods (lowercase, as OpenAPI writes them).
const ROUTES: [(&str, &[&str]); 3] = [
    ("/items", &["get", "post"]),
    ("/items/{id}", &["delete", "get", "patch", "put"]),
    ("/openapi.json", &["get"]),
];
/// The keys of a path item that are operations.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Checks the structure of the document.
pub fn check_shape(document: &Value) -> Result<(), Failure> {
    let version = document
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !version.starts_with("3.") {
        return Err(
            Failure::new("the document is OpenAPI 3: `\"openapi\": \"3.1.0\"`").got(format!(
                "openapi: {}",
                document.get("openapi").map_or("missing".into(), show)
            )),
        );
    }
    let info = document.get("info");
    for field in ["title", "version"] {
        if !info
            .and_then(|i| i.get(field))
            .is_some_and(Value::is_string)
        {
            return Err(Failure::new(format!(
                "the document has `info.{field}`, a string (OpenAPI requires it)"
            )));
        }
    }
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Err(Failure::new(
            "the document has `paths`, an object of path templates",
        ));
    };
    for key in paths.keys() {
        if !ROUTES.iter().any(|(template, _)| template == key) {
            return Err(Failure::new(
                "the document describes only routes the server serves (a client generated from it would call \
                 a route that answers 404)",
            )
            .got(format!("paths has `{key}`"))
            .detail("the routes: /items, /items/{id}, and (optionally) /openapi.json"));
        }
    }
    for (template, methods) in ROUTES {
        let Some(item) = paths.get(template) else {
            if template == "/openapi.json" {
                continue;
            }
            return Err(Failure::new(format!(
                "the document describes `{template}`: it is missing from paths"
            )));
        };
        let documented: BTreeSet<&str> = OPERATIONS
            .iter()
            .copied()
            .filter(|op| item.get(*op).is_some())
            .collect();
        let served: BTreeSet<&str> = methods.iter().copied().collect();
        if documented != served {
            return Err(Failure::new(format!(
                "the operations documented for `{template}` are exactly the methods it serves"
            ))
            .expected(served.iter().copied().collect::<Vec<_>>().join(", "))
            .got(documented.iter().copied().collect::<Vec<_>>().join(", ")));
        }
        for method in methods {
            let responses = item[*method].get("responses").and_then(Value::as_object);
            if responses.is_none_or(|r| r.is_empty()) {
                return Err(Failure::new(format!(
                    "every operation lists its responses: `{method} {template}` has no `responses`"
                )));
            }
        }
    }
    check_path_parameter(&paths["/items/{id}"])?;
    for (method, template, media) in [
        ("post", "/items", "application/json"),
        ("put", "/items/{id}", "application/json"),
        ("patch", "/items/{id}", "application/merge-patch+json"),
    ] {
        let content = paths[template][method]
            .pointer("/requestBody/content")
            .and_then(Value::as_object);
        if !content.is_some_and(|c| c.contains_key(media)) {
            return Err(Failure::new(format!(
                "`{} {template}` documents its request body as `{media}`",
                method.to_uppercase()
            ))
            .got(format!(
                "requestBody.content: {}",
                content.map_or("missing".into(), |c| show(&Value::Object(c.clone())))
            )));
        }
    }
    Ok(())
}

fn check_path_parameter(item: &Value) -> Result<(), Failure> {
    let declares = |parameters: Option<&Value>| {
        parameters.and_then(Value::as_array).is_some_and(|list| {
            list.iter().any(|p| {
                p.get("name") == Some(&json!("id"))
                    && p.get("in") == Some(&json!("path"))
                    && p.get("required") == Some(&json!(true))
            })
        })
    };
    if declares(item.get("parameters")) {
        return Ok(());
    }
    for method in ["get", "put", "patch", "delete"] {
        if !declares(item[method].get("parameters")) {
            return Err(Failure::new(
                "`/items/{id}` declares its path parameter: {\"name\": \"id\", \"in\": \"path\", \"required\": true} \
                 (on the path, or on every operation)",
            )
            .detail(format!("`{method}` does not see it")));
        }
    }
    Ok(())
}

/// The schema of the `200 application/json` answer of `method template`.
fn ok_schema<'a>(document: &'a Value, template: &str, method: &str) -> Result<&'a Value, Failure> {
    let validator = Validator::new(document);
    let response = document["paths"][template][method]["responses"]
        .get("200")
        .ok_or_else(|| {
            Failure::new(format!(
                "`{} {template}` documents its 200 answer",
                method.to_uppercase()
            ))
        })?;
    let response = validator.resolve(response).map_err(Failure::new)?;
    response
        .pointer("/content/application~1json/schema")
        .ok_or_else(|| {
            Failure::new(format!(
                "the 200 answer of `{} {template}` documents its `application/json` schema",
                method.to_uppercase()
            ))
        })
}

/// Checks that the item schemas describe an item: good items pass, broken ones do not.
pub fn check_item_schema(document: &Value) -> Result<(), Failure> {
    let validator = Validator::new(document);
    let good = [
        json!({"id": 1, "sku": "AB-12", "name": "Desk lamp", "price_cents": 2599, "tags": [], "description": null}),
        json!({"id": 7, "sku": "ZZ9", "name": "é", "price_cents": 0, "tags": ["home", "light"], "description": "warm"}),
    ];
    let broken = [
        (
            "`sku` missing",
            json!({"id": 1, "name": "n", "price_cents": 1, "tags": [], "description": null}),
        ),
        (
            "`id` missing",
            json!({"sku": "AB-12", "name": "n", "price_cents": 1, "tags": [], "description": null}),
        ),
        (
            "`price_cents` a string",
            json!({"id": 1, "sku": "AB-12", "name": "n", "price_cents": "1", "tags": [], "description": null}),
        ),
        (
            "`price_cents` a fraction",
            json!({"id": 1, "sku": "AB-12", "name": "n", "price_cents": 9.99, "tags": [], "description": null}),
        ),
        (
            "`tags` a string",
            json!({"id": 1, "sku": "AB-12", "name": "n", "price_cents": 1, "tags": "home", "description": null}),
        ),
        (
            "`description` a number",
            json!({"id": 1, "sku": "AB-12", "name": "n", "price_cents": 1, "tags": [], "description": 5}),
        ),
        (
            "an unknown member `colour`",
            json!({"id": 1, "sku": "AB-12", "name": "n", "price_cents": 1, "tags": [], "description": null, "colour": "red"}),
        ),
    ];
    for (template, method) in [("/items/{id}", "get"), ("/items", "get")] {
        let schema = ok_schema(document, template, method)?;
        let wrap = |item: &Value| {
            if template == "/items" {
                json!([item])
            } else {
                item.clone()
            }
        };
        let operation = format!("GET {template}");
        for item in &good {
            if let Err((at, why)) = validator.validate(schema, &wrap(item)) {
                return Err(Failure::new(format!(
                    "the schema of the 200 answer of `{operation}` accepts a valid item"
                ))
                .got(format!("it rejects {} at `{at}`: {why}", show(&wrap(item)))));
            }
        }
        for (what, item) in &broken {
            if validator.validate(schema, &wrap(item)).is_ok() {
                return Err(Failure::new(format!(
                    "the schema of the 200 answer of `{operation}` describes an item precisely: it rejects an item \
                     with {what} (say which members are required, their types, and additionalProperties: false)"
                ))
                .got(format!("it accepts {}", show(&wrap(item)))));
            }
        }
    }
    Ok(())
}

/// The contract test: every observed answer is documented, with a body its schema accepts.
pub fn check_observations(document: &Value, observed: &[Observation]) -> Result<(), Failure> {
    let validator = Validator::new(document);
    let mut checked = BTreeSet::new();
    for seen in observed {
        let method = seen.method.to_lowercase();
        let Some(operation) = document["paths"][seen.template].get(&method) else {
            continue; // A 405: the operation is not served, so not documented.
        };
        let key = (
            method.clone(),
            seen.template,
            seen.status,
            seen.body.as_ref().map(Value::to_string),
        );
        if !checked.insert(key) {
            continue;
        }
        let responses = &operation["responses"];
        let status = seen.status.to_string();
        let range = format!("{}XX", seen.status / 100);
        let Some(response) = responses
            .get(&status)
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
        else {
            return Err(Failure::new(format!(
                "every status the server answers is documented: `{} {}` answered {} but its `responses` do not \
                 list it (a generated client treats it as an unknown error)",
                seen.method, seen.template, seen.status
            ))
            .got(format!(
                "documented: {}",
                responses.as_object().map_or(String::new(), |r| r.keys().cloned().collect::<Vec<_>>().join(", "))
            ))
            .detail(format!("observed when the grader sent {}", seen.sent)));
        };
        let response = validator.resolve(response).map_err(Failure::new)?;
        let Some(body) = &seen.body else { continue };
        let content = response.get("content").and_then(Value::as_object);
        let Some(media) = content.and_then(|c| c.get(&seen.media_type).or_else(|| c.get("*/*")))
        else {
            return Err(Failure::new(format!(
                "the documented answer {} of `{} {}` lists the media type the server really sends",
                seen.status, seen.method, seen.template
            ))
            .expected(format!("content: {{\"{}\": …}}", seen.media_type))
            .got(format!(
                "content: {}",
                content.map_or("none".into(), |c| c
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "))
            )));
        };
        let Some(schema) = media.get("schema") else {
            continue;
        };
        if let Err((at, why)) = validator.validate(schema, body) {
            return Err(Failure::new(format!(
                "every body the server sends matches its documented schema: the {} answer of `{} {}` does not",
                seen.status, seen.method, seen.template
            ))
            .got(format!("at `{at}`: {why}"))
            .detail(format!("the body: {}", show(body)))
            .detail(format!("observed when the grader sent {}", seen.sent)));
        }
    }
    Ok(())
}
