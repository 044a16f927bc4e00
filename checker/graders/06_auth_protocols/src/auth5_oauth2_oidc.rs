//! Grader of `auth5_oauth2_oidc`: the grader is an OAuth 2.0 client (and an attacker) of the learner's
//! authorization server.
//!
//! It registers seeded clients and users through `AUTH5_CONFIG`, runs the authorization code flow with PKCE
//! (RFC 7636's own example verifier included), verifies every ID token with an independent JWT library
//! (`jsonwebtoken`) against the key the server publishes in its JWKS, and then tries what attackers try:
//! redirect URIs that only look registered, a stolen code without its verifier, a replayed code, a code
//! presented by another client or after it expired, and scopes the client was never granted.

use std::collections::BTreeSet;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng, Server};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// RFC 7636, Appendix B: the example `code_verifier` and its S256 `code_challenge`.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CODE_TTL_MS: u64 = 60_000;
const ACCESS_TTL_MS: u64 = 3_600_000;
const ID_TOKEN_TTL_S: u64 = 300;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let world = World::generate(g.rng());
    g.scenario("discovery and the JWKS publish the server's Ed25519 key");
    let mut s = Session::start(g, world)?;
    s.discovery_and_jwks()?;

    g.scenario("the code flow with PKCE: tokens, an ID token a JWT library verifies, userinfo");
    s.happy_path()?;
    g.scenario("RFC 7636 Appendix B: the example verifier redeems a code issued for its challenge");
    s.rfc_vector()?;
    g.scenario("a wrong code_verifier is refused, and the stolen code is burnt");
    s.wrong_verifier()?;
    g.scenario("a replayed code is refused and revokes the tokens issued with it");
    s.replayed_code()?;
    g.scenario("redirect_uri is matched exactly: no redirect to a URI that only looks registered");
    s.redirect_exact()?;
    g.scenario("errors after the redirect_uri is trusted go back to the client with its state");
    s.errors_redirect()?;
    g.scenario("a code is bound to its client and its redirect_uri");
    s.code_binding()?;
    g.scenario("codes expire after 60 s");
    s.code_expiry()?;
    g.scenario("scopes decide what the tokens and userinfo carry");
    s.scopes()?;
    g.scenario("access tokens expire after 3600 s, and bad bearer tokens get 401");
    s.access_expiry()
}

/// One registered client.
#[derive(Debug, Clone)]
struct ClientSpec {
    id: String,
    redirect_uris: Vec<String>,
    scopes: Vec<&'static str>,
}

/// One registered user.
#[derive(Debug, Clone)]
struct UserSpec {
    sub: String,
    name: String,
    email: String,
}

/// Everything the server is configured with, generated from the seed.
#[derive(Debug, Clone)]
struct World {
    issuer: String,
    key_seed: [u8; 32],
    rng_seed: u64,
    web: ClientSpec,
    cli: ClientSpec,
    users: Vec<UserSpec>,
}

impl World {
    fn generate(rng: &mut Rng) -> World {
        let mut key_seed = [0u8; 32];
        key_seed.copy_from_slice(&rng.bytes(32));
        let app = rng.word(6);
        let web = ClientSpec {
            id: format!("web-{}", rng.word(5)),
            redirect_uris: vec![
                format!("https://{app}.app.test/callback"),
                format!(
                    "https://{app}.app.test/oauth/return?tenant={}",
                    rng.below(100)
                ),
            ],
            scopes: vec!["openid", "profile", "email", "orders:read"],
        };
        let cli = ClientSpec {
            id: format!("cli-{}", rng.word(5)),
            redirect_uris: vec![format!("http://127.0.0.1:{}/cb", rng.range(20_000, 60_000))],
            scopes: vec!["openid", "orders:read"],
        };
        let users = (0..3)
            .map(|_| {
                let who = rng.word(6);
                UserSpec {
                    sub: format!("user-{who}"),
                    name: format!("User {who}"),
                    email: format!("{who}@mail.test"),
                }
            })
            .collect();
        World {
            issuer: format!("https://id-{}.backlings.test", rng.word(5)),
            key_seed,
            rng_seed: rng.next_u64(),
            web,
            cli,
            users,
        }
    }

