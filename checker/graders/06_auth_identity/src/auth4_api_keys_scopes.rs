//! Grader of `auth4_api_keys_scopes`: API keys stored as SHA-256 hashes, found by a public id, limited by
//! scopes and per-key quotas, over HTTP with time from `X-Fake-Now`.
//!
//! The grader imports two keys it made itself (as a migration from another system would: only their SHA-256
//! in `keys.json`), issues more through the admin API, and checks every stored record against its own SHA-256
//! of the key. Every API call is checked against an exact model ([`api`]): the 401 for a missing, malformed,
//! unknown, wrong or revoked key (one answer for all), the scope matrix with `write:R ⊇ read:R`, the 403s, and
//! the quota of each key in fixed minutes of the clock, with its `RateLimit-*` headers. It restarts the program
//! on the same data directory, and finally scans every file the program wrote and every answer it gave (but
//! the one that shows a new key) for any 16 characters of a secret.

mod api;
mod model;

use std::path::Path;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, ensure};
use serde_json::{Value, json};

use crate::support::{compact, files_containing};
use api::{Api, Key, Presented, ROUTES, WINDOW_MS, made_key, route, sha256_hex};

/// Fake unix time the traffic starts near (November 2023), on a window boundary.
const EPOCH_MS: u64 = 1_700_000_040_000;
/// How many characters of a secret make a leak.
const LEAK: usize = 16;
/// A shared prefix or suffix this long between two random 64-digit secrets is a one-in-2^48 event.
const TELLTALE: usize = 12;
const SCOPES: [&str; 6] = [
    "read:users",
    "write:users",
    "read:orders",
    "write:orders",
    "read:billing",
    "write:billing",
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.set_reply_timeout(Duration::from_secs(5));
    let dir = tempfile::tempdir().map_err(|e| Failure::new(format!("no temp dir: {e}")))?;
    let data_dir = dir.path();
    let first_window = EPOCH_MS / WINDOW_MS + g.rng().below(1_000_000);
    // Each scenario gets minutes of its own, so that no quota spills from one into the next.
    let minute = |n: u64| (first_window + 10 * n) * WINDOW_MS;

    let imported = made_key(
        g.rng(),
        "legacy-import",
        &["read:orders", "write:users"],
        "pro",
    );
    let mut imported_revoked = made_key(g.rng(), "legacy-import", &["read:users"], "free");
    imported_revoked.revoked = true;
    let seeded = json!({ "keys": [imported.record(), imported_revoked.record()] });
    std::fs::write(data_dir.join("keys.json"), seeded.to_string())
        .map_err(|e| Failure::new(format!("could not seed the key table: {e}")))?;

    let admin_token = format!("admin-{}", g.rng().word(24));
    let free = g.rng().range(3, 6);
    let pro = g.rng().range(20, 40);
    let mut api = Api::start(g, data_dir, &admin_token, free, pro)?;
    let mut keys = vec![imported.clone(), imported_revoked.clone()];

    g.scenario("keys are issued in the contract's shape, and only their SHA-256 is stored");
    let acme = format!("acme-{}", g.rng().word(4));
    let globex = format!("globex-{}", g.rng().word(4));
    let a = api.issue(&acme, &["read:users", "write:orders"], "free")?;
    let b = api.issue(&acme, &["read:orders"], "free")?;
    let c = api.issue(&globex, &["write:users", "read:billing"], "pro")?;
    keys.extend([a.clone(), b.clone(), c.clone()]);
    let mut matrix = vec![
        api.issue(&globex, &["write:orders"], "pro")?,
        api.issue(&globex, &["read:users", "read:billing"], "pro")?,
        api.issue(&globex, &[], "pro")?,
    ];
    for _ in 0..4 {
        let owner = format!("tenant-{}", g.rng().word(5));
        let scopes: Vec<&str> = SCOPES
            .iter()
            .copied()
            .filter(|_| g.rng().chance(2, 5))
            .collect();
        matrix.push(api.issue(&owner, &scopes, "pro")?);
    }
    keys.extend(matrix.iter().cloned());
    check_secrets_differ(&keys[2..])?;
    check_dump(&mut api, &keys)?;

    g.scenario("a key authenticates as its owner; anything else gets one and the same 401");
    let t = minute(1) + g.rng().range(1_000, 50_000);
    api.call(
        &Presented::Key(&imported),
        route("GET", "/v1/orders"),
        t,
        "this key was imported from another system: keys.json holds only the lowercase hex SHA-256 of the whole \
         key text, as the contract says",
    )?;
    for key in [&a, &b, &c] {
        let usable = ROUTES
            .iter()
            .position(|(_, _, scope)| key.grants(scope))
            .expect("each of these keys holds a scope");
        api.call(&Presented::Key(key), usable, t, "")?;
    }
    let users = route("GET", "/v1/users");
    api.call(&Presented::Nothing, users, t, "")?;
    for (text, what) in bogus_keys(g.rng(), &a, &b) {
        api.call(&Presented::Bogus(text, what), users, t + 1, "")?;
    }
    api.call(
        &Presented::Key(&imported_revoked),
        users,
        t + 2,
        "this imported key is marked \"revoked\": true in keys.json",
    )?;

    g.scenario("the scope matrix: 403 for a scope the key lacks, and write:R includes read:R only");
    let t = minute(2) + g.rng().range(1_000, 50_000);
    for key in matrix.iter().chain([&c]) {
        let mut order: Vec<usize> = (0..ROUTES.len()).collect();
        g.rng().shuffle(&mut order);
        for index in order {
            api.call(&Presented::Key(key), index, t, "")?;
        }
    }

    g.scenario(
        "a revoked key is refused from the next request on; the owner's other keys still work",
    );
    let t = minute(3) + g.rng().range(1_000, 50_000);
    let owner = format!("initech-{}", g.rng().word(4));
    let mut leaked = api.issue(&owner, &["read:orders"], "pro")?;
    let kept = api.issue(&owner, &["read:orders"], "pro")?;
    let orders = route("GET", "/v1/orders");
    api.call(&Presented::Key(&leaked), orders, t, "")?;
    api.call(&Presented::Key(&kept), orders, t, "")?;
    expect_revoked(&mut api, &leaked.id, "revoking a key")?;
    leaked.revoked = true;
    let note = "this key was revoked just before (POST /admin/keys/<id>/revoke answered 200)";
    api.call(&Presented::Key(&leaked), orders, t + 1, note)?;
    api.call(
        &Presented::Key(&leaked),
        route("POST", "/v1/orders"),
        t + 2,
        note,
    )?;
    api.call(&Presented::Key(&kept), orders, t + 3, "")?;
    keys.extend([leaked.clone(), kept.clone()]);
    check_dump(&mut api, &keys)?;
    expect_revoked(
        &mut api,
        &leaked.id,
        "revoking a revoked key again (its record stays, marked revoked)",
    )?;
    let mut unknown = api::hex(&g.rng().bytes(4));
    while keys.iter().any(|key| key.id == unknown) {
        unknown = api::hex(&g.rng().bytes(4));
    }
    let response = api.revoke(&unknown)?;
    ensure(response.status == 404, || {
        Failure::new("revoking an unknown id answers 404")
            .got(response.summary())
            .detail(format!("POST /admin/keys/{unknown}/revoke"))
    })?;

    g.scenario("quotas: per key, per minute of the clock, and only served requests count");
    quotas(g, &mut api, &mut keys, minute(4), minute(5))?;

    g.scenario("after a restart every key, and every revocation, is still there");
    let before = api.dump()?.records;
    let seen = std::mem::take(&mut api.seen);
    drop(api);
    let mut api = Api::start(g, data_dir, &admin_token, free, pro)?;
    api.seen = seen;
    let after = api.dump()?.records;
    ensure(after == before, || {
        Failure::new(
            "the key table survives a restart unchanged: the records live in DATA_DIR/keys.json, written after \
             every change",
        )
        .expected(format!("the {} records from before the restart", before.len()))
        .got(format!("{} records, or changed ones", after.len()))
    })?;
    let t = minute(6) + g.rng().range(1_000, 50_000);
    let note = "the program was restarted on the same data directory";
    for key in &keys {
        let usable = ROUTES
            .iter()
            .position(|(_, _, scope)| key.grants(scope))
            .unwrap_or(0);
        api.call(&Presented::Key(key), usable, t, note)?;
    }

    g.scenario("no key, and no part of a secret, in any file, log line or answer");
    drop(api.server);
    check_no_leaks(data_dir, &api.seen, &keys)?;
    check_log_names_keys(data_dir, &a)?;
    Ok(())
}

