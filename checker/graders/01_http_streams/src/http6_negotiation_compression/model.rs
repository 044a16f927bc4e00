//! The contract of `http6_negotiation_compression` as the grader computes it: the catalogue, and which format
//! and which content coding a request must get, with the reasons in words for a report.

use backlings_grade::Rng;
use serde_json::{Value, json};

/// The four formats in the server's order of preference: the media type `Accept` is matched against, and the
/// exact `Content-Type` of a response.
pub const FORMATS: [(&str, &str); 4] = [
    ("application/json", "application/json"),
    ("application/xml", "application/xml"),
    ("application/msgpack", "application/msgpack"),
    ("text/csv", "text/csv; charset=utf-8"),
];
/// The content codings in the server's order of preference.
pub const CODINGS: [&str; 3] = ["gzip", "deflate", "identity"];
/// Bodies shorter than this go uncompressed whenever identity is acceptable.
pub const MIN_COMPRESS: usize = 256;

/// One book, as the grader keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: u32,
    pub title: String,
    pub author: String,
    pub year: i32,
    pub price_cents: u32,
}

impl Book {
    /// The book as the JSON object every format must decode to.
    pub fn value(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "year": self.year,
            "price_cents": self.price_cents,
        })
    }

    /// Whether every encoding of this book alone is far below [`MIN_COMPRESS`] bytes.
    pub fn is_small(&self) -> bool {
        self.title.len() + self.author.len() <= 32
    }
}

/// The exercise's provided catalogue.
pub fn catalogue() -> Vec<Book> {
    let books = [
        (
            "Gödel, Escher, Bach: an Eternal Golden Braid",
            "Douglas R. Hofstadter",
            1979,
            2499,
        ),
        (
            "\"Surely You're Joking, Mr. Feynman!\"",
            "Richard P. Feynman",
            1985,
            1699,
        ),
        (
            "Structure & Interpretation of Computer Programs",
            "Abelson & Sussman",
            1985,
            5500,
        ),
        (
            "The C Programming Language",
            "Kernighan, Ritchie",
            1978,
            4200,
        ),
        ("Les Misérables", "Victor Hugo", 1862, 1200),
        ("1 < 2 && 3 > 2: a <b>bold</b> book", "Anonymous", 2024, 0),
        (
            "Release It!\nSecond Edition",
            "Michael T. Nygard",
            2018,
            3499,
        ),
        (
            "Designing Data-Intensive Applications",
            "Martin Kleppmann",
            2017,
            3999,
        ),
        ("Dune", "Frank Herbert", 1965, 999),
    ];
    books
        .into_iter()
        .zip(1..)
        .map(|((title, author, year, price_cents), id)| Book {
            id,
            title: title.to_string(),
            author: author.to_string(),
            year,
            price_cents,
        })
        .collect()
}

/// A seeded short title or name with one character that some format must escape or quote.
pub fn tricky_text(rng: &mut Rng) -> String {
    const SPICE: [&str; 9] = [", ", "\"", " & ", " < ", " > ", "'", "é", "\n", "—"];
    let first_len = rng.range(2, 7) as usize;
    let second_len = rng.range(2, 7) as usize;
    let mut first = rng.word(first_len);
    if let Some(c) = first.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    format!("{first}{}{}", rng.pick(&SPICE), rng.word(second_len))
}

/// How a header element was spelled: the range or coding (lowercase) and its weight in thousandths.
struct Element {
    name: String,
    q: u16,
    text: String,
}

/// `q` as written in a contract: thousandths to `0.5`.
pub fn shown(q: u16) -> String {
    match q {
        1000 => "1".to_string(),
        0 => "0".to_string(),
        q => format!("0.{:03}", q).trim_end_matches('0').to_string(),
    }
}

