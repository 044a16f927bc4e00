//! # Content negotiation and compression: one resource, many representations
//!
//! A URL names a *resource*; what travels on the wire is one *representation* of it. The same list of books can
//! be sent as JSON to a browser app, as XML to a twenty-year-old enterprise integration, as MessagePack to a
//! mobile client that counts bytes, or as CSV to someone who will open it in a spreadsheet. The client says what
//! it can read, and how much it prefers each, in request headers; the server picks:
//!
//! ```text
//! GET /books HTTP/1.1
//! Accept: application/xml;q=0.9, text/csv, */*;q=0.1      <- CSV (q=1) > XML (0.9) > anything else (0.1)
//! Accept-Encoding: gzip, deflate;q=0.5, identity;q=0.1     <- gzip preferred, uncompressed barely
//!
//! HTTP/1.1 200 OK
//! Content-Type: text/csv; charset=utf-8                    <- what the body *is*
//! Content-Encoding: gzip                                   <- how it was compressed on the way
//! Vary: Accept, Accept-Encoding                            <- which request headers chose this answer
//! ```
//!
//! ## Why this matters in production
//!
//! - **Caches.** A CDN or browser cache stores responses by URL. Without `Vary: Accept, Accept-Encoding`, the
//!   first client's gzip-compressed XML is served from cache to the next client, who asked for JSON and cannot
//!   decompress. This bug ships constantly, and it only shows up behind a cache.
//! - **Bandwidth and latency.** JSON and CSV compress 5–10×: a 1 MB answer becomes 150 KB, which matters on a
//!   phone. But compressing a 60-byte body makes it *bigger* (gzip adds ~20 bytes of header and trailer) and costs
//!   CPU for nothing, so servers leave small bodies alone (Express' default threshold is 1 KiB, nginx's
//!   `gzip_min_length` is configurable).
//! - **Interoperability.** Every format has a trap for the unwary: XML needs `&`, `<` and `>` escaped; CSV needs
//!   fields with commas, quotes or line breaks quoted (RFC 4180); MessagePack objects must be *maps* with field
//!   names for a Python or JavaScript client to read them as objects (`rmp_serde::to_vec` writes a struct as a
//!   positional array; `to_vec_named` writes a map). And HTTP's `deflate` coding is the *zlib* format (RFC
//!   1950), not raw deflate: a classic interop bug between servers and browsers.
//! - **Honest status codes.** A client that accepts nothing the server can produce gets **406 Not Acceptable**; a
//!   request body in a format the server cannot read gets **415 Unsupported Media Type**, not a 400 and not a
//!   guess.
//!
//! ## The contract (what the grader checks)
//!
//! The server (the provided `main`, with the ready-made HTTP server of `backlings_harness`) serves a catalogue of
//! books ([`catalogue`]):
//!
//! | request | answer |
//! |---|---|
//! | `GET /books` | 200, every book in id order, negotiated |
//! | `GET /books/{id}` | 200, that book, negotiated; 404 if there is none |
//! | `POST /books` | a new book from a JSON or MessagePack body, stored with the next id; 201 with `Location: /books/{id}` and the new book, negotiated |
//! | other methods | 405 with `Allow: GET, POST` (`/books`) or `Allow: GET` (`/books/{id}`) |
//!
//! **The format** ([`negotiate_format`]) comes from `Accept`, a comma-separated list of media ranges
//! (`type/subtype`, `type/*` or `*/*`, compared case-insensitively), each with optional `;`-parameters. The
//! parameter `q` (name in any case) is the weight: `0` to `1` with at most three decimals (`0`, `0.5`, `0.125`,
//! `1`, `1.000`), default `1`. A range with an invalid `q` (`q=2`, `q=0.1234`, `q=high`) or that is not
//! `type/subtype` is ignored; other parameters are ignored. A format's weight is the `q` of the **most specific**
//! range that matches its media type (`application/json` beats `application/*` beats `*/*`; among equally
//! specific ones the highest `q`); no matching range means weight 0. The format with the **highest** weight wins;
//! ties go to the server's order of preference: JSON, XML, MessagePack, CSV. Weight 0 means *not acceptable*:
//! when every format weighs 0, the answer is **406**. No `Accept` header means `*/*` (JSON).
//!
//! | format | `Content-Type` | body |
//! |---|---|---|
//! | JSON | `application/json` | an array of objects (or one object) with the fields `id`, `title`, `author`, `year`, `price_cents` |
//! | XML | `application/xml` | `<books><book><id>1</id><title>…</title><author>…</author><year>…</year><price_cents>…</price_cents></book>…</books>` (one book: the `<book>` element alone), text escaped; an XML declaration and whitespace between elements are allowed |
//! | MessagePack | `application/msgpack` | the same as the JSON: an array of maps (or one map) keyed by field name |
//! | CSV | `text/csv; charset=utf-8` | the line `id,title,author,year,price_cents`, then one line per book; every line ends in CRLF; a field holding `,`, `"`, CR or LF is quoted, its quotes doubled (RFC 4180) |
//!
//! **The content coding** ([`negotiate_coding`]) comes from `Accept-Encoding`: codings `gzip`, `deflate`,
//! `identity` and `*` (case-insensitive) with the same `q` rules; other codings are ignored. A coding's weight is
//! its own entry's `q`, else the `q` of `*`, else 0 (the highest `q` when an entry is listed twice), except
//! `identity`: listed in neither way, it weighs 0.001 (acceptable, as a last resort). So no `Accept-Encoding` header (or an empty one)
//! means identity, `gzip;q=0.5` means gzip, and `identity;q=0` or `*;q=0` exclude it. The highest weight wins,
//! ties going to gzip, then deflate, then identity; when all weigh 0, the answer is **406**. A body shorter than
//! [`MIN_COMPRESS`] = 256 bytes is sent as identity whenever identity weighs more than 0: compressing it would
//! make it bigger. `gzip` is the gzip format (RFC 1952), `deflate` the **zlib** format (RFC 1950); the response
//! says `Content-Encoding: gzip` or `deflate`, and has no `Content-Encoding` for identity.
//!
//! Every `200`, `201` and `406` from `/books` carries `Vary: Accept, Accept-Encoding`. A `406` has a short
//! `text/plain` body ([`not_acceptable`]).
//!
//! **Request bodies** ([`request_format`]): `POST /books` reads `Content-Type` (its media type before any `;`,
//! case-insensitive): `application/json` or `application/msgpack` with the fields `title`, `author`, `year` and
//! `price_cents`. Any other type, or none, is **415** with `Accept-Post: application/json, application/msgpack`.
//! The checks go in this order: 415, then 406 (nothing is stored for a client that cannot read the answer), then
//! 400 for a body that does not decode.
//!
//! ## Pitfalls
//!
//! - `q` values are decimals: compare them as integers in thousandths, never as floats.
//! - `q=0` does not mean "least preferred", it means "never".
//! - The *most specific* matching range decides a type's weight: in `*/*, application/json;q=0` JSON is refused.
//! - `starts_with("application/json")` also matches `application/json-patch+json`.
//! - Forgetting `Vary` works perfectly until a cache sits in front of the server.
//!
//! Roadmap: request and response headers [001 §1.4]; content negotiation [001 §7.6]; formats and
//! interoperability, text vs binary [001 §3.2–3.3]; compression [001 §1.10].

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
    // TODO: accept `0` or `1`, optionally followed by `.` and at most three digits (only zeros after a `1`);
    //       return the value in thousandths.
    todo!("parse a qvalue")
}

