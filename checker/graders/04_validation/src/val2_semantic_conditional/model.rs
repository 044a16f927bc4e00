//! The contract of `POST /register` as an executable model: a registration, the error list its local rules
//! give on a given day, and each rule in words for the report.

use serde_json::{Map, Value};

use crate::dates::Date;
use crate::problem::FieldError;

/// The marital statuses the contract knows.
pub const STATUSES: [&str; 4] = ["single", "married", "divorced", "widowed"];

/// What the `partner_name` member holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partner {
    Absent,
    Null,
    Name(String),
}

/// A registration body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub confirm_password: String,
    pub birth_date: String,
    pub marital_status: String,
    pub partner_name: Partner,
}

impl Registration {
    /// The body as JSON.
    pub fn json(&self) -> String {
        let mut map = Map::new();
        let text = |s: &str| Value::String(s.to_string());
        map.insert("username".into(), text(&self.username));
        map.insert("password".into(), text(&self.password));
        map.insert("confirm_password".into(), text(&self.confirm_password));
        map.insert("birth_date".into(), text(&self.birth_date));
        map.insert("marital_status".into(), text(&self.marital_status));
        match &self.partner_name {
            Partner::Absent => {}
            Partner::Null => {
                map.insert("partner_name".into(), Value::Null);
            }
            Partner::Name(name) => {
                map.insert("partner_name".into(), text(name));
            }
        }
        Value::Object(map).to_string()
    }
}

/// The age in full years on `today`: it goes up on the birthday itself.
pub fn age_on(birth: Date, today: Date) -> i64 {
    let had_birthday = (today.month, today.day) >= (birth.month, birth.day);
    today.year - birth.year - i64::from(!had_birthday)
}

fn chars_between(s: &str, low: usize, high: usize) -> bool {
    (low..=high).contains(&s.chars().count())
}

/// The errors of the local rules on `today`, sorted by pointer; empty when the registration is locally valid.
pub fn expected(r: &Registration, today: Date) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let username_ok = r
        .username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && r.username.starts_with(|c: char| c.is_ascii_lowercase());
    if !chars_between(&r.username, 3, 20) {
        errors.push(FieldError::new("/username", "length"));
    } else if !username_ok {
        errors.push(FieldError::new("/username", "format"));
    }
    let strong = r.password.bytes().any(|b| b.is_ascii_alphabetic())
        && r.password.bytes().any(|b| b.is_ascii_digit());
    if !chars_between(&r.password, 8, 64) {
        errors.push(FieldError::new("/password", "length"));
    } else if !strong {
        errors.push(FieldError::new("/password", "weak"));
    } else if r.confirm_password != r.password {
        errors.push(FieldError::new("/confirm_password", "mismatch"));
    }
    match Date::parse(&r.birth_date) {
        None => errors.push(FieldError::new("/birth_date", "format")),
        Some(birth) if birth > today => errors.push(FieldError::new("/birth_date", "in_future")),
        Some(birth) if !(1..=120).contains(&age_on(birth, today)) => {
            errors.push(FieldError::new("/birth_date", "age_range"));
        }
        Some(_) => {}
    }
    if !STATUSES.contains(&r.marital_status.as_str()) {
        errors.push(FieldError::new("/marital_status", "enum"));
    } else {
        let married = r.marital_status == "married";
        match &r.partner_name {
            Partner::Absent | Partner::Null if married => {
                errors.push(FieldError::new("/partner_name", "required"));
            }
            Partner::Name(name) if married && !chars_between(name, 1, 100) => {
                errors.push(FieldError::new("/partner_name", "length"));
            }
            Partner::Name(_) if !married => {
                errors.push(FieldError::new("/partner_name", "forbidden"));
            }
            _ => {}
        }
    }
    errors.sort();
    errors
}

/// The contract's rule for the field at `pointer`, in words, for a failure report.
pub fn rule_of(pointer: &str, code: &str) -> String {
    let rule = match pointer {
        "/username" if code == "taken" => {
            "a username the service says is taken (200 from GET /usernames/NAME) is one error, /username \
             `taken`"
        }
        "/username" => {
            "username: 3 to 20 characters (`length`), then only a-z, 0-9 and _, starting with a letter \
             (`format`); one error, the first check that fails"
        }
        "/password" => {
            "password: 8 to 64 characters (`length`), then at least one ASCII letter and one ASCII digit \
             (`weak`); one error, the first check that fails"
        }
        "/confirm_password" => {
            "confirm_password must equal password (`mismatch`), and is checked only when the password \
             passed its own checks: a confirmation of an invalid password is not a second error"
        }
        "/birth_date" => {
            "birth_date: a real date (`format`), then not after today (`in_future`), then an age today from \
             1 to 120 (`age_range`); one error, the first check that fails. The age is in full years: it \
             goes up on the birthday itself (today's (month, day) >= the birth's), a February 29 birthday \
             counts from March 1 in other years, and today is the UTC date of X-Fake-Now"
        }
        "/marital_status" => {
            "marital_status: one of single, married, divorced, widowed, exactly (`enum`)"
        }
        "/partner_name" => {
            "partner_name is checked only when marital_status is valid: when married it is required \
             (absent or null: `required`) and 1 to 100 characters (`length`); for any other status it is \
             forbidden (present, even empty: `forbidden`)"
        }
        _ => "this member is not part of the contract",
    };
    rule.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registration {
        Registration {
            username: "ada_1815".to_string(),
            password: "analytical1".to_string(),
            confirm_password: "analytical1".to_string(),
            birth_date: "1990-06-15".to_string(),
            marital_status: "single".to_string(),
            partner_name: Partner::Absent,
        }
    }

    // The model agrees with the examples in the exercise's tests.
    #[test]
    fn model_matches_the_exercise_examples() {
        let today = Date::new(2024, 12, 31);
        assert!(expected(&reg(), today).is_empty());
        let mut r = reg();
        r.password = "short1".to_string();
        r.confirm_password = "different".to_string();
        r.birth_date = "2025-02-01".to_string();
        r.username = "9lives".to_string();
        assert_eq!(
            expected(&r, today),
            vec![
                FieldError::new("/birth_date", "in_future"),
                FieldError::new("/password", "length"),
                FieldError::new("/username", "format"),
            ]
        );
        assert_eq!(age_on(Date::new(2004, 2, 29), Date::new(2023, 2, 28)), 18);
        assert_eq!(age_on(Date::new(2004, 2, 29), Date::new(2023, 3, 1)), 19);
    }
}
