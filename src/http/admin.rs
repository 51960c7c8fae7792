//! List administration (credit-centre staff) on `/v1/lists/{list}/entries/{entry_id}`: `PUT`
//! (create or replace), `GET`, `DELETE` (keeping a tombstone), `POST …/repair`, `POST …/dispute`.
//! Writes go to Redis, the shared source of truth, and are acknowledged only once Redis has
//! them; every instance (this one included) then sees them through the change stream. With a
//! file source the lists are read-only and these endpoints answer 409.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::body;
use super::problem::{ApiError, FieldError};
use super::AppState;
use crate::lists::source::{Note, Source, SourceError};
use crate::lists::{Dispute, Entry, EntryRecord, Status};
use crate::timestamp::Timestamp;

/// The list source behind this instance if it takes writes, else 409 (a file source). Its
/// calls are bounded by the source's timeout: a Redis that does not answer gets the caller a
/// 503, never a hang.
fn writable(state: &AppState) -> Result<std::sync::Arc<Source>, ApiError> {
    let lists = state.snapshots.lists();
    lists.writable().map_err(problem_of)?;
    Ok(std::sync::Arc::clone(lists))
}

/// 409 for a read-only source, else 503.
fn problem_of(err: SourceError) -> ApiError {
    if err.is_read_only() {
        ApiError::ReadOnlySource
    } else {
        ApiError::SourceUnavailable(err.to_string())
    }
}

/// Runs a blocking call to the list source off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(call)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(problem_of)
}

pub async fn put_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let lists = writable(&state)?;
    let (list, entry_id) = path.into_inner();
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    if snapshot.rules.list_id(&list).is_none() {
        return Err(ApiError::UnknownList(list));
    }
    let mut value: Value =
        serde_json::from_slice(&body).map_err(|err| ApiError::InvalidJson(err.to_string()))?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "(body)",
            "must be an object",
        )]));
    };
    // The path names the entry; the body may repeat it but not contradict it.
    for (field, from_path) in [("entry_id", &entry_id), ("list", &list)] {
        match object.get(field) {
            Some(given) if given != &Value::String(from_path.clone()) => {
                return Err(ApiError::InvalidRequest(vec![FieldError::new(
                    field,
                    format!("must match the path (`{from_path}`)"),
                )]));
            }
            _ => {
                object.insert(field.to_owned(), Value::String(from_path.clone()));
            }
        }
    }
    let text = value.to_string();
    let record: EntryRecord<'_> = serde_json::from_str(&text).map_err(|err| {
        ApiError::InvalidRequest(vec![FieldError::new("(body)", err.to_string())])
    })?;
    let entry = Entry::from_record(record, &snapshot.rules)
        .map_err(|err| ApiError::InvalidRequest(vec![FieldError::new(err.field, err.message)]))?;
    let rules = std::sync::Arc::clone(&snapshot.rules);
    let stored = serde_json::to_value(entry.to_record(&rules))
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let outcome = blocking(move || lists.put(&entry, &rules, None, Timestamp::now())).await?;
    let mut response = if outcome.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(serde_json::json!({
        "entry": stored,
        "created": outcome.created,
        "changed": outcome.changed,
        "lists_version": outcome.version,
    })))
}

pub async fn get_entry(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let lists = writable(&state)?;
    let (list, entry_id) = path.into_inner();
    let wanted = entry_id.clone();
    let (stored, mut history) = blocking(move || {
        let histories = lists.dispute_histories(std::slice::from_ref(&wanted))?;
        Ok((lists.get(&wanted)?, histories))
    })
    .await?;
    let entry: Option<Value> = stored.and_then(|json| serde_json::from_str(&json).ok());
    match entry {
        Some(entry) if entry["list"] == Value::String(list.clone()) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "entry": entry,
                "dispute_history": notes(&history.pop().unwrap_or_default())?,
            })))
        }
        _ => Err(ApiError::EntryNotFound { list, entry_id }),
    }
}

/// Stored notes (JSON written by this module) as values.
pub(super) fn notes(stored: &[String]) -> Result<Vec<Value>, ApiError> {
    stored
        .iter()
        .map(|note| serde_json::from_str(note).map_err(|err| ApiError::Internal(err.to_string())))
        .collect()
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
        _ => ApiError::InvalidJson(err.to_string()),
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    /// Who removes the entry (officer or system).
    by: String,
    /// Why.
    reason: String,
}

