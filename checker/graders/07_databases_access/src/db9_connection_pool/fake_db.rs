//! A fake database on loopback that counts connections and lets the grader hold queries.
//!
//! The wire (what the exercise's `Conn` speaks): the server greets with `HELLO <id>`; `PING` answers
//! `PONG`; `QUERY <sql>` answers `OK <result>` where the result is [`result_of`] the SQL text. A query
//! whose SQL starts with `hold` is answered only when the grader releases it, which keeps its
//! connection busy for exactly as long as the grader wants; `QUERY crash` makes the server close
//! the connection without an answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use backlings_grade::Failure;

/// How long a held query waits for its release before the server answers it anyway.
const HOLD_LIMIT: Duration = Duration::from_secs(20);

/// The answer the server gives to a query: FNV-1a of its text, in hex.
pub fn result_of(sql: &str) -> String {
    let hash = sql.bytes().fold(0xCBF2_9CE4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    format!("{hash:016x}")
}

/// What the server has seen.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Connections open now.
    pub open: usize,
    /// The most connections ever open at once.
    pub max_open: usize,
    /// Connections accepted in all.
    pub opened: u64,
}

#[derive(Default)]
struct State {
    counts: Counts,
    /// Open connections, by id: a clone of the socket, to close it from the grader.
    sockets: HashMap<u64, TcpStream>,
}

impl State {
    /// Forgets a connection; true when it was still counted as open.
    fn close(&mut self, id: u64) -> bool {
        match self.sockets.remove(&id) {
            Some(socket) => {
                let _ = socket.shutdown(Shutdown::Both);
                self.counts.open -= 1;
                true
            }
            None => false,
        }
    }
}

/// A query the server holds until [`Held::release`].
pub struct Held {
    release: Sender<()>,
}

impl Held {
    /// Lets the server answer the query.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

/// The running fake database; stopped (every socket closed) on drop.
pub struct FakeDb {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    held: Receiver<Held>,
    stopping: Arc<AtomicBool>,
}

impl FakeDb {
    /// Binds `127.0.0.1:0` and accepts connections on a thread.
    pub fn start() -> Result<FakeDb, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            Failure::new(format!("the grader could not start its fake database: {e}"))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("the fake database has no address: {e}")))?;
        let state = Arc::new(Mutex::new(State::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (held_tx, held) = mpsc::channel();
        let (accept_state, accept_stopping) = (Arc::clone(&state), Arc::clone(&stopping));
        thread::spawn(move || {
            for (id, stream) in (1..).zip(listener.incoming()) {
                if accept_stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                {
                    let mut state = lock(&accept_state);
                    state.counts.open += 1;
                    state.counts.opened += 1;
                    state.counts.max_open = state.counts.max_open.max(state.counts.open);
                    state.sockets.insert(id, clone);
                }
                let (state, held_tx) = (Arc::clone(&accept_state), held_tx.clone());
                thread::spawn(move || serve(id, stream, &state, &held_tx));
            }
        });
        Ok(FakeDb {
            addr,
            state,
            held,
            stopping,
        })
    }

    /// `ip:port`, for `DB_ADDR`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        lock(&self.state).counts
    }

    /// The next held query, if one arrives within `timeout`.
    pub fn next_held(&self, timeout: Duration) -> Option<Held> {
        self.held.recv_timeout(timeout).ok()
    }

    /// Closes every open connection from the server side, as a database restart would.
    pub fn close_all(&self) -> usize {
        let mut state = lock(&self.state);
        let ids: Vec<u64> = state.sockets.keys().copied().collect();
        ids.iter().filter(|&&id| state.close(id)).count()
    }
}

impl Drop for FakeDb {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.close_all();
        // Wake the accept loop so it sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves one connection until it closes.
fn serve(id: u64, stream: TcpStream, state: &Mutex<State>, held: &Sender<Held>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut answer = |line: String| writer.write_all(line.as_bytes()).is_ok();
    if answer(format!("HELLO {id}\n")) {
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            let request = line.trim_end().to_string();
            line.clear();
            let reply = if request == "PING" {
                "PONG".to_string()
            } else if let Some(sql) = request.strip_prefix("QUERY ") {
                if sql == "crash" {
                    break;
                }
                if sql.starts_with("hold") {
                    let (release, released) = mpsc::channel();
                    if held.send(Held { release }).is_err() {
                        break;
                    }
                    let _ = released.recv_timeout(HOLD_LIMIT);
                }
                format!("OK {}", result_of(sql))
            } else {
                format!("ERR unknown command {request:?}")
            };
            if !answer(format!("{reply}\n")) {
                break;
            }
        }
    }
    lock(state).close(id);
}
