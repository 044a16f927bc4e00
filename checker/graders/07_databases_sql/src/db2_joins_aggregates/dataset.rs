//! The seeded dataset the grader writes into the learner's database file, and the grader's reference
//! queries (written independently of any solution, checked against the hand-made visible tests).

use std::collections::BTreeMap;
use std::path::Path;

use backlings_grade::{Failure, Rng};
use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};

/// The schema of the exercise's header.
const SCHEMA: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region TEXT NOT NULL);
CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                        manager_id INTEGER REFERENCES employees (id));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
                     placed_on TEXT NOT NULL,
                     status TEXT NOT NULL CHECK (status IN ('paid', 'cancelled', 'refunded')));
CREATE TABLE order_lines (order_id INTEGER NOT NULL REFERENCES orders (id), product TEXT NOT NULL,
                          quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL);
";

const REGIONS: [&str; 4] = ["east", "north", "south", "west"];
const PRODUCTS: [(&str, i64); 8] = [
    ("Cable", 900),
    ("Dock", 12_900),
    ("Headset", 5_900),
    ("Keyboard", 4_900),
    ("Monitor", 21_900),
    ("Mouse", 2_500),
    ("Stand", 3_900),
    ("Webcam", 6_900),
];
const FIRST: [&str; 16] = [
    "Ada", "Alan", "Barbara", "Charles", "Donald", "Edsger", "Frances", "Grace", "John", "Ken",
    "Leslie", "Margaret", "Niklaus", "Radia", "Tony", "Vint",
];
const LAST: [&str; 8] = [
    "Allen", "Hoare", "Knuth", "Lamport", "Liskov", "Perlman", "Ritchie", "Wirth",
];
/// The years with sales; any other year has none.
pub const YEARS: [&str; 2] = ["2023", "2024"];

/// What the scenarios need to know about the data they did not get from a query.
#[derive(Debug, Default)]
pub struct Facts {
    /// Customer id → (name, orders of any status).
    pub customers: BTreeMap<i64, (String, i64)>,
    /// Employee id → manager id.
    pub managers: BTreeMap<i64, Option<i64>>,
    /// The id of the employee at the top.
    pub root: i64,
}

/// Writes a seeded dataset into a new database file at `file`.
pub fn create(file: &Path, rng: &mut Rng) -> Result<Facts, Failure> {
    let setup =
        |e: rusqlite::Error| Failure::new(format!("the grader could not build its dataset: {e}"));
    let mut conn = Connection::open(file).map_err(setup)?;
    conn.execute_batch(SCHEMA).map_err(setup)?;
    let tx = conn.transaction().map_err(setup)?;
    let facts = fill(&tx, rng).map_err(setup)?;
    tx.commit().map_err(setup)?;
    Ok(facts)
}

