//! Grader of `http7_h2_multiplexing`: an h2-lite server driven over raw TCP, frame by frame.
//!
//! Every check goes through a PING barrier: the server answers a PING after everything earlier input allowed
//! it to send, so when the ACK arrives the grader knows exactly what the server sent — no sleeps, no races.
//! The window sizes, frame sizes, body lengths and write splits all come from the seed.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Server, ensure};

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;

const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const FRAME_SIZE_ERROR: u32 = 0x6;

/// How long one answer may take; a correct server answers in milliseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// One frame as seen on the wire (reserved bit masked).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn new(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Self {
        Frame {
            kind,
            flags,
            stream,
            payload: payload.to_vec(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        raw(self.kind, self.flags, self.stream, &self.payload)
    }

    fn describe(&self) -> String {
        let name = match self.kind {
            DATA => "DATA",
            HEADERS => "HEADERS",
            SETTINGS => "SETTINGS",
            PING => "PING",
            GOAWAY => "GOAWAY",
            WINDOW_UPDATE => "WINDOW_UPDATE",
            _ => "UNKNOWN",
        };
        let mut flags = Vec::new();
        if self.flags & END_STREAM != 0 {
            flags.push(if matches!(self.kind, PING | SETTINGS) {
                "ACK"
            } else {
                "END_STREAM"
            });
        }
        let body = match self.kind {
            DATA => format!("{} bytes", self.payload.len()),
            HEADERS => format!("{:?}", String::from_utf8_lossy(&self.payload)),
            GOAWAY if self.payload.len() == 8 => format!(
                "last_stream={} error={}",
                u32_at(&self.payload, 0),
                code_name(u32_at(&self.payload, 4))
            ),
            SETTINGS if self.payload.len().is_multiple_of(6) => {
                let entries: Vec<String> = self
                    .payload
                    .chunks(6)
                    .map(|e| {
                        let name = match u16::from_be_bytes([e[0], e[1]]) {
                            4 => "INITIAL_WINDOW_SIZE".to_string(),
                            5 => "MAX_FRAME_SIZE".to_string(),
                            id => format!("setting 0x{id:x}"),
                        };
                        format!("{name}={}", u32_at(e, 2))
                    })
                    .collect();
                entries.join(" ")
            }
            WINDOW_UPDATE if self.payload.len() == 4 => {
                format!("increment={}", u32_at(&self.payload, 0) & 0x7fff_ffff)
            }
            _ => hex(&self.payload),
        };
        format!(
            "{name}(type 0x{:x}) stream={} flags=[{}] {body}",
            self.kind,
            self.stream,
            flags.join(",")
        )
    }
}

/// A frame's bytes with any stream id (the reserved bit included).
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn hex(b: &[u8]) -> String {
    let shown: String = b.iter().take(24).map(|x| format!("{x:02x}")).collect();
    if b.len() > 24 {
        format!("0x{shown}… ({} bytes)", b.len())
    } else {
        format!("0x{shown}")
    }
}

fn code_name(code: u32) -> String {
    match code {
        PROTOCOL_ERROR => "PROTOCOL_ERROR(0x1)".into(),
        FLOW_CONTROL_ERROR => "FLOW_CONTROL_ERROR(0x3)".into(),
        FRAME_SIZE_ERROR => "FRAME_SIZE_ERROR(0x6)".into(),
        other => format!("0x{other:x}"),
    }
}

fn settings(entries: &[(u16, u32)]) -> Frame {
    let mut payload = Vec::new();
    for (id, value) in entries {
        payload.extend(id.to_be_bytes());
        payload.extend(value.to_be_bytes());
    }
    Frame::new(SETTINGS, 0, 0, &payload)
}

fn request(stream: u32, path: &str) -> Frame {
    Frame::new(HEADERS, END_STREAM, stream, path.as_bytes())
}

fn window_update(stream: u32, increment: u32) -> Frame {
    Frame::new(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// The body the contract promises for `/data/N` on stream `s`.
fn body(stream: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i as u64 + u64::from(stream)) % 26) as u8)
        .collect()
}

/// What one stream has received so far.
#[derive(Default, Debug)]
struct Received {
    status: Option<String>,
    body: Vec<u8>,
    ended: bool,
    largest_data: usize,
}