fn qvalue(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let (first, rest) = bytes.split_first()?;
    let decimals = match rest {
        [] => &[][..],
        [b'.', decimals @ ..] if decimals.len() <= 3 => decimals,
        _ => return None,
    };
    if !decimals.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for position in 0..3 {
        let digit = decimals.get(position).map_or(0, |d| u16::from(d - b'0'));
        thousandths = thousandths * 10 + digit;
    }
    match first {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn elements(header: &str) -> Vec<Element> {
    header
        .split(',')
        .filter_map(|element| {
            let mut parts = element.split(';');
            let name = parts.next()?.trim().to_ascii_lowercase();
            if name.is_empty() {
                return None;
            }
            let mut q = 1000;
            for parameter in parts {
                if let Some((key, value)) = parameter.trim().split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    q = qvalue(value.trim())?;
                }
            }
            Some(Element {
                name,
                q,
                text: element.trim().to_string(),
            })
        })
        .collect()
}

/// The outcome of a negotiation: the index chosen (in [`FORMATS`] or [`CODINGS`]), or none (406), and why.
#[derive(Debug, Clone)]
pub struct Choice {
    pub chosen: Option<usize>,
    pub why: String,
}

/// Which format `accept` (absent: `None`) must get, and the weight of each format.
pub fn choose_format(accept: Option<&str>) -> Choice {
    let ranges = elements(accept.unwrap_or("*/*"));
    let mut reasons = Vec::new();
    let mut chosen: Option<(usize, u16)> = None;
    for (index, (media_type, _)) in FORMATS.iter().enumerate() {
        let (kind, _) = media_type.split_once('/').unwrap_or_default();
        let mut best: Option<(u8, u16, &str)> = None;
        for range in &ranges {
            let specificity = match range.name.split_once('/') {
                _ if range.name == *media_type => 3,
                Some((k, "*")) if k == kind => 2,
                Some(("*", "*")) => 1,
                _ => continue,
            };
            if best.is_none_or(|(s, q, _)| (specificity, range.q) > (s, q)) {
                best = Some((specificity, range.q, &range.text));
            }
        }
        let q = best.map_or(0, |(_, q, _)| q);
        reasons.push(match best {
            None => format!("{media_type} 0 (no range matches)"),
            Some((_, 0, text)) => {
                format!("{media_type} 0 from `{text}` (q=0 means not acceptable)")
            }
            Some((_, q, text)) => format!("{media_type} {} from `{text}`", shown(q)),
        });
        if q > 0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((index, q));
        }
    }
    let verdict = match chosen {
        Some((index, _)) => format!(
            "→ {} (the highest weight; ties go to JSON, XML, MessagePack, CSV)",
            FORMATS[index].0
        ),
        None => "→ none is acceptable: 406".to_string(),
    };
    Choice {
        chosen: chosen.map(|(index, _)| index),
        why: format!(
            "the weight of each format, from its most specific matching range: {}; {verdict}",
            reasons.join(", ")
        ),
    }
}

/// Which coding `accept_encoding` (absent: `None`) must get for a body of `body_len` bytes, and why.
pub fn choose_coding(accept_encoding: Option<&str>, body_len: usize) -> Choice {
    let entries = elements(accept_encoding.unwrap_or(""));
    let star = entries.iter().filter(|e| e.name == "*").max_by_key(|e| e.q);
    let mut weights = [0u16; 3];
    let mut reasons = Vec::new();
    for (index, coding) in CODINGS.iter().enumerate() {
        let own = entries
            .iter()
            .filter(|e| e.name == *coding)
            .max_by_key(|e| e.q);
        let (q, reason) = match (own, star) {
            (Some(entry), _) => (
                entry.q,
                format!("{coding} {} from `{}`", shown(entry.q), entry.text),
            ),
            (None, Some(star)) => (
                star.q,
                format!("{coding} {} from `{}`", shown(star.q), star.text),
            ),
            (None, None) if *coding == "identity" => (
                1,
                "identity 0.001 (not listed: acceptable, as a last resort)".to_string(),
            ),
            (None, None) => (0, format!("{coding} 0 (not listed)")),
        };
        weights[index] = q;
        reasons.push(if q == 0 && reason.contains("from") {
            format!("{reason} (q=0 means not acceptable)")
        } else {
            reason
        });
    }
    let reasons = reasons.join(", ");
    if body_len < MIN_COMPRESS && weights[2] > 0 {
        return Choice {
            chosen: Some(2),
            why: format!(
                "the body is {body_len} bytes, under 256 bytes, and identity is acceptable ({reasons}): it is sent \
                 uncompressed"
            ),
        };
    }
    let mut chosen: Option<(usize, u16)> = None;
    for (index, &q) in weights.iter().enumerate() {
        if q > 0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((index, q));
        }
    }
    let verdict = match chosen {
        Some((index, _)) => format!(
            "→ {} (the highest weight; ties go to gzip, deflate, identity)",
            CODINGS[index]
        ),
        None => "→ none is acceptable: 406".to_string(),
    };
    Choice {
        chosen: chosen.map(|(index, _)| index),
        why: format!("the weight of each coding: {reasons}; {verdict}"),
    }
}

