//! Grader of `db12_lsm_wide_column`: a Cassandra-like LSM store (commit log, memtable, SSTables, tombstones,
//! size-tiered compaction) driven over JSON lines on a data directory the grader owns, against a model.
//!
//! 1. Upserts, null columns, row and partition tombstones, in the memtable.
//! 2. Flushes: reads merge the memtable and the SSTables by timestamp; the commit log is emptied.
//! 3. Four small SSTables make a bucket: a compaction of every SSTable drops overwritten versions and tombstones.
//! 4. A compaction of some SSTables keeps its tombstones (no zombie), then a major compaction drops them.
//! 5. A compaction writes old data into a new file: the newest timestamp wins, not the newest file.
//! 6. Seeded operations with flushes; every flush reply (compactions included), the files and the stats checked.
//! 7. SIGKILL and restart: the SSTables and the commit log give back every acknowledged write.
//! 8. A restart on an empty commit log: the clock continues past the SSTables' timestamps.
//! 9. A torn, then a corrupted record at the commit log's tail: dropped, and the log is cut there.
//! 10. A crash after a flush's SSTable was in place but before the log was emptied: the replay changes nothing.

mod explain;
mod model;

use std::collections::BTreeSet;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use crate::data_dir::{DataDir, crc32};
use model::{Change, Columns, Lsm};

const COMMIT_LOG: &str = "commit.log";
/// Past every clustering key the grader uses.
const END: &str = "~";

/// The program and the model, in step.
struct Session<'a> {
    program: Stdio,
    lsm: &'a mut Lsm,
    dir: &'a DataDir,
}

fn shape_failure(request: &Value, line: &str, shape: &str) -> Failure {
    Failure::new("the reply does not have the shape the protocol gives")
        .expected(shape)
        .got(line)
        .detail(format!("sent: {request}"))
        .detail("the provided `main` writes these replies: if you changed it, compare it with the original")
}

