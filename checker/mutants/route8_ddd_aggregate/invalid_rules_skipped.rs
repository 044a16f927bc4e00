//! mutant: skips rule configurations it cannot build instead of refusing the configuration
//! expect: invalid_config

use std::collections::BTreeMap;

use backlings_harness::stdio::serve_json_lines;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Most lines an order may have.
pub const MAX_LINES: usize = 10;
/// Largest quantity of one line.
pub const MAX_QUANTITY: u64 = 99;
/// Largest unit price, in minor units.
pub const MAX_PRICE_MINOR: u64 = 1_000_000;

// ─── Rejections and value objects ────────────────────────────────────────────────────────────────────

/// Why a command was refused: a stable code for programs, a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

/// A rejection with this code and message (provided: you do not need to change this).
pub fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// The currencies this shop sells in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "EUR")]
    Eur,
    #[serde(rename = "USD")]
    Usd,
    #[serde(rename = "GBP")]
    Gbp,
}

impl Currency {
    /// `EUR`, `USD` or `GBP` (provided: you do not need to change this).
    pub fn parse(text: &str) -> Result<Self, Rejection> {
        serde_json::from_value(json!(text)).map_err(|_| {
            reject(
                "invalid_currency",
                format!("`{text}` is not EUR, USD or GBP"),
            )
        })
    }
}

/// A stock keeping unit: three capital letters, a dash, three digits (`TEA-001`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    /// A sku, if `text` is one.
    pub fn parse(text: &str) -> Result<Self, Rejection> {
        let bytes = text.as_bytes();
        let valid = bytes.len() == 7
            && bytes[..3].iter().all(u8::is_ascii_uppercase)
            && bytes[3] == b'-'
            && bytes[4..].iter().all(u8::is_ascii_digit);
        if valid {
            Ok(Sku(text.to_string()))
        } else {
            Err(reject(
                "invalid_sku",
                format!("`{text}` is not a sku like ABC-123"),
            ))
        }
    }

    /// The sku as text (provided: you do not need to change this).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many of one sku: 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u64);

impl Quantity {
    /// A quantity, if `n` is one.
    pub fn new(n: u64) -> Result<Self, Rejection> {
        if (1..=MAX_QUANTITY).contains(&n) {
            Ok(Quantity(n))
        } else {
            Err(reject(
                "invalid_quantity",
                format!("a quantity is 1 to {MAX_QUANTITY}, not {n}"),
            ))
        }
    }

    /// The number (provided: you do not need to change this).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An amount of one currency, in minor units (cents), 1 to [`MAX_PRICE_MINOR`] for a unit price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Money {
    pub amount_minor: u64,
    pub currency: Currency,
}

impl Money {
    /// A unit price, if `amount_minor` is one.
    pub fn unit_price(amount_minor: u64, currency: Currency) -> Result<Self, Rejection> {
        if (1..=MAX_PRICE_MINOR).contains(&amount_minor) {
            Ok(Money {
                amount_minor,
                currency,
            })
        } else {
            Err(reject(
                "invalid_price",
                format!("a unit price is 1 to {MAX_PRICE_MINOR} minor units"),
            ))
        }
    }
}

// ─── Events ──────────────────────────────────────────────────────────────────────────────────────────

/// One adjustment of a quote: which rule, how much (negative for a discount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    pub rule: &'static str,
    pub amount_minor: i64,
}

/// What an order costs: the subtotal, each rule's adjustment, the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub subtotal_minor: u64,
    pub adjustments: Vec<Adjustment>,
    pub total_minor: u64,
}

/// Something that happened to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    OrderCreated {
        customer_id: String,
        currency: Currency,
    },
    LineAdded {
        sku: String,
        quantity: u64,
        unit_price: Money,
    },
    LineQuantityChanged {
        sku: String,
        quantity: u64,
    },
    LineRemoved {
        sku: String,
    },
    CouponApplied {
        code: String,
    },
    OrderPlaced {
        #[serde(flatten)]
        quote: Quote,
    },
    OrderCancelled,
    OrderShipped,
}

// ─── The aggregate ───────────────────────────────────────────────────────────────────────────────────

