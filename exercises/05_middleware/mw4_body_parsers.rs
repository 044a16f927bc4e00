//! # Body parsers: JSON, URL-encoded forms and multipart uploads
//!
//! Before a handler can use a request's body, something must turn bytes into data, and which parser runs is
//! decided by the request's `Content-Type`. Frameworks do it in a body-parsing middleware (Express's
//! `express.json()` / `urlencoded()` / multer, Django's request parsers, axum's extractors). This exercise
//! writes one, with the three formats the web actually sends:
//!
//! - `application/json`: the body is one JSON value;
//! - `application/x-www-form-urlencoded` (what an HTML `<form>` posts): `name=Ada+Lovelace&lang=en%2Dgb`, pairs
//!   separated by `&`, names and values **percent-encoded**, and `+` standing for a space;
//! - `multipart/form-data; boundary=XYZ` (forms with file uploads): the body is a sequence of *parts*, each
//!   with its own headers (`Content-Disposition: form-data; name="avatar"; filename="me.png"`) and raw, possibly
//!   binary content, separated by **delimiter lines** made of `--` and the boundary.
//!
//! A body parser is also the first line of defence: it refuses what it cannot or will not parse before any
//! handler spends time on it. Too large: `413 Content Too Large` (without this, one client can fill your
//! memory). A type it does not support: `415 Unsupported Media Type`. Malformed: `400 Bad Request`.
//!
//! ## Percent-encoding, and where `+` means a space
//!
//! `%XX` is the byte with hex value `XX`; the decoded bytes must form valid UTF-8. `%4` and `%zz` are not
//! escapes: the request is malformed (`400`), not to be passed through as text. The `+` is subtle: in a
//! *query string* or a *form body* (the `application/x-www-form-urlencoded` format) it means a space, but in
//! a *path* it is just a plus (`/files/c++` is a file named `c++`); `%20` is a space everywhere.
//!
//! ## Multipart, byte by byte
//!
//! ```text
//! preamble, ignored\r\n
//! --XYZ\r\n                                                   ← a delimiter line: CRLF, "--", the boundary
//! Content-Disposition: form-data; name="title"\r\n
//! \r\n
//! Holiday\r\n                                                 ← this CRLF belongs to the next delimiter
//! --XYZ\r\n
//! Content-Disposition: form-data; name="photo"; filename="a.jpg"\r\n
//! Content-Type: image/jpeg\r\n
//! \r\n
//! <binary bytes, which may contain \r\n, "--", even "--XYZ" in the middle of a line>\r\n
//! --XYZ--\r\n                                                 ← the close delimiter: "--" after the boundary
//! epilogue, ignored
//! ```
//!
//! A delimiter is `--boundary` at the *start of a line*: the body's first bytes, or right after a CRLF. The
//! CRLF before a delimiter belongs to the delimiter, not to the part, so a part whose content itself ends in
//! `\r\n` keeps those two bytes. After the boundary, a delimiter line may carry spaces or tabs before its
//! CRLF. A body without its close delimiter is malformed.
//!
//! ## The contract the grader checks
//!
//! Started as `mw4_body_parsers --max-body N`, the program answers every request with `200` and a JSON echo
//! of what the parser understood (the provided handler builds it):
//!
//! ```text
//! {"path": "/files/c++ v2", "query": [["q", "a b"]], "kind": "multipart",
//!  "json": null, "fields": [["title", "Holiday"]],
//!  "files": [{"field": "photo", "filename": "a.jpg", "content_type": "image/jpeg", "size": 2048,
//!             "sha256": "…"}]}
//! ```
//!
//! - `path` is the percent-decoded path (`+` kept) and `query` the decoded pairs of the query string in order
//!   (`+` a space; a pair without `=` has the value `""`; empty pairs skipped);
//! - `kind` is `json`, `form`, `multipart`, or `none` for a request with no body and no `Content-Type`;
//! - a multipart part with a `filename` is a file (its `Content-Type`, or `application/octet-stream`); one
//!   without is a text field, whose content must be UTF-8. A part must have
//!   `Content-Disposition: form-data` with a `name`.
//!
//! Errors, as `{"error": "…"}`: `413` if the body is longer than `--max-body` bytes (checked first); `415`
//! for any other `Content-Type`, or a body without one; `400` for a bad escape, bytes that are not UTF-8,
//! invalid JSON, or a malformed multipart body (no boundary parameter, no delimiter, no close delimiter, a
//! part without headers or without a name).
//!
//! ## Pitfalls
//!
//! - Decoding `+` as a space in paths, or not in forms.
//! - Passing `%zz` through, or decoding invalid UTF-8 "lossily" into `�`.
//! - Splitting a multipart body on the boundary wherever it appears, instead of only at the start of a line.
//! - Trimming every trailing CRLF from a part: a file that ends in `\r\n` is then corrupted.
//! - Checking the size after parsing: the memory is already spent.
//!
//! Roadmap: data-parsing middleware (JSON, forms, multipart); status codes 413 and 415.

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
    // TODO: decode `%XX` escapes (refusing broken ones) and, when asked, `+`; then insist on UTF-8.
    todo!()
}

