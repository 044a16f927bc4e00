//! mutant: scopes notes by owner name only, so alice of another tenant reads alice's notes
//! expect: another tenant is another person

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use backlings_harness::http::{Request, Response, serve};
use serde_json::{Value, json};

/// How many redirects `fetch_guarded` follows before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// The authenticated caller, from the gateway's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub tenant: String,
}

/// One stored note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: u64,
    pub owner: String,
    pub tenant: String,
    pub title: String,
    pub body: String,
}

/// Whether `caller` may see `note` (`None`: no such note). `Err(404)` for a missing note and for a note of
/// another owner or tenant alike.
pub fn authorize(note: Option<&Note>, caller: &Caller) -> Result<(), u16> {
    match note {
        Some(note) if note.owner == caller.user => Ok(()),
        _ => Err(404),
    }
}

/// Copies the client-writable fields of `body` (only `title` and `body`, when they are strings) onto `note`.
pub fn apply_fields(note: &mut Note, body: &Value) {
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        note.title = title.to_string();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        note.body = text.to_string();
    }
}

/// Whether a server-side request may go to `ip` (see the list in the header of this file).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.octets()[0] == 0
}

/// Fetches `url` for a client, checking the address of every hop before connecting to it.
pub fn fetch_guarded(url: &str, net: &Network) -> Result<Fetched, FetchError> {
    let mut url = Url::parse(url).map_err(FetchError::Blocked)?;
    for _ in 0..=MAX_REDIRECTS {
        if url.scheme != "http" {
            return Err(FetchError::Blocked(format!(
                "scheme {} is not allowed",
                url.scheme
            )));
        }
        let addresses = match &url.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => net.resolve(name),
        };
        let Some(&first) = addresses.first() else {
            return Err(FetchError::Upstream(format!(
                "{} does not resolve",
                url.host
            )));
        };
        if let Some(bad) = addresses.iter().find(|ip| is_forbidden(**ip)) {
            return Err(FetchError::Blocked(match &url.host {
                Host::Ip(_) => format!("{bad} is a forbidden address"),
                Host::Name(name) => format!("{name} resolves to {bad}, a forbidden address"),
            }));
        }
        let stream = net
            .connect(first, url.port)
            .map_err(|e| FetchError::Upstream(e.to_string()))?;
        let fetched = http_get(stream, &url).map_err(|e| FetchError::Upstream(e.to_string()))?;
        match (fetched.status, &fetched.location) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                url = url.join(location).map_err(FetchError::Blocked)?;
            }
            _ => return Ok(fetched),
        }
    }
    Err(FetchError::Upstream("too many redirects".to_string()))
}

/// Why a fetch did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The guard refused it: answered `403`.
    Blocked(String),
    /// The upstream failed: answered `502`.
    Upstream(String),
}

/// An upstream's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// A URL's host: a name to resolve, or an address (provided: you do not need to change this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(name) => write!(f, "{name}"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// An absolute URL, parsed as browsers and curl parse it (provided: you do not need to change this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: Host,
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses `scheme://[userinfo@]host[:port][/path]`. IPv4 hosts may be written in decimal, octal (`0177`),
    /// hex (`0x7f`) and with fewer than four parts (`127.1`, `2130706433`), all decoded to one [`IpAddr`];
    /// IPv6 hosts go in brackets.
    pub fn parse(text: &str) -> Result<Url, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not an absolute URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
            let ip: Ipv6Addr = ip.parse().map_err(|_| format!("bad IPv6 address {ip:?}"))?;
            (Host::Ip(IpAddr::V6(ip)), after.strip_prefix(':'))
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let host = host.to_ascii_lowercase();
            match parse_ipv4(&host) {
                Some(ip) => (Host::Ip(IpAddr::V4(ip)), port),
                None if host.is_empty() => return Err("the URL has no host".to_string()),
                None => (Host::Name(host), port),
            }
        };
        let port = match port {
            Some(port) => port.parse().map_err(|_| format!("bad port {port:?}"))?,
            None if scheme == "https" => 443,
            None => 80,
        };
        let path = path.split('#').next().unwrap_or_default();
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(Url {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Resolves a `Location` against this URL: absolute URLs replace it, `/paths` keep its host.
    pub fn join(&self, location: &str) -> Result<Url, String> {
        if location.contains("://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Ok(Url {
                path: location.to_string(),
                ..self.clone()
            })
        } else {
            Err(format!("unsupported Location {location:?}"))
        }
    }
}

