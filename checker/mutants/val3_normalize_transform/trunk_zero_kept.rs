//! mutant: puts the country code in front of a national number without dropping its trunk `0` (`+44 020 ...`)
//! expect: trunk prefix

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
    if let (Step::ToInteger, Value::Number(number)) = (step, &value) {
        return if number.is_i64() {
            Ok(value)
        } else {
            Err(Code::Type)
        };
    }
    if let Step::Range([min, max]) = step {
        let number = value.as_i64().ok_or(Code::Type)?;
        return if (*min..=*max).contains(&number) {
            Ok(value)
        } else {
            Err(Code::OutOfRange)
        };
    }
    let Value::String(text) = value else {
        return Err(Code::Type);
    };
    let text = match step {
        Step::Trim => text.trim().to_string(),
        Step::Lowercase => text.to_lowercase(),
        Step::CollapseSpaces => collapse_spaces(&text),
        Step::StripSpecials => text
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ')
            .collect(),
        Step::DigitsOnly => text.chars().filter(char::is_ascii_digit).collect(),
        Step::ToInteger => {
            let number = text.parse::<i64>().map_err(|_| Code::NotAnInteger)?;
            return Ok(json!(number));
        }
        Step::Date => normalize_date(&text).ok_or(Code::BadDate)?,
        Step::E164(country_code) => to_e164(&text, country_code).ok_or(Code::BadPhone)?,
        Step::Length([min, max]) => {
            let count = text.chars().count();
            if count < *min {
                return Err(Code::TooShort);
            }
            if count > *max {
                return Err(Code::TooLong);
            }
            text
        }
        Step::Range(_) => unreachable!("handled above"),
    };
    Ok(Value::String(text))
}

fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// Runs `steps` in order on `input`: the final value, or the index of the first failing step and its code.
pub fn run(steps: &[Step], input: Value) -> Result<Value, (usize, Code)> {
    steps
        .iter()
        .enumerate()
        .try_fold(input, |value, (index, step)| {
            apply(step, value).map_err(|code| (index, code))
        })
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` or `D.M.YYYY` → `YYYY-MM-DD`, if the date exists.
pub fn normalize_date(text: &str) -> Option<String> {
    let all_digits = |part: &str, lengths: &[usize]| {
        lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    let (year, month, day) = if let [d, m, y] = text.split('.').collect::<Vec<_>>()[..] {
        if !all_digits(d, &[1, 2]) || !all_digits(m, &[1, 2]) || !all_digits(y, &[4]) {
            return None;
        }
        (y, m, d)
    } else if text.len() == 8 && all_digits(text, &[8]) {
        (&text[0..4], &text[4..6], &text[6..8])
    } else {
        let parts: Vec<&str> = text.split(['-', '/']).collect();
        let separators: Vec<char> = text.chars().filter(|c| *c == '-' || *c == '/').collect();
        let [y, m, d] = parts[..] else {
            return None;
        };
        if separators[0] != separators[1]
            || !all_digits(y, &[4])
            || !all_digits(m, &[2])
            || !all_digits(d, &[2])
        {
            return None;
        }
        (y, m, d)
    };
    let (year, month, day): (u32, u32, u32) =
        (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=days)
        .contains(&day)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// A phone number in E.164, with `country_code` for a number written without one.
pub fn to_e164(text: &str, country_code: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let number = if let Some(rest) = compact.strip_prefix('+') {
        format!("+{rest}")
    } else if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else {
        format!("+{country_code}{compact}")
    };
    let digits = &number[1..];
    let valid = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then_some(number)
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
