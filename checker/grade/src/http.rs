//! Raw HTTP/1.1 on the grader's side: requests built byte by byte, responses parsed strictly.
//!
//! Graders use this for what a polished client would never send (split writes, bad framing, hostile headers) and
//! to check the exact bytes a learner's server frames: status line, headers, `Content-Length`, chunked bodies.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Longest response head the parser accepts.
const HEAD_CAP: usize = 64 * 1024;
/// Largest response body the parser accepts.
const BODY_CAP: usize = 16 << 20;

/// An HTTP request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target, e.g. `/echo/hi`.
    pub target: String,
    /// `HTTP/1.1` unless a test says otherwise.
    pub version: String,
    /// Header lines in order, exactly as sent.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with a `Host` header and nothing else.
    pub fn new(method: &str, target: &str) -> Self {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: vec![("Host".to_string(), "127.0.0.1".to_string())],
            body: Vec::new(),
        }
    }

    /// A GET request.
    pub fn get(target: &str) -> Self {
        Request::new("GET", target)
    }

    /// A POST request with a body and its `Content-Length`.
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Request::new("POST", target).body(body)
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body and a matching `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-length"));
        self.headers
            .push(("Content-Length".to_string(), self.body.len().to_string()));
        self
    }

    /// The request as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} {}\r\n", self.method, self.target, self.version);
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Header lines in order, as received.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// One line for transcripts: `HTTP/1.1 404 Not Found · Content-Length: 9 · body "not found"`.
    pub fn summary(&self) -> String {
        let mut line = format!("{} {} {}", self.version, self.status, self.reason);
        for (name, value) in &self.headers {
            let _ = write!(line, " · {name}: {value}");
        }
        let _ = write!(line, " · body \"{}\"", printable(&self.body));
        line
    }
}

/// Bytes as readable text for transcripts: CR and LF shown as `\r\n`, other control bytes escaped.
pub fn printable(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => text.push_str("\\r"),
                '\n' => text.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(text, "\\x{:02x}", c as u32);
                }
                c => text.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// Reads one response. `head` is true for a response to HEAD (no body, whatever the headers say).
pub fn read_response(stream: impl Read, head: bool) -> io::Result<Response> {
    let mut reader = BufReader::new(stream);
    read_response_from(&mut reader, head)
}

/// Reads one response from a buffered reader, leaving any following (pipelined) response unread.
pub fn read_response_from(reader: &mut impl BufRead, head: bool) -> io::Result<Response> {
    let status_line = read_line(reader)?;
    if status_line.is_empty() {
        return Err(invalid("the connection closed without a response"));
    }
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(&format!(
            "the status line does not start with HTTP/1.x: {status_line:?}"
        )));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..=999).contains(code))
        .ok_or_else(|| {
            invalid(&format!(
                "the status line has no 3-digit status code: {status_line:?}"
            ))
        })?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut head_size = status_line.len();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        head_size += line.len();
        if head_size > HEAD_CAP {
            return Err(invalid("the response head is larger than 64 KiB"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(&format!("a header line has no colon: {line:?}")))?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(response);
    }
    response.body = read_body(reader, &response)?;
    Ok(response)
}

fn read_body(reader: &mut impl BufRead, response: &Response) -> io::Result<Vec<u8>> {
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let lengths = response.headers_named("content-length");
    if let Some(first) = lengths.first() {
        if lengths.iter().any(|l| l != first) {
            return Err(invalid(
                "the response has two different Content-Length headers",
            ));
        }
        let length: usize = first
            .parse()
            .map_err(|_| invalid(&format!("Content-Length is not a number: {first:?}")))?;
        if length > BODY_CAP {
            return Err(invalid("the response body is larger than 16 MiB"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the body ended before its Content-Length of {length} bytes ({e})"),
            )
        })?;
        return Ok(body);
    }
    // No length: the body runs to the end of the connection (legal only if the server closes it).
    let mut body = Vec::new();
    reader.take(BODY_CAP as u64 + 1).read_to_end(&mut body)?;
    if body.len() > BODY_CAP {
        return Err(invalid("the response body is larger than 16 MiB"));
    }
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(&format!("bad chunk size line: {size_line:?}")))?;
        if size == 0 {
            // Trailers, then the blank line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > BODY_CAP {
            return Err(invalid("the chunked body is larger than 16 MiB"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("a chunk is not followed by CRLF"));
        }
    }
}

/// Reads a CRLF-terminated line (a bare LF is accepted), without the terminator.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.take(HEAD_CAP as u64).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if !line.is_empty() {
        return Err(invalid("the connection closed in the middle of a line"));
    }
    String::from_utf8(line).map_err(|_| invalid("a response line is not valid UTF-8"))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Writes `bytes` in pieces of the given sizes (cycled), flushing each, to test servers that assume one read
/// holds a whole request. TCP_NODELAY should be set on the stream.
pub fn write_in_pieces(stream: &mut TcpStream, bytes: &[u8], sizes: &[usize]) -> io::Result<()> {
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.max(1).min(rest.len()));
        stream.write_all(piece)?;
        stream.flush()?;
        rest = tail;
        // Let the segment leave before the next one, so the server really sees separate reads.
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A Content-Length response is read exactly, and a following response is left for the next read.
    #[test]
    fn reads_content_length_and_leaves_the_next_response() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 204 No Content\r\n\r\n";
        let mut reader = BufReader::new(&wire[..]);
        let first = read_response_from(&mut reader, false).unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, &b"hi"[..]));
        let second = read_response_from(&mut reader, false).unwrap();
        assert_eq!(second.status, 204);
    }

    // Chunked bodies are joined and trailers skipped.
    #[test]
    fn reads_chunked_bodies() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1;x=y\r\nd\r\n0\r\nTrailer: 1\r\n\r\n";
        let response = read_response(&wire[..], false).unwrap();
        assert_eq!(response.text(), "abcd");
    }

    // A body shorter than its Content-Length is an error, not a silent short read.
    #[test]
    fn short_body_is_an_error() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi";
        assert!(read_response(&wire[..], false).is_err());
    }

    // Requests render with CRLF and a Content-Length matching the body.
    #[test]
    fn requests_render_with_crlf() {
        let bytes = Request::post("/echo", "abc").to_bytes();
        assert_eq!(
            printable(&bytes),
            "POST /echo HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: 3\\r\\n\\r\\nabc"
        );
    }
}