/// The quota scenario: `start` and `later` are the first milliseconds of two separate minutes.
fn quotas(
    g: &mut Grading,
    api: &mut Api,
    keys: &mut Vec<Key>,
    start: u64,
    later: u64,
) -> Result<(), Failure> {
    let free = api.model.limit("free");
    let pro = api.model.limit("pro");
    let owner = format!("hooli-{}", g.rng().word(4));
    let first = api.issue(&owner, &["read:orders"], "free")?;
    let second = api.issue(&owner, &["read:orders"], "free")?;
    let third = api.issue(
        &format!("umbrella-{}", g.rng().word(4)),
        &["read:orders"],
        "free",
    )?;
    let big = api.issue(
        &format!("wayne-{}", g.rng().word(4)),
        &["read:billing"],
        "pro",
    )?;
    keys.extend([first.clone(), second.clone(), third.clone(), big.clone()]);
    let orders = route("GET", "/v1/orders");
    let end = start + WINDOW_MS;
    // Not at the start of the minute: a window that starts at a key's first request shows itself at `end`.
    let mut t = start + g.rng().range(5_000, 40_000);

    for _ in 0..2 * free {
        let forged = format!("bk_{}_{}", first.id, api::hex(&g.rng().bytes(32)));
        api.call(
            &Presented::Bogus(forged, "a known id with a made-up secret"),
            orders,
            t,
            "",
        )?;
    }
    let note = format!(
        "before these, {} requests came with this key's id and made-up secrets (401): whoever knows a key's id (it \
         is in every log line) must not be able to burn its quota",
        2 * free
    );
    for _ in 0..free {
        api.call(&Presented::Key(&first), orders, t, &note)?;
        t += g.rng().range(1, 500);
    }
    for _ in 0..3 {
        api.call(&Presented::Key(&first), orders, t, "")?;
        t += g.rng().range(1, 500);
    }
    let note = "the first key of the same owner and the same tier has just used up its own quota: each key has its \
                own quota";
    for _ in 0..free {
        api.call(&Presented::Key(&second), orders, t, note)?;
    }

    let forbidden = route("POST", "/v1/orders");
    for _ in 0..free {
        api.call(&Presented::Key(&third), forbidden, t, "")?;
    }
    let note = format!(
        "before these, {free} requests with this key went to a route it has no scope for: a request refused with \
         403 did no work and counts nothing"
    );
    for _ in 0..=free {
        api.call(&Presented::Key(&third), orders, t, &note)?;
    }

    let note = "one millisecond before the minute of the clock ends, the quota is still used up";
    api.call(&Presented::Key(&first), orders, end - 1, note)?;
    let note = "X-Fake-Now has just crossed into a new minute of the clock: the key has a fresh quota (the windows \
                are the fixed minutes [k·60000, (k+1)·60000), not a minute from the key's first request)";
    for i in 0..=free {
        api.call(&Presented::Key(&first), orders, end + i, note)?;
    }

    let invoices = route("GET", "/v1/invoices");
    let t = later + g.rng().range(0, 59_000);
    let note = format!("a pro key makes {pro} requests a minute");
    for _ in 0..=pro {
        api.call(&Presented::Key(&big), invoices, t, &note)?;
    }
    Ok(())
}

