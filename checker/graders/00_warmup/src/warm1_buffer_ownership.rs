//! Grader of `warm1_buffer_ownership`: a length-prefixed frame decoder fed a stream in arbitrary chunks.
//!
//! A model decoder computes the exact reply to every chunk; the scenarios go from whole frames to a stream
//! cut one byte at a time, the size limit, the reset after an oversized header, and a seeded stream cut at
//! random points.

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

/// The contract's limit on a payload.
const MAX_FRAME_LEN: usize = 4096;

/// The reference decoder: what the program must answer to each chunk.
#[derive(Default)]
struct Model {
    buf: Vec<u8>,
}

impl Model {
    fn feed(&mut self, chunk: &[u8]) -> Value {
        self.buf.extend_from_slice(chunk);
        let mut frames = Vec::new();
        while let Some(header) = self.buf.first_chunk::<4>() {
            let len = u32::from_be_bytes(*header);
            if len as usize > MAX_FRAME_LEN {
                self.buf.clear();
                return json!({"frames": frames, "buffered": 0, "error": {"code": "frame_too_large", "len": len}});
            }
            if self.buf.len() < 4 + len as usize {
                break;
            }
            let frame: Vec<u8> = self.buf.drain(..4 + len as usize).skip(4).collect();
            frames.push(hex(&frame));
        }
        json!({"frames": frames, "buffered": self.buf.len()})
    }
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("whole frames in one chunk come out in order (big-endian u32 length + payload)");
    let mut p = g.stdio()?;
    let mut model = Model::default();
    let stream = [
        frame(b"hello"),
        frame(b""),
        frame(&[0xab; 300]),
        frame(b"world"),
    ]
    .concat();
    feed(
        &mut p,
        &mut model,
        &stream,
        "each complete frame in a chunk is returned, in order",
    )?;

    g.scenario("a stream fed one byte at a time: the partial tail stays buffered");
    let stream = [frame(b"split"), frame(b""), frame(&[7; 260]), frame(b"!")].concat();
    for byte in &stream {
        feed(
            &mut p,
            &mut model,
            &[*byte],
            "bytes of a partial frame stay buffered until the frame is complete",
        )?;
    }

    g.scenario("the size limit: 4096 bytes is fine, more is refused as soon as the header is in");
    let big = g.rng().bytes(MAX_FRAME_LEN);
    feed(
        &mut p,
        &mut model,
        &frame(&big),
        "a frame of exactly 4096 bytes is legal",
    )?;
    let too_big = 4097 + g.rng().below(1 << 20) as u32;
    feed(
        &mut p,
        &mut model,
        &[&frame(b"ok")[..], &too_big.to_be_bytes()].concat(),
        OVERSIZE_RULE,
    )?;

    g.scenario("after frame_too_large the decoder drops everything and starts a fresh stream");
    let garbage = [
        &frame(b"before")[..],
        &u32::MAX.to_be_bytes(),
        b"garbage that follows",
    ]
    .concat();
    feed(&mut p, &mut model, &garbage, OVERSIZE_RULE)?;
    let fresh = [frame(b"fresh start"), frame(b"second")].concat();
    feed(&mut p, &mut model, &fresh[..9], RESET_RULE)?;
    feed(&mut p, &mut model, &fresh[9..], RESET_RULE)?;
    let header = (5000u32).to_be_bytes();
    feed(
        &mut p,
        &mut model,
        &header[..2],
        "half a header is buffered: the size is not known yet",
    )?;
    feed(
        &mut p,
        &mut model,
        &[&header[2..], b"xyz"].concat(),
        OVERSIZE_RULE,
    )?;

    g.scenario("a seeded stream cut at random points");
    let mut rng = g.rng().fork(1);
    for round in 0..4 {
        let stream = random_stream(&mut rng, 40);
        for chunk in cut(&mut rng, &stream) {
            feed(
                &mut p,
                &mut model,
                chunk,
                "every chunk yields exactly the frames it completes; the rest stays buffered",
            )?;
        }
        if round % 2 == 1 {
            let len = MAX_FRAME_LEN as u32 + 1 + rng.below(u32::MAX as u64 - 4097) as u32;
            feed(
                &mut p,
                &mut model,
                &[&len.to_be_bytes()[..], &rng.bytes(10)].concat(),
                OVERSIZE_RULE,
            )?;
        }
    }
    Ok(())
}

