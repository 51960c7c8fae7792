//! The in-memory index: packed subject key → that subject's entries, person key → the
//! entries naming that person, and an older identifier (organisation code, registration
//! number) → the subjects that carry it.
//!
//! A base built once from a snapshot is never modified. It holds each entry's [`Facts`] (24
//! bytes), sorted by subject, and finds a key's run of them through a hash table of positions;
//! the entries' text lives in a memory-mapped file ([`TextStore`]). Changes that arrive
//! afterwards (from the Redis change stream) go into a small overlay that lists the complete
//! current entries of each subject and person they touched, as base rows or new entries, so
//! applying a change copies the overlay, never the base. Both sit behind `Arc`s: an index with
//! one more change shares everything else with the last.

use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;

use hashbrown::HashTable;
use rayon::slice::ParallelSliceMut;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::entry::{Entry, EntryRef, Facts};
use super::text::{TextError, TextStore, TextWriter};
use crate::ident::{IdType, SubjectId, SubjectKey};
use crate::ruleset::{ListId, Role, RuleSet};

fn hash(key: SubjectKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// A key and where its run starts, in 16 bytes: the key in 96 bits, so that a lookup finds
/// both in one cache line.
#[derive(Debug, Clone, Copy)]
struct KeyRun {
    key: [u32; 3],
    start: u32,
}

/// The distinct keys of a sorted array and the run of positions each owns, found through a
/// table of key positions: four bytes and a control byte a slot, where a map would repeat the
/// key and the run beside it.
#[derive(Debug, Default)]
struct Runs {
    /// Ascending by key, and one more element whose `start` is where the last run ends.
    runs: Vec<KeyRun>,
    table: HashTable<u32>,
}

impl Runs {
    /// From the key of each position of a sorted array.
    fn new(sorted: impl Iterator<Item = SubjectKey>) -> Runs {
        let mut runs: Vec<KeyRun> = Vec::new();
        let mut last = None;
        let mut position = 0u32;
        for key in sorted {
            if last != Some(key) {
                runs.push(KeyRun {
                    key: key.to_words(),
                    start: position,
                });
                last = Some(key);
            }
            position += 1;
        }
        runs.push(KeyRun {
            key: [0; 3],
            start: position,
        });
        Runs::from_runs(runs)
    }

    /// From the keys and starts, with the closing element.
    fn from_runs(mut runs: Vec<KeyRun>) -> Runs {
        runs.shrink_to_fit();
        let keys = runs.len().saturating_sub(1);
        let key = |i: u32| SubjectKey::from_words(runs[i as usize].key);
        let mut table = HashTable::with_capacity(keys);
        for i in 0..keys as u32 {
            table.insert_unique(hash(key(i)), i, |&j| hash(key(j)));
        }
        Runs { runs, table }
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_u64(out, self.runs.len() as u64)?;
        for run in &self.runs {
            for word in run.key {
                out.write_all(&word.to_le_bytes())?;
            }
            out.write_all(&run.start.to_le_bytes())?;
        }
        Ok(())
    }

    /// Reads [`write`](Self::write), for runs over `positions` positions.
    fn read(input: &mut impl Read, positions: usize) -> io::Result<Runs> {
        let count = read_len(input)?;
        let mut runs = Vec::with_capacity(count.min(positions + 1));
        let mut last = 0;
        for _ in 0..count {
            let [a, b, c, start] = [0; 4].map(|_| read_u32(input));
            let run = KeyRun {
                key: [a?, b?, c?],
                start: start?,
            };
            if run.start < last || run.start as usize > positions {
                return Err(corrupt("runs out of order"));
            }
            last = run.start;
            runs.push(run);
        }
        if runs.last().map_or(0, |run| run.start as usize) != positions {
            return Err(corrupt("runs do not cover their array"));
        }
        Ok(Runs::from_runs(runs))
    }

    /// Number of keys.
    fn len(&self) -> usize {
        self.runs.len().saturating_sub(1)
    }

    fn key(&self, i: usize) -> SubjectKey {
        SubjectKey::from_words(self.runs[i].key)
    }

    fn keys(&self) -> impl Iterator<Item = SubjectKey> + '_ {
        (0..self.len()).map(|i| self.key(i))
    }

    fn get(&self, key: SubjectKey) -> Range<u32> {
        let words = key.to_words();
        match self
            .table
            .find(hash(key), |&i| self.runs[i as usize].key == words)
        {
            Some(&i) => self.run(i as usize),
            None => 0..0,
        }
    }

    fn run(&self, i: usize) -> Range<u32> {
        self.runs[i].start..self.runs[i + 1].start
    }

    /// The position of the key's run.
    fn position(&self, key: SubjectKey) -> Option<u32> {
        let words = key.to_words();
        self.table
            .find(hash(key), |&i| self.runs[i as usize].key == words)
            .copied()
    }
}

