//! One persistent connection seen from the client side: requests written whole, pipelined or in pieces,
//! responses read in order from one buffer, each checked against what the contract says it must be
//! (status, body, `X-Conn-Id`, `X-Request-Index`, `Connection`), and the end of the connection observed with
//! its timing.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use backlings_grade::http::{self, Response};
use backlings_grade::{Failure, Server};

use crate::support::{preview, summarize};

/// How long one response may take. A correct server answers in milliseconds.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// How a connection ended, seen by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server closed it (FIN or reset) after this long.
    Closed(Duration),
    /// Still open when we stopped waiting.
    Open,
    /// Bytes arrived instead.
    Data(Vec<u8>),
}

/// A persistent connection to the server under test.
pub struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// Requests sent and not answered yet, as text for the transcript.
    waiting: VecDeque<String>,
    /// When the connection was opened.
    pub opened: Instant,
}

impl Conn {
    /// Opens a new connection.
    pub fn open(server: &mut Server) -> Result<Conn, Failure> {
        let stream = server.connect()?;
        let reader = stream
            .try_clone()
            .map_err(|e| Failure::new(format!("the grader could not clone its socket: {e}")))?;
        Ok(Conn {
            stream,
            reader: BufReader::new(reader),
            waiting: VecDeque::new(),
            opened: Instant::now(),
        })
    }

    /// Sends `requests` back to back in one write (pipelining when there are several).
    pub fn send(&mut self, requests: &[Vec<u8>]) -> Result<(), Failure> {
        let bytes = requests.concat();
        self.waiting
            .extend(requests.iter().map(|request| http::printable(request)));
        self.stream
            .write_all(&bytes)
            .map_err(|e| Failure::new(format!("could not send on the connection: {e}")))
    }

    /// Sends `requests` back to back, cut into writes of the given sizes.
    pub fn send_in_pieces(&mut self, requests: &[Vec<u8>], sizes: &[usize]) -> Result<(), Failure> {
        let bytes = requests.concat();
        self.waiting
            .extend(requests.iter().map(|request| http::printable(request)));
        http::write_in_pieces(&mut self.stream, &bytes, sizes)
            .map_err(|e| Failure::new(format!("could not send on the connection: {e}")))
    }

    /// Reads the next response, recording it against the oldest request still waiting. `Err` holds what
    /// happened instead, in words.
    pub fn response(&mut self, server: &Server) -> Result<Response, String> {
        let _ = self.stream.set_read_timeout(Some(ANSWER_WITHIN));
        let sent = self.waiting.pop_front().unwrap_or_default();
        match http::read_response_from(&mut self.reader, false) {
            Ok(response) => {
                server.record(&sent, &summarize(&response));
                Ok(response)
            }
            Err(e) => {
                let what = match e.kind() {
                    ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                        "no response within {} s (the connection stayed open)",
                        ANSWER_WITHIN.as_secs()
                    ),
                    ErrorKind::ConnectionReset => {
                        "the connection was reset before a response came".to_string()
                    }
                    _ => format!("{e}"),
                };
                server.record(&sent, &format!("<{what}>"));
                Err(what)
            }
        }
    }

    /// Waits at most `limit` for the server to close the connection; the duration is measured from `since`.
    pub fn ending(&mut self, limit: Duration, since: Instant) -> Ending {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ending::Open;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            return match self.reader.fill_buf() {
                Ok([]) => Ending::Closed(since.elapsed()),
                Ok(bytes) => Ending::Data(bytes.to_vec()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Ending::Open
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => Ending::Closed(since.elapsed()),
            };
        }
    }

    /// Records the first few requests that were never answered (the transcript keeps only the last exchanges,
    /// and the answered ones before them matter more).
    pub fn record_unanswered(&mut self, server: &Server) {
        const SHOWN: usize = 2;
        let left = self.waiting.len();
        for sent in self.waiting.drain(..).take(SHOWN) {
            server.record(&sent, "(no response)");
        }
        if left > SHOWN {
            server.record(
                &format!("(and {} more requests)", left - SHOWN),
                "(no response)",
            );
        }
    }
}

