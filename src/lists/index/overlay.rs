//! The overlay of changes: the complete current entries of every subject and person a change
//! touched since the base was built, and compaction, which folds them into a new base.

use std::sync::Arc;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

use super::builder::IndexBuilder;
use super::{Base, ListIndex};
use crate::ident::SubjectKey;
use crate::lists::entry::{Entry, EntryRef};
use crate::lists::text::TextError;
use crate::ruleset::{Role, RuleSet};

/// One current entry of a subject changed since the base was built.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A base row, and its subject.
    Base(u32, SubjectKey),
    Changed(Arc<Entry>),
}

/// The complete current entries of every subject and person changed since the base was built.
#[derive(Debug, Default, Clone)]
pub(super) struct Overlay {
    pub(super) subjects: FxHashMap<SubjectKey, Arc<[Item]>>,
    /// Entries naming the person, with the role it names them in.
    pub(super) persons: FxHashMap<SubjectKey, Arc<[(Item, Role)]>>,
    /// Every subject that carries an older identifier (the base's, legacy and embedded, and
    /// those that changes added), for the identifiers changes touched.
    pub(super) carriers: FxHashMap<SubjectKey, Arc<[SubjectKey]>>,
    /// A change added an entry filed under an older identifier or carrying one.
    pub(super) carries_legacy: bool,
}

impl Base {
    /// Every row's named persons, ordered by row (compaction's view of `named`).
    fn persons_by_row(&self) -> Vec<(u32, SubjectKey, Role)> {
        let mut by_row: Vec<(u32, SubjectKey, Role)> = (0..self.persons.len())
            .flat_map(|i| {
                let key = self.persons.key(i);
                let run = self.persons.run(i);
                self.named[run.start as usize..run.end as usize]
                    .iter()
                    .map(move |n| (n.row, key, n.role))
            })
            .collect();
        by_row.par_sort_unstable_by_key(|&(row, _, _)| row);
        by_row
    }
}

impl ListIndex {
    pub(super) fn item<'a>(&'a self, item: &'a Item) -> EntryRef<'a> {
        match item {
            Item::Base(row, subject) => self.base.entry(*subject, *row),
            Item::Changed(entry) => EntryRef::from(&**entry),
        }
    }

    /// A new index with `entry` stored (created or replacing the entry of the same id, which
    /// `previous_subject` holds if it exists). Copies the overlay, never the base. Fails only if
    /// the text of an entry it replaces cannot be read back.
    pub fn with_entry(
        &self,
        entry: Entry,
        previous_subject: Option<SubjectKey>,
    ) -> Result<ListIndex, TextError> {
        let entry_id = entry.entry_id.clone();
        self.changed(&entry_id, Some(Arc::new(entry)), previous_subject)
    }

    /// A new index without the entry `entry_id` of `subject`.
    pub fn without_entry(
        &self,
        entry_id: &str,
        subject: SubjectKey,
    ) -> Result<ListIndex, TextError> {
        self.changed(entry_id, None, Some(subject))
    }

    /// The current entries of a subject, as overlay items.
    fn subject_items(&self, subject: SubjectKey) -> Vec<Item> {
        match self.overlay.subjects.get(&subject) {
            Some(items) => items.to_vec(),
            None => (self.base.subjects.get(subject))
                .map(|row| Item::Base(row, subject))
                .collect(),
        }
    }

    /// The current entries naming a person, as overlay items.
    fn person_items(&self, person: SubjectKey) -> Vec<(Item, Role)> {
        match self.overlay.persons.get(&person) {
            Some(items) => items.to_vec(),
            None => {
                let run = self.base.persons.get(person);
                self.base.named[run.start as usize..run.end as usize]
                    .iter()
                    .map(|n| {
                        let subject = self.base.subjects.key(n.subject as usize);
                        (Item::Base(n.row, subject), n.role)
                    })
                    .collect()
            }
        }
    }

    /// The older identifiers the subject's entries list, as the changed `overlay` holds them
    /// (every subject a change touches is in it).
    fn listed_legacy_ids(
        &self,
        overlay: &Overlay,
        subject: SubjectKey,
    ) -> Result<Vec<SubjectKey>, TextError> {
        let mut codes = Vec::new();
        for item in overlay
            .subjects
            .get(&subject)
            .into_iter()
            .flat_map(|items| items.iter())
        {
            codes.extend(self.item(item).legacy_ids()?);
        }
        Ok(codes)
    }

