//! # Business rules, conditional fields, and failing fast
//!
//! A body can be perfectly well-formed and still make no sense: a birth date next Tuesday, a user aged 0 or
//! 300, two password fields that disagree, a partner's name on a form that says "single". These are
//! **semantic** checks (does the value make sense?), **relationship** checks (does it agree with another
//! field?) and **conditional** checks (is this field required, or forbidden, *given* another one?). They sit
//! after the syntactic layer of the previous exercise and before any business logic.
//!
//! Some checks are cheap (compare two strings) and some are expensive: "is this username taken?" is a call
//! to another service or a database query, with latency, a cost, and a failure mode of its own. The
//! **fail fast** principle orders the work by cost: run every cheap check first, and spend the expensive one
//! only on a request that passed all of them. A request that will be refused anyway never reaches the
//! database, and junk traffic cannot use the lookup as a free oracle ("is `alice` taken? is `bob`?").
//! Within one field, checking stops at the first failure too: a birth date that does not parse has no age,
//! and a password that is too short has nothing worth confirming.
//!
//! ## The contract: `POST /register`
//!
//! The provided `handle` reads the header `X-Fake-Now: <unix-ms>` (today is the **UTC** date of that instant)
//! and the JSON body into a typed [`Registration`]; a missing header, a body with a wrong type, a missing
//! member or an unknown one gets `400` (types were the previous exercise's job). It then calls your
//! `register` and answers what it decides:
//!
//! - `Outcome::Created` → `201` with `{"username": ...}`;
//! - `Outcome::Invalid(errors)` → `422`, a problem document (type `urn:backlings:problem:validation`) listing
//!   every error as `{"pointer", "code", "detail"}`, sorted by pointer, exactly as in the previous exercise;
//! - `Outcome::Unavailable(why)` → `503` (type `urn:backlings:problem:dependency-unavailable`): when the
//!   username service does not give a clear answer, the server refuses to guess. Registering a name it could
//!   not check would create duplicates; calling every name taken would lock everybody out.
//!
//! The local rules, each field stopping at its **first** failing check, in this order:
//!
//! | pointer | checks, in order (code) |
//! |---|---|
//! | `/username` | 3 to 20 characters (`length`); only `a`-`z`, `0`-`9` and `_`, starting with a letter (`format`) |
//! | `/password` | 8 to 64 characters (`length`); at least one ASCII letter and one ASCII digit (`weak`) |
//! | `/confirm_password` | equal to `password` (`mismatch`), checked **only when the password passed its own checks** |
//! | `/birth_date` | a real date `YYYY-MM-DD` (`format`); not after today (`in_future`); an age today from 1 to 120 (`age_range`) |
//! | `/marital_status` | one of `single`, `married`, `divorced`, `widowed` (`enum`) |
//! | `/partner_name` | only **when `marital_status` is valid**: if it is `married`, present (`required`) and 1 to 100 characters (`length`); for any other status, absent (`forbidden`) |
//!
//! Absent and `null` are the same for `partner_name`. The **age** is the number of full years: it goes up on
//! the birthday itself, not the day after, and someone born on February 29 has their birthday on March 1 in a
//! year without one (so the `(month, day)` comparison of the dates does the right thing).
//!
//! Then, **only if no local check failed**, exactly one call to the username service (`lookup.is_taken`):
//! taken → `Invalid` with one error, `/username` `taken`; free → `Created`; an error → `Unavailable`. The
//! grader plays that service and counts the calls: one per valid request, **zero** for a request that
//! breaks any local rule.
//!
//! ## Pitfalls
//!
//! - Calling the service first "because it is the most important check": every invalid request costs a
//!   round trip, and the endpoint becomes a username enumeration oracle.
//! - Age as `today.year - birth.year`: everybody whose birthday is later this year is one year too old.
//! - Checking "today" in the server's local time zone: at 23:30 UTC it is already tomorrow in Berlin. Here
//!   today comes from the request's fake clock, in UTC.
//! - Reporting `mismatch` for a confirmation of a password that is itself too short: two errors for one
//!   mistake. Check a relationship only between fields that are valid on their own.
//! - Reporting both `in_future` and `age_range` for one birth date: one error per field, the first.
//!
//! Roadmap: input validation: semantic, relationship and conditional validation; fail fast and early
//! return; validation performance (no redundant work).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use backlings_harness::http::{Request, Response, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The problem type of a request that breaks the rules (`422`).
pub const VALIDATION_PROBLEM: &str = "urn:backlings:problem:validation";
/// The problem type of a request the server could not check (`503`).
pub const UNAVAILABLE_PROBLEM: &str = "urn:backlings:problem:dependency-unavailable";
/// The problem type of a request that is not a well-formed registration (`400`).
pub const MALFORMED_PROBLEM: &str = "urn:backlings:problem:malformed-request";
/// The marital statuses a registration may have.
pub const MARITAL_STATUSES: [&str; 4] = ["single", "married", "divorced", "widowed"];

