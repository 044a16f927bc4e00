//! The end-to-end part: the learner's reqwest client calls the grader's flaky upstream (`fetch`),
//! and the upstream's own log says how many attempts really arrived and which idempotency keys they
//! carried.

use backlings_grade::{Failure, Rng, Stdio, ensure};
use serde_json::{Value, json};

use super::model::{Class, Policy, classify};
use backlings_grade::upstream::{Reply, Seen, Upstream};

/// What one `fetch` must come to.
struct Fetch {
    method: &'static str,
    path: String,
    body: String,
    with_key: bool,
    policy: Policy,
    /// The upstream's replies in order, then `then` forever.
    replies: Vec<Reply>,
    then: Reply,
    /// Requests the upstream must see, and how the loop must stop.
    expect_requests: usize,
    expect_stop: &'static str,
}

impl Fetch {
    fn reply(&self, attempt: usize) -> &Reply {
        self.replies.get(attempt).unwrap_or(&self.then)
    }

    fn describe(&self) -> String {
        let replies: Vec<String> = self.replies.iter().map(Reply::describe).collect();
        let key = if self.with_key {
            "with an idempotency key"
        } else {
            "without an idempotency key"
        };
        format!(
            "{} {} {key}; the upstream answers {}{}{} forever; policy: {}",
            self.method,
            self.path,
            replies.join(", "),
            if replies.is_empty() { "" } else { ", then " },
            self.then.describe(),
            self.policy.describe()
        )
    }
}

/// Runs the end-to-end fetches; returns the first failure.
pub fn check(p: &mut Stdio, rng: &mut Rng, upstream: &Upstream) -> Result<(), Failure> {
    let mut kinds = [
        Reply::status(503),
        Reply::status(500),
        Reply::Status {
            status: 429,
            retry_after: Some(1),
        },
        Reply::Reset,
    ];
    rng.shuffle(&mut kinds);
    let id = rng.range(100, 999);
    let policy = Policy {
        base_ms: rng.range(1, 5),
        cap_ms: 40,
        max_attempts: 6,
        deadline_ms: 600_000,
    };
    let order = format!("{{\"order\":{id},\"sku\":\"{}\"}}", rng.word(6));
    let fetches = [
        success(
            "GET",
            format!("/items/{id}"),
            String::new(),
            false,
            policy,
            kinds[..2].to_vec(),
        ),
        success(
            "POST",
            format!("/orders/{id}"),
            order.clone(),
            true,
            policy,
            kinds[2..].to_vec(),
        ),
        success(
            "POST",
            format!("/orders/{}", id + 1),
            order.clone(),
            true,
            policy,
            vec![Reply::status(503)],
        ),
        Fetch {
            replies: vec![Reply::status(503)],
            then: Reply::status(201),
            expect_requests: 1,
            expect_stop: "not_retry_safe",
            ..success(
                "POST",
                format!("/payments/{id}"),
                order,
                false,
                policy,
                vec![],
            )
        },
        Fetch {
            then: Reply::status(404),
            expect_requests: 1,
            expect_stop: "not_retryable",
            ..success(
                "GET",
                format!("/missing/{id}"),
                String::new(),
                false,
                policy,
                vec![],
            )
        },
        Fetch {
            replies: vec![
                kinds[0].clone(),
                Reply::status(502),
                kinds[1].clone(),
                Reply::status(504),
            ],
            then: Reply::status(200),
            expect_requests: 3,
            expect_stop: "out_of_attempts",
            ..success(
                "PUT",
                format!("/stock/{id}"),
                "{}".into(),
                false,
                Policy {
                    max_attempts: 3,
                    ..policy
                },
                vec![],
            )
        },
    ];
    let mut keys = Vec::new();
    for fetch in &fetches {
        upstream.script(&fetch.path, fetch.replies.clone(), fetch.then.clone());
        let request = json!({
            "op": "fetch",
            "policy": fetch.policy.json(),
            "method": fetch.method,
            "path": fetch.path,
            "body": fetch.body,
            "with_key": fetch.with_key,
            "seed": rng.below(1 << 48),
        });
        let answer = p.request(&request)?;
        let seen = upstream.seen(&fetch.path);
        let story = |failure: Failure| {
            let mut failure = failure
                .detail(format!("the call: {}", fetch.describe()))
                .detail("the upstream saw:");
            for (i, s) in seen.iter().enumerate() {
                let key = s
                    .header("idempotency-key")
                    .map_or("no Idempotency-Key".into(), |k| {
                        format!("Idempotency-Key: {k}")
                    });
                failure = failure.detail(format!(
                    "  {}. {} {} ({key}) → {}",
                    i + 1,
                    s.method,
                    s.path,
                    fetch.reply(i).describe()
                ));
            }
            failure.detail(format!("your program answered: {answer}"))
        };
        check_fetch(fetch, &answer, &seen).map_err(story)?;
        if fetch.with_key {
            let key = seen[0]
                .header("idempotency-key")
                .unwrap_or_default()
                .to_string();
            if keys.contains(&key) {
                let rule = "each operation needs its own idempotency key: two different orders sent the same key, \
                            so the server would answer the second with the first one's stored response";
                return Err(story(
                    Failure::new(rule).got(format!("Idempotency-Key: {key} again")),
                ));
            }
            keys.push(key);
        }
    }
    Ok(())
}