    fn changed(
        &self,
        entry_id: &str,
        entry: Option<Arc<Entry>>,
        previous_subject: Option<SubjectKey>,
    ) -> Result<ListIndex, TextError> {
        let mut next = self.clone();
        let mut overlay = (*self.overlay).clone();
        let is_other =
            |e: EntryRef<'_>| -> Result<bool, TextError> { Ok(e.entry_id()? != entry_id) };
        // A change replayed after a load may find its entry already at the new subject.
        let mut previous: Option<EntryRef<'_>> = None;
        for subject in previous_subject
            .into_iter()
            .chain(entry.as_ref().map(|e| e.subject))
        {
            for e in self.entries_of(subject) {
                if previous.is_none() && !is_other(e)? {
                    previous = Some(e);
                }
            }
        }

        let mut touched_subjects: Vec<SubjectKey> = entry
            .iter()
            .map(|e| e.subject)
            .chain(previous.map(|e| e.subject))
            .collect();
        touched_subjects.dedup();
        for subject in touched_subjects {
            let before = self.subject_items(subject);
            let mut after = Vec::with_capacity(before.len() + 1);
            for item in &before {
                if is_other(self.item(item))? {
                    after.push(item.clone());
                }
            }
            after.extend(
                entry
                    .iter()
                    .filter(|e| e.subject == subject)
                    .map(|e| Item::Changed(e.clone())),
            );
            match (before.is_empty(), after.is_empty()) {
                (true, false) => next.counts.subjects += 1,
                (false, true) => next.counts.subjects -= 1,
                _ => {}
            }
            overlay.subjects.insert(subject, after.into());
        }

        let mut touched_persons: Vec<SubjectKey> = match previous {
            Some(previous) => previous.persons()?,
            None => Vec::new(),
        };
        touched_persons.extend(
            entry
                .iter()
                .flat_map(|e| e.responsible_persons.iter().map(|p| p.id)),
        );
        touched_persons.sort_unstable();
        touched_persons.dedup();
        for person in touched_persons {
            let mut after = Vec::new();
            for (item, role) in self.person_items(person) {
                if is_other(self.item(&item))? {
                    after.push((item, role));
                }
            }
            if let Some(entry) = &entry {
                for named in entry.responsible_persons.iter().filter(|p| p.id == person) {
                    after.push((Item::Changed(entry.clone()), named.role));
                }
            }
            overlay.persons.insert(person, after.into());
        }

        // A subject carries an older identifier while one of its entries lists it; the code a
        // USCC embeds and the identifier a subject is filed under stay tied to it.
        let mut ties: Vec<(SubjectKey, SubjectKey)> = match previous {
            Some(previous) => (previous.legacy_ids()?.into_iter())
                .map(|code| (code, previous.subject))
                .collect(),
            None => Vec::new(),
        };
        if let Some(entry) = &entry {
            let filed = entry.subject.id_type().is_legacy().then_some(entry.subject);
            overlay.carries_legacy |= filed.is_some() || !entry.legacy_ids.is_empty();
            let codes = (entry.legacy_ids.iter().copied())
                .chain(entry.subject.embedded_org_code())
                .chain(filed);
            ties.extend(codes.map(|code| (code, entry.subject)));
        }
        ties.sort_unstable();
        ties.dedup();
        // The older identifiers each touched subject's entries list, read once per subject.
        let mut listed: Vec<(SubjectKey, Vec<SubjectKey>)> = Vec::new();
        for (code, subject) in ties {
            let carries = code == subject || subject.embedded_org_code() == Some(code) || {
                if !listed.iter().any(|(s, _)| *s == subject) {
                    listed.push((subject, self.listed_legacy_ids(&overlay, subject)?));
                }
                listed
                    .iter()
                    .any(|(s, codes)| *s == subject && codes.contains(&code))
            };
            let mut carriers: Vec<SubjectKey> = match overlay.carriers.get(&code) {
                Some(carriers) => carriers.to_vec(),
                None => self.carriers(code, true).collect(),
            };
            let before = carriers.len();
            carriers.retain(|&carrier| carrier != subject);
            if carries {
                carriers.push(subject);
            }
            if carriers.len() == before {
                continue;
            }
            let in_base = self.base.legacy.contains(code)
                || self.base.embedded.contains(code, &self.base.subjects);
            if carriers.is_empty() && !in_base {
                overlay.carriers.remove(&code);
            } else {
                overlay.carriers.insert(code, carriers.into());
            }
        }

        if let Some(previous) = previous {
            next.counts.adjust(&previous.facts, false);
        }
        if let Some(entry) = &entry {
            next.counts.adjust(&entry.facts, true);
        }
        next.overlay = Arc::new(overlay);
        Ok(next)
    }

    /// Subjects and persons changed since the base was built (what `compacted` folds in).
    pub fn overlay_len(&self) -> usize {
        self.overlay.subjects.len() + self.overlay.persons.len() + self.overlay.carriers.len()
    }

