//! Grader of `auth6_mfa_totp_webauthn`: TOTP, SMS codes and WebAuthn assertions over JSON lines, on a fake
//! clock (`now_ms` in each request).
//!
//! TOTP is checked against the RFC 6238 and RFC 4226 test vectors and an independent HMAC on seeded
//! secrets; logins are replayed against an exact model of the verifier (±1 step, the last accepted step,
//! five refusals lock for 15 minutes). SMS codes are read from the grader's fake gateway (an HTTP upstream)
//! and must never appear in a reply. WebAuthn assertions are built and signed by the grader as an
//! authenticator would, with one part forged at a time.

use std::collections::BTreeMap;

use backlings_grade::upstream::{Reply, Upstream};
use backlings_grade::{Failure, Grading, Rng, Stdio};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

const RP_ID: &str = "login.backlings.test";
const ORIGIN: &str = "https://login.backlings.test";
const LOCK_MS: u64 = 15 * 60 * 1000;
const SMS_TTL_MS: u64 = 5 * 60 * 1000;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let gateway = Upstream::start()?;
    gateway.script("/sms", vec![], Reply::status(200));
    let url = gateway.base_url();
    let mut p = g.stdio_with(&[], &[("SMS_GATEWAY_URL", &url)])?;
    let mut rng = g.rng().fork(6);
    let t0 = 1_700_000_000_000 + rng.below(100_000_000_000);

    g.scenario(
        "RFC 6238 Appendix B and RFC 4226 Appendix D test vectors (SHA-1, SHA-256, SHA-512)",
    );
    rfc_vectors(&mut p, &mut rng)?;
    g.scenario("TOTP on seeded secrets matches an independent HMAC");
    random_totp(&mut p, &mut rng)?;

    let mut s = Totp {
        p: &mut p,
        rng: &mut rng,
        users: BTreeMap::new(),
    };
    g.scenario("a TOTP login accepts the current step and one step either side, no further");
    s.window(t0)?;
    g.scenario("an accepted TOTP code is never accepted again (replay blocked)");
    s.replay(t0)?;
    g.scenario("five refused TOTP codes in a row lock the factor for 15 minutes");
    s.lockout(t0)?;

    let mut sms = Sms {
        p: &mut p,
        rng: &mut rng,
        gateway: &gateway,
        sent: 0,
    };
    g.scenario("SMS codes go through the gateway, never into the reply, and work once");
    sms.through_gateway(t0)?;
    g.scenario("an SMS code dies after three wrong guesses");
    sms.attempts(t0)?;
    g.scenario("an SMS code expires 5 minutes after it was sent, and a new one replaces it");
    sms.expiry(t0)?;
    g.scenario("a gateway failure leaves no code pending");
    sms.gateway_failure(t0)?;

    let mut w = WebAuthn {
        p: &mut p,
        rng: &mut rng,
    };
    g.scenario("WebAuthn: a good assertion passes, each forged part is refused with its reason");
    w.forgeries()?;
    g.scenario("WebAuthn: a challenge is single-use");
    w.single_use()?;
    g.scenario("WebAuthn: the sign counter must grow, or the authenticator may be cloned");
    w.counter()
}

#[derive(Debug, Clone, Copy)]
enum Alg {
    Sha1,
    Sha256,
    Sha512,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Sha1 => "SHA1",
            Alg::Sha256 => "SHA256",
            Alg::Sha512 => "SHA512",
        }
    }
}

fn hmac(alg: Alg, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as Mac>::new_from_slice(key).expect("any key length");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    match alg {
        Alg::Sha1 => run::<Hmac<Sha1>>(key, message),
        Alg::Sha256 => run::<Hmac<Sha256>>(key, message),
        Alg::Sha512 => run::<Hmac<Sha512>>(key, message),
    }
}

