//! mutant: checks exp against the clock without the leeway, so a token is refused up to `leeway` seconds early
//! expect: inside the leeway

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the server is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `(kid, secret)`; the first one signs, all verify.
    pub keys: Vec<(String, Vec<u8>)>,
    /// The `iss` the server writes and demands.
    pub issuer: String,
    /// The `aud` the server writes and demands.
    pub audience: String,
    /// Access token lifetime, seconds.
    pub access_ttl_s: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_ttl_s: u64,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway_s: u64,
}

/// HMAC-SHA-256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Signs an HS256 JWT with the first configured key: `base64url(header).base64url(claims).base64url(mac)`.
pub fn sign(config: &Config, claims: &Value) -> String {
    let (kid, secret) = &config.keys[0];
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Checks `token` at `now_s` against every rule of the contract; `Err` says which rule broke.
pub fn verify(config: &Config, token: &str, now_s: u64) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts[..] else {
        return Err("a JWT has three parts".to_string());
    };
    let decode_json = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| format!("bad base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("bad JSON: {e}"))
    };
    let header = decode_json(header_b64)?;
    if header["alg"] != "HS256" {
        return Err(format!("alg {} is not HS256", header["alg"]));
    }
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let (_, secret) = config
        .keys
        .iter()
        .find(|(k, _)| k == kid)
        .ok_or("unknown kid")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|e| format!("bad base64url: {e}"))?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{header_b64}.{claims_b64}").as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| "bad signature".to_string())?;

    let claims = decode_json(claims_b64)?;
    let exp = claims["exp"].as_u64().ok_or("no exp")?;
    if now_s > exp {
        return Err("expired".to_string());
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_u64().ok_or("bad nbf")?;
        if nbf > now_s + config.leeway_s {
            return Err("not yet valid".to_string());
        }
    }
    if claims["iss"] != config.issuer.as_str() {
        return Err("wrong iss".to_string());
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => *aud == config.audience,
        Value::Array(list) => list.iter().any(|a| *a == config.audience.as_str()),
        _ => false,
    };
    if !audience_ok {
        return Err("wrong aud".to_string());
    }
    if !claims["sub"].is_string() {
        return Err("no sub".to_string());
    }
    Ok(claims)
}

/// One refresh token's record.
#[derive(Debug, Clone)]
struct RefreshRecord {
    user: String,
    family: u64,
    expires_s: u64,
    used: bool,
}

/// The server-side table of refresh tokens, grouped in families (one family per login).
#[derive(Debug, Default)]
pub struct RefreshTokens {
    by_token: HashMap<String, RefreshRecord>,
    revoked_families: HashSet<u64>,
    next_family: u64,
}

impl RefreshTokens {
    /// Starts a new family for `user` (a login) and returns its first token.
    pub fn start_family(&mut self, user: &str, now_s: u64, ttl_s: u64) -> String {
        self.next_family += 1;
        self.issue(user, self.next_family, now_s + ttl_s)
    }

    fn issue(&mut self, user: &str, family: u64, expires_s: u64) -> String {
        let token: String = rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let record = RefreshRecord {
            user: user.to_string(),
            family,
            expires_s,
            used: false,
        };
        self.by_token.insert(token.clone(), record);
        token
    }

    /// Trades `token` for a new one of the same family; `Some((user, new token))`, or `None` if refused.
    /// A token used twice revokes its whole family.
    pub fn rotate(&mut self, token: &str, now_s: u64, ttl_s: u64) -> Option<(String, String)> {
        let record = self.by_token.get_mut(token)?;
        if self.revoked_families.contains(&record.family) {
            return None;
        }
        if record.used {
            self.revoked_families.insert(record.family);
            return None;
        }
        if now_s >= record.expires_s {
            return None;
        }
        record.used = true;
        let (user, family) = (record.user.clone(), record.family);
        let fresh = self.issue(&user, family, now_s + ttl_s);
        Some((user, fresh))
    }
}

/// The server's state (provided: you do not need to change this).
pub struct Server {
    config: Config,
    refresh: Mutex<RefreshTokens>,
}

