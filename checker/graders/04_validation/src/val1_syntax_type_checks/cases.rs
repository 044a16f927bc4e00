//! The bodies the `val1` grader sends: valid signups with awkward values, and faults, each a change to one
//! member that breaks one rule. Values are raw JSON text, so `30.0` and `1e2` are sent exactly as written.

use backlings_grade::Rng;
use serde_json::Value;

/// Emails the contract accepts, the ones an over-strict validator gets wrong first.
const VALID_EMAILS: [&str; 10] = [
    "ada@example.com",
    "o'brien+news@mail.example.co.uk",
    "first.last@sub.domain.example",
    "x@ex.museum",
    "USER_42@Example.ORG",
    "a-b=c{d}@x-y.io",
    "j~k|l@a1.b2.co",
    "#!$%&*/?^`{|}~@example.com",
    "x@xn--bcher-kva.example",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl@example.com",
];
/// E.164 numbers, from the shortest to the longest the rule allows.
const VALID_PHONES: [&str; 7] = [
    "+14155552671",
    "+442079460958",
    "+123456789012345",
    "+12",
    "+8613800138000",
    "+4915112345678",
    "+99",
];
/// Real dates, leap days included.
const VALID_DATES: [&str; 8] = [
    "2024-02-29",
    "2000-02-29",
    "1999-12-31",
    "1815-12-10",
    "2023-04-30",
    "1970-01-01",
    "1600-02-29",
    "2023-02-28",
];
/// Integers as JSON text.
const VALID_AGES: [&str; 5] = ["0", "30", "-1", "120", "9007199254740993"];

/// Names from 1 to 50 characters, many of them over 50 bytes.
fn valid_names() -> Vec<String> {
    vec![
        "Ada Lovelace".to_string(),
        "Zoë Ørsted".to_string(),
        "X".to_string(),
        "é".repeat(50),
        "Ωμέγα Αλφάβητο Ελληνικά Γράμματα Και Λέξεις Πολλές".to_string(),
        "a".repeat(50),
        "李小龍".to_string(),
        "🦀".repeat(50),
        "O'Brien-Smith".to_string(),
        "  spaced  ".to_string(),
    ]
}

/// Tag arrays as JSON text: empty, full, and multi-byte at the 20-character limit.
fn valid_tags() -> Vec<String> {
    vec![
        "[]".to_string(),
        "[\"rust\"]".to_string(),
        "[\"a\",\"b\",\"c\",\"d\",\"e\"]".to_string(),
        json(&["ζήτα".to_string(), "é".repeat(20), "x".repeat(20)]),
        json(&["🦀".repeat(20)]),
    ]
}

/// Addresses as JSON text.
fn valid_addresses() -> Vec<String> {
    vec![
        "{\"country\":\"GB\",\"city\":\"London\"}".to_string(),
        "{\"city\":\"Zürich\",\"country\":\"CH\"}".to_string(),
        "{\"country\":\"JP\",\"city\":\"東京\"}".to_string(),
        format!("{{\"country\":\"FR\",\"city\":{}}}", json(&"é".repeat(50))),
    ]
}

/// `value` as JSON text.
pub fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A request body: the members of an object as raw JSON text, in the order they are sent, or any raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An object, member by member.
    Object(Vec<(String, String)>),
    /// Anything else, exactly as sent.
    Raw(String),
}

impl Body {
    /// A body that is exactly `text`.
    pub fn raw(text: &str) -> Self {
        Body::Raw(text.to_string())
    }

    /// Sets member `key` to the raw JSON `value` (in place if it is there, else at the end).
    pub fn set(&mut self, key: &str, value: &str) {
        if let Body::Object(members) = self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some(member) => member.1 = value.to_string(),
                None => members.push((key.to_string(), value.to_string())),
            }
        }
    }

    /// Removes member `key`.
    pub fn remove(&mut self, key: &str) {
        if let Body::Object(members) = self {
            members.retain(|(k, _)| k != key);
        }
    }

    /// The body as sent.
    pub fn text(&self) -> String {
        match self {
            Body::Raw(text) => text.clone(),
            Body::Object(members) => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", json(key)))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
        }
    }

    /// The body as the server parses it.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap_or(Value::Null)
    }
}

/// A change to one member of a valid body that breaks a rule.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The top-level member changed.
    pub key: String,
    /// Its new raw JSON value, or `None` to remove it.
    pub value: Option<String>,
}

impl Fault {
    fn set(key: &str, value: impl Into<String>) -> Self {
        Fault {
            key: key.to_string(),
            value: Some(value.into()),
        }
    }

    fn text(key: &str, value: &str) -> Self {
        Fault::set(key, json(&value))
    }

    fn remove(key: &str) -> Self {
        Fault {
            key: key.to_string(),
            value: None,
        }
    }

    /// Applies the change to `body`.
    pub fn apply(&self, body: &mut Body) {
        match &self.value {
            Some(value) => body.set(&self.key, value),
            None => body.remove(&self.key),
        }
    }
}

