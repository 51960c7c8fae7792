//! Objections (异议) awaiting an answer: `GET /v1/disputes?state=under_review&overdue=true`
//! lists them, and the overdue count goes to `/v1/status` and `/metrics`. An objection is
//! overdue once it has been `under_review` longer than the rule set's `dispute_review_days`
//! working days; since when comes from the change that put it under review (kept in Redis with
//! the entry's dispute history). A file source keeps no such history: nothing is reported.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::admin::blocking;
use super::problem::{ApiError, FieldError};
use super::AppState;
use crate::lists::source::Source;
use crate::lists::Dispute;
use crate::timestamp::Timestamp;

/// Objections under review, and how many of them are overdue.
#[derive(Serialize, Clone, Copy)]
pub struct DisputeCounts {
    pub review_days: u16,
    pub under_review: u64,
    pub overdue: u64,
}

/// The list source, `None` for one that keeps no disputes (a file, which is read-only).
fn source(state: &AppState) -> Result<Option<std::sync::Arc<Source>>, ApiError> {
    let lists = state.snapshots.lists();
    match lists.writable() {
        Ok(()) => Ok(Some(std::sync::Arc::clone(lists))),
        Err(err) if err.is_read_only() => Ok(None),
        Err(err) => Err(ApiError::SourceUnavailable(err.to_string())),
    }
}

/// The instant before which an objection entered review is overdue now.
fn cutoff(review_days: u16) -> Timestamp {
    Timestamp::now().minus_working_days(review_days)
}

/// The counts now; `Ok(None)` for a file source.
pub async fn counts(state: &AppState) -> Result<Option<DisputeCounts>, ApiError> {
    let Some(lists) = source(state)? else {
        return Ok(None);
    };
    let review_days = state.snapshot()?.rules.dispute_review_days;
    let (under_review, overdue) =
        blocking(move || lists.under_review_counts(cutoff(review_days))).await?;
    Ok(Some(DisputeCounts {
        review_days,
        under_review,
        overdue,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputesQuery {
    state: Dispute,
    /// `true` or `false` (read here, so that a bad value is named).
    overdue: Option<String>,
}

#[derive(Serialize)]
struct UnderReview {
    entry_id: String,
    under_review_since: String,
    overdue: bool,
    /// The stored entry (absent if it was removed while the listing was read).
    entry: Option<Value>,
}

/// Lists objections under review, oldest first, at most `max_batch` of them (`truncated` says
/// when there are more); with `overdue=true` only the overdue ones.
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<DisputesQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.state != Dispute::UnderReview {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "state",
            "only `under_review` objections are listed (the others are answered)",
        )]));
    }
    let overdue_only = match query.overdue.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                "overdue",
                "must be `true` or `false`",
            )]))
        }
    };
    let lists = source(&state)?.ok_or(ApiError::ReadOnlySource)?;
    let review_days = state.snapshot()?.rules.dispute_review_days;
    let cutoff = cutoff(review_days);
    let until = overdue_only.then_some(cutoff);
    // One more than shown tells whether there are more.
    let limit = state.limits.max_batch;
    let mut found = blocking(move || lists.under_review(until, limit + 1)).await?;
    let truncated = found.len() > limit;
    found.truncate(limit);
    let disputes = found
        .into_iter()
        .map(|(entry_id, since, entry)| UnderReview {
            entry_id,
            under_review_since: since.to_string(),
            overdue: since < cutoff,
            entry: entry.and_then(|json| serde_json::from_str(&json).ok()),
        })
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "state": "under_review",
        "overdue_only": overdue_only,
        "review_days": review_days,
        "overdue_before": cutoff.to_string(),
        "disputes": disputes,
        "truncated": truncated,
    })))
}