/// What one response must be.
#[derive(Debug, Clone)]
pub struct Want {
    pub status: u16,
    /// The exact body, when the contract fixes it.
    pub body: Option<Vec<u8>>,
    /// `keep-alive` or `close`.
    pub connection: &'static str,
    /// The expected `X-Request-Index`.
    pub index: u64,
    /// The `X-Conn-Id` of earlier responses on this connection, if any.
    pub conn_id: Option<String>,
}

impl Want {
    /// The expectation in one line, for reports.
    pub fn describe(&self) -> String {
        let mut line = format!("HTTP/1.1 {}", self.status);
        match &self.conn_id {
            Some(id) => line.push_str(&format!(" · X-Conn-Id: {id}")),
            None => line.push_str(" · X-Conn-Id: <this connection's id>"),
        }
        line.push_str(&format!(
            " · X-Request-Index: {} · Connection: {}",
            self.index, self.connection
        ));
        if let Some(body) = &self.body {
            line.push_str(&format!(" · body \"{}\"", preview(body)));
        }
        line
    }
}

/// Reads the next response on `conn` and checks it against `want`; returns its `X-Conn-Id`.
pub fn expect(
    server: &mut Server,
    conn: &mut Conn,
    want: &Want,
    rule: &str,
) -> Result<String, Failure> {
    let response = match conn.response(server) {
        Ok(response) => response,
        Err(what) => {
            conn.record_unanswered(server);
            server.ensure_alive()?;
            return Err(Failure::new(rule).expected(want.describe()).got(what));
        }
    };
    let failure = || {
        Failure::new(rule)
            .expected(want.describe())
            .got(summarize(&response))
    };
    if response.status != want.status
        || want
            .body
            .as_ref()
            .is_some_and(|body| &response.body != body)
    {
        let mut failure = failure();
        if response.status == 400 && want.status != 400 {
            failure = failure.detail(
                "a 400 in the middle of a connection usually means the request was read from the wrong place: \
                 bytes of an earlier request were left behind, or bytes of this one were lost",
            );
        }
        return Err(failure);
    }
    let index = response.header("x-request-index").map(str::trim);
    if index != Some(want.index.to_string().as_str()) {
        return Err(failure().detail(
            "X-Request-Index counts the responses on this connection: 1 for the first, then 2, 3, … (a new \
             connection starts again at 1)",
        ));
    }
    let Some(id) = response.header("x-conn-id").map(|id| id.trim().to_string()) else {
        return Err(failure().detail("every response carries X-Conn-Id, the id of its connection"));
    };
    if let Some(expected) = &want.conn_id
        && &id != expected
    {
        return Err(failure().detail(format!(
            "every response on one connection carries that connection's id: earlier responses on this connection \
             said X-Conn-Id: {expected}"
        )));
    }
    let connection = response.headers_named("connection");
    let said = connection
        .first()
        .map(|value| value.trim().to_ascii_lowercase());
    if connection.len() != 1 || said.as_deref() != Some(want.connection) {
        let lesson = if want.connection == "close" {
            "this response is the last on its connection, so it must say `Connection: close`"
        } else {
            "the connection stays open after this response, so it must say `Connection: keep-alive`"
        };
        return Err(failure().detail(lesson));
    }
    Ok(id)
}

/// Checks that the server closes `conn` within `limit` (measured from `since`), sending nothing more.
pub fn expect_close(
    server: &mut Server,
    conn: &mut Conn,
    limit: Duration,
    since: Instant,
    rule: &str,
) -> Result<Duration, Failure> {
    match conn.ending(limit, since) {
        Ending::Closed(after) => Ok(after),
        Ending::Open => {
            conn.record_unanswered(server);
            Err(Failure::new(rule)
                .expected(format!(
                    "the server closes the connection (within {} ms)",
                    limit.as_millis()
                ))
                .got("the connection stayed open"))
        }
        Ending::Data(bytes) => {
            let got = match http::read_response_from(&mut &bytes[..], false) {
                Ok(response) => summarize(&response),
                Err(_) => format!("\"{}\"", preview(&bytes)),
            };
            if let Some(sent) = conn.waiting.pop_front() {
                server.record(&sent, &got);
            }
            conn.record_unanswered(server);
            Err(Failure::new(rule)
                .expected("no more bytes: the server closes the connection")
                .got(format!("more bytes: {got}")))
        }
    }
}
