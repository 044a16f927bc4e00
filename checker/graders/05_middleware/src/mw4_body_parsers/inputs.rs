//! Seeded inputs for `mw4_body_parsers`, built from the values they must decode to: the grader knows the
//! answer because it wrote the question (percent-encoding text it chose, framing parts it chose).

use std::fmt::Write as _;

use backlings_grade::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Characters a boundary may use (RFC 2046 `bchars`, without the space).
const BCHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?";

/// Text with what makes decoding interesting: spaces, pluses, `&`, `=`, `%`, non-ASCII.
pub fn tricky_text(rng: &mut Rng) -> String {
    let pieces = [
        "a", "b", "z", "0", "7", " ", " ", "+", "&", "=", "%", "/", "?", "é", "ö", "日本", "🦀",
        "-", ".", "~",
    ];
    let len = rng.range(0, 10);
    (0..len).map(|_| *rng.pick(&pieces)).collect()
}

/// A name (never empty) for a pair.
pub fn tricky_name(rng: &mut Rng) -> String {
    let len = rng_len(rng, 1, 5);
    let mut name = rng.word(len);
    if rng.chance(1, 3) {
        name.push_str(&tricky_text(rng));
    }
    name
}

fn rng_len(rng: &mut Rng, low: u64, high: u64) -> usize {
    rng.range(low, high) as usize
}

/// Percent-encodes `text` for a query string or a form: a space as `+` or `%20`, reserved and non-ASCII
/// bytes as `%XX` (upper- or lowercase hex), unreserved ones sometimes escaped too.
pub fn encode_form(rng: &mut Rng, text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b' ' if rng.chance(1, 2) => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~'
                if !rng.chance(1, 8) =>
            {
                out.push(byte as char);
            }
            _ => escape(rng, &mut out, byte),
        }
    }
    out
}

/// Percent-encodes one path segment: `+` left as it is (a plus in a path), `%20` for a space.
pub fn encode_path_segment(rng: &mut Rng, text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'+' if rng.chance(3, 4) => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~'
                if !rng.chance(1, 8) =>
            {
                out.push(byte as char);
            }
            _ => escape(rng, &mut out, byte),
        }
    }
    out
}

fn escape(rng: &mut Rng, out: &mut String, byte: u8) {
    if rng.chance(1, 2) {
        let _ = write!(out, "%{byte:02X}");
    } else {
        let _ = write!(out, "%{byte:02x}");
    }
}

/// Pairs and their encoding as `a=1&b=2` (sometimes with empty pairs or a pair without `=`).
pub fn form(rng: &mut Rng, count: usize) -> (Vec<(String, String)>, String) {
    let mut pairs = Vec::new();
    let mut encoded = Vec::new();
    for _ in 0..count {
        let name = tricky_name(rng);
        if rng.chance(1, 8) {
            encoded.push(encode_form(rng, &name));
            pairs.push((name, String::new()));
        } else {
            let value = tricky_text(rng);
            encoded.push(format!(
                "{}={}",
                encode_form(rng, &name),
                encode_form(rng, &value)
            ));
            pairs.push((name, value));
        }
        if rng.chance(1, 8) {
            encoded.push(String::new());
        }
    }
    (pairs, encoded.join("&"))
}

/// One part of a multipart body to build.
#[derive(Debug, Clone)]
pub struct PartSpec {
    pub name: String,
    /// `Some` for a file.
    pub filename: Option<String>,
    /// The part's `Content-Type` header, if it has one.
    pub content_type: Option<String>,
    pub content: Vec<u8>,
}

impl PartSpec {
    pub fn field(name: &str, value: &str) -> Self {
        PartSpec {
            name: name.to_string(),
            filename: None,
            content_type: None,
            content: value.as_bytes().to_vec(),
        }
    }

    pub fn file(name: &str, filename: &str, content_type: Option<&str>, content: Vec<u8>) -> Self {
        PartSpec {
            name: name.to_string(),
            filename: Some(filename.to_string()),
            content_type: content_type.map(str::to_string),
            content,
        }
    }
}

/// How a multipart body is framed, beyond its parts.
#[derive(Debug, Clone, Default)]
pub struct Framing {
    pub preamble: bool,
    pub epilogue: bool,
    /// Spaces and tabs after the boundary on delimiter lines.
    pub padding: bool,
    /// Lowercase header names, parameters in another order.
    pub odd_headers: bool,
}

