//! Many subjects, one matter, one instant: what single calls would return, item by item
//! (invariant 11), spread over rayon's threads once the batch is large enough to pay for it.

use rayon::prelude::*;

use std::sync::Arc;

use super::{decide_with_cold, DecideError, Decision};
use crate::ident::SubjectId;
use crate::lists::Entry;
use crate::lists::ListIndex;
use crate::ruleset::{MatterId, RuleSet};
use crate::timestamp::Timestamp;

/// Below this many subjects a batch runs on the calling thread: splitting costs more than it saves.
pub const PARALLEL_THRESHOLD: usize = 64;

/// Decides every subject; `None` items (identifiers that did not parse) stay `None`. `cold`
/// holds each subject's entries on cold lists, item by item (or is empty: no cold lists).
pub fn decide_many<'s>(
    rules: &'s RuleSet,
    lists: &'s ListIndex,
    cold: &'s [Arc<[Entry]>],
    subjects: &[Option<SubjectId>],
    matter: MatterId,
    at: Timestamp,
) -> Vec<Option<Result<Decision<'s>, DecideError>>> {
    let one = |(i, subject): (usize, &Option<SubjectId>)| {
        let cold = cold.get(i).map_or(&[][..], |entries| &entries[..]);
        subject
            .as_ref()
            .map(|s| decide_with_cold(rules, lists, cold, s, matter, at))
    };
    if subjects.len() < PARALLEL_THRESHOLD {
        subjects.iter().enumerate().map(one).collect()
    } else {
        subjects
            .par_iter()
            .enumerate()
            .with_min_len(PARALLEL_THRESHOLD / 2)
            .map(one)
            .collect()
    }
}