/// Every fault the grader knows, grouped by member.
pub fn faults() -> Vec<Fault> {
    let mut faults = Vec::new();
    for key in ["email", "phone", "name", "birth_date"] {
        faults.push(Fault::remove(key));
        faults.push(Fault::set(key, "null"));
    }
    faults.extend([
        Fault::set("email", "42"),
        Fault::set("email", "[\"ada@example.com\"]"),
        Fault::set("phone", "14155552671"),
        Fault::set("name", "{\"first\":\"Ada\"}"),
        Fault::set("birth_date", "19901231"),
        Fault::set("birth_date", "true"),
    ]);
    for email in [
        "a@b",
        "a@b.c",
        ".a@b.io",
        "a.@b.io",
        "a..b@c.io",
        "a@-b.io",
        "a@b-.io",
        "a@b.i0",
        "a@b@c.io",
        "ab.io",
        "a b@c.io",
        "\"q\"@x.io",
        "zoë@x.io",
        "a@.io",
        "a@b..io",
        "",
        "a@",
        "@b.io",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm@example.com",
        "a@exa_mple.com",
    ] {
        faults.push(Fault::text("email", email));
    }
    for phone in [
        "14155552671",
        "+0412345678",
        "+1234567890123456",
        "+1",
        "+44 20 7946 0958",
        "+1-415-555-2671",
        "+",
        "",
        "+1415555267a",
        "++14155552671",
        "+١٢٣٤٥٦٧٨",
        "+１４１５５５５２６７１",
    ] {
        faults.push(Fault::text("phone", phone));
    }
    for name in [
        String::new(),
        "a".repeat(51),
        "é".repeat(51),
        "🦀".repeat(51),
    ] {
        faults.push(Fault::text("name", &name));
    }
    for date in [
        "2023-02-29",
        "1900-02-29",
        "2100-02-29",
        "2024-04-31",
        "2024-06-31",
        "2024-02-30",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-1-01",
        "24-01-01",
        "2024/01/01",
        "2024-01-01T00:00:00Z",
        "20240101",
        " 2024-01-01",
        "１９９０-01-01",
    ] {
        faults.push(Fault::text("birth_date", date));
    }
    for age in ["\"30\"", "30.0", "3.5", "1e2", "true", "null", "[30]"] {
        faults.push(Fault::set("age", age));
    }
    for newsletter in ["\"yes\"", "1", "null", "\"true\""] {
        faults.push(Fault::set("newsletter", newsletter));
    }
    for tags in [
        "\"rust\"".to_string(),
        "{\"0\":\"a\"}".to_string(),
        "null".to_string(),
        "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]".to_string(),
        "[1,2,3,4,5,6]".to_string(),
        "[1]".to_string(),
        "[\"\",\"ok\"]".to_string(),
        json(&["ok".to_string(), "x".repeat(21)]),
        "[\"ok\",null,\"\",\"fine\"]".to_string(),
        json(&["🦀".repeat(21)]),
    ] {
        faults.push(Fault::set("tags", tags));
    }
    for address in [
        "\"GB\"".to_string(),
        "null".to_string(),
        "[]".to_string(),
        "{\"country\":\"gb\",\"city\":\"x\"}".to_string(),
        "{\"country\":\"GBR\",\"city\":\"x\"}".to_string(),
        "{\"city\":\"Paris\"}".to_string(),
        "{\"country\":\"FR\"}".to_string(),
        "{\"country\":\"FR\",\"city\":\"\"}".to_string(),
        "{\"country\":\"FR\",\"city\":\"x\",\"zip\":\"75001\"}".to_string(),
        "{\"country\":44,\"city\":\"x\"}".to_string(),
        "{\"country\":\"ÉS\",\"city\":\"Madrid\"}".to_string(),
        "{\"country\":\"ＧＢ\",\"city\":\"x\"}".to_string(),
        "{}".to_string(),
        format!("{{\"country\":\"FR\",\"city\":{}}}", json(&"é".repeat(51))),
        "{\"country\":\"FR\",\"city\":\"Paris\",\"a/b\":1}".to_string(),
    ] {
        faults.push(Fault::set("address", address));
    }
    for (key, value) in [
        ("admin", "true"),
        ("Email", "\"x@y.io\""),
        ("e/mail", "1"),
        ("~tilde", "null"),
        ("a~1b", "0"),
        ("", "\"empty name\""),
        ("phone ", "\"+14155552671\""),
    ] {
        faults.push(Fault::set(key, value));
    }
    faults
}

/// Picks `items[(index + offset) % len]`: every value of a pool appears across consecutive indexes.
fn nth<T: Clone>(items: &[T], index: usize, offset: usize) -> T {
    items[(index + offset) % items.len()].clone()
}

