//! Grader of `auth3_jwt_refresh`: HS256 access tokens written by hand, and rotating refresh tokens.
//!
//! Interoperability is checked with an independent, well-known JWT library (`jsonwebtoken`, pure-Rust crypto):
//! it must verify every access token the program issues (signature, `iss`, `aud`, header), and every token it
//! signs must be accepted by the program. Then the grader forges what attackers forge (`alg: none`, another
//! key, a changed payload, `HS512`, an unknown `kid`, `exp` one second past the leeway, an early `nbf`, a
//! wrong `aud` or `iss`, no `exp`), replays a rotated refresh token, and rotates the signing key across
//! restarts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server, ensure};

const EPOCH_S: u64 = 1_700_000_000;
const ISSUER: &str = "https://auth.backlings.test";
const AUDIENCE: &str = "https://api.backlings.test";
const ACCOUNTS: [(&str, &str); 3] = [
    ("alice", "wonderland-42"),
    ("bob", "builder-1999"),
    ("carol", "christmas-carol"),
];

/// A signing key: its `kid` and its secret.
#[derive(Clone)]
struct Key {
    kid: String,
    secret: Vec<u8>,
}

impl Key {
    fn new(rng: &mut Rng, name: &str) -> Key {
        Key {
            kid: format!("{name}-{}", rng.word(4)),
            secret: rng.bytes(32),
        }
    }

    fn arg(&self) -> String {
        let hex: String = self.secret.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}={hex}", self.kid)
    }
}

struct Settings {
    access_ttl_s: u64,
    refresh_ttl_s: u64,
    leeway_s: u64,
}

struct Api {
    server: Server,
}

impl Api {
    fn start(g: &mut Grading, keys: &[&Key], settings: &Settings) -> Result<Api, Failure> {
        let mut args = Vec::new();
        for key in keys {
            args.push("--key".to_string());
            args.push(key.arg());
        }
        for (flag, value) in [
            ("--issuer", ISSUER.to_string()),
            ("--audience", AUDIENCE.to_string()),
            ("--access-ttl-s", settings.access_ttl_s.to_string()),
            ("--refresh-ttl-s", settings.refresh_ttl_s.to_string()),
            ("--leeway-s", settings.leeway_s.to_string()),
        ] {
            args.push(flag.to_string());
            args.push(value);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(Api {
            server: g.server_with(&args, &[])?,
        })
    }

    fn post(&mut self, path: &str, now_s: u64, body: &str) -> Result<Response, Failure> {
        let request = Request::post(path, body.as_bytes().to_vec())
            .header("X-Fake-Now", &(now_s * 1000 + 500).to_string())
            .header("Content-Type", "application/x-www-form-urlencoded");
        self.server.http(&request)
    }

    /// Logs a user in; the pair of tokens.
    fn login(&mut self, user: usize, now_s: u64) -> Result<(String, String), Failure> {
        let (name, password) = ACCOUNTS[user];
        let response = self.post("/login", now_s, &format!("user={name}&password={password}"))?;
        pair(&response, "a correct login")
    }

    fn refresh(&mut self, token: &str, now_s: u64) -> Result<Response, Failure> {
        self.post("/refresh", now_s, &format!("refresh_token={token}"))
    }

    /// `GET /me` with a bearer token: `Some(sub)` on 200, `None` on 401 (with its `WWW-Authenticate`).
    fn me(&mut self, token: &str, now_s: u64) -> Result<Option<String>, Failure> {
        let request = Request::get("/me")
            .header("X-Fake-Now", &(now_s * 1000 + 999).to_string())
            .header("Authorization", &format!("Bearer {token}"));
        let response = self.server.http(&request)?;
        match response.status {
            200 => {
                let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
                let sub = body["sub"].as_str().map(str::to_string);
                sub.map(Some).ok_or_else(|| {
                    Failure::new("an accepted token answers 200 {\"sub\":<the token's sub>}")
                        .got(response.summary())
                })
            }
            401 => {
                let challenge = response.header("WWW-Authenticate").unwrap_or("");
                ensure(challenge.starts_with("Bearer"), || {
                    Failure::new("a refused token answers 401 with `WWW-Authenticate: Bearer error=\"invalid_token\"`")
                        .got(response.summary())
                })?;
                Ok(None)
            }
            _ => Err(Failure::new("GET /me answers 200 or 401").got(response.summary())),
        }
    }
}

/// The two tokens of a 200 answer of `/login` or `/refresh`.
fn pair(response: &Response, what: &str) -> Result<(String, String), Failure> {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let shape = || {
        Failure::new(format!(
            "{what} answers 200 {{\"access_token\":…,\"refresh_token\":…,\"token_type\":\"Bearer\",\"expires_in\":TTL}}"
        ))
        .got(response.summary())
    };
    if response.status != 200 || body["token_type"] != "Bearer" {
        return Err(shape());
    }
    match (
        body["access_token"].as_str(),
        body["refresh_token"].as_str(),
    ) {
        (Some(access), Some(refresh)) => Ok((access.to_string(), refresh.to_string())),
        _ => Err(shape()),
    }
}

/// A token signed by the reference library.
fn reference_token(key: &Key, algorithm: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&key.secret))
        .expect("encodable claims")
}

