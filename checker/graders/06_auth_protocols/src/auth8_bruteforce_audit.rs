//! Grader of `auth8_bruteforce_audit`: a login guard (lockout with escalation, a per-IP limit, CAPTCHA
//! flags, no user enumeration) and its hash-chained audit log, over JSON lines on a fake clock.
//!
//! Every login is compared with an exact model of the contract, including how many times the program ran
//! its password hash (the `debug` counter): unknown users must cost the same work as wrong passwords,
//! counted rather than timed. The audit log is read from the file the grader names in `AUDIT_LOG`: the
//! grader recomputes the chain itself, scans it for passwords, then edits, deletes and swaps lines and asks
//! the program to find the first bad one.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const LIMIT_FAILURES: u32 = 5;
const BASE_LOCK_MS: u64 = 60_000;
const MAX_LOCK_MS: u64 = 3_600_000;
const IP_LIMIT: usize = 20;
const IP_WINDOW_MS: u64 = 600_000;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A private directory for the audit log, removed when grading ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new(seed: u64) -> Result<TempDir, Failure> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "backlings-auth8-{}-{seed}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::new(format!(
                "the grader could not create {}: {e}",
                dir.display()
            ))
        })?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = TempDir::new(g.seed())?;
    let log = dir.0.join("audit.log");
    let log_text = log.to_string_lossy().into_owned();
    let p = g.stdio_with(&[], &[("AUDIT_LOG", &log_text)])?;
    let t0 = 1_700_000_000_000 + g.rng().below(100_000_000_000);
    let rng = g.rng().fork(8);
    let mut s = Session {
        p,
        rng,
        model: Model::default(),
        now: t0,
        hashes: 0,
        attempts: Vec::new(),
        passwords: Vec::new(),
        log,
        known: Vec::new(),
    };
    s.setup()?;

    g.scenario("unknown users and wrong passwords get the same answer and the same hashing work");
    s.enumeration()?;
    g.scenario("five failures lock the account; each further lockout doubles, up to one hour");
    s.escalation(true)?;
    g.scenario(
        "an unknown username locks exactly like a real one (whether or not the account exists)",
    );
    s.escalation(false)?;
    g.scenario(
        "captcha_required after three failures in a row, and after a lockout until a success",
    );
    s.captcha()?;
    g.scenario(
        "20 failures from one IP in 10 minutes block that IP for every account (per-IP limit)",
    );
    s.spraying()?;
    g.scenario("seeded random traffic against the exact model");
    s.random()?;
    g.scenario("the audit log: one hash-chained line per attempt, and no password anywhere");
    s.audit_contents()?;
    g.scenario("a tampered, deleted or reordered audit line is detected");
    s.tampering()?;
    drop(dir);
    Ok(())
}

#[derive(Debug, Clone, Default)]
struct Account {
    failures: u32,
    level: u32,
    locked_until: u64,
}

/// The contract, exactly.
#[derive(Debug, Default)]
struct Model {
    passwords: BTreeMap<String, String>,
    accounts: BTreeMap<String, Account>,
    ips: BTreeMap<String, VecDeque<u64>>,
}

/// What the model says about one attempt.
struct Expected {
    reply: Value,
    hashes: u64,
    event: &'static str,
    why: String,
}

