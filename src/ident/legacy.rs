//! The identifiers of organisations that predate the USCC and that court and older records still
//! carry (as court records and older registrations do): the 9-character organisation code (组织机构代码, GB 11714-1997), written
//! with or without its hyphen (`XXXXXXXX-X`), and the 15-digit registration number (工商注册号,
//! GS15-2006). Every USCC embeds its subject's organisation code at positions 9–17.
//!
//! Both are read on the cold path only: an 18-character identifier never reaches this module.

use super::normalize::{fold, position};
use super::{CheckOutcome, IdError, IdType, SubjectId, SubjectKey, LEN};

/// Characters of an organisation code (eight body characters and the check character).
pub(super) const ORG_CODE_LEN: usize = 9;

/// Digits of a registration number (fourteen body digits and the check digit).
pub(super) const REGISTRATION_LEN: usize = 15;

/// Weights of the organisation code's eight body characters (GB 11714-1997).
const ORG_WEIGHTS: [u32; ORG_CODE_LEN - 1] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The symbols of the organisation code in base 36, the value of each its index.
const ORG_SYMBOLS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// 36^9: every packed organisation code is below this.
pub(super) const ORG_CODE_LIMIT: u64 = 36u64.pow(ORG_CODE_LEN as u32);

/// 10^15: every packed registration number is below this.
pub(super) const REGISTRATION_LIMIT: u64 = 10u64.pow(REGISTRATION_LEN as u32);

/// Longest input worth folding: an organisation code with its hyphen is ten characters.
const MAX_INPUT: usize = 16;

/// Marks bytes outside 0–9, A–Z in [`ORG_VALUE`].
const NONE: u8 = 0xFF;

/// Byte → value of an organisation code character (0–9, then A–Z as 10–35), [`NONE`] outside.
static ORG_VALUE: [u8; 256] = {
    let mut table = [NONE; 256];
    let mut v = 0;
    while v < ORG_SYMBOLS.len() {
        table[ORG_SYMBOLS[v] as usize] = v as u8;
        v += 1;
    }
    table
};

/// Value of an organisation code body character: 0–9, then A–Z as 10–35.
fn org_value(b: u8) -> Option<u32> {
    match ORG_VALUE[usize::from(b)] {
        NONE => None,
        v => Some(u32::from(v)),
    }
}

/// The check character of an organisation code's body: `11 − (Σ c_i·w_i mod 11)`, where 10 is
/// written `X` and 11 is written `0`. `None` if a body character is outside 0–9, A–Z.
pub(super) fn org_check(body: &[u8]) -> Option<u8> {
    let mut sum = 0;
    for (&b, w) in body.iter().zip(ORG_WEIGHTS) {
        sum += org_value(b)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        c => b'0' + c as u8,
    })
}

/// The check digit of a registration number's 14 body digits, ISO 7064 MOD 11,10.
pub(super) fn registration_check(body: &[u8]) -> u8 {
    let mut p = 10;
    for &b in body {
        let s = match (p + u32::from(b - b'0')) % 10 {
            0 => 10,
            s => s,
        };
        p = s * 2 % 11;
    }
    b'0' + ((11 - p) % 10) as u8
}

/// The input trimmed and normalised into ASCII bytes: the first `MAX_INPUT` of them, the length
/// in characters and the first character that is still not ASCII.
struct Short {
    bytes: [u8; MAX_INPUT],
    len: usize,
    non_ascii: Option<(usize, char)>,
}

impl Short {
    fn fold(raw: &str) -> Result<Short, IdError> {
        let mut short = Short {
            bytes: [0; MAX_INPUT],
            len: 0,
            non_ascii: None,
        };
        for c in raw.trim().chars().map(fold) {
            if let Some(slot) = short.bytes.get_mut(short.len) {
                if c.is_ascii() {
                    *slot = c as u8;
                } else if short.non_ascii.is_none() {
                    short.non_ascii = Some((short.len, c));
                }
            }
            short.len += 1;
        }
        if short.len == 0 {
            return Err(IdError::Empty);
        }
        Ok(short)
    }

    fn char_at(&self, i: usize) -> char {
        match self.non_ascii {
            Some((at, c)) if at == i => c,
            _ => char::from(self.bytes[i]),
        }
    }

    /// Drops the hyphen of the written form `XXXXXXXX-X`.
    fn without_hyphen(mut self) -> Short {
        if self.len == ORG_CODE_LEN + 1 && self.bytes[ORG_CODE_LEN - 1] == b'-' {
            self.bytes[ORG_CODE_LEN - 1] = self.bytes[ORG_CODE_LEN];
            self.non_ascii = self.non_ascii.map(|(at, c)| (at.min(ORG_CODE_LEN - 1), c));
            self.len = ORG_CODE_LEN;
        }
        self
    }
}

