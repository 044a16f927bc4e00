//! The program under test seen through its contract: admin calls that issue, revoke and list keys, and API
//! calls checked, answer by answer, against an exact model of who may call what and how often.

use std::collections::BTreeMap;
use std::path::Path;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server, ensure};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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
    pub id: String,
    pub key: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub tier: &'static str,
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

/// What the contract says one call gets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Missing,
    Invalid,
    Forbidden,
    OverQuota { reset_s: u64 },
    Served { remaining: u64, reset_s: u64 },
}

/// The running program, the admin token, and the grader's model of the quotas.
pub struct Api {
    pub server: Server,
    admin_token: String,
    free_per_minute: u64,
    pro_per_minute: u64,
    /// Requests counted per key id: (window, used).
    usage: BTreeMap<String, (u64, u64)>,
    /// The tier and owner of every key the model has counted, by id.
    whose: BTreeMap<String, (&'static str, String)>,
    /// Requests of a key refused with 403 and with 429, per key id and window.
    refused: BTreeMap<(String, u64), (u64, u64)>,
    /// Every answer but the one that shows a new key, scanned for secrets at the end.
    pub seen: Vec<String>,
}

impl Api {
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
            free_per_minute,
            pro_per_minute,
            usage: BTreeMap::new(),
            whose: BTreeMap::new(),
            refused: BTreeMap::new(),
            seen: Vec::new(),
        })
    }

    /// The quota of `tier`.
    pub fn limit(&self, tier: &str) -> u64 {
        if tier == "pro" {
            self.pro_per_minute
        } else {
            self.free_per_minute
        }
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
        let (expected, used_before) = self.expect(presented, scope, now);
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
            return Err(what(self.rule(
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
            let limit = self.limit(key.tier);
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
                    let window = now / WINDOW_MS;
                    let (forbidden, over) = self
                        .refused
                        .get(&(key.id.clone(), window))
                        .copied()
                        .unwrap_or_default();
                    let mut failure = Failure::new(header_rule(name, key.tier, limit, used_before))
                        .expected(format!("{name}: {value}"))
                        .got(format!(
                            "{name}: {}",
                            response.header(name).unwrap_or("(none)")
                        ))
                        .detail(format!(
                            "the request: {method} {path} at X-Fake-Now {now}, {}",
                            describe(presented)
                        ))
                        .detail(format!(
                            "this minute of the clock is [{}, {})",
                            window * WINDOW_MS,
                            (window + 1) * WINDOW_MS
                        ));
                    if forbidden + over > 0 && name == "RateLimit-Remaining" {
                        failure = failure.detail(format!(
                            "in this minute the key also made {forbidden} requests refused with 403 and {over} \
                             refused with 429: a refused request did no work and counts nothing"
                        ));
                    }
                    let (others, same_owner) = self.others_in_window(key, window);
                    if others > 0 && name == "RateLimit-Remaining" {
                        failure = failure.detail(format!(
                            "in this minute other {} keys made {others} counted requests ({same_owner} of them \
                             keys of the same owner): they have quotas of their own",
                            key.tier
                        ));
                    }
                    return Err(failure);
                }
            }
        }
        Ok(response)
    }

    /// Requests counted in `window` for other keys of `key`'s tier, and how many of them for its owner's.
    fn others_in_window(&self, key: &Key, window: u64) -> (u64, u64) {
        let mut counts = (0, 0);
        for (id, (seen_window, used)) in &self.usage {
            let Some((tier, owner)) = self.whose.get(id) else {
                continue;
            };
            if id != &key.id && *seen_window == window && *tier == key.tier {
                counts.0 += used;
                if *owner == key.owner {
                    counts.1 += used;
                }
            }
        }
        counts
    }

    /// What the contract says about one call, updating the quota model; and how many requests the key had
    /// used in this window before it.
    fn expect(&mut self, presented: &Presented, scope: &str, now: u64) -> (Expected, u64) {
        let window = now / WINDOW_MS;
        let key = match presented {
            Presented::Nothing => return (Expected::Missing, 0),
            Presented::Bogus(..) => return (Expected::Invalid, 0),
            Presented::Key(key) if key.revoked => return (Expected::Invalid, 0),
            Presented::Key(key) if !key.grants(scope) => {
                self.refused.entry((key.id.clone(), window)).or_default().0 += 1;
                return (Expected::Forbidden, 0);
            }
            Presented::Key(key) => key,
        };
        let limit = self.limit(key.tier);
        let reset_s = ((window + 1) * WINDOW_MS - now).div_ceil(1000);
        self.whose
            .insert(key.id.clone(), (key.tier, key.owner.clone()));
        let usage = self.usage.entry(key.id.clone()).or_insert((window, 0));
        if window > usage.0 {
            *usage = (window, 0);
        }
        let before = usage.1;
        if usage.1 >= limit {
            self.refused.entry((key.id.clone(), window)).or_default().1 += 1;
            return (Expected::OverQuota { reset_s }, before);
        }
        usage.1 += 1;
        (
            Expected::Served {
                remaining: limit - usage.1,
                reset_s,
            },
            before,
        )
    }

    /// The rule a wrong status or body broke, in words.
    fn rule(
        &self,
        expected: &Expected,
        presented: &Presented,
        scope: &str,
        now: u64,
        used_before: u64,
        response: &Response,
    ) -> Failure {
        let window = format!(
            "[{}, {})",
            now / WINDOW_MS * WINDOW_MS,
            (now / WINDOW_MS + 1) * WINDOW_MS
        );
        match (expected, presented) {
            (Expected::Missing, _) => Failure::new(
                "a request without an X-Api-Key header gets 401 {\"error\":\"missing api key\"}",
            ),
            (Expected::Invalid, Presented::Key(_)) => Failure::new(
                "a revoked key is refused from the next request on, with 401 {\"error\":\"invalid api key\"} \
                 (before any scope or quota check)",
            ),
            (Expected::Invalid, _) => Failure::new(format!(
                "{} must be refused with 401 {{\"error\":\"invalid api key\"}}: the very same answer for a \
                 malformed key, an unknown id, a wrong secret and a revoked key (a different answer tells an \
                 attacker what they got right)",
                describe(presented)
            )),
            (Expected::Forbidden, Presented::Key(key)) => {
                let mut failure = Failure::new(format!(
                    "a key without the scope `{scope}` gets 403 {{\"error\":\"insufficient scope\",\"required\":\
                     \"{scope}\"}}: write:R includes read:R and nothing else, and 403 (not 401) means \"we know who \
                     you are, and you may not do this\""
                ))
                .detail(format!("the key holds {}", compact(&json!(key.scopes))));
                if response.status == 429 {
                    failure = failure.detail(
                        "the scope is checked before the quota: a request refused with 403 did no work and \
                         counts nothing",
                    );
                }
                failure
            }
            (Expected::OverQuota { .. }, Presented::Key(key)) => Failure::new(format!(
                "the key has used all {} requests of its {} quota in the minute {window}: the next request in that \
                 minute gets 429 {{\"error\":\"quota exceeded\"}} with Retry-After",
                self.limit(key.tier),
                key.tier
            )),
            (Expected::Served { .. }, Presented::Key(key)) => match response.status {
                401 => Failure::new(
                    "a valid key (exactly as issued, not revoked) authenticates: it is found by its id and its \
                     SHA-256 matches the stored hash",
                ),
                403 => Failure::new(format!(
                    "a key holding {} may call a route that needs `{scope}` (write:R includes read:R)",
                    compact(&json!(key.scopes))
                )),
                429 => Failure::new(format!(
                    "a request within the key's quota is served: the key had used {used_before} of its {} requests \
                     in the minute {window}. Each key has its own quota, the windows are the fixed minutes of \
                     X-Fake-Now, and only requests that pass the key and scope checks count",
                    self.limit(key.tier)
                )),
                _ => Failure::new(
                    "a request with a valid key and the right scope, within its quota, is served as that key: 200 \
                     {\"route\":…,\"key\":<its id>,\"owner\":<its owner>}",
                ),
            },
            _ => Failure::new("the answer follows the contract's order of checks"),
        }
    }
}

