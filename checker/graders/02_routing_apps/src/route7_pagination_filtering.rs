//! Grader of `route7_pagination_filtering`: a product list over SQLite with filters, search, whitelisted
//! multi-key sort, offset pages and cursor (keyset) pages with `Link` headers.
//!
//! The grader stocks the table through `POST /products`, then walks pages the way a client does, following
//! the `Link: <…>; rel="next"` (and `prev`) the server gives, and compares every page with an exact model:
//! the rows, their order, `total`, whether a next page exists. Sorts have many ties (five ratings, six
//! prices, repeated names), so a cursor that remembers only the first key goes wrong. Cursor walks run while
//! the grader inserts rows between pages, some before the walk's position and some after: every row that
//! was there at the start comes exactly once, none twice. Search is literal (`%`, `_`) and ignores ASCII case;
//! every malformed or hostile query is a `400`, and the table survives them.

mod model;

use std::collections::BTreeSet;

use backlings_grade::http::Request;
use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::Value;

use crate::support::{body_request, json_body, media_type, show, summary};
use model::{Product, Query};

/// How many products the table starts with.
const STOCK: u64 = 60;
/// A walk that goes on longer than this is not ending.
const MAX_PAGES: usize = 300;
/// How many pages of a walk get rows inserted after them.
const INSERTING_PAGES: usize = 5;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut rng = g.rng().fork(7);
    let mut shop = Shop::start(g)?;

    g.scenario(&format!("POST /products stocks {STOCK} products"));
    for _ in 0..STOCK {
        shop.insert(&mut rng)?;
    }
    g.scenario("offset pages: the rows, the total, and Link next/prev that keep the filters, sort and limit");
    for query in fixed_queries(&mut rng) {
        shop.offset_walk(&query)?;
    }
    g.scenario(
        "a cursor walk visits every row once, in order, even among ties on the first sort key",
    );
    for query in fixed_queries(&mut rng) {
        shop.cursor_walk(&query, &mut rng, false)?;
    }
    g.scenario("a cursor walk while rows are inserted between pages: no row skipped, none twice");
    for query in fixed_queries(&mut rng).into_iter().take(3) {
        shop.cursor_walk(&query, &mut rng, true)?;
    }
    g.scenario("q matches names literally (% and _ are ordinary) and ignores ASCII case; + and %20 are spaces");
    search(&mut shop)?;
    g.scenario(
        "an unknown or malformed parameter, sort field or cursor is 400, and the table survives it",
    );
    refusals(&mut shop, &mut rng)?;
    g.scenario("seeded random queries and walks against the exact model");
    for round in 0..8 {
        let query = model::random_query(&mut rng);
        if round % 2 == 0 {
            let inserting = rng.chance(1, 2);
            shop.cursor_walk(&query, &mut rng, inserting)?;
        } else {
            shop.offset_walk(&query)?;
        }
    }
    Ok(())
}

/// Queries every seed runs, with filters, multi-key sorts and ties.
fn fixed_queries(rng: &mut Rng) -> Vec<Query> {
    let category = rng.pick(&model::CATEGORIES).to_string();
    vec![
        Query {
            sort: vec![("rating", true), ("price_cents", false)],
            limit: rng.range(3, 7),
            ..Query::default()
        },
        Query {
            category: Some(category),
            sort: vec![("price_cents", true)],
            limit: rng.range(2, 5),
            ..Query::default()
        },
        Query {
            price_min: Some(999),
            price_max: Some(4999),
            sort: vec![("name", false), ("rating", true)],
            limit: rng.range(4, 9),
            ..Query::default()
        },
        Query {
            rating_min: Some(3),
            limit: rng.range(5, 11),
            ..Query::default()
        },
        Query {
            sort: vec![("id", true)],
            limit: 10,
            ..Query::default()
        },
    ]
}

/// Percent-encodes a query component: everything but the unreserved characters; a space as `+` or `%20`.
fn encode(text: &str, space_as_plus: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else if byte == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn target_of(pairs: &[(String, String)], space_as_plus: bool) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, space_as_plus), encode(v, space_as_plus)))
        .collect();
    format!("/products?{}", query.join("&"))
}

/// One page as the server gave it.
struct Served {
    items: Vec<Value>,
    body: Value,
    /// `rel` → target (path and query).
    links: Vec<(String, String)>,
}

impl Served {
    fn link(&self, rel: &str) -> Option<&str> {
        self.links
            .iter()
            .find(|(r, _)| r == rel)
            .map(|(_, t)| t.as_str())
    }
}

