//! Subject identifiers: the unified social credit code of an organisation (USCC, GB 32100-2015)
//! and the resident ID number of a person (GB 11643-1999), and the organisation code and
//! registration number that older records carry instead of a USCC.
//!
//! This module owns everything about turning a caller's string into a subject: normalisation
//! (trim, full-width to half-width, upper case), type detection, structural validation, the check
//! characters, the subject kind derived from the code, masking for logs and stores (of a subject,
//! and of ID numbers inside free text), and the packed [`SubjectKey`] that the list index uses
//! instead of strings. It does no I/O, and parsing never allocates (the text is held inline;
//! half-width input takes a word-at-a-time fast path).
//!
//! A failing check character is not an error here: parsing succeeds and reports
//! [`CheckOutcome::Mismatch`], because early pilot USCCs are legally valid yet fail the check, and
//! whether a resident ID with a bad check digit is rejected depends on the lists (docs/api.md, Identifiers).
//! Everything else that is wrong with the text is an [`IdError`].

mod error;
mod fast;
mod free_text;
mod key;
mod legacy;
mod normalize;
mod resident_id;
mod subject;
mod uscc;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use error::{IdError, UnknownIdType};
pub use free_text::{mask_id_numbers, mask_person_name};
pub use key::SubjectKey;
pub use normalize::normalize;
pub use subject::{Masked, SubjectId};

use normalize::Text;
use resident_id::LEGACY_LEN;

/// Number of characters of both identifier types.
const LEN: usize = 18;

/// Which standard an identifier follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdType {
    /// Unified social credit code of an organisation (GB 32100-2015).
    Uscc,
    /// Resident ID number of a natural person (GB 11643-1999).
    ResidentId,
    /// Organisation code (组织机构代码, GB 11714-1997), nine characters; a USCC embeds it.
    OrgCode,
    /// Registration number (工商注册号, GS15-2006), fifteen digits.
    RegistrationNumber,
}

impl IdType {
    /// The name used in the API and in list files.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdType::Uscc => "uscc",
            IdType::ResidentId => "resident_id",
            IdType::OrgCode => "org_code",
            IdType::RegistrationNumber => "registration_number",
        }
    }

    /// Characters of the normalised text.
    pub const fn text_len(self) -> usize {
        match self {
            IdType::Uscc | IdType::ResidentId => LEN,
            IdType::OrgCode => legacy::ORG_CODE_LEN,
            IdType::RegistrationNumber => legacy::REGISTRATION_LEN,
        }
    }

    /// True for the identifiers that predate the USCC (organisation code, registration number).
    pub const fn is_legacy(self) -> bool {
        matches!(self, IdType::OrgCode | IdType::RegistrationNumber)
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdType {
    type Err = UnknownIdType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uscc" => Ok(IdType::Uscc),
            "resident_id" => Ok(IdType::ResidentId),
            "org_code" => Ok(IdType::OrgCode),
            "registration_number" => Ok(IdType::RegistrationNumber),
            other => Err(UnknownIdType::new(other)),
        }
    }
}

/// What kind of subject an identifier names, derived from the identifier alone (USCC positions
/// 1–2, GB 32100), so that routing needs no lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// USCC `91…`: enterprise (企业).
    Enterprise,
    /// USCC `92…`: individual business (个体工商户).
    IndividualBusiness,
    /// USCC `93…`: farmers' specialised co-operative (农民专业合作社).
    FarmerCooperative,
    /// USCC `11…`: organ of the state (机关), registered by the staffing authority (机构编制).
    StateOrgan,
    /// USCC `12…`: public institution (事业单位), registered by the staffing authority; also its
    /// other categories (`19…`), as the staffing authority's registrations were one kind before.
    PublicInstitution,
    /// USCC `13…`: mass organisation (群团组织) under the staffing authority.
    MassOrganization,
    /// USCC `5x…`: social organisation registered by civil affairs (民政).
    SocialOrganization,
    /// Any other USCC.
    OtherOrganization,
    /// An organisation code or registration number: an organisation whose category the
    /// identifier does not say.
    Organization,
    /// Resident ID: a natural person.
    Person,
}

