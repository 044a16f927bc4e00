//! The proleptic Gregorian calendar in plain integer arithmetic (Howard Hinnant's `days_from_civil`), so
//! that the grader's expected UTC strings and epoch milliseconds do not come from the library the learner
//! uses; and seeded RFC 3339 spellings of an instant.

use backlings_grade::Rng;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days from 1970-01-01 to `year-month-day`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The wall-clock fields of a millisecond count: `YYYY-MM-DDTHH:MM:SS.sss`.
pub fn naive_text(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The contract's UTC form: `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn utc_text(ms: i64) -> String {
    format!("{}Z", naive_text(ms))
}

/// `+HH:MM` / `-HH:MM` for an offset in seconds (a whole number of minutes).
pub fn offset_text(offset_s: i32) -> String {
    let sign = if offset_s < 0 { '-' } else { '+' };
    let minutes = offset_s.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The contract's local form: `YYYY-MM-DDTHH:MM:SS.sss±HH:MM`.
pub fn local_text(ms: i64, offset_s: i32) -> String {
    format!(
        "{}{}",
        naive_text(ms + i64::from(offset_s) * 1000),
        offset_text(offset_s)
    )
}

/// Offsets real places have used, in minutes (half and quarter hours included).
pub const OFFSETS_MIN: &[i32] = &[
    0, 60, 120, 180, 210, 240, 270, 300, 330, 345, 360, 390, 480, 525, 540, 570, 600, 630, 660,
    765, 780, 840, -60, -120, -180, -210, -240, -300, -360, -420, -480, -540, -570, -600, -660,
    -720,
];

/// The epoch milliseconds of a seeded instant between 1600 and 2400.
pub fn instant(rng: &mut Rng) -> i64 {
    let low = days_from_civil(1600, 1, 1) * DAY_MS;
    let high = days_from_civil(2400, 1, 1) * DAY_MS;
    match rng.below(4) {
        // Near the epoch, on both sides of it.
        0 => rng.range(0, 2 * DAY_MS as u64) as i64 - DAY_MS,
        // The recent past and the near future.
        1 => {
            let from = days_from_civil(1990, 1, 1) * DAY_MS;
            from + rng.below(50 * 365 * DAY_MS as u64) as i64
        }
        _ => low + rng.below((high - low) as u64) as i64,
    }
}

/// An RFC 3339 spelling of the instant `ms` (which is first truncated to what the fraction can say): the
/// local fields in a random offset, `Z` for a zero offset half the time, 0 to 9 fraction digits (digits
/// beyond the third are noise the contract truncates). Returns the text and the instant it names.
pub fn rfc3339(rng: &mut Rng, ms: i64) -> (String, i64) {
    let offset_min = *rng.pick(OFFSETS_MIN);
    let digits = rng.below(10) as u32;
    let ms = if digits < 3 {
        let unit = 10_i64.pow(3 - digits);
        ms.div_euclid(unit) * unit
    } else {
        ms
    };
    let local = naive_text(ms + i64::from(offset_min) * 60_000);
    let (whole, fraction) = local.split_at(19);
    let mut text = whole.to_string();
    if digits > 0 {
        text.push('.');
        let exact = &fraction[1..];
        for i in 0..digits as usize {
            match exact.as_bytes().get(i) {
                Some(&b) => text.push(b as char),
                None => text.push((b'0' + rng.below(10) as u8) as char),
            }
        }
    }
    if offset_min == 0 && rng.chance(1, 2) {
        text.push('Z');
    } else {
        text.push_str(&offset_text(offset_min * 60));
    }
    (text, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The calendar agrees with known dates, both ways, across leap rules.
    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(utc_text(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(utc_text(1_710_052_200_000), "2024-03-10T06:30:00.000Z");
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    // A spelling names the instant it says it names.
    #[test]
    fn spellings_round_trip() {
        let mut rng = Rng::new(9);
        for _ in 0..1000 {
            let ms = instant(&mut rng);
            let (text, named) = rfc3339(&mut rng, ms);
            let parsed = chrono::DateTime::parse_from_rfc3339(&text).unwrap();
            assert_eq!(parsed.timestamp_millis(), named, "{text}");
            assert!(named <= ms && ms - named < 1000);
        }
    }
}
