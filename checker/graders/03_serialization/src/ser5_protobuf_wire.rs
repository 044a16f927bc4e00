//! Grader of `ser5_protobuf_wire`: a hand-written protobuf codec checked against prost, both ways.
//!
//! Decoding: the grader encodes with prost (the exercise's schema, a newer schema full of unknown fields,
//! an unpacked writer) and reshuffles records with its own wire reader ([`wire`]); the expected order is
//! what prost decodes from the same bytes. Encoding: the learner's bytes must equal prost's, and a
//! difference is explained record by record. Malformed input must be an error, and the program must live on.

mod messages;
mod wire;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use prost::Message;
use serde_json::{Value, json};

use messages::{LineItem, Order, OrderUnpacked, OrderV2, hex, to_json};

/// Orders in the final seeded scenario.
const BULK: usize = 300;

/// Grades `ser5_protobuf_wire`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("varints, zigzag and fixed-width values decode, at their edges");
    for order in edge_orders() {
        decode(
            &mut p,
            &order.encode_to_vec(),
            "an order written by protobuf (prost)",
        )?;
    }
    for _ in 0..20 {
        let order = messages::order(g.rng());
        decode(
            &mut p,
            &order.encode_to_vec(),
            "an order written by protobuf (prost)",
        )?;
    }

    g.scenario(
        "the encoding is protobuf's, byte for byte: field order, defaults left out, tags packed",
    );
    for order in edge_orders() {
        encode(&mut p, &order)?;
    }
    for _ in 0..30 {
        let order = messages::order(g.rng());
        encode(&mut p, &order)?;
    }

    g.scenario("unknown fields of every wire type are skipped, inside a LineItem too");
    unknown_fields(g, &mut p)?;

    g.scenario(
        "fields in any order, repeated fields merged, the last value wins, tags packed or not",
    );
    merging(g, &mut p)?;

    g.scenario("malformed input is refused with an error, and the program goes on");
    malformed(&mut p)?;

    g.scenario("sizes: the same order in protobuf and in JSON");
    for _ in 0..10 {
        let order = messages::order(g.rng());
        let request = json!({"op": "sizes", "order": to_json(&order)});
        let expected = json!({"protobuf": order.encoded_len(), "json": messages::json_len(&order)});
        let reply = p.request(&request)?;
        if reply != expected {
            return Err(Failure::new("the protobuf size is the length of the encoding; the JSON size is the length of the compact JSON of the same order")
                .expected(expected.to_string())
                .got(reply.to_string())
                .detail(format!("sent: {request}")));
        }
    }

    g.scenario("300 seeded orders, both ways");
    for _ in 0..BULK {
        let bytes = seeded_bytes(g.rng());
        decode(
            &mut p,
            &bytes,
            "a seeded order (sometimes from a newer schema, with its records shuffled)",
        )?;
        let order = messages::order(g.rng());
        encode(&mut p, &order)?;
    }
    Ok(())
}

/// Orders at the edges of every type.
fn edge_orders() -> Vec<Order> {
    let mut full = Order {
        id: u64::MAX,
        customer: "Ada Lovelace, 日本 😀".into(),
        items: vec![
            LineItem {
                sku: "A-1".into(),
                quantity: u32::MAX,
                price_cents: -1,
            },
            LineItem {
                sku: String::new(),
                quantity: 0,
                price_cents: 0,
            },
            LineItem {
                sku: "B".into(),
                quantity: 3,
                price_cents: i64::MIN,
            },
        ],
        balance: -1,
        tags: vec![0, 1, 127, 128, 16_383, 16_384, u32::MAX],
        express: true,
        checksum: u32::MAX,
        created_at_ms: -1,
        note: vec![0, 255, 128],
    };
    let mut orders = vec![
        Order {
            id: 150,
            ..Order::default()
        },
        Order::default(),
        full.clone(),
    ];
    for balance in [1, -2, 63, -64, 64, i64::MIN, i64::MAX] {
        full.balance = balance;
        full.created_at_ms = balance;
        orders.push(full.clone());
    }
    orders
}