/// One h2-lite connection, seen from the client side.
struct Client<'a> {
    server: &'a Server,
    socket: TcpStream,
    streams: BTreeMap<u32, Received>,
    /// Peer's MAX_FRAME_SIZE as the grader announced it.
    max_frame: usize,
    goaway: Option<(u32, u32)>,
    /// Frames sent and received since the last transcript entry.
    sent_log: Vec<String>,
    got_log: Vec<String>,
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        self.flush_log();
    }
}

impl<'a> Client<'a> {
    fn open(server: &'a mut Server) -> Result<Self, Failure> {
        let socket = server.connect()?;
        socket.set_read_timeout(Some(ANSWER_WITHIN)).ok();
        Ok(Client {
            server,
            socket,
            streams: BTreeMap::new(),
            max_frame: 16384,
            goaway: None,
            sent_log: Vec::new(),
            got_log: Vec::new(),
        })
    }

    /// Writes frames as one write, or in the given piece sizes.
    fn send(&mut self, frames: &[Frame], pieces: Option<&mut Rng>) -> Result<(), Failure> {
        let mut bytes = Vec::new();
        for f in frames {
            bytes.extend(f.bytes());
            if f.kind == SETTINGS {
                for e in f.payload.chunks(6) {
                    if e.len() == 6 && u16::from_be_bytes([e[0], e[1]]) == 5 {
                        self.max_frame = u32_at(e, 2) as usize;
                    }
                }
            }
        }
        let text: Vec<String> = frames.iter().map(Frame::describe).collect();
        let how = if pieces.is_some() {
            " (in many small writes)"
        } else {
            ""
        };
        self.note_sent(format!("{}{how}", text.join(" + ")));
        self.write(&bytes, pieces)
    }

    /// Notes what was sent; a new send after frames came back starts a new transcript entry.
    fn note_sent(&mut self, what: String) {
        if !self.got_log.is_empty() {
            self.flush_log();
        }
        self.sent_log.push(what);
    }

    fn flush_log(&mut self) {
        if self.sent_log.is_empty() && self.got_log.is_empty() {
            return;
        }
        let sent = self.sent_log.join(" | ");
        let got = if self.got_log.is_empty() {
            "(nothing)".to_string()
        } else {
            self.got_log.join(" | ")
        };
        self.server.record(&sent, &got);
        self.sent_log.clear();
        self.got_log.clear();
    }

    fn write(&mut self, bytes: &[u8], pieces: Option<&mut Rng>) -> Result<(), Failure> {
        let fail = |e: std::io::Error| Failure::new(format!("could not write to the server: {e}"));
        match pieces {
            None => self.socket.write_all(bytes).map_err(fail),
            Some(rng) => {
                let mut at = 0;
                while at < bytes.len() {
                    let n = (rng.range(1, 7) as usize).min(bytes.len() - at);
                    self.socket.write_all(&bytes[at..at + n]).map_err(fail)?;
                    self.socket.flush().ok();
                    at += n;
                }
                Ok(())
            }
        }
    }

