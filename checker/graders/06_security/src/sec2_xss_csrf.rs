//! Grader of `sec2_xss_csrf`: a profile page that renders hostile strings into four contexts, behind CSRF
//! defences, over HTTP.
//!
//! The grader stores a corpus of hostile strings through the form, reads the page back with a WHATWG
//! tokenizer ([`page`]) and checks that the markup is exactly the template's (no new element, no new
//! attribute), that each string decodes back to itself in its context, that links keep only allowed schemes,
//! and that the one script carries a fresh nonce named by the `Content-Security-Policy`. Then it plays the
//! attacker's site: form posts and API calls without the token, with another session's token, from a foreign
//! or look-alike `Origin` / `Referer`, with a planted double-submit cookie; each must get `403` and change
//! nothing, while the same requests done right succeed.

mod page;

use std::collections::BTreeSet;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Server};
use serde_json::json;

use page::Expected;

/// Strings that are markup, attribute breakouts or script breakouts if written unescaped.
const HOSTILE: [&str; 16] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "\" autofocus onfocus=\"alert(1)",
    "' onmouseover='alert(1)",
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    "<svg/onload=alert(1)>",
    "&lt;b&gt; is already escaped &amp; stays so",
    "\\\"; alert(1); //",
    "line\u{2028}separator\u{2029}and paragraph",
    "</title><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</script>",
    "Zoë 🚀 O'Brien & \"Sons\"",
    "javascript:alert(1)",
    "<a href=\"javascript:alert(1)\">click</a>",
    "]]><!--<![CDATA[",
];
/// Links that must be kept exactly.
const SAFE_URLS: [&str; 6] = [
    "https://example.com/u/ada",
    "http://example.org/?q=a&b=<c>",
    "/users/42?tab=\"x\"",
    "HTTPS://EXAMPLE.COM/",
    "https://x.test/\" onmouseover=\"alert(1)",
    "Http://example.net/path#frag",
];
/// Links that must become `#`.
const UNSAFE_URLS: [&str; 12] = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "\u{1}javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "javascript&colon;alert(1)",
    "//evil.example/x",
    "/\\evil.example",
    "mailto:ada@example.com",
    "",
];

/// One logged-in browser: its cookies.
#[derive(Debug, Clone)]
struct Browser {
    sid: String,
    csrf: String,
}

/// The program, its address as a browser names it, and what the grader has stored so far.
struct Site {
    server: Server,
    host: String,
    nonces: BTreeSet<String>,
}

impl Site {
    fn origin(&self) -> String {
        format!("http://{}", self.host)
    }

    fn request(&self, method: &str, target: &str) -> Request {
        let mut request = Request::new(method, target);
        request.headers[0].1 = self.host.clone();
        request
    }

    fn send(&mut self, request: &Request) -> Result<Response, Failure> {
        self.server.http(request)
    }

