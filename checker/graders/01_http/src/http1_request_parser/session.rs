//! One connection driven through the program's parser: a byte stream fed in given pieces, every reply checked
//! against what must have come back by then (requests the moment their last byte arrives, an error no sooner
//! than it is certain and no later than the contract allows), then the end of the connection.

use backlings_grade::http::printable;
use backlings_grade::{Failure, Stdio};
use serde_json::{Value, json};

use super::generate::hex;

/// What one connection must produce.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Each request: the offset just past its last byte, and its JSON.
    pub requests: Vec<(usize, Value)>,
    /// The error that ends the connection, if any.
    pub error: Option<ErrorAt>,
}

/// An error, and the offsets of the stream between which it must be reported.
#[derive(Debug, Clone, Copy)]
pub struct ErrorAt {
    /// The status: 400, 413, 414, 431, 501 or 505.
    pub status: u16,
    /// Before this many bytes have been fed, the error is not yet certain.
    pub earliest: usize,
    /// Once this many bytes have been fed, the error must have been reported.
    pub latest: usize,
}

/// The lesson of a broken "after an error" rule.
pub const AFTER_ERROR: &str = "after an error the connection is over: every later feed returns no request and \
     the same error (bytes after a framing error cannot be trusted)";

/// Opens a connection, feeds `stream` in pieces of the given sizes (the last piece takes the rest), and checks
/// every reply against `expect`. `rule` is the contract of this case in plain words.
pub fn run(
    program: &mut Stdio,
    stream: &[u8],
    pieces: &[usize],
    expect: &Expect,
    rule: &str,
) -> Result<(), Failure> {
    program.expect(
        &json!({"op": "open"}),
        &json!({"opened": true}),
        "{\"op\":\"open\"} starts a new connection and answers {\"opened\":true}",
    )?;
    let mut offset = 0;
    let mut returned = 0;
    let mut cuts = pieces.to_vec();
    cuts.push(usize::MAX);
    for size in cuts {
        if offset == stream.len() {
            break;
        }
        let end = offset.saturating_add(size).min(stream.len());
        let piece = &stream[offset..end];
        let reply = program.request(&feed(piece))?;
        let context = Context {
            stream,
            offset,
            end,
        };
        let (got, error) = read_feed(&reply).map_err(|why| {
            Failure::new(rule)
                .got(reply.to_string())
                .detail(why)
                .detail(context.fed())
        })?;
        let due = expect
            .requests
            .iter()
            .take_while(|(last, _)| *last <= end)
            .count();
        let wanted: Vec<Value> = expect.requests[returned..due]
            .iter()
            .map(|(_, json)| json.clone())
            .collect();
        if got != wanted {
            return Err(mismatch(rule, &wanted, &got, &context, returned));
        }
        returned = due;
        match (error, expect.error) {
            (None, None) => {}
            (Some(status), None) => {
                let mut failure = Failure::new(rule)
                    .expected("no error: every byte so far belongs to valid requests")
                    .got(format!("error {status}"));
                if offset > 0 {
                    failure = failure.detail(
                        "a valid request cut into pieces looks malformed when the bytes of earlier feeds are \
                         forgotten: keep the unfinished tail and parse it together with the new bytes",
                    );
                }
                return Err(failure.detail(context.fed()));
            }
            (None, Some(want)) if end >= want.latest => {
                return Err(Failure::new(rule)
                    .expected(format!(
                        "error {} by now: the bytes fed so far already decide it",
                        want.status
                    ))
                    .got("no error: the parser is still waiting for more bytes")
                    .detail(context.fed()));
            }
            (None, Some(_)) => {}
            (Some(status), Some(want)) => {
                if end < want.earliest {
                    return Err(Failure::new(rule)
                        .expected(format!(
                            "no error yet: after {end} bytes the request can still be valid (error {} comes at \
                             byte {} at the soonest)",
                            want.status, want.earliest
                        ))
                        .got(format!("error {status}"))
                        .detail(context.fed()));
                }
                if status != want.status {
                    return Err(Failure::new(rule)
                        .expected(format!("error {}", want.status))
                        .got(format!("error {status}"))
                        .detail(context.fed()));
                }
                return after_error(program, status);
            }
        }
        offset = end;
    }
    if let Some(want) = expect.error {
        return Err(Failure::new(rule)
            .expected(format!("error {}", want.status))
            .got("no error after the whole stream was fed"));
    }
    let last = expect.requests.last().map_or(0, |(last, _)| *last);
    let leftover = stream.len() - last;
    program.expect(
        &json!({"op": "eof"}),
        &json!({"leftover": leftover}),
        &format!(
            "at the end of the connection, {{\"op\":\"eof\"}} answers the bytes held that belong to no returned \
             request: here {leftover} (the start of an unfinished request, or 0)"
        ),
    )?;
    Ok(())
}

/// A `feed` message. `as_text` repeats the bytes as text for the transcript (keys print in order, so it
/// comes before the hex); the program reads only `hex`.
fn feed(bytes: &[u8]) -> Value {
    json!({"op": "feed", "as_text": String::from_utf8_lossy(bytes), "hex": hex(bytes)})
}

