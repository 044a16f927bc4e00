//! Grader of `val2_semantic_conditional`: `POST /register` with business rules, a relationship
//! (confirm password), a conditional member (partner name iff married), ages computed from the fake clock,
//! and an expensive username lookup that must run only for requests that passed every cheap check.
//!
//! The grader plays the username service itself ([`Upstream`]): a name it was told is taken answers 200,
//! any other 404, and chosen names fail (500, 503, 429, a reset connection). Every request's lookups are
//! counted at that service, by path, so "zero calls when a cheaper check already failed" is checked from
//! outside. Expected error lists come from the executable contract in [`model`].

mod model;

use backlings_grade::http::{Request, Response};
use backlings_grade::upstream::{Reply, Upstream};
use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::Value;

use crate::dates::{DAY_MS, Date};
use crate::problem::{self, FieldError, glimpse};
use model::{Partner, Registration, STATUSES};

/// The problem types of the contract.
const VALIDATION: &str = "urn:backlings:problem:validation";
const UNAVAILABLE: &str = "urn:backlings:problem:dependency-unavailable";
const MALFORMED: &str = "urn:backlings:problem:malformed-request";
/// Seeded bodies with several broken rules each.
const MIXED: usize = 30;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let upstream = Upstream::start()?;
    let mut server = g.server_with(&[], &[("USERNAME_SERVICE_URL", &upstream.base_url())])?;
    let conn = server.open()?;
    let rng = g.rng().fork(2);
    let mut s = Session {
        upstream,
        conn,
        rng,
        counter: 0,
    };

    g.scenario("valid registrations are created after exactly one username lookup");
    for _ in 0..12 {
        let today = s.today();
        let registration = s.valid(today.0);
        s.check(&registration, today, false)?;
    }

    g.scenario("a taken username is one error at /username, found by one lookup");
    for _ in 0..3 {
        let today = s.today();
        let registration = s.valid(today.0);
        s.upstream.script(
            &lookup_path(&registration.username),
            vec![],
            Reply::status(200),
        );
        s.check(&registration, today, true)?;
    }

    g.scenario("each broken rule alone gives its error, and no lookup at all");
    for fault in faults() {
        let today = s.today();
        let mut registration = s.valid(today.0);
        fault(&mut registration, today.0);
        s.check(&registration, today, false)?;
    }

    g.scenario("ages at the edges: birthdays today and tomorrow, leap days, 1 and 120 years");
    for (birth, today) in edge_ages(&mut s.rng) {
        let any = s.rng.below(DAY_MS);
        let ms = *s.rng.pick(&[0, 1, DAY_MS - 1, any]);
        let mut registration = s.valid(today);
        registration.birth_date = birth.to_string();
        s.check(&registration, (today, ms), false)?;
    }

    g.scenario("several broken rules: every field's first error at once, and no lookup");
    let all = faults();
    for _ in 0..MIXED {
        let today = s.today();
        let mut registration = s.valid(today.0);
        let mut picked: Vec<usize> = (0..all.len()).collect();
        s.rng.shuffle(&mut picked);
        for index in picked.into_iter().take(s.rng.range(2, 6) as usize) {
            all[index](&mut registration, today.0);
        }
        s.check(&registration, today, false)?;
    }

    g.scenario("when the username service fails, the answer is 503, never 201");
    service_failures(&mut s)?;

    g.scenario("a request without X-Fake-Now, or not a registration, is 400");
    malformed(&mut server, &mut s)?;
    server.ensure_alive()
}

fn lookup_path(username: &str) -> String {
    format!("/usernames/{username}")
}

/// The state the scenarios share: the fake username service, one keep-alive connection, the seed.
struct Session {
    upstream: Upstream,
    conn: Connection,
    rng: Rng,
    counter: u64,
}

impl Session {
    /// A seeded day between 2000 and 2035 and a moment in it (the edges of the day included).
    fn today(&mut self) -> (Date, u64) {
        let first = Date::new(2000, 1, 1).days();
        let day = Date::from_days(first + self.rng.below(36 * 365) as i64);
        let any = self.rng.below(DAY_MS);
        let ms = *self.rng.pick(&[0, DAY_MS - 1, any]);
        (day, ms)
    }