/// A valid body: the `index`-th pick from each pool (rotated by the seed), optional members now and then.
pub fn valid_body(rng: &mut Rng, index: usize) -> Body {
    let offset = rng.below(1000) as usize;
    let mut members = vec![
        (
            "email".to_string(),
            json(&nth(&VALID_EMAILS, index, offset)),
        ),
        (
            "phone".to_string(),
            json(&nth(&VALID_PHONES, index, offset)),
        ),
        (
            "name".to_string(),
            json(&nth(&valid_names(), index, offset)),
        ),
        (
            "birth_date".to_string(),
            json(&nth(&VALID_DATES, index, offset)),
        ),
    ];
    if rng.chance(1, 3) {
        members[0].1 = json(&random_email(rng));
        members[1].1 = json(&random_phone(rng));
        members[3].1 = json(&random_date(rng));
    }
    if rng.chance(1, 2) {
        members.push((
            "age".to_string(),
            nth(&VALID_AGES, index, offset).to_string(),
        ));
    }
    if rng.chance(1, 2) {
        let newsletter = if rng.chance(1, 2) { "true" } else { "false" };
        members.push(("newsletter".to_string(), newsletter.to_string()));
    }
    if rng.chance(1, 2) {
        members.push(("tags".to_string(), nth(&valid_tags(), index, offset)));
    }
    if rng.chance(1, 2) {
        members.push((
            "address".to_string(),
            nth(&valid_addresses(), index, offset),
        ));
    }
    rng.shuffle(&mut members);
    Body::Object(members)
}

/// Enough valid bodies that every value of every pool is sent at least once.
pub fn valid_bodies(rng: &mut Rng) -> Vec<Body> {
    let mut bodies: Vec<Body> = (0..10).map(|index| valid_body(rng, index)).collect();
    // The optional members with every value of their pools, whatever the coin flips above said.
    for (index, age) in VALID_AGES.iter().enumerate() {
        let mut body = valid_body(rng, index);
        body.set("age", age);
        body.set("tags", &nth(&valid_tags(), index, 0));
        body.set("address", &nth(&valid_addresses(), index, 0));
        body.set("newsletter", if index % 2 == 0 { "false" } else { "true" });
        bodies.push(body);
    }
    // Every pool value at a fixed index, so no seed skips one.
    for (index, email) in VALID_EMAILS.iter().enumerate() {
        let mut body = valid_body(rng, index);
        body.set("email", &json(email));
        body.set("phone", &json(&nth(&VALID_PHONES, index, 0)));
        body.set("name", &json(&nth(&valid_names(), index, 0)));
        body.set("birth_date", &json(&nth(&VALID_DATES, index, 0)));
        bodies.push(body);
    }
    rng.shuffle(&mut bodies);
    bodies
}

/// A valid body with 2 to 7 faults on different members.
pub fn mixed_body(rng: &mut Rng, faults: &[Fault], index: usize) -> Body {
    let mut body = valid_body(rng, index);
    let wanted = rng.range(2, 7) as usize;
    let mut order: Vec<usize> = (0..faults.len()).collect();
    rng.shuffle(&mut order);
    let mut used: Vec<&str> = Vec::new();
    for i in order {
        if used.len() == wanted {
            break;
        }
        let fault = &faults[i];
        if !used.contains(&fault.key.as_str()) {
            used.push(&fault.key);
            fault.apply(&mut body);
        }
    }
    body
}

fn random_email(rng: &mut Rng) -> String {
    let lengths = [rng.range(1, 12), rng.range(1, 10), rng.range(2, 6)];
    let local = rng.word(lengths[0] as usize);
    let domain = rng.word(lengths[1] as usize);
    let top = rng.word(lengths[2] as usize);
    let separator = *rng.pick(&[".", "_", "+", "-"]);
    format!("{local}{separator}{}@{domain}.{top}", rng.word(2))
}

fn random_phone(rng: &mut Rng) -> String {
    let first = rng.range(1, 9);
    let rest: String = (0..rng.range(1, 14))
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect();
    format!("+{first}{rest}")
}

fn random_date(rng: &mut Rng) -> String {
    let year = rng.range(1900, 2030) as u32;
    let month = rng.range(1, 12) as u32;
    let day = rng.range(1, u64::from(super::model::days_in_month(year, month))) as u32;
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::super::model;
    use super::*;

    // Every valid body the grader sends is valid by the model, for many seeds.
    #[test]
    fn valid_bodies_are_valid() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            for body in valid_bodies(&mut rng) {
                assert_eq!(model::expected(&body.value()), vec![], "{}", body.text());
            }
        }
    }

    // Every fault breaks at least one rule, and only at its own member.
    #[test]
    fn each_fault_breaks_its_member() {
        let base = valid_body(&mut Rng::new(1), 0);
        for fault in faults() {
            let mut body = base.clone();
            fault.apply(&mut body);
            let errors = model::expected(&body.value());
            assert!(!errors.is_empty(), "{}", body.text());
            let own = model::pointer("", &fault.key);
            for error in &errors {
                assert!(
                    error.pointer == own || error.pointer.starts_with(&format!("{own}/")),
                    "{} → {:?}",
                    body.text(),
                    errors
                );
            }
        }
    }
}