/// The IPv4 address of a host written the inet_aton way, or `None` for a name.
fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        numbers.push(if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        });
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|n| *n > 255) || *last >= 1 << (8 * (5 - numbers.len())) {
        return None;
    }
    let mut value = *last;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (8 * (3 - i));
    }
    Some(Ipv4Addr::from(u32::try_from(value).ok()?))
}

/// The network as this server sees it (provided: you do not need to change this). In grading it is the
/// grader's simulation, from the `SEC3_NET` environment variable; without it, the real one.
pub struct Network {
    dns: HashMap<String, Vec<Vec<IpAddr>>>,
    lookups: Mutex<HashMap<String, usize>>,
    routes: HashMap<IpAddr, SocketAddr>,
    internal: Option<SocketAddr>,
}

impl Network {
    /// Reads `{"dns": {name: [[ip…]…]}, "routes": {ip: "127.0.0.1:port"}, "internal": "127.0.0.1:port"}`.
    pub fn from_env() -> Network {
        let config: Value = std::env::var("SEC3_NET")
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        let ip = |text: &str| text.parse::<IpAddr>().ok();
        let dns = config["dns"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, answers)| {
                let answers = answers
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|one| {
                        one.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| ip(a.as_str()?))
                            .collect()
                    })
                    .collect();
                (name.clone(), answers)
            })
            .collect();
        let routes = config["routes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(from, to)| Some((ip(from)?, to.as_str()?.parse().ok()?)))
            .collect();
        let internal = config["internal"].as_str().and_then(|a| a.parse().ok());
        Network {
            dns,
            lookups: Mutex::new(HashMap::new()),
            routes,
            internal,
        }
    }

    /// Every address `name` resolves to right now (a later lookup may answer differently).
    pub fn resolve(&self, name: &str) -> Vec<IpAddr> {
        let Some(answers) = self.dns.get(name) else {
            return std::net::ToSocketAddrs::to_socket_addrs(&(name, 0))
                .map(|addrs| addrs.map(|a| a.ip()).collect())
                .unwrap_or_default();
        };
        let mut lookups = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
        let n = lookups.entry(name.to_string()).or_insert(0);
        let answer = answers
            .get(*n)
            .or(answers.last())
            .cloned()
            .unwrap_or_default();
        *n += 1;
        answer
    }

    /// A connection to `ip:port`.
    pub fn connect(&self, ip: IpAddr, port: u16) -> std::io::Result<TcpStream> {
        let target = match (self.routes.get(&ip), self.internal) {
            (Some(route), _) => *route,
            (None, Some(internal)) => internal,
            (None, None) => SocketAddr::new(ip, port),
        };
        let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        Ok(stream)
    }

    /// A connection to `name:port`, resolving the name again as `TcpStream::connect((name, port))` does.
    pub fn connect_name(&self, name: &str, port: u16) -> std::io::Result<TcpStream> {
        let ip = self
            .resolve(name)
            .first()
            .copied()
            .ok_or(std::io::ErrorKind::NotFound)?;
        self.connect(ip, port)
    }
}

/// Sends `GET url.path` on `stream` and reads the whole answer (provided: you do not need to change this).
pub fn http_get(mut stream: TcpStream, url: &Url) -> std::io::Result<Fetched> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: sec3-fetcher\r\n\r\n",
        url.path, url.host
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.take(1 << 20).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    let location = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("location"))
        .map(|(_, value)| value.trim().to_string());
    Ok(Fetched {
        status,
        location,
        body: body.to_string(),
    })
}

/// The notes service and the fetcher (provided: you do not need to change this).
pub struct App {
    notes: Mutex<BTreeMap<u64, Note>>,
    next_id: Mutex<u64>,
    net: Network,
}

