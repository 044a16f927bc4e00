//! The exact model of the product list: which rows a query selects, in which order, and which of them a
//! page holds, for offset pages and for keyset (cursor) pages.

use std::cmp::Ordering;

use backlings_grade::Rng;
use serde_json::{Value, json};

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub category: String,
    pub price_cents: u64,
    pub rating: u64,
}

impl Product {
    /// The JSON the server serves.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "price_cents": self.price_cents,
            "rating": self.rating,
        })
    }

    /// The body of `POST /products` for it.
    pub fn to_body(&self) -> Value {
        json!({
            "name": self.name,
            "category": self.category,
            "price_cents": self.price_cents,
            "rating": self.rating,
        })
    }
}

/// A list query: filters, sort (as requested) and page size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub category: Option<String>,
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    pub rating_min: Option<u64>,
    pub q: Option<String>,
    /// `(field, descending)`.
    pub sort: Vec<(&'static str, bool)>,
    pub limit: u64,
}

impl Query {
    /// The query's parameters, in a seeded order, before encoding.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if let Some(category) = &self.category {
            pairs.push(("category".into(), category.clone()));
        }
        for (key, bound) in [
            ("price_min", self.price_min),
            ("price_max", self.price_max),
            ("rating_min", self.rating_min),
        ] {
            if let Some(bound) = bound {
                pairs.push((key.into(), bound.to_string()));
            }
        }
        if let Some(q) = &self.q {
            pairs.push(("q".into(), q.clone()));
        }
        if !self.sort.is_empty() {
            let sort: Vec<String> = self
                .sort
                .iter()
                .map(|(field, descending)| {
                    if *descending {
                        format!("-{field}")
                    } else {
                        field.to_string()
                    }
                })
                .collect();
            pairs.push(("sort".into(), sort.join(",")));
        }
        pairs.push(("limit".into(), self.limit.to_string()));
        pairs
    }

    /// The query in words, for a report.
    pub fn describe(&self) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The sort actually applied: the requested keys, then `id` ascending unless `id` is among them.
    fn effective_sort(&self) -> Vec<(&'static str, bool)> {
        let mut keys = self.sort.clone();
        if !keys.iter().any(|(field, _)| *field == "id") {
            keys.push(("id", false));
        }
        keys
    }

    fn selects(&self, product: &Product) -> bool {
        self.category
            .as_ref()
            .is_none_or(|c| *c == product.category)
            && self.price_min.is_none_or(|min| product.price_cents >= min)
            && self.price_max.is_none_or(|max| product.price_cents <= max)
            && self.rating_min.is_none_or(|min| product.rating >= min)
            && self.q.as_ref().is_none_or(|q| {
                product
                    .name
                    .to_ascii_lowercase()
                    .contains(&q.to_ascii_lowercase())
            })
    }

    /// The order of two products under this query's sort.
    pub fn compare(&self, a: &Product, b: &Product) -> Ordering {
        for (field, descending) in self.effective_sort() {
            let order = match field {
                "name" => a.name.as_bytes().cmp(b.name.as_bytes()),
                "price_cents" => a.price_cents.cmp(&b.price_cents),
                "rating" => a.rating.cmp(&b.rating),
                _ => a.id.cmp(&b.id),
            };
            let order = if descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }

    /// Every product the query selects, in its order.
    pub fn select<'a>(&self, products: &'a [Product]) -> Vec<&'a Product> {
        let mut selected: Vec<&Product> = products.iter().filter(|p| self.selects(p)).collect();
        selected.sort_by(|a, b| self.compare(a, b));
        selected
    }

    /// The offset page: its rows, the total, whether a next page exists.
    pub fn offset_page(&self, products: &[Product], offset: u64) -> (Vec<Product>, u64, bool) {
        let selected = self.select(products);
        let total = selected.len() as u64;
        let items = selected
            .into_iter()
            .skip(offset as usize)
            .take(self.limit as usize)
            .cloned()
            .collect();
        (items, total, offset + self.limit < total)
    }

    /// The keyset page after `after` (the last row served), and whether rows remain after it.
    pub fn cursor_page(
        &self,
        products: &[Product],
        after: Option<&Product>,
    ) -> (Vec<Product>, bool) {
        let rest: Vec<&Product> = self
            .select(products)
            .into_iter()
            .filter(|p| after.is_none_or(|last| self.compare(p, last) == Ordering::Greater))
            .collect();
        let more = rest.len() as u64 > self.limit;
        (
            rest.into_iter()
                .take(self.limit as usize)
                .cloned()
                .collect(),
            more,
        )
    }
}

pub const CATEGORIES: [&str; 4] = ["books", "games", "music", "tools"];
const PRICES: [u64; 6] = [499, 999, 1999, 2999, 4999, 9999];
const NOUNS: [&str; 8] = [
    "lamp",
    "Lamp",
    "desk lamp",
    "Desk",
    "mug",
    "chair",
    "Zebra print",
    "émile's mug",
];
const MARKS: [&str; 5] = ["", " 50% off", " big_one", " Pro", " (used)"];

/// A new product (not stored yet: `id` is the one it will get).
pub fn random_product(rng: &mut Rng, id: u64) -> Product {
    let price_cents = if rng.chance(1, 8) {
        rng.range(1, 20_000)
    } else {
        *rng.pick(&PRICES)
    };
    Product {
        id,
        name: format!("{}{}", rng.pick(&NOUNS), rng.pick(&MARKS)),
        category: rng.pick(&CATEGORIES).to_string(),
        price_cents,
        rating: rng.range(1, 5),
    }
}

/// A seeded query: some filters, a sort of one to three keys, a small limit.
pub fn random_query(rng: &mut Rng) -> Query {
    let mut query = Query {
        limit: rng.range(3, 12),
        ..Query::default()
    };
    if rng.chance(1, 3) {
        query.category = Some(rng.pick(&CATEGORIES).to_string());
    }
    if rng.chance(1, 4) {
        query.price_min = Some(*rng.pick(&PRICES));
    }
    if rng.chance(1, 4) {
        query.price_max = Some(*rng.pick(&PRICES) + 1_000);
    }
    if rng.chance(1, 4) {
        query.rating_min = Some(rng.range(2, 4));
    }
    if rng.chance(1, 5) {
        query.q = Some(
            rng.pick(&["lamp", "MUG", "50%", "_", " ", "pro"])
                .to_string(),
        );
    }
    let mut fields = ["rating", "price_cents", "name", "id"];
    rng.shuffle(&mut fields);
    let count = rng.below(4) as usize;
    query.sort = fields[..count]
        .iter()
        .map(|f| (*f, rng.chance(1, 2)))
        .collect();
    query
}
