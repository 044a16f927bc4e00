//! mutant: waits for one byte more than the frame needs (> instead of >=)
//! expect: >=, not >

use serde::{Deserialize, Serialize};

/// The largest payload a frame may carry, in bytes (a frame of exactly this size is fine).
pub const MAX_FRAME_LEN: usize = 4096;

/// Bytes of the length prefix in front of every frame.
const HEADER_LEN: usize = 4;

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
        self.buf.extend_from_slice(chunk);
    }

    /// Cuts the next complete frame off the front of the buffer and returns its payload.
    ///
    /// `Ok(None)` means "not enough bytes yet". On `Err` the buffer has been cleared.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameTooLarge> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header);
        if len as usize > MAX_FRAME_LEN {
            self.buf.clear();
            return Err(FrameTooLarge { len });
        }
        let len = len as usize;
        if self.buf.len() <= HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.drain(..HEADER_LEN);
        Ok(Some(self.buf.drain(..len).collect()))
    }

    /// How many bytes are buffered: the start of a frame that is not complete yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
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
