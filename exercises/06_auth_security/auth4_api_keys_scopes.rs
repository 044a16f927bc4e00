//! # API keys: stored hashed, found by a public id, limited by scopes and quotas
//!
//! A browser logs in with a password and keeps a session; a *program* (a customer's cron job, a partner's
//! backend, a CI pipeline) authenticates with an **API key**: a long random string it sends with every
//! request. Stripe, GitHub, OpenAI, Twilio and AWS all hand them out, and they all learned the same lessons:
//!
//! - **Show the key once, store only its hash.** The key is a password that never changes by itself: whoever
//!   reads your `api_keys` table (a leaked backup, an SQL injection, a support engineer) must not be able to
//!   use the keys in it. So the server keeps `SHA-256(key)` and forgets the key the moment it has shown it to
//!   the customer. Why not Argon2 as for passwords? A password is a few guessable words, so its hash must be
//!   slow to stop guessing; a key is 256 random bits, which no amount of guessing will find, so a fast hash is
//!   enough, and it costs microseconds on every request instead of tens of milliseconds.
//! - **A public id inside the key.** The key reads `bk_<id>_<secret>`. The `bk_` prefix lets a secret scanner
//!   (GitHub's push protection, a log filter) recognise a leaked key; the `id` is the key's public name: it is
//!   the index the server finds the record by, what the dashboard shows, what the logs keep. Finding the
//!   record by id is not the same as checking the key: the server still hashes what was presented and
//!   compares with the stored hash, in constant time (a comparison that stops at the first differing byte
//!   tells a patient attacker, through the response time, how many bytes they got right).
//! - **Scopes**: the least privilege a key needs, such as `read:orders`. A request the key may not make gets
//!   `403 Forbidden` (we know who you are; you may not do this), never `401 Unauthorized` (we do not know who
//!   you are: a missing, unknown, wrong or revoked key).
//! - **Revocation**: a leaked key is revoked by its id and is refused from the next request on. The record
//!   stays (for the audit trail), marked revoked.
//! - **Quotas per key**: each key has a tier, and each tier a number of requests per minute. One customer's
//!   runaway script exhausts its own key's quota, and nobody else's.
//! - **Logs name the key, never show it.** An access log line keeps `bk_<id>_***`: enough to know which key
//!   made the request, useless to whoever reads the log.
//!
//! ## The contract (HTTP)
//!
//! Started as `auth4_api_keys_scopes --data-dir DIR --admin-token TOKEN --free-per-minute N
//! --pro-per-minute M`. The keys live in `DIR/keys.json` (read at start, written after every change) and every
//! request is logged to `DIR/access.log`; the provided `main` does both, with the records you keep and the
//! [`redact`]ed key.
//!
//! A key is `bk_`, an id of 8 lowercase hex digits, `_`, and a secret of 64 lowercase hex digits (32 bytes from
//! a CSPRNG). Its record stores the id, the owner, `hash` (the lowercase hex SHA-256 of the **whole** key
//! text), the scopes, the tier (`free` or `pro`) and `revoked`; never the key nor its secret.
//!
//! Admin endpoints (header `X-Admin-Token: TOKEN`; provided):
//!
//! | request | answer |
//! |---|---|
//! | `POST /admin/keys` `{"owner":O,"scopes":[…],"tier":"free"}` | `201 {"id":…,"key":"bk_…","owner":…,"scopes":[…],"tier":…}`: the only time the key is shown |
//! | `POST /admin/keys/<id>/revoke` | `200 {"id":…,"revoked":true}` (again on a revoked key), `404` for an unknown id |
//! | `GET /admin/keys` | `200 {"keys":[record, …]}` sorted by id: what is stored, for the debug dump |
//!
//! The API: six routes, each needing one scope. Every request carries `X-Fake-Now: <unix ms>` (the clock)
//! and `X-Api-Key: <key>`.
//!
//! | route | scope |
//! |---|---|
//! | `GET /v1/users`, `POST /v1/users` | `read:users`, `write:users` |
//! | `GET /v1/orders`, `POST /v1/orders` | `read:orders`, `write:orders` |
//! | `GET /v1/invoices`, `POST /v1/refunds` | `read:billing`, `write:billing` |
//!
//! A request is checked in this order, and the first failing check answers:
//!
//! 1. no `X-Api-Key` header: `401 {"error":"missing api key"}`;
//! 2. a malformed key, an unknown id, a wrong secret or a revoked key: `401 {"error":"invalid api key"}`, the
//!    very same answer for all four;
//! 3. a scope the key lacks: `403 {"error":"insufficient scope","required":"<scope>"}`. `write:R` includes
//!    `read:R` (who may change orders may see them); nothing else is implied;
//! 4. the key's quota for this minute is used up: `429 {"error":"quota exceeded"}` with `Retry-After`;
//! 5. otherwise `200 {"route":"GET /v1/orders","key":"<id>","owner":"<owner>"}`.
//!
//! The access log shows each key as [`redact`] makes it: `bk_<id>_***` for a well-formed key (even an unknown
//! or wrong one), `***` for anything else. No 16 characters in a row of any secret may appear in a file or in an
//! answer, but the `201` that issues the key.
//!
//! Quotas: a key may make `N` (free) or `M` (pro) requests in each minute of the clock, the fixed windows
//! `[k·60000, (k+1)·60000)` of `X-Fake-Now`. Only requests that pass checks 1 to 3 count (a 401, a 403 or a
//! 429 did no work and counts nothing). Both `200` and `429` carry `RateLimit-Limit` (the tier's limit),
//! `RateLimit-Remaining` (requests left in this window after this one) and `RateLimit-Reset` (seconds until the
//! window ends, rounded up); a `429` adds `Retry-After` with the same seconds. Counters live in memory.
//!
//! ## What you write
//!
//! The key functions (`new_key`, `hash_key`, `constant_time_eq`, `parse_key`, `redact`, `grants`) and the
//! store's `issue`, `revoke`, `authenticate`, `charge` (the quota) and `admit` (the checks, in order). The
//! routes, the admin API, the HTTP answers, `keys.json` and the access log are provided.
//!
//! ## Pitfalls
//!
//! - Finding the record by id and stopping there: the id is public (it is in every log line), the secret is
//!   the key.
//! - Telling the invalid keys apart (a malformed key answered as a missing one, a message per reason): each
//!   difference tells an attacker what they got right. They are all one `Refusal::InvalidKey`.
//! - `403` and `401` mixed up: a client retries a 401 with new credentials, and shows a 403 to a human.
//! - Counting a request before it is authenticated: whoever knows a key's id (from a log) could then burn its
//!   quota with made-up secrets.
//! - Logging the header as it came: a malformed "key" is often a real secret pasted into the wrong place.
//! - Accepting keys in the query string (`?api_key=`): URLs end up in proxy logs, browser history and
//!   `Referer` headers. Here keys come only in a header.
//!
//! Roadmap: API keys (scoping, revocation, rate limits); scopes & claims; authentication vs authorization.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What every key starts with, so a secret scanner can recognise one.
pub const KEY_PREFIX: &str = "bk_";
/// Hex digits in a key's public id (4 random bytes).
pub const ID_HEX_DIGITS: usize = 8;
/// Hex digits in a key's secret (32 random bytes).
pub const SECRET_HEX_DIGITS: usize = 64;
/// The length of a quota window: one minute of the clock.
pub const WINDOW_MS: u64 = 60_000;
/// What a log line shows in place of a secret.
pub const REDACTED: &str = "***";
/// Every scope a key may hold.
pub const SCOPES: [&str; 6] = [
    "read:users",
    "write:users",
    "read:orders",
    "write:orders",
    "read:billing",
    "write:billing",
];