/// Feeds a valid request after an error: the connection must stay failed.
fn after_error(program: &mut Stdio, status: u16) -> Result<(), Failure> {
    let valid = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let reply = program.request(&feed(valid))?;
    let wanted = json!({"requests": [], "error": status});
    if reply != wanted {
        return Err(Failure::new(AFTER_ERROR)
            .expected(wanted.to_string())
            .got(reply.to_string())
            .detail(format!(
                "the connection ended with error {status}; then this was fed: \"{}\"",
                printable(valid)
            )));
    }
    Ok(())
}

/// The shape of a reply to `feed`: the requests and the error.
fn read_feed(reply: &Value) -> Result<(Vec<Value>, Option<u16>), String> {
    let shape = "a feed is answered {\"requests\":[…],\"error\":null} or {\"requests\":[…],\"error\":<status>}";
    let requests = reply["requests"]
        .as_array()
        .ok_or_else(|| shape.to_string())?;
    let error = match &reply["error"] {
        Value::Null if reply.get("error").is_some() => None,
        Value::Number(n) => Some(
            n.as_u64()
                .filter(|status| (100..=599).contains(status))
                .ok_or_else(|| shape.to_string())? as u16,
        ),
        _ => return Err(shape.to_string()),
    };
    Ok((requests.clone(), error))
}

/// Where one feed sits in the stream, for reports.
struct Context<'a> {
    stream: &'a [u8],
    offset: usize,
    end: usize,
}

impl Context<'_> {
    fn fed(&self) -> String {
        let piece = &self.stream[self.offset..self.end];
        if self.offset == 0 {
            return format!("fed on this connection: \"{}\"", preview(piece));
        }
        format!(
            "fed before: \"{}\" ({} bytes) · this feed: \"{}\" ({} bytes)",
            preview_tail(&self.stream[..self.offset]),
            self.offset,
            preview(piece),
            piece.len()
        )
    }
}

/// A mismatch between the requests due after a feed and those returned, explained.
fn mismatch(
    rule: &str,
    wanted: &[Value],
    got: &[Value],
    context: &Context,
    returned: usize,
) -> Failure {
    let failure = Failure::new(rule)
        .expected(describe_list(wanted))
        .got(describe_list(got));
    let why = if got.len() < wanted.len() {
        let mut why = format!(
            "{} request(s) ended in the bytes fed so far and must be returned now, but {} came back",
            wanted.len(),
            got.len()
        );
        if context.offset > 0 && returned == 0 {
            why.push_str(
                ": keep the bytes of an unfinished request between feeds, the rest of it comes in later feeds",
            );
        } else if !got.is_empty() || returned > 0 {
            why.push_str(
                ": after one request, keep parsing the bytes that follow it, they start the next request",
            );
        }
        why
    } else if got.len() > wanted.len() {
        "a request came back before its last byte arrived: the head ends at the blank line, the body after \
         exactly Content-Length bytes"
            .to_string()
    } else {
        field_differences(wanted, got)
    };
    failure.detail(why).detail(context.fed())
}

/// Which fields differ, with the rule for each.
fn field_differences(wanted: &[Value], got: &[Value]) -> String {
    let mut lines = Vec::new();
    for (want, have) in wanted.iter().zip(got) {
        for (field, lesson) in [
            ("method", "the method exactly as sent"),
            ("target", "the target exactly as sent, still encoded"),
            ("version", "the version exactly as sent"),
            (
                "segments",
                "split the path after its leading `/` on `/` before decoding each segment (`+` stays a plus \
                 in a path)",
            ),
            (
                "query",
                "split the query on `&` (skipping empty pieces) and each piece on its first `=` before \
                 decoding names and values (there `+` is a space)",
            ),
            (
                "headers",
                "every header line in the order sent: its name in lowercase, its value as sent (only trimmed of \
                 spaces and tabs)",
            ),
            (
                "body",
                "the body is exactly Content-Length bytes after the blank line",
            ),
        ] {
            if want.get(field) != have.get(field) {
                lines.push(format!("`{field}` differs: {lesson}"));
            }
        }
    }
    if lines.is_empty() {
        "the requests differ (unexpected or missing fields)".to_string()
    } else {
        lines.join("; ")
    }
}

/// Requests for a report, bodies shown as text.
pub fn describe_list(requests: &[Value]) -> String {
    if requests.is_empty() {
        return "no request".to_string();
    }
    requests
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join(" then ")
}

/// One request for a report: compact JSON with the body as readable text.
fn describe(request: &Value) -> String {
    let mut shown = request.clone();
    if let Some(body) = request.get("body").and_then(Value::as_str) {
        let text = match unhex(body) {
            Some(bytes) => format!("<{} bytes: {}>", bytes.len(), preview(&bytes)),
            None => body.to_string(),
        };
        shown["body"] = Value::String(text);
    }
    shown.to_string()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes as readable text, cut after a while.
pub fn preview(bytes: &[u8]) -> String {
    const CAP: usize = 200;
    let text = printable(bytes);
    if text.len() <= CAP {
        return text;
    }
    let mut end = CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The last bytes of a long stream as readable text.
fn preview_tail(bytes: &[u8]) -> String {
    const CAP: usize = 120;
    if bytes.len() <= CAP {
        return printable(bytes);
    }
    format!("…{}", printable(&bytes[bytes.len() - CAP..]))
}