fn claims(sub: &str, now_s: u64, exp: u64) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now_s, "exp": exp})
}

/// Checks an access token the program issued with the reference library.
fn check_issued(token: &str, key: &Key, user: &str, now_s: u64, ttl: u64) -> Result<(), Failure> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    // Time is fake: exp and iat are compared below, against the grader's clock.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let fail = |why: String| {
        Failure::new(format!(
            "every access token must be verified by a standard JWT library (here `jsonwebtoken`): {why}"
        ))
        .detail(format!("the token: {token}"))
        .detail(format!(
            "expected: header {{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"{}\"}}, claims iss {ISSUER}, aud {AUDIENCE}, \
             sub {user}, iat {now_s}, exp {}, each part base64url without padding, HMAC-SHA-256 with the key `{}`",
            key.kid,
            now_s + ttl,
            key.kid
        ))
    };
    let data =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(&key.secret), &validation)
            .map_err(|e| fail(format!("it refused the token: {e}")))?;
    if data.header.kid.as_deref() != Some(key.kid.as_str()) {
        return Err(fail(format!(
            "the kid is {:?}, not the signing key's",
            data.header.kid
        )));
    }
    let c = &data.claims;
    if c["sub"] != user || c["iat"] != now_s || c["exp"] != now_s + ttl {
        return Err(fail(format!("the claims are {c}")));
    }
    Ok(())
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let settings = Settings {
        access_ttl_s: g.rng().range(60, 900),
        refresh_ttl_s: g.rng().range(3_600, 86_400),
        leeway_s: g.rng().range(5, 60),
    };
    let (current, previous, retired) = (
        Key::new(g.rng(), "k2"),
        Key::new(g.rng(), "k1"),
        Key::new(g.rng(), "k0"),
    );
    let mut api = Api::start(g, &[&current, &previous], &settings)?;
    let mut now = EPOCH_S + g.rng().below(100_000_000);
    let ttl = settings.access_ttl_s;
    let leeway = settings.leeway_s;

    g.scenario("login issues an HS256 JWT that a standard library verifies");
    let user = g.rng().below(3) as usize;
    let (access, _) = api.login(user, now)?;
    check_issued(&access, &current, ACCOUNTS[user].0, now, ttl)?;
    let sub = api.me(&access, now)?;
    ensure(sub.as_deref() == Some(ACCOUNTS[user].0), || {
        Failure::new("the program accepts the access token it just issued").got(format!("{sub:?}"))
    })?;
    let wrong = api.post("/login", now, "user=alice&password=wonderland-43")?;
    ensure(wrong.status == 401, || {
        Failure::new("a wrong password answers 401").got(wrong.summary())
    })?;

    g.scenario("tokens signed by a standard library are accepted, with every configured key");
    now += 1_000;
    let accepted: [(&str, Key, Value); 5] = [
        (
            "signed with the current key",
            current.clone(),
            claims("dave", now, now + 60),
        ),
        (
            "signed with the previous key (the overlap of a key rotation: every configured key verifies)",
            previous.clone(),
            claims("erin", now, now + 60),
        ),
        (
            "whose aud is an array that contains the audience",
            current.clone(),
            json!({"iss": ISSUER, "aud": ["https://other.test", AUDIENCE], "sub": "frank", "iat": now, "exp": now + 60}),
        ),
        (
            "whose exp is exactly `leeway` seconds ago (still inside the leeway)",
            current.clone(),
            claims("grace", now - 600, now - leeway),
        ),
        (
            "whose nbf is exactly `leeway` seconds ahead (still inside the leeway)",
            current.clone(),
            json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "heidi", "iat": now, "nbf": now + leeway, "exp": now + 60}),
        ),
    ];
    for (what, key, body) in accepted {
        let token = reference_token(&key, Algorithm::HS256, &body);
        let sub = api.me(&token, now)?;
        ensure(sub.as_deref() == body["sub"].as_str(), || {
            Failure::new(format!("a valid token {what} must be accepted"))
                .expected(format!("200 {{\"sub\":{}}}", body["sub"]))
                .got(match &sub {
                    Some(s) => format!("200 sub {s}"),
                    None => "401".to_string(),
                })
                .detail(format!(
                    "signed by jsonwebtoken with kid `{}`: {token}",
                    key.kid
                ))
                .detail(format!("claims {body}; now {now}, leeway {leeway} s"))
        })?;
    }

    g.scenario("forged and invalid tokens are refused");
    now += 1_000;
    let good = reference_token(&current, Algorithm::HS256, &claims("ivan", now, now + 60));
    let parts: Vec<&str> = good.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let admin_claims = URL_SAFE_NO_PAD.encode(claims("admin", now, now + 60).to_string());
    let stranger = Key {
        kid: current.kid.clone(),
        secret: g.rng().bytes(32),
    };
    let refused: Vec<(&str, String)> = vec![
        (
            "with `alg: none` and no signature",
            format!("{none_header}.{}.", parts[1]),
        ),
        (
            "with `alg: none` and the original signature",
            format!("{none_header}.{}.{}", parts[1], parts[2]),
        ),
        (
            "signed with another key under the same kid",
            reference_token(&stranger, Algorithm::HS256, &claims("ivan", now, now + 60)),
        ),
        (
            "whose payload was changed after signing (sub ivan → admin)",
            format!("{}.{admin_claims}.{}", parts[0], parts[2]),
        ),
        (
            "signed with HS512 (only HS256 is issued, so only HS256 is accepted)",
            reference_token(&current, Algorithm::HS512, &claims("ivan", now, now + 60)),
        ),
        (
            "signed with a retired key the server does not have (unknown kid)",
            reference_token(&retired, Algorithm::HS256, &claims("ivan", now, now + 60)),
        ),
        (
            "whose exp is one second past the leeway",
            reference_token(
                &current,
                Algorithm::HS256,
                &claims("ivan", now - 600, now - leeway - 1),
            ),
        ),
        (
            "whose nbf is one second past the leeway",
            reference_token(
                &current,
                Algorithm::HS256,
                &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "ivan", "iat": now, "nbf": now + leeway + 1, "exp": now + 60}),
            ),
        ),
        (
            "for another audience (wrong aud)",
            reference_token(
                &current,
                Algorithm::HS256,
                &json!({"iss": ISSUER, "aud": "https://billing.backlings.test", "sub": "ivan", "iat": now, "exp": now + 60}),
            ),
        ),
        (
            "from another issuer (wrong iss)",
            reference_token(
                &current,
                Algorithm::HS256,
                &json!({"iss": "https://evil.test", "aud": AUDIENCE, "sub": "ivan", "iat": now, "exp": now + 60}),
            ),
        ),
        (
            "without exp (a token that never expires)",
            reference_token(
                &current,
                Algorithm::HS256,
                &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "ivan", "iat": now}),
            ),
        ),
        (
            "that is not three parts",
            format!("{}.{}", parts[0], parts[1]),
        ),
    ];
    for (what, token) in refused {
        let sub = api.me(&token, now)?;
        ensure(sub.is_none(), || {
            Failure::new(format!("a token {what} must be refused with 401"))
                .expected("401 with WWW-Authenticate: Bearer error=\"invalid_token\"")
                .got(format!(
                    "200, accepted as sub {}",
                    sub.clone().unwrap_or_default()
                ))
                .detail(format!("the token: {token}"))
                .detail(format!(
                    "now {now}, leeway {leeway} s, audience {AUDIENCE}, issuer {ISSUER}"
                ))
        })?;
    }

    g.scenario("an access token expires at exp + leeway, to the second");
    now += 1_000;
    let (access, _) = api.login(0, now)?;
    let last = now + ttl + leeway;
    for (at, valid) in [(now + ttl, true), (last, true), (last + 1, false)] {
        let sub = api.me(&access, at)?;
        ensure(sub.is_some() == valid, || {
            Failure::new(if valid {
                "an access token is valid until exp + leeway, inclusive"
            } else {
                "an access token is refused once now > exp + leeway (here: one second past the leeway)"
            })
            .got(if valid { "401" } else { "200" })
            .detail(format!("issued at {now}, exp {} (TTL {ttl} s), leeway {leeway} s, now {at}", now + ttl))
        })?;
    }

    g.scenario("refresh tokens rotate, and a reused one revokes the whole family");
    now += 10_000;
    let (_, first) = api.login(1, now)?;
    let (_, parallel) = api.login(2, now)?;
    let response = api.refresh(&first, now + 10)?;
    let (access, second) = pair(&response, "a refresh with a valid refresh token")?;
    check_issued(&access, &current, "bob", now + 10, ttl)?;
    ensure(second != first, || {
        Failure::new("a refresh returns a new refresh token (rotation): the old one is retired")
            .got(&second)
    })?;
    let (_, third) = pair(
        &api.refresh(&second, now + 20)?,
        "a refresh with the newest refresh token",
    )?;
    let family = |why: &str, got: &Response| {
        Failure::new(format!(
            "a refresh token is accepted once; a second use means it was stolen, and revokes the whole family \
             (every token descended from that login): {why}"
        ))
        .expected("401 {\"error\":\"invalid_grant\"}")
        .got(got.summary())
        .detail("the login gave R1; R1 was traded for R2, R2 for R3; then R1 came back (a thief replaying it)")
    };
    let reuse = api.refresh(&first, now + 30)?;
    if reuse.status != 401 {
        return Err(family("the reused R1 was accepted", &reuse));
    }
    let newest = api.refresh(&third, now + 40)?;
    if newest.status != 401 {
        return Err(family(
            "after the reuse, R3 (the newest of the family) still works",
            &newest,
        ));
    }
    let other = api.refresh(&parallel, now + 50)?;
    pair(
        &other,
        "a refresh token of another login (another family) is not affected by the revocation",
    )?;
    let (_, late) = api.login(0, now + 60)?;
    let expired = api.refresh(&late, now + 60 + settings.refresh_ttl_s)?;
    ensure(expired.status == 401, || {
        Failure::new("a refresh token is valid while now < issued + refresh TTL")
            .got(expired.summary())
            .detail(format!(
                "issued at {}, refresh TTL {} s, used at {}",
                now + 60,
                settings.refresh_ttl_s,
                now + 60 + settings.refresh_ttl_s
            ))
    })?;

    g.scenario(
        "after a key rotation the old kid works during the overlap, and not once it is retired",
    );
    now += 1_000;
    let (old_token, _) = api.login(0, now)?;
    drop(api);
    let next = Key::new(g.rng(), "k3");
    let mut api = Api::start(g, &[&next, &current], &settings)?;
    let sub = api.me(&old_token, now + 1)?;
    ensure(sub.is_some(), || {
        Failure::new("during the overlap of a key rotation, a token signed by the previous key is still accepted")
            .detail(format!("the server now has --key {} (signing) and --key {}", next.kid, current.kid))
    })?;
    let (fresh, _) = api.login(1, now + 2)?;
    check_issued(&fresh, &next, "bob", now + 2, ttl)?;
    drop(api);
    let mut api = Api::start(g, &[&next], &settings)?;
    let sub = api.me(&old_token, now + 3)?;
    ensure(sub.is_none(), || {
        Failure::new("once a key is retired (no longer configured), tokens it signed are refused (unknown kid)")
            .detail(format!("the server now has only --key {}; the token's kid is {}", next.kid, current.kid))
    })?;
    Ok(())
}
