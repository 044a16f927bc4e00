//! mutant: numbers sessions with a counter padded to 32 hex digits: long, but the next id is obvious
//! expect: unpredictable

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};

/// The session cookie's name; the `__Host-` prefix makes the browser demand `Secure`, `Path=/`, no `Domain`.
pub const COOKIE: &str = "__Host-sid";

/// One session: who (if anyone) is logged in, and when it began and was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The logged-in user, or `None` for an anonymous visitor.
    pub user: Option<String>,
    /// When the session began (unix ms).
    pub started_ms: u64,
    /// When the session was last used (unix ms).
    pub last_used_ms: u64,
}

/// The server-side session table.
#[derive(Debug)]
pub struct Sessions {
    idle_ms: u64,
    absolute_ms: u64,
    by_id: HashMap<String, Session>,
}

impl Sessions {
    /// An empty table with these timeouts.
    pub fn new(idle_ms: u64, absolute_ms: u64) -> Self {
        Sessions {
            idle_ms,
            absolute_ms,
            by_id: HashMap::new(),
        }
    }

    /// A fresh, unguessable session id: 128 bits from a CSPRNG.
    pub fn new_id() -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{n:032x}")
    }

    /// Starts a session for `user` (or an anonymous one) at `now_ms`, and returns its new id.
    pub fn start(&mut self, user: Option<String>, now_ms: u64) -> String {
        let id = Self::new_id();
        let session = Session {
            user,
            started_ms: now_ms,
            last_used_ms: now_ms,
        };
        self.by_id.insert(id.clone(), session);
        id
    }

    /// The session `id` if it is still valid at `now_ms` (and marks it used); an expired one is removed.
    pub fn get(&mut self, id: &str, now_ms: u64) -> Option<&Session> {
        let session = self.by_id.get(id)?;
        let idle_over = now_ms >= session.last_used_ms + self.idle_ms;
        let absolute_over = now_ms >= session.started_ms + self.absolute_ms;
        if idle_over || absolute_over {
            self.by_id.remove(id);
            return None;
        }
        let session = self.by_id.get_mut(id)?;
        session.last_used_ms = now_ms;
        Some(session)
    }

    /// Logs `user` in and returns the id of their session. `current` is the id the browser sent, if any: maybe
    /// a valid session, maybe an expired one, maybe one this server never issued.
    pub fn login(&mut self, current: Option<&str>, user: &str, now_ms: u64) -> String {
        if let Some(id) = current {
            self.destroy(id);
        }
        self.start(Some(user.to_string()), now_ms)
    }

    /// Ends the session `id` on the server.
    pub fn destroy(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// The `Set-Cookie` value that hands session `id` to the browser.
    pub fn cookie_for(&self, id: &str) -> String {
        format!(
            "{COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
            self.absolute_ms / 1000
        )
    }

    /// The `Set-Cookie` value that makes the browser forget the session cookie.
    pub fn clearing_cookie(&self) -> String {
        format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
    }
}

/// The session id the browser sent, if any (provided: you do not need to change this).
pub fn session_id(request: &Request) -> Option<&str> {
    request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The demo accounts (provided: auth1 taught how to store passwords; this exercise is about what comes after).
fn check_password(user: &str, password: &str) -> bool {
    const ACCOUNTS: [(&str, &str); 3] = [
        ("alice", "wonderland-42"),
        ("bob", "builder-1999"),
        ("carol", "christmas-carol"),
    ];
    ACCOUNTS.iter().any(|(u, p)| *u == user && *p == password)
}

/// One form field of an `application/x-www-form-urlencoded` body (provided; no percent-decoding needed here).
fn form_field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Routes one request through the session table (provided: you do not need to change this).
pub fn handle(sessions: &Mutex<Sessions>, request: &Request) -> Response {
    let Some(now_ms) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Response::text(400, "missing or bad X-Fake-Now header\n");
    };
    let mut sessions = sessions.lock().unwrap_or_else(|e| e.into_inner());
    let sent = session_id(request);
    let current = sent.and_then(|id| sessions.get(id, now_ms).cloned());
    match (request.method.as_str(), request.path()) {
        ("GET", "/") => match current {
            Some(session) => {
                let who = session.user.as_deref().unwrap_or("anonymous");
                Response::text(200, format!("hello, {who}\n"))
            }
            None => {
                let id = sessions.start(None, now_ms);
                Response::text(200, "hello, anonymous\n")
                    .with_header("Set-Cookie", sessions.cookie_for(&id))
            }
        },
        ("POST", "/login") => {
            let body = String::from_utf8_lossy(&request.body);
            let user = form_field(&body, "user").unwrap_or("");
            let password = form_field(&body, "password").unwrap_or("");
            if !check_password(user, password) {
                return Response::text(401, "invalid username or password\n");
            }
            let id = sessions.login(sent, user, now_ms);
            Response::text(200, format!("welcome, {user}\n"))
                .with_header("Set-Cookie", sessions.cookie_for(&id))
                .with_header("Cache-Control", "no-store")
        }
        ("GET", "/me") => match current.and_then(|s| s.user) {
            Some(user) => {
                Response::text(200, format!("{user}\n")).with_header("Cache-Control", "no-store")
            }
            None => Response::text(401, "not logged in\n"),
        },
        ("POST", "/logout") => {
            if let Some(id) = sent {
                sessions.destroy(id);
            }
            Response::text(200, "bye\n").with_header("Set-Cookie", sessions.clearing_cookie())
        }
        _ => Response::text(404, "not found\n"),
    }
}

/// Reads `--idle-ms N --absolute-ms N` (provided: you do not need to change this).
fn parse_args() -> Result<(u64, u64), String> {
    let (mut idle_ms, mut absolute_ms) = (15 * 60 * 1000, 8 * 3600 * 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let value: u64 = value
            .parse()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or(format!("{flag} must be a positive number of milliseconds"))?;
        match flag.as_str() {
            "--idle-ms" => idle_ms = value,
            "--absolute-ms" => absolute_ms = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((idle_ms, absolute_ms))
}

/// Serves the application over HTTP (provided: you do not need to change this).
fn main() -> ExitCode {
    let (idle_ms, absolute_ms) = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: auth2_sessions_cookies [--idle-ms N] [--absolute-ms N]"
            );
            return ExitCode::from(2);
        }
    };
    let sessions = Mutex::new(Sessions::new(idle_ms, absolute_ms));
    match serve(move |request| handle(&sessions, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
