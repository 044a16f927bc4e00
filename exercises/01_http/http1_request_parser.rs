//! # An HTTP/1.1 request parser: where does one request end and the next begin?
//!
//! Before a server can route, authenticate or cache anything, it has to turn bytes from a socket into requests.
//! TCP hands it a *stream*: no message boundaries, just bytes, cut wherever the network felt like cutting them.
//! One request may arrive in twenty pieces; three pipelined requests may arrive in one. The parser is the piece
//! of code that decides, byte by byte, where a request starts, where its head ends, how long its body is, and
//! where the next request begins:
//!
//! ```text
//! POST /notes/caf%C3%A9?tag=a+b&x=%26 HTTP/1.1\r\n    <- request line: METHOD SP TARGET SP VERSION
//! Host: example.com\r\n                               <- header lines: name ":" value
//! content-LENGTH: 5\r\n                               <- names are case-insensitive
//! \r\n                                                <- a blank line ends the head
//! helloGET / HTTP/1.1\r\n...                          <- 5 body bytes, then the next request starts
//! ```
//!
//! You write it here as a *streaming* parser: [`Parser::feed`] takes whatever bytes arrived, returns every
//! request that is now complete, and keeps the unfinished tail for the next call. That is the shape of the
//! parsers inside hyper, nginx and Node (`llhttp`); it knows nothing about sockets, so it can be tested byte by
//! byte. The next exercise, `http2_raw_server`, puts the same reading rules behind a real socket.
//!
//! ## Why this matters in production
//!
//! The parser is the first code an attacker's bytes reach, and its mistakes are some of the most expensive bugs
//! on the web:
//!
//! - **Request smuggling.** A proxy and the server behind it must agree on where each request ends. If one trusts
//!   `Content-Length` and the other `Transfer-Encoding: chunked`, or they pick different values of two
//!   `Content-Length` headers, an attacker hides a second request inside the body of the first: the proxy sees
//!   one request, the backend sees two, and the hidden one skips the proxy's authentication. RFC 9112 §6.3 says:
//!   refuse such a message (400) and close the connection.
//! - **Resource exhaustion.** A parser that buffers "until the end of the line" can be fed an endless line. Every
//!   buffer needs a limit, checked *as the bytes arrive*, not after the line is complete.
//! - **Decoding confusion.** `%2F` is a `/` inside a path segment, not a separator; `+` means a space only in a
//!   query string; `%26` is a literal `&` in a query value. Decode in the wrong order and `/files/a%2F..%2Fetc`
//!   or `?role=user%26role=admin` means something the application never meant.
//!
//! ## The contract (what the grader checks)
//!
//! A connection is a [`Parser`]. [`Parser::feed`] appends bytes and returns, in order, every request whose last
//! byte has now arrived (no sooner and no later), plus the error that ended the connection, if any:
//!
//! - **Lines** end in `\r\n`. A `\n` without its `\r` is **400**.
//! - **Limits**, checked as bytes arrive: a line is at most [`MAX_LINE_BYTES`] = 1024 bytes counting its
//!   `\r\n`, and the head (request line, header lines and the blank line) at most [`MAX_HEAD_BYTES`] = 4096.
//!   As soon as that many bytes have arrived without the line's `\n` (or the head's blank line), the request is
//!   refused: **414** for the request line, **431** for a header line or the head. Exactly at the limit is fine.
//! - **Request line**: `METHOD SP TARGET SP VERSION`, single spaces. The method is a token (see [`is_token`]). The
//!   target starts with `/` and is visible ASCII (`!` to `~`). The version is `HTTP/1.1` or `HTTP/1.0`; another
//!   `HTTP/<digit>.<digit>` is **505**. Anything else (an empty line included) is **400**.
//! - **Target**: split off the query at the first `?`. The path (after its leading `/`) splits on `/` into
//!   segments, *then* each segment is percent-decoded (`%2F` stays inside its segment; `+` stays `+`). The query
//!   splits on `&` (empty pieces are skipped), each piece on its first `=` (no `=`: the value is empty), *then*
//!   names and values are decoded with `+` meaning a space. A `%` not followed by two hex digits, or decoded
//!   bytes that are not UTF-8, is **400**.
//! - **Header lines**: `name: value`. A line starting with a space or tab (obsolete line folding) is **400**; so
//!   is a line without `:`, a name that is not a token (no space before the colon), a value with a control
//!   character other than tab, and a line that is not UTF-8. Names are stored in lowercase, values trimmed of
//!   spaces and tabs, in the order sent (a repeated header appears once per line).
//! - **Host**: an `HTTP/1.1` request without `Host`, or any request with two, is **400**.
//! - **Body framing**: `Transfer-Encoding` together with `Content-Length` is **400** (smuggling); alone it is
//!   **501** (this parser does not decode chunked bodies: that is `http4_chunked_streaming`). `Content-Length` is
//!   all digits (`-1`, `+5`, `5a`, `0x10`, `5, 5` are **400**); several equal values are accepted, different
//!   ones are **400**; above [`MAX_BODY_BYTES`] = 64 KiB is **413**, reported as soon as the head is complete,
//!   without waiting for the body. No `Content-Length`: no body.
//! - The grader sends one defect at a time, so when several rules are broken, which status wins is up to you.
//!   After an error the connection is finished: every later `feed` returns no request and the same error,
//!   because bytes after a framing error can no longer be trusted.
//!
//! Over stdin/stdout (the provided `main`): `{"op":"feed","hex":"<bytes>"}` answers
//! `{"requests":[…],"error":null}` or `{"requests":[…],"error":431}` (the grader adds `as_text`, the same bytes
//! as text so its transcript is readable; only `hex` counts); `{"op":"open"}` starts a new connection;
//! `{"op":"eof"}` answers `{"leftover":N}`, the bytes held that belong to no returned request yet.
//!
//! ## Pitfalls
//!
//! - Returning "whatever arrived" as a request: a head is complete only at its blank line, a body only after
//!   `Content-Length` bytes. Keep the tail for the next `feed`.
//! - Losing the next request: the bytes after one body are the start of the next request, even in the same feed.
//! - Searching the body for `\r\n\r\n`: a body is opaque bytes and may contain anything, a request line included.
//! - `"+5".parse::<usize>()` and `"-0".parse::<i64>()` succeed in Rust. Check for digits yourself.
//! - Decoding before splitting: `a%26b=c` is one name `a&b`, not two pairs.
//! - Lowercasing header *values* along with names: only names are case-insensitive.
//!
//! Roadmap: HTTP fundamentals, request/response anatomy [001 §1.3][004]; client-server model [004]; request
//! smuggling (RFC 9112 §6.3, §11.2).