fn fill(conn: &Connection, rng: &mut Rng) -> rusqlite::Result<Facts> {
    let mut facts = Facts::default();
    let mut regions: Vec<&str> = REGIONS.to_vec();
    rng.shuffle(&mut regions);
    let mut regions = regions[..3].to_vec();
    regions.sort_unstable();

    // Customers 1..=14 in a shuffled role order: 10 who buy, 2 whose orders are all cancelled or refunded,
    // 2 with no order at all.
    let mut ids: Vec<i64> = (1..=14).collect();
    rng.shuffle(&mut ids);
    let (buyers, rest) = ids.split_at(10);
    let (unpaid, _silent) = rest.split_at(2);
    let mut region_of = BTreeMap::new();
    for id in 1..=14 {
        let name = format!("{} {}", rng.pick(&FIRST), rng.pick(&LAST));
        let region = *rng.pick(&regions);
        conn.execute(
            "INSERT INTO customers (id, name, region) VALUES (?1, ?2, ?3)",
            params![id, name, region],
        )?;
        region_of.insert(id, region);
        facts.customers.insert(id, (name, 0));
    }
    // Every region has a buyer, so every region has a top product.
    for (i, region) in regions.iter().enumerate() {
        conn.execute(
            "UPDATE customers SET region = ?2 WHERE id = ?1",
            params![buyers[i], region],
        )?;
        region_of.insert(buyers[i], region);
    }

    let mut months: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for year in YEARS {
        let mut all: Vec<u64> = (1..=12).collect();
        rng.shuffle(&mut all);
        months.insert(year, all[..rng.range(5, 9) as usize].to_vec());
    }
    let mut order_id = 100 + rng.below(100) as i64;
    let mut empty_paid = 0;
    for n in 0..90 {
        let customer = if n < 4 {
            unpaid[n % 2]
        } else {
            *rng.pick(buyers)
        };
        let status = if unpaid.contains(&customer) {
            *rng.pick(&["cancelled", "refunded"])
        } else {
            match rng.below(100) {
                0..=74 => "paid",
                75..=89 => "cancelled",
                _ => "refunded",
            }
        };
        let year = *rng.pick(&YEARS);
        let month = *rng.pick(&months[year]);
        let day = rng.range(1, 28);
        order_id += 1 + rng.below(3) as i64;
        conn.execute(
            "INSERT INTO orders (id, customer_id, placed_on, status) VALUES (?1, ?2, ?3, ?4)",
            params![
                order_id,
                customer,
                format!("{year}-{month:02}-{day:02}"),
                status
            ],
        )?;
        if let Some(entry) = facts.customers.get_mut(&customer) {
            entry.1 += 1;
        }
        // Paid orders without lines (a free replacement): they count as orders, with revenue 0.
        let lines = if status == "paid" && (empty_paid < 2 || rng.chance(1, 20)) {
            empty_paid += 1;
            0
        } else {
            rng.range(1, 4)
        };
        let mut products = PRODUCTS.to_vec();
        rng.shuffle(&mut products);
        for &(product, price) in &products[..lines as usize] {
            let discount = rng.below(5) as i64 * 100;
            conn.execute(
                "INSERT INTO order_lines (order_id, product, quantity, unit_price_cents) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![order_id, product, rng.range(1, 5), price - discount],
            )?;
        }
    }

    // A tie at the top of one region: another product gets exactly the leader's revenue there, through one
    // more paid order of a buyer of that region.
    let region = *rng.pick(&regions);
    let sales = revenue_by_product(conn, region)?;
    let (leader, top) = sales[0].clone();
    let (challenger, below) = PRODUCTS
        .iter()
        .map(|(p, _)| {
            (
                p.to_string(),
                sales.iter().find(|(q, _)| q == p).map_or(0, |s| s.1),
            )
        })
        .filter(|(p, _)| *p != leader)
        .min_by_key(|(p, revenue)| (*revenue == top, p.clone()))
        .unwrap_or_default();
    let buyer = *buyers
        .iter()
        .find(|b| region_of[b] == region)
        .unwrap_or(&buyers[0]);
    order_id += 1;
    conn.execute(
        "INSERT INTO orders (id, customer_id, placed_on, status) VALUES (?1, ?2, '2024-06-15', 'paid')",
        params![order_id, buyer],
    )?;
    conn.execute(
        "INSERT INTO order_lines (order_id, product, quantity, unit_price_cents) VALUES (?1, ?2, 1, ?3)",
        params![order_id, challenger, top - below],
    )?;
    if let Some(entry) = facts.customers.get_mut(&buyer) {
        entry.1 += 1;
    }

    // An org chart of 24 with shuffled ids: each newcomer reports to one of the last few, so it is deep.
    let mut ids: Vec<i64> = (1..=24).map(|i| i * 7 % 97 + 10).collect();
    rng.shuffle(&mut ids);
    facts.root = ids[0];
    for (i, &id) in ids.iter().enumerate() {
        let manager = (i > 0).then(|| ids[i - 1 - rng.below(i.min(4) as u64) as usize]);
        // Two colleagues share a name (same manager), so the id decides their order.
        let name = if i == ids.len() - 1 {
            let sibling = ids[i - 1];
            conn.query_row("SELECT name FROM employees WHERE id = ?1", [sibling], |r| {
                r.get::<_, String>(0)
            })?
        } else {
            format!("{} {}", rng.pick(&FIRST), rng.pick(&LAST))
        };
        let manager = if i == ids.len() - 1 {
            facts.managers[&ids[i - 1]]
        } else {
            manager
        };
        conn.execute(
            "INSERT INTO employees (id, name, manager_id) VALUES (?1, ?2, ?3)",
            params![id, name, manager],
        )?;
        facts.managers.insert(id, manager);
    }
    Ok(facts)
}

