//! Grader of `db2_joins_aggregates`: four report endpoints (LEFT JOIN + GROUP BY, window running total,
//! per-partition ranking, recursive CTE) over a seeded dataset the grader writes into the database file.
//!
//! Every answer is compared row for row with the grader's own reference query on the same file. A
//! mismatch is explained by the rule it breaks (a customer missing, a count multiplied by a join, a NULL
//! where 0 belongs, ranks repeated on a tie, a LIMIT that is not per region, a tree cut at its first level)
//! before falling back to the first differing row.

mod dataset;

use std::collections::{BTreeMap, BTreeSet};

use backlings_grade::{Failure, Grading, Server};
use rusqlite::Connection;
use serde_json::Value;

use crate::support::{self, DbDir};
use dataset::Facts;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let dir = DbDir::new("reports.db")?;
    let mut rng = g.rng().fork(2);
    let facts = dataset::create(dir.file(), &mut rng)?;
    let db = support::second_client(dir.file())?;
    let mut server = g.server_with(&["--db", &dir.arg()], &[])?;

    g.scenario("customer-revenue lists every customer with their paid orders and revenue");
    let expected = dataset::customer_revenue(&db)?;
    let got = fetch(&mut server, "/reports/customer-revenue")?;
    compare(&got, &expected, "/reports/customer-revenue", &|got| {
        customer_revenue_rule(got, &expected, &facts, &db)
    })?;

    g.scenario("monthly-sales: the months of a year with paid orders, and a running total");
    for year in dataset::YEARS.iter().copied().chain(["2019"]) {
        let path = format!("/reports/monthly-sales?year={year}");
        let expected = dataset::monthly_sales(&db, year)?;
        let got = fetch(&mut server, &path)?;
        compare(&got, &expected, &path, &|got| monthly_rule(got, &expected))?;
    }

    g.scenario("top-products: the N best products of each region, a tie to the name first");
    for n in [1, 2, 3, 20] {
        let path = format!("/reports/top-products?n={n}");
        let expected = dataset::top_products(&db, n)?;
        let got = fetch(&mut server, &path)?;
        compare(&got, &expected, &path, &|got| top_rule(got, &expected, n))?;
    }

    g.scenario("reports-to: everyone under an employee, at every depth");
    for id in employees_to_ask(&facts, &mut rng) {
        let path = format!("/reports/reports-to/{id}");
        let expected = dataset::reports_to(&db, id)?;
        let got = fetch(&mut server, &path)?;
        compare(&got, &expected, &path, &|got| tree_rule(got, &expected))?;
    }
    Ok(())
}

/// The top, the deepest manager with reports two levels down, a leaf, someone at random, nobody.
fn employees_to_ask(facts: &Facts, rng: &mut backlings_grade::Rng) -> Vec<i64> {
    let managers = &facts.managers;
    let has_reports = |id: i64| managers.values().any(|m| *m == Some(id));
    let grand_manager = managers
        .keys()
        .copied()
        .filter(|&id| id != facts.root)
        .find(|&id| {
            managers
                .iter()
                .any(|(e, m)| *m == Some(id) && has_reports(*e))
        });
    let leaf = managers.keys().copied().find(|&id| !has_reports(id));
    let ids: Vec<i64> = managers.keys().copied().collect();
    let mut asked = vec![facts.root];
    asked.extend(grand_manager);
    asked.extend(leaf);
    asked.push(*rng.pick(&ids));
    asked.push(9_999);
    asked
}

fn fetch(server: &mut Server, path: &str) -> Result<Value, Failure> {
    let reply = support::call(server, "GET", path, None)?;
    if reply.status != 200 || !reply.body.is_array() {
        return Err(
            Failure::new("a report answers 200 with a JSON array, one object per row")
                .got(reply.summary())
                .detail(format!("the request: GET {path}"))
                .detail(
                    "a 500 carries SQLite's error message: is the query valid SQL for this schema?",
                ),
        );
    }
    Ok(reply.body)
}

type Rule<'a> = &'a dyn Fn(&[Value]) -> Option<(String, Vec<String>)>;