use backlings_harness::stdio::{from_hex, serve_json_lines, to_hex};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest line, counting its `\r\n`.
pub const MAX_LINE_BYTES: usize = 1024;
/// The longest head (request line, header lines and the blank line), in bytes.
pub const MAX_HEAD_BYTES: usize = 4096;
/// The largest body accepted (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method exactly as sent: `GET`.
    pub method: String,
    /// The target exactly as sent, still encoded: `/a%20b?x=1`.
    pub target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The decoded path segments: `/a%20b/c` is `["a b", "c"]`, `/` is `[""]`.
    pub segments: Vec<String>,
    /// The decoded query pairs in order: `?x=1&y` is `[("x", "1"), ("y", "")]`.
    pub query: Vec<(String, String)>,
    /// Header names in lowercase and trimmed values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// Exactly `Content-Length` bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// Provided: the request as the grader reads it.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "segments": self.segments,
            "query": self.query.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "headers": self.headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
            "body": to_hex(&self.body),
        })
    }
}

/// What one [`Parser::feed`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// The requests completed by this feed, in order.
    pub requests: Vec<Request>,
    /// The status that ended the connection (400, 413, 414, 431, 501, 505), if it has ended.
    pub error: Option<u16>,
}

/// Provided: a `tchar` of RFC 9110, the characters allowed in methods and header names.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Finds the end of the line that starts at `start`: the index just past its `\n`. `Ok(None)` while the line
/// is incomplete and still under `limit` bytes; `Err(too_long)` as soon as `limit` bytes have arrived without
/// a `\n`; `Err(400)` for a `\n` without its `\r`.
pub fn line_end(
    buffer: &[u8],
    start: usize,
    limit: usize,
    too_long: u16,
) -> Result<Option<usize>, u16> {
    // TODO: find the `\n` of the line that starts at `start`, looking at no more than `limit` bytes;
    //       400 for a `\n` without its `\r`, `too_long` once `limit` bytes hold no `\n`, `None` to wait.
    todo!("find where the line ends")
}

/// Splits a request line into method, target and version.
pub fn parse_request_line(line: &str) -> Result<(String, String, String), u16> {
    // TODO: exactly three parts separated by single spaces; check the method (400), the target (400)
    //       and the version (`HTTP/1.1` or `HTTP/1.0`; another `HTTP/<digit>.<digit>` is 505, anything else 400).
    todo!("split and check the request line")
}

