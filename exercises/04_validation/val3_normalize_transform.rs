//! # Normalization and transformation: a chain of small steps
//!
//! Users type the same thing in many ways: `" Ada@Example.COM "`, `"020 7946 0958"`, `"+44 (20) 7946-0958"`,
//! `"05.03.1990"`, `" 42 "`. A backend that stores them as typed will not find `ada@example.com` when she
//! logs in with `Ada@example.com`, will count one customer three times, and will sort `"10"` before `"9"`.
//! So before validating (and long before storing) a server **normalizes** input into one canonical form:
//! trimmed, lowercased where case does not matter, separators removed, phone numbers in E.164, dates in
//! ISO 8601. And it **transforms** types where the wire is loose: a form field is always a string, but the
//! age is a number.
//!
//! Each of those is a tiny function, and the useful thing is to **chain** them: a pipeline is a list of
//! steps, each taking the output of the previous one. Order is part of the meaning. Trim then check the
//! length, and `"  abc  "` is 3 characters; check first, and it is 7. Keep only digits then add the country
//! code, and the `+` of `+44` is gone before anyone looks at it. A chain stops at its first failing step,
//! and says which one failed, so the error can be shown next to the right rule.
//!
//! ## The contract (JSON lines on stdin/stdout)
//!
//! `{"op":"run","steps":[STEP, ...],"input":VALUE}` → `{"ok":VALUE}`, or
//! `{"error":{"step":I,"code":CODE}}` where `I` is the index (from 0) of the first failing step; the steps
//! after it do not run. The steps (`STEP` is a string, or an object for the steps with a parameter):
//!
//! | step | takes → gives | what it does (error code) |
//! |---|---|---|
//! | `"trim"` | string → string | removes leading and trailing whitespace, as `char::is_whitespace` defines it (tabs, newlines, no-break and ideographic spaces too) |
//! | `"lowercase"` | string → string | full Unicode lowercasing (`str::to_lowercase`): `"ÉCOLE"` → `"école"` |
//! | `"collapse_spaces"` | string → string | every run of whitespace becomes one ASCII space (nothing is trimmed) |
//! | `"strip_specials"` | string → string | keeps only alphanumeric characters (`char::is_alphanumeric`, so `é` and `٣` stay) and the ASCII space |
//! | `"digits_only"` | string → string | keeps only the ASCII digits `0`-`9` |
//! | `"to_integer"` | string → integer | an optional `+` or `-`, then ASCII digits, fitting an `i64`: exactly what `str::parse::<i64>` accepts, and nothing is trimmed or rounded (`" 42"`, `"42.0"`, `"1e3"`, `""` → `not_an_integer`). An integer input passes unchanged |
//! | `"date"` | string → string | `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` or `D.M.YYYY` (day and month of 1 or 2 digits) → `YYYY-MM-DD`, if the date exists (`bad_date`) |
//! | `{"e164":"CC"}` | string → string | a phone number in E.164 with the country calling code `CC` (below) (`bad_phone`) |
//! | `{"length":[MIN,MAX]}` | string → same | the number of characters (`char`s) is from `MIN` to `MAX` (`too_short`, `too_long`) |
//! | `{"range":[MIN,MAX]}` | integer → same | the integer is from `MIN` to `MAX` (`out_of_range`) |
//!
//! A step given a value of the wrong kind (`"trim"` on a number, `range` on a string, `to_integer` on
//! `true` or `4.5`) fails with the code `type`.
//!
//! **E.164 with a default country.** Remove every space, `-`, `.`, `(` and `)`. Then: a leading `+` means the
//! number already has its country code; a leading `00` is the international prefix, replaced by `+`; a
//! single leading `0` is the national **trunk prefix**, dropped before `+CC` is put in front (`020 7946 0958`
//! in the UK is `+44 20 7946 0958`, never `+44 020...`); anything else gets `+CC` in front as it is. The
//! result must be `+` then 2 to 15 ASCII digits, the first not `0`, or the step fails.
//!
//! ## Pitfalls
//!
//! - `trim_matches(' ')` leaves the tab and the no-break space a copy-paste brings along.
//! - `to_ascii_lowercase` leaves `É` as it is: two spellings of one name survive.
//! - A cast that trims or rounds on its own hides the order of the chain (and accepts what the next
//!   developer does not expect); let the chain say `trim` when it means it.
//! - Ambiguous formats: `03/05/2024` is March 5 in the US and 3 May almost everywhere else. The contract
//!   accepts only unambiguous shapes (year first, or the dotted day-first form), and refuses the rest.
//! - After a failing step, stop: running the next steps on a value that failed is how one bad field turns
//!   into three confusing errors.
//!
//! Roadmap: data transformation (type casting, date normalization); normalization (lowercasing, trimming,
//! country codes); validation chaining.

use backlings_harness::stdio::serve_json_lines;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One step of a pipeline, as the grader sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Trim,
    Lowercase,
    CollapseSpaces,
    StripSpecials,
    DigitsOnly,
    ToInteger,
    Date,
    /// The default country calling code, e.g. `"44"`.
    E164(String),
    /// The smallest and the largest number of characters.
    Length([usize; 2]),
    /// The smallest and the largest integer.
    Range([i64; 2]),
}

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Type,
    NotAnInteger,
    BadDate,
    BadPhone,
    TooShort,
    TooLong,
    OutOfRange,
}

