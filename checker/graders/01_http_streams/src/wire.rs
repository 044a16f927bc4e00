//! Raw HTTP/1.1 responses read strictly, as a stream, from one persistent connection.
//!
//! The framework's `http::read_response` joins a chunked body and forgets how it was cut; the streaming
//! exercises need the cut itself (the size of every chunk, the trailers, whether the body ended where its framing
//! said) and must check bodies of many MiB without keeping them. [`Conn::read_response`] parses the status line,
//! the headers and the body by whichever framing the response chose, hands every body byte to a sink as it
//! arrives, and hashes the body with SHA-256 on the way.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use backlings_grade::http::printable;
use backlings_grade::{Failure, Server};
use sha2::{Digest, Sha256};

/// The longest response line accepted.
const LINE_CAP: usize = 64 * 1024;
/// How many raw bytes of a response a broken read keeps for the report.
const SEEN_CAP: usize = 2048;

/// How a response body was delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// No body by definition (a 204 or 304).
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`: the size of every data chunk, in order, and the trailer fields.
    Chunked {
        sizes: Vec<u64>,
        trailers: Vec<(String, String)>,
    },
    /// Neither: the body ran until the server closed the connection.
    UntilClose,
}

/// One response, read to the end of its body.
#[derive(Debug, Clone)]
pub struct Wire {
    /// The status line as sent.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The header fields in order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// How the body was framed.
    pub framing: Framing,
    /// The first bytes of the body (as many as the reader was asked to keep).
    pub kept: Vec<u8>,
    /// The body's length in bytes.
    pub len: u64,
    /// The body's SHA-256, lowercase hex.
    pub sha256: String,
}

impl Wire {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (any case).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The response in one line: status line, headers, body preview, chunk sizes and trailers.
    pub fn summary(&self) -> String {
        let mut line = self.status_line.clone();
        for (name, value) in &self.headers {
            let _ = write!(line, " · {name}: {value}");
        }
        let _ = write!(line, " · body \"{}\"", preview(&self.kept, self.len));
        if let Framing::Chunked { sizes, trailers } = &self.framing {
            let _ = write!(line, " · chunks {}", chunk_sizes(sizes));
            for (name, value) in trailers {
                let _ = write!(line, " · trailer {name}: {value}");
            }
        }
        line
    }
}

/// A list of chunk sizes for a report, shortened in the middle when long.
pub fn chunk_sizes(sizes: &[u64]) -> String {
    if sizes.len() <= 8 {
        return format!("{sizes:?}");
    }
    let head: Vec<String> = sizes[..4].iter().map(u64::to_string).collect();
    let tail: Vec<String> = sizes[sizes.len() - 2..]
        .iter()
        .map(u64::to_string)
        .collect();
    format!(
        "[{}, … {} more …, {}] ({} chunks)",
        head.join(", "),
        sizes.len() - 6,
        tail.join(", "),
        sizes.len()
    )
}

/// Why no whole response could be read.
#[derive(Debug, Clone)]
pub struct Broken {
    /// What was wrong, in words.
    pub why: String,
    /// The raw bytes of the response read so far (the start of them).
    pub seen: Vec<u8>,
    /// Nothing at all arrived before the connection ended.
    pub nothing: bool,
}

impl Broken {
    /// The broken response for a report's `got:` line.
    pub fn describe(&self) -> String {
        if self.nothing {
            return self.why.clone();
        }
        format!(
            "{} (the bytes read: \"{}\")",
            self.why,
            preview(&self.seen, self.seen.len() as u64)
        )
    }
}

/// How a connection ended after the responses the grader expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server closed it (FIN).
    Closed,
    /// A reset.
    Reset,
    /// It stayed open and quiet until the time limit.
    Open,
    /// More bytes came.
    More(Vec<u8>),
}

/// One persistent connection to the server under test.
pub struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    limit: Duration,
}

impl Conn {
    /// Opens a connection; every read waits at most `limit` for the next bytes.
    pub fn open(server: &mut Server, limit: Duration) -> Result<Conn, Failure> {
        let stream = server.connect()?;
        let _ = stream.set_read_timeout(Some(limit));
        let _ = stream.set_write_timeout(Some(limit));
        let reader = stream
            .try_clone()
            .map_err(|e| Failure::new(format!("the grader could not clone a socket: {e}")))?;
        Ok(Conn {
            stream,
            reader: BufReader::with_capacity(64 * 1024, reader),
            limit,
        })
    }

    /// Writes `bytes`. A server that already answered and closed may reset the rest: that is reported by the
    /// read that follows, so the error is returned, not raised.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` in pieces of the given sizes (cycled), each its own segment.
    pub fn send_in_pieces(&mut self, bytes: &[u8], sizes: &[usize]) -> io::Result<()> {
        backlings_grade::http::write_in_pieces(&mut self.stream, bytes, sizes)
    }

    /// Tells the server nothing more will be sent.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one response; every body byte goes to `sink` as it arrives (a sink error stops the read). The
    /// first `keep` body bytes are kept in [`Wire::kept`].
    pub fn read_response(
        &mut self,
        keep: usize,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Wire, Broken> {
        let mut reading = Reading {
            reader: &mut self.reader,
            seen: Vec::new(),
            limit: self.limit,
        };
        reading.response(keep, sink)
    }

    /// Reads one response and keeps its whole body.
    pub fn read_whole(&mut self) -> Result<Wire, Broken> {
        self.read_response(usize::MAX, &mut |_| Ok(()))
    }

    /// Waits up to `limit` for the server to close the connection, and says how it ended.
    pub fn read_end(&mut self, limit: Duration) -> End {
        let deadline = Instant::now() + limit;
        let mut more = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self.reader.get_ref().set_read_timeout(Some(left));
            let mut buffer = [0u8; 4096];
            match self.reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    more.extend_from_slice(&buffer[..n]);
                    if more.len() >= SEEN_CAP {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    let _ = self.reader.get_ref().set_read_timeout(Some(self.limit));
                    return if more.is_empty() {
                        End::Open
                    } else {
                        End::More(more)
                    };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    let _ = self.reader.get_ref().set_read_timeout(Some(self.limit));
                    return if more.is_empty() {
                        End::Reset
                    } else {
                        End::More(more)
                    };
                }
            }
        }
        let _ = self.reader.get_ref().set_read_timeout(Some(self.limit));
        if more.is_empty() {
            End::Closed
        } else {
            End::More(more)
        }
    }
}