/// Compares a report with the reference: the columns first, then the report's own rules, then row by row.
fn compare(got: &Value, expected: &[Value], path: &str, rule: Rule<'_>) -> Result<(), Failure> {
    let rows = got.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows == expected {
        return Ok(());
    }
    let story = |failure: Failure| failure.detail(format!("the request: GET {path}"));
    if let Some(first) = expected.first() {
        let columns: BTreeSet<&String> = first
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        if let Some(bad) = rows.iter().find(|row| {
            row.as_object()
                .map(|o| o.keys().collect::<BTreeSet<_>>() != columns)
                .unwrap_or(true)
        }) {
            return Err(story(
                Failure::new(
                    "each row has exactly the columns of the contract (name them with AS)",
                )
                .expected(format!("{columns:?}"))
                .got(bad),
            ));
        }
    }
    if let Some((message, details)) = rule(rows) {
        let mut failure = Failure::new(message);
        for line in details {
            failure = failure.detail(line);
        }
        return Err(story(failure));
    }
    let index = rows
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(rows.len().min(expected.len()));
    let show = |rows: &[Value]| {
        rows.get(index)
            .map_or("(no row)".to_string(), Value::to_string)
    };
    Err(story(
        Failure::new(format!(
            "the report equals the reference query's answer, row for row and in order (first difference \
             at row {})",
            index + 1
        ))
        .expected(show(expected))
        .got(show(rows))
        .detail(format!(
            "{} rows expected, {} came back",
            expected.len(),
            rows.len()
        )),
    ))
}

fn int(row: &Value, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

fn by_key(rows: &[Value], key: &str) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|row| {
            (
                row.get(key).map(Value::to_string).unwrap_or_default(),
                row.clone(),
            )
        })
        .collect()
}

fn customer_revenue_rule(
    got: &[Value],
    expected: &[Value],
    facts: &Facts,
    db: &Connection,
) -> Option<(String, Vec<String>)> {
    let want = by_key(expected, "customer_id");
    let have = by_key(got, "customer_id");
    let missing: Vec<&Value> = want
        .iter()
        .filter(|(id, _)| !have.contains_key(*id))
        .map(|(_, row)| row)
        .collect();
    if !missing.is_empty() {
        let mut details = vec![format!(
            "{} customers are missing: {}",
            missing.len(),
            missing
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )];
        for row in &missing {
            let id = int(row, "customer_id").unwrap_or_default();
            let all = facts.customers.get(&id).map_or(0, |c| c.1);
            details.push(if all == 0 {
                format!("customer {id} has no order at all: an inner JOIN drops them, a LEFT JOIN keeps them")
            } else {
                format!(
                    "customer {id} has {all} orders, none paid: a WHERE on the orders' status after a LEFT \
                     JOIN drops them again (the condition belongs in the ON clause, or in a subquery)"
                )
            });
        }
        return Some((
            "the report lists every customer, with 0 orders and 0 revenue when they have no paid order"
                .to_string(),
            details,
        ));
    }
    for (id, row) in &have {
        let Some(reference) = want.get(id) else {
            return Some((
                "the report lists each customer once".to_string(),
                vec![format!("unexpected row: {row}")],
            ));
        };
        if row.get("revenue_cents") == Some(&Value::Null) {
            return Some((
                "a customer without paid orders has revenue_cents 0, not null: SUM over no rows is NULL \
                 (COALESCE)"
                    .to_string(),
                vec![format!("expected {reference}"), format!("got      {row}")],
            ));
        }
        if row.get("orders") != reference.get("orders") {
            let lines = support::count(
                db,
                "SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id \
                 WHERE o.customer_id = ?1 AND o.status = 'paid'",
                [id.parse::<i64>().unwrap_or_default()],
            )
            .unwrap_or_default();
            return Some((
                "orders is the number of the customer's paid orders: each order once, however many lines \
                 it has (joining order_lines repeats an order per line), an order without lines included"
                    .to_string(),
                vec![
                    format!("expected {reference}"),
                    format!("got      {row}"),
                    format!("this customer's paid orders have {lines} lines between them"),
                ],
            ));
        }
        if row.get("revenue_cents") != reference.get("revenue_cents") {
            return Some((
                "revenue_cents sums quantity × unit_price_cents over the lines of the customer's paid orders"
                    .to_string(),
                vec![format!("expected {reference}"), format!("got      {row}")],
            ));
        }
    }
    if have.len() == want.len() && got != expected {
        return Some((
            "the rows are sorted by revenue_cents, highest first, then by customer_id".to_string(),
            vec![format!(
                "customer ids in the expected order: {:?}",
                expected
                    .iter()
                    .filter_map(|r| int(r, "customer_id"))
                    .collect::<Vec<_>>()
            )],
        ));
    }
    None
}

