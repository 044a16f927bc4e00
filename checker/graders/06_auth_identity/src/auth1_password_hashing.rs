//! Grader of `auth1_password_hashing`: Argon2id password storage over JSON lines.
//!
//! The grader checks every stored PHC string with an independent Argon2 implementation (the `argon2` crate: the
//! right algorithm, version and parameters, a 16-byte salt, and the password really verifies), pre-seeds the
//! user table with hashes made by the reference C implementation under older parameters, counts the Argon2
//! work of each login through `hash_computations`, restarts the program with stronger parameters on the same
//! data directory, and finally scans every file the program wrote and every line it printed for a plaintext
//! password.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, Params, PasswordVerifier};
use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

use crate::support::{compact, files_containing};

/// Made by the reference implementation: `echo -n password | argon2 somesalt -id -t 1 -m 6 -p 1 -e`.
const LEGACY_ARGON2ID: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70";
/// Made by the reference implementation: `echo -n password | argon2 somesalt -i -t 2 -m 6 -p 1 -e`.
const LEGACY_ARGON2I: &str =
    "$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQ$mJ2mVFjovhRArlVdCzyKw6ZYTg0ikLncyRWminHkHB4";
/// The password of both legacy hashes.
const LEGACY_PASSWORD: &str = "password";
/// The one answer of a failed login.
const INVALID: &str = "invalid username or password";

/// Argon2 cost parameters, as passed on the command line and written in a PHC string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Costs {
    m: u32,
    t: u32,
    p: u32,
}

impl Costs {
    fn args(self, data_dir: &Path) -> Vec<String> {
        vec![
            "--data-dir".to_string(),
            data_dir.display().to_string(),
            "--m-cost".to_string(),
            self.m.to_string(),
            "--t-cost".to_string(),
            self.t.to_string(),
            "--p-cost".to_string(),
            self.p.to_string(),
        ]
    }
}

impl std::fmt::Display for Costs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "m={},t={},p={}", self.m, self.t, self.p)
    }
}

/// One running program and what the grader knows about it.
struct Session {
    program: Stdio,
    /// Every line the program printed, scanned for plaintext passwords at the end.
    printed: Vec<String>,
}

