//! Resident ID number, GB 11643-1999: 17 digits, ISO 7064 MOD 11-2 check, birth date, packing.

use super::normalize::{non_digits, position, Text, ONES};
use super::{CheckOutcome, IdError, IdType, LEN};

/// Check character for `Σ a_i·W_i mod 11`, `W_i = 2^(18-i) mod 11`.
const CHECK: &[u8; 11] = b"10X98765432";

/// Weights of the first 17 characters, `W_i = 2^(18-i) mod 11`.
const WEIGHTS: [u32; LEN - 1] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Length of a first-generation resident ID (region, YYMMDD, sequence; no check character).
pub(super) const LEGACY_LEN: usize = 15;

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
pub(super) fn has_shape(text: &Text) -> bool {
    non_digits(text.word(0)) | non_digits(text.word(1)) == 0
        && text.byte(16).is_ascii_digit()
        && matches!(text.byte(LEN - 1), b'0'..=b'9' | b'X')
}

/// Validates the digits, the check character's alphabet and the birth date, and computes the
/// check character and the packed value; the error path rescans.
///
/// Characters 1–16 are handled eight at a time (SWAR): with the digit values of eight characters
/// in one word, first character in the low byte, `pairs` and `combine` fold neighbours together
/// in three multiplications. In base 10 that yields the 8-digit number; in base 2 it yields
/// `Σ d_k·2^(7-k)`, from which the check sum follows, since `W_i = 2^(18-i) mod 11` makes
/// `Σ a_i·W_i ≡ 2·Σ a_i·2^(17-i) (mod 11)`.
#[inline(always)]
pub(super) fn scan(text: &Text) -> Result<Scan, IdError> {
    let (first, second) = (text.word(0), text.word(1));
    let d17 = text.byte(16).wrapping_sub(b'0');
    let last = text.byte(LEN - 1);
    let last_value = match last {
        b'0'..=b'9' => last - b'0',
        b'X' => 10,
        _ => u8::MAX,
    };
    if non_digits(first) | non_digits(second) != 0 || d17 > 9 || last_value > 10 {
        return Err(error(text));
    }
    let (first, second) = (
        first - ONES * u64::from(b'0'),
        second - ONES * u64::from(b'0'),
    );
    let (first10, second10) = (pairs(first, 10), pairs(second, 10));

    // Positions 7–14: the 16-bit lanes of the pairs hold two digits each.
    let lane = |word: u64, k: u32| ((word >> (16 * k)) & 0xFF) as u32;
    let (year, month, day) = (
        lane(first10, 3) * 100 + lane(second10, 0),
        lane(second10, 1),
        lane(second10, 2),
    );
    if !is_valid_date(year, month, day) {
        return Err(IdError::BadBirthDate {
            date: year * 10_000 + month * 100 + day,
        });
    }

    let body = (combine(first10, 100, 10_000) * 100_000_000 + combine(second10, 100, 10_000)) * 10
        + u64::from(d17);
    let binary = (combine(pairs(first, 2), 4, 16) * 256 + combine(pairs(second, 2), 4, 16)) * 2
        + u64::from(d17);
    let expected = CHECK[(binary * 2 % 11) as usize];
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

/// Eight digit values (≤ 9, first in the low byte) → four 16-bit lanes `base·d_2k + d_2k+1`.
/// No lane overflows for base ≤ 10.
#[inline(always)]
const fn pairs(digits: u64, base: u64) -> u64 {
    (digits * base + (digits >> 8)) & 0x00FF_00FF_00FF_00FF
}

/// Four pair lanes → the eight digits' value in base `base`, given `base2 = base^2` and
/// `base4 = base^4` (the lanes fold as pairs of pairs, then pairs of quads).
#[inline(always)]
const fn combine(pairs: u64, base2: u64, base4: u64) -> u64 {
    let quads = (pairs * base2 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    (quads * base4 + (quads >> 32)) & 0xFFFF_FFFF
}

/// The first fault of a text that [`scan`] refused before the date.
#[cold]
fn error(text: &Text) -> IdError {
    match (0..LEN - 1).find(|&i| !text.byte(i).is_ascii_digit()) {
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

/// Upgrades a 15-digit first-generation resident ID to its 18-character form (GB 11643-1999):
/// `19` before the two-digit year, then the check character. The first generation numbered only
/// people born in the 1900s, so the date must be a real date of that century. `digits` are ASCII
/// digits.
pub(super) fn upgrade(digits: &[u8; LEGACY_LEN]) -> Result<[u8; LEN], IdError> {
    let mut out = [0u8; LEN];
    out[..6].copy_from_slice(&digits[..6]);
    out[6..8].copy_from_slice(b"19");
    out[8..LEN - 1].copy_from_slice(&digits[6..]);
    let value = |i: usize| u32::from(out[i] - b'0');
    let (year, month, day) = (
        1900 + value(8) * 10 + value(9),
        value(10) * 10 + value(11),
        value(12) * 10 + value(13),
    );
    if !is_valid_date(year, month, day) {
        return Err(IdError::BadLegacyBirthDate {
            date: year * 10_000 + month * 100 + day,
        });
    }
    let sum: u32 = (0..LEN - 1).map(|i| value(i) * WEIGHTS[i]).sum();
    out[LEN - 1] = CHECK[(sum % 11) as usize];
    Ok(out)
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
pub(super) fn is_valid_date(year: u32, month: u32, day: u32) -> bool {
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