    fn login(&mut self, user: &str) -> Result<Browser, Failure> {
        let request = self
            .request("POST", "/login")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("user={user}"));
        let response = self.send(&request)?;
        let sid = set_cookie(&response, "sid");
        let csrf = set_cookie(&response, "csrf");
        match (response.status, sid, csrf) {
            (200, Some(sid), Some(csrf)) if !csrf.is_empty() => Ok(Browser { sid, csrf }),
            _ => Err(Failure::new(
                "POST /login answers 200 with the cookies `sid` and `csrf` (the provided login)",
            )
            .got(response.summary())),
        }
    }

    /// A form post of the profile, with the headers a browser on this site would send, then `tweak`ed.
    fn post_form(
        &mut self,
        browser: &Browser,
        fields: &[(&str, &str)],
        tweak: impl FnOnce(Request) -> Request,
    ) -> Result<Response, Failure> {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .request("POST", "/profile")
            .header(
                "Cookie",
                &format!("sid={}; csrf={}", browser.sid, browser.csrf),
            )
            .header("Content-Type", "application/x-www-form-urlencoded");
        self.send(&tweak(request).body(body))
    }

    fn save(
        &mut self,
        browser: &Browser,
        name: &str,
        bio: &str,
        website: &str,
    ) -> Result<(), Failure> {
        let origin = self.origin();
        let fields = [
            ("csrf", browser.csrf.as_str()),
            ("name", name),
            ("bio", bio),
            ("website", website),
        ];
        let response = self.post_form(browser, &fields, |r| r.header("Origin", &origin))?;
        if response.status != 303 || response.header("Location") != Some("/profile") {
            return Err(Failure::new(
                "a form post from this site (same Origin) with the session's CSRF token saves the profile and \
                 answers 303 See Other to /profile",
            )
            .expected("303 with Location: /profile")
            .got(response.summary()));
        }
        Ok(())
    }

    fn page(&mut self, browser: &Browser) -> Result<Response, Failure> {
        let request = self.request("GET", "/profile").header(
            "Cookie",
            &format!("sid={}; csrf={}", browser.sid, browser.csrf),
        );
        let response = self.send(&request)?;
        if response.status != 200 {
            return Err(
                Failure::new("GET /profile with a session answers 200 with the page")
                    .got(response.summary()),
            );
        }
        Ok(response)
    }

    fn check_page(&mut self, browser: &Browser, expected: &Expected) -> Result<(), Failure> {
        let response = self.page(browser)?;
        let csp = response
            .header("Content-Security-Policy")
            .map(str::to_string);
        page::check(&response.text(), csp.as_deref(), expected, &mut self.nonces).map_err(|f| {
            f.detail(format!(
                "stored: name {:?}, bio {:?}, website {:?}",
                expected.name, expected.bio, expected.website
            ))
        })
    }

    /// The name currently shown on `browser`'s page (to see that a refused request changed nothing).
    fn shown_name(&mut self, browser: &Browser) -> Result<String, Failure> {
        let html = self.page(browser)?.text();
        let start = html.find("<h1 id=\"name\">").map(|i| i + 14);
        let end = html.find("</h1>");
        Ok(match (start, end) {
            (Some(s), Some(e)) if s <= e => html[s..e].to_string(),
            _ => String::new(),
        })
    }
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let server = g.server()?;
    let host = server.addr().to_string();
    let mut site = Site {
        server,
        host,
        nonces: BTreeSet::new(),
    };

    g.scenario("a login gives a session cookie and a CSRF cookie");
    let alice = site.login("alice")?;
    let bob = site.login("bob")?;

    g.scenario("hostile strings render as text in every context (HTML text, attribute, script)");
    let mut hostile = HOSTILE.to_vec();
    g.rng().shuffle(&mut hostile);
    for (i, name) in hostile.iter().enumerate() {
        let bio = hostile[(i + 1) % hostile.len()];
        let website = *g.rng().pick(&SAFE_URLS);
        site.save(&alice, name, bio, website)?;
        let expected = expected(name, bio, website, &alice);
        site.check_page(&alice, &expected)?;
    }

    g.scenario("links keep http(s) URLs and site paths; every other scheme becomes `#`");
    let mut urls: Vec<&str> = SAFE_URLS.iter().chain(&UNSAFE_URLS).copied().collect();
    g.rng().shuffle(&mut urls);
    for website in urls {
        let name = *g.rng().pick(&HOSTILE);
        site.save(&alice, name, "bio", website)?;
        site.check_page(&alice, &expected(name, "bio", website, &alice))?;
    }

    g.scenario("cross-site form posts are refused with 403 and change nothing");
    let marker = format!("alice-{}", g.rng().word(6));
    site.save(&alice, &marker, "bio", "/")?;
    csrf_form_cases(&mut site, &alice, &bob, &marker)?;

    g.scenario("the JSON API needs the double-submit token of this session");
    api_cases(&mut site, &alice, &bob)
}

