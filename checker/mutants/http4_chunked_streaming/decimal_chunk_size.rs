//! mutant: reads chunk sizes as decimal numbers
//! expect: hexadecimal

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

/// The longest chunk-size line accepted (size and extension, without its CRLF).
pub const MAX_SIZE_LINE: usize = 1024;
/// The largest trailer section accepted: the trailer lines with their CRLFs, the final empty line excluded.
pub const MAX_TRAILER_BYTES: usize = 8192;
/// The largest request head accepted, in bytes (provided).
pub const MAX_HEAD_BYTES: usize = 8192;
/// The smallest data chunk `/export` may send, except its last one.
pub const MIN_CHUNK: usize = 1024;
/// The largest data chunk `/export` may send.
pub const MAX_CHUNK: usize = 64 * 1024;
/// The first line of every export.
pub const CSV_HEADER: &str = "id,sku,price_cents\n";
/// The trailer that carries the SHA-256 of a body, in both directions.
pub const CHECKSUM_TRAILER: &str = "X-Content-SHA256";
/// The most rows one export may ask for (provided check).
pub const MAX_ROWS: u64 = 10_000_000;

/// How a request's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// A chunked body.
    Chunked,
}

/// Decides how the body of `head` is framed, or the status to refuse it with (400 or 501). See the table in
/// the header of this file.
pub fn request_framing(head: &Head) -> Result<Framing, u16> {
    let codings: Vec<String> = head
        .headers_named("transfer-encoding")
        .flat_map(|value| value.split(','))
        .map(|coding| coding.trim().to_ascii_lowercase())
        .collect();
    let lengths: Vec<&str> = head.headers_named("content-length").collect();
    if !codings.is_empty() {
        if !lengths.is_empty() {
            return Err(400);
        }
        if codings.last().map(String::as_str) != Some("chunked")
            || codings.iter().filter(|coding| *coding == "chunked").count() > 1
        {
            return Err(400);
        }
        if codings.len() > 1 {
            return Err(501);
        }
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    for value in lengths {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(400);
        }
        let parsed: u64 = value.parse().map_err(|_| 400u16)?;
        if length.is_some_and(|known| known != parsed) {
            return Err(400);
        }
        length = Some(parsed);
    }
    Ok(length.map_or(Framing::Empty, Framing::Length))
}

/// Where a [`ChunkedDecoder`] is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    SizeLine,
    /// Inside a chunk's data, with this many bytes of it left.
    Data { left: u64 },
    /// After a chunk's data: expecting its CRLF.
    DataEnd,
    /// The last chunk, the trailers and the final empty line have been read.
    Done,
}

/// Reads a chunked body from `reader` as plain bytes: `read` returns the data of the chunks, without any
/// framing, and `Ok(0)` once the last chunk, the trailers and the final empty line have been consumed (and not
/// one byte more). Malformed framing is an [`io::ErrorKind::InvalidData`] error; a stream that ends early is
/// [`io::ErrorKind::UnexpectedEof`].
pub struct ChunkedDecoder<R> {
    reader: R,
    state: State,
    trailers: Vec<(String, String)>,
}

impl<R: BufRead> ChunkedDecoder<R> {
    /// A decoder positioned at the start of a chunked body.
    pub fn new(reader: R) -> Self {
        ChunkedDecoder {
            reader,
            state: State::SizeLine,
            trailers: Vec::new(),
        }
    }

    /// The trailer fields, in the order received (empty until the body has been read to its end).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Reads the trailer section after the last chunk, up to and including its empty line.
    fn read_trailers(&mut self) -> io::Result<()> {
        let mut used = 0;
        loop {
            let line = read_crlf_line(&mut self.reader, MAX_TRAILER_BYTES)?;
            if line.is_empty() {
                return Ok(());
            }
            used += line.len() + 2;
            if used > MAX_TRAILER_BYTES {
                return Err(malformed("the trailer section is larger than 8 KiB"));
            }
            let field = parse_field_line(&line)
                .map_err(|_| malformed("a trailer line is not `name: value`"))?;
            self.trailers.push(field);
        }
    }
}

