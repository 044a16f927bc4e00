//! mutant: encodes the S256 challenge as padded base64url, so no real client's verifier ever matches
//! expect: verifier whose S256 is the challenge

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long an authorization code stays valid.
pub const CODE_TTL_MS: u64 = 60_000;
/// How long an access token stays valid.
pub const ACCESS_TOKEN_TTL_S: u64 = 3600;
/// How long an ID token stays valid (its `exp - iat`).
pub const ID_TOKEN_TTL_S: u64 = 300;

/// `BASE64URL(SHA-256(verifier))` without padding: the S256 `code_challenge` of a `code_verifier`
/// (RFC 7636 §4.2).
pub fn pkce_challenge_s256(verifier: &str) -> String {
    URL_SAFE.encode(Sha256::digest(verifier.as_bytes()))
}

/// The parameters of a `GET /authorize` (absent ones are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// What `/authorize` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// `302` to `redirect_uri` with `params` added to its query (`code` and `state`, or `error` and `state`).
    Redirect {
        redirect_uri: String,
        params: Vec<(String, String)>,
    },
    /// `400` error page shown to the user, with no redirect (the redirect target cannot be trusted).
    ErrorPage { error: String },
}

/// The form parameters of a `POST /token` (absent ones are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
}

/// An OAuth error code (`invalid_grant`, …) and a human description: the glue answers it as `400` JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }
}

/// Why `/userinfo` refuses a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// `401`: no token, or one that is unknown, expired or revoked.
    InvalidToken,
    /// `403`: a valid token without the scope this endpoint needs (`openid`).
    InsufficientScope,
}

/// A registered client (an application).
#[derive(Debug, Clone, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    /// The scopes this client may ask for.
    pub scopes: Vec<String>,
}

/// A user, with the claims `/userinfo` may reveal.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub sub: String,
    pub name: String,
    pub email: String,
}

/// Everything the server is configured with (the `AUTH5_CONFIG` environment variable, as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub issuer: String,
    /// 32 bytes in hex: the Ed25519 signing key's seed.
    pub key_seed_hex: String,
    /// Seeds the generator of codes and tokens.
    pub rng_seed: u64,
    pub clients: Vec<Client>,
    pub users: Vec<User>,
}

/// An issued authorization code and what it was issued for.
#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    sub: String,
    scopes: Vec<String>,
    code_challenge: String,
    nonce: Option<String>,
    expires_at_ms: u64,
    /// Presented to `/token` once already; the access token it bought, if that presentation succeeded.
    burnt: Option<Option<String>>,
}

/// An issued access token.
#[derive(Debug, Clone)]
struct AccessToken {
    sub: String,
    scopes: Vec<String>,
    expires_at_ms: u64,
    revoked: bool,
}

/// The authorization server's state.
pub struct AuthServer {
    issuer: String,
    key: SigningKey,
    kid: String,
    rng: ChaCha8Rng,
    clients: BTreeMap<String, Client>,
    users: BTreeMap<String, User>,
    codes: HashMap<String, CodeGrant>,
    tokens: HashMap<String, AccessToken>,
}

impl AuthServer {
    /// A server with no codes or tokens issued yet (provided).
    pub fn new(config: Config) -> Result<Self, String> {
        let seed = backlings_harness::stdio::from_hex(&config.key_seed_hex)?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| "key_seed_hex must be 32 bytes".to_string())?;
        let key = SigningKey::from_bytes(&seed);
        let kid = key_id(&key);
        Ok(AuthServer {
            issuer: config.issuer,
            key,
            kid,
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            clients: config
                .clients
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            users: config
                .users
                .into_iter()
                .map(|u| (u.sub.clone(), u))
                .collect(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
        })
    }