impl Model {
    fn login(&mut self, user: &str, password: &str, ip: &str, now: u64) -> Expected {
        let window = self.ips.entry(ip.to_string()).or_default();
        while window.front().is_some_and(|&t| t + IP_WINDOW_MS <= now) {
            window.pop_front();
        }
        if window.len() >= IP_LIMIT {
            let retry = window[0] + IP_WINDOW_MS - now;
            return Expected {
                reply: json!({"status": 429, "error": "too many attempts", "retry_after_ms": retry}),
                hashes: 0,
                event: "login_blocked",
                why: format!(
                    "IP {ip} has {} failures in the last 10 minutes (oldest at now - {} ms): it is blocked \
                     for every account until the oldest leaves the window, and no hash is computed",
                    window.len(),
                    now - window[0]
                ),
            };
        }
        let account = self.accounts.entry(user.to_string()).or_default();
        if now < account.locked_until {
            return Expected {
                reply: json!({"status": 429, "error": "too many attempts",
                              "retry_after_ms": account.locked_until - now}),
                hashes: 0,
                event: "login_blocked",
                why: format!(
                    "`{user}` is locked until now + {} ms (lockout number {} since its last success): the \
                     attempt is refused before any hashing, whatever the password",
                    account.locked_until - now,
                    account.level
                ),
            };
        }
        if self.passwords.get(user).is_some_and(|p| p == password) {
            let before = account.clone();
            *account = Account::default();
            return Expected {
                reply: json!({"status": 200}),
                hashes: 1,
                event: "login_success",
                why: format!(
                    "the right password, not locked: success, which resets the failures ({}) and the \
                     lockout level ({})",
                    before.failures, before.level
                ),
            };
        }
        window.push_back(now);
        account.failures += 1;
        let mut why = format!(
            "a wrong password{}: failure number {} in a row for `{user}`",
            if self.passwords.contains_key(user) {
                ""
            } else {
                " (this username does not exist)"
            },
            account.failures
        );
        if account.failures >= LIMIT_FAILURES {
            let lock = (BASE_LOCK_MS << account.level.min(16)).min(MAX_LOCK_MS);
            account.locked_until = now + lock;
            account.level += 1;
            account.failures = 0;
            why.push_str(&format!(
                ", which locks it for {lock} ms (lockout number {})",
                account.level
            ));
        }
        let captcha = account.failures >= 3 || account.level > 0;
        Expected {
            reply: json!({"status": 401, "error": "invalid username or password", "captcha_required": captcha}),
            hashes: 1,
            event: "login_failure",
            why: format!(
                "{why}; captcha_required is {captcha} (3+ failures in a row, or locked since the last success)"
            ),
        }
    }
}

/// One login the grader made, for the audit checks.
struct Attempt {
    ts: u64,
    event: &'static str,
    user: String,
    ip: String,
}

struct Session {
    p: Stdio,
    rng: Rng,
    model: Model,
    now: u64,
    /// The program's hash counter as last read.
    hashes: u64,
    attempts: Vec<Attempt>,
    /// Every password sent, right or wrong: none may reach the log.
    passwords: Vec<String>,
    log: PathBuf,
    /// Registered users.
    known: Vec<String>,
}

impl Session {
    fn setup(&mut self) -> Result<(), Failure> {
        for _ in 0..4 {
            let user = format!("user-{}", self.rng.word(6));
            let password = format!("Pw-{}-{}", self.rng.word(10), self.rng.below(10_000));
            self.p.expect(
                &json!({"op": "register", "user": user, "password": password}),
                &json!({"ok": true}),
                "register answers {\"ok\":true}",
            )?;
            self.model.passwords.insert(user.clone(), password.clone());
            self.passwords.push(password);
            self.known.push(user);
        }
        self.hashes = self.read_hashes()?;
        Ok(())
    }

    fn read_hashes(&mut self) -> Result<u64, Failure> {
        let reply = self.p.request(&json!({"op": "debug"}))?;
        reply["hashes"].as_u64().ok_or_else(|| {
            Failure::new("debug answers {\"hashes\": N} (provided)").got(reply.to_string())
        })
    }

    fn password_of(&self, user: &str) -> String {
        self.model.passwords.get(user).cloned().unwrap_or_default()
    }

    fn wrong_password(&mut self) -> String {
        let password = format!("guess-{}{}", self.rng.word(8), self.rng.below(1000));
        self.passwords.push(password.clone());
        password
    }

