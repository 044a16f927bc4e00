//! Seeded text for the serialization graders: words, strings with every character JSON makes awkward,
//! arbitrary JSON values, and a writer that spells one document many valid ways (whitespace, `\u` escapes,
//! `\/`), so a program that only passes its input through, or compares text, gives itself away.

use backlings_grade::Rng;

use crate::ordered_json::Json;

/// Keys no contract knows: sent on input to check they are ignored. `ID` differs from `id` only in case.
pub const UNKNOWN_KEYS: &[&str] = &["_links", "version", "createdBy", "ID", "meta", "Note"];

/// Pieces of awkward strings: quotes, backslashes, controls, slashes, non-ASCII, astral-plane characters,
/// and U+2028 (a line separator JavaScript once refused inside string literals).
const AWKWARD: &[&str] = &[
    "\"", "\\", "/", "\n", "\t", "\r", "\u{1}", "\u{1f}", "\u{7f}", "é", "ß", "日本", "😀",
    "\u{2028}", "<b>", "&amp;", "'", "{}", "[1]", "null", "0",
];

/// Attribute keys: mixed case and non-ASCII, so that sorted means sorted by bytes.
const KEY_STEMS: &[&str] = &[
    "gift",
    "channel",
    "Campaign",
    "utm_source",
    "zone",
    "Zeta",
    "alpha",
    "éclair",
    "b2b",
    "10",
    "9",
    "_debug",
    "ref",
    "region",
    "x-forwarded",
    "Ω",
];

/// How much noise [`write_noisy`] adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Compact, minimal escapes (serde_json's own output).
    None,
    /// Whitespace between tokens, and characters escaped in every legal way.
    Heavy,
}

/// One to four lowercase words separated by spaces.
pub fn plain_words(rng: &mut Rng) -> String {
    let count = rng.range(1, 4);
    (0..count)
        .map(|_| {
            let len = rng.range(2, 8) as usize;
            rng.word(len)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A string mixing words with the characters JSON has to escape or that are easy to mangle.
pub fn awkward_string(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.range(1, 6) {
        if rng.chance(1, 2) {
            out.push_str(rng.pick::<&str>(AWKWARD));
        } else {
            let len = rng.range(1, 6) as usize;
            out.push_str(&rng.word(len));
        }
    }
    out
}

/// An attribute key.
pub fn attribute_key(rng: &mut Rng) -> String {
    let stem = *rng.pick(KEY_STEMS);
    if rng.chance(1, 2) {
        stem.to_string()
    } else {
        format!("{stem}{}", rng.below(10))
    }
}

/// An arbitrary JSON value, nested at most `depth` levels.
pub fn any_json(rng: &mut Rng, depth: u32) -> Json {
    let kinds = if depth == 0 { 4 } else { 6 };
    match rng.below(kinds) {
        0 => Json::Null,
        1 => Json::Bool(rng.chance(1, 2)),
        2 => Json::Number(match rng.below(3) {
            0 => rng.below(1000).to_string(),
            1 => format!("-{}", rng.range(1, 99)),
            _ => format!("{}.{}", rng.below(100), rng.range(1, 9)),
        }),
        3 => Json::String(awkward_string(rng)),
        4 => Json::Array(
            (0..rng.below(3))
                .map(|_| any_json(rng, depth - 1))
                .collect(),
        ),
        _ => Json::Object(
            (0..rng.below(3))
                .map(|i| (format!("{}{i}", rng.word(3)), any_json(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// Writes `json` as valid JSON text to `out`, with the given amount of noise.
pub fn write_noisy(json: &Json, rng: &mut Rng, noise: Noise, out: &mut String) {
    match json {
        Json::Null | Json::Bool(_) | Json::Number(_) => out.push_str(&json.compact()),
        Json::String(s) => write_string(s, rng, noise, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    space(rng, noise, out);
                    out.push(',');
                }
                space(rng, noise, out);
                write_noisy(item, rng, noise, out);
            }
            space(rng, noise, out);
            out.push(']');
        }
        Json::Object(pairs) => {
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    space(rng, noise, out);
                    out.push(',');
                }
                space(rng, noise, out);
                write_string(key, rng, noise, out);
                space(rng, noise, out);
                out.push(':');
                space(rng, noise, out);
                write_noisy(value, rng, noise, out);
            }
            space(rng, noise, out);
            out.push('}');
        }
    }
}

fn space(rng: &mut Rng, noise: Noise, out: &mut String) {
    if noise == Noise::Heavy && rng.chance(1, 3) {
        out.push_str(rng.pick::<&str>(&[" ", "\n", "\t", "\r\n", "  ", " \n  "]));
    }
}

fn write_string(s: &str, rng: &mut Rng, noise: Noise, out: &mut String) {
    if noise == Noise::None {
        out.push_str(&serde_json::to_string(s).expect("a string serializes"));
        return;
    }
    out.push('"');
    for c in s.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        if must || rng.chance(1, 8) {
            match (c, rng.below(2)) {
                ('"', 0) => out.push_str("\\\""),
                ('\\', 0) => out.push_str("\\\\"),
                ('/', 0) => out.push_str("\\/"),
                ('\n', 0) => out.push_str("\\n"),
                ('\t', 0) => out.push_str("\\t"),
                _ => escape_unicode(c, rng, out),
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// `\uXXXX`, as a surrogate pair above the Basic Multilingual Plane, in upper or lower case hex.
fn escape_unicode(c: char, rng: &mut Rng, out: &mut String) {
    let mut units = [0u16; 2];
    let upper = rng.chance(1, 2);
    for unit in c.encode_utf16(&mut units) {
        if upper {
            out.push_str(&format!("\\u{:04X}", unit));
        } else {
            out.push_str(&format!("\\u{:04x}", unit));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // However noisy the text, it parses back to the same document.
    #[test]
    fn noisy_text_is_the_same_document() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let json = any_json(&mut rng, 3);
            let mut text = String::new();
            write_noisy(&json, &mut rng, Noise::Heavy, &mut text);
            assert_eq!(Json::parse(&text).unwrap(), json, "{text}");
            let mut compact = String::new();
            write_noisy(&json, &mut rng, Noise::None, &mut compact);
            assert_eq!(compact, json.compact());
        }
    }
}
