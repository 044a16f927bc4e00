//! The slow dependency behind a cache: a key-value store on loopback that logs every call it receives.
//!
//! The learner's program talks to it over TCP with one line per request (`GET key` → `VALUE v` or `NONE`,
//! `PUT key value` → `OK`), through a client the exercise provides. The grader reads the log to count loads
//! and saves exactly: a cache is judged by the traffic it spares (or causes) at the store, never by its own
//! word. `hold_gets` parks every `GET` until the grader releases it, so concurrent misses pile up in a known
//! state without any sleep deciding the outcome; `hold_gets_from_arrival` and `release_newest` stage the race
//! of a slow read against a write (the read saw the store before the write and answers after it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use backlings_grade::Failure;

/// The env var that carries the store's address to the program.
pub const STORE_ENV: &str = "BACKLINGS_STORE";

/// One call the store received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET key`, and what it answered.
    Get { key: String, found: Option<String> },
    /// `PUT key value`.
    Put { key: String, value: String },
    /// A line that is not a request of the protocol.
    Bad { line: String },
}

impl Call {
    /// The request line as the program sent it.
    pub fn request(&self) -> String {
        match self {
            Call::Get { key, .. } => format!("GET {key}"),
            Call::Put { key, value } => format!("PUT {key} {value}"),
            Call::Bad { line } => line.clone(),
        }
    }

    /// The store's answer line.
    pub fn answer(&self) -> String {
        match self {
            Call::Get {
                found: Some(value), ..
            } => format!("VALUE {value}"),
            Call::Get { found: None, .. } => "NONE".into(),
            Call::Put { .. } => "OK".into(),
            Call::Bad { .. } => "ERROR unknown request".into(),
        }
    }
}

#[derive(Default)]
struct State {
    data: BTreeMap<String, String>,
    calls: Vec<Call>,
    holding: bool,
    /// Whether a GET parked from now on answers the value the store held when it arrived.
    answer_arrival: bool,
    /// GETs parked by `hold_gets`, not yet answered.
    parked: usize,
    /// The tickets of the parked GETs, in arrival order.
    parked_tickets: BTreeSet<u64>,
    /// Parked GETs released one by one (`release_newest`).
    released: BTreeSet<u64>,
    next_ticket: u64,
}

struct Shared {
    state: Mutex<State>,
    released: Condvar,
    closed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running counting store; stopped (and every parked call released) when dropped.
pub struct CountingStore {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl CountingStore {
    /// Starts a store on `127.0.0.1:0`.
    pub fn start() -> Result<CountingStore, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Failure::new(format!("the grader could not start its store: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("the grader could not start its store: {e}")))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            closed: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.closed.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let serving = Arc::clone(&accepting);
                thread::spawn(move || serve(stream, &serving));
            }
        });
        Ok(CountingStore { addr, shared })
    }

    /// `ip:port`, the value of [`STORE_ENV`].
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Sets a value directly (another writer, or the data the store starts with): not logged.
    pub fn set(&self, key: &str, value: &str) {
        self.shared.lock().data.insert(key.into(), value.into());
    }

    /// The value held for `key`, read directly: not logged.
    #[cfg(test)]
    pub fn value(&self, key: &str) -> Option<String> {
        self.shared.lock().data.get(key).cloned()
    }

    /// Everything the store holds.
    pub fn contents(&self) -> BTreeMap<String, String> {
        self.shared.lock().data.clone()
    }