pub async fn delete_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let lists = writable(&state)?;
    let (list, entry_id) = path.into_inner();
    let removal: Removal = read_body(&state, &req, payload).await?;
    required("by", &removal.by)?;
    required("reason", &removal.reason)?;
    current_entry(&lists, &list, &entry_id).await?;
    let at = Timestamp::now().to_string();
    let id = entry_id.clone();
    let (by, reason) = (masked(&removal.by), masked(&removal.reason));
    let version = blocking(move || lists.delete(&id, &by, &reason, &at)).await?;
    match version {
        Some(version) => Ok(HttpResponse::Ok().json(
            serde_json::json!({"entry_id": entry_id, "removed": true, "lists_version": version}),
        )),
        None => Err(ApiError::EntryNotFound { list, entry_id }),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    /// The repair decision document (信用修复决定书).
    document: String,
    by: String,
}

/// Credit repair: the entry stays, with status `repaired`, and stops counting everywhere. A
/// list that is not repairable (a court list) is refused whatever the source: the court deletes
/// or shields its entries, which is a removal.
pub async fn repair_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let list = &path.0;
    let rules = std::sync::Arc::clone(&state.snapshot()?.rules);
    if rules
        .list_id(list)
        .is_some_and(|id| !rules.list(id).repairable)
    {
        return Err(ApiError::NotRepairable(list.clone()));
    }
    let repair: Repair = read_body(&state, &req, payload).await?;
    required("document", &repair.document)?;
    required("by", &repair.by)?;
    let at = Timestamp::now();
    let note = serde_json::json!({"document": masked(&repair.document), "by": masked(&repair.by), "at": at.to_string()});
    amend(
        &state,
        path.into_inner(),
        (Note::Repair, note, at),
        |record| record.status = Status::Repaired,
    )
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeChange {
    dispute: Dispute,
    by: String,
    #[serde(default)]
    reason: String,
}

/// Sets the dispute state (异议): `under_review` while an objection is verified, then
/// `upheld` or `rejected`.
pub async fn dispute_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let change: DisputeChange = read_body(&state, &req, payload).await?;
    required("by", &change.by)?;
    let at = Timestamp::now();
    let note = serde_json::json!({"dispute": change.dispute, "by": masked(&change.by), "reason": masked(&change.reason), "at": at.to_string()});
    amend(
        &state,
        path.into_inner(),
        (Note::Dispute, note, at),
        |record| record.dispute = change.dispute,
    )
    .await
}

/// The stored entry of `list`, as a record, or 404.
async fn current_entry(
    lists: &std::sync::Arc<Source>,
    list: &str,
    entry_id: &str,
) -> Result<EntryRecord<'static>, ApiError> {
    let reader = std::sync::Arc::clone(lists);
    let wanted = entry_id.to_owned();
    let stored = blocking(move || reader.get(&wanted)).await?;
    let not_found = || ApiError::EntryNotFound {
        list: list.to_owned(),
        entry_id: entry_id.to_owned(),
    };
    let json = stored.ok_or_else(not_found)?;
    let record: EntryRecord<'_> =
        serde_json::from_str(&json).map_err(|err| ApiError::Internal(err.to_string()))?;
    let record = record.into_owned();
    if record.list != list {
        return Err(not_found());
    }
    Ok(record)
}

/// Reads the entry, changes it, and writes it back with a note of why, made at `at`.
async fn amend(
    state: &AppState,
    (list, entry_id): (String, String),
    (kind, note, at): (Note, Value, Timestamp),
    change: impl FnOnce(&mut EntryRecord<'static>),
) -> Result<HttpResponse, ApiError> {
    let lists = writable(state)?;
    let snapshot = state.snapshot()?;
    let mut record = current_entry(&lists, &list, &entry_id).await?;
    change(&mut record);
    let entry = Entry::from_record(record, &snapshot.rules)
        .map_err(|err| ApiError::InvalidRequest(vec![FieldError::new(err.field, err.message)]))?;
    let rules = std::sync::Arc::clone(&snapshot.rules);
    let stored = serde_json::to_value(entry.to_record(&rules))
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let note = note.to_string();
    let outcome = blocking(move || lists.put(&entry, &rules, Some((kind, &note)), at)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"entry": stored, "changed": outcome.changed, "lists_version": outcome.version})))
}

/// Who and why of a list change, as stored beside the entry: free text, so an ID number written
/// into it is masked like every other stored text.
fn masked(text: &str) -> String {
    crate::ident::mask_id_numbers(text).into_owned()
}
