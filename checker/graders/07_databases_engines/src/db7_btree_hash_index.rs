//! Grader of `db7_btree_hash_index`: an append-only log with a hash index and a B+tree, crash recovery and
//! compaction, driven over JSON lines on a data directory the grader owns.
//!
//! 1. A short story: put, get, overwrite, delete.
//! 2. Range scans after thousands of inserts in a scrambled order (many node splits), with deletes.
//! 3. Seeded operations against a `BTreeMap`, one request at a time.
//! 4. SIGKILL and restart on the same directory: every acknowledged write is there, deleted keys stay deleted.
//! 5. A torn record, then a corrupted one, appended to the log's tail: recovery drops them, and writes made
//!    after recovering survive the next restart (the tail was cut, not written after).
//! 6. Compaction: the log shrinks to exactly the live records, and everything reads the same, before and after
//!    a restart.

use std::collections::{BTreeMap, BTreeSet};

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use crate::data_dir::{DataDir, crc32};

const LOG: &str = "data.log";
/// Past every key the grader uses ("k" and digits).
const KEY_END: &str = "~";

/// What the model knows of the store, and how it came to be.
#[derive(Default)]
struct Model {
    map: BTreeMap<String, String>,
    /// Keys deleted and not written since.
    deleted: BTreeSet<String>,
    /// A damaged record the grader appended: (key, value, "torn" or "corrupted").
    damaged: Option<(String, String, &'static str)>,
    /// Keys written since the last recovery from a damaged tail.
    since_damage: BTreeSet<String>,
    /// The size the log must have: every record appended since the last compaction.
    log_bytes: u64,
}

impl Model {
    fn put(&mut self, key: &str, value: &str) {
        self.log_bytes += (12 + key.len() + value.len()) as u64;
        self.map.insert(key.to_string(), value.to_string());
        self.deleted.remove(key);
        self.since_damage.insert(key.to_string());
    }

    fn delete(&mut self, key: &str) -> bool {
        let existed = self.map.remove(key).is_some();
        if existed {
            self.log_bytes += (12 + key.len()) as u64;
            self.deleted.insert(key.to_string());
        }
        existed
    }

    fn range(&self, start: &str, end: &str, limit: usize) -> Vec<(String, String)> {
        if start >= end {
            return Vec::new();
        }
        self.map
            .range(start.to_string()..end.to_string())
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn live_bytes(&self) -> u64 {
        self.map
            .iter()
            .map(|(k, v)| (12 + k.len() + v.len()) as u64)
            .sum()
    }
}

/// The program and the model, in step, with the phase of the scenario for the report.
struct Session<'a> {
    program: Stdio,
    model: &'a mut Model,
}

fn record(key: &str, value: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((key.len() as u32).to_le_bytes());
    body.extend((value.len() as u32).to_le_bytes());
    body.extend(key.as_bytes());
    body.extend(value.as_bytes());
    let mut bytes = crc32(&body).to_le_bytes().to_vec();
    bytes.extend(body);
    bytes
}

fn shape_failure(request: &Value, line: &str, shape: &str) -> Failure {
    Failure::new("the reply does not have the shape the protocol gives")
        .expected(shape)
        .got(line)
        .detail(format!("sent: {request}"))
        .detail("the provided `main` writes these replies: if you changed it, compare it with the original")
}

impl Session<'_> {
    fn request(&mut self, request: &Value) -> Result<Value, Failure> {
        self.program.send_line(&request.to_string())?;
        let line = self.program.recv_line()?;
        let reply: Value = serde_json::from_str(&line)
            .map_err(|_| shape_failure(request, &line, "a JSON object"))?;
        if let Some(error) = reply.get("error") {
            return Err(
                Failure::new("the store answered an error to a valid request")
                    .got(&line)
                    .detail(format!("sent: {request}"))
                    .detail(format!("error: {error}")),
            );
        }
        Ok(reply)
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        let request = json!({"op":"put","key":key,"value":value});
        let reply = self.request(&request)?;
        if reply != json!({"ok":true}) {
            return Err(shape_failure(
                &request,
                &reply.to_string(),
                r#"{"ok":true}"#,
            ));
        }
        self.model.put(key, value);
        Ok(())
    }

