//! Grader of `db1_schema_constraints`: a shop's normalized schema with PRIMARY KEY, UNIQUE, CHECK, NOT NULL,
//! STRICT types and FOREIGN KEYs, behind a JSON API that maps each refusal to 409 or 422.
//!
//! The grader drives the API against a model of the shop and compares every status and every order read
//! back; after each refused write it counts the rows in the database file itself (nothing may have been
//! written). It then opens the file as a second client, bypassing the API, and checks that the database
//! refuses the same bad rows, and finally restarts the program on its own file.

mod model;

use backlings_grade::{Failure, Grading, Rng, Server};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::support::{self, DbDir};
use model::Shop;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DbDir::new("shop.db")?;
    g.scenario("the program creates its schema, with its foreign keys, in the --db file");
    let server = g.server_with(&["--db", &dir.arg()], &[])?;
    let db = support::second_client(dir.file())?;
    schema_in_file(&db)?;
    let mut s = Session {
        server,
        db,
        shop: Shop::default(),
    };
    let mut rng = g.rng().fork(1);

    g.scenario("valid rows go in, and an order reads back with its customer and lines");
    valid_rows(&mut s, &mut rng)?;
    g.scenario("UNIQUE: a taken email (in any case) or SKU is 409, and writes nothing");
    unique(&mut s, &mut rng)?;
    g.scenario("CHECK, NOT NULL and STRICT types: an impossible value is 422, and writes nothing");
    impossible_values(&mut s, &mut rng)?;
    g.scenario("FOREIGN KEY: an order points at rows that exist, and is all or nothing");
    orders_reference_rows(&mut s, &mut rng)?;
    g.scenario("an order keeps the price it was placed at");
    prices(&mut s, &mut rng)?;
    g.scenario("deletes: a customer or product on an order is 409, an order takes its lines along");
    deletes(&mut s, &mut rng)?;
    g.scenario("a second client that bypasses the API meets the same rules in the database");
    second_client(&s.db, &s.shop)?;

    g.scenario("restarted on the same file, the program starts and every order is still there");
    drop(s.server);
    let server = g.server_with(&["--db", &dir.arg()], &[]).map_err(|f| {
        Failure::new(
            "restarted on the database file it created before, the program must start again \
             (CREATE TABLE IF NOT EXISTS: the schema runs at every start)",
        )
        .got(f.message)
    })?;
    s.server = server;
    let ids: Vec<i64> = s.shop.orders.keys().copied().collect();
    for id in ids {
        s.read_order(id, "after a restart the data is still in the file")?;
    }
    Ok(())
}

/// The running program, the grader's own connection to its file, and what the shop should hold.
struct Session {
    server: Server,
    db: Connection,
    shop: Shop,
}

impl Session {
    /// Sends one request and checks its status; `rule` says why that status.
    fn expect(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        rule: &str,
    ) -> Result<support::Reply, Failure> {
        let reply = support::call(&mut self.server, method, path, body.as_ref())?;
        if reply.status != status {
            return Err(Failure::new(rule)
                .expected(status)
                .got(reply.summary())
                .detail(format!(
                    "the request: {}",
                    support::describe(method, path, body.as_ref())
                )));
        }
        if status == 201 && reply.body.get("id").and_then(Value::as_i64).is_none() {
            return Err(
                Failure::new("a created row is answered 201 with its id: {\"id\": N}")
                    .got(reply.summary()),
            );
        }
        Ok(reply)
    }

    /// Sends a write that must be refused with `status`, then checks the tables hold what they held before.
    fn refused(
        &mut self,
        method: &str,
        path: &str,
        body: Value,
        status: u16,
        rule: &str,
    ) -> Result<(), Failure> {
        let before = self.counts()?;
        self.expect(method, path, Some(body.clone()), status, rule)?;
        let after = self.counts()?;
        if before != after {
            return Err(Failure::new(
                "a refused write leaves the database as it was: an order is all or nothing",
            )
            .expected(format!("rows in the file: {}", show_counts(before)))
            .got(format!("rows in the file: {}", show_counts(after)))
            .detail(format!(
                "the request: {}",
                support::describe(method, path, Some(&body))
            ))
            .detail(
                "the order row (or its first lines) stayed when a later line was refused: create the order \
                 and its lines in one transaction",
            ));
        }
        Ok(())
    }

