//! The document store: seeded profiles, seeded MongoDB-style filters, and the model that answers them.

use std::collections::BTreeMap;

use backlings_grade::{Failure, Rng, Stdio, ensure};
use serde_json::{Map, Value, json};

const PLANS: [&str; 4] = ["free", "pro", "team", "enterprise"];
const CITIES: [&str; 6] = ["Oslo", "Lyon", "Porto", "Kyoto", "Lima", "Accra"];

/// The store as the program must hold it.
pub struct Model {
    docs: BTreeMap<i64, Value>,
    /// Indexed fields.
    indexed: Vec<&'static str>,
}

/// A seeded profile: some fields missing, some `age`s of the wrong type.
fn profile(rng: &mut Rng, id: i64) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(id));
    doc.insert("name".into(), json!(rng.word(5)));
    match rng.below(20) {
        0 => {}
        1 => {
            doc.insert("age".into(), json!("unknown"));
        }
        _ => {
            doc.insert("age".into(), json!(rng.range(18, 70)));
        }
    }
    if !rng.chance(1, 12) {
        doc.insert("plan".into(), json!(rng.pick(&PLANS)));
    }
    doc.insert("score".into(), json!(rng.below(1000)));
    if !rng.chance(1, 10) {
        let zip = format!("{:05}", rng.below(100_000));
        doc.insert(
            "address".into(),
            json!({"city": rng.pick(&CITIES), "zip": zip}),
        );
    }
    Value::Object(doc)
}

/// A seeded filter of one or two conditions.
pub fn random_filter(rng: &mut Rng) -> Value {
    let mut filter = Map::new();
    for _ in 0..rng.range(1, 2) {
        let (path, condition) = match rng.below(9) {
            0 => (
                "age",
                json!({ *rng.pick(&["$gt", "$gte", "$lt", "$lte"]): rng.range(20, 65) }),
            ),
            1 => {
                let low = rng.range(18, 50);
                ("age", json!({"$gte": low, "$lt": low + rng.range(1, 20)}))
            }
            2 => ("plan", json!(rng.pick(&PLANS))),
            3 => ("plan", json!({"$ne": rng.pick(&PLANS)})),
            4 => ("plan", json!({"$in": [rng.pick(&PLANS), rng.pick(&PLANS)]})),
            5 => (
                "address.city",
                json!({"$in": [rng.pick(&CITIES), rng.pick(&CITIES), "Nowhere"]}),
            ),
            6 => (
                "address.city",
                json!({ *rng.pick(&["$eq", "$ne"]): rng.pick(&CITIES) }),
            ),
            7 => ("name", json!({ *rng.pick(&["$gt", "$lt"]): rng.word(1) })),
            _ => (
                "score",
                json!({ *rng.pick(&["$gt", "$lte"]): rng.below(1000) }),
            ),
        };
        filter.insert(path.to_string(), condition);
    }
    Value::Object(filter)
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = doc;
    for key in path.split('.') {
        value = value.as_object()?.get(key)?;
    }
    Some(value)
}

