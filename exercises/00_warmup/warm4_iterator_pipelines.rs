//! # Warm-up 4: iterator pipelines — access-log statistics
//!
//! Every web server writes an access log, one line per request, in the Common Log Format that Apache made
//! a standard and nginx still writes by default:
//!
//! ```text
//! 203.0.113.9 - alice [10/Oct/2024:13:55:36 +0000] "GET /api/users?page=2 HTTP/1.1" 200 2326
//! ```
//!
//! (client, identity, user, time, the quoted request line, status, response bytes). When a page is slow or a
//! deploy goes wrong, the first question is "what happened in the last hour?": how many requests, which
//! status codes, which paths are hot, how many distinct clients. This exercise answers it with iterator
//! pipelines: `lines()` → `filter_map(parse)` → `fold` into counters → sort → `take(k)`.
//!
//! Iterators are lazy: nothing runs until something consumes them, and a chain of adaptors compiles to one
//! loop with no intermediate `Vec`s. A parser that returns `&str` slices *borrowed from the line* allocates
//! nothing per line; only the keys you keep (paths, client addresses) need owned `String`s.
//!
//! ## Why it matters in production
//!
//! Logs are big (millions of lines an hour) and dirty: truncated lines, garbage from scanners, `-` where a
//! number should be. A stats job must be fast, must never crash on a bad line (count it instead), and must
//! be *deterministic*: two runs on the same log give the same report, so ties need a stated order —
//! `HashMap` iteration order changes from one run to the next.
//!
//! ## Pitfalls
//!
//! - The query string is not part of the path: `/search?q=a` and `/search?q=b` are the same endpoint.
//! - `-` in the bytes field means "no body": it is 0 bytes, not a malformed line.
//! - Sorting by count alone leaves ties in whatever order the map produced.
//! - Collecting every line into a `Vec<String>` first doubles the memory for nothing.
//!
//! Roadmap: language mastery (iterators, closures, borrowing, collections).
//!
//! ## The contract (what the grader checks)
//!
//! Each stdin line is `{"log":"<lines separated by \n>","top":K}`. Empty lines are ignored. A line is
//! *well-formed* when:
//!
//! - splitting it on `"` gives exactly three parts: a prefix, the request line and a suffix;
//! - the prefix has at least one whitespace-separated field: the first is the *client*;
//! - the request line is exactly three whitespace-separated fields (method, target, protocol) and the target
//!   starts with `/`; the *path* is the target up to (not including) the first `?`;
//! - the suffix is exactly two whitespace-separated fields: the *status*, three digits from 100 to 599, and
//!   the *bytes*, either `-` (0 bytes) or digits that fit a `u64`.
//!
//! Every other non-empty line is *malformed*. The reply:
//! `{"lines":N,"malformed":M,"status":{"200":n,...},"bytes":B,"clients":C,"top_paths":[{"path":P,"hits":H},...]}`
//! — `lines` counts well-formed lines; `status` counts them per status code; `bytes` is the sum of their bytes;
//! `clients` is the number of distinct clients; `top_paths` lists the `K` paths with the most hits, by hits
//! descending, ties by path ascending (byte order), fewer if there are fewer paths. 100 000 lines are answered
//! well within the grader's time limit.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// The fields of one well-formed line, borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub client: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes: u64,
}

/// Hits of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathHits {
    pub path: String,
    pub hits: u64,
}

/// The statistics of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub lines: u64,
    pub malformed: u64,
    pub status: BTreeMap<u16, u64>,
    pub bytes: u64,
    pub clients: u64,
    pub top_paths: Vec<PathHits>,
}

/// Parses one line, or `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<Entry<'_>> {
    // TODO: apply the contract's definition of a well-formed line and return its client, path (without the
    // query string), status and bytes; return None for anything else. Never panic.
    todo!()
}

/// Computes the statistics of `log`, keeping the `top` most requested paths.
pub fn summarize(log: &str, top: usize) -> Summary {
    // TODO: run every non-empty line through parse_line, count the malformed ones, and fold the well-formed
    // ones into the summary's counters; then rank the paths (hits descending, ties by path ascending) and keep
    // the first `top`.
    todo!()
}

// ---------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line (except to add tests).
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Request {
    log: String,
    top: usize,
}

fn main() {
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        summarize(&request.log, request.top)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET /api/users?page=2 HTTP/1.1\" 200 512
10.0.0.2 - bob [10/Oct/2024:13:55:37 +0000] \"POST /api/orders HTTP/1.1\" 201 -
10.0.0.1 - - [10/Oct/2024:13:55:38 +0000] \"GET /api/users HTTP/1.1\" 404 20
garbage line from a scanner
10.0.0.3 - - [10/Oct/2024:13:55:39 +0000] \"GET /api/orders HTTP/1.1\" 500 7
";

    // A well-formed line yields borrowed fields; the query string is cut off and `-` bytes are 0.
    #[test]
    fn parses_a_line() {
        let line = "10.0.0.2 - bob [10/Oct/2024:13:55:37 +0000] \"GET /a/b?x=1 HTTP/1.1\" 304 -";
        let entry = Entry {
            client: "10.0.0.2",
            path: "/a/b",
            status: 304,
            bytes: 0,
        };
        assert_eq!(parse_line(line), Some(entry));
    }

    // Broken lines are None, never a panic.
    #[test]
    fn refuses_malformed_lines() {
        for line in [
            "",
            "no quotes at all 200 5",
            "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200",
            "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 5 extra",
            "1.2.3.4 - - [t] \"GET HTTP/1.1\" 200 5",
            "1.2.3.4 - - [t] \"GET nope HTTP/1.1\" 200 5",
            "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 2000 5",
            "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 -5",
            "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 099 5",
            "1.2.3.4 - - [t] \"GET / \"HTTP/1.1\" 200 5",
            " \"GET / HTTP/1.1\" 200 5",
        ] {
            assert_eq!(parse_line(line), None, "{line:?} was accepted");
        }
    }

    // The whole summary of a small log, with exact counts.
    #[test]
    fn summarizes_a_log() {
        let summary = summarize(LOG, 10);
        assert_eq!(
            (
                summary.lines,
                summary.malformed,
                summary.bytes,
                summary.clients
            ),
            (4, 1, 539, 3)
        );
        assert_eq!(
            summary.status,
            BTreeMap::from([(200, 1), (201, 1), (404, 1), (500, 1)])
        );
        let top: Vec<(&str, u64)> = summary
            .top_paths
            .iter()
            .map(|p| (p.path.as_str(), p.hits))
            .collect();
        assert_eq!(top, vec![("/api/orders", 2), ("/api/users", 2)]);
    }

    // Ties in hits are ordered by path, and `top` cuts the list.
    #[test]
    fn ties_break_by_path() {
        let log = ["/c", "/b", "/a", "/b", "/c", "/d"]
            .iter()
            .map(|p| format!("1.1.1.1 - - [t] \"GET {p} HTTP/1.1\" 200 1"))
            .collect::<Vec<_>>()
            .join("\n");
        let top: Vec<String> = summarize(&log, 3)
            .top_paths
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(top, vec!["/b", "/c", "/a"]);
    }
}
