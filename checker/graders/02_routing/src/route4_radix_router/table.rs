//! Seeded route tables that look like a large API (resources, nested resources, `new`/`search` next to `:id`,
//! catch-alls, version prefixes) with resource names that share prefixes byte by byte, and seeded lookups
//! aimed at them: hits, near misses, static words in parameter places, wrong methods, empty segments.

use std::collections::HashSet;

use backlings_grade::Rng;

/// The size of the large table.
pub const LARGE: usize = 5000;
/// The size of the small table of the scaling check.
pub const SMALL: usize = 50;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const STATIC_WORDS: [&str; 4] = ["new", "search", "export", "v2"];

/// A method, mostly GET.
fn method(rng: &mut Rng) -> &'static str {
    if rng.chance(1, 2) {
        "GET"
    } else {
        METHODS[rng.below(METHODS.len() as u64) as usize]
    }
}

/// A pattern's shape: parameter and catch-all names replaced, so duplicates can be told apart.
fn shape(method: &str, pattern: &str) -> String {
    let parts: Vec<&str> = pattern
        .split('/')
        .map(|s| match s.as_bytes().first() {
            Some(b':') => ":",
            Some(b'*') => "*",
            _ => s,
        })
        .collect();
    format!("{method} {}", parts.join("/"))
}

/// `count` routes with distinct shapes: `(method, pattern, name)`.
pub fn routes(rng: &mut Rng, count: usize) -> Vec<(String, String, String)> {
    // Few stems, many suffixes: resources share their first bytes, so the radix tree splits edges a lot.
    let stem_count = (count / 60).clamp(3, 40);
    let stems: Vec<String> = (0..stem_count)
        .map(|_| {
            let len = rng.range(1, 3) as usize;
            rng.word(len)
        })
        .collect();
    let resources: Vec<String> = (0..(count / 8).max(6))
        .map(|_| {
            let stem = rng.pick(&stems).clone();
            let len = rng.range(0, 5) as usize;
            stem + &rng.word(len)
        })
        .collect();
    let subs: Vec<String> = (0..12)
        .map(|_| {
            let len = rng.range(3, 6) as usize;
            rng.word(len)
        })
        .collect();
    let mut seen = HashSet::new();
    let mut routes = Vec::with_capacity(count);
    let mut attempts = 0;
    while routes.len() < count && attempts < count * 50 {
        attempts += 1;
        let r = rng.pick(&resources).clone();
        let s = rng.pick(&subs).clone();
        let pattern = match rng.below(10) {
            0 => format!("/{r}"),
            1 => format!("/{r}/:id"),
            2 => format!("/{r}/:{r}_id/{s}"),
            3 => format!("/{r}/:id/{s}/:{s}_id"),
            4 => format!("/{r}/{}", rng.pick(&STATIC_WORDS)),
            5 => format!("/{r}/:id/{s}/*rest"),
            6 => format!("/v{}/{r}/:id", rng.range(1, 3)),
            7 => format!("/{r}/*path"),
            8 => format!("/{r}/{s}"),
            _ => format!("/{r}/:id/{}", rng.pick(&STATIC_WORDS)),
        };
        let method = method(rng);
        if seen.insert(shape(method, &pattern)) {
            let name = format!("r{:04}", routes.len());
            routes.push((method.to_string(), pattern, name));
        }
    }
    routes
}

/// A value for a parameter: a number, a word, or a word that is also a static segment somewhere.
fn value(rng: &mut Rng, routes: &[(String, String, String)]) -> String {
    match rng.below(6) {
        0 | 1 => rng.range(1, 99_999).to_string(),
        2 => {
            let len = rng.range(2, 8) as usize;
            rng.word(len)
        }
        3 => (*rng.pick(&STATIC_WORDS)).to_string(),
        _ => {
            // A static segment of some route, to make static and parameter routes compete.
            let (_, pattern, _) = rng.pick(routes);
            let statics: Vec<&str> = pattern
                .split('/')
                .filter(|s| !s.is_empty() && !s.starts_with([':', '*']))
                .collect();
            statics
                .first()
                .map_or_else(|| rng.word(4), |s| (*s).to_string())
        }
    }
}

/// `count` seeded lookups: `(method, path)`.
pub fn lookups(
    rng: &mut Rng,
    routes: &[(String, String, String)],
    count: usize,
) -> Vec<(String, String)> {
    let mut lookups = Vec::with_capacity(count);
    for _ in 0..count {
        let (method, pattern, _) = rng.pick(routes).clone();
        let mut parts: Vec<String> = Vec::new();
        for segment in pattern.split('/').skip(1) {
            if segment.starts_with(':') {
                parts.push(value(rng, routes));
            } else if segment.starts_with('*') {
                for _ in 0..rng.range(1, 3) {
                    parts.push(value(rng, routes));
                }
            } else if rng.chance(1, 12) {
                let len = rng.range(1, 6) as usize;
                let prefix_len = segment.len().min(len);
                parts.push(format!("{}{}", &segment[..prefix_len], rng.word(1)));
            } else {
                parts.push(segment.to_string());
            }
        }
        match rng.below(40) {
            0 | 1 => parts.push(value(rng, routes)),
            2 => parts.push(String::new()),
            3 => {
                let at = rng.below(parts.len() as u64) as usize;
                parts.insert(at, String::new());
            }
            4 => {
                parts.pop();
            }
            _ => {}
        }
        let method = if rng.chance(1, 8) {
            (*rng.pick(&METHODS)).to_string()
        } else {
            method
        };
        lookups.push((method, format!("/{}", parts.join("/"))));
    }
    lookups
}
