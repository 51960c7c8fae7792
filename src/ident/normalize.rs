//! Normalisation: trim, full-width ASCII to half-width, upper case (docs/api.md, Identifiers).

use std::borrow::Cow;

use super::resident_id::{self, LEGACY_LEN};
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
pub(super) fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_ascii_uppercase()
}

/// The normalised text of a candidate identifier, exactly 18 characters, held inline.
///
/// Identifier alphabets are ASCII, so each character is kept as one byte: characters 1–16 as two
/// little-endian words (so that the scanners test eight at a time without reloading memory), 17–18
/// as bytes. A character that is still not ASCII after normalisation is kept aside (only the
/// first one can ever be reported, since validation stops at the first bad position) and its byte
/// is 0, which no alphabet holds. Every byte is therefore below 0x80, which the word-at-a-time
/// (SWAR) tests rely on.
///
/// Fifteen digits, a first-generation resident ID, are held in their upgraded 18-character form.
pub(super) struct Text {
    words: [u64; 2],
    tail: [u8; 2],
    non_ascii: Option<(usize, char)>,
    upgraded: bool,
}

impl Text {
    /// Text whose characters are all ASCII (e.g. unpacked from a key).
    #[inline(always)]
    pub(super) fn ascii(bytes: [u8; LEN]) -> Self {
        let (head, tail) = split(&bytes);
        Self {
            words: [u64::from_le_bytes(head[0]), u64::from_le_bytes(head[1])],
            tail,
            non_ascii: None,
            upgraded: false,
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
        if let Ok(bytes) = <&[u8; LEN]>::try_from(s.as_bytes()) {
            let (head, tail) = split(bytes);
            let words = [u64::from_le_bytes(head[0]), u64::from_le_bytes(head[1])];
            if (words[0] | words[1]) & (ONES * 0x80) == 0 && tail.is_ascii() {
                return Ok(Self {
                    words: words.map(upper_word),
                    tail: tail.map(|b| b.to_ascii_uppercase()),
                    non_ascii: None,
                    upgraded: false,
                });
            }
        }
        Self::fold_slow(s)
    }

    /// Full-width, non-ASCII, first-generation or wrong-length input.
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
        if let (LEGACY_LEN, None, Ok(legacy)) = (
            len,
            non_ascii,
            <&[u8; LEGACY_LEN]>::try_from(&bytes[..LEGACY_LEN]),
        ) {
            if legacy.iter().all(u8::is_ascii_digit) {
                return Ok(Self {
                    upgraded: true,
                    ..Self::ascii(resident_id::upgrade(legacy)?)
                });
            }
        }
        if len != LEN {
            return Err(IdError::WrongLength { len });
        }
        Ok(Self {
            non_ascii,
            ..Self::ascii(bytes)
        })
    }

    /// True when the text was given as a 15-digit first-generation resident ID.
    #[inline(always)]
    pub(super) fn upgraded(&self) -> bool {
        self.upgraded
    }

    /// Characters `8k+1 ..= 8k+8` (k = 0, 1) as a little-endian word: character `8k+1` in the low
    /// byte.
    #[inline(always)]
    pub(super) fn word(&self, k: usize) -> u64 {
        self.words[k]
    }

    /// The byte of the character at 0-based index `i`.
    #[inline(always)]
    pub(super) fn byte(&self, i: usize) -> u8 {
        match i {
            0..=15 => (self.words[i / 8] >> (8 * (i % 8))) as u8,
            _ => self.tail.get(i - 16).copied().unwrap_or(0),
        }
    }

    /// The 18 bytes.
    #[inline(always)]
    pub(super) fn bytes(&self) -> [u8; LEN] {
        let mut bytes = [0u8; LEN];
        bytes[..8].copy_from_slice(&self.words[0].to_le_bytes());
        bytes[8..16].copy_from_slice(&self.words[1].to_le_bytes());
        bytes[16..].copy_from_slice(&self.tail);
        bytes
    }

    /// The normalised character at 0-based index `i`, for error messages.
    pub(super) fn char_at(&self, i: usize) -> char {
        match self.non_ascii {
            Some((at, c)) if at == i => c,
            _ => char::from(self.byte(i)),
        }
    }
}

/// Splits 18 bytes into two 8-byte words and the last two bytes.
#[inline(always)]
fn split(bytes: &[u8; LEN]) -> ([[u8; 8]; 2], [u8; 2]) {
    let mut head = [[0u8; 8]; 2];
    head[0].copy_from_slice(&bytes[..8]);
    head[1].copy_from_slice(&bytes[8..16]);
    (head, [bytes[16], bytes[17]])
}

/// `0x01` in every byte.
pub(super) const ONES: u64 = u64::MAX / 0xFF;

/// The high bit of every byte of `word` (all bytes below 0x80) that is not an ASCII digit.
#[inline(always)]
pub(super) const fn non_digits(word: u64) -> u64 {
    // High bit of each byte: at least `0`, and above `9`; no byte carries into the next.
    let from_0 = word.wrapping_add(ONES * (0x80 - b'0' as u64));
    let after_9 = word.wrapping_add(ONES * (0x80 - b'9' as u64 - 1));
    (!from_0 | after_9) & (ONES * 0x80)
}

/// Upper-cases the ASCII letters of a word whose bytes are all below 0x80.
#[inline(always)]
pub(super) const fn upper_word(word: u64) -> u64 {
    // High bit of each byte: at least `a`, and above `z`; no byte carries into the next.
    let from_a = word.wrapping_add(ONES * (0x80 - b'a' as u64));
    let after_z = word.wrapping_add(ONES * (0x80 - b'z' as u64 - 1));
    let lower = from_a & !after_z & (ONES * 0x80);
    word - (lower >> 2)
}

/// 1-based position for error messages (`i` < 18, so it fits).
#[inline(always)]
pub(super) fn position(i: usize) -> u8 {
    u8::try_from(i + 1).unwrap_or(u8::MAX)
}
