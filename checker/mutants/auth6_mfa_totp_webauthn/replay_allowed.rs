//! mutant: accepts any code in the window, as often as it is sent
//! expect: never accepted again

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use backlings_harness::stdio::{from_hex, serve_json_lines};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// The TOTP time step.
pub const PERIOD_S: u64 = 30;
/// Refusals in a row that lock the TOTP factor.
pub const MAX_TOTP_FAILURES: u32 = 5;
/// How long a TOTP lock lasts.
pub const TOTP_LOCK_MS: u64 = 15 * 60 * 1000;
/// How long an SMS code lives.
pub const SMS_TTL_MS: u64 = 5 * 60 * 1000;
/// Wrong guesses an SMS code survives.
pub const SMS_MAX_ATTEMPTS: u32 = 3;
/// The relying party: the site the WebAuthn credentials belong to.
pub const RP_ID: &str = "login.backlings.test";
/// The only page allowed to ask for an assertion.
pub const ORIGIN: &str = "https://login.backlings.test";

/// The HMAC of a TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA512")]
    Sha512,
}

/// Why a factor was refused; the reply carries it in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotEnrolled,
    Invalid,
    Replay,
    Locked,
    NoCode,
    Expired,
    TooManyAttempts,
    GatewayError,
    NoChallenge,
    UnknownCredential,
    BadType,
    BadChallenge,
    BadOrigin,
    BadRp,
    UserNotPresent,
    BadSignature,
    CounterRegression,
}

/// `HMAC(key, message)` with `algorithm` (provided).
fn hmac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<Sha1>>(key, message),
        Algorithm::Sha256 => run::<Hmac<Sha256>>(key, message),
        Algorithm::Sha512 => run::<Hmac<Sha512>>(key, message),
    }
}

