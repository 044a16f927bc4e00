//! Grader of `warm3_result_errors`: `POST /transfers` bodies, from valid to hostile, mapped to error codes.
//!
//! Every body is built by the grader with its category known, and a model ledger computes each reply. The
//! program must give the exact code and status of the first failing check, change nothing on failure, never
//! panic, and exit with code 0 at the end of its input.

use std::collections::BTreeMap;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

const ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// The bank as the contract describes it.
struct Model {
    balances: BTreeMap<String, u64>,
}

impl Model {
    fn opening() -> Self {
        let balances = [
            ("alice", 10_000),
            ("bob", 2_500),
            ("carol", 0),
            ("dave", 50_000_000),
        ];
        Model {
            balances: balances
                .into_iter()
                .map(|(name, cents)| (name.to_string(), cents))
                .collect(),
        }
    }

    /// The reply to a well-shaped body.
    fn transfer(
        &mut self,
        from: &str,
        to: &str,
        amount: &str,
    ) -> Result<Value, (&'static str, u16)> {
        let cents = parse_amount(amount).ok_or(("invalid_amount", 422))?;
        if from == to {
            return Err(("same_account", 422));
        }
        let from_balance = *self.balances.get(from).ok_or(("unknown_account", 404))?;
        let to_balance = *self.balances.get(to).ok_or(("unknown_account", 404))?;
        let new_from = from_balance
            .checked_sub(cents)
            .ok_or(("insufficient_funds", 409))?;
        let new_to = to_balance + cents;
        self.balances.insert(from.to_string(), new_from);
        self.balances.insert(to.to_string(), new_to);
        Ok(json!({"ok": {"from_balance": money(new_from), "to_balance": money(new_to)}}))
    }
}

