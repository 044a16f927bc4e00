//! # Storing passwords: Argon2id, salts, PHC strings and transparent rehashing
//!
//! Sooner or later every user table leaks: a backup left in a bucket, an SQL injection, a disgruntled insider.
//! What the attacker then holds depends on one decision made on day one. A table of plaintext passwords is a
//! master key to every other site where your users reused them. A table of fast hashes (MD5, SHA-256) is barely
//! better: a single GPU tries billions of SHA-256 guesses a second, and a precomputed table cracks the common
//! passwords in one lookup. The defence is a **password hashing function**: deliberately slow, memory hungry
//! (so GPUs and ASICs lose their edge) and salted. **Argon2id** won the Password Hashing Competition and is the
//! first choice of OWASP's Password Storage Cheat Sheet (bcrypt and scrypt are the older alternatives).
//!
//! - **Salt**: 16 random bytes from the operating system's CSPRNG, fresh for every hash. Two users with the same
//!   password get different hashes, and a precomputed table is useless: the attacker must attack each hash
//!   on its own.
//! - **PHC string**: the self-describing format every modern library writes,
//!   `$argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>`. It stores the algorithm, the version, the
//!   cost parameters and the salt next to the hash, so verification needs nothing else, and so parameters can
//!   change without breaking old hashes.
//! - **Parameters**: `m` is the memory in KiB, `t` the number of passes, `p` the lanes. OWASP's minimum is
//!   `m=19456, t=2, p=1`. Hardware gets faster, so you raise them over the years; a user's hash can only be
//!   upgraded when you see their password again, at login: verify with the *old* parameters written in the
//!   PHC string, and when they differ from the current ones, hash again and store the new string
//!   (**transparent rehash**).
//! - **Same work, same answer**: a login for an unknown user that answers at once, or says "no such user",
//!   tells an attacker which accounts exist (user enumeration), by the message or by the response time. An
//!   unknown user is checked against a **dummy hash** made at startup with the current parameters, so every
//!   login costs exactly one Argon2 computation and gets the same answer.
//! - **Logs**: a `#[derive(Debug)]` on a struct that holds a password prints it into every log line that shows
//!   the request. Give secrets a `Debug` that redacts.
//!
//! ## The contract (JSON lines on stdin/stdout)
//!
//! Started as `auth1_password_hashing --data-dir DIR --m-cost KIB --t-cost N --p-cost N` (the grader passes
//! cheap parameters so a debug build stays fast). Users are kept in `DIR/users.json` and every request is
//! logged to `DIR/app.log`: both must be free of plaintext passwords, which the grader checks.
//!
//! | request | reply |
//! |---|---|
//! | `{"op":"register","user":U,"password":P}` | `{"ok":true}`, or `{"ok":false,"error":"user already exists"}` (the first password stays) |
//! | `{"op":"login","user":U,"password":P}` | `{"ok":true}`, or `{"ok":false,"error":"invalid username or password"}` for a wrong password *and* for an unknown user |
//! | `{"op":"debug"}` | `{"users":[{"user":U,"phc":"$argon2id$…"}, …] (sorted by user), "hash_computations":N}` |
//!
//! - Every stored hash is an Argon2id (v=19) PHC string with the current `m`, `t`, `p`, a 16-byte random salt,
//!   and a 32-byte output; salts are unique.
//! - Each login costs exactly one Argon2 computation (known user, unknown user, right or wrong password), plus
//!   one more when a successful login rehashes. `hash_computations` counts them all (the dummy hash too).
//! - After a restart with higher parameters, old hashes still verify; a successful login stores a new PHC
//!   string with the new parameters; a failed login changes nothing.
//!
//! ## Pitfalls
//!
//! - Verifying by hashing the attempt with the *current* parameters and comparing strings: every old hash
//!   stops matching the day you raise the parameters. Parse the stored PHC string and verify with what it says.
//! - Rehashing before checking the password (or on a failed login): whoever types a wrong password replaces
//!   the account's password.
//! - A salt from a constant, a username or a non-cryptographic RNG.
//! - Comparing hashes with `==` on strings in your own code: use the library's verify (constant time).
//!
//! Roadmap: password storage (bcrypt, scrypt, Argon2); hashing; user enumeration.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use backlings_harness::stdio::serve_json_lines;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The one error a failed login gets, whoever the user.
pub const INVALID_CREDENTIALS: &str = "invalid username or password";

/// A password as it arrives in a request: it must never reach a log line or a file.
#[derive(Clone, Deserialize)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Argon2id with fixed cost parameters, counting every computation it does.
pub struct Kdf {
    params: Params,
    computations: u64,
}

impl Kdf {
    /// A hasher with memory `m_cost` KiB, `t_cost` passes and `p_cost` lanes.
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, String> {
        let params = Params::new(m_cost, t_cost, p_cost, None).map_err(|e| e.to_string())?;
        Ok(Kdf {
            params,
            computations: 0,
        })
    }

    /// How many Argon2 computations (hashes and verifications) this hasher has done.
    pub fn computations(&self) -> u64 {
        self.computations
    }

