//! # Dates and time zones: store UTC, speak RFC 3339, render in the user's zone
//!
//! Time is the serialization problem that looks solved until the clocks change. The rules that keep a
//! backend sane:
//!
//! 1. **On the wire, an instant carries its offset.** RFC 3339 (the strict profile of ISO 8601 that JSON
//!    APIs use) writes `2024-03-10T01:30:00-05:00` or `2024-03-10T06:30:00Z`. A string without an offset,
//!    `2024-03-10T01:30:00`, is not an instant: it is a wall-clock reading that means a different moment in
//!    every city. Refuse it where an instant is expected, instead of guessing "probably UTC" (or worse, the
//!    server's own zone, which changes when the service moves region).
//! 2. **Store and compute in UTC.** Normalize on the way in; comparisons, sorting, durations and database
//!    columns then just work. A Unix timestamp in milliseconds is the same thing as a number (JavaScript's
//!    `Date.now()`), and it is negative before 1970: `-1` is `1969-12-31T23:59:59.999Z`.
//! 3. **Render in a named zone, not an offset.** "Europe/Berlin" is a *rule* (IANA tz database): `+01:00`
//!    in winter, `+02:00` in summer, with dates that governments change. The offset to print is the one in
//!    force *at that instant* in that zone.
//! 4. **Local → UTC is not always a function.** When clocks spring forward, a range of wall-clock times
//!    never happens (`02:30` on 10 March 2024 in New York does not exist); when they fall back, a range
//!    happens twice (`01:30` on 3 November 2024 in New York is 05:30Z *and* 06:30Z). An API that gets such a
//!    time from a user must not silently pick one: refuse it, and say why (for the ambiguous case, offer both
//!    instants). The offset of a local time is looked up *by that local time*, never by pretending the local
//!    reading is a UTC instant (which is wrong for the hours around every transition).
//! 5. **"Every day at 09:00" is a local rule.** Adding 24 hours in UTC drifts by an hour across a DST
//!    change; step the *calendar date* in the zone and convert each day's 09:00 on its own. (A real scheduler
//!    also needs a policy for a time in a gap or an overlap: RFC 5545 takes the offset before the gap, and
//!    the first of two occurrences. This exercise's schedules never hit one.)
//!
//! ## Why chrono and chrono-tz
//!
//! The `time` crate is lean and well kept, but has no IANA database: naming a zone needs a third-party
//! add-on. `chrono` plus `chrono-tz` (the tz database compiled into the program, so results do not depend
//! on the machine's `/usr/share/zoneinfo`) is the most used pair in the ecosystem, and chrono's
//! `from_local_datetime` returns a `LocalResult` that spells out the three cases (`Single`, `Ambiguous`,
//! `None`) the type system then makes you handle. chrono is used with `default-features = false` and only
//! `std`: no system clock (time is an input here), no locale tables.
//!
//! ## The contract (what the grader checks)
//!
//! - `normalize(input)`: an RFC 3339 timestamp *with* an offset (`Z` or `±HH:MM`; any number of fraction
//!   digits) → the UTC instant. Anything else → `Invalid`: no offset, a date alone, an impossible date
//!   (`2023-02-29`, `1900-02-29`), `24:00`, a minute 60, a one-digit month, an offset without its colon.
//! - UTC instants are written `YYYY-MM-DDTHH:MM:SS.sssZ`: always three fraction digits, truncated (not
//!   rounded), and `Z`. Epoch milliseconds are floored: `1969-12-31T23:59:59.9999Z` is `-1`.
//! - `from_epoch_ms(ms)` → the instant `ms` milliseconds after 1970-01-01T00:00:00Z (or before, if negative).
//! - `render(instant, zone)` → the local time in that IANA zone: `YYYY-MM-DDTHH:MM:SS.sss±HH:MM` with the
//!   offset in force at that instant (`+00:00`, never `Z`, for a zone at UTC). A name that is not an IANA
//!   zone (case matters: `Europe/Paris`, not `europe/paris`) → `UnknownZone`.
//! - `from_local(local, zone)`: a wall-clock time `YYYY-MM-DDTHH:MM:SS` (optionally with a fraction, never
//!   with an offset) in a zone → the UTC instant; `Nonexistent` in a gap, `Ambiguous { earlier, later }` in
//!   an overlap.
//! - `daily(start, time, zone, days)`: the UTC instants of `time` (`HH:MM`) in `zone` on `days` consecutive
//!   local dates from `start` (`YYYY-MM-DD`).
//!
//! ## Pitfalls
//!
//! - A lenient parser that "helps" by accepting `2024-03-10T01:30:00` as UTC.
//! - `ms / 1000` and `ms % 1000` on a negative number: Rust rounds toward zero, the calendar does not.
//! - `to_rfc3339()` writes `+00:00` and as many fraction digits as it likes: the contract fixes both.
//! - `.earliest()` or `.unwrap()` on a `LocalResult`: one silently picks, the other panics.
//!
//! Roadmap: serialization edge cases: date serialization and time zones.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why a time could not be read or placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Not a timestamp of the expected form; says what was wrong.
    Invalid(String),
    /// Not an IANA zone name.
    UnknownZone(String),
    /// A wall-clock time skipped by a transition (clocks sprang forward over it).
    Nonexistent,
    /// A wall-clock time that happens twice (clocks fell back over it): both instants.
    Ambiguous {
        earlier: DateTime<Utc>,
        later: DateTime<Utc>,
    },
}