    /// A username no earlier request used, so the lookups of each request are counted apart.
    fn fresh_username(&mut self) -> String {
        self.counter += 1;
        match self.rng.below(4) {
            0 if self.counter < 100 => format!("{}{}", self.rng.word(1), self.counter)
                .chars()
                .chain(std::iter::repeat('_'))
                .take(3)
                .collect(),
            1 => {
                let digits = self.counter.to_string();
                format!("{}{digits}", self.rng.word(20 - digits.len()))
            }
            _ => format!("{}_{}", self.rng.word(5), self.counter),
        }
    }

    /// A registration that passes every local rule on `today`.
    fn valid(&mut self, today: Date) -> Registration {
        let password = match self.rng.below(4) {
            0 => format!("{}1", self.rng.word(7)),
            1 => format!("9{}", self.rng.word(63)),
            2 => format!("Pä$$wörd-{}{}", self.rng.word(3), self.rng.below(10)),
            _ => format!("{}{}", self.rng.word(10), self.rng.below(1000)),
        };
        let age = self.rng.range(1, 119) as i64;
        let birth = today
            .plus_years(-age)
            .plus_days(-(self.rng.below(360) as i64));
        let status = *self.rng.pick(&STATUSES);
        let partner_name = if status == "married" {
            Partner::Name(
                self.rng
                    .pick(&["Charles Babbage", "Zoë", "X", "李小龍", "Ωμέγα"])
                    .to_string(),
            )
        } else if self.rng.chance(1, 2) {
            Partner::Null
        } else {
            Partner::Absent
        };
        Registration {
            username: self.fresh_username(),
            confirm_password: password.clone(),
            password,
            birth_date: birth.to_string(),
            marital_status: status.to_string(),
            partner_name,
        }
    }

    /// Sends one registration at `today` and checks the answer and the number of lookups it cost; `taken`
    /// when the fake service was told the name is taken.
    fn check(&mut self, r: &Registration, today: (Date, u64), taken: bool) -> Result<(), Failure> {
        let (day, ms) = today;
        let now_ms = day.unix_ms(ms);
        let path = lookup_path(&r.username);
        let before = self.upstream.seen(&path).len();
        let request = Request::post("/register", r.json())
            .header("Content-Type", "application/json")
            .header("X-Fake-Now", &now_ms.to_string());
        let response = self.conn.request(&request)?;
        let calls = self.upstream.seen(&path).len() - before;
        let local = model::expected(r, day);
        let story = |failure: Failure| {
            let mut failure = failure
                .detail(format!("the body sent: {}", r.json()))
                .detail(format!(
                    "X-Fake-Now: {now_ms}, so today is {day} (UTC){}",
                    age_story(r, day)
                ));
            if taken {
                failure =
                    failure.detail("the username service answers 200 for this name: it is taken");
            }
            failure
        };
        if !local.is_empty() {
            expect_errors(&response, &local).map_err(story)?;
            if calls > 0 {
                return Err(story(
                    Failure::new(
                        "the username service is called only when every local check passed: this \
                         request breaks a local rule, so it is refused without a lookup (a lookup for a \
                         request refused anyway is wasted work, and a free username oracle)",
                    )
                    .expected(format!("0 calls to GET {path}"))
                    .got(format!("{calls} call(s)")),
                ));
            }
            return Ok(());
        }
        if taken {
            expect_errors(&response, &[FieldError::new("/username", "taken")]).map_err(story)?;
        } else {
            expect_created(&response, r).map_err(story)?;
        }
        if calls != 1 {
            return Err(story(
                Failure::new(
                    "a request that passes every local check costs exactly one username lookup, made \
                     after those checks",
                )
                .expected(format!("1 call to GET {path}"))
                .got(format!("{calls} call(s)")),
            ));
        }
        Ok(())
    }
}

/// The birth date and the age in words, when the birth date parses.
fn age_story(r: &Registration, today: Date) -> String {
    match Date::parse(&r.birth_date) {
        Some(birth) if birth <= today => format!(
            "; born {birth}, the age today is {} full years",
            model::age_on(birth, today)
        ),
        Some(birth) => format!("; born {birth}, which is after today"),
        None => String::new(),
    }
}

fn expect_errors(response: &Response, expected: &[FieldError]) -> Result<(), Failure> {
    let why =
        "a registration that breaks a rule gets 422 with a problem document listing every error";
    let document = problem::problem(response, 422, VALIDATION, why).map_err(|mut failure| {
        for error in expected {
            failure = failure.detail(format!(
                "the contract requires {:?} {} · {}",
                error.pointer,
                error.code,
                model::rule_of(&error.pointer, &error.code)
            ));
        }
        failure
    })?;
    let got = problem::field_errors(&document)?;
    match problem::compare(expected, &got) {
        None => Ok(()),
        Some(mismatch) => Err(problem::explain(&mismatch, expected, &got, model::rule_of)),
    }
}