/// Parses a chunk-size line (without its CRLF): hex digits, then optionally `;` and an ignored extension.
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = match line.iter().position(|&b| b == b';') {
        Some(semicolon) => &line[..semicolon],
        None => line,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed("a chunk size is not hex digits"));
    }
    let digits = std::str::from_utf8(digits).map_err(|_| malformed("not ASCII"))?;
    digits
        .parse::<u64>()
        .map_err(|_| malformed("a chunk size does not fit in 64 bits"))
}

impl<R: BufRead> Read for ChunkedDecoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::SizeLine => {
                    let line = read_crlf_line(&mut self.reader, MAX_SIZE_LINE)?;
                    let size = parse_chunk_size(&line)?;
                    if size == 0 {
                        self.read_trailers()?;
                        self.state = State::Done;
                    } else {
                        self.state = State::Data { left: size };
                    }
                }
                State::Data { left } => {
                    let available = self.reader.fill_buf()?;
                    if available.is_empty() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let wanted = usize::try_from(left).unwrap_or(usize::MAX);
                    let n = available.len().min(out.len()).min(wanted);
                    out[..n].copy_from_slice(&available[..n]);
                    self.reader.consume(n);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data { left }
                    };
                    return Ok(n);
                }
                State::DataEnd => {
                    let mut crlf = [0u8; 2];
                    self.reader.read_exact(&mut crlf)?;
                    if &crlf != b"\r\n" {
                        return Err(malformed("a chunk's data is not followed by CRLF"));
                    }
                    self.state = State::SizeLine;
                }
            }
        }
    }
}

/// Writes a chunked body to `out`: every non-empty `write` becomes one chunk, [`ChunkedEncoder::finish`] writes
/// the last chunk and the trailers.
pub struct ChunkedEncoder<W: Write> {
    out: W,
}

impl<W: Write> ChunkedEncoder<W> {
    /// An encoder at the start of a chunked body (the head has already been written).
    pub fn new(out: W) -> Self {
        ChunkedEncoder { out }
    }

