//! mutant: checks a line's length only once its \n has arrived
//! expect: as soon as 1024 bytes have arrived
//!
//! A wrong solution of `http1_request_parser` (see `solutions/01_http/http1_request_parser.rs`); the grader must reject it.

use backlings_harness::stdio::{from_hex, serve_json_lines, to_hex};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest line, counting its `\r\n`.
pub const MAX_LINE_BYTES: usize = 1024;
/// The longest head (request line, header lines and the blank line), in bytes.
pub const MAX_HEAD_BYTES: usize = 4096;
/// The largest body accepted (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method exactly as sent: `GET`.
    pub method: String,
    /// The target exactly as sent, still encoded: `/a%20b?x=1`.
    pub target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The decoded path segments: `/a%20b/c` is `["a b", "c"]`, `/` is `[""]`.
    pub segments: Vec<String>,
    /// The decoded query pairs in order: `?x=1&y` is `[("x", "1"), ("y", "")]`.
    pub query: Vec<(String, String)>,
    /// Header names in lowercase and trimmed values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// Exactly `Content-Length` bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// Provided: the request as the grader reads it.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "segments": self.segments,
            "query": self.query.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "headers": self.headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
            "body": to_hex(&self.body),
        })
    }
}

/// What one [`Parser::feed`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// The requests completed by this feed, in order.
    pub requests: Vec<Request>,
    /// The status that ended the connection (400, 413, 414, 431, 501, 505), if it has ended.
    pub error: Option<u16>,
}

/// Provided: a `tchar` of RFC 9110, the characters allowed in methods and header names.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Finds the end of the line that starts at `start`: the index just past its `\n`. `Ok(None)` while the line
/// is incomplete and still under `limit` bytes; `Err(too_long)` as soon as `limit` bytes have arrived without
/// a `\n`; `Err(400)` for a `\n` without its `\r`.
pub fn line_end(
    buffer: &[u8],
    start: usize,
    limit: usize,
    too_long: u16,
) -> Result<Option<usize>, u16> {
    // The mistake: the length is checked once the line has ended, so an endless line is buffered forever.
    let rest = &buffer[start..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(0) => Err(400),
        Some(i) if rest[i - 1] != b'\r' => Err(400),
        Some(i) if i + 1 > limit => Err(too_long),
        Some(i) => Ok(Some(start + i + 1)),
        None => Ok(None),
    }
}

/// Splits a request line into method, target and version.
pub fn parse_request_line(line: &str) -> Result<(String, String, String), u16> {
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(400);
    };
    if !is_token(method) {
        return Err(400);
    }
    if !target.starts_with('/') || !target.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err(400);
    }
    match version.as_bytes() {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(505);
        }
        _ => return Err(400),
    }
    Ok((method.to_string(), target.to_string(), version.to_string()))
}

/// The value of one hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|value| value as u8)
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); 400 for a bad escape or bytes that are
/// not UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, u16> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex_value)
                    .ok_or(400u16)?;
                let low = bytes
                    .get(i + 2)
                    .copied()
                    .and_then(hex_value)
                    .ok_or(400u16)?;
                decoded.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                i += 1;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| 400)
}

/// A request target, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The decoded path segments.
    pub segments: Vec<String>,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
}

/// Splits and decodes a target into its path segments and query pairs.
pub fn parse_target(target: &str) -> Result<Target, u16> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    };
    let segments = path
        .strip_prefix('/')
        .ok_or(400u16)?
        .split('/')
        .map(|segment| percent_decode(segment, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((percent_decode(name, true)?, percent_decode(value, true)?));
    }
    Ok(Target {
        segments,
        query: pairs,
    })
}

/// Parses one header line (without its `\r\n`) into a lowercase name and a trimmed value.
pub fn parse_header_line(line: &str) -> Result<(String, String), u16> {
    if line.starts_with([' ', '\t']) {
        return Err(400);
    }
    let (name, value) = line.split_once(':').ok_or(400u16)?;
    if !is_token(name) {
        return Err(400);
    }
    let value = value.trim_matches([' ', '\t']);
    if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(400);
    }
    Ok((name.to_ascii_lowercase(), value.to_string()))
}