    /// Reads one frame; `Ok(None)` on a clean close.
    fn read_frame(&mut self, waiting_for: &str) -> Result<Option<Frame>, Failure> {
        let mut head = [0u8; 9];
        match read_exact_or_eof(&mut self.socket, &mut head) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(self.silent(waiting_for, e)),
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        if len > 0 {
            match read_exact_or_eof(&mut self.socket, &mut payload) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Failure::new(
                        "a frame's payload is as long as its 24-bit length says",
                    )
                    .expected(format!(
                        "{len} payload bytes after the header {}",
                        hex(&head)
                    ))
                    .got("the connection closed first"));
                }
                Err(e) => return Err(self.silent(waiting_for, e)),
            }
        }
        let frame = Frame {
            kind: head[3],
            flags: head[4],
            stream: u32_at(&head, 5) & 0x7fff_ffff,
            payload,
        };
        self.got_log.push(frame.describe());
        Ok(Some(frame))
    }

    fn silent(&self, waiting_for: &str, e: std::io::Error) -> Failure {
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            Failure::new(format!("the server answers {waiting_for}"))
                .got(format!(
                    "nothing more within {} ms",
                    ANSWER_WITHIN.as_millis()
                ))
                .detail(self.summary())
        } else {
            Failure::new(format!("the server answers {waiting_for}"))
                .got(format!("the connection failed: {e}"))
        }
    }

    fn summary(&self) -> String {
        let parts: Vec<String> = self
            .streams
            .iter()
            .map(|(id, r)| {
                format!(
                    "stream {id}: status {}, {} body bytes{}",
                    r.status.as_deref().unwrap_or("none yet"),
                    r.body.len(),
                    if r.ended { ", ended" } else { "" }
                )
            })
            .collect();
        format!(
            "received so far: {}",
            if parts.is_empty() {
                "nothing".into()
            } else {
                parts.join("; ")
            }
        )
    }

    /// Sends a PING and folds every frame that arrives before its ACK into the stream states.
    fn barrier(&mut self, rng: &mut Rng, after: &str) -> Result<(), Failure> {
        let token = rng.bytes(8);
        self.send(&[Frame::new(PING, 0, 0, &token)], None)?;
        let waiting = format!("a PING (after {after}) with a PING ACK carrying the same 8 bytes");
        loop {
            let Some(f) = self.read_frame(&waiting)? else {
                return Err(Failure::new(format!("the server answers {waiting}"))
                    .got("the connection closed")
                    .detail(self.summary()));
            };
            match f.kind {
                PING => {
                    ensure(f.flags & ACK != 0 && f.payload == token, || {
                        Failure::new(
                            "a PING is answered by a PING with the ACK flag and the same payload",
                        )
                        .expected(format!("PING flags=[ACK] {}", hex(&token)))
                        .got(f.describe())
                    })?;
                    return Ok(());
                }
                GOAWAY => {
                    return Err(Failure::new(format!(
                        "a valid exchange does not end the connection (after {after})"
                    ))
                    .got(f.describe()));
                }
                HEADERS => {
                    let r = self.streams.entry(f.stream).or_default();
                    ensure(r.status.is_none(), || {
                        Failure::new("each stream gets exactly one response HEADERS frame")
                            .got(format!("a second one: {}", f.describe()))
                    })?;
                    r.status = Some(String::from_utf8_lossy(&f.payload).into_owned());
                    r.ended = f.flags & END_STREAM != 0;
                }
                DATA => {
                    let max = self.max_frame;
                    let r = self.streams.entry(f.stream).or_default();
                    ensure(r.status.is_some() && !r.ended, || {
                        Failure::new(
                            "DATA comes only after the stream's HEADERS and before its END_STREAM",
                        )
                        .got(f.describe())
                    })?;
                    ensure(f.payload.len() <= max, || {
                        Failure::new(
                            "a DATA frame's payload never exceeds the MAX_FRAME_SIZE the client announced in SETTINGS",
                        )
                        .expected(format!("at most {max} bytes"))
                        .got(f.describe())
                    })?;
                    r.largest_data = r.largest_data.max(f.payload.len());
                    r.body.extend(&f.payload);
                    r.ended = f.flags & END_STREAM != 0;
                }
                _ => {
                    return Err(Failure::new(
                        "the server sends only HEADERS, DATA, PING ACK and GOAWAY",
                    )
                    .got(f.describe()));
                }
            }
        }
    }

    /// Expects GOAWAY with `code` and `last`, then the connection closed.
    fn expect_goaway(&mut self, code: u32, last: u32, rule: &str) -> Result<(), Failure> {
        let waiting = format!("a bad frame with GOAWAY {}", code_name(code));
        loop {
            let f = match self.read_frame(&waiting) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    return Err(Failure::new(rule)
                        .expected(format!(
                            "GOAWAY last_stream={last} error={}",
                            code_name(code)
                        ))
                        .got("the connection closed without a GOAWAY"));
                }
                Err(e) => return Err(e.detail(format!("the rule: {rule}"))),
            };
            if f.kind != GOAWAY {
                // Responses to earlier, valid requests may come first.
                ensure(matches!(f.kind, HEADERS | DATA), || {
                    Failure::new(rule)
                        .expected(format!(
                            "GOAWAY last_stream={last} error={}",
                            code_name(code)
                        ))
                        .got(f.describe())
                })?;
                continue;
            }
            ensure(f.payload.len() == 8 && f.stream == 0, || {
                Failure::new("GOAWAY is sent on stream 0 with an 8-byte payload (last stream id, error code)")
                    .got(f.describe())
            })?;
            let (got_last, got_code) = (u32_at(&f.payload, 0) & 0x7fff_ffff, u32_at(&f.payload, 4));
            ensure(got_code == code && got_last == last, || {
                Failure::new(rule)
                    .expected(format!(
                        "GOAWAY last_stream={last} error={}",
                        code_name(code)
                    ))
                    .got(f.describe())
            })?;
            self.goaway = Some((got_last, got_code));
            break;
        }
        match self.read_frame("nothing after GOAWAY: the connection closes") {
            Ok(None) => Ok(()),
            Ok(Some(f)) => Err(
                Failure::new("after GOAWAY the server closes the connection")
                    .got(format!("another frame: {}", f.describe())),
            ),
            Err(e) => Err(e),
        }
    }

    fn check_complete(&self, stream: u32, len: usize, why: &str) -> Result<(), Failure> {
        let r = self.streams.get(&stream);
        let want = body(stream, len);
        let ok = r.is_some_and(|r| r.status.as_deref() == Some("200") && r.ended && r.body == want);
        ensure(ok, || {
            let got = match r {
                None => "nothing on that stream".to_string(),
                Some(r) => format!(
                    "status {}, {} body bytes{}{}",
                    r.status.as_deref().unwrap_or("none"),
                    r.body.len(),
                    if r.ended {
                        ", ended"
                    } else {
                        ", not ended (no END_STREAM)"
                    },
                    if r.body.len() == want.len() && r.body != want {
                        ", but the bytes differ from the contract's pattern"
                    } else {
                        ""
                    }
                ),
            };
            Failure::new(format!(
                "stream {stream} (GET /data/{len}) is answered completely {why}"
            ))
            .expected(format!(
                "HEADERS \"200\" then exactly {len} body bytes, the last DATA with END_STREAM"
            ))
            .got(got)
            .detail(self.summary())
        })
    }

    fn body_len(&self, stream: u32) -> usize {
        self.streams.get(&stream).map_or(0, |r| r.body.len())
    }
}