fn short(value: &impl ToString) -> String {
    let text = value.to_string();
    match text.char_indices().nth(400) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

fn columns_of(value: &Value) -> Option<Columns> {
    value
        .as_object()?
        .iter()
        .map(|(name, value)| Some((name.clone(), value.as_str()?.to_string())))
        .collect()
}

fn row_json(columns: Option<&Columns>) -> Value {
    json!({ "row": columns })
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
                    .got(short(&line))
                    .detail(format!("sent: {request}"))
                    .detail(format!("error: {error}")),
            );
        }
        Ok(reply)
    }

    fn write(&mut self, partition: &str, change: Change) -> Result<(), Failure> {
        let request = change.request(partition);
        let reply = self.request(&request)?;
        if reply != json!({"ok":true}) {
            return Err(shape_failure(
                &request,
                &reply.to_string(),
                r#"{"ok":true}"#,
            ));
        }
        self.lsm.apply(partition, change);
        Ok(())
    }

    fn put(
        &mut self,
        partition: &str,
        clustering: &str,
        columns: &[(&str, Option<&str>)],
    ) -> Result<(), Failure> {
        let columns = columns
            .iter()
            .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
            .collect();
        let change = Change::Put {
            clustering: clustering.to_string(),
            columns,
        };
        self.write(partition, change)
    }

    fn delete_row(&mut self, partition: &str, clustering: &str) -> Result<(), Failure> {
        let change = Change::DeleteRow {
            clustering: clustering.to_string(),
        };
        self.write(partition, change)
    }

    fn delete_partition(&mut self, partition: &str) -> Result<(), Failure> {
        self.write(partition, Change::DeletePartition)
    }

    fn get(&mut self, partition: &str, clustering: &str) -> Result<(), Failure> {
        let request = json!({"op":"get","partition":partition,"clustering":clustering});
        let reply = self.request(&request)?;
        let got = match reply.get("row") {
            Some(Value::Null) => None,
            Some(row) => Some(columns_of(row).ok_or_else(|| {
                shape_failure(
                    &request,
                    &short(&reply),
                    r#"{"row":{"column":"value",…}} or {"row":null}"#,
                )
            })?),
            None => {
                return Err(shape_failure(
                    &request,
                    &short(&reply),
                    r#"{"row":{"column":"value",…}} or {"row":null}"#,
                ));
            }
        };
        let want = self.lsm.get(partition, clustering);
        if got != want {
            return Err(
                explain::row(self.lsm, partition, clustering, want.as_ref(), got.as_ref())
                    .expected(row_json(want.as_ref()))
                    .got(short(&reply))
                    .detail(format!("sent: {request}")),
            );
        }
        Ok(())
    }

    fn scan(
        &mut self,
        partition: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<(), Failure> {
        let request =
            json!({"op":"scan","partition":partition,"start":start,"end":end,"limit":limit});
        let reply = self.request(&request)?;
        let shape = r#"{"rows":[["clustering",{"column":"value",…}],…]}"#;
        let rows: Option<Vec<(String, Columns)>> = reply
            .get("rows")
            .and_then(Value::as_array)
            .and_then(|rows| {
                rows.iter()
                    .map(|row| Some((row.get(0)?.as_str()?.to_string(), columns_of(row.get(1)?)?)))
                    .collect()
            });
        let Some(got) = rows else {
            return Err(shape_failure(&request, &short(&reply), shape));
        };
        let want = self.lsm.scan(partition, start, end, limit);
        if got == want {
            return Ok(());
        }
        let in_order = got.windows(2).all(|pair| pair[0].0 < pair[1].0);
        let in_range = got
            .iter()
            .all(|(c, _)| start <= c.as_str() && c.as_str() < end);
        let failure = if !in_order || !in_range || got.len() > limit {
            Failure::new(
                "scan returns the live rows start <= clustering < end of the partition, in clustering order, each \
                 once, at most limit of them",
            )
        } else {
            self.first_difference(partition, &want, &got)
        };
        let want_json = json!({ "rows": want });
        Err(failure
            .expected(short(&want_json))
            .got(short(&reply))
            .detail(format!("sent: {request}")))
    }

    fn first_difference(
        &self,
        partition: &str,
        want: &[(String, Columns)],
        got: &[(String, Columns)],
    ) -> Failure {
        for i in 0..want.len().max(got.len()) {
            let (w, g) = (want.get(i), got.get(i));
            let (clustering, want_row, got_row) = match (w, g) {
                (Some(w), Some(g)) if w.0 == g.0 && w.1 == g.1 => continue,
                (Some(w), Some(g)) if w.0 == g.0 => (&w.0, Some(&w.1), Some(&g.1)),
                (Some(w), Some(g)) if w.0 < g.0 => (&w.0, Some(&w.1), None),
                (Some(_), Some(g)) | (None, Some(g)) => (&g.0, None, Some(&g.1)),
                (Some(w), None) => (&w.0, Some(&w.1), None),
                (None, None) => break,
            };
            return explain::row(self.lsm, partition, clustering, want_row, got_row)
                .detail(format!("in row {clustering}"));
        }
        Failure::new("scan returns the live rows of the partition")
    }

    /// Flushes; checks the reply (compactions included), the files of the data directory and the stats.
    fn flush(&mut self) -> Result<(), Failure> {
        self.flush_reply()?;
        self.stats("after a flush")
    }

    /// Flushes; checks the reply (compactions included) and the files of the data directory.
    fn flush_reply(&mut self) -> Result<(), Failure> {
        let before = self.lsm.clone();
        let request = json!({"op":"flush"});
        let reply = self.request(&request)?;
        let (want_flushed, want) = self.lsm.flush();
        let shape =
            r#"{"flushed":N or null,"compactions":[{"inputs":[N,…],"output":N or null},…]}"#;
        let got_flushed = match reply.get("flushed") {
            Some(Value::Null) => None,
            Some(id) => Some(
                id.as_u64()
                    .ok_or_else(|| shape_failure(&request, &short(&reply), shape))?,
            ),
            None => return Err(shape_failure(&request, &short(&reply), shape)),
        };
        let got: Option<Vec<(Vec<u64>, Option<u64>)>> = reply
            .get("compactions")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .map(|c| {
                        let inputs = c
                            .get("inputs")?
                            .as_array()?
                            .iter()
                            .map(Value::as_u64)
                            .collect::<Option<_>>()?;
                        let output = match c.get("output")? {
                            Value::Null => None,
                            id => Some(id.as_u64()?),
                        };
                        Some((inputs, output))
                    })
                    .collect()
            });
        let Some(got) = got else {
            return Err(shape_failure(&request, &short(&reply), shape));
        };
        let same = want_flushed == got_flushed
            && want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, (inputs, output))| (&w.inputs, &w.output) == (inputs, output));
        if !same {
            let compactions: Vec<Value> = want.iter().map(model::Compaction::json).collect();
            let expected = json!({"flushed": want_flushed, "compactions": compactions});
            return Err(
                explain::flush(&before, want_flushed, &want, got_flushed, &got)
                    .expected(expected)
                    .got(short(&reply))
                    .detail(format!("sent: {request}")),
            );
        }
        if want_flushed.is_some() && self.dir.size(COMMIT_LOG) != 0 {
            return Err(Failure::new(
                "after a flush, commit.log is empty: everything it protected is now in the new SSTable (empty it only \
                 once the SSTable is in place), or every restart replays it all again",
            )
            .expected("0 bytes")
            .got(format!("{} bytes", self.dir.size(COMMIT_LOG)))
            .detail(format!("sent: {request}")));
        }
        self.check_files("after a flush")
    }

    /// A major compaction of every SSTable.
    fn compact(&mut self) -> Result<(), Failure> {
        let request = json!({"op":"compact"});
        let reply = self.request(&request)?;
        let want = self.lsm.compact_all().json();
        if reply != want {
            return Err(Failure::new(
                "compact merges every SSTable into one new SSTable (none when nothing is left) and answers which",
            )
            .expected(&want)
            .got(short(&reply))
            .detail(format!("sent: {request}")));
        }
        self.check_files("after a compaction")?;
        self.stats("after a major compaction")
    }

    /// The SSTable files of the data directory are exactly the model's.
    fn check_files(&mut self, when: &str) -> Result<(), Failure> {
        let mut got = Vec::new();
        let entries = std::fs::read_dir(self.dir.file("")).map_err(|e| {
            Failure::new(format!("the grader could not list the data directory: {e}"))
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("sstable-") && name.ends_with(".sst") {
                got.push(name);
            }
        }
        got.sort();
        let want: Vec<String> = self
            .lsm
            .tables
            .iter()
            .map(|t| format!("sstable-{:06}.sst", t.id))
            .collect();
        if got != want {
            return Err(Failure::new(format!(
                "the data directory holds one file per live SSTable, named by its id: a compaction deletes its inputs \
                 once its output is in place ({when})"
            ))
            .expected(want.join(" "))
            .got(if got.is_empty() { "no sstable-*.sst file".to_string() } else { got.join(" ") }));
        }
        Ok(())
    }

    fn stats(&mut self, when: &str) -> Result<(), Failure> {
        let request = json!({"op":"stats"});
        let reply = self.request(&request)?;
        let want = self.lsm.stats();
        if reply == want {
            return Ok(());
        }
        let memtable = reply.get("memtable").and_then(Value::as_u64);
        let tables = reply
            .get("sstables")
            .and_then(Value::as_array)
            .and_then(|tables| {
                tables
                    .iter()
                    .map(|t| Some((t.get("id")?.as_u64()?, t.get("entries")?.as_u64()?)))
                    .collect()
            });
        Err(explain::stats(self.lsm, memtable, tables)
            .expected(short(&want))
            .got(short(&reply))
            .detail(format!("sent: {request} ({when})")))
    }

    /// Every row of every partition ever written, and the stats.
    fn check_all(&mut self, when: &str) -> Result<(), Failure> {
        let partitions: BTreeSet<String> = self
            .lsm
            .written
            .iter()
            .map(|w| w.partition.clone())
            .collect();
        for partition in partitions {
            self.scan(&partition, "", END, 1_000_000)
                .map_err(|failure| failure.detail(format!("(checked {when})")))?;
        }
        self.stats(when)
    }
}