/// A registration, as the provided `handle` deserialized it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub confirm_password: String,
    pub birth_date: String,
    pub marital_status: String,
    /// Absent and `null` both arrive as `None`.
    #[serde(default)]
    pub partner_name: Option<String>,
}

/// Why a field is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Length,
    Format,
    Weak,
    Mismatch,
    InFuture,
    AgeRange,
    Enum,
    Required,
    Forbidden,
    Taken,
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// A JSON Pointer such as `/birth_date`.
    pub pointer: String,
    pub code: Code,
    /// For people.
    pub detail: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: &str, code: Code, detail: &str) -> Self {
        FieldError {
            pointer: pointer.to_string(),
            code,
            detail: detail.to_string(),
        }
    }
}

/// What `register` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed and the username is free.
    Created,
    /// At least one rule is broken: every error, sorted by pointer.
    Invalid(Vec<FieldError>),
    /// The username service gave no clear answer.
    Unavailable(String),
}

/// A calendar date. The derived order compares the year, then the month, then the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Parses a real date written `YYYY-MM-DD` (provided: the syntactic check of the previous exercise).
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
            return None;
        }
        if !digits(5..7) || !digits(8..10) {
            return None;
        }
        let date = Date {
            year: s[0..4].parse().ok()?,
            month: s[5..7].parse().ok()?,
            day: s[8..10].parse().ok()?,
        };
        let exists = (1..=12).contains(&date.month)
            && (1..=days_in_month(date.year, date.month)).contains(&date.day);
        exists.then_some(date)
    }

    /// The UTC date of a unix time in milliseconds (provided).
    pub fn from_unix_ms(ms: u64) -> Date {
        // Howard Hinnant's civil_from_days: days since 1970-01-01 to a proleptic Gregorian date.
        let z = (ms / 86_400_000) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Asks whether a username is taken. The real one calls the username service over HTTP; tests use a fake.
pub trait UsernameLookup {
    /// `Ok(true)` taken, `Ok(false)` free, `Err` when the service gave no clear answer.
    fn is_taken(&self, username: &str) -> Result<bool, String>;
}

/// The age in full years on `today` of someone born on `birth` (negative if `birth` is after `today`).
pub fn age_on(birth: Date, today: Date) -> i32 {
    // TODO: full years; the age goes up on the birthday itself.
    todo!()
}

/// Every local rule of the contract, each field stopping at its first failing check; sorted by pointer.
pub fn check_local(registration: &Registration, today: Date) -> Vec<FieldError> {
    // TODO: the table in the header, field by field: one error per field at most, relationship and
    // conditional checks only when the fields they depend on are valid.
    todo!()
}

/// Decides about one registration: local rules first, then (only if they all pass) one username lookup.
pub fn register(registration: &Registration, today: Date, lookup: &dyn UsernameLookup) -> Outcome {
    // TODO: the cheap checks, then the expensive one, and what each answer of the service means.
    todo!()
}

/// The username service over HTTP: `GET {base}/usernames/{name}` answers 200 (taken) or 404 (free)
/// (provided: you do not need to change this).
pub struct HttpLookup {
    /// `http://127.0.0.1:PORT`, from the `USERNAME_SERVICE_URL` environment variable.
    pub base_url: String,
}

impl UsernameLookup for HttpLookup {
    fn is_taken(&self, username: &str) -> Result<bool, String> {
        let address = self
            .base_url
            .strip_prefix("http://")
            .ok_or("USERNAME_SERVICE_URL must start with http://")?;
        let mut stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let request = format!(
            "GET /usernames/{username} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        let mut status_line = String::new();
        BufReader::new(&mut stream)
            .read_line(&mut status_line)
            .map_err(|e| format!("receive: {e}"))?;
        let _ = stream.read_to_end(&mut Vec::new());
        match status_line.split(' ').nth(1) {
            Some("200") => Ok(true),
            Some("404") => Ok(false),
            _ => Err(format!(
                "the username service answered {:?}",
                status_line.trim()
            )),
        }
    }
}

fn problem(status: u16, problem_type: &str, title: &str, extra: Value) -> Response {
    let mut body = json!({ "type": problem_type, "title": title, "status": status });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Response::new(status)
        .with_header("Content-Type", "application/problem+json")
        .with_body(body.to_string())
}

/// Answers one request (provided: you do not need to change this).
pub fn handle(request: &Request, lookup: &dyn UsernameLookup) -> Response {
    if request.path() != "/register" {
        return Response::text(404, "not found: try POST /register\n");
    }
    if request.method != "POST" {
        return Response::text(405, "only POST is allowed here\n").with_header("Allow", "POST");
    }
    let malformed = |detail: String| {
        problem(
            400,
            MALFORMED_PROBLEM,
            "The request is not a registration",
            json!({ "detail": detail }),
        )
    };
    let Some(now_ms) = request
        .header("x-fake-now")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return malformed("X-Fake-Now must be unix milliseconds".to_string());
    };
    let registration: Registration = match serde_json::from_slice(&request.body) {
        Ok(registration) => registration,
        Err(error) => return malformed(error.to_string()),
    };
    match register(&registration, Date::from_unix_ms(now_ms), lookup) {
        Outcome::Created => Response::new(201)
            .with_header("Content-Type", "application/json")
            .with_body(json!({ "username": registration.username }).to_string()),
        Outcome::Invalid(errors) => {
            let listed: Vec<Value> = errors
                .iter()
                .map(|e| json!({ "pointer": e.pointer, "code": e.code, "detail": e.detail }))
                .collect();
            let extra = json!({ "detail": format!("{} invalid", listed.len()), "errors": listed });
            problem(
                422,
                VALIDATION_PROBLEM,
                "The registration is not valid",
                extra,
            )
        }
        Outcome::Unavailable(why) => {
            let extra = json!({ "detail": why });
            problem(
                503,
                UNAVAILABLE_PROBLEM,
                "The username could not be checked",
                extra,
            )
        }
    }
}

/// Serves `POST /register` (provided: you do not need to change this).
fn main() -> ExitCode {
    let Ok(base_url) = std::env::var("USERNAME_SERVICE_URL") else {
        eprintln!(
            "error: set USERNAME_SERVICE_URL to the username service, e.g. http://127.0.0.1:8080"
        );
        return ExitCode::from(2);
    };
    let lookup = HttpLookup { base_url };
    match serve(move |request| handle(request, &lookup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A fake username service that counts its calls.
    struct Fake {
        taken: bool,
        calls: Cell<u32>,
    }

    impl UsernameLookup for Fake {
        fn is_taken(&self, _username: &str) -> Result<bool, String> {
            self.calls.set(self.calls.get() + 1);
            Ok(self.taken)
        }
    }

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn valid() -> Registration {
        Registration {
            username: "ada_1815".to_string(),
            password: "analytical1".to_string(),
            confirm_password: "analytical1".to_string(),
            birth_date: "1990-06-15".to_string(),
            marital_status: "single".to_string(),
            partner_name: None,
        }
    }

    fn codes(registration: &Registration, today: &str) -> Vec<(String, Code)> {
        check_local(registration, date(today))
            .into_iter()
            .map(|e| (e.pointer, e.code))
            .collect()
    }

    // The age goes up on the birthday itself; a February 29 birthday counts from March 1 in other years.
    #[test]
    fn age_in_full_years() {
        assert_eq!(age_on(date("1990-06-15"), date("2024-06-14")), 33);
        assert_eq!(age_on(date("1990-06-15"), date("2024-06-15")), 34);
        assert_eq!(age_on(date("2004-02-29"), date("2023-02-28")), 18);
        assert_eq!(age_on(date("2004-02-29"), date("2023-03-01")), 19);
        assert_eq!(age_on(date("2024-01-02"), date("2024-01-01")), -1);
    }

    // A valid registration passes the local rules and costs exactly one lookup.
    #[test]
    fn a_valid_registration_is_created_after_one_lookup() {
        let fake = Fake {
            taken: false,
            calls: Cell::new(0),
        };
        assert_eq!(
            register(&valid(), date("2024-01-01"), &fake),
            Outcome::Created
        );
        assert_eq!(fake.calls.get(), 1);
    }

    // A taken name is one error, found by the lookup.
    #[test]
    fn a_taken_username_is_one_error() {
        let fake = Fake {
            taken: true,
            calls: Cell::new(0),
        };
        let Outcome::Invalid(errors) = register(&valid(), date("2024-01-01"), &fake) else {
            panic!("a taken username is invalid");
        };
        assert_eq!(
            (errors[0].pointer.as_str(), errors[0].code),
            ("/username", Code::Taken)
        );
    }

    // Any local error means no lookup at all.
    #[test]
    fn a_local_error_skips_the_lookup() {
        let fake = Fake {
            taken: false,
            calls: Cell::new(0),
        };
        let mut registration = valid();
        registration.birth_date = "2030-01-01".to_string();
        assert!(matches!(
            register(&registration, date("2024-01-01"), &fake),
            Outcome::Invalid(_)
        ));
        assert_eq!(fake.calls.get(), 0);
    }

    // One error per field (the first check), and a confirmation is only checked against a valid password.
    #[test]
    fn first_failure_per_field_and_relationships() {
        let mut registration = valid();
        registration.password = "short1".to_string();
        registration.confirm_password = "different".to_string();
        registration.birth_date = "2025-02-01".to_string();
        registration.username = "9lives".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![
                ("/birth_date".to_string(), Code::InFuture),
                ("/password".to_string(), Code::Length),
                ("/username".to_string(), Code::Format),
            ]
        );
        registration = valid();
        registration.confirm_password = "analytical2".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/confirm_password".to_string(), Code::Mismatch)]
        );
    }

    // The partner's name is required when married, forbidden otherwise, and ignored when the status is bad.
    #[test]
    fn partner_name_depends_on_the_status() {
        let mut registration = valid();
        registration.marital_status = "married".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/partner_name".to_string(), Code::Required)]
        );
        registration.partner_name = Some("Charles".to_string());
        assert_eq!(codes(&registration, "2024-12-31"), vec![]);
        registration.marital_status = "divorced".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/partner_name".to_string(), Code::Forbidden)]
        );
        registration.marital_status = "complicated".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/marital_status".to_string(), Code::Enum)]
        );
    }

    // Born today is age 0; 120 is the oldest allowed, up to the day before the 121st birthday.
    #[test]
    fn age_limits() {
        let mut registration = valid();
        registration.birth_date = "2024-12-31".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/birth_date".to_string(), Code::AgeRange)]
        );
        registration.birth_date = "1904-01-01".to_string();
        assert_eq!(codes(&registration, "2024-12-31"), vec![]);
        registration.birth_date = "1903-12-31".to_string();
        assert_eq!(
            codes(&registration, "2024-12-31"),
            vec![("/birth_date".to_string(), Code::AgeRange)]
        );
    }
}
