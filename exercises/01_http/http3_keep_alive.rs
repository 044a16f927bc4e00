//! # Keep-alive: many requests on one connection
//!
//! Opening a TCP connection costs a round trip before the first byte of a request can leave (and TLS adds one or
//! two more). HTTP/1.0 paid that price for every request: connect, ask, answer, close. HTTP/1.1 made connections
//! **persistent** by default: after a response the connection stays open and the next request reuses it. Every
//! browser, `curl` with several URLs, and every HTTP client library with a connection pool (reqwest, Python's
//! `requests`, Go's `net/http`) relies on it, and so do the load balancers in front of your servers.
//!
//! Persistence works only because every response says where it ends (`Content-Length` here), so the client
//! knows the next bytes belong to the next response. A client may even **pipeline**: send several requests
//! without waiting, and the server must answer them in order. That ordering is HTTP/1.1's head-of-line
//! blocking: one slow response delays every response queued behind it on the connection, which is what HTTP/2
//! multiplexing (`http7_h2_multiplexing`) removes.
//!
//! ## Why this matters in production
//!
//! An open connection is a resource: a socket, a thread or task, memory. A server that keeps idle connections
//! forever runs out of them, so it closes a connection that has been idle too long, and caps how many requests one
//! connection may carry (nginx: `keepalive_timeout`, `keepalive_requests`) so that load spreads again after a
//! deploy and no single client holds a worker forever. Each side must also *say* when it will close
//! (`Connection: close`): a client that sends a request on a connection the server is about to close sees it
//! fail, and must retry it elsewhere.
//!
//! ## The contract (what the grader checks)
//!
//! The provided `main` reads [`Config`] from the environment (`IDLE_TIMEOUT_MS`, `MAX_REQUESTS`), binds
//! `127.0.0.1:0`, prints `READY <ip:port>`, and runs [`serve_connection`] on its own thread for each accepted
//! connection, with a connection id (1, 2, 3, …). The application ([`app`]) and the request parser are
//! provided: `read_request(&mut reader)` reads one request from any `BufRead` and returns `Ok(request)` or
//! `Err(error)`, where `error.response()` is `Some(refusal)` for a request that cannot be read (malformed: 400,
//! too large: 413 or 431) and `None` when there is nobody to answer (the client closed, or a read timed out).
//! `request.version`, `request.headers` and `request.method` are plain fields. Your part is the connection:
//!
//! - Requests on a connection are read one after another and answered **in order**, including requests that
//!   arrived together in one write (pipelined) or in many small pieces.
//! - Every response carries `X-Conn-Id: <the connection id>`, `X-Request-Index: <n>` (1 for the first response
//!   on the connection, then 2, 3, …) and `Connection: keep-alive` or `Connection: close`, saying what the
//!   server does next. [`write_response`] writes the framing and the `Connection` header.
//! - The connection is kept open after a response ([`wants_keep_alive`]) when the request is `HTTP/1.1` without
//!   the token `close` in its `Connection` header, or `HTTP/1.0` with the token `keep-alive`. Tokens are
//!   case-insensitive and the header is a comma-separated list (`Connection: Keep-Alive, Upgrade`); a request
//!   with several `Connection` lines has the tokens of all of them.
//! - A connection carries at most `MAX_REQUESTS` requests: that response says `Connection: close`. After a
//!   `Connection: close` response the server closes the connection and answers nothing more on it, not even
//!   requests that already arrived.
//! - A request that cannot be read (malformed, too large) gets the error response of its
//!   `ParseError::response()`, with `Connection: close`, and the connection is closed: after a framing error the
//!   next bytes cannot be trusted.
//! - **Idle timeout**: when no request has arrived `IDLE_TIMEOUT_MS` after the previous response (or after the
//!   connection opened), the server closes the connection without a response. The grader allows slack: not
//!   before 80% of the timeout, and within the timeout plus 2.5 s. The timeout is per wait, not a lifetime:
//!   a client that keeps sending requests keeps its connection.
//! - Real clients work: `curl` with several URLs, and Python's `http.client`, reuse one connection.
//!
//! ## Pitfalls
//!
//! - A `BufReader` reads ahead: its buffer may already hold the next pipelined request. Make **one** reader per
//!   connection and keep it; a new `BufReader` per request throws those bytes away.
//! - `Connection: close` from the client, and the last allowed request, both end the connection *after* the
//!   response, and that response must say so.
//! - HTTP/1.0 is the other way round: it closes unless asked to keep alive.
//! - `set_read_timeout` on the socket makes a read fail with `WouldBlock` or `TimedOut` when nothing arrives:
//!   that is the idle timeout firing, not an error to report.
//! - A read timeout bounds each wait; it is not a deadline for a whole request, so a client sending one byte
//!   per (timeout - 1) seconds keeps a connection forever (slowloris). Real servers add a header deadline too.
//!
//! Roadmap: persistent connections [001 §1.10]; HTTP/1.1 head-of-line blocking vs HTTP/2 multiplexing
//! [001 §1.9].

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use backlings_harness::http::{Request, Response, read_request, reason};

