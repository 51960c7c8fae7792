//! The in-memory index: packed subject key → that subject's entries, and person key → the
//! entries naming that person. Built once from a snapshot and then only read.

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

use super::entry::{Entry, ResponsiblePerson};
use crate::ident::SubjectKey;
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
pub struct ListIndex {
    /// INVARIANT: sorted by subject key, so each subject's entries are one run.
    entries: Vec<Entry>,
    by_subject: FxHashMap<SubjectKey, Run>,
    /// (entry position, person position in that entry), sorted by the person's key.
    named: Vec<(u32, u32)>,
    by_person: FxHashMap<SubjectKey, Run>,
    per_list: Vec<usize>,
    check_mismatches: usize,
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
        let check_mismatches = entries.iter().filter(|e| e.check_mismatch).count();
        ListIndex {
            entries,
            by_subject,
            named: named.into_iter().map(|(_, e, p)| (e, p)).collect(),
            by_person,
            per_list,
            check_mismatches,
        }
    }

    /// The subject's own entries, in force or not.
    pub fn entries_of(&self, subject: SubjectKey) -> &[Entry] {
        match self.by_subject.get(&subject) {
            Some(run) => &self.entries[run.range()],
            None => &[],
        }
    }

    /// The entries (of other subjects) that name this person, with the naming.
    pub fn naming(&self, person: SubjectKey) -> impl Iterator<Item = (&Entry, &ResponsiblePerson)> {
        let run = self.by_person.get(&person).map_or(0..0, |run| run.range());
        self.named[run].iter().map(|&(e, p)| {
            let entry = &self.entries[e as usize];
            (entry, &entry.responsible_persons[p as usize])
        })
    }

    /// Whether the identifier appears anywhere in the lists, as a subject or a named person.
    pub fn knows(&self, key: SubjectKey) -> bool {
        self.by_subject.contains_key(&key) || self.by_person.contains_key(&key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn subjects(&self) -> usize {
        self.by_subject.len()
    }

    pub fn count(&self, list: ListId) -> usize {
        self.per_list.get(list.index()).copied().unwrap_or(0)
    }

    /// Entries whose identifier fails its check character (loaded anyway, DESIGN.md §3.1).
    pub fn check_mismatches(&self) -> usize {
        self.check_mismatches
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }
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
