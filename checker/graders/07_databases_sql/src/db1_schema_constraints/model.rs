//! What the shop should hold after the grader's requests, and the JSON an order must read back as.

use std::collections::BTreeMap;

use backlings_grade::Rng;
use serde_json::{Value, json};

const FIRST_NAMES: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie",
    "Margaret", "Tony",
];
const DOMAINS: [&str; 4] = ["example.com", "example.org", "shop.test", "mail.example"];
const PRODUCTS: [(&str, &str); 10] = [
    ("KB", "Keyboard"),
    ("MS", "Mouse"),
    ("MN", "Monitor"),
    ("HD", "Headset"),
    ("CB", "USB-C Cable"),
    ("DK", "Dock"),
    ("WC", "Webcam"),
    ("SD", "SSD 1 TB"),
    ("LP", "Laptop Stand"),
    ("MP", "Mouse Pad"),
];

/// An order: its customer id, and its lines (product id, quantity, unit price) sorted by product id.
pub type Order = (i64, Vec<(i64, i64, i64)>);

/// The shop as the grader believes it is. Maps are ordered so reports and choices never depend on hashing.
#[derive(Debug, Default)]
pub struct Shop {
    /// id → (email, name)
    pub customers: BTreeMap<i64, (String, String)>,
    /// id → (sku, name, price_cents)
    pub products: BTreeMap<i64, (String, String, i64)>,
    /// id → order
    pub orders: BTreeMap<i64, Order>,
    serial: u64,
}

impl Shop {
    /// A valid email and name nobody has (emails differ in more than case).
    pub fn fresh_customer(&mut self, rng: &mut Rng) -> (String, String) {
        self.serial += 1;
        let first = *rng.pick(&FIRST_NAMES);
        let email = format!(
            "{}.{}{}@{}",
            first.to_lowercase(),
            rng.word(4),
            self.serial,
            rng.pick(&DOMAINS)
        );
        (email, format!("{first} {}", rng.word(5)))
    }

    /// A valid SKU nobody has, a name and a price.
    pub fn fresh_product(&mut self, rng: &mut Rng) -> (String, String, i64) {
        self.serial += 1;
        let (code, name) = *rng.pick(&PRODUCTS);
        let sku = format!("{code}-{:03}{}", self.serial, rng.word(2).to_uppercase());
        (sku, name.to_string(), rng.range(199, 99_999) as i64)
    }

    /// Records a created customer.
    pub fn add_customer(&mut self, id: i64, email: String, name: String) {
        self.customers.insert(id, (email, name));
    }

    /// Records a created product.
    pub fn add_product(&mut self, id: i64, sku: String, name: String, price: i64) {
        self.products.insert(id, (sku, name, price));
    }

    /// Records a created order, each line at the product's current price.
    pub fn add_order(&mut self, id: i64, customer: i64, lines: &[(i64, i64)]) {
        let mut lines: Vec<(i64, i64, i64)> = lines
            .iter()
            .map(|&(product, quantity)| (product, quantity, self.products[&product].2))
            .collect();
        lines.sort_unstable();
        self.orders.insert(id, (customer, lines));
    }

    /// Customer ids, ascending.
    pub fn customer_ids(&self) -> Vec<i64> {
        self.customers.keys().copied().collect()
    }

    /// Product ids, ascending.
    pub fn product_ids(&self) -> Vec<i64> {
        self.products.keys().copied().collect()
    }

    /// Order ids, ascending.
    pub fn order_ids(&self) -> Vec<i64> {
        self.orders.keys().copied().collect()
    }

    /// The orders of `customer`, ascending.
    pub fn orders_of(&self, customer: i64) -> Vec<i64> {
        self.orders
            .iter()
            .filter(|(_, (c, _))| *c == customer)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The largest id handed out in any table (an id above it exists nowhere).
    pub fn max_id(&self) -> i64 {
        let max = |ids: Vec<i64>| ids.into_iter().max().unwrap_or(0);
        max(self.customer_ids())
            .max(max(self.product_ids()))
            .max(max(self.order_ids()))
            + 1_000
    }

    /// `GET /orders/{id}` as the contract says it reads.
    pub fn order_json(&self, id: i64) -> Value {
        let (customer, lines) = &self.orders[&id];
        let (email, name) = &self.customers[customer];
        let items: Vec<Value> = lines
            .iter()
            .map(|&(product, quantity, price)| {
                let (sku, pname, _) = &self.products[&product];
                json!({ "product_id": product, "sku": sku, "name": pname, "quantity": quantity,
                        "unit_price_cents": price })
            })
            .collect();
        let total: i64 = lines.iter().map(|&(_, q, p)| q * p).sum();
        json!({ "id": id, "customer": { "id": customer, "email": email, "name": name },
                "items": items, "total_cents": total })
    }
}

/// `email` with the case of some of its letters flipped (at least one), so it differs only in case.
pub fn other_case(email: &str, rng: &mut Rng) -> String {
    let letters: Vec<usize> = email
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    let forced = *rng.pick(&letters);
    email
        .char_indices()
        .map(|(i, c)| {
            if i == forced || (c.is_ascii_alphabetic() && rng.chance(1, 2)) {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}
