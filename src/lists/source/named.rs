//! Who the entries of cold lists name. A cold entry is looked up by the subject it is filed
//! under, so a person it names as a responsible person is reached only through this table:
//! for each such person, the subjects whose cold entries name them. It belongs to one snapshot
//! (built by the full load, patched by the follower's changes), so a decision never reads it at
//! another list version than its index.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock};

use super::change::{Change, ChangeKind};
use crate::ident::SubjectKey;
use crate::ruleset::RuleSet;

/// One person named by one cold entry. Packed to 8 bytes so that a naming takes 40 bytes, not
/// the 48 that the keys' 16-byte alignment would pad it to.
#[repr(C, packed(8))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Naming {
    person: SubjectKey,
    /// The subject the entry is filed under.
    filer: SubjectKey,
    /// The hash of the entry's id, which finds the namings of an entry that is replaced or
    /// removed.
    entry: u64,
}

impl Naming {
    pub(super) fn new(person: SubjectKey, filer: SubjectKey, entry_id: &str) -> Naming {
        Naming {
            person,
            filer,
            entry: entry_hash(entry_id),
        }
    }
}

/// One person named by one cold entry, with the entry's id: what a load reads, and what a
/// stored snapshot keeps (the table's id hashes are keyed per process, so they cannot be
/// stored).
pub(super) struct NamedBy {
    pub(super) person: SubjectKey,
    pub(super) filer: SubjectKey,
    pub(super) entry_id: String,
}

/// The key of [`entry_hash`], drawn once per process.
static ENTRY_KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// The hash of an entry's id that tells one filer's entries apart in the table. Keyed
/// (SipHash with a key drawn at random for each process), not the list file's unkeyed hash:
/// whoever files entries could otherwise choose two ids of one filer with the same hash, and
/// the removal of one would silently drop the other's namings. The table lives only in
/// memory, so the key need not outlive the process.
fn entry_hash(entry_id: &str) -> u64 {
    ENTRY_KEY.hash_one(entry_id)
}

/// The persons named in cold entries, each with the subjects filing those entries: a sorted
/// base shared by the snapshots built on it, and an overlay of the changes since, so that a
/// change copies the overlay, not the table. The overlay is folded into a new base once it
/// grows past a share of it.
#[derive(Debug, Clone, Default)]
pub struct ColdNames {
    /// Sorted.
    base: Arc<[Naming]>,
    /// Entries (filer, id hash) whose namings in `base` are gone, sorted.
    removed: Arc<[(SubjectKey, u64)]>,
    /// Namings added since `base` was built, sorted.
    added: Arc<[Naming]>,
}

/// The overlay is folded into the base when it holds more than this, or a 64th of the base.
const COMPACT_AT: usize = 4096;

/// The namings of `person` in a sorted slice.
fn naming(namings: &[Naming], person: SubjectKey) -> impl Iterator<Item = &Naming> {
    let start = namings.partition_point(|n| { n.person } < person);
    namings[start..]
        .iter()
        .take_while(move |n| { n.person } == person)
}

impl ColdNames {
    pub(super) fn new(mut namings: Vec<Naming>) -> ColdNames {
        namings.sort_unstable();
        // An entry read twice by the load, or naming a person in two roles, counts once.
        namings.dedup();
        ColdNames {
            base: namings.into(),
            ..ColdNames::default()
        }
    }

    pub(super) fn of_named(named: &[NamedBy]) -> ColdNames {
        ColdNames::new(
            named
                .iter()
                .map(|n| Naming::new(n.person, n.filer, &n.entry_id))
                .collect(),
        )
    }

