//! mutant: writes Connection: close but keeps reading and answering requests
//! expect: the server closes the connection
//!
//! A wrong solution of `http3_keep_alive` (see `solutions/01_http/http3_keep_alive.rs`); the grader must reject it.

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
    let has = |wanted: &str| {
        request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, value)| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(wanted))
    };
    if request.version == "HTTP/1.0" {
        has("keep-alive")
    } else {
        !has("close")
    }
}

/// Serves one connection: requests in order until the client or the server ends it, or it sits idle.
pub fn serve_connection(stream: TcpStream, conn_id: u64, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A wait longer than this for the next bytes ends the connection: the idle timeout.
    stream.set_read_timeout(Some(config.idle_timeout))?;
    // One reader for the whole connection: its buffer may already hold the next pipelined request.
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut served = 0u64;
    loop {
        let (response, keep_alive) = match read_request(&mut reader) {
            Ok(request) => {
                let keep_alive = wants_keep_alive(&request) && served + 1 < config.max_requests;
                (app(&request), keep_alive)
            }
            Err(error) => match error.response() {
                Some(refusal) => (refusal, false),
                // The client closed, went quiet past the idle timeout, or failed: nobody to answer.
                None => return Ok(()),
            },
        };
        served += 1;
        let response = response
            .with_header("X-Conn-Id", conn_id)
            .with_header("X-Request-Index", served);
        // The mistake: the response says `Connection: close`, but the loop goes on reading requests.
        write_response(&mut writer, &response, keep_alive)?;
    }
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