    /// One login at `self.now`, compared with the model (reply and hashing work); `rule` is the scenario's.
    fn login(
        &mut self,
        user: &str,
        password: &str,
        ip: &str,
        rule: &str,
    ) -> Result<Value, Failure> {
        let expected = self.model.login(user, password, ip, self.now);
        let request = json!({"op": "login", "user": user, "password": password, "ip": ip, "now_ms": self.now});
        let got = self.p.request(&request)?;
        self.attempts.push(Attempt {
            ts: self.now,
            event: expected.event,
            user: user.to_string(),
            ip: ip.to_string(),
        });
        if got != expected.reply {
            return Err(Failure::new(rule)
                .expected(expected.reply.to_string())
                .got(got.to_string())
                .detail(format!("the model: {}", expected.why)));
        }
        let hashes = self.read_hashes()?;
        let delta = hashes.saturating_sub(self.hashes);
        self.hashes = hashes;
        if delta != expected.hashes {
            let what = if expected.hashes == 1 {
                "an attempt that reaches the password check costs exactly one hash_password call, for an \
                 unknown username too (check it against a dummy credential): skipping the hash answers \
                 faster, and the time tells an attacker which usernames exist"
            } else {
                "a refused (429) attempt is decided before any hashing: it costs no hash_password call"
            };
            return Err(Failure::new(what)
                .expected(format!("{} hash_password call(s)", expected.hashes))
                .got(format!(
                    "{delta} call(s) (the debug counter went from {} to {hashes})",
                    hashes - delta
                ))
                .detail(format!("the model: {}", expected.why)));
        }
        Ok(got)
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.rng.below(256),
            self.rng.below(256),
            self.rng.range(1, 254)
        )
    }

    fn enumeration(&mut self) -> Result<(), Failure> {
        let rule = "an unknown username and a wrong password get the very same answer (same status, error and \
                    captcha flag), so the answer does not tell which usernames exist";
        for round in 0..6 {
            self.now += self.rng.range(1, 5_000);
            let real = self.known[round % self.known.len()].clone();
            let ghost = format!("user-{}", self.rng.word(6));
            let (ip_a, ip_b) = (self.ip(), self.ip());
            let wrong = self.wrong_password();
            let a = self.login(&real, &wrong, &ip_a, rule)?;
            let b = self.login(&ghost, &wrong, &ip_b, rule)?;
            if a != b {
                return Err(Failure::new(rule)
                    .expected(a.to_string())
                    .got(b.to_string()));
            }
            let right = self.password_of(&real);
            self.login(
                &real,
                &right,
                &ip_a,
                "the right password logs in: {\"status\":200}",
            )?;
        }
        Ok(())
    }

    /// Five failures, then checks the lock to the millisecond; repeated at growing levels.
    fn escalation(&mut self, existing: bool) -> Result<(), Failure> {
        let rule = "five failures in a row lock the account (the submitted username, whether or not the account \
                    exists) for 60 s, then 120 s, 240 s, … (at most 3600 s) until a success; a locked account \
                    answers 429 with the exact retry_after_ms, even to the right password, and a success \
                    resets the escalation";
        let user = if existing {
            self.known[0].clone()
        } else {
            format!("ghost-{}", self.rng.word(6))
        };
        let right = self.password_of(&user);
        let levels = if existing { 7 } else { 3 };
        for level in 0..levels {
            let ip = self.ip();
            for _ in 0..5 {
                self.now += self.rng.range(1, 3_000);
                let wrong = self.wrong_password();
                self.login(&user, &wrong, &ip, rule)?;
            }
            let lock = (BASE_LOCK_MS << level).min(MAX_LOCK_MS);
            let end = self.now + lock;
            self.now += self.rng.range(0, 1_000);
            let attempt = if existing {
                right.clone()
            } else {
                self.wrong_password()
            };
            self.login(&user, &attempt, &ip, rule)?;
            self.now = end - 1;
            self.login(&user, &attempt, &ip, rule)?;
            self.now = end;
        }
        if existing {
            // A success resets the escalation: the next lockout is 60 s again.
            let ip = self.ip();
            self.login(&user, &right, &ip, rule)?;
            for _ in 0..6 {
                self.now += 1;
                let wrong = self.wrong_password();
                self.login(&user, &wrong, &ip, rule)?;
            }
            self.now += BASE_LOCK_MS;
            self.login(&user, &right, &ip, rule)?;
        }
        Ok(())
    }

    fn captcha(&mut self) -> Result<(), Failure> {
        let rule = "captcha_required is true once the account has 3 or more failures in a row, and stays true \
                    after a lockout until the next success";
        let user = self.known[1].clone();
        let right = self.password_of(&user);
        let ip = self.ip();
        for _ in 0..4 {
            self.now += 10;
            let wrong = self.wrong_password();
            self.login(&user, &wrong, &ip, rule)?;
        }
        self.now += 10;
        self.login(&user, &right, &ip, rule)?;
        for _ in 0..5 {
            self.now += 10;
            let wrong = self.wrong_password();
            self.login(&user, &wrong, &ip, rule)?;
        }
        self.now += BASE_LOCK_MS;
        let wrong = self.wrong_password();
        self.login(&user, &wrong, &ip, rule)?;
        self.now += 10;
        self.login(&user, &right, &ip, rule)?;
        self.now += 10;
        let wrong = self.wrong_password();
        self.login(&user, &wrong, &ip, rule)?;
        Ok(())
    }

    fn spraying(&mut self) -> Result<(), Failure> {
        let rule = "an IP with 20 failures in the last 10 minutes is refused (429) for every account, even with \
                    the right password, until its oldest failure is 10 minutes old; other IPs are not affected";
        let sprayer = self.ip();
        let start = self.now + 1_000;
        self.now = start;
        let spray = self.wrong_password();
        for i in 0..IP_LIMIT {
            let user = if i % 4 == 0 {
                self.known[2].clone()
            } else {
                format!("victim-{}", self.rng.word(6))
            };
            self.login(&user, &spray, &sprayer, rule)?;
            self.now += self.rng.range(1_000, 25_000);
        }
        let user = self.known[3].clone();
        let right = self.password_of(&user);
        self.login(&user, &right, &sprayer, rule)?;
        let other = self.ip();
        self.login(&user, &right, &other, rule)?;
        let oldest = start;
        self.now = oldest + IP_WINDOW_MS - 1;
        self.login(&user, &right, &sprayer, rule)?;
        self.now = oldest + IP_WINDOW_MS;
        self.login(&user, &right, &sprayer, rule)?;
        Ok(())
    }

    fn random(&mut self) -> Result<(), Failure> {
        let rule = "a seeded random sequence of logins, each answered as the contract says";
        let users = [
            self.known[0].clone(),
            self.known[1].clone(),
            format!("ghost-{}", self.rng.word(5)),
            format!("ghost-{}", self.rng.word(5)),
        ];
        let ips = [self.ip(), self.ip(), self.ip()];
        for _ in 0..200 {
            self.now += match self.rng.below(10) {
                0..=5 => self.rng.range(1, 2_000),
                6..=8 => self.rng.range(2_000, 90_000),
                _ => self.rng.range(90_000, 2_000_000),
            };
            let user = self.rng.pick(&users).clone();
            let ip = self.rng.pick(&ips).clone();
            let password = if self.rng.chance(3, 10) {
                self.password_of(&user)
            } else {
                self.wrong_password()
            };
            self.login(&user, &password, &ip, rule)?;
        }
        Ok(())
    }

    fn read_log(&self) -> Result<String, Failure> {
        std::fs::read_to_string(&self.log).map_err(|e| {
            Failure::new("the audit log is the file named by the AUDIT_LOG environment variable")
                .got(format!("{}: {e}", self.log.display()))
        })
    }

    fn audit_contents(&mut self) -> Result<(), Failure> {
        let text = self.read_log()?;
        for password in &self.passwords {
            if text.contains(password.as_str()) {
                return Err(Failure::new(
                    "the audit log never contains a password, right or wrong (a wrong one is often the \
                     right one of another site, or a typo of the real one)",
                )
                .got(format!("the password {password:?} appears in the log")));
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() != self.attempts.len() {
            return Err(Failure::new(
                "every login attempt (200, 401 or 429) appends exactly one line to the audit log",
            )
            .expected(format!("{} lines", self.attempts.len()))
            .got(format!("{} lines", lines.len())));
        }
        let mut prev = GENESIS.to_string();
        for (i, (line, attempt)) in lines.iter().zip(&self.attempts).enumerate() {
            let seq = i as u64 + 1;
            let hash = hex(&Sha256::digest(format!(
                "{prev}|{seq}|{}|{}|{}|{}",
                attempt.ts, attempt.event, attempt.user, attempt.ip
            )));
            let expected = json!({"seq": seq, "ts": attempt.ts, "event": attempt.event, "user": attempt.user,
                                  "ip": attempt.ip, "prev": prev, "hash": hash});
            let got: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            if got != expected {
                return Err(Failure::new(
                    "audit line N is {\"seq\":N,\"ts\",\"event\",\"user\",\"ip\",\"prev\": the previous line's \
                     hash (64 zeros for the first),\"hash\": hex SHA-256 of \"{prev}|{seq}|{ts}|{event}|{user}|{ip}\"}",
                )
                .expected(expected.to_string())
                .got(line.to_string())
                .detail(format!("line {seq} of the audit log")));
            }
            prev = hash;
        }
        let expected = json!({"valid": true, "lines": lines.len()});
        self.p.expect(
            &json!({"op": "verify_audit"}),
            &expected,
            "verify_audit on the untouched log answers valid, with its number of lines",
        )?;
        Ok(())
    }

    fn tampering(&mut self) -> Result<(), Failure> {
        let original = self.read_log()?;
        let lines: Vec<String> = original.lines().map(str::to_string).collect();
        let n = lines.len();
        let k = self.rng.range(2, n as u64 - 3) as usize;
        let failure_line = (k..n - 2)
            .find(|&i| lines[i].contains("\"login_failure\""))
            .unwrap_or(k);
        let mut cases: Vec<(Vec<String>, usize, String)> = Vec::new();
        let mut edited = lines.clone();
        edited[failure_line] =
            edited[failure_line].replace("\"login_failure\"", "\"login_success\"");
        cases.push((
            edited,
            failure_line + 1,
            format!(
                "line {} edited: login_failure became login_success, its hash left as it was",
                failure_line + 1
            ),
        ));
        let mut deleted = lines.clone();
        deleted.remove(k);
        cases.push((deleted, k + 1, format!("line {} deleted", k + 1)));
        let mut swapped = lines.clone();
        swapped.swap(k, k + 1);
        cases.push((
            swapped,
            k + 1,
            format!("lines {} and {} swapped", k + 1, k + 2),
        ));
        // A forger who recomputes the edited line's own hash still breaks the next line's prev.
        let mut forged = lines.clone();
        let mut entry: Value = serde_json::from_str(&forged[failure_line]).unwrap_or(Value::Null);
        entry["event"] = json!("login_success");
        let text = |v: &Value, f: &str| v[f].as_str().unwrap_or_default().to_string();
        let forged_hash = hex(&Sha256::digest(format!(
            "{}|{}|{}|{}|{}|{}",
            text(&entry, "prev"),
            entry["seq"],
            entry["ts"],
            text(&entry, "event"),
            text(&entry, "user"),
            text(&entry, "ip")
        )));
        entry["hash"] = json!(forged_hash);
        forged[failure_line] = entry.to_string();
        cases.push((
            forged,
            failure_line + 2,
            format!(
                "line {} edited and its own hash recomputed by the forger",
                failure_line + 1
            ),
        ));
        for (content, bad, what) in cases {
            let mut body = content.join("\n");
            body.push('\n');
            std::fs::write(&self.log, body).map_err(|e| {
                Failure::new(format!("the grader could not edit the audit log: {e}"))
            })?;
            let got = self.p.request(&json!({"op": "verify_audit"}))?;
            let expected = json!({"valid": false, "first_bad_line": bad});
            if got != expected {
                return Err(Failure::new(
                    "verify_audit re-reads the log and reports the first line whose seq, prev or hash is not \
                     what the chain says: each line's prev must be the previous line's hash, and its hash \
                     must cover its own fields",
                )
                .expected(expected.to_string())
                .got(got.to_string())
                .detail(format!("the grader tampered with the log: {what}")));
            }
        }
        std::fs::write(&self.log, &original).map_err(|e| {
            Failure::new(format!("the grader could not restore the audit log: {e}"))
        })?;
        self.p.expect(
            &json!({"op": "verify_audit"}),
            &json!({"valid": true, "lines": n}),
            "after the log is restored, verify_audit answers valid again",
        )?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
