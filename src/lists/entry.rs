//! One subject on one list (docs/lists.md, Lists): the exchange record as written in JSON Lines, and
//! the validated in-memory entry it becomes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::text::{TextError, TextStore};
use crate::ident::{self, CheckOutcome, IdType, SubjectKey};
use crate::ruleset::{ListId, Role, RuleSet, SubjectScope, SCORE_LIMIT};
use crate::timestamp::Timestamp;

/// Longest `entry_id` accepted; identifiers are references, not documents.
const MAX_ENTRY_ID_LEN: usize = 128;

/// Most `legacy_ids` an entry may carry: a subject has one organisation code and one
/// registration number, and a few more leave room for records that were re-registered.
const MAX_LEGACY_IDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    Repaired,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispute {
    #[default]
    None,
    UnderReview,
    Upheld,
    Rejected,
}

/// An entry exactly as exchanged (file, admin API, Redis). Text borrows from the input where
/// it can (no escapes), which halves the allocations of a bulk load.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRecord<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
    #[serde(borrow)]
    pub list: Cow<'a, str>,
    #[serde(borrow)]
    pub subject_id: Cow<'a, str>,
    /// The subject's older identifiers (organisation codes, registration numbers).
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub legacy_ids: Vec<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub basis_doc: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub listed_on: Cow<'a, str>,
    #[serde(default, borrow)]
    pub valid_until: Option<Cow<'a, str>>,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub dispute: Dispute,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u16>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub responsible_persons: Vec<ResponsiblePersonRecord<'a>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsiblePersonRecord<'a> {
    pub role: Role,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
}

impl EntryRecord<'_> {
    /// The same record, owning its text.
    pub fn into_owned(self) -> EntryRecord<'static> {
        let own = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        EntryRecord {
            entry_id: own(self.entry_id),
            list: own(self.list),
            subject_id: own(self.subject_id),
            legacy_ids: self.legacy_ids.into_iter().map(own).collect(),
            subject_name: self.subject_name.map(own),
            reason: self.reason.map(own),
            basis_doc: self.basis_doc.map(own),
            authority: self.authority.map(own),
            listed_on: own(self.listed_on),
            valid_until: self.valid_until.map(own),
            status: self.status,
            dispute: self.dispute,
            score: self.score,
            responsible_persons: self
                .responsible_persons
                .into_iter()
                .map(|p| ResponsiblePersonRecord {
                    role: p.role,
                    id: own(p.id),
                    name: p.name.map(own),
                })
                .collect(),
        }
    }
}

/// A person named in an entry (法定代表人 and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsiblePerson {
    pub role: Role,
    pub id: SubjectKey,
    pub name: Option<Box<str>>,
}

/// `valid_until` of an entry listed until removed.
const UNTIL_REMOVED: Timestamp = Timestamp(i64::MAX);
/// `score` of an entry without one.
const NO_SCORE: u16 = u16::MAX;

/// What a decision reads of an entry, in 24 bytes. Ten million of these are held in memory;
/// identifiers, names and reasons are text, kept apart (see `text.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub listed_on: Timestamp,
    valid_until: Timestamp,
    pub list: ListId,
    score: u16,
    pub status: Status,
    pub dispute: Dispute,
    /// The subject's identifier, or one of its legacy identifiers, fails its check character
    /// (loaded and matched exactly).
    pub check_mismatch: bool,
}

impl Facts {
    /// In force at `at`: active, no objection upheld against it (异议成立: the designating body
    /// found the information wrong), and `listed_on ≤ at < valid_until`.
    pub fn in_force(&self, at: Timestamp) -> bool {
        self.status == Status::Active
            && self.dispute != Dispute::Upheld
            && self.listed_on <= at
            && at < self.valid_until
    }

    /// Exclusive end; `None` = until removed.
    pub fn valid_until(&self) -> Option<Timestamp> {
        (self.valid_until != UNTIL_REMOVED).then_some(self.valid_until)
    }

    pub fn score(&self) -> Option<u16> {
        (self.score != NO_SCORE).then_some(self.score)
    }

