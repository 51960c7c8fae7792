//! The in-memory index: packed subject key → that subject's entries, and person key → the
//! entries naming that person.
//!
//! A base built once from a snapshot is never modified. Changes that arrive afterwards (from the
//! Redis change stream) go into a small overlay that holds the complete current entries of each
//! subject and person they touched, so applying a change copies the overlay, never the base.
//! Both sit behind `Arc`s: an index with one more change shares everything else with the last.

use std::sync::Arc;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

use super::entry::{Entry, ResponsiblePerson};
use crate::ident::{IdType, SubjectKey};
use crate::ruleset::ListId;

/// A run of `entries` (or of `named`) belonging to one key.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u32,
    len: u32,
}

impl Run {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

#[derive(Debug, Default)]
struct Base {
    /// INVARIANT: sorted by subject key, so each subject's entries are one run.
    entries: Vec<Entry>,
    by_subject: FxHashMap<SubjectKey, Run>,
    /// (entry position, person position in that entry), sorted by the person's key.
    named: Vec<(u32, u32)>,
    by_person: FxHashMap<SubjectKey, Run>,
}

/// The complete current entries of every subject and person changed since the base was built.
#[derive(Debug, Default, Clone)]
struct Overlay {
    subjects: FxHashMap<SubjectKey, Arc<[Entry]>>,
    /// Entries naming the person, with the person's position in each.
    persons: FxHashMap<SubjectKey, Arc<[(Entry, u32)]>>,
}

/// Totals kept up to date as changes apply.
#[derive(Debug, Default, Clone)]
struct Counts {
    entries: usize,
    subjects: usize,
    per_list: Vec<usize>,
    check_mismatches: usize,
}

#[derive(Debug, Default, Clone)]
pub struct ListIndex {
    base: Arc<Base>,
    overlay: Arc<Overlay>,
    counts: Counts,
}

impl ListIndex {
    /// Builds the index; `list_count` is the number of lists of the rule set the entries were
    /// validated against.
    pub fn build(mut entries: Vec<Entry>, list_count: usize) -> ListIndex {
        entries.par_sort_unstable_by_key(|e| e.subject);
        let by_subject = runs(entries.iter().map(|e| e.subject));

        let mut named: Vec<(SubjectKey, u32, u32)> = entries
            .iter()
            .enumerate()
            .flat_map(|(e, entry)| {
                entry
                    .responsible_persons
                    .iter()
                    .enumerate()
                    .map(move |(p, person)| (person.id, e as u32, p as u32))
            })
            .collect();
        named.par_sort_unstable();
        let by_person = runs(named.iter().map(|(key, _, _)| *key));

        let mut per_list = vec![0; list_count];
        for entry in &entries {
            per_list[entry.list.index()] += 1;
        }
        let counts = Counts {
            entries: entries.len(),
            subjects: by_subject.len(),
            per_list,
            check_mismatches: entries.iter().filter(|e| e.check_mismatch).count(),
        };
        let base = Base {
            entries,
            by_subject,
            named: named.into_iter().map(|(_, e, p)| (e, p)).collect(),
            by_person,
        };
        ListIndex {
            base: Arc::new(base),
            overlay: Arc::default(),
            counts,
        }
    }

    /// The subject's own entries, in force or not.
    pub fn entries_of(&self, subject: SubjectKey) -> &[Entry] {
        if let Some(entries) = self.overlay.subjects.get(&subject) {
            return entries;
        }
        match self.base.by_subject.get(&subject) {
            Some(run) => &self.base.entries[run.range()],
            None => &[],
        }
    }

    /// The entries (of other subjects) that name this person, with the naming.
    pub fn naming(&self, person: SubjectKey) -> impl Iterator<Item = (&Entry, &ResponsiblePerson)> {
        // Only resident IDs are ever named; an organisation's key would cost a cache miss in
        // the person map to find nothing.
        let is_person = person.id_type() == IdType::ResidentId;
        let changed = is_person
            .then(|| self.overlay.persons.get(&person))
            .flatten();
        let base_run = match changed {
            Some(_) => 0..0,
            None if !is_person => 0..0,
            None => self
                .base
                .by_person
                .get(&person)
                .map_or(0..0, |run| run.range()),
        };
        let from_base = self.base.named[base_run].iter().map(|&(e, p)| {
            let entry = &self.base.entries[e as usize];
            (entry, &entry.responsible_persons[p as usize])
        });
        let from_overlay = changed.into_iter().flat_map(|named| {
            named
                .iter()
                .map(|(entry, p)| (entry, &entry.responsible_persons[*p as usize]))
        });
        from_overlay.chain(from_base)
    }

