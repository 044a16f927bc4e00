//! The grader's model of the `route3_groups_versioning` service: its groups, its version resolution, its
//! store, and the v1 adapter, each rule written out once more, with a story of every decision for the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::support::Want;

/// The contract's constants.
pub const DEPRECATION: &str = "@1751328000";
pub const SUNSET: &str = "Thu, 31 Dec 2026 23:59:59 GMT";
pub const LINK: &str = "</api/v2>; rel=\"successor-version\"";
pub const TOKEN: &str = "admin-secret";

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Health,
    Index(u64, &'static str),
    List,
    Get,
    Create,
    Delete,
    Stats,
    Admins,
}

/// One route of the program's table, with the groups around it.
struct RouteDef {
    method: &'static str,
    pattern: &'static str,
    layers: &'static [&'static str],
    guarded: bool,
    v1: bool,
    action: Action,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    layers: &'static [&'static str],
    guarded: bool,
    v1: bool,
    action: Action,
) -> RouteDef {
    RouteDef {
        method,
        pattern,
        layers,
        guarded,
        v1,
        action,
    }
}

const V1: &[&str] = &["api", "v1"];
const V2: &[&str] = &["api", "v2"];
const ADMIN: &[&str] = &["api", "v2", "admin"];

const ROUTES: [RouteDef; 12] = [
    route("GET", "/health", &[], false, false, Action::Health),
    route(
        "GET",
        "/api/v1",
        V1,
        false,
        true,
        Action::Index(1, "deprecated"),
    ),
    route("GET", "/api/v1/users", V1, false, true, Action::List),
    route("POST", "/api/v1/users", V1, false, true, Action::Create),
    route("GET", "/api/v1/users/:id", V1, false, true, Action::Get),
    route(
        "GET",
        "/api/v2",
        V2,
        false,
        false,
        Action::Index(2, "current"),
    ),
    route("GET", "/api/v2/users", V2, false, false, Action::List),
    route("POST", "/api/v2/users", V2, false, false, Action::Create),
    route("GET", "/api/v2/users/:id", V2, false, false, Action::Get),
    route(
        "GET",
        "/api/v2/admin/stats",
        ADMIN,
        true,
        false,
        Action::Stats,
    ),
    route(
        "DELETE",
        "/api/v2/admin/users/:id",
        ADMIN,
        true,
        false,
        Action::Delete,
    ),
    route("GET", "/api/v2/admins", V2, false, false, Action::Admins),
];

/// A request as the grader builds it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Call {
    pub fn new(method: &str, path: &str) -> Self {
        Call {
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// One line for the report: method, path, headers, body.
    pub fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.path);
        for (name, value) in &self.headers {
            let _ = write!(line, " · {name}: {value}");
        }
        if let Some(body) = &self.body {
            let _ = write!(line, " · body {body}");
        }
        line
    }
}

/// One stored user: given, family, email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub given: String,
    pub family: String,
    pub email: String,
    /// How the user came to be, when that explains its name (created through v1).
    pub origin: Option<String>,
}

/// The service's state.
#[derive(Debug, Default)]
pub struct Model {
    users: BTreeMap<u64, User>,
    last_id: u64,
}

fn v2_json(id: u64, user: &User) -> Value {
    json!({"id": id, "name": {"given": user.given, "family": user.family}, "email": user.email})
}

fn v1_json(id: u64, user: &User) -> Value {
    let full_name = if user.family.is_empty() {
        user.given.clone()
    } else {
        format!("{} {}", user.given, user.family)
    };
    json!({"id": id, "full_name": full_name, "email": user.email})
}