fn read_exact_or_eof(socket: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        match socket.read(&mut buf[at..]) {
            Ok(0) if at == 0 => return Ok(false),
            Ok(0) => {
                return Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "closed mid-frame",
                ));
            }
            Ok(n) => at += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.set_reply_timeout(ANSWER_WITHIN);
    let mut server = g.server()?;

    g.scenario(
        "PING is answered with ACK and the same 8 bytes; frames are 9-byte header + payload",
    );
    {
        let mut c = Client::open(&mut server)?;
        c.barrier(g.rng(), "opening the connection")?;
    }

    g.scenario("one stream: HEADERS \"200\", the body in DATA frames within MAX_FRAME_SIZE, END_STREAM last; 404 and empty bodies");
    one_stream(&mut server, g.rng())?;

    g.scenario("a request split across many small TCP writes is decoded whole");
    {
        let rng = g.rng();
        let mut c = Client::open(&mut server)?;
        let len = rng.range(40, 300) as usize;
        let stream = 2 * rng.range(0, 20) as u32 + 1;
        let mut pieces = rng.fork(7);
        c.send(
            &[
                settings(&[(5, 64)]),
                request(stream, &format!("/data/{len}")),
            ],
            Some(&mut pieces),
        )?;
        c.barrier(rng, "a request sent a few bytes at a time")?;
        c.check_complete(stream, len, "even when its bytes arrive a few at a time")?;
    }

    g.scenario("three streams on one socket, one blocked on its window: the others finish first; the window is never exceeded");
    multiplexing(&mut server, g.rng())?;

    g.scenario("unknown frame types are ignored (that is how HTTP/2 stays extensible)");
    {
        let rng = g.rng();
        let mut c = Client::open(&mut server)?;
        let kind = rng.range(0x0a, 0xf0) as u8;
        let payload_len = rng.range(0, 40) as usize;
        let payload = rng.bytes(payload_len);
        let len = rng.range(1, 100) as usize;
        c.send(
            &[
                Frame::new(
                    kind,
                    rng.range(0, 255) as u8,
                    rng.range(0, 9) as u32,
                    &payload,
                ),
                request(1, &format!("/data/{len}")),
            ],
            None,
        )
        .map_err(|e| e.detail("the first frame had an unknown frame type"))?;
        c.barrier(rng, &format!("a frame of unknown type 0x{kind:x}"))
            .map_err(|e| e.detail(format!("the first frame had an unknown frame type 0x{kind:x}: it must be ignored, not refused")))?;
        c.check_complete(1, len, "after an unknown frame type was ignored")?;
    }

    g.scenario(
        "bad frames end the connection with GOAWAY (right error code, last stream id), then close",
    );
    bad_frames(&mut server, g.rng())?;

    g.scenario("the server still serves new connections");
    {
        let mut c = Client::open(&mut server)?;
        c.send(&[request(1, "/data/3")], None)?;
        c.barrier(g.rng(), "a last request")?;
        c.check_complete(1, 3, "on a fresh connection")?;
    }
    server.ensure_alive()
}