/// Values of `X-Api-Key` that are not a valid key, each with what it is in words.
fn bogus_keys(rng: &mut Rng, a: &Key, b: &Key) -> Vec<(String, &'static str)> {
    let mut wrong = a.key.clone().into_bytes();
    let at = a.key.len() - 1 - rng.below(64) as usize;
    wrong[at] = if wrong[at] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("hex");
    let mut unknown_id = api::hex(&rng.bytes(4));
    while unknown_id == a.id || unknown_id == b.id {
        unknown_id = api::hex(&rng.bytes(4));
    }
    vec![
        (
            wrong,
            "a known id with a wrong secret (the id is public, it is in every log line: the secret is what proves \
             the key)",
        ),
        (
            format!("bk_{}_{}", a.id, b.secret()),
            "the id of one key with the secret of another",
        ),
        (format!("bk_{unknown_id}_{}", a.secret()), "an unknown id"),
        (
            a.key[..a.key.len() - 1].to_string(),
            "a key missing its last character",
        ),
        (format!("{}0", a.key), "a key with one character too many"),
        (
            a.key.to_uppercase(),
            "a key in upper case (keys are exact: lowercase hex)",
        ),
        (
            format!("Bearer {}", a.key),
            "`Bearer <key>` (X-Api-Key carries the bare key)",
        ),
        (format!("sk_live_{}", rng.word(24)), "another service's key"),
        (format!("bk_{}", a.id), "an id without a secret"),
        (
            format!("bk_{}_{}", a.id, "../".repeat(8)),
            "a malformed key with a path in it",
        ),
    ]
}