/// A random value of `low..=high` letters.
fn word(rng: &mut Rng, low: u64, high: u64) -> String {
    let len = rng.range(low, high) as usize;
    rng.word(len)
}

/// Grades `db12_lsm_wide_column`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DataDir::new()?;
    let mut lsm = Lsm::default();
    let mut s = Session {
        program: dir.start(g)?,
        lsm: &mut lsm,
        dir: &dir,
    };
    g.scenario("a put upserts the columns it names; null, delete_row and delete_partition write tombstones that hide only older data");
    memtable_story(g, &mut s)?;
    g.scenario("a flush writes the memtable to an SSTable and empties the commit log; reads merge both by timestamp");
    flush_story(g, &mut s)?;
    drop(s);

    g.scenario("four small SSTables make a bucket: their compaction (of every SSTable) drops overwritten versions and tombstones");
    size_tiered(g)?;
    g.scenario("a compaction of some of the SSTables keeps its tombstones, or deleted data elsewhere comes back");
    no_zombies(g)?;
    g.scenario("a compaction writes old data into a new SSTable: the newest timestamp wins, not the newest file");
    newest_timestamp_wins(g)?;

    let dir = DataDir::new()?;
    let mut lsm = Lsm::default();
    g.scenario(
        "2 000 seeded operations with flushes and the compactions they trigger, against a model",
    );
    let mut s = Session {
        program: dir.start(g)?,
        lsm: &mut lsm,
        dir: &dir,
    };
    let mut rng = g.rng().fork(12);
    seeded(&mut s, &mut rng, 2_000)?;
    drop(s);

    g.scenario("killed with SIGKILL and restarted: the SSTables and the commit log give back every acknowledged write");
    let mut rng = g.rng().fork(13);
    restart_after_kill(g, &dir, &mut lsm, &mut rng)?;
    g.scenario("restarted on an empty commit log: new writes still win over the SSTables (the clock continues)");
    let mut rng = g.rng().fork(14);
    clock_continues(g, &dir, &mut lsm, &mut rng)?;
    g.scenario("a torn record at the commit log's tail is dropped, and later writes survive the next restart");
    damage(g, &dir, &mut lsm, "torn")?;
    g.scenario("a corrupted record (bad CRC) at the commit log's tail is dropped, and later writes survive the next restart");
    damage(g, &dir, &mut lsm, "corrupted")?;
    g.scenario("a crash after a flush's SSTable is in place but before the commit log is emptied: replaying the log again changes nothing");
    replay_twice(g, &dir, &mut lsm)
}