/// The reference HOTP (RFC 4226 §5.3).
fn hotp(secret: &[u8], counter: u64, digits: u32, alg: Alg) -> String {
    let mac = hmac(alg, secret, &counter.to_be_bytes());
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        u64::from(binary) % 10u64.pow(digits),
        width = digits as usize
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const TRUNCATION: &str = "a TOTP code is HOTP(secret, floor(unix_time / 30)): HMAC of the step as 8 big-endian \
                          bytes, then dynamic truncation (offset = low 4 bits of the last byte, 4 bytes there \
                          big-endian, top bit cleared), mod 10^digits, left-padded with zeros";

fn ask_totp(
    p: &mut Stdio,
    secret: &[u8],
    time: u64,
    digits: u32,
    alg: Alg,
    expected: &str,
    source: &str,
) -> Result<(), Failure> {
    let request = json!({
        "op": "totp",
        "secret_hex": hex(secret),
        "unix_time": time,
        "digits": digits,
        "algorithm": alg.name(),
    });
    let reply = p.request(&request)?;
    if reply != json!({ "code": expected }) {
        return Err(Failure::new(TRUNCATION)
            .expected(json!({ "code": expected }).to_string())
            .got(reply.to_string())
            .detail(format!(
                "{source}: {} secret {:?}, unix_time {time}, {digits} digits",
                alg.name(),
                String::from_utf8_lossy(secret)
            )));
    }
    Ok(())
}

fn rfc_vectors(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let keys: [(&[u8], Alg); 3] = [
        (b"12345678901234567890", Alg::Sha1),
        (b"12345678901234567890123456789012", Alg::Sha256),
        (
            b"1234567890123456789012345678901234567890123456789012345678901234",
            Alg::Sha512,
        ),
    ];
    let vectors: [(u64, [&str; 3]); 6] = [
        (59, ["94287082", "46119246", "90693936"]),
        (1111111109, ["07081804", "68084774", "25091201"]),
        (1111111111, ["14050471", "67062674", "99943326"]),
        (1234567890, ["89005924", "91819424", "93441116"]),
        (2000000000, ["69279037", "90698825", "38618901"]),
        (20000000000, ["65353130", "77737706", "47863826"]),
    ];
    for (time, codes) in vectors {
        for ((key, alg), code) in keys.iter().zip(codes) {
            ask_totp(p, key, time, 8, *alg, code, "RFC 6238 Appendix B")?;
        }
    }
    let hotp_values = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in hotp_values.iter().enumerate() {
        // Any second inside step `counter` gives the HOTP of that counter.
        let time = counter as u64 * 30 + rng.below(30);
        ask_totp(
            p,
            b"12345678901234567890",
            time,
            6,
            Alg::Sha1,
            code,
            "RFC 4226 Appendix D (HOTP counter = step)",
        )?;
    }
    Ok(())
}

fn random_totp(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    for _ in 0..40 {
        let alg = *rng.pick(&[Alg::Sha1, Alg::Sha256, Alg::Sha512]);
        let len = rng.range(10, 64) as usize;
        let secret = rng.bytes(len);
        let time = rng.below(1 << 35);
        let digits = rng.range(6, 8) as u32;
        let expected = hotp(&secret, time / 30, digits, alg);
        ask_totp(
            p,
            &secret,
            time,
            digits,
            alg,
            &expected,
            "a seeded secret (shown as text)",
        )?;
    }
    Ok(())
}

/// The contract's TOTP verifier, per user.
#[derive(Debug, Default, Clone)]
struct TotpModel {
    secret: Vec<u8>,
    last_step: Option<u64>,
    failures: u32,
    locked_until: u64,
}

impl TotpModel {
    fn verify(&mut self, code: &str, now_ms: u64) -> Value {
        if now_ms < self.locked_until {
            return json!({"ok": false, "reason": "locked"});
        }
        let step = now_ms / 1000 / 30;
        let matching: Vec<u64> = [step.saturating_sub(1), step, step + 1]
            .into_iter()
            .filter(|&s| hotp(&self.secret, s, 6, Alg::Sha1) == code)
            .collect();
        let fresh = matching
            .iter()
            .copied()
            .filter(|&s| self.last_step.is_none_or(|last| s > last))
            .max();
        let reason = match fresh {
            Some(s) => {
                self.last_step = Some(s);
                self.failures = 0;
                return json!({"ok": true});
            }
            None if !matching.is_empty() => "replay",
            None => "invalid",
        };
        self.failures += 1;
        if self.failures >= 5 {
            self.failures = 0;
            self.locked_until = now_ms + LOCK_MS;
        }
        json!({"ok": false, "reason": reason})
    }
}

/// TOTP logins against the model.
struct Totp<'a> {
    p: &'a mut Stdio,
    rng: &'a mut Rng,
    users: BTreeMap<String, TotpModel>,
}