/// A key's tier: it sets the key's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// `--free-per-minute` requests a minute.
    Free,
    /// `--pro-per-minute` requests a minute.
    Pro,
}

/// What the server stores about one key: everything but the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's public id, the 8 hex digits after `bk_`.
    pub id: String,
    /// Who the key belongs to.
    pub owner: String,
    /// The lowercase hex SHA-256 of the whole key text.
    pub hash: String,
    /// What the key may do, sorted.
    pub scopes: Vec<String>,
    /// Which quota applies.
    pub tier: Tier,
    /// Whether the key was revoked.
    pub revoked: bool,
}

/// A key just issued: the only moment the server holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The public id (also inside the key).
    pub id: String,
    /// The whole key, `bk_<id>_<secret>`, to show to the customer once.
    pub key: String,
}

/// Requests a minute for each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// The limit of a free key.
    pub free_per_minute: u64,
    /// The limit of a pro key.
    pub pro_per_minute: u64,
}

impl Quotas {
    /// The limit of `tier`.
    pub fn limit(&self, tier: Tier) -> u64 {
        match tier {
            Tier::Free => self.free_per_minute,
            Tier::Pro => self.pro_per_minute,
        }
    }
}

/// What the `RateLimit-*` headers report after a request was counted (or refused for its quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    /// The tier's requests per window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// Milliseconds until this window ends.
    pub reset_ms: u64,
}

