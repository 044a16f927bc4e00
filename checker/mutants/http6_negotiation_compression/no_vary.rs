//! mutant: sets Content-Type and Content-Encoding but forgets Vary
//! expect: Vary

use std::io::Write;
use std::sync::Mutex;

use backlings_harness::http::{Request, Response, serve};
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde::{Deserialize, Serialize};

/// Bodies shorter than this are sent uncompressed whenever identity is acceptable.
pub const MIN_COMPRESS: usize = 256;
/// The value of every `Vary` header of `/books`.
pub const VARY: &str = "Accept, Accept-Encoding";

/// The representations this server can produce, in its order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    MessagePack,
    Csv,
}

impl Format {
    /// Every format, in the server's order of preference (the tie-break).
    pub const ALL: [Format; 4] = [Format::Json, Format::Xml, Format::MessagePack, Format::Csv];

    /// The media type `Accept` ranges are matched against.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
            Format::MessagePack => "application/msgpack",
            Format::Csv => "text/csv",
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            other => other.media_type(),
        }
    }
}

/// The content codings this server can apply, in its order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Identity,
}

impl Coding {
    /// Every coding, in the server's order of preference (the tie-break).
    pub const ALL: [Coding; 3] = [Coding::Gzip, Coding::Deflate, Coding::Identity];

    /// The coding's name in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Identity => "identity",
        }
    }
}

/// Parses a qvalue (`0`, `0.5`, `0.125`, `1`, `1.000`) into thousandths: `Some(500)` for `0.5`. `None` if it
/// is not a valid qvalue.
pub fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Splits a header value into its comma-separated elements, each as its first part and its `q` (in
/// thousandths; 1000 when absent). Elements with an invalid `q` are left out.
fn weighted(header: &str) -> Vec<(String, u16)> {
    let mut elements = Vec::new();
    for element in header.split(',') {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for parameter in parts {
            if let Some((key, value)) = parameter.trim().split_once('=')
                && key.trim().eq_ignore_ascii_case("q")
            {
                q = parse_qvalue(value.trim());
            }
        }
        if let Some(q) = q {
            elements.push((name, q));
        }
    }
    elements
}

/// The weight `accept` gives `media_type`: the `q` of the most specific matching range (highest `q` among
/// equally specific ones), 0 if none matches.
fn weight_of(ranges: &[(String, u16)], media_type: &str) -> u16 {
    let (kind, _) = media_type.split_once('/').unwrap_or((media_type, ""));
    let mut best: Option<(u8, u16)> = None;
    for (range, q) in ranges {
        let Some((range_kind, range_sub)) = range.split_once('/') else {
            continue;
        };
        let specificity = if range == media_type {
            3
        } else if range_kind == kind && range_sub == "*" {
            2
        } else if range_kind == "*" && range_sub == "*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|known| (specificity, *q) > known) {
            best = Some((specificity, *q));
        }
    }
    best.map_or(0, |(_, q)| q)
}

/// Picks the representation for an `Accept` header (`None`: the header is absent), or `None` when no format is
/// acceptable.
pub fn negotiate_format(accept: Option<&str>) -> Option<Format> {
    let ranges = weighted(accept.unwrap_or("*/*"));
    let mut chosen: Option<(Format, u16)> = None;
    for format in Format::ALL {
        let q = weight_of(&ranges, format.media_type());
        if q > 0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((format, q));
        }
    }
    chosen.map(|(format, _)| format)
}

/// Picks the content coding for an `Accept-Encoding` header and a body of `body_len` bytes, or `None` when no
/// coding is acceptable.
pub fn negotiate_coding(accept_encoding: Option<&str>, body_len: usize) -> Option<Coding> {
    let entries = weighted(accept_encoding.unwrap_or(""));
    let star = entries
        .iter()
        .filter(|(name, _)| name == "*")
        .map(|(_, q)| *q)
        .max();
    let weight = |coding: Coding| {
        let own = entries
            .iter()
            .filter(|(name, _)| name == coding.token())
            .map(|(_, q)| *q)
            .max();
        match (own, coding) {
            (Some(q), _) => q,
            // Unlisted, identity is still acceptable, as the last resort.
            (None, Coding::Identity) => star.unwrap_or(1),
            (None, _) => star.unwrap_or(0),
        }
    };
    if body_len < MIN_COMPRESS && weight(Coding::Identity) > 0 {
        return Some(Coding::Identity);
    }
    let mut chosen: Option<(Coding, u16)> = None;
    for coding in Coding::ALL {
        let q = weight(coding);
        if q > 0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((coding, q));
        }
    }
    chosen.map(|(coding, _)| coding)
}

