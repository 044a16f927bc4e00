//! Grader of `auth2_sessions_cookies`: server-side sessions behind a `__Host-sid` cookie, time from
//! `X-Fake-Now`.
//!
//! The grader plays a browser with a cookie jar and an attacker with a stolen or planted id: the cookie's
//! attributes are compared one by one, ids are checked for length and for the shared prefixes or suffixes a
//! counter gives away, a login must rotate the id (both an id the server issued and one it never did), logout
//! must kill the session on the server, and the idle and absolute timeouts are probed at the exact millisecond.

use std::collections::BTreeSet;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Server, ensure};

const COOKIE: &str = "__Host-sid";
const EPOCH_MS: u64 = 1_700_000_000_000;
const ACCOUNTS: [(&str, &str); 3] = [
    ("alice", "wonderland-42"),
    ("bob", "builder-1999"),
    ("carol", "christmas-carol"),
];
/// How many anonymous sessions the unpredictability scenario starts.
const MANY_IDS: usize = 40;
/// A shared prefix or suffix this long between two 128-bit random ids is a one-in-2^48 event.
const TELLTALE: usize = 12;

struct App {
    server: Server,
    idle_ms: u64,
    absolute_ms: u64,
}

impl App {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        now: u64,
        sid: Option<&str>,
        body: &str,
    ) -> Result<Response, Failure> {
        let mut request = Request::new(method, path).header("X-Fake-Now", &now.to_string());
        if let Some(sid) = sid {
            request = request.header("Cookie", &format!("lang=en; {COOKIE}={sid}"));
        }
        if method == "POST" {
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.as_bytes().to_vec());
        }
        self.server.http(&request)
    }

    fn login(&mut self, user: usize, now: u64, sid: Option<&str>) -> Result<Response, Failure> {
        let (name, password) = ACCOUNTS[user];
        self.send(
            "POST",
            "/login",
            now,
            sid,
            &format!("user={name}&password={password}"),
        )
    }

    /// `GET /me` must answer `expected` (200 with the user, or 401).
    fn me(
        &mut self,
        now: u64,
        sid: &str,
        expected: Option<&str>,
        rule: &str,
        at: String,
    ) -> Result<(), Failure> {
        let response = self.send("GET", "/me", now, Some(sid), "")?;
        let got = (response.status, response.text().trim().to_string());
        let ok = match expected {
            Some(user) => got == (200, user.to_string()),
            None => response.status == 401,
        };
        ensure(ok, || {
            Failure::new(rule)
                .expected(match expected {
                    Some(user) => format!("200 {user}"),
                    None => "401".to_string(),
                })
                .got(format!("{} {}", got.0, got.1))
                .detail(format!("GET /me with the cookie {COOKIE}={sid}, {at}"))
                .detail(format!(
                    "timeouts: idle {} ms, absolute {} ms",
                    self.idle_ms, self.absolute_ms
                ))
        })
    }

    /// The id a response's `Set-Cookie` hands out, after checking every attribute.
    fn issued_id(&self, response: &Response, context: &str) -> Result<String, Failure> {
        let cookie = response.header("Set-Cookie").ok_or_else(|| {
            Failure::new(format!("{context} sets the session cookie"))
                .expected(format!("Set-Cookie: {COOKIE}=<id>; …"))
                .got(response.summary())
        })?;
        let max_age = (self.absolute_ms / 1000).to_string();
        check_cookie(cookie, &max_age)?;
        let id = cookie.split(';').next().unwrap_or("").trim()[COOKIE.len() + 1..].to_string();
        ensure(
            id.len() >= 22
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            || {
                Failure::new(
                    "a session id is at least 22 characters of [A-Za-z0-9_-]: 128 random bits, hex or base64url, \
                     or it can be guessed",
                )
                .got(&id)
            },
        )?;
        Ok(id)
    }
}

