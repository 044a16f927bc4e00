//! Grader of `route8_ddd_aggregate`: an order aggregate that emits domain events or rejections, and a
//! pricing engine whose rules come from configuration.
//!
//! Every request goes through an exact model ([`model`]) and every reply is compared: events exactly (type,
//! fields, the order's version), rejections by their code, quotes to the minor unit. The scenarios walk an
//! order's life, then every invariant (each rejection, and that a rejected command leaves no trace), then
//! pricing: the same order under different configurations (the same rules in another order, a rule kind twice,
//! a discount larger than the total), configuration changes that reprice drafts and never placed orders, and
//! invalid configurations that leave the old rules in place. A seeded random script mixes everything.

mod model;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use crate::support::show;
use model::{Expect, Model};

/// The skus of the scripts: more than an order may hold.
const SKUS: [&str; 12] = [
    "TEA-001", "MUG-002", "PAN-003", "CUP-004", "JAR-005", "BAG-006", "BOX-007", "PEN-008",
    "INK-009", "MAP-010", "KIT-011", "LID-012",
];
/// How many commands the random script sends.
const RANDOM_COMMANDS: usize = 400;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut rng = g.rng().fork(8);
    let mut shop = Shop {
        session: g.stdio()?,
        model: Model::default(),
    };

    g.scenario("an order's life: created, lines added and merged, a coupon, placed, shipped");
    life(&mut shop, &mut rng)?;
    g.scenario(
        "every invariant is guarded: the command is rejected with its code, and leaves no trace",
    );
    invariants(&mut shop, &mut rng)?;
    g.scenario(
        "pricing rules apply in the configured order, and a discount never takes a total below 0",
    );
    pricing_order(&mut shop, &mut rng)?;
    g.scenario("a new configuration reprices draft orders, never placed ones");
    reconfiguration(&mut shop, &mut rng)?;
    g.scenario("an invalid configuration is refused, and the rules in place stay");
    invalid_configurations(&mut shop, &mut rng)?;
    g.scenario(&format!(
        "a seeded random script of {RANDOM_COMMANDS} commands across orders and configurations"
    ));
    random_script(&mut shop, &mut rng)
}

/// The running program and the model.
struct Shop {
    session: Stdio,
    model: Model,
}

impl Shop {
    fn send(&mut self, request: Value) -> Result<Value, Failure> {
        let before = request["order_id"]
            .as_str()
            .and_then(|id| self.model.orders.get(id))
            .map(|o| o.describe());
        let config = show(&self.model.config);
        let expect = self.model.apply(&request);
        let reply = self.session.request(&request)?;
        check(&request, &expect, &reply).map_err(|failure| {
            let failure = failure.detail(format!("the request: {}", show(&request)));
            let failure = match before {
                Some(state) => failure.detail(format!("the order before it: {state}")),
                None => failure.detail("the order did not exist before it"),
            };
            failure.detail(format!("the pricing rules in place: {config}"))
        })?;
        Ok(reply)
    }
}

/// Why each rejection code exists, for a report.
fn rule_of(code: &str) -> &'static str {
    match code {
        "unknown_order" => {
            "a command for an order that was never created is rejected unknown_order"
        }
        "order_exists" => "creating an order that exists is rejected order_exists",
        "invalid_currency" => {
            "an order's currency is EUR, USD or GBP: anything else is invalid_currency"
        }
        "not_draft" => {
            "only a draft order changes: lines, coupons and placing are rejected not_draft once it is placed, shipped or cancelled"
        }
        "invalid_sku" => {
            "a sku is three capital letters, a dash and three digits (the value object refuses anything else): invalid_sku"
        }
        "invalid_quantity" => {
            "a quantity is 1 to 99 (the value object refuses anything else): invalid_quantity"
        }
        "currency_mismatch" => "a price must be in the order's currency: currency_mismatch",
        "invalid_price" => "a unit price is 1 to 1000000 minor units: invalid_price",
        "price_mismatch" => {
            "the same sku at another price than its line's is price_mismatch (one line per sku)"
        }
        "quantity_limit" => "adding to a line may not take it above 99: quantity_limit",
        "too_many_lines" => "an order has at most 10 lines: an 11th sku is too_many_lines",
        "unknown_line" => "removing a sku that is not in the order is unknown_line",
        "coupon_already_applied" => "one coupon per order: a second is coupon_already_applied",
        "unknown_coupon" => "a coupon code no configured coupon rule has is unknown_coupon",
        "empty_order" => "an order without lines cannot be placed: empty_order",
        "already_cancelled" => "a cancelled order cannot be cancelled again: already_cancelled",
        "already_shipped" => "a shipped order cannot be cancelled: already_shipped",
        "not_placed" => "only a placed order ships: not_placed",
        "not_priced" => "a draft cancelled before it was placed has no price: not_priced",
        "invalid_config" => {
            "a configuration with an unknown kind, a missing or extra field, a bad value, or a coupon code twice is \
             invalid_config, and the rules in place stay"
        }
        _ => "the rejection codes of the table in the exercise's header",
    }
}