/// Reads an organisation code, with or without its hyphen. A failing check character is
/// reported, not refused (as for a USCC).
pub(super) fn org_code(raw: &str) -> Result<SubjectId, IdError> {
    let short = Short::fold(raw)?.without_hyphen();
    if short.len != ORG_CODE_LEN {
        return Err(IdError::WrongLengthOf {
            len: short.len,
            id_type: IdType::OrgCode,
        });
    }
    let invalid = |i: usize| IdError::InvalidChar {
        position: position(i),
        ch: short.char_at(i),
        id_type: IdType::OrgCode,
    };
    let mut packed = 0u64;
    for (i, &b) in short.bytes[..ORG_CODE_LEN].iter().enumerate() {
        let value = match (i, b) {
            (ORG_CODE_LEN_LAST, b'X') => 33,
            (ORG_CODE_LEN_LAST, b'0'..=b'9') => u32::from(b - b'0'),
            (ORG_CODE_LEN_LAST, _) => return Err(invalid(i)),
            _ => org_value(b).ok_or_else(|| invalid(i))?,
        };
        packed = packed * 36 + u64::from(value);
    }
    let code = &short.bytes[..ORG_CODE_LEN];
    let check = outcome(
        code[ORG_CODE_LEN_LAST],
        org_check(&code[..ORG_CODE_LEN_LAST]),
    );
    Ok(SubjectId::from_legacy(
        SubjectKey::from_org_code(packed),
        text(code),
        check,
    ))
}

/// Index of the organisation code's check character.
const ORG_CODE_LEN_LAST: usize = ORG_CODE_LEN - 1;

/// Reads a 15-digit registration number. A failing check digit is reported, not refused.
pub(super) fn registration_number(raw: &str) -> Result<SubjectId, IdError> {
    let short = Short::fold(raw)?;
    if short.len != REGISTRATION_LEN {
        return Err(IdError::WrongLengthOf {
            len: short.len,
            id_type: IdType::RegistrationNumber,
        });
    }
    let digits = &short.bytes[..REGISTRATION_LEN];
    if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(IdError::NotDigit {
            position: position(i),
            ch: short.char_at(i),
            id_type: IdType::RegistrationNumber,
        });
    }
    let packed = digits
        .iter()
        .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
    let last = REGISTRATION_LEN - 1;
    let check = outcome(digits[last], Some(registration_check(&digits[..last])));
    Ok(SubjectId::from_legacy(
        SubjectKey::from_registration(packed),
        text(digits),
        check,
    ))
}

/// What an identifier that is not 18 characters may still be, when the caller did not name its
/// type: nine characters (ten with the hyphen) are an organisation code; fifteen digits that
/// cannot be a first-generation resident ID (no date at positions 7–12) are a registration
/// number if their check digit holds. Anything else keeps the error it was refused with.
#[cold]
pub(super) fn detect(raw: &str, refused: IdError) -> Result<SubjectId, IdError> {
    match refused {
        IdError::WrongLength { len: ORG_CODE_LEN } => org_code(raw),
        IdError::WrongLength { len } if len == ORG_CODE_LEN + 1 => {
            let short = Short::fold(raw)?;
            if short.bytes[ORG_CODE_LEN - 1] == b'-' {
                org_code(raw)
            } else {
                Err(refused)
            }
        }
        IdError::BadLegacyBirthDate { .. } => match registration_number(raw) {
            Ok(id) if id.check().is_valid() => Ok(id),
            _ => Err(refused),
        },
        _ => Err(refused),
    }
}

/// The organisation code a USCC embeds at positions 9–17, when its own check character holds;
/// pilot codes whose positions 9–17 are no organisation code (`M000100Y4`, mostly) give none,
/// so that no other subject is reached through them.
#[inline]
pub(super) fn embedded(uscc: &[u8; LEN]) -> Option<SubjectKey> {
    // A USCC's symbols are all 0–9, A–Z, so every value is in the table.
    let (mut sum, mut packed) = (0u32, 0u64);
    for (&b, w) in uscc[8..16].iter().zip(ORG_WEIGHTS) {
        let v = ORG_VALUE[usize::from(b)];
        sum += u32::from(v) * w;
        packed = packed * 36 + u64::from(v);
    }
    let check = uscc[16];
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        c => b'0' + c as u8,
    };
    (check == expected)
        .then(|| SubjectKey::from_org_code(packed * 36 + u64::from(ORG_VALUE[usize::from(check)])))
}

/// The registration number a first-generation resident ID also reads as, upgraded into `text`:
/// its fifteen digits, when their MOD 11,10 check holds.
pub(super) fn registration_reading(text: &[u8; LEN]) -> Option<SubjectKey> {
    let mut digits = [0u8; REGISTRATION_LEN];
    digits[..6].copy_from_slice(&text[..6]);
    digits[6..].copy_from_slice(&text[8..17]);
    let raw = std::str::from_utf8(&digits).ok()?;
    registration_number(raw)
        .ok()
        .filter(|id| id.check().is_valid())
        .map(|id| id.key())
}

/// Unpacks an organisation code below [`ORG_CODE_LIMIT`] into the first nine bytes.
pub(super) fn unpack_org_code(mut packed: u64, out: &mut [u8; LEN]) {
    for slot in out[..ORG_CODE_LEN].iter_mut().rev() {
        *slot = ORG_SYMBOLS[(packed % 36) as usize];
        packed /= 36;
    }
}

/// Unpacks a registration number below [`REGISTRATION_LIMIT`] into the first fifteen bytes.
pub(super) fn unpack_registration(mut packed: u64, out: &mut [u8; LEN]) {
    for slot in out[..REGISTRATION_LEN].iter_mut().rev() {
        *slot = b'0' + (packed % 10) as u8;
        packed /= 10;
    }
}

fn outcome(given: u8, expected: Option<u8>) -> CheckOutcome {
    match expected {
        Some(expected) if expected != given => CheckOutcome::Mismatch {
            expected: char::from(expected),
        },
        _ => CheckOutcome::Valid,
    }
}

fn text(code: &[u8]) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..code.len()].copy_from_slice(code);
    out
}