fn memtable_story(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    let rng = g.rng();
    let [ip1, ip2, agent, page, page2] = [0; 5].map(|_| word(rng, 5, 9));
    let ada = "user:ada";
    s.get(ada, "2024-05-01")?;
    s.put(
        ada,
        "2024-05-01",
        &[("action", Some("login")), ("ip", Some(&ip1))],
    )?;
    s.get(ada, "2024-05-01")?;
    s.put(
        ada,
        "2024-05-01",
        &[("ip", Some(&ip2)), ("agent", Some(&agent))],
    )?;
    s.get(ada, "2024-05-01")?;
    s.put(ada, "2024-05-01", &[("agent", None)])?;
    s.get(ada, "2024-05-01")?;
    s.put(ada, "2024-05-03", &[("action", Some("logout"))])?;
    s.put(
        ada,
        "2024-05-02",
        &[("action", Some("view")), ("page", Some(&page))],
    )?;
    s.scan(ada, "", END, 10)?;
    s.scan(ada, "2024-05-02", "2024-05-03", 10)?;
    s.scan(ada, "", END, 2)?;
    s.scan(ada, "2024-05-03", "2024-05-01", 10)?;
    s.get("user:bob", "2024-05-01")?;
    s.scan("user:bob", "", END, 10)?;
    s.delete_row(ada, "2024-05-02")?;
    s.get(ada, "2024-05-02")?;
    s.scan(ada, "", END, 10)?;
    s.put(ada, "2024-05-02", &[("page", Some(&page2))])?;
    s.get(ada, "2024-05-02")?;
    s.put("user:bob", "2024-05-01", &[("action", Some("login"))])?;
    s.delete_partition(ada)?;
    s.scan(ada, "", END, 10)?;
    s.get("user:bob", "2024-05-01")?;
    s.put(ada, "2024-05-04", &[("action", Some("signup"))])?;
    s.scan(ada, "", END, 10)?;
    s.stats("in the memtable, before any flush")
}