/// A seeded `Accept` header: a few ranges in mixed case and spacing, with weights, now and then an extra
/// parameter or an invalid weight.
pub fn random_accept(rng: &mut Rng) -> String {
    const RANGES: [&str; 11] = [
        "application/json",
        "application/xml",
        "application/msgpack",
        "text/csv",
        "application/*",
        "text/*",
        "*/*",
        "text/html",
        "image/png",
        "application/yaml",
        "text/xml",
    ];
    let count = rng.range(1, 4);
    let parts: Vec<String> = (0..count)
        .map(|_| {
            let range = *rng.pick(&RANGES);
            let range = if rng.chance(1, 5) {
                range.to_ascii_uppercase()
            } else {
                range.to_string()
            };
            format!("{range}{}", random_parameters(rng))
        })
        .collect();
    parts.join(if rng.chance(1, 2) { ", " } else { "," })
}

/// A seeded `Accept-Encoding` header.
pub fn random_accept_encoding(rng: &mut Rng) -> String {
    const CODES: [&str; 7] = ["gzip", "deflate", "identity", "*", "br", "zstd", "compress"];
    let count = rng.range(1, 4);
    let parts: Vec<String> = (0..count)
        .map(|_| {
            let code = *rng.pick(&CODES);
            let code = if rng.chance(1, 6) {
                code.to_ascii_uppercase()
            } else {
                code.to_string()
            };
            format!("{code}{}", random_parameters(rng))
        })
        .collect();
    parts.join(if rng.chance(1, 2) { ", " } else { "," })
}

fn random_parameters(rng: &mut Rng) -> String {
    const WEIGHTS: [&str; 14] = [
        "1", "0.9", "0.5", "0.25", "0.125", "0.1", "0", "0.001", "1.0", "0.80", "0.5", "2",
        "0.1234", "high",
    ];
    let mut parameters = String::new();
    if rng.chance(1, 8) {
        parameters.push_str(";charset=utf-8");
    }
    if rng.chance(3, 4) {
        let name = if rng.chance(1, 6) { "Q" } else { "q" };
        let space = if rng.chance(1, 4) { " " } else { "" };
        parameters.push_str(&format!(";{space}{name}={}", rng.pick(&WEIGHTS)));
    }
    parameters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(accept: Option<&str>) -> Option<&'static str> {
        choose_format(accept).chosen.map(|index| FORMATS[index].0)
    }

    fn coding(accept_encoding: Option<&str>, len: usize) -> Option<&'static str> {
        choose_coding(accept_encoding, len)
            .chosen
            .map(|index| CODINGS[index])
    }

    // The contract's examples for Accept.
    #[test]
    fn formats_follow_the_contract() {
        assert_eq!(format(None), Some("application/json"));
        assert_eq!(
            format(Some("application/xml;q=0.9, text/csv")),
            Some("text/csv")
        );
        assert_eq!(
            format(Some("*/*, application/json;q=0")),
            Some("application/xml")
        );
        assert_eq!(
            format(Some("application/*;q=0.2, */*;q=0.9")),
            Some("text/csv")
        );
        assert_eq!(
            format(Some("application/msgpack;q=0.5, application/xml;q=0.5")),
            Some("application/xml")
        );
        assert_eq!(
            format(Some("text/csv;q=2, application/msgpack;q=0.1")),
            Some("application/msgpack")
        );
        assert_eq!(
            format(Some("TEXT/CSV;Q=0.7, application/XML; q=0.3")),
            Some("text/csv")
        );
        assert_eq!(format(Some("text/html")), None);
        assert_eq!(format(Some("application/json;q=0")), None);
    }

    // The contract's examples for Accept-Encoding, the small-body rule included.
    #[test]
    fn codings_follow_the_contract() {
        assert_eq!(coding(None, 5000), Some("identity"));
        assert_eq!(coding(Some(""), 5000), Some("identity"));
        assert_eq!(coding(Some("gzip;q=0.5"), 5000), Some("gzip"));
        assert_eq!(coding(Some("gzip;q=0.5, identity"), 5000), Some("identity"));
        assert_eq!(coding(Some("*;q=0.2, gzip;q=0.1"), 5000), Some("deflate"));
        assert_eq!(coding(Some("gzip"), 100), Some("identity"));
        assert_eq!(coding(Some("deflate, identity;q=0"), 100), Some("deflate"));
        assert_eq!(coding(Some("identity;q=0"), 5000), None);
        assert_eq!(coding(Some("*;q=0"), 100), None);
    }

    // qvalues: at most three decimals, never above 1.
    #[test]
    fn qvalues_are_strict() {
        assert_eq!(qvalue("0.125"), Some(125));
        assert_eq!(qvalue("1.000"), Some(1000));
        assert_eq!(qvalue("1."), Some(1000));
        for bad in ["2", "1.5", "0.1234", "high", "", ".5", "-0"] {
            assert_eq!(qvalue(bad), None, "{bad:?}");
        }
        assert_eq!(shown(500), "0.5");
        assert_eq!(shown(125), "0.125");
    }
}
