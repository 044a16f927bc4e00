//! Grader of `sec5_envelope_secrets`: AES-256-GCM envelope encryption with master-key rotation, and a small
//! Vault (versions, path policies, expiring tokens, a redacted audit log), over JSON lines.
//!
//! Every envelope the program seals is opened by the grader's own AES-256-GCM ([`crypto`]) with the master
//! key it handed over, and envelopes the grader seals must open in the program: the layout (which key wraps
//! what, which AAD) is the contract, not an implementation detail. Data keys and nonces must be fresh,
//! tampering anywhere must be detected, a rotation must re-wrap without touching the data. The store is
//! compared with a model of the policy rules and the fake clock, to the millisecond of a token's expiry.
//! At the end the audit log must hold exactly one line per request, as the contract spells it, and none of
//! the secrets the grader ever sent or received.

mod crypto;

use std::collections::{BTreeMap, BTreeSet};

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{ScratchDir, leaked};
use crypto::{Envelope, open, seal, to_hex};

/// The program, every request sent (for the audit log), and every secret that must never be logged.
struct Session {
    p: Stdio,
    sent: Vec<Value>,
    secrets: Vec<String>,
}

impl Session {
    fn request(&mut self, request: Value) -> Result<Value, Failure> {
        let reply = self.p.request(&request)?;
        self.sent.push(request);
        Ok(reply)
    }

    fn expect(&mut self, request: Value, expected: &Value, rule: &str) -> Result<(), Failure> {
        let shown = request.to_string();
        let reply = self.request(request)?;
        if &reply != expected {
            return Err(Failure::new(rule)
                .expected(expected)
                .got(&reply)
                .detail(format!("the request: {shown}")));
        }
        Ok(())
    }

    /// Seals `plaintext` in the program and checks the envelope with the grader's own crypto.
    fn encrypt(
        &mut self,
        master: &[u8],
        kid: &str,
        context: &str,
        plaintext: &[u8],
    ) -> Result<Sealed, Failure> {
        let request = json!({"op": "encrypt", "context": context, "plaintext": to_hex(plaintext)});
        let reply = self.request(request)?;
        let envelope = reply
            .get("envelope")
            .ok_or_else(|| "no `envelope` in the answer".to_string())
            .and_then(Envelope::from_json)
            .map_err(|why| Failure::new("encrypt answers {\"envelope\": {kid, wrapped_key, key_nonce, nonce, ciphertext}}").got(&reply).detail(why))?;
        let data_key = check_envelope(&envelope, master, kid, context, plaintext)?;
        self.secrets.push(to_hex(plaintext));
        self.secrets.push(to_hex(&data_key));
        Ok(Sealed {
            envelope,
            data_key,
            context: context.to_string(),
            plaintext: plaintext.to_vec(),
        })
    }
}

/// One envelope the program sealed, with what the grader learned by opening it.
#[derive(Debug, Clone)]
struct Sealed {
    envelope: Envelope,
    data_key: Vec<u8>,
    context: String,
    plaintext: Vec<u8>,
}

