//! Grader of `route3_groups_versioning`: route groups with nested prefixes and middleware, an admin guard, API
//! versions chosen by URI, header or vendor media type, and a deprecated v1 served through an adapter.
//!
//! Every call is applied to the grader's model of the service ([`model`]) and the whole answer is compared:
//! status, JSON body, and the headers that tell the story (`X-Chain` and `X-Seen-By` show which group layers ran
//! and in what order, `Api-Version` and the vendor `Content-Type` show which version answered, `Deprecation`,
//! `Sunset` and `Link` must be on every v1 response and on no other, `Location` must point into the version
//! that was asked). The store is shared by both versions, so data written through one must read back through
//! the other; a refused admin `DELETE` must delete nothing.

mod model;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Failure, Grading, Rng};
use serde_json::{Value, json};

use crate::support::{Http, RealClient, Want};
use model::{Call, Model, TOKEN};

/// The running program, the model of its state, and the last few calls (for the report).
struct Session {
    http: Http,
    model: Model,
    /// When set, calls go through a real HTTP client instead of raw requests.
    client: Option<RealClient>,
}

impl Session {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        Ok(Session {
            http: Http::start(g, &[])?,
            model: Model::default(),
            client: None,
        })
    }

    /// Sends `call`, applies it to the model, and compares. Returns the program's JSON body (or null).
    fn call(&mut self, call: &Call, rule: &str) -> Result<Value, Failure> {
        let mut request = Request::new(&call.method, &call.path);
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &call.body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = match &self.client {
            Some(client) => client.send(&mut self.http, &request)?,
            None => self.http.send(&request)?,
        };
        let expected = self.model.apply(call);
        expected
            .want
            .compare(&response, Clone::clone)
            .map_err(|mismatch| {
                let rule = layers_rule(&expected.want, &response, &call.path)
                    .unwrap_or_else(|| rule.to_string());
                Failure::new(rule)
                    .expected(expected.want.describe())
                    .got(mismatch.got)
                    .detail(format!("sent: {}", call.describe()))
                    .detail(format!("what differs: {}", mismatch.what))
                    .detail(format!("the contract, step by step: {}", expected.story))
            })?;
        Ok(serde_json::from_slice(&response.body).unwrap_or(Value::Null))
    }
}

/// When the group layers differ (`X-Chain` on the way in, `X-Seen-By` on the way out), the rule they break.
fn layers_rule(want: &Want, response: &Response, path: &str) -> Option<String> {
    // Only when the right route answered: otherwise the layers differ because the routing does.
    let body = serde_json::from_slice::<Value>(&response.body).ok();
    if response.status != want.status
        || want.body.as_ref().is_some_and(|b| Some(b) != body.as_ref())
    {
        return None;
    }
    for name in ["X-Chain", "X-Seen-By"] {
        let expected = want
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.clone());
        let got = response.header(name).map(str::to_string);
        if got == expected {
            continue;
        }
        let split = |value: &Option<String>| -> Vec<String> {
            value
                .as_deref()
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default()
        };
        let (want_layers, got_layers) = (split(&expected), split(&got));
        if let Some(extra) = got_layers.iter().find(|l| !want_layers.contains(l)) {
            return Some(format!(
                "a group's middleware applies only to the routes registered inside it: the `{extra}` layer ran, \
                 but {path} is not inside that group"
            ));
        }
        if want_layers.len() == got_layers.len() && !want_layers.is_empty() {
            return Some(format!(
                "the outer group's middleware runs first: the request goes in through {} and the response \
                 comes back out in the opposite order ({name} shows it)",
                split(
                    &want
                        .headers
                        .iter()
                        .find(|(n, _)| *n == "X-Chain")
                        .and_then(|(_, v)| v.clone())
                )
                .join(" then ")
            ));
        }
        if name == "X-Chain" && got.is_some() && expected.is_none() {
            return None;
        }
        return Some(format!(
            "a route gets the middleware of every group around it, the parent's first ({name} must be {})",
            expected.as_deref().unwrap_or("absent")
        ));
    }
    None
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut s = Session::start(g)?;
    g.scenario(
        "a group's prefix and middleware apply to its routes only, the outermost layer first",
    );
    groups(&mut s)?;
    g.scenario("the admin guard: a refused request never reaches the handler");
    guard(&mut s, g.rng())?;
    g.scenario(
        "each versioning style resolves: URI, Api-Version header, vendor media type, default",
    );
    styles(&mut s, g.rng())?;
    g.scenario("conflicting claims and unsupported versions are refused with 400");
    refusals(&mut s)?;
    g.scenario("v1 is served through the adapter: same store, old shape, Deprecation and Sunset");
    adapter(&mut s, g.rng())?;
    g.scenario("seeded traffic across both versions and every style, against the model");
    seeded(&mut s, g.rng())?;
    g.scenario("a real HTTP client (reqwest) gets the same answers");
    s.client = Some(RealClient::new()?);
    real_client(&mut s, g.rng())?;
    s.http.server.ensure_alive()
}