fn check(request: &Value, expect: &Expect, reply: &Value) -> Result<(), Failure> {
    let got_code = reply.pointer("/rejected/code").and_then(Value::as_str);
    match (expect, got_code) {
        (Expect::Rejected(code), Some(got)) if got == *code => {
            if !reply.pointer("/rejected/message").is_some_and(Value::is_string) {
                return Err(Failure::new("a rejection is {\"rejected\": {\"code\": …, \"message\": …}}").got(show(reply)));
            }
            Ok(())
        }
        (Expect::Rejected(code), Some(got)) => Err(Failure::new(format!(
            "{} (when several rules are broken, the first in the order of the table decides the code)",
            rule_of(code)
        ))
        .expected(format!("rejected {code}"))
        .got(format!("rejected {got}"))),
        (Expect::Rejected(code), None) => Err(Failure::new(rule_of(code))
            .expected(format!("rejected {code}"))
            .got(show(reply))
            .detail("an aggregate guards its invariants: a command that breaks one produces no event")),
        (Expect::Reply(want), Some(got)) => Err(Failure::new(
            "this command is allowed by every rule of the aggregate: it produces its event",
        )
        .expected(show(want))
        .got(format!("rejected {got}: {}", reply.pointer("/rejected/message").map_or(String::new(), show)))),
        (Expect::Reply(want), None) => compare(request, want, reply),
    }
}

/// Compares an accepted reply with the model's, explaining the first difference.
fn compare(request: &Value, want: &Value, got: &Value) -> Result<(), Failure> {
    if want == got {
        return Ok(());
    }
    if let (Some(want_quote), Some(got_quote)) = (want.get("quote"), got.get("quote")) {
        return Err(pricing_failure(want_quote, got_quote, "quote"));
    }
    let (Some(wants), Some(gots)) = (want["events"].as_array(), got["events"].as_array()) else {
        return Err(Failure::new("the reply has the shape of the contract")
            .expected(show(want))
            .got(show(got)));
    };
    if wants.len() != gots.len() {
        return Err(
            Failure::new("each accepted command produces exactly one event here")
                .expected(show(want))
                .got(show(got)),
        );
    }
    for (w, g) in wants.iter().zip(gots) {
        if w["type"] != g["type"] {
            let rule = if w["type"] == "LineQuantityChanged" {
                "a sku already in the order is the same line: adding it again is LineQuantityChanged with the new total"
            } else {
                "the event type of the contract's table"
            };
            return Err(Failure::new(rule).expected(show(w)).got(show(g)));
        }
        if w["version"] != g["version"] {
            return Err(Failure::new(
                "version counts this order's events from 1, one per event; a rejected command does not move it",
            )
            .expected(format!("version {}", w["version"]))
            .got(format!("version {}", g["version"])));
        }
        if w["type"] == "OrderPlaced"
            && (w["total_minor"] != g["total_minor"] || w["adjustments"] != g["adjustments"])
        {
            return Err(pricing_failure(w, g, "OrderPlaced"));
        }
        if w != g {
            let rule = match request["op"].as_str() {
                Some("add_line") => {
                    "LineAdded carries sku, quantity and unit_price {amount_minor, currency}; LineQuantityChanged the sku and the line's new total quantity"
                }
                _ => {
                    "every event carries type, order_id, version and the fields of the contract's table"
                }
            };
            return Err(Failure::new(rule).expected(show(w)).got(show(g)));
        }
    }
    Ok(())
}

