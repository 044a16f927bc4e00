//! What the HTTP graders of this track share: one keep-alive connection to the program, the response a case
//! wants (status, a few headers, a JSON body), the comparison, and URL encoders that mix the legal spellings
//! of the same text so a router that compares raw bytes gives itself away.

use std::fmt::Write as _;
use std::time::Duration;

use backlings_grade::http::{Request, Response, printable};
use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::Value;

/// A running program and one persistent connection to it.
pub struct Http {
    pub server: Server,
    connection: Connection,
}

impl Http {
    /// Starts the program with `args` and opens a connection.
    pub fn start(g: &mut Grading, args: &[&str]) -> Result<Self, Failure> {
        let mut server = g.server_with(args, &[])?;
        let connection = server.open()?;
        Ok(Http { server, connection })
    }

    /// Sends one request on the connection and reads its response (both go to the transcript). A connection
    /// the program closed is reopened once: closing is allowed, losing the answer is not.
    pub fn send(&mut self, request: &Request) -> Result<Response, Failure> {
        match self.connection.request(request) {
            Ok(response) => Ok(response),
            Err(first) => {
                self.server.ensure_alive_after_a_moment()?;
                if !self.connection.is_closed_by_server() {
                    return Err(first);
                }
                self.connection = self.server.open()?;
                self.connection.request(request)
            }
        }
    }

    /// The connection, for raw bytes (pipelined or split requests).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

/// A real HTTP client (reqwest on a one-thread runtime) for well-formed traffic: what a polished client sends
/// and accepts must work too. Redirects are not followed, so a 308 is seen as it is.
pub struct RealClient {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl RealClient {
    /// Builds the client.
    pub fn new() -> Result<Self, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Failure::new(format!("the grader could not start its HTTP client: {e}"))
            })?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| {
                Failure::new(format!("the grader could not build its HTTP client: {e}"))
            })?;
        Ok(RealClient { runtime, client })
    }

    /// Sends `request` (its method, target, headers other than `Host` and `Content-Length`, and body) through
    /// reqwest and returns the response in the framework's shape; the exchange goes to the transcript.
    pub fn send(&self, http: &mut Http, request: &Request) -> Result<Response, Failure> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| Failure::new(format!("the grader built a bad method: {e}")))?;
        let mut builder = self
            .client
            .request(method, http.server.url(&request.target));
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let fetched = self.runtime.block_on(async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Response {
                version: "HTTP/1.1".to_string(),
                status,
                reason: String::new(),
                headers,
                body,
            })
        });
        let sent = format!("reqwest {}", request_line(request));
        match fetched {
            Ok(response) => {
                http.server.record(&sent, &response.summary());
                Ok(response)
            }
            Err(e) => {
                http.server.record(&sent, &format!("<{e}>"));
                http.server.ensure_alive()?;
                Err(Failure::new(format!(
                    "a real HTTP client got no answer to {}: {e}",
                    request_line(request)
                )))
            }
        }
    }
}

/// What a case expects back.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    /// The status code.
    pub status: u16,
    /// Headers whose value must be exactly this (`None`: must be absent).
    pub headers: Vec<(&'static str, Option<String>)>,
    /// The JSON body, after the grader's normalization; `None`: the body is not checked.
    pub body: Option<Value>,
}

