//! The planner's cost model, exactly as the exercise's contract states it, and seeded random queries.

use backlings_grade::Rng;
use serde_json::{Value, json};

/// One table: name, rows, (column, distinct values), (index name, column).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<(String, u64)>,
    pub indexes: Vec<(String, String)>,
}

/// A query: tables, filters (table, column), joins ((table, column), (table, column)).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub tables: Vec<Table>,
    pub filters: Vec<(String, String)>,
    pub joins: Vec<((String, String), (String, String))>,
}

/// How a step reads its table: the method, and the index it uses if any.
type Access = (&'static str, Option<String>);

/// A plan's steps as (table, method, index), rows and cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<(String, &'static str, Option<String>)>,
    pub rows: u64,
    pub cost: u64,
}

impl Query {
    fn table(&self, name: &str) -> &Table {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .expect("queries are built consistent")
    }

    fn ndv(&self, table: &str, column: &str) -> u64 {
        self.table(table)
            .columns
            .iter()
            .find(|(c, _)| c == column)
            .map_or(1, |(_, n)| *n)
            .max(1)
    }

    fn lookup(&self, table: &str, column: &str) -> u64 {
        self.table(table)
            .rows
            .div_ceil(self.ndv(table, column))
            .max(1)
    }

    fn filtered(&self, table: &str) -> u64 {
        let mut rows = self.table(table).rows;
        for (t, c) in &self.filters {
            if t == table {
                rows = rows.div_ceil(self.ndv(table, c)).max(1);
            }
        }
        rows
    }

    /// The indexes of `table`, sorted by name.
    fn indexes(&self, table: &str) -> Vec<(String, String)> {
        let mut indexes = self.table(table).indexes.clone();
        indexes.sort();
        indexes
    }

    fn first(&self, table: &str) -> (Access, u64) {
        let mut best = (("scan", None), self.table(table).rows);
        for (name, column) in self.indexes(table) {
            let usable = self.filters.iter().any(|(t, c)| t == table && *c == column);
            let cost = 2 + 4 * self.lookup(table, &column);
            if usable && cost < best.1 {
                best = (("index", Some(name)), cost);
            }
        }
        best
    }

    fn join(&self, placed: &[String], table: &str, rows: u64) -> Option<(Access, u64, u64)> {
        let (mine, theirs) = self.joins.iter().find_map(|(l, r)| {
            if l.0 == table && placed.contains(&r.0) {
                Some((l, r))
            } else if r.0 == table && placed.contains(&l.0) {
                Some((r, l))
            } else {
                None
            }
        })?;
        let hash = self
            .first(table)
            .1
            .saturating_add(self.filtered(table))
            .saturating_add(rows);
        let mut best = (("hash_join", None), hash);
        for (name, column) in self.indexes(table) {
            if column != mine.1 {
                continue;
            }
            let cost = rows.saturating_mul(2 + 4 * self.lookup(table, &column));
            if cost < best.1 {
                best = (("index_nested_loop", Some(name)), cost);
            }
        }
        let divisor = self.ndv(table, &mine.1).max(self.ndv(&theirs.0, &theirs.1));
        let out =
            (u128::from(rows) * u128::from(self.filtered(table))).div_ceil(u128::from(divisor));
        Some((best.0, best.1, out.clamp(1, u128::from(u64::MAX)) as u64))
    }

    /// The best plan for one order of the tables, or `None` if a table has no join to an earlier one.
    pub fn plan_for(&self, order: &[String]) -> Option<Plan> {
        let ((method, index), cost) = self.first(&order[0]);
        let mut plan = Plan {
            steps: vec![(order[0].clone(), method, index)],
            rows: self.filtered(&order[0]),
            cost,
        };
        for i in 1..order.len() {
            let ((method, index), cost, rows) = self.join(&order[..i], &order[i], plan.rows)?;
            plan.steps.push((order[i].clone(), method, index));
            plan.cost = plan.cost.saturating_add(cost);
            plan.rows = rows;
        }
        Some(plan)
    }

    /// Every connected order with its plan, orders sorted by name list.
    pub fn candidates(&self) -> Vec<(Vec<String>, Plan)> {
        let mut names: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        names.sort();
        let mut orders = Vec::new();
        permute(&mut names, 0, &mut orders);
        orders.sort();
        orders
            .into_iter()
            .filter_map(|order| self.plan_for(&order).map(|plan| (order, plan)))
            .collect()
    }

