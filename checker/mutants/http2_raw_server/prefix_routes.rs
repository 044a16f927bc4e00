//! mutant: matches routes by prefix, so `/healthz` and `/echoes/x` are served
//! expect: not a route
//!
//! A wrong solution of `http2_raw_server` (see `solutions/01_http/http2_raw_server.rs`); the grader must reject it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// The largest request head accepted, in bytes, counting the final `\r\n\r\n`.
pub const MAX_HEAD_BYTES: usize = 8192;
/// The largest request body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The body of `GET /`. Mind the dash: it is one character but three bytes.
pub const ROOT_BODY: &str = "Hello from backlings — a raw HTTP/1.1 server\n";

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, … exactly as sent (methods are case-sensitive).
    pub method: String,
    /// The request target as sent, query included: `/echo/hi?x=1`.
    pub target: String,
    /// The HTTP version as `(major, minor)`: `(1, 1)` for `HTTP/1.1`.
    pub version: (u8, u8),
    /// Header names and values in the order received; names keep the client's spelling.
    pub headers: Vec<(String, String)>,
    /// The body: exactly `Content-Length` bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// The path: the target up to (not including) the first `?`.
    pub fn path(&self) -> &str {
        match self.target.split_once('?') {
            Some((path, _query)) => path,
            None => &self.target,
        }
    }

    /// The value of header `name`, compared case-insensitively. A header sent several times has its values
    /// joined by `", "` in the order received. `None` if the request has no such header.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect();
        if values.is_empty() {
            None
        } else {
            Some(values.join(", "))
        }
    }
}

/// A response before it is put on the wire. `Content-Length` and `Connection` are added by [`write_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code: 200, 404, …
    pub status: u16,
    /// Extra headers, such as `Content-Type` and `Allow`.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a `Content-Type` and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    /// An error response: a short plain-text body such as `404 Not Found\n`.
    pub fn error(status: u16) -> Response {
        let body = format!("{status} {}\n", reason_phrase(status));
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

/// The reason phrase of every status code this server sends.
pub fn reason_phrase(status: u16) -> &'static str {
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

/// Why [`read_request`] produced no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The request is invalid: answer with `Response::error(status)`.
    Reject(u16),
    /// The connection ended or failed before a whole request arrived: there is nobody to answer.
    Disconnected,
}

/// A `tchar` of RFC 9110: the characters allowed in methods and header names.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `HTTP/<digit>.<digit>` as `(major, minor)`.
fn parse_version(text: &str) -> Option<(u8, u8)> {
    match text.strip_prefix("HTTP/")?.as_bytes() {
        [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

/// Parses a request head: the bytes before the blank line (`\r\n\r\n` excluded). The returned request has an
/// empty body. Errors are status codes: 400 for anything malformed, 505 for an unsupported version.
pub fn parse_head(head: &[u8]) -> Result<Request, u16> {
    let head = std::str::from_utf8(head).map_err(|_| 400u16)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();

    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(400);
    };
    if !is_token(method) || !target.starts_with('/') {
        return Err(400);
    }
    let version = parse_version(version).ok_or(400u16)?;
    if version.0 != 1 {
        return Err(505);
    }

    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(400u16)?;
        if !is_token(name) {
            return Err(400);
        }
        let value = value.trim_matches([' ', '\t']);
        headers.push((name.to_string(), value.to_string()));
    }

    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers,
        body: Vec::new(),
    };
    if request.version == (1, 1) && request.header("host").is_none() {
        return Err(400);
    }
    Ok(request)
}

/// The body length announced by the request: 0 without a `Content-Length`; 400 if a value is not all digits or
/// several values disagree; 413 if it is above [`MAX_BODY_BYTES`].
pub fn content_length(request: &Request) -> Result<usize, u16> {
    let mut length: Option<u64> = None;
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
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
        None => Ok(0),
        Some(length) if length > MAX_BODY_BYTES as u64 => Err(413),
        Some(length) => Ok(length as usize),
    }
}

/// Where `\r\n\r\n` starts in `buffer`, searching from `from`.
fn find_blank_line(buffer: &[u8], from: usize) -> Option<usize> {
    buffer[from..]
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|position| from + position)
}

