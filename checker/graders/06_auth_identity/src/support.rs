//! Helpers several graders of this track share: compact JSON for messages, and a scan of a data directory
//! for a secret that must never be written down.

use std::path::Path;

use serde_json::Value;

/// A JSON value on one line, as the report shows it.
pub fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The first file under `dir` (recursively) whose bytes contain `needle`, with a printable excerpt around it.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Option<(String, String)> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&path)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            stack.extend(entries);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            let start = at.saturating_sub(60);
            let end = (at + needle.len() + 60).min(bytes.len());
            let excerpt = String::from_utf8_lossy(&bytes[start..end]).replace('\n', "⏎");
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            return Some((format!("the file DATA_DIR/{name}"), excerpt));
        }
    }
    None
}
