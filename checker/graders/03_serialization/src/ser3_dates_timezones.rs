//! Grader of `ser3_dates_timezones`: RFC 3339 in, UTC out, epoch milliseconds both ways, rendering in IANA
//! zones, local times near DST transitions (including the ones that do not exist or happen twice), and
//! daily schedules that keep their local time.
//!
//! UTC strings and epoch milliseconds are computed with the grader's own calendar arithmetic ([`civil`]);
//! zone offsets come from chrono-tz ([`zones`]), one instant at a time, and everything built on them
//! (gaps, overlaps, the instants of a local time) is computed here.

mod civil;
mod zones;

use backlings_grade::{Failure, Grading, Stdio};
use serde_json::{Value, json};

use civil::{DAY_MS, local_text, naive_text, utc_text};
use zones::{DST_ZONES, FIXED_ZONES, Transition, instants_of_local, offset_at, zone};

/// Grades `ser3_dates_timezones`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;

    g.scenario(
        "an RFC 3339 timestamp with an offset normalizes to UTC, with its epoch milliseconds",
    );
    normalize_valid(g, &mut p)?;

    g.scenario("a timestamp without an offset, or with an impossible field, is refused as invalid");
    normalize_invalid(&mut p)?;

    g.scenario("epoch milliseconds become UTC, before 1970 too");
    from_epoch(g, &mut p)?;

    g.scenario("an instant renders in an IANA zone with the offset in force at that instant");
    render(g, &mut p)?;

    g.scenario("a name that is not an IANA zone is refused");
    for name in ["Mars/Olympus_Mons", "europe/berlin", "+05:00", "Berlin", ""] {
        let request = json!({"op": "render", "utc": "2024-03-10T06:30:00Z", "zone": name});
        expect(
            &mut p,
            &request,
            &json!({"error": "unknown_zone", "detail": name}),
            "a zone is an IANA name such as Europe/Berlin (case matters); anything else is refused as unknown_zone, with the name as detail",
        )?;
    }

    g.scenario(
        "a local time near a DST change becomes UTC with the offset in force at that local time",
    );
    local_near_transitions(g, &mut p)?;

    g.scenario("a local time skipped when clocks spring forward does not exist");
    local_in_gaps(g, &mut p)?;

    g.scenario("a local time repeated when clocks fall back is ambiguous: both instants are given");
    local_in_overlaps(g, &mut p)?;

    g.scenario("a daily time keeps its local time across DST changes: in UTC it moves");
    daily(g, &mut p)?;

    g.scenario("invalid local times and schedules are refused");
    invalid_local(&mut p)
}

/// Sends `request` and checks the reply is exactly `expected`.
fn expect(p: &mut Stdio, request: &Value, expected: &Value, rule: &str) -> Result<(), Failure> {
    let reply = p.request(request)?;
    if &reply == expected {
        return Ok(());
    }
    let mut failure = Failure::new(rule)
        .expected(expected.to_string())
        .got(reply.to_string())
        .detail(format!("sent: {request}"));
    if let (Some(want), Some(got)) = (
        expected.get("utc").and_then(Value::as_str),
        reply.get("utc").and_then(Value::as_str),
    ) && (want.len() == got.len() + 1 || got.ends_with("+00:00") || !got.contains('.'))
    {
        failure = failure.detail("UTC is written YYYY-MM-DDTHH:MM:SS.sssZ: exactly three fraction digits and Z (to_rfc3339 writes neither)");
    }
    Err(failure)
}

fn normalize_valid(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let fixed = [
        ("2024-03-10T01:30:00-05:00", 1_710_052_200_000),
        ("2024-03-10T12:00:00.123456+05:45", 1_710_051_300_123),
        ("1969-12-31T23:59:59.9999Z", -1),
        ("2000-02-29T23:30:00-01:00", 951_870_600_000),
        ("1970-01-01T05:30:00+05:30", 0),
    ];
    for (input, ms) in fixed {
        normalize_one(p, input, ms)?;
    }
    for _ in 0..60 {
        let ms = civil::instant(g.rng());
        let (input, named) = civil::rfc3339(g.rng(), ms);
        normalize_one(p, &input, named)?;
    }
    Ok(())
}

fn normalize_one(p: &mut Stdio, input: &str, ms: i64) -> Result<(), Failure> {
    expect(
        p,
        &json!({"op": "normalize", "input": input}),
        &json!({"utc": utc_text(ms), "epoch_ms": ms}),
        "the instant in UTC (the offset subtracted from the local fields; fraction digits past the third truncated) and its epoch milliseconds, floored",
    )
}

