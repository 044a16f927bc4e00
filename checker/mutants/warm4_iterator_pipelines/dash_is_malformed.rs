//! mutant: counts a line whose bytes field is - as malformed
//! expect: means 0 bytes

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
    let mut parts = line.split('"');
    let (prefix, request, suffix) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let client = prefix.split_whitespace().next()?;
    let target = match request.split_whitespace().collect::<Vec<_>>()[..] {
        [_method, target, _protocol] if target.starts_with('/') => target,
        _ => return None,
    };
    let path = target.split('?').next()?;
    let (status, bytes) = match suffix.split_whitespace().collect::<Vec<_>>()[..] {
        [status, bytes] => (status, bytes),
        _ => return None,
    };
    let status = status
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))?;
    let bytes = match bytes {
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        _ => return None,
    };
    Some(Entry {
        client,
        path,
        status,
        bytes,
    })
}

/// Computes the statistics of `log`, keeping the `top` most requested paths.
pub fn summarize(log: &str, top: usize) -> Summary {
    let mut malformed = 0;
    let entries = log
        .lines()
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let entry = parse_line(line);
            if entry.is_none() {
                malformed += 1;
            }
            entry
        });

    let mut lines = 0;
    let mut status = BTreeMap::new();
    let mut bytes = 0;
    let mut clients = HashSet::new();
    let mut hits: HashMap<&str, u64> = HashMap::new();
    for entry in entries {
        lines += 1;
        *status.entry(entry.status).or_insert(0) += 1;
        bytes += entry.bytes;
        clients.insert(entry.client);
        *hits.entry(entry.path).or_insert(0) += 1;
    }

    let mut ranked: Vec<(&str, u64)> = hits.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top_paths = ranked
        .into_iter()
        .take(top)
        .map(|(path, hits)| PathHits {
            path: path.to_string(),
            hits,
        })
        .collect();

    Summary {
        lines,
        malformed,
        status,
        bytes,
        clients: clients.len() as u64,
        top_paths,
    }
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
