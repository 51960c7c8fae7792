//! Normalisation: trim, full-width ASCII to half-width, upper case (DESIGN.md §2).

use std::borrow::Cow;

use super::{IdError, LEN};

/// Normalises an identifier as typed: trims Unicode whitespace (including the ideographic space
/// U+3000), turns full-width ASCII (U+FF01–U+FF5E) into half-width and upper-cases ASCII letters.
///
/// Borrows when the trimmed input is already normalised, which is the common case.
pub fn normalize(raw: &str) -> Cow<'_, str> {
    let s = raw.trim();
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_lowercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().map(fold).collect())
    }
}

/// Normalises one character (trimming aside).
#[inline]
fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_ascii_uppercase()
}

/// The normalised text of a candidate identifier, exactly 18 characters, held inline.
///
/// Identifier alphabets are ASCII, so each character is kept as one byte. A character that is
/// still not ASCII after normalisation is kept aside (only the first one can ever be reported,
/// since validation stops at the first bad position) and its byte is 0, which no alphabet holds.
pub(super) struct Text {
    pub(super) bytes: [u8; LEN],
    non_ascii: Option<(usize, char)>,
}

impl Text {
    /// Text whose characters are all ASCII (e.g. unpacked from a key).
    pub(super) const fn ascii(bytes: [u8; LEN]) -> Self {
        Self {
            bytes,
            non_ascii: None,
        }
    }

    /// Trims `raw` and normalises it into an 18-character text without allocating.
    #[inline(always)]
    pub(super) fn fold(raw: &str) -> Result<Self, IdError> {
        // No Unicode whitespace starts or ends with a printable ASCII byte.
        let s = match raw.as_bytes() {
            [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => raw,
            _ => raw.trim(),
        };
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        // Fast path: half-width ASCII.
        if let Ok(&bytes) = <&[u8; LEN]>::try_from(s.as_bytes()) {
            if bytes.is_ascii() {
                return Ok(Self::ascii(ascii_upper(bytes)));
            }
        }
        Self::fold_slow(s)
    }

    /// Full-width, non-ASCII or wrong-length input.
    #[cold]
    fn fold_slow(s: &str) -> Result<Self, IdError> {
        let mut bytes = [0u8; LEN];
        let mut non_ascii = None;
        let mut len = 0usize;
        for c in s.chars() {
            if let Some(slot) = bytes.get_mut(len) {
                let c = fold(c);
                if c.is_ascii() {
                    *slot = c as u8;
                } else if non_ascii.is_none() {
                    non_ascii = Some((len, c));
                }
            }
            len += 1;
        }
        if len != LEN {
            return Err(IdError::WrongLength { len });
        }
        Ok(Self { bytes, non_ascii })
    }

    /// The normalised character at 0-based index `i`, for error messages.
    pub(super) fn char_at(&self, i: usize) -> char {
        match self.non_ascii {
            Some((at, c)) if at == i => c,
            _ => self.bytes.get(i).map_or('\0', |&b| char::from(b)),
        }
    }
}

/// Upper-cases 18 ASCII bytes, 16 of them at once (SWAR: no byte carries into the next because
/// every byte is below 0x80).
#[inline(always)]
fn ascii_upper(mut bytes: [u8; LEN]) -> [u8; LEN] {
    const ONES: u128 = u128::MAX / 0xFF;
    let (head, tail) = bytes.split_at_mut(16);
    if let Ok(head) = <&mut [u8; 16]>::try_from(head) {
        let x = u128::from_le_bytes(*head);
        // High bit of each byte: at least `a`, and above `z`.
        let from_a = x + ONES * u128::from(0x80 - b'a');
        let after_z = x + ONES * u128::from(0x80 - b'z' - 1);
        let lower = from_a & !after_z & (ONES * 0x80);
        *head = (x - (lower >> 2)).to_le_bytes();
    }
    tail.make_ascii_uppercase();
    bytes
}

/// 1-based position for error messages (`i` < 18, so it fits).
#[inline(always)]
pub(super) fn position(i: usize) -> u8 {
    u8::try_from(i + 1).unwrap_or(u8::MAX)
}