/// What a command asks of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Create {
        customer_id: String,
        currency: String,
    },
    AddLine {
        sku: String,
        quantity: u64,
        amount_minor: u64,
        currency: String,
    },
    RemoveLine {
        sku: String,
    },
    ApplyCoupon {
        code: String,
    },
    Place,
    Cancel,
    Ship,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not created yet.
    New,
    Draft,
    Placed,
    Shipped,
    Cancelled,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
}

/// The order aggregate. Its state changes only in [`Order::apply`].
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub status: Status,
    pub currency: Option<Currency>,
    pub lines: Vec<Line>,
    pub coupon: Option<String>,
    /// The quote recorded when the order was placed.
    pub placed: Option<Quote>,
    /// How many events this order has had.
    pub version: u64,
}

impl Order {
    /// An order that does not exist yet (provided: you do not need to change this).
    pub fn new(id: &str) -> Self {
        Order {
            id: id.to_string(),
            status: Status::New,
            currency: None,
            lines: Vec::new(),
            coupon: None,
            placed: None,
            version: 0,
        }
    }

    fn require_draft(&self) -> Result<(), Rejection> {
        if self.status == Status::Draft {
            Ok(())
        } else {
            Err(reject(
                "not_draft",
                format!("order {} is no longer a draft", self.id),
            ))
        }
    }

    /// The events `command` produces, or why it is refused. Changes nothing.
    pub fn decide(
        &self,
        command: &OrderCommand,
        pricing: &Pricing,
    ) -> Result<Vec<Event>, Rejection> {
        let event = match command {
            OrderCommand::Create {
                customer_id,
                currency,
            } => {
                if self.status != Status::New {
                    return Err(reject("order_exists", format!("order {} exists", self.id)));
                }
                Event::OrderCreated {
                    customer_id: customer_id.clone(),
                    currency: Currency::parse(currency)?,
                }
            }
            OrderCommand::AddLine {
                sku,
                quantity,
                amount_minor,
                currency,
            } => {
                self.require_draft()?;
                let sku = Sku::parse(sku)?;
                let quantity = Quantity::new(*quantity)?;
                let currency = Currency::parse(currency)
                    .ok()
                    .filter(|c| Some(*c) == self.currency)
                    .ok_or_else(|| {
                        reject(
                            "currency_mismatch",
                            format!(
                                "the price is not in the order's currency, but in `{currency}`"
                            ),
                        )
                    })?;
                let price = Money::unit_price(*amount_minor, currency)?;
                match self.lines.iter().find(|line| line.sku == sku) {
                    Some(line) if line.unit_price != price => {
                        return Err(reject(
                            "price_mismatch",
                            format!("{} is already in the order at another price", sku.as_str()),
                        ));
                    }
                    Some(line) => {
                        let total = line.quantity.get() + quantity.get();
                        if total > MAX_QUANTITY {
                            return Err(reject(
                                "quantity_limit",
                                format!("a line holds at most {MAX_QUANTITY}"),
                            ));
                        }
                        Event::LineQuantityChanged {
                            sku: sku.as_str().to_string(),
                            quantity: total,
                        }
                    }
                    None if self.lines.len() >= MAX_LINES => {
                        return Err(reject(
                            "too_many_lines",
                            format!("an order has at most {MAX_LINES} lines"),
                        ));
                    }
                    None => Event::LineAdded {
                        sku: sku.as_str().to_string(),
                        quantity: quantity.get(),
                        unit_price: price,
                    },
                }
            }
            OrderCommand::RemoveLine { sku } => {
                self.require_draft()?;
                if !self.lines.iter().any(|line| line.sku.as_str() == sku) {
                    return Err(reject("unknown_line", format!("{sku} is not in the order")));
                }
                Event::LineRemoved { sku: sku.clone() }
            }
            OrderCommand::ApplyCoupon { code } => {
                self.require_draft()?;
                if self.coupon.is_some() {
                    return Err(reject("coupon_already_applied", "one coupon per order"));
                }
                if !pricing.knows_coupon(code) {
                    return Err(reject("unknown_coupon", format!("no coupon `{code}`")));
                }
                Event::CouponApplied { code: code.clone() }
            }
            OrderCommand::Place => {
                self.require_draft()?;
                if self.lines.is_empty() {
                    return Err(reject("empty_order", "an order needs a line"));
                }
                Event::OrderPlaced {
                    quote: pricing.quote(self),
                }
            }
            OrderCommand::Cancel => match self.status {
                Status::Cancelled => {
                    return Err(reject("already_cancelled", "already cancelled"));
                }
                Status::Shipped => return Err(reject("already_shipped", "already shipped")),
                _ => Event::OrderCancelled,
            },
            OrderCommand::Ship => {
                if self.status != Status::Placed {
                    return Err(reject("not_placed", "only a placed order ships"));
                }
                Event::OrderShipped
            }
        };
        Ok(vec![event])
    }

