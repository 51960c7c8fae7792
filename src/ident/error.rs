//! Why an identifier was refused. Every variant is `Copy` so that refusing costs no allocation.

use std::fmt;

use super::IdType;

/// What is wrong with an identifier's text. Positions are 1-based, counted in characters of the
/// normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing but whitespace.
    #[error("identifier is empty")]
    Empty,
    /// Not 18 characters after trimming (nor 15 digits, the first-generation form).
    #[error("identifier length is {len}, expected 18 characters")]
    WrongLength {
        /// Number of characters found.
        len: usize,
    },
    /// Not the length of the identifier type the caller named, or that the text was read as
    /// (an organisation code, a registration number).
    #[error("identifier length is {len}, expected {}", length_hint(*.id_type))]
    WrongLengthOf {
        /// Number of characters found.
        len: usize,
        /// The type the text was read as.
        id_type: IdType,
    },
    /// A character that the identifier type never uses.
    #[error(
        "invalid character `{}` at position {position}: {}",
        .ch.escape_debug(),
        alphabet_hint(*.id_type)
    )]
    InvalidChar {
        /// 1-based position.
        position: u8,
        /// The character found (after normalisation).
        ch: char,
        /// The type the text was read as.
        id_type: IdType,
    },
    /// Something other than a digit where the standard requires one (USCC positions 3–8,
    /// resident ID positions 1–17).
    #[error(
        "character `{}` at position {position} is not a digit: {}",
        .ch.escape_debug(),
        digit_hint(*.id_type)
    )]
    NotDigit {
        /// 1-based position.
        position: u8,
        /// The character found (after normalisation).
        ch: char,
        /// The type the text was read as.
        id_type: IdType,
    },
    /// Positions 7–14 of a resident ID are not a date in 1900–2099.
    #[error("invalid birth date `{date:08}` at positions 7-14 of the resident id: {}", DateProblem(*.date))]
    BadBirthDate {
        /// The eight digits as found, read as the number YYYYMMDD.
        date: u32,
    },
    /// Positions 7–12 of a 15-digit first-generation resident ID are no date (read as 19YYMMDD).
    #[error("invalid birth date `{:06}` at positions 7-12 of the 15-digit resident id: {}", .date % 1_000_000, DateProblem(*.date))]
    BadLegacyBirthDate {
        /// The date as upgraded, read as the number 19YYMMDD.
        date: u32,
    },
}

/// Error of `IdType::from_str`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown identifier type `{0}`, expected `uscc`, `resident_id`, `org_code` or `registration_number`"
)]
pub struct UnknownIdType(String);

impl UnknownIdType {
    pub(super) fn new(input: &str) -> Self {
        // Echo at most a short prefix: the input is untrusted and may be long.
        Self(input.chars().take(32).collect())
    }
}

fn alphabet_hint(id_type: IdType) -> &'static str {
    match id_type {
        IdType::Uscc => "a unified social credit code uses 0-9 and A-Z except I, O, S, V, Z",
        IdType::ResidentId => "the check character of a resident id is a digit or X",
        IdType::OrgCode => {
            "an organisation code is eight characters 0-9 or A-Z and a check character, a digit or X"
        }
        IdType::RegistrationNumber => "a registration number is 15 digits",
    }
}

fn digit_hint(id_type: IdType) -> &'static str {
    match id_type {
        IdType::Uscc => "positions 3-8 of a unified social credit code are digits",
        IdType::ResidentId => "positions 1-17 of a resident id are digits",
        IdType::OrgCode | IdType::RegistrationNumber => alphabet_hint(id_type),
    }
}

fn length_hint(id_type: IdType) -> &'static str {
    match id_type {
        IdType::Uscc | IdType::ResidentId => "18 characters",
        IdType::OrgCode => "9 characters for an organisation code (10 with the hyphen, XXXXXXXX-X)",
        IdType::RegistrationNumber => "15 digits for a registration number",
    }
}

/// Says which part of an invalid YYYYMMDD is wrong.
struct DateProblem(u32);

impl fmt::Display for DateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = (self.0 / 10_000, self.0 / 100 % 100, self.0 % 100);
        if !(super::resident_id::MIN_YEAR..=super::resident_id::MAX_YEAR).contains(&year) {
            write!(f, "year {year:04} is outside 1900-2099")
        } else if !(1..=12).contains(&month) {
            write!(f, "month {month:02} does not exist")
        } else {
            let days = super::resident_id::days_in_month(year, month);
            write!(
                f,
                "{year:04}-{month:02} has no day {day:02}, it has {days} days"
            )
        }
    }
}