/// Checks a `Set-Cookie` value against the contract: the name, then the attributes as a set.
fn check_cookie(cookie: &str, max_age: &str) -> Result<(), Failure> {
    let mut parts = cookie.split(';').map(str::trim);
    let pair = parts.next().unwrap_or("");
    let expected_cookie =
        format!("{COOKIE}=<id>; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}");
    let fail = |why: String| {
        Failure::new(format!(
            "the session cookie is exactly `{expected_cookie}`: {why}"
        ))
        .expected(&expected_cookie)
        .got(format!("Set-Cookie: {cookie}"))
    };
    if !pair.starts_with(&format!("{COOKIE}=")) {
        return Err(fail(format!("the cookie is named {COOKIE}")));
    }
    let attributes: Vec<(String, String)> = parts
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((name, value)) => (name.trim().to_ascii_lowercase(), value.trim().to_string()),
            None => (p.to_ascii_lowercase(), String::new()),
        })
        .collect();
    let wanted = [
        ("path", "/", "Path=/ (the __Host- prefix requires it)"),
        (
            "httponly",
            "",
            "HttpOnly keeps page scripts (and an XSS) from reading the id",
        ),
        (
            "secure",
            "",
            "Secure keeps the cookie off plain HTTP (and the __Host- prefix requires it)",
        ),
        (
            "samesite",
            "Lax",
            "SameSite=Lax keeps it off cross-site sub-requests (CSRF)",
        ),
        (
            "max-age",
            max_age,
            "Max-Age is the absolute timeout in whole seconds, rounded down",
        ),
    ];
    for (name, value, why) in wanted {
        match attributes.iter().find(|(n, _)| n == name) {
            None => return Err(fail(format!("missing {}: {why}", display_name(name)))),
            Some((_, v)) if !v.eq_ignore_ascii_case(value) => {
                return Err(fail(format!("wrong {}={v}: {why}", display_name(name))));
            }
            _ => {}
        }
    }
    let names: BTreeSet<&str> = attributes.iter().map(|(n, _)| n.as_str()).collect();
    let extra: Vec<&&str> = names
        .iter()
        .filter(|n| !wanted.iter().any(|(w, _, _)| w == *n))
        .collect();
    ensure(extra.is_empty() && names.len() == attributes.len(), || {
        fail(format!(
            "unexpected or repeated attributes {extra:?} (a Domain attribute is forbidden by __Host-)"
        ))
    })
}