/// Opens `envelope` the contract's way; returns the data key.
fn check_envelope(
    envelope: &Envelope,
    master: &[u8],
    kid: &str,
    context: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, Failure> {
    let layout = "wrapped_key = AES-256-GCM(master key, key_nonce, data key, aad = kid) and ciphertext = \
                  AES-256-GCM(data key, nonce, plaintext, aad = context), 12-byte nonces, tags appended";
    if envelope.kid != kid {
        return Err(Failure::new(
            "a new envelope is wrapped by the active master key (the one `rotate` named last)",
        )
        .expected(format!("kid {kid:?}"))
        .got(format!("kid {:?}", envelope.kid)));
    }
    if envelope.key_nonce.len() != 12 || envelope.nonce.len() != 12 {
        return Err(
            Failure::new(format!("AES-GCM nonces are 12 bytes: {layout}")).got(format!(
                "key_nonce {} bytes, nonce {} bytes",
                envelope.key_nonce.len(),
                envelope.nonce.len()
            )),
        );
    }
    let Some(data_key) = open(
        master,
        &envelope.key_nonce,
        &envelope.wrapped_key,
        kid.as_bytes(),
    ) else {
        let without_aad = open(master, &envelope.key_nonce, &envelope.wrapped_key, b"").is_some();
        return Err(Failure::new(format!(
            "the grader's AES-256-GCM could not unwrap the data key: {layout}"
        ))
        .detail(if without_aad {
            "it opens without AAD: the data key must be wrapped with the kid as AAD"
        } else {
            "it does not open with this master key at all"
        }));
    };
    if data_key.len() != 32 {
        return Err(
            Failure::new(format!("the data key is 32 bytes (AES-256): {layout}"))
                .got(format!("{} bytes", data_key.len())),
        );
    }
    match open(
        &data_key,
        &envelope.nonce,
        &envelope.ciphertext,
        context.as_bytes(),
    ) {
        Some(opened) if opened == plaintext => Ok(data_key),
        Some(opened) => Err(Failure::new(format!(
            "the ciphertext decrypts to the plaintext sent: {layout}"
        ))
        .expected(to_hex(plaintext))
        .got(to_hex(&opened))),
        None => {
            let without_aad = open(&data_key, &envelope.nonce, &envelope.ciphertext, b"").is_some();
            Err(Failure::new(format!("the grader's AES-256-GCM could not open the ciphertext: {layout}"))
                .detail(if without_aad {
                    "it opens without AAD: the data must be sealed with the context as AAD, which binds the \
                     ciphertext to its record (moved to another row or tenant, it no longer decrypts)"
                } else {
                    "it does not open with the unwrapped data key"
                }))
        }
    }
}

fn context(rng: &mut Rng) -> String {
    format!(
        "tenant={};table=users;column=ssn;row={}",
        rng.pick(&["acme", "globex", "initech"]),
        rng.range(1, 99_999)
    )
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let scratch = ScratchDir::new("sec5")?;
    let audit_path = scratch.path().join("audit.log");
    let audit_arg = audit_path.to_string_lossy().into_owned();
    let p = g.stdio_with(&["--audit-log", &audit_arg], &[])?;
    let mut s = Session {
        p,
        sent: Vec::new(),
        secrets: Vec::new(),
    };
    let mk1 = g.rng().bytes(32);
    let mk2 = g.rng().bytes(32);
    s.secrets.push(to_hex(&mk1));
    s.secrets.push(to_hex(&mk2));

    g.scenario(
        "envelopes the program seals open with the grader's own AES-256-GCM, with fresh keys",
    );
    let ok = json!({"ok": true});
    s.expect(
        json!({"op": "add_master_key", "kid": "mk-1", "key": to_hex(&mk1)}),
        &ok,
        "add_master_key answers {\"ok\":true}",
    )?;
    let mut sealed = Vec::new();
    for i in 0..8 {
        let ctx = context(g.rng());
        let len = if i == 0 {
            16
        } else {
            g.rng().range(8, 64) as usize
        };
        let plaintext = g.rng().bytes(len);
        let one = s.encrypt(&mk1, "mk-1", &ctx, &plaintext)?;
        s.expect(
            json!({"op": "decrypt", "context": ctx, "envelope": one.envelope.to_json()}),
            &json!({"plaintext": to_hex(&plaintext)}),
            "an envelope opens in the program with its own context",
        )?;
        sealed.push(one);
    }
    fresh(&sealed)?;

    g.scenario("envelopes the grader seals open in the program");
    for _ in 0..4 {
        let ctx = context(g.rng());
        let plaintext = g.rng().bytes(24);
        let data_key = g.rng().bytes(32);
        let key_nonce: [u8; 12] = g.rng().bytes(12).try_into().expect("12 bytes");
        let nonce: [u8; 12] = g.rng().bytes(12).try_into().expect("12 bytes");
        let envelope = Envelope {
            kid: "mk-1".to_string(),
            wrapped_key: seal(&mk1, &key_nonce, &data_key, b"mk-1"),
            key_nonce: key_nonce.to_vec(),
            nonce: nonce.to_vec(),
            ciphertext: seal(&data_key, &nonce, &plaintext, ctx.as_bytes()),
        };
        s.secrets.push(to_hex(&data_key));
        s.secrets.push(to_hex(&plaintext));
        s.expect(
            json!({"op": "decrypt", "context": ctx, "envelope": envelope.to_json()}),
            &json!({"plaintext": to_hex(&plaintext)}),
            "an envelope built exactly as the contract lays it out (by another service) opens in the program",
        )?;
    }

    g.scenario("tampering with any part of an envelope is detected");
    tampering(g, &mut s, &sealed)?;

    g.scenario("rotation: new envelopes use the new master key, re-wrap keeps the data, retired keys are gone");
    rotation(g, &mut s, &sealed, &mk2)?;

    g.scenario(
        "secrets: versions, the most specific policy rule, deny, token expiry to the millisecond",
    );
    store(g, &mut s)?;

    g.scenario("the audit log has one line per request and never a secret");
    let Session { p, sent, secrets } = s;
    p.finish(std::time::Duration::from_secs(5))?;
    audit(&audit_path, &sent, &secrets)
}

fn fresh(sealed: &[Sealed]) -> Result<(), Failure> {
    let keys: BTreeSet<&Vec<u8>> = sealed.iter().map(|s| &s.data_key).collect();
    if keys.len() != sealed.len() {
        return Err(Failure::new(
            "every envelope gets a fresh data key: one key for everything means one leak exposes every record",
        )
        .expected(format!("{} different data keys", sealed.len()))
        .got(format!("{} different data keys", keys.len())));
    }
    let nonces: BTreeSet<&Vec<u8>> = sealed
        .iter()
        .flat_map(|s| [&s.envelope.nonce, &s.envelope.key_nonce])
        .collect();
    if nonces.len() != 2 * sealed.len() {
        return Err(Failure::new(
            "every nonce is fresh (random 12 bytes): GCM must never see a key and nonce pair twice",
        )
        .expected(format!("{} different nonces", 2 * sealed.len()))
        .got(format!("{} different nonces", nonces.len())));
    }
    Ok(())
}

fn flip(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = rng.below(out.len() as u64) as usize;
    out[i] ^= 1 << rng.below(8);
    out
}

fn tampering(g: &mut Grading, s: &mut Session, sealed: &[Sealed]) -> Result<(), Failure> {
    let a = &sealed[0];
    let b = &sealed[1];
    let failed = json!({"error": "decryption failed"});
    let e = &a.envelope;
    let cases: Vec<(&str, String, Envelope, Value)> = vec![
        (
            "the same envelope in another record's context (AAD)",
            format!("{};row=2", a.context),
            e.clone(),
            failed.clone(),
        ),
        (
            "one bit of the ciphertext flipped",
            a.context.clone(),
            Envelope {
                ciphertext: flip(&e.ciphertext, g.rng()),
                ..e.clone()
            },
            failed.clone(),
        ),
        (
            "the tag cut short by one byte",
            a.context.clone(),
            Envelope {
                ciphertext: e.ciphertext[..e.ciphertext.len() - 1].to_vec(),
                ..e.clone()
            },
            failed.clone(),
        ),
        (
            "one bit of the wrapped data key flipped",
            a.context.clone(),
            Envelope {
                wrapped_key: flip(&e.wrapped_key, g.rng()),
                ..e.clone()
            },
            failed.clone(),
        ),
        (
            "another envelope's wrapped data key",
            a.context.clone(),
            Envelope {
                wrapped_key: b.envelope.wrapped_key.clone(),
                key_nonce: b.envelope.key_nonce.clone(),
                ..e.clone()
            },
            failed.clone(),
        ),
        (
            "another nonce",
            a.context.clone(),
            Envelope {
                nonce: b.envelope.nonce.clone(),
                ..e.clone()
            },
            failed.clone(),
        ),
        (
            "a master key id nobody added",
            a.context.clone(),
            Envelope {
                kid: "mk-9".to_string(),
                ..e.clone()
            },
            json!({"error": "unknown master key"}),
        ),
    ];
    for (what, context, envelope, expected) in cases {
        let reply = s.request(
            json!({"op": "decrypt", "context": context, "envelope": envelope.to_json()}),
        )?;
        if reply != expected {
            return Err(Failure::new(
                "AES-GCM authenticates everything: a changed ciphertext, tag, nonce, wrapped key or context (AAD) \
                 answers {\"error\":\"decryption failed\"}, and an unknown kid {\"error\":\"unknown master key\"}; \
                 never the plaintext",
            )
            .expected(&expected)
            .got(&reply)
            .detail(format!("the tampering: {what}")));
        }
    }
    Ok(())
}

fn rotation(
    g: &mut Grading,
    s: &mut Session,
    sealed: &[Sealed],
    mk2: &[u8],
) -> Result<(), Failure> {
    let ok = json!({"ok": true});
    s.expect(
        json!({"op": "add_master_key", "kid": "mk-2", "key": to_hex(mk2)}),
        &ok,
        "add_master_key answers {\"ok\":true}",
    )?;
    s.expect(
        json!({"op": "rotate", "kid": "mk-2"}),
        &ok,
        "rotate to a known master key answers {\"ok\":true}",
    )?;
    let ctx = context(g.rng());
    let plaintext = g.rng().bytes(20);
    let newer = s.encrypt(mk2, "mk-2", &ctx, &plaintext).map_err(|f| {
        f.detail(
            "after `rotate` to mk-2, new envelopes must be wrapped by mk-2, the active master key",
        )
    })?;
    let (rewrapped, kept) = sealed.split_at(sealed.len() / 2);
    let mut moved = Vec::new();
    for old in rewrapped {
        let reply = s.request(json!({"op": "rewrap", "envelope": old.envelope.to_json()}))?;
        let envelope = reply.get("envelope").map(Envelope::from_json);
        let rule = "rewrap unwraps the data key with the old master key and wraps it with the active one: the kid, \
                    wrapped_key and key_nonce change; the nonce and ciphertext stay exactly as they were (rotation \
                    never re-encrypts the data)";
        let Some(Ok(envelope)) = envelope else {
            return Err(Failure::new(rule).got(&reply));
        };
        let same_data =
            envelope.nonce == old.envelope.nonce && envelope.ciphertext == old.envelope.ciphertext;
        if envelope.kid != "mk-2" || !same_data {
            return Err(Failure::new(rule)
                .expected("kid \"mk-2\", nonce and ciphertext unchanged")
                .got(format!(
                    "kid {:?}, data {}",
                    envelope.kid,
                    if same_data { "unchanged" } else { "changed" }
                )));
        }
        let data_key = open(mk2, &envelope.key_nonce, &envelope.wrapped_key, b"mk-2");
        if data_key.as_ref() != Some(&old.data_key) {
            return Err(Failure::new(rule).detail(
                "the new wrapped_key does not open with mk-2 (aad \"mk-2\") to the same data key",
            ));
        }
        moved.push(Sealed {
            envelope,
            ..old.clone()
        });
    }
    s.expect(
        json!({"op": "retire", "kid": "mk-1"}),
        &ok,
        "retire answers {\"ok\":true}",
    )?;
    for one in moved.iter().chain(std::iter::once(&newer)) {
        s.expect(
            json!({"op": "decrypt", "context": one.context, "envelope": one.envelope.to_json()}),
            &json!({"plaintext": to_hex(&one.plaintext)}),
            "after mk-1 is retired, envelopes re-wrapped under (or sealed with) mk-2 still open",
        )?;
    }
    for one in kept.iter().take(2) {
        s.expect(
            json!({"op": "decrypt", "context": one.context, "envelope": one.envelope.to_json()}),
            &json!({"error": "unknown master key"}),
            "after mk-1 is retired, an envelope still wrapped by mk-1 cannot be opened: unknown master key",
        )?;
    }
    Ok(())
}

/// A policy rule, for the model.
#[derive(Debug, Clone)]
struct Rule {
    path: &'static str,
    capabilities: &'static [&'static str],
}

