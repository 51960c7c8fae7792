//! The packed subject key: the list index's key, an integer instead of a string.

use std::fmt;

use super::normalize::Text;
use super::subject::{ascii_str, mask_person, reads_as_person};
use super::{legacy, resident_id, uscc, IdType, LEN};

/// The two tag bits that say an identifier's type; a USCC leaves both clear, so no two types
/// collide.
const TAGS: u128 = 3 << 126;
/// Tag of resident IDs.
const RESIDENT_TAG: u128 = 2 << 126;
/// Tag of organisation codes.
const ORG_CODE_TAG: u128 = 1 << 126;
/// Tag of registration numbers.
const REGISTRATION_TAG: u128 = 3 << 126;

/// An identifier packed losslessly into 128 bits: the normalised text can be recovered from the
/// key alone, so the list index need not store strings.
///
/// Layout: bits 127–126 are the type's tag. A USCC (`00`) packs its 18 symbol values in base 31
/// (below 31^18); a resident ID (`10`) its 17 digits in base 10 and then the check character in
/// base 11 (`X` = 10); an organisation code (`01`) its nine characters in base 36 (`X` = 33); a
/// registration number (`11`) its fifteen digits as a number. Within a type, key order is the
/// order of the normalised texts; USCCs sort before resident IDs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectKey(u128);

impl SubjectKey {
    pub(super) const fn from_uscc(packed: u128) -> Self {
        Self(packed)
    }

    pub(super) const fn from_resident(packed: u64) -> Self {
        Self(RESIDENT_TAG | packed as u128)
    }

    pub(super) const fn from_org_code(packed: u64) -> Self {
        Self(ORG_CODE_TAG | packed as u128)
    }

    pub(super) const fn from_registration(packed: u64) -> Self {
        Self(REGISTRATION_TAG | packed as u128)
    }

    /// The raw value, for serialisation.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Rebuilds a key from [`as_u128`](Self::as_u128); `None` unless `raw` is the packing of an
    /// identifier that [`parse_as`](super::parse_as) accepts (check mismatches included).
    pub fn from_u128(raw: u128) -> Option<Self> {
        let key = Self(raw);
        let value = raw & !TAGS;
        let in_range = match key.id_type() {
            IdType::Uscc => raw < uscc::LIMIT,
            IdType::ResidentId => value < u128::from(resident_id::LIMIT),
            IdType::OrgCode => value < u128::from(legacy::ORG_CODE_LIMIT),
            IdType::RegistrationNumber => value < u128::from(legacy::REGISTRATION_LIMIT),
        };
        if !in_range {
            return None;
        }
        // Re-validate the structure (digits of USCC positions 3–8, resident birth date, the
        // organisation code's check character's alphabet).
        let mut bytes = [0u8; LEN];
        key.write_to(&mut bytes);
        let text = Text::ascii(bytes);
        let valid = match key.id_type() {
            IdType::Uscc => uscc::scan(&text).is_ok(),
            IdType::ResidentId => resident_id::scan(&text).is_ok(),
            IdType::OrgCode | IdType::RegistrationNumber => {
                super::parse_as(&key.to_id_string(), key.id_type()).is_ok()
            }
        };
        valid.then_some(key)
    }

    /// The key in 96 bits (three words), for tables that hold millions of keys: a USCC packs
    /// below 2^90 and the other types below 2^64, so the type tag moves from bits 127–126 to
    /// bits 95–94.
    pub const fn to_words(self) -> [u32; 3] {
        let packed = (self.0 & !TAGS) | ((self.0 >> 126) << 94);
        [packed as u32, (packed >> 32) as u32, (packed >> 64) as u32]
    }

    /// The key [`to_words`](Self::to_words) packed.
    pub const fn from_words(words: [u32; 3]) -> Self {
        let packed = words[0] as u128 | (words[1] as u128) << 32 | (words[2] as u128) << 64;
        let tag = (packed >> 94) << 126;
        Self((packed & !(3 << 94)) | tag)
    }

    /// The identifier's type.
    pub const fn id_type(self) -> IdType {
        match self.0 >> 126 {
            0 => IdType::Uscc,
            2 => IdType::ResidentId,
            1 => IdType::OrgCode,
            _ => IdType::RegistrationNumber,
        }
    }

    /// Writes the normalised text (ASCII) into `out`; an identifier shorter than 18 characters
    /// fills the first [`IdType::text_len`] bytes.
    pub fn write_to(&self, out: &mut [u8; LEN]) {
        // Each type packs below 2^64 but the USCC, so the casts keep every bit.
        let value = (self.0 & !TAGS) as u64;
        match self.id_type() {
            IdType::Uscc => uscc::unpack(self.0, out),
            IdType::ResidentId => resident_id::unpack(value, out),
            IdType::OrgCode => legacy::unpack_org_code(value, out),
            IdType::RegistrationNumber => legacy::unpack_registration(value, out),
        }
    }

    /// The normalised text, inline, and its length.
    fn text(&self) -> ([u8; LEN], usize) {
        let mut out = [0u8; LEN];
        self.write_to(&mut out);
        (out, self.id_type().text_len())
    }

    /// The normalised text.
    pub fn to_id_string(&self) -> String {
        let (text, len) = self.text();
        ascii_str(&text[..len]).to_owned()
    }

    /// The organisation code a USCC embeds at positions 9–17, when its check character holds;
    /// `None` for every other identifier.
    pub fn embedded_org_code(&self) -> Option<SubjectKey> {
        let mut text = [0u8; LEN];
        self.write_to(&mut text);
        (self.id_type() == IdType::Uscc)
            .then(|| legacy::embedded(&text))
            .flatten()
    }
}

/// Masks resident IDs, like [`SubjectId::masked`](super::SubjectId::masked): keys end up in
/// debug logs and the packing is reversible.
impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut text, len) = self.text();
        if reads_as_person(self.id_type()) {
            mask_person(&mut text);
        }
        write!(
            f,
            "SubjectKey({}:{})",
            self.id_type(),
            ascii_str(&text[..len])
        )
    }
}
