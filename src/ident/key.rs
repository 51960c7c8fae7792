//! The packed subject key: the list index's key, an integer instead of a string.

use std::fmt;

use super::normalize::Text;
use super::subject::{ascii_str, mask_person};
use super::{resident_id, uscc, IdType, LEN};

/// Tag bit of resident IDs; USCCs leave it clear, so the two kinds never collide.
const RESIDENT_TAG: u128 = 1 << 127;

/// An identifier packed losslessly into 128 bits: the normalised text can be recovered from the
/// key alone, so the list index need not store strings.
///
/// Layout: bit 127 is 0 for a USCC, whose 18 symbol values follow in base 31 (below 31^18), and
/// 1 for a resident ID, whose 17 digits follow in base 10 and then the check character in base
/// 11 (`X` = 10). Within a type, key order is the order of the normalised texts; USCCs sort before
/// resident IDs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectKey(u128);

impl SubjectKey {
    pub(super) const fn from_uscc(packed: u128) -> Self {
        Self(packed)
    }

    pub(super) const fn from_resident(packed: u64) -> Self {
        Self(RESIDENT_TAG | packed as u128)
    }

    /// The raw value, for serialisation.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Rebuilds a key from [`as_u128`](Self::as_u128); `None` unless `raw` is the packing of an
    /// identifier that [`parse_as`](super::parse_as) accepts (check mismatches included).
    pub fn from_u128(raw: u128) -> Option<Self> {
        let key = Self(raw);
        let in_range = match key.id_type() {
            IdType::Uscc => raw < uscc::LIMIT,
            IdType::ResidentId => raw & !RESIDENT_TAG < u128::from(resident_id::LIMIT),
        };
        if !in_range {
            return None;
        }
        // Re-validate the structure (digits of USCC positions 3–8, resident birth date).
        let mut bytes = [0u8; LEN];
        key.write_to(&mut bytes);
        let text = Text::ascii(bytes);
        let valid = match key.id_type() {
            IdType::Uscc => uscc::scan(&text).is_ok(),
            IdType::ResidentId => resident_id::scan(&text).is_ok(),
        };
        valid.then_some(key)
    }

    /// The key in 96 bits (three words), for tables that hold millions of keys: a USCC packs
    /// below 2^90 and a resident ID below 2^64, so the type tag moves from bit 127 to bit 95.
    pub const fn to_words(self) -> [u32; 3] {
        let packed = (self.0 & !RESIDENT_TAG) | ((self.0 >> 127) << 95);
        [packed as u32, (packed >> 32) as u32, (packed >> 64) as u32]
    }

    /// The key [`to_words`](Self::to_words) packed.
    pub const fn from_words(words: [u32; 3]) -> Self {
        let packed = words[0] as u128 | (words[1] as u128) << 32 | (words[2] as u128) << 64;
        let tag = (packed >> 95) << 127;
        Self((packed & !(1 << 95)) | tag)
    }

    /// The identifier's type.
    pub const fn id_type(self) -> IdType {
        if self.0 & RESIDENT_TAG == 0 {
            IdType::Uscc
        } else {
            IdType::ResidentId
        }
    }

    /// Writes the normalised text (ASCII) into `out`.
    pub fn write_to(&self, out: &mut [u8; LEN]) {
        match self.id_type() {
            IdType::Uscc => uscc::unpack(self.0, out),
            // Below `resident_id::LIMIT` by construction, so the cast keeps every bit.
            IdType::ResidentId => resident_id::unpack((self.0 & !RESIDENT_TAG) as u64, out),
        }
    }

    /// The normalised text.
    pub fn to_id_string(&self) -> String {
        let mut out = [0u8; LEN];
        self.write_to(&mut out);
        ascii_str(&out).to_owned()
    }
}

/// Masks resident IDs, like [`SubjectId::masked`](super::SubjectId::masked): keys end up in
/// debug logs and the packing is reversible.
impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; LEN];
        self.write_to(&mut text);
        if self.id_type() == IdType::ResidentId {
            mask_person(&mut text);
        }
        write!(f, "SubjectKey({}:{})", self.id_type(), ascii_str(&text))
    }
}
