//! The shop the grader seeds into the learner's database, and the exact answers the contract requires of it.

use std::path::Path;

use backlings_grade::{Failure, Rng};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

/// One product row, as the grader expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

impl Product {
    /// The row as the program must send it.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "category": self.category, "price_cents": self.price_cents})
    }
}

/// One user row: its API key is the secret that must never leave through a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub api_key: String,
    pub role: String,
}

/// A search, as the grader sends it.
#[derive(Debug, Clone)]
pub struct Search {
    pub q: String,
    pub category: Option<String>,
    pub sort: &'static str,
    pub dir: &'static str,
    pub limit: u32,
}

impl Search {
    /// A search for `q` in every category, by id, up to 100 rows.
    pub fn for_term(q: &str) -> Self {
        Search {
            q: q.to_string(),
            category: None,
            sort: "id",
            dir: "asc",
            limit: 100,
        }
    }

    /// The request line.
    pub fn to_json(&self) -> Value {
        json!({"op": "search", "q": self.q, "category": self.category, "sort": self.sort, "dir": self.dir,
               "limit": self.limit})
    }
}

const CATEGORIES: [&str; 5] = ["books", "music", "home", "garden", "toys"];
const ADJECTIVES: [&str; 10] = [
    "Blue", "red", "Tiny", "large", "Smart", "vintage", "Quiet", "rapid", "Wooden", "green",
];
const NOUNS: [&str; 10] = [
    "mug", "Lamp", "chair", "Kettle", "vinyl", "guide", "Poster", "sticker", "tee", "clock",
];
/// Names a careless query gets wrong: quotes, wildcards, SQL words, case twins.
pub const SPECIAL_NAMES: [&str; 9] = [
    "Rock 'n' Roll vinyl",
    "O'Reilly SQL guide",
    "50% off sticker",
    "snake_case mug",
    "100%_cotton tee",
    "DROP TABLE poster",
    "blue MUG",
    "Blue Mug",
    "\"quoted\" lamp; -- v2",
];

/// The seeded contents of the database.
#[derive(Debug, Clone)]
pub struct Shop {
    pub products: Vec<Product>,
    pub users: Vec<User>,
}

impl Shop {
    /// A seeded shop: random products with price ties, the special names at random places, four users.
    pub fn seeded(rng: &mut Rng) -> Self {
        let mut names: Vec<String> = (0..28)
            .map(|_| format!("{} {}", rng.pick(&ADJECTIVES), rng.pick(&NOUNS)))
            .collect();
        names.extend(SPECIAL_NAMES.iter().map(|n| n.to_string()));
        rng.shuffle(&mut names);
        let products = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| Product {
                id: i as i64 + 1,
                name,
                category: rng.pick(&CATEGORIES).to_string(),
                price_cents: rng.range(1, 12) as i64 * 250,
            })
            .collect();
        let users = [
            ("admin", "admin"),
            ("alice", "member"),
            ("bob", "member"),
            ("carol", "support"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, role))| User {
            id: i as i64 + 1,
            name: name.to_string(),
            api_key: format!("sk_live_{}", hex(&rng.bytes(12))),
            role: role.to_string(),
        })
        .collect();
        Shop { products, users }
    }

    /// The API keys: none may ever appear in an answer to a search or an add.
    pub fn secrets(&self) -> Vec<String> {
        self.users.iter().map(|u| u.api_key.clone()).collect()
    }

    /// Writes the shop into a new database file at `path`.
    pub fn write(&self, path: &Path) -> Result<(), Failure> {
        let fail = |e: rusqlite::Error| {
            Failure::new(format!("the grader could not seed {}: {e}", path.display()))
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.execute_batch(
            "CREATE TABLE products (
                 id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price_cents INTEGER NOT NULL);
             CREATE TABLE users (
                 id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, api_key TEXT NOT NULL, role TEXT NOT NULL);",
        )
        .map_err(fail)?;
        for p in &self.products {
            conn.execute(
                "INSERT INTO products (id, name, category, price_cents) VALUES (?1, ?2, ?3, ?4)",
                params![p.id, p.name, p.category, p.price_cents],
            )
            .map_err(fail)?;
        }
        for u in &self.users {
            conn.execute(
                "INSERT INTO users (id, name, api_key, role) VALUES (?1, ?2, ?3, ?4)",
                params![u.id, u.name, u.api_key, u.role],
            )
            .map_err(fail)?;
        }
        Ok(())
    }

    /// The rows the contract requires for `search`, or the error it requires.
    pub fn expected(&self, search: &Search) -> Value {
        if !matches!(search.sort, "id" | "name" | "price") || !matches!(search.dir, "asc" | "desc")
        {
            return json!({"error": "invalid sort"});
        }
        if !(1..=100).contains(&search.limit) {
            return json!({"error": "invalid limit"});
        }
        let mut rows: Vec<&Product> = self
            .products
            .iter()
            .filter(|p| p.name.contains(&search.q))
            .filter(|p| search.category.as_ref().is_none_or(|c| &p.category == c))
            .collect();
        rows.sort_by(|a, b| {
            let primary = match search.sort {
                "name" => a.name.as_bytes().cmp(b.name.as_bytes()),
                "price" => a.price_cents.cmp(&b.price_cents),
                _ => a.id.cmp(&b.id),
            };
            let primary = if search.dir == "desc" {
                primary.reverse()
            } else {
                primary
            };
            primary.then(a.id.cmp(&b.id))
        });
        rows.truncate(search.limit as usize);
        json!({"rows": rows.iter().map(|p| p.to_json()).collect::<Vec<_>>()})
    }

    /// Adds a product as the contract stores it, and returns its id.
    pub fn add(&mut self, name: &str, category: &str, price_cents: i64) -> i64 {
        let id = self.products.iter().map(|p| p.id).max().unwrap_or(0) + 1;
        self.products.push(Product {
            id,
            name: name.to_string(),
            category: category.to_string(),
            price_cents,
        });
        id
    }
}

/// What the database file holds, read by the grader after the program has stopped.
#[derive(Debug)]
pub struct Dump {
    pub tables: Vec<String>,
    pub products: Vec<Product>,
    pub users: Vec<User>,
}

/// Reads the tables, products and users of the database at `path`.
pub fn dump(path: &Path) -> Result<Dump, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    let tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()
        })
        .map_err(|e| e.to_string())?;
    let products = conn
        .prepare("SELECT id, name, category, price_cents FROM products ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(Product {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    category: r.get(2)?,
                    price_cents: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("reading products: {e}"))?;
    let users = conn
        .prepare("SELECT id, name, api_key, role FROM users ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    api_key: r.get(2)?,
                    role: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("reading users: {e}"))?;
    Ok(Dump {
        tables,
        products,
        users,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