/// `POST /admin/keys/<id>/revoke` answers `200 {"id":…,"revoked":true}`.
fn expect_revoked(api: &mut Api, id: &str, what: &str) -> Result<(), Failure> {
    let response = api.revoke(id)?;
    let reply: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    ensure(
        response.status == 200 && reply == json!({ "id": id, "revoked": true }),
        || {
            Failure::new(format!("{what} answers 200 {{\"id\":…,\"revoked\":true}}"))
                .got(response.summary())
                .detail(format!("POST /admin/keys/{id}/revoke"))
        },
    )
}

/// The windows of a secret a leak check looks for: every `LEAK` characters, starting every `LEAK / 2`.
fn secret_pieces(key: &Key) -> Vec<&str> {
    let secret = key.secret();
    (0..=secret.len() - LEAK)
        .step_by(LEAK / 2)
        .map(|at| &secret[at..at + LEAK])
        .collect()
}

fn plaintext_failure(key: &Key, place: &str) -> Failure {
    Failure::new(
        "a plaintext key, or any part of its secret, must never be stored, logged or shown again: the record keeps \
         only the lowercase hex SHA-256 of the key, and a log line only `bk_<id>_***`",
    )
    .expected("no part of any secret anywhere")
    .got(format!("16 characters of the secret of the key {}… ({}) in {place}", &key.key[..12], key.owner))
}