    fn counts(&self) -> Result<[i64; 4], Failure> {
        let mut counts = [0; 4];
        for (slot, table) in
            counts
                .iter_mut()
                .zip(["customers", "products", "orders", "order_items"])
        {
            *slot = support::count(&self.db, &format!("SELECT count(*) FROM {table}"), [])?;
        }
        Ok(counts)
    }

    fn add_customer(&mut self, rng: &mut Rng) -> Result<i64, Failure> {
        let (email, name) = self.shop.fresh_customer(rng);
        let reply = self.expect(
            "POST",
            "/customers",
            Some(json!({ "email": email, "name": name })),
            201,
            "a customer with a new, valid email and a name is created: 201",
        )?;
        let id = reply.body["id"].as_i64().unwrap_or_default();
        self.shop.add_customer(id, email, name);
        Ok(id)
    }

    fn add_product(&mut self, rng: &mut Rng) -> Result<i64, Failure> {
        let (sku, name, price) = self.shop.fresh_product(rng);
        let reply = self.expect(
            "POST",
            "/products",
            Some(json!({ "sku": sku, "name": name, "price_cents": price })),
            201,
            "a product with a new SKU, a name and a positive whole price is created: 201",
        )?;
        let id = reply.body["id"].as_i64().unwrap_or_default();
        self.shop.add_product(id, sku, name, price);
        Ok(id)
    }

    fn add_order(&mut self, customer: i64, lines: &[(i64, i64)]) -> Result<i64, Failure> {
        let items: Vec<Value> = lines
            .iter()
            .map(|&(product, quantity)| json!({ "product_id": product, "quantity": quantity }))
            .collect();
        let reply = self.expect(
            "POST",
            "/orders",
            Some(json!({ "customer_id": customer, "items": items })),
            201,
            "an order of an existing customer for existing products, positive quantities, each product \
             once, is created: 201",
        )?;
        let id = reply.body["id"].as_i64().unwrap_or_default();
        self.shop.add_order(id, customer, lines);
        self.read_order(id, "an order reads back with its customer and its lines")?;
        Ok(id)
    }

    /// A random order of `customer`: 1 to 3 distinct products.
    fn random_order(&mut self, customer: i64, rng: &mut Rng) -> Result<i64, Failure> {
        let mut products = self.shop.product_ids();
        rng.shuffle(&mut products);
        let lines: Vec<(i64, i64)> = products
            [..rng.range(1, 3.min(products.len() as u64)) as usize]
            .iter()
            .map(|&p| (p, rng.range(1, 5) as i64))
            .collect();
        self.add_order(customer, &lines)
    }

    fn read_order(&mut self, id: i64, rule: &str) -> Result<(), Failure> {
        let path = format!("/orders/{id}");
        let expected = self.shop.order_json(id);
        let reply = self.expect("GET", &path, None, 200, rule)?;
        if reply.body != expected {
            return Err(Failure::new(rule)
                .expected(&expected)
                .got(reply.summary())
                .detail(format!("the request: GET {path}"))
                .detail(
                    "an order shows its customer's current email and name, and each line (sorted by \
                     product_id) with the price it was placed at; total_cents is the sum of \
                     quantity × unit_price_cents",
                ));
        }
        Ok(())
    }
}

fn show_counts(counts: [i64; 4]) -> String {
    format!(
        "customers {} · products {} · orders {} · order_items {}",
        counts[0], counts[1], counts[2], counts[3]
    )
}