/// The HOTP code (RFC 4226 §5.3) of `counter`, `digits` long, left-padded with zeros.
pub fn hotp(secret: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> String {
    let mac = hmac(algorithm, secret, &counter.to_be_bytes());
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The TOTP code (RFC 6238) at `unix_time` seconds.
pub fn totp(secret: &[u8], unix_time: u64, digits: u32, algorithm: Algorithm) -> String {
    hotp(secret, unix_time / PERIOD_S, digits, algorithm)
}

/// A pending SMS code.
#[derive(Debug, Clone)]
struct SmsCode {
    code: String,
    sent_ms: u64,
    wrong_attempts: u32,
}

/// A registered WebAuthn credential.
#[derive(Debug, Clone)]
struct Credential {
    public_key: [u8; 32],
    sign_count: u32,
}

/// Everything the server knows about one user's second factors.
#[derive(Debug, Default)]
struct UserFactors {
    totp_secret: Option<Vec<u8>>,
    last_totp_step: Option<u64>,
    totp_failures: u32,
    totp_locked_until_ms: u64,
    sms: Option<SmsCode>,
    credentials: HashMap<String, Credential>,
    challenge: Option<String>,
}

/// The MFA service.
pub struct Mfa {
    users: HashMap<String, UserFactors>,
    rng: ChaCha8Rng,
    gateway: String,
}

impl Mfa {
    /// A service that sends SMS through `gateway` and draws codes and challenges from `rng` (provided).
    pub fn new(gateway: String, rng: ChaCha8Rng) -> Self {
        Mfa {
            users: HashMap::new(),
            rng,
            gateway,
        }
    }

    /// Enrolls (or re-enrolls) `user` for TOTP (provided).
    pub fn enroll_totp(&mut self, user: &str, secret: Vec<u8>) {
        let factors = self.users.entry(user.to_string()).or_default();
        *factors = UserFactors {
            totp_secret: Some(secret),
            credentials: std::mem::take(&mut factors.credentials),
            ..UserFactors::default()
        };
    }

    /// Registers a WebAuthn credential of `user`, its sign counter at 0 (provided).
    pub fn webauthn_register(&mut self, user: &str, credential_id: &str, public_key: [u8; 32]) {
        self.users
            .entry(user.to_string())
            .or_default()
            .credentials
            .insert(
                credential_id.to_string(),
                Credential {
                    public_key,
                    sign_count: 0,
                },
            );
    }

    /// Checks a TOTP code (SHA-1, 6 digits) of `user` at `now_ms`.
    pub fn verify_totp(&mut self, user: &str, code: &str, now_ms: u64) -> Result<(), Refusal> {
        let factors = self.users.get_mut(user).ok_or(Refusal::NotEnrolled)?;
        let secret = factors.totp_secret.clone().ok_or(Refusal::NotEnrolled)?;
        if now_ms < factors.totp_locked_until_ms {
            return Err(Refusal::Locked);
        }
        let current = now_ms / 1000 / PERIOD_S;
        let matching: Vec<u64> = [current.saturating_sub(1), current, current + 1]
            .into_iter()
            .filter(|&step| hotp(&secret, step, 6, Algorithm::Sha1) == code)
            .collect();
        let fresh = matching.iter().copied().filter(|_| true).max();
        let refusal = match fresh {
            Some(step) => {
                factors.last_totp_step = Some(step);
                factors.totp_failures = 0;
                return Ok(());
            }
            None if !matching.is_empty() => Refusal::Replay,
            None => Refusal::Invalid,
        };
        factors.totp_failures += 1;
        if factors.totp_failures >= MAX_TOTP_FAILURES {
            factors.totp_failures = 0;
            factors.totp_locked_until_ms = now_ms + TOTP_LOCK_MS;
        }
        Err(refusal)
    }

    /// Draws a 6-digit code for `user`, sends it to `phone` through the gateway, and keeps it pending.
    pub fn sms_send(&mut self, user: &str, phone: &str, now_ms: u64) -> Result<(), Refusal> {
        // 10^6 divides 2^64 unevenly, but the bias is below 10^-13: negligible for a 6-digit code.
        let code = format!("{:06}", self.rng.next_u64() % 1_000_000);
        let factors = self.users.entry(user.to_string()).or_default();
        factors.sms = None;
        send_sms(&self.gateway, phone, &code).map_err(|why| {
            eprintln!("sms gateway: {why}");
            Refusal::GatewayError
        })?;
        factors.sms = Some(SmsCode {
            code,
            sent_ms: now_ms,
            wrong_attempts: 0,
        });
        Ok(())
    }

    /// Checks the pending SMS code of `user` at `now_ms`.
    pub fn sms_verify(&mut self, user: &str, code: &str, now_ms: u64) -> Result<(), Refusal> {
        let factors = self.users.get_mut(user).ok_or(Refusal::NoCode)?;
        let pending = factors.sms.as_mut().ok_or(Refusal::NoCode)?;
        if now_ms >= pending.sent_ms + SMS_TTL_MS {
            return Err(Refusal::Expired);
        }
        if pending.wrong_attempts >= SMS_MAX_ATTEMPTS {
            return Err(Refusal::TooManyAttempts);
        }
        if pending.code != code {
            pending.wrong_attempts += 1;
            return Err(Refusal::Invalid);
        }
        factors.sms = None;
        Ok(())
    }

    /// A fresh challenge for `user`: 32 random bytes in base64url, replacing any earlier one.
    pub fn webauthn_challenge(&mut self, user: &str) -> String {
        let mut bytes = [0u8; 32];
        self.rng.fill_bytes(&mut bytes);
        let challenge = URL_SAFE_NO_PAD.encode(bytes);
        self.users.entry(user.to_string()).or_default().challenge = Some(challenge.clone());
        challenge
    }

    /// Verifies a WebAuthn assertion of `user`.
    pub fn webauthn_assert(
        &mut self,
        user: &str,
        credential_id: &str,
        authenticator_data: &[u8],
        client_data_json: &str,
        signature: &[u8],
    ) -> Result<(), Refusal> {
        let factors = self.users.get_mut(user).ok_or(Refusal::NoChallenge)?;
        let challenge = factors.challenge.take().ok_or(Refusal::NoChallenge)?;
        let credential = factors
            .credentials
            .get_mut(credential_id)
            .ok_or(Refusal::UnknownCredential)?;
        let client_data: Value =
            serde_json::from_str(client_data_json).map_err(|_| Refusal::BadType)?;
        if client_data["type"] != "webauthn.get" {
            return Err(Refusal::BadType);
        }
        if client_data["challenge"] != challenge.as_str() {
            return Err(Refusal::BadChallenge);
        }
        if client_data["origin"] != ORIGIN {
            return Err(Refusal::BadOrigin);
        }
        if authenticator_data.len() < 37 || authenticator_data[..32] != Sha256::digest(RP_ID)[..] {
            return Err(Refusal::BadRp);
        }
        if authenticator_data[32] & 0x01 == 0 {
            return Err(Refusal::UserNotPresent);
        }
        let mut signed = authenticator_data.to_vec();
        signed.extend_from_slice(&Sha256::digest(client_data_json.as_bytes()));
        let key =
            VerifyingKey::from_bytes(&credential.public_key).map_err(|_| Refusal::BadSignature)?;
        let signature = Signature::from_slice(signature).map_err(|_| Refusal::BadSignature)?;
        key.verify(&signed, &signature)
            .map_err(|_| Refusal::BadSignature)?;
        let count = u32::from_be_bytes([
            authenticator_data[33],
            authenticator_data[34],
            authenticator_data[35],
            authenticator_data[36],
        ]);
        if (count != 0 || credential.sign_count != 0) && count <= credential.sign_count {
            return Err(Refusal::CounterRegression);
        }
        credential.sign_count = count;
        Ok(())
    }
}

/// Sends `code` to `phone` through the SMS gateway at `gateway` (provided): `POST {gateway}/sms` with
/// `{"to","text"}`; any status other than 2xx is an error.
pub fn send_sms(gateway: &str, phone: &str, code: &str) -> Result<(), String> {
    let address = gateway
        .strip_prefix("http://")
        .ok_or("the gateway URL must start with http://")?;
    let body = json!({
        "to": phone,
        "text": format!("Your backlings code is {code}. It expires in 5 minutes."),
    })
    .to_string();
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        stream,
        "POST /sms HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    match response.split(' ').nth(1) {
        Some(status) if status.starts_with('2') => Ok(()),
        other => Err(format!("the gateway answered {other:?}")),
    }
}

/// One request of the protocol (provided).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Totp {
        secret_hex: String,
        unix_time: u64,
        digits: u32,
        algorithm: Algorithm,
    },
    EnrollTotp {
        user: String,
        secret_hex: String,
    },
    VerifyTotp {
        user: String,
        code: String,
        now_ms: u64,
    },
    SmsSend {
        user: String,
        phone: String,
        now_ms: u64,
    },
    SmsVerify {
        user: String,
        code: String,
        now_ms: u64,
    },
    WebauthnRegister {
        user: String,
        credential_id: String,
        public_key_hex: String,
    },
    WebauthnChallenge {
        user: String,
    },
    WebauthnAssert {
        user: String,
        credential_id: String,
        authenticator_data_hex: String,
        client_data_json: String,
        signature_hex: String,
    },
}