fn revenue_by_product(conn: &Connection, region: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut statement = conn.prepare(
        "SELECT l.product, SUM(l.quantity * l.unit_price_cents) AS revenue
           FROM customers c, orders o, order_lines l
          WHERE o.customer_id = c.id AND l.order_id = o.id AND o.status = 'paid' AND c.region = ?1
          GROUP BY l.product ORDER BY revenue DESC, l.product",
    )?;
    statement
        .query_map([region], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

/// The grader's reference answers, by report.
pub fn customer_revenue(conn: &Connection) -> Result<Vec<Value>, Failure> {
    rows(
        conn,
        "SELECT c.id AS customer_id, c.name, c.region,
                (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id AND o.status = 'paid') AS orders,
                (SELECT COALESCE(SUM(l.quantity * l.unit_price_cents), 0)
                   FROM orders o JOIN order_lines l ON l.order_id = o.id
                  WHERE o.customer_id = c.id AND o.status = 'paid') AS revenue_cents
           FROM customers c
          ORDER BY revenue_cents DESC, c.id",
        &[],
    )
}

/// Monthly sales of `year`.
pub fn monthly_sales(conn: &Connection, year: &str) -> Result<Vec<Value>, Failure> {
    rows(
        conn,
        "WITH months AS (
             SELECT strftime('%Y-%m', o.placed_on) AS month, COUNT(*) AS orders,
                    SUM((SELECT COALESCE(SUM(l.quantity * l.unit_price_cents), 0)
                           FROM order_lines l WHERE l.order_id = o.id)) AS revenue_cents
               FROM orders o
              WHERE o.status = 'paid' AND strftime('%Y', o.placed_on) = ?1
              GROUP BY 1)
         SELECT m.month, m.orders, m.revenue_cents,
                (SELECT SUM(e.revenue_cents) FROM months e WHERE e.month <= m.month) AS running_revenue_cents
           FROM months m ORDER BY m.month",
        &[&year],
    )
}

/// The `n` best products of each region.
pub fn top_products(conn: &Connection, n: i64) -> Result<Vec<Value>, Failure> {
    rows(
        conn,
        "WITH sales AS (
             SELECT c.region, l.product, SUM(l.quantity * l.unit_price_cents) AS revenue_cents
               FROM customers c, orders o, order_lines l
              WHERE o.customer_id = c.id AND l.order_id = o.id AND o.status = 'paid'
              GROUP BY c.region, l.product)
         SELECT a.region, a.product, a.revenue_cents,
                (SELECT COUNT(*) FROM sales b WHERE b.region = a.region
                   AND (b.revenue_cents > a.revenue_cents
                        OR (b.revenue_cents = a.revenue_cents AND b.product <= a.product))) AS rank
           FROM sales a
          WHERE rank <= ?1
          ORDER BY a.region, rank",
        &[&n],
    )
}

/// Everyone under employee `id`.
pub fn reports_to(conn: &Connection, id: i64) -> Result<Vec<Value>, Failure> {
    rows(
        conn,
        "WITH RECURSIVE tree (employee_id, level) AS (
             VALUES (?1, 0)
             UNION ALL
             SELECT e.id, t.level + 1 FROM tree t JOIN employees e ON e.manager_id = t.employee_id)
         SELECT t.employee_id, e.name, t.level
           FROM tree t JOIN employees e ON e.id = t.employee_id
          WHERE t.level > 0
          ORDER BY t.level, e.name, t.employee_id",
        &[&id],
    )
}

fn rows(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Value>, Failure> {
    let run = || -> rusqlite::Result<Vec<Value>> {
        let mut statement = conn.prepare(sql)?;
        let names: Vec<String> = statement
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut rows = statement.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut object = Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Integer(n) => json!(n),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                    _ => Value::Null,
                };
                object.insert(name.clone(), value);
            }
            out.push(Value::Object(object));
        }
        Ok(out)
    };
    run().map_err(|e| Failure::new(format!("the grader's reference query failed: {e}")))
}