fn schema_in_file(db: &Connection) -> Result<(), Failure> {
    let tables = [
        ("customers", &["id", "email", "name"][..]),
        ("products", &["id", "sku", "name", "price_cents"][..]),
        ("orders", &["id", "customer_id"][..]),
        (
            "order_items",
            &["order_id", "product_id", "quantity", "unit_price_cents"][..],
        ),
    ];
    for (table, columns) in tables {
        let found = column_names(db, table)?;
        for column in columns {
            if !found.iter().any(|c| c == column) {
                return Err(Failure::new(format!(
                    "the schema has table `{table}` with column `{column}` (the provided queries use it)"
                ))
                .got(format!("columns of `{table}`: {found:?}")));
            }
        }
    }
    let keys = [
        ("orders", "customer_id", "customers", None),
        ("order_items", "order_id", "orders", Some("CASCADE")),
        ("order_items", "product_id", "products", None),
    ];
    for (table, column, target, on_delete) in keys {
        let declared = foreign_keys(db, table)?;
        let Some((_, _, action)) = declared
            .iter()
            .find(|(from, to, _)| from == column && to == target)
        else {
            return Err(Failure::new(format!(
                "`{table}.{column}` is a FOREIGN KEY: it REFERENCES `{target}` (id)"
            ))
            .got(format!(
                "foreign keys of `{table}` (column → table): {declared:?}"
            )));
        };
        if let Some(required) = on_delete
            && action != required
        {
            return Err(Failure::new(format!(
                "deleting an order deletes its lines: `{table}.{column}` REFERENCES `{target}` ON DELETE \
                 {required}"
            ))
            .got(format!("ON DELETE {action}")));
        }
    }
    Ok(())
}

fn column_names(db: &Connection, table: &str) -> Result<Vec<String>, Failure> {
    let read = || -> rusqlite::Result<Vec<String>> {
        let mut statement = db.prepare(&format!("PRAGMA table_info({table})"))?;
        statement.query_map([], |row| row.get(1))?.collect()
    };
    let columns =
        read().map_err(|e| Failure::new(format!("the grader could not read the schema: {e}")))?;
    if columns.is_empty() {
        return Err(Failure::new(format!(
            "the program creates table `{table}` in its database file when it starts"
        ))
        .got("no such table"));
    }
    Ok(columns)
}

/// `(column, referenced table, on_delete)` of each foreign key of `table`.
fn foreign_keys(db: &Connection, table: &str) -> Result<Vec<(String, String, String)>, Failure> {
    let read = || -> rusqlite::Result<Vec<(String, String, String)>> {
        let mut statement = db.prepare(&format!("PRAGMA foreign_key_list({table})"))?;
        statement
            .query_map([], |row| Ok((row.get(3)?, row.get(2)?, row.get(6)?)))?
            .collect()
    };
    read().map_err(|e| Failure::new(format!("the grader could not read the schema: {e}")))
}

fn valid_rows(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    for _ in 0..rng.range(3, 5) {
        s.add_customer(rng)?;
    }
    for _ in 0..rng.range(4, 6) {
        s.add_product(rng)?;
    }
    // Three customers with an order each, so deleting one customer's orders leaves the others.
    for customer in s.shop.customer_ids().into_iter().take(3) {
        s.random_order(customer, rng)?;
    }
    s.expect(
        "GET",
        "/orders/987654321",
        None,
        404,
        "an order that does not exist is 404",
    )?;
    Ok(())
}