    /// The facts in the binary list snapshot's 24 bytes (little-endian).
    pub(super) fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.listed_on.0.to_le_bytes());
        out[8..16].copy_from_slice(&self.valid_until.0.to_le_bytes());
        out[16..18].copy_from_slice(&(self.list.index() as u16).to_le_bytes());
        out[18..20].copy_from_slice(&self.score.to_le_bytes());
        out[20] = self.status as u8;
        out[21] = self.dispute as u8;
        out[22] = u8::from(self.check_mismatch);
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes); `None` if a field holds no valid value. `lists` are
    /// the rule set's list ids by index.
    pub(super) fn from_bytes(bytes: &[u8; 24], lists: &[ListId]) -> Option<Facts> {
        let word = |at: usize| i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        let list = u16::from_le_bytes([bytes[16], bytes[17]]);
        let status = [Status::Active, Status::Repaired, Status::Removed];
        let dispute = [
            Dispute::None,
            Dispute::UnderReview,
            Dispute::Upheld,
            Dispute::Rejected,
        ];
        let score = u16::from_le_bytes([bytes[18], bytes[19]]);
        Some(Facts {
            listed_on: Timestamp(word(0)),
            valid_until: Timestamp(word(8)),
            list: *lists.get(usize::from(list))?,
            score: (score <= SCORE_LIMIT || score == NO_SCORE).then_some(score)?,
            status: *status.get(usize::from(bytes[20]))?,
            dispute: *dispute.get(usize::from(bytes[21]))?,
            check_mismatch: match bytes[22] {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// A validated entry, owning its text. The list index keeps only [`Facts`] and the text's place
/// for the entries it was built with; changes and cold-list lookups arrive as these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub entry_id: Box<str>,
    pub subject: SubjectKey,
    /// The subject's older identifiers, which find this entry too.
    pub legacy_ids: Box<[SubjectKey]>,
    pub facts: Facts,
    pub subject_name: Option<Box<str>>,
    pub reason: Option<Box<str>>,
    pub basis_doc: Option<Box<str>>,
    pub authority: Option<Box<str>>,
    pub responsible_persons: Box<[ResponsiblePerson]>,
}

/// A record that passed validation, still borrowing its text: what the index is built from
/// without copying ten million names onto the heap.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    pub record: EntryRecord<'a>,
    pub subject: SubjectKey,
    /// The keys of `record.legacy_ids`, in order, without repeats.
    pub legacy_ids: Vec<SubjectKey>,
    pub facts: Facts,
    /// The keys of `record.responsible_persons`, in order.
    pub persons: Vec<SubjectKey>,
}

impl<'a> Checked<'a> {
    /// Validates a record against the rule set's lists.
    pub fn new(record: EntryRecord<'a>, rules: &RuleSet) -> Result<Checked<'a>, EntryError> {
        if record.entry_id.trim().is_empty() {
            return Err(EntryError::new("entry_id", "must not be empty"));
        }
        if record.entry_id.len() > MAX_ENTRY_ID_LEN {
            return Err(EntryError::new(
                "entry_id",
                format!("is longer than {MAX_ENTRY_ID_LEN} bytes"),
            ));
        }
        let list = rules
            .list_id(&record.list)
            .ok_or_else(|| EntryError::new("list", format!("unknown list `{}`", record.list)))?;
        let def = rules.list(list);
        if record.status == Status::Repaired && !def.repairable {
            return Err(EntryError::new(
                "status",
                format!("list `{}` is not repairable: its entries end by the decision of the court or designating body (deleted or shielded), not by credit repair; write `removed` and record that decision", def.code),
            ));
        }
        let subject = ident::parse(&record.subject_id)
            .map_err(|err| EntryError::new("subject_id", err.to_string()))?;
        let is_person = subject.id_type() == IdType::ResidentId;
        match (def.subjects, is_person) {
            (SubjectScope::Organizations, true) => {
                return Err(EntryError::new(
                    "subject_id",
                    format!("list `{}` holds organisations, not persons", def.code),
                ))
            }
            (SubjectScope::Persons, false) => {
                return Err(EntryError::new(
                    "subject_id",
                    format!("list `{}` holds persons, not organisations", def.code),
                ))
            }
            _ => {}
        }
        let (legacy_ids, legacy_mismatch) = legacy_ids(&record, subject.key(), is_person)?;
        let listed_on = Timestamp::parse(&record.listed_on)
            .map_err(|err| EntryError::new("listed_on", err.to_string()))?;
        let valid_until = record
            .valid_until
            .as_deref()
            .map(Timestamp::parse)
            .transpose()
            .map_err(|err| EntryError::new("valid_until", err.to_string()))?;
        if def.requires_valid_until && valid_until.is_none() {
            return Err(EntryError::new(
                "valid_until",
                format!("is required on list `{}`: its entries last the period the deciding body set, and must say when it ends", def.code),
            ));
        }
        if valid_until.is_some_and(|until| until <= listed_on) {
            return Err(EntryError::new(
                "valid_until",
                "must be later than listed_on",
            ));
        }
        match (def.scored, record.score) {
            (true, None) => {
                return Err(EntryError::new(
                    "score",
                    format!("is required on scored list `{}`", def.code),
                ))
            }
            (false, Some(_)) => {
                return Err(EntryError::new(
                    "score",
                    format!("only scored lists carry a score, `{}` does not", def.code),
                ))
            }
            (_, Some(score)) => match &rules.score_scale {
                Some(scale) if !scale.contains(score) => {
                    return Err(EntryError::new(
                        "score",
                        format!(
                            "{score} is outside the rule set's score scale {}–{}",
                            scale.min, scale.max
                        ),
                    ))
                }
                _ => {}
            },
            _ => {}
        }
        let persons = record
            .responsible_persons
            .iter()
            .enumerate()
            .map(|(i, person)| {
                ident::parse_as(&person.id, IdType::ResidentId)
                    .map(|id| id.key())
                    .map_err(|err| {
                        EntryError::new(format!("responsible_persons[{i}].id"), err.to_string())
                    })
            })
            .collect::<Result<Vec<_>, EntryError>>()?;
        let facts = Facts {
            listed_on,
            valid_until: valid_until.unwrap_or(UNTIL_REMOVED),
            list,
            score: record.score.unwrap_or(NO_SCORE),
            status: record.status,
            dispute: record.dispute,
            check_mismatch: matches!(subject.check(), CheckOutcome::Mismatch { .. })
                || legacy_mismatch,
        };
        Ok(Checked {
            record,
            subject: subject.key(),
            legacy_ids,
            facts,
            persons,
        })
    }
}

/// Reads an entry's `legacy_ids`: each an organisation code (with or without its hyphen) or a
/// 15-digit registration number, read by its length, so that fifteen digits are never taken
/// for a person here. Repeats, the subject's own identifier and the organisation code its USCC
/// embeds are dropped: the subject is found by those already. Also says whether a check
/// character failed (the identifier is kept and matched exactly, as a subject's is).
fn legacy_ids(
    record: &EntryRecord<'_>,
    subject: SubjectKey,
    is_person: bool,
) -> Result<(Vec<SubjectKey>, bool), EntryError> {
    if record.legacy_ids.is_empty() {
        return Ok((Vec::new(), false));
    }
    if is_person {
        return Err(EntryError::new(
            "legacy_ids",
            "a person's entry carries no legacy identifiers: they are organisation codes and registration numbers",
        ));
    }
    if record.legacy_ids.len() > MAX_LEGACY_IDS {
        return Err(EntryError::new(
            "legacy_ids",
            format!("holds more than {MAX_LEGACY_IDS} identifiers"),
        ));
    }
    let mut keys = Vec::with_capacity(record.legacy_ids.len());
    let mut mismatch = false;
    for (i, raw) in record.legacy_ids.iter().enumerate() {
        let field = || format!("legacy_ids[{i}]");
        let id_type = legacy_type(raw).ok_or_else(|| {
            EntryError::new(
                field(),
                "must be an organisation code (9 characters, or 10 with the hyphen XXXXXXXX-X) or a 15-digit registration number",
            )
        })?;
        let id = ident::parse_as(raw, id_type)
            .map_err(|err| EntryError::new(field(), err.to_string()))?;
        mismatch |= !id.check().is_valid();
        keep_legacy(&mut keys, id.key(), subject);
    }
    Ok((keys, mismatch))
}

/// Adds `id` to an entry's legacy keys unless it is a repeat or its subject is found by it
/// already (its own identifier, the organisation code its USCC embeds).
fn keep_legacy(keys: &mut Vec<SubjectKey>, id: SubjectKey, subject: SubjectKey) {
    if id != subject && subject.embedded_org_code() != Some(id) && !keys.contains(&id) {
        keys.push(id);
    }
}

impl Checked<'_> {
    /// The persons the entry names, with their roles.
    pub fn named(&self) -> impl Iterator<Item = (SubjectKey, Role)> + '_ {
        let roles = self.record.responsible_persons.iter().map(|p| p.role);
        self.persons.iter().copied().zip(roles)
    }
}

impl From<Checked<'_>> for Entry {
    fn from(checked: Checked<'_>) -> Entry {
        let record = checked.record;
        let responsible_persons = record
            .responsible_persons
            .into_iter()
            .zip(checked.persons)
            .map(|(person, id)| ResponsiblePerson {
                role: person.role,
                id,
                name: person.name.map(boxed),
            })
            .collect();
        Entry {
            entry_id: boxed(record.entry_id),
            subject: checked.subject,
            legacy_ids: checked.legacy_ids.into(),
            facts: checked.facts,
            subject_name: record.subject_name.map(boxed),
            reason: record.reason.map(boxed),
            basis_doc: record.basis_doc.map(boxed),
            authority: record.authority.map(boxed),
            responsible_persons,
        }
    }
}

