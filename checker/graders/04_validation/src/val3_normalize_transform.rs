//! Grader of `val3_normalize_transform`: pipelines of normalization and transformation steps over JSON lines.
//!
//! Every reply is compared, exactly, with the executable contract in [`model`]. The scenarios: each step on
//! its own on the inputs that trip it up (exotic whitespace, non-ASCII capitals, signs and spaces around
//! numbers, day-first dates, trunk prefixes), the same steps in two orders, chains that must stop at their
//! first failing step, values of the wrong kind, then seeded random pipelines.

mod model;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

use model::Step;

/// Seeded random pipelines.
const RANDOM_PIPELINES: usize = 400;
/// Country calling codes the `e164` steps use.
const COUNTRY_CODES: [&str; 6] = ["44", "1", "33", "49", "353", "7"];
/// Whitespace a copy-paste brings along, ASCII or not.
const SPACES: [&str; 8] = [
    " ", "\t", "\n", "\r\n", "\u{a0}", "\u{3000}", "\u{2003}", "\u{85}",
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario("each step on its own, on the inputs that trip it up");
    for (step, inputs) in single_steps() {
        for input in inputs {
            check(&mut p, std::slice::from_ref(&step), &input)?;
        }
    }

    g.scenario("the same steps in two orders give different results");
    for (steps, input) in orders() {
        check(&mut p, &steps, &input)?;
        let reversed: Vec<Step> = steps.iter().rev().cloned().collect();
        check(&mut p, &reversed, &input)?;
    }

    g.scenario("a chain stops at its first failing step, and names it");
    for (steps, input) in stops() {
        check(&mut p, &steps, &input)?;
    }

    g.scenario("a step given a value of the wrong kind fails with `type`");
    for input in [
        json!(42),
        json!(4.5),
        json!(true),
        Value::Null,
        json!([]),
        json!({"a": "b"}),
    ] {
        for step in every_kind(g.rng()) {
            check(&mut p, &[step], &input)?;
        }
    }

    g.scenario("seeded random pipelines against the model");
    for _ in 0..RANDOM_PIPELINES {
        let (steps, input) = random_pipeline(g.rng());
        check(&mut p, &steps, &input)?;
    }
    Ok(())
}

/// Sends one pipeline and compares the reply with the model.
fn check(p: &mut Stdio, steps: &[Step], input: &Value) -> Result<(), Failure> {
    let request = json!({
        "op": "run",
        "steps": steps.iter().map(Step::json).collect::<Vec<_>>(),
        "input": input,
    });
    let expected = model::run(steps, input);
    let got = p.request(&request)?;
    if got == expected {
        return Ok(());
    }
    let mut failure = Failure::new(headline(&expected, &got))
        .expected(expected.to_string())
        .got(got.to_string())
        .detail(format!("the request: {request}"))
        .detail(format!(
            "the contract, step by step: {}",
            model::trace(steps, input)
        ));
    let mut seen = Vec::new();
    for step in steps {
        let rule = step.rule();
        if !seen.contains(&rule) {
            failure = failure.detail(format!("· {rule}"));
            seen.push(rule);
        }
    }
    Err(failure)
}