/// What a response carries: one book or a list.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    One(&'a Book),
    Many(&'a [Book]),
}

/// Encodes `payload` in `format` (see the table in the header of this file).
pub fn encode(format: Format, payload: Payload<'_>) -> Vec<u8> {
    let books: &[Book] = match payload {
        Payload::One(book) => std::slice::from_ref(book),
        Payload::Many(books) => books,
    };
    match (format, payload) {
        (Format::Json, Payload::One(book)) => serde_json::to_vec(book).unwrap_or_default(),
        (Format::Json, Payload::Many(books)) => serde_json::to_vec(books).unwrap_or_default(),
        (Format::MessagePack, Payload::One(book)) => {
            rmp_serde::to_vec_named(book).unwrap_or_default()
        }
        (Format::MessagePack, Payload::Many(books)) => {
            rmp_serde::to_vec_named(books).unwrap_or_default()
        }
        (Format::Xml, payload) => {
            let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
            let many = matches!(payload, Payload::Many(_));
            if many {
                xml.push_str("<books>");
            }
            for book in books {
                xml.push_str(&format!(
                    "<book><id>{}</id><title>{}</title><author>{}</author><year>{}</year>\
                     <price_cents>{}</price_cents></book>",
                    book.id,
                    quick_xml::escape::escape(book.title.as_str()),
                    quick_xml::escape::escape(book.author.as_str()),
                    book.year,
                    book.price_cents
                ));
            }
            if many {
                xml.push_str("</books>");
            }
            xml.into_bytes()
        }
        (Format::Csv, _) => {
            let mut csv = String::from("id,title,author,year,price_cents\r\n");
            for book in books {
                csv.push_str(&format!(
                    "{},{},{},{},{}\r\n",
                    book.id,
                    csv_field(&book.title),
                    csv_field(&book.author),
                    book.year,
                    book.price_cents
                ));
            }
            csv.into_bytes()
        }
    }
}

/// One CSV field: quoted, with its quotes doubled, when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Applies `coding` to `body`.
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    let compressed = match coding {
        Coding::Identity => return body.to_vec(),
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(body).and_then(|()| encoder.finish())
        }
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(body).and_then(|()| encoder.finish())
        }
    };
    // Writing into a Vec cannot fail.
    compressed.unwrap_or_default()
}

/// The format of a request body from its `Content-Type` (`None`: absent or not one this server reads).
pub fn request_format(content_type: Option<&str>) -> Option<Format> {
    let media_type = content_type?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Some(Format::Json),
        "application/msgpack" => Some(Format::MessagePack),
        _ => None,
    }
}

/// The negotiated response to `request` carrying `payload` with `status`: format and coding chosen, body
/// encoded and compressed, `Content-Type`, `Content-Encoding` (not for identity) and `Vary` set; the
/// [`not_acceptable`] answer when no format or no coding is acceptable.
pub fn represent(request: &Request, status: u16, payload: Payload<'_>) -> Response {
    let Some(format) = negotiate_format(request.header("accept")) else {
        return not_acceptable();
    };
    let body = encode(format, payload);
    let Some(coding) = negotiate_coding(request.header("accept-encoding"), body.len()) else {
        return not_acceptable();
    };
    let mut response = Response::new(status).with_header("Content-Type", format.content_type());
    if coding != Coding::Identity {
        response = response.with_header("Content-Encoding", coding.token());
    }
    response.with_body(compress(coding, &body))
}

// ---------------------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below this line.
// ---------------------------------------------------------------------------------------------------------------

/// One book of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    pub id: u32,
    pub title: String,
    pub author: String,
    pub year: i32,
    pub price_cents: u32,
}

/// The body of `POST /books`: a book without its id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewBook {
    pub title: String,
    pub author: String,
    pub year: i32,
    pub price_cents: u32,
}

/// The books the server starts with. Their titles are chosen to trip every format.
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