    fn config(&self) -> Value {
        let client = |c: &ClientSpec| json!({"client_id": c.id, "redirect_uris": c.redirect_uris, "scopes": c.scopes});
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|u| json!({"sub": u.sub, "name": u.name, "email": u.email}))
            .collect();
        json!({
            "issuer": self.issuer,
            "key_seed_hex": hex(&self.key_seed),
            "rng_seed": self.rng_seed,
            "clients": [client(&self.web), client(&self.cli)],
            "users": users,
        })
    }

    /// The base64url public key the JWKS must publish.
    fn public_x(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            SigningKey::from_bytes(&self.key_seed)
                .verifying_key()
                .to_bytes(),
        )
    }
}

/// A code obtained from `/authorize`, with what the client knows about it.
#[derive(Debug, Clone)]
struct Grant {
    client: ClientSpec,
    redirect_uri: String,
    verifier: String,
    code: String,
    issued_ms: u64,
    user: UserSpec,
    scopes: Vec<String>,
    nonce: Option<String>,
}

/// The running server and the grader's client state.
struct Session {
    server: Server,
    world: World,
    rng: Rng,
    now: u64,
    /// The key published in the JWKS, once fetched.
    jwk_x: String,
    kid: String,
}

impl Session {
    fn start(g: &mut Grading, world: World) -> Result<Session, Failure> {
        let config = world.config().to_string();
        let server = g.server_with(&[], &[("AUTH5_CONFIG", &config)])?;
        let rng = g.rng().fork(5);
        let now = 1_700_000_000_000 + g.rng().below(100_000_000_000);
        Ok(Session {
            server,
            world,
            rng,
            now,
            jwk_x: String::new(),
            kid: String::new(),
        })
    }

    fn tick(&mut self) -> u64 {
        self.now += self.rng.range(1, 2_000);
        self.now
    }

    fn get_json(&mut self, path: &str) -> Result<Value, Failure> {
        let response = self.server.http(&Request::get(path))?;
        json_body(
            &response,
            &format!("GET {path} answers 200 with a JSON body"),
            200,
        )
    }

    fn discovery_and_jwks(&mut self) -> Result<(), Failure> {
        let discovery = self.get_json("/.well-known/openid-configuration")?;
        let issuer = &self.world.issuer;
        if discovery["issuer"] != json!(issuer)
            || discovery["jwks_uri"] != json!(format!("{issuer}/jwks"))
        {
            return Err(Failure::new(
                "the discovery document names the configured issuer and its endpoints under it",
            )
            .expected(format!("issuer {issuer}, jwks_uri {issuer}/jwks"))
            .got(discovery.to_string()));
        }
        let jwks = self.get_json("/jwks")?;
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        let rule = "the JWKS is {\"keys\":[…]} with one Ed25519 key as an OKP JWK (RFC 8037): kty OKP, crv \
                    Ed25519, alg EdDSA, use sig, a kid, and x = the base64url (no padding) of the 32-byte \
                    public key";
        let [key] = keys.as_slice() else {
            return Err(Failure::new(rule)
                .expected("exactly one key")
                .got(jwks.to_string()));
        };
        let fields_ok = key["kty"] == "OKP"
            && key["crv"] == "Ed25519"
            && key["alg"] == "EdDSA"
            && key["use"] == "sig"
            && key["kid"].as_str().is_some_and(|k| !k.is_empty());
        let x = key["x"].as_str().unwrap_or_default().to_string();
        if !fields_ok || x != self.world.public_x() {
            return Err(Failure::new(rule)
                .expected(format!(
                    "{{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":…,\"x\":\"{}\"}}",
                    self.world.public_x()
                ))
                .got(key.to_string()));
        }
        self.jwk_x = x;
        self.kid = key["kid"].as_str().unwrap_or_default().to_string();
        Ok(())
    }