/// One response being read.
struct Reading<'a> {
    reader: &'a mut dyn BufRead,
    seen: Vec<u8>,
    limit: Duration,
}

impl Reading<'_> {
    fn broken(&self, why: impl Into<String>) -> Broken {
        Broken {
            why: why.into(),
            seen: self.seen.clone(),
            nothing: self.seen.is_empty(),
        }
    }

    fn io_broken(&self, error: &io::Error, place: &str) -> Broken {
        let why = match error.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                "nothing more arrived for {} s {place}",
                self.limit.as_secs()
            ),
            ErrorKind::UnexpectedEof => format!("the connection was closed {place}"),
            _ => format!("the connection failed {place} ({error})"),
        };
        self.broken(why)
    }

    fn note(&mut self, bytes: &[u8]) {
        let room = SEEN_CAP.saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// One line ending in CRLF, without it.
    fn line(&mut self, place: &str) -> Result<String, Broken> {
        let mut line = Vec::new();
        let read = (&mut *self.reader)
            .take(LINE_CAP as u64)
            .read_until(b'\n', &mut line);
        self.note(&line);
        if let Err(e) = read {
            return Err(self.io_broken(&e, place));
        }
        if line.last() != Some(&b'\n') {
            return Err(if line.len() >= LINE_CAP {
                self.broken(format!("a line {place} is longer than 64 KiB"))
            } else if self.seen.is_empty() {
                self.broken("the connection was closed without any response")
            } else {
                self.broken(format!("the connection was closed {place}"))
            });
        }
        line.pop();
        if line.pop() != Some(b'\r') {
            return Err(self.broken(format!(
                "a line {place} ends in a bare \\n: HTTP lines end in \\r\\n"
            )));
        }
        String::from_utf8(line).map_err(|_| self.broken(format!("a line {place} is not UTF-8")))
    }

    fn response(
        &mut self,
        keep: usize,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Wire, Broken> {
        let status_line = self.line("in the status line")?;
        let status = parse_status_line(&status_line).ok_or_else(|| {
            self.broken(format!(
                "the status line is not `HTTP/1.1 <3 digits> <reason>`: \"{}\"",
                printable(status_line.as_bytes())
            ))
        })?;
        let mut headers = Vec::new();
        loop {
            let line = self.line("in the headers")?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                self.broken(format!(
                    "a header line has no colon: \"{}\"",
                    printable(line.as_bytes())
                ))
            })?;
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut wire = Wire {
            status_line,
            status,
            headers,
            framing: Framing::None,
            kept: Vec::new(),
            len: 0,
            sha256: String::new(),
        };
        let mut body = BodySink {
            keep,
            kept: Vec::new(),
            len: 0,
            hasher: Sha256::new(),
            sink,
        };
        wire.framing = self.body(&wire, &mut body)?;
        wire.kept = body.kept;
        wire.len = body.len;
        wire.sha256 = format!("{:x}", body.hasher.finalize());
        Ok(wire)
    }

    fn body(&mut self, wire: &Wire, body: &mut BodySink<'_>) -> Result<Framing, Broken> {
        let codings = wire.headers_named("transfer-encoding");
        let lengths = wire.headers_named("content-length");
        if wire.status == 204 || wire.status == 304 || wire.status < 200 {
            return Ok(Framing::None);
        }
        if !codings.is_empty() {
            if !lengths.is_empty() {
                return Err(self.broken(
                    "the response has both Transfer-Encoding and Content-Length: a client cannot know which \
                     one frames the body",
                ));
            }
            if codings.len() != 1 || !codings[0].eq_ignore_ascii_case("chunked") {
                return Err(self.broken(format!(
                    "Transfer-Encoding must be exactly `chunked`, got {codings:?}"
                )));
            }
            return self.chunked(body);
        }
        if let Some(first) = lengths.first() {
            if lengths.iter().any(|l| l != first) {
                return Err(self.broken("the response has two different Content-Length headers"));
            }
            let length: u64 = first
                .parse()
                .map_err(|_| self.broken(format!("Content-Length is not a number: {first:?}")))?;
            self.exactly(
                length,
                body,
                "inside the body (before Content-Length bytes)",
            )?;
            return Ok(Framing::Length(length));
        }
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => return Ok(Framing::UntilClose),
                Ok(n) => {
                    let piece = buffer[..n].to_vec();
                    self.take(&piece, body)?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(self.io_broken(
                        &e,
                        "in a body without Content-Length or chunked framing (such a body ends only when the \
                         server closes the connection)",
                    ));
                }
            }
        }
    }

    fn take(&mut self, piece: &[u8], body: &mut BodySink<'_>) -> Result<(), Broken> {
        self.note(piece);
        body.push(piece).map_err(|why| self.broken(why))
    }

    fn exactly(
        &mut self,
        mut left: u64,
        body: &mut BodySink<'_>,
        place: &str,
    ) -> Result<(), Broken> {
        while left > 0 {
            let available = match self.reader.fill_buf() {
                Ok([]) => return Err(self.broken(format!("the connection was closed {place}"))),
                Ok(available) => available,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_broken(&e, place)),
            };
            let n = available
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let piece = available[..n].to_vec();
            self.reader.consume(n);
            self.take(&piece, body)?;
            left -= n as u64;
        }
        Ok(())
    }

    fn chunked(&mut self, body: &mut BodySink<'_>) -> Result<Framing, Broken> {
        let mut sizes = Vec::new();
        loop {
            let line = self.line("in a chunk-size line")?;
            let digits = line.split(';').next().unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(self.broken(format!(
                    "a chunk-size line must start with hex digits, got \"{}\" (after chunks {})",
                    printable(line.as_bytes()),
                    chunk_sizes(&sizes)
                )));
            }
            let size = u64::from_str_radix(digits, 16).map_err(|_| {
                self.broken(format!("the chunk size {digits} does not fit in 64 bits"))
            })?;
            if size == 0 {
                break;
            }
            sizes.push(size);
            self.exactly(size, body, "inside a chunk")?;
            let mut crlf = [0u8; 2];
            if let Err(e) = self.reader.read_exact(&mut crlf) {
                return Err(self.io_broken(&e, "after a chunk's data"));
            }
            self.note(&crlf);
            if &crlf != b"\r\n" {
                return Err(self.broken(format!(
                    "the data of a {size}-byte chunk is not followed by \\r\\n: the chunk holds more bytes than its \
                     size line says"
                )));
            }
        }
        let mut trailers = Vec::new();
        loop {
            let line = self.line("in the trailers (after the zero-size chunk)")?;
            if line.is_empty() {
                return Ok(Framing::Chunked { sizes, trailers });
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                self.broken(format!(
                    "a trailer line has no colon: \"{}\"",
                    printable(line.as_bytes())
                ))
            })?;
            trailers.push((name.to_string(), value.trim().to_string()));
        }
    }
}

