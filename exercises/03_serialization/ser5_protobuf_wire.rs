//! # The protobuf wire format, by hand: varints, zigzag, length-delimited fields, unknown fields
//!
//! JSON spells every message out: field names, digits, quotes, commas. It is readable with any tool, and
//! that is why public APIs use it. Between services that call each other millions of times a second,
//! the cost shows: bytes on the network, and CPU spent turning `"quantity":12` into an integer and back.
//! **Protocol Buffers** (gRPC's format) send no names, only field *numbers* agreed in a `.proto` schema,
//! and small numbers in few bytes. The trade: nothing is readable without the schema, and the schema has
//! rules for evolving it (never reuse a field number; a reader must skip fields it does not know, because
//! the writer may be a newer version).
//!
//! ## The wire format
//!
//! A message is a sequence of *records*, each a key then a value. The key is the varint
//! `field_number << 3 | wire_type`; the wire type says how long the value is, so a reader can skip a field
//! it does not know:
//!
//! | wire type | name | value | used for |
//! |---|---|---|---|
//! | 0 | VARINT | a varint | `uint64`, `uint32`, `int64`, `bool`, `sint64` |
//! | 1 | I64 | 8 bytes, little-endian | `fixed64`, `sfixed64`, `double` |
//! | 2 | LEN | a varint length, then that many bytes | `string`, `bytes`, nested messages, packed repeated scalars |
//! | 5 | I32 | 4 bytes, little-endian | `fixed32`, `sfixed32`, `float` |
//!
//! (3 and 4 are the deprecated groups, 6 and 7 do not exist: all four are errors here.)
//!
//! - A **varint** writes 7 bits per byte, least significant group first, with the top bit set on every
//!   byte but the last: 1 is `01`, 300 is `ac 02`, and a `u64` takes at most 10 bytes.
//! - An **`int64`** is its two's-complement bits as a `u64`: every negative number takes all 10 bytes.
//!   A **`sint64`** first maps signed to unsigned by *zigzag* (0→0, −1→1, 1→2, −2→3: `(n << 1) ^ (n >> 63)`),
//!   so small negative numbers stay small.
//! - **proto3 defaults are not written**: a field equal to 0, `""`, `false`, empty bytes, or an empty
//!   repeated field is left out, and a reader fills in the default. Fields are written in field-number order.
//! - A **repeated scalar** (`repeated uint32 tags`) is *packed* in proto3: one LEN record whose bytes are
//!   the varints one after another. A reader must also accept the unpacked form (one VARINT record per
//!   element), even both mixed, appending in order. A repeated message is one LEN record per element.
//! - A reader accepts fields in any order. A scalar field that appears twice keeps the **last** value;
//!   repeated fields append. (So concatenating two encoded messages merges them.)
//!
//! ## The contract (what the grader checks)
//!
//! ```proto
//! syntax = "proto3";
//! message Order {
//!   uint64 id = 1;
//!   string customer = 2;
//!   repeated LineItem items = 3;
//!   sint64 balance = 4;
//!   repeated uint32 tags = 5;
//!   bool express = 6;
//!   fixed32 checksum = 7;
//!   sfixed64 created_at_ms = 8;
//!   bytes note = 9;
//! }
//! message LineItem {
//!   string sku = 1;
//!   uint32 quantity = 2;
//!   int64 price_cents = 3;
//! }
//! ```
//!
//! - `encode_order` writes exactly the bytes a protobuf library writes (the grader compares with prost).
//! - `decode_order` reads what any protobuf writer may send: fields in any order, repeated scalars packed or
//!   not, the last value of a repeated scalar field, unknown fields of every wire type (skipped, also inside a
//!   `LineItem`, field numbers up to 2^29 − 1). It refuses: a truncated varint or value, a varint longer than
//!   10 bytes, a length past the end, wire types 3, 4, 6, 7, field number 0, a known field with the wrong
//!   wire type, a string that is not UTF-8.
//! - The `sizes` reply (provided) compares the protobuf size with the compact JSON of the same order.
//!
//! ## Pitfalls
//!
//! - `as u64` on a negative `i64` is right for `int64` (10 bytes) and wrong for `sint64` (zigzag).
//! - Skipping an unknown I64 as 4 bytes (or I32 as 8): every field after it is garbage.
//! - Writing `express: false` or `tags: []`: a valid message, but not *the* encoding.
//! - A length or a varint that runs past the end of the buffer must be an error, not a panic on a slice.
//!
//! Roadmap: text (JSON) vs binary (Protobuf) formats, readability vs performance; gRPC and Protocol Buffers.