/// Parses an RFC 3339 timestamp with an offset into the UTC instant it names.
pub fn normalize(input: &str) -> Result<DateTime<Utc>, TimeError> {
    // TODO: the UTC instant of an RFC 3339 timestamp; anything else is `Invalid`.
    todo!()
}

/// The instant `ms` milliseconds after the Unix epoch (before it, when negative).
pub fn from_epoch_ms(ms: i64) -> Result<DateTime<Utc>, TimeError> {
    // TODO: the instant, negative milliseconds included; out of range is `Invalid`.
    todo!()
}

/// Milliseconds since the Unix epoch, floored.
pub fn epoch_ms(instant: DateTime<Utc>) -> i64 {
    // TODO: milliseconds since the epoch.
    todo!()
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format_utc(instant: DateTime<Utc>) -> String {
    // TODO: the contract's UTC form.
    todo!()
}

/// The local time of `instant` in `zone_name`, with the offset in force then.
pub fn render(instant: DateTime<Utc>, zone_name: &str) -> Result<String, TimeError> {
    // TODO: the zone (or `UnknownZone`), then the local time with its offset in the contract's form.
    todo!()
}

/// The UTC instant of a wall-clock time in a zone.
pub fn from_local(local: &str, zone_name: &str) -> Result<DateTime<Utc>, TimeError> {
    // TODO: read the wall-clock time (no offset), and find the instant it is in that zone: exactly one,
    // none (`Nonexistent`) or two (`Ambiguous`, earlier first).
    todo!()
}

/// The instants of `time` in `zone_name` on `days` consecutive local dates from `start`.
pub fn daily(
    start: &str,
    time: &str,
    zone_name: &str,
    days: u32,
) -> Result<Vec<DateTime<Utc>>, TimeError> {
    // TODO: for each of `days` local dates from `start`, the instant of `time` in that zone.
    todo!()
}

// -------------------------------------------------------------------------------------------------
// Provided: you do not need to change anything below. It wires the functions above to the grader's
// protocol, one JSON object per line on stdin and one reply per line on stdout:
//
//   {"op":"normalize","input":"2024-03-10T01:30:00-05:00"} -> {"utc":"2024-03-10T06:30:00.000Z","epoch_ms":1710052200000}
//   {"op":"from_epoch_ms","ms":-1}                          -> {"utc":"1969-12-31T23:59:59.999Z"}
//   {"op":"render","utc":"2024-03-10T06:30:00Z","zone":"America/New_York"} -> {"local":"2024-03-10T01:30:00.000-05:00"}
//   {"op":"from_local","local":"2024-03-10T03:30:00","zone":"America/New_York"} -> {"utc":"2024-03-10T07:30:00.000Z"}
//   {"op":"daily","start":"2024-03-08","time":"09:00","zone":"America/New_York","days":3} -> {"utc":["…","…","…"]}
//
// and for an error: {"error":"invalid","detail":"…"}, {"error":"unknown_zone","detail":"Mars/Olympus"},
// {"error":"nonexistent"}, or {"error":"ambiguous","earlier":"…Z","later":"…Z"}.

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Normalize {
        input: String,
    },
    FromEpochMs {
        ms: i64,
    },
    Render {
        utc: String,
        zone: String,
    },
    FromLocal {
        local: String,
        zone: String,
    },
    Daily {
        start: String,
        time: String,
        zone: String,
        days: u32,
    },
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Normalized { utc: String, epoch_ms: i64 },
    Utc { utc: String },
    Local { local: String },
    Schedule { utc: Vec<String> },
    Error(ErrorReply),
}

/// A [`TimeError`] on the wire.
#[derive(Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
enum ErrorReply {
    Invalid { detail: String },
    UnknownZone { detail: String },
    Nonexistent,
    Ambiguous { earlier: String, later: String },
}

