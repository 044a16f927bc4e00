//! mutant: draws one data key at start-up and seals every record with it
//! expect: fresh data key

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::sync::OnceLock;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use backlings_harness::stdio::{from_hex, serve_json_lines, to_hex};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// An encrypted record with its wrapped data key. Bytes are hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub kid: String,
    pub wrapped_key: String,
    pub key_nonce: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// One policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Rule {
    pub path: String,
    pub capabilities: Vec<String>,
}

/// Why a request was refused; the text is the contract's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("unknown master key")]
    UnknownMasterKey,
    #[error("no active master key")]
    NoActiveKey,
    #[error("decryption failed")]
    DecryptionFailed,
    #[error("permission denied")]
    PermissionDenied,
    #[error("token expired")]
    TokenExpired,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Token {
    pub rules: Vec<Rule>,
    pub expires_at_ms: u64,
}

/// The whole state: master keys, secrets, tokens, and the fake clock.
#[derive(Debug, Default)]
pub struct Vault {
    pub now_ms: u64,
    pub master_keys: BTreeMap<String, Vec<u8>>,
    pub active: Option<String>,
    pub secrets: BTreeMap<String, Vec<String>>,
    pub tokens: BTreeMap<String, Token>,
}

impl Vault {
    /// Seals `plaintext` for `context` in a new envelope under the active master key.
    pub fn encrypt(&self, context: &str, plaintext: &[u8]) -> Result<Envelope, VaultError> {
        let kid = self.active.as_ref().ok_or(VaultError::NoActiveKey)?;
        static DATA_KEY: OnceLock<Vec<u8>> = OnceLock::new();
        let data_key = DATA_KEY.get_or_init(|| random_bytes(32)).clone();
        let nonce = random_bytes(12);
        let ciphertext = aead_seal(&data_key, &nonce, plaintext, context.as_bytes());
        self.wrap(kid, &data_key, nonce, ciphertext)
    }

    /// Opens `envelope` for `context`.
    pub fn decrypt(&self, context: &str, envelope: &Envelope) -> Result<Vec<u8>, VaultError> {
        let data_key = self.unwrap_key(envelope)?;
        aead_open(
            &data_key,
            &hex(&envelope.nonce)?,
            &hex(&envelope.ciphertext)?,
            context.as_bytes(),
        )
    }

    /// The same envelope with its data key wrapped by the active master key; the data is not touched.
    pub fn rewrap(&self, envelope: &Envelope) -> Result<Envelope, VaultError> {
        let kid = self.active.as_ref().ok_or(VaultError::NoActiveKey)?;
        let data_key = self.unwrap_key(envelope)?;
        self.wrap(
            kid,
            &data_key,
            hex(&envelope.nonce)?,
            hex(&envelope.ciphertext)?,
        )
    }

    fn wrap(
        &self,
        kid: &str,
        data_key: &[u8],
        nonce: Vec<u8>,
        ciphertext: Vec<u8>,
    ) -> Result<Envelope, VaultError> {
        let master = self
            .master_keys
            .get(kid)
            .ok_or(VaultError::UnknownMasterKey)?;
        let key_nonce = random_bytes(12);
        let wrapped = aead_seal(master, &key_nonce, data_key, kid.as_bytes());
        Ok(Envelope {
            kid: kid.to_string(),
            wrapped_key: to_hex(&wrapped),
            key_nonce: to_hex(&key_nonce),
            nonce: to_hex(&nonce),
            ciphertext: to_hex(&ciphertext),
        })
    }

    fn unwrap_key(&self, envelope: &Envelope) -> Result<Vec<u8>, VaultError> {
        let master = self
            .master_keys
            .get(&envelope.kid)
            .ok_or(VaultError::UnknownMasterKey)?;
        aead_open(
            master,
            &hex(&envelope.key_nonce)?,
            &hex(&envelope.wrapped_key)?,
            envelope.kid.as_bytes(),
        )
    }

