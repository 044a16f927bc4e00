//! # Server-side sessions and secure cookies
//!
//! HTTP forgets everything between two requests, so a login has to leave something behind that the browser
//! sends back. The classic answer, still the default of Rails, Django, Laravel and Spring, is a **server-side
//! session**: the server keeps a table `session id → (user, times)` and the browser holds only the id, in a
//! cookie. Logging out, kicking a user, or expiring an idle session is one delete in that table, which is
//! what stateless tokens (next exercise) cannot do without extra machinery.
//!
//! The id is the only thing between an attacker and the account, so everything about it matters:
//!
//! - **Unguessable**: 128 bits or more from a CSPRNG (OWASP's session management cheat sheet asks for at least
//!   64 bits of entropy). A counter, a timestamp or a hash of the username is guessed in minutes.
//! - **Rotated at login (session fixation)**: if the id that was issued to the anonymous visitor stays valid
//!   after the login, an attacker who planted that id in the victim's browser (a link, a subdomain cookie, a
//!   shared computer) is logged in too. At every change of privilege, destroy the old session and issue a new
//!   id. Never adopt an id the server did not issue.
//! - **Cookie attributes**: `HttpOnly` (page scripts cannot read it, so an XSS cannot steal it), `Secure`
//!   (never sent over plain HTTP), `SameSite=Lax` (not sent on cross-site sub-requests: the first line of
//!   defence against CSRF, while a link from another site still arrives logged in), `Path=/`. The name
//!   `__Host-sid` makes the browser enforce `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
//!   overwrite it.
//! - **Expiry on the server**: an *idle* timeout (a session unused for `idle` is over; each use extends it) and
//!   an *absolute* timeout (however active, a session ends `absolute` after it began), checked against the
//!   server's clock. The cookie's `Max-Age` is only a courtesy to the browser; an attacker replays a stolen
//!   cookie with any expiry they like.
//! - **Logout destroys the session on the server**. Clearing the cookie alone leaves a stolen copy working.
//!
//! ## The contract (HTTP)
//!
//! Started as `auth2_sessions_cookies --idle-ms N --absolute-ms N`. Every request carries
//! `X-Fake-Now: <unix ms>` (the server's clock, moved by the grader). The session cookie is `__Host-sid`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | `200 hello, <user>` or `200 hello, anonymous`; without a valid session, a new anonymous one is started and its cookie set |
//! | `POST /login` (form `user=…&password=…`) | `200 welcome, <user>` with a cookie for a **new** session id (the previous session, if any, is destroyed); `401` for wrong credentials, changing nothing |
//! | `GET /me` | `200 <user>` for a logged-in session, `401` otherwise |
//! | `POST /logout` | `200`, the session destroyed on the server, and the cookie cleared |
//!
//! - A new session's cookie is exactly `__Host-sid=<id>; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=<s>`
//!   where `<s>` is the absolute timeout in whole seconds, rounded down (the cookie must not outlive the session).
//!   The clearing cookie is `__Host-sid=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`.
//! - Ids are at least 22 characters of `[A-Za-z0-9_-]` (128 random bits, hex or base64url).
//! - A session is valid at `now` while `now < last_used + idle` and `now < started + absolute`; each request
//!   with a valid session sets `last_used = now`. An expired or unknown id is no session at all.
//!
//! ## Pitfalls
//!
//! - Setting `user` on the visitor's existing session at login instead of issuing a new id (fixation).
//! - Creating a session under whatever id the client sent.
//! - Checking only the idle timeout: a session kept busy by an attacker's script would live forever.
//! - `<=` where the contract says `<`: an idle session lives one millisecond too long.
//!
//! Roadmap: stateful server-side sessions; cookies vs tokens vs sessions; secure cookies; session fixation.

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
        let bytes: [u8; 16] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn request(method: &str, path: &str, now: u64, sid: Option<&str>, body: &str) -> Request {
        let mut headers = vec![("X-Fake-Now".to_string(), now.to_string())];
        if let Some(sid) = sid {
            headers.push(("Cookie".to_string(), format!("theme=dark; {COOKIE}={sid}")));
        }
        Request {
            method: method.to_string(),
            target: path.to_string(),
            version: "HTTP/1.1".to_string(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn cookie_id(response: &Response) -> String {
        let cookie = response.header("Set-Cookie").expect("a Set-Cookie");
        let (pair, _) = cookie.split_once(';').expect("attributes");
        pair.strip_prefix(&format!("{COOKIE}="))
            .unwrap()
            .to_string()
    }

    // Ids are long, random and never repeat.
    #[test]
    fn ids_are_long_and_random() {
        let a = Sessions::new_id();
        let b = Sessions::new_id();
        assert!(a.len() >= 22, "{a}");
        assert_ne!(a, b);
        assert_ne!(a[..8], b[..8]);
    }

    // The cookie carries exactly the contract's attributes.
    #[test]
    fn cookies_carry_the_security_attributes() {
        let sessions = Sessions::new(1_000, 90_500);
        assert_eq!(
            sessions.cookie_for("abc"),
            "__Host-sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=90"
        );
        assert!(sessions.clearing_cookie().ends_with("Max-Age=0"));
    }

    // A login issues a new id and destroys the old session: a planted id is worth nothing.
    #[test]
    fn login_rotates_the_session_id() {
        let mut sessions = Sessions::new(60_000, 600_000);
        let planted = sessions.start(None, T0);
        let fresh = sessions.login(Some(&planted), "alice", T0 + 1);
        assert_ne!(fresh, planted);
        assert_eq!(sessions.get(&planted, T0 + 2), None);
        assert_eq!(
            sessions.get(&fresh, T0 + 2).unwrap().user.as_deref(),
            Some("alice")
        );
    }

    // Idle expiry is exact, and each use extends it.
    #[test]
    fn idle_expiry_is_exact_and_sliding() {
        let mut sessions = Sessions::new(1_000, 1_000_000);
        let id = sessions.start(Some("bob".to_string()), T0);
        assert!(sessions.get(&id, T0 + 999).is_some());
        assert!(sessions.get(&id, T0 + 1_998).is_some());
        assert!(sessions.get(&id, T0 + 2_998).is_none());
        assert!(sessions.get(&id, T0 + 2_999).is_none());
    }

    // However busy, a session ends at its absolute timeout.
    #[test]
    fn absolute_expiry_ends_a_busy_session() {
        let mut sessions = Sessions::new(1_000, 5_000);
        let id = sessions.start(Some("carol".to_string()), T0);
        for t in (500..5_000).step_by(500) {
            assert!(sessions.get(&id, T0 + t).is_some(), "at +{t}");
        }
        assert!(sessions.get(&id, T0 + 4_999).is_some());
        assert!(sessions.get(&id, T0 + 5_000).is_none());
    }

    // Through HTTP: fixation fails, logout kills the session on the server.
    #[test]
    fn the_routes_rotate_on_login_and_destroy_on_logout() {
        let sessions = Mutex::new(Sessions::new(60_000, 600_000));
        let anonymous = handle(&sessions, &request("GET", "/", T0, None, ""));
        let planted = cookie_id(&anonymous);
        let body = "user=alice&password=wonderland-42";
        let login = handle(
            &sessions,
            &request("POST", "/login", T0, Some(&planted), body),
        );
        assert_eq!(login.status, 200);
        let fresh = cookie_id(&login);
        assert_ne!(fresh, planted);
        let attacker = handle(&sessions, &request("GET", "/me", T0, Some(&planted), ""));
        assert_eq!(attacker.status, 401);
        let me = handle(&sessions, &request("GET", "/me", T0, Some(&fresh), ""));
        assert_eq!(me.body, b"alice\n");
        handle(&sessions, &request("POST", "/logout", T0, Some(&fresh), ""));
        let replay = handle(&sessions, &request("GET", "/me", T0, Some(&fresh), ""));
        assert_eq!(replay.status, 401);
    }
}