/// Provided: the value of one hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|value| value as u8)
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); 400 for a bad escape or bytes that are
/// not UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, u16> {
    // TODO: turn each `%XX` into its byte (400 if two hex digits do not follow), `+` into a space when
    //       `plus_is_space`; the decoded bytes must be UTF-8 (400).
    todo!("percent-decode")
}

/// A request target, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The decoded path segments.
    pub segments: Vec<String>,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
}

/// Splits and decodes a target into its path segments and query pairs.
pub fn parse_target(target: &str) -> Result<Target, u16> {
    // TODO: split off the query at the first `?`; split the path (after its `/`) into segments and the query
    //       into pairs, and only then decode each piece.
    todo!("split and decode the target")
}

/// Parses one header line (without its `\r\n`) into a lowercase name and a trimmed value.
pub fn parse_header_line(line: &str) -> Result<(String, String), u16> {
    // TODO: refuse obsolete line folding, a missing colon, a name that is not a token and control
    //       characters in the value (400); return the lowercase name and the trimmed value.
    todo!("parse one header line")
}

/// Applies the `Host` and body-framing rules to a complete head and returns the body length.
pub fn body_length(version: &str, headers: &[(String, String)]) -> Result<usize, u16> {
    // TODO: the Host rules; then Transfer-Encoding (400 with a Content-Length, 501 without); then every
    //       Content-Length: digits only, all equal, at most MAX_BODY_BYTES (413). No Content-Length: 0.
    todo!("the Host and framing rules")
}

/// Parses the request at the start of `buffer`: `Ok(Some((request, bytes used)))` once it is complete,
/// `Ok(None)` while more bytes are needed, `Err(status)` as soon as it is certain to be refused.
pub fn parse_one(buffer: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    // TODO: find the end of every line of the head up to the blank line, with the limits of the contract
    //       (414 for the request line, 431 for a header line or the whole head); wait for more bytes if the
    //       head is incomplete. Then parse the lines, apply the framing rules, and wait until the whole body
    //       is there. Return the request and how many bytes it used.
    todo!("parse the request at the start of the buffer")
}

/// One connection's parser: the bytes received but not yet part of a returned request, and the error that
/// ended the connection.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
    failed: Option<u16>,
}

impl Parser {
    /// A parser for a new connection.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Appends `bytes` and returns every request they complete, in order, and the error that ended the
    /// connection, if any.
    pub fn feed(&mut self, bytes: &[u8]) -> Feed {
        // TODO: once the connection has failed, only repeat its error. Otherwise keep the new bytes after the
        //       old ones and take complete requests off the front for as long as there are some; an error
        //       ends the connection.
        todo!("feed bytes to the parser")
    }

    /// The bytes held that belong to no returned request yet.
    pub fn leftover(&self) -> usize {
        // TODO: the bytes received that belong to no returned request yet.
        todo!("bytes held")
    }
}

/// The grader's messages.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Open,
    Feed { hex: String },
    Eof,
}