impl Totp<'_> {
    fn enroll(&mut self) -> Result<String, Failure> {
        let user = format!("totp-{}", self.rng.word(6));
        let secret = self.rng.bytes(20);
        self.p.expect(
            &json!({"op": "enroll_totp", "user": user, "secret_hex": hex(&secret)}),
            &json!({"ok": true}),
            "enroll_totp answers {\"ok\":true}",
        )?;
        self.users.insert(
            user.clone(),
            TotpModel {
                secret,
                ..TotpModel::default()
            },
        );
        Ok(user)
    }

    fn code(&self, user: &str, step: u64) -> String {
        hotp(&self.users[user].secret, step, 6, Alg::Sha1)
    }

    /// A 6-digit code that matches none of the steps around `now_ms`.
    fn wrong_code(&mut self, user: &str, now_ms: u64) -> String {
        let step = now_ms / 1000 / 30;
        loop {
            let code = format!("{:06}", self.rng.below(1_000_000));
            if (step.saturating_sub(2)..=step + 2).all(|s| self.code(user, s) != code) {
                return code;
            }
        }
    }

    /// Sends one verify and compares with the model; `rule` explains the case.
    fn verify(&mut self, user: &str, code: &str, now_ms: u64, rule: &str) -> Result<(), Failure> {
        let model = self.users.get_mut(user).expect("enrolled");
        let before = model.clone();
        let expected = model.verify(code, now_ms);
        let request = json!({"op": "verify_totp", "user": user, "code": code, "now_ms": now_ms});
        let got = self.p.request(&request)?;
        if got != expected {
            let step = now_ms / 1000 / 30;
            let steps: Vec<String> = (step.saturating_sub(2)..=step + 2)
                .map(|s| {
                    format!(
                        "{}{}={}",
                        if s == step { "*" } else { "" },
                        s,
                        hotp(&before.secret, s, 6, Alg::Sha1)
                    )
                })
                .collect();
            return Err(Failure::new(rule)
                .expected(expected.to_string())
                .got(got.to_string())
                .detail(format!("steps around now (current marked *): {}", steps.join(" ")))
                .detail(format!(
                    "the verifier's state before: last accepted step {:?}, refusals in a row {}, locked until {}",
                    before.last_step,
                    before.failures,
                    if before.locked_until > now_ms { format!("now + {} ms", before.locked_until - now_ms) } else { "-".to_string() }
                )));
        }
        Ok(())
    }

    fn window(&mut self, t0: u64) -> Result<(), Failure> {
        let rule = "verify_totp accepts the code of the current step (floor(now_ms / 1000 / 30)) and of the \
                    step before and after it (clock drift), and refuses codes two steps away";
        for (offset, ok) in [(-2i64, false), (-1, true), (2, false), (1, true), (0, true)] {
            let user = self.enroll()?;
            let now = t0 + self.rng.below(30_000);
            let step = (now / 1000 / 30) as i64 + offset;
            let code = self.code(&user, step as u64);
            self.verify(&user, &code, now, rule)?;
            if !ok {
                let code = self.code(&user, now / 1000 / 30);
                self.verify(&user, &code, now, rule)?;
            }
        }
        // At the exact first millisecond of a step, the previous step is "one before".
        let user = self.enroll()?;
        let now = (t0 / 30_000 + 1) * 30_000;
        let code = self.code(&user, now / 30_000 - 1);
        self.verify(&user, &code, now, rule)?;
        let code = self.code(&user, now / 30_000 - 2);
        self.verify(&user, &code, now + 29_999, rule)
    }

    fn replay(&mut self, t0: u64) -> Result<(), Failure> {
        let rule = "an accepted code is never accepted again (RFC 6238 §5.2): the verifier remembers the last \
                    step it accepted and answers replay for any code of that step or an earlier one";
        let user = self.enroll()?;
        let now = t0 + self.rng.below(30_000);
        let step = now / 30_000;
        let current = self.code(&user, step);
        self.verify(&user, &current, now, rule)?;
        let again = now + self.rng.below(1000);
        self.verify(&user, &current, again, rule)?;
        let previous = self.code(&user, step - 1);
        self.verify(&user, &previous, now, rule)?;
        let later = now + 30_000;
        self.verify(&user, &current, later, rule)?;
        let next = self.code(&user, step + 1);
        self.verify(&user, &next, later, rule)?;
        // A code from the future accepted early blocks the current one.
        let user = self.enroll()?;
        let ahead = self.code(&user, step + 1);
        self.verify(&user, &ahead, now, rule)?;
        let current = self.code(&user, step);
        self.verify(&user, &current, now, rule)
    }

    fn lockout(&mut self, t0: u64) -> Result<(), Failure> {
        let rule = "five refused codes in a row lock the factor: every verify answers locked (and is not \
                    counted) until 15 minutes after the fifth refusal; a success resets the count";
        let user = self.enroll()?;
        let mut now = t0 + self.rng.below(30_000);
        for _ in 0..4 {
            let wrong = self.wrong_code(&user, now);
            self.verify(&user, &wrong, now, rule)?;
        }
        now += 30_000;
        let good = self.code(&user, now / 30_000);
        self.verify(&user, &good, now, rule)?;
        for _ in 0..4 {
            let wrong = self.wrong_code(&user, now);
            self.verify(&user, &wrong, now, rule)?;
        }
        now += 30_000;
        let good = self.code(&user, now / 30_000);
        self.verify(&user, &good, now, rule)?;
        for _ in 0..5 {
            now += self.rng.below(2_000);
            let wrong = self.wrong_code(&user, now);
            self.verify(&user, &wrong, now, rule)?;
        }
        let locked_at = now;
        for at in [locked_at, locked_at + 30_000, locked_at + LOCK_MS - 1] {
            let good = self.code(&user, at / 30_000);
            self.verify(&user, &good, at, rule)?;
        }
        let unlocked = locked_at + LOCK_MS;
        let good = self.code(&user, unlocked / 30_000);
        self.verify(&user, &good, unlocked, rule)
    }
}