fn expected(name: &str, bio: &str, website: &str, browser: &Browser) -> Expected {
    Expected {
        name: name.to_string(),
        bio: bio.to_string(),
        website: website.to_string(),
        href: allowed_href(website),
        csrf_token: browser.csrf.clone(),
    }
}

/// The contract's link rule, written independently of any learner's code.
fn allowed_href(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let bytes = url.as_bytes();
    let site_path = bytes.first() == Some(&b'/') && !matches!(bytes.get(1), Some(b'/' | b'\\'));
    if lower.starts_with("http://") || lower.starts_with("https://") || site_path {
        url.to_string()
    } else {
        "#".to_string()
    }
}

/// One forged form post: what differs from a legitimate one.
struct Forgery {
    what: String,
    token: Option<String>,
    origin: Option<String>,
    referer: Option<String>,
}

fn csrf_form_cases(
    site: &mut Site,
    alice: &Browser,
    bob: &Browser,
    marker: &str,
) -> Result<(), Failure> {
    let origin = site.origin();
    let own = Some(alice.csrf.clone());
    let half = alice.csrf[..alice.csrf.len() / 2].to_string();
    let forgeries = [
        Forgery {
            what: "no csrf field".into(),
            token: None,
            origin: Some(origin.clone()),
            referer: None,
        },
        Forgery {
            what: "an empty csrf field".into(),
            token: Some(String::new()),
            origin: Some(origin.clone()),
            referer: None,
        },
        Forgery {
            what: "bob's token in alice's session".into(),
            token: Some(bob.csrf.clone()),
            origin: Some(origin.clone()),
            referer: None,
        },
        Forgery {
            what: "the first half of the token".into(),
            token: Some(half),
            origin: Some(origin.clone()),
            referer: None,
        },
        Forgery {
            what: "the token with one character more".into(),
            token: Some(format!("{}0", alice.csrf)),
            origin: Some(origin.clone()),
            referer: None,
        },
        Forgery {
            what: "the right token from Origin http://evil.example".into(),
            token: own.clone(),
            origin: Some("http://evil.example".into()),
            referer: None,
        },
        Forgery {
            what: format!("the right token from the look-alike Origin {origin}.evil.example"),
            token: own.clone(),
            origin: Some(format!("{origin}.evil.example")),
            referer: None,
        },
        Forgery {
            what: "the right token from Origin null (a sandboxed frame)".into(),
            token: own.clone(),
            origin: Some("null".into()),
            referer: None,
        },
        Forgery {
            what: "the right token, no Origin, Referer http://evil.example/page".into(),
            token: own.clone(),
            origin: None,
            referer: Some("http://evil.example/page".into()),
        },
        Forgery {
            what: format!(
                "the right token, no Origin, the look-alike Referer {origin}.evil.example/"
            ),
            token: own.clone(),
            origin: None,
            referer: Some(format!("{origin}.evil.example/")),
        },
    ];
    for forgery in forgeries {
        let name = format!("pwned-{}", forgery.what.len());
        let mut fields: Vec<(&str, &str)> =
            vec![("name", &name), ("bio", "pwned"), ("website", "/")];
        if let Some(token) = &forgery.token {
            fields.insert(0, ("csrf", token));
        }
        let response = site.post_form(alice, &fields, |mut r| {
            if let Some(o) = &forgery.origin {
                r = r.header("Origin", o);
            }
            if let Some(referer) = &forgery.referer {
                r = r.header("Referer", referer);
            }
            r
        })?;
        let shown = site.shown_name(alice)?;
        if response.status != 403 || shown != marker {
            return Err(Failure::new(
                "a state-changing form post is refused with 403 and changes nothing unless its `csrf` field is \
                 exactly the session's token AND it comes from this site: `Origin`, when sent, is exactly \
                 http://<Host>; without Origin, a `Referer`, when sent, starts with http://<Host>/",
            )
            .expected(format!("403, and the page still shows {marker:?}"))
            .got(format!("{}, and the page shows {shown:?}", response.status))
            .detail(format!("the forged post: {}", forgery.what)));
        }
    }
    let legit = [
        (
            "the right token, no Origin, Referer from this site",
            Some(format!("{origin}/profile")),
        ),
        (
            "the right token, neither Origin nor Referer (privacy settings strip them)",
            None,
        ),
    ];
    for (what, referer) in legit {
        let fields = [
            ("csrf", alice.csrf.as_str()),
            ("name", marker),
            ("bio", "bio"),
            ("website", "/"),
        ];
        let response = site.post_form(alice, &fields, |r| match &referer {
            Some(referer) => r.header("Referer", referer),
            None => r,
        })?;
        if response.status != 303 {
            return Err(Failure::new(
                "a form post with the session's token and no foreign Origin or Referer is legitimate: 303",
            )
            .got(response.summary())
            .detail(format!("the post: {what}")));
        }
    }
    Ok(())
}