fn flush_story(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    let rng = g.rng();
    let users = ["user:ada", "user:bob", "user:cy"];
    for user in users {
        for day in 10..16 {
            let clustering = format!("2024-06-{day}");
            let (a, b) = (word(rng, 5, 9), word(rng, 5, 9));
            s.put(
                user,
                &clustering,
                &[("action", Some(&a)), ("page", Some(&b))],
            )?;
        }
    }
    s.flush()?;
    s.check_all("after the first flush")?;
    // Newer writes in the memtable over older data in the SSTable.
    let value = word(rng, 5, 9);
    s.put("user:bob", "2024-06-11", &[("page", Some(&value))])?;
    s.put("user:bob", "2024-06-12", &[("page", None)])?;
    s.delete_row("user:bob", "2024-06-13")?;
    s.delete_partition("user:cy")?;
    for day in 10..16 {
        s.get("user:bob", &format!("2024-06-{day}"))?;
    }
    s.scan("user:cy", "", END, 10)?;
    s.flush()?;
    s.check_all("after the second flush")?;
    let value = word(rng, 5, 9);
    s.put("user:bob", "2024-06-13", &[("action", Some(&value))])?;
    s.put("user:cy", "2024-06-20", &[("action", Some("comeback"))])?;
    s.get("user:bob", "2024-06-13")?;
    s.scan("user:cy", "", END, 10)?;
    s.flush()?;
    s.flush()?;
    s.check_all("after the third flush")
}

/// Puts `rows` rows of `columns` columns into `partition`, values from `rng`.
fn fill(
    s: &mut Session,
    rng: &mut Rng,
    partition: &str,
    prefix: &str,
    rows: usize,
    columns: &[&str],
) -> Result<(), Failure> {
    for i in 0..rows {
        let values: Vec<String> = columns.iter().map(|_| word(rng, 5, 9)).collect();
        let cells: Vec<(&str, Option<&str>)> = columns
            .iter()
            .zip(&values)
            .map(|(c, v)| (*c, Some(v.as_str())))
            .collect();
        s.put(partition, &format!("{prefix}{i:02}"), &cells)?;
    }
    Ok(())
}

fn size_tiered(g: &mut Grading) -> Result<(), Failure> {
    let dir = DataDir::new()?;
    let mut lsm = Lsm::default();
    let mut s = Session {
        program: dir.start(g)?,
        lsm: &mut lsm,
        dir: &dir,
    };
    let mut rng = g.rng().fork(3);
    for round in 0..4 {
        // Each round overwrites and deletes some of what the previous ones wrote.
        for i in 0..4 {
            let row = format!("t{:02}", rng.below(6));
            let value = word(&mut rng, 5, 9);
            s.put(
                "sensor:1",
                &row,
                &[("temp", Some(&value)), ("round", Some(&round.to_string()))],
            )?;
            if i == 1 {
                s.put("sensor:2", &row, &[("temp", Some(&value))])?;
            }
        }
        match round {
            1 => s.delete_row("sensor:1", &format!("t{:02}", rng.below(6)))?,
            2 => s.put(
                "sensor:2",
                &format!("t{:02}", rng.below(6)),
                &[("temp", None)],
            )?,
            3 => s.delete_partition("sensor:3")?,
            _ => s.put("sensor:3", "t00", &[("temp", Some("cold"))])?,
        }
        s.flush()?;
    }
    s.check_all("after the compaction of the four SSTables")
}