    /// Ends the body: the zero-size chunk, each trailer as `name: value`, the empty line. Returns the writer.
    pub fn finish(mut self, trailers: &[(&str, &str)]) -> io::Result<W> {
        let mut tail = String::from("0\r\n");
        for (name, value) in trailers {
            tail.push_str(&format!("{name}: {value}\r\n"));
        }
        tail.push_str("\r\n");
        self.out.write_all(tail.as_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ChunkedEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // An empty chunk would be the last chunk: an empty write sends nothing.
        if data.is_empty() {
            return Ok(0);
        }
        write!(self.out, "{:x}\r\n", data.len())?;
        self.out.write_all(data)?;
        self.out.write_all(b"\r\n")?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `POST /upload`: hashes the body as it arrives and answers its size, SHA-256 and trailers (422 when an
/// `X-Content-SHA256` trailer disagrees). Errors reading the body are returned as they are.
pub fn upload<R: BufRead>(body: &mut Body<R>) -> io::Result<Response> {
    let mut hasher = Sha256::new();
    let mut buffer = [0u8; 16 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = body.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    let sha256 = format!("{:x}", hasher.finalize());
    let trailers = body.trailers();
    let damaged = trailers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case(CHECKSUM_TRAILER) && !value.eq_ignore_ascii_case(&sha256)
    });
    let status = if damaged { 422 } else { 200 };
    Ok(Response::json(
        status,
        &json!({ "bytes": bytes, "sha256": sha256, "trailers": trailers }),
    ))
}

/// `GET /export?rows=N`: writes the whole response for `head` to `out`, streaming the CSV (chunked with a
/// checksum trailer for HTTP/1.1, close-delimited for HTTP/1.0).
pub fn export(rows: u64, head: &Head, out: &mut impl Write) -> io::Result<()> {
    let chunked = head.version == (1, 1);
    let mut headers = vec![("Content-Type", "text/csv; charset=utf-8")];
    if chunked {
        headers.push(("Transfer-Encoding", "chunked"));
        headers.push(("Trailer", CHECKSUM_TRAILER));
    }
    write_head(out, 200, &headers, head.keeps_alive())?;

    let mut hasher = Sha256::new();
    let mut send_rows = |body: &mut dyn Write| -> io::Result<()> {
        let mut batch = String::with_capacity(2 * CHUNK_TARGET);
        batch.push_str(CSV_HEADER);
        for i in 0..rows {
            batch.push_str(&row(i));
            if batch.len() >= CHUNK_TARGET {
                hasher.update(batch.as_bytes());
                body.write_all(batch.as_bytes())?;
                batch.clear();
            }
        }
        hasher.update(batch.as_bytes());
        body.write_all(batch.as_bytes())
    };
    if chunked {
        let mut body = ChunkedEncoder::new(&mut *out);
        send_rows(&mut body)?;
        let checksum = format!("{:x}", hasher.finalize());
        body.finish(&[(CHECKSUM_TRAILER, &checksum)])?;
    } else {
        send_rows(out)?;
    }
    Ok(())
}

/// A good size for one chunk of the export: a few KiB of rows per size line and system call.
pub const CHUNK_TARGET: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (but do read `Body`, `row` and `write_head`).
// ---------------------------------------------------------------------------------------------------------------

/// Row `i` of the export, newline included: `i,sku-xxxxxx,price` with a fixed pseudo-random SKU and price.
pub fn row(i: u64) -> String {
    let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    format!("{i},sku-{mixed:06x},{}\n", mixed % 100_000)
}

/// A request's body as a reader, whatever its framing. Provided.
pub enum Body<R> {
    /// No body: reads nothing.
    Empty,
    /// A `Content-Length` body.
    Length(io::Take<R>),
    /// A chunked body.
    Chunked(ChunkedDecoder<R>),
}

impl<R: BufRead> Body<R> {
    /// The body of a request framed by `framing`, read from `reader`.
    pub fn new(reader: R, framing: Framing) -> Self {
        match framing {
            Framing::Empty => Body::Empty,
            Framing::Length(length) => Body::Length(reader.take(length)),
            Framing::Chunked => Body::Chunked(ChunkedDecoder::new(reader)),
        }
    }

    /// The trailers of a chunked body (once it has been read to the end); none for other bodies.
    pub fn trailers(&self) -> &[(String, String)] {
        match self {
            Body::Chunked(decoder) => decoder.trailers(),
            _ => &[],
        }
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Empty => Ok(0),
            Body::Length(take) => {
                let n = take.read(out)?;
                if n == 0 && !out.is_empty() && take.limit() > 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(n)
            }
            Body::Chunked(decoder) => decoder.read(out),
        }
    }
}

/// The request line and headers of a request. Provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `POST`, … as sent.
    pub method: String,
    /// The target as sent, query included.
    pub target: String,
    /// `(1, 1)` or `(1, 0)`.
    pub version: (u8, u8),
    /// Header fields in order, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Every value of the headers named `name` (any case), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The query without its `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// Whether the connection stays open after the answer: HTTP/1.1 without `Connection: close`. This server
    /// closes every HTTP/1.0 connection after its answer.
    pub fn keeps_alive(&self) -> bool {
        self.version == (1, 1)
            && !self
                .headers_named("connection")
                .flat_map(|v| v.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case("close"))
    }
}

/// A response with a `Content-Length` body (for everything but the export). Provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A short plain-text error such as `404 Not Found\n`.
    pub fn error(status: u16) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{status} {}\n", reason_phrase(status)).into_bytes(),
        }
    }

    /// Writes the response with its `Content-Length` (and `Connection: close` unless `keep_alive`).
    pub fn write_to(&self, out: &mut impl Write, keep_alive: bool) -> io::Result<()> {
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let length = self.body.len().to_string();
        headers.push(("Content-Length", &length));
        write_head(out, self.status, &headers, keep_alive)?;
        out.write_all(&self.body)
    }
}

/// Writes a status line, `headers`, `Connection: close` unless `keep_alive`, and the empty line. Provided.
pub fn write_head(
    out: &mut impl Write,
    status: u16,
    headers: &[(&str, &str)],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

/// The reason phrase of every status this server sends. Provided.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// An [`io::ErrorKind::InvalidData`] error: the peer broke the framing. Provided.
pub fn malformed(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

/// Reads one line ending in CRLF and returns it without the CRLF. Provided. A line longer than `limit` bytes
/// (before its CRLF) or ending in a bare LF is [`io::ErrorKind::InvalidData`]; a stream that ends before the
/// line does is [`io::ErrorKind::UnexpectedEof`]. Never reads past the line's LF.
pub fn read_crlf_line(reader: &mut impl BufRead, limit: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.take(limit as u64 + 2).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > limit {
            malformed("a line is too long")
        } else {
            io::ErrorKind::UnexpectedEof.into()
        });
    }
    line.pop();
    if line.pop() != Some(b'\r') {
        return Err(malformed("a line ends in a bare LF"));
    }
    Ok(line)
}

