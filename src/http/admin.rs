//! List administration (credit-centre staff): `PUT` and `GET /v1/lists/{list}/entries/{entry_id}`.
//! Writes go to Redis, the shared source of truth, and are acknowledged only once Redis has
//! them; every instance (this one included) then sees them through the change stream. With a
//! file source the lists are read-only and these endpoints answer 409.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::body;
use super::problem::{ApiError, FieldError};
use super::AppState;
use crate::lists::redis::RedisLists;
use crate::lists::{Entry, EntryRecord};
use crate::snapshot::ListSource;

/// The Redis store behind this instance, or 409 for a file source.
fn store(state: &AppState) -> Result<RedisLists, ApiError> {
    match &state.store.sources().lists {
        ListSource::Redis { url, prefix } => RedisLists::open(url, prefix)
            .map_err(|err| ApiError::SourceUnavailable(err.to_string())),
        ListSource::File(_) => Err(ApiError::ReadOnlySource),
    }
}

/// Runs a blocking Redis call off the async workers.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, crate::lists::redis::RedisSourceError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(call)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(|err| ApiError::SourceUnavailable(err.to_string()))
}

pub async fn put_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
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
    let stored = entry.to_record(&rules);
    let outcome = blocking(move || store.put(&entry, &rules)).await?;
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
    let store = store(&state)?;
    let (list, entry_id) = path.into_inner();
    let wanted = entry_id.clone();
    let stored = blocking(move || store.get(&wanted)).await?;
    let entry: Option<Value> = stored.and_then(|json| serde_json::from_str(&json).ok());
    match entry {
        Some(entry) if entry["list"] == Value::String(list.clone()) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({ "entry": entry })))
        }
        _ => Err(ApiError::EntryNotFound { list, entry_id }),
    }
}