/// A fetch whose replies are all retryable failures and that must end in success.
fn success(
    method: &'static str,
    path: String,
    body: String,
    with_key: bool,
    policy: Policy,
    replies: Vec<Reply>,
) -> Fetch {
    let expect_requests = replies.len() + 1;
    let then = Reply::status(if method == "POST" { 201 } else { 200 });
    Fetch {
        method,
        path,
        body,
        with_key,
        policy,
        replies,
        then,
        expect_requests,
        expect_stop: "succeeded",
    }
}

fn check_fetch(fetch: &Fetch, answer: &Value, seen: &[Seen]) -> Result<(), Failure> {
    if let Some(error) = answer.get("error") {
        return Err(
            Failure::new("the program answered a `fetch` request with an error").got(error),
        );
    }
    ensure(seen.len() == fetch.expect_requests, || {
        let rule = match fetch.expect_stop {
            "not_retry_safe" => {
                "a POST without an idempotency key must be sent once, even after a 503"
            }
            "not_retryable" => "a 404 is final: the request must be sent once",
            "out_of_attempts" => {
                "max_attempts counts every attempt: the upstream must see exactly max_attempts requests"
            }
            _ => {
                "every retryable failure (5xx, 429, a reset connection) must be retried until the success"
            }
        };
        Failure::new(rule)
            .expected(format!(
                "{} request(s) at the upstream",
                fetch.expect_requests
            ))
            .got(format!("{} request(s)", seen.len()))
    })?;
    for s in seen {
        ensure(s.method == fetch.method && s.body == fetch.body, || {
            Failure::new("every attempt must send the same request: same method, same body")
                .expected(format!("{} with body {:?}", fetch.method, fetch.body))
                .got(format!("{} with body {:?}", s.method, s.body))
        })?;
    }
    if fetch.with_key {
        let keys: Vec<Option<&str>> = seen.iter().map(|s| s.header("idempotency-key")).collect();
        let first = keys[0].filter(|k| !k.is_empty());
        ensure(first.is_some() && keys.iter().all(|k| *k == first), || {
            Failure::new(
                "every attempt of one operation must carry the same Idempotency-Key: make the key once, before \
                 the retry loop, or the server sees each retry as a new order",
            )
            .got(keys.iter().map(|k| k.unwrap_or("(no header)")).collect::<Vec<_>>().join(", "))
        })?;
    }
    let stop = answer["stop"].as_str().unwrap_or("(missing)");
    let attempts = answer["attempts"].as_u64();
    ensure(
        stop == fetch.expect_stop && attempts == Some(seen.len() as u64),
        || {
            Failure::new("the result must say how many attempts were made and why the loop stopped")
                .expected(format!(
                    "attempts {}, stop `{}`",
                    seen.len(),
                    fetch.expect_stop
                ))
                .got(format!("attempts {attempts:?}, stop `{stop}`"))
        },
    )?;
    let last = fetch.reply(seen.len() - 1);
    let outcome = &answer["outcome"];
    let outcome_ok = match last {
        Reply::Reset => outcome.get("connection_failed").is_some(),
        Reply::Status { status, .. } => outcome["status"].as_u64() == Some(u64::from(*status)),
    };
    ensure(outcome_ok, || {
        Failure::new(
            "the result must be the last attempt's outcome: its status, or the connection failure",
        )
        .expected(last.describe())
        .got(outcome)
    })?;
    let sleeps: Vec<u64> = answer["sleeps_ms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    ensure(sleeps.len() + 1 == seen.len(), || {
        Failure::new("the loop sleeps once between two attempts, never after the last")
            .expected(format!("{} sleeps", seen.len() - 1))
            .got(format!("{sleeps:?}"))
    })?;
    for (i, &ms) in sleeps.iter().enumerate() {
        let reply = fetch.reply(i);
        let (ok, allowed) = match classify(reply) {
            Class::Retryable(Some(wait)) => {
                (ms == wait, format!("exactly {wait} ms (Retry-After)"))
            }
            _ => {
                let ceiling = fetch.policy.ceiling(i as u32);
                (
                    ms <= ceiling,
                    format!("at most {ceiling} ms (min(cap, base·2^{i}))"),
                )
            }
        };
        ensure(ok, || {
            Failure::new(format!("after attempt {} ({}) the wait must be {allowed}", i + 1, reply.describe()))
                .got(format!("{ms} ms"))
                .detail("a Retry-After header reaches your loop only if send_once reads it from the response")
        })?;
    }
    Ok(())
}