/// The answer when no representation is acceptable: 406, `Vary`, and the list of what is available.
pub fn not_acceptable() -> Response {
    let available: Vec<&str> = Format::ALL.iter().map(|f| f.media_type()).collect();
    Response::text(
        406,
        format!(
            "406 Not Acceptable: /books is available as {}, coded as gzip, deflate or identity\n",
            available.join(", ")
        ),
    )
    .with_header("Vary", VARY)
}

/// Decodes a `POST /books` body in `format` (JSON or MessagePack).
pub fn decode_new_book(format: Format, body: &[u8]) -> Result<NewBook, String> {
    match format {
        Format::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        Format::MessagePack => rmp_serde::from_slice(body).map_err(|e| e.to_string()),
        other => Err(format!("{} bodies are not read", other.media_type())),
    }
}

/// The request handler: routes, status codes, the store.
fn handle(store: &Mutex<Vec<Book>>, request: &Request) -> Response {
    let path = request.path();
    let method = request.method.as_str();
    if path == "/books" {
        return match method {
            "GET" => {
                let books = store.lock().unwrap_or_else(|e| e.into_inner());
                represent(request, 200, Payload::Many(&books))
            }
            "POST" => create(store, request),
            _ => Response::text(405, "405 Method Not Allowed\n").with_header("Allow", "GET, POST"),
        };
    }
    let Some(id) = path.strip_prefix("/books/") else {
        return Response::text(404, "404 Not Found\n");
    };
    if method != "GET" {
        return Response::text(405, "405 Method Not Allowed\n").with_header("Allow", "GET");
    }
    let books = store.lock().unwrap_or_else(|e| e.into_inner());
    match id
        .parse::<u32>()
        .ok()
        .and_then(|id| books.iter().find(|book| book.id == id))
    {
        Some(book) => represent(request, 200, Payload::One(book)),
        None => Response::text(404, "404 Not Found\n"),
    }
}

/// `POST /books`: 415, 406, 400 or 201.
fn create(store: &Mutex<Vec<Book>>, request: &Request) -> Response {
    let Some(format) = request_format(request.header("content-type")) else {
        return Response::text(
            415,
            "415 Unsupported Media Type: send application/json or application/msgpack\n",
        )
        .with_header("Accept-Post", "application/json, application/msgpack");
    };
    if negotiate_format(request.header("accept")).is_none()
        || negotiate_coding(request.header("accept-encoding"), usize::MAX).is_none()
    {
        return not_acceptable();
    }
    let new = match decode_new_book(format, &request.body) {
        Ok(new) => new,
        Err(why) => return Response::text(400, format!("400 Bad Request: {why}\n")),
    };
    let mut books = store.lock().unwrap_or_else(|e| e.into_inner());
    let id = books.iter().map(|book| book.id).max().unwrap_or(0) + 1;
    books.push(Book {
        id,
        title: new.title,
        author: new.author,
        year: new.year,
        price_cents: new.price_cents,
    });
    let book = books.last().cloned().expect("just pushed");
    drop(books);
    represent(request, 201, Payload::One(&book)).with_header("Location", format!("/books/{id}"))
}