fn unique(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let ids = s.shop.customer_ids();
    let (a, b) = (ids[0], ids[1]);
    let taken = s.shop.customers[&a].0.clone();
    let rule = "an email already taken is a conflict with the current state: 409";
    let body = json!({ "email": taken, "name": "Second Account" });
    s.refused("POST", "/customers", body, 409, rule)?;
    let shouted = model::other_case(&taken, rng);
    let rule = "emails are unique ignoring case: `Ada@Example.com` is `ada@example.com`, so this email \
                is taken: 409 (UNIQUE COLLATE NOCASE)";
    let body = json!({ "email": shouted, "name": "Second Account" });
    s.refused("POST", "/customers", body, 409, rule)?;
    let name_b = s.shop.customers[&b].1.clone();
    let body = json!({ "email": model::other_case(&taken, rng), "name": name_b });
    s.refused("PUT", &format!("/customers/{b}"), body, 409, rule)?;

    // A customer may change the case of their own email: the row does not collide with itself.
    let own = model::other_case(&taken, rng);
    let renamed = format!("{} {}", s.shop.customers[&a].1, rng.word(3));
    s.expect(
        "PUT",
        &format!("/customers/{a}"),
        Some(json!({ "email": own, "name": renamed })),
        200,
        "a customer may rewrite their own email in another case: a row never collides with itself",
    )?;
    s.shop.customers.insert(a, (own, renamed));
    if let Some(order) = s.shop.orders_of(a).first().copied() {
        s.read_order(
            order,
            "an order shows its customer's current email and name (stored once, in `customers`)",
        )?;
    }

    let product = s.shop.product_ids()[0];
    let sku = s.shop.products[&product].0.clone();
    let body = json!({ "sku": sku, "name": "Copy", "price_cents": 100 });
    let rule = "a SKU already taken is a conflict: 409";
    s.refused("POST", "/products", body, 409, rule)?;
    Ok(())
}

fn impossible_values(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let email = s.shop.fresh_customer(rng).0;
    let name = "Grace Hopper";
    let mut cases: Vec<(&str, Value, &str)> = vec![
        (
            "/customers",
            json!({ "name": name }),
            "an email is required (NOT NULL)",
        ),
        (
            "/customers",
            json!({ "email": null, "name": name }),
            "an email is required (NOT NULL)",
        ),
        (
            "/customers",
            json!({ "email": "grace.example.com", "name": name }),
            "an email has an `@` (CHECK)",
        ),
        (
            "/customers",
            json!({ "email": "@example.com", "name": name }),
            "an email has something before its `@` (CHECK)",
        ),
        (
            "/customers",
            json!({ "email": "grace@", "name": name }),
            "an email has something after its `@` (CHECK)",
        ),
        (
            "/customers",
            json!({ "email": email, "name": "" }),
            "a name is not blank (CHECK)",
        ),
        (
            "/customers",
            json!({ "email": email, "name": "   " }),
            "a name is not only spaces (CHECK)",
        ),
        (
            "/customers",
            json!({ "email": email }),
            "a name is required (NOT NULL)",
        ),
    ];
    let (sku, pname, _) = s.shop.fresh_product(rng);
    let product_cases: Vec<(Value, &str)> = vec![
        (json!(0), "a price is above 0 (CHECK)"),
        (
            json!(-(rng.range(1, 999) as i64)),
            "a price is above 0 (CHECK)",
        ),
        (json!(null), "a price is required (NOT NULL)"),
        (
            json!(rng.range(100, 9999) as f64 + 0.5),
            "a price is a whole number of cents: an INTEGER column of a STRICT table refuses 9.5",
        ),
        (
            json!("forty-nine"),
            "a price is a whole number of cents: an INTEGER column of a STRICT table refuses text",
        ),
    ];
    for (price, rule) in product_cases {
        cases.push((
            "/products",
            json!({ "sku": sku, "name": pname, "price_cents": price }),
            rule,
        ));
    }
    cases.push((
        "/products",
        json!({ "name": pname, "price_cents": 100 }),
        "a SKU is required (NOT NULL)",
    ));
    cases.push((
        "/products",
        json!({ "sku": sku, "name": " ", "price_cents": 100 }),
        "a name is not blank (CHECK)",
    ));
    rng.shuffle(&mut cases);
    for (path, body, why) in cases {
        let rule = format!("a value that can never be valid is 422 Unprocessable Content: {why}");
        s.refused("POST", path, body, 422, &rule)?;
    }

    let product = *rng.pick(&s.shop.product_ids());
    let (sku, pname, _) = s.shop.products[&product].clone();
    let body = json!({ "sku": sku, "name": pname, "price_cents": 0 });
    let rule = "an update is held to the same rules as an insert: a price of 0 is 422";
    s.refused("PUT", &format!("/products/{product}"), body, 422, rule)?;
    Ok(())
}

