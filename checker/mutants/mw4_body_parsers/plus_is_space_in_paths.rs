//! mutant: decodes `+` as a space everywhere, so the path `/files/c++` names `c  `
//! expect: `+` is a plain plus in a path

use std::process::ExitCode;

use backlings_harness::http::{Request, Response, serve};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A refusal, with the status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// 400: malformed.
    Malformed(String),
    /// 413: longer than the limit.
    TooLarge,
    /// 415: a `Content-Type` this parser does not handle (or none, with a body).
    Unsupported(String),
}

/// One part of a multipart body: its header lines (names as sent) and its raw content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub content: Vec<u8>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpload {
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What the body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body and no `Content-Type`.
    None,
    Json(Value),
    /// `application/x-www-form-urlencoded`: the decoded pairs, in order.
    Form(Vec<(String, String)>),
    /// `multipart/form-data`: the text fields and the files, each in order.
    Multipart {
        fields: Vec<(String, String)>,
        files: Vec<FileUpload>,
    },
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); the result must be UTF-8.
pub fn percent_decode(input: &str, plus_is_space: bool) -> Result<String, BodyError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        BodyError::Malformed(format!("invalid percent-escape at byte {i}"))
                    })?;
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| BodyError::Malformed("decoded bytes are not UTF-8".to_string()))
}

/// Parses `a=1&b=x+y` into decoded pairs, in order (`+` is a space; `name` alone is `("name", "")`).
pub fn parse_urlencoded(input: &str) -> Result<Vec<(String, String)>, BodyError> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// Splits a multipart body into its parts, following the delimiter lines of `boundary`.
pub fn split_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, BodyError> {
    let malformed = |why: &str| BodyError::Malformed(format!("multipart: {why}"));
    let dash_boundary = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter starts the body or follows a CRLF; what comes before it is the preamble.
    let mut at = if body.starts_with(dash_boundary.as_bytes()) {
        dash_boundary.len()
    } else {
        find(body, delimiter.as_bytes(), 0).ok_or_else(|| malformed("no delimiter line"))?
            + delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        // Right after a boundary: `--` closes the body, else optional padding and a CRLF open a part.
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        while matches!(body.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(malformed("a delimiter line does not end with CRLF"));
        }
        at += 2;
        let end =
            find(body, delimiter.as_bytes(), at).ok_or_else(|| malformed("no close delimiter"))?;
        parts.push(parse_part(&body[at..end])?);
        at = end + delimiter.len();
    }
}

/// Reads one part (the bytes between two delimiter lines): header lines, an empty line, then the content
/// (provided: you do not need to change this).
pub fn parse_part(part: &[u8]) -> Result<Part, BodyError> {
    let malformed = |why: &str| BodyError::Malformed(format!("multipart: {why}"));
    let split = find(part, b"\r\n\r\n", 0).ok_or_else(|| malformed("a part has no headers"))?;
    let head =
        std::str::from_utf8(&part[..split]).map_err(|_| malformed("part headers are not UTF-8"))?;
    let mut headers = Vec::new();
    for line in head.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("a part header has no `:`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Part {
        headers,
        content: part[split + 4..].to_vec(),
    })
}