/// `GET /admin/keys` holds exactly the records of `keys`, sorted by id, with no secret in it.
fn check_dump(api: &mut Api, keys: &[Key]) -> Result<(), Failure> {
    let api::Dump {
        order,
        records,
        text,
    } = api.dump()?;
    for key in keys {
        if secret_pieces(key).iter().any(|piece| text.contains(piece)) {
            return Err(
                plaintext_failure(key, "the answer of GET /admin/keys").detail(format!(
                    "the record: {}",
                    records.get(&key.id).map_or("(none)".to_string(), compact)
                )),
            );
        }
    }
    for key in keys {
        ensure(records.contains_key(&key.id), || {
            let why = if key.revoked {
                "a revoked key keeps its record, marked \"revoked\": true: the audit trail needs to know which key \
                 made which request, and a deleted record would let a new key take its id"
            } else {
                "`GET /admin/keys` lists the record of every key issued or imported"
            };
            Failure::new(why)
                .expected(compact(&key.record()))
                .got(format!("no record with the id {}", key.id))
        })?;
    }
    let mut sorted = order.clone();
    sorted.sort();
    ensure(order == sorted && order.len() == keys.len(), || {
        Failure::new("`GET /admin/keys` lists every key once, sorted by id")
            .expected(format!("{} records", keys.len()))
            .got(format!("{} records: {}", order.len(), order.join(", ")))
    })?;
    for key in keys {
        let record = records.get(&key.id).cloned().unwrap_or(Value::Null);
        let hash = sha256_hex(&key.key);
        ensure(record["hash"] == json!(hash), || {
            Failure::new(
                "a record stores `hash`: the lowercase hex SHA-256 of the whole key text (`bk_<id>_<secret>`), \
                 nothing else, so that a key made elsewhere and imported by its hash still works",
            )
            .expected(format!("\"hash\":\"{hash}\""))
            .got(format!("\"hash\":{}", record["hash"]))
            .detail(format!("the key {}… of `{}`", &key.key[..12], key.owner))
        })?;
        ensure(record == key.record(), || {
            Failure::new("a record holds the key's id, owner, hash, scopes (sorted), tier and whether it is revoked")
                .expected(compact(&key.record()))
                .got(compact(&record))
        })?;
    }
    Ok(())
}

/// No two issued secrets share a long prefix or suffix, as a counter or a clock would make them.
fn check_secrets_differ(keys: &[Key]) -> Result<(), Failure> {
    for (i, x) in keys.iter().enumerate() {
        for y in &keys[i + 1..] {
            let (p, q) = (x.secret(), y.secret());
            let shared = p.len() >= TELLTALE
                && q.len() >= TELLTALE
                && (p[..TELLTALE] == q[..TELLTALE]
                    || p[p.len() - TELLTALE..] == q[q.len() - TELLTALE..]);
            ensure(!shared && x.id != y.id, || {
                Failure::new(
                    "every key gets its own id and its own 32 random bytes from a CSPRNG: these two look made from \
                     a counter or a clock, so one key gives the next one away",
                )
                .got(format!("{} and {}", x.key, y.key))
            })?;
        }
    }
    Ok(())
}

/// No part of any secret in the data directory or in any answer the grader saw.
fn check_no_leaks(data_dir: &Path, seen: &[String], keys: &[Key]) -> Result<(), Failure> {
    for key in keys {
        for piece in secret_pieces(key) {
            if let Some(answer) = seen.iter().find(|text| text.contains(piece)) {
                return Err(plaintext_failure(key, "an answer of the program")
                    .detail(format!("the answer: {answer}")));
            }
            if let Some((file, excerpt)) = files_containing(data_dir, piece.as_bytes()) {
                return Err(plaintext_failure(key, &file).detail(format!("around it: {excerpt}")));
            }
        }
    }
    Ok(())
}

/// The access log names a well-formed key by its id, and shows nothing of a malformed one.
fn check_log_names_keys(data_dir: &Path, a: &Key) -> Result<(), Failure> {
    let log = std::fs::read_to_string(data_dir.join("access.log")).unwrap_or_default();
    let named = format!("key=bk_{}_***", a.id);
    ensure(log.contains(&named), || {
        Failure::new(
            "a log line names the key that made the request by its id, `bk_<id>_***` (redact keeps the id: that is \
             how you find which key made a request, and which one to revoke)",
        )
        .expected(&named)
        .got(
            log.lines()
                .find(|line| line.contains("/v1/"))
                .unwrap_or("(no line for an API request)")
                .to_string(),
        )
    })?;
    if let Some(line) = log
        .lines()
        .find(|line| line.contains("key=sk_live_") || line.contains("Bearer"))
    {
        return Err(Failure::new(
            "a malformed X-Api-Key is logged as `***`: it is often a real secret pasted into the wrong place",
        )
        .got(line.to_string()));
    }
    Ok(())
}
