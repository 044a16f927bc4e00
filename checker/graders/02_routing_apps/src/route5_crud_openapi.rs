//! Grader of `route5_crud_openapi`: a CRUD API over `/items`, and the OpenAPI document it publishes.
//!
//! Every request goes through an exact model ([`model`]) and the whole answer is compared: status, media
//! type, body, `Location`, `Allow`, problem details with the exact set of invalid-field pointers, and ETags
//! (a changed item never keeps an ETag it had, an unchanged one never loses it; `If-None-Match` gives `304`).
//! The scenarios walk the contract (create, validate, conflict, replace, merge-patch, conditional GET,
//! delete, 404 vs 405), then a seeded random trace mixes everything. Last comes the contract test: the
//! program's `/openapi.json` must document exactly the routes it serves, its item schema must accept good
//! items and reject broken ones, and every response observed during the grading must be one the document
//! allows, with a body its schema accepts.

mod api;
mod bodies;
mod document;
mod model;
mod schema;

use backlings_grade::{Failure, Grading, Rng};
use serde_json::{Value, json};

use crate::support::{json_body, media_type, summary};
use api::{Api, Op};
use bodies::Skus;

/// How many requests the random trace sends.
const TRACE_LENGTH: usize = 150;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut rng = g.rng().fork(5);
    let mut api = Api::start(g)?;
    let mut skus = Skus::new(rng.fork(1));

    g.scenario("POST creates (201, Location, ETag), GET reads it back, GET /items lists by id");
    create_and_read(&mut api, &mut rng, &mut skus)?;
    g.scenario("an invalid body is 422 listing every invalid field at once, as problem+json");
    validation(&mut api, &mut rng, &mut skus)?;
    g.scenario("a sku that belongs to another item is 409, checked after validation");
    conflicts(&mut api, &mut rng, &mut skus)?;
    g.scenario("PUT replaces the whole item");
    replace(&mut api, &mut rng, &mut skus)?;
    g.scenario("PATCH merges: an absent member stays, null removes, a value replaces");
    merge(&mut api, &mut rng, &mut skus)?;
    g.scenario("ETag and If-None-Match: 304 when the client's copy is current");
    conditional_get(&mut api, &mut rng, &mut skus)?;
    g.scenario("DELETE is 204, then the item is gone, and its id is never handed out again");
    delete(&mut api, &mut rng, &mut skus)?;
    g.scenario("404 for a path that names nothing, 405 with Allow for a method a resource does not support");
    not_found_vs_not_allowed(&mut api, &mut rng)?;
    g.scenario(&format!(
        "a seeded random trace of {TRACE_LENGTH} requests against the exact model"
    ));
    random_trace(&mut api, &mut rng, &mut skus)?;

    g.scenario("GET /openapi.json documents exactly the routes the server serves");
    let document = fetch_document(&mut api)?;
    document::check_shape(&document)?;
    g.scenario("the document's item schema accepts valid items and rejects broken ones");
    document::check_item_schema(&document)?;
    g.scenario("contract test: every response of this grading is one the document allows");
    document::check_observations(&document, &api.observed)
}

fn create(api: &mut Api, body: &Value) -> Result<u64, Failure> {
    api.call(&Op::json("POST", "/items", body))?;
    Ok(api.model.last_id)
}

fn member(id: u64) -> String {
    format!("/items/{id}")
}

fn create_and_read(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let first = json!({"sku": skus.next(), "name": "é".repeat(80), "price_cents": 0});
    let second = json!({
        "sku": skus.next(),
        "name": "Café crème mug",
        "price_cents": 100_000_000,
        "tags": ["ß".repeat(20), "home", "office", "sale", "new"],
        "description": "ü".repeat(200),
    });
    let third = bodies::valid(rng, &skus.next());
    let mut ids = Vec::new();
    for body in [first, second, third] {
        ids.push(create(api, &body)?);
    }
    rng.shuffle(&mut ids);
    for id in ids {
        api.call(&Op::new("GET", &member(id)))?;
    }
    api.call(&Op::new("GET", "/items"))?;
    Ok(())
}

fn validation(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let everything_wrong = json!({
        "sku": "ab",
        "name": "   ",
        "price_cents": 9.99,
        "tags": ["ok", "", 3, "a", "b", "c"],
        "description": 5,
        "a/b": 1,
        "m~n": 2,
        "id": 3,
    });
    api.call(&Op::json("POST", "/items", &everything_wrong))?;
    for _ in 0..6 {
        let body = bodies::faulty(rng, &skus.next());
        api.call(&Op::json("POST", "/items", &body))?;
    }
    for raw in [&b"{\"sku\": \"AB-1\","[..], b"[1, 2]", b"", b"\"an item\""] {
        api.call(&Op::raw("POST", "/items", raw))?;
    }
    api.call(&Op::new("GET", "/items"))?;
    create(api, &bodies::valid(rng, &skus.next()))?;
    Ok(())
}