fn expect_created(response: &Response, r: &Registration) -> Result<(), Failure> {
    if response.status == 201 {
        let body: Option<Value> = serde_json::from_slice(&response.body).ok();
        let username = body
            .as_ref()
            .and_then(|b| b.get("username"))
            .and_then(Value::as_str);
        if username == Some(r.username.as_str()) {
            return Ok(());
        }
        return Err(Failure::new(
            "a created registration is answered 201 with {\"username\": NAME} (the provided handler does \
             this: keep it)",
        )
        .got(glimpse(response)));
    }
    let mut failure = Failure::new(
        "this registration passes every rule and its username is free: it is created (201)",
    )
    .expected(format!("201 with {{\"username\":\"{}\"}}", r.username))
    .got(glimpse(response));
    if let Ok(document) = serde_json::from_slice::<Value>(&response.body)
        && let Ok(errors) = problem::field_errors(&document)
    {
        for error in errors {
            failure = failure.detail(format!(
                "the server refused {:?} ({}), but that member is valid · {}",
                error.pointer,
                error.code,
                model::rule_of(&error.pointer, &error.code)
            ));
        }
    }
    Err(failure)
}

/// A change to a valid registration (made for `today`) that breaks one local rule.
type Fault = fn(&mut Registration, Date);

/// Every fault the grader knows, grouped by member.
fn faults() -> Vec<Fault> {
    vec![
        |r, _| r.username = "ab".to_string(),
        |r, _| r.username = format!("{}x", "a".repeat(20)),
        |r, _| r.username = String::new(),
        |r, _| r.username = format!("9lives{}", r.username.len()),
        |r, _| r.username = format!("Ada_{}", r.username),
        |r, _| r.username = "ada-smith".to_string(),
        |r, _| r.username = "_ada".to_string(),
        |r, _| r.username = "zoë_x".to_string(),
        |r, _| set_password(r, "short1"),
        |r, _| set_password(r, &"a1".repeat(33)),
        |r, _| set_password(r, "allletters"),
        |r, _| set_password(r, "1234567890"),
        |r, _| set_password(r, "äöüßäöü123"),
        |r, _| {
            set_password(r, "short1");
            r.confirm_password = "something else".to_string();
        },
        |r, _| {
            set_password(r, "no digits here");
            r.confirm_password = "no digits her".to_string();
        },
        |r, _| r.confirm_password = format!("{} ", r.password),
        |r, _| r.confirm_password = String::new(),
        |r, _| r.confirm_password = r.password.to_uppercase(),
        |r, _| r.birth_date = "2023-02-29".to_string(),
        |r, _| r.birth_date = "1990-6-15".to_string(),
        |r, _| r.birth_date = "15.06.1990".to_string(),
        |r, today| r.birth_date = today.plus_days(1).to_string(),
        |r, today| r.birth_date = today.plus_years(3).to_string(),
        |r, today| r.birth_date = today.to_string(),
        |r, today| r.birth_date = today.plus_years(-121).to_string(),
        |r, today| r.birth_date = today.plus_years(-300).to_string(),
        |r, _| r.marital_status = "Married".to_string(),
        |r, _| r.marital_status = "engaged".to_string(),
        |r, _| {
            r.marital_status = String::new();
            r.partner_name = Partner::Name("Charles".to_string());
        },
        |r, _| {
            r.marital_status = "married".to_string();
            r.partner_name = Partner::Absent;
        },
        |r, _| {
            r.marital_status = "married".to_string();
            r.partner_name = Partner::Null;
        },
        |r, _| {
            r.marital_status = "married".to_string();
            r.partner_name = Partner::Name(String::new());
        },
        |r, _| {
            r.marital_status = "married".to_string();
            r.partner_name = Partner::Name("é".repeat(101));
        },
        |r, _| {
            r.marital_status = "single".to_string();
            r.partner_name = Partner::Name("Charles".to_string());
        },
        |r, _| {
            r.marital_status = "widowed".to_string();
            r.partner_name = Partner::Name(String::new());
        },
    ]
}

fn set_password(r: &mut Registration, password: &str) {
    r.password = password.to_string();
    r.confirm_password = password.to_string();
}