    /// A fresh unguessable value for a code or a token: 32 random bytes, base64url (provided).
    fn random_token(&mut self) -> String {
        let mut bytes = [0u8; 32];
        self.rng.fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The discovery document (provided): where a client finds every endpoint and what this server supports.
    pub fn discovery(&self) -> Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": at("/authorize"),
            "token_endpoint": at("/token"),
            "userinfo_endpoint": at("/userinfo"),
            "jwks_uri": at("/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nonce", "name", "email"],
        })
    }

    /// The JSON Web Key Set with this server's public key (RFC 7517, the OKP key type of RFC 8037).
    pub fn jwks(&self) -> Value {
        let x = URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes());
        json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": x,
            }]
        })
    }

    /// `GET /authorize` for the logged-in user `sub`, at `now_ms`.
    pub fn authorize(
        &mut self,
        sub: &str,
        request: &AuthorizeRequest,
        now_ms: u64,
    ) -> AuthorizeOutcome {
        let Some(client) = request
            .client_id
            .as_ref()
            .and_then(|id| self.clients.get(id))
            .cloned()
        else {
            return AuthorizeOutcome::ErrorPage {
                error: "invalid_request: unknown client_id".to_string(),
            };
        };
        let Some(redirect_uri) = request
            .redirect_uri
            .as_ref()
            .filter(|uri| client.redirect_uris.contains(uri))
            .cloned()
        else {
            return AuthorizeOutcome::ErrorPage {
                error: "invalid_request: redirect_uri is not registered for this client"
                    .to_string(),
            };
        };
        let redirect = |mut params: Vec<(String, String)>| {
            if let Some(state) = &request.state {
                params.push(("state".to_string(), state.clone()));
            }
            AuthorizeOutcome::Redirect {
                redirect_uri: redirect_uri.clone(),
                params,
            }
        };
        let error = |code: &str| vec![("error".to_string(), code.to_string())];

        if request.response_type.as_deref() != Some("code") {
            return redirect(error("unsupported_response_type"));
        }
        let Some(challenge) = request.code_challenge.clone() else {
            return redirect(error("invalid_request"));
        };
        if request.code_challenge_method.as_deref() != Some("S256") {
            return redirect(error("invalid_request"));
        }
        let scopes: Vec<String> = request
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if scopes.is_empty() || scopes.iter().any(|s| !client.scopes.contains(s)) {
            return redirect(error("invalid_scope"));
        }

        let code = self.random_token();
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client.client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                sub: sub.to_string(),
                scopes,
                code_challenge: challenge,
                nonce: request.nonce.clone(),
                expires_at_ms: now_ms + CODE_TTL_MS,
                burnt: None,
            },
        );
        redirect(vec![("code".to_string(), code)])
    }

    /// `POST /token` at `now_ms`: exchanges a code for tokens, or says why not.
    pub fn token(&mut self, request: &TokenRequest, now_ms: u64) -> Result<Value, OAuthError> {
        match request.grant_type.as_deref() {
            Some("authorization_code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    "only authorization_code is supported",
                ));
            }
            None => return Err(OAuthError::new("invalid_request", "grant_type is missing")),
        }
        let (Some(code), Some(redirect_uri), Some(client_id), Some(verifier)) = (
            &request.code,
            &request.redirect_uri,
            &request.client_id,
            &request.code_verifier,
        ) else {
            return Err(OAuthError::new(
                "invalid_request",
                "code, redirect_uri, client_id and code_verifier are required",
            ));
        };
        let Some(grant) = self.codes.get_mut(code) else {
            return Err(OAuthError::new("invalid_grant", "unknown code"));
        };
        if let Some(bought) = grant.burnt.clone() {
            if let Some(token) = bought.and_then(|t| self.tokens.get_mut(&t)) {
                token.revoked = true;
            }
            return Err(OAuthError::new("invalid_grant", "code already used"));
        }
        grant.burnt = Some(None);
        let grant = grant.clone();
        if now_ms >= grant.expires_at_ms {
            return Err(OAuthError::new("invalid_grant", "code expired"));
        }
        if &grant.client_id != client_id {
            return Err(OAuthError::new(
                "invalid_grant",
                "code issued to another client",
            ));
        }
        if &grant.redirect_uri != redirect_uri {
            return Err(OAuthError::new(
                "invalid_grant",
                "redirect_uri does not match",
            ));
        }
        if pkce_challenge_s256(verifier) != grant.code_challenge {
            return Err(OAuthError::new(
                "invalid_grant",
                "code_verifier does not match",
            ));
        }

        let access_token = self.random_token();
        self.tokens.insert(
            access_token.clone(),
            AccessToken {
                sub: grant.sub.clone(),
                scopes: grant.scopes.clone(),
                expires_at_ms: now_ms + ACCESS_TOKEN_TTL_S * 1000,
                revoked: false,
            },
        );
        if let Some(grant) = self.codes.get_mut(code) {
            grant.burnt = Some(Some(access_token.clone()));
        }
        let mut response = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "scope": grant.scopes.join(" "),
        });
        if grant.scopes.iter().any(|s| s == "openid") {
            let iat = now_ms / 1000;
            let mut claims = json!({
                "iss": self.issuer,
                "sub": grant.sub,
                "aud": grant.client_id,
                "iat": iat,
                "exp": iat + ID_TOKEN_TTL_S,
            });
            if let Some(nonce) = &grant.nonce {
                claims["nonce"] = json!(nonce);
            }
            response["id_token"] = json!(sign_jwt(&self.key, &self.kid, &claims));
        }
        Ok(response)
    }

    /// `GET /userinfo` with the bearer token `bearer` (if any) at `now_ms`.
    pub fn userinfo(&self, bearer: Option<&str>, now_ms: u64) -> Result<Value, BearerError> {
        let token = bearer
            .and_then(|t| self.tokens.get(t))
            .filter(|t| !t.revoked && now_ms < t.expires_at_ms)
            .ok_or(BearerError::InvalidToken)?;
        let has = |scope: &str| token.scopes.iter().any(|s| s == scope);
        if !has("openid") {
            return Err(BearerError::InsufficientScope);
        }
        let user = self
            .users
            .get(&token.sub)
            .ok_or(BearerError::InvalidToken)?;
        let mut info = json!({ "sub": user.sub });
        if has("profile") {
            info["name"] = json!(user.name);
        }
        if has("email") {
            info["email"] = json!(user.email);
        }
        Ok(info)
    }
}