    fn get(&mut self, key: &str) -> Result<(), Failure> {
        let request = json!({"op":"get","key":key});
        let reply = self.request(&request)?;
        let got = match reply.get("value") {
            Some(Value::Null) => None,
            Some(Value::String(value)) => Some(value.clone()),
            _ => {
                return Err(shape_failure(
                    &request,
                    &reply.to_string(),
                    r#"{"value":"…"} or {"value":null}"#,
                ));
            }
        };
        let want = self.model.map.get(key).cloned();
        if got != want {
            let rule = match (&want, &got) {
                (None, Some(_)) if self.model.deleted.contains(key) => format!(
                    "a deleted key stays deleted: {key} was deleted, yet get returns a value"
                ),
                (None, _) => format!("get of a key never written returns null ({key})"),
                (Some(_), None) => {
                    format!("get returns the latest value put under {key}, which is not deleted")
                }
                (Some(_), Some(_)) => format!("get returns the latest value put under {key}"),
            };
            return Err(Failure::new(rule)
                .expected(json!({"value":want}))
                .got(reply)
                .detail(format!("sent: {request}")));
        }
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), Failure> {
        let request = json!({"op":"delete","key":key});
        let reply = self.request(&request)?;
        let Some(got) = reply.get("existed").and_then(Value::as_bool) else {
            return Err(shape_failure(
                &request,
                &reply.to_string(),
                r#"{"existed":true|false}"#,
            ));
        };
        let want = self.model.delete(key);
        if got != want {
            return Err(Failure::new(format!(
                "delete answers whether {key} was there (live) before"
            ))
            .expected(json!({"existed":want}))
            .got(reply)
            .detail(format!("sent: {request}")));
        }
        Ok(())
    }