fn no_zombies(g: &mut Grading) -> Result<(), Failure> {
    let dir = DataDir::new()?;
    let mut lsm = Lsm::default();
    let mut s = Session {
        program: dir.start(g)?,
        lsm: &mut lsm,
        dir: &dir,
    };
    let mut rng = g.rng().fork(4);
    let home = "feed:home";
    // A big SSTable: 12 rows of 3 columns, and a partition of 2 rows of 2 columns (40 entries).
    fill(
        &mut s,
        &mut rng,
        home,
        "r",
        12,
        &["title", "author", "likes"],
    )?;
    fill(&mut s, &mut rng, "feed:old", "r", 2, &["title", "author"])?;
    s.flush()?;
    let victim = format!("r{:02}", rng.below(6));
    let nulled = format!("r{:02}", 6 + rng.below(6));
    // Four small SSTables, each with a tombstone over data of the big one.
    s.delete_row(home, &victim)?;
    s.put(home, "r20", &[("title", Some("fresh"))])?;
    s.flush()?;
    s.delete_partition("feed:old")?;
    s.put(home, "r21", &[("title", Some("fresher"))])?;
    s.flush()?;
    s.put(home, &nulled, &[("likes", None)])?;
    s.put(home, "r22", &[("title", Some("freshest"))])?;
    s.flush()?;
    let value = word(&mut rng, 5, 9);
    s.put(home, "r00", &[("title", Some(&value))])?;
    s.put(home, "r23", &[("title", Some("latest"))])?;
    s.flush_reply()?;
    s.get(home, &victim)?;
    s.get(home, &nulled)?;
    s.scan("feed:old", "", END, 10)?;
    s.check_all("after the compaction of the four small SSTables")?;
    s.compact()?;
    s.check_all("after a major compaction")
}

fn newest_timestamp_wins(g: &mut Grading) -> Result<(), Failure> {
    let dir = DataDir::new()?;
    let mut lsm = Lsm::default();
    let mut s = Session {
        program: dir.start(g)?,
        lsm: &mut lsm,
        dir: &dir,
    };
    let mut rng = g.rng().fork(5);
    let cart = "cart:17";
    // A small, old SSTable.
    let old: Vec<String> = (0..4).map(|_| word(&mut rng, 5, 9)).collect();
    s.put(cart, "i0", &[("qty", Some(&old[0]))])?;
    s.put(cart, "i1", &[("qty", Some(&old[1]))])?;
    s.put(cart, "i2", &[("qty", Some(&old[2]))])?;
    s.delete_row(cart, "i3")?;
    s.flush()?;
    // A big, newer SSTable that overwrites it.
    let new = word(&mut rng, 5, 9);
    s.put(cart, "i0", &[("qty", Some(&new))])?;
    s.delete_row(cart, "i1")?;
    s.put(cart, "i2", &[("qty", None)])?;
    s.put(cart, "i3", &[("qty", Some(&old[3]))])?;
    fill(&mut s, &mut rng, "cart:99", "i", 20, &["qty", "sku"])?;
    s.flush()?;
    // Three small SSTables: with the old one they make a bucket that skips the big one.
    for n in 0..3 {
        fill(
            &mut s,
            &mut rng,
            &format!("cart:{}", 50 + n),
            "i",
            2,
            &["qty"],
        )?;
        s.flush()?;
    }
    for item in ["i0", "i1", "i2", "i3"] {
        s.get(cart, item)?;
    }
    s.check_all("after a compaction of the old SSTable with the three small ones")?;
    s.compact()?;
    s.check_all("after a major compaction")
}

const PARTITIONS: u64 = 8;
const ROWS: u64 = 30;
const COLUMNS: [&str; 4] = ["temp", "hum", "batt", "note"];

fn seeded_partition(rng: &mut Rng) -> String {
    format!("sensor:{:02}", rng.below(PARTITIONS))
}

fn seeded_row(rng: &mut Rng) -> String {
    format!("t{:03}", rng.below(ROWS))
}