fn orders_reference_rows(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let customer = *rng.pick(&s.shop.customer_ids());
    let mut products = s.shop.product_ids();
    rng.shuffle(&mut products);
    let missing_customer = s.shop.max_id() + rng.range(100, 10_000) as i64;
    let missing_product = s.shop.max_id() + rng.range(100, 10_000) as i64;
    let pragma = "the schema declares the FOREIGN KEY (REFERENCES), and the connection enforces it \
                  (PRAGMA foreign_keys = ON)";

    let body = json!({ "customer_id": missing_customer,
                       "items": [{ "product_id": products[0], "quantity": 1 }] });
    let rule = format!(
        "an order of a customer that does not exist is 422 (a FOREIGN KEY pointing at nothing); {pragma}"
    );
    s.refused("POST", "/orders", body, 422, &rule)?;

    let body = json!({ "customer_id": customer,
                       "items": [{ "product_id": products[0], "quantity": 2 },
                                 { "product_id": missing_product, "quantity": 1 }] });
    let rule = format!(
        "an order line for a product that does not exist is 422, and the order is all or nothing; {pragma}"
    );
    s.refused("POST", "/orders", body, 422, &rule)?;

    let body = json!({ "customer_id": customer,
                       "items": [{ "product_id": products[0], "quantity": 1 },
                                 { "product_id": products[1], "quantity": 0 }] });
    let rule = "a quantity is above 0 (CHECK): 422, and the order is all or nothing";
    s.refused("POST", "/orders", body, 422, rule)?;

    let body = json!({ "customer_id": customer,
                       "items": [{ "product_id": products[1], "quantity": 1 },
                                 { "product_id": products[1], "quantity": 3 }] });
    let rule = "one line per product per order (PRIMARY KEY (order_id, product_id)): the same product \
                twice collides, 409, and the order is all or nothing";
    s.refused("POST", "/orders", body, 409, rule)?;

    let body = json!({ "items": [{ "product_id": products[0], "quantity": 1 }] });
    let rule = "an order needs a customer (NOT NULL): 422";
    s.refused("POST", "/orders", body, 422, rule)?;
    Ok(())
}

fn prices(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let (&order, _) = s
        .shop
        .orders
        .iter()
        .next()
        .ok_or_else(|| Failure::new("the grader has no order to test prices with"))?;
    let product = s.shop.orders[&order].1[0].0;
    let (sku, name, price) = s.shop.products[&product].clone();
    let new_price = price + rng.range(1, 5_000) as i64;
    s.expect(
        "PUT",
        &format!("/products/{product}"),
        Some(json!({ "sku": sku, "name": name, "price_cents": new_price })),
        200,
        "a product's price may change: 200",
    )?;
    s.shop.products.insert(product, (sku, name, new_price));
    s.read_order(
        order,
        "an order line keeps the price it was placed at (order_items.unit_price_cents), not today's price",
    )?;
    let customer = *rng.pick(&s.shop.customer_ids());
    s.add_order(customer, &[(product, 1)])?;
    Ok(())
}