/// `{"ok":true}` or `{"ok":false,"reason":"snake_case"}` (provided).
fn verdict(result: Result<(), Refusal>) -> Value {
    match result {
        Ok(()) => json!({ "ok": true }),
        Err(refusal) => {
            let name = format!("{refusal:?}");
            let mut reason = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    reason.push('_');
                }
                reason.push(c.to_ascii_lowercase());
            }
            json!({ "ok": false, "reason": reason })
        }
    }
}

fn handle(mfa: &mut Mfa, request: Request) -> Result<Value, String> {
    Ok(match request {
        Request::Totp {
            secret_hex,
            unix_time,
            digits,
            algorithm,
        } => json!({ "code": totp(&from_hex(&secret_hex)?, unix_time, digits, algorithm) }),
        Request::EnrollTotp { user, secret_hex } => {
            mfa.enroll_totp(&user, from_hex(&secret_hex)?);
            json!({ "ok": true })
        }
        Request::VerifyTotp { user, code, now_ms } => {
            verdict(mfa.verify_totp(&user, &code, now_ms))
        }
        Request::SmsSend {
            user,
            phone,
            now_ms,
        } => verdict(mfa.sms_send(&user, &phone, now_ms)),
        Request::SmsVerify { user, code, now_ms } => verdict(mfa.sms_verify(&user, &code, now_ms)),
        Request::WebauthnRegister {
            user,
            credential_id,
            public_key_hex,
        } => {
            let key: [u8; 32] = from_hex(&public_key_hex)?
                .try_into()
                .map_err(|_| "an Ed25519 public key is 32 bytes".to_string())?;
            mfa.webauthn_register(&user, &credential_id, key);
            json!({ "ok": true })
        }
        Request::WebauthnChallenge { user } => {
            json!({ "challenge": mfa.webauthn_challenge(&user) })
        }
        Request::WebauthnAssert {
            user,
            credential_id,
            authenticator_data_hex,
            client_data_json,
            signature_hex,
        } => verdict(mfa.webauthn_assert(
            &user,
            &credential_id,
            &from_hex(&authenticator_data_hex)?,
            &client_data_json,
            &from_hex(&signature_hex)?,
        )),
    })
}