    /// Whether the identifier appears anywhere in the lists, as a subject or a named person.
    pub fn knows(&self, key: SubjectKey) -> bool {
        !self.entries_of(key).is_empty() || self.naming(key).next().is_some()
    }

    /// A new index with `entry` stored (created or replacing the entry of the same id, which
    /// `previous_subject` holds if it exists). Copies the overlay, never the base.
    pub fn with_entry(&self, entry: Entry, previous_subject: Option<SubjectKey>) -> ListIndex {
        let entry_id = entry.entry_id.clone();
        self.changed(&entry_id, Some(entry), previous_subject)
    }

    /// A new index without the entry `entry_id` of `subject`.
    pub fn without_entry(&self, entry_id: &str, subject: SubjectKey) -> ListIndex {
        self.changed(entry_id, None, Some(subject))
    }

    fn changed(
        &self,
        entry_id: &str,
        entry: Option<Entry>,
        previous_subject: Option<SubjectKey>,
    ) -> ListIndex {
        let mut next = self.clone();
        let mut overlay = (*self.overlay).clone();
        // A change replayed after a load may find its entry already at the new subject.
        let previous = previous_subject
            .into_iter()
            .chain(entry.as_ref().map(|e| e.subject))
            .find_map(|s| self.entries_of(s).iter().find(|e| &*e.entry_id == entry_id))
            .cloned();

        let mut touched_subjects: Vec<SubjectKey> =
            entry.iter().chain(&previous).map(|e| e.subject).collect();
        touched_subjects.dedup();
        for subject in touched_subjects {
            let before = self.entries_of(subject);
            let mut after: Vec<Entry> = before
                .iter()
                .filter(|e| &*e.entry_id != entry_id)
                .cloned()
                .collect();
            after.extend(entry.iter().filter(|e| e.subject == subject).cloned());
            match (before.is_empty(), after.is_empty()) {
                (true, false) => next.counts.subjects += 1,
                (false, true) => next.counts.subjects -= 1,
                _ => {}
            }
            overlay.subjects.insert(subject, after.into());
        }

        let mut touched_persons: Vec<SubjectKey> = entry
            .iter()
            .chain(&previous)
            .flat_map(|e| e.responsible_persons.iter().map(|p| p.id))
            .collect();
        touched_persons.sort_unstable();
        touched_persons.dedup();
        for person in touched_persons {
            let mut after: Vec<(Entry, u32)> = self
                .naming(person)
                .filter(|(e, _)| &*e.entry_id != entry_id)
                .map(|(e, named)| (e.clone(), position(e, named)))
                .collect();
            if let Some(entry) = &entry {
                for (p, named) in entry.responsible_persons.iter().enumerate() {
                    if named.id == person {
                        after.push((entry.clone(), p as u32));
                    }
                }
            }
            overlay.persons.insert(person, after.into());
        }

        for (counted, added) in previous
            .iter()
            .map(|e| (e, false))
            .chain(entry.iter().map(|e| (e, true)))
        {
            let adjust = |n: &mut usize, by: usize| if added { *n += by } else { *n -= by };
            adjust(&mut next.counts.entries, 1);
            adjust(&mut next.counts.per_list[counted.list.index()], 1);
            adjust(
                &mut next.counts.check_mismatches,
                usize::from(counted.check_mismatch),
            );
        }
        next.overlay = Arc::new(overlay);
        next
    }

    /// Subjects and persons changed since the base was built (what `compacted` folds in).
    pub fn overlay_len(&self) -> usize {
        self.overlay.subjects.len() + self.overlay.persons.len()
    }

