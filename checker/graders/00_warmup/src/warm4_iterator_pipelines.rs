//! Grader of `warm4_iterator_pipelines`: access-log statistics, exact, over small crafted logs and 100 000
//! seeded lines.
//!
//! A model computes every summary from the contract's definition of a well-formed line. A mismatch is
//! explained field by field, so the learner sees which rule broke (`-` bytes, query strings, distinct
//! clients, the order of ties).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

/// The fields of a well-formed line.
struct Entry<'a> {
    client: &'a str,
    path: &'a str,
    status: u16,
    bytes: u64,
}

fn parse(line: &str) -> Option<Entry<'_>> {
    let [prefix, request, suffix] = fields::<3>(line.split('"'))?;
    let client = prefix.split_whitespace().next()?;
    let [_, target, _] = fields::<3>(request.split_whitespace())?;
    let [status, bytes] = fields::<2>(suffix.split_whitespace())?;
    if !target.starts_with('/') || status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let status: u16 = status.parse().ok().filter(|s| (100..=599).contains(s))?;
    let bytes = if bytes == "-" {
        0
    } else if bytes.bytes().all(|b| b.is_ascii_digit()) {
        bytes.parse().ok()?
    } else {
        return None;
    };
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    Some(Entry {
        client,
        path,
        status,
        bytes,
    })
}

/// Exactly `N` items, or `None`.
fn fields<'a, const N: usize>(mut items: impl Iterator<Item = &'a str>) -> Option<[&'a str; N]> {
    let mut out = [""; N];
    for slot in &mut out {
        *slot = items.next()?;
    }
    items.next().is_none().then_some(out)
}