/// Reads one request from `reader`: the head up to the blank line (at most [`MAX_HEAD_BYTES`]), then exactly
/// `Content-Length` body bytes. The bytes may arrive in any number of pieces.
pub fn read_request(reader: &mut impl Read) -> Result<Request, ReadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        // The blank line may straddle two reads: look back three bytes.
        if let Some(end) = find_blank_line(&buffer, buffer.len().saturating_sub(chunk.len() + 3)) {
            break end;
        }
        if buffer.len() >= MAX_HEAD_BYTES {
            return Err(ReadError::Reject(431));
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Disconnected),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(ReadError::Disconnected),
        }
    };
    if head_end + 4 > MAX_HEAD_BYTES {
        return Err(ReadError::Reject(431));
    }

    let mut request = parse_head(&buffer[..head_end]).map_err(ReadError::Reject)?;
    let length = content_length(&request).map_err(ReadError::Reject)?;

    let mut body = buffer.split_off(head_end + 4);
    body.truncate(length);
    let already = body.len();
    body.resize(length, 0);
    reader
        .read_exact(&mut body[already..])
        .map_err(|_| ReadError::Disconnected)?;
    request.body = body;
    Ok(request)
}

/// Answers `response` only if the method is `allowed`, and 405 with an `Allow` header otherwise.
fn only(method: &str, allowed: &str, response: impl FnOnce() -> Response) -> Response {
    if method == allowed {
        return response();
    }
    let mut refusal = Response::error(405);
    refusal
        .headers
        .push(("Allow".to_string(), allowed.to_string()));
    refusal
}

/// Decides the answer to a valid request (the route table in the header above).
pub fn route(request: &Request) -> Response {
    const TEXT: &str = "text/plain; charset=utf-8";
    let method = request.method.as_str();
    let path = request.path();
    if path == "/" {
        only(method, "GET", || Response::new(200, TEXT, ROOT_BODY))
    } else if path.starts_with("/health") {
        only(method, "GET", || {
            Response::new(200, "application/json", r#"{"status":"ok"}"#)
        })
    } else if path == "/echo" && method == "POST" {
        only(method, "POST", || {
            Response::new(200, "application/octet-stream", request.body.clone())
        })
    } else if let Some(text) = path
        .strip_prefix("/echo")
        .map(|t| t.trim_start_matches('/'))
    {
        only(method, "GET", || Response::new(200, TEXT, text))
    } else if let Some(name) = path
        .strip_prefix("/header")
        .map(|t| t.trim_start_matches(['s', '/']))
    {
        only(method, "GET", || match request.header(name) {
            Some(value) if !name.is_empty() => Response::new(200, TEXT, value),
            _ => Response::error(404),
        })
    } else {
        Response::error(404)
    }
}

/// Writes `response` in HTTP/1.1 framing: status line, its headers, `Content-Length`, `Connection: close`, the
/// blank line and the body.
pub fn write_response(out: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    bytes.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    // One buffer, one write: the head and body leave together instead of as two small packets.
    let mut bytes = bytes.into_bytes();
    bytes.extend_from_slice(&response.body);
    out.write_all(&bytes)?;
    out.flush()
}

/// Serves one connection: read a request, answer it (or answer its error), close.
pub fn handle_connection(mut stream: TcpStream) -> io::Result<()> {
    // A client that stops sending mid-request must not hold this thread forever.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let response = match read_request(&mut stream) {
        Ok(request) => route(&request),
        Err(ReadError::Reject(status)) => Response::error(status),
        Err(ReadError::Disconnected) => return Ok(()),
    };
    write_response(&mut stream, &response)?;
    close_gracefully(stream);
    Ok(())
}

/// Accepts connections forever and serves each one on its own thread.
pub fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let spawned = thread::Builder::new().spawn(move || {
            if let Err(error) = handle_connection(stream) {
                eprintln!("connection failed: {error}");
            }
        });
        if let Err(error) = spawned {
            eprintln!("could not start a connection thread: {error}");
        }
    }
}

/// Provided: you do not need to change this.
///
/// Closes a connection after its response without losing that response. If the client sent bytes we never read
/// (the rest of a too-large request), closing right away makes the kernel answer with a TCP reset, and a reset
/// can destroy the response before the client reads it. So: say we are done writing, then read and discard what
/// the client still sends until it closes its side (or a short while passes), and only then close.
pub fn close_gracefully(mut stream: TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 8192];
    let mut drained = 0usize;
    while drained < 4 * MAX_BODY_BYTES {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Provided: you do not need to change this. Binds a free port on loopback, tells the grader where it is, serves.
fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    io::stdout().flush()?;
    serve(listener);
    Ok(())
}