impl App {
    /// Routes one request.
    pub fn handle(&self, request: &Request) -> Response {
        let caller = match (request.header("x-user"), request.header("x-tenant")) {
            (Some(user), Some(tenant)) if !user.is_empty() && !tenant.is_empty() => Caller {
                user: user.to_string(),
                tenant: tenant.to_string(),
            },
            _ => return json_response(401, json!({"error": "missing X-User / X-Tenant"})),
        };
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["fetch"]) => match body["url"]
                .as_str()
                .map(|url| fetch_guarded(url, &self.net))
            {
                Some(Ok(f)) => json_response(200, json!({"status": f.status, "body": f.body})),
                Some(Err(FetchError::Blocked(why))) => {
                    json_response(403, json!({"error": format!("blocked: {why}")}))
                }
                Some(Err(FetchError::Upstream(why))) => json_response(502, json!({"error": why})),
                None => json_response(400, json!({"error": "body must be {\"url\": string}"})),
            },
            ("POST", ["notes"]) => {
                let mut next_id = lock(&self.next_id);
                *next_id += 1;
                let mut note = Note {
                    id: *next_id,
                    owner: caller.user.clone(),
                    tenant: caller.tenant.clone(),
                    title: String::new(),
                    body: String::new(),
                };
                apply_fields(&mut note, &body);
                lock(&self.notes).insert(note.id, note.clone());
                json_response(201, note_json(&note))
            }
            ("GET", ["notes"]) => {
                let notes = lock(&self.notes);
                let mine: Vec<Value> = notes
                    .values()
                    .filter(|n| authorize(Some(n), &caller).is_ok())
                    .map(note_json)
                    .collect();
                json_response(200, json!({ "notes": mine }))
            }
            (method, ["notes", id]) => {
                let Ok(id) = id.parse::<u64>() else {
                    return json_response(404, json!({"error": "not found"}));
                };
                let mut notes = lock(&self.notes);
                if let Err(status) = authorize(notes.get(&id), &caller) {
                    return json_response(status, json!({"error": "not found"}));
                }
                match method {
                    "GET" => json_response(200, note_json(&notes[&id])),
                    "PATCH" => {
                        let note = notes.get_mut(&id).expect("authorized above");
                        apply_fields(note, &body);
                        json_response(200, note_json(note))
                    }
                    "DELETE" => {
                        notes.remove(&id);
                        Response::new(204)
                    }
                    _ => json_response(405, json!({"error": "method not allowed"})),
                }
            }
            _ => json_response(404, json!({"error": "not found"})),
        }
    }
}

fn note_json(note: &Note) -> Value {
    json!({"id": note.id, "owner": note.owner, "tenant": note.tenant, "title": note.title, "body": note.body})
}

fn json_response(status: u16, value: Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(value.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the notes and the fetcher (provided: you do not need to change this).
fn main() -> ExitCode {
    let app = App {
        notes: Mutex::new(BTreeMap::new()),
        next_id: Mutex::new(0),
        net: Network::from_env(),
    };
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

    fn caller(user: &str, tenant: &str) -> Caller {
        Caller {
            user: user.to_string(),
            tenant: tenant.to_string(),
        }
    }

    fn note(owner: &str, tenant: &str) -> Note {
        Note {
            id: 7,
            owner: owner.to_string(),
            tenant: tenant.to_string(),
            title: "t".to_string(),
            body: "b".to_string(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    // Only the owner in the same tenant gets the note; everyone else gets the 404 of a missing note.
    #[test]
    fn notes_are_scoped_to_owner_and_tenant() {
        let n = note("alice", "acme");
        assert_eq!(authorize(Some(&n), &caller("alice", "acme")), Ok(()));
        assert_eq!(authorize(Some(&n), &caller("bob", "acme")), Err(404));
        assert_eq!(authorize(Some(&n), &caller("alice", "globex")), Err(404));
        assert_eq!(authorize(None, &caller("alice", "acme")), Err(404));
    }

    // Only title and body are bound from a request; owner, tenant and id are not the client's to set.
    #[test]
    fn only_allowed_fields_are_assigned() {
        let mut n = note("alice", "acme");
        apply_fields(
            &mut n,
            &json!({"title": "new", "owner": "mallory", "tenant": "evil", "id": 1}),
        );
        assert_eq!(
            (n.title.as_str(), n.owner.as_str(), n.tenant.as_str(), n.id),
            ("new", "alice", "acme", 7)
        );
    }

    // Loopback, private, link-local, unspecified and mapped addresses are forbidden; public ones are not.
    #[test]
    fn forbidden_addresses() {
        for bad in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad}");
        }
        for good in [
            "203.0.113.10",
            "8.8.8.8",
            "172.32.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(good)), "{good}");
        }
    }

    // Every spelling of 127.0.0.1 decodes to the same address, so the guard sees through all of them.
    #[test]
    fn numeric_hosts_decode_like_browsers() {
        for url in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://user@127.0.0.1/",
        ] {
            assert_eq!(
                Url::parse(url).unwrap().host,
                Host::Ip(ip("127.0.0.1")),
                "{url}"
            );
        }
    }

    // The fetcher refuses forbidden addresses, names that resolve to them, and other schemes, before connecting.
    #[test]
    fn the_fetcher_refuses_before_connecting() {
        let net = Network {
            dns: HashMap::from([(
                "metadata.test".to_string(),
                vec![vec![ip("169.254.169.254")]],
            )]),
            lookups: Mutex::new(HashMap::new()),
            routes: HashMap::new(),
            internal: None,
        };
        for url in [
            "http://0x7f000001:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://metadata.test/",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(fetch_guarded(url, &net), Err(FetchError::Blocked(_))),
                "{url}"
            );
        }
    }
}
