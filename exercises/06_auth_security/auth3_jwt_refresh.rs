//! # JWT access tokens by hand, and rotating refresh tokens
//!
//! A **JSON Web Token** (RFC 7519) is a signed statement the server hands out at login and accepts back
//! without looking anything up: `base64url(header) . base64url(claims) . base64url(signature)`. With
//! **HS256** the signature is HMAC-SHA-256 (RFC 2104, test vectors in RFC 4231) over the first two parts,
//! with a secret only the servers know. Any server holding the secret can check a token in microseconds, with
//! no session table: that is why APIs and microservices use them. The price: a token cannot be taken back.
//! It is valid until its `exp`, so access tokens live minutes, and a long-lived **refresh token**, kept in a
//! server-side table, buys new ones.
//!
//! Verifying is where the famous bugs are (RFC 8725, *JWT Best Current Practices*):
//!
//! - **`alg: none`**: the header names its own algorithm, and RFC 7519 defines an "unsecured" JWT with no
//!   signature. A verifier that trusts the header accepts a token anyone can write. Accept exactly the
//!   algorithm you issue (`HS256`), nothing else, not even another HMAC.
//! - **Check the signature before trusting anything in the claims**, and compare MACs in constant time
//!   (`Mac::verify_slice`), not with `==` (an early exit leaks how many bytes matched).
//! - **base64url without padding** (RFC 7515 §2): `-` and `_` instead of `+` and `/`, and no `=`. Other
//!   libraries refuse a padded token.
//! - **Claims**: `exp` (required: a token that never expires is a permanent key), `nbf`, `iss` (who issued
//!   it) and `aud` (who it is for: a token for the billing service must not open the admin API). Clocks of
//!   different servers disagree by a few seconds, so `exp` and `nbf` are checked with a small **leeway**.
//! - **Key rotation**: the header's `kid` says which key signed the token. During a rotation the new key signs
//!   and the old one still verifies (the overlap), until every token it signed has expired.
//!
//! **Refresh tokens** are opaque random strings stored on the server, and they **rotate**: each use returns a
//! new one and retires the old. If a retired token comes back, either the legitimate client or a thief used it
//! first, and the server cannot tell which: it **revokes the whole family** (every token descended from that
//! login), so the thief's copy dies too and the user logs in again (OAuth 2.0 Security BCP, RFC 9700 §4.14).
//!
//! ## The contract (HTTP)
//!
//! Started as `auth3_jwt_refresh --key KID=HEX [--key KID=HEX …] --issuer ISS --audience AUD --access-ttl-s N
//! --refresh-ttl-s N --leeway-s N`: the first key signs, every key verifies. Each request carries
//! `X-Fake-Now: <unix ms>`; token times are in seconds (`now_ms / 1000`).
//!
//! | request | answer |
//! |---|---|
//! | `POST /login` (form `user=…&password=…`) | `200 {"access_token":…,"refresh_token":…,"token_type":"Bearer","expires_in":TTL}`, or `401` |
//! | `GET /me` with `Authorization: Bearer <jwt>` | `200 {"sub":…}`, or `401` with `WWW-Authenticate: Bearer error="invalid_token"` |
//! | `POST /refresh` (form `refresh_token=…`) | `200` with a new pair (as `/login`), or `401 {"error":"invalid_grant"}` |
//!
//! - Access tokens: header `{"alg":"HS256","typ":"JWT","kid":KID}` (the signing key's id), claims `iss`, `aud`
//!   (a string), `sub` (the user), `iat` = now, `exp` = now + TTL.
//! - A token is accepted when: three base64url parts, `alg` is exactly `HS256`, `kid` names a configured key,
//!   the HMAC matches, `exp` is present and `now <= exp + leeway`, `nbf` (if present) `<= now + leeway`, `iss`
//!   equals the issuer, `aud` equals the audience (or is an array that contains it), and `sub` is a string.
//! - Refresh tokens: valid while `now < issued + refresh TTL`; each is accepted once, and a second use of the
//!   same token revokes its whole family.
//!
//! ## Pitfalls
//!
//! - Parsing the claims and checking `exp` before (or instead of) the signature.
//! - Base64 with `+`, `/` or `=`: your tokens look fine to you and fail everywhere else.
//! - Verifying only with the current signing key: every user is logged out at each rotation.
//! - On refresh-token reuse, refusing only the reused token: the thief who used it first keeps a live family.
//!
//! Roadmap: JWT (bearer tokens, best practices, secret rotation); refresh tokens; token security.

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
    // TODO: the MAC of `message` under `key` (RFC 2104).
    todo!()
}