    /// The cheapest plan; on a tie, the order whose names sort first.
    pub fn best(&self) -> Plan {
        self.candidates()
            .into_iter()
            .min_by(|a, b| a.1.cost.cmp(&b.1.cost).then_with(|| a.0.cmp(&b.0)))
            .map(|(_, plan)| plan)
            .expect("queries are built connected")
    }

    /// The request line.
    pub fn to_json(&self) -> Value {
        let tables: Vec<Value> = self
            .tables
            .iter()
            .map(|t| {
                let columns: serde_json::Map<String, Value> = t
                    .columns
                    .iter()
                    .map(|(c, n)| (c.clone(), json!(n)))
                    .collect();
                let indexes: Vec<Value> = t
                    .indexes
                    .iter()
                    .map(|(name, column)| json!({ "name": name, "column": column }))
                    .collect();
                json!({ "name": t.name, "rows": t.rows, "columns": columns, "indexes": indexes })
            })
            .collect();
        let column = |(t, c): &(String, String)| json!({ "table": t, "column": c });
        json!({
            "op": "plan",
            "tables": tables,
            "filters": self.filters.iter().map(column).collect::<Vec<_>>(),
            "joins": self.joins.iter().map(|(l, r)| json!({ "left": column(l), "right": column(r) }))
                .collect::<Vec<_>>(),
        })
    }
}

impl Plan {
    /// The answer the contract asks for.
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|(table, method, index)| match index {
                Some(index) => json!({ "table": table, "method": method, "index": index }),
                None => json!({ "table": table, "method": method }),
            })
            .collect();
        json!({ "steps": steps, "rows": self.rows, "cost": self.cost })
    }
}

fn permute(items: &mut Vec<String>, k: usize, out: &mut Vec<Vec<String>>) {
    if k == items.len() {
        out.push(items.clone());
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permute(items, k + 1, out);
        items.swap(k, i);
    }
}

/// A table for hand-made scenarios.
pub fn table(name: &str, rows: u64, columns: &[(&str, u64)], indexes: &[(&str, &str)]) -> Table {
    Table {
        name: name.to_string(),
        rows,
        columns: columns.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        indexes: indexes
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect(),
    }
}

/// `(table, column)`.
pub fn col(table: &str, column: &str) -> (String, String) {
    (table.to_string(), column.to_string())
}

const NAMES: [&str; 6] = [
    "accounts", "events", "invoices", "regions", "sessions", "users",
];

/// A random query of 1 to 3 tables joined as a tree, with seeded statistics, indexes and filters.
pub fn random(rng: &mut Rng) -> Query {
    let mut names = NAMES.to_vec();
    rng.shuffle(&mut names);
    let count = rng.range(1, 3) as usize;
    let mut query = Query::default();
    for name in &names[..count] {
        let rows = match rng.below(4) {
            0 => rng.range(1, 100),
            1 => rng.range(100, 10_000),
            2 => rng.range(10_000, 1_000_000),
            _ => rng.range(1_000_000, 50_000_000),
        };
        let columns: Vec<(String, u64)> = ["id", "a", "b", "c"]
            .iter()
            .map(|c| {
                let ndv = match rng.below(3) {
                    0 => rng.range(1, 10),
                    1 => rng.range(1, rows.max(1)),
                    _ => rows.max(1),
                };
                (c.to_string(), ndv)
            })
            .collect();
        let mut indexes = Vec::new();
        for (column, _) in &columns {
            if rng.chance(1, 2) {
                indexes.push((format!("{name}_{column}_{}", rng.word(2)), column.clone()));
            }
        }
        rng.shuffle(&mut indexes);
        query.tables.push(Table {
            name: name.to_string(),
            rows,
            columns,
            indexes,
        });
    }
    for i in 1..count {
        let other = rng.below(i as u64) as usize;
        let a = (
            names[i].to_string(),
            rng.pick(&["id", "a", "b", "c"]).to_string(),
        );
        let b = (
            names[other].to_string(),
            rng.pick(&["id", "a", "b", "c"]).to_string(),
        );
        query
            .joins
            .push(if rng.chance(1, 2) { (a, b) } else { (b, a) });
    }
    for _ in 0..rng.below(4) {
        let t = names[rng.below(count as u64) as usize].to_string();
        query
            .filters
            .push((t, rng.pick(&["a", "b", "c"]).to_string()));
    }
    rng.shuffle(&mut query.tables);
    query
}