fn pricing_failure(want: &Value, got: &Value, what: &str) -> Failure {
    let mut running = want["subtotal_minor"].as_i64().unwrap_or(0);
    let mut steps = format!("the running total, rule by rule: {running}");
    for adjustment in want["adjustments"].as_array().into_iter().flatten() {
        let amount = adjustment["amount_minor"].as_i64().unwrap_or(0);
        running += amount;
        steps.push_str(&format!(
            " → {} {amount:+} → {running}",
            adjustment["rule"].as_str().unwrap_or("?")
        ));
    }
    Failure::new(format!(
        "the {what}: subtotal = Σ quantity × unit price; then each configured rule in order proposes an adjustment \
         on the running total (a discount capped at the running total); every non-zero adjustment is listed with its \
         kind; placed orders keep the price recorded when they were placed"
    ))
    .expected(format!(
        "subtotal {} · adjustments {} · total {}",
        want["subtotal_minor"],
        show(&want["adjustments"]),
        want["total_minor"]
    ))
    .got(format!(
        "subtotal {} · adjustments {} · total {}",
        got["subtotal_minor"],
        show(&got["adjustments"]),
        got["total_minor"]
    ))
    .detail(steps)
}

fn create(id: &str, currency: &str) -> Value {
    json!({"op": "create", "order_id": id, "customer_id": format!("cust-{id}"), "currency": currency})
}

fn add(id: &str, sku: &str, quantity: u64, price: u64, currency: &str) -> Value {
    json!({"op": "add_line", "order_id": id, "sku": sku, "quantity": quantity,
           "unit_price": {"amount_minor": price, "currency": currency}})
}

fn op(name: &str, id: &str) -> Value {
    json!({"op": name, "order_id": id})
}

fn configure(rules: Value) -> Value {
    json!({"op": "configure", "rules": rules})
}

fn life(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    let code = format!("WELCOME{}", rng.range(1, 9));
    shop.send(configure(json!([
        {"kind": "coupon", "code": code, "amount_off_minor": 500},
        {"kind": "shipping_fee", "amount_minor": 490, "free_from_minor": 5000},
    ])))?;
    let price = rng.range(300, 900);
    shop.send(create("life-1", "EUR"))?;
    shop.send(add("life-1", "TEA-001", 2, price, "EUR"))?;
    shop.send(add("life-1", "MUG-002", 1, 1250, "EUR"))?;
    shop.send(add("life-1", "TEA-001", 3, price, "EUR"))?;
    shop.send(op("quote", "life-1"))?;
    shop.send(json!({"op": "apply_coupon", "order_id": "life-1", "code": code}))?;
    shop.send(json!({"op": "remove_line", "order_id": "life-1", "sku": "MUG-002"}))?;
    shop.send(op("quote", "life-1"))?;
    shop.send(op("place", "life-1"))?;
    shop.send(op("ship", "life-1"))?;
    shop.send(op("quote", "life-1"))?;
    Ok(())
}

fn invariants(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    let currency = *rng.pick(&["EUR", "USD", "GBP"]);
    let other = if currency == "EUR" { "USD" } else { "EUR" };
    let id = "rules-1";
    let steps = vec![
        op("place", id),
        add(id, "TEA-001", 1, 100, currency),
        create(id, "JPY"),
        create(id, currency),
        create(id, currency),
        op("place", id),
        add(id, "tea-001", 1, 100, currency),
        add(id, "TEA-1", 1, 100, currency),
        add(id, "TEA-001", 0, 100, currency),
        add(id, "TEA-001", 100, 100, currency),
        add(id, "TEA-001", 1, 100, other),
        add(id, "TEA-001", 1, 100, "XXX"),
        add(id, "TEA-001", 1, 0, currency),
        add(id, "TEA-001", 1, 1_000_001, currency),
        add(id, "tea-1", 0, 0, other),
        add(id, "TEA-001", 0, 0, other),
        add(id, "TEA-001", 5, 0, other),
        add(id, "TEA-001", 60, 100, currency),
        add(id, "TEA-001", 1, 101, currency),
        add(id, "TEA-001", 40, 100, currency),
        add(id, "TEA-001", 39, 100, currency),
        json!({"op": "remove_line", "order_id": id, "sku": "MUG-002"}),
        json!({"op": "apply_coupon", "order_id": id, "code": "NOPE"}),
    ];
    for step in steps {
        shop.send(step)?;
    }
    for sku in &SKUS[1..] {
        shop.send(add(
            id,
            sku,
            rng.range(1, 5),
            rng.range(100, 2000),
            currency,
        ))?;
    }
    shop.send(json!({"op": "remove_line", "order_id": id, "sku": "LID-012"}))?;
    shop.send(configure(
        json!([{"kind": "coupon", "code": "ONCE", "amount_off_minor": 100}]),
    ))?;
    for step in [
        json!({"op": "apply_coupon", "order_id": id, "code": "ONCE"}),
        json!({"op": "apply_coupon", "order_id": id, "code": "ONCE"}),
        op("ship", id),
        op("place", id),
        op("place", id),
        add(id, "TEA-001", 1, 100, currency),
        json!({"op": "remove_line", "order_id": id, "sku": "TEA-001"}),
        json!({"op": "apply_coupon", "order_id": id, "code": "ONCE"}),
        op("ship", id),
        op("ship", id),
        op("cancel", id),
        create("rules-2", currency),
        op("place", "rules-2"),
        op("cancel", "rules-2"),
        op("cancel", "rules-2"),
        op("quote", "rules-2"),
        op("ship", "rules-2"),
        op("quote", "nobody"),
    ] {
        shop.send(step)?;
    }
    Ok(())
}