impl Want {
    /// A status with nothing else checked.
    pub fn status(status: u16) -> Self {
        Want {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// This want with a header that must have `value`.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, Some(value.into())));
        self
    }

    /// This want with a header that must have `value`, or be absent when `value` is `None`.
    pub fn header_opt(mut self, name: &'static str, value: Option<String>) -> Self {
        self.headers.push((name, value));
        self
    }

    /// This want with a JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// One line: `405 · Allow: GET, POST · body {"error":"method not allowed"}`.
    pub fn describe(&self) -> String {
        let mut line = self.status.to_string();
        for (name, value) in &self.headers {
            match value {
                Some(value) => {
                    let _ = write!(line, " · {name}: {value}");
                }
                None => {
                    let _ = write!(line, " · no {name}");
                }
            }
        }
        if let Some(body) = &self.body {
            let _ = write!(line, " · body {body}");
        }
        line
    }

    /// The same line for what came back, showing the headers this want looks at.
    pub fn describe_got(&self, response: &Response, normalized: Option<&Value>) -> String {
        let mut line = response.status.to_string();
        for (name, _) in &self.headers {
            match response.header(name) {
                Some(value) => {
                    let _ = write!(line, " · {name}: {value}");
                }
                None => {
                    let _ = write!(line, " · no {name}");
                }
            }
        }
        match normalized {
            Some(body) => {
                let _ = write!(line, " · body {body}");
            }
            None if !response.body.is_empty() => {
                let _ = write!(line, " · body \"{}\"", preview(&response.body));
            }
            None => {}
        }
        line
    }

    /// Compares `response` with this want, the body after `normalize`. `Err` says what differs.
    pub fn compare(
        &self,
        response: &Response,
        normalize: impl Fn(&Value) -> Value,
    ) -> Result<(), Mismatch> {
        let body = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .map(|body| normalize(&body));
        let got = self.describe_got(response, body.as_ref());
        let mismatch = |what: String| Mismatch {
            what,
            got: got.clone(),
        };
        if response.status != self.status {
            return Err(mismatch(format!(
                "the status is {}, the contract says {}",
                response.status, self.status
            )));
        }
        for (name, value) in &self.headers {
            if response.header(name) != value.as_deref() {
                return Err(mismatch(match value {
                    Some(value) => format!("the `{name}` header must be `{value}`"),
                    None => format!("there must be no `{name}` header"),
                }));
            }
        }
        if let Some(expected) = &self.body {
            match &body {
                Some(body) if body == expected => {}
                Some(_) => return Err(mismatch("the JSON body differs".to_string())),
                None => {
                    return Err(mismatch(
                        "the body is not JSON (the provided `handle` writes JSON: was it changed?)"
                            .to_string(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How a response differs from its [`Want`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What differs, in words.
    pub what: String,
    /// What came back, in the form of [`Want::describe`].
    pub got: String,
}

/// The request line of `request`, for a failure's "sent" line.
pub fn request_line(request: &Request) -> String {
    format!("{} {}", request.method, request.target)
}

/// At most 200 printable characters of a body.
pub fn preview(body: &[u8]) -> String {
    let text = printable(body);
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Characters a path segment and a query component may carry unencoded: RFC 3986 `unreserved`.
fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

/// `%XX` for every byte of `c`, with hex digits in a seeded mix of upper and lower case.
fn escape(c: char, rng: &mut Rng) -> String {
    let mut buffer = [0u8; 4];
    let mut out = String::new();
    for byte in c.encode_utf8(&mut buffer).bytes() {
        let hex = format!("{byte:02X}");
        let hex = if rng.chance(1, 3) {
            hex.to_ascii_lowercase()
        } else {
            hex
        };
        out.push('%');
        out.push_str(&hex);
    }
    out
}

/// Encodes `text` as one path segment: unreserved characters and the sub-delimiters a path allows
/// (`+ & = : @ ! ' ( ) * , ; $`) are sent as they are or escaped at random; anything else is escaped.
pub fn encode_segment(text: &str, rng: &mut Rng) -> String {
    text.chars()
        .map(|c| {
            let may_stay = is_unreserved(c) || "+&=:@!'()*,;$".contains(c);
            if may_stay && !rng.chance(1, 6) {
                c.to_string()
            } else {
                escape(c, rng)
            }
        })
        .collect()
}

/// Encodes `text` as a query key or value: a space becomes `+` or `%20` at random, `+ & = # %` and non-ASCII
/// are escaped, other characters a query allows are sent as they are or escaped at random.
pub fn encode_query(text: &str, rng: &mut Rng) -> String {
    text.chars()
        .map(|c| {
            let may_stay = is_unreserved(c) || ":@!'()*,;$/?".contains(c);
            if c == ' ' {
                if rng.chance(1, 2) {
                    "+".to_string()
                } else {
                    escape(c, rng)
                }
            } else if may_stay && !rng.chance(1, 6) {
                c.to_string()
            } else {
                escape(c, rng)
            }
        })
        .collect()
}

/// A text of `low..=high` characters drawn from a pool that is hard on URL decoders: separators, `+`, `%`,
/// spaces, and multi-byte UTF-8.
pub fn tricky_text(rng: &mut Rng, low: u64, high: u64) -> String {
    const POOL: &[&str] = &[
        "a", "b", "z", "Q", "0", "7", "-", ".", "_", "~", " ", "+", "/", "%", "?", "#", "&", "=",
        ":", "@", "!", "'", "(", "*", ",", ";", "é", "ß", "日", "🦀",
    ];
    let len = rng.range(low, high);
    (0..len).map(|_| *rng.pick(POOL)).collect()
}