/// Signs an HS256 JWT with the first configured key: `base64url(header).base64url(claims).base64url(mac)`.
pub fn sign(config: &Config, claims: &Value) -> String {
    // TODO: the header of the contract, the claims, and the MAC of the first two parts.
    todo!()
}

/// Checks `token` at `now_s` against every rule of the contract; `Err` says which rule broke.
pub fn verify(config: &Config, token: &str, now_s: u64) -> Result<Value, String> {
    // TODO: every rule of the contract's list, the signature before anything the claims say.
    todo!()
}

/// The server-side table of refresh tokens, grouped in families (one family per login).
#[derive(Debug, Default)]
pub struct RefreshTokens {
    // TODO: what the server must remember about each refresh token and each family.
}

impl RefreshTokens {
    /// Starts a new family for `user` (a login) and returns its first token.
    pub fn start_family(&mut self, user: &str, now_s: u64, ttl_s: u64) -> String {
        // TODO: a new family, and its first token (32 random bytes from a CSPRNG, as text).
        todo!()
    }

    /// Trades `token` for a new one of the same family; `Some((user, new token))`, or `None` if refused.
    /// A token used twice revokes its whole family.
    pub fn rotate(&mut self, token: &str, now_s: u64, ttl_s: u64) -> Option<(String, String)> {
        // TODO: refuse what is unknown, revoked or expired; a token seen a second time kills its family; otherwise
        // retire it and issue its successor.
        todo!()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        backlings_harness::stdio::from_hex(text).unwrap()
    }

    fn config() -> Config {
        Config {
            keys: vec![
                (
                    "new".to_string(),
                    b"new secret, 32 bytes long......!".to_vec(),
                ),
                (
                    "old".to_string(),
                    b"old secret, 32 bytes long......!".to_vec(),
                ),
            ],
            issuer: "https://auth.example".to_string(),
            audience: "https://api.example".to_string(),
            access_ttl_s: 300,
            refresh_ttl_s: 3600,
            leeway_s: 30,
        }
    }

    fn claims(exp: u64) -> Value {
        json!({"iss": "https://auth.example", "aud": "https://api.example", "sub": "alice", "iat": 1000, "exp": exp})
    }

    // RFC 4231 test cases 1 and 2: HMAC-SHA-256.
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hmac_sha256(&[0x0b; 20], b"Hi There"),
            hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    // RFC 7515 appendix A.1: the HS256 example's signature, from its JWK key.
    #[test]
    fn signature_matches_rfc_7515_a1() {
        let key = URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        assert_eq!(
            URL_SAFE_NO_PAD.encode(hmac_sha256(&key, input.as_bytes())),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    // A token we sign verifies, and is base64url without padding.
    #[test]
    fn a_signed_token_verifies() {
        let token = sign(&config(), &claims(1300));
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
        assert_eq!(verify(&config(), &token, 1000).unwrap()["sub"], "alice");
    }

    // alg none, a changed payload and another key are all refused.
    #[test]
    fn forged_tokens_are_refused() {
        let token = sign(&config(), &claims(1300));
        let parts: Vec<&str> = token.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(verify(&config(), &format!("{none}.{}.", parts[1]), 1000).is_err());
        let mallory = URL_SAFE_NO_PAD.encode(claims(1300).to_string().replace("alice", "admin"));
        assert!(
            verify(
                &config(),
                &format!("{}.{mallory}.{}", parts[0], parts[2]),
                1000
            )
            .is_err()
        );
        let mut other = config();
        other.keys[0].1 = b"somebody else's secret".to_vec();
        assert!(verify(&config(), &sign(&other, &claims(1300)), 1000).is_err());
    }

    // exp counts with the leeway, to the second; the old key still verifies.
    #[test]
    fn expiry_and_rotation() {
        let token = sign(&config(), &claims(1300));
        assert!(verify(&config(), &token, 1330).is_ok());
        assert!(verify(&config(), &token, 1331).is_err());
        let mut rotated = config();
        rotated.keys.reverse();
        assert!(verify(&config(), &sign(&rotated, &claims(1300)), 1000).is_ok());
    }

    // Refresh tokens rotate; a reused one kills its whole family.
    #[test]
    fn refresh_reuse_revokes_the_family() {
        let mut tokens = RefreshTokens::default();
        let first = tokens.start_family("bob", 1000, 3600);
        let (user, second) = tokens.rotate(&first, 1001, 3600).unwrap();
        assert_eq!(user, "bob");
        assert_eq!(tokens.rotate(&first, 1002, 3600), None);
        assert_eq!(tokens.rotate(&second, 1003, 3600), None);
        let other = tokens.start_family("bob", 1004, 3600);
        assert!(tokens.rotate(&other, 1005, 3600).is_some());
    }
}
