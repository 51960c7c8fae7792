//! List administration: entries put, read, removed, repaired and disputed, and objections
//! under review. Writes go to the list source (Redis, the shared source of truth) and are
//! answered only once it has them; a file source is read-only. Every call to the source is
//! bounded by its timeout and runs off the async workers.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::{AppError, Service};
use crate::json_words;
use crate::lists::source::{Note, Source, SourceError};
use crate::lists::{Dispute, Entry, EntryRecord, Status};
use crate::timestamp::Timestamp;

/// An entry put: as stored, and what changed.
pub struct Put {
    pub entry: Value,
    pub created: bool,
    pub changed: bool,
    pub version: u64,
}

/// An entry repaired or disputed: as stored, and whether anything changed.
pub struct Amended {
    pub entry: Value,
    pub changed: bool,
    pub version: u64,
}

/// An entry as stored, with its dispute changes (oldest first).
pub struct StoredEntry {
    pub entry: Value,
    pub dispute_history: Vec<Value>,
}

/// Objections under review, and how many of them are overdue.
#[derive(Serialize, Clone, Copy)]
pub struct DisputeCounts {
    pub review_days: u16,
    pub under_review: u64,
    pub overdue: u64,
}

/// One objection under review.
#[derive(Serialize)]
pub struct Objection {
    entry_id: String,
    under_review_since: String,
    overdue: bool,
    /// The stored entry (absent if it was removed while the listing was read).
    entry: Option<Value>,
}

/// Objections under review, oldest first.
pub struct UnderReview {
    pub review_days: u16,
    /// Objections that entered review before this instant are overdue.
    pub overdue_before: Timestamp,
    pub disputes: Vec<Objection>,
    /// There were more than were asked for.
    pub truncated: bool,
}

/// Runs a blocking call to the list source off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| AppError::Internal(err.to_string()))?
        .map_err(unavailable)
}

/// A read-only source, else an unavailable one.
fn unavailable(err: SourceError) -> AppError {
    if err.is_read_only() {
        AppError::ReadOnlySource
    } else {
        AppError::SourceUnavailable(err.to_string())
    }
}

/// Stored notes (JSON written by this module) as values.
pub(super) fn notes(stored: &[String]) -> Result<Vec<Value>, AppError> {
    stored
        .iter()
        .map(|note| serde_json::from_str(note).map_err(|err| AppError::Internal(err.to_string())))
        .collect()
}

/// Who and why of a list change, as stored beside the entry: free text, so an ID number written
/// into it is masked like every other stored text.
fn masked(text: &str) -> String {
    crate::ident::mask_id_numbers(text).into_owned()
}

/// The instant before which an objection entered review is overdue now.
fn cutoff(review_days: u16) -> Timestamp {
    Timestamp::now().minus_working_days(review_days)
}

impl Service {
    /// Refuses list administration where the lists come from a file, which is read-only.
    pub fn check_writable(&self) -> Result<(), AppError> {
        self.writable().map(drop)
    }

    /// The list source if it takes writes: a file source is read-only.
    fn writable(&self) -> Result<Arc<Source>, AppError> {
        let lists = self.snapshots.lists();
        lists.writable().map_err(unavailable)?;
        Ok(Arc::clone(lists))
    }