/// Parses a header or trailer line `name: value` (a token name, no space before the colon, no obsolete line
/// folding, no control characters in the value). Provided. The error is 400.
pub fn parse_field_line(line: &[u8]) -> Result<(String, String), u16> {
    let line = std::str::from_utf8(line).map_err(|_| 400u16)?;
    let (name, value) = line.split_once(':').ok_or(400u16)?;
    if !is_token(name) {
        return Err(400);
    }
    let value = value.trim_matches([' ', '\t']);
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(400);
    }
    Ok((name.to_string(), value.to_string()))
}

/// A `tchar` of RFC 9110: methods and field names are made of these. Provided.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why [`read_head`] produced no head. Provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Malformed: answer this status and close.
    Reject(u16),
    /// The connection ended (or failed) before a whole head arrived.
    Disconnected,
}

/// Reads a request head up to and including its empty line. Provided. This server is strict: it does not skip
/// empty lines before a request line, so bytes a body decoder leaves behind show up as a malformed request.
pub fn read_head(reader: &mut impl BufRead) -> Result<Head, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut next_line = |reader: &mut dyn BufRead| -> Result<Vec<u8>, ReadError> {
        let mut line = Vec::new();
        reader
            .take(budget as u64)
            .read_until(b'\n', &mut line)
            .map_err(|_| ReadError::Disconnected)?;
        if line.last() != Some(&b'\n') {
            return Err(if line.len() == budget {
                ReadError::Reject(431)
            } else {
                ReadError::Disconnected
            });
        }
        budget -= line.len();
        line.pop();
        if line.pop() != Some(b'\r') {
            return Err(ReadError::Reject(400));
        }
        Ok(line)
    };
    let request_line = next_line(reader)?;
    let request_line = String::from_utf8(request_line).map_err(|_| ReadError::Reject(400))?;
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(ReadError::Reject(400));
    };
    if !is_token(method) || !target.starts_with('/') {
        return Err(ReadError::Reject(400));
    }
    let version = match version {
        "HTTP/1.1" => (1, 1),
        "HTTP/1.0" => (1, 0),
        v if v.len() == 8 && v.starts_with("HTTP/") && v.as_bytes()[6] == b'.' => {
            return Err(ReadError::Reject(505));
        }
        _ => return Err(ReadError::Reject(400)),
    };
    let mut headers = Vec::new();
    loop {
        let line = next_line(reader)?;
        if line.is_empty() {
            break;
        }
        headers.push(parse_field_line(&line).map_err(ReadError::Reject)?);
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers,
    })
}

/// The `rows` of `/export?rows=N`: digits, at most [`MAX_ROWS`]. Provided.
pub fn export_rows(head: &Head) -> Result<u64, u16> {
    let value = head
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("rows="))
        .ok_or(400u16)?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(400);
    }
    value
        .parse::<u64>()
        .ok()
        .filter(|rows| *rows <= MAX_ROWS)
        .ok_or(400)
}

/// What to do after one exchange. Provided.
enum Next {
    KeepGoing,
    Close,
}

/// Answers one request whose head has been read. Provided.
fn exchange(
    head: &Head,
    reader: &mut BufReader<TcpStream>,
    out: &mut BufWriter<TcpStream>,
) -> io::Result<Next> {
    let framing = match request_framing(head) {
        Ok(framing) => framing,
        Err(status) => {
            Response::error(status).write_to(out, false)?;
            return Ok(Next::Close);
        }
    };
    let keep_alive = head.keeps_alive();
    let mut body = Body::new(&mut *reader, framing);
    let answer = match (head.method.as_str(), head.path()) {
        ("POST", "/upload") => upload(&mut body),
        (_, "/upload") => Ok(Response::error(405).with_allow("POST")),
        ("GET", "/export") => match export_rows(head) {
            Ok(rows) => {
                export(rows, head, out)?;
                io::copy(&mut body, &mut io::sink())?;
                return Ok(if keep_alive {
                    Next::KeepGoing
                } else {
                    Next::Close
                });
            }
            Err(status) => Ok(Response::error(status)),
        },
        (_, "/export") => Ok(Response::error(405).with_allow("GET")),
        _ => Ok(Response::error(404)),
    };
    // Whatever the handler left of the body is read and dropped, so the next request starts where it should.
    let answer = answer.and_then(|response| io::copy(&mut body, &mut io::sink()).map(|_| response));
    match answer {
        Ok(response) => {
            response.write_to(out, keep_alive)?;
            Ok(if keep_alive {
                Next::KeepGoing
            } else {
                Next::Close
            })
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            Response::error(400).write_to(out, false)?;
            Ok(Next::Close)
        }
        Err(e) => Err(e),
    }
}

