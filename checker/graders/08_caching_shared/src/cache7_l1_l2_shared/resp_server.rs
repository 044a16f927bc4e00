//! The Redis-compatible servers the `cache7_l1_l2_shared` grader runs: the shared L2 cache and the
//! stand-in database both speak RESP2, so the program needs one client library (the `redis` crate).
//!
//! Commands run on the reference keyspace of `cache6_redis_lite` ([`Model`]) whose clock the grader sets;
//! `SUBSCRIBE`/`PUBLISH` are handled here. A server can listen on several ports that share one keyspace:
//! each instance of the program gets its own port, so every command in the log says which instance sent
//! it. Deliveries to one instance can be dropped, to play a lost pub/sub message.

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use backlings_grade::Failure;

use crate::cache6_redis_lite::model::{Model, R};

/// One command as the server received it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Which port (instance) it came in on.
    pub tag: usize,
    /// The command name in capitals, then its arguments.
    pub args: Vec<String>,
    pub reply: R,
}

impl Logged {
    /// `SET cache:item:a "v1" PX 30000 → +OK`, for failure reports.
    pub fn describe(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 0 || (!a.is_empty() && a.bytes().all(|b| b.is_ascii_graphic())) {
                    a.clone()
                } else {
                    format!("{a:?}")
                }
            })
            .collect();
        format!("{} → {}", args.join(" "), self.reply)
    }
}

struct Subscriber {
    tag: usize,
    connection: u64,
    channels: BTreeSet<String>,
    writer: TcpStream,
}

#[derive(Default)]
struct State {
    model: Model,
    log: Vec<Logged>,
    subscribers: Vec<Subscriber>,
    /// Messages published to this tag are lost (not written) while set.
    dropping: Option<usize>,
    /// Messages written to each tag's subscribers.
    delivered: Vec<u64>,
    /// Every connection, to shut them all down at the end.
    streams: Vec<TcpStream>,
    next_connection: u64,
}

/// A running server. Dropping it closes every listener and connection.
pub struct RespServer {
    addrs: Vec<SocketAddr>,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
}

impl RespServer {
    /// Listens on `ports` ports of `127.0.0.1` that share one keyspace; `what` names it in errors.
    pub fn start(what: &str, ports: usize) -> Result<Self, Failure> {
        let state = Arc::new(Mutex::new(State {
            delivered: vec![0; ports],
            ..State::default()
        }));
        let stopping = Arc::new(AtomicBool::new(false));
        let mut addrs = Vec::new();
        let mut acceptors = Vec::new();
        for tag in 0..ports {
            let bound = TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?, l)));
            let (addr, listener) = bound
                .map_err(|e| Failure::new(format!("the grader could not start its {what}: {e}")))?;
            addrs.push(addr);
            let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
            acceptors.push(thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    thread::spawn(move || {
                        let _ = serve(stream, tag, &state);
                    });
                }
            }));
        }
        Ok(RespServer {
            addrs,
            state,
            stopping,
            acceptors,
        })
    }

    /// `redis://127.0.0.1:PORT/` of port `tag`.
    pub fn url(&self, tag: usize) -> String {
        format!("redis://{}/", self.addrs[tag])
    }

    /// Sets the server's clock (the keyspace's expiry deadlines are on it).
    pub fn set_now(&self, now_ms: u64) {
        lock(&self.state).model.now = now_ms;
    }

    /// Runs a command on the keyspace directly, unlogged (to seed data or inspect it).
    pub fn run(&self, args: &[&str]) -> R {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        lock(&self.state).model.run(&args)
    }

    /// The live string at `key` and its deadline (none without an expiry), read without logging.
    pub fn peek(&self, key: &str) -> Option<(String, Option<u64>)> {
        let mut state = lock(&self.state);
        let now = state.model.now;
        let value = match state.model.run(&["GET".to_string(), key.to_string()]) {
            R::Bulk(value) => value,
            _ => return None,
        };
        let deadline = match state.model.run(&["PTTL".to_string(), key.to_string()]) {
            R::Int(ms) if ms >= 0 => Some(now + ms as u64),
            _ => None,
        };
        Some((value, deadline))
    }

    /// The commands received since the last call, oldest first.
    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut lock(&self.state).log)
    }

    /// Loses (or, with `None`, delivers again) every message published to the subscribers of `tag`.
    pub fn drop_deliveries_to(&self, tag: Option<usize>) {
        lock(&self.state).dropping = tag;
    }

    /// How many messages were written to the subscribers of `tag` so far.
    pub fn delivered(&self, tag: usize) -> u64 {
        lock(&self.state).delivered[tag]
    }

    /// How many connections of `tag` are subscribed to `channel`.
    pub fn subscribers(&self, tag: usize, channel: &str) -> usize {
        lock(&self.state)
            .subscribers
            .iter()
            .filter(|s| s.tag == tag && s.channels.contains(channel))
            .count()
    }
}

