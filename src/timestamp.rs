//! Instants as milliseconds since the Unix epoch, read and written the way list data and the API
//! use them: a bare date means midnight in China Standard Time (UTC+8).

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};

/// China Standard Time, the offset of every date in list data and of every time we print.
const CST_SECONDS: i32 = 8 * 3600;

/// An instant in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")]
pub struct TimestampError(pub String);

fn cst() -> FixedOffset {
    FixedOffset::east_opt(CST_SECONDS).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

impl Timestamp {
    /// The current instant (the one place the service reads the clock).
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// The [`Display`](fmt::Display) text, shared. A busy server prints the same millisecond for
    /// many decisions, so each thread keeps the last instant it printed and hands out that text.
    pub fn printed(self) -> Arc<str> {
        thread_local! {
            static LAST: RefCell<Option<(Timestamp, Arc<str>)>> = const { RefCell::new(None) };
            static PRINTER: RefCell<Printer> = const { RefCell::new(Printer::new()) };
        }
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some((at, text)) if *at == self => Arc::clone(text),
                _ => {
                    let mut text = Vec::with_capacity(PRINTED_LEN);
                    PRINTER.with(|printer| printer.borrow_mut().write(self, &mut text));
                    // Digits and punctuation, or chrono's text: UTF-8 either way.
                    let text: Arc<str> = String::from_utf8_lossy(&text).into();
                    *last = Some((self, Arc::clone(&text)));
                    text
                }
            }
        })
    }

    /// The display text of an instant of the years 0 to 9999, written digit by digit; `None`
    /// for any other, which chrono prints.
    fn digits(self) -> Option<[u8; PRINTED_LEN]> {
        let t = self.to_cst();
        let year = u32::try_from(t.year()).ok().filter(|&year| year <= 9999)?;
        let mut text = *b"0000-00-00T00:00:00.000+08:00";
        for (range, value) in [
            (0..4, year),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, t.second()),
            (MILLIS, t.timestamp_subsec_millis()),
        ] {
            write_digits(&mut text[range], value);
        }
        Some(text)
    }

    /// Parses `YYYY-MM-DD` (midnight UTC+8) or an RFC 3339 date-time.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let error = || TimestampError(text.to_owned());
        if text.len() == 10 {
            let date = parse_date(text).ok_or_else(error)?;
            let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(error)?;
            let local = cst()
                .from_local_datetime(&midnight)
                .single()
                .ok_or_else(error)?;
            return Ok(Timestamp(local.timestamp_millis()));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|_| error())
    }

    fn to_cst(self) -> DateTime<FixedOffset> {
        let utc = DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default();
        utc.with_timezone(&cst())
    }

    /// The instant in UTC+8 written with a chrono format string (`%Y-%m-%d`, `%H`).
    pub fn format_cst(self, format: &str) -> String {
        self.to_cst().format(format).to_string()
    }

    /// Whether this is midnight UTC+8, i.e. whether it reads back as a bare date.
    pub fn is_cst_midnight(self) -> bool {
        (self.0 + i64::from(CST_SECONDS) * 1000).rem_euclid(86_400_000) == 0
    }

    /// The date form if the instant is a CST midnight, else the RFC 3339 form.
    pub fn to_date_or_datetime(self) -> String {
        if self.is_cst_midnight() {
            self.format_cst("%Y-%m-%d")
        } else {
            self.to_string()
        }
    }

    pub fn seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The same wall-clock time (UTC+8) `months` calendar months earlier; a day the earlier
    /// month lacks becomes its last day (31 March less one month is 28 or 29 February).
    pub fn minus_months(self, months: u16) -> Timestamp {
        self.to_cst()
            .checked_sub_months(chrono::Months::new(u32::from(months)))
            .map_or(Timestamp(i64::MIN), |t| Timestamp(t.timestamp_millis()))
    }

    /// The same time of day `days` working days earlier, counting Monday–Friday in UTC+8
    /// (public holidays and working weekends are not known). Steps back a day at a time, so a
    /// Monday minus one working day is the Friday before.
    pub fn minus_working_days(self, days: u16) -> Timestamp {
        const DAY_MS: i64 = 86_400_000;
        let mut at = self;
        let mut left = days;
        while left > 0 {
            at = Timestamp(at.0 - DAY_MS);
            if at.to_cst().weekday().number_from_monday() <= 5 {
                left -= 1;
            }
        }
        at
    }
}

/// `YYYY-MM-DD` without chrono's format machinery (bulk loads parse millions of dates).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC+8 with milliseconds, e.g. `2026-11-22T10:00:00.123+08:00`. Every decision
    /// prints one, so the digits are written directly rather than through chrono's formatter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digits() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.to_cst().to_rfc3339_opts(SecondsFormat::Millis, false)),
        }
    }
}

