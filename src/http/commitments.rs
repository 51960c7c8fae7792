//! Credit commitments over HTTP: `POST /v1/commitments` (a department records a subject's
//! commitment for a matter), `GET /v1/commitments?subject=` (a subject's commitments, the
//! latest signed first), `POST /v1/commitments/{commitment_id}/proposal` (a draft listing from
//! a breach, for review), and the breach report that `POST /v1/feedback` takes with
//! `"action": "commitment_breached"`. Writes are stored off the async workers.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::body;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::register::{caller_of, json_object};
use super::AppState;
use crate::app::{AppError, Proposal};
use crate::commitments::{Commitment, Recorded, StoredSubject};
use crate::ident::{self, IdType};

/// Commitments a list shows: the default, and the most a caller may ask for.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 500;

/// Runs a write of the service off the async workers.
async fn blocking<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&AppState) -> Result<T, AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    web::block(move || f(&state))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(|err| ApiError::of(err, "subject.id"))
}

#[utoipa::path(
    post,
    path = "/v1/commitments",
    tag = "commitments",
    description = "Records a subject's credit commitment (信用承诺) for a matter that takes commitments. With keys on, the department is the key's.",
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({
        "subject": {"id": "91230200MA1B2C3D8T"}, "matter": "admin_license_general",
        "text": "齐审批承诺〔2026〕118号", "signed_at": "2026-11-20T09:30:00+08:00",
        "valid_until": "2027-11-20T00:00:00+08:00", "department": "市行政审批服务局"})),
    responses((status = 201, description = "The commitment, stored", body = Commitment)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.service.commitments()?;
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let members = json_object(&body)?;
    let snapshot = state.snapshot()?;
    let caller = caller_of(&state, &req)?;
    let stored = blocking(&state, move |state| {
        state
            .service
            .record_commitment(&snapshot.rules, members, caller.as_ref())
    })
    .await?;
    Ok(HttpResponse::Created().json(stored))
}

/// A breach report: `POST /v1/feedback` with `"action": "commitment_breached"`.
pub(super) async fn post_breach(
    state: web::Data<AppState>,
    req: HttpRequest,
    members: Map<String, Value>,
) -> Result<HttpResponse, ApiError> {
    state.service.commitments()?;
    let snapshot = state.snapshot()?;
    let caller = caller_of(&state, &req)?;
    let recorded = blocking(&state, move |state| {
        state
            .service
            .record_breach(&snapshot.rules, members, caller.as_ref())
    })
    .await?;
    Ok(match recorded {
        Recorded::Created(breach) => HttpResponse::Created().json(breach),
        Recorded::Existing(breach) => HttpResponse::build(StatusCode::OK).json(breach),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    subject: Option<String>,
    id_type: Option<String>,
    limit: Option<usize>,
}

/// A subject's commitments.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CommitmentList)]
struct ListView {
    subject: StoredSubject,
    /// How many the subject has; `items` holds the latest `limit` of them.
    total: usize,
    items: Vec<Commitment>,
}

#[utoipa::path(
    operation_id = "list_commitments",
    get,
    path = "/v1/commitments",
    tag = "commitments",
    description = "A subject's credit commitments, the latest signed first.",
    params(
        ("subject" = String, Query, description = "The subject's identifier"),
        ("id_type" = Option<String>, Query, description = "The identifier's type, when detection by shape is not wanted"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 50, at most 500)"),
    ),
    responses((status = 200, description = "The subject's commitments", body = ListView)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::InvalidSubjectId,
        ProblemKind::RegisterOff,
    ])))),
)]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let commitments = state.service.commitments()?;
    let query = query.into_inner();
    let Some(id) = query.subject else {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "subject",
            "is required: the subject's identifier",
        )]));
    };
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "limit",
            format!("must be 1 to {LIST_MAX}"),
        )]));
    }
    let subject = match query.id_type.as_deref().map(str::parse::<IdType>) {
        None => ident::parse(&id),
        Some(Ok(id_type)) => ident::parse_as(&id, id_type),
        Some(Err(err)) => {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                "id_type",
                err.to_string(),
            )]))
        }
    }
    .map_err(|err| ApiError::InvalidSubjectId(FieldError::new("subject", err.to_string())))?;
    let (items, total) = state
        .service
        .commitments_of(&subject, limit)
        .map_err(|err| ApiError::of(err, "subject"))?;
    Ok(HttpResponse::Ok().json(ListView {
        subject: commitments.subject(&subject),
        total,
        items,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalRequest {
    list: String,
}

#[utoipa::path(
    post,
    path = "/v1/commitments/{commitment_id}/proposal",
    tag = "commitments",
    description = "A draft list entry proposed from a breach of the commitment, for staff to review and write through the list administration; it is not in force and is written nowhere.",
    params(("commitment_id" = uuid::Uuid, Path)),
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({"list": "market_serious_violation"})),
    responses((status = 200, description = "The draft, not in force", body = Proposal)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::CommitmentNotFound,
        ProblemKind::RegisterOff,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn proposal(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.service.commitments()?;
    let id = Uuid::parse_str(&path.into_inner()).map_err(|_| {
        ApiError::InvalidRequest(vec![FieldError::new(
            "commitment_id",
            "is not a commitment id (a UUID)",
        )])
    })?;
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let request: ProposalRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::InvalidRequest(vec![FieldError::new("(body)", err.to_string())])
    })?;
    let snapshot = state.snapshot()?;
    let proposal = state
        .service
        .propose_listing(&snapshot.rules, id, &request.list)
        .map_err(|err| ApiError::of(err, "commitment_id"))?;
    Ok(HttpResponse::Ok().json(proposal))
}