    /// Whether `token` may use `capability` on `path` right now.
    pub fn authorize(&self, token: &str, path: &str, capability: &str) -> Result<(), VaultError> {
        let token = self.tokens.get(token).ok_or(VaultError::PermissionDenied)?;
        if self.now_ms >= token.expires_at_ms {
            return Err(VaultError::TokenExpired);
        }
        if allowed(&token.rules, path, capability) {
            Ok(())
        } else {
            Err(VaultError::PermissionDenied)
        }
    }

    /// Stores a new version of `path` and returns its number.
    pub fn put(&mut self, token: &str, path: &str, value: &str) -> Result<usize, VaultError> {
        self.authorize(token, path, "write")?;
        let versions = self.secrets.entry(path.to_string()).or_default();
        versions.push(value.to_string());
        Ok(versions.len())
    }

    /// Version `version` of `path` (the latest when `None`), with its number.
    pub fn get(
        &self,
        token: &str,
        path: &str,
        version: Option<usize>,
    ) -> Result<(String, usize), VaultError> {
        self.authorize(token, path, "read")?;
        let versions = self.secrets.get(path).ok_or(VaultError::NotFound)?;
        let number = version.unwrap_or(versions.len());
        match number.checked_sub(1).and_then(|i| versions.get(i)) {
            Some(value) => Ok((value.clone(), number)),
            None => Err(VaultError::NotFound),
        }
    }
}

/// Whether `rules` grant `capability` on `path`: the most specific matching rule decides, `deny` refuses.
pub fn allowed(rules: &[Rule], path: &str, capability: &str) -> bool {
    // Specificity: an exact rule beats any glob; a longer glob prefix beats a shorter one.
    let specificity = |rule: &Rule| match rule.path.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') && path.starts_with(prefix) => Some(prefix.len()),
        Some(_) => None,
        None if rule.path == path => Some(usize::MAX),
        None => None,
    };
    let best = rules
        .iter()
        .filter_map(|rule| specificity(rule).map(|s| (s, rule)))
        .max_by_key(|(s, _)| *s);
    match best {
        Some((_, rule)) => {
            !rule.capabilities.iter().any(|c| c == "deny")
                && rule.capabilities.iter().any(|c| c == capability)
        }
        None => false,
    }
}

/// The audit line of one request: op, path, kid and a token fingerprint, never a secret.
pub fn audit_line(request: &Value) -> String {
    let field = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    let token = match request.get("token").and_then(Value::as_str) {
        Some(token) => to_hex(&Sha256::digest(token.as_bytes()))[..8].to_string(),
        None => "-".to_string(),
    };
    format!(
        "op={} path={} kid={} token={token}",
        field("op"),
        field("path"),
        field("kid")
    )
}

/// AES-256-GCM encryption; the tag is appended (provided: you do not need to change this).
pub fn aead_seal(key: &[u8], nonce: &[u8], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("keys are 32 bytes");
    let nonce: [u8; 12] = nonce.try_into().expect("nonces are 12 bytes");
    cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption cannot fail for these sizes")
}

/// AES-256-GCM decryption; any mismatch (key, nonce, ciphertext, tag or AAD) is `DecryptionFailed`
/// (provided: you do not need to change this).
pub fn aead_open(
    key: &[u8],
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| VaultError::DecryptionFailed)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| VaultError::DecryptionFailed)?;
    cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| VaultError::DecryptionFailed)
}

/// `n` bytes from the operating system's random source (provided: you do not need to change this).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn hex(text: &str) -> Result<Vec<u8>, VaultError> {
    from_hex(text).map_err(VaultError::BadRequest)
}