impl Response {
    fn with_allow(mut self, methods: &str) -> Response {
        self.headers.push(("Allow".into(), methods.into()));
        self
    }
}

/// Serves one connection: requests in order until close. Provided.
fn handle_connection(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A client that stops sending mid-request is dropped after a while instead of holding a thread forever.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = BufWriter::with_capacity(32 * 1024, stream.try_clone()?);
    loop {
        let next = match read_head(&mut reader) {
            Ok(head) => exchange(&head, &mut reader, &mut out),
            Err(ReadError::Reject(status)) => {
                Response::error(status).write_to(&mut out, false)?;
                Ok(Next::Close)
            }
            Err(ReadError::Disconnected) => return Ok(()),
        };
        out.flush()?;
        if matches!(next?, Next::Close) {
            break;
        }
    }
    drop(out);
    close_gracefully(stream);
    Ok(())
}

/// Closes after the last answer without losing it: stop writing, drain what the client still sends for a
/// moment, then close (closing with unread bytes would send a reset that can destroy the answer). Provided.
fn close_gracefully(mut stream: TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 16 * 1024];
    let mut drained = 0usize;
    while drained < 64 << 20 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Provided: you do not need to change this. Binds a free port on loopback, tells the grader, serves each
/// connection on its own thread.
fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || {
            let _ = handle_connection(stream);
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn head(lines: &str) -> Head {
        read_head(&mut Cursor::new(format!("{lines}\r\n\r\n"))).unwrap()
    }

    fn decode(wire: &[u8]) -> (io::Result<Vec<u8>>, Vec<(String, String)>, usize) {
        let mut cursor = Cursor::new(wire.to_vec());
        let mut decoder = ChunkedDecoder::new(&mut cursor);
        let mut body = Vec::new();
        let result = decoder.read_to_end(&mut body).map(|_| body);
        let trailers = decoder.trailers().to_vec();
        (result, trailers, cursor.position() as usize)
    }

    // Content-Length, chunked, both (smuggling), and the codings rules.
    #[test]
    fn decides_the_framing() {
        let framing = |headers: &str| request_framing(&head(&format!("POST / HTTP/1.1{headers}")));
        assert_eq!(framing(""), Ok(Framing::Empty));
        assert_eq!(framing("\r\nContent-Length: 12"), Ok(Framing::Length(12)));
        assert_eq!(
            framing("\r\ncontent-length: 3\r\nContent-Length: 3"),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            framing("\r\nContent-Length: 3\r\nContent-Length: 4"),
            Err(400)
        );
        for bad in ["-1", "+5", "0x10", "", "5 5", "99999999999999999999"] {
            assert_eq!(
                framing(&format!("\r\nContent-Length: {bad}")),
                Err(400),
                "{bad:?}"
            );
        }
        assert_eq!(
            framing("\r\nTransfer-Encoding: chunked"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("\r\ntransfer-encoding: Chunked"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("\r\nTransfer-Encoding: chunked\r\nContent-Length: 5"),
            Err(400)
        );
        assert_eq!(framing("\r\nTransfer-Encoding: gzip, chunked"), Err(501));
        assert_eq!(framing("\r\nTransfer-Encoding: chunked, gzip"), Err(400));
        assert_eq!(
            framing("\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"),
            Err(400)
        );
    }

    // Hex sizes in either case, extensions ignored, trailers kept, and the reader left right after the body.
    #[test]
    fn decodes_chunks_and_trailers_exactly() {
        let wire = b"5\r\nhello\r\n1A;note=x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-One: 1\r\nx-two:  two \r\n\r\nNEXT";
        let (body, trailers, position) = decode(wire);
        assert_eq!(body.unwrap(), b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(
            trailers,
            vec![
                ("X-One".to_string(), "1".to_string()),
                ("x-two".to_string(), "two".to_string())
            ]
        );
        assert_eq!(&wire[position..], b"NEXT");
    }

    // Malformed framing is InvalidData; a body cut short is UnexpectedEof.
    #[test]
    fn refuses_malformed_chunks() {
        for wire in [
            &b"z\r\nhello\r\n0\r\n\r\n"[..],
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"3\r\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"10000000000000000\r\n",
            b"0\r\nno colon\r\n\r\n",
        ] {
            let (body, _, _) = decode(wire);
            let kind = body.unwrap_err().kind();
            assert_eq!(
                kind,
                io::ErrorKind::InvalidData,
                "{}",
                String::from_utf8_lossy(wire)
            );
        }
        let (body, _, _) = decode(b"5\r\nhel");
        assert_eq!(body.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    // A huge announced size is streamed, not allocated: the decoder hands out what is there, then EOF.
    #[test]
    fn never_allocates_an_announced_size() {
        let mut decoder = ChunkedDecoder::new(Cursor::new(b"ffffffffffffffff\r\nabc".to_vec()));
        let mut buffer = [0u8; 8];
        assert_eq!(decoder.read(&mut buffer).unwrap(), 3);
        assert_eq!(
            decoder.read(&mut buffer).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    // Each write is one chunk; an empty write sends nothing; finish writes the zero chunk and the trailers.
    #[test]
    fn encodes_chunks_and_trailers() {
        let mut encoder = ChunkedEncoder::new(Vec::new());
        encoder.write_all(b"hello").unwrap();
        assert_eq!(encoder.write(b"").unwrap(), 0);
        encoder.write_all(&[b'x'; 26]).unwrap();
        let wire = encoder.finish(&[("X-Sum", "abc")]).unwrap();
        let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
        expected.extend([b'x'; 26]);
        expected.extend(b"\r\n0\r\nX-Sum: abc\r\n\r\n");
        assert_eq!(wire, expected);
    }

    // An upload answers its size, digest and trailers; a disagreeing checksum trailer is 422.
    #[test]
    fn uploads_are_hashed() {
        let answer = |wire: &[u8]| {
            let mut body = Body::new(Cursor::new(wire.to_vec()), Framing::Chunked);
            let response = upload(&mut body).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            (response.status, json)
        };
        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let (status, json) = answer(b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n");
        assert_eq!(status, 200);
        assert_eq!(json, json!({"bytes": 5, "sha256": hello, "trailers": []}));
        let good = format!(
            "5\r\nhello\r\n0\r\nx-content-sha256: {}\r\n\r\n",
            hello.to_uppercase()
        );
        assert_eq!(answer(good.as_bytes()).0, 200);
        let (status, json) = answer(b"5\r\nhellO\r\n0\r\nX-Content-SHA256: 2cf24dba\r\n\r\n");
        assert_eq!(status, 422);
        assert_eq!(json["trailers"], json!([["X-Content-SHA256", "2cf24dba"]]));
    }

    // HTTP/1.1 gets a chunked CSV with a checksum trailer; HTTP/1.0 gets the raw body and Connection: close.
    #[test]
    fn exports_stream_the_rows() {
        let csv: String = std::iter::once(CSV_HEADER.to_string())
            .chain((0..3).map(row))
            .collect();
        let mut out = Vec::new();
        export(3, &head("GET /export?rows=3 HTTP/1.1"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head_text, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head_text.contains("\r\nTransfer-Encoding: chunked"));
        assert!(head_text.contains("\r\nTrailer: X-Content-SHA256"));
        let (decoded, trailers, _) = decode(body.as_bytes());
        assert_eq!(decoded.unwrap(), csv.as_bytes());
        let checksum = format!("{:x}", Sha256::digest(csv.as_bytes()));
        assert_eq!(trailers, vec![(CHECKSUM_TRAILER.to_string(), checksum)]);

        let mut out = Vec::new();
        export(3, &head("GET /export?rows=3 HTTP/1.0"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nConnection: close\r\n") && !text.contains("chunked"));
        assert!(text.ends_with(&format!("\r\n\r\n{csv}")));
    }
}