/// One operator, MongoDB's way.
fn holds(field: Option<&Value>, op: &str, operand: &Value) -> bool {
    let order = match (field, operand) {
        (Some(Value::Number(a)), Value::Number(b)) => {
            a.as_i64().zip(b.as_i64()).map(|(a, b)| a.cmp(&b))
        }
        (Some(Value::String(a)), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    };
    match op {
        "$eq" => field == Some(operand),
        "$ne" => field != Some(operand),
        "$gt" => order.is_some_and(|o| o.is_gt()),
        "$gte" => order.is_some_and(|o| o.is_ge()),
        "$lt" => order.is_some_and(|o| o.is_lt()),
        "$lte" => order.is_some_and(|o| o.is_le()),
        _ => field.is_some_and(|value| {
            operand
                .as_array()
                .is_some_and(|items| items.contains(value))
        }),
    }
}

fn operators(condition: &Value) -> Vec<(String, Value)> {
    match condition {
        Value::Object(ops) if ops.keys().all(|k| k.starts_with('$')) => ops
            .iter()
            .map(|(op, operand)| (op.clone(), operand.clone()))
            .collect(),
        literal => vec![("$eq".to_string(), literal.clone())],
    }
}

fn matches(doc: &Value, filter: &Value) -> bool {
    filter
        .as_object()
        .into_iter()
        .flatten()
        .all(|(path, condition)| {
            let field = lookup(doc, path);
            operators(condition)
                .iter()
                .all(|(op, operand)| holds(field, op, operand))
        })
}

/// The rules behind a filter, in words, for a report.
fn rules(filter: &Value) -> Vec<String> {
    let mut rules = Vec::new();
    let text = filter.to_string();
    if text.contains("$gt") || text.contains("$lt") {
        rules.push(
            "$gt, $gte, $lt and $lte compare numbers with numbers and strings with strings (byte order); a field of \
             another type (\"age\": \"unknown\") or a missing field never matches"
                .to_string(),
        );
    }
    if text.contains("$ne") {
        rules.push(
            "$ne matches every document whose field is not equal, documents without the field included"
                .to_string(),
        );
    }
    if text.contains("$in") {
        rules.push("$in matches when the field is there and equals one of the values".to_string());
    }
    rules.push(
        "a plain value or $eq matches when the field is there and equal; every condition must hold"
            .to_string(),
    );
    if text.contains('.') {
        rules.push("a dotted path (address.city) reaches into the nested document".to_string());
    }
    rules
}

impl Model {
    pub fn seeded(rng: &mut Rng) -> Model {
        let docs = (1..=120).map(|id| (id, profile(rng, id))).collect();
        Model {
            docs,
            indexed: Vec::new(),
        }
    }

    /// Inserts every document into the program.
    pub fn load(&self, p: &mut Stdio) -> Result<(), Failure> {
        for doc in self.docs.values() {
            p.expect(
                &json!({"op": "doc_insert", "doc": doc}),
                &json!({"ok": true}),
                "inserting a new _id answers ok",
            )?;
        }
        Ok(())
    }

    /// Sends a find and compares the documents (and, with an index, the scan) with the model.
    pub fn check_find(&self, p: &mut Stdio, filter: &Value) -> Result<(), Failure> {
        let reply = p.request(&json!({"op": "doc_find", "filter": filter}))?;
        let expected: Vec<&Value> = self
            .docs
            .values()
            .filter(|doc| matches(doc, filter))
            .collect();
        let Some(found) = reply["docs"].as_array() else {
            return Err(
                Failure::new("doc_find answers {\"docs\": [...], \"scanned\": n}")
                    .got(reply.to_string()),
            );
        };
        let ids = |docs: &[&Value]| {
            docs.iter()
                .map(|doc| doc["_id"].to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let got: Vec<&Value> = found.iter().collect();
        if got != expected {
            let missing = expected.iter().find(|doc| !got.contains(doc));
            let extra = got.iter().find(|doc| !expected.contains(doc));
            let mut failure = Failure::new(format!(
                "find returns exactly the documents that match the filter {filter}, whole, by _id ascending"
            ))
            .expected(format!("_id [{}]", ids(&expected)))
            .got(format!("_id [{}]", ids(&got)));
            if let Some(doc) = missing {
                failure = failure.detail(format!("this document matches but is missing: {doc}"));
            } else if let Some(doc) = extra {
                failure =
                    failure.detail(format!("this document does not match but came back: {doc}"));
            }
            for rule in rules(filter) {
                failure = failure.detail(rule);
            }
            let indexed: Vec<&str> = self
                .indexed
                .iter()
                .copied()
                .filter(|field| filter.get(*field).is_some())
                .collect();
            if !indexed.is_empty() {
                failure = failure.detail(format!(
                    "the filter uses the indexed field {indexed:?}: an index covers the documents stored before it \
                     was created as well as the ones inserted after"
                ));
            }
            return Err(failure);
        }
        let bound = self
            .indexed
            .iter()
            .filter_map(|field| {
                let condition = filter.get(*field)?;
                let ops = operators(condition);
                let (_, value) = ops.iter().find(|(op, _)| op == "$eq")?;
                let holding = self
                    .docs
                    .values()
                    .filter(|doc| lookup(doc, field) == Some(value))
                    .count();
                Some((*field, holding))
            })
            .max_by_key(|(_, holding)| *holding);
        if let Some((field, holding)) = bound {
            let scanned = reply["scanned"].as_u64().unwrap_or(u64::MAX);
            ensure(scanned <= holding as u64, || {
                Failure::new(format!(
                    "with an index on `{field}`, a find with an equality on it examines only the documents holding \
                     that value ({holding} here), not the whole collection ({} documents)",
                    self.docs.len()
                ))
                .expected(format!("scanned ≤ {holding}"))
                .got(format!("scanned {scanned}"))
                .detail(format!("the filter: {filter}"))
            })?;
        }
        Ok(())
    }

    /// Indexes `plan` and `address.city`, inserts more documents (and a duplicate), and finds on them.
    pub fn check_indexes(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        for field in ["plan", "address.city"] {
            p.expect(
                &json!({"op": "doc_index", "field": field}),
                &json!({"ok": true}),
                "creating an index answers ok",
            )?;
            self.indexed.push(field);
        }
        for id in 121..=160 {
            let doc = profile(rng, id);
            p.expect(
                &json!({"op": "doc_insert", "doc": doc}),
                &json!({"ok": true}),
                "inserting a new _id answers ok",
            )?;
            self.docs.insert(id, doc);
        }
        let id = rng.range(1, 160) as i64;
        let duplicate = json!({"_id": id, "name": "impostor", "plan": "pro"});
        let reply = p.request(&json!({"op": "doc_insert", "doc": duplicate}))?;
        ensure(reply.get("error").is_some(), || {
            Failure::new(format!("_id {id} is taken: inserting another document with it is an error (a duplicate key)"))
                .expected("{\"error\": \"duplicate key …\"}")
                .got(reply.to_string())
        })?;
        self.check_find(p, &json!({"_id": id}))?;
        for i in 0..24 {
            let mut filter = Map::new();
            if i % 3 != 2 {
                filter.insert("plan".into(), json!(rng.pick(&PLANS)));
            }
            if i % 3 != 0 {
                filter.insert("address.city".into(), json!({"$eq": rng.pick(&CITIES)}));
            }
            if i % 2 == 1 {
                filter.insert("age".into(), json!({"$gte": rng.range(20, 50)}));
            }
            self.check_find(p, &Value::Object(filter))?;
        }
        Ok(())
    }
}
