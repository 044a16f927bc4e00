//! Grader of `sec3_idor_ssrf`: a multi-tenant notes API (object-level authorization, mass assignment) and a
//! URL fetcher behind an SSRF guard, over HTTP.
//!
//! Notes: four callers (two of them with the same user name in different tenants) create notes, then every
//! caller tries every other caller's ids with GET, PATCH and DELETE; each must get the `404` of a missing note
//! and change nothing, and fields outside the allow-list must be ignored. Fetcher: the grader plays the
//! network (`SEC3_NET`): a public partner site, and an internal service that every other address reaches and
//! that counts requests. Loopback, private, link-local and metadata addresses in every spelling, names that
//! resolve to them, redirects to them and a DNS-rebinding name must all be refused with `403` before a single
//! byte reaches the internal service; the partner must still be reachable.

use std::collections::BTreeMap;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Server};
use serde_json::{Value, json};

use crate::fake_site::{FakeSite, Page};

/// One caller, as the gateway names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Caller {
    user: &'static str,
    tenant: &'static str,
}

const CALLERS: [Caller; 4] = [
    Caller {
        user: "alice",
        tenant: "acme",
    },
    Caller {
        user: "bob",
        tenant: "acme",
    },
    Caller {
        user: "alice",
        tenant: "globex",
    },
    Caller {
        user: "mallory",
        tenant: "acme",
    },
];

fn call(
    server: &mut Server,
    caller: &Caller,
    method: &str,
    target: &str,
    body: Option<Value>,
) -> Result<Response, Failure> {
    let mut request = Request::new(method, target)
        .header("X-User", caller.user)
        .header("X-Tenant", caller.tenant);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    server.http(&request)
}

fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let secret = g.rng().word(12);
    let internal = FakeSite::start(BTreeMap::from([
        (
            "/admin".to_string(),
            Page::ok(&format!("INTERNAL-ADMIN-{secret}")),
        ),
        (
            "/latest/meta-data/".to_string(),
            Page::ok(&format!("METADATA-CREDENTIALS-{secret}")),
        ),
    ]))?;
    let greeting = format!("hello from partner {}", g.rng().word(6));
    let inside = internal.addr().port();
    let partner = FakeSite::start(BTreeMap::from([
        ("/hello".to_string(), Page::ok(&greeting)),
        (
            "/redirect-public".to_string(),
            Page::redirect(302, "http://partner.test/hello"),
        ),
        ("/redirect-path".to_string(), Page::redirect(301, "/hello")),
        (
            "/redirect-internal".to_string(),
            Page::redirect(302, &format!("http://127.0.0.1:{inside}/admin")),
        ),
        (
            "/redirect-metadata".to_string(),
            Page::redirect(302, "http://169.254.169.254/latest/meta-data/"),
        ),
        (
            "/redirect-decimal".to_string(),
            Page::redirect(307, &format!("http://2130706433:{inside}/admin")),
        ),
        (
            "/redirect-name".to_string(),
            Page::redirect(308, "http://internal.test/admin"),
        ),
    ]))?;
    let net = json!({
        "dns": {
            "partner.test": [["203.0.113.10"]],
            "cdn.partner.test": [["2001:db8::10"]],
            "localhost": [["127.0.0.1"]],
            "internal.test": [["10.1.2.3"]],
            "metadata.google.internal": [["169.254.169.254"]],
            "mixed.test": [["203.0.113.10", "10.0.0.7"]],
            "sneaky.test": [["::ffff:169.254.169.254"]],
            "rebind.test": [["203.0.113.10"], ["127.0.0.1"]],
        },
        "routes": {"203.0.113.10": partner.addr().to_string(), "2001:db8::10": partner.addr().to_string()},
        "internal": internal.addr().to_string(),
    });
    let mut server = g.server_with(&[], &[("SEC3_NET", &net.to_string())])?;

    g.scenario(
        "each caller sees, changes and deletes only their own notes (404 for everyone else's)",
    );
    notes_scenario(g, &mut server)?;

    g.scenario("the fetcher reaches the allowed partner site, redirects included");
    let allowed = [
        "http://partner.test/hello",
        "http://203.0.113.10/hello",
        "http://[2001:db8::10]/hello",
        "http://cdn.partner.test/hello",
        "http://partner.test/redirect-public",
        "http://partner.test/redirect-path",
    ];
    for url in allowed {
        let response = call(
            &mut server,
            &CALLERS[0],
            "POST",
            "/fetch",
            Some(json!({"url": url})),
        )?;
        let expected = json!({"status": 200, "body": greeting});
        if response.status != 200 || json_of(&response) != expected {
            return Err(Failure::new(
                "a URL whose host is (or resolves to) a public address is fetched: 200 with the final \
                 response's status and body, after following its redirects",
            )
            .expected(format!("200 {expected}"))
            .got(response.summary())
            .detail(format!("the url: {url}")));
        }
    }

    g.scenario("forbidden addresses are refused in every spelling, by name, and behind redirects");
    let cases = ssrf_cases(inside);
    for (url, why) in &cases {
        let response = call(
            &mut server,
            &CALLERS[0],
            "POST",
            "/fetch",
            Some(json!({"url": url})),
        )?;
        let reached = internal.seen();
        let blocked = response.status == 403
            && json_of(&response)["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("blocked"));
        // The rebinding name is public at the first lookup: fetching from that address is right too.
        let rebinding = url.contains("rebind.test");
        if !reached.is_empty() || !(blocked || rebinding) {
            let mut failure = Failure::new(format!(
                "a server-side fetch must never reach a loopback, private, link-local or metadata address: \
                 the guard checks the address it will connect to, for the URL and for every redirect, and \
                 answers 403 {{\"error\": \"blocked: …\"}}; this case: {why}"
            ))
            .expected(if rebinding {
                "no request at the internal service (a fetch from the checked public address is fine)"
            } else {
                "403 blocked, and no request at the internal service"
            })
            .got(response.summary())
            .detail(format!("the url: {url}"));
            if !reached.is_empty() {
                failure = failure.detail(format!(
                    "the internal service received: {reached:?} (that request could have read credentials)"
                ));
            }
            return Err(failure);
        }
    }
    Ok(())
}