fn normalize_invalid(p: &mut Stdio) -> Result<(), Failure> {
    let cases = [
        (
            "2024-03-10T01:30:00",
            "a timestamp without an offset is not an instant (it is a different moment in every zone): refuse it, never guess UTC or the server's zone",
        ),
        ("2024-03-10", "a date alone is not an instant"),
        ("2024-03-10T10:00Z", "RFC 3339 requires the seconds"),
        ("2024-02-30T10:00:00Z", "30 February does not exist"),
        ("2023-02-29T10:00:00Z", "2023 is not a leap year"),
        (
            "1900-02-29T00:00:00Z",
            "1900 is not a leap year (divisible by 100, not by 400)",
        ),
        ("2024-13-01T00:00:00Z", "there is no month 13"),
        ("2024-03-10T24:00:00Z", "hours go from 00 to 23"),
        ("2024-03-10T23:60:00Z", "minutes go from 00 to 59"),
        (
            "2024-03-10T10:00:00+24:00",
            "an offset's hours go from 00 to 23",
        ),
        (
            "2024-03-10T10:00:00+0530",
            "RFC 3339 writes the offset with a colon: +05:30",
        ),
        (
            "2024-3-10T10:00:00Z",
            "RFC 3339 writes the month with two digits",
        ),
        ("2024-03-10T10:00:00UTC", "the UTC designator is Z, not UTC"),
        (
            "1710052200000",
            "epoch milliseconds in a string are not an RFC 3339 timestamp",
        ),
        (" 2024-03-10T10:00:00Z", "no leading space"),
        ("", "an empty string is not a timestamp"),
    ];
    for (input, why) in cases {
        let request = json!({"op": "normalize", "input": input});
        let reply = p.request(&request)?;
        if reply.get("error") != Some(&json!("invalid")) {
            let rule = if input == "2024-03-10T01:30:00" {
                why.to_string()
            } else {
                format!("an invalid timestamp is refused: {why}")
            };
            return Err(Failure::new(rule)
                .expected(r#"{"error":"invalid","detail":"…"}"#)
                .got(reply.to_string())
                .detail(format!("sent: {request}")));
        }
    }
    Ok(())
}

fn from_epoch(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let mut values = vec![
        0,
        1,
        -1,
        -999,
        -1000,
        -1001,
        -DAY_MS,
        -DAY_MS - 1,
        951_782_400_000,
    ];
    for _ in 0..40 {
        let ms = civil::instant(g.rng());
        values.push(ms);
    }
    for ms in values {
        let rule = "epoch milliseconds count from 1970-01-01T00:00:00.000Z; before 1970 they are negative, and -1 is 1969-12-31T23:59:59.999Z (integer division rounds toward zero, the calendar does not)";
        expect(
            p,
            &json!({"op": "from_epoch_ms", "ms": ms}),
            &json!({"utc": utc_text(ms)}),
            rule,
        )?;
    }
    Ok(())
}

fn render_one(p: &mut Stdio, ms: i64, name: &str, why: &str) -> Result<(), Failure> {
    let offset = offset_at(zone(name), ms);
    let request = json!({"op": "render", "utc": utc_text(ms), "zone": name});
    let rule = format!(
        "the local time in {name} with the offset in force at that instant ({}){why}: YYYY-MM-DDTHH:MM:SS.sss±HH:MM",
        civil::offset_text(offset)
    );
    expect(
        p,
        &request,
        &json!({"local": local_text(ms, offset)}),
        &rule,
    )
}

fn render(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let winter = civil::days_from_civil(2024, 1, 15) * DAY_MS + 12 * 3_600_000;
    let summer = civil::days_from_civil(2024, 7, 15) * DAY_MS + 12 * 3_600_000;
    for name in [
        "Europe/Berlin",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/St_Johns",
    ] {
        render_one(p, winter, name, "")?;
        render_one(p, summer, name, "")?;
    }
    for name in FIXED_ZONES {
        let ms = winter + g.rng().below(400 * DAY_MS as u64) as i64;
        render_one(p, ms, name, "")?;
    }
    for _ in 0..12 {
        let gap = g.rng().chance(1, 2);
        let (name, t) = zones::pick_transition(g.rng(), gap);
        render_one(
            p,
            t.at_ms - 1,
            name,
            ", one millisecond before a DST change",
        )?;
        render_one(p, t.at_ms, name, ", at the DST change")?;
    }
    for _ in 0..30 {
        let name = *g.rng().pick(DST_ZONES);
        let ms = civil::days_from_civil(1990, 1, 1) * DAY_MS
            + g.rng().below(50 * 365 * DAY_MS as u64) as i64;
        render_one(p, ms, name, "")?;
    }
    Ok(())
}

fn local_request(local_ms: i64, name: &str) -> (String, Value) {
    let text = naive_text(local_ms);
    let text = text.strip_suffix(".000").unwrap_or(&text).to_string();
    let request = json!({"op": "from_local", "local": text, "zone": name});
    (text, request)
}

fn local_single(
    p: &mut Stdio,
    local_ms: i64,
    name: &str,
    t: Option<&Transition>,
) -> Result<(), Failure> {
    let instants = instants_of_local(zone(name), local_ms);
    if instants.len() != 1 {
        // Two transitions close together: this local time is not the simple case it was meant to be.
        return Ok(());
    }
    let (text, request) = local_request(local_ms, name);
    let offset = ((local_ms - instants[0]) / 1000) as i32;
    let mut rule = format!(
        "{text} in {name} is {}: converting a local time to UTC uses the offset in force at that local time ({})",
        utc_text(instants[0]),
        civil::offset_text(offset)
    );
    if let Some(t) = t {
        rule.push_str(&format!(
            "; the offset changed from {} to {} at {} (local {} → {}): look the offset up by the local time, not by reading the local time as if it were UTC",
            civil::offset_text(t.before),
            civil::offset_text(t.after),
            utc_text(t.at_ms),
            naive_text(t.at_ms + i64::from(t.before) * 1000),
            naive_text(t.at_ms + i64::from(t.after) * 1000),
        ));
    }
    expect(p, &request, &json!({"utc": utc_text(instants[0])}), &rule)
}

fn local_near_transitions(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    for i in 0..16 {
        let (name, t) = zones::pick_transition(g.rng(), i % 2 == 0);
        let before = t.local_start() - 1000 - g.rng().below(3 * 3_600_000 / 1000) as i64 * 1000;
        let after = t.local_end() + g.rng().below(3 * 3_600_000 / 1000) as i64 * 1000;
        local_single(p, before, name, Some(&t))?;
        local_single(p, after, name, Some(&t))?;
    }
    for _ in 0..20 {
        let name = *g.rng().pick(DST_ZONES);
        let local = civil::days_from_civil(2000, 1, 1) * DAY_MS
            + g.rng().below(40 * 365 * 86_400) as i64 * 1000;
        if instants_of_local(zone(name), local).len() == 1 {
            local_single(p, local, name, None)?;
        }
    }
    Ok(())
}

fn local_in_gaps(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let mut cases: Vec<(&str, i64, Option<Transition>)> = vec![
        // Samoa moved across the date line: 30 December 2011 never happened in Apia.
        (
            "Pacific/Apia",
            civil::days_from_civil(2011, 12, 30) * DAY_MS + 12 * 3_600_000,
            None,
        ),
        (
            "America/New_York",
            civil::days_from_civil(2024, 3, 10) * DAY_MS + 9_000_000,
            None,
        ),
    ];
    for _ in 0..10 {
        let (name, t) = zones::pick_transition(g.rng(), true);
        let width = (t.local_end() - t.local_start()) / 1000;
        let local = t.local_start() + g.rng().below(width as u64) as i64 * 1000;
        cases.push((name, local, Some(t)));
    }
    for (name, local, t) in cases {
        if !instants_of_local(zone(name), local).is_empty() {
            continue;
        }
        let (text, request) = local_request(local, name);
        let mut rule = format!(
            "{text} never happened in {name}: the clocks jumped over it, so it is refused as nonexistent (not moved, not guessed)"
        );
        if let Some(t) = t {
            rule.push_str(&format!(
                "; at {} the clocks went from {} to {}",
                utc_text(t.at_ms),
                naive_text(t.local_start()),
                naive_text(t.local_end())
            ));
        }
        expect(p, &request, &json!({"error": "nonexistent"}), &rule)?;
    }
    Ok(())
}

fn local_in_overlaps(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let mut cases: Vec<(&str, i64)> = vec![(
        "America/New_York",
        civil::days_from_civil(2024, 11, 3) * DAY_MS + 5_400_000,
    )];
    for _ in 0..10 {
        let (name, t) = zones::pick_transition(g.rng(), false);
        let width = (t.local_end() - t.local_start()) / 1000;
        cases.push((
            name,
            t.local_start() + g.rng().below(width as u64) as i64 * 1000,
        ));
    }
    for (name, local) in cases {
        let instants = instants_of_local(zone(name), local);
        if instants.len() != 2 {
            continue;
        }
        let (text, request) = local_request(local, name);
        let expected = json!({"error": "ambiguous", "earlier": utc_text(instants[0]), "later": utc_text(instants[1])});
        let rule = format!(
            "{text} happened twice in {name} (the clocks were set back): it is ambiguous, refused with both instants, earlier first ({} and {}); picking one silently books the meeting an hour off for half the users",
            utc_text(instants[0]),
            utc_text(instants[1])
        );
        expect(p, &request, &expected, &rule)?;
    }
    Ok(())
}

fn daily(g: &mut Grading, p: &mut Stdio) -> Result<(), Failure> {
    let times = ["09:00", "12:30", "18:45", "07:15", "10:00", "15:20"];
    for i in 0..8 {
        let (name, t) = zones::pick_transition(g.rng(), i % 2 == 0);
        let tz = zone(name);
        let change_day = t.local_start().div_euclid(DAY_MS);
        let start_day = change_day - g.rng().range(1, 4) as i64;
        let days = g.rng().range(5, 9) as i64;
        let mut chosen = None;
        let mut candidates = times.to_vec();
        g.rng().shuffle(&mut candidates);
        for time in candidates {
            let minute: i64 =
                time[..2].parse::<i64>().unwrap() * 60 + time[3..].parse::<i64>().unwrap();
            let all: Option<Vec<i64>> = (0..days)
                .map(|d| {
                    let instants =
                        instants_of_local(tz, (start_day + d) * DAY_MS + minute * 60_000);
                    (instants.len() == 1).then(|| instants[0])
                })
                .collect();
            if let Some(all) = all {
                chosen = Some((time, all));
                break;
            }
        }
        let Some((time, instants)) = chosen else {
            continue;
        };
        let start = &naive_text(start_day * DAY_MS)[..10];
        let request =
            json!({"op": "daily", "start": start, "time": time, "zone": name, "days": days});
        let expected: Vec<String> = instants.iter().map(|&ms| utc_text(ms)).collect();
        let rule = format!(
            "every day at {time} in {name} is the same local time each day, so in UTC it moves when the offset changes ({} → {} at {}): step the local date and convert each day; adding 24 hours in UTC drifts",
            civil::offset_text(t.before),
            civil::offset_text(t.after),
            utc_text(t.at_ms)
        );
        expect(p, &request, &json!({"utc": expected}), &rule)?;
    }
    Ok(())
}

fn invalid_local(p: &mut Stdio) -> Result<(), Failure> {
    let cases = [
        (
            json!({"op": "from_local", "local": "2024-03-10T02:30:00Z", "zone": "Europe/Berlin"}),
            "invalid",
            "a local time has no offset: one with an offset (Z) is refused as invalid",
        ),
        (
            json!({"op": "from_local", "local": "2024-02-30T10:00:00", "zone": "Europe/Berlin"}),
            "invalid",
            "30 February does not exist",
        ),
        (
            json!({"op": "from_local", "local": "2024-03-10T10:00:00", "zone": "Europe/Berlim"}),
            "unknown_zone",
            "Europe/Berlim is not an IANA zone",
        ),
        (
            json!({"op": "daily", "start": "2024-03-08", "time": "25:00", "zone": "Europe/Berlin", "days": 2}),
            "invalid",
            "25:00 is not a time of day",
        ),
        (
            json!({"op": "daily", "start": "2024-02-30", "time": "09:00", "zone": "Europe/Berlin", "days": 2}),
            "invalid",
            "30 February does not exist",
        ),
        (
            json!({"op": "daily", "start": "2024-03-08", "time": "09:00", "zone": "Atlantis/Capital", "days": 2}),
            "unknown_zone",
            "Atlantis/Capital is not an IANA zone",
        ),
    ];
    for (request, kind, why) in cases {
        let reply = p.request(&request)?;
        if reply.get("error") != Some(&json!(kind)) {
            return Err(Failure::new(format!("refused as {kind}: {why}"))
                .expected(format!(r#"{{"error":"{kind}",…}}"#))
                .got(reply.to_string())
                .detail(format!("sent: {request}")));
        }
    }
    Ok(())
}