/// Applies one step to a value.
pub fn apply(step: &Step, value: Value) -> Result<Value, Code> {
    // TODO: the table in the header, one arm per step; a value of the wrong kind is `Code::Type`.
    todo!()
}

/// Runs `steps` in order on `input`: the final value, or the index of the first failing step and its code.
pub fn run(steps: &[Step], input: Value) -> Result<Value, (usize, Code)> {
    // TODO: each step takes the previous step's output; stop at the first failure.
    todo!()
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` or `D.M.YYYY` → `YYYY-MM-DD`, if the date exists.
pub fn normalize_date(text: &str) -> Option<String> {
    // TODO: recognize the four shapes, then check that the date exists.
    todo!()
}

/// A phone number in E.164, with `country_code` for a number written without one.
pub fn to_e164(text: &str, country_code: &str) -> Option<String> {
    // TODO: remove the separators, handle `+`, `00` and the trunk `0`, then check the E.164 shape.
    todo!()
}

/// A request of the grader.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Run { steps: Vec<Step>, input: Value },
}

/// Serves pipelines over JSON lines (provided: you do not need to change this).
fn main() {
    serve_json_lines(|request: Request| match request {
        Request::Run { steps, input } => match run(&steps, input) {
            Ok(value) => json!({ "ok": value }),
            Err((step, code)) => json!({ "error": { "step": step, "code": code } }),
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::String(s.to_string())
    }

    // Trim removes every kind of whitespace at the ends; lowercase is Unicode-aware.
    #[test]
    fn trim_and_lowercase() {
        assert_eq!(apply(&Step::Trim, text("\t\u{a0} Ada \n")), Ok(text("Ada")));
        assert_eq!(
            apply(&Step::Lowercase, text("ÉCOLE Ada")),
            Ok(text("école ada"))
        );
        assert_eq!(apply(&Step::Trim, json!(42)), Err(Code::Type));
    }

    // Specials go, letters and digits of every script stay; runs of whitespace become one space.
    #[test]
    fn strip_collapse_and_digits() {
        assert_eq!(
            apply(&Step::StripSpecials, text("Zoë's café, #1!")),
            Ok(text("Zoës café 1"))
        );
        assert_eq!(
            apply(&Step::CollapseSpaces, text(" a \t\n b ")),
            Ok(text(" a b "))
        );
        assert_eq!(
            apply(&Step::DigitsOnly, text("+44 (20) 7946")),
            Ok(text("44207946"))
        );
    }

    // The cast is strict: signs yes, spaces, fractions and exponents no.
    #[test]
    fn to_integer_is_strict() {
        assert_eq!(apply(&Step::ToInteger, text("-42")), Ok(json!(-42)));
        assert_eq!(apply(&Step::ToInteger, text("+007")), Ok(json!(7)));
        assert_eq!(apply(&Step::ToInteger, json!(5)), Ok(json!(5)));
        for bad in [" 42", "42.0", "1e3", "", "4 2"] {
            assert_eq!(
                apply(&Step::ToInteger, text(bad)),
                Err(Code::NotAnInteger),
                "{bad}"
            );
        }
        assert_eq!(apply(&Step::ToInteger, json!(4.5)), Err(Code::Type));
    }

    // Four input shapes become one; dates that do not exist are refused.
    #[test]
    fn dates_are_normalized() {
        assert_eq!(normalize_date("2024-03-05").as_deref(), Some("2024-03-05"));
        assert_eq!(normalize_date("2024/03/05").as_deref(), Some("2024-03-05"));
        assert_eq!(normalize_date("20240305").as_deref(), Some("2024-03-05"));
        assert_eq!(normalize_date("5.3.2024").as_deref(), Some("2024-03-05"));
        assert_eq!(normalize_date("29.02.2023"), None);
        assert_eq!(normalize_date("03/05/2024"), None);
        assert_eq!(normalize_date("2024-03/05"), None);
    }

    // Separators go, 00 becomes +, the trunk 0 is dropped before the country code.
    #[test]
    fn phones_become_e164() {
        assert_eq!(
            to_e164("020 7946 0958", "44").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            to_e164("+1 (415) 555-2671", "44").as_deref(),
            Some("+14155552671")
        );
        assert_eq!(
            to_e164("0049 30 1234567", "44").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(to_e164("7946 0958", "33").as_deref(), Some("+3379460958"));
        assert_eq!(to_e164("call me", "44"), None);
    }

    // Order is part of the meaning, and the chain stops at the first failing step.
    #[test]
    fn the_chain_runs_in_order_and_stops() {
        let trim_then_check = [Step::Trim, Step::Length([1, 5])];
        assert_eq!(run(&trim_then_check, text("  abc  ")), Ok(text("abc")));
        let check_then_trim = [Step::Length([1, 5]), Step::Trim];
        assert_eq!(
            run(&check_then_trim, text("  abc  ")),
            Err((0, Code::TooLong))
        );
        let cast = [
            Step::Trim,
            Step::ToInteger,
            Step::Range([1, 120]),
            Step::Trim,
        ];
        assert_eq!(run(&cast, text(" 42 ")), Err((3, Code::Type)));
        assert_eq!(run(&cast[..3], text(" 420 ")), Err((2, Code::OutOfRange)));
    }
}