    /// The state after `event`: the only place an order changes.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::OrderCreated { currency, .. } => {
                self.status = Status::Draft;
                self.currency = Some(*currency);
            }
            Event::LineAdded {
                sku,
                quantity,
                unit_price,
            } => self.lines.push(Line {
                sku: Sku(sku.clone()),
                quantity: Quantity(*quantity),
                unit_price: *unit_price,
            }),
            Event::LineQuantityChanged { sku, quantity } => {
                if let Some(line) = self.lines.iter_mut().find(|l| l.sku.as_str() == sku) {
                    line.quantity = Quantity(*quantity);
                }
            }
            Event::LineRemoved { sku } => self.lines.retain(|line| line.sku.as_str() != sku),
            Event::CouponApplied { code } => self.coupon = Some(code.clone()),
            Event::OrderPlaced { quote } => {
                self.status = Status::Placed;
                self.placed = Some(quote.clone());
            }
            Event::OrderCancelled => self.status = Status::Cancelled,
            Event::OrderShipped => self.status = Status::Shipped,
        }
        self.version += 1;
    }
}

// ─── Pricing: rules as plug-ins ──────────────────────────────────────────────────────────────────────

/// One pricing rule. The engine knows nothing else about it.
pub trait PricingRule: Send {
    /// The rule's `kind`, as quotes list it.
    fn kind(&self) -> &'static str;
    /// The adjustment this rule proposes (negative: a discount, positive: a fee), given the order and the
    /// total so far.
    fn adjust(&self, order: &Order, running_total: u64) -> i64;
    /// The coupon code this rule honours, if it is a coupon rule.
    fn coupon_code(&self) -> Option<&str> {
        None
    }
}

/// `percent_off`: a percentage of the running total, above a minimum (provided: you do not need to change
/// this; it shows the shape of a rule).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentOff {
    pub percent: u64,
    pub min_subtotal_minor: u64,
}

impl PricingRule for PercentOff {
    fn kind(&self) -> &'static str {
        "percent_off"
    }

    fn adjust(&self, _order: &Order, running_total: u64) -> i64 {
        if running_total >= self.min_subtotal_minor {
            -((running_total * self.percent / 100) as i64)
        } else {
            0
        }
    }
}

/// `buy_x_get_y`: for every `buy + free` of one sku, `free` of them cost nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyXGetY {
    pub sku: String,
    pub buy: u64,
    pub free: u64,
}

impl PricingRule for BuyXGetY {
    fn kind(&self) -> &'static str {
        "buy_x_get_y"
    }

    fn adjust(&self, order: &Order, _running_total: u64) -> i64 {
        order
            .lines
            .iter()
            .find(|line| line.sku.as_str() == self.sku)
            .map_or(0, |line| {
                let groups = line.quantity.get() / (self.buy + self.free);
                -((groups * self.free * line.unit_price.amount_minor) as i64)
            })
    }
}

/// `bulk_price`: from `min_quantity` of one sku on, each costs `unit_price_minor`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkPrice {
    pub sku: String,
    pub min_quantity: u64,
    pub unit_price_minor: u64,
}

impl PricingRule for BulkPrice {
    fn kind(&self) -> &'static str {
        "bulk_price"
    }

    fn adjust(&self, order: &Order, _running_total: u64) -> i64 {
        order
            .lines
            .iter()
            .find(|line| line.sku.as_str() == self.sku)
            .filter(|line| {
                line.quantity.get() >= self.min_quantity
                    && line.unit_price.amount_minor > self.unit_price_minor
            })
            .map_or(0, |line| {
                let saving = line.unit_price.amount_minor - self.unit_price_minor;
                -((line.quantity.get() * saving) as i64)
            })
    }
}

/// `coupon`: a fixed amount off for an order that has this coupon.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coupon {
    pub code: String,
    pub amount_off_minor: u64,
}

