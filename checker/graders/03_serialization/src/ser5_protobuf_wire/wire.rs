//! The grader's own reading of the protobuf wire format: a message as a list of records, for reshuffling
//! valid messages and for explaining, record by record, where an encoding differs from the reference.

/// One key–value record of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub field: u64,
    pub wire_type: u8,
    /// The record's bytes on the wire, key included.
    pub bytes: Vec<u8>,
    /// The value: a varint, or the payload of a LEN / I32 / I64 record.
    pub value: Value,
}

/// A record's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Varint(u64),
    Fixed(Vec<u8>),
    Len(Vec<u8>),
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The records of a well-formed message, or `None`.
pub fn records(bytes: &[u8]) -> Option<Vec<Record>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        let key = varint(bytes, &mut pos)?;
        let (field, wire_type) = (key >> 3, (key & 7) as u8);
        let value = match wire_type {
            0 => Value::Varint(varint(bytes, &mut pos)?),
            1 | 5 => {
                let n = if wire_type == 1 { 8 } else { 4 };
                let value = bytes.get(pos..pos + n)?.to_vec();
                pos += n;
                Value::Fixed(value)
            }
            2 => {
                let len = usize::try_from(varint(bytes, &mut pos)?).ok()?;
                let value = bytes.get(pos..pos.checked_add(len)?)?.to_vec();
                pos += len;
                Value::Len(value)
            }
            _ => return None,
        };
        out.push(Record {
            field,
            wire_type,
            bytes: bytes[start..pos].to_vec(),
            value,
        });
    }
    Some(out)
}

/// The bytes of `records`, one after the other.
pub fn join(records: &[Record]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|r| r.bytes.iter().copied())
        .collect()
}

/// The name and type of a field of `Order` (or of `LineItem`, when `item`).
pub fn field_name(field: u64, item: bool) -> &'static str {
    match (item, field) {
        (false, 1) => "id (uint64)",
        (false, 2) => "customer (string)",
        (false, 3) => "items (repeated LineItem)",
        (false, 4) => "balance (sint64)",
        (false, 5) => "tags (repeated uint32)",
        (false, 6) => "express (bool)",
        (false, 7) => "checksum (fixed32)",
        (false, 8) => "created_at_ms (sfixed64)",
        (false, 9) => "note (bytes)",
        (true, 1) => "sku (string)",
        (true, 2) => "quantity (uint32)",
        (true, 3) => "price_cents (int64)",
        _ => "an unknown field",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One record in words: `field 4 balance (sint64), VARINT 1: 20 01`.
pub fn describe(record: &Record, item: bool) -> String {
    let kind = match (&record.value, record.wire_type) {
        (Value::Varint(v), _) => format!("VARINT {v}"),
        (Value::Fixed(_), 1) => "I64".to_string(),
        (Value::Fixed(_), _) => "I32".to_string(),
        (Value::Len(payload), _) => format!("LEN {}", payload.len()),
    };
    format!(
        "field {} {}, {kind}: {}",
        record.field,
        field_name(record.field, item),
        hex(&record.bytes)
    )
}

/// The first record where `got` differs from `expected`, explained; `None` if the records are equal.
pub fn explain_difference(expected: &[u8], got: &[u8], item: bool) -> Option<String> {
    let want = records(expected)?;
    let Some(have) = records(got) else {
        return Some(
            "the bytes are not a well-formed message (a length or a varint runs past the end)"
                .to_string(),
        );
    };
    for (index, a) in want.iter().enumerate() {
        let Some(b) = have.get(index) else {
            return Some(format!(
                "record {} is missing: {}",
                index + 1,
                describe(a, item)
            ));
        };
        if a == b {
            continue;
        }
        let mut text = format!(
            "record {}: expected {}, got {}",
            index + 1,
            describe(a, item),
            describe(b, item)
        );
        let why = if b.field != a.field && is_default(b) {
            format!(
                " — field {} holds its default value: proto3 leaves a default out of the encoding",
                b.field
            )
        } else if b.field != a.field {
            " — fields are written in field-number order, each default value left out".to_string()
        } else if a.field == 5 && a.wire_type == 2 && b.wire_type == 0 {
            " — repeated scalars are packed in proto3: one LEN record holding every varint"
                .to_string()
        } else if !item && a.field == 4 {
            " — a sint64 is zigzag-encoded: 0→0, −1→1, 1→2, −2→3".to_string()
        } else if item && a.field == 3 {
            " — an int64 is its two's-complement bits as a varint: a negative number takes 10 bytes"
                .to_string()
        } else if !item && a.field == 3 {
            if let (Value::Len(x), Value::Len(y)) = (&a.value, &b.value) {
                let inner = explain_difference(x, y, true).unwrap_or_default();
                format!(" — inside the LineItem: {inner}")
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        text.push_str(&why);
        return Some(text);
    }
    (have.len() > want.len()).then(|| {
        let extra = &have[want.len()];
        let mut text = format!("an extra record: {}", describe(extra, item));
        if is_default(extra) {
            text.push_str(
                " — it holds a default value: proto3 leaves a default out of the encoding",
            );
        }
        text
    })
}

fn is_default(record: &Record) -> bool {
    match &record.value {
        Value::Varint(v) => *v == 0,
        Value::Fixed(bytes) | Value::Len(bytes) => {
            record.wire_type != 2 && bytes.iter().all(|b| *b == 0)
                || record.wire_type == 2 && bytes.is_empty()
        }
    }
}
