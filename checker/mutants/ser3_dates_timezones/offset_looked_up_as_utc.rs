//! mutant: converts a local time with the offset found by reading that local time as if it were UTC
//! expect: offset in force at that local time
//!
//! Right all year, except for the hours around each DST change, and it never notices a gap or an overlap.

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
    DateTime::parse_from_rfc3339(input)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| TimeError::Invalid(format!("not an RFC 3339 timestamp with an offset: {e}")))
}

/// The instant `ms` milliseconds after the Unix epoch (before it, when negative).
pub fn from_epoch_ms(ms: i64) -> Result<DateTime<Utc>, TimeError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| TimeError::Invalid(format!("{ms} ms is out of the supported range")))
}

/// Milliseconds since the Unix epoch, floored.
pub fn epoch_ms(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format_utc(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn zone(name: &str) -> Result<Tz, TimeError> {
    name.parse::<Tz>()
        .map_err(|_| TimeError::UnknownZone(name.to_string()))
}

/// The local time of `instant` in `zone_name`, with the offset in force then.
pub fn render(instant: DateTime<Utc>, zone_name: &str) -> Result<String, TimeError> {
    let tz = zone(zone_name)?;
    Ok(instant
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string())
}

/// Places a wall-clock reading in a zone.
fn place(tz: Tz, local: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            Err(TimeError::Ambiguous {
                earlier: a.min(b),
                later: a.max(b),
            })
        }
        LocalResult::None => Err(TimeError::Nonexistent),
    }
}

/// The UTC instant of a wall-clock time in a zone.
pub fn from_local(local: &str, zone_name: &str) -> Result<DateTime<Utc>, TimeError> {
    let tz = zone(zone_name)?;
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|e| TimeError::Invalid(format!("not a local time YYYY-MM-DDTHH:MM:SS: {e}")))?;
    // The zone's offset "at that time", then subtract it.
    let offset = chrono::Offset::fix(&tz.offset_from_utc_datetime(&naive));
    let seconds = i64::from(offset.local_minus_utc());
    Ok((naive - chrono::TimeDelta::seconds(seconds)).and_utc())
}

/// The instants of `time` in `zone_name` on `days` consecutive local dates from `start`.
pub fn daily(
    start: &str,
    time: &str,
    zone_name: &str,
    days: u32,
) -> Result<Vec<DateTime<Utc>>, TimeError> {
    let tz = zone(zone_name)?;
    let start = NaiveDate::parse_from_str(start, "%Y-%m-%d")
        .map_err(|e| TimeError::Invalid(format!("not a date YYYY-MM-DD: {e}")))?;
    let time = NaiveTime::parse_from_str(time, "%H:%M")
        .map_err(|e| TimeError::Invalid(format!("not a time HH:MM: {e}")))?;
    (0..days)
        .map(|day| {
            let date = start
                .checked_add_days(Days::new(u64::from(day)))
                .ok_or_else(|| TimeError::Invalid("date out of range".to_string()))?;
            place(tz, date.and_time(time))
        })
        .collect()
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