/// Parses `Link: <url>; rel="next", <url>; rel="prev"` into `(rel, path and query)`.
fn parse_links(header: &str) -> Result<Vec<(String, String)>, String> {
    let mut links = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let open = rest.strip_prefix('<').ok_or("a link starts with `<`")?;
        let (url, after) = open.split_once('>').ok_or("a link's URL ends with `>`")?;
        let (params, next) = match after.find(", <") {
            Some(at) => (&after[..at], &after[at + 1..]),
            None => (after, ""),
        };
        let rel = params
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("rel="))
            .map(|r| r.trim_matches('"').to_string())
            .next()
            .ok_or("each link has a rel=\"…\" parameter")?;
        let target = match url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
        {
            Some(absolute) => absolute
                .find('/')
                .map_or("/".to_string(), |at| absolute[at..].to_string()),
            None => url.to_string(),
        };
        links.push((rel, target));
        rest = next.trim();
    }
    Ok(links)
}

/// The running program, one keep-alive connection, and the model's rows.
struct Shop {
    server: Server,
    connection: Connection,
    products: Vec<Product>,
}

impl Shop {
    fn start(g: &mut Grading) -> Result<Self, Failure> {
        let mut server = g.server()?;
        let connection = server.open()?;
        Ok(Shop {
            server,
            connection,
            products: Vec::new(),
        })
    }

    fn insert(&mut self, rng: &mut Rng) -> Result<Product, Failure> {
        let product = model::random_product(rng, self.products.len() as u64 + 1);
        let request = body_request(
            "POST",
            "/products",
            "application/json",
            product.to_body().to_string().as_bytes(),
        );
        let response = self.connection.request(&request)?;
        let body = json_body(&response).unwrap_or(Value::Null);
        if response.status != 201 || body != product.to_json() {
            return Err(Failure::new(
                "POST /products stores the product and answers 201 with it (this part is given)",
            )
            .expected(format!("201 · {}", show(&product.to_json())))
            .got(summary(&response)));
        }
        self.products.push(product.clone());
        Ok(product)
    }

