//! A subject's profile: what it holds, the pure `engine::profile`, the dispute histories of
//! the entries shown, and the register's profile-read event.

use std::sync::Arc;

use serde_json::Value;

use super::decide::ColdHoldings;
use super::{lists, AppError, Service};
use crate::engine::{self, Profile, Shown};
use crate::ident::SubjectId;
use crate::keys::Caller;
use crate::lists::Dispute;
use crate::register::Event;
use crate::request_id::RequestId;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// A profile as read.
pub struct ProfileRead<'s> {
    pub profile: Profile<'s>,
    /// The cold lists could not be looked up and are left out.
    pub lists_left_out: bool,
    /// The dispute history of every entry shown, its own entries first, then those naming
    /// it; `None` when the list source did not give them.
    pub histories: Option<ShownHistories>,
}

/// Each shown entry's dispute changes, oldest first (none for an entry never disputed).
pub type ShownHistories = Vec<Vec<Value>>;

impl Service {
    /// The profile of `subject` at `at`, from `snapshot` and what the subject holds; the
    /// read goes to the register.
    pub async fn profile<'s>(
        &self,
        snapshot: &'s Snapshot,
        cold: &'s ColdHoldings,
        subject: SubjectId,
        at: Timestamp,
        caller: Option<Caller>,
        request_id: Option<RequestId>,
    ) -> Result<ProfileRead<'s>, AppError> {
        let profile = engine::profile(&snapshot.rules, cold.of(snapshot, 0), &subject, at)?;
        let histories = match self.dispute_histories(&profile).await {
            Ok(histories) => Some(histories),
            Err(err) => {
                tracing::warn!(error = %err, "a profile is served without its entries' dispute histories");
                None
            }
        };
        self.record(|| Event::ProfileRead {
            record_id: uuid::Uuid::now_v7(),
            subject,
            caller,
            rules: Arc::clone(&snapshot.rules),
            lists_version: snapshot.lists_version,
            request_id,
        });
        Ok(ProfileRead {
            profile,
            lists_left_out: cold.unavailable(),
            histories,
        })
    }

    /// The dispute history of the shown entries that were ever disputed, from the list source
    /// (one round trip); a file source keeps no history.
    async fn dispute_histories(&self, profile: &Profile<'_>) -> Result<ShownHistories, AppError> {
        let shown: Vec<&Shown<'_>> = profile.entries.iter().chain(&profile.named_in).collect();
        let mut histories = vec![Vec::new(); shown.len()];
        let disputed: Vec<usize> = (0..shown.len())
            .filter(|&i| shown[i].entry.facts.dispute != Dispute::None)
            .collect();
        if disputed.is_empty() {
            return Ok(histories);
        }
        let ids = disputed
            .iter()
            .map(|&i| Ok(shown[i].entry.entry_id()?.into_owned()))
            .collect::<Result<Vec<String>, AppError>>()?;
        let source = Arc::clone(self.snapshots.lists());
        let stored = lists::blocking(move || source.dispute_histories(&ids)).await?;
        for (i, history) in disputed.into_iter().zip(stored) {
            histories[i] = lists::notes(&history)?;
        }
        Ok(histories)
    }
}