/// How many requests a key made in which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The window's number: `now_ms / WINDOW_MS`.
    pub window: u64,
    /// Requests counted in that window.
    pub used: u64,
}

/// A request that may go on to its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The id of the key that made it.
    pub id: String,
    /// The owner of that key.
    pub owner: String,
    /// The key's quota after counting this request.
    pub quota: QuotaState,
}

/// Why a request was refused (the answer is the provided `refusal_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `X-Api-Key` header: 401.
    MissingKey,
    /// Malformed, unknown, wrong or revoked: 401, one answer for all.
    InvalidKey,
    /// The key lacks this scope: 403.
    InsufficientScope {
        /// The scope the route needs.
        required: String,
    },
    /// The key used up its quota for this window: 429.
    QuotaExceeded(QuotaState),
}

/// `bytes` as lowercase hex digits (provided).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key: a random id and a random secret, from a CSPRNG.
pub fn new_key() -> IssuedKey {
    // TODO: a random 4-byte id and a random 32-byte secret from a CSPRNG, both as lowercase hex, put together as
    // `bk_<id>_<secret>`.
    todo!()
}

/// The lowercase hex SHA-256 of `key`: what the server stores in place of the key.
pub fn hash_key(key: &str) -> String {
    // TODO: SHA-256 of the key's bytes, as lowercase hex.
    todo!()
}

/// Whether `a` and `b` are equal, taking the same time wherever they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // TODO: compare every byte whatever the earlier ones were (only the lengths may be compared up front).
    todo!()
}

/// The id of a well-formed key (`bk_` + 8 lowercase hex + `_` + 64 lowercase hex), `None` for anything else.
pub fn parse_key(presented: &str) -> Option<&str> {
    // TODO: the id of a key of exactly the contract's shape; `None` for anything else.
    todo!()
}

/// What a log line shows of a presented key: `bk_<id>_***` for a well-formed key, `***` for anything else.
pub fn redact(presented: &str) -> String {
    // TODO: the id of a well-formed key, and nothing of its secret; nothing at all of anything else.
    todo!()
}

/// Whether a key holding `granted` may do what `required` names (`write:R` includes `read:R`).
pub fn grants(granted: &[String], required: &str) -> bool {
    // TODO: the scope itself, or the `write:` scope of the same resource when `required` is a `read:` scope.
    todo!()
}

/// Every key, and how much of its quota each has used.
#[derive(Debug)]
pub struct KeyStore {
    keys: BTreeMap<String, KeyRecord>,
    quotas: Quotas,
    usage: HashMap<String, Usage>,
}