fn monthly_rule(got: &[Value], expected: &[Value]) -> Option<(String, Vec<String>)> {
    let want = by_key(expected, "month");
    let have = by_key(got, "month");
    if want.keys().ne(have.keys()) {
        return Some((
            "one row per month of that year with at least one paid order (and no other month)"
                .to_string(),
            vec![
                format!("expected months {:?}", want.keys().collect::<Vec<_>>()),
                format!("got months      {:?}", have.keys().collect::<Vec<_>>()),
            ],
        ));
    }
    for (month, row) in &have {
        let reference = &want[month];
        for key in ["orders", "revenue_cents"] {
            if row.get(key) != reference.get(key) {
                return Some((
                    format!(
                        "{key} of a month counts its paid orders (each once, with or without lines) and their \
                         revenue"
                    ),
                    vec![format!("expected {reference}"), format!("got      {row}")],
                ));
            }
        }
        if row.get("running_revenue_cents") != reference.get("running_revenue_cents") {
            return Some((
                "running_revenue_cents is the revenue of this month plus that of the earlier months of the \
                 year: a running total (SUM(...) OVER (ORDER BY month)); OVER () gives the grand total on \
                 every row"
                    .to_string(),
                vec![format!("expected {reference}"), format!("got      {row}")],
            ));
        }
    }
    if got != expected {
        return Some(("the months are in ascending order".to_string(), Vec::new()));
    }
    None
}

fn top_rule(got: &[Value], expected: &[Value], n: i64) -> Option<(String, Vec<String>)> {
    let regions = |rows: &[Value]| -> BTreeMap<String, Vec<Value>> {
        let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for row in rows {
            let region = row.get("region").and_then(Value::as_str).unwrap_or("?");
            map.entry(region.to_string()).or_default().push(row.clone());
        }
        map
    };
    let (want, have) = (regions(expected), regions(got));
    for (region, rows) in &have {
        let mut ranks: Vec<i64> = rows.iter().filter_map(|r| int(r, "rank")).collect();
        ranks.sort_unstable();
        let repeated = ranks.windows(2).any(|w| w[0] == w[1]);
        if repeated || rows.len() as i64 > n {
            return Some((
                format!(
                    "rank numbers the products of each region 1, 2, 3… with no repeat: two products with the \
                     same revenue are ties, and a tie goes to the product whose name sorts first (RANK() \
                     gives ties the same number, so the top {n} of `{region}` came back with {} rows)",
                    rows.len()
                ),
                vec![
                    format!("expected for `{region}`: {}", list(want.get(region))),
                    format!("got:                {}", list(Some(rows))),
                ],
            ));
        }
    }
    for (region, rows) in &want {
        let count = have.get(region).map_or(0, Vec::len);
        if count < rows.len() {
            return Some((
                format!(
                    "the {n} best products of each region: a LIMIT cuts the whole result, not each region \
                     (number the rows per region with PARTITION BY, then keep rank <= {n})"
                ),
                vec![
                    format!("expected for `{region}`: {}", list(Some(rows))),
                    format!("got:                {}", list(have.get(region))),
                ],
            ));
        }
    }
    None
}

fn list(rows: Option<&Vec<Value>>) -> String {
    match rows {
        None => "(no row)".to_string(),
        Some(rows) => rows
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn tree_rule(got: &[Value], expected: &[Value]) -> Option<(String, Vec<String>)> {
    let want = by_key(expected, "employee_id");
    let have = by_key(got, "employee_id");
    let missing: Vec<&Value> = want
        .iter()
        .filter(|(id, _)| !have.contains_key(*id))
        .map(|(_, row)| row)
        .collect();
    if missing.iter().any(|row| int(row, "level") > Some(1)) {
        return Some((
            "everyone under the employee, at any depth: the direct reports, their reports, and so on \
             (one self-join finds only the first level; WITH RECURSIVE walks them all)"
                .to_string(),
            vec![format!(
                "missing: {}",
                missing.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" ")
            )],
        ));
    }
    for (id, row) in &have {
        match want.get(id) {
            None => {
                return Some((
                    "only the employees under this one (not the employee itself, not their managers)"
                        .to_string(),
                    vec![format!("unexpected row: {row}")],
                ));
            }
            Some(reference) if reference != row => {
                return Some((
                    "level is the distance from the employee: 1 for a direct report, 2 for their reports…"
                        .to_string(),
                    vec![format!("expected {reference}"), format!("got      {row}")],
                ));
            }
            Some(_) => {}
        }
    }
    if have.len() == want.len() && got != expected {
        return Some((
            "the rows are sorted by level, then name, then employee_id".to_string(),
            Vec::new(),
        ));
    }
    None
}
