//! Seeded valid requests, each with the JSON a correct parser returns for it. The expected JSON comes from how
//! the request was built (the decoded text first, then its encoding), never from a second parser.

use backlings_grade::Rng;
use serde_json::{Value, json};

/// A request on the wire and what it parses to.
#[derive(Debug, Clone)]
pub struct Built {
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The request as the program's `to_json` shows it.
    pub json: Value,
}

/// What a request is made of, before it is put on the wire.
pub struct Parts<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub version: &'a str,
    pub segments: &'a [&'a str],
    pub query: &'a [(&'a str, &'a str)],
    /// Header lines exactly as sent: name, raw value (padding included).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl Parts<'_> {
    /// The bytes and the expected JSON.
    pub fn build(&self) -> Built {
        let mut head = format!("{} {} {}\r\n", self.method, self.target, self.version);
        for (name, value) in self.headers {
            head.push_str(&format!("{name}:{value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body);
        let headers: Vec<[String; 2]> = self
            .headers
            .iter()
            .map(|(name, value)| {
                [
                    name.to_ascii_lowercase(),
                    value.trim_matches([' ', '\t']).to_string(),
                ]
            })
            .collect();
        let json = json!({
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "segments": self.segments,
            "query": self.query.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "headers": headers,
            "body": hex(self.body),
        });
        Built { bytes, json }
    }
}

/// Bytes as lowercase hex, as the protocol carries them.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Characters of decoded path segments and query names and values: safe ones, ones that must be escaped, and
/// multi-byte UTF-8.
const CHARS: &[char] = &[
    'a', 'b', 'c', 'k', 'x', 'y', 'z', 'Q', 'R', '0', '7', '9', '-', '.', '_', '~', '!', '$', '&',
    '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', ' ', '/', '?', '%', '#', '"', 'é', '日',
];

/// One byte as `%XX`, in a seeded hex case.
fn escape_byte(rng: &mut Rng, byte: u8) -> String {
    if rng.chance(1, 2) {
        format!("%{byte:02X}")
    } else {
        format!("%{byte:02x}")
    }
}

fn escape_char(rng: &mut Rng, c: char) -> String {
    let mut buffer = [0u8; 4];
    c.encode_utf8(&mut buffer)
        .bytes()
        .map(|byte| escape_byte(rng, byte))
        .collect()
}

/// A path segment on the wire: characters allowed in a segment are sometimes sent as they are, the others
/// always escaped (a space is `%20`, never `+`: in a path `+` is a plus).
fn encode_segment(rng: &mut Rng, text: &str) -> String {
    text.chars()
        .map(|c| {
            let safe = c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c);
            if safe && !rng.chance(1, 6) {
                c.to_string()
            } else {
                escape_char(rng, c)
            }
        })
        .collect()
}

/// A query name or value on the wire: a space is `+` or `%20`; `+ & = # %` are always escaped.
fn encode_query(rng: &mut Rng, text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' if rng.chance(1, 2) => "+".to_string(),
            c if (c.is_ascii_alphanumeric() || "-._~!$'()*,;:@/?".contains(c))
                && !rng.chance(1, 6) =>
            {
                c.to_string()
            }
            c => escape_char(rng, c),
        })
        .collect()
}

fn text(rng: &mut Rng, low: u64, high: u64) -> String {
    let len = rng.range(low, high);
    (0..len).map(|_| *rng.pick(CHARS)).collect()
}

/// A seeded target, with its decoded segments and query pairs.
pub fn target(rng: &mut Rng) -> (String, Vec<String>, Vec<(String, String)>) {
    let count = rng.range(1, 4);
    let segments: Vec<String> = (0..count)
        .map(|_| {
            if rng.chance(1, 8) {
                String::new()
            } else {
                text(rng, 1, 8)
            }
        })
        .collect();
    let mut target = String::new();
    for segment in &segments {
        target.push('/');
        target.push_str(&encode_segment(rng, segment));
    }
    let mut query = Vec::new();
    if rng.chance(1, 2) {
        target.push('?');
        for index in 0..rng.range(0, 3) {
            if index > 0 {
                target.push('&');
                if rng.chance(1, 6) {
                    target.push('&');
                }
            }
            let name = text(rng, 1, 6);
            let value = text(rng, 0, 8);
            target.push_str(&encode_query(rng, &name));
            if !value.is_empty() || rng.chance(1, 2) {
                target.push('=');
                target.push_str(&encode_query(rng, &value));
            }
            query.push((name, value));
        }
        if rng.chance(1, 6) {
            target.push('&');
        }
    }
    (target, segments, query)
}

