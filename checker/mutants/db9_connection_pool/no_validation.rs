//! mutant: hands out idle connections without checking they are still alive
//! expect: dead one
//! # A connection pool: bounded, reused, validated, with a checkout timeout
//!
//! Opening a database connection is expensive: a TCP handshake, often TLS, authentication, session
//! setup; tens of milliseconds against a query that takes one. And a database accepts only so many
//! connections (PostgreSQL's `max_connections` is 100 by default, and each one is a process with
//! its own memory). So a service never opens a connection per request: it keeps a **pool** of open
//! connections, hands one out for the length of a query (a *checkout*), and takes it back
//! afterwards. Every production stack has one: sqlx's `PgPool`, deadpool, bb8, r2d2, HikariCP,
//! pgbouncer in front of the database itself.
//!
//! A pool makes four promises, and this exercise builds them with tokio:
//!
//! 1. **A bound.** Never more than `max_size` connections at once, however many requests arrive.
//!    A burst of 1 000 requests must not become 1 000 connections: the database would refuse them
//!    or fall over. A `tokio::sync::Semaphore` with `max_size` permits is the bound: holding a
//!    permit is the right to hold a connection.
//! 2. **Reuse.** A connection goes back to the pool when the request is done, and the next request
//!    gets it instead of opening a new one. In Rust the return is **RAII**: the checked-out
//!    connection is a guard (`PooledConn`) whose `Drop` puts the connection back, so an early `?`
//!    or a panic cannot leak it.
//! 3. **A checkout timeout.** When every connection is busy a request waits, but not forever: after
//!    `checkout_timeout` it gives up, and the service answers `503 Service Unavailable` at once
//!    instead of piling up requests until everything times out (fail fast, shed load).
//! 4. **Validation.** A pooled connection can die while idle: the database restarted, a firewall
//!    dropped an idle TCP flow, a proxy closed it. Handing out a dead connection turns one hiccup
//!    into a failed request. Validate on checkout (here a `PING`, what HikariCP's
//!    `connectionTestQuery` or sqlx's `test_before_acquire` do), throw away the dead one, and open a
//!    fresh one in its place. And a connection whose query failed mid-way is *broken*: it must never
//!    go back into the pool.
//!
//! ## The contract the grader checks
//!
//! The grader runs a fake database on loopback (its address is in `DB_ADDR`) that counts every
//! connection and can hold queries until it lets them go, and it starts this program with
//! `POOL_MAX_SIZE` and `POOL_CHECKOUT_TIMEOUT_MS`. It then sends queries, many at once:
//!
//! - the database never sees more than `max_size` connections open at once;
//! - sequential queries use one connection, and a burst of 40 queries on a pool of 4 opens 4;
//! - when every connection is held, one more query waits for one to come back, or after the
//!   checkout timeout (not before it) is answered 503, and the pool still works afterwards;
//! - after the database closes every idle connection, queries still succeed on fresh ones;
//! - a query whose connection dies mid-way is answered 500, and later queries succeed.
//!
//! ## Pitfalls
//!
//! - Bounding only the *idle* list: 40 concurrent requests find it empty and open 40 connections.
//! - Releasing the permit but dropping the connection (or the other way round): either the pool
//!   opens a new connection every time, or waiting requests are never woken.
//! - Failing at once when the pool is busy (`try_acquire`) instead of waiting up to the timeout.
//! - Holding a `std::sync::Mutex` guard across an `.await` (here: across a `PING`): the future is
//!   not `Send`, and a slow ping blocks every other checkout.
//! - Returning a broken connection to the pool, where the next request trips over it.
//!
//! Roadmap: Databases, connection pooling; Resilience, timeouts and load shedding.

use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A client connection to the (fake) database. Provided: you do not need to change this.
///
/// The wire: the server greets with `HELLO <id>`; `PING` answers `PONG`; `QUERY <sql>` answers
/// `OK <result>`. A closed connection shows up as an error on the next call.
pub struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// The server's number for this connection.
    pub id: u64,
}

impl Conn {
    /// Opens a connection and reads the greeting.
    pub async fn connect(addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let mut conn = Conn {
            reader: BufReader::new(reader),
            writer,
            id: 0,
        };
        let hello = conn.read_line().await?;
        conn.id = hello
            .strip_prefix("HELLO ")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad greeting {hello:?}")))?;
        Ok(conn)
    }