/// SMS codes through the fake gateway.
struct Sms<'a> {
    p: &'a mut Stdio,
    rng: &'a mut Rng,
    gateway: &'a Upstream,
    /// How many POSTs the gateway had seen after the last send.
    sent: usize,
}

impl Sms<'_> {
    /// Sends a code to a new user; returns the user and the code the gateway received.
    fn send(&mut self, user: &str, now_ms: u64) -> Result<String, Failure> {
        let phone = format!("+1555{:07}", self.rng.below(10_000_000));
        let request = json!({"op": "sms_send", "user": user, "phone": phone, "now_ms": now_ms});
        let reply = self.p.request(&request)?;
        let seen = self.gateway.seen("/sms");
        let new = &seen[self.sent.min(seen.len())..];
        self.sent = seen.len();
        if new.len() != 1 {
            return Err(Failure::new(
                "sms_send sends exactly one SMS through the gateway (POST /sms)",
            )
            .expected("1 request at the gateway")
            .got(format!("{} requests", new.len())));
        }
        let body: Value = serde_json::from_str(&new[0].body).unwrap_or(Value::Null);
        let text = body["text"].as_str().unwrap_or_default();
        let code: String = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_default()
            .to_string();
        if body["to"] != phone || code.is_empty() {
            return Err(Failure::new(
                "the SMS goes to the phone given, and its text carries a 6-digit code",
            )
            .expected(format!("to {phone}, a 6-digit code in the text"))
            .got(&new[0].body));
        }
        if reply != json!({"ok": true}) {
            return Err(
                Failure::new("sms_send answers {\"ok\":true} and nothing else")
                    .expected("{\"ok\":true}")
                    .got(reply.to_string()),
            );
        }
        Ok(code)
    }

    fn verify(
        &mut self,
        user: &str,
        code: &str,
        now_ms: u64,
        expected: Value,
        rule: &str,
    ) -> Result<(), Failure> {
        let request = json!({"op": "sms_verify", "user": user, "code": code, "now_ms": now_ms});
        let got = self.p.request(&request)?;
        if got != expected {
            return Err(Failure::new(rule)
                .expected(expected.to_string())
                .got(got.to_string()));
        }
        Ok(())
    }

    fn wrong(&mut self, code: &str) -> String {
        loop {
            let guess = format!("{:06}", self.rng.below(1_000_000));
            if guess != code {
                return guess;
            }
        }
    }

    fn through_gateway(&mut self, t0: u64) -> Result<(), Failure> {
        let user = format!("sms-{}", self.rng.word(6));
        let rule = "sms_verify accepts the code the gateway delivered, once: a wrong code is invalid, and \
                    after a success nothing is pending (no_code)";
        self.verify(
            &user,
            "123456",
            t0,
            json!({"ok": false, "reason": "no_code"}),
            "without a code sent, sms_verify answers no_code",
        )?;
        let mut codes = Vec::new();
        for round in 0..4 {
            let now = t0 + round * 400_000;
            let code = self.send(&user, now)?;
            let wrong = self.wrong(&code);
            self.verify(
                &user,
                &wrong,
                now + 1_000,
                json!({"ok": false, "reason": "invalid"}),
                rule,
            )?;
            self.verify(&user, &code, now + 2_000, json!({"ok": true}), rule)?;
            self.verify(
                &user,
                &code,
                now + 3_000,
                json!({"ok": false, "reason": "no_code"}),
                rule,
            )?;
            codes.push(code);
        }
        codes.dedup();
        if codes.len() == 1 {
            return Err(Failure::new("every send draws a fresh random code")
                .got(format!("four sends, one code {}", codes[0])));
        }
        Ok(())
    }

    fn attempts(&mut self, t0: u64) -> Result<(), Failure> {
        let user = format!("sms-{}", self.rng.word(6));
        let rule = "an SMS code dies after three wrong guesses: each wrong guess is invalid, and from then on \
                    every attempt, even with the right code, is too_many_attempts (a 6-digit code must not \
                    be brute-forced)";
        let code = self.send(&user, t0)?;
        for i in 0..3 {
            let wrong = self.wrong(&code);
            self.verify(
                &user,
                &wrong,
                t0 + i * 1000,
                json!({"ok": false, "reason": "invalid"}),
                rule,
            )?;
        }
        self.verify(
            &user,
            &code,
            t0 + 5_000,
            json!({"ok": false, "reason": "too_many_attempts"}),
            rule,
        )?;
        let code = self.send(&user, t0 + 10_000)?;
        for i in 0..2 {
            let wrong = self.wrong(&code);
            self.verify(
                &user,
                &wrong,
                t0 + 11_000 + i,
                json!({"ok": false, "reason": "invalid"}),
                rule,
            )?;
        }
        self.verify(
            &user,
            &code,
            t0 + 12_000,
            json!({"ok": true}),
            "after two wrong guesses the right code still works",
        )
    }

    fn expiry(&mut self, t0: u64) -> Result<(), Failure> {
        let user = format!("sms-{}", self.rng.word(6));
        let rule = "an SMS code expires 5 minutes after it was sent: at sent + 300000 ms it is expired, at \
                    sent + 299999 ms it still works";
        let code = self.send(&user, t0)?;
        self.verify(
            &user,
            &code,
            t0 + SMS_TTL_MS,
            json!({"ok": false, "reason": "expired"}),
            rule,
        )?;
        let now = t0 + SMS_TTL_MS + 1_000;
        let code = self.send(&user, now)?;
        self.verify(
            &user,
            &code,
            now + SMS_TTL_MS - 1,
            json!({"ok": true}),
            rule,
        )?;
        let first = self.send(&user, now + SMS_TTL_MS)?;
        let second = self.send(&user, now + SMS_TTL_MS + 1)?;
        let rule = "a new send replaces the pending code: the previous code no longer works";
        if first != second {
            self.verify(
                &user,
                &first,
                now + SMS_TTL_MS + 2,
                json!({"ok": false, "reason": "invalid"}),
                rule,
            )?;
        }
        self.verify(
            &user,
            &second,
            now + SMS_TTL_MS + 3,
            json!({"ok": true}),
            rule,
        )
    }

    fn gateway_failure(&mut self, t0: u64) -> Result<(), Failure> {
        let user = format!("sms-{}", self.rng.word(6));
        let code = self.send(&user, t0)?;
        self.gateway
            .script("/sms", vec![Reply::status(503)], Reply::status(200));
        let request =
            json!({"op": "sms_send", "user": user, "phone": "+15550000000", "now_ms": t0 + 1000});
        let reply = self.p.request(&request)?;
        self.sent = self.gateway.seen("/sms").len();
        if reply != json!({"ok": false, "reason": "gateway_error"}) {
            return Err(Failure::new(
                "when the gateway answers 503, sms_send reports gateway_error",
            )
            .expected("{\"ok\":false,\"reason\":\"gateway_error\"}")
            .got(reply.to_string()));
        }
        self.verify(
            &user,
            &code,
            t0 + 2_000,
            json!({"ok": false, "reason": "no_code"}),
            "a send replaces the pending code even when the gateway fails: the earlier code no longer \
             works, and the new one never reached the user, so nothing is pending (no_code)",
        )
    }
}