fn seeded_put(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let partition = seeded_partition(rng);
    let clustering = seeded_row(rng);
    let mut names: Vec<&str> = COLUMNS.to_vec();
    rng.shuffle(&mut names);
    let count = rng.range(1, 3) as usize;
    let values: Vec<Option<String>> = (0..count)
        .map(|_| (!rng.chance(1, 8)).then(|| word(rng, 5, 9)))
        .collect();
    let cells: Vec<(&str, Option<&str>)> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| (*n, v.as_deref()))
        .collect();
    s.put(&partition, &clustering, &cells)
}

fn seeded(s: &mut Session, rng: &mut Rng, ops: usize) -> Result<(), Failure> {
    for _ in 0..ops {
        match rng.below(1_000) {
            0..450 => seeded_put(s, rng)?,
            450..700 => {
                let (partition, clustering) = (seeded_partition(rng), seeded_row(rng));
                s.get(&partition, &clustering)?;
            }
            700..800 => {
                let partition = seeded_partition(rng);
                let start = rng.below(ROWS);
                let end = start + rng.range(0, 12);
                let limit = rng.range(1, 12) as usize;
                s.scan(
                    &partition,
                    &format!("t{start:03}"),
                    &format!("t{end:03}"),
                    limit,
                )?;
            }
            800..950 => {
                let (partition, clustering) = (seeded_partition(rng), seeded_row(rng));
                s.delete_row(&partition, &clustering)?;
            }
            950..958 => {
                let partition = seeded_partition(rng);
                s.delete_partition(&partition)?;
            }
            _ => s.flush()?,
        }
    }
    Ok(())
}

fn restart(g: &mut Grading, dir: &DataDir, lsm: &mut Lsm) -> Result<Stdio, Failure> {
    lsm.killed_and_restarted();
    dir.start(g)
}

fn restart_after_kill(
    g: &mut Grading,
    dir: &DataDir,
    lsm: &mut Lsm,
    rng: &mut Rng,
) -> Result<(), Failure> {
    {
        let mut s = Session {
            program: restart(g, dir, lsm)?,
            lsm,
            dir,
        };
        s.check_all("after a SIGKILL and a restart")?;
        seeded(&mut s, rng, 300)?;
        // The last writes are only in the commit log when the program is killed.
        for _ in 0..10 {
            seeded_put(&mut s, rng)?;
        }
    }
    let mut s = Session {
        program: restart(g, dir, lsm)?,
        lsm,
        dir,
    };
    s.check_all("after a second SIGKILL and restart")
}

fn clock_continues(
    g: &mut Grading,
    dir: &DataDir,
    lsm: &mut Lsm,
    rng: &mut Rng,
) -> Result<(), Failure> {
    {
        let mut s = Session {
            program: restart(g, dir, lsm)?,
            lsm,
            dir,
        };
        for _ in 0..20 {
            seeded_put(&mut s, rng)?;
        }
        s.flush()?;
    }
    let mut s = Session {
        program: restart(g, dir, lsm)?,
        lsm,
        dir,
    };
    s.check_all("after a flush, a SIGKILL and a restart on an empty commit log")?;
    // Overwrite and delete rows that live in the SSTables.
    let live: Vec<(String, String, String)> = s
        .lsm
        .tables
        .iter()
        .flat_map(|t| t.data.iter())
        .flat_map(|(p, part)| {
            part.rows.iter().flat_map(move |(c, row)| {
                row.cells
                    .iter()
                    .filter(|(_, cell)| cell.value.is_some())
                    .map(move |(col, _)| (p.clone(), c.clone(), col.clone()))
            })
        })
        .collect();
    for i in 0..12 {
        if live.is_empty() {
            break;
        }
        let (p, c, col) = &live[rng.below(live.len() as u64) as usize];
        if i % 3 == 2 {
            s.delete_row(p, c)?;
        } else {
            let value = word(rng, 5, 9);
            s.put(p, c, &[(col, Some(&value))])?;
        }
        s.get(p, c)?;
    }
    s.flush()?;
    s.check_all("after writes over the SSTables' data, and a flush")
}

