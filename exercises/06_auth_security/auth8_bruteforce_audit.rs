//! # Brute force, enumeration and a tamper-evident audit log
//!
//! A login endpoint is attacked all day: **credential stuffing** (millions of leaked username/password
//! pairs), **password spraying** (one common password against every account), and **user enumeration**
//! (finding out which usernames exist, to aim the other two). This file is the guard in front of the
//! password check, and the audit trail behind it.
//!
//! - **Lockout with escalation.** Five failed logins in a row lock the account for 60 s; every further
//!   lockout doubles (120 s, 240 s, …, at most one hour) until a successful login resets it. A fixed short
//!   lock barely slows a patient attacker; a permanent one lets anybody lock anybody out.
//! - **A limit per IP.** Spraying touches each account once, so no account ever locks: a second counter per
//!   client IP refuses an address with 20 failures in the last 10 minutes, whatever account it tries.
//! - **CAPTCHA.** After three failures in a row (and after any lockout, until a success) the answer carries
//!   `captcha_required: true`, so a front end can make a bot's next try expensive.
//! - **No enumeration.** "Unknown user" and "wrong password" get the **same** answer, and they must also
//!   take the same **time**: skipping the slow password hash for an unknown name answers in microseconds
//!   instead of milliseconds, and the stopwatch tells the attacker what the message hid. So an unknown user
//!   is checked against a **dummy hash**. The lockout is keyed by the *submitted* username, existing or
//!   not: otherwise "this one locks, that one never does" enumerates too.
//! - **Audit.** Every attempt is appended to an audit log (compliance regimes such as SOC 2, PCI DSS and
//!   ISO 27001 require one), and the log is **hash-chained**: each line carries the SHA-256 of the previous
//!   line's hash and its own fields, so editing, deleting or reordering a line breaks every hash after it.
//!   (Production systems also anchor the latest hash somewhere the attacker cannot write.) The log names the
//!   user and the IP; it never contains a password, not even a wrong one (a wrong password is often the
//!   right password of another site, or a typo of the real one).
//!
//! ## The contract (JSON lines; time is `now_ms`)
//!
//! `{"op":"register","user","password"}` → `{"ok":true}` (provided). `{"op":"login","user","password","ip",
//! "now_ms"}` answers, checking in this order:
//!
//! 1. the IP has 20 or more failures in the window `(now_ms - 600000, now_ms]` → `{"status":429,"error":
//!    "too many attempts","retry_after_ms":R}`, `R` = when the oldest of those failures leaves the window;
//! 2. the account (the submitted username) is locked → the same 429, `R` = until the lock ends;
//! 3. the password is checked (one `hash_password` call, for a known user and an unknown one alike):
//!    success → `{"status":200}` and the account's failures and lockout level reset; failure →
//!    `{"status":401,"error":"invalid username or password","captcha_required":C}`, and one more failure for
//!    the account and for the IP. The fifth failure in a row locks the account for `60000 × 2^(level)` ms
//!    (level 0 for the first lockout since the last success, at most 3600000) and starts a new count.
//!    `C` is true when the account has 3 or more failures in a row, or has been locked since its last
//!    success.
//!
//! A 429 computes no hash and counts as no failure. `{"op":"debug"}` → `{"hashes":N}` (provided: how many
//! times `hash_password` ran).
//!
//! **The audit log** is the file named by `AUDIT_LOG`: one JSON object per line,
//! `{"seq","ts","event","user","ip","prev","hash"}`, `seq` from 1, `event` one of `login_success`,
//! `login_failure`, `login_blocked` (a 429), `prev` the previous line's `hash` (64 zeros for the first), and
//! `hash` = lowercase hex of `SHA-256("{prev}|{seq}|{ts}|{event}|{user}|{ip}")`. Every login attempt
//! appends one line. `{"op":"verify_audit"}` re-reads the file and answers `{"valid":true,"lines":N}` or
//! `{"valid":false,"first_bad_line":K}` (1-based): the first line whose `seq`, `prev` or `hash` is not what
//! the chain says.
//!
//! ## Pitfalls
//!
//! - `if let Some(user) = users.get(name) { verify(..) } else { return Err(..) }`: the fast path for unknown
//!   users is the enumeration oracle.
//! - Keeping failures only for existing accounts; counting the 429s as failures (the lock never ends).
//! - A hash chain whose verifier checks each line's own hash but not that `prev` is the line before: a
//!   deleted line then goes unnoticed.
//! - The fields joined with `|` are unambiguous here because user names and IPs never contain `|`; real
//!   logs hash a canonical encoding (length-prefixed fields, or canonical JSON).
//!
//! Roadmap: brute-force prevention (rate limiting, lockout, CAPTCHA); timing attacks & error
//! standardization; auth audit logs & failed-attempt monitoring; broken authentication; compliance.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_harness::stdio::{serve_json_lines, to_hex};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Failures in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// The first lockout; each later one doubles.
pub const BASE_LOCK_MS: u64 = 60_000;
/// The longest lockout.
pub const MAX_LOCK_MS: u64 = 3_600_000;
/// Failures in a row after which a CAPTCHA is required.
pub const CAPTCHA_AFTER: u32 = 3;
/// Failures from one IP inside the window that block it.
pub const IP_LIMIT: usize = 20;
/// The sliding window of the IP limit.
pub const IP_WINDOW_MS: u64 = 600_000;
/// The `prev` of the first audit line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many times `hash_password` ran (the `debug` op reports it).
static HASHES: AtomicU64 = AtomicU64::new(0);

