//! The builder: entries pushed in any order, sorted by subject and person into a base.

use std::io;

use rayon::slice::ParallelSliceMut;

use super::carriers::{Carrier, Carriers, Embedded};
use super::runs::Runs;
use super::{Base, ListIndex, Named};
use crate::ident::SubjectKey;
use crate::lists::entry::{Entry, Facts};
use crate::lists::text::TextWriter;
use crate::ruleset::{Role, RuleSet};

impl ListIndex {
    /// Builds an index of owned entries (tests, and changes folded in by compaction).
    pub fn build(entries: &[Entry], rules: &RuleSet) -> io::Result<ListIndex> {
        let mut builder = IndexBuilder::new()?;
        for entry in entries {
            builder.push_entry(entry, rules)?;
        }
        builder.finish(rules.lists().len())
    }
}

/// Collects entries, in any order, into an index.
pub(in crate::lists) struct IndexBuilder {
    /// Each pushed entry's subject and push position.
    subjects: Vec<(SubjectKey, u32)>,
    facts: Vec<Facts>,
    /// (person, push position, role).
    named: Vec<(SubjectKey, u32, Role)>,
    /// (older identifier, subject carrying it).
    legacy: Vec<(SubjectKey, SubjectKey)>,
    pub(super) text: TextWriter,
    /// Push positions left out of the index.
    skipped: Vec<u32>,
}

impl IndexBuilder {
    /// A builder that copies each entry's text to a file of its own.
    pub fn new() -> io::Result<IndexBuilder> {
        Ok(IndexBuilder::writing_to(TextWriter::new()?))
    }

    /// A builder for entries whose text stays in `source`, the list file they are read from.
    pub fn over(source: std::fs::File) -> IndexBuilder {
        IndexBuilder::writing_to(TextWriter::over(source))
    }

    fn writing_to(text: TextWriter) -> IndexBuilder {
        IndexBuilder {
            subjects: Vec::new(),
            facts: Vec::new(),
            named: Vec::new(),
            legacy: Vec::new(),
            text,
            skipped: Vec::new(),
        }
    }

    /// Entries pushed so far.
    pub fn pushed(&self) -> u32 {
        self.facts.len() as u32
    }

    /// Leaves the `position`-th entry pushed out of the index (a repeat).
    pub fn skip(&mut self, position: u32) {
        self.skipped.push(position);
    }

    /// Adds an entry: its subject, facts, named persons and exchange JSON.
    pub fn push(
        &mut self,
        subject: SubjectKey,
        facts: Facts,
        persons: impl IntoIterator<Item = (SubjectKey, Role)>,
        json: &[u8],
    ) -> io::Result<()> {
        self.text.push(json)?;
        self.record(subject, facts, persons);
        Ok(())
    }

    /// Adds an entry whose exchange JSON the text's file already holds, `len` bytes at `start`.
    pub fn push_at(
        &mut self,
        subject: SubjectKey,
        facts: Facts,
        persons: impl IntoIterator<Item = (SubjectKey, Role)>,
        (start, len): (u64, usize),
    ) -> io::Result<()> {
        self.text.push_at(start, len)?;
        self.record(subject, facts, persons);
        Ok(())
    }

    fn record(
        &mut self,
        subject: SubjectKey,
        facts: Facts,
        persons: impl IntoIterator<Item = (SubjectKey, Role)>,
    ) {
        let position = self.facts.len() as u32;
        self.subjects.push((subject, position));
        self.facts.push(facts);
        self.named.extend(
            persons
                .into_iter()
                .map(|(person, role)| (person, position, role)),
        );
    }

    /// Records that `subject` also goes by the older identifiers `legacy_ids` (an entry's).
    pub fn carry(&mut self, subject: SubjectKey, legacy_ids: &[SubjectKey]) {
        self.legacy
            .extend(legacy_ids.iter().map(|&legacy| (legacy, subject)));
    }

    /// Adds an owned entry, writing its exchange JSON.
    pub fn push_entry(&mut self, entry: &Entry, rules: &RuleSet) -> io::Result<()> {
        let json = serde_json::to_vec(&entry.to_record(rules))?;
        let persons = entry.responsible_persons.iter().map(|p| (p.id, p.role));
        self.carry(entry.subject, &entry.legacy_ids);
        self.push(entry.subject, entry.facts, persons, &json)
    }

    /// The `entry_id` of the `i`-th entry pushed, read back from its text (for the rare ids
    /// whose hashes collide when repeats are looked for).
    pub fn pushed_entry_id(&mut self, i: u32) -> io::Result<String> {
        let json = self.text.text(i)?;
        let record: crate::lists::EntryRecord<'_> = serde_json::from_slice(&json)?;
        Ok(record.entry_id.into_owned())
    }

    /// Sorts by subject and person and builds the lookup tables; `list_count` is the number of
    /// lists of the rule set the entries were validated against.
    pub fn finish(self, list_count: usize) -> io::Result<ListIndex> {
        let IndexBuilder {
            mut subjects,
            facts: pushed,
            mut named,
            legacy,
            text,
            skipped,
        } = self;
        if !skipped.is_empty() {
            let mut kept = vec![true; pushed.len()];
            for position in skipped {
                kept[position as usize] = false;
            }
            subjects.retain(|&(_, position)| kept[position as usize]);
            named.retain(|&(_, position, _)| kept[position as usize]);
        }
        subjects.par_sort_unstable();
        let order: Vec<u32> = subjects.iter().map(|&(_, position)| position).collect();
        let text = text.finish(&order)?;
        let mut row_of = vec![0u32; pushed.len()];
        for (row, &position) in order.iter().enumerate() {
            row_of[position as usize] = row as u32;
        }
        let facts: Vec<Facts> = order.iter().map(|&p| pushed[p as usize]).collect();
        drop(pushed);
        let subject_runs = Runs::new(subjects.iter().map(|&(key, _)| key));
        drop(subjects);

        named
            .par_sort_unstable_by_key(|&(person, position, _)| (person, row_of[position as usize]));
        let person_runs = Runs::new(named.iter().map(|&(key, _, _)| key));
        let mut subject_of_row = vec![0u32; facts.len()];
        for i in 0..subject_runs.len() {
            for row in subject_runs.run(i) {
                subject_of_row[row as usize] = i as u32;
            }
        }
        // Collected into a new allocation: reusing the 32-byte elements' one in place would keep
        // more than twice the memory the 12-byte ones need.
        let named: Vec<Named> = named
            .iter()
            .map(|&(_, position, role)| {
                let row = row_of[position as usize];
                Named {
                    row,
                    subject: subject_of_row[row as usize],
                    role,
                }
            })
            .collect();

        // Subjects filed under an older identifier carry it themselves.
        let filed = subject_runs
            .keys()
            .filter(|key| key.id_type().is_legacy())
            .map(|key| (key, key));
        let legacy = Carriers::new(
            legacy
                .into_iter()
                .chain(filed)
                .filter_map(|(code, subject)| {
                    let subject = subject_runs.position(subject)?;
                    Some(Carrier {
                        code: code.to_words(),
                        subject,
                    })
                })
                .collect(),
        );
        let embedded = Embedded::of(&subject_runs);
        let base = Base {
            facts,
            subjects: subject_runs,
            named,
            persons: person_runs,
            legacy,
            embedded,
            text,
        };
        Ok(ListIndex::of_base(base, list_count))
    }
}