/// Serves the MFA service over JSON lines (provided: you do not need to change this).
fn main() {
    let gateway =
        std::env::var("SMS_GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:9".to_string());
    // A real server draws codes and challenges from the OS (`OsRng`); seeded here so a grading replays.
    let seed = std::env::var("BACKLINGS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut mfa = Mfa::new(gateway, ChaCha8Rng::seed_from_u64(seed));
    serve_json_lines(|request: Request| {
        handle(&mut mfa, request).unwrap_or_else(|why| json!({ "error": why }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const SHA1_KEY: &[u8] = b"12345678901234567890";
    const SHA256_KEY: &[u8] = b"12345678901234567890123456789012";
    const SHA512_KEY: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    fn mfa() -> Mfa {
        Mfa::new(
            "http://127.0.0.1:9".to_string(),
            ChaCha8Rng::seed_from_u64(7),
        )
    }

    // RFC 4226 Appendix D: the HOTP values of counters 0 to 9.
    #[test]
    fn hotp_matches_rfc_4226() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(SHA1_KEY, counter as u64, 6, Algorithm::Sha1), *code);
        }
    }

    // RFC 6238 Appendix B: every test vector, for SHA-1, SHA-256 and SHA-512.
    #[test]
    fn totp_matches_rfc_6238() {
        let vectors = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            assert_eq!(
                totp(SHA1_KEY, time, 8, Algorithm::Sha1),
                sha1,
                "SHA1 at {time}"
            );
            assert_eq!(
                totp(SHA256_KEY, time, 8, Algorithm::Sha256),
                sha256,
                "SHA256 at {time}"
            );
            assert_eq!(
                totp(SHA512_KEY, time, 8, Algorithm::Sha512),
                sha512,
                "SHA512 at {time}"
            );
        }
    }

    // The previous and next steps are accepted; two steps away is not.
    #[test]
    fn totp_accepts_one_step_either_side() {
        let mut m = mfa();
        m.enroll_totp("ada", SHA1_KEY.to_vec());
        let now_ms = 1_700_000_000_000;
        let step = now_ms / 1000 / PERIOD_S;
        let code = |s| hotp(SHA1_KEY, s, 6, Algorithm::Sha1);
        assert_eq!(
            m.verify_totp("ada", &code(step - 2), now_ms),
            Err(Refusal::Invalid)
        );
        assert_eq!(m.verify_totp("ada", &code(step - 1), now_ms), Ok(()));
        assert_eq!(
            m.verify_totp("ada", &code(step + 2), now_ms),
            Err(Refusal::Invalid)
        );
        assert_eq!(m.verify_totp("ada", &code(step + 1), now_ms), Ok(()));
    }

    // An accepted code, or a code of an earlier step, is a replay.
    #[test]
    fn totp_codes_work_once() {
        let mut m = mfa();
        m.enroll_totp("ada", SHA1_KEY.to_vec());
        let now_ms = 1_700_000_000_000;
        let step = now_ms / 1000 / PERIOD_S;
        let code = |s| hotp(SHA1_KEY, s, 6, Algorithm::Sha1);
        assert_eq!(m.verify_totp("ada", &code(step), now_ms), Ok(()));
        assert_eq!(
            m.verify_totp("ada", &code(step), now_ms),
            Err(Refusal::Replay)
        );
        assert_eq!(
            m.verify_totp("ada", &code(step - 1), now_ms),
            Err(Refusal::Replay)
        );
    }

    // Five refusals in a row lock the factor for exactly 15 minutes.
    #[test]
    fn five_failures_lock_totp() {
        let mut m = mfa();
        m.enroll_totp("ada", SHA1_KEY.to_vec());
        let t = 1_700_000_000_000;
        for _ in 0..MAX_TOTP_FAILURES {
            assert_eq!(m.verify_totp("ada", "000000x", t), Err(Refusal::Invalid));
        }
        let later = t + TOTP_LOCK_MS - 1;
        let good = totp(SHA1_KEY, later / 1000, 6, Algorithm::Sha1);
        assert_eq!(m.verify_totp("ada", &good, later), Err(Refusal::Locked));
        let good = totp(SHA1_KEY, (later + 1) / 1000, 6, Algorithm::Sha1);
        assert_eq!(m.verify_totp("ada", &good, later + 1), Ok(()));
    }

    // Without a pending code there is nothing to verify; a failed send leaves none pending.
    #[test]
    fn sms_without_a_pending_code() {
        let mut m = mfa();
        assert_eq!(m.sms_verify("bob", "123456", 0), Err(Refusal::NoCode));
        assert_eq!(
            m.sms_send("bob", "+15550100", 0),
            Err(Refusal::GatewayError)
        );
        assert_eq!(m.sms_verify("bob", "123456", 0), Err(Refusal::NoCode));
    }

    fn assertion(
        key: &SigningKey,
        challenge: &str,
        origin: &str,
        count: u32,
    ) -> (Vec<u8>, String, Vec<u8>) {
        let mut data = Sha256::digest(RP_ID).to_vec();
        data.push(0x01);
        data.extend_from_slice(&count.to_be_bytes());
        let client =
            json!({"type": "webauthn.get", "challenge": challenge, "origin": origin}).to_string();
        let mut signed = data.clone();
        signed.extend_from_slice(&Sha256::digest(client.as_bytes()));
        (data, client, key.sign(&signed).to_bytes().to_vec())
    }

    // A good assertion passes once; the same counter again is a clone; a phishing origin is refused.
    #[test]
    fn webauthn_checks_origin_challenge_and_counter() {
        let mut m = mfa();
        let key = SigningKey::from_bytes(&[7; 32]);
        m.webauthn_register("eve", "cred-1", key.verifying_key().to_bytes());
        let challenge = m.webauthn_challenge("eve");
        let (data, client, sig) = assertion(&key, &challenge, ORIGIN, 1);
        assert_eq!(
            m.webauthn_assert("eve", "cred-1", &data, &client, &sig),
            Ok(())
        );
        assert_eq!(
            m.webauthn_assert("eve", "cred-1", &data, &client, &sig),
            Err(Refusal::NoChallenge)
        );
        let challenge = m.webauthn_challenge("eve");
        let (data, client, sig) =
            assertion(&key, &challenge, "https://login.backlings.test.evil", 2);
        assert_eq!(
            m.webauthn_assert("eve", "cred-1", &data, &client, &sig),
            Err(Refusal::BadOrigin)
        );
        let challenge = m.webauthn_challenge("eve");
        let (data, client, sig) = assertion(&key, &challenge, ORIGIN, 1);
        assert_eq!(
            m.webauthn_assert("eve", "cred-1", &data, &client, &sig),
            Err(Refusal::CounterRegression)
        );
    }
}