impl Drop for RespServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for stream in lock(&self.state).streams.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake each blocking accept() so its thread sees the flag.
        for addr in &self.addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(stream: TcpStream, tag: usize, state: &Mutex<State>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let connection = {
        let mut state = lock(state);
        state.streams.push(stream.try_clone()?);
        state.next_connection += 1;
        state.next_connection
    };
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(args) = read_command(&mut reader)? {
        // The command runs and its reply is written under the lock, so a PUBLISH and the replies of a
        // subscriber connection never interleave on one socket.
        let mut state = lock(state);
        let out = execute(&mut state, tag, connection, &writer, args)?;
        writer.write_all(&out)?;
    }
    let mut state = lock(state);
    state.subscribers.retain(|s| s.connection != connection);
    Ok(())
}

/// Runs one command and returns the bytes of its reply.
fn execute(
    state: &mut State,
    tag: usize,
    connection: u64,
    writer: &TcpStream,
    mut args: Vec<String>,
) -> io::Result<Vec<u8>> {
    if let Some(name) = args.first_mut() {
        *name = name.to_ascii_uppercase();
    }
    let mut out = Vec::new();
    let reply = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["SUBSCRIBE", channels @ ..] if !channels.is_empty() => {
            let at = match state
                .subscribers
                .iter()
                .position(|s| s.connection == connection)
            {
                Some(at) => at,
                None => {
                    state.subscribers.push(Subscriber {
                        tag,
                        connection,
                        channels: BTreeSet::new(),
                        writer: writer.try_clone()?,
                    });
                    state.subscribers.len() - 1
                }
            };
            let mut replies = Vec::new();
            for channel in channels {
                let subscriber = &mut state.subscribers[at];
                subscriber.channels.insert(channel.to_string());
                let reply = R::Arr(vec![
                    R::Bulk("subscribe".to_string()),
                    R::Bulk(channel.to_string()),
                    R::Int(subscriber.channels.len() as i64),
                ]);
                encode(&reply, &mut out);
                replies.push(reply);
            }
            R::Arr(replies)
        }
        ["UNSUBSCRIBE" | "PUNSUBSCRIBE", ..] => {
            let kind = args[0].to_ascii_lowercase();
            state.subscribers.retain(|s| s.connection != connection);
            let reply = R::Arr(vec![R::Bulk(kind), R::Nil, R::Int(0)]);
            encode(&reply, &mut out);
            reply
        }
        ["PUBLISH", channel, message] => {
            let push = {
                let mut bytes = Vec::new();
                let message = R::Arr(vec![
                    R::Bulk("message".to_string()),
                    R::Bulk(channel.to_string()),
                    R::Bulk(message.to_string()),
                ]);
                encode(&message, &mut bytes);
                bytes
            };
            let mut receivers = 0;
            let dropping = state.dropping;
            let mut delivered_to = Vec::new();
            for subscriber in &mut state.subscribers {
                if !subscriber.channels.contains(*channel) || dropping == Some(subscriber.tag) {
                    continue;
                }
                if subscriber.writer.write_all(&push).is_ok() {
                    receivers += 1;
                    delivered_to.push(subscriber.tag);
                }
            }
            for tag in delivered_to {
                state.delivered[tag] += 1;
            }
            let reply = R::Int(receivers);
            encode(&reply, &mut out);
            reply
        }
        _ => {
            let reply = state.model.run(&args);
            encode(&reply, &mut out);
            reply
        }
    };
    state.log.push(Logged { tag, args, reply });
    Ok(out)
}

/// Reads one command (an array of bulk strings, or an inline command); `None` at end of input.
fn read_command(reader: &mut impl BufRead) -> io::Result<Option<Vec<String>>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim_end();
    let Some(count) = line.strip_prefix('*') else {
        return Ok(Some(line.split_whitespace().map(str::to_string).collect()));
    };
    let count: usize = count.parse().map_err(|_| bad("bad array length"))?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let length: usize = header
            .trim_end()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("expected a bulk string"))?;
        let mut bytes = vec![0; length + 2];
        reader.read_exact(&mut bytes)?;
        bytes.truncate(length);
        args.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(Some(args))
}

/// Appends the RESP2 encoding of `reply` to `out`.
fn encode(reply: &R, out: &mut Vec<u8>) {
    match reply {
        R::Nil => out.extend_from_slice(b"$-1\r\n"),
        R::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        R::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        R::Err(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        R::Bulk(s) => {
            out.extend_from_slice(format!("${}\r\n", s.len()).as_bytes());
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        R::Arr(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                encode(item, out);
            }
        }
    }
}