/// The key id published in the JWKS and put in every token header (provided): the first 8 bytes of the
/// SHA-256 of the public key, in hex.
fn key_id(key: &SigningKey) -> String {
    let digest = Sha256::digest(key.verifying_key().to_bytes());
    backlings_harness::stdio::to_hex(&digest[..8])
}

/// A compact JWS (`header.payload.signature`, each base64url) of `claims`, signed with Ed25519 (provided:
/// building JWTs was the subject of `auth3_jwt_refresh`).
pub fn sign_jwt(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// `redirect_uri` with `params` added to its query string (provided).
pub fn redirect_location(redirect_uri: &str, params: &[(String, String)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{query}")
}

/// The first value of each name in an `application/x-www-form-urlencoded` string (provided).
fn form(text: &str) -> HashMap<String, String> {
    let mut values = HashMap::new();
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        values
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    values
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// Routes one HTTP request to the server (provided: you do not need to change this).
pub fn handle(server: &Mutex<AuthServer>, request: &Request) -> Response {
    let mut server = server.lock().unwrap_or_else(|e| e.into_inner());
    let route = (request.method.as_str(), request.path());
    if route == ("GET", "/.well-known/openid-configuration") {
        return json_response(200, &server.discovery());
    }
    if route == ("GET", "/jwks") {
        return json_response(200, &server.jwks());
    }
    let Some(now_ms) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Response::text(400, "missing X-Fake-Now: <unix-ms>\n");
    };
    match route {
        ("GET", "/authorize") => {
            let Some(sub) = request.header("x-user").map(str::to_string) else {
                return Response::text(401, "login required: send X-User\n");
            };
            let mut q = form(request.query().unwrap_or(""));
            let authorize = AuthorizeRequest {
                response_type: q.remove("response_type"),
                client_id: q.remove("client_id"),
                redirect_uri: q.remove("redirect_uri"),
                scope: q.remove("scope"),
                state: q.remove("state"),
                nonce: q.remove("nonce"),
                code_challenge: q.remove("code_challenge"),
                code_challenge_method: q.remove("code_challenge_method"),
            };
            match server.authorize(&sub, &authorize, now_ms) {
                AuthorizeOutcome::Redirect {
                    redirect_uri,
                    params,
                } => Response::new(302)
                    .with_header("Location", redirect_location(&redirect_uri, &params))
                    .with_header("Cache-Control", "no-store"),
                AuthorizeOutcome::ErrorPage { error } => {
                    json_response(400, &json!({ "error": error }))
                }
            }
        }
        ("POST", "/token") => {
            let mut f = form(&String::from_utf8_lossy(&request.body));
            let token = TokenRequest {
                grant_type: f.remove("grant_type"),
                code: f.remove("code"),
                redirect_uri: f.remove("redirect_uri"),
                client_id: f.remove("client_id"),
                code_verifier: f.remove("code_verifier"),
            };
            let (status, body) = match server.token(&token, now_ms) {
                Ok(body) => (200, body),
                Err(e) => (
                    400,
                    json!({ "error": e.error, "error_description": e.description }),
                ),
            };
            json_response(status, &body)
                .with_header("Cache-Control", "no-store")
                .with_header("Pragma", "no-cache")
        }
        ("GET", "/userinfo") => {
            let bearer = request
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "));
            match server.userinfo(bearer, now_ms) {
                Ok(info) => json_response(200, &info),
                Err(BearerError::InvalidToken) => Response::text(401, "invalid token\n")
                    .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
                Err(BearerError::InsufficientScope) => Response::text(403, "insufficient scope\n")
                    .with_header(
                        "WWW-Authenticate",
                        "Bearer error=\"insufficient_scope\", scope=\"openid\"",
                    ),
            }
        }
        _ => Response::text(404, "not found\n"),
    }
}

/// A configuration to play with when `AUTH5_CONFIG` is not set (provided).
const DEMO_CONFIG: &str = r#"{
  "issuer": "https://id.backlings.test",
  "key_seed_hex": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  "rng_seed": 1,
  "clients": [{"client_id": "demo-app", "redirect_uris": ["https://app.backlings.test/callback"],
               "scopes": ["openid", "profile", "email"]}],
  "users": [{"sub": "alice", "name": "Alice", "email": "alice@example.test"}]
}"#;

/// Serves the authorization server over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let text = std::env::var("AUTH5_CONFIG").unwrap_or_else(|_| DEMO_CONFIG.to_string());
    let server = match serde_json::from_str::<Config>(&text)
        .map_err(|e| e.to_string())
        .and_then(AuthServer::new)
    {
        Ok(server) => Mutex::new(server),
        Err(why) => {
            eprintln!("error: bad AUTH5_CONFIG: {why}");
            return ExitCode::from(2);
        }
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

    const T0: u64 = 1_700_000_000_000;
    const CALLBACK: &str = "https://app.backlings.test/callback";
    // The code_verifier and code_challenge of RFC 7636, Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn server() -> AuthServer {
        AuthServer::new(serde_json::from_str(DEMO_CONFIG).unwrap()).unwrap()
    }

    fn authorize_request() -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: Some("code".into()),
            client_id: Some("demo-app".into()),
            redirect_uri: Some(CALLBACK.into()),
            scope: Some("openid profile".into()),
            state: Some("xyz".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            code_challenge: Some(RFC_CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
        }
    }

    fn code_of(outcome: &AuthorizeOutcome) -> String {
        match outcome {
            AuthorizeOutcome::Redirect { params, .. } => params
                .iter()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.clone())
                .expect("a code in the redirect"),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    fn token_request(code: &str, verifier: &str) -> TokenRequest {
        TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.into()),
            redirect_uri: Some(CALLBACK.into()),
            client_id: Some("demo-app".into()),
            code_verifier: Some(verifier.into()),
        }
    }

    fn claims_of(id_token: &str) -> Value {
        let payload = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    // The S256 transform matches the example of RFC 7636, Appendix B.
    #[test]
    fn pkce_s256_matches_rfc_7636() {
        assert_eq!(pkce_challenge_s256(RFC_VERIFIER), RFC_CHALLENGE);
    }

    // The JWKS publishes the Ed25519 public key of RFC 8032's first test vector (our demo key) as an OKP JWK.
    #[test]
    fn jwks_publishes_the_public_key() {
        let jwks = server().jwks();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key["kid"], json!(key_id(&server().key)));
    }

    // The whole flow: a code for the right verifier buys tokens; the id_token says who, for whom, and when.
    #[test]
    fn the_code_flow_issues_tokens_and_an_id_token() {
        let mut s = server();
        let outcome = s.authorize("alice", &authorize_request(), T0);
        let AuthorizeOutcome::Redirect {
            redirect_uri,
            params,
        } = &outcome
        else {
            panic!("expected a redirect, got {outcome:?}");
        };
        assert_eq!(redirect_uri, CALLBACK);
        assert!(params.contains(&("state".to_string(), "xyz".to_string())));
        let tokens = s
            .token(&token_request(&code_of(&outcome), RFC_VERIFIER), T0 + 1000)
            .unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid profile");
        let claims = claims_of(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["aud"], "demo-app");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims["iat"], json!(T0 / 1000 + 1));
        assert_eq!(claims["exp"], json!(T0 / 1000 + 1 + ID_TOKEN_TTL_S));
        let access = tokens["access_token"].as_str().unwrap();
        let info = s.userinfo(Some(access), T0 + 2000).unwrap();
        assert_eq!(info, json!({"sub": "alice", "name": "Alice"}));
    }

    // A redirect_uri that is not exactly a registered one gets an error page, never a redirect.
    #[test]
    fn an_unregistered_redirect_uri_is_never_redirected_to() {
        let mut s = server();
        for uri in [
            format!("{CALLBACK}/../evil"),
            format!("{CALLBACK}.evil.test"),
            "https://evil.test/callback".to_string(),
        ] {
            let mut request = authorize_request();
            request.redirect_uri = Some(uri.clone());
            let outcome = s.authorize("alice", &request, T0);
            assert!(
                matches!(outcome, AuthorizeOutcome::ErrorPage { .. }),
                "{uri}: {outcome:?}"
            );
        }
    }

    // A wrong verifier is refused, and burns the code: the right one is refused afterwards too.
    #[test]
    fn a_wrong_verifier_is_refused_and_burns_the_code() {
        let mut s = server();
        let code = code_of(&s.authorize("alice", &authorize_request(), T0));
        let wrong = s
            .token(&token_request(&code, RFC_CHALLENGE), T0)
            .unwrap_err();
        assert_eq!(wrong.error, "invalid_grant");
        let again = s
            .token(&token_request(&code, RFC_VERIFIER), T0)
            .unwrap_err();
        assert_eq!(again.error, "invalid_grant");
    }

    // A replayed code is refused and revokes the access token the first exchange bought.
    #[test]
    fn a_replayed_code_revokes_its_tokens() {
        let mut s = server();
        let code = code_of(&s.authorize("alice", &authorize_request(), T0));
        let tokens = s.token(&token_request(&code, RFC_VERIFIER), T0).unwrap();
        let access = tokens["access_token"].as_str().unwrap().to_string();
        assert!(s.userinfo(Some(&access), T0).is_ok());
        let replay = s
            .token(&token_request(&code, RFC_VERIFIER), T0)
            .unwrap_err();
        assert_eq!(replay.error, "invalid_grant");
        assert_eq!(
            s.userinfo(Some(&access), T0),
            Err(BearerError::InvalidToken)
        );
    }

    // A code works until one millisecond before its 60 s are up, not at 60 s.
    #[test]
    fn codes_expire_after_sixty_seconds() {
        let mut s = server();
        let late = code_of(&s.authorize("alice", &authorize_request(), T0));
        let expired = s
            .token(&token_request(&late, RFC_VERIFIER), T0 + CODE_TTL_MS)
            .unwrap_err();
        assert_eq!(expired.error, "invalid_grant");
        let on_time = code_of(&s.authorize("alice", &authorize_request(), T0));
        assert!(
            s.token(&token_request(&on_time, RFC_VERIFIER), T0 + CODE_TTL_MS - 1)
                .is_ok()
        );
    }

    // Errors after the redirect_uri is trusted go back to the client with its state.
    #[test]
    fn errors_redirect_with_the_state() {
        let mut s = server();
        let mut plain = authorize_request();
        plain.code_challenge_method = Some("plain".into());
        let mut admin = authorize_request();
        admin.scope = Some("openid admin".into());
        for (request, error) in [(plain, "invalid_request"), (admin, "invalid_scope")] {
            let outcome = s.authorize("alice", &request, T0);
            let AuthorizeOutcome::Redirect { params, .. } = outcome else {
                panic!("expected a redirect for {error}");
            };
            assert_eq!(
                params,
                vec![
                    ("error".to_string(), error.to_string()),
                    ("state".to_string(), "xyz".to_string())
                ]
            );
        }
    }
}