impl Session {
    fn start(g: &mut Grading, data_dir: &Path, costs: Costs) -> Result<Self, Failure> {
        let args = costs.args(data_dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(Session {
            program: g.stdio_with(&args, &[])?,
            printed: Vec::new(),
        })
    }

    fn request(&mut self, request: Value) -> Result<Value, Failure> {
        let reply = self.program.request(&request)?;
        self.printed.push(reply.to_string());
        Ok(reply)
    }

    fn register(&mut self, user: &str, password: &str) -> Result<Value, Failure> {
        self.request(json!({"op": "register", "user": user, "password": password}))
    }

    fn login(&mut self, user: &str, password: &str) -> Result<Value, Failure> {
        self.request(json!({"op": "login", "user": user, "password": password}))
    }

    /// The `debug` dump: stored PHC strings by user, and the work counter.
    fn debug(&mut self) -> Result<(BTreeMap<String, String>, u64), Failure> {
        let reply = self.request(json!({"op": "debug"}))?;
        let shape = || {
            Failure::new(
                "`debug` answers {\"users\":[{\"user\":U,\"phc\":P}, …] sorted by user, \"hash_computations\":N}",
            )
            .got(compact(&reply))
        };
        let list = reply["users"].as_array().ok_or_else(shape)?;
        let count = reply["hash_computations"].as_u64().ok_or_else(shape)?;
        let mut users = BTreeMap::new();
        let mut names = Vec::new();
        for entry in list {
            let (Some(user), Some(phc)) = (entry["user"].as_str(), entry["phc"].as_str()) else {
                return Err(shape());
            };
            names.push(user.to_string());
            users.insert(user.to_string(), phc.to_string());
        }
        ensure(names.windows(2).all(|w| w[0] < w[1]), shape)?;
        Ok((users, count))
    }

    fn expect_ok(&mut self, request: Value, rule: &str) -> Result<(), Failure> {
        let reply = self.request(request.clone())?;
        ensure(reply == json!({"ok": true}), || {
            Failure::new(rule)
                .expected("{\"ok\":true}")
                .got(compact(&reply))
                .detail(format!("the request: {}", compact(&request)))
        })
    }

    fn expect_invalid(&mut self, user: &str, password: &str, rule: &str) -> Result<(), Failure> {
        let reply = self.login(user, password)?;
        ensure(reply == json!({"ok": false, "error": INVALID}), || {
            Failure::new(rule)
                .expected(compact(&json!({"ok": false, "error": INVALID})))
                .got(compact(&reply))
                .detail(format!("the login: user `{user}`, password {password:?}"))
        })
    }

    fn count(&mut self) -> Result<u64, Failure> {
        Ok(self.debug()?.1)
    }
}

/// A password nobody else would type, so finding it in a file is never a coincidence.
fn new_password(rng: &mut Rng, style: u64) -> String {
    match style % 4 {
        0 => format!("{}-{}-{}", rng.word(7), rng.word(7), rng.range(100, 999)),
        1 => format!("Pässwörd-ünïcödé-{}", rng.word(8)),
        2 => format!("{} {} {}", rng.word(6), rng.word(9), rng.word(5)),
        // Longer than bcrypt's 72 bytes: Argon2 must use every byte.
        _ => format!("{}{}", rng.word(80), rng.word(12)),
    }
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.set_reply_timeout(Duration::from_secs(10));
    let dir = tempfile::tempdir().map_err(|e| Failure::new(format!("no temp dir: {e}")))?;
    let data_dir = dir.path();
    let seeded = json!({
        "legacy-id": {"phc": LEGACY_ARGON2ID},
        "legacy-i": {"phc": LEGACY_ARGON2I},
    });
    std::fs::write(data_dir.join("users.json"), seeded.to_string())
        .map_err(|e| Failure::new(format!("could not seed the user table: {e}")))?;

    let first = Costs {
        m: *g.rng().pick(&[96, 128, 160]),
        t: 1,
        p: 1,
    };
    // Every password the grader typed (but "password", a word the protocol itself uses).
    let mut typed: Vec<String> = Vec::new();
    let mut s = Session::start(g, data_dir, first)?;

    g.scenario("registered users log in, and every stored hash is Argon2id with its own salt");
    let mut users: Vec<(String, String)> = Vec::new();
    for i in 0..5u64 {
        let user = format!("{}{i}", g.rng().word(5));
        let password = if i == 4 {
            users[1].1.clone() // two users with the same password
        } else {
            new_password(g.rng(), i)
        };
        s.expect_ok(
            json!({"op": "register", "user": user, "password": password}),
            "registering a new user answers {\"ok\":true}",
        )?;
        users.push((user, password));
    }
    typed.extend(users.iter().map(|(_, p)| p.clone()));
    for (user, password) in &users {
        s.expect_ok(
            json!({"op": "login", "user": user, "password": password}),
            "a registered user logs in with their password",
        )?;
    }
    let (user, password) = users[0].clone();
    let other = new_password(g.rng(), 0);
    typed.push(other.clone());
    let reply = s.register(&user, &other)?;
    ensure(
        reply == json!({"ok": false, "error": "user already exists"}),
        || {
            Failure::new("registering a taken name is refused, and the first password stays")
                .expected("{\"ok\":false,\"error\":\"user already exists\"}")
                .got(compact(&reply))
        },
    )?;
    s.expect_invalid(
        &user,
        &other,
        "a refused registration must not change the password",
    )?;
    s.expect_ok(
        json!({"op": "login", "user": user, "password": password}),
        "a refused registration must not change the password",
    )?;
    let mut wrong = password.clone();
    wrong.pop();
    s.expect_invalid(
        &user,
        &wrong,
        "a password missing its last character is wrong",
    )?;
    s.expect_invalid(
        &user,
        &password.to_uppercase(),
        "passwords are case-sensitive",
    )?;
    s.expect_invalid(&user, "", "an empty password is wrong")?;
    let long = &users[3];
    let mut changed_late = long.1.clone();
    changed_late.pop();
    changed_late.push('!');
    s.expect_invalid(
        &long.0,
        &changed_late,
        "every byte of a long password counts (bcrypt silently ignores bytes after the 72nd; Argon2 does not)",
    )?;
    let (stored, _) = s.debug()?;
    for (user, password) in &users {
        let phc = stored.get(user).ok_or_else(|| {
            Failure::new("`debug` lists every registered user").detail(format!("missing: `{user}`"))
        })?;
        check_phc(user, phc, password, first)?;
    }
    let mut salts = BTreeMap::new();
    // The legacy hashes were seeded with one salt on purpose; the program's own hashes must not share one.
    for (user, phc) in stored
        .iter()
        .filter(|(user, _)| !user.starts_with("legacy-"))
    {
        let salt = PasswordHash::new(phc)
            .ok()
            .and_then(|h| h.salt.map(|s| s.as_str().to_string()));
        if let Some(salt) = salt
            && let Some(earlier) = salts.insert(salt.clone(), user.clone())
        {
            return Err(Failure::new(
                "every hash has its own random salt (16 bytes from the OS's CSPRNG, fresh for each hash): \
                 two users with one salt can be attacked together, and equal passwords show as equal hashes",
            )
            .got(format!("`{earlier}` and `{user}` share the salt {salt}")));
        }
    }

    g.scenario(
        "an unknown user costs the same hashing work as a known one, and gets the same answer",
    );
    let stranger = format!("{}-unknown", g.rng().word(6));
    let attempt = new_password(g.rng(), 2);
    typed.push(attempt.clone());
    let (known, known_password) = users[2].clone();
    for round in 0..3 {
        let before = s.count()?;
        let unknown_reply = s.login(&stranger, &attempt)?;
        let after_unknown = s.count()?;
        let wrong_reply = s.login(&known, &attempt)?;
        let after_wrong = s.count()?;
        s.expect_ok(
            json!({"op": "login", "user": known, "password": known_password}),
            "a registered user logs in with their password",
        )?;
        let after_right = s.count()?;
        let work = [
            ("an unknown user", after_unknown.saturating_sub(before)),
            (
                "a known user with a wrong password",
                after_wrong.saturating_sub(after_unknown),
            ),
            (
                "a known user with the right password",
                after_right.saturating_sub(after_wrong),
            ),
        ];
        if work.iter().any(|(_, n)| *n != 1) {
            return Err(Failure::new(
                "every login must do the same hashing work as one for a known user: exactly one Argon2 \
                 computation, whoever the user (an unknown user is checked against a dummy hash made at \
                 startup); otherwise the response time tells an attacker which accounts exist",
            )
            .expected("hash_computations +1 for each of the three logins")
            .got(
                work.iter()
                    .map(|(who, n)| format!("{who}: +{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
            .detail(format!("round {} of 3", round + 1)));
        }
        ensure(unknown_reply == wrong_reply, || {
            Failure::new(
                "an unknown user and a wrong password must get the same answer, or the message tells an \
                 attacker which accounts exist (user enumeration)",
            )
            .expected(format!("both {}", compact(&wrong_reply)))
            .got(format!(
                "unknown user: {} · wrong password: {}",
                compact(&unknown_reply),
                compact(&wrong_reply)
            ))
        })?;
        s.expect_invalid(&stranger, &attempt, "a login for an unknown user fails")?;
    }

    g.scenario("old hashes verify with their own parameters, and a successful login upgrades them");
    for (user, old) in [("legacy-id", LEGACY_ARGON2ID), ("legacy-i", LEGACY_ARGON2I)] {
        let wrong = format!("{LEGACY_PASSWORD}-{}", g.rng().word(3));
        typed.push(wrong.clone());
        s.expect_invalid(user, &wrong, "a wrong password is refused")?;
        let (stored, _) = s.debug()?;
        ensure(stored.get(user).map(String::as_str) == Some(old), || {
            rehash_failure(
                "a failed login changes nothing: only a correct password may be rehashed",
                user,
            )
            .expected(old)
            .got(stored.get(user).cloned().unwrap_or_default())
        })?;
        let before = s.count()?;
        let reply = s.login(user, LEGACY_PASSWORD)?;
        ensure(reply == json!({"ok": true}), || {
            Failure::new(
                "an old hash must verify with the parameters written in its PHC string (not with the \
                 current ones): otherwise raising the parameters locks every existing user out",
            )
            .expected("{\"ok\":true}")
            .got(compact(&reply))
            .detail(format!(
                "user `{user}` was stored by the reference implementation as {old}, password \"{LEGACY_PASSWORD}\""
            ))
        })?;
        let (stored, after) = s.debug()?;
        let phc = stored.get(user).cloned().unwrap_or_default();
        ensure(phc != old, || {
            rehash_failure(
                "a successful login with an old hash must rehash it with the current parameters \
                 (transparent rehash: the only moment the password is known again)",
                user,
            )
            .expected(format!("a new $argon2id$ PHC string with {first}"))
            .got(&phc)
        })?;
        check_phc(user, &phc, LEGACY_PASSWORD, first)?;
        ensure(after.saturating_sub(before) == 2, || {
            Failure::new("a login that rehashes costs one verification and one new hash")
                .expected("hash_computations +2")
                .got(format!("+{}", after.saturating_sub(before)))
        })?;
    }

    g.scenario(
        "after a restart with stronger parameters, users are still there and upgraded at login",
    );
    let (before_restart, _) = s.debug()?;
    let (lines, _) = s.program.finish(Duration::from_secs(5))?;
    s.printed.extend(lines);
    let printed_before = std::mem::take(&mut s.printed);
    let second = if g.rng().chance(1, 2) {
        Costs {
            m: first.m * 2,
            ..first
        }
    } else {
        Costs {
            t: first.t + 1,
            ..first
        }
    };
    let mut s = Session::start(g, data_dir, second)?;
    s.printed = printed_before;
    let (stored, _) = s.debug()?;
    ensure(stored == before_restart, || {
        Failure::new(
            "the user table survives a restart unchanged (it lives in DATA_DIR/users.json), even when the \
             parameters change: old hashes are upgraded one by one at login, never all at once",
        )
        .expected(format!("{} users as before the restart", before_restart.len()))
        .got(format!("{} users, or changed hashes", stored.len()))
    })?;
    let (upgraded, upgraded_password) = users[0].clone();
    let (failing, failing_password) = users[1].clone();
    let mut wrong = failing_password.clone();
    wrong.insert(0, 'x');
    typed.push(wrong.clone());
    s.expect_invalid(&failing, &wrong, "a wrong password is refused")?;
    s.expect_ok(
        json!({"op": "login", "user": upgraded, "password": upgraded_password}),
        "a user hashed with the previous parameters still logs in",
    )?;
    let (after, _) = s.debug()?;
    check_phc(&upgraded, &after[&upgraded], &upgraded_password, second).map_err(|f| {
        f.detail(format!(
            "the program was restarted with {second} (it was {first}): a successful login must rehash"
        ))
    })?;
    for (user, phc) in &before_restart {
        if user != &upgraded {
            ensure(after.get(user) == Some(phc), || {
                rehash_failure(
                    "only a successful login rehashes: other users, and a failed login, change nothing",
                    user,
                )
                .expected(phc)
                .got(after.get(user).cloned().unwrap_or_default())
            })?;
        }
    }
    let before = s.count()?;
    s.expect_ok(
        json!({"op": "login", "user": upgraded, "password": upgraded_password}),
        "an upgraded user logs in",
    )?;
    let once = s.count()?.saturating_sub(before);
    ensure(once == 1, || {
        Failure::new("a hash that already has the current parameters is not rehashed again")
            .expected("hash_computations +1")
            .got(format!("+{once}"))
    })?;

    g.scenario("no plaintext password in any file or output");
    let (lines, _) = s.program.finish(Duration::from_secs(5))?;
    s.printed.extend(lines);
    for password in typed.iter().filter(|p| p.len() >= 8) {
        let printed = s
            .printed
            .iter()
            .find(|line| line.contains(password.as_str()));
        if let Some(line) = printed {
            return Err(plaintext_failure(password, "the program's output")
                .detail(format!("the line: {line}")));
        }
        if let Some((file, excerpt)) = files_containing(data_dir, password.as_bytes()) {
            return Err(plaintext_failure(password, &file).detail(format!("around it: {excerpt}")));
        }
    }
    Ok(())
}

fn rehash_failure(rule: &str, user: &str) -> Failure {
    Failure::new(rule).detail(format!("the stored PHC string of `{user}`"))
}

fn plaintext_failure(password: &str, place: &str) -> Failure {
    Failure::new(
        "a plaintext password must never be stored or logged: give the password type a Debug that redacts, and \
         keep only the PHC string",
    )
    .expected("no password anywhere")
    .got(format!("the password {password:?} in {place}"))
}

/// Checks one stored PHC string with an independent Argon2 implementation.
fn check_phc(user: &str, phc: &str, password: &str, costs: Costs) -> Result<(), Failure> {
    let fail = |why: &str| {
        Failure::new(format!(
            "every stored hash is an Argon2id (v=19) PHC string with the current parameters ({costs}), a 16-byte \
             random salt and a 32-byte hash, and it verifies the user's password: {why}"
        ))
        .expected(format!("$argon2id$v=19${costs}$<22 base64 chars of salt>$<43 base64 chars of hash>"))
        .got(phc.to_string())
        .detail(format!("user `{user}`"))
    };
    let parsed = PasswordHash::new(phc).map_err(|e| fail(&format!("not a PHC string ({e})")))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(fail(&format!("the algorithm is {}", parsed.algorithm)));
    }
    if parsed.version != Some(19) {
        return Err(fail("the version is not 19 (0x13)"));
    }
    let params = Params::try_from(&parsed).map_err(|e| fail(&format!("bad parameters ({e})")))?;
    let got = Costs {
        m: params.m_cost(),
        t: params.t_cost(),
        p: params.p_cost(),
    };
    if got != costs {
        return Err(fail(&format!("the parameters are {got}")));
    }
    let mut salt = [0u8; 64];
    let salt_len = parsed
        .salt
        .and_then(|s| s.decode_b64(&mut salt).ok().map(<[u8]>::len))
        .unwrap_or(0);
    if salt_len < 16 {
        return Err(fail(&format!("the salt has {salt_len} bytes")));
    }
    if parsed.hash.map(|h| h.len()) != Some(32) {
        return Err(fail("the hash is not 32 bytes"));
    }
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Err(fail(&format!(
            "it does not verify the password {password:?}"
        )));
    }
    Ok(())
}