/// What a wrong `RateLimit-*` or `Retry-After` header breaks, in words.
fn header_rule(name: &str, tier: &str, limit: u64, used_before: u64) -> String {
    match name {
        "RateLimit-Limit" => format!("RateLimit-Limit is the requests a minute of the key's tier ({tier})"),
        "RateLimit-Remaining" => format!(
            "RateLimit-Remaining is what is left of this key's quota in this minute of the clock after this \
             request: the key had used {used_before} of its {limit} before it. Each key has its own quota, and \
             only requests that pass the key and scope checks count"
        ),
        "RateLimit-Reset" => "RateLimit-Reset is the seconds until this minute of the clock ends, rounded up: the \
                              windows are the fixed minutes [k·60000, (k+1)·60000) of X-Fake-Now, not a minute \
                              from the key's first request"
            .to_string(),
        _ => "a 429 carries Retry-After: the seconds until this minute of the clock ends, rounded up (the same as \
              RateLimit-Reset)"
            .to_string(),
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

/// A presented key in words, for the report.
fn describe(presented: &Presented) -> String {
    match presented {
        Presented::Nothing => "no X-Api-Key header".to_string(),
        Presented::Key(key) => format!(
            "the {}key {}… of `{}` ({}, scopes {})",
            if key.revoked { "revoked " } else { "" },
            &key.key[..12],
            key.owner,
            key.tier,
            compact(&json!(key.scopes))
        ),
        Presented::Bogus(_, what) => what.to_string(),
    }
}