fn one_stream(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut c = Client::open(server)?;
    let max_frame = rng.range(50, 400) as u32;
    let len = rng.range(2000, 6000) as usize;
    let missing = *rng.pick(&["/nope", "/data/", "/data/x1", "/dat/3", "/data/-4"]);
    c.send(
        &[
            settings(&[(3, 100), (5, max_frame)]),
            request(1, &format!("/data/{len}")),
            request(3, missing),
            request(5, "/data/0"),
        ],
        None,
    )?;
    c.barrier(rng, "three requests")?;
    c.check_complete(
        1,
        len,
        "when its window (65535 by default) holds the whole body",
    )?;
    let used = c.streams[&1].largest_data;
    ensure(used == max_frame as usize, || {
        Failure::new("a body is cut into DATA frames as large as MAX_FRAME_SIZE allows (fewer, fuller frames)")
            .expected(format!("DATA frames of {max_frame} bytes (the last one may be shorter)"))
            .got(format!("the largest DATA frame had {used} bytes"))
    })?;
    let r404 = c.streams.get(&3);
    ensure(
        r404.is_some_and(|r| r.status.as_deref() == Some("404") && r.ended && r.body.is_empty()),
        || {
            Failure::new(format!("a path other than /data/N ({missing:?}) is answered HEADERS \"404\" with END_STREAM and no DATA"))
                .got(format!("{r404:?}"))
        },
    )?;
    let r0 = c.streams.get(&5);
    ensure(
        r0.is_some_and(|r| r.status.as_deref() == Some("200") && r.ended && r.body.is_empty()),
        || {
            Failure::new("/data/0 is answered HEADERS \"200\" carrying END_STREAM itself, with no DATA frame")
                .got(format!("{r0:?}"))
        },
    )
}

fn multiplexing(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut c = Client::open(server)?;
    let window = rng.range(200, 700) as usize;
    let max_frame = rng.range(40, 150) as u32;
    let slow = 2 * rng.range(0, 5) as u32 + 1;
    let first_fast = slow + 2 * rng.range(1, 4) as u32;
    let fast = [first_fast, first_fast + 2 * rng.range(1, 4) as u32];
    let big = window * rng.range(3, 6) as usize + rng.range(1, 99) as usize;
    let small = [
        rng.range(1, window as u64) as usize,
        rng.range(1, window as u64) as usize,
    ];
    c.send(
        &[
            settings(&[(4, window as u32), (5, max_frame)]),
            request(slow, &format!("/data/{big}")),
            request(fast[0], &format!("/data/{}", small[0])),
            request(fast[1], &format!("/data/{}", small[1])),
        ],
        None,
    )?;
    c.barrier(rng, "three requests on one connection")?;
    let blocked = format!(
        "while stream {slow} (GET /data/{big}) is blocked on its {window}-byte window: a blocked stream must not hold back the others"
    );
    c.check_complete(fast[0], small[0], &blocked)?;
    c.check_complete(fast[1], small[1], &blocked)?;
    let mut granted = window;
    check_window(&c, slow, big, granted, "the initial window from SETTINGS")?;
    // The window grows in seeded steps; the first WINDOW_UPDATE has the reserved bit set.
    let mut first = true;
    while granted < big {
        let step = rng.range(1, (2 * window) as u64) as usize;
        granted += step;
        let (bytes, note) = if first {
            let f = Frame::new(
                WINDOW_UPDATE,
                0,
                slow | 0x8000_0000,
                &(step as u32).to_be_bytes(),
            );
            (
                f.bytes(),
                format!(
                    "WINDOW_UPDATE +{step} on stream {slow}, whose stream id had the reserved bit set (mask it off)"
                ),
            )
        } else {
            (
                window_update(slow, step as u32).bytes(),
                format!("WINDOW_UPDATE +{step} on stream {slow}"),
            )
        };
        first = false;
        c.note_sent(note.clone());
        c.write(&bytes, None)?;
        c.barrier(rng, &note)?;
        check_window(&c, slow, big, granted, &note)?;
    }
    c.check_complete(slow, big, "once its window has grown to the whole body")
}