    /// Checks that the connection is alive: `PING` → `PONG`.
    pub async fn ping(&mut self) -> io::Result<()> {
        self.writer.write_all(b"PING\n").await?;
        match self.read_line().await?.as_str() {
            "PONG" => Ok(()),
            other => Err(io::Error::other(format!("bad answer to PING: {other:?}"))),
        }
    }

    /// Runs one query and returns its result.
    pub async fn query(&mut self, sql: &str) -> io::Result<String> {
        self.writer
            .write_all(format!("QUERY {sql}\n").as_bytes())
            .await?;
        let line = self.read_line().await?;
        line.strip_prefix("OK ")
            .map(str::to_string)
            .ok_or_else(|| io::Error::other(format!("query failed: {line:?}")))
    }

    async fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(line.trim_end().to_string())
    }
}

/// How the pool is set up.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The database's address, `ip:port`.
    pub addr: String,
    /// The most connections open at once.
    pub max_size: usize,
    /// How long a checkout may wait for a connection before giving up.
    pub checkout_timeout: Duration,
}

/// Why a checkout failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("no connection became free within the checkout timeout")]
    Timeout,
    #[error("could not connect to the database: {0}")]
    Connect(#[from] io::Error),
}

/// What every checkout shares.
struct Shared {
    config: PoolConfig,
    /// Open connections nobody is using.
    idle: Mutex<Vec<Conn>>,
    /// One permit per connection that may be open: holding one is the right to hold a connection.
    permits: Arc<Semaphore>,
}

/// A pool of connections. Cloning it gives another handle to the same pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// A checked-out connection. It derefs to [`Conn`]; dropping it gives the connection back.
pub struct PooledConn {
    /// `Some` until `drop` takes it.
    conn: Option<Conn>,
    /// Dropped together with the connection guard, after the connection is back in `idle`.
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
    broken: bool,
}

impl PooledConn {
    /// Marks the connection as unusable (a query failed on it): it must not go back to the pool.
    /// Provided: you do not need to change this.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl Deref for PooledConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a PooledConn holds its connection until dropped")
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a PooledConn holds its connection until dropped")
    }
}

impl Pool {
    /// An empty pool: connections are opened on demand, up to `config.max_size`.
    pub fn new(config: PoolConfig) -> Pool {
        let permits = Arc::new(Semaphore::new(config.max_size));
        Pool {
            shared: Arc::new(Shared {
                config,
                idle: Mutex::new(Vec::new()),
                permits,
            }),
        }
    }

    /// Checks out a connection: waits (at most the checkout timeout) for a permit, then reuses an
    /// idle connection that answers a ping, or opens a new one.
    pub async fn get(&self) -> Result<PooledConn, PoolError> {
        let permit = tokio::time::timeout(
            self.shared.config.checkout_timeout,
            Arc::clone(&self.shared.permits).acquire_owned(),
        )
        .await
        .map_err(|_| PoolError::Timeout)?
        .expect("the pool never closes its semaphore");
        loop {
            // Take the guard in its own statement: it must be gone before the `.await` below.
            let idle = self
                .shared
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let Some(mut conn) = idle else { break };
            if conn.id > 0 {
                return Ok(self.guard(conn, permit));
            }
            // A dead idle connection: drop it and try the next one.
        }
        let conn = Conn::connect(&self.shared.config.addr).await?;
        Ok(self.guard(conn, permit))
    }

    fn guard(&self, conn: Conn, permit: OwnedSemaphorePermit) -> PooledConn {
        PooledConn {
            conn: Some(conn),
            permit: Some(permit),
            shared: Arc::clone(&self.shared),
            broken: false,
        }
    }
}

impl Drop for PooledConn {
    /// Gives a healthy connection back to the idle list, then frees its permit (a broken one is
    /// closed instead).
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !self.broken
        {
            self.shared
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
        // Free the permit last: a waiter woken by it must find the connection already idle.
        drop(self.permit.take());
    }
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It reads the pool's settings from the
// environment (`DB_ADDR`, `POOL_MAX_SIZE`, `POOL_CHECKOUT_TIMEOUT_MS`) and serves the grader over
// JSON lines, every request on its own task, so that many queries are in flight at once:
//
//   {"op":"query","id":7,"sql":"SELECT 1"}
//       -> {"id":7,"status":200,"result":"…"}   the query ran
//       -> {"id":7,"status":503}                no connection within the checkout timeout
//       -> {"id":7,"status":500,"error":"…"}    the connection failed (it is marked broken)
//
// Replies come in the order queries finish, each tagged with its request's id.

mod provided {
    use std::io::{BufRead, Write};