/// Pairs of (birth date, today) at the edges of the age rules.
fn edge_ages(rng: &mut Rng) -> Vec<(Date, Date)> {
    let first = Date::new(2000, 1, 1).days();
    let random = Date::from_days(first + rng.below(36 * 365) as i64);
    let mut pairs = Vec::new();
    for today in [
        Date::new(2024, 2, 29),
        Date::new(2023, 2, 28),
        Date::new(2023, 3, 1),
        Date::new(2024, 12, 31),
        Date::new(2025, 1, 1),
        random,
    ] {
        for birth in [
            today,
            today.plus_days(1),
            today.plus_years(-1),
            today.plus_years(-1).plus_days(1),
            today.plus_years(-1).plus_days(-1),
            today.plus_years(-120),
            today.plus_years(-121),
            today.plus_years(-121).plus_days(1),
            today.plus_years(-121).plus_days(-1),
        ] {
            pairs.push((birth, today));
        }
    }
    for (birth, today) in [
        ((2004, 2, 29), (2005, 2, 28)),
        ((2004, 2, 29), (2005, 3, 1)),
        ((1904, 2, 29), (2025, 2, 28)),
        ((1904, 2, 29), (2025, 3, 1)),
        ((1903, 3, 1), (2024, 2, 29)),
        ((2023, 2, 28), (2024, 2, 29)),
    ] {
        pairs.push((
            Date::new(birth.0, birth.1, birth.2),
            Date::new(today.0, today.1, today.2),
        ));
    }
    rng.shuffle(&mut pairs);
    pairs
}

/// The username service fails in several ways; each must give 503, after one lookup.
fn service_failures(s: &mut Session) -> Result<(), Failure> {
    let failures = [
        Reply::status(500),
        Reply::status(503),
        Reply::Status {
            status: 429,
            retry_after: Some(1),
        },
        Reply::Reset,
    ];
    for reply in failures {
        let today = s.today();
        let r = s.valid(today.0);
        let path = lookup_path(&r.username);
        s.upstream.script(&path, vec![], reply.clone());
        let request = Request::post("/register", r.json())
            .header("Content-Type", "application/json")
            .header("X-Fake-Now", &today.0.unix_ms(today.1).to_string());
        let response = s.conn.request(&request)?;
        let why = format!(
            "when the username service gives no clear answer (here: {}), the server cannot know whether \
             the name is free: it answers 503 and registers nothing (never 201, which could create a \
             duplicate; never 422 taken, which would be a guess)",
            reply.describe()
        );
        problem::problem(&response, 503, UNAVAILABLE, &why)
            .map_err(|failure| failure.detail(format!("the body sent: {}", r.json())))?;
        let calls = s.upstream.seen(&path).len();
        if calls != 1 {
            return Err(Failure::new(
                "a request that passes every local check costs exactly one username lookup",
            )
            .expected(format!("1 call to GET {path}"))
            .got(format!("{calls} call(s)")));
        }
    }
    Ok(())
}

/// Requests the provided handler refuses before `register` runs.
fn malformed(server: &mut Server, s: &mut Session) -> Result<(), Failure> {
    let today = s.today();
    let r = s.valid(today.0);
    let now = today.0.unix_ms(today.1).to_string();
    let body = r.json();
    let with_role = body.replacen('{', "{\"role\":\"admin\",", 1);
    let cases = [
        (
            Request::post("/register", body.clone()).header("Content-Type", "application/json"),
            "a request without X-Fake-Now has no today",
        ),
        (
            Request::post("/register", with_role)
                .header("Content-Type", "application/json")
                .header("X-Fake-Now", &now),
            "a body with a member the contract does not list is not a registration",
        ),
        (
            Request::post("/register", "{\"username\": 42}")
                .header("Content-Type", "application/json")
                .header("X-Fake-Now", &now),
            "a body with wrong types or missing members is not a registration",
        ),
    ];
    for (request, why) in cases {
        let response = server.http(&request)?;
        let why = format!("{why}: 400 (the provided handler does this: keep it)");
        problem::problem(&response, 400, MALFORMED, &why)?;
    }
    let calls = s.upstream.seen(&lookup_path(&r.username)).len();
    if calls != 0 {
        return Err(Failure::new(
            "a request refused as malformed never reaches the username service",
        )
        .expected("0 calls")
        .got(format!("{calls} call(s)")));
    }
    Ok(())
}