    fn get(&mut self, target: &str) -> Result<Served, Failure> {
        let response = match self.connection.request(&Request::get(target)) {
            Ok(response) => response,
            Err(failure) => {
                self.server.ensure_alive()?;
                return Err(failure);
            }
        };
        if response.status != 200 || media_type(&response) != "application/json" {
            return Err(
                Failure::new("a valid list request answers 200 with a JSON page")
                    .got(summary(&response))
                    .detail(format!("the request: GET {target}")),
            );
        }
        let body =
            json_body(&response).map_err(|why| Failure::new("a page is a JSON object").got(why))?;
        let items = body
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| {
                Failure::new("a page is {\"items\": [...], …}")
                    .got(show(&body))
                    .detail(format!("the request: GET {target}"))
            })?;
        let links = match response.header("Link") {
            None => Vec::new(),
            Some(header) => parse_links(header).map_err(|why| {
                Failure::new("the Link header follows RFC 8288: `<URL>; rel=\"next\"`, several separated by commas")
                    .got(format!("Link: {header}"))
                    .detail(why)
            })?,
        };
        Ok(Served { items, body, links })
    }

    fn expect_rows(
        &self,
        served: &Served,
        want: &[Product],
        rule: &str,
        context: &str,
    ) -> Result<(), Failure> {
        let want_json: Vec<Value> = want.iter().map(Product::to_json).collect();
        if served.items == want_json {
            return Ok(());
        }
        let ids = |items: &[Value]| {
            items
                .iter()
                .map(|i| i["id"].to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Failure::new(rule)
            .expected(format!("ids [{}]", ids(&want_json)))
            .got(format!("ids [{}]", ids(&served.items)))
            .detail(context.to_string())
            .detail(format!(
                "the expected rows: {}",
                show(&Value::Array(want_json))
            )))
    }

    /// Walks offset pages from 0 following `rel="next"`, checking each; follows `rel="prev"` once.
    fn offset_walk(&mut self, query: &Query) -> Result<(), Failure> {
        let mut pairs = query.pairs();
        pairs.push(("offset".into(), "0".into()));
        let mut target = target_of(&pairs, true);
        let mut offset = 0;
        let mut followed_prev = false;
        for _ in 0..MAX_PAGES {
            let served = self.get(&target)?;
            let (want, total, has_next) = query.offset_page(&self.products, offset);
            let context = format!(
                "the query: {} offset={offset} · the request: GET {target}",
                query.describe()
            );
            let rule = if offset == 0 {
                "an offset page holds the rows the filters select, in the sort's order (ties by id), from `offset` on, \
                 at most `limit` of them"
            } else {
                "the page rel=\"next\" leads to is the next slice of the same list: the link repeats every filter, \
                 the sort and the limit of the request, with offset + limit"
            };
            self.expect_rows(&served, &want, rule, &context)?;
            if served.body.get("total").and_then(Value::as_u64) != Some(total) {
                return Err(Failure::new(
                    "an offset page reports `total`: how many rows the filters select",
                )
                .expected(total)
                .got(served.body.get("total").map_or("nothing".into(), show))
                .detail(context));
            }
            if served.link("next").is_some() != has_next {
                return Err(Failure::new(
                    "an offset page links rel=\"next\" exactly when rows remain after it",
                )
                .expected(if has_next {
                    "a rel=\"next\" link"
                } else {
                    "no rel=\"next\" link"
                })
                .got(format!("{:?}", served.links))
                .detail(context));
            }
            if served.link("prev").is_some() != (offset > 0) {
                return Err(Failure::new(
                    "an offset page links rel=\"prev\" exactly when its offset is above 0",
                )
                .got(format!("{:?}", served.links))
                .detail(context));
            }
            if offset > 0 && !followed_prev {
                followed_prev = true;
                let prev_target = served.link("prev").unwrap_or_default().to_string();
                let prev_offset = offset.saturating_sub(query.limit);
                let back = self.get(&prev_target)?;
                let (want, _, _) = query.offset_page(&self.products, prev_offset);
                self.expect_rows(
                    &back,
                    &want,
                    "rel=\"prev\" leads to the page before (offset - limit, never below 0), with the same filters, \
                     sort and limit",
                    &format!("followed rel=\"prev\" of {context}: GET {prev_target}"),
                )?;
            }
            let Some(next) = served.link("next") else {
                return Ok(());
            };
            target = next.to_string();
            offset += query.limit;
        }
        Err(Failure::new("an offset walk ends").detail(format!(
            "more than {MAX_PAGES} pages for {}",
            query.describe()
        )))
    }

    /// Walks cursor pages from the first, checking each; with `inserting`, adds rows between pages.
    fn cursor_walk(
        &mut self,
        query: &Query,
        rng: &mut Rng,
        inserting: bool,
    ) -> Result<(), Failure> {
        let mut target = target_of(&query.pairs(), rng.chance(1, 2));
        let at_start: BTreeSet<u64> = query.select(&self.products).iter().map(|p| p.id).collect();
        let mut seen: Vec<u64> = Vec::new();
        let mut after: Option<Product> = None;
        for page in 1..=MAX_PAGES {
            let served = self.get(&target)?;
            let (want, more) = query.cursor_page(&self.products, after.as_ref());
            let mut context = format!(
                "the query: {} · page {page} of the walk · the request: GET {target}",
                query.describe()
            );
            if let Some(last) = &after {
                context.push_str(&format!(
                    "\n  the cursor's position: after the last row of the previous page, {}",
                    show(&last.to_json())
                ));
            }
            let got_ids: Vec<u64> = served
                .items
                .iter()
                .filter_map(|i| i["id"].as_u64())
                .collect();
            if let Some(twice) = got_ids.iter().find(|id| seen.contains(id)) {
                return Err(Failure::new(
                    "a cursor walk never serves a row twice: the next page starts strictly after the cursor's position \
                     in the sort order (the last row's values of every sort key, then its id), which no insert shifts",
                )
                .got(format!("row {twice} again on page {page}"))
                .detail(context));
            }
            let rule = if inserting {
                "a cursor page holds the first `limit` rows after the cursor's position in the sort order, counting \
                 rows inserted after that position and none before it"
            } else {
                "a cursor page holds the first `limit` rows after the cursor's position in the sort order: after the \
                 last row's values of every sort key, ties broken by id"
            };
            self.expect_rows(&served, &want, rule, &context)?;
            seen.extend(&got_ids);
            let cursor = served
                .body
                .get("next_cursor")
                .cloned()
                .unwrap_or(Value::Null);
            if cursor.is_string() != more || served.link("next").is_some() != more {
                return Err(Failure::new(
                    "a cursor page has a next_cursor and a rel=\"next\" link exactly when rows remain after it (a full \
                     last page is the last page), and next_cursor: null otherwise",
                )
                .expected(if more { "a next_cursor and a rel=\"next\" link" } else { "next_cursor: null, no Link" })
                .got(format!("next_cursor: {} · links {:?}", show(&cursor), served.links))
                .detail(context));
            }
            if !more {
                let missing: Vec<&u64> = at_start.iter().filter(|id| !seen.contains(id)).collect();
                if !missing.is_empty() {
                    return Err(Failure::new(
                        "a cursor walk serves every row that was there when it started",
                    )
                    .got(format!("never served: {missing:?}"))
                    .detail(context));
                }
                return Ok(());
            }
            after = want.last().cloned();
            if inserting && page <= INSERTING_PAGES {
                for _ in 0..rng.range(1, 3) {
                    self.insert(rng)?;
                }
            }
            // Follow the Link most of the time; sometimes build the URL from next_cursor, as clients also do.
            target = match (served.link("next"), cursor.as_str()) {
                (Some(next), _) if rng.chance(2, 3) => next.to_string(),
                (_, Some(cursor)) => format!("/products?cursor={}", encode(cursor, false)),
                (Some(next), None) => next.to_string(),
                (None, None) => unreachable!("checked above"),
            };
        }
        Err(Failure::new("a cursor walk ends").detail(format!(
            "more than {MAX_PAGES} pages for {}",
            query.describe()
        )))
    }
}

