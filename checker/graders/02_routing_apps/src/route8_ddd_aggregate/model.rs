//! The exact model of the order aggregate and its pricing engine, written from the contract: what every
//! request must answer (events exactly; a rejection by its code).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub const MAX_LINES: usize = 10;
pub const MAX_QUANTITY: u64 = 99;
pub const MAX_PRICE_MINOR: u64 = 1_000_000;
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];

/// What a request must answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Exactly this reply (events, a quote, `configured`).
    Reply(Value),
    /// A rejection with this code.
    Rejected(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Placed,
    Shipped,
    Cancelled,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Placed => "placed",
            Status::Shipped => "shipped",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    pub sku: String,
    pub quantity: u64,
    pub price: u64,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub status: Status,
    pub currency: String,
    pub lines: Vec<Line>,
    pub coupon: Option<String>,
    pub placed: Option<Value>,
    pub version: u64,
}

impl Order {
    /// The order's state in words, for a report.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| format!("{} × {} at {}", l.quantity, l.sku, l.price))
            .collect();
        format!(
            "{}, version {}, {} [{}], coupon {}",
            self.status.name(),
            self.version,
            self.currency,
            lines.join(", "),
            self.coupon.as_deref().unwrap_or("none")
        )
    }
}

/// One configured rule.
#[derive(Debug, Clone)]
enum Rule {
    PercentOff {
        percent: u64,
        min: u64,
    },
    BuyXGetY {
        sku: String,
        buy: u64,
        free: u64,
    },
    BulkPrice {
        sku: String,
        min_quantity: u64,
        price: u64,
    },
    Coupon {
        code: String,
        off: u64,
    },
    ShippingFee {
        fee: u64,
        free_from: u64,
    },
}

impl Rule {
    fn kind(&self) -> &'static str {
        match self {
            Rule::PercentOff { .. } => "percent_off",
            Rule::BuyXGetY { .. } => "buy_x_get_y",
            Rule::BulkPrice { .. } => "bulk_price",
            Rule::Coupon { .. } => "coupon",
            Rule::ShippingFee { .. } => "shipping_fee",
        }
    }

    fn adjust(&self, order: &Order, running: u64) -> i64 {
        let line = |sku: &str| order.lines.iter().find(|l| l.sku == sku);
        match self {
            Rule::PercentOff { percent, min } if running >= *min => {
                -((running * percent / 100) as i64)
            }
            Rule::BuyXGetY { sku, buy, free } => line(sku).map_or(0, |l| {
                -(((l.quantity / (buy + free)) * free * l.price) as i64)
            }),
            Rule::BulkPrice {
                sku,
                min_quantity,
                price,
            } => line(sku)
                .filter(|l| l.quantity >= *min_quantity && l.price > *price)
                .map_or(0, |l| -((l.quantity * (l.price - price)) as i64)),
            Rule::Coupon { code, off } if order.coupon.as_deref() == Some(code) => -(*off as i64),
            Rule::ShippingFee { fee, free_from } if running < *free_from => *fee as i64,
            _ => 0,
        }
    }
}

pub fn is_sku(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 7
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3] == b'-'
        && b[4..].iter().all(u8::is_ascii_digit)
}

/// A rule from its configuration, or `None` when the configuration is invalid.
fn parse_rule(config: &Value) -> Option<Rule> {
    let object = config.as_object()?;
    let kind = object.get("kind")?.as_str()?;
    let fields: &[&str] = match kind {
        "percent_off" => &["percent", "min_subtotal_minor"],
        "buy_x_get_y" => &["sku", "buy", "free"],
        "bulk_price" => &["sku", "min_quantity", "unit_price_minor"],
        "coupon" => &["code", "amount_off_minor"],
        "shipping_fee" => &["amount_minor", "free_from_minor"],
        _ => return None,
    };
    if object.len() != fields.len() + 1 || !fields.iter().all(|f| object.contains_key(*f)) {
        return None;
    }
    let number = |name: &str| object[name].as_u64();
    let sku = || {
        object["sku"]
            .as_str()
            .filter(|s| is_sku(s))
            .map(str::to_string)
    };
    Some(match kind {
        "percent_off" => Rule::PercentOff {
            percent: number("percent").filter(|p| (1..=100).contains(p))?,
            min: number("min_subtotal_minor")?,
        },
        "buy_x_get_y" => Rule::BuyXGetY {
            sku: sku()?,
            buy: number("buy").filter(|n| *n >= 1)?,
            free: number("free").filter(|n| *n >= 1)?,
        },
        "bulk_price" => Rule::BulkPrice {
            sku: sku()?,
            min_quantity: number("min_quantity").filter(|n| *n >= 1)?,
            price: number("unit_price_minor")?,
        },
        "coupon" => Rule::Coupon {
            code: object["code"].as_str()?.to_string(),
            off: number("amount_off_minor")?,
        },
        _ => Rule::ShippingFee {
            fee: number("amount_minor")?,
            free_from: number("free_from_minor")?,
        },
    })
}

