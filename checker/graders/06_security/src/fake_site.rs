//! A fake HTTP site on `127.0.0.1:0` that answers scripted responses with any headers (a redirect's
//! `Location`, say) and counts every request it receives. The framework's `upstream` answers bare statuses
//! only; SSRF grading needs redirects, and an "internal service" whose hit counter proves a request got in.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use backlings_grade::Failure;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    /// A `200` with a text body.
    pub fn ok(body: &str) -> Self {
        Page {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Page {
            status,
            headers: vec![("Location".to_string(), location.to_string())],
            body: String::new(),
        }
    }
}

#[derive(Default)]
struct State {
    pages: BTreeMap<String, Page>,
    /// Every request line received, in order.
    seen: Vec<String>,
}

/// The running site; dropping it stops the server.
pub struct FakeSite {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeSite {
    /// Binds `127.0.0.1:0` and serves `pages` (by path, query included); other paths get `404`.
    pub fn start(pages: BTreeMap<String, Page>) -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Failure::new(format!("the grader could not start a fake site: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("fake site address: {e}")))?;
        let state = Arc::new(Mutex::new(State {
            pages,
            seen: Vec::new(),
        }));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        let state = Arc::clone(&state);
                        thread::spawn(move || serve(stream, &state));
                    }
                }
            })
        };
        Ok(FakeSite {
            addr,
            state,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// Where the site listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request line received so far.
    pub fn seen(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clone()
    }
}

impl Drop for FakeSite {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    // Read the head to its end so the client is not reset mid-write.
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        line.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let page = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.seen.push(request_line.trim_end().to_string());
        state.pages.get(&path).cloned()
    };
    let page = page.unwrap_or(Page {
        status: 404,
        headers: Vec::new(),
        body: "not found\n".to_string(),
    });
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        page.status,
        page.body.len()
    );
    for (name, value) in &page.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(page.body.as_bytes());
    let _ = stream.flush();
}
