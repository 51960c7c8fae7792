//! Where the register keeps its records and feedback: Redis (shared by every instance) or
//! files (one instance). Both answer the same questions, so the writer and the HTTP handlers
//! do not care which.

use std::path::Path;

use uuid::Uuid;

use super::feedback::FeedbackRecord;
use super::record::{CallerRecord, Line, RegisterRecord};
use crate::ident::mask_id_numbers;
use crate::timestamp::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the register's Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the register's files: {0}")]
    Io(#[from] std::io::Error),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("`{0}` is not a cursor this endpoint gave out")]
    BadCursor(String),
}

/// A failed [`RegisterStore::append`]: its first `stored` lines were stored (and count as
/// such), the rest were not.
#[derive(Debug, thiserror::Error)]
#[error("{source} (after storing {stored} records)")]
pub struct AppendError {
    pub stored: usize,
    #[source]
    pub source: StoreError,
}

impl AppendError {
    /// A failure before any line was stored.
    pub fn none_stored(source: impl Into<StoreError>) -> AppendError {
        AppendError {
            stored: 0,
            source: source.into(),
        }
    }
}

/// What retention did in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Records removed from the store.
    pub removed: u64,
    /// Of them, how many were written to the archive first.
    pub archived: u64,
}

/// The outcome of storing a feedback report.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Stored now.
    Created(FeedbackRecord),
    /// A report for this decision and measure was stored before; this is it.
    Existing(FeedbackRecord),
}

/// A page request through stored feedback, in the order it was stored.
#[derive(Debug, Clone, Default)]
pub struct FeedbackQuery {
    /// Only feedback stored at or after this instant.
    pub since: Option<Timestamp>,
    /// Only feedback from this executing department.
    pub department: Option<String>,
    /// Only feedback filed by a key of this department (a `feedback` key reads its own).
    pub filed_by: Option<String>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedbackPage {
    pub items: Vec<FeedbackRecord>,
    /// Where the next page starts; `None` once the end is reached.
    pub next_cursor: Option<String>,
}

pub trait RegisterStore: Send + Sync {
    /// Stores records, in order. Storing a record id again changes nothing (replays of the
    /// spill file may repeat records that were stored just before a failure). A failure says
    /// how many of the first lines were stored all the same, so that none is counted as lost
    /// that is in fact in the store.
    fn append(&self, lines: &[Line]) -> Result<(), AppendError>;

    /// Whether the store would take records now: the writer asks while records are being
    /// dropped, to tell readiness when the register can record again.
    fn probe(&self) -> Result<(), StoreError>;

    /// Removes what the store holds from before `before`, writing it to `archive` first when
    /// one is given.
    fn expire(&self, before: Timestamp, archive: Option<&Path>) -> Result<Expired, StoreError>;

    /// Makes what `append` stored durable, where that takes a step of its own (files: a sync
    /// to disk, which costs too much to take per batch). Redis keeps to its own persistence.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The record with this id.
    fn find(&self, record_id: Uuid) -> Result<Option<RegisterRecord>, StoreError>;

    /// Every record asked for in `[from, to)`, each once, to `each` until it returns false.
    fn scan(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: &mut dyn FnMut(RegisterRecord) -> bool,
    ) -> Result<(), StoreError>;

    /// Stores a report durably unless one for its decision and measure exists already.
    fn put_feedback(&self, record: &FeedbackRecord) -> Result<Stored, StoreError>;

    fn feedback_page(&self, query: &FeedbackQuery) -> Result<FeedbackPage, StoreError>;

    /// The feedback record with this id.
    fn feedback_by_id(&self, feedback_id: Uuid) -> Result<Option<FeedbackRecord>, StoreError>;

    /// Replaces `current` with `corrected` durably, unless it was corrected meanwhile (then
    /// false: read it again).
    fn correct_feedback(
        &self,
        current: &FeedbackRecord,
        corrected: &FeedbackRecord,
    ) -> Result<bool, StoreError>;

    /// The stored feedback for each (decision id, measure), if any.
    fn feedback_of(&self, keys: &[String]) -> Result<Vec<Option<FeedbackRecord>>, StoreError>;

    /// Stores a month's count of active enterprises durably; it replaces the month's count
    /// stored before.
    fn put_active_enterprises(&self, count: &ActiveEnterprises) -> Result<(), StoreError>;

    /// The count of active enterprises last stored for `month` (`YYYY-MM`).
    fn active_enterprises(&self, month: &str) -> Result<Option<ActiveEnterprises>, StoreError>;
}

/// 存续企业数: the enterprises registered and not deregistered at a month's end, which the
/// service cannot count and the credit office uploads (the denominator of the A-grade
/// taxpayers' share, docs/indicators.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ActiveEnterprises {
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
    /// When the register stored it (UTC+8).
    pub uploaded_at: String,
    /// The key that uploaded it; none when the service runs without keys.
    pub caller: Option<CallerRecord>,
}

pub(super) fn parse_active(json: &str) -> Result<ActiveEnterprises, StoreError> {
    serde_json::from_str(json).map_err(|err| corrupt(json, &err))
}

/// Parses a stored line; a line that does not parse is corruption, named by its start.
pub(super) fn parse_record(json: &str) -> Result<RegisterRecord, StoreError> {
    serde_json::from_str(json).map_err(|err| corrupt(json, &err))
}

pub(super) fn parse_feedback(json: &str) -> Result<FeedbackRecord, StoreError> {
    serde_json::from_str(json).map_err(|err| corrupt(json, &err))
}

fn corrupt(json: &str, err: &serde_json::Error) -> StoreError {
    let start: String = json.chars().take(60).collect();
    // The message is logged and answered: an ID number in the line stays masked.
    StoreError::Corrupt(format!("{err} in `{}…`", mask_id_numbers(&start)))
}

/// Locks a mutex, taking over from a thread that panicked while holding it (the data is
/// appended-to files and counters, left consistent by every step).
pub(super) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
