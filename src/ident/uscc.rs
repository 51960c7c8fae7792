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

/// 31^9: unpacking splits the value into two base-31 halves of nine symbols, so that its
/// arithmetic stays in `u64`.
const HALF: u64 = 31u64.pow(9);

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

/// [`scan`] on the symbol values of the 18 characters (see [`value`]): `None` when one is
/// outside the alphabet or positions 3–8 hold other than digits.
#[inline(always)]
pub(super) fn scan_values(values: &[u8; LEN]) -> Option<Scan> {
    let Sums {
        outside,
        weighted,
        packed,
    } = sums(values);
    if outside {
        return None;
    }
    // `weighted % 31` is 0..=30, so the check value is 1..=31, and 31 stands for 0.
    let expected = match 31 - weighted % 31 {
        31 => 0,
        value => value,
    };
    let check = if u32::from(values[LEN - 1]) == expected {
        CheckOutcome::Valid
    } else {
        CheckOutcome::Mismatch {
            expected: char::from(SYMBOL[expected as usize & 31]),
        }
    };
    Some(Scan { packed, check })
}

/// What [`scan_values`] computes from the 18 symbol values, before it checks anything.
#[derive(Debug, PartialEq, Eq)]
struct Sums {
    /// A value is outside the alphabet, or one of positions 3–8 is no digit.
    outside: bool,
    /// `Σ value·weight` (see [`WEIGHTS`]); meaningless when `outside`.
    weighted: u32,
    /// The values as one base-31 number, most significant first; meaningless when `outside`.
    packed: u128,
}

/// `31^4`: the values are combined four at a time.
const QUAD: u64 = 31u64.pow(4);

/// [`Sums`] with SSE2, which every x86-64 processor has: the first 16 values are widened to 16
/// bits, and `pmaddwd` multiplies them pairwise and adds neighbours, so that the weighted sum is
/// two multiplications and a horizontal add, and the packing three rounds of "times 31 (then
/// 961) plus the next" over all lanes at once. A third of a parse's instructions, as scalar
/// code.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sums(values: &[u8; LEN]) -> Sums {
    use safe_arch::{
        add_i32_m128i, cmp_gt_mask_i8_m128i, get_i32_from_m128i_s, get_i64_from_m128i_s,
        load_unaligned_m128i, m128i, move_mask_i8_m128i, mul_i16_horizontal_add_m128i,
        pack_i32_to_i16_m128i, set_splat_i8_m128i, shuffle_ai_f32_all_m128i, unpack_high_i64_m128i,
        unpack_high_i8_m128i, unpack_low_i8_m128i, zeroed_m128i,
    };
    let [.., v16, v17] = *values;
    let all = load_unaligned_m128i(&std::array::from_fn(|i| values[i]));

    // A byte of NONE is negative; a digit position above 9 is greater than 9.
    let digits = move_mask_i8_m128i(cmp_gt_mask_i8_m128i(all, set_splat_i8_m128i(9)));
    let outside =
        move_mask_i8_m128i(all) != 0 || (v16 | v17) & NONE != 0 || digits & 0b1111_1100 != 0;

    let zero = zeroed_m128i();
    let (low, high) = (
        unpack_low_i8_m128i(all, zero),
        unpack_high_i8_m128i(all, zero),
    );
    let weights = |from: usize| {
        m128i::from(std::array::from_fn::<i16, 8, _>(|i| {
            WEIGHTS[from + i] as i16
        }))
    };
    let products = add_i32_m128i(
        mul_i16_horizontal_add_m128i(low, weights(0)),
        mul_i16_horizontal_add_m128i(high, weights(8)),
    );
    let halves = add_i32_m128i(
        products,
        shuffle_ai_f32_all_m128i::<0b01_00_11_10>(products),
    );
    let total = add_i32_m128i(halves, shuffle_ai_f32_all_m128i::<0b10_11_00_01>(halves));
    let weighted = get_i32_from_m128i_s(total) as u32 + u32::from(v16) * WEIGHTS[16];

    // Pairs of values in base 31 (below 961), then quads in base 961 (below 31^4).
    let by_31 = m128i::from([31i16, 1, 31, 1, 31, 1, 31, 1]);
    let pairs = pack_i32_to_i16_m128i(
        mul_i16_horizontal_add_m128i(low, by_31),
        mul_i16_horizontal_add_m128i(high, by_31),
    );
    let quads =
        mul_i16_horizontal_add_m128i(pairs, m128i::from([961i16, 1, 961, 1, 961, 1, 961, 1]));
    let split = |word: i64| (word as u64 & 0xFFFF_FFFF, (word as u64) >> 32);
    let (q0, q1) = split(get_i64_from_m128i_s(quads));
    let (q2, q3) = split(get_i64_from_m128i_s(unpack_high_i64_m128i(quads, quads)));
    let last = u64::from(v16) * 31 + u64::from(v17);
    let packed = u128::from(q0 * QUAD + q1) * u128::from(QUAD * QUAD * 961)
        + u128::from((q2 * QUAD + q3) * 961 + last);
    Sums {
        outside,
        weighted,
        packed,
    }
}

/// [`Sums`] one value at a time: the reference the SSE2 version is tested against, and the
/// code on other processors.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn sums_scalar(values: &[u8; LEN]) -> Sums {
    let flags = values.iter().fold(0, |flags, &v| flags | v);
    let digits = values[2..8].iter().any(|&v| v > 9);
    Sums {
        outside: flags & NONE != 0 || digits,
        weighted: values
            .iter()
            .zip(WEIGHTS)
            .map(|(&v, w)| u32::from(v) * w)
            .sum(),
        packed: values
            .iter()
            .fold(0u128, |packed, &v| packed * 31 + u128::from(v)),
    }
}

#[cfg(not(target_arch = "x86_64"))]
use sums_scalar as sums;

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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The SSE2 sums agree with the plain ones on any values a byte can map to, in the
        /// alphabet or not.
        #[test]
        fn sums_agree_with_the_reference(
            symbols in proptest::array::uniform18(prop_oneof![9 => 0u8..31, 1 => Just(NONE)]),
        ) {
            prop_assert_eq!(sums(&symbols), sums_scalar(&symbols));
        }
    }
}