/// One request line (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    AddMasterKey {
        kid: String,
        key: String,
    },
    Rotate {
        kid: String,
    },
    Retire {
        kid: String,
    },
    Encrypt {
        context: String,
        plaintext: String,
    },
    Decrypt {
        context: String,
        envelope: Envelope,
    },
    Rewrap {
        envelope: Envelope,
    },
    Token {
        token: String,
        ttl_ms: u64,
        rules: Vec<Rule>,
    },
    Tick {
        ms: u64,
    },
    Put {
        token: String,
        path: String,
        value: String,
    },
    Get {
        token: String,
        path: String,
        version: Option<usize>,
    },
}

/// Answers one request (provided: you do not need to change this).
fn handle(vault: &mut Vault, request: Request) -> Result<Value, VaultError> {
    Ok(match request {
        Request::AddMasterKey { kid, key } => {
            let key = hex(&key)?;
            if key.len() != 32 {
                return Err(VaultError::BadRequest(
                    "a master key is 32 bytes".to_string(),
                ));
            }
            vault.active.get_or_insert_with(|| kid.clone());
            vault.master_keys.insert(kid, key);
            json!({"ok": true})
        }
        Request::Rotate { kid } => {
            if !vault.master_keys.contains_key(&kid) {
                return Err(VaultError::UnknownMasterKey);
            }
            vault.active = Some(kid);
            json!({"ok": true})
        }
        Request::Retire { kid } => {
            vault.master_keys.remove(&kid);
            if vault.active.as_ref() == Some(&kid) {
                vault.active = None;
            }
            json!({"ok": true})
        }
        Request::Encrypt { context, plaintext } => {
            json!({"envelope": vault.encrypt(&context, &hex(&plaintext)?)?})
        }
        Request::Decrypt { context, envelope } => {
            json!({"plaintext": to_hex(&vault.decrypt(&context, &envelope)?)})
        }
        Request::Rewrap { envelope } => json!({"envelope": vault.rewrap(&envelope)?}),
        Request::Token {
            token,
            ttl_ms,
            rules,
        } => {
            let expires_at_ms = vault.now_ms.saturating_add(ttl_ms);
            vault.tokens.insert(
                token,
                Token {
                    rules,
                    expires_at_ms,
                },
            );
            json!({"ok": true})
        }
        Request::Tick { ms } => {
            vault.now_ms += ms;
            json!({"now": vault.now_ms})
        }
        Request::Put { token, path, value } => {
            json!({"version": vault.put(&token, &path, &value)?})
        }
        Request::Get {
            token,
            path,
            version,
        } => {
            let (value, version) = vault.get(&token, &path, version)?;
            json!({"value": value, "version": version})
        }
    })
}