/// Provided: you do not need to change this. Serves the catalogue until the process ends.
fn main() -> std::io::Result<()> {
    let store = Mutex::new(catalogue());
    serve(move |request| handle(&store, request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: "/books".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    // qvalues: 0 to 1, at most three decimals, nothing else.
    #[test]
    fn parses_qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        for bad in ["2", "1.5", "0.1234", "-0.5", "high", "", ".5", "1.001"] {
            assert_eq!(parse_qvalue(bad), None, "{bad:?}");
        }
    }

    // The highest weight wins, the most specific range decides a weight, q=0 refuses, ties follow preference.
    #[test]
    fn negotiates_the_format() {
        use Format::*;
        assert_eq!(negotiate_format(None), Some(Json));
        assert_eq!(negotiate_format(Some("text/csv")), Some(Csv));
        assert_eq!(
            negotiate_format(Some("application/xml;q=0.9, text/csv")),
            Some(Csv)
        );
        assert_eq!(
            negotiate_format(Some("*/*, application/json;q=0")),
            Some(Xml)
        );
        assert_eq!(
            negotiate_format(Some("application/*;q=0.2, */*;q=0.9")),
            Some(Csv)
        );
        assert_eq!(
            negotiate_format(Some("application/msgpack;Q=0.5, application/xml;q=0.5")),
            Some(Xml)
        );
        assert_eq!(
            negotiate_format(Some("text/csv;q=2, application/msgpack;q=0.1")),
            Some(MessagePack)
        );
        assert_eq!(negotiate_format(Some("text/html")), None);
        assert_eq!(negotiate_format(Some("application/json;q=0")), None);
    }

    // identity is acceptable unless excluded; small bodies stay uncompressed; ties go to gzip.
    #[test]
    fn negotiates_the_coding() {
        use Coding::*;
        assert_eq!(negotiate_coding(None, 5000), Some(Identity));
        assert_eq!(negotiate_coding(Some("gzip, deflate"), 5000), Some(Gzip));
        assert_eq!(
            negotiate_coding(Some("gzip;q=0.5, deflate"), 5000),
            Some(Deflate)
        );
        assert_eq!(negotiate_coding(Some("gzip;q=0.5"), 5000), Some(Gzip));
        assert_eq!(
            negotiate_coding(Some("gzip;q=0.5, identity"), 5000),
            Some(Identity)
        );
        assert_eq!(negotiate_coding(Some("gzip"), 100), Some(Identity));
        assert_eq!(
            negotiate_coding(Some("gzip, identity;q=0"), 100),
            Some(Gzip)
        );
        assert_eq!(negotiate_coding(Some("*"), 5000), Some(Gzip));
        assert_eq!(
            negotiate_coding(Some("gzip;q=0, *;q=0.3"), 5000),
            Some(Deflate)
        );
        assert_eq!(negotiate_coding(Some("identity;q=0"), 5000), None);
        assert_eq!(negotiate_coding(Some("*;q=0"), 5000), None);
    }

    // CSV quotes what needs quoting; XML escapes; MessagePack writes maps.
    #[test]
    fn encodes_every_format() {
        let books = catalogue();
        let csv = String::from_utf8(encode(Format::Csv, Payload::One(&books[1]))).unwrap();
        assert_eq!(
            csv,
            "id,title,author,year,price_cents\r\n2,\"\"\"Surely You're Joking, Mr. Feynman!\"\"\",Richard P. Feynman,1985,1699\r\n"
        );
        let xml = String::from_utf8(encode(Format::Xml, Payload::One(&books[2]))).unwrap();
        assert!(xml.contains("<title>Structure &amp; Interpretation of Computer Programs</title>"));
        let packed = encode(Format::MessagePack, Payload::One(&books[4]));
        let value: serde_json::Value = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(value["title"], "Les Misérables");
        let json: serde_json::Value =
            serde_json::from_slice(&encode(Format::Json, Payload::Many(&books))).unwrap();
        assert_eq!(json[8]["title"], "Dune");
    }

    // gzip and deflate (zlib) decompress back to the body.
    #[test]
    fn compresses_with_gzip_and_zlib() {
        let body = b"hello hello hello hello".repeat(20);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&compress(Coding::Gzip, &body)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        out.clear();
        flate2::read::ZlibDecoder::new(&compress(Coding::Deflate, &body)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        assert_eq!(compress(Coding::Identity, &body), body);
    }

    // Content-Type: the media type before `;`, any case, and nothing that merely starts like it.
    #[test]
    fn reads_the_request_format() {
        assert_eq!(request_format(Some("application/json")), Some(Format::Json));
        assert_eq!(
            request_format(Some("Application/JSON; charset=utf-8")),
            Some(Format::Json)
        );
        assert_eq!(
            request_format(Some("application/msgpack")),
            Some(Format::MessagePack)
        );
        assert_eq!(request_format(Some("application/json-patch+json")), None);
        assert_eq!(request_format(Some("text/plain")), None);
        assert_eq!(request_format(None), None);
    }

    // A negotiated response carries its Content-Type, Content-Encoding and Vary; a refusal is 406 with Vary.
    #[test]
    fn represents_with_headers() {
        let books = catalogue();
        let response = represent(
            &request(&[("Accept", "text/csv"), ("Accept-Encoding", "gzip")]),
            200,
            Payload::Many(&books),
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
        assert_eq!(response.header("content-encoding"), Some("gzip"));
        assert_eq!(response.header("vary"), Some(VARY));
        let refused = represent(
            &request(&[("Accept", "image/png")]),
            200,
            Payload::Many(&books),
        );
        assert_eq!(refused.status, 406);
        assert_eq!(refused.header("vary"), Some(VARY));
    }
}
