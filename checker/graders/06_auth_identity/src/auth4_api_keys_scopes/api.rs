//! The program under test seen through its contract: admin calls that issue, revoke and list keys, and API
//! calls checked, answer by answer, against an exact model of who may call what and how often.

use std::collections::BTreeMap;
use std::path::Path;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server, ensure};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::model::{Expected, Model, describe};
use crate::support::compact;

/// One quota window: a minute of the clock.
pub const WINDOW_MS: u64 = 60_000;
/// The routes of the API and the scope each needs.
pub const ROUTES: [(&str, &str, &str); 6] = [
    ("GET", "/v1/users", "read:users"),
    ("POST", "/v1/users", "write:users"),
    ("GET", "/v1/orders", "read:orders"),
    ("POST", "/v1/orders", "write:orders"),
    ("GET", "/v1/invoices", "read:billing"),
    ("POST", "/v1/refunds", "write:billing"),
];

/// The index in [`ROUTES`] of the route `method path`.
pub fn route(method: &str, path: &str) -> usize {
    ROUTES
        .iter()
        .position(|(m, p, _)| *m == method && *p == path)
        .expect("a route of the contract")
}

/// A key the grader holds, with what the contract says about it.
#[derive(Debug, Clone)]
pub struct Key {
    /// The public id, the 8 hex digits after `bk_`.
    pub id: String,
    /// The whole key, as the program showed it once.
    pub key: String,
    /// Who it was issued to.
    pub owner: String,
    /// Its scopes, sorted.
    pub scopes: Vec<String>,
    /// `free` or `pro`.
    pub tier: &'static str,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl Key {
    /// The secret: everything after `bk_<id>_`.
    pub fn secret(&self) -> &str {
        &self.key[3 + self.id.len() + 1..]
    }

    /// Whether this key may call a route needing `required` (`write:R` includes `read:R`).
    pub fn grants(&self, required: &str) -> bool {
        let implied = required
            .strip_prefix("read:")
            .map(|resource| format!("write:{resource}"));
        self.scopes
            .iter()
            .any(|s| s == required || implied.as_deref() == Some(s.as_str()))
    }

    /// The record the contract says is stored for this key.
    pub fn record(&self) -> Value {
        json!({
            "id": self.id, "owner": self.owner, "hash": sha256_hex(&self.key),
            "scopes": self.scopes, "tier": self.tier, "revoked": self.revoked,
        })
    }
}

