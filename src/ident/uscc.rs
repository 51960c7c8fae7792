//! Unified social credit code, GB 32100-2015: alphabet, mod-31 check, packing, subject kind.

use super::normalize::{position, Text};
use super::{CheckOutcome, IdError, IdType, SubjectKind, LEN};

/// The 31 symbols; a symbol's value is its index. I, O, S, V and Z never occur.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// `3^(i-1) mod 31` for positions 1–17, and 0 for the check character at position 18.
const WEIGHTS: [u32; LEN] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28, 0,
];

/// Marks bytes outside the alphabet in [`VALUE`] (high bit set, so one OR tests all 18).
const NONE: u8 = 0x80;

/// Byte → symbol value, [`NONE`] outside the alphabet.
static VALUE: [u8; 256] = {
    let mut table = [NONE; 256];
    let mut v = 0;
    while v < ALPHABET.len() {
        table[ALPHABET[v] as usize] = v as u8;
        v += 1;
    }
    table
};

/// Symbol value (masked to 5 bits) → symbol, so that indexing needs no bounds check.
static SYMBOL: [u8; 32] = {
    let mut table = [b'0'; 32];
    let mut v = 0;
    while v < ALPHABET.len() {
        table[v] = ALPHABET[v];
        v += 1;
    }
    table
};

/// 31^9: the text is packed as two base-31 halves of nine symbols so that the arithmetic stays
/// in `u64` until the final combination.
const HALF: u64 = 31u64.pow(9);

/// `31^(8-j)`: the weight of the `j`-th symbol of a half. A sum of independent products instead
/// of a Horner chain, whose nine dependent multiplications bound the latency of a parse.
const HALF_POWERS: [u64; 9] = {
    let mut powers = [1u64; 9];
    let mut j = 8;
    while j > 0 {
        powers[j - 1] = powers[j] * 31;
        j -= 1;
    }
    powers
};

/// 31^18: every packed USCC is below this.
pub(super) const LIMIT: u128 = (HALF as u128) * (HALF as u128);

/// A structurally valid USCC.
pub(super) struct Scan {
    /// The 18 symbol values in base 31, most significant first (so packed order = text order).
    pub(super) packed: u128,
    pub(super) check: CheckOutcome,
}

/// Validates the alphabet and the digits of positions 3–8, and computes the check character and
/// the packed value, in one branch-free pass; the error path rescans.
#[inline(always)]
pub(super) fn scan(text: &Text) -> Result<Scan, IdError> {
    scan_values(&text.bytes().map(value)).ok_or_else(|| error(text))
}

/// The symbol value of a byte, with the high bit set outside the alphabet.
#[inline(always)]
pub(super) fn value(byte: u8) -> u8 {
    VALUE[usize::from(byte)]
}

/// True when a symbol value is outside the alphabet.
#[inline(always)]
const fn is_none(value: u8) -> bool {
    value & NONE != 0
}

/// [`scan`] on the symbol values of the 18 characters (see [`value`]): `None` when one is
/// outside the alphabet or positions 3–8 hold other than digits.
#[inline(always)]
pub(super) fn scan_values(values: &[u8; LEN]) -> Option<Scan> {
    let flags = values.iter().fold(0, |flags, &v| flags | v);
    // Positions 3–8 are digits: values below 10.
    let region = values[2..8]
        .iter()
        .fold(0, |all, &v| all | (v + (0x80 - 10)));
    if is_none(flags | region) {
        return None;
    }
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS)
        .map(|(&v, w)| u32::from(v) * w)
        .sum();
    let half = |values: &[u8]| -> u64 {
        values
            .iter()
            .zip(HALF_POWERS)
            .map(|(&v, p)| u64::from(v) * p)
            .sum()
    };
    let (hi, lo) = (half(&values[..9]), half(&values[9..]));
    let expected = (31 - sum % 31) % 31;
    let check = if u32::from(values[LEN - 1]) == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch {
            expected: char::from(SYMBOL[expected as usize & 31]),
        }
    };
    Some(Scan {
        packed: u128::from(hi) * u128::from(HALF) + u128::from(lo),
        check,
    })
}

/// The first thing wrong with a text that [`scan`] refused.
#[cold]
fn error(text: &Text) -> IdError {
    for (i, b) in text.bytes().into_iter().enumerate() {
        let v = VALUE[usize::from(b)];
        if v == NONE {
            return IdError::InvalidChar {
                position: position(i),
                ch: text.char_at(i),
                id_type: IdType::Uscc,
            };
        }
        if (2..8).contains(&i) && v >= 10 {
            return IdError::NotDigit {
                position: position(i),
                ch: text.char_at(i),
                id_type: IdType::Uscc,
            };
        }
    }
    // Not reached (`scan` found a fault); refuse rather than accept.
    IdError::Empty
}

/// Unpacks a value below [`LIMIT`] into the text.
pub(super) fn unpack(packed: u128, out: &mut [u8; LEN]) {
    let halves = [
        (packed / u128::from(HALF)) as u64,
        (packed % u128::from(HALF)) as u64,
    ];
    for (chunk, mut half) in out.chunks_exact_mut(9).zip(halves) {
        for slot in chunk.iter_mut().rev() {
            *slot = SYMBOL[(half % 31) as usize];
            half /= 31;
        }
    }
}

/// Subject kind from the registration authority (position 1) and category (position 2).
pub(super) fn kind(bytes: &[u8; LEN]) -> SubjectKind {
    match (bytes[0], bytes[1]) {
        (b'9', b'1') => SubjectKind::Enterprise,
        (b'9', b'2') => SubjectKind::IndividualBusiness,
        (b'9', b'3') => SubjectKind::FarmerCooperative,
        (b'1', b'1') => SubjectKind::StateOrgan,
        (b'1', b'3') => SubjectKind::MassOrganization,
        (b'1', _) => SubjectKind::PublicInstitution,
        (b'5', _) => SubjectKind::SocialOrganization,
        _ => SubjectKind::OtherOrganization,
    }
}