fn groups(s: &mut Session) -> Result<(), Failure> {
    let layers = "the outer group's middleware runs first: a route in /api/v2 sees `X-Chain: api,v2`, and its \
                  response passes back out through v2 then api (`X-Seen-By: v2,api`)";
    let only_inside = "a group's middleware applies only to the routes registered inside it: /api/v2/admins is \
                       registered after the admin group closed, so no guard and no admin layer";
    let outside = "a route outside every group gets no group middleware at all";
    let own_path = "a route `/` inside a group is the group's own path: GET /api/v2 (not /api/v2/)";
    let bearer = format!("Bearer {TOKEN}");
    s.call(&Call::new("GET", "/health"), outside)?;
    s.call(&Call::new("GET", "/api/v2"), own_path)?;
    s.call(&Call::new("GET", "/api/v2/users"), layers)?;
    s.call(&Call::new("GET", "/api/v2/admins"), only_inside)?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats").header("Authorization", &bearer),
        "a nested group adds its prefix and its middleware after its parent's: `X-Chain: api,v2,admin`",
    )?;
    s.call(
        &Call::new("GET", "/api/v1"),
        "a route `/` inside a group is the group's own path, and the v1 group's middleware marks it deprecated",
    )?;
    s.call(
        &Call::new("GET", "/api/v2/"),
        "a trailing slash is another path: no route, 404",
    )?;
    s.call(
        &Call::new("GET", "/api/v2/admin"),
        "the admin group has no route of its own: 404",
    )?;
    Ok(())
}

fn guard(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let refuse = "the admin guard answers 401 with `WWW-Authenticate: Bearer realm=\"admin\"` unless the request \
                  has `Authorization: Bearer admin-secret`; the layers outside it still see the response";
    let bearer = format!("Bearer {TOKEN}");
    s.call(&Call::new("GET", "/api/v2/admin/stats"), refuse)?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats").header("Authorization", "Bearer admin-secrets"),
        refuse,
    )?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats").header("Authorization", "Basic YWRtaW46YWRtaW4="),
        refuse,
    )?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats")
            .header("Authorization", &format!("bearer {TOKEN}")),
        "the scheme of `Authorization` is case-insensitive: `bearer admin-secret` passes",
    )?;
    let email = format!("{}@example.com", rng.word(6));
    let created = s.call(
        &Call::new("POST", "/api/v2/users")
            .body(json!({"name": {"given": "Grace", "family": "Hopper"}, "email": email})),
        "POST /api/v2/users creates a user: 201 with Location",
    )?;
    let id = created["id"].as_u64().unwrap_or(0);
    let never = "a refused request never reaches the handler: a 401 DELETE deletes nothing";
    s.call(
        &Call::new("DELETE", &format!("/api/v2/admin/users/{id}")),
        never,
    )?;
    s.call(&Call::new("GET", &format!("/api/v2/users/{id}")), never)?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats").header("Authorization", &bearer),
        never,
    )?;
    let allowed = "an authorized DELETE runs its handler: 204, then the user is gone";
    s.call(
        &Call::new("DELETE", &format!("/api/v2/admin/users/{id}")).header("Authorization", &bearer),
        allowed,
    )?;
    s.call(&Call::new("GET", &format!("/api/v2/users/{id}")), allowed)?;
    s.call(
        &Call::new("DELETE", &format!("/api/v2/admin/users/{id}")).header("Authorization", &bearer),
        allowed,
    )?;
    Ok(())
}