fn deletes(s: &mut Session, rng: &mut Rng) -> Result<(), Failure> {
    let order = *rng.pick(&s.shop.order_ids());
    let customer = s.shop.orders[&order].0;
    let product = s.shop.orders[&order].1[0].0;
    let rule = "a customer who still has orders cannot be deleted: 409 (the FOREIGN KEY refuses; ON DELETE \
                CASCADE here would silently erase their order history)";
    s.expect("DELETE", &format!("/customers/{customer}"), None, 409, rule)?;
    s.read_order(
        order,
        "a refused delete leaves the customer and their order history",
    )?;
    let rule = "a product on an order cannot be deleted: 409 (the FOREIGN KEY refuses)";
    s.expect("DELETE", &format!("/products/{product}"), None, 409, rule)?;

    for order in s.shop.orders_of(customer) {
        let rule = "an order can be deleted: 204, and its lines go with it (ON DELETE CASCADE)";
        s.expect("DELETE", &format!("/orders/{order}"), None, 204, rule)?;
        s.shop.orders.remove(&order);
        let lines = support::count(
            &s.db,
            "SELECT count(*) FROM order_items WHERE order_id = ?1",
            [order],
        )?;
        if lines != 0 {
            return Err(Failure::new(
                "deleting an order deletes its lines (ON DELETE CASCADE): no line may point at a deleted order",
            )
            .expected("0 rows in order_items for the deleted order")
            .got(format!("{lines} rows (order_id = {order})")));
        }
        s.expect(
            "GET",
            &format!("/orders/{order}"),
            None,
            404,
            "a deleted order is 404",
        )?;
    }
    let rule = "a customer without orders can be deleted: 204";
    s.expect("DELETE", &format!("/customers/{customer}"), None, 204, rule)?;
    s.shop.customers.remove(&customer);
    let unused = s.add_product(rng)?;
    let rule = "a product on no order can be deleted: 204";
    s.expect("DELETE", &format!("/products/{unused}"), None, 204, rule)?;
    s.shop.products.remove(&unused);
    let rule = "deleting a row that does not exist is 404";
    s.expect("DELETE", &format!("/customers/{customer}"), None, 404, rule)?;
    for order in s.shop.order_ids() {
        s.read_order(
            order,
            "deletes elsewhere leave the other orders as they were",
        )?;
    }
    Ok(())
}

fn second_client(db: &Connection, shop: &Shop) -> Result<(), Failure> {
    let customer = shop.customer_ids()[0];
    let email = model::other_case(&shop.customers[&customer].0, &mut Rng::new(7));
    let product = shop.product_ids()[0];
    let order = shop.order_ids()[0];
    let missing = shop.max_id() + 5_000;
    let attempts: Vec<(String, &str)> = vec![
        (
            format!("INSERT INTO customers (email, name) VALUES ('{email}', 'Twin')"),
            "emails are unique ignoring case",
        ),
        (
            "INSERT INTO products (sku, name, price_cents) VALUES ('ZERO-1', 'Free', 0)"
                .to_string(),
            "a price is above 0",
        ),
        (
            "INSERT INTO products (sku, name, price_cents) VALUES ('TEXT-1', 'Typo', 'abc')"
                .to_string(),
            "a price is a whole number (STRICT)",
        ),
        (
            format!("INSERT INTO orders (customer_id) VALUES ({missing})"),
            "an order's customer exists (FOREIGN KEY)",
        ),
        (
            format!(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) \
                 VALUES ({order}, {missing}, 1, 100)"
            ),
            "an order line's product exists (FOREIGN KEY)",
        ),
        (
            format!(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) \
                 VALUES ({order}, {product}, 0, 100)"
            ),
            "a quantity is above 0",
        ),
        (
            format!(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) \
                 VALUES ({order}, {product}, 1, 0)"
            ),
            "a line's unit price is above 0 (it is copied from the product by the API, but a second \
             client writes what it likes)",
        ),
    ];
    for (sql, rule) in attempts {
        db.execute_batch("SAVEPOINT probe")
            .map_err(|e| Failure::new(format!("the grader could not start a transaction: {e}")))?;
        let result = db.execute(&sql, []);
        let _ = db.execute_batch("ROLLBACK TO probe; RELEASE probe");
        match result {
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {}
            Ok(_) => {
                return Err(Failure::new(format!(
                    "a second client (another service, a script) that bypasses the API meets the same \
                     rules, because they live in the schema: {rule}"
                ))
                .expected("the database refuses the row with a constraint error")
                .got("the row was accepted")
                .detail(format!("the grader ran, on the database file: {sql}"))
                .detail("(with PRAGMA foreign_keys = ON, in a transaction it rolled back)"));
            }
            Err(e) => {
                return Err(Failure::new(format!(
                    "a second client meets the rules of the schema: {rule}"
                ))
                .expected("a constraint error")
                .got(format!("another error: {e}"))
                .detail(format!("the grader ran: {sql}")));
            }
        }
    }
    Ok(())
}
