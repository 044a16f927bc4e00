//! Raw HTTP/1.1 exchanges with servers that answer one request per connection and then close, checked
//! strictly: the exact status line, CRLF line endings, a `Content-Length` that matches the body byte for byte,
//! `Connection: close`, and the close itself. Shared by the track's graders; general enough to move into
//! `backlings_grade::http` later.

use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use backlings_grade::http::{self, Response};
use backlings_grade::{Failure, Server};

/// The most bytes read back on one connection; more means the server is flooding.
const REPLY_CAP: usize = 4 << 20;

/// How the server ended its side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// An orderly close (FIN).
    Closed,
    /// A reset: the server closed while our bytes were still unread. What arrived before it still counts.
    Reset,
    /// Nothing more came and the connection stayed open until our time limit.
    Silent,
    /// More than [`REPLY_CAP`] bytes came back.
    Flood,
}

/// Everything that came back on one connection.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The bytes, exactly as received.
    pub raw: Vec<u8>,
    /// How the connection ended.
    pub end: End,
    /// The time limit the reply was read under.
    pub limit: Duration,
}

impl Reply {
    /// Parses the reply as one HTTP/1.1 response framed by `Content-Length`, strictly: every head line ends in
    /// CRLF, exactly one `Content-Length` is present, and exactly that many bytes follow the head.
    pub fn parse(&self) -> Result<Response, String> {
        let raw = &self.raw;
        let Some(head_len) = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
            return Err(
                "the head never ends: no empty line (\\r\\n\\r\\n) after the headers".to_string(),
            );
        };
        let head = &raw[..head_len];
        if head
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
        {
            return Err(
                "a line of the head ends in a bare \\n: HTTP lines end in \\r\\n".to_string(),
            );
        }
        let mut reader = head;
        let mut response =
            http::read_response_from(&mut reader, true).map_err(|e| e.to_string())?;
        let lengths = response.headers_named("content-length");
        let length = match lengths.as_slice() {
            [] => {
                return Err("there is no Content-Length header: without it the client cannot tell where the \
                            body ends"
                    .to_string());
            }
            [one] => one
                .parse::<usize>()
                .map_err(|_| format!("Content-Length is not a number: {one:?}"))?,
            _ => {
                return Err(format!(
                    "there are {} Content-Length headers; send exactly one",
                    lengths.len()
                ));
            }
        };
        let body = &raw[head_len..];
        if body.len() != length {
            let after = match self.end {
                End::Silent => "before the reply went quiet",
                _ => "before the connection closed",
            };
            return Err(format!(
                "Content-Length says {length} bytes but {} bytes followed the head {after} (Content-Length counts \
                 bytes, not characters)",
                body.len()
            ));
        }
        response.body = body.to_vec();
        Ok(response)
    }

    /// One line for the transcript.
    pub fn summary(&self) -> String {
        let mut line = match self.parse() {
            Ok(response) => summarize(&response),
            Err(_) if self.raw.is_empty() => "(no bytes)".to_string(),
            Err(_) => format!("raw \"{}\"", preview(&self.raw)),
        };
        let _ = match self.end {
            End::Closed => write!(line, " · then closed"),
            End::Reset => write!(line, " · then reset"),
            End::Silent => write!(line, " · then silence for {} s", self.limit.as_secs()),
            End::Flood => write!(line, " · more than {} MiB, cut", REPLY_CAP >> 20),
        };
        line
    }
}

/// The reason phrase of each status code the track's servers send.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// What a reply must be. Unset fields are not checked.
#[derive(Debug, Clone, Default)]
pub struct Want {
    /// The status code; the whole status line must be `HTTP/1.1 <code> <reason>`.
    pub status: u16,
    /// The exact `Content-Type`.
    pub content_type: Option<String>,
    /// The exact body.
    pub body: Option<Vec<u8>>,
    /// The exact `Allow` header.
    pub allow: Option<String>,
}

impl Want {
    /// A reply with this status.
    pub fn status(status: u16) -> Self {
        Want {
            status,
            ..Want::default()
        }
    }

    /// A 200 with this content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Want {
            status: 200,
            content_type: Some(content_type.to_string()),
            body: Some(body.into()),
            allow: None,
        }
    }

    /// A 405 with this `Allow` header.
    pub fn not_allowed(allow: &str) -> Self {
        Want {
            status: 405,
            allow: Some(allow.to_string()),
            ..Want::default()
        }
    }

    /// The expected status line.
    pub fn status_line(&self) -> String {
        format!("HTTP/1.1 {} {}", self.status, reason(self.status))
    }

    /// The expectation in one line, for reports.
    pub fn describe(&self) -> String {
        let mut line = self.status_line();
        if let Some(content_type) = &self.content_type {
            let _ = write!(line, " · Content-Type: {content_type}");
        }
        if let Some(allow) = &self.allow {
            let _ = write!(line, " · Allow: {allow}");
        }
        if let Some(body) = &self.body {
            let _ = write!(line, " · body \"{}\"", preview(body));
        }
        let _ = write!(
            line,
            " · Content-Length · Connection: close · then the server closes"
        );
        line
    }
}