/// Creates a user through v2 and returns its id.
fn create_v2(s: &mut Session, rng: &mut Rng) -> Result<u64, Failure> {
    let given = capitalized(&rng.word(5));
    let family = if rng.chance(1, 4) {
        String::new()
    } else {
        capitalized(&rng.word(7))
    };
    let email = format!("{}@{}.org", rng.word(5), rng.word(4));
    let body = s.call(
        &Call::new("POST", "/api/v2/users")
            .body(json!({"name": {"given": given, "family": family}, "email": email})),
        "POST /api/v2/users creates a user: 201 with its Location",
    )?;
    Ok(body["id"].as_u64().unwrap_or(0))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn styles(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let id = create_v2(s, rng)?;
    let user = format!("/api/users/{id}");
    let by_uri = "the URI names the version: /api/v1/… is v1 (through the adapter, deprecated), /api/v2/… is v2";
    let by_header = "without a version in the URI, `Api-Version: N` chooses it; the response says `Api-Version: N`";
    let by_media = "without a version in the URI, `Accept: application/vnd.backlings.vN+json` chooses it, and the \
                    response has that Content-Type";
    let list = "`Accept` is a comma-separated list of media ranges with parameters: the first vendor range \
                counts, wherever it is in the list";
    let case =
        "media types are compared case-insensitively: `Application/VND.Backlings.V1+JSON` is v1";
    let default = "a request that claims no version gets the default, v2";
    s.call(&Call::new("GET", &format!("/api/v1/users/{id}")), by_uri)?;
    s.call(&Call::new("GET", &format!("/api/v2/users/{id}")), by_uri)?;
    s.call(
        &Call::new("GET", &user).header("Api-Version", "1"),
        by_header,
    )?;
    s.call(
        &Call::new("GET", &user).header("Api-Version", "2"),
        by_header,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "1"),
        by_header,
    )?;
    s.call(
        &Call::new("GET", &user).header("Accept", "application/vnd.backlings.v1+json"),
        by_media,
    )?;
    s.call(
        &Call::new("GET", &user).header("Accept", "application/vnd.backlings.v2+json"),
        by_media,
    )?;
    s.call(
        &Call::new("GET", &user).header(
            "Accept",
            "text/html, application/vnd.backlings.v1+json; q=0.9, */*; q=0.1",
        ),
        list,
    )?;
    s.call(
        &Call::new("GET", &user).header("Accept", "Application/VND.Backlings.V1+JSON"),
        case,
    )?;
    s.call(
        &Call::new("GET", &user)
            .header("Accept", "application/vnd.backlings.v1+json")
            .header("Api-Version", "1"),
        "a media type and a header that agree are fine; the media type is the source",
    )?;
    s.call(
        &Call::new("GET", &format!("/api/v1/users/{id}")).header("Api-Version", "1"),
        "a URI and a header that agree are fine",
    )?;
    s.call(&Call::new("GET", &user), default)?;
    s.call(&Call::new("GET", "/api/"), default)?;
    s.call(
        &Call::new("GET", &user).header("Accept", "application/vnd.backlings.vx+json"),
        "a vendor range without a version number claims nothing: the default, v2",
    )?;
    s.call(
        &Call::new("GET", "/api/").header("Api-Version", "1"),
        by_header,
    )?;
    Ok(())
}

fn refusals(s: &mut Session) -> Result<(), Failure> {
    let conflict = "claims that name different versions are refused with 400 conflicting API versions: never \
                    serve a version the client did not ask for";
    let unsupported = "a version this service does not serve, asked for by header or media type, is 400 \
                       unsupported API version";
    let malformed =
        "an Api-Version that is not a whole number is refused with 400 unsupported API version";
    s.call(
        &Call::new("GET", "/api/v2/users").header("Api-Version", "1"),
        conflict,
    )?;
    s.call(
        &Call::new("GET", "/api/v1/users").header("Accept", "application/vnd.backlings.v2+json"),
        conflict,
    )?;
    s.call(
        &Call::new("GET", "/api/users")
            .header("Accept", "application/vnd.backlings.v1+json")
            .header("Api-Version", "2"),
        conflict,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "3"),
        unsupported,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Accept", "application/vnd.backlings.v3+json"),
        unsupported,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "two"),
        malformed,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "2.0"),
        malformed,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "-1"),
        malformed,
    )?;
    s.call(
        &Call::new("GET", "/api/v3/users"),
        "a version in the URI is routed as it is: /api/v3/… has no route, 404",
    )?;
    s.call(
        &Call::new("GET", "/health").header("Api-Version", "banana"),
        "only paths under /api/ have a version: /health ignores Api-Version",
    )?;
    Ok(())
}

