//! A small HTTP/1.1 server loop for exercises that are about what happens *around* HTTP.
//!
//! Track 1 has the learner build HTTP from raw TCP. Later tracks (middleware, auth, caching, …) need a server
//! too, but not the learner's own: this module is the ready-made one their provided `main` uses. It owns the
//! wire: binding `127.0.0.1:0`, printing `READY <addr>` for the grader, one thread per connection, keep-alive,
//! `Content-Length` bodies, and a `400 Bad Request` for anything malformed. The exercise owns only the handler,
//! a plain `Fn(&Request) -> Response`.
//!
//! ```no_run
//! use backlings_harness::http::{Response, serve};
//!
//! serve(|req| Response::text(200, format!("you asked for {}", req.path()))).unwrap();
//! ```
//!
//! What it deliberately does not do: chunked request bodies (answered `501` and the connection closed; with a
//! `Content-Length` as well, `400`, the request-smuggling rule), TLS, HTTP/2, pipelined requests beyond reading
//! them in order (responses are written in order, which is what HTTP/1.1 pipelining requires), and idle timeouts
//! (the grader ends the process when it is done).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

/// The longest request line or header line accepted; longer ones are answered `431`.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// The most header lines accepted in one request; more are answered `431`.
pub const MAX_HEADERS: usize = 100;
/// The largest `Content-Length` accepted; larger bodies are answered `413` without being read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One parsed HTTP/1.x request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method exactly as sent, e.g. `GET`.
    pub method: String,
    /// The request target exactly as sent: the path and the query string, e.g. `/items?page=2`.
    pub target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The header fields in the order they were sent, names as sent, values trimmed of surrounding spaces.
    pub headers: Vec<(String, String)>,
    /// The body: exactly `Content-Length` bytes, empty when there is none.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header named `name`, compared case-insensitively as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string: `/items` for `/items?page=2`.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(&self.target, |(path, _)| path)
    }

    /// The query string without the `?`, if there is one: `page=2` for `/items?page=2`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// Whether the connection stays open after this request: HTTP/1.1 keeps it unless `Connection: close`,
    /// HTTP/1.0 closes it unless `Connection: keep-alive`.
    pub fn keeps_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        let has = |token: &str| {
            connection
                .as_deref()
                .is_some_and(|c| c.split(',').any(|t| t.trim() == token))
        };
        if self.version == "HTTP/1.0" {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// One HTTP response, built by a handler. `Content-Length` is added when it is written; do not set it yourself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. `200` or `429`.
    pub status: u16,
    /// Header fields in the order they will be written.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `text/plain; charset=utf-8` response with this status and body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body.into().into_bytes())
    }

    /// This response with one more header field (added after the existing ones, even if the name repeats).
    pub fn with_header(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.headers.push((name.into(), value.to_string()));
        self
    }

    /// This response with `body` as its body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The value of the first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Writes the response as HTTP/1.1 bytes. `keep_alive: false` adds `Connection: close`.
    pub fn write_to(&self, out: &mut impl Write, keep_alive: bool) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            // The server owns framing: a handler's own Content-Length could contradict the body it sent.
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("connection")
            {
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        // One write for head and body: two would cost a second system call and, on TCP, a second packet.
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        out.write_all(&bytes)?;
        out.flush()
    }
}

/// Why a request could not be read. Each kind maps to the status the server answers before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The peer closed the connection before sending anything: not an error, just the end.
    Closed,
    /// The bytes are not an HTTP/1.x request (`400`).
    Malformed(String),
    /// A line or the header section is over the limits (`431`).
    HeadersTooLarge,
    /// `Content-Length` is over [`MAX_BODY_BYTES`] (`413`).
    BodyTooLarge,
    /// `Transfer-Encoding` was used; only `Content-Length` bodies are supported (`501`).
    UnsupportedTransferEncoding,
    /// The socket failed while reading.
    Io(io::ErrorKind),
}

impl ParseError {
    /// The response the server sends for this error, if any (none for [`ParseError::Closed`] and I/O errors).
    pub fn response(&self) -> Option<Response> {
        let (status, why) = match self {
            ParseError::Closed | ParseError::Io(_) => return None,
            ParseError::Malformed(why) => (400, why.as_str()),
            ParseError::HeadersTooLarge => (431, "request line or header section too large"),
            ParseError::BodyTooLarge => (413, "body larger than the server accepts"),
            ParseError::UnsupportedTransferEncoding => (
                501,
                "Transfer-Encoding is not supported; send Content-Length",
            ),
        };
        Some(Response::text(status, format!("{why}\n")))
    }
}

fn malformed(why: impl Into<String>) -> ParseError {
    ParseError::Malformed(why.into())
}

