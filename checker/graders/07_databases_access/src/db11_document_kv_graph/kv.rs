//! The partitioned key-value table: seeded items, seeded queries, and conditional puts.

use std::collections::BTreeMap;

use backlings_grade::{Failure, Rng, Stdio, ensure_eq};
use serde_json::{Value, json};

const PREFIXES: [&str; 4] = ["order#", "address#", "session#", "o"];

/// The table as the program must hold it: partition → sort key → item.
#[derive(Default)]
pub struct Model {
    partitions: BTreeMap<String, BTreeMap<String, Value>>,
    /// Every sort key written, to draw range ends from.
    keys: Vec<String>,
}

fn partition(rng: &mut Rng) -> String {
    format!("user#{}", rng.range(1, 6))
}

fn sort_key(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..5 => format!("order#{:04}", rng.below(200)),
        5 => "profile".to_string(),
        6 => format!("address#{}", rng.pick(&["home", "work", "billing"])),
        _ => format!("session#{}", rng.word(4)),
    }
}

impl Model {
    fn get(&self, pk: &str, sk: &str) -> Option<&Value> {
        self.partitions.get(pk)?.get(sk)
    }

    fn put(&mut self, pk: &str, sk: &str, item: Value) {
        self.partitions
            .entry(pk.to_string())
            .or_default()
            .insert(sk.to_string(), item);
        self.keys.push(sk.to_string());
    }

    /// 180 unconditional puts (overwrites included).
    pub fn load(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        for n in 0..180 {
            let (pk, sk) = (partition(rng), sort_key(rng));
            let item = json!({"n": n, "version": 1});
            p.expect(
                &json!({"op": "kv_put", "pk": pk, "sk": sk, "item": item, "condition": null}),
                &json!({"ok": true}),
                "an unconditional put always succeeds",
            )?;
            self.put(&pk, &sk, item);
        }
        Ok(())
    }

    /// One seeded query, or a get, against the model.
    pub fn check_query(&self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let pk = partition(rng);
        if rng.chance(1, 5) {
            let sk = sort_key(rng);
            p.expect(
                &json!({"op": "kv_get", "pk": pk, "sk": sk}),
                &json!({"item": self.get(&pk, &sk)}),
                "a get returns the item last put under (pk, sk), or null",
            )?;
            return Ok(());
        }
        let begins_with = rng.chance(1, 2).then(|| *rng.pick(&PREFIXES));
        let between = rng.chance(1, 3).then(|| {
            let (a, b) = (rng.pick(&self.keys).clone(), rng.pick(&self.keys).clone());
            if a <= b { (a, b) } else { (b, a) }
        });
        let descending = rng.chance(1, 2);
        let limit = rng.chance(1, 2).then(|| rng.range(1, 8) as usize);
        let mut items: Vec<Value> = self
            .partitions
            .get(&pk)
            .into_iter()
            .flatten()
            .filter(|(sk, _)| begins_with.is_none_or(|prefix| sk.starts_with(prefix)))
            .filter(|(sk, _)| {
                between
                    .as_ref()
                    .is_none_or(|(low, high)| *sk >= low && *sk <= high)
            })
            .map(|(sk, item)| json!({"sk": sk, "item": item}))
            .collect();
        if descending {
            items.reverse();
        }
        items.truncate(limit.unwrap_or(usize::MAX));
        let request = json!({
            "op": "kv_query", "pk": pk, "begins_with": begins_with, "between": between,
            "descending": descending, "limit": limit,
        });
        let reply = p.request(&request)?;
        ensure_eq(
            &reply,
            &json!({ "items": items }),
            "a query returns the items of one partition whose sort key starts with `begins_with` and lies within \
             `between` (both ends included), in sort-key order (byte order of the strings; reversed when \
             descending), the first `limit` of them",
        )
    }

    /// Sends a conditional put and checks the verdict against the model (and that a refused put changed nothing).
    fn conditional(
        &mut self,
        p: &mut Stdio,
        (pk, sk): (&str, &str),
        item: Value,
        condition: Value,
        why: &str,
    ) -> Result<(), Failure> {
        let current = self.get(pk, sk).cloned();
        let holds = match &condition {
            Value::Null => true,
            Value::String(_) => current.is_none(),
            version => current.as_ref().and_then(|c| c.get("version")) == version.get("version"),
        };
        let expected = if holds {
            json!({"ok": true})
        } else {
            json!({"error": "ConditionalCheckFailed"})
        };
        let reply = p.request(
            &json!({"op": "kv_put", "pk": pk, "sk": sk, "item": item, "condition": condition}),
        )?;
        ensure_eq(&reply, &expected, why)?;
        if holds {
            self.put(pk, sk, item);
        }
        p.expect(
            &json!({"op": "kv_get", "pk": pk, "sk": sk}),
            &json!({"item": self.get(pk, sk)}),
            "a put whose condition failed changes nothing; one whose condition held stores the new item",
        )?;
        Ok(())
    }

    /// A create-only story, two writers racing with optimistic locking, then seeded conditional puts.
    pub fn check_conditions(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let pk = format!("user#{}", rng.range(7, 9));
        let key = (pk.as_str(), "profile");
        let create = "a put with \"not_exists\" creates the item only when (pk, sk) holds none";
        self.conditional(
            p,
            key,
            json!({"name": "ada", "version": 1}),
            json!("not_exists"),
            create,
        )?;
        self.conditional(
            p,
            key,
            json!({"name": "eve", "version": 1}),
            json!("not_exists"),
            create,
        )?;
        let race = "optimistic locking: two writers read version 1; the first put with {\"version\": 1} succeeds \
                    and stores version 2, so the second, still expecting version 1, fails with \
                    ConditionalCheckFailed";
        self.conditional(
            p,
            key,
            json!({"name": "ada l.", "version": 2}),
            json!({"version": 1}),
            race,
        )?;
        self.conditional(
            p,
            key,
            json!({"name": "ada b.", "version": 2}),
            json!({"version": 1}),
            race,
        )?;
        let missing = (pk.as_str(), "settings");
        self.conditional(
            p,
            missing,
            json!({"theme": "dark", "version": 1}),
            json!({"version": 0}),
            "optimistic locking: a put expecting a version fails when there is no item at all",
        )?;
        for _ in 0..40 {
            let pk = format!("user#{}", rng.range(7, 9));
            let sk = *rng.pick(&["profile", "settings", "cart"]);
            let version = self
                .get(&pk, sk)
                .and_then(|item| item["version"].as_i64())
                .unwrap_or(0);
            let (condition, next) = match rng.below(4) {
                0 => (json!("not_exists"), 1),
                1 => (json!({"version": version}), version + 1),
                2 => (json!({"version": version.saturating_sub(1)}), version + 1),
                _ => (Value::Null, version + 1),
            };
            self.conditional(
                p,
                (&pk, sk),
                json!({"version": next, "by": rng.word(3)}),
                condition,
                "a conditional put succeeds exactly when its condition holds: \"not_exists\" when no item is there, \
                 {\"version\": v} when the stored item's version is v (optimistic locking); otherwise \
                 ConditionalCheckFailed",
            )?;
        }
        Ok(())
    }
}