fn conflicts(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let sku = skus.next();
    let owner = create(api, &bodies::valid(rng, &sku))?;
    api.call(&Op::json("POST", "/items", &bodies::valid(rng, &sku)))?;
    let mut invalid_too = bodies::valid(rng, &sku);
    invalid_too["price_cents"] = json!(-5);
    api.call(&Op::json("POST", "/items", &invalid_too))?;
    api.call(&Op::new("GET", &member(owner)))?;
    api.call(&Op::new("GET", "/items"))?;
    Ok(())
}

fn replace(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let sku = skus.next();
    let id = create(api, &bodies::full(rng, &sku))?;
    let other_sku = skus.next();
    create(api, &bodies::valid(rng, &other_sku))?;
    // Without tags and description: a PUT replaces, so both go back to their defaults.
    let bare = json!({"sku": sku, "name": "Replaced", "price_cents": rng.range(1, 9999)});
    api.call(&Op::json("PUT", &member(id), &bare))?;
    api.call(&Op::json("PUT", &member(id), &bodies::full(rng, &sku)))?;
    api.call(&Op::json(
        "PUT",
        &member(id),
        &bodies::valid(rng, &other_sku),
    ))?;
    api.call(&Op::json("PUT", &member(id), &bodies::faulty(rng, &sku)))?;
    let mut with_id = bodies::valid(rng, &sku);
    with_id["id"] = json!(id);
    api.call(&Op::json("PUT", &member(id), &with_id))?;
    api.call(&Op::raw("PUT", &member(id), b"[1]"))?;
    api.call(&Op::json(
        "PUT",
        &member(api.model.last_id + 40),
        &bodies::valid(rng, &skus.next()),
    ))?;
    api.call(&Op::new("GET", &member(id)))?;
    Ok(())
}

fn merge(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let id = create(api, &bodies::full(rng, &skus.next()))?;
    let other_sku = skus.next();
    create(api, &bodies::valid(rng, &other_sku))?;
    let patches = [
        json!({"price_cents": rng.range(1, 9999)}),
        json!({"name": format!("Renamed {}", rng.word(4))}),
        json!({"description": null}),
        json!({"description": format!("back {}", rng.word(3))}),
        json!({"tags": ["only", "these"]}),
        json!({"tags": null}),
        json!({}),
        json!({"name": null}),
        json!({"price_cents": -5, "colour": "red"}),
        json!({"sku": other_sku}),
        json!({"sku": skus.next(), "tags": ["fresh"]}),
    ];
    for patch in &patches {
        api.call(&Op::json("PATCH", &member(id), patch))?;
    }
    api.call(&Op::raw("PATCH", &member(id), b"\"text\""))?;
    api.call(&Op::json(
        "PATCH",
        &member(api.model.last_id + 7),
        &json!({"name": "ghost"}),
    ))?;
    api.call(&Op::new("GET", &member(id)))?;
    Ok(())
}

fn current_etag(api: &mut Api, id: u64) -> Result<String, Failure> {
    if api.etag(id).is_none() {
        api.call(&Op::new("GET", &member(id)))?;
    }
    Ok(api.etag(id).unwrap_or_default())
}

fn conditional_get(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let id = create(api, &bodies::full(rng, &skus.next()))?;
    api.call(&Op::new("GET", &member(id)))?;
    api.call(&Op::new("GET", &member(id)))?;
    let tag = current_etag(api, id)?;
    let path = member(id);
    api.call(&Op::new("GET", &path).if_none_match(&tag, true))?;
    api.call(&Op::new("GET", &path).if_none_match(&format!("W/{tag}"), true))?;
    api.call(&Op::new("GET", &path).if_none_match(&format!("\"{}\", {tag}", rng.word(8)), true))?;
    api.call(&Op::new("GET", &path).if_none_match("*", true))?;
    api.call(&Op::new("GET", &path).if_none_match(&format!("\"{}\"", rng.word(10)), false))?;
    api.call(&Op::json(
        "PATCH",
        &path,
        &json!({"price_cents": rng.range(10_000, 20_000)}),
    ))?;
    let stale = api.stale_etag(id).unwrap_or(tag);
    api.call(&Op::new("GET", &path).if_none_match(&stale, false))?;
    let fresh = current_etag(api, id)?;
    api.call(&Op::new("GET", &path).if_none_match(&fresh, true))?;
    api.call(&Op::new("DELETE", &path))?;
    api.call(&Op::new("GET", &path).if_none_match("*", false))?;
    Ok(())
}