/// Applies the `Host` and body-framing rules to a complete head and returns the body length.
pub fn body_length(version: &str, headers: &[(String, String)]) -> Result<usize, u16> {
    let named = |wanted: &str| {
        headers
            .iter()
            .filter(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
    };
    let hosts = named("host").len();
    if hosts > 1 || (version == "HTTP/1.1" && hosts == 0) {
        return Err(400);
    }
    let lengths = named("content-length");
    if !named("transfer-encoding").is_empty() {
        // Two framings in one message is how requests are smuggled: refuse rather than pick one.
        return Err(if lengths.is_empty() { 501 } else { 400 });
    }
    let mut length: Option<u64> = None;
    for value in lengths {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(400);
        }
        // All digits but too big for a u64 is still a well-formed length: just far too large.
        let value = value.parse::<u64>().unwrap_or(u64::MAX);
        if length.is_some_and(|previous| previous != value) {
            return Err(400);
        }
        length = Some(value);
    }
    match length {
        Some(length) if length > MAX_BODY_BYTES as u64 => Err(413),
        Some(length) => Ok(length as usize),
        None => Ok(0),
    }
}

/// Parses the request at the start of `buffer`: `Ok(Some((request, bytes used)))` once it is complete,
/// `Ok(None)` while more bytes are needed, `Err(status)` as soon as it is certain to be refused.
pub fn parse_one(buffer: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    // First the framing of the head: every line end, within the limits, up to the blank line.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let head_len = loop {
        let (limit, too_long) = if lines.is_empty() {
            (MAX_LINE_BYTES, 414)
        } else {
            (MAX_LINE_BYTES.min(MAX_HEAD_BYTES - start), 431)
        };
        let Some(end) = line_end(buffer, start, limit, too_long)? else {
            return Ok(None);
        };
        let line = &buffer[start..end - 2];
        start = end;
        if line.is_empty() {
            if lines.is_empty() {
                return Err(400);
            }
            break end;
        }
        lines.push(line);
    };

    // Then its meaning, line by line.
    let text = |line: &[u8]| {
        std::str::from_utf8(line)
            .map(str::to_string)
            .map_err(|_| 400u16)
    };
    let (method, target, version) = parse_request_line(&text(lines[0])?)?;
    let Target { segments, query } = parse_target(&target)?;
    let headers = lines[1..]
        .iter()
        .map(|line| parse_header_line(&text(line)?))
        .collect::<Result<Vec<_>, _>>()?;
    let length = body_length(&version, &headers)?;

    if buffer.len() < head_len + length {
        return Ok(None);
    }
    let request = Request {
        method,
        target,
        version,
        segments,
        query,
        headers,
        body: buffer[head_len..head_len + length].to_vec(),
    };
    Ok(Some((request, head_len + length)))
}

/// One connection's parser: the bytes received but not yet part of a returned request, and the error that
/// ended the connection.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
    failed: Option<u16>,
}

impl Parser {
    /// A parser for a new connection.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Appends `bytes` and returns every request they complete, in order, and the error that ended the
    /// connection, if any.
    pub fn feed(&mut self, bytes: &[u8]) -> Feed {
        let mut feed = Feed::default();
        if self.failed.is_some() {
            feed.error = self.failed;
            return feed;
        }
        self.buffer.extend_from_slice(bytes);
        loop {
            match parse_one(&self.buffer) {
                Ok(Some((request, used))) => {
                    feed.requests.push(request);
                    self.buffer.drain(..used);
                }
                Ok(None) => break,
                Err(status) => {
                    self.failed = Some(status);
                    self.buffer.clear();
                    feed.error = Some(status);
                    break;
                }
            }
        }
        feed
    }

    /// The bytes held that belong to no returned request yet.
    pub fn leftover(&self) -> usize {
        self.buffer.len()
    }
}

/// The grader's messages.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Open,
    Feed { hex: String },
    Eof,
}

/// Provided: you do not need to change this. One parser per connection, driven over JSON lines.
fn main() {
    let mut parser = Parser::new();
    serve_json_lines(|op: Op| match op {
        Op::Open => {
            parser = Parser::new();
            json!({ "opened": true })
        }
        Op::Feed { hex } => match from_hex(&hex) {
            Ok(bytes) => {
                let feed = parser.feed(&bytes);
                let requests: Vec<Value> = feed.requests.iter().map(Request::to_json).collect();
                json!({ "requests": requests, "error": feed.error })
            }
            Err(why) => json!({ "bad_input": why }),
        },
        Op::Eof => json!({ "leftover": parser.leftover() }),
    });
}
