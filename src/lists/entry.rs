//! One subject on one list (DESIGN.md §3.1): the exchange record as written in JSON Lines, and
//! the validated in-memory entry it becomes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::ident::{self, CheckOutcome, IdType, SubjectKey};
use crate::ruleset::{ListId, Role, RuleSet, SubjectScope};
use crate::timestamp::Timestamp;

/// Longest `entry_id` accepted; identifiers are references, not documents.
const MAX_ENTRY_ID_LEN: usize = 128;

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

/// A validated entry. Identifiers are packed keys; the text is kept for explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub entry_id: Box<str>,
    pub list: ListId,
    pub subject: SubjectKey,
    pub subject_name: Option<Box<str>>,
    pub reason: Option<Box<str>>,
    pub basis_doc: Option<Box<str>>,
    pub authority: Option<Box<str>>,
    pub listed_on: Timestamp,
    /// Exclusive end; `None` = until removed.
    pub valid_until: Option<Timestamp>,
    pub status: Status,
    pub dispute: Dispute,
    pub score: Option<u16>,
    pub responsible_persons: Box<[ResponsiblePerson]>,
    /// The subject's identifier fails its check character (loaded and matched exactly).
    pub check_mismatch: bool,
}

impl Entry {
    /// In force at `at`: active and `listed_on ≤ at < valid_until` (DESIGN.md §3.1).
    pub fn in_force(&self, at: Timestamp) -> bool {
        self.status == Status::Active
            && self.listed_on <= at
            && self.valid_until.is_none_or(|until| at < until)
    }

    /// Validates a record against the rule set's lists.
    pub fn from_record(record: EntryRecord<'_>, rules: &RuleSet) -> Result<Entry, EntryError> {
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
        let listed_on = Timestamp::parse(&record.listed_on)
            .map_err(|err| EntryError::new("listed_on", err.to_string()))?;
        let valid_until = record
            .valid_until
            .as_deref()
            .map(Timestamp::parse)
            .transpose()
            .map_err(|err| EntryError::new("valid_until", err.to_string()))?;
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
            _ => {}
        }
        let responsible_persons = record
            .responsible_persons
            .into_iter()
            .enumerate()
            .map(|(i, person)| {
                let field = || format!("responsible_persons[{i}].id");
                let id = ident::parse_as(&person.id, IdType::ResidentId)
                    .map_err(|err| EntryError::new(field(), err.to_string()))?;
                Ok(ResponsiblePerson {
                    role: person.role,
                    id: id.key(),
                    name: person.name.map(boxed),
                })
            })
            .collect::<Result<Box<[_]>, EntryError>>()?;
        Ok(Entry {
            entry_id: boxed(record.entry_id),
            list,
            subject: subject.key(),
            subject_name: record.subject_name.map(boxed),
            reason: record.reason.map(boxed),
            basis_doc: record.basis_doc.map(boxed),
            authority: record.authority.map(boxed),
            listed_on,
            valid_until,
            status: record.status,
            dispute: record.dispute,
            score: record.score,
            responsible_persons,
            check_mismatch: matches!(subject.check(), CheckOutcome::Mismatch { .. }),
        })
    }

    /// The exchange form of this entry.
    pub fn to_record(&self, rules: &RuleSet) -> EntryRecord<'static> {
        let text = |s: &Option<Box<str>>| s.as_deref().map(|s| Cow::Owned(s.to_owned()));
        EntryRecord {
            entry_id: Cow::Owned(self.entry_id.to_string()),
            list: Cow::Owned(rules.list(self.list).code.clone()),
            subject_id: Cow::Owned(self.subject.to_id_string()),
            subject_name: text(&self.subject_name),
            reason: text(&self.reason),
            basis_doc: text(&self.basis_doc),
            authority: text(&self.authority),
            listed_on: Cow::Owned(self.listed_on.to_date_or_datetime()),
            valid_until: self
                .valid_until
                .map(|t| Cow::Owned(t.to_date_or_datetime())),
            status: self.status,
            dispute: self.dispute,
            score: self.score,
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