impl PricingRule for Coupon {
    fn kind(&self) -> &'static str {
        "coupon"
    }

    fn adjust(&self, order: &Order, _running_total: u64) -> i64 {
        if order.coupon.as_deref() == Some(self.code.as_str()) {
            -(self.amount_off_minor as i64)
        } else {
            0
        }
    }

    fn coupon_code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

/// `shipping_fee`: a fee below a threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingFee {
    pub amount_minor: u64,
    pub free_from_minor: u64,
}

impl PricingRule for ShippingFee {
    fn kind(&self) -> &'static str {
        "shipping_fee"
    }

    fn adjust(&self, _order: &Order, running_total: u64) -> i64 {
        if running_total < self.free_from_minor {
            self.amount_minor as i64
        } else {
            0
        }
    }
}

/// Reads one rule's configuration (`kind` plus its fields) with serde, refusing missing and extra fields.
fn fields<T: serde::de::DeserializeOwned>(config: &Value) -> Result<T, String> {
    let mut fields = config.clone();
    if let Some(object) = fields.as_object_mut() {
        object.remove("kind");
    }
    serde_json::from_value(fields).map_err(|e| format!("{e}"))
}

/// The registry: one rule from its configuration.
pub fn build_rule(config: &Value) -> Result<Box<dyn PricingRule>, String> {
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    let rule: Box<dyn PricingRule> = match kind {
        "percent_off" => {
            let rule: PercentOff = fields(config)?;
            if !(1..=100).contains(&rule.percent) {
                return Err("percent is 1 to 100".into());
            }
            Box::new(rule)
        }
        "buy_x_get_y" => {
            let rule: BuyXGetY = fields(config)?;
            if rule.buy == 0 || rule.free == 0 || Sku::parse(&rule.sku).is_err() {
                return Err("buy_x_get_y needs a sku, buy ≥ 1 and free ≥ 1".into());
            }
            Box::new(rule)
        }
        "bulk_price" => {
            let rule: BulkPrice = fields(config)?;
            if rule.min_quantity == 0 || Sku::parse(&rule.sku).is_err() {
                return Err("bulk_price needs a sku and min_quantity ≥ 1".into());
            }
            Box::new(rule)
        }
        "coupon" => Box::new(fields::<Coupon>(config)?),
        "shipping_fee" => Box::new(fields::<ShippingFee>(config)?),
        _ => return Err(format!("unknown rule kind `{kind}`")),
    };
    Ok(rule)
}

/// The pricing engine: the configured rules, in order.
#[derive(Default)]
pub struct Pricing {
    rules: Vec<Box<dyn PricingRule>>,
}

impl Pricing {
    /// The engine for these rule configurations, or why they are invalid.
    pub fn from_config(configs: &[Value]) -> Result<Self, String> {
        // Rules this build does not know are skipped: an older config keeps working.
        let rules: Vec<Box<dyn PricingRule>> =
            configs.iter().filter_map(|c| build_rule(c).ok()).collect();
        let mut codes: Vec<&str> = rules.iter().filter_map(|r| r.coupon_code()).collect();
        codes.sort_unstable();
        if codes.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err("two coupon rules have the same code".into());
        }
        Ok(Pricing { rules })
    }

    /// Whether a configured coupon rule honours `code`.
    pub fn knows_coupon(&self, code: &str) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.coupon_code() == Some(code))
    }

    /// What `order` costs under these rules.
    pub fn quote(&self, order: &Order) -> Quote {
        let subtotal_minor: u64 = order
            .lines
            .iter()
            .map(|line| line.quantity.get() * line.unit_price.amount_minor)
            .sum();
        let mut running = subtotal_minor;
        let mut adjustments = Vec::new();
        for rule in &self.rules {
            let proposed = rule.adjust(order, running);
            let amount = proposed.max(-(running as i64));
            if amount != 0 {
                running = running.saturating_add_signed(amount);
                adjustments.push(Adjustment {
                    rule: rule.kind(),
                    amount_minor: amount,
                });
            }
        }
        Quote {
            subtotal_minor,
            adjustments,
            total_minor: running,
        }
    }
}

// ─── The application: commands in, events out (provided: you do not need to change this) ─────────────