/// A full name of one to three words.
fn full_name(rng: &mut Rng) -> String {
    let words = rng.range(1, 3);
    (0..words)
        .map(|_| {
            let len = rng.range(2, 7) as usize;
            capitalized(&rng.word(len))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn adapter(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let split = "v1's full_name becomes v2's name: the given name is the text before the first space, the \
                 family name everything after it";
    let created = "a v1 POST is a v2 POST through the adapter: 201, the v1 shape, and a Location moved under /api/v1/";
    let errors = "errors pass through the adapter unchanged (only 2xx users are converted), and still carry \
                  Deprecation and Sunset";
    for name in [
        "Jean Luc Picard".to_string(),
        "Cher".to_string(),
        full_name(rng),
    ] {
        let email = format!("{}@example.org", rng.word(6));
        let id = s.model.next_id();
        s.call(
            &Call::new("POST", "/api/v1/users").body(json!({"full_name": name, "email": email})),
            created,
        )?;
        s.call(&Call::new("GET", &format!("/api/v2/users/{id}")), split)?;
        s.call(&Call::new("GET", &format!("/api/v1/users/{id}")), split)?;
    }
    let id = create_v2(s, rng)?;
    s.call(
        &Call::new("GET", &format!("/api/users/{id}")).header("Api-Version", "1"),
        "a v2 user read through v1: full_name is the given and family names joined by one space",
    )?;
    s.call(
        &Call::new("GET", "/api/v1/users"),
        "the v1 list is the v2 list, every user in the v1 shape",
    )?;
    let missing = s.model.next_id() + 100;
    s.call(
        &Call::new("GET", &format!("/api/v1/users/{missing}")),
        errors,
    )?;
    s.call(
        &Call::new("POST", "/api/v1/users").body(
            json!({"name": {"given": "Ada", "family": "Lovelace"}, "email": "ada@example.org"}),
        ),
        errors,
    )?;
    s.call(
        &Call::new("POST", "/api/v1/users")
            .body(json!({"full_name": "Ada Lovelace", "email": "nowhere"})),
        errors,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Accept", "application/vnd.backlings.v1+json"),
        "v1 chosen by media type: the adapter's answer, with the vendor Content-Type and Deprecation",
    )?;
    Ok(())
}

fn real_client(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let rule = "a real HTTP client gets the same answers as raw requests";
    let id = s.model.next_id();
    let name = full_name(rng);
    s.call(
        &Call::new("POST", "/api/v1/users")
            .body(json!({"full_name": name, "email": format!("{}@example.org", rng.word(5))})),
        rule,
    )?;
    s.call(
        &Call::new("GET", &format!("/api/users/{id}"))
            .header("Accept", "application/vnd.backlings.v2+json"),
        rule,
    )?;
    s.call(
        &Call::new("GET", "/api/users").header("Api-Version", "1"),
        rule,
    )?;
    s.call(
        &Call::new("GET", "/api/v2/admin/stats")
            .header("Authorization", &format!("Bearer {TOKEN}")),
        rule,
    )?;
    s.call(&Call::new("GET", "/api/v2/admin/stats"), rule)?;
    Ok(())
}

fn seeded(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let rule =
        "a seeded call is answered exactly as the contract says (the report shows each step)";
    for _ in 0..60 {
        let version = rng.range(1, 2);
        let id = if s.model.count() > 0 && rng.chance(4, 5) {
            *rng.pick(&s.model.ids())
        } else {
            rng.range(1, s.model.next_id() + 3)
        };
        let (method, rest, body) = match rng.below(10) {
            0..=2 => {
                let body = if version == 1 {
                    json!({"full_name": full_name(rng), "email": format!("{}@x.io", rng.word(4))})
                } else {
                    json!({"name": {"given": capitalized(&rng.word(4)), "family": capitalized(&rng.word(5))},
                           "email": format!("{}@x.io", rng.word(4))})
                };
                ("POST", "users".to_string(), Some(body))
            }
            3..=6 => ("GET", format!("users/{id}"), None),
            7 => ("GET", "users".to_string(), None),
            _ => ("DELETE", format!("admin/users/{id}"), None),
        };
        let version = if method == "DELETE" { 2 } else { version };
        let mut call = match rng.below(3) {
            0 => Call::new(method, &format!("/api/v{version}/{rest}")),
            1 => Call::new(method, &format!("/api/{rest}"))
                .header("Api-Version", &version.to_string()),
            _ => Call::new(method, &format!("/api/{rest}")).header(
                "Accept",
                &format!("application/vnd.backlings.v{version}+json"),
            ),
        };
        if method == "DELETE" && rng.chance(3, 4) {
            call = call.header("Authorization", &format!("Bearer {TOKEN}"));
        }
        if let Some(body) = body {
            call = call.body(body);
        }
        s.call(&call, rule)?;
    }
    Ok(())
}
