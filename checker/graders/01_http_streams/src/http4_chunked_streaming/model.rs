//! What the grader of `http4_chunked_streaming` builds and expects: chunked request bodies cut by a seeded plan,
//! the export's CSV, bulk upload data, and the server's peak memory.

use backlings_grade::Rng;
use serde_json::{Value, json};

use crate::wire::sha256_hex;

/// The first line of every export.
pub const CSV_HEADER: &str = "id,sku,price_cents\n";
/// The export's chunk bounds: at most this many bytes…
pub const MAX_CHUNK: u64 = 64 * 1024;
/// …and at least this many, except the last data chunk.
pub const MIN_CHUNK: u64 = 1024;
/// The trailer carrying a body's SHA-256.
pub const CHECKSUM: &str = "X-Content-SHA256";

/// Row `i` of the export, as the exercise's provided `row` makes it.
pub fn row(i: u64) -> String {
    let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    format!("{i},sku-{mixed:06x},{}\n", mixed % 100_000)
}

/// The whole export of `rows` rows (for small exports).
pub fn csv(rows: u64) -> Vec<u8> {
    let mut text = String::from(CSV_HEADER);
    for i in 0..rows {
        text.push_str(&row(i));
    }
    text.into_bytes()
}

/// Checks a streamed export piece by piece against the CSV it must be, keeping only one row in memory.
pub struct CsvStream {
    rows: u64,
    next_row: u64,
    pending: Vec<u8>,
    offset: usize,
    position: u64,
}

impl CsvStream {
    /// The expected stream of an export of `rows` rows.
    pub fn new(rows: u64) -> Self {
        CsvStream {
            rows,
            next_row: 0,
            pending: CSV_HEADER.as_bytes().to_vec(),
            offset: 0,
            position: 0,
        }
    }

    /// Compares the next received bytes with the expected ones.
    pub fn check(&mut self, mut piece: &[u8]) -> Result<(), String> {
        while !piece.is_empty() {
            if self.offset == self.pending.len() {
                if self.next_row == self.rows {
                    return Err(format!(
                        "the body goes on after the last row: byte {} onwards is extra",
                        self.position
                    ));
                }
                self.pending = row(self.next_row).into_bytes();
                self.next_row += 1;
                self.offset = 0;
            }
            let n = piece.len().min(self.pending.len() - self.offset);
            let expected = &self.pending[self.offset..self.offset + n];
            if let Some(at) = expected.iter().zip(piece).position(|(e, g)| e != g) {
                let line = if self.next_row == 0 {
                    "the CSV header".to_string()
                } else {
                    format!("row {}", self.next_row - 1)
                };
                return Err(format!(
                    "byte {} of the body differs: expected {:?} (in {line}: {:?}), got {:?}",
                    self.position + at as u64,
                    expected[at] as char,
                    String::from_utf8_lossy(&self.pending),
                    piece[at] as char
                ));
            }
            self.offset += n;
            self.position += n as u64;
            piece = &piece[n..];
        }
        Ok(())
    }

    /// Whether every expected byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.next_row == self.rows && self.offset == self.pending.len()
    }

    /// How many bytes have been checked.
    pub fn position(&self) -> u64 {
        self.position
    }
}

/// How chunk-size lines are spelled in one request.
#[derive(Debug, Clone, Copy)]
pub struct Spelling {
    /// `1A` instead of `1a`.
    pub uppercase: bool,
    /// `001a`.
    pub leading_zeros: bool,
    /// `1a;name=value` on some lines.
    pub extensions: bool,
}

impl Spelling {
    /// A seeded spelling.
    pub fn seeded(rng: &mut Rng) -> Self {
        Spelling {
            uppercase: rng.chance(1, 2),
            leading_zeros: rng.chance(1, 3),
            extensions: rng.chance(1, 2),
        }
    }

    fn size_line(&self, rng: &mut Rng, size: usize) -> String {
        let mut line = if self.uppercase {
            format!("{size:X}")
        } else {
            format!("{size:x}")
        };
        if self.leading_zeros && rng.chance(1, 2) {
            line.insert_str(0, &"0".repeat(rng.range(1, 3) as usize));
        }
        if self.extensions && rng.chance(1, 2) {
            let extension = match rng.below(3) {
                0 => format!(";{}", rng.word(4)),
                1 => format!(";{}={}", rng.word(3), rng.word(5)),
                _ => format!(";sig=\"{}\";part={}", rng.word(8), rng.below(100)),
            };
            line.push_str(&extension);
        }
        line
    }
}