/// An authenticator the grader plays.
struct Authenticator {
    user: String,
    credential_id: String,
    key: SigningKey,
}

/// What to forge in one assertion.
#[derive(Debug, Clone, Default)]
struct Forge {
    kind: Option<String>,
    challenge: Option<String>,
    origin: Option<String>,
    rp_id: Option<String>,
    flags: Option<u8>,
    credential_id: Option<String>,
    other_key: Option<SigningKey>,
    flip_signature: bool,
}

struct WebAuthn<'a> {
    p: &'a mut Stdio,
    rng: &'a mut Rng,
}

impl WebAuthn<'_> {
    fn register(&mut self) -> Result<Authenticator, Failure> {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&self.rng.bytes(32));
        let a = Authenticator {
            user: format!("wa-{}", self.rng.word(6)),
            credential_id: URL_SAFE_NO_PAD.encode(self.rng.bytes(16)),
            key: SigningKey::from_bytes(&seed),
        };
        self.p.expect(
            &json!({"op": "webauthn_register", "user": a.user, "credential_id": a.credential_id,
                    "public_key_hex": hex(&a.key.verifying_key().to_bytes())}),
            &json!({"ok": true}),
            "webauthn_register answers {\"ok\":true}",
        )?;
        Ok(a)
    }

    fn challenge(&mut self, a: &Authenticator) -> Result<String, Failure> {
        let reply = self
            .p
            .request(&json!({"op": "webauthn_challenge", "user": a.user}))?;
        let challenge = reply["challenge"].as_str().unwrap_or_default().to_string();
        let ok = URL_SAFE_NO_PAD
            .decode(&challenge)
            .is_ok_and(|b| b.len() == 32);
        if !ok {
            return Err(Failure::new("webauthn_challenge answers {\"challenge\": base64url (no padding) of 32 random bytes}")
                .got(reply.to_string()));
        }
        Ok(challenge)
    }

    /// Builds, signs and sends an assertion; returns the reply.
    fn assert(
        &mut self,
        a: &Authenticator,
        challenge: &str,
        count: u32,
        forge: &Forge,
    ) -> Result<(Value, String), Failure> {
        let rp_id = forge.rp_id.as_deref().unwrap_or(RP_ID);
        let mut data = Sha256::digest(rp_id).to_vec();
        data.push(forge.flags.unwrap_or(0x05));
        data.extend_from_slice(&count.to_be_bytes());
        let client = json!({
            "type": forge.kind.as_deref().unwrap_or("webauthn.get"),
            "challenge": forge.challenge.as_deref().unwrap_or(challenge),
            "origin": forge.origin.as_deref().unwrap_or(ORIGIN),
            "crossOrigin": false,
        })
        .to_string();
        let mut signed = data.clone();
        signed.extend_from_slice(&Sha256::digest(client.as_bytes()));
        let key = forge.other_key.as_ref().unwrap_or(&a.key);
        let mut signature = key.sign(&signed).to_bytes();
        if forge.flip_signature {
            signature[self.rng.below(64) as usize] ^= 1 << self.rng.below(8);
        }
        let request = json!({
            "op": "webauthn_assert",
            "user": a.user,
            "credential_id": forge.credential_id.as_deref().unwrap_or(&a.credential_id),
            "authenticator_data_hex": hex(&data),
            "client_data_json": client,
            "signature_hex": hex(&signature),
        });
        let reply = self.p.request(&request)?;
        Ok((
            reply,
            format!(
                "authenticatorData: rpIdHash = SHA-256({rp_id:?}), flags {:#04x}, signCount {count}; clientDataJSON {client}",
                data[32]
            ),
        ))
    }

    fn expect(
        &mut self,
        a: &Authenticator,
        challenge: &str,
        count: u32,
        forge: &Forge,
        expected: Value,
        rule: &str,
    ) -> Result<(), Failure> {
        let (got, what) = self.assert(a, challenge, count, forge)?;
        if got != expected {
            return Err(Failure::new(rule)
                .expected(expected.to_string())
                .got(got.to_string())
                .detail(what));
        }
        Ok(())
    }

    fn forgeries(&mut self) -> Result<(), Failure> {
        let a = self.register()?;
        let mut count = self.rng.range(1, 1000) as u32;
        let c = self.challenge(&a)?;
        self.expect(&a, &c, count, &Forge::default(), json!({"ok": true}),
            "a correctly signed assertion (right challenge, origin, rp id, user present, a larger counter) is accepted")?;
        let mut other_seed = [0u8; 32];
        other_seed.copy_from_slice(&self.rng.bytes(32));
        let cases: Vec<(Forge, &str, &str)> = vec![
            (
                Forge {
                    kind: Some("webauthn.create".into()),
                    ..Forge::default()
                },
                "bad_type",
                "clientDataJSON.type must be webauthn.get (a registration ceremony's data is not a login)",
            ),
            (
                Forge {
                    challenge: Some(URL_SAFE_NO_PAD.encode(self.rng.bytes(32))),
                    ..Forge::default()
                },
                "bad_challenge",
                "clientDataJSON.challenge must be the challenge this server issued, or an old assertion could be replayed",
            ),
            (
                Forge {
                    origin: Some(format!("{ORIGIN}.evil.test")),
                    ..Forge::default()
                },
                "bad_origin",
                "clientDataJSON.origin must be exactly https://login.backlings.test: a phishing site's origin is refused",
            ),
            (
                Forge {
                    origin: Some("http://login.backlings.test".into()),
                    ..Forge::default()
                },
                "bad_origin",
                "clientDataJSON.origin must be exactly https://login.backlings.test (http is another origin)",
            ),
            (
                Forge {
                    rp_id: Some("evil.test".into()),
                    ..Forge::default()
                },
                "bad_rp",
                "the first 32 bytes of authenticatorData must be SHA-256(\"login.backlings.test\"): a credential scoped to another site is refused",
            ),
            (
                Forge {
                    flags: Some(0x04),
                    ..Forge::default()
                },
                "user_not_present",
                "flag bit 0 (user present) must be set: without it nobody touched the authenticator",
            ),
            (
                Forge {
                    other_key: Some(SigningKey::from_bytes(&other_seed)),
                    ..Forge::default()
                },
                "bad_signature",
                "the signature must verify with the registered public key over authenticatorData || SHA-256(clientDataJSON)",
            ),
            (
                Forge {
                    flip_signature: true,
                    ..Forge::default()
                },
                "bad_signature",
                "a signature with one bit flipped does not verify",
            ),
            (
                Forge {
                    credential_id: Some("never-registered".into()),
                    ..Forge::default()
                },
                "unknown_credential",
                "an assertion with a credential id this user never registered is refused",
            ),
        ];
        let mut order: Vec<usize> = (0..cases.len()).collect();
        self.rng.shuffle(&mut order);
        for i in order {
            let (forge, reason, rule) = &cases[i];
            count += 1;
            let c = self.challenge(&a)?;
            self.expect(
                &a,
                &c,
                count,
                forge,
                json!({"ok": false, "reason": reason}),
                rule,
            )?;
        }
        count += 1;
        let c = self.challenge(&a)?;
        self.expect(
            &a,
            &c,
            count,
            &Forge::default(),
            json!({"ok": true}),
            "after refused forgeries, a good assertion with a larger counter is accepted",
        )
    }

    fn single_use(&mut self) -> Result<(), Failure> {
        let a = self.register()?;
        let no = json!({"ok": false, "reason": "no_challenge"});
        self.expect(
            &a,
            "AAAA",
            1,
            &Forge::default(),
            no.clone(),
            "an assertion before any challenge was issued is refused with no_challenge",
        )?;
        let c = self.challenge(&a)?;
        self.expect(
            &a,
            &c,
            1,
            &Forge::default(),
            json!({"ok": true}),
            "a good assertion is accepted",
        )?;
        self.expect(&a, &c, 2, &Forge::default(), no.clone(),
            "a challenge is single-use: the same challenge again (a replayed assertion) finds none pending: no_challenge")?;
        let old = self.challenge(&a)?;
        let new = self.challenge(&a)?;
        if old == new {
            return Err(
                Failure::new("every challenge is fresh and random").got(format!("twice {old}"))
            );
        }
        self.expect(&a, &old, 3, &Forge::default(), json!({"ok": false, "reason": "bad_challenge"}),
            "a new challenge replaces the previous one: an assertion over the old one is bad_challenge")?;
        self.expect(&a, &new, 4, &Forge::default(), no,
            "a challenge is single-use: a refused assertion consumes it too, so it cannot be retried")
    }

    fn counter(&mut self) -> Result<(), Failure> {
        let rule = "the sign counter must grow: an assertion whose counter is not larger than the stored one \
                    is refused with counter_regression (a cloned authenticator), and the stored counter does \
                    not move";
        let a = self.register()?;
        let start = self.rng.range(1, 100) as u32;
        let steps: [(u32, bool); 5] = [
            (start, true),
            (start, false),
            (start - 1, false),
            (start + 1, true),
            (0, false),
        ];
        for (count, ok) in steps {
            let c = self.challenge(&a)?;
            let expected = if ok {
                json!({"ok": true})
            } else {
                json!({"ok": false, "reason": "counter_regression"})
            };
            self.expect(&a, &c, count, &Forge::default(), expected, rule)?;
        }
        let b = self.register()?;
        for _ in 0..3 {
            let c = self.challenge(&b)?;
            self.expect(&b, &c, 0, &Forge::default(), json!({"ok": true}),
                "an authenticator without a counter always sends 0: that is accepted while the stored counter is 0 too")?;
        }
        Ok(())
    }
}
