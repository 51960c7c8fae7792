//! Resident ID number, GB 11643-1999: 17 digits, ISO 7064 MOD 11-2 check, birth date, packing.

use super::normalize::{position, Text};
use super::{CheckOutcome, IdError, IdType, LEN};

/// `2^(18-i) mod 11` for positions 1–17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for `Σ mod 11`.
const CHECK: &[u8; 11] = b"10X98765432";

/// Check character for its packed value (`X` = 10).
const CHECK_BY_VALUE: &[u8; 11] = b"0123456789X";

/// Birth years accepted (people alive and IDs issued under the 1999 standard).
pub(super) const MIN_YEAR: u32 = 1900;
pub(super) const MAX_YEAR: u32 = 2099;

/// 10^17 · 11: every packed resident ID is below this.
pub(super) const LIMIT: u64 = 10u64.pow(17) * 11;

/// A structurally valid resident ID.
pub(super) struct Scan {
    /// The 17 digits in base 10, then the check character in base 11 (so packed order = text
    /// order).
    pub(super) packed: u64,
    pub(super) check: CheckOutcome,
}

/// True when the text looks like a resident ID: 17 digits, then a digit or `X`.
#[inline(always)]
pub(super) fn has_shape(bytes: &[u8; LEN]) -> bool {
    bytes[..LEN - 1].iter().all(u8::is_ascii_digit) && matches!(bytes[LEN - 1], b'0'..=b'9' | b'X')
}

/// `10^(16-i)`: place values of the 17 digits, so the body is a sum of independent products.
const PLACES: [u64; 17] = {
    let mut places = [1u64; 17];
    let mut i = 16;
    while i > 0 {
        places[i - 1] = places[i] * 10;
        i -= 1;
    }
    places
};

/// Validates the digits, the check character's alphabet and the birth date, and computes the
/// check character and the packed value, in one branch-free pass over the 17 digits; the error
/// path rescans.
#[inline(always)]
pub(super) fn scan(text: &Text) -> Result<Scan, IdError> {
    let mut digits = [0u8; LEN - 1];
    let mut all_digits = true;
    for (d, &b) in digits.iter_mut().zip(&text.bytes) {
        *d = b.wrapping_sub(b'0');
        all_digits &= *d < 10;
    }
    let last = text.bytes[LEN - 1];
    let last_value = match last {
        b'0'..=b'9' if all_digits => last - b'0',
        b'X' if all_digits => 10,
        _ => return Err(error(text)),
    };
    let body: u64 = digits
        .iter()
        .zip(PLACES)
        .map(|(&d, p)| u64::from(d) * p)
        .sum();
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    // Positions 7–14.
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d))
    };
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    if !is_valid_date(year, month, day) {
        return Err(IdError::BadBirthDate {
            date: year * 10_000 + month * 100 + day,
        });
    }
    let expected = CHECK[(sum % 11) as usize];
    let check = if last == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch {
            expected: char::from(expected),
        }
    };
    Ok(Scan {
        packed: body * 11 + u64::from(last_value),
        check,
    })
}

/// The first non-digit of a text that [`scan`] refused before the date.
#[cold]
fn error(text: &Text) -> IdError {
    match text.bytes[..LEN - 1]
        .iter()
        .position(|b| !b.is_ascii_digit())
    {
        Some(i) => IdError::NotDigit {
            position: position(i),
            ch: text.char_at(i),
            id_type: IdType::ResidentId,
        },
        None => IdError::InvalidChar {
            position: position(LEN - 1),
            ch: text.char_at(LEN - 1),
            id_type: IdType::ResidentId,
        },
    }
}

/// Unpacks a value below [`LIMIT`] into the text.
pub(super) fn unpack(packed: u64, out: &mut [u8; LEN]) {
    out[LEN - 1] = CHECK_BY_VALUE[(packed % 11) as usize];
    let mut body = packed / 11;
    for slot in out[..LEN - 1].iter_mut().rev() {
        *slot = b'0' + (body % 10) as u8;
        body /= 10;
    }
}

/// A real calendar date with a year in [`MIN_YEAR`]..=[`MAX_YEAR`].
#[inline(always)]
fn is_valid_date(year: u32, month: u32, day: u32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
}

/// Days in a month of the Gregorian calendar (`month` in 1..=12).
pub(super) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
