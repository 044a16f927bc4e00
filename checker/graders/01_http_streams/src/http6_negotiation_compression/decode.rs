//! Reading a response of `http6_negotiation_compression` back: undo its content coding, then decode its format
//! into the JSON value of the books it must carry. Each decoder is strict about what the contract fixes and says
//! in words what is wrong.

use std::io::Read;

use quick_xml::events::Event;
use serde_json::{Map, Value};

/// The fields of a book, in the order XML and CSV carry them.
const FIELDS: [&str; 5] = ["id", "title", "author", "year", "price_cents"];
/// The CSV header line.
const CSV_HEADER: &str = "id,title,author,year,price_cents";
/// The most bytes a decompressed body may have (a decompression bomb stops here).
const INFLATED_CAP: u64 = 16 << 20;

/// Undoes the content coding named by `content_encoding` (`None`: identity).
pub fn decompress(content_encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let result = match content_encoding {
        None => return Ok(body.to_vec()),
        Some("gzip") => flate2::read::GzDecoder::new(body)
            .take(INFLATED_CAP)
            .read_to_end(&mut out),
        Some("deflate") => flate2::read::ZlibDecoder::new(body)
            .take(INFLATED_CAP)
            .read_to_end(&mut out),
        Some(other) => {
            return Err(format!(
                "`Content-Encoding: {other}` is not a coding this server may use"
            ));
        }
    };
    result.map(|_| out).map_err(|e| match content_encoding {
        Some("deflate") => format!(
            "the body does not inflate as `deflate` ({e}): in HTTP, `deflate` is the zlib format (RFC 1950: a \
             2-byte header, the deflate data, an Adler-32 checksum), not raw deflate; flate2's ZlibEncoder writes it"
        ),
        _ => format!("the body does not decompress as gzip ({e}): gzip is the RFC 1952 format (flate2's GzEncoder)"),
    })
}

/// Decodes a body in format `index` (of `model::FORMATS`) into JSON: an array of books when `many`, else one.
pub fn decode(index: usize, body: &[u8], many: bool) -> Result<Value, String> {
    match index {
        0 => serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}")),
        1 => xml(body, many),
        2 => msgpack(body, many),
        _ => csv(body, many),
    }
}

fn msgpack(body: &[u8], many: bool) -> Result<Value, String> {
    let value: Value =
        rmp_serde::from_slice(body).map_err(|e| format!("the body is not MessagePack: {e}"))?;
    let books: Vec<&Value> = match (&value, many) {
        (Value::Array(items), true) => items.iter().collect(),
        (_, true) => return Err("a list of books is a MessagePack array".to_string()),
        (one, false) => vec![one],
    };
    if books.iter().any(|book| !book.is_object()) {
        return Err(
            "a book is a MessagePack array: objects must be maps keyed by field name (`rmp_serde::to_vec_named`), \
             or a client in another language cannot tell the fields apart"
                .to_string(),
        );
    }
    Ok(value)
}

fn csv(body: &[u8], many: bool) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the CSV is not UTF-8".to_string())?;
    let records = csv_records(text)?;
    let Some((header, rows)) = records.split_first() else {
        return Err("the CSV is empty".to_string());
    };
    if header.join(",") != CSV_HEADER {
        return Err(format!(
            "the first CSV line must be `{CSV_HEADER}`, got `{}`",
            header.join(",")
        ));
    }
    let mut books = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if row.len() != FIELDS.len() {
            return Err(format!(
                "CSV record {} has {} fields, the header has 5: a field holding `,`, `\"` or a line break must be \
                 quoted, its quotes doubled (RFC 4180); record: {row:?}",
                index + 1,
                row.len()
            ));
        }
        books.push(book_from_texts(row.iter().map(String::as_str))?);
    }
    one_or_many(books, many)
}

/// Splits RFC 4180 text into records of fields. Every record ends in CRLF.
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => {
                return Err(format!(
                    "a `\"` inside an unquoted CSV field ({field:?}…): a field holding quotes must be quoted and its \
                     quotes doubled (RFC 4180)"
                ));
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            '\r' | '\n' => {
                return Err(
                    "a CSV line ends in a bare LF or CR: every line ends in CRLF, and a line break inside a field \
                     needs the field quoted (RFC 4180)"
                        .to_string(),
                );
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("a quoted CSV field is never closed".to_string());
    }
    if !field.is_empty() || !record.is_empty() {
        return Err("the last CSV line does not end in CRLF".to_string());
    }
    Ok(records)
}

