//! Many subjects, one matter, one instant: what single calls would return, item by item
//! (invariant 11), spread over rayon's threads once the batch is large enough to pay for it.

use rayon::prelude::*;

use super::{decide, DecideError, Decision, Holdings};
use crate::ident::SubjectId;
use crate::ruleset::{MatterId, RuleSet};
use crate::timestamp::Timestamp;

/// Below this many subjects a batch runs on the calling thread: splitting costs more than it saves.
pub const PARALLEL_THRESHOLD: usize = 64;

/// Subjects per chunk: enough to amortise a chunk's set-up, few enough that the threads share
/// a batch evenly.
const CHUNK: usize = 256;

/// The decision on one subject of a batch: `None` where the identifier did not parse.
pub type BatchItem<'s> = Option<Result<Decision<'s>, DecideError>>;

/// Decides every subject and folds the decisions of each chunk of consecutive subjects, in
/// order, into one value per chunk, which `start` creates from the chunk's length. `fold` gets
/// each subject's position in the batch and its decision; `None` subjects (identifiers that
/// did not parse) get `None`. `holdings` gives what the lists hold about the subject at each
/// position.
///
/// Deciding and folding in one pass keeps no batch-sized vector of decisions, and a decision
/// is used while its entries are still in cache. The first error `fold` returns is returned.
pub fn decide_chunks<'s, A, E>(
    rules: &'s RuleSet,
    holdings: impl Fn(usize) -> Holdings<'s> + Sync,
    subjects: &[Option<SubjectId>],
    matter: MatterId,
    at: Timestamp,
    start: impl Fn(usize) -> A + Sync,
    fold: impl Fn(&mut A, usize, BatchItem<'s>) -> Result<(), E> + Sync,
) -> Result<Vec<A>, E>
where
    A: Send,
    E: Send,
{
    let chunk = |(number, chunk): (usize, &[Option<SubjectId>])| {
        let mut acc = start(chunk.len());
        for (offset, subject) in chunk.iter().enumerate() {
            let i = number * CHUNK + offset;
            let decision = subject
                .as_ref()
                .map(|s| decide(rules, holdings(i), s, matter, at));
            fold(&mut acc, i, decision)?;
        }
        Ok(acc)
    };
    if subjects.len() < PARALLEL_THRESHOLD {
        subjects.chunks(CHUNK).enumerate().map(chunk).collect()
    } else {
        subjects.par_chunks(CHUNK).enumerate().map(chunk).collect()
    }
}