/// Provided: you do not need to change this. One parser per connection, driven over JSON lines.
fn main() {
    let mut parser = Parser::new();
    serve_json_lines(|op: Op| match op {
        Op::Open => {
            parser = Parser::new();
            json!({ "opened": true })
        }
        Op::Feed { hex } => match from_hex(&hex) {
            Ok(bytes) => {
                let feed = parser.feed(&bytes);
                let requests: Vec<Value> = feed.requests.iter().map(Request::to_json).collect();
                json!({ "requests": requests, "error": feed.error })
            }
            Err(why) => json!({ "bad_input": why }),
        },
        Op::Eof => json!({ "leftover": parser.leftover() }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(bytes: &[u8]) -> Feed {
        Parser::new().feed(bytes)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    // A whole request in one feed: every field parsed, names lowercased, values trimmed.
    #[test]
    fn parses_a_whole_request() {
        let raw = b"POST /notes/caf%C3%A9?tag=a+b HTTP/1.1\r\nHost: ex\r\nContent-LENGTH: 5\r\nX-A: \t v \r\n\r\nhello";
        let feed = feed_all(raw);
        assert_eq!(feed.error, None);
        let request = &feed.requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/notes/caf%C3%A9?tag=a+b");
        assert_eq!(request.segments, ["notes", "café"]);
        assert_eq!(request.query, pairs(&[("tag", "a b")]));
        assert_eq!(
            request.headers,
            pairs(&[("host", "ex"), ("content-length", "5"), ("x-a", "v")])
        );
        assert_eq!(request.body, b"hello");
    }

    // A request fed one byte at a time comes back once, with its last byte, and nothing is left over.
    #[test]
    fn keeps_the_tail_between_feeds() {
        let raw = b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        let mut parser = Parser::new();
        for (i, byte) in raw.iter().enumerate() {
            let feed = parser.feed(&[*byte]);
            assert_eq!(feed.error, None, "byte {i}");
            assert_eq!(
                feed.requests.len(),
                usize::from(i == raw.len() - 1),
                "byte {i}"
            );
        }
        assert_eq!(parser.leftover(), 0);
    }

    // Three requests in one feed come back in order; a body that looks like a request is still a body.
    #[test]
    fn returns_pipelined_requests_in_order() {
        let raw =
            b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 19\r\n\r\nGET /b HTTP/1.1\r\n\r\n\
                    GET /c HTTP/1.1\r\nHost: a\r\n\r\nGET /d HTTP/1.0\r\n\r\nGET /e";
        let mut parser = Parser::new();
        let feed = parser.feed(raw);
        let targets: Vec<&str> = feed.requests.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["/a", "/c", "/d"]);
        assert_eq!(feed.requests[0].body, b"GET /b HTTP/1.1\r\n\r\n");
        assert_eq!(parser.leftover(), 6);
    }

    // `+` is a space only in the query; the target is split before it is decoded.
    #[test]
    fn decodes_paths_and_queries_differently() {
        let target = parse_target("/a+b/c%2Fd/?q=a+b%2B&k%3D=v%26w&&flag").unwrap();
        assert_eq!(target.segments, ["a+b", "c/d", ""]);
        assert_eq!(
            target.query,
            pairs(&[("q", "a b+"), ("k=", "v&w"), ("flag", "")])
        );
        assert_eq!(parse_target("/").unwrap().segments, [""]);
        for bad in ["/%", "/%4", "/%zz", "/%FF", "/?a=%C3", "/?%C3%28=1"] {
            assert_eq!(parse_target(bad), Err(400), "{bad}");
        }
    }

    // The smuggling rules: two framings, or two different lengths, are refused.
    #[test]
    fn refuses_ambiguous_framing() {
        let with = |extra: &str| {
            feed_all(format!("POST / HTTP/1.1\r\nHost: a\r\n{extra}\r\n").as_bytes()).error
        };
        assert_eq!(
            with("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
            Some(400)
        );
        assert_eq!(with("Transfer-Encoding: chunked\r\n"), Some(501));
        assert_eq!(
            with("Content-Length: 3\r\nContent-Length: 4\r\n"),
            Some(400)
        );
        assert_eq!(with("Content-Length: -1\r\n"), Some(400));
        assert_eq!(with("Content-Length: +5\r\n"), Some(400));
        assert_eq!(with("Content-Length: 65537\r\n"), Some(413));
        assert_eq!(with("Content-Length: 0\r\nContent-Length: 0\r\n"), None);
    }

    // Malformed heads are 400, other versions 505; after an error the connection stays failed.
    #[test]
    fn refuses_malformed_heads() {
        for raw in [
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\nHost: a\r\n\r\n",
            "GET / http/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ] {
            assert_eq!(feed_all(raw.as_bytes()).error, Some(400), "{raw:?}");
        }
        let mut parser = Parser::new();
        assert_eq!(parser.feed(b"GET / HTTP/2.0\r\n\r\n").error, Some(505));
        assert_eq!(
            parser.feed(b"GET / HTTP/1.0\r\n\r\n"),
            Feed {
                requests: vec![],
                error: Some(505)
            }
        );
    }

    // Limits are exact, and an endless line is refused when the limit is reached, not at its end.
    #[test]
    fn enforces_the_limits_as_bytes_arrive() {
        let line = |len: usize| format!("GET /{} HTTP/1.0\r\n", "a".repeat(len - 16));
        assert_eq!(line(MAX_LINE_BYTES).len(), MAX_LINE_BYTES);
        assert_eq!(
            feed_all(format!("{}\r\n", line(MAX_LINE_BYTES)).as_bytes())
                .requests
                .len(),
            1
        );
        assert_eq!(
            feed_all(line(MAX_LINE_BYTES + 1).as_bytes()).error,
            Some(414)
        );

        let mut parser = Parser::new();
        assert_eq!(parser.feed(&[b'a'; MAX_LINE_BYTES - 1]).error, None);
        assert_eq!(parser.feed(b"a").error, Some(414));

        let mut parser = Parser::new();
        assert_eq!(parser.feed(b"GET / HTTP/1.0\r\n").error, None);
        let header = format!("X-Big: {}", "b".repeat(MAX_LINE_BYTES - 8));
        assert_eq!(parser.feed(header.as_bytes()).error, None);
        assert_eq!(parser.feed(b"b").error, Some(431));
    }
}