impl Entry {
    /// Validates a record against the rule set's lists.
    pub fn from_record(record: EntryRecord<'_>, rules: &RuleSet) -> Result<Entry, EntryError> {
        Checked::new(record, rules).map(Entry::from)
    }

    /// The exchange form of this entry.
    pub fn to_record(&self, rules: &RuleSet) -> EntryRecord<'_> {
        fn text(s: &Option<Box<str>>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        EntryRecord {
            entry_id: Cow::Borrowed(&self.entry_id),
            list: Cow::Owned(rules.list(self.facts.list).code.clone()),
            subject_id: Cow::Owned(self.subject.to_id_string()),
            legacy_ids: self
                .legacy_ids
                .iter()
                .map(|id| Cow::Owned(id.to_id_string()))
                .collect(),
            subject_name: text(&self.subject_name),
            reason: text(&self.reason),
            basis_doc: text(&self.basis_doc),
            authority: text(&self.authority),
            listed_on: Cow::Owned(self.facts.listed_on.to_date_or_datetime()),
            valid_until: self
                .facts
                .valid_until()
                .map(|t| Cow::Owned(t.to_date_or_datetime())),
            status: self.facts.status,
            dispute: self.facts.dispute,
            score: self.facts.score(),
            responsible_persons: self
                .responsible_persons
                .iter()
                .map(|p| ResponsiblePersonRecord {
                    role: p.role,
                    id: Cow::Owned(p.id.to_id_string()),
                    name: text(&p.name),
                })
                .collect(),
        }
    }
}

