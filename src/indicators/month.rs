//! A calendar month in UTC+8, the period of the monthly indicators.

use std::fmt;

use crate::timestamp::Timestamp;

/// A month (`YYYY-MM`), from its first instant (midnight of the 1st, UTC+8) to the next
/// month's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    /// 1–12.
    month: u32,
}

/// Why a month was refused, in words for the field `month`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonthError {
    #[error("`{0}` is not a month (YYYY-MM, for example 2026-11)")]
    Malformed(String),
    #[error("`{0}` has not begun yet: ask for the current month or one before it")]
    Future(String),
}

impl Month {
    /// Parses `YYYY-MM` (year 2000 to 2999), refusing a month that begins after `now`.
    pub fn parse(text: &str, now: Timestamp) -> Result<Month, MonthError> {
        let malformed = || MonthError::Malformed(text.to_owned());
        let bytes = text.as_bytes();
        if bytes.len() != 7
            || bytes[4] != b'-'
            || !(bytes[..4].iter().chain(&bytes[5..])).all(u8::is_ascii_digit)
        {
            return Err(malformed());
        }
        let year: i32 = text[..4].parse().map_err(|_| malformed())?;
        let month: u32 = text[5..].parse().map_err(|_| malformed())?;
        if !(2000..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(malformed());
        }
        let parsed = Month { year, month };
        if parsed.start() > now {
            return Err(MonthError::Future(text.to_owned()));
        }
        Ok(parsed)
    }

    /// The month `n` months before this one.
    pub fn minus(self, n: u32) -> Month {
        let index = self.year * 12 + (self.month as i32 - 1) - n as i32;
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        let index = self.year * 12 + self.month as i32;
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// Its first instant: midnight of the 1st, UTC+8.
    pub fn start(self) -> Timestamp {
        Timestamp::parse(&format!("{self}-01"))
            .unwrap_or_else(|_| unreachable!("the 1st of a month of years 2000 to 3000 is a date"))
    }

    /// The first instant after it: the next month's start.
    pub fn end(self) -> Timestamp {
        self.next().start()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_parsed_bounded_and_stepped_in_utc_plus_8() {
        let now = Timestamp::parse("2026-12-01T09:00:00+08:00").unwrap();
        let november = Month::parse("2026-11", now).unwrap();
        assert_eq!(november.to_string(), "2026-11");
        assert_eq!(
            november.start(),
            Timestamp::parse("2026-11-01T00:00:00+08:00").unwrap()
        );
        assert_eq!(
            november.end(),
            Timestamp::parse("2026-12-01T00:00:00+08:00").unwrap()
        );
        assert_eq!(november.minus(11).to_string(), "2025-12");
        assert_eq!(
            Month::parse("2026-01", now).unwrap().minus(1).to_string(),
            "2025-12"
        );
        assert_eq!(
            Month::parse("2026-12", now).unwrap().next().to_string(),
            "2027-01"
        );
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "202611",
            "2026-1a",
            "+026-11",
            "1999-12",
            "２026-11",
            "",
        ] {
            assert_eq!(
                Month::parse(bad, now),
                Err(MonthError::Malformed(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            Month::parse("2027-01", now),
            Err(MonthError::Future("2027-01".into()))
        );
    }
}
