//! Grader of `route2_route_types`: static, parameter, regex-constrained, wildcard and catch-all routes, and the
//! precedence among them, driven over HTTP with route tables given on the command line.
//!
//! Each scenario starts the program with one table and asks it for paths where several routes compete. The
//! fixed tables are registered in the *worst* order (least specific first), so a router whose answer depends
//! on the order gives itself away at once; each of their paths aims at one rule (anchored regexes, a regex with
//! braces, backtracking out of a static segment, a catch-all that needs a segment, the leftmost difference).
//! Then seeded tables built from a small vocabulary (so routes collide often) are compared with the grader's
//! reference router ([`model`]), and invalid tables must be refused at startup with exit code 2.

mod model;

use std::time::Duration;

use backlings_grade::http::Request;
use backlings_grade::sandbox::Termination;
use backlings_grade::{Failure, Grading, Rng};

use crate::support::{Http, RealClient, Want};
use model::Table;

/// A path and the rule it checks.
struct Check {
    path: String,
    rule: String,
}

fn check(path: &str, rule: &str) -> Check {
    Check {
        path: path.to_string(),
        rule: rule.to_string(),
    }
}

fn table(routes: &[(&str, &str)]) -> Table {
    let routes: Vec<(String, String)> = routes
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect();
    Table::new(&routes)
}

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("the classic conflict: /files/new, /files/{id:[0-9]+}, /files/{slug}, /files/*/raw, /files/*rest");
    classic(g)?;
    g.scenario("regex-constrained segments match the whole segment, and may contain braces");
    regexes(g)?;
    g.scenario("nested routes: the first segment from the left where the kinds differ decides");
    nested(g)?;
    g.scenario("wildcards and catch-alls: one segment, and one or more");
    wildcards(g)?;
    g.scenario("the registration order decides only a full tie");
    ties(g)?;
    for round in 1..=3 {
        g.scenario(&format!(
            "seeded route table {round} of 3 against the reference router"
        ));
        seeded(g)?;
    }
    g.scenario("a real HTTP client (reqwest) gets the same answers");
    real_client(g)?;
    g.scenario("an invalid route table is refused at startup with exit code 2");
    invalid_tables(g)
}

/// Starts the program with `table`; a refusal of this valid table is the learner's bug, said plainly.
fn start(g: &mut Grading, table: &Table) -> Result<Http, Failure> {
    let args = table.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Http::start(g, &args).map_err(|failure| {
        Failure::new("a valid route table was refused: the program must start and serve it")
            .got(failure.message)
            .detail(format!("the table: {}", table.describe()))
            .detail(
                "every pattern in it is valid: a regex may contain `{`, `}` and `:` (the segment ends at its \
                 last `}`), and a catch-all may end a pattern",
            )
    })
}

/// Asks for each path and compares with the reference router.
fn run(http: &mut Http, table: &Table, checks: &[Check]) -> Result<(), Failure> {
    run_with(http, table, checks, None)
}

/// [`run`], through a real HTTP client when one is given.
fn run_with(
    http: &mut Http,
    table: &Table,
    checks: &[Check],
    client: Option<&RealClient>,
) -> Result<(), Failure> {
    for check in checks {
        let request = Request::get(&check.path);
        let response = match client {
            Some(client) => client.send(http, &request)?,
            None => http.send(&request)?,
        };
        let (status, body, story) = table.answer(&check.path);
        let want = Want::status(status)
            .header("Content-Type", "application/json")
            .json(body);
        if let Err(mismatch) = want.compare(&response, Clone::clone) {
            return Err(Failure::new(&check.rule)
                .expected(want.describe())
                .got(mismatch.got)
                .detail(format!("sent: GET {}", check.path))
                .detail(format!("what differs: {}", mismatch.what))
                .detail(format!(
                    "the table, in registration order: {}",
                    table.describe()
                ))
                .detail(format!("the contract, step by step: {story}")));
        }
    }
    Ok(())
}