/// Picks the representation for an `Accept` header (`None`: the header is absent), or `None` when no format is
/// acceptable.
pub fn negotiate_format(accept: Option<&str>) -> Option<Format> {
    // TODO: split the header into media ranges and their weights (skip invalid ones); give each format the weight
    //       of its most specific matching range; pick the heaviest format above 0, ties in `Format::ALL` order.
    todo!("negotiate the format")
}

/// Picks the content coding for an `Accept-Encoding` header and a body of `body_len` bytes, or `None` when no
/// coding is acceptable.
pub fn negotiate_coding(accept_encoding: Option<&str>, body_len: usize) -> Option<Coding> {
    // TODO: weigh gzip, deflate and identity as the contract says (identity's last-resort weight included);
    //       keep a body under MIN_COMPRESS uncompressed when identity is acceptable; otherwise the heaviest
    //       coding above 0, ties in `Coding::ALL` order.
    todo!("negotiate the content coding")
}

/// What a response carries: one book or a list.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    One(&'a Book),
    Many(&'a [Book]),
}

/// Encodes `payload` in `format` (see the table in the header of this file).
pub fn encode(format: Format, payload: Payload<'_>) -> Vec<u8> {
    // TODO: JSON with serde_json; MessagePack with field names (rmp_serde); XML and CSV written out, with
    //       `quick_xml::escape::escape` for XML text and RFC 4180 quoting for CSV fields.
    todo!("encode the books")
}

/// Applies `coding` to `body`.
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    // TODO: gzip with `flate2::write::GzEncoder`, deflate in the zlib format, identity as it is.
    todo!("compress the body")
}

/// The format of a request body from its `Content-Type` (`None`: absent or not one this server reads).
pub fn request_format(content_type: Option<&str>) -> Option<Format> {
    // TODO: the media type before any `;`, trimmed, compared case-insensitively with the two types this server
    //       reads.
    todo!("the request body's format")
}

/// The negotiated response to `request` carrying `payload` with `status`: format and coding chosen, body
/// encoded and compressed, `Content-Type`, `Content-Encoding` (not for identity) and `Vary` set; the
/// [`not_acceptable`] answer when no format or no coding is acceptable.
pub fn represent(request: &Request, status: u16, payload: Payload<'_>) -> Response {
    // TODO: negotiate the format, encode, negotiate the coding for that body's length, compress, and build the
    //       response with its headers (`Response::new(status).with_header(..).with_body(..)`).
    todo!("the negotiated response")
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