/// Serves JSON lines and writes the audit log (provided: you do not need to change this).
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args
        .iter()
        .position(|a| a == "--audit-log")
        .and_then(|i| args.get(i + 1))
    else {
        eprintln!("usage: sec5_envelope_secrets --audit-log PATH");
        return ExitCode::from(2);
    };
    let mut log = match File::create(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: could not create {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut vault = Vault::default();
    serve_json_lines(|request: Value| {
        let _ = writeln!(log, "{}", audit_line(&request));
        let _ = log.flush();
        match serde_json::from_value::<Request>(request) {
            Ok(request) => {
                handle(&mut vault, request).unwrap_or_else(|e| json!({"error": e.to_string()}))
            }
            Err(e) => json!({"error": format!("bad request: {e}")}),
        }
    });
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        let mut vault = Vault::default();
        vault.master_keys.insert("mk-1".to_string(), vec![7u8; 32]);
        vault.active = Some("mk-1".to_string());
        vault
    }

    fn rule(path: &str, capabilities: &[&str]) -> Rule {
        Rule {
            path: path.to_string(),
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        }
    }

    // NIST's AES-256-GCM test case 14 (zero key, zero IV, one zero block): the provided AEAD is the real one.
    #[test]
    fn aes_256_gcm_matches_the_nist_vector() {
        let sealed = aead_seal(&[0u8; 32], &[0u8; 12], &[0u8; 16], b"");
        assert_eq!(
            to_hex(&sealed),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"
        );
    }

    // An envelope opens with the right context, and the DEK and nonces are fresh every time.
    #[test]
    fn envelopes_round_trip_with_fresh_keys() {
        let vault = vault();
        let a = vault
            .encrypt("tenant=acme", b"4111 1111 1111 1111")
            .unwrap();
        let b = vault
            .encrypt("tenant=acme", b"4111 1111 1111 1111")
            .unwrap();
        assert_ne!(a.wrapped_key, b.wrapped_key);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(
            vault.decrypt("tenant=acme", &a).unwrap(),
            b"4111 1111 1111 1111"
        );
    }

    // The context is bound as AAD: the same envelope in another context does not open.
    #[test]
    fn another_context_does_not_decrypt() {
        let vault = vault();
        let envelope = vault.encrypt("tenant=acme", b"secret").unwrap();
        assert_eq!(
            vault.decrypt("tenant=globex", &envelope),
            Err(VaultError::DecryptionFailed)
        );
    }

    // Re-wrapping changes the key wrapping only, and the envelope still opens after the old key is gone.
    #[test]
    fn rewrap_keeps_the_data() {
        let mut vault = vault();
        let old = vault.encrypt("ctx", b"data").unwrap();
        vault.master_keys.insert("mk-2".to_string(), vec![9u8; 32]);
        vault.active = Some("mk-2".to_string());
        let new = vault.rewrap(&old).unwrap();
        assert_eq!(
            (new.kid.as_str(), &new.nonce, &new.ciphertext),
            ("mk-2", &old.nonce, &old.ciphertext)
        );
        vault.master_keys.remove("mk-1");
        assert_eq!(vault.decrypt("ctx", &new).unwrap(), b"data");
        assert_eq!(
            vault.decrypt("ctx", &old),
            Err(VaultError::UnknownMasterKey)
        );
    }

    // The most specific rule decides; deny wins; a glob covers only what is under its prefix.
    #[test]
    fn policies_pick_the_most_specific_rule() {
        let rules = [
            rule("secret/app/*", &["read", "write"]),
            rule("secret/app/admin/*", &["deny"]),
            rule("secret/app/admin/motd", &["read"]),
        ];
        assert!(allowed(&rules, "secret/app/db", "write"));
        assert!(!allowed(&rules, "secret/app/admin/root", "read"));
        assert!(allowed(&rules, "secret/app/admin/motd", "read"));
        assert!(!allowed(&rules, "secret/application/db", "read"));
        assert!(!allowed(&rules, "secret/other", "read"));
    }

    // Versions count from 1, and a token is dead at the instant its TTL ends.
    #[test]
    fn versions_and_expiry() {
        let mut vault = vault();
        let rules = vec![rule("secret/*", &["read", "write"])];
        vault.tokens.insert(
            "t".to_string(),
            Token {
                rules,
                expires_at_ms: 100,
            },
        );
        assert_eq!(vault.put("t", "secret/db", "one"), Ok(1));
        assert_eq!(vault.put("t", "secret/db", "two"), Ok(2));
        assert_eq!(
            vault.get("t", "secret/db", Some(1)),
            Ok(("one".to_string(), 1))
        );
        assert_eq!(
            vault.get("t", "secret/db", None),
            Ok(("two".to_string(), 2))
        );
        assert_eq!(
            vault.get("t", "secret/db", Some(3)),
            Err(VaultError::NotFound)
        );
        vault.now_ms = 100;
        assert_eq!(
            vault.get("t", "secret/db", None),
            Err(VaultError::TokenExpired)
        );
    }

    // The audit line names the request, never its secrets.
    #[test]
    fn audit_lines_hold_no_secrets() {
        let line = audit_line(
            &json!({"op": "put", "token": "s.hunter2", "path": "secret/db", "value": "pa55"}),
        );
        assert!(
            line.starts_with("op=put path=secret/db kid=- token="),
            "{line}"
        );
        assert!(
            !line.contains("hunter2") && !line.contains("pa55"),
            "{line}"
        );
    }
}