/// How the version of a request was resolved.
enum Resolution {
    Outside,
    Refused(&'static str),
    Version {
        version: u64,
        by_media_type: bool,
        path: String,
    },
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn media_version(accept: &str) -> Option<u64> {
    for range in accept.split(',') {
        let media = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if let Some(digits) = media
            .strip_prefix("application/vnd.backlings.v")
            .and_then(|rest| rest.strip_suffix("+json"))
            .filter(|d| is_digits(d))
        {
            return digits.parse().ok();
        }
    }
    None
}

fn resolve(call: &Call, story: &mut String) -> Resolution {
    let Some(rest) = call.path.strip_prefix("/api/") else {
        let _ = write!(story, "the path is outside /api/: no version to resolve");
        return Resolution::Outside;
    };
    let header = match call.get("api-version") {
        None => None,
        Some(text) if is_digits(text) => Some(text.parse::<u64>().unwrap_or(u64::MAX)),
        Some(text) => {
            let _ = write!(
                story,
                "`Api-Version: {text}` is not a whole number: 400 unsupported API version"
            );
            return Resolution::Refused("unsupported API version");
        }
    };
    let media = call.get("accept").and_then(media_version);
    let first = rest.split('/').next().unwrap_or("");
    let uri = first
        .strip_prefix('v')
        .filter(|d| is_digits(d))
        .map(|d| d.parse::<u64>().unwrap_or(u64::MAX));
    let mut claims = Vec::new();
    if let Some(v) = uri {
        claims.push(format!("the URI says {v}"));
    }
    if let Some(v) = media {
        claims.push(format!("the media type says {v}"));
    }
    if let Some(v) = header {
        claims.push(format!("Api-Version says {v}"));
    }
    let values: Vec<u64> = [uri, media, header].into_iter().flatten().collect();
    if values.windows(2).any(|pair| pair[0] != pair[1]) {
        let _ = write!(
            story,
            "{}: the claims disagree, so 400 conflicting API versions",
            claims.join(", ")
        );
        return Resolution::Refused("conflicting API versions");
    }
    if let Some(version) = uri {
        let _ = write!(
            story,
            "{}: version {version} from the URI, routed as it is",
            claims.join(", ")
        );
        return Resolution::Version {
            version,
            by_media_type: false,
            path: call.path.clone(),
        };
    }
    let (version, by_media_type) = match (media, header) {
        (Some(v), _) => (v, true),
        (None, Some(v)) => (v, false),
        (None, None) => (2, false),
    };
    if claims.is_empty() {
        let _ = write!(story, "no version claimed: the default, 2");
    } else {
        let _ = write!(story, "{}: version {version}", claims.join(", "));
    }
    if version != 1 && version != 2 {
        let _ = write!(
            story,
            ", which this service does not serve: 400 unsupported API version"
        );
        return Resolution::Refused("unsupported API version");
    }
    let path = if rest.is_empty() {
        format!("/api/v{version}")
    } else {
        format!("/api/v{version}/{rest}")
    };
    let _ = write!(story, "; the path is routed as {path}");
    Resolution::Version {
        version,
        by_media_type,
        path,
    }
}

fn match_pattern(pattern: &str, path: &str) -> Option<Option<String>> {
    let patterns: Vec<&str> = pattern.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    if patterns.len() != segments.len() {
        return None;
    }
    let mut id = None;
    for (pattern, segment) in patterns.iter().zip(&segments) {
        if pattern.starts_with(':') {
            if segment.is_empty() {
                return None;
            }
            id = Some(segment.to_string());
        } else if pattern != segment {
            return None;
        }
    }
    Some(id)
}

/// What the contract says about one call.
pub struct Expected {
    pub want: Want,
    pub story: String,
}

/// The headers every expectation pins, present or absent.
struct Headers {
    content_type: Option<String>,
    api_version: Option<String>,
    chain: Option<String>,
    seen_by: Option<String>,
    deprecated: bool,
    location: Option<String>,
    authenticate: Option<String>,
}

impl Model {
    /// The number of users stored.
    pub fn count(&self) -> usize {
        self.users.len()
    }

    /// The ids of the stored users.
    pub fn ids(&self) -> Vec<u64> {
        self.users.keys().copied().collect()
    }

    /// The id the next created user gets.
    pub fn next_id(&self) -> u64 {
        self.last_id + 1
    }

    /// Applies `call` to the model and says what the program must answer.
    pub fn apply(&mut self, call: &Call) -> Expected {
        let mut story = String::new();
        let resolution = resolve(call, &mut story);
        let (path, version) = match resolution {
            Resolution::Refused(error) => {
                let want = Want::status(400)
                    .header("Content-Type", "application/json")
                    .header_opt("Api-Version", None)
                    .header_opt("X-Chain", None)
                    .header_opt("Deprecation", None)
                    .json(json!({"error": error}));
                return Expected { want, story };
            }
            Resolution::Outside => (call.path.clone(), None),
            Resolution::Version {
                version,
                by_media_type,
                path,
            } => (path, Some((version, by_media_type))),
        };
        let matched = ROUTES.iter().find_map(|route| {
            if route.method != call.method {
                return None;
            }
            match_pattern(route.pattern, &path).map(|id| (route, id))
        });
        let (status, body, mut headers) = match matched {
            None => {
                let _ = write!(story, "; no route matches {} {path}: 404", call.method);
                (
                    404,
                    Some(json!({"error": "not found"})),
                    Headers {
                        content_type: Some("application/json".to_string()),
                        api_version: None,
                        chain: None,
                        seen_by: None,
                        deprecated: false,
                        location: None,
                        authenticate: None,
                    },
                )
            }
            Some((route, id)) => self.run(route, id, call, &mut story),
        };
        if let Some((version, by_media_type)) = version
            && (version == 1 || version == 2)
        {
            headers.api_version = Some(version.to_string());
            if by_media_type && headers.content_type.as_deref() == Some("application/json") {
                headers.content_type = Some(format!("application/vnd.backlings.v{version}+json"));
                let _ = write!(
                    story,
                    "; the version came from the media type, so the response is {}",
                    headers.content_type.as_deref().unwrap_or("")
                );
            }
        }
        let deprecation = |value: &str| headers.deprecated.then(|| value.to_string());
        let mut want = Want::status(status)
            .header_opt("Content-Type", headers.content_type.clone())
            .header_opt("Api-Version", headers.api_version.clone())
            .header_opt("X-Chain", headers.chain.clone())
            .header_opt("X-Seen-By", headers.seen_by.clone())
            .header_opt("Deprecation", deprecation(DEPRECATION))
            .header_opt("Sunset", deprecation(SUNSET))
            .header_opt("Link", deprecation(LINK));
        if headers.location.is_some() {
            want = want.header_opt("Location", headers.location.take());
        }
        if headers.authenticate.is_some() {
            want = want.header_opt("WWW-Authenticate", headers.authenticate.take());
        }
        if let Some(body) = body {
            want = want.json(body);
        }
        Expected { want, story }
    }

    fn run(
        &mut self,
        route: &RouteDef,
        id: Option<String>,
        call: &Call,
        story: &mut String,
    ) -> (u16, Option<Value>, Headers) {
        let _ = write!(
            story,
            "; {} {} answers, inside the layers [{}]",
            route.method,
            route.pattern,
            route.layers.join(", ")
        );
        let seen_by = (!route.layers.is_empty()).then(|| {
            let mut reversed = route.layers.to_vec();
            reversed.reverse();
            reversed.join(",")
        });
        let mut headers = Headers {
            content_type: Some("application/json".to_string()),
            api_version: None,
            chain: (!route.layers.is_empty()).then(|| route.layers.join(",")),
            seen_by,
            deprecated: route.v1,
            location: None,
            authenticate: None,
        };
        if route.guarded {
            let authorized = call
                .get("authorization")
                .and_then(|value| value.split_once(' '))
                .is_some_and(|(scheme, token)| {
                    scheme.eq_ignore_ascii_case("bearer") && token == TOKEN
                });
            if !authorized {
                let _ = write!(
                    story,
                    "; the admin guard refuses it (no `Authorization: Bearer {TOKEN}`): 401, and the handler never runs"
                );
                headers.chain = None;
                headers.authenticate = Some("Bearer realm=\"admin\"".to_string());
                return (401, Some(json!({"error": "unauthorized"})), headers);
            }
        }
        let id = id.and_then(|id| id.parse::<u64>().ok());
        let missing = json!({"error": "no such user"});
        let (status, body) = match route.action {
            Action::Health => (200, json!({"status": "ok"})),
            Action::Index(version, status) => (200, json!({"version": version, "status": status})),
            Action::Admins => (200, json!({"admins": ["ops@backlings.dev"]})),
            Action::Stats => (200, json!({"users": self.users.len()})),
            Action::List => {
                let users: Vec<Value> = self
                    .users
                    .iter()
                    .map(|(id, u)| {
                        if route.v1 {
                            v1_json(*id, u)
                        } else {
                            v2_json(*id, u)
                        }
                    })
                    .collect();
                (200, Value::Array(users))
            }
            Action::Get => match id.and_then(|id| self.users.get(&id).map(|u| (id, u))) {
                Some((id, user)) => {
                    if let Some(origin) = &user.origin {
                        let _ = write!(story, "; user {id} was {origin}");
                    }
                    (
                        200,
                        if route.v1 {
                            v1_json(id, user)
                        } else {
                            v2_json(id, user)
                        },
                    )
                }
                None => (404, missing),
            },
            Action::Delete => match id.and_then(|id| self.users.remove(&id)) {
                Some(_) => {
                    headers.content_type = None;
                    return (204, None, headers);
                }
                None => (404, missing),
            },
            Action::Create => match self.create(route.v1, call.body.as_ref(), story) {
                Some((id, user)) => {
                    let version = if route.v1 { 1 } else { 2 };
                    headers.location = Some(format!("/api/v{version}/users/{id}"));
                    (
                        201,
                        if route.v1 {
                            v1_json(id, &user)
                        } else {
                            v2_json(id, &user)
                        },
                    )
                }
                None => (400, json!({"error": "invalid user"})),
            },
        };
        if route.v1 {
            let _ = write!(
                story,
                "; a v1 route: served through the adapter, with Deprecation, Sunset and Link"
            );
        }
        (status, Some(body), headers)
    }

    fn create(
        &mut self,
        v1: bool,
        body: Option<&Value>,
        story: &mut String,
    ) -> Option<(u64, User)> {
        let body = body.cloned().unwrap_or(Value::Null);
        let mut origin = None;
        let v2_body = if v1 {
            let full_name = body.get("full_name").and_then(Value::as_str)?;
            let (given, family) = full_name.split_once(' ').unwrap_or((full_name, ""));
            origin = Some(format!(
                "created through v1 with full_name {full_name:?}: given {given:?}, family {family:?}"
            ));
            let _ = write!(
                story,
                "; the adapter splits `{full_name}` at its first space: given {given:?}, family {family:?}"
            );
            json!({"name": {"given": given, "family": family}, "email": body.get("email")})
        } else {
            body
        };
        let given = v2_body["name"]["given"]
            .as_str()
            .filter(|g| !g.is_empty())?;
        let family = v2_body["name"]["family"].as_str()?;
        let email = v2_body["email"].as_str().filter(|e| e.contains('@'))?;
        self.last_id += 1;
        let user = User {
            given: given.to_string(),
            family: family.to_string(),
            email: email.to_string(),
            origin,
        };
        self.users.insert(self.last_id, user.clone());
        Some((self.last_id, user))
    }
}