/// Every USCC subject under the organisation code it embeds.
fn embedded_carriers(subjects: &Runs) -> Carriers {
    Carriers::new(
        subjects
            .keys()
            .enumerate()
            .filter_map(|(i, key)| {
                Some(Carrier {
                    code: key.embedded_org_code()?.to_words(),
                    subject: i as u32,
                })
            })
            .collect(),
    )
}

/// A person named in the entry of a base row, and the position of that entry's subject (a
/// decision about the person names the listed subject; finding it from the row alone would be a
/// binary search through millions of runs).
#[derive(Debug, Clone, Copy)]
struct Named {
    row: u32,
    subject: u32,
    role: Role,
}

/// A subject that carries an older identifier: as its own identifier, as one of its entries'
/// `legacy_ids`, or, for a USCC, embedded at positions 9–17. `subject` is the position of the
/// subject's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Carrier {
    code: [u32; 3],
    subject: u32,
}

/// Carriers sorted by identifier, found through a table of where each identifier's carriers
/// start: every USCC request looks up the code it embeds here, so a miss must cost no more than
/// a probe of a table that holds only the older identifiers.
#[derive(Debug, Default)]
struct Carriers {
    /// Sorted by `code`.
    carriers: Vec<Carrier>,
    /// The position in `carriers` of each identifier's first carrier.
    firsts: HashTable<u32>,
}

impl Carriers {
    fn new(mut carriers: Vec<Carrier>) -> Carriers {
        carriers.sort_unstable();
        carriers.dedup();
        carriers.shrink_to_fit();
        let code = |i: u32| SubjectKey::from_words(carriers[i as usize].code);
        let mut firsts = HashTable::new();
        for i in 0..carriers.len() as u32 {
            if i == 0 || carriers[i as usize - 1].code != carriers[i as usize].code {
                firsts.insert_unique(hash(code(i)), i, |&j| hash(code(j)));
            }
        }
        Carriers { carriers, firsts }
    }

    /// The position in `carriers` of the first subject that carries `code`.
    fn first(&self, code: SubjectKey) -> Option<usize> {
        let words = code.to_words();
        self.firsts
            .find(hash(code), |&i| self.carriers[i as usize].code == words)
            .map(|&i| i as usize)
    }

    fn contains(&self, code: SubjectKey) -> bool {
        self.first(code).is_some()
    }