/// The body parser: refuses what is too large, of an unknown type or malformed, and parses the rest.
pub fn parse_body(request: &Request, max_body: usize) -> Result<Body, BodyError> {
    if request.body.len() > max_body {
        return Err(BodyError::TooLarge);
    }
    let Some(content_type) = request.header("content-type") else {
        return if request.body.is_empty() {
            Ok(Body::None)
        } else {
            Err(BodyError::Unsupported(
                "a body needs a Content-Type".to_string(),
            ))
        };
    };
    let (media_type, params) = header_params(content_type);
    match media_type.as_str() {
        "application/json" => serde_json::from_slice(&request.body)
            .map(Body::Json)
            .map_err(|e| BodyError::Malformed(format!("invalid JSON: {e}"))),
        "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(&request.body)
                .map_err(|_| BodyError::Malformed("the form is not UTF-8".to_string()))?;
            parse_urlencoded(text).map(Body::Form)
        }
        "multipart/form-data" => {
            let boundary = param(&params, "boundary")
                .filter(|b| !b.is_empty())
                .ok_or_else(|| BodyError::Malformed("no boundary parameter".to_string()))?;
            let mut fields = Vec::new();
            let mut files = Vec::new();
            for part in split_multipart(&request.body, boundary)? {
                let disposition = part
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-disposition"))
                    .map(|(_, value)| header_params(value))
                    .filter(|(kind, _)| kind == "form-data")
                    .ok_or_else(|| {
                        BodyError::Malformed("a part has no Content-Disposition: form-data".into())
                    })?;
                let name = param(&disposition.1, "name")
                    .ok_or_else(|| BodyError::Malformed("a part has no name".to_string()))?
                    .to_string();
                match param(&disposition.1, "filename") {
                    Some(filename) => files.push(FileUpload {
                        field: name,
                        filename: filename.to_string(),
                        content_type: part
                            .headers
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                            .map_or("application/octet-stream", |(_, v)| v.as_str())
                            .to_string(),
                        content: part.content,
                    }),
                    None => {
                        let value = String::from_utf8(part.content).map_err(|_| {
                            BodyError::Malformed(format!("field `{name}` is not UTF-8"))
                        })?;
                        fields.push((name, value));
                    }
                }
            }
            Ok(Body::Multipart { fields, files })
        }
        other => Err(BodyError::Unsupported(format!(
            "cannot parse `{other}` bodies"
        ))),
    }
}

/// Splits a header value like `multipart/form-data; boundary="a b"` into its lowercased first item and its
/// parameters (names lowercased, quoted values unquoted, `\` escapes undone) (provided: you do not need to
/// change this).
pub fn header_params(value: &str) -> (String, Vec<(String, String)>) {
    let (first, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().to_ascii_lowercase();
        let mut value = String::new();
        if let Some(quoted) = after.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end..];
        } else {
            let end = after.find(';').unwrap_or(after.len());
            value = after[..end].trim().to_string();
            rest = &after[end..];
        }
        params.push((name, value));
    }
    (first.trim().to_ascii_lowercase(), params)
}

/// The value of parameter `name` (provided: you do not need to change this).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The first position at or after `from` where `needle` starts in `haystack` (provided: you do not need to
/// change this).
pub fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

/// The handler: echoes what the parser understood, as JSON (provided: you do not need to change this).
pub fn echo(request: &Request, max_body: usize) -> Response {
    let parsed = (|| {
        let path = percent_decode(request.path(), true)?;
        let query = parse_urlencoded(request.query().unwrap_or_default())?;
        Ok::<_, BodyError>((path, query, parse_body(request, max_body)?))
    })();
    let (path, query, body) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let (status, why) = match error {
                BodyError::Malformed(why) => (400, why),
                BodyError::TooLarge => (413, format!("the body is over {max_body} bytes")),
                BodyError::Unsupported(why) => (415, why),
            };
            return json_response(status, &json!({ "error": why }));
        }
    };
    let (kind, json_value, fields, files) = match body {
        Body::None => ("none", Value::Null, Vec::new(), Vec::new()),
        Body::Json(value) => ("json", value, Vec::new(), Vec::new()),
        Body::Form(fields) => ("form", Value::Null, fields, Vec::new()),
        Body::Multipart { fields, files } => ("multipart", Value::Null, fields, files),
    };
    let files: Vec<Value> = files
        .iter()
        .map(|file| {
            json!({
                "field": file.field,
                "filename": file.filename,
                "content_type": file.content_type,
                "size": file.content.len(),
                "sha256": hex(&Sha256::digest(&file.content)),
            })
        })
        .collect();
    json_response(
        200,
        &json!({
            "path": path,
            "query": query,
            "kind": kind,
            "json": json_value,
            "fields": fields,
            "files": files,
        }),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_response(status: u16, value: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(value.to_string())
}

/// Serves the parser (provided: you do not need to change this).
fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let max_body = match (
        args.next().as_deref(),
        args.next().map(|v| v.parse::<usize>()),
    ) {
        (None, _) => 64 * 1024,
        (Some("--max-body"), Some(Ok(max))) => max,
        _ => {
            eprintln!("usage: mw4_body_parsers [--max-body BYTES]");
            return ExitCode::from(2);
        }
    };
    match serve(move |request| echo(request, max_body)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}
