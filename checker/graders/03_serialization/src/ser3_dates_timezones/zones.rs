//! Zones, their offsets and their transitions, read from the IANA database that chrono-tz compiles in.
//!
//! The grader asks chrono-tz one question only: the UTC offset of a zone at an instant. Transitions are found
//! by scanning day by day and bisecting to the second; gaps, overlaps and the expected answers are computed
//! from those offsets with the grader's own arithmetic.

use backlings_grade::Rng;
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::civil::{DAY_MS, days_from_civil};

/// Zones with daylight saving time (both hemispheres, 30-minute and 1-hour shifts, a midnight transition).
pub const DST_ZONES: &[&str] = &[
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Los_Angeles",
    "Europe/Athens",
];

/// Zones without DST now, at odd offsets.
pub const FIXED_ZONES: &[&str] = &[
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "UTC",
    "Pacific/Kiritimati",
    "America/Caracas",
];

/// A zone by name (the name is from the lists above).
pub fn zone(name: &str) -> Tz {
    name.parse().expect("the grader's zones are IANA names")
}

/// The UTC offset of `tz` at the instant `ms`, in seconds.
pub fn offset_at(tz: Tz, ms: i64) -> i32 {
    let instant =
        DateTime::from_timestamp_millis(ms).expect("instants the grader uses are in range");
    tz.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// A change of offset: from the instant `at_ms` on, `after` instead of `before` (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub at_ms: i64,
    pub before: i32,
    pub after: i32,
}

impl Transition {
    /// Whether clocks jump forward (a gap of local times) rather than back (an overlap).
    pub fn is_gap(&self) -> bool {
        self.after > self.before
    }

    /// The first local time (as "local milliseconds") the transition skips or repeats.
    pub fn local_start(&self) -> i64 {
        self.at_ms + i64::from(self.before.min(self.after)) * 1000
    }

    /// The local time (as "local milliseconds") where the skipped or repeated range ends (excluded).
    pub fn local_end(&self) -> i64 {
        self.at_ms + i64::from(self.before.max(self.after)) * 1000
    }
}

/// Every transition of `tz` during `year` (UTC).
pub fn transitions(tz: Tz, year: i64) -> Vec<Transition> {
    let start = days_from_civil(year, 1, 1);
    let end = days_from_civil(year + 1, 1, 1);
    let mut found = Vec::new();
    let mut previous = offset_at(tz, start * DAY_MS);
    for day in start..end {
        let next = offset_at(tz, (day + 1) * DAY_MS);
        if next != previous {
            // Bisect to the second: `low` has the old offset, `high` the new one.
            let (mut low, mut high) = (day * DAY_MS / 1000, (day + 1) * DAY_MS / 1000);
            while high - low > 1 {
                let middle = (low + high) / 2;
                if offset_at(tz, middle * 1000) == previous {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            found.push(Transition {
                at_ms: high * 1000,
                before: previous,
                after: next,
            });
        }
        previous = next;
    }
    found
}

/// A DST zone and one of its transitions in a seeded year, of the kind asked for (gap or overlap).
pub fn pick_transition(rng: &mut Rng, gap: bool) -> (&'static str, Transition) {
    loop {
        let name = *rng.pick(DST_ZONES);
        let year = rng.range(2005, 2035) as i64;
        let candidates: Vec<Transition> = transitions(zone(name), year)
            .into_iter()
            .filter(|t| t.is_gap() == gap)
            .collect();
        if !candidates.is_empty() {
            return (name, *rng.pick(&candidates));
        }
    }
}

/// How many instants a local time ("local milliseconds") maps to in `tz`: the instants `local - offset`
/// whose offset is that offset, for every offset the zone uses near that time.
pub fn instants_of_local(tz: Tz, local_ms: i64) -> Vec<i64> {
    let mut offsets: Vec<i32> = [-DAY_MS, 0, DAY_MS]
        .iter()
        .map(|delta| offset_at(tz, local_ms + delta))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut instants: Vec<i64> = offsets
        .into_iter()
        .map(|offset| local_ms - i64::from(offset) * 1000)
        .filter(|&instant| i64::from(offset_at(tz, instant)) * 1000 == local_ms - instant)
        .collect();
    instants.sort_unstable();
    instants
}