    /// The positions of the subjects that carry `code`.
    fn get(&self, code: SubjectKey) -> impl Iterator<Item = u32> + '_ {
        let words = code.to_words();
        let from = self.first(code).unwrap_or(self.carriers.len());
        self.carriers[from..]
            .iter()
            .take_while(move |c| c.code == words)
            .map(|c| c.subject)
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_u64(out, self.carriers.len() as u64)?;
        for carrier in &self.carriers {
            for word in carrier.code.into_iter().chain([carrier.subject]) {
                out.write_all(&word.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Reads [`write`](Self::write), for an index of `subjects` subjects.
    fn read(input: &mut impl Read, subjects: usize) -> io::Result<Carriers> {
        let count = read_len(input)?;
        let mut carriers = Vec::with_capacity(count.min(subjects));
        for _ in 0..count {
            let [a, b, c, subject] = [0; 4].map(|_| read_u32(input));
            let carrier = Carrier {
                code: [a?, b?, c?],
                subject: subject?,
            };
            if carrier.subject as usize >= subjects
                || !SubjectKey::from_words(carrier.code).id_type().is_legacy()
            {
                return Err(corrupt("bad carrier"));
            }
            carriers.push(carrier);
        }
        Ok(Carriers::new(carriers))
    }
}

#[derive(Debug, Default)]
struct Base {
    /// INVARIANT: sorted by subject, so each subject's entries are one run.
    facts: Vec<Facts>,
    subjects: Runs,
    /// Sorted by the person's key.
    named: Vec<Named>,
    persons: Runs,
    /// Subjects by the older identifiers they are filed under or their entries carry.
    legacy: Carriers,
    /// USCC subjects by the organisation code they embed (only a request by organisation code
    /// looks here).
    embedded: Carriers,
    /// The text of each row of `facts`.
    text: TextStore,
}

impl Base {
    fn entry(&self, subject: SubjectKey, row: u32) -> EntryRef<'_> {
        EntryRef::stored(subject, self.facts[row as usize], &self.text, row)
    }

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

/// One current entry of a subject changed since the base was built.
#[derive(Debug, Clone)]
enum Item {
    /// A base row, and its subject.
    Base(u32, SubjectKey),
    Changed(Arc<Entry>),
}

/// The complete current entries of every subject and person changed since the base was built.
#[derive(Debug, Default, Clone)]
struct Overlay {
    subjects: FxHashMap<SubjectKey, Arc<[Item]>>,
    /// Entries naming the person, with the role it names them in.
    persons: FxHashMap<SubjectKey, Arc<[(Item, Role)]>>,
    /// Every subject that carries an older identifier (the base's, legacy and embedded, and
    /// those that changes added), for the identifiers changes touched.
    carriers: FxHashMap<SubjectKey, Arc<[SubjectKey]>>,
    /// A change added an entry filed under an older identifier or carrying one.
    carries_legacy: bool,
}

/// Totals kept up to date as changes apply.
#[derive(Debug, Default, Clone)]
struct Counts {
    entries: usize,
    subjects: usize,
    per_list: Vec<usize>,
    check_mismatches: usize,
}

impl Counts {
    fn adjust(&mut self, facts: &Facts, added: bool) {
        let by = |n: &mut usize, by: usize| {
            if added {
                *n += by
            } else {
                *n -= by
            }
        };
        by(&mut self.entries, 1);
        by(&mut self.per_list[facts.list.index()], 1);
        by(
            &mut self.check_mismatches,
            usize::from(facts.check_mismatch),
        );
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListIndex {
    base: Arc<Base>,
    overlay: Arc<Overlay>,
    counts: Counts,
}

/// Collects entries, in any order, into an index.
pub(super) struct IndexBuilder {
    /// Each pushed entry's subject and push position.
    subjects: Vec<(SubjectKey, u32)>,
    facts: Vec<Facts>,
    /// (person, push position, role).
    named: Vec<(SubjectKey, u32, Role)>,
    /// (older identifier, subject carrying it).
    legacy: Vec<(SubjectKey, SubjectKey)>,
    text: TextWriter,
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
        let record: super::EntryRecord<'_> = serde_json::from_slice(&json)?;
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

        let mut counts = Counts {
            entries: 0,
            subjects: subject_runs.len(),
            per_list: vec![0; list_count],
            check_mismatches: 0,
        };
        for f in &facts {
            counts.adjust(f, true);
        }
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
        let embedded = embedded_carriers(&subject_runs);
        let base = Base {
            facts,
            subjects: subject_runs,
            named,
            persons: person_runs,
            legacy,
            embedded,
            text,
        };
        Ok(ListIndex {
            base: Arc::new(base),
            overlay: Arc::default(),
            counts,
        })
    }
}

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
    /// Builds an index of owned entries (tests, and changes folded in by compaction).
    pub fn build(entries: &[Entry], rules: &RuleSet) -> io::Result<ListIndex> {
        let mut builder = IndexBuilder::new()?;
        for entry in entries {
            builder.push_entry(entry, rules)?;
        }
        builder.finish(rules.lists().len())
    }

    fn item<'a>(&'a self, item: &'a Item) -> EntryRef<'a> {
        match item {
            Item::Base(row, subject) => self.base.entry(*subject, *row),
            Item::Changed(entry) => EntryRef::from(&**entry),
        }
    }

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
    /// caller then neither builds nor walks an iteration.
    #[inline]
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
    fn is_carried(&self, code: SubjectKey, with_embedded: bool) -> bool {
        self.overlay.carriers.contains_key(&code)
            || self.base.legacy.contains(code)
            || (with_embedded && self.base.embedded.contains(code))
    }

    /// The subjects that carry an older identifier; `with_embedded` adds the USCCs that embed it.
    fn carriers(
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
                    .then(|| base.embedded.get(code))
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
    pub fn knows(&self, key: SubjectKey) -> bool {
        self.entries_of(key).len() > 0 || self.naming(key).next().is_some()
    }

    /// Whether an older identifier appears in the lists: entries are filed under it, or a
    /// subject carries it.
    pub fn holds_older_identifier(&self, key: SubjectKey) -> bool {
        self.entries_of(key).len() > 0 || self.is_carried(key, false)
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
            let in_base = self.base.legacy.contains(code) || self.base.embedded.contains(code);
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

    /// Writes the index as a binary list snapshot: what a load from JSON Lines computes,
    /// ready to be read back without parsing. `revision` is the rule set's, whose list numbers
    /// the facts hold. Only an index without changes can be written (a file load).
    pub fn write_snapshot(&self, out: &mut impl Write, revision: &str) -> io::Result<()> {
        let mut summed = Summed::new(&mut *out);
        self.write_sections(&mut summed, revision)?;
        let sum = summed.sum();
        out.write_all(&sum.to_le_bytes())?;
        out.flush()
    }

    fn write_sections(&self, out: &mut impl Write, revision: &str) -> io::Result<()> {
        if self.overlay_len() > 0 {
            return Err(io::Error::other("an index with changes cannot be written"));
        }
        let base = &self.base;
        out.write_all(SNAPSHOT_MAGIC)?;
        write_u64(out, revision.len() as u64)?;
        out.write_all(revision.as_bytes())?;
        write_u64(out, self.counts.per_list.len() as u64)?;
        write_u64(out, base.facts.len() as u64)?;
        for facts in &base.facts {
            out.write_all(&facts.to_bytes())?;
        }
        base.subjects.write(out)?;
        write_u64(out, base.named.len() as u64)?;
        for named in &base.named {
            out.write_all(&named.row.to_le_bytes())?;
            out.write_all(&named.subject.to_le_bytes())?;
            let role = Role::ALL.iter().position(|r| *r == named.role).unwrap_or(0);
            out.write_all(&[role as u8])?;
        }
        base.persons.write(out)?;
        base.legacy.write(out)?;
        base.embedded.write(out)?;
        for (start, len) in base.text.spans()? {
            write_u64(out, start)?;
            write_u64(out, len as u64)?;
        }
        write_u64(out, base.text.data_len())?;
        base.text.copy_to(out)?;
        Ok(())
    }

    /// Reads [`write_snapshot`](Self::write_snapshot), refusing a snapshot of another rule set's
    /// revision, one whose parts do not fit together and one whose checksum fails.
    pub(super) fn read_snapshot(input: &mut impl Read, rules: &RuleSet) -> io::Result<ListIndex> {
        let mut summed = Summed::new(&mut *input);
        let index = ListIndex::read_sections(&mut summed, rules)?;
        let sum = summed.sum();
        if read_u32(input)? != sum {
            return Err(corrupt("the checksum does not match: the file is damaged"));
        }
        if input.read(&mut [0u8; 1])? != 0 {
            return Err(corrupt("bytes after the end"));
        }
        Ok(index)
    }

    fn read_sections(input: &mut impl Read, rules: &RuleSet) -> io::Result<ListIndex> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic)?;
        if &magic != SNAPSHOT_MAGIC {
            return Err(corrupt("not a list snapshot"));
        }
        let mut revision = vec![0u8; read_len(input)?.min(256)];
        input.read_exact(&mut revision)?;
        if revision != rules.revision.as_bytes() || read_len(input)? != rules.lists().len() {
            return Err(corrupt(&format!(
                "made for rule set revision `{}`, not `{}`; make it again",
                String::from_utf8_lossy(&revision),
                rules.revision
            )));
        }
        let lists: Vec<ListId> = rules.lists().map(|(id, _)| id).collect();
        let rows = read_len(input)?;
        let mut facts = Vec::with_capacity(rows);
        let mut bytes = [0u8; 24];
        for _ in 0..rows {
            input.read_exact(&mut bytes)?;
            facts.push(Facts::from_bytes(&bytes, &lists).ok_or_else(|| corrupt("bad facts"))?);
        }
        let subjects = Runs::read(input, rows)?;
        let named_count = read_len(input)?;
        let mut named = Vec::with_capacity(named_count);
        let mut bytes = [0u8; 9];
        for _ in 0..named_count {
            input.read_exact(&mut bytes)?;
            let word =
                |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
            let (row, subject) = (word(0), word(4));
            let role = Role::ALL.get(usize::from(bytes[8])).copied();
            match role {
                Some(role) if (row as usize) < rows && (subject as usize) < subjects.len() => {
                    named.push(Named { row, subject, role })
                }
                _ => return Err(corrupt("bad naming")),
            }
        }
        let persons = Runs::read(input, named_count)?;
        let legacy = Carriers::read(input, subjects.len())?;
        let embedded = Carriers::read(input, subjects.len())?;
        let spans = (0..rows)
            .map(|_| Ok((read_u64(input)?, read_u64(input)?)))
            .collect::<io::Result<Vec<(u64, u64)>>>()?;
        let text_len = read_u64(input)?;
        let mut text = TextWriter::new()?;
        text.append_from(input, text_len)?;
        for (start, len) in spans {
            if start.saturating_add(len) > text_len {
                return Err(corrupt("text out of range"));
            }
            text.push_at(start, len as usize)?;
        }
        let order: Vec<u32> = (0..rows as u32).collect();
        let text = text.finish(&order)?;

        let mut counts = Counts {
            entries: 0,
            subjects: subjects.len(),
            per_list: vec![0; rules.lists().len()],
            check_mismatches: 0,
        };
        for f in &facts {
            counts.adjust(f, true);
        }
        let base = Base {
            facts,
            subjects,
            named,
            persons,
            legacy,
            embedded,
            text,
        };
        Ok(ListIndex {
            base: Arc::new(base),
            overlay: Arc::default(),
            counts,
        })
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

/// The first bytes of a binary list snapshot.
pub(super) const SNAPSHOT_MAGIC: &[u8; 8] = b"JCSNAP02";

/// Passes bytes through and keeps their CRC-32, so that a snapshot's last four bytes vouch for
/// all the others.
struct Summed<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<T> Summed<T> {
    fn new(inner: T) -> Summed<T> {
        Summed {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }

    fn sum(self) -> u32 {
        self.crc.finalize()
    }
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Summed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.crc.update(&buf[..read]);
        Ok(read)
    }
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("list snapshot: {why}"))
}

fn write_u64(out: &mut impl Write, value: u64) -> io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

/// A count, refused beyond what a 32-bit row number can reach.
fn read_len(input: &mut impl Read) -> io::Result<usize> {
    let len = read_u64(input)?;
    if len > u64::from(u32::MAX) {
        return Err(corrupt("count out of range"));
    }
    Ok(len as usize)
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

    fn through(index: &ListIndex, id: &str) -> Vec<(String, String)> {
        let subject = ident::parse(id).unwrap();
        let mut found: Vec<_> = index
            .entries_through(&subject)
            .into_iter()
            .flatten()
            .map(|(e, code)| (e.entry_id().unwrap().into_owned(), code.to_id_string()))
            .collect();
        found.sort();
        found
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    #[test]
    fn older_identifiers_reach_their_subjects_through_changes_compaction_and_snapshots() {
        let rules = mini();
        // Filed under the organisation code A embeds (MA1B2C3D8), written with its hyphen.
        let by_code = entry(
            r#"{"entry_id":"c1","list":"debtor","subject_id":"MA1B2C3D-8","listed_on":"2026-01-01"}"#,
        );
        // Filed under B's USCC, carrying a registration number.
        let by_uscc = entry(&format!(
            r#"{{"entry_id":"c2","list":"debtor","subject_id":"{B}","legacy_ids":["110108000000016"],"listed_on":"2026-01-01"}}"#
        ));
        let base = ListIndex::build(&[by_code, by_uscc], &rules).unwrap();
        assert_eq!(through(&base, A), pairs(&[("c1", "MA1B2C3D8")]));
        assert_eq!(through(&base, "MA18XK7PX"), pairs(&[("c2", "MA18XK7PX")]));
        assert_eq!(
            through(&base, "110108000000016"),
            pairs(&[("c2", "110108000000016")])
        );
        // B's own entries are found by its own key, not through its embedded code.
        assert!(through(&base, B).is_empty());
        assert!(through(&base, P).is_empty());

        // A registration-number record carrying A's organisation code.
        let court = entry(
            r#"{"entry_id":"c3","list":"abnormal","subject_id":"230200000000127","legacy_ids":["ma1b2c3d8"],"listed_on":"2026-01-01"}"#,
        );
        let next = base.with_entry(court, None).unwrap();
        assert_eq!(
            through(&next, A),
            pairs(&[("c1", "MA1B2C3D8"), ("c3", "MA1B2C3D8")])
        );
        assert_eq!(through(&next, "MA1B2C3D8"), pairs(&[("c3", "MA1B2C3D8")]));
        assert!(through(&base, "MA1B2C3D8").is_empty());

        let compacted = next.compacted(&rules).unwrap();
        let mut snapshot = Vec::new();
        compacted
            .write_snapshot(&mut snapshot, &rules.revision)
            .unwrap();
        let read = ListIndex::read_snapshot(&mut snapshot.as_slice(), &rules).unwrap();
        for index in [&compacted, &read] {
            assert_eq!(
                through(index, A),
                pairs(&[("c1", "MA1B2C3D8"), ("c3", "MA1B2C3D8")])
            );
            assert_eq!(through(index, "MA18XK7PX"), pairs(&[("c2", "MA18XK7PX")]));
            assert_eq!(
                through(index, "110108000000016"),
                pairs(&[("c2", "110108000000016")])
            );
        }
    }

    #[test]
    fn an_older_identifier_taken_off_an_entry_is_untied_through_compaction_and_snapshots() {
        let rules = mini();
        let tied = |id: &str| {
            entry(&format!(
                r#"{{"entry_id":"{id}","list":"debtor","subject_id":"230200000000127","legacy_ids":["MA1B2C3D8"],"listed_on":"2026-01-01"}}"#
            ))
        };
        let plain = entry(
            r#"{"entry_id":"u1","list":"debtor","subject_id":"230200000000127","listed_on":"2026-01-01"}"#,
        );
        let registration = ident::parse("230200000000127").unwrap().key();
        // Tied in the base, untied by a change.
        let base = ListIndex::build(&[tied("u1")], &rules).unwrap();
        assert_eq!(through(&base, A), pairs(&[("u1", "MA1B2C3D8")]));
        let untied = base.with_entry(plain.clone(), Some(registration)).unwrap();
        // Tied by a change, untied by the next; another entry keeps another tie.
        let tied_twice = untied.with_entry(tied("u2"), None).unwrap();
        assert_eq!(
            through(&tied_twice, A),
            pairs(&[("u1", "MA1B2C3D8"), ("u2", "MA1B2C3D8")])
        );
        let untied_twice = tied_twice.without_entry("u2", registration).unwrap();
        for index in [&untied, &untied_twice] {
            assert!(through(index, A).is_empty());
            let compacted = index.compacted(&rules).unwrap();
            let mut snapshot = Vec::new();
            compacted
                .write_snapshot(&mut snapshot, &rules.revision)
                .unwrap();
            let read = ListIndex::read_snapshot(&mut snapshot.as_slice(), &rules).unwrap();
            for index in [&compacted, &read] {
                assert!(through(index, A).is_empty());
                assert_eq!(index.entries_of(registration).len(), 1);
            }
        }
        // A tie written and taken off again leaves nothing behind.
        assert_eq!(
            untied_twice.overlay.carriers.len(),
            untied.overlay.carriers.len()
        );
    }
}