    /// Creates or replaces entry `entry_id` of `list` from `body`, the entry's exchange form
    /// (which may repeat the list and the entry id but not contradict them), checked against
    /// the current rule set.
    pub async fn put_entry(
        &self,
        list: &str,
        entry_id: &str,
        body: &[u8],
    ) -> Result<Put, AppError> {
        let lists = self.writable()?;
        let snapshot = self.snapshot()?;
        if snapshot.rules.list_id(list).is_none() {
            return Err(AppError::UnknownList(list.to_owned()));
        }
        let mut value: Value = serde_json::from_slice(body)
            .map_err(|err| AppError::InvalidJson(json_words::plain_words(body, &err)))?;
        let Some(object) = value.as_object_mut() else {
            return Err(invalid("(body)", "must be an object"));
        };
        // The path names the entry; the body may repeat it but not contradict it.
        for (field, from_path) in [("entry_id", entry_id), ("list", list)] {
            match object.get(field) {
                Some(given) if given != &Value::String(from_path.to_owned()) => {
                    return Err(invalid(
                        field,
                        format!("must match the path (`{from_path}`)"),
                    ));
                }
                _ => {
                    object.insert(field.to_owned(), Value::String(from_path.to_owned()));
                }
            }
        }
        let text = value.to_string();
        let record: EntryRecord<'_> = serde_json::from_str(&text)
            .map_err(|err| invalid("(body)", json_words::reason(&err)))?;
        let entry = Entry::from_record(record, &snapshot.rules)
            .map_err(|err| invalid(err.field, err.message))?;
        let rules = Arc::clone(&snapshot.rules);
        let stored = serde_json::to_value(entry.to_record(&rules))
            .map_err(|err| AppError::Internal(err.to_string()))?;
        let outcome = blocking(move || lists.put(&entry, &rules, None, Timestamp::now())).await?;
        self.nudge_push();
        Ok(Put {
            entry: stored,
            created: outcome.created,
            changed: outcome.changed,
            version: outcome.version,
        })
    }

    /// Entry `entry_id` of `list` as stored, with its dispute history.
    pub async fn get_entry(&self, list: &str, entry_id: &str) -> Result<StoredEntry, AppError> {
        let lists = self.writable()?;
        let wanted = entry_id.to_owned();
        let (stored, mut history) = blocking(move || {
            let histories = lists.dispute_histories(std::slice::from_ref(&wanted))?;
            Ok((lists.get(&wanted)?, histories))
        })
        .await?;
        let entry: Option<Value> = stored.and_then(|json| serde_json::from_str(&json).ok());
        match entry {
            Some(entry) if entry["list"] == Value::String(list.to_owned()) => Ok(StoredEntry {
                entry,
                dispute_history: notes(&history.pop().unwrap_or_default())?,
            }),
            _ => Err(not_found(list, entry_id)),
        }
    }

    /// Removes entry `entry_id` of `list`, keeping a tombstone that says who removed it and
    /// why; the lists' version after it.
    pub async fn delete_entry(
        &self,
        list: &str,
        entry_id: &str,
        by: &str,
        reason: &str,
    ) -> Result<u64, AppError> {
        let lists = self.writable()?;
        current_entry(&lists, list, entry_id).await?;
        let at = Timestamp::now().to_string();
        let id = entry_id.to_owned();
        let (by, reason) = (masked(by), masked(reason));
        let version = blocking(move || lists.delete(&id, &by, &reason, &at))
            .await?
            .ok_or_else(|| not_found(list, entry_id))?;
        self.nudge_push();
        Ok(version)
    }

    /// Refuses a repair of an entry of `list` if the list is not repairable (a court list).
    pub fn check_repairable(&self, list: &str) -> Result<(), AppError> {
        let rules = Arc::clone(&self.snapshot()?.rules);
        if rules
            .list_id(list)
            .is_some_and(|id| !rules.list(id).repairable)
        {
            return Err(AppError::NotRepairable(list.to_owned()));
        }
        Ok(())
    }

    /// Credit repair: the entry stays, with status `repaired`, and stops counting everywhere;
    /// `document` is the repair decision (信用修复决定书).
    pub async fn repair_entry(
        &self,
        (list, entry_id): (String, String),
        document: &str,
        by: &str,
    ) -> Result<Amended, AppError> {
        let at = Timestamp::now();
        let note = serde_json::json!({"document": masked(document), "by": masked(by), "at": at.to_string()});
        self.amend((list, entry_id), (Note::Repair, note, at), |record| {
            record.status = Status::Repaired;
        })
        .await
    }

    /// Sets the dispute state (异议) of an entry.
    pub async fn dispute_entry(
        &self,
        (list, entry_id): (String, String),
        dispute: Dispute,
        by: &str,
        reason: &str,
    ) -> Result<Amended, AppError> {
        let at = Timestamp::now();
        let note = serde_json::json!({"dispute": dispute, "by": masked(by), "reason": masked(reason), "at": at.to_string()});
        self.amend((list, entry_id), (Note::Dispute, note, at), |record| {
            record.dispute = dispute;
        })
        .await
    }