fn display_name(name: &str) -> &'static str {
    match name {
        "path" => "Path",
        "httponly" => "HttpOnly",
        "secure" => "Secure",
        "samesite" => "SameSite",
        _ => "Max-Age",
    }
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let idle_ms = g.rng().range(5_000, 60_000);
    // Not a whole number of seconds: Max-Age must round down.
    let absolute_ms = idle_ms * g.rng().range(3, 6) + g.rng().range(1, 999);
    let args = [
        "--idle-ms".to_string(),
        idle_ms.to_string(),
        "--absolute-ms".to_string(),
        absolute_ms.to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = g.server_with(&args, &[])?;
    let mut app = App {
        server,
        idle_ms,
        absolute_ms,
    };
    let mut now = EPOCH_MS + g.rng().below(10_000_000_000);

    g.scenario("a visitor gets an anonymous session with a secure cookie");
    let response = app.send("GET", "/", now, None, "")?;
    ensure(
        response.status == 200 && response.text() == "hello, anonymous\n",
        || {
            Failure::new("GET / without a session answers 200 `hello, anonymous`")
                .got(response.summary())
        },
    )?;
    let anonymous = app.issued_id(&response, "GET / without a session")?;
    let again = app.send("GET", "/", now + 1, Some(&anonymous), "")?;
    ensure(
        again.status == 200 && again.text() == "hello, anonymous\n",
        || {
            Failure::new("the anonymous session is recognised on the next request")
                .got(again.summary())
        },
    )?;

    g.scenario("session ids are unpredictable");
    let mut ids = vec![anonymous.clone()];
    for _ in 0..MANY_IDS {
        now += 1;
        let response = app.send("GET", "/", now, None, "")?;
        ids.push(app.issued_id(&response, "GET / without a session")?);
    }
    check_unpredictable(&ids)?;

    g.scenario("a login rotates the session id (session fixation)");
    // The attacker gets a real anonymous id and plants it in the victim's browser.
    now += 1_000;
    let response = app.send("GET", "/", now, None, "")?;
    let planted = app.issued_id(&response, "GET / without a session")?;
    let victim = g.rng().below(3) as usize;
    let user = ACCOUNTS[victim].0;
    now += 1_000;
    let response = app.login(victim, now, Some(&planted))?;
    ensure(
        response.status == 200 && response.text() == format!("welcome, {user}\n"),
        || Failure::new("a correct login answers 200 `welcome, <user>`").got(response.summary()),
    )?;
    let fixation = |why: &str, got: String| {
        Failure::new(format!(
            "a login must issue a new session id and destroy the old session (session fixation): {why}"
        ))
        .got(got)
        .detail(format!(
            "the attacker obtained {COOKIE}={planted} from GET / and planted it in the victim's browser; the \
             victim then logged in as {user} with that cookie"
        ))
    };
    if response.header("Set-Cookie").is_none() {
        return Err(fixation(
            "the login response sets no cookie, so the old id stays",
            response.summary(),
        ));
    }
    let fresh = app.issued_id(&response, "a successful login")?;
    if fresh == planted {
        return Err(fixation(
            "the id after the login is the id from before it",
            format!("the same id {fresh}"),
        ));
    }
    let attacker = app.send("GET", "/me", now + 1, Some(&planted), "")?;
    if attacker.status != 401 {
        return Err(fixation(
            "the pre-login id must be worthless after the login",
            format!("GET /me with the planted id: {}", attacker.summary()),
        ));
    }
    app.me(
        now + 2,
        &fresh,
        Some(user),
        "the new id is logged in",
        "right after the login".to_string(),
    )?;
    // An id the server never issued must never become a session.
    let invented: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[g.rng().below(16) as usize]))
        .collect();
    now += 1_000;
    let response = app.login((victim + 1) % 3, now, Some(&invented))?;
    let issued = app.issued_id(&response, "a successful login")?;
    if issued == invented {
        return Err(fixation(
            "a session id the server never issued must not be adopted",
            format!("the login kept the client-chosen id {invented}"),
        ));
    }
    let attacker = app.send("GET", "/me", now + 1, Some(&invented), "")?;
    if attacker.status != 401 {
        return Err(fixation(
            "a session id the server never issued must not be adopted",
            format!(
                "GET /me with the invented id {invented}: {}",
                attacker.summary()
            ),
        ));
    }
    let wrong = app.send(
        "POST",
        "/login",
        now + 2,
        None,
        &format!("user={user}&password=guess"),
    )?;
    ensure(
        wrong.status == 401 && wrong.header("Set-Cookie").is_none(),
        || Failure::new("a wrong password answers 401 and starts no session").got(wrong.summary()),
    )?;

    g.scenario("logout destroys the session on the server");
    now += 1_000;
    let response = app.send("POST", "/logout", now, Some(&fresh), "")?;
    ensure(response.status == 200, || {
        Failure::new("POST /logout answers 200").got(response.summary())
    })?;
    let cleared = response.header("Set-Cookie").unwrap_or("");
    check_cookie(cleared, "0").map_err(|f| {
        f.detail("logout clears the cookie with an empty value and Max-Age=0".to_string())
    })?;
    ensure(cleared.starts_with(&format!("{COOKIE}=;")), || {
        Failure::new("logout clears the cookie: an empty value and Max-Age=0")
            .got(format!("Set-Cookie: {cleared}"))
    })?;
    app.me(
        now + 1,
        &fresh,
        None,
        "after logout the session must be destroyed on the server: clearing the cookie alone leaves a stolen copy \
         working",
        "replayed after POST /logout".to_string(),
    )?;

    g.scenario("an idle session expires at the exact millisecond, and each use extends it");
    now += 1_000;
    let t = now;
    let response = app.login(0, t, None)?;
    let id = app.issued_id(&response, "a successful login")?;
    let first = t + idle_ms - 1;
    let extends = "a session used within the idle timeout stays valid: each use extends it";
    app.me(
        first,
        &id,
        Some("alice"),
        extends,
        format!("login + {} ms (idle timeout − 1)", idle_ms - 1),
    )?;
    let second = first + idle_ms - 1;
    app.me(
        second,
        &id,
        Some("alice"),
        extends,
        format!("{} ms after the previous use", idle_ms - 1),
    )?;
    app.me(
        second + idle_ms,
        &id,
        None,
        "a session unused for the idle timeout is over, at that exact millisecond (valid while now < last use + idle)",
        format!("exactly {idle_ms} ms (the idle timeout) after the previous use"),
    )?;
    let response = app.send("GET", "/", second + idle_ms + 1, Some(&id), "")?;
    let renewed = app.issued_id(&response, "GET / with an expired session")?;
    ensure(
        renewed != id && response.text() == "hello, anonymous\n",
        || {
            Failure::new(
                "an expired id is no session: GET / starts a new anonymous one, with a new id",
            )
            .got(response.summary())
        },
    )?;

    g.scenario("the absolute timeout ends even a busy session");
    now = second + 10 * idle_ms;
    let t = now;
    let response = app.login(1, t, None)?;
    let id = app.issued_id(&response, "a successful login")?;
    let step = idle_ms / 2;
    let mut at = t + step;
    while at < t + absolute_ms - 1 {
        app.me(
            at,
            &id,
            Some("bob"),
            extends,
            format!("login + {} ms, used every {step} ms", at - t),
        )?;
        at += step;
    }
    app.me(
        t + absolute_ms - 1,
        &id,
        Some("bob"),
        extends,
        format!("login + {} ms", absolute_ms - 1),
    )?;
    app.me(
        t + absolute_ms,
        &id,
        None,
        "however busy, a session ends at its absolute timeout, at that exact millisecond (valid while now < start + \
         absolute); without it a stolen session kept busy lives forever",
        format!("login + {absolute_ms} ms (the absolute timeout), last use 1 ms before"),
    )?;
    Ok(())
}

fn check_unpredictable(ids: &[String]) -> Result<(), Failure> {
    let distinct: BTreeSet<&String> = ids.iter().collect();
    ensure(distinct.len() == ids.len(), || {
        Failure::new("session ids are unpredictable and never repeat").got(format!(
            "{} ids, {} distinct",
            ids.len(),
            distinct.len()
        ))
    })?;
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let prefix = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let suffix = a
                .bytes()
                .rev()
                .zip(b.bytes().rev())
                .take_while(|(x, y)| x == y)
                .count();
            if prefix >= TELLTALE || suffix >= TELLTALE {
                return Err(Failure::new(
                    "session ids are unpredictable: 128 bits from a CSPRNG. Two ids that share a long prefix or \
                     suffix come from a counter or a clock, and the next one can be guessed",
                )
                .got(format!("{a} and {b} share {} characters", prefix.max(suffix))));
            }
        }
    }
    Ok(())
}