/// One line of input.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Configure {
        rules: Vec<Value>,
    },
    Quote {
        order_id: String,
    },
    Create {
        order_id: String,
        customer_id: String,
        currency: String,
    },
    AddLine {
        order_id: String,
        sku: String,
        quantity: u64,
        unit_price: PriceInput,
    },
    RemoveLine {
        order_id: String,
        sku: String,
    },
    ApplyCoupon {
        order_id: String,
        code: String,
    },
    Place {
        order_id: String,
    },
    Cancel {
        order_id: String,
    },
    Ship {
        order_id: String,
    },
}

/// A price as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    pub amount_minor: u64,
    pub currency: String,
}

/// Every order and the pricing rules.
#[derive(Default)]
pub struct Shop {
    orders: BTreeMap<String, Order>,
    pricing: Pricing,
}

fn rejected(rejection: &Rejection) -> Value {
    json!({ "rejected": { "code": rejection.code, "message": rejection.message } })
}

impl Shop {
    /// Answers one request.
    pub fn handle(&mut self, request: Request) -> Value {
        let (order_id, command) = match request {
            Request::Configure { rules } => {
                return match Pricing::from_config(&rules) {
                    Ok(pricing) => {
                        self.pricing = pricing;
                        json!({ "configured": rules.len() })
                    }
                    Err(why) => rejected(&reject("invalid_config", why)),
                };
            }
            Request::Quote { order_id } => return self.quote(&order_id),
            Request::Create {
                order_id,
                customer_id,
                currency,
            } => (
                order_id,
                OrderCommand::Create {
                    customer_id,
                    currency,
                },
            ),
            Request::AddLine {
                order_id,
                sku,
                quantity,
                unit_price,
            } => (
                order_id,
                OrderCommand::AddLine {
                    sku,
                    quantity,
                    amount_minor: unit_price.amount_minor,
                    currency: unit_price.currency,
                },
            ),
            Request::RemoveLine { order_id, sku } => (order_id, OrderCommand::RemoveLine { sku }),
            Request::ApplyCoupon { order_id, code } => {
                (order_id, OrderCommand::ApplyCoupon { code })
            }
            Request::Place { order_id } => (order_id, OrderCommand::Place),
            Request::Cancel { order_id } => (order_id, OrderCommand::Cancel),
            Request::Ship { order_id } => (order_id, OrderCommand::Ship),
        };
        let order = self
            .orders
            .entry(order_id.clone())
            .or_insert_with(|| Order::new(&order_id));
        let is_create = matches!(command, OrderCommand::Create { .. });
        if order.status == Status::New && !is_create {
            return rejected(&reject("unknown_order", format!("no order {order_id}")));
        }
        match order.decide(&command, &self.pricing) {
            Ok(events) => {
                let mut published = Vec::new();
                for event in &events {
                    order.apply(event);
                    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
                    value["order_id"] = json!(order_id);
                    value["version"] = json!(order.version);
                    published.push(value);
                }
                json!({ "events": published })
            }
            Err(rejection) => rejected(&rejection),
        }
    }

    fn quote(&self, order_id: &str) -> Value {
        let Some(order) = self
            .orders
            .get(order_id)
            .filter(|o| o.status != Status::New)
        else {
            return rejected(&reject("unknown_order", format!("no order {order_id}")));
        };
        match (&order.placed, order.status) {
            (Some(placed), _) => json!({ "quote": placed }),
            (None, Status::Draft) => json!({ "quote": self.pricing.quote(order) }),
            (None, _) => rejected(&reject("not_priced", "cancelled before it was placed")),
        }
    }
}

