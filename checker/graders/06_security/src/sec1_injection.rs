//! Grader of `sec1_injection`: a product search, an insert and a document-filter login over a SQLite file the
//! grader seeds, driven by JSON lines.
//!
//! Every search answer is compared with an exact model of the seeded shop ([`shop`]); every answer is scanned
//! for the users' API keys. Payloads are real ones, written for the query shapes learners build (`LIKE '%…%'`,
//! `instr(name, '…')`, a spliced `ORDER BY`, a spliced `INSERT`), so a program that splices text into its SQL
//! either returns extra rows, leaks a key, or fails with a syntax error where the contract requires rows. At the
//! end the grader stops the program and reads the database file itself: the users are untouched, the
//! products are the seeded ones plus exactly what was added, and no table appeared or vanished.

mod shop;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use crate::support::{ScratchDir, leaked};
use shop::{Search, Shop, dump};

/// Search terms that are SQL, aimed at the query shapes learners write. None may change the answer.
const TERM_PAYLOADS: [&str; 13] = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "%' OR 1=1 --",
    "') > 0 OR 1=1 --",
    "' UNION SELECT id, name, api_key, 0 FROM users --",
    "%' UNION SELECT id, name, api_key, 0 FROM users --",
    "') > 0 UNION SELECT id, name, api_key, 0 FROM users --",
    "'; DROP TABLE users; --",
    "') > 0; DELETE FROM products; --",
    "\\' OR 1=1 --",
    "' AND (SELECT count(*) FROM users WHERE role = 'admin') > 0 --",
    "\" OR \"\"=\"",
    "x' UNION SELECT 1, api_key, role, 2 FROM users WHERE '1'='1",
];
/// Category filters that are SQL.
const CATEGORY_PAYLOADS: [&str; 4] = [
    "home' OR '1'='1",
    "' OR 1=1 --",
    "x' UNION SELECT id, name, api_key, 0 FROM users --",
    "toys'; DROP TABLE products; --",
];
/// Search terms with quotes that must find the seeded products that contain them.
const QUOTED_TERMS: [&str; 4] = ["'n'", "O'R", "\"quoted\"", "; --"];
/// Search terms made of `LIKE` wildcards, and a case twin: literal, case-sensitive matches only.
const LITERAL_TERMS: [&str; 7] = ["%", "_", "0%", "e_c", "%_", "Mug", "MUG"];
/// Sort choices outside the allow-list: each must be refused, never "cleaned".
const BAD_SORTS: [(&str, &str); 11] = [
    ("price_cents", "asc"),
    ("name; DROP TABLE users", "asc"),
    (
        "(CASE WHEN (SELECT substr(api_key, 1, 8) FROM users WHERE name = 'admin') = 'sk_live_' THEN name ELSE id END)",
        "asc",
    ),
    ("Name", "asc"),
    ("1", "asc"),
    ("", "asc"),
    ("id", "DESC"),
    ("id", "asc, (SELECT api_key FROM users)"),
    ("name", "asc; DELETE FROM products"),
    ("price", ""),
    ("category", "asc"),
];
/// Product names full of SQL: stored byte for byte, executed never.
const ADD_PAYLOADS: [(&str, &str); 5] = [
    ("Robert'); DROP TABLE products; --", "books"),
    (
        "x' || (SELECT api_key FROM users WHERE role = 'admin') || '",
        "toys",
    ),
    ("', 'toys', 1); DELETE FROM users; --", "home"),
    ("O'Brien \"quoted\" ; -- tool", "garden"),
    (
        "plain kettle",
        "home'); UPDATE users SET role = 'admin'; --",
    ),
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let scratch = ScratchDir::new("sec1")?;
    let db = scratch.path().join("shop.db");
    let mut shop = Shop::seeded(g.rng());
    shop.write(&db)?;
    let db_arg = db.to_string_lossy().into_owned();
    let mut p = g.stdio_with(&["--db", &db_arg], &[])?;
    let secrets = shop.secrets();

    g.scenario("a search finds literal, case-sensitive substrings (`%` and `_` are characters)");
    for term in LITERAL_TERMS {
        let rule = "a search term matches as a literal, case-sensitive substring: `%` and `_` are literal \
                    characters, not LIKE wildcards (LIKE also ignores ASCII case in SQLite)";
        check_search(&mut p, &shop, &Search::for_term(term), &secrets, rule)?;
    }

    g.scenario("injection payloads in the search term and the category change nothing");
    let rule = "a search term is data, never SQL: it is bound as a parameter, so a payload is only a strange \
                search term that matches the names containing it (usually none), never an error and never \
                extra rows";
    for term in TERM_PAYLOADS.iter().chain(&QUOTED_TERMS) {
        check_search(&mut p, &shop, &Search::for_term(term), &secrets, rule)?;
    }
    for category in CATEGORY_PAYLOADS {
        let mut search = Search::for_term("");
        search.category = Some(category.to_string());
        check_search(&mut p, &shop, &search, &secrets, rule)?;
    }

    g.scenario("ordinary searches return exactly the matching rows, sorted, ties by id");
    for _ in 0..40 {
        let search = random_search(g, &shop);
        let rule = "the rows whose name contains the term (case-sensitive) and whose category is the one \
                    given, ordered by the sort column and direction with ties broken by id ascending, at \
                    most `limit` of them";
        check_search(&mut p, &shop, &search, &secrets, rule)?;
    }

    g.scenario("ORDER BY comes only from the allow-list; the limit is checked");
    for (sort, dir) in BAD_SORTS {
        let search = Search {
            sort,
            dir,
            ..Search::for_term("")
        };
        let rule = "a sort column and direction cannot be bound parameters, so they come from an allow-list: \
                    exactly `id`, `name` or `price`, and `asc` or `desc`; anything else is refused with \
                    `invalid sort`, never cleaned up and run";
        check_search(&mut p, &shop, &search, &secrets, rule)?;
    }
    for limit in [0, 101, 5000] {
        let search = Search {
            limit,
            ..Search::for_term("")
        };
        check_search(
            &mut p,
            &shop,
            &search,
            &secrets,
            "a limit outside 1..=100 is refused with `invalid limit`",
        )?;
    }

    g.scenario("added products are stored verbatim, whatever SQL their name holds");
    for (name, category) in ADD_PAYLOADS {
        let price = g.rng().range(1, 99) as i64 * 100;
        let request =
            json!({"op": "add", "name": name, "category": category, "price_cents": price});
        let reply = p.request(&request)?;
        let id = shop.add(name, category, price);
        let rule = "a new product is stored verbatim with bound parameters: its name and category are data, \
                    and its id is the next row id";
        expect_reply(&reply, &json!({"id": id}), &secrets, rule)?;
        let rule = "a product added with SQL in its name is stored verbatim: a search for its exact name finds \
                    it, exactly as it was sent";
        check_search(&mut p, &shop, &Search::for_term(name), &secrets, rule)?;
    }

    g.scenario("operator injection in the document filter is refused");
    auth_scenario(g, &mut p, &shop)?;

    g.scenario("the database file holds exactly what the contract allows");
    let (_, termination) = p.finish(std::time::Duration::from_secs(5))?;
    let _ = termination;
    check_file(&db, &shop)
}