const OVERSIZE_RULE: &str = "a header announcing more than 4096 bytes is answered with frame_too_large at once, after the frames before it";
const RESET_RULE: &str =
    "after frame_too_large the decoder keeps nothing: the next chunk starts a fresh stream";

/// Sends one chunk and checks the reply against the model, explaining the difference.
fn feed(p: &mut Stdio, model: &mut Model, chunk: &[u8], rule: &str) -> Result<(), Failure> {
    let expected = model.feed(chunk);
    let got = p.request(&json!({"feed": hex(chunk)}))?;
    if got == expected {
        return Ok(());
    }
    let mut failure = Failure::new(rule)
        .expected(abbreviate(&expected))
        .got(abbreviate(&got));
    for line in diagnose(&expected, &got) {
        failure = failure.detail(line);
    }
    Err(failure)
}

fn diagnose(expected: &Value, got: &Value) -> Vec<String> {
    let frames = |v: &Value| v["frames"].as_array().cloned().unwrap_or_default();
    let (want, have) = (frames(expected), frames(got));
    let mut why = Vec::new();
    match (&expected["error"], &got["error"]) {
        (Value::Null, Value::Null) => {}
        (Value::Null, _) => why.push(
            "the program refused a legal frame: frames carry up to 4096 bytes and the length prefix is a big-endian u32"
                .into(),
        ),
        (wanted, Value::Null) => why.push(format!(
            "the header announced {} bytes, more than 4096: refuse it as soon as its 4 bytes are in, without waiting for the payload",
            wanted["len"]
        )),
        _ => {}
    }
    if have.len() < want.len()
        && want.starts_with(&have)
        && expected["error"].is_null()
        && got["error"].is_null()
    {
        why.push("a complete frame stayed in the buffer: a frame is complete as soon as 4 + len bytes are buffered (>=, not >)".into());
    }
    if expected["error"].is_object() && got["error"].is_object() && got["buffered"] != 0 {
        why.push("after frame_too_large the decoder keeps nothing: `buffered` must be 0".into());
    }
    if why.is_empty() && want != have {
        why.push("the frames differ: a partial frame must stay buffered and be completed by the next chunks".into());
    }
    if why.is_empty() {
        why.push(
            "`buffered` counts the bytes of the incomplete frame at the end of the buffer".into(),
        );
    }
    why
}

/// A reply with long frames shortened to their first bytes and length, so a report stays readable.
fn abbreviate(reply: &Value) -> Value {
    let mut reply = reply.clone();
    if let Some(frames) = reply.get_mut("frames").and_then(Value::as_array_mut) {
        for frame in frames {
            if let Some(text) = frame.as_str().filter(|t| t.len() > 24) {
                *frame = json!(format!("{}… ({} bytes)", &text[..16], text.len() / 2));
            }
        }
    }
    reply
}

/// A length-prefixed frame.
fn frame(payload: &[u8]) -> Vec<u8> {
    [&(payload.len() as u32).to_be_bytes()[..], payload].concat()
}

/// `count` frames of varied sizes: empty, tiny, a few hundred bytes, now and then the maximum.
fn random_stream(rng: &mut Rng, count: usize) -> Vec<u8> {
    let mut stream = Vec::new();
    for _ in 0..count {
        let len = match rng.below(10) {
            0 => 0,
            1 => MAX_FRAME_LEN as u64 - rng.below(2),
            2..=5 => rng.range(1, 16),
            _ => rng.range(17, 700),
        };
        stream.extend(frame(&rng.bytes(len as usize)));
    }
    stream
}

/// Cuts `stream` into chunks of 1 to 600 bytes (now and then an empty chunk).
fn cut<'a>(rng: &mut Rng, stream: &'a [u8]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let size = match rng.below(8) {
            0 => 0,
            1..=3 => rng.range(1, 6),
            _ => rng.range(7, 600),
        } as usize;
        let end = (at + size).min(stream.len());
        chunks.push(&stream[at..end]);
        at = end;
    }
    chunks
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