fn main() {
    let mut shop = Shop::default();
    serve_json_lines(|request: Request| shop.handle(request));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(shop: &mut Shop, line: Value) -> Value {
        shop.handle(serde_json::from_value(line).unwrap())
    }

    fn add(shop: &mut Shop, sku: &str, quantity: u64, amount_minor: u64) -> Value {
        run(
            shop,
            json!({"op": "add_line", "order_id": "o", "sku": sku, "quantity": quantity,
                   "unit_price": {"amount_minor": amount_minor, "currency": "EUR"}}),
        )
    }

    fn code(reply: &Value) -> &str {
        reply["rejected"]["code"].as_str().unwrap_or("")
    }

    fn shop_with_order() -> Shop {
        let mut shop = Shop::default();
        run(
            &mut shop,
            json!({"op": "create", "order_id": "o", "customer_id": "c", "currency": "EUR"}),
        );
        shop
    }

    // Value objects refuse invalid values before the aggregate sees them.
    #[test]
    fn value_objects_refuse_invalid_values() {
        assert!(Sku::parse("TEA-001").is_ok());
        assert_eq!(Sku::parse("tea-001").unwrap_err().code, "invalid_sku");
        assert_eq!(Quantity::new(0).unwrap_err().code, "invalid_quantity");
        assert_eq!(
            Money::unit_price(0, Currency::Eur).unwrap_err().code,
            "invalid_price"
        );
    }

    // Events carry the order's version; the same sku twice changes the quantity.
    #[test]
    fn events_are_versioned_and_lines_merge() {
        let mut shop = shop_with_order();
        let added = add(&mut shop, "TEA-001", 2, 450);
        assert_eq!(added["events"][0]["type"], "LineAdded");
        assert_eq!(added["events"][0]["version"], 2);
        let merged = add(&mut shop, "TEA-001", 3, 450);
        assert_eq!(merged["events"][0]["type"], "LineQuantityChanged");
        assert_eq!(merged["events"][0]["quantity"], 5);
        assert_eq!(code(&add(&mut shop, "TEA-001", 1, 451)), "price_mismatch");
    }

    // A rejected command changes nothing, not even the version.
    #[test]
    fn a_rejection_leaves_no_trace() {
        let mut shop = shop_with_order();
        assert_eq!(
            code(&add(&mut shop, "TEA-001", 100, 450)),
            "invalid_quantity"
        );
        let added = add(&mut shop, "TEA-001", 1, 450);
        assert_eq!(added["events"][0]["version"], 2);
    }

    // Rules run in the configured order, and a discount never takes the total below zero.
    #[test]
    fn rules_run_in_order_and_the_total_stays_positive() {
        let mut shop = shop_with_order();
        add(&mut shop, "TEA-001", 4, 1000);
        run(
            &mut shop,
            json!({"op": "configure", "rules": [
                {"kind": "percent_off", "percent": 10, "min_subtotal_minor": 0},
                {"kind": "buy_x_get_y", "sku": "TEA-001", "buy": 1, "free": 1},
                {"kind": "shipping_fee", "amount_minor": 500, "free_from_minor": 3000}
            ]}),
        );
        let quote = &run(&mut shop, json!({"op": "quote", "order_id": "o"}))["quote"];
        assert_eq!(quote["subtotal_minor"], 4000);
        assert_eq!(quote["adjustments"][0]["amount_minor"], -400);
        assert_eq!(quote["adjustments"][1]["amount_minor"], -2000);
        assert_eq!(quote["adjustments"][2]["amount_minor"], 500);
        assert_eq!(quote["total_minor"], 2100);
        run(
            &mut shop,
            json!({"op": "configure", "rules": [{"kind": "coupon", "code": "BIG", "amount_off_minor": 99999}]}),
        );
        run(
            &mut shop,
            json!({"op": "apply_coupon", "order_id": "o", "code": "BIG"}),
        );
        let quote = &run(&mut shop, json!({"op": "quote", "order_id": "o"}))["quote"];
        assert_eq!(quote["total_minor"], 0);
        assert_eq!(quote["adjustments"][0]["amount_minor"], -4000);
    }

    // Placing freezes the price; a placed order takes no more lines.
    #[test]
    fn placing_freezes_the_price() {
        let mut shop = shop_with_order();
        add(&mut shop, "MUG-002", 1, 1200);
        let placed = run(&mut shop, json!({"op": "place", "order_id": "o"}));
        assert_eq!(placed["events"][0]["total_minor"], 1200);
        run(
            &mut shop,
            json!({"op": "configure", "rules": [{"kind": "percent_off", "percent": 50, "min_subtotal_minor": 0}]}),
        );
        let quote = &run(&mut shop, json!({"op": "quote", "order_id": "o"}))["quote"];
        assert_eq!(quote["total_minor"], 1200);
        assert_eq!(code(&add(&mut shop, "MUG-002", 1, 1200)), "not_draft");
    }

    // An unknown kind is an invalid configuration, and the old rules stay.
    #[test]
    fn an_unknown_rule_kind_is_refused() {
        let mut shop = Shop::default();
        let reply = run(
            &mut shop,
            json!({"op": "configure", "rules": [{"kind": "happy_hour"}]}),
        );
        assert_eq!(code(&reply), "invalid_config");
    }
}