    fn new_verifier(&mut self) -> String {
        // 32 random bytes in base64url: 43 characters, the RFC's recommended form.
        URL_SAFE_NO_PAD.encode(self.rng.bytes(32))
    }

    fn authorize_request(&self, user: &UserSpec, params: &[(&str, &str)]) -> Request {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Request::get(&format!("/authorize?{query}"))
            .header("X-User", &user.sub)
            .header("X-Fake-Now", &self.now.to_string())
    }

    /// Runs `/authorize` for a valid request and returns the code, checking the redirect.
    fn grant(
        &mut self,
        client: &ClientSpec,
        redirect_index: usize,
        scopes: &[&str],
        with_nonce: bool,
    ) -> Result<Grant, Failure> {
        let verifier = self.new_verifier();
        self.grant_with(client, redirect_index, scopes, with_nonce, verifier, None)
    }

    fn grant_with(
        &mut self,
        client: &ClientSpec,
        redirect_index: usize,
        scopes: &[&str],
        with_nonce: bool,
        verifier: String,
        challenge: Option<&str>,
    ) -> Result<Grant, Failure> {
        let user = self.world.users[self.rng.below(3) as usize].clone();
        let redirect_uri = client.redirect_uris[redirect_index].clone();
        let state = format!("st {}&={}/é", self.rng.word(6), self.rng.below(1000));
        let nonce = with_nonce.then(|| format!("n-{}", self.rng.word(10)));
        let challenge = challenge.map_or_else(|| s256(&verifier), str::to_string);
        let scope = scopes.join(" ");
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", scope.as_str()),
            ("state", state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(nonce) = &nonce {
            params.push(("nonce", nonce));
        }
        self.tick();
        let request = self.authorize_request(&user, &params);
        let response = self.server.http(&request)?;
        let rule = "a valid /authorize request is answered 302 with Location = the redirect_uri plus \
                    code=… and the client's state";
        let query = redirect_params(&response, &redirect_uri).ok_or_else(|| {
            Failure::new(rule)
                .expected(format!("302 · Location: {redirect_uri}?code=…&state=…"))
                .got(summary(&response))
        })?;
        let code = param(&query, "code").unwrap_or_default();
        if code.len() < 16
            || param(&query, "state") != Some(state.clone())
            || param(&query, "error").is_some()
        {
            return Err(Failure::new(rule)
                .expected(format!(
                    "a code (at least 16 unguessable characters) and state={state:?} in the redirect"
                ))
                .got(format!("{query:?}")));
        }
        Ok(Grant {
            client: client.clone(),
            redirect_uri,
            verifier,
            code,
            issued_ms: self.now,
            user,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            nonce,
        })
    }

    /// `POST /token` with these form fields at `now`.
    fn token(&mut self, fields: &[(&str, &str)], now: u64) -> Result<Response, Failure> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::post("/token", body)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Fake-Now", &now.to_string());
        self.server.http(&request)
    }