impl From<TimeError> for Reply {
    fn from(error: TimeError) -> Reply {
        Reply::Error(match error {
            TimeError::Invalid(detail) => ErrorReply::Invalid { detail },
            TimeError::UnknownZone(detail) => ErrorReply::UnknownZone { detail },
            TimeError::Nonexistent => ErrorReply::Nonexistent,
            TimeError::Ambiguous { earlier, later } => ErrorReply::Ambiguous {
                earlier: format_utc(earlier),
                later: format_utc(later),
            },
        })
    }
}

fn answer(request: Request) -> Result<Reply, TimeError> {
    Ok(match request {
        Request::Normalize { input } => {
            let instant = normalize(&input)?;
            Reply::Normalized {
                utc: format_utc(instant),
                epoch_ms: epoch_ms(instant),
            }
        }
        Request::FromEpochMs { ms } => Reply::Utc {
            utc: format_utc(from_epoch_ms(ms)?),
        },
        Request::Render { utc, zone } => Reply::Local {
            local: render(normalize(&utc)?, &zone)?,
        },
        Request::FromLocal { local, zone } => Reply::Utc {
            utc: format_utc(from_local(&local, &zone)?),
        },
        Request::Daily {
            start,
            time,
            zone,
            days,
        } => Reply::Schedule {
            utc: daily(&start, &time, &zone, days)?
                .into_iter()
                .map(format_utc)
                .collect(),
        },
    })
}

fn main() {
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        answer(request).unwrap_or_else(Reply::from)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        format_utc(normalize(text).unwrap())
    }

    // An offset is applied to reach UTC, and the output has exactly three fraction digits.
    #[test]
    fn normalizes_to_utc() {
        assert_eq!(utc("2024-03-10T01:30:00-05:00"), "2024-03-10T06:30:00.000Z");
        assert_eq!(
            utc("2024-03-10T12:00:00.123456+05:45"),
            "2024-03-10T06:15:00.123Z"
        );
        assert_eq!(epoch_ms(normalize("1970-01-01T00:00:01Z").unwrap()), 1000);
    }

    // A timestamp without an offset is not an instant.
    #[test]
    fn refuses_a_missing_offset() {
        assert!(matches!(
            normalize("2024-03-10T01:30:00"),
            Err(TimeError::Invalid(_))
        ));
        assert!(matches!(
            normalize("2023-02-29T00:00:00Z"),
            Err(TimeError::Invalid(_))
        ));
    }

    // Before 1970 the milliseconds are negative, and -1 is the last millisecond of 1969.
    #[test]
    fn epoch_before_1970() {
        assert_eq!(
            format_utc(from_epoch_ms(-1).unwrap()),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            epoch_ms(normalize("1969-12-31T23:59:59.9999Z").unwrap()),
            -1
        );
    }

    // The offset printed is the one in force at that instant.
    #[test]
    fn renders_with_the_offset_in_force() {
        let winter = normalize("2024-01-15T12:00:00Z").unwrap();
        let summer = normalize("2024-07-15T12:00:00Z").unwrap();
        assert_eq!(
            render(winter, "Europe/Berlin").unwrap(),
            "2024-01-15T13:00:00.000+01:00"
        );
        assert_eq!(
            render(summer, "Europe/Berlin").unwrap(),
            "2024-07-15T14:00:00.000+02:00"
        );
        assert_eq!(
            render(winter, "Europe/London").unwrap(),
            "2024-01-15T12:00:00.000+00:00"
        );
        assert!(matches!(
            render(winter, "Mars/Olympus_Mons"),
            Err(TimeError::UnknownZone(_))
        ));
    }

    // Spring forward skips 02:00-03:00; fall back repeats 01:00-02:00.
    #[test]
    fn gaps_and_overlaps() {
        let ny = "America/New_York";
        assert_eq!(
            from_local("2024-03-10T02:30:00", ny),
            Err(TimeError::Nonexistent)
        );
        assert_eq!(
            format_utc(from_local("2024-03-10T03:30:00", ny).unwrap()),
            "2024-03-10T07:30:00.000Z"
        );
        let Err(TimeError::Ambiguous { earlier, later }) = from_local("2024-11-03T01:30:00", ny)
        else {
            panic!("01:30 happens twice on 3 November 2024 in New York");
        };
        assert_eq!(format_utc(earlier), "2024-11-03T05:30:00.000Z");
        assert_eq!(format_utc(later), "2024-11-03T06:30:00.000Z");
    }

    // 09:00 every day stays 09:00 local: in UTC it moves by an hour across the change.
    #[test]
    fn daily_keeps_local_time() {
        let days: Vec<String> = daily("2024-03-09", "09:00", "America/New_York", 3)
            .unwrap()
            .into_iter()
            .map(format_utc)
            .collect();
        assert_eq!(
            days,
            [
                "2024-03-09T14:00:00.000Z",
                "2024-03-10T13:00:00.000Z",
                "2024-03-11T13:00:00.000Z"
            ]
        );
    }
}