use serde::{Deserialize, Serialize};

/// A protobuf `Order`, in Rust. `note` travels as hex in the JSON of the grader's protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub customer: String,
    pub items: Vec<LineItem>,
    pub balance: i64,
    pub tags: Vec<u32>,
    pub express: bool,
    pub checksum: u32,
    pub created_at_ms: i64,
    #[serde(with = "hex")]
    pub note: Vec<u8>,
}

/// A protobuf `LineItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub quantity: u32,
    pub price_cents: i64,
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the input ends inside a value")]
    Truncated,
    #[error("a varint is longer than 10 bytes")]
    VarintTooLong,
    #[error("wire type {0} is not supported")]
    BadWireType(u8),
    #[error("field number 0 is not allowed")]
    FieldZero,
    #[error("field {field} cannot have wire type {wire_type}")]
    WrongWireType { field: u64, wire_type: u8 },
    #[error("a string is not valid UTF-8")]
    BadUtf8,
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// Appends `value` as a varint.
pub fn put_varint(buf: &mut Vec<u8>, value: u64) {
    // TODO: 7 bits per byte, least significant group first, the top bit set on every byte but the last.
    todo!()
}

/// Reads a varint at `*pos`, moving `*pos` past it.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    // TODO: the value, or `Truncated` if the input ends first, or `VarintTooLong` past 10 bytes.
    todo!()
}

/// Zigzag: 0→0, −1→1, 1→2, −2→3, …
pub fn zigzag_encode(value: i64) -> u64 {
    // TODO: map signed to unsigned so that small magnitudes stay small.
    todo!()
}

/// The inverse of [`zigzag_encode`].
pub fn zigzag_decode(value: u64) -> i64 {
    // TODO: undo the zigzag mapping.
    todo!()
}

/// `n` bytes at `*pos`, moving past them; `Truncated` if the input is shorter. Provided.
fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let end = pos.checked_add(n).ok_or(DecodeError::Truncated)?;
    let bytes = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    Ok(bytes)
}

/// The bytes of a `LineItem`.
pub fn encode_item(item: &LineItem) -> Vec<u8> {
    // TODO: the fields in number order, each as key then value, defaults left out.
    todo!()
}

/// The bytes of an `Order`, exactly as protobuf writes them.
pub fn encode_order(order: &Order) -> Vec<u8> {
    // TODO: the fields in number order, each with its wire type, defaults left out, tags packed.
    todo!()
}

/// Moves `*pos` past a value of this wire type.
pub fn skip_field(buf: &[u8], pos: &mut usize, wire_type: u8) -> Result<(), DecodeError> {
    // TODO: skip one value of an unknown field, by its wire type.
    todo!()
}

/// Reads a `LineItem`.
pub fn decode_item(buf: &[u8]) -> Result<LineItem, DecodeError> {
    // TODO: read records until the end of `buf`; known fields set (last one wins), unknown ones skipped.
    todo!()
}

/// Reads an `Order` written by any protobuf writer.
pub fn decode_order(buf: &[u8]) -> Result<Order, DecodeError> {
    // TODO: read records until the end of `buf`: check each key, set the known fields (the last value
    // wins, repeated fields append, tags packed or not), skip unknown ones, refuse what the contract refuses.
    todo!()
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires the codec to the grader's protocol, one
// JSON object per line on stdin and one reply per line on stdout (bytes as hex):
//
//   {"op":"decode","hex":"0801…"}  -> {"order":{"id":1,"customer":"…","items":[…],…}} or {"error":"…"}
//   {"op":"encode","order":{…}}    -> {"hex":"0801…"}
//   {"op":"sizes","order":{…}}     -> {"protobuf":N,"json":M}   (M: the compact JSON of the order)

/// Hex for `Vec<u8>` fields in JSON.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&backlings_harness::stdio::to_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        backlings_harness::stdio::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Decode { hex: String },
    Encode { order: Order },
    Sizes { order: Order },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Order { order: Order },
    Hex { hex: String },
    Sizes { protobuf: usize, json: usize },
    Error { error: String },
}