/// The same letters in a seeded mix of cases.
pub fn mixed_case(rng: &mut Rng, text: &str) -> String {
    text.chars()
        .map(|c| {
            if rng.chance(1, 2) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Spaces and tabs around a header value, to be trimmed.
fn padding(rng: &mut Rng) -> &'static str {
    const PADDING: &[&str] = &["", " ", " ", " ", "  ", "\t", " \t "];
    let padding: &&str = rng.pick(PADDING);
    padding
}

const NAMES: &[&str] = &[
    "User-Agent",
    "Accept",
    "X-Request-Id",
    "Authorization",
    "Cookie",
    "X-Forwarded-For",
    "Accept-Language",
];

fn header_value(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("Bearer {}:{}", rng.word(6), rng.word(4)),
        1 => format!("{}, {};q=0.5", rng.word(2), rng.word(2)),
        2 => format!("naïve {}", rng.word(5)),
        3 => format!("10.0.{}.{}", rng.below(256), rng.below(256)),
        _ => {
            let words = rng.range(1, 3);
            (0..words)
                .map(|_| {
                    let len = rng.range(2, 8) as usize;
                    rng.word(len)
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// A seeded request with nothing tricky: lowercase words in the path and query, plain headers, a body of
/// words for a POST.
pub fn plain_request(rng: &mut Rng) -> Built {
    let words: Vec<String> = (0..rng.range(1, 3))
        .map(|_| {
            let len = rng.range(3, 8) as usize;
            rng.word(len)
        })
        .collect();
    let segments: Vec<&str> = words.iter().map(String::as_str).collect();
    let (name, value) = (rng.word(4), rng.word(5));
    let query = [(name.as_str(), value.as_str())];
    let target = format!("/{}?{name}={value}", words.join("/"));
    let agent = format!(" backlings/{}", rng.range(1, 9));
    let is_post = rng.chance(1, 2);
    let body = if is_post {
        let len = rng.range(4, 12) as usize;
        rng.word(len)
    } else {
        String::new()
    };
    let length = format!(" {}", body.len());
    let mut headers = vec![("Host", " example.com"), ("User-Agent", agent.as_str())];
    if is_post {
        headers.push(("Content-Length", &length));
    }
    Parts {
        method: if is_post { "POST" } else { "GET" },
        target: &target,
        version: "HTTP/1.1",
        segments: &segments,
        query: &query,
        headers: &headers,
        body: body.as_bytes(),
    }
    .build()
}

/// A seeded valid request: any method, a seeded target, mixed-case header names with padded values (one name
/// sometimes twice), and for methods with a body a `Content-Length` body that may hold a fake request.
pub fn request(rng: &mut Rng) -> Built {
    let method = *rng.pick(&[
        "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PURGE",
    ]);
    let version = if rng.chance(1, 5) {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let (target, segments, query) = target(rng);

    let mut headers: Vec<(String, String)> = Vec::new();
    if version == "HTTP/1.1" || rng.chance(1, 2) {
        let host = if rng.chance(1, 2) {
            "example.com".to_string()
        } else {
            format!("127.0.0.1:{}", rng.range(1024, 65535))
        };
        headers.push((mixed_case(rng, "host"), host));
    }
    for _ in 0..rng.range(0, 3) {
        let name = *rng.pick(NAMES);
        let name = mixed_case(rng, name);
        headers.push((name, header_value(rng)));
    }
    if headers.len() > 1 && rng.chance(1, 4) {
        // The same header twice, spelled differently: both lines are kept, in order.
        let (name, _) = headers[headers.len() - 1].clone();
        headers.push((mixed_case(rng, &name), header_value(rng)));
    }

    let body = if matches!(method, "POST" | "PUT" | "PATCH") || rng.chance(1, 10) {
        let len = rng.range(0, 160) as usize;
        let mut body = rng.bytes(len);
        if rng.chance(1, 3) {
            // A body that looks like the end of a head and a whole request: it is still only body.
            let at = rng.range(0, body.len() as u64) as usize;
            body.splice(
                at..at,
                b"\r\n\r\nGET /trap HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            );
        }
        Some(body)
    } else {
        None
    };
    if let Some(body) = &body {
        let at = rng.range(0, headers.len() as u64) as usize;
        let name = mixed_case(rng, "content-length");
        headers.insert(at, (name.clone(), body.len().to_string()));
        if rng.chance(1, 8) {
            // Two Content-Length lines with the same value frame the message the same way: accepted.
            headers.insert(at, (name, body.len().to_string()));
        }
    }

    let raw: Vec<(String, String)> = headers
        .into_iter()
        .map(|(name, value)| (name, format!("{}{value}{}", padding(rng), padding(rng))))
        .collect();
    let raw_refs: Vec<(&str, &str)> = raw.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let segment_refs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query_refs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Parts {
        method,
        target: &target,
        version,
        segments: &segment_refs,
        query: &query_refs,
        headers: &raw_refs,
        body: body.as_deref().unwrap_or_default(),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The bytes on the wire and the JSON a correct parser returns both come from the same parts.
    #[test]
    fn builds_the_wire_bytes_and_the_expected_json() {
        let built = Parts {
            method: "POST",
            target: "/a%20b?x=1+2",
            version: "HTTP/1.1",
            segments: &["a b"],
            query: &[("x", "1 2")],
            headers: &[("HoSt", " example.com\t"), ("Content-Length", " 2")],
            body: b"hi",
        }
        .build();
        assert_eq!(
            built.bytes,
            b"POST /a%20b?x=1+2 HTTP/1.1\r\nHoSt: example.com\t\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert_eq!(
            built.json["headers"],
            json!([["host", "example.com"], ["content-length", "2"]])
        );
        assert_eq!(built.json["body"], "6869");
    }

    // Seeded requests are framed by their own Content-Length: head, blank line, then exactly the body.
    #[test]
    fn seeded_requests_are_well_framed() {
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let built = request(&mut rng);
            let body = built.json["body"].as_str().unwrap().len() / 2;
            let head_end = built
                .bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap()
                + 4;
            assert_eq!(built.bytes.len(), head_end + body);
        }
    }
}