/// A commit-log record as the exercise writes it: crc32(length ‖ payload) | length | payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut body = (payload.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(payload);
    let mut bytes = crc32(&body).to_le_bytes().to_vec();
    bytes.extend(body);
    bytes
}

/// Kills the program with writes only in the log, appends a damaged record, restarts, writes, kills, restarts.
fn damage(
    g: &mut Grading,
    dir: &DataDir,
    lsm: &mut Lsm,
    kind: &'static str,
) -> Result<(), Failure> {
    let mut rng = g.rng().fork(20 + kind.len() as u64);
    {
        let mut s = Session {
            program: restart(g, dir, lsm)?,
            lsm,
            dir,
        };
        for _ in 0..6 {
            seeded_put(&mut s, &mut rng)?;
        }
    }
    let (partition, clustering) = lsm
        .memtable
        .iter()
        .find_map(|(p, part)| Some((p.clone(), part.rows.keys().next()?.clone())))
        .unwrap_or_else(|| ("sensor:00".to_string(), "t000".to_string()));
    let value = format!("{kind}{}", rng.word(8));
    let payload = json!({
        "partition": partition,
        "update": {"deleted_at": null, "rows": {clustering.clone(): {"deleted_at": null, "cells": {"note": {"ts": lsm.next_ts, "value": value}}}}}
    })
    .to_string();
    let mut bytes = frame(payload.as_bytes());
    if kind == "torn" {
        let keep = rng.range(1, bytes.len() as u64 - 1) as usize;
        bytes.truncate(keep);
    } else {
        let at = payload.find(&value).unwrap_or(0) + kind.len() + rng.below(8) as usize;
        bytes[8 + at] ^= 0x20;
    }
    dir.append(COMMIT_LOG, &bytes)?;
    lsm.damaged = Some((partition, clustering, "note".to_string(), value, kind));
    {
        let mut s = Session {
            program: restart(g, dir, lsm)?,
            lsm,
            dir,
        };
        s.check_all(&format!(
            "after a restart on a commit log with a {kind} record at its tail"
        ))?;
        s.lsm.since_damage = Some(s.lsm.next_ts);
        for _ in 0..20 {
            seeded_put(&mut s, &mut rng)?;
        }
    }
    let mut s = Session {
        program: restart(g, dir, lsm)?,
        lsm,
        dir,
    };
    s.check_all(&format!(
        "after recovering from the {kind} tail, 20 writes, a SIGKILL and another restart"
    ))?;
    s.lsm.damaged = None;
    s.lsm.since_damage = None;
    Ok(())
}

fn replay_twice(g: &mut Grading, dir: &DataDir, lsm: &mut Lsm) -> Result<(), Failure> {
    let mut rng = g.rng().fork(30);
    let log = {
        let mut s = Session {
            program: restart(g, dir, lsm)?,
            lsm,
            dir,
        };
        for _ in 0..15 {
            seeded_put(&mut s, &mut rng)?;
        }
        let (partition, clustering) = (seeded_partition(&mut rng), seeded_row(&mut rng));
        s.delete_row(&partition, &clustering)?;
        let log = std::fs::read(dir.file(COMMIT_LOG))
            .map_err(|e| Failure::new(format!("the grader could not read commit.log: {e}")))?;
        let memtable = s.lsm.memtable.clone();
        s.flush()?;
        // What a crash between the SSTable's rename and the log's reset leaves behind.
        s.lsm.memtable = memtable;
        log
    };
    std::fs::write(dir.file(COMMIT_LOG), &log)
        .map_err(|e| Failure::new(format!("the grader could not write commit.log: {e}")))?;
    let mut s = Session {
        program: restart(g, dir, lsm)?,
        lsm,
        dir,
    };
    s.check_all("after a restart on a commit log whose records are also in the newest SSTable")?;
    s.flush()?;
    s.check_all("after flushing the replayed records again")?;
    s.compact()?;
    s.check_all("after a major compaction")
}