/// An order with a few lines, and its id.
fn stocked_order(shop: &mut Shop, rng: &mut Rng, id: &str) -> Result<(), Failure> {
    shop.send(create(id, "EUR"))?;
    shop.send(add(
        id,
        "TEA-001",
        rng.range(3, 12),
        rng.range(400, 1500),
        "EUR",
    ))?;
    shop.send(add(
        id,
        "MUG-002",
        rng.range(1, 4),
        rng.range(900, 3000),
        "EUR",
    ))?;
    Ok(())
}

fn pricing_order(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    stocked_order(shop, rng, "price-1")?;
    let percent =
        json!({"kind": "percent_off", "percent": rng.range(5, 30), "min_subtotal_minor": 0});
    let coupon = json!({"kind": "coupon", "code": "SAVE", "amount_off_minor": rng.range(200, 900)});
    let two_for_one = json!({"kind": "buy_x_get_y", "sku": "TEA-001", "buy": 2, "free": 1});
    let bulk =
        json!({"kind": "bulk_price", "sku": "TEA-001", "min_quantity": 3, "unit_price_minor": 350});
    let fee = json!({"kind": "shipping_fee", "amount_minor": 499, "free_from_minor": rng.range(2000, 9000)});
    shop.send(configure(json!([coupon])))?;
    shop.send(json!({"op": "apply_coupon", "order_id": "price-1", "code": "SAVE"}))?;
    for rules in [
        json!([percent, coupon]),
        json!([coupon, percent]),
        json!([two_for_one, bulk, fee]),
        json!([fee, bulk, two_for_one]),
        json!([percent, percent, coupon, fee]),
        json!([bulk, {"kind": "coupon", "code": "SAVE", "amount_off_minor": 10_000_000}, fee, percent]),
    ] {
        shop.send(configure(rules))?;
        shop.send(op("quote", "price-1"))?;
    }
    shop.send(op("place", "price-1"))?;
    Ok(())
}

fn reconfiguration(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    shop.send(configure(
        json!([{"kind": "percent_off", "percent": 10, "min_subtotal_minor": 1000}]),
    ))?;
    stocked_order(shop, rng, "draft-1")?;
    stocked_order(shop, rng, "placed-1")?;
    shop.send(op("place", "placed-1"))?;
    shop.send(op("quote", "draft-1"))?;
    shop.send(configure(json!([
        {"kind": "bulk_price", "sku": "TEA-001", "min_quantity": 2, "unit_price_minor": 300},
        {"kind": "percent_off", "percent": rng.range(20, 50), "min_subtotal_minor": 0},
    ])))?;
    shop.send(op("quote", "draft-1"))?;
    shop.send(op("quote", "placed-1"))?;
    shop.send(op("cancel", "placed-1"))?;
    shop.send(op("quote", "placed-1"))?;
    shop.send(configure(json!([])))?;
    shop.send(op("quote", "draft-1"))?;
    shop.send(op("place", "draft-1"))?;
    Ok(())
}