/// The URLs the guard must refuse, each with what makes it forbidden, ordered from the plainest trick on.
fn ssrf_cases(inside: u16) -> Vec<(String, &'static str)> {
    let spelled =
        "the decimal, octal and hex spellings of an IPv4 address are the same address (127.0.0.1)";
    let mapped = "an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address inside it";
    let named = "a host name that resolves to a forbidden address is forbidden (check the resolved addresses)";
    let redirect =
        "a redirect to a forbidden address is forbidden: every hop is checked before connecting";
    vec![
        (format!("http://127.0.0.1:{inside}/admin"), "loopback"),
        (
            format!("http://127.8.9.10:{inside}/admin"),
            "loopback is all of 127.0.0.0/8",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "the cloud metadata service (link-local)",
        ),
        ("http://10.0.0.5/admin".to_string(), "private (10.0.0.0/8)"),
        (
            "http://172.16.3.4/admin".to_string(),
            "private (172.16.0.0/12)",
        ),
        (
            "http://192.168.1.1/admin".to_string(),
            "private (192.168.0.0/16)",
        ),
        (
            format!("http://0.0.0.0:{inside}/admin"),
            "unspecified (0.0.0.0 reaches this host)",
        ),
        (format!("http://[::1]:{inside}/admin"), "IPv6 loopback"),
        (
            "http://[fd00::1]/admin".to_string(),
            "IPv6 unique local (fc00::/7)",
        ),
        (
            "http://[fe80::1]/admin".to_string(),
            "IPv6 link-local (fe80::/10)",
        ),
        (format!("http://2130706433:{inside}/admin"), spelled),
        (format!("http://0x7f000001:{inside}/admin"), spelled),
        (format!("http://0177.0.0.1:{inside}/admin"), spelled),
        (format!("http://127.1:{inside}/admin"), spelled),
        (format!("http://0x7f.0.0.1:{inside}/admin"), spelled),
        (format!("http://[::ffff:127.0.0.1]:{inside}/admin"), mapped),
        (
            "http://[::ffff:a9fe:a9fe]/latest/meta-data/".to_string(),
            mapped,
        ),
        (
            format!("http://partner.test@127.0.0.1:{inside}/admin"),
            "the host is what follows the `@`",
        ),
        (format!("http://localhost:{inside}/admin"), named),
        ("http://internal.test/admin".to_string(), named),
        (
            "http://metadata.google.internal/latest/meta-data/".to_string(),
            named,
        ),
        ("http://sneaky.test/latest/meta-data/".to_string(), named),
        (
            "http://mixed.test/admin".to_string(),
            "a name with one public and one private answer is forbidden",
        ),
        (
            "http://partner.test/redirect-internal".to_string(),
            redirect,
        ),
        (
            "http://partner.test/redirect-metadata".to_string(),
            redirect,
        ),
        ("http://partner.test/redirect-decimal".to_string(), redirect),
        ("http://partner.test/redirect-name".to_string(), redirect),
        (
            "file:///etc/passwd".to_string(),
            "only the http scheme is allowed",
        ),
        (
            format!("gopher://127.0.0.1:{inside}/_admin"),
            "only the http scheme is allowed",
        ),
        (
            "http://rebind.test/admin".to_string(),
            "DNS rebinding: the first lookup answers a public address, the next one 127.0.0.1; connect to \
             the address you checked, never resolve the name again",
        ),
    ]
}

/// A note as the grader stored it.
#[derive(Debug, Clone)]
struct Stored {
    id: u64,
    owner: Caller,
    value: Value,
}