/// How long a connection may wait for a request, and how many requests it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long to wait for the next request before closing the connection.
    pub idle_timeout: Duration,
    /// The most requests one connection carries.
    pub max_requests: u64,
}

impl Config {
    /// Provided: `IDLE_TIMEOUT_MS` (default 5000) and `MAX_REQUESTS` (default 100) from the environment.
    pub fn from_env() -> Config {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse::<u64>().ok())
                .filter(|&value| value > 0)
                .unwrap_or(default)
        };
        Config {
            idle_timeout: Duration::from_millis(number("IDLE_TIMEOUT_MS", 5000)),
            max_requests: number("MAX_REQUESTS", 100),
        }
    }
}

/// Provided: the application. `GET /echo/{text}` answers `{text}`, `POST /echo` the body, `GET /health`
/// `{"status":"ok"}`, anything else 404.
pub fn app(request: &Request) -> Response {
    let path = request.path();
    match (request.method.as_str(), path) {
        ("GET", "/health") => Response::new(200)
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"status":"ok"}"#),
        ("POST", "/echo") => Response::new(200)
            .with_header("Content-Type", "application/octet-stream")
            .with_body(request.body.clone()),
        ("GET", _) if path.starts_with("/echo/") => Response::text(200, &path["/echo/".len()..]),
        _ => Response::text(404, "not found\n"),
    }
}

/// Provided: writes `response` with its `Content-Length` and `Connection: keep-alive` or `Connection: close`.
pub fn write_response(
    out: &mut impl Write,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
        response.body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    out.write_all(&bytes)?;
    out.flush()
}

/// Whether the client lets the connection stay open after this request.
pub fn wants_keep_alive(request: &Request) -> bool {
    // TODO: HTTP/1.0 keeps the connection only with the token `keep-alive`, HTTP/1.1 unless the token `close`;
    //       look at the tokens of every `Connection` header, ignoring case.
    todo!("does the client let the connection stay open?")
}

/// Serves one connection: requests in order until the client or the server ends it, or it sits idle.
pub fn serve_connection(stream: TcpStream, conn_id: u64, config: &Config) -> io::Result<()> {
    // TODO: answer requests one after another until the connection ends: the client asks to close, the
    //       request limit is reached, a request cannot be read, the client goes away, or nothing arrives within
    //       the idle timeout. Every response gets `X-Conn-Id` and `X-Request-Index`, and says with
    //       `write_response` whether the connection stays open; after the last one, `close_gracefully`.
    todo!("serve one persistent connection")
}

/// Provided: you do not need to change this.
///
/// Closes a connection after its last response without losing that response: say we are done writing, then
/// read and discard what the client still sends (requests we will not answer) until it closes its side or a
/// short while passes. Closing with unread bytes would make the kernel send a reset, which can destroy the
/// response before the client reads it.
pub fn close_gracefully(mut stream: TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 8192];
    let mut drained = 0usize;
    while drained < 4 << 20 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Provided: you do not need to change this. Binds a free port on loopback, tells the grader where it is, and
