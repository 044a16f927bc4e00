//! A program under test that serves on loopback: started, awaited until `READY <ip:port>`, then talked to.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::failure::Failure;
use crate::http::{self, Request, Response};
use crate::sandbox::{SandboxedChild, Termination, line_reader};
use crate::transcript::Transcript;

/// How long a server may take to print `READY`.
const STARTUP: Duration = Duration::from_secs(10);

/// A running server program.
pub struct Server {
    child: SandboxedChild,
    addr: SocketAddr,
    transcript: Transcript,
    reply_timeout: Duration,
    _stdout: Receiver<Vec<u8>>,
}

impl Server {
    pub(crate) fn start(
        mut child: SandboxedChild,
        transcript: Transcript,
        reply_timeout: Duration,
    ) -> Result<Self, Failure> {
        let stdout = child.child.stdout.take().expect("stdout is piped");
        let lines = line_reader(stdout, 4096);
        let deadline = Instant::now() + STARTUP;
        let addr = loop {
            let line = match lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => String::from_utf8_lossy(&line).trim().to_string(),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Failure::new(format!(
                        "the server did not print `READY <ip:port>` within {} s of starting",
                        STARTUP.as_secs()
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let how = child
                        .wait_until(Instant::now() + Duration::from_millis(500), None)
                        .ok();
                    let what = match how {
                        Some(Termination::TimedOut) | None => {
                            "the server closed its stdout before printing `READY <ip:port>`"
                                .to_string()
                        }
                        Some(how) => format!(
                            "the server stopped before printing `READY <ip:port>`: it {}",
                            how.describe()
                        ),
                    };
                    return Err(Failure::new(what));
                }
            };
            if let Some(rest) = line.strip_prefix("READY ") {
                break rest.trim().parse::<SocketAddr>().map_err(|e| {
                    Failure::new("the READY line does not hold an address like `127.0.0.1:34567`")
                        .got(&line)
                        .detail(format!("{e}"))
                })?;
            }
            // Anything printed before READY is the learner's own output; the protocol starts at READY.
        };
        if !addr.ip().is_loopback() {
            return Err(
                Failure::new("the server must listen on 127.0.0.1 (loopback only)").got(addr),
            );
        }
        Ok(Server {
            child,
            addr,
            transcript,
            reply_timeout,
            _stdout: lines,
        })
    }

    /// The address the server printed.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Sends a signal to the server process (SIGTERM for graceful shutdown tests).
    pub fn signal(&self, signal: i32) {
        self.child.signal(signal);
    }