fn api_cases(site: &mut Site, alice: &Browser, bob: &Browser) -> Result<(), Failure> {
    let origin = site.origin();
    let call =
        |site: &mut Site, cookie: Option<&str>, header: Option<&str>, from: &str, name: &str| {
            let mut cookies = format!("sid={}", alice.sid);
            if let Some(c) = cookie {
                cookies.push_str(&format!("; csrf={c}"));
            }
            let mut request = site
                .request("POST", "/api/profile")
                .header("Cookie", &cookies)
                .header("Origin", from)
                .header("Content-Type", "application/json");
            if let Some(h) = header {
                request = request.header("X-CSRF-Token", h);
            }
            let body = json!({"name": name, "bio": "api", "website": "/"}).to_string();
            site.send(&request.body(body))
        };
    let response = call(
        site,
        Some(&alice.csrf),
        Some(&alice.csrf),
        &origin,
        "alice-api",
    )?;
    if response.status != 200 || site.shown_name(alice)? != "alice-api" {
        return Err(Failure::new(
            "an API call from this site whose X-CSRF-Token header repeats the session's `csrf` cookie is \
             accepted: 200, and the profile is saved",
        )
        .got(response.summary()));
    }
    let planted = "attacker-chosen-token";
    let forged = [
        (
            "the csrf cookie but no X-CSRF-Token header",
            Some(alice.csrf.as_str()),
            None,
            origin.as_str(),
        ),
        (
            "neither the csrf cookie nor the header (nothing equals nothing)",
            None,
            None,
            origin.as_str(),
        ),
        (
            "a header that differs from the cookie",
            Some(alice.csrf.as_str()),
            Some(bob.csrf.as_str()),
            origin.as_str(),
        ),
        (
            "a planted cookie and a header with the same attacker-chosen value",
            Some(planted),
            Some(planted),
            origin.as_str(),
        ),
        (
            "bob's token as both cookie and header in alice's session",
            Some(bob.csrf.as_str()),
            Some(bob.csrf.as_str()),
            origin.as_str(),
        ),
        (
            "the right cookie and header from Origin http://evil.example",
            Some(alice.csrf.as_str()),
            Some(alice.csrf.as_str()),
            "http://evil.example",
        ),
    ];
    for (what, cookie, header, from) in forged {
        let response = call(site, cookie, header, from, "pwned")?;
        let shown = site.shown_name(alice)?;
        if response.status != 403 || shown != "alice-api" {
            return Err(Failure::new(
                "an API call is refused with 403 and changes nothing unless the X-CSRF-Token header and the \
                 `csrf` cookie are both present, equal, and the token issued for this session (a sibling \
                 subdomain can plant a cookie, so equality alone proves nothing), and it comes from this \
                 site's Origin",
            )
            .expected("403, and the page still shows \"alice-api\"")
            .got(format!("{}, and the page shows {shown:?}", response.status))
            .detail(format!("the forged call: {what}")));
        }
    }
    Ok(())
}

fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers_named("Set-Cookie")
        .into_iter()
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form field.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