/// The shop: orders and rules.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub orders: BTreeMap<String, Order>,
    rules: Vec<Rule>,
    /// The configuration the rules came from, for reports.
    pub config: Value,
}

fn event(kind: &str, fields: Value) -> Value {
    let mut object = match fields {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    object.insert("type".into(), json!(kind));
    Value::Object(object)
}

impl Model {
    /// The quote of `order` under the current rules.
    pub fn quote(&self, order: &Order) -> Value {
        let subtotal: u64 = order.lines.iter().map(|l| l.quantity * l.price).sum();
        let mut running = subtotal;
        let mut adjustments = Vec::new();
        for rule in &self.rules {
            let amount = rule.adjust(order, running).max(-(running as i64));
            if amount != 0 {
                running = running.saturating_add_signed(amount);
                adjustments.push(json!({"rule": rule.kind(), "amount_minor": amount}));
            }
        }
        json!({"subtotal_minor": subtotal, "adjustments": adjustments, "total_minor": running})
    }

    /// What `request` must answer, applying its effect.
    pub fn apply(&mut self, request: &Value) -> Expect {
        let op = request["op"].as_str().unwrap_or("");
        if op == "configure" {
            let configs = request["rules"].as_array().cloned().unwrap_or_default();
            let rules: Option<Vec<Rule>> = configs.iter().map(parse_rule).collect();
            let Some(rules) = rules else {
                return Expect::Rejected("invalid_config");
            };
            let mut codes: Vec<&str> = rules
                .iter()
                .filter_map(|r| match r {
                    Rule::Coupon { code, .. } => Some(code.as_str()),
                    _ => None,
                })
                .collect();
            codes.sort_unstable();
            if codes.windows(2).any(|w| w[0] == w[1]) {
                return Expect::Rejected("invalid_config");
            }
            self.rules = rules;
            self.config = request["rules"].clone();
            return Expect::Reply(json!({"configured": configs.len()}));
        }
        let id = request["order_id"].as_str().unwrap_or("").to_string();
        if op == "quote" {
            return match self.orders.get(&id) {
                None => Expect::Rejected("unknown_order"),
                Some(order) => match (&order.placed, order.status) {
                    (Some(placed), _) => Expect::Reply(json!({"quote": placed})),
                    (None, Status::Draft) => Expect::Reply(json!({"quote": self.quote(order)})),
                    (None, _) => Expect::Rejected("not_priced"),
                },
            };
        }
        if op == "create" {
            if self.orders.contains_key(&id) {
                return Expect::Rejected("order_exists");
            }
            let currency = request["currency"].as_str().unwrap_or("");
            if !CURRENCIES.contains(&currency) {
                return Expect::Rejected("invalid_currency");
            }
            let order = Order {
                status: Status::Draft,
                currency: currency.to_string(),
                lines: Vec::new(),
                coupon: None,
                placed: None,
                version: 1,
            };
            self.orders.insert(id.clone(), order);
            let created = event(
                "OrderCreated",
                json!({"customer_id": request["customer_id"], "currency": currency}),
            );
            return self.publish(&id, created);
        }
        let Some(order) = self.orders.get(&id).cloned() else {
            return Expect::Rejected("unknown_order");
        };
        let draft = order.status == Status::Draft;
        let result = match op {
            "add_line" => {
                if !draft {
                    return Expect::Rejected("not_draft");
                }
                let sku = request["sku"].as_str().unwrap_or("");
                let quantity = request["quantity"].as_u64().unwrap_or(0);
                let price = request["unit_price"]["amount_minor"].as_u64().unwrap_or(0);
                let currency = request["unit_price"]["currency"].as_str().unwrap_or("");
                if !is_sku(sku) {
                    return Expect::Rejected("invalid_sku");
                }
                if !(1..=MAX_QUANTITY).contains(&quantity) {
                    return Expect::Rejected("invalid_quantity");
                }
                if currency != order.currency {
                    return Expect::Rejected("currency_mismatch");
                }
                if !(1..=MAX_PRICE_MINOR).contains(&price) {
                    return Expect::Rejected("invalid_price");
                }
                let mut order = order;
                let line_count = order.lines.len();
                let result = match order.lines.iter_mut().find(|l| l.sku == sku) {
                    Some(line) if line.price != price => return Expect::Rejected("price_mismatch"),
                    Some(line) if line.quantity + quantity > MAX_QUANTITY => {
                        return Expect::Rejected("quantity_limit");
                    }
                    Some(line) => {
                        line.quantity += quantity;
                        event(
                            "LineQuantityChanged",
                            json!({"sku": sku, "quantity": line.quantity}),
                        )
                    }
                    None if line_count >= MAX_LINES => return Expect::Rejected("too_many_lines"),
                    None => {
                        order.lines.push(Line {
                            sku: sku.to_string(),
                            quantity,
                            price,
                        });
                        event(
                            "LineAdded",
                            json!({"sku": sku, "quantity": quantity,
                                   "unit_price": {"amount_minor": price, "currency": currency}}),
                        )
                    }
                };
                (order, result)
            }
            "remove_line" => {
                if !draft {
                    return Expect::Rejected("not_draft");
                }
                let sku = request["sku"].as_str().unwrap_or("");
                if !order.lines.iter().any(|l| l.sku == sku) {
                    return Expect::Rejected("unknown_line");
                }
                let mut order = order;
                order.lines.retain(|l| l.sku != sku);
                (order, event("LineRemoved", json!({"sku": sku})))
            }
            "apply_coupon" => {
                if !draft {
                    return Expect::Rejected("not_draft");
                }
                if order.coupon.is_some() {
                    return Expect::Rejected("coupon_already_applied");
                }
                let code = request["code"].as_str().unwrap_or("").to_string();
                if !self
                    .rules
                    .iter()
                    .any(|r| matches!(r, Rule::Coupon { code: c, .. } if *c == code))
                {
                    return Expect::Rejected("unknown_coupon");
                }
                let mut order = order;
                order.coupon = Some(code.clone());
                (order, event("CouponApplied", json!({"code": code})))
            }
            "place" => {
                if !draft {
                    return Expect::Rejected("not_draft");
                }
                if order.lines.is_empty() {
                    return Expect::Rejected("empty_order");
                }
                let quote = self.quote(&order);
                let mut order = order;
                order.status = Status::Placed;
                order.placed = Some(quote.clone());
                (order, event("OrderPlaced", quote))
            }
            "cancel" => match order.status {
                Status::Cancelled => return Expect::Rejected("already_cancelled"),
                Status::Shipped => return Expect::Rejected("already_shipped"),
                _ => {
                    let mut order = order;
                    order.status = Status::Cancelled;
                    (order, event("OrderCancelled", json!({})))
                }
            },
            "ship" => {
                if order.status != Status::Placed {
                    return Expect::Rejected("not_placed");
                }
                let mut order = order;
                order.status = Status::Shipped;
                (order, event("OrderShipped", json!({})))
            }
            _ => return Expect::Rejected("unknown_op"),
        };
        let (mut order, published) = result;
        order.version += 1;
        self.orders.insert(id.clone(), order);
        self.publish(&id, published)
    }

    fn publish(&self, id: &str, mut event: Value) -> Expect {
        event["order_id"] = json!(id);
        event["version"] = json!(self.orders[id].version);
        Expect::Reply(json!({"events": [event]}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pricing_follows_the_configured_order() {
        let mut model = Model::default();
        model.apply(
            &json!({"op": "create", "order_id": "o", "customer_id": "c", "currency": "EUR"}),
        );
        model.apply(
            &json!({"op": "add_line", "order_id": "o", "sku": "TEA-001", "quantity": 4,
                            "unit_price": {"amount_minor": 1000, "currency": "EUR"}}),
        );
        model.apply(&json!({"op": "configure", "rules": [
            {"kind": "percent_off", "percent": 10, "min_subtotal_minor": 0},
            {"kind": "buy_x_get_y", "sku": "TEA-001", "buy": 1, "free": 1},
            {"kind": "shipping_fee", "amount_minor": 500, "free_from_minor": 3000}]}));
        let Expect::Reply(reply) = model.apply(&json!({"op": "quote", "order_id": "o"})) else {
            panic!()
        };
        assert_eq!(reply["quote"]["total_minor"], 2100);
    }
}
