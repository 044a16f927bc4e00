//! mutant: checks the confirmation even when the password itself is invalid, so one mistake gives two errors
//! expect: only when the password

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
    let had_birthday = (today.month, today.day) >= (birth.month, birth.day);
    today.year - birth.year - i32::from(!had_birthday)
}

/// Every local rule of the contract, each field stopping at its first failing check; sorted by pointer.
pub fn check_local(registration: &Registration, today: Date) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut report = |pointer: &str, result: Result<(), (Code, &str)>| {
        if let Err((code, detail)) = result {
            errors.push(FieldError::new(pointer, code, detail));
        }
    };
    report("/username", check_username(&registration.username));
    let password = check_password(&registration.password);
    let password_ok = password.is_ok();
    report("/password", password);
    if registration.confirm_password != registration.password {
        report(
            "/confirm_password",
            Err((Code::Mismatch, "does not match the password")),
        );
    }
    report(
        "/birth_date",
        check_birth_date(&registration.birth_date, today),
    );
    let status = registration.marital_status.as_str();
    if MARITAL_STATUSES.contains(&status) {
        report("/partner_name", check_partner(status, registration));
    } else {
        report(
            "/marital_status",
            Err((Code::Enum, "one of single, married, divorced, widowed")),
        );
    }
    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    errors
}

fn chars_between(s: &str, low: usize, high: usize) -> bool {
    (low..=high).contains(&s.chars().count())
}

fn check_username(username: &str) -> Result<(), (Code, &'static str)> {
    if !chars_between(username, 3, 20) {
        return Err((Code::Length, "3 to 20 characters"));
    }
    let allowed = username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_with_letter = username.starts_with(|c: char| c.is_ascii_lowercase());
    if !allowed || !starts_with_letter {
        return Err((Code::Format, "a to z, 0 to 9 and _, starting with a letter"));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), (Code, &'static str)> {
    if !chars_between(password, 8, 64) {
        return Err((Code::Length, "8 to 64 characters"));
    }
    let has_letter = password.bytes().any(|b| b.is_ascii_alphabetic());
    let has_digit = password.bytes().any(|b| b.is_ascii_digit());
    if !has_letter || !has_digit {
        return Err((Code::Weak, "at least one letter and one digit"));
    }
    Ok(())
}

fn check_birth_date(birth_date: &str, today: Date) -> Result<(), (Code, &'static str)> {
    let Some(birth) = Date::parse(birth_date) else {
        return Err((Code::Format, "a real date, YYYY-MM-DD"));
    };
    if birth > today {
        return Err((Code::InFuture, "is after today"));
    }
    if !(1..=120).contains(&age_on(birth, today)) {
        return Err((Code::AgeRange, "the age must be 1 to 120"));
    }
    Ok(())
}

fn check_partner(status: &str, registration: &Registration) -> Result<(), (Code, &'static str)> {
    match (status, &registration.partner_name) {
        ("married", None) => Err((Code::Required, "required when married")),
        ("married", Some(name)) if !chars_between(name, 1, 100) => {
            Err((Code::Length, "1 to 100 characters"))
        }
        ("married", Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err((Code::Forbidden, "only when married")),
    }
}

/// Decides about one registration: local rules first, then (only if they all pass) one username lookup.
pub fn register(registration: &Registration, today: Date, lookup: &dyn UsernameLookup) -> Outcome {
    let errors = check_local(registration, today);
    if !errors.is_empty() {
        return Outcome::Invalid(errors);
    }
    match lookup.is_taken(&registration.username) {
        Ok(false) => Outcome::Created,
        Ok(true) => Outcome::Invalid(vec![FieldError::new(
            "/username",
            Code::Taken,
            "this username is taken",
        )]),
        Err(why) => Outcome::Unavailable(why),
    }
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