/// Writes `bytes`, in pieces of the given sizes when `pieces` is set.
pub fn send(stream: &mut TcpStream, bytes: &[u8], pieces: Option<&[usize]>) -> io::Result<()> {
    match pieces {
        Some(sizes) => http::write_in_pieces(stream, bytes, sizes),
        None => stream.write_all(bytes),
    }
}

/// Reads everything the server sends until it closes, or until `limit` passes with the connection still open.
pub fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let end = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break End::Silent;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buffer) {
            Ok(0) => break End::Closed,
            Ok(n) => {
                raw.extend_from_slice(&buffer[..n]);
                if raw.len() > REPLY_CAP {
                    break End::Flood;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break End::Silent;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break End::Reset,
        }
    };
    Reply { raw, end, limit }
}

/// Sends `bytes` on a new connection (in pieces if given), reads until the server closes, records the
/// exchange, and checks the reply against `want`. `rule` is the contract in plain words.
pub fn ask(
    server: &mut Server,
    bytes: &[u8],
    pieces: Option<&[usize]>,
    limit: Duration,
    want: &Want,
    rule: &str,
) -> Result<Response, Failure> {
    let mut stream = server.connect()?;
    // A server that already answered and closed may reset the rest of a long request: its reply still counts.
    let _ = send(&mut stream, bytes, pieces);
    let reply = read_until_close(&mut stream, limit);
    check(server, bytes, &reply, want, rule)
}

/// Records the exchange and checks `reply` against `want`: status line, framing, headers, body, close.
pub fn check(
    server: &mut Server,
    sent: &[u8],
    reply: &Reply,
    want: &Want,
    rule: &str,
) -> Result<Response, Failure> {
    server.record(&http::printable(sent), &reply.summary());
    let failure = || Failure::new(rule).expected(want.describe());
    if reply.raw.is_empty() {
        // A crashing server may still accept a connection in its last milliseconds: give the exit a moment to
        // show, so the report says "crashed" rather than "closed without a response".
        for _ in 0..10 {
            server.ensure_alive()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        let got = match reply.end {
            End::Silent => format!(
                "no answer within {} s (the connection stayed open)",
                reply.limit.as_secs()
            ),
            _ => "the connection was closed without any response".to_string(),
        };
        return Err(failure().got(got));
    }
    let response = reply.parse().map_err(|why| {
        failure()
            .got(format!("\"{}\"", preview(&reply.raw)))
            .detail(format!("the response is not framed correctly: {why}"))
    })?;
    let status_line = format!(
        "{} {} {}",
        response.version, response.status, response.reason
    );
    if response.status != want.status {
        return Err(failure().got(summarize(&response)));
    }
    if status_line != want.status_line() {
        return Err(failure().got(summarize(&response)).detail(format!(
            "the status line must be exactly `{}` (see `reason_phrase`)",
            want.status_line()
        )));
    }
    if let Some(content_type) = &want.content_type
        && response.header("content-type") != Some(content_type.as_str())
    {
        return Err(failure()
            .got(summarize(&response))
            .detail(format!("Content-Type must be `{content_type}`")));
    }
    if let Some(allow) = &want.allow
        && response.header("allow") != Some(allow.as_str())
    {
        return Err(failure().got(summarize(&response)).detail(format!(
            "a 405 must say which method the resource does allow: `Allow: {allow}`"
        )));
    }
    if let Some(body) = &want.body
        && &response.body != body
    {
        return Err(failure().got(summarize(&response)).detail(format!(
            "the body differs: expected {} bytes, got {} bytes",
            body.len(),
            response.body.len()
        )));
    }
    let says_close = response.headers_named("connection").iter().any(|value| {
        value
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("close"))
    });
    if !says_close {
        return Err(failure().got(summarize(&response)).detail(
            "every response must carry `Connection: close`: this server answers one request per \
                 connection",
        ));
    }
    if reply.end == End::Silent {
        return Err(failure().got(reply.summary()).detail(format!(
            "the response was complete, but the connection stayed open for {} s: after `Connection: \
             close`, close it",
            reply.limit.as_secs()
        )));
    }
    Ok(response)
}

/// A response in one line, `HTTP/1.1 404 Not Found · Content-Length: 14 · body "404 Not Found\n"`, with the
/// body escaped once (`http::Response::summary` applies `{:?}` to already escaped text).
pub fn summarize(response: &Response) -> String {
    let mut line = format!(
        "{} {} {}",
        response.version, response.status, response.reason
    );
    for (name, value) in &response.headers {
        let _ = write!(line, " · {name}: {value}");
    }
    let _ = write!(line, " · body \"{}\"", preview(&response.body));
    line
}

/// Bytes as readable text for one report line: cut after a while, with the true byte count.
pub fn preview(bytes: &[u8]) -> String {
    const CAP: usize = 160;
    let text = http::printable(bytes);
    if text.len() <= CAP {
        return text;
    }
    let mut end = CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], bytes.len())
}
