//! List administration (credit-centre staff) on `/v1/lists/{list}/entries/{entry_id}`: `PUT`
//! (create or replace), `GET`, `DELETE` (keeping a tombstone), `POST …/repair`, `POST …/dispute`.
//! Writes go to Redis, the shared source of truth, and are acknowledged only once Redis has
//! them; every instance (this one included) then sees them through the change stream. With a
//! file source the lists are read-only and these endpoints answer 409.

use actix_web::{web, HttpRequest, HttpResponse};

use super::body;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::AppState;
use crate::app::Amended;
use crate::lists::Dispute;

/// The path of an entry, read by the administration's operations and documented for them.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    /// The list code (GET /v1/lists)
    #[param(example = "tax_major_violation")]
    list: String,
    /// The entry id on that list
    #[param(example = "QQHR-SW-2026-000777")]
    entry_id: String,
}

impl EntryPath {
    fn into_parts(self) -> (String, String) {
        (self.list, self.entry_id)
    }
}

#[utoipa::path(
    put,
    path = "/v1/lists/{list}/entries/{entry_id}",
    tag = "lists",
    description = "Adds or replaces an entry (Redis list source only).",
    params(EntryPath),
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({"subject_id": "91230202MA18XK7PXM", "reason": "虚开增值税专用发票", "listed_on": "2026-11-01", "valid_until": "2029-11-01"})),
    responses((status = 200, description = "The entry replaced", body = Written), (status = 201, description = "The entry added", body = Written)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownList,
        ProblemKind::EntryNotFound,
        ProblemKind::ReadOnlySource,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn put_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<EntryPath>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.service.check_writable()?;
    let (list, entry_id) = path.into_inner().into_parts();
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let put = state.service.put_entry(&list, &entry_id, &body).await?;
    let mut response = if put.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(Written {
        entry: put.entry,
        created: Some(put.created),
        changed: put.changed,
        lists_version: put.version,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/lists/{list}/entries/{entry_id}",
    tag = "lists",
    description = "An entry with its dispute history.",
    params(EntryPath),
    responses((status = 200, description = "The entry", body = Stored)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownList,
        ProblemKind::EntryNotFound,
        ProblemKind::ReadOnlySource,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn get_entry(
    state: web::Data<AppState>,
    path: web::Path<EntryPath>,
) -> Result<HttpResponse, ApiError> {
    let (list, entry_id) = path.into_inner().into_parts();
    let stored = state.service.get_entry(&list, &entry_id).await?;
    Ok(HttpResponse::Ok().json(Stored {
        entry: stored.entry,
        dispute_history: stored.dispute_history,
    }))
}

/// Reads a small JSON body into `T`, naming what is wrong.
async fn read_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = body::read_json(req, payload, state.limits.max_body_bytes).await?;
    serde_json::from_slice(&body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => {
            ApiError::InvalidRequest(vec![FieldError::new("(body)", err.to_string())])
        }
        _ => ApiError::InvalidJson(body::plain_words(&body, &err)),
    })
}

/// A required, non-blank text field.
fn required(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            field,
            "is required",
        )]));
    }
    Ok(())
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    /// Who removes the entry (officer or system).
    by: String,
    /// Why.
    reason: String,
}

#[utoipa::path(
    delete,
    path = "/v1/lists/{list}/entries/{entry_id}",
    tag = "lists",
    description = "Removes an entry, saying by whom and why.",
    params(EntryPath),
    request_body(content = Removal, content_type = "application/json", example = json!({"by": "市信用中心", "reason": "录入错误"})),
    responses((status = 200, description = "The entry removed", body = Removed)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownList,
        ProblemKind::EntryNotFound,
        ProblemKind::ReadOnlySource,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn delete_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<EntryPath>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.service.check_writable()?;
    let (list, entry_id) = path.into_inner().into_parts();
    let removal: Removal = read_body(&state, &req, payload).await?;
    required("by", &removal.by)?;
    required("reason", &removal.reason)?;
    let version = state
        .service
        .delete_entry(&list, &entry_id, &removal.by, &removal.reason)
        .await?;
    Ok(HttpResponse::Ok().json(Removed {
        entry_id,
        removed: true,
        lists_version: version,
    }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    /// The repair decision document (信用修复决定书).
    document: String,
    by: String,
}

/// Credit repair: the entry stays, with status `repaired`, and stops counting everywhere. A
/// list that is not repairable (a court list) is refused whatever the source: the court deletes
/// or shields its entries, which is a removal.
#[utoipa::path(
    post,
    path = "/v1/lists/{list}/entries/{entry_id}/repair",
    tag = "lists",
    description = "Credit repair: the entry stays, repaired, and stops counting.",
    params(EntryPath),
    request_body(content = Repair, content_type = "application/json", example = json!({"document": "齐税信修〔2026〕15号", "by": "市税务局"})),
    responses((status = 200, description = "The entry repaired", body = Written)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownList,
        ProblemKind::EntryNotFound,
        ProblemKind::ReadOnlySource,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
        ProblemKind::NotRepairable,
    ])))),
)]
pub async fn repair_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<EntryPath>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.service.check_repairable(&path.list)?;
    let repair: Repair = read_body(&state, &req, payload).await?;
    required("document", &repair.document)?;
    required("by", &repair.by)?;
    let amended = state
        .service
        .repair_entry(path.into_inner().into_parts(), &repair.document, &repair.by)
        .await?;
    Ok(amended_answer(amended))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeChange {
    /// `under_review`, `upheld`, `rejected` or `none`.
    #[schema(value_type = String)]
    dispute: Dispute,
    by: String,
    #[serde(default)]
    reason: String,
}

/// Sets the dispute state (异议): `under_review` while an objection is verified, then
/// `upheld` or `rejected`.
#[utoipa::path(
    post,
    path = "/v1/lists/{list}/entries/{entry_id}/dispute",
    tag = "lists",
    description = "Sets an entry's dispute state.",
    params(EntryPath),
    request_body(content = DisputeChange, content_type = "application/json", example = json!({"dispute": "under_review", "by": "市信用中心", "reason": "当事人提出异议"})),
    responses((status = 200, description = "The entry with its new state", body = Written)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownList,
        ProblemKind::EntryNotFound,
        ProblemKind::ReadOnlySource,
        ProblemKind::SourceUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn dispute_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<EntryPath>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let change: DisputeChange = read_body(&state, &req, payload).await?;
    required("by", &change.by)?;
    let amended = state
        .service
        .dispute_entry(
            path.into_inner().into_parts(),
            change.dispute,
            &change.by,
            &change.reason,
        )
        .await?;
    Ok(amended_answer(amended))
}

fn amended_answer(amended: Amended) -> HttpResponse {
    HttpResponse::Ok().json(Written {
        entry: amended.entry,
        created: None,
        changed: amended.changed,
        lists_version: amended.version,
    })
}

/// An entry written: as stored, whether the write added it (`PUT` only) and whether it changed
/// anything, and the list version that holds it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = WrittenEntry)]
struct Written {
    #[schema(value_type = Object)]
    entry: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    changed: bool,
    lists_version: u64,
}

/// An entry as stored, with every dispute change, oldest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = StoredEntry)]
struct Stored {
    #[schema(value_type = Object)]
    entry: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    dispute_history: Vec<serde_json::Value>,
}

/// An entry removed (a tombstone is kept), and the list version that no longer holds it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = RemovedEntry)]
struct Removed {
    entry_id: String,
    removed: bool,
    lists_version: u64,
}