    /// Waits for the server to exit within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Termination, Failure> {
        let how = self
            .child
            .wait_until(Instant::now() + timeout, None)
            .map_err(|e| Failure::new(format!("could not wait for the server: {e}")))?;
        if how == Termination::TimedOut {
            return Err(Failure::new(format!(
                "the server did not exit within {} ms",
                timeout.as_millis()
            )));
        }
        Ok(how)
    }

    /// Fails if the server has died (crashed or exited), saying how.
    pub fn ensure_alive(&mut self) -> Result<(), Failure> {
        match self.child.try_termination() {
            Ok(Some(how)) => Err(Failure::new(format!(
                "the server is no longer running: it {}",
                how.describe()
            ))),
            _ => Ok(()),
        }
    }

    /// Like [`Server::ensure_alive`], but gives a crashing server up to 200 ms to be seen as dead, so an empty
    /// reply from a dying process is reported as the crash it is.
    pub fn ensure_alive_after_a_moment(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            self.ensure_alive()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// A new connection with read and write timeouts set to the reply timeout.
    pub fn connect(&mut self) -> Result<TcpStream, Failure> {
        let stream = TcpStream::connect_timeout(&self.addr, self.reply_timeout).map_err(|e| {
            let failure = Failure::new(format!("could not connect to {}: {e}", self.addr));
            match self.ensure_alive() {
                Err(dead) => dead,
                Ok(()) => failure,
            }
        })?;
        stream.set_read_timeout(Some(self.reply_timeout)).ok();
        stream.set_write_timeout(Some(self.reply_timeout)).ok();
        stream.set_nodelay(true).ok();
        Ok(stream)
    }

    /// Sends `request` on a new connection and reads one response, recording both.
    pub fn http(&mut self, request: &Request) -> Result<Response, Failure> {
        let bytes = request.to_bytes();
        self.raw_http(&bytes, request.method == "HEAD")
    }

    /// Sends raw bytes on a new connection and reads one response (for malformed or hostile requests).
    pub fn raw_http(&mut self, bytes: &[u8], head: bool) -> Result<Response, Failure> {
        let mut stream = self.connect()?;
        self.transcript.sent("http", &http::printable(bytes));
        stream
            .write_all(bytes)
            .map_err(|e| Failure::new(format!("could not send the request: {e}")))?;
        let response = self.read_response(&mut stream, head)?;
        Ok(response)
    }

    /// Reads one response from `stream`, recording it; a timeout or a malformed response is a failure.
    pub fn read_response(
        &mut self,
        stream: &mut TcpStream,
        head: bool,
    ) -> Result<Response, Failure> {
        match http::read_response(&mut *stream, head) {
            Ok(response) => {
                self.transcript.got("http", &response.summary());
                Ok(response)
            }
            Err(e) => {
                self.transcript.got("http", &format!("<{e}>"));
                self.ensure_alive_after_a_moment()?;
                Err(Failure::new(format!(
                    "no valid HTTP response came back: {e}"
                )))
            }
        }
    }

    /// Opens a persistent connection for keep-alive and pipelining tests.
    pub fn open(&mut self) -> Result<Connection, Failure> {
        let stream = self.connect()?;
        let reader = stream
            .try_clone()
            .map_err(|e| Failure::new(format!("could not clone the socket: {e}")))?;
        Ok(Connection {
            stream,
            reader: BufReader::new(reader),
            transcript: self.transcript.clone(),
        })
    }

    /// Records an exchange made outside this type (e.g. through reqwest).
    pub fn record(&self, sent: &str, got: &str) {
        self.transcript.sent("http", sent);
        self.transcript.got("http", got);
    }
}

/// One persistent connection: requests written as they come, responses read in order from one buffer, so a
/// pipelined response is never lost between reads.
pub struct Connection {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    transcript: Transcript,
}

impl Connection {
    /// Writes raw bytes (one request, several pipelined ones, or half of one).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.transcript.sent("conn", &http::printable(bytes));
        self.stream
            .write_all(bytes)
            .map_err(|e| Failure::new(format!("could not send on the connection: {e}")))
    }

    /// Writes one request.
    pub fn send(&mut self, request: &Request) -> Result<(), Failure> {
        self.send_raw(&request.to_bytes())
    }

    /// Reads the next response on this connection.
    pub fn read_response(&mut self, head: bool) -> Result<Response, Failure> {
        match http::read_response_from(&mut self.reader, head) {
            Ok(response) => {
                self.transcript.got("conn", &response.summary());
                Ok(response)
            }
            Err(e) => {
                self.transcript.got("conn", &format!("<{e}>"));
                Err(Failure::new(format!(
                    "no valid HTTP response came back on the connection: {e}"
                )))
            }
        }
    }

    /// Sends one request and reads its response.
    pub fn request(&mut self, request: &Request) -> Result<Response, Failure> {
        self.send(request)?;
        self.read_response(request.method == "HEAD")
    }

    /// Whether the server has closed the connection (reads end of stream within the read timeout).
    pub fn is_closed_by_server(&mut self) -> bool {
        use std::io::BufRead;
        matches!(self.reader.fill_buf(), Ok([]))
    }

    /// The underlying stream, for timeouts or half-closing.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}
