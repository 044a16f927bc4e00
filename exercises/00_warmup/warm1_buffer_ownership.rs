//! # Warm-up 1: owning a byte buffer — a length-prefixed frame decoder
//!
//! TCP gives you a *stream* of bytes, not messages. One `read()` may return half a message, or three
//! messages and the first byte of a fourth. Every protocol on top of TCP therefore needs *framing*: a way to
//! tell where one message ends. The simplest and most common is the length prefix: each frame is a `u32`
//! big-endian length followed by exactly that many payload bytes. Kafka, PostgreSQL, gRPC (with one flag
//! byte in front) and countless in-house protocols work this way.
//!
//! A decoder owns a growable `Vec<u8>`. Bytes arrive in arbitrary chunks and are appended; every complete
//! frame at the front is cut off and handed out as an *owned* `Vec<u8>` (the caller may keep it long after
//! the buffer moved on); whatever is left — a partial header or a partial payload — stays buffered until the
//! next chunk completes it.
//!
//! ## Why it matters in production
//!
//! Framing bugs are the classic "works on my machine" bug: on loopback with small messages every `read()`
//! happens to return exactly one message, and the code that assumed so breaks under load, over a real network,
//! or with the first large message. And a length prefix is attacker-controlled: a peer that announces a
//! 4 GiB frame must be refused *as soon as the header is read*, before you try to buffer 4 GiB for it.
//!
//! ## Pitfalls
//!
//! - Assuming one chunk = one frame, or dropping the partial tail at the end of a chunk.
//! - Off-by-one: a frame is complete when `buf.len() >= 4 + len`, not `>`. Empty frames (`len == 0`) are legal.
//! - Endianness: network byte order is big-endian (`u32::from_be_bytes`).
//! - Checking the size limit only after the whole payload arrived: by then the damage (memory) is done.
//! - After a bad header the stream cannot be resynchronised (there is no way to know where the next frame
//!   starts), so the decoder discards everything it holds; real servers close the connection.
//! - Cost: `Vec::drain(..n)` shifts the rest of the buffer down. That is fine for one frame at a time, but
//!   for big buffers production code (`bytes::BytesMut`, `tokio_util::codec`) avoids copying the tail.
//!
//! Roadmap: language mastery (ownership, borrowing, `Vec`), streams and binary protocols.
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is `{"feed":"<hex bytes>"}`: the next chunk of the stream. The reply lists every frame
//! completed by this chunk, in order, as hex, and how many bytes stay buffered:
//! `{"frames":["68656c6c6f"],"buffered":3}`. A header announcing more than [`MAX_FRAME_LEN`] bytes makes the
//! reply carry `"error":{"code":"frame_too_large","len":N}` (after any frames completed before it in the same
//! chunk) and `"buffered":0`: the decoder dropped everything, and the next chunk starts a fresh stream.

use serde::{Deserialize, Serialize};

/// The largest payload a frame may carry, in bytes (a frame of exactly this size is fine).
pub const MAX_FRAME_LEN: usize = 4096;

/// A header announced a frame larger than [`MAX_FRAME_LEN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The length the header announced.
    pub len: u32,
}

