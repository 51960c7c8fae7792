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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::testing::mini;

    const COMPANY: &str = "91230200MA1B2C3D8T";
    const OTHER: &str = "91230202MA18XK7PXM";

    fn put(json: &str, old_subject: &str) -> StreamRecord {
        StreamRecord {
            version: 7,
            delete: false,
            entry_id: "e1".into(),
            entry_json: json.into(),
            old_subject: old_subject.into(),
        }
    }

    fn key(id: &str) -> SubjectKey {
        ident::parse(id).unwrap().key()
    }

    #[test]
    fn a_put_is_decoded_into_its_entry_and_the_subject_it_replaced() {
        let json = format!(
            r#"{{"entry_id":"e1","list":"debtor","subject_id":"{COMPANY}","listed_on":"2026-03-01"}}"#
        );
        let change = Change::decode(put(&json, OTHER), &mini());
        assert_eq!((change.version, change.replaced), (7, Some(key(OTHER))));
        let ChangeKind::Put(entry) = &change.kind else {
            panic!("{change:?}")
        };
        assert_eq!((&*entry.entry_id, entry.subject), ("e1", key(COMPANY)));
        assert_eq!(
            change.subjects().collect::<Vec<_>>(),
            [key(COMPANY), key(OTHER)]
        );
    }

    #[test]
    fn an_entry_the_rules_refuse_is_refused_with_why_and_still_names_its_subject() {
        let json = format!(
            r#"{{"entry_id":"e1","list":"no_such_list","subject_id":"{COMPANY}","listed_on":"2026-03-01"}}"#
        );
        let change = Change::decode(put(&json, ""), &mini());
        let ChangeKind::Refused { subject, error } = &change.kind else {
            panic!("{change:?}")
        };
        assert_eq!(*subject, Some(key(COMPANY)));
        assert!(
            error.starts_with("refused by the current rule set"),
            "{error}"
        );
        assert!(change.replaced.is_none());

        let unreadable = Change::decode(put("{", COMPANY), &mini());
        assert!(matches!(
            unreadable.kind,
            ChangeKind::Refused { subject: None, .. }
        ));
        assert_eq!(unreadable.subjects().collect::<Vec<_>>(), [key(COMPANY)]);
    }

    #[test]
    fn a_delete_names_the_entry_and_the_subject_it_was_under() {
        let record = StreamRecord {
            delete: true,
            entry_json: String::new(),
            ..put("", COMPANY)
        };
        let change = Change::decode(record, &mini());
        assert!(matches!(&change.kind, ChangeKind::Delete { entry_id } if entry_id == "e1"));
        assert_eq!(change.subjects().collect::<Vec<_>>(), [key(COMPANY)]);
    }
}