    /// The same entries in a freshly built base with an empty overlay.
    pub fn compacted(&self) -> ListIndex {
        let entries: Vec<Entry> = self.iter().cloned().collect();
        ListIndex::build(entries, self.counts.per_list.len())
    }

    pub fn len(&self) -> usize {
        self.counts.entries
    }

    pub fn is_empty(&self) -> bool {
        self.counts.entries == 0
    }

    pub fn subjects(&self) -> usize {
        self.counts.subjects
    }

    pub fn count(&self, list: ListId) -> usize {
        self.counts.per_list.get(list.index()).copied().unwrap_or(0)
    }

    /// Entries whose identifier fails its check character (loaded anyway, DESIGN.md §3.1).
    pub fn check_mismatches(&self) -> usize {
        self.counts.check_mismatches
    }

    /// Every current entry: the base's for unchanged subjects, then the overlay's.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        let unchanged = self
            .base
            .entries
            .iter()
            .filter(|e| !self.overlay.subjects.contains_key(&e.subject));
        unchanged.chain(
            self.overlay
                .subjects
                .values()
                .flat_map(|entries| entries.iter()),
        )
    }
}

/// Where `named` sits among the entry's responsible persons.
fn position(entry: &Entry, named: &ResponsiblePerson) -> u32 {
    entry
        .responsible_persons
        .iter()
        .position(|p| std::ptr::eq(p, named))
        .unwrap_or(0) as u32
}

/// Maps each key of a sorted sequence to the run of positions it occupies.
fn runs(keys: impl ExactSizeIterator<Item = SubjectKey>) -> FxHashMap<SubjectKey, Run> {
    let mut map: FxHashMap<SubjectKey, Run> =
        FxHashMap::with_capacity_and_hasher(keys.len(), Default::default());
    for (position, key) in keys.enumerate() {
        map.entry(key)
            .and_modify(|run| run.len += 1)
            .or_insert(Run {
                start: position as u32,
                len: 1,
            });
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use crate::lists::parse_entries;
    use crate::ruleset::testing::mini;

    const A: &str = "91230200MA1B2C3D8T";
    const B: &str = "91230202MA18XK7PXM";
    const P: &str = "230202198503121238";

    fn entry(line: &str) -> Entry {
        parse_entries(line.as_bytes(), &mini()).unwrap().remove(0)
    }

    fn key(id: &str) -> SubjectKey {
        ident::parse(id).unwrap().key()
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| &*e.entry_id).collect()
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
        let base = ListIndex::build(vec![entry(&named), entry(&other)], rules.lists().len());
        assert_eq!(base.naming(key(P)).count(), 1);

        // e1 moves to B and no longer names P.
        let moved = entry(&format!(
            r#"{{"entry_id":"e1","list":"debtor","subject_id":"{B}","listed_on":"2026-01-01"}}"#
        ));
        let next = base.with_entry(moved, Some(key(A)));
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
        assert_eq!(ids(base.entries_of(key(A))).len(), 2);

        // A new entry names P again.
        let third = entry(&named.replace("e1", "e3").replace(A, B));
        let last = next.with_entry(third, None);
        let naming: Vec<&str> = last.naming(key(P)).map(|(e, _)| &*e.entry_id).collect();
        assert_eq!(naming, vec!["e3"]);
        assert_eq!((last.len(), last.subjects()), (3, 2));

        let removed = last.without_entry("e3", key(B));
        assert_eq!(ids(removed.entries_of(key(B))), vec!["e1"]);
        assert_eq!(removed.naming(key(P)).count(), 0);
        assert_eq!((removed.len(), removed.subjects()), (2, 2));
        assert_eq!(removed.without_entry("e1", key(B)).subjects(), 1);

        let compacted = last.compacted();
        assert_eq!(compacted.overlay_len(), 0);
        let mut before: Vec<&str> = last.iter().map(|e| &*e.entry_id).collect();
        let mut after: Vec<&str> = compacted.iter().map(|e| &*e.entry_id).collect();
        before.sort_unstable();
        after.sort_unstable();
        assert_eq!(before, after);
        assert_eq!(compacted.naming(key(P)).count(), 1);
        assert_eq!((compacted.len(), compacted.subjects()), (3, 2));
    }
}