/// Cuts a byte stream into length-prefixed frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        FrameDecoder { buf: Vec::new() }
    }

    /// Appends the next chunk of the stream.
    pub fn extend(&mut self, chunk: &[u8]) {
        // TODO: keep the new bytes after the ones already buffered.
        todo!()
    }

    /// Cuts the next complete frame off the front of the buffer and returns its payload.
    ///
    /// `Ok(None)` means "not enough bytes yet". On `Err` the buffer has been cleared.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameTooLarge> {
        // TODO: read the 4-byte big-endian length once it is buffered; refuse a length over MAX_FRAME_LEN
        // right away (dropping everything buffered); once the whole frame is buffered, remove it from the
        // front of the buffer and return its payload as an owned Vec. Keep any partial frame for later.
        todo!()
    }

    /// How many bytes are buffered: the start of a frame that is not complete yet.
    pub fn buffered(&self) -> usize {
        // TODO: report the size of the partial tail.
        todo!()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Request {
    feed: String,
}

#[derive(Serialize)]
struct Reply {
    frames: Vec<String>,
    buffered: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReply>,
}

#[derive(Serialize)]
struct ErrorReply {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    len: Option<u32>,
}

fn main() {
    let mut decoder = FrameDecoder::new();
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        let chunk = match backlings_harness::stdio::from_hex(&request.feed) {
            Ok(chunk) => chunk,
            Err(_) => {
                let error = Some(ErrorReply {
                    code: "bad_hex",
                    len: None,
                });
                return Reply {
                    frames: Vec::new(),
                    buffered: decoder.buffered(),
                    error,
                };
            }
        };
        decoder.extend(&chunk);
        let mut frames = Vec::new();
        let mut error = None;
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(backlings_harness::stdio::to_hex(&frame)),
                Ok(None) => break,
                Err(FrameTooLarge { len }) => {
                    error = Some(ErrorReply {
                        code: "frame_too_large",
                        len: Some(len),
                    });
                    break;
                }
            }
        }
        Reply {
            frames,
            buffered: decoder.buffered(),
            error,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    fn drain_frames(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame);
        }
        frames
    }

    // Two whole frames in one chunk come out in order, and nothing stays buffered.
    #[test]
    fn two_frames_in_one_chunk() {
        let mut decoder = FrameDecoder::new();
        decoder.extend(&[frame(b"hello"), frame(b"world")].concat());
        assert_eq!(
            drain_frames(&mut decoder),
            vec![b"hello".to_vec(), b"world".to_vec()]
        );
        assert_eq!(decoder.buffered(), 0);
    }

    // A frame split inside its header and inside its payload is reassembled; the tail is kept meanwhile.
    #[test]
    fn split_frame_is_reassembled() {
        let bytes = frame(b"split me");
        let mut decoder = FrameDecoder::new();
        decoder.extend(&bytes[..2]);
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.buffered(), 2);
        decoder.extend(&bytes[2..7]);
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.buffered(), 7);
        decoder.extend(&bytes[7..]);
        assert_eq!(decoder.next_frame(), Ok(Some(b"split me".to_vec())));
        assert_eq!(decoder.buffered(), 0);
    }

    // An empty frame is a frame: four zero bytes decode to an empty payload.
    #[test]
    fn empty_frame_is_legal() {
        let mut decoder = FrameDecoder::new();
        decoder.extend(&[0, 0, 0, 0, 0, 0]);
        assert_eq!(decoder.next_frame(), Ok(Some(Vec::new())));
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.buffered(), 2);
    }

    // The length is big-endian: 00 00 01 00 announces 256 bytes, not 65536.
    #[test]
    fn length_is_big_endian() {
        let mut decoder = FrameDecoder::new();
        decoder.extend(&frame(&[7; 256]));
        assert_eq!(decoder.next_frame(), Ok(Some(vec![7; 256])));
    }

    // A frame of exactly MAX_FRAME_LEN is fine; one byte more is refused as soon as the header is in.
    #[test]
    fn size_limit_is_checked_on_the_header() {
        let mut decoder = FrameDecoder::new();
        decoder.extend(&frame(&vec![1; MAX_FRAME_LEN]));
        assert_eq!(
            decoder.next_frame().unwrap().map(|f| f.len()),
            Some(MAX_FRAME_LEN)
        );
        decoder.extend(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(FrameTooLarge {
                len: MAX_FRAME_LEN as u32 + 1
            })
        );
    }

    // After an oversized header the decoder holds nothing, and the next bytes start a fresh stream.
    #[test]
    fn error_resets_the_stream() {
        let mut decoder = FrameDecoder::new();
        decoder.extend(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert!(decoder.next_frame().is_err());
        assert_eq!(decoder.buffered(), 0);
        decoder.extend(&frame(b"fresh"));
        assert_eq!(decoder.next_frame(), Ok(Some(b"fresh".to_vec())));
    }
}