/// serves each connection on its own thread with the next connection id.
fn main() -> io::Result<()> {
    let config = Config::from_env();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    io::stdout().flush()?;
    let next_id = AtomicU64::new(1);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let conn_id = next_id.fetch_add(1, Ordering::Relaxed);
        thread::spawn(move || {
            if let Err(error) = serve_connection(stream, conn_id, &config) {
                eprintln!("connection {conn_id}: {error}");
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Cursor};
    use std::time::Instant;

    fn request(raw: &str) -> Request {
        read_request(&mut Cursor::new(raw.as_bytes().to_vec())).unwrap()
    }

    /// Starts a server with `config` on its own thread and connects to it.
    fn connect(config: Config) -> (TcpStream, BufReader<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || {
            for (id, stream) in listener.incoming().enumerate() {
                let stream = stream.unwrap();
                thread::spawn(move || serve_connection(stream, id as u64 + 1, &config));
            }
        });
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        (stream, reader)
    }

    /// Reads one response: its head lines and its body (by Content-Length).
    fn response(reader: &mut impl BufRead) -> (Vec<String>, String) {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            head.push(line);
        }
        let length: usize = head
            .iter()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    fn is_closed(reader: &mut impl BufRead) -> bool {
        matches!(reader.fill_buf(), Ok([]))
    }

    const CONFIG: Config = Config {
        idle_timeout: Duration::from_secs(5),
        max_requests: 100,
    };

    // HTTP/1.1 keeps alive unless `close`; HTTP/1.0 closes unless `keep-alive`; tokens ignore case.
    #[test]
    fn decides_keep_alive_from_version_and_tokens() {
        assert!(wants_keep_alive(&request("GET / HTTP/1.1\r\n\r\n")));
        assert!(!wants_keep_alive(&request(
            "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n"
        )));
        assert!(!wants_keep_alive(&request("GET / HTTP/1.0\r\n\r\n")));
        assert!(wants_keep_alive(&request(
            "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
        )));
        assert!(!wants_keep_alive(&request(
            "GET / HTTP/1.1\r\nConnection: keep-alive\r\nconnection: close\r\n\r\n"
        )));
    }

    // Three pipelined requests in one write are answered in order on one connection.
    #[test]
    fn answers_pipelined_requests_in_order() {
        let (mut stream, mut reader) = connect(CONFIG);
        stream
            .write_all(b"GET /echo/a HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\nbGET /echo/c HTTP/1.1\r\n\r\n")
            .unwrap();
        for (index, body) in ["a", "b", "c"].iter().enumerate() {
            let (head, text) = response(&mut reader);
            assert_eq!(&text, body);
            assert!(
                head.contains(&"Connection: keep-alive".to_string()),
                "{head:?}"
            );
            assert!(
                head.contains(&format!("X-Request-Index: {}", index + 1)),
                "{head:?}"
            );
            assert!(head.contains(&"X-Conn-Id: 1".to_string()), "{head:?}");
        }
    }

    // `Connection: close` gets a close response, and a request sent after it is never answered.
    #[test]
    fn closes_when_the_client_asks() {
        let (mut stream, mut reader) = connect(CONFIG);
        stream
            .write_all(
                b"GET /echo/x HTTP/1.1\r\nConnection: close\r\n\r\nGET /echo/y HTTP/1.1\r\n\r\n",
            )
            .unwrap();
        let (head, body) = response(&mut reader);
        assert_eq!(body, "x");
        assert!(head.contains(&"Connection: close".to_string()), "{head:?}");
        assert!(is_closed(&mut reader));
    }

    // The last allowed request says `Connection: close`, then the connection ends.
    #[test]
    fn closes_after_max_requests() {
        let (mut stream, mut reader) = connect(Config {
            max_requests: 2,
            ..CONFIG
        });
        stream
            .write_all(b"GET /echo/1 HTTP/1.1\r\n\r\nGET /echo/2 HTTP/1.1\r\n\r\nGET /echo/3 HTTP/1.1\r\n\r\n")
            .unwrap();
        let (head, _) = response(&mut reader);
        assert!(
            head.contains(&"Connection: keep-alive".to_string()),
            "{head:?}"
        );
        let (head, body) = response(&mut reader);
        assert_eq!(body, "2");
        assert!(head.contains(&"Connection: close".to_string()), "{head:?}");
        assert!(is_closed(&mut reader));
    }

    // A connection that stays quiet is closed once the idle timeout has passed.
    #[test]
    fn closes_an_idle_connection() {
        let idle = Duration::from_millis(200);
        let (mut stream, mut reader) = connect(Config {
            idle_timeout: idle,
            ..CONFIG
        });
        stream.write_all(b"GET /health HTTP/1.1\r\n\r\n").unwrap();
        response(&mut reader);
        let started = Instant::now();
        assert!(is_closed(&mut reader));
        assert!(started.elapsed() >= idle / 2, "{:?}", started.elapsed());
    }
}