    /// The same entries in a freshly built base with an empty overlay; `rules` is the rule set
    /// the entries were validated against. The base's text is copied whole, so its entries'
    /// text is neither read nor parsed.
    pub fn compacted(&self, rules: &RuleSet) -> Result<ListIndex, TextError> {
        let mut builder = IndexBuilder::new()?;
        let copied_at = builder.text.append_store(&self.base.text)?;
        let spans = self.base.text.spans()?;
        let persons = self.base.persons_by_row();
        let push_row = |builder: &mut IndexBuilder, subject: SubjectKey, row: u32| {
            let from = persons.partition_point(|&(r, _, _)| r < row);
            let named = persons[from..]
                .iter()
                .take_while(|&&(r, _, _)| r == row)
                .map(|&(_, person, role)| (person, role));
            let facts = self.base.facts[row as usize];
            let (start, len) = spans[row as usize];
            builder.push_at(subject, facts, named, (copied_at + start, len))
        };
        for (i, subject) in self.base.subjects.keys().enumerate() {
            if !self.overlay.subjects.contains_key(&subject) {
                for row in self.base.subjects.run(i) {
                    push_row(&mut builder, subject, row)?;
                }
            }
        }
        for (&subject, items) in &self.overlay.subjects {
            for item in items.iter() {
                match item {
                    Item::Base(row, _) => push_row(&mut builder, subject, *row)?,
                    Item::Changed(entry) => builder.push_entry(entry, rules)?,
                }
            }
        }
        // The embedded organisation codes are derived again from the subjects.
        for carrier in &self.base.legacy.carriers {
            let code = SubjectKey::from_words(carrier.code);
            // A code a change touched has all its carriers in the overlay.
            if self.overlay.carriers.contains_key(&code) {
                continue;
            }
            let subject = self.base.subjects.key(carrier.subject as usize);
            builder.carry(subject, &[code]);
        }
        for (&code, carriers) in &self.overlay.carriers {
            for &subject in carriers.iter() {
                if subject.embedded_org_code() != Some(code) && subject != code {
                    builder.carry(subject, &[code]);
                }
            }
        }
        Ok(builder.finish(self.counts.per_list.len())?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{entry, key, A, B, P};
    use super::*;
    use crate::ruleset::testing::mini;

    fn ids<'a>(entries: impl Iterator<Item = EntryRef<'a>>) -> Vec<String> {
        entries
            .map(|e| e.entry_id().unwrap().into_owned())
            .collect()
    }

    #[test]
    fn changes_apply_through_the_overlay_and_compaction_keeps_them() {
        let named = format!(
            r#"{{"entry_id":"e1","list":"debtor","subject_id":"{A}","listed_on":"2026-01-01","responsible_persons":[{{"role":"legal_rep","id":"{P}"}}]}}"#
        );
        let other = format!(
            r#"{{"entry_id":"e2","list":"abnormal","subject_id":"{A}","listed_on":"2026-01-01"}}"#
        );
        let rules = mini();
        let base = ListIndex::build(&[entry(&named), entry(&other)], &rules).unwrap();
        assert_eq!(base.naming(key(P)).count(), 1);

        // e1 moves to B and no longer names P.
        let moved = entry(&format!(
            r#"{{"entry_id":"e1","list":"debtor","subject_id":"{B}","listed_on":"2026-01-01"}}"#
        ));
        let next = base.with_entry(moved, Some(key(A))).unwrap();
        assert_eq!(ids(next.entries_of(key(A))), vec!["e2"]);
        assert_eq!(ids(next.entries_of(key(B))), vec!["e1"]);
        assert_eq!(next.naming(key(P)).count(), 0);
        assert!(!next.knows(key(P)));
        assert_eq!(
            (
                next.len(),
                next.subjects(),
                next.count(rules.list_id("debtor").unwrap())
            ),
            (2, 2, 1)
        );
        // The old index is untouched.
        assert_eq!(base.entries_of(key(A)).len(), 2);

        // A new entry names P again.
        let third = entry(&named.replace("e1", "e3").replace(A, B));
        let last = next.with_entry(third, None).unwrap();
        let naming = ids(last.naming(key(P)).map(|(e, _)| e));
        assert_eq!(naming, vec!["e3"]);
        assert_eq!((last.len(), last.subjects()), (3, 2));

        let removed = last.without_entry("e3", key(B)).unwrap();
        assert_eq!(ids(removed.entries_of(key(B))), vec!["e1"]);
        assert_eq!(removed.naming(key(P)).count(), 0);
        assert_eq!((removed.len(), removed.subjects()), (2, 2));
        assert_eq!(removed.without_entry("e1", key(B)).unwrap().subjects(), 1);

        let compacted = last.compacted(&rules).unwrap();
        assert_eq!(compacted.overlay_len(), 0);
        let mut before = ids(last.iter());
        let mut after = ids(compacted.iter());
        before.sort_unstable();
        after.sort_unstable();
        assert_eq!(before, after);
        assert_eq!(compacted.naming(key(P)).count(), 1);
        assert_eq!((compacted.len(), compacted.subjects()), (3, 2));
    }
}
