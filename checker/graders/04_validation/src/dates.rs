//! Calendar arithmetic the graders need to build and judge dates: proleptic Gregorian dates to and from days
//! since 1970-01-01 (Howard Hinnant's algorithms), and the leap-year rule.

use std::fmt;

/// A calendar date. The derived order is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

impl Date {
    /// A date; the caller makes sure it exists.
    pub fn new(year: i64, month: u32, day: u32) -> Self {
        Date { year, month, day }
    }

    /// Parses `YYYY-MM-DD` if it is a real date.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| {
            if b[r.clone()].iter().all(u8::is_ascii_digit) {
                s[r].parse::<u32>().ok()
            } else {
                None
            }
        };
        let date = Date::new(i64::from(digits(0..4)?), digits(5..7)?, digits(8..10)?);
        date.exists().then_some(date)
    }

    /// Whether the month and the day exist in that year.
    pub fn exists(self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        Date::new(yoe + era * 400 + i64::from(month <= 2), month, day)
    }

    /// The date `n` days later (or earlier, for a negative `n`).
    pub fn plus_days(self, n: i64) -> Date {
        Date::from_days(self.days() + n)
    }

    /// The same month and day `years` later, or March 1 when that year has no February 29.
    pub fn plus_years(self, years: i64) -> Date {
        let moved = Date::new(self.year + years, self.month, self.day);
        if moved.exists() {
            moved
        } else {
            Date::new(moved.year, 3, 1)
        }
    }

    /// The unix time in milliseconds of `ms_into_day` after midnight UTC on this date (from 1970 on).
    pub fn unix_ms(self, ms_into_day: u64) -> u64 {
        self.days() as u64 * DAY_MS + ms_into_day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` has a February 29.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Days and dates convert both ways, across leap days and centuries.
    #[test]
    fn days_round_trip() {
        assert_eq!(Date::new(1970, 1, 1).days(), 0);
        assert_eq!(Date::new(2000, 3, 1).days(), 11_017);
        for days in -200_000..200_000 {
            let date = Date::from_days(days);
            assert!(date.exists(), "{date}");
            assert_eq!(date.days(), days);
        }
        assert_eq!(Date::parse("1900-02-29"), None);
        assert_eq!(Date::parse("2000-02-29"), Some(Date::new(2000, 2, 29)));
        assert_eq!(Date::new(2004, 2, 29).plus_years(1), Date::new(2005, 3, 1));
    }
}