fn search(shop: &mut Shop) -> Result<(), Failure> {
    for (q, plus) in [
        ("50%", false),
        ("_", false),
        ("LAMP", false),
        ("desk lamp", true),
        ("desk lamp", false),
        ("É", false),
    ] {
        let query = Query {
            q: Some(q.to_string()),
            limit: 100,
            ..Query::default()
        };
        let target = target_of(&query.pairs(), plus);
        let served = shop.get(&target)?;
        let (want, _) = query.cursor_page(&shop.products, None);
        shop.expect_rows(
            &served,
            &want,
            "q keeps the names that contain it, ignoring ASCII case only; `%` and `_` are ordinary characters \
             (escape them in LIKE), and in a query `+` and `%20` are both a space",
            &format!("q = {q:?} · the request: GET {target}"),
        )?;
    }
    Ok(())
}

fn refusals(shop: &mut Shop, rng: &mut Rng) -> Result<(), Failure> {
    let first = shop.get("/products?limit=2")?;
    let cursor = first
        .body
        .get("next_cursor")
        .and_then(Value::as_str)
        .unwrap_or("x")
        .to_string();
    let cases: Vec<(String, &str)> = vec![
        (
            "/products?sort=password".into(),
            "a sort field outside the whitelist (id, name, price_cents, rating) is 400",
        ),
        (
            "/products?sort=name%3BDROP%20TABLE%20products".into(),
            "a sort field outside the whitelist is 400, never SQL",
        ),
        (
            "/products?sort=name%20DESC".into(),
            "a sort field outside the whitelist is 400 (descending is `-name`)",
        ),
        ("/products?sort=".into(), "an empty sort field is 400"),
        ("/products?sort=-".into(), "an empty sort field is 400"),
        (
            "/products?sort=rating,-rating".into(),
            "a sort field given twice is 400",
        ),
        ("/products?limit=0".into(), "limit is 1 to 100: 0 is 400"),
        (
            "/products?limit=101".into(),
            "limit is 1 to 100: 101 is 400",
        ),
        ("/products?limit=ten".into(), "limit is a whole number"),
        (
            "/products?offset=-1".into(),
            "offset is a whole number: -1 is 400",
        ),
        (
            "/products?price_min=9.99".into(),
            "price_min is a whole number",
        ),
        (
            "/products?sort_by=name".into(),
            "an unknown parameter is 400 (a typo must not be ignored silently)",
        ),
        (
            "/products?category=books&category=games".into(),
            "a parameter given twice is 400",
        ),
        (
            format!("/products?cursor={cursor}&offset=0"),
            "cursor and offset together are 400",
        ),
        (
            format!("/products?cursor={cursor}&limit=5"),
            "a cursor comes alone: anything next to it is 400",
        ),
        (
            "/products?cursor=%21%21%21".into(),
            "a cursor this server did not issue is 400",
        ),
        (
            "/products?cursor=bm90IGpzb24".into(),
            "a cursor this server did not issue is 400",
        ),
        (
            format!("/products?cursor={}", rng.word(24)),
            "a cursor this server did not issue is 400",
        ),
        ("/products?q=%ZZ".into(), "an invalid percent-escape is 400"),
        (
            "/products?q=%FF%FE".into(),
            "a query that does not decode to UTF-8 is 400",
        ),
    ];
    for (target, rule) in cases {
        let response = shop.connection.request(&Request::get(&target))?;
        if response.status != 400 || media_type(&response) != "application/problem+json" {
            return Err(Failure::new(format!("{rule}, as application/problem+json"))
                .expected("400 · application/problem+json")
                .got(summary(&response))
                .detail(format!("the request: GET {target}")));
        }
    }
    let query = Query {
        limit: 100,
        ..Query::default()
    };
    let served = shop.get("/products?limit=100")?;
    let (want, _) = query.cursor_page(&shop.products, None);
    shop.expect_rows(
        &served,
        &want,
        "the table is intact after the hostile requests",
        "GET /products?limit=100",
    )
}