    /// Hashes `password` with Argon2id, the current parameters and a fresh random salt: a PHC string.
    pub fn hash(&mut self, password: &Password) -> String {
        self.computations += 1; // provided: the grader reads this counter through `debug`
        // 16 bytes from a CSPRNG (rand's thread RNG is ChaCha12, seeded by the operating system).
        let salt =
            SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes is a valid salt");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .hash_password(password.0.as_bytes(), &salt)
            .expect("Argon2 parameters were checked at startup")
            .to_string()
    }

    /// Whether `password` matches the PHC string `phc`, verified with the parameters written in `phc`.
    pub fn verify(&mut self, phc: &str, password: &Password) -> bool {
        self.computations += 1; // provided: the grader reads this counter through `debug`
        match PasswordHash::new(phc) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.0.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Whether `phc` was made with another algorithm or other parameters than the current ones.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let current = Params::try_from(&parsed).ok().map(|p| {
            (
                p.m_cost() == self.params.m_cost(),
                p.t_cost() == self.params.t_cost(),
                p.p_cost() == self.params.p_cost(),
            )
        });
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13.into())
            || current != Some((true, true, true))
    }
}

/// What is stored about one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The Argon2id PHC string of the user's password.
    pub phc: String,
}

/// The user table and the hasher.
pub struct Accounts {
    kdf: Kdf,
    users: BTreeMap<String, UserRecord>,
    dummy_phc: String,
}

impl Accounts {
    /// Accounts over `users` (loaded from disk), hashing with `kdf`.
    pub fn new(mut kdf: Kdf, users: BTreeMap<String, UserRecord>) -> Self {
        // Made once, with the current parameters: an unknown user costs the same as a known one.
        let dummy_phc = kdf.hash(&Password("dummy password for unknown users".to_string()));
        Accounts {
            kdf,
            users,
            dummy_phc,
        }
    }

    /// The stored users, by name.
    pub fn users(&self) -> &BTreeMap<String, UserRecord> {
        &self.users
    }

    /// How many Argon2 computations were done so far.
    pub fn computations(&self) -> u64 {
        self.kdf.computations()
    }

    /// Registers `user`; `Err` with the contract's message when the name is taken.
    pub fn register(&mut self, user: &str, password: &Password) -> Result<(), String> {
        if self.users.contains_key(user) {
            return Err("user already exists".to_string());
        }
        let phc = self.kdf.hash(password);
        self.users.insert(user.to_string(), UserRecord { phc });
        Ok(())
    }

    /// Checks `password` for `user`, rehashing a correct password stored with old parameters.
    pub fn login(&mut self, user: &str, password: &Password) -> Result<(), String> {
        let Some(record) = self.users.get(user) else {
            self.kdf.verify(&self.dummy_phc.clone(), password);
            return Err(INVALID_CREDENTIALS.to_string());
        };
        let phc = record.phc.clone();
        if !self.kdf.verify(&phc, password) {
            return Err(INVALID_CREDENTIALS.to_string());
        }
        if self.kdf.needs_rehash(&phc) {
            let phc = self.kdf.hash(password);
            self.users.insert(user.to_string(), UserRecord { phc });
        }
        Ok(())
    }
}

/// One request of the protocol (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Create an account.
    Register { user: String, password: Password },
    /// Check a password.
    Login { user: String, password: Password },
    /// Show the stored records and the work counter.
    Debug,
}

/// Answers one request (provided: you do not need to change this).
pub fn handle(accounts: &mut Accounts, request: Request) -> Value {
    let outcome = match request {
        Request::Register { user, password } => accounts.register(&user, &password),
        Request::Login { user, password } => accounts.login(&user, &password),
        Request::Debug => {
            let users: Vec<Value> = accounts
                .users()
                .iter()
                .map(|(user, record)| json!({ "user": user, "phc": record.phc }))
                .collect();
            return json!({ "users": users, "hash_computations": accounts.computations() });
        }
    };
    match outcome {
        Ok(()) => json!({ "ok": true }),
        Err(error) => json!({ "ok": false, "error": error }),
    }
}