fn notes_scenario(g: &mut Grading, server: &mut Server) -> Result<(), Failure> {
    let mut stored: Vec<Stored> = Vec::new();
    for owner in &CALLERS[..3] {
        for _ in 0..g.rng().range(1, 3) {
            let title = format!("{} {}", owner.user, g.rng().word(5));
            let body = json!({"title": title, "body": "secret plans", "owner": "mallory", "tenant": "evil",
                              "id": 999_999});
            let response = call(server, owner, "POST", "/notes", Some(body))?;
            let note = json_of(&response);
            let id = note["id"].as_u64().unwrap_or(0);
            let expected = json!({"id": id, "owner": owner.user, "tenant": owner.tenant, "title": title,
                                  "body": "secret plans"});
            if response.status != 201 || note != expected || id == 999_999 {
                return Err(Failure::new(
                    "a new note belongs to the caller (owner and tenant from the gateway's headers) and takes \
                     only `title` and `body` from the request: an allow-list, so `owner`, `tenant` and `id` \
                     sent by the client are ignored (mass assignment)",
                )
                .expected(format!("201 {expected} (with the id the server chose)"))
                .got(response.summary()));
            }
            stored.push(Stored {
                id,
                owner: owner.clone(),
                value: note,
            });
        }
    }
    let missing = stored.iter().map(|s| s.id).max().unwrap_or(0) + 1000;
    let not_found = call(
        server,
        &CALLERS[0],
        "GET",
        &format!("/notes/{missing}"),
        None,
    )?;
    let missing_answer = (not_found.status, json_of(&not_found));
    if missing_answer != (404, json!({"error": "not found"})) {
        return Err(Failure::new(
            "a note that does not exist answers 404 {\"error\": \"not found\"}",
        )
        .got(not_found.summary()));
    }

    let mut probes: Vec<(Caller, Stored, &str)> = Vec::new();
    for note in &stored {
        for caller in CALLERS.iter().filter(|c| **c != note.owner) {
            for method in ["GET", "PATCH", "DELETE"] {
                probes.push((caller.clone(), note.clone(), method));
            }
        }
    }
    g.rng().shuffle(&mut probes);
    for (caller, note, method) in probes {
        let body =
            (method == "PATCH").then(|| json!({"title": "owned by mallory", "owner": caller.user}));
        let response = call(
            server,
            &caller,
            method,
            &format!("/notes/{}", note.id),
            body,
        )?;
        let after = call(
            server,
            &note.owner,
            "GET",
            &format!("/notes/{}", note.id),
            None,
        )?;
        if (response.status, json_of(&response)) != missing_answer || json_of(&after) != note.value
        {
            let mut failure = Failure::new(
                "a note of another owner or tenant answers 404 {\"error\": \"not found\"}, exactly like a \
                 missing one (a 403 would confirm the id exists), and nothing about it changes",
            )
            .expected("404 {\"error\":\"not found\"}, and the note unchanged")
            .got(format!("{} · the owner now reads {}", response.summary(), after.summary()))
            .detail(format!(
                "{method} /notes/{} by {}@{} on a note of {}@{}",
                note.id, caller.user, caller.tenant, note.owner.user, note.owner.tenant
            ));
            if caller.user == note.owner.user {
                failure = failure.detail(
                    "the same user name in another tenant is another person: scope by owner AND tenant",
                );
            }
            return Err(failure);
        }
    }

    for caller in &CALLERS {
        let response = call(server, caller, "GET", "/notes", None)?;
        let mine: Vec<Value> = stored
            .iter()
            .filter(|s| s.owner == *caller)
            .map(|s| s.value.clone())
            .collect();
        let expected = json!({"notes": mine});
        if response.status != 200 || json_of(&response) != expected {
            return Err(Failure::new(
                "GET /notes lists exactly the caller's own notes (owner and tenant), by id",
            )
            .expected(expected.to_string())
            .got(response.summary())
            .detail(format!("the caller: {}@{}", caller.user, caller.tenant)));
        }
    }

    let own = stored[g.rng().below(stored.len() as u64) as usize].clone();
    let patch = json!({"title": "renamed", "owner": "mallory", "tenant": "evil"});
    let response = call(
        server,
        &own.owner,
        "PATCH",
        &format!("/notes/{}", own.id),
        Some(patch),
    )?;
    let mut expected = own.value.clone();
    expected["title"] = json!("renamed");
    if response.status != 200 || json_of(&response) != expected {
        return Err(Failure::new(
            "a PATCH by the owner changes only the allow-listed fields (`title`, `body`); `owner` and `tenant` \
             in the body are ignored",
        )
        .expected(format!("200 {expected}"))
        .got(response.summary()));
    }
    let deleted = call(
        server,
        &own.owner,
        "DELETE",
        &format!("/notes/{}", own.id),
        None,
    )?;
    let gone = call(
        server,
        &own.owner,
        "GET",
        &format!("/notes/{}", own.id),
        None,
    )?;
    if deleted.status != 204 || gone.status != 404 {
        return Err(Failure::new(
            "the owner's DELETE answers 204, and the note is gone (404) afterwards",
        )
        .got(format!("{} then {}", deleted.summary(), gone.summary())));
    }
    Ok(())
}