/// The contract's policy decision, written independently of any learner's code.
fn model_allows(rules: &[Rule], path: &str, capability: &str) -> bool {
    best_rule(rules, path).is_some_and(|rule| {
        !rule.capabilities.contains(&"deny") && rule.capabilities.contains(&capability)
    })
}

/// The most specific rule matching `path`: an exact rule over any glob, a longer glob over a shorter one.
fn best_rule<'a>(rules: &'a [Rule], path: &str) -> Option<&'a Rule> {
    let mut best: Option<(usize, &Rule)> = None;
    for rule in rules {
        let score = match rule.path.strip_suffix("/*") {
            Some(prefix)
                if path.len() > prefix.len() + 1 && path.starts_with(&format!("{prefix}/")) =>
            {
                Some(prefix.len() + 1)
            }
            Some(_) => None,
            None => (rule.path == path).then_some(usize::MAX),
        };
        match (score, best) {
            (Some(score), Some((b, _))) if score <= b => {}
            (Some(score), _) => best = Some((score, rule)),
            (None, _) => {}
        }
    }
    best.map(|(_, rule)| rule)
}

/// Which rule the contract says decides for `path`, in words.
fn deciding_rule(rules: &[Rule], path: &str) -> String {
    match best_rule(rules, path) {
        Some(rule) => format!(
            "for {path:?} the deciding rule is {:?} with {:?}",
            rule.path, rule.capabilities
        ),
        None => format!("no rule of this token matches {path:?}"),
    }
}