/// Sends `bytes` to decode and checks the order against prost's reading of the same bytes.
fn decode(p: &mut Stdio, bytes: &[u8], what: &str) -> Result<(), Failure> {
    let expected = Order::decode(bytes).expect("the grader sends a valid message");
    let request = json!({"op": "decode", "hex": hex(bytes)});
    let reply = p.request(&request)?;
    let want = json!({"order": to_json(&expected)});
    if reply == want {
        return Ok(());
    }
    let records: Vec<String> = wire::records(bytes)
        .unwrap_or_default()
        .iter()
        .take(16)
        .map(|r| format!("[{}]", wire::describe(r, false)))
        .collect();
    let mut failure = Failure::new(decode_rule(&reply, &expected, bytes))
        .expected(want.to_string())
        .got(reply.to_string())
        .detail(format!("the bytes: {what}: {}", hex(bytes)))
        .detail(format!("record by record: {}", records.join(" ")));
    if bytes.is_empty() {
        failure = failure.detail("an empty message is valid: every field has its default value");
    }
    Err(failure)
}

/// The rule the decoded order breaks, from the first field that differs.
fn decode_rule(reply: &Value, expected: &Order, bytes: &[u8]) -> String {
    let unknown = wire::records(bytes)
        .unwrap_or_default()
        .iter()
        .any(|r| r.field > 9);
    let Some(got) = reply.get("order") else {
        if unknown {
            return "a message with unknown fields was refused: unknown fields are skipped, not refused (a newer writer added them), by their wire type: VARINT a varint, I64 eight bytes, LEN a length then its bytes, I32 four bytes".to_string();
        }
        return "a valid protobuf message was refused".to_string();
    };
    let want = to_json(expected);
    let differs = |key: &str| got.get(key) != want.get(key);
    if unknown {
        let fields = [
            "id",
            "customer",
            "items",
            "balance",
            "tags",
            "express",
            "checksum",
            "created_at_ms",
            "note",
        ];
        if fields.iter().filter(|f| differs(f)).count() > 1 {
            return "unknown fields are skipped by their wire type, exactly: VARINT a varint, I64 eight bytes, LEN a length then its bytes, I32 four bytes (a wrong skip shifts every field after it)".to_string();
        }
    }
    if differs("balance") {
        "balance is a sint64: zigzag-encoded (0→0, −1→1, 1→2, −2→3), decoded with (n >> 1) ^ -(n & 1)".to_string()
    } else if differs("items") {
        "items: one LEN record per LineItem, appended in order; price_cents is an int64 (a negative number is 10 bytes of two's complement), quantity a uint32, unknown fields inside skipped".to_string()
    } else if differs("tags") {
        "tags may come packed (one LEN record of varints) or unpacked (one VARINT record per element), even both: append every element in order".to_string()
    } else if differs("checksum") || differs("created_at_ms") {
        "checksum is a fixed32 (4 bytes, little-endian), created_at_ms an sfixed64 (8 bytes, little-endian, two's complement)".to_string()
    } else {
        "the order is what the bytes say: for a field that appears more than once, the last value wins (repeated fields append)".to_string()
    }
}