/// Reads one request from `reader`. Accepts CRLF or bare LF line ends, as RFC 9112 allows a server to.
pub fn read_request(reader: &mut impl BufRead) -> Result<Request, ParseError> {
    let mut line = read_line(reader)?.ok_or(ParseError::Closed)?;
    // RFC 9112 §2.2: a server should ignore empty lines received before the request line.
    while line.is_empty() {
        line = read_line(reader)?.ok_or(ParseError::Closed)?;
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(format!(
            "request line `{line}` is not `METHOD TARGET VERSION`"
        )));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(malformed(format!("method `{method}` is not a token")));
    }
    if target.is_empty() || target.bytes().any(|b| b.is_ascii_control()) {
        return Err(malformed(format!("request target `{target}` is not valid")));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(malformed(format!(
            "version `{version}` is not HTTP/1.0 or HTTP/1.1"
        )));
    }

    let mut headers = Vec::new();
    loop {
        let line =
            read_line(reader)?.ok_or_else(|| malformed("connection closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::HeadersTooLarge);
        }
        headers.push(parse_header_line(&line)?);
    }

    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        // Both framings at once is how requests are smuggled past a proxy (RFC 9112 §6.3): refuse, never pick one.
        if request.header("content-length").is_some() {
            return Err(malformed(
                "both Content-Length and Transfer-Encoding: the body's length is ambiguous",
            ));
        }
        return Err(ParseError::UnsupportedTransferEncoding);
    }
    let length = content_length(&request)?;
    if length > MAX_BODY_BYTES {
        return Err(ParseError::BodyTooLarge);
    }
    request.body = vec![0; length];
    reader
        .read_exact(&mut request.body)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                malformed("connection closed before the whole body arrived")
            }
            kind => ParseError::Io(kind),
        })?;
    Ok(request)
}

fn parse_header_line(line: &str) -> Result<(String, String), ParseError> {
    if line.starts_with([' ', '\t']) {
        return Err(malformed("obsolete line folding in the headers"));
    }
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| malformed(format!("header line `{line}` has no `:`")))?;
    // RFC 9112 §5.1: no whitespace between the name and the colon.
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(malformed(format!("header name `{name}` is not a token")));
    }
    let value = value.trim_matches([' ', '\t']);
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(malformed(format!(
            "header `{name}` has a control character in its value"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

fn content_length(request: &Request) -> Result<usize, ParseError> {
    let mut length = None;
    for (_, value) in request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(format!(
                "Content-Length `{value}` is not a number"
            )));
        }
        // Too many digits to fit is simply too large.
        let parsed = value
            .parse::<usize>()
            .map_err(|_| ParseError::BodyTooLarge)?;
        // Two different lengths is the classic request-smuggling shape: refuse it.
        if length.is_some_and(|l| l != parsed) {
            return Err(malformed("two different Content-Length values"));
        }
        length = Some(parsed);
    }
    Ok(length.unwrap_or(0))
}

/// Reads one line without its line end; `None` at a clean end of stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ParseError> {
    let mut bytes = Vec::new();
    let read = reader
        .take(MAX_LINE_BYTES as u64 + 2)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| ParseError::Io(e.kind()))?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.last() != Some(&b'\n') {
        return Err(if bytes.len() > MAX_LINE_BYTES {
            ParseError::HeadersTooLarge
        } else {
            malformed("connection closed in the middle of a line")
        });
    }
    bytes.pop();
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.len() > MAX_LINE_BYTES {
        return Err(ParseError::HeadersTooLarge);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| malformed("the request line or a header is not valid UTF-8"))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Binds `127.0.0.1:0`, prints `READY <ip:port>` on stdout, then serves every connection on its own thread
/// with `handler` until the process ends. Returns only if binding fails.
pub fn serve<H>(handler: H) -> io::Result<()>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "READY {}", listener.local_addr()?)?;
    // The grader waits for this line before it connects: it must not sit in a buffer.
    stdout.flush()?;
    drop(stdout);
    serve_on(listener, handler)
}

/// Serves connections accepted on `listener`, each on its own thread, with `handler`. For tests and for
/// programs that bind their own listener; [`serve`] is the usual entry point.
pub fn serve_on<H>(listener: TcpListener, handler: H) -> io::Result<()>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    for stream in listener.incoming() {
        // A failed accept (the peer gave up, too many open files) is that connection's problem only.
        let Ok(stream) = stream else { continue };
        let handler = Arc::clone(&handler);
        thread::spawn(move || {
            // An error here means the peer went away; there is nobody left to tell.
            let _ = handle_connection(stream, &*handler);
        });
    }
    Ok(())
}