fn xml(body: &[u8], many: bool) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut books = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut content = String::new();
    let mut root_seen = false;
    let root = if many { "books" } else { "book" };
    let escaped = "(text must be escaped: `&amp;` for &, `&lt;` for <, `&gt;` for >)";
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "the XML does not parse at byte {}: {e} {escaped}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let expected = match path.len() {
                    0 if !root_seen => root,
                    1 if many => "book",
                    _ if path.last().map(String::as_str) == Some("book") => {
                        FIELDS.get(fields.len()).copied().unwrap_or("</book>")
                    }
                    _ => "(no element here)",
                };
                if name != expected {
                    return Err(format!(
                        "found <{name}> where <{expected}> belongs: the XML is <books><book><id>…</id><title>…</title>\
                         <author>…</author><year>…</year><price_cents>…</price_cents></book>…</books> (one book: the \
                         <book> element alone) {escaped}"
                    ));
                }
                root_seen = true;
                path.push(name);
                content.clear();
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if path.last().map(String::as_str) == Some("book")
                    && FIELDS.get(fields.len()) == Some(&name.as_str())
                {
                    fields.push((name, String::new()));
                } else {
                    return Err(format!("an unexpected empty element <{name}/>"));
                }
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|e| format!("bad XML text: {e}"))?;
                if path.len() == 3 || (path.len() == 2 && !many) {
                    content.push_str(&text);
                } else if !text.trim().is_empty() {
                    return Err(format!(
                        "text {:?} outside the fields of a book",
                        text.trim()
                    ));
                }
            }
            Event::CData(data) => content.push_str(&String::from_utf8_lossy(&data)),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match reference.as_ref() {
                        b"amp" => "&".into(),
                        b"lt" => "<".into(),
                        b"gt" => ">".into(),
                        b"quot" => "\"".into(),
                        b"apos" => "'".into(),
                        other => {
                            return Err(format!(
                                "an unknown entity `&{};` {escaped}",
                                String::from_utf8_lossy(other)
                            ));
                        }
                    },
                };
                content.push_str(&resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if FIELDS.contains(&name.as_str()) {
                    fields.push((name, std::mem::take(&mut content)));
                } else if name == "book" {
                    if fields.len() != FIELDS.len() {
                        return Err(format!(
                            "a <book> has the fields {:?}: it needs all five, in order: {FIELDS:?}",
                            fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                        ));
                    }
                    books.push(book_from_texts(
                        fields
                            .drain(..)
                            .map(|(_, v)| v)
                            .collect::<Vec<_>>()
                            .iter()
                            .map(String::as_str),
                    )?);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !root_seen || !path.is_empty() {
        return Err(format!("the XML has no complete <{root}> element"));
    }
    one_or_many(books, many)
}

/// A book from its five fields as text: numbers must be numbers.
fn book_from_texts<'a>(texts: impl Iterator<Item = &'a str>) -> Result<Value, String> {
    let mut book = Map::new();
    for (field, text) in FIELDS.iter().zip(texts) {
        let value = match *field {
            "title" | "author" => Value::String(text.to_string()),
            _ => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("the field `{field}` is `{text}`, not a whole number"))?,
        };
        book.insert(field.to_string(), value);
    }
    Ok(Value::Object(book))
}

fn one_or_many(mut books: Vec<Value>, many: bool) -> Result<Value, String> {
    if many {
        return Ok(Value::Array(books));
    }
    match books.len() {
        1 => Ok(books.remove(0)),
        n => Err(format!("one book was asked for, the body holds {n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dune() -> Value {
        json!({"id": 9, "title": "Dune, \"1\"\n", "author": "F & <H>", "year": 1965, "price_cents": 999})
    }

    // RFC 4180: quoted fields with doubled quotes and line breaks; a bare LF is refused.
    #[test]
    fn reads_csv() {
        let text =
            "id,title,author,year,price_cents\r\n9,\"Dune, \"\"1\"\"\n\",F & <H>,1965,999\r\n";
        assert_eq!(decode(3, text.as_bytes(), false).unwrap(), dune());
        let bare = "id,title,author,year,price_cents\n";
        assert!(
            decode(3, bare.as_bytes(), true)
                .unwrap_err()
                .contains("RFC 4180")
        );
    }

    // XML with a declaration, entities and whitespace between elements; unescaped text is refused.
    #[test]
    fn reads_xml() {
        let text = "<?xml version=\"1.0\"?>\n<books>\n  <book><id>9</id><title>Dune, \"1\"\n</title>\
                    <author>F &amp; &lt;H&gt;</author><year>1965</year><price_cents>999</price_cents></book>\n</books>";
        assert_eq!(decode(1, text.as_bytes(), true).unwrap(), json!([dune()]));
        let raw = "<book><id>9</id><title>a & b</title></book>";
        assert!(
            decode(1, raw.as_bytes(), false)
                .unwrap_err()
                .contains("escaped")
        );
    }

    // MessagePack books must be maps; positional arrays are refused.
    #[test]
    fn reads_msgpack_maps_only() {
        let named = rmp_serde::to_vec_named(&dune()).unwrap();
        assert_eq!(decode(2, &named, false).unwrap(), dune());
        let positional = rmp_serde::to_vec(&json!([[9, "Dune", "F", 1965, 999]])).unwrap();
        assert!(
            decode(2, &positional, true)
                .unwrap_err()
                .contains("maps keyed by field name")
        );
    }
}
