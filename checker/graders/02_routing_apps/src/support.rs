//! Helpers the HTTP graders of this crate share: JSON requests, media types, bodies, and short texts for
//! failure reports.

use backlings_grade::http::{Request, Response};
use serde_json::Value;

/// A request with raw body bytes and the given `Content-Type`.
pub fn body_request(method: &str, target: &str, content_type: &str, body: &[u8]) -> Request {
    Request::new(method, target)
        .header("Content-Type", content_type)
        .body(body.to_vec())
}

/// The media type of a response, lowercase, without parameters (`application/json` for
/// `application/json; charset=utf-8`); empty when there is no `Content-Type`.
pub fn media_type(response: &Response) -> String {
    response
        .header("Content-Type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The body parsed as JSON, or why not.
pub fn json_body(response: &Response) -> Result<Value, String> {
    serde_json::from_slice(&response.body).map_err(|e| {
        format!(
            "the body is not JSON ({e}): {}",
            clip(&response.text(), 200)
        )
    })
}

/// A JSON value on one line, cut to a readable length.
pub fn show(value: &Value) -> String {
    clip(&value.to_string(), 400)
}

/// `text` cut to `max` characters, with a mark when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… ({} characters in all)", text.chars().count())
    }
}

/// A response in one line: status, content type and body.
pub fn summary(response: &Response) -> String {
    let mut line = format!("{}", response.status);
    if let Some(content_type) = response.header("Content-Type") {
        line.push_str(&format!(" · Content-Type: {content_type}"));
    }
    if !response.body.is_empty() {
        line.push_str(&format!(" · body {}", clip(&response.text(), 300)));
    }
    line
}

/// A directory for a program's data, removed (with everything in it) when dropped, pass or fail.
#[derive(Debug)]
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    /// A new empty directory under the system's temp dir, named after `label`.
    pub fn new(label: &str) -> Result<Self, backlings_grade::Failure> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "backlings-{label}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| {
            backlings_grade::Failure::new(format!(
                "the grader could not create {}: {e}",
                path.display()
            ))
        })?;
        Ok(ScratchDir(path))
    }

    /// The directory, as a string for a command line.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