    /// The calls received since the last `take_calls`, in arrival order.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.shared.lock().calls)
    }

    /// From now on, every `GET` waits until [`CountingStore::release_gets`], then answers the value of that
    /// moment; a held `GET` is counted by [`CountingStore::wait_parked`] at once, and logged when answered.
    pub fn hold_gets(&self) {
        let mut state = self.shared.lock();
        state.holding = true;
        state.answer_arrival = false;
    }

    /// Like [`CountingStore::hold_gets`], but a parked `GET` answers the value the store held when it arrived: a
    /// slow read that took its snapshot before a write made while it was parked.
    pub fn hold_gets_from_arrival(&self) {
        let mut state = self.shared.lock();
        state.holding = true;
        state.answer_arrival = true;
    }

    /// Answers every parked `GET` and stops holding new ones.
    pub fn release_gets(&self) {
        self.shared.lock().holding = false;
        self.shared.released.notify_all();
    }

    /// Answers only the most recently parked `GET` (if any), and keeps holding the others and new ones.
    pub fn release_newest(&self) -> bool {
        let mut state = self.shared.lock();
        let Some(&newest) = state.parked_tickets.last() else {
            return false;
        };
        state.parked_tickets.remove(&newest);
        state.released.insert(newest);
        self.shared.released.notify_all();
        true
    }

    /// Waits until at least `count` GETs are parked, or `limit` has passed; returns how many are parked.
    pub fn wait_parked(&self, count: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let parked = self.shared.lock().parked;
            if parked >= count || Instant::now() >= deadline {
                return parked;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for CountingStore {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.release_gets();
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Answers one connection's requests until it closes.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let Ok(line) = line else { return };
        let line = line.trim_end_matches('\r').to_string();
        let words: Vec<&str> = line.split(' ').collect();
        let answer = match words.as_slice() {
            ["GET", key] => {
                let mut state = shared.lock();
                let mut arrival_value = None;
                if state.holding {
                    let ticket = state.next_ticket;
                    state.next_ticket += 1;
                    if state.answer_arrival {
                        arrival_value = Some(state.data.get(*key).cloned());
                    }
                    state.parked += 1;
                    state.parked_tickets.insert(ticket);
                    while state.holding
                        && !state.released.contains(&ticket)
                        && !shared.closed.load(Ordering::SeqCst)
                    {
                        state = shared
                            .released
                            .wait(state)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    state.parked -= 1;
                    state.parked_tickets.remove(&ticket);
                    state.released.remove(&ticket);
                }
                // Unless told otherwise, read after the release: a value written while the call was parked is
                // what it sees.
                let found = arrival_value.unwrap_or_else(|| state.data.get(*key).cloned());
                // Logged when answered, so the log reads in the order the program saw the answers.
                state.calls.push(Call::Get {
                    key: (*key).into(),
                    found: found.clone(),
                });
                match found {
                    Some(value) => format!("VALUE {value}"),
                    None => "NONE".into(),
                }
            }
            ["PUT", key, value] => {
                let mut state = shared.lock();
                state.data.insert((*key).into(), (*value).into());
                state.calls.push(Call::Put {
                    key: (*key).into(),
                    value: (*value).into(),
                });
                "OK".into()
            }
            _ => {
                shared.lock().calls.push(Call::Bad { line: line.clone() });
                "ERROR unknown request".into()
            }
        };
        if writer
            .write_all(format!("{answer}\n").as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // GET and PUT answer as documented, and every call is logged in order with what it saw.
    #[test]
    fn logs_gets_and_puts() {
        let store = CountingStore::start().unwrap();
        store.set("1", "10");
        let stream = TcpStream::connect(store.addr()).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut ask = |line: &str| {
            writer.write_all(format!("{line}\n").as_bytes()).unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            answer.trim_end().to_string()
        };
        assert_eq!(ask("GET 1"), "VALUE 10");
        assert_eq!(ask("GET 2"), "NONE");
        assert_eq!(ask("PUT 2 20"), "OK");
        assert_eq!(ask("HELLO"), "ERROR unknown request");
        let calls = store.take_calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[0].answer(), "VALUE 10");
        assert_eq!(calls[2].request(), "PUT 2 20");
        assert_eq!(store.value("2").as_deref(), Some("20"));
        assert!(store.take_calls().is_empty());
    }

    // A held GET is parked at once, but answered (and logged) only after the release, with the value of that
    // moment.
    #[test]
    fn held_gets_wait_for_the_release() {
        let store = CountingStore::start().unwrap();
        store.hold_gets();
        let addr = store.addr();
        let client = thread::spawn(move || {
            let stream = TcpStream::connect(addr).unwrap();
            let mut writer = stream.try_clone().unwrap();
            writer.write_all(b"GET 1\n").unwrap();
            let mut answer = String::new();
            BufReader::new(stream).read_line(&mut answer).unwrap();
            answer
        });
        assert_eq!(store.wait_parked(1, Duration::from_secs(5)), 1);
        store.set("1", "10");
        store.release_gets();
        assert_eq!(client.join().unwrap(), "VALUE 10\n");
        assert_eq!(store.take_calls()[0].answer(), "VALUE 10");
    }
}