const PATHS: [&str; 7] = [
    "secret/app/db",
    "secret/app/api-key",
    "secret/app/admin/root",
    "secret/app/admin/motd",
    "secret/application/db",
    "secret/apps",
    "secret/other/db",
];

fn store(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    let writer_rules = vec![
        Rule {
            path: "secret/app/*",
            capabilities: &["read", "write"],
        },
        Rule {
            path: "secret/app/admin/*",
            capabilities: &["deny"],
        },
        Rule {
            path: "secret/app/admin/motd",
            capabilities: &["read", "write"],
        },
        Rule {
            path: "secret/application/db",
            capabilities: &["read"],
        },
    ];
    let reader_rules = vec![Rule {
        path: "secret/app/*",
        capabilities: &["read"],
    }];
    let admin_rules = vec![Rule {
        path: "secret/*",
        capabilities: &["read", "write"],
    }];
    let mut tokens: Vec<(String, Vec<Rule>, u64)> = Vec::new();
    let mut now = 0u64;
    // Distinct lifetimes, in order: the writer expires first, then the reader; the admin outlives the test.
    for (rules, low) in [
        (admin_rules, 60_000),
        (writer_rules, 5_000),
        (reader_rules, 12_000),
    ] {
        let token = format!("s.{}", g.rng().word(20));
        let ttl = g.rng().range(low, low + 4_000);
        let json_rules: Vec<Value> = rules
            .iter()
            .map(|r| json!({"path": r.path, "capabilities": r.capabilities}))
            .collect();
        s.expect(
            json!({"op": "token", "token": token, "ttl_ms": ttl, "rules": json_rules}),
            &json!({"ok": true}),
            "token answers {\"ok\":true}",
        )?;
        s.secrets.push(token.clone());
        tokens.push((token, rules, now + ttl));
    }
    let mut versions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // The admin token seeds every path, so reads have something to find.
    for path in PATHS {
        let value = format!("pw-{}", g.rng().word(12));
        let (admin, _, _) = &tokens[0];
        s.expect(
            json!({"op": "put", "token": admin, "path": path, "value": value}),
            &json!({"version": 1}),
            "the first put of a path answers {\"version\":1}",
        )?;
        s.secrets.push(value.clone());
        versions.entry(path).or_default().push(value);
    }
    let policy_rule = "the most specific matching rule decides (an exact path over any `/*` glob, a longer glob over a \
                       shorter one); a rule with `deny` refuses everything; `secret/app/*` covers only paths under \
                       `secret/app/`; no matching rule refuses: {\"error\":\"permission denied\"}";
    for _ in 0..60 {
        let who = g.rng().range(1, 2) as usize;
        let (token, rules, expires) = tokens[who].clone();
        let path = *g.rng().pick(&PATHS);
        let (request, expected) = if g.rng().chance(1, 2) {
            let value = format!("pw-{}", g.rng().word(12));
            s.secrets.push(value.clone());
            let expected = if now >= expires {
                json!({"error": "token expired"})
            } else if model_allows(&rules, path, "write") {
                let list = versions.entry(path).or_default();
                list.push(value.clone());
                json!({"version": list.len()})
            } else {
                json!({"error": "permission denied"})
            };
            (
                json!({"op": "put", "token": token, "path": path, "value": value}),
                expected,
            )
        } else {
            let list = &versions[path];
            let version = if g.rng().chance(1, 3) {
                Some(g.rng().range(1, list.len() as u64 + 1) as usize)
            } else {
                None
            };
            let expected = if now >= expires {
                json!({"error": "token expired"})
            } else if !model_allows(&rules, path, "read") {
                json!({"error": "permission denied"})
            } else {
                let number = version.unwrap_or(list.len());
                match list.get(number - 1) {
                    Some(value) => json!({"value": value, "version": number}),
                    None => json!({"error": "not found"}),
                }
            };
            let mut request = json!({"op": "get", "token": token, "path": path});
            if let Some(version) = version {
                request["version"] = json!(version);
            }
            (request, expected)
        };
        s.expect(request, &expected, policy_rule)
            .map_err(|f| f.detail(deciding_rule(&rules, path)))?;
    }
    // Expiry, to the millisecond, for the writer then the reader.
    for who in [1, 2] {
        let (token, _, expires) = tokens[who].clone();
        let path = "secret/app/db";
        let expiry_rule = "a token is valid while now < issued + ttl_ms: it expires at that exact millisecond, \
                           and from then on answers {\"error\":\"token expired\"}";
        s.expect(
            json!({"op": "tick", "ms": expires - 1 - now}),
            &json!({"now": expires - 1}),
            "tick answers {\"now\": the new fake time}",
        )?;
        let latest = versions[path].len();
        s.expect(
            json!({"op": "get", "token": token, "path": path}),
            &json!({"value": versions[path][latest - 1], "version": latest}),
            expiry_rule,
        )?;
        s.expect(
            json!({"op": "tick", "ms": 1}),
            &json!({"now": expires}),
            "tick answers {\"now\": the new fake time}",
        )?;
        now = expires;
        s.expect(
            json!({"op": "get", "token": token, "path": path}),
            &json!({"error": "token expired"}),
            expiry_rule,
        )?;
    }
    s.expect(
        json!({"op": "get", "token": "s.never-issued", "path": "secret/app/db"}),
        &json!({"error": "permission denied"}),
        "an unknown token is refused: permission denied",
    )?;
    Ok(())
}