    /// How many namings the table holds in memory (until the next compaction, this counts
    /// those that changes have removed from the base).
    pub fn len(&self) -> usize {
        self.base.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The subjects, other than the person, whose cold entries name `person`, each once (no
    /// allocation when there are none).
    pub fn filers_naming(&self, person: SubjectKey) -> Vec<SubjectKey> {
        let mut filers: Vec<SubjectKey> = naming(&self.base, person)
            .filter(|n| self.removed.binary_search(&(n.filer, n.entry)).is_err())
            .chain(naming(&self.added, person))
            .map(|n| n.filer)
            .filter(|&filer| filer != person)
            .collect();
        filers.sort_unstable();
        filers.dedup();
        filers
    }

    /// The table with the changes `patch` recorded (this one, shared, if there are none).
    pub(crate) fn patched(&self, patch: NamesPatch) -> ColdNames {
        if patch.removed.is_empty() && patch.added.is_empty() {
            return self.clone();
        }
        let mut added: Vec<Naming> = self
            .added
            .iter()
            .filter(|n| !patch.removed.contains(&(n.filer, n.entry)))
            .copied()
            .collect();
        added.extend(patch.added);
        added.sort_unstable();
        added.dedup();
        let mut removed = self.removed.to_vec();
        removed.extend(patch.removed);
        removed.sort_unstable();
        removed.dedup();
        let next = ColdNames {
            base: Arc::clone(&self.base),
            removed: removed.into(),
            added: added.into(),
        };
        if next.removed.len() + next.added.len() > COMPACT_AT.max(next.base.len() / 64) {
            next.compacted()
        } else {
            next
        }
    }

    /// The overlay folded into a new base.
    fn compacted(&self) -> ColdNames {
        let kept = self
            .base
            .iter()
            .filter(|n| self.removed.binary_search(&(n.filer, n.entry)).is_err());
        ColdNames::new(kept.chain(self.added.iter()).copied().collect())
    }
}

/// What one change does to the table: the entry it replaces or removes loses its namings, and
/// a new entry on a cold list adds its own.
pub(crate) struct NamesStep {
    removed: Option<(SubjectKey, u64)>,
    added: Vec<Naming>,
}

impl NamesStep {
    /// Read before the change is applied (applying consumes it).
    pub(crate) fn of(change: &Change, rules: &RuleSet) -> NamesStep {
        let (entry_id, added) = match &change.kind {
            ChangeKind::Refused { .. } => {
                return NamesStep {
                    removed: None,
                    added: Vec::new(),
                }
            }
            ChangeKind::Delete { entry_id } => (&**entry_id, Vec::new()),
            ChangeKind::Put(entry) => {
                let added = if rules.list(entry.facts.list).cold {
                    entry
                        .responsible_persons
                        .iter()
                        .map(|p| Naming::new(p.id, entry.subject, &entry.entry_id))
                        .collect()
                } else {
                    Vec::new()
                };
                (&*entry.entry_id, added)
            }
        };
        NamesStep {
            removed: change.replaced.map(|filer| (filer, entry_hash(entry_id))),
            added,
        }
    }
}

/// The steps of the changes applied in one pass of the follower, in order.
#[derive(Default)]
pub(crate) struct NamesPatch {
    /// Entries (filer, id hash) whose namings from before the pass are gone.
    removed: HashSet<(SubjectKey, u64)>,
    added: Vec<Naming>,
}

impl NamesPatch {
    pub(crate) fn take(&mut self, step: NamesStep) {
        if let Some(gone) = step.removed {
            // An entry added earlier in the pass and replaced or removed since.
            self.added.retain(|n| (n.filer, n.entry) != gone);
            self.removed.insert(gone);
        }
        self.added.extend(step.added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use crate::lists::source::StreamRecord;
    use crate::ruleset::testing::{compile_with, mini};

    const COMPANY: &str = "91230200MA1B2C3D8T";
    const OTHER: &str = "91230202MA18XK7PXM";
    const PERSON: &str = "230202198503121238";

    fn key(id: &str) -> SubjectKey {
        ident::parse(id).unwrap().key()
    }

    /// `mini` with its `debtor` list cold.
    fn cold_rules() -> RuleSet {
        compile_with(|files| {
            files[1] = files[1].replace("code = \"debtor\"\n", "code = \"debtor\"\ncold = true\n");
        })
        .unwrap()
    }

    fn change(version: u64, entry_id: &str, subject: Option<&str>, old_subject: &str) -> Change {
        let entry_json = subject.map_or_else(String::new, |subject| {
            format!(
                r#"{{"entry_id":"{entry_id}","list":"debtor","subject_id":"{subject}","listed_on":"2026-03-01","responsible_persons":[{{"role":"legal_rep","id":"{PERSON}"}}]}}"#
            )
        });
        let record = StreamRecord {
            version,
            delete: subject.is_none(),
            entry_id: entry_id.into(),
            entry_json,
            old_subject: old_subject.into(),
        };
        Change::decode(record, &cold_rules())
    }

    fn patched(names: &ColdNames, changes: &[Change]) -> ColdNames {
        let rules = cold_rules();
        let mut patch = NamesPatch::default();
        for change in changes {
            patch.take(NamesStep::of(change, &rules));
        }
        names.patched(patch)
    }

    fn filers(names: &ColdNames) -> Vec<SubjectKey> {
        names.filers_naming(key(PERSON))
    }

    #[test]
    fn a_naming_takes_forty_bytes() {
        assert_eq!(std::mem::size_of::<Naming>(), 40);
    }

    #[test]
    fn the_table_follows_puts_moves_and_deletes_of_cold_entries() {
        let empty = ColdNames::default();
        let put = patched(&empty, &[change(1, "k1", Some(COMPANY), "")]);
        assert_eq!(filers(&put), [key(COMPANY)]);
        // A second entry of the same company names the person once more: still one filer.
        let two = patched(&put, &[change(2, "k2", Some(COMPANY), "")]);
        assert_eq!((two.len(), filers(&two)), (2, vec![key(COMPANY)]));
        // The entry moves to another company: the old filer loses it, the new one gains it.
        let moved = patched(&two, &[change(3, "k1", Some(OTHER), COMPANY)]);
        assert_eq!(filers(&moved), [key(COMPANY), key(OTHER)]);
        // Deleting one of the company's two entries leaves the other naming the person.
        let deleted = patched(&moved, &[change(4, "k2", None, COMPANY)]);
        assert_eq!(filers(&deleted), [key(OTHER)]);
        let gone = patched(&deleted, &[change(5, "k1", None, OTHER)]);
        assert!(gone.is_empty(), "{gone:?}");
        // The other persons' filers are not the person's.
        assert_eq!(put.filers_naming(key(COMPANY)), []);
    }

    /// Two entries of one filer name the same person: removing one, whether it came with
    /// the load or a change, leaves the other's naming.
    #[test]
    fn removing_one_of_a_filers_two_entries_keeps_the_others_naming() {
        let loaded = ColdNames::new(vec![
            Naming::new(key(PERSON), key(COMPANY), "k1"),
            Naming::new(key(PERSON), key(COMPANY), "k2"),
        ]);
        let followed = patched(
            &ColdNames::default(),
            &[
                change(1, "k1", Some(COMPANY), ""),
                change(2, "k2", Some(COMPANY), ""),
            ],
        );
        for names in [loaded, followed] {
            let one_left = patched(&names, &[change(3, "k1", None, COMPANY)]);
            assert_eq!(filers(&one_left), [key(COMPANY)]);
            assert_eq!(filers(&one_left.compacted()), [key(COMPANY)]);
            let none_left = patched(&one_left, &[change(4, "k2", None, COMPANY)]);
            assert_eq!(filers(&none_left), []);
        }
    }

    /// The namings tell entries apart by the keyed hash, not the list file's unkeyed one.
    #[test]
    fn namings_hash_entry_ids_with_the_process_key() {
        let naming = Naming::new(key(PERSON), key(COMPANY), "k1");
        assert_eq!({ naming.entry }, ENTRY_KEY.hash_one("k1"));
        assert_ne!({ naming.entry }, crate::lists::file::id_hash("k1"));
        assert_ne!(entry_hash("k1"), entry_hash("k2"));
    }

    #[test]
    fn changes_in_one_pass_are_taken_in_order_and_an_unchanged_table_is_shared() {
        let base = patched(&ColdNames::default(), &[change(1, "k1", Some(COMPANY), "")]);
        // Added, then removed, then added again under another company, all in one pass.
        let pass = patched(
            &base,
            &[
                change(2, "k2", Some(COMPANY), ""),
                change(3, "k2", None, COMPANY),
                change(4, "k1", None, COMPANY),
                change(5, "k1", Some(OTHER), ""),
            ],
        );
        assert_eq!(filers(&pass), [key(OTHER)]);
        // A pass that changes nothing here shares the table.
        let refused = Change::decode(
            StreamRecord {
                version: 6,
                delete: false,
                entry_id: "k3".into(),
                entry_json: "{".into(),
                old_subject: String::new(),
            },
            &cold_rules(),
        );
        let untouched = patched(&pass, &[refused]);
        assert!(Arc::ptr_eq(&untouched.added, &pass.added));
        assert!(Arc::ptr_eq(&untouched.base, &pass.base));
    }

    #[test]
    fn an_overlay_past_its_bound_is_folded_into_the_base_and_reads_the_same() {
        let base = ColdNames::new(vec![
            Naming::new(key(PERSON), key(COMPANY), "k1"),
            Naming::new(key(PERSON), key(OTHER), "k2"),
        ]);
        // Deletes of warm entries the table does not hold, then of k2: the base is rebuilt.
        let mut changes: Vec<Change> = (0..COMPACT_AT as u64)
            .map(|i| Change {
                version: i + 1,
                replaced: Some(key(COMPANY)),
                kind: ChangeKind::Delete {
                    entry_id: format!("w{i}"),
                },
            })
            .collect();
        let before = patched(&base, &changes);
        assert_eq!((before.removed.len(), before.base.len()), (COMPACT_AT, 2));
        assert_eq!(filers(&before), [key(COMPANY), key(OTHER)]);
        changes.push(change(9_999, "k2", None, OTHER));
        let after = patched(&base, &changes);
        assert!(after.removed.is_empty() && after.added.is_empty());
        assert_eq!((after.len(), filers(&after)), (1, vec![key(COMPANY)]));
    }

    #[test]
    fn a_warm_entry_names_nobody_here_and_a_refused_change_changes_nothing() {
        let warm = Change::decode(
            StreamRecord {
                version: 1,
                delete: false,
                entry_id: "w1".into(),
                entry_json: format!(
                    r#"{{"entry_id":"w1","list":"debtor","subject_id":"{COMPANY}","listed_on":"2026-03-01","responsible_persons":[{{"role":"legal_rep","id":"{PERSON}"}}]}}"#
                ),
                old_subject: String::new(),
            },
            &mini(),
        );
        let mut patch = NamesPatch::default();
        patch.take(NamesStep::of(&warm, &mini()));
        assert!(ColdNames::default().patched(patch).is_empty());

        let base = patched(&ColdNames::default(), &[change(1, "k1", Some(COMPANY), "")]);
        let refused = Change::decode(
            StreamRecord {
                version: 2,
                delete: false,
                entry_id: "k1".into(),
                entry_json: "{".into(),
                old_subject: COMPANY.into(),
            },
            &cold_rules(),
        );
        assert_eq!(filers(&patched(&base, &[refused])), [key(COMPANY)]);
    }
}

/// What a person named nowhere costs in the table, for callgrind (docs/performance.md): a table
/// of `JC_NAMINGS` namings (1,000,000 by default), and 10,000 other persons looked up in it
/// inside `misses`, which alone is counted. Ignored by `cargo test`; run as
///
/// ```text
/// cargo test --release --lib named::measure --no-run   # prints the test binary
/// valgrind --tool=callgrind --toggle-collect='*measure*misses*' --callgrind-out-file=/dev/null \
///     target/release/deps/jiangcheng-… --ignored --exact lists::source::named::measure::person_miss
/// ```
#[cfg(test)]
mod measure {
    use super::*;
    use crate::ident;

    #[inline(never)]
    fn misses(names: &ColdNames, persons: &[SubjectKey]) -> usize {
        persons
            .iter()
            .map(|&p| std::hint::black_box(names.filers_naming(p)).len())
            .sum()
    }

    #[test]
    #[ignore = "a measurement, run under callgrind"]
    fn person_miss() {
        let mut persons = (0..)
            .map(|i| crate::lists::gen::subject_id(7, i))
            .filter(|(_, is_person)| *is_person)
            .map(|(id, _)| ident::parse(&id).unwrap().key());
        let company = ident::parse("91230200MA1B2C3D8T").unwrap().key();
        let n: u64 = std::env::var("JC_NAMINGS").map_or(1_000_000, |n| n.parse().unwrap());
        let namings: Vec<Naming> = (0..n)
            .map(|i| Naming::new(persons.next().unwrap(), company, &format!("k{i}")))
            .collect();
        let names = ColdNames::new(namings);
        let asked: Vec<SubjectKey> = persons.by_ref().take(10_000).collect();
        assert_eq!(misses(&names, &asked), 0);
    }
}
