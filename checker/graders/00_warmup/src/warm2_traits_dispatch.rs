//! Grader of `warm2_traits_dispatch`: a command router of struct and closure handlers behind one trait.
//!
//! Every command's reply is computed here from the contract; unknown names, bad arguments and overflow must
//! come back as error replies (never a crash), the counter must keep its state across calls, and `help` must
//! be sorted in every process (a `HashMap`'s order changes from run to run, so three processes are asked).

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

/// What a command must answer: a value, or an error with this code.
enum Answer {
    Ok(Value),
    Error(&'static str),
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("ping answers pong, echo answers its args unchanged");
    let mut p = g.stdio()?;
    check(
        &mut p,
        json!({"cmd": "ping"}),
        Answer::Ok(json!("pong")),
        "ping answers \"pong\"",
    )?;
    check(
        &mut p,
        json!({"cmd": "ping", "args": [1]}),
        Answer::Ok(json!("pong")),
        "ping ignores its args",
    )?;
    check(
        &mut p,
        json!({"cmd": "echo"}),
        Answer::Ok(Value::Null),
        "echo without args answers null",
    )?;
    let mut rng = g.rng().fork(2);
    for _ in 0..8 {
        let args = random_value(&mut rng, 3);
        check(
            &mut p,
            json!({"cmd": "echo", "args": args}),
            Answer::Ok(args),
            "echo answers its args unchanged",
        )?;
    }

    g.scenario("unknown commands are an error reply, not a crash");
    let mut unknown = vec![
        "PING".to_string(),
        "".to_string(),
        "help me".to_string(),
        "sum ".to_string(),
    ];
    unknown.extend((0..4).map(|_| rng.word(6)));
    for name in unknown {
        let rule =
            "a command nobody registered answers the unknown_command error, whose message names it";
        check(
            &mut p,
            json!({"cmd": name, "args": {"x": 1}}),
            Answer::Error("unknown_command"),
            rule,
        )?;
    }
    check(
        &mut p,
        json!({"cmd": "ping"}),
        Answer::Ok(json!("pong")),
        "the router still works after unknown commands",
    )?;

    g.scenario(
        "sum adds an array of integers; anything else, or overflow, is bad_args (never a panic)",
    );
    for _ in 0..6 {
        let items: Vec<i64> = (0..rng.below(8))
            .map(|_| rng.range(0, 2_000_000) as i64 - 1_000_000)
            .collect();
        let total: i64 = items.iter().sum();
        check(
            &mut p,
            json!({"cmd": "sum", "args": items}),
            Answer::Ok(json!(total)),
            "sum adds the integers",
        )?;
    }
    let near_max = json!([i64::MAX - 5, 5, -3, 3]);
    check(
        &mut p,
        json!({"cmd": "sum", "args": near_max}),
        Answer::Ok(json!(i64::MAX)),
        "sum reaches i64::MAX exactly",
    )?;
    let strict = "sum refuses anything that is not an array of integers with bad_args (no guessing, no zeros)";
    for args in [
        json!([1, "2"]),
        json!([1, 2.5]),
        json!([null]),
        json!([[1]]),
        json!("1,2"),
        json!({"a": 1}),
        Value::Null,
    ] {
        check(
            &mut p,
            json!({"cmd": "sum", "args": args}),
            Answer::Error("bad_args"),
            strict,
        )?;
    }
    let overflow = "a sum that does not fit an i64 is bad_args: check the addition (checked_add), do not panic";
    for args in [
        json!([i64::MAX, 1]),
        json!([i64::MIN, -1]),
        json!([i64::MAX / 2, i64::MAX / 2, i64::MAX / 2]),
    ] {
        check(
            &mut p,
            json!({"cmd": "sum", "args": args}),
            Answer::Error("bad_args"),
            overflow,
        )?;
    }

    g.scenario("counter keeps a running total across calls");
    let mut total: i64 = 0;
    for step in 0..12 {
        if step % 5 == 4 {
            let bad = rng
                .pick(&[json!({}), json!({"by": "3"}), json!({"by": 1.5}), json!(3)])
                .clone();
            let rule =
                "counter refuses args without an integer `by` (bad_args) and keeps its total";
            check(
                &mut p,
                json!({"cmd": "counter", "args": bad}),
                Answer::Error("bad_args"),
                rule,
            )?;
            continue;
        }
        let by = rng.range(0, 200) as i64 - 50;
        total += by;
        let rule = "counter answers the running total of every `by` so far (its state lives between calls)";
        check(
            &mut p,
            json!({"cmd": "counter", "args": {"by": by}}),
            Answer::Ok(json!(total)),
            rule,
        )?;
    }

    g.scenario("upper upper-cases a string");
    for text in ["hello", "MiXeD case 42", "straße", ""] {
        let upper = text.to_uppercase();
        check(
            &mut p,
            json!({"cmd": "upper", "args": text}),
            Answer::Ok(json!(upper)),
            "upper upper-cases its string",
        )?;
    }
    check(
        &mut p,
        json!({"cmd": "upper", "args": 7}),
        Answer::Error("bad_args"),
        "upper refuses a non-string",
    )?;

    g.scenario("help lists the registered commands sorted, in every run");
    let sorted = json!(["counter", "echo", "ping", "sum", "upper"]);
    let rule = "help answers the registered command names sorted (a HashMap's order changes from run to run)";
    check(
        &mut p,
        json!({"cmd": "help"}),
        Answer::Ok(sorted.clone()),
        rule,
    )?;
    drop(p);
    for _ in 0..3 {
        let mut fresh = g.stdio()?;
        check(
            &mut fresh,
            json!({"cmd": "help"}),
            Answer::Ok(sorted.clone()),
            rule,
        )?;
    }
    Ok(())
}

/// Sends `request` and checks the reply: `{"ok":VALUE}`, or `{"error":{"code":CODE,"message":TEXT}}`.
fn check(p: &mut Stdio, request: Value, answer: Answer, rule: &str) -> Result<(), Failure> {
    let got = p.request(&request)?;
    match answer {
        Answer::Ok(value) => {
            let expected = json!({"ok": value});
            ensure(got == expected, || {
                Failure::new(rule).expected(&expected).got(&got)
            })
        }
        Answer::Error(code) => {
            let shape = json!({"error": {"code": code, "message": "<text>"}});
            let message = got["error"]["message"].as_str().unwrap_or("");
            let names_it = code != "unknown_command"
                || message.contains(request["cmd"].as_str().unwrap_or(""));
            let is_right = got["error"]["code"] == code && !message.is_empty() && names_it;
            ensure(is_right, || {
                Failure::new(rule)
                    .expected(shape)
                    .got(&got)
                    .detail("the message is free text, but it must not be empty (and unknown_command names the command)")
            })
        }
    }
}

/// A random JSON value, `depth` levels deep at most.
fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.chance(1, 2)),
        2 => json!(rng.range(0, 1 << 40) as i64 - (1 << 39)),
        3 => {
            let len = rng.below(8) as usize;
            json!(rng.word(len))
        }
        4 => json!(format!("ünï {} \"q\" \\ ✓", rng.word(3))),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let fields = (0..rng.below(4)).map(|_| (rng.word(4), random_value(rng, depth - 1)));
            Value::Object(fields.collect())
        }
    }
}
