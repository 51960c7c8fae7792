//! The change stream decoded once, against the rules in use, into what each change does: the
//! snapshot applies it and the cold-list cache forgets the subjects it touches, and neither
//! reads the stream's text again.

use crate::ident::{self, SubjectKey};
use crate::lists::{Entry, EntryRecord};
use crate::ruleset::RuleSet;

/// One record of the change stream, as Redis holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamRecord {
    pub version: u64,
    /// A delete; else a put.
    pub delete: bool,
    pub entry_id: String,
    /// The new entry's JSON record (empty for a delete).
    pub entry_json: String,
    /// The subject the entry was stored under before this change (empty for a new entry).
    pub old_subject: String,
}

/// One change of the lists, decoded.
#[derive(Debug)]
pub struct Change {
    pub version: u64,
    /// The subject the entry was stored under before this change, if any.
    pub replaced: Option<SubjectKey>,
    pub kind: ChangeKind,
}

#[derive(Debug)]
pub enum ChangeKind {
    /// An entry created or replaced.
    Put(Entry),
    /// An entry removed.
    Delete { entry_id: String },
    /// An entry that cannot be taken (its text does not parse, or the rules in use refuse
    /// it): counted and logged, not applied.
    Refused {
        /// The subject the entry names, if that much could be read.
        subject: Option<SubjectKey>,
        error: String,
    },
}

impl Change {
    /// Decodes one stream record against `rules`.
    pub(crate) fn decode(record: StreamRecord, rules: &RuleSet) -> Change {
        let replaced = ident::parse(&record.old_subject).ok().map(|s| s.key());
        let kind = if record.delete {
            ChangeKind::Delete {
                entry_id: record.entry_id,
            }
        } else {
            match serde_json::from_str::<EntryRecord<'_>>(&record.entry_json) {
                Err(err) => ChangeKind::Refused {
                    subject: None,
                    error: err.to_string(),
                },
                Ok(parsed) => {
                    let subject = ident::parse(&parsed.subject_id).ok().map(|s| s.key());
                    match Entry::from_record(parsed, rules) {
                        Ok(entry) => ChangeKind::Put(entry),
                        Err(err) => ChangeKind::Refused {
                            subject,
                            error: format!("refused by the current rule set: {err}"),
                        },
                    }
                }
            }
        };
        Change {
            version: record.version,
            replaced,
            kind,
        }
    }

    /// The subjects whose entries this change may alter.
    pub fn subjects(&self) -> impl Iterator<Item = SubjectKey> + '_ {
        let named = match &self.kind {
            ChangeKind::Put(entry) => Some(entry.subject),
            ChangeKind::Refused { subject, .. } => *subject,
            ChangeKind::Delete { .. } => None,
        };
        named.into_iter().chain(self.replaced)
    }
}