fn boxed(text: Cow<'_, str>) -> Box<str> {
    Box::from(text.as_ref())
}

/// Why an entry record was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EntryError {
    pub field: String,
    pub message: String,
}

impl EntryError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> EntryError {
        EntryError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An entry as the index hands it out: its facts at hand, its text read when asked for.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub subject: SubjectKey,
    pub facts: Facts,
    text: Text<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Text<'a> {
    /// A row of the index's text store.
    Stored(&'a TextStore, u32),
    Owned(&'a Entry),
}

/// The part of an entry's JSON that says whose entry it is.
#[derive(Deserialize)]
struct Naming<'a> {
    #[serde(borrow)]
    entry_id: Cow<'a, str>,
    #[serde(borrow)]
    subject_id: Cow<'a, str>,
    #[serde(default, borrow)]
    subject_name: Option<Cow<'a, str>>,
}

/// An entry's id and the subject's name on it.
pub struct Named {
    pub entry_id: String,
    pub subject_name: Option<String>,
}

impl<'a> EntryRef<'a> {
    pub(super) fn stored(subject: SubjectKey, facts: Facts, text: &'a TextStore, row: u32) -> Self {
        EntryRef {
            subject,
            facts,
            text: Text::Stored(text, row),
        }
    }

    /// The stored JSON, once it is known to still be this entry's (a list file edited in place
    /// may hold another line there now).
    fn stored_json(&self, store: &TextStore, row: u32) -> Result<(Vec<u8>, Named), TextError> {
        let json = store.get(row)?;
        let naming: Naming<'_> = serde_json::from_slice(&json)?;
        if ident::parse(&naming.subject_id).map(|id| id.key()) != Ok(self.subject) {
            return Err(TextError::Changed);
        }
        let named = Named {
            entry_id: naming.entry_id.into_owned(),
            subject_name: naming.subject_name.map(Cow::into_owned),
        };
        Ok((json, named))
    }