/// A random legitimate search: a piece of a seeded name (sometimes in another case), a category, a sort.
fn random_search(g: &mut Grading, shop: &Shop) -> Search {
    let rng = g.rng();
    let name = &rng.pick(&shop.products).name;
    let q = match rng.below(10) {
        0 => String::new(),
        1 => "zzz".to_string(),
        2 => name.to_uppercase(),
        _ => {
            let chars: Vec<char> = name.chars().collect();
            let start = rng.below(chars.len() as u64) as usize;
            let len = rng.range(1, 4) as usize;
            chars[start..(start + len).min(chars.len())]
                .iter()
                .collect()
        }
    };
    let category = match rng.below(3) {
        0 => Some(
            rng.pick(&["books", "music", "home", "garden", "toys", "Home"])
                .to_string(),
        ),
        _ => None,
    };
    Search {
        q,
        category,
        sort: ["id", "name", "price"][rng.below(3) as usize],
        dir: ["asc", "desc"][rng.below(2) as usize],
        limit: *rng.pick(&[1, 2, 3, 5, 8, 100, 100]),
    }
}

fn check_search(
    p: &mut Stdio,
    shop: &Shop,
    search: &Search,
    secrets: &[String],
    rule: &str,
) -> Result<(), Failure> {
    let reply = p.request(&search.to_json())?;
    expect_reply(&reply, &shop.expected(search), secrets, rule).map_err(|f| {
        f.detail(format!(
            "the search: q {:?}, category {:?}, sort {:?}, dir {:?}, limit {}",
            search.q, search.category, search.sort, search.dir, search.limit
        ))
    })
}

/// Compares a reply with the contract's answer, after making sure it carries no API key.
fn expect_reply(
    reply: &Value,
    expected: &Value,
    secrets: &[String],
    rule: &str,
) -> Result<(), Failure> {
    let text = reply.to_string();
    if let Some(key) = leaked(&text, secrets) {
        return Err(Failure::new(format!(
            "{rule}; here an API key from the users table came back in the answer"
        ))
        .expected(short(expected))
        .got(short(reply))
        .detail(format!(
            "the leaked key: {key} (the query was extended with SQL from the request)"
        )));
    }
    if reply != expected {
        let mut failure = Failure::new(rule.to_string())
            .expected(short(expected))
            .got(short(reply));
        if reply
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| e.starts_with("database error"))
        {
            failure = failure.detail(
                "a database error on a request the contract accepts means text from the request became part of \
                 the SQL (a quote closed a string literal)",
            );
        }
        return Err(failure);
    }
    Ok(())
}

