//! mutant: an unknown field number is an error instead of being skipped
//! expect: skipped, not refused
//!
//! Strict felt safe; it breaks every reader the day a writer adds a field.

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
    #[error("unknown field {0}")]
    UnknownField(u64),
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// Appends `value` as a varint.
pub fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Reads a varint at `*pos`, moving `*pos` past it.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let byte = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong)
}

/// Zigzag: 0→0, −1→1, 1→2, −2→3, …
pub fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag_encode`].
pub fn zigzag_decode(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn put_key(buf: &mut Vec<u8>, field: u64, wire_type: u8) {
    put_varint(buf, field << 3 | u64::from(wire_type));
}

fn put_len(buf: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_varint_field(buf: &mut Vec<u8>, field: u64, value: u64) {
    if value != 0 {
        put_key(buf, field, VARINT);
        put_varint(buf, value);
    }
}

/// The bytes of a `LineItem`.
pub fn encode_item(item: &LineItem) -> Vec<u8> {
    let mut buf = Vec::new();
    if !item.sku.is_empty() {
        put_len(&mut buf, 1, item.sku.as_bytes());
    }
    put_varint_field(&mut buf, 2, u64::from(item.quantity));
    put_varint_field(&mut buf, 3, item.price_cents as u64);
    buf
}

/// The bytes of an `Order`, exactly as protobuf writes them.
pub fn encode_order(order: &Order) -> Vec<u8> {
    let mut buf = Vec::new();
    put_varint_field(&mut buf, 1, order.id);
    if !order.customer.is_empty() {
        put_len(&mut buf, 2, order.customer.as_bytes());
    }
    for item in &order.items {
        put_len(&mut buf, 3, &encode_item(item));
    }
    put_varint_field(&mut buf, 4, zigzag_encode(order.balance));
    if !order.tags.is_empty() {
        let mut packed = Vec::new();
        for &tag in &order.tags {
            put_varint(&mut packed, u64::from(tag));
        }
        put_len(&mut buf, 5, &packed);
    }
    put_varint_field(&mut buf, 6, u64::from(order.express));
    if order.checksum != 0 {
        put_key(&mut buf, 7, I32);
        buf.extend_from_slice(&order.checksum.to_le_bytes());
    }
    if order.created_at_ms != 0 {
        put_key(&mut buf, 8, I64);
        buf.extend_from_slice(&order.created_at_ms.to_le_bytes());
    }
    if !order.note.is_empty() {
        put_len(&mut buf, 9, &order.note);
    }
    buf
}

/// `n` bytes at `*pos`, moving past them.
fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let end = pos.checked_add(n).ok_or(DecodeError::Truncated)?;
    let bytes = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    Ok(bytes)
}

fn take_len<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let len = get_varint(buf, pos)?;
    take(
        buf,
        pos,
        usize::try_from(len).map_err(|_| DecodeError::Truncated)?,
    )
}

/// Reads one key: the field number and the wire type.
fn get_key(buf: &[u8], pos: &mut usize) -> Result<(u64, u8), DecodeError> {
    let key = get_varint(buf, pos)?;
    let (field, wire_type) = (key >> 3, (key & 7) as u8);
    if !matches!(wire_type, VARINT | I64 | LEN | I32) {
        return Err(DecodeError::BadWireType(wire_type));
    }
    if field == 0 {
        return Err(DecodeError::FieldZero);
    }
    Ok((field, wire_type))
}

/// Moves `*pos` past a value of this wire type.
pub fn skip_field(buf: &[u8], pos: &mut usize, wire_type: u8) -> Result<(), DecodeError> {
    match wire_type {
        VARINT => get_varint(buf, pos).map(drop),
        I64 => take(buf, pos, 8).map(drop),
        LEN => take_len(buf, pos).map(drop),
        I32 => take(buf, pos, 4).map(drop),
        other => Err(DecodeError::BadWireType(other)),
    }
}

fn expect_type(field: u64, wire_type: u8, wanted: u8) -> Result<(), DecodeError> {
    if wire_type == wanted {
        Ok(())
    } else {
        Err(DecodeError::WrongWireType { field, wire_type })
    }
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::BadUtf8)
}

/// Reads a `LineItem`.
pub fn decode_item(buf: &[u8]) -> Result<LineItem, DecodeError> {
    let mut item = LineItem::default();
    let mut pos = 0;
    while pos < buf.len() {
        let (field, wire_type) = get_key(buf, &mut pos)?;
        match field {
            1 => {
                expect_type(field, wire_type, LEN)?;
                item.sku = utf8(take_len(buf, &mut pos)?)?;
            }
            2 => {
                expect_type(field, wire_type, VARINT)?;
                item.quantity = get_varint(buf, &mut pos)? as u32;
            }
            3 => {
                expect_type(field, wire_type, VARINT)?;
                item.price_cents = get_varint(buf, &mut pos)? as i64;
            }
            _ => return Err(DecodeError::UnknownField(field)),
        }
    }
    Ok(item)
}

/// Reads an `Order` written by any protobuf writer.
pub fn decode_order(buf: &[u8]) -> Result<Order, DecodeError> {
    let mut order = Order::default();
    let mut pos = 0;
    while pos < buf.len() {
        let (field, wire_type) = get_key(buf, &mut pos)?;
        match field {
            1 => {
                expect_type(field, wire_type, VARINT)?;
                order.id = get_varint(buf, &mut pos)?;
            }
            2 => {
                expect_type(field, wire_type, LEN)?;
                order.customer = utf8(take_len(buf, &mut pos)?)?;
            }
            3 => {
                expect_type(field, wire_type, LEN)?;
                order.items.push(decode_item(take_len(buf, &mut pos)?)?);
            }
            4 => {
                expect_type(field, wire_type, VARINT)?;
                order.balance = zigzag_decode(get_varint(buf, &mut pos)?);
            }
            5 if wire_type == LEN => {
                let packed = take_len(buf, &mut pos)?;
                let mut inner = 0;
                while inner < packed.len() {
                    order.tags.push(get_varint(packed, &mut inner)? as u32);
                }
            }
            5 => {
                expect_type(field, wire_type, VARINT)?;
                order.tags.push(get_varint(buf, &mut pos)? as u32);
            }
            6 => {
                expect_type(field, wire_type, VARINT)?;
                order.express = get_varint(buf, &mut pos)? != 0;
            }
            7 => {
                expect_type(field, wire_type, I32)?;
                let bytes = take(buf, &mut pos, 4)?;
                order.checksum = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            }
            8 => {
                expect_type(field, wire_type, I64)?;
                let bytes = take(buf, &mut pos, 8)?;
                order.created_at_ms = i64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            }
            9 => {
                expect_type(field, wire_type, LEN)?;
                order.note = take_len(buf, &mut pos)?.to_vec();
            }
            _ => return Err(DecodeError::UnknownField(field)),
        }
    }
    Ok(order)
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