fn invalid_configurations(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    let good =
        json!([{"kind": "percent_off", "percent": rng.range(5, 25), "min_subtotal_minor": 0}]);
    shop.send(configure(good))?;
    stocked_order(shop, rng, "conf-1")?;
    for rules in [
        json!([{"kind": "happy_hour", "percent": 50}]),
        json!([{"kind": "percent_off", "percent": 10}]),
        json!([{"kind": "percent_off", "percent": 10, "min_subtotal_minor": 0, "max": 5}]),
        json!([{"kind": "percent_off", "percent": 0, "min_subtotal_minor": 0}]),
        json!([{"kind": "percent_off", "percent": 101, "min_subtotal_minor": 0}]),
        json!([{"kind": "buy_x_get_y", "sku": "TEA-001", "buy": 0, "free": 1}]),
        json!([{"kind": "bulk_price", "sku": "tea", "min_quantity": 2, "unit_price_minor": 1}]),
        json!([{"kind": "coupon", "code": "A", "amount_off_minor": 1}, {"kind": "coupon", "code": "A", "amount_off_minor": 2}]),
        json!([{"kind": "shipping_fee", "amount_minor": -5, "free_from_minor": 0}]),
        json!([{"percent": 10, "min_subtotal_minor": 0}]),
    ] {
        shop.send(configure(rules))?;
        shop.send(op("quote", "conf-1"))?;
    }
    Ok(())
}

/// A random rule configuration.
fn random_rule(rng: &mut Rng) -> Value {
    let sku = *rng.pick(&SKUS[..4]);
    match rng.below(5) {
        0 => {
            json!({"kind": "percent_off", "percent": rng.range(1, 60), "min_subtotal_minor": rng.range(0, 20_000)})
        }
        1 => {
            json!({"kind": "buy_x_get_y", "sku": sku, "buy": rng.range(1, 4), "free": rng.range(1, 2)})
        }
        2 => {
            json!({"kind": "bulk_price", "sku": sku, "min_quantity": rng.range(2, 20), "unit_price_minor": rng.range(50, 900)})
        }
        3 => {
            json!({"kind": "coupon", "code": *rng.pick(&["VIP", "SPRING", "WELCOME"]), "amount_off_minor": rng.range(100, 50_000)})
        }
        _ => {
            json!({"kind": "shipping_fee", "amount_minor": rng.range(100, 900), "free_from_minor": rng.range(0, 30_000)})
        }
    }
}

fn random_script(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    let mut ids: Vec<String> = (1..=4).map(|n| format!("r-{n}")).collect();
    let mut next_id = ids.len() + 1;
    // One price per sku, so most repeated adds merge; sometimes another price, for price_mismatch.
    let prices: Vec<u64> = SKUS.iter().map(|_| rng.range(100, 5_000)).collect();
    for _ in 0..RANDOM_COMMANDS {
        let mut id = rng.pick(&ids).clone();
        // An order past its draft days mostly retires, and a new one takes its place.
        if shop
            .model
            .orders
            .get(&id)
            .is_some_and(|o| o.status != model::Status::Draft)
            && rng.chance(2, 3)
        {
            ids.retain(|other| *other != id);
            id = format!("r-{next_id}");
            next_id += 1;
            ids.push(id.clone());
        }
        let id = id.as_str();
        let currency = shop
            .model
            .orders
            .get(id)
            .map_or("EUR".to_string(), |o| o.currency.clone());
        let fresh = !shop.model.orders.contains_key(id);
        let sku_index = rng.below(SKUS.len() as u64) as usize;
        let currency_of_new = *rng.pick(&["EUR", "EUR", "USD", "GBP", "CHF"]);
        let request = match rng.below(100) {
            _ if fresh && rng.chance(4, 5) => create(id, currency_of_new),
            0..=4 => create(id, currency_of_new),
            5..=49 => {
                let quantity = if rng.chance(1, 15) {
                    *rng.pick(&[0, 100])
                } else {
                    rng.range(1, 40)
                };
                let price = if rng.chance(1, 10) {
                    rng.range(1, 5_000)
                } else {
                    prices[sku_index]
                };
                let currency = if rng.chance(1, 15) {
                    "GBP".to_string()
                } else {
                    currency
                };
                add(id, SKUS[sku_index], quantity, price, &currency)
            }
            50..=57 => json!({"op": "remove_line", "order_id": id, "sku": SKUS[sku_index]}),
            58..=63 => {
                json!({"op": "apply_coupon", "order_id": id, "code": *rng.pick(&["VIP", "SPRING", "WELCOME", "BOGUS"])})
            }
            64..=73 => op("quote", id),
            74..=81 => op("place", id),
            82..=86 => op("ship", id),
            87..=90 => op("cancel", id),
            _ => {
                let rules: Vec<Value> = (0..rng.range(0, 5)).map(|_| random_rule(rng)).collect();
                configure(Value::Array(rules))
            }
        };
        shop.send(request)?;
    }
    Ok(())
}