fn check_window(
    c: &Client,
    stream: u32,
    big: usize,
    granted: usize,
    after: &str,
) -> Result<(), Failure> {
    let got = c.body_len(stream);
    let want = granted.min(big);
    ensure(got <= granted, || {
        Failure::new("the DATA bytes sent on a stream never exceed its flow-control window")
            .expected(format!(
                "at most {granted} bytes on stream {stream} (granted so far, after {after})"
            ))
            .got(format!("{got} bytes: the window was exceeded"))
    })?;
    ensure(got == want, || {
        Failure::new("a stream sends as much as its window allows, right after the window grows")
            .expected(format!("{want} bytes on stream {stream} after {after}"))
            .got(format!("{got} bytes"))
            .detail(c.summary())
    })
}

/// A bad-frame case: valid frames first, the bad frame's bytes, the GOAWAY code, the last stream id, the rule.
type BadCase = (Vec<Frame>, Vec<u8>, u32, u32, String);

fn bad_frames(server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
    // Each case: frames to send first (valid), the bad frame's bytes, the code, the last stream id, the rule.
    let open = 2 * rng.range(0, 10) as u32 + 1;
    let next = open + 2 * rng.range(1, 5) as u32;
    let over = rng.range(16385, 40000) as u32;
    let wide = rng.range(0, 1000) as u32;
    let ping_len = rng.range(1, 7) as usize;
    let ping_payload = rng.bytes(ping_len);
    let settings_len = 6 * rng.range(0, 2) as usize + rng.range(1, 5) as usize;
    let settings_payload = rng.bytes(settings_len);
    let cases: Vec<BadCase> = vec![
        (
            vec![request(open, "/data/1")],
            request(open + 1, "/data/1").bytes(),
            PROTOCOL_ERROR,
            open,
            format!(
                "a client stream id is odd: HEADERS on stream {} is a PROTOCOL_ERROR",
                open + 1
            ),
        ),
        (
            vec![request(next, "/data/1")],
            request(open, "/data/1").bytes(),
            PROTOCOL_ERROR,
            next,
            format!(
                "a new stream id is greater than every earlier one: HEADERS on stream {open} after {next} is a PROTOCOL_ERROR"
            ),
        ),
        (
            vec![],
            request(0, "/data/1").bytes(),
            PROTOCOL_ERROR,
            0,
            "HEADERS on stream 0 is a PROTOCOL_ERROR".into(),
        ),
        (
            vec![request(open, "/data/2")],
            // Only the header: the 16384 check comes from the header alone, before any payload.
            raw(HEADERS, END_STREAM, next, &[])
                .iter()
                .enumerate()
                .map(|(i, b)| if i < 3 { over.to_be_bytes()[i + 1] } else { *b })
                .collect(),
            FRAME_SIZE_ERROR,
            open,
            format!(
                "a frame announcing a {over}-byte payload (above 16384) is a FRAME_SIZE_ERROR, from its 9-byte header alone, before the payload arrives"
            ),
        ),
        (
            vec![settings(&[(4, 10)]), request(open, "/data/100")],
            window_update(open, 0).bytes(),
            PROTOCOL_ERROR,
            open,
            "a WINDOW_UPDATE with increment 0 is a PROTOCOL_ERROR".into(),
        ),
        (
            vec![request(open, "/data/1")],
            settings(&[(4, 0x8000_0000 + wide)]).bytes(),
            FLOW_CONTROL_ERROR,
            open,
            "a SETTINGS INITIAL_WINDOW_SIZE above 2^31-1 is a FLOW_CONTROL_ERROR".into(),
        ),
        (
            vec![request(open, "/data/1")],
            Frame::new(PING, 0, 0, &ping_payload).bytes(),
            FRAME_SIZE_ERROR,
            open,
            "a PING whose payload is not 8 bytes is a FRAME_SIZE_ERROR".into(),
        ),
        (
            vec![],
            Frame::new(SETTINGS, 0, 0, &settings_payload).bytes(),
            FRAME_SIZE_ERROR,
            0,
            "a SETTINGS frame whose length is not a multiple of 6 is a FRAME_SIZE_ERROR".into(),
        ),
    ];
    for (before, bad, code, last, rule) in cases {
        let mut c = Client::open(server)?;
        if !before.is_empty() {
            c.send(&before, None)?;
            c.barrier(rng, "valid frames before the bad one")?;
        }
        let shown = if bad.len() == 9 {
            format!("{} (the 9-byte header only)", hex(&bad))
        } else {
            hex(&bad)
        };
        c.note_sent(format!("bad frame: {shown}"));
        c.write(&bad, None)?;
        c.expect_goaway(code, last, &rule)?;
    }
    Ok(())
}