/// Seeded chunk sizes summing to `len`: a mix of tiny and larger ones, at most `max` each. When the body is long
/// enough, the first size has a hex letter in it (`1a`), so a decimal reading of the sizes goes wrong at once.
pub fn chunk_plan(rng: &mut Rng, len: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = len;
    if left >= 0xff {
        let size = *rng.pick(&[0x1a, 0x2f, 0x3c, 0xab, 0xfe, 0xc]);
        sizes.push(size);
        left -= size;
    }
    while left > 0 {
        let size = if rng.chance(1, 3) {
            rng.range(1, 15) as usize
        } else {
            rng.range(16, max as u64) as usize
        };
        let size = size.min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// A chunked body: `body` cut by `sizes`, spelled as `spelling` says, then the last chunk, the trailers and the
/// final empty line.
pub fn chunked(
    rng: &mut Rng,
    body: &[u8],
    sizes: &[usize],
    spelling: Spelling,
    trailers: &[(String, String)],
) -> Vec<u8> {
    let mut wire = Vec::with_capacity(body.len() + sizes.len() * 8 + 64);
    let mut rest = body;
    for &size in sizes {
        let (chunk, tail) = rest.split_at(size);
        wire.extend_from_slice(spelling.size_line(rng, size).as_bytes());
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
        rest = tail;
    }
    wire.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

/// A `POST /upload` head with `headers` (plus `Host`), then `body` as it is on the wire.
pub fn post(headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = String::from("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A chunked `POST /upload` of `body`.
pub fn chunked_post(wire_body: &[u8]) -> Vec<u8> {
    post(&[("Transfer-Encoding", "chunked".to_string())], wire_body)
}

/// A `GET /export?rows=N` request.
pub fn export_request(rows: u64, version: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("GET /export?rows={rows} {version}\r\nHost: 127.0.0.1\r\n{connection}\r\n").into_bytes()
}

/// The JSON `/upload` answers for `body` with `trailers`.
pub fn upload_answer(body: &[u8], trailers: &[(String, String)]) -> Value {
    let pairs: Vec<Value> = trailers
        .iter()
        .map(|(name, value)| json!([name, value]))
        .collect();
    json!({ "bytes": body.len(), "sha256": sha256_hex(body), "trailers": pairs })
}

/// Seeded trailer fields such as `X-Qwe-Rty: abc def`, never the checksum trailer.
pub fn trailers(rng: &mut Rng, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|_| {
            let first = rng.range(2, 5) as usize;
            let second = rng.range(2, 6) as usize;
            let name = format!("X-{}-{}", capitalized(&rng.word(first)), rng.word(second));
            let words = rng.range(1, 3);
            let value: Vec<String> = (0..words)
                .map(|_| {
                    let len = rng.range(1, 8) as usize;
                    rng.word(len)
                })
                .collect();
            (name, value.join(" "))
        })
        .collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Seeded bytes made fast: splitmix64 from a seed the grading's generator chose (ChaCha for 16 MiB is slow in a
/// debug build).
pub struct Bulk(u64);

impl Bulk {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Bulk(seed)
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        for piece in out.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            piece.copy_from_slice(&z.to_le_bytes()[..piece.len()]);
        }
    }
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in KiB; `None` where `/proc` cannot say.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The streamed check accepts the export in any cut and points at the first wrong byte.
    #[test]
    fn csv_stream_checks_pieces() {
        let body = csv(50);
        let mut stream = CsvStream::new(50);
        for piece in body.chunks(7) {
            stream.check(piece).unwrap();
        }
        assert!(stream.is_complete());
        let mut wrong = body.clone();
        wrong[100] ^= 1;
        let mut stream = CsvStream::new(50);
        let error = stream.check(&wrong).unwrap_err();
        assert!(error.starts_with("byte 100 "), "{error}");
        let mut stream = CsvStream::new(2);
        assert!(stream.check(&csv(3)).unwrap_err().contains("extra"));
    }

    // A chunk plan covers the body exactly, and its first size has a hex letter once the body is long.
    #[test]
    fn chunk_plans_cover_the_body() {
        let mut rng = Rng::new(7);
        for len in [0, 1, 300, 5000] {
            let sizes = chunk_plan(&mut rng, len, 700);
            assert_eq!(sizes.iter().sum::<usize>(), len);
            assert!(sizes.iter().all(|&size| (1..=700).contains(&size)));
            if len >= 0xff {
                assert!(
                    format!("{:x}", sizes[0])
                        .chars()
                        .any(|c| c.is_ascii_alphabetic())
                );
            }
        }
    }

    // The rows match the exercise's provided `row`.
    #[test]
    fn rows_are_the_exercises() {
        assert_eq!(row(0), "0,sku-000000,0\n");
        assert_eq!(row(1), "1,sku-9e3779,68889\n");
    }
}