impl KeyStore {
    /// A store over `records` (loaded from disk) with these quotas (provided).
    pub fn new(records: Vec<KeyRecord>, quotas: Quotas) -> Self {
        KeyStore {
            keys: records.into_iter().map(|r| (r.id.clone(), r)).collect(),
            quotas,
            usage: HashMap::new(),
        }
    }

    /// Every record, sorted by id (provided).
    pub fn records(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    /// Issues a new key for `owner` with these (valid, sorted) scopes and tier, and stores its record.
    pub fn issue(&mut self, owner: &str, scopes: Vec<String>, tier: Tier) -> IssuedKey {
        // TODO: a new key whose id no record has yet; store its record (with the hash, never the key) and
        // return the key.
        todo!()
    }

    /// Revokes the key `id`; `false` when there is no such key.
    pub fn revoke(&mut self, id: &str) -> bool {
        // TODO: mark the record revoked (keep it: the audit trail needs it).
        todo!()
    }

    /// The record of the key `presented`, if it is a valid key: well-formed, known, the right secret, and not
    /// revoked.
    pub fn authenticate(&self, presented: &str) -> Option<&KeyRecord> {
        // TODO: find the record by the key's id, then check the key itself against the stored hash (in constant
        // time), and that the key is not revoked.
        todo!()
    }

    /// Counts one request of the key `id` (of `tier`) at `now_ms` against its quota: `Ok` when it fits,
    /// `Err` (counting nothing) when this window's quota is used up.
    pub fn charge(&mut self, id: &str, tier: Tier, now_ms: u64) -> Result<QuotaState, QuotaState> {
        // TODO: the key's count in the current minute of the clock (a new minute starts from zero): count this
        // request if it fits the tier's limit, and report what the `RateLimit-*` headers need either way.
        todo!()
    }

    /// Decides about one request that needs `required`, made at `now_ms` with the `X-Api-Key` header
    /// `presented`: the checks of the contract, in its order.
    pub fn admit(
        &mut self,
        presented: Option<&str>,
        required: &str,
        now_ms: u64,
    ) -> Result<Admitted, Refusal> {
        // TODO: the contract's checks, in its order: a key at all, a valid key, the scope, then the quota.
        todo!()
    }
}

/// The routes of the API and the scope each needs (provided: you do not need to change this).
pub const ROUTES: [(&str, &str, &str); 6] = [
    ("GET", "/v1/users", "read:users"),
    ("POST", "/v1/users", "write:users"),
    ("GET", "/v1/orders", "read:orders"),
    ("POST", "/v1/orders", "write:orders"),
    ("GET", "/v1/invoices", "read:billing"),
    ("POST", "/v1/refunds", "write:billing"),
];

/// The server's state behind its lock (provided: you do not need to change this).
pub struct App {
    /// The keys and the quotas.
    pub store: KeyStore,
    /// The admin token from the command line.
    pub admin_token: String,
    /// Where `keys.json` and `access.log` live (`None` in tests: nothing is written).
    pub data_dir: Option<PathBuf>,
}

fn json_response(status: u16, body: Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_header("Cache-Control", "no-store")
        .with_body(body.to_string().into_bytes())
}

fn with_quota_headers(response: Response, quota: QuotaState) -> Response {
    response
        .with_header("RateLimit-Limit", quota.limit)
        .with_header("RateLimit-Remaining", quota.remaining)
        .with_header("RateLimit-Reset", quota.reset_ms.div_ceil(1000))
}

/// The HTTP answer to a refusal (provided: you do not need to change this).
pub fn refusal_response(refusal: &Refusal) -> Response {
    match refusal {
        Refusal::MissingKey => json_response(401, json!({ "error": "missing api key" })),
        Refusal::InvalidKey => json_response(401, json!({ "error": "invalid api key" })),
        Refusal::InsufficientScope { required } => json_response(
            403,
            json!({ "error": "insufficient scope", "required": required }),
        ),
        Refusal::QuotaExceeded(quota) => with_quota_headers(
            json_response(429, json!({ "error": "quota exceeded" })),
            *quota,
        )
        .with_header("Retry-After", quota.reset_ms.div_ceil(1000)),
    }
}

/// Serves one `/v1/…` request (provided: you do not need to change this).
fn api(app: &mut App, request: &Request) -> Response {
    let Some(&(method, path, scope)) = ROUTES
        .iter()
        .find(|(m, p, _)| *m == request.method && *p == request.path())
    else {
        return json_response(404, json!({ "error": "not found" }));
    };
    let Some(now_ms) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return json_response(
            400,
            json!({ "error": "X-Fake-Now must be unix milliseconds" }),
        );
    };
    match app.store.admit(request.header("x-api-key"), scope, now_ms) {
        Ok(admitted) => with_quota_headers(
            json_response(
                200,
                json!({
                    "route": format!("{method} {path}"),
                    "key": admitted.id,
                    "owner": admitted.owner,
                }),
            ),
            admitted.quota,
        ),
        Err(refusal) => refusal_response(&refusal),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    owner: String,
    scopes: Vec<String>,
    tier: Tier,
}

/// Serves one `/admin/…` request (provided: you do not need to change this).
fn admin(app: &mut App, request: &Request) -> Response {
    let token = request.header("x-admin-token").unwrap_or("");
    if !constant_time_eq(token.as_bytes(), app.admin_token.as_bytes()) {
        return json_response(401, json!({ "error": "admin token required" }));
    }
    let path = request.path();
    match (request.method.as_str(), path) {
        ("GET", "/admin/keys") => {
            let keys: Vec<&KeyRecord> = app.store.records().collect();
            json_response(200, json!({ "keys": keys }))
        }
        ("POST", "/admin/keys") => {
            let body: IssueBody = match serde_json::from_slice(&request.body) {
                Ok(body) => body,
                Err(e) => return json_response(400, json!({ "error": format!("bad body: {e}") })),
            };
            let mut scopes = body.scopes;
            if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return json_response(400, json!({ "error": format!("unknown scope {unknown}") }));
            }
            scopes.sort();
            scopes.dedup();
            if body.owner.is_empty() || body.owner.len() > 64 {
                return json_response(400, json!({ "error": "owner must be 1 to 64 bytes" }));
            }
            let issued = app.store.issue(&body.owner, scopes.clone(), body.tier);
            save_keys(app);
            json_response(
                201,
                json!({
                    "id": issued.id,
                    "key": issued.key,
                    "owner": body.owner,
                    "scopes": scopes,
                    "tier": body.tier,
                }),
            )
        }
        ("POST", _) => {
            let id = path
                .strip_prefix("/admin/keys/")
                .and_then(|rest| rest.strip_suffix("/revoke"));
            match id {
                Some(id) if app.store.revoke(id) => {
                    save_keys(app);
                    json_response(200, json!({ "id": id, "revoked": true }))
                }
                _ => json_response(404, json!({ "error": "no such key" })),
            }
        }
        _ => json_response(404, json!({ "error": "not found" })),
    }
}

