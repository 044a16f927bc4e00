//! A fake upstream that can **hold** a request: it records every request on arrival, answers `200` at once,
//! except the ones the grader asked it to hold, which wait until the grader releases them. That is how a
//! grader makes a learner's handler block in the middle of its work for as long as it likes, without racing
//! a sleep against the program: hold step 2, wait for the 504, release, and see whether step 3 (or the
//! commit) ever arrives.
//!
//! The framework's `upstream` answers at once or resets; this one is kept here until the framework has holds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use backlings_grade::Failure;

/// The longest a held request waits if the grader never releases it.
const HOLD_LIMIT: Duration = Duration::from_secs(15);
/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One request as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    seen: Vec<Seen>,
    /// Per path: how many more requests pass before the one to hold (a set of such countdowns).
    holds: BTreeMap<String, BTreeSet<usize>>,
    /// Requests to each path so far, for the countdowns.
    counts: BTreeMap<String, usize>,
    /// Requests being held right now.
    waiting: usize,
    /// Bumped by every release; a held request goes when it changes.
    releases: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running upstream. Dropping it releases everything held and stops it.
pub struct HeldUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl HeldUpstream {
    /// Binds `127.0.0.1:0` and serves on a thread.
    pub fn start() -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            Failure::new(format!("the grader could not start its fake upstream: {e}"))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("fake upstream address: {e}")))?;
        let shared = Arc::new(Shared::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (shared, stopping) = (Arc::clone(&shared), Arc::clone(&stopping));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || {
                        let _ = serve(stream, &shared);
                    });
                }
            })
        };
        Ok(HeldUpstream {
            addr,
            shared,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Holds the `nth` request to `path` from now on (0 is the next one) until [`HeldUpstream::release`].
    pub fn hold(&self, path: &str, nth: usize) {
        let mut state = self.shared.lock();
        let so_far = state.counts.get(path).copied().unwrap_or(0);
        state
            .holds
            .entry(path.to_string())
            .or_default()
            .insert(so_far + nth);
    }

    /// Waits until at least `count` requests are being held, at most `limit`; whether they are.
    pub fn wait_until_held(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        while state.waiting < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Lets every held request go (they are answered `200`), and cancels holds not yet reached.
    pub fn release(&self) {
        let mut state = self.shared.lock();
        state.releases += 1;
        state.holds.clear();
        self.shared.changed.notify_all();
    }

    /// Every request that arrived for `path`, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.shared
            .lock()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// Every request that arrived, in order.
    pub fn all_seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }
}

impl Drop for HeldUpstream {
    fn drop(&mut self) {
        self.release();
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(seen) = read_request(&mut reader)? else {
        return Ok(());
    };
    {
        let mut state = shared.lock();
        let index = {
            let count = state.counts.entry(seen.path.clone()).or_default();
            *count += 1;
            *count - 1
        };
        let held = state
            .holds
            .get_mut(&seen.path)
            .is_some_and(|holds| holds.remove(&index));
        state.seen.push(seen);
        if held {
            state.waiting += 1;
            shared.changed.notify_all();
            let releases = state.releases;
            let deadline = Instant::now() + HOLD_LIMIT;
            while state.releases == releases && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                state = shared
                    .changed
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            state.waiting -= 1;
        }
    }
    let body = "{\"ok\":true}";
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Reads one request head (and skips a `Content-Length` body); `None` if the client sent nothing.
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
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
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
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    io::copy(&mut reader.take(length), &mut io::sink())?;
    Ok(Some(Seen {
        method,
        path,
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nX-Request-Id: r1\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    // The held request waits until the release; the others are answered at once; all are recorded.
    #[test]
    fn holds_the_chosen_request_until_released() {
        let upstream = HeldUpstream::start().unwrap();
        let addr = upstream.addr();
        upstream.hold("/step", 1);
        assert!(get(addr, "/step").starts_with("HTTP/1.1 200"));
        let held = thread::spawn(move || get(addr, "/step"));
        assert!(upstream.wait_until_held(1, Duration::from_secs(5)));
        assert!(!held.is_finished());
        upstream.release();
        assert!(held.join().unwrap().starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/step").starts_with("HTTP/1.1 200"));
        let seen = upstream.seen("/step");
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].header("X-REQUEST-ID"), Some("r1"));
    }
}