    /// Exchanges a grant as its client would, with `verifier` and at `now`.
    fn exchange(&mut self, grant: &Grant, verifier: &str, now: u64) -> Result<Response, Failure> {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("redirect_uri", &grant.redirect_uri),
                ("client_id", &grant.client.id),
                ("code_verifier", verifier),
            ],
            now,
        )
    }

    /// Exchanges a grant and checks the whole token response and the ID token; returns the access token.
    fn redeem(&mut self, grant: &Grant, now: u64) -> Result<String, Failure> {
        let response = self.exchange(grant, &grant.verifier.clone(), now)?;
        let body = json_body(
            &response,
            "the code, with its client_id, redirect_uri and the verifier whose S256 is the challenge, is \
             exchanged for tokens: 200 with JSON",
            200,
        )?;
        if response.header("Cache-Control") != Some("no-store") {
            return Err(
                Failure::new("a token response carries Cache-Control: no-store")
                    .got(summary(&response)),
            );
        }
        let granted: BTreeSet<&str> = body["scope"].as_str().unwrap_or("").split(' ').collect();
        let asked: BTreeSet<&str> = grant.scopes.iter().map(String::as_str).collect();
        let access = body["access_token"].as_str().unwrap_or("").to_string();
        if body["token_type"] != "Bearer"
            || body["expires_in"] != 3600
            || access.len() < 16
            || granted != asked
        {
            return Err(Failure::new(
                "the token response is {\"access_token\",\"token_type\":\"Bearer\",\"expires_in\":3600,\
                 \"scope\": the scopes granted at /authorize}",
            )
            .expected(format!("token_type Bearer, expires_in 3600, scope {:?}", grant.scopes.join(" ")))
            .got(body.to_string()));
        }
        let openid = grant.scopes.iter().any(|s| s == "openid");
        match (&body["id_token"], openid) {
            (Value::String(id_token), true) => self.check_id_token(id_token, grant, now)?,
            (Value::Null, false) => {}
            (_, true) => {
                return Err(Failure::new(
                    "with the openid scope the token response carries an id_token",
                )
                .got(body.to_string()));
            }
            (_, false) => {
                return Err(Failure::new(
                    "without the openid scope there is no id_token: the client asked for access, not login",
                )
                .got(body.to_string()));
            }
        }
        Ok(access)
    }

    fn check_id_token(&self, id_token: &str, grant: &Grant, now: u64) -> Result<(), Failure> {
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| {
            Failure::new("the id_token is a compact JWS: header.payload.signature, each base64url")
                .got(id_token)
                .detail(format!("jsonwebtoken: {e}"))
        })?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(Failure::new(
                "the id_token header names alg EdDSA and the kid of the key in the JWKS",
            )
            .expected(format!("alg EdDSA, kid {}", self.kid))
            .got(format!("alg {:?}, kid {:?}", header.alg, header.kid)));
        }
        let key = DecodingKey::from_ed_components(&self.jwk_x)
            .map_err(|e| Failure::new(format!("the JWKS key is not an Ed25519 key: {e}")))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[&grant.client.id]);
        validation.set_issuer(&[&self.world.issuer]);
        // Time is fake: exp and iat are checked exactly below, against X-Fake-Now.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map_err(|e| {
                Failure::new(
                    "the id_token verifies with the published JWK (checked with the jsonwebtoken library): \
                     a valid Ed25519 signature, iss = the issuer, aud = the client_id it was issued to",
                )
                .expected(format!("iss {}, aud {}", self.world.issuer, grant.client.id))
                .got(format!("{e}: claims {}", peek_claims(id_token)))
            })?
            .claims;
        let iat = now / 1000;
        let mut expected = json!({
            "iss": self.world.issuer,
            "sub": grant.user.sub,
            "aud": grant.client.id,
            "iat": iat,
            "exp": iat + ID_TOKEN_TTL_S,
        });
        if let Some(nonce) = &grant.nonce {
            expected["nonce"] = json!(nonce);
        }
        for name in ["iss", "sub", "aud", "iat", "exp", "nonce"] {
            if claims.get(name) != expected.get(name) {
                let rule = match name {
                    "nonce" => {
                        "the id_token carries the nonce sent to /authorize, and only if one was sent"
                    }
                    "iat" | "exp" => {
                        "iat is X-Fake-Now of the /token request in seconds, exp is iat + 300"
                    }
                    _ => {
                        "the id_token claims are iss, sub (the user), aud (the client_id), iat, exp, nonce"
                    }
                };
                return Err(Failure::new(rule)
                    .expected(expected.to_string())
                    .got(claims.to_string())
                    .detail(format!("claim `{name}` differs")));
            }
        }
        Ok(())
    }

    fn userinfo(&mut self, bearer: Option<&str>, now: u64) -> Result<Response, Failure> {
        let mut request = Request::get("/userinfo").header("X-Fake-Now", &now.to_string());
        if let Some(token) = bearer {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        self.server.http(&request)
    }

    fn expect_userinfo(&mut self, access: &str, grant: &Grant, now: u64) -> Result<(), Failure> {
        let response = self.userinfo(Some(access), now)?;
        let body = json_body(
            &response,
            "/userinfo with a valid token that has the openid scope answers 200",
            200,
        )?;
        let mut expected = json!({ "sub": grant.user.sub });
        if grant.scopes.iter().any(|s| s == "profile") {
            expected["name"] = json!(grant.user.name);
        }
        if grant.scopes.iter().any(|s| s == "email") {
            expected["email"] = json!(grant.user.email);
        }
        if body != expected {
            return Err(Failure::new(
                "/userinfo answers {\"sub\"}, plus \"name\" only with the profile scope and \"email\" only \
                 with the email scope",
            )
            .expected(expected.to_string())
            .got(body.to_string())
            .detail(format!("the token's scopes: {:?}", grant.scopes.join(" "))));
        }
        Ok(())
    }

    fn expect_401(&mut self, bearer: Option<&str>, now: u64, rule: &str) -> Result<(), Failure> {
        let response = self.userinfo(bearer, now)?;
        if response.status != 401
            || !response
                .header("WWW-Authenticate")
                .is_some_and(|h| h.starts_with("Bearer"))
        {
            return Err(Failure::new(rule)
                .expected("401 · WWW-Authenticate: Bearer error=\"invalid_token\"")
                .got(summary(&response)));
        }
        Ok(())
    }

    fn happy_path(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let grant = self.grant(&web, 0, &["openid", "profile", "email"], true)?;
        let now = self.tick();
        let access = self.redeem(&grant, now)?;
        let now = self.tick();
        self.expect_userinfo(&access, &grant, now)?;
        // Without a nonce at /authorize, the ID token has none; the second redirect URI keeps its query.
        let grant = self.grant(&web, 1, &["openid", "email"], false)?;
        let now = self.tick();
        let access = self.redeem(&grant, now)?;
        self.expect_userinfo(&access, &grant, now)
    }

    fn rfc_vector(&mut self) -> Result<(), Failure> {
        let cli = self.world.cli.clone();
        let grant = self.grant_with(
            &cli,
            0,
            &["openid"],
            true,
            RFC_VERIFIER.to_string(),
            Some(RFC_CHALLENGE),
        )?;
        let now = self.tick();
        let response = self.exchange(&grant, RFC_VERIFIER, now)?;
        if response.status != 200 {
            return Err(Failure::new(
                "RFC 7636 Appendix B: the verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk has the S256 \
                 challenge E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM (BASE64URL without padding of its \
                 SHA-256), so it must redeem the code",
            )
            .expected("200 with tokens")
            .got(summary(&response)));
        }
        Ok(())
    }

    fn expect_oauth_error(response: &Response, error: &str, rule: &str) -> Result<(), Failure> {
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status != 400 || body["error"] != error {
            return Err(Failure::new(rule)
                .expected(format!("400 · {{\"error\":\"{error}\"}}"))
                .got(summary(response)));
        }
        Ok(())
    }

    /// A wrong verifier of kind `kind` for `grant`, and what it is.
    fn wrong_verifier_for(&mut self, kind: u64, grant: &Grant) -> (String, &'static str) {
        match kind {
            0 => (self.new_verifier(), "another client's random verifier"),
            1 => (
                s256(&grant.verifier),
                "the challenge itself, what the insecure `plain` method would accept",
            ),
            _ => (
                hex(&Sha256::digest(grant.verifier.as_bytes())),
                "the verifier's SHA-256 in hex",
            ),
        }
    }

    fn wrong_verifier(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let first = self.rng.below(3);
        for round in 0..3 {
            let grant = self.grant(&web, 0, &["openid"], round == 0)?;
            let (verifier, what) = self.wrong_verifier_for((first + round) % 3, &grant);
            let now = self.tick();
            let response = self.exchange(&grant, &verifier, now)?;
            Self::expect_oauth_error(
                &response,
                "invalid_grant",
                &format!(
                    "a wrong code_verifier ({what}) is refused with invalid_grant: a thief who saw the code \
                     and the challenge in the browser must not redeem it"
                ),
            )?;
            let response = self.exchange(&grant, &grant.verifier.clone(), now)?;
            Self::expect_oauth_error(
                &response,
                "invalid_grant",
                "a code is burnt by its first presentation to /token, successful or not: after a failed \
                 attempt even the right verifier is refused",
            )?;
        }
        Ok(())
    }

    fn replayed_code(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let grant = self.grant(&web, 0, &["openid", "profile"], true)?;
        let now = self.tick();
        let access = self.redeem(&grant, now)?;
        self.expect_userinfo(&access, &grant, now)?;
        let later = self.tick();
        let response = self.exchange(&grant, &grant.verifier.clone(), later)?;
        Self::expect_oauth_error(
            &response,
            "invalid_grant",
            "a replayed code (already redeemed) is refused with invalid_grant: a code is single-use",
        )?;
        let later = self.tick();
        self.expect_401(
            Some(&access),
            later,
            "a replayed code means it was stolen: the server revokes the access token issued with it \
             (RFC 6749 §4.1.2), so /userinfo with that token answers 401",
        )
    }

    fn redirect_exact(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let registered = web.redirect_uris[0].clone();
        let host = registered
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let lookalikes = [
            format!("{registered}/../../attacker"),
            format!("{registered}.evil.test"),
            format!("{registered}?next=https://evil.test/"),
            format!("{registered}/"),
            format!("http://{host}/callback"),
            format!("https://{host}.evil.test/callback"),
            "https://evil.test/callback".to_string(),
        ];
        let user = self.world.users[0].clone();
        let verifier = self.new_verifier();
        let challenge = s256(&verifier);
        for uri in lookalikes {
            let params = [
                ("response_type", "code"),
                ("client_id", web.id.as_str()),
                ("redirect_uri", uri.as_str()),
                ("scope", "openid"),
                ("state", "s1"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ];
            self.tick();
            let request = self.authorize_request(&user, &params);
            let response = self.server.http(&request)?;
            if response.status != 400 || response.header("Location").is_some() {
                return Err(Failure::new(
                    "a redirect_uri that is not exactly (byte for byte) a registered one gets a 400 error \
                     page and no redirect: matching it by prefix or by host hands the code to an attacker",
                )
                .expected("400 and no Location header")
                .got(summary(&response))
                .detail(format!("registered: {registered}"))
                .detail(format!("sent:       {uri}")));
            }
        }
        // An unknown client gets the error page too, whatever redirect_uri it names.
        let params = [
            ("response_type", "code"),
            ("client_id", "no-such-client"),
            ("redirect_uri", registered.as_str()),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let request = self.authorize_request(&user, &params);
        let response = self.server.http(&request)?;
        if response.status != 400 || response.header("Location").is_some() {
            return Err(
                Failure::new("an unknown client_id gets a 400 error page and no redirect")
                    .expected("400 and no Location header")
                    .got(summary(&response)),
            );
        }
        Ok(())
    }

    fn errors_redirect(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let cli = self.world.cli.clone();
        let user = self.world.users[1].clone();
        let challenge = s256(&self.new_verifier());
        struct Case {
            client: ClientSpec,
            response_type: Option<&'static str>,
            scope: &'static str,
            challenge: bool,
            method: Option<&'static str>,
            error: &'static str,
            why: &'static str,
        }
        let case =
            |client: &ClientSpec, response_type, scope, challenge, method, error, why| Case {
                client: client.clone(),
                response_type,
                scope,
                challenge,
                method,
                error,
                why,
            };
        let cases = [
            case(
                &web,
                Some("token"),
                "openid",
                true,
                Some("S256"),
                "unsupported_response_type",
                "response_type=token (the implicit flow) is not supported",
            ),
            case(
                &web,
                None,
                "openid",
                true,
                Some("S256"),
                "unsupported_response_type",
                "response_type is missing",
            ),
            case(
                &web,
                Some("code"),
                "openid",
                false,
                Some("S256"),
                "invalid_request",
                "PKCE is required: no code_challenge",
            ),
            case(
                &web,
                Some("code"),
                "openid",
                true,
                Some("plain"),
                "invalid_request",
                "only the S256 method is accepted: plain protects nothing",
            ),
            case(
                &web,
                Some("code"),
                "openid",
                true,
                None,
                "invalid_request",
                "no code_challenge_method means plain (RFC 7636 §4.3), which is refused",
            ),
            case(
                &web,
                Some("code"),
                "openid admin",
                true,
                Some("S256"),
                "invalid_scope",
                "the client may not ask for the scope admin",
            ),
            case(
                &cli,
                Some("code"),
                "openid profile",
                true,
                Some("S256"),
                "invalid_scope",
                "this client was not registered for the profile scope",
            ),
            case(
                &web,
                Some("code"),
                "",
                true,
                Some("S256"),
                "invalid_scope",
                "an empty scope grants nothing",
            ),
        ];
        for c in cases {
            let state = format!("state/{}+{}", self.rng.word(4), self.rng.below(100));
            let uri = c.client.redirect_uris[0].clone();
            let mut params = vec![
                ("client_id", c.client.id.as_str()),
                ("redirect_uri", uri.as_str()),
                ("scope", c.scope),
                ("state", state.as_str()),
            ];
            if let Some(rt) = c.response_type {
                params.push(("response_type", rt));
            }
            if c.challenge {
                params.push(("code_challenge", challenge.as_str()));
            }
            if let Some(method) = c.method {
                params.push(("code_challenge_method", method));
            }
            self.tick();
            let request = self.authorize_request(&user, &params);
            let response = self.server.http(&request)?;
            let query = redirect_params(&response, &uri);
            let ok = query.as_ref().is_some_and(|q| {
                param(q, "error").as_deref() == Some(c.error)
                    && param(q, "state") == Some(state.clone())
                    && param(q, "code").is_none()
            });
            if !ok {
                return Err(Failure::new(format!(
                    "{}: once the redirect_uri is trusted, the error goes back to the client as 302 to the \
                     redirect_uri with error={} and its state (and no code)",
                    c.why, c.error
                ))
                .expected(format!("302 · Location: {uri}?error={}&state=…", c.error))
                .got(summary(&response)));
            }
        }
        Ok(())
    }

    fn code_binding(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let cli = self.world.cli.clone();
        let grant = self.grant(&web, 0, &["openid"], false)?;
        let now = self.tick();
        let response = self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("redirect_uri", &cli.redirect_uris[0]),
                ("client_id", &cli.id),
                ("code_verifier", &grant.verifier),
            ],
            now,
        )?;
        Self::expect_oauth_error(
            &response,
            "invalid_grant",
            "a code issued to one client is refused when another client presents it (even with the right \
             verifier)",
        )?;
        let grant = self.grant(&web, 0, &["openid"], false)?;
        let now = self.tick();
        let response = self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("redirect_uri", &web.redirect_uris[1]),
                ("client_id", &web.id),
                ("code_verifier", &grant.verifier),
            ],
            now,
        )?;
        Self::expect_oauth_error(
            &response,
            "invalid_grant",
            "the redirect_uri at /token must be the one the code was issued for at /authorize (another \
             registered URI of the same client is not enough)",
        )?;
        let response = self.token(
            &[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            now,
        )?;
        Self::expect_oauth_error(
            &response,
            "unsupported_grant_type",
            "a grant_type other than authorization_code is unsupported_grant_type",
        )?;
        let response = self.token(&[("grant_type", "authorization_code"), ("code", "x")], now)?;
        Self::expect_oauth_error(
            &response,
            "invalid_request",
            "a /token request without redirect_uri, client_id or code_verifier is invalid_request",
        )
    }

    fn code_expiry(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let late = self.grant(&web, 0, &["openid"], true)?;
        let response =
            self.exchange(&late, &late.verifier.clone(), late.issued_ms + CODE_TTL_MS)?;
        Self::expect_oauth_error(
            &response,
            "invalid_grant",
            "a code expires 60 s after /authorize issued it: at exactly issued + 60000 ms it is refused",
        )?;
        let on_time = self.grant(&web, 0, &["openid"], true)?;
        self.redeem(&on_time, on_time.issued_ms + CODE_TTL_MS - 1)
            .map_err(|f| f.detail("a code is still valid 59 999 ms after it was issued"))?;
        self.now = self.now.max(on_time.issued_ms + CODE_TTL_MS);
        Ok(())
    }

    fn scopes(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let cli = self.world.cli.clone();
        let grant = self.grant(&cli, 0, &["openid", "orders:read"], true)?;
        let now = self.tick();
        let access = self.redeem(&grant, now)?;
        self.expect_userinfo(&access, &grant, now)?;
        let grant = self.grant(&web, 0, &["orders:read"], false)?;
        let now = self.tick();
        let access = self.redeem(&grant, now)?;
        let response = self.userinfo(Some(&access), now)?;
        if response.status != 403 {
            return Err(Failure::new(
                "/userinfo with a valid token that lacks the openid scope answers 403 (authenticated, not \
                 allowed), not 200 and not 401",
            )
            .expected("403 · WWW-Authenticate: Bearer error=\"insufficient_scope\"")
            .got(summary(&response)));
        }
        Ok(())
    }

    fn access_expiry(&mut self) -> Result<(), Failure> {
        let web = self.world.web.clone();
        let grant = self.grant(&web, 0, &["openid", "profile"], false)?;
        let issued = self.tick();
        let access = self.redeem(&grant, issued)?;
        self.expect_userinfo(&access, &grant, issued + ACCESS_TTL_MS - 1)
            .map_err(|f| {
                f.detail("an access token is valid until 3 599 999 ms after it was issued")
            })?;
        self.expect_401(
            Some(&access),
            issued + ACCESS_TTL_MS,
            "an access token expires 3600 s after it was issued: at exactly issued + 3600000 ms /userinfo \
             answers 401",
        )?;
        self.expect_401(
            None,
            issued,
            "/userinfo without an Authorization header answers 401",
        )?;
        let forged = URL_SAFE_NO_PAD.encode(self.rng.bytes(32));
        self.expect_401(
            Some(&forged),
            issued,
            "/userinfo with a token this server never issued answers 401",
        )
    }
}

/// `BASE64URL(SHA-256(verifier))`, no padding.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The query parameters a 302 adds to `redirect_uri`, if the response is such a redirect.
fn redirect_params(response: &Response, redirect_uri: &str) -> Option<Vec<(String, String)>> {
    if response.status != 302 {
        return None;
    }
    let rest = response.header("Location")?.strip_prefix(redirect_uri)?;
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let query = rest.strip_prefix(separator)?;
    Some(
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

fn param(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn json_body(response: &Response, rule: &str, status: u16) -> Result<Value, Failure> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) if response.status == status => Ok(body),
        _ => Err(Failure::new(rule)
            .expected(format!("{status} with JSON"))
            .got(summary(response))),
    }
}

fn summary(response: &Response) -> String {
    let location = response
        .header("Location")
        .map_or_else(String::new, |l| format!(" · Location: {l}"));
    format!("{}{location} · body {:?}", response.status, response.text())
}

/// The claims of a JWT without verifying it, to show in a failure.
fn peek_claims(token: &str) -> String {
    token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .map_or_else(
            || "<not base64url>".to_string(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )
}