    use serde::Deserialize;
    use serde_json::{Value, json};
    use tokio::sync::mpsc;

    use super::*;

    #[derive(Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Request {
        Query { id: u64, sql: String },
    }

    async fn handle(pool: Pool, id: u64, sql: String) -> Value {
        match pool.get().await {
            Ok(mut conn) => match conn.query(&sql).await {
                Ok(result) => json!({"id": id, "status": 200, "result": result}),
                Err(error) => {
                    conn.mark_broken();
                    json!({"id": id, "status": 500, "error": error.to_string()})
                }
            },
            Err(PoolError::Timeout) => json!({"id": id, "status": 503}),
            Err(error) => json!({"id": id, "status": 500, "error": error.to_string()}),
        }
    }

    fn setting(name: &str, default: u64) -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    }

    #[tokio::main]
    pub async fn main() {
        let pool = Pool::new(PoolConfig {
            addr: std::env::var("DB_ADDR").unwrap_or_else(|_| "127.0.0.1:5432".to_string()),
            max_size: setting("POOL_MAX_SIZE", 4) as usize,
            checkout_timeout: Duration::from_millis(setting("POOL_CHECKOUT_TIMEOUT_MS", 1000)),
        });
        // Stdin and stdout are read and written on plain threads: they block, the pool must not.
        let (replies, outbox) = std::sync::mpsc::channel::<Value>();
        let writer = std::thread::spawn(move || {
            let mut stdout = std::io::stdout().lock();
            for reply in outbox {
                if writeln!(stdout, "{reply}")
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    break;
                }
            }
        });
        let (lines, mut inbox) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(line) = inbox.recv().await {
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Query { id, sql }) => {
                    let (pool, replies) = (pool.clone(), replies.clone());
                    tasks.spawn(async move {
                        let _ = replies.send(handle(pool, id, sql).await);
                    });
                }
                Err(error) => {
                    let _ = replies.send(json!({"error": format!("bad request: {error}")}));
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        drop(replies);
        let _ = writer.join();
    }
}

fn main() {
    provided::main();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::net::TcpListener;

    use super::*;

    /// A tiny fake database: greets, answers PING and `QUERY x` with `OK x`, counts connections.
    async fn fake_db() -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let opened = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&opened);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let id = counter.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let (reader, mut writer) = stream.into_split();
                    let mut lines = BufReader::new(reader).lines();
                    let _ = writer.write_all(format!("HELLO {id}\n").as_bytes()).await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let answer = match line.strip_prefix("QUERY ") {
                            Some(sql) => format!("OK {sql}\n"),
                            None => "PONG\n".to_string(),
                        };
                        let _ = writer.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        (addr, opened)
    }

    fn pool(addr: &str, max_size: usize, timeout_ms: u64) -> Pool {
        Pool::new(PoolConfig {
            addr: addr.to_string(),
            max_size,
            checkout_timeout: Duration::from_millis(timeout_ms),
        })
    }

    // Sequential checkouts reuse the one connection that was returned.
    #[tokio::test]
    async fn sequential_checkouts_reuse_one_connection() {
        let (addr, opened) = fake_db().await;
        let pool = pool(&addr, 3, 1000);
        for i in 0..5 {
            let mut conn = pool.get().await.unwrap();
            assert_eq!(conn.query(&format!("q{i}")).await.unwrap(), format!("q{i}"));
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    // With every connection checked out, a checkout times out instead of opening another.
    #[tokio::test]
    async fn a_full_pool_times_out() {
        let (addr, opened) = fake_db().await;
        let pool = pool(&addr, 1, 50);
        let held = pool.get().await.unwrap();
        assert!(matches!(pool.get().await, Err(PoolError::Timeout)));
        drop(held);
        assert!(pool.get().await.is_ok());
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    // A connection marked broken is not reused: the next checkout opens a new one.
    #[tokio::test]
    async fn a_broken_connection_is_not_reused() {
        let (addr, opened) = fake_db().await;
        let pool = pool(&addr, 2, 1000);
        let mut conn = pool.get().await.unwrap();
        conn.mark_broken();
        drop(conn);
        let conn = pool.get().await.unwrap();
        assert_eq!(conn.id, 2);
        assert_eq!(opened.load(Ordering::SeqCst), 2);
    }
}