impl SubjectKind {
    /// The name used in the API (`kind` field).
    pub const fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Enterprise => "enterprise",
            SubjectKind::IndividualBusiness => "individual_business",
            SubjectKind::FarmerCooperative => "farmer_cooperative",
            SubjectKind::StateOrgan => "state_organ",
            SubjectKind::PublicInstitution => "public_institution",
            SubjectKind::MassOrganization => "mass_organization",
            SubjectKind::SocialOrganization => "social_organization",
            SubjectKind::OtherOrganization => "other_organization",
            SubjectKind::Organization => "organization",
            SubjectKind::Person => "person",
        }
    }

    /// The Chinese word for the kind.
    pub const fn label(self) -> &'static str {
        match self {
            SubjectKind::Enterprise => "企业",
            SubjectKind::IndividualBusiness => "个体工商户",
            SubjectKind::FarmerCooperative => "农民专业合作社",
            SubjectKind::StateOrgan => "机关",
            SubjectKind::PublicInstitution => "事业单位",
            SubjectKind::MassOrganization => "群团组织",
            SubjectKind::SocialOrganization => "社会组织",
            SubjectKind::OtherOrganization => "其他组织",
            SubjectKind::Organization => "组织",
            SubjectKind::Person => "自然人",
        }
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of the check-character test. A mismatch is reported, not rejected: the caller decides
/// (USCC: warn and continue; resident ID: reject unless listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckOutcome {
    /// The check character matches the one computed from the first 17 characters.
    Valid,
    /// The check character differs; `expected` is the one the standard computes.
    Mismatch {
        /// The check character the first 17 characters call for.
        expected: char,
    },
}

impl CheckOutcome {
    /// True when the check character matches.
    pub const fn is_valid(self) -> bool {
        matches!(self, CheckOutcome::Valid)
    }
}

/// Parses an identifier of either type, detecting the type.
///
/// The input is normalised first (see [`normalize`]). An 18-character string whose first 17
/// characters are digits and whose last is a digit or `X` is read as a resident ID, unless it is
/// not a resident ID at all (positions 7–14 are no birth date) while it is a USCC with a matching
/// check character: all-digit USCCs with a legacy numeric organisation code exist
/// (`912302061276543275`). A well-formed resident ID with a wrong check digit stays a resident
/// ID, so a mistyped personal ID is never taken for an organisation. Anything else of 18
/// characters is a USCC.
///
/// Nine characters (ten with the hyphen `XXXXXXXX-X`) are an organisation code. Fifteen digits
/// are a first-generation resident ID, upgraded; only when they cannot be one (positions 7–12
/// are no date) and their check digit holds are they a registration number.
pub fn parse(raw: &str) -> Result<SubjectId, IdError> {
    match fast::parse(raw.as_bytes()) {
        Some(id) => Ok(id),
        None => parse_general(raw),
    }
}

/// [`parse`] for any input: normalises, then detects the type.
fn parse_general(raw: &str) -> Result<SubjectId, IdError> {
    let text = match Text::fold(raw) {
        Ok(text) => text,
        Err(refused) => return legacy::detect(raw, refused),
    };
    if text.upgraded() {
        return resident_id::scan(&text).map(|s| SubjectId::from_resident(&text, s).by_shape());
    }
    if !resident_id::has_shape(&text) {
        return uscc::scan(&text).map(|s| SubjectId::from_uscc(text.bytes(), s));
    }
    let resident = resident_id::scan(&text);
    if resident.is_err() {
        if let Ok(s) = uscc::scan(&text) {
            if s.check.is_valid() {
                return Ok(SubjectId::from_uscc(text.bytes(), s));
            }
        }
    }
    resident.map(|s| SubjectId::from_resident(&text, s))
}

/// Parses an identifier of a known type, skipping detection (for callers that receive the type,
/// such as list files and requests with an explicit `id_type`).
pub fn parse_as(raw: &str, id_type: IdType) -> Result<SubjectId, IdError> {
    match id_type {
        IdType::OrgCode => return legacy::org_code(raw),
        IdType::RegistrationNumber => return legacy::registration_number(raw),
        IdType::Uscc | IdType::ResidentId => {}
    }
    let text = Text::fold(raw)?;
    match id_type {
        // Fifteen digits are a resident ID's first generation, never a USCC.
        IdType::Uscc if text.upgraded() => Err(IdError::WrongLength { len: LEGACY_LEN }),
        IdType::Uscc => uscc::scan(&text).map(|s| SubjectId::from_uscc(text.bytes(), s)),
        _ => resident_id::scan(&text).map(|s| SubjectId::from_resident(&text, s)),
    }
}