/// The contract's amount grammar: digits, optionally `.` and one or two digits; more than 0, at most u64::MAX cents.
fn parse_amount(text: &str) -> Option<u64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if (1..=2).contains(&fraction.len()) => (whole, fraction),
        Some(_) => return None,
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let fraction = format!("{fraction:0<2}").parse::<u64>().ok()?;
    let cents = whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fraction)?;
    (cents > 0).then_some(cents)
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn body(from: &str, to: &str, amount: &str) -> String {
    json!({"from": from, "to": to, "amount": amount}).to_string()
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut model = Model::opening();
    let mut p = g.stdio()?;

    g.scenario("valid transfers move the money and answer both balances");
    for (from, to, amount) in [
        ("alice", "bob", "12.34"),
        ("dave", "carol", "0.5"),
        ("bob", "alice", "7"),
        ("carol", "dave", "0.05"),
    ] {
        let expected = model
            .transfer(from, to, amount)
            .map_err(|_| Failure::new("grader bug: a valid case failed"))?;
        expect_ok(
            &mut p,
            &body(from, to, amount),
            &expected,
            "a valid transfer answers both new balances, with two decimals",
        )?;
    }

    g.scenario("a body that is not JSON at all is malformed_json (400)");
    let deep = "[".repeat(5000);
    let mut bodies: Vec<String> = [
        "",
        "not json",
        "{",
        "{\"from\": \"alice\"",
        "{\"from\":\"alice\",}",
        "{'from':'alice'}",
        "\u{0}",
        "{\"from\": 1, \"to\": ",
    ]
    .map(String::from)
    .to_vec();
    bodies.push(deep);
    bodies.push(format!("{} trailing", body("alice", "bob", "1")));
    bodies.push(format!("#{}", g.rng().word(20)));
    for text in &bodies {
        expect_error(
            &mut p,
            text,
            ("malformed_json", 400),
            "text that does not parse as JSON is malformed_json with status 400",
        )?;
    }

    g.scenario("JSON of the wrong shape is invalid_field (422)");
    let shapes = [
        "null".to_string(),
        "true".to_string(),
        "[]".to_string(),
        "42".to_string(),
        "\"alice\"".to_string(),
        "{}".to_string(),
        json!({"from": "alice", "to": "bob"}).to_string(),
        json!({"from": "alice", "to": "bob", "amount": 12}).to_string(),
        json!({"from": 1, "to": "bob", "amount": "1"}).to_string(),
        json!({"from": "alice", "to": "bob", "amount": null}).to_string(),
    ];
    for text in &shapes {
        expect_error(
            &mut p,
            text,
            ("invalid_field", 422),
            "valid JSON without string fields from, to and amount is invalid_field (422), not malformed_json",
        )?;
    }

    g.scenario(
        "amounts are strict: digits, optionally . and 1 or 2 digits, more than zero, no overflow",
    );
    let invalid = [
        "",
        "0",
        "0.00",
        "-5",
        "+5",
        "1.234",
        "1.",
        ".5",
        " 5",
        "5 ",
        "1e3",
        "١٢",
        "0x10",
        "12,50",
        "NaN",
        "99999999999999999999",
        "184467440737095516.16",
        "1844674407370955160",
    ];
    for amount in invalid {
        expect_error(
            &mut p,
            &body("alice", "bob", amount),
            ("invalid_amount", 422),
            "an amount outside the grammar, zero, or over u64::MAX cents is invalid_amount (422), never a panic",
        )?;
    }
    let huge = body("dave", "alice", "184467440737095515");
    expect_error(
        &mut p,
        &huge,
        ("insufficient_funds", 409),
        "a huge but valid amount parses, and then the money is not there",
    )?;
    model.transfer("dave", "alice", "184467440737095515").ok();

    g.scenario(
        "domain errors: same_account, unknown_account, insufficient_funds, in the contract's order",
    );
    expect_error(
        &mut p,
        &body("zoe", "zoe", "-1"),
        ("invalid_amount", 422),
        "the amount is checked before the accounts",
    )?;
    expect_error(
        &mut p,
        &body("zoe", "zoe", "1"),
        ("same_account", 422),
        "a transfer to the same account is same_account (422), checked before the accounts exist",
    )?;
    expect_error(
        &mut p,
        &body("zoe", "alice", "1"),
        ("unknown_account", 404),
        "an unknown from account is unknown_account (404)",
    )?;
    expect_error(
        &mut p,
        &body("alice", "zoe", "1"),
        ("unknown_account", 404),
        "an unknown to account is unknown_account (404)",
    )?;
    expect_error(
        &mut p,
        &body("Alice", "bob", "1"),
        ("unknown_account", 404),
        "account names are exact (case-sensitive)",
    )?;
    let carol = money(model.balances["carol"] + 1);
    expect_error(
        &mut p,
        &body("carol", "bob", &carol),
        ("insufficient_funds", 409),
        "moving more than the balance is insufficient_funds (409)",
    )?;
    let whole = money(model.balances["bob"]);
    let expected = model
        .transfer("bob", "carol", &whole)
        .map_err(|_| Failure::new("grader bug: bob's balance"))?;
    expect_ok(
        &mut p,
        &body("bob", "carol", &whole),
        &expected,
        "moving exactly the whole balance is allowed (the balance may reach 0)",
    )?;

    g.scenario("a failed transfer changed nothing");
    expect_error(
        &mut p,
        &body("alice", "nobody", "10"),
        ("unknown_account", 404),
        "an unknown to account is unknown_account (404)",
    )?;
    expect_error(
        &mut p,
        &body("dave", "ghost", "1000"),
        ("unknown_account", 404),
        "an unknown to account is unknown_account (404)",
    )?;
    let expected = model
        .transfer("alice", "dave", "1")
        .map_err(|_| Failure::new("grader bug: alice"))?;
    expect_ok(
        &mut p,
        &body("alice", "dave", "1"),
        &expected,
        "balances show that failed transfers changed nothing (check everything before moving money)",
    )?;

    g.scenario("a seeded mix of valid and hostile requests");
    let mut rng = g.rng().fork(3);
    for _ in 0..150 {
        let from = pick_account(&mut rng);
        let to = pick_account(&mut rng);
        let amount = random_amount(&mut rng);
        let text = body(&from, &to, &amount);
        match model.transfer(&from, &to, &amount) {
            Ok(expected) => expect_ok(
                &mut p,
                &text,
                &expected,
                "every valid transfer answers both new balances",
            )?,
            Err(code) => expect_error(
                &mut p,
                &text,
                code,
                "the first failing check of the contract's table decides the code",
            )?,
        }
    }

    g.scenario("the program never panicked and exits with code 0 at the end of its input");
    let (_, termination) = p.finish(Duration::from_secs(5))?;
    ensure(termination.is_success(), || {
        Failure::new("the program exits with code 0 once its input ends")
            .got(termination.describe())
    })
}

fn pick_account(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => rng.word(5),
        1 => "ALICE".to_string(),
        _ => rng.pick(&ACCOUNTS).to_string(),
    }
}

fn random_amount(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => rng
            .pick(&[
                "0", "-1", "1.2.3", "+3", "7.", ".7", "1e2", "١", "0.001", "  1",
            ])
            .to_string(),
        1 => format!("{}", rng.next_u64()),
        2 => format!("{}.{:02}", rng.range(0, 1_000_000), rng.below(100)),
        3..=6 => format!("{}.{}", rng.range(0, 60), rng.below(10)),
        _ => format!("{}", rng.range(1, 80)),
    }
}

fn expect_ok(p: &mut Stdio, body: &str, expected: &Value, rule: &str) -> Result<(), Failure> {
    let got = p.request(&json!({"body": body}))?;
    ensure(&got == expected, || {
        Failure::new(rule).expected(expected).got(&got)
    })
}

fn expect_error(
    p: &mut Stdio,
    body: &str,
    (code, status): (&str, u16),
    rule: &str,
) -> Result<(), Failure> {
    let got = p.request(&json!({"body": body}))?;
    let error = &got["error"];
    let is_right = error["code"] == code
        && error["status"] == status
        && error["message"].as_str().is_some_and(|m| !m.is_empty());
    ensure(is_right, || {
        Failure::new(rule)
            .expected(json!({"error": {"code": code, "status": status, "message": "<any text>"}}))
            .got(&got)
    })
}
