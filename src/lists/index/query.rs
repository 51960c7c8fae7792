//! The read API: a subject's entries, the entries naming a person, those reached through an
//! older identifier, and the totals.

use std::ops::Range;

use super::overlay::Item;
use super::ListIndex;
use crate::ident::{IdType, SubjectId, SubjectKey};
use crate::lists::entry::EntryRef;
use crate::ruleset::{ListId, Role};

/// A subject's entries, from the base or the overlay.
pub struct Entries<'a> {
    index: &'a ListIndex,
    subject: SubjectKey,
    source: EntriesSource<'a>,
}

enum EntriesSource<'a> {
    Base(Range<u32>),
    Changed(std::slice::Iter<'a, Item>),
}

impl<'a> Iterator for Entries<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        match &mut self.source {
            EntriesSource::Base(rows) => rows
                .next()
                .map(|row| self.index.base.entry(self.subject, row)),
            EntriesSource::Changed(items) => items.next().map(|item| self.index.item(item)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = match &self.source {
            EntriesSource::Base(rows) => rows.len(),
            EntriesSource::Changed(items) => items.len(),
        };
        (len, Some(len))
    }
}

impl ExactSizeIterator for Entries<'_> {}

impl ListIndex {
    /// The subject's own entries, in force or not.
    pub fn entries_of(&self, subject: SubjectKey) -> Entries<'_> {
        let source = match self.overlay.subjects.get(&subject) {
            Some(items) => EntriesSource::Changed(items.iter()),
            None => EntriesSource::Base(self.base.subjects.get(subject)),
        };
        Entries {
            index: self,
            subject,
            source,
        }
    }

    /// The entries (of other subjects) that name this person, with the role they name it in.
    pub fn naming(&self, person: SubjectKey) -> impl Iterator<Item = (EntryRef<'_>, Role)> {
        // Only resident IDs are ever named; an organisation's key would cost a cache miss in
        // the person table to find nothing.
        let is_person = person.id_type() == IdType::ResidentId;
        let changed = is_person
            .then(|| self.overlay.persons.get(&person))
            .flatten();
        let base_run = match changed {
            None if is_person => self.base.persons.get(person),
            _ => 0..0,
        };
        let from_base = self.base.named[base_run.start as usize..base_run.end as usize]
            .iter()
            .map(|named| {
                let subject = self.base.subjects.key(named.subject as usize);
                (self.base.entry(subject, named.row), named.role)
            });
        let from_overlay = changed
            .into_iter()
            .flat_map(|named| named.iter().map(|(item, role)| (self.item(item), *role)));
        from_overlay.chain(from_base)
    }

    /// The subject's entries found through an identifier other than its own, each with that
    /// identifier: for a USCC, the entries of the subjects without a USCC that carry the
    /// organisation code it embeds (filed under it, or listing it in `legacy_ids`); for an
    /// organisation code or registration number, the entries of every other subject that
    /// carries it (a USCC embedding the code included). A USCC never reaches another USCC's
    /// entries: two USCCs that share an organisation code are a registry fault (重码), not one
    /// subject. `None` when nobody else carries the identifier, as for almost every request: the
    /// caller then neither builds nor walks an iteration. Always inlined: with the profile a
    /// second caller, it was left out of line in decisions, which cost each one a call.
    #[inline(always)]
    pub fn entries_through(
        &self,
        subject: &SubjectId,
    ) -> Option<impl Iterator<Item = (EntryRef<'_>, SubjectKey)>> {
        let own = subject.key();
        let legacy = own.id_type().is_legacy();
        let code = self.carried_older_identifier(subject)?;
        Some(
            self.carriers(code, legacy)
                .filter(move |&carrier| {
                    carrier != own && (legacy || carrier.id_type() != IdType::Uscc)
                })
                .flat_map(move |carrier| self.entries_of(carrier).map(move |e| (e, code))),
        )
    }

    /// The older identifier `subject` goes by (its own, or the organisation code a USCC embeds)
    /// when some subject carries it. Inlined so that most requests are answered in a few
    /// instructions: a person has none, and lists without older identifiers, which a USCC could
    /// reach, cost a USCC nothing.
    #[inline]
    fn carried_older_identifier(&self, subject: &SubjectId) -> Option<SubjectKey> {
        let id_type = subject.id_type();
        let legacy = id_type.is_legacy();
        let any_legacy = !self.base.legacy.carriers.is_empty() || self.overlay.carries_legacy;
        if id_type == IdType::ResidentId || !(legacy || any_legacy) {
            return None;
        }
        subject
            .older_identifier()
            .filter(|&code| self.is_carried(code, legacy))
    }

    /// Whether any subject carries an older identifier (see [`carriers`](Self::carriers)).
    pub(super) fn is_carried(&self, code: SubjectKey, with_embedded: bool) -> bool {
        self.overlay.carriers.contains_key(&code)
            || self.base.legacy.contains(code)
            || (with_embedded && self.base.embedded.contains(code, &self.base.subjects))
    }

    /// The subjects that carry an older identifier; `with_embedded` adds the USCCs that embed it.
    pub(super) fn carriers(
        &self,
        code: SubjectKey,
        with_embedded: bool,
    ) -> impl Iterator<Item = SubjectKey> + '_ {
        let changed = self.overlay.carriers.get(&code);
        let unchanged = changed.is_none();
        let base = &self.base;
        let from_base = unchanged
            .then(|| base.legacy.get(code))
            .into_iter()
            .flatten()
            .chain(
                (unchanged && with_embedded)
                    .then(|| base.embedded.get(code, &base.subjects))
                    .into_iter()
                    .flatten(),
            )
            .map(|i| base.subjects.key(i as usize));
        changed
            .into_iter()
            .flat_map(|carriers| carriers.iter().copied())
            .chain(from_base)
    }

    /// Whether the identifier appears anywhere in the lists, as a subject or a named person.
    /// Asked only of an identifier that needs a second look (a failed check character), so it
    /// stays out of line: inlined, it makes the check that calls it too big to inline into
    /// every decision.
    #[inline(never)]
    pub fn knows(&self, key: SubjectKey) -> bool {
        self.entries_of(key).len() > 0 || self.naming(key).next().is_some()
    }

    /// Whether an older identifier appears in the lists: entries are filed under it, or a
    /// subject carries it. Asked only of fifteen digits that may be a registration number, so
    /// it stays out of line for the same reason as [`knows`](Self::knows).
    #[inline(never)]
    pub fn holds_older_identifier(&self, key: SubjectKey) -> bool {
        self.entries_of(key).len() > 0 || self.is_carried(key, false)
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

    /// Entries whose identifier fails its check character (loaded anyway, docs/lists.md, Lists).
    pub fn check_mismatches(&self) -> usize {
        self.counts.check_mismatches
    }

    /// Every current entry: the base's for unchanged subjects, then the overlay's.
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        let unchanged = self
            .base
            .subjects
            .keys()
            .filter(|key| !self.overlay.subjects.contains_key(key))
            .flat_map(|key| self.entries_of(key));
        let changed = self
            .overlay
            .subjects
            .values()
            .flat_map(|items| items.iter().map(|item| self.item(item)));
        unchanged.chain(changed)
    }
}