/// The exact reply the contract demands.
fn summarize(lines: &[String], top: usize) -> Value {
    let (mut count, mut malformed, mut bytes) = (0u64, 0u64, 0u64);
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    let mut clients = BTreeSet::new();
    let mut hits: BTreeMap<&str, u64> = BTreeMap::new();
    for line in lines.iter().filter(|l| !l.is_empty()) {
        let Some(entry) = parse(line) else {
            malformed += 1;
            continue;
        };
        count += 1;
        bytes += entry.bytes;
        *status.entry(entry.status.to_string()).or_default() += 1;
        clients.insert(entry.client);
        *hits.entry(entry.path).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = hits.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top_paths: Vec<Value> = ranked
        .iter()
        .take(top)
        .map(|(path, hits)| json!({"path": path, "hits": hits}))
        .collect();
    json!({"lines": count, "malformed": malformed, "status": status, "bytes": bytes, "clients": clients.len(), "top_paths": top_paths})
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("a small log is counted exactly");
    let log = [
        r#"10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /api/users?page=2 HTTP/1.1" 200 512"#,
        r#"10.0.0.2 - bob [10/Oct/2024:13:55:37 +0000] "POST /api/orders HTTP/1.1" 201 -"#,
        r#"10.0.0.1 - - [10/Oct/2024:13:55:38 +0000] "GET /api/users HTTP/1.1" 404 20"#,
        r#"10.0.0.3 - - [10/Oct/2024:13:55:39 +0000] "GET /api/orders?id=7&x=1 HTTP/1.1" 500 7"#,
        r#"10.0.0.2 - bob [10/Oct/2024:13:55:40 +0000] "GET /health HTTP/1.1" 200 -"#,
    ];
    check(&mut p, &lines(&log), 5, "the summary of a small log")?;

    g.scenario("ties in hits are ordered by path, ascending");
    let mut rng = g.rng().fork(4);
    let mut tied: Vec<String> = Vec::new();
    for (path, hits) in [
        ("/b", 3),
        ("/a", 3),
        ("/d", 3),
        ("/c", 3),
        ("/e", 5),
        ("/aa", 3),
        ("/z", 1),
        ("/B", 3),
    ] {
        for _ in 0..hits {
            tied.push(line(&mut rng, path, 200, "1"));
        }
    }
    rng.shuffle(&mut tied);
    check(&mut p, &tied, 4, "top_paths with ties")?;
    check(&mut p, &tied, 20, "top_paths with ties, all of them")?;

    g.scenario("malformed lines are counted, never fatal; `-` bytes are 0, not malformed");
    let mut mixed: Vec<String> = MALFORMED.iter().map(|l| l.to_string()).collect();
    mixed.extend((0..6).map(|i| line(&mut rng, &format!("/p{}", i % 3), 200 + i, "-")));
    mixed.extend(["".to_string(), line(&mut rng, "/p0?q=1", 302, "0")]);
    rng.shuffle(&mut mixed);
    check(&mut p, &mixed, 3, "malformed lines")?;
    check(&mut p, &[], 3, "an empty log")?;

    g.scenario("100 000 seeded lines are summarized exactly and fast");
    let big = random_log(&mut rng, 100_000);
    g.set_reply_timeout(Duration::from_secs(15));
    // A generous cap on a loaded machine; the reference answers in well under a second.
    let mut p = g.stdio()?;
    check(&mut p, &big, 10, "the summary of 100 000 lines")?;
    Ok(())
}

/// Lines the contract calls malformed, one per rule.
const MALFORMED: [&str; 14] = [
    "garbage from a scanner",
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 200"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 200 5 extra"#,
    r#"1.2.3.4 - - [t] "GET HTTP/1.1" 200 5"#,
    r#"1.2.3.4 - - [t] "GET index.html HTTP/1.1" 200 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 2000 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 099 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 600 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" abc 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 200 -5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1" 200 99999999999999999999999"#,
    r#"1.2.3.4 - - [t] "GET / "HTTP/1.1" 200 5"#,
    r#" "GET / HTTP/1.1" 200 5"#,
    r#"1.2.3.4 - - [t] "GET / HTTP/1.1 200 5"#,
];

fn lines(log: &[&str]) -> Vec<String> {
    log.iter().map(|l| l.to_string()).collect()
}

/// One well-formed line.
fn line(rng: &mut Rng, target: &str, status: u16, bytes: &str) -> String {
    let client = format!("10.{}.{}.{}", rng.below(4), rng.below(4), rng.below(8));
    let method = rng.pick(&["GET", "POST", "PUT", "DELETE"]);
    format!(
        "{client} - - [10/Oct/2024:13:55:{:02} +0000] \"{method} {target} HTTP/1.1\" {status} {bytes}",
        rng.below(60)
    )
}

fn random_log(rng: &mut Rng, count: usize) -> Vec<String> {
    let paths: Vec<String> = (0..300)
        .map(|i| format!("/api/{}/{}", ["users", "orders", "items"][i % 3], i / 3))
        .collect();
    let statuses = [
        200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 404, 500, 503,
    ];
    (0..count)
        .map(|_| {
            if rng.chance(1, 50) {
                return rng.pick(&MALFORMED).to_string();
            }
            // Skewed popularity: low indexes are hot, as real traffic is.
            let index = (rng.below(300) * rng.below(300) / 300) as usize;
            let mut target = paths[index].clone();
            if rng.chance(3, 10) {
                target.push_str(&format!("?page={}", rng.below(5)));
            }
            let bytes = if rng.chance(1, 10) { "-".to_string() } else { rng.below(100_000).to_string() };
            let client = format!("192.168.{}.{}", rng.below(4), rng.below(250));
            let status = rng.pick(&statuses);
            format!("{client} - - [10/Oct/2024:14:{:02}:{:02} +0000] \"GET {target} HTTP/1.1\" {status} {bytes}", rng.below(60), rng.below(60))
        })
        .collect()
}

/// Sends a log and compares the summary with the model's, field by field.
fn check(p: &mut Stdio, log: &[String], top: usize, what: &str) -> Result<(), Failure> {
    let expected = summarize(log, top);
    let got = p.request(&json!({"log": log.join("\n"), "top": top}))?;
    if got == expected {
        return Ok(());
    }
    let mut failure = Failure::new(format!("{what}: the reply differs from the contract"));
    for field in [
        "lines",
        "malformed",
        "status",
        "bytes",
        "clients",
        "top_paths",
    ] {
        if got[field] != expected[field] {
            failure = failure.detail(format!(
                "`{field}`: expected {}, got {}",
                expected[field], got[field]
            ));
            failure = failure.detail(format!(
                "  rule: {}",
                rule(field, &expected[field], &got[field])
            ));
        }
    }
    if log.len() <= 40 {
        failure = failure.detail("the log:");
        for line in log {
            failure = failure.detail(format!("  {line}"));
        }
    }
    Err(failure)
}

fn rule(field: &str, expected: &Value, got: &Value) -> &'static str {
    match field {
        "lines" | "malformed" => {
            "a line is well-formed exactly as the contract defines it; a bytes field of `-` means 0 bytes and is well-formed"
        }
        "status" => "`status` counts well-formed lines per status code",
        "bytes" => "`bytes` sums the bytes of well-formed lines (`-` counts as 0)",
        "clients" => "`clients` counts distinct client addresses, not lines",
        _ if got.to_string().contains('?') => {
            "the path stops before the first `?`: the query string is not part of it"
        }
        _ if same_entries(expected, got) => {
            "top_paths: hits descending, ties broken by path ascending (byte order)"
        }
        _ => {
            "top_paths lists the `top` paths with the most hits, hits descending, ties by path ascending"
        }
    }
}

/// Whether two top lists hold the same hit counts, in any order of the tied paths.
fn same_entries(expected: &Value, got: &Value) -> bool {
    let hits = |v: &Value| -> Vec<Value> {
        v.as_array()
            .map(|a| a.iter().map(|e| e["hits"].clone()).collect())
            .unwrap_or_default()
    };
    hits(expected) == hits(got)
}