/// A deliberately slow password hash (provided). It stands in for Argon2id (see `auth1_password_hashing`):
/// what matters here is that it costs time, so skipping it is visible.
pub fn hash_password(salt: &[u8; 16], password: &str) -> [u8; 32] {
    HASHES.fetch_add(1, Ordering::Relaxed);
    let mut state: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(password.as_bytes())
        .finalize()
        .into();
    for _ in 0..512 {
        state = Sha256::digest(state).into();
    }
    state
}

/// What is stored for an account: a salt and the hash, never the password (provided).
#[derive(Debug, Clone)]
pub struct Credential {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
}

/// Hashes `password` with `credential`'s salt and compares in constant time (provided).
pub fn verify_password(credential: &Credential, password: &str) -> bool {
    let computed = hash_password(&credential.salt, password);
    computed
        .iter()
        .zip(credential.hash.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The answer to a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200.
    Success,
    /// 401, with whether the next attempt needs a CAPTCHA.
    Invalid { captcha_required: bool },
    /// 429: come back in this many milliseconds.
    Blocked { retry_after_ms: u64 },
}

/// What the guard remembers about one submitted username.
#[derive(Debug, Clone, Default)]
struct Account {
    // TODO: what the lockout, its escalation and the CAPTCHA flag need to remember.
}

/// The guard in front of the password check.
pub struct Guard {
    credentials: HashMap<String, Credential>,
    /// A credential nobody has: what an unknown username is checked against (provided).
    dummy: Credential,
    rng: ChaCha8Rng,
    accounts: HashMap<String, Account>,
    /// Per IP, the times of its failures still inside the window, oldest first.
    ip_failures: HashMap<String, VecDeque<u64>>,
}

impl Guard {
    /// A guard with no accounts (provided).
    pub fn new(mut rng: ChaCha8Rng) -> Self {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let dummy = Credential {
            salt,
            hash: [0; 32],
        };
        Guard {
            credentials: HashMap::new(),
            dummy,
            rng,
            accounts: HashMap::new(),
            ip_failures: HashMap::new(),
        }
    }

    /// Creates (or replaces) an account (provided).
    pub fn register(&mut self, user: &str, password: &str) {
        let mut salt = [0u8; 16];
        self.rng.fill_bytes(&mut salt);
        let hash = hash_password(&salt, password);
        self.credentials
            .insert(user.to_string(), Credential { salt, hash });
    }

    /// Decides one login attempt (see the contract for the order of the checks).
    pub fn login(&mut self, user: &str, password: &str, ip: &str, now_ms: u64) -> Outcome {
        // TODO: the IP window, then the account lock (both 429, before any hashing), then exactly one password
        // check (a dummy one for an unknown username), then count the failure, lock and set the CAPTCHA flag.
        todo!()
    }
}

/// The hash of one audit line: lowercase hex SHA-256 of `{prev}|{seq}|{ts}|{event}|{user}|{ip}`.
pub fn entry_hash(prev: &str, seq: u64, ts: u64, event: &str, user: &str, ip: &str) -> String {
    // TODO: the hash of one audit line (see the contract).
    todo!()
}

/// The append-only, hash-chained audit log.
pub struct AuditLog {
    file: File,
    seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// Creates (truncates) the log at `path` (provided).
    pub fn create(path: &str) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok(AuditLog {
            file,
            seq: 0,
            last_hash: GENESIS.to_string(),
        })
    }

    /// Appends one event, chained to the previous line.
    pub fn append(&mut self, ts: u64, event: &str, user: &str, ip: &str) -> std::io::Result<()> {
        // TODO: write one JSON line chained to the previous one, and remember its hash for the next.
        todo!()
    }
}

/// Checks a whole log: `Ok(number of lines)`, or `Err(k)` for the first bad line (1-based).
pub fn verify_chain(lines: &[&str]) -> Result<usize, usize> {
    // TODO: walk the lines from the genesis hash; the first line whose seq, prev or hash is wrong is the answer.
    todo!()
}

/// One request of the protocol (provided).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Register {
        user: String,
        password: String,
    },
    Login {
        user: String,
        password: String,
        ip: String,
        now_ms: u64,
    },
    Debug,
    VerifyAudit,
}

