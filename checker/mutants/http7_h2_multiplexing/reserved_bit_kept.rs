//! mutant: keeps the reserved bit of the stream id instead of masking it off
//! expect: reserved bit

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;

pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const FRAME_SIZE_ERROR: u32 = 0x6;

/// The largest frame payload this server accepts.
pub const MAX_RECEIVE: usize = 16384;
/// The largest a flow-control window may grow.
pub const MAX_WINDOW: u64 = (1 << 31) - 1;

/// One frame, with the stream id's reserved bit already masked off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// The 9-byte header followed by the payload.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let len = frame.payload.len() as u32;
    let mut out = Vec::with_capacity(9 + frame.payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(frame.kind);
    out.push(frame.flags);
    out.extend_from_slice(&(frame.stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&frame.payload);
    out
}

/// Decodes the first frame in `buf`: `Ok(None)` while it is incomplete, `Ok(Some((frame, bytes used)))` once
/// whole, `Err(FRAME_SIZE_ERROR)` as soon as the header announces a payload above [`MAX_RECEIVE`].
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, u32> {
    if buf.len() < 9 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
    if len > MAX_RECEIVE {
        return Err(FRAME_SIZE_ERROR);
    }
    if buf.len() < 9 + len {
        return Ok(None);
    }
    let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
    let frame = Frame {
        kind: buf[3],
        flags: buf[4],
        stream,
        payload: buf[9..9 + len].to_vec(),
    };
    Ok(Some((frame, 9 + len)))
}

/// A response still being sent.
struct Stream {
    body: Vec<u8>,
    sent: usize,
    window: u64,
}

/// The server side of one connection, without I/O: frames in, frames out.
pub struct Conn {
    initial_window: u64,
    max_frame: usize,
    last_stream: u32,
    streams: BTreeMap<u32, Stream>,
    out: Vec<Frame>,
}

impl Default for Conn {
    fn default() -> Self {
        Self::new()
    }
}

impl Conn {
    pub fn new() -> Self {
        Conn {
            initial_window: 65535,
            max_frame: MAX_RECEIVE,
            last_stream: 0,
            streams: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// The highest client stream id accepted so far (for GOAWAY).
    pub fn last_stream(&self) -> u32 {
        self.last_stream
    }

    /// Handles one received frame; `Err(code)` is a connection error.
    pub fn on_frame(&mut self, frame: Frame) -> Result<(), u32> {
        match frame.kind {
            SETTINGS => {
                if frame.stream != 0 {
                    return Err(PROTOCOL_ERROR);
                }
                if !frame.payload.len().is_multiple_of(6) {
                    return Err(FRAME_SIZE_ERROR);
                }
                if frame.flags & ACK != 0 {
                    return Ok(());
                }
                for entry in frame.payload.chunks(6) {
                    let id = u16::from_be_bytes([entry[0], entry[1]]);
                    let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
                    match id {
                        0x4 => {
                            if u64::from(value) > MAX_WINDOW {
                                return Err(FLOW_CONTROL_ERROR);
                            }
                            self.initial_window = u64::from(value);
                        }
                        0x5 => {
                            if value == 0 || value as usize > MAX_RECEIVE {
                                return Err(PROTOCOL_ERROR);
                            }
                            self.max_frame = value as usize;
                        }
                        _ => {}
                    }
                }
            }
            HEADERS => {
                let id = frame.stream;
                if id == 0 || id.is_multiple_of(2) || id <= self.last_stream {
                    return Err(PROTOCOL_ERROR);
                }
                self.last_stream = id;
                let path = String::from_utf8_lossy(&frame.payload);
                match route(&path) {
                    Some(len) => {
                        let body: Vec<u8> = (0..len)
                            .map(|i| b'a' + ((i as u64 + u64::from(id)) % 26) as u8)
                            .collect();
                        let flags = if body.is_empty() { END_STREAM } else { 0 };
                        self.out.push(Frame {
                            kind: HEADERS,
                            flags,
                            stream: id,
                            payload: b"200".to_vec(),
                        });
                        if !body.is_empty() {
                            let window = self.initial_window;
                            self.streams.insert(
                                id,
                                Stream {
                                    body,
                                    sent: 0,
                                    window,
                                },
                            );
                        }
                    }
                    None => self.out.push(Frame {
                        kind: HEADERS,
                        flags: END_STREAM,
                        stream: id,
                        payload: b"404".to_vec(),
                    }),
                }
            }
            WINDOW_UPDATE => {
                if frame.payload.len() != 4 {
                    return Err(FRAME_SIZE_ERROR);
                }
                let p = &frame.payload;
                let increment = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                if increment == 0 {
                    return Err(PROTOCOL_ERROR);
                }
                if let Some(stream) = self.streams.get_mut(&frame.stream) {
                    stream.window += u64::from(increment);
                    if stream.window > MAX_WINDOW {
                        return Err(FLOW_CONTROL_ERROR);
                    }
                }
            }
            PING => {
                if frame.stream != 0 {
                    return Err(PROTOCOL_ERROR);
                }
                if frame.payload.len() != 8 {
                    return Err(FRAME_SIZE_ERROR);
                }
                if frame.flags & ACK == 0 {
                    // Everything earlier input allows goes out before the ACK.
                    self.pump();
                    self.out.push(Frame {
                        kind: PING,
                        flags: ACK,
                        stream: 0,
                        payload: frame.payload,
                    });
                }
            }
            DATA => return Err(PROTOCOL_ERROR),
            _ => {}
        }
        self.pump();
        Ok(())
    }

    /// Round-robin: one DATA frame per stream per turn, while any stream can send.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            for (&id, stream) in self.streams.iter_mut() {
                let left = stream.body.len() - stream.sent;
                let n = left.min(self.max_frame).min(stream.window as usize);
                if n == 0 {
                    continue;
                }
                let chunk = stream.body[stream.sent..stream.sent + n].to_vec();
                stream.sent += n;
                stream.window -= n as u64;
                let flags = if stream.sent == stream.body.len() {
                    END_STREAM
                } else {
                    0
                };
                self.out.push(Frame {
                    kind: DATA,
                    flags,
                    stream: id,
                    payload: chunk,
                });
                progressed = true;
            }
            self.streams.retain(|_, s| s.sent < s.body.len());
            if !progressed {
                break;
            }
        }
    }

    /// The frames to write now, in order.
    pub fn take_output(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.out)
    }
}

