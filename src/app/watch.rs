//! Screening a supervision watchlist (双随机 screening): every subject on it decided in one
//! matter at one instant, as a batch would decide it, and the positions of those that are
//! *listed in the matter* — whose decision is not a plain allow: a `block` or `flag`, or an
//! `allow` with any reason (a `reward` or `inform` measure of the matter) or with rewards
//! suppressed by a serious listing. A subject on no list, or whose entries are not in force or
//! lead to nothing in the matter, is not.
//!
//! The watchlist is decided in blocks of [`BLOCK`] subjects: each block's identifiers and
//! cold-list holdings are made, decided on rayon's threads and dropped, so that screening a
//! million subjects holds one block's worth at a time.

use std::sync::Arc;

use super::{AppError, ColdHoldings, Service};
use crate::engine::{self, Decision, Outcome};
use crate::ident::{SubjectId, SubjectKey};
use crate::ruleset::MatterId;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;
use crate::watchlists::{subject_of, Watchlists};

/// Subjects decided per block.
pub const BLOCK: usize = 65_536;

/// A watchlist's screening: its subjects' outcomes counted, and the positions (in the
/// watchlist's order) of those listed in the matter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Screened {
    /// By [`Outcome`], in the order of [`Outcome::ALL`].
    pub outcomes: [u64; 3],
    /// Subjects that could not be decided (a resident ID whose check digit fails and that is
    /// on no list): not listed.
    pub undecidable: u64,
    pub hits: Vec<u32>,
}

/// Whether a decision shows the subject listed in its matter (see the module's doc).
pub fn is_hit(decision: &Decision<'_>) -> bool {
    decision.outcome != Outcome::Allow
        || !decision.reasons.is_empty()
        || decision.rewards_suppressed_by.is_some()
}

impl Service {
    /// The watchlists, reachable for push filtering ([`Watchlists::contains`],
    /// [`Watchlists::names`]); `None` only for a service built without them (`jiangcheng
    /// decide`), never for `serve`.
    pub fn watchlists(&self) -> Option<&Arc<Watchlists>> {
        self.watchlists.as_ref()
    }

    /// Decides every subject of `subjects` (a watchlist's, in order) in `matter` at `at`
    /// from `snapshot`, with their cold-list holdings, and counts them; nothing is recorded or
    /// counted as a decision (the hits a caller is shown are decided again, and recorded, by
    /// [`Service::decide_batch`]).
    pub async fn screen(
        &self,
        snapshot: &Arc<Snapshot>,
        subjects: &[SubjectKey],
        matter: MatterId,
        at: Timestamp,
    ) -> Result<Screened, AppError> {
        let mut screened = Screened::default();
        for (block_number, block) in subjects.chunks(BLOCK).enumerate() {
            let ids: Vec<Option<SubjectId>> = block.iter().map(|key| subject_of(*key)).collect();
            let cold = self.batch_holdings(snapshot, &ids).await?;
            let snapshot = Arc::clone(snapshot);
            let (tx, rx) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let _ = tx.send(screen_block(&snapshot, &cold, &ids, matter, at));
            });
            let block_screened = rx
                .await
                .map_err(|_| AppError::Internal("the screening worker stopped".into()))?;
            let offset = (block_number * BLOCK) as u32;
            for (total, count) in screened.outcomes.iter_mut().zip(block_screened.outcomes) {
                *total += count;
            }
            screened.undecidable += block_screened.undecidable;
            screened
                .hits
                .extend(block_screened.hits.into_iter().map(|i| offset + i));
        }
        Ok(screened)
    }
}

/// One block's screening, positions within the block.
fn screen_block(
    snapshot: &Snapshot,
    cold: &ColdHoldings,
    ids: &[Option<SubjectId>],
    matter: MatterId,
    at: Timestamp,
) -> Screened {
    let chunks = engine::decide_chunks(
        &snapshot.rules,
        |i| cold.of(snapshot, i),
        ids,
        matter,
        at,
        |_| Screened::default(),
        |screened, index, item| {
            match item {
                Some(Ok(decision)) => {
                    screened.outcomes[decision.outcome as usize] += 1;
                    if is_hit(&decision) {
                        screened.hits.push(index as u32);
                    }
                }
                Some(Err(_)) | None => screened.undecidable += 1,
            }
            Ok::<(), std::convert::Infallible>(())
        },
    );
    let mut total = Screened::default();
    for chunk in chunks.into_iter().flatten() {
        for (sum, count) in total.outcomes.iter_mut().zip(chunk.outcomes) {
            *sum += count;
        }
        total.undecidable += chunk.undecidable;
        total.hits.extend(chunk.hits);
    }
    total
}
