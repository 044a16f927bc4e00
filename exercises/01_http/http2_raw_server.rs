//! # A raw HTTP/1.1 server: bytes in, bytes out
//!
//! Every web framework you will ever use (axum, actix, Express, Django, Spring) sits on the same thing you write
//! here: a loop that accepts TCP connections, reads bytes until a request is complete, decides what to answer,
//! and writes bytes back in exactly the shape the client expects. HTTP/1.1 is a text protocol, so a request is
//! just this on the socket:
//!
//! ```text
//! POST /echo HTTP/1.1\r\n                  <- request line: METHOD SP TARGET SP VERSION
//! Host: 127.0.0.1:8080\r\n                 <- header lines: name ":" optional-whitespace value
//! Content-Length: 5\r\n
//! \r\n                                     <- an empty line ends the head
//! hello                                    <- the body: exactly Content-Length bytes
//! ```
//!
//! and a response is a status line, headers, an empty line and a body:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! Content-Type: application/octet-stream\r\n
//! Content-Length: 5\r\n
//! Connection: close\r\n
//! \r\n
//! hello
//! ```
//!
//! ## Why this matters in production
//!
//! Framework bugs and outages often live exactly at this layer: a body read by "whatever arrived in the first
//! `read()`", a `Content-Length` that counts characters instead of bytes, a server that reads an attacker's
//! 10 GB body into memory because the header said so, one slow client that freezes every other client. TCP is a
//! *byte stream*, not a message stream: one `write` from the client can arrive as ten `read`s on your side, and
//! ten writes can arrive as one read. Only the protocol's own framing (the blank line, then `Content-Length`)
//! tells you where a request ends.
//!
//! ## The contract (what the grader checks)
//!
//! The program binds `127.0.0.1:0` and prints `READY <ip:port>` (the provided `main` does that). Each connection
//! carries **one** request; the server answers it and closes the connection (keep-alive is the next exercise,
//! `http3_keep_alive`).
//!
//! Reading a request:
//! - The **head** (request line, header lines and the blank line, `\r\n` line endings) is at most
//!   [`MAX_HEAD_BYTES`] = 8192 bytes, counting the final `\r\n\r\n`. A head of exactly 8192 bytes is fine; a
//!   longer one gets **431**.
//! - Request line: exactly `METHOD SP TARGET SP VERSION` with single spaces. `METHOD` is a token (letters,
//!   digits and ``!#$%&'*+-.^_`|~``; methods are case-sensitive, so `get` is just an unknown method), `TARGET`
//!   starts with `/`, `VERSION` is `HTTP/<digit>.<digit>`. Anything else is **400**. A well-formed version whose
//!   major number is not 1 (`HTTP/2.0`, `HTTP/0.9`) is **505**.
//! - Header lines: `name: value`. The name is a non-empty token (no whitespace, not even before the colon) and is
//!   case-insensitive; the value is trimmed of spaces and tabs. A line without a colon is **400**. A header that
//!   appears several times has the value of all of them joined by `", "`, in order. A head that is not UTF-8 is
//!   **400**.
//! - An `HTTP/1.1` request without a `Host` header is **400** (HTTP/1.0 does not need one).
//! - The body is exactly `Content-Length` bytes (no header: no body). A `Content-Length` that is not all digits,
//!   or several that disagree, is **400**; one above [`MAX_BODY_BYTES`] = 1 MiB is **413**, answered from the
//!   head alone, without waiting for (or allocating) the body.
//!
//! Routes (the path is the target up to the first `?`; the query is ignored):
//!
//! | method & path | answer |
//! |---|---|
//! | `GET /` | 200, `text/plain; charset=utf-8`, body [`ROOT_BODY`] |
//! | `GET /health` | 200, `application/json`, body `{"status":"ok"}` |
//! | `GET /echo/{text}` | 200, `text/plain; charset=utf-8`, body `{text}` exactly as in the path (no decoding) |
//! | `POST /echo` | 200, `application/octet-stream`, body = the request body, byte for byte |
//! | `GET /headers/{name}` | 200, `text/plain; charset=utf-8`, body = the request's `{name}` header value; 404 if absent |
//! | a known path, another method | 405 with `Allow: GET` (or `Allow: POST` for `/echo`) |
//! | any other path | 404 |
//!
//! Every response: status line `HTTP/1.1 <code> <reason>` with the reason from [`reason_phrase`], a
//! `Content-Length` equal to the body's length in **bytes**, `Connection: close`, then the server closes the
//! connection. Error responses (4xx/5xx) carry a short `text/plain` body. The server handles connections
//! **concurrently**: a client that sends half a request and stops must not delay anyone else.
//!
//! ## Pitfalls
//!
//! - One `read()` is not one request. Loop until the blank line, then until `Content-Length` bytes.
//! - `Content-Length` counts bytes. `"—".len()` is 3, `"—".chars().count()` is 1.
//! - `"+5".parse::<u64>()` succeeds in Rust, but `+5` is not a valid `Content-Length`: check the digits.
//! - Check the size limits *before* allocating: `vec![0; content_length]` with a hostile header is an easy
//!   out-of-memory crash.
//! - An accept loop that handles each connection before accepting the next lets one slow client block everyone.
//! - Chunked bodies (`Transfer-Encoding: chunked`) are left for `http4_chunked_streaming`.
//!
//! Roadmap: "Build raw HTTP server (no Express)" [002]; HTTP fundamentals, request/response anatomy [001 §1.3].

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
        // TODO: return the target up to the first `?`.
        todo!("the target without its query")
    }

    /// The value of header `name`, compared case-insensitively. A header sent several times has its values
    /// joined by `", "` in the order received. `None` if the request has no such header.
    pub fn header(&self, name: &str) -> Option<String> {
        // TODO: find every header named `name` in any letter case; join their values with ", ".
        todo!("look up a header by name")
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

/// Provided: a `tchar` of RFC 9110, the characters allowed in methods and header names.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request head: the bytes before the blank line (`\r\n\r\n` excluded). The returned request has an
/// empty body. Errors are status codes: 400 for anything malformed, 505 for an unsupported version.
pub fn parse_head(head: &[u8]) -> Result<Request, u16> {
    // TODO: split the head into lines; check and split the request line (400, 505);
    //       parse each header line (400); require `Host` on HTTP/1.1 (400).
    todo!("parse the request line and the headers")
}

/// The body length announced by the request: 0 without a `Content-Length`; 400 if a value is not all digits or
/// several values disagree; 413 if it is above [`MAX_BODY_BYTES`].
pub fn content_length(request: &Request) -> Result<usize, u16> {
    // TODO: find every Content-Length header; 400 if one is not all digits or they disagree;
    //       413 above MAX_BODY_BYTES; 0 when there is none.
    todo!("validate Content-Length")
}

/// Reads one request from `reader`: the head up to the blank line (at most [`MAX_HEAD_BYTES`]), then exactly
/// `Content-Length` body bytes. The bytes may arrive in any number of pieces.
pub fn read_request(reader: &mut impl Read) -> Result<Request, ReadError> {
    // TODO: read until the blank line (431 past MAX_HEAD_BYTES), parse the head,
    //       then read exactly Content-Length body bytes (some may already be in your buffer).
    //       A connection that ends early is `ReadError::Disconnected`.
    todo!("read one whole request")
}

/// Decides the answer to a valid request (the route table in the header above).
pub fn route(request: &Request) -> Response {
    // TODO: answer each route of the table in the header; 404 for unknown paths.
    todo!("the route table")
}

/// Writes `response` in HTTP/1.1 framing: status line, its headers, `Content-Length`, `Connection: close`, the
/// blank line and the body.
pub fn write_response(out: &mut impl Write, response: &Response) -> io::Result<()> {
    // TODO: write the status line, the headers, Content-Length (in bytes), `Connection: close`,
    //       the blank line and the body.
    todo!("frame the response")
}

/// Serves one connection: read a request, answer it (or answer its error), close.
pub fn handle_connection(mut stream: TcpStream) -> io::Result<()> {
    // TODO: read a request, answer it (or its error) and close with `close_gracefully`;
    //       do not let a client that stops mid-request hold the connection forever.
    todo!("serve one connection")
}

/// Accepts connections forever and serves them concurrently.
pub fn serve(listener: TcpListener) {
    // TODO: accept connections forever and serve them so that a slow client never delays the others.
    todo!("the accept loop")
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that hands out its bytes `step` at a time, as a slow network would.
    struct Trickle {
        bytes: Vec<u8>,
        position: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self
                .step
                .min(out.len())
                .min(self.bytes.len() - self.position);
            out[..n].copy_from_slice(&self.bytes[self.position..self.position + n]);
            self.position += n;
            Ok(n)
        }
    }

    fn trickle(bytes: &[u8], step: usize) -> Trickle {
        Trickle {
            bytes: bytes.to_vec(),
            position: 0,
            step,
        }
    }

    fn get(target: &str) -> Request {
        parse_head(format!("GET {target} HTTP/1.1\r\nHost: test").as_bytes()).unwrap()
    }

    // The request line and headers are split into their parts; header lookup ignores case.
    #[test]
    fn parses_request_line_and_headers() {
        let head = b"GET /echo/hi?x=1 HTTP/1.1\r\nHost: example\r\nX-Token:  abc \r\nx-token: def";
        let request = parse_head(head).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/echo/hi?x=1");
        assert_eq!(request.path(), "/echo/hi");
        assert_eq!(request.version, (1, 1));
        assert_eq!(request.header("HOST").as_deref(), Some("example"));
        assert_eq!(request.header("X-TOKEN").as_deref(), Some("abc, def"));
        assert_eq!(request.header("missing"), None);
    }

    // Malformed request lines and header lines are 400; a version other than 1.x is 505.
    #[test]
    fn rejects_malformed_heads() {
        for head in [
            "GET  / HTTP/1.1\r\nHost: a",
            "GET /\r\nHost: a",
            "GET / HTTP/1.1 x\r\nHost: a",
            "GET index.html HTTP/1.1\r\nHost: a",
            "GET / HTTP/1.x\r\nHost: a",
            "GET / http/1.1\r\nHost: a",
            "G(T / HTTP/1.1\r\nHost: a",
            "GET / HTTP/1.1\r\nHost: a\r\nno colon here",
            "GET / HTTP/1.1\r\nHost : a",
            "GET / HTTP/1.1",
        ] {
            assert_eq!(parse_head(head.as_bytes()), Err(400), "{head:?}");
        }
        assert_eq!(parse_head(b"GET / HTTP/2.0\r\nHost: a"), Err(505));
        assert_eq!(parse_head(b"GET / HTTP/1.0").map(|r| r.version), Ok((1, 0)));
    }

    // Content-Length must be plain digits, agree with itself, and stay within the limit.
    #[test]
    fn checks_content_length() {
        let with = |value: &str| {
            let head = format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {value}");
            content_length(&parse_head(head.as_bytes()).unwrap())
        };
        assert_eq!(with("12"), Ok(12));
        assert_eq!(with("+5"), Err(400));
        assert_eq!(with("five"), Err(400));
        assert_eq!(with("1048577"), Err(413));
        assert_eq!(with("1048576"), Ok(1048576));
        assert_eq!(content_length(&get("/")), Ok(0));
    }

    // A request that arrives one byte per read is still read whole, body included.
    #[test]
    fn reads_a_request_arriving_byte_by_byte() {
        let raw = b"POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 11\r\n\r\nhello world";
        let request = read_request(&mut trickle(raw, 1)).unwrap();
        assert_eq!(request.body, b"hello world");
        let request = read_request(&mut Cursor::new(raw.to_vec())).unwrap();
        assert_eq!(request.body, b"hello world");
    }

    // A head of exactly 8192 bytes is accepted, one byte more is 431.
    #[test]
    fn head_limit_is_exact() {
        let head_of = |size: usize| {
            let fixed = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: \r\n\r\n".len();
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: {}\r\n\r\n",
                "f".repeat(size - fixed)
            )
        };
        assert!(read_request(&mut Cursor::new(head_of(MAX_HEAD_BYTES))).is_ok());
        let too_big = head_of(MAX_HEAD_BYTES + 1);
        assert_eq!(
            read_request(&mut Cursor::new(too_big)),
            Err(ReadError::Reject(431))
        );
    }

    // A too-large body is refused from the head alone: the body is never waited for.
    #[test]
    fn refuses_a_large_body_without_reading_it() {
        let raw = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n";
        assert_eq!(
            read_request(&mut Cursor::new(raw.to_vec())),
            Err(ReadError::Reject(413))
        );
    }

    // The route table: bodies, content types, 404 and 405 with Allow.
    #[test]
    fn routes_requests() {
        assert_eq!(route(&get("/")).body, ROOT_BODY.as_bytes());
        assert_eq!(route(&get("/health")).body, br#"{"status":"ok"}"#);
        assert_eq!(route(&get("/echo/hi?x=1")).body, b"hi");
        assert_eq!(route(&get("/headers/HOST")).body, b"test");
        assert_eq!(route(&get("/headers/x-missing")).status, 404);
        assert_eq!(route(&get("/nowhere")).status, 404);

        let mut post = parse_head(b"POST /echo HTTP/1.1\r\nHost: a").unwrap();
        post.body = b"\x00\xffbytes".to_vec();
        assert_eq!(route(&post).body, b"\x00\xffbytes");

        let refused = route(&get("/echo"));
        assert_eq!(refused.status, 405);
        assert!(refused.headers.contains(&("Allow".into(), "POST".into())));
    }

    // The response is framed exactly: status line, headers, Content-Length in bytes, Connection: close.
    #[test]
    fn frames_responses() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::new(200, "text/plain", "a—b")).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\na\xe2\x80\x94b"
        );
    }

    // End to end over TCP: one client stalls halfway through a request, another is still answered.
    #[test]
    fn a_stalled_client_does_not_block_others() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || serve(listener));

        let mut stalled = TcpStream::connect(address).unwrap();
        stalled.write_all(b"GET /echo/slow HTTP/1.1\r\nHo").unwrap();

        let mut client = TcpStream::connect(address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
            .write_all(b"GET /echo/fast HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(answer.ends_with(b"\r\n\r\nfast"));

        stalled.write_all(b"st: a\r\n\r\n").unwrap();
        stalled
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        stalled.read_to_end(&mut answer).unwrap();
        assert!(answer.ends_with(b"\r\n\r\nslow"));
    }
}
