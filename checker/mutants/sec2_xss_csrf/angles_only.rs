//! mutant: escapes &, < and > but not quotes, so a quote ends an attribute value
//! expect: attribute the template does not have

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::{Value, json};

/// The text of `text` for an HTML text node or a double-quoted attribute value.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `url` if it is safe in a link (an `http://` or `https://` URL, any case, or a path on this site starting
/// with one `/`), else `"#"`. The caller still escapes the result for the attribute.
pub fn safe_url(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let absolute = lower.starts_with("http://") || lower.starts_with("https://");
    let local = url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\");
    if absolute || local {
        url.to_string()
    } else {
        "#".to_string()
    }
}

/// `text` as a JavaScript string literal that is safe inside a `<script>` element: a JSON string whose `<`,
/// `>`, `&`, U+2028 and U+2029 (and, for good measure, `'`) are written as `\uXXXX`.
pub fn js_string(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string always serializes");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\'' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

/// A fresh nonce for one response: 16 random bytes, base64.
pub fn new_nonce() -> String {
    base64::engine::general_purpose::STANDARD.encode(random_bytes(16))
}

/// The `Content-Security-Policy` of the profile page: only scripts carrying `nonce` run.
pub fn csp_header(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Whether a state-changing request comes from this site: `Origin`, when present, is exactly `http://` + the
/// `Host` header; without `Origin`, a `Referer`, when present, starts with that origin followed by `/`.
pub fn same_origin(request: &Request) -> bool {
    let Some(host) = request.header("host") else {
        return false;
    };
    let origin = format!("http://{host}");
    match (request.header("origin"), request.header("referer")) {
        (Some(sent), _) => sent == origin,
        (None, Some(referer)) => referer.starts_with(&format!("{origin}/")),
        (None, None) => true,
    }
}

/// Whether `submitted` is the session's token, compared in constant time.
pub fn token_matches(expected: &str, submitted: Option<&str>) -> bool {
    match submitted {
        Some(submitted) => constant_time_eq(expected.as_bytes(), submitted.as_bytes()),
        None => false,
    }
}

/// Whether an API call passes the double-submit check: the `X-CSRF-Token` header and the `csrf` cookie are
/// both present and equal, and are the token this session was issued.
pub fn double_submit_ok(session_token: &str, cookie: Option<&str>, header: Option<&str>) -> bool {
    match (cookie, header) {
        (Some(cookie), Some(header)) => {
            constant_time_eq(cookie.as_bytes(), header.as_bytes())
                && constant_time_eq(cookie.as_bytes(), session_token.as_bytes())
        }
        _ => false,
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` bytes from the operating system's random source (provided: you do not need to change this).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// What a user shows on their page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub bio: String,
    pub website: String,
}

/// One logged-in session (provided: you do not need to change this).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub csrf_token: String,
    pub profile: Profile,
}

/// The profile page (provided: you do not need to change this). Every value goes through the escaper of
/// the context it lands in.
pub fn render_profile(profile: &Profile, nonce: &str, csrf_token: &str) -> String {
    let name = escape_html(&profile.name);
    let bio = escape_html(&profile.bio);
    let link = escape_html(&safe_url(&profile.website));
    let website = escape_html(&profile.website);
    let name_js = js_string(&profile.name);
    let nonce = escape_html(nonce);
    let csrf = escape_html(csrf_token);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Profile</title></head>\n<body>\n\
         <h1 id=\"name\">{name}</h1>\n\
         <p id=\"bio\" title=\"{bio}\">Bio</p>\n\
         <a id=\"website\" href=\"{link}\">Website</a>\n\
         <p id=\"greeting\"></p>\n\
         <script nonce=\"{nonce}\">const displayName = {name_js};\n\
         document.getElementById(\"greeting\").textContent = \"Hello, \" + displayName;</script>\n\
         <form method=\"post\" action=\"/profile\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <input name=\"name\" value=\"{name}\">\n\
         <input name=\"bio\" value=\"{bio}\">\n\
         <input name=\"website\" value=\"{website}\">\n\
         <button type=\"submit\">Save</button>\n</form>\n</body>\n</html>\n"
    )
}

/// The server's sessions, by `sid` cookie (provided: you do not need to change this).
#[derive(Default)]
pub struct App {
    sessions: Mutex<HashMap<String, Session>>,
}

impl App {
    /// Routes one request (provided: you do not need to change this).
    pub fn handle(&self, request: &Request) -> Response {
        match (request.method.as_str(), request.path()) {
            ("POST", "/login") => self.login(request),
            ("GET", "/profile") => self.with_session(request, |session| {
                let nonce = new_nonce();
                Response::new(200)
                    .with_header("Content-Type", "text/html; charset=utf-8")
                    .with_header("Content-Security-Policy", csp_header(&nonce))
                    .with_header("X-Content-Type-Options", "nosniff")
                    .with_body(render_profile(
                        &session.profile,
                        &nonce,
                        &session.csrf_token,
                    ))
            }),
            ("POST", "/profile") => self.with_session(request, |session| {
                let form = form_fields(&request.body);
                let submitted = form.get("csrf").map(String::as_str);
                if !same_origin(request) || !token_matches(&session.csrf_token, submitted) {
                    return Response::text(403, "cross-site request refused\n");
                }
                session.profile = profile_from(|k| form.get(k).cloned());
                Response::new(303).with_header("Location", "/profile")
            }),
            ("POST", "/api/profile") => self.with_session(request, |session| {
                let cookie = cookie(request, "csrf");
                let header = request.header("x-csrf-token");
                if !same_origin(request)
                    || !double_submit_ok(&session.csrf_token, cookie.as_deref(), header)
                {
                    return Response::text(403, "cross-site request refused\n");
                }
                let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                    return Response::text(400, "the body must be JSON\n");
                };
                session.profile = profile_from(|k| body[k].as_str().map(str::to_string));
                Response::text(200, json!({"ok": true}).to_string())
            }),
            _ => Response::text(404, "not found\n"),
        }
    }

    fn login(&self, request: &Request) -> Response {
        let form = form_fields(&request.body);
        let Some(user) = form.get("user").filter(|u| !u.is_empty()) else {
            return Response::text(400, "form field `user` is required\n");
        };
        let sid = hex(&random_bytes(16));
        let csrf_token = hex(&random_bytes(16));
        let session = Session {
            user: user.clone(),
            csrf_token: csrf_token.clone(),
            profile: Profile {
                name: user.clone(),
                ..Profile::default()
            },
        };
        lock(&self.sessions).insert(sid.clone(), session);
        Response::text(200, format!("welcome {user}\n"))
            .with_header(
                "Set-Cookie",
                format!("sid={sid}; Path=/; HttpOnly; SameSite=Lax"),
            )
            .with_header(
                "Set-Cookie",
                format!("csrf={csrf_token}; Path=/; SameSite=Strict"),
            )
    }

    fn with_session(
        &self,
        request: &Request,
        f: impl FnOnce(&mut Session) -> Response,
    ) -> Response {
        let sid = cookie(request, "sid").unwrap_or_default();
        let mut sessions = lock(&self.sessions);
        match sessions.get_mut(&sid) {
            Some(session) => f(session),
            None => Response::text(401, "log in first\n"),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn profile_from(field: impl Fn(&str) -> Option<String>) -> Profile {
    Profile {
        name: field("name").unwrap_or_default(),
        bio: field("bio").unwrap_or_default(),
        website: field("website").unwrap_or_default(),
    }
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The value of cookie `name` in the request's `Cookie` header.
fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the app (provided: you do not need to change this).
fn main() -> ExitCode {
    let app = App::default();
    match serve(move |request| app.handle(request)) {
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

    fn post(target: &str, headers: &[(&str, &str)]) -> Request {
        let mut all = vec![("Host".to_string(), "127.0.0.1:8080".to_string())];
        all.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        Request {
            method: "POST".to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: all,
            body: Vec::new(),
        }
    }

    // The five HTML-special characters become character references; everything else is kept.
    #[test]
    fn html_escaping_covers_quotes_too() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("Zoë 🚀"), "Zoë 🚀");
    }

    // Links keep http(s) URLs and site paths; every other scheme, however it is spelled, becomes `#`.
    #[test]
    fn only_http_and_site_paths_are_links() {
        for ok in [
            "https://example.com/a?b=1",
            "HTTP://EXAMPLE.COM",
            "/users/42",
        ] {
            assert_eq!(safe_url(ok), ok);
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example/",
            "",
        ] {
            assert_eq!(safe_url(bad), "#", "{bad:?}");
        }
    }

    // A script string literal decodes to the input and can never close the script element.
    #[test]
    fn js_strings_cannot_close_the_script() {
        let hostile = "</script><script>alert('x')</script>\u{2028}";
        let literal = js_string(hostile);
        assert!(
            !literal.contains('<') && !literal.contains('\''),
            "{literal}"
        );
        assert!(!literal.contains('\u{2028}'));
        let back: String = serde_json::from_str(&literal).unwrap();
        assert_eq!(back, hostile);
    }

    // Every response gets its own nonce, and the policy names it.
    #[test]
    fn nonces_are_fresh_and_in_the_policy() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert!(a.len() >= 22, "{a}");
        let policy = csp_header(&a);
        assert!(
            policy.contains(&format!("script-src 'nonce-{a}'")),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline"));
    }

    // The Origin must be exactly this site; a look-alike host that merely starts with it is foreign.
    #[test]
    fn origin_is_compared_exactly() {
        assert!(same_origin(&post(
            "/profile",
            &[("Origin", "http://127.0.0.1:8080")]
        )));
        assert!(same_origin(&post("/profile", &[])));
        for (name, value) in [
            ("Origin", "http://evil.example"),
            ("Origin", "http://127.0.0.1:8080.evil.example"),
            ("Origin", "null"),
            ("Referer", "http://127.0.0.1:8080.evil.example/x"),
        ] {
            assert!(!same_origin(&post("/profile", &[(name, value)])), "{value}");
        }
    }

    // Tokens must be present and equal; the double-submit cookie must be this session's.
    #[test]
    fn tokens_must_match_and_be_present() {
        assert!(token_matches("abc123", Some("abc123")));
        assert!(!token_matches("abc123", Some("abc12")));
        assert!(!token_matches("abc123", None));
        assert!(double_submit_ok("t0k", Some("t0k"), Some("t0k")));
        assert!(!double_submit_ok("t0k", None, None));
        assert!(!double_submit_ok("t0k", Some("evil"), Some("evil")));
        assert!(!double_submit_ok("t0k", Some("t0k"), Some("other")));
    }
}