/// Parses `a=1&b=x+y` into decoded pairs, in order (`+` is a space; `name` alone is `("name", "")`).
pub fn parse_urlencoded(input: &str) -> Result<Vec<(String, String)>, BodyError> {
    // TODO: split into pairs, skip empty ones, split each at its first `=`, decode both sides.
    todo!()
}

/// Splits a multipart body into its parts, following the delimiter lines of `boundary`.
pub fn split_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, BodyError> {
    // TODO: find the first delimiter line (skipping the preamble), then, delimiter after delimiter, cut out
    // each part (use `parse_part`) until the close delimiter; a missing one is malformed.
    todo!()
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
    // TODO: refuse a body over `max_body`; then choose the parser from the media type (see `header_params`)
    // and turn a multipart body's parts into text fields and files.
    todo!()
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
        let path = percent_decode(request.path(), false)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn post(content_type: Option<&str>, body: &[u8]) -> Request {
        let mut headers = Vec::new();
        if let Some(content_type) = content_type {
            headers.push(("Content-Type".to_string(), content_type.to_string()));
        }
        Request {
            method: "POST".to_string(),
            target: "/upload".to_string(),
            version: "HTTP/1.1".to_string(),
            headers,
            body: body.to_vec(),
        }
    }

    // `+` is a space in forms and queries, a plus in paths; `%20` is a space in both.
    #[test]
    fn plus_means_space_only_in_forms() {
        assert_eq!(percent_decode("c++%20v2", false).unwrap(), "c++ v2");
        assert_eq!(percent_decode("a+b%20c", true).unwrap(), "a b c");
        assert_eq!(
            parse_urlencoded("name=Ada+L%C3%B6&flag&&x=%3D").unwrap(),
            vec![
                ("name".to_string(), "Ada Lö".to_string()),
                ("flag".to_string(), String::new()),
                ("x".to_string(), "=".to_string()),
            ]
        );
    }

    // A broken escape or bytes that are not UTF-8 are malformed, not text.
    #[test]
    fn bad_escapes_and_bad_utf8_are_refused() {
        for input in ["%zz", "abc%4", "%", "%FF", "%C3"] {
            assert!(
                matches!(percent_decode(input, true), Err(BodyError::Malformed(_))),
                "{input}"
            );
        }
    }

    // Delimiters only start lines; a part keeps its own trailing CRLF.
    #[test]
    fn multipart_framing_is_exact() {
        let body = b"preamble\r\n--XY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\
                     one --XY two\r\n\r\n--XY \t\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n\r\n--XY--\r\nepilogue";
        let parts = split_multipart(body, "XY").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content, b"one --XY two\r\n");
        assert_eq!(parts[1].content, b"");
        assert!(split_multipart(b"--XY\r\nA: b\r\n\r\nno end", "XY").is_err());
    }

    // Files and fields come out in order, with their metadata.
    #[test]
    fn multipart_fields_and_files() {
        let body = b"--b\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\nHi\r\n\
                     --b\r\nContent-Disposition: form-data; filename=\"x; y.bin\"; name=\"doc\"\r\n\
                     Content-Type: application/pdf\r\n\r\n\x00\x01\r\n--b--";
        let request = post(Some("multipart/form-data; boundary=\"b\""), body);
        let Ok(Body::Multipart { fields, files }) = parse_body(&request, 1000) else {
            panic!("expected a multipart body");
        };
        assert_eq!(fields, vec![("title".to_string(), "Hi".to_string())]);
        assert_eq!(files[0].filename, "x; y.bin");
        assert_eq!(files[0].content_type, "application/pdf");
        assert_eq!(files[0].content, b"\x00\x01");
    }

    // The size is checked first, then the type.
    #[test]
    fn limits_and_types() {
        let big = post(Some("application/json"), &[b' '; 11]);
        assert_eq!(parse_body(&big, 10), Err(BodyError::TooLarge));
        let xml = post(Some("application/xml"), b"<a/>");
        assert!(matches!(
            parse_body(&xml, 10),
            Err(BodyError::Unsupported(_))
        ));
        let untyped = post(None, b"x");
        assert!(matches!(
            parse_body(&untyped, 10),
            Err(BodyError::Unsupported(_))
        ));
        assert_eq!(parse_body(&post(None, b""), 10), Ok(Body::None));
        let json = post(Some("Application/JSON; charset=utf-8"), b"[1]");
        assert_eq!(parse_body(&json, 10), Ok(Body::Json(json!([1]))));
    }
}