    fn range(&mut self, start: &str, end: &str, limit: usize) -> Result<(), Failure> {
        let request = json!({"op":"range","start":start,"end":end,"limit":limit});
        let reply = self.request(&request)?;
        let items: Option<Vec<(String, String)>> = reply
            .get("items")
            .and_then(Value::as_array)
            .and_then(|items| {
                items
                    .iter()
                    .map(|item| {
                        Some((
                            item.get(0)?.as_str()?.to_string(),
                            item.get(1)?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            });
        let Some(got) = items else {
            return Err(shape_failure(
                &request,
                &short(&reply),
                r#"{"items":[["key","value"],…]}"#,
            ));
        };
        let want = self.model.range(start, end, limit);
        if got != want {
            return Err(explain_range(self.model, &request, &want, &got));
        }
        Ok(())
    }

    /// Checks every live key and value with one full range scan (used after a restart).
    fn check_all(&mut self, after: &str) -> Result<(), Failure> {
        self.range("", KEY_END, 1_000_000)
            .map_err(|failure| failure.detail(format!("(checked {after})")))
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 300 {
        format!("{}…", &text[..300])
    } else {
        text
    }
}

/// The first difference between the expected and the returned range, in words.
fn explain_range(
    model: &Model,
    request: &Value,
    want: &[(String, String)],
    got: &[(String, String)],
) -> Failure {
    let want_map: BTreeMap<&str, &str> =
        want.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let got_map: BTreeMap<&str, &str> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let missing: Vec<&str> = want_map
        .keys()
        .filter(|k| !got_map.contains_key(*k))
        .copied()
        .collect();
    let extra: Vec<&str> = got_map
        .keys()
        .filter(|k| !want_map.contains_key(*k))
        .copied()
        .collect();
    let changed: Vec<&str> = want_map
        .iter()
        .filter(|(k, v)| got_map.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| *k)
        .collect();
    let damaged = model.damaged.as_ref();
    let rule = if let Some(key) = extra.iter().find(|k| model.deleted.contains(**k)) {
        format!(
            "a deleted key came back: {key} was deleted before, yet it is there; a delete must append a tombstone to \
             the log, or recovery replays the old put"
        )
    } else if let Some((key, value, kind)) =
        damaged.filter(|(key, value, _)| got_map.get(key.as_str()) == Some(&value.as_str()))
    {
        format!(
            "recovery applied a {kind} record: the grader appended a {kind} record (put {key} = {value}) to the log's \
             tail, as a crash in the middle of a write leaves it; a record cut short or failing its CRC was never \
             acknowledged and must be dropped"
        )
    } else if let (Some(key), Some(_)) = (
        missing.iter().find(|k| model.since_damage.contains(**k)),
        damaged,
    ) {
        format!(
            "a write acknowledged after recovering from a damaged tail was lost at the next restart ({key}): recovery \
             must cut the log at the end of the last valid record, or new records land after the garbage and the \
             next recovery stops before them"
        )
    } else if !got.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        "range returns every live key start <= key < end in ascending order, each once".to_string()
    } else if !changed.is_empty() {
        format!(
            "range returns the latest value of each key ({} differ, first {})",
            changed.len(),
            changed[0]
        )
    } else {
        "range returns every live key start <= key < end in ascending order, at most limit of them"
            .to_string()
    };
    let list = |keys: &[&str]| {
        let shown: Vec<&str> = keys.iter().take(8).copied().collect();
        format!(
            "{}{}",
            shown.join(", "),
            if keys.len() > 8 {
                format!(" … ({} in all)", keys.len())
            } else {
                String::new()
            }
        )
    };
    let mut failure = Failure::new(rule)
        .expected(format!("{} items", want.len()))
        .got(format!("{} items", got.len()))
        .detail(format!("sent: {request}"));
    if !missing.is_empty() {
        failure = failure.detail(format!("missing: {}", list(&missing)));
    }
    if !extra.is_empty() {
        failure = failure.detail(format!("not expected: {}", list(&extra)));
    }
    if !changed.is_empty() {
        failure = failure.detail(format!("wrong value: {}", list(&changed)));
    }
    failure
}

/// A random value of `low..=high` letters.
fn word(rng: &mut Rng, low: u64, high: u64) -> String {
    let len = rng.range(low, high) as usize;
    rng.word(len)
}

fn key(n: u64) -> String {
    format!("k{n:05}")
}

/// Grades `db7_btree_hash_index`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DataDir::new()?;
    let mut model = Model::default();

    g.scenario("put, get, overwrite and delete");
    let mut s = Session {
        program: dir.start(g)?,
        model: &mut model,
    };
    s.get("k00001")?;
    s.put("k00001", "one")?;
    s.put("k00002", "two")?;
    s.get("k00001")?;
    s.put("k00001", "uno")?;
    s.get("k00001")?;
    s.delete("k00002")?;
    s.delete("k00002")?;
    s.get("k00002")?;
    s.range("k00000", "k00009", 10)?;
    s.range("k00009", "k00000", 10)?;

    g.scenario(
        "range scans after 3 000 inserts in a scrambled order (many node splits) and 500 deletes",
    );
    let rng = g.rng();
    let mut order: Vec<u64> = (0..3_000).collect();
    rng.shuffle(&mut order);
    let values: Vec<String> = order.iter().map(|_| word(rng, 1, 12)).collect();
    for (&n, value) in order.iter().zip(&values) {
        s.put(&key(n * 3), value)?;
    }
    for &n in order.iter().take(500) {
        s.delete(&key(n * 3))?;
    }
    s.range("", KEY_END, 10_000)?;
    for _ in 0..60 {
        let a = g.rng().below(9_200);
        let b = a + g.rng().range(1, 400);
        let limit = g.rng().range(1, 120) as usize;
        s.range(&key(a), &key(b), limit)?;
    }

    g.scenario("12 000 seeded operations against a BTreeMap");
    let mut rng = g.rng().fork(7);
    seeded(&mut s, &mut rng, 12_000)?;

    g.scenario("killed with SIGKILL and restarted: every acknowledged write is there, deleted keys stay deleted");
    drop(s);
    for round in 0..2 {
        let mut s = Session {
            program: dir.start(g)?,
            model: &mut model,
        };
        s.check_all("after a SIGKILL and a restart")?;
        let mut rng = g.rng().fork(100 + round);
        seeded(&mut s, &mut rng, 1_500)?;
    }

    g.scenario(
        "a torn record at the log's tail is dropped, and later writes survive the next restart",
    );
    damage(g, &dir, &mut model, "torn")?;

    g.scenario("a corrupted record (bad CRC) at the log's tail is dropped, and later writes survive the next restart");
    damage(g, &dir, &mut model, "corrupted")?;

    g.scenario("compaction rewrites the log with exactly the live records, and nothing changes for a reader");
    compaction(g, &dir, &mut model)
}

fn seeded(s: &mut Session, rng: &mut Rng, ops: usize) -> Result<(), Failure> {
    for _ in 0..ops {
        let k = key(if rng.chance(1, 2) {
            rng.below(300)
        } else {
            rng.below(9_000)
        });
        match rng.below(100) {
            0..45 => {
                let value = word(rng, 0, 16);
                s.put(&k, &value)?;
            }
            45..75 => s.get(&k)?,
            75..88 => s.delete(&k)?,
            _ => {
                let start = rng.below(9_000);
                let end = start + rng.range(0, 300);
                s.range(&key(start), &key(end), rng.range(0, 30) as usize)?;
            }
        }
    }
    Ok(())
}

/// Kills the program, appends a damaged record, restarts, writes, kills again, restarts: all must agree.
fn damage(
    g: &mut Grading,
    dir: &DataDir,
    model: &mut Model,
    kind: &'static str,
) -> Result<(), Failure> {
    let target = model.map.keys().next().cloned().unwrap_or_else(|| key(1));
    let value = format!("{kind}-{}", g.rng().word(8));
    let mut bytes = record(&target, &value);
    if kind == "torn" {
        let keep = g.rng().range(1, bytes.len() as u64 - 1) as usize;
        bytes.truncate(keep);
    } else {
        let at = bytes.len() - 1 - g.rng().below(value.len() as u64) as usize;
        bytes[at] ^= 0x20;
    }
    dir.append(LOG, &bytes)?;
    model.damaged = Some((target.clone(), value, kind));
    model.since_damage.clear();
    let mut s = Session {
        program: dir.start(g)?,
        model,
    };
    s.check_all(&format!(
        "after a restart on a log with a {kind} record at its tail"
    ))?;
    let mut rng = g.rng().fork(200 + kind.len() as u64);
    for n in 0..20 {
        let value = rng.word(6);
        s.put(&format!("k9{n:04}"), &value)?;
    }
    s.put(&target, "rewritten")?;
    drop(s);
    let mut s = Session {
        program: dir.start(g)?,
        model,
    };
    s.check_all(&format!(
        "after recovering from the {kind} tail, 21 puts, a SIGKILL and another restart"
    ))?;
    model.damaged = None;
    Ok(())
}

fn compaction(g: &mut Grading, dir: &DataDir, model: &mut Model) -> Result<(), Failure> {
    let mut s = Session {
        program: dir.start(g)?,
        model,
    };
    let mut rng = g.rng().fork(300);
    for _ in 0..2_000 {
        let k = key(rng.below(200));
        if rng.chance(1, 5) {
            s.delete(&k)?;
        } else {
            s.put(&k, &word(&mut rng, 1, 10))?;
        }
    }
    let on_disk = dir.size(LOG);
    let request = json!({"op":"compact"});
    let reply = s.request(&request)?;
    let (Some(before), Some(after)) = (
        reply.get("before").and_then(Value::as_u64),
        reply.get("after").and_then(Value::as_u64),
    ) else {
        return Err(shape_failure(
            &request,
            &reply.to_string(),
            r#"{"before":N,"after":N}"#,
        ));
    };
    let live = s.model.live_bytes();
    if before != on_disk || after != live || dir.size(LOG) != live {
        return Err(Failure::new(
            "compaction rewrites the log with exactly one record per live key: deleted keys and overwritten values \
             are dropped, so the log shrinks to the size of the live records",
        )
        .expected(format!("before = {on_disk} (the log's size on disk), after = {live} bytes (the live records)"))
        .got(format!("before = {before}, after = {after}, data.log now {} bytes", dir.size(LOG)))
        .detail(format!("{} live keys; a record is 12 bytes + key + value", s.model.map.len())));
    }
    s.model.log_bytes = live;
    s.range("", KEY_END, 1_000_000).map_err(|f| {
        f.detail("(checked right after compaction: the hash index must point at the records' new places in the compacted log)")
    })?;
    for n in 0..200 {
        s.get(&key(n)).map_err(|f| {
            f.detail("(after compaction: the hash index must point at the records' new places in the compacted log)")
        })?;
    }
    for n in 0..50 {
        s.put(&key(n), &rng.word(5))?;
    }
    drop(s);
    let mut s = Session {
        program: dir.start(g)?,
        model,
    };
    s.check_all("after compaction, 50 puts, a SIGKILL and a restart")?;
    let stats = s.request(&json!({"op":"stats"}))?;
    let want = json!({"keys": s.model.map.len(), "file_bytes": s.model.log_bytes});
    if stats != want {
        return Err(
            Failure::new("stats counts the live keys and the log's size in bytes")
                .expected(want)
                .got(stats)
                .detail(r#"sent: {"op":"stats"}"#),
        );
    }
    Ok(())
}