/// A key made by the grader, as another program would have made it: `bk_<id>_<secret>` from `rng`.
pub fn made_key(rng: &mut Rng, owner: &str, scopes: &[&str], tier: &'static str) -> Key {
    let id = hex(&rng.bytes(4));
    let key = format!("bk_{id}_{}", hex(&rng.bytes(32)));
    Key {
        id,
        key,
        owner: owner.to_string(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        tier,
        revoked: false,
    }
}

/// `bytes` as lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The lowercase hex SHA-256 of `text`: what the program must store for a key.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The answer of `GET /admin/keys`.
pub struct Dump {
    /// The ids in the order they came.
    pub order: Vec<String>,
    /// The records by id.
    pub records: BTreeMap<String, Value>,
    /// The answer as it came.
    pub text: String,
}

/// What goes in the `X-Api-Key` header of one call.
pub enum Presented<'a> {
    /// No header at all.
    Nothing,
    /// A key the grader issued (or imported), revoked or not.
    Key(&'a Key),
    /// Anything else: the text, and what it is in words.
    Bogus(String, &'static str),
}

impl Presented<'_> {
    fn header(&self) -> Option<&str> {
        match self {
            Presented::Nothing => None,
            Presented::Key(key) => Some(&key.key),
            Presented::Bogus(text, _) => Some(text),
        }
    }
}

/// The running program, the admin token, and the grader's model of the quotas.
pub struct Api {
    /// The program.
    pub server: Server,
    admin_token: String,
    /// What every call must get.
    pub model: Model,
    /// Every answer but the one that shows a new key, scanned for secrets at the end.
    pub seen: Vec<String>,
}

impl Api {
    /// Starts the program on `data_dir` with this admin token and these quotas.
    pub fn start(
        g: &mut Grading,
        data_dir: &Path,
        admin_token: &str,
        free_per_minute: u64,
        pro_per_minute: u64,
    ) -> Result<Self, Failure> {
        let args = [
            "--data-dir".to_string(),
            data_dir.display().to_string(),
            "--admin-token".to_string(),
            admin_token.to_string(),
            "--free-per-minute".to_string(),
            free_per_minute.to_string(),
            "--pro-per-minute".to_string(),
            pro_per_minute.to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(Api {
            server: g.server_with(&args, &[])?,
            admin_token: admin_token.to_string(),
            model: Model::new(free_per_minute, pro_per_minute),
            seen: Vec::new(),
        })
    }

    fn admin(&mut self, request: Request) -> Result<Response, Failure> {
        self.server
            .http(&request.header("X-Admin-Token", &self.admin_token))
    }

    /// `POST /admin/keys`, checking the answer's shape and the key's format.
    pub fn issue(
        &mut self,
        owner: &str,
        scopes: &[&str],
        tier: &'static str,
    ) -> Result<Key, Failure> {
        let mut sorted: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        let body = json!({ "owner": owner, "scopes": sorted, "tier": tier });
        let response = self.admin(
            Request::post("/admin/keys", body.to_string())
                .header("Content-Type", "application/json"),
        )?;
        let reply: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let shape = || {
            Failure::new(
                "`POST /admin/keys` answers 201 {\"id\":…,\"key\":\"bk_…\",\"owner\":…,\"scopes\":[…],\"tier\":…}",
            )
            .got(response.summary())
            .detail(format!("the request body: {}", compact(&body)))
        };
        ensure(response.status == 201, shape)?;
        let (Some(id), Some(key)) = (reply["id"].as_str(), reply["key"].as_str()) else {
            return Err(shape());
        };
        let key = Key {
            id: id.to_string(),
            key: key.to_string(),
            owner: owner.to_string(),
            scopes: sorted,
            tier,
            revoked: false,
        };
        check_key_format(&key)?;
        let echoed =
            json!({ "owner": reply["owner"], "scopes": reply["scopes"], "tier": reply["tier"] });
        ensure(
            echoed == json!({ "owner": owner, "scopes": key.scopes, "tier": tier }),
            shape,
        )?;
        Ok(key)
    }

    /// `POST /admin/keys/<id>/revoke`.
    pub fn revoke(&mut self, id: &str) -> Result<Response, Failure> {
        let response = self.admin(Request::post(&format!("/admin/keys/{id}/revoke"), ""))?;
        self.seen.push(response.text());
        Ok(response)
    }

    /// `GET /admin/keys`: the stored records.
    pub fn dump(&mut self) -> Result<Dump, Failure> {
        let response = self.admin(Request::get("/admin/keys"))?;
        let text = response.text();
        self.seen.push(text.clone());
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shape = || {
            Failure::new("`GET /admin/keys` answers 200 {\"keys\":[record, …]} sorted by id")
                .got(response.summary())
        };
        ensure(response.status == 200, shape)?;
        let list = reply["keys"].as_array().ok_or_else(shape)?;
        let mut order = Vec::new();
        let mut records = BTreeMap::new();
        for record in list {
            let id = record["id"].as_str().ok_or_else(shape)?;
            order.push(id.to_string());
            records.insert(id.to_string(), record.clone());
        }
        Ok(Dump {
            order,
            records,
            text,
        })
    }

    /// Calls route `route` at `now` with `presented`, and checks the whole answer against the model. `note`
    /// says what the scenario is doing, for the report.
    pub fn call(
        &mut self,
        presented: &Presented,
        route: usize,
        now: u64,
        note: &str,
    ) -> Result<Response, Failure> {
        let (method, path, scope) = ROUTES[route];
        let mut request = Request::new(method, path).header("X-Fake-Now", &now.to_string());
        if let Some(value) = presented.header() {
            request = request.header("X-Api-Key", value);
        }
        if method == "POST" {
            request = request
                .header("Content-Type", "application/json")
                .body(b"{}".to_vec());
        }
        let (expected, used_before) = self.model.expect(presented, scope, now);
        let response = self.server.http(&request)?;
        self.seen.push(response.text());
        let got: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let body = match (&expected, presented) {
            (Expected::Missing, _) => json!({ "error": "missing api key" }),
            (Expected::Invalid, _) => json!({ "error": "invalid api key" }),
            (Expected::Forbidden, _) => json!({ "error": "insufficient scope", "required": scope }),
            (Expected::OverQuota { .. }, _) => json!({ "error": "quota exceeded" }),
            (Expected::Served { .. }, Presented::Key(key)) => {
                json!({ "route": format!("{method} {path}"), "key": key.id, "owner": key.owner })
            }
            (Expected::Served { .. }, _) => unreachable!("only a key is served"),
        };
        let status = match expected {
            Expected::Missing | Expected::Invalid => 401,
            Expected::Forbidden => 403,
            Expected::OverQuota { .. } => 429,
            Expected::Served { .. } => 200,
        };
        let what = |failure: Failure| {
            let mut failure = failure
                .expected(format!("{status} {}", compact(&body)))
                .got(format!("{} {}", response.status, response.text()))
                .detail(format!(
                    "the request: {method} {path} at X-Fake-Now {now}, {}",
                    describe(presented)
                ));
            if !note.is_empty() {
                failure = failure.detail(note.to_string());
            }
            failure
        };
        if response.status != status || got != body {
            return Err(what(self.model.rule(
                &expected,
                presented,
                scope,
                now,
                used_before,
                &response,
            )));
        }
        let quota = match (&expected, presented) {
            (Expected::Served { remaining, reset_s }, Presented::Key(key)) => {
                Some((*key, *remaining, *reset_s))
            }
            (Expected::OverQuota { reset_s }, Presented::Key(key)) => Some((*key, 0, *reset_s)),
            _ => None,
        };
        if let Some((key, remaining, reset_s)) = quota {
            let limit = self.model.limit(key.tier);
            let mut headers = vec![
                ("RateLimit-Limit", limit),
                ("RateLimit-Remaining", remaining),
                ("RateLimit-Reset", reset_s),
            ];
            if status == 429 {
                headers.push(("Retry-After", reset_s));
            }
            for (name, value) in headers {
                let value = value.to_string();
                if response.header(name) != Some(value.as_str()) {
                    let request = format!(
                        "the request: {method} {path} at X-Fake-Now {now}, {}",
                        describe(presented)
                    );
                    return Err(self.model.header_failure(
                        name,
                        &value,
                        &response,
                        key,
                        now,
                        used_before,
                        request,
                    ));
                }
            }
        }
        Ok(response)
    }
}

/// A key the program issued: `bk_` + 8 lowercase hex + `_` + 64 lowercase hex, carrying its id.
fn check_key_format(key: &Key) -> Result<(), Failure> {
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let ok = key
        .key
        .strip_prefix("bk_")
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(id, secret)| id == key.id && hex(id, 8) && hex(secret, 64));
    ensure(ok, || {
        Failure::new(
            "a key is `bk_` + its id (8 lowercase hex digits, the `id` of the answer) + `_` + a secret of 64 \
             lowercase hex digits (32 bytes from a CSPRNG)",
        )
        .expected(format!("bk_{}_<64 hex digits>", key.id))
        .got(&key.key)
    })
}
