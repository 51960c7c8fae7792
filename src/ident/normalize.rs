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
#[inline(always)]
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
    /// Text already known to be normalised ASCII (e.g. unpacked from a key).
    pub(super) const fn ascii(bytes: [u8; LEN]) -> Self {
        Self {
            bytes,
            non_ascii: None,
        }
    }

    /// Normalises `raw` into an 18-character text, in one pass and without allocating.
#[inline(always)]
    pub(super) fn fold(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        // Fast path: already half-width ASCII.
        if let Ok(mut bytes) = <[u8; LEN]>::try_from(s.as_bytes()) {
            if bytes.is_ascii() {
                bytes.make_ascii_uppercase();
                return Ok(Self::ascii(bytes));
            }
        }
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

    /// The character at 0-based index `i`, for error messages.
    pub(super) fn char_at(&self, i: usize) -> char {
        match self.non_ascii {
            Some((at, c)) if at == i => c,
            _ => self.bytes.get(i).map_or('\0', |&b| char::from(b)),
        }
    }
}

/// 1-based position for error messages (`i` < 18, so it fits).
#[inline(always)]
pub(super) fn position(i: usize) -> u8 {
    u8::try_from(i + 1).unwrap_or(u8::MAX)
}