/// `/data/N` → `Some(N)`; anything else → `None`.
fn route(path: &str) -> Option<usize> {
    let digits = path.strip_prefix("/data/")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 7 {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    (n <= 1_000_000).then_some(n)
}

// ---- provided: you do not need to change anything below this line ----

/// Serves one connection: bytes in → frames → your `Conn` → frames out; GOAWAY on a connection error.
fn serve(mut socket: TcpStream) -> std::io::Result<()> {
    let mut conn = Conn::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let error = loop {
            match decode(&buf) {
                Ok(Some((frame, used))) => {
                    buf.drain(..used);
                    if let Err(code) = conn.on_frame(frame) {
                        break Some(code);
                    }
                }
                Ok(None) => break None,
                Err(code) => break Some(code),
            }
        };
        let mut bytes = Vec::new();
        for frame in conn.take_output() {
            bytes.extend(encode(&frame));
        }
        if let Some(code) = error {
            let mut payload = conn.last_stream().to_be_bytes().to_vec();
            payload.extend(code.to_be_bytes());
            bytes.extend(encode(&Frame {
                kind: GOAWAY,
                flags: 0,
                stream: 0,
                payload,
            }));
            socket.write_all(&bytes)?;
            return Ok(());
        }
        socket.write_all(&bytes)?;
        let n = socket.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("READY {}", listener.local_addr()?);
    for socket in listener.incoming() {
        let Ok(socket) = socket else { continue };
        std::thread::spawn(move || {
            let _ = serve(socket);
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Frame {
        Frame {
            kind,
            flags,
            stream,
            payload: payload.to_vec(),
        }
    }

    // The header is 3 bytes of length, type, flags, then the 31-bit stream id, big-endian.
    #[test]
    fn encodes_the_nine_byte_header() {
        let bytes = encode(&frame(HEADERS, END_STREAM, 3, b"/x"));
        assert_eq!(bytes, [0, 0, 2, 1, 1, 0, 0, 0, 3, b'/', b'x']);
    }

    // A partial frame is not an error; a whole one round-trips; the reserved bit is masked off.
    #[test]
    fn decodes_partial_whole_and_reserved_bit() {
        let mut bytes = encode(&frame(PING, 0, 0, b"12345678"));
        assert_eq!(decode(&bytes[..5]), Ok(None));
        assert_eq!(decode(&bytes[..16]), Ok(None));
        bytes[5] |= 0x80;
        let (f, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!((f.kind, f.stream, used), (PING, 0, 17));
    }

    // A length above 16384 is refused from the header alone.
    #[test]
    fn oversized_frame_is_a_frame_size_error() {
        assert_eq!(
            decode(&[0, 0x40, 0x01, 0, 0, 0, 0, 0, 1]),
            Err(FRAME_SIZE_ERROR)
        );
    }

    // A small window blocks the big stream, not the small one behind it.
    #[test]
    fn blocked_stream_does_not_block_others() {
        let mut c = Conn::new();
        c.on_frame(frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 10]))
            .unwrap();
        c.on_frame(frame(HEADERS, END_STREAM, 1, b"/data/100"))
            .unwrap();
        c.on_frame(frame(HEADERS, END_STREAM, 3, b"/data/5"))
            .unwrap();
        let out = c.take_output();
        let on = |s: u32| -> usize {
            out.iter()
                .filter(|f| f.kind == DATA && f.stream == s)
                .map(|f| f.payload.len())
                .sum()
        };
        assert_eq!((on(1), on(3)), (10, 5));
        assert!(
            out.iter()
                .any(|f| f.stream == 3 && f.flags & END_STREAM != 0)
        );
    }

    // Even stream ids belong to the server: a client HEADERS on one is a protocol error.
    #[test]
    fn even_stream_is_a_protocol_error() {
        let mut c = Conn::new();
        assert_eq!(
            c.on_frame(frame(HEADERS, END_STREAM, 2, b"/data/1")),
            Err(PROTOCOL_ERROR)
        );
    }
}