/// Where body bytes go: the kept prefix, the count, the hash and the caller's sink.
struct BodySink<'a> {
    keep: usize,
    kept: Vec<u8>,
    len: u64,
    hasher: Sha256,
    sink: &'a mut dyn FnMut(&[u8]) -> Result<(), String>,
}

impl BodySink<'_> {
    fn push(&mut self, piece: &[u8]) -> Result<(), String> {
        let room = self.keep.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&piece[..piece.len().min(room)]);
        self.len += piece.len() as u64;
        self.hasher.update(piece);
        (self.sink)(piece)
    }
}

fn parse_status_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/1.1 ")?;
    let code = rest.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(rest.as_bytes().get(3), Some(b' ') | None)
    {
        return None;
    }
    code.parse().ok()
}

/// Bytes as readable text for one report line, cut after a while, with the true byte count.
pub fn preview(bytes: &[u8], total: u64) -> String {
    const CAP: usize = 320;
    let text = printable(&bytes[..bytes.len().min(CAP * 2)]);
    if text.len() <= CAP && total == bytes.len() as u64 {
        return text;
    }
    let mut end = text.len().min(CAP);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({total} bytes in all)", &text[..end])
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(wire: &[u8]) -> Result<Wire, Broken> {
        let mut reader = io::Cursor::new(wire.to_vec());
        let mut reading = Reading {
            reader: &mut reader,
            seen: Vec::new(),
            limit: Duration::from_secs(1),
        };
        reading.response(usize::MAX, &mut |_| Ok(()))
    }

    // A chunked response keeps its chunk sizes and trailers, and the body is joined and hashed.
    #[test]
    fn reads_chunks_and_trailers() {
        let wire = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1a;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n")
            .unwrap();
        assert_eq!(
            wire.framing,
            Framing::Chunked {
                sizes: vec![3, 26],
                trailers: vec![("X-Sum".into(), "1".into())]
            }
        );
        assert_eq!(wire.len, 29);
        assert_eq!(wire.sha256, sha256_hex(b"abcabcdefghijklmnopqrstuvwxyz"));
    }

    // Framing faults are reported, not repaired: a chunk longer than its size, both framings, a bare LF.
    #[test]
    fn refuses_bad_framing() {
        let long =
            read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n");
        assert!(
            long.unwrap_err()
                .why
                .contains("more bytes than its size line says")
        );
        let both =
            read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
        assert!(
            both.unwrap_err()
                .why
                .contains("both Transfer-Encoding and Content-Length")
        );
        let bare = read(b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n");
        assert!(bare.unwrap_err().why.contains("bare \\n"));
        let nothing = read(b"");
        assert!(nothing.unwrap_err().nothing);
    }

    // A Content-Length body is read exactly; without framing the body runs to the end of the stream.
    #[test]
    fn reads_length_and_close_delimited_bodies() {
        let wire = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA").unwrap();
        assert_eq!(
            (wire.framing, wire.kept),
            (Framing::Length(2), b"hi".to_vec())
        );
        let wire = read(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it").unwrap();
        assert_eq!(
            (wire.framing, wire.kept),
            (Framing::UntilClose, b"all of it".to_vec())
        );
    }
}
