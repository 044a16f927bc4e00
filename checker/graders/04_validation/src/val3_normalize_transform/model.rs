//! The steps of `val3_normalize_transform` as an executable model: what each does to a value, what a chain
//! gives, and each step's rule in words for the report.

use serde_json::{Value, json};

use crate::dates::{Date, days_in_month};

/// One pipeline step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Trim,
    Lowercase,
    CollapseSpaces,
    StripSpecials,
    DigitsOnly,
    ToInteger,
    Date,
    E164(String),
    Length(u64, u64),
    Range(i64, i64),
}

impl Step {
    /// The step as the program receives it.
    pub fn json(&self) -> Value {
        match self {
            Step::Trim => json!("trim"),
            Step::Lowercase => json!("lowercase"),
            Step::CollapseSpaces => json!("collapse_spaces"),
            Step::StripSpecials => json!("strip_specials"),
            Step::DigitsOnly => json!("digits_only"),
            Step::ToInteger => json!("to_integer"),
            Step::Date => json!("date"),
            Step::E164(cc) => json!({ "e164": cc }),
            Step::Length(min, max) => json!({ "length": [min, max] }),
            Step::Range(min, max) => json!({ "range": [min, max] }),
        }
    }

    /// The step's rule in words.
    pub fn rule(&self) -> String {
        match self {
            Step::Trim => "trim removes leading and trailing whitespace as char::is_whitespace defines it \
                           (tab, newline, no-break space U+00A0, ideographic space U+3000, …), not only ' '"
                .to_string(),
            Step::Lowercase => "lowercase is full Unicode lowercasing (str::to_lowercase): \"ÉCOLE\" → \
                                \"école\"; to_ascii_lowercase leaves every non-ASCII letter as it was"
                .to_string(),
            Step::CollapseSpaces => "collapse_spaces turns every run of whitespace (char::is_whitespace) \
                                     into one ASCII space, and trims nothing"
                .to_string(),
            Step::StripSpecials => "strip_specials keeps only char::is_alphanumeric characters (letters and \
                                    digits of every script: é, ß, ٣) and the ASCII space"
                .to_string(),
            Step::DigitsOnly => "digits_only keeps only the ASCII digits 0-9".to_string(),
            Step::ToInteger => "to_integer: the whole string is an optional + or -, then ASCII digits, \
                                fitting an i64 (what str::parse::<i64> accepts); nothing is trimmed or \
                                rounded first, so \" 42\", \"42.0\" and \"1e3\" are not_an_integer; an integer \
                                input passes unchanged; a non-string, non-integer input is `type`"
                .to_string(),
            Step::Date => "date accepts YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD and D.M.YYYY (day first, day and \
                           month of 1 or 2 digits) and gives YYYY-MM-DD if the date exists; anything else \
                           (03/05/2024 included) is bad_date"
                .to_string(),
            Step::E164(cc) => format!(
                "e164 with country code {cc}: remove spaces, -, ., ( and ); a leading + keeps its own \
                 country code, a leading 00 becomes +, a single leading 0 is the national trunk prefix and \
                 is dropped before +{cc} goes in front, anything else gets +{cc} in front; the result must \
                 be + then 2 to 15 ASCII digits, the first not 0 (else bad_phone)"
            ),
            Step::Length(min, max) => format!(
                "length [{min}, {max}] counts characters (chars, not bytes): fewer than {min} is too_short, \
                 more than {max} is too_long"
            ),
            Step::Range(min, max) => format!(
                "range [{min}, {max}]: an integer below {min} or above {max} is out_of_range; a value that \
                 is not an integer is `type`"
            ),
        }
    }
}

/// One step applied to a value: the new value, or the error code.
pub fn apply(step: &Step, value: &Value) -> Result<Value, &'static str> {
    match step {
        Step::ToInteger => {
            return match value {
                Value::Number(n) if n.is_i64() => Ok(value.clone()),
                Value::String(s) => s
                    .parse::<i64>()
                    .map(|n| json!(n))
                    .map_err(|_| "not_an_integer"),
                _ => Err("type"),
            };
        }
        Step::Range(min, max) => {
            let n = value.as_i64().ok_or("type")?;
            return if *min <= n && n <= *max {
                Ok(value.clone())
            } else {
                Err("out_of_range")
            };
        }
        _ => {}
    }
    let text = value.as_str().ok_or("type")?;
    let out: String = match step {
        Step::Trim => text.trim().to_string(),
        Step::Lowercase => text.to_lowercase(),
        Step::CollapseSpaces => {
            let mut out = String::new();
            let mut previous_space = false;
            for c in text.chars() {
                let space = c.is_whitespace();
                if !(space && previous_space) {
                    out.push(if space { ' ' } else { c });
                }
                previous_space = space;
            }
            out
        }
        Step::StripSpecials => text
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ')
            .collect(),
        Step::DigitsOnly => text.chars().filter(char::is_ascii_digit).collect(),
        Step::Date => date(text).ok_or("bad_date")?,
        Step::E164(cc) => e164(text, cc).ok_or("bad_phone")?,
        Step::Length(min, max) => {
            let count = text.chars().count() as u64;
            if count < *min {
                return Err("too_short");
            }
            if count > *max {
                return Err("too_long");
            }
            text.to_string()
        }
        Step::ToInteger | Step::Range(..) => unreachable!("handled above"),
    };
    Ok(Value::String(out))
}