/// The command line (provided: you do not need to change this).
struct Config {
    data_dir: PathBuf,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

fn parse_args() -> Result<Config, String> {
    // OWASP's minimum for Argon2id.
    let mut config = Config {
        data_dir: PathBuf::from("."),
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--data-dir" => config.data_dir = PathBuf::from(&value),
            "--m-cost" => config.m_cost = number()?,
            "--t-cost" => config.t_cost = number()?,
            "--p-cost" => config.p_cost = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(config)
}

fn load_users(path: &Path) -> Result<BTreeMap<String, UserRecord>, String> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn save_users(path: &Path, users: &BTreeMap<String, UserRecord>) {
    let text = serde_json::to_string_pretty(users).expect("records serialize");
    // Write then rename: a crash mid-write never leaves a half-written user table.
    let temporary = path.with_extension("json.tmp");
    if let Err(e) = fs::write(&temporary, text).and_then(|()| fs::rename(&temporary, path)) {
        eprintln!("error: could not save {}: {e}", path.display());
    }
}

/// Serves the accounts over JSON lines (provided: you do not need to change this).
fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: auth1_password_hashing --data-dir DIR [--m-cost KIB] [--t-cost N] [--p-cost N]"
            );
            return ExitCode::from(2);
        }
    };
    let kdf = match Kdf::new(config.m_cost, config.t_cost, config.p_cost) {
        Ok(kdf) => kdf,
        Err(why) => {
            eprintln!("error: bad Argon2 parameters: {why}");
            return ExitCode::from(2);
        }
    };
    let users_path = config.data_dir.join("users.json");
    let users = match load_users(&users_path) {
        Ok(users) => users,
        Err(why) => {
            eprintln!("error: could not load the users: {why}");
            return ExitCode::FAILURE;
        }
    };
    let mut log = match fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.data_dir.join("app.log"))
    {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: could not open the log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut accounts = Accounts::new(kdf, users);
    serve_json_lines(|request: Request| {
        let _ = writeln!(log, "request: {request:?}");
        let reply = handle(&mut accounts, request);
        save_users(&users_path, accounts.users());
        reply
    });
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password(text.to_string())
    }

    fn accounts() -> Accounts {
        Accounts::new(Kdf::new(64, 1, 1).unwrap(), BTreeMap::new())
    }

    // A password's Debug form never shows the password.
    #[test]
    fn debug_output_redacts_the_password() {
        let shown = format!("{:?}", password("hunter2-swordfish"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    // Vectors from the reference implementation (phc-winner-argon2): `echo -n password | argon2 somesalt
    // -id -t 1 -m 6 -p 1 -e`, and the same with `-i -t 2` (Argon2i, an older choice).
    #[test]
    fn verifies_reference_phc_strings() {
        let mut kdf = Kdf::new(64, 1, 1).unwrap();
        let argon2id =
            "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70";
        let argon2i =
            "$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQ$mJ2mVFjovhRArlVdCzyKw6ZYTg0ikLncyRWminHkHB4";
        assert!(kdf.verify(argon2id, &password("password")));
        assert!(!kdf.verify(argon2id, &password("Password")));
        assert!(kdf.verify(argon2i, &password("password")));
        assert_eq!(kdf.computations(), 3);
        assert!(!kdf.needs_rehash(argon2id));
        assert!(kdf.needs_rehash(argon2i));
    }

    // A hash is an Argon2id PHC string with the current parameters, and it verifies.
    #[test]
    fn hashes_are_argon2id_phc_strings() {
        let mut kdf = Kdf::new(64, 1, 1).unwrap();
        let phc = kdf.hash(&password("correct horse"));
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(kdf.verify(&phc, &password("correct horse")));
        assert!(!kdf.needs_rehash(&phc));
    }

    // The same password hashed twice gives two different strings: each hash has its own salt.
    #[test]
    fn every_hash_has_its_own_salt() {
        let mut accounts = accounts();
        accounts
            .register("ann", &password("same password"))
            .unwrap();
        accounts
            .register("bob", &password("same password"))
            .unwrap();
        assert_ne!(accounts.users()["ann"].phc, accounts.users()["bob"].phc);
    }

    // Wrong password and unknown user: same error, one Argon2 computation each.
    #[test]
    fn unknown_users_cost_the_same_and_get_the_same_error() {
        let mut accounts = accounts();
        accounts
            .register("ann", &password("right password"))
            .unwrap();
        let before = accounts.computations();
        let wrong = accounts.login("ann", &password("wrong password"));
        assert_eq!(accounts.computations(), before + 1);
        let unknown = accounts.login("nobody", &password("wrong password"));
        assert_eq!(accounts.computations(), before + 2);
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, Err(INVALID_CREDENTIALS.to_string()));
        assert_eq!(accounts.login("ann", &password("right password")), Ok(()));
    }

    // After a parameter upgrade, an old hash still verifies and a successful login rehashes it.
    #[test]
    fn a_login_upgrades_an_old_hash() {
        let mut old = accounts();
        old.register("ann", &password("right password")).unwrap();
        let users = old.users().clone();
        let mut new = Accounts::new(Kdf::new(128, 2, 1).unwrap(), users);
        assert!(new.login("ann", &password("wrong password")).is_err());
        assert!(new.users()["ann"].phc.contains("m=64,t=1,p=1"));
        assert_eq!(new.login("ann", &password("right password")), Ok(()));
        assert!(new.users()["ann"].phc.contains("m=128,t=2,p=1"));
        assert_eq!(new.login("ann", &password("right password")), Ok(()));
    }

    // Registering a taken name fails and keeps the first password.
    #[test]
    fn a_taken_name_keeps_its_password() {
        let mut accounts = accounts();
        accounts
            .register("ann", &password("first password"))
            .unwrap();
        assert!(
            accounts
                .register("ann", &password("second password"))
                .is_err()
        );
        assert_eq!(accounts.login("ann", &password("first password")), Ok(()));
    }
}