    /// Reads the entry, changes it, and writes it back with a note of why, made at `at`.
    async fn amend(
        &self,
        (list, entry_id): (String, String),
        (kind, note, at): (Note, Value, Timestamp),
        change: impl FnOnce(&mut EntryRecord<'static>),
    ) -> Result<Amended, AppError> {
        let lists = self.writable()?;
        let snapshot = self.snapshot()?;
        let mut record = current_entry(&lists, &list, &entry_id).await?;
        change(&mut record);
        let entry = Entry::from_record(record, &snapshot.rules)
            .map_err(|err| invalid(err.field, err.message))?;
        let rules = Arc::clone(&snapshot.rules);
        let stored = serde_json::to_value(entry.to_record(&rules))
            .map_err(|err| AppError::Internal(err.to_string()))?;
        let note = note.to_string();
        let outcome = blocking(move || lists.put(&entry, &rules, Some((kind, &note)), at)).await?;
        self.nudge_push();
        Ok(Amended {
            entry: stored,
            changed: outcome.changed,
            version: outcome.version,
        })
    }

    /// The list source, `None` for one that keeps no disputes (a file, which is read-only).
    fn disputes_source(&self) -> Result<Option<Arc<Source>>, AppError> {
        let lists = self.snapshots.lists();
        match lists.writable() {
            Ok(()) => Ok(Some(Arc::clone(lists))),
            Err(err) if err.is_read_only() => Ok(None),
            Err(err) => Err(AppError::SourceUnavailable(err.to_string())),
        }
    }

    /// The objections under review and overdue now; `None` for a file source.
    pub async fn dispute_counts(&self) -> Result<Option<DisputeCounts>, AppError> {
        let Some(lists) = self.disputes_source()? else {
            return Ok(None);
        };
        let review_days = self.snapshot()?.rules.dispute_review_days;
        let (under_review, overdue) =
            blocking(move || lists.under_review_counts(cutoff(review_days))).await?;
        Ok(Some(DisputeCounts {
            review_days,
            under_review,
            overdue,
        }))
    }

    /// Objections under review (only the overdue ones if `overdue_only`), oldest first, at
    /// most `limit` of them.
    pub async fn under_review(
        &self,
        overdue_only: bool,
        limit: usize,
    ) -> Result<UnderReview, AppError> {
        let lists = self.disputes_source()?.ok_or(AppError::ReadOnlySource)?;
        let review_days = self.snapshot()?.rules.dispute_review_days;
        let cutoff = cutoff(review_days);
        let until = overdue_only.then_some(cutoff);
        // One more than shown tells whether there are more.
        let mut found = blocking(move || lists.under_review(until, limit + 1)).await?;
        let truncated = found.len() > limit;
        found.truncate(limit);
        let disputes = found
            .into_iter()
            .map(|(entry_id, since, entry)| Objection {
                entry_id,
                under_review_since: since.to_string(),
                overdue: since < cutoff,
                entry: entry.and_then(|json| serde_json::from_str(&json).ok()),
            })
            .collect();
        Ok(UnderReview {
            review_days,
            overdue_before: cutoff,
            disputes,
            truncated,
        })
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
    AppError::InvalidEntry {
        field: field.into(),
        message: message.into(),
    }
}

fn not_found(list: &str, entry_id: &str) -> AppError {
    AppError::EntryNotFound {
        list: list.to_owned(),
        entry_id: entry_id.to_owned(),
    }
}

/// The stored entry of `list`, as a record, or not found.
async fn current_entry(
    lists: &Arc<Source>,
    list: &str,
    entry_id: &str,
) -> Result<EntryRecord<'static>, AppError> {
    let reader = Arc::clone(lists);
    let wanted = entry_id.to_owned();
    let stored = blocking(move || reader.get(&wanted)).await?;
    let json = stored.ok_or_else(|| not_found(list, entry_id))?;
    let record: EntryRecord<'_> =
        serde_json::from_str(&json).map_err(|err| AppError::Internal(err.to_string()))?;
    let record = record.into_owned();
    if record.list != list {
        return Err(not_found(list, entry_id));
    }
    Ok(record)
}