/// The demo accounts (provided: auth1 taught how to store passwords).
fn check_password(user: &str, password: &str) -> bool {
    const ACCOUNTS: [(&str, &str); 3] = [
        ("alice", "wonderland-42"),
        ("bob", "builder-1999"),
        ("carol", "christmas-carol"),
    ];
    ACCOUNTS.iter().any(|(u, p)| *u == user && *p == password)
}

fn form_field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_header("Cache-Control", "no-store")
        .with_body(body.to_string())
}

/// A new token pair for `user` (provided: you do not need to change this).
fn token_pair(config: &Config, user: &str, refresh_token: String, now_s: u64) -> Response {
    let claims = json!({
        "iss": config.issuer,
        "aud": config.audience,
        "sub": user,
        "iat": now_s,
        "exp": now_s + config.access_ttl_s,
    });
    json_response(
        200,
        &json!({
            "access_token": sign(config, &claims),
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": config.access_ttl_s,
        }),
    )
}

/// Routes one request (provided: you do not need to change this).
pub fn handle(server: &Server, request: &Request) -> Response {
    let Some(now_s) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| ms / 1000)
    else {
        return Response::text(400, "missing or bad X-Fake-Now header\n");
    };
    let config = &server.config;
    let body = String::from_utf8_lossy(&request.body);
    match (request.method.as_str(), request.path()) {
        ("POST", "/login") => {
            let user = form_field(&body, "user").unwrap_or("");
            if !check_password(user, form_field(&body, "password").unwrap_or("")) {
                return json_response(401, &json!({"error": "invalid username or password"}));
            }
            let mut refresh = server.refresh.lock().unwrap_or_else(|e| e.into_inner());
            let token = refresh.start_family(user, now_s, config.refresh_ttl_s);
            token_pair(config, user, token, now_s)
        }
        ("POST", "/refresh") => {
            let token = form_field(&body, "refresh_token").unwrap_or("");
            let mut refresh = server.refresh.lock().unwrap_or_else(|e| e.into_inner());
            match refresh.rotate(token, now_s, config.refresh_ttl_s) {
                Some((user, fresh)) => token_pair(config, &user, fresh, now_s),
                None => json_response(401, &json!({"error": "invalid_grant"})),
            }
        }
        ("GET", "/me") => {
            let token = request
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            match verify(config, token, now_s) {
                Ok(claims) => json_response(200, &json!({"sub": claims["sub"]})),
                Err(why) => json_response(401, &json!({"error": "invalid_token", "why": why}))
                    .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
            }
        }
        _ => Response::text(404, "not found\n"),
    }
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        keys: Vec::new(),
        issuer: "https://auth.example".to_string(),
        audience: "https://api.example".to_string(),
        access_ttl_s: 300,
        refresh_ttl_s: 14 * 24 * 3600,
        leeway_s: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let seconds = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} needs seconds"))
        };
        match flag.as_str() {
            "--key" => {
                let (kid, hex) = value.split_once('=').ok_or("--key takes KID=HEX")?;
                let secret = backlings_harness::stdio::from_hex(hex)?;
                config.keys.push((kid.to_string(), secret));
            }
            "--issuer" => config.issuer = value,
            "--audience" => config.audience = value,
            "--access-ttl-s" => config.access_ttl_s = seconds()?,
            "--refresh-ttl-s" => config.refresh_ttl_s = seconds()?,
            "--leeway-s" => config.leeway_s = seconds()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if config.keys.is_empty() {
        return Err("at least one --key KID=HEX is needed".to_string());
    }
    Ok(config)
}

/// Serves the token endpoints over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: auth3_jwt_refresh --key KID=HEX [--key KID=HEX …] [--issuer ISS] \
                 [--audience AUD] [--access-ttl-s N] [--refresh-ttl-s N] [--leeway-s N]"
            );
            return ExitCode::from(2);
        }
    };
    let server = Server {
        config,
        refresh: Mutex::new(RefreshTokens::default()),
    };
    match serve(move |request| handle(&server, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
