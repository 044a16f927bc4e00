//! The reference messages, derived with prost: the schema of the exercise, a newer version of it with
//! fields the exercise does not know (every wire type, field numbers up to 2^29 − 1), and a variant that
//! writes `tags` unpacked. Plus the exercise's JSON form of an order, and seeded orders.

use backlings_grade::Rng;
use serde_json::{Value, json};

/// `message LineItem` of the exercise.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LineItem {
    #[prost(string, tag = "1")]
    pub sku: String,
    #[prost(uint32, tag = "2")]
    pub quantity: u32,
    #[prost(int64, tag = "3")]
    pub price_cents: i64,
}

/// `message Order` of the exercise.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub customer: String,
    #[prost(message, repeated, tag = "3")]
    pub items: Vec<LineItem>,
    #[prost(sint64, tag = "4")]
    pub balance: i64,
    #[prost(uint32, repeated, tag = "5")]
    pub tags: Vec<u32>,
    #[prost(bool, tag = "6")]
    pub express: bool,
    #[prost(fixed32, tag = "7")]
    pub checksum: u32,
    #[prost(sfixed64, tag = "8")]
    pub created_at_ms: i64,
    #[prost(bytes = "vec", tag = "9")]
    pub note: Vec<u8>,
}

/// The same order, written by an older writer that does not pack repeated scalars.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderUnpacked {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint32, repeated, packed = "false", tag = "5")]
    pub tags: Vec<u32>,
}

/// A nested message only the newer schema knows.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Address {
    #[prost(string, tag = "1")]
    pub city: String,
    #[prost(uint32, tag = "2")]
    pub zip: u32,
}

/// `LineItem` in a newer schema: three more fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LineItemV2 {
    #[prost(string, tag = "1")]
    pub sku: String,
    #[prost(uint32, tag = "2")]
    pub quantity: u32,
    #[prost(int64, tag = "3")]
    pub price_cents: i64,
    #[prost(string, tag = "4")]
    pub color: String,
    #[prost(int32, tag = "5")]
    pub discount_pct: i32,
    #[prost(fixed32, tag = "100")]
    pub warehouse: u32,
}

/// `Order` in a newer schema: the same fields, plus one of every wire type the exercise does not know.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderV2 {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub customer: String,
    #[prost(message, repeated, tag = "3")]
    pub items: Vec<LineItemV2>,
    #[prost(sint64, tag = "4")]
    pub balance: i64,
    #[prost(uint32, repeated, tag = "5")]
    pub tags: Vec<u32>,
    #[prost(bool, tag = "6")]
    pub express: bool,
    #[prost(fixed32, tag = "7")]
    pub checksum: u32,
    #[prost(sfixed64, tag = "8")]
    pub created_at_ms: i64,
    #[prost(bytes = "vec", tag = "9")]
    pub note: Vec<u8>,
    #[prost(string, tag = "10")]
    pub coupon: String,
    #[prost(double, tag = "11")]
    pub weight_kg: f64,
    #[prost(float, tag = "12")]
    pub discount: f32,
    #[prost(message, optional, tag = "13")]
    pub address: Option<Address>,
    #[prost(int64, repeated, tag = "14")]
    pub history: Vec<i64>,
    #[prost(sfixed32, tag = "15")]
    pub region: i32,
    #[prost(fixed64, tag = "2047")]
    pub shard: u64,
    #[prost(uint64, tag = "536870911")]
    pub trace: u64,
}