    pub fn entry_id(&self) -> Result<Cow<'a, str>, TextError> {
        match self.text {
            Text::Stored(store, row) => Ok(Cow::Owned(self.stored_json(store, row)?.1.entry_id)),
            Text::Owned(entry) => Ok(Cow::Borrowed(&entry.entry_id)),
        }
    }

    /// The entry's id and the subject's name on it, read together (one parse of the text).
    pub fn naming(&self) -> Result<Named, TextError> {
        match self.text {
            Text::Stored(store, row) => Ok(self.stored_json(store, row)?.1),
            Text::Owned(entry) => Ok(Named {
                entry_id: entry.entry_id.to_string(),
                subject_name: entry.subject_name.as_deref().map(str::to_owned),
            }),
        }
    }

    /// The exchange form, with identifiers and dates in their normalised form.
    pub fn record(&self, rules: &RuleSet) -> Result<EntryRecord<'a>, TextError> {
        let (store, row) = match self.text {
            Text::Stored(store, row) => (store, row),
            Text::Owned(entry) => return Ok(entry.to_record(rules)),
        };
        let (json, _) = self.stored_json(store, row)?;
        let mut record = serde_json::from_slice::<EntryRecord<'_>>(&json)?.into_owned();
        record.subject_id = Cow::Owned(self.subject.to_id_string());
        record.legacy_ids = legacy_keys(&record, self.subject)
            .into_iter()
            .map(|id| Cow::Owned(id.to_id_string()))
            .collect();
        record.listed_on = Cow::Owned(self.facts.listed_on.to_date_or_datetime());
        record.valid_until = self
            .facts
            .valid_until()
            .map(|t| Cow::Owned(t.to_date_or_datetime()));
        for person in &mut record.responsible_persons {
            if let Ok(id) = ident::parse_as(&person.id, IdType::ResidentId) {
                person.id = Cow::Owned(id.to_string());
            }
        }
        Ok(record)
    }

    /// The keys of the persons the entry names.
    /// The keys of the entry's older identifiers, as validation keeps them.
    pub(super) fn legacy_ids(&self) -> Result<Vec<SubjectKey>, TextError> {
        let (store, row) = match self.text {
            Text::Stored(store, row) => (store, row),
            Text::Owned(entry) => return Ok(entry.legacy_ids.to_vec()),
        };
        let (json, _) = self.stored_json(store, row)?;
        let record: EntryRecord<'_> = serde_json::from_slice(&json)?;
        Ok(legacy_keys(&record, self.subject))
    }

    pub(super) fn persons(&self) -> Result<Vec<SubjectKey>, TextError> {
        let (store, row) = match self.text {
            Text::Stored(store, row) => (store, row),
            Text::Owned(entry) => {
                return Ok(entry.responsible_persons.iter().map(|p| p.id).collect())
            }
        };
        let (json, _) = self.stored_json(store, row)?;
        let record: EntryRecord<'_> = serde_json::from_slice(&json)?;
        Ok(record
            .responsible_persons
            .iter()
            .filter_map(|p| ident::parse_as(&p.id, IdType::ResidentId).ok())
            .map(|id| id.key())
            .collect())
    }
}

/// The type of a legacy identifier, told by its length.
fn legacy_type(raw: &str) -> Option<IdType> {
    match ident::normalize(raw).chars().count() {
        9 | 10 => Some(IdType::OrgCode),
        15 => Some(IdType::RegistrationNumber),
        _ => None,
    }
}

/// The keys of a stored record's legacy identifiers (it was validated when it was stored), as
/// validation keeps them.
fn legacy_keys(record: &EntryRecord<'_>, subject: SubjectKey) -> Vec<SubjectKey> {
    let mut keys = Vec::new();
    for raw in &record.legacy_ids {
        if let Some(id) = legacy_type(raw).and_then(|t| ident::parse_as(raw, t).ok()) {
            keep_legacy(&mut keys, id.key(), subject);
        }
    }
    keys
}

impl<'a> From<&'a Entry> for EntryRef<'a> {
    fn from(entry: &'a Entry) -> Self {
        EntryRef {
            subject: entry.subject,
            facts: entry.facts,
            text: Text::Owned(entry),
        }
    }
}