/// Answers requests on one connection, in order, until the peer closes it, asks to close it, or sends
/// something malformed.
pub fn handle_connection<H>(stream: TcpStream, handler: &H) -> io::Result<()>
where
    H: Fn(&Request) -> Response + ?Sized,
{
    // Small responses go out at once instead of waiting for an ACK (Nagle + delayed ACK adds ~40 ms each).
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader) {
            Ok(request) => request,
            Err(error) => {
                if let Some(response) = error.response() {
                    response.write_to(&mut writer, false)?;
                }
                return Ok(());
            }
        };
        let keep_alive = request.keeps_alive();
        let response = call_handler(handler, &request);
        response.write_to(&mut writer, keep_alive)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Runs the handler; a panic becomes a `500` whose body carries the panic message, so an unfinished
/// `todo!()` shows up in the response instead of as a silently dropped connection.
fn call_handler<H>(handler: &H, request: &Request) -> Response
where
    H: Fn(&Request) -> Response + ?Sized,
{
    panic::catch_unwind(AssertUnwindSafe(|| handler(request))).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        Response::text(500, format!("the handler panicked: {message}\n"))
    })
}

/// The standard reason phrase for `status`, or `Unknown`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, ParseError> {
        read_request(&mut io::Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn parses_a_request_with_headers_and_body() {
        let request = parse(
            "POST /items?page=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello",
        )
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path(), "/items");
        assert_eq!(request.query(), Some("page=2"));
        assert_eq!(request.header("x-a"), Some("b"));
        assert_eq!(request.header("CONTENT-LENGTH"), Some("5"));
        assert_eq!(request.body, b"hello");
    }

    #[test]
    fn accepts_bare_lf_and_leading_empty_lines() {
        let request = parse("\r\nGET / HTTP/1.0\nA: 1\n\n").unwrap();
        assert_eq!(request.version, "HTTP/1.0");
        assert_eq!(request.header("a"), Some("1"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn keep_alive_follows_the_version_defaults() {
        assert!(parse("GET / HTTP/1.1\r\n\r\n").unwrap().keeps_alive());
        assert!(
            !parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
                .unwrap()
                .keeps_alive()
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keeps_alive());
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .keeps_alive()
        );
    }

    #[test]
    fn rejects_malformed_requests() {
        for raw in [
            "GET /\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            "GET / HTTP/1.1\r\nA: 1\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(ParseError::Malformed(_))),
                "{raw:?} -> {:?}",
                parse(raw)
            );
        }
    }

    #[test]
    fn enforces_the_limits() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_LINE_BYTES));
        assert_eq!(parse(&long), Err(ParseError::HeadersTooLarge));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse(&many), Err(ParseError::HeadersTooLarge));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(parse(&big), Err(ParseError::BodyTooLarge));
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(parse(chunked), Err(ParseError::UnsupportedTransferEncoding));
        let both = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
        assert!(
            matches!(parse(both), Err(ParseError::Malformed(_))),
            "CL + TE must be a 400, not a guess"
        );
        assert_eq!(parse(""), Err(ParseError::Closed));
    }

    #[test]
    fn writes_framing_itself() {
        let mut out = Vec::new();
        Response::text(429, "slow down")
            .with_header("Content-Length", 999)
            .with_header("Retry-After", 2)
            .write_to(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 2\r\nContent-Length: 9\r\nConnection: close\r\n\r\nslow down"
        );
    }

    /// Starts a server on its own thread and returns its address.
    fn start(
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || serve_on(listener, handler));
        addr
    }

    /// Reads one response's head and body (by Content-Length) from `reader`.
    fn read_response(reader: &mut impl BufRead) -> (String, Vec<u8>) {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (head, body)
    }

    #[test]
    fn serves_several_requests_on_one_connection_in_order() {
        let addr = start(|req| {
            Response::text(
                200,
                format!("{} {}", req.path(), String::from_utf8_lossy(&req.body)),
            )
        });
        let mut stream = TcpStream::connect(addr).unwrap();
        // Two requests in one write: pipelined, answered in order on the same connection.
        stream
            .write_all(b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let (head, body) = read_response(&mut reader);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, b"/a hi");
        let (_, body) = read_response(&mut reader);
        assert_eq!(body, b"/b ");
        stream
            .write_all(b"GET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (head, body) = read_response(&mut reader);
        assert!(head.contains("Connection: close"), "{head}");
        assert_eq!(body, b"/c ");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the server closes after Connection: close");
    }

    #[test]
    fn answers_400_to_garbage_and_closes() {
        let addr = start(|_| Response::new(204));
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"HELLO THERE\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let (head, _) = read_response(&mut reader);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn a_panicking_handler_becomes_a_500_and_the_server_lives_on() {
        let addr = start(|req| {
            if req.path() == "/boom" {
                panic!("not yet implemented");
            }
            Response::new(204)
        });
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /boom HTTP/1.1\r\n\r\nGET /fine HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let (head, body) = read_response(&mut reader);
        assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
        assert!(String::from_utf8_lossy(&body).contains("not yet implemented"));
        let (head, _) = read_response(&mut reader);
        assert!(head.starts_with("HTTP/1.1 204 "), "{head}");
    }
}
