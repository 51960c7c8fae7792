//! The parsed identifier and its masked form.

use std::fmt;
use std::str::FromStr;

use super::normalize::Text;
use super::{
    legacy, resident_id, uscc, CheckOutcome, IdError, IdType, SubjectKey, SubjectKind, LEN,
};

/// A parsed identifier: its normalised text (inline, no heap; an organisation code or
/// registration number fills the first 9 or 15 bytes), packed key, type, subject kind, check
/// outcome, and whether it was upgraded from the 15-digit first-generation form (and whether
/// that form was read as a resident ID by its shape alone, the caller not saying).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubjectId {
    key: SubjectKey,
    text: [u8; LEN],
    kind: SubjectKind,
    check: CheckOutcome,
    upgraded: bool,
    upgraded_by_shape: bool,
}

impl SubjectId {
    pub(super) fn from_uscc(text: [u8; LEN], scan: uscc::Scan) -> Self {
        Self {
            key: SubjectKey::from_uscc(scan.packed),
            text,
            kind: uscc::kind(&text),
            check: scan.check,
            upgraded: false,
            upgraded_by_shape: false,
        }
    }

    pub(super) fn from_resident(text: &Text, scan: resident_id::Scan) -> Self {
        Self {
            key: SubjectKey::from_resident(scan.packed),
            text: text.bytes(),
            kind: SubjectKind::Person,
            check: scan.check,
            upgraded: text.upgraded(),
            upgraded_by_shape: false,
        }
    }

    pub(super) fn from_legacy(key: SubjectKey, text: [u8; LEN], check: CheckOutcome) -> Self {
        Self {
            key,
            text,
            kind: SubjectKind::Organization,
            check,
            upgraded: false,
            upgraded_by_shape: false,
        }
    }

    /// The packed key used by the list index.
    pub const fn key(&self) -> SubjectKey {
        self.key
    }

    /// The identifier's type.
    pub const fn id_type(&self) -> IdType {
        self.key.id_type()
    }

    /// The subject kind derived from the identifier.
    pub const fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// Whether the check character matched.
    pub const fn check(&self) -> CheckOutcome {
        self.check
    }

    /// True when the identifier was given as a 15-digit first-generation resident ID; its text
    /// and key are those of the 18-character form.
    pub const fn upgraded(&self) -> bool {
        self.upgraded
    }

    /// The normalised text (full identifier; personal information for a person).
    pub fn as_str(&self) -> &str {
        ascii_str(&self.text[..self.id_type().text_len()])
    }

    /// The older identifier through which entries of other subjects reach this one: itself for
    /// an organisation code or registration number, the code it embeds for a USCC.
    #[inline]
    pub fn older_identifier(&self) -> Option<SubjectKey> {
        if self.id_type().is_legacy() {
            Some(self.key)
        } else {
            self.embedded_org_code()
        }
    }

    /// The organisation code a USCC embeds at positions 9–17, when its check character holds:
    /// records filed under that code name the same subject. `None` for other identifiers.
    #[inline]
    pub fn embedded_org_code(&self) -> Option<SubjectKey> {
        match self.id_type() {
            IdType::Uscc => legacy::embedded(&self.text),
            _ => None,
        }
    }

    /// Whether the identifier is, or may be, a person's ID number: a resident ID, or any
    /// registration number, whose fifteen digits may be a first-generation resident ID, mistyped
    /// or named a registration number by the caller.
    pub fn may_be_person(&self) -> bool {
        reads_as_person(self.id_type())
    }

    /// Marks fifteen digits read as a resident ID by their shape, not by the caller's word.
    pub(super) fn by_shape(self) -> Self {
        Self {
            upgraded_by_shape: self.upgraded,
            ..self
        }
    }

    /// For fifteen digits read as a resident ID by their shape alone: the registration number
    /// those digits also are, when their check holds. Such an identifier may mean two subjects.
    pub fn registration_reading(&self) -> Option<SubjectKey> {
        self.upgraded_by_shape
            .then(|| legacy::registration_reading(&self.text))
            .flatten()
    }

    /// The form that may be logged: a person's ID keeps the first 6 and last 4 characters
    /// (`230202********1238`), and one that may be a person's is masked the same way;
    /// organisation codes are public and stay whole.
    pub fn masked(&self) -> Masked {
        let mut text = self.text;
        if self.may_be_person() {
            mask_person(&mut text);
        }
        Masked {
            text,
            len: self.id_type().text_len() as u8,
        }
    }
}

/// The full normalised identifier. Use [`SubjectId::masked`] for logs and metrics.
impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Masked like [`SubjectId::masked`], so that `{:?}` in a log never leaks a personal ID.
impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectId")
            .field("text", &self.masked().as_str())
            .field("id_type", &self.id_type())
            .field("kind", &self.kind)
            .field("check", &self.check)
            .field("upgraded", &self.upgraded)
            .finish()
    }
}

impl FromStr for SubjectId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse(s)
    }
}

/// An identifier as it may appear in logs (see [`SubjectId::masked`]); up to 18 ASCII bytes
/// inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Masked {
    text: [u8; LEN],
    len: u8,
}

impl Masked {
    /// The masked text.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.text[..usize::from(self.len)])
    }
}

impl fmt::Display for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Masked").field(&self.as_str()).finish()
    }
}

/// Replaces positions 7–14 (the birth date) with `*`.
pub(super) fn mask_person(text: &mut [u8; LEN]) {
    text[6..14].fill(b'*');
}

/// Whether an identifier of this type is, or may be, a person's ID (see
/// [`SubjectId::may_be_person`]).
pub(super) fn reads_as_person(id_type: IdType) -> bool {
    match id_type {
        IdType::ResidentId | IdType::RegistrationNumber => true,
        IdType::Uscc | IdType::OrgCode => false,
    }
}

/// The texts are ASCII by construction (validated against ASCII alphabets).
pub(super) fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    std::str::from_utf8(bytes).unwrap_or_default()
}
