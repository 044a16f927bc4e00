//! The grader's own envelope crypto (the RustCrypto `aes-gcm` crate), to open what the program sealed and to
//! seal what the program must open, following the contract's layout exactly.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use serde_json::{Value, json};

/// AES-256-GCM with the tag appended; `None` when the key, nonce, ciphertext, tag or AAD do not match.
pub fn open(key: &[u8], nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

/// AES-256-GCM encryption with the tag appended.
pub fn seal(key: &[u8], nonce: &[u8; 12], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("the grader's keys are 32 bytes");
    cipher
        .encrypt(
            &(*nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of small messages cannot fail")
}

/// An envelope as the grader reads it (bytes decoded from hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub kid: String,
    pub wrapped_key: Vec<u8>,
    pub key_nonce: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    /// Reads the program's JSON envelope; `Err` says what is malformed.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let text = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the envelope has no string field `{name}`"))
        };
        let bytes =
            |name: &str| text(name).and_then(|t| from_hex(t).map_err(|e| format!("`{name}`: {e}")));
        Ok(Envelope {
            kid: text("kid")?.to_string(),
            wrapped_key: bytes("wrapped_key")?,
            key_nonce: bytes("key_nonce")?,
            nonce: bytes("nonce")?,
            ciphertext: bytes("ciphertext")?,
        })
    }

    /// The envelope as the program expects it.
    pub fn to_json(&self) -> Value {
        json!({
            "kid": self.kid,
            "wrapped_key": to_hex(&self.wrapped_key),
            "key_nonce": to_hex(&self.key_nonce),
            "nonce": to_hex(&self.nonce),
            "ciphertext": to_hex(&self.ciphertext),
        })
    }
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex to bytes.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("odd number of hex digits".to_string());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("not hex: {text:?}")))
        .collect()
}