/// The broken rule, from how the reply differs.
fn headline(expected: &Value, got: &Value) -> String {
    let step = |v: &Value| v.pointer("/error/step").and_then(Value::as_u64);
    match (expected.get("ok"), got.get("ok"), step(expected), step(got)) {
        (Some(_), Some(_), _, _) => "every step succeeds here, and the result must be exactly the \
                                    contract's: look at the step-by-step trace below"
            .to_string(),
        (Some(_), None, _, _) => "every step of this chain succeeds on this input: the reply is \
                                  {\"ok\": VALUE}"
            .to_string(),
        (None, Some(_), Some(index), _) => format!(
            "step {index} (counted from 0) fails on this input: the reply is {{\"error\": {{\"step\": \
             {index}, \"code\": …}}}}"
        ),
        (None, None, Some(want), Some(have)) if want != have => format!(
            "a chain stops at its first failing step and names it (counted from 0): that is step {want}, \
             not {have}; the later steps do not run"
        ),
        _ => "the failing step is right, but its error code is not the contract's".to_string(),
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

/// Every step with its tricky inputs.
fn single_steps() -> Vec<(Step, Vec<Value>)> {
    let padded: Vec<Value> = SPACES
        .iter()
        .map(|space| text(&format!("{space}Ada Lovelace{space}")))
        .chain([
            text(" \t\u{a0}mixed\u{3000} \n"),
            text("   "),
            text(""),
            text("no-padding"),
        ])
        .collect();
    let words = [
        "ÉCOLE",
        "Zoë ÅSA",
        "ΣΑΣ",
        "STRASSE",
        "ĞÜŞİÖÇ",
        "Ada",
        "already lower",
        "ǅemal",
        "ＡＢＣ",
    ];
    let integers = [
        "42",
        "-7",
        "+007",
        " 42",
        "42 ",
        "42.0",
        "1e3",
        "",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "0x2A",
        "4_2",
        "٤٢",
        "--1",
        "+-1",
        "-0",
    ];
    let dates = [
        "2024-03-05",
        "2024/03/05",
        "20240305",
        "5.3.2024",
        "05.03.2024",
        "29.02.2024",
        "29.02.2023",
        "2024-02-30",
        "03/05/2024",
        "2024-3-5",
        "2024-03/05",
        "2024.03.05",
        "24.12.99",
        "31.04.2024",
        "00.01.2024",
        "1.13.2024",
        "13.1.2024",
        "20241301",
        " 2024-03-05",
        "2024-03-05 ",
        "１２.03.2024",
        "29.2.2000",
        "29.2.1900",
        "",
    ];
    let phones = [
        "020 7946 0958",
        "+44 20 7946 0958",
        "0044 20 7946 0958",
        "(020) 7946-0958",
        "7946 0958",
        "+1 (415) 555-2671",
        "415.555.2671",
        "0",
        "00",
        "+",
        "+0 123",
        "call me",
        "0207946095812345678",
        "+44 20 7946 0958 ext 2",
        "٠٢٠ ٧٩٤٦",
        "06 12 34 56 78",
        "+33 6 12 34 56 78",
    ];
    let strings = |items: &[&str]| items.iter().map(|s| text(s)).collect::<Vec<_>>();
    let mut cases = vec![
        (Step::Trim, padded.clone()),
        (Step::CollapseSpaces, padded),
        (Step::Lowercase, strings(&words)),
        (
            Step::StripSpecials,
            strings(&[
                "Zoë's café, #1!",
                "a_b-c.d@e",
                "🦀 Rust 🦀",
                "٣ apples & ½ pear",
                "tab\there",
                "€100",
            ]),
        ),
        (
            Step::DigitsOnly,
            strings(&[
                "+44 (20) 7946-0958",
                "٠١٢٣ 456",
                "１２３ 789",
                "no digits",
                "0x1F",
            ]),
        ),
        (Step::ToInteger, strings(&integers)),
        (Step::Date, strings(&dates)),
        (
            Step::Length(3, 5),
            strings(&[
                "abc",
                "ab",
                "abcdef",
                "ééé",
                "éé",
                "🦀🦀🦀🦀🦀",
                "🦀🦀🦀🦀🦀🦀",
                "  a  ",
            ]),
        ),
        (
            Step::Range(1, 120),
            vec![
                json!(1),
                json!(0),
                json!(120),
                json!(121),
                json!(-5),
                json!(60),
            ],
        ),
    ];
    for cc in ["44", "33", "1"] {
        cases.push((Step::E164(cc.to_string()), strings(&phones)));
    }
    cases
}

/// Pairs of (steps, input) whose result depends on the order of the steps.
fn orders() -> Vec<(Vec<Step>, Value)> {
    vec![
        (vec![Step::Trim, Step::Length(1, 5)], text("  abc  ")),
        (vec![Step::Trim, Step::ToInteger], text(" 42 ")),
        (
            vec![Step::StripSpecials, Step::CollapseSpaces],
            text("a - b"),
        ),
        (
            vec![Step::DigitsOnly, Step::E164("44".to_string())],
            text("+44 20 7946 0958"),
        ),
        (vec![Step::Lowercase, Step::Length(1, 4)], text("İİİ")),
        (vec![Step::ToInteger, Step::Range(1, 10)], text("7")),
        (vec![Step::StripSpecials, Step::Date], text("05.03.2024")),
        (
            vec![Step::CollapseSpaces, Step::Trim, Step::Length(3, 3)],
            text("\t a \t"),
        ),
        (vec![Step::DigitsOnly, Step::ToInteger], text("+42")),
    ]
}

/// Chains whose later steps would fail differently if they ran.
fn stops() -> Vec<(Vec<Step>, Value)> {
    vec![
        (vec![Step::ToInteger, Step::Trim], text(" x")),
        (
            vec![
                Step::Trim,
                Step::Length(1, 2),
                Step::ToInteger,
                Step::Range(1, 5),
            ],
            text(" abc "),
        ),
        (vec![Step::Date, Step::Length(100, 200)], text("31.02.2024")),
        (
            vec![Step::Trim, Step::ToInteger, Step::Range(1, 120), Step::Trim],
            text(" 42 "),
        ),
        (
            vec![
                Step::E164("44".to_string()),
                Step::DigitsOnly,
                Step::Length(50, 60),
            ],
            text("n/a"),
        ),
        (vec![Step::Range(0, 10), Step::ToInteger], text("5")),
        (
            vec![
                Step::Trim,
                Step::Lowercase,
                Step::Length(5, 5),
                Step::DigitsOnly,
            ],
            text(" ABCDEFG "),
        ),
    ]
}

/// One step of every kind, with seeded parameters.
fn every_kind(rng: &mut Rng) -> Vec<Step> {
    let low = rng.range(0, 3);
    vec![
        Step::Trim,
        Step::Lowercase,
        Step::CollapseSpaces,
        Step::StripSpecials,
        Step::DigitsOnly,
        Step::ToInteger,
        Step::Date,
        Step::E164(rng.pick(&COUNTRY_CODES).to_string()),
        Step::Length(low, low + rng.range(0, 10)),
        Step::Range(-(rng.below(10) as i64), rng.below(100) as i64),
    ]
}

/// A seeded pipeline of 1 to 5 steps, and an input made to give its steps something to do.
fn random_pipeline(rng: &mut Rng) -> (Vec<Step>, Value) {
    let steps: Vec<Step> = (0..rng.range(1, 5))
        .map(|_| {
            let kinds = every_kind(rng);
            rng.pick(&kinds).clone()
        })
        .collect();
    (steps, random_input(rng))
}

fn random_input(rng: &mut Rng) -> Value {
    let core = match rng.below(6) {
        0 => {
            let day = rng.range(1, 31);
            let month = rng.range(1, 12);
            let year = rng.range(1899, 2101);
            match rng.below(4) {
                0 => format!("{year:04}-{month:02}-{day:02}"),
                1 => format!("{year:04}/{month:02}/{day:02}"),
                2 => format!("{year:04}{month:02}{day:02}"),
                _ => format!("{day}.{month}.{year}"),
            }
        }
        1 => {
            let prefix = *rng.pick(&["", "+", "-", "0", "00"]);
            format!("{prefix}{}", rng.below(1_000_000_000))
        }
        2 => {
            let prefix = *rng.pick(&["0", "00", "+", "", "(0)"]);
            let groups: Vec<String> = (0..rng.range(2, 4))
                .map(|_| rng.range(10, 9999).to_string())
                .collect();
            let separator = *rng.pick(&[" ", "-", ".", ""]);
            format!("{prefix}{}", groups.join(separator))
        }
        3 => {
            let words = [
                "Ada", "ÉCOLE", "Zoë", "straße", "O'Brien", "café", "🦀", "#1", "ΣΑΣ", "x_y",
            ];
            let chosen: Vec<&str> = (0..rng.range(1, 4)).map(|_| *rng.pick(&words)).collect();
            let space = *rng.pick(&SPACES);
            chosen.join(space)
        }
        4 => return json!(rng.below(300) as i64 - 50),
        _ => {
            let len = rng.range(0, 8) as usize;
            rng.word(len)
        }
    };
    let (left, right) = (*rng.pick(&SPACES), *rng.pick(&SPACES));
    match rng.below(3) {
        0 => text(&core),
        1 => text(&format!("{left}{core}")),
        _ => text(&format!("{left}{core}{right}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each pair of the order scenario really gives two different replies.
    #[test]
    fn orders_differ() {
        for (steps, input) in orders() {
            let reversed: Vec<Step> = steps.iter().rev().cloned().collect();
            assert_ne!(
                model::run(&steps, &input),
                model::run(&reversed, &input),
                "{steps:?}"
            );
        }
    }

    // Random pipelines reach every outcome: successes and each error code.
    #[test]
    fn random_pipelines_cover_every_outcome() {
        let mut rng = Rng::new(1);
        let mut codes = std::collections::BTreeSet::new();
        for _ in 0..RANDOM_PIPELINES {
            let (steps, input) = random_pipeline(&mut rng);
            let reply = model::run(&steps, &input);
            let code = reply
                .pointer("/error/code")
                .and_then(Value::as_str)
                .unwrap_or("ok");
            codes.insert(code.to_string());
        }
        for code in [
            "ok",
            "type",
            "not_an_integer",
            "bad_date",
            "bad_phone",
            "too_short",
            "too_long",
            "out_of_range",
        ] {
            assert!(codes.contains(code), "{code} never happens: {codes:?}");
        }
    }
}