/// Serves the guard over JSON lines (provided: you do not need to change this).
fn main() {
    let path = std::env::var("AUDIT_LOG").unwrap_or_else(|_| "audit.log".to_string());
    let mut audit = match AuditLog::create(&path) {
        Ok(audit) => audit,
        Err(e) => {
            eprintln!("error: cannot create the audit log {path}: {e}");
            return;
        }
    };
    let seed = std::env::var("BACKLINGS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut guard = Guard::new(ChaCha8Rng::seed_from_u64(seed));
    serve_json_lines(|request: Request| match request {
        Request::Register { user, password } => {
            guard.register(&user, &password);
            json!({ "ok": true })
        }
        Request::Login {
            user,
            password,
            ip,
            now_ms,
        } => {
            let outcome = guard.login(&user, &password, &ip, now_ms);
            let (event, reply) = match outcome {
                Outcome::Success => ("login_success", json!({ "status": 200 })),
                Outcome::Invalid { captcha_required } => (
                    "login_failure",
                    json!({ "status": 401, "error": "invalid username or password",
                            "captcha_required": captcha_required }),
                ),
                Outcome::Blocked { retry_after_ms } => (
                    "login_blocked",
                    json!({ "status": 429, "error": "too many attempts",
                            "retry_after_ms": retry_after_ms }),
                ),
            };
            if let Err(e) = audit.append(now_ms, event, &user, &ip) {
                eprintln!("error: audit log: {e}");
            }
            reply
        }
        Request::Debug => json!({ "hashes": HASHES.load(Ordering::Relaxed) }),
        Request::VerifyAudit => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            match verify_chain(&lines) {
                Ok(count) => json!({ "valid": true, "lines": count }),
                Err(line) => json!({ "valid": false, "first_bad_line": line }),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn guard() -> Guard {
        let mut g = Guard::new(ChaCha8Rng::seed_from_u64(3));
        g.register("ada", "correct horse");
        g
    }

    fn invalid(captcha_required: bool) -> Outcome {
        Outcome::Invalid { captcha_required }
    }

    // An unknown user and a wrong password get the same answer, and each costs exactly one hash.
    #[test]
    fn unknown_users_cost_one_hash_and_look_the_same() {
        let mut g = guard();
        let before = HASHES.load(Ordering::Relaxed);
        let wrong = g.login("ada", "guess", "10.0.0.1", T0);
        let unknown = g.login("bob", "guess", "10.0.0.2", T0);
        assert_eq!(wrong, unknown);
        assert!(HASHES.load(Ordering::Relaxed) - before >= 2);
    }

    // Five failures lock for 60 s; the next five for 120 s; a success resets the escalation.
    #[test]
    fn lockouts_escalate_until_a_success() {
        let mut g = guard();
        let fail = |g: &mut Guard, t| g.login("ada", "nope", "10.0.0.1", t);
        let expected = [false, false, true, true, true];
        for (i, captcha) in expected.iter().enumerate() {
            assert_eq!(fail(&mut g, T0 + i as u64), invalid(*captcha));
        }
        assert_eq!(
            g.login("ada", "correct horse", "10.0.0.1", T0 + 10),
            Outcome::Blocked {
                retry_after_ms: 60_000 - 6
            }
        );
        let t1 = T0 + 4 + 60_000;
        for i in 0..5 {
            assert_eq!(fail(&mut g, t1 + i), invalid(true));
        }
        assert_eq!(
            fail(&mut g, t1 + 5),
            Outcome::Blocked {
                retry_after_ms: 120_000 - 1
            }
        );
        let t2 = t1 + 4 + 120_000;
        assert_eq!(
            g.login("ada", "correct horse", "10.0.0.1", t2),
            Outcome::Success
        );
        assert_eq!(fail(&mut g, t2 + 1), invalid(false));
    }

    // Twenty failures from one IP block it for every account, until the oldest leaves the window.
    #[test]
    fn an_ip_with_twenty_failures_is_blocked() {
        let mut g = guard();
        for i in 0..IP_LIMIT as u64 {
            g.login(&format!("user{i}"), "x", "10.9.9.9", T0 + i * 1000);
        }
        let now = T0 + 30_000;
        assert_eq!(
            g.login("ada", "correct horse", "10.9.9.9", now),
            Outcome::Blocked {
                retry_after_ms: T0 + IP_WINDOW_MS - now
            }
        );
        assert_eq!(
            g.login("ada", "correct horse", "10.1.1.1", now),
            Outcome::Success
        );
        assert_eq!(
            g.login("ada", "correct horse", "10.9.9.9", T0 + IP_WINDOW_MS),
            Outcome::Success
        );
    }

    // The chain verifies, and an edited or deleted line is found.
    #[test]
    fn the_audit_chain_detects_tampering() {
        let path = std::env::temp_dir().join(format!("auth8-test-{}.log", std::process::id()));
        let path = path.to_str().unwrap().to_string();
        let mut log = AuditLog::create(&path).unwrap();
        for (i, event) in ["login_failure", "login_failure", "login_success"]
            .iter()
            .enumerate()
        {
            log.append(T0 + i as u64, event, "ada", "10.0.0.1").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(verify_chain(&lines), Ok(3));
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["prev"], GENESIS);
        let edited = lines[1].replace("login_failure", "login_success");
        assert_eq!(verify_chain(&[lines[0], &edited, lines[2]]), Err(2));
        assert_eq!(verify_chain(&[lines[0], lines[2]]), Err(2));
    }
}
