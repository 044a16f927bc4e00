//! A scripted fake upstream: a tiny HTTP/1.1 server on `127.0.0.1:0` that a learner's *client*
//! calls (a flaky dependency, a counting store behind HTTP).
//!
//! Graders of clients play the dependency: for each
//! path the grader scripts what the next requests get (a status, a status with `Retry-After`, or a
//! connection reset), and afterwards reads the log of every request that arrived. Counting at the
//! server is what makes retries observable from outside.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::failure::Failure;

/// How long the upstream waits for a request's bytes before giving up on a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head or body the upstream reads.
const REQUEST_CAP: usize = 64 * 1024;

/// What the upstream does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answers with this status, and a `Retry-After: <seconds>` header when given.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Reads the request, then resets the connection without answering.
    Reset,
}

impl Reply {
    /// A plain answer with `status`.
    pub fn status(status: u16) -> Self {
        Reply::Status {
            status,
            retry_after: None,
        }
    }

    /// How the reply reads in a report: `503`, `429 + Retry-After: 2`, `connection reset`.
    pub fn describe(&self) -> String {
        match self {
            Reply::Status {
                status,
                retry_after: None,
            } => status.to_string(),
            Reply::Status {
                status,
                retry_after: Some(s),
            } => format!("{status} + Retry-After: {s}"),
            Reply::Reset => "connection reset".to_string(),
        }
    }
}

/// One request as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Script {
    /// Replies still to give, in order.
    next: VecDeque<Reply>,
    /// The reply once `next` is used up.
    then: Option<Reply>,
}

#[derive(Debug, Default)]
struct State {
    scripts: BTreeMap<String, Script>,
    seen: Vec<Seen>,
}

/// The running fake upstream. Dropping it stops the server.
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Binds `127.0.0.1:0` and starts serving on a thread.
    pub fn start() -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            Failure::new(format!("the grader could not start its fake upstream: {e}"))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("fake upstream address: {e}")))?;
        let state = Arc::new(Mutex::new(State::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
            thread::spawn(move || accept_loop(&listener, &state, &stopping))
        };
        Ok(Upstream {
            addr,
            state,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Scripts `path`: the next requests get `replies` in order, every later one gets `then`.
    pub fn script(&self, path: &str, replies: Vec<Reply>, then: Reply) {
        let script = Script {
            next: replies.into(),
            then: Some(then),
        };
        lock(&self.state).scripts.insert(path.to_string(), script);
    }

    /// Every request that arrived for `path`, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        lock(&self.state)
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: &TcpListener, state: &Arc<Mutex<State>>, stopping: &AtomicBool) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = Arc::clone(state);
        // One thread per connection: a client that stalls mid-request must not block the next
        // attempt.
        thread::spawn(move || {
            let _ = serve(stream, &state);
        });
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(seen) = read_request(&mut reader)? else {
        return Ok(());
    };
    let reply = {
        let mut state = lock(state);
        let reply = match state.scripts.get_mut(&seen.path) {
            Some(script) => script.next.pop_front().or_else(|| script.then.clone()),
            None => None,
        };
        state.seen.push(seen);
        reply.unwrap_or(Reply::status(404))
    };
    match reply {
        Reply::Reset => reset(&stream),
        Reply::Status {
            status,
            retry_after,
        } => {
            let body = format!("{status} from the fake upstream\n");
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(status),
                body.len()
            );
            if let Some(seconds) = retry_after {
                head.push_str(&format!("Retry-After: {seconds}\r\n"));
            }
            head.push_str("\r\n");
            let mut stream = stream;
            stream.write_all(head.as_bytes())?;
            stream.write_all(body.as_bytes())?;
            stream.flush()
        }
    }
}

/// Reads one request head and its `Content-Length` body; `None` when the client closed without
/// sending one.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Seen>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (method, path) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        head_bytes += n;
        if n == 0 || head_bytes > REQUEST_CAP {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request head cut short",
            ));
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(REQUEST_CAP);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

/// Closes with an RST instead of a FIN: the client sees "connection reset by peer", as with a
/// crashed server.
fn reset(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor owned by `stream`, and a correctly sized `linger` value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(upstream: &Upstream, path: &str) -> io::Result<String> {
        let mut stream = TcpStream::connect(upstream.addr)?;
        stream.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n\r\n").as_bytes(),
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    // The script is played in order, then the final reply repeats; every request is logged.
    #[test]
    fn plays_the_script_then_repeats_the_last_reply() {
        let upstream = Upstream::start().unwrap();
        let busy = Reply::Status {
            status: 429,
            retry_after: Some(2),
        };
        upstream.script("/a", vec![busy, Reply::Reset], Reply::status(200));
        let first = get(&upstream, "/a").unwrap();
        assert!(
            first.starts_with("HTTP/1.1 429") && first.contains("Retry-After: 2"),
            "{first}"
        );
        assert!(get(&upstream, "/a").map_or(true, |text| text.is_empty()));
        assert!(get(&upstream, "/a").unwrap().starts_with("HTTP/1.1 200"));
        assert!(get(&upstream, "/a").unwrap().starts_with("HTTP/1.1 200"));
        let seen = upstream.seen("/a");
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[1].header("IDEMPOTENCY-KEY"), Some("k"));
        assert!(
            get(&upstream, "/unscripted")
                .unwrap()
                .starts_with("HTTP/1.1 404")
        );
    }
}
