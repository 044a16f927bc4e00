//! The origin behind the learner's proxy: an HTTP/1.1 server on `127.0.0.1:0` that serves versioned
//! resources with the caching headers the grader chose, answers `304` to a matching `If-None-Match`, and
//! logs every request it gets.
//!
//! The framework's `upstream` answers with a status only; a cache needs bodies, `Cache-Control`, `ETag` and
//! `Vary`, so this origin lives here. What it answers is a pure function of its resources
//! ([`Resources::answer`]), which the model calls too: the grader never guesses what the origin said.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use backlings_grade::Failure;

/// One resource of the origin.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The `Cache-Control` value sent, exactly (empty: no header).
    pub cache_control: String,
    /// Whether responses carry an `ETag`.
    pub has_etag: bool,
    /// The request header that chooses the variant (sent as `Vary`), if any.
    pub vary: Option<&'static str>,
    /// The body of the current version, before the variant suffix.
    pub body: String,
    /// Bumped by every deploy.
    pub version: u32,
}

impl Resource {
    /// The body served to a request whose `vary` header has `value`.
    pub fn body_for(&self, value: Option<&str>) -> String {
        match (self.vary, value) {
            (Some(name), Some(value)) => format!("{} ({name}: {value})\n", self.body),
            (Some(name), None) => format!("{} (no {name})\n", self.body),
            (None, _) => format!("{}\n", self.body),
        }
    }
}

/// One request as the origin saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub target: String,
    pub if_none_match: Option<String>,
}

/// What the origin answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    /// The first header named `name` (names as this origin writes them).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every resource, by request target.
#[derive(Debug, Clone, Default)]
pub struct Resources(pub BTreeMap<String, Resource>);

impl Resources {
    /// The origin's answer to `GET target` with `headers` (names compared case-insensitively).
    pub fn answer(&self, target: &str, headers: &[(String, String)]) -> Reply {
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let Some(resource) = self.0.get(target) else {
            return Reply {
                status: 404,
                headers: vec![("Content-Type", "text/plain".to_string())],
                body: format!("no resource at {target}\n"),
            };
        };
        let body = resource.body_for(resource.vary.and_then(find));
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        let mut out = vec![("Content-Type", "text/plain".to_string())];
        if !resource.cache_control.is_empty() {
            out.push(("Cache-Control", resource.cache_control.clone()));
        }
        if resource.has_etag {
            out.push(("ETag", etag.clone()));
        }
        if let Some(name) = resource.vary {
            out.push(("Vary", name.to_string()));
        }
        if resource.has_etag && find("if-none-match") == Some(etag.as_str()) {
            out.retain(|(name, _)| *name != "Content-Type");
            return Reply {
                status: 304,
                headers: out,
                body: String::new(),
            };
        }
        Reply {
            status: 200,
            headers: out,
            body,
        }
    }
}

/// FNV-1a 64: the origin's ETags.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[derive(Debug, Default)]
struct State {
    resources: Resources,
    seen: Vec<Seen>,
}

/// The running origin. Dropping it stops the server.
pub struct Origin {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Origin {
    /// Binds `127.0.0.1:0` and serves on a thread.
    pub fn start() -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Failure::new(format!("the grader could not start its origin: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("origin address: {e}")))?;
        let state = Arc::new(Mutex::new(State::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    thread::spawn(move || {
                        let _ = serve(stream, &state);
                    });
                }
            })
        };
        Ok(Origin {
            addr,
            state,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the resources as they are now.
    pub fn resources(&self) -> Resources {
        lock(&self.state).resources.clone()
    }

    /// Adds or replaces the resource at `target`.
    pub fn put(&self, target: &str, resource: Resource) {
        lock(&self.state)
            .resources
            .0
            .insert(target.to_string(), resource);
    }

    /// A deploy: the resource at `target` gets a new body (and so a new ETag).
    pub fn deploy(&self, target: &str, body: String) {
        if let Some(resource) = lock(&self.state).resources.0.get_mut(target) {
            resource.version += 1;
            resource.body = body;
        }
    }

    /// The requests logged since the last call, oldest first.
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut lock(&self.state).seen)
    }
}

impl Drop for Origin {
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

fn serve(stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0).min(64 * 1024);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let reply = {
        let mut state = lock(state);
        let if_none_match = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("if-none-match"))
            .map(|(_, v)| v.clone());
        state.seen.push(Seen {
            target: target.clone(),
            if_none_match,
        });
        state.resources.answer(&target, &headers)
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        match reply.status {
            200 => "OK",
            304 => "Not Modified",
            _ => "Not Found",
        }
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.body.len(),
        reply.body
    ));
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.flush()
}