fn classic(g: &mut Grading) -> Result<(), Failure> {
    // Least specific first: a router that lets the order decide answers with the catch-all.
    let table = table(&[
        ("files_rest", "/files/*rest"),
        ("file_raw", "/files/*/raw"),
        ("file_by_slug", "/files/{slug}"),
        ("file_by_id", "/files/{id:[0-9]+}"),
        ("files_new", "/files/new"),
    ]);
    let id = g.rng().range(1, 99_999).to_string();
    let slug = format!("{}{}", g.rng().word(4), g.rng().range(0, 9));
    let checks = [
        check(
            "/files/new",
            "a static segment beats every other kind, whatever the order of the table",
        ),
        check(
            &format!("/files/{id}"),
            "a regex-constrained parameter beats a plain parameter (and a catch-all)",
        ),
        check(
            &format!("/files/{slug}"),
            "a regex must match the whole segment: `[0-9]+` refuses a segment that merely contains a digit",
        ),
        check(
            "/files/abc1",
            "a regex must match the whole segment: `[0-9]+` refuses a segment that merely contains a digit",
        ),
        check(
            "/files/new/raw",
            "a route competes only if it matches the whole path: /files/new does not match /files/new/raw, so the wildcard route answers",
        ),
        check(
            &format!("/files/{id}/raw"),
            "a wildcard matches one segment and captures nothing",
        ),
        check(
            &format!("/files/{slug}/raw/x"),
            "a catch-all takes one or more segments, joined by `/`",
        ),
        check(
            "/files",
            "a catch-all takes one or more segments, never zero",
        ),
        check(
            "/files/",
            "an empty segment matches nothing, not even a catch-all",
        ),
        check(
            "/files//raw",
            "an empty segment matches nothing, not even a catch-all",
        ),
        check("/", "no route for `/` in this table: 404"),
        check("/nope", "no route matches: 404"),
    ];
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

fn real_client(g: &mut Grading) -> Result<(), Failure> {
    let table = table(&[
        ("files_rest", "/files/*rest"),
        ("file_by_id", "/files/{id:[0-9]+}"),
        ("files_new", "/files/new"),
        ("root", "/"),
    ]);
    let id = g.rng().range(1, 99_999).to_string();
    let rule = "a real HTTP client gets the same answers as raw requests";
    let checks = [
        check("/", rule),
        check("/files/new", rule),
        check(&format!("/files/{id}"), rule),
        check(&format!("/files/{id}/a.txt"), rule),
        check("/nope", rule),
    ];
    let client = RealClient::new()?;
    let mut http = start(g, &table)?;
    run_with(&mut http, &table, &checks, Some(&client))
}

fn regexes(g: &mut Grading) -> Result<(), Failure> {
    let table = table(&[
        ("post_slug", "/posts/{slug}"),
        ("post_state", "/posts/{state:draft|published}"),
        ("post_year", "/posts/{year:[0-9]{4}}"),
        ("release", "/releases/{tag:v[0-9]+(\\.[0-9]+){0,2}}"),
        ("release_other", "/releases/*"),
        ("hex", "/blobs/{sha:[0-9a-f]{8}}/{part:[a-z]+:[0-9]+}"),
    ]);
    let year = g.rng().range(1000, 9999).to_string();
    let anchored = "a regex is anchored as a whole: `draft|published` matches `draft` or `published`, never \
                    `drafts` or `unpublished` (`^draft|published$` is `(^draft)|(published$)`)";
    let whole = "a regex must match the whole segment: `[0-9]{4}` is exactly four digits";
    let checks = [
        check(
            &format!("/posts/{year}"),
            "a regex may contain braces: `{year:[0-9]{4}}` is one segment, the segment ends at its last `}`",
        ),
        check("/posts/draft", anchored),
        check("/posts/published", anchored),
        check("/posts/drafts", anchored),
        check("/posts/unpublished", anchored),
        check(&format!("/posts/{year}7"), whole),
        check(&format!("/posts/x{year}"), whole),
        check("/releases/v2", whole),
        check("/releases/v2.10.3", whole),
        check("/releases/v2.10.3.1", whole),
        check("/releases/2.10", whole),
        check(
            "/blobs/deadbeef/chunk:12",
            "a regex may contain `:`: the name ends at the first `:`, the regex is the rest",
        ),
        check("/blobs/deadbeef0/chunk:12", whole),
        check(
            "/blobs/DEADBEEF/chunk:12",
            "a regex is case-sensitive unless it says otherwise",
        ),
    ];
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

fn nested(g: &mut Grading) -> Result<(), Failure> {
    let table = table(&[
        ("section_page", "/{section}/{page}"),
        ("user_post", "/users/{id}/posts/{post}"),
        ("user_latest", "/users/{id}/posts/latest"),
        ("me_post", "/users/me/posts/{post}"),
        ("me_rest", "/users/me/*rest"),
        ("docs", "/docs/*path"),
        ("user", "/users/{id:[0-9]+}"),
    ]);
    let id = g.rng().range(1, 999).to_string();
    let leftmost = "the first segment from the left where the kinds differ decides, however many static \
                    segments come later: `/users/me/…` beats `/users/{id}/…`";
    let checks = [
        check("/users/me/posts/latest", leftmost),
        check(
            &format!("/users/{id}/posts/latest"),
            "a static segment beats a parameter at the same place",
        ),
        check(
            &format!("/users/{id}/posts/{}", g.rng().word(5)),
            "nested parameters are all captured",
        ),
        check(
            "/users/me/settings/theme",
            "a catch-all takes one or more segments, joined by `/`",
        ),
        check(
            "/users/me",
            "a route competes only if it matches the whole path: `[0-9]+` refuses `me`, and `/users/me/*rest` needs one more segment",
        ),
        check(
            &format!("/users/{id}"),
            "a regex-constrained parameter beats a plain parameter",
        ),
        check("/docs/a/b", leftmost),
        check("/docs/intro", leftmost),
        check("/about/team", "a parameter matches any one segment"),
    ];
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

fn wildcards(g: &mut Grading) -> Result<(), Failure> {
    let table = table(&[
        ("static_path", "/static/*path"),
        ("static_css", "/static/css/*path"),
        ("static_file", "/static/{file}"),
        ("any_meta", "/files/*/meta"),
        ("file_meta", "/files/{id}/meta"),
        ("deep", "/a/*/*/c"),
    ]);
    let name = format!("{}.js", g.rng().word(5));
    let one_or_more = "a catch-all takes one or more segments, never zero";
    let checks = [
        check(
            &format!("/static/{name}"),
            "a parameter beats a catch-all for one segment",
        ),
        check(
            &format!("/static/js/{name}"),
            "a catch-all takes one or more segments, joined by `/`",
        ),
        check("/static/css/a/b.css", "a static segment beats a catch-all"),
        check(
            "/static/css",
            "a parameter beats a catch-all for one segment",
        ),
        check("/static", one_or_more),
        check(
            "/static/css/",
            "an empty segment matches nothing, not even a catch-all",
        ),
        check("/files/x/meta", "a parameter beats a wildcard"),
        check("/a/b/x/c", "a wildcard matches exactly one segment"),
        check("/a/b/c", "a wildcard matches exactly one segment"),
    ];
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

fn ties(g: &mut Grading) -> Result<(), Failure> {
    let mut routes = vec![
        ("num".to_string(), "/t/{n:[0-9]+}".to_string()),
        ("hex".to_string(), "/t/{h:[0-9a-f]+}".to_string()),
        ("x".to_string(), "/u/{x}".to_string()),
        ("y".to_string(), "/u/{y}".to_string()),
    ];
    g.rng().shuffle(&mut routes);
    let table = Table::new(&routes);
    let tie = "two routes with the same kinds at every segment: the one registered first wins";
    let checks = [
        check("/t/12", tie),
        check(
            "/t/ab",
            "a route competes only if it matches: `[0-9]+` refuses `ab`",
        ),
        check(&format!("/u/{}", g.rng().word(4)), tie),
    ];
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

/// Words that are both static segments and values, so that routes and paths collide.
const WORDS: [&str; 6] = ["files", "new", "raw", "me", "v1", "docs"];
const VALUES: [&str; 14] = [
    "new", "raw", "me", "v1", "v22", "docs", "42", "2024", "7", "abc", "abc1", "draft", "drafts",
    "deadbeef",
];
const REGEXES: [&str; 6] = [
    "[0-9]+",
    "[a-z]+",
    "[0-9]{4}",
    "draft|published",
    "v[0-9]+",
    "[a-f0-9]{8}",
];

fn random_pattern(rng: &mut Rng, index: usize) -> String {
    let depth = rng.range(1, 4) as usize;
    let mut parts = Vec::new();
    for position in 0..depth {
        let last = position + 1 == depth;
        let part = match rng.below(100) {
            _ if position == 0 && rng.chance(3, 4) => (*rng.pick(&["files", "docs"])).to_string(),
            0..=39 => (*rng.pick(&WORDS)).to_string(),
            40..=59 => format!("{{p{index}x{position}}}"),
            60..=74 => format!("{{r{index}x{position}:{}}}", rng.pick(&REGEXES)),
            75..=84 => "*".to_string(),
            _ if last => format!("*rest{index}"),
            _ => format!("{{p{index}x{position}}}"),
        };
        parts.push(part);
    }
    format!("/{}", parts.join("/"))
}

/// A path made to hit `pattern` (or nearly): static segments kept or swapped, values from the colliding pool.
fn path_for(rng: &mut Rng, pattern: &str) -> String {
    let mut segments = Vec::new();
    for part in pattern[1..].split('/') {
        if part.starts_with('*') && part.len() > 1 {
            for _ in 0..rng.range(0, 3) {
                segments.push((*rng.pick(&VALUES)).to_string());
            }
        } else if part.starts_with('{') || part == "*" || rng.chance(1, 5) {
            segments.push((*rng.pick(&VALUES)).to_string());
        } else {
            segments.push(part.to_string());
        }
    }
    if rng.chance(1, 10) {
        segments.push((*rng.pick(&VALUES)).to_string());
    }
    format!("/{}", segments.join("/"))
}

fn seeded(g: &mut Grading) -> Result<(), Failure> {
    let rng = g.rng();
    let routes: Vec<(String, String)> = (0..12)
        .map(|index| (format!("r{index:02}"), random_pattern(rng, index)))
        .collect();
    let table = Table::new(&routes);
    let mut checks = Vec::new();
    for _ in 0..40 {
        let pattern = rng.pick(&routes).1.clone();
        let path = path_for(rng, &pattern);
        checks.push(Check {
            path,
            rule: "a seeded path gets the answer of the precedence rule: the most specific kind at the first \
                   differing segment, then the route registered first"
                .to_string(),
        });
    }
    let mut http = start(g, &table)?;
    run(&mut http, &table, &checks)
}

fn invalid_tables(g: &mut Grading) -> Result<(), Failure> {
    let cases = [
        (
            "/files/*rest/raw",
            "a catch-all that is not the last segment",
        ),
        ("/files/{id:[0-9}", "a regex that does not compile"),
        ("/files/{id", "a `{` without its `}`"),
        ("/files//raw", "an empty segment"),
    ];
    for (bad, why) in cases {
        let args = [
            "--route",
            "files_new=/files/new",
            "--route",
            &format!("broken={bad}"),
            "--route",
            "file=/files/{id}",
        ];
        let table = args.join(" ");
        let rule = format!(
            "an invalid route table must be refused at startup: print the reason on stderr and exit with code 2 \
             before serving ({why}: `{bad}`)"
        );
        let mut program = g.stdio_with(&args, &[])?;
        match program.recv_line_within(Duration::from_secs(3)) {
            Ok(line) => {
                return Err(Failure::new(rule)
                    .expected("exit code 2, nothing on stdout")
                    .got(format!("it printed `{line}` (it accepted the table)"))
                    .detail(format!("the arguments: {table}")));
            }
            Err(_) => {
                let (_, how) = program.finish(Duration::from_secs(2))?;
                if how != Termination::Exited(2) {
                    return Err(Failure::new(rule)
                        .expected("exit code 2")
                        .got(format!("it {}", how.describe()))
                        .detail(format!("the arguments: {table}")));
                }
            }
        }
    }
    Ok(())
}
