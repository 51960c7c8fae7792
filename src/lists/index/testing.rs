//! What the index's unit tests share: identifiers, and entries parsed from exchange lines.

use crate::ident::{self, SubjectKey};
use crate::lists::{parse_entries, Entry, ListIndex};
use crate::ruleset::testing::mini;
use crate::ruleset::RuleSet;

pub(super) const A: &str = "91230200MA1B2C3D8T";
pub(super) const B: &str = "91230202MA18XK7PXM";
pub(super) const P: &str = "230202198503121238";

pub(super) fn entry(line: &str) -> Entry {
    parse_entries(line.as_bytes(), &mini()).unwrap().remove(0)
}

pub(super) fn key(id: &str) -> SubjectKey {
    ident::parse(id).unwrap().key()
}

/// The index compacted, and that compacted index written as a snapshot and read back: what
/// a change must survive.
pub(super) fn compacted_and_reread(index: &ListIndex, rules: &RuleSet) -> [ListIndex; 2] {
    let compacted = index.compacted(rules).unwrap();
    let mut snapshot = Vec::new();
    compacted
        .write_snapshot(&mut snapshot, &rules.revision)
        .unwrap();
    let read = ListIndex::read_snapshot(&mut snapshot.as_slice(), rules).unwrap();
    [compacted, read]
}