/// Answers one request and writes its access log line (provided: you do not need to change this).
pub fn handle(app: &mut App, request: &Request) -> Response {
    let response = if request.path().starts_with("/admin/") {
        admin(app, request)
    } else {
        api(app, request)
    };
    if let Some(dir) = &app.data_dir {
        let key = request.header("x-api-key").map_or("-".to_string(), redact);
        let now = request.header("x-fake-now").unwrap_or("-");
        let line = format!(
            "{now} {} {} key={key} -> {}\n",
            request.method,
            request.path(),
            response.status
        );
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("access.log"));
        if let Err(e) = log.and_then(|mut file| file.write_all(line.as_bytes())) {
            eprintln!("error: could not write the access log: {e}");
        }
    }
    response
}

#[derive(Serialize, Deserialize)]
struct KeysFile {
    keys: Vec<KeyRecord>,
}

fn save_keys(app: &App) {
    let Some(dir) = &app.data_dir else { return };
    let file = KeysFile {
        keys: app.store.records().cloned().collect(),
    };
    let text = serde_json::to_string_pretty(&file).expect("records serialize");
    let path = dir.join("keys.json");
    // Write then rename: a crash mid-write never leaves a half-written key table.
    let temporary = path.with_extension("json.tmp");
    if let Err(e) = fs::write(&temporary, text).and_then(|()| fs::rename(&temporary, &path)) {
        eprintln!("error: could not save {}: {e}", path.display());
    }
}