fn delete(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    let id = create(api, &bodies::valid(rng, &skus.next()))?;
    api.call(&Op::new("DELETE", &member(id)))?;
    api.call(&Op::new("GET", &member(id)))?;
    api.call(&Op::new("DELETE", &member(id)))?;
    api.call(&Op::json("PATCH", &member(id), &json!({"price_cents": 1})))?;
    // The newest item goes: an id from `len() + 1` would now collide with an existing one, or reuse this one.
    let newest = create(api, &bodies::valid(rng, &skus.next()))?;
    api.call(&Op::new("DELETE", &member(newest)))?;
    let next = create(api, &bodies::valid(rng, &skus.next()))?;
    api.call(&Op::new("GET", &member(next)))?;
    api.call(&Op::new("GET", "/items"))?;
    Ok(())
}

fn not_found_vs_not_allowed(api: &mut Api, rng: &mut Rng) -> Result<(), Failure> {
    let existing = *api.model.items.keys().next().unwrap_or(&1);
    let missing = api.model.last_id + rng.range(100, 999);
    let mut cases: Vec<(String, String)> = vec![
        ("DELETE".into(), "/items".into()),
        ("PUT".into(), "/items".into()),
        ("PATCH".into(), "/items".into()),
        ("BREW".into(), "/items".into()),
        ("POST".into(), member(existing)),
        ("POST".into(), member(missing)),
        ("POST".into(), "/openapi.json".into()),
        ("DELETE".into(), "/openapi.json".into()),
        ("GET".into(), "/items/".into()),
        ("POST".into(), "/items/".into()),
        ("GET".into(), format!("/items/0{existing}")),
        ("GET".into(), "/items/0".into()),
        ("GET".into(), format!("/items/{}", rng.word(3))),
        ("DELETE".into(), format!("/items/{}", rng.word(3))),
        ("GET".into(), format!("{}/details", member(existing))),
        ("GET".into(), "/Items".into()),
        ("GET".into(), format!("/{}", rng.word(5))),
        ("GET".into(), "/items/99999999999999999999999".into()),
    ];
    rng.shuffle(&mut cases);
    for (method, target) in cases {
        api.call(&Op::new(&method, &target))?;
    }
    Ok(())
}

fn random_trace(api: &mut Api, rng: &mut Rng, skus: &mut Skus) -> Result<(), Failure> {
    for _ in 0..TRACE_LENGTH {
        let ids: Vec<u64> = api.model.items.keys().copied().collect();
        let some_id = |rng: &mut Rng| match ids.is_empty() || rng.chance(1, 8) {
            true => api.model.last_id + rng.range(1, 3),
            false => *rng.pick(&ids),
        };
        let taken: Vec<String> = api
            .model
            .items
            .values()
            .filter_map(|item| item["sku"].as_str().map(str::to_string))
            .collect();
        let op = match rng.below(100) {
            0..=21 => Op::json("POST", "/items", &bodies::valid(rng, &skus.next())),
            22..=29 => Op::json("POST", "/items", &bodies::faulty(rng, &skus.next())),
            30..=33 if !taken.is_empty() => {
                let sku = rng.pick(&taken).clone();
                Op::json("POST", "/items", &bodies::valid(rng, &sku))
            }
            34..=49 => {
                let id = some_id(rng);
                match api.etag(id) {
                    Some(tag) if rng.chance(1, 3) => {
                        Op::new("GET", &member(id)).if_none_match(&tag, true)
                    }
                    _ => Op::new("GET", &member(id)),
                }
            }
            50..=57 => {
                let id = some_id(rng);
                let body = match rng.below(4) {
                    0 => bodies::faulty(rng, &skus.next()),
                    1 if !taken.is_empty() => {
                        let sku = rng.pick(&taken).clone();
                        bodies::valid(rng, &sku)
                    }
                    _ => bodies::full(rng, &skus.next()),
                };
                Op::json("PUT", &member(id), &body)
            }
            58..=79 => {
                let id = some_id(rng);
                let taken_sku = (!taken.is_empty()).then(|| rng.pick(&taken).clone());
                let fresh = skus.next();
                Op::json(
                    "PATCH",
                    &member(id),
                    &bodies::patch(rng, &fresh, taken_sku.as_deref()),
                )
            }
            80..=89 => Op::new("DELETE", &member(some_id(rng))),
            90..=95 => Op::new("GET", "/items"),
            _ => {
                let method = *rng.pick(&["POST", "DELETE"]);
                let target = *rng.pick(&["/items/", "/openapi.json", "/items/x"]);
                Op::new(method, target)
            }
        };
        api.call(&op)?;
    }
    Ok(())
}

fn fetch_document(api: &mut Api) -> Result<Value, Failure> {
    let response = api.fetch("/openapi.json")?;
    let rule = "GET /openapi.json answers 200 with the OpenAPI document, as application/json";
    if response.status != 200 || media_type(&response) != "application/json" {
        return Err(Failure::new(rule).got(summary(&response)));
    }
    let document = json_body(&response).map_err(|why| Failure::new(rule).got(why))?;
    if !document.is_object() {
        return Err(Failure::new(rule).got("a JSON value that is not an object"));
    }
    Ok(document)
}
