//! mutant: verifies each audit line against its own prev field only, so a deleted line goes unnoticed
//! expect: first line whose seq, prev or hash

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
    failures: u32,
    /// Lockouts since the last success.
    level: u32,
    locked_until_ms: u64,
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
        let window = self.ip_failures.entry(ip.to_string()).or_default();
        while window.front().is_some_and(|&t| t + IP_WINDOW_MS <= now_ms) {
            window.pop_front();
        }
        if window.len() >= IP_LIMIT {
            let oldest = window.front().copied().unwrap_or(now_ms);
            return Outcome::Blocked {
                retry_after_ms: oldest + IP_WINDOW_MS - now_ms,
            };
        }
        let account = self.accounts.entry(user.to_string()).or_default();
        if now_ms < account.locked_until_ms {
            return Outcome::Blocked {
                retry_after_ms: account.locked_until_ms - now_ms,
            };
        }
        // The same work whether or not the user exists: the dummy costs one hash like a real check.
        let credential = self.credentials.get(user).unwrap_or(&self.dummy);
        let correct = verify_password(credential, password) && self.credentials.contains_key(user);
        if correct {
            *account = Account::default();
            return Outcome::Success;
        }
        window.push_back(now_ms);
        account.failures += 1;
        if account.failures >= MAX_FAILURES {
            let lock = (BASE_LOCK_MS << account.level.min(16)).min(MAX_LOCK_MS);
            account.locked_until_ms = now_ms + lock;
            account.level += 1;
            account.failures = 0;
        }
        Outcome::Invalid {
            captcha_required: account.failures >= CAPTCHA_AFTER || account.level > 0,
        }
    }
}

/// The hash of one audit line: lowercase hex SHA-256 of `{prev}|{seq}|{ts}|{event}|{user}|{ip}`.
pub fn entry_hash(prev: &str, seq: u64, ts: u64, event: &str, user: &str, ip: &str) -> String {
    to_hex(&Sha256::digest(format!(
        "{prev}|{seq}|{ts}|{event}|{user}|{ip}"
    )))
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
        self.seq += 1;
        let hash = entry_hash(&self.last_hash, self.seq, ts, event, user, ip);
        let line = json!({
            "seq": self.seq,
            "ts": ts,
            "event": event,
            "user": user,
            "ip": ip,
            "prev": self.last_hash,
            "hash": hash,
        });
        writeln!(self.file, "{line}")?;
        self.file.flush()?;
        self.last_hash = hash;
        Ok(())
    }
}

/// Checks a whole log: `Ok(number of lines)`, or `Err(k)` for the first bad line (1-based).
pub fn verify_chain(lines: &[&str]) -> Result<usize, usize> {
    let mut prev = GENESIS.to_string();
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let entry: Value = serde_json::from_str(line).map_err(|_| number)?;
        let field = |name: &str| entry[name].as_str().map(str::to_string);
        let (Some(event), Some(user), Some(ip), Some(line_prev), Some(hash)) = (
            field("event"),
            field("user"),
            field("ip"),
            field("prev"),
            field("hash"),
        ) else {
            return Err(number);
        };
        let (Some(seq), Some(ts)) = (entry["seq"].as_u64(), entry["ts"].as_u64()) else {
            return Err(number);
        };
        if hash != entry_hash(&line_prev, seq, ts, &event, &user, &ip) {
            return Err(number);
        }
        prev = hash;
    }
    Ok(lines.len())
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
