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
//!
//! Its parts: `query` (the read API), `runs` (the key-run table), `builder`, `overlay` (changes
//! and compaction), `carriers` (the older-identifier table) and `format` (the binary snapshot).

mod builder;
mod carriers;
mod format;
mod overlay;
mod query;
mod runs;
#[cfg(test)]
mod testing;

use std::hash::BuildHasher;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;

use self::carriers::{Carriers, Embedded};
pub use self::format::SnapshotFileError;
use self::overlay::Overlay;
use self::runs::Runs;
use super::entry::{EntryRef, Facts};
use super::text::TextStore;
use crate::ident::SubjectKey;
use crate::ruleset::Role;

pub(super) use self::builder::IndexBuilder;
pub(super) use self::format::SNAPSHOT_MAGIC;
pub use self::query::Entries;

fn hash(key: SubjectKey) -> u64 {
    FxBuildHasher.hash_one(key)
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
    embedded: Embedded,
    /// The text of each row of `facts`.
    text: TextStore,
}

impl Base {
    fn entry(&self, subject: SubjectKey, row: u32) -> EntryRef<'_> {
        EntryRef::stored(subject, self.facts[row as usize], &self.text, row)
    }
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

impl ListIndex {
    /// An index of `base` alone, with its counts taken from its facts.
    fn of_base(base: Base, list_count: usize) -> ListIndex {
        let mut counts = Counts {
            entries: 0,
            subjects: base.subjects.len(),
            per_list: vec![0; list_count],
            check_mismatches: 0,
        };
        for f in &base.facts {
            counts.adjust(f, true);
        }
        ListIndex {
            base: Arc::new(base),
            overlay: Arc::default(),
            counts,
        }
    }
}