fn answer(request: Request) -> Reply {
    match request {
        Request::Decode { hex } => match backlings_harness::stdio::from_hex(&hex) {
            Ok(bytes) => match decode_order(&bytes) {
                Ok(order) => Reply::Order { order },
                Err(e) => Reply::Error {
                    error: e.to_string(),
                },
            },
            Err(e) => Reply::Error { error: e },
        },
        Request::Encode { order } => Reply::Hex {
            hex: backlings_harness::stdio::to_hex(&encode_order(&order)),
        },
        Request::Sizes { order } => Reply::Sizes {
            protobuf: encode_order(&order).len(),
            json: serde_json::to_vec(&order).map_or(0, |json| json.len()),
        },
    }
}

fn main() {
    backlings_harness::stdio::serve_json_lines(answer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        put_varint(&mut buf, value);
        buf
    }

    // Varints: 7 bits per byte, least significant first, the top bit says "more".
    #[test]
    fn varints() {
        assert_eq!(varint(1), [0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(u64::MAX).len(), 10);
        let mut pos = 0;
        assert_eq!(get_varint(&[0xac, 0x02, 0x05], &mut pos), Ok(300));
        assert_eq!(pos, 2);
        assert_eq!(
            get_varint(&[0x80, 0x80], &mut 0),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            get_varint(&[0xff; 11], &mut 0),
            Err(DecodeError::VarintTooLong)
        );
    }

    // Zigzag keeps small negative numbers small.
    #[test]
    fn zigzag() {
        for (n, z) in [
            (0, 0),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
            (i64::MIN, u64::MAX),
        ] {
            assert_eq!(zigzag_encode(n), z);
            assert_eq!(zigzag_decode(z), n);
        }
    }

    // The example from the protobuf documentation: field 1 = 150 is 08 96 01.
    #[test]
    fn encodes_like_protobuf() {
        let order = Order {
            id: 150,
            ..Order::default()
        };
        assert_eq!(encode_order(&order), [0x08, 0x96, 0x01]);
        assert_eq!(encode_order(&Order::default()), Vec::<u8>::new());
        let order = Order {
            balance: -1,
            tags: vec![1, 300],
            ..Order::default()
        };
        assert_eq!(
            encode_order(&order),
            [0x20, 0x01, 0x2a, 0x03, 0x01, 0xac, 0x02]
        );
    }

    // A full order survives a round trip.
    #[test]
    fn round_trip() {
        let order = Order {
            id: u64::MAX,
            customer: "Ada".into(),
            items: vec![LineItem {
                sku: "A-1".into(),
                quantity: 2,
                price_cents: -500,
            }],
            balance: i64::MIN,
            tags: vec![0, 7, u32::MAX],
            express: true,
            checksum: 0xdead_beef,
            created_at_ms: -1,
            note: vec![0, 255],
        };
        assert_eq!(decode_order(&encode_order(&order)), Ok(order));
    }

    // Unknown fields of every wire type are skipped; unpacked repeated fields are accepted.
    #[test]
    fn skips_unknown_fields() {
        let mut buf = vec![0x08, 0x07]; // id = 7
        buf.extend([0x51, 1, 2, 3, 4, 5, 6, 7, 8]); // field 10, I64
        buf.extend([0x5d, 1, 2, 3, 4]); // field 11, I32
        buf.extend([0x62, 0x02, b'h', b'i']); // field 12, LEN
        buf.extend([0x68, 0x96, 0x01]); // field 13, VARINT
        buf.extend([0x28, 0x05, 0x28, 0x06]); // tags 5 and 6, unpacked
        let order = decode_order(&buf).unwrap();
        assert_eq!((order.id, order.tags), (7, vec![5, 6]));
    }

    // Broken input is an error, never a panic.
    #[test]
    fn refuses_broken_input() {
        assert_eq!(
            decode_order(&[0x12, 0x05, b'a']),
            Err(DecodeError::Truncated)
        );
        assert_eq!(decode_order(&[0x0b]), Err(DecodeError::BadWireType(3)));
        assert_eq!(decode_order(&[0x00, 0x01]), Err(DecodeError::FieldZero));
        assert_eq!(
            decode_order(&[0x0a, 0x00]),
            Err(DecodeError::WrongWireType {
                field: 1,
                wire_type: 2
            })
        );
        assert_eq!(decode_order(&[0x12, 0x01, 0xff]), Err(DecodeError::BadUtf8));
    }
}