fn audit(path: &std::path::Path, sent: &[Value], secrets: &[String]) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new("the program writes its audit log to the --audit-log file").got(e.to_string())
    })?;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(secret) = leaked(line, secrets) {
            return Err(Failure::new(
                "the audit log records who did what to which path, never a secret value, plaintext, key or token",
            )
            .got(format!("line {}: {line}", i + 1))
            .detail(format!("the secret in it: {secret}")));
        }
    }
    let field = |request: &Value, name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    for (i, request) in sent.iter().enumerate() {
        let token = match request.get("token").and_then(Value::as_str) {
            Some(token) => to_hex(&Sha256::digest(token.as_bytes()))[..8].to_string(),
            None => "-".to_string(),
        };
        let expected = format!(
            "op={} path={} kid={} token={token}",
            field(request, "op"),
            field(request, "path"),
            field(request, "kid")
        );
        if lines.get(i) != Some(&expected.as_str()) {
            return Err(Failure::new(
                "the audit log has exactly one line per request, in order: `op=<op> path=<path> kid=<kid> \
                 token=<first 8 hex digits of SHA-256(token)>` (`-` for a missing field)",
            )
            .expected(&expected)
            .got(lines.get(i).copied().unwrap_or("(no line)"))
            .detail(format!("line {} of {}", i + 1, lines.len())));
        }
    }
    Ok(())
}