/// A whole chain: the reply the contract requires.
pub fn run(steps: &[Step], input: &Value) -> Value {
    let mut value = input.clone();
    for (index, step) in steps.iter().enumerate() {
        match apply(step, &value) {
            Ok(next) => value = next,
            Err(code) => return json!({ "error": { "step": index, "code": code } }),
        }
    }
    json!({ "ok": value })
}

/// The chain step by step, in words: `" 42 " → trim → "42" → to_integer → 42`.
pub fn trace(steps: &[Step], input: &Value) -> String {
    let mut text = input.to_string();
    let mut value = input.clone();
    for step in steps {
        match apply(step, &value) {
            Ok(next) => {
                text.push_str(&format!(" → {} → {next}", step.json()));
                value = next;
            }
            Err(code) => {
                text.push_str(&format!(
                    " → {} fails: {code} (the chain stops here)",
                    step.json()
                ));
                break;
            }
        }
    }
    text
}

fn digits(part: &str, lengths: &[usize]) -> Option<u32> {
    if lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

fn date(text: &str) -> Option<String> {
    let dotted: Vec<&str> = text.split('.').collect();
    let (year, month, day) = if dotted.len() == 3 {
        (
            digits(dotted[2], &[4])?,
            digits(dotted[1], &[1, 2])?,
            digits(dotted[0], &[1, 2])?,
        )
    } else if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        (
            digits(&text[..4], &[4])?,
            digits(&text[4..6], &[2])?,
            digits(&text[6..], &[2])?,
        )
    } else {
        let separator = if text.contains('-') { '-' } else { '/' };
        let parts: Vec<&str> = text.split(separator).collect();
        if parts.len() != 3 {
            return None;
        }
        (
            digits(parts[0], &[4])?,
            digits(parts[1], &[2])?,
            digits(parts[2], &[2])?,
        )
    };
    let date = Date::new(i64::from(year), month, day);
    ((1..=12).contains(&month) && (1..=days_in_month(date.year, month)).contains(&day))
        .then(|| date.to_string())
}

fn e164(text: &str, cc: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !" -.()".contains(*c)).collect();
    let number = if compact.starts_with('+') {
        compact
    } else if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = compact.strip_prefix('0') {
        format!("+{cc}{rest}")
    } else {
        format!("+{cc}{compact}")
    };
    let rest = &number[1..];
    ((2..=15).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_digit())
        && !rest.starts_with('0'))
    .then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The model agrees with the examples of the exercise's tests.
    #[test]
    fn model_matches_the_exercise_examples() {
        let s = |t: &str| json!(t);
        assert_eq!(apply(&Step::Trim, &s("\t\u{a0} Ada \n")), Ok(s("Ada")));
        assert_eq!(
            apply(&Step::StripSpecials, &s("Zoë's café, #1!")),
            Ok(s("Zoës café 1"))
        );
        assert_eq!(
            apply(&Step::CollapseSpaces, &s(" a \t\n b ")),
            Ok(s(" a b "))
        );
        assert_eq!(apply(&Step::ToInteger, &s("+007")), Ok(json!(7)));
        assert_eq!(date("5.3.2024").as_deref(), Some("2024-03-05"));
        assert_eq!(date("2024-03/05"), None);
        assert_eq!(date("03/05/2024"), None);
        assert_eq!(
            e164("020 7946 0958", "44").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            e164("0049 30 1234567", "44").as_deref(),
            Some("+49301234567")
        );
        let chain = [Step::Trim, Step::ToInteger, Step::Range(1, 120), Step::Trim];
        assert_eq!(
            run(&chain, &s(" 42 ")),
            json!({"error": {"step": 3, "code": "type"}})
        );
    }
}
