//! Objections (异议) awaiting an answer: `GET /v1/disputes?state=under_review&overdue=true`
//! lists them, and the overdue count goes to `/v1/status` and `/metrics`. An objection is
//! overdue once it has been `under_review` longer than the rule set's `dispute_review_days`
//! working days; since when comes from the change that put it under review (kept in Redis with
//! the entry's dispute history). A file source keeps no such history: nothing is reported.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::AppState;
use crate::lists::Dispute;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputesQuery {
    state: Dispute,
    /// `true` or `false` (read here, so that a bad value is named).
    overdue: Option<String>,
}

/// Lists objections under review, oldest first, at most `max_batch` of them (`truncated` says
/// when there are more); with `overdue=true` only the overdue ones.
#[utoipa::path(
    get,
    path = "/v1/disputes",
    tag = "lists",
    description = "Objections under review, oldest first.",
    params(("state" = Option<String>, Query, description = "under_review (the default)"), ("overdue" = Option<bool>, Query, description = "Only the overdue ones")),
    responses((status = 200, description = "The objections under review", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
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
    let found = state
        .service
        .under_review(overdue_only, state.limits.max_batch)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "state": "under_review",
        "overdue_only": overdue_only,
        "review_days": found.review_days,
        "overdue_before": found.overdue_before.to_string(),
        "disputes": found.disputes,
        "truncated": found.truncated,
    })))
}