/// Sends an order to encode and checks the bytes are prost's.
fn encode(p: &mut Stdio, order: &Order) -> Result<(), Failure> {
    let expected = order.encode_to_vec();
    let request = json!({"op": "encode", "order": to_json(order)});
    let reply = p.request(&request)?;
    if reply.get("hex").and_then(Value::as_str) == Some(hex(&expected).as_str()) {
        return Ok(());
    }
    let got = reply.get("hex").and_then(Value::as_str).and_then(from_hex);
    let explanation = match &got {
        Some(bytes) => wire::explain_difference(&expected, bytes, false)
            .unwrap_or_else(|| "the same records, but not the same bytes".to_string()),
        None => "the reply is not {\"hex\":\"…\"} with hex digits".to_string(),
    };
    let rule = if explanation.contains("default") {
        "proto3 writes no default value: a field equal to 0, \"\", false, empty bytes or an empty list is left out"
    } else if explanation.contains("packed") {
        "repeated scalars are packed in proto3: one LEN record for all the tags"
    } else if explanation.contains("zigzag") {
        "balance is a sint64: zigzag-encoded before the varint"
    } else {
        "the encoding must be exactly protobuf's: fields in number order, each once, defaults left out"
    };
    Err(Failure::new(rule)
        .expected(format!("{{\"hex\":\"{}\"}}", hex(&expected)))
        .got(reply.to_string())
        .detail(explanation)
        .detail(format!("sent: {request}")))
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unknown_fields(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let every = OrderV2 {
        id: 7,
        customer: "Grace".into(),
        items: vec![messages::LineItemV2 {
            sku: "K-9".into(),
            quantity: 2,
            price_cents: -250,
            color: "teal".into(),
            discount_pct: -15,
            warehouse: 0xdead_beef,
        }],
        balance: -3,
        tags: vec![5, 500],
        express: true,
        checksum: 1,
        created_at_ms: 1_700_000_000_000,
        note: vec![1, 2, 3],
        coupon: "SPRING".into(),
        weight_kg: 2.5,
        discount: 0.25,
        address: Some(messages::Address {
            city: "Lyon".into(),
            zip: 69_001,
        }),
        history: vec![-1, 2, -3],
        region: -42,
        shard: u64::MAX,
        trace: 123_456_789,
    };
    let what = "an order from a newer schema: unknown fields 10 (LEN), 11 (I64), 12 (I32), 13 (LEN, a message), 14 (LEN, packed), 15 (I32), 2047 (I64), 536870911 (VARINT), and 4, 5, 100 inside the LineItem";
    decode_known(p, &every, what)?;
    for _ in 0..20 {
        let order = messages::order_v2(g.rng());
        decode_known(
            p,
            &order,
            "an order from a newer schema, with unknown fields",
        )?;
    }
    Ok(())
}

/// Decodes a newer-schema order; the expected result is its known fields.
fn decode_known(p: &mut Stdio, order: &OrderV2, what: &str) -> Result<(), Failure> {
    let bytes = order.encode_to_vec();
    debug_assert_eq!(Order::decode(bytes.as_slice()).ok(), Some(order.known()));
    decode(p, &bytes, what)
}

fn merging(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let unpacked = OrderUnpacked {
        id: 9,
        tags: vec![1, 300, 70_000, u32::MAX],
    };
    decode(
        p,
        &unpacked.encode_to_vec(),
        "tags written unpacked, one VARINT record each, as older writers do",
    )?;
    let mut mixed = Order {
        tags: vec![1, 2],
        ..Order::default()
    }
    .encode_to_vec();
    mixed.extend(
        OrderUnpacked {
            id: 0,
            tags: vec![3],
        }
        .encode_to_vec(),
    );
    mixed.extend(
        Order {
            tags: vec![4, 5],
            ..Order::default()
        }
        .encode_to_vec(),
    );
    decode(
        p,
        &mixed,
        "tags packed, then unpacked, then packed again: all appended in order",
    )?;
    let mut twice = Order {
        id: 1,
        customer: "first".into(),
        balance: -5,
        ..Order::default()
    }
    .encode_to_vec();
    twice.extend(
        Order {
            id: 2,
            customer: "second".into(),
            ..Order::default()
        }
        .encode_to_vec(),
    );
    decode(
        p,
        &twice,
        "id and customer appear twice: the last value wins",
    )?;
    for _ in 0..15 {
        let a = messages::order(g.rng());
        let b = messages::order(g.rng());
        let mut bytes = a.encode_to_vec();
        bytes.extend(b.encode_to_vec());
        decode(
            p,
            &bytes,
            "two encoded orders one after the other: protobuf reads that as one merged order",
        )?;
        let shuffled = shuffle_records(&a.encode_to_vec(), g.rng());
        decode(
            p,
            &shuffled,
            "an order with its records in a shuffled order",
        )?;
    }
    Ok(())
}

fn shuffle_records(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut records = wire::records(bytes).expect("prost writes well-formed messages");
    rng.shuffle(&mut records);
    wire::join(&records)
}

fn seeded_bytes(rng: &mut Rng) -> Vec<u8> {
    let bytes = if rng.chance(1, 3) {
        messages::order_v2(rng).encode_to_vec()
    } else {
        messages::order(rng).encode_to_vec()
    };
    if rng.chance(1, 2) {
        shuffle_records(&bytes, rng)
    } else {
        bytes
    }
}

/// Malformed messages, and what is wrong with each.
fn malformed_cases() -> Vec<(Vec<u8>, &'static str)> {
    let mut eleven = vec![0x08];
    eleven.extend([0xff; 10]);
    eleven.push(0x01);
    let huge_len = vec![0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a'];
    vec![
        (
            vec![0x08, 0x96],
            "the varint of id (field 1) is cut off: its last byte still says \"more\"",
        ),
        (vec![0x96], "the key itself is a cut-off varint"),
        (eleven, "a varint of 11 bytes: a u64 takes at most 10"),
        (
            vec![0x12, 0x05, b'a', b'b'],
            "customer (field 2) claims 5 bytes, 2 follow",
        ),
        (
            huge_len,
            "customer claims 4 GiB: the length runs past the end (refuse it, do not allocate it)",
        ),
        (
            vec![0x3d, 0x01, 0x02],
            "checksum (fixed32) needs 4 bytes, 2 follow",
        ),
        (
            vec![0x41, 1, 2, 3, 4, 5, 6, 7],
            "created_at_ms (sfixed64) needs 8 bytes, 7 follow",
        ),
        (vec![0x0e, 0x01], "wire type 6 does not exist"),
        (
            vec![0x57, 0x01],
            "wire type 7 does not exist (unknown field 10)",
        ),
        (
            vec![0x0b, 0x0c],
            "wire type 3 (a deprecated group) on id, a uint64",
        ),
        (vec![0x00, 0x01], "field number 0 is not allowed"),
        (vec![0x0a, 0x00], "id (field 1) is a VARINT, not a LEN"),
        (
            vec![0x21, 1, 2, 3, 4, 5, 6, 7, 8],
            "balance (field 4) is a VARINT, not an I64",
        ),
        (
            vec![0x12, 0x02, 0xc3, 0x28],
            "customer is a string: c3 28 is not UTF-8",
        ),
        (
            vec![0x1a, 0x02, 0x0a, 0x05],
            "inside the LineItem, sku claims 5 bytes and the item ends",
        ),
        (
            vec![0x1a, 0x03, 0x0a, 0x01, 0xff],
            "inside the LineItem, sku is not UTF-8",
        ),
        (
            vec![0x2a, 0x02, 0x96, 0x96],
            "the packed tags end inside a varint",
        ),
    ]
}

fn malformed(p: &mut Stdio) -> Result<(), Failure> {
    for (bytes, why) in malformed_cases() {
        let request = json!({"op": "decode", "hex": hex(&bytes)});
        let reply = p.request(&request)?;
        if !reply.get("error").is_some_and(Value::is_string) {
            return Err(
                Failure::new(format!("malformed input is refused with an error: {why}"))
                    .expected(r#"{"error":"…"}"#)
                    .got(reply.to_string())
                    .detail(format!("sent: {request}")),
            );
        }
    }
    // Still alive, and still right.
    decode(
        p,
        &[0x08, 0x96, 0x01],
        "the documentation's example, after the malformed ones",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every malformed case is refused by prost too: the contract is protobuf's, not the grader's.
    #[test]
    fn prost_agrees_the_malformed_cases_are_malformed() {
        for (bytes, why) in malformed_cases() {
            assert!(
                Order::decode(bytes.as_slice()).is_err(),
                "{why}: {}",
                hex(&bytes)
            );
        }
    }

    // The grader's record reader splits and rejoins prost's bytes exactly.
    #[test]
    fn records_round_trip() {
        let mut rng = Rng::new(8);
        for _ in 0..200 {
            let bytes = messages::order_v2(&mut rng).encode_to_vec();
            assert_eq!(wire::join(&wire::records(&bytes).unwrap()), bytes);
        }
    }
}