impl OrderV2 {
    /// What a reader of the exercise's schema sees: the known fields only.
    pub fn known(&self) -> Order {
        Order {
            id: self.id,
            customer: self.customer.clone(),
            items: self
                .items
                .iter()
                .map(|item| LineItem {
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                    price_cents: item.price_cents,
                })
                .collect(),
            balance: self.balance,
            tags: self.tags.clone(),
            express: self.express,
            checksum: self.checksum,
            created_at_ms: self.created_at_ms,
            note: self.note.clone(),
        }
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The exercise's JSON form of an order (`note` as hex).
pub fn to_json(order: &Order) -> Value {
    json!({
        "id": order.id,
        "customer": order.customer,
        "items": order.items.iter().map(|item| json!({
            "sku": item.sku,
            "quantity": item.quantity,
            "price_cents": item.price_cents,
        })).collect::<Vec<_>>(),
        "balance": order.balance,
        "tags": order.tags,
        "express": order.express,
        "checksum": order.checksum,
        "created_at_ms": order.created_at_ms,
        "note": hex(&order.note),
    })
}

/// The length of the compact JSON of an order, keys in the schema's order (key order does not change it).
pub fn json_len(order: &Order) -> usize {
    serde_json::to_string(&to_json(order)).map_or(0, |text| text.len())
}

/// A varint-sized value: one byte, two, a few, or the full range.
fn sized_u64(rng: &mut Rng) -> u64 {
    match rng.below(5) {
        0 => rng.below(128),
        1 => rng.range(128, 16_383),
        2 => rng.range(16_384, 1 << 28),
        3 => rng.range(1 << 28, 1 << 56),
        _ => rng.next_u64(),
    }
}

fn signed(rng: &mut Rng) -> i64 {
    let magnitude = sized_u64(rng) >> 1;
    if rng.chance(1, 2) {
        -(magnitude as i64) - 1
    } else {
        magnitude as i64
    }
}

fn text(rng: &mut Rng) -> String {
    let len = rng.range(1, 12) as usize;
    let mut out = rng.word(len);
    if rng.chance(1, 3) {
        out.push_str(rng.pick::<&str>(&["é", "日本", "😀", " ", "-", "\u{0}"]));
    }
    out
}

/// A seeded order; each field is left at its default a third of the time.
pub fn order(rng: &mut Rng) -> Order {
    let set = |rng: &mut Rng| !rng.chance(1, 3);
    Order {
        id: if set(rng) { sized_u64(rng) } else { 0 },
        customer: if set(rng) { text(rng) } else { String::new() },
        items: if set(rng) {
            (0..rng.range(1, 4))
                .map(|_| LineItem {
                    sku: if rng.chance(4, 5) {
                        text(rng)
                    } else {
                        String::new()
                    },
                    quantity: if rng.chance(4, 5) {
                        sized_u64(rng) as u32
                    } else {
                        0
                    },
                    price_cents: if rng.chance(4, 5) { signed(rng) } else { 0 },
                })
                .collect()
        } else {
            Vec::new()
        },
        balance: if set(rng) { signed(rng) } else { 0 },
        tags: if set(rng) {
            (0..rng.range(1, 6))
                .map(|_| sized_u64(rng) as u32)
                .collect()
        } else {
            Vec::new()
        },
        express: set(rng),
        checksum: if set(rng) { rng.next_u64() as u32 } else { 0 },
        created_at_ms: if set(rng) { signed(rng) } else { 0 },
        note: if set(rng) {
            let len = rng.range(1, 8) as usize;
            rng.bytes(len)
        } else {
            Vec::new()
        },
    }
}

/// A seeded order of the newer schema: the exercise's fields, and some unknown ones.
pub fn order_v2(rng: &mut Rng) -> OrderV2 {
    let base = order(rng);
    let set = |rng: &mut Rng| rng.chance(1, 2);
    OrderV2 {
        id: base.id,
        customer: base.customer,
        items: base
            .items
            .into_iter()
            .map(|item| LineItemV2 {
                sku: item.sku,
                quantity: item.quantity,
                price_cents: item.price_cents,
                color: if set(rng) { text(rng) } else { String::new() },
                discount_pct: if set(rng) { signed(rng) as i32 } else { 0 },
                warehouse: if set(rng) { rng.next_u64() as u32 } else { 0 },
            })
            .collect(),
        balance: base.balance,
        tags: base.tags,
        express: base.express,
        checksum: base.checksum,
        created_at_ms: base.created_at_ms,
        note: base.note,
        coupon: if set(rng) { text(rng) } else { String::new() },
        weight_kg: if set(rng) {
            rng.below(100_000) as f64 / 7.0
        } else {
            0.0
        },
        discount: if set(rng) {
            rng.below(1000) as f32 / 3.0
        } else {
            0.0
        },
        address: set(rng).then(|| Address {
            city: text(rng),
            zip: rng.below(100_000) as u32,
        }),
        history: if set(rng) {
            (0..rng.range(1, 4)).map(|_| signed(rng)).collect()
        } else {
            Vec::new()
        },
        region: if set(rng) { signed(rng) as i32 } else { 0 },
        shard: if set(rng) { rng.next_u64() } else { 0 },
        trace: if set(rng) { sized_u64(rng) } else { 0 },
    }
}