/// A reply for a report: rows shown as `#id name`, to keep long answers readable.
fn short(value: &Value) -> String {
    match value.get("rows").and_then(Value::as_array) {
        Some(rows) => {
            let shown: Vec<String> = rows
                .iter()
                .map(|r| format!("#{} {}", r["id"], r["name"]))
                .collect();
            format!("{} rows: [{}]", rows.len(), shown.join(", "))
        }
        None => value.to_string(),
    }
}

fn auth_scenario(g: &mut Grading, p: &mut Stdio, shop: &Shop) -> Result<(), Failure> {
    let user = g.rng().pick(&shop.users).clone();
    let other = shop
        .users
        .iter()
        .find(|u| u.name != user.name)
        .cloned()
        .unwrap_or_else(|| user.clone());
    let legit = [
        (
            json!({"name": user.name, "api_key": user.api_key}),
            json!({"user": user.name, "role": user.role}),
        ),
        (
            json!({"api_key": other.api_key, "name": other.name}),
            json!({"user": other.name, "role": other.role}),
        ),
        (
            json!({"name": user.name, "api_key": other.api_key}),
            json!({"error": "invalid credentials"}),
        ),
        (
            json!({"name": "mallory", "api_key": user.api_key}),
            json!({"error": "invalid credentials"}),
        ),
    ];
    for (filter, expected) in legit {
        let reply = p.request(&json!({"op": "auth", "filter": filter}))?;
        let rule = "a filter with `name` and `api_key` as plain strings logs in the user who has both, and no \
                    one else";
        if reply != expected {
            return Err(Failure::new(rule)
                .expected(&expected)
                .got(&reply)
                .detail(format!("the filter: {filter}")));
        }
    }
    let injected = [
        json!({"name": user.name, "api_key": {"$ne": null}}),
        json!({"name": user.name, "api_key": {"$ne": "x"}}),
        json!({"name": {"$gt": ""}, "api_key": {"$gt": ""}}),
        json!({"name": "admin", "api_key": {"$exists": true}}),
        json!({"name": user.name, "api_key": {"$in": [user.api_key, "x"]}}),
        json!({"name": user.name, "api_key": [user.api_key]}),
        json!({"name": user.name, "api_key": null}),
        json!({"name": user.name, "api_key": 0}),
        json!({"name": user.name, "api_key": user.api_key, "role": "admin"}),
        json!({"name": user.name, "api_key": "x", "$or": [{"name": user.name}]}),
        json!({"$or": [{"name": "admin"}], "api_key": {"$lt": "~"}}),
        json!({"name": user.name}),
        json!("admin"),
        json!([{"name": user.name}]),
    ];
    for filter in injected {
        let reply = p.request(&json!({"op": "auth", "filter": filter}))?;
        let expected = json!({"error": "invalid filter"});
        if reply != expected {
            let mut failure = Failure::new(
                "a filter is refused with `invalid filter` unless it is exactly {\"name\": string, \"api_key\": \
                 string}: an operator object ($ne, $gt, $in, $exists, $or) where a string belongs turns an \
                 equality test into a condition the attacker chooses",
            )
            .expected(&expected)
            .got(&reply)
            .detail(format!("the filter: {filter}"));
            if reply.get("user").is_some() {
                failure = failure.detail("the program logged the attacker in without the API key");
            }
            return Err(failure);
        }
    }
    Ok(())
}

fn check_file(db: &std::path::Path, shop: &Shop) -> Result<(), Failure> {
    let dump = dump(db).map_err(|e| {
        Failure::new(
            "after the program stopped, its database must still hold the tables products and users",
        )
        .got(e)
    })?;
    let tables = vec!["products".to_string(), "users".to_string()];
    if dump.tables != tables {
        return Err(Failure::new(
            "no request may create or drop a table: the database must still hold exactly \
                                 the tables products and users",
        )
        .expected(format!("{tables:?}"))
        .got(format!("{:?}", dump.tables)));
    }
    if dump.users != shop.users {
        return Err(Failure::new(
            "no request may change the users table: it must be exactly as seeded",
        )
        .expected(format!("{:?}", shop.users))
        .got(format!("{:?}", dump.users)));
    }
    if dump.products != shop.products {
        let diff: Vec<String> = dump
            .products
            .iter()
            .filter(|p| !shop.products.contains(p))
            .map(|p| format!("{p:?}"))
            .collect();
        return Err(Failure::new(
            "the products table must hold the seeded products plus exactly the ones added, stored verbatim",
        )
        .expected(format!("{} products", shop.products.len()))
        .got(format!("{} products", dump.products.len()))
        .detail(format!("rows the contract does not allow: [{}]", diff.join(", "))));
    }
    Ok(())
}