/// The length of a printed instant of the years 0 to 9999, and where its milliseconds are.
const PRINTED_LEN: usize = 29;
const MILLIS: std::ops::Range<usize> = 20..23;

/// Writes `value`'s last decimal digits into `slot`, filling it.
fn write_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Prints instants one after another, keeping the text of the last one's second: instants
/// printed in a row (a server's answers, a register's records) mostly share it, and only their
/// milliseconds are written again.
#[derive(Debug, Default)]
pub struct Printer {
    second: Option<(i64, [u8; PRINTED_LEN])>,
}

impl Printer {
    pub const fn new() -> Printer {
        Printer { second: None }
    }

    /// Appends `at`'s display text to `out`.
    pub fn write(&mut self, at: Timestamp, out: &mut Vec<u8>) {
        let second = at.0.div_euclid(1000);
        let printed = match &mut self.second {
            Some((last, printed)) if *last == second => printed,
            slot => match Timestamp(second * 1000).digits() {
                Some(printed) => &mut slot.insert((second, printed)).1,
                // Beyond the year 9999 the text is longer: written whole, and not kept.
                None => return out.extend_from_slice(at.to_string().as_bytes()),
            },
        };
        write_digits(&mut printed[MILLIS], at.0.rem_euclid(1000) as u32);
        out.extend_from_slice(printed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_days_skip_saturday_and_sunday() {
        let at = |text: &str| Timestamp::parse(text).unwrap();
        // 2026-11-30 is a Monday.
        let monday = at("2026-11-30T10:00:00+08:00");
        assert_eq!(monday.minus_working_days(0), monday);
        assert_eq!(
            monday.minus_working_days(1),
            at("2026-11-27T10:00:00+08:00")
        );
        assert_eq!(
            monday.minus_working_days(5),
            at("2026-11-23T10:00:00+08:00")
        );
        let sunday = at("2026-11-29T23:00:00+08:00");
        assert_eq!(
            sunday.minus_working_days(1),
            at("2026-11-27T23:00:00+08:00")
        );
    }

    #[test]
    fn printed_text_is_the_display_text_of_each_instant() {
        for millis in [1_795_000_000_000, 1_795_000_000_000, 1_795_000_000_001, 0] {
            let at = Timestamp(millis);
            assert_eq!(&*at.printed(), at.to_string());
        }
    }

    /// The printer writes each instant's display text: within a second, across seconds, hours
    /// and a day (UTC+8), and past the year 9999, which a UUIDv7 can reach.
    #[test]
    fn the_printer_writes_each_instants_display_text() {
        let mut printer = Printer::new();
        let midnight = Timestamp::parse("2026-03-01").unwrap().0;
        // 10000-01-01T00:00:00+08:00
        let year_10000 = 253_402_272_000_000;
        let instants = (0..4000)
            .map(|n| midnight - 3_600_000 - 14_000 + n * 7)
            .chain((0..4000).map(|n| midnight - 14_000 + n * 7))
            .chain([
                0,
                999,
                1000,
                year_10000 - 1,
                year_10000,
                year_10000 + 123,
                5,
            ]);
        for at in instants.map(Timestamp) {
            let mut json = Vec::new();
            printer.write(at, &mut json);
            assert_eq!(String::from_utf8(json).unwrap(), at.to_string());
        }
    }

    #[test]
    fn a_date_is_midnight_in_china_standard_time() {
        let date = Timestamp::parse("2026-03-01").unwrap();
        let same = Timestamp::parse("2026-03-01T00:00:00+08:00").unwrap();
        let utc = Timestamp::parse("2026-02-28T16:00:00Z").unwrap();
        assert_eq!(date, same);
        assert_eq!(date, utc);
        assert!(date.is_cst_midnight());
        assert_eq!(date.to_date_or_datetime(), "2026-03-01");
    }

    #[test]
    fn the_fast_printer_agrees_with_chrono() {
        // Around the epoch, a leap day, the turn of a year in UTC+8, far past and future.
        for text in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999+08:00",
            "2026-12-31T16:00:00.001Z",
            "0001-01-01T00:00:00+08:00",
            "9999-12-31T23:59:59.999+08:00",
            "2026-11-22T10:00:00.120+08:00",
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(
                t.to_string(),
                t.to_cst().to_rfc3339_opts(SecondsFormat::Millis, false),
                "{text}"
            );
        }
    }

    #[test]
    fn prints_rfc3339_with_milliseconds_at_plus_eight() {
        let t = Timestamp::parse("2026-11-22T02:00:00.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T10:00:00.123+08:00");
        assert_eq!(t.to_date_or_datetime(), "2026-11-22T10:00:00.123+08:00");
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "2026-02-30",
            "2026/03/01",
            "yesterday",
            "2026-03-01T25:00:00+08:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