/// A seeded boundary, 8 to 40 `bchars`.
pub fn boundary(rng: &mut Rng) -> String {
    let len = rng.range(8, 40);
    let mut text: String = (0..len).map(|_| *rng.pick(BCHARS) as char).collect();
    // A boundary may not end with a space, and starting with a letter keeps it readable in reports.
    text.insert(0, 'B');
    text
}

/// `multipart/form-data; boundary=…`, quoted when the boundary needs it (or at random).
pub fn content_type(rng: &mut Rng, boundary: &str) -> String {
    let plain = boundary
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"'+_-.".contains(&b));
    if plain && rng.chance(1, 2) {
        format!("multipart/form-data; boundary={boundary}")
    } else {
        format!("multipart/form-data; boundary=\"{boundary}\"")
    }
}

/// The body: preamble, a delimiter line before each part, the close delimiter, an epilogue.
pub fn multipart(rng: &mut Rng, boundary: &str, parts: &[PartSpec], framing: &Framing) -> Vec<u8> {
    let mut body = Vec::new();
    if framing.preamble {
        body.extend_from_slice(b"This is the preamble. It is to be ignored.\r\n");
    }
    for part in parts {
        body.extend_from_slice(format!("--{boundary}").as_bytes());
        if framing.padding {
            body.extend_from_slice(rng.pick(&[" ", "\t", "  \t"]).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        let disposition_name = if framing.odd_headers {
            "content-disposition"
        } else {
            "Content-Disposition"
        };
        let name = format!("name=\"{}\"", quote(&part.name));
        let disposition = match &part.filename {
            Some(filename) if framing.odd_headers => {
                format!("form-data; filename=\"{}\"; {name}", quote(filename))
            }
            Some(filename) => format!("form-data; {name}; filename=\"{}\"", quote(filename)),
            None => format!("form-data; {name}"),
        };
        body.extend_from_slice(format!("{disposition_name}: {disposition}\r\n").as_bytes());
        if let Some(content_type) = &part.content_type {
            let header = if framing.odd_headers {
                "content-type"
            } else {
                "Content-Type"
            };
            body.extend_from_slice(format!("{header}: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--").as_bytes());
    if framing.epilogue {
        body.extend_from_slice(b"\r\nThis is the epilogue. It is also to be ignored.\r\n");
    }
    body
}

fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Binary content, with `traps` for a sloppy parser if asked: CRLFs, dashes, the boundary in the middle of
/// a line, the start of a delimiter that does not finish, and sometimes a trailing CRLF of its own.
pub fn file_content(rng: &mut Rng, boundary: &str, max: u64, traps: bool) -> Vec<u8> {
    loop {
        let len = rng.range(0, max) as usize;
        let mut content = rng.bytes(len);
        let traps = if traps { rng.range(0, 4) } else { 0 };
        for _ in 0..traps {
            let at = rng.below(content.len() as u64 + 1) as usize;
            let trap: Vec<u8> = match rng.below(5) {
                0 => b"\r\n".to_vec(),
                1 => b"--\r\n--".to_vec(),
                2 => format!("x--{boundary}").into_bytes(),
                3 => format!("\r\n--{}", &boundary[..boundary.len() / 2]).into_bytes(),
                _ => b"\r\n\r\n".to_vec(),
            };
            content.splice(at..at, trap);
        }
        if traps > 0 && rng.chance(1, 2) {
            content.extend_from_slice(b"\r\n");
        }
        let delimiter = format!("\r\n--{boundary}");
        let clashes = content
            .windows(delimiter.len())
            .any(|window| window == delimiter.as_bytes())
            || content.starts_with(format!("--{boundary}").as_bytes())
            || (traps == 0 && content.ends_with(b"\r\n"));
        if !clashes {
            return content;
        }
    }
}

/// The `files` entry the echo must show for `part`.
pub fn file_json(part: &PartSpec) -> Value {
    let digest = Sha256::digest(&part.content);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "field": part.name,
        "filename": part.filename,
        "content_type": part.content_type.as_deref().unwrap_or("application/octet-stream"),
        "size": part.content.len(),
        "sha256": hex,
    })
}