fn load_keys(path: &Path) -> Result<Vec<KeyRecord>, String> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<KeysFile>(&text)
            .map(|file| file.keys)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The command line (provided: you do not need to change this).
struct Config {
    data_dir: PathBuf,
    admin_token: String,
    quotas: Quotas,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        data_dir: PathBuf::from("."),
        admin_token: String::new(),
        quotas: Quotas {
            free_per_minute: 10,
            pro_per_minute: 100,
        },
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or(format!("{flag} must be a whole number from 1 to 1000000"))
        };
        match flag.as_str() {
            "--data-dir" => config.data_dir = PathBuf::from(&value),
            "--admin-token" => config.admin_token = value,
            "--free-per-minute" => config.quotas.free_per_minute = number()?,
            "--pro-per-minute" => config.quotas.pro_per_minute = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if config.admin_token.len() < 16 {
        return Err("--admin-token needs at least 16 characters".to_string());
    }
    Ok(config)
}

/// Serves the API over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: auth4_api_keys_scopes --data-dir DIR --admin-token TOKEN \
                 [--free-per-minute N] [--pro-per-minute M]"
            );
            return ExitCode::from(2);
        }
    };
    let records = match load_keys(&config.data_dir.join("keys.json")) {
        Ok(records) => records,
        Err(why) => {
            eprintln!("error: could not load the keys: {why}");
            return ExitCode::FAILURE;
        }
    };
    let app = Mutex::new(App {
        store: KeyStore::new(records, config.quotas),
        admin_token: config.admin_token,
        data_dir: Some(config.data_dir),
    });
    let served = serve(move |request| {
        let mut app = app.lock().unwrap_or_else(|e| e.into_inner());
        handle(&mut app, request)
    });
    match served {
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

    /// 2023-11-14T22:13:20Z, the start of a quota window (a multiple of 60 000).
    const T0: u64 = 1_700_000_040_000;
    const QUOTAS: Quotas = Quotas {
        free_per_minute: 3,
        pro_per_minute: 5,
    };

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn store() -> KeyStore {
        KeyStore::new(Vec::new(), QUOTAS)
    }

    fn request(method: &str, path: &str, key: Option<&str>, now_ms: u64) -> Request {
        let mut headers = vec![("X-Fake-Now".to_string(), now_ms.to_string())];
        if let Some(key) = key {
            headers.push(("X-Api-Key".to_string(), key.to_string()));
        }
        Request {
            method: method.to_string(),
            target: path.to_string(),
            version: "HTTP/1.1".to_string(),
            headers,
            body: Vec::new(),
        }
    }

    // The SHA-256 test vectors of FIPS 180-2 (appendix B): the empty string, "abc", and the 448-bit message.
    #[test]
    fn hash_key_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_key(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_key("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    // A new key has the contract's shape, carries its id, and is never the same twice.
    #[test]
    fn new_keys_are_well_formed_and_random() {
        let first = new_key();
        let second = new_key();
        assert_eq!(first.key.len(), 3 + 8 + 1 + 64, "{}", first.key);
        assert_eq!(parse_key(&first.key), Some(first.id.as_str()));
        assert_ne!(first.key, second.key);
        assert_ne!(first.id, second.id);
    }

    // Equal bytes are equal; a different byte or a different length is not.
    #[test]
    fn constant_time_eq_compares_every_byte() {
        assert!(constant_time_eq(b"same bytes", b"same bytes"));
        assert!(!constant_time_eq(b"same bytes", b"same bytez"));
        assert!(!constant_time_eq(b"Same bytes", b"same bytes"));
        assert!(!constant_time_eq(b"same", b"same bytes"));
        assert!(constant_time_eq(b"", b""));
    }

    // Only `bk_` + 8 lowercase hex + `_` + 64 lowercase hex is a key.
    #[test]
    fn parse_key_accepts_only_the_exact_shape() {
        let secret = "0123456789abcdef".repeat(4);
        assert_eq!(
            parse_key(&format!("bk_00c0ffee_{secret}")),
            Some("00c0ffee")
        );
        assert_eq!(parse_key(&format!("bk_00C0FFEE_{secret}")), None);
        assert_eq!(parse_key(&format!("bk_00c0ffee_{}", &secret[1..])), None);
        assert_eq!(parse_key(&format!("bk_00c0ffee_{secret}0")), None);
        assert_eq!(parse_key(&format!("sk_00c0ffee_{secret}")), None);
        assert_eq!(parse_key(&format!("Bearer bk_00c0ffee_{secret}")), None);
        assert_eq!(parse_key("bk_00c0ffee"), None);
        assert_eq!(parse_key(""), None);
    }

    // A log shows the id of a key and nothing of its secret, and nothing at all of a malformed one.
    #[test]
    fn redact_keeps_only_the_id() {
        let issued = new_key();
        assert_eq!(redact(&issued.key), format!("bk_{}_***", issued.id));
        let truncated = &issued.key[..issued.key.len() - 1];
        assert_eq!(redact(truncated), "***");
        assert_eq!(redact("sk_live_51HnotOurs"), "***");
    }

    // A scope grants itself, and `write:R` grants `read:R`; nothing else.
    #[test]
    fn write_includes_read_of_the_same_resource_only() {
        let granted = scopes(&["write:orders", "read:users"]);
        assert!(grants(&granted, "write:orders"));
        assert!(grants(&granted, "read:orders"));
        assert!(grants(&granted, "read:users"));
        assert!(!grants(&granted, "write:users"));
        assert!(!grants(&granted, "read:billing"));
        assert!(!grants(&scopes(&["read:orders"]), "write:orders"));
        assert!(!grants(&[], "read:users"));
    }

    // The stored record holds the hash of the key, never the key, and the key authenticates.
    #[test]
    fn only_the_hash_is_stored() {
        let mut store = store();
        let issued = store.issue("acme", scopes(&["read:orders"]), Tier::Free);
        let record = store.records().next().unwrap().clone();
        assert_eq!(record.id, issued.id);
        assert_eq!(record.hash, hash_key(&issued.key));
        let stored = format!("{record:?}");
        assert!(!stored.contains(&issued.key[12..]), "{stored}");
        assert_eq!(store.authenticate(&issued.key), Some(&record));
    }

    // A known id with a wrong secret, or another key's secret, is no key at all.
    #[test]
    fn the_secret_must_match_not_just_the_id() {
        let mut store = store();
        let alice = store.issue("alice", scopes(&["read:users"]), Tier::Free);
        let bob = store.issue("bob", scopes(&["read:users"]), Tier::Free);
        let mut wrong = alice.key.clone();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(wrong.len() - 1.., last);
        assert_eq!(store.authenticate(&wrong), None);
        let swapped = format!("bk_{}_{}", alice.id, &bob.key[12..]);
        assert_eq!(store.authenticate(&swapped), None);
        assert!(store.authenticate(&alice.key).is_some());
    }

    // A revoked key is refused at once; the owner's other keys still work.
    #[test]
    fn a_revoked_key_is_refused() {
        let mut store = store();
        let old = store.issue("acme", scopes(&["read:users"]), Tier::Free);
        let new = store.issue("acme", scopes(&["read:users"]), Tier::Free);
        assert!(store.revoke(&old.id));
        assert!(!store.revoke("ffffffff"));
        assert_eq!(store.authenticate(&old.key), None);
        assert!(store.records().any(|r| r.id == old.id && r.revoked));
        assert!(store.authenticate(&new.key).is_some());
    }

    // The checks run in the contract's order: 401 before 403 before 429.
    #[test]
    fn admit_checks_in_order() {
        let mut store = store();
        let key = store.issue("acme", scopes(&["read:orders"]), Tier::Free);
        assert_eq!(
            store.admit(None, "read:orders", T0),
            Err(Refusal::MissingKey)
        );
        assert_eq!(
            store.admit(Some("nope"), "read:orders", T0),
            Err(Refusal::InvalidKey)
        );
        assert_eq!(
            store.admit(Some(&key.key), "write:orders", T0),
            Err(Refusal::InsufficientScope {
                required: "write:orders".to_string()
            })
        );
        let admitted = store.admit(Some(&key.key), "read:orders", T0).unwrap();
        assert_eq!((admitted.id, admitted.owner), (key.id, "acme".to_string()));
        assert_eq!(admitted.quota.remaining, 2);
    }

    // A free key makes 3 requests a minute; refused ones (403, 429) count nothing; the next minute starts over.
    #[test]
    fn quotas_are_per_key_and_per_clock_minute() {
        let mut store = store();
        let a = store.issue("acme", scopes(&["read:orders"]), Tier::Free);
        let b = store.issue("acme", scopes(&["read:orders"]), Tier::Free);
        let now = T0 + 45_500;
        for _ in 0..5 {
            assert!(store.admit(Some(&a.key), "write:orders", now).is_err());
        }
        for left in [2, 1, 0] {
            let admitted = store.admit(Some(&a.key), "read:orders", now).unwrap();
            assert_eq!(admitted.quota.remaining, left);
            assert_eq!(admitted.quota.reset_ms, 14_500);
        }
        let full = QuotaState {
            limit: 3,
            remaining: 0,
            reset_ms: 1,
        };
        assert_eq!(
            store.admit(Some(&a.key), "read:orders", T0 + 59_999),
            Err(Refusal::QuotaExceeded(full))
        );
        assert!(store.admit(Some(&b.key), "read:orders", now).is_ok());
        let next = store
            .admit(Some(&a.key), "read:orders", T0 + 60_000)
            .unwrap();
        assert_eq!(next.quota.remaining, 2);
    }

    // Through the provided handler: a 429 carries Retry-After and the RateLimit headers.
    #[test]
    fn a_used_up_quota_answers_429_with_retry_after() {
        let mut app = App {
            store: store(),
            admin_token: "a-long-admin-token".to_string(),
            data_dir: None,
        };
        let key = app
            .store
            .issue("acme", scopes(&["write:billing"]), Tier::Pro);
        let now = T0 + 1_234;
        for _ in 0..5 {
            let ok = handle(
                &mut app,
                &request("GET", "/v1/invoices", Some(&key.key), now),
            );
            assert_eq!(ok.status, 200);
        }
        let refused = handle(
            &mut app,
            &request("GET", "/v1/invoices", Some(&key.key), now),
        );
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("Retry-After"), Some("59"));
        assert_eq!(refused.header("RateLimit-Limit"), Some("5"));
        assert_eq!(refused.header("RateLimit-Remaining"), Some("0"));
        let none = handle(&mut app, &request("GET", "/v1/invoices", None, now));
        assert_eq!(none.status, 401);
    }
}
